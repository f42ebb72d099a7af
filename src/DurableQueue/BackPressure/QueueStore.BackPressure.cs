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

    // Pages enqueues may fill (MaxDatabaseBytes less a reserve); 0 = no quota. Set once by Open.
    private long _enqueuePageLimit;

    /// <summary>
    /// Occurs after a <see cref="QueueFullMode.DropOldest"/> queue of this store committed the deletion of messages to
    /// make room. Raised on a thread-pool thread; DurableQueue.Hosting logs it.
    /// </summary>
    public event EventHandler<MessagesDroppedEventArgs>? MessagesDropped;

    internal CapacityState CapacityOf(QueueState state) =>
        _capacities.GetOrAdd(state.Name, static (name, s) => new CapacityState(name, s.Options), state);

    /// <summary>Wakes the producers waiting for room in a queue once this batch commits; nothing for unbounded queues.</summary>
    internal void NoteRoomFreed(WriteContext context, QueueState state)
    {
        if (state.Options.IsBounded)
        {
            context.AfterCommit(CapacityOf(state).PulseAction);
        }
    }

    internal void NoteRoomFreed(WriteContext context, string queueName)
    {
        if (TryGetState(queueName, out var state))
        {
            NoteRoomFreed(context, state!);
        }
    }

    /// <summary>Wakes the waiting producers of every bounded queue (after a sweep moved expired leases to dead letters).</summary>
    internal void PulseAllCapacities()
    {
        foreach (var capacity in _capacities.Values)
        {
            capacity.Pulse();
        }
    }

    /// <summary>The enqueue of a unit of work: checked against the queue's bounds, never waiting (back pressure hook).</summary>
    internal MessageId EnqueueInTransaction(WriteContext context, QueueState state, long queueId, PendingMessage message)
    {
        if (!state.Options.IsBounded && !HasDatabaseQuota)
        {
            return MessageCommands.Enqueue(context, queueId, message);
        }

        if (!state.Options.IsBounded)
        {
            context.Command(Sql.BackPressureSavepoint).ExecuteNonQuery();
            try
            {
                var id = MessageCommands.Enqueue(context, queueId, message);
                CheckDatabaseQuota(context);
                context.Command(Sql.BackPressureRelease).ExecuteNonQuery();
                return id;
            }
            catch
            {
                Admission.UndoSavepoint(context);
                throw;
            }
        }

        var capacity = CapacityOf(state);
        var result = Admission.Admit(
            context, capacity, queueId, [message], (c, q, m) => { var id = MessageCommands.Enqueue(c, q, m); CheckDatabaseQuota(c); return id; }, waiter: null, ReportDropped);
        if (!result.Admitted)
        {
            capacity.CountRejected();
            throw result.ToException(state.Name, result.Limit == QueueLimit.MaxBytes ? message.Body.Length : 1);
        }

        return result.Ids![0];
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

    internal QueueStatsRow ReadQueueStats(string queueName) => ReadNow(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = Sql.QueueStatsByName;
        command.Parameters.AddWithValue("@name", queueName);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new QueueStatsRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : default;
    });

    internal bool HasDatabaseQuota => _enqueuePageLimit != 0;

    /// <summary>
    /// Fails an enqueue whose rows took the pages in use past the enqueue limit: its savepoint is rolled back by the writer, so
    /// nothing of it stays. Enqueues stop a reserve below MaxDatabaseBytes so that receives, acks and nacks, whose
    /// updates can also need a fresh page, still work in a store that is full of messages and can be drained.
    /// </summary>
    internal void CheckDatabaseQuota(WriteContext context)
    {
        if (_enqueuePageLimit != 0 && (long)context.Command(Sql.UsedPageCount).ExecuteScalar()! > _enqueuePageLimit)
        {
            throw new StorageFullException(ErrorMessages.QuotaReached(Path, Options.MaxDatabaseBytes!.Value));
        }
    }

    /// <summary>
    /// Caps the file's size on the write connection (<c>PRAGMA max_page_count</c>, a hard limit for every write: SQLITE_FULL
    /// maps to <see cref="StorageFullException"/>) and sets the lower limit at which enqueues stop.
    /// </summary>
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
