-- Gloss initial schema (PostgreSQL). Keep version numbers in step with migrations/sqlite.

CREATE TABLE authors (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    bio           TEXT NOT NULL DEFAULT '',
    avatar_url    TEXT,
    password_hash TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    import_key    TEXT UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE posts (
    id            BIGSERIAL PRIMARY KEY,
    author_id     BIGINT NOT NULL REFERENCES authors(id),
    title         TEXT NOT NULL,
    slug          TEXT NOT NULL UNIQUE,
    source        TEXT NOT NULL,
    content_html  TEXT NOT NULL,
    summary       TEXT,
    status        TEXT NOT NULL CHECK (status IN ('draft', 'published', 'deleted')),
    origin        TEXT NOT NULL CHECK (origin IN ('local', 'imported')),
    comments_open BOOLEAN NOT NULL DEFAULT TRUE,
    import_key    TEXT UNIQUE,
    published_at  TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX posts_status_published ON posts (status, published_at DESC, id DESC);
CREATE INDEX posts_author ON posts (author_id, status, published_at DESC);

CREATE TABLE tags (
    id   BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE post_tags (
    post_id  BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    tag_id   BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (post_id, tag_id)
);
CREATE INDEX post_tags_tag ON post_tags (tag_id);

CREATE TABLE comments (
    id                BIGSERIAL PRIMARY KEY,
    post_id           BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    parent_id         BIGINT REFERENCES comments(id),
    depth             INTEGER NOT NULL DEFAULT 0,
    author_name       TEXT NOT NULL,
    author_url        TEXT,
    author_avatar_url TEXT,
    author_email      TEXT,
    content_html      TEXT NOT NULL,
    origin            TEXT NOT NULL CHECK (origin IN ('local', 'imported', 'fediverse')),
    moderation        TEXT NOT NULL CHECK (moderation IN ('pending', 'approved', 'hidden', 'spam')),
    ap_id             TEXT UNIQUE,
    import_key        TEXT UNIQUE,
    published_at      TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ,
    deleted_at        TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX comments_post ON comments (post_id, published_at, id);
CREATE INDEX comments_parent ON comments (parent_id);
CREATE INDEX comments_moderation ON comments (moderation, published_at DESC);

CREATE TABLE blog_settings (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    avatar_url        TEXT,
    default_author_id BIGINT REFERENCES authors(id)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    author_id  BIGINT NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
