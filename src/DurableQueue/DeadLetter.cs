namespace DurableQueue;

/// <summary>
/// Describes a message in the dead-letter store of a queue.
/// </summary>
public sealed class DeadLetter
{
    internal DeadLetter(
        MessageId id, string queueName, ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, string> headers, int priority,
        int attempts, int maxAttempts, DateTimeOffset enqueuedAt, DateTimeOffset deadLetteredAt, string reason, string? lastError)
    {
        Id = id;
        QueueName = queueName;
        Body = body;
        Headers = headers;
        Priority = priority;
        Attempts = attempts;
        MaxAttempts = maxAttempts;
        EnqueuedAt = enqueuedAt;
        DeadLetteredAt = deadLetteredAt;
        Reason = reason;
        LastError = lastError;
    }

    /// <summary>Gets the id the message had in its queue (kept when it is requeued).</summary>
    public MessageId Id { get; }

    /// <summary>Gets the name of the queue.</summary>
    public string QueueName { get; }

    /// <summary>Gets the message body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Gets the headers stored with the message.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Gets the priority, from 0 (most urgent) to 9.</summary>
    public int Priority { get; }

    /// <summary>Gets how many times the message was delivered.</summary>
    public int Attempts { get; }

    /// <summary>Gets the delivery limit the message had.</summary>
    public int MaxAttempts { get; }

    /// <summary>Gets the time the message was first enqueued.</summary>
    public DateTimeOffset EnqueuedAt { get; }

    /// <summary>Gets the time the message moved to the dead-letter store.</summary>
    public DateTimeOffset DeadLetteredAt { get; }

    /// <summary>Gets why the message was dead-lettered: the consumer's reason, or that its attempts ran out.</summary>
    public string Reason { get; }

    /// <summary>Gets the error recorded by the last nack, or <see langword="null"/>.</summary>
    public string? LastError { get; }
}
