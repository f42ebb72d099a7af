using System.Collections.Concurrent;
using static DurableQueue.Tests.BackPressure.BackPressureTestKit;

namespace DurableQueue.Tests.BackPressure;

public sealed class DropOldestTests
{
    [Fact]
    public async Task EnqueueAsync_Full_DropsOldestReadyNeverLeasedOrDelayed()
    {
        await using var t = TestStore.Create();
        var dropped = new ConcurrentQueue<MessagesDroppedEventArgs>();
        t.Store.MessagesDropped += (_, e) => dropped.Enqueue(e);
        var queue = t.Store.GetQueue("telemetry", Bounded(maxMessages: 4, mode: QueueFullMode.DropOldest));
        var m1 = await queue.EnqueueAsync("1");
        var m2 = await queue.EnqueueAsync("2", new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        var m3 = await queue.EnqueueAsync("3");
        var m4 = await queue.EnqueueAsync("4");
        Assert.Equal(m1, Assert.Single(await queue.ReceiveAsync()).Id); // m1 leased

        var m5 = await queue.EnqueueAsync("5");

        await UntilAsync(() => !dropped.IsEmpty, "the drop is reported");
        var report = Assert.Single(dropped);
        Assert.Equal("telemetry", report.QueueName);
        Assert.Equal([m3], report.MessageIds);
        var live = (await queue.PeekAsync(10)).Select(m => m.Id).Order().ToArray();
        Assert.Equal([m1, m2, m4, m5], live);
        Assert.Equal(1, queue.GetBackPressureStats().Dropped);
    }

    [Fact]
    public async Task EnqueueAsync_OnlyLeasedAndDelayedLeft_ThrowsAndAddsNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 2, mode: QueueFullMode.DropOldest));
        await queue.EnqueueAsync("leased");
        await queue.EnqueueAsync("delayed", new EnqueueOptions { Delay = TimeSpan.FromMinutes(5) });
        Assert.Single(await queue.ReceiveAsync());

        var ex = await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueAsync("new"));
        Assert.Contains("dropped", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, RowCount(t.Path));
        Assert.Null(await queue.TryEnqueueAsync("new"));
        Assert.Equal(0, queue.GetBackPressureStats().Dropped);
    }

    [Fact]
    public async Task EnqueueBatchAsync_MaxBytes_DropsEnoughForTheWholeBatch()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", Bounded(maxBytes: 100, mode: QueueFullMode.DropOldest));
        var ids = new List<MessageId>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add(await queue.EnqueueAsync(new byte[10]));
        }

        await queue.EnqueueBatchAsync([new byte[15], new byte[10]]);

        var live = (await queue.PeekAsync(100)).Select(m => m.Id).ToHashSet();
        Assert.DoesNotContain(ids[0], live);
        Assert.DoesNotContain(ids[1], live);
        Assert.DoesNotContain(ids[2], live);
        Assert.Contains(ids[3], live);
        Assert.Equal(3, queue.GetBackPressureStats().Dropped);
        Assert.True(queue.GetBackPressureStats().Bytes <= 100);
    }

    [Fact]
    public async Task RandomWorkload_DropsExactlyWhatItReports()
    {
        await using var t = TestStore.Create();
        var reported = new ConcurrentQueue<MessageId>();
        t.Store.MessagesDropped += (_, e) =>
        {
            foreach (var id in e.MessageIds)
            {
                reported.Enqueue(id);
            }
        };
        var queue = t.Store.GetQueue("q", Bounded(maxMessages: 8, mode: QueueFullMode.DropOldest));
        var random = new Random(1234);
        var enqueued = new HashSet<MessageId>();
        var gone = new HashSet<MessageId>();       // acked
        var vanished = new HashSet<MessageId>(); // left the queue without an ack
        var leased = new List<QueueMessage>();
        var delayed = new HashSet<MessageId>();

        for (var step = 0; step < 300; step++)
        {
            var before = (await queue.PeekAsync(100)).ToDictionary(m => m.Id);
            switch (random.Next(6))
            {
                case 0 or 1 or 2:
                    var delay = random.Next(4) == 0 ? TimeSpan.FromSeconds(random.Next(1, 5)) : (TimeSpan?)null;
                    try
                    {
                        var id = await queue.EnqueueAsync("m", new EnqueueOptions { Delay = delay });
                        enqueued.Add(id);
                    }
                    catch (QueueFullException)
                    {
                    }

                    break;
                case 3:
                    leased.AddRange(await queue.ReceiveAsync(2));
                    break;
                case 4 when leased.Count > 0:
                    var message = leased[random.Next(leased.Count)];
                    leased.Remove(message);
                    try
                    {
                        await queue.AckAsync(message);
                        gone.Add(message.Id);
                    }
                    catch (LeaseLostException)
                    {
                    }

                    break;
                default:
                    t.Clock.Advance(TimeSpan.FromSeconds(1));
                    break;
            }

            var after = (await queue.PeekAsync(100)).Select(m => m.Id).ToHashSet();
            foreach (var (id, info) in before)
            {
                if (!after.Contains(id) && !gone.Contains(id))
                {
                    // It vanished in this step without an ack: only a drop may do that, and only to a ready message.
                    Assert.Equal(MessageState.Ready, info.State);
                    vanished.Add(id);
                }
            }

            Assert.True(after.Count <= 8);
        }

        var dropped = queue.GetBackPressureStats().Dropped;
        await UntilAsync(() => reported.Count == dropped, "every drop is reported");
        Assert.Equal(vanished.Order(), reported.Order());
        Assert.True(dropped > 0, "the workload should have filled the queue");
        var live = (await queue.PeekAsync(100)).Select(m => m.Id).ToHashSet();
        Assert.Equal(enqueued.Except(gone).Except(reported).Order(), live.Order());
    }
}
