using DurableQueue.Storage;

namespace DurableQueue.Background;

/// <summary>
/// Dead-letters leases on their last attempt the moment they expire, so that a failed last attempt leaves the queue
/// then and not lazily on a later receive. Every writer batch begins with the sweep (<see cref="Sweep"/>); this
/// service arms a timer for the next known expiry and, when it fires, submits an empty batch.
/// </summary>
/// <remarks>
/// The sweep's query is skipped while no last-attempt lease can have expired: the earliest expiry is known (read after
/// every sweep, lowered by every receive or extension committed here) and still in the future, and no other connection
/// committed since (it may have leased on a last attempt). Units of work forget the known expiry (app SQL may change
/// leases). The known expiry is only touched by the thread leading a batch, in the batch or in its after-commit actions.
/// </remarks>
internal sealed class FinalLeaseSweeper : IDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly StoreWriter _writer;
    private readonly Action _roomFreed;
    private readonly ITimer _timer;
    private long _dueAt = long.MaxValue;
    private bool _disposed;

    // The earliest expiry of a last-attempt lease, when known (long.MaxValue: none); see the remarks.
    private long _nextExpiry = long.MaxValue;
    private bool _known;

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
        if (_known && context.Now < _nextExpiry && !context.ForeignCommits)
        {
            return;
        }

        if (context.Commands.SweepExpiredFinalLeases(context) > 0)
        {
            context.AfterCommit(_roomFreed);
        }

        ScheduleNext(context);
    }

    /// <summary>
    /// Looks up the next expiry of a last-attempt lease and, once the batch commits, knows it and arms the timer for it.
    /// Requests later in the same batch that lease on a last attempt lower it in their own after-commit actions.
    /// </summary>
    public int ScheduleNext(WriteContext context)
    {
        var next = context.Commands.NextFinalLeaseExpiry(context);
        context.AfterCommit(() =>
        {
            _nextExpiry = next ?? long.MaxValue;
            _known = true;
            if (next is { } due)
            {
                Schedule(due);
            }
        });
        return 0;
    }

    /// <summary>Forgets the known expiry (after app SQL in a unit of work): the next batch sweeps and reads it again.</summary>
    public void Forget() => _known = false;

    /// <summary>
    /// A last-attempt lease (or one that may be) expires at <paramref name="dueAtMs"/>: lowers the known expiry and arms
    /// the timer for it unless an earlier expiry is already armed. Called after the commit that took or moved the lease.
    /// </summary>
    public void Schedule(long dueAtMs)
    {
        _nextExpiry = Math.Min(_nextExpiry, dueAtMs);
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
