using DurableQueue.BackPressure;
using DurableQueue.Storage;
using DurableQueue.Storage.Driver;
using DurableQueue.Storage.Sqlite;

namespace DurableQueue.Memory;

/// <summary>
/// The memory tier as a layer over the SQLite statements: each write runs the driver's statement, then tells the
/// tier what it did to the row, in step with the database; a receive takes its candidates from the cached head of
/// each priority lane instead of an index walk. The tier follows the batch's outcome through
/// <see cref="IBatchObserver"/>: a rolled-back change drops the cached state, to be read back from disk.
/// </summary>
internal sealed class TieredCommands : IMessageCommands, IBatchObserver
{
    private readonly SqliteCommands _inner;

    public TieredCommands(SqliteCommands inner, MemoryTier tier)
    {
        _inner = inner;
        Tier = tier;
    }

    public MemoryTier Tier { get; }

    public void BatchStarting(WriteContext context) => Tier.CheckForeignCommits(context);

    public void StepStarting() => Tier.Mutated = false;

    public bool StepChanged() => Tier.Mutated;

    public void RolledBack() => Tier.Clear();

    public long QueueId(WriteContext context, string name) => _inner.QueueId(context, name);

    public MessageId Enqueue(WriteContext context, long queueId, in PendingMessage message, out bool inserted)
    {
        // Before the insert: a queue found empty starts complete, so this message goes straight into the tier.
        Tier.GetOrCreate(context, queueId);
        var id = _inner.Enqueue(context, queueId, message, out inserted);
        if (inserted)
        {
            Tier.OnInserted(context, queueId, id.Value, message.Priority, message.VisibleAt(context.Now), context.Now, message.Body, message.Headers);
        }

        return id;
    }

    /// <summary>
    /// The receive of the memory tier: candidates come from the cached head of each priority lane, in the same order
    /// as the SQL path; each is leased by primary key (a guarded UPDATE that returns no body). A lane is topped up from
    /// disk in pages before it runs dry; when the budget leaves no room, ready rows past the cached prefix are read
    /// from disk directly, so the tier changes speed, never which message is delivered.
    /// </summary>
    public List<QueueMessage> Receive(WriteContext context, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt)
    {
        var tier = Tier;
        var cache = tier.GetOrCreate(context, queueId);
        var messages = new List<QueueMessage>(Math.Min(max, 64));
        var token = context.NewLeaseToken();
        var until = context.Now + visibilityMs;
        for (var priority = 0; priority < QueueCache.Priorities && messages.Count < max; priority++)
        {
            var lane = cache.LaneOf(priority);
            var refilled = false;
            while (messages.Count < max)
            {
                if (!refilled && MemoryTier.NeedsRefill(lane))
                {
                    tier.Refill(context, cache, priority);
                    refilled = true;
                }

                var head = lane.Set.Min;
                if (head is null)
                {
                    if (!lane.Complete)
                    {
                        ReceivePastBound(context, queueName, queueId, lane, priority, max, token, until, messages);
                    }

                    break;
                }

                if (head.VisibleAt > context.Now)
                {
                    break;
                }

                var message = _inner.Lease(context, queueName, head.Id, token, until, head);
                if (message is null)
                {
                    // The row changed behind the cache's back: trust the disk and stop here.
                    tier.Invalidate(queueId);
                    nextVisibleAt = null;
                    return messages;
                }

                cache.NoteHit();
                tier.OnRekeyed(queueId, head.Id, priority, until);
                messages.Add(message);
            }
        }

        nextVisibleAt = messages.Count >= max ? null : cache.Spilled ? _inner.NextVisible(context, queueId) : NextVisibleCached(cache, context.Now);
        return messages;
    }

    private void ReceivePastBound(
        WriteContext context, string queueName, long queueId, QueueCache.Lane lane, int priority, int max, Guid token, long until,
        List<QueueMessage> messages)
    {
        foreach (var id in _inner.ReadyPastBound(context, queueId, priority, lane.BoundVisible, lane.BoundId, max - messages.Count))
        {
            if (_inner.Lease(context, queueName, id, token, until) is { } message)
            {
                Tier.OnRekeyed(queueId, id, priority, until);
                messages.Add(message);
            }
        }
    }

    private static long? NextVisibleCached(QueueCache cache, long now)
    {
        long? next = null;
        for (var priority = 0; priority < QueueCache.Priorities; priority++)
        {
            // Ready entries were taken or are beyond max; the first entry still later than now is the lane's next.
            foreach (var entry in cache.LaneOf(priority).Set)
            {
                if (entry.VisibleAt > now)
                {
                    next = next is { } n ? Math.Min(n, entry.VisibleAt) : entry.VisibleAt;
                    break;
                }
            }
        }

        return next;
    }

    public MessageId[] EnqueueMany(WriteContext context, IReadOnlyList<(long QueueId, PendingMessage Message)> messages) =>
        OneByOne.EnqueueMany(this, context, messages);

    public bool[] TryAckMany(WriteContext context, IReadOnlyList<(string QueueName, MessageReceipt Receipt)> receipts) =>
        OneByOne.TryAckMany(this, context, receipts);

    public void Ack(WriteContext context, string queueName, MessageReceipt receipt)
    {
        _inner.Ack(context, queueName, receipt);
        Tier.OnRemoved(receipt.Id.Value);
    }

    public NackOutcome Nack(WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error)
    {
        var (outcome, queueId, priority, visibleAt) = _inner.NackRow(context, queueName, receipt, retryAfterMs, error);
        if (outcome == NackOutcome.DeadLettered)
        {
            Tier.OnRemoved(receipt.Id.Value);
        }
        else
        {
            Tier.OnRekeyed(queueId, receipt.Id.Value, priority, visibleAt);
        }

        return outcome;
    }

    public long Extend(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs)
    {
        var (queueId, priority, until) = _inner.ExtendRow(context, queueName, receipt, visibilityMs);
        Tier.OnRekeyed(queueId, receipt.Id.Value, priority, until);
        return until;
    }

    public void DeadLetter(WriteContext context, string queueName, MessageReceipt receipt, string reason)
    {
        _inner.DeadLetter(context, queueName, receipt, reason);
        Tier.OnRemoved(receipt.Id.Value);
    }

    public void Release(WriteContext context, string queueName, MessageReceipt receipt)
    {
        var (queueId, priority) = _inner.ReleaseRow(context, queueName, receipt);
        Tier.OnRekeyed(queueId, receipt.Id.Value, priority, context.Now);
    }

    public int SweepExpiredFinalLeases(WriteContext context)
    {
        var ids = _inner.SweepRows(context);
        foreach (var id in ids)
        {
            Tier.OnRemoved(id);
        }

        return ids.Count;
    }

    public long? NextFinalLeaseExpiry(WriteContext context) => _inner.NextFinalLeaseExpiry(context);

    public bool RequeueDeadLetter(WriteContext context, long queueId, long id)
    {
        if (!_inner.RequeueDeadLetter(context, queueId, id))
        {
            return false;
        }

        // Rare and possibly many rows: let the tier read the queue back from disk.
        Invalidate(queueId);
        return true;
    }

    public List<long> DeadLetterIds(WriteContext context, long queueId, long after, int limit) => _inner.DeadLetterIds(context, queueId, after, limit);

    public int Purge(WriteContext context, long queueId, int limit)
    {
        var removed = _inner.Purge(context, queueId, limit);
        if (removed > 0)
        {
            Invalidate(queueId);
        }

        return removed;
    }

    public bool DeleteLive(WriteContext context, long queueId, long id)
    {
        if (!_inner.DeleteLive(context, queueId, id))
        {
            return false;
        }

        Tier.OnRemoved(id);
        return true;
    }

    public int PurgeDeadLetters(WriteContext context, long queueId, int limit) => _inner.PurgeDeadLetters(context, queueId, limit);

    public QueueStatsRow QueueStats(WriteContext context, long queueId) => _inner.QueueStats(context, queueId);

    public IEnumerable<(long Id, long Bytes)> DroppableOldest(WriteContext context, long queueId) => _inner.DroppableOldest(context, queueId);

    public void DeleteMessage(WriteContext context, long id)
    {
        _inner.DeleteMessage(context, id);
        Tier.OnRemoved(id);
    }

    public void CheckQuota(WriteContext context) => _inner.CheckQuota(context);

    public void StoreQueueSettings(WriteContext context, string queueName, QueueOptions options) => _inner.StoreQueueSettings(context, queueName, options);

    private void Invalidate(long queueId)
    {
        Tier.Mutated = true;
        Tier.Invalidate(queueId);
    }
}
