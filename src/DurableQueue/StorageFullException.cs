namespace DurableQueue;

/// <summary>
/// The exception thrown when a write did not fit: the disk is full, or the database reached its size limit.
/// The write was rolled back whole; everything committed before is intact, and the store works again once room exists.
/// </summary>
public sealed class StorageFullException : DurableQueueException
{
    /// <summary>Initializes a new instance of the <see cref="StorageFullException"/> class.</summary>
    public StorageFullException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageFullException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public StorageFullException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageFullException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public StorageFullException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
