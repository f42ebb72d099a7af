namespace DurableQueue;

/// <summary>
/// The result of <see cref="QueueStore.CompactAsync(CancellationToken)"/>: file sizes before and after.
/// </summary>
public sealed class CompactionResult
{
    internal CompactionResult(
        long fileBytesBefore, long walBytesBefore, long freePagesBefore, long fileBytesAfter, long walBytesAfter, long freePagesAfter,
        bool checkpointCompleted, bool incrementalVacuum)
    {
        FileBytesBefore = fileBytesBefore;
        WalBytesBefore = walBytesBefore;
        FreePagesBefore = freePagesBefore;
        FileBytesAfter = fileBytesAfter;
        WalBytesAfter = walBytesAfter;
        FreePagesAfter = freePagesAfter;
        CheckpointCompleted = checkpointCompleted;
        IncrementalVacuum = incrementalVacuum;
    }

    /// <summary>Gets the size of the database file before compaction, in bytes.</summary>
    public long FileBytesBefore { get; }

    /// <summary>Gets the size of the WAL file before compaction, in bytes.</summary>
    public long WalBytesBefore { get; }

    /// <summary>Gets the number of free pages before compaction.</summary>
    public long FreePagesBefore { get; }

    /// <summary>Gets the size of the database file after compaction, in bytes.</summary>
    public long FileBytesAfter { get; }

    /// <summary>Gets the size of the WAL file after compaction, in bytes.</summary>
    public long WalBytesAfter { get; }

    /// <summary>Gets the number of free pages after compaction.</summary>
    public long FreePagesAfter { get; }

    /// <summary>Gets a value indicating whether the TRUNCATE checkpoint finished; a reader of another process can hold it back.</summary>
    public bool CheckpointCompleted { get; }

    /// <summary>
    /// Gets a value indicating whether the file uses incremental vacuum. Files whose first table was created by the app
    /// before the store opened them do not, and keep their free pages for reuse.
    /// </summary>
    public bool IncrementalVacuum { get; }

    /// <summary>Gets the bytes handed back to the file system (database file plus WAL); never negative.</summary>
    public long BytesReturned => Math.Max(0, FileBytesBefore + WalBytesBefore - FileBytesAfter - WalBytesAfter);
}
