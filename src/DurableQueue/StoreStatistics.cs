namespace DurableQueue;

/// <summary>
/// Describes a queue store file: its size on disk, its schema and the depth of each queue, read in one snapshot.
/// </summary>
public sealed class StoreStatistics
{
    internal StoreStatistics(
        string path, DateTimeOffset takenAt, long schemaVersion, long fileBytes, long walBytes, long pageSize, long pageCount,
        long freePages, string journalMode, bool incrementalVacuum, long lastMessageId, IReadOnlyList<QueueStatistics> queues)
    {
        Path = path;
        TakenAt = takenAt;
        SchemaVersion = schemaVersion;
        FileBytes = fileBytes;
        WalBytes = walBytes;
        PageSize = pageSize;
        PageCount = pageCount;
        FreePages = freePages;
        JournalMode = journalMode;
        IncrementalVacuum = incrementalVacuum;
        LastMessageId = lastMessageId;
        Queues = queues;
    }

    /// <summary>Gets the full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Gets the time (from the store's clock) at which the statistics were taken.</summary>
    public DateTimeOffset TakenAt { get; }

    /// <summary>Gets the queue schema version of the file.</summary>
    public long SchemaVersion { get; }

    /// <summary>Gets the size of the database file in bytes (without its WAL).</summary>
    public long FileBytes { get; }

    /// <summary>Gets the size of the WAL file in bytes; 0 when there is none.</summary>
    public long WalBytes { get; }

    /// <summary>Gets the database page size in bytes.</summary>
    public long PageSize { get; }

    /// <summary>Gets the number of pages in the database, as the last commit left it.</summary>
    public long PageCount { get; }

    /// <summary>Gets the number of unused pages that a compaction can hand back to the file system.</summary>
    public long FreePages { get; }

    /// <summary>Gets the size of the unused pages in bytes.</summary>
    public long FreeBytes => FreePages * PageSize;

    /// <summary>Gets the journal mode of the file (<c>wal</c> for a file a store has opened).</summary>
    public string JournalMode { get; }

    /// <summary>Gets a value indicating whether the file can return free pages without a full VACUUM (auto_vacuum = INCREMENTAL).</summary>
    public bool IncrementalVacuum { get; }

    /// <summary>Gets the largest message id ever assigned in the file (ids are never reused); 0 before the first message.</summary>
    public long LastMessageId { get; }

    /// <summary>Gets the queues of the file in ordinal name order.</summary>
    public IReadOnlyList<QueueStatistics> Queues { get; }
}
