//! The `Store` trait: every read and write Gloss makes to its database.
//!
//! Each method is one use case and runs in at most one transaction; no method holds a
//! transaction across anything but its own queries. Both engines (SQLite and
//! PostgreSQL) implement exactly the same behaviour, which the conformance suite in
//! `tests/conformance.rs` checks.

use crate::error::Error;
use crate::federation_model::{
    ActorKey, DeliveryJob, DeliveryOutcome, DeliveryStatus, FollowState, Follower, HostHealth,
    LocalActor, OutgoingActivity, RemoteActor, RemoteActorId, RemoteActorUpsert,
};
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

    /// Creates a post and records `outbox` (its activities, with one delivery per
    /// distinct inbox) in the same transaction; each activity's `post_id` is set to the
    /// new post. Fails with [`Error::Conflict`] when the slug is taken (by any post,
    /// deleted ones included), and then records nothing.
    async fn create_post(&self, draft: PostDraft, outbox: Vec<OutgoingActivity>) -> Result<Post>;
    /// Replaces a post's content, tags and status. Sets `updated_at = now` when the
    /// post was already published before and stays published; `published_at` is kept
    /// from the first publication unless the post goes from draft to published, in
    /// which case it takes `draft.published_at`.
    /// `outbox` is recorded in the same transaction, as for `create_post`.
    async fn update_post(
        &self,
        id: PostId,
        draft: PostDraft,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Post>;
    /// Marks a post deleted (a tombstone: the slug answers 410 from now on) and records
    /// `outbox` in the same transaction.
    async fn delete_post(&self, id: PostId, outbox: Vec<OutgoingActivity>) -> Result<()>;
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

    /// Whole-site counts; `now` anchors the active-author windows.
    async fn site_counts(&self, now: DateTime<Utc>) -> Result<SiteCounts>;

    // ---- local actors' keys ----

    /// The stored key pair of one of our actors.
    async fn actor_key(&self, actor: LocalActor) -> Result<Option<ActorKey>>;
    /// Stores `key` unless the actor already has one, and returns the key that is stored
    /// afterwards (so two processes generating at once end up with the same key).
    async fn insert_actor_key_if_missing(&self, key: ActorKey) -> Result<ActorKey>;

    // ---- remote actors ----

    /// Inserts or refreshes a remote actor by `ap_id`; clears `deleted_at`. Fails with
    /// [`Error::Invalid`] when its inbox or shared inbox is not a URL with a host.
    async fn upsert_remote_actor(&self, actor: RemoteActorUpsert) -> Result<RemoteActor>;
    async fn remote_actor_by_ap_id(&self, ap_id: &str) -> Result<Option<RemoteActor>>;
    async fn remote_actor_by_id(&self, id: RemoteActorId) -> Result<Option<RemoteActor>>;
    /// The actor whose `publicKey.id` is `key_id` (signature verification).
    async fn remote_actor_by_key_id(&self, key_id: &str) -> Result<Option<RemoteActor>>;
    /// Marks the actor deleted and removes it from every follower list.
    async fn mark_remote_actor_deleted(&self, ap_id: &str, now: DateTime<Utc>) -> Result<()>;

    // ---- followers ----

    /// Records (or updates, by `(local_actor, remote)`) a follow, and `outbox` (e.g. the
    /// Accept) in the same transaction.
    async fn upsert_follower(
        &self,
        local_actor: LocalActor,
        remote: RemoteActorId,
        follow_ap_id: &str,
        state: FollowState,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Follower>;
    async fn follower(
        &self,
        local_actor: LocalActor,
        remote: RemoteActorId,
    ) -> Result<Option<Follower>>;
    /// Removes a follow (Undo(Follow), admin removal, 410 from its inbox) and records
    /// `outbox` (e.g. the Reject) in the same transaction, also when there was no such
    /// follow. Returns whether it existed.
    async fn remove_follower(
        &self,
        local_actor: LocalActor,
        remote: RemoteActorId,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<bool>;
    /// Removes every follow whose delivery inbox (personal, not shared) is `inbox`:
    /// called when that inbox answered 410 Gone. Returns how many were removed.
    async fn remove_followers_with_inbox(&self, inbox: &str) -> Result<u64>;
    /// Followers of `local_actor` in `state`, oldest first.
    async fn followers(
        &self,
        local_actor: LocalActor,
        state: FollowState,
        page: Page,
    ) -> Result<Vec<Follower>>;
    async fn count_followers(&self, local_actor: LocalActor, state: FollowState) -> Result<i64>;

    // ---- outbox and deliveries ----

    /// Records activities that are not tied to another change.
    async fn enqueue_activities(&self, outbox: Vec<OutgoingActivity>) -> Result<()>;
    /// The payload of one of our activities by its id (to serve it at its URL).
    async fn activity_payload(&self, ap_id: &str) -> Result<Option<String>>;
    /// Our newest public activities of `actor` (its outbox collection), newest first.
    async fn activities_of(
        &self,
        actor: LocalActor,
        kinds: &[&str],
        page: Page,
    ) -> Result<Vec<String>>;
    async fn count_activities_of(&self, actor: LocalActor, kinds: &[&str]) -> Result<i64>;
    /// Claims up to `limit` pending deliveries due at `now`, leasing them until
    /// `now + lease` so that no other worker (in this or another process) takes them;
    /// a lease that runs out (a crashed worker) makes them claimable again. At most
    /// `per_host` deliveries to one host are leased at a time, counting those already
    /// leased. Hosts marked unreachable are skipped unless their next probe is due.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        per_host: i64,
        lease: chrono::Duration,
    ) -> Result<Vec<DeliveryJob>>;
    /// Records the outcome of an attempt, ends the lease, and updates the host's health
    /// (a final 4xx is not held against the host). A delivery that is no longer pending
    /// keeps its first outcome; an unknown id is [`Error::NotFound`].
    async fn finish_delivery(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The earliest `next_attempt_at` of pending deliveries (the worker sleeps until then),
    /// pushed back to the end of a delivery's lease and, for an unreachable host, to its
    /// next probe. Deliveries held back only by the per-host cap count as due.
    async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>>;
    /// Deliveries of the activities about one post, newest first (admin UI).
    async fn deliveries_for_post(&self, post: PostId) -> Result<Vec<DeliveryStatus>>;
    /// Counts of pending, delivered and failed deliveries for one post.
    async fn delivery_counts_for_post(&self, post: PostId) -> Result<(i64, i64, i64)>;

    // ---- remote hosts ----

    async fn host_health(&self, host: &str) -> Result<Option<HostHealth>>;
    /// Marks a host unreachable (after days of failures); its first probe is
    /// [`UNREACHABLE_HOST_PROBE_INTERVAL`](crate::UNREACHABLE_HOST_PROBE_INTERVAL) later.
    async fn mark_host_unreachable(&self, host: &str, now: DateTime<Utc>) -> Result<()>;
    /// The host contacted us (a verified inbox request): it is reachable again, and its
    /// deferred deliveries become due now.
    async fn host_contacted_us(&self, host: &str, now: DateTime<Utc>) -> Result<()>;

    // ---- received activities ----

    /// Remembers an incoming activity id; returns `false` when it was seen before
    /// (the same activity delivered twice is handled once).
    async fn record_received_activity(&self, ap_id: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Forgets received ids older than `before`; returns how many.
    async fn purge_received_activities(&self, before: DateTime<Utc>) -> Result<u64>;
}
