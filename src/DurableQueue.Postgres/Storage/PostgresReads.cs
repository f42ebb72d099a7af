using System.Data;
using System.Text.Json;
using DurableQueue.BackPressure;
using DurableQueue.Storage;
using DurableQueue.Storage.Driver;
using Npgsql;
using static DurableQueue.Postgres.Storage.PostgresCommands;

namespace DurableQueue.Postgres.Storage;

/// <summary>The queue's reads on PostgreSQL, each on a pooled connection of its own (no transaction, one snapshot per statement).</summary>
internal sealed class PostgresReads : IStoreReader
{
    private readonly PostgresSql _sql;
    private readonly NpgsqlConnection _connection;
    private readonly string _location;
    private readonly Func<long, long> _removedTotal;
    private readonly Action? _expiredFinalLeaseSeen;

    /// <param name="sql">The schema's statements.</param>
    /// <param name="connection">An open connection, used by one thread.</param>
    /// <param name="location">The store's location.</param>
    /// <param name="removedTotal">The messages that left a queue (by id) through this store: the drain-rate samples.</param>
    /// <param name="expiredFinalLeaseSeen">Called when a read finds an expired last-attempt lease (the writer's next batch sweeps).</param>
    public PostgresReads(PostgresSql sql, NpgsqlConnection connection, string location, Func<long, long> removedTotal, Action? expiredFinalLeaseSeen = null)
    {
        _expiredFinalLeaseSeen = expiredFinalLeaseSeen;
        _sql = sql;
        _connection = connection;
        _location = location;
        _removedTotal = removedTotal;
    }

    public QueueCounts Counts(string queueName, long now)
    {
        using var reader = Reader(_sql.Counts, Text(queueName), Int64(now));
        if (!reader.Read())
        {
            return default;
        }

        return new QueueCounts(
            reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(4),
            reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));
    }

    public List<MessageInfo> Peek(string queueName, long now, int limit)
    {
        var messages = ReadMessages(Reader(_sql.PeekReady, Text(queueName), Int64(now), Int32(limit)), now);
        if (messages.Count < limit)
        {
            messages.AddRange(ReadMessages(Reader(_sql.PeekLater, Text(queueName), Int64(now), Int32(limit - messages.Count)), now));
        }

        return messages;
    }

    public MessageInfo? Get(string queueName, long id, long now) =>
        ReadMessages(Reader(_sql.GetMessage, Text(queueName), Int64(id)), now) is [var message] ? message : null;

    public List<MessageInfo> MessagesAfter(string queueName, long after, int limit, long now) =>
        ReadMessages(Reader(_sql.MessagesAfter, Text(queueName), Int64(after), Int32(limit)), now);

    public List<DeadLetter> DeadLetters(string queueName, long after, int limit) =>
        ReadDeadLetters(Reader(_sql.DeadLetters, Text(queueName), Int64(after), Int32(limit)), queueName);

    public DeadLetter? GetDeadLetter(string queueName, long id) =>
        ReadDeadLetters(Reader(_sql.GetDeadLetter, Text(queueName), Int64(id)), queueName) is [var letter] ? letter : null;

    public List<string> QueueNames()
    {
        using var reader = Reader(_sql.QueueNames);
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    public bool AnyExpiredFinalLease(long now)
    {
        var any = (bool)Scalar(_sql.AnyExpiredFinalLease, Int64(now))!;
        if (any)
        {
            _expiredFinalLeaseSeen?.Invoke();
        }

        return any;
    }

    public bool QueueExists(string queueName) => (bool)Scalar(_sql.QueueExists, Text(queueName))!;

    /// <summary>Returns the counts of a queue (zeros when it does not exist) and the messages that left it through this store.</summary>
    public QueueStatsRow QueueStatsByName(string queueName)
    {
        using var reader = Reader(_sql.QueueStatsByName, Text(queueName));
        return reader.Read()
            ? new QueueStatsRow(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), _removedTotal(reader.GetInt64(0)))
            : default;
    }

    /// <summary>
    /// Reads the store's statistics in one snapshot. The file-shaped fields say what they can on a server: the size is
    /// the schema's tables and indexes, pages are 8 KiB server pages, and there is no WAL of the store's own.
    /// </summary>
    public StoreStatistics Statistics(long now) => InSnapshot(() =>
    {
        var queues = QueueNames().ConvertAll(name =>
        {
            var counts = Counts(name, now);
            TimeSpan? age = counts.OldestReadyEnqueuedAt is { } oldest
                ? TimeSpan.FromMilliseconds(Math.Max(0, now - oldest.ToUnixTimeMilliseconds()))
                : null;
            return new QueueStatistics(name, counts, age);
        });
        const long pageSize = 8192;
        var bytes = SchemaBytes();
        return new StoreStatistics(
            _location, DateTimeOffset.FromUnixTimeMilliseconds(now), SchemaVersion(), bytes, 0, pageSize, bytes / pageSize, 0, "postgresql",
            false, LastMessageId(), queues);
    });

    /// <summary>Checks the queue's invariants and that the per-queue counts add up, in one snapshot.</summary>
    public StoreVerification Verify(long now) => InSnapshot(() =>
    {
        var problems = Verify(out var checks);
        checks.Add("counts-consistent");
        long live = 0, dead = 0;
        foreach (var name in QueueNames())
        {
            var counts = Counts(name, now);
            live += counts.Total;
            dead += counts.DeadLettered;
        }

        var liveRows = MessageTotal();
        var deadRows = DeadLetterTotal();
        if (live != liveRows || dead != deadRows)
        {
            problems.Add(new VerificationProblem(
                "counts-consistent",
                Math.Abs(liveRows - live) + Math.Abs(deadRows - dead),
                $"the per-queue counts ({live} live, {dead} dead-lettered) do not add up to the rows ({liveRows} live, {deadRows} dead-lettered)"));
        }

        return new StoreVerification([], problems, checks);
    });

    private T InSnapshot<T>(Func<T> read)
    {
        using var transaction = _connection.BeginTransaction(IsolationLevel.RepeatableRead);
        var result = read();
        transaction.Commit();
        return result;
    }

    public long SchemaVersion() => PostgresSchema.ReadVersion(_connection, _sql);

    public long LastMessageId() => Scalar(_sql.LastMessageId) as long? ?? 0;

    public long MessageTotal() => (long)Scalar(_sql.MessageTotal)!;

    public long DeadLetterTotal() => (long)Scalar(_sql.DeadLetterTotal)!;

    public long SchemaBytes() => (long)Scalar(_sql.SchemaBytes, Text(_sql.Schema))!;

    /// <summary>Checks the queue's invariants; returns the ones that fail with the number of rows that break them.</summary>
    public List<VerificationProblem> Verify(out List<string> checks)
    {
        checks = [];
        var problems = new List<VerificationProblem>();
        foreach (var (check, sql, description) in _sql.Invariants)
        {
            checks.Add(check);
            var count = Convert.ToInt64(Scalar(sql), System.Globalization.CultureInfo.InvariantCulture);
            if (count != 0)
            {
                problems.Add(new VerificationProblem(check, count, description));
            }
        }

        checks.Add("bad-headers");
        long badHeaders = 0;
        using (var reader = Reader(_sql.HeadersToCheck))
        {
            while (reader.Read())
            {
                if (!IsJson(reader.GetString(0)))
                {
                    badHeaders++;
                }
            }
        }

        if (badHeaders != 0)
        {
            problems.Add(new VerificationProblem("bad-headers", badHeaders, "rows have headers that are not valid JSON"));
        }

        return problems;
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private NpgsqlDataReader Reader(string sql, params NpgsqlParameter[] parameters)
    {
        using var command = new NpgsqlCommand(sql, _connection);
        command.Parameters.AddRange(parameters);
        return command.ExecuteReader();
    }

    private object? Scalar(string sql, params NpgsqlParameter[] parameters)
    {
        using var command = new NpgsqlCommand(sql, _connection);
        command.Parameters.AddRange(parameters);
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    private static List<MessageInfo> ReadMessages(NpgsqlDataReader reader, long now)
    {
        using (reader)
        {
            // id, priority, visible_at, enqueued_at, attempts, max_attempts, has token, dedup_key, headers, body, last_error
            var messages = new List<MessageInfo>();
            while (reader.Read())
            {
                var visibleAt = reader.GetInt64(2);
                var state = visibleAt <= now ? MessageState.Ready : reader.GetBoolean(6) ? MessageState.Leased : MessageState.Delayed;
                messages.Add(new MessageInfo(
                    new MessageId(reader.GetInt64(0)),
                    state,
                    reader.GetFieldValue<byte[]>(9),
                    HeaderCodec.Decode(reader.IsDBNull(8) ? null : reader.GetString(8)),
                    reader.GetInt16(1),
                    reader.GetInt32(4),
                    reader.GetInt32(5),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                    DateTimeOffset.FromUnixTimeMilliseconds(visibleAt),
                    reader.IsDBNull(10) ? null : reader.GetString(10),
                    reader.IsDBNull(7) ? null : reader.GetString(7)));
            }

            return messages;
        }
    }

    private static List<DeadLetter> ReadDeadLetters(NpgsqlDataReader reader, string queueName)
    {
        using (reader)
        {
            // id, priority, enqueued_at, attempts, max_attempts, headers, body, last_error, reason, dead_lettered_at
            var letters = new List<DeadLetter>();
            while (reader.Read())
            {
                letters.Add(new DeadLetter(
                    new MessageId(reader.GetInt64(0)),
                    queueName,
                    reader.GetFieldValue<byte[]>(6),
                    HeaderCodec.Decode(reader.IsDBNull(5) ? null : reader.GetString(5)),
                    reader.GetInt16(1),
                    reader.GetInt32(3),
                    reader.GetInt32(4),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)),
                    reader.GetString(8),
                    reader.IsDBNull(7) ? null : reader.GetString(7)));
            }

            return letters;
        }
    }
}
