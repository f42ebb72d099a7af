namespace DurableQueue.Tests.Diagnostics;

public sealed class StatisticsTests
{
    [Fact]
    public async Task Statistics_CountEveryQueue_AndDescribeTheFile()
    {
        await using var t = TestStore.Create();
        var orders = t.Store.GetQueue("orders");
        var mail = t.Store.GetQueue("mail");
        await orders.EnqueueAsync("a");
        t.Clock.Advance(TimeSpan.FromSeconds(90));
        await orders.EnqueueAsync("b");
        await orders.EnqueueAsync("c", new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        await mail.EnqueueAsync("x");
        var received = Assert.Single(await mail.ReceiveAsync());
        await mail.DeadLetterAsync(received, "bad address");

        var stats = await t.Store.GetStatisticsAsync();

        Assert.Equal(DurableQueue.Storage.SchemaMigrator.LatestVersion, stats.SchemaVersion);
        Assert.Equal("wal", stats.JournalMode);
        Assert.True(stats.IncrementalVacuum);
        Assert.Equal(4, stats.LastMessageId);
        Assert.True(stats.FileBytes > 0);
        Assert.True(stats.PageSize >= 512 && stats.PageCount > 0);
        Assert.Equal(t.Clock.GetUtcNow(), stats.TakenAt);
        Assert.Equal(["mail", "orders"], stats.Queues.Select(q => q.Name));
        var o = stats.Queues[1];
        Assert.Equal(2, o.Counts.Ready);
        Assert.Equal(1, o.Counts.Delayed);
        Assert.Equal(TimeSpan.FromSeconds(90), o.OldestReadyAge);
        var m = stats.Queues[0];
        Assert.Equal(0, m.Counts.Total);
        Assert.Equal(1, m.Counts.DeadLettered);
        Assert.Null(m.OldestReadyAge);
    }

    [Fact]
    public async Task GetMessagesAsync_PagesThroughTheWholeQueueInIdOrder()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 25).Select(i => new OutgoingMessage(new[] { (byte)i }, new EnqueueOptions { Priority = 9 - (i % 10) })));
        await t.Store.GetQueue("other").EnqueueAsync("not mine");

        var seen = new List<MessageInfo>();
        MessageId? after = null;
        while (true)
        {
            var page = await queue.GetMessagesAsync(7, after);
            if (page.Count == 0)
            {
                break;
            }

            seen.AddRange(page);
            after = page[^1].Id;
        }

        Assert.Equal(Enumerable.Range(0, 25).Select(i => (byte)i), seen.Select(m => m.Body.Span[0]));
        Assert.Equal(seen.Select(m => m.Id.Value).Order(), seen.Select(m => m.Id.Value));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.GetMessagesAsync(0));
    }

    [Fact]
    public async Task Compact_ReturnsTheSpaceOfPurgedMessages()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("bulk");
        var body = new byte[4000];
        for (var i = 0; i < 5; i++)
        {
            await queue.EnqueueBatchAsync(Enumerable.Range(0, 100).Select(_ => (ReadOnlyMemory<byte>)body));
        }

        await queue.PurgeAsync();
        var before = await t.Store.GetStatisticsAsync();
        Assert.True(before.FreePages > 400, $"free pages {before.FreePages}");

        var result = await t.Store.CompactAsync();

        Assert.True(result.IncrementalVacuum);
        Assert.True(result.CheckpointCompleted);
        Assert.Equal(0, result.FreePagesAfter);
        Assert.Equal(0, result.WalBytesAfter);
        Assert.True(result.BytesReturned > 400 * 4000, $"returned {result.BytesReturned}");
        Assert.Equal(result.FileBytesAfter, new FileInfo(t.Path).Length);
        Assert.Equal(0, (await t.Store.GetStatisticsAsync()).FreePages);
    }
}
