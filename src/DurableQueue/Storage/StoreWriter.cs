using System.Diagnostics;
using DurableQueue.Storage.Driver;

namespace DurableQueue.Storage;

/// <summary>
/// The single writer of a store: leader/follower group commit. A caller that finds the writer idle and is alone (no
/// request waited behind a leader lately and no work waits for the thread pool, see <see cref="Quiet"/>) becomes the
/// leader and runs its own request on its own thread, in one transaction, and commits: no thread hand-off when alone.
/// Requests that arrive while a leader holds the write session wait in a queue; when the leader is done it hands the
/// queue to the store's writer thread, which takes all waiting requests, runs them in ONE transaction (each in a
/// savepoint, so one failing request fails alone; requests that cannot fail half-way skip it, see RunBatch), commits
/// once, and only then completes their callers (continuations run on the thread pool or the caller's context, never
/// on the leader's thread); after a small batch it lingers briefly for those callers' next requests, and it gives the
/// write session back when the queue is empty (it does not linger for a single caller, whose next request should lead
/// on its own thread). Throughput grows with the number of concurrent callers while each
/// caller still returns only after its own data is durable. On a backend where every statement is a round trip
/// (<see cref="DriverCapabilities.GroupedWrites"/>), the plain enqueues and the acks of a batch run as one set-based
/// statement each (<see cref="WriteGroup"/>), and a batch of nothing but plain enqueues, receives and acks sends all
/// its statements with the COMMIT, in one round trip. There (<see cref="DriverCapabilities.AsyncCommit"/>) a leader
/// awaits its commit's round trip instead of blocking in it, and its caller goes on where the reply arrives (see
/// <see cref="LeadAsync"/>).
/// </summary>
/// <remarks>
/// Only the library's own requests may lead on the caller's thread (<see cref="WriteOperation.MayLead"/>); units of
/// work (app code) and maintenance always run on the writer thread, so that app code never runs on a thread that
/// awaits something else, and a unit of work that blocks does so where it always did. Everything the leader touches
/// (the session, the write context, the memory tier) is handed from leader to leader under <see cref="_gate"/>. A
/// caller leading on its own thread never waits for another process's write lock: <see cref="IWriteSession.TryBegin"/>
/// fails fast, and the request goes to the writer thread, which waits.
/// </remarks>
internal sealed class StoreWriter : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Queue<WriteOperation> _queue = new();
    private readonly SemaphoreSlim _handOff = new(0);
    private readonly IWriteSession _session;
    private readonly WriteContext _context;
    private readonly Action<WriteContext> _beforeBatch;
    private readonly bool _statementRollback;
    private readonly bool _groupedWrites;
    private readonly bool _asyncCommit;
    private readonly TimeSpan _busyTimeout;
    private readonly bool _markCommits;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<WriteOperation> _batch = new(Internal.Defaults.MaxWriteBatch);
    private readonly Exception?[] _failures = new Exception?[Internal.Defaults.MaxWriteBatch];
    private long _commits;
    private long _operations;
    private long _inlineCommits;
    private long _groupedOperations;
    private long _deferredRetries;
    private long _deferredCommits;
    private long _conflictRetries;
    // Set per batch: a lock conflict the server breaks by failing the batch runs it again (see StartBatch).
    private bool _retriesConflicts;

    // Under _gate: a thread (a caller, or the writer thread after a hand-off) holds the write session; the writer
    // accepts no more requests; requests waiting in the queue (also read without the lock by the linger).
    private bool _leading;
    private bool _completed;
    private int _waiting;
    private WriteOperation? _first;

    // Under _gate: when a request last had to wait behind a leader, and how long the last batch took (ticks).
    private long _followedAt = long.MinValue / 2;
    private long _cycleTicks;

    public StoreWriter(
        IWriteSession session, IMessageCommands commands, DriverCapabilities capabilities, TimeProvider timeProvider, TimeSpan busyTimeout,
        Action<WriteContext> beforeBatch)
    {
        _busyTimeout = busyTimeout;
        _session = session;
        _statementRollback = capabilities.StatementRollback;
        _groupedWrites = capabilities.GroupedWrites;
        _asyncCommit = capabilities.AsyncCommit;
        _markCommits = !capabilities.CommitOutcomeKnown;
        _beforeBatch = beforeBatch;
        _context = new WriteContext(session, commands, timeProvider);
        _thread = new Thread(Run) { IsBackground = true, Name = "DurableQueue writer" };
        _thread.Start();
    }

    /// <summary>Gets the number of transactions committed so far.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Gets the number of operations completed in committed transactions so far.</summary>
    public long Operations => Interlocked.Read(ref _operations);

    /// <summary>Gets the number of those transactions that a caller led on its own thread (no hand-off).</summary>
    public long InlineCommits => Interlocked.Read(ref _inlineCommits);

    /// <summary>Gets the number of requests run in groups (see <see cref="WriteGroup"/>) in committed transactions so far.</summary>
    public long GroupedOperations => Interlocked.Read(ref _groupedOperations);

    /// <summary>Gets a value indicating whether requests run in groups on this backend (see <see cref="WriteGroup"/>).</summary>
    public bool GroupedWrites => _groupedWrites;

    /// <summary>Gets how many batches went whole with their COMMIT, in one round trip, and committed.</summary>
    public long DeferredCommits => Interlocked.Read(ref _deferredCommits);

    /// <summary>Gets how many times a batch ran again because the server failed it to break a lock conflict (see <see cref="IWriteSession.IsTransientConflict"/>).</summary>
    public long ConflictRetries => Interlocked.Read(ref _conflictRetries);

    /// <summary>Gets how many batches sent with their COMMIT were refused by the server and ran again the ordinary way.</summary>
    public long DeferredRetries => Interlocked.Read(ref _deferredRetries);

    public Task Completion => _completion.Task;

    /// <summary>Gets the write session the writer runs on.</summary>
    public IWriteSession Session => _session;

    /// <summary>Gets the context operations run with; set its session id before the first request.</summary>
    internal WriteContext Context => _context;

    /// <summary>
    /// Runs the operation: at once on this thread when the writer is idle and the operation may lead, otherwise in the
    /// writer thread's next batch. It fails with <see cref="ObjectDisposedException"/> once the writer is shut down.
    /// </summary>
    public void Submit(WriteOperation operation)
    {
        operation.SubmittedAt = Stopwatch.GetTimestamp();
        bool lead;
        bool wake;
        var refused = false;
        lock (_gate)
        {
            if (_completed)
            {
                lead = wake = false;
                refused = true;
            }
            else if (!_leading && _queue.Count == 0 && operation.MayLead && Thread.CurrentThread != _thread && Quiet())
            {
                _leading = lead = true;
                wake = false;
            }
            else
            {
                if (_leading)
                {
                    // A follower: callers are overlapping, so the next ones group on the writer thread for a while.
                    _followedAt = Stopwatch.GetTimestamp();
                }

                _queue.Enqueue(operation);
                Volatile.Write(ref _waiting, _queue.Count);
                lead = false;
                wake = !_leading;
                _leading = true;
            }
        }

        if (lead)
        {
            if (_asyncCommit && operation.Hold())
            {
                // It completes the operation, failures included; the task itself never fails.
                _ = LeadAsync(operation);
            }
            else
            {
                Lead(operation);
            }
        }
        else if (wake)
        {
            _handOff.Release();
        }
        else if (refused)
        {
            operation.Fail(new ObjectDisposedException(nameof(QueueStore)));
        }
    }

    /// <summary>
    /// Gets a value indicating whether this caller is alone: no request had to wait behind a leader lately (for four
    /// batch durations, at least <see cref="MinQuietTicks"/>) and, where the leader's commit runs on its thread (an
    /// embedded file), no work waits for a thread-pool thread. Callers that overlap gain from grouping on the writer
    /// thread (one commit for all of them, while their threads go on with other callers' work) and lose from leading
    /// alone in turn; on few cores, many callers are often serialised by the scheduler and never overlap at the
    /// writer's short commit, and the pool's queue is what shows them. So a caller leads on its own thread only when
    /// alone: one caller at a time always does; many concurrent callers keep the writer's group commit. A leader that
    /// awaits its commit's round trip (<see cref="DriverCapabilities.AsyncCommit"/>) keeps the write session for that
    /// whole round trip while its thread is free, so callers waiting for the pool run meanwhile and meet it as
    /// followers; there the pool's queue is not asked, as it holds the socket completions of every lone round trip and
    /// would send some lone enqueues (3 to 15 % in the load tool) to the writer thread for nothing.
    /// </summary>
    private bool Quiet() =>
        Stopwatch.GetTimestamp() - _followedAt > Math.Max(MinQuietTicks, 4 * _cycleTicks) && (_asyncCommit || ThreadPool.PendingWorkItemCount == 0);

    /// <summary>The shortest quiet spell before a caller may lead again: 250 microseconds.</summary>
    private static readonly long MinQuietTicks = Stopwatch.Frequency / 4_000;

    /// <summary>Queues work and returns its result once committed (at once when this caller led the commit).</summary>
    public ValueTask<T> SubmitValueAsync<T>(
        Func<WriteContext, T> work, CancellationToken cancellationToken, bool alwaysMarksCommit = false, bool withoutSavepoint = false, bool mayLead = true,
        WriteGroup? group = null, object? groupItem = null, bool groupsAlone = false)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<T>(cancellationToken);
        }

        var operation = new WriteOperation<T>(
            work, cancellationToken, alwaysMarksCommit, withoutSavepoint, mayLead, _groupedWrites ? group : null, groupItem, groupsAlone);
        Submit(operation);
        return operation.ValueTask;
    }

    /// <summary>
    /// Gets or sets what runs (on the writer thread; it must return at once) when a batch has waited about a second for
    /// the write lock of another connection; the argument is how long its oldest request has waited so far.
    /// </summary>
    public Action<TimeSpan>? WaitingForLock { get; set; }

    /// <summary>Queues work and returns a task of its result (for callers that block on it or keep the task).</summary>
    public Task<T> SubmitAsync<T>(
        Func<WriteContext, T> work, CancellationToken cancellationToken, bool alwaysMarksCommit = false, bool withoutSavepoint = false) =>
        SubmitValueAsync(work, cancellationToken, alwaysMarksCommit, withoutSavepoint).AsTask();

    /// <summary>Stops taking operations; those already queued still run.</summary>
    public void Complete()
    {
        bool wake;
        lock (_gate)
        {
            _completed = true;
            wake = !_leading;
            _leading = true;
        }

        if (wake)
        {
            _handOff.Release();
        }
    }

    /// <summary>
    /// Runs one operation as the leader on the caller's thread, then hands queued requests to the writer thread. When
    /// another connection holds the write lock, the operation goes to the writer thread first in line instead, so that
    /// the caller awaits the busy wait rather than blocking in it.
    /// </summary>
    private void Lead(WriteOperation operation)
    {
        var completed = 0;
        var started = Stopwatch.GetTimestamp();
        try
        {
            _batch.Add(operation);
            completed = RunBatch(mayWait: false);
        }
        catch (Exception ex)
        {
            // Only a bug gets here (RunBatch fails requests, it does not throw): the caller must not wait forever.
            operation.Fail(ex);
        }
        finally
        {
            EndLead(operation, completed, started);
        }
    }

    /// <summary>
    /// <see cref="Lead"/> on a backend whose commit is a round trip (<see cref="DriverCapabilities.AsyncCommit"/>): the
    /// caller's thread runs the request up to the commit and returns; the rest runs where the commit's reply arrives,
    /// and the caller is completed there, after the write session was given back (as the caller of a raw asynchronous
    /// statement is), rather than by a thread blocked in the round trip waking it. The operation holds its completion
    /// until then (<see cref="WriteOperation.Hold"/>), so that a continuation that runs at once finds the writer idle.
    /// </summary>
    private async Task LeadAsync(WriteOperation operation)
    {
        var completed = 0;
        var started = Stopwatch.GetTimestamp();
        try
        {
            _batch.Add(operation);
            completed = await RunBatchAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Only a bug gets here (RunBatchAsync fails requests, it does not throw): the caller must not wait forever.
            operation.Fail(ex);
        }
        finally
        {
            // Not run (-1): it goes to the writer thread, which completes it the ordinary way, so the hold ends first.
            var handedOver = completed < 0;
            if (handedOver)
            {
                operation.Unhold();
            }

            EndLead(operation, completed, started);
            if (!handedOver)
            {
                operation.Unhold();
            }
        }
    }

    /// <summary>
    /// Gives the write session back after a caller led: to the writer thread when requests queued meanwhile, when the
    /// leader's request could not begin without waiting (<paramref name="completed"/> -1: it goes first in line), or
    /// when the writer is complete; else the writer is idle again.
    /// </summary>
    private void EndLead(WriteOperation operation, int completed, long started)
    {
        if (completed > 0)
        {
            Interlocked.Increment(ref _inlineCommits);
        }

        _batch.Clear();
        var deferred = completed < 0;
        bool wake;
        lock (_gate)
        {
            _cycleTicks = Stopwatch.GetTimestamp() - started;
            if (deferred)
            {
                _first = operation;
            }

            wake = deferred || _queue.Count > 0 || _completed;
            _leading = wake;
        }

        if (wake)
        {
            _handOff.Release();
        }
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                // Parked until a caller or Complete hands the write session over (SemaphoreSlim spins briefly first).
                _handOff.Wait();
                if (!Drain())
                {
                    break;
                }
            }

            _completion.TrySetResult();
        }
        catch (Exception ex)
        {
            // Only a bug gets here; fail what is queued rather than leave callers waiting.
            lock (_gate)
            {
                _completed = true;
                while (_queue.TryDequeue(out var pending))
                {
                    pending.Fail(ex);
                }
            }

            _completion.TrySetException(ex);
        }
        finally
        {
            _session.Dispose();
        }
    }

    /// <summary>
    /// Runs batches while requests are queued; gives the write session back (returns true) when the queue is empty, or
    /// returns false when the writer is complete and drained.
    /// </summary>
    private bool Drain()
    {
        while (true)
        {
            WriteOperation? outside = null;
            lock (_gate)
            {
                if (_first is { } first)
                {
                    // A leader found the write lock held by another connection and handed its request over.
                    _first = null;
                    _batch.Add(first);
                }

                if (_batch.Count == 0 && _queue.Count == 0)
                {
                    if (_completed)
                    {
                        return false;
                    }

                    _leading = false;
                    return true;
                }

                if (_batch.Count == 0 && _queue.Peek().RunsOutsideTransaction)
                {
                    outside = _queue.Dequeue();
                }
                else
                {
                    while (_batch.Count < _failures.Length && _queue.TryPeek(out var next) && !next.RunsOutsideTransaction)
                    {
                        _batch.Add(_queue.Dequeue());
                    }
                }

                Volatile.Write(ref _waiting, _queue.Count);
            }

            if (outside is not null)
            {
                RunOutsideTransaction(outside);
                continue;
            }

            var started = Stopwatch.GetTimestamp();
            var completed = RunBatch();
            _batch.Clear();
            var cycle = Stopwatch.GetTimestamp() - started;
            lock (_gate)
            {
                _cycleTicks = cycle;
            }

            Linger(completed, cycle);
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
        // Only few callers: a big batch is already full, and more spinning would take the cores its callers need. A
        // single caller is not waited for: its next request should find the writer idle and lead on its own thread.
        if (completed is < 2 or > MaxLingerCallers || Waiting >= completed)
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

    private int Waiting => Volatile.Read(ref _waiting);

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

    /// <summary>
    /// Runs the batch in one transaction; returns how many callers it completed (succeeded or failed alone), or -1 when
    /// <paramref name="mayWait"/> is false and the transaction could not begin without waiting (nothing was done).
    /// </summary>
    private int RunBatch(bool mayWait = true, bool mayDefer = true, int conflicts = 0)
    {
        var run = StartBatch(mayWait, mayDefer, conflicts);
        if (run.ReadyToCommit)
        {
            try
            {
                _session.Commit(run.Mark);
                run.Committed = true;
            }
            catch (Exception ex)
            {
                Failed(ref run, ex);
            }
        }

        return EndBatch(ref run, mayWait);
    }

    /// <summary>
    /// <see cref="RunBatch"/> for a leader on a backend whose commit is a round trip (<see
    /// cref="DriverCapabilities.AsyncCommit"/>): the same steps, but the caller's thread does not block in the commit's
    /// round trip; what follows the commit runs where its reply arrives. Never waits for another connection's lock.
    /// </summary>
    private async Task<int> RunBatchAsync()
    {
        var run = StartBatch(mayWait: false, mayDefer: true, conflicts: 0);
        if (run.ReadyToCommit)
        {
            try
            {
                await _session.CommitAsync(run.Mark).ConfigureAwait(false);
                run.Committed = true;
            }
            catch (Exception ex)
            {
                Failed(ref run, ex);
            }
        }

        return EndBatch(ref run, mayWait: false);
    }

    /// <summary>What a batch did up to its commit, for <see cref="EndBatch"/>.</summary>
    private struct BatchRun
    {
        // Begun: the transaction was begun (else Result is the outcome, and nothing else applies).
        public bool Begun;
        // How many times this batch already ran again after the server failed it to break a lock conflict.
        public int Conflicts;
        public int Result;
        public bool Mark;
        public bool Deferred;
        public bool CommitSent;
        public bool TierChanged;
        public bool Committed;
        public bool Retry;
        public bool Conflict;
        public int Grouped;
        public Exception? Failure;

        public readonly bool ReadyToCommit => Begun && Failure is null;
    }

    /// <summary>
    /// Begins the batch's transaction and runs its requests, up to the commit; a failure on the way is kept in the
    /// result for <see cref="EndBatch"/>.
    /// </summary>
    private BatchRun StartBatch(bool mayWait, bool mayDefer, int conflicts)
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
        var run = new BatchRun { Conflicts = conflicts };
        if (_batch.Count == 0)
        {
            return run;
        }

        // A lock conflict that the server breaks by failing this batch (a deadlock between writers of two stores, say)
        // rolls the whole batch back and runs it again, up to MaxConflictRetries times: nothing of it committed, and the
        // rollback released what the other transaction waited for (rolled back to a request's savepoint only, the batch
        // would keep the locks it took before). Only a batch of the library's own requests: a unit of work's callback is
        // the app's code, which may do more than its SQL, and is not run a second time behind the app's back; there a
        // conflict fails the request alone, as any error does.
        _retriesConflicts = conflicts < MaxConflictRetries && _batch.TrueForAll(static op => op.MayLead);

        Array.Clear(_failures);
        try
        {
            if (!mayWait)
            {
                if (!_session.TryBegin())
                {
                    // Another connection holds the write lock: the caller must not block on it; the writer thread waits.
                    run.Result = -1;
                    return run;
                }
            }
            else if (!Begin())
            {
                // Every request of the batch waited out its BusyTimeout and was failed with StorageBusyException.
                return run;
            }
        }
        catch (Exception ex)
        {
            FailAll(_session.Map(ex));
            return run;
        }

        run.Begun = true;
        try
        {
            _context.StartBatch();
            var changesBefore = _session.ChangeCount;
            var statementRollback = changesBefore >= 0 && _statementRollback;
            BeginTierStep();
            _context.Observer?.BatchStarting(_context);
            _beforeBatch(_context);
            run.TierChanged = EndTierStep();
            var markCommit = false;
            // A request alone in its batch, after a start that changed nothing, fails alone without a savepoint too: if it
            // fails, the whole transaction rolls back and takes nothing else with it (see below).
            var lone = _batch.Count == 1 && changesBefore >= 0 && _session.ChangeCount == changesBefore;
            if (_groupedWrites)
            {
                GatherGroups();
                run.Deferred = mayDefer && _batch.TrueForAll(static operation => operation.Group is { DefersToCommit: true });
            }

            if (run.Deferred)
            {
                // Every request of the batch can send its statements with the COMMIT: the whole batch is one round trip.
                // If the server refuses any statement, nothing commits, and the batch runs again the ordinary way below
                // (each request in its own savepoint), so that a failing request fails alone with its own error.
                RunDeferred();
                run.Grouped = _batch.Count;
            }

            var ungroupedUntil = 0;
            for (var i = run.Deferred ? _batch.Count : 0; i < _batch.Count; i++)
            {
                var operation = _batch[i];
                if (i >= ungroupedUntil && operation.Group is { } group && TryRunGroup(group, ref i, ref ungroupedUntil, ref run.Grouped))
                {
                    continue;
                }

                markCommit |= operation.AlwaysMarksCommit;
                var effects = _context.AfterCommitCount;
                // The savepoint exists so that a failing request fails alone. A request marked WithoutSavepoint
                // makes at most one row change, in a single statement, as its last SQL step (a plain enqueue, a
                // single ack). If that statement fails, SQLite has already undone it (statement-level rollback) or
                // ended the whole transaction (caught below): either way nothing of the request is left to roll back.
                // If it throws after a row change counted (which only a bug or out-of-memory in the in-memory
                // bookkeeping after the statement can do), its change cannot be undone alone, so the whole batch
                // fails instead: no caller is told a committed write failed, none that an uncommitted one succeeded.
                // A lone request of the library's own (MayLead: never a unit of work running app code) needs no
                // savepoint at all: if it fails after a change, the whole batch rolls back, and the batch is only it.
                var savepoint = !((operation.WithoutSavepoint && (statementRollback || lone)) || (lone && operation.MayLead));
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

                    run.TierChanged |= EndTierStep();
                }
                catch (Exception ex)
                {
                    var operationChangedTier = EndTierStep();
                    run.TierChanged |= operationChangedTier;
                    if (!_session.TransactionActive || (_retriesConflicts && _session.IsTransientConflict(ex)))
                    {
                        // SQLITE_FULL, IOERR and friends can end the whole transaction: the batch is lost. A lock
                        // conflict fails the whole batch, which runs again (see _retriesConflicts).
                        throw;
                    }

                    if (savepoint)
                    {
                        _session.RollbackToSavepoint(SavepointNames.Request);
                    }
                    else if (!statementRollback || _session.ChangeCount != changesBeforeOperation)
                    {
                        // A lone request on a backend whose failing statement aborts the transaction (PostgreSQL): the
                        // batch rolls back and the request fails with its own error; it was the batch's only change.
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

            // The marker lets an unclear COMMIT be re-read; a batch that changed nothing cannot be unclear, and neither
            // can a commit on a backend that never reports a landed commit as failed (CommitOutcomeKnown). A backend
            // that cannot count changes marks every batch. A deferred batch is not marked: its results come with the
            // COMMIT, so when that reply is lost they are lost too, and its callers fail whether it landed or not.
            var changed = changesBefore < 0 || _session.ChangeCount != changesBefore;
            run.Mark = _markCommits && !run.Deferred && (changed || markCommit);
            run.CommitSent = true;
        }
        catch (Exception ex)
        {
            Failed(ref run, ex);
        }

        return run;
    }

    /// <summary>Records why the batch did not commit, and whether it runs again.</summary>
    private void Failed(ref BatchRun run, Exception exception)
    {
        run.Failure = _session.Map(exception);
        // A deferred batch runs again the ordinary way when nothing of it committed: the server refused a statement
        // sent with the COMMIT, or building the statements failed before anything was sent. A broken connection is
        // not retried: the outcome of its COMMIT is unknown.
        run.Retry = run.Deferred && (run.CommitSent ? _session.CommitRefused(exception) : run.Failure is not StorageUnavailableException);
        // A lock conflict the server broke by failing this batch runs it again (see _retriesConflicts).
        run.Conflict = _retriesConflicts && _session.IsTransientConflict(exception);
        run.Retry |= run.Conflict;
    }

    /// <summary>How many times a batch runs again after the server failed it to break a lock conflict.</summary>
    private const int MaxConflictRetries = 3;

    /// <summary>
    /// Ends the batch after its commit (or after the failure that stopped it): completes its callers and returns how
    /// many (as <see cref="RunBatch"/> does).
    /// </summary>
    private int EndBatch(ref BatchRun run, bool mayWait)
    {
        if (!run.Begun)
        {
            return run.Result;
        }

        if (!run.Committed)
        {
            _session.Rollback();
            _context.ClearAfterCommit();
            if (run.TierChanged)
            {
                _context.Observer!.RolledBack();
            }

            if (run.Retry)
            {
                if (run.Conflict)
                {
                    Interlocked.Increment(ref _conflictRetries);
                    return RunBatch(mayWait, mayDefer: false, run.Conflicts + 1);
                }

                Interlocked.Increment(ref _deferredRetries);
                return RunBatch(mayWait, mayDefer: false, run.Conflicts);
            }

            FailAll(run.Failure ?? new DurableQueueException("The batch did not commit."));
            return 0;
        }

        Interlocked.Increment(ref _commits);
        if (run.Deferred)
        {
            Interlocked.Increment(ref _deferredCommits);
        }

        Interlocked.Add(ref _operations, _batch.Count);
        Interlocked.Add(ref _groupedOperations, run.Grouped);
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
    /// Puts the requests of each group next to the first of them, keeping the order within a group and of everything
    /// else. A group gathers only up to the next ungrouped request, which is a barrier; past it the group starts again.
    /// So a request never runs before an ungrouped one submitted earlier (a deduplicated or bounded enqueue and a later
    /// plain one get their ids in the order they were submitted), while requests of different groups, which touch
    /// different rows (new messages, ready ones, leased ones), may pass each other: they were all submitted before any
    /// of them completed, so either order is one the callers could have seen.
    /// </summary>
    private void GatherGroups()
    {
        List<object>? ordered = null;
        Dictionary<WriteGroup, List<WriteOperation>>? open = null;
        var moved = false;
        for (var i = 0; i < _batch.Count; i++)
        {
            var operation = _batch[i];
            if (operation.Group is { } group)
            {
                open ??= [];
                if (open.TryGetValue(group, out var members))
                {
                    // A member joins a group that began earlier: it moves unless it follows the group's last member.
                    moved |= !ReferenceEquals(_batch[i - 1], members[^1]);
                    members.Add(operation);
                    continue;
                }

                open.Add(group, members = [operation]);
                (ordered ??= new List<object>(_batch.Count)).Add(members);
            }
            else
            {
                open?.Clear();
                (ordered ??= new List<object>(_batch.Count)).Add(operation);
            }
        }

        if (!moved)
        {
            return;
        }

        _batch.Clear();
        foreach (var entry in ordered!)
        {
            if (entry is List<WriteOperation> members)
            {
                _batch.AddRange(members);
            }
            else
            {
                _batch.Add((WriteOperation)entry);
            }
        }
    }

    /// <summary>
    /// Runs each group of the batch (gathered, every request in one) with <see cref="WriteContext.DeferToCommit"/>: their
    /// statements are held back and sent with the COMMIT, and their results set when it ran.
    /// </summary>
    private void RunDeferred()
    {
        _context.DeferToCommit = true;
        try
        {
            for (var start = 0; start < _batch.Count;)
            {
                var group = _batch[start].Group!;
                var end = start + 1;
                while (end < _batch.Count && ReferenceEquals(_batch[end].Group, group))
                {
                    end++;
                }

                group.Run(_context, _batch, start, end - start);
                start = end;
            }
        }
        finally
        {
            _context.DeferToCommit = false;
        }
    }

    /// <summary>
    /// Runs the requests of <paramref name="group"/> from <paramref name="index"/> on together in one savepoint and
    /// returns true, with <paramref name="index"/> on the last of them; returns false when the first should run on its
    /// own: it is alone and not worth a group, or the group failed (then its changes and effects are undone, and each
    /// of its requests runs on its own, up to <paramref name="ungroupedUntil"/>, so that a failing one fails alone with
    /// its own error).
    /// </summary>
    private bool TryRunGroup(WriteGroup group, ref int index, ref int ungroupedUntil, ref int grouped)
    {
        var end = index + 1;
        while (end < _batch.Count && ReferenceEquals(_batch[end].Group, group))
        {
            end++;
        }

        if (end - index == 1 && !_batch[index].GroupsAlone)
        {
            return false;
        }

        var effects = _context.AfterCommitCount;
        _session.Savepoint(SavepointNames.Request);
        try
        {
            group.Run(_context, _batch, index, end - index);
            _session.ReleaseSavepoint(SavepointNames.Request);
        }
        catch (Exception ex)
        {
            // Asked here, not in an exception filter: a filter runs before the provider's own clean-up of the failed
            // statement has run. A lock conflict fails the whole batch, which runs again (see _retriesConflicts).
            if (!_session.TransactionActive || (_retriesConflicts && _session.IsTransientConflict(ex)))
            {
                throw;
            }

            Trace.WriteLine($"DurableQueue: a group of {end - index} requests runs one by one: {ex.Message}");
            _session.RollbackToSavepoint(SavepointNames.Request);
            _context.DiscardAfterCommitFrom(effects);
            ungroupedUntil = end;
            return false;
        }

        grouped += end - index;
        index = end - 1;
        return true;
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
