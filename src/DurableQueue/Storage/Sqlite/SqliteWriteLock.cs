using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage.Sqlite;

/// <summary>
/// Takes the file's write lock (BEGIN IMMEDIATE) within a deadline. SQLite's busy handler waits inside each attempt,
/// never past the deadline; the statement runs on the raw handle because the provider's own retry loop (at least a
/// second, in steps of 150 ms) would wait past it. One deadline bounds both.
/// </summary>
internal static class SqliteWriteLock
{
    /// <summary>Begins a write transaction, waiting for another connection's lock at most until <paramref name="deadline"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    /// <exception cref="StorageBusyException">The lock was still held at the deadline; nothing was begun.</exception>
    public static void Begin(SqliteConnection connection, long deadline, TimeSpan busyTimeout)
    {
        var handle = connection.Handle!;
        var started = Stopwatch.GetTimestamp();
        var attempt = 0;
        try
        {
            while (true)
            {
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
            SQLitePCL.raw.sqlite3_busy_timeout(handle, (int)Math.Min(int.MaxValue, busyTimeout.TotalMilliseconds));
        }
    }

    /// <summary>
    /// Waits until the write lock can be taken, within <see cref="QueueStoreOptions.BusyTimeout"/> from
    /// <paramref name="started"/>, reporting a wait of a second through <see cref="QueueStoreOptions.OnWaitingForWriteLock"/>,
    /// and lets it go again (the open then writes in a transaction of its own, which finds the lock free).
    /// </summary>
    public static void WaitUntilFree(SqliteConnection connection, string path, QueueStoreOptions options, long started)
    {
        var deadline = started + Ticks(options.BusyTimeout);
        var noticeAt = started + Ticks(NoticeAfter);
        if (noticeAt < deadline)
        {
            try
            {
                Begin(connection, noticeAt, options.BusyTimeout);
                Rollback(connection);
                WaitNoLongerThan(connection, deadline);
                return;
            }
            catch (StorageBusyException)
            {
                Report(options, path, Stopwatch.GetElapsedTime(started));
            }
        }

        try
        {
            Begin(connection, deadline, options.BusyTimeout);
        }
        catch (StorageBusyException ex)
        {
            // The whole wait, from the call, not the last attempt's.
            throw new StorageBusyException(ErrorMessages.Busy(Stopwatch.GetElapsedTime(started)), ex.InnerException);
        }

        Rollback(connection);
        WaitNoLongerThan(connection, deadline);
    }

    /// <summary>
    /// The open's own write transaction comes next: should another writer take the lock in between, it waits only for
    /// what is left of the deadline (the writer's first batch sets the full busy timeout again).
    /// </summary>
    private static void WaitNoLongerThan(SqliteConnection connection, long deadline)
    {
        var leftMs = Math.Max(1, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline).TotalMilliseconds);
        SQLitePCL.raw.sqlite3_busy_timeout(connection.Handle!, (int)Math.Min(int.MaxValue, Math.Ceiling(leftMs)));
    }

    /// <summary>How long a write waits for the lock before it is reported.</summary>
    public static readonly TimeSpan NoticeAfter = TimeSpan.FromSeconds(1);

    /// <summary>Runs the store's callback for a long wait on a thread-pool thread: the waiting thread goes on waiting.</summary>
    public static void Report(QueueStoreOptions options, string path, TimeSpan waited)
    {
        if (options.OnWaitingForWriteLock is { } callback)
        {
            var wait = new WriteLockWait(path, waited, options.BusyTimeout);
            ThreadPool.QueueUserWorkItem(static s => s.callback(s.wait), (callback, wait), preferLocal: false);
        }
    }

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static void Rollback(SqliteConnection connection) => SQLitePCL.raw.sqlite3_exec(connection.Handle!, Sql.Rollback);
}
