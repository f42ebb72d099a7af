using System.Diagnostics.CodeAnalysis;
using DurableQueue.Storage.Driver;

namespace DurableQueue;

// Monitoring without side effects: running totals for rates, and the handles this store has opened.
public sealed partial class QueueStore
{
    /// <summary>Reads the running totals of every queue of the store (for rates on dashboards and in metrics): one short read per queue.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The totals of each queue, in ordinal name order; empty when the file has no queue.</returns>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public ValueTask<IReadOnlyList<QueueTotals>> GetQueueTotalsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<QueueTotals>>(ReadTotals, cancellationToken);

    /// <summary>
    /// Gets the handle of a queue that this store has opened already, with the options it was opened with, without
    /// opening it: unlike <see cref="GetQueue(string, QueueOptions?)"/>, this never fixes a queue's options.
    /// </summary>
    /// <param name="name">The queue name.</param>
    /// <param name="queue">The handle, or <see langword="null"/> when this store has not opened the queue (it may still exist in the file).</param>
    /// <returns><see langword="true"/> when this store has opened the queue.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public bool TryGetOpenQueue(string name, [NotNullWhen(true)] out MessageQueue? queue)
    {
        ArgumentNullException.ThrowIfNull(name);
        ThrowIfDisposed();
        queue = TryGetState(name, out var state) ? new MessageQueue(this, state!) : null;
        return queue is not null;
    }

    private static List<QueueTotals> ReadTotals(IStoreReader reader)
    {
        // Each queue's counters are one row kept exact by the store in the transaction of every change: its live
        // messages plus its removed total is every message that ever entered it.
        var totals = new List<QueueTotals>();
        foreach (var name in reader.QueueNames())
        {
            var row = reader.QueueStatsByName(name);
            totals.Add(new QueueTotals(name, row.Messages + row.RemovedTotal, row.RemovedTotal));
        }

        return totals;
    }
}
