using Dapper;

namespace DurableQueue.Tests;

/// <summary>Units of work: the app's own SQL and queue changes commit together or not at all.</summary>
public sealed class QueueTransactionTests
{
    private const string CreateOrders = "CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, item TEXT NOT NULL);";

    [Fact]
    public async Task ExecuteAsync_AppRowsAndEnqueue_CommitTogether()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("mails");

        var (orderId, messageId) = await t.Store.ExecuteAsync(tx =>
        {
            tx.Connection.Execute(CreateOrders);
            var order = tx.Connection.ExecuteScalar<long>("INSERT INTO orders(item) VALUES ('tea') RETURNING id;");
            var message = tx.Enqueue("mails", $"order {order} confirmed");
            return (order, message);
        });

        using var raw = t.OpenRaw();
        Assert.Equal("tea", raw.ExecuteScalar<string>("SELECT item FROM orders WHERE id = @orderId;", new { orderId }));
        var received = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(messageId, received.Id);
        Assert.Equal($"order {orderId} confirmed", received.GetBodyAsString());
    }

    [Fact]
    public async Task ExecuteAsync_CallbackThrows_RollsBackAppRowsAndEnqueuesWithoutATrace()
    {
        await using var t = TestStore.Create();
        await t.Store.ExecuteAsync(tx => tx.Connection.Execute(CreateOrders));
        MessageId inside = default;

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(async () => await t.Store.ExecuteAsync(tx =>
        {
            tx.Connection.Execute("INSERT INTO orders(item) VALUES ('tea');");
            inside = tx.Enqueue("new-queue", "never sent");
            tx.Enqueue("new-queue", "never sent either", new EnqueueOptions { DeduplicationKey = "k" });
            throw new InvalidOperationException("payment declined");
        }));

        Assert.Equal("payment declined", ex.Message);
        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM orders;"));
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages;"));
        Assert.Empty(await t.Store.GetQueueNamesAsync());
        // Not even the id was used up, and the deduplication key is free.
        var queue = t.Store.GetQueue("new-queue");
        Assert.Equal(inside, await queue.EnqueueAsync("first real message"));
        Assert.NotEqual(inside, await queue.EnqueueAsync("keyed", new EnqueueOptions { DeduplicationKey = "k" }));
    }

    [Fact]
    public async Task ExecuteAsync_AckWithValidLease_CommitsAppRowsAndRemovesTheMessage()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("orders");
        await queue.EnqueueAsync("tea");
        var message = Assert.Single(await queue.ReceiveAsync());

        await t.Store.ExecuteAsync(tx =>
        {
            tx.Connection.Execute(CreateOrders);
            tx.Connection.Execute("INSERT INTO orders(item) VALUES (@item);", new { item = message.GetBodyAsString() });
            tx.Ack(message);
            tx.Enqueue("mails", "order placed");
        });

        using var raw = t.OpenRaw();
        Assert.Equal(1, raw.ExecuteScalar<long>("SELECT count(*) FROM orders;"));
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
        Assert.Equal(1, (await t.Store.GetQueue("mails").GetCountsAsync()).Ready);
    }

    [Fact]
    public async Task ExecuteAsync_AckWithLostLeaseCaughtByCallback_ThrowsLeaseLostAndCommitsNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("orders");
        var id = await queue.EnqueueAsync("tea");
        var stale = Assert.Single(await queue.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(10)));
        t.Clock.Advance(TimeSpan.FromSeconds(10));
        var current = Assert.Single(await queue.ReceiveAsync());
        await t.Store.ExecuteAsync(tx => tx.Connection.Execute(CreateOrders));
        var caught = false;

        var ex = await Assert.ThrowsAsync<LeaseLostException>(async () => await t.Store.ExecuteAsync(tx =>
        {
            tx.Connection.Execute("INSERT INTO orders(item) VALUES ('tea');");
            tx.Enqueue("mails", "order placed");
            try
            {
                tx.Ack(stale);
            }
            catch (LeaseLostException)
            {
                // A careless handler swallows the error; the unit must still not commit.
                caught = true;
            }
        }));

        Assert.True(caught);
        Assert.IsType<LeaseLostException>(ex.InnerException);
        Assert.Equal(id, ((LeaseLostException)ex.InnerException!).MessageId);
        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM orders;"));
        Assert.Equal(0, (await t.Store.GetQueue("mails").GetCountsAsync()).Total);
        var info = Assert.Single(await queue.PeekAsync());
        Assert.Equal((MessageState.Leased, 2), (info.State, info.Attempts));
        await queue.AckAsync(current);
    }

    [Fact]
    public async Task ExecuteAsync_NackAndDeadLetterInside_AreFencedAndCommitWithTheUnit()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 3 });
        await queue.EnqueueAsync("retry me");
        await queue.EnqueueAsync("poison");
        var received = await queue.ReceiveAsync(2);

        var outcome = await t.Store.ExecuteAsync(tx =>
        {
            tx.DeadLetter(received[1], "poison message");
            return tx.Nack(received[0], TimeSpan.FromSeconds(5), "downstream busy");
        });

        Assert.Equal(NackOutcome.Retrying, outcome);
        Assert.Equal(new QueueCounts(0, 1, 0, 1, null), await queue.GetCountsAsync());
        Assert.Equal("poison message", Assert.Single(await queue.GetDeadLettersAsync()).Reason);
        await Assert.ThrowsAsync<LeaseLostException>(async () => await t.Store.ExecuteAsync(tx => tx.Nack(received[0])));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ExecuteAsync_CallbackCommitsItself_IsRefusedCommitsNothingAndTheStoreKeepsWorking(bool swallow)
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await t.Store.ExecuteAsync(tx => tx.Connection.Execute(CreateOrders));

        await Assert.ThrowsAnyAsync<Exception>(async () => await t.Store.ExecuteAsync(tx =>
        {
            tx.Connection.Execute("INSERT INTO orders(item) VALUES ('tea');");
            tx.Enqueue("q", "sneaky");
            try
            {
                tx.Connection.Execute("COMMIT;");
            }
            catch (Exception) when (swallow)
            {
            }
        }));

        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM orders;"));
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
        await queue.EnqueueAsync("afterwards");
        Assert.Equal(["afterwards"], (await queue.ReceiveAsync(10)).Select(m => m.GetBodyAsString()));
    }

    [Fact]
    public async Task ExecuteAsync_CallbackCommitsItselfInASharedBatch_EveryCallerIsToldWhetherItCommitted()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var gate = await WriterGate.HoldAsync(t.Store);

        var before = queue.EnqueueAsync("before").AsTask();
        var rogue = t.Store.ExecuteAsync(tx =>
        {
            tx.Enqueue("q", "rogue");
            tx.Connection.Execute("COMMIT;");
        }).AsTask();
        var after = queue.EnqueueAsync("after").AsTask();
        await gate.ReleaseAsync();
        var all = Task.WhenAll(before, rogue, after);
        var first = await Task.WhenAny(all, Task.Delay(TestStore.Guard));

        // Every caller must have been told something: a caller left waiting would pass the checks below.
        Assert.True(first == all, "A caller of the shared batch was never completed.");
        Assert.True(rogue.IsFaulted);
        var stored = (await queue.PeekAsync(10)).Select(m => System.Text.Encoding.UTF8.GetString(m.Body.Span)).ToHashSet();
        Assert.DoesNotContain("rogue", stored);
        // A caller that was told "failed" must not find its message committed, and the other way round.
        Assert.Equal(before.IsCompletedSuccessfully, stored.Contains("before"));
        Assert.Equal(after.IsCompletedSuccessfully, stored.Contains("after"));
    }

    [Fact]
    public async Task ExecuteAsync_CallbackRollsBackItself_IsRefusedAndNothingCommits()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await t.Store.ExecuteAsync(tx =>
        {
            tx.Enqueue("q", "sneaky");
            tx.Connection.Execute("ROLLBACK;");
        }));

        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
        await queue.EnqueueAsync("afterwards");
        Assert.Equal(1, (await queue.GetCountsAsync()).Ready);
    }

    [Fact]
    public async Task ExecuteAsync_TransactionUsedAfterTheCallback_Throws()
    {
        await using var t = TestStore.Create();
        QueueTransaction? kept = null;
        await t.Store.ExecuteAsync(tx => kept = tx);

        Assert.Throws<InvalidOperationException>(() => kept!.Enqueue("q", "late"));
        Assert.Throws<InvalidOperationException>(() => kept!.Connection);
    }

    [Fact]
    public async Task ExecuteAsync_ReturnsTheCallbacksResultAndTransactionTime()
    {
        await using var t = TestStore.Create();
        t.Clock.Advance(TimeSpan.FromMinutes(3));

        var now = await t.Store.ExecuteAsync(tx => tx.Now);

        Assert.Equal(TestClock.Epoch.AddMinutes(3), now);
    }

    [Fact]
    public async Task ExecuteAsync_FailingUnitInASharedCommit_FailsAlone()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var gate = await WriterGate.HoldAsync(t.Store);

        var good = queue.EnqueueAsync("good").AsTask();
        var bad = t.Store.ExecuteAsync(tx =>
        {
            tx.Enqueue("q", "bad");
            throw new InvalidOperationException("no");
        }).AsTask();
        var alsoGood = t.Store.ExecuteAsync(tx => tx.Enqueue("q", "also good")).AsTask();
        await gate.ReleaseAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => bad.WaitAsync(TestStore.Guard));
        var ids = new[] { await good.WaitAsync(TestStore.Guard), await alsoGood.WaitAsync(TestStore.Guard) };
        Assert.Equal(["good", "also good"], (await queue.ReceiveAsync(10)).Select(m => m.GetBodyAsString()));
        Assert.Equal(2, ids.Distinct().Count());
    }

    [Fact]
    public async Task Operations_InvalidArguments_ThrowArgumentExceptionNamingTheParameter()
    {
        await using var t = TestStore.Create(o => o.MaxMessageBytes = 4);
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());

        await t.Store.ExecuteAsync(tx =>
        {
            Assert.Equal("queueName", Assert.Throws<ArgumentException>(() => tx.Enqueue("bad name", "x")).ParamName);
            Assert.Equal("queueName", Assert.Throws<ArgumentException>(() => tx.Enqueue("", "x")).ParamName);
            Assert.Equal("queueName", Assert.Throws<ArgumentNullException>(() => tx.Enqueue(null!, "x")).ParamName);
            Assert.Equal("body", Assert.Throws<ArgumentException>(() => tx.Enqueue("q", new byte[5])).ParamName);
            Assert.Equal("body", Assert.Throws<ArgumentNullException>(() => tx.Enqueue("q", (string)null!)).ParamName);
            Assert.Equal("message", Assert.Throws<ArgumentNullException>(() => tx.Ack(null!)).ParamName);
            Assert.Equal("retryAfter", Assert.Throws<ArgumentOutOfRangeException>(() => tx.Nack(message, TimeSpan.FromSeconds(-1))).ParamName);
            Assert.Equal("reason", Assert.Throws<ArgumentException>(() => tx.DeadLetter(message, " ")).ParamName);
        });

        // None of the refused calls touched the message.
        Assert.Equal(new QueueCounts(0, 0, 1, 0, null), await queue.GetCountsAsync());
    }

    [Fact]
    public async Task ExecuteAsync_NullCallback_ThrowsArgumentNull()
    {
        await using var t = TestStore.Create();

        await Assert.ThrowsAsync<ArgumentNullException>(async () => await t.Store.ExecuteAsync((Action<QueueTransaction>)null!));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await t.Store.ExecuteAsync((Func<QueueTransaction, int>)null!));
    }
}
