//! Gloss's use cases above storage: rendering and sanitizing content, writing posts,
//! and (from issue 3 on) ActivityPub federation: actors, objects, activities, inbox,
//! durable outbox and delivery.
//!
//! Depends on `gloss-storage` only; it must never depend on `gloss-web` or the binary.

pub mod authoring;
pub mod content;
pub mod wxr;
