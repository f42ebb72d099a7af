-- DurableQueue.Hosting schema version 1 on PostgreSQL (key 'hosting_schema_version' in dq_meta), the same tables as
-- on SQLite. Run in the store's schema (first on the connection's search path). Times are bigint unix milliseconds
-- from the store's TimeProvider.

-- One row per job submitted through JobClient; the id is the job's message id (never reused).
-- state: pending | running | retrying | succeeded | dead_lettered | cancelled.
CREATE TABLE dq_jobs (
    id           bigint  PRIMARY KEY,
    queue        text    NOT NULL,
    state        text    NOT NULL,
    created_at   bigint  NOT NULL,
    run_at       bigint,
    attempts     integer NOT NULL DEFAULT 0,
    started_at   bigint,
    completed_at bigint,
    last_error   text,
    expires_at   bigint
);

CREATE INDEX dq_jobs_expiry ON dq_jobs(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE dq_job_results (
    id     bigint PRIMARY KEY,
    result bytea  NOT NULL
);

-- One row per recurring job. next_at is the next occurrence to fire; moving it forward with a guarded UPDATE
-- (WHERE next_at = the old value) is what makes each occurrence fire once across hosts.
CREATE TABLE dq_schedules (
    name          text   PRIMARY KEY,
    cron          text   NOT NULL,
    queue         text   NOT NULL,
    next_at       bigint NOT NULL,
    last_fired_at bigint,
    updated_at    bigint NOT NULL
);
