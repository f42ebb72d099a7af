using DurableQueue.Diagnostics;

namespace DurableQueue;

// The durability doctor. See docs/operations.md.
public sealed partial class QueueStore
{
    /// <summary>
    /// Checks whether the place and settings of this store can keep the queue's promises: the file system (network
    /// share, RAM disk, container layer, removable medium), <see cref="Durability.Normal"/>, free disk space and the
    /// database quota, a WAL held past its limit by a reader, clock jumps, other stores and processes on the file, and
    /// optionally how long the disk takes to flush.
    /// </summary>
    /// <param name="options">What to check and the thresholds, or <see langword="null"/> for the defaults (no fsync probe).</param>
    /// <param name="cancellationToken">A token to cancel the operation before it starts.</param>
    /// <returns>The findings, each with its severity, what it means and what to do.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A threshold in <paramref name="options"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    /// <exception cref="NotSupportedException">The store is not on a SQLite file (the doctor checks files).</exception>
    public async ValueTask<DurabilityReport> DiagnoseAsync(DiagnoseOptions? options = null, CancellationToken cancellationToken = default)
    {
        var checks = (options ?? new DiagnoseOptions()).Validated();
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (_driver.Kind != Storage.Driver.StorageKind.Sqlite)
        {
            throw new NotSupportedException(ErrorMessages.DoctorNeedsFile(Path));
        }

        // A due sweep of expired last attempts first, as every read does, so that the counts read are current.
        await ReadAsync(static _ => 0, cancellationToken).ConfigureAwait(false);
        var facts = _driver.ReadConnection(c => DoctorFacts.Read((Microsoft.Data.Sqlite.SqliteConnection)c, NowMs));
        // File system and process checks read /proc and sysfs, and the probe writes: off the caller's thread.
        return await Task.Run(() => DurabilityDoctor.Run(Path, facts, new DoctorContext(Clock, Session, OpenedClock, checks)), cancellationToken)
            .ConfigureAwait(false);
    }
}
