using DurableQueue.Internal;

namespace DurableQueue.BackPressure;

/// <summary>
/// What this process knows about one bounded queue: its bounds, the line of producers waiting for room (FIFO), the
/// drain-rate estimate behind retry-after hints, and the counters of <see cref="BackPressureStats"/>.
/// </summary>
internal sealed class CapacityState
{
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly Lock _lock = new();
    private readonly AsyncSignal _changed = new();
    private readonly DrainRate _drain = new();
    private int _waiting;
    private long _rejected;
    private long _waited;
    private long _dropped;
    private long _waitTicks;

    public CapacityState(string name, QueueOptions options)
    {
        Name = name;
        Options = options;
        PulseAction = Pulse;
    }

    public string Name { get; }

    public QueueOptions Options { get; }

    /// <summary>Gets the cached wake-up, registered after commits that free room.</summary>
    public Action PulseAction { get; }

    /// <summary>Gets a task that completes at the next change: room freed, or the head of the line left.</summary>
    public Task Changed => _changed.WaitTask;

    /// <summary>Gets a value indicating whether the given producer may try now: nobody waits ahead of it.</summary>
    public bool MayTry(Waiter? waiter)
    {
        lock (_lock)
        {
            return _waiters.Count == 0 || (waiter?.Node is { } node && ReferenceEquals(_waiters.First, node));
        }
    }

    /// <summary>Puts a producer at the end of the line (once). Runs on the writer thread, so the line follows the writer's order.</summary>
    public void Join(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Node is null)
            {
                waiter.Node = _waiters.AddLast(waiter);
                _waiting = _waiters.Count;
            }
        }
    }

    /// <summary>Takes a producer out of the line (admitted, cancelled or timed out) and wakes the next one.</summary>
    public void Leave(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Node is not { } node)
            {
                return;
            }

            _waiters.Remove(node);
            waiter.Node = null;
            _waiting = _waiters.Count;
        }

        _changed.Pulse();
    }

    /// <summary>Wakes waiting producers after a commit that freed room; free when nobody waits.</summary>
    public void Pulse()
    {
        if (Volatile.Read(ref _waiting) != 0)
        {
            _changed.Pulse();
        }
    }

    public void SampleDrain(long nowMs, long removedTotal) => _drain.Sample(nowMs, removedTotal);

    /// <summary>Estimates when <paramref name="deficit"/> messages will have left the queue.</summary>
    public TimeSpan RetryAfter(long deficit) => _drain.RetryAfter(deficit);

    public void CountRejected() => Interlocked.Increment(ref _rejected);

    public void CountWaited(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _waited);
        Interlocked.Add(ref _waitTicks, elapsed.Ticks);
    }

    public void CountDropped(int count) => Interlocked.Add(ref _dropped, count);

    public BackPressureStats Snapshot(long messages, long bytes, long deadLetters) => new(
        Options.MaxMessages,
        Options.MaxBytes,
        Options.FullMode,
        messages,
        bytes,
        deadLetters,
        Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _waited),
        Volatile.Read(ref _waiting),
        Interlocked.Read(ref _dropped),
        TimeSpan.FromTicks(Interlocked.Read(ref _waitTicks)),
        _drain.Rate);
}

/// <summary>One producer's place in the line of a full queue.</summary>
internal sealed class Waiter
{
    public LinkedListNode<Waiter>? Node { get; set; }
}
