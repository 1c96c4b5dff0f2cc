//! Serde helpers that read what real servers send (../shared/fixtures/corpus) without
//! refusing a whole document for one oddly shaped field.
//!
//! The rule: a field that identifies the document (`id`, an actor's `inbox`) must be
//! an absolute URI or the document is refused; every other field that arrives in an
//! unexpected shape is dropped (read as absent) instead. Values are read through
//! `serde_json::Value`, so serde_json's recursion limit stays in force.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::Value;
use url::Url;

use super::PUBLIC;

/// Whether `text` is an absolute URI we can work with.
fn is_absolute_uri(text: &str) -> bool {
    Url::parse(text).is_ok()
}

/// The id named by a JSON value: a string, or an object's `id` (or a Link's `href`).
fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) => Some(text),
        Value::Object(map) => map
            .get("id")
            .and_then(Value::as_str)
            .or_else(|| map.get("href").and_then(Value::as_str)),
        _ => None,
    }
}

/// A required id: a string (or an object with an `id`) that is an absolute URI.
pub fn required_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let id = match &value {
        Value::Array(items) => items.iter().find_map(id_of),
        other => id_of(other),
    };
    match id {
        Some(id) if is_absolute_uri(id) => Ok(id.to_owned()),
        Some(id) => Err(D::Error::custom(format!("{id:?} is not an absolute URI"))),
        None => Err(D::Error::custom("expected a URI")),
    }
}

/// An optional reference (`outbox`, `inReplyTo`, `replies`, `context`...): a URI, an
/// embedded object's `id`, or the first usable item of an array. Anything else, or a
/// string that is not an absolute URI, reads as absent.
pub fn optional_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(|value| match value {
        Value::Array(items) => items
            .iter()
            .filter_map(id_of)
            .find(|id| is_absolute_uri(id))
            .map(str::to_owned),
        other => id_of(other)
            .filter(|id| is_absolute_uri(id))
            .map(str::to_owned),
    }))
}

/// `attributedTo`: like [`optional_id`], but in an array prefers an actor that is a
/// `Person` (PeerTube and Lemmy list the channel or community beside the person).
pub fn attributed_to<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    let Some(Value::Array(items)) = value else {
        return Ok(value
            .as_ref()
            .and_then(id_of)
            .filter(|id| is_absolute_uri(id))
            .map(str::to_owned));
    };
    let person = items.iter().find(|item| {
        item.get("type").and_then(Value::as_str) == Some("Person")
            && id_of(item).is_some_and(is_absolute_uri)
    });
    Ok(person
        .and_then(id_of)
        .or_else(|| {
            items
                .iter()
                .filter_map(id_of)
                .find(|id| is_absolute_uri(id))
        })
        .map(str::to_owned))
}

/// `to` / `cc`: a single value or an array of URIs (or objects with an `id`); `Public`
/// and `as:Public` become the public collection's full IRI (Takahē writes them);
/// duplicates and entries that are not absolute URIs are dropped.
pub fn audience<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    let items = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
    };
    let mut audience: Vec<String> = Vec::new();
    for item in &items {
        let Some(id) = id_of(item) else { continue };
        let id = match id {
            "Public" | "as:Public" => PUBLIC,
            other => other,
        };
        if is_absolute_uri(id) && !audience.iter().any(|known| known == id) {
            audience.push(id.to_owned());
        }
    }
    Ok(audience)
}

/// A `url` field: a string, a Link object (`href`), or an array of those, where the
/// `text/html` link wins (PeerTube lists its video files beside the watch page).
pub fn optional_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(url_of).map(str::to_owned))
}

fn url_of(value: &Value) -> Option<&str> {
    match value {
        Value::Array(items) => items
            .iter()
            .find(|item| item.get("mediaType").and_then(Value::as_str) == Some("text/html"))
            .and_then(href_of)
            .or_else(|| items.iter().find_map(href_of)),
        other => href_of(other),
    }
}

/// The absolute URL of a string or a Link object (`href`, or `url` on an Image).
fn href_of(value: &Value) -> Option<&str> {
    let text = match value {
        Value::String(text) => Some(text.as_str()),
        Value::Object(map) => map
            .get("href")
            .and_then(Value::as_str)
            .or_else(|| map.get("url").and_then(Value::as_str)),
        _ => None,
    }?;
    is_absolute_uri(text).then_some(text)
}

/// A text field (`name`, `summary`, `content`...): a string, or absent. Some servers
/// send `null`, numbers or objects where text belongs; those read as absent.
pub fn optional_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::String(text)) => Some(text),
        _ => None,
    })
}

/// A boolean, or absent (also when sent as something else).
pub fn optional_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(Value::as_bool))
}

/// A non-negative count (`totalItems`), or absent.
pub fn optional_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(Value::as_u64))
}

/// A date (`published`, `updated`): RFC 3339, or absent when missing or unparsable.
pub fn optional_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|date| date.with_timezone(&Utc)))
}

/// Writes a date the way every server parses it: RFC 3339, whole seconds, `Z`.
pub fn serialize_date<S: Serializer>(
    date: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => serializer.serialize_str(&date.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => serializer.serialize_none(),
    }
}

/// One item or the first parsable item of an array (`icon`, `image`, `publicKey`:
/// PeerTube sends several icon sizes). Absent when nothing parses.
pub fn one_or_first<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => items
            .into_iter()
            .find_map(|item| serde_json::from_value(item).ok()),
        Some(one) => serde_json::from_value(one).ok(),
    })
}

/// A list (`tag`, `attachment`): an array or a single item; items that do not parse
/// (an unknown tag shape) are dropped, the others kept.
pub fn lenient_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    let items = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
    };
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

/// A list of strings (`attributionDomains`): non-strings are dropped.
pub fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::String(one)) => vec![one],
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// A JSON-LD `type`: a string, or an array of which the first name `T` knows wins.
pub fn kind<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    let names: Vec<Value> = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    names
        .into_iter()
        .filter(Value::is_string)
        .find_map(|name| serde_json::from_value(name).ok())
        .ok_or_else(|| D::Error::custom("unsupported `type`"))
}

/// Same as [`kind`], for optional types (absent or unknown reads as `None`).
pub fn optional_kind<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    let names: Vec<Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
    };
    Ok(names
        .into_iter()
        .filter(Value::is_string)
        .find_map(|name| serde_json::from_value(name).ok()))
}

/// A language map (`contentMap`): string values only; anything else reads as absent.
pub fn language_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<std::collections::BTreeMap<String, String>>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    let Some(Value::Object(map)) = value else {
        return Ok(None);
    };
    let map: std::collections::BTreeMap<String, String> = map
        .into_iter()
        .filter_map(|(language, text)| match text {
            Value::String(text) => Some((language, text)),
            _ => None,
        })
        .collect();
    Ok((!map.is_empty()).then_some(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "audience")]
        to: Vec<String>,
        #[serde(default, deserialize_with = "optional_url")]
        url: Option<String>,
        #[serde(default, deserialize_with = "optional_id")]
        replies: Option<String>,
        #[serde(default, deserialize_with = "attributed_to")]
        attributed_to: Option<String>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}: {json}"))
    }

    #[test]
    fn public_aliases_become_the_public_collection() {
        let p = probe(r#"{"to": "as:Public"}"#);
        assert_eq!(p.to, vec![PUBLIC.to_owned()]);
        let p = probe(r#"{"to": ["Public", "https://a.example/f", 7, "not a uri"]}"#);
        assert_eq!(
            p.to,
            vec![PUBLIC.to_owned(), "https://a.example/f".to_owned()]
        );
    }

    #[test]
    fn urls_come_as_strings_links_or_arrays_where_html_wins() {
        assert_eq!(
            probe(r#"{"url": "https://a.example/p"}"#).url.as_deref(),
            Some("https://a.example/p")
        );
        let p = probe(
            r#"{"url": [{"type":"Link","mediaType":"video/mp4","href":"https://a.example/v.mp4"},
                        {"type":"Link","mediaType":"text/html","href":"https://a.example/w"}]}"#,
        );
        assert_eq!(p.url.as_deref(), Some("https://a.example/w"));
        assert_eq!(probe(r#"{"url": {"nope": 1}}"#).url, None);
    }

    #[test]
    fn references_may_be_embedded_objects() {
        let p = probe(r#"{"replies": {"id": "https://a.example/r", "type": "Collection"}}"#);
        assert_eq!(p.replies.as_deref(), Some("https://a.example/r"));
        let p = probe(
            r#"{"attributed_to": [{"type":"Group","id":"https://a.example/c"},
                                  {"type":"Person","id":"https://a.example/u"}]}"#,
        );
        assert_eq!(p.attributed_to.as_deref(), Some("https://a.example/u"));
    }
}
