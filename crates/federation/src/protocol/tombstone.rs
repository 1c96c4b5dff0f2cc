//! `Tombstone`: what a deleted object's id answers (with 410 Gone), and the object of
//! a `Delete`.
//!
//! The library's `Tombstone` carries only `id` and `type`; ours adds `formerType` and
//! `deleted`, which Mastodon and Misskey read.

use super::lenient;
use activitypub_federation::kinds::object::TombstoneType;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A deleted object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone {
    #[serde(deserialize_with = "lenient::required_id")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: TombstoneType,
    /// What the object was (`Note`).
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub former_type: Option<String>,
    /// When it was deleted, when known.
    #[serde(
        default,
        deserialize_with = "lenient::optional_date",
        serialize_with = "lenient::serialize_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted: Option<DateTime<Utc>>,
}

impl Tombstone {
    /// A tombstone for `id`, which used to be a `former_type`.
    pub fn new(id: String, former_type: &str, deleted: Option<DateTime<Utc>>) -> Self {
        Tombstone {
            id,
            kind: TombstoneType::Tombstone,
            former_type: Some(former_type.to_owned()),
            deleted,
        }
    }
}
