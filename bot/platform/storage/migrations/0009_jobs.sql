-- The job scheduler's plain jobs (bot/platform/jobs.py): one row per (kind, key), e.g. a channel's weekly digest.
-- status: waiting -> running (claimed with a lease by one replica) -> waiting (next run) or deleted (done).
CREATE TABLE jobs (
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    tenant_id     TEXT NOT NULL DEFAULT '',
    due_at        TEXT NOT NULL,
    payload       TEXT NOT NULL DEFAULT '{}',
    status        TEXT NOT NULL,
    claim_token   TEXT,
    claimed_until TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX jobs_due ON jobs (status, due_at);
