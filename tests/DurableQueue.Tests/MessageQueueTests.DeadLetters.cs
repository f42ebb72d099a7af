using System.Text;
using Dapper;

namespace DurableQueue.Tests;

/// <summary>Attempts and dead letters: when the last attempt fails the message moves at once; list, requeue, purge.</summary>
public sealed partial class MessageQueueTests
{
    [Fact]
    public async Task NackAsync_OnLastAttempt_DeadLettersWithLastErrorAttemptsAndTimes()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 2 });
        var id = await queue.EnqueueAsync("x");
        var first = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(NackOutcome.Retrying, await queue.NackAsync(first, TimeSpan.Zero, "first error"));
        t.Clock.Advance(TimeSpan.FromSeconds(3));
        var last = Assert.Single(await queue.ReceiveAsync());
        Assert.True(last.IsLastAttempt);

        var outcome = await queue.NackAsync(last, TimeSpan.FromMinutes(1), "second error");

        Assert.Equal(NackOutcome.DeadLettered, outcome);
        Assert.Equal(new QueueCounts(0, 0, 0, 1, null), await queue.GetCountsAsync());
        Assert.Empty(await queue.ReceiveAsync());
        var dead = Assert.Single(await queue.GetDeadLettersAsync());
        Assert.Equal(id, dead.Id);
        Assert.Equal((2, 2), (dead.Attempts, dead.MaxAttempts));
        Assert.Equal("second error", dead.LastError);
        Assert.Equal(DeadLetterReasons.LastAttemptFailed, dead.Reason);
        Assert.Equal(TestClock.Epoch, dead.EnqueuedAt);
        Assert.Equal(TestClock.Epoch.AddSeconds(3), dead.DeadLetteredAt);
    }

    [Fact]
    public async Task NackAsync_MessageMaxAttemptsOverride_WinsOverTheQueueDefault()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 10 });
        await queue.EnqueueAsync("x", new EnqueueOptions { MaxAttempts = 1 });
        var message = Assert.Single(await queue.ReceiveAsync());

        Assert.Equal(NackOutcome.DeadLettered, await queue.NackAsync(message, TimeSpan.Zero, null));

        var dead = Assert.Single(await queue.GetDeadLettersAsync());
        Assert.Null(dead.LastError);
        Assert.Equal(1, dead.MaxAttempts);
    }

    [Fact]
    public async Task ReceiveAsync_LastLeaseExpires_DeadLetteredAtThatMomentWithoutAnotherReceive()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 2 });
        var id = await queue.EnqueueAsync("x");
        await queue.NackAsync(Assert.Single(await queue.ReceiveAsync()), TimeSpan.Zero, "handler crashed");
        var last = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        t.Clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(new QueueCounts(0, 0, 1, 0, null), await queue.GetCountsAsync());

        t.Clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(new QueueCounts(0, 0, 0, 1, null), await queue.GetCountsAsync());
        var dead = Assert.Single(await queue.GetDeadLettersAsync());
        Assert.Equal(id, dead.Id);
        Assert.Equal(DeadLetterReasons.LastLeaseExpired, dead.Reason);
        Assert.Equal("handler crashed", dead.LastError);
        Assert.Equal(2, dead.Attempts);
        Assert.Equal(last.LeaseExpiresAt, dead.DeadLetteredAt);
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.AckAsync(last));
    }

    [Fact]
    public async Task ReceiveAsync_LastLeaseExpires_MovedInTheFileBeforeAnyRead()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        var id = await queue.EnqueueAsync("x");
        Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));

        t.Clock.Advance(TimeSpan.FromSeconds(10));
        // Any write of the store (here to another queue) runs after the expiry and leaves the file swept.
        await t.Store.GetQueue("other").EnqueueAsync("unrelated");

        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages WHERE id = @id;", new { id = id.Value }));
        Assert.Equal(1, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_dead_letters WHERE id = @id;", new { id = id.Value }));
    }

    [Fact]
    public async Task ReceiveAsync_LastLeaseExpires_TheStoresTimerMovesItWithNoCallAtAll()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        var id = await queue.EnqueueAsync("x");
        Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        using var raw = t.OpenRaw();
        long DeadLetters() => raw.ExecuteScalar<long>("SELECT count(*) FROM dq_dead_letters WHERE id = @id;", new { id = id.Value });
        t.Clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, DeadLetters());

        t.Clock.Advance(TimeSpan.FromMilliseconds(1));

        // Nothing calls the store now: only its own timer can move the message. Wait for that commit to show in the file.
        Assert.True(SpinWait.SpinUntil(() => DeadLetters() == 1, TestStore.Guard), "the expired last lease was not dead-lettered");
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages;"));
    }

    [Fact]
    public async Task ExtendLeaseAsync_OnLastAttempt_DeadLettersOnlyAtTheExtendedExpiry()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        t.Clock.Advance(TimeSpan.FromSeconds(5));
        var until = await queue.ExtendLeaseAsync(message, TimeSpan.FromSeconds(60));

        t.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(new QueueCounts(0, 0, 1, 0, null), await queue.GetCountsAsync());
        t.Clock.Advance(TimeSpan.FromSeconds(50));

        Assert.Equal(new QueueCounts(0, 0, 0, 1, null), await queue.GetCountsAsync());
        Assert.Equal(until, Assert.Single(await queue.GetDeadLettersAsync()).DeadLetteredAt);
    }

    [Fact]
    public async Task ReceiveAsync_EarlierLeaseExpires_RedeliversInsteadOfDeadLettering()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 3 });
        await queue.EnqueueAsync("x");

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
            Assert.Equal(attempt, message.Attempt);
            Assert.Equal(attempt == 3, message.IsLastAttempt);
            Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
            t.Clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(new QueueCounts(0, 0, 0, 1, null), await queue.GetCountsAsync());
        Assert.Equal(3, Assert.Single(await queue.GetDeadLettersAsync()).Attempts);
    }

    [Fact]
    public async Task GetDeadLettersAsync_Paging_ReturnsInIdOrderAfterTheGivenId()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var ids = await DeadLetterAsync(queue, 5);

        var page1 = await queue.GetDeadLettersAsync(2);
        var page2 = await queue.GetDeadLettersAsync(2, page1[^1].Id);
        var page3 = await queue.GetDeadLettersAsync(2, page2[^1].Id);

        Assert.Equal(ids, page1.Concat(page2).Concat(page3).Select(d => d.Id));
        Assert.Single(page3);
        Assert.Empty(await queue.GetDeadLettersAsync(10, page3[^1].Id));
    }

    [Fact]
    public async Task GetDeadLetterAsync_UnknownOrOtherQueuesId_ReturnsNull()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var other = t.Store.GetQueue("other");
        var ids = await DeadLetterAsync(queue, 1);

        Assert.NotNull(await queue.GetDeadLetterAsync(ids[0]));
        Assert.Null(await other.GetDeadLetterAsync(ids[0]));
        Assert.Null(await queue.GetDeadLetterAsync(new MessageId(ids[0].Value + 1000)));
        Assert.Empty(await other.GetDeadLettersAsync());
    }

    [Fact]
    public async Task RequeueDeadLetterAsync_One_KeepsIdAndBodyAndResetsAttempts()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        var headers = new Dictionary<string, string> { ["k"] = "v" };
        var id = await queue.EnqueueAsync("payload", new EnqueueOptions { Priority = 6, Headers = headers });
        var keep = await queue.EnqueueAsync("stays dead");
        await queue.NackAsync(Assert.Single(await queue.ReceiveAsync()), TimeSpan.Zero, "boom");
        await queue.NackAsync(Assert.Single(await queue.ReceiveAsync()), TimeSpan.Zero, "boom");
        t.Clock.Advance(TimeSpan.FromMinutes(1));

        Assert.True(await queue.RequeueDeadLetterAsync(id));

        Assert.Equal(new QueueCounts(1, 0, 0, 1, TestClock.Epoch), await queue.GetCountsAsync());
        Assert.Null(await queue.GetDeadLetterAsync(id));
        Assert.NotNull(await queue.GetDeadLetterAsync(keep));
        var again = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal((id, "payload", 6, 1, 1), (again.Id, again.GetBodyAsString(), again.Priority, again.Attempt, again.MaxAttempts));
        Assert.Equal(headers, again.Headers);
        Assert.False(await queue.RequeueDeadLetterAsync(id));
        Assert.False(await queue.RequeueDeadLetterAsync(new MessageId(9999)));
    }

    [Fact]
    public async Task RequeueDeadLetterAsync_RequeuedMessageFailsAgain_IsDeadLetteredAgain()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        var id = (await DeadLetterAsync(queue, 1))[0];
        await queue.RequeueDeadLetterAsync(id);

        await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "still bad");

        Assert.Equal("still bad", (await queue.GetDeadLetterAsync(id))!.Reason);
    }

    [Fact]
    public async Task RequeueDeadLetterAsync_DeduplicationKeyTakenMeanwhile_RequeuesWithoutTheKey()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var options = new EnqueueOptions { DeduplicationKey = "k" };
        var dead = await queue.EnqueueAsync("old", options);
        await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "bad");
        var live = await queue.EnqueueAsync("new", options);
        Assert.NotEqual(dead, live);

        Assert.True(await queue.RequeueDeadLetterAsync(dead));

        var peeked = await queue.PeekAsync();
        Assert.Equal(2, peeked.Count);
        Assert.Equal("k", peeked.Single(m => m.Id == live).DeduplicationKey);
        Assert.Null(peeked.Single(m => m.Id == dead).DeduplicationKey);
        Assert.Equal(live, await queue.EnqueueAsync("newer", options));
    }

    [Fact]
    public async Task RequeueDeadLettersAsync_All_MovesEveryDeadLetterOfThisQueueBack()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var other = t.Store.GetQueue("other");
        var ids = await DeadLetterAsync(queue, 3);
        await DeadLetterAsync(other, 2);

        Assert.Equal(3, await queue.RequeueDeadLettersAsync());

        Assert.Equal(3, (await queue.GetCountsAsync()).Ready);
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
        Assert.Equal(2, (await other.GetCountsAsync()).DeadLettered);
        Assert.Equal(ids, (await queue.ReceiveAsync(10)).Select(m => m.Id).Order());
        Assert.Equal(0, await queue.RequeueDeadLettersAsync());
    }

    [Fact]
    public async Task PurgeDeadLettersAsync_DeletesOnlyThisQueuesDeadLetters()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var other = t.Store.GetQueue("other");
        await DeadLetterAsync(queue, 3);
        await DeadLetterAsync(other, 1);
        await queue.EnqueueAsync("live");

        Assert.Equal(3, await queue.PurgeDeadLettersAsync());

        Assert.Empty(await queue.GetDeadLettersAsync());
        Assert.Single(await other.GetDeadLettersAsync());
        Assert.Equal(1, (await queue.GetCountsAsync()).Ready);
        Assert.Equal(0, await queue.PurgeDeadLettersAsync());
    }

    /// <summary>Enqueues <paramref name="count"/> messages and dead-letters them all; returns their ids in order.</summary>
    private static async Task<List<MessageId>> DeadLetterAsync(MessageQueue queue, int count)
    {
        var ids = new List<MessageId>();
        for (var i = 0; i < count; i++)
        {
            ids.Add(await queue.EnqueueAsync(Encoding.UTF8.GetBytes($"{queue.Name}-{i}")));
        }

        foreach (var message in await queue.ReceiveAsync(count))
        {
            await queue.DeadLetterAsync(message, "test");
        }

        return ids;
    }
}
