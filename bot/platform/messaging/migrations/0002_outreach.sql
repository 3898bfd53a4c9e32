-- Outreach: notifications and the delivery ledger, one row per (notification, recipient).
-- Delivery states: queued -> claimed -> sending -> sent | failed | maybe_delivered | not_installed; or cancelled.
-- "claimed" never left the building (safe to requeue when its lease expires); "sending" may have left (a crash
-- there becomes maybe_delivered, never an automatic resend).

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    sender          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    card            TEXT NOT NULL,
    ack_required    INTEGER NOT NULL DEFAULT 0,
    send_at         TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    completed_at    TEXT,
    UNIQUE (sender, idempotency_key)
);

CREATE TABLE deliveries (
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    recipient_key   TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claim_token     TEXT,
    claimed_until   TEXT,
    conversation_id TEXT,
    activity_id     TEXT,
    sent_at         TEXT,
    acked_at        TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (notification_id, recipient_key)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_by_state ON deliveries (notification_id, state, recipient_key);
