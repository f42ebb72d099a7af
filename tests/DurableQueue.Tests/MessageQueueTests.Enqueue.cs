using System.Text;
using Dapper;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Data.Common;

namespace DurableQueue.Tests;

/// <summary>Enqueue: the id comes back after the commit; options round-trip; batches are all or nothing.</summary>
public sealed partial class MessageQueueTests
{
    private static readonly byte[] s_poison = [0xDE, 0xAD];

    [Fact]
    public async Task EnqueueAsync_Completed_IsCommittedAndVisibleToOtherConnections()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        var id = await queue.EnqueueAsync("hello");

        using var raw = t.OpenRaw();
        var row = raw.QuerySingle<(long VisibleAt, long EnqueuedAt, long Attempts)>(
            "SELECT visible_at, enqueued_at, attempts FROM dq_messages WHERE id = @id;", new { id = id.Value });
        var now = t.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.Equal((now, now, 0L), row);
    }

    [Fact]
    public async Task EnqueueAsync_WriterBusy_CompletesOnlyAfterTheCommit()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var gate = await WriterGate.HoldAsync(t.Store);

        var pending = queue.EnqueueAsync("hello").AsTask();

        Assert.False(pending.IsCompleted);
        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages;"));
        await gate.ReleaseAsync();
        var id = await pending.WaitAsync(TestStore.Guard);
        Assert.Equal(1, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages WHERE id = @id;", new { id = id.Value }));
    }

    [Fact]
    public async Task EnqueueAsync_Ids_IncreaseAndAreNeverReused()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var first = await queue.EnqueueAsync("a");
        await queue.AckAsync(Assert.Single(await queue.ReceiveAsync()));

        var second = await queue.EnqueueAsync("b");

        Assert.True(second.Value > first.Value);
    }

    [Fact]
    public async Task EnqueueAsync_BinaryAndEmptyBodies_RoundTrip()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        await queue.EnqueueAsync(binary);
        await queue.EnqueueAsync(ReadOnlyMemory<byte>.Empty);
        await queue.EnqueueAsync("grüße, 世界");

        var received = await queue.ReceiveAsync(10);
        Assert.Equal(binary, received[0].Body.ToArray());
        Assert.Equal(0, received[1].Body.Length);
        Assert.Equal("grüße, 世界", received[2].GetBodyAsString());
    }

    [Fact]
    public async Task EnqueueAsync_CallerChangesBufferAfterwards_StoredBodyUnchanged()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var buffer = Encoding.UTF8.GetBytes("original");

        var pending = queue.EnqueueAsync(buffer);
        buffer.AsSpan().Fill((byte)'x');
        await pending;

        Assert.Equal("original", Assert.Single(await queue.ReceiveAsync()).GetBodyAsString());
    }

    [Fact]
    public async Task EnqueueAsync_AllOptions_RoundTripToReceiver()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 5 });
        var headers = new Dictionary<string, string> { ["trace"] = "00-abc-01", ["tenant"] = "zürich", ["empty"] = "" };
        var enqueuedAt = t.Clock.GetUtcNow();

        var id = await queue.EnqueueAsync("body", new EnqueueOptions { Priority = 2, MaxAttempts = 9, Headers = headers, DeduplicationKey = "k1" });

        var message = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(45)));
        Assert.Equal(id, message.Id);
        Assert.Equal("q", message.QueueName);
        Assert.Equal(2, message.Priority);
        Assert.Equal(9, message.MaxAttempts);
        Assert.Equal(1, message.Attempt);
        Assert.False(message.IsLastAttempt);
        Assert.Equal(headers, message.Headers);
        Assert.Equal(enqueuedAt, message.EnqueuedAt);
        Assert.Equal(enqueuedAt + TimeSpan.FromSeconds(45), message.LeaseExpiresAt);
        Assert.Null(message.LastError);
        Assert.Equal(id, message.Receipt.Id);
        Assert.True(message.Receipt.IsValid);
    }

    [Fact]
    public async Task EnqueueAsync_NoOptions_UsesDefaultsAndEmptyHeaders()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 3, VisibilityTimeout = TimeSpan.FromSeconds(12) });

        await queue.EnqueueAsync("body");

        var message = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(EnqueueOptions.DefaultPriority, message.Priority);
        Assert.Equal(3, message.MaxAttempts);
        Assert.Empty(message.Headers);
        Assert.Equal(t.Clock.GetUtcNow() + TimeSpan.FromSeconds(12), message.LeaseExpiresAt);
    }

    [Fact]
    public async Task EnqueueAsync_WithDelay_ReadyOnlyWhenDue()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        var id = await queue.EnqueueAsync("later", new EnqueueOptions { Delay = TimeSpan.FromSeconds(10) });

        Assert.Empty(await queue.ReceiveAsync());
        Assert.Equal(new QueueCounts(0, 1, 0, 0, null), await queue.GetCountsAsync());
        t.Clock.Advance(TimeSpan.FromMilliseconds(9_999));
        Assert.Empty(await queue.ReceiveAsync());
        t.Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(id, Assert.Single(await queue.ReceiveAsync()).Id);
    }

    [Fact]
    public async Task EnqueueAsync_WithNotBefore_ReadyOnlyFromThatTime()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var at = t.Clock.GetUtcNow().AddMinutes(5);

        await queue.EnqueueAsync("at five", new EnqueueOptions { NotBefore = at });

        Assert.Equal(at, Assert.Single(await queue.PeekAsync()).VisibleAt);
        t.Clock.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1));
        Assert.Empty(await queue.ReceiveAsync());
        t.Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Single(await queue.ReceiveAsync());
    }

    [Fact]
    public async Task EnqueueAsync_NotBeforeInThePast_ReadyNow()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        await queue.EnqueueAsync("past", new EnqueueOptions { NotBefore = t.Clock.GetUtcNow().AddDays(-1) });

        Assert.Single(await queue.ReceiveAsync());
    }

    [Theory]
    [InlineData(10, 60, 60)]
    [InlineData(90, 60, 90)]
    public async Task EnqueueAsync_DelayAndNotBefore_LaterOneWins(int delaySeconds, int notBeforeSeconds, int expectedSeconds)
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var now = t.Clock.GetUtcNow();

        await queue.EnqueueAsync("x", new EnqueueOptions { Delay = TimeSpan.FromSeconds(delaySeconds), NotBefore = now.AddSeconds(notBeforeSeconds) });

        Assert.Equal(now.AddSeconds(expectedSeconds), Assert.Single(await queue.PeekAsync()).VisibleAt);
    }

    [Fact]
    public async Task EnqueueAsync_SameDeduplicationKeyWhileLive_ReturnsSameIdAndAddsNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var options = new EnqueueOptions { DeduplicationKey = "order-42" };

        var first = await queue.EnqueueAsync("first", options);
        var again = await queue.EnqueueAsync("second", options);
        var leased = Assert.Single(await queue.ReceiveAsync());
        var whileLeased = await queue.EnqueueAsync("third", options);

        Assert.Equal(first, again);
        Assert.Equal(first, whileLeased);
        Assert.Equal("first", leased.GetBodyAsString());
        Assert.Equal(1, (await queue.GetCountsAsync()).Total);
        Assert.Equal("order-42", Assert.Single(await queue.PeekAsync()).DeduplicationKey);
    }

    [Fact]
    public async Task EnqueueAsync_DeduplicationKeyAfterAck_IsFreeAgain()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var options = new EnqueueOptions { DeduplicationKey = "k" };
        var first = await queue.EnqueueAsync("first", options);
        await queue.AckAsync(Assert.Single(await queue.ReceiveAsync()));

        var second = await queue.EnqueueAsync("second", options);

        Assert.NotEqual(first, second);
        Assert.Equal("second", Assert.Single(await queue.ReceiveAsync()).GetBodyAsString());
    }

    [Fact]
    public async Task EnqueueAsync_DeduplicationKey_IsPerQueueAndPerKey()
    {
        await using var t = TestStore.Create();
        var a = t.Store.GetQueue("a");
        var b = t.Store.GetQueue("b");

        var inA = await a.EnqueueAsync("x", new EnqueueOptions { DeduplicationKey = "k" });
        var inB = await b.EnqueueAsync("x", new EnqueueOptions { DeduplicationKey = "k" });
        var otherKey = await a.EnqueueAsync("x", new EnqueueOptions { DeduplicationKey = "k2" });
        var noKey1 = await a.EnqueueAsync("x");
        var noKey2 = await a.EnqueueAsync("x");

        Assert.Equal(5, new[] { inA, inB, otherKey, noKey1, noKey2 }.Distinct().Count());
    }

    [Fact]
    public async Task EnqueueBatchAsync_ValidMessages_AllCommittedInOrderWithOwnOptions()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        var ids = await queue.EnqueueBatchAsync(
        [
            new OutgoingMessage("a"u8.ToArray()),
            new OutgoingMessage("b"u8.ToArray(), new EnqueueOptions { Priority = 0 }),
            new OutgoingMessage("c"u8.ToArray(), new EnqueueOptions { Delay = TimeSpan.FromMinutes(1) }),
        ]);

        Assert.Equal(3, ids.Count);
        Assert.True(ids[0].Value < ids[1].Value && ids[1].Value < ids[2].Value);
        var received = await queue.ReceiveAsync(10);
        Assert.Equal([ids[1], ids[0]], received.Select(m => m.Id));
        Assert.Equal(1, (await queue.GetCountsAsync()).Delayed);
    }

    [Fact]
    public async Task EnqueueBatchAsync_BodiesWithSharedOptions_AllGetTheOptions()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        var ids = await queue.EnqueueBatchAsync([new byte[] { 1 }, new byte[] { 2 }], new EnqueueOptions { Priority = 7, MaxAttempts = 2 });

        var received = await queue.ReceiveAsync(10);
        Assert.Equal(ids, received.Select(m => m.Id));
        Assert.All(received, m => Assert.Equal((7, 2), (m.Priority, m.MaxAttempts)));
    }

    [Fact]
    public async Task EnqueueBatchAsync_DuplicateKeysInsideBatch_SecondGetsFirstsId()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var options = new EnqueueOptions { DeduplicationKey = "same" };

        var ids = await queue.EnqueueBatchAsync([new OutgoingMessage(new byte[] { 1 }, options), new OutgoingMessage(new byte[] { 2 }, options)]);

        Assert.Equal(ids[0], ids[1]);
        Assert.Equal(1, (await queue.GetCountsAsync()).Ready);
    }

    [Fact]
    public async Task EnqueueBatchAsync_OneInvalidMessage_EnqueuesNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.EnqueueBatchAsync(
        [
            new OutgoingMessage("ok"u8.ToArray()),
            new OutgoingMessage("bad"u8.ToArray(), new EnqueueOptions { Priority = 12 }),
        ]));

        Assert.Equal(default, await queue.GetCountsAsync());
        Assert.Empty(await t.Store.GetQueueNamesAsync());
    }

    [Fact]
    public async Task EnqueueBatchAsync_WriterFailsOnOneMessage_EnqueuesNone()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("already there");
        await AddPoisonTriggerAsync(t.Store);

        await Assert.ThrowsAnyAsync<DbException>(async () => await queue.EnqueueBatchAsync(["one"u8.ToArray(), s_poison, "three"u8.ToArray()]));

        Assert.Equal(["already there"], (await queue.PeekAsync()).Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        // The writer recovered: the next request commits.
        await queue.EnqueueAsync("after");
        Assert.Equal(2, (await queue.GetCountsAsync()).Ready);
    }

    [Fact]
    public async Task EnqueueAsync_ConcurrentRequests_ShareOneCommitAndAFailingOneFailsAlone()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await AddPoisonTriggerAsync(t.Store);
        var gate = await WriterGate.HoldAsync(t.Store);
        var commitsBefore = t.Store.Writer.Commits;

        var requests = Enumerable.Range(0, 20)
            .Select(i => queue.EnqueueAsync(i == 7 ? s_poison : Encoding.UTF8.GetBytes($"m{i}")).AsTask())
            .ToList();
        await gate.ReleaseAsync();
        await Task.WhenAll(requests.Where((_, i) => i != 7)).WaitAsync(TestStore.Guard);

        await Assert.ThrowsAnyAsync<DbException>(() => requests[7]);
        // The held unit of work, then one commit for all twenty requests.
        Assert.Equal(2, t.Store.Writer.Commits - commitsBefore);
        var bodies = (await queue.ReceiveAsync(100)).Select(m => m.GetBodyAsString()).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Where(i => i != 7).Select(i => $"m{i}"), bodies);
    }

    [Fact]
    public async Task EnqueueAsync_CancelledBeforeItReachesTheWriter_EnqueuesNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await queue.EnqueueAsync("x", cancellationToken: cts.Token));

        var gate = await WriterGate.HoldAsync(t.Store);
        using var later = new CancellationTokenSource();
        var queued = queue.EnqueueAsync("y", cancellationToken: later.Token).AsTask();
        await later.CancelAsync();
        await gate.ReleaseAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.WaitAsync(TestStore.Guard));
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task EnqueueAsync_JsonBody_ReadsBackWithSourceGeneratedMetadata()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var order = new TestOrder(42, "tea", 3.5m);

        await queue.EnqueueAsync(JsonSerializer.SerializeToUtf8Bytes(order, TestJsonContext.Default.TestOrder));

        Assert.Equal(order, Assert.Single(await queue.ReceiveAsync()).GetBody(TestJsonContext.Default.TestOrder));
    }

    /// <summary>An app trigger that makes the database refuse one particular body, to fail a request inside the writer.</summary>
    private static async Task AddPoisonTriggerAsync(QueueStore store) =>
        await store.ExecuteAsync(tx => tx.Connection.Execute(
#if POSTGRES
            "CREATE FUNCTION app_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
            "IF NEW.body = '\\xdead'::bytea THEN RAISE EXCEPTION 'poison message'; END IF; RETURN NEW; END $$; " +
            "CREATE TRIGGER app_poison BEFORE INSERT ON dq_messages FOR EACH ROW EXECUTE FUNCTION app_poison();"));
#else
            "CREATE TRIGGER app_poison BEFORE INSERT ON dq_messages WHEN NEW.body = X'DEAD' " +
            "BEGIN SELECT RAISE(ABORT, 'poison message'); END;"));
#endif
}

public sealed record TestOrder(int Id, string Item, decimal Amount);

[JsonSerializable(typeof(TestOrder))]
internal sealed partial class TestJsonContext : JsonSerializerContext
{
}
