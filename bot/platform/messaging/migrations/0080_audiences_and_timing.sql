-- Audiences and timing. A notification sent at a wall-clock time in each recipient's zone keeps that time
-- ("2026-12-07T09:00"); each delivery's next_attempt_at is then its own due time. An important notification also
-- goes to the recipient's Teams activity feed: each delivery records how that went (sent, or failed:<reason>),
-- apart from its chat state, which it never holds back.
ALTER TABLE notifications ADD COLUMN local_time TEXT;
ALTER TABLE notifications ADD COLUMN important INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN feed TEXT;
