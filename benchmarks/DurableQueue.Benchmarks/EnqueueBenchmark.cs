using BenchmarkDotNet.Attributes;

namespace DurableQueue.Benchmarks;

/// <summary>
/// Enqueue throughput: one producer awaiting each enqueue, 4/16/64 concurrent producers, and batches, against raw
/// SQLite inserting one row per commit (the baseline) and 10 or 100 rows per commit.
/// </summary>
public class EnqueueBenchmark : BenchmarkBase
{
    private const int Messages = 640;

    [Params(Durability.Full, Durability.Normal)]
    public Durability Durability { get; set; }

    protected override Durability StoreDurability => Durability;

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public void Raw_InsertPerCommit()
    {
        for (var i = 0; i < Messages; i++)
        {
            Raw.Insert(Body);
        }
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public void Raw_Insert10PerCommit() => RawBatches(10);

    [Benchmark(OperationsPerInvoke = Messages)]
    public void Raw_Insert100PerCommit() => RawBatches(100);

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task Enqueue_1Producer()
    {
        for (var i = 0; i < Messages; i++)
        {
            await Queue.EnqueueAsync(Body);
        }
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task Enqueue_4Producers() => Producers(4);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task Enqueue_16Producers() => Producers(16);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task Enqueue_64Producers() => Producers(64);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task EnqueueBatch_10() => Batches(10);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task EnqueueBatch_100() => Batches(100);

    private void RawBatches(int size)
    {
        for (var i = 0; i < Messages; i += size)
        {
            Raw.Insert(Enumerable.Repeat(Body, Math.Min(size, Messages - i)).ToArray());
        }
    }

    private Task Producers(int producers) =>
        RunConcurrently(producers, async _ =>
        {
            for (var i = 0; i < Messages / producers; i++)
            {
                await Queue.EnqueueAsync(Body);
            }
        });

    private async Task Batches(int size)
    {
        for (var i = 0; i < Messages; i += size)
        {
            await Queue.EnqueueBatchAsync(Enumerable.Repeat((ReadOnlyMemory<byte>)Body, Math.Min(size, Messages - i)).ToArray());
        }
    }
}
