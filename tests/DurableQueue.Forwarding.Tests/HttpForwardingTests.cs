using System.Diagnostics.Metrics;
using DurableQueue.Forwarding.Http;
using DurableQueue.Forwarding.Tests.Servers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace DurableQueue.Forwarding.Tests;

/// <summary>The forwarder against a real Kestrel receiver on a free loopback port.</summary>
public sealed class HttpForwardingTests
{
    private static HttpSink Sink(Uri endpoint) =>
        new(new HttpClient { Timeout = TimeSpan.FromSeconds(10) }, new HttpSinkOptions { Endpoint = endpoint, ContentType = "text/plain" });

    [Fact]
    public async Task Forward_Backlog_ArrivesInOrderPerKey_WithIdAndHeaders_AndIsAckedLocally()
    {
        await using var receiver = await HttpReceiver.StartAsync();
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var ids = await MqttForwardingTests.EnqueueAsync(queue, 300, new Random(3));
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, Sink(receiver.Endpoint), MqttForwardingTests.Options()));

        await receiver.WaitUntilAsync(r => r.Count >= ids.Count, Wait.Long, "every message");
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");

        var requests = receiver.Requests;
        Assert.Equal(ids, requests.Select(r => r.LocalId).Order().ToList());
        Assert.Equal(0, Order.AssertFirstArrivalsInOrder(requests, r => r.Key, r => r.LocalId));
        Assert.All(requests, r => Assert.StartsWith("reading ", r.Body, StringComparison.Ordinal));
        Assert.All(requests, r => Assert.StartsWith("text/plain", r.ContentType, StringComparison.Ordinal));
        Assert.All(requests, r => Assert.Matches("^d[0-4]$", r.Key));
    }

    [Fact]
    public async Task ServerErrors_AreRetriedWithoutSpendingAttempts_AndFinal4xxDeadLettersWithTheStatus()
    {
        await using var receiver = await HttpReceiver.StartAsync();
        var outage = true;
        // 503 for everything while the outage lasts; 422 for one bad message whatever happens.
        receiver.Answer = body => body.Contains("bad", StringComparison.Ordinal) ? 422 : Volatile.Read(ref outage) ? 503 : null;
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var good = new List<long>();
        long bad = 0;
        for (var i = 0; i < 30; i++)
        {
            var id = await queue.EnqueueAsync(i == 10 ? "bad reading" : $"reading {i}");
            if (i == 10)
            {
                bad = id.Value;
            }
            else
            {
                good.Add(id.Value);
            }
        }

        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, Sink(receiver.Endpoint), MqttForwardingTests.Options()));
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Retries >= 3, Wait.Long, "several failed tries during the outage");
        var status = running.Forwarder.GetStatus();
        Assert.Equal(LinkState.Down, status.Link);
        Assert.Contains("503", status.LastError, StringComparison.Ordinal);
        Assert.All(await queue.GetMessagesAsync(100), m => Assert.Equal(1, m.Attempts));
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
        // The status row for other processes follows within about a second, with no message through yet.
        var down = await StatusRow.WaitAsync(store.FilePath, r => r.Link == "Down", "the status row to say the link is down");
        Assert.True(down.Running);
        Assert.Equal("telemetry", down.Queue);
        Assert.Contains("503", down.LastError, StringComparison.Ordinal);
        Assert.Equal(0, down.Forwarded);
        Assert.Null(down.LastForwardedAt);

        Volatile.Write(ref outage, false);
        await receiver.WaitUntilAsync(r => r.Count >= good.Count, Wait.Long, "every good message after the outage");
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");

        Assert.Equal(good, receiver.Requests.Select(r => r.LocalId).Distinct().ToList());
        var deadLetter = Assert.Single(await queue.GetDeadLettersAsync());
        Assert.Equal(bad, deadLetter.Id.Value);
        Assert.StartsWith("HTTP 422", deadLetter.Reason, StringComparison.Ordinal);
        Assert.Contains("refused: bad reading", deadLetter.Reason, StringComparison.Ordinal);
        Assert.Equal(LinkState.Up, running.Forwarder.GetStatus().Link);
        var up = await StatusRow.WaitAsync(store.FilePath, r => r.Link == "Up" && r.Forwarded == good.Count, "the status row to say the link is up, with every message");
        Assert.True(up.LinkSince > down.LinkSince);
        Assert.NotNull(up.LastForwardedAt);
        Assert.True(up.WrittenAt >= up.LastForwardedAt);
    }

    [Fact]
    public async Task AddForwarder_ToHttp_RunsAsHostedService_ReportsMetrics_AndHealthDegradesWhileTheLinkIsDown()
    {
        var receiver = await HttpReceiver.StartAsync();
        var endpoint = receiver.Endpoint;
        await using var store = TempStore.Create();
        var path = store.FilePath;
        await store.Store.DisposeAsync();

        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddDurableQueue(o => o.Path = path)
            .AddForwarder("telemetry", f => f
                .Configure(o =>
                {
                    o.RetryDelay = TimeSpan.FromMilliseconds(20);
                    o.MaxRetryDelay = TimeSpan.FromMilliseconds(200);
                    o.LinkDownDegradedAfter = TimeSpan.Zero;
                })
                .ToHttp(endpoint, resilience: r =>
                {
                    r.Retry.Delay = TimeSpan.FromMilliseconds(10);
                    r.Retry.MaxRetryAttempts = 1;
                }));
        builder.Services.AddHealthChecks().AddDurableQueueForwarders();
        using var host = builder.Build();

        // Only this host's meter (its IMeterFactory): other tests forward in parallel on the static one.
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();
        var forwarded = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Meter.Name == "DurableQueue"
                && instrument.Name == "durablequeue.forwarder.messages.forwarded")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref forwarded, value));
        listener.Start();
        await host.StartAsync();
        var queue = host.Services.GetRequiredService<QueueStore>().GetQueue("telemetry");
        var registry = host.Services.GetRequiredService<ForwarderRegistry>();
        var health = host.Services.GetRequiredService<HealthCheckService>();

        for (var i = 0; i < 20; i++)
        {
            await queue.EnqueueAsync($"reading {i}");
        }

        await receiver.WaitUntilAsync(r => r.Count >= 20, Wait.Long, "the messages of the hosted forwarder");
        await Wait.UntilAsync(() => Interlocked.Read(ref forwarded) == 20, Wait.Long, "the forwarded counter");
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        await receiver.DisposeAsync();
        await queue.EnqueueAsync("while the receiver is gone");
        await Wait.UntilAsync(() => registry.Find("telemetry")?.GetStatus().Link == LinkState.Down, Wait.Long, "the link to be down");
        var report = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, report.Status);
        Assert.Contains("forwarder 'telemetry': link down", report.Entries["durablequeue-forwarders"].Description, StringComparison.Ordinal);
        Assert.Equal("Down", report.Entries["durablequeue-forwarders"].Data["telemetry.link"]);

        await host.StopAsync();
        // The last status row says the forwarder stopped, with the link as it was.
        var row = Assert.Single(StatusRow.ReadAll(path));
        Assert.False(row.Running);
        Assert.Equal("Down", row.Link);
        Assert.Equal(20, row.Forwarded);
        Assert.False(string.IsNullOrEmpty(row.LastError));
        // The unconfirmed message stays in the queue, on its first attempt, for the next start.
        await using var reopened = QueueStore.Open(path);
        var left = Assert.Single(await reopened.GetQueue("telemetry").GetMessagesAsync());
        Assert.Equal("while the receiver is gone", System.Text.Encoding.UTF8.GetString(left.Body.Span));
        Assert.Equal(0, (await reopened.GetQueue("telemetry").GetCountsAsync()).DeadLettered);
    }
}
