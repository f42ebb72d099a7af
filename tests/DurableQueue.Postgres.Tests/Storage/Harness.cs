using DurableQueue.Postgres.Storage;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Storage;

/// <summary>The backend's pieces on a fresh schema of a test class's database, without the store around them.</summary>
internal sealed class Harness : IAsyncDisposable
{
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    private readonly List<PostgresWriteSession> _sessions = [];

    private Harness(string connectionString, string schema)
    {
        ConnectionString = connectionString;
        DataSource = PostgresConnections.CreateDataSource(connectionString, "connectionString");
        Location = PostgresConnections.Location(DataSource);
        Sql = new PostgresSql(schema);
        Commands = new PostgresCommands(Sql);
    }

    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public string Location { get; }

    public PostgresSql Sql { get; }

    public PostgresCommands Commands { get; }

    public long Now { get; set; } = 1_767_225_600_000; // 2026-01-01

    public static async Task<Harness> CreateAsync(PostgresClusterFixture fixture, Type testClass, bool migrate = true)
    {
        var harness = new Harness(await fixture.DatabaseForAsync(testClass), "s_" + Guid.NewGuid().ToString("N")[..12]);
        if (migrate)
        {
            using var connection = harness.DataSource.OpenConnection();
            PostgresSchema.Ensure(connection, harness.Sql, harness.Location);
        }

        return harness;
    }

    public PostgresWriteSession NewSession()
    {
        var session = new PostgresWriteSession(
            DataSource, Sql, Commands, Location, new QueueStoreOptions(), ex => PostgresErrors.Map(ex, Location, Sql.Schema));
        _sessions.Add(session);
        return session;
    }

    /// <summary>Runs one batch transaction on a session, with the request savepoint the store's writer opens.</summary>
    public T InBatch<T>(PostgresWriteSession session, Func<PostgresWriteSession, T> work, bool mark = false)
    {
        session.Begin();
        try
        {
            session.Savepoint("op");
            var result = work(session);
            session.ReleaseSavepoint("op");
            session.Commit(mark);
            return result;
        }
        catch
        {
            session.Rollback();
            throw;
        }
    }

    public long QueueId(PostgresWriteSession session, string name) => InBatch(session, s => Commands.QueueId(s, Now, name));

    public MessageId Enqueue(PostgresWriteSession session, long queueId, string queueName, string body, EnqueueOptions? options = null)
    {
        var message = DurableQueue.Storage.PendingMessage.Create(System.Text.Encoding.UTF8.GetBytes(body), options, 3, 1 << 20);
        return InBatch(session, s => Commands.Enqueue(s, Now, queueName, queueId, message, out _));
    }

    public List<QueueMessage> Receive(PostgresWriteSession session, long queueId, string queueName, int max, long visibilityMs = 30_000) =>
        InBatch(session, s => Commands.Receive(s, Now, queueName, queueId, max, visibilityMs, Guid.NewGuid(), out _));

    public T Read<T>(Func<PostgresReads, T> read)
    {
        using var connection = DataSource.OpenConnection();
        return read(new PostgresReads(Sql, connection, Location, Commands.RemovedTotal));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var session in _sessions)
        {
            session.Dispose();
        }

        await DataSource.DisposeAsync();
    }
}
