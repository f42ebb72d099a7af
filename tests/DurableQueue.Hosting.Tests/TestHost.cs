using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Hosting.Tests;

#if POSTGRES
/// <summary>
/// A schema of its own in the test run's PostgreSQL database, dropped on dispose. <see cref="Path"/> is a raw connection
/// string with the schema on its search path: the host's store opens on that schema, and the tests' SQL reads its tables.
/// </summary>
internal sealed class TempDb : IDisposable
{
    public TempDb()
    {
        var shared = DurableQueue.Testing.Postgres.SharedPostgres.SharedDatabaseAsync().GetAwaiter().GetResult();
        Path = new Npgsql.NpgsqlConnectionStringBuilder(shared) { Pooling = false, SearchPath = Schema }.ConnectionString;
        // Made up front, so a test may create its own tables before the host's store adds the queue's.
        Execute($"CREATE SCHEMA \"{Schema}\";");
    }

    public string Schema { get; } = "h_" + Guid.NewGuid().ToString("N")[..16];

    public string Path { get; }

    public static FakeTimeProvider NewClock() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public long Scalar(string sql)
    {
        using var connection = new Npgsql.NpgsqlConnection(Path);
        connection.Open();
        using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Execute(string sql)
    {
        using var connection = new Npgsql.NpgsqlConnection(Path);
        connection.Open();
        using var command = new Npgsql.NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    public void Dispose() => Execute($"DROP SCHEMA IF EXISTS \"{Schema}\" CASCADE;");
}
#else
/// <summary>A temp database file, deleted (with its WAL) on dispose.</summary>
internal sealed class TempDb : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dq-hosting-{Guid.NewGuid():N}.db");

    public static FakeTimeProvider NewClock() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public long Scalar(string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    public void Execute(string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(Path + suffix);
        }
    }
}
#endif

/// <summary>A real Generic Host with DurableQueue on a temp file and a fake clock.</summary>
internal sealed class TestHost : IAsyncDisposable
{
    private readonly Channel<(QueueMessage Message, DeliveryOutcome Outcome)> _settled = Channel.CreateUnbounded<(QueueMessage, DeliveryOutcome)>();
    private readonly Channel<(QueueMessage Message, DateTimeOffset Until)> _extended = Channel.CreateUnbounded<(QueueMessage, DateTimeOffset)>();
    private bool _stopped;

    private TestHost(IHost host, FakeTimeProvider clock)
    {
        Host = host;
        Clock = clock;
        var events = host.Services.GetRequiredService<WorkerEvents>();
        events.Settled += (m, o) => _settled.Writer.TryWrite((m, o));
        events.LeaseExtended += (m, u) => _extended.Writer.TryWrite((m, u));
    }

    /// <summary>A bound on waits for signals, so that a broken test fails instead of hanging; never a synchronisation.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    public IHost Host { get; }

    public FakeTimeProvider Clock { get; }

    public IServiceProvider Services => Host.Services;

    public QueueStore Store => Services.GetRequiredService<QueueStore>();

    public JobClient Jobs => Services.GetRequiredService<JobClient>();

    public MessageProducer Producer => Services.GetRequiredService<MessageProducer>();

    public static IHost Build(
        string path, FakeTimeProvider clock, Action<DurableQueueBuilder> configure, Action<DurableQueueOptions>? options = null, Action<IServiceCollection>? services = null) =>
        new HostBuilder()
            .ConfigureServices(s =>
            {
                s.AddSingleton<TimeProvider>(clock);
#if POSTGRES
                // The "path" is a raw connection string whose search path names the test's schema.
                var schema = new Npgsql.NpgsqlConnectionStringBuilder(path).SearchPath!;
                configure(s.AddDurableQueue(o => options?.Invoke(o)).UsePostgres(path, o => o.Schema = schema));
#else
                configure(s.AddDurableQueue(o =>
                {
                    o.Path = path;
                    options?.Invoke(o);
                }));
#endif
                services?.Invoke(s);
            })
            .Build();

    public static async Task<TestHost> StartAsync(
        string path, FakeTimeProvider clock, Action<DurableQueueBuilder> configure, Action<DurableQueueOptions>? options = null, Action<IServiceCollection>? services = null)
    {
        var host = Build(path, clock, configure, options, services);
        var test = new TestHost(host, clock);
        await host.StartAsync();
        return test;
    }

    public async Task<(QueueMessage Message, DeliveryOutcome Outcome)> NextSettledAsync() =>
        await _settled.Reader.ReadAsync().AsTask().WaitAsync(Guard);

    public async Task<(QueueMessage Message, DateTimeOffset Until)> NextExtendedAsync() =>
        await _extended.Reader.ReadAsync().AsTask().WaitAsync(Guard);

    public bool TryNextExtended(out (QueueMessage Message, DateTimeOffset Until) extension) => _extended.Reader.TryRead(out extension);

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        _stopped = true;
        await Host.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            await StopAsync(new CancellationToken(canceled: true));
        }

        if (Host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            Host.Dispose();
        }
    }
}

/// <summary>What the test handlers do, set per test.</summary>
internal sealed class Probe
{
    private int _calls;

    public Func<MessageContext, CancellationToken, ValueTask> OnHandle { get; set; } = static (_, _) => ValueTask.CompletedTask;

    public int Calls => Volatile.Read(ref _calls);

    public Channel<MessageContext> Started { get; } = Channel.CreateUnbounded<MessageContext>();

    public async ValueTask HandleAsync(MessageContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        Started.Writer.TryWrite(context);
        await OnHandle(context, cancellationToken);
    }

    public async Task<MessageContext> NextStartedAsync() => await Started.Reader.ReadAsync().AsTask().WaitAsync(TestHost.Guard);
}

internal sealed class RawHandler(Probe probe) : IMessageHandler
{
    public ValueTask HandleAsync(MessageContext context, CancellationToken cancellationToken) => probe.HandleAsync(context, cancellationToken);
}

internal sealed record Order(int Id, string Item);

internal sealed record AddRequest(int A, int B);

internal sealed record AddResult(int Sum);

internal sealed class OrderHandler(Probe probe, ScopedCounter scoped) : IMessageHandler<Order>
{
    public List<Order> Seen { get; } = [];

    public ValueTask HandleAsync(Order message, MessageContext context, CancellationToken cancellationToken)
    {
        scoped.Touch();
        return probe.HandleAsync(context, cancellationToken);
    }
}

internal sealed class AddHandler(Probe probe) : IJobHandler<AddRequest, AddResult>
{
    public async ValueTask<AddResult> HandleAsync(AddRequest argument, MessageContext context, CancellationToken cancellationToken)
    {
        await probe.HandleAsync(context, cancellationToken);
        return new AddResult(argument.A + argument.B);
    }
}

/// <summary>A scoped service: each message's scope gets a new one.</summary>
internal sealed class ScopedCounter
{
    private static int s_instances;

    public ScopedCounter() => Instance = Interlocked.Increment(ref s_instances);

    public int Instance { get; }

    public int Touches { get; private set; }

    public void Touch() => Touches++;
}

[JsonSerializable(typeof(Order))]
[JsonSerializable(typeof(AddRequest))]
[JsonSerializable(typeof(AddResult))]
internal sealed partial class TestJson : JsonSerializerContext
{
}

