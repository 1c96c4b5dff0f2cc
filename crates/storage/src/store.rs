//! The `Store` trait: every read and write Gloss makes to its database.
//!
//! Each method is one use case and runs in at most one transaction; no method holds a
//! transaction across anything but its own queries. Both engines (SQLite and
//! PostgreSQL) implement exactly the same behaviour, which the conformance suite in
//! `tests/conformance.rs` checks.

use crate::error::Error;
use crate::model::{
    Author, AuthorId, BlogSettings, Comment, CommentId, ImportBatch, ImportReport, Moderation,
    NewAuthor, NewComment, Page, Post, PostDraft, PostId, Session, SiteCounts, TagCount,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which comments a listing includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentFilter {
    /// What a public page needs: approved comments, deleted ones included (their content
    /// is already cleared; the page shows a placeholder where they have visible replies).
    Public,
    /// Everything, for the admin UI.
    All,
    /// Only comments waiting for moderation.
    Pending,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- authors ----

    /// Called by `gloss user add`, the setup page and imports. Fails with
    /// [`Error::Conflict`] when the username is taken.
    async fn create_author(&self, author: NewAuthor) -> Result<Author>;
    async fn author_by_id(&self, id: AuthorId) -> Result<Option<Author>>;
    /// Usernames are compared case-insensitively (they are stored lower-case).
    async fn author_by_username(&self, username: &str) -> Result<Option<Author>>;
    /// All authors, oldest first.
    async fn list_authors(&self) -> Result<Vec<Author>>;
    async fn count_authors(&self) -> Result<i64>;
    /// Called at login: the author and their password hash, if they can log in.
    async fn author_credentials(&self, username: &str) -> Result<Option<(Author, String)>>;
    async fn set_author_password(&self, id: AuthorId, password_hash: &str) -> Result<()>;
    /// Updates the public profile (display name, bio, avatar).
    async fn update_author_profile(
        &self,
        id: AuthorId,
        display_name: &str,
        bio: &str,
        avatar_url: Option<&str>,
    ) -> Result<Author>;

    // ---- posts ----

    /// Creates a post. Fails with [`Error::Conflict`] when the slug is taken (by any
    /// post, deleted ones included).
    async fn create_post(&self, draft: PostDraft) -> Result<Post>;
    /// Replaces a post's content, tags and status. Sets `updated_at = now` when the
    /// post was already published before and stays published; `published_at` is kept
    /// from the first publication unless the post goes from draft to published, in
    /// which case it takes `draft.published_at`.
    async fn update_post(&self, id: PostId, draft: PostDraft) -> Result<Post>;
    /// Marks a post deleted (a tombstone: the slug answers 410 from now on).
    async fn delete_post(&self, id: PostId) -> Result<()>;
    async fn post_by_id(&self, id: PostId) -> Result<Option<Post>>;
    /// Any status, so that callers can answer 410 for deleted posts.
    async fn post_by_slug(&self, slug: &str) -> Result<Option<Post>>;
    /// Published posts, newest first.
    async fn published_posts(&self, page: Page) -> Result<Vec<Post>>;
    async fn count_published_posts(&self) -> Result<i64>;
    /// Published posts carrying the tag, newest first.
    async fn published_posts_with_tag(&self, tag_slug: &str, page: Page) -> Result<Vec<Post>>;
    async fn count_published_posts_with_tag(&self, tag_slug: &str) -> Result<i64>;
    /// Published posts by the author, newest first.
    async fn published_posts_by_author(&self, author: AuthorId, page: Page) -> Result<Vec<Post>>;
    async fn count_published_posts_by_author(&self, author: AuthorId) -> Result<i64>;
    /// Drafts and published posts (not deleted), most recently created first: the admin list.
    async fn all_posts(&self, page: Page) -> Result<Vec<Post>>;
    /// Tags in use by published posts, with counts, by name.
    async fn tags_in_use(&self) -> Result<Vec<TagCount>>;
    /// The display form of a tag, if any post ever used it.
    async fn tag_by_slug(&self, slug: &str) -> Result<Option<crate::model::Tag>>;

    // ---- comments ----

    /// Adds a comment; its depth is computed from the parent, which must belong to the
    /// same post ([`Error::Invalid`] otherwise).
    async fn add_comment(&self, comment: NewComment) -> Result<Comment>;
    async fn comment_by_id(&self, id: CommentId) -> Result<Option<Comment>>;
    /// A post's comments in thread order: every comment directly follows its parent
    /// or an earlier sibling's subtree; siblings are oldest first.
    async fn comments_for_post(&self, post: PostId, filter: CommentFilter) -> Result<Vec<Comment>>;
    /// Number of comments a reader sees on the post (approved, not deleted).
    async fn count_public_comments(&self, post: PostId) -> Result<i64>;
    /// Comments across all posts, newest first, for the admin UI.
    async fn recent_comments(&self, filter: CommentFilter, page: Page) -> Result<Vec<Comment>>;
    async fn set_comment_moderation(&self, id: CommentId, state: Moderation) -> Result<()>;
    /// Deletes a comment: its content is cleared and `deleted_at` set; replies stay.
    async fn delete_comment(&self, id: CommentId) -> Result<()>;

    // ---- import ----

    /// Applies a whole import in one transaction: rows whose `import_key` exists are
    /// left unchanged, so running the same import twice changes nothing. On error
    /// nothing is written.
    async fn import(&self, batch: ImportBatch) -> Result<ImportReport>;

    // ---- settings ----

    async fn blog_settings(&self) -> Result<BlogSettings>;
    async fn update_blog_settings(&self, settings: &BlogSettings) -> Result<()>;

    // ---- admin sessions ----

    async fn create_session(&self, session: &Session) -> Result<()>;
    /// Only sessions that have not expired at `now`.
    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Removes expired sessions; returns how many.
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;

    // ---- site ----

    async fn site_counts(&self) -> Result<SiteCounts>;
}
