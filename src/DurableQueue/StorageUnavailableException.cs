namespace DurableQueue;

/// <summary>
/// The exception thrown when the storage could not be reached: a database server that is down, restarting or out of
/// connections, or a connection that broke during the operation. The operation can be retried once the server is back;
/// a write whose commit was interrupted may or may not have landed, so retry only what is safe to repeat.
/// </summary>
public sealed class StorageUnavailableException : DurableQueueException
{
    /// <summary>Initializes a new instance of the <see cref="StorageUnavailableException"/> class.</summary>
    public StorageUnavailableException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageUnavailableException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public StorageUnavailableException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageUnavailableException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public StorageUnavailableException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
