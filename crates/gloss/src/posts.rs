//! `gloss post publish` and `gloss post delete`: the same use cases as the admin UI
//! (`gloss_federation::authoring`), driven from files.

use crate::Failure;
use crate::front_matter::{self, PostFile};
use crate::settings::Settings;
use anyhow::Context;
use gloss_federation::authoring::{
    self, AuthoringError, MAX_TITLE_CHARS, PostInput, Published, normalize_tags,
};
use gloss_federation::content::{is_valid_slug, slugify};
use gloss_storage::{Author, PostStatus, Store};
use std::path::Path;
use std::sync::Arc;

/// Opens the database named by the settings.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, Failure> {
    Ok(gloss_storage::connect(settings.database_url.expose())
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                settings.database_url.redacted()
            )
        })?)
}

/// Reads a UTF-8 file given on the command line; a missing file is a usage error.
pub fn read_input_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|err| {
        Failure::usage(format!(
            "{}: cannot read the file: {err}; expected an existing, readable file",
            path.display()
        ))
    })
}

/// Checks what can be checked without the database, so that a bad file fails before
/// anything is opened.
fn check_post_file(path: &Path, post: &PostFile) -> Result<(), Failure> {
    let invalid = |why: String| Failure::usage(format!("{}: {why}", path.display()));
    if post.title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid(format!(
            "the title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    if let Some(slug) = &post.slug
        && !is_valid_slug(slug)
    {
        return Err(invalid(format!(
            "slug {slug:?} is not valid; expected lower-case letters, digits and inner dashes, such as my-first-post"
        )));
    }
    normalize_tags(&post.tags).map_err(|err| invalid(err.to_string()))?;
    Ok(())
}

/// Who writes a post that names no author: the blog's default author, else the
/// first admin.
pub async fn default_author(store: &dyn Store) -> Result<Option<Author>, Failure> {
    if let Some(id) = store.blog_settings().await?.default_author_id
        && let Some(author) = store.author_by_id(id).await?
    {
        return Ok(Some(author));
    }
    Ok(store
        .list_authors()
        .await?
        .into_iter()
        .find(|author| author.is_admin))
}

/// The author of the live post this file would update, if there is one.
async fn existing_post_author(
    store: &dyn Store,
    post: &PostFile,
) -> Result<Option<Author>, Failure> {
    // The slug `publish_by_slug` will use.
    let slug = match &post.slug {
        Some(slug) => slug.clone(),
        None => slugify(&post.title, "post"),
    };
    match store.post_by_slug(&slug).await? {
        Some(existing) if existing.status != PostStatus::Deleted => {
            Ok(store.author_by_id(existing.author_id).await?)
        }
        _ => Ok(None),
    }
}

/// Publishes `path`, or updates the post with its slug; prints its URL.
pub async fn publish(settings: &Settings, path: &Path) -> Result<(), Failure> {
    let bytes = read_input_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::usage(format!(
            "{}: the file is not valid UTF-8; expected a UTF-8 Markdown file",
            path.display()
        ))
    })?;
    let post = front_matter::parse(&text).map_err(|err| match err {
        // Reads as a sentence: "post.md has no front matter: ..."
        front_matter::FrontMatterError::Missing => {
            Failure::usage(format!("{} {err}", path.display()))
        }
        _ => Failure::usage(format!("{}: {err}", path.display())),
    })?;
    check_post_file(path, &post)?;

    let store = open_store(settings).await?;
    let urls = gloss_federation::urls::Urls::new(&settings.public_url);
    let author = match &post.author {
        Some(username) => store.author_by_username(username).await?.ok_or_else(|| {
            Failure::runtime(format!(
                "{}: no author named {username:?}; create one with gloss user add {username}",
                path.display()
            ))
        })?,
        // An update keeps the post's author unless the file names another one.
        None => match existing_post_author(store.as_ref(), &post).await? {
            Some(author) => author,
            None => default_author(store.as_ref()).await?.ok_or_else(|| {
                Failure::runtime("no author: create one with gloss user add USERNAME --admin")
            })?,
        },
    };
    let input = PostInput {
        author_id: author.id,
        title: post.title,
        slug: post.slug,
        markdown: post.body,
        summary: post.summary,
        tags: post.tags,
        published_at: post.date,
        status: if post.draft {
            PostStatus::Draft
        } else {
            PostStatus::Published
        },
    };
    let published = authoring::publish_by_slug(store.as_ref(), &urls, input)
        .await
        .map_err(|err| describe(path, err))?;
    let (verb, post) = match &published {
        Published::Created(post) => ("Created", post),
        Published::Updated(post) => ("Updated", post),
    };
    let note = if post.status == PostStatus::Draft {
        " (draft: not shown until published)"
    } else {
        ""
    };
    println!("{verb} {}{note}", settings.post_url(&post.slug));
    Ok(())
}

fn describe(path: &Path, err: AuthoringError) -> Failure {
    match err {
        AuthoringError::Storage(err) => {
            Failure::Runtime(anyhow::Error::new(err).context("cannot save the post"))
        }
        other => Failure::runtime(format!("{}: {other}", path.display())),
    }
}

/// Deletes the post with `slug`.
pub async fn delete(settings: &Settings, slug: &str) -> Result<(), Failure> {
    let store = open_store(settings).await?;
    let urls = gloss_federation::urls::Urls::new(&settings.public_url);
    let post = store
        .post_by_slug(slug)
        .await?
        .filter(|post| post.status != PostStatus::Deleted)
        .ok_or_else(|| Failure::runtime(format!("no post with slug {slug:?}")))?;
    authoring::delete_post(store.as_ref(), &urls, post.id)
        .await
        .map_err(|err| Failure::runtime(format!("cannot delete {slug:?}: {err}")))?;
    println!("Deleted {}", settings.post_url(&post.slug));
    Ok(())
}
