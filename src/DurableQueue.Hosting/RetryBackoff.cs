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
/// Exponential backoff, capped, with full jitter: a uniform draw in [0, min(max, base * 2^(attempt-1))].
/// Full jitter spreads retries of messages that failed together (for example when a dependency was down).
/// </summary>
internal sealed class FullJitterBackoff : IRetryBackoff
{
    private readonly Func<double> _random;

    public FullJitterBackoff()
        : this(Random.Shared.NextDouble)
    {
    }

    /// <param name="random">A source of values in [0, 1]; tests pass a constant.</param>
    public FullJitterBackoff(Func<double> random) => _random = random;

    public TimeSpan GetDelay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay) =>
        TimeSpan.FromTicks((long)(Ceiling(attempt, baseDelay, maxDelay).Ticks * Math.Clamp(_random(), 0, 1)));

    /// <summary>Gets the upper bound of the delay after <paramref name="attempt"/>: base * 2^(attempt-1), capped.</summary>
    public static TimeSpan Ceiling(int attempt, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        if (baseDelay <= TimeSpan.Zero || maxDelay <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var cap = maxDelay;
        // 2^62 ticks overflow long; any exponent past the cap's is the cap anyway.
        var exponent = Math.Clamp(attempt - 1, 0, 62);
        var ticks = baseDelay.Ticks * Math.Pow(2, exponent);
        return ticks >= cap.Ticks ? cap : TimeSpan.FromTicks((long)ticks);
    }
}
