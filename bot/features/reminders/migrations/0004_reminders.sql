-- Reminders. One row per reminder; a repeating one moves its due_at forward each time it fires.
-- status: active (waiting) -> firing (claimed by one scheduler, with a lease) -> active (next occurrence) | fired
-- (one-off, shown with Done/Snooze) | done | cancelled | missed | disabled (its channel is gone) | suspended (the
-- user uninstalled Courier; purged after a grace period).
-- sending_at is written (committed) before the card leaves: a crash after it never fires that occurrence twice.
CREATE TABLE reminders (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL,
    creator_id             TEXT NOT NULL,
    creator_name           TEXT,
    target_kind            TEXT NOT NULL,
    target_user_id         TEXT,
    target_name            TEXT,
    conversation_id        TEXT,
    origin_conversation_id TEXT,
    text                   TEXT NOT NULL,
    source_link            TEXT,
    zone                   TEXT NOT NULL,
    rule                   TEXT,
    anchor                 TEXT,
    due_at                 TEXT NOT NULL,
    occurrence_at          TEXT NOT NULL,
    status                 TEXT NOT NULL,
    claim_token            TEXT,
    claimed_until          TEXT,
    sending_at             TEXT,
    fired_count            INTEGER NOT NULL DEFAULT 0,
    last_fired_at          TEXT,
    last_activity_id       TEXT,
    purge_after            TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX reminders_due ON reminders (status, due_at);
CREATE INDEX reminders_by_creator ON reminders (tenant_id, creator_id, status);
CREATE INDEX reminders_by_conversation ON reminders (conversation_id, status);
