namespace DurableQueue.Tests;

/// <summary>Peek without leasing, counts per state, and purge.</summary>
public sealed partial class MessageQueueTests
{
    [Fact]
    public async Task PeekAsync_TakesNoLeaseAndReportsEachState()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var ready = await queue.EnqueueAsync("ready", new EnqueueOptions { DeduplicationKey = "d", Headers = new Dictionary<string, string> { ["h"] = "1" } });
        var delayed = await queue.EnqueueAsync("delayed", new EnqueueOptions { Delay = TimeSpan.FromMinutes(5) });
        var leased = await queue.EnqueueAsync("leased", new EnqueueOptions { Priority = 0 });

        var beforeReceive = await queue.PeekAsync();
        Assert.Equal([leased, ready, delayed], beforeReceive.Select(m => m.Id));
        Assert.All(beforeReceive, m => Assert.Equal(0, m.Attempts));

        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromMinutes(1)));
        Assert.Equal(leased, message.Id);
        Assert.Equal(1, message.Attempt);

        var peeked = await queue.PeekAsync();
        Assert.Equal([ready, leased, delayed], peeked.Select(m => m.Id));
        Assert.Equal([MessageState.Ready, MessageState.Leased, MessageState.Delayed], peeked.Select(m => m.State));
        var first = peeked[0];
        Assert.Equal(("ready", "d", 4, 0), (System.Text.Encoding.UTF8.GetString(first.Body.Span), first.DeduplicationKey, first.Priority, first.Attempts));
        Assert.Equal("1", first.Headers["h"]);
        Assert.Equal(TestClock.Epoch, first.EnqueuedAt);
        Assert.Equal(message.LeaseExpiresAt, peeked[1].VisibleAt);
        Assert.Equal(1, peeked[1].Attempts);
        Assert.Equal(TestClock.Epoch.AddMinutes(5), peeked[2].VisibleAt);
        // Peeking changed nothing: the ready message is still delivered as a first attempt.
        Assert.Equal((ready, 1), Assert.Single(await queue.ReceiveAsync()) is var m ? (m.Id, m.Attempt) : default);
    }

    [Fact]
    public async Task PeekAsync_MaxMessages_LimitsTheResult()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var ids = await queue.EnqueueBatchAsync(Enumerable.Range(0, 5).Select(i => new ReadOnlyMemory<byte>([(byte)i])));

        Assert.Equal(ids.Take(3), (await queue.PeekAsync(3)).Select(m => m.Id));
        Assert.Empty(await t.Store.GetQueue("empty").PeekAsync());
    }

    [Fact]
    public async Task GetMessageAsync_KnownAndUnknownIds_ReturnsInfoOrNull()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("x");

        var info = await queue.GetMessageAsync(id);

        Assert.NotNull(info);
        Assert.Equal((id, MessageState.Ready), (info.Id, info.State));
        Assert.Null(await queue.GetMessageAsync(new MessageId(id.Value + 1)));
    }

    [Fact]
    public async Task GetCountsAsync_CountsEveryState()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 6).Select(i => new ReadOnlyMemory<byte>([(byte)i])));
        t.Clock.Advance(TimeSpan.FromSeconds(1));
        await queue.EnqueueAsync("delayed 1", new EnqueueOptions { Delay = TimeSpan.FromMinutes(1) });
        await queue.EnqueueAsync("delayed 2", new EnqueueOptions { NotBefore = t.Clock.GetUtcNow().AddHours(1) });
        var received = await queue.ReceiveAsync(3, TimeSpan.FromMinutes(10));
        await queue.DeadLetterAsync(received[0], "bad");

        var counts = await queue.GetCountsAsync();

        Assert.Equal(new QueueCounts(Ready: 3, Delayed: 2, Leased: 2, DeadLettered: 1, OldestReadyEnqueuedAt: TestClock.Epoch), counts);
        Assert.Equal(7, counts.Total);
    }

    [Fact]
    public async Task GetCountsAsync_ExpiredLease_CountsAsReady()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(5)));

        t.Clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(new QueueCounts(1, 0, 0, 0, TestClock.Epoch), await queue.GetCountsAsync());
        Assert.Equal(MessageState.Ready, Assert.Single(await queue.PeekAsync()).State);
    }

    [Fact]
    public async Task GetCountsAsync_UnknownQueue_AllZero()
    {
        await using var t = TestStore.Create();

        Assert.Equal(default, await t.Store.GetQueue("never-used").GetCountsAsync());
    }

    [Fact]
    public async Task PurgeAsync_DeletesLiveMessagesIncludingLeasedButKeepsDeadLettersAndOtherQueues()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var other = t.Store.GetQueue("other");
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 4).Select(i => new ReadOnlyMemory<byte>([(byte)i])));
        await queue.EnqueueAsync("delayed", new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        var received = await queue.ReceiveAsync(2);
        await queue.DeadLetterAsync(received[0], "dead");
        await other.EnqueueAsync("keep");

        Assert.Equal(4, await queue.PurgeAsync());

        Assert.Equal(new QueueCounts(0, 0, 0, 1, null), await queue.GetCountsAsync());
        Assert.Equal(1, (await other.GetCountsAsync()).Ready);
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.AckAsync(received[1]));
        Assert.Equal(0, await queue.PurgeAsync());
    }
}
