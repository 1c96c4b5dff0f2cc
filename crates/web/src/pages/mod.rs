//! Public pages: the home page, post permalinks, tag and author listings.
//!
//! Every page is marked up with microformats2 (`h-feed`, `h-entry`, `h-card`, `h-cite`)
//! so that IndieWeb readers and Webmention receivers understand it, and carries
//! canonical and OpenGraph metadata in its head (see `templates/_meta.html`).

mod comments;
pub mod interact;
mod listing;
pub(crate) mod local_comments;
mod post;

pub(crate) use post::published_post;

use crate::error::AppError;
use crate::state::{AppState, WebConfig};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use gloss_federation::context::FederationError;
use gloss_storage::{Author, AuthorId, Post, Tag};
use std::collections::HashMap;

/// The public page routes, merged into the application by [`crate::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(listing::home))
        .route("/posts/{slug}", get(post::post_page))
        .route("/tags", get(listing::tag_index))
        .route("/tags/{slug}", get(listing::tag_page))
        .route("/authors/{username}", get(listing::author_page))
        .route(
            "/posts/{slug}/comments",
            axum::routing::post(local_comments::submit),
        )
        .merge(interact::routes())
}

/// The path parameter, or 404 when it is not valid UTF-8 after percent-decoding
/// (`/posts/%FF`): such an address names nothing here, which is not the client's
/// syntax error that axum's default 400 would suggest.
pub(crate) fn path_param(
    param: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, AppError> {
    param
        .map(|axum::extract::Path(value)| value)
        .map_err(|_| AppError::NotFound)
}

/// Percent-encodes one URL path segment. Local slugs are already URL-safe, but
/// imported ones may hold anything, and a link must still lead back to the post.
pub(crate) fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Path of a post's permalink: `/posts/{slug}`.
pub(crate) fn post_path(slug: &str) -> String {
    format!("/posts/{}", encode_path_segment(slug))
}

/// Path of a tag's listing.
pub(crate) fn tag_path(slug: &str) -> String {
    format!("/tags/{}", encode_path_segment(slug))
}

/// Path of an author's page.
pub(crate) fn author_path(username: &str) -> String {
    format!("/authors/{}", encode_path_segment(username))
}

/// `raw` as an absolute http(s) URL, or `None`. Links and images supplied by
/// commenters go through this so that a `javascript:` or `data:` URL never reaches
/// an `href` or `src`. Relative URLs (a blog avatar under `/static`) are made
/// absolute against the public URL when `config` is given.
pub(crate) fn safe_url(raw: &str, config: Option<&WebConfig>) -> Option<String> {
    let raw = raw.trim();
    let parsed = match (url::Url::parse(raw), config) {
        (Ok(url), _) => url,
        (Err(url::ParseError::RelativeUrlWithoutBase), Some(config)) if raw.starts_with('/') => {
            config.public_url.join(raw).ok()?
        }
        _ => return None,
    };
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// Adds `Vary: Accept` to a response of a URL that serves HTML or ActivityStreams
/// JSON by content negotiation, whatever the outcome (caches must key on `Accept`).
pub(crate) fn vary_on_accept(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let already = response
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("accept"));
    if !already {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
    }
    response
}

/// A federation failure as the web layer reports it.
pub(crate) fn federation_error(err: FederationError) -> AppError {
    match err {
        FederationError::Storage(err) => AppError::Storage(err),
        other => AppError::Internal(other.to_string()),
    }
}

/// "1 comment", "N comments": the exact wording every page and test relies on.
pub(crate) fn comments_label(count: i64) -> String {
    if count == 1 {
        "1 comment".to_owned()
    } else {
        format!("{count} comments")
    }
}

/// English month names, for [`DateView`].
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A date as a `<time>` element needs it.
#[derive(Debug, Clone)]
pub(crate) struct DateView {
    /// Machine-readable, for `datetime="…"` (RFC 3339, UTC).
    pub rfc3339: String,
    /// Human-readable, e.g. "5 March 2024".
    pub display: String,
}

impl DateView {
    pub fn new(date: DateTime<Utc>) -> DateView {
        DateView {
            rfc3339: date.to_rfc3339_opts(SecondsFormat::Secs, true),
            // What `format("%-d %B %Y")` gives, without parsing the format each time
            // (a thousand dates on a post page).
            display: format!(
                "{} {} {}",
                date.day(),
                MONTHS
                    .get(date.month0() as usize)
                    .copied()
                    .unwrap_or_default(),
                date.year()
            ),
        }
    }
}

/// A link with its text, e.g. a tag or an author.
#[derive(Debug, Clone)]
pub(crate) struct LinkView {
    pub name: String,
    pub url: String,
}

impl LinkView {
    pub fn tag(tag: &Tag) -> LinkView {
        LinkView {
            name: tag.name.clone(),
            url: tag_path(&tag.slug),
        }
    }

    /// The author as linked from a post; `config` makes the URL absolute because it
    /// is the `u-url` of an `h-card`.
    pub fn author(author: Option<&Author>, config: &WebConfig) -> LinkView {
        match author {
            Some(author) => LinkView {
                name: author.display_name.clone(),
                url: config.absolute(&author_path(&author.username)),
            },
            // An author row cannot disappear while it has posts; this only keeps a
            // broken database from turning into a 500.
            None => LinkView {
                name: "Unknown author".to_owned(),
                url: config.absolute("/"),
            },
        }
    }
}

/// The head metadata of a page: canonical link, OpenGraph and pagination links.
/// Rendered by `templates/_meta.html`; every string is plain text.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// Absolute URL of this page.
    pub canonical: String,
    pub title: String,
    pub description: String,
    /// `website` or `article` (OpenGraph).
    pub og_type: &'static str,
    pub image: Option<String>,
    /// Only for articles.
    pub published_time: Option<String>,
    pub modified_time: Option<String>,
    /// Absolute URLs of the neighbouring pages of a listing.
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
    /// The ActivityPub id of what the page shows (a post's Note, an author's or the
    /// blog's actor), for `<link rel="alternate" type="application/activity+json">`.
    pub activity_alternate: Option<String>,
    /// `@user@host` of the post's author, for `<meta name="fediverse:creator">`
    /// (Mastodon credits the author on link previews).
    pub fediverse_creator: Option<String>,
}

impl Meta {
    /// Metadata of a page that is not an article.
    pub fn website(
        state: &AppState,
        site: &crate::layout::Site,
        path: &str,
        title: String,
        description: String,
    ) -> Meta {
        Meta {
            canonical: state.config.absolute(path),
            title,
            description,
            og_type: "website",
            image: site
                .avatar_url
                .as_deref()
                .and_then(|url| safe_url(url, Some(&state.config))),
            published_time: None,
            modified_time: None,
            prev_url: None,
            next_url: None,
            activity_alternate: None,
            fediverse_creator: None,
        }
    }

    /// Adds a listing's `rel=prev/next` links.
    pub fn with_pager(mut self, state: &AppState, pager: &Pager) -> Meta {
        self.prev_url = pager.prev.as_deref().map(|p| state.config.absolute(p));
        self.next_url = pager.next.as_deref().map(|p| state.config.absolute(p));
        self
    }
}

/// Where a listing page sits among its siblings. Paths are relative to the site.
#[derive(Debug, Clone)]
pub(crate) struct Pager {
    pub page: i64,
    pub total_pages: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// This page's own path (`/tags/x` for page 1, `/tags/x?page=3` after).
    pub path: String,
}

impl Pager {
    /// The pager of page `page` of `base_path` listing `total` items; an out-of-range
    /// page is a 404 (page 1 always exists, so that an empty blog has a home page).
    pub fn new(base_path: &str, page: i64, total: i64, per_page: i64) -> Result<Pager, AppError> {
        let per_page = per_page.max(1);
        let total_pages = ((total.max(0) + per_page - 1) / per_page).max(1);
        if page < 1 || page > total_pages {
            return Err(AppError::NotFound);
        }
        let path_of = |n: i64| {
            if n == 1 {
                base_path.to_owned()
            } else {
                format!("{base_path}?page={n}")
            }
        };
        Ok(Pager {
            page,
            total_pages,
            prev: (page > 1).then(|| path_of(page - 1)),
            next: (page < total_pages).then(|| path_of(page + 1)),
            path: path_of(page),
        })
    }
}

/// The `page` query parameter, strictly: digits only, no sign, no leading zero.
/// Anything else answers 404 (not 400): `/?page=abc` names no page that exists.
pub(crate) fn page_number(raw_query: Option<&str>) -> Result<i64, AppError> {
    let Some(query) = raw_query else {
        return Ok(1);
    };
    let value = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "page")
        .map(|(_, value)| value.into_owned());
    let Some(value) = value else {
        return Ok(1);
    };
    let number: u32 = value.parse().map_err(|_| AppError::NotFound)?;
    if number == 0 || number.to_string() != value {
        return Err(AppError::NotFound);
    }
    Ok(i64::from(number))
}

/// One post in a listing (home, tag, author pages).
#[derive(Debug, Clone)]
pub(crate) struct EntryView {
    pub title: String,
    /// Absolute permalink (the entry's `u-url`).
    pub url: String,
    pub published: DateView,
    pub author: LinkView,
    pub summary: Option<String>,
    pub tags: Vec<LinkView>,
    pub comments_label: String,
}

/// The authors of `posts` by id, in one query (none when there are no posts).
pub(crate) async fn authors_of(
    state: &AppState,
    posts: &[Post],
) -> Result<HashMap<AuthorId, Author>, AppError> {
    if posts.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(state
        .store
        .list_authors()
        .await?
        .into_iter()
        .map(|author| (author.id, author))
        .collect())
}

/// Turns a page of posts into listing entries. Costs one query for the authors and
/// one comment count per post (at most `posts_per_page` of them).
pub(crate) async fn entry_views(
    state: &AppState,
    posts: Vec<Post>,
) -> Result<Vec<EntryView>, AppError> {
    let authors = authors_of(state, &posts).await?;
    let mut entries = Vec::with_capacity(posts.len());
    for post in posts {
        let count = state.store.count_public_comments(post.id).await?;
        entries.push(EntryView {
            url: state.config.absolute(&post_path(&post.slug)),
            published: DateView::new(post.published_at),
            author: LinkView::author(authors.get(&post.author_id), &state.config),
            summary: post.summary.filter(|s| !s.trim().is_empty()),
            tags: post.tags.iter().map(LinkView::tag).collect(),
            comments_label: comments_label(count),
            title: post.title,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_chrono_writes_them() {
        use chrono::TimeZone;
        for (year, month, day) in [(2024, 1, 2), (2024, 3, 5), (1999, 12, 31), (2026, 9, 30)] {
            let date = Utc
                .with_ymd_and_hms(year, month, day, 23, 59, 0)
                .single()
                .unwrap_or_default();
            assert_eq!(
                DateView::new(date).display,
                date.format("%-d %B %Y").to_string()
            );
        }
    }

    #[test]
    fn page_numbers_are_parsed_strictly() {
        assert_eq!(page_number(None).ok(), Some(1));
        assert_eq!(page_number(Some("")).ok(), Some(1));
        assert_eq!(page_number(Some("utm_source=x")).ok(), Some(1));
        assert_eq!(page_number(Some("page=3")).ok(), Some(3));
        for junk in [
            "page=abc",
            "page=0",
            "page=-1",
            "page=+2",
            "page=02",
            "page=",
            "page=99999999999",
        ] {
            assert!(page_number(Some(junk)).is_err(), "{junk}");
        }
    }

    #[test]
    fn pager_links_page_one_without_a_query() {
        let pager = Pager::new("/tags/x", 2, 5, 2).ok();
        let pager = pager.as_ref();
        assert_eq!(pager.and_then(|p| p.prev.as_deref()), Some("/tags/x"));
        assert_eq!(
            pager.and_then(|p| p.next.as_deref()),
            Some("/tags/x?page=3")
        );
        assert_eq!(pager.map(|p| p.total_pages), Some(3));
        assert!(Pager::new("/", 4, 5, 2).is_err());
        assert!(Pager::new("/", 1, 0, 10).is_ok());
        assert!(Pager::new("/", 2, 0, 10).is_err());
    }

    #[test]
    fn only_http_urls_are_kept() {
        assert_eq!(
            safe_url("https://example.org/@ann", None).as_deref(),
            Some("https://example.org/@ann")
        );
        assert_eq!(safe_url("javascript:alert(1)", None), None);
        assert_eq!(safe_url("data:text/html,x", None), None);
        assert_eq!(safe_url("/static/a.png", None), None);
        assert_eq!(safe_url("not a url", None), None);
    }

    #[test]
    fn comment_counts_read_naturally() {
        assert_eq!(comments_label(0), "0 comments");
        assert_eq!(comments_label(1), "1 comment");
        assert_eq!(comments_label(2), "2 comments");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(post_path("hello-world"), "/posts/hello-world");
        assert_eq!(post_path("a b/c?d"), "/posts/a%20b%2Fc%3Fd");
        assert_eq!(post_path("été"), "/posts/%C3%A9t%C3%A9");
    }
}
