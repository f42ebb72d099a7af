using System.Data.Common;
using System.Diagnostics;
using DurableQueue.Storage.Driver;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage.Sqlite;

/// <summary>
/// The SQLite writer's connection and the control of its batch transaction: BEGIN IMMEDIATE with the busy wait,
/// savepoints, the commit marker that lets an unclear COMMIT be re-read, and prepared statements reused by every batch.
/// </summary>
internal sealed class SqliteWriteSession : IWriteSession
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _savepoints = new(StringComparer.Ordinal);
    private readonly string _path;
    private readonly TimeSpan _busyTimeout;
    private long _commitMarker = Random.Shared.NextInt64(1, long.MaxValue / 2);
    private readonly Dictionary<string, SQLitePCL.sqlite3_stmt> _statements = new(StringComparer.Ordinal);
    private SQLitePCL.sqlite3_stmt? _tryBegin;
    private SQLitePCL.sqlite3_stmt? _dataVersion;
    private long _lastDataVersion = -1;
    private long _changesAtBegin;
    private long _lastCommitAt = long.MinValue;

    private readonly TimeProvider? _clock;

    // clock: its reading is stored with each commit marker (the last commit time of the recovery report).
    public SqliteWriteSession(SqliteConnection connection, string path, TimeSpan busyTimeout, IMessageCommands commands, TimeProvider? clock = null)
    {
        _clock = clock;
        SqliteConnection = connection;
        _path = path;
        _busyTimeout = busyTimeout;
        // A unit of work's callback must not end the batch transaction: a COMMIT it runs would commit other callers'
        // requests (and its own) before the writer knows the outcome. The hook turns such a COMMIT into a rollback.
        SQLitePCL.raw.sqlite3_commit_hook(connection.Handle, static state => ((SqliteWriteSession)state).OnCommitting(), this);
        Commands = commands;
    }

    public SqliteConnection SqliteConnection { get; }

    public DbConnection Connection => SqliteConnection;

    public IMessageCommands Commands { get; }

    public bool InCallerCode { get; set; }

    /// <summary>
    /// Gets or sets what runs as SQLite starts to commit a batch, before it writes the commit's WAL frames (the model
    /// test takes the database file there to build the image of a crash in the middle of a write).
    /// </summary>
    internal Action? Committing { get; set; }

    private int OnCommitting()
    {
        Committing?.Invoke();
        return InCallerCode ? 1 : 0;
    }

    public bool TransactionActive => SQLitePCL.raw.sqlite3_get_autocommit(SqliteConnection.Handle) == 0;

    public long ChangeCount => SQLitePCL.raw.sqlite3_total_changes(SqliteConnection.Handle);

    /// <summary>Returns a prepared command for the statement; it is prepared once and reused by every batch.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = SqliteConnection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

        return command;
    }

    public void Begin(long deadline)
    {
        SqliteWriteLock.Begin(SqliteConnection, deadline, _busyTimeout);
        _changesAtBegin = ChangeCount;
    }

    /// <summary>
    /// Returns a statement prepared once on the writer connection, for the hottest statements of single requests:
    /// binding through SQLitePCL directly costs a fraction of Microsoft.Data.Sqlite's per-execution reader and
    /// parameter machinery. Use it with <see cref="RawStatement"/>'s helpers; it is reset after every use.
    /// </summary>
    public SQLitePCL.sqlite3_stmt Statement(string sql)
    {
        if (!_statements.TryGetValue(sql, out var statement))
        {
            statement = Prepare(sql);
            _statements.Add(sql, statement);
        }

        return statement;
    }

    public bool TryBegin()
    {
        // One attempt without SQLite's busy handler, on a statement of our own: Microsoft.Data.Sqlite's commands retry
        // a busy statement by themselves for up to CommandTimeout, which is exactly the wait a leading caller must not do.
        var db = SqliteConnection.Handle;
        _tryBegin ??= Prepare(Sql.Begin);
        SQLitePCL.raw.sqlite3_busy_timeout(db, 0);
        int rc;
        try
        {
            rc = SQLitePCL.raw.sqlite3_step(_tryBegin);
            SQLitePCL.raw.sqlite3_reset(_tryBegin);
        }
        finally
        {
            SQLitePCL.raw.sqlite3_busy_timeout(db, BusyTimeoutMs);
        }

        if (rc == SQLitePCL.raw.SQLITE_DONE)
        {
            _changesAtBegin = ChangeCount;
            return true;
        }

        if ((rc & 0xFF) is SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED)
        {
            return false;
        }

        SqliteException.ThrowExceptionForRC(rc, db);
        return false;
    }

    public bool ForeignCommitsSinceLastCheck()
    {
        // A statement of our own: this runs in most batches, and Microsoft.Data.Sqlite's reader costs more than the pragma.
        var db = SqliteConnection.Handle;
        _dataVersion ??= Prepare(Sql.DataVersion);
        var rc = SQLitePCL.raw.sqlite3_step(_dataVersion);
        if (rc != SQLitePCL.raw.SQLITE_ROW)
        {
            SQLitePCL.raw.sqlite3_reset(_dataVersion);
            SqliteException.ThrowExceptionForRC(rc, db);
        }

        var version = SQLitePCL.raw.sqlite3_column_int64(_dataVersion, 0);
        SQLitePCL.raw.sqlite3_reset(_dataVersion);
        var changed = version != _lastDataVersion;
        _lastDataVersion = version;
        return changed;
    }

    public void Savepoint(string name) => ExecRaw(SavepointSql(name, 0));

    public void ReleaseSavepoint(string name) => ExecRaw(SavepointSql(name, 1));

    public void RollbackToSavepoint(string name)
    {
        ExecRaw(SavepointSql(name, 2));
        ExecRaw(SavepointSql(name, 1));
    }

    public void Commit(bool mark)
    {
        long marker = 0;
        var now = (_clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds();
        if (mark)
        {
            marker = ++_commitMarker;
            // One statement writes the marker and the commit time (recovery report): no extra statement per commit.
            Command(Sql.WriteCommitMarkerAndTime).Bind("@marker", marker).Bind("@now", now).ExecuteNonQuery();
            _lastCommitAt = now;
        }
        else if (now != _lastCommitAt && ChangeCount != _changesAtBegin)
        {
            // The recovery report's last commit time, written only when it moved: a commit within the same millisecond
            // as this session's previous one leaves the value as it is (the dq_meta page stays out of the WAL), and the
            // last commit before a crash is still recorded exactly.
            Command(Sql.WriteLastCommitAt).Bind("@now", now).ExecuteNonQuery();
            _lastCommitAt = now;
        }

        try
        {
            ExecRaw(Sql.Commit);
        }
        catch (Exception ex) when (marker != 0 && CommitLanded(marker))
        {
            // The commit reported an error but its marker is in the database: it landed.
            Trace.TraceWarning("DurableQueue: COMMIT reported {0} but the batch is in the database.", ex.Message);
        }
        catch
        {
            _lastCommitAt = long.MinValue;
            throw;
        }
    }

    public void Rollback()
    {
        if (!TransactionActive)
        {
            return;
        }

        try
        {
            Exec(Sql.Rollback);
        }
        catch (SqliteException ex)
        {
            Trace.TraceWarning("DurableQueue: ROLLBACK failed: {0}", ex.Message);
        }
    }

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

            var value = Command(Sql.ReadCommitMarker).ExecuteScalar();
            return value is long found && found == marker;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    public Exception Map(Exception exception) => SqliteErrors.Map(exception, _path, _busyTimeout);

    private void Exec(string sql) => Command(sql).ExecuteNonQuery();

    /// <summary>Runs a statement without parameters or rows (transaction control) on a statement prepared once.</summary>
    private void ExecRaw(string sql)
    {
        var statement = Statement(sql);
        try
        {
            RawStatement.Step(statement);
        }
        finally
        {
            RawStatement.Reset(statement);
        }
    }

    private int BusyTimeoutMs => (int)Math.Min(int.MaxValue, _busyTimeout.TotalMilliseconds);

    private SQLitePCL.sqlite3_stmt Prepare(string sql)
    {
        var rc = SQLitePCL.raw.sqlite3_prepare_v2(SqliteConnection.Handle, sql, out var statement);
        SqliteException.ThrowExceptionForRC(rc, SqliteConnection.Handle);
        return statement;
    }

    // Savepoint names are the library's own constants (SavepointNames); their statements are built once each.
    private string SavepointSql(string name, int verb)
    {
        if (!_savepoints.TryGetValue(name, out var sql))
        {
            sql = [$"SAVEPOINT {name};", $"RELEASE {name};", $"ROLLBACK TO {name};"];
            _savepoints.Add(name, sql);
        }

        return sql[verb];
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        foreach (var statement in _statements.Values)
        {
            statement.Dispose();
        }

        _statements.Clear();
        _tryBegin?.Dispose();
        _tryBegin = null;
        _dataVersion?.Dispose();
        _dataVersion = null;
    }
}
