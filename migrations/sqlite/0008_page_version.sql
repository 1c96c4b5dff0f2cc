-- The page version: one counter that moves, in the same transaction, with every change
-- to what a public page shows (posts, their tags, comments, reactions, the blog's
-- settings, authors, blocks, and the remote actors that blocks match). The rendered-page
-- cache of `gloss serve` (crates/web/src/page_cache.rs) reads it with one query per
-- request and serves a stored page only while it has not moved, so a change made by any
-- process on the same database (the CLI, another server) is seen at once.
-- Keep version numbers in step with the other engine's tree.

CREATE TABLE page_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO page_version (id, version) VALUES (1, 1);

-- SQLite triggers run per row: a statement touching many rows bumps the counter once per
-- row, inside its transaction (a single-row update of a page already in cache).
CREATE TRIGGER posts_page_version_insert AFTER INSERT ON posts
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER posts_page_version_update AFTER UPDATE ON posts
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER posts_page_version_delete AFTER DELETE ON posts
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tags_page_version_insert AFTER INSERT ON tags
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tags_page_version_update AFTER UPDATE ON tags
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tags_page_version_delete AFTER DELETE ON tags
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER post_tags_page_version_insert AFTER INSERT ON post_tags
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER post_tags_page_version_update AFTER UPDATE ON post_tags
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER post_tags_page_version_delete AFTER DELETE ON post_tags
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER comments_page_version_insert AFTER INSERT ON comments
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER comments_page_version_update AFTER UPDATE ON comments
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER comments_page_version_delete AFTER DELETE ON comments
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER blog_settings_page_version_insert AFTER INSERT ON blog_settings
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER blog_settings_page_version_update AFTER UPDATE ON blog_settings
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER blog_settings_page_version_delete AFTER DELETE ON blog_settings
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authors_page_version_insert AFTER INSERT ON authors
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authors_page_version_update AFTER UPDATE ON authors
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authors_page_version_delete AFTER DELETE ON authors
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER reactions_page_version_insert AFTER INSERT ON reactions
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER reactions_page_version_update AFTER UPDATE ON reactions
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER reactions_page_version_delete AFTER DELETE ON reactions
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER blocks_page_version_insert AFTER INSERT ON blocks
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER blocks_page_version_update AFTER UPDATE ON blocks
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER blocks_page_version_delete AFTER DELETE ON blocks
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
-- Remote actors matter only through what a block matches (their id and domain); the
-- inbox refreshes their other fields often, which must not empty the cache.
CREATE TRIGGER remote_actors_page_version_update AFTER UPDATE OF ap_id, domain ON remote_actors
WHEN OLD.ap_id IS NOT NEW.ap_id OR OLD.domain IS NOT NEW.domain
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER remote_actors_page_version_delete AFTER DELETE ON remote_actors
BEGIN UPDATE page_version SET version = version + 1 WHERE id = 1; END;
