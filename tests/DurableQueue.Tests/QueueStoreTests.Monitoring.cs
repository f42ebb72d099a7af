namespace DurableQueue.Tests;

/// <summary>Monitoring reads: running totals for rates, and open handles looked up without opening a queue.</summary>
public sealed partial class QueueStoreTests
{
    [Fact]
    public async Task GetQueueTotalsAsync_CountsArrivalsAndDepartures()
    {
        await using var t = TestStore.Create();
        Assert.Empty(await t.Store.GetQueueTotalsAsync());

        var orders = t.Store.GetQueue("orders");
        var mail = t.Store.GetQueue("mail");
        await orders.EnqueueBatchAsync(Enumerable.Range(0, 5).Select(i => new ReadOnlyMemory<byte>([(byte)i])));
        await mail.EnqueueAsync("one");

        var received = await orders.ReceiveAsync(3);
        await orders.AckAsync(received[0]);
        await orders.DeadLetterAsync(received[1], "bad");
        Assert.Equal(
            [new QueueTotals("mail", 1, 0), new QueueTotals("orders", 5, 2)],
            await t.Store.GetQueueTotalsAsync());

        // A requeued dead letter enters again; a purge makes everything left leave.
        Assert.True(await orders.RequeueDeadLetterAsync(received[1].Id));
        Assert.Equal(4, await orders.PurgeAsync());
        Assert.Equal(new QueueTotals("orders", 6, 6), (await t.Store.GetQueueTotalsAsync())[1]);
    }

    [Fact]
    public async Task GetQueueTotalsAsync_SeesOtherStoresOnTheFile()
    {
        await using var t = TestStore.Create();
        var other = t.OpenSecond();
        await other.GetQueue("elsewhere").EnqueueAsync("x");

        Assert.Equal(new QueueTotals("elsewhere", 1, 0), Assert.Single(await t.Store.GetQueueTotalsAsync()));
    }

    [Fact]
    public async Task TryGetOpenQueue_OnlyFindsQueuesThisStoreOpened_AndNeverFixesOptions()
    {
        await using var t = TestStore.Create();
        await t.OpenSecond().GetQueue("jobs").EnqueueAsync("x");

        // The queue is in the file, but this store has not opened it.
        Assert.False(t.Store.TryGetOpenQueue("jobs", out var missing));
        Assert.Null(missing);
        Assert.False(t.Store.TryGetOpenQueue("not a valid name", out _));

        // Looking did not open it: the app can still choose its options.
        var bounded = t.Store.GetQueue("jobs", new QueueOptions { MaxMessages = 10 });
        Assert.True(t.Store.TryGetOpenQueue("jobs", out var found));
        Assert.Equal(10, found.MaxMessages);
        Assert.Equal(bounded.Name, found.Name);
        Assert.Equal(1, (await found.GetCountsAsync()).Ready);
    }

    [Fact]
    public async Task MonitoringReads_AfterDispose_Throw()
    {
        var t = TestStore.Create();
        await t.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await t.Store.GetQueueTotalsAsync());
        Assert.Throws<ObjectDisposedException>(() => t.Store.TryGetOpenQueue("q", out _));
    }

    [Fact]
    public async Task TryGetOpenQueue_NullName_Throws()
    {
        await using var t = TestStore.Create();
        Assert.Throws<ArgumentNullException>("name", () => t.Store.TryGetOpenQueue(null!, out _));
    }
}
