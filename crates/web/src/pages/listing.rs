//! Listing pages: home, tag pages, the tag index and author pages. The author page's
//! URL is also the author's ActivityPub actor id: ActivityPub clients get the actor
//! document there (content negotiation).

use super::{
    EntryView, LinkView, Meta, Pager, entry_views, federation_error, page_number, path_param,
    safe_url, tag_path, vary_on_accept,
};
use crate::error::AppError;
use crate::layout::Site;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use gloss_federation::routes::{activity_json_response, author_actor_json, wants_activity_json};
use gloss_storage::Page;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    site: Site,
    meta: Meta,
    heading: String,
    feed_name: String,
    entries: Vec<EntryView>,
    pager: Pager,
    /// "Follow this blog" (`templates/_interact.html`).
    interact: super::interact::InteractPanel,
}

/// `GET /`: published posts, newest first, `?page=N`.
pub(super) async fn home(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let page = page_number(query.as_deref())?;
    let per_page = state.config.posts_per_page.max(1);
    let total = state.store.count_published_posts().await?;
    let pager = Pager::new("/", page, total, per_page)?;
    let posts = state
        .store
        .published_posts(Page::number(page, per_page))
        .await?;
    let site = Site::load(&state).await?;
    let entries = entry_views(&state, posts).await?;
    let heading = if page == 1 {
        "Latest posts".to_owned()
    } else {
        format!("Posts, page {page} of {}", pager.total_pages)
    };
    let title = if page == 1 {
        site.title.clone()
    } else {
        format!("{} · page {page}", site.title)
    };
    let mut meta = Meta::website(&state, &site, &pager.path, title, site.description.clone())
        .with_pager(&state, &pager);
    meta.activity_alternate = Some(state.federation.urls().blog_actor());
    let feed_name = site.title.clone();
    let remembered = super::interact::remembered_account(&headers);
    let page = HomePage {
        interact: super::interact::InteractPanel {
            forms: vec![super::interact::InteractPanel::follow_blog(
                &state,
                &remembered,
            )],
        },
        site,
        meta,
        heading,
        feed_name,
        entries,
        pager,
    };
    Ok(super::interact::interact_page_headers(
        &state,
        remembered.is_some(),
        Html(page.render()?),
    ))
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage {
    site: Site,
    meta: Meta,
    tag_name: String,
    feed_name: String,
    entries: Vec<EntryView>,
    pager: Pager,
}

/// `GET /tags/{slug}`: published posts with the tag. A tag that no published post
/// carries (any more) is a 404.
pub(super) async fn tag_page(
    State(state): State<AppState>,
    slug: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AppError> {
    let slug = path_param(slug)?;
    let page = page_number(query.as_deref())?;
    let tag = state
        .store
        .tag_by_slug(&slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let total = state
        .store
        .count_published_posts_with_tag(&tag.slug)
        .await?;
    if total == 0 {
        return Err(AppError::NotFound);
    }
    let per_page = state.config.posts_per_page.max(1);
    let pager = Pager::new(&tag_path(&tag.slug), page, total, per_page)?;
    let posts = state
        .store
        .published_posts_with_tag(&tag.slug, Page::number(page, per_page))
        .await?;
    let site = Site::load(&state).await?;
    let entries = entry_views(&state, posts).await?;
    let mut title = format!("Posts tagged “{}”", tag.name);
    if page > 1 {
        title.push_str(&format!(" · page {page}"));
    }
    let description = format!("Posts tagged “{}” on {}", tag.name, site.title);
    let meta =
        Meta::website(&state, &site, &pager.path, title, description).with_pager(&state, &pager);
    let feed_name = format!("{}: {}", site.title, tag.name);
    let page = TagPage {
        site,
        meta,
        tag_name: tag.name,
        feed_name,
        entries,
        pager,
    };
    Ok(Html(page.render()?))
}

/// A tag in the index, with its number of posts.
struct TagCountView {
    tag: LinkView,
    posts: i64,
}

#[derive(Template)]
#[template(path = "tags.html")]
struct TagIndexPage {
    site: Site,
    meta: Meta,
    tags: Vec<TagCountView>,
}

/// `GET /tags`: every tag in use by a published post.
pub(super) async fn tag_index(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let tags = state
        .store
        .tags_in_use()
        .await?
        .into_iter()
        .filter(|count| count.posts > 0)
        .map(|count| TagCountView {
            tag: LinkView::tag(&count.tag),
            posts: count.posts,
        })
        .collect();
    let site = Site::load(&state).await?;
    let description = format!("Tags used on {}", site.title);
    let meta = Meta::website(&state, &site, "/tags", "Tags".to_owned(), description);
    let page = TagIndexPage { site, meta, tags };
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "author.html")]
struct AuthorPage {
    site: Site,
    meta: Meta,
    name: String,
    bio: String,
    avatar_url: Option<String>,
    /// Absolute URL of this page (the h-card's `u-url`).
    url: String,
    feed_name: String,
    entries: Vec<EntryView>,
    pager: Pager,
}

/// `GET /authors/{username}`: the author's h-card and published posts, or their actor
/// document for ActivityPub clients. Both vary on `Accept`.
pub(super) async fn author_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    username: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    if wants_activity_json(&headers) {
        vary_on_accept(author_actor(&state, username).await)
    } else {
        vary_on_accept(author_html(&state, username, query.as_deref()).await)
    }
}

/// The author's actor document.
async fn author_actor(
    state: &AppState,
    username: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let username = path_param(username)?;
    let author = state
        .store
        .author_by_username(&username)
        .await?
        .ok_or(AppError::NotFound)?;
    let actor = author_actor_json(&state.federation, &author)
        .await
        .map_err(federation_error)?;
    Ok(activity_json_response(&actor))
}

async fn author_html(
    state: &AppState,
    username: Result<Path<String>, PathRejection>,
    query: Option<&str>,
) -> Result<Response, AppError> {
    let username = path_param(username)?;
    let page = page_number(query)?;
    let author = state
        .store
        .author_by_username(&username)
        .await?
        .ok_or(AppError::NotFound)?;
    let base_path = super::author_path(&author.username);
    let per_page = state.config.posts_per_page.max(1);
    let total = state
        .store
        .count_published_posts_by_author(author.id)
        .await?;
    let pager = Pager::new(&base_path, page, total, per_page)?;
    let posts = state
        .store
        .published_posts_by_author(author.id, Page::number(page, per_page))
        .await?;
    let site = Site::load(state).await?;
    let entries = entry_views(state, posts).await?;
    let bio = author.bio.trim().to_owned();
    let description = if bio.is_empty() {
        format!("Posts by {} on {}", author.display_name, site.title)
    } else {
        bio.clone()
    };
    let mut title = author.display_name.clone();
    if page > 1 {
        title.push_str(&format!(" · page {page}"));
    }
    let avatar_url = author
        .avatar_url
        .as_deref()
        .and_then(|url| safe_url(url, Some(&state.config)));
    let mut meta =
        Meta::website(state, &site, &pager.path, title, description).with_pager(state, &pager);
    if avatar_url.is_some() {
        meta.image.clone_from(&avatar_url);
    }
    meta.activity_alternate = Some(state.federation.urls().author_actor(&author.username));
    let feed_name = format!("Posts by {}", author.display_name);
    let page = AuthorPage {
        site,
        meta,
        url: state.config.absolute(&base_path),
        name: author.display_name,
        bio,
        avatar_url,
        feed_name,
        entries,
        pager,
    };
    Ok(Html(page.render()?).into_response())
}
