-- Channel insights: one row per channel message Courier has seen (delivered live through resource-specific consent,
-- or backfilled from Graph). Only what the metrics need, plus a short snippet to link unanswered questions.
-- weekday (0 = Monday) and hour are UTC, stored at ingest so grouping is the same SQL on SQLite and PostgreSQL.
CREATE TABLE channel_messages (
    channel_id    TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    team_id       TEXT,
    thread_id     TEXT NOT NULL,
    is_reply      INTEGER NOT NULL,
    author_id     TEXT NOT NULL,
    author_name   TEXT,
    created_at    TEXT NOT NULL,
    weekday       INTEGER NOT NULL,
    hour          INTEGER NOT NULL,
    is_question   INTEGER NOT NULL DEFAULT 0,
    mentions      INTEGER NOT NULL DEFAULT 0,
    reactions     INTEGER NOT NULL DEFAULT 0,
    snippet       TEXT,
    deleted       INTEGER NOT NULL DEFAULT 0,
    edited_at     TEXT,
    PRIMARY KEY (channel_id, message_id)
);
CREATE INDEX channel_messages_by_time ON channel_messages (channel_id, created_at);
CREATE INDEX channel_messages_by_thread ON channel_messages (channel_id, thread_id, created_at);
CREATE INDEX channel_messages_by_team ON channel_messages (team_id, created_at);

CREATE TABLE insights_optout (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
