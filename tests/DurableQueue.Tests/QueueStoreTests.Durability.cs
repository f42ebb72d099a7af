using Dapper;

namespace DurableQueue.Tests;

/// <summary>Durability modes, and closing and reopening a file: everything committed is still there.</summary>
public sealed partial class QueueStoreTests
{
    [Theory]
    [InlineData(Durability.Full, 2)]
    [InlineData(Durability.Normal, 1)]
    public async Task Open_Durability_SetsSynchronousOnTheWriterAndRoundTrips(Durability durability, long synchronous)
    {
        await using var t = TestStore.Create(o => o.Durability = durability);
        var queue = t.Store.GetQueue("q");

        var id = await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());
        await queue.AckAsync(message);

        Assert.Equal(id, message.Id);
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
        // PRAGMA synchronous is per connection: read it on the writer's own connection, inside a unit of work.
        Assert.Equal(synchronous, await t.Store.ExecuteAsync(tx => tx.Connection.ExecuteScalar<long>("PRAGMA synchronous;")));
    }

    [Fact]
    public async Task Reopen_AfterCleanClose_MessagesLeasesAttemptsAndDeadLettersSurvive()
    {
        await using var t = TestStore.Create();
        var options = new QueueOptions { MaxAttempts = 3 };
        var queue = t.Store.GetQueue("q", options);
        var headers = new Dictionary<string, string> { ["k"] = "v" };
        var plain = await queue.EnqueueAsync("plain", new EnqueueOptions { Headers = headers, Priority = 5 });
        var nacked = await queue.EnqueueAsync("nacked", new EnqueueOptions { Priority = 3 });
        var leased = await queue.EnqueueAsync("leased", new EnqueueOptions { Priority = 3 });
        var dead = await queue.EnqueueAsync("dead", new EnqueueOptions { Priority = 3 });
        var delayed = await queue.EnqueueAsync("delayed", new EnqueueOptions { Delay = TimeSpan.FromMinutes(10), DeduplicationKey = "once" });
        var received = await queue.ReceiveAsync(3, TimeSpan.FromMinutes(1));
        Assert.Equal([nacked, leased, dead], received.Select(m => m.Id));
        await queue.NackAsync(received[0], TimeSpan.FromSeconds(30), "first failure");
        await queue.DeadLetterAsync(received[2], "poison");
        var countsBefore = await queue.GetCountsAsync();
        var peekBefore = await queue.PeekAsync();

        await t.ReopenAsync();
        queue = t.Store.GetQueue("q", options);

        Assert.Equal(countsBefore, await queue.GetCountsAsync());
        Assert.Equal(
            peekBefore.Select(m => (m.Id, m.State, m.Attempts, m.VisibleAt, m.LastError, m.DeduplicationKey)),
            (await queue.PeekAsync()).Select(m => (m.Id, m.State, m.Attempts, m.VisibleAt, m.LastError, m.DeduplicationKey)));
        Assert.Equal(["q"], await t.Store.GetQueueNamesAsync());
        // The dead letter kept its reason; the deduplication key still holds.
        Assert.Equal("poison", Assert.Single(await queue.GetDeadLettersAsync()).Reason);
        Assert.Equal(delayed, await queue.EnqueueAsync("again", new EnqueueOptions { DeduplicationKey = "once" }));
        // The lease taken before the close is still held, and its receipt still settles it.
        var first = Assert.Single(await queue.ReceiveAsync(10, TimeSpan.FromMinutes(5)));
        Assert.Equal(plain, first.Id);
        Assert.Equal(headers, first.Headers);
        await queue.ExtendLeaseAsync(received[1], TimeSpan.FromMinutes(5));
        // The nacked message comes back with its attempt counted and its error.
        t.Clock.Advance(TimeSpan.FromSeconds(30));
        var retried = Assert.Single(await queue.ReceiveAsync(10));
        Assert.Equal((nacked, 2, "first failure"), (retried.Id, retried.Attempt, retried.LastError));
        await queue.AckAsync(received[1]);
        Assert.True(await queue.RequeueDeadLetterAsync(dead));
        Assert.Equal((dead, 1), Assert.Single(await queue.ReceiveAsync(10)) is var m ? (m.Id, m.Attempt) : default);
    }

    [Fact]
    public async Task Reopen_LastLeaseExpiredWhileClosed_IsDeadLetteredOnOpen()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        var id = await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        await t.Store.DisposeAsync();

        t.Clock.Advance(TimeSpan.FromMinutes(1));
        await t.ReopenAsync();
        queue = t.Store.GetQueue("q");
        // Any write runs after the sweep that the open queued; the raw check then needs no store read.
        await t.Store.GetQueue("other").EnqueueAsync("barrier");

        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages WHERE id = @id;", new { id = id.Value }));
        var dead = Assert.Single(await queue.GetDeadLettersAsync());
        Assert.Equal((id, DeadLetterReasons.LastLeaseExpired), (dead.Id, dead.Reason));
    }

    [Fact]
    public async Task Reopen_WithDifferentDurability_KeepsData()
    {
        await using var t = TestStore.Create(o => o.Durability = Durability.Normal);
        var id = await t.Store.GetQueue("q").EnqueueAsync("x");

        await t.ReopenAsync(o => o.Durability = Durability.Full);

        Assert.Equal(id, Assert.Single(await t.Store.GetQueue("q").ReceiveAsync()).Id);
    }
}
