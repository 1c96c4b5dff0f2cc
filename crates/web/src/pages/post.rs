//! `GET /posts/{slug}`: a post's permalink page with its comment thread, or, for
//! ActivityPub clients (content negotiation), the post's Note: the permalink is the
//! Note's id, so pasting it into Mastodon's search finds the post.

use super::comments::{CommentView, build_comment_tree, display_name, reactions_label};
use super::local_comments::takes_comments;
use super::{DateView, LinkView, Meta, comments_label, path_param, post_path, vary_on_accept};
use crate::error::AppError;
use crate::layout::Site;
use crate::page_cache::CacheUntil;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Response};
use chrono::SecondsFormat;
use gloss_federation::moderation::LocalComments;
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
    /// The readers' comment form (`_comment_form.html`), when readers may comment.
    comment_form: Option<CommentFormView>,
    /// "Reply from your fediverse account" (while comments are open) and "Follow this
    /// blog" (`templates/_interact.html`).
    interact: super::interact::InteractPanel,
}

/// The readers' comment form on a post page.
struct CommentFormView {
    /// Where the form posts: `/posts/{slug}/comments`.
    action: String,
    /// The comment answered (`?replyto=ID`): its id and author's name.
    reply_to: Option<(i64, String)>,
    /// Where "cancel the reply" leads: the post's path with the form's anchor.
    cancel_url: String,
    /// "Your comment awaits moderation" after a comment that is not published yet.
    pending_notice: bool,
    /// Whether every comment waits for approval (local comments: moderated).
    moderated: bool,
}

/// The post page's query: `?replyto=ID` (the "Reply" links) and `?comment=pending`
/// (the answer to a comment that waits). Anything else is ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct PostQuery {
    #[serde(default)]
    replyto: Option<String>,
    #[serde(default)]
    comment: Option<String>,
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
    query: Result<Query<PostQuery>, QueryRejection>,
) -> Response {
    if wants_activity_json(&headers) {
        vary_on_accept(post_note(&state, slug).await)
    } else {
        let query = query.map(|Query(query)| query).unwrap_or_default();
        vary_on_accept(post_html(&state, slug, query, &headers).await)
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
    query: PostQuery,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let slug = path_param(slug)?;
    let post = published_post(state, &slug).await?;
    // Held until the page is rendered (see `AppState::post_renders`).
    let _render = state
        .post_renders
        .acquire()
        .await
        .map_err(|err| AppError::Internal(format!("post renders: {err}")))?;
    let author = state.store.author_by_id(post.author_id).await?;
    let comments = state
        .store
        .comments_for_post(post.id, CommentFilter::Public)
        .await?;
    // What `count_public_comments` counts (listed, not deleted), from the rows at hand.
    let count = comments
        .iter()
        .filter(|comment| comment.is_listed() && comment.deleted_at.is_none())
        .count();
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

    let comments_open = takes_comments(state, &post);
    let mode = state.federation.local_comments();
    let takes_local = comments_open && mode != LocalComments::Off;
    let reply_to = query
        .replyto
        .as_deref()
        .filter(|_| takes_local)
        .and_then(|id| id.trim().parse::<i64>().ok())
        .and_then(|id| {
            comments
                .iter()
                .find(|comment| comment.id.0 == id && comment.is_public())
        })
        .map(|comment| (comment.id.0, display_name(&comment.author_name)));
    let mut comment_views = CommentView::from_nodes(build_comment_tree(comments), &url);
    let comment_form = takes_local.then(|| {
        CommentView::offer_replies(&mut comment_views, &path);
        CommentFormView {
            action: format!("{path}/comments"),
            reply_to,
            cancel_url: format!("{path}#comment-form"),
            pending_notice: query.comment.as_deref() == Some("pending"),
            moderated: mode == LocalComments::Moderated,
        }
    });
    let remembered = super::interact::remembered_account(headers);
    let mut interact = super::interact::InteractPanel::default();
    if comments_open {
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
    if !comments_open {
        super::interact::without_reply_links(&mut comment_views);
    }
    let page = PostPage {
        interact,
        comments: comment_views,
        comment_form,
        comments_feed_url: state.config.absolute(&format!("{path}/comments.atom")),
        meta,
        title: post.title,
        url,
        content_html: post.content_html,
        published: DateView::new(post.published_at),
        updated: post.updated_at.map(DateView::new),
        author: LinkView::author(author.as_ref(), &state.config),
        tags: post.tags.iter().map(LinkView::tag).collect(),
        comments_label: comments_label(i64::try_from(count).unwrap_or(i64::MAX)),
        reactions: reactions_label(reactions.post.likes, reactions.post.announces),
        comments_open,
        site,
    };
    let mut response =
        super::interact::interact_page_headers(state, remembered.is_some(), Html(page.render()?));
    // While its comments close by age, the page changes at that moment by itself.
    if comments_open && let Some(after) = state.federation.comments_close_after() {
        response
            .extensions_mut()
            .insert(CacheUntil(post.published_at + after));
    }
    Ok(response)
}
