namespace DurableQueue;

/// <summary>
/// Computes retry delays that grow exponentially up to a cap, with full jitter: the delay for attempt n is drawn
/// uniformly from zero to <c>min(maxDelay, baseDelay * 2^(n-1))</c>.
/// </summary>
/// <remarks>
/// <para>Full jitter spreads retries of many clients over the whole window, so that they do not come back in waves.
/// Use it for nack delays (<c>NackAsync(message, backoff.GetDelay(message.Attempt))</c>) and for producers that retry
/// a full queue (take the larger of <see cref="QueueFullException.RetryAfter"/> and the backoff delay).</para>
/// <para>Instances are immutable and thread-safe. Pass a seeded <see cref="Random"/> to get a repeatable sequence in tests.</para>
/// </remarks>
public sealed class Backoff
{
    private readonly Random _random;
    private readonly Lock? _randomLock;

    private Backoff(TimeSpan baseDelay, TimeSpan maxDelay, Random? random)
    {
        if (baseDelay <= TimeSpan.Zero || maxDelay < baseDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(baseDelay), baseDelay, ErrorMessages.BackoffDelays(baseDelay, maxDelay));
        }

        BaseDelay = baseDelay;
        MaxDelay = maxDelay;
        _random = random ?? Random.Shared;
        // Random.Shared is thread-safe; a caller's instance is not.
        _randomLock = random is null ? null : new Lock();
    }

    /// <summary>Gets the delay ceiling of the first attempt.</summary>
    public TimeSpan BaseDelay { get; }

    /// <summary>Gets the largest delay ever returned.</summary>
    public TimeSpan MaxDelay { get; }

    /// <summary>Creates an exponential backoff with full jitter.</summary>
    /// <param name="baseDelay">The ceiling of the first attempt's delay; it doubles with each attempt.</param>
    /// <param name="maxDelay">The cap on every delay.</param>
    /// <param name="random">The source of jitter, or <see langword="null"/> for <see cref="Random.Shared"/>.</param>
    /// <returns>The backoff.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="baseDelay"/> is not positive, or larger than <paramref name="maxDelay"/>.</exception>
    public static Backoff Exponential(TimeSpan baseDelay, TimeSpan maxDelay, Random? random = null) => new(baseDelay, maxDelay, random);

    /// <summary>Gets the ceiling of the delay for an attempt, without jitter: <c>min(MaxDelay, BaseDelay * 2^(attempt-1))</c>.</summary>
    /// <param name="attempt">The attempt that failed, counted from 1.</param>
    /// <returns>The ceiling.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is less than 1.</exception>
    public TimeSpan GetCeiling(int attempt)
    {
        if (attempt < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(attempt), attempt, ErrorMessages.BackoffAttempt(attempt));
        }

        // 2^62 ticks is beyond any TimeSpan we cap at; stop doubling before it overflows.
        var exponent = Math.Min(attempt - 1, 62);
        var ticks = BaseDelay.Ticks;
        for (var i = 0; i < exponent && ticks < MaxDelay.Ticks; i++)
        {
            ticks = ticks > long.MaxValue / 2 ? long.MaxValue : ticks * 2;
        }

        return TimeSpan.FromTicks(Math.Min(ticks, MaxDelay.Ticks));
    }

    /// <summary>Gets a delay for an attempt: uniform between zero and <see cref="GetCeiling(int)"/>.</summary>
    /// <param name="attempt">The attempt that failed, counted from 1.</param>
    /// <returns>The delay to wait before the next attempt.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is less than 1.</exception>
    public TimeSpan GetDelay(int attempt)
    {
        var ceiling = GetCeiling(attempt).Ticks;
        double sample;
        if (_randomLock is null)
        {
            sample = _random.NextDouble();
        }
        else
        {
            lock (_randomLock)
            {
                sample = _random.NextDouble();
            }
        }

        return TimeSpan.FromTicks((long)(sample * ceiling));
    }
}
