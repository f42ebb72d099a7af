namespace DurableQueue.Forwarding;

/// <summary>
/// Holds a forwarder's sends to a multiple of the rate at which messages arrive in its queue while they keep arriving
/// (<see cref="ForwarderOptions.PaceToArrivals"/>), so that draining a backlog leaves the CPU and the disk to the app's
/// own enqueues; in an interval without arrivals it lets everything through.
/// </summary>
/// <remarks>
/// The arrival rate comes from the queue's running total of messages that entered it (one small read at most once per
/// <see cref="ForwardingDefaults.ArrivalInterval"/>, and only while the forwarder sends), so it counts every process
/// that writes to the store. Each reading grants the next interval a budget of <c>factor × rate × interval</c>
/// messages; a batch goes whole while any budget is left (what it takes beyond the budget is paid from the next one),
/// and once the budget is spent, senders wait for the next reading.
/// A reading that comes long after the previous one (the forwarder was idle) only starts a new measurement.
/// </remarks>
internal sealed class ArrivalPacer
{
    private readonly Func<CancellationToken, ValueTask<long>> _readEntered;
    private readonly double _factor;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _interval;
    private readonly SemaphoreSlim _reading = new(1, 1);
    private readonly Lock _gate = new();

    // Under _gate.
    private bool _measured;
    private long _entered;
    private long _readAt;
    private bool _paced;
    private double _budget;
    private int _waiting;

    /// <summary>Initializes a new instance of the <see cref="ArrivalPacer"/> class.</summary>
    /// <param name="readEntered">Reads how many messages ever entered the queue (a running total that only grows).</param>
    /// <param name="factor">The most messages sent per message that arrived, while messages arrive.</param>
    /// <param name="clock">The clock the intervals are measured on.</param>
    /// <param name="interval">How long one measurement lasts.</param>
    public ArrivalPacer(Func<CancellationToken, ValueTask<long>> readEntered, double factor, TimeProvider clock, TimeSpan interval)
    {
        _readEntered = readEntered;
        _factor = factor;
        _clock = clock;
        _interval = interval;
    }

    /// <summary>Gets a value indicating whether a sender waits now for the arrivals' pace.</summary>
    public bool Holding
    {
        get
        {
            lock (_gate)
            {
                return _waiting > 0;
            }
        }
    }

    /// <summary>Gets a value indicating whether the last reading found messages arriving (sends are paced until the next one).</summary>
    public bool Paced
    {
        get
        {
            lock (_gate)
            {
                return _paced;
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> messages may be sent.</summary>
    public async ValueTask AcquireAsync(int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                var due = !_measured || _clock.GetElapsedTime(_readAt) >= _interval;
                if (!due)
                {
                    if (!_paced)
                    {
                        return;
                    }

                    if (_budget > 0)
                    {
                        _budget -= count;
                        return;
                    }

                    wait = _interval - _clock.GetElapsedTime(_readAt);
                    _waiting++;
                }
                else
                {
                    wait = TimeSpan.Zero;
                }
            }

            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _clock, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    lock (_gate)
                    {
                        _waiting--;
                    }
                }
            }
            else
            {
                await ReadAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask ReadAsync(CancellationToken cancellationToken)
    {
        await _reading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (_measured && _clock.GetElapsedTime(_readAt) < _interval)
                {
                    // Another sender read while this one waited to.
                    return;
                }
            }

            long entered;
            try
            {
                entered = await _readEntered(cancellationToken).ConfigureAwait(false);
            }
            catch (DurableQueueException)
            {
                // The store is busy or failing: do not hold sends back on a reading that could not be taken; the
                // forwarder's own writes report the fault.
                lock (_gate)
                {
                    _measured = true;
                    _readAt = _clock.GetTimestamp();
                    _paced = false;
                }

                return;
            }

            lock (_gate)
            {
                var now = _clock.GetTimestamp();
                var elapsed = _measured ? _clock.GetElapsedTime(_readAt, now) : TimeSpan.MaxValue;
                var arrived = entered - _entered;
                if (!_measured || elapsed > 2 * _interval || arrived <= 0)
                {
                    // The first reading, one long after the last (nothing was sent meanwhile), or no arrivals: send
                    // freely until the next reading.
                    _paced = false;
                    _budget = 0;
                }
                else
                {
                    // A batch that went whole beyond the last budget is paid from this one.
                    _budget = Math.Max(1, _factor * arrived * (_interval / elapsed)) + (_paced ? Math.Min(0, _budget) : 0);
                    _paced = true;
                }

                _measured = true;
                _entered = entered;
                _readAt = now;
            }
        }
        finally
        {
            _reading.Release();
        }
    }
}
