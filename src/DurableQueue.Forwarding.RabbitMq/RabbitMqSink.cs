using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace DurableQueue.Forwarding.RabbitMq;

/// <summary>
/// Publishes messages to a RabbitMQ exchange on a channel with publisher confirms and confirms each on the broker's
/// ack. The messages of a batch are published in order on one channel (the broker routes them in that order) and
/// their confirms awaited together; the next batch of a key may follow before they are confirmed
/// (<see cref="SendBatch.MarkWritten"/>), on the same channel only. Each carries its id as the AMQP message-id and the local headers as AMQP headers.
/// </summary>
/// <remarks>
/// A mandatory message that no queue is bound for (basic.return) is a refusal for good; a broker nack, a lost
/// connection or a timeout is retried. After a failure the connection is closed and made anew on the next send.
/// </remarks>
public sealed class RabbitMqSink : IMessageSink
{
    private readonly RabbitMqSinkOptions _options;
    private readonly ConnectionFactory _factory;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private Link? _link;
    private bool _disposed;

    /// <summary>Initializes a new instance of the <see cref="RabbitMqSink"/> class.</summary>
    /// <param name="options">The options; they are copied.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public RabbitMqSink(RabbitMqSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        _factory = new ConnectionFactory
        {
            HostName = _options.HostName,
            Port = _options.Port,
            VirtualHost = _options.VirtualHost,
            UserName = _options.UserName,
            Password = _options.Password,
            RequestedConnectionTimeout = _options.Timeout,
            ContinuationTimeout = _options.Timeout,
            // The forwarder retries; a fresh connection per failure keeps the state simple.
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            ClientProvidedName = "durablequeue-forwarder",
        };
        _options.ConfigureFactory?.Invoke(_factory);
    }

    /// <inheritdoc/>
    public async ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var link = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        if (batch.Previous is { SinkState: Link earlier } && !ReferenceEquals(earlier, link))
        {
            // The earlier messages of this key went on a channel that is gone: sending these on a new one could put
            // them at the broker before the earlier ones' resend. Both go again, in order.
            for (var i = 0; i < batch.Count; i++)
            {
                batch.Fail(i, "The channel that carried the earlier messages of this ordering key was lost.");
            }

            return;
        }

        batch.SinkState = link;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        var publishes = new List<(int Index, Task Task)>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            var message = batch.Messages[i];
            var properties = new BasicProperties
            {
                MessageId = message.MessageId,
                Persistent = _options.Persistent,
                Timestamp = new AmqpTimestamp(message.EnqueuedAt.ToUnixTimeSeconds()),
            };
            if (message.Headers.Count > 0)
            {
                properties.Headers = message.Headers.ToDictionary(h => h.Key, h => (object?)h.Value, StringComparer.Ordinal);
                if (message.Headers.TryGetValue("content-type", out var contentType))
                {
                    properties.ContentType = contentType;
                }
            }

            var routingKey = _options.RoutingKeySelector?.Invoke(message) ?? _options.RoutingKey!;
            // Started in list order without awaiting: the channel's publish lock takes callers first come, first served,
            // so the frames go out in this order, and the confirms are awaited together below.
            publishes.Add((i, link.Channel.BasicPublishAsync(_options.Exchange, routingKey, _options.Mandatory, properties, message.Body, timeout.Token).AsTask()));
        }

        // Every publish is handed to the channel in order: the next batch of this key may follow before these are confirmed.
        batch.MarkWritten();

        foreach (var (index, task) in publishes)
        {
            try
            {
                await task.ConfigureAwait(false);
                batch.Confirm(index);
            }
            catch (PublishReturnException ex)
            {
                batch.Reject(index, $"The RabbitMQ broker returned the message as unroutable: {ex.ReplyCode} {ex.ReplyText} (exchange '{ex.Exchange}', routing key '{ex.RoutingKey}').");
            }
            catch (PublishException ex)
            {
                batch.Fail(index, $"The RabbitMQ broker nacked the message: {ex.Message}");
            }
            catch (Exception ex)
            {
                link.Broken = true;
                batch.Fail(index, ex is OperationCanceledException && !cancellationToken.IsCancellationRequested
                    ? $"No publisher confirm within {_options.Timeout.TotalSeconds:0.#} s."
                    : $"{ex.GetType().Name}: {ex.Message}");
            }
        }

        if (link.Broken || !link.Channel.IsOpen)
        {
            await DropAsync(link).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_link is { } link)
        {
            await CloseAsync(link).ConfigureAwait(false);
        }

        _connectLock.Dispose();
    }

    private async ValueTask<Link> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_link is { Broken: false } current && current.Channel.IsOpen)
        {
            return current;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_link is { Broken: false } again && again.Channel.IsOpen)
            {
                return again;
            }

            if (_link is { } old)
            {
                _link = null;
                await CloseAsync(old).ConfigureAwait(false);
            }

            var connection = await _factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Confirms tracked by the client, with no throttle of its own: the forwarder's window bounds what is in flight.
                var channel = await connection.CreateChannelAsync(
                    new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true, outstandingPublisherConfirmationsRateLimiter: null),
                    cancellationToken).ConfigureAwait(false);
                _link = new Link(connection, channel);
                return _link;
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async Task DropAsync(Link link)
    {
        await _connectLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (ReferenceEquals(_link, link))
            {
                _link = null;
                await CloseAsync(link).ConfigureAwait(false);
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async Task CloseAsync(Link link)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_options.Timeout);
            if (link.Connection.IsOpen)
            {
                await link.Connection.CloseAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationCanceledException or OperationInterruptedException or IOException)
        {
            // The broker is gone already.
        }

        await link.Channel.DisposeAsync().ConfigureAwait(false);
        await link.Connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>One connection and its confirm channel.</summary>
    private sealed class Link(IConnection connection, IChannel channel)
    {
        public IConnection Connection { get; } = connection;

        public IChannel Channel { get; } = channel;

        public volatile bool Broken;
    }
}
