namespace DurableQueue;

/// <summary>
/// The exception thrown by ack, nack, extend and dead-letter when the receipt no longer holds the message's lease:
/// the lease expired and the message was received again, or the message was settled already. Nothing was changed.
/// </summary>
public sealed class LeaseLostException : DurableQueueException
{
    /// <summary>Initializes a new instance of the <see cref="LeaseLostException"/> class.</summary>
    public LeaseLostException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="LeaseLostException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public LeaseLostException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="LeaseLostException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public LeaseLostException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal LeaseLostException(string queueName, MessageId messageId)
        : base(ErrorMessages.LeaseLost(queueName, messageId))
    {
        QueueName = queueName;
        MessageId = messageId;
    }

    /// <summary>Gets the name of the queue.</summary>
    public string? QueueName { get; }

    /// <summary>Gets the id of the message whose lease was lost.</summary>
    public MessageId MessageId { get; }
}
