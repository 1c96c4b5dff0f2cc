//! Domain types shared by every layer. Plain data: no I/O, no HTTP, no ActivityPub.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}
pub(crate) use id_newtype;

id_newtype!(
    /// A local author (a person who writes posts; later also a local ActivityPub actor).
    AuthorId
);
id_newtype!(
    /// A blog post.
    PostId
);
id_newtype!(
    /// A comment under a post, whatever its origin.
    CommentId
);

/// A local author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: AuthorId,
    /// Lower-case login and handle (`[a-z0-9_]`, 1-32 characters).
    pub username: String,
    pub display_name: String,
    /// Plain-text biography.
    pub bio: String,
    pub avatar_url: Option<String>,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// What is needed to create an author.
#[derive(Debug, Clone)]
pub struct NewAuthor {
    pub username: String,
    pub display_name: String,
    /// PHC string (argon2id); `None` for authors that cannot log in (imported ones).
    pub password_hash: Option<String>,
    pub is_admin: bool,
    /// Key that makes imports idempotent, e.g. `wxr:https://old.example:author:1`.
    pub import_key: Option<String>,
}

/// Publication state of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Draft,
    Published,
    /// Kept as a tombstone: its permalink answers 410 Gone.
    Deleted,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::Published => "published",
            PostStatus::Deleted => "deleted",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "draft" => Some(PostStatus::Draft),
            "published" => Some(PostStatus::Published),
            "deleted" => Some(PostStatus::Deleted),
            _ => None,
        }
    }
}

/// Where a post came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostOrigin {
    /// Written in Gloss (admin UI or `gloss post publish`).
    Local,
    /// Imported with its old dates (WordPress); never pushed to followers as new.
    Imported,
}

impl PostOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            PostOrigin::Local => "local",
            PostOrigin::Imported => "imported",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "local" => Some(PostOrigin::Local),
            "imported" => Some(PostOrigin::Imported),
            _ => None,
        }
    }
}

/// A tag as shown on pages: its display name and its URL slug.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    pub slug: String,
    pub name: String,
}

/// A tag with the number of published posts carrying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCount {
    pub tag: Tag,
    pub posts: i64,
}

/// A blog post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: PostId,
    pub author_id: AuthorId,
    pub title: String,
    /// Unique among all posts, deleted ones included (a deleted slug keeps answering 410).
    pub slug: String,
    /// Markdown source (for imported posts: the original HTML, which is valid Markdown).
    pub source: String,
    /// Rendered and sanitized HTML, safe to put on a page as is.
    pub content_html: String,
    /// Plain-text summary (for feeds, link previews and listings).
    pub summary: Option<String>,
    pub tags: Vec<Tag>,
    pub status: PostStatus,
    pub origin: PostOrigin,
    pub comments_open: bool,
    pub published_at: DateTime<Utc>,
    /// Set when a published post is edited after publication.
    pub updated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What is needed to create or replace a post's content.
#[derive(Debug, Clone)]
pub struct PostDraft {
    pub author_id: AuthorId,
    pub title: String,
    pub slug: String,
    pub source: String,
    pub content_html: String,
    pub summary: Option<String>,
    /// Tags in display form; slugs are derived by the caller.
    pub tags: Vec<Tag>,
    pub status: PostStatus,
    pub origin: PostOrigin,
    pub published_at: DateTime<Utc>,
    pub import_key: Option<String>,
}

/// Where a comment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommentOrigin {
    /// A reader commented through the form on the post page, or the author replied.
    Local,
    /// Imported from another blog (WordPress).
    Imported,
    /// Arrived over ActivityPub.
    Fediverse,
}

impl CommentOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentOrigin::Local => "local",
            CommentOrigin::Imported => "imported",
            CommentOrigin::Fediverse => "fediverse",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "local" => Some(CommentOrigin::Local),
            "imported" => Some(CommentOrigin::Imported),
            "fediverse" => Some(CommentOrigin::Fediverse),
            _ => None,
        }
    }
}

/// Moderation state of a comment. Only `Approved` comments appear on public pages,
/// feeds and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Moderation {
    /// Waiting for the author's decision.
    Pending,
    Approved,
    /// Hidden by the author; kept for the record.
    Hidden,
    Spam,
}

impl Moderation {
    pub fn as_str(self) -> &'static str {
        match self {
            Moderation::Pending => "pending",
            Moderation::Approved => "approved",
            Moderation::Hidden => "hidden",
            Moderation::Spam => "spam",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Moderation::Pending),
            "approved" => Some(Moderation::Approved),
            "hidden" => Some(Moderation::Hidden),
            "spam" => Some(Moderation::Spam),
            _ => None,
        }
    }
}

/// Who may see a comment, from the addressing of the fediverse object it came from.
/// Comments written on the blog (readers', authors', imported ones) are `Public`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Addressed to `as:Public` in `to`.
    Public,
    /// Addressed to `as:Public` in `cc` only ("quiet public"): shown like a public one.
    Unlisted,
    /// Followers-only: a private message to the author, never shown on the blog.
    Followers,
    /// Addressed to named actors only: a private message, never shown on the blog.
    Direct,
}

impl Visibility {
    /// The text stored in `comments.visibility`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Followers => "followers",
            Visibility::Direct => "direct",
        }
    }

    /// Parses [`Visibility::as_str`]'s output.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "public" => Some(Visibility::Public),
            "unlisted" => Some(Visibility::Unlisted),
            "followers" => Some(Visibility::Followers),
            "direct" => Some(Visibility::Direct),
            _ => None,
        }
    }

    /// Whether a comment with this visibility may appear on pages, in feeds, APIs,
    /// collections and counts (public and unlisted ones).
    pub fn is_listed(self) -> bool {
        matches!(self, Visibility::Public | Visibility::Unlisted)
    }
}

/// A media attachment of a fediverse comment, shown as a link with its description
/// (remote media is never embedded directly).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    /// Where the media lives (on the commenter's server).
    pub url: String,
    /// MIME type, e.g. `image/png`, when the sender gave one.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The description (alt text), plain text.
    #[serde(default)]
    pub name: Option<String>,
}

/// A comment under a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: CommentId,
    pub post_id: PostId,
    pub parent_id: Option<CommentId>,
    /// 0 for a top-level comment, parent's depth + 1 otherwise.
    pub depth: i32,
    pub author_name: String,
    /// The commenter's website or profile page.
    pub author_url: Option<String>,
    pub author_avatar_url: Option<String>,
    /// Sanitized HTML, safe to put on a page as is.
    pub content_html: String,
    pub origin: CommentOrigin,
    pub moderation: Moderation,
    /// ActivityPub id of the comment (fediverse comments and local author replies).
    pub ap_id: Option<String>,
    pub published_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Set when the comment was deleted; a deleted comment keeps its row so that
    /// its replies keep their place, and is shown as "deleted".
    pub deleted_at: Option<DateTime<Utc>>,
    /// The remote author of a fediverse comment (the owner checked on Update and Delete).
    pub remote_actor_id: Option<crate::federation_model::RemoteActorId>,
    /// The local author of a reply written in Gloss.
    pub local_author_id: Option<AuthorId>,
    /// Only [listed](Visibility::is_listed) comments are ever shown to readers.
    pub visibility: Visibility,
    /// The `inReplyTo` of the fediverse object, as received (or sent, for author replies).
    pub in_reply_to_ap_id: Option<String>,
    /// Content warning, plain text: the content is shown collapsed behind it.
    pub summary: Option<String>,
    /// The sender marked the content (or its media) sensitive.
    pub sensitive: bool,
    pub attachments: Vec<Attachment>,
    /// The remote object's HTML page.
    pub url: Option<String>,
    /// Likes and Announces received for this comment.
    pub like_count: i64,
    pub announce_count: i64,
    /// Why the comment is held, hidden or marked spam (the latest decision's reason).
    pub moderation_reason: Option<String>,
    /// Computed when read: the remote author, or their domain, is blocked. A blocked
    /// author's comments are left out of everything readers see, and come back if the
    /// block is lifted.
    pub author_blocked: bool,
}

impl Comment {
    /// Whether the comment has its place in the public thread: approved, public or
    /// unlisted, and not by a blocked author. Deleted comments keep their place (as a
    /// placeholder) but not their content; see [`Comment::is_public`].
    pub fn is_listed(&self) -> bool {
        self.moderation == Moderation::Approved
            && self.visibility.is_listed()
            && !self.author_blocked
    }

    /// Whether a reader of the public page may see this comment's content.
    pub fn is_public(&self) -> bool {
        self.is_listed() && self.deleted_at.is_none()
    }

    /// Whether the comment is a private message (followers-only or direct), which only
    /// the admin UI shows.
    pub fn is_private(&self) -> bool {
        !self.visibility.is_listed()
    }
}

/// What is needed to add a comment.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub post_id: PostId,
    pub parent_id: Option<CommentId>,
    pub author_name: String,
    pub author_url: Option<String>,
    pub author_avatar_url: Option<String>,
    /// Private: never shown on a page (imported WordPress data carries it).
    pub author_email: Option<String>,
    pub content_html: String,
    pub origin: CommentOrigin,
    pub moderation: Moderation,
    pub ap_id: Option<String>,
    pub published_at: DateTime<Utc>,
    pub import_key: Option<String>,
    /// Why the comment got its moderation state (e.g. which rule held it). When given,
    /// the decision is also written to the moderation log, decided by the rules.
    pub moderation_reason: Option<String>,
}

/// How much of a post its fediverse Note carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteContent {
    /// The whole article (the default).
    Full,
    /// The summary and a link to the page.
    Excerpt,
}

impl NoteContent {
    /// The text stored in `blog_settings.note_content`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteContent::Full => "full",
            NoteContent::Excerpt => "excerpt",
        }
    }

    /// Parses [`NoteContent::as_str`]'s output.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "full" => Some(NoteContent::Full),
            "excerpt" => Some(NoteContent::Excerpt),
            _ => None,
        }
    }
}

/// Blog-wide settings edited in the admin UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlogSettings {
    pub title: String,
    pub description: String,
    pub avatar_url: Option<String>,
    pub default_author_id: Option<AuthorId>,
    /// Follows wait for the author's approval instead of being accepted at once.
    pub manually_approves_followers: bool,
    /// Whether Notes carry the full text or an excerpt with a link.
    pub note_content: NoteContent,
    /// Disallowed words and phrases (checklist M5), one entry each, trimmed and never
    /// empty: a comment whose text or author name contains one (ignoring case) is
    /// marked spam. Stored one per line.
    pub disallowed_keywords: Vec<String>,
}

impl Default for BlogSettings {
    fn default() -> Self {
        BlogSettings {
            title: "Gloss".to_owned(),
            description: "A blog whose comments come from the fediverse.".to_owned(),
            avatar_url: None,
            default_author_id: None,
            manually_approves_followers: false,
            note_content: NoteContent::Full,
            disallowed_keywords: Vec::new(),
        }
    }
}

/// The keyword list as the admin typed it (one entry per line): entries trimmed, empty
/// lines and repeats (ignoring case) dropped, order kept.
pub fn keyword_list(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .filter(|line| seen.insert(line.to_lowercase()))
        .map(str::to_owned)
        .collect()
}

/// A logged-in admin session. The token itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub author_id: AuthorId,
    /// Synchronizer token for the CSRF check on every admin form.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A page of a listing: `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// Page `number` (1-based) of `per_page` rows.
    pub fn number(number: i64, per_page: i64) -> Page {
        let number = number.max(1);
        Page {
            limit: per_page,
            offset: (number - 1).saturating_mul(per_page),
        }
    }
}

/// A whole import (WordPress), applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    pub authors: Vec<ImportAuthor>,
    pub posts: Vec<ImportPost>,
}

#[derive(Debug, Clone)]
pub struct ImportAuthor {
    /// Stable across runs, e.g. `wxr:<site>:author:<login>`.
    pub import_key: String,
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct ImportPost {
    pub import_key: String,
    /// `import_key` of the author; when it matches no author of the batch or of the
    /// store, `fallback_author` is used.
    pub author_import_key: Option<String>,
    pub fallback_author: AuthorId,
    pub title: String,
    pub slug: String,
    pub source: String,
    pub content_html: String,
    pub summary: Option<String>,
    pub tags: Vec<Tag>,
    pub published_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Comments in any order; threading is given by `parent_import_key`.
    pub comments: Vec<ImportComment>,
}

#[derive(Debug, Clone)]
pub struct ImportComment {
    pub import_key: String,
    pub parent_import_key: Option<String>,
    pub author_name: String,
    pub author_url: Option<String>,
    pub author_email: Option<String>,
    pub content_html: String,
    pub moderation: Moderation,
    pub published_at: DateTime<Utc>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub authors_created: u64,
    pub posts_created: u64,
    pub posts_unchanged: u64,
    pub comments_created: u64,
    pub comments_unchanged: u64,
    /// Things left out, each with the reason (e.g. a slug already used by another post).
    pub skipped: Vec<String>,
}

/// Whole-site counts (admin dashboard, later NodeInfo).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteCounts {
    pub authors: i64,
    pub published_posts: i64,
    pub public_comments: i64,
    /// Authors who published a post in the last 30 days (NodeInfo `activeMonth`).
    pub active_authors_month: i64,
    /// Authors who published a post in the last 180 days (NodeInfo `activeHalfyear`).
    pub active_authors_halfyear: i64,
}
