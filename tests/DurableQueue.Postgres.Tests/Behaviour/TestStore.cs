using DurableQueue.Postgres;
using Npgsql;

namespace DurableQueue.Tests;

/// <summary>
/// The PostgreSQL twin of the SQLite tests' TestStore: the same members, so the behaviour tests written against a file
/// compile here unchanged and run against a real server. Each store gets a schema of its own in the test run's shared
/// database (the schema plays the part of the temp file); "raw" connections see that schema first on their search path,
/// so the tests' own SQL (SELECT ... FROM dq_messages) reads the same tables.
/// </summary>
internal sealed class TestStore : IAsyncDisposable
{
    /// <summary>A real-time bound on awaits that should finish at once; it only turns a hang into a failure.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    private readonly List<QueueStore> _others = [];

    private TestStore(string connectionString, string schema, TestClock clock, QueueStore store)
    {
        ConnectionString = connectionString;
        Schema = schema;
        Clock = clock;
        Store = store;
    }

    /// <summary>
    /// Gets what stands for the store's file: a raw, unpooled connection string with the store's schema on its search
    /// path (helpers that open the "file" directly, such as the row counts of the back-pressure tests, open this).
    /// </summary>
    public string Path => new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false, SearchPath = Schema }.ConnectionString;

    public string ConnectionString { get; }

    public string Schema { get; }

    public TestClock Clock { get; }

    public QueueStore Store { get; private set; }

    public static TestStore Create(Action<QueueStoreOptions>? configure = null)
    {
        var connectionString = SharedPostgres.SharedDatabaseAsync().GetAwaiter().GetResult();
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        var clock = new TestClock();
        var options = new QueueStoreOptions { TimeProvider = clock };
        configure?.Invoke(options);
        return new TestStore(connectionString, schema, clock, Open(connectionString, schema, options));
    }

    public QueueStoreOptions Options(Action<QueueStoreOptions>? configure = null)
    {
        var options = new QueueStoreOptions { TimeProvider = Clock };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Closes the store cleanly and opens the same schema again.</summary>
    public async Task ReopenAsync(Action<QueueStoreOptions>? configure = null)
    {
        await Store.DisposeAsync();
        Store = Open(ConnectionString, Schema, Options(configure));
    }

    /// <summary>Opens a second store on the same schema, as another process would; it is disposed with this one.</summary>
    public QueueStore OpenSecond(Action<QueueStoreOptions>? configure = null)
    {
        var store = Open(ConnectionString, Schema, Options(configure));
        _others.Add(store);
        return store;
    }

    /// <summary>Opens a plain, unpooled connection with the store's schema first on the search path, as a tool outside the store would.</summary>
    public NpgsqlConnection OpenRaw()
    {
        var connection = new NpgsqlConnection(Path);
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var other in _others)
        {
            await other.DisposeAsync();
        }

        await Store.DisposeAsync();
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA \"{Schema}\" CASCADE;", connection);
        await drop.ExecuteNonQueryAsync();
    }

    private static QueueStore Open(string connectionString, string schema, QueueStoreOptions options) =>
        QueueStore.OpenPostgres(connectionString, options, new PostgresStoreOptions { Schema = schema });
}
