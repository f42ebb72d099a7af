namespace DurableQueue.Cli.Infrastructure;

/// <summary>The exit codes of dq; docs/cli.md lists them too.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>verify found problems; doctor found warnings.</summary>
    public const int Problems = 1;

    /// <summary>Bad arguments or options (also: purge without --yes when no one can answer the prompt; a file-only command given a PostgreSQL store).</summary>
    public const int Usage = 2;

    /// <summary>The file is missing, not SQLite, not a queue store, damaged, or has a newer schema; a PostgreSQL login, database or schema that holds no usable store.</summary>
    public const int BadFile = 3;

    /// <summary>Input (enqueue/import) that cannot be read or enqueued; the failing batch was not enqueued.</summary>
    public const int BadInput = 4;

    /// <summary>The file stayed locked by another writer (busy timeout), or the disk is full; a PostgreSQL server that cannot be reached.</summary>
    public const int Storage = 5;

    /// <summary>A queue or message named on the command line does not exist.</summary>
    public const int NotFound = 6;

    /// <summary>doctor found an error: the place or state of the file cannot keep the queue's promises.</summary>
    public const int Unsafe = 7;

    /// <summary>An unexpected error (a bug); the message is printed, the stack trace only with DQ_DEBUG=1.</summary>
    public const int Internal = 10;

    /// <summary>Cancelled with Ctrl+C (watch ends with 0 instead: that is how it is stopped).</summary>
    public const int Cancelled = 130;
}

/// <summary>An error the user can fix; carries its exit code and a one-line message.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
