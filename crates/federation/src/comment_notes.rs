//! Comments that have no fediverse id of their own (imported from WordPress, or written
//! through the form on the post page) as Notes, so that people on the fediverse can
//! answer them too: `/comments/{id}`, presented by the blog actor (the commenter has no
//! actor), the commenter's name first in the content. A reply to such a Note reaches
//! the blog's inbox (its `attributedTo`) and takes its place under the comment.
//!
//! Only comments readers see are served; a deleted one answers 410 with a Tombstone.

use crate::content::escape_html;
use crate::protocol::note::{Note, NoteType};
use crate::protocol::{PUBLIC, document, note_context};
use crate::urls::Urls;
use gloss_storage::{Comment, CommentId, Post, Store};
use serde_json::Value;
use std::collections::BTreeMap;

/// The comment one of our URLs names: a comment without a fediverse id by its
/// `/comments/ID` Note, any other by its ActivityPub id (deleted ones included). How
/// the inbox resolves `inReplyTo` and reaction objects, and how the interaction forms
/// check their object.
pub async fn comment_named_by(
    store: &dyn Store,
    urls: &Urls,
    url: &str,
) -> gloss_storage::Result<Option<Comment>> {
    if let Some(id) = urls.comment_id_of(url)
        && let Some(comment) = store.comment_by_id(CommentId(id)).await?
        && comment.ap_id.is_none()
    {
        return Ok(Some(comment));
    }
    store.comment_by_ap_id(url).await
}

/// What a served comment answers: its parent's id (fediverse id, or our comment URL),
/// or the post.
pub fn in_reply_to(parent: Option<&Comment>, post: &Post, urls: &Urls) -> String {
    match parent {
        Some(parent) => parent
            .ap_id
            .clone()
            .unwrap_or_else(|| urls.comment(parent.id.0)),
        None => urls.post(&post.slug),
    }
}

/// The Note of comment `comment` (which has no ap id) under `post`.
pub fn comment_note(
    comment: &Comment,
    parent: Option<&Comment>,
    post: &Post,
    urls: &Urls,
) -> Value {
    let blog = urls.blog_actor();
    let content = format!(
        "<p>Comment by <strong>{}</strong>:</p>{}",
        escape_html(&comment.author_name),
        comment.content_html
    );
    let note = Note {
        id: urls.comment(comment.id.0),
        kind: NoteType::Note,
        attributed_to: Some(blog.clone()),
        name: None,
        content_map: Some(BTreeMap::from([(
            crate::notes::NOTE_LANGUAGE.to_owned(),
            content.clone(),
        )])),
        content: Some(content),
        summary: comment.summary.clone(),
        sensitive: comment.sensitive.then_some(true),
        in_reply_to: Some(in_reply_to(parent, post, urls)),
        published: Some(comment.published_at),
        updated: comment.updated_at,
        url: Some(format!("{}#comment-{}", urls.post(&post.slug), comment.id)),
        to: vec![PUBLIC.to_owned()],
        cc: vec![Urls::followers(&blog)],
        tag: Vec::new(),
        attachment: Vec::new(),
        replies: Some(urls.comment_replies(comment.id.0)),
        context: Some(urls.post_context(&post.slug)),
    };
    document(note_context(), &note)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::{TimeZone, Utc};
    use gloss_storage::{
        AuthorId, CommentId, CommentOrigin, Moderation, PostId, PostOrigin, PostStatus, Visibility,
    };
    use url::Url;

    fn post() -> Post {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        Post {
            id: PostId(3),
            author_id: AuthorId(7),
            title: "Hello".to_owned(),
            slug: "hello".to_owned(),
            source: String::new(),
            content_html: String::new(),
            summary: None,
            tags: Vec::new(),
            status: PostStatus::Published,
            origin: PostOrigin::Imported,
            comments_open: true,
            published_at: at,
            updated_at: None,
            created_at: at,
        }
    }

    fn comment(id: i64, name: &str) -> Comment {
        Comment {
            id: CommentId(id),
            post_id: PostId(3),
            parent_id: None,
            depth: 0,
            author_name: name.to_owned(),
            author_url: None,
            author_avatar_url: None,
            content_html: "<p>Nice.</p>".to_owned(),
            origin: CommentOrigin::Imported,
            moderation: Moderation::Approved,
            ap_id: None,
            published_at: Utc.timestamp_opt(1_700_000_100, 0).unwrap(),
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

    #[test]
    fn an_imported_comment_is_a_note_from_the_blog_naming_its_writer() {
        let urls = Urls::new(&Url::parse("https://blog.example").unwrap());
        let parent = comment(5, "Brandon");
        let mut child = comment(6, "<b>J. Ferris</b>");
        child.parent_id = Some(parent.id);
        let json = comment_note(&child, Some(&parent), &post(), &urls);
        assert_eq!(json["id"], "https://blog.example/comments/6");
        assert_eq!(json["type"], "Note");
        assert_eq!(json["attributedTo"], "https://blog.example/blog");
        assert_eq!(json["inReplyTo"], "https://blog.example/comments/5");
        assert_eq!(json["url"], "https://blog.example/posts/hello#comment-6");
        assert_eq!(json["replies"], "https://blog.example/comments/6/replies");
        assert_eq!(json["context"], "https://blog.example/posts/hello/context");
        assert_eq!(json["to"][0], PUBLIC);
        let content = json["content"].as_str().unwrap();
        assert!(
            content.starts_with("<p>Comment by <strong>&lt;b&gt;J. Ferris&lt;/b&gt;</strong>:</p>"),
            "{content}"
        );
        let top = comment_note(&parent, None, &post(), &urls);
        assert_eq!(top["inReplyTo"], "https://blog.example/posts/hello");
    }
}
