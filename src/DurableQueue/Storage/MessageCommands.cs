using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// The queue's writes, run on the writer thread inside the batch transaction. Shared by the queue handle and
/// the unit of work so that both change the queue in exactly the same way. Every settle is fenced by the lease
/// token: a row whose token differs is not touched.
/// </summary>
internal static class MessageCommands
{
    public static MessageId Enqueue(WriteContext context, long queueId, in PendingMessage message)
    {
        var command = context.Command(Sql.Insert)
            .Bind("@queue", queueId)
            .Bind("@priority", message.Priority)
            .Bind("@visible", message.VisibleAt(context.Now))
            .Bind("@now", context.Now)
            .Bind("@maxAttempts", message.MaxAttempts)
            .Bind("@dedup", message.DedupKey)
            .Bind("@headers", message.Headers)
            .Bind("@body", message.Body);
        if (command.ExecuteScalar() is long id)
        {
            return new MessageId(id);
        }

        // A live message has the same deduplication key: hand back its id and add nothing.
        var existing = context.Command(Sql.FindByDedupKey).Bind("@queue", queueId).Bind("@dedup", message.DedupKey).ExecuteScalar();
        return new MessageId((long)existing!);
    }

    /// <summary>Leases up to <paramref name="max"/> ready messages in delivery order.</summary>
    public static List<QueueMessage> Receive(WriteContext context, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt)
    {
        var ids = new List<long>(max);
        using (var reader = context.Command(Sql.SelectReady).Bind("@queue", queueId).Bind("@now", context.Now).Bind("@limit", max).ExecuteReader())
        {
            while (reader.Read())
            {
                ids.Add(reader.GetInt64(0));
            }
        }

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

        nextVisibleAt = messages.Count < max
            ? context.Command(Sql.NextVisible).Bind("@queue", queueId).Bind("@now", context.Now).ExecuteScalar() as long?
            : null;
        return messages;
    }

    /// <summary>Leases one message by id if it is still ready; returns null when someone else took it.</summary>
    public static QueueMessage? Lease(WriteContext context, string queueName, long id, Guid token, long until)
    {
        using var reader = context.Command(Sql.Lease)
            .Bind("@token", token.ToByteArray())
            .Bind("@until", until)
            .Bind("@id", id)
            .Bind("@now", context.Now)
            .ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        // RETURNING: priority, enqueued_at, attempts, max_attempts, headers, body, last_error
        return new QueueMessage(
            queueName,
            new MessageReceipt(new MessageId(id), token),
            reader.GetFieldValue<byte[]>(5),
            HeaderCodec.Decode(reader.IsDBNull(4) ? null : reader.GetString(4)),
            reader.GetInt32(0),
            reader.GetInt32(2),
            reader.GetInt32(3),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
            DateTimeOffset.FromUnixTimeMilliseconds(until),
            reader.IsDBNull(6) ? null : reader.GetString(6));
    }

    public static void Ack(WriteContext context, string queueName, MessageReceipt receipt)
    {
        if (context.Command(Sql.Ack).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).ExecuteNonQuery() == 0)
        {
            throw new LeaseLostException(queueName, receipt.Id);
        }
    }

    public static NackOutcome Nack(WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error)
    {
        var (attempts, maxAttempts) = LeaseAttempts(context, queueName, receipt);
        if (attempts >= maxAttempts)
        {
            MoveToDeadLetters(context, receipt.Id.Value, DeadLetterReasons.LastAttemptFailed, error);
            return NackOutcome.DeadLettered;
        }

        context.Command(Sql.Nack)
            .Bind("@visible", context.Now + retryAfterMs)
            .Bind("@error", error)
            .Bind("@id", receipt.Id.Value)
            .Bind("@token", receipt.Token.ToByteArray())
            .ExecuteNonQuery();
        return NackOutcome.Retrying;
    }

    public static long Extend(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs)
    {
        var until = context.Now + visibilityMs;
        if (context.Command(Sql.Extend).Bind("@until", until).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).ExecuteNonQuery() == 0)
        {
            throw new LeaseLostException(queueName, receipt.Id);
        }

        return until;
    }

    public static void DeadLetter(WriteContext context, string queueName, MessageReceipt receipt, string reason)
    {
        LeaseAttempts(context, queueName, receipt);
        MoveToDeadLetters(context, receipt.Id.Value, reason, error: null);
    }

    /// <summary>Hands a message back at once without spending the attempt (graceful shutdown).</summary>
    public static void Release(WriteContext context, string queueName, MessageReceipt receipt)
    {
        if (context.Command(Sql.Release).Bind("@now", context.Now).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).ExecuteNonQuery() == 0)
        {
            throw new LeaseLostException(queueName, receipt.Id);
        }
    }

    /// <summary>
    /// Dead-letters every lease on its last attempt that has expired: the last attempt failed at that moment,
    /// so the message leaves the queue now, not lazily on a later receive. Returns how many moved.
    /// </summary>
    public static int SweepExpiredFinalLeases(WriteContext context)
    {
        var ids = new List<long>();
        using (var reader = context.Command(Sql.ExpiredFinalLeases).Bind("@now", context.Now).ExecuteReader())
        {
            while (reader.Read())
            {
                ids.Add(reader.GetInt64(0));
            }
        }

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
        return true;
    }

    public static List<long> DeadLetterIds(WriteContext context, long queueId, long after, int limit)
    {
        var ids = new List<long>(limit);
        using var reader = context.Command(Sql.DeadLetterIds).Bind("@queue", queueId).Bind("@after", after).Bind("@limit", limit).ExecuteReader();
        while (reader.Read())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    public static int Purge(WriteContext context, long queueId, int limit) =>
        context.Command(Sql.Purge).Bind("@queue", queueId).Bind("@limit", limit).ExecuteNonQuery();

    public static int PurgeDeadLetters(WriteContext context, long queueId, int limit) =>
        context.Command(Sql.PurgeDeadLetters).Bind("@queue", queueId).Bind("@limit", limit).ExecuteNonQuery();

    private static (int Attempts, int MaxAttempts) LeaseAttempts(WriteContext context, string queueName, MessageReceipt receipt)
    {
        using var reader = context.Command(Sql.LeaseAttempts).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).ExecuteReader();
        if (!reader.Read())
        {
            throw new LeaseLostException(queueName, receipt.Id);
        }

        return (reader.GetInt32(0), reader.GetInt32(1));
    }

    private static void MoveToDeadLetters(WriteContext context, long id, string reason, string? error)
    {
        context.Command(Sql.CopyToDeadLetters).Bind("@error", error).Bind("@reason", reason).Bind("@now", context.Now).Bind("@id", id).ExecuteNonQuery();
        context.Command(Sql.DeleteMessage).Bind("@id", id).ExecuteNonQuery();
    }
}
