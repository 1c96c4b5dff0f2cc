//! Post-like objects: `Note`, `Article`, `Page`, `Question`, with their tags and
//! attachments.
//!
//! Built for our posts by `crate::notes`; parsed when a reply (a comment) arrives.
//! Parsing is lenient where servers differ: `to`/`cc` single or many, `Public` aliases,
//! `url` as a string, a Link or an array, `attributedTo` as an array, `inReplyTo` and
//! `replies` embedded or by id.

use super::actor::Image;
use super::lenient;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `type` of a post-like object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NoteType {
    Note,
    Article,
    Page,
    Question,
}

/// A tag on an actor or an object: a `Hashtag`, a `Mention`, or a custom `Emoji`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    #[serde(rename = "type", deserialize_with = "lenient::kind")]
    pub kind: TagType,
    /// Hashtag: the tag page; Mention: the mentioned actor.
    #[serde(
        default,
        deserialize_with = "lenient::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub href: Option<String>,
    /// `#Tag`, `@user@host` or `:emoji:`.
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Emoji have an id.
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// Emoji: the picture.
    #[serde(
        default,
        deserialize_with = "lenient::one_or_first",
        skip_serializing_if = "Option::is_none"
    )]
    pub icon: Option<Image>,
}

/// The kinds of tag Gloss understands; any other reads as `Other` and is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TagType {
    Hashtag,
    Mention,
    Emoji,
    /// Lemmy's `CommunityPostTag` and the like: kept so that a list parses, never built.
    #[serde(other)]
    Other,
}

/// The kind of an attachment. Gloss sends `Image` (a known picture type) or `Document`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttachmentType {
    Document,
    Image,
    Video,
    Audio,
    Link,
    /// `PropertyValue` and other shapes: kept so that a list parses, never built.
    #[serde(other)]
    Other,
}

/// A media attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[serde(rename = "type", deserialize_with = "lenient::kind")]
    pub kind: AttachmentType,
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_type: Option<String>,
    /// The file (for a `Link`, see `href`).
    #[serde(
        default,
        deserialize_with = "lenient::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    /// Where a `Link` attachment points.
    #[serde(
        default,
        deserialize_with = "lenient::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub href: Option<String>,
    /// Alt text (Mastodon shows it as the image description).
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
}

/// A Note (or Article, Page, Question).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    #[serde(deserialize_with = "lenient::required_id")]
    pub id: String,
    #[serde(rename = "type", deserialize_with = "lenient::kind")]
    pub kind: NoteType,
    /// The author's actor id.
    #[serde(
        default,
        deserialize_with = "lenient::attributed_to",
        skip_serializing_if = "Option::is_none"
    )]
    pub attributed_to: Option<String>,
    /// Title of an Article or Page (Mastodon ignores it on Notes).
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// HTML; untrusted when parsed (sanitize before showing it).
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<String>,
    /// The content by language tag.
    #[serde(
        default,
        deserialize_with = "lenient::language_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub content_map: Option<BTreeMap<String, String>>,
    /// The content warning, when `sensitive`.
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub summary: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub sensitive: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_reply_to: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_date",
        serialize_with = "lenient::serialize_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<DateTime<Utc>>,
    /// Set after an edit; Mastodon ignores an Update whose object lacks it.
    #[serde(
        default,
        deserialize_with = "lenient::optional_date",
        serialize_with = "lenient::serialize_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated: Option<DateTime<Utc>>,
    /// The HTML page of the object.
    #[serde(
        default,
        deserialize_with = "lenient::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::audience",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub to: Vec<String>,
    #[serde(
        default,
        deserialize_with = "lenient::audience",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cc: Vec<String>,
    #[serde(
        default,
        deserialize_with = "lenient::lenient_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tag: Vec<Tag>,
    #[serde(
        default,
        deserialize_with = "lenient::lenient_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attachment: Vec<Attachment>,
    /// The replies collection (by id; an embedded collection reads as its id).
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub replies: Option<String>,
    /// The conversation this object belongs to (FEP-7888).
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<String>,
}

impl Note {
    /// Whether the public collection is in `to` or `cc`.
    pub fn is_public(&self) -> bool {
        super::is_public_audience(self.to.iter().chain(&self.cc).map(String::as_str))
    }

    /// The content, from `content` or else the first entry of `contentMap`.
    pub fn content_html(&self) -> Option<&str> {
        self.content.as_deref().or_else(|| {
            self.content_map
                .as_ref()?
                .values()
                .next()
                .map(String::as_str)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PUBLIC;

    #[test]
    fn a_takahe_style_note_with_single_values_parses() {
        let json = r#"{"id":"https://t.example/p/1","type":"Note","attributedTo":"https://t.example/u",
            "to":"as:Public","cc":"https://t.example/u/followers","content":"<p>hi</p>",
            "inReplyTo":{"id":"https://blog.example/posts/a","type":"Note"},
            "url":{"type":"Link","href":"https://t.example/@u/1"},
            "tag":{"type":"Mention","href":"https://blog.example/authors/ann","name":"@ann@blog.example"}}"#;
        let note: Note = serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(note.to, vec![PUBLIC.to_owned()]);
        assert!(note.is_public());
        assert_eq!(note.cc.len(), 1);
        assert_eq!(
            note.in_reply_to.as_deref(),
            Some("https://blog.example/posts/a")
        );
        assert_eq!(note.url.as_deref(), Some("https://t.example/@u/1"));
        assert_eq!(note.tag.first().map(|t| t.kind), Some(TagType::Mention));
    }

    #[test]
    fn content_falls_back_to_the_content_map() {
        let json =
            r#"{"id":"https://t.example/p/2","type":"Article","contentMap":{"de":"<p>Hallo</p>"}}"#;
        let note: Note = serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(note.kind, NoteType::Article);
        assert_eq!(note.content_html(), Some("<p>Hallo</p>"));
        assert!(!note.is_public());
    }
}
