//! Writing posts: the list, the Markdown editor with its preview, and deletion.
//!
//! Saving goes through `gloss_federation::authoring`, the same use cases as
//! `gloss post publish` (which also record the activities sent to followers). An
//! author may edit and delete their own posts; an admin may edit and delete every post.
//! The list shows each post's delivery counts, the editor its failed deliveries.

use crate::admin::session::{AdminForm, AdminSession};
use crate::admin::{Chrome, format_date, render};
use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gloss_federation::authoring::{
    AuthoringError, PostInput, SUMMARY_CHARS, create_post, delete_post, update_post,
};
use gloss_federation::content::{plain_text_excerpt, render_markdown};
use gloss_federation::urls::Urls;
use gloss_storage::{DeliveryState, Page, Post, PostId, PostStatus};
use serde::Deserialize;

/// Posts per page of the admin list.
const POSTS_PER_PAGE: i64 = 50;

/// One row of the post list.
struct PostRow {
    id: i64,
    title: String,
    status: &'static str,
    date: String,
    /// The public page, for published posts.
    public_path: Option<String>,
    can_edit: bool,
    /// Deliveries of the post's activities to followers' inboxes.
    deliveries: DeliveryCounts,
}

/// How many deliveries of a post's activities are in each state.
struct DeliveryCounts {
    delivered: i64,
    pending: i64,
    failed: i64,
}

impl DeliveryCounts {
    fn any(&self) -> bool {
        self.delivered + self.pending + self.failed > 0
    }
}

/// A delivery that was given up, as the editor lists it.
struct FailedDelivery {
    kind: String,
    inbox: String,
    attempts: i32,
    last_status: Option<i32>,
    last_error: String,
    date: String,
}

/// Our URLs (ids of actors, posts and activities), from the federation context.
fn urls(state: &AppState) -> &Urls {
    state.federation.urls()
}

#[derive(Template)]
#[template(path = "admin/posts.html")]
struct PostListPage {
    chrome: Option<Chrome>,
    posts: Vec<PostRow>,
    notice: Option<&'static str>,
    page: i64,
    has_next: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    page: Option<i64>,
    #[serde(default)]
    done: String,
}

/// The public path of a post.
fn public_path(post: &Post) -> String {
    format!("/posts/{}", post.slug)
}

fn may_edit(session: &AdminSession, post: &Post) -> bool {
    session.author.is_admin || post.author_id == session.author.id
}

/// `GET /admin/posts`: every post but deleted ones, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let posts = state
        .store
        .all_posts(Page::number(page, POSTS_PER_PAGE))
        .await?;
    let mut rows: Vec<PostRow> = Vec::with_capacity(posts.len());
    for post in &posts {
        let (pending, delivered, failed) = state.store.delivery_counts_for_post(post.id).await?;
        rows.push(PostRow {
            id: post.id.0,
            title: post.title.clone(),
            status: post.status.as_str(),
            date: format_date(post.published_at),
            public_path: (post.status == PostStatus::Published).then(|| public_path(post)),
            can_edit: may_edit(&session, post),
            deliveries: DeliveryCounts {
                delivered,
                pending,
                failed,
            },
        });
    }
    let notice = match query.done.as_str() {
        "deleted" => Some("The post was deleted. Its address now answers “410 Gone”."),
        _ => None,
    };
    let page = PostListPage {
        chrome: Some(
            Chrome::new(&session, "posts")
                .with_moderation_count(&state)
                .await?,
        ),
        has_next: posts.len() as i64 == POSTS_PER_PAGE,
        posts: rows,
        notice,
        page,
    };
    render(&page, StatusCode::OK)
}

/// The editor's fields, exactly as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PostForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    status: String,
    /// `preview` or `save` (the button that was pressed).
    #[serde(default)]
    action: String,
}

impl PostForm {
    fn from_post(post: &Post) -> PostForm {
        // A summary that is just the generated excerpt is shown empty, so that it
        // follows the text when the text changes.
        let generated = plain_text_excerpt(&post.content_html, SUMMARY_CHARS);
        let summary = match &post.summary {
            Some(summary) if *summary != generated => summary.clone(),
            _ => String::new(),
        };
        PostForm {
            title: post.title.clone(),
            slug: post.slug.clone(),
            tags: post
                .tags
                .iter()
                .map(|tag| tag.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            summary,
            body: post.source.clone(),
            status: post.status.as_str().to_owned(),
            action: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/post_form.html")]
struct PostFormPage {
    chrome: Option<Chrome>,
    heading: String,
    /// Where the form posts to.
    action_url: String,
    form: PostForm,
    error: Option<String>,
    notice: Option<&'static str>,
    /// Sanitized HTML of the preview (safe to include as is).
    preview_html: Option<String>,
    /// The post's public page, once published.
    public_path: Option<String>,
    delete_url: Option<String>,
    /// Delivery counts of an existing post.
    deliveries: Option<DeliveryCounts>,
    /// Deliveries that were given up, newest first.
    failed_deliveries: Vec<FailedDelivery>,
}

impl PostFormPage {
    fn new_post(session: &AdminSession, form: PostForm) -> PostFormPage {
        PostFormPage {
            chrome: Some(Chrome::new(session, "new")),
            heading: "New post".to_owned(),
            action_url: "/admin/posts".to_owned(),
            form,
            error: None,
            notice: None,
            preview_html: None,
            public_path: None,
            delete_url: None,
            deliveries: None,
            failed_deliveries: Vec::new(),
        }
    }

    fn edit_post(session: &AdminSession, post: &Post, form: PostForm) -> PostFormPage {
        PostFormPage {
            chrome: Some(Chrome::new(session, "posts")),
            heading: format!("Edit “{}”", post.title),
            action_url: format!("/admin/posts/{}", post.id),
            form,
            error: None,
            notice: None,
            preview_html: None,
            public_path: (post.status == PostStatus::Published).then(|| public_path(post)),
            delete_url: Some(format!("/admin/posts/{}/delete", post.id)),
            deliveries: None,
            failed_deliveries: Vec::new(),
        }
    }

    /// Adds the post's delivery status.
    async fn with_deliveries(mut self, state: &AppState, post: &Post) -> Result<Self, AppError> {
        let (pending, delivered, failed) = state.store.delivery_counts_for_post(post.id).await?;
        self.deliveries = Some(DeliveryCounts {
            delivered,
            pending,
            failed,
        });
        if failed > 0 {
            self.failed_deliveries = state
                .store
                .deliveries_for_post(post.id)
                .await?
                .into_iter()
                .filter(|delivery| delivery.state == DeliveryState::Failed)
                .take(MAX_FAILED_SHOWN)
                .map(|delivery| FailedDelivery {
                    kind: delivery.kind,
                    inbox: delivery.inbox,
                    attempts: delivery.attempts,
                    last_status: delivery.last_status,
                    last_error: delivery.last_error.unwrap_or_default(),
                    date: format_date(delivery.updated_at),
                })
                .collect();
        }
        Ok(self)
    }
}

/// Most failed deliveries listed on the editor.
const MAX_FAILED_SHOWN: usize = 200;

/// `GET /admin/posts/new`: an empty editor.
pub(crate) async fn new_page(session: AdminSession) -> Result<Response, AppError> {
    let form = PostForm {
        status: "draft".to_owned(),
        ..PostForm::default()
    };
    render(&PostFormPage::new_post(&session, form), StatusCode::OK)
}

/// The post named in the path, if it exists, is not deleted, and the session may edit it.
async fn editable_post(
    state: &AppState,
    session: &AdminSession,
    id: i64,
) -> Result<Post, AppError> {
    let post = state
        .store
        .post_by_id(PostId(id))
        .await?
        .filter(|post| post.status != PostStatus::Deleted)
        .ok_or(AppError::NotFound)?;
    if !may_edit(session, &post) {
        return Err(AppError::Forbidden(
            "Only the post's author or an admin may change it.".to_owned(),
        ));
    }
    Ok(post)
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditQuery {
    #[serde(default)]
    saved: String,
}

/// `GET /admin/posts/{id}/edit`: the editor filled with the post.
pub(crate) async fn edit_page(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<i64>,
    Query(query): Query<EditQuery>,
) -> Result<Response, AppError> {
    let post = editable_post(&state, &session, id).await?;
    let mut page = PostFormPage::edit_post(&session, &post, PostForm::from_post(&post))
        .with_deliveries(&state, &post)
        .await?;
    if query.saved == "1" {
        page.notice = Some("Saved.");
    }
    render(&page, StatusCode::OK)
}

/// Turns the form into the use case's input, or says what is wrong with it.
fn post_input(
    session_author: gloss_storage::AuthorId,
    form: &PostForm,
) -> Result<PostInput, String> {
    let status = match form.status.as_str() {
        "draft" => PostStatus::Draft,
        "published" => PostStatus::Published,
        _ => return Err("Choose whether the post is a draft or published.".to_owned()),
    };
    let optional = |text: &str| {
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    };
    Ok(PostInput {
        author_id: session_author,
        title: form.title.clone(),
        slug: optional(&form.slug),
        // Browsers send CRLF line ends; the source is kept with plain newlines.
        markdown: form.body.replace("\r\n", "\n"),
        summary: optional(&form.summary),
        tags: form
            .tags
            .split(',')
            .map(str::trim)
            .filter(|tag| !tag.is_empty())
            .map(str::to_owned)
            .collect(),
        published_at: None,
        status,
    })
}

/// What to do with a submitted editor: show it again (preview or error) or go on.
async fn submit(
    state: &AppState,
    mut page: PostFormPage,
    existing: Option<&Post>,
    author: gloss_storage::AuthorId,
) -> Result<Response, AppError> {
    if page.form.action == "preview" {
        page.preview_html = Some(render_markdown(&page.form.body));
        return render(&page, StatusCode::OK);
    }
    let input = match post_input(author, &page.form) {
        Ok(input) => input,
        Err(message) => {
            page.error = Some(message);
            return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let saved = match existing {
        Some(post) => update_post(state.store.as_ref(), urls(state), post.id, input).await,
        None => create_post(state.store.as_ref(), urls(state), input).await,
    };
    match saved {
        Ok(post) => {
            state.federation.wake_delivery_worker();
            Ok(Redirect::to(&format!("/admin/posts/{}/edit?saved=1", post.id)).into_response())
        }
        Err(AuthoringError::Invalid(message)) => {
            page.error = Some(capitalize(&message));
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(AuthoringError::SlugTaken(slug)) => {
            page.error = Some(format!(
                "The slug “{slug}” is already used by another post (deleted posts keep theirs). Choose another one."
            ));
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(AuthoringError::NotFound(_)) => Err(AppError::NotFound),
        Err(AuthoringError::Storage(err)) => Err(err.into()),
        Err(err @ AuthoringError::Outbox(_)) => Err(AppError::Internal(err.to_string())),
    }
}

/// The use cases' messages start in lower case ("the title is empty").
fn capitalize(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// `POST /admin/posts`: preview or create a post.
pub(crate) async fn create(
    State(state): State<AppState>,
    AdminForm { session, form }: AdminForm<PostForm>,
) -> Result<Response, AppError> {
    let page = PostFormPage::new_post(&session, form);
    submit(&state, page, None, session.author.id).await
}

/// `POST /admin/posts/{id}`: preview or save changes to a post.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<PostForm>,
) -> Result<Response, AppError> {
    let post = editable_post(&state, &session, id).await?;
    let page = PostFormPage::edit_post(&session, &post, form);
    // The post keeps its author when an admin edits someone else's post.
    submit(&state, page, Some(&post), post.author_id).await
}

#[derive(Template)]
#[template(path = "admin/post_delete.html")]
struct DeletePage {
    chrome: Option<Chrome>,
    id: i64,
    title: String,
}

/// `GET /admin/posts/{id}/delete`: asks before deleting.
pub(crate) async fn delete_page(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let post = editable_post(&state, &session, id).await?;
    let page = DeletePage {
        chrome: Some(
            Chrome::new(&session, "posts")
                .with_moderation_count(&state)
                .await?,
        ),
        id: post.id.0,
        title: post.title,
    };
    render(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeleteForm {}

/// `POST /admin/posts/{id}/delete`: deletes the post (its page answers 410 from now on).
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, .. }: AdminForm<DeleteForm>,
) -> Result<Response, AppError> {
    let post = editable_post(&state, &session, id).await?;
    match delete_post(state.store.as_ref(), urls(&state), post.id).await {
        Ok(()) => {
            state.federation.wake_delivery_worker();
            Ok(Redirect::to("/admin/posts?done=deleted").into_response())
        }
        Err(AuthoringError::NotFound(_)) => Err(AppError::NotFound),
        Err(AuthoringError::Storage(err)) => Err(err.into()),
        Err(other) => Err(AppError::BadRequest(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_storage::AuthorId;

    #[test]
    fn tags_are_split_on_commas_and_blank_fields_are_absent() {
        let form = PostForm {
            title: "T".into(),
            tags: " mali, , west africa ,".into(),
            body: "a\r\nb".into(),
            status: "published".into(),
            ..PostForm::default()
        };
        let input = post_input(AuthorId(1), &form).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.tags, ["mali", "west africa"]);
        assert_eq!(input.slug, None);
        assert_eq!(input.summary, None);
        assert_eq!(input.markdown, "a\nb");
        assert_eq!(input.status, PostStatus::Published);
    }

    #[test]
    fn an_unknown_status_is_refused() {
        let form = PostForm {
            status: "deleted".into(),
            ..PostForm::default()
        };
        assert!(post_input(AuthorId(1), &form).is_err());
    }

    #[test]
    fn messages_are_capitalized_sentences() {
        assert_eq!(capitalize("the title is empty"), "The title is empty.");
    }
}
