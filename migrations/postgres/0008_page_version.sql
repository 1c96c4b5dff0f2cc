-- The page version: one counter that moves, in the same transaction, with every change
-- to what a public page shows (posts, their tags, comments, reactions, the blog's
-- settings, authors, blocks, and the remote actors that blocks match). The rendered-page
-- cache of `gloss serve` (crates/web/src/page_cache.rs) reads it with one query per
-- request and serves a stored page only while it has not moved, so a change made by any
-- process on the same database (the CLI, another server) is seen at once.
-- Keep version numbers in step with the other engine's tree.

CREATE TABLE page_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO page_version (id, version) VALUES (1, 1);

-- Bumps the counter once per transaction: the first change takes the row lock (held to
-- the commit, like any update), later ones in the same transaction see the local flag
-- and skip the update (no extra row versions during an import of thousands of rows).
CREATE FUNCTION bump_page_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('gloss.page_version_bumped', true) IS DISTINCT FROM 'on' THEN
        UPDATE page_version SET version = version + 1 WHERE id = 1;
        PERFORM set_config('gloss.page_version_bumped', 'on', true);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER posts_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER tags_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tags
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER post_tags_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON post_tags
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER comments_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON comments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER blog_settings_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blog_settings
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER authors_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authors
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER reactions_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON reactions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER blocks_page_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blocks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
-- Remote actors matter only through what a block matches (their id and domain); the
-- inbox refreshes their other fields often, which must not empty the cache.
CREATE TRIGGER remote_actors_page_version_update AFTER UPDATE OF ap_id, domain ON remote_actors
    FOR EACH ROW
    WHEN (OLD.ap_id IS DISTINCT FROM NEW.ap_id OR OLD.domain IS DISTINCT FROM NEW.domain)
    EXECUTE FUNCTION bump_page_version();
CREATE TRIGGER remote_actors_page_version_delete AFTER DELETE OR TRUNCATE ON remote_actors
    FOR EACH STATEMENT EXECUTE FUNCTION bump_page_version();
