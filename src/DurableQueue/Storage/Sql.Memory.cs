namespace DurableQueue.Storage;

/// <summary>Statements of the memory tier.</summary>
internal static partial class Sql
{
    public const string QueueHasRows = "SELECT EXISTS (SELECT 1 FROM dq_messages WHERE queue_id = @queue);";

    // The next page of one priority lane after the cached prefix, in delivery order; bodies over the tier's size
    // limit stay on disk (NULL here) and are read by the lease itself.
    public const string RefillLane =
        "SELECT m.id, m.visible_at, m.enqueued_at, m.headers, " +
        "CASE WHEN coalesce(m.body_size, length(m.body)) <= @maxBody THEN " + MessageBody + " END, coalesce(m.body_size, length(m.body)) " +
        "FROM dq_messages m WHERE queue_id = @queue AND priority = @priority " +
        "AND (visible_at > @boundVisible OR (visible_at = @boundVisible AND id > @boundId)) " +
        "ORDER BY visible_at, id LIMIT @limit;";

    // Ready rows of one lane past the cached prefix, for when the budget leaves no room to cache them.
    public const string SelectReadyPastBound =
        "SELECT id FROM dq_messages WHERE queue_id = @queue AND priority = @priority AND visible_at <= @now " +
        "AND (visible_at > @boundVisible OR (visible_at = @boundVisible AND id > @boundId)) " +
        "ORDER BY visible_at, id LIMIT @limit;";

    // A lease by primary key whose body and headers are already in memory.
    public const string LeaseSlim =
        "UPDATE dq_messages SET lease_token = @token, visible_at = @until, attempts = attempts + 1 " +
        "WHERE id = @id AND visible_at <= @now " +
        "RETURNING priority, enqueued_at, attempts, max_attempts, last_error;";

    public const string DataVersion = "PRAGMA data_version;";
}
