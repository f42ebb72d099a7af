// Forwarding throughput to a local mosquitto and a local RabbitMQ node (both started here on loopback ports), each
// beside a raw client baseline in the same run: the same messages published directly with QoS 1 / publisher confirms,
// with as many unconfirmed at once as the forwarder's window. Also: the local enqueue rate alone and while a forwarder
// drains a backlog. Every figure is a median of alternating rounds; ratios are to the baseline of the same run.
//
//   dotnet run -c Release --project benchmarks/DurableQueue.ForwardingBench [-- --messages 20000 --rounds 5]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using DurableQueue;
using DurableQueue.Forwarding;
using DurableQueue.Forwarding.Mqtt;
using DurableQueue.Forwarding.RabbitMq;
using DurableQueue.Forwarding.Tests.Servers;
using MQTTnet;
using MQTTnet.Protocol;
using RabbitMQ.Client;

var messages = Arg("--messages", 20_000);
var rounds = Arg("--rounds", 5);
const int Window = 1000;
const int BodyBytes = 100;
var body = Encoding.UTF8.GetBytes(new string('x', BodyBytes));
var directory = Directory.CreateTempSubdirectory("dq-fwd-bench-").FullName;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{messages} messages of {BodyBytes} bytes per round, {rounds} rounds, window {Window}; {Environment.ProcessorCount} cores, .NET {Environment.Version}"));

var results = new List<(string Target, string Case, double Median, double Baseline)>();
await using (var mosquitto = await Mosquitto.StartAsync())
{
    var raw = new List<double>();
    var one = new List<double>();
    var eight = new List<double>();
    var local = new List<double>();
    for (var round = 0; round < rounds; round++)
    {
        raw.Add(await RawMqttAsync(mosquitto.Port));
        local.Add(await ForwardAsync(new NoopSink(), keys: 1));
        one.Add(await ForwardAsync(new MqttSink(new MqttSinkOptions { Host = "127.0.0.1", Port = mosquitto.Port, Topic = "bench" }), keys: 1));
        eight.Add(await ForwardAsync(new MqttSink(new MqttSinkOptions { Host = "127.0.0.1", Port = mosquitto.Port, Topic = "bench" }), keys: 8));
    }

    results.Add(("mosquitto", "raw MQTTnet, QoS 1 (baseline)", Median(raw), Median(raw)));
    results.Add(("mosquitto", "forwarder, 1 ordering key", Median(one), Median(raw)));
    results.Add(("mosquitto", "forwarder, 8 ordering keys", Median(eight), Median(raw)));
    results.Add(("mosquitto", "forwarder to a sink that confirms at once (the local queue's share)", Median(local), Median(raw)));
}

await using (var rabbit = await RabbitMqServer.StartNewAsync())
{
    await DeclareAsync(rabbit.Port);
    var raw = new List<double>();
    var one = new List<double>();
    var eight = new List<double>();
    RabbitMqSink Sink() => new(new RabbitMqSinkOptions { HostName = "127.0.0.1", Port = rabbit.Port, RoutingKey = "bench" });
    for (var round = 0; round < rounds; round++)
    {
        raw.Add(await RawRabbitAsync(rabbit.Port));
        one.Add(await ForwardAsync(Sink(), keys: 1));
        eight.Add(await ForwardAsync(Sink(), keys: 8));
        await PurgeAsync(rabbit.Port);
    }

    results.Add(("RabbitMQ", "raw RabbitMQ.Client, confirms (baseline)", Median(raw), Median(raw)));
    results.Add(("RabbitMQ", "forwarder, 1 ordering key", Median(one), Median(raw)));
    results.Add(("RabbitMQ", "forwarder, 8 ordering keys", Median(eight), Median(raw)));

    // The local enqueue rate (4 producers, one message per enqueue, Durability.Full), alone and while a forwarder
    // drains a backlog of the same size: to RabbitMQ (whose node shares this machine's two cores), and to a sink that
    // confirms at once (the forwarder's local work only, as on a device whose broker is elsewhere).
    var alone = new List<double>();
    var duringRabbit = new List<double>();
    var duringLocal = new List<double>();
    for (var round = 0; round < rounds; round++)
    {
        alone.Add(await EnqueueRateAsync(null));
        duringRabbit.Add(await EnqueueRateAsync(Sink()));
        duringLocal.Add(await EnqueueRateAsync(new NoopSink()));
        await PurgeAsync(rabbit.Port);
    }

    results.Add(("local queue", "enqueue alone, 4 producers (baseline)", Median(alone), Median(alone)));
    results.Add(("local queue", "enqueue while forwarding to RabbitMQ on the same machine", Median(duringRabbit), Median(alone)));
    results.Add(("local queue", "enqueue while forwarding to a sink that confirms at once", Median(duringLocal), Median(alone)));
}

Console.WriteLine();
Console.WriteLine("| Target | Case | Median msg/s | Ratio |");
Console.WriteLine("|---|---|---:|---:|");
foreach (var (target, name, median, baseline) in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {target} | {name} | {median:N0} | {median / baseline:0.00} |"));
}

Directory.Delete(directory, recursive: true);
return;

async Task<double> ForwardAsync(IMessageSink sink, int keys)
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

        var rate = messages / watch.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        await run;
        return rate;
    }
}

async Task<double> RawMqttAsync(int port)
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
        var message = new MqttApplicationMessageBuilder().WithTopic("bench").WithPayload(body).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithUserProperty("message-id", Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture)).AsMemory()).Build();
        publishes.Add(PublishAsync(client, message, inFlight));
    }

    await Task.WhenAll(publishes);
    var rate = messages / watch.Elapsed.TotalSeconds;
    await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
    return rate;

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

async Task<double> RawRabbitAsync(int port)
{
    await using var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = port }.CreateConnectionAsync();
    await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null));
    using var inFlight = new SemaphoreSlim(Window);
    var watch = Stopwatch.StartNew();
    var publishes = new List<Task>(messages);
    for (var i = 0; i < messages; i++)
    {
        await inFlight.WaitAsync();
        var properties = new BasicProperties { MessageId = i.ToString(CultureInfo.InvariantCulture), Persistent = true };
        publishes.Add(PublishAsync(channel.BasicPublishAsync("", "bench", true, properties, body).AsTask(), inFlight));
    }

    await Task.WhenAll(publishes);
    var rate = messages / watch.Elapsed.TotalSeconds;
    await PurgeAsync(port);
    return rate;

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

async Task<double> EnqueueRateAsync(IMessageSink? sink)
{
    var path = Path.Combine(directory, $"enqueue-{Guid.NewGuid():N}.db");
    await using var store = QueueStore.Open(path);
    var queue = store.GetQueue("telemetry");
    using var stop = new CancellationTokenSource();
    Task run = Task.CompletedTask;
    if (sink is not null)
    {
        for (var start = 0; start < messages; start += 1000)
        {
            await queue.EnqueueBatchAsync(Enumerable.Repeat((ReadOnlyMemory<byte>)body, Math.Min(1000, messages - start)));
        }

        run = new Forwarder("bench", queue, sink, new ForwarderOptions { Window = Window, MaxBatchSize = 500 }).RunAsync(stop.Token);
    }

    var count = messages / 4;
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
    {
        for (var i = 0; i < count / 4; i++)
        {
            await queue.EnqueueAsync(body);
        }
    }));
    var rate = count / watch.Elapsed.TotalSeconds;
    await stop.CancelAsync();
    await run;
    if (sink is not null)
    {
        await sink.DisposeAsync();
    }

    return rate;
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

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

int Arg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
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
