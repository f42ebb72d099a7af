namespace DurableQueue.Storage;

/// <summary>Read-only statements of the diagnostics API (statistics, verification, paging) and compaction.</summary>
internal static partial class Sql
{
    public const string QueueExists = "SELECT EXISTS (SELECT 1 FROM dq_queues WHERE name = @name);";

    public const string MessagesAfter =
        "SELECT " + MessageColumns + " FROM dq_messages m " +
        "WHERE m.queue_id = (SELECT id FROM dq_queues WHERE name = @name) AND m.id > @after ORDER BY m.id LIMIT @limit;";

    public const string PageSize = "PRAGMA page_size;";
    public const string PageCount = "PRAGMA page_count;";
    public const string JournalMode = "PRAGMA journal_mode;";
    public const string AutoVacuum = "PRAGMA auto_vacuum;";
    public const string QueryOnly = "PRAGMA query_only = ON;";
    public const string LastMessageId = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'dq_messages'), 0);";
    public const string MessageTotal = "SELECT count(*) FROM dq_messages;";
    public const string DeadLetterTotal = "SELECT count(*) FROM dq_dead_letters;";
    public const string IntegrityCheck = "PRAGMA integrity_check(100);";
    public const string IncrementalVacuumAll = "PRAGMA incremental_vacuum;";

    /// <summary>The queue's own invariants: each statement counts the rows that break one rule (0 = the rule holds).</summary>
    public static readonly (string Check, string Sql, string Description)[] Invariants =
    [
        ("lease-without-attempt",
            "SELECT count(*) FROM dq_messages WHERE lease_token IS NOT NULL AND attempts < 1;",
            "messages hold a lease token but were never received (attempts < 1)"),
        ("malformed-lease-token",
            "SELECT count(*) FROM dq_messages WHERE lease_token IS NOT NULL AND (typeof(lease_token) <> 'blob' OR length(lease_token) <> 16);",
            "messages hold a lease token that is not a 16-byte value"),
        ("negative-attempts",
            "SELECT (SELECT count(*) FROM dq_messages WHERE attempts < 0) + (SELECT count(*) FROM dq_dead_letters WHERE attempts < 0);",
            "rows have a negative attempt count"),
        ("bad-max-attempts",
            "SELECT (SELECT count(*) FROM dq_messages WHERE max_attempts < 1) + (SELECT count(*) FROM dq_dead_letters WHERE max_attempts < 1);",
            "rows allow fewer than one attempt"),
        ("attempts-over-limit",
            "SELECT count(*) FROM dq_messages WHERE attempts > max_attempts;",
            "messages were delivered more often than their limit allows"),
        ("spent-but-not-dead-lettered",
            "SELECT count(*) FROM dq_messages WHERE lease_token IS NULL AND attempts >= max_attempts;",
            "messages are not leased and have no attempt left, so they should be in the dead-letter store"),
        ("bad-priority",
            "SELECT (SELECT count(*) FROM dq_messages WHERE priority NOT BETWEEN 0 AND 9) + " +
            "(SELECT count(*) FROM dq_dead_letters WHERE priority NOT BETWEEN 0 AND 9);",
            "rows have a priority outside 0..9"),
        ("orphan-rows",
            "SELECT (SELECT count(*) FROM dq_messages m WHERE NOT EXISTS (SELECT 1 FROM dq_queues q WHERE q.id = m.queue_id)) + " +
            "(SELECT count(*) FROM dq_dead_letters d WHERE NOT EXISTS (SELECT 1 FROM dq_queues q WHERE q.id = d.queue_id));",
            "rows belong to no queue"),
        ("live-and-dead",
            "SELECT count(*) FROM dq_messages m JOIN dq_dead_letters d ON d.id = m.id;",
            "message ids are both in a queue and in the dead-letter store"),
        ("id-sequence-behind",
            "SELECT CASE WHEN coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'dq_messages'), 0) < " +
            "max(coalesce((SELECT max(id) FROM dq_messages), 0), coalesce((SELECT max(id) FROM dq_dead_letters), 0)) THEN 1 ELSE 0 END;",
            "the message id sequence is behind the largest id in use, so a new message could reuse a dead letter's id"),
        ("bad-headers",
            "SELECT (SELECT count(*) FROM dq_messages WHERE headers IS NOT NULL AND NOT json_valid(headers)) + " +
            "(SELECT count(*) FROM dq_dead_letters WHERE headers IS NOT NULL AND NOT json_valid(headers));",
            "rows have headers that are not valid JSON"),
        ("missing-body",
            "SELECT (SELECT count(*) FROM dq_messages m WHERE m.body_size IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dq_bodies b WHERE b.id = m.id)) + " +
            "(SELECT count(*) FROM dq_dead_letters d WHERE d.body_size IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dq_bodies b WHERE b.id = d.id));",
            "rows say their body is kept apart, and it is not there"),
        ("body-size-mismatch",
            "SELECT count(*) FROM dq_bodies b WHERE length(b.body) <> coalesce(" +
            "(SELECT m.body_size FROM dq_messages m WHERE m.id = b.id), (SELECT d.body_size FROM dq_dead_letters d WHERE d.id = b.id), -1);",
            "bodies kept apart belong to no row, or differ in size from what their row records"),
        ("missing-schema-version",
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM dq_meta WHERE key = 'schema_version') THEN 0 ELSE 1 END;",
            "the schema version is missing from dq_meta"),
    ];
}
