//! What the two engines share: the SQL text (written once, in the portable subset both
//! SQLite and PostgreSQL accept), the row structs and their conversion into domain types,
//! error mapping, and every piece of logic that spans several statements (creating and
//! updating posts with their tags, adding comments, imports, thread order).
//!
//! The engines (`sqlite.rs`, `postgres.rs`) only run statements: each implements
//! [`TxStatements`] on its connection type and [`Store`](crate::Store) on its pool, so a
//! behaviour is fixed here once and the conformance suite checks that both engines agree.

use crate::discussion_util::{DiscussionStatements, log_rules_decision};
use crate::error::Error;
use crate::federation_model::{OutgoingActivity, RemoteActorId};
use crate::federation_util::{FederationTxStatements, record_outbox};
use crate::model::{
    Attachment, Author, AuthorId, BlogSettings, Comment, CommentId, CommentOrigin, ImportBatch,
    ImportComment, ImportReport, Moderation, NewAuthor, NewComment, NoteContent, Page, Post,
    PostDraft, PostId, PostOrigin, PostStatus, Session, SiteCounts, Tag, TagCount, Visibility,
};
use crate::store::{CommentFilter, Result};
use async_trait::async_trait;
use chrono::{DateTime, DurationRound, SubsecRound, Utc};
use std::collections::{HashMap, HashSet};

// ---------------------------------------------------------------------------------------
// time and paging
// ---------------------------------------------------------------------------------------

/// The current time at the precision both engines store (microseconds), so that a value
/// written and read back compares equal on SQLite (TEXT) and PostgreSQL (TIMESTAMPTZ).
/// Called by every method that stamps a row.
pub(crate) fn now() -> DateTime<Utc> {
    db_time(Utc::now())
}

/// Truncates a caller-supplied time to microseconds before it is bound. PostgreSQL would
/// truncate it anyway; doing it for SQLite too keeps the engines identical.
pub(crate) fn db_time(time: DateTime<Utc>) -> DateTime<Utc> {
    // `duration_trunc` rounds towards the past, also before 1970; `trunc_subsecs` is the
    // fallback for the (out of range) times where it fails.
    time.duration_trunc(chrono::Duration::microseconds(1))
        .unwrap_or_else(|_| time.trunc_subsecs(6))
}

/// Clamps a page to what both engines accept: a negative LIMIT means "no limit" to SQLite
/// but is an error for PostgreSQL, so both get an empty page instead.
pub(crate) fn page_bounds(page: Page) -> (i64, i64) {
    (page.limit.max(0), page.offset.max(0))
}

// ---------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------

/// Maps the error of a write: a unique violation becomes [`Error::Conflict`] and a foreign
/// key violation [`Error::Invalid`] (both name `what` and the database's message, which
/// names the column); anything else stays a database error. Called on every INSERT/UPDATE.
pub(crate) fn write_error(err: sqlx::Error, what: impl FnOnce() -> String) -> Error {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return Error::Conflict(format!("{}: {}", what(), db.message()));
        }
        if db.is_foreign_key_violation() {
            return Error::Invalid(format!(
                "{} refers to a row that does not exist: {}",
                what(),
                db.message()
            ));
        }
    }
    Error::Database(err)
}

/// Parses an enum stored as TEXT, failing with a clear [`Error::Invalid`] when the database
/// holds a value this version does not know (the CHECK constraints make that unlikely).
pub(crate) fn parse_stored<T>(value: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(value).ok_or_else(|| Error::Invalid(format!("unknown {what} {value:?} in the database")))
}

// ---------------------------------------------------------------------------------------
// rows
// ---------------------------------------------------------------------------------------

/// Column lists, as macros so that `concat!` can build whole statements at compile time.
macro_rules! author_columns {
    () => {
        "id, username, display_name, bio, avatar_url, is_admin, created_at"
    };
}
macro_rules! post_columns {
    () => {
        "id, author_id, title, slug, source, content_html, summary, status, origin, \
         comments_open, published_at, updated_at, created_at"
    };
}
/// Whether the domain `$domain` (an SQL expression) is the block row `b`'s domain or one
/// of its subdomains: a block or limit on `example.com` covers `example.com` and
/// `*.example.com`. The one spelling of that rule in SQL.
macro_rules! domain_covered_by_block {
    ($domain:literal) => {
        concat!(
            "(",
            $domain,
            " = b.value OR (LENGTH(",
            $domain,
            ") > LENGTH(b.value) AND SUBSTR(",
            $domain,
            ", LENGTH(",
            $domain,
            ") - LENGTH(b.value)) = ('.' || b.value)))"
        )
    };
}
/// Whether the remote author of comment `c`, or their domain or a domain above it, is
/// blocked: computed on every read, so that lifting a block brings the comments back.
macro_rules! comment_author_blocked {
    () => {
        concat!(
            "(c.remote_actor_id IS NOT NULL AND EXISTS (SELECT 1 FROM remote_actors bra \
             JOIN blocks b ON (b.kind = 'actor' AND b.value = bra.ap_id) \
             OR (b.kind = 'domain' AND ",
            $crate::util::domain_covered_by_block!("bra.domain"),
            ") WHERE bra.id = c.remote_actor_id))"
        )
    };
}
/// Whether comment `c` has its place in what readers see (pages, feeds, APIs, counts,
/// collections): approved, public or unlisted, and not by a blocked author. The same rule
/// as [`Comment::is_listed`].
macro_rules! comment_listed {
    () => {
        concat!(
            "(c.moderation = 'approved' AND c.visibility IN ('public', 'unlisted') AND NOT ",
            $crate::util::comment_author_blocked!(),
            ")"
        )
    };
}
/// The values of a comment `c` in [`CommentRow`] order, the last one whether its author
/// is blocked; also the elements of the JSON arrays of [`CommentJson`].
macro_rules! comment_values {
    () => {
        concat!(
            "c.id, c.post_id, c.parent_id, c.depth, c.author_name, c.author_url, \
             c.author_avatar_url, c.content_html, c.origin, c.moderation, c.ap_id, \
             c.published_at, c.updated_at, c.deleted_at, c.remote_actor_id, c.local_author_id, \
             c.visibility, c.in_reply_to_ap_id, c.summary, c.sensitive, c.attachments_json, \
             c.url, c.like_count, c.announce_count, c.moderation_reason, ",
            $crate::util::comment_author_blocked!()
        )
    };
}
/// The columns of a comment `c`, with whether its author is blocked.
macro_rules! comment_columns {
    () => {
        concat!($crate::util::comment_values!(), " AS author_blocked")
    };
}
pub(crate) use {
    comment_author_blocked, comment_columns, comment_listed, comment_values,
    domain_covered_by_block,
};

/// An `authors` row as read by every author query (never the password hash).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuthorRow {
    id: i64,
    username: String,
    display_name: String,
    bio: String,
    avatar_url: Option<String>,
    is_admin: bool,
    created_at: DateTime<Utc>,
}

impl From<AuthorRow> for Author {
    fn from(row: AuthorRow) -> Self {
        Author {
            id: AuthorId(row.id),
            username: row.username,
            display_name: row.display_name,
            bio: row.bio,
            avatar_url: row.avatar_url,
            is_admin: row.is_admin,
            created_at: row.created_at,
        }
    }
}

/// An author with the password hash, read only at login.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    author: AuthorRow,
    password_hash: String,
}

impl From<CredentialsRow> for (Author, String) {
    fn from(row: CredentialsRow) -> Self {
        (row.author.into(), row.password_hash)
    }
}

/// A `posts` row; its tags come from `post_tags` in a second query.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PostRow {
    id: i64,
    author_id: i64,
    title: String,
    slug: String,
    source: String,
    content_html: String,
    summary: Option<String>,
    status: String,
    origin: String,
    comments_open: bool,
    published_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl PostRow {
    /// The post's id, to load its tags.
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// The domain post, with its tags in display order.
    pub(crate) fn into_post(self, tags: Vec<Tag>) -> Result<Post> {
        Ok(Post {
            id: PostId(self.id),
            author_id: AuthorId(self.author_id),
            title: self.title,
            slug: self.slug,
            source: self.source,
            content_html: self.content_html,
            summary: self.summary,
            tags,
            status: parse_stored(&self.status, PostStatus::parse, "post status")?,
            origin: parse_stored(&self.origin, PostOrigin::parse, "post origin")?,
            comments_open: self.comments_open,
            published_at: self.published_at,
            updated_at: self.updated_at,
            created_at: self.created_at,
        })
    }
}

/// One tag of one post, as loaded for a whole listing at once.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PostTagRow {
    post_id: i64,
    slug: String,
    name: String,
}

/// A tag with its display name.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TagRow {
    slug: String,
    name: String,
}

impl From<TagRow> for Tag {
    fn from(row: TagRow) -> Self {
        Tag {
            slug: row.slug,
            name: row.name,
        }
    }
}

/// A row of the tag cloud query.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TagCountRow {
    slug: String,
    name: String,
    posts: i64,
}

/// Joins the rows of posts with the tag rows loaded for them in one query (rows must be
/// ordered by position); called after every post listing.
pub(crate) fn posts_with_tags(rows: Vec<PostRow>, tags: Vec<PostTagRow>) -> Result<Vec<Post>> {
    let mut by_post: HashMap<i64, Vec<Tag>> = HashMap::new();
    for tag in tags {
        by_post.entry(tag.post_id).or_default().push(Tag {
            slug: tag.slug,
            name: tag.name,
        });
    }
    rows.into_iter()
        .map(|row| {
            let tags = by_post.remove(&row.id).unwrap_or_default();
            row.into_post(tags)
        })
        .collect()
}

/// The tag cloud in a defined order (case-insensitive name, then name, then slug). Sorted
/// here rather than in SQL because the engines' text collations differ.
pub(crate) fn tag_counts(rows: Vec<TagCountRow>) -> Vec<TagCount> {
    let mut counts: Vec<TagCount> = rows
        .into_iter()
        .map(|row| TagCount {
            tag: Tag {
                slug: row.slug,
                name: row.name,
            },
            posts: row.posts,
        })
        .collect();
    counts.sort_by_cached_key(|count| {
        (
            count.tag.name.to_lowercase(),
            count.tag.name.clone(),
            count.tag.slug.clone(),
        )
    });
    counts
}

/// A `comments` row (never the commenter's e-mail address).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CommentRow {
    id: i64,
    post_id: i64,
    parent_id: Option<i64>,
    depth: i32,
    author_name: String,
    author_url: Option<String>,
    author_avatar_url: Option<String>,
    content_html: String,
    origin: String,
    moderation: String,
    ap_id: Option<String>,
    published_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    remote_actor_id: Option<i64>,
    local_author_id: Option<i64>,
    visibility: String,
    in_reply_to_ap_id: Option<String>,
    summary: Option<String>,
    sensitive: bool,
    attachments_json: String,
    url: Option<String>,
    like_count: i64,
    announce_count: i64,
    moderation_reason: Option<String>,
    author_blocked: bool,
}

impl TryFrom<CommentRow> for Comment {
    type Error = Error;

    fn try_from(row: CommentRow) -> Result<Self> {
        Ok(Comment {
            id: CommentId(row.id),
            post_id: PostId(row.post_id),
            parent_id: row.parent_id.map(CommentId),
            depth: row.depth,
            author_name: row.author_name,
            author_url: row.author_url,
            author_avatar_url: row.author_avatar_url,
            content_html: row.content_html,
            origin: parse_stored(&row.origin, CommentOrigin::parse, "comment origin")?,
            moderation: parse_stored(&row.moderation, Moderation::parse, "moderation state")?,
            ap_id: row.ap_id,
            published_at: row.published_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
            remote_actor_id: row.remote_actor_id.map(RemoteActorId),
            local_author_id: row.local_author_id.map(AuthorId),
            visibility: parse_stored(&row.visibility, Visibility::parse, "comment visibility")?,
            in_reply_to_ap_id: row.in_reply_to_ap_id,
            summary: row.summary,
            sensitive: row.sensitive,
            attachments: parse_attachments(&row.attachments_json)?,
            url: row.url,
            like_count: row.like_count,
            announce_count: row.announce_count,
            moderation_reason: row.moderation_reason,
            author_blocked: row.author_blocked,
        })
    }
}

/// Attachments as stored in `attachments_json`.
pub(crate) fn attachments_json(attachments: &[Attachment]) -> Result<String> {
    serde_json::to_string(attachments)
        .map_err(|err| Error::Invalid(format!("attachments cannot be stored: {err}")))
}

/// Parses `attachments_json`, failing clearly on what this version cannot read.
pub(crate) fn parse_attachments(json: &str) -> Result<Vec<Attachment>> {
    serde_json::from_str(json)
        .map_err(|err| Error::Invalid(format!("unreadable attachments in the database: {err}")))
}

/// One comment as an element of the JSON array that SQLite's `comments_for_post` reads
/// in one value (`json_group_array` of [`comment_values`] arrays): a post's thousand
/// comments as a thousand rows cost more in sqlx's SQLite driver (a copy and an
/// allocation per value under SQLite's memory mutex, a wake-up per row) than the whole
/// query; as one value they cost one copy and a JSON parse. PostgreSQL reads rows: its
/// driver decodes them cheaply, and its `json_agg` costs ten times the query.
/// The fields are in [`comment_values`] order.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CommentJson {
    id: i64,
    post_id: i64,
    parent_id: Option<i64>,
    depth: i32,
    author_name: String,
    author_url: Option<String>,
    author_avatar_url: Option<String>,
    content_html: String,
    origin: String,
    moderation: String,
    ap_id: Option<String>,
    published_at: String,
    updated_at: Option<String>,
    deleted_at: Option<String>,
    remote_actor_id: Option<i64>,
    local_author_id: Option<i64>,
    visibility: String,
    in_reply_to_ap_id: Option<String>,
    summary: Option<String>,
    #[serde(deserialize_with = "json_flag")]
    sensitive: bool,
    attachments_json: String,
    url: Option<String>,
    like_count: i64,
    announce_count: i64,
    moderation_reason: Option<String>,
    #[serde(deserialize_with = "json_flag")]
    author_blocked: bool,
}

/// A boolean as the engines write it in JSON: `true`/`false` (PostgreSQL) or `1`/`0`
/// (SQLite, which has no boolean type).
fn json_flag<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<bool, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Number(i64),
    }
    Ok(
        match <Flag as serde::Deserialize>::deserialize(deserializer)? {
            Flag::Bool(flag) => flag,
            Flag::Number(number) => number != 0,
        },
    )
}

/// A timestamp as the engines write it in JSON: RFC 3339 (PostgreSQL's `timestamptz`,
/// and what sqlx stores in SQLite), or SQLite's `YYYY-MM-DD HH:MM:SS[.fff]` in UTC.
fn json_time(value: &str) -> Result<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
        .map(|time| time.and_utc())
        .ok_or_else(|| Error::Invalid(format!("unreadable time {value:?} in the database")))
}

impl TryFrom<CommentJson> for Comment {
    type Error = Error;

    /// The JSON row as the row the drivers decode (its times read from text), then the
    /// one conversion of a comment row.
    fn try_from(row: CommentJson) -> Result<Self> {
        Comment::try_from(CommentRow {
            id: row.id,
            post_id: row.post_id,
            parent_id: row.parent_id,
            depth: row.depth,
            author_name: row.author_name,
            author_url: row.author_url,
            author_avatar_url: row.author_avatar_url,
            content_html: row.content_html,
            origin: row.origin,
            moderation: row.moderation,
            ap_id: row.ap_id,
            published_at: json_time(&row.published_at)?,
            updated_at: row.updated_at.as_deref().map(json_time).transpose()?,
            deleted_at: row.deleted_at.as_deref().map(json_time).transpose()?,
            remote_actor_id: row.remote_actor_id,
            local_author_id: row.local_author_id,
            visibility: row.visibility,
            in_reply_to_ap_id: row.in_reply_to_ap_id,
            summary: row.summary,
            sensitive: row.sensitive,
            attachments_json: row.attachments_json,
            url: row.url,
            like_count: row.like_count,
            announce_count: row.announce_count,
            moderation_reason: row.moderation_reason,
            author_blocked: row.author_blocked,
        })
    }
}

/// Reads the JSON array of [`CommentJson`] elements that `comments_for_post` selects.
pub(crate) fn comments_from_json(json: &str) -> Result<Vec<Comment>> {
    let rows: Vec<CommentJson> = serde_json::from_str(json)
        .map_err(|err| Error::Invalid(format!("unreadable comments from the database: {err}")))?;
    rows.into_iter().map(Comment::try_from).collect()
}

/// Converts a list of comment rows, failing on the first unknown enum value.
pub(crate) fn comments(rows: Vec<CommentRow>) -> Result<Vec<Comment>> {
    rows.into_iter().map(Comment::try_from).collect()
}

/// The `blog_settings` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SettingsRow {
    title: String,
    description: String,
    avatar_url: Option<String>,
    default_author_id: Option<i64>,
    manually_approves_followers: bool,
    note_content: String,
    disallowed_keywords: String,
}

impl TryFrom<SettingsRow> for BlogSettings {
    type Error = Error;

    fn try_from(row: SettingsRow) -> Result<Self> {
        Ok(BlogSettings {
            title: row.title,
            description: row.description,
            avatar_url: row.avatar_url,
            default_author_id: row.default_author_id.map(AuthorId),
            manually_approves_followers: row.manually_approves_followers,
            note_content: parse_stored(&row.note_content, NoteContent::parse, "note content")?,
            disallowed_keywords: crate::model::keyword_list(&row.disallowed_keywords),
        })
    }
}

/// A `sessions` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    token_hash: String,
    author_id: i64,
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            token_hash: row.token_hash,
            author_id: AuthorId(row.author_id),
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        }
    }
}

/// The dashboard counts, read in one statement.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SiteCountsRow {
    authors: i64,
    published_posts: i64,
    public_comments: i64,
    active_authors_month: i64,
    active_authors_halfyear: i64,
}

impl From<SiteCountsRow> for SiteCounts {
    fn from(row: SiteCountsRow) -> Self {
        SiteCounts {
            authors: row.authors,
            published_posts: row.published_posts,
            public_comments: row.public_comments,
            active_authors_month: row.active_authors_month,
            active_authors_halfyear: row.active_authors_halfyear,
        }
    }
}

/// How far back a post makes its author "active" in [`SiteCounts`] (NodeInfo's
/// `activeMonth` and `activeHalfyear`).
pub(crate) const ACTIVE_MONTH: chrono::TimeDelta = chrono::TimeDelta::days(30);
pub(crate) const ACTIVE_HALFYEAR: chrono::TimeDelta = chrono::TimeDelta::days(180);

// ---------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------

/// Every statement both engines run, in the subset SQLite and PostgreSQL share: `$n`
/// parameters, `RETURNING`, `ON CONFLICT`. Times are bound as `DateTime<Utc>` (sqlx encodes
/// them as RFC 3339 TEXT for SQLite, which sorts like the time for years 0-9999, and as
/// TIMESTAMPTZ for PostgreSQL); booleans are bound as `bool`.
pub(crate) mod sql {
    // ---- authors ----
    pub(crate) const INSERT_AUTHOR: &str = concat!(
        "INSERT INTO authors (username, display_name, password_hash, is_admin, import_key, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        author_columns!()
    );
    pub(crate) const AUTHOR_BY_ID: &str =
        concat!("SELECT ", author_columns!(), " FROM authors WHERE id = $1");
    pub(crate) const AUTHOR_BY_USERNAME: &str = concat!(
        "SELECT ",
        author_columns!(),
        " FROM authors WHERE username = $1"
    );
    pub(crate) const AUTHOR_ID_BY_USERNAME: &str = "SELECT id FROM authors WHERE username = $1";
    pub(crate) const AUTHOR_ID_BY_IMPORT_KEY: &str = "SELECT id FROM authors WHERE import_key = $1";
    pub(crate) const LIST_AUTHORS: &str = concat!(
        "SELECT ",
        author_columns!(),
        " FROM authors ORDER BY created_at, id"
    );
    pub(crate) const COUNT_AUTHORS: &str = "SELECT COUNT(*) FROM authors";
    pub(crate) const AUTHOR_CREDENTIALS: &str = concat!(
        "SELECT ",
        author_columns!(),
        ", password_hash FROM authors WHERE username = $1 AND password_hash IS NOT NULL"
    );
    pub(crate) const SET_AUTHOR_PASSWORD: &str =
        "UPDATE authors SET password_hash = $2 WHERE id = $1";
    pub(crate) const UPDATE_AUTHOR_PROFILE: &str = concat!(
        "UPDATE authors SET display_name = $2, bio = $3, avatar_url = $4 WHERE id = $1 \
         RETURNING ",
        author_columns!()
    );

    // ---- posts ----
    pub(crate) const INSERT_POST: &str = concat!(
        "INSERT INTO posts (author_id, title, slug, source, content_html, summary, status, \
         origin, comments_open, import_key, published_at, updated_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ",
        post_columns!()
    );
    /// One statement, so that the decision on the dates reads the status it replaces
    /// (on the right of SET, columns hold the values from before the update in both
    /// engines). $8 is the new status, $10 the draft's `published_at`, $11 now.
    pub(crate) const UPDATE_POST: &str = concat!(
        "UPDATE posts SET author_id = $2, title = $3, slug = $4, source = $5, \
         content_html = $6, summary = $7, status = $8, origin = $9, \
         published_at = CASE WHEN status = 'draft' THEN $10 ELSE published_at END, \
         updated_at = CASE \
             WHEN status = 'published' AND $8 = 'published' THEN $11 \
             WHEN status = 'draft' AND $8 = 'published' THEN NULL \
             ELSE updated_at END \
         WHERE id = $1 RETURNING ",
        post_columns!()
    );
    pub(crate) const DELETE_POST: &str = "UPDATE posts SET status = 'deleted' WHERE id = $1";
    pub(crate) const POST_BY_ID: &str =
        concat!("SELECT ", post_columns!(), " FROM posts WHERE id = $1");
    pub(crate) const POST_BY_SLUG: &str =
        concat!("SELECT ", post_columns!(), " FROM posts WHERE slug = $1");
    pub(crate) const POST_ID_BY_ID: &str = "SELECT id FROM posts WHERE id = $1";
    pub(crate) const POST_ID_BY_SLUG: &str = "SELECT id FROM posts WHERE slug = $1";
    pub(crate) const PUBLISHED_POST_ID_BY_SLUG: &str =
        "SELECT id FROM posts WHERE slug = $1 AND status = 'published'";
    pub(crate) const POST_ID_BY_IMPORT_KEY: &str = "SELECT id FROM posts WHERE import_key = $1";
    pub(crate) const PUBLISHED_POSTS: &str = concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts WHERE status = 'published' \
         ORDER BY published_at DESC, id DESC LIMIT $1 OFFSET $2"
    );
    pub(crate) const COUNT_PUBLISHED_POSTS: &str =
        "SELECT COUNT(*) FROM posts WHERE status = 'published'";
    pub(crate) const PUBLISHED_POSTS_WITH_TAG: &str = concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts WHERE status = 'published' AND id IN (SELECT pt.post_id FROM post_tags pt \
         JOIN tags t ON t.id = pt.tag_id WHERE t.slug = $1) \
         ORDER BY published_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    pub(crate) const COUNT_PUBLISHED_POSTS_WITH_TAG: &str = "SELECT COUNT(*) FROM posts \
         WHERE status = 'published' AND id IN (SELECT pt.post_id FROM post_tags pt \
         JOIN tags t ON t.id = pt.tag_id WHERE t.slug = $1)";
    pub(crate) const PUBLISHED_POSTS_BY_AUTHOR: &str = concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts WHERE status = 'published' AND author_id = $1 \
         ORDER BY published_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    pub(crate) const COUNT_PUBLISHED_POSTS_BY_AUTHOR: &str =
        "SELECT COUNT(*) FROM posts WHERE status = 'published' AND author_id = $1";
    pub(crate) const ALL_POSTS: &str = concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts WHERE status <> 'deleted' \
         ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
    );

    // ---- tags ----
    /// The last writer's display form wins, so editing a post can fix a tag's capitals.
    /// DO UPDATE (not DO NOTHING) so that RETURNING also yields the id of an existing tag.
    pub(crate) const UPSERT_TAG: &str = "INSERT INTO tags (slug, name) VALUES ($1, $2) \
         ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id";
    pub(crate) const DELETE_POST_TAGS: &str = "DELETE FROM post_tags WHERE post_id = $1";
    pub(crate) const INSERT_POST_TAG: &str =
        "INSERT INTO post_tags (post_id, tag_id, position) VALUES ($1, $2, $3)";
    pub(crate) const TAGS_IN_USE: &str = "SELECT t.slug, t.name, COUNT(*) AS posts FROM tags t \
         JOIN post_tags pt ON pt.tag_id = t.id JOIN posts p ON p.id = pt.post_id \
         WHERE p.status = 'published' GROUP BY t.id, t.slug, t.name";
    pub(crate) const TAG_BY_SLUG: &str = "SELECT slug, name FROM tags WHERE slug = $1";

    /// How many post ids one tag query binds; far below both engines' parameter limits.
    pub(crate) const TAG_QUERY_CHUNK: usize = 500;

    /// The tags of `count` posts (bound as $1..$count), in display order.
    pub(crate) fn tags_for_posts(count: usize) -> String {
        let placeholders: Vec<String> = (1..=count).map(|n| format!("${n}")).collect();
        format!(
            "SELECT pt.post_id, t.slug, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id \
             WHERE pt.post_id IN ({}) ORDER BY pt.post_id, pt.position",
            placeholders.join(", ")
        )
    }

    // ---- comments ----
    /// Every column a new comment can set; the comment is read back with
    /// [`COMMENT_BY_ID`] (whether its author is blocked is computed on reading).
    pub(crate) const INSERT_COMMENT: &str = "INSERT INTO comments (post_id, parent_id, depth, \
         author_name, author_url, author_avatar_url, author_email, content_html, origin, \
         moderation, ap_id, import_key, published_at, created_at, remote_actor_id, \
         local_author_id, visibility, in_reply_to_ap_id, summary, sensitive, attachments_json, \
         url, moderation_reason, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24) RETURNING id";
    /// [`INSERT_COMMENT`], except that a comment whose `ap_id` is already stored (a
    /// concurrent receiver got there first) inserts nothing and returns no id.
    pub(crate) const INSERT_COMMENT_UNLESS_KNOWN: &str = "INSERT INTO comments (post_id, \
         parent_id, depth, author_name, author_url, author_avatar_url, author_email, \
         content_html, origin, moderation, ap_id, import_key, published_at, created_at, \
         remote_actor_id, local_author_id, visibility, in_reply_to_ap_id, summary, sensitive, \
         attachments_json, url, moderation_reason, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24) ON CONFLICT (ap_id) DO NOTHING RETURNING id";
    pub(crate) const COMMENT_BY_ID: &str = concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c WHERE c.id = $1"
    );
    /// Where a comment sits (id, post, depth), to place a reply under it.
    pub(crate) const COMMENT_PLACE_BY_ID: &str =
        "SELECT id, post_id, depth FROM comments WHERE id = $1";
    pub(crate) const COMMENT_PLACE_BY_IMPORT_KEY: &str =
        "SELECT id, post_id, depth FROM comments WHERE import_key = $1";
    /// The counter of migration 0008 (one row, kept by triggers).
    pub(crate) const PAGE_VERSION: &str = "SELECT version FROM page_version WHERE id = 1";
    /// A post's comments as rows (PostgreSQL; SQLite reads them as one JSON value, see
    /// [`CommentJson`]).
    pub(crate) const COMMENTS_FOR_POST: &str = concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c WHERE c.post_id = $1 ORDER BY c.published_at, c.id"
    );
    pub(crate) const COUNT_PUBLIC_COMMENTS: &str = concat!(
        "SELECT COUNT(*) FROM comments c WHERE c.post_id = $1 AND c.deleted_at IS NULL AND ",
        comment_listed!()
    );
    const RECENT_COMMENTS_ALL: &str = concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c ORDER BY c.published_at DESC, c.id DESC LIMIT $1 OFFSET $2"
    );
    const RECENT_COMMENTS_PUBLIC: &str = concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c WHERE ",
        comment_listed!(),
        " ORDER BY c.published_at DESC, c.id DESC LIMIT $1 OFFSET $2"
    );
    /// The moderation queue: public and unlisted comments waiting, not by blocked authors
    /// (private messages are listed apart, blocked authors' comments are gone).
    const RECENT_COMMENTS_PENDING: &str = concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c WHERE c.moderation = 'pending' \
         AND c.visibility IN ('public', 'unlisted') AND NOT ",
        comment_author_blocked!(),
        " ORDER BY c.published_at DESC, c.id DESC LIMIT $1 OFFSET $2"
    );

    /// The newest comments passing `filter` (one statement per filter, so that each can
    /// use the moderation index).
    pub(crate) fn recent_comments(filter: crate::store::CommentFilter) -> &'static str {
        match filter {
            crate::store::CommentFilter::Public => RECENT_COMMENTS_PUBLIC,
            crate::store::CommentFilter::All => RECENT_COMMENTS_ALL,
            crate::store::CommentFilter::Pending => RECENT_COMMENTS_PENDING,
        }
    }
    pub(crate) const SET_COMMENT_MODERATION: &str =
        "UPDATE comments SET moderation = $2 WHERE id = $1";
    /// Clears what the comment said (content, content warning, attachments); a second
    /// delete keeps the first `deleted_at`.
    pub(crate) const DELETE_COMMENT: &str = "UPDATE comments SET content_html = '', \
         summary = NULL, attachments_json = '[]', deleted_at = COALESCE(deleted_at, $2) \
         WHERE id = $1";

    // ---- settings ----
    pub(crate) const BLOG_SETTINGS: &str = "SELECT title, description, avatar_url, \
         default_author_id, manually_approves_followers, note_content, disallowed_keywords \
         FROM blog_settings WHERE id = 1";
    pub(crate) const UPSERT_BLOG_SETTINGS: &str = "INSERT INTO blog_settings \
         (id, title, description, avatar_url, default_author_id, manually_approves_followers, \
         note_content, disallowed_keywords) VALUES (1, $1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
         description = excluded.description, avatar_url = excluded.avatar_url, \
         default_author_id = excluded.default_author_id, \
         manually_approves_followers = excluded.manually_approves_followers, \
         note_content = excluded.note_content, \
         disallowed_keywords = excluded.disallowed_keywords";

    // ---- sessions ----
    pub(crate) const INSERT_SESSION: &str = "INSERT INTO sessions \
         (token_hash, author_id, csrf_token, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)";
    pub(crate) const SESSION_BY_TOKEN_HASH: &str = "SELECT token_hash, author_id, csrf_token, \
         expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2";
    pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1";
    /// Exactly the sessions that `SESSION_BY_TOKEN_HASH` no longer finds.
    pub(crate) const PURGE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

    // ---- site ----
    /// Public comments count only under published posts: elsewhere no reader sees them.
    /// An author is active when a published post of theirs has `published_at` in
    /// [$2, $1] (month) or [$3, $1] (half-year), $1 being now: posts dated in the future
    /// do not count yet.
    pub(crate) const SITE_COUNTS: &str = concat!(
        "SELECT \
         (SELECT COUNT(*) FROM authors) AS authors, \
         (SELECT COUNT(*) FROM posts WHERE status = 'published') AS published_posts, \
         (SELECT COUNT(*) FROM comments c JOIN posts p ON p.id = c.post_id \
          WHERE p.status = 'published' AND c.deleted_at IS NULL AND ",
        comment_listed!(),
        ") AS public_comments, \
         (SELECT COUNT(DISTINCT author_id) FROM posts WHERE status = 'published' \
          AND published_at >= $2 AND published_at <= $1) AS active_authors_month, \
         (SELECT COUNT(DISTINCT author_id) FROM posts WHERE status = 'published' \
          AND published_at >= $3 AND published_at <= $1) AS active_authors_halfyear"
    );
}

// ---------------------------------------------------------------------------------------
// statements inside a write transaction
// ---------------------------------------------------------------------------------------

/// A post row to insert (by `create_post` and by imports).
pub(crate) struct PostInsert<'a> {
    pub(crate) author_id: AuthorId,
    pub(crate) title: &'a str,
    pub(crate) slug: &'a str,
    pub(crate) source: &'a str,
    pub(crate) content_html: &'a str,
    pub(crate) summary: Option<&'a str>,
    pub(crate) status: PostStatus,
    pub(crate) origin: PostOrigin,
    pub(crate) import_key: Option<&'a str>,
    pub(crate) published_at: DateTime<Utc>,
    pub(crate) updated_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
}

/// A comment row to insert (by `add_comment` and by imports), its depth already known.
pub(crate) struct CommentInsert<'a> {
    pub(crate) post_id: PostId,
    pub(crate) parent_id: Option<CommentId>,
    pub(crate) depth: i32,
    pub(crate) author_name: &'a str,
    pub(crate) author_url: Option<&'a str>,
    pub(crate) author_avatar_url: Option<&'a str>,
    pub(crate) author_email: Option<&'a str>,
    pub(crate) content_html: &'a str,
    pub(crate) origin: CommentOrigin,
    pub(crate) moderation: Moderation,
    pub(crate) ap_id: Option<&'a str>,
    pub(crate) import_key: Option<&'a str>,
    pub(crate) published_at: DateTime<Utc>,
    pub(crate) updated_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) remote_actor_id: Option<RemoteActorId>,
    pub(crate) local_author_id: Option<AuthorId>,
    pub(crate) visibility: Visibility,
    pub(crate) in_reply_to_ap_id: Option<&'a str>,
    pub(crate) summary: Option<&'a str>,
    pub(crate) sensitive: bool,
    /// Already serialized (see [`attachments_json`]).
    pub(crate) attachments_json: &'a str,
    pub(crate) url: Option<&'a str>,
    pub(crate) moderation_reason: Option<&'a str>,
}

impl CommentInsert<'_> {
    /// A comment placed at `place`, with no content and no fediverse details (public,
    /// no actor): the base the callers fill in.
    pub(crate) fn at_place(
        place: CommentPlacement,
        author_name: &str,
        origin: CommentOrigin,
        moderation: Moderation,
        published_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
    ) -> CommentInsert<'_> {
        CommentInsert {
            post_id: place.post_id,
            parent_id: place.parent_id,
            depth: place.depth,
            author_name,
            author_url: None,
            author_avatar_url: None,
            author_email: None,
            content_html: "",
            origin,
            moderation,
            ap_id: None,
            import_key: None,
            published_at,
            updated_at: None,
            created_at,
            remote_actor_id: None,
            local_author_id: None,
            visibility: Visibility::Public,
            in_reply_to_ap_id: None,
            summary: None,
            sensitive: false,
            attachments_json: "[]",
            url: None,
            moderation_reason: None,
        }
    }
}

/// Where a comment sits: its id, its post and its depth.
pub(crate) type CommentPlace = (CommentId, PostId, i32);

/// Where a new comment goes: its post, its parent (none for a reply to the post) and its
/// depth.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommentPlacement {
    pub(crate) post_id: PostId,
    pub(crate) parent_id: Option<CommentId>,
    pub(crate) depth: i32,
}

/// The statements that run inside a write transaction, implemented by each engine on its
/// connection type (the SQL is the same, from [`sql`]; only the sqlx driver differs). The
/// logic that combines them, below, is thereby written once for both engines.
#[async_trait]
pub(crate) trait TxStatements: Send {
    /// Inserts an author (username already lower-case); unique violations → Conflict.
    async fn insert_author(
        &mut self,
        author: &NewAuthor,
        created_at: DateTime<Utc>,
    ) -> Result<Author>;
    async fn author_id_by_import_key(&mut self, import_key: &str) -> Result<Option<AuthorId>>;
    async fn author_id_by_username(&mut self, username: &str) -> Result<Option<AuthorId>>;
    /// Inserts a post row (tags apart); unique violations → Conflict.
    async fn insert_post(&mut self, post: &PostInsert<'_>) -> Result<PostRow>;
    /// Runs [`sql::UPDATE_POST`]; `None` when no post has that id.
    async fn update_post_row(
        &mut self,
        id: PostId,
        draft: &PostDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<PostRow>>;
    async fn post_exists(&mut self, id: PostId) -> Result<bool>;
    /// Runs [`sql::DELETE_POST`]; `false` when no post has that id.
    async fn mark_post_deleted(&mut self, id: PostId) -> Result<bool>;
    async fn post_id_by_slug(&mut self, slug: &str) -> Result<Option<PostId>>;
    async fn post_id_by_import_key(&mut self, import_key: &str) -> Result<Option<PostId>>;
    /// Inserts or renames a tag by slug; returns its id.
    async fn upsert_tag(&mut self, tag: &Tag) -> Result<i64>;
    async fn clear_post_tags(&mut self, post: PostId) -> Result<()>;
    async fn insert_post_tag(&mut self, post: PostId, tag_id: i64, position: i32) -> Result<()>;
    async fn comment_place(&mut self, id: CommentId) -> Result<Option<CommentPlace>>;
    async fn comment_place_by_import_key(
        &mut self,
        import_key: &str,
    ) -> Result<Option<CommentPlace>>;
}

/// Tags in the order given, each slug once (a repeated slug would break the
/// `post_tags` primary key).
fn distinct_tags(tags: Vec<Tag>) -> Vec<Tag> {
    let mut seen = HashSet::new();
    tags.into_iter()
        .filter(|tag| seen.insert(tag.slug.clone()))
        .collect()
}

/// Rewrites a post's `post_tags`, upserting each tag and recording its position.
async fn write_post_tags<C: TxStatements + ?Sized>(
    conn: &mut C,
    post: PostId,
    tags: &[Tag],
) -> Result<()> {
    conn.clear_post_tags(post).await?;
    for (position, tag) in tags.iter().enumerate() {
        let tag_id = conn.upsert_tag(tag).await?;
        let position = i32::try_from(position)
            .map_err(|_| Error::Invalid("a post cannot have that many tags".to_owned()))?;
        conn.insert_post_tag(post, tag_id, position).await?;
    }
    Ok(())
}

/// `Store::create_post`, inside the engine's write transaction: the post first, so that a
/// taken slug fails before any activity is recorded.
pub(crate) async fn create_post<C: TxStatements + FederationTxStatements + ?Sized>(
    conn: &mut C,
    draft: PostDraft,
    outbox: Vec<OutgoingActivity>,
) -> Result<Post> {
    let now = now();
    let row = conn
        .insert_post(&PostInsert {
            author_id: draft.author_id,
            title: &draft.title,
            slug: &draft.slug,
            source: &draft.source,
            content_html: &draft.content_html,
            summary: draft.summary.as_deref(),
            status: draft.status,
            origin: draft.origin,
            import_key: draft.import_key.as_deref(),
            published_at: db_time(draft.published_at),
            updated_at: None,
            created_at: now,
        })
        .await?;
    let tags = distinct_tags(draft.tags);
    write_post_tags(conn, PostId(row.id), &tags).await?;
    record_outbox(conn, outbox, Some(PostId(row.id))).await?;
    row.into_post(tags)
}

/// `Store::update_post`, inside the engine's write transaction.
pub(crate) async fn update_post<C: TxStatements + FederationTxStatements + ?Sized>(
    conn: &mut C,
    id: PostId,
    mut draft: PostDraft,
    outbox: Vec<OutgoingActivity>,
) -> Result<Post> {
    draft.published_at = db_time(draft.published_at);
    let row = conn
        .update_post_row(id, &draft, now())
        .await?
        .ok_or_else(|| Error::NotFound(format!("post {id}")))?;
    let tags = distinct_tags(draft.tags);
    write_post_tags(conn, id, &tags).await?;
    record_outbox(conn, outbox, Some(id)).await?;
    row.into_post(tags)
}

/// `Store::delete_post`, inside the engine's write transaction.
pub(crate) async fn delete_post<C: TxStatements + FederationTxStatements + ?Sized>(
    conn: &mut C,
    id: PostId,
    outbox: Vec<OutgoingActivity>,
) -> Result<()> {
    if !conn.mark_post_deleted(id).await? {
        return Err(Error::NotFound(format!("post {id}")));
    }
    record_outbox(conn, outbox, Some(id)).await
}

/// `Store::add_comment`, inside the engine's write transaction.
pub(crate) async fn add_comment<C: TxStatements + DiscussionStatements + ?Sized>(
    conn: &mut C,
    comment: NewComment,
) -> Result<Comment> {
    if !conn.post_exists(comment.post_id).await? {
        return Err(Error::NotFound(format!("post {}", comment.post_id)));
    }
    let depth = match comment.parent_id {
        None => 0,
        Some(parent) => match conn.comment_place(parent).await? {
            None => {
                return Err(Error::Invalid(format!(
                    "reply to comment {parent}, which does not exist"
                )));
            }
            Some((_, parent_post, _)) if parent_post != comment.post_id => {
                return Err(Error::Invalid(format!(
                    "reply under post {} to comment {parent}, which is under post {parent_post}",
                    comment.post_id
                )));
            }
            Some((_, _, parent_depth)) => parent_depth.saturating_add(1),
        },
    };
    let now = now();
    let added = conn
        .insert_comment(&CommentInsert {
            author_url: comment.author_url.as_deref(),
            author_avatar_url: comment.author_avatar_url.as_deref(),
            author_email: comment.author_email.as_deref(),
            content_html: &comment.content_html,
            ap_id: comment.ap_id.as_deref(),
            import_key: comment.import_key.as_deref(),
            moderation_reason: comment.moderation_reason.as_deref(),
            ..CommentInsert::at_place(
                CommentPlacement {
                    post_id: comment.post_id,
                    parent_id: comment.parent_id,
                    depth,
                },
                &comment.author_name,
                comment.origin,
                comment.moderation,
                db_time(comment.published_at),
                now,
            )
        })
        .await?;
    if let Some(reason) = comment.moderation_reason.as_deref() {
        log_rules_decision(conn, &added, reason, now).await?;
    }
    Ok(added)
}

// ---------------------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------------------

/// `Store::import`, inside the engine's write transaction: any error leaves the caller to
/// drop (roll back) the transaction, so a failed import writes nothing.
pub(crate) async fn import<C: TxStatements + DiscussionStatements + ?Sized>(
    conn: &mut C,
    batch: ImportBatch,
) -> Result<ImportReport> {
    let now = now();
    let mut report = ImportReport::default();

    // Authors: by import key, else an author who already has the username, else a new one.
    let mut authors: HashMap<&str, AuthorId> = HashMap::new();
    for author in &batch.authors {
        if authors.contains_key(author.import_key.as_str()) {
            continue;
        }
        let username = author.username.to_lowercase();
        let id = if let Some(id) = conn.author_id_by_import_key(&author.import_key).await? {
            id
        } else if let Some(id) = conn.author_id_by_username(&username).await? {
            id
        } else {
            let new = NewAuthor {
                username,
                display_name: author.display_name.clone(),
                password_hash: None,
                is_admin: false,
                import_key: Some(author.import_key.clone()),
            };
            report.authors_created += 1;
            conn.insert_author(&new, now).await?.id
        };
        authors.insert(&author.import_key, id);
    }

    for post in &batch.posts {
        let post_id = if let Some(id) = conn.post_id_by_import_key(&post.import_key).await? {
            report.posts_unchanged += 1;
            id
        } else if conn.post_id_by_slug(&post.slug).await?.is_some() {
            report.skipped.push(format!(
                "post {:?} ({} comments): the slug {:?} is already used by another post",
                post.import_key,
                post.comments.len(),
                post.slug
            ));
            continue;
        } else {
            let author_id = match post.author_import_key.as_deref() {
                None => post.fallback_author,
                Some(key) => match authors.get(key) {
                    Some(id) => *id,
                    None => conn
                        .author_id_by_import_key(key)
                        .await?
                        .unwrap_or(post.fallback_author),
                },
            };
            let row = conn
                .insert_post(&PostInsert {
                    author_id,
                    title: &post.title,
                    slug: &post.slug,
                    source: &post.source,
                    content_html: &post.content_html,
                    summary: post.summary.as_deref(),
                    status: PostStatus::Published,
                    origin: PostOrigin::Imported,
                    import_key: Some(&post.import_key),
                    published_at: db_time(post.published_at),
                    updated_at: post.updated_at.map(db_time),
                    created_at: now,
                })
                .await?;
            let id = PostId(row.id);
            write_post_tags(conn, id, &distinct_tags(post.tags.clone())).await?;
            report.posts_created += 1;
            id
        };
        import_comments(
            conn,
            post_id,
            &post.import_key,
            &post.comments,
            now,
            &mut report,
        )
        .await?;
    }
    Ok(report)
}

/// Imports one post's comments, parents before replies whatever the list order.
async fn import_comments<C: TxStatements + DiscussionStatements + ?Sized>(
    conn: &mut C,
    post_id: PostId,
    post_key: &str,
    comments: &[ImportComment],
    now: DateTime<Utc>,
    report: &mut ImportReport,
) -> Result<()> {
    for index in parents_first(comments).map_err(|key| {
        Error::Invalid(format!(
            "post {post_key:?}: comment {key:?} is its own ancestor"
        ))
    })? {
        let comment = &comments[index];
        if conn
            .comment_place_by_import_key(&comment.import_key)
            .await?
            .is_some()
        {
            report.comments_unchanged += 1;
            continue;
        }
        let (parent_id, depth) = match comment.parent_import_key.as_deref() {
            None => (None, 0),
            Some(parent_key) => match conn.comment_place_by_import_key(parent_key).await? {
                Some((parent, parent_post, parent_depth)) if parent_post == post_id => {
                    (Some(parent), parent_depth.saturating_add(1))
                }
                Some(_) => {
                    return Err(Error::Invalid(format!(
                        "comment {:?}: its parent {parent_key:?} is under another post",
                        comment.import_key
                    )));
                }
                None => {
                    return Err(Error::Invalid(format!(
                        "comment {:?}: parent_import_key {parent_key:?} matches no comment",
                        comment.import_key
                    )));
                }
            },
        };
        conn.insert_comment(&CommentInsert {
            author_url: comment.author_url.as_deref(),
            author_email: comment.author_email.as_deref(),
            content_html: &comment.content_html,
            import_key: Some(&comment.import_key),
            ..CommentInsert::at_place(
                CommentPlacement {
                    post_id,
                    parent_id,
                    depth,
                },
                &comment.author_name,
                CommentOrigin::Imported,
                comment.moderation,
                db_time(comment.published_at),
                now,
            )
        })
        .await?;
        report.comments_created += 1;
    }
    Ok(())
}

/// The indexes of `comments` in an order where each comment whose parent is in the list
/// comes after that parent (otherwise the list order is kept). Parents outside the list
/// are left for the caller to find in the database. Fails with the import key of a
/// comment that is its own ancestor.
pub(crate) fn parents_first(comments: &[ImportComment]) -> std::result::Result<Vec<usize>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for (index, comment) in comments.iter().enumerate() {
        index_of.entry(comment.import_key.as_str()).or_insert(index);
    }
    let mut marks = vec![Mark::New; comments.len()];
    let mut order = Vec::with_capacity(comments.len());
    for start in 0..comments.len() {
        // Walk up to the first ancestor already placed (or outside the list), then place
        // the walked path from the top down.
        let mut path = Vec::new();
        let mut current = Some(start);
        while let Some(index) = current {
            match marks[index] {
                Mark::Done => break,
                Mark::OnPath => return Err(comments[index].import_key.clone()),
                Mark::New => {
                    marks[index] = Mark::OnPath;
                    path.push(index);
                    current = comments[index]
                        .parent_import_key
                        .as_deref()
                        .and_then(|key| index_of.get(key).copied());
                }
            }
        }
        for index in path.into_iter().rev() {
            marks[index] = Mark::Done;
            order.push(index);
        }
    }
    Ok(order)
}

// ---------------------------------------------------------------------------------------
// thread order
// ---------------------------------------------------------------------------------------

/// A post's comments in thread order (depth first; siblings by `published_at`, then id),
/// keeping only those `filter` admits. The order is computed on all of the post's comments
/// before filtering, so every filtered listing is a subsequence of the same full thread.
pub(crate) fn thread_order(mut all: Vec<Comment>, filter: CommentFilter) -> Vec<Comment> {
    all.sort_by_key(|comment| (comment.published_at, comment.id));
    let ids: HashSet<CommentId> = all.iter().map(|comment| comment.id).collect();
    // Children of each comment, oldest first; comments whose parent is missing are roots.
    let mut children: HashMap<Option<CommentId>, Vec<usize>> = HashMap::new();
    for (index, comment) in all.iter().enumerate() {
        let parent = comment.parent_id.filter(|parent| ids.contains(parent));
        children.entry(parent).or_default().push(index);
    }
    let mut visited = vec![false; all.len()];
    let mut order = Vec::with_capacity(all.len());
    let roots = children.get(&None).cloned().unwrap_or_default();
    // After the real roots, any comment not reached (only possible with a parent cycle,
    // which the schema's insert order rules out) starts its own walk, so none is lost.
    for start in roots.into_iter().chain(0..all.len()) {
        let mut stack = vec![start];
        while let Some(index) = stack.pop() {
            if visited[index] {
                continue;
            }
            visited[index] = true;
            order.push(index);
            if let Some(kids) = children.get(&Some(all[index].id)) {
                stack.extend(kids.iter().rev());
            }
        }
    }
    let mut slots: Vec<Option<Comment>> = all.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|index| slots[index].take())
        .filter(|comment| match filter {
            CommentFilter::All => true,
            CommentFilter::Public => comment.is_listed(),
            CommentFilter::Pending => {
                comment.moderation == Moderation::Pending
                    && comment.visibility.is_listed()
                    && !comment.author_blocked
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0).unwrap()
    }

    fn comment(id: i64, parent: Option<i64>, seconds: i64, moderation: Moderation) -> Comment {
        Comment {
            id: CommentId(id),
            post_id: PostId(1),
            parent_id: parent.map(CommentId),
            depth: 0,
            author_name: format!("c{id}"),
            author_url: None,
            author_avatar_url: None,
            content_html: String::new(),
            origin: CommentOrigin::Local,
            moderation,
            ap_id: None,
            published_at: at(seconds),
            updated_at: None,
            deleted_at: None,
            remote_actor_id: None,
            local_author_id: None,
            visibility: Visibility::Public,
            in_reply_to_ap_id: None,
            summary: None,
            sensitive: false,
            attachments: Vec::new(),
            url: None,
            like_count: 0,
            announce_count: 0,
            moderation_reason: None,
            author_blocked: false,
        }
    }

    fn ids(comments: &[Comment]) -> Vec<i64> {
        comments.iter().map(|comment| comment.id.0).collect()
    }

    fn import_comment(key: &str, parent: Option<&str>) -> ImportComment {
        ImportComment {
            import_key: key.to_owned(),
            parent_import_key: parent.map(str::to_owned),
            author_name: key.to_owned(),
            author_url: None,
            author_email: None,
            content_html: String::new(),
            moderation: Moderation::Approved,
            published_at: at(0),
        }
    }

    #[test]
    fn thread_order_walks_depth_first_with_siblings_oldest_first() {
        let approved = Moderation::Approved;
        // A=1, B=2, A.1=3, A.1.a=4, A.0=5 (younger id, older time than A.1).
        let all = vec![
            comment(4, Some(3), 40, approved),
            comment(2, None, 20, approved),
            comment(3, Some(1), 30, approved),
            comment(1, None, 10, approved),
            comment(5, Some(1), 25, approved),
        ];
        assert_eq!(ids(&thread_order(all, CommentFilter::All)), [1, 5, 3, 4, 2]);
    }

    #[test]
    fn thread_order_breaks_time_ties_by_id() {
        let approved = Moderation::Approved;
        let all = vec![
            comment(9, None, 10, approved),
            comment(7, None, 10, approved),
            comment(8, None, 10, approved),
        ];
        assert_eq!(ids(&thread_order(all, CommentFilter::All)), [7, 8, 9]);
    }

    #[test]
    fn thread_order_filters_after_ordering_the_whole_thread() {
        let all = vec![
            comment(1, None, 10, Moderation::Approved),
            comment(2, Some(1), 20, Moderation::Spam),
            comment(3, Some(2), 30, Moderation::Approved),
            comment(4, None, 15, Moderation::Pending),
        ];
        assert_eq!(
            ids(&thread_order(all.clone(), CommentFilter::Public)),
            [1, 3]
        );
        assert_eq!(ids(&thread_order(all.clone(), CommentFilter::Pending)), [4]);
        assert_eq!(ids(&thread_order(all, CommentFilter::All)), [1, 2, 3, 4]);
    }

    #[test]
    fn thread_order_keeps_comments_caught_in_a_parent_cycle() {
        let approved = Moderation::Approved;
        let all = vec![
            comment(1, Some(2), 10, approved),
            comment(2, Some(1), 20, approved),
            comment(3, None, 30, approved),
        ];
        assert_eq!(ids(&thread_order(all, CommentFilter::All)), [3, 1, 2]);
    }

    #[test]
    fn parents_first_puts_each_parent_before_its_replies() {
        let comments = vec![
            import_comment("a1x", Some("a1")),
            import_comment("a1", Some("a")),
            import_comment("b", None),
            import_comment("a", None),
            import_comment("outside", Some("elsewhere")),
        ];
        let order = parents_first(&comments).unwrap();
        let keys: Vec<&str> = order
            .iter()
            .map(|&index| comments[index].import_key.as_str())
            .collect();
        assert_eq!(keys, ["a", "a1", "a1x", "b", "outside"]);
    }

    #[test]
    fn parents_first_rejects_a_cycle() {
        let comments = vec![
            import_comment("x", Some("y")),
            import_comment("y", Some("x")),
        ];
        assert!(parents_first(&comments).is_err());
        let own = vec![import_comment("self", Some("self"))];
        assert_eq!(parents_first(&own), Err("self".to_owned()));
    }

    #[test]
    fn db_time_truncates_to_microseconds_towards_the_past() {
        let time = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(db_time(time).timestamp_subsec_nanos(), 123_456_000);
        let before_epoch = Utc.timestamp_opt(-10, 999_999_999).unwrap();
        assert_eq!(db_time(before_epoch).timestamp_subsec_nanos(), 999_999_000);
        assert_eq!(db_time(before_epoch).timestamp(), -10);
    }

    #[test]
    fn tags_for_posts_numbers_one_placeholder_per_post() {
        assert!(sql::tags_for_posts(3).contains("IN ($1, $2, $3)"));
    }

    #[test]
    fn page_bounds_never_go_negative() {
        assert_eq!(
            page_bounds(Page {
                limit: -1,
                offset: -5
            }),
            (0, 0)
        );
    }
}
