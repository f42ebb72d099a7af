using DurableQueue.Storage;

namespace DurableQueue.Background;

/// <summary>
/// Dead-letters leases on their last attempt the moment they expire, so that a failed last attempt leaves the queue
/// then and not lazily on a later receive. Every writer batch begins with the sweep (<see cref="Sweep"/>); this
/// service only arms a timer for the next known expiry and, when it fires, submits an empty batch.
/// </summary>
internal sealed class FinalLeaseSweeper : IDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly StoreWriter _writer;
    private readonly Action _roomFreed;
    private readonly ITimer _timer;
    private long _dueAt = long.MaxValue;
    private bool _disposed;

    /// <param name="clock">The store's clock.</param>
    /// <param name="writer">The store's writer; the sweep runs at the start of each of its batches.</param>
    /// <param name="roomFreed">Called after a commit that dead-lettered something (bounded queues have room again).</param>
    public FinalLeaseSweeper(TimeProvider clock, StoreWriter writer, Action roomFreed)
    {
        _clock = clock;
        _writer = writer;
        _roomFreed = roomFreed;
        _timer = clock.CreateTimer(static s => ((FinalLeaseSweeper)s!).OnDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Starts: leases on their last attempt may have expired while no process had the store open.</summary>
    public void Start() => _ = _writer.SubmitAsync(ScheduleNext, CancellationToken.None);

    /// <summary>Runs at the start of every batch, inside its transaction.</summary>
    public void Sweep(WriteContext context)
    {
        if (context.Commands.SweepExpiredFinalLeases(context) > 0)
        {
            context.AfterCommit(_roomFreed);
            ScheduleNext(context);
        }
    }

    /// <summary>Looks up the next expiry of a last-attempt lease and arms the timer for it once the batch commits.</summary>
    public int ScheduleNext(WriteContext context)
    {
        if (context.Commands.NextFinalLeaseExpiry(context) is { } next)
        {
            context.AfterCommit(() => Schedule(next));
        }

        return 0;
    }

    /// <summary>Arms the timer for <paramref name="dueAtMs"/> unless an earlier expiry is already armed.</summary>
    public void Schedule(long dueAtMs)
    {
        lock (_lock)
        {
            if (dueAtMs >= _dueAt || _disposed)
            {
                return;
            }

            _dueAt = dueAtMs;
            var delay = TimeSpan.FromMilliseconds(Math.Max(0, dueAtMs - _clock.GetUtcNow().ToUnixTimeMilliseconds()));
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnDue()
    {
        lock (_lock)
        {
            _dueAt = long.MaxValue;
            if (_disposed)
            {
                return;
            }
        }

        // The sweep runs at the start of every batch; this batch also finds the next expiry to wait for.
        _ = _writer.SubmitAsync(ScheduleNext, CancellationToken.None);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        _timer.Dispose();
    }
}
