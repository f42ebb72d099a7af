using System.Globalization;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// Every SQL statement of the PostgreSQL backend, in one place, built once per schema (the schema name is the user's
/// choice, so statements name it in full instead of relying on the connection's search_path). Parameters are
/// positional ($1, $2, ...). Times are parameters from the store's TimeProvider, never now() or clock_timestamp().
/// </summary>
internal sealed class PostgresSql
{
    public PostgresSql(string schema)
    {
        Schema = schema;
        QuotedSchema = QuoteIdentifier(schema);
        var s = QuotedSchema;
        Channel = ChannelOf(schema);

        // Schema and migrations.
        SchemaExists = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1);";
        CreateSchema = $"CREATE SCHEMA IF NOT EXISTS {s};";
        MetaTableExists = $"SELECT to_regclass('{s}.dq_meta') IS NOT NULL;";
        ReadSchemaVersion = $"SELECT value FROM {s}.dq_meta WHERE key = 'schema_version';";
        WriteSchemaVersion =
            $"INSERT INTO {s}.dq_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value;";

        // Queues.
        FindQueue = $"SELECT id FROM {s}.dq_queues WHERE name = $1;";
        CreateQueue = $"INSERT INTO {s}.dq_queues (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id;";
        QueueNames = $"SELECT name FROM {s}.dq_queues ORDER BY name COLLATE \"C\";";
        QueueExists = $"SELECT EXISTS (SELECT 1 FROM {s}.dq_queues WHERE name = $1);";

        // Enqueue.
        const string insertColumns = "(queue_id, priority, visible_at, enqueued_at, max_attempts, dedup_key, headers, body)";
        Insert = $"INSERT INTO {s}.dq_messages {insertColumns} VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id;";
        InsertDedup =
            $"INSERT INTO {s}.dq_messages {insertColumns} VALUES ($1, $2, $3, $4, $5, $6, $7, $8) " +
            "ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id;";
        FindByDedupKey = $"SELECT id FROM {s}.dq_messages WHERE queue_id = $1 AND dedup_key = $2;";
        // Several messages without a deduplication key in one statement, inserted in the order given (so their ids
        // ascend in that order). $1 queues, $2 priorities, $3 visible_at, $4 now, $5 max attempts, $6 headers, $7 bodies.
        InsertMany =
            $"INSERT INTO {s}.dq_messages {insertColumns} " +
            "SELECT u.queue_id, u.priority, u.visible_at, $4, u.max_attempts, NULL, u.headers, u.body " +
            "FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $5::integer[], $6::text[], $7::bytea[]) " +
            "WITH ORDINALITY AS u(queue_id, priority, visible_at, max_attempts, headers, body, n) ORDER BY u.n RETURNING id;";

        // Receive: the ready rows in delivery order, locked so that no other host leases them at the same time; rows
        // another transaction holds are skipped, not waited for. The old visible_at comes back so that the caller can
        // put the rows in delivery order (RETURNING has no order of its own).
        // $1 queue, $2 now, $3 limit, $4 token, $5 lease expiry.
        Lease =
            $"WITH picked AS (SELECT id, visible_at FROM {s}.dq_messages WHERE queue_id = $1 AND visible_at <= $2 " +
            "ORDER BY priority, visible_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) " +
            $"UPDATE {s}.dq_messages m SET lease_token = $4, visible_at = $5, attempts = m.attempts + 1 FROM picked WHERE m.id = picked.id " +
            "RETURNING m.id, m.priority, m.enqueued_at, m.attempts, m.max_attempts, m.last_error, m.headers, m.body, picked.visible_at;";

        // One index range per priority, for the next time a waiting receiver should look again.
        NextVisible =
            "SELECT min(t) FROM (" + string.Join(" UNION ALL ", Enumerable.Range(0, 10).Select(p => string.Create(
                CultureInfo.InvariantCulture,
                $"(SELECT visible_at AS t FROM {s}.dq_messages WHERE queue_id = $1 AND priority = {p} AND visible_at > $2 ORDER BY visible_at LIMIT 1)"))) +
            ") AS next;";

        // Settles, each fenced by the lease token and by the queue of the handle (a receipt of another queue changes
        // nothing). $1 id, $2 token; the queue name is the last parameter.
        string InQueue(int parameter) => $" AND queue_id = (SELECT id FROM {s}.dq_queues WHERE name = ${parameter})";
        Ack = $"DELETE FROM {s}.dq_messages WHERE id = $1 AND lease_token = $2{InQueue(3)} RETURNING queue_id;";
        // Several acks in one statement, each fenced as Ack is. $1 ids (no id twice), $2 tokens, $3 queue names.
        // `id = ANY($1)` is the one condition on dq_messages that an index serves; each row's token is matched in a
        // semi-join and its queue looked up by the receipt's position, not joined. (Joined with dq_queues, the planner
        // walked the queue's whole ready index whenever statistics said the table was nearly empty.) It runs between
        // PreferIndexes and PlannerDefault: see there.
        AckMany =
            $"DELETE FROM {s}.dq_messages m WHERE m.id = ANY($1::bigint[]) " +
            "AND (m.id, m.lease_token) IN (SELECT r.id, r.token FROM unnest($1::bigint[], $2::uuid[]) AS r(id, token)) " +
            $"AND m.queue_id = (SELECT q.id FROM {s}.dq_queues q WHERE q.name = ($3::text[])[array_position($1::bigint[], m.id)]) " +
            "RETURNING m.id, m.queue_id;";
        // A busy queue's table is small but churned: every page holds rows deleted moments ago, and a sequential scan
        // must look at (and prune) all of them. The planner does not see that cost, so for a table of a few dozen pages
        // it scans rather than probing the primary key, and AckMany then took 0.3 to 0.6 ms (of a writer commit of about
        // 1 ms) where the probes take 0.04. So the statement runs with sequential scans off for the transaction, and with
        // a generic plan: left to choose, the server's plan cache kept planning it anew at every execution, which cost
        // 0.16 ms a call (pg_stat_statements with track_planning), four times its execution. The settings go back to their
        // defaults after it (statements of the app in a unit of work later in the same batch plan as they would
        // elsewhere; the end of the transaction undoes them in any case).
        PreferIndexes = ["SET LOCAL enable_seqscan = off;", "SET LOCAL plan_cache_mode = force_generic_plan;"];
        PlannerDefault = ["SET LOCAL enable_seqscan TO DEFAULT;", "SET LOCAL plan_cache_mode TO DEFAULT;"];
        // The same settings for a batch sent as one implicit transaction (no BEGIN), where SET LOCAL works but warns
        // that it is outside a transaction block; set_config(..., true) is the same setting, without the warning.
        PreferIndexesWithoutBegin = "SELECT set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true);";
        // The same, sent with the COMMIT: it fails (division by zero, counted at run time) unless every receipt matched,
        // so that the COMMIT after it rolls back instead and the writer runs the acks one by one, which tells each
        // receipt's failure apart. $4 the number of receipts.
        AckManyAll =
            $"WITH acked AS ({AckMany.TrimEnd(';')}) " +
            // The check is the preserved side of the join, so it runs even when nothing matched.
            "SELECT a.id, a.queue_id FROM (SELECT 1 / (CASE WHEN count(*) = $4 THEN 1 ELSE 0 END) AS ok FROM acked) c " +
            "LEFT JOIN acked a ON c.ok = 1;";
        // Locks the row for the rest of the transaction, so that the decision made on its attempts still holds when
        // the next statement changes it.
        LockLease = $"SELECT attempts, max_attempts FROM {s}.dq_messages WHERE id = $1 AND lease_token = $2{InQueue(3)} FOR UPDATE;";
        Nack = $"UPDATE {s}.dq_messages SET lease_token = NULL, visible_at = $3, last_error = $4 WHERE id = $1 AND lease_token = $2;";
        Extend = $"UPDATE {s}.dq_messages SET visible_at = $3 WHERE id = $1 AND lease_token = $2{InQueue(4)};";
        Release =
            $"UPDATE {s}.dq_messages SET lease_token = NULL, visible_at = $3, attempts = greatest(attempts - 1, 0) " +
            $"WHERE id = $1 AND lease_token = $2{InQueue(4)};";
        LeaseQueueName = $"SELECT q.name FROM {s}.dq_messages m JOIN {s}.dq_queues q ON q.id = m.queue_id WHERE m.id = $1 AND m.lease_token = $2;";

        const string deadLetterColumns =
            "(id, queue_id, priority, enqueued_at, attempts, max_attempts, dedup_key, headers, body, last_error, reason, dead_lettered_at)";
        const string movedColumns =
            "id, queue_id, priority, enqueued_at, attempts, max_attempts, dedup_key, headers, body";

        // Moves one leased message to the dead letters in one statement, fenced by its token and queue.
        // $1 id, $2 token, $3 error (null keeps the last one), $4 reason, $5 now, $6 queue name.
        MoveLeasedToDeadLetters =
            $"WITH moved AS (DELETE FROM {s}.dq_messages WHERE id = $1 AND lease_token = $2{InQueue(6)} RETURNING {movedColumns}, last_error) " +
            $"INSERT INTO {s}.dq_dead_letters {deadLetterColumns} " +
            $"SELECT {movedColumns}, coalesce($3, last_error), $4, $5 FROM moved RETURNING queue_id;";

        // Every expired lease on its last attempt, of every queue, in one statement. Rows another host is changing
        // right now are skipped: that host settles them, or a later sweep takes them. $1 now, $2 reason.
        SweepExpiredFinalLeases =
            $"WITH due AS (SELECT id FROM {s}.dq_messages WHERE lease_token IS NOT NULL AND attempts >= max_attempts AND visible_at <= $1 " +
            "LIMIT 1000 FOR UPDATE SKIP LOCKED), " +
            $"moved AS (DELETE FROM {s}.dq_messages m USING due WHERE m.id = due.id RETURNING m.{movedColumns.Replace(", ", ", m.", StringComparison.Ordinal)}, m.last_error) " +
            $"INSERT INTO {s}.dq_dead_letters {deadLetterColumns} " +
            $"SELECT {movedColumns}, last_error, $2, $1 FROM moved RETURNING queue_id;";
        NextFinalLeaseExpiry =
            $"SELECT min(visible_at) FROM {s}.dq_messages WHERE lease_token IS NOT NULL AND attempts >= max_attempts;";
        AnyExpiredFinalLease =
            $"SELECT EXISTS (SELECT 1 FROM {s}.dq_messages WHERE lease_token IS NOT NULL AND attempts >= max_attempts AND visible_at <= $1);";

        // Purges. $1 queue, $2 limit.
        Purge = $"DELETE FROM {s}.dq_messages WHERE id IN (SELECT id FROM {s}.dq_messages WHERE queue_id = $1 LIMIT $2);";
        PurgeDeadLetters = $"DELETE FROM {s}.dq_dead_letters WHERE id IN (SELECT id FROM {s}.dq_dead_letters WHERE queue_id = $1 LIMIT $2);";
        DeleteMessage = $"DELETE FROM {s}.dq_messages WHERE id = $1 RETURNING queue_id;";
        DeleteQueueMessage = $"DELETE FROM {s}.dq_messages WHERE id = $1 AND queue_id = $2;";

        // Queue settings (schema version 2). $1 name.
        ReadQueueSettings =
            $"SELECT visibility_ms, max_attempts, max_messages, max_bytes, full_mode, full_wait_ms FROM {s}.dq_queue_settings WHERE queue_name = $1;";
        ReadAllQueueSettings =
            $"SELECT queue_name, visibility_ms, max_attempts, max_messages, max_bytes, full_mode, full_wait_ms FROM {s}.dq_queue_settings;";
        // $1 name, $2 visibility ms, $3 max attempts, $4 max messages, $5 max bytes, $6 full mode, $7 full wait ms, $8 now.
        StoreQueueSettings =
            $"INSERT INTO {s}.dq_queue_settings(queue_name, visibility_ms, max_attempts, max_messages, max_bytes, full_mode, full_wait_ms, stored_at) " +
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) " +
            "ON CONFLICT (queue_name) DO UPDATE SET visibility_ms = excluded.visibility_ms, max_attempts = excluded.max_attempts, " +
            "max_messages = excluded.max_messages, max_bytes = excluded.max_bytes, full_mode = excluded.full_mode, " +
            "full_wait_ms = excluded.full_wait_ms, stored_at = excluded.stored_at;";

        // Dead letters back into their queue. $1 id, $2 queue.
        DeadLetterIds = $"SELECT id FROM {s}.dq_dead_letters WHERE queue_id = $1 AND id > $2 ORDER BY id LIMIT $3;";
        LockDeadLetter = $"SELECT dedup_key IS NOT NULL FROM {s}.dq_dead_letters WHERE id = $1 AND queue_id = $2 FOR UPDATE;";
        const string requeueColumns =
            "(id, queue_id, priority, visible_at, enqueued_at, attempts, max_attempts, dedup_key, headers, body, last_error)";
        // With its key, unless a live message holds that key now (then the key is dropped: the message is not lost).
        // $1 id, $2 queue, $3 now.
        RequeueWithKey =
            $"INSERT INTO {s}.dq_messages {requeueColumns} " +
            $"SELECT id, queue_id, priority, $3, enqueued_at, 0, max_attempts, dedup_key, headers, body, last_error FROM {s}.dq_dead_letters " +
            "WHERE id = $1 AND queue_id = $2 ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id;";
        RequeueWithoutKey =
            $"INSERT INTO {s}.dq_messages {requeueColumns} " +
            $"SELECT id, queue_id, priority, $3, enqueued_at, 0, max_attempts, NULL, headers, body, last_error FROM {s}.dq_dead_letters " +
            "WHERE id = $1 AND queue_id = $2;";
        DeleteDeadLetter = $"DELETE FROM {s}.dq_dead_letters WHERE id = $1 AND queue_id = $2;";

        // Bounded queues. There is no counter row kept by triggers here (unlike the SQLite file): one row updated by
        // every enqueue and ack of a queue would serialise all hosts on it and let batches that touch two queues
        // deadlock. Instead an admission takes the queue's transaction-scoped advisory lock, so admissions to one
        // bounded queue run one at a time across hosts, and counts the queue, which a bound keeps small.
        // $1 lock class (per schema), $2 queue id.
        LockQueueForAdmission = "SELECT pg_advisory_xact_lock($1, $2);";
        QueueStats =
            $"SELECT (SELECT count(*) FROM {s}.dq_messages WHERE queue_id = $1), " +
            $"(SELECT coalesce(sum(octet_length(body)), 0)::bigint FROM {s}.dq_messages WHERE queue_id = $1), " +
            $"(SELECT count(*) FROM {s}.dq_dead_letters WHERE queue_id = $1);";
        DroppableOldest =
            $"SELECT id, octet_length(body) FROM {s}.dq_messages WHERE queue_id = $1 AND lease_token IS NULL AND visible_at <= $2 ORDER BY id;";

        // The schema first on a connection's search path, before what it had (the app's own tables stay reachable).
        PrependSearchPath =
            $"SELECT set_config('search_path', '{QuotedSchema.Replace("'", "''", StringComparison.Ordinal)}, ' || current_setting('search_path'), false);";

        // Wake-ups: delivered to every listener when the transaction commits (never on rollback); identical
        // notifications of one transaction are merged by the server.
        Notify = "SELECT pg_notify($1, $2);";
        // Wake-ups after a COMMIT go only to queues that receivers of another store wait on (dq_waiters), so a queue
        // nobody waits on elsewhere costs no notification. One statement per queue, with scalar parameters only: the
        // same check over an array of queue names was planned anew at every execution (the server kept choosing a
        // custom plan for it), which added about a tenth of a millisecond to every commit that notifies.
        // $1 channel, $2 queue, $3 this store.
        NotifyIfWaiting =
            "SELECT pg_notify($1, $2) " +
            $"WHERE EXISTS (SELECT 1 FROM {s}.dq_waiters WHERE queue_name = $2 AND store <> $3 AND until > now());";
        // A store's receivers wait on a queue: $1 queue, $2 store, $3 lifetime in milliseconds.
        AnnounceWaiting =
            $"INSERT INTO {s}.dq_waiters (queue_name, store, until) VALUES ($1, $2, now() + $3 * interval '1 millisecond') " +
            "ON CONFLICT (queue_name, store) DO UPDATE SET until = EXCLUDED.until;";
        ForgetLapsedWaiters = $"DELETE FROM {s}.dq_waiters WHERE until < now();";
        ForgetStoreWaiters = $"DELETE FROM {s}.dq_waiters WHERE store = $1;";
        // The application name marks the connection in pg_stat_activity (reset when it goes back to the pool).
        Listen = $"SET application_name = '{ListenerName(Channel)}'; LISTEN {QuoteIdentifier(Channel)};";

        // Commit markers. $1 writer, $2 marker or time.
        RegisterWriter =
            $"INSERT INTO {s}.dq_writers (writer, marker, seen_at) VALUES ($1, 0, $2) ON CONFLICT (writer) DO NOTHING;";
        // Writers not seen for a week belong to processes that ended without closing.
        ForgetOldWriters = $"DELETE FROM {s}.dq_writers WHERE seen_at < $1;";
        ForgetWriter = $"DELETE FROM {s}.dq_writers WHERE writer = $1;";
        SetMarker = $"UPDATE {s}.dq_writers SET marker = $2, seen_at = $3 WHERE writer = $1;";
        // FOR UPDATE waits for a transaction that still holds the row (a commit under way) before it reads.
        ReadMarker = $"SELECT marker FROM {s}.dq_writers WHERE writer = $1 FOR UPDATE;";

        // Reads.
        Counts =
            "SELECT " +
            "count(*) FILTER (WHERE m.visible_at <= $2), " +
            "count(*) FILTER (WHERE m.visible_at > $2 AND m.lease_token IS NULL), " +
            "count(*) FILTER (WHERE m.visible_at > $2 AND m.lease_token IS NOT NULL), " +
            "min(m.enqueued_at) FILTER (WHERE m.visible_at <= $2), " +
            $"(SELECT count(*) FROM {s}.dq_dead_letters d WHERE d.queue_id = q.id) " +
            $"FROM {s}.dq_queues q LEFT JOIN {s}.dq_messages m ON m.queue_id = q.id WHERE q.name = $1 GROUP BY q.id;";

        const string messageColumns =
            "m.id, m.priority, m.visible_at, m.enqueued_at, m.attempts, m.max_attempts, m.lease_token IS NOT NULL, m.dedup_key, m.headers, m.body, m.last_error";
        var queueByName = $"(SELECT id FROM {s}.dq_queues WHERE name = $1)";
        PeekReady =
            $"SELECT {messageColumns} FROM {s}.dq_messages m WHERE m.queue_id = {queueByName} AND m.visible_at <= $2 " +
            "ORDER BY m.priority, m.visible_at, m.id LIMIT $3;";
        PeekLater =
            $"SELECT {messageColumns} FROM {s}.dq_messages m WHERE m.queue_id = {queueByName} AND m.visible_at > $2 " +
            "ORDER BY m.visible_at, m.id LIMIT $3;";
        GetMessage = $"SELECT {messageColumns} FROM {s}.dq_messages m WHERE m.id = $2 AND m.queue_id = {queueByName};";
        MessagesAfter = $"SELECT {messageColumns} FROM {s}.dq_messages m WHERE m.queue_id = {queueByName} AND m.id > $2 ORDER BY m.id LIMIT $3;";

        const string deadLetterReadColumns =
            "d.id, d.priority, d.enqueued_at, d.attempts, d.max_attempts, d.headers, d.body, d.last_error, d.reason, d.dead_lettered_at";
        DeadLetters =
            $"SELECT {deadLetterReadColumns} FROM {s}.dq_dead_letters d WHERE d.queue_id = {queueByName} AND d.id > $2 ORDER BY d.id LIMIT $3;";
        GetDeadLetter = $"SELECT {deadLetterReadColumns} FROM {s}.dq_dead_letters d WHERE d.id = $2 AND d.queue_id = {queueByName};";
        QueueStatsByName =
            $"SELECT q.id, (SELECT count(*) FROM {s}.dq_messages WHERE queue_id = q.id), " +
            $"(SELECT coalesce(sum(octet_length(body)), 0)::bigint FROM {s}.dq_messages WHERE queue_id = q.id), " +
            $"(SELECT count(*) FROM {s}.dq_dead_letters WHERE queue_id = q.id) FROM {s}.dq_queues q WHERE q.name = $1;";

        // Verification: the queue's own invariants; each statement counts the rows that break one rule (0 = it holds).
        Invariants =
        [
            ("lease-without-attempt",
                $"SELECT count(*) FROM {s}.dq_messages WHERE lease_token IS NOT NULL AND attempts < 1;",
                "messages hold a lease token but were never received (attempts < 1)"),
            ("negative-attempts",
                $"SELECT (SELECT count(*) FROM {s}.dq_messages WHERE attempts < 0) + (SELECT count(*) FROM {s}.dq_dead_letters WHERE attempts < 0);",
                "rows have a negative attempt count"),
            ("bad-max-attempts",
                $"SELECT (SELECT count(*) FROM {s}.dq_messages WHERE max_attempts < 1) + (SELECT count(*) FROM {s}.dq_dead_letters WHERE max_attempts < 1);",
                "rows allow fewer than one attempt"),
            ("attempts-over-limit",
                $"SELECT count(*) FROM {s}.dq_messages WHERE attempts > max_attempts;",
                "messages were delivered more often than their limit allows"),
            ("spent-but-not-dead-lettered",
                $"SELECT count(*) FROM {s}.dq_messages WHERE lease_token IS NULL AND attempts >= max_attempts;",
                "messages are not leased and have no attempt left, so they should be in the dead-letter store"),
            ("bad-priority",
                $"SELECT (SELECT count(*) FROM {s}.dq_messages WHERE priority NOT BETWEEN 0 AND 9) + " +
                $"(SELECT count(*) FROM {s}.dq_dead_letters WHERE priority NOT BETWEEN 0 AND 9);",
                "rows have a priority outside 0..9"),
            ("orphan-rows",
                $"SELECT (SELECT count(*) FROM {s}.dq_messages m WHERE NOT EXISTS (SELECT 1 FROM {s}.dq_queues q WHERE q.id = m.queue_id)) + " +
                $"(SELECT count(*) FROM {s}.dq_dead_letters d WHERE NOT EXISTS (SELECT 1 FROM {s}.dq_queues q WHERE q.id = d.queue_id));",
                "rows belong to no queue"),
            ("live-and-dead",
                $"SELECT count(*) FROM {s}.dq_messages m JOIN {s}.dq_dead_letters d ON d.id = m.id;",
                "message ids are both in a queue and in the dead-letter store"),
            ("id-sequence-behind",
                $"SELECT CASE WHEN (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {s}.dq_messages_id_seq) < " +
                $"greatest(coalesce((SELECT max(id) FROM {s}.dq_messages), 0), coalesce((SELECT max(id) FROM {s}.dq_dead_letters), 0)) THEN 1 ELSE 0 END;",
                "the message id sequence is behind the largest id in use, so a new message could reuse a dead letter's id"),
            ("missing-schema-version",
                $"SELECT CASE WHEN EXISTS (SELECT 1 FROM {s}.dq_meta WHERE key = 'schema_version') THEN 0 ELSE 1 END;",
                "the schema version is missing from dq_meta"),
        ];
        // PostgreSQL 15 has no pg_input_is_valid: the headers are parsed by the verifier itself.
        HeadersToCheck =
            $"SELECT headers FROM {s}.dq_messages WHERE headers IS NOT NULL UNION ALL SELECT headers FROM {s}.dq_dead_letters WHERE headers IS NOT NULL;";
        LastMessageId = $"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {s}.dq_messages_id_seq;";
        MessageTotal = $"SELECT count(*) FROM {s}.dq_messages;";
        DeadLetterTotal = $"SELECT count(*) FROM {s}.dq_dead_letters;";
        SchemaBytes =
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
            "WHERE n.nspname = $1 AND c.relkind IN ('r', 'm');";
    }

    public string Schema { get; }

    public string QuotedSchema { get; }

    /// <summary>Gets the LISTEN/NOTIFY channel of this schema (one per schema, so that two schemas in a database do not wake each other).</summary>
    public string Channel { get; }

    public string SchemaExists { get; }

    public string CreateSchema { get; }

    public string MetaTableExists { get; }

    public string ReadSchemaVersion { get; }

    public string WriteSchemaVersion { get; }

    public string FindQueue { get; }

    public string CreateQueue { get; }

    public string QueueNames { get; }

    public string QueueExists { get; }

    public string Insert { get; }

    public string InsertMany { get; }

    public string InsertDedup { get; }

    public string FindByDedupKey { get; }

    public string Lease { get; }

    public string NextVisible { get; }

    public string Ack { get; }

    public string AckMany { get; }

    public string LeaseQueueName { get; }

    public string AckManyAll { get; }

    public string[] PreferIndexes { get; }

    public string[] PlannerDefault { get; }

    /// <summary>Gets <see cref="PreferIndexes"/> as one statement (with one row) for a batch sent without BEGIN.</summary>
    public string PreferIndexesWithoutBegin { get; }

    public string LockLease { get; }

    public string Nack { get; }

    public string Extend { get; }

    public string Release { get; }

    public string MoveLeasedToDeadLetters { get; }

    public string SweepExpiredFinalLeases { get; }

    public string NextFinalLeaseExpiry { get; }

    public string AnyExpiredFinalLease { get; }

    public string Purge { get; }

    public string PurgeDeadLetters { get; }

    public string DeleteMessage { get; }

    /// <summary>Deletes one live message of a queue by id ($1 id, $2 queue).</summary>
    public string DeleteQueueMessage { get; }

    /// <summary>Reads a queue's stored settings ($1 name).</summary>
    public string ReadQueueSettings { get; }

    public string ReadAllQueueSettings { get; }

    /// <summary>Stores a queue's settings, replacing earlier ones.</summary>
    public string StoreQueueSettings { get; }

    public string DeadLetterIds { get; }

    public string LockDeadLetter { get; }

    public string RequeueWithKey { get; }

    public string RequeueWithoutKey { get; }

    public string DeleteDeadLetter { get; }

    public string LockQueueForAdmission { get; }

    public string QueueStats { get; }

    public string DroppableOldest { get; }

    public string PrependSearchPath { get; }

    public string Notify { get; }

    public string NotifyIfWaiting { get; }

    public string AnnounceWaiting { get; }

    public string ForgetLapsedWaiters { get; }

    public string ForgetStoreWaiters { get; }

    public string Listen { get; }

    public string RegisterWriter { get; }

    public string ForgetOldWriters { get; }

    public string ForgetWriter { get; }

    public string SetMarker { get; }

    public string ReadMarker { get; }

    public string Counts { get; }

    public string PeekReady { get; }

    public string PeekLater { get; }

    public string GetMessage { get; }

    public string MessagesAfter { get; }

    public string DeadLetters { get; }

    public string GetDeadLetter { get; }

    public string QueueStatsByName { get; }

    public (string Check, string Sql, string Description)[] Invariants { get; }

    public string HeadersToCheck { get; }

    public string LastMessageId { get; }

    public string MessageTotal { get; }

    public string DeadLetterTotal { get; }

    public string SchemaBytes { get; }

    /// <summary>Returns the channel name of a schema: "dq_" and the schema name, or a hash of it where that is longer than an identifier may be.</summary>
    public static string ChannelOf(string schema)
    {
        var channel = "dq_" + schema;
        if (System.Text.Encoding.UTF8.GetByteCount(channel) <= 63)
        {
            return channel;
        }

        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(schema));
        return "dq_" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    /// <summary>Returns the application name of a channel's listener connections ("dq listen " and the channel, cut to 63 bytes).</summary>
    public static string ListenerName(string channel)
    {
        var name = "dq listen " + channel;
        while (System.Text.Encoding.UTF8.GetByteCount(name) > 63)
        {
            name = name[..^1];
        }

        return name.Replace("'", "''", StringComparison.Ordinal);
    }

    /// <summary>Quotes an identifier for SQL ("a""b"); the name may then hold any character.</summary>
    public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Puts the schema into a migration script.</summary>
    public string ForSchema(string script) => script.Replace("{schema}", QuotedSchema, StringComparison.Ordinal);
}
