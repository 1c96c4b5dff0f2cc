//! `AppError`: the one type that turns failures into HTTP responses. 5xx bodies are
//! opaque and carry an error id; the details go to the log.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Every way a handler can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// The thing existed and was deleted on purpose.
    #[error("gone")]
    Gone,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("too many requests")]
    TooManyRequests,
    #[error("storage: {0}")]
    Storage(#[from] gloss_storage::Error),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("internal: {0}")]
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Gone => StatusCode::GONE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Storage(err) if err.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Storage(_) | AppError::Template(_) | AppError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error_id;
        let (title, message): (&str, String) = match &self {
            AppError::NotFound => (
                "Not found",
                "There is nothing at this address. It may have moved, or the link may be mistyped."
                    .to_owned(),
            ),
            AppError::Gone => (
                "Gone",
                "This page was deleted by its author and will not come back.".to_owned(),
            ),
            AppError::BadRequest(why) => ("Bad request", why.clone()),
            AppError::Forbidden(why) => ("Forbidden", why.clone()),
            AppError::TooManyRequests => (
                "Too many requests",
                "Too many attempts from your address. Wait a few minutes and try again.".to_owned(),
            ),
            AppError::Storage(_) | AppError::Template(_) | AppError::Internal(_) => {
                error_id = format!("{:016x}", rand::random::<u64>());
                tracing::error!(error_id = %error_id, error = %self, "request failed");
                (
                    "Something went wrong",
                    format!("The server could not answer this request. Error id: {error_id}."),
                )
            }
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message: &message,
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}
