using System.Collections.Concurrent;
using System.Globalization;
using DurableQueue.BackPressure;
using DurableQueue.Internal;
using DurableQueue.Storage;
using Microsoft.Data.Sqlite;

namespace DurableQueue;

// Back pressure on the store: per-queue capacity state, the drop report, the disk quota.
public sealed partial class QueueStore
{
    private readonly ConcurrentDictionary<string, CapacityState> _capacities = new(StringComparer.Ordinal);

    /// <summary>
    /// Occurs after a <see cref="QueueFullMode.DropOldest"/> queue of this store committed the deletion of messages to
    /// make room. Raised on a thread-pool thread; DurableQueue.Hosting logs it.
    /// </summary>
    public event EventHandler<MessagesDroppedEventArgs>? MessagesDropped;

    internal CapacityState CapacityOf(QueueState state) =>
        _capacities.GetOrAdd(state.Name, static (name, s) => new CapacityState(name, s.Options), state);

    /// <summary>Wakes the producers waiting for room in a queue once this batch commits; nothing for unbounded queues.</summary>
    internal void PulseAllCapacities()
    {
        foreach (var capacity in _capacities.Values)
        {
            capacity.Pulse();
        }
    }

    internal void ReportDropped(CapacityState capacity, List<long> ids)
    {
        capacity.CountDropped(ids.Count);
        if (MessagesDropped is { } handler)
        {
            var args = new MessagesDroppedEventArgs(capacity.Name, ids.ConvertAll(id => new MessageId(id)));
            // Off the writer thread: a slow handler must not hold up every write of the store.
            ThreadPool.QueueUserWorkItem(static s => s.handler(s.store, s.args), (handler, store: this, args), preferLocal: false);
        }
    }

    internal QueueStatsRow ReadQueueStats(string queueName) => ReadNow(r => r.QueueStatsByName(queueName));

    /// <summary>Gets a value indicating whether the store enforces a database quota (every enqueue then checks it).</summary>
    internal bool HasDatabaseQuota => Options.MaxDatabaseBytes is not null && _driver.Capabilities.DatabaseQuota;

    private static long ApplyDatabaseQuota(SqliteConnection connection, QueueStoreOptions options)
    {
        if (options.MaxDatabaseBytes is not { } maxBytes)
        {
            return 0;
        }

        using var command = connection.CreateCommand();
        command.CommandText = Sql.PageSize;
        var pageSize = (long)command.ExecuteScalar()!;
        var pages = maxBytes / pageSize;
        command.CommandText = string.Create(CultureInfo.InvariantCulture, $"PRAGMA max_page_count = {pages};");
        command.ExecuteNonQuery();
        var reserve = Math.Max(BackPressureDefaults.QuotaReservePages, pages / 16);
        return Math.Max(1, pages - reserve);
    }
}
