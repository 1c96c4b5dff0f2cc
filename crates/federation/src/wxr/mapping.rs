//! From raw WXR records to an [`ImportBatch`]: what is kept, what is skipped and why.
//!
//! - Authors become imported authors (no password: they cannot log in).
//! - Only published, public posts are imported; pages, attachments, drafts,
//!   private and password-protected posts are listed in `skipped` with the reason.
//! - Comments keep their threading, names, URLs, dates and moderation state. Trashed
//!   comments, pingbacks and trackbacks are left out; a reply whose parent was left
//!   out is attached to the nearest kept ancestor, and loops in the parent links are
//!   broken, so the store always receives a forest.
//! - Every piece of HTML goes through the sanitizers of [`crate::content`].

use super::dates::{parse_wordpress_date, post_published_at, post_updated_at};
use super::text::{
    http_url, plain_text, slug_from_wordpress, strip_html_comments, username_from_login,
};
use super::xml::{RawChannel, RawComment, RawItem};
use super::{WxrImport, WxrSite};
use crate::authoring::{MAX_TAGS, MAX_TITLE_CHARS, SUMMARY_CHARS};
use crate::content::{
    plain_text_excerpt, sanitize_comment_html, sanitize_post_html, wordpress_autop,
};
use chrono::{DateTime, Utc};
use gloss_storage::{
    AuthorId, ImportAuthor, ImportBatch, ImportComment, ImportPost, Moderation, Tag,
};
use std::collections::{HashMap, HashSet};

/// Longest excerpt kept as a summary, in characters (an author-written excerpt may
/// be longer than a generated one).
const MAX_EXCERPT_CHARS: usize = 1000;
/// Longest commenter name kept, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Longest commenter e-mail address kept, in bytes (RFC 5321 allows 254).
const MAX_EMAIL_BYTES: usize = 320;
/// Longest tag name kept, in characters.
const MAX_TAG_NAME_CHARS: usize = 100;

/// Turns a read export into the batch to import, with the list of what was left out.
pub(crate) fn map_channel(channel: RawChannel, fallback_author: AuthorId) -> WxrImport {
    let base = {
        let base = channel.base_site_url.trim();
        let base = if base.is_empty() {
            channel.link.trim()
        } else {
            base
        };
        base.trim_end_matches('/').to_owned()
    };
    let keys = Keys { base: &base };
    let mut skipped = Vec::new();
    let authors = map_authors(&channel, &keys, &mut skipped);

    let mut posts = Vec::new();
    let mut seen_posts = HashSet::new();
    let mut seen_comments = HashSet::new();
    for item in &channel.items {
        if let Some(mut post) =
            map_item(item, &keys, fallback_author, &mut seen_posts, &mut skipped)
        {
            post.comments = map_comments(item, &post, &keys, &mut seen_comments, &mut skipped);
            posts.push(post);
        }
    }

    WxrImport {
        site: WxrSite {
            title: plain_text(&channel.title, MAX_TITLE_CHARS),
            link: channel.link.trim().to_owned(),
            base_site_url: base.clone(),
            items: channel.items.len(),
        },
        batch: ImportBatch { authors, posts },
        skipped,
    }
}

/// Import keys: stable across runs of the same export, distinct across blogs.
struct Keys<'a> {
    base: &'a str,
}

impl Keys<'_> {
    fn author(&self, login: &str) -> String {
        format!("wxr:{}:author:{login}", self.base)
    }

    fn post(&self, post_id: &str) -> String {
        format!("wxr:{}:post:{post_id}", self.base)
    }

    fn comment(&self, comment_id: &str) -> String {
        format!("wxr:{}:comment:{comment_id}", self.base)
    }
}

fn map_authors(
    channel: &RawChannel,
    keys: &Keys<'_>,
    skipped: &mut Vec<String>,
) -> Vec<ImportAuthor> {
    let mut authors = Vec::new();
    let mut seen_keys = HashSet::new();
    let mut seen_usernames = HashSet::new();
    for raw in &channel.authors {
        let login = raw.login.trim();
        if login.is_empty() {
            skipped.push(format!(
                "author {}: no wp:author_login",
                plain_text(&raw.id, 20)
            ));
            continue;
        }
        let import_key = keys.author(login);
        if !seen_keys.insert(import_key.clone()) {
            continue;
        }
        // Two logins may reduce to the same username ("J.Doe" and "jdoe"); the
        // second gets a number so that the batch never collides with itself.
        let base_username = username_from_login(login, raw.id.trim());
        let mut username = base_username.clone();
        let mut number = 2;
        while !seen_usernames.insert(username.clone()) {
            let suffix = format!("_{number}");
            let keep = 32 - suffix.len();
            username = format!("{}{suffix}", truncate_chars(&base_username, keep));
            number += 1;
        }
        let display_name = match plain_text(&raw.display_name, MAX_NAME_CHARS) {
            name if name.is_empty() => login.to_owned(),
            name => name,
        };
        authors.push(ImportAuthor {
            import_key,
            username,
            display_name,
        });
    }
    authors
}

fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => text.get(..index).unwrap_or(text),
        None => text,
    }
}

/// `“Title”`, or `post 12` for an untitled item, for the reasons in `skipped`.
fn item_label(item: &RawItem) -> String {
    let title = plain_text(&item.title, 80);
    if title.is_empty() {
        format!("post {}", plain_text(&item.post_id, 20))
    } else {
        format!("“{title}”")
    }
}

/// The post of a published item, or `None` (with the reason in `skipped`).
fn map_item(
    item: &RawItem,
    keys: &Keys<'_>,
    fallback_author: AuthorId,
    seen_posts: &mut HashSet<String>,
    skipped: &mut Vec<String>,
) -> Option<ImportPost> {
    let label = item_label(item);
    let with_comments = match item.comments.len() {
        0 => String::new(),
        1 => " (its comment is not imported)".to_owned(),
        n => format!(" (its {n} comments are not imported)"),
    };
    let mut skip = |reason: String| skipped.push(format!("{reason}{with_comments}"));

    let post_type = match item.post_type.trim() {
        "" => "post",
        other => other,
    };
    if post_type != "post" {
        let why = match post_type {
            "attachment" => "media files are not imported",
            "nav_menu_item" => "menus are not imported",
            _ => "only posts are imported",
        };
        skip(format!("{label} ({}): {why}", plain_text(post_type, 40)));
        return None;
    }
    let status = item.status.trim();
    if status != "publish" {
        let status = if status.is_empty() {
            "no status"
        } else {
            status
        };
        skip(format!(
            "{label} ({}): not published",
            plain_text(status, 40)
        ));
        return None;
    }
    if !item.post_password.is_empty() {
        skip(format!(
            "{label} (password-protected): not imported, it would become public"
        ));
        return None;
    }
    let post_id = item.post_id.trim();
    if post_id.is_empty() {
        skip(format!("{label}: no wp:post_id"));
        return None;
    }
    if !seen_posts.insert(post_id.to_owned()) {
        skip(format!(
            "{label}: wp:post_id {post_id} appears twice; only the first is imported"
        ));
        return None;
    }
    let Some(published_at) =
        post_published_at(&item.post_date_gmt, &item.post_date, &item.pub_date)
    else {
        skip(format!("{label}: no valid publication date"));
        return None;
    };

    let source = item.content.clone();
    let content_html = sanitize_post_html(&strip_html_comments(&item.content));
    let excerpt = plain_text(&item.excerpt, MAX_EXCERPT_CHARS);
    let summary = if excerpt.is_empty() {
        Some(plain_text_excerpt(&content_html, SUMMARY_CHARS)).filter(|s| !s.is_empty())
    } else {
        Some(excerpt)
    };
    let fallback_slug = format!("post-{}", crate::content::slugify(post_id, "0"));
    let slug = slug_from_wordpress(&item.post_name, &item.title, &fallback_slug);
    let mut title = plain_text(&item.title, MAX_TITLE_CHARS);
    if title.is_empty() {
        title = match plain_text_excerpt(&content_html, 60) {
            text if text.is_empty() => "Untitled".to_owned(),
            text => text,
        };
    }
    let creator = item.creator.trim();
    Some(ImportPost {
        import_key: keys.post(post_id),
        author_import_key: (!creator.is_empty()).then(|| keys.author(creator)),
        fallback_author,
        title,
        slug,
        source,
        content_html,
        summary,
        tags: map_tags(item),
        published_at,
        updated_at: post_updated_at(&item.post_modified_gmt, published_at),
        comments: Vec::new(),
    })
}

/// Categories and tags both become tags, deduplicated by slug, in export order.
/// WordPress's placeholder category "Uncategorized" means "no category" and is dropped.
fn map_tags(item: &RawItem) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    for category in &item.categories {
        let domain = category.domain.trim();
        if domain != "category" && domain != "post_tag" {
            continue;
        }
        let name = plain_text(&category.name, MAX_TAG_NAME_CHARS);
        let slug = slug_from_wordpress(&category.nicename, &name, "tag");
        if domain == "category" && slug == "uncategorized" {
            continue;
        }
        if tags.iter().any(|tag| tag.slug == slug) {
            continue;
        }
        let name = if name.is_empty() { slug.clone() } else { name };
        tags.push(Tag { slug, name });
        if tags.len() >= MAX_TAGS {
            break;
        }
    }
    tags
}

/// A comment of the item, before its parent is settled.
struct CommentNode {
    id: String,
    /// `wp:comment_parent`, when not 0.
    parent_id: Option<String>,
    /// The comment to import; `None` when it was left out.
    kept: Option<ImportComment>,
    label: String,
}

/// Where a kept comment's parent link leads, before loops are broken.
enum Parent {
    TopLevel,
    Kept(usize),
    /// Its parent was left out; attached to the nearest kept ancestor (or top-level).
    Reattached {
        parent_id: String,
        to: Option<usize>,
    },
    /// Its parent is not in this item.
    Missing(String),
}

fn map_comments(
    item: &RawItem,
    post: &ImportPost,
    keys: &Keys<'_>,
    seen_comments: &mut HashSet<String>,
    skipped: &mut Vec<String>,
) -> Vec<ImportComment> {
    let title = format!("“{}”", truncate_chars(&post.title, 80));
    let mut nodes: Vec<CommentNode> = Vec::with_capacity(item.comments.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(item.comments.len());
    for raw in &item.comments {
        let id = raw.id.trim().to_owned();
        let author = comment_author_name(raw);
        let label = format!("comment {id} by {author} on {title}");
        if id.is_empty() {
            skipped.push(format!("comment by {author} on {title}: no wp:comment_id"));
            continue;
        }
        if !seen_comments.insert(id.clone()) {
            skipped.push(format!(
                "{label}: wp:comment_id appears twice; only the first is imported"
            ));
            continue;
        }
        let kept = match comment_left_out(raw) {
            Some(reason) => {
                skipped.push(format!("{label}: {reason}"));
                None
            }
            None => Some(map_comment(raw, &id, author, keys, post.published_at)),
        };
        let parent_id = match raw.parent.trim() {
            "" | "0" => None,
            parent => Some(parent.to_owned()),
        };
        index.insert(id.clone(), nodes.len());
        nodes.push(CommentNode {
            id,
            parent_id,
            kept,
            label,
        });
    }

    let parents = settle_parents(&nodes, &index);
    let mut comments = Vec::new();
    for (node, parent) in nodes.into_iter().zip(parents) {
        let Some(mut comment) = node.kept else {
            continue;
        };
        comment.parent_import_key = parent.kept.map(|p| keys.comment(&p.1));
        if let Some(note) = parent.note {
            skipped.push(format!("{}: {note}", node.label));
        }
        comments.push(comment);
    }
    comments
}

/// Why a comment is left out, if it is.
fn comment_left_out(raw: &RawComment) -> Option<String> {
    match raw.comment_type.trim() {
        "" | "comment" => {}
        "pingback" => return Some("pingbacks are not imported".to_owned()),
        "trackback" => return Some("trackbacks are not imported".to_owned()),
        other => {
            return Some(format!(
                "comments of type “{}” are not imported",
                plain_text(other, 40)
            ));
        }
    }
    match raw.approved.trim() {
        "trash" => Some("in the trash".to_owned()),
        "post-trashed" => Some("trashed with its post".to_owned()),
        _ => None,
    }
}

fn comment_author_name(raw: &RawComment) -> String {
    match plain_text(&raw.author, MAX_NAME_CHARS) {
        name if name.is_empty() => "Anonymous".to_owned(),
        name => name,
    }
}

fn map_comment(
    raw: &RawComment,
    id: &str,
    author_name: String,
    keys: &Keys<'_>,
    post_published_at: DateTime<Utc>,
) -> ImportComment {
    // WordPress keeps unknown states ("approved" by plugins...) out of sight too.
    let moderation = match raw.approved.trim() {
        "1" | "approve" | "approved" => Moderation::Approved,
        "spam" => Moderation::Spam,
        _ => Moderation::Pending,
    };
    let email = raw.author_email.trim();
    ImportComment {
        import_key: keys.comment(id),
        parent_import_key: None,
        author_name,
        author_url: http_url(&raw.author_url),
        author_email: (!email.is_empty() && email.len() <= MAX_EMAIL_BYTES)
            .then(|| email.to_owned()),
        content_html: sanitize_comment_html(&wordpress_autop(&raw.content)),
        moderation,
        published_at: parse_wordpress_date(&raw.date_gmt)
            .or_else(|| parse_wordpress_date(&raw.date))
            .unwrap_or(post_published_at),
    }
}

/// The settled parent of one comment: (index, comment id) of a kept comment, and an
/// informational note when the export's parent link could not be kept as is.
#[derive(Default)]
struct Settled {
    kept: Option<(usize, String)>,
    note: Option<String>,
}

/// Settles every comment's parent so that parent links only lead to kept comments
/// and never loop. Linear in the number of comments, without recursion.
fn settle_parents(nodes: &[CommentNode], index: &HashMap<String, usize>) -> Vec<Settled> {
    let parent_of = |i: usize| -> Option<usize> {
        let id = nodes.get(i)?.parent_id.as_deref()?;
        index.get(id).copied()
    };
    let is_kept = |i: usize| nodes.get(i).is_some_and(|node| node.kept.is_some());

    // For each left-out comment, the nearest kept ancestor; memoized, so that long
    // chains of trashed comments are walked once.
    #[derive(Clone, Copy)]
    enum Up {
        Unknown,
        Walking,
        Done(Option<usize>),
    }
    let mut up = vec![Up::Unknown; nodes.len()];
    let mut nearest_kept = |start: usize| -> Option<usize> {
        let mut path = Vec::new();
        let mut current = start;
        let result = loop {
            match up.get(current).copied() {
                Some(Up::Done(found)) => break found,
                // A loop made only of left-out comments leads nowhere.
                Some(Up::Walking) | None => break None,
                Some(Up::Unknown) => {}
            }
            if let Some(slot) = up.get_mut(current) {
                *slot = Up::Walking;
            }
            path.push(current);
            match parent_of(current) {
                None => break None,
                Some(parent) if is_kept(parent) => break Some(parent),
                Some(parent) => current = parent,
            }
        };
        for step in path {
            if let Some(slot) = up.get_mut(step) {
                *slot = Up::Done(result);
            }
        }
        result
    };

    let mut links: Vec<Parent> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let link = match (&node.kept, node.parent_id.as_deref()) {
            (None, _) | (Some(_), None) => Parent::TopLevel,
            (Some(_), Some(parent_id)) => match index.get(parent_id).copied() {
                None => Parent::Missing(parent_id.to_owned()),
                Some(parent) if is_kept(parent) => Parent::Kept(parent),
                Some(parent) => Parent::Reattached {
                    parent_id: parent_id.to_owned(),
                    to: nearest_kept(parent).filter(|&to| to != i),
                },
            },
        };
        links.push(link);
    }

    let mut settled: Vec<Settled> = links
        .iter()
        .map(|link| {
            let id_of = |i: usize| nodes.get(i).map(|node| (i, node.id.clone()));
            match link {
                Parent::TopLevel => Settled::default(),
                Parent::Kept(parent) => Settled {
                    kept: id_of(*parent),
                    note: None,
                },
                Parent::Reattached { parent_id, to } => Settled {
                    kept: to.and_then(id_of),
                    note: Some(match to.and_then(|to| nodes.get(to)) {
                        Some(new_parent) => format!(
                            "its parent comment {parent_id} is not imported; attached to comment {} instead",
                            new_parent.id
                        ),
                        None => format!(
                            "its parent comment {parent_id} is not imported; shown as a top-level comment"
                        ),
                    }),
                },
                Parent::Missing(parent_id) => Settled {
                    kept: None,
                    note: Some(format!(
                        "its parent comment {parent_id} is not in the export; shown as a top-level comment"
                    )),
                },
            }
        })
        .collect();

    // Break loops among kept comments (a replies to b, b replies to a): walk up from
    // each comment, marking the path; meeting a comment of the current path again
    // means a loop, cut where the walk re-entered it.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        New,
        OnPath,
        Settled,
    }
    let mut marks = vec![Mark::New; nodes.len()];
    for start in 0..nodes.len() {
        let mut path = Vec::new();
        let mut current = Some(start);
        while let Some(node) = current {
            if marks.get(node) != Some(&Mark::New) {
                break;
            }
            if let Some(mark) = marks.get_mut(node) {
                *mark = Mark::OnPath;
            }
            path.push(node);
            current = settled
                .get(node)
                .and_then(|s| s.kept.as_ref())
                .map(|(parent, _)| *parent);
        }
        if let Some(node) = current
            && marks.get(node) == Some(&Mark::OnPath)
            && let Some(entry) = settled.get_mut(node)
        {
            let parent_id = entry.kept.take().map(|(_, id)| id).unwrap_or_default();
            entry.note = Some(format!(
                "its reply chain loops back to it (through comment {parent_id}); shown as a top-level comment"
            ));
        }
        for node in path {
            if let Some(mark) = marks.get_mut(node) {
                *mark = Mark::Settled;
            }
        }
    }
    settled
}
