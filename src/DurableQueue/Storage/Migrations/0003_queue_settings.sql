-- DurableQueue schema version 3: each queue's settings, stored when an app opens the queue with explicit options.
-- A store that opens the queue without options (another process, the dq tool) uses them instead of the defaults.
-- Keyed by name, not by dq_queues row: opening a queue does not create it (it exists once a message was enqueued).
-- Times are milliseconds; full_mode is the QueueFullMode name.

CREATE TABLE dq_queue_settings (
    queue_name    TEXT    PRIMARY KEY,
    visibility_ms INTEGER NOT NULL CHECK (visibility_ms > 0),
    max_attempts  INTEGER NOT NULL CHECK (max_attempts >= 1),
    max_messages  INTEGER CHECK (max_messages >= 1),
    max_bytes     INTEGER CHECK (max_bytes >= 1),
    full_mode     TEXT    NOT NULL CHECK (full_mode IN ('Wait', 'Reject', 'DropOldest')),
    full_wait_ms  INTEGER CHECK (full_wait_ms >= 0),
    stored_at     INTEGER NOT NULL
) STRICT;
