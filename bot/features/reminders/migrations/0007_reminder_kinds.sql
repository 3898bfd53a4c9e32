-- Scheduled posts that are not plain reminders (the weekly insights digest) ride on the reminder scheduler:
-- same storage, recurrence, time zones and exactly-once firing; the kind says how to draw the card.
ALTER TABLE reminders ADD COLUMN kind TEXT NOT NULL DEFAULT 'reminder';
