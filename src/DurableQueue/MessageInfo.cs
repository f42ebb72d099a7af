namespace DurableQueue;

/// <summary>
/// Describes a message in a queue, as seen by a peek: no lease is taken.
/// </summary>
public sealed class MessageInfo
{
    internal MessageInfo(
        MessageId id, MessageState state, ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, string> headers,
        int priority, int attempts, int maxAttempts, DateTimeOffset enqueuedAt, DateTimeOffset visibleAt, string? lastError,
        string? deduplicationKey)
    {
        Id = id;
        State = state;
        Body = body;
        Headers = headers;
        Priority = priority;
        Attempts = attempts;
        MaxAttempts = maxAttempts;
        EnqueuedAt = enqueuedAt;
        VisibleAt = visibleAt;
        LastError = lastError;
        DeduplicationKey = deduplicationKey;
    }

    /// <summary>Gets the message id.</summary>
    public MessageId Id { get; }

    /// <summary>Gets the state of the message at the time of the peek.</summary>
    public MessageState State { get; }

    /// <summary>Gets the message body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Gets the headers stored with the message.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Gets the priority, from 0 (most urgent) to 9.</summary>
    public int Priority { get; }

    /// <summary>Gets how many times the message has been delivered.</summary>
    public int Attempts { get; }

    /// <summary>Gets the number of deliveries after which the message moves to the dead-letter store.</summary>
    public int MaxAttempts { get; }

    /// <summary>Gets the time the message was enqueued.</summary>
    public DateTimeOffset EnqueuedAt { get; }

    /// <summary>Gets the time the message becomes (or became) ready; while leased, the lease expiry.</summary>
    public DateTimeOffset VisibleAt { get; }

    /// <summary>Gets the error recorded by the last nack, or <see langword="null"/>.</summary>
    public string? LastError { get; }

    /// <summary>Gets the deduplication key, or <see langword="null"/>.</summary>
    public string? DeduplicationKey { get; }
}
