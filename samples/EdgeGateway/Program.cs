// An edge device: a sensor gateway records readings into a local queue whether or not the network is up, and a
// forwarder hands them to the central MQTT broker once it is reachable: acked locally only after the broker's PUBACK,
// in order per device, each with a message id the central side uses to drop duplicates.
//
//   dotnet run --project samples/EdgeGateway                       starts a private mosquitto if it is installed,
//                                                                  and takes it down for a while to show the backlog
//   dotnet run --project samples/EdgeGateway -- --broker host:port  uses a broker you run
//   dotnet run --project samples/EdgeGateway -- --seconds 60        runs longer (default 20 s; Ctrl+C stops it too)
//
// Without a broker it keeps recording offline and says what to start; readings wait in edge-gateway.db and go out
// on a later run once the broker is there.
using System.Globalization;
using DurableQueue;
using DurableQueue.Forwarding;
using EdgeGateway;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var settings = Settings.Parse(args);
await using var broker = settings.Broker is null ? await LocalBroker.TryStartAsync() : null;
var (host, port) = settings.Broker ?? (broker is null ? ("127.0.0.1", 1883) : ("127.0.0.1", broker.Port));
if (settings.Broker is null && broker is null)
{
    Console.WriteLine("No MQTT broker: mosquitto is not installed here. Readings are recorded offline and forwarded once a broker");
    Console.WriteLine("listens on 127.0.0.1:1883 (start one with `mosquitto -p 1883`), or pass --broker host:port.");
}

await using var central = await CentralSystem.TryConnectAsync(host, port);

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddDurableQueue(o => o.Path = Path.Combine(AppContext.BaseDirectory, "edge-gateway.db"))
    .AddForwarder("readings", f => f
        .Configure(o =>
        {
            o.OrderingKeyHeader = "device";
            o.MaxRetryDelay = TimeSpan.FromSeconds(2);
            o.BreakDuration = TimeSpan.FromSeconds(1);
        })
        .ToMqtt(o =>
        {
            o.Host = host;
            o.Port = port;
            o.TopicSelector = m => $"plant/{m.OrderingKey}/readings";
            o.Timeout = TimeSpan.FromSeconds(2);
        }));
builder.Services.AddHostedService<Sensors>();
using var app = builder.Build();
await app.StartAsync();

var queue = app.Services.GetRequiredService<QueueStore>().GetQueue("readings");
var registry = app.Services.GetRequiredService<ForwarderRegistry>();
using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(settings.Seconds));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var started = DateTimeOffset.UtcNow;
var linkCut = false;
var linkBack = false;
try
{
    using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(1));
    while (await ticker.WaitForNextTickAsync(stop.Token))
    {
        // Each step once, at or after its second: on a busy machine a tick can come late and skip a second, or come
        // twice within one.
        var second = (int)(DateTimeOffset.UtcNow - started).TotalSeconds;
        if (broker is not null && !linkCut && second >= 6)
        {
            linkCut = true;
            Console.WriteLine("-- the link goes down (the broker stops); the gateway keeps recording --");
            await broker.StopAsync();
        }
        else if (broker is not null && linkCut && !linkBack && second >= 12)
        {
            linkBack = true;
            Console.WriteLine("-- the link is back; the backlog drains, in order per device --");
            await broker.StartAgainAsync();
        }

        var counts = await queue.GetCountsAsync();
        var status = registry.Find("readings")?.GetStatus();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{second,3} s  recorded {Sensors.Recorded,4}  forwarded {status?.Forwarded ?? 0,4}  backlog {counts.Total,4}  link {status?.Link,-7} " +
            $"lag {status?.Lag.TotalSeconds ?? 0,5:0.0} s  central got {central?.Distinct ?? 0,4} (+{central?.Duplicates ?? 0} dup)"));
    }
}
catch (OperationCanceledException)
{
}

await app.StopAsync();
Console.WriteLine(broker is null && central is null
    ? "Stopped. The readings wait in edge-gateway.db for the next run with a broker."
    : $"Stopped. The central system got {central?.Distinct ?? 0} distinct readings; {(await queue.GetCountsAsync()).Total} wait for the next run.");
