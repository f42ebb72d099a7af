namespace DurableQueue.Storage;

/// <summary>Statements of the monitoring reads (running totals for rates).</summary>
internal static partial class Sql
{
    // The counters of migration 0002 are kept exact by triggers in the transaction of each change, so one row per
    // queue gives both totals in one snapshot: live messages + removed_total = every message that ever entered.
    public const string QueueTotals =
        "SELECT q.name, coalesce(s.messages, 0), coalesce(s.removed_total, 0) FROM dq_queues q " +
        "LEFT JOIN dq_queue_stats s ON s.queue_id = q.id ORDER BY q.name;";
}
