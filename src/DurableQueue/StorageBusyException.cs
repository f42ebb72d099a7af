namespace DurableQueue;

/// <summary>
/// The exception thrown when another process held the file's write lock for longer than
/// <see cref="QueueStoreOptions.BusyTimeout"/>; the message names how long the operation waited. Nothing was changed;
/// the operation can be retried.
/// </summary>
public sealed class StorageBusyException : DurableQueueException
{
    /// <summary>Initializes a new instance of the <see cref="StorageBusyException"/> class.</summary>
    public StorageBusyException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageBusyException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public StorageBusyException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageBusyException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public StorageBusyException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
