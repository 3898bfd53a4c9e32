-- The deliveries a crash caught between their "sending" mark and the request leaving, found by age so the engine
-- can reconcile them (read the chat through Graph: arrived -> sent, absent -> queued again).
CREATE INDEX deliveries_interrupted ON deliveries (updated_at)
    WHERE state = 'maybe_delivered' AND reason = 'interrupted_while_sending';
