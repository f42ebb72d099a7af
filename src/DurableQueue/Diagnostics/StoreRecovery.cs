using DurableQueue.Storage;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Diagnostics;

/// <summary>
/// The open-time step of the recovery report: in one write transaction on the writer connection, before the writer
/// starts, it finds the sessions whose process ended without closing the store, counts (and with the option releases)
/// the leases they left, counts what came due while the file was closed, removes the ended sessions' rows and records
/// this store's own session.
/// </summary>
internal static class StoreRecovery
{
    /// <summary>Reads the size of the WAL before SQLite opens the file (opening may replay it).</summary>
    public static long WalBytesBeforeOpen(string path)
    {
        try
        {
            var wal = new FileInfo(path + "-wal");
            return wal.Exists ? wal.Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public static RecoveryReport Run(SqliteConnection connection, StoreSession self, long walBytes, bool newFile, TimeProvider clock)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();

        long? lastCommit = connection.ExecuteScalar(transaction, Sql.ReadLastCommitAt) is long l && l > 0 ? l : null;
        var ended = new List<StoreSession>();
        var others = 0;
        foreach (var session in ReadSessions(connection, transaction))
        {
            if (session.Liveness() == SessionLiveness.Ended)
            {
                ended.Add(session);
            }
            else
            {
                others++;
            }
        }

        int leasesLeft = 0, leasesExpired = 0;
        long? returnBy = null;
        foreach (var session in ended)
        {
            using (var command = connection.Prepare(transaction, Sql.SessionLeases, ("@now", now), ("@prefix", session.TokenPrefix)))
            using (var reader = command.ExecuteReader())
            {
                reader.Read();
                var total = reader.GetInt64(0);
                var held = reader.GetInt64(1);
                leasesLeft += (int)held;
                leasesExpired += (int)(total - held);
                if (!reader.IsDBNull(2))
                {
                    returnBy = Math.Max(returnBy ?? 0, reader.GetInt64(2));
                }
            }

            if (self.ReleasesEndedLeases)
            {
                connection.Execute(transaction, Sql.ReleaseSessionLeases, ("@now", now), ("@prefix", session.TokenPrefix));
            }

            connection.Execute(transaction, Sql.DeleteSession, ("@key", session.Key));
        }

        var deadLettered = (long)connection.ExecuteScalar(transaction, Sql.CountExpiredFinalLeases, ("@now", now))!;
        var cameDue = lastCommit is { } since && since < now
            ? (long)connection.ExecuteScalar(transaction, Sql.DelayedCameDue, ("@since", since), ("@now", now))!
            : 0;

        connection.Execute(transaction, Sql.EnsureLastCommitAt, ("@now", now));
        connection.Execute(transaction, Sql.InsertSession, ("@key", self.Key), ("@value", self.ToJson()));
        transaction.Commit();

        return new RecoveryReport
        {
            IsNewFile = newFile,
            OpenedAt = DateTimeOffset.FromUnixTimeMilliseconds(now),
            EndedSessions = ended.Count,
            EndedProcessIds = ended.Select(s => s.ProcessId).Distinct().ToArray(),
            OtherOpenSessions = others,
            LastCommitAt = newFile || lastCommit is null ? null : DateTimeOffset.FromUnixTimeMilliseconds(lastCommit.Value),
            LeasesLeft = leasesLeft,
            LeasesExpired = leasesExpired,
            LeasesReturnBy = leasesLeft > 0 && returnBy is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null,
            LeasesReleased = self.ReleasesEndedLeases && leasesLeft > 0,
            LastAttemptsDeadLettered = (int)deadLettered,
            DelayedMessagesCameDue = (int)cameDue,
            // With no other session open, SQLite rebuilds its WAL index from a WAL that a process left behind: its
            // commits become part of the file again. A store that closes cleanly leaves no WAL.
            WalReplayed = walBytes > 0 && others == 0 && ended.Count > 0,
            WalBytesFound = walBytes,
        };
    }

    /// <summary>Removes this store's session row as it closes cleanly, and records the time as the last commit.</summary>
    public static void Close(SqliteConnection connection, StoreSession session, TimeProvider clock)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        connection.Execute(transaction, Sql.DeleteSession, ("@key", session.Key));
        connection.Execute(transaction, Sql.WriteLastCommitAt, ("@now", clock.GetUtcNow().ToUnixTimeMilliseconds()));
        transaction.Commit();
    }

    public static List<StoreSession> ReadSessions(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        var sessions = new List<StoreSession>();
        using var command = connection.Prepare(transaction, Sql.Sessions);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (StoreSession.Parse(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetValue(1) as string) is { } session)
            {
                sessions.Add(session);
            }
        }

        return sessions;
    }

    private static SqliteCommand Prepare(this SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    private static object? ExecuteScalar(this SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.Prepare(transaction, sql, parameters);
        return command.ExecuteScalar();
    }

    private static int Execute(this SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.Prepare(transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }
}
