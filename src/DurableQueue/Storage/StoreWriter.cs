using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// The single writer of a store (group commit). Every write is a <see cref="WriteOperation"/> on a channel; one
/// dedicated thread takes all waiting operations, runs them in ONE transaction (each in a savepoint, so one
/// failing request fails alone), commits once, and only then completes the callers. Throughput grows with the
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

    public StoreWriter(
        SqliteConnection connection, ConnectionFactory connections, QueueStoreOptions options, Memory.MemoryTier? tier, Action<WriteContext> beforeBatch)
    {
        _connection = connection;
        _connections = connections;
        _options = options;
        _beforeBatch = beforeBatch;
        _context = new WriteContext(connection, options.TimeProvider, tier);
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
        }
    }

    public Task<T> SubmitAsync<T>(Func<WriteContext, T> work, CancellationToken cancellationToken, bool alwaysMarksCommit = false)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var operation = new WriteOperation<T>(work, cancellationToken, alwaysMarksCommit);
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
                if (!reader.TryRead(out var first))
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
                while (_batch.Count < _failures.Length && reader.TryPeek(out var next) && !next.RunsOutsideTransaction && reader.TryRead(out next))
                {
                    _batch.Add(next);
                }

                RunBatch();
                _batch.Clear();
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

    private void RunBatch()
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
            return;
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
            return;
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
                Exec(Sql.Savepoint);
                BeginTierStep();
                try
                {
                    operation.Execute(_context);
                    Exec(Sql.ReleaseSavepoint);
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

                    Exec(Sql.RollbackToSavepoint);
                    Exec(Sql.ReleaseSavepoint);
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
                _context.Command(Sql.WriteCommitMarker).Bind("@marker", marker).ExecuteNonQuery();
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
            return;
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
