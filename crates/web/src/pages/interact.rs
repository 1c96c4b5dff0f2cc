//! "Reply from your fediverse account" and "Follow this blog": plain HTML forms (no
//! JavaScript) that send a reader to their own server with one of our objects ready
//! to reply to or follow. The lookup itself is `gloss_federation::interaction`.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /interact?uri=…` | the form for one object (comments link here) |
//! | `GET /interact/go?uri=…&account=…&remember=1` | finds the reader's server's page, answers `303` to it |
//! | `POST /interact/forget` | forgets the remembered account |
//! | `GET /authorize_interaction?uri=…` | what our WebFinger advertises; see [`authorize_interaction`] |
//!
//! The submit is a GET: it has no side effect on the blog, so it is bookmarkable and
//! needs no CSRF token. Its two effects on the reader's browser are guarded instead:
//!
//! - **Redirect.** `/interact/go` redirects only for our own objects (`uri` must be the
//!   blog, an author, a published post or a public comment we hold, else 400), only to
//!   the domain the reader typed (see `interaction::fill_template`), and only when the
//!   request comes from our own form or the reader's own bookmark (`Sec-Fetch-Site`
//!   `same-origin` or `none`, or a same-origin `Referer` from older browsers). A link
//!   from another site gets the form pre-filled and a button to confirm, so Gloss is
//!   no open redirector (checklist C12).
//! - **Remembering.** The account is kept in the `gloss_fediverse` cookie (HttpOnly,
//!   SameSite=Lax, Secure over https, one year) only under the same condition, so
//!   another site cannot plant a handle of its choosing. Pages that show a remembered
//!   account are marked `Cache-Control: private` and `Vary: Cookie`.
//!
//! Each lookup that contacts another server counts against a per-client limit
//! ([`LOOKUPS_PER_WINDOW`] per [`LOOKUP_WINDOW`]), so the form cannot be used to make
//! Gloss hammer a third party; over it, a handle gets 429 and a bare server name the
//! Mastodon convention without any request.
//!
//! Once a post's comments are closed, its reply form and its comments' reply links are
//! gone, and `/interact` refuses them (our inbox would refuse the reply); following the
//! blog still works.

use super::{author_path, post_path, published_post};
use crate::admin::session::{ClientIp, cookie_value};
use crate::error::AppError;
use crate::layout::Site;
use crate::state::{AppState, RateLimiter, WebConfig};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use gloss_federation::discovery::{WebfingerTarget, parse_resource};
use gloss_federation::interaction::{
    self, AccountError, InteractionError, ReaderAccount, parse_reader_account,
};
use gloss_storage::PostStatus;
use std::sync::Arc;
use std::time::Duration;

/// The cookie that remembers the reader's account (`@user@host` or `host`).
pub const ACCOUNT_COOKIE: &str = "gloss_fediverse";

/// How long the browser remembers the account.
const ACCOUNT_COOKIE_MAX_AGE: i64 = 365 * 24 * 60 * 60;

/// Outbound lookups allowed per client address and window.
pub const LOOKUPS_PER_WINDOW: u32 = 10;

/// The window of [`LOOKUPS_PER_WINDOW`].
pub const LOOKUP_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Longest `uri` parameter considered.
const MAX_URI_LENGTH: usize = 2048;

/// The limiter of outbound lookups, one per application (no global state).
#[derive(Clone)]
struct LookupLimiter(Arc<RateLimiter>);

/// The routes of this module, merged into the public pages by `pages::routes`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/interact", get(interact_page))
        .route("/interact/go", get(interact_go))
        .route("/interact/forget", post(forget))
        .route("/authorize_interaction", get(authorize_interaction))
        .layer(Extension(LookupLimiter(Arc::new(RateLimiter::new(
            LOOKUPS_PER_WINDOW,
            LOOKUP_WINDOW,
        )))))
}

/// Removes the "Reply from your account" links of a thread whose post is closed to
/// comments. Recursion is bounded by the thread's rendered depth (`MAX_NESTING`).
pub(crate) fn without_reply_links(comments: &mut [super::comments::CommentView]) {
    for comment in comments {
        comment.interact_url = None;
        without_reply_links(&mut comment.replies);
    }
}

/// `/interact?uri=…` for `object_uri`: where each comment's "Reply from your account"
/// link points.
pub(crate) fn interact_path(object_uri: &str) -> String {
    format!(
        "/interact?uri={}",
        interaction::percent_encode_component(object_uri)
    )
}

/// One form of `templates/_interact.html`: the account field for one object.
#[derive(Debug, Clone)]
pub(crate) struct InteractForm {
    /// Unique on the page, for the label's `for`.
    pub id: &'static str,
    pub heading: &'static str,
    pub button: &'static str,
    /// The object's ActivityPub id, sent back as `uri`.
    pub object_uri: String,
    /// The remembered account, or empty.
    pub remembered: String,
    /// This object's `/interact` page, where a remembered account can be forgotten.
    pub page: String,
    /// A line under the form (the blog's handle, for those who prefer to search it).
    pub hint: Option<String>,
}

/// The forms a page shows, rendered by `templates/_interact.html` (one include line).
#[derive(Debug, Clone, Default)]
pub(crate) struct InteractPanel {
    pub forms: Vec<InteractForm>,
}

impl InteractPanel {
    /// "Reply from your fediverse account" for `object_uri`.
    pub fn reply(object_uri: String, remembered: &Option<String>) -> InteractForm {
        InteractForm {
            id: "interact-reply",
            heading: "Reply from your fediverse account",
            button: "Reply",
            page: interact_path(&object_uri),
            object_uri,
            remembered: remembered.clone().unwrap_or_default(),
            hint: None,
        }
    }

    /// "Follow this blog": the blog actor, with its handle as a hint.
    pub fn follow_blog(state: &AppState, remembered: &Option<String>) -> InteractForm {
        let urls = state.federation.urls();
        InteractForm {
            id: "interact-follow",
            heading: "Follow this blog",
            button: "Follow",
            page: interact_path(&urls.blog_actor()),
            object_uri: urls.blog_actor(),
            remembered: remembered.clone().unwrap_or_default(),
            hint: Some(format!(
                "Or search for @{}@{} on your server.",
                state.federation.settings().blog_handle,
                urls.host()
            )),
        }
    }
}

/// The account the browser remembers, if the cookie holds a valid one (it is parsed
/// again: a cookie is input like any other).
pub(crate) fn remembered_account(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, ACCOUNT_COOKIE)
        .and_then(|value| parse_reader_account(value).ok())
        .map(|account| account.to_string())
}

/// The headers of a page that carries interaction forms:
///
/// - its Content-Security-Policy allows form submissions to end on another server.
///   Browsers apply `form-action` to the redirects that follow a submission (Chromium
///   does), so the site-wide `form-action 'self'` would block the 303 to the reader's
///   server. Only these pages get `form-action 'self' https:` (and `http:` on a test
///   network, where servers may be plain http); every other directive is unchanged.
/// - a page that shows the reader's remembered account is marked as theirs alone
///   (`Cache-Control: private`, `Vary: Cookie`), so no shared cache hands it to someone
///   else.
pub(crate) fn interact_page_headers(
    state: &AppState,
    remembered: bool,
    response: impl IntoResponse,
) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    let allow_http = state.federation.settings().allow_private_addresses;
    if let Ok(policy) = HeaderValue::from_str(&interact_content_security_policy(allow_http)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    if remembered {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
        headers.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
    response
}

/// The site-wide policy with `form-action` widened for [`interact_page_headers`].
fn interact_content_security_policy(allow_http: bool) -> String {
    let widened = if allow_http {
        "form-action 'self' https: http:"
    } else {
        "form-action 'self' https:"
    };
    crate::security::CONTENT_SECURITY_POLICY.replace("form-action 'self'", widened)
}

/// One of our objects, found from a `uri` parameter.
#[derive(Debug, Clone)]
struct OurObject {
    /// Its canonical ActivityPub id (what is sent to the reader's server).
    uri: String,
    /// Its page here (a same-origin path).
    page: String,
    /// What it is, in words ("the post “Hello”").
    label: String,
    follow: bool,
    /// A post or comment whose post no longer takes comments.
    comments_closed: bool,
}

/// Like [`our_object`], for the forms: a post or comment whose post is closed to
/// comments is refused too (our inbox would refuse the reply).
async fn object_to_interact_with(
    state: &AppState,
    raw: Option<&str>,
) -> Result<OurObject, AppError> {
    let object = our_object(state, raw).await?;
    if object.comments_closed {
        return Err(AppError::BadRequest(
            "Comments on this post are closed.".to_owned(),
        ));
    }
    Ok(object)
}

/// Finds the object a `uri` parameter names, or 400: only the blog, an author, a
/// published post and a public comment we hold (remote ones and author replies, which
/// have an id) qualify.
async fn our_object(state: &AppState, raw: Option<&str>) -> Result<OurObject, AppError> {
    let not_ours = || {
        AppError::BadRequest(
            "This address is not a post, comment or account of this blog.".to_owned(),
        )
    };
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() || raw.len() > MAX_URI_LENGTH {
        return Err(not_ours());
    }
    let mut parsed = url::Url::parse(raw).map_err(|_| not_ours())?;
    // Comments first: an author reply's id may live under one of our post URLs. A
    // comment without a fediverse id of its own is named by its `/comments/ID` Note.
    let held = gloss_federation::comment_notes::comment_named_by(
        state.store.as_ref(),
        state.federation.urls(),
        raw,
    )
    .await?;
    if let Some(comment) = held {
        let post = match comment.is_public() {
            true => state.store.post_by_id(comment.post_id).await?,
            false => None,
        }
        .filter(|post| post.status == PostStatus::Published)
        .ok_or_else(not_ours)?;
        return Ok(OurObject {
            uri: comment
                .ap_id
                .clone()
                .unwrap_or_else(|| state.federation.urls().comment(comment.id.0)),
            page: format!("{}#comment-{}", post_path(&post.slug), comment.id),
            label: format!(
                "the comment by {} on “{}”",
                comment.author_name.trim(),
                post.title
            ),
            follow: false,
            comments_closed: !super::local_comments::takes_comments(state, &post),
        });
    }
    parsed.set_fragment(None);
    let urls = state.federation.urls();
    let ours = &state.config.public_url;
    let same_origin = parsed.scheme() == ours.scheme()
        && parsed.host_str() == ours.host_str()
        && parsed.port_or_known_default() == ours.port_or_known_default()
        && parsed.query().is_none();
    if same_origin {
        let path = parsed.path().trim_end_matches('/');
        let base_path = ours.path().trim_end_matches('/');
        let local = path.strip_prefix(base_path).unwrap_or(path);
        if local == "/blog" || local.is_empty() {
            let title = state.store.blog_settings().await?.title;
            return Ok(OurObject {
                uri: urls.blog_actor(),
                page: "/".to_owned(),
                label: format!("the blog “{title}”"),
                follow: true,
                comments_closed: false,
            });
        }
        if let Some(name) = local.strip_prefix("/authors/")
            && !name.is_empty()
            && !name.contains('/')
            && name.len() <= 64
        {
            let author = state
                .store
                .author_by_username(&percent_decode(name).ok_or_else(not_ours)?)
                .await?
                .ok_or_else(not_ours)?;
            return Ok(OurObject {
                uri: urls.author_actor(&author.username),
                page: author_path(&author.username),
                label: format!(
                    "{} (@{}@{})",
                    author.display_name,
                    author.username,
                    urls.host()
                ),
                follow: true,
                comments_closed: false,
            });
        }
    }
    if let Some(slug) = urls.post_slug_of(parsed.as_str()) {
        let slug = percent_decode(&slug).ok_or_else(not_ours)?;
        let post = match published_post(state, &slug).await {
            Ok(post) => post,
            Err(AppError::NotFound | AppError::Gone) => return Err(not_ours()),
            Err(other) => return Err(other),
        };
        return Ok(OurObject {
            uri: urls.post(&post.slug),
            page: post_path(&post.slug),
            label: format!("the post “{}”", post.title),
            follow: false,
            comments_closed: !super::local_comments::takes_comments(state, &post),
        });
    }
    Err(not_ours())
}

/// Decodes `%XX` escapes of a path segment; `None` if the result is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The query parameters of these routes.
#[derive(Debug, Default)]
struct InteractQuery {
    uri: Option<String>,
    account: Option<String>,
    remember: bool,
}

impl InteractQuery {
    fn parse(raw: Option<&str>) -> InteractQuery {
        let mut query = InteractQuery::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match &*key {
                "uri" if query.uri.is_none() => query.uri = Some(value.into_owned()),
                "account" if query.account.is_none() => query.account = Some(value.into_owned()),
                "remember" => query.remember = value == "1" || value == "on",
                _ => {}
            }
        }
        query
    }
}

#[derive(Template)]
#[template(path = "interact.html")]
struct InteractPage {
    site: Site,
    heading: String,
    /// What the form is about, as a link to its page here.
    object_label: Option<String>,
    object_page: Option<String>,
    /// The object's id, for readers who prefer to paste it into their server's search.
    object_uri: Option<String>,
    intro: Option<String>,
    error: Option<String>,
    interact: InteractPanel,
    /// Offer to forget the remembered account.
    remembered: bool,
}

/// Renders the page of the form for `object`, with an optional error, at `status`.
async fn form_page(
    state: &AppState,
    object: &OurObject,
    prefill: Option<String>,
    remembered: bool,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let form = if object.follow {
        InteractForm {
            heading: "Follow from your fediverse account",
            button: "Follow",
            ..InteractPanel::reply(object.uri.clone(), &prefill)
        }
    } else {
        InteractPanel::reply(object.uri.clone(), &prefill)
    };
    let page = InteractPage {
        site: Site::load(state).await?,
        heading: form.heading.to_owned(),
        object_label: Some(object.label.clone()),
        object_page: Some(object.page.clone()),
        object_uri: Some(object.uri.clone()),
        intro: None,
        error,
        interact: InteractPanel { forms: vec![form] },
        remembered,
    };
    let mut response = interact_page_headers(state, false, (status, Html(page.render()?)));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /interact?uri=…`: the form for one of our objects, pre-filled with the
/// remembered account.
async fn interact_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let query = InteractQuery::parse(raw.as_deref());
    let object = object_to_interact_with(&state, query.uri.as_deref()).await?;
    let remembered = remembered_account(&headers);
    let has_cookie = remembered.is_some();
    form_page(
        &state,
        &object,
        remembered,
        has_cookie,
        None,
        StatusCode::OK,
    )
    .await
}

/// `GET /interact/go`: looks up the reader's server and sends them there (303).
async fn interact_go(
    State(state): State<AppState>,
    Extension(limiter): Extension<LookupLimiter>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let query = InteractQuery::parse(raw.as_deref());
    let object = object_to_interact_with(&state, query.uri.as_deref()).await?;
    let has_cookie = remembered_account(&headers).is_some();
    let typed = query.account.unwrap_or_default();
    let account = match parse_reader_account(&typed) {
        Ok(account) => account,
        Err(error) => {
            let status = match error {
                AccountError::Empty | AccountError::Malformed | AccountError::TooLong => {
                    StatusCode::BAD_REQUEST
                }
            };
            let prefill = (typed.len() <= interaction::MAX_ACCOUNT_LENGTH).then_some(typed);
            return form_page(
                &state,
                &object,
                prefill,
                has_cookie,
                Some(error.to_string()),
                status,
            )
            .await;
        }
    };
    if !initiated_here(&headers, &state.config) {
        // A link from elsewhere: show the filled-in form and let the reader confirm.
        return form_page(
            &state,
            &object,
            Some(account.to_string()),
            has_cookie,
            None,
            StatusCode::OK,
        )
        .await;
    }
    // Over the limit, a bare server name still works: without asking its NodeInfo, it
    // gets the Mastodon convention.
    let within_limit = limiter.0.allows(client);
    if account.user().is_some() && !within_limit {
        return form_page(
            &state,
            &object,
            Some(account.to_string()),
            has_cookie,
            Some(
                "Too many lookups from your address. Wait a few minutes and try again.".to_owned(),
            ),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    if within_limit {
        // The limiter's counter counts every lookup here, not only failed ones.
        limiter.0.record_failure(client);
    }
    match interaction::interaction_url(&state.federation, &account, &object.uri, within_limit).await
    {
        Ok(target) => Ok(redirect_to_server(
            &target,
            query.remember.then_some(&account),
            &state.config,
        )),
        Err(error) => {
            let status = match error {
                InteractionError::UnknownAccount(_) => StatusCode::NOT_FOUND,
                InteractionError::Refused(_) => StatusCode::BAD_REQUEST,
                InteractionError::Unreachable { .. }
                | InteractionError::BadAnswer { .. }
                | InteractionError::NoTemplate(_) => StatusCode::BAD_GATEWAY,
            };
            form_page(
                &state,
                &object,
                Some(account.to_string()),
                has_cookie,
                Some(error.to_string()),
                status,
            )
            .await
        }
    }
}

/// The 303 to the reader's server, remembering `account` when asked.
fn redirect_to_server(
    target: &url::Url,
    remember: Option<&ReaderAccount>,
    config: &WebConfig,
) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // A parsed URL serializes to ASCII without control characters: always a valid header.
    if let Ok(location) = HeaderValue::from_str(target.as_str()) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(account) = remember {
        headers.append(
            header::SET_COOKIE,
            account_cookie(config, &account.to_string(), ACCOUNT_COOKIE_MAX_AGE),
        );
    }
    response
}

/// `Set-Cookie` for the remembered account; `max_age` 0 forgets it.
fn account_cookie(config: &WebConfig, value: &str, max_age: i64) -> HeaderValue {
    let mut text =
        format!("{ACCOUNT_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax");
    if config.secure_cookies() {
        text.push_str("; Secure");
    }
    // The value is a normalized account (see `ReaderAccount`'s Display) or empty.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the request comes from our own pages or the reader's own bookmark or
/// address bar, not from a link or form on another site.
fn initiated_here(headers: &HeaderMap, config: &WebConfig) -> bool {
    match headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        Some(site) => site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"),
        // Browsers from before Fetch Metadata: trust a Referer from our own origin only.
        None => headers
            .get(header::REFERER)
            .and_then(|value| value.to_str().ok())
            .and_then(|referer| url::Url::parse(referer).ok())
            .is_some_and(|referer| referer.origin() == config.public_url.origin()),
    }
}

/// The fields of the forget form.
#[derive(Debug, serde::Deserialize)]
struct ForgetForm {
    #[serde(default)]
    uri: String,
}

/// `POST /interact/forget`: the browser forgets the account, and goes back to the
/// form it came from (a path we build, never one taken from the request).
async fn forget(
    State(state): State<AppState>,
    form: Result<Form<ForgetForm>, FormRejection>,
) -> Response {
    let back = match form {
        Ok(Form(form)) => match our_object(&state, Some(&form.uri)).await {
            Ok(object) => interact_path(&object.uri),
            Err(_) => "/".to_owned(),
        },
        Err(_) => "/".to_owned(),
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&back) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::SET_COOKIE, account_cookie(&state.config, "", 0));
    response
}

/// `GET /authorize_interaction?uri=…`: the subscribe template our WebFinger advertises.
///
/// Someone arrives here after typing one of *our* handles as their own account on
/// another server's "follow" or "reply" dialog. Gloss has no reader accounts that
/// could follow or reply from here, so it cannot do what was asked. The path is still
/// served rather than no longer advertised, because Mastodon guesses this very path for
/// servers that advertise no template: the reader would land here either way, and a
/// page that explains (and offers to follow the blog from their real account) beats a
/// 404. For one of our own objects it redirects to that object's page (a same-origin
/// path, never the `uri` itself: checklist C12).
async fn authorize_interaction(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let query = InteractQuery::parse(raw.as_deref());
    let own_page = match our_object(&state, query.uri.as_deref()).await {
        Ok(object) => Some(object.page),
        Err(_) => our_account_page(&state, query.uri.as_deref()).await?,
    };
    if let Some(page) = own_page {
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(location) = HeaderValue::from_str(&page) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return Ok(response);
    }
    let remembered = remembered_account(&headers);
    let has_cookie = remembered.is_some();
    let site = Site::load(&state).await?;
    let page = InteractPage {
        heading: "This blog has no accounts to follow or reply from".to_owned(),
        intro: Some(format!(
            "{} is a blog that takes its comments from the fediverse: nobody can sign in \
             here to follow someone or to reply. To follow or reply, use the account you \
             have on your own server. To follow this blog, enter that account below.",
            site.title
        )),
        site,
        object_label: None,
        object_page: None,
        object_uri: None,
        error: None,
        interact: InteractPanel {
            forms: vec![InteractPanel::follow_blog(&state, &remembered)],
        },
        remembered: has_cookie,
    };
    Ok(interact_page_headers(
        &state,
        has_cookie,
        Html(page.render()?),
    ))
}

/// The page of one of our actors named by an `acct:` URI (older Mastodon versions send
/// those to the subscribe template), if it names one.
async fn our_account_page(state: &AppState, raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(raw) = raw
        .map(str::trim)
        .filter(|raw| raw.len() <= MAX_URI_LENGTH && raw.to_ascii_lowercase().starts_with("acct:"))
    else {
        return Ok(None);
    };
    let urls = state.federation.urls();
    let blog_handle = &state.federation.settings().blog_handle;
    Ok(match parse_resource(raw, urls, blog_handle) {
        Ok(WebfingerTarget::Blog | WebfingerTarget::Instance) => Some("/".to_owned()),
        Ok(WebfingerTarget::Author(username)) if username.len() <= 64 => state
            .store
            .author_by_username(&username)
            .await?
            .map(|author| author_path(&author.username)),
        Ok(WebfingerTarget::Author(_)) | Err(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_form_action_is_widened_on_pages_with_interaction_forms() {
        let site = crate::security::CONTENT_SECURITY_POLICY;
        let production = interact_content_security_policy(false);
        assert_ne!(
            production, site,
            "the site-wide policy still has form-action 'self'"
        );
        assert_eq!(
            production.replace("form-action 'self' https:", "form-action 'self'"),
            site
        );
        assert!(!production.contains("http:"));
        assert!(interact_content_security_policy(true).contains("form-action 'self' https: http:"));
    }

    #[test]
    fn the_account_cookie_is_secure_on_an_https_blog_only() {
        let config = |url: &str| WebConfig {
            public_url: url::Url::parse(url).unwrap_or_else(|_| unreachable!()),
            posts_per_page: 10,
        };
        let https = account_cookie(&config("https://blog.example"), "@ann@social.example", 60);
        assert_eq!(
            https.to_str().unwrap_or_default(),
            "gloss_fediverse=@ann@social.example; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let http = account_cookie(&config("http://127.0.0.1:8080"), "", 0);
        assert_eq!(
            http.to_str().unwrap_or_default(),
            "gloss_fediverse=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn percent_decoding_is_strict_about_utf8_and_lenient_about_stray_percents() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%C3%A9t%C3%A9").as_deref(), Some("été"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn the_interact_path_carries_the_whole_uri_in_one_parameter() {
        assert_eq!(
            interact_path("https://b.example/posts/a?x=1&y=2#c"),
            "/interact?uri=https%3A%2F%2Fb.example%2Fposts%2Fa%3Fx%3D1%26y%3D2%23c"
        );
    }

    #[test]
    fn only_same_origin_or_user_initiated_requests_count_as_ours() {
        let config = WebConfig {
            public_url: url::Url::parse("https://blog.example").unwrap_or_else(|_| unreachable!()),
            posts_per_page: 10,
        };
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            initiated_here(&headers, &config)
        };
        assert!(with(&[("sec-fetch-site", "same-origin")]));
        assert!(with(&[("sec-fetch-site", "none")]));
        assert!(!with(&[("sec-fetch-site", "cross-site")]));
        assert!(!with(&[("sec-fetch-site", "same-site")]));
        assert!(!with(&[
            ("sec-fetch-site", "cross-site"),
            ("referer", "https://blog.example/posts/a")
        ]));
        assert!(with(&[("referer", "https://blog.example/posts/a")]));
        assert!(!with(&[("referer", "https://blog.example.evil/posts/a")]));
        assert!(!with(&[("referer", "http://blog.example/posts/a")]));
        assert!(!with(&[]));
    }
}
