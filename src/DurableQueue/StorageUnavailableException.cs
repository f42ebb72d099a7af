namespace DurableQueue;

/// <summary>
/// The exception thrown when the store's database server cannot be reached or dropped the connection (a
/// PostgreSQL server that is down or restarting). The operation may or may not have been applied when the
/// connection broke during a commit: a retry is safe for settles (fenced by the lease) and for enqueues that carry a
/// deduplication key.
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
