namespace DurableQueue.Testing.Postgres;

/// <summary>The exception thrown when a test cluster cannot be made, started or stopped; the message says why.</summary>
public sealed class PostgresClusterException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="PostgresClusterException"/> class.</summary>
    public PostgresClusterException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PostgresClusterException"/> class with a message.</summary>
    /// <param name="message">The reason.</param>
    public PostgresClusterException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PostgresClusterException"/> class with a message and a cause.</summary>
    /// <param name="message">The reason.</param>
    /// <param name="innerException">The cause.</param>
    public PostgresClusterException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
