-- Indexes found by the benchmarks (issue 5). Keep version numbers in step with the other
-- engine's tree.

-- The delivery worker's claim counts the deliveries leased to each host, and only
-- deliveries in flight have a lease (recording an outcome clears it): a partial index
-- keeps that count from walking every delivery ever made. When the oldest due
-- deliveries leave a claim short, it ranks every pending delivery per host: the second
-- index gives that ranking its rows in order without reading delivered ones.
CREATE INDEX deliveries_leased ON deliveries (host) WHERE leased_until IS NOT NULL;
CREATE INDEX deliveries_pending ON deliveries (host, next_attempt_at, id) WHERE state = 'pending';

-- Counting a post's public comments (home, tag and author pages, the post page) also
-- reads `deleted_at` and `remote_actor_id`: with them in the index the count never
-- reads the comments themselves (a cold start on 100,000 comments read them all for the
-- ten posts of the home page).
DROP INDEX comments_post_state;
CREATE INDEX comments_post_listed ON comments (post_id, moderation, visibility, deleted_at, remote_actor_id);
