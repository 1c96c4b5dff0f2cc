//! The discussion half of what the two engines share, in the same pattern as `util.rs`:
//! the SQL for remote comments and their revisions, tombstones, reactions, flags, the
//! moderation log and blocks; the rows; and every use case that spans several statements.
//!
//! Unlike `util.rs`, the statements are implemented once for both drivers: their bodies
//! are token for token the same for SQLite and PostgreSQL (only the connection type
//! differs), so the `discussion_statements!` macro below instantiates them for each
//! connection type instead of two hand-kept copies.
//!
//! Concurrency: SQLite write transactions hold the database's write lock from their
//! start (`BEGIN IMMEDIATE`), so they run one at a time. PostgreSQL runs them at once
//! (READ COMMITTED), so the use cases here
//! - lock the comment they are about to change first (a no-op UPDATE: portable, and a
//!   row lock on PostgreSQL), so two edits of one comment run one after the other and
//!   the second reads what the first wrote;
//! - insert with ON CONFLICT DO NOTHING where two receivers may race (a comment, a
//!   reaction, a flag), and count with `count = count + delta` after a row was really
//!   inserted or deleted, never by recounting from a snapshot.

use crate::discussion_model::{
    Block, BlockKind, CommentRevision, DeleteOutcome, EditOutcome, Flag, FlagId, LocalAuthorReply,
    LocalReplyEdit, ModerationDecider, ModerationDecision, NewFlag, NewReaction, PostReactions,
    ReactionCount, ReactionKind, ReactionOutcome, RemoteCommentEdit, RemoteCommentUpsert,
    ThreadNode, UndoOutcome, UpsertOutcome, block_domain,
};
use crate::error::Error;
use crate::federation_model::{OutgoingActivity, ReceivedActivity, RemoteActorId};
use crate::federation_util::{FederationTxStatements, receive_activity, record_outbox};
use crate::model::{Attachment, Comment, CommentId, CommentOrigin, Moderation, Page, PostId};
use crate::store::Result;
use crate::util::{
    CommentInsert, CommentPlacement, CommentRow, TxStatements, attachments_json, db_time, now,
    page_bounds, parse_attachments, parse_stored,
};
use chrono::{DateTime, Utc};

// ---------------------------------------------------------------------------------------
// rows
// ---------------------------------------------------------------------------------------

/// A `comment_revisions` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RevisionRow {
    id: i64,
    comment_id: i64,
    content_html: String,
    summary: Option<String>,
    sensitive: bool,
    attachments_json: String,
    written_at: DateTime<Utc>,
    replaced_at: DateTime<Utc>,
}

impl TryFrom<RevisionRow> for CommentRevision {
    type Error = Error;

    fn try_from(row: RevisionRow) -> Result<Self> {
        Ok(CommentRevision {
            id: row.id,
            comment_id: CommentId(row.comment_id),
            content_html: row.content_html,
            summary: row.summary,
            sensitive: row.sensitive,
            attachments: parse_attachments(&row.attachments_json)?,
            written_at: row.written_at,
            replaced_at: row.replaced_at,
        })
    }
}

/// What a reaction is and whose, as needed to undo it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ReactionRow {
    kind: String,
    remote_actor_id: i64,
    comment_id: Option<i64>,
}

/// A `flags` row with its reporter's ActivityPub id.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FlagRow {
    id: i64,
    ap_id: Option<String>,
    reporter_actor_id: i64,
    reporter_ap_id: String,
    object_ap_ids_json: String,
    content: String,
    created_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
}

impl TryFrom<FlagRow> for Flag {
    type Error = Error;

    fn try_from(row: FlagRow) -> Result<Self> {
        let object_ap_ids = serde_json::from_str(&row.object_ap_ids_json).map_err(|err| {
            Error::Invalid(format!(
                "unreadable reported objects in the database: {err}"
            ))
        })?;
        Ok(Flag {
            id: FlagId(row.id),
            ap_id: row.ap_id,
            reporter: RemoteActorId(row.reporter_actor_id),
            reporter_ap_id: row.reporter_ap_id,
            object_ap_ids,
            content: row.content,
            created_at: row.created_at,
            resolved_at: row.resolved_at,
        })
    }
}

/// A `moderation_log` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DecisionRow {
    id: i64,
    comment_id: i64,
    decision: String,
    reason: String,
    decided_by: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<DecisionRow> for ModerationDecision {
    type Error = Error;

    fn try_from(row: DecisionRow) -> Result<Self> {
        Ok(ModerationDecision {
            id: row.id,
            comment_id: CommentId(row.comment_id),
            decision: parse_stored(&row.decision, Moderation::parse, "moderation decision")?,
            reason: row.reason,
            decided_by: parse_stored(
                &row.decided_by,
                ModerationDecider::from_key,
                "moderation decider",
            )?,
            created_at: row.created_at,
        })
    }
}

/// A `blocks` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BlockRow {
    id: i64,
    kind: String,
    value: String,
    reason: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<BlockRow> for Block {
    type Error = Error;

    fn try_from(row: BlockRow) -> Result<Self> {
        Ok(Block {
            id: row.id,
            kind: parse_stored(&row.kind, BlockKind::parse, "block kind")?,
            value: row.value,
            reason: row.reason,
            created_at: row.created_at,
        })
    }
}

/// Likes and announces of a post.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ReactionCountRow {
    likes: i64,
    announces: i64,
}

/// The counters of one comment.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CommentCountRow {
    id: i64,
    like_count: i64,
    announce_count: i64,
}

// ---------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------

/// Discussion statements, in the same portable subset as `util::sql`.
pub(crate) mod sql {
    use crate::util::{comment_columns, comment_listed, domain_covered_by_block};

    // ---- comments ----
    pub(crate) const COMMENT_BY_AP_ID: &str = concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c WHERE c.ap_id = $1"
    );
    /// A no-op update: on PostgreSQL it takes the row's lock until the transaction ends,
    /// so that a second change of the same comment waits and then reads the first one's
    /// result. (SQLite's write transactions are serialized already.)
    pub(crate) const LOCK_COMMENT_BY_AP_ID: &str =
        "UPDATE comments SET depth = depth WHERE ap_id = $1";
    pub(crate) const LOCK_COMMENT_BY_ID: &str = "UPDATE comments SET depth = depth WHERE id = $1";
    pub(crate) const INSERT_REVISION: &str = "INSERT INTO comment_revisions (comment_id, \
         content_html, summary, sensitive, attachments_json, written_at, replaced_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub(crate) const REVISIONS: &str = "SELECT id, comment_id, content_html, summary, \
         sensitive, attachments_json, written_at, replaced_at FROM comment_revisions \
         WHERE comment_id = $1 ORDER BY id";
    pub(crate) const UPDATE_COMMENT_CONTENT: &str = "UPDATE comments SET content_html = $2, \
         summary = $3, sensitive = $4, attachments_json = $5, updated_at = $6, \
         moderation = $7, moderation_reason = $8 WHERE id = $1";
    /// Deletes (as `util::sql::DELETE_COMMENT` does) every live comment of a remote actor,
    /// returning their ids for the tombstones.
    pub(crate) const DELETE_COMMENTS_OF_ACTOR: &str = "UPDATE comments SET content_html = '', \
         summary = NULL, attachments_json = '[]', deleted_at = $2 \
         WHERE remote_actor_id = $1 AND deleted_at IS NULL RETURNING ap_id";
    pub(crate) const UPDATE_COMMENT_AUTHORS: &str = "UPDATE comments SET author_name = $2, \
         author_url = $3, author_avatar_url = $4 WHERE remote_actor_id = $1";
    pub(crate) const PRIVATE_COMMENTS: &str = concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c WHERE c.visibility IN ('followers', 'direct') \
         ORDER BY c.published_at DESC, c.id DESC LIMIT $1 OFFSET $2"
    );
    pub(crate) const COUNT_PRIVATE_COMMENTS: &str =
        "SELECT COUNT(*) FROM comments WHERE visibility IN ('followers', 'direct')";

    // ---- collections ----
    /// Listed, live comments with an ActivityPub id (readers' and imported comments have
    /// none, so they are not in any collection).
    macro_rules! collected {
        () => {
            concat!(
                " c.ap_id IS NOT NULL AND c.deleted_at IS NULL AND ",
                comment_listed!()
            )
        };
    }
    pub(crate) const REPLIES_TO_POST: &str = concat!(
        "SELECT c.ap_id FROM comments c WHERE c.post_id = $1 AND c.parent_id IS NULL AND",
        collected!(),
        " ORDER BY c.published_at, c.id LIMIT $2 OFFSET $3"
    );
    pub(crate) const COUNT_REPLIES_TO_POST: &str = concat!(
        "SELECT COUNT(*) FROM comments c WHERE c.post_id = $1 AND c.parent_id IS NULL AND",
        collected!()
    );
    pub(crate) const REPLIES_TO_COMMENT: &str = concat!(
        "SELECT c.ap_id FROM comments c WHERE c.parent_id = $1 AND",
        collected!(),
        " ORDER BY c.published_at, c.id LIMIT $2 OFFSET $3"
    );
    pub(crate) const COUNT_REPLIES_TO_COMMENT: &str = concat!(
        "SELECT COUNT(*) FROM comments c WHERE c.parent_id = $1 AND",
        collected!()
    );
    pub(crate) const THREAD: &str = concat!(
        "SELECT c.ap_id FROM comments c WHERE c.post_id = $1 AND",
        collected!(),
        " ORDER BY c.published_at, c.id LIMIT $2 OFFSET $3"
    );
    pub(crate) const COUNT_THREAD: &str = concat!(
        "SELECT COUNT(*) FROM comments c WHERE c.post_id = $1 AND",
        collected!()
    );

    // ---- tombstones ----
    pub(crate) const TOMBSTONE_ACTOR: &str = "SELECT actor_ap_id FROM tombstones WHERE ap_id = $1";
    /// The first tombstone stays: who deleted first is who may be refused later.
    pub(crate) const INSERT_TOMBSTONE: &str = "INSERT INTO tombstones \
         (ap_id, actor_ap_id, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (ap_id) DO NOTHING";
    pub(crate) const REMOTE_ACTOR_AP_ID: &str = "SELECT ap_id FROM remote_actors WHERE id = $1";

    // ---- reactions ----
    /// Nothing when the activity, or the same kind of reaction by the same actor to the
    /// same object, is recorded already (the primary key and the partial unique indexes).
    pub(crate) const INSERT_REACTION: &str = "INSERT INTO reactions \
         (ap_id, kind, remote_actor_id, post_id, comment_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
    pub(crate) const REACTION: &str =
        "SELECT kind, remote_actor_id, comment_id FROM reactions WHERE ap_id = $1";
    pub(crate) const DELETE_REACTION: &str = "DELETE FROM reactions WHERE ap_id = $1";
    pub(crate) const DELETE_REACTIONS_OF_ACTOR: &str = "DELETE FROM reactions \
         WHERE remote_actor_id = $1 RETURNING kind, remote_actor_id, comment_id";
    /// Adds $2 likes and $3 announces to a comment's counters.
    pub(crate) const COUNT_COMMENT_REACTIONS: &str = "UPDATE comments \
         SET like_count = like_count + $2, announce_count = announce_count + $3 WHERE id = $1";
    pub(crate) const POST_REACTION_COUNTS: &str = "SELECT \
         COALESCE(SUM(CASE WHEN kind = 'like' THEN 1 ELSE 0 END), 0) AS likes, \
         COALESCE(SUM(CASE WHEN kind = 'announce' THEN 1 ELSE 0 END), 0) AS announces \
         FROM reactions WHERE post_id = $1";
    pub(crate) const COMMENT_REACTION_COUNTS: &str = "SELECT id, like_count, announce_count \
         FROM comments WHERE post_id = $1 AND (like_count > 0 OR announce_count > 0) \
         ORDER BY id";

    // ---- flags ----
    macro_rules! flag_columns {
        () => {
            "f.id, f.ap_id, f.reporter_actor_id, ra.ap_id AS reporter_ap_id, \
             f.object_ap_ids_json, f.content, f.created_at, f.resolved_at \
             FROM flags f JOIN remote_actors ra ON ra.id = f.reporter_actor_id"
        };
    }
    /// A Flag received twice (same id) is recorded once.
    pub(crate) const INSERT_FLAG: &str = "INSERT INTO flags (ap_id, reporter_actor_id, \
         object_ap_ids_json, content, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (ap_id) DO NOTHING RETURNING id";
    pub(crate) const FLAG_ID_BY_AP_ID: &str = "SELECT id FROM flags WHERE ap_id = $1";
    pub(crate) const FLAG_BY_ID: &str = concat!("SELECT ", flag_columns!(), " WHERE f.id = $1");
    pub(crate) const OPEN_FLAGS: &str = concat!(
        "SELECT ",
        flag_columns!(),
        " WHERE f.resolved_at IS NULL ORDER BY f.created_at DESC, f.id DESC LIMIT $1 OFFSET $2"
    );
    pub(crate) const COUNT_OPEN_FLAGS: &str =
        "SELECT COUNT(*) FROM flags WHERE resolved_at IS NULL";
    /// A flag resolved twice keeps its first `resolved_at`.
    pub(crate) const RESOLVE_FLAG: &str =
        "UPDATE flags SET resolved_at = COALESCE(resolved_at, $2) WHERE id = $1";

    // ---- moderation ----
    pub(crate) const SET_MODERATION_WITH_REASON: &str =
        "UPDATE comments SET moderation = $2, moderation_reason = $3 WHERE id = $1";
    pub(crate) const INSERT_DECISION: &str = "INSERT INTO moderation_log \
         (comment_id, decision, reason, decided_by, created_at) VALUES ($1, $2, $3, $4, $5)";
    pub(crate) const MODERATION_HISTORY: &str = "SELECT id, comment_id, decision, reason, \
         decided_by, created_at FROM moderation_log WHERE comment_id = $1 ORDER BY id";
    /// Deleted comments count too: the commenter was approved once.
    pub(crate) const COUNT_APPROVED_BY_ACTOR: &str = "SELECT COUNT(*) FROM comments \
         WHERE remote_actor_id = $1 AND moderation = 'approved'";
    /// Comments that arrived (not: claim to be published) since $2 from actors on the
    /// domain $1.
    pub(crate) const COUNT_RECENT_FROM_DOMAIN: &str = "SELECT COUNT(*) FROM comments c \
         JOIN remote_actors ra ON ra.id = c.remote_actor_id \
         WHERE ra.domain = $1 AND c.created_at >= $2";
    /// Comments that arrived since $2 from actor $1.
    pub(crate) const COUNT_RECENT_BY_ACTOR: &str = "SELECT COUNT(*) FROM comments \
         WHERE remote_actor_id = $1 AND created_at >= $2";
    pub(crate) const SET_COMMENTS_OPEN: &str = "UPDATE posts SET comments_open = $2 WHERE id = $1";

    // ---- blocks ----
    /// Blocking again keeps the first date and takes the new reason.
    pub(crate) const UPSERT_BLOCK: &str = "INSERT INTO blocks (kind, value, reason, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason \
         RETURNING id, kind, value, reason, created_at";
    pub(crate) const DELETE_BLOCK: &str = "DELETE FROM blocks WHERE kind = $1 AND value = $2";
    pub(crate) const LIST_BLOCKS: &str =
        "SELECT id, kind, value, reason, created_at FROM blocks ORDER BY kind, value";
    /// Whether actor $1 (may be NULL) or domain $2 is blocked, by the same rule as
    /// `comment_author_blocked!`: a domain block covers its subdomains.
    pub(crate) const IS_BLOCKED: &str = concat!(
        "SELECT COUNT(*) FROM blocks b WHERE (b.kind = 'actor' AND b.value = $1) \
         OR (b.kind = 'domain' AND ",
        domain_covered_by_block!("$2"),
        ")"
    );
    /// Whether domain $1 is limited, by the same subdomain rule.
    pub(crate) const IS_LIMITED: &str = concat!(
        "SELECT COUNT(*) FROM blocks b WHERE b.kind = 'limit' AND ",
        domain_covered_by_block!("$1")
    );
}

// ---------------------------------------------------------------------------------------
// statements
// ---------------------------------------------------------------------------------------

/// A `comment_revisions` row to insert: the version being replaced.
pub(crate) struct RevisionInsert<'a> {
    pub(crate) comment_id: CommentId,
    pub(crate) content_html: &'a str,
    pub(crate) summary: Option<&'a str>,
    pub(crate) sensitive: bool,
    pub(crate) attachments_json: &'a str,
    pub(crate) written_at: DateTime<Utc>,
    pub(crate) replaced_at: DateTime<Utc>,
}

/// A comment's new content, as [`sql::UPDATE_COMMENT_CONTENT`] writes it.
pub(crate) struct ContentUpdate<'a> {
    pub(crate) content_html: &'a str,
    pub(crate) summary: Option<&'a str>,
    pub(crate) sensitive: bool,
    pub(crate) attachments_json: &'a str,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) moderation: Moderation,
    pub(crate) moderation_reason: Option<&'a str>,
}

/// The discussion statements, one method per statement, on a connection (inside a write
/// transaction, or a pooled connection for reads).
#[async_trait::async_trait]
pub(crate) trait DiscussionStatements: Send {
    /// Runs `util::sql::INSERT_COMMENT` and reads the comment back; unique violations
    /// (ap_id, import_key) → Conflict.
    /// Runs one of the comment INSERT statements (`sql` takes the same parameters in the
    /// same order) and returns the new id, or `None` when the statement inserted nothing.
    async fn insert_comment_with(
        &mut self,
        sql: &'static str,
        comment: &CommentInsert<'_>,
    ) -> Result<Option<i64>>;
    async fn insert_comment(&mut self, comment: &CommentInsert<'_>) -> Result<Comment>;
    /// Runs `util::sql::INSERT_COMMENT_UNLESS_KNOWN`; `None` when the ap_id is taken.
    async fn insert_comment_unless_known(
        &mut self,
        comment: &CommentInsert<'_>,
    ) -> Result<Option<CommentId>>;
    async fn comment_by_id(&mut self, id: CommentId) -> Result<Option<Comment>>;
    async fn comment_by_ap_id(&mut self, ap_id: &str) -> Result<Option<Comment>>;
    async fn lock_comment_by_ap_id(&mut self, ap_id: &str) -> Result<()>;
    async fn lock_comment(&mut self, id: CommentId) -> Result<()>;
    async fn insert_revision(&mut self, revision: &RevisionInsert<'_>) -> Result<()>;
    async fn revisions(&mut self, comment: CommentId) -> Result<Vec<RevisionRow>>;
    async fn update_comment_content(
        &mut self,
        id: CommentId,
        update: &ContentUpdate<'_>,
    ) -> Result<()>;
    /// Runs `util::sql::DELETE_COMMENT`; `false` when no comment has that id.
    async fn clear_comment(&mut self, id: CommentId, now: DateTime<Utc>) -> Result<bool>;
    /// Runs [`sql::DELETE_COMMENTS_OF_ACTOR`]; the ap ids of the comments deleted.
    async fn clear_comments_of_actor(
        &mut self,
        actor: RemoteActorId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<String>>>;
    async fn update_comment_authors(
        &mut self,
        actor: RemoteActorId,
        name: &str,
        url: Option<&str>,
        avatar_url: Option<&str>,
    ) -> Result<u64>;
    async fn private_comments(&mut self, limit: i64, offset: i64) -> Result<Vec<Comment>>;
    async fn count_private_comments(&mut self) -> Result<i64>;
    /// Runs one of the collection statements: `(id, limit, offset)` → ap ids.
    async fn ap_ids(
        &mut self,
        statement: &'static str,
        id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<String>>;
    /// Runs one of the `COUNT_*` statements that take one id.
    async fn count_by_id(&mut self, statement: &'static str, id: i64) -> Result<i64>;
    /// `None`: no tombstone; `Some(None)`: a tombstone of a local deletion.
    async fn tombstone_actor(&mut self, ap_id: &str) -> Result<Option<Option<String>>>;
    async fn insert_tombstone(
        &mut self,
        ap_id: &str,
        actor_ap_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    async fn remote_actor_ap_id(&mut self, id: RemoteActorId) -> Result<Option<String>>;
    /// `false` when the reaction was a duplicate.
    async fn insert_reaction(&mut self, reaction: &NewReaction) -> Result<bool>;
    async fn reaction(&mut self, ap_id: &str) -> Result<Option<ReactionRow>>;
    /// `false` when there was no such reaction (any more).
    async fn delete_reaction(&mut self, ap_id: &str) -> Result<bool>;
    async fn delete_reactions_of_actor(&mut self, actor: RemoteActorId)
    -> Result<Vec<ReactionRow>>;
    async fn count_comment_reactions(
        &mut self,
        id: CommentId,
        likes: i64,
        announces: i64,
    ) -> Result<()>;
    async fn post_reaction_counts(&mut self, post: PostId) -> Result<ReactionCountRow>;
    async fn comment_reaction_counts(&mut self, post: PostId) -> Result<Vec<CommentCountRow>>;
    /// `None` when a flag with that ap_id is recorded already.
    async fn insert_flag(&mut self, flag: &NewFlag, objects_json: &str) -> Result<Option<i64>>;
    async fn flag_id_by_ap_id(&mut self, ap_id: &str) -> Result<Option<i64>>;
    async fn flag_by_id(&mut self, id: i64) -> Result<Option<FlagRow>>;
    async fn open_flags(&mut self, limit: i64, offset: i64) -> Result<Vec<FlagRow>>;
    async fn count_open_flags(&mut self) -> Result<i64>;
    async fn resolve_flag(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool>;
    async fn set_moderation_with_reason(
        &mut self,
        id: CommentId,
        state: Moderation,
        reason: Option<&str>,
    ) -> Result<bool>;
    async fn insert_decision(
        &mut self,
        comment: CommentId,
        decision: Moderation,
        reason: &str,
        decided_by: ModerationDecider,
        now: DateTime<Utc>,
    ) -> Result<()>;
    async fn moderation_history(&mut self, comment: CommentId) -> Result<Vec<DecisionRow>>;
    async fn count_approved_by_actor(&mut self, actor: RemoteActorId) -> Result<i64>;
    async fn count_recent_by_actor(
        &mut self,
        actor: RemoteActorId,
        since: DateTime<Utc>,
    ) -> Result<i64>;
    async fn count_recent_from_domain(&mut self, domain: &str, since: DateTime<Utc>)
    -> Result<i64>;
    async fn set_comments_open(&mut self, post: PostId, open: bool) -> Result<bool>;
    async fn upsert_block(
        &mut self,
        kind: BlockKind,
        value: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<BlockRow>;
    async fn delete_block(&mut self, kind: BlockKind, value: &str) -> Result<bool>;
    async fn list_blocks(&mut self) -> Result<Vec<BlockRow>>;
    async fn is_blocked(&mut self, actor_ap_id: Option<&str>, domain: &str) -> Result<bool>;
    async fn is_limited(&mut self, domain: &str) -> Result<bool>;
}

/// Implements [`DiscussionStatements`] for one driver's connection type.
macro_rules! discussion_statements {
    ($conn:ty) => {
        #[async_trait::async_trait]
        impl DiscussionStatements for $conn {
            async fn insert_comment_with(
                &mut self,
                sql: &'static str,
                comment: &CommentInsert<'_>,
            ) -> Result<Option<i64>> {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(comment.post_id.0)
                    .bind(comment.parent_id.map(|id| id.0))
                    .bind(comment.depth)
                    .bind(comment.author_name)
                    .bind(comment.author_url)
                    .bind(comment.author_avatar_url)
                    .bind(comment.author_email)
                    .bind(comment.content_html)
                    .bind(comment.origin.as_str())
                    .bind(comment.moderation.as_str())
                    .bind(comment.ap_id)
                    .bind(comment.import_key)
                    .bind(comment.published_at)
                    .bind(comment.created_at)
                    .bind(comment.remote_actor_id.map(|id| id.0))
                    .bind(comment.local_author_id.map(|id| id.0))
                    .bind(comment.visibility.as_str())
                    .bind(comment.in_reply_to_ap_id)
                    .bind(comment.summary)
                    .bind(comment.sensitive)
                    .bind(comment.attachments_json)
                    .bind(comment.url)
                    .bind(comment.moderation_reason)
                    .bind(comment.updated_at)
                    .fetch_optional(&mut *self)
                    .await
                    .map_err(|err| {
                        crate::util::write_error(err, || {
                            format!("comment on post {}", comment.post_id)
                        })
                    })
            }

            async fn insert_comment(&mut self, comment: &CommentInsert<'_>) -> Result<Comment> {
                let id = self
                    .insert_comment_with(crate::util::sql::INSERT_COMMENT, comment)
                    .await?
                    .ok_or_else(|| Error::NotFound("the inserted comment's id".to_owned()))?;
                self.comment_by_id(CommentId(id))
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("comment {id} just inserted")))
            }

            async fn insert_comment_unless_known(
                &mut self,
                comment: &CommentInsert<'_>,
            ) -> Result<Option<CommentId>> {
                Ok(self
                    .insert_comment_with(crate::util::sql::INSERT_COMMENT_UNLESS_KNOWN, comment)
                    .await?
                    .map(CommentId))
            }

            async fn comment_by_id(&mut self, id: CommentId) -> Result<Option<Comment>> {
                let row = sqlx::query_as::<_, CommentRow>(crate::util::sql::COMMENT_BY_ID)
                    .bind(id.0)
                    .fetch_optional(&mut *self)
                    .await?;
                row.map(Comment::try_from).transpose()
            }

            async fn comment_by_ap_id(&mut self, ap_id: &str) -> Result<Option<Comment>> {
                let row = sqlx::query_as::<_, CommentRow>(sql::COMMENT_BY_AP_ID)
                    .bind(ap_id)
                    .fetch_optional(&mut *self)
                    .await?;
                row.map(Comment::try_from).transpose()
            }

            async fn lock_comment_by_ap_id(&mut self, ap_id: &str) -> Result<()> {
                sqlx::query(sql::LOCK_COMMENT_BY_AP_ID)
                    .bind(ap_id)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn lock_comment(&mut self, id: CommentId) -> Result<()> {
                sqlx::query(sql::LOCK_COMMENT_BY_ID)
                    .bind(id.0)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn insert_revision(&mut self, revision: &RevisionInsert<'_>) -> Result<()> {
                sqlx::query(sql::INSERT_REVISION)
                    .bind(revision.comment_id.0)
                    .bind(revision.content_html)
                    .bind(revision.summary)
                    .bind(revision.sensitive)
                    .bind(revision.attachments_json)
                    .bind(revision.written_at)
                    .bind(revision.replaced_at)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn revisions(&mut self, comment: CommentId) -> Result<Vec<RevisionRow>> {
                Ok(sqlx::query_as::<_, RevisionRow>(sql::REVISIONS)
                    .bind(comment.0)
                    .fetch_all(&mut *self)
                    .await?)
            }

            async fn update_comment_content(
                &mut self,
                id: CommentId,
                update: &ContentUpdate<'_>,
            ) -> Result<()> {
                sqlx::query(sql::UPDATE_COMMENT_CONTENT)
                    .bind(id.0)
                    .bind(update.content_html)
                    .bind(update.summary)
                    .bind(update.sensitive)
                    .bind(update.attachments_json)
                    .bind(update.updated_at)
                    .bind(update.moderation.as_str())
                    .bind(update.moderation_reason)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn clear_comment(&mut self, id: CommentId, now: DateTime<Utc>) -> Result<bool> {
                let done = sqlx::query(crate::util::sql::DELETE_COMMENT)
                    .bind(id.0)
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn clear_comments_of_actor(
                &mut self,
                actor: RemoteActorId,
                now: DateTime<Utc>,
            ) -> Result<Vec<Option<String>>> {
                Ok(
                    sqlx::query_scalar::<_, Option<String>>(sql::DELETE_COMMENTS_OF_ACTOR)
                        .bind(actor.0)
                        .bind(now)
                        .fetch_all(&mut *self)
                        .await?,
                )
            }

            async fn update_comment_authors(
                &mut self,
                actor: RemoteActorId,
                name: &str,
                url: Option<&str>,
                avatar_url: Option<&str>,
            ) -> Result<u64> {
                let done = sqlx::query(sql::UPDATE_COMMENT_AUTHORS)
                    .bind(actor.0)
                    .bind(name)
                    .bind(url)
                    .bind(avatar_url)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn private_comments(&mut self, limit: i64, offset: i64) -> Result<Vec<Comment>> {
                let rows = sqlx::query_as::<_, CommentRow>(sql::PRIVATE_COMMENTS)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self)
                    .await?;
                crate::util::comments(rows)
            }

            async fn count_private_comments(&mut self) -> Result<i64> {
                Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_PRIVATE_COMMENTS)
                    .fetch_one(&mut *self)
                    .await?)
            }

            async fn ap_ids(
                &mut self,
                statement: &'static str,
                id: i64,
                limit: i64,
                offset: i64,
            ) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar::<_, String>(statement)
                    .bind(id)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self)
                    .await?)
            }

            async fn count_by_id(&mut self, statement: &'static str, id: i64) -> Result<i64> {
                Ok(sqlx::query_scalar::<_, i64>(statement)
                    .bind(id)
                    .fetch_one(&mut *self)
                    .await?)
            }

            async fn tombstone_actor(&mut self, ap_id: &str) -> Result<Option<Option<String>>> {
                Ok(
                    sqlx::query_scalar::<_, Option<String>>(sql::TOMBSTONE_ACTOR)
                        .bind(ap_id)
                        .fetch_optional(&mut *self)
                        .await?,
                )
            }

            async fn insert_tombstone(
                &mut self,
                ap_id: &str,
                actor_ap_id: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(sql::INSERT_TOMBSTONE)
                    .bind(ap_id)
                    .bind(actor_ap_id)
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn remote_actor_ap_id(&mut self, id: RemoteActorId) -> Result<Option<String>> {
                Ok(sqlx::query_scalar::<_, String>(sql::REMOTE_ACTOR_AP_ID)
                    .bind(id.0)
                    .fetch_optional(&mut *self)
                    .await?)
            }

            async fn insert_reaction(&mut self, reaction: &NewReaction) -> Result<bool> {
                let (post, comment) = match reaction.target {
                    ThreadNode::Post(id) => (Some(id.0), None),
                    ThreadNode::Comment(id) => (None, Some(id.0)),
                };
                let done = sqlx::query(sql::INSERT_REACTION)
                    .bind(&reaction.ap_id)
                    .bind(reaction.kind.as_str())
                    .bind(reaction.remote_actor_id.0)
                    .bind(post)
                    .bind(comment)
                    .bind(db_time(reaction.created_at))
                    .execute(&mut *self)
                    .await
                    .map_err(|err| {
                        crate::util::write_error(err, || format!("reaction {:?}", reaction.ap_id))
                    })?;
                Ok(done.rows_affected() > 0)
            }

            async fn reaction(&mut self, ap_id: &str) -> Result<Option<ReactionRow>> {
                Ok(sqlx::query_as::<_, ReactionRow>(sql::REACTION)
                    .bind(ap_id)
                    .fetch_optional(&mut *self)
                    .await?)
            }

            async fn delete_reaction(&mut self, ap_id: &str) -> Result<bool> {
                let done = sqlx::query(sql::DELETE_REACTION)
                    .bind(ap_id)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_reactions_of_actor(
                &mut self,
                actor: RemoteActorId,
            ) -> Result<Vec<ReactionRow>> {
                Ok(
                    sqlx::query_as::<_, ReactionRow>(sql::DELETE_REACTIONS_OF_ACTOR)
                        .bind(actor.0)
                        .fetch_all(&mut *self)
                        .await?,
                )
            }

            async fn count_comment_reactions(
                &mut self,
                id: CommentId,
                likes: i64,
                announces: i64,
            ) -> Result<()> {
                sqlx::query(sql::COUNT_COMMENT_REACTIONS)
                    .bind(id.0)
                    .bind(likes)
                    .bind(announces)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn post_reaction_counts(&mut self, post: PostId) -> Result<ReactionCountRow> {
                Ok(
                    sqlx::query_as::<_, ReactionCountRow>(sql::POST_REACTION_COUNTS)
                        .bind(post.0)
                        .fetch_one(&mut *self)
                        .await?,
                )
            }

            async fn comment_reaction_counts(
                &mut self,
                post: PostId,
            ) -> Result<Vec<CommentCountRow>> {
                Ok(
                    sqlx::query_as::<_, CommentCountRow>(sql::COMMENT_REACTION_COUNTS)
                        .bind(post.0)
                        .fetch_all(&mut *self)
                        .await?,
                )
            }

            async fn insert_flag(
                &mut self,
                flag: &NewFlag,
                objects_json: &str,
            ) -> Result<Option<i64>> {
                sqlx::query_scalar::<_, i64>(sql::INSERT_FLAG)
                    .bind(flag.ap_id.as_deref())
                    .bind(flag.reporter.0)
                    .bind(objects_json)
                    .bind(&flag.content)
                    .bind(db_time(flag.created_at))
                    .fetch_optional(&mut *self)
                    .await
                    .map_err(|err| crate::util::write_error(err, || "flag".to_owned()))
            }

            async fn flag_id_by_ap_id(&mut self, ap_id: &str) -> Result<Option<i64>> {
                Ok(sqlx::query_scalar::<_, i64>(sql::FLAG_ID_BY_AP_ID)
                    .bind(ap_id)
                    .fetch_optional(&mut *self)
                    .await?)
            }

            async fn flag_by_id(&mut self, id: i64) -> Result<Option<FlagRow>> {
                Ok(sqlx::query_as::<_, FlagRow>(sql::FLAG_BY_ID)
                    .bind(id)
                    .fetch_optional(&mut *self)
                    .await?)
            }

            async fn open_flags(&mut self, limit: i64, offset: i64) -> Result<Vec<FlagRow>> {
                Ok(sqlx::query_as::<_, FlagRow>(sql::OPEN_FLAGS)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self)
                    .await?)
            }

            async fn count_open_flags(&mut self) -> Result<i64> {
                Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_OPEN_FLAGS)
                    .fetch_one(&mut *self)
                    .await?)
            }

            async fn resolve_flag(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
                let done = sqlx::query(sql::RESOLVE_FLAG)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_moderation_with_reason(
                &mut self,
                id: CommentId,
                state: Moderation,
                reason: Option<&str>,
            ) -> Result<bool> {
                let done = sqlx::query(sql::SET_MODERATION_WITH_REASON)
                    .bind(id.0)
                    .bind(state.as_str())
                    .bind(reason)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_decision(
                &mut self,
                comment: CommentId,
                decision: Moderation,
                reason: &str,
                decided_by: ModerationDecider,
                now: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(sql::INSERT_DECISION)
                    .bind(comment.0)
                    .bind(decision.as_str())
                    .bind(reason)
                    .bind(decided_by.key())
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn moderation_history(&mut self, comment: CommentId) -> Result<Vec<DecisionRow>> {
                Ok(sqlx::query_as::<_, DecisionRow>(sql::MODERATION_HISTORY)
                    .bind(comment.0)
                    .fetch_all(&mut *self)
                    .await?)
            }

            async fn count_approved_by_actor(&mut self, actor: RemoteActorId) -> Result<i64> {
                Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_APPROVED_BY_ACTOR)
                    .bind(actor.0)
                    .fetch_one(&mut *self)
                    .await?)
            }

            async fn count_recent_by_actor(
                &mut self,
                actor: RemoteActorId,
                since: DateTime<Utc>,
            ) -> Result<i64> {
                Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_RECENT_BY_ACTOR)
                    .bind(actor.0)
                    .bind(since)
                    .fetch_one(&mut *self)
                    .await?)
            }

            async fn count_recent_from_domain(
                &mut self,
                domain: &str,
                since: DateTime<Utc>,
            ) -> Result<i64> {
                Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_RECENT_FROM_DOMAIN)
                    .bind(domain)
                    .bind(since)
                    .fetch_one(&mut *self)
                    .await?)
            }

            async fn set_comments_open(&mut self, post: PostId, open: bool) -> Result<bool> {
                let done = sqlx::query(sql::SET_COMMENTS_OPEN)
                    .bind(post.0)
                    .bind(open)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn upsert_block(
                &mut self,
                kind: BlockKind,
                value: &str,
                reason: &str,
                now: DateTime<Utc>,
            ) -> Result<BlockRow> {
                Ok(sqlx::query_as::<_, BlockRow>(sql::UPSERT_BLOCK)
                    .bind(kind.as_str())
                    .bind(value)
                    .bind(reason)
                    .bind(now)
                    .fetch_one(&mut *self)
                    .await?)
            }

            async fn delete_block(&mut self, kind: BlockKind, value: &str) -> Result<bool> {
                let done = sqlx::query(sql::DELETE_BLOCK)
                    .bind(kind.as_str())
                    .bind(value)
                    .execute(&mut *self)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn list_blocks(&mut self) -> Result<Vec<BlockRow>> {
                Ok(sqlx::query_as::<_, BlockRow>(sql::LIST_BLOCKS)
                    .fetch_all(&mut *self)
                    .await?)
            }

            async fn is_blocked(
                &mut self,
                actor_ap_id: Option<&str>,
                domain: &str,
            ) -> Result<bool> {
                let count = sqlx::query_scalar::<_, i64>(sql::IS_BLOCKED)
                    .bind(actor_ap_id)
                    .bind(domain)
                    .fetch_one(&mut *self)
                    .await?;
                Ok(count > 0)
            }

            async fn is_limited(&mut self, domain: &str) -> Result<bool> {
                let count = sqlx::query_scalar::<_, i64>(sql::IS_LIMITED)
                    .bind(domain)
                    .fetch_one(&mut *self)
                    .await?;
                Ok(count > 0)
            }
        }
    };
}

discussion_statements!(sqlx::SqliteConnection);
discussion_statements!(sqlx::PgConnection);

// ---------------------------------------------------------------------------------------
// use cases
// ---------------------------------------------------------------------------------------

/// Writes a decision of the moderation rules on a comment just added or edited.
pub(crate) async fn log_rules_decision<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    comment: &Comment,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.insert_decision(
        comment.id,
        comment.moderation,
        reason,
        ModerationDecider::Rules,
        now,
    )
    .await
}

/// Where a reply to `parent` goes. A missing post or comment is [`Error::NotFound`].
async fn place_under<C: TxStatements + ?Sized>(
    conn: &mut C,
    parent: ThreadNode,
) -> Result<CommentPlacement> {
    match parent {
        ThreadNode::Post(post_id) => {
            if !conn.post_exists(post_id).await? {
                return Err(Error::NotFound(format!("post {post_id}")));
            }
            Ok(CommentPlacement {
                post_id,
                parent_id: None,
                depth: 0,
            })
        }
        ThreadNode::Comment(id) => match conn.comment_place(id).await? {
            None => Err(Error::NotFound(format!("comment {id}"))),
            Some((_, post_id, depth)) => Ok(CommentPlacement {
                post_id,
                parent_id: Some(id),
                depth: depth.saturating_add(1),
            }),
        },
    }
}

/// The ap id of a stored remote actor; a missing one is [`Error::NotFound`].
async fn actor_ap_id<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    actor: RemoteActorId,
) -> Result<String> {
    conn.remote_actor_ap_id(actor)
        .await?
        .ok_or_else(|| Error::NotFound(format!("remote actor {actor}")))
}

/// Whether a tombstone refuses `ap_id` coming (again) from `actor_ap_id`: a tombstone
/// left by a local deletion refuses everyone; one left by a remote Delete or Undo refuses
/// only that actor, so that an actor cannot suppress, by deleting it first, an object of
/// someone else's that has not reached us yet.
async fn tombstone_refuses<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    ap_id: &str,
    actor_ap_id: &str,
) -> Result<bool> {
    Ok(match conn.tombstone_actor(ap_id).await? {
        None => false,
        Some(None) => true,
        Some(Some(deleter)) => deleter == actor_ap_id,
    })
}

/// A new version of a comment's content.
struct NewVersion<'a> {
    content_html: &'a str,
    summary: Option<&'a str>,
    sensitive: bool,
    attachments: &'a [Attachment],
    /// When it was written; `None` for an object that does not say.
    updated_at: Option<DateTime<Utc>>,
    /// Ignore it unless it is newer than the stored version (remote edits, which may
    /// arrive out of order); local edits always apply.
    only_if_newer: bool,
    /// What the moderation rules say now (`None` for local edits: no rules run).
    moderation: Option<(Moderation, Option<&'a str>)>,
}

/// Whether a version written at `incoming` replaces one written at `stored` (both `None`
/// for "never edited"). A version that does not say when it was written replaces only a
/// never-edited one.
fn is_newer(stored: Option<DateTime<Utc>>, incoming: Option<DateTime<Utc>>) -> bool {
    match (stored, incoming) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(stored), Some(incoming)) => db_time(incoming) > stored,
    }
}

/// Applies a new version to `existing` (locked by the caller): keeps the current one as a
/// revision, writes the new content, runs the moderation decision and logs it. Returns
/// the comment as stored afterwards, and whether it changed.
async fn apply_new_version<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    existing: Comment,
    version: NewVersion<'_>,
    now: DateTime<Utc>,
) -> Result<(Comment, bool)> {
    let same = existing.content_html == version.content_html
        && existing.summary.as_deref() == version.summary
        && existing.sensitive == version.sensitive
        && existing.attachments == version.attachments;
    if same || (version.only_if_newer && !is_newer(existing.updated_at, version.updated_at)) {
        return Ok((existing, false));
    }
    let replaced_at = version.updated_at.map(db_time).unwrap_or(now);
    let previous_attachments = attachments_json(&existing.attachments)?;
    conn.insert_revision(&RevisionInsert {
        comment_id: existing.id,
        content_html: &existing.content_html,
        summary: existing.summary.as_deref(),
        sensitive: existing.sensitive,
        attachments_json: &previous_attachments,
        written_at: existing.updated_at.unwrap_or(existing.published_at),
        replaced_at,
    })
    .await?;
    // A comment the author hid or marked spam stays so: editing it is no way back in.
    let decided = match version.moderation {
        Some((state, reason))
            if !matches!(existing.moderation, Moderation::Hidden | Moderation::Spam) =>
        {
            Some((state, reason))
        }
        _ => None,
    };
    let (moderation, reason) = match decided {
        Some((state, Some(reason))) => (state, Some(reason.to_owned())),
        // Without a reason, the old one stands while the state does.
        Some((state, None)) if state == existing.moderation => {
            (state, existing.moderation_reason.clone())
        }
        Some((state, None)) => (state, None),
        None => (existing.moderation, existing.moderation_reason.clone()),
    };
    let new_attachments = attachments_json(version.attachments)?;
    conn.update_comment_content(
        existing.id,
        &ContentUpdate {
            content_html: version.content_html,
            summary: version.summary,
            sensitive: version.sensitive,
            attachments_json: &new_attachments,
            updated_at: replaced_at,
            moderation,
            moderation_reason: reason.as_deref(),
        },
    )
    .await?;
    let given_reason = decided.and_then(|(_, reason)| reason);
    if moderation != existing.moderation || given_reason.is_some() {
        conn.insert_decision(
            existing.id,
            moderation,
            given_reason.unwrap_or("edited"),
            ModerationDecider::Rules,
            now,
        )
        .await?;
    }
    let updated = conn
        .comment_by_id(existing.id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {}", existing.id)))?;
    Ok((updated, true))
}

/// `Store::upsert_remote_comment`, inside the engine's write transaction.
pub(crate) async fn upsert_remote_comment<C: TxStatements + DiscussionStatements + ?Sized>(
    conn: &mut C,
    upsert: RemoteCommentUpsert,
) -> Result<UpsertOutcome> {
    let now = now();
    let author_ap_id = actor_ap_id(conn, upsert.remote_actor_id).await?;
    if tombstone_refuses(conn, &upsert.ap_id, &author_ap_id).await? {
        return Ok(UpsertOutcome::Tombstoned);
    }
    conn.lock_comment_by_ap_id(&upsert.ap_id).await?;
    if let Some(existing) = conn.comment_by_ap_id(&upsert.ap_id).await? {
        return upsert_existing(conn, existing, &upsert, now).await;
    }
    let place = place_under(conn, upsert.parent).await?;
    let attachments = attachments_json(&upsert.attachments)?;
    let insert = CommentInsert {
        author_url: upsert.author_url.as_deref(),
        author_avatar_url: upsert.author_avatar_url.as_deref(),
        content_html: &upsert.content_html,
        ap_id: Some(&upsert.ap_id),
        updated_at: upsert.updated_at.map(db_time),
        remote_actor_id: Some(upsert.remote_actor_id),
        visibility: upsert.visibility,
        in_reply_to_ap_id: upsert.in_reply_to_ap_id.as_deref(),
        summary: upsert.summary.as_deref(),
        sensitive: upsert.sensitive,
        attachments_json: &attachments,
        url: upsert.url.as_deref(),
        moderation_reason: upsert.moderation_reason.as_deref(),
        ..CommentInsert::at_place(
            place,
            &upsert.author_name,
            CommentOrigin::Fediverse,
            upsert.moderation,
            db_time(upsert.published_at),
            now,
        )
    };
    let Some(id) = conn.insert_comment_unless_known(&insert).await? else {
        // Another receiver stored the same object between our read and our insert.
        let existing = conn
            .comment_by_ap_id(&upsert.ap_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("comment {:?}", upsert.ap_id)))?;
        return upsert_existing(conn, existing, &upsert, now).await;
    };
    let comment = conn
        .comment_by_id(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {id} just inserted")))?;
    if let Some(reason) = upsert.moderation_reason.as_deref() {
        log_rules_decision(conn, &comment, reason, now).await?;
    }
    Ok(UpsertOutcome::Created(comment))
}

/// The object of an upsert is stored already: same owner or refused; deleted stays
/// deleted; otherwise its content may have changed (a refetch of an edited object).
async fn upsert_existing<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    existing: Comment,
    upsert: &RemoteCommentUpsert,
    now: DateTime<Utc>,
) -> Result<UpsertOutcome> {
    if existing.remote_actor_id != Some(upsert.remote_actor_id) {
        return Ok(UpsertOutcome::NotOwner);
    }
    if existing.deleted_at.is_some() {
        return Ok(UpsertOutcome::Tombstoned);
    }
    let (comment, changed) = apply_new_version(
        conn,
        existing,
        NewVersion {
            content_html: &upsert.content_html,
            summary: upsert.summary.as_deref(),
            sensitive: upsert.sensitive,
            attachments: &upsert.attachments,
            updated_at: upsert.updated_at,
            only_if_newer: true,
            moderation: Some((upsert.moderation, upsert.moderation_reason.as_deref())),
        },
        now,
    )
    .await?;
    Ok(if changed {
        UpsertOutcome::Updated(comment)
    } else {
        UpsertOutcome::Unchanged(comment)
    })
}

/// `Store::update_remote_comment_content`, inside the engine's write transaction.
pub(crate) async fn update_remote_comment_content<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    ap_id: &str,
    actor: RemoteActorId,
    edit: RemoteCommentEdit,
) -> Result<EditOutcome> {
    let now = now();
    conn.lock_comment_by_ap_id(ap_id).await?;
    let Some(existing) = conn.comment_by_ap_id(ap_id).await? else {
        return Ok(if conn.tombstone_actor(ap_id).await?.is_some() {
            EditOutcome::Deleted
        } else {
            EditOutcome::NotFound
        });
    };
    if existing.remote_actor_id != Some(actor) {
        return Ok(EditOutcome::NotOwner);
    }
    if existing.deleted_at.is_some() {
        return Ok(EditOutcome::Deleted);
    }
    let (comment, changed) = apply_new_version(
        conn,
        existing,
        NewVersion {
            content_html: &edit.content_html,
            summary: edit.summary.as_deref(),
            sensitive: edit.sensitive,
            attachments: &edit.attachments,
            updated_at: Some(edit.updated_at),
            only_if_newer: true,
            moderation: Some((edit.moderation, edit.moderation_reason.as_deref())),
        },
        now,
    )
    .await?;
    Ok(if changed {
        EditOutcome::Updated(comment)
    } else {
        EditOutcome::Unchanged(comment)
    })
}

/// `Store::delete_comment_by_ap_id`, inside the engine's write transaction.
pub(crate) async fn delete_comment_by_ap_id<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    ap_id: &str,
    actor: RemoteActorId,
    now: DateTime<Utc>,
) -> Result<DeleteOutcome> {
    let now = db_time(now);
    let deleter = actor_ap_id(conn, actor).await?;
    conn.lock_comment_by_ap_id(ap_id).await?;
    let Some(existing) = conn.comment_by_ap_id(ap_id).await? else {
        conn.insert_tombstone(ap_id, Some(&deleter), now).await?;
        return Ok(DeleteOutcome::Unknown);
    };
    if existing.remote_actor_id != Some(actor) {
        return Ok(DeleteOutcome::NotOwner);
    }
    conn.insert_tombstone(ap_id, Some(&deleter), now).await?;
    if existing.deleted_at.is_some() {
        return Ok(DeleteOutcome::AlreadyDeleted);
    }
    conn.clear_comment(existing.id, now).await?;
    Ok(DeleteOutcome::Deleted(existing.id))
}

/// `Store::delete_comments_of_actor`, inside the engine's write transaction.
pub(crate) async fn delete_comments_of_actor<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    actor: RemoteActorId,
    now: DateTime<Utc>,
) -> Result<u64> {
    let now = db_time(now);
    let Some(deleter) = conn.remote_actor_ap_id(actor).await? else {
        return Ok(0);
    };
    let deleted = conn.clear_comments_of_actor(actor, now).await?;
    for ap_id in deleted.iter().flatten() {
        conn.insert_tombstone(ap_id, Some(&deleter), now).await?;
    }
    for reaction in conn.delete_reactions_of_actor(actor).await? {
        uncount(conn, &reaction).await?;
    }
    Ok(u64::try_from(deleted.len()).unwrap_or(u64::MAX))
}

/// Takes a removed reaction off its comment's counters (a post's are counted on reading).
async fn uncount<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    reaction: &ReactionRow,
) -> Result<()> {
    let Some(comment) = reaction.comment_id else {
        return Ok(());
    };
    let kind = parse_stored(&reaction.kind, ReactionKind::parse, "reaction kind")?;
    let (likes, announces) = match kind {
        ReactionKind::Like => (-1, 0),
        ReactionKind::Announce => (0, -1),
    };
    conn.count_comment_reactions(CommentId(comment), likes, announces)
        .await
}

/// `Store::record_reaction`, inside the engine's write transaction.
pub(crate) async fn record_reaction<C: TxStatements + DiscussionStatements + ?Sized>(
    conn: &mut C,
    reaction: NewReaction,
) -> Result<ReactionOutcome> {
    let reactor = actor_ap_id(conn, reaction.remote_actor_id).await?;
    if tombstone_refuses(conn, &reaction.ap_id, &reactor).await? {
        return Ok(ReactionOutcome::Tombstoned);
    }
    match reaction.target {
        ThreadNode::Post(post) => {
            if !conn.post_exists(post).await? {
                return Err(Error::NotFound(format!("post {post}")));
            }
        }
        ThreadNode::Comment(comment) => {
            if conn.comment_place(comment).await?.is_none() {
                return Err(Error::NotFound(format!("comment {comment}")));
            }
        }
    }
    if !conn.insert_reaction(&reaction).await? {
        return Ok(ReactionOutcome::Duplicate);
    }
    if let ThreadNode::Comment(comment) = reaction.target {
        let (likes, announces) = match reaction.kind {
            ReactionKind::Like => (1, 0),
            ReactionKind::Announce => (0, 1),
        };
        conn.count_comment_reactions(comment, likes, announces)
            .await?;
    }
    Ok(ReactionOutcome::Recorded)
}

/// `Store::record_received_reaction`, inside the engine's write transaction: the
/// reaction, then the activity it came in (recorded only when the reaction was).
pub(crate) async fn record_received_reaction<
    C: TxStatements + DiscussionStatements + FederationTxStatements + ?Sized,
>(
    conn: &mut C,
    reaction: NewReaction,
    received: &ReceivedActivity,
) -> Result<(ReactionOutcome, bool)> {
    let outcome = record_reaction(conn, reaction).await?;
    let new = receive_activity(conn, received).await?;
    Ok((outcome, new))
}

/// `Store::undo_reaction`, inside the engine's write transaction.
pub(crate) async fn undo_reaction<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    activity_ap_id: &str,
    actor: RemoteActorId,
) -> Result<UndoOutcome> {
    let now = now();
    let undoer = actor_ap_id(conn, actor).await?;
    let outcome = match conn.reaction(activity_ap_id).await? {
        Some(reaction) if reaction.remote_actor_id != actor.0 => return Ok(UndoOutcome::NotOwner),
        Some(reaction) => {
            // Only the transaction that really deleted the row takes it off the counters.
            if conn.delete_reaction(activity_ap_id).await? {
                uncount(conn, &reaction).await?;
            }
            UndoOutcome::Removed
        }
        None => UndoOutcome::NotFound,
    };
    conn.insert_tombstone(activity_ap_id, Some(&undoer), now)
        .await?;
    Ok(outcome)
}

/// `Store::reaction_counts_for_post`.
pub(crate) async fn reaction_counts_for_post<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    post: PostId,
) -> Result<PostReactions> {
    let own = conn.post_reaction_counts(post).await?;
    let comments = conn
        .comment_reaction_counts(post)
        .await?
        .into_iter()
        .map(|row| {
            (
                CommentId(row.id),
                ReactionCount {
                    likes: row.like_count,
                    announces: row.announce_count,
                },
            )
        })
        .collect();
    Ok(PostReactions {
        post: ReactionCount {
            likes: own.likes,
            announces: own.announces,
        },
        comments,
    })
}

/// `Store::record_flag`, inside the engine's write transaction.
pub(crate) async fn record_flag<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    flag: NewFlag,
) -> Result<Flag> {
    let objects = serde_json::to_string(&flag.object_ap_ids)
        .map_err(|err| Error::Invalid(format!("reported objects cannot be stored: {err}")))?;
    let id = match conn.insert_flag(&flag, &objects).await? {
        Some(id) => id,
        None => {
            let ap_id = flag.ap_id.as_deref().unwrap_or_default();
            conn.flag_id_by_ap_id(ap_id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("flag {ap_id:?}")))?
        }
    };
    let row = conn
        .flag_by_id(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("flag {id}")))?;
    Flag::try_from(row)
}

/// `Store::open_flags`.
pub(crate) async fn open_flags<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    page: Page,
) -> Result<Vec<Flag>> {
    let (limit, offset) = page_bounds(page);
    conn.open_flags(limit, offset)
        .await?
        .into_iter()
        .map(Flag::try_from)
        .collect()
}

/// `Store::set_comment_moderation_with_reason`, inside the engine's write transaction.
pub(crate) async fn set_comment_moderation_with_reason<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    id: CommentId,
    state: Moderation,
    reason: &str,
    decided_by: ModerationDecider,
    now: DateTime<Utc>,
) -> Result<()> {
    if !conn
        .set_moderation_with_reason(id, state, Some(reason))
        .await?
    {
        return Err(Error::NotFound(format!("comment {id}")));
    }
    conn.insert_decision(id, state, reason, decided_by, db_time(now))
        .await
}

/// `Store::moderation_history`.
pub(crate) async fn moderation_history<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    comment: CommentId,
) -> Result<Vec<ModerationDecision>> {
    conn.moderation_history(comment)
        .await?
        .into_iter()
        .map(ModerationDecision::try_from)
        .collect()
}

/// `Store::comment_revisions`.
pub(crate) async fn comment_revisions<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    comment: CommentId,
) -> Result<Vec<CommentRevision>> {
    conn.revisions(comment)
        .await?
        .into_iter()
        .map(CommentRevision::try_from)
        .collect()
}

/// The stored form of a block's value: an actor's id trimmed, a domain by
/// [`block_domain`]. An empty or host-less value is [`Error::Invalid`].
fn block_value(kind: BlockKind, value: &str) -> Result<String> {
    let stored = match kind {
        BlockKind::Actor => Some(value.trim().to_owned()).filter(|value| !value.is_empty()),
        BlockKind::Domain | BlockKind::Limit => block_domain(value),
    };
    stored.ok_or_else(|| Error::Invalid(format!("cannot block the {} {value:?}", kind.as_str())))
}

/// `Store::add_block`.
pub(crate) async fn add_block<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    kind: BlockKind,
    value: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Block> {
    let value = block_value(kind, value)?;
    Block::try_from(
        conn.upsert_block(kind, &value, reason, db_time(now))
            .await?,
    )
}

/// `Store::remove_block`.
pub(crate) async fn remove_block<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    kind: BlockKind,
    value: &str,
) -> Result<bool> {
    match block_value(kind, value) {
        Ok(value) => conn.delete_block(kind, &value).await,
        // Nothing can be blocked under a value that cannot be stored.
        Err(_) => Ok(false),
    }
}

/// The domains a block or a limit is matched against: that of `host` and that of the
/// actor's id (they differ only for a caller's mistake, which must not lift a block).
fn matched_domains(actor_ap_id: Option<&str>, host: &str) -> Vec<String> {
    let mut domains: Vec<String> = Vec::new();
    domains.extend(block_domain(host));
    domains.extend(actor_ap_id.and_then(block_domain));
    domains.dedup();
    domains
}

/// `Store::is_domain_limited`: the domain of `host` or of `actor_ap_id`, or a domain
/// above either.
pub(crate) async fn is_domain_limited<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    actor_ap_id: Option<&str>,
    host: &str,
) -> Result<bool> {
    for domain in &matched_domains(actor_ap_id, host) {
        if conn.is_limited(domain).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `Store::list_blocks`.
pub(crate) async fn list_blocks<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
) -> Result<Vec<Block>> {
    conn.list_blocks()
        .await?
        .into_iter()
        .map(Block::try_from)
        .collect()
}

/// `Store::is_blocked`: the actor by id, and both the given host's domain and that of
/// the actor's id (they differ only for a caller's mistake, which must not unblock).
pub(crate) async fn is_blocked<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    actor_ap_id: Option<&str>,
    host: &str,
) -> Result<bool> {
    let domains = matched_domains(actor_ap_id, host);
    if domains.is_empty() {
        // No domain to match (an unparsable host): the actor block alone decides.
        return conn.is_blocked(actor_ap_id, "").await;
    }
    for domain in &domains {
        if conn.is_blocked(actor_ap_id, domain).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `Store::recent_comment_count_from_host`.
pub(crate) async fn recent_comment_count_from_host<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    host: &str,
    since: DateTime<Utc>,
) -> Result<i64> {
    let Some(domain) = block_domain(host) else {
        return Ok(0);
    };
    conn.count_recent_from_domain(&domain, db_time(since)).await
}

/// `Store::recent_comment_count_by_actor`.
pub(crate) async fn recent_comment_count_by_actor<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    actor: RemoteActorId,
    since: DateTime<Utc>,
) -> Result<i64> {
    conn.count_recent_by_actor(actor, db_time(since)).await
}

/// `Store::public_reply_ap_ids`.
pub(crate) async fn public_reply_ap_ids<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    node: ThreadNode,
    page: Page,
) -> Result<Vec<String>> {
    let (limit, offset) = page_bounds(page);
    match node {
        ThreadNode::Post(post) => {
            conn.ap_ids(sql::REPLIES_TO_POST, post.0, limit, offset)
                .await
        }
        ThreadNode::Comment(comment) => {
            conn.ap_ids(sql::REPLIES_TO_COMMENT, comment.0, limit, offset)
                .await
        }
    }
}

/// `Store::count_public_replies`.
pub(crate) async fn count_public_replies<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    node: ThreadNode,
) -> Result<i64> {
    match node {
        ThreadNode::Post(post) => conn.count_by_id(sql::COUNT_REPLIES_TO_POST, post.0).await,
        ThreadNode::Comment(comment) => {
            conn.count_by_id(sql::COUNT_REPLIES_TO_COMMENT, comment.0)
                .await
        }
    }
}

/// `Store::public_thread_ap_ids`.
pub(crate) async fn public_thread_ap_ids<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    post: PostId,
    page: Page,
) -> Result<Vec<String>> {
    let (limit, offset) = page_bounds(page);
    conn.ap_ids(sql::THREAD, post.0, limit, offset).await
}

/// `Store::private_comments`.
pub(crate) async fn private_comments<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    page: Page,
) -> Result<Vec<Comment>> {
    let (limit, offset) = page_bounds(page);
    conn.private_comments(limit, offset).await
}

/// `Store::add_local_author_reply`, inside the engine's write transaction.
pub(crate) async fn add_local_author_reply<
    C: TxStatements + DiscussionStatements + FederationTxStatements + ?Sized,
>(
    conn: &mut C,
    reply: LocalAuthorReply,
    outbox: Vec<OutgoingActivity>,
) -> Result<Comment> {
    let now = now();
    let place = place_under(conn, reply.parent).await?;
    let comment = conn
        .insert_comment(&CommentInsert {
            author_url: reply.author_url.as_deref(),
            author_avatar_url: reply.author_avatar_url.as_deref(),
            content_html: &reply.content_html,
            ap_id: Some(&reply.ap_id),
            local_author_id: Some(reply.author_id),
            visibility: reply.visibility,
            in_reply_to_ap_id: reply.in_reply_to_ap_id.as_deref(),
            summary: reply.summary.as_deref(),
            sensitive: reply.sensitive,
            ..CommentInsert::at_place(
                place,
                &reply.author_name,
                CommentOrigin::Local,
                Moderation::Approved,
                db_time(reply.published_at),
                now,
            )
        })
        .await?;
    record_outbox(conn, outbox, Some(place.post_id)).await?;
    Ok(comment)
}

/// Reads an author reply to change it (locked first); anything else is refused.
async fn author_reply<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    id: CommentId,
) -> Result<Comment> {
    conn.lock_comment(id).await?;
    let comment = conn
        .comment_by_id(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))?;
    if comment.local_author_id.is_none() {
        return Err(Error::Invalid(format!(
            "comment {id} is not a reply written by an author"
        )));
    }
    Ok(comment)
}

/// `Store::update_local_author_reply`, inside the engine's write transaction.
pub(crate) async fn update_local_author_reply<
    C: DiscussionStatements + FederationTxStatements + ?Sized,
>(
    conn: &mut C,
    id: CommentId,
    edit: LocalReplyEdit,
    outbox: Vec<OutgoingActivity>,
) -> Result<Comment> {
    let now = now();
    let existing = author_reply(conn, id).await?;
    if existing.deleted_at.is_some() {
        return Err(Error::Invalid(format!("comment {id} is deleted")));
    }
    let attachments = existing.attachments.clone();
    let post = existing.post_id;
    let (comment, _) = apply_new_version(
        conn,
        existing,
        NewVersion {
            content_html: &edit.content_html,
            summary: edit.summary.as_deref(),
            sensitive: edit.sensitive,
            attachments: &attachments,
            updated_at: Some(edit.updated_at),
            only_if_newer: false,
            moderation: None,
        },
        now,
    )
    .await?;
    record_outbox(conn, outbox, Some(post)).await?;
    Ok(comment)
}

/// `Store::delete_local_author_reply`, inside the engine's write transaction.
pub(crate) async fn delete_local_author_reply<
    C: DiscussionStatements + FederationTxStatements + ?Sized,
>(
    conn: &mut C,
    id: CommentId,
    outbox: Vec<OutgoingActivity>,
    now: DateTime<Utc>,
) -> Result<()> {
    let now = db_time(now);
    let existing = author_reply(conn, id).await?;
    conn.clear_comment(id, now).await?;
    if let Some(ap_id) = existing.ap_id.as_deref() {
        conn.insert_tombstone(ap_id, None, now).await?;
    }
    record_outbox(conn, outbox, Some(existing.post_id)).await
}

/// `Store::comment_by_ap_id`.
pub(crate) async fn comment_by_ap_id<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    ap_id: &str,
) -> Result<Option<Comment>> {
    conn.comment_by_ap_id(ap_id).await
}

/// `Store::set_post_comments_closed`.
pub(crate) async fn set_post_comments_closed<C: DiscussionStatements + ?Sized>(
    conn: &mut C,
    post: PostId,
    closed: bool,
) -> Result<()> {
    if conn.set_comments_open(post, !closed).await? {
        Ok(())
    } else {
        Err(Error::NotFound(format!("post {post}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;

    #[test]
    fn newer_versions_replace_older_ones_only() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        assert!(is_newer(None, None));
        assert!(is_newer(None, Some(t(1))));
        assert!(!is_newer(Some(t(1)), None));
        assert!(is_newer(Some(t(1)), Some(t(2))));
        assert!(!is_newer(Some(t(2)), Some(t(2))));
        assert!(!is_newer(Some(t(3)), Some(t(2))));
    }

    #[test]
    fn block_values_are_normalized_or_refused() {
        assert_eq!(
            block_value(BlockKind::Domain, "Spam.Example:443").unwrap(),
            "spam.example"
        );
        assert_eq!(
            block_value(BlockKind::Actor, " https://spam.example/u/x ").unwrap(),
            "https://spam.example/u/x"
        );
        assert!(block_value(BlockKind::Actor, "  ").is_err());
        assert!(block_value(BlockKind::Domain, "").is_err());
    }
}
