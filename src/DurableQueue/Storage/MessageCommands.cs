using DurableQueue.Memory;

namespace DurableQueue.Storage;

/// <summary>
/// The queue's writes, run on the writer thread inside the batch transaction. Shared by the queue handle and
/// the unit of work so that both change the queue in exactly the same way. Every settle is fenced by the lease
/// token: a row whose token differs is not touched. Each write tells the memory tier (when there is one) what it
/// did to the row, in step with the database.
/// </summary>
internal static class MessageCommands
{
    public static MessageId Enqueue(WriteContext context, long queueId, in PendingMessage message)
    {
        var visibleAt = message.VisibleAt(context.Now);
        // Before the insert: a queue found empty starts complete, so this message goes straight into the tier.
        context.Tier?.GetOrCreate(context, queueId);
        var command = context.Command(Sql.Insert)
            .Bind("@queue", queueId)
            .Bind("@priority", message.Priority)
            .Bind("@visible", visibleAt)
            .Bind("@now", context.Now)
            .Bind("@maxAttempts", message.MaxAttempts)
            .Bind("@dedup", message.DedupKey)
            .Bind("@headers", message.Headers)
            .Bind("@body", message.Body);
        if (command.ExecuteScalar() is long id)
        {
            context.Tier?.OnInserted(context, queueId, id, message.Priority, visibleAt, context.Now, message.Body, message.Headers);
            return new MessageId(id);
        }

        // A live message has the same deduplication key: hand back its id and add nothing.
        var existing = context.Command(Sql.FindByDedupKey).Bind("@queue", queueId).Bind("@dedup", message.DedupKey).ExecuteScalar();
        return new MessageId((long)existing!);
    }

    /// <summary>Leases up to <paramref name="max"/> ready messages in delivery order.</summary>
    public static List<QueueMessage> Receive(WriteContext context, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt)
    {
        if (context.Tier is { } tier)
        {
            return ReceiveFromTier(context, tier, queueName, queueId, max, visibilityMs, out nextVisibleAt);
        }

        var ids = ReadIds(context.Command(Sql.SelectReady).Bind("@queue", queueId).Bind("@now", context.Now).Bind("@limit", max));
        var messages = new List<QueueMessage>(ids.Count);
        if (ids.Count > 0)
        {
            var token = Guid.NewGuid();
            var until = context.Now + visibilityMs;
            foreach (var id in ids)
            {
                if (Lease(context, queueName, id, token, until) is { } message)
                {
                    messages.Add(message);
                }
            }
        }

        nextVisibleAt = messages.Count < max ? NextVisible(context, queueId) : null;
        return messages;
    }

    /// <summary>
    /// The receive of the memory tier: candidates come from the cached head of each priority lane, in the same order
    /// as the SQL path; each is leased by primary key (a guarded UPDATE that returns no body). A lane topped up from
    /// disk in pages before it runs dry; when the budget leaves no room, ready rows past the cached prefix are read
    /// from disk directly, so the tier changes speed, never which message is delivered.
    /// </summary>
    private static List<QueueMessage> ReceiveFromTier(
        WriteContext context, MemoryTier tier, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt)
    {
        var cache = tier.GetOrCreate(context, queueId);
        var messages = new List<QueueMessage>(Math.Min(max, 64));
        var token = Guid.NewGuid();
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
                        ReceivePastBound(context, tier, queueName, queueId, lane, priority, max, token, until, messages);
                    }

                    break;
                }

                if (head.VisibleAt > context.Now)
                {
                    break;
                }

                var message = Lease(context, queueName, head.Id, token, until, head);
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

        nextVisibleAt = messages.Count >= max ? null : cache.Spilled ? NextVisible(context, queueId) : NextVisibleCached(cache, context.Now);
        return messages;
    }

    private static void ReceivePastBound(
        WriteContext context, MemoryTier tier, string queueName, long queueId, QueueCache.Lane lane, int priority, int max, Guid token, long until,
        List<QueueMessage> messages)
    {
        var ids = ReadIds(context.Command(Sql.SelectReadyPastBound)
            .Bind("@queue", queueId)
            .Bind("@priority", priority)
            .Bind("@now", context.Now)
            .Bind("@boundVisible", lane.BoundVisible)
            .Bind("@boundId", lane.BoundId)
            .Bind("@limit", max - messages.Count));
        foreach (var id in ids)
        {
            if (Lease(context, queueName, id, token, until) is { } message)
            {
                tier.OnRekeyed(queueId, id, priority, until);
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

    private static long? NextVisible(WriteContext context, long queueId) =>
        context.Command(Sql.NextVisible).Bind("@queue", queueId).Bind("@now", context.Now).ExecuteScalar() as long?;

    /// <summary>
    /// Leases one message by id if it is still ready (a guarded UPDATE by primary key); returns null when someone else
    /// took it. With a cached entry that holds the body, the UPDATE returns no body or headers: they come from memory.
    /// </summary>
    public static QueueMessage? Lease(WriteContext context, string queueName, long id, Guid token, long until, CachedMessage? cached = null)
    {
        var fromMemory = cached?.Body is not null;
        using var reader = context.Command(fromMemory ? Sql.LeaseSlim : Sql.Lease)
            .Bind("@token", token.ToByteArray())
            .Bind("@until", until)
            .Bind("@id", id)
            .Bind("@now", context.Now)
            .ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        // RETURNING: priority, enqueued_at, attempts, max_attempts, last_error[, headers, body]
        return new QueueMessage(
            queueName,
            new MessageReceipt(new MessageId(id), token),
            fromMemory ? cached!.Body : reader.GetFieldValue<byte[]>(6),
            HeaderCodec.Decode(fromMemory ? cached!.Headers : reader.IsDBNull(5) ? null : reader.GetString(5)),
            reader.GetInt32(0),
            reader.GetInt32(2),
            reader.GetInt32(3),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
            DateTimeOffset.FromUnixTimeMilliseconds(until),
            reader.IsDBNull(4) ? null : reader.GetString(4));
    }

    public static void Ack(WriteContext context, string queueName, MessageReceipt receipt)
    {
        if (context.Command(Sql.Ack).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).ExecuteNonQuery() == 0)
        {
            throw new LeaseLostException(queueName, receipt.Id);
        }

        context.Tier?.OnRemoved(receipt.Id.Value);
    }

    public static NackOutcome Nack(WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error)
    {
        var lease = LeaseOf(context, queueName, receipt);
        if (lease.Attempts >= lease.MaxAttempts)
        {
            MoveToDeadLetters(context, receipt.Id.Value, DeadLetterReasons.LastAttemptFailed, error);
            return NackOutcome.DeadLettered;
        }

        var visibleAt = context.Now + retryAfterMs;
        context.Command(Sql.Nack)
            .Bind("@visible", visibleAt)
            .Bind("@error", error)
            .Bind("@id", receipt.Id.Value)
            .Bind("@token", receipt.Token.ToByteArray())
            .ExecuteNonQuery();
        context.Tier?.OnRekeyed(lease.QueueId, receipt.Id.Value, lease.Priority, visibleAt);
        return NackOutcome.Retrying;
    }

    public static long Extend(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs)
    {
        var until = context.Now + visibilityMs;
        var command = context.Command(Sql.Extend).Bind("@until", until).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray());
        Rekeyed(context, queueName, receipt, command, until);
        return until;
    }

    public static void DeadLetter(WriteContext context, string queueName, MessageReceipt receipt, string reason)
    {
        LeaseOf(context, queueName, receipt);
        MoveToDeadLetters(context, receipt.Id.Value, reason, error: null);
    }

    /// <summary>Hands a message back at once without spending the attempt (graceful shutdown).</summary>
    public static void Release(WriteContext context, string queueName, MessageReceipt receipt)
    {
        var command = context.Command(Sql.Release).Bind("@now", context.Now).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray());
        Rekeyed(context, queueName, receipt, command, context.Now);
    }

    private static void Rekeyed(WriteContext context, string queueName, MessageReceipt receipt, Microsoft.Data.Sqlite.SqliteCommand command, long visibleAt)
    {
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            throw new LeaseLostException(queueName, receipt.Id);
        }

        // RETURNING queue_id, priority
        context.Tier?.OnRekeyed(reader.GetInt64(0), receipt.Id.Value, reader.GetInt32(1), visibleAt);
    }

    /// <summary>
    /// Dead-letters every lease on its last attempt that has expired: the last attempt failed at that moment,
    /// so the message leaves the queue now, not lazily on a later receive. Returns how many moved.
    /// </summary>
    public static int SweepExpiredFinalLeases(WriteContext context)
    {
        var ids = ReadIds(context.Command(Sql.ExpiredFinalLeases).Bind("@now", context.Now));
        foreach (var id in ids)
        {
            MoveToDeadLetters(context, id, DeadLetterReasons.LastLeaseExpired, error: null);
        }

        return ids.Count;
    }

    public static long? NextFinalLeaseExpiry(WriteContext context) =>
        context.Command(Sql.NextFinalLeaseExpiry).ExecuteScalar() as long?;

    public static bool RequeueDeadLetter(WriteContext context, long queueId, long id)
    {
        if (context.Command(Sql.Requeue).Bind("@now", context.Now).Bind("@id", id).Bind("@queue", queueId).ExecuteNonQuery() == 0)
        {
            return false;
        }

        context.Command(Sql.DeleteDeadLetter).Bind("@id", id).Bind("@queue", queueId).ExecuteNonQuery();
        // Rare and possibly many rows: let the tier read the queue back from disk.
        InvalidateTier(context, queueId);
        return true;
    }

    public static List<long> DeadLetterIds(WriteContext context, long queueId, long after, int limit) =>
        ReadIds(context.Command(Sql.DeadLetterIds).Bind("@queue", queueId).Bind("@after", after).Bind("@limit", limit));

    public static int Purge(WriteContext context, long queueId, int limit)
    {
        var removed = context.Command(Sql.Purge).Bind("@queue", queueId).Bind("@limit", limit).ExecuteNonQuery();
        if (removed > 0)
        {
            InvalidateTier(context, queueId);
        }

        return removed;
    }

    /// <summary>Deletes one live message of the queue, whatever its state (a leased one too); false when there is none with that id.</summary>
    public static bool Delete(WriteContext context, long queueId, long id)
    {
        if (context.Command(Sql.DeleteQueueMessage).Bind("@id", id).Bind("@queue", queueId).ExecuteNonQuery() == 0)
        {
            return false;
        }

        context.Tier?.OnRemoved(id);
        return true;
    }

    public static int PurgeDeadLetters(WriteContext context, long queueId, int limit) =>
        context.Command(Sql.PurgeDeadLetters).Bind("@queue", queueId).Bind("@limit", limit).ExecuteNonQuery();

    private static void InvalidateTier(WriteContext context, long queueId)
    {
        if (context.Tier is { } tier)
        {
            tier.Mutated = true;
            tier.Invalidate(queueId);
        }
    }

    private static (int Attempts, int MaxAttempts, long QueueId, int Priority) LeaseOf(WriteContext context, string queueName, MessageReceipt receipt)
    {
        using var reader = context.Command(Sql.LeaseAttempts).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).ExecuteReader();
        if (!reader.Read())
        {
            throw new LeaseLostException(queueName, receipt.Id);
        }

        return (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt32(3));
    }

    private static void MoveToDeadLetters(WriteContext context, long id, string reason, string? error)
    {
        context.Command(Sql.CopyToDeadLetters).Bind("@error", error).Bind("@reason", reason).Bind("@now", context.Now).Bind("@id", id).ExecuteNonQuery();
        context.Command(Sql.DeleteMessage).Bind("@id", id).ExecuteNonQuery();
        context.Tier?.OnRemoved(id);
    }

    private static List<long> ReadIds(Microsoft.Data.Sqlite.SqliteCommand command)
    {
        var ids = new List<long>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }
}
