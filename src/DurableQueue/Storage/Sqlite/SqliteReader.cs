using DurableQueue.BackPressure;
using DurableQueue.Storage.Driver;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage.Sqlite;

/// <summary>The queue's reads on one SQLite reader connection.</summary>
internal sealed class SqliteReader(SqliteConnection connection, string path) : IStoreReader
{
    public QueueCounts Counts(string queueName, long now) => MessageReads.Counts(connection, queueName, now);

    public List<MessageInfo> Peek(string queueName, long now, int limit) => MessageReads.Peek(connection, queueName, now, limit);

    public MessageInfo? Get(string queueName, long id, long now) => MessageReads.Get(connection, queueName, id, now);

    public List<DeadLetter> DeadLetters(string queueName, long after, int limit) => MessageReads.DeadLetters(connection, queueName, after, limit);

    public DeadLetter? GetDeadLetter(string queueName, long id) => MessageReads.GetDeadLetter(connection, queueName, id);

    public List<string> QueueNames() => MessageReads.QueueNames(connection);

    public bool AnyExpiredFinalLease(long now) => MessageReads.AnyExpiredFinalLease(connection, now);

    public bool QueueExists(string queueName) => MessageReads.QueueExists(connection, queueName);

    public List<MessageInfo> MessagesAfter(string queueName, long after, int limit, long now) =>
        MessageReads.MessagesAfter(connection, queueName, after, limit, now);

    public QueueStatsRow QueueStatsByName(string queueName)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Sql.QueueStatsByName;
        command.Parameters.AddWithValue("@name", queueName);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new QueueStatsRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : default;
    }

    public StoreStatistics Statistics(long now) => MessageReads.Statistics(connection, path, now);

    public StoreVerification Verify(long now) => MessageReads.Verify(connection, now);

    public QueueOptions? QueueSettings(string queueName) => MessageReads.QueueSettings(connection, queueName);
}
