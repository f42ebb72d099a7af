using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class QueueStore
{
    /// <summary>
    /// Opens a file for read-only inspection: it is never created, migrated or written, and no writer starts.
    /// Use it for tools that look into a file an app may be using at the same time.
    /// </summary>
    /// <param name="path">The path of the database file.</param>
    /// <param name="options">Options whose <see cref="QueueStoreOptions.TimeProvider"/> and <see cref="QueueStoreOptions.BusyTimeout"/> are used; <see langword="null"/> for the defaults.</param>
    /// <returns>The inspector. Dispose it to close the file.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a folder.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="StoreFileException">
    /// The file is not a SQLite database, is damaged, has a newer schema, or has no queue tables
    /// (<see cref="StoreFileProblem.NotAQueueStore"/>).
    /// </exception>
    public static StoreInspector Inspect(string path, QueueStoreOptions? options = null) => StoreInspector.Open(path, options);

    /// <summary>Reads the file's sizes, schema version and the depth of every queue, in one snapshot.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The statistics.</returns>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(r => r.Statistics(NowMs), cancellationToken);

    /// <summary>
    /// Checks the file: SQLite's <c>integrity_check</c> plus the queue's own invariants (no lease token on a message
    /// never received, attempts within limits, no orphan rows, the id sequence ahead of every id, counts consistent).
    /// It reads every page, so it takes time on a large file; it takes no lock that blocks writers.
    /// </summary>
    /// <param name="cancellationToken">A token to cancel the operation before it starts.</param>
    /// <returns>The result; <see cref="StoreVerification.IsHealthy"/> tells whether every check passed.</returns>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public ValueTask<StoreVerification> VerifyAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(r => r.Verify(NowMs), cancellationToken);

    /// <summary>
    /// Hands unused space back to the file system now: an incremental vacuum of every free page, then a TRUNCATE
    /// checkpoint of the WAL. The store's maintenance does the same in small steps; this runs it in full, between
    /// write batches of this store (writers of other processes wait for its lock as for any write).
    /// </summary>
    /// <param name="cancellationToken">A token to stop waiting; once started, the compaction runs to its end.</param>
    /// <returns>The file sizes before and after.</returns>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public async ValueTask<CompactionResult> CompactAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        CompactionResult? result = null;
        var operation = new MaintenanceOperation(c => result = _driver.Compact(c.Session));
        Writer.Submit(operation);
        await operation.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return result!;
    }
}
