//! Atom feeds (RFC 4287): the blog's posts (`/feed.atom`) and each post's comments
//! (`/posts/{slug}/comments.atom`).
//!
//! Feeds are built with `atom_syndication`, which escapes every text it writes; on
//! top of that, characters that XML 1.0 forbids outright (most C0 controls) are
//! dropped, because no escaping can make them legal and a single one would make a
//! reader reject the whole feed.

use crate::error::AppError;
use crate::pages::{path_param, post_path, published_post, safe_url, tag_path};
use crate::state::AppState;
use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use gloss_storage::{Author, AuthorId, CommentFilter, Page, Post};
use std::collections::HashMap;

/// Media type of every feed response.
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
/// Posts in `/feed.atom`.
pub const POSTS_IN_FEED: i64 = 20;
/// Comments in a post's comments feed.
pub const COMMENTS_IN_FEED: usize = 50;

/// The feed routes, merged into the application by [`crate::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feed.atom", get(posts_feed))
        .route("/posts/{slug}/comments.atom", get(comments_feed))
}

/// `text` without the characters XML 1.0 does not allow anywhere.
pub(crate) fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{D7FF}').contains(&c)
                || ('\u{E000}'..='\u{FFFD}').contains(&c)
                || c >= '\u{10000}'
        })
        .collect()
}

fn date(value: DateTime<Utc>) -> FixedDateTime {
    value.fixed_offset()
}

fn html_content(html: &str) -> Content {
    Content {
        value: Some(xml_text(html)),
        content_type: Some("html".to_owned()),
        ..Content::default()
    }
}

fn link(href: String, rel: &str, mime_type: &str) -> Link {
    Link {
        href,
        rel: rel.to_owned(),
        mime_type: Some(mime_type.to_owned()),
        ..Link::default()
    }
}

/// Writes the feed; a failure here is ours, not the reader's.
fn atom_response(feed: &Feed) -> Result<Response, AppError> {
    let bytes = feed
        .write_to(Vec::new())
        .map_err(|err| AppError::Internal(format!("writing an Atom feed: {err}")))?;
    Ok(([(header::CONTENT_TYPE, ATOM_CONTENT_TYPE)], bytes).into_response())
}

fn generator() -> Generator {
    Generator {
        value: "Gloss".to_owned(),
        uri: None,
        version: Some(env!("CARGO_PKG_VERSION").to_owned()),
    }
}

/// The Atom entry of a published post.
fn post_entry(state: &AppState, post: &Post, author: Option<&Author>) -> Entry {
    let url = state.config.absolute(&post_path(&post.slug));
    let author = match author {
        Some(author) => Person {
            name: xml_text(&author.display_name),
            uri: Some(
                state
                    .config
                    .absolute(&crate::pages::author_path(&author.username)),
            ),
            ..Person::default()
        },
        None => Person {
            name: "Unknown author".to_owned(),
            ..Person::default()
        },
    };
    Entry {
        title: Text::plain(xml_text(&post.title)),
        id: url.clone(),
        updated: date(post.updated_at.unwrap_or(post.published_at)),
        published: Some(date(post.published_at)),
        authors: vec![author],
        links: vec![link(url, "alternate", "text/html")],
        summary: post
            .summary
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Text::plain(xml_text(s))),
        content: Some(html_content(&post.content_html)),
        categories: post
            .tags
            .iter()
            .map(|tag| Category {
                term: xml_text(&tag.slug),
                scheme: Some(state.config.absolute(&tag_path(""))),
                label: Some(xml_text(&tag.name)),
            })
            .collect(),
        ..Entry::default()
    }
}

/// `GET /feed.atom`: the newest published posts.
async fn posts_feed(State(state): State<AppState>) -> Result<Response, AppError> {
    let settings = state.store.blog_settings().await?;
    let posts = state
        .store
        .published_posts(Page {
            limit: POSTS_IN_FEED,
            offset: 0,
        })
        .await?;
    let authors: HashMap<AuthorId, Author> = crate::pages::authors_of(&state, &posts).await?;
    let entries: Vec<Entry> = posts
        .iter()
        .map(|post| post_entry(&state, post, authors.get(&post.author_id)))
        .collect();
    let feed_url = state.config.absolute("/feed.atom");
    let icon = settings
        .avatar_url
        .as_deref()
        .and_then(|url| safe_url(url, Some(&state.config)));
    let feed = Feed {
        title: Text::plain(xml_text(&settings.title)),
        subtitle: (!settings.description.trim().is_empty())
            .then(|| Text::plain(xml_text(&settings.description))),
        id: feed_url.clone(),
        updated: newest(&entries),
        links: vec![
            link(feed_url, "self", "application/atom+xml"),
            link(state.config.absolute("/"), "alternate", "text/html"),
        ],
        generator: Some(generator()),
        icon: icon.clone(),
        logo: icon,
        entries,
        ..Feed::default()
    };
    atom_response(&feed)
}

/// The latest `updated` of the entries; the Unix epoch for an empty feed, so that
/// the value stays the same from one request to the next.
fn newest(entries: &[Entry]) -> FixedDateTime {
    entries
        .iter()
        .map(|entry| entry.updated)
        .max()
        .unwrap_or_else(|| DateTime::<Utc>::UNIX_EPOCH.fixed_offset())
}

/// `GET /posts/{slug}/comments.atom`: the newest public comments of a post.
async fn comments_feed(
    State(state): State<AppState>,
    slug: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let slug = path_param(slug)?;
    let post = published_post(&state, &slug).await?;
    let mut comments: Vec<_> = state
        .store
        .comments_for_post(post.id, CommentFilter::Public)
        .await?
        .into_iter()
        .filter(|comment| comment.is_public())
        .collect();
    comments.sort_by(|a, b| {
        b.published_at
            .cmp(&a.published_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    comments.truncate(COMMENTS_IN_FEED);

    let post_url = state.config.absolute(&post_path(&post.slug));
    let feed_url = state
        .config
        .absolute(&format!("{}/comments.atom", post_path(&post.slug)));
    let entries: Vec<Entry> = comments
        .iter()
        .map(|comment| {
            let permalink = format!("{post_url}#comment-{}", comment.id);
            let name = match comment.author_name.trim() {
                "" => "Anonymous",
                name => name,
            };
            Entry {
                title: Text::plain(xml_text(&format!("Comment by {name} on {}", post.title))),
                id: permalink.clone(),
                updated: date(comment.updated_at.unwrap_or(comment.published_at)),
                published: Some(date(comment.published_at)),
                authors: vec![Person {
                    name: xml_text(name),
                    uri: comment
                        .author_url
                        .as_deref()
                        .and_then(|url| safe_url(url, None)),
                    ..Person::default()
                }],
                links: vec![link(permalink, "alternate", "text/html")],
                content: Some(html_content(&comment.content_html)),
                ..Entry::default()
            }
        })
        .collect();
    let updated = if entries.is_empty() {
        date(post.updated_at.unwrap_or(post.published_at))
    } else {
        newest(&entries)
    };
    let feed = Feed {
        title: Text::plain(xml_text(&format!("Comments on {}", post.title))),
        id: feed_url.clone(),
        updated,
        links: vec![
            link(feed_url, "self", "application/atom+xml"),
            link(post_url, "alternate", "text/html"),
        ],
        generator: Some(generator()),
        entries,
        ..Feed::default()
    };
    atom_response(&feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_forbids_are_dropped() {
        assert_eq!(xml_text("a\u{1}b\u{8}c\td\ne\u{FFFE}"), "abc\td\ne");
        assert_eq!(xml_text("é ✓ 😀 <&>"), "é ✓ 😀 <&>");
    }

    #[test]
    fn hostile_titles_are_escaped_and_the_feed_still_parses() {
        let feed = Feed {
            title: Text::plain(xml_text("<script>&\"\u{0}")),
            id: "https://blog.example/feed.atom".to_owned(),
            entries: vec![Entry {
                title: Text::plain(xml_text("</title><script>alert(1)</script>")),
                id: "https://blog.example/posts/x".to_owned(),
                content: Some(html_content("<p>1 &lt; 2</p>")),
                ..Entry::default()
            }],
            ..Feed::default()
        };
        let xml = feed
            .write_to(Vec::new())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default();
        assert!(!xml.contains("<script>"), "{xml}");
        let parsed: Result<Feed, _> = xml.parse();
        let parsed = parsed.ok();
        assert_eq!(
            parsed.as_ref().map(|f| f.title.as_str()),
            Some("<script>&\"")
        );
        let entry = parsed.as_ref().and_then(|f| f.entries.first());
        assert_eq!(
            entry
                .and_then(|e| e.content.as_ref())
                .and_then(|c| c.value.as_deref()),
            Some("<p>1 &lt; 2</p>")
        );
    }
}
