//! Comments from the fediverse: the inbox hands every verified Create, Update and
//! Delete of a post-like object, every Like, Announce and their Undo, and every Flag to
//! [`CommentIntake`], which turns them into the discussion under our posts.
//!
//! ```text
//!  Create(Note)  ──► sender blocked? ─► drop
//!     │
//!  trusted object: embedded, attributedTo = sender, id on the sender's host
//!     │   else refetched from its origin (signed by the instance actor), or dropped  (P3, S13)
//!     ▼
//!  inReplyTo ─► one of our posts (P10: any spelling of its URL) ─┐
//!     │     └─► a comment we hold ───────────────────────────────┤
//!     │     └─► unknown: fetch it from its origin, then its      │
//!     │         inReplyTo... (depth ≤ 50, ≤ 20 requests per      │
//!     │         activity, cycles broken); never reaching one of  │
//!     │         our posts ─► drop (202, logged)            (F9)  │
//!     ▼                                                          ▼
//!  store the fetched ancestors (farthest first), then the reply, each with the
//!  visibility of its addressing (P8) and the moderation rules' decision (M1-M3, M5, M6)
//! ```
//!
//! Ownership is always checked against what we stored, never against the payload: an
//! Update or Delete of a comment is applied only for the actor stored as its author
//! (P1, the store checks it again), one of a local object is refused (P2), a Delete of an
//! object we do not hold yet leaves a tombstone that a late Create cannot pass (P5), an
//! Undo is applied only to the undoer's own reaction (P7), and an Announce counts by the
//! id of what it boosts, whatever it embeds (P13). Reports (Flag) are recorded for the
//! admin, rate-limited per reporter, and never act by themselves (P12).
//!
//! Every outcome is a short text the inbox logs; only a failure of our own (storage,
//! our signing key) is an error, which the inbox answers with 503 so the sender retries.

use crate::comment_notes::comment_named_by;
use crate::content::{
    MAX_COMMENT_ATTACHMENTS, MAX_COMMENT_INPUT, MAX_NAME_CHARS, MAX_REMOTE_URL_LEN,
    MAX_SUMMARY_CHARS, comment_attachment, count_comment_links, is_emoji_shortcode, plain_line,
    plain_text, plain_text_excerpt, remote_comment_html,
};
use crate::context::Federation;
use crate::http_client::{self, HttpClientError, RequestSigner};
use crate::moderation::{self, BURST_WINDOW, Decision, Signals};
use crate::protocol::activities::{AnyActivity, ObjectRef};
use crate::protocol::is_public_audience;
use crate::protocol::note::{AttachmentType, Note, NoteType, TagType};
use crate::remote_actors::{RemoteActorError, RemoteActors};
use crate::signatures::{SigningKey, sign_request};
use crate::urls::Urls;
use chrono::{DateTime, Utc};
use gloss_storage::{
    Attachment, Comment, DeleteOutcome, EditOutcome, LocalActor, NewFlag, NewReaction, PostStatus,
    ReactionKind, ReactionOutcome, ReceivedActivity, RemoteActor, RemoteCommentEdit,
    RemoteCommentUpsert, ThreadNode, UndoOutcome, UpsertOutcome, Visibility, delivery_host,
};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// Ancestors fetched above a reply before giving up (Lemmy's maximum comment depth).
pub const MAX_ANCESTOR_DEPTH: usize = 50;

/// Requests (objects and actors) one inbound activity may cause (checklist F9, F10).
pub const FETCH_BUDGET: usize = 20;

/// Reports accepted from one actor within [`FLAG_WINDOW`] (checklist P12).
pub const FLAGS_PER_WINDOW: usize = 5;

/// The window of the report rate limit.
pub const FLAG_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Objects kept from one report.
const MAX_FLAG_OBJECTS: usize = 20;

/// Longest report comment kept, in characters.
const MAX_FLAG_TEXT_CHARS: usize = 5_000;

/// Custom emoji read from one object's tags.
const MAX_EMOJI: usize = 50;

/// Reporters tracked by the rate limit before old entries are dropped.
const MAX_TRACKED_REPORTERS: usize = 10_000;

/// What was done with an activity, for the inbox's log line.
pub type Outcome = &'static str;

/// A failure of ours, which should make the sender retry (503).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Our database failed.
    #[error(transparent)]
    Storage(#[from] gloss_storage::Error),
    /// Our instance key could not be loaded or used to sign a fetch.
    #[error("signing a fetch failed: {0}")]
    Signing(String),
}

/// The kinds of object that become comments.
pub fn is_comment_kind(kind: &str) -> bool {
    let kind = kind
        .strip_prefix("as:")
        .or_else(|| kind.strip_prefix("https://www.w3.org/ns/activitystreams#"))
        .unwrap_or(kind);
    matches!(kind, "Note" | "Article" | "Page" | "Question")
}

/// Same host and port (ids of one server).
pub(crate) fn same_host(a: &Url, b: &Url) -> bool {
    a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether `attributed_to` names the actor `actor` (ids compared as URLs).
fn is_attributed_to(note: &Note, actor: &Url) -> bool {
    note.attributed_to
        .as_deref()
        .and_then(|author| Url::parse(author).ok())
        .is_some_and(|author| author == *actor)
}

/// Who may see a comment, from the object's own addressing (checklist P8): the public
/// collection (any spelling) in `to` is public, in `cc` only unlisted; otherwise a
/// followers collection makes it followers-only, and anything else is direct.
pub fn visibility_of(note: &Note) -> Visibility {
    let public = |audience: &[String]| is_public_audience(audience.iter().map(String::as_str));
    if public(&note.to) {
        Visibility::Public
    } else if public(&note.cc) {
        Visibility::Unlisted
    } else if note
        .to
        .iter()
        .chain(&note.cc)
        .any(|id| id.trim_end_matches('/').ends_with("/followers"))
    {
        Visibility::Followers
    } else {
        Visibility::Direct
    }
}

/// The content of a comment as stored: sanitized HTML, content warning, sensitivity and
/// attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody {
    /// Sanitized HTML, safe on a page as is.
    pub content_html: String,
    /// The content warning, plain text.
    pub summary: Option<String>,
    /// The sender marked the content or its media sensitive.
    pub sensitive: bool,
    /// At most [`MAX_COMMENT_ATTACHMENTS`] http(s) links with their descriptions.
    pub attachments: Vec<Attachment>,
}

/// What a Note (Article, Page, Question) shows as a comment. See `crate::content` for
/// the sanitizing; an Article's or Page's `name` is its title and goes first.
pub fn comment_body(note: &Note) -> CommentBody {
    let emoji: Vec<String> = note
        .tag
        .iter()
        .filter(|tag| tag.kind == TagType::Emoji)
        .filter_map(|tag| tag.name.as_deref().map(str::trim))
        .filter(|name| is_emoji_shortcode(name))
        .take(MAX_EMOJI)
        .map(str::to_owned)
        .collect();
    let title = match note.kind {
        NoteType::Article | NoteType::Page => note.name.as_deref(),
        NoteType::Note | NoteType::Question => None,
    };
    let content_html = remote_comment_html(note.content_html().unwrap_or_default(), title, &emoji);
    let summary = note
        .summary
        .as_deref()
        .map(|summary| plain_text(summary, MAX_SUMMARY_CHARS))
        .filter(|summary| !summary.is_empty());
    let attachments = note
        .attachment
        .iter()
        .filter(|attachment| attachment.kind != AttachmentType::Other)
        .filter_map(|attachment| {
            let url = attachment.url.as_deref().or(attachment.href.as_deref())?;
            comment_attachment(
                url,
                attachment.media_type.as_deref(),
                attachment.name.as_deref(),
            )
        })
        .take(MAX_COMMENT_ATTACHMENTS)
        .collect();
    CommentBody {
        content_html,
        summary,
        sensitive: note.sensitive.unwrap_or(false),
        attachments,
    }
}

/// How a remote actor signs its comments: display name (plain, one line), profile link
/// and avatar.
pub fn comment_author(actor: &RemoteActor) -> (String, Option<String>, Option<String>) {
    let name = [actor.name.as_deref(), actor.preferred_username.as_deref()]
        .into_iter()
        .flatten()
        .map(|name| plain_line(name, MAX_NAME_CHARS))
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| plain_line(&actor.ap_id, MAX_NAME_CHARS));
    let url = actor.url.clone().or_else(|| Some(actor.ap_id.clone()));
    (name, url, actor.icon_url.clone())
}

/// An http(s) URL of sane length from a remote object, or nothing.
fn web_url(value: Option<&str>) -> Option<String> {
    value
        .and_then(|text| Url::parse(text).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .map(String::from)
        .filter(|url| url.len() <= MAX_REMOTE_URL_LEN)
}

/// Signs GETs with the instance actor's key (authorized fetch).
struct InstanceSigner {
    key: Arc<SigningKey>,
    key_id: String,
}

impl RequestSigner for InstanceSigner {
    fn sign(&self, method: &Method, url: &Url) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        sign_request(method, url, &[], &self.key_id, &self.key, SystemTime::now())
            .map_err(|err| err.to_string())
    }
}

/// Handles the discussion side of the inbox. One per inbox router (it holds the
/// instance key, parsed once, and the per-reporter report counts).
pub struct CommentIntake {
    signer: Mutex<Option<Arc<SigningKey>>>,
    /// Reporter actor id → when its recent reports arrived.
    reports: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl std::fmt::Debug for CommentIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommentIntake").finish_non_exhaustive()
    }
}

impl Default for CommentIntake {
    fn default() -> Self {
        CommentIntake::new()
    }
}

/// Where a reply goes.
enum Parent {
    Post(gloss_storage::PostId),
    Comment(Box<Comment>),
}

impl Parent {
    fn node(&self) -> ThreadNode {
        match self {
            Parent::Post(id) => ThreadNode::Post(*id),
            Parent::Comment(comment) => ThreadNode::Comment(comment.id),
        }
    }

    /// Whether readers see what the reply answers.
    fn shown(&self) -> bool {
        match self {
            Parent::Post(_) => true,
            Parent::Comment(comment) => comment.is_public(),
        }
    }
}

/// What an `inReplyTo` names.
enum Place {
    /// One of our posts, or a comment we hold.
    Found(Parent),
    /// Something we don't hold (maybe an ancestor to fetch).
    Unknown,
    /// Something a reply may not answer (closed or deleted post...).
    Refused(Outcome),
}

/// What storing one comment did.
enum Stored {
    /// Stored; `true` when it was new.
    Comment(Box<Comment>, Outcome, bool),
    Refused(Outcome),
}

/// What became of a reply handed to [`Run::intake_reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyIntake {
    /// For the log.
    pub(crate) outcome: Outcome,
    /// The reply is a comment we did not hold before.
    pub(crate) created: bool,
}

/// Why a fetch gave no document (see [`Run::fetch_document_checked`]).
#[derive(Debug)]
pub(crate) enum FetchFailure {
    /// Not attempted: local, blocked, no host, budget spent.
    Refused(Outcome),
    /// The origin answered 410 Gone.
    Gone,
    /// Any other failure (404, 5xx, timeout, wrong type, wrong id...).
    Failed(HttpClientError),
}

/// The state of handling one activity (or one backfill): its request budget.
pub(crate) struct Run<'a> {
    federation: &'a Federation,
    remote_actors: &'a RemoteActors,
    intake: &'a CommentIntake,
    fetches_left: usize,
}

/// A storage error that input can cause (a parent deleted meanwhile, a refused value)
/// drops the activity; any other makes the sender retry.
fn drop_unless_transient(err: gloss_storage::Error) -> Result<Outcome, IntakeError> {
    if err.is_transient() {
        return Err(err.into());
    }
    tracing::warn!(error = %err, "inbox: the store refused a comment change");
    Ok("dropped: refused by the store")
}

impl CommentIntake {
    /// An intake with empty caches.
    pub fn new() -> CommentIntake {
        CommentIntake {
            signer: Mutex::new(None),
            reports: Mutex::new(HashMap::new()),
        }
    }

    fn run<'a>(&'a self, federation: &'a Federation, remote_actors: &'a RemoteActors) -> Run<'a> {
        self.run_with_budget(federation, remote_actors, FETCH_BUDGET)
    }

    /// A run that may make `budget` requests (the backfill's is larger than an
    /// activity's; see `crate::backfill`).
    pub(crate) fn run_with_budget<'a>(
        &'a self,
        federation: &'a Federation,
        remote_actors: &'a RemoteActors,
        budget: usize,
    ) -> Run<'a> {
        Run {
            federation,
            remote_actors,
            intake: self,
            fetches_left: budget,
        }
    }

    async fn signer(&self, federation: &Federation) -> Result<InstanceSigner, IntakeError> {
        let cached = self.signer.lock().ok().and_then(|slot| slot.clone());
        let key = match cached {
            Some(key) => key,
            None => {
                let pair = federation
                    .actor_key(LocalActor::Instance)
                    .await
                    .map_err(|err| IntakeError::Signing(err.to_string()))?;
                let key = Arc::new(
                    SigningKey::from_pkcs8_pem(&pair.private_key_pem)
                        .map_err(|err| IntakeError::Signing(err.to_string()))?,
                );
                if let Ok(mut slot) = self.signer.lock() {
                    *slot = Some(key.clone());
                }
                key
            }
        };
        Ok(InstanceSigner {
            key,
            key_id: Urls::key_id(&federation.urls().instance_actor()),
        })
    }

    /// Whether `reporter` may file one more report now (and counts it).
    fn report_allowed(&self, reporter: &str, now: Instant) -> bool {
        let Ok(mut reports) = self.reports.lock() else {
            return false;
        };
        if reports.len() >= MAX_TRACKED_REPORTERS && !reports.contains_key(reporter) {
            reports.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < FLAG_WINDOW)
            });
            if reports.len() >= MAX_TRACKED_REPORTERS {
                reports.clear();
            }
        }
        let times = reports.entry(reporter.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|first| now.duration_since(*first) >= FLAG_WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= FLAGS_PER_WINDOW {
            return false;
        }
        times.push_back(now);
        true
    }

    /// Create of a Note, Article, Page or Question: a reply to one of our posts or to a
    /// comment we hold becomes a comment; anything else is ignored.
    pub async fn create(
        &self,
        federation: &Federation,
        remote_actors: &RemoteActors,
        sender: &RemoteActor,
        sender_id: &Url,
        activity: &AnyActivity,
    ) -> Result<Outcome, IntakeError> {
        let Some(object) = &activity.object else {
            return Ok("ignored: Create without an object");
        };
        if let Some(kind) = object.kind()
            && !is_comment_kind(kind)
        {
            return Ok("ignored: Create of something else than a Note");
        }
        let Some(id) = object.id() else {
            return Ok("ignored: Create of an object without an id");
        };
        let mut run = self.run(federation, remote_actors);
        if run.is_local(id) {
            return Ok("dropped: Create of a local object");
        }
        if run.is_blocked(sender).await? {
            return Ok("dropped: the actor or its domain is blocked");
        }
        let note = match run.verified_note(object, sender_id).await? {
            Ok(note) => note,
            Err(why) => return Ok(why),
        };
        let author = if is_attributed_to(&note, sender_id) {
            sender.clone()
        } else {
            // Refetched from its origin, which vouches for its author (a forwarded reply).
            match run.author(note.attributed_to.as_deref()).await? {
                Some(author) => author,
                None => return Ok("dropped: the object's author could not be fetched"),
            }
        };
        let note_id = note.id.clone();
        let intake = run.intake_reply_with(note, author).await?;
        if intake.created {
            // Its siblings and their replies may never reach our inbox (`crate::backfill`).
            federation.request_backfill(&note_id);
        }
        Ok(intake.outcome)
    }

    /// Update of a post-like object (Updates of actors are the inbox's). Only the
    /// stored author may edit; an Update of an object we don't hold is a Create from the
    /// origin's copy (P4).
    pub async fn update(
        &self,
        federation: &Federation,
        remote_actors: &RemoteActors,
        sender: &RemoteActor,
        sender_id: &Url,
        activity: &AnyActivity,
    ) -> Result<Outcome, IntakeError> {
        let Some(object) = &activity.object else {
            return Ok("ignored: Update without an object");
        };
        if let Some(kind) = object.kind()
            && !is_comment_kind(kind)
        {
            return Ok("ignored: Update of something else than a Note");
        }
        let Some(id) = object.id() else {
            return Ok("ignored: Update of an object without an id");
        };
        let mut run = self.run(federation, remote_actors);
        if run.is_local(id) {
            tracing::warn!(object = %id, actor = %sender.ap_id, "inbox: remote Update of a local object refused");
            return Ok("dropped: Update of a local object");
        }
        let store = federation.store();
        let Some(existing) = store.comment_by_ap_id(id.as_str()).await? else {
            if object.kind().is_none() && !same_host(id, sender_id) {
                return Ok("ignored: Update of an unknown object");
            }
            if store.tombstone_exists(id.as_str()).await? {
                return Ok("dropped: Update of a deleted object");
            }
            if run.is_blocked(sender).await? {
                return Ok("dropped: the actor or its domain is blocked");
            }
            // P4: the Create has not arrived (yet): take the origin's copy, never the
            // embedded one, and handle it as a Create.
            let note = match run.fetch_note(id).await? {
                Ok(note) => note,
                Err(why) => return Ok(why),
            };
            if !is_attributed_to(&note, sender_id) {
                return Ok("dropped: Update of an object by another actor");
            }
            return run.intake_reply(note, sender.clone()).await;
        };
        if existing.remote_actor_id != Some(sender.id) {
            tracing::warn!(object = %id, actor = %sender.ap_id, "inbox: Update of another actor's comment refused");
            return Ok("dropped: Update of another actor's comment");
        }
        if existing.deleted_at.is_some() {
            return Ok("dropped: Update of a deleted comment");
        }
        if run.is_blocked(sender).await? {
            return Ok("dropped: the actor or its domain is blocked");
        }
        let note = match run.verified_note(object, sender_id).await? {
            Ok(note) => note,
            Err(why) => return Ok(why),
        };
        if !is_attributed_to(&note, sender_id) {
            return Ok("dropped: the object is not the sender's");
        }
        let body = comment_body(&note);
        let parent_shown = match existing.parent_id {
            Some(parent) => store
                .comment_by_id(parent)
                .await?
                .is_some_and(|parent| parent.is_public()),
            None => true,
        };
        // M6: an edit goes through the rules again.
        let decision = run.decide(sender, &body, parent_shown).await?;
        let edit = RemoteCommentEdit {
            content_html: body.content_html,
            summary: body.summary,
            sensitive: body.sensitive,
            attachments: body.attachments,
            updated_at: note.updated.unwrap_or_else(Utc::now),
            moderation: decision.state,
            moderation_reason: Some(decision.reason),
        };
        let outcome = match store
            .update_remote_comment_content(id.as_str(), sender.id, edit)
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => return drop_unless_transient(err),
        };
        Ok(match outcome {
            EditOutcome::Updated(_) => "comment edited",
            EditOutcome::Unchanged(_) => "comment unchanged (same or older version)",
            EditOutcome::NotFound => "dropped: the comment disappeared",
            EditOutcome::NotOwner => "dropped: Update of another actor's comment",
            EditOutcome::Deleted => "dropped: Update of a deleted comment",
        })
    }

    /// Delete of an object (Tombstone or bare id; Deletes of actors are the inbox's).
    /// Only the stored author may delete; an object we don't hold yet gets a tombstone,
    /// so that its Create arriving later is refused (P5).
    pub async fn delete(
        &self,
        federation: &Federation,
        sender: &RemoteActor,
        sender_id: &Url,
        activity: &AnyActivity,
    ) -> Result<Outcome, IntakeError> {
        let Some(id) = activity.object_id() else {
            return Ok("ignored: Delete without an object id");
        };
        if is_local_url(federation, id) {
            tracing::warn!(object = %id, actor = %sender.ap_id, "inbox: remote Delete of a local object refused");
            return Ok("dropped: Delete of a local object");
        }
        if !same_host(id, sender_id) {
            return Ok("dropped: Delete of an object on another server");
        }
        let outcome = match federation
            .store()
            .delete_comment_by_ap_id(id.as_str(), sender.id, Utc::now())
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => return drop_unless_transient(err),
        };
        Ok(match outcome {
            DeleteOutcome::Deleted(_) => "comment deleted",
            DeleteOutcome::AlreadyDeleted => "comment already deleted",
            DeleteOutcome::NotOwner => {
                tracing::warn!(object = %id, actor = %sender.ap_id, "inbox: Delete of another actor's comment refused");
                "dropped: Delete of another actor's comment"
            }
            DeleteOutcome::Unknown => "tombstone kept for an object we don't hold",
        })
    }

    /// The sender deleted itself: its comments go too (with tombstones), and its
    /// reactions leave the counts.
    pub async fn forget_actor(
        &self,
        federation: &Federation,
        sender: &RemoteActor,
    ) -> Result<u64, IntakeError> {
        Ok(federation
            .store()
            .delete_comments_of_actor(sender.id, Utc::now())
            .await?)
    }

    /// The actor was refreshed (Update of the actor): its name and avatar on its
    /// comments follow.
    pub async fn refresh_author(
        &self,
        federation: &Federation,
        actor: &RemoteActor,
    ) -> Result<u64, IntakeError> {
        let (name, url, avatar) = comment_author(actor);
        Ok(federation
            .store()
            .update_comment_authors(actor.id, &name, url.as_deref(), avatar.as_deref())
            .await?)
    }

    /// Like or Announce of one of our posts or of a comment we hold. Only the id of
    /// the object counts: an embedded copy is never read (P13; GoToSocial sends bare
    /// ids anyway).
    ///
    /// A counted reaction is recorded with `received` (the activity's id and host
    /// contact) in one transaction; the second value then says whether the activity
    /// id was new. `None`: `received` is not recorded (nothing was written).
    pub async fn react(
        &self,
        federation: &Federation,
        remote_actors: &RemoteActors,
        sender: &RemoteActor,
        activity: &AnyActivity,
        kind: ReactionKind,
        received: &ReceivedActivity,
    ) -> Result<(Outcome, Option<bool>), IntakeError> {
        let Some(object) = activity.object_id() else {
            return Ok(("ignored: reaction without an object id", None));
        };
        let run = self.run(federation, remote_actors);
        let Some(target) = run.reaction_target(object).await? else {
            return Ok(("ignored: not about one of our posts or comments", None));
        };
        if run.is_blocked(sender).await? {
            return Ok(("dropped: the actor or its domain is blocked", None));
        }
        let reaction = NewReaction {
            ap_id: activity.id.to_string(),
            kind,
            remote_actor_id: sender.id,
            target,
            created_at: Utc::now(),
        };
        let (outcome, new) = match federation
            .store()
            .record_received_reaction(reaction, received.clone())
            .await
        {
            Ok(done) => done,
            Err(err) => return drop_unless_transient(err).map(|outcome| (outcome, None)),
        };
        let outcome = match outcome {
            ReactionOutcome::Recorded => match kind {
                ReactionKind::Like => "like counted",
                ReactionKind::Announce => "boost counted",
            },
            ReactionOutcome::Duplicate => "reaction already counted",
            ReactionOutcome::Tombstoned => "dropped: the reaction was undone before",
        };
        Ok((outcome, Some(new)))
    }

    /// Undo of a Like or Announce named by `reaction_id`: only the reaction's own
    /// actor may undo it (P7). An id we don't hold leaves a tombstone, so that the
    /// reaction arriving late is not counted.
    pub async fn undo_reaction(
        &self,
        federation: &Federation,
        sender: &RemoteActor,
        sender_id: &Url,
        reaction_id: &Url,
    ) -> Result<Outcome, IntakeError> {
        if !same_host(reaction_id, sender_id) {
            return Ok("dropped: Undo of an activity on another server");
        }
        match federation
            .store()
            .undo_reaction(reaction_id.as_str(), sender.id)
            .await
        {
            Ok(UndoOutcome::Removed) => Ok("reaction undone"),
            Ok(UndoOutcome::NotFound) => Ok("Undo of an unknown activity: tombstone kept"),
            Ok(UndoOutcome::NotOwner) => {
                tracing::warn!(activity = %reaction_id, actor = %sender.ap_id, "inbox: Undo of another actor's reaction refused");
                Ok("dropped: Undo of another actor's reaction")
            }
            Err(err) => drop_unless_transient(err),
        }
    }

    /// A report (Flag): recorded for the admin UI, never acted upon automatically, at
    /// most [`FLAGS_PER_WINDOW`] per reporter per hour (P12). `raw` is the whole activity,
    /// for its `content`.
    pub async fn flag(
        &self,
        federation: &Federation,
        remote_actors: &RemoteActors,
        sender: &RemoteActor,
        activity: &AnyActivity,
        raw: &Value,
    ) -> Result<Outcome, IntakeError> {
        let mut objects: Vec<String> = Vec::new();
        if let Some(object) = &activity.object {
            collect_ids(object, &mut objects);
        }
        if objects.is_empty() {
            return Ok("ignored: report of nothing");
        }
        if self
            .run(federation, remote_actors)
            .is_blocked(sender)
            .await?
        {
            return Ok("dropped: the actor or its domain is blocked");
        }
        if !self.report_allowed(&sender.ap_id, Instant::now()) {
            tracing::warn!(actor = %sender.ap_id, "inbox: report rate limit reached");
            return Ok("dropped: too many reports from this actor");
        }
        let content = raw
            .get("content")
            .and_then(Value::as_str)
            .map(|text| plain_text(text, MAX_FLAG_TEXT_CHARS))
            .unwrap_or_default();
        let flag = NewFlag {
            ap_id: Some(activity.id.to_string()),
            reporter: sender.id,
            object_ap_ids: objects,
            content,
            created_at: Utc::now(),
        };
        match federation.store().record_flag(flag).await {
            Ok(_) => Ok("report recorded for the admin"),
            Err(err) => drop_unless_transient(err),
        }
    }
}

/// The ids an `object` names (a Flag's may be an array), at most [`MAX_FLAG_OBJECTS`].
fn collect_ids(object: &ObjectRef, out: &mut Vec<String>) {
    match object {
        ObjectRef::Id(id) => {
            if out.len() < MAX_FLAG_OBJECTS {
                out.push(id.to_string());
            }
        }
        ObjectRef::Object(embedded) => {
            if let Some(id) = &embedded.id
                && out.len() < MAX_FLAG_OBJECTS
            {
                out.push(id.to_string());
            }
        }
        ObjectRef::Many(items) => {
            for item in items.iter().take(MAX_FLAG_OBJECTS) {
                collect_ids(item, out);
            }
        }
    }
}

/// Whether `url` is on our own server: a local object, which no remote activity may
/// change and which is never fetched. The scheme may differ (`http` for `https`, as in
/// [`Urls::post_slug_of`]), but an explicit other port with the same scheme is another
/// server (test networks run several sites on one host).
fn is_local_url(federation: &Federation, url: &Url) -> bool {
    Url::parse(federation.urls().base()).is_ok_and(|ours| on_server(&ours, url))
}

/// Whether `url` is on the server whose public URL is `ours` (see [`is_local_url`]).
fn on_server(ours: &Url, url: &Url) -> bool {
    let same_host = match (url.host_str(), ours.host_str()) {
        (Some(host), Some(our_host)) => host.eq_ignore_ascii_case(our_host),
        _ => false,
    };
    same_host && (url.port() == ours.port() || url.scheme() != ours.scheme())
}

impl<'a> Run<'a> {
    /// The federation context the run works in.
    pub(crate) fn federation(&self) -> &'a Federation {
        self.federation
    }
}

impl Run<'_> {
    pub(crate) fn is_local(&self, url: &Url) -> bool {
        is_local_url(self.federation, url)
    }

    /// Requests left in the budget.
    pub(crate) fn fetches_left(&self) -> usize {
        self.fetches_left
    }

    /// Lets the next steps make at most `cap` of the requests left; returns what to give
    /// back to [`Run::uncap_budget`] afterwards.
    pub(crate) fn cap_budget(&mut self, cap: usize) -> usize {
        let withheld = self.fetches_left.saturating_sub(cap);
        self.fetches_left -= withheld;
        withheld
    }

    /// Gives back what [`Run::cap_budget`] withheld.
    pub(crate) fn uncap_budget(&mut self, withheld: usize) {
        self.fetches_left += withheld;
    }

    /// Whether the actor, or its domain, is blocked.
    async fn is_blocked(&self, actor: &RemoteActor) -> Result<bool, IntakeError> {
        Ok(self
            .federation
            .store()
            .is_blocked(Some(&actor.ap_id), &actor.host)
            .await?)
    }

    /// Takes one request from the budget.
    fn spend(&mut self) -> bool {
        if self.fetches_left == 0 {
            return false;
        }
        self.fetches_left -= 1;
        true
    }

    /// GETs a remote document (signed), within the budget, never from our own host nor
    /// from a blocked domain (refused before any request).
    async fn fetch_document(&mut self, url: &Url) -> Result<Result<Value, Outcome>, IntakeError> {
        Ok(match self.fetch_document_checked(url).await? {
            Ok(document) => Ok(document),
            Err(FetchFailure::Refused(why)) => Err(why),
            Err(FetchFailure::Gone) => Err("dropped: the object is gone"),
            Err(FetchFailure::Failed(err)) => {
                tracing::info!(object = %url, error = %err, "inbox: fetching an object failed");
                Err("dropped: the object could not be fetched")
            }
        })
    }

    /// [`Run::fetch_document`], telling why a fetch failed (checklist F11).
    pub(crate) async fn fetch_document_checked(
        &mut self,
        url: &Url,
    ) -> Result<Result<Value, FetchFailure>, IntakeError> {
        if self.is_local(url) {
            return Ok(Err(FetchFailure::Refused(
                "dropped: a local object is never fetched",
            )));
        }
        let Some(host) = delivery_host(url.as_str()) else {
            return Ok(Err(FetchFailure::Refused(
                "dropped: an object id without a host",
            )));
        };
        if self.federation.store().is_blocked(None, &host).await? {
            return Ok(Err(FetchFailure::Refused(
                "dropped: the object's domain is blocked",
            )));
        }
        if !self.spend() {
            tracing::info!(object = %url, "inbox: fetch budget spent");
            return Ok(Err(FetchFailure::Refused("dropped: fetch budget spent")));
        }
        let signer = self.intake.signer(self.federation).await?;
        let allow_private = self.federation.settings().allow_private_addresses;
        match http_client::fetch_activity_json(
            self.federation.http(),
            url,
            allow_private,
            Some(&signer),
        )
        .await
        {
            Ok(document) => Ok(Ok(document)),
            Err(HttpClientError::Gone) => Ok(Err(FetchFailure::Gone)),
            Err(err) => Ok(Err(FetchFailure::Failed(err))),
        }
    }

    /// A Note fetched from its origin; its author must live on its server (P3).
    async fn fetch_note(&mut self, url: &Url) -> Result<Result<Note, Outcome>, IntakeError> {
        let document = match self.fetch_document(url).await? {
            Ok(document) => document,
            Err(why) => return Ok(Err(why)),
        };
        Ok(note_from_origin(&document))
    }

    /// The object of a Create or Update as far as we may believe it: embedded, when it
    /// is the sender's own (attributed to it, and its id on the sender's server);
    /// otherwise refetched from its origin (P3, S13).
    async fn verified_note(
        &mut self,
        object: &ObjectRef,
        sender_id: &Url,
    ) -> Result<Result<Note, Outcome>, IntakeError> {
        let Some(id) = object.id() else {
            return Ok(Err("ignored: an object without an id"));
        };
        if let Some(embedded) = object.object() {
            let note = serde_json::to_value(embedded)
                .ok()
                .and_then(|value| Note::deserialize(&value).ok());
            if let Some(note) = note
                && Url::parse(&note.id).is_ok_and(|note_id| note_id == *id)
                && is_attributed_to(&note, sender_id)
                && same_host(id, sender_id)
            {
                return Ok(Ok(note));
            }
            tracing::info!(object = %id, actor = %sender_id,
                "inbox: an embedded object the sender may not vouch for; refetching it");
        }
        self.fetch_note(id).await
    }

    /// The stored actor `id`, else fetched (within the budget).
    pub(crate) async fn author(
        &mut self,
        id: Option<&str>,
    ) -> Result<Option<RemoteActor>, IntakeError> {
        let Some(url) = id.and_then(|id| Url::parse(id).ok()) else {
            return Ok(None);
        };
        if self.is_local(&url) {
            return Ok(None);
        }
        if let Some(actor) = self
            .federation
            .store()
            .remote_actor_by_ap_id(url.as_str())
            .await?
        {
            return Ok(actor.deleted_at.is_none().then_some(actor));
        }
        let Some(host) = delivery_host(url.as_str()) else {
            return Ok(None);
        };
        if self
            .federation
            .store()
            .is_blocked(Some(url.as_str()), &host)
            .await?
        {
            return Ok(None);
        }
        if !self.spend() {
            return Ok(None);
        }
        match self.remote_actors.get(self.federation, &url).await {
            Ok(actor) => Ok(Some(actor)),
            Err(RemoteActorError::Storage(err)) => Err(err.into()),
            Err(RemoteActorError::Signing(err)) => Err(IntakeError::Signing(err)),
            Err(err) => {
                tracing::info!(actor = %url, error = %err, "inbox: a comment's author could not be fetched");
                Ok(None)
            }
        }
    }

    /// What `in_reply_to` names among our posts and the comments we hold.
    async fn place_of(&self, in_reply_to: &str) -> Result<Place, IntakeError> {
        let store = self.federation.store();
        if let Some(slug) = self.federation.urls().post_slug_of(in_reply_to) {
            let Some(post) = store.post_by_slug(&slug).await? else {
                return Ok(Place::Refused(
                    "dropped: reply to a post that does not exist",
                ));
            };
            return Ok(self.post_place(&post, Parent::Post(post.id)));
        }
        let held = comment_named_by(store.as_ref(), self.federation.urls(), in_reply_to).await?;
        if let Some(comment) = held {
            let Some(post) = store.post_by_id(comment.post_id).await? else {
                return Ok(Place::Refused(
                    "dropped: reply under a post that does not exist",
                ));
            };
            return Ok(self.post_place(&post, Parent::Comment(Box::new(comment))));
        }
        if Url::parse(in_reply_to).is_ok_and(|url| self.is_local(&url)) {
            return Ok(Place::Refused("dropped: reply to nothing of ours"));
        }
        Ok(Place::Unknown)
    }

    /// [`post_place`], and closed once the post is older than
    /// `GLOSS_COMMENTS_CLOSE_AFTER_DAYS`.
    fn post_place(&self, post: &gloss_storage::Post, parent: Parent) -> Place {
        let place = post_place(post, parent);
        if matches!(place, Place::Found(_))
            && !self
                .federation
                .comments_open_by_age(post.published_at, Utc::now())
        {
            return Place::Refused("dropped: comments closed automatically (the post is too old)");
        }
        place
    }

    /// The reaction's target: one of our published posts or a live comment we hold.
    async fn reaction_target(&self, object: &Url) -> Result<Option<ThreadNode>, IntakeError> {
        let store = self.federation.store();
        if let Some(slug) = self.federation.urls().post_slug_of(object.as_str()) {
            return Ok(store
                .published_post_id_by_slug(&slug)
                .await?
                .map(ThreadNode::Post));
        }
        let held =
            comment_named_by(store.as_ref(), self.federation.urls(), object.as_str()).await?;
        Ok(held
            .filter(|comment| comment.deleted_at.is_none())
            .map(|comment| ThreadNode::Comment(comment.id)))
    }

    /// The moderation rules' decision for a comment by `author` with `body`.
    async fn decide(
        &self,
        author: &RemoteActor,
        body: &CommentBody,
        parent_shown: bool,
    ) -> Result<Decision, IntakeError> {
        let content_html = body.content_html.as_str();
        let store = self.federation.store();
        let now = Utc::now();
        let since = now - BURST_WINDOW;
        let recent_from_host = store
            .recent_comment_count_from_host(&author.host, since)
            .await?;
        let recent_from_actor = store
            .recent_comment_count_by_actor(author.id, since)
            .await?;
        let approved_by_author = store.count_approved_comments_by_actor(author.id).await?;
        // M5 on the text without markup (content warning included) and on the names the
        // author shows; M2 from the stored actor document.
        let keywords = store.blog_settings().await?.disallowed_keywords;
        let text = plain_text_excerpt(content_html, MAX_COMMENT_INPUT);
        let (name, _, _) = comment_author(author);
        let handle = author.preferred_username.as_deref().unwrap_or_default();
        let account_age = store
            .remote_actor_published(author.id)
            .await?
            .map(|published| now.signed_duration_since(published));
        let limited = store
            .is_domain_limited(Some(&author.ap_id), &author.host)
            .await?;
        Ok(moderation::decide(
            self.federation.comments_moderation(),
            &Signals {
                links: count_comment_links(content_html),
                recent_from_host,
                recent_from_actor,
                approved_by_author,
                parent_shown,
                keyword: moderation::keyword_hit(
                    &keywords,
                    &[
                        &text,
                        body.summary.as_deref().unwrap_or_default(),
                        &name,
                        handle,
                    ],
                ),
                account_age,
                bot: moderation::is_bot_kind(&author.kind),
                limited,
            },
        ))
    }

    /// Finds where `note` belongs (fetching unknown ancestors), stores the ancestors and
    /// then the reply.
    async fn intake_reply(
        &mut self,
        note: Note,
        author: RemoteActor,
    ) -> Result<Outcome, IntakeError> {
        Ok(self.intake_reply_with(note, author).await?.outcome)
    }

    /// [`Run::intake_reply`], telling whether the reply is new: the one path of a reply
    /// into the store, for the inbox and for the backfill (`crate::backfill`).
    pub(crate) async fn intake_reply_with(
        &mut self,
        note: Note,
        author: RemoteActor,
    ) -> Result<ReplyIntake, IntakeError> {
        let refused = |outcome: Outcome| ReplyIntake {
            outcome,
            created: false,
        };
        let Some(first_parent) = note.in_reply_to.clone() else {
            return Ok(refused("ignored: not a reply"));
        };
        if self.is_blocked(&author).await? {
            return Ok(refused("dropped: the author or its domain is blocked"));
        }
        // Walk up until something we hold; `ancestors` are nearest first.
        let mut ancestors: Vec<Note> = Vec::new();
        let mut visited: HashSet<String> = HashSet::from([note.id.clone()]);
        let mut next = Some(first_parent);
        let mut parent = loop {
            let Some(parent_id) = next.take() else {
                tracing::info!(object = %note.id, "inbox: a reply whose thread does not start at one of our posts");
                return Ok(refused(
                    "dropped: the thread does not reach one of our posts",
                ));
            };
            match self.place_of(&parent_id).await? {
                Place::Found(parent) => break parent,
                Place::Refused(why) => return Ok(refused(why)),
                Place::Unknown => {}
            }
            if ancestors.len() >= MAX_ANCESTOR_DEPTH {
                tracing::info!(object = %note.id, "inbox: a thread deeper than the limit");
                return Ok(refused("dropped: the thread is too deep above the reply"));
            }
            if !visited.insert(parent_id.clone()) {
                tracing::info!(object = %note.id, "inbox: a thread that loops");
                return Ok(refused("dropped: the thread loops"));
            }
            let Ok(url) = Url::parse(&parent_id) else {
                return Ok(refused("dropped: inReplyTo is not a URL"));
            };
            match self.fetch_note(&url).await? {
                Ok(ancestor) => {
                    next = ancestor.in_reply_to.clone();
                    ancestors.push(ancestor);
                }
                Err(why) => {
                    tracing::info!(object = %note.id, ancestor = %url, reason = why,
                        "inbox: an ancestor of a reply could not be had");
                    return Ok(refused(
                        "dropped: an ancestor of the reply could not be fetched",
                    ));
                }
            }
        };
        for ancestor in ancestors.into_iter().rev() {
            let Some(ancestor_author) = self.author(ancestor.attributed_to.as_deref()).await?
            else {
                return Ok(refused(
                    "dropped: the author of an ancestor could not be fetched",
                ));
            };
            match self.store(&ancestor, &ancestor_author, &parent).await? {
                Stored::Comment(comment, _, _) => parent = Parent::Comment(comment),
                Stored::Refused(why) => return Ok(refused(why)),
            }
        }
        Ok(match self.store(&note, &author, &parent).await? {
            Stored::Comment(_, outcome, created) => ReplyIntake { outcome, created },
            Stored::Refused(outcome) => refused(outcome),
        })
    }

    /// Stores one comment under `parent`, moderated by the rules.
    async fn store(
        &self,
        note: &Note,
        author: &RemoteActor,
        parent: &Parent,
    ) -> Result<Stored, IntakeError> {
        let body = comment_body(note);
        let decision = self.decide(author, &body, parent.shown()).await?;
        let (author_name, author_url, author_avatar_url) = comment_author(author);
        let now = Utc::now();
        let upsert = RemoteCommentUpsert {
            ap_id: note.id.clone(),
            parent: parent.node(),
            remote_actor_id: author.id,
            author_name,
            author_url,
            author_avatar_url,
            content_html: body.content_html,
            summary: body.summary,
            sensitive: body.sensitive,
            attachments: body.attachments,
            url: web_url(note.url.as_deref()),
            in_reply_to_ap_id: note.in_reply_to.clone(),
            visibility: visibility_of(note),
            published_at: not_after(note.published, now),
            updated_at: note.updated.map(|updated| updated.min(now)),
            moderation: decision.state,
            moderation_reason: Some(decision.reason),
        };
        let outcome = match self.federation.store().upsert_remote_comment(upsert).await {
            Ok(outcome) => outcome,
            Err(err) => return drop_unless_transient(err).map(Stored::Refused),
        };
        Ok(match outcome {
            UpsertOutcome::Created(comment) => {
                Stored::Comment(Box::new(comment), "comment stored", true)
            }
            UpsertOutcome::Updated(comment) => Stored::Comment(
                Box::new(comment),
                "comment stored again with new content",
                false,
            ),
            UpsertOutcome::Unchanged(comment) => {
                Stored::Comment(Box::new(comment), "comment already stored", false)
            }
            UpsertOutcome::Tombstoned => Stored::Refused("dropped: the object was deleted before"),
            UpsertOutcome::NotOwner => {
                Stored::Refused("dropped: the object is stored as another actor's")
            }
        })
    }
}

/// The Note in a document fetched from its origin (by its id); its author must live on
/// its server (P3).
pub(crate) fn note_from_origin(document: &Value) -> Result<Note, Outcome> {
    let Ok(note) = Note::deserialize(document) else {
        return Err("dropped: the object is not a Note, Article, Page or Question");
    };
    let Ok(id) = Url::parse(&note.id) else {
        return Err("dropped: the object's id is not a URL");
    };
    let author_on_origin = note
        .attributed_to
        .as_deref()
        .and_then(|author| Url::parse(author).ok())
        .is_some_and(|author| same_host(&author, &id));
    if !author_on_origin {
        return Err("dropped: the object's author is not on its server");
    }
    Ok(note)
}

/// Where a reply under `post` may go: only published posts with comments open (P9).
fn post_place(post: &gloss_storage::Post, parent: Parent) -> Place {
    match post.status {
        PostStatus::Published if post.comments_open => Place::Found(parent),
        PostStatus::Published => Place::Refused("dropped: comments are closed on the post"),
        PostStatus::Draft | PostStatus::Deleted => {
            Place::Refused("dropped: reply to a post that is not published")
        }
    }
}

/// A claimed time, but never in the future.
fn not_after(claimed: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    claimed.map_or(now, |claimed| claimed.min(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(value: Value) -> Note {
        serde_json::from_value(value).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn visibility_follows_the_addressing_and_its_aliases() {
        let base = |to: Value, cc: Value| {
            note(json!({"id": "https://m.example/n/1", "type": "Note", "to": to, "cc": cc}))
        };
        let followers = "https://m.example/users/a/followers";
        let blog = "https://blog.example/blog";
        for public in [
            "https://www.w3.org/ns/activitystreams#Public",
            "as:Public",
            "Public",
        ] {
            assert_eq!(
                visibility_of(&base(json!([public]), json!([followers]))),
                Visibility::Public
            );
            assert_eq!(
                visibility_of(&base(json!([followers]), json!(public))),
                Visibility::Unlisted
            );
        }
        assert_eq!(
            visibility_of(&base(json!([followers]), json!([blog]))),
            Visibility::Followers
        );
        assert_eq!(
            visibility_of(&base(json!([blog]), json!([]))),
            Visibility::Direct
        );
        assert_eq!(
            visibility_of(&base(Value::Null, Value::Null)),
            Visibility::Direct
        );
    }

    #[test]
    fn a_comment_body_keeps_mentions_drops_scripts_and_caps_attachments() {
        let attachments: Vec<Value> = (0..7)
            .map(|n| json!({"type": "Document", "mediaType": "image/png",
                            "url": format!("https://m.example/media/{n}.png"), "name": "a <b>cat</b>\u{0}"}))
            .chain([json!({"type": "Image", "url": "javascript:alert(1)"})])
            .collect();
        let body = comment_body(&note(json!({
            "id": "https://m.example/n/1", "type": "Note",
            "content": "<p><a href=\"https://blog.example/authors/ann\" class=\"u-url mention\">@ann</a> hi :blob: <img src=\"https://m.example/e.png\" alt=\":wave:\"><script>x()</script></p>",
            "summary": "spoilers &lt;b&gt;\u{0}",
            "sensitive": true,
            "tag": [{"type": "Emoji", "name": ":wave:", "icon": {"url": "https://m.example/e.png"}},
                    {"type": "Emoji", "name": "<evil>"}],
            "attachment": attachments,
        })));
        assert!(
            body.content_html.contains("class=\"u-url mention\""),
            "{}",
            body.content_html
        );
        assert!(
            body.content_html.contains(":wave:"),
            "{}",
            body.content_html
        );
        assert!(!body.content_html.contains("<img"), "{}", body.content_html);
        assert!(
            !body.content_html.contains("script"),
            "{}",
            body.content_html
        );
        assert_eq!(body.summary.as_deref(), Some("spoilers &lt;b&gt;"));
        assert!(body.sensitive);
        assert_eq!(body.attachments.len(), MAX_COMMENT_ATTACHMENTS);
        assert_eq!(body.attachments[0].name.as_deref(), Some("a <b>cat</b>"));
        assert_eq!(body.attachments[0].media_type.as_deref(), Some("image/png"));
    }

    #[test]
    fn an_article_shows_its_title_first() {
        let body = comment_body(&note(json!({
            "id": "https://w.example/p/1", "type": "Article", "name": "On <things>",
            "content": "<p>Body</p>",
        })));
        assert_eq!(
            body.content_html,
            "<p><strong>On &lt;things&gt;</strong></p><p>Body</p>"
        );
    }

    #[test]
    fn comment_kinds_are_the_post_like_ones() {
        for kind in ["Note", "Article", "Page", "Question", "as:Note"] {
            assert!(is_comment_kind(kind), "{kind}");
        }
        for kind in ["ChatMessage", "Video", "Event", "Person"] {
            assert!(!is_comment_kind(kind), "{kind}");
        }
    }

    #[test]
    fn our_server_is_recognised_in_any_scheme_but_not_on_another_port() {
        let url = |text: &str| Url::parse(text).unwrap_or_else(|err| panic!("{err}"));
        let ours = url("https://blog.example");
        for local in [
            "https://blog.example/posts/a",
            "http://blog.example/posts/a",
            "https://BLOG.example:443/x",
        ] {
            assert!(on_server(&ours, &url(local)), "{local}");
        }
        for remote in ["https://blog.example:8443/x", "https://other.example/x"] {
            assert!(!on_server(&ours, &url(remote)), "{remote}");
        }
        let test_site = url("http://127.0.0.1:3000");
        assert!(on_server(&test_site, &url("http://127.0.0.1:3000/posts/a")));
        assert!(!on_server(
            &test_site,
            &url("http://127.0.0.1:4000/notes/1")
        ));
    }

    #[test]
    fn reports_are_limited_per_reporter() {
        let intake = CommentIntake::new();
        let start = Instant::now();
        for _ in 0..FLAGS_PER_WINDOW {
            assert!(intake.report_allowed("https://m.example/actor", start));
        }
        assert!(!intake.report_allowed("https://m.example/actor", start));
        assert!(intake.report_allowed("https://other.example/actor", start));
        assert!(intake.report_allowed("https://m.example/actor", start + FLAG_WINDOW));
    }

    #[test]
    fn authors_sign_with_their_display_name_or_handle() {
        let actor = RemoteActor {
            id: gloss_storage::RemoteActorId(1),
            ap_id: "https://m.example/users/a".into(),
            kind: "Person".into(),
            preferred_username: Some("a".into()),
            name: Some("  \u{0}\n ".into()),
            url: None,
            icon_url: Some("https://m.example/a.png".into()),
            inbox: "https://m.example/users/a/inbox".into(),
            shared_inbox: None,
            public_key_id: "https://m.example/users/a#main-key".into(),
            public_key_pem: String::new(),
            host: "m.example".into(),
            fetched_at: Utc::now(),
            deleted_at: None,
        };
        let (name, url, avatar) = comment_author(&actor);
        assert_eq!(name, "a");
        assert_eq!(url.as_deref(), Some("https://m.example/users/a"));
        assert_eq!(avatar.as_deref(), Some("https://m.example/a.png"));
    }
}
