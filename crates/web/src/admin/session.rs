//! Admin sessions, cookies and CSRF protection.
//!
//! A session is a random 32-byte token in the `gloss_session` cookie; the database
//! keeps only its SHA-256, so a leaked database does not leak live sessions. Each
//! session carries its own random CSRF token (synchronizer token pattern): every
//! admin form has a hidden `csrf_token` field that [`AdminForm`] compares with it.
//!
//! The login and setup forms are posted before any session exists. They use a
//! double-submit cookie instead ([`CookieCsrfForm`]): the page sets a random
//! `gloss_csrf` cookie and repeats its value in a hidden field; another site can
//! make a browser send the cookie but cannot read it to fill in the field.
//!
//! On top of both, every admin POST whose `Origin` header (or `Sec-Fetch-Site`)
//! says it comes from another site is refused outright ([`check_same_origin`]).

use crate::admin::auth::constant_time_eq;
use crate::error::AppError;
use crate::state::{AppState, WebConfig};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use gloss_storage::{Author, AuthorId, Session};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "gloss_session";
/// Name of the double-submit CSRF cookie of the login and setup forms.
pub const LOGIN_CSRF_COOKIE: &str = "gloss_csrf";
/// How long a session lasts after login.
pub const SESSION_DAYS: i64 = 30;

/// A logged-in author, extracted from the session cookie. Handlers that take it
/// are reachable only when logged in: without a valid session the request is
/// redirected (303) to the login page, which comes back here afterwards.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub author: Author,
    /// The session's CSRF token, to put in every form of the page.
    pub csrf_token: String,
}

/// A random 32-byte secret, base64url without padding (43 characters).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores in place of a session token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// Whether `token` looks like one of our random tokens (cheap check before any lookup).
fn is_well_formed_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn cookie(
    config: &WebConfig,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut text = format!("{name}={value}; HttpOnly; SameSite={same_site}; Path=/admin");
    if let Some(seconds) = max_age {
        text.push_str(&format!("; Max-Age={seconds}"));
    }
    if config.secure_cookies() {
        text.push_str("; Secure");
    }
    // Only our own base64url tokens and fixed names go in: always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` value that stores the session token.
fn session_cookie(config: &WebConfig, token: &str) -> HeaderValue {
    cookie(
        config,
        SESSION_COOKIE,
        token,
        "Lax",
        Some(SESSION_DAYS * 24 * 60 * 60),
    )
}

/// `Set-Cookie` value that removes the session cookie.
pub(crate) fn expired_session_cookie(config: &WebConfig) -> HeaderValue {
    cookie(config, SESSION_COOKIE, "", "Lax", Some(0))
}

/// Starts a new session for `author` (a fresh token on every login: no session
/// fixation) and returns the `Set-Cookie` value that hands it to the browser.
pub(crate) async fn start_session(
    state: &AppState,
    author: AuthorId,
) -> Result<HeaderValue, AppError> {
    let token = random_token();
    let now = Utc::now();
    // Logging in is rare: a good moment to forget sessions that ran out.
    state.store.purge_expired_sessions(now).await?;
    state
        .store
        .create_session(&Session {
            token_hash: token_hash(&token),
            author_id: author,
            csrf_token: random_token(),
            expires_at: now + Duration::days(SESSION_DAYS),
        })
        .await?;
    Ok(session_cookie(&state.config, &token))
}

/// Ends the session whose cookie the request carries, if any.
pub(crate) async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    if let Some(token) = cookie_value(headers, SESSION_COOKIE).filter(|t| is_well_formed_token(t)) {
        state.store.delete_session(&token_hash(token)).await?;
    }
    Ok(())
}

/// The logged-in author of the request, if its session cookie names a live session.
pub(crate) async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<AdminSession>, AppError> {
    let Some(token) = cookie_value(headers, SESSION_COOKIE).filter(|t| is_well_formed_token(t))
    else {
        return Ok(None);
    };
    let Some(session) = state
        .store
        .session_by_token_hash(&token_hash(token), Utc::now())
        .await?
    else {
        return Ok(None);
    };
    Ok(state
        .store
        .author_by_id(session.author_id)
        .await?
        .map(|author| AdminSession {
            author,
            csrf_token: session.csrf_token,
        }))
}

/// `next` if it is safe to redirect to after login: a path on this site. Anything
/// that a browser could read as another origin (`//host`, `/\host`, `https://...`)
/// or that carries control characters is refused (open redirects, checklist C12).
pub(crate) fn safe_next(next: &str) -> Option<&str> {
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2000;
    safe.then_some(next)
}

/// The login page URL that comes back to `next` afterwards.
pub(crate) fn login_url(next: Option<&str>) -> String {
    match next.and_then(safe_next) {
        Some(next) if next != "/admin" => {
            let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            format!("/admin/login?next={encoded}")
        }
        _ => "/admin/login".to_owned(),
    }
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current_session(state, &parts.headers).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => {
                // Only a page can be come back to; after a refused POST, start at the
                // dashboard. The router nests us under /admin, so the full path is in
                // OriginalUri, not in parts.uri.
                let next = if parts.method == Method::GET {
                    parts
                        .extensions
                        .get::<OriginalUri>()
                        .and_then(|uri| uri.0.path_and_query())
                        .map(|pq| pq.as_str().to_owned())
                } else {
                    None
                };
                Err(Redirect::to(&login_url(next.as_deref())).into_response())
            }
            Err(err) => Err(err.into_response()),
        }
    }
}

/// Refuses a POST that a browser says comes from another site.
///
/// `Origin` is accepted when it is the public URL's origin, or when its host and port
/// are the request's `Host` (the blog opened under another name, e.g. `127.0.0.1`
/// instead of `localhost`: still the page that sent the form). `Origin: null` is
/// refused. Requests without these headers (old browsers, command-line clients) pass
/// here and are judged by the CSRF token alone.
pub(crate) fn check_same_origin(headers: &HeaderMap, config: &WebConfig) -> Result<(), AppError> {
    let refused = || AppError::Forbidden("This form was sent from another site.".to_owned());
    if let Some(site) = headers.get("sec-fetch-site")
        && matches!(site.as_bytes(), b"cross-site" | b"same-site")
    {
        return Err(refused());
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| refused())?;
    let origin = url::Url::parse(origin).map_err(|_| refused())?;
    if !origin.has_host() {
        return Err(refused());
    }
    if origin.origin() == config.public_url.origin() {
        return Ok(());
    }
    let authority = match (origin.host_str(), origin.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(refused()),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !host.is_empty() && host.eq_ignore_ascii_case(&authority) {
        Ok(())
    } else {
        Err(refused())
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf_token: String,
}

fn csrf_refused() -> AppError {
    AppError::Forbidden(
        "The form's security token is missing or out of date. Go back, reload the page and try again."
            .to_owned(),
    )
}

/// Parses an `application/x-www-form-urlencoded` body into `T`.
async fn parse_form<T: DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    let request = Request::builder()
        .method(Method::POST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.clone()))
        .map_err(|err| AppError::Internal(err.to_string()))?;
    Form::<T>::from_request(request, &())
        .await
        .map(|Form(value)| value)
        .map_err(|rejection| AppError::BadRequest(rejection.body_text()))
}

/// Reads the body of a form POST after the same-origin check.
async fn form_body(request: Request, state: &AppState) -> Result<(HeaderMap, Bytes), AppError> {
    let (parts, body) = request.into_parts();
    check_same_origin(&parts.headers, &state.config)?;
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::BadRequest(
            "Expected a form (application/x-www-form-urlencoded).".to_owned(),
        ));
    }
    let headers = parts.headers.clone();
    let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(|rejection| AppError::BadRequest(rejection.body_text()))?;
    Ok((headers, bytes))
}

/// A form posted by a logged-in author, whose `csrf_token` field matched the
/// session's. Without a session: redirect to login; with a wrong token: 403.
pub(crate) struct AdminForm<T> {
    pub session: AdminSession,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = AdminSession::from_request_parts(&mut parts, state).await?;
        let (_, bytes) = form_body(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let field: CsrfField = parse_form(&bytes)
            .await
            .map_err(IntoResponse::into_response)?;
        if field.csrf_token.is_empty() || !constant_time_eq(&field.csrf_token, &session.csrf_token)
        {
            return Err(csrf_refused().into_response());
        }
        let form = parse_form(&bytes)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(AdminForm { session, form })
    }
}

/// A form posted without a session (login, setup), protected by the double-submit
/// `gloss_csrf` cookie. Also gives the request headers (for the session cookie).
pub(crate) struct CookieCsrfForm<T> {
    pub headers: HeaderMap,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CookieCsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (headers, bytes) = form_body(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let field: CsrfField = parse_form(&bytes)
            .await
            .map_err(IntoResponse::into_response)?;
        let cookie = cookie_value(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
        if !is_well_formed_token(cookie) || !constant_time_eq(&field.csrf_token, cookie) {
            return Err(csrf_refused().into_response());
        }
        let form = parse_form(&bytes)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(CookieCsrfForm { headers, form })
    }
}

/// The double-submit token for a login or setup page: the one the browser already
/// has (so that two open tabs both work), or a new one with the `Set-Cookie` to send.
pub(crate) fn login_csrf_token(
    headers: &HeaderMap,
    config: &WebConfig,
) -> (String, Option<HeaderValue>) {
    match cookie_value(headers, LOGIN_CSRF_COOKIE).filter(|t| is_well_formed_token(t)) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = random_token();
            // SameSite=Strict: the cookie never rides along on a request another site starts.
            let set = cookie(config, LOGIN_CSRF_COOKIE, &token, "Strict", None);
            (token, Some(set))
        }
    }
}

/// The client's address, for the login rate limit. Falls back to one shared
/// "unknown" address when the server was not started with connection info, so the
/// limit still applies (to everyone at once) rather than not at all.
pub(crate) struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn config() -> WebConfig {
        WebConfig {
            public_url: url::Url::parse("https://blog.example").unwrap(),
            posts_per_page: 10,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn next_must_be_a_path_on_this_site() {
        assert_eq!(
            safe_next("/admin/posts?page=2"),
            Some("/admin/posts?page=2")
        );
        assert_eq!(safe_next("//evil.example"), None);
        assert_eq!(safe_next("https://evil.example"), None);
        assert_eq!(safe_next("/\\evil.example"), None);
        assert_eq!(safe_next("/\t/evil.example"), None);
        assert_eq!(safe_next(""), None);
        assert_eq!(safe_next("admin"), None);
    }

    #[test]
    fn the_login_url_carries_next_encoded() {
        assert_eq!(
            login_url(Some("/admin/posts?page=2")),
            "/admin/login?next=%2Fadmin%2Fposts%3Fpage%3D2"
        );
        assert_eq!(login_url(Some("//evil.example")), "/admin/login");
        assert_eq!(login_url(None), "/admin/login");
    }

    #[test]
    fn cookies_are_found_among_several() {
        let map = headers(&[("cookie", "a=1; gloss_session=abc; b=2")]);
        assert_eq!(cookie_value(&map, "gloss_session"), Some("abc"));
        assert_eq!(cookie_value(&map, "gloss"), None);
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_over_https() {
        let value = session_cookie(&config(), "tok");
        let text = value.to_str().unwrap();
        assert!(text.contains("HttpOnly"));
        assert!(text.contains("SameSite=Lax"));
        assert!(text.contains("Path=/admin"));
        assert!(text.ends_with("; Secure"));
    }

    #[test]
    fn tokens_are_random_and_hashed_to_hex() {
        let a = random_token();
        assert!(is_well_formed_token(&a));
        assert_ne!(a, random_token());
        assert_eq!(token_hash(&a).len(), 64);
    }

    #[test]
    fn same_origin_posts_pass_and_cross_site_ones_do_not() {
        let config = config();
        assert!(check_same_origin(&headers(&[]), &config).is_ok());
        assert!(
            check_same_origin(&headers(&[("origin", "https://blog.example")]), &config).is_ok()
        );
        assert!(
            check_same_origin(
                &headers(&[
                    ("origin", "http://127.0.0.1:8080"),
                    ("host", "127.0.0.1:8080")
                ]),
                &config
            )
            .is_ok()
        );
        assert!(
            check_same_origin(&headers(&[("origin", "https://evil.example")]), &config).is_err()
        );
        assert!(
            check_same_origin(
                &headers(&[("origin", "https://evil.example"), ("host", "blog.example")]),
                &config
            )
            .is_err()
        );
        assert!(check_same_origin(&headers(&[("origin", "null")]), &config).is_err());
        assert!(check_same_origin(&headers(&[("sec-fetch-site", "cross-site")]), &config).is_err());
        assert!(check_same_origin(&headers(&[("sec-fetch-site", "same-origin")]), &config).is_ok());
    }
}
