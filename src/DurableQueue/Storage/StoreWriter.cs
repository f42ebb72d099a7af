using System.Diagnostics;
using System.Threading.Channels;
using DurableQueue.Storage.Driver;

namespace DurableQueue.Storage;

/// <summary>
/// The single writer of a store (group commit). Every write is a <see cref="WriteOperation"/> on a channel; one
/// dedicated thread takes all waiting operations, runs them in ONE transaction (each in a savepoint, so one
/// failing request fails alone; requests that cannot fail half-way skip it, see RunBatch), commits once, and only
/// then completes the callers; after a small batch it lingers briefly for those callers' next requests. Throughput grows with the
/// number of concurrent callers while each caller still returns only after its own data is durable.
/// </summary>
internal sealed class StoreWriter : IDisposable
{
    private readonly Channel<WriteOperation> _channel =
        Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly IWriteSession _session;
    private readonly WriteContext _context;
    private readonly Action<WriteContext> _beforeBatch;
    private readonly bool _statementRollback;
    private readonly TimeSpan _busyTimeout;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<WriteOperation> _batch = new(Internal.Defaults.MaxWriteBatch);
    private readonly Exception?[] _failures = new Exception?[Internal.Defaults.MaxWriteBatch];
    private long _commits;
    private long _operations;

    // Requests written to the channel, and taken from it by the writer thread (which alone touches _taken): the
    // difference is how many are waiting (a single-reader channel cannot count). It may lag by the request being
    // written at this instant, which only shortens or lengthens a linger within its bound.
    private long _submitted;
    private long _taken;

    public StoreWriter(
        IWriteSession session, IMessageCommands commands, bool statementRollback, TimeProvider timeProvider, TimeSpan busyTimeout, Action<WriteContext> beforeBatch)
    {
        _busyTimeout = busyTimeout;
        _session = session;
        _statementRollback = statementRollback;
        _beforeBatch = beforeBatch;
        _context = new WriteContext(session, commands, timeProvider);
        _thread = new Thread(Run) { IsBackground = true, Name = "DurableQueue writer" };
        _thread.Start();
    }

    /// <summary>Gets the number of transactions committed so far.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Gets the number of operations completed in committed transactions so far.</summary>
    public long Operations => Interlocked.Read(ref _operations);

    public Task Completion => _completion.Task;

    /// <summary>Gets the write session the writer runs on.</summary>
    public IWriteSession Session => _session;

    /// <summary>Gets the context operations run with; set its session id before the first request.</summary>
    internal WriteContext Context => _context;

    /// <summary>Queues an operation; it fails with <see cref="ObjectDisposedException"/> once the writer is shut down.</summary>
    public void Submit(WriteOperation operation)
    {
        operation.SubmittedAt = Stopwatch.GetTimestamp();
        if (!_channel.Writer.TryWrite(operation))
        {
            operation.Fail(new ObjectDisposedException(nameof(QueueStore)));
            return;
        }

        Interlocked.Increment(ref _submitted);
    }

    public Task<T> SubmitAsync<T>(
        Func<WriteContext, T> work, CancellationToken cancellationToken, bool alwaysMarksCommit = false, bool withoutSavepoint = false)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var operation = new WriteOperation<T>(work, cancellationToken, alwaysMarksCommit, withoutSavepoint);
        Submit(operation);
        return operation.Task;
    }

    /// <summary>
    /// Gets or sets what runs (on the writer thread; it must return at once) when a batch has waited about a second for
    /// the write lock of another connection; the argument is how long its oldest request has waited so far.
    /// </summary>
    public Action<TimeSpan>? WaitingForLock { get; set; }

    /// <summary>Stops taking operations; those already queued still run.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    private void Run()
    {
        try
        {
            var reader = _channel.Reader;
            while (true)
            {
                if (!TryTake(reader, out var first))
                {
                    // Blocking wait: this is a dedicated thread and SQLite calls are synchronous anyway.
                    if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                    {
                        break;
                    }

                    continue;
                }

                if (first.RunsOutsideTransaction)
                {
                    RunOutsideTransaction(first);
                    continue;
                }

                _batch.Add(first);
                while (_batch.Count < _failures.Length && reader.TryPeek(out var next) && !next.RunsOutsideTransaction && TryTake(reader, out next))
                {
                    _batch.Add(next);
                }

                var started = Stopwatch.GetTimestamp();
                var completed = RunBatch();
                _batch.Clear();
                Linger(completed, Stopwatch.GetTimestamp() - started);
            }

            _completion.TrySetResult();
        }
        catch (Exception ex)
        {
            // Only a bug gets here; fail what is queued rather than leave callers waiting.
            while (_channel.Reader.TryRead(out var pending))
            {
                pending.Fail(ex);
            }

            _completion.TrySetException(ex);
        }
        finally
        {
            _session.Dispose();
        }
    }

    /// <summary>
    /// After a commit that completed <paramref name="completed"/> callers, waits briefly for them to submit their
    /// next request, so that the next commit carries several requests instead of the first one alone (a caller
    /// awaiting one operation at a time resubmits within tens of microseconds, while a commit costs an fsync). The
    /// wait is bounded by a fraction of the commit cycle just measured and by <see cref="MaxLingerTicks"/>, ends as
    /// soon as as many requests are queued as callers were completed, and yields the core rather than blocking so
    /// that the callers can run. It changes only which requests share a transaction, never what any of them does.
    /// </summary>
    private void Linger(int completed, long cycleTicks)
    {
        // Only few callers: a big batch is already full, and more spinning would take the cores its callers need.
        if (completed is < 1 or > MaxLingerCallers || Waiting >= completed)
        {
            return;
        }

        var limit = Math.Min(MaxLingerTicks, cycleTicks / 4);
        var started = Stopwatch.GetTimestamp();
        var spinner = default(SpinWait);
        while (Waiting < completed && Stopwatch.GetTimestamp() - started < limit)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    private long Waiting => Volatile.Read(ref _submitted) - _taken;

    private bool TryTake(ChannelReader<WriteOperation> reader, out WriteOperation operation)
    {
        if (reader.TryRead(out operation!))
        {
            _taken++;
            return true;
        }

        return false;
    }

    /// <summary>The most callers a commit may have completed for the writer to linger after it.</summary>
    private const int MaxLingerCallers = 16;

    /// <summary>The longest linger after a commit: 100 microseconds.</summary>
    private static readonly long MaxLingerTicks = Stopwatch.Frequency / 10_000;

    private void RunOutsideTransaction(WriteOperation operation)
    {
        try
        {
            _context.StartBatch();
            operation.Execute(_context);
            operation.Succeed();
        }
        catch (Exception ex)
        {
            operation.Fail(_session.Map(ex));
        }
    }

    /// <summary>Runs the batch in one transaction; returns how many callers it completed (succeeded or failed alone).</summary>
    private int RunBatch()
    {
        // Cancellation is honoured until an operation is taken into a batch; after that it may commit.
        _batch.RemoveAll(static op =>
        {
            if (op.CancellationToken.IsCancellationRequested)
            {
                op.Cancel();
                return true;
            }

            return false;
        });
        if (_batch.Count == 0)
        {
            return 0;
        }

        Array.Clear(_failures);
        Exception? batchFailure = null;
        var committed = false;
        var tierChanged = false;
        try
        {
            if (!Begin())
            {
                return 0;
            }
        }
        catch (Exception ex)
        {
            FailAll(_session.Map(ex));
            return 0;
        }

        try
        {
            _context.StartBatch();
            var changesBefore = _session.ChangeCount;
            var statementRollback = changesBefore >= 0 && _statementRollback;
            BeginTierStep();
            _context.Observer?.BatchStarting(_context);
            _beforeBatch(_context);
            tierChanged = EndTierStep();
            var markCommit = false;
            for (var i = 0; i < _batch.Count; i++)
            {
                var operation = _batch[i];
                markCommit |= operation.AlwaysMarksCommit;
                var effects = _context.AfterCommitCount;
                // The savepoint exists so that a failing request fails alone. A request marked WithoutSavepoint
                // makes at most one row change, in a single statement, as its last SQL step (a plain enqueue, a
                // single ack). If that statement fails, SQLite has already undone it (statement-level rollback) or
                // ended the whole transaction (caught below): either way nothing of the request is left to roll back.
                // If it throws after a row change counted (which only a bug or out-of-memory in the in-memory
                // bookkeeping after the statement can do), its change cannot be undone alone, so the whole batch
                // fails instead: no caller is told a committed write failed, none that an uncommitted one succeeded.
                var savepoint = !(operation.WithoutSavepoint && statementRollback);
                var changesBeforeOperation = savepoint ? 0 : _session.ChangeCount;
                if (savepoint)
                {
                    _session.Savepoint(SavepointNames.Request);
                }

                BeginTierStep();
                try
                {
                    operation.Execute(_context);
                    if (savepoint)
                    {
                        _session.ReleaseSavepoint(SavepointNames.Request);
                    }

                    tierChanged |= EndTierStep();
                }
                catch (Exception ex)
                {
                    var operationChangedTier = EndTierStep();
                    tierChanged |= operationChangedTier;
                    if (!_session.TransactionActive)
                    {
                        // SQLITE_FULL, IOERR and friends can end the whole transaction: the batch is lost.
                        throw;
                    }

                    if (savepoint)
                    {
                        _session.RollbackToSavepoint(SavepointNames.Request);
                    }
                    else if (_session.ChangeCount != changesBeforeOperation)
                    {
                        throw;
                    }

                    _context.DiscardAfterCommitFrom(effects);
                    _failures[i] = _session.Map(ex);
                    if (operationChangedTier)
                    {
                        // The memory tier followed rows that just rolled back: forget it and read back from disk.
                        _context.Observer!.RolledBack();
                    }
                }
            }

            // The marker lets an unclear COMMIT be re-read; a batch that changed nothing cannot be unclear. A backend
            // that cannot count changes marks every batch.
            var changed = changesBefore < 0 || _session.ChangeCount != changesBefore;
            _session.Commit(mark: changed || markCommit);
            committed = true;
        }
        catch (Exception ex)
        {
            batchFailure = _session.Map(ex);
        }

        if (!committed)
        {
            _session.Rollback();
            _context.ClearAfterCommit();
            if (tierChanged)
            {
                _context.Observer!.RolledBack();
            }

            FailAll(batchFailure ?? new DurableQueueException("The batch did not commit."));
            return 0;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _operations, _batch.Count);
        _context.RunAfterCommit(static ex => Trace.TraceError("DurableQueue: an after-commit action failed: {0}", ex));
        for (var i = 0; i < _batch.Count; i++)
        {
            if (_failures[i] is { } failure)
            {
                _batch[i].Fail(failure);
            }
            else
            {
                _batch[i].Succeed();
            }
        }

        return _batch.Count;
    }

    /// <summary>
    /// Begins the batch's transaction, waiting for another connection's write lock until each request's own deadline:
    /// <see cref="QueueStoreOptions.BusyTimeout"/> from the moment it was submitted. That one deadline bounds the
    /// backend's busy wait and any retry together, and a request that queued behind a batch that already waited does
    /// not start a second full wait. A request whose deadline passes fails alone with a
    /// <see cref="StorageBusyException"/> that names the time it waited; the others go on waiting until theirs. The
    /// wait is cut at one second once, to report it (<see cref="WaitingForLock"/>). Returns false when every request
    /// of the batch failed so.
    /// </summary>
    private bool Begin()
    {
        var busyTicks = ToTicks(_busyTimeout);
        var noticed = false;
        while (true)
        {
            var earliest = long.MaxValue;
            foreach (var operation in _batch)
            {
                earliest = Math.Min(earliest, operation.SubmittedAt);
            }

            var deadline = earliest + busyTicks;
            var noticeAt = earliest + ToTicks(NoticeAfter);
            try
            {
                _session.Begin(noticed || noticeAt >= deadline ? deadline : noticeAt);
                return true;
            }
            catch (StorageBusyException ex)
            {
                var now = Stopwatch.GetTimestamp();
                if (!noticed && now >= noticeAt)
                {
                    noticed = true;
                    WaitingForLock?.Invoke(Stopwatch.GetElapsedTime(earliest, now));
                }

                if (now < deadline)
                {
                    continue;
                }

                _batch.RemoveAll(operation =>
                {
                    var waited = Stopwatch.GetElapsedTime(operation.SubmittedAt, now);
                    if (waited < _busyTimeout)
                    {
                        return false;
                    }

                    operation.Fail(new StorageBusyException(ErrorMessages.Busy(waited), ex.InnerException));
                    return true;
                });
                if (_batch.Count == 0)
                {
                    return false;
                }
            }
        }
    }

    /// <summary>How long a batch waits for the write lock before <see cref="WaitingForLock"/> reports it.</summary>
    private static readonly TimeSpan NoticeAfter = TimeSpan.FromSeconds(1);

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private void BeginTierStep() => _context.Observer?.StepStarting();

    private bool EndTierStep() => _context.Observer?.StepChanged() ?? false;

    private void FailAll(Exception exception)
    {
        foreach (var operation in _batch)
        {
            operation.Fail(exception);
        }
    }

    public void Dispose()
    {
        Complete();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }
}
