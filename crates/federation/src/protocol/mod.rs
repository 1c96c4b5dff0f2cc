//! Serde shapes named after ActivityStreams types. The same types build the JSON we
//! serve and parse what other servers send, leniently (see [`lenient`]): real servers
//! disagree on single values versus arrays, on `Public` aliases and on where a URL
//! hides, and one odd field must not make us refuse a whole document.
//!
//! Ids and links are kept as `String`s: what we build comes from `crate::urls::Urls`
//! (always absolute), and what we parse has its `id` checked to be an absolute URI;
//! whether a URI may be trusted (same host as the document, not ours...) is decided
//! where it is used (inbox, fetcher), not here.
//!
//! Fields are named after the ActivityStreams (and Mastodon extension) properties they
//! hold, in snake_case; `#[serde(rename_all = "camelCase")]` gives them back their
//! JSON names. Optional fields are left out of what we serialize when empty.
//!
//! `activities` (Follow, Accept, Create...) is written by the inbox/outbox side.

pub mod activities;
pub mod actor;
pub mod collection;
pub mod lenient;
pub mod note;
pub mod tombstone;

pub use activities::{ACTIVITY_STREAMS_CONTEXT, PUBLIC};

use serde::Serialize;
use serde_json::{Value, json};

/// The security vocabulary (`publicKey`, `publicKeyPem`), which actors need.
pub const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";

/// Content type of the ActivityStreams documents we serve.
pub const ACTIVITY_JSON_CONTENT_TYPE: &str = "application/activity+json; charset=utf-8";

/// `@context` of our actor documents: ActivityStreams, the security vocabulary for the
/// key, and the extension terms we use (Mastodon's `toot:` namespace). Every context
/// here is one Fedify and Mastodon have preloaded: JSON-LD processors must never need
/// to fetch a context from the network to read us.
pub fn actor_context() -> Value {
    json!([
        ACTIVITY_STREAMS_CONTEXT,
        SECURITY_CONTEXT,
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "featured": {"@id": "toot:featured", "@type": "@id"},
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "attributionDomains": {"@id": "toot:attributionDomains", "@type": "@id"}
        }
    ])
}

/// `@context` of our Notes: ActivityStreams plus the terms it lacks in older copies
/// (`Hashtag`, `sensitive`).
pub fn note_context() -> Value {
    json!([
        ACTIVITY_STREAMS_CONTEXT,
        {
            "Hashtag": "as:Hashtag",
            "sensitive": "as:sensitive"
        }
    ])
}

/// `@context` of collections and tombstones: plain ActivityStreams.
pub fn default_context() -> Value {
    Value::String(ACTIVITY_STREAMS_CONTEXT.to_owned())
}

/// Serializes one of our documents and puts `context` first, as `@context`.
///
/// Our shapes hold only strings, numbers, booleans, dates and lists of them, which
/// always serialize; should that ever fail, the error is logged and `null` returned
/// rather than panicking in a request.
pub fn document<T: Serialize>(context: Value, body: &T) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("@context".to_owned(), context);
    match serde_json::to_value(body) {
        Ok(Value::Object(fields)) => {
            out.extend(fields);
            Value::Object(out)
        }
        Ok(_) => {
            tracing::error!("an ActivityStreams document did not serialize to an object");
            Value::Null
        }
        Err(err) => {
            tracing::error!("an ActivityStreams document did not serialize: {err}");
            Value::Null
        }
    }
}

/// The document without its `@context`, for embedding in another document (an
/// activity in an outbox page).
pub fn without_context(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.remove("@context");
    }
    value
}

/// Whether an audience (`to` + `cc`) includes the public collection, in any of the
/// spellings servers use.
pub fn is_public_audience<'a>(mut audience: impl Iterator<Item = &'a str>) -> bool {
    audience.any(|id| matches!(id, PUBLIC | "as:Public" | "Public"))
}
