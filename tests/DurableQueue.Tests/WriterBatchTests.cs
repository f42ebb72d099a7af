using Dapper;

namespace DurableQueue.Tests;

/// <summary>The writer's batching shortcuts keep every request's outcome its own.</summary>
public sealed class WriterBatchTests
{
    [Fact]
    public async Task Writer_KeepsSavepointJournalsInMemory()
    {
        await using var t = TestStore.Create();

        var tempStore = await t.Store.ExecuteAsync(tx => tx.Connection.ExecuteScalar<long>("PRAGMA temp_store;"));

        Assert.Equal(2, tempStore); // MEMORY
    }

    [Fact]
    public async Task AckAsync_LostLeaseInASharedBatch_FailsAloneAndTheOthersCommit()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("a");
        await queue.EnqueueAsync("b");
        var received = await queue.ReceiveAsync(2);
        var a = received.Single(m => m.GetBodyAsString() == "a");
        var b = received.Single(m => m.GetBodyAsString() == "b");
        await queue.AckAsync(b);
        var gate = await WriterGate.HoldAsync(t.Store);
        var commitsBefore = t.Store.Writer.Commits;

        var enqueueC = queue.EnqueueAsync("c").AsTask();
        var ackBAgain = queue.AckAsync(b).AsTask();
        var ackA = queue.AckAsync(a).AsTask();
        var enqueueD = queue.EnqueueAsync("d").AsTask();
        await gate.ReleaseAsync();

        await Task.WhenAll(enqueueC, ackA, enqueueD).WaitAsync(TestStore.Guard);
        await Assert.ThrowsAsync<LeaseLostException>(() => ackBAgain);
        // The held unit of work, then one commit for all four requests.
        Assert.Equal(2, t.Store.Writer.Commits - commitsBefore);
        Assert.Null(await queue.GetMessageAsync(a.Id));
        var rest = await queue.ReceiveAsync(10);
        Assert.Equal(["c", "d"], rest.Select(m => m.GetBodyAsString()));
    }
}
