//! Gloss storage: the domain types, the [`Store`] trait and its two engines,
//! SQLite ([`sqlite::SqliteStore`]) and PostgreSQL ([`postgres::PostgresStore`]).
//!
//! This crate owns every SQL statement and nothing else: it must not depend on HTTP,
//! templates or ActivityPub crates. The engine is chosen at start-up from the database
//! URL by [`connect`]; only the binary and tests call it.

mod backfill_util;
pub mod discussion_model;
mod discussion_util;
pub mod error;
pub mod federation_model;
mod federation_util;
mod group_commit;
pub mod model;
pub mod postgres;
pub mod sqlite;
pub mod store;
mod util;

pub use discussion_model::{
    Block, BlockKind, CommentRevision, DeleteOutcome, EditOutcome, Flag, FlagId, LocalAuthorReply,
    LocalReplyEdit, ModerationDecider, ModerationDecision, NewFlag, NewReaction, PostReactions,
    ReactionCount, ReactionKind, ReactionOutcome, RemoteCommentEdit, RemoteCommentUpsert,
    ThreadNode, UndoOutcome, UpsertOutcome, block_domain,
};
pub use error::Error;
pub use federation_model::{
    ActorKey, DeliveryJob, DeliveryOutcome, DeliveryState, DeliveryStatus, FollowState, Follower,
    HostHealth, LocalActor, OutgoingActivity, ReceivedActivity, RemoteActor, RemoteActorId,
    RemoteActorUpsert, UNREACHABLE_HOST_PROBE_INTERVAL, delivery_host,
};
pub use model::keyword_list;
pub use model::{
    Attachment, Author, AuthorId, BlogSettings, Comment, CommentId, CommentOrigin, ImportAuthor,
    ImportBatch, ImportComment, ImportPost, ImportReport, Moderation, NewAuthor, NewComment,
    NoteContent, Page, Post, PostDraft, PostId, PostOrigin, PostStatus, Session, SiteCounts, Tag,
    TagCount, Visibility,
};
pub use store::{CommentFilter, Result, Store};

use std::sync::Arc;

/// Which engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Tells which engine a URL is for, or why it is not a database URL we support.
pub fn engine_for_url(url: &str) -> Result<Engine> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        Err(Error::BadUrl(format!(
            "{url:?}: expected sqlite:PATH (for example sqlite:gloss.db) or postgres://USER@HOST/DATABASE"
        )))
    }
}

/// Opens the database named by `url`, creating it (SQLite) and applying migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    match engine_for_url(url)? {
        Engine::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(url).await?)),
        Engine::Postgres => Ok(Arc::new(postgres::PostgresStore::connect(url).await?)),
    }
}
