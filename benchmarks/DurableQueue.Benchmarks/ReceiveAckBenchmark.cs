using BenchmarkDotNet.Attributes;

namespace DurableQueue.Benchmarks;

/// <summary>
/// Draining a backlog: receive + ack with 1 and 4 consumers, one at a time or leasing 16 and settling them with
/// one AckManyAsync, against raw SQLite claiming and deleting one row per commit (baseline) or 16 per commit.
/// Full durability; the backlog is refilled outside the measurement before every iteration.
/// </summary>
public class ReceiveAckBenchmark : BenchmarkBase
{
    private const int Messages = 640;

    [IterationSetup(Targets = [nameof(Raw_ClaimDeletePerCommit), nameof(Raw_Claim16Delete16PerCommit)])]
    public void FillRawBacklog() => FillRaw(Messages);

    [IterationSetup(Targets = [nameof(Receive1_Ack_1Consumer), nameof(Receive1_Ack_4Consumers), nameof(Receive16_AckMany_1Consumer), nameof(Receive16_AckMany_4Consumers)])]
    public void FillQueueBacklog() => FillQueue(Messages);

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public void Raw_ClaimDeletePerCommit() => RawDrain(1);

    [Benchmark(OperationsPerInvoke = Messages)]
    public void Raw_Claim16Delete16PerCommit() => RawDrain(16);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task Receive1_Ack_1Consumer() => Consumers(1, 1);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task Receive1_Ack_4Consumers() => Consumers(4, 1);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task Receive16_AckMany_1Consumer() => Consumers(1, 16);

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task Receive16_AckMany_4Consumers() => Consumers(4, 16);


    private Task Consumers(int consumers, int batch) =>
        RunConcurrently(consumers, async _ =>
        {
            while (true)
            {
                var messages = await Queue.ReceiveAsync(batch);
                if (messages.Count == 0)
                {
                    return;
                }

                if (batch == 1)
                {
                    await Queue.AckAsync(messages[0]);
                }
                else
                {
                    await Queue.AckManyAsync(messages.Select(m => m.Receipt));
                }
            }
        });
}
