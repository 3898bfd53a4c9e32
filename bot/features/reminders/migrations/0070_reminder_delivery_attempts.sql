-- Delivery attempts of the current occurrence: a reminder whose card cannot leave (no connection, 5xx, the
-- connector unreachable) is retried with a growing delay a bounded number of times, then marked 'failed' and whoever
-- set it is told; a delivered occurrence starts again from 0.
ALTER TABLE reminders ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
