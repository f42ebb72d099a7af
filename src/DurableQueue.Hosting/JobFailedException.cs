namespace DurableQueue.Hosting;

/// <summary>
/// The exception that is thrown when the result of a job is awaited and the job was dead-lettered or cancelled, or is unknown.
/// </summary>
public sealed class JobFailedException : DurableQueueException
{
    /// <summary>Initializes a new instance of the <see cref="JobFailedException"/> class.</summary>
    public JobFailedException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="JobFailedException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public JobFailedException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="JobFailedException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public JobFailedException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal JobFailedException(JobStatus? status, string message)
        : base(message)
    {
        Status = status;
    }

    /// <summary>Gets the job's final status, or <see langword="null"/> when the job is unknown.</summary>
    public JobStatus? Status { get; }
}
