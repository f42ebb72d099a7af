using System.Text;
using DurableQueue.Forwarding.RabbitMq;
using DurableQueue.Forwarding.Tests.Servers;
using RabbitMQ.Client;

namespace DurableQueue.Forwarding.Tests;

/// <summary>The forwarder against a private RabbitMQ node started once for these tests.</summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqForwardingTests(RabbitMqNode node)
{
    private RabbitMqSink Sink(string queue) => new(new RabbitMqSinkOptions
    {
        HostName = "127.0.0.1",
        Port = node.Port,
        RoutingKeySelector = m => m.Headers.GetValueOrDefault("route", queue),
        Timeout = TimeSpan.FromSeconds(10),
    });

    /// <summary>Declares a durable queue (bound to the default exchange by its name) and returns its name.</summary>
    private async Task<string> DeclareQueueAsync()
    {
        var name = "fwd-" + Guid.NewGuid().ToString("N")[..8];
        await using var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = node.Port }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false);
        return name;
    }

    /// <summary>Reads every message of a queue in its order (basic.get until empty).</summary>
    private async Task<List<(string MessageId, long LocalId, string Key, string Body)>> DrainAsync(string queue)
    {
        var messages = new List<(string, long, string, string)>();
        await using var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = node.Port }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } got)
        {
            var id = got.BasicProperties.MessageId!;
            var key = got.BasicProperties.Headers?.TryGetValue("device", out var device) == true ? Encoding.UTF8.GetString((byte[])device!) : "";
            messages.Add((id, long.Parse(id.AsSpan(id.LastIndexOf('-') + 1), System.Globalization.CultureInfo.InvariantCulture), key, Encoding.UTF8.GetString(got.Body.Span)));
        }

        return messages;
    }

    private async Task<uint> CountAsync(string queue)
    {
        await using var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = node.Port }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return await channel.MessageCountAsync(queue);
    }

    [Fact]
    public async Task Forward_Backlog_ArrivesInOrderPerKey_WithMessageIds_AndIsAckedLocally()
    {
        var target = await DeclareQueueAsync();
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var ids = await MqttForwardingTests.EnqueueAsync(queue, 500, new Random(9));
        await using var sink = Sink(target);
        await using (var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, MqttForwardingTests.Options())))
        {
            await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");
            await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == ids.Count, Wait.Long, "the forwarded count");
        }

        var messages = await DrainAsync(target);
        Assert.Equal(ids, messages.Select(m => m.LocalId).Order().ToList());
        Assert.Equal(0, Order.AssertFirstArrivalsInOrder(messages, m => m.Key, m => m.LocalId));
        Assert.All(messages, m => Assert.StartsWith("reading ", m.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task NackInTheMiddleOfTheWindow_LaterConfirmedMessagesAreNotAckedAheadOfIt_AndGoAgainInOrder()
    {
        const int count = WindowTests.Count;
        const int blocked = WindowTests.Blocked;
        var target = await DeclareQueueAsync();
        // A queue that holds nothing and refuses what it cannot hold: the broker nacks every publish routed to it.
        var full = "full-" + Guid.NewGuid().ToString("N")[..8];
        await using (var connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = node.Port }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(full, durable: true, exclusive: false, autoDelete: false, arguments: new Dictionary<string, object?>
            {
                ["x-max-length"] = 0,
                ["x-overflow"] = "reject-publish",
            });
        }

        await using var store = TempStore.Create();
        var queue = store.Queue();
        var ids = await WindowTests.EnqueueAsync(queue);

        // Until the gate opens, the blocked message goes to the full queue (nacked); the others, before and after it, are confirmed.
        var open = 0;
        await using var sink = new RabbitMqSink(new RabbitMqSinkOptions
        {
            HostName = "127.0.0.1",
            Port = node.Port,
            RoutingKeySelector = m => m.LocalId.Value == ids[blocked] && Volatile.Read(ref open) == 0 ? full : target,
            Timeout = TimeSpan.FromSeconds(10),
        });
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, WindowTests.Options()));

        // The broker confirmed messages after the nacked one (the same batch, and the batches behind it in the window)...
        await Wait.UntilAsync(async () => await CountAsync(target) > blocked + 1, Wait.Long, "messages after the nacked one at the broker");
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Retries >= 2, Wait.Long, "two failed tries of the nacked message");
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == count - blocked, Wait.Long, "the messages before the nacked one to be acked");

        // ...yet none of them is acked locally ahead of it, and none spent an attempt.
        var held = await queue.GetMessagesAsync(1000);
        Assert.Equal(ids.Skip(blocked), held.Select(m => m.Id.Value));
        Assert.All(held, m => Assert.Equal(1, m.Attempts));

        Volatile.Write(ref open, 1);
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == count, Wait.Long, "the forwarded count");

        // Once the nacked message went through, everything after it went again, once each, in order.
        var arrivals = (await DrainAsync(target)).Select(m => m.LocalId).ToList();
        Assert.Equal(ids, arrivals.Distinct().Order());
        Assert.Equal(1, arrivals.Count(id => id == ids[blocked]));
        Assert.Equal(ids.Skip(blocked + 1), arrivals.Skip(arrivals.IndexOf(ids[blocked]) + 1));
        Assert.Equal(ids.Take(blocked), arrivals.Take(blocked));
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
    }

    [Fact]
    public async Task Unroutable_IsDeadLetteredWithTheReturn_OthersArrive()
    {
        var target = await DeclareQueueAsync();
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var good = new List<long>();
        var lost = new List<long>();
        for (var i = 0; i < 40; i++)
        {
            var headers = new Dictionary<string, string> { ["device"] = "d0" };
            if (i % 8 == 5)
            {
                headers["route"] = "no-such-queue-" + i;
            }

            var id = (await queue.EnqueueAsync($"reading {i}", new EnqueueOptions { Headers = headers })).Value;
            (i % 8 == 5 ? lost : good).Add(id);
        }

        await using var sink = Sink(target);
        await using (var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, MqttForwardingTests.Options())))
        {
            await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty");
        }

        Assert.Equal(good, (await DrainAsync(target)).Select(m => m.LocalId).ToList());
        var deadLetters = await queue.GetDeadLettersAsync();
        Assert.Equal(lost, deadLetters.Select(d => d.Id.Value).Order().ToList());
        Assert.All(deadLetters, d => Assert.Contains("312 NO_ROUTE", d.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public async Task LinkLoss_NodeStoppedWhileForwarding_EveryMessageArrivesInOrder_NothingDeadLettered()
    {
        const int window = 64;
        var target = await DeclareQueueAsync();
        await using var store = TempStore.Create();
        var queue = store.Queue();
        var random = new Random(13);
        var ids = await MqttForwardingTests.EnqueueAsync(queue, 400, random);
        await using var sink = Sink(target);
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, MqttForwardingTests.Options(window)));
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded >= 50, Wait.Long, "the first messages to be confirmed");

        await node.StopAsync();
        ids.AddRange(await MqttForwardingTests.EnqueueAsync(queue, 200, random));
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Link == LinkState.Down, Wait.Long, "the forwarder to see the link down");
        Assert.All(await queue.GetMessagesAsync(1000), m => Assert.True(m.Attempts <= 1, $"message {m.Id} spent {m.Attempts} attempts"));

        await node.StartAsync();
        await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Total == 0, Wait.Long, "the local queue to be empty after the node came back");
        Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);

        // Confirmed messages were persisted by the node before its confirm: they survived its restart.
        var messages = await DrainAsync(target);
        Assert.Equal(ids.ToHashSet(), messages.Select(m => m.LocalId).ToHashSet());
        var duplicates = Order.AssertFirstArrivalsInOrder(messages, m => m.Key, m => m.LocalId);
        Assert.True(duplicates <= window, $"{duplicates} duplicates exceed the window of {window}");
        Assert.Equal(LinkState.Up, running.Forwarder.GetStatus().Link);
    }
}
