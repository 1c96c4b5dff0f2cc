//! `OrderedCollection` and `OrderedCollectionPage`: outboxes, follower counts, replies.
//!
//! Gloss builds them for its actors' collections; it parses remote ones leniently
//! (plain `Collection`s with `items` are read the same way).

use super::lenient;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `type` of a collection or a page of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CollectionType {
    OrderedCollection,
    Collection,
    OrderedCollectionPage,
    CollectionPage,
}

/// A collection. Items are `serde_json::Value` unless a caller asks for more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: DeserializeOwned"))]
pub struct OrderedCollection<T = Value> {
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient::kind")]
    pub kind: CollectionType,
    #[serde(
        default,
        deserialize_with = "lenient::optional_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_items: Option<u64>,
    /// The first page, embedded or by id.
    #[serde(
        default,
        deserialize_with = "first_page",
        skip_serializing_if = "Option::is_none"
    )]
    pub first: Option<PageRef<T>>,
    /// Items listed on the collection itself (small collections). `None` when the
    /// collection does not list its items (our followers collection).
    #[serde(
        default,
        alias = "items",
        deserialize_with = "optional_items",
        skip_serializing_if = "Option::is_none"
    )]
    pub ordered_items: Option<Vec<T>>,
}

/// One page of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: DeserializeOwned"))]
pub struct OrderedCollectionPage<T = Value> {
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient::kind")]
    pub kind: CollectionType,
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub part_of: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_items: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub next: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub prev: Option<String>,
    #[serde(default, alias = "items", deserialize_with = "lenient::lenient_vec")]
    pub ordered_items: Vec<T>,
}

/// `first`: a page embedded in the collection, or the page's id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PageRef<T = Value> {
    Id(String),
    Page(Box<OrderedCollectionPage<T>>),
}

fn first_page<'de, D, T>(deserializer: D) -> Result<Option<PageRef<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::String(id)) if url::Url::parse(&id).is_ok() => Some(PageRef::Id(id)),
        Some(page @ Value::Object(_)) => serde_json::from_value::<OrderedCollectionPage<T>>(page)
            .ok()
            .map(|page| PageRef::Page(Box::new(page))),
        _ => None,
    })
}

fn optional_items<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    lenient::lenient_vec(deserializer).map(Some)
}

impl<T> OrderedCollection<T> {
    /// An ordered collection that only tells its size (followers: we do not list
    /// who follows whom).
    pub fn counted(id: String, total_items: u64) -> Self {
        OrderedCollection {
            id: Some(id),
            kind: CollectionType::OrderedCollection,
            total_items: Some(total_items),
            first: None,
            ordered_items: None,
        }
    }

    /// An ordered collection listing `items` itself.
    pub fn with_items(id: String, items: Vec<T>) -> Self {
        OrderedCollection {
            id: Some(id),
            kind: CollectionType::OrderedCollection,
            total_items: Some(u64::try_from(items.len()).unwrap_or(u64::MAX)),
            first: None,
            ordered_items: Some(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mastodon_style_collection_with_a_first_page_url_parses() {
        let json = r#"{"id":"https://m.example/u/outbox","type":"OrderedCollection","totalItems":12,
            "first":"https://m.example/u/outbox?page=true"}"#;
        let c: OrderedCollection = serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(c.total_items, Some(12));
        assert_eq!(
            c.first,
            Some(PageRef::Id(
                "https://m.example/u/outbox?page=true".to_owned()
            ))
        );
        assert_eq!(c.ordered_items, None);
    }

    #[test]
    fn an_embedded_first_page_with_plain_items_parses() {
        let json = r#"{"type":"Collection","first":{"type":"CollectionPage","items":["https://a.example/1"],
            "next":"https://a.example/r?page=2"}}"#;
        let c: OrderedCollection = serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}"));
        let Some(PageRef::Page(page)) = c.first else {
            panic!("no page")
        };
        assert_eq!(page.ordered_items.len(), 1);
        assert_eq!(page.next.as_deref(), Some("https://a.example/r?page=2"));
    }

    #[test]
    fn a_counted_collection_serializes_without_items() {
        let value = serde_json::to_value(OrderedCollection::<Value>::counted(
            "https://b.example/f".into(),
            3,
        ))
        .unwrap_or_default();
        assert_eq!(value["totalItems"], 3);
        assert!(value.get("orderedItems").is_none());
        assert!(value.get("first").is_none());
    }
}
