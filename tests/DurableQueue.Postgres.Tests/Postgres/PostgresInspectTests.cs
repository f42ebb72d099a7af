using DurableQueue.Tests;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>QueueStore.InspectPostgres: the read-only view of a PostgreSQL store that dq's read-only commands use.</summary>
public sealed class PostgresInspectTests
{
    private static StoreInspector Inspect(TestStore t) =>
        QueueStore.InspectPostgres(t.ConnectionString, t.Options(), new PostgresStoreOptions { Schema = t.Schema });

    [Fact]
    public async Task Inspect_ReadsWhatTheStoreHolds()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("orders", new QueueOptions { MaxAttempts = 1 });
        await queue.EnqueueAsync("dead");
        await queue.NackAsync(Assert.Single(await queue.ReceiveAsync()), TimeSpan.Zero, "failed");
        await queue.EnqueueAsync("ready", new EnqueueOptions { Headers = new Dictionary<string, string> { ["k"] = "v" } });

        using var inspector = Inspect(t);

        Assert.False(inspector.IsFile);
        Assert.StartsWith("postgresql://", inspector.Path, StringComparison.Ordinal);
        Assert.Equal((await t.Store.GetStatisticsAsync()).SchemaVersion, inspector.SchemaVersion);
        Assert.Equal(["orders"], await inspector.GetQueueNamesAsync());
        var counts = await inspector.GetCountsAsync("orders");
        Assert.Equal((1L, 1L), (counts.Ready, counts.DeadLettered));
        var message = Assert.Single(await inspector.GetMessagesAsync("orders"));
        Assert.Equal(("ready", "v"), (System.Text.Encoding.UTF8.GetString(message.Body.Span), message.Headers["k"]));
        var letter = Assert.Single(await inspector.GetDeadLettersAsync("orders"));
        Assert.Equal("failed", (await inspector.GetDeadLetterAsync("orders", letter.Id))!.LastError);
        Assert.True((await inspector.VerifyAsync()).IsHealthy);
        Assert.Equal(1, (await inspector.GetStatisticsAsync()).Queues.Single().Counts.DeadLettered);
        await Assert.ThrowsAsync<NotSupportedException>(() => inspector.DiagnoseAsync().AsTask());
    }

    [Fact]
    public async Task Inspect_MissingSchema_NotAQueueStore_AndNothingCreated()
    {
        await using var t = TestStore.Create();
        var missing = "absent_" + Guid.NewGuid().ToString("N")[..8];

        var ex = Assert.Throws<StoreFileException>(() => QueueStore.InspectPostgres(t.ConnectionString, postgres: new PostgresStoreOptions { Schema = missing }));

        Assert.Equal(StoreFileProblem.NotAQueueStore, ex.Problem);
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
        await using var raw = t.OpenRaw();
        await using var exists = new NpgsqlCommand($"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '{missing}');", raw);
        Assert.False((bool)(await exists.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Inspect_NewerSchema_Refused()
    {
        await using var t = TestStore.Create();
        await using (var raw = t.OpenRaw())
        await using (var bump = new NpgsqlCommand("UPDATE dq_meta SET value = value + 100 WHERE key = 'schema_version';", raw))
        {
            await bump.ExecuteNonQueryAsync();
        }

        var ex = Assert.Throws<StoreFileException>(() => Inspect(t));
        Assert.Equal(StoreFileProblem.NewerSchema, ex.Problem);
    }

    [Fact]
    public async Task Inspect_OnABorrowedDataSource_ReadsOnly_AndHandsTheConnectionsBackWritable()
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("q").EnqueueAsync("x");
        // One pooled connection that keeps its session state: the inspection's read-only setting must not stay on it.
        await using var dataSource = NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(t.ConnectionString) { MaxPoolSize = 1, NoResetOnClose = true }.ConnectionString);

        using (var inspector = QueueStore.Inspect(dataSource, t.Options(), new PostgresStoreOptions { Schema = t.Schema }))
        {
            Assert.Equal(1, (await inspector.GetCountsAsync("q")).Ready);
        }

        await using var connection = await dataSource.OpenConnectionAsync();
        await using var show = new NpgsqlCommand("SHOW default_transaction_read_only;", connection);
        Assert.Equal("off", (string)(await show.ExecuteScalarAsync())!);
    }
}
