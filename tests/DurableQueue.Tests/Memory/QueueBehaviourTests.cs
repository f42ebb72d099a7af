using System.Text;

namespace DurableQueue.Tests.Memory;

/// <summary>
/// The queue's behaviour, run once per memory budget: off, a few messages (so every test crosses the spill
/// boundary), and unlimited. The memory tier changes speed, never behaviour, so each case passes the same way.
/// </summary>
public abstract class QueueBehaviourTests
{
    private readonly long _budget;

    protected QueueBehaviourTests(long budget) => _budget = budget;

    /// <summary>About three 16-byte messages' worth of tier entries.</summary>
    internal const long TinyBudget = 3 * 200;

    private TestStore Create(Action<QueueStoreOptions>? configure = null) => TestStore.Create(o =>
    {
        o.MemoryBudgetBytes = _budget;
        configure?.Invoke(o);
    });

    private static ReadOnlyMemory<byte> Body(int i) => Encoding.UTF8.GetBytes($"message-{i:D8}");

    [Fact]
    public async Task Receive_ManyPriorities_DeliversPriorityThenFifo()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        var expected = new List<(int Priority, MessageId Id)>();
        for (var i = 0; i < 60; i++)
        {
            var priority = (i * 7) % 10;
            expected.Add((priority, await queue.EnqueueAsync(Body(i), new EnqueueOptions { Priority = priority })));
        }

        var received = new List<MessageId>();
        while (await queue.ReceiveAsync(maxMessages: 7) is { Count: > 0 } batch)
        {
            received.AddRange(batch.Select(m => m.Id));
        }

        Assert.Equal(expected.OrderBy(e => e.Priority).ThenBy(e => e.Id).Select(e => e.Id), received);
    }

    [Fact]
    public async Task Receive_DelayedMessages_ComeWhenDueInReadyOrder()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        var late = await queue.EnqueueAsync(Body(1), new EnqueueOptions { Delay = TimeSpan.FromSeconds(20) });
        var early = await queue.EnqueueAsync(Body(2), new EnqueueOptions { Delay = TimeSpan.FromSeconds(10) });
        var now = await queue.EnqueueAsync(Body(3));

        Assert.Equal([now], (await queue.ReceiveAsync(10)).Select(m => m.Id));
        t.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([early], (await queue.ReceiveAsync(10)).Select(m => m.Id));
        t.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([late], (await queue.ReceiveAsync(10)).Select(m => m.Id));
    }

    [Fact]
    public async Task Nack_GoesBehindMessagesAlreadyWaiting()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        var ids = new List<MessageId>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await queue.EnqueueAsync(Body(i)));
        }

        var first = Assert.Single(await queue.ReceiveAsync());
        t.Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(NackOutcome.Retrying, await queue.NackAsync(first, error: "boom"));

        var order = new List<QueueMessage>();
        while (await queue.ReceiveAsync(maxMessages: 2) is { Count: > 0 } batch)
        {
            order.AddRange(batch);
        }

        Assert.Equal(ids.Skip(1).Append(ids[0]), order.Select(m => m.Id));
        Assert.Equal(2, order[^1].Attempt);
        Assert.Equal("boom", order[^1].LastError);
    }

    [Fact]
    public async Task LeaseExpiry_RedeliversWithAttemptCounted_AndStaleAckIsRejected()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { VisibilityTimeout = TimeSpan.FromSeconds(30) });
        for (var i = 0; i < 8; i++)
        {
            await queue.EnqueueAsync(Body(i));
        }

        var first = await queue.ReceiveAsync(maxMessages: 8);
        Assert.Empty(await queue.ReceiveAsync(maxMessages: 8));
        t.Clock.Advance(TimeSpan.FromSeconds(30));
        var second = await queue.ReceiveAsync(maxMessages: 8);

        Assert.Equal(first.Select(m => m.Id), second.Select(m => m.Id));
        Assert.All(second, m => Assert.Equal(2, m.Attempt));
        await Assert.ThrowsAsync<LeaseLostException>(() => queue.AckAsync(first[0]).AsTask());
        await queue.AckAsync(second[0]);
        Assert.Equal(7, (await queue.GetCountsAsync()).Leased);
    }

    [Fact]
    public async Task LastAttempt_ExpiredOrNacked_IsDeadLetteredAtOnce()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1, VisibilityTimeout = TimeSpan.FromSeconds(5) });
        var expiring = await queue.EnqueueAsync(Body(1));
        var nacked = await queue.EnqueueAsync(Body(2));
        var leased = await queue.ReceiveAsync(maxMessages: 2);
        Assert.Equal(NackOutcome.DeadLettered, await queue.NackAsync(leased[1], error: "bad"));

        t.Clock.Advance(TimeSpan.FromSeconds(5));
        var counts = await queue.GetCountsAsync();
        Assert.Equal(0, counts.Total);
        Assert.Equal(2, counts.DeadLettered);
        var dead = await queue.GetDeadLettersAsync();
        Assert.Equal([expiring, nacked], dead.Select(d => d.Id));
        Assert.Equal(DeadLetterReasons.LastLeaseExpired, dead[0].Reason);
        Assert.Equal("bad", dead[1].LastError);

        Assert.Equal(2, await queue.RequeueDeadLettersAsync());
        var again = await queue.ReceiveAsync(maxMessages: 5);
        Assert.Equal([expiring, nacked], again.Select(m => m.Id));
        Assert.All(again, m => Assert.Equal(1, m.Attempt));
    }

    [Fact]
    public async Task Dedup_SameKeyWhileLive_ReturnsExistingId()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        var options = new EnqueueOptions { DeduplicationKey = "k" };
        var a = await queue.EnqueueAsync(Body(1), options);
        Assert.Equal(a, await queue.EnqueueAsync(Body(2), options));
        var message = Assert.Single(await queue.ReceiveAsync(5));
        Assert.Equal("message-00000001", message.GetBodyAsString());
        await queue.AckAsync(message);
        Assert.NotEqual(a, await queue.EnqueueAsync(Body(3), options));
    }

    [Fact]
    public async Task Headers_AndLargeBodies_RoundTrip()
    {
        await using var t = Create(o => o.MemoryTierMaxMessageBytes = 64);
        var queue = t.Store.GetQueue("q");
        var big = new byte[10_000];
        Random.Shared.NextBytes(big);
        var headers = new Dictionary<string, string> { ["traceparent"] = "00-abc-def-01", ["kind"] = "big" };
        await queue.EnqueueAsync(big, new EnqueueOptions { Headers = headers });
        await queue.EnqueueAsync(Body(1));

        var received = await queue.ReceiveAsync(maxMessages: 2);
        Assert.Equal(big, received[0].Body.ToArray());
        Assert.Equal(headers, received[0].Headers);
        Assert.Equal("message-00000001", received[1].GetBodyAsString());
        Assert.Empty(received[1].Headers);
    }

    [Fact]
    public async Task UnitOfWork_RollbackLeavesNoTrace_EvenInTheTier()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync(Body(1));
        await Assert.ThrowsAsync<InvalidOperationException>(() => t.Store.ExecuteAsync(tx =>
        {
            tx.Enqueue("q", Body(2));
            throw new InvalidOperationException("roll back");
        }).AsTask());

        var received = Assert.Single(await queue.ReceiveAsync(maxMessages: 5));
        Assert.Equal("message-00000001", received.GetBodyAsString());
        await t.Store.ExecuteAsync(tx => tx.Ack(received));
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task OtherStoreOnSameFile_CommitsAreSeen_AndLeasesAreExclusive()
    {
        await using var t = Create();
        await using var other = t.OpenSecond(o => o.MemoryBudgetBytes = _budget);
        var mine = t.Store.GetQueue("q");
        var theirs = other.GetQueue("q");

        for (var i = 0; i < 10; i++)
        {
            await mine.EnqueueAsync(Body(i));
        }

        var a = await mine.ReceiveAsync(maxMessages: 3);
        var b = await theirs.ReceiveAsync(maxMessages: 3);
        var fromOther = await theirs.EnqueueAsync(Body(100), new EnqueueOptions { Priority = 0 });
        var c = await mine.ReceiveAsync(maxMessages: 1);

        Assert.Equal(fromOther, Assert.Single(c).Id);
        var all = a.Concat(b).Concat(c).Select(m => m.Id).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        // Acked through the other store while this one may hold it in memory: it must never come back.
        await theirs.AckAsync(a[0]);
        t.Clock.Advance(TimeSpan.FromMinutes(1));
        var rest = await mine.ReceiveAsync(maxMessages: 20);
        Assert.DoesNotContain(a[0].Id, rest.Select(m => m.Id));
        Assert.Equal(10, rest.Count);
    }

    [Fact]
    public async Task WaitingReceive_WakesOnEnqueue_AndWhenADelayedMessageComesDue()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        var waiting = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        Assert.False(waiting.IsCompleted);
        var id = await queue.EnqueueAsync(Body(1));
        Assert.Equal(id, Assert.Single(await waiting).Id);

        var delayed = await queue.EnqueueAsync(Body(2), new EnqueueOptions { Delay = TimeSpan.FromSeconds(10) });
        var waitingForDelayed = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        t.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(delayed, Assert.Single(await waitingForDelayed).Id);
    }

    [Fact]
    public async Task Purge_EmptiesTheQueue_AndLaterEnqueuesWork()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        for (var i = 0; i < 20; i++)
        {
            await queue.EnqueueAsync(Body(i));
        }

        await queue.ReceiveAsync(maxMessages: 5);
        Assert.Equal(20, await queue.PurgeAsync());
        Assert.Empty(await queue.ReceiveAsync(maxMessages: 5));
        var id = await queue.EnqueueAsync(Body(99));
        Assert.Equal(id, Assert.Single(await queue.ReceiveAsync(maxMessages: 5)).Id);
    }

    [Fact]
    public async Task ReceiveAll_StreamsInOrder_AndHandsBackPrefetchedMessagesWhenStopped()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        var ids = new List<MessageId>();
        for (var i = 0; i < 12; i++)
        {
            ids.Add(await queue.EnqueueAsync(Body(i)));
        }

        var seen = new List<MessageId>();
        await foreach (var message in queue.ReceiveAllAsync(prefetch: 4))
        {
            seen.Add(message.Id);
            await queue.AckAsync(message);
            if (seen.Count == 6)
            {
                break;
            }
        }

        Assert.Equal(ids.Take(6), seen);
        // Prefetched but never yielded: back at once, attempt not spent.
        var rest = await queue.ReceiveAsync(maxMessages: 10);
        Assert.Equal(ids.Skip(6), rest.Select(m => m.Id));
        Assert.All(rest, m => Assert.Equal(1, m.Attempt));
    }

    [Fact]
    public async Task ReceiveAll_StoppedWhileWaitingOnAnEmptyQueue_EndsWithoutLeasingAnything()
    {
        await using var t = Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync(Body(1));
        var seen = 0;
        await foreach (var message in queue.ReceiveAllAsync(prefetch: 2))
        {
            seen++;
            await queue.AckAsync(message);
            break;
        }

        Assert.Equal(1, seen);
        await queue.EnqueueAsync(Body(2));
        var next = Assert.Single(await queue.ReceiveAsync(maxMessages: 5));
        Assert.Equal(1, next.Attempt);
    }
}

public sealed class QueueBehaviourWithoutTierTests() : QueueBehaviourTests(0);

#if !POSTGRES // PostgreSQL has no memory tier: the budget changes nothing there, so one run is enough.
public sealed class QueueBehaviourWithTinyTierTests() : QueueBehaviourTests(TinyBudget);

public sealed class QueueBehaviourWithUnlimitedTierTests() : QueueBehaviourTests(long.MaxValue);
#endif
