//! `gloss import wxr FILE`: imports a WordPress export.
//!
//! The whole file is parsed before the database is opened; the store then applies the
//! batch in one transaction. So a malformed export writes nothing, and importing the
//! same export twice changes nothing the second time (rows are keyed by import keys).

use crate::Failure;
use crate::posts::{default_author, open_store, read_input_file};
use crate::settings::Settings;
use anyhow::Context;
use gloss_federation::wxr::{self, WxrImport};
use gloss_storage::{AuthorId, NewAuthor, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;

/// Username of the author created for imported posts when the blog has no author yet.
const IMPORTED_AUTHOR: &str = "imported";

/// Stands in for the fallback author while parsing, before the database is opened.
/// Replaced in every post before the batch is stored, except on an empty blog whose
/// export names the author of every post: then the store never reads it.
const PLACEHOLDER_AUTHOR: AuthorId = AuthorId(0);

/// Imports the WXR file at `path` and prints what was done.
pub async fn wxr(settings: &Settings, path: &Path) -> Result<(), Failure> {
    if let Ok(metadata) = std::fs::metadata(path) {
        // Refuse before reading a huge file into memory.
        if metadata.len() > u64::try_from(wxr::MAX_INPUT_BYTES).unwrap_or(u64::MAX) {
            return Err(Failure::usage(format!(
                "{}: the file is larger than {} MiB; expected a smaller export (split it in WordPress: Tools > Export by date range)",
                path.display(),
                wxr::MAX_INPUT_BYTES / (1024 * 1024)
            )));
        }
    }
    let xml = read_input_file(path)?;
    let parsed = parse_with_progress(&xml, path)?;
    drop(xml);

    let store = open_store(settings).await?;
    let WxrImport {
        site,
        mut batch,
        skipped: mut skipped_while_parsing,
    } = parsed;
    // Posts whose author is not in the export need an existing author to fall back on.
    let exported_authors: HashSet<&str> = batch
        .authors
        .iter()
        .map(|author| author.import_key.as_str())
        .collect();
    let needs_fallback = batch.posts.iter().any(|post| {
        post.author_import_key
            .as_deref()
            .is_none_or(|key| !exported_authors.contains(key))
    });
    if let Some(fallback) = fallback_author(store.as_ref(), &site.title, needs_fallback).await? {
        for post in &mut batch.posts {
            if post.fallback_author == PLACEHOLDER_AUTHOR {
                post.fallback_author = fallback;
            }
        }
    }
    let report = store
        .import(batch)
        .await
        .with_context(|| format!("{}: the import failed; nothing was written", path.display()))?;

    skipped_while_parsing.extend(report.skipped);
    println!(
        "Imported {} posts ({} unchanged), {} comments ({} unchanged), {} authors; skipped {}{}",
        report.posts_created,
        report.posts_unchanged,
        report.comments_created,
        report.comments_unchanged,
        report.authors_created,
        skipped_while_parsing.len(),
        if skipped_while_parsing.is_empty() {
            ""
        } else {
            ":"
        }
    );
    for reason in &skipped_while_parsing {
        println!("  - {reason}");
    }
    Ok(())
}

/// Parses the export, drawing a progress bar on a terminal.
fn parse_with_progress(xml: &[u8], path: &Path) -> Result<WxrImport, Failure> {
    let bar = if std::io::stderr().is_terminal() {
        let bar =
            ProgressBar::with_draw_target(Some(xml.len() as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("Reading {msg} {wide_bar} {bytes}/{total_bytes}")
        {
            bar.set_style(style);
        }
        bar.set_message(path.display().to_string());
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let result = wxr::parse_wxr(xml, PLACEHOLDER_AUTHOR, &mut progress);
    bar.finish_and_clear();
    result
        .map_err(|err| Failure::runtime(format!("{}: {err}; nothing was imported", path.display())))
}

/// The author who gets imported posts whose author is not in the export: the blog's
/// default author, else the first admin, else the oldest author. On an empty blog, and
/// only if some post needs it (`create`), a new author without login named after the
/// old blog.
async fn fallback_author(
    store: &dyn Store,
    site_title: &str,
    create: bool,
) -> Result<Option<AuthorId>, Failure> {
    if let Some(author) = default_author(store).await? {
        return Ok(Some(author.id));
    }
    if let Some(author) = store.list_authors().await?.into_iter().next() {
        return Ok(Some(author.id));
    }
    if !create {
        return Ok(None);
    }
    let display_name = match site_title.trim() {
        "" => "Imported".to_owned(),
        title => title.chars().take(100).collect(),
    };
    let author = store
        .create_author(NewAuthor {
            username: IMPORTED_AUTHOR.to_owned(),
            display_name,
            password_hash: None,
            is_admin: false,
            import_key: None,
        })
        .await
        .context("cannot create the author for imported posts")?;
    tracing::info!(
        "created the author {IMPORTED_AUTHOR:?} (no login) for imported posts without a known author"
    );
    Ok(Some(author.id))
}
