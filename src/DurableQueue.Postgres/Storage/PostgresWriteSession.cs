using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using DurableQueue.Storage.Driver;
using Npgsql;
using NpgsqlTypes;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// The PostgreSQL writer's connection and the control of its batch transaction. Transaction control costs no round
/// trips of its own: BEGIN is sent by Npgsql in front of the first statement, and SAVEPOINT / RELEASE are held back and
/// sent in one batch with the next statement (or with the COMMIT), so a request of one statement is one round trip.
/// The wake-ups the batch owes to receivers of other stores travel in the commit's round trip, in a transaction of their
/// own after it; for a caller that awaits its own commit alone they are sent after the commit landed, by
/// <see cref="PostgresWakeUps"/>; in an app's own transaction they go with its statements.
/// </summary>
/// <remarks>Used by the store's writer thread only; not thread-safe.</remarks>
internal sealed class PostgresWriteSession : IWriteSession
{
    private const string ProbeSavepoint = "dq_probe";

    /// <summary>A row sent after the COMMIT: reading it shows that the COMMIT succeeded.</summary>
    private const string CommittedSentinel = "SELECT 1;";

    private readonly NpgsqlDataSource _dataSource;
    private readonly List<string> _pending = [];
    private readonly List<(NpgsqlBatchCommand Command, Action<NpgsqlDataReader> Read)> _atCommit = [];
    private readonly HashSet<string> _notify = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _savepoints = new(StringComparer.Ordinal);
    private readonly string _location;
    private readonly string _connectionSettings;
    private readonly Func<Exception, Exception> _map;
    private readonly NpgsqlConnection? _borrowed;
    private readonly Guid _writerId;
    // Sends the wake-ups for other stores after each commit (null on a borrowed session: they go in the app's transaction).
    private readonly PostgresWakeUps? _wakeUps;
    private readonly TimeProvider _clock = TimeProvider.System;
    private long _marker;
    private NpgsqlConnection? _connection;
    private NpgsqlBatch? _readerBatch;
    private long _changes;
    private long _roundTrips;
    private long _failedWakeUps;
    private NpgsqlTransaction? _transaction;
    // A batch is open; its transaction is begun on the server only when the first statement goes (see EnsureBegun).
    private bool _batchOpen;
    // The connection broke during the open batch: the server rolled it back, and no later statement of it may run.
    private bool _batchLost;
    private bool _callerCodeRan;
    // The batch's statements prefer indexes (PostgresSql.PreferIndexes): set where the batch is sent, at its commit.
    private bool _preferIndexes;
    private bool _endedByCaller;
    private bool _inCallerCode;

    /// <param name="dataSource">Where to connect.</param>
    /// <param name="sql">The schema's statements.</param>
    /// <param name="commands">The statements of the queue, run on this session.</param>
    /// <param name="location">The store's location, for messages.</param>
    /// <param name="options">The store options: durability and the lock wait.</param>
    /// <param name="map">Turns provider exceptions into the library's typed ones.</param>
    /// <param name="storeId">The store's id: its commit marker row, and the rows of its waiting receivers.</param>
    /// <param name="wakeUps">Sends the wake-ups after each commit; without it they go in the commit's round trip.</param>
    public PostgresWriteSession(
        NpgsqlDataSource dataSource, PostgresSql sql, IMessageCommands commands, string location, QueueStoreOptions options, Func<Exception, Exception> map,
        Guid? storeId = null, PostgresWakeUps? wakeUps = null)
    {
        _dataSource = dataSource;
        _wakeUps = wakeUps;
        _writerId = storeId ?? Guid.NewGuid();
        Sql = sql;
        Commands = commands;
        _location = location;
        _map = map;
        _clock = options.TimeProvider;
        // Per connection, so set again after a reconnect. Durability.Normal lets a commit return before its WAL is
        // flushed (a server crash may lose the last moments; the database stays consistent), as SQLite's NORMAL does.
        // The lock wait is the store's BusyTimeout: a row held longer by another host fails as StorageBusyException.
        // The queue's schema goes first on the search path (before what the connection string set), so that SQL an app
        // runs in a unit of work may name the dq_ tables as it would in a SQLite file; the store's own statements name
        // the schema in full and do not depend on it.
        _connectionSettings = string.Create(
            CultureInfo.InvariantCulture,
            $"SET synchronous_commit = {(options.Durability == Durability.Full ? "on" : "off")}; " +
            $"SET lock_timeout = {(long)Math.Max(1, options.BusyTimeout.TotalMilliseconds)}; ") + sql.PrependSearchPath;
    }

    /// <summary>
    /// Makes a session on a transaction the app opened on its own connection (the outbox): the statements run in the
    /// app's transaction, which the app commits or rolls back; <see cref="FinishBorrowed"/> sends what the session held
    /// back, wake-ups included (the server delivers them only if the app's transaction commits).
    /// </summary>
    private PostgresWriteSession(NpgsqlConnection borrowed, PostgresSql sql, IMessageCommands commands, string location, Func<Exception, Exception> map)
    {
        _dataSource = null!;
        _borrowed = borrowed;
        _connection = borrowed;
        Sql = sql;
        Commands = commands;
        _location = location;
        _map = map;
        _connectionSettings = "";
        _writerId = Guid.NewGuid();
    }

    public static PostgresWriteSession Borrow(
        NpgsqlConnection connection, PostgresSql sql, IMessageCommands commands, string location, Func<Exception, Exception> map)
    {
        var session = new PostgresWriteSession(connection, sql, commands, location, map);
        // Sent with the first statement: the server refuses a savepoint outside a transaction block (so a completed
        // transaction is caught before anything is written), and a failure rolls back to it, keeping the app's
        // transaction usable.
        session.Savepoint(BorrowedSavepoint);
        return session;
    }

    /// <summary>The savepoint around the statements of a borrowed session.</summary>
    public const string BorrowedSavepoint = "dq_outbox";

    public PostgresSql Sql { get; }

    public IMessageCommands Commands { get; }

    private long NowMs => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Sends the held-back savepoint statements and the wake-ups into the app's transaction (borrowed sessions only).</summary>
    public void FinishBorrowed()
    {
        Debug.Assert(_borrowed is not null, "Only a borrowed session finishes this way.");
        ReleaseSavepoint(BorrowedSavepoint);
        using var batch = NewBatch();
        AddNotifications(batch);
        _notify.Clear();
        if (batch.BatchCommands.Count > 0)
        {
            batch.ExecuteNonQuery();
        }
    }

    /// <summary>Gets the connection for SQL of the core or the app inside the batch: the batch's transaction is begun first.</summary>
    DbConnection IWriteSession.Connection
    {
        get
        {
            EnsureBegun();
            return Connection;
        }
    }

    /// <summary>Gets the connection, opening it (again, after a broken one) when needed.</summary>
    public NpgsqlConnection Connection
    {
        get
        {
            if (_borrowed is not null)
            {
                return _borrowed;
            }

            if (_connection is null || _connection.State != ConnectionState.Open)
            {
                _connection?.Dispose();
                _connection = null;
                var connection = _dataSource.OpenConnection();
                try
                {
                    using var settings = new NpgsqlCommand(_connectionSettings, connection);
                    settings.ExecuteNonQuery();
                    // This writer's marker row (committed at once), the rows of writers gone for a week, and the
                    // waiting receivers' rows that lapsed (of stores that ended without closing).
                    using var register = new NpgsqlBatch(connection)
                    {
                        BatchCommands =
                        {
                            new NpgsqlBatchCommand(Sql.RegisterWriter)
                            {
                                Parameters = { new NpgsqlParameter<Guid> { TypedValue = _writerId }, new NpgsqlParameter<long> { TypedValue = NowMs } },
                            },
                            new NpgsqlBatchCommand(Sql.ForgetOldWriters)
                            {
                                Parameters = { new NpgsqlParameter<long> { TypedValue = NowMs - (long)TimeSpan.FromDays(7).TotalMilliseconds } },
                            },
                            new NpgsqlBatchCommand(Sql.ForgetLapsedWaiters),
                        },
                    };
                    register.ExecuteNonQuery();
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }

                _connection = connection;
            }

            return _connection;
        }
    }

    /// <summary>Gets the server process id of the connection (0 when none is open), so that the listener can ignore our own wake-ups.</summary>
    public int ProcessId => _connection is { State: ConnectionState.Open } c ? c.ProcessID : 0;

    public bool InCallerCode
    {
        get => _inCallerCode;
        set
        {
            if (value)
            {
                // The app's SQL goes straight to the connection: the request's savepoint must be on the server first.
                Flush();
                _callerCodeRan = true;
            }

            _inCallerCode = value;
        }
    }

    /// <summary>
    /// Gets a value indicating whether the batch transaction is still open. PostgreSQL does not tell Npgsql's
    /// transaction object about a COMMIT or ROLLBACK sent as SQL, so after app code ran on the connection a savepoint
    /// probes it: outside a transaction block the server refuses a savepoint.
    /// </summary>
    public bool TransactionActive
    {
        get
        {
            if (_borrowed is not null)
            {
                // The app's own transaction: the app ends it, after this session is done.
                return true;
            }

            if (!_batchOpen || _endedByCaller)
            {
                return false;
            }

            if (_transaction is null)
            {
                // Nothing of the batch went to the server yet, so nothing can have ended its transaction.
                return true;
            }

            if (_connection is not { State: ConnectionState.Open })
            {
                return false;
            }

            if (!_callerCodeRan)
            {
                return true;
            }

            _callerCodeRan = false;
            try
            {
                _pending.Add(SavepointSql(ProbeSavepoint, 0));
                _pending.Add(SavepointSql(ProbeSavepoint, 1));
                Flush();
                return true;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.NoActiveSqlTransaction)
            {
                _endedByCaller = true;
                return false;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InFailedSqlTransaction)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Returns whether the final-lease sweep should look at what other hosts committed. PostgreSQL cannot tell cheaply
    /// whether another host committed since the last batch (a query would cost a round trip per batch), and the answer
    /// only decides whether the sweep runs, so the statements' own schedule for it answers instead: a known last-attempt
    /// lease is due, a read saw one expired, or a second passed since the last sweep (for leases other hosts granted).
    /// </summary>
    public bool ForeignCommitsSinceLastCheck() => Commands is not PostgresCommands commands || commands.SweepWanted(NowMs);

    /// <summary>
    /// Gets the number of rows the session's own statements changed (the server reports it per statement); SQL the
    /// app runs on the connection in a unit of work is not counted, but a unit of work marks its commit anyway.
    /// </summary>
    public long ChangeCount
    {
        get
        {
            SettleReader();
            return _changes;
        }
    }

    /// <summary>
    /// Begins the batch transaction. PostgreSQL takes row locks, not a store-wide write lock, so there is no lock to
    /// wait for here and the deadline does not apply; a statement that waits on another host's row lock is bounded by
    /// the server's own timeouts.
    /// </summary>
    public void Begin(long deadline) => Begin();

    /// <remarks>
    /// Nothing is sent yet: the transaction is begun with the first statement (<see cref="EnsureBegun"/>), so a batch
    /// whose only statement rides with the commit runs as that one statement, committed by itself, like a raw insert.
    /// </remarks>
    public void Begin()
    {
        Debug.Assert(!_batchOpen && _transaction is null, "A batch transaction is already open.");
        _pending.Clear();
        _notify.Clear();
        _atCommit.Clear();
        _preferIndexes = false;
        _callerCodeRan = false;
        _endedByCaller = false;
        _batchLost = false;
        _batchOpen = true;
    }

    /// <summary>Begins the open batch's transaction on the connection, if that was not done yet.</summary>
    private void EnsureBegun()
    {
        if (_batchOpen && _transaction is null)
        {
            // Read committed: each statement sees what other hosts committed before it; FOR UPDATE SKIP LOCKED does the rest.
            _transaction = Connection.BeginTransaction(IsolationLevel.ReadCommitted);
        }
    }

    public void Savepoint(string name) => _pending.Add(SavepointSql(name, 0));

    public void ReleaseSavepoint(string name)
    {
        // A request that sent no statement: its savepoint was never sent either.
        if (_pending.Count > 0 && ReferenceEquals(_pending[^1], SavepointSql(name, 0)))
        {
            _pending.RemoveAt(_pending.Count - 1);
            return;
        }

        _pending.Add(SavepointSql(name, 1));
    }

    public void RollbackToSavepoint(string name)
    {
        if (_pending.Count > 0 && ReferenceEquals(_pending[^1], SavepointSql(name, 0)))
        {
            _pending.RemoveAt(_pending.Count - 1);
            return;
        }

        _pending.Add(SavepointSql(name, 2));
        _pending.Add(SavepointSql(name, 1));
        Flush();
    }

    /// <summary>
    /// Holds a statement back to send in the COMMIT's round trip, before the COMMIT; <paramref name="read"/> gets its rows
    /// when that ran, before <see cref="Commit"/> returns. If the statement fails, the commit fails and nothing of the
    /// batch is committed.
    /// </summary>
    public void ExecuteAtCommit(string sql, NpgsqlParameter[] parameters, Action<NpgsqlDataReader> read)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter);
        }

        _atCommit.Add((command, read));
    }

    /// <summary>
    /// Holds back statements without rows (settings, say) to send in front of the next statement, with the held-back
    /// transaction control; they reach the server before any statement that follows, app code's included.
    /// </summary>
    public void SendWithNext(string[] statements) => _pending.AddRange(statements);

    /// <summary>
    /// Makes every statement of a batch that goes whole with its COMMIT prefer indexes (see
    /// <see cref="PostgresSql.PreferIndexes"/>): the settings go first in that round trip, and the transaction's end
    /// takes them away.
    /// </summary>
    public void PreferIndexesUntilCommit() => _preferIndexes = true;

    /// <summary>Registers a wake-up for the receivers of a queue in every process; sent with the COMMIT.</summary>
    public void NotifyOnCommit(string queueName) => _notify.Add(queueName);

    /// <summary>
    /// Commits the batch in one round trip, with the held-back savepoint statements, the statements held back for the
    /// COMMIT (<see cref="ExecuteAtCommit"/>) and the wake-ups. With <paramref name="mark"/>, the same round trip sets
    /// this writer's commit marker, so that a commit whose reply was lost can be read back on a new connection: it
    /// returns normally when the commit landed, and throws when it did not or cannot be told (the server is
    /// unreachable). A batch with statements held back for the COMMIT is not marked: their results come with the reply,
    /// so when the reply is lost the callers fail either way, with <see cref="StorageUnavailableException"/> saying that
    /// the outcome is unknown.
    /// </summary>
    public void Commit(bool mark)
    {
        var commit = CommitAsync(mark, async: false);
        Debug.Assert(commit.IsCompleted, "A synchronous commit completes before it returns.");
        commit.GetAwaiter().GetResult();
    }

    /// <summary><see cref="Commit"/> with the round trip awaited: the calling thread does not block in it.</summary>
    public ValueTask CommitAsync(bool mark) => CommitAsync(mark, async: true);

    private async ValueTask CommitAsync(bool mark, bool async)
    {
        if (!_batchOpen)
        {
            throw new InvalidOperationException("No batch transaction is open.");
        }

        Debug.Assert(!mark || _atCommit.Count == 0, "A batch whose results come with the COMMIT is not marked.");
        if (_transaction is null)
        {
            // Nothing of the batch went to the server yet.
            if (!mark && _pending.Count == 0 && _notify.Count == 0 && _atCommit.Count == 0)
            {
                _batchOpen = false;
                return;
            }

            if (!mark && _pending.Count == 0 && _atCommit.Count > 0)
            {
                await CommitWithoutBeginAsync(async).ConfigureAwait(false);
                return;
            }

            EnsureBegun();
        }

        if (_preferIndexes)
        {
            _pending.InsertRange(0, Sql.PreferIndexes);
        }

        var transaction = _transaction!;
        _transaction = null;
        _batchOpen = false;
        long? marker = null;
        var committed = false;
        var sendsWakeUpsLater = SendsWakeUpsLater(async);
        var notifying = !sendsWakeUpsLater && _notify.Count > 0;
        try
        {
            if (!mark && _pending.Count == 0 && !notifying && _atCommit.Count == 0)
            {
                Interlocked.Increment(ref _roundTrips);
                if (async)
                {
                    await transaction.CommitAsync().ConfigureAwait(false);
                }
                else
                {
                    transaction.Commit();
                }

                OweWakeUps(sendsWakeUpsLater);
                return;
            }

            using var batch = NewBatch();
            foreach (var (command, _) in _atCommit)
            {
                batch.BatchCommands.Add(command);
            }

            if (mark)
            {
                marker = ++_marker;
                var set = new NpgsqlBatchCommand(Sql.SetMarker);
                set.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _writerId });
                set.Parameters.Add(new NpgsqlParameter<long> { TypedValue = marker.Value });
                set.Parameters.Add(new NpgsqlParameter<long> { TypedValue = NowMs });
                batch.BatchCommands.Add(set);
            }

            batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT;"));
            if (notifying)
            {
                // The wake-ups go after the COMMIT, in a transaction of their own that the server runs only if the
                // COMMIT succeeded (it skips everything after a failed statement). A transaction that only notifies
                // writes no WAL, so it does not wait for a flush: PostgreSQL's notification lock, which a notifying
                // transaction holds from its pre-commit to its end, is not held across this batch's flush, and writers
                // of other hosts that notify can share flushes with it. The row before them tells that the COMMIT went
                // through, so a failure of the wake-ups is not taken for a failed commit.
                batch.BatchCommands.Add(new NpgsqlBatchCommand(CommittedSentinel));
                AddNotifications(batch);
            }

            if (_atCommit.Count == 0 && !notifying)
            {
                if (async)
                {
                    await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
                }
                else
                {
                    batch.ExecuteNonQuery();
                }
            }
            else
            {
                // The held-back statements' rows come first (statements without rows, COMMIT among them, are skipped by
                // the reader), then the row that follows the COMMIT.
                var reader = async ? await batch.ExecuteReaderAsync().ConfigureAwait(false) : batch.ExecuteReader();
                try
                {
                    for (var i = 0; i < _atCommit.Count; i++)
                    {
                        if (i > 0)
                        {
                            await NextResultAsync(reader, async).ConfigureAwait(false);
                        }

                        _atCommit[i].Read(reader);
                    }

                    if (notifying)
                    {
                        committed = _atCommit.Count == 0 || await NextResultAsync(reader, async).ConfigureAwait(false);
                    }

                    while (await NextResultAsync(reader, async).ConfigureAwait(false))
                    {
                    }
                }
                finally
                {
                    await DisposeAsync(reader, async).ConfigureAwait(false);
                }
            }

            transaction.Dispose();
            OweWakeUps(sendsWakeUpsLater);
        }
        catch (Exception ex) when (committed)
        {
            // The COMMIT went through; only the wake-ups after it failed. Receivers of other hosts look again at their
            // safety poll. The connection is dropped if it broke; else it is idle (the wake-ups' transaction rolled back).
            Interlocked.Increment(ref _failedWakeUps);
            Trace.TraceWarning("DurableQueue: the batch committed, but its wake-ups failed: {0}", ex.Message);
            if (PostgresErrors.IsUnreachable(ex))
            {
                DropConnection();
            }
            else
            {
                transaction.Dispose();
            }
        }
        catch (Exception ex) when (marker is { } m && PostgresErrors.IsUnreachable(ex))
        {
            DropConnection();
            if (!CommitLanded(m, ex))
            {
                throw;
            }

            // A marked batch sent no statement with its COMMIT (the writer marks no batch that did): every result of
            // the batch was read before, and the commit landed.
            Trace.TraceWarning("DurableQueue: COMMIT reported {0} but the batch is in the database.", ex.Message);
            OweWakeUps(sendsWakeUpsLater);
        }
        catch (Exception ex) when (PostgresErrors.IsUnreachable(ex))
        {
            DropConnection();
            throw new StorageUnavailableException(PostgresErrorMessages.CommitOutcomeUnknown(_location, ex.Message), ex);
        }
        catch (Exception ex) when (ex is PostgresException)
        {
            // A statement of the COMMIT's round trip failed (the server skipped the rest, COMMIT included): end the
            // failed transaction so that the connection is ready for the next batch.
            try
            {
                transaction.Rollback();
            }
            catch (Exception rollback) when (rollback is NpgsqlException or InvalidOperationException)
            {
                Trace.TraceWarning("DurableQueue: ROLLBACK after a failed commit failed: {0}", rollback.Message);
            }

            throw;
        }
        finally
        {
            _pending.Clear();
            _notify.Clear();
            _atCommit.Clear();
            _preferIndexes = false;
        }
    }

    /// <summary>
    /// Commits a batch whose statements were all held back for the commit, with no transaction begun: they run as one
    /// implicit transaction, which the server commits at the end of the last of them (a batch of one statement runs as
    /// that statement alone, like a raw insert), instead of between BEGIN and COMMIT. The wake-ups follow behind an
    /// error barrier, so they run in a transaction of their own; the row before them shows that the statements' commit
    /// went through, so a failure of the wake-ups is not taken for a refused commit (which would run the writes again).
    /// A failing statement committed nothing and fails as a refused commit (<see cref="CommitRefused"/>); a broken
    /// connection leaves the outcome unknown.
    /// </summary>
    private async ValueTask CommitWithoutBeginAsync(bool async)
    {
        _batchOpen = false;
        var sendsWakeUpsLater = SendsWakeUpsLater(async);
        var notifying = !sendsWakeUpsLater && _notify.Count > 0;
        var committed = false;
        try
        {
            Interlocked.Increment(ref _roundTrips);
            SettleReader();
            using var batch = new NpgsqlBatch(Connection);
            if (_preferIndexes)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(Sql.PreferIndexesWithoutBegin));
            }

            foreach (var (command, _) in _atCommit)
            {
                batch.BatchCommands.Add(command);
            }

            if (notifying)
            {
                batch.BatchCommands[^1].AppendErrorBarrier = true;
                batch.BatchCommands.Add(new NpgsqlBatchCommand(CommittedSentinel));
                AddNotifications(batch);
            }

            var reader = async ? await batch.ExecuteReaderAsync().ConfigureAwait(false) : batch.ExecuteReader();
            try
            {
                if (_preferIndexes)
                {
                    // The settings' own row.
                    await NextResultAsync(reader, async).ConfigureAwait(false);
                }

                for (var i = 0; i < _atCommit.Count; i++)
                {
                    if (i > 0)
                    {
                        await NextResultAsync(reader, async).ConfigureAwait(false);
                    }

                    _atCommit[i].Read(reader);
                }

                if (notifying)
                {
                    // Reaching the row after the barrier means the statements' implicit commit went through.
                    committed = await NextResultAsync(reader, async).ConfigureAwait(false);
                }

                while (await NextResultAsync(reader, async).ConfigureAwait(false))
                {
                }
            }
            finally
            {
                await DisposeAsync(reader, async).ConfigureAwait(false);
            }

            OweWakeUps(sendsWakeUpsLater);
        }
        catch (Exception ex) when (committed)
        {
            Interlocked.Increment(ref _failedWakeUps);
            Trace.TraceWarning("DurableQueue: the batch committed, but its wake-ups failed: {0}", ex.Message);
            if (PostgresErrors.IsUnreachable(ex))
            {
                DropConnection();
            }
        }
        catch (Exception ex) when (PostgresErrors.IsUnreachable(ex))
        {
            DropConnection();
            throw new StorageUnavailableException(PostgresErrorMessages.CommitOutcomeUnknown(_location, ex.Message), ex);
        }
        finally
        {
            _pending.Clear();
            _notify.Clear();
            _atCommit.Clear();
            _preferIndexes = false;
        }
    }

    private static ValueTask<bool> NextResultAsync(NpgsqlDataReader reader, bool async) =>
        async ? new ValueTask<bool>(reader.NextResultAsync()) : new ValueTask<bool>(reader.NextResult());

    private static ValueTask DisposeAsync(NpgsqlDataReader reader, bool async)
    {
        if (async)
        {
            return reader.DisposeAsync();
        }

        reader.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A statement of the COMMIT's round trip failed on the server: the server skipped the rest, the COMMIT included, and
    /// <see cref="Commit"/> rolled the transaction back. A broken connection is not that: its outcome is unknown.
    /// </summary>
    public bool CommitRefused(Exception exception) => exception is PostgresException && !PostgresErrors.IsUnreachable(exception);

    public bool IsTransientConflict(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure };

    public void Rollback()
    {
        var transaction = _transaction;
        _transaction = null;
        _batchOpen = false;
        _batchLost = false;
        _pending.Clear();
        _notify.Clear();
        _atCommit.Clear();
        _preferIndexes = false;
        if (transaction is null)
        {
            return;
        }

        try
        {
            if (_connection is { State: ConnectionState.Open })
            {
                transaction.Rollback();
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            // A transaction the app ended itself, or a broken connection: the server has nothing left to roll back.
            Trace.TraceWarning("DurableQueue: ROLLBACK failed: {0}", ex.Message);
            if (PostgresErrors.IsUnreachable(ex))
            {
                DropConnection();
            }
        }
        finally
        {
            try
            {
                transaction.Dispose();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
            {
                Trace.TraceWarning("DurableQueue: disposing a failed transaction: {0}", ex.Message);
            }
        }
    }

    /// <summary>Runs a statement that returns no rows, after the held-back transaction control; returns the rows it changed.</summary>
    public int ExecuteNonQuery(string sql, params NpgsqlParameter[] parameters)
    {
        using var batch = NewBatch();
        var command = Add(batch, sql, parameters);
        batch.ExecuteNonQuery();
        Count(command);
        return command.RecordsAffected;
    }

    /// <summary>Runs a statement and returns the first column of its first row, or null when it returns none.</summary>
    public object? ExecuteScalar(string sql, params NpgsqlParameter[] parameters)
    {
        using var batch = NewBatch();
        var command = Add(batch, sql, parameters);
        var value = batch.ExecuteScalar();
        Count(command);
        return value is DBNull ? null : value;
    }

    /// <summary>Runs a statement and returns a reader over its rows; dispose the reader before the next statement.</summary>
    public NpgsqlDataReader ExecuteReader(string sql, params NpgsqlParameter[] parameters) => ExecuteReader((sql, parameters));

    /// <summary>Runs statements in one round trip and returns a reader over their results (NextResult moves to the next one).</summary>
    public NpgsqlDataReader ExecuteReader(params (string Sql, NpgsqlParameter[] Parameters)[] statements)
    {
        var batch = NewBatch();
        foreach (var (sql, parameters) in statements)
        {
            Add(batch, sql, parameters);
        }

        try
        {
            var reader = batch.ExecuteReader();
            // Its row count is known once the caller closed the reader: taken at the next statement.
            _readerBatch = batch;
            return reader;
        }
        catch
        {
            batch.Dispose();
            throw;
        }
    }

    public Exception Map(Exception exception) => _map(exception);

    private void Count(NpgsqlBatchCommand command)
    {
        // -1 for statements that change nothing (SELECT, SAVEPOINT).
        if (command.RecordsAffected > 0)
        {
            _changes += command.RecordsAffected;
        }
    }

    private void SettleReader()
    {
        if (_readerBatch is { } batch)
        {
            _readerBatch = null;
            for (var i = 0; i < batch.BatchCommands.Count; i++)
            {
                Count(batch.BatchCommands[i]);
            }

            batch.Dispose();
        }
    }

    /// <summary>Sends the held-back transaction control now.</summary>
    public void Flush()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        using var batch = NewBatch();
        batch.ExecuteNonQuery();
    }

    /// <summary>Closes a connection that broke, so that the next batch opens a new one.</summary>
    public void DropConnection()
    {
        _batchLost = _batchOpen;
        _transaction = null;
        _batchOpen = false;
        _readerBatch?.Dispose();
        _readerBatch = null;
        _pending.Clear();
        _notify.Clear();
        _atCommit.Clear();
        _preferIndexes = false;
        var connection = _connection;
        _connection = null;
        try
        {
            connection?.Dispose();
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or ObjectDisposedException)
        {
            Trace.TraceWarning("DurableQueue: closing a broken connection failed: {0}", ex.Message);
        }
    }

    public void Dispose()
    {
        if (_borrowed is not null)
        {
            // The app's connection and transaction stay the app's.
            SettleReader();
            return;
        }

        Rollback();
        ForgetWriter();
        DropConnection();
    }

    /// <summary>
    /// Removes this writer's marker row and its waiting receivers' rows when the store closes (best effort: a week-old
    /// marker row is removed by the next writer anyway, and the waiting rows lapse).
    /// </summary>
    private void ForgetWriter()
    {
        if (_connection is not { State: ConnectionState.Open } connection)
        {
            return;
        }

        try
        {
            using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand(Sql.ForgetWriter) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = _writerId } } },
                    new NpgsqlBatchCommand(Sql.ForgetStoreWaiters) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = _writerId } } },
                },
            };
            batch.ExecuteNonQuery();
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            Trace.TraceWarning("DurableQueue: removing the writer's marker row failed: {0}", ex.Message);
        }
    }

    /// <summary>Gets the store's id (its commit marker row and its waiting receivers' rows).</summary>
    public Guid StoreId => _writerId;

    /// <summary>Gets how many committed batches had their wake-ups after the COMMIT fail (receivers of other hosts then wait for their safety poll).</summary>
    public long FailedWakeUps => Interlocked.Read(ref _failedWakeUps) + (_wakeUps?.Failed ?? 0);

    /// <summary>Gets a task that completes when the wake-ups owed by the commits so far were sent (or failed).</summary>
    public Task WakeUpsSentAsync() => _wakeUps?.SentAsync() ?? Task.CompletedTask;

    /// <summary>Gets how many statement batches (each one round trip) the session sent so far.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    private NpgsqlBatch NewBatch()
    {
        // Every batch made here is sent once.
        if (_batchLost)
        {
            // Without this, the statement would run on a new connection outside any transaction.
            throw new StorageUnavailableException(PostgresErrorMessages.Unavailable(_location, "the connection broke during the batch, which was rolled back"));
        }

        Interlocked.Increment(ref _roundTrips);
        SettleReader();
        EnsureBegun();
        var batch = new NpgsqlBatch(Connection);
        foreach (var statement in _pending)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(statement));
        }

        _pending.Clear();
        return batch;
    }

    /// <summary>
    /// Gets whether the wake-ups of this commit go after it, by the sender of wake-ups, rather than in its round trip. A
    /// caller that awaits its own commit alone (<paramref name="async"/>: a lone leader) is not held up by them: in the
    /// round trip they cost a second flush of the server's reply and a second read of it. The writer thread's batches,
    /// which carry the load, keep them in the round trip: there they cost one short statement, where the sender would
    /// cost a round trip of its own per commit.
    /// </summary>
    private bool SendsWakeUpsLater(bool async) => async && _wakeUps is not null;

    /// <summary>Hands the queues this landed commit wrote to over to the sender of wake-ups, when it sends them.</summary>
    private void OweWakeUps(bool sendsWakeUpsLater)
    {
        if (sendsWakeUpsLater && _notify.Count > 0)
        {
            _wakeUps!.Owe(_notify);
        }
    }

    private void AddNotifications(NpgsqlBatch batch)
    {
        if (_borrowed is null)
        {
            // After our own COMMIT: only the queues that receivers of another store wait on. A receiver adds its row
            // before its last look at the queue, and this statement reads the rows after our COMMIT, so either that
            // look saw our messages or this read sees the receiver's row.
            foreach (var queue in _notify)
            {
                batch.BatchCommands.Add(PostgresWakeUps.NotifyIfWaiting(Sql, queue, _writerId));
            }

            return;
        }

        // Inside the app's transaction, which commits later: a receiver could add its row and look between this
        // statement and that commit, so every queue is notified.
        foreach (var queue in _notify)
        {
            var command = new NpgsqlBatchCommand(Sql.Notify);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Sql.Channel, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = queue, NpgsqlDbType = NpgsqlDbType.Text });
            batch.BatchCommands.Add(command);
        }
    }

    private static NpgsqlBatchCommand Add(NpgsqlBatch batch, string sql, NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter);
        }

        batch.BatchCommands.Add(command);
        return command;
    }

    /// <summary>
    /// Reads this writer's commit marker on a new connection after a COMMIT reply was lost. The read locks the marker's
    /// row, so it waits for a commit the server is still finishing; the marker then tells whether the batch landed.
    /// </summary>
    private bool CommitLanded(long marker, Exception cause)
    {
        try
        {
            using var connection = _dataSource.OpenConnection();
            using var command = new NpgsqlCommand(Sql.ReadMarker, connection);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _writerId });
            return command.ExecuteScalar() is long found && found == marker;
        }
        catch (Exception ex) when (PostgresErrors.IsUnreachable(ex))
        {
            throw new StorageUnavailableException(PostgresErrorMessages.CommitOutcomeUnknown(_location, cause.Message), cause);
        }
    }

    // Savepoint names are the library's own constants; their statements are built once each and compared by reference.
    private string SavepointSql(string name, int verb)
    {
        if (!_savepoints.TryGetValue(name, out var sql))
        {
            sql = [$"SAVEPOINT {name};", $"RELEASE SAVEPOINT {name};", $"ROLLBACK TO SAVEPOINT {name};"];
            _savepoints.Add(name, sql);
        }

        return sql[verb];
    }
}
