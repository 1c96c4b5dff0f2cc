//! Serde shapes of the activities Gloss sends and receives: Follow, Accept, Reject,
//! Undo, Create, Update, Delete, Announce and Like.
//!
//! Parsing is lenient where real servers differ (see ../shared/fixtures/corpus and the
//! interop notes): `actor` and `object` may be a bare URI or an embedded object (Mastodon
//! embeds the Follow in Undo and Accept; GoToSocial sends bare URIs; Flag sends an
//! array); `to` and `cc` may be a single value or an array, and `Public` / `as:Public`
//! mean the public collection (Takahē). JSON-LD is never expanded over the network: the
//! compact form every server sends is what we read.
//!
//! [`Activity<K>`] is generic over its `type`: with one of the library's kinds
//! (`FollowType`...) deserializing checks the type; with [`ActivityKind`] any activity
//! parses and the inbox dispatches on the kind.

use activitypub_federation::kinds::activity::{
    AcceptType, AnnounceType, CreateType, DeleteType, FollowType, LikeType, RejectType, UndoType,
    UpdateType,
};
use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use url::Url;

/// The ActivityStreams context every activity we send carries.
pub const ACTIVITY_STREAMS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
/// The public collection, as the full IRI.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The `type` of an activity we know how to handle, or any other one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The ActivityStreams names say it all.
pub enum ActivityKind {
    Follow,
    Accept,
    Reject,
    Undo,
    Create,
    Update,
    Delete,
    Announce,
    Like,
    Flag,
    /// Anything else (`Move`, `Block`, `EmojiReact`...), kept for logging.
    Other(String),
}

impl ActivityKind {
    /// The ActivityStreams name.
    pub fn as_str(&self) -> &str {
        match self {
            ActivityKind::Follow => "Follow",
            ActivityKind::Accept => "Accept",
            ActivityKind::Reject => "Reject",
            ActivityKind::Undo => "Undo",
            ActivityKind::Create => "Create",
            ActivityKind::Update => "Update",
            ActivityKind::Delete => "Delete",
            ActivityKind::Announce => "Announce",
            ActivityKind::Like => "Like",
            ActivityKind::Flag => "Flag",
            ActivityKind::Other(name) => name,
        }
    }

    /// Parses an ActivityStreams name; compact IRIs like `as:Follow` are accepted.
    pub fn parse(name: &str) -> ActivityKind {
        let short = name
            .strip_prefix("as:")
            .or_else(|| name.strip_prefix("https://www.w3.org/ns/activitystreams#"))
            .unwrap_or(name);
        match short {
            "Follow" => ActivityKind::Follow,
            "Accept" => ActivityKind::Accept,
            "Reject" => ActivityKind::Reject,
            "Undo" => ActivityKind::Undo,
            "Create" => ActivityKind::Create,
            "Update" => ActivityKind::Update,
            "Delete" => ActivityKind::Delete,
            "Announce" => ActivityKind::Announce,
            "Like" => ActivityKind::Like,
            "Flag" => ActivityKind::Flag,
            _ => ActivityKind::Other(name.to_owned()),
        }
    }
}

impl std::fmt::Display for ActivityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ActivityKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActivityKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        type_name(&value)
            .map(ActivityKind::parse)
            .ok_or_else(|| D::Error::custom("`type` must be a string"))
    }
}

/// The first string of a JSON-LD `type` (a string, or an array of strings).
fn type_name(value: &Value) -> Option<&str> {
    match value {
        Value::String(name) => Some(name),
        Value::Array(names) => names.iter().find_map(Value::as_str),
        _ => None,
    }
}

/// An object embedded in an activity (`actor`, `object`). Only what Gloss reads is
/// named; everything else is kept in `rest` so that a Note round-trips whole.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbeddedObject {
    /// `id` (absent on some embedded objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Url>,
    /// `type`, the first one when several are given.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// `actor` (of an embedded activity, e.g. the Follow in an Undo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<ObjectRef>,
    /// `object` (of an embedded activity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Every other property, kept as is.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

fn lenient_type<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(type_name).map(str::to_owned))
}

/// An `actor` or `object` value: a URI, an embedded object, or (rarely, e.g. Flag) an
/// array of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ObjectRef {
    /// A bare URI.
    Id(Url),
    /// An embedded object.
    Object(Box<EmbeddedObject>),
    /// Several of them.
    Many(Vec<ObjectRef>),
}

impl ObjectRef {
    /// The id: the URI itself, the embedded object's `id`, or the id of a one-element
    /// array. `None` when there is no single id.
    pub fn id(&self) -> Option<&Url> {
        match self {
            ObjectRef::Id(id) => Some(id),
            ObjectRef::Object(object) => object.id.as_ref(),
            ObjectRef::Many(items) => match items.as_slice() {
                [one] => one.id(),
                _ => None,
            },
        }
    }

    /// The embedded object, when there is one.
    pub fn object(&self) -> Option<&EmbeddedObject> {
        match self {
            ObjectRef::Object(object) => Some(object),
            ObjectRef::Many(items) => match items.as_slice() {
                [one] => one.object(),
                _ => None,
            },
            ObjectRef::Id(_) => None,
        }
    }

    /// The embedded object's `type`, when it is embedded.
    pub fn kind(&self) -> Option<&str> {
        self.object().and_then(|object| object.kind.as_deref())
    }

    /// Builds a reference from parsed JSON (used by `Deserialize`).
    pub fn from_value(value: Value) -> Result<ObjectRef, String> {
        match value {
            Value::String(text) => Url::parse(&text)
                .map(ObjectRef::Id)
                .map_err(|err| format!("{text:?} is not an absolute URI: {err}")),
            Value::Object(_) => serde_json::from_value::<EmbeddedObject>(value)
                .map(|object| ObjectRef::Object(Box::new(object)))
                .map_err(|err| err.to_string()),
            Value::Array(items) => items
                .into_iter()
                .map(ObjectRef::from_value)
                .collect::<Result<Vec<_>, _>>()
                .map(ObjectRef::Many),
            other => Err(format!("expected a URI or an object, found {other}")),
        }
    }
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Going through `Value` keeps serde_json's recursion limit in force: the bytes
        // are parsed (and depth-checked) once, by the caller's deserializer.
        let value = Value::deserialize(deserializer)?;
        ObjectRef::from_value(value).map_err(D::Error::custom)
    }
}

impl From<Url> for ObjectRef {
    fn from(id: Url) -> Self {
        ObjectRef::Id(id)
    }
}

/// `to` / `cc`: a single value or an array; `Public` and `as:Public` become the public
/// IRI; entries that are not URIs (or embedded objects with one) are skipped.
pub fn deserialize_audience<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Url>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    let items = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
    };
    let mut audience: Vec<Url> = Vec::new();
    for item in items {
        let text = match &item {
            Value::String(text) => text.as_str(),
            Value::Object(map) => match map.get("id").and_then(Value::as_str) {
                Some(id) => id,
                None => continue,
            },
            _ => continue,
        };
        let text = match text {
            "Public" | "as:Public" => PUBLIC,
            other => other,
        };
        if let Ok(url) = Url::parse(text)
            && !audience.contains(&url)
        {
            audience.push(url);
        }
    }
    Ok(audience)
}

/// `published`: an RFC 3339 date, or nothing (an unparsable date is dropped rather than
/// refusing the activity for it).
fn lenient_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|date| date.with_timezone(&Utc)))
}

/// An activity. `K` is its `type`: [`ActivityKind`] for any activity, or one of the
/// library's kinds to require one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity<K = ActivityKind> {
    /// `@context`: present on what we send; whatever came on what we receive.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The activity's id.
    pub id: Url,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: K,
    /// Who acts: a URI or an embedded actor.
    pub actor: ObjectRef,
    /// What the activity is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Primary audience.
    #[serde(
        default,
        deserialize_with = "deserialize_audience",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub to: Vec<Url>,
    /// Secondary audience.
    #[serde(
        default,
        deserialize_with = "deserialize_audience",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cc: Vec<Url>,
    /// When it happened.
    #[serde(
        default,
        deserialize_with = "lenient_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<DateTime<Utc>>,
}

impl<K> Activity<K> {
    /// The actor's id (`None` when `actor` names no single actor).
    pub fn actor_id(&self) -> Option<&Url> {
        self.actor.id()
    }

    /// The object's id (`None` without a single object id).
    pub fn object_id(&self) -> Option<&Url> {
        self.object.as_ref().and_then(ObjectRef::id)
    }

    /// The embedded object's `type`, when the object is embedded.
    pub fn object_kind(&self) -> Option<&str> {
        self.object.as_ref().and_then(ObjectRef::kind)
    }
}

/// Follow: someone asks to follow one of our actors.
pub type Follow = Activity<FollowType>;
/// Accept(Follow): we (or they) accept a follow.
pub type Accept = Activity<AcceptType>;
/// Reject(Follow): a follow refused, or a follower removed.
pub type Reject = Activity<RejectType>;
/// Undo: takes back an earlier activity (Follow, Like, Announce).
pub type Undo = Activity<UndoType>;
/// Create: a new object (a post's Note from us; a comment from others).
pub type Create = Activity<CreateType>;
/// Update: an edited object, or a refreshed actor.
pub type Update = Activity<UpdateType>;
/// Delete: a deleted object (a Tombstone), or an actor deleting itself.
pub type Delete = Activity<DeleteType>;
/// Announce: a boost (the blog boosts its authors' posts).
pub type Announce = Activity<AnnounceType>;
/// Like: a favourite.
pub type Like = Activity<LikeType>;

/// Any incoming activity, dispatched on its kind.
pub type AnyActivity = Activity<ActivityKind>;

/// Parses an inbox body. serde_json's recursion limit stays on, so absurdly nested
/// documents are refused (checklist C6) rather than overflowing the stack.
pub fn parse_activity(body: &[u8]) -> Result<AnyActivity, serde_json::Error> {
    serde_json::from_slice(body)
}

/// The Follow as embedded in our Accept/Reject: `id`, `type`, `actor`, `object`
/// (what Mastodon matches an Accept against).
pub fn follow_reference(follow_id: Url, follower: Url, followed: Url) -> ObjectRef {
    ObjectRef::Object(Box::new(EmbeddedObject {
        id: Some(follow_id),
        kind: Some("Follow".to_owned()),
        actor: Some(ObjectRef::Id(follower)),
        object: Some(ObjectRef::Id(followed)),
        rest: Map::new(),
    }))
}

/// The `@context` we put on activities we send.
pub fn default_context() -> Value {
    Value::String(ACTIVITY_STREAMS_CONTEXT.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(path: &str) -> Option<Vec<u8>> {
        std::fs::read(format!("/work/shared/fixtures/corpus/{path}")).ok()
    }

    #[test]
    fn a_follow_with_a_bare_object_parses() {
        let json = br#"{"@context":"https://www.w3.org/ns/activitystreams",
            "id":"https://masto.example/1","type":"Follow",
            "actor":"https://masto.example/users/a","object":"https://blog.example/blog"}"#;
        let follow: Follow = serde_json::from_slice(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            follow.object_id().map(Url::as_str),
            Some("https://blog.example/blog")
        );
        let any = parse_activity(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(any.kind, ActivityKind::Follow);
    }

    #[test]
    fn an_undo_embeds_the_follow_and_the_actor_may_be_an_object() {
        let json = br#"{"id":"https://m.example/u#undo","type":"Undo",
            "actor":{"id":"https://m.example/u","type":"Person"},
            "object":{"id":"https://m.example/f","type":"Follow",
                      "actor":"https://m.example/u","object":"https://blog.example/blog"}}"#;
        let undo: Undo = serde_json::from_slice(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            undo.actor_id().map(Url::as_str),
            Some("https://m.example/u")
        );
        assert_eq!(undo.object_kind(), Some("Follow"));
        let inner = undo.object.as_ref().and_then(ObjectRef::object);
        assert_eq!(
            inner
                .and_then(|o| o.object.as_ref())
                .and_then(ObjectRef::id)
                .map(Url::as_str),
            Some("https://blog.example/blog")
        );
    }

    #[test]
    fn audiences_may_be_single_values_and_public_aliases() {
        let json = br#"{"id":"https://t.example/a","type":"Create","actor":"https://t.example/u",
            "to":"as:Public","cc":["https://t.example/u/followers", 3, "Public"]}"#;
        let create = parse_activity(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(create.to.len(), 1);
        assert_eq!(create.to[0].as_str(), PUBLIC);
        assert_eq!(create.cc.len(), 2);
    }

    #[test]
    fn a_flag_with_an_array_object_parses() {
        let json = br#"{"id":"https://m.example/f","type":"Flag","actor":"https://m.example/a",
            "object":["https://x.example/1","https://x.example/2"]}"#;
        let flag = parse_activity(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(flag.kind, ActivityKind::Flag);
        assert_eq!(flag.object_id(), None);
    }

    #[test]
    fn the_wrong_type_is_refused_by_a_typed_shape() {
        let json = br#"{"id":"https://m.example/f","type":"Like","actor":"https://m.example/a",
            "object":"https://x.example/1"}"#;
        assert!(serde_json::from_slice::<Follow>(json).is_err());
        assert!(serde_json::from_slice::<Like>(json).is_ok());
    }

    #[test]
    fn deeply_nested_json_is_refused() {
        let mut body = String::from(r#"{"id":"https://m.example/f","type":"Like","actor":"#);
        body.push_str(&"[".repeat(10_000));
        body.push_str(&"]".repeat(10_000));
        body.push('}');
        assert!(parse_activity(body.as_bytes()).is_err());
    }

    #[test]
    fn an_accept_serializes_with_the_follow_embedded() {
        let url = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let accept = Accept {
            context: Some(default_context()),
            id: url("https://blog.example/activities/1"),
            kind: AcceptType::Accept,
            actor: ObjectRef::Id(url("https://blog.example/blog")),
            object: Some(follow_reference(
                url("https://m.example/f"),
                url("https://m.example/u"),
                url("https://blog.example/blog"),
            )),
            to: vec![url("https://m.example/u")],
            cc: vec![],
            published: None,
        };
        let json = serde_json::to_value(&accept).unwrap_or_default();
        assert_eq!(json["type"], "Accept");
        assert_eq!(json["object"]["type"], "Follow");
        assert_eq!(json["object"]["actor"], "https://m.example/u");
        assert_eq!(json["@context"], ACTIVITY_STREAMS_CONTEXT);
        assert!(json.get("cc").is_none());
    }

    #[test]
    fn activities_from_the_corpus_parse() {
        for path in [
            "mastodon/activities/follow.json",
            "mastodon/activities/undo_follow.json",
            "mastodon/activities/delete.json",
            "mastodon/activities/flag.json",
            "mastodon/activities/create_note.json",
            "mastodon/activities/like_page.json",
            "mastodon/activities/undo_like_page.json",
            "pleroma/activities/follow.json",
            "pleroma/activities/delete.json",
            "pleroma/activities/create_note.json",
            "lotide/activities/follow.json",
            "lemmy/activities/following/follow.json",
            "lemmy/activities/following/undo_follow.json",
            "lemmy/activities/following/accept.json",
            "mbin/activities/accept.json",
            "mitra/activities/accept.json",
            "friendica/activities/update_note.json",
            "friendica/activities/delete.json",
            "wordpress/activities/announce.json",
            "peertube/activities/announce_video.json",
            "gnusocial/activities/like_note.json",
        ] {
            let Some(body) = corpus(path) else { continue };
            let parsed = parse_activity(&body);
            assert!(parsed.is_ok(), "{path}: {:?}", parsed.err());
        }
    }
}
