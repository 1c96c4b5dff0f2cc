-- The delivery worker's claim (issue 5, workload 3). It counts the deliveries leased to
-- each host, and only deliveries in flight have a lease (recording an outcome clears it):
-- a partial index keeps that count from walking every delivery ever made. When the
-- oldest due deliveries leave a claim short, it ranks every pending delivery per host:
-- the second index gives that ranking its rows in order without reading delivered ones.
-- Keep version numbers in step with the other engine's tree.
CREATE INDEX deliveries_leased ON deliveries (host) WHERE leased_until IS NOT NULL;
CREATE INDEX deliveries_pending ON deliveries (host, next_attempt_at, id) WHERE state = 'pending';
