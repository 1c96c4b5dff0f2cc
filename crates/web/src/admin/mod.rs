//! The admin UI under `/admin`: server-rendered forms, no JavaScript.
//!
//! - [`auth`]: argon2id password hashing and account rules.
//! - [`session`]: session cookies, the [`AdminSession`] extractor, CSRF checks.
//! - `login`: log in and out, and the dashboard.
//! - `setup`: the one-time link that creates the first (admin) author.
//! - `posts`, `settings`, `comments`, `followers`: the pages behind the navigation.
//! - `moderation`: the moderation queue, a comment's "why (not) shown" page, private
//!   messages, reports, blocks and closing comments per post.
//!
//! Every admin response carries `Cache-Control: no-store` (pages show private drafts
//! and CSRF tokens) and `X-Robots-Tag: noindex`.

pub mod auth;
mod comments;
mod followers;
mod login;
mod moderation;
mod posts;
mod replies;
pub mod session;
mod settings;
pub mod setup;

pub use auth::{hash_password, verify_password};
pub use session::AdminSession;

use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

/// The admin routes, nested at `/admin` by [`crate::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(login::dashboard))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/setup", get(setup::setup_page).post(setup::setup))
        .route("/posts", get(posts::list).post(posts::create))
        .route("/posts/new", get(posts::new_page))
        .route("/posts/{id}", post(posts::update))
        .route("/posts/{id}/edit", get(posts::edit_page))
        .route(
            "/posts/{id}/delete",
            get(posts::delete_page).post(posts::delete),
        )
        .route(
            "/settings",
            get(settings::settings_page).post(settings::save),
        )
        .route("/comments", get(comments::list))
        .route("/comments/{id}", get(moderation::comment_detail))
        .route("/comments/{id}/hide", post(comments::hide))
        .route("/comments/{id}/approve", post(comments::approve))
        .route("/comments/{id}/delete", post(comments::delete))
        .route("/comments/{id}/reply", post(replies::reply))
        .route("/comments/{id}/edit-reply", post(replies::edit))
        .route("/comments/{id}/delete-reply", post(replies::delete))
        .route("/comments/{id}/report-remote", post(replies::report_remote))
        .route("/moderation", get(moderation::queue))
        .route("/moderation/private", get(moderation::private_messages))
        .route("/moderation/reports", get(moderation::reports))
        .route(
            "/moderation/reports/{id}/resolve",
            post(moderation::resolve_report),
        )
        .route(
            "/moderation/blocks",
            get(moderation::blocks).post(moderation::add_block),
        )
        .route("/moderation/blocks/remove", post(moderation::remove_block))
        .route("/moderation/posts", get(moderation::posts))
        .route(
            "/moderation/posts/{id}/comments",
            post(moderation::set_post_comments),
        )
        .route(
            "/moderation/comments/{id}/{action}",
            post(moderation::decide),
        )
        .route("/followers", get(followers::list))
        .route("/followers/approve", post(followers::approve))
        .route("/followers/deny", post(followers::deny))
        .route("/followers/remove", post(followers::remove))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex"),
        ))
}

/// What the admin layout shows around every page of a logged-in author.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub display_name: String,
    pub is_admin: bool,
    /// The session's CSRF token, for the logout button of the navigation.
    pub csrf_token: String,
    /// Which navigation entry is the current page (`aria-current`).
    pub current: &'static str,
    /// Comments waiting in the moderation queue, shown beside its link; `None` on pages
    /// that did not count them (see [`Chrome::with_moderation_count`]).
    pub pending_comments: Option<PendingCount>,
}

/// How many comments wait for moderation, counted up to a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingCount {
    pub count: usize,
    /// More than `count` are waiting: shown as "N+".
    pub capped: bool,
}

/// The navigation counts pending comments by listing them (the store has no count for
/// the queue); past this many it says "N+".
const PENDING_NAV_CAP: i64 = 99;

impl Chrome {
    pub(crate) fn new(session: &AdminSession, current: &'static str) -> Chrome {
        Chrome {
            display_name: session.author.display_name.clone(),
            is_admin: session.author.is_admin,
            csrf_token: session.csrf_token.clone(),
            current,
            pending_comments: None,
        }
    }

    /// Adds the number of comments waiting in the moderation queue to the navigation.
    pub(crate) async fn with_moderation_count(
        mut self,
        state: &AppState,
    ) -> Result<Chrome, AppError> {
        let pending = state
            .store
            .recent_comments(
                gloss_storage::CommentFilter::Pending,
                gloss_storage::Page {
                    limit: PENDING_NAV_CAP + 1,
                    offset: 0,
                },
            )
            .await?;
        let capped = pending.len() as i64 > PENDING_NAV_CAP;
        // A deleted comment that was never moderated is still "pending" in the store;
        // there is nothing left to decide about it.
        let count = pending
            .iter()
            .filter(|comment| comment.deleted_at.is_none())
            .count()
            .min(PENDING_NAV_CAP as usize);
        self.pending_comments = Some(PendingCount { count, capped });
        Ok(self)
    }
}

/// Renders an admin page with `status`.
pub(crate) fn render(template: &impl Template, status: StatusCode) -> Result<Response, AppError> {
    let body = template.render()?;
    Ok((status, Html(body)).into_response())
}

/// Formats a date the same way on every admin page.
pub(crate) fn format_date(date: chrono::DateTime<chrono::Utc>) -> String {
    date.format("%Y-%m-%d %H:%M UTC").to_string()
}
