namespace DurableQueue.Hosting;

/// <summary>
/// Computes the delay before a failed message is retried. Internal on purpose: the core is getting a shared
/// <c>Backoff</c> helper (exponential, capped, full jitter); at merge this seam can delegate to it.
/// </summary>
internal interface IRetryBackoff
{
    /// <summary>Gets the delay after the failed attempt <paramref name="attempt"/> (1 for the first delivery).</summary>
    TimeSpan GetDelay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay);
}

/// <summary>
/// Exponential backoff, capped, with full jitter, computed by the core's <see cref="Backoff"/>: a uniform draw in
/// [0, min(max, base * 2^(attempt-1))]. Full jitter spreads retries of messages that failed together.
/// </summary>
internal sealed class FullJitterBackoff : IRetryBackoff
{
    private readonly Random? _random;

    /// <param name="random">The source of jitter, or null for <see cref="Random.Shared"/>; tests pass a fixed one.</param>
    public FullJitterBackoff(Random? random = null) => _random = random;

    public TimeSpan GetDelay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay) =>
        Of(baseDelay, maxDelay, _random) is { } backoff ? backoff.GetDelay(Math.Max(1, attempt)) : TimeSpan.Zero;

    /// <summary>Gets the upper bound of the delay after <paramref name="attempt"/>: base * 2^(attempt-1), capped.</summary>
    public static TimeSpan Ceiling(int attempt, TimeSpan baseDelay, TimeSpan maxDelay) =>
        Of(baseDelay, maxDelay, random: null) is { } backoff ? backoff.GetCeiling(Math.Max(1, attempt)) : TimeSpan.Zero;

    private static Backoff? Of(TimeSpan baseDelay, TimeSpan maxDelay, Random? random) =>
        baseDelay <= TimeSpan.Zero || maxDelay <= TimeSpan.Zero
            ? null
            : Backoff.Exponential(baseDelay < maxDelay ? baseDelay : maxDelay, maxDelay, random);
}
