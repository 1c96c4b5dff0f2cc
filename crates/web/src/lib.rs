//! Gloss's web layer: public HTML pages, Atom feeds, the admin UI, and (from issue 3
//! on) content negotiation in front of the federation routes.
//!
//! It reads and writes only through `gloss_storage::Store` and the use cases of
//! `gloss_federation`; it never sends anything over the network itself.
//! Nothing here picks a database engine: the binary passes a ready `Arc<dyn Store>`.

pub mod admin;
pub mod error;
pub mod feeds;
pub mod layout;
pub mod page_cache;
pub mod pages;
mod security;
pub mod state;

pub use error::AppError;
pub use state::{AppState, WebConfig};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body the web layer accepts (admin forms, comment forms).
pub const MAX_FORM_BODY: usize = 1024 * 1024;

/// The whole HTTP application: public pages, feeds, the federation routes (discovery,
/// actors, collections, inboxes), admin UI and static assets.
pub fn router(state: AppState) -> Router {
    // Only the public pages go through the rendered-page cache; it decides per request
    // (see page_cache.rs) and only for routes that matched.
    let pages = pages::routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        page_cache::serve_cached,
    ));
    Router::new()
        .merge(pages)
        .merge(feeds::routes())
        .merge(gloss_federation::routes::routes())
        .merge(gloss_federation::inbox::routes())
        .nest("/admin", admin::routes())
        .route("/static/style.css", get(stylesheet))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_FORM_BODY))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(security::CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/style.css"),
    )
}

async fn fallback() -> AppError {
    AppError::NotFound
}
