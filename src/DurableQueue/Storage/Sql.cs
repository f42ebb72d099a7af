namespace DurableQueue.Storage;

/// <summary>
/// Every SQL statement of the store, in one place. Times are parameters from the store's TimeProvider,
/// never SQLite's clock functions.
/// </summary>
internal static partial class Sql
{
    // One range seek per priority, merged in order: without the IN list a skewed queue walks every
    // not-ready row of a higher priority (see the storage notes).
    private const string Priorities = "priority IN (0,1,2,3,4,5,6,7,8,9)";

    public const string Begin = "BEGIN IMMEDIATE;";
    public const string Commit = "COMMIT;";
    public const string Rollback = "ROLLBACK;";

    public const string MetaTableExists = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'dq_meta';";
    public const string SchemaObjectCount = "SELECT count(*) FROM sqlite_master;";
    public const string ReadSchemaVersion = "SELECT value FROM dq_meta WHERE key = 'schema_version';";
    public const string WriteSchemaVersion =
        "INSERT INTO dq_meta(key, value) VALUES ('schema_version', @version) ON CONFLICT(key) DO UPDATE SET value = excluded.value;";
    public const string PendingMigrations = "SELECT key FROM dq_meta WHERE key >= 'migration_pending:' AND key < 'migration_pending;';";
    public const string InsertPendingMigration = "INSERT INTO dq_meta(key, value) VALUES (@key, 1) ON CONFLICT(key) DO NOTHING;";
    public const string DeletePendingMigration = "DELETE FROM dq_meta WHERE key = @key;";
    public const string WriteCommitMarker = "UPDATE dq_meta SET value = @marker WHERE key = 'last_commit';";
    public const string ReadCommitMarker = "SELECT value FROM dq_meta WHERE key = 'last_commit';";

    public const string FindQueue = "SELECT id FROM dq_queues WHERE name = @name;";

    // Queue settings (schema version 3).
    private const string SettingsColumns = "visibility_ms, max_attempts, max_messages, max_bytes, full_mode, full_wait_ms";
    public const string ReadQueueSettings = "SELECT " + SettingsColumns + " FROM dq_queue_settings WHERE queue_name = @name;";
    public const string ReadAllQueueSettings = "SELECT queue_name, " + SettingsColumns + " FROM dq_queue_settings;";
    public const string StoreQueueSettings =
        "INSERT INTO dq_queue_settings(queue_name, " + SettingsColumns + ", stored_at) " +
        "VALUES (@name, @visibility, @maxAttempts, @maxMessages, @maxBytes, @fullMode, @fullWait, @now) " +
        "ON CONFLICT(queue_name) DO UPDATE SET visibility_ms = excluded.visibility_ms, max_attempts = excluded.max_attempts, " +
        "max_messages = excluded.max_messages, max_bytes = excluded.max_bytes, full_mode = excluded.full_mode, " +
        "full_wait_ms = excluded.full_wait_ms, stored_at = excluded.stored_at;";
    public const string CreateQueue =
        "INSERT INTO dq_queues(name, created_at) VALUES (@name, @now) ON CONFLICT(name) DO NOTHING;";
    public const string QueueNames = "SELECT name FROM dq_queues ORDER BY name;";

    // @body is the body, or an empty one with @bodySize set when the body goes to dq_bodies (InsertBody, right after).
    // Bound by position (1 = @queue ... 9 = @bodySize, in order of first appearance) by SqliteCommands.Enqueue.
    public const string Insert =
        "INSERT INTO dq_messages(queue_id, priority, visible_at, enqueued_at, attempts, max_attempts, dedup_key, headers, body, body_size) " +
        "VALUES (@queue, @priority, @visible, @now, 0, @maxAttempts, @dedup, @headers, @body, @bodySize) " +
        "ON CONFLICT(queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id;";
    public const string InsertBody = "INSERT INTO dq_bodies(id, body) VALUES (@id, @body);";
    public const string SelectBody = "SELECT body FROM dq_bodies WHERE id = @id;";

    // A body wherever it is (in the row, or apart in dq_bodies), for reads.
    private const string MessageBody = "CASE WHEN m.body_size IS NULL THEN m.body ELSE (SELECT b.body FROM dq_bodies b WHERE b.id = m.id) END";
    private const string DeadLetterBody = "CASE WHEN d.body_size IS NULL THEN d.body ELSE (SELECT b.body FROM dq_bodies b WHERE b.id = d.id) END";
    public const string FindByDedupKey = "SELECT id FROM dq_messages WHERE queue_id = @queue AND dedup_key = @dedup;";

    public const string SelectReady =
        "SELECT id FROM dq_messages WHERE queue_id = @queue AND " + Priorities + " AND visible_at <= @now " +
        "ORDER BY priority, visible_at, id LIMIT @limit;";

    // Guarded: a row that someone else leased since it was chosen is skipped. Bound by position (@token, @until, @id,
    // @now) by SqliteCommands.Lease, as LeaseSlim; Ack by position too (@id, @token).
    public const string Lease =
        "UPDATE dq_messages SET lease_token = @token, visible_at = @until, attempts = attempts + 1 " +
        "WHERE id = @id AND visible_at <= @now " +
        "RETURNING priority, enqueued_at, attempts, max_attempts, last_error, headers, body, body_size;";

    // Ten index seeks, one per priority, for the next time a waiting receiver should look again.
    public static readonly string NextVisible =
        "SELECT min(t) FROM (" + string.Join(" UNION ALL ", Enumerable.Range(0, 10).Select(p =>
            $"SELECT min(visible_at) AS t FROM dq_messages WHERE queue_id = @queue AND priority = {p} AND visible_at > @now")) + ");";

    // Settles are fenced by the lease token and by the queue of the handle: a receipt from another queue changes nothing.
    private const string InQueue = " AND queue_id = (SELECT id FROM dq_queues WHERE name = @name)";

    public const string Ack = "DELETE FROM dq_messages WHERE id = @id AND lease_token = @token" + InQueue + ";";
    public const string LeaseAttempts =
        "SELECT attempts, max_attempts, queue_id, priority FROM dq_messages WHERE id = @id AND lease_token = @token" + InQueue + ";";
    public const string LeaseQueueName =
        "SELECT q.name FROM dq_messages m JOIN dq_queues q ON q.id = m.queue_id WHERE m.id = @id AND m.lease_token = @token;";
    public const string Nack =
        "UPDATE dq_messages SET lease_token = NULL, visible_at = @visible, last_error = @error WHERE id = @id AND lease_token = @token;";
    public const string Extend =
        "UPDATE dq_messages SET visible_at = @until WHERE id = @id AND lease_token = @token" + InQueue + " RETURNING queue_id, priority;";
    public const string Release =
        "UPDATE dq_messages SET lease_token = NULL, visible_at = @now, attempts = max(attempts - 1, 0) " +
        "WHERE id = @id AND lease_token = @token" + InQueue + " RETURNING queue_id, priority;";

    public const string CopyToDeadLetters =
        "INSERT INTO dq_dead_letters(id, queue_id, priority, enqueued_at, attempts, max_attempts, dedup_key, headers, body, body_size, last_error, reason, dead_lettered_at) " +
        "SELECT id, queue_id, priority, enqueued_at, attempts, max_attempts, dedup_key, headers, body, body_size, coalesce(@error, last_error), @reason, @now " +
        "FROM dq_messages WHERE id = @id;";
    public const string DeleteMessage = "DELETE FROM dq_messages WHERE id = @id;";

    // Served by the small partial index dq_messages_final_lease.
    public const string ExpiredFinalLeases =
        "SELECT id FROM dq_messages WHERE lease_token IS NOT NULL AND attempts >= max_attempts AND visible_at <= @now LIMIT 1000;";
    public const string NextFinalLeaseExpiry =
        "SELECT min(visible_at) FROM dq_messages WHERE lease_token IS NOT NULL AND attempts >= max_attempts;";

    public const string Purge =
        "DELETE FROM dq_messages WHERE id IN (SELECT id FROM dq_messages WHERE queue_id = @queue LIMIT @limit);";
    public const string DeleteQueueMessage = "DELETE FROM dq_messages WHERE id = @id AND queue_id = @queue;";
    public const string PurgeDeadLetters =
        "DELETE FROM dq_dead_letters WHERE id IN (SELECT id FROM dq_dead_letters WHERE queue_id = @queue LIMIT @limit);";

    public const string DeadLetterIds =
        "SELECT id FROM dq_dead_letters WHERE queue_id = @queue AND id > @after ORDER BY id LIMIT @limit;";
    public const string Requeue =
        "INSERT INTO dq_messages(id, queue_id, priority, visible_at, enqueued_at, attempts, max_attempts, dedup_key, headers, body, body_size, last_error) " +
        "SELECT d.id, d.queue_id, d.priority, @now, d.enqueued_at, 0, d.max_attempts, " +
        "CASE WHEN d.dedup_key IS NOT NULL AND EXISTS (SELECT 1 FROM dq_messages m WHERE m.queue_id = d.queue_id AND m.dedup_key = d.dedup_key) " +
        "THEN NULL ELSE d.dedup_key END, d.headers, d.body, d.body_size, d.last_error " +
        "FROM dq_dead_letters d WHERE d.id = @id AND d.queue_id = @queue;";
    public const string DeleteDeadLetter = "DELETE FROM dq_dead_letters WHERE id = @id AND queue_id = @queue;";

    // Reads (reader connections; Dapper).
    public const string Counts =
        "SELECT " +
        "coalesce(sum(CASE WHEN m.visible_at <= @now THEN 1 ELSE 0 END), 0) AS Ready, " +
        "coalesce(sum(CASE WHEN m.visible_at > @now AND m.lease_token IS NULL THEN 1 ELSE 0 END), 0) AS Delayed, " +
        "coalesce(sum(CASE WHEN m.visible_at > @now AND m.lease_token IS NOT NULL THEN 1 ELSE 0 END), 0) AS Leased, " +
        "min(CASE WHEN m.visible_at <= @now THEN m.enqueued_at END) AS OldestReady, " +
        "(SELECT count(*) FROM dq_dead_letters d WHERE d.queue_id = q.id) AS DeadLettered " +
        "FROM dq_queues q LEFT JOIN dq_messages m ON m.queue_id = q.id WHERE q.name = @name GROUP BY q.id;";

    private const string MessageColumns =
        "m.id AS Id, m.priority AS Priority, m.visible_at AS VisibleAt, m.enqueued_at AS EnqueuedAt, m.attempts AS Attempts, " +
        "m.max_attempts AS MaxAttempts, m.lease_token IS NOT NULL AS HasToken, m.dedup_key AS DedupKey, m.headers AS Headers, " +
        MessageBody + " AS Body, m.last_error AS LastError";

    public const string PeekReady =
        "SELECT " + MessageColumns + " FROM dq_messages m " +
        "WHERE m.queue_id = (SELECT id FROM dq_queues WHERE name = @name) AND m." + Priorities + " AND m.visible_at <= @now " +
        "ORDER BY m.priority, m.visible_at, m.id LIMIT @limit;";
    public const string PeekLater =
        "SELECT " + MessageColumns + " FROM dq_messages m " +
        "WHERE m.queue_id = (SELECT id FROM dq_queues WHERE name = @name) AND m.visible_at > @now " +
        "ORDER BY m.visible_at, m.id LIMIT @limit;";
    public const string GetMessage =
        "SELECT " + MessageColumns + " FROM dq_messages m " +
        "WHERE m.id = @id AND m.queue_id = (SELECT id FROM dq_queues WHERE name = @name);";

    public const string DeadLetters =
        "SELECT d.id AS Id, d.priority AS Priority, d.enqueued_at AS EnqueuedAt, d.attempts AS Attempts, d.max_attempts AS MaxAttempts, " +
        "d.headers AS Headers, " + DeadLetterBody + " AS Body, d.last_error AS LastError, d.reason AS Reason, d.dead_lettered_at AS DeadLetteredAt " +
        "FROM dq_dead_letters d WHERE d.queue_id = (SELECT id FROM dq_queues WHERE name = @name) AND d.id > @after " +
        "ORDER BY d.id LIMIT @limit;";
    public const string GetDeadLetter =
        "SELECT d.id AS Id, d.priority AS Priority, d.enqueued_at AS EnqueuedAt, d.attempts AS Attempts, d.max_attempts AS MaxAttempts, " +
        "d.headers AS Headers, " + DeadLetterBody + " AS Body, d.last_error AS LastError, d.reason AS Reason, d.dead_lettered_at AS DeadLetteredAt " +
        "FROM dq_dead_letters d WHERE d.id = @id AND d.queue_id = (SELECT id FROM dq_queues WHERE name = @name);";

    public const string AnyExpiredFinalLease =
        "SELECT EXISTS (SELECT 1 FROM dq_messages WHERE lease_token IS NOT NULL AND attempts >= max_attempts AND visible_at <= @now);";

    // Maintenance.
    public const string FreelistCount = "PRAGMA freelist_count;";
    public const string CheckpointTruncate = "PRAGMA wal_checkpoint(TRUNCATE);";
    public const string CheckpointPassive = "PRAGMA wal_checkpoint(PASSIVE);";
}
