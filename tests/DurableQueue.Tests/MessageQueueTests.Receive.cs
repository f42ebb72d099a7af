namespace DurableQueue.Tests;

/// <summary>Receive: delivery order, leases with a visibility timeout, redelivery, and waiting for messages.</summary>
public sealed partial class MessageQueueTests
{
    [Fact]
    public async Task ReceiveAsync_EmptyQueue_ReturnsEmptyAtOnce()
    {
        await using var t = TestStore.Create();

        Assert.Empty(await t.Store.GetQueue("q").ReceiveAsync(10));
    }

    [Fact]
    public async Task ReceiveAsync_MixedMessages_DeliversByPriorityThenReadyTimeThenId()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        // Ids grow a < b < c < d, but a becomes ready last among the priority-1 messages.
        var a = await queue.EnqueueAsync("a", new EnqueueOptions { Priority = 1, Delay = TimeSpan.FromSeconds(2) });
        var b = await queue.EnqueueAsync("b", new EnqueueOptions { Priority = 1 });
        var c = await queue.EnqueueAsync("c", new EnqueueOptions { Priority = 5 });
        t.Clock.Advance(TimeSpan.FromSeconds(1));
        var d = await queue.EnqueueAsync("d", new EnqueueOptions { Priority = 1 });
        var e = await queue.EnqueueAsync("e", new EnqueueOptions { Priority = 0 });
        t.Clock.Advance(TimeSpan.FromSeconds(1));

        var received = await queue.ReceiveAsync(10);

        Assert.Equal([e, b, d, a, c], received.Select(m => m.Id));
    }

    [Fact]
    public async Task ReceiveAsync_OneAtATime_FollowsTheSameOrderAsABatch()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var ids = new List<MessageId>();
        foreach (var priority in new[] { 9, 4, 0, 4, 9, 0 })
        {
            ids.Add(await queue.EnqueueAsync($"p{priority}", new EnqueueOptions { Priority = priority }));
        }

        var order = new List<MessageId>();
        while ((await queue.ReceiveAsync()).SingleOrDefault() is { } message)
        {
            order.Add(message.Id);
        }

        Assert.Equal([ids[2], ids[5], ids[1], ids[3], ids[0], ids[4]], order);
    }

    [Fact]
    public async Task ReceiveAsync_MaxMessages_LeasesAtMostThatMany()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 5).Select(i => new ReadOnlyMemory<byte>([(byte)i])));

        var first = await queue.ReceiveAsync(3);
        var second = await queue.ReceiveAsync(3);

        Assert.Equal(3, first.Count);
        Assert.Equal(2, second.Count);
        Assert.Empty(first.Select(m => m.Id).Intersect(second.Select(m => m.Id)));
        Assert.Equal(new QueueCounts(0, 0, 5, 0, null), await queue.GetCountsAsync());
    }

    [Fact]
    public async Task ReceiveAsync_NackedMessage_GoesBehindThoseAlreadyWaiting()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var first = await queue.EnqueueAsync("first");
        var second = await queue.EnqueueAsync("second");
        var third = await queue.EnqueueAsync("third");
        var head = Assert.Single(await queue.ReceiveAsync());
        t.Clock.Advance(TimeSpan.FromSeconds(1));

        await queue.NackAsync(head, TimeSpan.Zero, "try later");

        Assert.Equal([second, third, first], (await queue.ReceiveAsync(10)).Select(m => m.Id));
    }

    [Fact]
    public async Task ReceiveAsync_Leased_InvisibleUntilTimeoutThenRedeliveredWithAttemptCounted()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("x");
        var first = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(30)));
        Assert.Equal(t.Clock.GetUtcNow().AddSeconds(30), first.LeaseExpiresAt);

        t.Clock.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromMilliseconds(1));
        Assert.Empty(await queue.ReceiveAsync());
        t.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var second = Assert.Single(await queue.ReceiveAsync());

        Assert.Equal(id, second.Id);
        Assert.Equal((1, 2), (first.Attempt, second.Attempt));
        Assert.NotEqual(first.Receipt, second.Receipt);
        Assert.Equal(first.EnqueuedAt, second.EnqueuedAt);
    }

    [Fact]
    public async Task ReceiveAsync_ExpiredLease_GoesBehindMessagesThatWereReadyEarlier()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var first = await queue.EnqueueAsync("first");
        Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        t.Clock.Advance(TimeSpan.FromSeconds(5));
        var second = await queue.EnqueueAsync("second");
        t.Clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal([second, first], (await queue.ReceiveAsync(10)).Select(m => m.Id));
    }

    [Fact]
    public async Task ReceiveAsync_QueueDefaultVisibilityTimeout_IsUsedWhenNoneGiven()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { VisibilityTimeout = TimeSpan.FromSeconds(5) });
        await queue.EnqueueAsync("x");

        var message = Assert.Single(await queue.ReceiveAsync());

        Assert.Equal(TimeSpan.FromSeconds(5), queue.VisibilityTimeout);
        Assert.Equal(t.Clock.GetUtcNow().AddSeconds(5), message.LeaseExpiresAt);
        t.Clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Single(await queue.ReceiveAsync());
    }

    [Fact]
    public async Task ReceiveAsync_AttemptIsRecordedDurablyAtReceive()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("x");

        Assert.Single(await queue.ReceiveAsync());

        using var raw = t.OpenRaw();
        Assert.Equal(1L, Dapper.SqlMapper.ExecuteScalar<long>(raw, "SELECT attempts FROM dq_messages WHERE id = @id;", new { id = id.Value }));
    }

    [Fact]
    public async Task ReceiveAsync_Waiting_ReturnsAsSoonAsAMessageIsEnqueued()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        // Any write queued after the receive commits after the receive has looked and found nothing.
        await t.Store.GetQueue("other").EnqueueAsync("barrier");
        Assert.False(receive.IsCompleted);

        var id = await Task.Run(async () => await queue.EnqueueAsync("wake up"));

        var message = Assert.Single(await receive.WaitAsync(TestStore.Guard));
        Assert.Equal(id, message.Id);
        // The fake clock never moved: the wake-up came from the enqueue, not from a poll or the deadline.
        Assert.Equal(TestClock.Epoch, t.Clock.GetUtcNow());
    }

    [Fact]
    public async Task ReceiveAsync_Waiting_WakesForAMessageEnqueuedInAUnitOfWork()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Store.GetQueue("other").EnqueueAsync("barrier");

        await t.Store.ExecuteAsync(tx => tx.Enqueue("q", "from a unit of work"));

        Assert.Equal("from a unit of work", Assert.Single(await receive.WaitAsync(TestStore.Guard)).GetBodyAsString());
    }

    [Fact]
    public async Task ReceiveAsync_WaitingAndNothingArrives_ReturnsEmptyAtTheDeadline()
    {
        await using var t = TestStore.Create(o => o.PollInterval = TimeSpan.FromHours(1));
        var queue = t.Store.GetQueue("q");
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromSeconds(5)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromSeconds(5));

        t.Clock.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(1));
        Assert.False(receive.IsCompleted);
        t.Clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Empty(await receive.WaitAsync(TestStore.Guard));
    }

    [Fact]
    public async Task ReceiveAsync_WaitingWithNothingDue_SleepsToTheDeadlineWithoutPollingAndReturnsEmpty()
    {
        // No polling tick per receiver: with nothing due, the only timer it arms is the deadline.
        await using var t = TestStore.Create(o => o.PollInterval = TimeSpan.FromHours(1));
        var queue = t.Store.GetQueue("q");
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMilliseconds(250)).AsTask();

        await t.Clock.TimerCreatedAsync(TimeSpan.FromMilliseconds(250));
        t.Clock.Advance(TimeSpan.FromMilliseconds(249));
        Assert.False(receive.IsCompleted);
        t.Clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Empty(await receive.WaitAsync(TestStore.Guard));
    }

#if !POSTGRES // On PostgreSQL the wake-up is a notification, not a poll: see the PostgreSQL listener tests.
    [Fact]
    public async Task ReceiveAsync_Waiting_WakesForACommitByAnotherStoreWithinOnePollInterval()
    {
        // Another store on the same file stands for another process: its commit cannot pulse this store's signal,
        // so this store's watcher notices it through PRAGMA data_version on its next tick.
        var poll = TimeSpan.FromMilliseconds(100);
        await using var t = TestStore.Create(o => o.PollInterval = poll);
        var queue = t.Store.GetQueue("q");
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1));
        // The watcher's first tick records the file's version.
        t.Clock.Advance(poll);

        await using var other = QueueStore.Open(t.Path, t.Options());
        var id = await other.GetQueue("q").EnqueueAsync("from elsewhere");
        Assert.False(receive.IsCompleted);
        t.Clock.Advance(poll);

        Assert.Equal(id, Assert.Single(await receive.WaitAsync(TestStore.Guard)).Id);
    }
#endif

    [Fact]
    public async Task ReceiveAsync_WaitingForADelayedMessage_WakesWhenItIsDue()
    {
        await using var t = TestStore.Create(o => o.PollInterval = TimeSpan.FromHours(1));
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("soon", new EnqueueOptions { Delay = TimeSpan.FromSeconds(10) });
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        // With a one-hour poll, only the message's due time can set this timer.
        await t.Clock.TimerCreatedAsync(TimeSpan.FromSeconds(10));

        t.Clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(id, Assert.Single(await receive.WaitAsync(TestStore.Guard)).Id);
    }

    [Fact]
    public async Task ReceiveAsync_WaitingForAnExpiringLease_WakesWhenItExpires()
    {
        await using var t = TestStore.Create(o => o.PollInterval = TimeSpan.FromHours(1));
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("x");
        Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(20)));
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromSeconds(20));

        t.Clock.Advance(TimeSpan.FromSeconds(20));

        var message = Assert.Single(await receive.WaitAsync(TestStore.Guard));
        Assert.Equal((id, 2), (message.Id, message.Attempt));
    }

    [Fact]
    public async Task ReceiveAsync_WaitingAndCancelled_ThrowsAndLeasesNothing()
    {
        await using var t = TestStore.Create(o => o.PollInterval = TimeSpan.FromHours(1));
        var queue = t.Store.GetQueue("q");
        using var cts = new CancellationTokenSource();
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1), cancellationToken: cts.Token).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1));

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receive.WaitAsync(TestStore.Guard));
        await queue.EnqueueAsync("after");
        Assert.Equal(1, Assert.Single(await queue.ReceiveAsync()).Attempt);
    }

    [Fact]
    public async Task ReceiveAsync_AlreadyCancelled_ThrowsAtOnce()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await queue.ReceiveAsync(cancellationToken: new CancellationToken(true)));

        Assert.Equal(1, (await queue.GetCountsAsync()).Ready);
    }

    [Fact]
    public async Task ReceiveAsync_TwoWaitingReceivers_EachGetsADifferentMessage()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var r1 = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        var r2 = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Store.GetQueue("other").EnqueueAsync("barrier");

        await queue.EnqueueBatchAsync([new byte[] { 1 }, new byte[] { 2 }]);

        var got = (await Task.WhenAll(r1, r2).WaitAsync(TestStore.Guard)).Select(r => Assert.Single(r).Id).ToList();
        Assert.Equal(2, got.Distinct().Count());
    }
}
