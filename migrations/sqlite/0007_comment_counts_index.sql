-- Counting a post's public comments (home, tag and author pages, the post page) filters
-- on the post and the moderation state together: without this index SQLite's planner
-- picked `comments_moderation` and walked every approved comment of the blog for each
-- post (20 times slower with 100,000 comments, found by the cold-start benchmark).
-- Keep version numbers in step with the other engine's tree.
CREATE INDEX comments_post_state ON comments (post_id, moderation, visibility);
