-- Team and group recipients expand into one delivery per member, a page at a time. The expanding row keeps where
-- it got to (a roster continuation token or a Graph nextLink) so a crash resumes from the last stored page.
-- Replicas share a tenant's send rate: each live engine heartbeats here and takes 1/N of the rate; a 429 seen by
-- one pauses them all.
ALTER TABLE deliveries ADD COLUMN cursor TEXT;

CREATE TABLE outreach_engines (
    engine_id   TEXT PRIMARY KEY,
    heartbeat   TEXT NOT NULL
);

CREATE TABLE outreach_pauses (
    tenant_id    TEXT PRIMARY KEY,
    paused_until TEXT NOT NULL
);

-- A nudge is a notification of its own (sent exactly once like any other) to the unacknowledged recipients of its
-- parent; their clicks are recorded on the parent.
ALTER TABLE notifications ADD COLUMN parent_id TEXT;
CREATE INDEX notifications_by_parent ON notifications (parent_id, created_at);

-- Acknowledgements, once per (notification, user): a 1:1 card is acknowledged by its recipient, a channel post by
-- everyone who clicks it. The delivery the click came from is marked too, so nudges skip it.
CREATE TABLE acknowledgements (
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    user_id         TEXT NOT NULL,
    conversation_id TEXT,
    acked_at        TEXT NOT NULL,
    PRIMARY KEY (notification_id, user_id)
);
