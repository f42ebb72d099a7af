using DurableQueue.Forwarding.Mqtt;
using DurableQueue.Forwarding.Tests.Servers;

namespace DurableQueue.Forwarding.Tests;

/// <summary>
/// Several batches of one ordering key on their way at once (pipelined on one MQTT connection), against a real mosquitto
/// that refuses one message in the middle of the window (an ACL denial that this sink is told to retry; mosquitto
/// answers it and drops the connection, so the batches behind it fail too). The RabbitMQ tests have the case where the
/// messages after a refused one are confirmed.
/// </summary>
public sealed class WindowTests
{
    internal const int Count = 40;
    internal const int Blocked = 5;

    /// <summary>Small batches, so that several of one key are on their way at once; the whole queue fits the window.</summary>
    internal static ForwarderOptions Options() => new()
    {
        Window = Count,
        MaxBatchSize = 4,
        OrderingKeyHeader = "device",
        LeaseDuration = TimeSpan.FromSeconds(2),
        RetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        BreakDuration = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>The blocked message goes to a denied topic until the gate opens; the broker answers PUBACK NotAuthorized, which this sink retries.</summary>
    private static MqttSink Sink(int port, long blocked, Gate gate)
    {
        var options = new MqttSinkOptions
        {
            Host = "127.0.0.1",
            Port = port,
            TopicSelector = m => m.LocalId.Value == blocked && !gate.Open ? "denied/x" : "fwd/" + m.OrderingKey,
        };
        options.PermanentReasonCodes.Clear();
        return new MqttSink(options);
    }

    /// <summary>Enqueues <see cref="Count"/> messages of one ordering key; returns their ids.</summary>
    internal static async Task<List<long>> EnqueueAsync(MessageQueue queue)
    {
        var ids = new List<long>(Count);
        for (var i = 0; i < Count; i++)
        {
            var id = await queue.EnqueueAsync($"reading {i}", new EnqueueOptions { Headers = new Dictionary<string, string> { ["device"] = "d0" } });
            ids.Add(id.Value);
        }

        return ids;
    }

    [Fact]
    public async Task RefusalInTheMiddleOfTheWindow_NothingAfterItIsAcked_ItAndTheRestGoAgainInOrder()
    {
        await using var scene = await Scene.StartAsync();
        var (broker, receiver, queue, ids, gate) = (scene.Broker, scene.Receiver, scene.Queue, scene.Ids, scene.Gate);
        await using var sink = Sink(broker.Port, ids[Blocked], gate);
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, Options()));

        // mosquitto answers the refused publish and drops the connection: the batches behind it in the window fail.
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Retries >= 3, Wait.Long, "three failed tries of the refused message");
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == Count - Blocked, Wait.Long, "the messages before the refused one to be acked");

        // Nothing after it is acked locally, and nothing spent an attempt.
        var held = await queue.GetMessagesAsync(1000);
        Assert.Equal(ids.Skip(Blocked), held.Select(m => m.Id.Value));
        Assert.All(held, m => Assert.Equal(1, m.Attempts));
        Assert.DoesNotContain(receiver.Messages, r => r.LocalId == ids[Blocked]);

        gate.Open = true;
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");
        await receiver.WaitUntilAsync(m => m.Select(r => r.LocalId).Distinct().Count() == Count, Wait.Long, "every message");

        // Every first arrival in order; once the refused message went through, everything after it went once each, in order.
        var arrivals = receiver.Messages.Select(r => r.LocalId).ToList();
        var duplicates = Order.AssertFirstArrivalsInOrder(receiver.Messages, r => r.Key, r => r.LocalId);
        Assert.Equal(ids.Skip(Blocked + 1), arrivals.Skip(arrivals.IndexOf(ids[Blocked]) + 1));
        Assert.Equal(1, arrivals.Count(id => id == ids[Blocked]));
        Assert.InRange(duplicates, 0, Options().MaxBatchSize * 4);
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
        Assert.Equal(Count, running.Forwarder.GetStatus().Forwarded);
    }

    [Fact]
    public async Task Restart_WithAWindowInFlight_TheNextRunSendsTheHeldMessagesFirst_InOrder_Once()
    {
        await using var scene = await Scene.StartAsync();
        var (broker, receiver, queue, ids, gate) = (scene.Broker, scene.Receiver, scene.Queue, scene.Ids, scene.Gate);

        // The first run stops while it holds the window: the refused message and every one after it, leased.
        await using (var sink = Sink(broker.Port, ids[Blocked], gate))
        {
            await using var first = new RunningForwarder(new Forwarder("telemetry", queue, sink, Options()));
            await Wait.UntilAsync(() => first.Forwarder.GetStatus().Retries >= 2, Wait.Long, "two failed tries of the refused message");
            await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == Count - Blocked, Wait.Long, "the messages before the refused one to be acked");
            await first.StopAsync();
        }

        Assert.Equal(Count - Blocked, (await queue.GetCountsAsync()).Total);
        Assert.DoesNotContain(receiver.Messages, r => r.LocalId == ids[Blocked]);

        // Messages enqueued since are ready before the held ones (whose leases expire later): the next run must
        // still send the held ones first.
        var later = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            later.Add((await queue.EnqueueAsync($"later {i}", new EnqueueOptions { Headers = new Dictionary<string, string> { ["device"] = "d0" } })).Value);
        }

        gate.Open = true;
        await using var again = Sink(broker.Port, ids[Blocked], gate);
        await using var second = new RunningForwarder(new Forwarder("telemetry", queue, again, Options()));
        var expected = ids.Skip(Blocked).Concat(later).ToList();
        // The refused message never reached the broker in the first run: what the second run sent starts with it.
        static IEnumerable<long> SecondRun(IReadOnlyList<MqttReceiver.Received> arrivals, long first) =>
            arrivals.Select(r => r.LocalId).SkipWhile(id => id != first);
        await receiver.WaitUntilAsync(m => SecondRun(m, ids[Blocked]).Distinct().Count() == expected.Count, Wait.Long, "every held and later message");
        // The held messages come back from the queue once their old leases expire: acked without a third send.
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");
        await Wait.UntilAsync(() => second.Forwarder.GetStatus().Forwarded == expected.Count, Wait.Long, "the forwarded count");

        Assert.Equal(expected, SecondRun(receiver.Messages, ids[Blocked]));
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
    }

    /// <summary>A mosquitto that denies <c>denied/#</c>, a receiver of <c>fwd/#</c>, and a queue of <see cref="Count"/> messages.</summary>
    private sealed class Scene : IAsyncDisposable
    {
        private TempStore _store = null!;

        public Mosquitto Broker { get; private set; } = null!;

        public MqttReceiver Receiver { get; private set; } = null!;

        public MessageQueue Queue { get; private set; } = null!;

        public List<long> Ids { get; private set; } = null!;

        public Gate Gate { get; } = new();

        public static async Task<Scene> StartAsync()
        {
            var scene = new Scene { Broker = await Mosquitto.StartAsync(denyTopic: "denied/#") };
            scene.Receiver = await MqttReceiver.ConnectAsync(scene.Broker.Port);
            scene._store = TempStore.Create();
            scene.Queue = scene._store.Queue();
            scene.Ids = await EnqueueAsync(scene.Queue);
            return scene;
        }

        public async ValueTask DisposeAsync()
        {
            await _store.DisposeAsync();
            await Receiver.DisposeAsync();
            await Broker.DisposeAsync();
        }
    }

    private sealed class Gate
    {
        private volatile bool _open;

        public bool Open
        {
            get => _open;
            set => _open = value;
        }
    }
}
