// A child process for the forwarder's kill tests: it enqueues readings into a store file and forwards them to an MQTT
// broker on 127.0.0.1, until it is killed (SIGKILL) or, in drain mode, until the queue is empty. It reports, one
// flushed line each, only what the store confirmed:
//   READY            the store is open and the forwarder started
//   ENQ <id> <key>   EnqueueAsync returned this id for a message of this ordering key
//   EMPTY            (drain mode) the queue has no message left
// Usage: DurableQueue.Forwarding.CrashHost <file> <mqttPort> <produce|drain> [window=N] [seed=N]
using System.Globalization;
using DurableQueue;
using DurableQueue.Forwarding;
using DurableQueue.Forwarding.Mqtt;

var file = args[0];
var port = int.Parse(args[1], CultureInfo.InvariantCulture);
var mode = args[2];
var settings = args.Skip(3).Select(a => a.Split('=', 2)).ToDictionary(a => a[0], a => a[1], StringComparer.Ordinal);
var window = int.Parse(settings.GetValueOrDefault("window", "32"), CultureInfo.InvariantCulture);
var random = new Random(int.Parse(settings.GetValueOrDefault("seed", "1"), CultureInfo.InvariantCulture));
var output = Console.Out;
var outputLock = new Lock();
void Line(string text)
{
    lock (outputLock)
    {
        output.WriteLine(text);
        output.Flush();
    }
}

await using var store = QueueStore.Open(file, new QueueStoreOptions { PollInterval = TimeSpan.FromMilliseconds(20) });
// Each kill while the forwarder holds a message spends one of its attempts: a forwarded queue wants many.
var queue = store.GetQueue("telemetry", new QueueOptions { MaxAttempts = 100_000 });
await using var sink = new MqttSink(new MqttSinkOptions
{
    Host = "127.0.0.1",
    Port = port,
    TopicSelector = m => "fwd/" + m.OrderingKey,
    Timeout = TimeSpan.FromSeconds(10),
});
var forwarder = new Forwarder("telemetry", queue, sink, new ForwarderOptions
{
    Window = window,
    MaxBatchSize = Math.Min(window, 16),
    OrderingKeyHeader = "device",
    LeaseDuration = TimeSpan.FromSeconds(2),
    RetryDelay = TimeSpan.FromMilliseconds(20),
    MaxRetryDelay = TimeSpan.FromMilliseconds(200),
});
using var stop = new CancellationTokenSource();
var running = forwarder.RunAsync(stop.Token);
Line("READY");

if (mode == "produce")
{
    var seq = 0;
    while (!running.IsCompleted)
    {
        var key = "d" + random.Next(4).ToString(CultureInfo.InvariantCulture);
        var id = await queue.EnqueueAsync(
            $"reading {seq++}", new EnqueueOptions { Headers = new Dictionary<string, string> { ["device"] = key } });
        Line($"ENQ {id} {key}");
        if (random.Next(8) == 0)
        {
            // Bursts and pauses, so that kills land both while producing and while only forwarding.
            await Task.Delay(random.Next(1, 15));
        }
    }
}
else
{
    while ((await queue.GetCountsAsync()).Total > 0 && !running.IsCompleted)
    {
        await Task.Delay(20);
    }

    Line("EMPTY");
}

await stop.CancelAsync();
await running;
return 0;
