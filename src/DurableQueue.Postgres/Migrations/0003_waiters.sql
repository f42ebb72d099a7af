-- DurableQueue PostgreSQL schema version 3: which stores have receivers waiting on which queue. A store adds its row
-- (with a lifetime, renewed while its receivers keep waiting) before a receiver waits, and a commit wakes other hosts
-- only when such a row of another store exists: a queue nobody waits on elsewhere costs no notification. Rows of a
-- store that ended without closing lapse by themselves.

CREATE TABLE {schema}.dq_waiters (
    queue_name text        NOT NULL,
    store      uuid        NOT NULL,
    until      timestamptz NOT NULL,
    PRIMARY KEY (queue_name, store)
);
