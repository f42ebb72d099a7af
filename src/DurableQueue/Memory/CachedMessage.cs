namespace DurableQueue.Memory;

/// <summary>
/// A message row held in the memory tier: the same ordering key as the database row (priority, visible_at, id)
/// plus what a receive needs to hand out without reading the disk. The key fields change only while the entry is
/// out of its lane's sorted set.
/// </summary>
internal sealed class CachedMessage
{
    public CachedMessage(QueueCache queue, long id, int priority, long visibleAt, long enqueuedAt, byte[]? body, string? headers, long size)
    {
        Queue = queue;
        Id = id;
        Priority = priority;
        VisibleAt = visibleAt;
        EnqueuedAt = enqueuedAt;
        Body = body;
        Headers = headers;
        Size = size;
    }

    public QueueCache Queue { get; }

    public long Id { get; }

    public int Priority { get; }

    public long VisibleAt { get; set; }

    public long EnqueuedAt { get; }

    /// <summary>Gets the body, or null when it was too large for the tier and stays on disk only.</summary>
    public byte[]? Body { get; }

    public string? Headers { get; }

    /// <summary>Gets the bytes this entry counts against the budget.</summary>
    public long Size { get; }

    /// <summary>Estimated fixed cost of one entry (object headers, set node, dictionary slot).</summary>
    public const int Overhead = 160;

    public static long SizeOf(int bodyLength, string? headers, bool bodyCached) =>
        Overhead + (bodyCached ? bodyLength : 0) + ((headers?.Length ?? 0) * 2);
}

/// <summary>Orders entries of one priority lane as the database does: visible_at, then id.</summary>
internal sealed class CachedMessageOrder : IComparer<CachedMessage>
{
    public static readonly CachedMessageOrder Instance = new();

    public int Compare(CachedMessage? x, CachedMessage? y)
    {
        var c = x!.VisibleAt.CompareTo(y!.VisibleAt);
        return c != 0 ? c : x.Id.CompareTo(y.Id);
    }
}
