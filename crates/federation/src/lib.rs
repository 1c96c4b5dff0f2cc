//! Gloss's use cases above storage: rendering and sanitizing content, writing posts,
//! and (from issue 3 on) ActivityPub federation: actors, objects, activities, inbox,
//! durable outbox and delivery.
//!
//! Depends on `gloss-storage` only; it must never depend on `gloss-web` or the binary.

pub mod actors;
pub mod author_replies;
pub mod authoring;
pub mod backfill;
pub mod comment_notes;
pub mod comments;
pub mod content;
pub mod context;
pub mod delivery;
pub mod discovery;
pub mod http_client;
pub mod inbox;
pub mod interaction;
pub mod moderation;
pub mod notes;
pub mod outbox;
pub mod protocol;
pub mod remote_actors;
pub mod reports;
pub mod routes;
pub mod signatures;
pub mod urls;
pub mod wxr;
