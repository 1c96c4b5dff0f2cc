//! Logging in and out, and the dashboard that login leads to.

use crate::admin::auth::{verify_against_dummy, verify_password};
use crate::admin::session::{
    AdminForm, AdminSession, ClientIp, CookieCsrfForm, current_session, end_session,
    expired_session_cookie, login_csrf_token, safe_next, start_session,
};
use crate::admin::{Chrome, render};
use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gloss_storage::{CommentFilter, Page};
use serde::Deserialize;

/// The one message for an unknown user and a wrong password: the form must not tell
/// which usernames exist.
const LOGIN_FAILED: &str = "Wrong username or password.";

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    chrome: Option<Chrome>,
    csrf_token: String,
    next: String,
    username: String,
    error: Option<String>,
    no_author_yet: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Where to go after login: `next` when it is a safe local path, else the dashboard.
fn after_login(next: &str) -> &str {
    safe_next(next).unwrap_or("/admin")
}

async fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    username: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (csrf_token, set_cookie) = login_csrf_token(headers, &state.config);
    let page = LoginPage {
        chrome: None,
        csrf_token,
        // Kept only if safe, so the form never carries an attacker's value along.
        next: safe_next(next).unwrap_or_default().to_owned(),
        username: username.to_owned(),
        error,
        no_author_yet: super::setup::setup_needed(state.store.as_ref()).await?,
    };
    let mut response = render(&page, status)?;
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /admin/login`: the login form (or straight on when already logged in).
pub(crate) async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    if current_session(&state, &headers).await?.is_some() {
        return Ok(Redirect::to(after_login(&query.next)).into_response());
    }
    login_form(&state, &headers, &query.next, "", None, StatusCode::OK).await
}

/// `POST /admin/login`: checks the password under the rate limit and starts a new
/// session.
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    CookieCsrfForm { headers, form }: CookieCsrfForm<LoginForm>,
) -> Result<Response, AppError> {
    if !state.login_limiter.allows(ip) {
        return Err(AppError::TooManyRequests);
    }
    let username = form.username.trim().to_lowercase();
    let credentials = if username.is_empty() {
        None
    } else {
        state.store.author_credentials(&username).await?
    };
    let password = form.password;
    let (author, matches) = match credentials {
        Some((author, phc)) => {
            let matches = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
                .await
                .map_err(|err| AppError::Internal(format!("password check panicked: {err}")))?;
            (Some(author), matches)
        }
        None => {
            tokio::task::spawn_blocking(move || verify_against_dummy(&password))
                .await
                .map_err(|err| AppError::Internal(format!("password check panicked: {err}")))?;
            (None, false)
        }
    };
    let Some(author) = author.filter(|_| matches) else {
        state.login_limiter.record_failure(ip);
        tracing::info!(client = %ip, "failed admin login");
        return login_form(
            &state,
            &headers,
            &form.next,
            &form.username,
            Some(LOGIN_FAILED.to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    state.login_limiter.reset(ip);
    // A new session on every login; the one the browser may still hold is ended.
    end_session(&state, &headers).await?;
    let cookie = start_session(&state, author.id).await?;
    tracing::info!(author = %author.username, "admin login");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to(after_login(&form.next)),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct EmptyForm {}

/// `POST /admin/logout`: ends the session and forgets the cookie.
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _form: AdminForm<EmptyForm>,
) -> Result<Response, AppError> {
    end_session(&state, &headers).await?;
    Ok((
        [(header::SET_COOKIE, expired_session_cookie(&state.config))],
        Redirect::to("/admin/login"),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Option<Chrome>,
    published_posts: i64,
    public_comments: i64,
    /// Pending comments, counted up to [`PENDING_COUNT_CAP`].
    pending_comments: usize,
    pending_capped: bool,
    blog_title: String,
}

/// The dashboard counts pending comments by listing them; past this many it says "N+".
const PENDING_COUNT_CAP: i64 = 100;

/// `GET /admin`: counts and links.
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    session: AdminSession,
) -> Result<Response, AppError> {
    let counts = state.store.site_counts(chrono::Utc::now()).await?;
    let pending = state
        .store
        .recent_comments(
            CommentFilter::Pending,
            Page {
                limit: PENDING_COUNT_CAP + 1,
                offset: 0,
            },
        )
        .await?;
    let settings = state.store.blog_settings().await?;
    let pending_capped = pending.len() as i64 > PENDING_COUNT_CAP;
    // Deleted comments never moderated are still "pending" in the store.
    let pending_count = pending.iter().filter(|c| c.deleted_at.is_none()).count();
    let page = DashboardPage {
        chrome: Some(
            Chrome::new(&session, "dashboard")
                .with_moderation_count(&state)
                .await?,
        ),
        published_posts: counts.published_posts,
        public_comments: counts.public_comments,
        pending_comments: pending_count.min(PENDING_COUNT_CAP as usize),
        pending_capped,
        blog_title: settings.title,
    };
    render(&page, StatusCode::OK)
}
