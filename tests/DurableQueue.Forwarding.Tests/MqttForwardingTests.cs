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
        // The counter follows the ack's commit: wait for it rather than read it the instant the queue is empty.
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == ids.Count, Wait.Long, "the forwarded count");
        var status = running.Forwarder.GetStatus();
        Assert.Equal(LinkState.Up, status.Link);
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
    }

    [Fact]
    public async Task LinkLoss_BrokerStoppedWhileProducing_EveryMessageArrivesInOrder_NoAttemptSpent_NothingDeadLettered()
    {
        const int window = 64;
        await using var broker = await Mosquitto.StartAsync(persistence: true);
        await using var receiver = await MqttReceiver.ConnectAsync(broker.Port, persistentSession: true);
        await using var store = TempStore.Create();
        var queue = store.Queue();
        await using var sink = Sink(broker.Port);
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, Options(window)));
        var random = new Random(11);

        var ids = await EnqueueAsync(queue, 300, random);
        await receiver.WaitUntilAsync(m => m.Count >= 100, Wait.Long, "the first messages at the broker");

        await broker.StopAsync();
        // Producing goes on while the link is down: enqueues are local.
        ids.AddRange(await EnqueueAsync(queue, 300, random));
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Link == LinkState.Down, Wait.Long, "the forwarder to see the link down");
        var down = running.Forwarder.GetStatus();
        Assert.NotNull(down.LinkDownSince);
        Assert.NotNull(down.LastError);
        Assert.True(down.Retries > 0);
        ids.AddRange(await EnqueueAsync(queue, 100, random));
        // Held messages keep their first attempt: a retry renews the lease instead of giving the message back.
        foreach (var info in await queue.GetMessagesAsync(1000))
        {
            Assert.True(info.Attempts <= 1, $"message {info.Id} has {info.Attempts} attempts while the link is down");
        }

        await broker.StartAgainAsync();
        await receiver.WaitUntilAsync(m => m.Select(r => r.LocalId).Distinct().Count() == ids.Count, Wait.Long, "every message after the broker came back");
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");

        // The broker re-sends to the subscriber what it had in flight when it stopped (DUP set): that is its own
        // redelivery, not the forwarder's. The forwarder's duplicates are bounded by its window.
        var fromForwarder = receiver.Messages.Where(m => !m.Dup).ToList();
        var duplicates = Order.AssertFirstArrivalsInOrder(receiver.Messages, m => m.Key, m => m.LocalId);
        var forwarderDuplicates = fromForwarder.Count - fromForwarder.Select(m => m.LocalId).Distinct().Count();
        Assert.True(forwarderDuplicates <= window, $"{forwarderDuplicates} duplicates from the forwarder, more than its window of {window} ({duplicates} in all)");
        Assert.Equal(ids.ToHashSet(), receiver.Messages.Select(m => m.LocalId).ToHashSet());
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
        Assert.Equal(0, running.Forwarder.GetStatus().DeadLettered);
        Assert.Equal(LinkState.Up, running.Forwarder.GetStatus().Link);
    }

    [Fact]
    public async Task PermanentRefusal_DeadLettersWithTheReason_OthersArriveInOrder()
    {
        await using var broker = await Mosquitto.StartAsync(denyTopic: "denied/#");
        await using var receiver = await MqttReceiver.ConnectAsync(broker.Port, filter: "#");
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var allowed = new List<long>();
        var denied = new List<long>();
        var invalid = new List<long>();
        for (var i = 0; i < 60; i++)
        {
            var topic = (i % 10) switch { 3 => "denied/x", 7 => "fwd/+/bad", _ => "fwd/ok" };
            var id = await queue.EnqueueAsync($"m{i}", new EnqueueOptions { Headers = new Dictionary<string, string> { ["topic"] = topic } });
            (topic == "denied/x" ? denied : topic == "fwd/ok" ? allowed : invalid).Add(id.Value);
        }

        await using var sink = Sink(broker.Port, o => o.TopicSelector = m => m.Headers["topic"]);
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, Options()));
        await receiver.WaitUntilAsync(m => m.Select(r => r.LocalId).Distinct().Count() >= allowed.Count, Wait.Long, "the allowed messages");
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");

        Assert.Equal(allowed, receiver.Messages.Select(m => m.LocalId).Distinct().ToList());
        var deadLetters = await queue.GetDeadLettersAsync(1000);
        Assert.Equal(denied.Concat(invalid).Order().ToList(), deadLetters.Select(d => d.Id.Value).Order().ToList());
        Assert.All(deadLetters.Where(d => denied.Contains(d.Id.Value)), d => Assert.Contains("NotAuthorized", d.Reason, StringComparison.Ordinal));
        Assert.All(deadLetters.Where(d => invalid.Contains(d.Id.Value)), d => Assert.Contains("not a valid MQTT topic", d.Reason, StringComparison.Ordinal));
        Assert.Equal(denied.Count + invalid.Count, running.Forwarder.GetStatus().DeadLettered);
    }

    [Fact]
    public async Task Restart_MessagesHeldByTheLastRunGoFirst_InOrder_AndAreAckedWithoutAThirdSend()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var random = new Random(5);
        var first = await EnqueueAsync(queue, 40, random);

        // A run whose link is down the whole time: it leases the head of the queue and stops holding it.
        var deadPort = ServerProcess.FreePort();
        await using (var deadSink = Sink(deadPort, o => o.Timeout = TimeSpan.FromSeconds(1)))
        {
            await using var failing = new RunningForwarder(new Forwarder("telemetry", queue, deadSink, Options(window: 16)));
            await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Leased == 16, Wait.Long, "the first run to hold its window");
            await Wait.UntilAsync(() => failing.Forwarder.GetStatus().Retries > 0, Wait.Long, "the first run to fail a send");
        }

        // Messages enqueued since are ready before the held ones, whose leases expire later: the queue alone would
        // hand them out first. The next run must still send in enqueue order.
        var later = await EnqueueAsync(queue, 40, random);
        await using var receiver = await MqttReceiver.ConnectAsync(broker.Port);
        await using var sink = Sink(broker.Port);
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, Options(window: 16)));
        var all = first.Concat(later).ToList();
        await receiver.WaitUntilAsync(m => m.Select(r => r.LocalId).Distinct().Count() == all.Count, Wait.Long, "every message");
        // The held messages come back from the queue once their old leases expire (2 s): acked without a resend.
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");

        Assert.Equal(0, Order.AssertFirstArrivalsInOrder(receiver.Messages, m => m.Key, m => m.LocalId));
        Assert.Equal(all.Count, receiver.Messages.Count);
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == all.Count, Wait.Long, "the forwarded count");
    }
}
