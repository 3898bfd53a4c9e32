-- The engine claims a tenant's due deliveries on their own when that tenant's broadcast gets a sending slot back
-- (each tenant's bulk lane holds at most its share of the slots), without scanning other tenants' queues.
CREATE INDEX deliveries_due_by_tenant ON deliveries (state, tenant_id, lane, next_attempt_at);
