//! The SQLite engine: a single file beside the binary, for blogs that want no database
//! server. Every statement comes from `util::sql` and every multi-statement use
//! case from `util`; what is SQLite's own is here: the connection settings, the
//! migrations directory, and `BEGIN IMMEDIATE` for write transactions.
//!
//! This file and `postgres.rs` are kept line for line alike; compare them with `diff`.

use crate::error::Error;
use crate::model::{
    Author, AuthorId, BlogSettings, Comment, CommentId, ImportBatch, ImportReport, Moderation,
    NewAuthor, NewComment, Page, Post, PostDraft, PostId, Session, SiteCounts, Tag, TagCount,
};
use crate::store::{CommentFilter, Result, Store};
use crate::util::{
    self, AuthorRow, CommentInsert, CommentPlace, CommentRow, CredentialsRow, PostInsert, PostRow,
    PostTagRow, SessionRow, SettingsRow, SiteCountsRow, TagCountRow, TagRow, TxStatements, sql,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The migrations under `migrations/sqlite`, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The [`Store`] on a SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
        let mut pool_options = SqlitePoolOptions::new();
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
        Ok(SqliteStore { pool })
    }

    /// The connection pool, for callers that need SQL of their own (tests, maintenance).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Starts a write transaction. IMMEDIATE takes the write lock at once (waiting up to
    /// the busy timeout): a DEFERRED transaction that reads first could otherwise fail
    /// with SQLITE_BUSY when it tries to write after another writer committed.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
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

    async fn insert_comment(&mut self, comment: &CommentInsert<'_>) -> Result<CommentRow> {
        sqlx::query_as::<_, CommentRow>(sql::INSERT_COMMENT)
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
            .fetch_one(&mut *self)
            .await
            .map_err(|err| {
                util::write_error(err, || format!("comment on post {}", comment.post_id))
            })
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

    async fn create_post(&self, draft: PostDraft) -> Result<Post> {
        let mut tx = self.begin_write().await?;
        let post = util::create_post(&mut *tx, draft).await?;
        tx.commit().await?;
        Ok(post)
    }

    async fn update_post(&self, id: PostId, draft: PostDraft) -> Result<Post> {
        let mut tx = self.begin_write().await?;
        let post = util::update_post(&mut *tx, id, draft).await?;
        tx.commit().await?;
        Ok(post)
    }

    async fn delete_post(&self, id: PostId) -> Result<()> {
        let done = sqlx::query(sql::DELETE_POST)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("post {id}")));
        }
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
        let rows = sqlx::query_as::<_, CommentRow>(sql::COMMENTS_FOR_POST)
            .bind(post.0)
            .fetch_all(&self.pool)
            .await?;
        Ok(util::thread_order(util::comments(rows)?, filter))
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
        Ok(row.map(BlogSettings::from).unwrap_or_default())
    }

    async fn update_blog_settings(&self, settings: &BlogSettings) -> Result<()> {
        sqlx::query(sql::UPSERT_BLOG_SETTINGS)
            .bind(&settings.title)
            .bind(&settings.description)
            .bind(settings.avatar_url.as_deref())
            .bind(settings.default_author_id.map(|id| id.0))
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

    async fn site_counts(&self) -> Result<SiteCounts> {
        let row = sqlx::query_as::<_, SiteCountsRow>(sql::SITE_COUNTS)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }
}
