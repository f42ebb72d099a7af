namespace DurableQueue.Storage;

/// <summary>Statements of the back-pressure feature (bounded queues, disk quota).</summary>
internal static partial class Sql
{
    // One primary-key lookup; the row is kept exact by the triggers of migration 0002.
    public const string QueueStats =
        "SELECT messages, bytes, dead_letters, removed_total FROM dq_queue_stats WHERE queue_id = @queue;";
    public const string QueueStatsByName =
        "SELECT s.messages, s.bytes, s.dead_letters, s.removed_total FROM dq_queue_stats s " +
        "JOIN dq_queues q ON q.id = s.queue_id WHERE q.name = @name;";

    // Ready messages that were never handed out under a still-held lease: not leased (an expired lease keeps its
    // token and is left alone too), not delayed. Oldest first by enqueue order.
    public const string DroppableOldest =
        "SELECT id, coalesce(body_size, length(body)) FROM dq_messages WHERE queue_id = @queue AND lease_token IS NULL AND visible_at <= @now " +
        "ORDER BY id LIMIT @limit;";

    // Pages in use: free pages are reused before the file grows, so they count as room.
    public const string UsedPageCount = "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count());";
}
