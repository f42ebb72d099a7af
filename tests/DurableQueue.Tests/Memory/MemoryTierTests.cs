using System.Text;

namespace DurableQueue.Tests.Memory;

public sealed class MemoryTierTests
{
    private static ReadOnlyMemory<byte> Body(int i, int size = 64)
    {
        var bytes = new byte[size];
        Encoding.ASCII.GetBytes($"m{i:D9}").CopyTo(bytes, 0);
        return bytes;
    }

    [Fact]
    public async Task Backlog20xBudget_TierNeverExceedsBudget_AndDeliversAllInOrder()
    {
        const long budget = 16 * 1024;
        await using var t = TestStore.Create(o => o.MemoryBudgetBytes = budget);
        var queue = t.Store.GetQueue("q");
        var expected = new List<MessageId>();
        // ~20x the budget in entry bytes (each entry counts its body plus fixed overhead).
        var perMessage = 64 + 160;
        var count = (int)(20 * budget / perMessage) + 1;
        for (var i = 0; i < count; i += 100)
        {
            expected.AddRange(await queue.EnqueueBatchAsync(Enumerable.Range(i, Math.Min(100, count - i)).Select(n => Body(n))));
        }

        Assert.True(queue.GetMemoryTierStats().Spilled);
        var received = new List<MessageId>();
        while (await queue.ReceiveAsync(maxMessages: 50) is { Count: > 0 } batch)
        {
            received.AddRange(batch.Select(m => m.Id));
            await queue.AckManyAsync(batch.Select(m => m.Receipt));
            Assert.True(t.Store.Tier!.UsedBytes <= budget);
        }

        Assert.Equal(expected, received);
        Assert.True(t.Store.Tier!.PeakBytes <= budget, $"peak {t.Store.Tier.PeakBytes} > budget {budget}");
        var stats = queue.GetMemoryTierStats();
        Assert.True(stats.Refills > 0);
        Assert.True(stats.Hits > 0);
    }

    [Fact]
    public async Task BacklogShrinksBelowBudget_TierTakesTheWholeQueueBack()
    {
        await using var t = TestStore.Create(o => o.MemoryBudgetBytes = 100 * (64 + 160));
        var queue = t.Store.GetQueue("q");
        for (var i = 0; i < 400; i += 100)
        {
            await queue.EnqueueBatchAsync(Enumerable.Range(i, 100).Select(n => Body(n)));
        }

        Assert.True(queue.GetMemoryTierStats().Spilled);
        for (var left = 400; left > 50; left -= 50)
        {
            await queue.AckManyAsync((await queue.ReceiveAsync(maxMessages: 50)).Select(m => m.Receipt));
        }

        // 50 left, well inside the budget: the next receive tops the lane up to the end of the queue.
        await queue.AckManyAsync((await queue.ReceiveAsync(maxMessages: 1)).Select(m => m.Receipt));
        var stats = queue.GetMemoryTierStats();
        Assert.False(stats.Spilled);
        Assert.Equal(49, stats.Messages);
    }

    [Fact]
    public async Task WithinBudget_ReceivesAreServedFromMemory()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 20).Select(n => Body(n)));
        var received = await queue.ReceiveAsync(maxMessages: 20);
        var stats = queue.GetMemoryTierStats();
        Assert.Equal(20, received.Count);
        Assert.Equal(20, stats.Hits);
        Assert.Equal(0, stats.Refills);
        Assert.False(stats.Spilled);
    }

    [Fact]
    public async Task TierOff_StatsSayDisabled()
    {
        await using var t = TestStore.Create(o => o.MemoryBudgetBytes = 0);
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync(Body(1));
        Assert.False(queue.GetMemoryTierStats().Enabled);
        Assert.Null(t.Store.Tier);
    }

    [Fact]
    public async Task EnqueuesDuringRefill_AreNeitherLostNorDuplicated()
    {
        await using var t = TestStore.Create(o => o.MemoryBudgetBytes = 30 * (64 + 160));
        var queue = t.Store.GetQueue("q");
        var enqueued = new System.Collections.Concurrent.ConcurrentBag<MessageId>();
        foreach (var id in await queue.EnqueueBatchAsync(Enumerable.Range(0, 300).Select(n => Body(n))))
        {
            enqueued.Add(id);
        }

        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                enqueued.Add(await queue.EnqueueAsync(Body(1000 + (p * 100) + i)));
            }
        })).ToArray();

        // Waiting receives wake on each commit; a lost message would leave the loop waiting until the guard cancels it.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var received = new List<MessageId>();
        while (received.Count < 700)
        {
            var batch = await queue.ReceiveAsync(maxMessages: 16, waitTime: TimeSpan.FromMinutes(1), cancellationToken: guard.Token);
            received.AddRange(batch.Select(m => m.Id));
            await queue.AckManyAsync(batch.Select(m => m.Receipt));
        }

        await Task.WhenAll(producers);
        Assert.Equal(received.Count, received.Distinct().Count());
        Assert.Equal(enqueued.OrderBy(x => x), received.OrderBy(x => x));
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task RandomOperations_SameDeliveriesWithAndWithoutTier(int seed)
    {
        // The tier changes speed, never behaviour: drive three stores (no tier, tiny, unlimited) with the same
        // operations and the same clock, and require the same message at every step.
        var budgets = new long[] { 0, 5 * (16 + 160), long.MaxValue };
        var stores = budgets.Select(b => TestStore.Create(o => o.MemoryBudgetBytes = b)).ToArray();
        try
        {
            var queues = stores.Select(s => s.Store.GetQueue("q", new QueueOptions { MaxAttempts = 3, VisibilityTimeout = TimeSpan.FromSeconds(10) })).ToArray();
            var held = stores.Select(_ => new List<QueueMessage>()).ToArray();
            var random = new Random(seed);
            for (var step = 0; step < 300; step++)
            {
                var op = random.Next(10);
                var arg = random.Next(1000);
                var results = new List<string>();
                for (var s = 0; s < stores.Length; s++)
                {
                    results.Add(await ApplyAsync(op, arg, queues[s], held[s], stores[s]));
                }

                Assert.True(results.Distinct().Count() == 1, $"seed {seed} step {step} op {op}: {string.Join(" | ", results)}");
            }
        }
        finally
        {
            foreach (var s in stores)
            {
                await s.DisposeAsync();
            }
        }
    }

    private static async Task<string> ApplyAsync(int op, int arg, MessageQueue queue, List<QueueMessage> held, TestStore store)
    {
        switch (op)
        {
            case 0 or 1 or 2:
                var options = new EnqueueOptions { Priority = arg % 3, Delay = arg % 4 == 0 ? TimeSpan.FromSeconds(arg % 7) : null };
                return (await queue.EnqueueAsync(Body(arg, 16), options)).ToString();
            case 3 or 4:
                var got = await queue.ReceiveAsync(maxMessages: 1 + (arg % 4));
                held.AddRange(got);
                return string.Join(",", got.Select(m => $"{m.Id}:{m.Attempt}:{m.GetBodyAsString().TrimEnd('\0')}"));
            case 5 when held.Count > 0:
                var ack = held[arg % held.Count];
                held.Remove(ack);
                try
                {
                    await queue.AckAsync(ack);
                    return $"ack {ack.Id}";
                }
                catch (LeaseLostException)
                {
                    return $"lost {ack.Id}";
                }

            case 6 when held.Count > 0:
                var nack = held[arg % held.Count];
                held.Remove(nack);
                try
                {
                    return $"nack {nack.Id} {await queue.NackAsync(nack, TimeSpan.FromSeconds(arg % 5))}";
                }
                catch (LeaseLostException)
                {
                    return $"lost {nack.Id}";
                }

            case 7:
                store.Clock.Advance(TimeSpan.FromSeconds(1 + (arg % 6)));
                return "tick";
            case 8:
                var counts = await queue.GetCountsAsync();
                return counts.ToString();
            default:
                var dead = await queue.GetDeadLettersAsync();
                return string.Join(",", dead.Select(d => $"{d.Id}:{d.Attempts}"));
        }
    }
}
