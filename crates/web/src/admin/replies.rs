//! Author replies from the admin UI (issue 4, item 6): on a comment's page the post's
//! author (or an admin) answers the comment; the answer is stored in the thread and
//! federated to the commenter (`gloss_federation::author_replies`). The same page edits
//! or deletes a reply written here, and that federates too.

use crate::admin::comments::may_moderate;
use crate::admin::session::AdminForm;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use gloss_federation::author_replies::{self, ReplyError};
use gloss_storage::{Comment, CommentId};
use serde::Deserialize;

/// The reply form: Markdown.
#[derive(Debug, Deserialize)]
pub(crate) struct ReplyForm {
    #[serde(default)]
    text: String,
}

fn reply_error(err: ReplyError) -> AppError {
    match err {
        ReplyError::Invalid(why) => AppError::BadRequest(why),
        ReplyError::NotFound => AppError::NotFound,
        ReplyError::Storage(err) => AppError::Storage(err),
        ReplyError::Outbox(err) => AppError::Internal(err.to_string()),
    }
}

/// The comment, when the session may answer or change replies under its post.
async fn comment_for(
    state: &AppState,
    session: &crate::admin::session::AdminSession,
    id: i64,
) -> Result<Comment, AppError> {
    let comment = state
        .store
        .comment_by_id(CommentId(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let post = state.store.post_by_id(comment.post_id).await?;
    if !may_moderate(session, post.as_ref()) {
        return Err(AppError::Forbidden(
            "Only the post's author or an admin may reply to its comments.".to_owned(),
        ));
    }
    Ok(comment)
}

/// `POST /admin/comments/{id}/reply`: answers the comment as the logged-in author.
pub(crate) async fn reply(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<ReplyForm>,
) -> Result<Response, AppError> {
    let comment = comment_for(&state, &session, id).await?;
    let reply = author_replies::reply_to_comment(
        state.store.as_ref(),
        state.federation.urls(),
        &session.author,
        comment.id,
        &form.text,
    )
    .await
    .map_err(reply_error)?;
    state.federation.wake_delivery_worker();
    Ok(Redirect::to(&format!("/admin/comments/{}?done=replied", reply.id)).into_response())
}

/// `POST /admin/comments/{id}/edit-reply`: replaces the text of a reply written here.
pub(crate) async fn edit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<ReplyForm>,
) -> Result<Response, AppError> {
    let comment = comment_for(&state, &session, id).await?;
    let author = reply_author(&state, &comment).await?;
    author_replies::edit_reply(
        state.store.as_ref(),
        state.federation.urls(),
        &author,
        comment.id,
        &form.text,
    )
    .await
    .map_err(reply_error)?;
    state.federation.wake_delivery_worker();
    Ok(Redirect::to(&format!("/admin/comments/{}?done=reply-edited", comment.id)).into_response())
}

/// `POST /admin/comments/{id}/delete-reply`: deletes a reply written here; a Delete
/// follows it to wherever it went.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, .. }: AdminForm<EmptyForm>,
) -> Result<Response, AppError> {
    let comment = comment_for(&state, &session, id).await?;
    delete_author_reply(&state, &comment).await?;
    Ok(Redirect::to(&format!(
        "/admin/comments/{}?done=reply-deleted",
        comment.id
    ))
    .into_response())
}

/// No fields besides the CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct EmptyForm {}

/// The reply's own author: an edit or a deletion is sent in their name, whoever of
/// the admins makes it (the Note is theirs).
async fn reply_author(
    state: &AppState,
    comment: &Comment,
) -> Result<gloss_storage::Author, AppError> {
    let author = comment.local_author_id.ok_or_else(|| {
        AppError::BadRequest("Only replies written here can be edited or deleted here.".to_owned())
    })?;
    state
        .store
        .author_by_id(author)
        .await?
        .ok_or(AppError::NotFound)
}

/// Deletes an author reply with its Delete activity (also used by the comments list's
/// Delete button, so that no path deletes a federated reply silently).
pub(crate) async fn delete_author_reply(
    state: &AppState,
    comment: &Comment,
) -> Result<(), AppError> {
    let author = reply_author(state, comment).await?;
    author_replies::delete_reply(
        state.store.as_ref(),
        state.federation.urls(),
        &author,
        comment.id,
    )
    .await
    .map_err(reply_error)?;
    state.federation.wake_delivery_worker();
    Ok(())
}

/// The report form: the reason sent with it.
#[derive(Debug, Deserialize)]
pub(crate) struct ReportForm {
    #[serde(default)]
    reason: String,
}

/// `POST /admin/comments/{id}/report-remote`: reports the comment's author to their
/// server (a `Flag` from the instance actor). Admins only: the report speaks for the
/// whole site.
pub(crate) async fn report_remote(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<ReportForm>,
) -> Result<Response, AppError> {
    if !session.author.is_admin {
        return Err(AppError::Forbidden(
            "Only an admin may report an account to its server.".to_owned(),
        ));
    }
    let comment = comment_for(&state, &session, id).await?;
    gloss_federation::reports::report_comment_author(
        state.store.as_ref(),
        state.federation.urls(),
        &comment,
        &form.reason,
    )
    .await
    .map_err(|err| match err {
        gloss_federation::reports::ReportError::Invalid(why) => AppError::BadRequest(why),
        gloss_federation::reports::ReportError::Storage(err) => AppError::Storage(err),
    })?;
    state.federation.wake_delivery_worker();
    Ok(Redirect::to(&format!("/admin/comments/{}?done=reported", comment.id)).into_response())
}
