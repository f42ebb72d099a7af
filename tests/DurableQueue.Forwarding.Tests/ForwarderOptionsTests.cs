using DurableQueue.Forwarding.Http;
using DurableQueue.Forwarding.Mqtt;
using DurableQueue.Forwarding.RabbitMq;
using DurableQueue.Forwarding.Tests.Servers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DurableQueue.Forwarding.Tests;

public sealed class ForwarderOptionsTests
{
    [Fact]
    public void Ctor_Defaults()
    {
        var options = new ForwarderOptions();
        Assert.Equal(256, options.Window);
        Assert.Equal(100, options.MaxBatchSize);
        Assert.Equal(1024 * 1024, options.MaxBatchBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(5), options.Linger);
        Assert.Null(options.OrderingKeyHeader);
        Assert.Null(options.OrderingKey);
        Assert.Equal(TimeSpan.FromSeconds(30), options.LeaseDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.RetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(30), options.MaxRetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(5), options.BreakDuration);
        Assert.Null(options.MessagesPerSecond);
        Assert.Null(options.BytesPerSecond);
        Assert.Null(options.PaceToArrivals);
        Assert.Equal(TimeSpan.FromMinutes(1), options.LinkDownDegradedAfter);
        Assert.Null(options.TimeProvider);
    }

    [Fact]
    public async Task Validate_Invalid_NamesTheOption()
    {
        await using var store = TempStore.Create();
        await using var sink = new HttpSink(new HttpClient(), new HttpSinkOptions { Endpoint = new Uri("http://127.0.0.1:9/") });
        var error = Assert.Throws<ArgumentException>(() => new Forwarder("f", store.Queue(), sink, new ForwarderOptions { Window = 0 }));
        Assert.Contains("Window", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => new Forwarder("f", store.Queue(), sink, new ForwarderOptions { RetryDelay = TimeSpan.FromSeconds(5), MaxRetryDelay = TimeSpan.FromSeconds(1) }));
        Assert.Contains("MaxRetryDelay", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => new Forwarder("f", store.Queue(), sink, new ForwarderOptions { Linger = TimeSpan.FromSeconds(2) }));
        Assert.Contains("Linger", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new MqttSink(new MqttSinkOptions()));
        Assert.Throws<ArgumentException>(() => new RabbitMqSink(new RabbitMqSinkOptions()));
        Assert.Throws<ArgumentException>(() => new HttpSink(new HttpClient(), new HttpSinkOptions()));
    }

    [Fact]
    public void AddForwarder_WithoutSink_OrTwiceForAQueue_Throws()
    {
        var services = new ServiceCollection();
        var builder = services.AddDurableQueue(o => o.Path = "unused.db");
        var error = Assert.Throws<InvalidOperationException>(() => builder.AddForwarder("telemetry", _ => { }));
        Assert.Contains("no sink", error.Message, StringComparison.Ordinal);
        builder.AddForwarder("telemetry", f => f.ToMqtt(o => o.Topic = "t"));
        error = Assert.Throws<InvalidOperationException>(() => builder.AddForwarder("telemetry", f => f.ToMqtt(o => o.Topic = "t")));
        Assert.Contains("has a forwarder already", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PaceToArrivals_BindsFromConfiguration_AndAValueBelowOneIsRefusedWithItsName()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DurableQueue:Forwarders:telemetry:PaceToArrivals"] = "2.5",
            ["DurableQueue:Forwarders:orders:PaceToArrivals"] = "0.5",
        }).Build());
        services.AddDurableQueue(o => o.Path = "unused.db")
            .AddForwarder("telemetry", f => f.ToMqtt(o => o.Topic = "t"))
            .AddForwarder("orders", f => f.ToMqtt(o => o.Topic = "t"));
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptionsMonitor<ForwarderOptions>>();
        Assert.Equal(2.5, options.Get("telemetry").PaceToArrivals);
        var error = Assert.Throws<OptionsValidationException>(() => options.Get("orders"));
        Assert.Contains("Forwarder 'orders'", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(ForwarderOptions.PaceToArrivals), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SendBatch_OutcomeIsSetOnce()
    {
        var message = new OutboundMessage(new MessageId(1), "f-1", new byte[] { 1 }, new Dictionary<string, string>(), DateTimeOffset.UnixEpoch, "");
        var batch = new SendBatch([message, message]);
        Assert.Equal(SendOutcome.Pending, batch.OutcomeOf(0));
        Assert.True(batch.Reject(0, "bad"));
        Assert.False(batch.Confirm(0));
        Assert.Equal(SendOutcome.Rejected, batch.OutcomeOf(0));
        Assert.Equal("bad", batch.ReasonOf(0));
        Assert.True(batch.Fail(1, "later"));
        Assert.Equal(SendOutcome.Failed, batch.OutcomeOf(1));
        Assert.Throws<ArgumentException>(() => new SendBatch([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Confirm(2));
    }

    [Fact]
    public async Task MessagesPerSecond_NeverSendsMoreThanTheBurstPlusTheRate()
    {
        const int rate = 50;
        const int total = 100;
        await using var receiver = await HttpReceiver.StartAsync();
        await using var store = TempStore.Create();
        var queue = store.Queue();
        for (var i = 0; i < total; i++)
        {
            await queue.EnqueueAsync($"reading {i}");
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var worst = 0.0;
        receiver.Answer = _ =>
        {
            // At every request: sent so far <= one second's burst + the rate times the time elapsed (+ one refill).
            var allowed = rate + (rate * watch.Elapsed.TotalSeconds) + (rate / 10.0);
            worst = Math.Max(worst, (receiver.Requests.Count + 1) / allowed);
            return null;
        };
        var options = new ForwarderOptions { MessagesPerSecond = rate, MaxBatchSize = 1 };
        await using var sink = new HttpSink(new HttpClient(), new HttpSinkOptions { Endpoint = receiver.Endpoint });
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, options));
        await receiver.WaitUntilAsync(r => r.Count == total, Wait.Long, "every message");

        // Sending faster than allowed is the failure; being slow never is (no lower bound on speed is asserted).
        Assert.True(worst <= 1.0, $"sent {worst:P0} of what the limit allows at some moment");
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds((total - rate) / (double)rate * 0.9), $"{total} messages went out in {watch.Elapsed}, faster than {rate}/s after the burst");
    }
}
