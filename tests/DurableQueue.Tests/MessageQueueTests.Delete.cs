namespace DurableQueue.Tests;

/// <summary>Deleting one live message by id, alone or inside a unit of work.</summary>
public sealed partial class MessageQueueTests
{
    [Fact]
    public async Task DeleteAsync_EachState_RemovesOnlyThatMessage()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var other = t.Store.GetQueue("other");
        var ready = await queue.EnqueueAsync("ready");
        var delayed = await queue.EnqueueAsync("delayed", new EnqueueOptions { Delay = TimeSpan.FromMinutes(5) });
        var leasedId = await queue.EnqueueAsync("leased", new EnqueueOptions { Priority = 0 });
        var keep = await queue.EnqueueAsync("keep");
        var elsewhere = await other.EnqueueAsync("other queue");
        var leased = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(leasedId, leased.Id);

        Assert.True(await queue.DeleteAsync(ready));
        Assert.True(await queue.DeleteAsync(delayed));
        Assert.True(await queue.DeleteAsync(leasedId));

        Assert.False(await queue.DeleteAsync(ready));            // gone already
        Assert.False(await queue.DeleteAsync(elsewhere));        // another queue's message
        Assert.False(await queue.DeleteAsync(new MessageId(999)));
        Assert.Equal([keep], (await queue.PeekAsync()).Select(m => m.Id));
        Assert.NotNull(await other.GetMessageAsync(elsewhere));
        // The consumer that held the deleted message's lease cannot settle it.
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.AckAsync(leased));
        Assert.Equal((keep, 1), Assert.Single(await queue.ReceiveAsync(maxMessages: 10)) is var m ? (m.Id, m.Attempt) : default);
    }

    [Fact]
    public async Task DeleteAsync_DeadLetter_IsNotTouched()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        var id = await queue.EnqueueAsync("x");
        await queue.NackAsync(Assert.Single(await queue.ReceiveAsync()));

        Assert.False(await queue.DeleteAsync(id));
        Assert.NotNull(await queue.GetDeadLetterAsync(id));
    }

    [Fact]
    public async Task Delete_InUnitOfWork_MovesAtomicallyAndRollsBackWithTheUnit()
    {
        await using var t = TestStore.Create();
        var source = t.Store.GetQueue("source");
        var target = t.Store.GetQueue("target");
        var id = await source.EnqueueAsync("x");

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await t.Store.ExecuteAsync(tx =>
        {
            Assert.True(tx.Delete("source", id));
            tx.Enqueue("target", "x");
            throw new InvalidOperationException("roll back");
        }));
        Assert.NotNull(await source.GetMessageAsync(id));
        Assert.Equal(0, (await target.GetCountsAsync()).Total);

        var moved = await t.Store.ExecuteAsync(tx => tx.Delete("source", id) ? tx.Enqueue("target", "x") : (MessageId?)null);

        Assert.NotNull(moved);
        Assert.Null(await source.GetMessageAsync(id));
        Assert.Equal(moved, Assert.Single(await target.PeekAsync()).Id);
        Assert.False(await t.Store.ExecuteAsync(tx => tx.Delete("source", id)));
    }

    [Fact]
    public async Task DeleteAsync_BoundedQueue_FreesRoomForAWaitingProducer()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxMessages = 1, FullMode = QueueFullMode.Wait });
        var first = await queue.EnqueueAsync("first");
        var waiting = queue.EnqueueAsync("second").AsTask();
        Assert.False(waiting.IsCompleted);

        Assert.True(await queue.DeleteAsync(first));

        Assert.Same(waiting, await Task.WhenAny(waiting, Task.Delay(TestStore.Guard)));
        Assert.Equal(await waiting, Assert.Single(await queue.PeekAsync()).Id);
    }
}
