using static DurableQueue.Tests.BackPressure.BackPressureTestKit;

namespace DurableQueue.Tests.BackPressure;

public sealed class WaitModeTests
{
    [Fact]
    public async Task EnqueueAsync_Waiters_AdmittedInArrivalOrder()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1));
        await queue.EnqueueAsync("first");

        var producers = new List<Task<MessageId>>();
        foreach (var name in new[] { "A", "B", "C", "D" })
        {
            producers.Add(queue.EnqueueAsync(name).AsTask());
            var expected = producers.Count;
            await UntilAsync(() => queue.GetBackPressureStats().Waiting == expected, $"{name} waits");
        }

        // Each ack makes room for exactly one; it must go to the longest waiter.
        var admitted = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var message = Assert.Single(await queue.ReceiveAsync());
            await queue.AckAsync(message);
            var done = await Task.WhenAny(producers).WaitAsync(TimeSpan.FromSeconds(10));
            producers.Remove(done);
            var info = await queue.GetMessageAsync(await done);
            admitted.Add(info!.Body.Span.Length == 1 ? ((char)info.Body.Span[0]).ToString() : "?");
            Assert.All(producers, p => Assert.False(p.IsCompleted));
        }

        Assert.Equal(["A", "B", "C", "D"], admitted);
        var stats = queue.GetBackPressureStats();
        Assert.Equal(4, stats.Waited);
        Assert.Equal(0, stats.Waiting);
    }

    [Fact]
    public async Task EnqueueAsync_CancelledWhileWaiting_LeavesNoTrace()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1));
        await queue.EnqueueAsync("first");
        using var cts = new CancellationTokenSource();
        var cancelled = queue.EnqueueAsync("cancelled", cancellationToken: cts.Token).AsTask();
        await UntilAsync(() => queue.GetBackPressureStats().Waiting == 1, "the producer waits");
        var next = queue.EnqueueAsync("next").AsTask();
        await UntilAsync(() => queue.GetBackPressureStats().Waiting == 2, "the second producer waits");

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        await UntilAsync(() => queue.GetBackPressureStats().Waiting == 1, "the cancelled producer left the line");

        // The line moves on to the next producer, and the cancelled message never appears.
        await queue.AckAsync(Assert.Single(await queue.ReceiveAsync()));
        var id = await next.WaitAsync(TimeSpan.FromSeconds(10));
        var left = Assert.Single(await queue.PeekAsync(10));
        Assert.Equal(id, left.Id);
        Assert.Equal("next", System.Text.Encoding.UTF8.GetString(left.Body.Span));
        Assert.Equal(1, RowCount(t.Path));
    }

    [Fact]
    public async Task EnqueueAsync_WaitTimesOut_ThrowsQueueFullAndLeavesNoRow()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1, timeout: TimeSpan.FromSeconds(5)));
        await queue.EnqueueAsync("first");
        var waiting = queue.EnqueueAsync("late").AsTask();
        await UntilAsync(() => queue.GetBackPressureStats().Waiting == 1, "the producer waits");

        var advanced = await AdvanceUntilAsync(t.Clock, TimeSpan.FromMilliseconds(100), waiting);
        Assert.True(advanced >= TimeSpan.FromSeconds(5), advanced.ToString());

        var ex = await Assert.ThrowsAsync<QueueFullException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(QueueLimit.MaxMessages, ex.Limit);
        Assert.Equal(1, RowCount(t.Path));
        var stats = queue.GetBackPressureStats();
        Assert.Equal(1, stats.Rejected);
        Assert.Equal(0, stats.Waiting);
        Assert.True(stats.WaitTime >= TimeSpan.FromSeconds(5), stats.WaitTime.ToString());
    }

    [Fact]
    public async Task EnqueueAsync_RoomFreedByAnotherStoreOnTheFile_NoticedAtPollInterval()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1));
        await queue.EnqueueAsync("first");
        // A second store on the same file stands for another process: its acks do not signal this store.
        await using var other = t.OpenSecond();
        var otherQueue = other.GetQueue("q", Bounded(maxMessages: 1));

        var waiting = queue.EnqueueAsync("second").AsTask();
        await UntilAsync(() => queue.GetBackPressureStats().Waiting == 1, "the producer waits");
        await otherQueue.AckAsync(Assert.Single(await otherQueue.ReceiveAsync()));
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        await AdvanceUntilAsync(t.Clock, t.Store.Options.PollInterval, waiting);
        await waiting;
        Assert.Equal(1, RowCount(t.Path));
    }

    [Fact]
    public async Task TryEnqueueAsync_WhileOthersWait_DoesNotJumpTheLine()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 1));
        await queue.EnqueueAsync("first");
        var waiting = queue.EnqueueAsync("waiting").AsTask();
        await UntilAsync(() => queue.GetBackPressureStats().Waiting == 1, "the producer waits");

        // Room appears through another store (no signal here), so the waiter has not taken it yet.
        await using var other = t.OpenSecond();
        var otherQueue = other.GetQueue("q", Bounded(maxMessages: 1));
        await otherQueue.AckAsync(Assert.Single(await otherQueue.ReceiveAsync()));

        Assert.Null(await queue.TryEnqueueAsync("newcomer"));
        await AdvanceUntilAsync(t.Clock, t.Store.Options.PollInterval, waiting);
        await waiting;
        Assert.Equal("waiting", System.Text.Encoding.UTF8.GetString(Assert.Single(await queue.PeekAsync()).Body.Span));
    }
}
