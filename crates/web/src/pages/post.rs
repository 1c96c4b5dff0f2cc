//! `GET /posts/{slug}`: a post's permalink page with its comment thread, or, for
//! ActivityPub clients (content negotiation), the post's Note: the permalink is the
//! Note's id, so pasting it into Mastodon's search finds the post.

use super::comments::{CommentView, build_comment_tree, reactions_label};
use super::{DateView, LinkView, Meta, comments_label, path_param, post_path, vary_on_accept};
use crate::error::AppError;
use crate::layout::Site;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Response};
use chrono::SecondsFormat;
use gloss_federation::notes::{post_to_note, tombstone_json};
use gloss_federation::routes::{
    activity_json_response, activity_json_response_with_status, wants_activity_json,
};
use gloss_storage::{CommentFilter, Post, PostStatus};

#[derive(Template)]
#[template(path = "post.html")]
struct PostPage {
    site: Site,
    meta: Meta,
    title: String,
    /// Absolute permalink (`u-url`).
    url: String,
    /// Sanitized when the post was saved.
    content_html: String,
    published: DateView,
    updated: Option<DateView>,
    author: LinkView,
    tags: Vec<LinkView>,
    comments_label: String,
    /// The post's own likes and boosts, "3 likes · 1 boost", when it has any.
    reactions: Option<String>,
    /// `false` once the author closed the comments: the page says so.
    comments_open: bool,
    comments: Vec<CommentView>,
    /// Absolute URL of the post's comments feed.
    comments_feed_url: String,
    /// "Reply from your fediverse account" (while comments are open) and "Follow this
    /// blog" (`templates/_interact.html`).
    interact: super::interact::InteractPanel,
}

/// Finds a published post by slug: drafts and unknown slugs are 404, deleted posts
/// 410 (their slug stays reserved). Shared with the comments feed.
pub(crate) async fn published_post(state: &AppState, slug: &str) -> Result<Post, AppError> {
    match state.store.post_by_slug(slug).await? {
        Some(post) if post.status == PostStatus::Published => Ok(post),
        Some(post) if post.status == PostStatus::Deleted => Err(AppError::Gone),
        _ => Err(AppError::NotFound),
    }
}

/// The post page, or its Note for ActivityPub clients. Both vary on `Accept`.
pub(super) async fn post_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    slug: Result<Path<String>, PathRejection>,
) -> Response {
    if wants_activity_json(&headers) {
        vary_on_accept(post_note(&state, slug).await)
    } else {
        vary_on_accept(post_html(&state, slug, &headers).await)
    }
}

/// The Note of a published post; a deleted post answers 410 with its Tombstone;
/// drafts and unknown slugs are 404.
async fn post_note(
    state: &AppState,
    slug: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let slug = path_param(slug)?;
    let urls = state.federation.urls();
    let post = match state.store.post_by_slug(&slug).await? {
        Some(post) if post.status == PostStatus::Published => post,
        Some(post) if post.status == PostStatus::Deleted => {
            return Ok(activity_json_response_with_status(
                StatusCode::GONE,
                &tombstone_json(&post, urls),
            ));
        }
        _ => return Err(AppError::NotFound),
    };
    let author = state
        .store
        .author_by_id(post.author_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("post {} has no author", post.id)))?;
    let settings = state.store.blog_settings().await?;
    Ok(activity_json_response(&post_to_note(
        &post, &author, &settings, urls,
    )))
}

async fn post_html(
    state: &AppState,
    slug: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let slug = path_param(slug)?;
    let post = published_post(state, &slug).await?;
    let author = state.store.author_by_id(post.author_id).await?;
    let comments = state
        .store
        .comments_for_post(post.id, CommentFilter::Public)
        .await?;
    let count = state.store.count_public_comments(post.id).await?;
    let reactions = state.store.reaction_counts_for_post(post.id).await?;
    let site = Site::load(state).await?;

    let path = post_path(&post.slug);
    let url = state.config.absolute(&path);
    let description = post
        .summary
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| site.description.clone());
    let mut meta = Meta::website(state, &site, &path, post.title.clone(), description);
    meta.og_type = "article";
    meta.published_time = Some(post.published_at.to_rfc3339_opts(SecondsFormat::Secs, true));
    meta.modified_time = post
        .updated_at
        .map(|date| date.to_rfc3339_opts(SecondsFormat::Secs, true));
    let urls = state.federation.urls();
    meta.activity_alternate = Some(urls.post(&post.slug));
    meta.fediverse_creator = author
        .as_ref()
        .map(|author| format!("@{}@{}", author.username, urls.host()));

    let remembered = super::interact::remembered_account(headers);
    let mut interact = super::interact::InteractPanel::default();
    if post.comments_open {
        interact.forms.push(super::interact::InteractPanel::reply(
            urls.post(&post.slug),
            &remembered,
        ));
    }
    interact
        .forms
        .push(super::interact::InteractPanel::follow_blog(
            state,
            &remembered,
        ));
    let mut comments = CommentView::from_nodes(build_comment_tree(comments), &url);
    if !post.comments_open {
        super::interact::without_reply_links(&mut comments);
    }
    let page = PostPage {
        interact,
        comments,
        comments_feed_url: state.config.absolute(&format!("{path}/comments.atom")),
        meta,
        title: post.title,
        url,
        content_html: post.content_html,
        published: DateView::new(post.published_at),
        updated: post.updated_at.map(DateView::new),
        author: LinkView::author(author.as_ref(), &state.config),
        tags: post.tags.iter().map(LinkView::tag).collect(),
        comments_label: comments_label(count),
        reactions: reactions_label(reactions.post.likes, reactions.post.announces),
        comments_open: post.comments_open,
        site,
    };
    Ok(super::interact::interact_page_headers(
        state,
        remembered.is_some(),
        Html(page.render()?),
    ))
}
