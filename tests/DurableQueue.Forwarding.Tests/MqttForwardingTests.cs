using DurableQueue.Forwarding.Mqtt;
using DurableQueue.Forwarding.Tests.Servers;

namespace DurableQueue.Forwarding.Tests;

/// <summary>The forwarder against a real mosquitto broker started by the test on a free loopback port.</summary>
public sealed class MqttForwardingTests
{
    private static readonly string[] s_keys = ["d0", "d1", "d2", "d3", "d4"];

    internal static MqttSink Sink(int port, Action<MqttSinkOptions>? configure = null)
    {
        var options = new MqttSinkOptions { Host = "127.0.0.1", Port = port, TopicSelector = m => "fwd/" + (m.OrderingKey.Length == 0 ? "all" : m.OrderingKey) };
        configure?.Invoke(options);
        return new MqttSink(options);
    }

    internal static ForwarderOptions Options(int window = 64) => new()
    {
        Window = window,
        MaxBatchSize = 16,
        OrderingKeyHeader = "device",
        LeaseDuration = TimeSpan.FromSeconds(2),
        RetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(300),
        BreakDuration = TimeSpan.FromMilliseconds(500),
    };

    internal static async Task<List<long>> EnqueueAsync(MessageQueue queue, int count, Random random)
    {
        var ids = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            var key = s_keys[random.Next(s_keys.Length)];
            var id = await queue.EnqueueAsync($"reading {i}", new EnqueueOptions { Headers = new Dictionary<string, string> { ["device"] = key } });
            ids.Add(id.Value);
        }

        return ids;
    }

    [Fact]
    public async Task Forward_Backlog_ArrivesOncePerMessageInOrderPerKey_AndIsAckedLocally()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var receiver = await MqttReceiver.ConnectAsync(broker.Port);
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var ids = await EnqueueAsync(queue, 600, new Random(7));
        await using var sink = Sink(broker.Port);
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, Options()));

        await receiver.WaitUntilAsync(m => m.Select(r => r.LocalId).Distinct().Count() == ids.Count, Wait.Long, "every message at the broker");
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");

        var messages = receiver.Messages;
        Assert.Equal(ids.ToHashSet(), messages.Select(m => m.LocalId).ToHashSet());
        Assert.Equal(0, Order.AssertFirstArrivalsInOrder(messages, m => m.Key, m => m.LocalId));
        Assert.All(messages, m => Assert.Equal("fwd/" + m.Key, m.Topic));
        Assert.All(messages, m => Assert.Matches("^[0-9a-f]{12}-[0-9]+$", m.MessageId));
        var status = running.Forwarder.GetStatus();
        Assert.Equal(ids.Count, status.Forwarded);
        Assert.Equal(LinkState.Up, status.Link);
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
    }
}
