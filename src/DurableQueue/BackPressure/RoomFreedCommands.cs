using DurableQueue.Storage;
using DurableQueue.Storage.Driver;

namespace DurableQueue.BackPressure;

/// <summary>
/// Raises "room freed" for bounded queues from one place: a layer over the statements that, for every write that
/// removes a live message (ack, a nack or dead-letter that moves it out, the sweep, purge, drop), wakes the queue's
/// waiting producers once the batch commits. Settle paths, the unit of work and the sweep need no hooks of their own.
/// </summary>
internal sealed class RoomFreedCommands(IMessageCommands inner, QueueStore store) : IMessageCommands, IBatchObserver
{
    private readonly IBatchObserver? _observer = inner as IBatchObserver;

    public void BatchStarting(WriteContext context) => _observer?.BatchStarting(context);

    public void StepStarting() => _observer?.StepStarting();

    public bool StepChanged() => _observer?.StepChanged() ?? false;

    public void RolledBack() => _observer?.RolledBack();

    public long QueueId(WriteContext context, string name) => inner.QueueId(context, name);

    public MessageId Enqueue(WriteContext context, long queueId, in PendingMessage message, out bool inserted) =>
        inner.Enqueue(context, queueId, message, out inserted);

    public List<QueueMessage> Receive(WriteContext context, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt) =>
        inner.Receive(context, queueName, queueId, max, visibilityMs, out nextVisibleAt);

    public void ReceiveAtCommit(
        WriteContext context, string queueName, long queueId, int max, long visibilityMs, Action<List<QueueMessage>, long?> leased) =>
        inner.ReceiveAtCommit(context, queueName, queueId, max, visibilityMs, leased);

    public MessageId[] EnqueueMany(WriteContext context, IReadOnlyList<(long QueueId, PendingMessage Message)> messages) =>
        inner.EnqueueMany(context, messages);

    public bool[] TryAckMany(WriteContext context, IReadOnlyList<(string QueueName, MessageReceipt Receipt)> receipts)
    {
        var acked = inner.TryAckMany(context, receipts);
        string? freed = null;
        for (var i = 0; i < acked.Length; i++)
        {
            if (acked[i] && !string.Equals(receipts[i].QueueName, freed, StringComparison.Ordinal))
            {
                freed = receipts[i].QueueName;
                RoomFreed(context, freed);
            }
        }

        return acked;
    }

    public void Ack(WriteContext context, string queueName, MessageReceipt receipt)
    {
        inner.Ack(context, queueName, receipt);
        RoomFreed(context, queueName);
    }

    public NackOutcome Nack(WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error)
    {
        var outcome = inner.Nack(context, queueName, receipt, retryAfterMs, error);
        if (outcome == NackOutcome.DeadLettered)
        {
            RoomFreed(context, queueName);
        }

        return outcome;
    }

    public long Extend(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs) =>
        inner.Extend(context, queueName, receipt, visibilityMs);

    public void DeadLetter(WriteContext context, string queueName, MessageReceipt receipt, string reason)
    {
        inner.DeadLetter(context, queueName, receipt, reason);
        RoomFreed(context, queueName);
    }

    public void Release(WriteContext context, string queueName, MessageReceipt receipt) => inner.Release(context, queueName, receipt);

    public int SweepExpiredFinalLeases(WriteContext context)
    {
        var moved = inner.SweepExpiredFinalLeases(context);
        if (moved > 0)
        {
            context.AfterCommit(store.PulseAllCapacities);
        }

        return moved;
    }

    public long? NextFinalLeaseExpiry(WriteContext context) => inner.NextFinalLeaseExpiry(context);

    public bool RequeueDeadLetter(WriteContext context, long queueId, long id) => inner.RequeueDeadLetter(context, queueId, id);

    public List<long> DeadLetterIds(WriteContext context, long queueId, long after, int limit) => inner.DeadLetterIds(context, queueId, after, limit);

    public int Purge(WriteContext context, long queueId, int limit)
    {
        var removed = inner.Purge(context, queueId, limit);
        if (removed > 0)
        {
            context.AfterCommit(store.PulseAllCapacities);
        }

        return removed;
    }

    public bool DeleteLive(WriteContext context, long queueId, long id)
    {
        var deleted = inner.DeleteLive(context, queueId, id);
        if (deleted)
        {
            context.AfterCommit(store.PulseAllCapacities);
        }

        return deleted;
    }

    public int PurgeDeadLetters(WriteContext context, long queueId, int limit) => inner.PurgeDeadLetters(context, queueId, limit);

    public QueueStatsRow QueueStats(WriteContext context, long queueId) => inner.QueueStats(context, queueId);

    public IEnumerable<(long Id, long Bytes)> DroppableOldest(WriteContext context, long queueId) => inner.DroppableOldest(context, queueId);

    // A drop makes room for the enqueue that caused it, in the same request: no waiter to wake.
    public void DeleteMessage(WriteContext context, long id) => inner.DeleteMessage(context, id);

    public void CheckQuota(WriteContext context) => inner.CheckQuota(context);

    public void StoreQueueSettings(WriteContext context, string queueName, QueueOptions options) => inner.StoreQueueSettings(context, queueName, options);

    private void RoomFreed(WriteContext context, string queueName)
    {
        if (store.TryGetState(queueName, out var state) && state!.Options.IsBounded)
        {
            context.AfterCommit(store.CapacityOf(state).PulseAction);
        }
    }
}
