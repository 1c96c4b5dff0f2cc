//! The SQLite engine: a single file beside the binary, for blogs that want no database
//! server. Every statement comes from `util::sql`, `federation_util::sql` or
//! `discussion_util::sql` and every multi-statement use case from those modules; what is
//! SQLite's own is here: the connection settings, the migrations directory,
//! `BEGIN IMMEDIATE` for write transactions, and claiming deliveries under that lock.
//!
//! This file and `postgres.rs` are kept line for line alike; compare them with `diff`.

use crate::backfill_util;
use crate::discussion_model::{
    Block, BlockKind, CommentRevision, DeleteOutcome, EditOutcome, Flag, FlagId, LocalAuthorReply,
    LocalReplyEdit, ModerationDecider, ModerationDecision, NewFlag, NewReaction, PostReactions,
    ReactionOutcome, RemoteCommentEdit, RemoteCommentUpsert, ThreadNode, UndoOutcome,
    UpsertOutcome,
};
use crate::discussion_util::{self, DiscussionStatements};
use crate::error::Error;
use crate::federation_model::{
    ActorKey, DeliveryJob, DeliveryOutcome, DeliveryStatus, FollowState, Follower, HostHealth,
    LocalActor, OutgoingActivity, ReceivedActivity, RemoteActor, RemoteActorId, RemoteActorUpsert,
};
use crate::federation_util::{
    self, ActivityInsert, ActorKeyRow, DeliveryCountsRow, DeliveryFinish, DeliveryJobRow,
    DeliveryStatusRow, FederationTxStatements, FollowerRow, HostHealthRow, RemoteActorRow,
    sql as fsql,
};
use crate::group_commit::{GroupCommit, WriteFuture};
use crate::model::{
    Author, AuthorId, BlogSettings, Comment, CommentId, ImportBatch, ImportReport, Moderation,
    NewAuthor, NewComment, Page, Post, PostDraft, PostId, Session, SiteCounts, Tag, TagCount,
};
use crate::store::{CommentFilter, Result, Store};
use crate::util::{
    self, AuthorRow, CommentPlace, CommentRow, CredentialsRow, PostInsert, PostRow, PostTagRow,
    SessionRow, SettingsRow, SiteCountsRow, TagCountRow, TagRow, TxStatements, sql,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Sqlite, Transaction};
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A post's comments as one JSON array (see [`util::CommentJson`]).
const COMMENTS_FOR_POST_JSON: &str = concat!(
    "SELECT json_group_array(json_array(",
    util::comment_values!(),
    ")) FROM comments c WHERE c.post_id = $1"
);

/// The migrations under `migrations/sqlite`, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The [`Store`] on a SQLite database file.
///
/// The inbox's writes (a reaction with its receipt, the receipt of other activities) go
/// through one writer task that commits concurrent writes together
/// (`crate::group_commit`). Every other write transaction (posts, comments, the delivery
/// worker's claims and its batches of outcomes...) takes the same in-process gate first,
/// so writers of this process queue in order and only a writer in another process (the
/// CLI) makes them wait on SQLite's busy timeout.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writes: Arc<GroupCommit>,
    write_gate: Arc<Mutex<()>>,
}

/// A write transaction outside the group commit, holding the write gate until it ends.
struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _gate: OwnedMutexGuard<()>,
}

impl WriteTx {
    async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl SqliteStore {
    /// Opens (creating it if missing) the database named by a `sqlite:PATH` URL and
    /// applies pending migrations. Called once at start-up by [`crate::connect`], and by
    /// tests.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|err| Error::BadUrl(format!("{url:?}: {err}")))?
            .create_if_missing(true)
            // Readers never wait for the writer, and a commit appends to the WAL.
            .journal_mode(SqliteJournalMode::Wal)
            // FULL rather than NORMAL: in WAL mode NORMAL skips the fsync at commit, so a
            // power cut can lose the last transactions. A blog writes little, so we pay
            // one fsync per commit and nothing that was committed is ever lost.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // A writer waits up to this long for another writer instead of failing.
            .busy_timeout(Duration::from_secs(5));
        // A connection to a local file cannot go stale: no ping before each use (each
        // statement is a round trip to the connection's thread).
        let mut pool_options = SqlitePoolOptions::new().test_before_acquire(false);
        if is_in_memory(url) {
            // Every connection to `sqlite::memory:` would be a database of its own, and it
            // vanishes with its last connection: keep exactly one, forever.
            pool_options = pool_options
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool_options.connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        let write_gate = Arc::new(Mutex::new(()));
        let writes = Arc::new(GroupCommit::start(pool.clone(), Arc::clone(&write_gate)));
        Ok(SqliteStore {
            pool,
            writes,
            write_gate,
        })
    }

    /// The connection pool, for callers that need SQL of their own (tests, maintenance).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Starts a write transaction. IMMEDIATE takes the write lock at once (waiting up to
    /// the busy timeout): a DEFERRED transaction that reads first could otherwise fail
    /// with SQLITE_BUSY when it tries to write after another writer committed.
    async fn begin_write(&self) -> Result<WriteTx> {
        let gate = Arc::clone(&self.write_gate).lock_owned().await;
        Ok(WriteTx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _gate: gate,
        })
    }

    /// Runs one write use case in the group commit (`crate::group_commit`): atomic,
    /// answered once committed.
    async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        self.writes.write(job).await
    }

    /// Converts post rows and attaches their tags, loaded in one query per
    /// [`sql::TAG_QUERY_CHUNK`] posts rather than one per post.
    async fn posts_with_tags(&self, rows: Vec<PostRow>) -> Result<Vec<Post>> {
        let ids: Vec<i64> = rows.iter().map(PostRow::id).collect();
        let mut tags = Vec::new();
        for chunk in ids.chunks(sql::TAG_QUERY_CHUNK) {
            let statement = sql::tags_for_posts(chunk.len());
            let mut query = sqlx::query_as::<_, PostTagRow>(AssertSqlSafe(statement));
            for id in chunk {
                query = query.bind(*id);
            }
            tags.extend(query.fetch_all(&self.pool).await?);
        }
        util::posts_with_tags(rows, tags)
    }

    /// One post with its tags.
    async fn post_with_tags(&self, row: Option<PostRow>) -> Result<Option<Post>> {
        match row {
            None => Ok(None),
            Some(row) => Ok(self.posts_with_tags(vec![row]).await?.pop()),
        }
    }
}

/// Whether the URL names an in-memory database.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[async_trait]
impl TxStatements for SqliteConnection {
    async fn insert_author(
        &mut self,
        author: &NewAuthor,
        created_at: DateTime<Utc>,
    ) -> Result<Author> {
        let row = sqlx::query_as::<_, AuthorRow>(sql::INSERT_AUTHOR)
            .bind(&author.username)
            .bind(&author.display_name)
            .bind(author.password_hash.as_deref())
            .bind(author.is_admin)
            .bind(author.import_key.as_deref())
            .bind(created_at)
            .fetch_one(&mut *self)
            .await
            .map_err(|err| util::write_error(err, || format!("author {:?}", author.username)))?;
        Ok(row.into())
    }

    async fn author_id_by_import_key(&mut self, import_key: &str) -> Result<Option<AuthorId>> {
        let id = sqlx::query_scalar::<_, i64>(sql::AUTHOR_ID_BY_IMPORT_KEY)
            .bind(import_key)
            .fetch_optional(&mut *self)
            .await?;
        Ok(id.map(AuthorId))
    }

    async fn author_id_by_username(&mut self, username: &str) -> Result<Option<AuthorId>> {
        let id = sqlx::query_scalar::<_, i64>(sql::AUTHOR_ID_BY_USERNAME)
            .bind(username)
            .fetch_optional(&mut *self)
            .await?;
        Ok(id.map(AuthorId))
    }

    async fn insert_post(&mut self, post: &PostInsert<'_>) -> Result<PostRow> {
        sqlx::query_as::<_, PostRow>(sql::INSERT_POST)
            .bind(post.author_id.0)
            .bind(post.title)
            .bind(post.slug)
            .bind(post.source)
            .bind(post.content_html)
            .bind(post.summary)
            .bind(post.status.as_str())
            .bind(post.origin.as_str())
            .bind(true)
            .bind(post.import_key)
            .bind(post.published_at)
            .bind(post.updated_at)
            .bind(post.created_at)
            .fetch_one(&mut *self)
            .await
            .map_err(|err| util::write_error(err, || format!("post slug {:?}", post.slug)))
    }

    async fn update_post_row(
        &mut self,
        id: PostId,
        draft: &PostDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<PostRow>> {
        sqlx::query_as::<_, PostRow>(sql::UPDATE_POST)
            .bind(id.0)
            .bind(draft.author_id.0)
            .bind(&draft.title)
            .bind(&draft.slug)
            .bind(&draft.source)
            .bind(&draft.content_html)
            .bind(draft.summary.as_deref())
            .bind(draft.status.as_str())
            .bind(draft.origin.as_str())
            .bind(draft.published_at)
            .bind(now)
            .fetch_optional(&mut *self)
            .await
            .map_err(|err| util::write_error(err, || format!("post slug {:?}", draft.slug)))
    }

    async fn post_exists(&mut self, id: PostId) -> Result<bool> {
        let found = sqlx::query_scalar::<_, i64>(sql::POST_ID_BY_ID)
            .bind(id.0)
            .fetch_optional(&mut *self)
            .await?;
        Ok(found.is_some())
    }

    async fn mark_post_deleted(&mut self, id: PostId) -> Result<bool> {
        let done = sqlx::query(sql::DELETE_POST)
            .bind(id.0)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn post_id_by_slug(&mut self, slug: &str) -> Result<Option<PostId>> {
        let id = sqlx::query_scalar::<_, i64>(sql::POST_ID_BY_SLUG)
            .bind(slug)
            .fetch_optional(&mut *self)
            .await?;
        Ok(id.map(PostId))
    }

    async fn post_id_by_import_key(&mut self, import_key: &str) -> Result<Option<PostId>> {
        let id = sqlx::query_scalar::<_, i64>(sql::POST_ID_BY_IMPORT_KEY)
            .bind(import_key)
            .fetch_optional(&mut *self)
            .await?;
        Ok(id.map(PostId))
    }

    async fn upsert_tag(&mut self, tag: &Tag) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(sql::UPSERT_TAG)
            .bind(&tag.slug)
            .bind(&tag.name)
            .fetch_one(&mut *self)
            .await?)
    }

    async fn clear_post_tags(&mut self, post: PostId) -> Result<()> {
        sqlx::query(sql::DELETE_POST_TAGS)
            .bind(post.0)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn insert_post_tag(&mut self, post: PostId, tag_id: i64, position: i32) -> Result<()> {
        sqlx::query(sql::INSERT_POST_TAG)
            .bind(post.0)
            .bind(tag_id)
            .bind(position)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn comment_place(&mut self, id: CommentId) -> Result<Option<CommentPlace>> {
        let place = sqlx::query_as::<_, (i64, i64, i32)>(sql::COMMENT_PLACE_BY_ID)
            .bind(id.0)
            .fetch_optional(&mut *self)
            .await?;
        Ok(place.map(|(id, post, depth)| (CommentId(id), PostId(post), depth)))
    }

    async fn comment_place_by_import_key(
        &mut self,
        import_key: &str,
    ) -> Result<Option<CommentPlace>> {
        let place = sqlx::query_as::<_, (i64, i64, i32)>(sql::COMMENT_PLACE_BY_IMPORT_KEY)
            .bind(import_key)
            .fetch_optional(&mut *self)
            .await?;
        Ok(place.map(|(id, post, depth)| (CommentId(id), PostId(post), depth)))
    }
}

#[async_trait]
impl FederationTxStatements for SqliteConnection {
    async fn insert_activity(&mut self, activity: &ActivityInsert<'_>) -> Result<i64> {
        sqlx::query_scalar::<_, i64>(fsql::INSERT_ACTIVITY)
            .bind(activity.ap_id)
            .bind(&activity.actor)
            .bind(activity.kind)
            .bind(activity.object_ap_id)
            .bind(activity.post_id.map(|id| id.0))
            .bind(activity.payload)
            .bind(activity.created_at)
            .fetch_one(&mut *self)
            .await
            .map_err(|err| util::write_error(err, || format!("activity {:?}", activity.ap_id)))
    }

    async fn insert_follower_deliveries(
        &mut self,
        activity_id: i64,
        local_actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(fsql::INSERT_FOLLOWER_DELIVERIES)
            .bind(activity_id)
            .bind(now)
            .bind(local_actor)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn insert_delivery(
        &mut self,
        activity_id: i64,
        inbox: &str,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(fsql::INSERT_DELIVERY)
            .bind(activity_id)
            .bind(inbox)
            .bind(host)
            .bind(now)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn finish_delivery_row(
        &mut self,
        id: i64,
        finish: &DeliveryFinish<'_>,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<_, String>(fsql::FINISH_DELIVERY)
            .bind(id)
            .bind(finish.state.as_str())
            .bind(finish.status)
            .bind(finish.error)
            .bind(finish.next_attempt_at)
            .bind(finish.now)
            .fetch_optional(&mut *self)
            .await?)
    }

    async fn delivery_exists(&mut self, id: i64) -> Result<bool> {
        let found = sqlx::query_scalar::<_, i64>(fsql::DELIVERY_EXISTS)
            .bind(id)
            .fetch_optional(&mut *self)
            .await?;
        Ok(found.is_some())
    }

    async fn host_succeeded(&mut self, host: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(fsql::HOST_SUCCEEDED)
            .bind(host)
            .bind(now)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn host_failed(&mut self, host: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(fsql::HOST_FAILED)
            .bind(host)
            .bind(now)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn host_contacted(&mut self, host: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(fsql::HOST_REACHABLE_AGAIN)
            .bind(host)
            .execute(&mut *self)
            .await?;
        sqlx::query(fsql::HOST_DELIVERIES_DUE_NOW)
            .bind(host)
            .bind(now)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn insert_received_activity(&mut self, ap_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(fsql::RECORD_RECEIVED_ACTIVITY)
            .bind(ap_id)
            .bind(now)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl Store for SqliteStore {
    // ---- authors ----

    async fn create_author(&self, mut author: NewAuthor) -> Result<Author> {
        author.username = author.username.to_lowercase();
        let mut conn = self.pool.acquire().await?;
        conn.insert_author(&author, util::now()).await
    }

    async fn author_by_id(&self, id: AuthorId) -> Result<Option<Author>> {
        let row = sqlx::query_as::<_, AuthorRow>(sql::AUTHOR_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Author::from))
    }

    async fn author_by_username(&self, username: &str) -> Result<Option<Author>> {
        let row = sqlx::query_as::<_, AuthorRow>(sql::AUTHOR_BY_USERNAME)
            .bind(username.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Author::from))
    }

    async fn list_authors(&self) -> Result<Vec<Author>> {
        let rows = sqlx::query_as::<_, AuthorRow>(sql::LIST_AUTHORS)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Author::from).collect())
    }

    async fn count_authors(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_AUTHORS)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn author_credentials(&self, username: &str) -> Result<Option<(Author, String)>> {
        let row = sqlx::query_as::<_, CredentialsRow>(sql::AUTHOR_CREDENTIALS)
            .bind(username.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn set_author_password(&self, id: AuthorId, password_hash: &str) -> Result<()> {
        let done = sqlx::query(sql::SET_AUTHOR_PASSWORD)
            .bind(id.0)
            .bind(password_hash)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("author {id}")));
        }
        Ok(())
    }

    async fn update_author_profile(
        &self,
        id: AuthorId,
        display_name: &str,
        bio: &str,
        avatar_url: Option<&str>,
    ) -> Result<Author> {
        let row = sqlx::query_as::<_, AuthorRow>(sql::UPDATE_AUTHOR_PROFILE)
            .bind(id.0)
            .bind(display_name)
            .bind(bio)
            .bind(avatar_url)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Author::from)
            .ok_or_else(|| Error::NotFound(format!("author {id}")))
    }

    // ---- posts ----

    async fn create_post(&self, draft: PostDraft, outbox: Vec<OutgoingActivity>) -> Result<Post> {
        let mut tx = self.begin_write().await?;
        let post = util::create_post(&mut *tx, draft, outbox).await?;
        tx.commit().await?;
        Ok(post)
    }

    async fn update_post(
        &self,
        id: PostId,
        draft: PostDraft,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Post> {
        let mut tx = self.begin_write().await?;
        let post = util::update_post(&mut *tx, id, draft, outbox).await?;
        tx.commit().await?;
        Ok(post)
    }

    async fn delete_post(&self, id: PostId, outbox: Vec<OutgoingActivity>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        util::delete_post(&mut *tx, id, outbox).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn post_by_id(&self, id: PostId) -> Result<Option<Post>> {
        let row = sqlx::query_as::<_, PostRow>(sql::POST_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        self.post_with_tags(row).await
    }

    async fn post_by_slug(&self, slug: &str) -> Result<Option<Post>> {
        let row = sqlx::query_as::<_, PostRow>(sql::POST_BY_SLUG)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        self.post_with_tags(row).await
    }

    async fn published_post_id_by_slug(&self, slug: &str) -> Result<Option<PostId>> {
        let id = sqlx::query_scalar::<_, i64>(sql::PUBLISHED_POST_ID_BY_SLUG)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(PostId))
    }

    async fn published_posts(&self, page: Page) -> Result<Vec<Post>> {
        let (limit, offset) = util::page_bounds(page);
        let rows = sqlx::query_as::<_, PostRow>(sql::PUBLISHED_POSTS)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        self.posts_with_tags(rows).await
    }

    async fn count_published_posts(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_PUBLISHED_POSTS)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn published_posts_with_tag(&self, tag_slug: &str, page: Page) -> Result<Vec<Post>> {
        let (limit, offset) = util::page_bounds(page);
        let rows = sqlx::query_as::<_, PostRow>(sql::PUBLISHED_POSTS_WITH_TAG)
            .bind(tag_slug)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        self.posts_with_tags(rows).await
    }

    async fn count_published_posts_with_tag(&self, tag_slug: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>(sql::COUNT_PUBLISHED_POSTS_WITH_TAG)
                .bind(tag_slug)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn published_posts_by_author(&self, author: AuthorId, page: Page) -> Result<Vec<Post>> {
        let (limit, offset) = util::page_bounds(page);
        let rows = sqlx::query_as::<_, PostRow>(sql::PUBLISHED_POSTS_BY_AUTHOR)
            .bind(author.0)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        self.posts_with_tags(rows).await
    }

    async fn count_published_posts_by_author(&self, author: AuthorId) -> Result<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>(sql::COUNT_PUBLISHED_POSTS_BY_AUTHOR)
                .bind(author.0)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn all_posts(&self, page: Page) -> Result<Vec<Post>> {
        let (limit, offset) = util::page_bounds(page);
        let rows = sqlx::query_as::<_, PostRow>(sql::ALL_POSTS)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        self.posts_with_tags(rows).await
    }

    async fn tags_in_use(&self) -> Result<Vec<TagCount>> {
        let rows = sqlx::query_as::<_, TagCountRow>(sql::TAGS_IN_USE)
            .fetch_all(&self.pool)
            .await?;
        Ok(util::tag_counts(rows))
    }

    async fn tag_by_slug(&self, slug: &str) -> Result<Option<Tag>> {
        let row = sqlx::query_as::<_, TagRow>(sql::TAG_BY_SLUG)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Tag::from))
    }

    // ---- comments ----

    async fn add_comment(&self, comment: NewComment) -> Result<Comment> {
        let mut tx = self.begin_write().await?;
        let comment = util::add_comment(&mut *tx, comment).await?;
        tx.commit().await?;
        Ok(comment)
    }

    async fn comment_by_id(&self, id: CommentId) -> Result<Option<Comment>> {
        let row = sqlx::query_as::<_, CommentRow>(sql::COMMENT_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Comment::try_from).transpose()
    }

    async fn comments_for_post(&self, post: PostId, filter: CommentFilter) -> Result<Vec<Comment>> {
        let json = sqlx::query_scalar::<_, String>(COMMENTS_FOR_POST_JSON)
            .bind(post.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(util::thread_order(util::comments_from_json(&json)?, filter))
    }

    async fn count_public_comments(&self, post: PostId) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(sql::COUNT_PUBLIC_COMMENTS)
            .bind(post.0)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn recent_comments(&self, filter: CommentFilter, page: Page) -> Result<Vec<Comment>> {
        let (limit, offset) = util::page_bounds(page);
        let rows = sqlx::query_as::<_, CommentRow>(sql::recent_comments(filter))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        util::comments(rows)
    }

    async fn set_comment_moderation(&self, id: CommentId, state: Moderation) -> Result<()> {
        let done = sqlx::query(sql::SET_COMMENT_MODERATION)
            .bind(id.0)
            .bind(state.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("comment {id}")));
        }
        Ok(())
    }

    async fn delete_comment(&self, id: CommentId) -> Result<()> {
        let done = sqlx::query(sql::DELETE_COMMENT)
            .bind(id.0)
            .bind(util::now())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("comment {id}")));
        }
        Ok(())
    }

    // ---- fediverse discussion: remote comments ----

    async fn upsert_remote_comment(&self, comment: RemoteCommentUpsert) -> Result<UpsertOutcome> {
        let mut tx = self.begin_write().await?;
        let outcome = discussion_util::upsert_remote_comment(&mut *tx, comment).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn comment_by_ap_id(&self, ap_id: &str) -> Result<Option<Comment>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::comment_by_ap_id(&mut *conn, ap_id).await
    }

    async fn update_remote_comment_content(
        &self,
        ap_id: &str,
        actor: RemoteActorId,
        edit: RemoteCommentEdit,
    ) -> Result<EditOutcome> {
        let mut tx = self.begin_write().await?;
        let outcome =
            discussion_util::update_remote_comment_content(&mut *tx, ap_id, actor, edit).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn delete_comment_by_ap_id(
        &self,
        ap_id: &str,
        actor: RemoteActorId,
        now: DateTime<Utc>,
    ) -> Result<DeleteOutcome> {
        let mut tx = self.begin_write().await?;
        let outcome = discussion_util::delete_comment_by_ap_id(&mut *tx, ap_id, actor, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn tombstone_exists(&self, ap_id: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        Ok(conn.tombstone_actor(ap_id).await?.is_some())
    }

    async fn delete_comments_of_actor(
        &self,
        actor: RemoteActorId,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let deleted = discussion_util::delete_comments_of_actor(&mut *tx, actor, now).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn update_comment_authors(
        &self,
        actor: RemoteActorId,
        author_name: &str,
        author_url: Option<&str>,
        author_avatar_url: Option<&str>,
    ) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        conn.update_comment_authors(actor, author_name, author_url, author_avatar_url)
            .await
    }

    async fn comment_revisions(&self, comment: CommentId) -> Result<Vec<CommentRevision>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::comment_revisions(&mut *conn, comment).await
    }

    async fn private_comments(&self, page: Page) -> Result<Vec<Comment>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::private_comments(&mut *conn, page).await
    }

    async fn count_private_comments(&self) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        conn.count_private_comments().await
    }

    // ---- fediverse discussion: collections ----

    async fn public_reply_ap_ids(&self, node: ThreadNode, page: Page) -> Result<Vec<String>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::public_reply_ap_ids(&mut *conn, node, page).await
    }

    async fn count_public_replies(&self, node: ThreadNode) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::count_public_replies(&mut *conn, node).await
    }

    async fn public_thread_ap_ids(&self, post: PostId, page: Page) -> Result<Vec<String>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::public_thread_ap_ids(&mut *conn, post, page).await
    }

    async fn count_public_thread(&self, post: PostId) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        conn.count_by_id(discussion_util::sql::COUNT_THREAD, post.0)
            .await
    }

    // ---- fediverse discussion: author replies ----

    async fn add_local_author_reply(
        &self,
        reply: LocalAuthorReply,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Comment> {
        let mut tx = self.begin_write().await?;
        let comment = discussion_util::add_local_author_reply(&mut *tx, reply, outbox).await?;
        tx.commit().await?;
        Ok(comment)
    }

    async fn update_local_author_reply(
        &self,
        id: CommentId,
        edit: LocalReplyEdit,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Comment> {
        let mut tx = self.begin_write().await?;
        let comment =
            discussion_util::update_local_author_reply(&mut *tx, id, edit, outbox).await?;
        tx.commit().await?;
        Ok(comment)
    }

    async fn delete_local_author_reply(
        &self,
        id: CommentId,
        outbox: Vec<OutgoingActivity>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        discussion_util::delete_local_author_reply(&mut *tx, id, outbox, now).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- fediverse discussion: likes and announces ----

    async fn record_reaction(&self, reaction: NewReaction) -> Result<ReactionOutcome> {
        let mut tx = self.begin_write().await?;
        let outcome = discussion_util::record_reaction(&mut *tx, reaction).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn record_received_reaction(
        &self,
        reaction: NewReaction,
        received: ReceivedActivity,
    ) -> Result<(ReactionOutcome, bool)> {
        self.write(move |conn| {
            Box::pin(async move {
                discussion_util::record_received_reaction(conn, reaction, &received).await
            })
        })
        .await
    }

    async fn undo_reaction(
        &self,
        activity_ap_id: &str,
        actor: RemoteActorId,
    ) -> Result<UndoOutcome> {
        let mut tx = self.begin_write().await?;
        let outcome = discussion_util::undo_reaction(&mut *tx, activity_ap_id, actor).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn reaction_counts_for_post(&self, post: PostId) -> Result<PostReactions> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::reaction_counts_for_post(&mut *conn, post).await
    }

    // ---- fediverse discussion: reports ----

    async fn record_flag(&self, flag: NewFlag) -> Result<Flag> {
        let mut tx = self.begin_write().await?;
        let flag = discussion_util::record_flag(&mut *tx, flag).await?;
        tx.commit().await?;
        Ok(flag)
    }

    async fn open_flags(&self, page: Page) -> Result<Vec<Flag>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::open_flags(&mut *conn, page).await
    }

    async fn count_open_flags(&self) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        conn.count_open_flags().await
    }

    async fn resolve_flag(&self, id: FlagId, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if conn.resolve_flag(id.0, util::db_time(now)).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("flag {id}")))
        }
    }

    // ---- fediverse discussion: moderation ----

    async fn set_comment_moderation_with_reason(
        &self,
        id: CommentId,
        state: Moderation,
        reason: &str,
        decided_by: ModerationDecider,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        discussion_util::set_comment_moderation_with_reason(
            &mut *tx, id, state, reason, decided_by, now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn moderation_history(&self, comment: CommentId) -> Result<Vec<ModerationDecision>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::moderation_history(&mut *conn, comment).await
    }

    async fn count_approved_comments_by_actor(&self, actor: RemoteActorId) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        conn.count_approved_by_actor(actor).await
    }

    async fn recent_comment_count_from_host(
        &self,
        host: &str,
        since: DateTime<Utc>,
    ) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::recent_comment_count_from_host(&mut *conn, host, since).await
    }

    async fn recent_comment_count_by_actor(
        &self,
        actor: RemoteActorId,
        since: DateTime<Utc>,
    ) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::recent_comment_count_by_actor(&mut *conn, actor, since).await
    }

    async fn set_post_comments_closed(&self, post: PostId, closed: bool) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::set_post_comments_closed(&mut *conn, post, closed).await
    }

    // ---- fediverse discussion: blocks ----

    async fn add_block(
        &self,
        kind: BlockKind,
        value: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Block> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::add_block(&mut *conn, kind, value, reason, now).await
    }

    async fn remove_block(&self, kind: BlockKind, value: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::remove_block(&mut *conn, kind, value).await
    }

    async fn is_blocked(&self, actor_ap_id: Option<&str>, host: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::is_blocked(&mut *conn, actor_ap_id, host).await
    }

    async fn list_blocks(&self) -> Result<Vec<Block>> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::list_blocks(&mut *conn).await
    }

    async fn is_domain_limited(&self, actor_ap_id: Option<&str>, host: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        discussion_util::is_domain_limited(&mut *conn, actor_ap_id, host).await
    }

    // ---- import ----

    async fn import(&self, batch: ImportBatch) -> Result<ImportReport> {
        let mut tx = self.begin_write().await?;
        let report = util::import(&mut *tx, batch).await?;
        tx.commit().await?;
        Ok(report)
    }

    // ---- settings ----

    async fn blog_settings(&self) -> Result<BlogSettings> {
        let row = sqlx::query_as::<_, SettingsRow>(sql::BLOG_SETTINGS)
            .fetch_optional(&self.pool)
            .await?;
        row.map(BlogSettings::try_from)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn page_version(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(sql::PAGE_VERSION)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn update_blog_settings(&self, settings: &BlogSettings) -> Result<()> {
        sqlx::query(sql::UPSERT_BLOG_SETTINGS)
            .bind(&settings.title)
            .bind(&settings.description)
            .bind(settings.avatar_url.as_deref())
            .bind(settings.default_author_id.map(|id| id.0))
            .bind(settings.manually_approves_followers)
            .bind(settings.note_content.as_str())
            .bind(crate::model::keyword_list(&settings.disallowed_keywords.join("\n")).join("\n"))
            .execute(&self.pool)
            .await
            .map_err(|err| util::write_error(err, || "blog settings".to_owned()))?;
        Ok(())
    }

    // ---- admin sessions ----

    async fn create_session(&self, session: &Session) -> Result<()> {
        sqlx::query(sql::INSERT_SESSION)
            .bind(&session.token_hash)
            .bind(session.author_id.0)
            .bind(&session.csrf_token)
            .bind(util::db_time(session.expires_at))
            .bind(util::now())
            .execute(&self.pool)
            .await
            .map_err(|err| util::write_error(err, || "session".to_owned()))?;
        Ok(())
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>> {
        let row = sqlx::query_as::<_, SessionRow>(sql::SESSION_BY_TOKEN_HASH)
            .bind(token_hash)
            .bind(util::db_time(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Session::from))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query(sql::DELETE_SESSION)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(sql::PURGE_EXPIRED_SESSIONS)
            .bind(util::db_time(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // ---- site ----

    async fn site_counts(&self, now: DateTime<Utc>) -> Result<SiteCounts> {
        let now = util::db_time(now);
        let row = sqlx::query_as::<_, SiteCountsRow>(sql::SITE_COUNTS)
            .bind(now)
            .bind(now - util::ACTIVE_MONTH)
            .bind(now - util::ACTIVE_HALFYEAR)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    // ---- local actors' keys ----

    async fn actor_key(&self, actor: LocalActor) -> Result<Option<ActorKey>> {
        let row = sqlx::query_as::<_, ActorKeyRow>(fsql::ACTOR_KEY)
            .bind(actor.key())
            .fetch_optional(&self.pool)
            .await?;
        row.map(ActorKey::try_from).transpose()
    }

    async fn insert_actor_key_if_missing(&self, key: ActorKey) -> Result<ActorKey> {
        sqlx::query(fsql::INSERT_ACTOR_KEY_IF_MISSING)
            .bind(key.actor.key())
            .bind(&key.public_key_pem)
            .bind(&key.private_key_pem)
            .bind(util::db_time(key.created_at))
            .execute(&self.pool)
            .await?;
        self.actor_key(key.actor)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key of {}", key.actor)))
    }

    // ---- remote actors ----

    async fn upsert_remote_actor(&self, actor: RemoteActorUpsert) -> Result<RemoteActor> {
        let insert = federation_util::remote_actor_insert(actor)?;
        let actor = &insert.actor;
        let row = sqlx::query_as::<_, RemoteActorRow>(fsql::UPSERT_REMOTE_ACTOR)
            .bind(&actor.ap_id)
            .bind(&actor.kind)
            .bind(actor.preferred_username.as_deref())
            .bind(actor.name.as_deref())
            .bind(actor.url.as_deref())
            .bind(actor.icon_url.as_deref())
            .bind(&actor.inbox)
            .bind(actor.shared_inbox.as_deref())
            .bind(&actor.public_key_id)
            .bind(&actor.public_key_pem)
            .bind(&actor.host)
            .bind(&insert.delivery_host)
            .bind(actor.fetched_at)
            .bind(&insert.domain)
            .fetch_one(&self.pool)
            .await
            .map_err(|err| util::write_error(err, || format!("remote actor {:?}", actor.ap_id)))?;
        Ok(row.into())
    }

    async fn remote_actor_by_ap_id(&self, ap_id: &str) -> Result<Option<RemoteActor>> {
        let row = sqlx::query_as::<_, RemoteActorRow>(fsql::REMOTE_ACTOR_BY_AP_ID)
            .bind(ap_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(RemoteActor::from))
    }

    async fn remote_actor_by_id(&self, id: RemoteActorId) -> Result<Option<RemoteActor>> {
        let row = sqlx::query_as::<_, RemoteActorRow>(fsql::REMOTE_ACTOR_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(RemoteActor::from))
    }

    async fn remote_actor_by_key_id(&self, key_id: &str) -> Result<Option<RemoteActor>> {
        let row = sqlx::query_as::<_, RemoteActorRow>(fsql::REMOTE_ACTOR_BY_KEY_ID)
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(RemoteActor::from))
    }

    async fn mark_remote_actor_deleted(&self, ap_id: &str, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = sqlx::query_scalar::<_, i64>(fsql::MARK_REMOTE_ACTOR_DELETED)
            .bind(ap_id)
            .bind(util::db_time(now))
            .fetch_optional(&mut *tx)
            .await?;
        // An actor we never stored has nothing to forget.
        if let Some(id) = id {
            sqlx::query(fsql::DELETE_FOLLOWS_OF_REMOTE_ACTOR)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- followers ----

    async fn upsert_follower(
        &self,
        local_actor: LocalActor,
        remote: RemoteActorId,
        follow_ap_id: &str,
        state: FollowState,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<Follower> {
        let mut tx = self.begin_write().await?;
        sqlx::query(fsql::UPSERT_FOLLOWER)
            .bind(local_actor.key())
            .bind(remote.0)
            .bind(follow_ap_id)
            .bind(state.as_str())
            .bind(util::now())
            .execute(&mut *tx)
            .await
            .map_err(|err| util::write_error(err, || format!("follow of {local_actor}")))?;
        federation_util::record_outbox(&mut *tx, outbox, None).await?;
        let row = sqlx::query_as::<_, FollowerRow>(fsql::FOLLOWER)
            .bind(local_actor.key())
            .bind(remote.0)
            .fetch_one(&mut *tx)
            .await?;
        let follower = Follower::try_from(row)?;
        tx.commit().await?;
        Ok(follower)
    }

    async fn follower(
        &self,
        local_actor: LocalActor,
        remote: RemoteActorId,
    ) -> Result<Option<Follower>> {
        let row = sqlx::query_as::<_, FollowerRow>(fsql::FOLLOWER)
            .bind(local_actor.key())
            .bind(remote.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Follower::try_from).transpose()
    }

    async fn remove_follower(
        &self,
        local_actor: LocalActor,
        remote: RemoteActorId,
        outbox: Vec<OutgoingActivity>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(fsql::DELETE_FOLLOWER)
            .bind(local_actor.key())
            .bind(remote.0)
            .execute(&mut *tx)
            .await?;
        federation_util::record_outbox(&mut *tx, outbox, None).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_followers_with_inbox(&self, inbox: &str) -> Result<u64> {
        let done = sqlx::query(fsql::DELETE_FOLLOWERS_WITH_INBOX)
            .bind(inbox)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn followers(
        &self,
        local_actor: LocalActor,
        state: FollowState,
        page: Page,
    ) -> Result<Vec<Follower>> {
        let (limit, offset) = util::page_bounds(page);
        let rows = sqlx::query_as::<_, FollowerRow>(fsql::FOLLOWERS)
            .bind(local_actor.key())
            .bind(state.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        federation_util::followers(rows)
    }

    async fn count_followers(&self, local_actor: LocalActor, state: FollowState) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(fsql::COUNT_FOLLOWERS)
            .bind(local_actor.key())
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?)
    }

    // ---- outbox and deliveries ----

    async fn enqueue_activities(&self, outbox: Vec<OutgoingActivity>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        federation_util::record_outbox(&mut *tx, outbox, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn activity_payload(&self, ap_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<_, String>(fsql::ACTIVITY_PAYLOAD)
            .bind(ap_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn activities_of(
        &self,
        actor: LocalActor,
        kinds: &[&str],
        page: Page,
    ) -> Result<Vec<String>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let (limit, offset) = util::page_bounds(page);
        let statement = fsql::activities_of(kinds.len());
        let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(statement))
            .bind(actor.key())
            .bind(limit)
            .bind(offset);
        for kind in kinds {
            query = query.bind(*kind);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn count_activities_of(&self, actor: LocalActor, kinds: &[&str]) -> Result<i64> {
        if kinds.is_empty() {
            return Ok(0);
        }
        let statement = fsql::count_activities_of(kinds.len());
        let mut query = sqlx::query_scalar::<_, i64>(AssertSqlSafe(statement)).bind(actor.key());
        for kind in kinds {
            query = query.bind(*kind);
        }
        Ok(query.fetch_one(&self.pool).await?)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        per_host: i64,
        lease: chrono::Duration,
    ) -> Result<Vec<DeliveryJob>> {
        let now = util::db_time(now);
        let leased_until = federation_util::later(now, lease)?;
        let next_probe = federation_util::next_probe(now)?;
        // BEGIN IMMEDIATE holds the write lock from the first read: no other claimer (in
        // this process or another) reads the same due rows before this one has leased them.
        let mut tx = self.begin_write().await?;
        let limit = limit.max(0);
        let mut rows = Vec::new();
        // The oldest deliveries first; all of them only when those leave the claim short.
        for window in [
            federation_util::claim_window(limit),
            federation_util::FULL_CLAIM_WINDOW,
        ] {
            let wanted = limit - i64::try_from(rows.len()).unwrap_or(i64::MAX);
            if wanted <= 0 {
                break;
            }
            let found = sqlx::query_as::<_, DeliveryJobRow>(fsql::SQLITE_CLAIMABLE_JOBS)
                .bind(now)
                .bind(wanted)
                .bind(per_host.max(0))
                .bind(window)
                .fetch_all(&mut *tx)
                .await?;
            for row in &found {
                sqlx::query(fsql::LEASE_DELIVERY)
                    .bind(row.id())
                    .bind(leased_until)
                    .execute(&mut *tx)
                    .await?;
            }
            rows.extend(found);
        }
        let hosts: BTreeSet<&str> = rows.iter().map(DeliveryJobRow::host).collect();
        for host in hosts {
            sqlx::query(fsql::PROBE_HOST)
                .bind(host)
                .bind(next_probe)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        federation_util::delivery_jobs(rows)
    }

    async fn finish_delivery(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        federation_util::finish_delivery(&mut *tx, id, outcome, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn finish_deliveries(
        &self,
        finished: Vec<(i64, DeliveryOutcome)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let unknown = federation_util::finish_deliveries(&mut *tx, finished, now).await?;
        tx.commit().await?;
        Ok(unknown)
    }

    async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(
            sqlx::query_scalar::<_, Option<DateTime<Utc>>>(fsql::NEXT_DELIVERY_DUE)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn deliveries_for_post(&self, post: PostId) -> Result<Vec<DeliveryStatus>> {
        let rows = sqlx::query_as::<_, DeliveryStatusRow>(fsql::DELIVERIES_FOR_POST)
            .bind(post.0)
            .fetch_all(&self.pool)
            .await?;
        federation_util::delivery_statuses(rows)
    }

    async fn delivery_counts_for_post(&self, post: PostId) -> Result<(i64, i64, i64)> {
        let row = sqlx::query_as::<_, DeliveryCountsRow>(fsql::DELIVERY_COUNTS_FOR_POST)
            .bind(post.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    // ---- remote hosts ----

    async fn host_health(&self, host: &str) -> Result<Option<HostHealth>> {
        let row = sqlx::query_as::<_, HostHealthRow>(fsql::HOST_HEALTH)
            .bind(host.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(HostHealth::from))
    }

    async fn mark_host_unreachable(&self, host: &str, now: DateTime<Utc>) -> Result<()> {
        let now = util::db_time(now);
        sqlx::query(fsql::MARK_HOST_UNREACHABLE)
            .bind(host.to_lowercase())
            .bind(now)
            .bind(federation_util::next_probe(now)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn host_contacted_us(&self, host: &str, now: DateTime<Utc>) -> Result<()> {
        let host = host.to_lowercase();
        let mut tx = self.begin_write().await?;
        sqlx::query(fsql::HOST_REACHABLE_AGAIN)
            .bind(&host)
            .execute(&mut *tx)
            .await?;
        sqlx::query(fsql::HOST_DELIVERIES_DUE_NOW)
            .bind(&host)
            .bind(util::db_time(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- received activities ----

    async fn record_received_activity(&self, ap_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(fsql::RECORD_RECEIVED_ACTIVITY)
            .bind(ap_id)
            .bind(util::db_time(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn receive_activity(&self, received: ReceivedActivity) -> Result<bool> {
        self.write(move |conn| {
            Box::pin(async move { federation_util::receive_activity(conn, &received).await })
        })
        .await
    }

    async fn purge_received_activities(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(fsql::PURGE_RECEIVED_ACTIVITIES)
            .bind(util::db_time(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // ---- moderation rules: account age ----

    async fn set_remote_actor_published(
        &self,
        actor: RemoteActorId,
        published: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sqlx::query(fsql::SET_REMOTE_ACTOR_PUBLISHED)
            .bind(actor.0)
            .bind(published.map(util::db_time))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remote_actor_published(&self, actor: RemoteActorId) -> Result<Option<DateTime<Utc>>> {
        let published =
            sqlx::query_scalar::<_, Option<DateTime<Utc>>>(fsql::REMOTE_ACTOR_PUBLISHED)
                .bind(actor.0)
                .fetch_optional(&self.pool)
                .await?;
        Ok(published.flatten())
    }

    // ---- fediverse discussion: thread backfill ----

    async fn claim_comment_backfill(
        &self,
        ap_id: &str,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(backfill_util::sql::CLAIM_COMMENT_BACKFILL)
            .bind(ap_id)
            .bind(util::db_time(now))
            .bind(util::db_time(not_before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn comments_due_for_backfill(
        &self,
        since: DateTime<Utc>,
        not_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar::<_, String>(backfill_util::sql::COMMENTS_DUE_FOR_BACKFILL)
                .bind(util::db_time(since))
                .bind(util::db_time(not_before))
                .bind(limit.max(0))
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
