using BenchmarkDotNet.Attributes;

namespace DurableQueue.Benchmarks;

/// <summary>
/// Draining a backlog of 640 messages with one consumer while the backlog fits the memory tier's budget, while it is
/// spilled (a budget of 16 KiB holds about 50 messages of 256 bytes, so the tier serves the head and refills from
/// disk in pages), and with the tier turned off, against raw SQLite claiming and deleting the same rows (one per
/// commit: baseline; 16 per commit beside it), with Full and Normal durability (Normal shows the CPU side that the
/// fsync hides). The backlog is refilled before every iteration.
/// </summary>
public class MemoryTierBenchmark : BenchmarkBase
{
    private const int Messages = 640;

    /// <summary>The memory tier's state during the drain.</summary>
    public enum TierMode
    {
        /// <summary>The default budget (64 MiB): the whole backlog is in memory.</summary>
        InBudget,

        /// <summary>A 16 KiB budget: the backlog is spilled; the tier holds the head only.</summary>
        Spilled,

        /// <summary>MemoryBudgetBytes = 0: every receive queries the disk.</summary>
        Off,
    }

    [Params(Durability.Full, Durability.Normal)]
    public Durability Durability { get; set; }

    [Params(TierMode.InBudget, TierMode.Spilled, TierMode.Off)]
    public TierMode Tier { get; set; }

    protected override Durability StoreDurability => Durability;

    protected override void ConfigureStore(QueueStoreOptions options) =>
        options.MemoryBudgetBytes = Tier switch
        {
            TierMode.InBudget => 64L << 20,
            TierMode.Spilled => 16L << 10,
            _ => 0,
        };

    [IterationSetup(Targets = [nameof(Raw_ClaimDeletePerCommit), nameof(Raw_Claim16Delete16PerCommit)])]
    public void FillRawBacklog() => FillRaw(Messages);

    [IterationSetup(Targets = [nameof(Receive1_Ack), nameof(Stream_Ack1), nameof(Receive16_AckMany)])]
    public void FillQueueBacklog() => FillQueue(Messages);

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public void Raw_ClaimDeletePerCommit() => RawDrain(1);

    [Benchmark(OperationsPerInvoke = Messages)]
    public void Raw_Claim16Delete16PerCommit() => RawDrain(16);

    /// <summary>Plain receive of one, then its ack: two commits per message, one after the other.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task Receive1_Ack()
    {
        while (true)
        {
            var messages = await Queue.ReceiveAsync(1);
            if (messages.Count == 0)
            {
                return;
            }

            await Queue.AckAsync(messages[0]);
        }
    }

    /// <summary>ReceiveAllAsync (prefetch 8), acking one by one: the next lease is taken while the consumer acks.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task Stream_Ack1()
    {
        var done = 0;
        using var stop = new CancellationTokenSource();
        try
        {
            await foreach (var message in Queue.ReceiveAllAsync(prefetch: 8, cancellationToken: stop.Token))
            {
                await Queue.AckAsync(message);
                if (++done == Messages)
                {
                    await stop.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Receive 16, settle them with one AckManyAsync.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task Receive16_AckMany()
    {
        while (true)
        {
            var messages = await Queue.ReceiveAsync(16);
            if (messages.Count == 0)
            {
                return;
            }

            await Queue.AckManyAsync(messages.Select(m => m.Receipt));
        }
    }
}
