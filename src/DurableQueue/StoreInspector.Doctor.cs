using DurableQueue.Diagnostics;

namespace DurableQueue;

// The durability doctor on a file no store of this process has open (dq doctor). See docs/operations.md.
public sealed partial class StoreInspector
{
    /// <summary>
    /// Checks whether the place of the file, and the settings of the stores that have it open, can keep the queue's
    /// promises; the same checks as <see cref="QueueStore.DiagnoseAsync"/>, with the options of the stores recorded in
    /// the file (none when no store has it open).
    /// </summary>
    /// <param name="options">What to check and the thresholds, or <see langword="null"/> for the defaults (no fsync probe).</param>
    /// <param name="cancellationToken">A token to cancel the operation before it starts.</param>
    /// <returns>The findings, each with its severity, what it means and what to do.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A threshold in <paramref name="options"/> is negative.</exception>
    /// <exception cref="NotSupportedException">The store is a PostgreSQL database: these checks are about a file and its disk.</exception>
    /// <exception cref="ObjectDisposedException">The inspector is disposed.</exception>
    public async ValueTask<DurabilityReport> DiagnoseAsync(DiagnoseOptions? options = null, CancellationToken cancellationToken = default)
    {
        var checks = (options ?? new DiagnoseOptions()).Validated();
        cancellationToken.ThrowIfCancellationRequested();
        DoctorFacts facts;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_source is not Storage.Sqlite.SqliteInspection file)
            {
                throw new NotSupportedException(DiagnosticMessages.DoctorNeedsAFile(Path));
            }

            facts = DoctorFacts.Read(file.Connection, _clock.GetUtcNow().ToUnixTimeMilliseconds());
        }

        return await Task.Run(() => DurabilityDoctor.Run(Path, facts, new DoctorContext(_clock, Own: null, OpenedClock: null, checks)), cancellationToken)
            .ConfigureAwait(false);
    }
}
