-- Engagement after the send: when each delivered copy was read (Teams' read receipts, personal chats), clicked (a
-- signed Courier redirect per link) and reacted to (messageReaction, per type). read_after_ms is read_at - sent_at,
-- read_bucket its time-to-read histogram bucket; the totals are maintained in notification_counts (migration 0061).
ALTER TABLE deliveries ADD COLUMN read_at TEXT;
ALTER TABLE deliveries ADD COLUMN read_after_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN read_bucket INTEGER;
ALTER TABLE deliveries ADD COLUMN clicked_at TEXT;
CREATE INDEX deliveries_by_activity ON deliveries (conversation_id, activity_id);

-- The first click per (delivery, link): link is the index of the link in the stored card (see the outreach
-- feature's links module); the URL itself is never taken from the click.
CREATE TABLE delivery_clicks (
    notification_id TEXT NOT NULL,
    recipient_key   TEXT NOT NULL,
    link            INTEGER NOT NULL,
    clicked_at      TEXT NOT NULL,
    PRIMARY KEY (notification_id, recipient_key, link)
);

-- Reactions per (notification, reaction type): how many were added and removed (Teams sends both).
CREATE TABLE notification_reactions (
    notification_id TEXT NOT NULL,
    reaction        TEXT NOT NULL,
    added           INTEGER NOT NULL DEFAULT 0,
    removed         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (notification_id, reaction)
);
