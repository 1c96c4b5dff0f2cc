//! The comment thread of a post page: a flat, thread-ordered list of comments turned
//! into a tree, then rendered as nested lists marked up with microformats2.
//!
//! # Why the replies live inside their parent's `h-cite`
//!
//! In mf2 parsing, an element with `p-comment h-cite` becomes a `comment` property of
//! the nearest ancestor microformat root. So each reply's `<ul class="comment-list">`
//! is placed inside the parent's `<article class="p-comment h-cite">` (after its
//! `e-content`), and a reader sees `h-entry → comment → comment …`.
//!
//! # Deleted comments
//!
//! A deleted comment is shown only when something visible hangs below it, as a plain
//! "This comment was deleted." placeholder *without* any microformat class. Its
//! replies still nest under the placeholder on screen; for mf2 parsers they become
//! comments of the nearest visible ancestor (or of the post), which is the truth as
//! far as anyone can still see.
//!
//! # What a reader sees of a fediverse comment
//!
//! Only [`Comment::is_listed`] comments reach the tree: approved, public or unlisted,
//! not by a blocked author. Followers-only and direct replies are private messages and
//! never appear here, even if a caller passes them in. A content warning (`summary`)
//! collapses the comment behind a `<details>` element, which needs no JavaScript.
//!
//! Attachments are shown as links labelled with their description (alt text), never
//! as inline `<img>`/`<video>`: embedding remote media would hot-link the commenter's
//! server from every reader's browser (leaking readers' addresses to it, and breaking
//! when it removes the file) and show images the author never approved. Inline media
//! can come back once Gloss has a caching media proxy.

use super::{DateView, safe_url};
use askama::Template;
use gloss_storage::{Attachment, Comment, CommentId};
use std::collections::HashMap;

/// Deepest nesting rendered. Deeper replies are shown at this level under their
/// deepest rendered ancestor: a fediverse thread can be arbitrarily deep, and
/// neither the page nor the renderer's stack should follow it all the way down.
pub(crate) const MAX_NESTING: usize = 24;

/// Attachments listed per comment; Mastodon allows four, and a hostile sender gets no
/// more than this many links on the page whatever it sends.
const MAX_ATTACHMENTS: usize = 16;

/// A comment with the replies shown below it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CommentNode {
    pub comment: Comment,
    pub replies: Vec<CommentNode>,
}

/// Builds the tree of what a reader sees from comments in thread order (as
/// `Store::comments_for_post` returns them).
///
/// - Comments that are not [listed](Comment::is_listed) (not approved, private, or
///   by a blocked author) are dropped with everything below them, since their replies
///   cannot be placed; so a caller may pass an unfiltered list.
/// - A comment whose parent is missing (or comes later, which thread order
///   forbids) is treated as top-level; this also rules out cycles.
/// - Deleted comments are kept only when a visible comment hangs below them.
pub(crate) fn build_comment_tree(comments: Vec<Comment>) -> Vec<CommentNode> {
    let count = comments.len();
    let mut index_of: HashMap<CommentId, usize> = HashMap::with_capacity(count);
    // `attach[i]`: the index of the node that holds comment i, `None` for the root.
    let mut attach: Vec<Option<usize>> = Vec::with_capacity(count);
    let mut level: Vec<usize> = Vec::with_capacity(count);
    let mut listed: Vec<bool> = Vec::with_capacity(count);
    for (i, comment) in comments.iter().enumerate() {
        let parent = comment
            .parent_id
            .and_then(|id| index_of.get(&id).copied())
            .filter(|&p| p < i);
        let is_listed = comment.is_listed();
        // A reply to a dropped comment is dropped too; orphans of missing rows stay.
        let parent_dropped = parent.is_some_and(|p| !listed[p]);
        listed.push(is_listed && !parent_dropped);
        let (holder, depth) = match parent {
            None => (None, 0),
            Some(p) if level[p] + 1 < MAX_NESTING => (Some(p), level[p] + 1),
            Some(p) => (attach[p], level[p]),
        };
        attach.push(holder);
        level.push(depth);
        index_of.insert(comment.id, i);
    }

    // Children come after their holder, so one backward pass decides which nodes
    // have something visible in their subtree.
    let mut keep: Vec<bool> = comments
        .iter()
        .zip(&listed)
        .map(|(c, &ok)| ok && c.deleted_at.is_none())
        .collect();
    for i in (0..count).rev() {
        if keep[i]
            && let Some(holder) = attach[i]
        {
            keep[holder] = true;
        }
    }
    for (i, ok) in listed.iter().enumerate() {
        if !ok {
            keep[i] = false;
        }
    }

    // Assemble backwards: every node is complete before its holder takes it.
    let mut slots: Vec<Option<CommentNode>> = comments
        .into_iter()
        .map(|comment| {
            Some(CommentNode {
                comment,
                replies: Vec::new(),
            })
        })
        .collect();
    let mut roots = Vec::new();
    for i in (0..count).rev() {
        if !keep[i] {
            continue;
        }
        let Some(mut node) = slots[i].take() else {
            continue;
        };
        node.replies.reverse();
        match attach[i] {
            Some(holder) => {
                if let Some(Some(parent)) = slots.get_mut(holder) {
                    parent.replies.push(node);
                }
            }
            None => roots.push(node),
        }
    }
    roots.reverse();
    roots
}

/// One comment as rendered by `templates/comment.html`, with its replies.
///
/// It implements [`askama::filters::HtmlSafe`] so that a parent can write its replies
/// with `{{ reply }}`: the value is itself an auto-escaping template, so its output
/// is already HTML and must not be escaped a second time.
#[derive(Debug, Clone, Template)]
#[template(path = "comment.html")]
pub(crate) struct CommentView {
    pub id: i64,
    /// `false` for the "This comment was deleted." placeholder.
    pub visible: bool,
    pub author_name: String,
    /// The commenter's http(s) page, if any.
    pub author_url: Option<String>,
    pub avatar_url: Option<String>,
    /// Sanitized by `gloss_federation::content` before it was stored.
    pub content_html: String,
    /// Content warning (plain text): the content is shown collapsed behind it.
    pub summary: Option<String>,
    /// Links to the comment's media, labelled with their descriptions.
    pub attachments: Vec<AttachmentView>,
    /// The sender marked the media sensitive without a content warning: only the
    /// attachments are collapsed.
    pub sensitive_media: bool,
    /// "3 likes · 1 boost", when the comment has any.
    pub reactions: Option<String>,
    pub published: DateView,
    /// Absolute: `{post permalink}#comment-{id}`.
    pub permalink: String,
    pub replies: Vec<CommentView>,
    /// The "Reply" link to the comment form (`?replyto={id}#comment-form`), when
    /// readers may comment.
    pub reply_url: Option<String>,
    /// `/interact?uri=…` for the comment's ActivityPub id, or its `/comments/ID` Note
    /// when it has none (imported and local comments); `None` once comments are closed.
    pub interact_url: Option<String>,
}

impl askama::filters::HtmlSafe for CommentView {}

impl CommentView {
    /// The views of a tree under the post whose absolute permalink is `post_url`.
    pub fn from_nodes(nodes: Vec<CommentNode>, post_url: &str) -> Vec<CommentView> {
        // A comment without a fediverse id is answered through its `/comments/ID` Note
        // (served by the federation routes): the encoded prefix is the same for all.
        let note_interact_prefix = post_url
            .rsplit_once("/posts/")
            .map(|(base, _)| super::interact::interact_path(&format!("{base}/comments/")));
        CommentView::views(nodes, post_url, note_interact_prefix.as_deref())
    }

    fn views(
        nodes: Vec<CommentNode>,
        post_url: &str,
        note_interact_prefix: Option<&str>,
    ) -> Vec<CommentView> {
        nodes
            .into_iter()
            .map(|node| CommentView::from_node(node, post_url, note_interact_prefix))
            .collect()
    }

    // Recursion is bounded by MAX_NESTING, which `build_comment_tree` enforces.
    fn from_node(
        node: CommentNode,
        post_url: &str,
        note_interact_prefix: Option<&str>,
    ) -> CommentView {
        let comment = node.comment;
        let summary = comment
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|summary| !summary.is_empty())
            .map(str::to_owned);
        let attachments = AttachmentView::list(&comment.attachments);
        CommentView {
            id: comment.id.0,
            visible: comment.is_public(),
            sensitive_media: comment.sensitive && summary.is_none() && !attachments.is_empty(),
            summary,
            attachments,
            reactions: reactions_label(comment.like_count, comment.announce_count),
            author_url: comment
                .author_url
                .as_deref()
                .and_then(|u| safe_url(u, None)),
            avatar_url: comment
                .author_avatar_url
                .as_deref()
                .and_then(|u| safe_url(u, None)),
            author_name: display_name(&comment.author_name),
            content_html: comment.content_html,
            published: DateView::new(comment.published_at),
            permalink: format!("{post_url}#comment-{}", comment.id),
            interact_url: Some(match (&comment.ap_id, note_interact_prefix) {
                (Some(ap_id), _) => super::interact::interact_path(ap_id),
                // Digits need no percent-encoding: prefix and id encode apart.
                (None, Some(prefix)) => format!("{prefix}{}", comment.id),
                (None, None) => super::interact::interact_path(post_url),
            }),
            replies: CommentView::views(node.replies, post_url, note_interact_prefix),
            reply_url: None,
        }
    }

    /// Gives every shown comment of the tree its "Reply" link to the form on the page
    /// at `post_path`.
    pub fn offer_replies(views: &mut [CommentView], post_path: &str) {
        for view in views {
            if view.visible {
                view.reply_url = Some(format!("{post_path}?replyto={}#comment-form", view.id));
            }
            CommentView::offer_replies(&mut view.replies, post_path);
        }
    }
}

/// A media attachment as a link: remote media is never embedded (see the module
/// documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachmentView {
    /// The media's http(s) URL on the commenter's server.
    pub url: String,
    /// "Image", "Video", "Audio" or "Attachment", from the media type.
    pub kind: &'static str,
    /// The description (alt text) as sent, plain text; `None` when there is none.
    pub description: Option<String>,
}

impl AttachmentView {
    /// The attachments that can be linked: http(s) URLs only (a `javascript:` or
    /// `data:` URL is left out), at most [`MAX_ATTACHMENTS`].
    pub fn list(attachments: &[Attachment]) -> Vec<AttachmentView> {
        attachments
            .iter()
            .filter_map(|attachment| {
                Some(AttachmentView {
                    url: safe_url(&attachment.url, None)?,
                    kind: media_kind(attachment.media_type.as_deref()),
                    description: attachment
                        .name
                        .as_deref()
                        .map(str::trim)
                        .filter(|name| !name.is_empty())
                        .map(str::to_owned),
                })
            })
            .take(MAX_ATTACHMENTS)
            .collect()
    }
}

/// What a link to media of `media_type` says it leads to.
fn media_kind(media_type: Option<&str>) -> &'static str {
    let top = media_type
        .and_then(|media_type| media_type.split('/').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match top.as_str() {
        "image" => "Image",
        "video" => "Video",
        "audio" => "Audio",
        _ => "Attachment",
    }
}

/// "3 likes · 1 boost" (zero counts left out), or `None` when there are none: the
/// likes and boosts (Announces) shown under a comment and beside a post's comment count.
pub(crate) fn reactions_label(likes: i64, boosts: i64) -> Option<String> {
    let plural = |count: i64, one: &str, many: &str| {
        if count == 1 {
            format!("1 {one}")
        } else {
            format!("{count} {many}")
        }
    };
    let mut parts = Vec::new();
    if likes > 0 {
        parts.push(plural(likes, "like", "likes"));
    }
    if boosts > 0 {
        parts.push(plural(boosts, "boost", "boosts"));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// A commenter's name as shown: trimmed, and never empty (an empty link is
/// invisible and unreadable to a screen reader).
pub(crate) fn display_name(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        "Anonymous".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use gloss_storage::{CommentOrigin, Moderation, PostId, Visibility};

    fn comment(id: i64, parent: Option<i64>) -> Comment {
        Comment {
            id: CommentId(id),
            post_id: PostId(1),
            parent_id: parent.map(CommentId),
            depth: 0,
            author_name: format!("Reader {id}"),
            author_url: None,
            author_avatar_url: None,
            content_html: format!("<p>Comment {id}</p>"),
            origin: CommentOrigin::Local,
            moderation: Moderation::Approved,
            ap_id: None,
            published_at: Utc
                .with_ymd_and_hms(2024, 3, 5, 10, 0, 0)
                .single()
                .unwrap_or_default(),
            updated_at: None,
            deleted_at: None,
            remote_actor_id: None,
            local_author_id: None,
            visibility: Visibility::Public,
            in_reply_to_ap_id: None,
            summary: None,
            sensitive: false,
            attachments: Vec::new(),
            url: None,
            like_count: 0,
            announce_count: 0,
            moderation_reason: None,
            author_blocked: false,
        }
    }

    fn deleted(id: i64, parent: Option<i64>) -> Comment {
        Comment {
            deleted_at: Some(Utc::now()),
            content_html: String::new(),
            ..comment(id, parent)
        }
    }

    /// The tree as `id(children…)` for readable assertions.
    fn shape(nodes: &[CommentNode]) -> String {
        nodes
            .iter()
            .map(|n| {
                if n.replies.is_empty() {
                    n.comment.id.to_string()
                } else {
                    format!("{}({})", n.comment.id, shape(&n.replies))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn thread_order_becomes_a_tree() {
        let flat = vec![
            comment(1, None),
            comment(2, Some(1)),
            comment(4, Some(2)),
            comment(3, Some(1)),
            comment(5, None),
        ];
        assert_eq!(shape(&build_comment_tree(flat)), "1(2(4) 3) 5");
    }

    #[test]
    fn deleted_comments_stay_only_above_visible_replies() {
        let flat = vec![
            deleted(1, None),
            comment(2, Some(1)),
            deleted(3, None),
            deleted(4, Some(3)),
            comment(5, None),
            deleted(6, Some(5)),
        ];
        assert_eq!(shape(&build_comment_tree(flat)), "1(2) 5");
    }

    #[test]
    fn comments_that_are_not_approved_take_their_replies_with_them() {
        let mut pending = comment(2, Some(1));
        pending.moderation = Moderation::Pending;
        let flat = vec![
            comment(1, None),
            pending,
            comment(3, Some(2)),
            comment(4, Some(1)),
        ];
        assert_eq!(shape(&build_comment_tree(flat)), "1(4)");
    }

    #[test]
    fn orphans_and_forward_parents_become_top_level() {
        let flat = vec![comment(1, Some(99)), comment(2, Some(3)), comment(3, None)];
        assert_eq!(shape(&build_comment_tree(flat)), "1 2 3");
    }

    #[test]
    fn very_deep_threads_are_flattened_at_the_nesting_limit() {
        let flat: Vec<Comment> = (1..=200)
            .map(|id| comment(id, (id > 1).then(|| id - 1)))
            .collect();
        let tree = build_comment_tree(flat);
        let mut depth = 0;
        let mut level = &tree;
        while let Some(first) = level.first() {
            depth += 1;
            level = &first.replies;
        }
        assert_eq!(depth, MAX_NESTING);
        let views = CommentView::from_nodes(tree, "https://blog.example/posts/x");
        let html = views
            .iter()
            .map(|v| v.render().unwrap_or_default())
            .collect::<String>();
        assert!(html.contains("id=\"comment-200\""));
    }

    #[test]
    fn replies_render_inside_their_parents_h_cite() {
        let tree = build_comment_tree(vec![comment(1, None), comment(2, Some(1))]);
        let views = CommentView::from_nodes(tree, "https://blog.example/posts/x");
        let html = views
            .first()
            .map(|v| v.render().unwrap_or_default())
            .unwrap_or_default();
        let parent = html.find("id=\"comment-1\"").unwrap_or(usize::MAX);
        let reply = html.find("id=\"comment-2\"").unwrap_or(0);
        let parent_end = html.rfind("</article>").unwrap_or(0);
        assert!(parent < reply && reply < parent_end, "{html}");
        assert!(
            html.contains("<ul class=\"comment-list\">"),
            "not escaped twice: {html}"
        );
        assert!(html.contains("href=\"https://blog.example/posts/x#comment-2\""));
    }

    #[test]
    fn deleted_placeholders_carry_no_microformat() {
        let tree = build_comment_tree(vec![deleted(1, None), comment(2, Some(1))]);
        let views = CommentView::from_nodes(tree, "https://blog.example/posts/x");
        let html = views
            .first()
            .map(|v| v.render().unwrap_or_default())
            .unwrap_or_default();
        assert!(html.contains("This comment was deleted."));
        assert_eq!(html.matches("h-cite").count(), 1, "{html}");
        assert!(html.contains("id=\"comment-2\""));
    }

    #[test]
    fn a_content_warning_wraps_the_text_the_media_and_nothing_else() {
        let mut warned = comment(1, None);
        warned.summary = Some("  spoilers  ".to_owned());
        warned.like_count = 2;
        warned.attachments = vec![Attachment {
            url: "https://media.example/a.png".to_owned(),
            media_type: Some("image/png".to_owned()),
            name: Some("A cat".to_owned()),
        }];
        let tree = build_comment_tree(vec![warned, comment(2, Some(1))]);
        let html = CommentView::from_nodes(tree, "https://blog.example/posts/x")
            .first()
            .map(|v| v.render().unwrap_or_default())
            .unwrap_or_default();
        let open = html
            .find("<details class=\"comment-cw\">")
            .unwrap_or(usize::MAX);
        let close = html.find("</details>").unwrap_or(0);
        let inside = html.get(open..close).unwrap_or_default();
        assert!(
            inside.contains("<bdi class=\"p-summary\">spoilers</bdi></summary>"),
            "{html}"
        );
        assert!(inside.contains("<p>Comment 1</p>"), "{html}");
        assert!(inside.contains("Image: <bdi>A cat</bdi>"), "{html}");
        // Likes and replies stay outside the warning.
        let likes = html.find("2 likes").unwrap_or(0);
        let reply = html.find("id=\"comment-2\"").unwrap_or(0);
        assert!(close < likes && likes < reply, "{html}");
    }

    #[test]
    fn private_and_blocked_comments_never_reach_the_tree() {
        let mut followers = comment(2, None);
        followers.visibility = Visibility::Followers;
        let mut direct = comment(3, Some(1));
        direct.visibility = Visibility::Direct;
        let mut blocked = comment(4, None);
        blocked.author_blocked = true;
        let flat = vec![
            comment(1, None),
            followers,
            direct,
            comment(5, Some(3)),
            blocked,
        ];
        assert_eq!(shape(&build_comment_tree(flat)), "1");
    }

    #[test]
    fn reactions_read_naturally() {
        assert_eq!(reactions_label(0, 0), None);
        assert_eq!(reactions_label(1, 0).as_deref(), Some("1 like"));
        assert_eq!(reactions_label(0, 1).as_deref(), Some("1 boost"));
        assert_eq!(reactions_label(3, 2).as_deref(), Some("3 likes · 2 boosts"));
        assert_eq!(reactions_label(-1, 0), None);
    }

    #[test]
    fn attachments_without_a_web_address_are_left_out() {
        let attachment = |url: &str, media_type: Option<&str>, name: Option<&str>| Attachment {
            url: url.to_owned(),
            media_type: media_type.map(str::to_owned),
            name: name.map(str::to_owned),
        };
        let views = AttachmentView::list(&[
            attachment("https://m.example/a", Some("Video/MP4"), Some("  ")),
            attachment("data:image/png;base64,AAAA", Some("image/png"), None),
            attachment("javascript:alert(1)", None, Some("x")),
            attachment("https://m.example/b", None, Some("b")),
        ]);
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].kind, "Video");
        assert_eq!(views[0].description, None);
        assert_eq!(views[1].kind, "Attachment");
    }

    #[test]
    fn hostile_names_and_urls_are_escaped() {
        let mut hostile = comment(1, None);
        hostile.author_name = "<script>alert(1)</script>\"onmouseover=\"x".to_owned();
        hostile.author_url = Some("https://evil.example/\"onmouseover=\"alert(1)".to_owned());
        hostile.author_avatar_url = Some("javascript:alert(1)".to_owned());
        let mut sneaky = comment(2, None);
        sneaky.author_url = Some("javascript:alert(1)".to_owned());
        let views = CommentView::from_nodes(
            build_comment_tree(vec![hostile, sneaky]),
            "https://blog.example/posts/x",
        );
        let html: String = views
            .iter()
            .map(|v| v.render().unwrap_or_default())
            .collect();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("\"onmouseover="), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("<bdi>"));
        assert!(html.contains("rel=\"nofollow ugc noopener\""));
    }
}
