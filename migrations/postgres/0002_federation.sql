-- Federation: local actor keys, remote actors, followers, the durable outbox and its
-- deliveries, remote host health, and received activity ids (dedupe).
-- Keep version numbers in step with the other engine's tree.

ALTER TABLE blog_settings ADD COLUMN manually_approves_followers BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE blog_settings ADD COLUMN note_content TEXT NOT NULL DEFAULT 'full'
    CHECK (note_content IN ('full', 'excerpt'));

-- actor: 'blog', 'instance' or 'author:ID'. The private key is a secret.
CREATE TABLE actor_keys (
    actor           TEXT PRIMARY KEY,
    public_key_pem  TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE remote_actors (
    id                 BIGSERIAL PRIMARY KEY,
    ap_id              TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    preferred_username TEXT,
    name               TEXT,
    url                TEXT,
    icon_url           TEXT,
    inbox              TEXT NOT NULL,
    shared_inbox       TEXT,
    public_key_id      TEXT NOT NULL,
    public_key_pem     TEXT NOT NULL,
    host               TEXT NOT NULL,
    -- Lower-case host[:port] of COALESCE(shared_inbox, inbox), computed by the store on
    -- upsert, so that an activity's deliveries can be inserted by one INSERT ... SELECT.
    delivery_host      TEXT NOT NULL,
    fetched_at         TIMESTAMPTZ NOT NULL,
    deleted_at         TIMESTAMPTZ
);
CREATE INDEX remote_actors_key ON remote_actors (public_key_id);
CREATE INDEX remote_actors_inbox ON remote_actors (inbox);

CREATE TABLE followers (
    local_actor     TEXT NOT NULL,
    remote_actor_id BIGINT NOT NULL REFERENCES remote_actors(id) ON DELETE CASCADE,
    follow_ap_id    TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'accepted')),
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (local_actor, remote_actor_id)
);
CREATE INDEX followers_remote ON followers (remote_actor_id);

CREATE TABLE activities (
    id            BIGSERIAL PRIMARY KEY,
    ap_id         TEXT NOT NULL UNIQUE,
    actor         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    object_ap_id  TEXT,
    post_id       BIGINT REFERENCES posts(id) ON DELETE SET NULL,
    payload       TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX activities_actor ON activities (actor, kind, created_at DESC);
CREATE INDEX activities_post ON activities (post_id);

CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    activity_id     BIGINT NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    inbox           TEXT NOT NULL,
    host            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    leased_until    TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (activity_id, inbox)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_host ON deliveries (host, state);

CREATE TABLE hosts (
    host                 TEXT PRIMARY KEY,
    failing_since        TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_success_at      TIMESTAMPTZ,
    unreachable          BOOLEAN NOT NULL DEFAULT FALSE,
    next_probe_at        TIMESTAMPTZ
);

CREATE TABLE received_activities (
    ap_id       TEXT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX received_activities_age ON received_activities (received_at);
