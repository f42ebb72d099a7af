namespace DurableQueue.Cli.Infrastructure;

/// <summary>Opens files the way each kind of command needs: read-only for inspections, through the library for writes.</summary>
internal static class StoreAccess
{
    private static int s_waitReported;

    /// <summary>Gets or sets the store options of this run (<c>--busy-timeout</c>); set once before the command runs.</summary>
    public static QueueStoreOptions Options { get; set; } = new();

    /// <summary>Opens the file read-only; it is never created or changed.</summary>
    public static StoreInspector Inspect(string path) => QueueStore.Inspect(path, Options);

    /// <summary>
    /// Opens the file through the library for a write. Without <paramref name="create"/> the file must already be a
    /// queue store (checked read-only first, so a wrong path is never turned into a new file).
    /// </summary>
    public static QueueStore OpenForWrite(string path, bool create = false, bool canCreate = false)
    {
        if (!create)
        {
            try
            {
                using (QueueStore.Inspect(path))
                {
                }
            }
            catch (FileNotFoundException) when (canCreate)
            {
                throw new CliException(ExitCodes.BadFile, $"'{Path.GetFullPath(path)}' does not exist; pass --create to create it");
            }
        }
        else if (File.Exists(path))
        {
            try
            {
                using (QueueStore.Inspect(path))
                {
                }
            }
            catch (StoreFileException ex) when (ex.Problem == StoreFileProblem.NotAQueueStore)
            {
                // --create may add the queue tables to an app's own database, as the library does on open.
            }
        }

        var store = QueueStore.Open(path, Options);
        store.WaitingForWriteLock += static (_, e) =>
        {
            // Once per run: the store reports each transaction that waits.
            if (Interlocked.Exchange(ref s_waitReported, 1) == 0)
            {
                Console.Error.WriteLine(
                    $"dq: waiting for the write lock on '{e.Path}': another process holds it; giving up after {Format.Duration(e.BusyTimeout)} (--busy-timeout)");
            }
        };
        return store;
    }

    public static async Task RequireQueueAsync(StoreInspector inspector, string queue, CancellationToken cancellationToken)
    {
        if (!await inspector.QueueExistsAsync(queue, cancellationToken).ConfigureAwait(false))
        {
            throw new CliException(ExitCodes.NotFound, $"queue '{queue}' does not exist in '{inspector.Path}'");
        }
    }

    /// <summary>Opens the input of a command that reads messages: the named file, or standard input when none is named.</summary>
    public static Stream OpenInput(string? path, string optionName) =>
        path is null
            ? Console.OpenStandardInput()
            : File.Exists(path) ? File.OpenRead(path) : throw new CliException(ExitCodes.Usage, $"{optionName}: '{path}' does not exist");
}
