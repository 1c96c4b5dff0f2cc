//! Readers' comments through the form on the post page (`GLOSS_COMMENTS_LOCAL`): for
//! readers without a fediverse account. A plain HTML form, no script needed.
//!
//! ```text
//!  POST /posts/{slug}/comments
//!     │  cross-site (Origin / Sec-Fetch-Site)? ─► 403
//!     │  setting off? ─► 403        post missing, draft, deleted? ─► 404 / 410
//!     │  closed (by the author, or older than the closing age)? ─► 403
//!     │  more than 5 comments in 10 minutes from this client? ─► 429 (refused
//!     │  forms do not count; honeypot hits do)
//!     │  honeypot filled? ─► 303 "awaiting moderation", nothing stored
//!     │  name, website, text, parent invalid? ─► 400 with the reason, nothing stored
//!     ▼
//!  moderation rules (keyword: spam; > 2 links: held; mode: moderated holds, open publishes)
//!     ▼
//!  Store::add_comment (origin local, no ap id: never federated, in no collection)
//!     ▼
//!  303 to the post: `#comment-{id}` when published, else the "awaiting moderation" notice
//! ```
//!
//! The answer for a held comment, a comment marked spam and a honeypot hit is the same,
//! so that a spammer learns nothing from it. Names and texts are plain text: stored
//! escaped (the text as paragraphs), NUL and control characters stripped (checklist
//! C4, C8); pages show the name inside `<bdi>`.

use super::{post_path, published_post};
use crate::admin::session::{ClientIp, check_same_origin};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use gloss_federation::content::{plain_line, plain_text, plain_text_to_html};
use gloss_federation::moderation::{self, LocalComments, LocalSignals};
use gloss_storage::{CommentId, CommentOrigin, NewComment, Post};
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest website address, in bytes.
pub const MAX_WEBSITE_LEN: usize = 500;
/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 5_000;
/// Comments one client may submit per [`RATE_WINDOW`].
pub const RATE_LIMIT: u32 = 5;
/// The window of the per-client limit.
pub const RATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The form's fields as sent. Every field defaults to empty, so that a missing one is
/// reported like an empty one.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CommentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    comment: String,
    /// The id of the comment answered, or empty for a comment on the post.
    #[serde(default)]
    parent: String,
    /// The honeypot: hidden by CSS and from screen readers, so only robots fill it.
    #[serde(default)]
    subject: String,
}

/// A comment that passed the checks.
#[derive(Debug, PartialEq, Eq)]
struct ValidComment {
    name: String,
    website: Option<String>,
    /// The text as typed (NUL and control characters removed).
    text: String,
    parent: Option<CommentId>,
}

/// Checks the fields (not the parent's existence, which needs the store).
fn validate(form: &CommentForm) -> Result<ValidComment, String> {
    let raw_name = form.name.replace('\0', "");
    if raw_name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "Your name must be at most {MAX_NAME_CHARS} characters long."
        ));
    }
    let name = plain_line(&raw_name, MAX_NAME_CHARS);
    if name.is_empty() {
        return Err("Please give your name.".to_owned());
    }
    let website = match form.website.trim() {
        "" => None,
        text => Some(check_website(text)?),
    };
    let raw_text = form.comment.replace('\0', "");
    if raw_text.chars().count() > MAX_COMMENT_CHARS {
        return Err(format!(
            "The comment must be at most {MAX_COMMENT_CHARS} characters long."
        ));
    }
    let text = plain_text(&raw_text, MAX_COMMENT_CHARS);
    if text.is_empty() {
        return Err("The comment is empty.".to_owned());
    }
    let parent = match form.parent.trim() {
        "" => None,
        id => Some(CommentId(id.parse::<i64>().map_err(|_| {
            "The comment you reply to does not exist.".to_owned()
        })?)),
    };
    Ok(ValidComment {
        name,
        website,
        text,
        parent,
    })
}

/// A website must be an absolute http(s) URL: it becomes a link on the page.
fn check_website(text: &str) -> Result<String, String> {
    let refused = || "The website must be a full address starting with https:// or http://.";
    if text.len() > MAX_WEBSITE_LEN {
        return Err(format!(
            "The website address must be at most {MAX_WEBSITE_LEN} characters long."
        ));
    }
    let url = url::Url::parse(text).map_err(|_| refused().to_owned())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(refused().to_owned());
    }
    Ok(url.to_string())
}

/// Links in a plain-text comment: words that are web addresses.
fn count_text_links(text: &str) -> usize {
    text.split_whitespace()
        .map(|word| word.trim_start_matches(|c: char| !c.is_alphanumeric()))
        .filter(|word| {
            let lower = word.to_ascii_lowercase();
            lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("www.")
        })
        .count()
}

/// The rate limit's key: the address, IPv6 by its /64 (one subscriber's network, as
/// Mastodon's rack-attack buckets them).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            for segment in segments.iter_mut().skip(4) {
                *segment = 0;
            }
            IpAddr::V6(std::net::Ipv6Addr::from(segments))
        }
    }
}

/// Whether `post` takes comments now: not closed by its author, not older than the
/// closing age.
pub(crate) fn takes_comments(state: &AppState, post: &Post) -> bool {
    post.comments_open
        && state
            .federation
            .comments_open_by_age(post.published_at, Utc::now())
}

/// Where the reader goes after a comment that is not published (yet).
fn pending_answer(post: &Post) -> Response {
    Redirect::to(&format!(
        "{}?comment=pending#comment-form",
        post_path(&post.slug)
    ))
    .into_response()
}

/// `POST /posts/{slug}/comments`.
pub(crate) async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    slug: Result<Path<String>, PathRejection>,
    form: Result<Form<CommentForm>, FormRejection>,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.config)?;
    let mode = state.federation.local_comments();
    if mode == LocalComments::Off {
        return Err(AppError::Forbidden(
            "Comments from readers are turned off on this blog.".to_owned(),
        ));
    }
    let slug = super::path_param(slug)?;
    let post = published_post(&state, &slug).await?;
    if !takes_comments(&state, &post) {
        return Err(AppError::Forbidden(
            "Comments are closed on this post.".to_owned(),
        ));
    }
    let client = client_key(ip);
    if !state.comment_limiter.allows(client) {
        tracing::info!(client = %client, "reader comment rate limit reached");
        return Err(AppError::TooManyRequests);
    }
    let Ok(Form(form)) = form else {
        return Err(AppError::BadRequest(
            "The comment form could not be read. Please send it from the post page.".to_owned(),
        ));
    };
    if !form.subject.trim().is_empty() {
        state.comment_limiter.record_failure(client);
        tracing::info!(client = %client, post = %post.slug, "reader comment dropped: honeypot filled");
        return Ok(pending_answer(&post));
    }
    let valid = validate(&form).map_err(AppError::BadRequest)?;
    let parent = match valid.parent {
        None => None,
        Some(id) => {
            let parent = state
                .store
                .comment_by_id(id)
                .await?
                .filter(|parent| parent.post_id == post.id && parent.is_public())
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "The comment you reply to is not on this post, or is not shown.".to_owned(),
                    )
                })?;
            Some(parent)
        }
    };
    // Only what would be stored counts against the limit: a reader correcting a
    // refused form is not punished for it.
    state.comment_limiter.record_failure(client);
    let keywords = state.store.blog_settings().await?.disallowed_keywords;
    let website = valid.website.as_deref().unwrap_or_default();
    let decision = moderation::decide_local(
        mode,
        &LocalSignals {
            links: count_text_links(&valid.text),
            keyword: moderation::keyword_hit(&keywords, &[&valid.text, &valid.name, website]),
            parent_shown: parent.as_ref().is_none_or(|parent| parent.is_public()),
        },
    );
    let comment = state
        .store
        .add_comment(NewComment {
            post_id: post.id,
            parent_id: parent.map(|parent| parent.id),
            author_name: valid.name,
            author_url: valid.website,
            author_avatar_url: None,
            author_email: None,
            content_html: plain_text_to_html(&valid.text),
            origin: CommentOrigin::Local,
            moderation: decision.state,
            ap_id: None,
            published_at: Utc::now(),
            import_key: None,
            moderation_reason: Some(decision.reason),
        })
        .await?;
    tracing::info!(comment = %comment.id, post = %post.slug, state = comment.moderation.as_str(), "reader comment stored");
    if comment.is_public() {
        Ok(
            Redirect::to(&format!("{}#comment-{}", post_path(&post.slug), comment.id))
                .into_response(),
        )
    } else {
        Ok(pending_answer(&post))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, website: &str, comment: &str, parent: &str) -> CommentForm {
        CommentForm {
            name: name.to_owned(),
            website: website.to_owned(),
            comment: comment.to_owned(),
            parent: parent.to_owned(),
            subject: String::new(),
        }
    }

    #[test]
    fn a_plain_comment_passes_with_its_name_cleaned() {
        let valid = validate(&form(
            " Ann\u{0}\n Lee ",
            "https://ann.example/",
            "Hi\u{0}!",
            "",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(valid.name, "Ann Lee");
        assert_eq!(valid.website.as_deref(), Some("https://ann.example/"));
        assert_eq!(valid.text, "Hi!");
        assert_eq!(valid.parent, None);
        let reply = validate(&form("Ann", "", "Hi", "12")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reply.parent, Some(CommentId(12)));
    }

    #[test]
    fn bad_fields_are_refused_with_a_reason() {
        for (bad, why) in [
            (form("  ", "", "Hi", ""), "name"),
            (form(&"n".repeat(MAX_NAME_CHARS + 1), "", "Hi", ""), "name"),
            (form("Ann", "", " \n ", ""), "empty"),
            (
                form("Ann", "", &"x".repeat(MAX_COMMENT_CHARS + 1), ""),
                "characters",
            ),
            (form("Ann", "javascript:alert(1)", "Hi", ""), "https://"),
            (form("Ann", "ftp://ann.example/", "Hi", ""), "https://"),
            (
                form("Ann", "https://u:p@ann.example/", "Hi", ""),
                "https://",
            ),
            (form("Ann", "ann.example", "Hi", ""), "https://"),
            (form("Ann", "", "Hi", "1 OR 1=1"), "reply"),
        ] {
            let err = validate(&bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} passed"));
            assert!(err.contains(why), "{err}");
        }
        assert!(validate(&form("Ann", "", &"x".repeat(MAX_COMMENT_CHARS), "")).is_ok());
    }

    #[test]
    fn links_are_counted_in_the_text() {
        assert_eq!(count_text_links("no links here"), 0);
        assert_eq!(
            count_text_links("see https://a.example and (http://b.example) or www.c.example"),
            3
        );
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client_key(v4), v4);
    }
}
