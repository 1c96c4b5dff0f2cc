//! Writing posts: the use cases shared by the admin UI and `gloss post publish`.
//!
//! Both paths go through these functions so that a post is rendered, validated and
//! stored the same way whichever way it was written. Each change records its outgoing
//! activities (Create + Announce, Update, Delete: see `crate::outbox`) in the same
//! transaction as the post, so a crash can lose neither the post nor its delivery.

use crate::content::{is_valid_slug, plain_text_excerpt, render_markdown, slugify};
use crate::outbox::{self, PostChange};
use crate::urls::Urls;
use chrono::{DateTime, Utc};
use gloss_storage::{
    AuthorId, OutgoingActivity, Post, PostDraft, PostId, PostOrigin, PostStatus, Store, Tag,
};

/// Longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Most tags on one post.
pub const MAX_TAGS: usize = 30;
/// Length of generated summaries, in characters.
pub const SUMMARY_CHARS: usize = 280;

/// A post as its author wrote it.
#[derive(Debug, Clone)]
pub struct PostInput {
    pub author_id: AuthorId,
    pub title: String,
    /// `None`: derived from the title.
    pub slug: Option<String>,
    pub markdown: String,
    /// `None`: the first words of the text.
    pub summary: Option<String>,
    pub tags: Vec<String>,
    /// `None`: now (for a new post) or the existing date (for an update).
    pub published_at: Option<DateTime<Utc>>,
    pub status: PostStatus,
}

/// Why a post could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    #[error("{0}")]
    Invalid(String),
    #[error("the slug {0:?} is already used by another post")]
    SlugTaken(String),
    #[error("no post with id {0}")]
    NotFound(PostId),
    /// The post's activities could not be built (a broken public URL setting).
    #[error(transparent)]
    Outbox(#[from] outbox::OutboxError),
    #[error(transparent)]
    Storage(#[from] gloss_storage::Error),
}

/// What [`publish_by_slug`] did.
#[derive(Debug, Clone)]
pub enum Published {
    Created(Post),
    Updated(Post),
}

impl Published {
    pub fn post(&self) -> &Post {
        match self {
            Published::Created(post) | Published::Updated(post) => post,
        }
    }
}

/// Turns free-form tag names into tags, dropping empty and duplicate ones.
pub fn normalize_tags(names: &[String]) -> Result<Vec<Tag>, AuthoringError> {
    let mut tags: Vec<Tag> = Vec::new();
    for name in names {
        let name = name.trim().trim_start_matches('#').trim();
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > 64 {
            return Err(AuthoringError::Invalid(format!(
                "tag {name:?} is longer than 64 characters"
            )));
        }
        let slug = slugify(name, "");
        if slug.is_empty() {
            return Err(AuthoringError::Invalid(format!(
                "tag {name:?} needs at least one letter or digit"
            )));
        }
        if tags.iter().all(|t| t.slug != slug) {
            tags.push(Tag {
                slug,
                name: name.to_owned(),
            });
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(AuthoringError::Invalid(format!(
            "a post has at most {MAX_TAGS} tags"
        )));
    }
    Ok(tags)
}

fn draft_from_input(
    input: PostInput,
    published_at: DateTime<Utc>,
) -> Result<PostDraft, AuthoringError> {
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        return Err(AuthoringError::Invalid("the title is empty".to_owned()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(AuthoringError::Invalid(format!(
            "the title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    let slug = match input.slug.as_deref().map(str::trim) {
        Some(slug) if !slug.is_empty() => {
            if !is_valid_slug(slug) {
                return Err(AuthoringError::Invalid(format!(
                    "slug {slug:?} may only contain lower-case letters, digits and inner dashes"
                )));
            }
            slug.to_owned()
        }
        _ => slugify(&title, "post"),
    };
    if input.status == PostStatus::Deleted {
        return Err(AuthoringError::Invalid(
            "a post is deleted with delete, not saved as deleted".to_owned(),
        ));
    }
    let content_html = render_markdown(&input.markdown);
    let summary = match input.summary.map(|s| s.trim().to_owned()) {
        Some(summary) if !summary.is_empty() => Some(summary),
        _ => {
            let excerpt = plain_text_excerpt(&content_html, SUMMARY_CHARS);
            (!excerpt.is_empty()).then_some(excerpt)
        }
    };
    Ok(PostDraft {
        author_id: input.author_id,
        title,
        slug,
        source: input.markdown,
        content_html,
        summary,
        tags: normalize_tags(&input.tags)?,
        status: input.status,
        origin: PostOrigin::Local,
        published_at,
        import_key: None,
    })
}

fn map_conflict(err: gloss_storage::Error, slug: &str) -> AuthoringError {
    match err {
        gloss_storage::Error::Conflict(_) => AuthoringError::SlugTaken(slug.to_owned()),
        other => AuthoringError::Storage(other),
    }
}

/// The post as the store will hold it after writing `draft` over `before` (or as a
/// new post): what its Note is built from. It mirrors the store's rules for
/// `published_at` and `updated_at` (see `Store::update_post`).
fn post_after(draft: &PostDraft, before: Option<&Post>, now: DateTime<Utc>) -> Post {
    let was_published = before.is_some_and(|post| post.status == PostStatus::Published);
    let published_at = match before {
        Some(post) if post.status != PostStatus::Draft => post.published_at,
        _ => draft.published_at,
    };
    let updated_at = match before {
        Some(_) if was_published && draft.status == PostStatus::Published => Some(now),
        // A draft being published starts without an edit date.
        Some(_) if draft.status == PostStatus::Published => None,
        Some(post) => post.updated_at,
        None => None,
    };
    Post {
        // A new post has no id yet: the store sets the activities' `post_id` itself.
        id: before.map_or(PostId(0), |post| post.id),
        author_id: draft.author_id,
        title: draft.title.clone(),
        slug: draft.slug.clone(),
        source: draft.source.clone(),
        content_html: draft.content_html.clone(),
        summary: draft.summary.clone(),
        tags: draft.tags.clone(),
        status: draft.status,
        origin: draft.origin,
        comments_open: before.is_none_or(|post| post.comments_open),
        published_at,
        updated_at,
        created_at: before.map_or(now, |post| post.created_at),
    }
}

/// The activities a change sends; reads the author and the blog settings only when
/// something is sent.
async fn activities_for(
    store: &dyn Store,
    urls: &Urls,
    author_id: AuthorId,
    change: PostChange<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<OutgoingActivity>, AuthoringError> {
    let post = match change {
        PostChange::Saved { after, .. } => after,
        PostChange::Deleted(post) => post,
    };
    if post.origin == PostOrigin::Imported || post.status != PostStatus::Published {
        return Ok(Vec::new());
    }
    let author = store
        .author_by_id(author_id)
        .await?
        .ok_or_else(|| AuthoringError::Invalid(format!("the author {author_id} does not exist")))?;
    let settings = store.blog_settings().await?;
    Ok(outbox::post_activities(
        urls,
        &author,
        change,
        |post| outbox::note_of(urls, &author, &settings, post),
        now,
    )?)
}

/// Creates a post (admin UI "New post"); a published one is sent to followers.
pub async fn create_post(
    store: &dyn Store,
    urls: &Urls,
    input: PostInput,
) -> Result<Post, AuthoringError> {
    let now = Utc::now();
    let published_at = input.published_at.unwrap_or(now);
    let draft = draft_from_input(input, published_at)?;
    let slug = draft.slug.clone();
    let after = post_after(&draft, None, now);
    let outbox = activities_for(
        store,
        urls,
        draft.author_id,
        PostChange::Saved {
            before: None,
            after: &after,
        },
        now,
    )
    .await?;
    store
        .create_post(draft, outbox)
        .await
        .map_err(|err| map_conflict(err, &slug))
}

/// Replaces an existing post's content (admin UI "Edit"). Publishing a draft sends it
/// to followers; editing a published post sends an Update. A published post keeps its
/// slug: the permalink is its fediverse id.
pub async fn update_post(
    store: &dyn Store,
    urls: &Urls,
    id: PostId,
    input: PostInput,
) -> Result<Post, AuthoringError> {
    let existing = store
        .post_by_id(id)
        .await?
        .filter(|post| post.status != PostStatus::Deleted)
        .ok_or(AuthoringError::NotFound(id))?;
    let now = Utc::now();
    let published_at = match (input.published_at, existing.status) {
        (Some(date), _) => date,
        (None, PostStatus::Draft) => now,
        (None, _) => existing.published_at,
    };
    let was_published = existing.status == PostStatus::Published;
    let input = match input.slug.as_deref().map(str::trim) {
        // Without a slug a published post keeps its own, whatever its new title.
        None | Some("") if was_published => PostInput {
            slug: Some(existing.slug.clone()),
            ..input
        },
        _ => input,
    };
    let mut draft = draft_from_input(input, published_at)?;
    if was_published && draft.slug != existing.slug {
        return Err(AuthoringError::Invalid(
            "the slug of a published post cannot change: it is its fediverse id".to_owned(),
        ));
    }
    // An imported post stays imported when edited: it was never pushed, so its edits
    // are not pushed either.
    draft.origin = existing.origin;
    let slug = draft.slug.clone();
    let after = post_after(&draft, Some(&existing), now);
    let outbox = activities_for(
        store,
        urls,
        draft.author_id,
        PostChange::Saved {
            before: Some(&existing),
            after: &after,
        },
        now,
    )
    .await?;
    store
        .update_post(id, draft, outbox)
        .await
        .map_err(|err| map_conflict(err, &slug))
}

/// `gloss post publish`: creates the post, or updates the post that has its slug.
pub async fn publish_by_slug(
    store: &dyn Store,
    urls: &Urls,
    input: PostInput,
) -> Result<Published, AuthoringError> {
    let slug = match input.slug.as_deref().map(str::trim) {
        Some(slug) if !slug.is_empty() => slug.to_owned(),
        _ => slugify(input.title.trim(), "post"),
    };
    let input = PostInput {
        slug: Some(slug.clone()),
        ..input
    };
    match store.post_by_slug(&slug).await? {
        Some(existing) if existing.status == PostStatus::Deleted => Err(AuthoringError::Invalid(
            format!("the post {slug:?} was deleted; its slug stays reserved (it answers 410 Gone)"),
        )),
        Some(existing) => Ok(Published::Updated(
            update_post(store, urls, existing.id, input).await?,
        )),
        None => Ok(Published::Created(create_post(store, urls, input).await?)),
    }
}

/// Deletes a post; its permalink answers 410 from then on, and followers who received
/// it get a Delete.
pub async fn delete_post(store: &dyn Store, urls: &Urls, id: PostId) -> Result<(), AuthoringError> {
    match store.post_by_id(id).await? {
        Some(post) if post.status != PostStatus::Deleted => {
            let outbox = activities_for(
                store,
                urls,
                post.author_id,
                PostChange::Deleted(&post),
                Utc::now(),
            )
            .await?;
            Ok(store.delete_post(id, outbox).await?)
        }
        _ => Err(AuthoringError::NotFound(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_deduplicated_by_slug() {
        let tags = normalize_tags(&[
            "Mali".into(),
            " #mali ".into(),
            "".into(),
            "West Africa".into(),
        ])
        .unwrap_or_default();
        let slugs: Vec<&str> = tags.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(slugs, ["mali", "west-africa"]);
    }

    #[test]
    fn an_empty_title_is_refused() {
        let input = PostInput {
            author_id: AuthorId(1),
            title: "  ".into(),
            slug: None,
            markdown: "x".into(),
            summary: None,
            tags: vec![],
            published_at: None,
            status: PostStatus::Published,
        };
        assert!(matches!(
            draft_from_input(input, Utc::now()),
            Err(AuthoringError::Invalid(_))
        ));
    }
}
