-- Which lane a delivery waits in: 0 = priority (a small notification's recipients), 1 = bulk (broadcasts, team and
-- group members). The engine claims the priority lane first, so a broadcast's queue never delays a small notice.
ALTER TABLE deliveries ADD COLUMN lane INTEGER NOT NULL DEFAULT 1;
CREATE INDEX deliveries_due_by_lane ON deliveries (state, lane, next_attempt_at);
