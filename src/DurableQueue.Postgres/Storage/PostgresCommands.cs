using System.Collections.Concurrent;
using DurableQueue.BackPressure;
using DurableQueue.Storage;
using DurableQueue.Storage.Driver;
using Npgsql;
using NpgsqlTypes;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// The queue's writes on PostgreSQL, run by the store's writer inside its batch transaction. Unlike a SQLite file,
/// other hosts write the same rows at the same time, so every step that depends on an earlier one holds a row lock
/// (FOR UPDATE) or is one statement, and every fenced change checks that it changed a row: a settle whose token no
/// longer matches throws <see cref="LeaseLostException"/> and changes nothing.
/// </summary>
internal sealed class PostgresCommands : IMessageCommands
{
    private readonly PostgresSql _sql;
    private readonly int _admissionLockClass;

    // Queue names by id, for the wake-ups (NOTIFY carries the name); filled by QueueId, which the writer (and an
    // outbox enqueue) calls first for every queue it touches.
    private readonly ConcurrentDictionary<long, string> _names = new();

    // Messages that left each queue through this store, counted after the commit: the drain-rate samples of bounded
    // queues. (A SQLite file counts every process's removals in a trigger-kept row; here one row updated by every ack
    // of every host would serialise them, so each store counts what it removed itself.)
    private readonly ConcurrentDictionary<long, long> _removed = new();

    // When the sweep of expired last-attempt leases must next run (unix ms), whether a read asked for one, and when it
    // last ran: see SweepExpiredFinalLeases.
    private const long FullSweepIntervalMs = 1000;
    private long _sweepDueAt = long.MinValue;
    private int _sweepRequested;
    private long _lastSweep = long.MinValue / 2;

    /// <summary>Returns how many messages left a queue through this store since it opened.</summary>
    public long RemovedTotal(long queueId) => _removed.TryGetValue(queueId, out var n) ? n : 0;

    public PostgresCommands(PostgresSql sql)
    {
        _sql = sql;
        _admissionLockClass = PostgresSchema.AdmissionLockClass(sql.Schema);
    }

    /// <summary>Returns the id of a queue, creating its row if needed (two hosts may create it at once: the unique name decides).</summary>
    public long QueueId(WriteContext context, string name)
    {
        var id = QueueId(Session(context), context.Now, name);
        _names[id] = name;
        return id;
    }

    public long QueueId(PostgresWriteSession session, long now, string name)
    {
        if (session.ExecuteScalar(_sql.FindQueue, Text(name)) is long id)
        {
            return id;
        }

        if (session.ExecuteScalar(_sql.CreateQueue, Text(name), Int64(now)) is long created)
        {
            return created;
        }

        // Another host created it after our first look and committed; a new statement sees it.
        return (long)session.ExecuteScalar(_sql.FindQueue, Text(name))!;
    }

    public MessageId Enqueue(WriteContext context, long queueId, in PendingMessage message, out bool inserted) =>
        Enqueue(Session(context), context.Now, NameOf(queueId), queueId, message, out inserted);

    public MessageId Enqueue(PostgresWriteSession session, long now, string queueName, long queueId, in PendingMessage message, out bool inserted)
    {
        var visibleAt = message.VisibleAt(now);
        session.NotifyOnCommit(queueName);
        inserted = true;
        if (message.DedupKey is null)
        {
            return new MessageId((long)session.ExecuteScalar(_sql.Insert, InsertParameters(now, queueId, message, visibleAt))!);
        }

        // A live message with the key is looked up first: the INSERT's conflict clause would still draw an id from the
        // identity sequence, so a deduplicated enqueue would use one.
        if (session.ExecuteScalar(_sql.FindByDedupKey, Int64(queueId), Text(message.DedupKey)) is long live)
        {
            inserted = false;
            return new MessageId(live);
        }

        // With a key: a live message with the same key wins and its id comes back. The INSERT waits for a host that is
        // inserting the same key right now; if that host's message is gone again by the time we look, insert again.
        while (true)
        {
            if (session.ExecuteScalar(_sql.InsertDedup, InsertParameters(now, queueId, message, visibleAt)) is long id)
            {
                return new MessageId(id);
            }

            if (session.ExecuteScalar(_sql.FindByDedupKey, Int64(queueId), Text(message.DedupKey)) is long existing)
            {
                inserted = false;
                return new MessageId(existing);
            }
        }
    }

    /// <summary>
    /// Inserts messages without deduplication keys with one statement; their ids come back in the order given (the rows
    /// are inserted in that order, so the identity values ascend with it).
    /// </summary>
    public MessageId[] EnqueueMany(WriteContext context, IReadOnlyList<(long QueueId, PendingMessage Message)> messages)
    {
        var session = Session(context);
        var now = context.Now;
        var count = messages.Count;
        var queueIds = new long[count];
        var priorities = new short[count];
        var visibleAt = new long[count];
        var maxAttempts = new int[count];
        var headers = new string?[count];
        var bodies = new byte[count][];
        long notified = 0;
        for (var i = 0; i < count; i++)
        {
            var (queueId, message) = messages[i];
            if (message.DedupKey is not null)
            {
                throw new ArgumentException("Only messages without a deduplication key are inserted together.", nameof(messages));
            }

            queueIds[i] = queueId;
            priorities[i] = (short)message.Priority;
            visibleAt[i] = message.VisibleAt(now);
            maxAttempts[i] = message.MaxAttempts;
            headers[i] = message.Headers;
            bodies[i] = message.Body;
            if (queueId != notified)
            {
                session.NotifyOnCommit(NameOf(queueId));
                notified = queueId;
            }
        }

        // One message: the plain INSERT (prepared once, like every single enqueue's).
        var (sql, parameters) = count == 1
            ? (_sql.Insert, InsertParameters(now, queueIds[0], messages[0].Message, visibleAt[0]))
            : (_sql.InsertMany, new NpgsqlParameter[]
            {
                new NpgsqlParameter<long[]> { TypedValue = queueIds },
                new NpgsqlParameter<short[]> { TypedValue = priorities },
                new NpgsqlParameter<long[]> { TypedValue = visibleAt },
                Int64(now),
                new NpgsqlParameter<int[]> { TypedValue = maxAttempts },
                new NpgsqlParameter<string?[]> { TypedValue = headers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                new NpgsqlParameter<byte[][]> { TypedValue = bodies, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea },
            });
        var result = new MessageId[count];
        if (context.DeferToCommit)
        {
            // Sent with the COMMIT; the ids are filled in when it ran, before the callers complete.
            session.ExecuteAtCommit(sql, parameters, reader => FillIds(reader, result));
        }
        else
        {
            using var reader = session.ExecuteReader(sql, parameters);
            FillIds(reader, result);
        }

        return result;
    }

    private static void FillIds(NpgsqlDataReader reader, MessageId[] result)
    {
        var ids = new List<long>(result.Length);
        while (reader.Read())
        {
            ids.Add(reader.GetInt64(0));
        }

        if (ids.Count != result.Length)
        {
            throw new InvalidOperationException($"Inserting {result.Length} messages returned {ids.Count} ids.");
        }

        // The rows were inserted in the order given, so their identity values ascend with it.
        ids.Sort();
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new MessageId(ids[i]);
        }
    }

    /// <summary>
    /// Acks several receipts with one statement, each fenced by its token and queue as <see cref="Ack(WriteContext, string, MessageReceipt)"/>
    /// is; returns which were deleted (a receipt that matched nothing changed nothing).
    /// </summary>
    public bool[] TryAckMany(WriteContext context, IReadOnlyList<(string QueueName, MessageReceipt Receipt)> receipts)
    {
        var count = receipts.Count;
        var ids = new long[count];
        var tokens = new Guid[count];
        var names = new string[count];
        var positions = new Dictionary<long, int>(count);
        for (var i = 0; i < count; i++)
        {
            ids[i] = receipts[i].Receipt.Id.Value;
            tokens[i] = receipts[i].Receipt.Token;
            names[i] = receipts[i].QueueName;
            if (!positions.TryAdd(ids[i], i))
            {
                throw new ArgumentException($"Message {ids[i]} is acked twice.", nameof(receipts));
            }
        }

        var acked = new bool[count];
        var session = Session(context);
        if (context.DeferToCommit && count > 0)
        {
            // Sent with the COMMIT, which fails unless every receipt matched: all of them are acked, or none. The
            // settings (see PostgresSql.PreferIndexes) go first in that round trip, and the transaction's end takes
            // them away.
            session.PreferIndexesUntilCommit();
            session.ExecuteAtCommit(
                _sql.AckManyAll,
                [
                    new NpgsqlParameter<long[]> { TypedValue = ids },
                    new NpgsqlParameter<Guid[]> { TypedValue = tokens },
                    new NpgsqlParameter<string[]> { TypedValue = names, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                    Int64(count),
                ],
                reader =>
                {
                    // (A row of nulls would come back only for no receipts, which never get here.)
                    while (reader.Read())
                    {
                        Removed(context, reader.GetInt64(1));
                    }
                });
            Array.Fill(acked, true);
            return acked;
        }

        // In the request's savepoint, if it has one: rolling back to it takes the settings back too.
        session.SendWithNext(_sql.PreferIndexes);
        using (var reader = session.ExecuteReader(
            _sql.AckMany,
            new NpgsqlParameter<long[]> { TypedValue = ids },
            new NpgsqlParameter<Guid[]> { TypedValue = tokens },
            new NpgsqlParameter<string[]> { TypedValue = names, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text }))
        {
            while (reader.Read())
            {
                acked[positions[reader.GetInt64(0)]] = true;
                Removed(context, reader.GetInt64(1));
            }
        }

        session.SendWithNext(_sql.PlannerDefault);
        return acked;
    }

    /// <summary>
    /// Leases up to <paramref name="max"/> ready messages in delivery order with one statement; rows another host is
    /// leasing or settling right now are skipped (FOR UPDATE SKIP LOCKED), so hosts never wait for each other here.
    /// </summary>
    public List<QueueMessage> Receive(WriteContext context, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt) =>
        Receive(Session(context), context.Now, queueName, queueId, max, visibilityMs, context.NewLeaseToken(), out nextVisibleAt);

    /// <summary>The lease and the look at the next ready time, sent with the COMMIT; <paramref name="leased"/> gets them when they ran.</summary>
    public void ReceiveAtCommit(
        WriteContext context, string queueName, long queueId, int max, long visibilityMs, Action<List<QueueMessage>, long?> leased)
    {
        var session = Session(context);
        var now = context.Now;
        var until = now + visibilityMs;
        var token = context.NewLeaseToken();
        List<(long VisibleAt, QueueMessage Message)>? rows = null;
        session.ExecuteAtCommit(
            _sql.Lease,
            [Int64(queueId), Int64(now), Int32(max), Uuid(token), Int64(until)],
            reader => rows = ReadLeased(reader, queueName, token, until, max));
        session.ExecuteAtCommit(
            _sql.NextVisible,
            [Int64(queueId), Int64(now)],
            reader =>
            {
                long? next = reader.Read() && !reader.IsDBNull(0) ? reader.GetInt64(0) : null;
                var messages = InDeliveryOrder(rows!);
                leased(messages, messages.Count < max ? next : null);
            });
    }

    public List<QueueMessage> Receive(
        PostgresWriteSession session, long now, string queueName, long queueId, int max, long visibilityMs, Guid token, out long? nextVisibleAt)
    {
        var until = now + visibilityMs;
        List<(long VisibleAt, QueueMessage Message)> rows;
        long? next;
        // One round trip: the lease, then the next time a message of the queue becomes ready (seen after the lease).
        using (var reader = session.ExecuteReader(
            (_sql.Lease, [Int64(queueId), Int64(now), Int32(max), Uuid(token), Int64(until)]),
            (_sql.NextVisible, [Int64(queueId), Int64(now)])))
        {
            rows = ReadLeased(reader, queueName, token, until, max);
            reader.NextResult();
            next = reader.Read() && !reader.IsDBNull(0) ? reader.GetInt64(0) : null;
        }

        var messages = InDeliveryOrder(rows);
        nextVisibleAt = messages.Count < max ? next : null;
        return messages;
    }

    private List<(long VisibleAt, QueueMessage Message)> ReadLeased(NpgsqlDataReader reader, string queueName, Guid token, long until, int max)
    {
        var rows = new List<(long VisibleAt, QueueMessage Message)>(Math.Min(max, 64));
        // RETURNING id, priority, enqueued_at, attempts, max_attempts, last_error, headers, body, old visible_at
        while (reader.Read())
        {
            var message = new QueueMessage(
                queueName,
                new MessageReceipt(new MessageId(reader.GetInt64(0)), token),
                reader.GetFieldValue<byte[]>(7),
                HeaderCodec.Decode(reader.IsDBNull(6) ? null : reader.GetString(6)),
                reader.GetInt16(1),
                reader.GetInt32(3),
                reader.GetInt32(4),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                DateTimeOffset.FromUnixTimeMilliseconds(until),
                reader.IsDBNull(5) ? null : reader.GetString(5));
            rows.Add((reader.GetInt64(8), message));
            if (message.Attempt >= message.MaxAttempts)
            {
                // A lease on its last attempt: the sweep is due when it expires.
                SweepDueBy(until);
            }
        }

        return rows;
    }

    /// <summary>Puts leased rows in delivery order (RETURNING has no order of its own).</summary>
    private static List<QueueMessage> InDeliveryOrder(List<(long VisibleAt, QueueMessage Message)> rows)
    {
        rows.Sort(static (a, b) =>
        {
            var byPriority = a.Message.Priority.CompareTo(b.Message.Priority);
            if (byPriority != 0)
            {
                return byPriority;
            }

            var byVisible = a.VisibleAt.CompareTo(b.VisibleAt);
            return byVisible != 0 ? byVisible : a.Message.Id.Value.CompareTo(b.Message.Id.Value);
        });

        return rows.ConvertAll(r => r.Message);
    }

    public void Ack(WriteContext context, string queueName, MessageReceipt receipt) =>
        Removed(context, Ack(Session(context), queueName, receipt));

    /// <summary>Deletes the leased message; returns its queue id.</summary>
    public long Ack(PostgresWriteSession session, string queueName, MessageReceipt receipt) =>
        session.ExecuteScalar(_sql.Ack, Int64(receipt.Id.Value), Uuid(receipt.Token), Text(queueName)) as long? ?? throw LeaseNotFound(session, queueName, receipt);

    public NackOutcome Nack(WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error)
    {
        var (attempts, maxAttempts) = LockLease(Session(context), queueName, receipt);
        if (attempts >= maxAttempts)
        {
            Removed(context, MoveLeasedToDeadLetters(Session(context), context.Now, queueName, receipt, DeadLetterReasons.LastAttemptFailed, error));
            return NackOutcome.DeadLettered;
        }

        return NackLocked(Session(context), context.Now, queueName, receipt, retryAfterMs, error);
    }

    private NackOutcome NackLocked(PostgresWriteSession session, long now, string queueName, MessageReceipt receipt, long retryAfterMs, string? error)
    {
        // The row is locked by this transaction since LockLease: the token still matches.
        session.ExecuteNonQuery(_sql.Nack, Int64(receipt.Id.Value), Uuid(receipt.Token), Int64(now + retryAfterMs), NullableText(error));
        session.NotifyOnCommit(queueName);
        return NackOutcome.Retrying;
    }

    public long Extend(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs) =>
        Extend(Session(context), context.Now, queueName, receipt, visibilityMs);

    public long Extend(PostgresWriteSession session, long now, string queueName, MessageReceipt receipt, long visibilityMs)
    {
        var until = now + visibilityMs;
        if (session.ExecuteNonQuery(_sql.Extend, Int64(receipt.Id.Value), Uuid(receipt.Token), Int64(until), Text(queueName)) == 0)
        {
            throw LeaseNotFound(session, queueName, receipt);
        }

        return until;
    }

    public void DeadLetter(WriteContext context, string queueName, MessageReceipt receipt, string reason) =>
        Removed(context, MoveLeasedToDeadLetters(Session(context), context.Now, queueName, receipt, reason, error: null));

    public void Release(WriteContext context, string queueName, MessageReceipt receipt) => Release(Session(context), context.Now, queueName, receipt);

    /// <summary>Hands a message back at once without spending the attempt (graceful shutdown).</summary>
    public void Release(PostgresWriteSession session, long now, string queueName, MessageReceipt receipt)
    {
        if (session.ExecuteNonQuery(_sql.Release, Int64(receipt.Id.Value), Uuid(receipt.Token), Int64(now), Text(queueName)) == 0)
        {
            throw LeaseNotFound(session, queueName, receipt);
        }

        session.NotifyOnCommit(queueName);
    }

    /// <summary>
    /// Dead-letters expired leases on their last attempt, of every queue, up to 1000 per call; rows another host is
    /// changing right now are left to that host or a later sweep. Returns how many moved.
    /// </summary>
    /// <summary>
    /// Dead-letters expired last-attempt leases. The writer asks at the start of every batch; the statement runs only
    /// when a known last-attempt lease is due, when a read saw one expired, or once a second (for leases other hosts
    /// granted), so a busy writer does not spend a round trip per batch on it.
    /// </summary>
    public int SweepExpiredFinalLeases(WriteContext context)
    {
        var now = context.Now;
        if (Interlocked.Exchange(ref _sweepRequested, 0) == 0 && now < Interlocked.Read(ref _sweepDueAt) && now - _lastSweep < FullSweepIntervalMs)
        {
            return 0;
        }

        _lastSweep = now;
        var session = Session(context);
        var queues = ReadIds(session.ExecuteReader(_sql.SweepExpiredFinalLeases, Int64(now), Text(DeadLetterReasons.LastLeaseExpired)));
        foreach (var queueId in queues)
        {
            Removed(context, queueId);
        }

        Interlocked.Exchange(ref _sweepDueAt, NextFinalLeaseExpiry(session) ?? long.MaxValue);
        return queues.Count;
    }

    /// <summary>Returns whether <see cref="SweepExpiredFinalLeases"/> would run its statement at <paramref name="now"/>.</summary>
    public bool SweepWanted(long now) =>
        Volatile.Read(ref _sweepRequested) != 0 || now >= Interlocked.Read(ref _sweepDueAt) || now - Volatile.Read(ref _lastSweep) >= FullSweepIntervalMs;

    /// <summary>Makes the next batch run the sweep (a read found an expired last-attempt lease).</summary>
    public void RequestSweep() => Interlocked.Exchange(ref _sweepRequested, 1);

    private void SweepDueBy(long dueAt)
    {
        var current = Interlocked.Read(ref _sweepDueAt);
        while (dueAt < current)
        {
            var seen = Interlocked.CompareExchange(ref _sweepDueAt, dueAt, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    public long? NextFinalLeaseExpiry(WriteContext context)
    {
        var next = NextFinalLeaseExpiry(Session(context));
        if (next is { } due)
        {
            SweepDueBy(due);
        }

        return next;
    }

    public long? NextFinalLeaseExpiry(PostgresWriteSession session) => session.ExecuteScalar(_sql.NextFinalLeaseExpiry) as long?;

    public bool RequeueDeadLetter(WriteContext context, long queueId, long id) =>
        RequeueDeadLetter(Session(context), context.Now, NameOf(queueId), queueId, id);

    public bool RequeueDeadLetter(PostgresWriteSession session, long now, string queueName, long queueId, long id)
    {
        // Locks the dead letter: two hosts requeueing it at once move it once.
        if (session.ExecuteScalar(_sql.LockDeadLetter, Int64(id), Int64(queueId)) is not bool hasKey)
        {
            return false;
        }

        var inserted = hasKey
            ? session.ExecuteScalar(_sql.RequeueWithKey, Int64(id), Int64(queueId), Int64(now)) is long
            : session.ExecuteNonQuery(_sql.RequeueWithoutKey, Int64(id), Int64(queueId), Int64(now)) == 1;
        if (!inserted)
        {
            // A live message holds its deduplication key now: move it back without the key rather than lose it.
            session.ExecuteNonQuery(_sql.RequeueWithoutKey, Int64(id), Int64(queueId), Int64(now));
        }

        session.ExecuteNonQuery(_sql.DeleteDeadLetter, Int64(id), Int64(queueId));
        session.NotifyOnCommit(queueName);
        return true;
    }

    public List<long> DeadLetterIds(WriteContext context, long queueId, long after, int limit) =>
        DeadLetterIds(Session(context), queueId, after, limit);

    public List<long> DeadLetterIds(PostgresWriteSession session, long queueId, long after, int limit) =>
        ReadIds(session.ExecuteReader(_sql.DeadLetterIds, Int64(queueId), Int64(after), Int32(limit)));

    public int Purge(WriteContext context, long queueId, int limit)
    {
        var purged = Purge(Session(context), queueId, limit);
        Removed(context, queueId, purged);
        return purged;
    }

    public int Purge(PostgresWriteSession session, long queueId, int limit) =>
        session.ExecuteNonQuery(_sql.Purge, Int64(queueId), Int32(limit));

    public void StoreQueueSettings(WriteContext context, string queueName, QueueOptions options) =>
        Session(context).ExecuteNonQuery(
            _sql.StoreQueueSettings,
            Text(queueName),
            Int64(QueueSettingsCodec.Milliseconds(options.VisibilityTimeout)),
            Int32(options.MaxAttempts),
            NullableInt64(options.MaxMessages),
            NullableInt64(options.MaxBytes),
            Text(options.FullMode.ToString()),
            NullableInt64(options.FullWaitTimeout is { } wait ? QueueSettingsCodec.Milliseconds(wait) : null),
            Int64(context.Now));

    public bool DeleteLive(WriteContext context, long queueId, long id)
    {
        var deleted = Session(context).ExecuteNonQuery(_sql.DeleteQueueMessage, Int64(id), Int64(queueId)) != 0;
        Removed(context, queueId, deleted ? 1 : 0);
        return deleted;
    }

    public int PurgeDeadLetters(WriteContext context, long queueId, int limit) => PurgeDeadLetters(Session(context), queueId, limit);

    public int PurgeDeadLetters(PostgresWriteSession session, long queueId, int limit) =>
        session.ExecuteNonQuery(_sql.PurgeDeadLetters, Int64(queueId), Int32(limit));

    /// <summary>
    /// Takes the queue's admission lock for the rest of the transaction, then counts the queue: admissions to one
    /// bounded queue run one at a time across hosts, so a bound holds even with many producers on many hosts.
    /// Returns (messages, bytes, dead letters, removed total hint).
    /// </summary>
    public QueueStatsRow QueueStats(WriteContext context, long queueId) => QueueStats(Session(context), queueId);

    public QueueStatsRow QueueStats(PostgresWriteSession session, long queueId)
    {
        session.ExecuteNonQuery(_sql.LockQueueForAdmission, Int32(_admissionLockClass), Int32(unchecked((int)queueId)));
        using var reader = session.ExecuteReader(_sql.QueueStats, Int64(queueId));
        return reader.Read()
            ? new QueueStatsRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), RemovedTotal(queueId))
            : new QueueStatsRow(0, 0, 0, RemovedTotal(queueId));
    }

    public IEnumerable<(long Id, long Bytes)> DroppableOldest(WriteContext context, long queueId) =>
        DroppableOldest(Session(context), queueId, context.Now);

    public IEnumerable<(long Id, long Bytes)> DroppableOldest(PostgresWriteSession session, long queueId, long now)
    {
        using var reader = session.ExecuteReader(_sql.DroppableOldest, Int64(queueId), Int64(now));
        while (reader.Read())
        {
            yield return (reader.GetInt64(0), reader.GetInt32(1));
        }
    }

    public void DeleteMessage(WriteContext context, long id)
    {
        if (Session(context).ExecuteScalar(_sql.DeleteMessage, Int64(id)) is long queueId)
        {
            Removed(context, queueId);
        }
    }

    /// <summary>Does nothing: a PostgreSQL store has no database quota (the server's administrator sizes the disk).</summary>
    public void CheckQuota(WriteContext context)
    {
    }

    private static PostgresWriteSession Session(WriteContext context) => (PostgresWriteSession)context.Session;

    // A queue id the writer has not resolved by name in this process (a dead letter requeued by id): wake every queue.
    private string NameOf(long queueId) => _names.TryGetValue(queueId, out var name) ? name : "";

    private (int Attempts, int MaxAttempts) LockLease(PostgresWriteSession session, string queueName, MessageReceipt receipt)
    {
        using (var reader = session.ExecuteReader(_sql.LockLease, Int64(receipt.Id.Value), Uuid(receipt.Token), Text(queueName)))
        {
            if (reader.Read())
            {
                return (reader.GetInt32(0), reader.GetInt32(1));
            }
        }

        throw LeaseNotFound(session, queueName, receipt);
    }

    /// <summary>Moves a leased message to the dead letters in one fenced statement; returns its queue id.</summary>
    private long MoveLeasedToDeadLetters(PostgresWriteSession session, long now, string queueName, MessageReceipt receipt, string reason, string? error) =>
        session.ExecuteScalar(
            _sql.MoveLeasedToDeadLetters, Int64(receipt.Id.Value), Uuid(receipt.Token), NullableText(error), Text(reason), Int64(now), Text(queueName)) as long?
        ?? throw LeaseNotFound(session, queueName, receipt);

    /// <summary>
    /// The error for a settle that matched no row of the queue: the lease was lost, unless the receipt's lease is alive in
    /// another queue, which is a programming error (a settle through the wrong queue handle) and changed nothing either.
    /// </summary>
    private Exception LeaseNotFound(PostgresWriteSession session, string queueName, MessageReceipt receipt) =>
        session.ExecuteScalar(_sql.LeaseQueueName, Int64(receipt.Id.Value), Uuid(receipt.Token)) is string other
            ? new ArgumentException(DurableQueue.ErrorMessages.WrongQueue(receipt.Id, other, queueName), nameof(receipt))
            : new LeaseLostException(queueName, receipt.Id);

    private void Removed(WriteContext context, long queueId, long count = 1)
    {
        if (count > 0)
        {
            context.AfterCommit(() => _removed.AddOrUpdate(queueId, count, (_, n) => n + count));
        }
    }

    private static List<long> ReadIds(NpgsqlDataReader reader)
    {
        using (reader)
        {
            var ids = new List<long>();
            while (reader.Read())
            {
                ids.Add(reader.GetInt64(0));
            }

            return ids;
        }
    }

    private static NpgsqlParameter[] InsertParameters(long now, long queueId, in PendingMessage message, long visibleAt) =>
    [
        Int64(queueId),
        new NpgsqlParameter<short> { TypedValue = (short)message.Priority },
        Int64(visibleAt),
        Int64(now),
        Int32(message.MaxAttempts),
        NullableText(message.DedupKey),
        NullableText(message.Headers),
        new NpgsqlParameter<byte[]> { TypedValue = message.Body, NpgsqlDbType = NpgsqlDbType.Bytea },
    ];

    internal static NpgsqlParameter Int64(long value) => new NpgsqlParameter<long> { TypedValue = value };

    internal static NpgsqlParameter Int32(int value) => new NpgsqlParameter<int> { TypedValue = value };

    internal static NpgsqlParameter Uuid(Guid value) => new NpgsqlParameter<Guid> { TypedValue = value };

    internal static NpgsqlParameter Text(string value) => new NpgsqlParameter<string> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Text };

    internal static NpgsqlParameter NullableInt64(long? value) =>
        new NpgsqlParameter { Value = value is { } v ? v : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint };

    internal static NpgsqlParameter NullableText(string? value) =>
        new NpgsqlParameter { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };
}
