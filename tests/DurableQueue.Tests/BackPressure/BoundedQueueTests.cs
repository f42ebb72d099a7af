using static DurableQueue.Tests.BackPressure.BackPressureTestKit;

namespace DurableQueue.Tests.BackPressure;

public sealed class BoundedQueueTests
{
    [Fact]
    public void Ctor_Defaults()
    {
        var options = new QueueOptions();
        Assert.Null(options.MaxMessages);
        Assert.Null(options.MaxBytes);
        Assert.Equal(QueueFullMode.Wait, options.FullMode);
        Assert.Null(options.FullWaitTimeout);
        Assert.Null(new QueueStoreOptions().MaxDatabaseBytes);
    }

    [Fact]
    public async Task Validate_Invalid_Throws()
    {
        await using var t = TestStore.Create();
        var ex = Assert.Throws<ArgumentException>(() => t.Store.GetQueue("q", new QueueOptions { MaxMessages = 0 }));
        Assert.Contains("MaxMessages", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new QueueOptions { FullMode = (QueueFullMode)7 });
        Assert.Throws<ArgumentException>(() => QueueStore.Open(t.Path + "x", new QueueStoreOptions { MaxDatabaseBytes = 10 }));
    }

    [Fact]
    public async Task GetQueue_DifferentBounds_Conflicts()
    {
        await using var t = TestStore.Create();
        t.Store.GetQueue("q", Bounded(maxMessages: 2));
        Assert.Throws<InvalidOperationException>(() => t.Store.GetQueue("q", Bounded(maxMessages: 3)));
    }

    [Fact]
    public async Task EnqueueAsync_RejectWhenFull_ThrowsAndLeavesNoRow()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("jobs", Bounded(maxMessages: 2, mode: QueueFullMode.Reject));
        await queue.EnqueueAsync("a");
        await queue.EnqueueAsync("b");

        var ex = await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueAsync("c"));

        Assert.Equal("jobs", ex.QueueName);
        Assert.Equal(QueueLimit.MaxMessages, ex.Limit);
        Assert.Equal(2, ex.Capacity);
        Assert.False(ex.NeverFits);
        Assert.InRange(ex.RetryAfter, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30));
        Assert.Contains("'jobs'", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, RowCount(t.Path));
        Assert.Equal(1, queue.GetBackPressureStats().Rejected);
    }

    [Fact]
    public async Task EnqueueAsync_MaxBytes_CountsBodyBytes()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxBytes: 10, mode: QueueFullMode.Reject));
        await queue.EnqueueAsync(new byte[6]);
        var ex = await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueAsync(new byte[5]));
        Assert.Equal(QueueLimit.MaxBytes, ex.Limit);
        Assert.Equal(10, ex.Capacity);
        await queue.EnqueueAsync(new byte[4]);

        var stats = queue.GetBackPressureStats();
        Assert.Equal(2, stats.Messages);
        Assert.Equal(10, stats.Bytes);
    }

    [Fact]
    public async Task TryEnqueueAsync_Full_ReturnsNullAndLeavesNoRow()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1));
        Assert.NotNull(await queue.TryEnqueueAsync("a"));
        Assert.Null(await queue.TryEnqueueAsync("b"));
        Assert.Equal(1, RowCount(t.Path));
    }

    [Fact]
    public async Task EnqueueBatchAsync_DoesNotFitWhole_AddsNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 5, mode: QueueFullMode.Reject));
        await queue.EnqueueBatchAsync([new byte[1], new byte[1], new byte[1]]);

        await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueBatchAsync([new byte[1], new byte[1], new byte[1]]));
        Assert.Equal(3, RowCount(t.Path));
        Assert.Null(await queue.TryEnqueueBatchAsync([new OutgoingMessage(new byte[1]), new OutgoingMessage(new byte[1]), new OutgoingMessage(new byte[1])]));
        Assert.Equal(3, RowCount(t.Path));

        Assert.Equal(2, (await queue.EnqueueBatchAsync([new byte[1], new byte[1]])).Count);
        Assert.Equal(5, RowCount(t.Path));
    }

    [Theory]
    [InlineData(QueueFullMode.Wait)]
    [InlineData(QueueFullMode.Reject)]
    [InlineData(QueueFullMode.DropOldest)]
    public async Task EnqueueBatchAsync_LargerThanBound_NeverFitsInAnyMode(QueueFullMode mode)
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 2, mode: mode));
        var ex = await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueBatchAsync([new byte[1], new byte[1], new byte[1]]));
        Assert.True(ex.NeverFits);
        Assert.Equal(0, RowCount(t.Path));
    }

    [Fact]
    public async Task EnqueueAsync_DuplicateKeyOnFullQueue_ReturnsExistingId()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1, mode: QueueFullMode.Reject));
        var id = await queue.EnqueueAsync("a", new EnqueueOptions { DeduplicationKey = "k" });
        Assert.Equal(id, await queue.EnqueueAsync("a again", new EnqueueOptions { DeduplicationKey = "k" }));
        await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueAsync("b", new EnqueueOptions { DeduplicationKey = "other" }));
        Assert.Equal(1, RowCount(t.Path));
    }

    [Fact]
    public async Task AckAndDeadLetterAndPurge_FreeRoom()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1, mode: QueueFullMode.Reject));
        await queue.EnqueueAsync("a");
        await queue.AckAsync(Assert.Single(await queue.ReceiveAsync()));
        await queue.EnqueueAsync("b");
        await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "bad");
        await queue.EnqueueAsync("c");
        await queue.PurgeAsync();
        await queue.EnqueueAsync("d");

        var stats = queue.GetBackPressureStats();
        Assert.Equal(1, stats.Messages);
        Assert.Equal(1, stats.DeadLetters);
    }

    [Fact]
    public async Task RequeueDeadLetterAsync_Full_ThrowsAndKeepsDeadLetter()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1, mode: QueueFullMode.Wait));
        var dead = await queue.EnqueueAsync("dead");
        await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "bad");
        await queue.EnqueueAsync("live");

        await Assert.ThrowsAsync<QueueFullException>(async () => await queue.RequeueDeadLetterAsync(dead));
        Assert.NotNull(await queue.GetDeadLetterAsync(dead));
        Assert.Equal(1, RowCount(t.Path));

        await queue.AckAsync(Assert.Single(await queue.ReceiveAsync()));
        Assert.True(await queue.RequeueDeadLetterAsync(dead));
    }

    [Fact]
    public async Task RequeueDeadLettersAsync_ChunkDoesNotFit_ThrowsAndKeepsTheChunk()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 3, mode: QueueFullMode.Reject));
        for (var i = 0; i < 3; i++)
        {
            await queue.EnqueueAsync("m");
            await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "bad");
        }

        await queue.EnqueueAsync("live");
        await Assert.ThrowsAsync<QueueFullException>(async () => await queue.RequeueDeadLettersAsync());
        Assert.Equal(1, RowCount(t.Path));
        Assert.Equal(3, queue.GetBackPressureStats().DeadLetters);

        await queue.AckAsync(Assert.Single(await queue.ReceiveAsync()));
        Assert.Equal(3, await queue.RequeueDeadLettersAsync());
        Assert.Equal(3, RowCount(t.Path));
    }

    [Fact]
    public async Task UnitOfWorkEnqueue_Full_ThrowsAndCaughtErrorLeavesNoRow()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1, mode: QueueFullMode.Wait));
        await queue.EnqueueAsync("a");

        await Assert.ThrowsAsync<QueueFullException>(async () => await t.Store.ExecuteAsync(tx => tx.Enqueue("q", "b")));
        var caught = await t.Store.ExecuteAsync(tx =>
        {
            try
            {
                tx.Enqueue("q", "c");
                return false;
            }
            catch (QueueFullException)
            {
                return true;
            }
        });

        Assert.True(caught);
        Assert.Equal(1, RowCount(t.Path));
    }

    [Fact]
    public async Task RetryAfter_FollowsDrainRate()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 10, mode: QueueFullMode.Reject));
        for (var i = 0; i < 10; i++)
        {
            await queue.EnqueueAsync("m");
        }

        var first = await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueAsync("x"));
        Assert.Equal(TimeSpan.FromSeconds(1), first.RetryAfter); // no drain measured yet

        // Four messages leave in two seconds: 2 per second, so one message of room takes about half a second.
        t.Clock.Advance(TimeSpan.FromSeconds(2));
        foreach (var message in await queue.ReceiveAsync(4))
        {
            await queue.AckAsync(message);
        }

        for (var i = 0; i < 4; i++)
        {
            await queue.EnqueueAsync("m");
        }

        var second = await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueAsync("x"));
        Assert.Equal(TimeSpan.FromSeconds(0.5), second.RetryAfter);
        Assert.Equal(2.0, queue.GetBackPressureStats().DrainRate);
    }

    [Fact]
    public async Task UnboundedQueue_TryEnqueue_AlwaysAdds()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        Assert.NotNull(await queue.TryEnqueueAsync("a"));
        var stats = queue.GetBackPressureStats();
        Assert.Null(stats.MaxMessages);
        Assert.Equal(1, stats.Messages);
    }
}
