using DurableQueue.Tests;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>Statistics, verification and compaction on PostgreSQL.</summary>
public sealed class PostgresDiagnosticsTests
{
    [Fact]
    public async Task GetStatisticsAsync_CountsEveryQueueInOneSnapshot()
    {
        await using var t = TestStore.Create();
        var orders = t.Store.GetQueue("orders");
        var mails = t.Store.GetQueue("mails", new QueueOptions { MaxAttempts = 1 });
        await orders.EnqueueAsync("a");
        var later = await orders.EnqueueAsync("b", new EnqueueOptions { Delay = TimeSpan.FromMinutes(1) });
        await mails.EnqueueAsync("c");
        await mails.NackAsync(Assert.Single(await mails.ReceiveAsync()));
        t.Clock.Advance(TimeSpan.FromSeconds(5));

        var statistics = await t.Store.GetStatisticsAsync();

        Assert.Equal(PostgresSchemaVersion, statistics.SchemaVersion);
        Assert.Equal("postgresql", statistics.JournalMode);
        Assert.True(statistics.FileBytes > 0);
        Assert.True(statistics.LastMessageId >= later.Value);
        Assert.Equal(["mails", "orders"], statistics.Queues.Select(q => q.Name));
        var orderCounts = statistics.Queues.Single(q => q.Name == "orders").Counts;
        Assert.Equal((1L, 1L, 0L, 0L), (orderCounts.Ready, orderCounts.Delayed, orderCounts.Leased, orderCounts.DeadLettered));
        Assert.Equal(TimeSpan.FromSeconds(5), statistics.Queues.Single(q => q.Name == "orders").OldestReadyAge);
        Assert.Equal(1, statistics.Queues.Single(q => q.Name == "mails").Counts.DeadLettered);
    }

    [Fact]
    public async Task VerifyAsync_HealthyStore_NoProblems_BrokenRows_Reported()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("fine", new EnqueueOptions { Headers = new Dictionary<string, string> { ["k"] = "v" } });
        var healthy = await t.Store.VerifyAsync();
        Assert.True(healthy.IsHealthy, string.Join("; ", healthy.Problems));
        Assert.Contains("bad-headers", healthy.Checks);
        Assert.Contains("counts-consistent", healthy.Checks);

        await using (var raw = t.OpenRaw())
        {
            await using var breakIt = new NpgsqlCommand("UPDATE dq_messages SET headers = '{not json', attempts = max_attempts + 1;", raw);
            await breakIt.ExecuteNonQueryAsync();
        }

        var broken = await t.Store.VerifyAsync();
        Assert.False(broken.IsHealthy);
        Assert.Equal(["attempts-over-limit", "bad-headers", "spent-but-not-dead-lettered"], broken.Problems.Select(p => p.Check).Order());
    }

    [Fact]
    public async Task CompactAsync_VacuumsTheTables_StoreKeepsWorking()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 200).Select(_ => (ReadOnlyMemory<byte>)new byte[1000]));
        await queue.PurgeAsync();

        var result = await t.Store.CompactAsync();

        Assert.True(result.CheckpointCompleted);
        Assert.True(result.FileBytesBefore > 0 && result.FileBytesAfter > 0);
        await queue.EnqueueAsync("after");
        Assert.Equal(1, (await queue.GetCountsAsync()).Ready);
    }

    private static long PostgresSchemaVersion => DurableQueue.Postgres.Storage.PostgresSchema.LatestVersion;
}
