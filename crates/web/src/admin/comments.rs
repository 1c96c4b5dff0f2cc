//! Comment moderation: the list of recent comments with Hide, Approve and Delete.
//!
//! Every author sees the list; a comment may be moderated by an admin or by the
//! author of the post it is under. Private messages (followers-only and direct
//! replies) are left out: they have their own page, shown only to those who may
//! moderate them (see `moderation`). Approving and hiding are logged decisions
//! (`Store::set_comment_moderation_with_reason`), so the comment's page can say who
//! decided what, and when.

use crate::admin::session::{AdminForm, AdminSession};
use crate::admin::{Chrome, format_date, render};
use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use gloss_federation::content::plain_text_excerpt;
use gloss_storage::{CommentFilter, CommentId, Moderation, ModerationDecider, Page, Post, PostId};
use serde::Deserialize;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Comments per page of the list.
const COMMENTS_PER_PAGE: i64 = 50;
/// Length of the excerpt shown for each comment, in characters.
const EXCERPT_CHARS: usize = 200;

/// Which comments the list shows, as named in the query string.
fn parse_filter(name: &str) -> (&'static str, CommentFilter) {
    match name {
        "pending" => ("pending", CommentFilter::Pending),
        _ => ("all", CommentFilter::All),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    filter: String,
    page: Option<i64>,
}

/// One row of the list. Text only: the template escapes it.
struct CommentRow {
    id: i64,
    post_title: String,
    /// The post's page (public when published, else its editor).
    post_path: String,
    author_name: String,
    author_url: Option<String>,
    excerpt: String,
    state: &'static str,
    /// The author or their domain is blocked: the comment is not shown whatever its state.
    blocked: bool,
    date: String,
    deleted: bool,
    can_moderate: bool,
    can_hide: bool,
    can_approve: bool,
}

#[derive(Template)]
#[template(path = "admin/comments.html")]
struct CommentListPage {
    chrome: Option<Chrome>,
    filter: &'static str,
    comments: Vec<CommentRow>,
    page: i64,
    has_next: bool,
}

/// Whether the session may moderate comments under `post` (and read its private
/// messages): an admin, or the post's author.
pub(crate) fn may_moderate(session: &AdminSession, post: Option<&Post>) -> bool {
    session.author.is_admin || post.is_some_and(|post| post.author_id == session.author.id)
}

/// `GET /admin/comments?filter=all|pending`: recent comments, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let (filter_name, filter) = parse_filter(&query.filter);
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let comments = state
        .store
        .recent_comments(filter, Page::number(page, COMMENTS_PER_PAGE))
        .await?;
    // Each post is read once, however many of its comments are on the page.
    let mut posts: HashMap<PostId, Option<Post>> = HashMap::new();
    for comment in &comments {
        if let Entry::Vacant(slot) = posts.entry(comment.post_id) {
            slot.insert(state.store.post_by_id(comment.post_id).await?);
        }
    }
    let mut rows = Vec::with_capacity(comments.len());
    for comment in &comments {
        // The store counts a deleted comment that was never moderated as pending;
        // there is nothing left to decide about it.
        if filter == CommentFilter::Pending && comment.deleted_at.is_some() {
            continue;
        }
        // Private messages are listed on their own page, for their readers only.
        if comment.is_private() {
            continue;
        }
        let post = posts.get(&comment.post_id).and_then(Option::as_ref);
        let deleted = comment.deleted_at.is_some();
        rows.push(CommentRow {
            id: comment.id.0,
            post_title: post.map(|p| p.title.clone()).unwrap_or_default(),
            post_path: match post {
                Some(p) if p.status == gloss_storage::PostStatus::Published => {
                    format!("/posts/{}", p.slug)
                }
                Some(p) => format!("/admin/posts/{}/edit", p.id),
                None => String::new(),
            },
            author_name: comment.author_name.clone(),
            // Linked only when it is a web address: a stored `javascript:` URL stays text.
            author_url: comment
                .author_url
                .clone()
                .filter(|url| url.starts_with("https://") || url.starts_with("http://")),
            excerpt: plain_text_excerpt(&comment.content_html, EXCERPT_CHARS),
            state: if deleted {
                "deleted"
            } else {
                comment.moderation.as_str()
            },
            blocked: comment.author_blocked,
            date: format_date(comment.published_at),
            deleted,
            can_moderate: !deleted && may_moderate(&session, post),
            can_hide: comment.moderation != Moderation::Hidden,
            can_approve: comment.moderation != Moderation::Approved,
        });
    }
    let page = CommentListPage {
        chrome: Some(
            Chrome::new(&session, "comments")
                .with_moderation_count(&state)
                .await?,
        ),
        filter: filter_name,
        has_next: comments.len() as i64 == COMMENTS_PER_PAGE,
        comments: rows,
        page,
    };
    render(&page, StatusCode::OK)
}

/// The hidden field that brings the list back to the same filter.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    filter: String,
}

/// Checks that the comment exists, is not deleted and may be moderated by the session.
async fn moderatable(
    state: &AppState,
    session: &AdminSession,
    id: i64,
) -> Result<CommentId, AppError> {
    let comment = state
        .store
        .comment_by_id(CommentId(id))
        .await?
        .filter(|comment| comment.deleted_at.is_none())
        .ok_or(AppError::NotFound)?;
    let post = state.store.post_by_id(comment.post_id).await?;
    if !may_moderate(session, post.as_ref()) {
        return Err(AppError::Forbidden(
            "Only the post's author or an admin may moderate its comments.".to_owned(),
        ));
    }
    Ok(comment.id)
}

fn back_to_list(form: &ActionForm) -> Response {
    let (filter, _) = parse_filter(&form.filter);
    Redirect::to(&format!("/admin/comments?filter={filter}")).into_response()
}

/// `POST /admin/comments/{id}/hide`: a logged decision.
pub(crate) async fn hide(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<ActionForm>,
) -> Result<Response, AppError> {
    let id = moderatable(&state, &session, id).await?;
    state
        .store
        .set_comment_moderation_with_reason(
            id,
            Moderation::Hidden,
            "Hidden from the comments list",
            ModerationDecider::Author(session.author.id),
            Utc::now(),
        )
        .await?;
    Ok(back_to_list(&form))
}

/// `POST /admin/comments/{id}/approve`: a logged decision.
pub(crate) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<ActionForm>,
) -> Result<Response, AppError> {
    let id = moderatable(&state, &session, id).await?;
    state
        .store
        .set_comment_moderation_with_reason(
            id,
            Moderation::Approved,
            "Approved from the comments list",
            ModerationDecider::Author(session.author.id),
            Utc::now(),
        )
        .await?;
    Ok(back_to_list(&form))
}

/// `POST /admin/comments/{id}/delete`: clears the comment; replies keep their place.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<ActionForm>,
) -> Result<Response, AppError> {
    let id = moderatable(&state, &session, id).await?;
    match state.store.comment_by_id(id).await? {
        // A reply written here went out as a Note: its deletion goes out too.
        Some(comment) if comment.local_author_id.is_some() && comment.ap_id.is_some() => {
            crate::admin::replies::delete_author_reply(&state, &comment).await?;
        }
        _ => state.store.delete_comment(id).await?,
    }
    Ok(back_to_list(&form))
}
