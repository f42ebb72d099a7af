using System.Globalization;
using MQTTnet;
using MQTTnet.Protocol;

namespace DurableQueue.Forwarding.Tests.Servers;

/// <summary>
/// The remote side of the MQTT tests: a subscriber that records every message it gets (id, key, topic, DUP flag) and
/// reconnects when the broker comes back. With a persistent session the broker keeps its subscription and queues
/// messages for it while it is away (the broker needs persistence to keep them across its own restart).
/// </summary>
internal sealed class MqttReceiver : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly MqttClientOptions _options;
    private readonly string _filter;
    private readonly Lock _lock = new();
    private readonly List<Received> _messages = [];
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly CancellationTokenSource _closing = new();
    private Task _reconnect = Task.CompletedTask;

    private MqttReceiver(IMqttClient client, MqttClientOptions options, string filter)
    {
        _client = client;
        _options = options;
        _filter = filter;
    }

    public static async Task<MqttReceiver> ConnectAsync(int port, string filter = "fwd/#", bool persistentSession = false)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId("receiver-" + Guid.NewGuid().ToString("N")[..8])
            .WithCleanStart(!persistentSession)
            .WithSessionExpiryInterval(persistentSession ? 3600u : 0u)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build();
        var receiver = new MqttReceiver(client, options, filter);
        client.ApplicationMessageReceivedAsync += e =>
        {
            receiver.Record(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        client.DisconnectedAsync += _ =>
        {
            if (!receiver._closing.IsCancellationRequested)
            {
                receiver._reconnect = receiver.ReconnectAsync();
            }

            return Task.CompletedTask;
        };
        await receiver.ConnectOnceAsync(CancellationToken.None);
        return receiver;
    }

    public IReadOnlyList<Received> Messages
    {
        get
        {
            lock (_lock)
            {
                return [.. _messages];
            }
        }
    }

    public int DistinctCount
    {
        get
        {
            lock (_lock)
            {
                return _messages.Select(m => m.MessageId).Distinct().Count();
            }
        }
    }

    /// <summary>Waits, woken by each arriving message, until <paramref name="condition"/> holds; fails after the timeout.</summary>
    public Task WaitUntilAsync(Func<IReadOnlyList<Received>, bool> condition, TimeSpan timeout, string what) =>
        Wait.ForSignalAsync(_arrived, () => condition(Messages), timeout, () => $"{what}; the receiver has {DistinctCount} distinct message(s)");

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        await _reconnect.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException)
        {
        }

        _client.Dispose();
    }

    private void Record(MqttApplicationMessage message)
    {
        var properties = message.UserProperties?.ToDictionary(p => p.Name, p => System.Text.Encoding.UTF8.GetString(p.ValueBuffer.Span), StringComparer.Ordinal) ?? [];
        var id = properties.GetValueOrDefault("message-id", "");
        var dash = id.LastIndexOf('-');
        var localId = dash < 0 ? -1 : long.Parse(id.AsSpan(dash + 1), CultureInfo.InvariantCulture);
        lock (_lock)
        {
            _messages.Add(new Received(id, localId, properties.GetValueOrDefault("device", ""), message.Topic, message.Dup, properties));
        }

        _arrived.Release();
    }

    private async Task ConnectOnceAsync(CancellationToken cancellationToken)
    {
        var result = await _client.ConnectAsync(_options, cancellationToken);
        if (!result.IsSessionPresent)
        {
            await _client.SubscribeAsync(
                new MqttClientSubscribeOptionsBuilder().WithTopicFilter(_filter, MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
        }
    }

    private async Task ReconnectAsync()
    {
        // The broker is being restarted by the test: try again until it is back (a backoff between tries, not a wait for it).
        while (!_closing.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(100, _closing.Token);
                await ConnectOnceAsync(_closing.Token);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public sealed record Received(string MessageId, long LocalId, string Key, string Topic, bool Dup, IReadOnlyDictionary<string, string> Properties);
}
