namespace DurableQueue.Forwarding;

/// <summary>
/// Represents one message of a local queue on its way to the remote side.
/// </summary>
public sealed class OutboundMessage
{
    /// <summary>Initializes a new instance of the <see cref="OutboundMessage"/> class.</summary>
    /// <param name="localId">The id of the message in its local queue.</param>
    /// <param name="messageId">The id the remote side sees, stable across every resend of this message.</param>
    /// <param name="body">The body.</param>
    /// <param name="headers">The headers stored with the message.</param>
    /// <param name="enqueuedAt">The time it was enqueued locally.</param>
    /// <param name="orderingKey">The ordering key.</param>
    public OutboundMessage(
        MessageId localId, string messageId, ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, string> headers,
        DateTimeOffset enqueuedAt, string orderingKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(orderingKey);
        LocalId = localId;
        MessageId = messageId;
        Body = body;
        Headers = headers;
        EnqueuedAt = enqueuedAt;
        OrderingKey = orderingKey;
    }

    /// <summary>Gets the id of the message in its local queue.</summary>
    public MessageId LocalId { get; }

    /// <summary>
    /// Gets the id the remote side sees (an MQTT user property, the AMQP message-id, an HTTP header): the same for
    /// every resend of this message and unique across queue files, so that a receiver can drop duplicates.
    /// </summary>
    public string MessageId { get; }

    /// <summary>Gets the body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Gets the headers stored with the message.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Gets the time the message was enqueued locally.</summary>
    public DateTimeOffset EnqueuedAt { get; }

    /// <summary>Gets the ordering key: messages with the same key reach the remote side in the local queue's order.</summary>
    public string OrderingKey { get; }
}
