-- The W3C traceparent of the span that queued a notification (a turn's handler, an API request), so its
-- deliveries' spans join that trace across the queue. NULL when telemetry recorded no span.
ALTER TABLE notifications ADD COLUMN trace_parent TEXT;
