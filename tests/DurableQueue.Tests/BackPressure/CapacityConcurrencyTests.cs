using static DurableQueue.Tests.BackPressure.BackPressureTestKit;

namespace DurableQueue.Tests.BackPressure;

public sealed class CapacityConcurrencyTests
{
    private const int Capacity = 16;

    [Theory]
    [InlineData(QueueFullMode.Wait)]
    [InlineData(QueueFullMode.Reject)]
    public async Task ManyProducersAndConsumers_TwoStoresOnOneFile_NeverExceedCapacity(QueueFullMode mode)
    {
        await using var t = TestStore.Create();
        // The high-water mark is kept by the test's own trigger, counting rows inside every writer transaction of
        // every store on the file (rolled-back savepoints roll the mark back too, so it sees only what can commit).
        await AddHighWaterMarkAsync(t.Store);
        await using var other = t.OpenSecond();
        var options = Bounded(maxMessages: Capacity, mode: mode);
        var queues = new[] { t.Store.GetQueue("q", options), other.GetQueue("q", options) };

        const int producersPerStore = 6;
        const int messagesPerProducer = 60;
        var total = 2 * producersPerStore * messagesPerProducer;
        var produced = 0;
        var consumed = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var producers = Enumerable.Range(0, 2 * producersPerStore).Select(p => Task.Run(async () =>
        {
            var queue = queues[p % 2];
            for (var i = 0; i < messagesPerProducer; i++)
            {
                while (true)
                {
                    try
                    {
                        await queue.EnqueueAsync($"{p}:{i}", cancellationToken: stop.Token);
                        Interlocked.Increment(ref produced);
                        break;
                    }
                    catch (QueueFullException)
                    {
                        await Task.Delay(1);
                    }
                    catch (StorageBusyException)
                    {
                        // Retryable by contract, nothing was changed: on PostgreSQL the two stores' writers can meet in
                        // a deadlock the server breaks by failing one of them (seen once, under a heavily loaded run);
                        // the writer runs such a batch again itself, and reports it only when that keeps happening.
                    }
                }
            }
        })).ToArray();

        var consumers = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            var queue = queues[c % 2];
            while (Volatile.Read(ref consumed) < total)
            {
                stop.Token.ThrowIfCancellationRequested();
                IReadOnlyList<QueueMessage> messages;
                try
                {
                    messages = await queue.ReceiveAsync(3);
                }
                catch (StorageBusyException)
                {
                    // Retryable, nothing leased (see the producers).
                    continue;
                }

                if (messages.Count == 0)
                {
                    await Task.Yield();
                    continue;
                }

                while (true)
                {
                    try
                    {
                        await queue.AckManyAsync(messages.Select(m => m.Receipt));
                        break;
                    }
                    catch (StorageBusyException)
                    {
                        // Retryable, nothing acked: the same leases are still this consumer's.
                    }
                }

                Interlocked.Add(ref consumed, messages.Count);
            }
        })).ToArray();

        await Task.WhenAll(producers.Concat(consumers));

        Assert.Equal(total, produced);
        Assert.Equal(total, consumed);
        var highWater = RowCount(t.Path, "SELECT max(n) FROM test_high_water;");
        Assert.True(highWater <= Capacity, $"high-water mark {highWater} exceeds the capacity {Capacity}");
        Assert.Equal(Capacity, highWater); // the producers did fill the queue, so the mark can see a breach
        Assert.Equal(0, queues[0].GetBackPressureStats().Messages);
    }

    [Fact]
    public async Task HighWaterMark_OfAnUnboundedQueue_CanExceed()
    {
        // The same measurement on an unbounded queue goes past the number: it is able to catch a breach.
        await using var t = TestStore.Create();
        await AddHighWaterMarkAsync(t.Store);
        var queue = t.Store.GetQueue("q");
        await Task.WhenAll(Enumerable.Range(0, Capacity + 4).Select(i => queue.EnqueueAsync("m").AsTask()));
        Assert.Equal(Capacity + 4, RowCount(t.Path, "SELECT max(n) FROM test_high_water;"));
    }

    /// <summary>
    /// Adds the test's own trigger that keeps the highest row count of a queue seen inside any writer transaction (a
    /// rolled-back savepoint rolls the mark back too, so it sees only what can commit); the mark is max(n).
    /// </summary>
    private static async Task AddHighWaterMarkAsync(QueueStore store) => await store.ExecuteAsync(tx =>
    {
        using var command = tx.Connection.CreateCommand();
        command.CommandText =
#if POSTGRES
            "CREATE TABLE test_high_water(n bigint NOT NULL); INSERT INTO test_high_water VALUES (0);" +
            "CREATE FUNCTION test_high_water_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
            // One row per observation, never an update: a shared row locked by the trigger in every writer transaction
            // would add a lock of the test's own that two stores could take in opposite orders (a deadlock).
            "INSERT INTO test_high_water VALUES ((SELECT count(*) FROM dq_messages WHERE queue_id = NEW.queue_id)); RETURN NULL; END $$;" +
            "CREATE TRIGGER test_high_water_mark AFTER INSERT ON dq_messages FOR EACH ROW EXECUTE FUNCTION test_high_water_mark();";
#else
            "CREATE TABLE test_high_water(n INTEGER NOT NULL); INSERT INTO test_high_water VALUES (0);" +
            "CREATE TRIGGER test_high_water_mark AFTER INSERT ON dq_messages BEGIN " +
            "UPDATE test_high_water SET n = max(n, (SELECT count(*) FROM dq_messages WHERE queue_id = new.queue_id)); END;";
#endif
        command.ExecuteNonQuery();
    });
}
