// Forwarding throughput to a local mosquitto and a local RabbitMQ node (both started here on loopback ports), each
// beside a raw client baseline in the same run: the same messages published directly with QoS 1 / publisher confirms,
// with as many unconfirmed at once as the forwarder's window. "The same messages" means what the forwarder puts on
// the wire for each: the body, an id of the same form, and the message's header (as an MQTT user property; as an AMQP
// header, with the timestamp). A second raw row sends a short id only, as this benchmark's baseline did before.
// Also: the local enqueue rate alone, while a forwarder keeps up with it (live), and while a forwarder drains a
// backlog. Every figure is a median of alternating rounds; ratios are to the baseline of the same run. Each forwarding
// case also reports the CPU time it cost per message: this process (client, forwarder and local queue) and the
// broker's processes, read from /proc.
//
//   dotnet run -c Release --project benchmarks/DurableQueue.ForwardingBench [-- --messages 20000 --rounds 5 --only mqtt,rabbit,enqueue]
//   (for profiling also: --only mqtt1 | local | lease)
using System.Diagnostics;
using System.Globalization;
using System.Text;
using DurableQueue;
using DurableQueue.BenchmarkShared;
using DurableQueue.Forwarding;
using DurableQueue.Forwarding.Mqtt;
using DurableQueue.Forwarding.RabbitMq;
using DurableQueue.Forwarding.Tests.Servers;
using MQTTnet;
using MQTTnet.Protocol;
using RabbitMQ.Client;

var messages = Arg("--messages", 20_000);
var rounds = Arg("--rounds", 5);
var only = ArgText("--only", "mqtt,rabbit,enqueue").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
const int Window = 1000;
const int BodyBytes = 100;
var rawIdPrefix = Guid.NewGuid().ToString("N") + "-";
var body = Encoding.UTF8.GetBytes(new string('x', BodyBytes));
var directory = Directory.CreateTempSubdirectory("dq-fwd-bench-").FullName;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{messages} messages of {BodyBytes} bytes per round, {rounds} rounds, window {Window}; {Environment.ProcessorCount} cores, .NET {Environment.Version}; load {LoadAverage()}"));

var results = new List<Row>();
IReadOnlyList<int> brokerPids = [];
if (only.Contains("mqtt"))
{
    await using var mosquitto = await Mosquitto.StartAsync();
    brokerPids = [mosquitto.ProcessId];
    var raw = new List<Sample>();
    var idOnly = new List<Sample>();
    var one = new List<Sample>();
    var eight = new List<Sample>();
    var local = new List<Sample>();
    MqttSink Sink() => new(new MqttSinkOptions { Host = "127.0.0.1", Port = mosquitto.Port, Topic = "bench" });
    for (var round = 0; round < rounds; round++)
    {
        raw.Add(await MeasureAsync(() => RawMqttAsync(mosquitto.Port, sameMessage: true)));
        idOnly.Add(await MeasureAsync(() => RawMqttAsync(mosquitto.Port, sameMessage: false)));
        local.Add(await ForwardAsync(new NoopSink(), keys: 1));
        one.Add(await ForwardAsync(Sink(), keys: 1));
        eight.Add(await ForwardAsync(Sink(), keys: 8));
    }

    results.Add(Row.Of("mosquitto", "raw MQTTnet, QoS 1, the forwarder's message: id and header as user properties (baseline)", raw, raw));
    results.Add(Row.Of("mosquitto", "raw MQTTnet, QoS 1, a short id only (the baseline of earlier runs)", idOnly, raw));
    results.Add(Row.Of("mosquitto", "forwarder, 1 ordering key", one, raw));
    results.Add(Row.Of("mosquitto", "forwarder, 8 ordering keys", eight, raw));
    results.Add(Row.Of("mosquitto", "forwarder to a sink that confirms at once (the local queue's share)", local, raw));
}

if (only.Contains("mqtt1"))
{
    // The forwarder alone to mosquitto, one ordering key: for profiling.
    await using var mosquitto = await Mosquitto.StartAsync();
    brokerPids = [mosquitto.ProcessId];
    var one = new List<Sample>();
    for (var round = 0; round < rounds; round++)
    {
        one.Add(await ForwardAsync(new MqttSink(new MqttSinkOptions { Host = "127.0.0.1", Port = mosquitto.Port, Topic = "bench" }), keys: 1));
    }

    results.Add(Row.Of("mosquitto", "forwarder, 1 ordering key", one, one));
}

if (only.Contains("local"))
{
    // The forwarder's own work alone (no broker): for profiling.
    var local = new List<Sample>();
    for (var round = 0; round < rounds; round++)
    {
        local.Add(await ForwardAsync(new NoopSink(), keys: 1));
    }

    results.Add(Row.Of("none", "forwarder to a sink that confirms at once", local, local));
}

if (only.Contains("lease"))
{
    // The local queue alone: lease in chunks and ack, as the forwarder does, with no forwarder. For profiling: the
    // difference to "local" is the forwarder's own work.
    var lease = new List<Sample>();
    for (var round = 0; round < rounds; round++)
    {
        lease.Add(await LeaseAckAsync());
    }

    results.Add(Row.Of("none", "lease 256 at a time and ack them, no forwarder", lease, lease));
}

if (only.Contains("rabbit") || only.Contains("enqueue"))
{
    await using var rabbit = await RabbitMqServer.StartNewAsync();
    brokerPids = rabbit.ProcessIds;
    await DeclareAsync(rabbit.Port);
    RabbitMqSink Sink() => new(new RabbitMqSinkOptions { HostName = "127.0.0.1", Port = rabbit.Port, RoutingKey = "bench" });
    if (only.Contains("rabbit"))
    {
        var raw = new List<Sample>();
        var idOnly = new List<Sample>();
        var one = new List<Sample>();
        var eight = new List<Sample>();
        for (var round = 0; round < rounds; round++)
        {
            // Every case starts on an empty queue, as the raw publisher's does (a queue that still held the last case's
            // messages costs the node more per message).
            raw.Add(await MeasureAsync(() => RawRabbitAsync(rabbit.Port, sameMessage: true)));
            idOnly.Add(await MeasureAsync(() => RawRabbitAsync(rabbit.Port, sameMessage: false)));
            one.Add(await ForwardAsync(Sink(), keys: 1));
            await PurgeAsync(rabbit.Port);
            eight.Add(await ForwardAsync(Sink(), keys: 8));
            await PurgeAsync(rabbit.Port);
        }

        results.Add(Row.Of("RabbitMQ", "raw RabbitMQ.Client, confirms, the forwarder's message: id, header, timestamp (baseline)", raw, raw));
        results.Add(Row.Of("RabbitMQ", "raw RabbitMQ.Client, confirms, a short id only (the baseline of earlier runs)", idOnly, raw));
        results.Add(Row.Of("RabbitMQ", "forwarder, 1 ordering key", one, raw));
        results.Add(Row.Of("RabbitMQ", "forwarder, 8 ordering keys", eight, raw));
    }

    if (only.Contains("enqueue"))
    {
        // The local enqueue rate (4 producers, one message per enqueue, Durability.Full): alone; while a forwarder
        // keeps up with what they enqueue (live: the link is up, no backlog); and while a forwarder drains a backlog
        // (16 times what they enqueue) as fast as it can. To RabbitMQ (whose node shares this machine's two cores),
        // and to a sink that confirms at once (the forwarder's local work only, as on a device whose broker is
        // elsewhere). The drain again with PaceToArrivals = 2: the forwarder holds its sends to twice the rate the
        // producers enqueue. The live cases again with Linger = 0: the forwarder leases again at once when caught up.
        var alone = new List<Sample>();
        var liveRabbit = new List<Sample>();
        var liveLocal = new List<Sample>();
        var liveRabbitNoLinger = new List<Sample>();
        var liveLocalNoLinger = new List<Sample>();
        var drainRabbit = new List<Sample>();
        var drainLocal = new List<Sample>();
        var pacedRabbit = new List<Sample>();
        var pacedLocal = new List<Sample>();
        for (var round = 0; round < rounds; round++)
        {
            alone.Add(await EnqueueRateAsync(null, backlog: false));
            liveRabbit.Add(await EnqueueRateAsync(Sink(), backlog: false));
            await PurgeAsync(rabbit.Port);
            liveLocal.Add(await EnqueueRateAsync(new NoopSink(), backlog: false));
            liveRabbitNoLinger.Add(await EnqueueRateAsync(Sink(), backlog: false, linger: TimeSpan.Zero));
            await PurgeAsync(rabbit.Port);
            liveLocalNoLinger.Add(await EnqueueRateAsync(new NoopSink(), backlog: false, linger: TimeSpan.Zero));
            drainRabbit.Add(await EnqueueRateAsync(Sink(), backlog: true));
            drainLocal.Add(await EnqueueRateAsync(new NoopSink(), backlog: true));
            await PurgeAsync(rabbit.Port);
            pacedRabbit.Add(await EnqueueRateAsync(Sink(), backlog: true, pace: 2));
            pacedLocal.Add(await EnqueueRateAsync(new NoopSink(), backlog: true, pace: 2));
            await PurgeAsync(rabbit.Port);
        }

        results.Add(Row.Of("local queue", "enqueue alone, 4 producers (baseline)", alone, alone));
        results.Add(Row.Of("local queue", "enqueue while forwarding them live to RabbitMQ", liveRabbit, alone));
        results.Add(Row.Of("local queue", "enqueue while forwarding them live to a sink that confirms at once", liveLocal, alone));
        results.Add(Row.Of("local queue", "enqueue while forwarding them live to RabbitMQ, Linger = 0", liveRabbitNoLinger, alone));
        results.Add(Row.Of("local queue", "enqueue while forwarding them live to a sink that confirms at once, Linger = 0", liveLocalNoLinger, alone));
        results.Add(Row.Of("local queue", "enqueue while draining a backlog to RabbitMQ", drainRabbit, alone));
        results.Add(Row.Of("local queue", "enqueue while draining a backlog to a sink that confirms at once", drainLocal, alone));
        results.Add(Row.Of("local queue", "enqueue while draining a backlog to RabbitMQ, PaceToArrivals = 2", pacedRabbit, alone));
        results.Add(Row.Of("local queue", "enqueue while draining a backlog to a sink that confirms at once, PaceToArrivals = 2", pacedLocal, alone));
    }
}

Console.WriteLine();
Console.WriteLine("| Target | Case | Median msg/s | Ratio (median of rounds) | CPU µs/msg, this process | CPU µs/msg, broker |");
Console.WriteLine("|---|---|---:|---:|---:|---:|");
foreach (var row in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {row.Target} | {row.Case} | {row.Median:N0} | {row.Ratio:0.00} | {row.OwnCpu:0.0} | {row.BrokerCpu:0.0} |"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load at the end {LoadAverage()}"));
Directory.Delete(directory, recursive: true);
return;

async Task<Sample> MeasureAsync(Func<Task<(int Count, TimeSpan Elapsed)>> run)
{
    var before = Cpu.Take(brokerPids);
    var (count, elapsed) = await run();
    var after = Cpu.Take(brokerPids);
    return new Sample(count / elapsed.TotalSeconds, (after.Own - before.Own).TotalMicroseconds / count, (after.Broker - before.Broker).TotalMicroseconds / count);
}

async Task<Sample> ForwardAsync(IMessageSink sink, int keys)
{
    await using (sink)
    {
        var path = Path.Combine(directory, $"forward-{Guid.NewGuid():N}.db");
        await using var store = QueueStore.Open(path);
        var queue = store.GetQueue("telemetry");
        for (var start = 0; start < messages; start += 1000)
        {
            await queue.EnqueueBatchAsync(Enumerable.Range(start, Math.Min(1000, messages - start)).Select(i =>
                new OutgoingMessage(body, new EnqueueOptions { Headers = new Dictionary<string, string> { ["key"] = (i % keys).ToString(CultureInfo.InvariantCulture) } })));
        }

        return await MeasureAsync(async () =>
        {
            var forwarder = new Forwarder("bench", queue, sink, new ForwarderOptions { Window = 2 * Window, MaxBatchSize = Window, OrderingKeyHeader = "key" });
            using var stop = new CancellationTokenSource();
            var watch = Stopwatch.StartNew();
            var run = forwarder.RunAsync(stop.Token);
            // Done when every message is acked locally (so confirmed by the broker before that). The status is read from
            // memory: counting the queue's rows this often would cost more than the forwarding.
            while (forwarder.GetStatus().Forwarded < messages)
            {
                await Task.Delay(20);
            }

            var elapsed = watch.Elapsed;
            await stop.CancelAsync();
            await run;
            return (messages, elapsed);
        });
    }
}

async Task<Sample> LeaseAckAsync()
{
    var path = Path.Combine(directory, $"lease-{Guid.NewGuid():N}.db");
    await using var store = QueueStore.Open(path);
    var queue = store.GetQueue("telemetry");
    for (var start = 0; start < messages; start += 1000)
    {
        await queue.EnqueueBatchAsync(Enumerable.Range(start, Math.Min(1000, messages - start)).Select(_ =>
            new OutgoingMessage(body, new EnqueueOptions { Headers = new Dictionary<string, string> { ["key"] = "0" } })));
    }

    return await MeasureAsync(async () =>
    {
        var watch = Stopwatch.StartNew();
        var done = 0;
        while (done < messages)
        {
            var received = await queue.ReceiveAsync(256, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
            await queue.AckManyAsync(received.Select(m => m.Receipt));
            done += received.Count;
        }

        return (messages, watch.Elapsed);
    });
}

// The raw publishers send what the forwarder sends for each message (sameMessage): an id of the same form (the store's
// id, a dash, the local id) and the message's one header; or, as the runs before did, only a short id.
string IdOf(int i, bool sameMessage) => sameMessage ? rawIdPrefix + i.ToString(CultureInfo.InvariantCulture) : i.ToString(CultureInfo.InvariantCulture);

async Task<(int, TimeSpan)> RawMqttAsync(int port, bool sameMessage)
{
    using var client = new MqttClientFactory().CreateMqttClient();
    var connected = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port)
        .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart(true).Build());
    using var inFlight = new SemaphoreSlim(Math.Min(Window, (int)(connected.ReceiveMaximum ?? 65535)));
    var watch = Stopwatch.StartNew();
    var publishes = new List<Task>(messages);
    for (var i = 0; i < messages; i++)
    {
        await inFlight.WaitAsync();
        var builder = new MqttApplicationMessageBuilder().WithTopic("bench").WithPayload(body).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithUserProperty("message-id", Encoding.UTF8.GetBytes(IdOf(i, sameMessage)).AsMemory());
        if (sameMessage)
        {
            builder.WithUserProperty("key", Encoding.UTF8.GetBytes("0").AsMemory());
        }

        var message = builder.Build();
        publishes.Add(PublishAsync(client, message, inFlight));
    }

    await Task.WhenAll(publishes);
    var elapsed = watch.Elapsed;
    await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
    return (messages, elapsed);

    static async Task PublishAsync(IMqttClient client, MqttApplicationMessage message, SemaphoreSlim inFlight)
    {
        try
        {
            var result = await client.PublishAsync(message);
            if (!result.IsSuccess)
            {
                throw new InvalidOperationException($"PUBACK {result.ReasonCode}");
            }
        }
        finally
        {
            inFlight.Release();
        }
    }
}

async Task<(int, TimeSpan)> RawRabbitAsync(int port, bool sameMessage)
{
    await using var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = port }.CreateConnectionAsync();
    await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null));
    using var inFlight = new SemaphoreSlim(Window);
    var watch = Stopwatch.StartNew();
    var publishes = new List<Task>(messages);
    for (var i = 0; i < messages; i++)
    {
        await inFlight.WaitAsync();
        var properties = new BasicProperties { MessageId = IdOf(i, sameMessage), Persistent = true };
        if (sameMessage)
        {
            properties.Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            properties.Headers = new Dictionary<string, object?>(StringComparer.Ordinal) { ["key"] = "0" };
        }

        publishes.Add(PublishAsync(channel.BasicPublishAsync("", "bench", true, properties, body).AsTask(), inFlight));
    }

    await Task.WhenAll(publishes);
    var elapsed = watch.Elapsed;
    await PurgeAsync(port);
    return (messages, elapsed);

    static async Task PublishAsync(Task publish, SemaphoreSlim inFlight)
    {
        try
        {
            await publish;
        }
        finally
        {
            inFlight.Release();
        }
    }
}

async Task<Sample> EnqueueRateAsync(IMessageSink? sink, bool backlog, double? pace = null, TimeSpan? linger = null)
{
    var path = Path.Combine(directory, $"enqueue-{Guid.NewGuid():N}.db");
    await using var store = QueueStore.Open(path);
    var queue = store.GetQueue("telemetry");
    using var stop = new CancellationTokenSource();
    Task run = Task.CompletedTask;
    Forwarder? forwarder = null;
    if (sink is not null)
    {
        if (backlog)
        {
            // 16 times what the producers enqueue: even the sink that confirms at once is still draining when they finish.
            var backlogSize = 4 * messages;
            for (var start = 0; start < backlogSize; start += 1000)
            {
                await queue.EnqueueBatchAsync(Enumerable.Repeat((ReadOnlyMemory<byte>)body, Math.Min(1000, backlogSize - start)));
            }
        }

        var options = new ForwarderOptions { Window = Window, MaxBatchSize = 500, PaceToArrivals = pace };
        if (linger is { } wait)
        {
            options.Linger = wait;
        }

        forwarder = new Forwarder("bench", queue, sink, options);
        run = forwarder.RunAsync(stop.Token);
    }

    var count = messages / 4;
    var sample = await MeasureAsync(async () =>
    {
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            for (var i = 0; i < count / 4; i++)
            {
                await queue.EnqueueAsync(body);
            }
        }));
        return (count, watch.Elapsed);
    });

    if (forwarder is not null && !backlog)
    {
        // Live: the forwarder kept up (or not); it must still hand on everything, which the next case must not share.
        while (forwarder.GetStatus().Forwarded < count)
        {
            await Task.Delay(20);
        }
    }

    await stop.CancelAsync();
    await run;
    if (sink is not null)
    {
        await sink.DisposeAsync();
    }

    return sample;
}

static async Task DeclareAsync(int port)
{
    await using var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = port }.CreateConnectionAsync();
    await using var channel = await connection.CreateChannelAsync();
    await channel.QueueDeclareAsync("bench", durable: true, exclusive: false, autoDelete: false);
}

static async Task PurgeAsync(int port)
{
    await using var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = port }.CreateConnectionAsync();
    await using var channel = await connection.CreateChannelAsync();
    await channel.QueuePurgeAsync("bench");
}

static string LoadAverage()
{
    try
    {
        return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
    }
    catch (IOException)
    {
        return "?";
    }
}

int Arg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

string ArgText(string name, string fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
}

/// <summary>One round of one case: its rate and the CPU time per message of this process and of the broker.</summary>
internal readonly record struct Sample(double Rate, double OwnCpuUs, double BrokerCpuUs);

/// <summary>One line of the table: medians over the rounds; the ratio is the median of each round's ratio to the baseline.</summary>
internal sealed record Row(string Target, string Case, double Median, double Ratio, double OwnCpu, double BrokerCpu)
{
    public static Row Of(string target, string name, List<Sample> samples, List<Sample> baseline) => new(
        target,
        name,
        MedianOf(samples.ConvertAll(s => s.Rate)),
        MedianOf(samples.Select((s, i) => s.Rate / baseline[i].Rate).ToList()),
        MedianOf(samples.ConvertAll(s => s.OwnCpuUs)),
        MedianOf(samples.ConvertAll(s => s.BrokerCpuUs)));

    private static double MedianOf(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

/// <summary>CPU time so far of this process and of the broker's processes (user + system, from /proc).</summary>
internal static class Cpu
{
    public static (TimeSpan Own, TimeSpan Broker) Take(IReadOnlyList<int> brokerPids)
    {
        var own = Process.GetCurrentProcess().TotalProcessorTime;
        var broker = TimeSpan.Zero;
        foreach (var pid in brokerPids)
        {
            // Zero for a process that ended.
            broker += ProcStat.Cpu(pid);
        }

        return (own, broker);
    }
}

/// <summary>Confirms everything at once: the forwarder's own cost, local queue included.</summary>
internal sealed class NoopSink : IMessageSink
{
    public ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            batch.Confirm(i);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
