using System.Text;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace DurableQueue.Forwarding.Mqtt;

/// <summary>
/// Publishes messages to an MQTT 5 broker with QoS 1 and confirms each on its PUBACK. The messages of a batch are
/// pipelined on one connection in order (the broker sees them in that order), up to the broker's receive maximum in
/// flight, and the next batch of a key may follow before they are acked (<see cref="SendBatch.MarkWritten"/>), on the
/// same connection only. Each message carries its id as a user property.
/// </summary>
/// <remarks>
/// A failure PUBACK whose code is in <see cref="MqttSinkOptions.PermanentReasonCodes"/>, an invalid topic, or a
/// message larger than the broker's maximum packet size is a refusal for good; a lost connection, a timeout or any
/// other code is retried. After a failure the connection is dropped and made anew on the next send.
/// </remarks>
public sealed class MqttSink : IMessageSink
{
    private readonly MqttSinkOptions _options;
    private readonly MqttClientOptions _clientOptions;
    private readonly MqttClientFactory _factory = new();
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private Connection? _connection;
    private bool _disposed;

    // The last topic found valid: a fixed topic (or a selector that returns the same string) is checked once.
    private volatile string? _lastValidTopic;

    /// <summary>Initializes a new instance of the <see cref="MqttSink"/> class.</summary>
    /// <param name="options">The options; they are read once, here.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public MqttSink(MqttSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(options.ClientId ?? $"dq-forwarder-{Guid.NewGuid():N}")
            .WithCleanStart(true)
            .WithTimeout(options.Timeout)
            .WithKeepAlivePeriod(options.KeepAlive);
        if (options.Username is not null)
        {
            builder.WithCredentials(options.Username, options.Password);
        }

        if (options.UseTls)
        {
            builder.WithTlsOptions(o => o.UseTls());
        }

        options.ConfigureClient?.Invoke(builder);
        _clientOptions = builder.Build();
    }

    /// <inheritdoc/>
    public async ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        if (batch.Previous is { SinkState: Connection earlier } && !ReferenceEquals(earlier, connection))
        {
            // The earlier messages of this key went on a connection that is gone: sending these on a new one could
            // put them at the broker before the earlier ones' resend. Both go again, in order.
            FailAll(batch, "The connection that carried the earlier messages of this ordering key was lost.");
            return;
        }

        batch.SinkState = connection;
        var publishes = new List<Task>(batch.Count);
        try
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var message = batch.Messages[i];
                var topic = _options.TopicSelector?.Invoke(message) ?? _options.Topic!;
                if (!ReferenceEquals(topic, _lastValidTopic) && !IsValidTopic(topic))
                {
                    batch.Reject(i, $"'{topic}' is not a valid MQTT topic to publish to.");
                    continue;
                }

                if (connection.MaxPacketSize is { } max && message.Body.Length > max)
                {
                    batch.Reject(i, $"The message has {message.Body.Length} bytes; the broker takes packets of at most {max} bytes.");
                    continue;
                }

                // Wait for a free slot of the broker's receive maximum; calls start in list order on one connection,
                // and the client writes them in the order they were called.
                await connection.InFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
                publishes.Add(PublishAsync(connection, Build(message, topic), batch, i, cancellationToken));
            }

            // Every publish is handed to the client in order: the next batch of this key may follow before these are acked.
            batch.MarkWritten();
        }
        finally
        {
            await Task.WhenAll(publishes).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (connection.Broken)
        {
            await DropAsync(connection).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_connection is { } connection)
        {
            try
            {
                using var timeout = new CancellationTokenSource(_options.Timeout);
                await connection.Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MqttCommunicationException or OperationCanceledException or ObjectDisposedException)
            {
                // The broker is gone already.
            }

            connection.Client.Dispose();
        }

        _connectLock.Dispose();
    }

    private MqttApplicationMessage Build(OutboundMessage message, string topic)
    {
        // Built directly (no builder, one list of the right size): this runs once per message.
        var properties = new List<MqttUserProperty>(_options.HeadersAsUserProperties ? 1 + message.Headers.Count : 1)
        {
            new(_options.MessageIdProperty, Encoding.UTF8.GetBytes(message.MessageId).AsMemory()),
        };
        if (_options.HeadersAsUserProperties)
        {
            foreach (var (name, value) in message.Headers)
            {
                properties.Add(new MqttUserProperty(name, Encoding.UTF8.GetBytes(value).AsMemory()));
            }
        }

        return new MqttApplicationMessage
        {
            Topic = topic,
            Payload = new System.Buffers.ReadOnlySequence<byte>(message.Body),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
            Retain = _options.Retain,
            UserProperties = properties,
        };
    }

    private async Task PublishAsync(Connection connection, MqttApplicationMessage message, SendBatch batch, int index, CancellationToken cancellationToken)
    {
        try
        {
            var result = await connection.Client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                batch.Confirm(index);
            }
            else if (_options.PermanentReasonCodes.Contains(result.ReasonCode))
            {
                batch.Reject(index, $"The MQTT broker refused the message: PUBACK {(int)result.ReasonCode} {result.ReasonCode} {result.ReasonString}".TrimEnd());
            }
            else
            {
                batch.Fail(index, $"The MQTT broker answered PUBACK {(int)result.ReasonCode} {result.ReasonCode} {result.ReasonString}".TrimEnd());
            }
        }
        catch (Exception ex)
        {
            connection.Broken = true;
            batch.Fail(index, $"{ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            connection.InFlight.Release();
        }
    }

    private async ValueTask<Connection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_connection is { Broken: false } current && current.Client.IsConnected)
        {
            return current;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is { Broken: false } again && again.Client.IsConnected)
            {
                return again;
            }

            _connection?.Client.Dispose();
            _connection = null;
            var client = _factory.CreateMqttClient();
            try
            {
                var result = await client.ConnectAsync(_clientOptions, cancellationToken).ConfigureAwait(false);
                if (result.ResultCode != MqttClientConnectResultCode.Success)
                {
                    throw new MqttCommunicationException($"The MQTT broker refused the connection: {result.ResultCode} {result.ReasonString}".TrimEnd());
                }

                _connection = new Connection(client, result.ReceiveMaximum is > 0 and var max ? max : 65535, result.MaximumPacketSize is > 0 ? result.MaximumPacketSize : null);
                return _connection;
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async Task DropAsync(Connection connection)
    {
        await _connectLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (ReferenceEquals(_connection, connection))
            {
                _connection = null;
                connection.Client.Dispose();
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private static void FailAll(SendBatch batch, string error)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            batch.Fail(i, error);
        }
    }

    private bool IsValidTopic(string? topic)
    {
        if (string.IsNullOrEmpty(topic))
        {
            return false;
        }

        try
        {
            MqttTopicValidator.ThrowIfInvalid(topic);
            _lastValidTopic = topic;
            return true;
        }
        catch (MqttProtocolViolationException)
        {
            return false;
        }
    }

    /// <summary>One connection to the broker and what its CONNACK allowed.</summary>
    private sealed class Connection(IMqttClient client, int receiveMaximum, uint? maxPacketSize)
    {
        public IMqttClient Client { get; } = client;

        public SemaphoreSlim InFlight { get; } = new(receiveMaximum, receiveMaximum);

        public uint? MaxPacketSize { get; } = maxPacketSize;

        public volatile bool Broken;
    }
}
