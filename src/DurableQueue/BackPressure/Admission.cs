using DurableQueue.Storage;
using DurableQueue.Storage.Driver;

namespace DurableQueue.BackPressure;

/// <summary>The outcome of an admission check: the new ids, or which bound was hit and when to retry.</summary>
internal readonly record struct AdmitResult(MessageId[]? Ids, QueueLimit Limit, long Capacity, TimeSpan RetryAfter, bool NeverFits, bool NothingToDrop)
{
    public bool Admitted => Ids is not null;

    public QueueFullException ToException(string queueName, long size = 0) => new(
        queueName,
        Limit,
        Capacity,
        RetryAfter,
        NeverFits ? ErrorMessages.NeverFits(queueName, Limit, Capacity, size)
        : NothingToDrop ? ErrorMessages.QueueFullNothingToDrop(queueName, Limit, Capacity)
        : ErrorMessages.QueueFull(queueName, Limit, Capacity, RetryAfter))
    {
        NeverFits = NeverFits,
    };
}

internal readonly record struct QueueStatsRow(long Messages, long Bytes, long DeadLetters, long RemovedTotal);

/// <summary>
/// The capacity check of a bounded queue. It runs on the writer thread INSIDE the batch transaction and reads the
/// per-queue counter row that triggers keep exact, so the bound holds across every process sharing the file: another
/// process's writes are either committed before our BEGIN IMMEDIATE (and counted) or wait for our commit.
/// </summary>
internal static class Admission
{
    /// <summary>
    /// Inserts the messages if they fit (whole batch or nothing), dropping the oldest ready messages first in
    /// <see cref="QueueFullMode.DropOldest"/> mode. When they do not fit, nothing is written and, if
    /// <paramref name="waiter"/> is given, the producer joins the queue's line of waiters in writer order.
    /// </summary>
    public static AdmitResult Admit(
        WriteContext context,
        CapacityState capacity,
        long queueId,
        PendingMessage[] messages,
        Func<WriteContext, long, PendingMessage, MessageId> insert,
        Waiter? waiter,
        Action<CapacityState, List<long>> onDropped)
    {
        var options = capacity.Options;
        long count = messages.Length;
        long bytes = 0;
        var anyDedup = false;
        foreach (var message in messages)
        {
            bytes += message.Body.Length;
            anyDedup |= message.DedupKey is not null;
        }

        if (options.MaxMessages is { } maxMessages && count > maxMessages)
        {
            return new AdmitResult(null, QueueLimit.MaxMessages, maxMessages, TimeSpan.Zero, NeverFits: true, NothingToDrop: false);
        }

        if (options.MaxBytes is { } maxBytes && bytes > maxBytes)
        {
            return new AdmitResult(null, QueueLimit.MaxBytes, maxBytes, TimeSpan.Zero, NeverFits: true, NothingToDrop: false);
        }

        var before = ReadStats(context, queueId);
        capacity.SampleDrain(context.Now, before.RemovedTotal);

        // First come, first served: while others wait for room, a newcomer goes behind them even if room exists now.
        if (!capacity.MayTry(waiter))
        {
            return Full(capacity, before, count, bytes, waiter, nothingToDrop: false);
        }

        var dropOldest = options.FullMode == QueueFullMode.DropOldest;
        if (!anyDedup && !dropOldest && Over(options, before.Messages + count, before.Bytes + bytes) is not null)
        {
            // Clearly full: answer without writing anything. (A deduplicated message may add nothing, so with a key
            // the batch is inserted and measured instead.)
            return Full(capacity, before, count, bytes, waiter, nothingToDrop: false);
        }

        context.Session.Savepoint(SavepointNames.Admission);
        var ids = new MessageId[messages.Length];
        try
        {
            for (var i = 0; i < messages.Length; i++)
            {
                ids[i] = insert(context, queueId, messages[i]);
            }
        }
        catch
        {
            UndoSavepoint(context);
            throw;
        }

        var after = ReadStats(context, queueId);
        List<long>? dropped = null;
        if (Over(options, after.Messages, after.Bytes) is not null && dropOldest)
        {
            dropped = DropOldest(context, queueId, options, after, ids);
            if (dropped is not null)
            {
                after = ReadStats(context, queueId);
            }
        }

        if (Over(options, after.Messages, after.Bytes) is not null)
        {
            UndoSavepoint(context);
            return Full(capacity, before, count, bytes, dropOldest ? null : waiter, nothingToDrop: dropOldest);
        }

        context.Session.ReleaseSavepoint(SavepointNames.Admission);
        if (dropped is { Count: > 0 })
        {
            context.AfterCommit(() => onDropped(capacity, dropped));
        }

        return new AdmitResult(ids, default, 0, TimeSpan.Zero, NeverFits: false, NothingToDrop: false);
    }

    /// <summary>
    /// Runs a write that adds to the queue (a dead-letter requeue) and undoes it when the queue is then over a bound.
    /// Never waits and never drops. Returns null when the write fit (or wrote nothing), else why it did not.
    /// </summary>
    public static AdmitResult? Guard(WriteContext context, CapacityState capacity, long queueId, Func<bool> write, out bool wrote)
    {
        context.Session.Savepoint(SavepointNames.Admission);
        wrote = write();
        var after = ReadStats(context, queueId);
        capacity.SampleDrain(context.Now, after.RemovedTotal);
        if (wrote && (!capacity.MayTry(null) || Over(capacity.Options, after.Messages, after.Bytes) is not null))
        {
            UndoSavepoint(context);
            wrote = false;
            var before = new QueueStatsRow(after.Messages - 1, after.Bytes, after.DeadLetters, after.RemovedTotal);
            return Full(capacity, before, 1, 0, null, nothingToDrop: false);
        }

        context.Session.ReleaseSavepoint(SavepointNames.Admission);
        return null;
    }

    public static QueueStatsRow ReadStats(WriteContext context, long queueId) => context.Commands.QueueStats(context, queueId);

    /// <summary>Inserts one message and checks the store's quota (where the backend has one); the admission savepoint undoes both.</summary>
    public static MessageId InsertWithinQuota(WriteContext context, long queueId, PendingMessage message)
    {
        var id = context.Commands.Enqueue(context, queueId, message, out _);
        context.Commands.CheckQuota(context);
        return id;
    }

    private static QueueLimit? Over(QueueOptions options, long messages, long bytes) =>
        options.MaxMessages is { } maxMessages && messages > maxMessages ? QueueLimit.MaxMessages
        : options.MaxBytes is { } maxBytes && bytes > maxBytes ? QueueLimit.MaxBytes
        : null;

    private static AdmitResult Full(CapacityState capacity, QueueStatsRow before, long count, long bytes, Waiter? waiter, bool nothingToDrop)
    {
        var options = capacity.Options;
        var limit = Over(options, before.Messages + count, before.Bytes + bytes)
            ?? (options.MaxMessages is not null ? QueueLimit.MaxMessages : QueueLimit.MaxBytes);
        long deficit;
        long bound;
        if (limit == QueueLimit.MaxMessages)
        {
            bound = options.MaxMessages!.Value;
            deficit = before.Messages + count - bound;
        }
        else
        {
            bound = options.MaxBytes!.Value;
            var average = Math.Max(1, before.Bytes / Math.Max(1, before.Messages));
            deficit = (before.Bytes + bytes - bound + average - 1) / average;
        }

        if (waiter is not null && options.FullMode == QueueFullMode.Wait)
        {
            capacity.Join(waiter);
        }

        return new AdmitResult(null, limit, bound, capacity.RetryAfter(Math.Max(1, deficit)), NeverFits: false, nothingToDrop);
    }

    /// <summary>Deletes the oldest ready, never-leased messages until the queue fits again; null when that is not possible.</summary>
    private static List<long>? DropOldest(WriteContext context, long queueId, QueueOptions options, QueueStatsRow after, MessageId[] keep)
    {
        var needMessages = options.MaxMessages is { } maxMessages ? after.Messages - maxMessages : 0;
        var needBytes = options.MaxBytes is { } maxBytes ? after.Bytes - maxBytes : 0;
        var kept = new HashSet<long>(keep.Select(id => id.Value));
        var victims = new List<long>();
        long freedBytes = 0;
        foreach (var (id, bytes) in context.Commands.DroppableOldest(context, queueId))
        {
            if (victims.Count >= needMessages && freedBytes >= needBytes)
            {
                break;
            }

            if (!kept.Contains(id))
            {
                victims.Add(id);
                freedBytes += bytes;
            }
        }

        if (victims.Count < needMessages || freedBytes < needBytes)
        {
            return null;
        }

        foreach (var id in victims)
        {
            context.Commands.DeleteMessage(context, id);
        }

        return victims;
    }

    /// <summary>Rolls back and releases the savepoint if the transaction is still alive (a caller in a unit of work may catch and go on).</summary>
    /// <summary>Undoes the admission savepoint (if the transaction still stands); a layer that followed the rows (the memory tier) forgets them.</summary>
    internal static void UndoSavepoint(WriteContext context) => context.RollbackToSavepoint(SavepointNames.Admission);
}
