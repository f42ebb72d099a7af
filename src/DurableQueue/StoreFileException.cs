namespace DurableQueue;

/// <summary>
/// The exception thrown when a file cannot be used as a queue store. The file is left as it was found.
/// </summary>
public sealed class StoreFileException : DurableQueueException
{
    /// <summary>Initializes a new instance of the <see cref="StoreFileException"/> class.</summary>
    public StoreFileException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StoreFileException"/> class with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public StoreFileException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StoreFileException"/> class with a message and a cause.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public StoreFileException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal StoreFileException(string path, StoreFileProblem problem, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>Gets the path of the file.</summary>
    public string? Path { get; }

    /// <summary>Gets why the file was refused.</summary>
    public StoreFileProblem Problem { get; }
}
