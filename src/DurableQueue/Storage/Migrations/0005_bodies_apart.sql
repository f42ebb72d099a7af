-- DurableQueue schema version 5: bodies are written once.
-- A receive, nack, extend or release updates the message's row, and SQLite writes an updated row whole, overflow
-- pages included: a large body was written to the WAL again on every attempt. Bodies larger than the row limit
-- (2,048 bytes) now live in dq_bodies under the message's id, written once when the message is enqueued, kept when it
-- moves to the dead letters and back, and deleted with the last row that refers to it. Such a row keeps an empty body
-- and the body's size in body_size. Small bodies stay in the row: its page is written by every lease anyway.
-- Numbered 0005 and written so that it may run before or after migrations 0003 and 0004 (nothing here depends on them).

CREATE TABLE dq_bodies (
    id   INTEGER PRIMARY KEY,  -- the id of the message (live or dead-lettered) whose body this is
    body BLOB    NOT NULL
) STRICT;

-- NULL: the body is in the row. Otherwise the body's size; the body is in dq_bodies and the row's body is empty.
ALTER TABLE dq_messages ADD COLUMN body_size INTEGER;
ALTER TABLE dq_dead_letters ADD COLUMN body_size INTEGER;

-- The counters of schema version 2 count a body wherever it is.
DROP TRIGGER IF EXISTS dq_messages_stats_insert;
DROP TRIGGER IF EXISTS dq_messages_stats_delete;
DROP TRIGGER IF EXISTS dq_messages_stats_update;

-- Large bodies of live messages move out once (with the triggers above gone, the counters do not change).
-- Dead letters are never updated, so theirs stay where they are.
INSERT INTO dq_bodies(id, body) SELECT id, body FROM dq_messages WHERE length(body) > 2048;
UPDATE dq_messages SET body_size = length(body), body = X'' WHERE length(body) > 2048;

CREATE TRIGGER dq_messages_stats_insert AFTER INSERT ON dq_messages
BEGIN
    UPDATE dq_queue_stats SET messages = messages + 1, bytes = bytes + coalesce(new.body_size, length(new.body))
    WHERE queue_id = new.queue_id;
END;

CREATE TRIGGER dq_messages_stats_delete AFTER DELETE ON dq_messages
BEGIN
    UPDATE dq_queue_stats SET messages = messages - 1, bytes = bytes - coalesce(old.body_size, length(old.body)),
        removed_total = removed_total + 1
    WHERE queue_id = old.queue_id;
END;

-- The queue never changes a body or moves a message between queues; this keeps the counters right if anything does.
CREATE TRIGGER dq_messages_stats_update AFTER UPDATE OF queue_id, body, body_size ON dq_messages
BEGIN
    UPDATE dq_queue_stats SET messages = messages - 1, bytes = bytes - coalesce(old.body_size, length(old.body))
    WHERE queue_id = old.queue_id;
    UPDATE dq_queue_stats SET messages = messages + 1, bytes = bytes + coalesce(new.body_size, length(new.body))
    WHERE queue_id = new.queue_id;
END;

-- A body kept apart goes with the last row that refers to it: a message moving to the dead letters, or a dead letter
-- moving back into its queue, inserts the new row first and so keeps the body.
CREATE TRIGGER dq_messages_body_delete AFTER DELETE ON dq_messages WHEN old.body_size IS NOT NULL
BEGIN
    DELETE FROM dq_bodies WHERE id = old.id AND NOT EXISTS (SELECT 1 FROM dq_dead_letters d WHERE d.id = old.id);
END;

CREATE TRIGGER dq_dead_letters_body_delete AFTER DELETE ON dq_dead_letters WHEN old.body_size IS NOT NULL
BEGIN
    DELETE FROM dq_bodies WHERE id = old.id AND NOT EXISTS (SELECT 1 FROM dq_messages m WHERE m.id = old.id);
END;
