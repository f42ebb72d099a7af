-- DurableQueue.Hosting schema version 1 (key 'hosting_schema_version' in dq_meta; the core keeps its own version).
-- Times are INTEGER unix milliseconds from the store's TimeProvider.

-- One row per job submitted through JobClient; the id is the job's message id (never reused).
-- state: pending | running | retrying | succeeded | dead_lettered | cancelled. The live state of a job whose message
-- is still in the queue (scheduled, ready, leased) is read from the message itself.
CREATE TABLE dq_jobs (
    id           INTEGER PRIMARY KEY,
    queue        TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    run_at       INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER,
    completed_at INTEGER,
    last_error   TEXT,
    expires_at   INTEGER
) STRICT;

CREATE INDEX dq_jobs_expiry ON dq_jobs(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE dq_job_results (
    id     INTEGER PRIMARY KEY,
    result BLOB NOT NULL
) STRICT;

-- One row per recurring job. next_at is the next occurrence to fire; moving it forward under the write lock is what
-- makes each occurrence fire once, whatever the number of processes sharing the file.
CREATE TABLE dq_schedules (
    name          TEXT    PRIMARY KEY,
    cron          TEXT    NOT NULL,
    queue         TEXT    NOT NULL,
    next_at       INTEGER NOT NULL,
    last_fired_at INTEGER,
    updated_at    INTEGER NOT NULL
) STRICT;
