// Back pressure under 2x overload: a bounded queue (Wait, Reject) against an unbounded one, in the same run.
//   dotnet run -c Release --project benchmarks/DurableQueue.BackPressureBench -- [--seconds 10] [--consumers 2] [--work-ms 20] [--capacity 100]
// Consumers take one message, "work" for work-ms, and ack, so they drain at most R = consumers * 1000 / work-ms
// messages per second (less in practice: receive and ack are commits too). Producers offer 2R per second (open
// loop, paced per producer), so the overload is at least 2x. Reported per scenario: accepted and consumed
// messages per second, enqueue latency p50/p99 (call to commit, including any wait for room), end-to-end latency
// p99 (enqueue to ack) and the backlog left at the end.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using DurableQueue;

var seconds = Arg("--seconds", 10);
var consumers = Arg("--consumers", 2);
var workMs = Arg("--work-ms", 20);
var capacity = Arg("--capacity", 100);
const int Producers = 16;

Console.WriteLine($"# back pressure bench: {Environment.ProcessorCount} cores, {consumers} consumers x {workMs} ms work, {Producers} producers, {seconds} s per scenario, Durability.Full");
var drain = consumers * 1000.0 / workMs;
Console.WriteLine($"consumer ceiling R = {drain:0} msg/s; offered load = 2R = {2 * drain:0} msg/s");
Console.WriteLine();
Console.WriteLine("| scenario | accepted msg/s | rejected msg/s | consumed msg/s | enqueue p50 ms | enqueue p99 ms | end-to-end p99 ms | backlog at end |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
await RunAsync("unbounded", new QueueOptions(), 2 * drain);
await RunAsync($"bounded {capacity}, Wait", new QueueOptions { MaxMessages = capacity, FullMode = QueueFullMode.Wait }, 2 * drain);
await RunAsync($"bounded {capacity}, Reject", new QueueOptions { MaxMessages = capacity, FullMode = QueueFullMode.Reject }, 2 * drain);
return;

async Task RunAsync(string name, QueueOptions options, double offeredPerSecond)
{
    var path = TempPath();
    try
    {
        await using var store = QueueStore.Open(path);
        var queue = store.GetQueue("bench", options);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var consumed = new long[1];
        var endToEnd = new List<double>();
        var enqueueLatencies = new List<double>[Producers];
        var rejected = new long[1];
        var sw = Stopwatch.StartNew();
        var consumerTasks = Enumerable.Range(0, consumers).Select(_ => ConsumeAsync(queue, consumed, endToEnd, stop.Token)).ToArray();
        var producerTasks = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            var latencies = enqueueLatencies[p] = new List<double>();
            var interval = TimeSpan.FromSeconds(Producers / offeredPerSecond);
            var next = sw.Elapsed + interval * (p / (double)Producers);
            while (!stop.IsCancellationRequested)
            {
                var wait = next - sw.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                next += interval;
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await queue.EnqueueAsync(Body(), cancellationToken: stop.Token);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (QueueFullException)
                {
                    Interlocked.Increment(ref rejected[0]);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        })).ToArray();
        await Task.WhenAll(producerTasks.Concat(consumerTasks));
        var elapsed = sw.Elapsed.TotalSeconds;
        var all = enqueueLatencies.SelectMany(l => l).Order().ToArray();
        double[] e2e;
        lock (endToEnd)
        {
            e2e = endToEnd.Order().ToArray();
        }

        var backlog = (await queue.GetCountsAsync()).Total;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {all.Length / elapsed:0} | {rejected[0] / elapsed:0} | {consumed[0] / elapsed:0} | {P(all, 0.50):0.0} | {P(all, 0.99):0.0} | {P(e2e, 0.99):0} | {backlog} |"));
    }
    finally
    {
        Delete(path);
    }
}

async Task ConsumeAsync(MessageQueue queue, long[] consumed, List<double>? endToEnd, CancellationToken stop)
{
    while (!stop.IsCancellationRequested)
    {
        IReadOnlyList<QueueMessage> batch;
        try
        {
            batch = await queue.ReceiveAsync(1, waitTime: TimeSpan.FromMilliseconds(200), cancellationToken: stop);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        foreach (var message in batch)
        {
            await Task.Delay(workMs, CancellationToken.None);
            await queue.AckAsync(message, CancellationToken.None);
            Interlocked.Increment(ref consumed[0]);
            if (endToEnd is not null)
            {
                var sent = BinaryPrimitives.ReadInt64LittleEndian(message.Body.Span);
                lock (endToEnd)
                {
                    endToEnd.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                }
            }
        }
    }
}

static byte[] Body()
{
    var body = new byte[128];
    BinaryPrimitives.WriteInt64LittleEndian(body, Stopwatch.GetTimestamp());
    return body;
}

static double P(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

static string TempPath() => Path.Combine(Path.GetTempPath(), $"dq-bp-bench-{Guid.NewGuid():N}.db");

static void Delete(string path)
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    foreach (var suffix in new[] { "", "-wal", "-shm" })
    {
        File.Delete(path + suffix);
    }
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
