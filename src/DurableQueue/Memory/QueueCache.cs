using System.Diagnostics;

namespace DurableQueue.Memory;

/// <summary>
/// The memory tier's view of one queue: for each priority, a prefix of the queue's rows in delivery order
/// (visible_at, id). A lane is either complete (it holds every row of that priority) or holds exactly the rows up to
/// its bound; rows past the bound live on disk only and are read back in pages. Touched only on the writer thread.
/// </summary>
internal sealed class QueueCache
{
    public const int Priorities = 10;

    private readonly Lane[] _lanes = new Lane[Priorities];
    private long _bytes;
    private long _count;
    private readonly TierCounters _counters;

    public QueueCache(long queueId, TierCounters counters)
    {
        QueueId = queueId;
        _counters = counters;
        for (var p = 0; p < Priorities; p++)
        {
            _lanes[p] = new Lane();
        }
    }

    public long QueueId { get; }

    public long Bytes => Volatile.Read(ref _bytes);

    public long Count => Volatile.Read(ref _count);

    /// <summary>Gets a value indicating whether some rows of the queue are on disk only.</summary>
    public bool Spilled
    {
        get
        {
            foreach (var lane in _lanes)
            {
                if (!lane.Complete)
                {
                    return true;
                }
            }

            return false;
        }
    }

    public Lane LaneOf(int priority) => _lanes[priority];

    /// <summary>Gets a value indicating whether the row with this key belongs in the cached prefix of its lane.</summary>
    public bool Covers(int priority, long visibleAt, long id)
    {
        var lane = _lanes[priority];
        return lane.Complete || Compare(visibleAt, id, lane.BoundVisible, lane.BoundId) <= 0;
    }

    public void Add(CachedMessage message)
    {
        var added = _lanes[message.Priority].Set.Add(message);
        Debug.Assert(added, "An entry is added once.");
        Interlocked.Add(ref _bytes, message.Size);
        Interlocked.Increment(ref _count);
    }

    public void Remove(CachedMessage message)
    {
        var removed = _lanes[message.Priority].Set.Remove(message);
        Debug.Assert(removed, "Only cached entries are removed.");
        Interlocked.Add(ref _bytes, -message.Size);
        Interlocked.Decrement(ref _count);
    }

    /// <summary>Moves an entry to a new visible_at (lease, nack, extend, release) within its lane.</summary>
    public void Rekey(CachedMessage message, long visibleAt)
    {
        var set = _lanes[message.Priority].Set;
        set.Remove(message);
        message.VisibleAt = visibleAt;
        set.Add(message);
    }

    /// <summary>
    /// Gives up the tail of a lane from the given key on: those rows stay on disk only, and the lane's bound moves to
    /// the last entry before the key. Returns the removed entries so the tier can release their bytes and ids.
    /// </summary>
    public List<CachedMessage> TruncateFrom(int priority, long visibleAt, long id)
    {
        var lane = _lanes[priority];
        var removed = new List<CachedMessage>();
        foreach (var entry in lane.Set.Reverse())
        {
            if (Compare(entry.VisibleAt, entry.Id, visibleAt, id) < 0)
            {
                break;
            }

            removed.Add(entry);
        }

        foreach (var entry in removed)
        {
            Remove(entry);
        }

        lane.Complete = false;
        if (lane.Set.Count > 0)
        {
            var last = lane.Set.Max!;
            lane.BoundVisible = last.VisibleAt;
            lane.BoundId = last.Id;
        }
        else
        {
            lane.BoundVisible = long.MinValue;
            lane.BoundId = 0;
        }

        return removed;
    }

    public void NoteHit() => _counters.Hit();

    public void NoteRefill() => _counters.Refill();

    public IEnumerable<CachedMessage> All()
    {
        foreach (var lane in _lanes)
        {
            foreach (var entry in lane.Set)
            {
                yield return entry;
            }
        }
    }

    public static int Compare(long visibleA, long idA, long visibleB, long idB)
    {
        var c = visibleA.CompareTo(visibleB);
        return c != 0 ? c : idA.CompareTo(idB);
    }

    internal sealed class Lane
    {
        public SortedSet<CachedMessage> Set { get; } = new(CachedMessageOrder.Instance);

        /// <summary>Gets or sets a value indicating whether the lane holds every row of its priority.</summary>
        public bool Complete { get; set; }

        // The last key of the cached prefix when the lane is not complete; (MinValue, 0) = nothing loaded yet.
        public long BoundVisible { get; set; } = long.MinValue;

        public long BoundId { get; set; }
    }
}
