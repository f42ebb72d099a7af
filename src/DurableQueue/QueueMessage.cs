using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DurableQueue;

/// <summary>
/// Represents a message received under a lease.
/// </summary>
/// <remarks>
/// Settle it with <see cref="MessageQueue.AckAsync(QueueMessage, CancellationToken)"/>,
/// <see cref="MessageQueue.NackAsync(QueueMessage, TimeSpan, string?, CancellationToken)"/> or
/// <see cref="MessageQueue.DeadLetterAsync(QueueMessage, string, CancellationToken)"/> before
/// <see cref="LeaseExpiresAt"/>, or extend the lease; after that the message may be delivered to someone else.
/// </remarks>
public sealed class QueueMessage
{
    internal QueueMessage(
        string queueName, MessageReceipt receipt, ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, string> headers,
        int priority, int attempt, int maxAttempts, DateTimeOffset enqueuedAt, DateTimeOffset leaseExpiresAt, string? lastError)
    {
        QueueName = queueName;
        Receipt = receipt;
        Body = body;
        Headers = headers;
        Priority = priority;
        Attempt = attempt;
        MaxAttempts = maxAttempts;
        EnqueuedAt = enqueuedAt;
        LeaseExpiresAt = leaseExpiresAt;
        LastError = lastError;
    }

    /// <summary>Gets the message id.</summary>
    public MessageId Id => Receipt.Id;

    /// <summary>Gets the name of the queue the message came from.</summary>
    public string QueueName { get; }

    /// <summary>Gets the receipt that settles this delivery.</summary>
    public MessageReceipt Receipt { get; }

    /// <summary>Gets the message body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Gets the headers stored with the message (empty when it has none).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Gets the priority, from 0 (most urgent) to 9.</summary>
    public int Priority { get; }

    /// <summary>Gets the number of this delivery, starting at 1; it counts deliveries whose lease expired too.</summary>
    public int Attempt { get; }

    /// <summary>Gets the number of deliveries after which the message moves to the dead-letter store.</summary>
    public int MaxAttempts { get; }

    /// <summary>Gets a value indicating whether this is the last allowed delivery.</summary>
    public bool IsLastAttempt => Attempt >= MaxAttempts;

    /// <summary>Gets the time the message was enqueued.</summary>
    public DateTimeOffset EnqueuedAt { get; }

    /// <summary>Gets the time the lease of this delivery expires, unless it is extended.</summary>
    public DateTimeOffset LeaseExpiresAt { get; internal set; }

    /// <summary>Gets the error recorded by the last nack, or <see langword="null"/>.</summary>
    public string? LastError { get; }

    /// <summary>Decodes the body as UTF-8 text.</summary>
    /// <returns>The body as a string.</returns>
    public string GetBodyAsString() => Encoding.UTF8.GetString(Body.Span);

    /// <summary>Deserializes the body as JSON with source-generated metadata.</summary>
    /// <typeparam name="T">The type of the body.</typeparam>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/>.</param>
    /// <returns>The deserialized body.</returns>
    /// <exception cref="JsonException">The body is not valid JSON for <typeparamref name="T"/>.</exception>
    public T? GetBody<T>(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return JsonSerializer.Deserialize(Body.Span, typeInfo);
    }
}
