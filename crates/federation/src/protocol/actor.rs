//! Actor documents: `Person`, `Service`, `Application`, `Group`, `Organization`.
//!
//! Built for our own actors by `crate::actors`; parsed from remote servers when someone
//! follows us or comments. Parsing accepts every actor of the fixture corpus
//! (tests/protocol_fixtures.rs).

use super::lenient;
use super::note::Tag;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `type` of an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActorType {
    Person,
    Service,
    Application,
    Group,
    Organization,
}

/// An image (`icon`, `image`): an avatar or a header picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// `Image` (some servers write `Document` or leave it out).
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_type: Option<String>,
    /// Where the picture is; required (an image without one is dropped).
    #[serde(deserialize_with = "required_url")]
    pub url: String,
    /// Alt text.
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
}

fn required_url<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    use serde::de::Error as _;
    lenient::optional_url(deserializer)?.ok_or_else(|| D::Error::custom("missing image url"))
}

/// `endpoints`: where the shared inbox is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_inbox: Option<String>,
}

/// `publicKey`: the RSA key that verifies the actor's HTTP signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    /// Usually `{actor}#main-key`; what signatures name as `keyId`.
    #[serde(deserialize_with = "lenient::required_id")]
    pub id: String,
    /// The actor the key belongs to; must be the actor's id.
    #[serde(deserialize_with = "lenient::required_id")]
    pub owner: String,
    /// SPKI PEM.
    pub public_key_pem: String,
}

/// An actor document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(deserialize_with = "lenient::required_id")]
    pub id: String,
    #[serde(rename = "type", deserialize_with = "lenient::kind")]
    pub kind: ActorType,
    /// The user part of the handle.
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred_username: Option<String>,
    /// Display name, plain text.
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Biography, HTML.
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub summary: Option<String>,
    /// HTML profile page.
    #[serde(
        default,
        deserialize_with = "lenient::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    /// Avatar.
    #[serde(
        default,
        deserialize_with = "lenient::one_or_first",
        skip_serializing_if = "Option::is_none"
    )]
    pub icon: Option<Image>,
    /// Header picture.
    #[serde(
        default,
        deserialize_with = "lenient::one_or_first",
        skip_serializing_if = "Option::is_none"
    )]
    pub image: Option<Image>,
    /// Required: an actor we cannot deliver to is of no use.
    #[serde(deserialize_with = "lenient::required_id")]
    pub inbox: String,
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub outbox: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub followers: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub following: Option<String>,
    /// Pinned posts (Mastodon's `toot:featured`).
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub featured: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::one_or_first",
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoints: Option<Endpoints>,
    #[serde(
        default,
        deserialize_with = "lenient::one_or_first",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_key: Option<PublicKey>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub manually_approves_followers: Option<bool>,
    /// May appear in directories and suggestions (Mastodon).
    #[serde(
        default,
        deserialize_with = "lenient::optional_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub discoverable: Option<bool>,
    /// Posts may be indexed for full-text search (Mastodon).
    #[serde(
        default,
        deserialize_with = "lenient::optional_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub indexable: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_date",
        serialize_with = "lenient::serialize_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<DateTime<Utc>>,
    /// Domains whose pages may credit this actor with `fediverse:creator` (Mastodon).
    #[serde(
        default,
        deserialize_with = "lenient::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attribution_domains: Vec<String>,
    #[serde(default, deserialize_with = "lenient::lenient_vec")]
    pub tag: Vec<Tag>,
}

impl Actor {
    /// The inbox to deliver to: the shared one when there is one.
    pub fn delivery_inbox(&self) -> &str {
        self.endpoints
            .as_ref()
            .and_then(|endpoints| endpoints.shared_inbox.as_deref())
            .unwrap_or(&self.inbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_actor_parses_and_odd_fields_read_as_absent() {
        let json = r#"{"id":"https://a.example/u","type":["Person"],"inbox":"https://a.example/u/inbox",
            "name":null,"summary":{"x":1},"icon":[{"type":"Image","url":"https://a.example/a.png"}],
            "manuallyApprovesFollowers":"no","published":"yesterday","tag":[{"type":"Weird"},{"name":"x"}]}"#;
        let actor: Actor = serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(actor.kind, ActorType::Person);
        assert_eq!(actor.name, None);
        assert_eq!(actor.summary, None);
        assert_eq!(
            actor.icon.as_ref().map(|i| i.url.as_str()),
            Some("https://a.example/a.png")
        );
        assert_eq!(actor.manually_approves_followers, None);
        assert_eq!(actor.published, None);
        assert_eq!(
            actor.tag.len(),
            1,
            "the typed tag is kept, the untyped dropped"
        );
        assert_eq!(actor.delivery_inbox(), "https://a.example/u/inbox");
    }

    #[test]
    fn an_actor_without_a_usable_id_or_inbox_is_refused() {
        for json in [
            r#"{"id":"not a uri","type":"Person","inbox":"https://a.example/i"}"#,
            r#"{"id":"https://a.example/u","type":"Person"}"#,
            r#"{"id":"https://a.example/u","type":"Note","inbox":"https://a.example/i"}"#,
        ] {
            assert!(serde_json::from_str::<Actor>(json).is_err(), "{json}");
        }
    }
}
