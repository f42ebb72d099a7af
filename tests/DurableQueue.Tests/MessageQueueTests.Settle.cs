using Dapper;

namespace DurableQueue.Tests;

/// <summary>Settling a delivery: ack, nack, extend, dead-letter, all fenced by the lease token.</summary>
public sealed partial class MessageQueueTests
{
    [Fact]
    public async Task AckAsync_ValidLease_DeletesTheRowAndItIsNeverDeliveredAgain()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));

        await queue.AckAsync(message);

        Assert.Null(await queue.GetMessageAsync(id));
        t.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Empty(await queue.ReceiveAsync());
        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages;"));
    }

    [Fact]
    public async Task AckAsync_Twice_SecondThrowsLeaseLost()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());
        await queue.AckAsync(message);

        var ex = await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.AckAsync(message));

        Assert.Equal(message.Id, ex.MessageId);
        Assert.Equal("q", ex.QueueName);
    }

    [Fact]
    public async Task AckAsync_ReceiptParsedFromText_SettlesTheDelivery()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());

        var receipt = MessageReceipt.Parse(message.Receipt.ToString());

        Assert.Equal(message.Receipt, receipt);
        await queue.AckAsync(receipt);
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task NackAsync_WithDelay_VisibleAgainAfterItWithAttemptCountedAndLastError()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("x");
        var first = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromMinutes(5)));

        var outcome = await queue.NackAsync(first, TimeSpan.FromSeconds(10), "timeout calling the shop");

        Assert.Equal(NackOutcome.Retrying, outcome);
        Assert.Empty(await queue.ReceiveAsync());
        var info = Assert.Single(await queue.PeekAsync());
        Assert.Equal((MessageState.Delayed, 1, "timeout calling the shop"), (info.State, info.Attempts, info.LastError));
        Assert.Equal(t.Clock.GetUtcNow().AddSeconds(10), info.VisibleAt);
        t.Clock.Advance(TimeSpan.FromSeconds(10));
        var second = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(id, second.Id);
        Assert.Equal(2, second.Attempt);
        Assert.Equal("timeout calling the shop", second.LastError);
    }

    [Fact]
    public async Task NackAsync_NoDelay_ReadyAtOnce()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var first = Assert.Single(await queue.ReceiveAsync());

        await queue.NackAsync(first.Receipt);

        var second = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal((2, (string?)null), (second.Attempt, second.LastError));
    }

    [Fact]
    public async Task NackAsync_StaleReceiptAfterNack_ThrowsLeaseLost()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());
        await queue.NackAsync(message, TimeSpan.FromSeconds(5));

        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.AckAsync(message));
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.NackAsync(message));

        Assert.Equal(1, (await queue.GetCountsAsync()).Delayed);
    }

    [Fact]
    public async Task ExtendLeaseAsync_WhileHeld_MessageIsNotRedeliveredUntilTheNewExpiry()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        t.Clock.Advance(TimeSpan.FromSeconds(8));

        var until = await queue.ExtendLeaseAsync(message, TimeSpan.FromSeconds(10));

        Assert.Equal(t.Clock.GetUtcNow().AddSeconds(10), until);
        Assert.Equal(until, message.LeaseExpiresAt);
        t.Clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(await queue.ReceiveAsync());
        Assert.Equal(1, (await queue.GetCountsAsync()).Leased);
        t.Clock.Advance(TimeSpan.FromSeconds(5));
        var redelivered = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(2, redelivered.Attempt);
    }

    [Fact]
    public async Task ExtendLeaseAsync_ThenAck_Succeeds()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        for (var i = 0; i < 5; i++)
        {
            t.Clock.Advance(TimeSpan.FromSeconds(9));
            await queue.ExtendLeaseAsync(message.Receipt, TimeSpan.FromSeconds(10));
        }

        await queue.AckAsync(message);

        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task DeadLetterAsync_WithReason_MovesTheMessageAtOnce()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var headers = new Dictionary<string, string> { ["h"] = "v" };
        var id = await queue.EnqueueAsync("bad payload", new EnqueueOptions { Priority = 3, Headers = headers });
        var message = Assert.Single(await queue.ReceiveAsync());
        t.Clock.Advance(TimeSpan.FromSeconds(1));

        await queue.DeadLetterAsync(message, "cannot parse the payload");

        Assert.Equal(new QueueCounts(0, 0, 0, 1, null), await queue.GetCountsAsync());
        var dead = await queue.GetDeadLetterAsync(id);
        Assert.NotNull(dead);
        Assert.Equal("cannot parse the payload", dead.Reason);
        Assert.Equal("bad payload", System.Text.Encoding.UTF8.GetString(dead.Body.Span));
        Assert.Equal(headers, dead.Headers);
        Assert.Equal((3, 1, "q"), (dead.Priority, dead.Attempts, dead.QueueName));
        Assert.Equal(t.Clock.GetUtcNow(), dead.DeadLetteredAt);
        Assert.Equal(TestClock.Epoch, dead.EnqueuedAt);
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.AckAsync(message));
    }

    [Fact]
    public async Task SettleAsync_StaleLeaseAfterExpiryAndReReceive_ThrowsLeaseLostAndChangesNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var id = await queue.EnqueueAsync("x");
        var stale = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        t.Clock.Advance(TimeSpan.FromSeconds(10));
        var current = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(60)));
        var before = Assert.Single(await queue.PeekAsync());

        var ack = await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.AckAsync(stale));
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.NackAsync(stale, TimeSpan.Zero, "stale"));
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.ExtendLeaseAsync(stale, TimeSpan.FromHours(1)));
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.DeadLetterAsync(stale, "stale"));

        Assert.Equal(id, ack.MessageId);
        var after = Assert.Single(await queue.PeekAsync());
        Assert.Equal(
            (before.State, before.Attempts, before.VisibleAt, before.LastError),
            (after.State, after.Attempts, after.VisibleAt, after.LastError));
        Assert.Equal((MessageState.Leased, 2, (string?)null), (after.State, after.Attempts, after.LastError));
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
        // The new holder is unaffected.
        await queue.AckAsync(current);
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task AckAsync_ExpiredLeaseNobodyTook_Succeeds()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        t.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, (await queue.GetCountsAsync()).Ready);

        await queue.AckAsync(message);

        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
        Assert.Empty(await queue.ReceiveAsync());
    }

    [Fact]
    public async Task NackAndExtend_ExpiredLeaseNobodyTook_Succeed()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("a");
        await queue.EnqueueAsync("b");
        var received = await queue.ReceiveAsync(2, TimeSpan.FromSeconds(10));
        t.Clock.Advance(TimeSpan.FromMinutes(1));

        var until = await queue.ExtendLeaseAsync(received[0], TimeSpan.FromSeconds(30));
        var outcome = await queue.NackAsync(received[1], TimeSpan.FromSeconds(5), "late");

        Assert.Equal(t.Clock.GetUtcNow().AddSeconds(30), until);
        Assert.Equal(NackOutcome.Retrying, outcome);
        Assert.Equal(new QueueCounts(0, 1, 1, 0, null), await queue.GetCountsAsync());
    }

    [Fact]
    public async Task AckManyAsync_SomeLeasesLost_ReturnsExactlyTheLostReceiptsAndAcksTheRest()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var ids = await queue.EnqueueBatchAsync(Enumerable.Range(0, 4).Select(i => new ReadOnlyMemory<byte>([(byte)i])));
        var m0 = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromMinutes(5)));
        var m1 = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        var m2 = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromMinutes(5)));
        var m3 = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromMinutes(5)));
        await queue.AckAsync(m3);
        t.Clock.Advance(TimeSpan.FromSeconds(10));
        var retaken = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromMinutes(5)));
        Assert.Equal(m1.Id, retaken.Id);

        var lost = await queue.AckManyAsync([m0.Receipt, m1.Receipt, m2.Receipt, m3.Receipt]);

        Assert.Equal([m1.Receipt, m3.Receipt], lost);
        var left = Assert.Single(await queue.PeekAsync());
        Assert.Equal((ids[1], MessageState.Leased), (left.Id, left.State));
        Assert.Empty(await queue.AckManyAsync([retaken.Receipt]));
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task AckManyAsync_Empty_ReturnsEmpty()
    {
        await using var t = TestStore.Create();

        Assert.Empty(await t.Store.GetQueue("q").AckManyAsync([]));
    }

    [Fact]
    public async Task ReleaseAsync_HeldLease_ReadyAtOnceWithoutSpendingTheAttempt()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());
        Assert.True(message.IsLastAttempt);

        await queue.ReleaseAsync(message.Receipt);

        var again = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(1, again.Attempt);
        await Assert.ThrowsAsync<LeaseLostException>(async () => await queue.ReleaseAsync(message.Receipt));
    }
}

public sealed partial class MessageQueueTests
{
    public static TheoryData<string> SettleKinds => ["ack", "ack receipt", "ack many", "nack", "nack receipt", "extend", "extend receipt", "dead-letter", "dead-letter receipt"];

#if !POSTGRES // not yet on PostgreSQL (see docs/postgresql.md)
    [Theory]
    [MemberData(nameof(SettleKinds))]
    public async Task Settle_ThroughAnotherQueuesHandle_ThrowsArgumentAndChangesNothing(string kind)
    {
        await using var t = TestStore.Create();
        var a = t.Store.GetQueue("a");
        var b = t.Store.GetQueue("b");
        await b.EnqueueAsync("in b");
        var id = await a.EnqueueAsync("in a");
        var message = Assert.Single(await a.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(30)));
        using var raw = t.OpenRaw();
        const string Rows = "SELECT id, queue_id, visible_at, attempts, lease_token, last_error FROM dq_messages ORDER BY id;";
        var before = raw.Query(Rows).Select(r => (string)RowText(r)).ToList();

        var ex = await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
        {
            switch (kind)
            {
                case "ack": await b.AckAsync(message); break;
                case "ack receipt": await b.AckAsync(message.Receipt); break;
                case "ack many": await b.AckManyAsync([message.Receipt]); break;
                case "nack": await b.NackAsync(message, TimeSpan.Zero, "e"); break;
                case "nack receipt": await b.NackAsync(message.Receipt, TimeSpan.Zero, "e"); break;
                case "extend": await b.ExtendLeaseAsync(message, TimeSpan.FromMinutes(5)); break;
                case "extend receipt": await b.ExtendLeaseAsync(message.Receipt, TimeSpan.FromMinutes(5)); break;
                case "dead-letter": await b.DeadLetterAsync(message, "r"); break;
                case "dead-letter receipt": await b.DeadLetterAsync(message.Receipt, "r"); break;
                default: throw new ArgumentOutOfRangeException(nameof(kind));
            }
        });

        Assert.Contains("'a'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'b'", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, raw.Query(Rows).Select(r => (string)RowText(r)).ToList());
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_dead_letters;"));
        // The lease is still the holder's: it settles through the right handle.
        await a.AckAsync(message);
        Assert.Null(await a.GetMessageAsync(id));
        Assert.Equal(1, (await b.GetCountsAsync()).Ready);
    }
#endif

    private static string RowText(dynamic row) =>
        string.Join('|', ((IDictionary<string, object?>)row).Select(kv => kv.Value is byte[] bytes ? Convert.ToHexString(bytes) : Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture)));
}
