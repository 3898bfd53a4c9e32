-- The weekly insights digest no longer rides on the reminders table (its kind column and card makers are gone):
-- each digest still on becomes a plain job of the platform scheduler (0009_jobs.sql), kind insights.digest, keyed
-- by its channel, due when the row was; then every digest row (on, or turned off long ago) leaves the reminders.
-- A turned-off digest (cancelled) is not moved: it would come back on. The column stays; only 'reminder' rows are
-- reminders now.
INSERT INTO jobs (kind, key, tenant_id, due_at, payload, status, attempts, created_at, updated_at)
SELECT 'insights.digest', conversation_id, tenant_id, due_at, '{"zone": "' || zone || '"}', 'waiting', 0,
       created_at, updated_at
FROM reminders
WHERE kind = 'insights_digest' AND status IN ('active', 'firing') AND conversation_id IS NOT NULL
ON CONFLICT (kind, key) DO NOTHING;
DELETE FROM reminders WHERE kind = 'insights_digest';
