-- DurableQueue PostgreSQL schema version 2: each queue's settings, stored when an app opens the queue with explicit
-- options, as on SQLite (its schema version 3). A store that opens the queue without options (another host, the dq
-- tool) uses them instead of the defaults. Keyed by name: opening a queue does not create it.

CREATE TABLE {schema}.dq_queue_settings (
    queue_name    text    PRIMARY KEY,
    visibility_ms bigint  NOT NULL CHECK (visibility_ms > 0),
    max_attempts  integer NOT NULL CHECK (max_attempts >= 1),
    max_messages  bigint  CHECK (max_messages >= 1),
    max_bytes     bigint  CHECK (max_bytes >= 1),
    full_mode     text    NOT NULL CHECK (full_mode IN ('Wait', 'Reject', 'DropOldest')),
    full_wait_ms  bigint  CHECK (full_wait_ms >= 0),
    stored_at     bigint  NOT NULL
);
