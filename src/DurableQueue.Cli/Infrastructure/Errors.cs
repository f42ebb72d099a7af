using Spectre.Console.Cli;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>Turns every failure into ONE line on stderr and a documented exit code; stack traces only with DQ_DEBUG=1.</summary>
internal static class Errors
{
    /// <summary>Gets or sets the command line, so that a value that could not be converted can be named with its option.</summary>
    public static IReadOnlyList<string> Arguments { get; set; } = [];

    public static int Report(Exception exception, bool cancelled)
    {
        var (code, message) = Classify(exception, cancelled);
        Console.Error.WriteLine($"dq: {message}");
        if (code == ExitCodes.Internal || Environment.GetEnvironmentVariable("DQ_DEBUG") == "1")
        {
            if (Environment.GetEnvironmentVariable("DQ_DEBUG") == "1")
            {
                Console.Error.WriteLine(exception);
            }
            else
            {
                Console.Error.WriteLine("dq: this is a bug; run again with DQ_DEBUG=1 to see where it happened and report it");
            }
        }

        return code;
    }

    private static (int Code, string Message) Classify(Exception exception, bool cancelled)
    {
        if (exception is CommandRuntimeException { InnerException: ArgumentException { InnerException: FormatException or OverflowException } } conversion
            && WholeNumber(conversion.Message) is { } badNumber)
        {
            return (ExitCodes.Usage, badNumber + " (see dq --help)");
        }

        if (exception is CommandRuntimeException { InnerException: { } inner } && inner is not CommandAppException)
        {
            exception = inner;
        }

        return exception switch
        {
            CliException e => (e.ExitCode, e.Message),
            OperationCanceledException when cancelled => (ExitCodes.Cancelled, "cancelled"),
            CommandAppException e => (ExitCodes.Usage, OneLine(e.Message) + " (see dq --help)"),
            FileNotFoundException e => (ExitCodes.BadFile, OneLine(e.Message)),
            DirectoryNotFoundException e => (ExitCodes.BadFile, OneLine(e.Message)),
            StoreFileException e => (ExitCodes.BadFile, OneLine(e.Message)),
            StorageBusyException e => (ExitCodes.Storage, OneLine(e.Message)),
            StorageFullException e => (ExitCodes.Storage, OneLine(e.Message)),
            StorageUnavailableException e => (ExitCodes.Storage, OneLine(e.Message)),
            UnauthorizedAccessException e => (ExitCodes.BadFile, OneLine(e.Message)),
            ArgumentException e => (ExitCodes.Usage, OneLine(e.Message.Split(" (Parameter", 2)[0])),
            Microsoft.Data.Sqlite.SqliteException e => (ExitCodes.Storage, "SQLite error: " + OneLine(e.Message)),
            _ => ClassifyOther(exception),
        };
    }

    /// <summary>
    /// PostgreSQL's errors that the library leaves as they are, else a bug. Apart, so that a run on a file never loads
    /// the PostgreSQL client to classify its error.
    /// </summary>
    private static (int Code, string Message) ClassifyOther(Exception exception) => exception switch
    {
        Npgsql.PostgresException e => (ExitCodes.Storage, $"PostgreSQL error {e.SqlState}: {OneLine(e.MessageText)}"),
        // Raised by Npgsql before the login when the server asks for a password and none was found.
        Npgsql.NpgsqlException e when e.Message.StartsWith("No password has been provided", StringComparison.Ordinal) =>
            (ExitCodes.BadFile, $"{OneLine(e.Message)}; give it in the connection string, in PGPASSWORD or in a password file (~/.pgpass or PGPASSFILE)"),
        Npgsql.NpgsqlException e => (ExitCodes.Storage, "PostgreSQL error: " + OneLine(e.Message)),
        _ => (ExitCodes.Internal, $"unexpected error: {exception.GetType().Name}: {OneLine(exception.Message)}"),
    };

    /// <summary>"Failed to convert 'abc' to Int32." becomes "-n: 'abc' is not a whole number", naming the option that was given the value.</summary>
    private static string? WholeNumber(string message)
    {
        const string Prefix = "Failed to convert '";
        var end = message.LastIndexOf("' to ", StringComparison.Ordinal);
        if (!message.StartsWith(Prefix, StringComparison.Ordinal) || end < Prefix.Length
            || !message.AsSpan(end).StartsWith("' to Int", StringComparison.Ordinal))
        {
            return null;
        }

        var value = message[Prefix.Length..end];
        var index = Arguments.ToList().FindIndex(a => a == value);
        var option = index > 0 && Arguments[index - 1].StartsWith('-') ? Arguments[index - 1] + ": " : "";
        return $"{option}'{value}' is not a whole number";
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
}
