//! A post as the `Note` other servers store and show: built purely from stored data,
//! served at the post's permalink (content negotiation) and embedded in the
//! `Create`/`Update` activities the outbox sends.
//!
//! What Mastodon keeps decides the shape (issue 3, item 4):
//! - `content` is HTML within Mastodon's allow-list (`p br span a del s pre blockquote
//!   code b strong u i em ul ol li`): the title as a bold first paragraph, then the full
//!   text or, by the `note_content` blog setting, the summary and a link to the page.
//!   Headings become bold paragraphs (Mastodon would flatten them into plain text).
//! - Pictures leave the content (Mastodon strips `<img>`) and become `attachment`s with
//!   their alt text, at most [`MAX_ATTACHMENTS`] (Mastodon shows four); further pictures
//!   are dropped from the Note and remain on the page.
//! - Relative links are made absolute against the post's URL: on another server they
//!   would point nowhere.
//! - `contentMap` says `en`: posts carry no language yet, and most Gloss blogs are
//!   written in English; a per-blog language setting would replace this constant.
//! - `summary`/`sensitive` are left out: Gloss has no content warnings, and Mastodon
//!   would hide the post behind one if `summary` were the excerpt.

use crate::actors::{absolute_http_url, media_type_of};
use crate::content::{escape_html, plain_text_excerpt};
use crate::protocol::note::{Attachment, AttachmentType, Note, NoteType, Tag, TagType};
use crate::protocol::tombstone::Tombstone;
use crate::protocol::{PUBLIC, default_context, document, note_context};
use crate::urls::Urls;
use ammonia::{Builder, UrlRelative};
use chrono::{DateTime, Utc};
use gloss_storage::{Author, BlogSettings, NoteContent, Post, Tag as PostTag};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most attachments a Note carries (Mastodon displays four).
pub const MAX_ATTACHMENTS: usize = 4;

/// The language tag of `contentMap` (see the module docs).
pub const NOTE_LANGUAGE: &str = "en";

/// Longest excerpt built from the body when a post has no summary, in characters.
const EXCERPT_CHARS: usize = 500;

/// Mastodon's allow-list, minus the ruby annotations we never produce.
fn mastodon_tags() -> impl Iterator<Item = &'static str> {
    crate::content::MASTODON_STRICT_TAGS
        .into_iter()
        .filter(|tag| !matches!(*tag, "ruby" | "rt" | "rp"))
}

/// The post's Note as a complete JSON document, `@context` included. Activities may
/// embed it as is (an embedded `@context` is valid JSON-LD and keeps the `Hashtag`
/// term defined).
pub fn post_to_note(post: &Post, author: &Author, settings: &BlogSettings, urls: &Urls) -> Value {
    document(note_context(), &build_note(post, author, settings, urls))
}

/// The post's Note, typed.
pub fn build_note(post: &Post, author: &Author, settings: &BlogSettings, urls: &Urls) -> Note {
    let id = urls.post(&post.slug);
    let body = note_body(post, settings, urls);
    let author_id = urls.author_actor(&author.username);
    Note {
        kind: NoteType::Note,
        attributed_to: Some(author_id.clone()),
        name: None,
        content_map: Some(BTreeMap::from([(
            NOTE_LANGUAGE.to_owned(),
            body.content.clone(),
        )])),
        content: Some(body.content),
        summary: None,
        sensitive: None,
        in_reply_to: None,
        published: Some(post.published_at),
        updated: post.updated_at,
        url: Some(id.clone()),
        to: vec![PUBLIC.to_owned()],
        cc: vec![
            Urls::followers(&author_id),
            Urls::followers(&urls.blog_actor()),
        ],
        tag: post
            .tags
            .iter()
            .filter_map(|tag| hashtag(tag, urls))
            .collect(),
        attachment: body.attachments,
        replies: Some(urls.post_replies(&post.slug)),
        context: Some(urls.post_context(&post.slug)),
        id,
    }
}

/// What a deleted post's permalink answers (with 410 Gone), as a complete document.
/// `deleted` is left out: the store keeps no deletion time (it is optional in AS2).
pub fn tombstone_json(post: &Post, urls: &Urls) -> Value {
    document(default_context(), &tombstone(post, urls, None))
}

/// A deleted post's Tombstone; `deleted` when the caller knows the time (a `Delete`
/// built at the moment of deletion).
pub fn tombstone(post: &Post, urls: &Urls, deleted: Option<DateTime<Utc>>) -> Tombstone {
    Tombstone::new(urls.post(&post.slug), "Note", deleted)
}

/// `#Name` as Mastodon wants a hashtag's name: letters, digits and `_` only, words of a
/// several-word tag joined in CamelCase ("open source" → `#OpenSource`). `None` when
/// nothing usable is left.
pub fn hashtag_name(name: &str) -> Option<String> {
    let words: Vec<&str> = name
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
        .collect();
    let joined = match words.as_slice() {
        [] => return None,
        [one] => (*one).to_owned(),
        many => many.iter().map(|word| capitalize_first(word)).collect(),
    };
    Some(format!("#{joined}"))
}

fn capitalize_first(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn hashtag(tag: &PostTag, urls: &Urls) -> Option<Tag> {
    Some(Tag {
        kind: TagType::Hashtag,
        href: Some(urls.tag(&tag.slug)),
        name: Some(hashtag_name(&tag.name).or_else(|| hashtag_name(&tag.slug))?),
        id: None,
        icon: None,
    })
}

/// The Note's `content` and `attachment`s.
struct NoteBody {
    content: String,
    attachments: Vec<Attachment>,
}

fn note_body(post: &Post, settings: &BlogSettings, urls: &Urls) -> NoteBody {
    let page_url = urls.post(&post.slug);
    let base = url::Url::parse(&page_url).ok();
    let canonical = canonical_policy(base.clone())
        .clean(&post.content_html)
        .to_string();
    let (full_text, images) = headings_to_paragraphs_without_images(&canonical);

    let body = match settings.note_content {
        NoteContent::Full => full_text.replace("<p></p>", ""),
        NoteContent::Excerpt => {
            let summary = post
                .summary
                .clone()
                .filter(|summary| !summary.trim().is_empty())
                .unwrap_or_else(|| plain_text_excerpt(&post.content_html, EXCERPT_CHARS));
            let link = escape_html(&page_url);
            format!(
                "<p>{}</p><p><a href=\"{link}\">{link}</a></p>",
                escape_html(summary.trim())
            )
        }
    };
    let html = format!("<p><strong>{}</strong></p>{body}", escape_html(&post.title));
    let content = mastodon_policy(base).clean(&html).to_string();

    let mut seen = HashSet::new();
    let attachments = images
        .into_iter()
        .filter_map(|image| {
            let url = absolute_http_url(&image.src, urls)?;
            seen.insert(url.clone()).then_some((url, image.alt))
        })
        .take(MAX_ATTACHMENTS)
        .map(|(url, alt)| {
            let media_type = media_type_of(&url);
            Attachment {
                kind: if media_type.is_some() {
                    AttachmentType::Image
                } else {
                    AttachmentType::Document
                },
                media_type: media_type.map(str::to_owned),
                url: Some(url),
                href: None,
                name: alt.filter(|alt| !alt.trim().is_empty()),
            }
        })
        .collect();
    NoteBody {
        content,
        attachments,
    }
}

fn url_relative(base: Option<url::Url>) -> UrlRelative<'static> {
    match base {
        Some(base) => UrlRelative::RewriteWithBase(base),
        None => UrlRelative::Deny,
    }
}

/// First pass: Mastodon's tags plus headings and images, with URLs made absolute. Its
/// output is html5ever's canonical serialization (lower-case names, double-quoted
/// attributes, `<` escaped in text), which the scanner below relies on.
fn canonical_policy(base: Option<url::Url>) -> Builder<'static> {
    let mut tags: HashSet<&str> = mastodon_tags().collect();
    tags.extend(["h1", "h2", "h3", "h4", "h5", "h6", "img"]);
    let mut builder = Builder::default();
    builder
        .tags(tags)
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("img", HashSet::from(["src", "alt"])),
            ("ol", HashSet::from(["start", "reversed"])),
            ("li", HashSet::from(["value"])),
        ]))
        .generic_attributes(HashSet::new())
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(url_relative(base))
        .link_rel(None);
    builder
}

/// Final pass: exactly Mastodon's allow-list. Whatever the scanner did, this is what
/// decides what leaves the building.
fn mastodon_policy(base: Option<url::Url>) -> Builder<'static> {
    let mut builder = Builder::default();
    builder
        .tags(mastodon_tags().collect())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("ol", HashSet::from(["start", "reversed"])),
            ("li", HashSet::from(["value"])),
        ]))
        .generic_attributes(HashSet::new())
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(url_relative(base))
        .link_rel(None);
    builder
}

/// A picture found in the body.
#[derive(Debug, PartialEq, Eq)]
struct ImageRef {
    src: String,
    alt: Option<String>,
}

/// Rewrites `<hN …>`/`</hN>` to `<p><strong>`/`</strong></p>` and takes `<img>`s out,
/// returning them in document order. Expects canonical HTML (see [`canonical_policy`]).
fn headings_to_paragraphs_without_images(html: &str) -> (String, Vec<ImageRef>) {
    let mut out = String::with_capacity(html.len());
    let mut images = Vec::new();
    let mut rest = html;
    while let Some((text, after)) = rest.split_once('<') {
        out.push_str(text);
        let Some(end) = tag_end(after) else {
            // An unterminated tag cannot come out of html5ever; keep it as text for the
            // final sanitizer to deal with.
            out.push('<');
            out.push_str(after);
            return (out, images);
        };
        let inner = after.get(..end).unwrap_or_default();
        rest = after.get(end + 1..).unwrap_or_default();
        let (closing, name) = match inner.strip_prefix('/') {
            Some(name) => (true, tag_name(name)),
            None => (false, tag_name(inner)),
        };
        match (closing, name.as_str()) {
            (false, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") => out.push_str("<p><strong>"),
            (true, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") => out.push_str("</strong></p>"),
            (false, "img") => {
                let attributes = parse_attributes(inner.get(3..).unwrap_or_default());
                if let Some(src) = attributes.get("src") {
                    images.push(ImageRef {
                        src: src.clone(),
                        alt: attributes.get("alt").cloned(),
                    });
                }
            }
            _ => {
                out.push('<');
                out.push_str(inner);
                out.push('>');
            }
        }
    }
    out.push_str(rest);
    (out, images)
}

/// Index of the `>` that ends the tag starting at `after` (just past its `<`), quotes
/// respected.
fn tag_end(after: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (index, c) in after.char_indices() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(index),
            (None, _) => {}
        }
    }
    None
}

fn tag_name(inner: &str) -> String {
    inner
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `name="value"` pairs of a canonical tag, values unescaped.
fn parse_attributes(mut text: &str) -> HashMap<String, String> {
    let mut attributes = HashMap::new();
    loop {
        text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if text.is_empty() {
            return attributes;
        }
        let name_end = text
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(text.len());
        let name = text
            .get(..name_end)
            .unwrap_or_default()
            .to_ascii_lowercase();
        text = text.get(name_end..).unwrap_or_default().trim_start();
        let value = if let Some(after_equals) = text.strip_prefix('=') {
            let after_equals = after_equals.trim_start();
            let (value, remaining) = match after_equals.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let body = after_equals.get(1..).unwrap_or_default();
                    match body.split_once(quote) {
                        Some((value, remaining)) => (value, remaining),
                        None => (body, ""),
                    }
                }
                _ => {
                    let end = after_equals
                        .find(char::is_whitespace)
                        .unwrap_or(after_equals.len());
                    (
                        after_equals.get(..end).unwrap_or_default(),
                        after_equals.get(end..).unwrap_or_default(),
                    )
                }
            };
            text = remaining;
            unescape_attribute(value)
        } else {
            String::new()
        };
        if name.is_empty() {
            // Nothing recognisable: stop rather than loop forever.
            return attributes;
        }
        attributes.entry(name).or_insert(value);
    }
}

/// Undoes the escaping html5ever applies to attribute values.
fn unescape_attribute(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_storage::{AuthorId, PostId, PostOrigin, PostStatus};

    fn urls() -> Urls {
        Urls::new(&url::Url::parse("https://blog.example.org").unwrap_or_else(|_| unreachable!()))
    }

    fn date(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn author() -> Author {
        Author {
            id: AuthorId(1),
            username: "ann".to_owned(),
            display_name: "Ann".to_owned(),
            bio: String::new(),
            avatar_url: None,
            is_admin: true,
            created_at: date("2024-01-01T00:00:00Z"),
        }
    }

    fn post(content_html: &str) -> Post {
        Post {
            id: PostId(7),
            author_id: AuthorId(1),
            title: "Hello <World> & co".to_owned(),
            slug: "hello-world".to_owned(),
            source: String::new(),
            content_html: content_html.to_owned(),
            summary: Some("A short summary.".to_owned()),
            tags: vec![
                PostTag {
                    slug: "open-source".to_owned(),
                    name: "open source".to_owned(),
                },
                PostTag {
                    slug: "rust".to_owned(),
                    name: "Rust".to_owned(),
                },
            ],
            status: PostStatus::Published,
            origin: PostOrigin::Local,
            comments_open: true,
            published_at: date("2024-03-05T10:20:30.123Z"),
            updated_at: None,
            created_at: date("2024-03-05T10:00:00Z"),
        }
    }

    fn note(post: &Post, settings: &BlogSettings) -> Note {
        build_note(post, &author(), settings, &urls())
    }

    fn content(note: &Note) -> &str {
        note.content.as_deref().unwrap_or_default()
    }

    #[test]
    fn the_title_comes_first_as_a_bold_paragraph_and_headings_become_bold_paragraphs() {
        let n = note(
            &post(
                "<h2 id=\"x\">Part one</h2><p>Text <em>here</em>.</p><h3>Part two</h3><p>More.</p>",
            ),
            &BlogSettings::default(),
        );
        assert_eq!(
            content(&n),
            "<p><strong>Hello &lt;World&gt; &amp; co</strong></p>\
             <p><strong>Part one</strong></p><p>Text <em>here</em>.</p>\
             <p><strong>Part two</strong></p><p>More.</p>"
        );
        assert_eq!(
            n.content_map
                .as_ref()
                .and_then(|m| m.get("en"))
                .map(String::as_str),
            n.content.as_deref()
        );
    }

    #[test]
    fn only_tags_mastodon_allows_survive() {
        let n = note(
            &post(
                "<table><tr><td>cell</td></tr></table><div class=\"x\">div</div>\
                 <pre><code class=\"language-rust\">fn main() {}</code></pre>\
                 <p><a href=\"/tags/rust\" title=\"t\">rel</a> <a href=\"javascript:alert(1)\">js</a></p>\
                 <script>alert(1)</script><hr><ol start=\"3\"><li>x</li></ol>",
            ),
            &BlogSettings::default(),
        );
        let html = content(&n);
        for banned in [
            "<table",
            "<td",
            "<div",
            "class=",
            "title=",
            "<script",
            "alert(1)</",
            "<hr",
            "javascript:",
        ] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
        assert!(
            html.contains("<pre><code>fn main() {}</code></pre>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://blog.example.org/tags/rust\">rel</a>"),
            "{html}"
        );
        assert!(html.contains("<ol start=\"3\">"), "{html}");
        assert!(
            html.contains("cell") && html.contains("div"),
            "text is kept: {html}"
        );
    }

    #[test]
    fn images_become_attachments_with_alt_text_and_at_most_four() {
        let images: String = (1..=6)
            .map(|i| format!("<p><img src=\"/media/{i}.JPG\" alt=\"Picture &amp; {i}\"></p>"))
            .collect();
        let html = format!(
            "<p>Before</p>{images}<figure><img src=\"https://cdn.example/x\"></figure><p>After</p>"
        );
        let n = note(&post(&html), &BlogSettings::default());
        assert!(!content(&n).contains("<img"), "{}", content(&n));
        assert!(!content(&n).contains("<p></p>"), "{}", content(&n));
        assert!(
            content(&n).ends_with("<p>Before</p><p>After</p>"),
            "{}",
            content(&n)
        );
        assert_eq!(n.attachment.len(), MAX_ATTACHMENTS);
        let first = &n.attachment[0];
        assert_eq!(first.kind, AttachmentType::Image);
        assert_eq!(first.media_type.as_deref(), Some("image/jpeg"));
        assert_eq!(
            first.url.as_deref(),
            Some("https://blog.example.org/media/1.JPG")
        );
        assert_eq!(first.name.as_deref(), Some("Picture & 1"));
    }

    #[test]
    fn a_picture_of_unknown_type_is_a_document_without_media_type() {
        let n = note(
            &post("<img src=\"https://cdn.example/x\">"),
            &BlogSettings::default(),
        );
        assert_eq!(n.attachment.len(), 1);
        assert_eq!(n.attachment[0].kind, AttachmentType::Document);
        assert_eq!(n.attachment[0].media_type, None);
        assert_eq!(n.attachment[0].name, None);
    }

    #[test]
    fn the_excerpt_setting_sends_the_summary_and_a_link() {
        let settings = BlogSettings {
            note_content: NoteContent::Excerpt,
            ..BlogSettings::default()
        };
        let n = note(&post("<p>The whole text, long.</p>"), &settings);
        assert_eq!(
            content(&n),
            "<p><strong>Hello &lt;World&gt; &amp; co</strong></p><p>A short summary.</p>\
             <p><a href=\"https://blog.example.org/posts/hello-world\">https://blog.example.org/posts/hello-world</a></p>"
        );
        let mut without_summary = post("<p>The whole text, long.</p>");
        without_summary.summary = None;
        assert!(
            content(&note(&without_summary, &settings)).contains("<p>The whole text, long.</p>")
        );
    }

    #[test]
    fn tags_are_hashtags_linking_to_our_tag_pages() {
        let n = note(&post("<p>x</p>"), &BlogSettings::default());
        let tags: Vec<(Option<&str>, Option<&str>)> = n
            .tag
            .iter()
            .map(|t| (t.name.as_deref(), t.href.as_deref()))
            .collect();
        assert_eq!(
            tags,
            vec![
                (
                    Some("#OpenSource"),
                    Some("https://blog.example.org/tags/open-source")
                ),
                (Some("#Rust"), Some("https://blog.example.org/tags/rust")),
            ]
        );
        assert_eq!(hashtag_name("c++"), Some("#c".to_owned()));
        assert_eq!(hashtag_name("été 2024"), Some("#Été2024".to_owned()));
        assert_eq!(hashtag_name("!!"), None);
    }

    #[test]
    fn updated_appears_only_after_an_edit() {
        let mut p = post("<p>x</p>");
        let value = post_to_note(&p, &author(), &BlogSettings::default(), &urls());
        assert!(value.get("updated").is_none());
        assert_eq!(value["published"], "2024-03-05T10:20:30Z");
        p.updated_at = Some(date("2024-04-01T00:00:00Z"));
        let value = post_to_note(&p, &author(), &BlogSettings::default(), &urls());
        assert_eq!(value["updated"], "2024-04-01T00:00:00Z");
    }

    #[test]
    fn addressing_and_links_follow_the_blog_model() {
        let value = post_to_note(
            &post("<p>x</p>"),
            &author(),
            &BlogSettings::default(),
            &urls(),
        );
        assert_eq!(value["type"], "Note");
        assert_eq!(value["id"], "https://blog.example.org/posts/hello-world");
        assert_eq!(value["url"], value["id"]);
        assert_eq!(
            value["attributedTo"],
            "https://blog.example.org/authors/ann"
        );
        assert_eq!(value["to"], serde_json::json!([PUBLIC]));
        assert_eq!(
            value["cc"],
            serde_json::json!([
                "https://blog.example.org/authors/ann/followers",
                "https://blog.example.org/blog/followers"
            ])
        );
        assert_eq!(
            value["replies"],
            "https://blog.example.org/posts/hello-world/replies"
        );
        assert_eq!(
            value["context"],
            "https://blog.example.org/posts/hello-world/context"
        );
        assert!(value.get("summary").is_none() && value.get("sensitive").is_none());
        assert!(value.get("@context").is_some());
        let parsed: Note = serde_json::from_value(value).unwrap_or_else(|err| panic!("{err}"));
        assert!(parsed.is_public());
    }

    #[test]
    fn a_deleted_post_is_a_tombstone_of_a_note() {
        let value = tombstone_json(&post("<p>x</p>"), &urls());
        assert_eq!(value["type"], "Tombstone");
        assert_eq!(value["formerType"], "Note");
        assert_eq!(value["id"], "https://blog.example.org/posts/hello-world");
    }

    #[test]
    fn the_scanner_reads_attributes_in_any_order_and_keeps_other_tags() {
        let (html, images) = headings_to_paragraphs_without_images(
            "<p title=\"a > b\">x</p><img alt=\"q &quot;a&quot;\" src=\"https://i.example/a.png\"><H4>h</H4>",
        );
        assert_eq!(html, "<p title=\"a > b\">x</p><p><strong>h</strong></p>");
        assert_eq!(
            images,
            vec![ImageRef {
                src: "https://i.example/a.png".to_owned(),
                alt: Some("q \"a\"".to_owned()),
            }]
        );
    }
}
