namespace DurableQueue;

/// <summary>
/// The exception thrown when a bounded queue has no room for an enqueue; nothing was added.
/// </summary>
/// <remarks>
/// Thrown at once in <see cref="QueueFullMode.Reject"/> mode, after <see cref="QueueOptions.FullWaitTimeout"/> in
/// <see cref="QueueFullMode.Wait"/> mode, in <see cref="QueueFullMode.DropOldest"/> mode when too few ready messages
/// can be dropped, in any mode when the batch is larger than the queue can ever hold, and by an enqueue inside a unit
/// of work, which never waits. <see cref="RetryAfter"/> is the time after which a retry is likely to find room.
/// </remarks>
public sealed class QueueFullException : DurableQueueException
{
    /// <summary>Initializes a new instance of the <see cref="QueueFullException"/> class.</summary>
    public QueueFullException()
    {
        QueueName = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="QueueFullException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public QueueFullException(string? message)
        : base(message)
    {
        QueueName = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="QueueFullException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public QueueFullException(string? message, Exception? innerException)
        : base(message, innerException)
    {
        QueueName = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="QueueFullException"/> class for a queue and the bound it hit.</summary>
    /// <param name="queueName">The name of the full queue.</param>
    /// <param name="limit">The bound the enqueue did not fit.</param>
    /// <param name="capacity">The value of that bound.</param>
    /// <param name="retryAfter">The estimated time until room exists.</param>
    /// <param name="message">The message that describes the error.</param>
    public QueueFullException(string queueName, QueueLimit limit, long capacity, TimeSpan retryAfter, string? message)
        : base(message)
    {
        QueueName = queueName;
        Limit = limit;
        Capacity = capacity;
        RetryAfter = retryAfter;
    }

    /// <summary>Gets the name of the full queue.</summary>
    public string QueueName { get; }

    /// <summary>Gets the bound the enqueue did not fit.</summary>
    public QueueLimit Limit { get; }

    /// <summary>Gets the value of that bound: a number of messages or of bytes.</summary>
    public long Capacity { get; }

    /// <summary>
    /// Gets the estimated time after which a retry is likely to find room, from the queue's recent drain rate
    /// (between 250 milliseconds and 30 seconds; 1 second while the rate is not yet known).
    /// </summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Gets a value indicating whether the enqueue can never fit, because it is larger than the bound itself.</summary>
    public bool NeverFits { get; init; }
}
