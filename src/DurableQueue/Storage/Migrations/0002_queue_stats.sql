-- DurableQueue schema version 2: per-queue counters for back pressure.
-- The counters are kept by triggers, so every writer of the file (any process, the unit of work, the app's own SQL
-- on dq_ tables) keeps them exact in the same transaction as the change itself. A capacity check then reads one row
-- inside the writer's transaction instead of counting (COUNT over the index grows with the backlog; summing body
-- sizes reads every row).

CREATE TABLE dq_queue_stats (
    queue_id      INTEGER PRIMARY KEY REFERENCES dq_queues(id),
    messages      INTEGER NOT NULL DEFAULT 0,  -- live messages: ready, delayed and leased
    bytes         INTEGER NOT NULL DEFAULT 0,  -- sum of their body sizes
    dead_letters  INTEGER NOT NULL DEFAULT 0,
    removed_total INTEGER NOT NULL DEFAULT 0   -- monotonic: messages that ever left the queue (drain rate)
) STRICT;

INSERT INTO dq_queue_stats(queue_id, messages, bytes, dead_letters)
SELECT q.id,
       (SELECT count(*) FROM dq_messages m WHERE m.queue_id = q.id),
       (SELECT coalesce(sum(length(m.body)), 0) FROM dq_messages m WHERE m.queue_id = q.id),
       (SELECT count(*) FROM dq_dead_letters d WHERE d.queue_id = q.id)
FROM dq_queues q;

CREATE TRIGGER dq_queues_stats_row AFTER INSERT ON dq_queues
BEGIN
    INSERT INTO dq_queue_stats(queue_id) VALUES (new.id) ON CONFLICT(queue_id) DO NOTHING;
END;

CREATE TRIGGER dq_messages_stats_insert AFTER INSERT ON dq_messages
BEGIN
    UPDATE dq_queue_stats SET messages = messages + 1, bytes = bytes + length(new.body) WHERE queue_id = new.queue_id;
END;

CREATE TRIGGER dq_messages_stats_delete AFTER DELETE ON dq_messages
BEGIN
    UPDATE dq_queue_stats SET messages = messages - 1, bytes = bytes - length(old.body), removed_total = removed_total + 1
    WHERE queue_id = old.queue_id;
END;

-- The queue never changes a body or moves a message between queues; this keeps the counters right if anything does.
CREATE TRIGGER dq_messages_stats_update AFTER UPDATE OF queue_id, body ON dq_messages
BEGIN
    UPDATE dq_queue_stats SET messages = messages - 1, bytes = bytes - length(old.body) WHERE queue_id = old.queue_id;
    UPDATE dq_queue_stats SET messages = messages + 1, bytes = bytes + length(new.body) WHERE queue_id = new.queue_id;
END;

CREATE TRIGGER dq_dead_letters_stats_insert AFTER INSERT ON dq_dead_letters
BEGIN
    UPDATE dq_queue_stats SET dead_letters = dead_letters + 1 WHERE queue_id = new.queue_id;
END;

CREATE TRIGGER dq_dead_letters_stats_delete AFTER DELETE ON dq_dead_letters
BEGIN
    UPDATE dq_queue_stats SET dead_letters = dead_letters - 1 WHERE queue_id = old.queue_id;
END;
