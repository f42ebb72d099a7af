namespace DurableQueue;

/// <summary>
/// The base class of the exceptions this library throws for conditions callers may want to handle.
/// </summary>
public class DurableQueueException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="DurableQueueException"/> class.</summary>
    public DurableQueueException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DurableQueueException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public DurableQueueException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DurableQueueException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public DurableQueueException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
