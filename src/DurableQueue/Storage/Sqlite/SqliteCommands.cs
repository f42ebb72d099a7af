using DurableQueue.BackPressure;
using DurableQueue.Memory;
using DurableQueue.Storage.Driver;

namespace DurableQueue.Storage.Sqlite;

/// <summary>
/// The queue's writes on SQLite, run on the writer thread inside the batch transaction. Shared by the queue handle
/// and the unit of work so that both change the queue in exactly the same way. Every settle is fenced by the lease
/// token: a row whose token differs is not touched. The memory tier, when on, is a layer over these statements
/// (<see cref="TieredCommands"/>) that uses the richer results of the <c>...Rows</c> methods; nothing here knows of it.
/// </summary>
internal sealed class SqliteCommands : IMessageCommands
{
    private static readonly byte[] s_emptyBody = [];

    private readonly long _enqueuePageLimit;
    private readonly Func<StorageFullException>? _quotaReached;

    /// <param name="enqueuePageLimit">Pages enqueues may fill (the quota less a reserve); 0 = no quota.</param>
    /// <param name="quotaReached">Makes the error an enqueue past the quota fails with.</param>
    public SqliteCommands(long enqueuePageLimit = 0, Func<StorageFullException>? quotaReached = null)
    {
        _enqueuePageLimit = enqueuePageLimit;
        _quotaReached = quotaReached;
    }

    public long QueueId(WriteContext context, string name)
    {
        context.Command(Sql.CreateQueue).Bind("@name", name).Bind("@now", context.Now).ExecuteNonQuery();
        return (long)context.Command(Sql.FindQueue).Bind("@name", name).ExecuteScalar()!;
    }

    public MessageId Enqueue(WriteContext context, long queueId, in PendingMessage message, out bool inserted)
    {
        // A live message with the same deduplication key: hand back its id and add nothing. Looked up before the
        // INSERT, whose conflict clause would still take a new id from the AUTOINCREMENT sequence.
        if (message.DedupKey is not null
            && context.Command(Sql.FindByDedupKey).Bind("@queue", queueId).Bind("@dedup", message.DedupKey).ExecuteScalar() is long live)
        {
            inserted = false;
            return new MessageId(live);
        }

        // A large body is written once to dq_bodies; the row, which every lease rewrites, holds its size only.
        // The hottest statement of all: bound and stepped through SQLitePCL directly (parameters by position, see Sql.Insert).
        var inRow = message.BodyInRow;
        var insert = ((SqliteWriteSession)context.Session).Statement(Sql.Insert);
        long? insertedId;
        try
        {
            RawStatement.Bind(insert, 1, queueId);
            RawStatement.Bind(insert, 2, message.Priority);
            RawStatement.Bind(insert, 3, message.VisibleAt(context.Now));
            RawStatement.Bind(insert, 4, context.Now);
            RawStatement.Bind(insert, 5, message.MaxAttempts);
            RawStatement.Bind(insert, 6, message.DedupKey);
            RawStatement.Bind(insert, 7, message.Headers);
            RawStatement.Bind(insert, 8, inRow ? message.Body : s_emptyBody);
            RawStatement.Bind(insert, 9, inRow ? null : (long?)message.Body.Length);
            insertedId = RawStatement.Step(insert) ? SQLitePCL.raw.sqlite3_column_int64(insert, 0) : null;
        }
        finally
        {
            RawStatement.Reset(insert);
        }

        if (insertedId is { } id)
        {
            if (!inRow)
            {
                context.Command(Sql.InsertBody).Bind("@id", id).Bind("@body", message.Body).ExecuteNonQuery();
            }

            inserted = true;
            return new MessageId(id);
        }

        // A live message has the same deduplication key: hand back its id and add nothing.
        inserted = false;
        var existing = context.Command(Sql.FindByDedupKey).Bind("@queue", queueId).Bind("@dedup", message.DedupKey).ExecuteScalar();
        return new MessageId((long)existing!);
    }

    public List<QueueMessage> Receive(WriteContext context, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt)
    {
        var ids = ReadIds(context.Command(Sql.SelectReady).Bind("@queue", queueId).Bind("@now", context.Now).Bind("@limit", max));
        var messages = new List<QueueMessage>(ids.Count);
        if (ids.Count > 0)
        {
            var token = context.NewLeaseToken();
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

    /// <summary>Ready ids of one priority lane past a bound (visible_at, id), in delivery order: the tier's read past its cached prefix.</summary>
    public List<long> ReadyPastBound(WriteContext context, long queueId, int priority, long boundVisible, long boundId, int limit) =>
        ReadIds(context.Command(Sql.SelectReadyPastBound)
            .Bind("@queue", queueId)
            .Bind("@priority", priority)
            .Bind("@now", context.Now)
            .Bind("@boundVisible", boundVisible)
            .Bind("@boundId", boundId)
            .Bind("@limit", limit));

    /// <summary>The next time a message of the queue becomes ready, or null.</summary>
    public long? NextVisible(WriteContext context, long queueId) =>
        context.Command(Sql.NextVisible).Bind("@queue", queueId).Bind("@now", context.Now).ExecuteScalar() as long?;

    /// <summary>
    /// Leases one message by id if it is still ready (a guarded UPDATE by primary key); returns null when someone else
    /// took it. With a cached entry that holds the body, the UPDATE returns no body or headers: they come from memory.
    /// </summary>
    public QueueMessage? Lease(WriteContext context, string queueName, long id, Guid token, long until, CachedMessage? cached = null)
    {
        // One per leased message: bound and read through SQLitePCL directly (parameters by position, see Sql.Lease).
        var fromMemory = cached?.Body is not null;
        var lease = ((SqliteWriteSession)context.Session).Statement(fromMemory ? Sql.LeaseSlim : Sql.Lease);
        Span<byte> tokenBytes = stackalloc byte[16];
        token.TryWriteBytes(tokenBytes);
        try
        {
            RawStatement.Bind(lease, 1, tokenBytes);
            RawStatement.Bind(lease, 2, until);
            RawStatement.Bind(lease, 3, id);
            RawStatement.Bind(lease, 4, context.Now);
            if (!RawStatement.Step(lease))
            {
                return null;
            }

            // RETURNING: priority, enqueued_at, attempts, max_attempts, last_error[, headers, body, body_size]
            byte[] body;
            string? headers;
            if (fromMemory)
            {
                body = cached!.Body!;
                headers = cached.Headers;
            }
            else
            {
                headers = RawStatement.Text(lease, 5);
                body = RawStatement.IsNull(lease, 7) ? RawStatement.Blob(lease, 6) : BodyApart(context, id);
            }

            return new QueueMessage(
                queueName,
                new MessageReceipt(new MessageId(id), token),
                body,
                HeaderCodec.Decode(headers),
                (int)SQLitePCL.raw.sqlite3_column_int64(lease, 0),
                (int)SQLitePCL.raw.sqlite3_column_int64(lease, 2),
                (int)SQLitePCL.raw.sqlite3_column_int64(lease, 3),
                DateTimeOffset.FromUnixTimeMilliseconds(SQLitePCL.raw.sqlite3_column_int64(lease, 1)),
                DateTimeOffset.FromUnixTimeMilliseconds(until),
                RawStatement.Text(lease, 4));
        }
        finally
        {
            RawStatement.Reset(lease);
        }
    }

    /// <summary>Reads a body kept apart from its row (written once at enqueue; the lease did not touch it).</summary>
    private static byte[] BodyApart(WriteContext context, long id) =>
        (byte[])context.Command(Sql.SelectBody).Bind("@id", id).ExecuteScalar()!;

    public MessageId[] EnqueueMany(WriteContext context, IReadOnlyList<(long QueueId, PendingMessage Message)> messages) =>
        OneByOne.EnqueueMany(this, context, messages);

    public bool[] TryAckMany(WriteContext context, IReadOnlyList<(string QueueName, MessageReceipt Receipt)> receipts) =>
        OneByOne.TryAckMany(this, context, receipts);

    public void Ack(WriteContext context, string queueName, MessageReceipt receipt)
    {
        // One per message: bound through SQLitePCL directly (parameters by position, see Sql.Ack).
        var ack = ((SqliteWriteSession)context.Session).Statement(Sql.Ack);
        Span<byte> token = stackalloc byte[16];
        receipt.Token.TryWriteBytes(token);
        int deleted;
        try
        {
            RawStatement.Bind(ack, 1, receipt.Id.Value);
            RawStatement.Bind(ack, 2, token);
            RawStatement.Bind(ack, 3, queueName);
            RawStatement.Step(ack);
            deleted = SQLitePCL.raw.sqlite3_changes(SQLitePCL.raw.sqlite3_db_handle(ack));
        }
        finally
        {
            RawStatement.Reset(ack);
        }

        if (deleted == 0)
        {
            throw LeaseNotFound(context, queueName, receipt);
        }
    }

    public NackOutcome Nack(WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error) =>
        NackRow(context, queueName, receipt, retryAfterMs, error).Outcome;

    /// <summary>The nack, with where the row went: (outcome, queue id, priority, new visible_at).</summary>
    public (NackOutcome Outcome, long QueueId, int Priority, long VisibleAt) NackRow(
        WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error)
    {
        var lease = LeaseOf(context, queueName, receipt);
        if (lease.Attempts >= lease.MaxAttempts)
        {
            MoveToDeadLetters(context, receipt.Id.Value, DeadLetterReasons.LastAttemptFailed, error);
            return (NackOutcome.DeadLettered, lease.QueueId, lease.Priority, 0);
        }

        var visibleAt = context.Now + retryAfterMs;
        context.Command(Sql.Nack)
            .Bind("@visible", visibleAt)
            .Bind("@error", error)
            .Bind("@id", receipt.Id.Value)
            .Bind("@token", receipt.Token.ToByteArray())
            .ExecuteNonQuery();
        return (NackOutcome.Retrying, lease.QueueId, lease.Priority, visibleAt);
    }

    public long Extend(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs) =>
        ExtendRow(context, queueName, receipt, visibilityMs).VisibleAt;

    /// <summary>The extension, with the row's (queue id, priority, new expiry).</summary>
    public (long QueueId, int Priority, long VisibleAt) ExtendRow(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs)
    {
        var until = context.Now + visibilityMs;
        var command = context.Command(Sql.Extend).Bind("@until", until).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).Bind("@name", queueName);
        var (queueId, priority) = Rekeyed(context, queueName, receipt, command);
        return (queueId, priority, until);
    }

    public void DeadLetter(WriteContext context, string queueName, MessageReceipt receipt, string reason)
    {
        LeaseOf(context, queueName, receipt);
        MoveToDeadLetters(context, receipt.Id.Value, reason, error: null);
    }

    public void Release(WriteContext context, string queueName, MessageReceipt receipt) => ReleaseRow(context, queueName, receipt);

    /// <summary>The release, with the row's (queue id, priority); it is ready at <see cref="WriteContext.Now"/>.</summary>
    public (long QueueId, int Priority) ReleaseRow(WriteContext context, string queueName, MessageReceipt receipt)
    {
        var command = context.Command(Sql.Release).Bind("@now", context.Now).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).Bind("@name", queueName);
        return Rekeyed(context, queueName, receipt, command);
    }

    private static (long QueueId, int Priority) Rekeyed(WriteContext context, string queueName, MessageReceipt receipt, Microsoft.Data.Sqlite.SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            reader.Close();
            throw LeaseNotFound(context, queueName, receipt);
        }

        // RETURNING queue_id, priority
        return (reader.GetInt64(0), reader.GetInt32(1));
    }

    public int SweepExpiredFinalLeases(WriteContext context) => SweepRows(context).Count;

    /// <summary>
    /// Dead-letters every lease on its last attempt that has expired: the last attempt failed at that moment,
    /// so the message leaves the queue now, not lazily on a later receive. Returns the ids that moved.
    /// </summary>
    public List<long> SweepRows(WriteContext context)
    {
        var ids = ReadIds(context.Command(Sql.ExpiredFinalLeases).Bind("@now", context.Now));
        foreach (var id in ids)
        {
            MoveToDeadLetters(context, id, DeadLetterReasons.LastLeaseExpired, error: null);
        }

        return ids;
    }

    public long? NextFinalLeaseExpiry(WriteContext context) =>
        context.Command(Sql.NextFinalLeaseExpiry).ExecuteScalar() as long?;

    public bool RequeueDeadLetter(WriteContext context, long queueId, long id)
    {
        if (context.Command(Sql.Requeue).Bind("@now", context.Now).Bind("@id", id).Bind("@queue", queueId).ExecuteNonQuery() == 0)
        {
            return false;
        }

        context.Command(Sql.DeleteDeadLetter).Bind("@id", id).Bind("@queue", queueId).ExecuteNonQuery();
        return true;
    }

    public List<long> DeadLetterIds(WriteContext context, long queueId, long after, int limit) =>
        ReadIds(context.Command(Sql.DeadLetterIds).Bind("@queue", queueId).Bind("@after", after).Bind("@limit", limit));

    public int Purge(WriteContext context, long queueId, int limit) =>
        context.Command(Sql.Purge).Bind("@queue", queueId).Bind("@limit", limit).ExecuteNonQuery();

    public bool DeleteLive(WriteContext context, long queueId, long id) =>
        context.Command(Sql.DeleteQueueMessage).Bind("@id", id).Bind("@queue", queueId).ExecuteNonQuery() != 0;

    public int PurgeDeadLetters(WriteContext context, long queueId, int limit) =>
        context.Command(Sql.PurgeDeadLetters).Bind("@queue", queueId).Bind("@limit", limit).ExecuteNonQuery();

    public QueueStatsRow QueueStats(WriteContext context, long queueId)
    {
        using var reader = context.Command(Sql.QueueStats).Bind("@queue", queueId).ExecuteReader();
        return reader.Read()
            ? new QueueStatsRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : default;
    }

    public IEnumerable<(long Id, long Bytes)> DroppableOldest(WriteContext context, long queueId)
    {
        using var reader = context.Command(Sql.DroppableOldest).Bind("@queue", queueId).Bind("@now", context.Now).Bind("@limit", -1L).ExecuteReader();
        while (reader.Read())
        {
            yield return (reader.GetInt64(0), reader.GetInt64(1));
        }
    }

    public void DeleteMessage(WriteContext context, long id) => context.Command(Sql.DeleteMessage).Bind("@id", id).ExecuteNonQuery();

    public void CheckQuota(WriteContext context)
    {
        if (_enqueuePageLimit != 0 && (long)context.Command(Sql.UsedPageCount).ExecuteScalar()! > _enqueuePageLimit)
        {
            throw _quotaReached!();
        }
    }

    public void StoreQueueSettings(WriteContext context, string queueName, QueueOptions options) =>
        context.Command(Sql.StoreQueueSettings)
            .Bind("@name", queueName)
            .Bind("@visibility", QueueSettingsCodec.Milliseconds(options.VisibilityTimeout))
            .Bind("@maxAttempts", options.MaxAttempts)
            .Bind("@maxMessages", options.MaxMessages)
            .Bind("@maxBytes", options.MaxBytes)
            .Bind("@fullMode", options.FullMode.ToString())
            .Bind("@fullWait", options.FullWaitTimeout is { } wait ? QueueSettingsCodec.Milliseconds(wait) : null)
            .Bind("@now", context.Now)
            .ExecuteNonQuery();

    private static (int Attempts, int MaxAttempts, long QueueId, int Priority) LeaseOf(WriteContext context, string queueName, MessageReceipt receipt)
    {
        using var reader = context.Command(Sql.LeaseAttempts)
            .Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).Bind("@name", queueName).ExecuteReader();
        if (!reader.Read())
        {
            reader.Close();
            throw LeaseNotFound(context, queueName, receipt);
        }

        return (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt32(3));
    }

    /// <summary>
    /// The error for a settle that matched no row of the queue: the lease was lost, unless the receipt's lease is alive in
    /// another queue, which is a programming error (a settle through the wrong queue handle) and changed nothing either.
    /// </summary>
    private static Exception LeaseNotFound(WriteContext context, string queueName, MessageReceipt receipt) =>
        context.Command(Sql.LeaseQueueName).Bind("@id", receipt.Id.Value).Bind("@token", receipt.Token.ToByteArray()).ExecuteScalar() is string other
            ? new ArgumentException(ErrorMessages.WrongQueue(receipt.Id, other, queueName), nameof(receipt))
            : new LeaseLostException(queueName, receipt.Id);

    private static void MoveToDeadLetters(WriteContext context, long id, string reason, string? error)
    {
        context.Command(Sql.CopyToDeadLetters).Bind("@error", error).Bind("@reason", reason).Bind("@now", context.Now).Bind("@id", id).ExecuteNonQuery();
        context.Command(Sql.DeleteMessage).Bind("@id", id).ExecuteNonQuery();
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
