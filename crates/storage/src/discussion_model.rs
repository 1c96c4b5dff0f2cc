//! Domain types for the discussion under posts when it comes from the fediverse: remote
//! comments and their edits and deletions, author replies, likes and boosts, reports,
//! moderation decisions and blocks. Plain data; the ActivityPub JSON is parsed and built
//! in `gloss-federation`, which also decides visibility and moderation before it calls
//! the store.

use crate::federation_model::{RemoteActorId, delivery_host};
use crate::model::{Attachment, AuthorId, Comment, CommentId, Moderation, PostId, Visibility};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A node of a post's thread: the post itself (the root) or one of its comments. Names
/// what a reply answers, what a Like or Announce is about, and whose `replies`
/// collection is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ThreadNode {
    Post(PostId),
    Comment(CommentId),
}

/// A fediverse object (Note, Article, Page, Question) that replies to one of our posts
/// or to a comment we hold, as
/// [`Store::upsert_remote_comment`](crate::Store::upsert_remote_comment) stores it.
/// Content is already sanitized and capped by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommentUpsert {
    /// The object's ActivityPub id: the key that makes receiving idempotent.
    pub ap_id: String,
    /// What it replies to; for a comment, the post is that comment's post.
    pub parent: ThreadNode,
    /// Its author (`attributedTo`), already stored; the owner checked on Update/Delete.
    pub remote_actor_id: RemoteActorId,
    pub author_name: String,
    pub author_url: Option<String>,
    pub author_avatar_url: Option<String>,
    pub content_html: String,
    pub summary: Option<String>,
    pub sensitive: bool,
    pub attachments: Vec<Attachment>,
    /// The object's HTML page.
    pub url: Option<String>,
    /// The `inReplyTo` as received.
    pub in_reply_to_ap_id: Option<String>,
    pub visibility: Visibility,
    pub published_at: DateTime<Utc>,
    /// The object's `updated`, when it says it was edited.
    pub updated_at: Option<DateTime<Utc>>,
    /// The state the moderation rules gave it (for a new comment, or an edited one).
    pub moderation: Moderation,
    /// Why; when given, the decision is written to the moderation log.
    pub moderation_reason: Option<String>,
}

/// What [`Store::upsert_remote_comment`](crate::Store::upsert_remote_comment) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new comment.
    Created(Comment),
    /// The comment existed and its content changed: the previous version is kept as a
    /// revision.
    Updated(Comment),
    /// The comment existed with the same content (or a newer one): nothing changed.
    Unchanged(Comment),
    /// The object was deleted (a tombstone, or the comment's row is deleted): it is not
    /// brought back.
    Tombstoned,
    /// A comment with this id exists and belongs to someone else (another remote actor,
    /// or it is one of ours): refused.
    NotOwner,
}

/// A new version of a remote comment (Update of a Note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommentEdit {
    pub content_html: String,
    pub summary: Option<String>,
    pub sensitive: bool,
    pub attachments: Vec<Attachment>,
    /// The object's `updated` (or the time the Update arrived). An edit that is not newer
    /// than the stored version is ignored, so Updates arriving out of order do no harm.
    pub updated_at: DateTime<Utc>,
    /// The state the moderation rules give the edited comment. A comment the author hid
    /// or marked spam keeps that state whatever the rules say.
    pub moderation: Moderation,
    pub moderation_reason: Option<String>,
}

/// What an Update of a remote comment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOutcome {
    /// The content changed; the previous version is kept as a revision.
    Updated(Comment),
    /// Same content, or an older version than the stored one.
    Unchanged(Comment),
    /// No comment has that id.
    NotFound,
    /// The comment belongs to another actor, or is one of ours: refused.
    NotOwner,
    /// The comment was deleted: it stays deleted.
    Deleted,
}

/// What a remote Delete of a comment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The comment's content is cleared and a tombstone written.
    Deleted(CommentId),
    /// It was deleted before; nothing changed.
    AlreadyDeleted,
    /// The comment belongs to another actor, or is one of ours: refused.
    NotOwner,
    /// No such comment (yet): a tombstone is written all the same, so that a Create
    /// arriving late from the same actor is refused.
    Unknown,
}

/// A reply the author writes in the admin UI: shown in the thread at once and sent as a
/// Note (the activity comes with it, recorded in the same transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAuthorReply {
    pub author_id: AuthorId,
    /// What it answers (usually a comment).
    pub parent: ThreadNode,
    /// The Note's id, chosen by the caller (it is in the activity's payload already).
    pub ap_id: String,
    pub author_name: String,
    pub author_url: Option<String>,
    pub author_avatar_url: Option<String>,
    pub content_html: String,
    pub summary: Option<String>,
    pub sensitive: bool,
    /// The `inReplyTo` the Note carries.
    pub in_reply_to_ap_id: Option<String>,
    pub visibility: Visibility,
    pub published_at: DateTime<Utc>,
}

/// A new version of an author reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReplyEdit {
    pub content_html: String,
    pub summary: Option<String>,
    pub sensitive: bool,
    pub updated_at: DateTime<Utc>,
}

/// An earlier version of an edited comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRevision {
    pub id: i64,
    pub comment_id: CommentId,
    pub content_html: String,
    pub summary: Option<String>,
    pub sensitive: bool,
    pub attachments: Vec<Attachment>,
    /// When this version was written (published, or its own edit).
    pub written_at: DateTime<Utc>,
    /// When the next version replaced it.
    pub replaced_at: DateTime<Utc>,
}

/// A Like or an Announce (boost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReactionKind {
    Like,
    Announce,
}

impl ReactionKind {
    /// The text stored in `reactions.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReactionKind::Like => "like",
            ReactionKind::Announce => "announce",
        }
    }

    /// Parses [`ReactionKind::as_str`]'s output.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "like" => Some(ReactionKind::Like),
            "announce" => Some(ReactionKind::Announce),
            _ => None,
        }
    }
}

/// A Like or Announce received for a post or a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReaction {
    /// The activity's id (what its Undo names).
    pub ap_id: String,
    pub kind: ReactionKind,
    pub remote_actor_id: RemoteActorId,
    pub target: ThreadNode,
    pub created_at: DateTime<Utc>,
}

/// What recording a reaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionOutcome {
    /// Recorded and counted.
    Recorded,
    /// The same activity, or the same kind of reaction by the same actor to the same
    /// object, was recorded before: counted once.
    Duplicate,
    /// The activity was undone before: it is not counted again.
    Tombstoned,
}

/// What an Undo of a reaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoOutcome {
    /// Removed and uncounted.
    Removed,
    /// No such reaction (yet): a tombstone is written, so that the reaction arriving
    /// late from the same actor is not counted.
    NotFound,
    /// The reaction is another actor's: refused.
    NotOwner,
}

/// Likes and Announces of one object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReactionCount {
    pub likes: i64,
    pub announces: i64,
}

/// The reactions shown on a post's page: the post's own and those of its comments
/// (only comments with at least one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostReactions {
    pub post: ReactionCount,
    pub comments: Vec<(CommentId, ReactionCount)>,
}

crate::model::id_newtype!(
    /// A report received as a Flag activity.
    FlagId
);

/// A report (Flag) to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlag {
    /// The Flag's id; reports without one are each recorded.
    pub ap_id: Option<String>,
    /// Who sent it (often a server's instance actor).
    pub reporter: RemoteActorId,
    /// The reported objects (actors, posts, comments), as received.
    pub object_ap_ids: Vec<String>,
    /// The reporter's comment, plain text.
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// A report, as the admin UI lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub id: FlagId,
    pub ap_id: Option<String>,
    pub reporter: RemoteActorId,
    /// The reporter's ActivityPub id.
    pub reporter_ap_id: String,
    pub object_ap_ids: Vec<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Who made a moderation decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModerationDecider {
    /// The moderation rules (mode, links, keywords, bursts), when a comment arrives or
    /// is edited.
    Rules,
    /// An author, in the admin UI.
    Author(AuthorId),
}

impl ModerationDecider {
    /// Stable text form stored in `moderation_log.decided_by`: `rules`, `author:42`.
    pub fn key(&self) -> String {
        match self {
            ModerationDecider::Rules => "rules".to_owned(),
            ModerationDecider::Author(id) => format!("author:{}", id.0),
        }
    }

    /// Parses [`ModerationDecider::key`]'s output.
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "rules" => Some(ModerationDecider::Rules),
            other => other
                .strip_prefix("author:")
                .and_then(|id| id.parse().ok())
                .map(|id| ModerationDecider::Author(AuthorId(id))),
        }
    }
}

impl fmt::Display for ModerationDecider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// One entry of a comment's moderation history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationDecision {
    pub id: i64,
    pub comment_id: CommentId,
    pub decision: Moderation,
    pub reason: String,
    pub decided_by: ModerationDecider,
    pub created_at: DateTime<Utc>,
}

/// What a block applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// One remote actor, by ActivityPub id.
    Actor,
    /// A domain and all its subdomains.
    Domain,
    /// A limited ("silenced") domain and its subdomains: not blocked, but its comments
    /// are held for approval instead of published (checklist M4).
    Limit,
}

impl BlockKind {
    /// The text stored in `blocks.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Actor => "actor",
            BlockKind::Domain => "domain",
            BlockKind::Limit => "limit",
        }
    }

    /// Parses [`BlockKind::as_str`]'s output.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "actor" => Some(BlockKind::Actor),
            "domain" => Some(BlockKind::Domain),
            "limit" => Some(BlockKind::Limit),
            _ => None,
        }
    }
}

/// A blocked actor or domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub id: i64,
    pub kind: BlockKind,
    /// The actor's ActivityPub id, or the domain as stored (see [`block_domain`]).
    pub value: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// The form in which a domain is blocked and matched: the lower-case (punycode) host
/// name without port or trailing dot. Accepts a bare domain, `*.domain`, `host:port` or
/// a URL. `None` when the text names no host.
pub fn block_domain(value: &str) -> Option<String> {
    let value = value.trim();
    let value = value.strip_prefix("*.").unwrap_or(value);
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("https://{value}/")
    };
    let host = delivery_host(&with_scheme)?;
    let host = match host.strip_prefix('[') {
        // An IPv6 literal: keep the brackets, drop the port.
        Some(_) => host
            .split_once(']')
            .map(|(address, _)| format!("{address}]"))?,
        None => host.split(':').next().unwrap_or_default().to_owned(),
    };
    let host = host.trim_end_matches('.').to_owned();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn block_domains_are_lower_case_hosts_without_port() {
        assert_eq!(
            block_domain("Spam.Example").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            block_domain(" *.spam.example ").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            block_domain("spam.example:8443").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            block_domain("https://Spam.Example/users/x").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            block_domain("spam.example.").as_deref(),
            Some("spam.example")
        );
        assert_eq!(block_domain("[::1]:3000").as_deref(), Some("[::1]"));
        assert_eq!(
            block_domain("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(block_domain(""), None);
        assert_eq!(block_domain("   "), None);
    }

    #[test]
    fn moderation_deciders_round_trip() {
        for decider in [
            ModerationDecider::Rules,
            ModerationDecider::Author(AuthorId(7)),
        ] {
            assert_eq!(ModerationDecider::from_key(&decider.key()), Some(decider));
        }
        assert_eq!(ModerationDecider::from_key("author:x"), None);
        assert_eq!(ModerationDecider::from_key("someone"), None);
    }
}
