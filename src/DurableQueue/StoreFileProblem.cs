namespace DurableQueue;

/// <summary>
/// Specifies why a file was refused as a queue store.
/// </summary>
public enum StoreFileProblem
{
    /// <summary>The file could not be opened or created (permissions, or a path that is not a file).</summary>
    CannotOpen = 0,

    /// <summary>The file is not a SQLite database.</summary>
    NotADatabase = 1,

    /// <summary>The file is a SQLite database, but damaged or truncated.</summary>
    Corrupt = 2,

    /// <summary>The file was written by a newer version of this library, with a schema this version does not know.</summary>
    NewerSchema = 3,

    /// <summary>The file can only be read, but the store needs to write it.</summary>
    ReadOnly = 4,

    /// <summary>The file's WAL mode could not be turned on (for example on a file system that does not support it).</summary>
    WalUnavailable = 5,

    /// <summary>
    /// The file is a SQLite database without the queue's tables. Only a read-only inspection
    /// (<see cref="QueueStore.Inspect(string, QueueStoreOptions?)"/>) reports this; opening a store adds the tables.
    /// </summary>
    NotAQueueStore = 6,
}
