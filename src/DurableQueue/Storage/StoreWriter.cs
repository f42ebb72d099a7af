using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

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
    private readonly SqliteConnection _connection;
    private readonly WriteContext _context;
    private readonly ConnectionFactory _connections;
    private readonly QueueStoreOptions _options;
    private readonly Action<WriteContext> _beforeBatch;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<WriteOperation> _batch = new(Internal.Defaults.MaxWriteBatch);
    private readonly Exception?[] _failures = new Exception?[Internal.Defaults.MaxWriteBatch];
    private long _commits;
    private long _operations;
    private long _commitMarker;

    // Requests written to the channel, and taken from it by the writer thread (which alone touches _taken): the
    // difference is how many are waiting (a single-reader channel cannot count). It may lag by the request being
    // written at this instant, which only shortens or lengthens a linger within its bound.
    private long _submitted;
    private long _taken;

    public StoreWriter(
        SqliteConnection connection, ConnectionFactory connections, QueueStoreOptions options, Memory.MemoryTier? tier, Action<WriteContext> beforeBatch)
    {
        _connection = connection;
        _connections = connections;
        _options = options;
        _beforeBatch = beforeBatch;
        _context = new WriteContext(connection, options.TimeProvider, tier) { SessionId = options.SessionId };
        _commitMarker = Random.Shared.NextInt64(1, long.MaxValue / 2);
        _thread = new Thread(Run) { IsBackground = true, Name = "DurableQueue writer" };
        _thread.Start();
    }

    /// <summary>Gets the number of transactions committed so far.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Gets the number of operations completed in committed transactions so far.</summary>
    public long Operations => Interlocked.Read(ref _operations);

    public Task Completion => _completion.Task;

    /// <summary>Queues an operation; it fails with <see cref="ObjectDisposedException"/> once the writer is shut down.</summary>
    public void Submit(WriteOperation operation)
    {
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
            _context.Dispose();
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
            operation.Fail(SqliteErrors.Map(ex, _connections.Path, _options.BusyTimeout));
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
            Begin();
        }
        catch (Exception ex)
        {
            FailAll(SqliteErrors.Map(ex, _connections.Path, _options.BusyTimeout));
            return 0;
        }

        try
        {
            _context.StartBatch();
            var changesBefore = SQLitePCL.raw.sqlite3_total_changes(_connection.Handle);
            BeginTierStep();
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
                var savepoint = !operation.WithoutSavepoint;
                var changesBeforeOperation = savepoint ? 0 : SQLitePCL.raw.sqlite3_total_changes(_connection.Handle);
                if (savepoint)
                {
                    Exec(Sql.Savepoint);
                }

                BeginTierStep();
                try
                {
                    operation.Execute(_context);
                    if (savepoint)
                    {
                        Exec(Sql.ReleaseSavepoint);
                    }

                    tierChanged |= EndTierStep();
                }
                catch (Exception ex)
                {
                    var operationChangedTier = EndTierStep();
                    tierChanged |= operationChangedTier;
                    if (!TransactionActive)
                    {
                        // SQLITE_FULL, IOERR and friends can end the whole transaction: the batch is lost.
                        throw;
                    }

                    if (savepoint)
                    {
                        Exec(Sql.RollbackToSavepoint);
                        Exec(Sql.ReleaseSavepoint);
                    }
                    else if (SQLitePCL.raw.sqlite3_total_changes(_connection.Handle) != changesBeforeOperation)
                    {
                        throw;
                    }

                    _context.DiscardAfterCommitFrom(effects);
                    _failures[i] = SqliteErrors.Map(ex, _connections.Path, _options.BusyTimeout);
                    if (operationChangedTier)
                    {
                        // The memory tier followed rows that just rolled back: forget it and read back from disk.
                        _context.Tier!.Clear();
                    }
                }
            }

            var changed = SQLitePCL.raw.sqlite3_total_changes(_connection.Handle) != changesBefore;
            long marker = 0;
            if (changed || markCommit)
            {
                marker = ++_commitMarker;
                _context.Command(Sql.WriteCommitMarkerAndTime).Bind("@marker", marker).Bind("@now", _context.Now).ExecuteNonQuery();
            }

            try
            {
                Exec(Sql.Commit);
                committed = true;
            }
            catch (Exception ex) when (marker != 0 && CommitLanded(marker))
            {
                // The commit reported an error but its marker is in the database: it landed.
                Trace.TraceWarning("DurableQueue: COMMIT reported {0} but the batch is in the database.", ex.Message);
                committed = true;
            }
        }
        catch (Exception ex)
        {
            batchFailure = SqliteErrors.Map(ex, _connections.Path, _options.BusyTimeout);
        }

        if (!committed)
        {
            if (TransactionActive)
            {
                TryExec(Sql.Rollback);
            }

            _context.ClearAfterCommit();
            if (tierChanged)
            {
                _context.Tier!.Clear();
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

    private void BeginTierStep()
    {
        if (_context.Tier is { } tier)
        {
            tier.Mutated = false;
        }
    }

    private bool EndTierStep() => _context.Tier?.Mutated ?? false;

    private bool TransactionActive => SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) == 0;

    /// <summary>
    /// Re-reads the commit marker after COMMIT reported an error, so that a write that landed is never reported
    /// as failed (a caller would retry it).
    /// </summary>
    private bool CommitLanded(long marker)
    {
        try
        {
            if (TransactionActive)
            {
                return false;
            }

            var value = _context.Command(Sql.ReadCommitMarker).ExecuteScalar();
            return value is long found && found == marker;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    private void Begin()
    {
        // SQLite's busy handler waits up to busy_timeout inside each attempt; the loop covers the cases where it
        // is not called (a WAL being recovered by another connection) and bounds the total wait.
        var started = Stopwatch.GetTimestamp();
        var attempt = 0;
        while (true)
        {
            try
            {
                Exec(Sql.Begin);
                return;
            }
            catch (SqliteException ex) when (SqliteErrors.IsBusy(ex) && Stopwatch.GetElapsedTime(started) < _options.BusyTimeout)
            {
                Thread.Sleep(Random.Shared.Next(1, 1 + Math.Min(100, 5 << Math.Min(attempt++, 5))));
            }
        }
    }

    private void FailAll(Exception exception)
    {
        foreach (var operation in _batch)
        {
            operation.Fail(exception);
        }
    }

    private void Exec(string sql) => _context.Command(sql).ExecuteNonQuery();

    private void TryExec(string sql)
    {
        try
        {
            Exec(sql);
        }
        catch (SqliteException ex)
        {
            Trace.TraceWarning("DurableQueue: {0} failed: {1}", sql, ex.Message);
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
