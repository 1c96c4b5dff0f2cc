//! The `Store` trait: every read and write Gloss makes to its database.
//!
//! Each method is one use case and runs in at most one transaction; no method holds a
//! transaction across anything but its own queries. Both engines (SQLite and
//! PostgreSQL) implement exactly the same behaviour, which the conformance suite in
//! `tests/conformance.rs` checks.

use crate::discussion_model::{
    Block, BlockKind, CommentRevision, DeleteOutcome, EditOutcome, Flag, FlagId, LocalAuthorReply,
    LocalReplyEdit, ModerationDecider, ModerationDecision, NewFlag, NewReaction, PostReactions,
    ReactionOutcome, RemoteCommentEdit, RemoteCommentUpsert, ThreadNode, UndoOutcome,
    UpsertOutcome,
};
use crate::error::Error;
use crate::federation_model::{
    ActorKey, DeliveryJob, DeliveryOutcome, DeliveryStatus, FollowState, Follower, HostHealth,
    LocalActor, OutgoingActivity, ReceivedActivity, RemoteActor, RemoteActorId, RemoteActorUpsert,
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
    /// What a public page needs: [listed](crate::Comment::is_listed) comments (approved,
    /// public or unlisted, not by a blocked author), deleted ones included (their content
    /// is already cleared; the page shows a placeholder where they have visible replies).
    Public,
    /// Everything, for the admin UI: private messages (followers-only and direct) and
    /// blocked authors' comments included, told apart by `visibility` and
    /// `author_blocked`.
    All,
    /// The moderation queue: public and unlisted comments waiting for a decision, not by
    /// blocked authors.
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
    /// The id of the published post with that slug: one cheap read, for the inbox
    /// (what a Like or an Announce names).
    async fn published_post_id_by_slug(&self, slug: &str) -> Result<Option<PostId>>;
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
    /// or an earlier sibling's subtree; siblings are oldest first. Pages and feeds use
    /// [`CommentFilter::Public`].
    async fn comments_for_post(&self, post: PostId, filter: CommentFilter) -> Result<Vec<Comment>>;
    /// Number of comments a reader sees on the post (listed, not deleted).
    async fn count_public_comments(&self, post: PostId) -> Result<i64>;
    /// Comments across all posts, newest first, for the admin UI.
    async fn recent_comments(&self, filter: CommentFilter, page: Page) -> Result<Vec<Comment>>;
    /// Sets the state without logging; decisions with a reason go through
    /// [`Store::set_comment_moderation_with_reason`].
    async fn set_comment_moderation(&self, id: CommentId, state: Moderation) -> Result<()>;
    /// Deletes a comment: its content (with its content warning and attachments) is
    /// cleared and `deleted_at` set; replies stay. A remote comment deleted so is not
    /// brought back by its Create arriving again.
    async fn delete_comment(&self, id: CommentId) -> Result<()>;

    // ---- fediverse discussion: remote comments ----
    //
    // A remote object is stored with its owner (`remote_actor_id`); every later change
    // by a remote actor (Update, Delete) is checked against that stored owner, never
    // against what the activity claims. A deleted object leaves a tombstone, so that the
    // same Create arriving late or replayed does not bring it back.

    /// Called by the inbox for a Create of a reply (and by thread backfill for each
    /// fetched reply), after the caller has checked visibility, blocks and whether the
    /// post takes comments, and decided moderation. Inserts the comment by `ap_id` under
    /// its parent (a missing post or parent comment is [`Error::NotFound`]). When the
    /// id is stored already: another owner → `NotOwner`; deleted → `Tombstoned`;
    /// otherwise the content is updated like [`Store::update_remote_comment_content`]
    /// (`Updated`, previous version kept as a revision) or left (`Unchanged`). A
    /// tombstone left by a local deletion, or by this same actor, gives `Tombstoned`.
    /// When `moderation_reason` is given, the decision is logged (decided by the rules).
    async fn upsert_remote_comment(&self, comment: RemoteCommentUpsert) -> Result<UpsertOutcome>;
    /// Any comment by its ActivityPub id (remote comments and author replies), deleted
    /// ones included: the inbox resolves `inReplyTo` with it.
    async fn comment_by_ap_id(&self, ap_id: &str) -> Result<Option<Comment>>;
    /// Called by the inbox for an Update of a Note by `actor` (the verified sender).
    /// Only the stored owner may edit: otherwise `NotOwner` (also for our own comments).
    /// A version not newer than the stored one, or with the same content, is
    /// `Unchanged`; otherwise the previous version is kept as a revision, the moderation
    /// decision of the edit applies (except that a hidden or spam comment stays so) and
    /// is logged when it changes the state or comes with a reason.
    async fn update_remote_comment_content(
        &self,
        ap_id: &str,
        actor: RemoteActorId,
        edit: RemoteCommentEdit,
    ) -> Result<EditOutcome>;
    /// Called by the inbox for a Delete (Tombstone or bare id) by `actor`. The stored
    /// owner only: the content is cleared, `deleted_at` set and a tombstone written.
    /// For an id we do not hold, a tombstone is written (owned by `actor`) and `Unknown`
    /// returned.
    async fn delete_comment_by_ap_id(
        &self,
        ap_id: &str,
        actor: RemoteActorId,
        now: DateTime<Utc>,
    ) -> Result<DeleteOutcome>;
    /// Whether a tombstone exists for `ap_id` (deleted comment, undone reaction, deleted
    /// author reply).
    async fn tombstone_exists(&self, ap_id: &str) -> Result<bool>;
    /// Called for a Delete of an actor (after [`Store::mark_remote_actor_deleted`]):
    /// deletes all their live comments (with tombstones) and removes their reactions
    /// from the counts. Returns how many comments were deleted.
    async fn delete_comments_of_actor(
        &self,
        actor: RemoteActorId,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Called after an Update(Person) refreshed the actor: the name, profile link and
    /// avatar shown on all their comments. Returns how many comments were changed.
    async fn update_comment_authors(
        &self,
        actor: RemoteActorId,
        author_name: &str,
        author_url: Option<&str>,
        author_avatar_url: Option<&str>,
    ) -> Result<u64>;
    /// Earlier versions of an edited comment, oldest first (admin UI).
    async fn comment_revisions(&self, comment: CommentId) -> Result<Vec<CommentRevision>>;
    /// Followers-only and direct replies, newest first: the admin UI's private messages.
    async fn private_comments(&self, page: Page) -> Result<Vec<Comment>>;
    async fn count_private_comments(&self) -> Result<i64>;

    // ---- fediverse discussion: collections ----

    /// The ap ids of the listed, live replies directly under a post (top-level comments)
    /// or a comment, oldest first: our `replies` collection. Comments without an ap id
    /// (readers' and imported ones) are in no collection.
    async fn public_reply_ap_ids(&self, node: ThreadNode, page: Page) -> Result<Vec<String>>;
    async fn count_public_replies(&self, node: ThreadNode) -> Result<i64>;
    /// The ap ids of all listed, live comments of a post, oldest first: the post's
    /// FEP-7888 `context` collection (the caller adds the post itself).
    async fn public_thread_ap_ids(&self, post: PostId, page: Page) -> Result<Vec<String>>;
    async fn count_public_thread(&self, post: PostId) -> Result<i64>;

    // ---- fediverse discussion: author replies ----

    /// Called when an author replies in the admin UI: stores the reply (approved, with
    /// `local_author_id`) under its parent and records `outbox` (its Create) in the same
    /// transaction, tied to the thread's post. A taken ap id is [`Error::Conflict`].
    async fn add_local_author_reply(
        &self,
        reply: LocalAuthorReply,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Comment>;
    /// Edits an author reply (the previous version kept as a revision) and records
    /// `outbox` (its Update). Anything but a live author reply is [`Error::Invalid`].
    async fn update_local_author_reply(
        &self,
        id: CommentId,
        edit: LocalReplyEdit,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Comment>;
    /// Deletes an author reply (content cleared, tombstone written) and records `outbox`
    /// (its Delete). Anything but an author reply is [`Error::Invalid`].
    async fn delete_local_author_reply(
        &self,
        id: CommentId,
        outbox: Vec<OutgoingActivity>,
        now: DateTime<Utc>,
    ) -> Result<()>;

    // ---- fediverse discussion: likes and announces ----

    /// Called by the inbox for a Like or Announce of a post or a comment. Counted once
    /// per activity id and once per (actor, kind, object); an undone activity id is not
    /// counted again. A missing target is [`Error::NotFound`]. A comment's counters are
    /// updated in the same transaction.
    async fn record_reaction(&self, reaction: NewReaction) -> Result<ReactionOutcome>;
    /// Called by the inbox for a Like or Announce: [`Store::record_reaction`] and
    /// [`Store::receive_activity`] in one transaction (one commit per activity), so the
    /// activity id is recorded exactly when the reaction's change is. On an error
    /// neither is. Also says whether the activity id was new.
    async fn record_received_reaction(
        &self,
        reaction: NewReaction,
        received: ReceivedActivity,
    ) -> Result<(ReactionOutcome, bool)>;
    /// Called by the inbox for an Undo of a Like or Announce by `actor`: only the
    /// reaction's own actor may undo it. Leaves a tombstone for the activity id either
    /// way (unless refused), so that the reaction arriving late is not counted.
    async fn undo_reaction(
        &self,
        activity_ap_id: &str,
        actor: RemoteActorId,
    ) -> Result<UndoOutcome>;
    /// The counts shown on a post's page: the post's own and its comments'.
    async fn reaction_counts_for_post(&self, post: PostId) -> Result<PostReactions>;

    // ---- fediverse discussion: reports ----

    /// Called by the inbox for a Flag; a Flag with an id recorded before returns the
    /// stored report. The reporter must be stored ([`Error::Invalid`] otherwise).
    async fn record_flag(&self, flag: NewFlag) -> Result<Flag>;
    /// Unresolved reports, newest first (admin UI).
    async fn open_flags(&self, page: Page) -> Result<Vec<Flag>>;
    async fn count_open_flags(&self) -> Result<i64>;
    /// Marks a report handled; a second call keeps the first time.
    async fn resolve_flag(&self, id: FlagId, now: DateTime<Utc>) -> Result<()>;

    // ---- fediverse discussion: moderation ----

    /// A moderation decision (admin UI: approve, reject = hidden, spam; or the rules):
    /// sets the state and its reason on the comment, and logs it.
    async fn set_comment_moderation_with_reason(
        &self,
        id: CommentId,
        state: Moderation,
        reason: &str,
        decided_by: ModerationDecider,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Every logged decision on a comment, oldest first: the admin UI says from it why a
    /// comment is not shown.
    async fn moderation_history(&self, comment: CommentId) -> Result<Vec<ModerationDecision>>;
    /// How many of the actor's comments are approved (deleted ones included), for
    /// "first-time" moderation: a commenter with none waits for approval.
    async fn count_approved_comments_by_actor(&self, actor: RemoteActorId) -> Result<i64>;
    /// How many comments arrived (by arrival time, not the claimed publication time)
    /// since `since` from actors on `host`'s domain (port ignored): the burst rule.
    async fn recent_comment_count_from_host(&self, host: &str, since: DateTime<Utc>)
    -> Result<i64>;
    /// How many comments by `actor` arrived since `since`: the per-actor burst rule.
    async fn recent_comment_count_by_actor(
        &self,
        actor: RemoteActorId,
        since: DateTime<Utc>,
    ) -> Result<i64>;
    /// Closes (or reopens) a post's comments: `Post::comments_open`. Closing after N days
    /// is a setting the callers apply to `published_at` when they read; nothing is
    /// stored for it.
    async fn set_post_comments_closed(&self, post: PostId, closed: bool) -> Result<()>;

    // ---- fediverse discussion: blocks ----
    //
    // Blocks are applied when comments are read: a blocked actor's (or domain's)
    // comments drop out of every public listing, count and collection (they stay in
    // `CommentFilter::All`, marked `author_blocked`), and come back if the block is
    // lifted. Their stored moderation state is not touched.

    /// Blocks an actor (by ap id) or a domain (normalized by
    /// [`block_domain`](crate::block_domain); it covers its subdomains). Blocking again
    /// updates the reason. A value that names nothing is [`Error::Invalid`].
    async fn add_block(
        &self,
        kind: BlockKind,
        value: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Block>;
    /// Lifts a block; returns whether it existed.
    async fn remove_block(&self, kind: BlockKind, value: &str) -> Result<bool>;
    /// Called by the inbox before anything is fetched or stored: whether the actor, or
    /// `host`'s domain or a domain above it, is blocked. `host` may carry a port.
    async fn is_blocked(&self, actor_ap_id: Option<&str>, host: &str) -> Result<bool>;
    /// All blocks, by kind and value.
    async fn list_blocks(&self) -> Result<Vec<Block>>;
    /// Called by the inbox when it moderates a comment: whether `host`'s domain (or the
    /// actor id's), or a domain above it, is limited ([`BlockKind::Limit`]): its comments
    /// are held instead of published. A limit hides nothing by itself.
    async fn is_domain_limited(&self, actor_ap_id: Option<&str>, host: &str) -> Result<bool>;

    // ---- import ----

    /// Applies a whole import in one transaction: rows whose `import_key` exists are
    /// left unchanged, so running the same import twice changes nothing. On error
    /// nothing is written.
    async fn import(&self, batch: ImportBatch) -> Result<ImportReport>;

    // ---- settings ----

    async fn blog_settings(&self) -> Result<BlogSettings>;

    /// The page version: a counter that moves, in the same transaction, with every
    /// change to what a public page shows (posts, tags, comments, reactions, settings,
    /// authors, blocks), whichever process makes it (triggers of migration 0008). Called
    /// by the rendered-page cache before each cached request; a page rendered after
    /// reading version `v` is current for as long as this still returns `v`.
    async fn page_version(&self) -> Result<i64>;
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
    /// [`Store::finish_delivery`] for many attempts at once, in one write transaction (the
    /// delivery worker records outcomes in batches: one commit for many sends). Each
    /// outcome has the same effect as alone; the ids that name no delivery are returned
    /// instead of failing the batch.
    async fn finish_deliveries(
        &self,
        finished: Vec<(i64, DeliveryOutcome)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>>;
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
    /// Called by the inbox once an activity's effect is committed (or when it had none):
    /// in one transaction, the sender's host contacted us ([`Store::host_contacted_us`],
    /// which writes nothing for a healthy host) and the id joins the log
    /// ([`Store::record_received_activity`]). `false` when the id was recorded before.
    async fn receive_activity(&self, received: ReceivedActivity) -> Result<bool>;
    /// Forgets received ids older than `before`; returns how many.
    async fn purge_received_activities(&self, before: DateTime<Utc>) -> Result<u64>;

    // ---- moderation rules: account age (checklist M2) ----

    /// Called after a remote actor is fetched (and upserted): when the account was
    /// created, as its document's `published` claims, or `None` when it gave none. An
    /// unknown actor is left alone.
    async fn set_remote_actor_published(
        &self,
        actor: RemoteActorId,
        published: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// The creation time stored by [`Store::set_remote_actor_published`], if any: the
    /// moderation rules hold replies from accounts younger than 30 days.
    async fn remote_actor_published(&self, actor: RemoteActorId) -> Result<Option<DateTime<Utc>>>;

    // ---- fediverse discussion: thread backfill ----

    /// Called before the `replies` and `context` collections of the remote comment
    /// `ap_id` are read (after a reply arrived, and by the periodic backfill): records
    /// `now` as its last backfill and returns `true`, unless it was backfilled at or
    /// after `not_before` (then `false`, nothing changes). Of several processes asking at
    /// once, one gets `true`. The id need not be a stored comment.
    async fn claim_comment_backfill(
        &self,
        ap_id: &str,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<bool>;
    /// Called by the periodic backfill: the ap ids of live public or unlisted remote
    /// comments (not spam, hidden or by a blocked author) on published posts published at
    /// or after `since`, or which got a comment since then, that were not backfilled at
    /// or after `not_before`; never backfilled first, then the least recently
    /// backfilled; at most `limit`.
    async fn comments_due_for_backfill(
        &self,
        since: DateTime<Utc>,
        not_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>>;
}
