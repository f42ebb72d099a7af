using System.Diagnostics.CodeAnalysis;
using DurableQueue.Storage;
using Microsoft.Data.Sqlite;

namespace DurableQueue;

// Monitoring without side effects: running totals for rates, and the handles this store has opened.
public sealed partial class QueueStore
{
    /// <summary>Reads the running totals of every queue of the file in one query (for rates on dashboards and in metrics).</summary>
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

    private static List<QueueTotals> ReadTotals(SqliteConnection connection)
    {
        var totals = new List<QueueTotals>();
        using var command = connection.CreateCommand();
        command.CommandText = Sql.QueueTotals;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var left = reader.GetInt64(2);
            totals.Add(new QueueTotals(reader.GetString(0), reader.GetInt64(1) + left, left));
        }

        return totals;
    }
}
