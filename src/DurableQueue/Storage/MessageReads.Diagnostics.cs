using Dapper;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>Reads of the diagnostics API. Statistics and verification each run in one read transaction (one snapshot).</summary>
internal static partial class MessageReads
{
    public static bool QueueExists(SqliteConnection connection, string queueName) =>
        connection.ExecuteScalar<long>(Sql.QueueExists, new { name = queueName }) != 0;

    public static List<MessageInfo> MessagesAfter(SqliteConnection connection, string queueName, long after, int limit, long now) =>
        connection.Query<MessageRow>(Sql.MessagesAfter, new { name = queueName, after, limit }).Select(r => r.ToInfo(now)).AsList();

    public static QueueOptions? QueueSettings(SqliteConnection connection, string queueName)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Sql.ReadQueueSettings;
        command.Parameters.AddWithValue("@name", queueName);
        using var reader = command.ExecuteReader();
        return reader.Read() ? QueueSettingsCodec.Read(reader, 0) : null;
    }

    private static Dictionary<string, QueueOptions> AllQueueSettings(SqliteConnection connection)
    {
        var all = new Dictionary<string, QueueOptions>(StringComparer.Ordinal);
        using var command = connection.CreateCommand();
        command.CommandText = Sql.ReadAllQueueSettings;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            all[reader.GetString(0)] = QueueSettingsCodec.Read(reader, 1);
        }

        return all;
    }

    public static StoreStatistics Statistics(SqliteConnection connection, string path, long now) => InSnapshot(connection, () =>
    {
        var version = connection.ExecuteScalar<long>(Sql.ReadSchemaVersion);
        // An inspection does not migrate: a file older than schema version 3 has no stored settings.
        var settings = version >= 3 ? AllQueueSettings(connection) : [];
        var queues = QueueNames(connection).ConvertAll(name =>
        {
            var counts = Counts(connection, name, now);
            TimeSpan? age = counts.OldestReadyEnqueuedAt is { } oldest
                ? TimeSpan.FromMilliseconds(Math.Max(0, now - oldest.ToUnixTimeMilliseconds()))
                : null;
            return new QueueStatistics(name, counts, age, settings.GetValueOrDefault(name));
        });
        return new StoreStatistics(
            path,
            DateTimeOffset.FromUnixTimeMilliseconds(now),
            version,
            FileLength(path),
            FileLength(path + "-wal"),
            connection.ExecuteScalar<long>(Sql.PageSize),
            connection.ExecuteScalar<long>(Sql.PageCount),
            connection.ExecuteScalar<long>(Sql.FreelistCount),
            connection.ExecuteScalar<string>(Sql.JournalMode) ?? "unknown",
            connection.ExecuteScalar<long>(Sql.AutoVacuum) == 2,
            connection.ExecuteScalar<long>(Sql.LastMessageId),
            queues);
    });

    public static StoreVerification Verify(SqliteConnection connection, long now) => InSnapshot(connection, () =>
    {
        var integrity = connection.Query<string>(Sql.IntegrityCheck).AsList();
        if (integrity is ["ok"])
        {
            integrity.Clear();
        }

        var problems = new List<VerificationProblem>();
        var checks = new List<string>();
        foreach (var (check, sql, description) in Sql.Invariants)
        {
            checks.Add(check);
            var count = connection.ExecuteScalar<long>(sql);
            if (count != 0)
            {
                problems.Add(new VerificationProblem(check, count, description));
            }
        }

        // The per-queue counts must add up to the rows of the tables (they do not when rows belong to no queue
        // or a queue name is duplicated).
        checks.Add("counts-consistent");
        long live = 0, dead = 0;
        foreach (var name in QueueNames(connection))
        {
            var counts = Counts(connection, name, now);
            live += counts.Total;
            dead += counts.DeadLettered;
        }

        var liveRows = connection.ExecuteScalar<long>(Sql.MessageTotal);
        var deadRows = connection.ExecuteScalar<long>(Sql.DeadLetterTotal);
        if (live != liveRows || dead != deadRows)
        {
            problems.Add(new VerificationProblem(
                "counts-consistent",
                Math.Abs(liveRows - live) + Math.Abs(deadRows - dead),
                $"the per-queue counts ({live} live, {dead} dead-lettered) do not add up to the rows ({liveRows} live, {deadRows} dead-lettered)"));
        }

        return new StoreVerification(integrity, problems, checks);
    });

    private static long FileLength(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : 0;
    }

    private static T InSnapshot<T>(SqliteConnection connection, Func<T> read)
    {
        ConnectionFactory.Execute(connection, "BEGIN DEFERRED;");
        try
        {
            return read();
        }
        finally
        {
            ConnectionFactory.Execute(connection, "COMMIT;");
        }
    }
}
