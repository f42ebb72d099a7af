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
        var handle = SqliteConnection.Handle!;
        var started = Stopwatch.GetTimestamp();
        var attempt = 0;
        try
        {
            while (true)
            {
                // SQLite's busy handler waits inside the attempt, never past the deadline. The statement runs on the raw
                // handle: the provider's own retry loop (at least a second, in steps of 150 ms) would wait past it.
                var attemptStarted = Stopwatch.GetTimestamp();
                var waitMs = Math.Max(0, Stopwatch.GetElapsedTime(attemptStarted, deadline).TotalMilliseconds);
                SQLitePCL.raw.sqlite3_busy_timeout(handle, (int)Math.Min(int.MaxValue, Math.Ceiling(waitMs)));
                var rc = SQLitePCL.raw.sqlite3_exec(handle, Sql.Begin);
                if (rc == SQLitePCL.raw.SQLITE_OK)
                {
                    return;
                }

                if ((rc & 0xFF) is not (SqliteErrors.Busy or SqliteErrors.Locked))
                {
                    SqliteException.ThrowExceptionForRC(rc, handle);
                }

                var now = Stopwatch.GetTimestamp();
                if (now >= deadline)
                {
                    var busy = new SqliteException(SQLitePCL.raw.sqlite3_errmsg(handle).utf8_to_string(), rc & 0xFF, rc);
                    throw new StorageBusyException(ErrorMessages.Busy(Stopwatch.GetElapsedTime(started, now)), busy);
                }

                if (Stopwatch.GetElapsedTime(attemptStarted, now).TotalMilliseconds < waitMs)
                {
                    // SQLite answered busy without calling its busy handler (another connection is recovering the WAL):
                    // back off briefly, never past the deadline.
                    var pause = Math.Min(Random.Shared.Next(1, 1 + Math.Min(100, 5 << Math.Min(attempt++, 5))), Stopwatch.GetElapsedTime(now, deadline).TotalMilliseconds);
                    Thread.Sleep(TimeSpan.FromMilliseconds(Math.Max(0, pause)));
                }
            }
        }
        finally
        {
            SQLitePCL.raw.sqlite3_busy_timeout(handle, (int)Math.Min(int.MaxValue, _busyTimeout.TotalMilliseconds));
        }
    }

    public void Savepoint(string name) => Exec(SavepointSql(name, 0));

    public void ReleaseSavepoint(string name) => Exec(SavepointSql(name, 1));

    public void RollbackToSavepoint(string name)
    {
        Exec(SavepointSql(name, 2));
        Exec(SavepointSql(name, 1));
    }

    public void Commit(bool mark)
    {
        long marker = 0;
        if (mark)
        {
            marker = ++_commitMarker;
            // One statement writes the marker and the commit time (recovery report): no extra statement per commit.
            Command(Sql.WriteCommitMarkerAndTime).Bind("@marker", marker)
                .Bind("@now", (_clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds()).ExecuteNonQuery();
        }

        try
        {
            Exec(Sql.Commit);
        }
        catch (Exception ex) when (marker != 0 && CommitLanded(marker))
        {
            // The commit reported an error but its marker is in the database: it landed.
            Trace.TraceWarning("DurableQueue: COMMIT reported {0} but the batch is in the database.", ex.Message);
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
    }
}
