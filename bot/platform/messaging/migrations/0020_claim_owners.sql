-- Which engine (replica) holds a claimed or sending delivery, so the claims of an engine whose heartbeat is gone
-- are released within seconds instead of at the end of their lease.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
CREATE INDEX deliveries_by_owner ON deliveries (state, claimed_by);
