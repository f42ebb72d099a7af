namespace DurableQueue.BackPressure;

/// <summary>
/// Estimates how fast messages leave a queue from samples of the file's monotonic <c>removed_total</c> counter, taken
/// by admission checks on the writer. Because the counter is kept by triggers, acks made by other processes sharing the
/// file count too.
/// </summary>
internal sealed class DrainRate
{
    private const int Slots = 32;
    private const long MinSpacingMs = 250;
    private const long WindowMs = 10_000;
    private static readonly TimeSpan s_floor = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_ceiling = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_unknown = TimeSpan.FromSeconds(1);

    private readonly (long TimeMs, long Removed)[] _samples = new (long, long)[Slots];
    private readonly Lock _lock = new();
    private int _count;
    private int _next;
    private long? _firstRemoved;
    private bool _drainSeen;

    public void Sample(long nowMs, long removedTotal)
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                var last = _samples[(_next + Slots - 1) % Slots];
                if (nowMs - last.TimeMs < MinSpacingMs)
                {
                    return;
                }
            }

            _firstRemoved ??= removedTotal;
            _drainSeen |= removedTotal != _firstRemoved;
            _samples[_next] = (nowMs, removedTotal);
            _next = (_next + 1) % Slots;
            _count = Math.Min(_count + 1, Slots);
        }
    }

    /// <summary>Gets messages per second over the last ten seconds of samples, or null with fewer than two samples.</summary>
    public double? Rate
    {
        get
        {
            lock (_lock)
            {
                if (_count < 2)
                {
                    return null;
                }

                var newest = _samples[(_next + Slots - 1) % Slots];
                var oldest = newest;
                for (var i = 2; i <= _count; i++)
                {
                    var sample = _samples[(_next + Slots - i) % Slots];
                    if (newest.TimeMs - sample.TimeMs > WindowMs)
                    {
                        break;
                    }

                    oldest = sample;
                }

                var spanMs = newest.TimeMs - oldest.TimeMs;
                return spanMs <= 0 ? null : Math.Max(0, newest.Removed - oldest.Removed) * 1000.0 / spanMs;
            }
        }
    }

    public TimeSpan RetryAfter(long deficit)
    {
        if (Rate is not { } rate)
        {
            return s_unknown;
        }

        if (rate <= 0)
        {
            // Nothing has left the queue since sampling began (a store just opened, a consumer not started yet): there is
            // no measurement to extrapolate, so the hint is the same as with no samples. A queue that drained before and
            // stopped draining is stalled: the ceiling.
            lock (_lock)
            {
                return _drainSeen ? s_ceiling : s_unknown;
            }
        }

        var estimate = TimeSpan.FromSeconds(Math.Max(1, deficit) / rate);
        return estimate < s_floor ? s_floor : estimate > s_ceiling ? s_ceiling : estimate;
    }
}
