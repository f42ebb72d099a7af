using Dapper;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// Read-only queries, run on reader connections beside the writer (WAL lets them see the last commit without
/// waiting). Each read is one short transaction, so readers never pin the WAL.
/// </summary>
internal static partial class MessageReads
{
    public static QueueCounts Counts(SqliteConnection connection, string queueName, long now)
    {
        var row = connection.QuerySingleOrDefault<CountsRow>(Sql.Counts, new { name = queueName, now });
        return row is null
            ? default
            : new QueueCounts(row.Ready, row.Delayed, row.Leased, row.DeadLettered,
                row.OldestReady is { } oldest ? DateTimeOffset.FromUnixTimeMilliseconds(oldest) : null);
    }

    public static List<MessageInfo> Peek(SqliteConnection connection, string queueName, long now, int limit)
    {
        var rows = connection.Query<MessageRow>(Sql.PeekReady, new { name = queueName, now, limit }).AsList();
        if (rows.Count < limit)
        {
            rows.AddRange(connection.Query<MessageRow>(Sql.PeekLater, new { name = queueName, now, limit = limit - rows.Count }));
        }

        return rows.ConvertAll(r => r.ToInfo(now));
    }

    public static MessageInfo? Get(SqliteConnection connection, string queueName, long id, long now) =>
        connection.QuerySingleOrDefault<MessageRow>(Sql.GetMessage, new { name = queueName, id })?.ToInfo(now);

    public static List<DeadLetter> DeadLetters(SqliteConnection connection, string queueName, long after, int limit) =>
        connection.Query<DeadLetterRow>(Sql.DeadLetters, new { name = queueName, after, limit }).Select(r => r.ToDeadLetter(queueName)).AsList();

    public static DeadLetter? GetDeadLetter(SqliteConnection connection, string queueName, long id) =>
        connection.QuerySingleOrDefault<DeadLetterRow>(Sql.GetDeadLetter, new { name = queueName, id })?.ToDeadLetter(queueName);

    public static List<string> QueueNames(SqliteConnection connection) => connection.Query<string>(Sql.QueueNames).AsList();

    public static bool AnyExpiredFinalLease(SqliteConnection connection, long now) =>
        connection.ExecuteScalar<long>(Sql.AnyExpiredFinalLease, new { now }) != 0;

    private sealed class CountsRow
    {
        public long Ready { get; set; }

        public long Delayed { get; set; }

        public long Leased { get; set; }

        public long? OldestReady { get; set; }

        public long DeadLettered { get; set; }
    }

    private sealed class MessageRow
    {
        public long Id { get; set; }

        public long Priority { get; set; }

        public long VisibleAt { get; set; }

        public long EnqueuedAt { get; set; }

        public long Attempts { get; set; }

        public long MaxAttempts { get; set; }

        public long HasToken { get; set; }

        public string? DedupKey { get; set; }

        public string? Headers { get; set; }

        public byte[] Body { get; set; } = [];

        public string? LastError { get; set; }

        public MessageInfo ToInfo(long now)
        {
            var state = VisibleAt <= now ? MessageState.Ready : HasToken != 0 ? MessageState.Leased : MessageState.Delayed;
            return new MessageInfo(
                new MessageId(Id), state, Body, HeaderCodec.Decode(Headers), (int)Priority, (int)Attempts, (int)MaxAttempts,
                DateTimeOffset.FromUnixTimeMilliseconds(EnqueuedAt), DateTimeOffset.FromUnixTimeMilliseconds(VisibleAt), LastError, DedupKey);
        }
    }

    private sealed class DeadLetterRow
    {
        public long Id { get; set; }

        public long Priority { get; set; }

        public long EnqueuedAt { get; set; }

        public long Attempts { get; set; }

        public long MaxAttempts { get; set; }

        public string? Headers { get; set; }

        public byte[] Body { get; set; } = [];

        public string? LastError { get; set; }

        public string Reason { get; set; } = string.Empty;

        public long DeadLetteredAt { get; set; }

        public DeadLetter ToDeadLetter(string queueName) => new(
            new MessageId(Id), queueName, Body, HeaderCodec.Decode(Headers), (int)Priority, (int)Attempts, (int)MaxAttempts,
            DateTimeOffset.FromUnixTimeMilliseconds(EnqueuedAt), DateTimeOffset.FromUnixTimeMilliseconds(DeadLetteredAt), Reason, LastError);
    }
}
