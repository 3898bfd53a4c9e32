-- Edits and recalls after the send: operations in the same ledger as the sends.
-- A notification's content has numbered revisions (1 = the original); a recall is numbered in the same sequence.
-- Each operation has one row per delivered (or still in-flight) copy, claimed with a lease and paced like a send:
--   queued -> claimed -> applying -> done | failed | maybe_applied, or superseded (a later revision took over before
--   it started) or skipped (the copy never reached anyone). "applying" is committed before the request leaves;
--   an interrupted one becomes maybe_applied and is never repeated automatically.
ALTER TABLE notifications ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE notifications ADD COLUMN recalled_at TEXT;
-- The revision a delivery was (or will be) sent with: set when it is claimed, so a copy knows what it shows.
ALTER TABLE deliveries ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;

CREATE TABLE notification_revisions (
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    revision        INTEGER NOT NULL,
    kind            TEXT NOT NULL,  -- original | edit | recall
    mode            TEXT,           -- a recall's: delete | replace
    card            TEXT,           -- the content (an edit's, or a recall's "withdrawn" card); none for a delete
    created_at      TEXT NOT NULL,
    PRIMARY KEY (notification_id, revision)
);

CREATE TABLE delivery_operations (
    notification_id TEXT NOT NULL,
    recipient_key   TEXT NOT NULL,
    revision        INTEGER NOT NULL,
    kind            TEXT NOT NULL,  -- update | delete
    tenant_id       TEXT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lane            INTEGER NOT NULL DEFAULT 1,
    next_attempt_at TEXT NOT NULL,
    claim_token     TEXT,
    claimed_until   TEXT,
    claimed_by      TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (notification_id, recipient_key, revision),
    FOREIGN KEY (notification_id, recipient_key) REFERENCES deliveries (notification_id, recipient_key)
);
CREATE INDEX delivery_operations_due ON delivery_operations (state, lane, next_attempt_at);
CREATE INDEX delivery_operations_by_owner ON delivery_operations (state, claimed_by);
CREATE INDEX delivery_operations_by_revision ON delivery_operations (notification_id, revision, state);
