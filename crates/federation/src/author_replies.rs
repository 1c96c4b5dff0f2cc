//! Replies written by an author in the admin UI (issue 4, item 6): a Note from the
//! author's actor, `inReplyTo` the comment it answers, mentioning the commenter, shown in
//! the thread and delivered through the durable outbox. Editing sends an Update,
//! deleting a Delete, to the same audience.
//!
//! Audience:
//!
//! | the comment answered | `to` | `cc` | delivered to |
//! |---|---|---|---|
//! | public or unlisted | Public | the author's followers, the commenter | the author's followers, the commenter's (shared) inbox |
//! | followers-only or direct (a private message) | the commenter | | the commenter's own inbox only |
//!
//! A private message is answered privately: the reply is a direct Note that appears on
//! no page, like the message it answers. A comment without a fediverse author (imported
//! or written through the form) is answered on the page, and the Note goes to the
//! author's followers, `inReplyTo` the comment's id when it has one, else the post.
//!
//! The Note's id is `/notes/{uuid}`; it is served as JSON there (and redirects
//! browsers to its place on the post page), with a `replies` collection of its own.

use crate::content::{MAX_COMMENT_INPUT, escape_html, render_markdown, sanitize_comment_html};
use crate::outbox::{OutboxError, embedded, payload, url};
use crate::protocol::activities::{Activity, EmbeddedObject, ObjectRef, PUBLIC, default_context};
use crate::protocol::note::{Note, NoteType, Tag, TagType};
use crate::protocol::{document, note_context};
use crate::urls::Urls;
use activitypub_federation::kinds::activity::{CreateType, DeleteType, UpdateType};
use chrono::{DateTime, SecondsFormat, Utc};
use gloss_storage::{
    Author, Comment, CommentId, LocalActor, LocalAuthorReply, LocalReplyEdit, Moderation,
    OutgoingActivity, Post, PostStatus, RemoteActor, Store, ThreadNode, Visibility,
};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a reply could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// Something the author can fix (empty text, a held comment...): shown to them.
    #[error("{0}")]
    Invalid(String),
    #[error("no such comment")]
    NotFound,
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Storage(#[from] gloss_storage::Error),
}

/// Who the reply answers on the fediverse, when the comment came from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The commenter's actor id.
    pub actor: String,
    /// `@user@host`, the Mention's name.
    pub handle: String,
    /// The link in the mention (their profile page, else their actor id).
    pub profile: String,
    /// Where the activities go.
    pub inbox: String,
}

impl Recipient {
    /// The recipient for a stored remote actor; a private reply goes to their own inbox,
    /// a public one to their shared inbox when they have one (it merges with followers).
    pub fn of(actor: &RemoteActor, private: bool) -> Recipient {
        let user = actor
            .preferred_username
            .clone()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "user".to_owned());
        let inbox = match (&actor.shared_inbox, private) {
            (Some(shared), false) => shared.clone(),
            _ => actor.inbox.clone(),
        };
        Recipient {
            actor: actor.ap_id.clone(),
            handle: format!("@{user}@{}", actor.host),
            profile: actor.url.clone().unwrap_or_else(|| actor.ap_id.clone()),
            inbox,
        }
    }
}

/// Everything the Note of an author reply is built from.
#[derive(Debug, Clone)]
pub struct ReplyNote<'a> {
    pub id: &'a str,
    pub author: &'a Author,
    pub post: &'a Post,
    pub in_reply_to: &'a str,
    /// Sanitized HTML, the mention included.
    pub content_html: &'a str,
    pub recipient: Option<&'a Recipient>,
    /// Public (answers a listed comment) or direct (answers a private message).
    pub visibility: Visibility,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
}

impl ReplyNote<'_> {
    fn actor(&self, urls: &Urls) -> String {
        urls.author_actor(&self.author.username)
    }

    fn is_private(&self) -> bool {
        !self.visibility.is_listed()
    }

    /// `to` and `cc`, as in the module's table.
    fn audience(&self, urls: &Urls) -> (Vec<String>, Vec<String>) {
        let recipient = self.recipient.map(|r| r.actor.clone());
        if self.is_private() {
            (recipient.into_iter().collect(), Vec::new())
        } else {
            let mut cc = vec![Urls::followers(&self.actor(urls))];
            cc.extend(recipient);
            (vec![PUBLIC.to_owned()], cc)
        }
    }

    /// The Note, typed.
    pub fn note(&self, urls: &Urls) -> Note {
        let (to, cc) = self.audience(urls);
        Note {
            id: self.id.to_owned(),
            kind: NoteType::Note,
            attributed_to: Some(self.actor(urls)),
            name: None,
            content: Some(self.content_html.to_owned()),
            content_map: Some(BTreeMap::from([(
                crate::notes::NOTE_LANGUAGE.to_owned(),
                self.content_html.to_owned(),
            )])),
            summary: None,
            sensitive: None,
            in_reply_to: Some(self.in_reply_to.to_owned()),
            published: Some(self.published),
            updated: self.updated,
            url: Some(self.id.to_owned()),
            to,
            cc,
            tag: self
                .recipient
                .map(|r| Tag {
                    kind: TagType::Mention,
                    href: Some(r.actor.clone()),
                    name: Some(r.handle.clone()),
                    id: None,
                    icon: None,
                })
                .into_iter()
                .collect(),
            attachment: Vec::new(),
            replies: (!self.is_private()).then(|| Urls::note_replies(self.id)),
            context: (!self.is_private()).then(|| urls.post_context(&self.post.slug)),
        }
    }

    /// The Note as a complete JSON document.
    pub fn document(&self, urls: &Urls) -> Value {
        document(note_context(), &self.note(urls))
    }

    /// Who the store delivers to: the author's followers for a public reply, the
    /// commenter's inbox in both cases.
    fn delivery(&self) -> (Vec<LocalActor>, Vec<String>) {
        let followers = if self.is_private() {
            Vec::new()
        } else {
            vec![LocalActor::Author(self.author.id)]
        };
        let inboxes = self
            .recipient
            .map(|r| r.inbox.clone())
            .into_iter()
            .collect();
        (followers, inboxes)
    }

    /// The activity `kind` (named `name` in the outbox) about this Note, to the table's
    /// audience.
    fn outgoing<K: Serialize>(
        &self,
        urls: &Urls,
        kind: K,
        name: &str,
        object: ObjectRef,
        now: DateTime<Utc>,
    ) -> Result<OutgoingActivity, OutboxError> {
        let (to, cc) = self.audience(urls);
        let activity = Activity {
            context: Some(default_context()),
            id: url(&urls.new_activity())?,
            kind,
            actor: ObjectRef::Id(url(&self.actor(urls))?),
            object: Some(object),
            to: to.iter().map(|u| url(u)).collect::<Result<_, _>>()?,
            cc: cc.iter().map(|u| url(u)).collect::<Result<_, _>>()?,
            published: Some(now),
        };
        let (to_followers_of, extra_inboxes) = self.delivery();
        Ok(OutgoingActivity {
            ap_id: activity.id.to_string(),
            actor: LocalActor::Author(self.author.id),
            kind: name.to_owned(),
            object_ap_id: Some(self.id.to_owned()),
            post_id: Some(self.post.id),
            payload: payload(&activity),
            to_followers_of,
            extra_inboxes,
        })
    }

    /// `Create(Note)`.
    pub fn create(&self, urls: &Urls, now: DateTime<Utc>) -> Result<OutgoingActivity, OutboxError> {
        let object = embedded(self.document(urls));
        self.outgoing(urls, CreateType::Create, "Create", object, now)
    }

    /// `Update(Note)`; the Note carries `updated`.
    pub fn update(&self, urls: &Urls, now: DateTime<Utc>) -> Result<OutgoingActivity, OutboxError> {
        let object = embedded(self.document(urls));
        self.outgoing(urls, UpdateType::Update, "Update", object, now)
    }

    /// `Delete(Tombstone)`.
    pub fn delete(&self, urls: &Urls, now: DateTime<Utc>) -> Result<OutgoingActivity, OutboxError> {
        let mut rest = Map::new();
        rest.insert("formerType".to_owned(), Value::String("Note".to_owned()));
        rest.insert(
            "deleted".to_owned(),
            Value::String(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        let object = ObjectRef::Object(Box::new(EmbeddedObject {
            id: Some(url(self.id)?),
            kind: Some("Tombstone".to_owned()),
            actor: None,
            object: None,
            rest,
        }));
        self.outgoing(urls, DeleteType::Delete, "Delete", object, now)
    }
}

/// The reply's HTML: the author's Markdown rendered and held to the same allow-list as
/// comments from the fediverse, with the mention of the commenter first (inside the
/// first paragraph, as Mastodon writes it).
pub fn reply_html(markdown: &str, recipient: Option<&Recipient>) -> String {
    let body = sanitize_comment_html(&render_markdown(markdown))
        .trim()
        .to_owned();
    let Some(recipient) = recipient else {
        return body;
    };
    let user = recipient
        .handle
        .trim_start_matches('@')
        .split('@')
        .next()
        .unwrap_or_default();
    let mention = format!(
        r#"<span class="h-card"><a href="{}" class="u-url mention">@<span>{}</span></a></span> "#,
        escape_html(&recipient.profile),
        escape_html(user)
    );
    let html = match body.strip_prefix("<p>") {
        Some(rest) => format!("<p>{mention}{rest}"),
        None => format!("<p>{}</p>{body}", mention.trim_end()),
    };
    sanitize_comment_html(&html).trim().to_owned()
}

/// The text of a reply as the edit form shows it: the stored HTML without the leading
/// mention (the Markdown renderer takes HTML back as it is, so saving it unchanged gives
/// the same reply).
pub fn editable_source(content_html: &str) -> String {
    let html = content_html.trim();
    if let Some(rest) = html.strip_prefix("<p><span class=\"h-card\">")
        && let Some(end) = rest.find("</span></a></span>")
    {
        let after = rest[end + "</span></a></span>".len()..].trim_start();
        return format!("<p>{after}");
    }
    html.to_owned()
}

fn check_text(markdown: &str) -> Result<(), ReplyError> {
    if markdown.trim().is_empty() {
        return Err(ReplyError::Invalid("The reply is empty.".to_owned()));
    }
    if markdown.len() > MAX_COMMENT_INPUT {
        return Err(ReplyError::Invalid(format!(
            "The reply is too long (at most {} KB).",
            MAX_COMMENT_INPUT / 1024
        )));
    }
    Ok(())
}

/// The post a comment belongs to, which must be published.
async fn published_post(store: &dyn Store, comment: &Comment) -> Result<Post, ReplyError> {
    match store.post_by_id(comment.post_id).await? {
        Some(post) if post.status == PostStatus::Published => Ok(post),
        _ => Err(ReplyError::Invalid(
            "The comment's post is not published: there is nothing to reply under.".to_owned(),
        )),
    }
}

/// What the reply answers, as the Note says it.
fn in_reply_to(comment: &Comment, post: &Post, urls: &Urls) -> String {
    comment
        .ap_id
        .clone()
        .unwrap_or_else(|| urls.post(&post.slug))
}

async fn recipient_of(
    store: &dyn Store,
    comment: &Comment,
    private: bool,
) -> Result<Option<Recipient>, ReplyError> {
    let Some(actor) = comment.remote_actor_id else {
        return Ok(None);
    };
    Ok(store
        .remote_actor_by_id(actor)
        .await?
        .filter(|actor| actor.deleted_at.is_none())
        .map(|actor| Recipient::of(&actor, private)))
}

/// Writes `author`'s reply to comment `parent`: stored in the thread and its Create
/// recorded for delivery in one transaction. Only a live comment that readers see, or
/// a private message (answered privately), can be answered.
pub async fn reply_to_comment(
    store: &dyn Store,
    urls: &Urls,
    author: &Author,
    parent: CommentId,
    markdown: &str,
) -> Result<Comment, ReplyError> {
    check_text(markdown)?;
    let comment = store
        .comment_by_id(parent)
        .await?
        .ok_or(ReplyError::NotFound)?;
    if comment.deleted_at.is_some() {
        return Err(ReplyError::Invalid(
            "The comment was deleted: there is nobody to reply to.".to_owned(),
        ));
    }
    let private = !comment.visibility.is_listed();
    if !private && (comment.moderation != Moderation::Approved || comment.author_blocked) {
        return Err(ReplyError::Invalid(
            "Approve the comment before replying: the reply would sit under a comment readers \
             cannot see."
                .to_owned(),
        ));
    }
    let post = published_post(store, &comment).await?;
    let recipient = recipient_of(store, &comment, private).await?;
    if private && recipient.is_none() {
        return Err(ReplyError::Invalid(
            "The sender of this private message is gone: the reply could not reach them."
                .to_owned(),
        ));
    }
    let now = Utc::now();
    let id = urls.new_note();
    let content_html = reply_html(markdown, recipient.as_ref());
    let in_reply_to = in_reply_to(&comment, &post, urls);
    let visibility = if private {
        Visibility::Direct
    } else {
        Visibility::Public
    };
    let note = ReplyNote {
        id: &id,
        author,
        post: &post,
        in_reply_to: &in_reply_to,
        content_html: &content_html,
        recipient: recipient.as_ref(),
        visibility,
        published: now,
        updated: None,
    };
    let create = note.create(urls, now)?;
    let reply = LocalAuthorReply {
        author_id: author.id,
        parent: ThreadNode::Comment(comment.id),
        ap_id: id.clone(),
        author_name: author.display_name.clone(),
        author_url: Some(urls.author_actor(&author.username)),
        author_avatar_url: author.avatar_url.clone(),
        content_html: content_html.clone(),
        summary: None,
        sensitive: false,
        in_reply_to_ap_id: Some(in_reply_to.clone()),
        visibility,
        published_at: now,
    };
    Ok(store.add_local_author_reply(reply, vec![create]).await?)
}

/// The reply, its post and who it answers, for an edit or a deletion.
async fn load_reply(
    store: &dyn Store,
    id: CommentId,
) -> Result<(Comment, Post, Option<Recipient>), ReplyError> {
    let reply = store.comment_by_id(id).await?.ok_or(ReplyError::NotFound)?;
    if reply.local_author_id.is_none() || reply.ap_id.is_none() {
        return Err(ReplyError::Invalid(
            "Only replies written here can be edited or deleted here.".to_owned(),
        ));
    }
    if reply.deleted_at.is_some() {
        return Err(ReplyError::Invalid("The reply was deleted.".to_owned()));
    }
    let (post, recipient) = reply_context(store, &reply).await?;
    Ok((reply, post, recipient))
}

/// The post of an author reply, and who the reply answers.
async fn reply_context(
    store: &dyn Store,
    reply: &Comment,
) -> Result<(Post, Option<Recipient>), ReplyError> {
    let post = store
        .post_by_id(reply.post_id)
        .await?
        .ok_or(ReplyError::NotFound)?;
    let parent = match reply.parent_id {
        Some(parent) => store.comment_by_id(parent).await?,
        None => None,
    };
    let private = !reply.visibility.is_listed();
    let recipient = match parent {
        Some(parent) => recipient_of(store, &parent, private).await?,
        None => None,
    };
    Ok((post, recipient))
}

/// Edits an author reply and records its Update.
pub async fn edit_reply(
    store: &dyn Store,
    urls: &Urls,
    author: &Author,
    id: CommentId,
    markdown: &str,
) -> Result<Comment, ReplyError> {
    check_text(markdown)?;
    let (reply, post, recipient) = load_reply(store, id).await?;
    let now = Utc::now();
    let content_html = reply_html(markdown, recipient.as_ref());
    let ap_id = reply.ap_id.clone().unwrap_or_default();
    let in_reply_to = reply
        .in_reply_to_ap_id
        .clone()
        .unwrap_or_else(|| urls.post(&post.slug));
    let note = ReplyNote {
        id: &ap_id,
        author,
        post: &post,
        in_reply_to: &in_reply_to,
        content_html: &content_html,
        recipient: recipient.as_ref(),
        visibility: reply.visibility,
        published: reply.published_at,
        updated: Some(now),
    };
    let update = note.update(urls, now)?;
    let edit = LocalReplyEdit {
        content_html,
        summary: None,
        sensitive: false,
        updated_at: now,
    };
    Ok(store
        .update_local_author_reply(id, edit, vec![update])
        .await?)
}

/// Deletes an author reply (a tombstone stays) and records its Delete.
pub async fn delete_reply(
    store: &dyn Store,
    urls: &Urls,
    author: &Author,
    id: CommentId,
) -> Result<(), ReplyError> {
    let (reply, post, recipient) = load_reply(store, id).await?;
    let now = Utc::now();
    let ap_id = reply.ap_id.clone().unwrap_or_default();
    let in_reply_to = reply.in_reply_to_ap_id.clone().unwrap_or_default();
    let note = ReplyNote {
        id: &ap_id,
        author,
        post: &post,
        in_reply_to: &in_reply_to,
        content_html: "",
        recipient: recipient.as_ref(),
        visibility: reply.visibility,
        published: reply.published_at,
        updated: None,
    };
    let delete = note.delete(urls, now)?;
    Ok(store
        .delete_local_author_reply(id, vec![delete], now)
        .await?)
}

/// The Note of a live, public author reply as served at its id; `None` for anything
/// else (a private reply is never served: its audience fetches nothing from us).
pub async fn served_note(
    store: &dyn Store,
    urls: &Urls,
    reply: &Comment,
) -> Result<Option<Value>, ReplyError> {
    let live_and_public =
        reply.ap_id.is_some() && reply.deleted_at.is_none() && reply.visibility.is_listed();
    let Some(author_id) = reply.local_author_id.filter(|_| live_and_public) else {
        return Ok(None);
    };
    let Some(author) = store.author_by_id(author_id).await? else {
        return Ok(None);
    };
    let (post, recipient) = reply_context(store, reply).await?;
    if post.status != PostStatus::Published {
        return Ok(None);
    }
    let ap_id = reply.ap_id.clone().unwrap_or_default();
    let in_reply_to = reply
        .in_reply_to_ap_id
        .clone()
        .unwrap_or_else(|| urls.post(&post.slug));
    let note = ReplyNote {
        id: &ap_id,
        author: &author,
        post: &post,
        in_reply_to: &in_reply_to,
        content_html: &reply.content_html,
        recipient: recipient.as_ref(),
        visibility: reply.visibility,
        published: reply.published_at,
        updated: reply.updated_at,
    };
    Ok(Some(note.document(urls)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;
    use gloss_storage::{AuthorId, PostId, PostOrigin};
    use url::Url;

    fn urls() -> Urls {
        Urls::new(&Url::parse("https://blog.example").unwrap())
    }

    fn author() -> Author {
        Author {
            id: AuthorId(7),
            username: "alice".to_owned(),
            display_name: "Alice".to_owned(),
            bio: String::new(),
            avatar_url: None,
            is_admin: true,
            created_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        }
    }

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
            origin: PostOrigin::Local,
            comments_open: true,
            published_at: at,
            updated_at: None,
            created_at: at,
        }
    }

    fn recipient() -> Recipient {
        Recipient {
            actor: "https://social.example/users/bob".to_owned(),
            handle: "@bob@social.example".to_owned(),
            profile: "https://social.example/@bob".to_owned(),
            inbox: "https://social.example/inbox".to_owned(),
        }
    }

    #[test]
    fn a_public_reply_mentions_the_commenter_and_goes_to_followers() {
        let urls = urls();
        let (author, post, recipient) = (author(), post(), recipient());
        let html = reply_html("Thanks, *Bob*!", Some(&recipient));
        assert!(
            html.starts_with(
                r#"<p><span class="h-card"><a href="https://social.example/@bob" class="u-url mention" rel="nofollow noopener noreferrer ugc">@<span>bob</span></a></span> Thanks, <em>Bob</em>!"#
            ),
            "{html}"
        );
        let note = ReplyNote {
            id: "https://blog.example/notes/1",
            author: &author,
            post: &post,
            in_reply_to: "https://social.example/notes/9",
            content_html: &html,
            recipient: Some(&recipient),
            visibility: Visibility::Public,
            published: post.published_at,
            updated: None,
        };
        let json = note.document(&urls);
        assert_eq!(json["inReplyTo"], "https://social.example/notes/9");
        assert_eq!(json["attributedTo"], "https://blog.example/authors/alice");
        assert_eq!(json["to"][0], PUBLIC);
        assert_eq!(
            json["cc"][0],
            "https://blog.example/authors/alice/followers"
        );
        assert_eq!(json["cc"][1], "https://social.example/users/bob");
        assert_eq!(json["tag"][0]["type"], "Mention");
        assert_eq!(json["tag"][0]["href"], "https://social.example/users/bob");
        assert_eq!(json["tag"][0]["name"], "@bob@social.example");
        assert_eq!(json["replies"], "https://blog.example/notes/1/replies");
        assert_eq!(json["context"], "https://blog.example/posts/hello/context");
        let create = note.create(&urls, post.published_at).unwrap();
        assert_eq!(create.kind, "Create");
        assert_eq!(
            create.to_followers_of,
            vec![LocalActor::Author(AuthorId(7))]
        );
        assert_eq!(create.extra_inboxes, vec!["https://social.example/inbox"]);
        let payload: Value = serde_json::from_str(&create.payload).unwrap();
        assert_eq!(payload["type"], "Create");
        assert_eq!(payload["object"]["id"], "https://blog.example/notes/1");
        assert_eq!(payload["cc"][1], "https://social.example/users/bob");
    }

    #[test]
    fn a_private_reply_goes_to_the_commenter_only() {
        let urls = urls();
        let (author, post, recipient) = (author(), post(), recipient());
        let note = ReplyNote {
            id: "https://blog.example/notes/2",
            author: &author,
            post: &post,
            in_reply_to: "https://social.example/notes/9",
            content_html: "<p>hi</p>",
            recipient: Some(&recipient),
            visibility: Visibility::Direct,
            published: post.published_at,
            updated: None,
        };
        let json = note.document(&urls);
        assert_eq!(
            json["to"],
            serde_json::json!(["https://social.example/users/bob"])
        );
        assert!(json.get("cc").is_none());
        assert!(json.get("replies").is_none());
        let delete = note.delete(&urls, post.published_at).unwrap();
        assert!(delete.to_followers_of.is_empty());
        assert_eq!(delete.extra_inboxes, vec!["https://social.example/inbox"]);
        let payload: Value = serde_json::from_str(&delete.payload).unwrap();
        assert_eq!(payload["object"]["type"], "Tombstone");
        assert_eq!(payload["object"]["id"], "https://blog.example/notes/2");
    }

    #[test]
    fn hostile_markdown_and_names_are_neutralized() {
        let mut evil = recipient();
        evil.handle = "@<script>@evil.example".to_owned();
        evil.profile = "javascript:alert(1)".to_owned();
        let html = reply_html(
            "<img src=x onerror=alert(1)> [x](javascript:alert(2))",
            Some(&evil),
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn the_edit_form_gets_the_text_without_the_mention() {
        let html = reply_html("Thanks!\n\nSecond.", Some(&recipient()));
        let source = editable_source(&html);
        assert!(source.starts_with("<p>Thanks!</p>"), "{source}");
        assert_eq!(reply_html(&source, Some(&recipient())), html);
        assert_eq!(editable_source("<p>plain</p>"), "<p>plain</p>");
    }
}
