using BenchmarkDotNet.Attributes;

namespace DurableQueue.Benchmarks;

/// <summary>
/// End to end: producers enqueue while consumers receive (up to 16) and ack with AckManyAsync, until every message is
/// acked. Baseline: raw SQLite doing the same durable work (insert, claim, delete) with one operation per commit;
/// beside it the same work with 100 operations per commit.
/// </summary>
public class RoundTripBenchmark : BenchmarkBase
{
    private const int Messages = 640;

    [Params(Durability.Full, Durability.Normal)]
    public Durability Durability { get; set; }

    protected override Durability StoreDurability => Durability;

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public void Raw_PerOperationCommit()
    {
        var token = Guid.NewGuid().ToByteArray();
        for (var i = 0; i < Messages; i++)
        {
            Raw.Insert(Body);
            var claimed = Raw.Claim(1, token);
            Raw.Delete(claimed, token);
        }
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public void Raw_100OperationsPerCommit()
    {
        var token = Guid.NewGuid().ToByteArray();
        for (var i = 0; i < Messages; i += 100)
        {
            var count = Math.Min(100, Messages - i);
            Raw.Insert(Enumerable.Repeat(Body, count).ToArray());
            var claimed = Raw.Claim(count, token);
            Raw.Delete(claimed, token);
        }
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task RoundTrip_1Producer_1Consumer() => RoundTrip(1, 1);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task RoundTrip_4Producers_4Consumers() => RoundTrip(4, 4);

    private async Task RoundTrip(int producers, int consumers)
    {
        var acked = 0;
        using var done = new CancellationTokenSource();
        var consuming = RunConcurrently(consumers, async _ =>
        {
            try
            {
                while (!done.IsCancellationRequested)
                {
                    var messages = await Queue.ReceiveAsync(16, waitTime: TimeSpan.FromSeconds(5), cancellationToken: done.Token);
                    if (messages.Count == 0)
                    {
                        continue;
                    }

                    await Queue.AckManyAsync(messages.Select(m => m.Receipt));
                    if (Interlocked.Add(ref acked, messages.Count) >= Messages)
                    {
                        await done.CancelAsync();
                    }
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
            }
        });
        await RunConcurrently(producers, async _ =>
        {
            for (var i = 0; i < Messages / producers; i++)
            {
                await Queue.EnqueueAsync(Body);
            }
        });
        await consuming;
    }
}
