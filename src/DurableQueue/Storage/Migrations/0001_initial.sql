-- DurableQueue schema version 1.
-- Every table carries the dq_ prefix so that the queue can share the file with the app's own tables.
-- Times are INTEGER unix milliseconds from the store's TimeProvider.

CREATE TABLE IF NOT EXISTS dq_meta (
    key   TEXT PRIMARY KEY,
    value ANY
) STRICT;

CREATE TABLE dq_queues (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

-- One row per live message (ready, delayed or leased). visible_at is both "ready at" and, while leased,
-- the lease expiry: an expired lease is ready again with no reaper. lease_token fences every settle.
CREATE TABLE dq_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id     INTEGER NOT NULL REFERENCES dq_queues(id),
    priority     INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),
    visible_at   INTEGER NOT NULL,
    enqueued_at  INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    lease_token  BLOB,
    dedup_key    TEXT,
    headers      TEXT,
    body         BLOB    NOT NULL,
    last_error   TEXT
) STRICT;

-- Delivery order: priority, then the time the message became ready, then enqueue order (rowid).
CREATE INDEX dq_messages_ready ON dq_messages(queue_id, priority, visible_at);
CREATE UNIQUE INDEX dq_messages_dedup ON dq_messages(queue_id, dedup_key) WHERE dedup_key IS NOT NULL;
-- Leases on the last allowed attempt: small, and lets the store dead-letter them the moment they expire.
CREATE INDEX dq_messages_final_lease ON dq_messages(visible_at) WHERE lease_token IS NOT NULL AND attempts >= max_attempts;

CREATE TABLE dq_dead_letters (
    id               INTEGER PRIMARY KEY,
    queue_id         INTEGER NOT NULL REFERENCES dq_queues(id),
    priority         INTEGER NOT NULL,
    enqueued_at      INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    dedup_key        TEXT,
    headers          TEXT,
    body             BLOB    NOT NULL,
    last_error       TEXT,
    reason           TEXT    NOT NULL,
    dead_lettered_at INTEGER NOT NULL
) STRICT;

CREATE INDEX dq_dead_letters_queue ON dq_dead_letters(queue_id);

INSERT INTO dq_meta(key, value) VALUES ('last_commit', 0) ON CONFLICT(key) DO NOTHING;
