using DurableQueue.Storage;
using DurableQueue.Storage.Sqlite;

namespace DurableQueue.Memory;

/// <summary>
/// Keeps the head of each queue in RAM under one byte budget shared by all queues of a store, so that a receive
/// needs no query for candidates and no read of bodies from disk. The database stays the only truth: every lease is
/// still a guarded UPDATE by primary key, and any doubt (a rolled-back write, a commit by another connection) drops
/// the cached state, to be read back from disk.
/// </summary>
/// <remarks>
/// Everything here runs on the writer thread, inside the batch transaction, in step with the rows: a cache change
/// that the batch does not commit is undone by invalidation. Counters are read from other threads for metrics.
/// </remarks>
internal sealed class MemoryTier
{
    private const int PageRows = 256;
    private const int LowWatermark = 32;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, QueueCache> _queues = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, TierCounters> _counters = new();
    private readonly Dictionary<long, CachedMessage> _byId = [];
    private long _used;
    private long _peak;

    public MemoryTier(long budgetBytes, int maxMessageBytes)
    {
        Budget = budgetBytes;
        MaxMessageBytes = maxMessageBytes;
    }

    public long Budget { get; }

    public int MaxMessageBytes { get; }

    public long UsedBytes => Volatile.Read(ref _used);

    /// <summary>Gets the most bytes the tier ever held at once (for tests and metrics).</summary>
    public long PeakBytes => Volatile.Read(ref _peak);

    /// <summary>Gets or sets a value indicating whether the current writer operation changed the cache.</summary>
    public bool Mutated { get; set; }

    public QueueCache? Find(long queueId) => _queues.GetValueOrDefault(queueId);

    /// <summary>Gets the hit and refill counters of a queue; they outlive invalidations of its cache.</summary>
    public TierCounters CountersOf(long queueId) => _counters.GetOrAdd(queueId, static _ => new TierCounters());

    /// <summary>
    /// Drops every cached row when another connection committed since the last batch: its changes are invisible
    /// to the cache. <c>PRAGMA data_version</c> does not change for this connection's own commits.
    /// </summary>
    public void CheckForeignCommits(WriteContext context)
    {
        if (context.ForeignCommits)
        {
            Clear();
        }
    }

    /// <summary>Forgets everything; the next receives read the queues back from disk.</summary>
    public void Clear()
    {
        _queues.Clear();
        _byId.Clear();
        Volatile.Write(ref _used, 0);
    }

    public void Invalidate(long queueId)
    {
        if (_queues.TryRemove(queueId, out var cache))
        {
            foreach (var entry in cache.All())
            {
                _byId.Remove(entry.Id);
                Volatile.Write(ref _used, _used - entry.Size);
            }
        }
    }

    public QueueCache GetOrCreate(WriteContext context, long queueId)
    {
        if (_queues.TryGetValue(queueId, out var cache))
        {
            return cache;
        }

        cache = new QueueCache(queueId, CountersOf(queueId));
        // A queue with no rows starts complete: new messages then go straight into the tier.
        if (context.Command(Sql.QueueHasRows).Bind("@queue", queueId).ExecuteScalar() is 0L)
        {
            for (var p = 0; p < QueueCache.Priorities; p++)
            {
                cache.LaneOf(p).Complete = true;
            }
        }

        _queues[queueId] = cache;
        return cache;
    }

    /// <summary>A row was inserted (enqueue): cache it if it falls inside its lane's prefix and fits the budget.</summary>
    public void OnInserted(WriteContext context, long queueId, long id, int priority, long visibleAt, long enqueuedAt, byte[] body, string? headers)
    {
        var cache = GetOrCreate(context, queueId);
        if (!cache.Covers(priority, visibleAt, id))
        {
            return;
        }

        Mutated = true;
        var cacheBody = body.Length <= MaxMessageBytes;
        var size = CachedMessage.SizeOf(body.Length, headers, cacheBody);
        if (_used + size > Budget)
        {
            // Past the budget: this row and everything after it in its lane live on disk only (spilled).
            Release(cache.TruncateFrom(priority, visibleAt, id));
            return;
        }

        Admit(cache, new CachedMessage(cache, id, priority, visibleAt, enqueuedAt, cacheBody ? body : null, headers, size));
    }

    /// <summary>A row left the queue (ack, dead letter, purge of one).</summary>
    public void OnRemoved(long id)
    {
        if (_byId.Remove(id, out var entry))
        {
            Mutated = true;
            entry.Queue.Remove(entry);
            Volatile.Write(ref _used, _used - entry.Size);
        }
    }

    /// <summary>A row's visible_at changed (lease, nack, extend, release).</summary>
    public void OnRekeyed(long queueId, long id, int? priority, long visibleAt)
    {
        if (_byId.TryGetValue(id, out var entry))
        {
            Mutated = true;
            var cache = entry.Queue;
            if (cache.Covers(entry.Priority, visibleAt, id))
            {
                cache.Rekey(entry, visibleAt);
            }
            else
            {
                // Moved past the cached prefix: it will be read back in order when the lane refills.
                OnRemoved(id);
            }

            return;
        }

        if (priority is { } p && _queues.TryGetValue(queueId, out var queue) && queue.Covers(p, visibleAt, id))
        {
            // A row we do not hold moves inside the prefix: shrink the prefix so that it stays exact.
            Mutated = true;
            Release(queue.TruncateFrom(p, visibleAt, id));
        }
    }

    /// <summary>
    /// Reads the next page of a lane from disk into the tier, as far as the budget allows. Returns how many entries
    /// were added; a page shorter than asked for completes the lane.
    /// </summary>
    public int Refill(WriteContext context, QueueCache cache, int priority)
    {
        var lane = cache.LaneOf(priority);
        if (lane.Complete)
        {
            return 0;
        }

        var added = 0;
        var rows = 0;
        var stoppedByBudget = false;
        using (var reader = context.Command(Sql.RefillLane)
            .Bind("@queue", cache.QueueId)
            .Bind("@priority", priority)
            .Bind("@boundVisible", lane.BoundVisible)
            .Bind("@boundId", lane.BoundId)
            .Bind("@maxBody", MaxMessageBytes)
            .Bind("@limit", PageRows)
            .ExecuteReader())
        {
            while (reader.Read())
            {
                rows++;
                // id, visible_at, enqueued_at, headers, body (null when too large), body length
                var id = reader.GetInt64(0);
                var headers = reader.IsDBNull(3) ? null : reader.GetString(3);
                var bodyCached = !reader.IsDBNull(4);
                var size = CachedMessage.SizeOf(reader.GetInt32(5), headers, bodyCached);
                if (_used + size > Budget)
                {
                    stoppedByBudget = true;
                    break;
                }

                var visibleAt = reader.GetInt64(1);
                var entry = new CachedMessage(
                    cache, id, priority, visibleAt, reader.GetInt64(2), bodyCached ? reader.GetFieldValue<byte[]>(4) : null, headers, size);
                Admit(cache, entry);
                lane.BoundVisible = visibleAt;
                lane.BoundId = id;
                added++;
            }
        }

        if (!stoppedByBudget && rows < PageRows)
        {
            lane.Complete = true;
        }

        if (added > 0 || lane.Complete)
        {
            Mutated = true;
            cache.NoteRefill();
        }

        return added;
    }

    /// <summary>Gets a value indicating whether a lane should be topped up before it runs dry.</summary>
    public static bool NeedsRefill(QueueCache.Lane lane) => !lane.Complete && lane.Set.Count < LowWatermark;

    private void Admit(QueueCache cache, CachedMessage entry)
    {
        cache.Add(entry);
        _byId.Add(entry.Id, entry);
        Volatile.Write(ref _used, _used + entry.Size);
        if (_used > _peak)
        {
            Volatile.Write(ref _peak, _used);
        }
    }

    private void Release(List<CachedMessage> removed)
    {
        foreach (var entry in removed)
        {
            _byId.Remove(entry.Id);
            Volatile.Write(ref _used, _used - entry.Size);
        }
    }

}

/// <summary>Cumulative tier counters of one queue.</summary>
internal sealed class TierCounters
{
    private long _hits;
    private long _refills;

    public long Hits => Volatile.Read(ref _hits);

    public long Refills => Volatile.Read(ref _refills);

    public void Hit() => Interlocked.Increment(ref _hits);

    public void Refill() => Interlocked.Increment(ref _refills);
}
