-- Fediverse replies as comments (issue 4): who wrote a comment and for whom, its content
-- warning, attachments and edits, deletions that stay deleted (tombstones), likes and
-- boosts, reports (flags), moderation decisions and blocks.
-- Keep version numbers in step with the other engine's tree.

-- The remote author of a fediverse comment (NULL for local and imported ones).
ALTER TABLE comments ADD COLUMN remote_actor_id INTEGER
    REFERENCES remote_actors(id) ON DELETE SET NULL;
-- The local author of a reply written in Gloss (NULL for readers' and remote comments).
ALTER TABLE comments ADD COLUMN local_author_id INTEGER
    REFERENCES authors(id) ON DELETE SET NULL;
-- Only 'public' and 'unlisted' comments ever appear on pages, in feeds, APIs and counts;
-- 'followers' and 'direct' ones are private messages shown in the admin UI only.
ALTER TABLE comments ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'unlisted', 'followers', 'direct'));
-- The `inReplyTo` the remote object carried, as received.
ALTER TABLE comments ADD COLUMN in_reply_to_ap_id TEXT;
-- Content warning (plain text) and whether the content is marked sensitive.
ALTER TABLE comments ADD COLUMN summary TEXT;
ALTER TABLE comments ADD COLUMN sensitive BOOLEAN NOT NULL DEFAULT FALSE;
-- JSON array of {"url", "media_type", "name"} objects.
ALTER TABLE comments ADD COLUMN attachments_json TEXT NOT NULL DEFAULT '[]';
-- The remote object's HTML page.
ALTER TABLE comments ADD COLUMN url TEXT;
-- Kept in step with `reactions` by the store, in the same transaction.
ALTER TABLE comments ADD COLUMN like_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN announce_count INTEGER NOT NULL DEFAULT 0;
-- Why the comment is held, hidden or spam (the latest decision's reason).
ALTER TABLE comments ADD COLUMN moderation_reason TEXT;
CREATE INDEX comments_remote_actor ON comments (remote_actor_id, created_at);
CREATE INDEX comments_visibility ON comments (visibility, published_at DESC);

-- Lower-case host of the actor without its port, computed by the store on upsert: domain
-- blocks are matched against it (a domain and its subdomains, whatever the port).
ALTER TABLE remote_actors ADD COLUMN domain TEXT NOT NULL DEFAULT '';
UPDATE remote_actors SET domain = CASE
    WHEN host LIKE '[%]:%' THEN substr(host, 1, instr(host, ']'))
    WHEN host NOT LIKE '[%' AND instr(host, ':') > 0 THEN substr(host, 1, instr(host, ':') - 1)
    ELSE host END;
CREATE INDEX remote_actors_domain ON remote_actors (domain);

-- Earlier versions of an edited comment, for the admin UI.
CREATE TABLE comment_revisions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id       INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    content_html     TEXT NOT NULL,
    summary          TEXT,
    sensitive        BOOLEAN NOT NULL DEFAULT FALSE,
    attachments_json TEXT NOT NULL DEFAULT '[]',
    -- When this version was written (published or last updated) and when it was replaced.
    written_at       TEXT NOT NULL,
    replaced_at      TEXT NOT NULL
);
CREATE INDEX comment_revisions_comment ON comment_revisions (comment_id, id);

-- Objects (comments, reactions) that were deleted or undone: a late or replayed Create,
-- Like or Announce with the same id is refused. actor_ap_id is who deleted it (NULL: a
-- local object, or deleted here).
CREATE TABLE tombstones (
    ap_id       TEXT PRIMARY KEY,
    actor_ap_id TEXT,
    deleted_at  TEXT NOT NULL
);

-- Likes and Announces of a post or of a comment, by their activity id.
CREATE TABLE reactions (
    ap_id           TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('like', 'announce')),
    remote_actor_id INTEGER NOT NULL REFERENCES remote_actors(id) ON DELETE CASCADE,
    post_id         INTEGER REFERENCES posts(id) ON DELETE CASCADE,
    comment_id      INTEGER REFERENCES comments(id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL,
    CHECK ((post_id IS NULL) <> (comment_id IS NULL))
);
-- One like (and one announce) per actor and object, whatever the activity ids.
CREATE UNIQUE INDEX reactions_once_per_post ON reactions (kind, remote_actor_id, post_id)
    WHERE post_id IS NOT NULL;
CREATE UNIQUE INDEX reactions_once_per_comment ON reactions (kind, remote_actor_id, comment_id)
    WHERE comment_id IS NOT NULL;
CREATE INDEX reactions_post ON reactions (post_id);
CREATE INDEX reactions_comment ON reactions (comment_id);
CREATE INDEX reactions_actor ON reactions (remote_actor_id);

-- Reports (Flag activities) for the admin UI.
CREATE TABLE flags (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    ap_id                TEXT UNIQUE,
    reporter_actor_id    INTEGER NOT NULL REFERENCES remote_actors(id) ON DELETE CASCADE,
    -- JSON array of the reported objects' ids.
    object_ap_ids_json   TEXT NOT NULL DEFAULT '[]',
    content              TEXT NOT NULL DEFAULT '',
    created_at           TEXT NOT NULL,
    resolved_at          TEXT
);
CREATE INDEX flags_open ON flags (resolved_at, created_at DESC);

-- Every moderation decision, with its reason: 'rules' or 'author:ID' decided it.
CREATE TABLE moderation_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    decision   TEXT NOT NULL CHECK (decision IN ('pending', 'approved', 'hidden', 'spam')),
    reason     TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX moderation_log_comment ON moderation_log (comment_id, id);

-- Blocked actors (by ActivityPub id) and domains (a domain blocks its subdomains too).
CREATE TABLE blocks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('actor', 'domain')),
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (kind, value)
);
