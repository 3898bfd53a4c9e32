-- Rooms watched: one watch per tenant (the channel alerts go to), each room's last seen presence, and the alerts.
-- An alert is open while open_key holds "tenant:room"; the unique constraint makes "at most one open alert per room"
-- a fact of the database, across restarts and replicas (a closed alert sets it to NULL, which never collides).
CREATE TABLE room_watches (
    tenant_id          TEXT PRIMARY KEY,
    conversation_id    TEXT NOT NULL,
    watched_by         TEXT NOT NULL,
    rooms_refreshed_at TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE room_states (
    tenant_id     TEXT NOT NULL,
    room_id       TEXT NOT NULL,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    availability  TEXT,
    offline_since TEXT,
    checked_at    TEXT,
    PRIMARY KEY (tenant_id, room_id)
);

CREATE TABLE room_alerts (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    room_id         TEXT NOT NULL,
    room_name       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    open_key        TEXT UNIQUE,
    state           TEXT NOT NULL,
    offline_since   TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    claimed_by      TEXT,
    claimed_until   TEXT,
    activity_id     TEXT,
    back_at         TEXT,
    closed_at       TEXT
);
CREATE INDEX room_alerts_by_tenant ON room_alerts (tenant_id, opened_at);
