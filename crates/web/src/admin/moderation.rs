//! The moderation area of the admin UI: the queue of comments waiting for a decision,
//! each comment's "why is it (not) shown" page with its moderation history and earlier
//! versions, private messages, reports (Flags), blocks, and closing comments per post.
//!
//! Who may do what:
//! - a comment is moderated (approved, rejected, marked spam) by an admin or by the
//!   author of its post, the same rule as the comments list; the same people read the
//!   post's private messages (followers-only and direct replies);
//! - blocks and reports concern the whole blog, so only admins see and change them.
//!
//! Every decision is logged through `Store::set_comment_moderation_with_reason`, decided
//! by the author who clicked (`author:ID`). Blocking keeps the comment's moderation state
//! and logs the block on it: the block hides the author's comments, and lifting it
//! brings them back as they were.
//!
//! Every POST here goes through [`AdminForm`], which checks the session's CSRF token
//! (403 without it). Remote text (names, content warnings, descriptions, report texts)
//! is plain text escaped by the templates; only `content_html`, sanitized when the
//! comment was stored, is written as HTML.

use crate::admin::comments::may_moderate;
use crate::admin::session::{AdminForm, AdminSession};
use crate::admin::{Chrome, format_date, render};
use crate::error::AppError;
use crate::pages::{post_path, safe_url};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use gloss_storage::{
    Attachment, Author, Block, BlockKind, Comment, CommentFilter, CommentId, CommentRevision,
    FlagId, Moderation, ModerationDecider, ModerationDecision, Page, Post, PostId, PostStatus,
    RemoteActor, RemoteActorId, Visibility, block_domain,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Rows per page of every list here.
const PER_PAGE: i64 = 50;
/// Longest reason kept from the form, in characters.
const MAX_REASON_CHARS: usize = 500;
/// Reported objects shown per report; a Flag may list many.
const MAX_REPORT_OBJECTS: usize = 20;

// ---------------------------------------------------------------------------------------
// shared pieces
// ---------------------------------------------------------------------------------------

/// The tabs above every moderation page.
struct Tabs {
    /// `queue`, `private`, `reports`, `blocks` or `posts`.
    current: &'static str,
    /// Reports and blocks are for admins only.
    is_admin: bool,
    /// Counts beside the tabs (admins only: they concern the whole blog).
    private_count: Option<i64>,
    open_reports: Option<i64>,
}

impl Tabs {
    async fn load(
        state: &AppState,
        session: &AdminSession,
        current: &'static str,
    ) -> Result<Tabs, AppError> {
        let is_admin = session.author.is_admin;
        let (private_count, open_reports) = if is_admin {
            (
                Some(state.store.count_private_comments().await?),
                Some(state.store.count_open_flags().await?),
            )
        } else {
            (None, None)
        };
        Ok(Tabs {
            current,
            is_admin,
            private_count,
            open_reports,
        })
    }
}

/// The navigation of a moderation page, with the queue's count.
async fn chrome(state: &AppState, session: &AdminSession) -> Result<Option<Chrome>, AppError> {
    Ok(Some(
        Chrome::new(session, "moderation")
            .with_moderation_count(state)
            .await?,
    ))
}

fn require_admin(session: &AdminSession) -> Result<(), AppError> {
    if session.author.is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only an admin may do this: it applies to the whole blog.".to_owned(),
        ))
    }
}

/// A storage error as the admin reports it: a missing row is 404, a value the store
/// refuses is the form's fault.
fn storage_error(err: gloss_storage::Error) -> AppError {
    match err {
        gloss_storage::Error::NotFound(_) => AppError::NotFound,
        gloss_storage::Error::Invalid(why) => AppError::BadRequest(why),
        other => AppError::Storage(other),
    }
}

/// The optional reason typed in a form: trimmed, capped, `None` when empty.
fn typed_reason(raw: &str) -> Option<String> {
    let reason: String = raw.trim().chars().take(MAX_REASON_CHARS).collect();
    let reason = reason.trim().to_owned();
    (!reason.is_empty()).then_some(reason)
}

/// The `page` query parameter, within bounds.
fn page_of(page: Option<i64>) -> i64 {
    page.unwrap_or(1).clamp(1, 1_000_000)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    page: Option<i64>,
    /// What was just done, for the notice at the top (one of [`notice`]'s names).
    #[serde(default)]
    done: String,
}

/// The notice shown after an action; unknown names show nothing.
fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "approved" => "Approved: the comment is shown.",
        "rejected" => "Rejected: the comment is hidden.",
        "spam" => "Marked as spam: the comment is hidden.",
        "blocked-author" => "Author blocked: none of their comments are shown.",
        "blocked-domain" => "Domain blocked: no comment from it is shown.",
        "blocked" => "Blocked.",
        "unblocked" => "Block removed: the comments it hid are shown again as they were.",
        "resolved" => "Report resolved.",
        "closed" => "Comments closed on that post.",
        "reopened" => "Comments reopened on that post.",
        "replied" => "Reply published: it is on its way to the commenter and your followers.",
        "reply-edited" => "Reply edited: the new version is on its way.",
        "reply-deleted" => "Reply deleted: its deletion is on its way.",
        "reported" => "Reported to the account's server (from the blog's instance actor).",
        _ => return None,
    })
}

/// Posts and remote actors of a page of comments, each read once.
#[derive(Default)]
struct Lookup {
    posts: HashMap<PostId, Option<Post>>,
    actors: HashMap<RemoteActorId, Option<RemoteActor>>,
}

impl Lookup {
    async fn load(state: &AppState, comments: &[Comment]) -> Result<Lookup, AppError> {
        let mut lookup = Lookup::default();
        for comment in comments {
            if let Entry::Vacant(slot) = lookup.posts.entry(comment.post_id) {
                slot.insert(state.store.post_by_id(comment.post_id).await?);
            }
            if let Some(actor) = comment.remote_actor_id
                && let Entry::Vacant(slot) = lookup.actors.entry(actor)
            {
                slot.insert(state.store.remote_actor_by_id(actor).await?);
            }
        }
        Ok(lookup)
    }

    fn post(&self, id: PostId) -> Option<&Post> {
        self.posts.get(&id).and_then(Option::as_ref)
    }

    fn actor(&self, id: Option<RemoteActorId>) -> Option<&RemoteActor> {
        id.and_then(|id| self.actors.get(&id))
            .and_then(Option::as_ref)
    }
}

/// Who wrote a comment, as text (the templates escape it).
struct AuthorView {
    name: String,
    /// `@user@host` of a fediverse author.
    handle: Option<String>,
    /// Their profile or website (http(s) only).
    profile_url: Option<String>,
    /// The server a fediverse author is on.
    host: Option<String>,
}

impl AuthorView {
    fn new(comment: &Comment, actor: Option<&RemoteActor>) -> AuthorView {
        let name = comment.author_name.trim();
        AuthorView {
            name: if name.is_empty() {
                "Anonymous".to_owned()
            } else {
                name.to_owned()
            },
            handle: actor.map(|actor| match &actor.preferred_username {
                Some(username) => format!("@{username}@{}", actor.host),
                None => actor.ap_id.clone(),
            }),
            profile_url: comment
                .author_url
                .as_deref()
                .or(actor.and_then(|actor| actor.url.as_deref()))
                .or(actor.map(|actor| actor.ap_id.as_str()))
                .and_then(|url| safe_url(url, None)),
            host: actor.map(|actor| actor.host.clone()),
        }
    }
}

/// A link to a comment's media (never embedded, as on the public page).
struct AttachmentLink {
    url: String,
    label: String,
}

fn attachment_links(attachments: &[Attachment]) -> Vec<AttachmentLink> {
    attachments
        .iter()
        .filter_map(|attachment| {
            let url = safe_url(&attachment.url, None)?;
            let kind = attachment.media_type.as_deref().unwrap_or("media");
            let label = match attachment.name.as_deref().map(str::trim) {
                Some(name) if !name.is_empty() => format!("{kind}: {name}"),
                _ => format!("{kind} (no description)"),
            };
            Some(AttachmentLink { url, label })
        })
        .collect()
}

fn visibility_label(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "public",
        Visibility::Unlisted => "unlisted",
        Visibility::Followers => "followers-only",
        Visibility::Direct => "direct message",
    }
}

/// One comment as the moderation pages show it, with what the session may do to it.
struct CommentCard {
    id: i64,
    post_title: String,
    /// The post's public page when published, else its editor; empty when unknown.
    post_path: String,
    author: AuthorView,
    /// Sanitized when the comment was stored.
    content_html: String,
    summary: Option<String>,
    attachments: Vec<AttachmentLink>,
    /// The moderation state, or `deleted`.
    state: &'static str,
    /// `public`, `unlisted`, `followers` or `direct` (a CSS class).
    visibility: &'static str,
    visibility_label: &'static str,
    reason: Option<String>,
    blocked: bool,
    date: String,
    edited: bool,
    can_approve: bool,
    can_reject: bool,
    can_spam: bool,
    /// An admin, and a fediverse comment whose author we hold.
    can_block: bool,
    /// The form's own action: the first action offered.
    default_action: &'static str,
}

impl CommentCard {
    fn new(
        comment: &Comment,
        post: Option<&Post>,
        actor: Option<&RemoteActor>,
        session: &AdminSession,
    ) -> CommentCard {
        let deleted = comment.deleted_at.is_some();
        let can_decide = !deleted && may_moderate(session, post);
        let can_approve = can_decide && comment.moderation != Moderation::Approved;
        let can_reject = can_decide && comment.moderation != Moderation::Hidden;
        let can_spam = can_decide && comment.moderation != Moderation::Spam;
        let can_block = !deleted && session.author.is_admin && actor.is_some();
        let default_action = if can_approve {
            "approve"
        } else if can_reject {
            "reject"
        } else if can_spam {
            "spam"
        } else {
            "block-author"
        };
        CommentCard {
            id: comment.id.0,
            post_title: post.map(|post| post.title.clone()).unwrap_or_default(),
            post_path: match post {
                Some(post) if post.status == PostStatus::Published => post_path(&post.slug),
                Some(post) => format!("/admin/posts/{}/edit", post.id),
                None => String::new(),
            },
            author: AuthorView::new(comment, actor),
            content_html: comment.content_html.clone(),
            summary: comment
                .summary
                .as_deref()
                .map(str::trim)
                .filter(|summary| !summary.is_empty())
                .map(str::to_owned),
            attachments: attachment_links(&comment.attachments),
            state: if deleted {
                "deleted"
            } else {
                comment.moderation.as_str()
            },
            visibility: comment.visibility.as_str(),
            visibility_label: visibility_label(comment.visibility),
            reason: comment.moderation_reason.clone(),
            blocked: comment.author_blocked,
            date: format_date(comment.published_at),
            edited: comment.updated_at.is_some(),
            can_approve,
            can_reject,
            can_spam,
            can_block,
            default_action,
        }
    }

    fn has_actions(&self) -> bool {
        self.can_approve || self.can_reject || self.can_spam || self.can_block
    }
}

// ---------------------------------------------------------------------------------------
// the queue
// ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/moderation.html")]
struct QueuePage {
    chrome: Option<Chrome>,
    tabs: Tabs,
    notice: Option<&'static str>,
    cards: Vec<CommentCard>,
    /// Where the action forms come back to.
    back: &'static str,
    page: i64,
    has_next: bool,
}

/// `GET /admin/moderation`: public and unlisted comments waiting for a decision,
/// newest first (blocked authors' comments are not waiting for anything).
pub(crate) async fn queue(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = page_of(query.page);
    let comments = state
        .store
        .recent_comments(CommentFilter::Pending, Page::number(page, PER_PAGE))
        .await?;
    let has_next = comments.len() as i64 == PER_PAGE;
    // A deleted comment that was never moderated is still "pending" in the store.
    let comments: Vec<Comment> = comments
        .into_iter()
        .filter(|comment| comment.deleted_at.is_none())
        .collect();
    let lookup = Lookup::load(&state, &comments).await?;
    let cards = comments
        .iter()
        .map(|comment| {
            CommentCard::new(
                comment,
                lookup.post(comment.post_id),
                lookup.actor(comment.remote_actor_id),
                &session,
            )
        })
        .collect();
    let view = QueuePage {
        chrome: chrome(&state, &session).await?,
        tabs: Tabs::load(&state, &session, "queue").await?,
        notice: notice(&query.done),
        cards,
        back: "queue",
        page,
        has_next,
    };
    render(&view, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// decisions
// ---------------------------------------------------------------------------------------

/// What a moderation form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Approve,
    Reject,
    Spam,
    BlockAuthor,
    BlockDomain,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "spam" => Action::Spam,
            "block-author" => Action::BlockAuthor,
            "block-domain" => Action::BlockDomain,
            _ => return None,
        })
    }

    /// The `done` notice name.
    fn done(self) -> &'static str {
        match self {
            Action::Approve => "approved",
            Action::Reject => "rejected",
            Action::Spam => "spam",
            Action::BlockAuthor => "blocked-author",
            Action::BlockDomain => "blocked-domain",
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    /// Optional, typed by the author; a default names the action otherwise.
    #[serde(default)]
    reason: String,
    /// `comment` (the comment's page), `private` (private messages), else the queue.
    #[serde(default)]
    back: String,
}

/// `POST /admin/moderation/comments/{id}/{action}`: approve, reject (hide), mark as
/// spam, block the author, or block the author's domain. Each is logged on the comment.
pub(crate) async fn decide(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    AdminForm { session, form }: AdminForm<DecisionForm>,
) -> Result<Response, AppError> {
    let action = Action::parse(&action).ok_or(AppError::NotFound)?;
    let comment = state
        .store
        .comment_by_id(CommentId(id))
        .await?
        .filter(|comment| comment.deleted_at.is_none())
        .ok_or(AppError::NotFound)?;
    let post = state.store.post_by_id(comment.post_id).await?;
    if !may_moderate(&session, post.as_ref()) {
        return Err(AppError::Forbidden(
            "Only the post's author or an admin may moderate its comments.".to_owned(),
        ));
    }
    let typed = typed_reason(&form.reason);
    let decider = ModerationDecider::Author(session.author.id);
    let now = Utc::now();
    let decision = match action {
        Action::Approve => Some((Moderation::Approved, "Approved by the author")),
        Action::Reject => Some((Moderation::Hidden, "Rejected by the author")),
        Action::Spam => Some((Moderation::Spam, "Marked as spam by the author")),
        Action::BlockAuthor | Action::BlockDomain => None,
    };
    if let Some((decision, default_reason)) = decision {
        let reason = typed.unwrap_or_else(|| default_reason.to_owned());
        state
            .store
            .set_comment_moderation_with_reason(comment.id, decision, &reason, decider, now)
            .await
            .map_err(storage_error)?;
    } else {
        require_admin(&session)?;
        let actor = match comment.remote_actor_id {
            Some(actor) => state.store.remote_actor_by_id(actor).await?,
            None => None,
        }
        .ok_or_else(|| {
            AppError::BadRequest(
                "Only a fediverse comment has an author or a domain to block.".to_owned(),
            )
        })?;
        let (kind, value, what) = if action == Action::BlockAuthor {
            let what = format!("the author {}", actor.ap_id);
            (BlockKind::Actor, actor.ap_id.clone(), what)
        } else {
            let domain = block_domain(&actor.host)
                .or_else(|| block_domain(&actor.ap_id))
                .ok_or_else(|| {
                    AppError::BadRequest("The author's server has no domain to block.".to_owned())
                })?;
            let what = format!("the domain {domain}");
            (BlockKind::Domain, domain, what)
        };
        let block_reason = typed
            .clone()
            .unwrap_or_else(|| format!("Blocked while moderating comment {}", comment.id));
        state
            .store
            .add_block(kind, &value, &block_reason, now)
            .await
            .map_err(storage_error)?;
        // The comment keeps its state: the block is what hides it, and lifting the block
        // brings it back as it was. The decision is logged all the same.
        let logged = match &typed {
            Some(typed) => format!("Blocked {what}: {typed}"),
            None => format!("Blocked {what}"),
        };
        state
            .store
            .set_comment_moderation_with_reason(
                comment.id,
                comment.moderation,
                &logged,
                decider,
                now,
            )
            .await
            .map_err(storage_error)?;
    }
    let done = action.done();
    let to = match form.back.as_str() {
        "comment" => format!("/admin/comments/{}?done={done}", comment.id),
        "private" => format!("/admin/moderation/private?done={done}"),
        _ => format!("/admin/moderation?done={done}"),
    };
    Ok(Redirect::to(&to).into_response())
}

// ---------------------------------------------------------------------------------------
// one comment: why it is (not) shown
// ---------------------------------------------------------------------------------------

/// One entry of the moderation log, as text.
struct DecisionRow {
    date: String,
    decision: &'static str,
    reason: String,
    by: String,
}

/// An earlier version of the comment.
struct RevisionRow {
    written: String,
    replaced: String,
    summary: Option<String>,
    /// Sanitized when it was stored, like the current version.
    content_html: String,
    attachments: Vec<AttachmentLink>,
}

/// Why a comment is or is not on its post's page.
#[derive(Debug, Default, PartialEq, Eq)]
struct Verdict {
    shown: bool,
    /// What keeps it off the page (empty when shown).
    reasons: Vec<String>,
    /// Other things worth knowing (unlisted, placed at the top level, closed post).
    notes: Vec<String>,
}

/// Says why `comment` is (not) shown to readers. `blocks` are the blocks in force;
/// `parent` is the comment it replies to, if any.
fn explain(
    comment: &Comment,
    post: Option<&Post>,
    actor: Option<&RemoteActor>,
    blocks: &[Block],
    parent: Option<&Comment>,
) -> Verdict {
    let mut verdict = Verdict::default();
    let reasons = &mut verdict.reasons;
    match post {
        None => reasons.push("Its post does not exist any more.".to_owned()),
        Some(post) if post.status == PostStatus::Draft => {
            reasons.push("Its post is a draft: nothing under it is public yet.".to_owned());
        }
        Some(post) if post.status == PostStatus::Deleted => {
            reasons.push("Its post was deleted.".to_owned());
        }
        Some(_) => {}
    }
    if let Some(deleted) = comment.deleted_at {
        reasons.push(format!(
            "It was deleted on {}; only a placeholder stays where it has visible replies.",
            format_date(deleted)
        ));
    }
    match comment.visibility {
        Visibility::Followers => reasons.push(
            "It is a followers-only reply: a private message to the author, never shown on \
             the blog, in feeds or in counts."
                .to_owned(),
        ),
        Visibility::Direct => reasons.push(
            "It is a direct message: private to the people it names, never shown on the \
             blog, in feeds or in counts."
                .to_owned(),
        ),
        Visibility::Unlisted => verdict.notes.push(
            "It is unlisted (public, but kept out of public timelines by its sender): it is \
             shown like a public reply."
                .to_owned(),
        ),
        Visibility::Public => {}
    }
    let why = comment
        .moderation_reason
        .as_deref()
        .map(str::trim)
        .filter(|reason| !reason.is_empty())
        .map(|reason| format!(" Reason: {reason}"))
        .unwrap_or_default();
    match comment.moderation {
        Moderation::Approved => {}
        Moderation::Pending => reasons.push(format!("It is waiting for approval.{why}")),
        Moderation::Hidden => reasons.push(format!("It was rejected (hidden).{why}")),
        Moderation::Spam => reasons.push(format!("It was marked as spam.{why}")),
    }
    if comment.author_blocked {
        let matched = actor
            .map(|actor| blocks_of(actor, blocks))
            .unwrap_or_default();
        if matched.is_empty() {
            reasons.push("Its author or their domain is blocked.".to_owned());
        }
        for block in matched {
            let because = if block.reason.trim().is_empty() {
                String::new()
            } else {
                format!(" ({})", block.reason.trim())
            };
            reasons.push(match block.kind {
                BlockKind::Actor => format!("Its author {} is blocked{because}.", block.value),
                BlockKind::Domain => {
                    format!("Its author's domain {} is blocked{because}.", block.value)
                }
                BlockKind::Limit => {
                    format!("Its author's domain {} is limited{because}.", block.value)
                }
            });
        }
    }
    verdict.shown = verdict.reasons.is_empty();
    if verdict.shown
        && let Some(parent) = parent
        && !parent.is_listed()
    {
        verdict.notes.push(format!(
            "It replies to comment {}, which is not shown, so it appears at the top level \
             of the thread.",
            parent.id
        ));
    }
    if let Some(post) = post
        && !post.comments_open
    {
        verdict
            .notes
            .push("Comments on its post are closed: new replies are refused.".to_owned());
    }
    verdict
}

/// The blocks that hit `actor`: its own, and those of its domain or a domain above it.
fn blocks_of<'a>(actor: &RemoteActor, blocks: &'a [Block]) -> Vec<&'a Block> {
    let host = block_domain(&actor.host).or_else(|| block_domain(&actor.ap_id));
    blocks
        .iter()
        .filter(|block| match block.kind {
            BlockKind::Actor => block.value == actor.ap_id,
            // A limit holds new comments but hides nothing.
            BlockKind::Limit => false,
            BlockKind::Domain => host.as_deref().is_some_and(|host| {
                host == block.value
                    || host
                        .strip_suffix(block.value.as_str())
                        .is_some_and(|above| above.ends_with('.'))
            }),
        })
        .collect()
}

fn decider_name(decider: ModerationDecider, authors: &[Author]) -> String {
    match decider {
        ModerationDecider::Rules => "the moderation rules".to_owned(),
        ModerationDecider::Author(id) => authors
            .iter()
            .find(|author| author.id == id)
            .map(|author| format!("{} (@{})", author.display_name, author.username))
            .unwrap_or_else(|| format!("author {id}")),
    }
}

fn decision_row(decision: &ModerationDecision, authors: &[Author]) -> DecisionRow {
    DecisionRow {
        date: format_date(decision.created_at),
        decision: decision.decision.as_str(),
        reason: decision.reason.clone(),
        by: decider_name(decision.decided_by, authors),
    }
}

fn revision_row(revision: &CommentRevision) -> RevisionRow {
    RevisionRow {
        written: format_date(revision.written_at),
        replaced: format_date(revision.replaced_at),
        summary: revision
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|summary| !summary.is_empty())
            .map(str::to_owned),
        content_html: revision.content_html.clone(),
        attachments: attachment_links(&revision.attachments),
    }
}

#[derive(Template)]
#[template(path = "admin/moderation_comment.html")]
struct CommentPage {
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    card: CommentCard,
    verdict: Verdict,
    origin: &'static str,
    /// The fediverse object's id and page (http(s) only).
    ap_id: Option<String>,
    url: Option<String>,
    in_reply_to: Option<String>,
    sensitive: bool,
    likes: i64,
    boosts: i64,
    /// The comment's place on the public page, when it is shown there.
    public_link: Option<String>,
    post_id: i64,
    /// Whether the session may close or reopen the post's comments.
    can_close: bool,
    comments_open: bool,
    history: Vec<DecisionRow>,
    revisions: Vec<RevisionRow>,
    back: &'static str,
    reply: ReplyControls,
    /// An admin may report the remote author to their server.
    can_report_remote: bool,
    remote_host: Option<String>,
}

/// What the comment page offers for replying: a reply form, or why there is none;
/// the edit and delete forms of a reply written here.
struct ReplyControls {
    /// The comment can be answered.
    can_reply: bool,
    /// Why it cannot, when that is worth saying.
    why_not: Option<&'static str>,
    /// The answer will be private (the comment is a private message).
    private: bool,
    /// The comment is a live reply written here: its text for the edit form.
    edit_source: Option<String>,
}

impl ReplyControls {
    fn new(comment: &Comment, post: Option<&Post>) -> ReplyControls {
        let published = post.is_some_and(|post| post.status == PostStatus::Published);
        let private = comment.is_private();
        let live = comment.deleted_at.is_none();
        let ours = comment.local_author_id.is_some() && comment.ap_id.is_some();
        let why_not = if !live {
            Some("The comment was deleted.")
        } else if !published {
            Some("The post is not published.")
        } else if !private && (comment.moderation != Moderation::Approved || comment.author_blocked)
        {
            Some("Approve the comment before replying: readers cannot see it.")
        } else if private && comment.remote_actor_id.is_none() {
            Some("The sender of this private message is unknown.")
        } else {
            None
        };
        ReplyControls {
            can_reply: why_not.is_none(),
            why_not,
            private,
            edit_source: (ours && live && published)
                .then(|| gloss_federation::author_replies::editable_source(&comment.content_html)),
        }
    }
}

/// `GET /admin/comments/{id}`: the comment, why it is (not) shown, its moderation
/// history and earlier versions. For the post's author and admins (private messages
/// included).
pub(crate) async fn comment_detail(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<i64>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let comment = state
        .store
        .comment_by_id(CommentId(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let post = state.store.post_by_id(comment.post_id).await?;
    if !may_moderate(&session, post.as_ref()) {
        return Err(AppError::Forbidden(
            "Only the post's author or an admin may see how its comments are moderated.".to_owned(),
        ));
    }
    let actor = match comment.remote_actor_id {
        Some(actor) => state.store.remote_actor_by_id(actor).await?,
        None => None,
    };
    let blocks = if comment.author_blocked {
        state.store.list_blocks().await?
    } else {
        Vec::new()
    };
    let parent = match comment.parent_id {
        Some(parent) => state.store.comment_by_id(parent).await?,
        None => None,
    };
    let history = state.store.moderation_history(comment.id).await?;
    let revisions = state.store.comment_revisions(comment.id).await?;
    let authors = if history.is_empty() {
        Vec::new()
    } else {
        state.store.list_authors().await?
    };
    let verdict = explain(
        &comment,
        post.as_ref(),
        actor.as_ref(),
        &blocks,
        parent.as_ref(),
    );
    let public_link = match &post {
        Some(post) if verdict.shown => {
            Some(format!("{}#comment-{}", post_path(&post.slug), comment.id))
        }
        _ => None,
    };
    let view = CommentPage {
        chrome: chrome(&state, &session).await?,
        notice: notice(&query.done),
        card: CommentCard::new(&comment, post.as_ref(), actor.as_ref(), &session),
        verdict,
        origin: comment.origin.as_str(),
        ap_id: comment.ap_id.as_deref().and_then(|url| safe_url(url, None)),
        url: comment.url.as_deref().and_then(|url| safe_url(url, None)),
        in_reply_to: comment
            .in_reply_to_ap_id
            .as_deref()
            .and_then(|url| safe_url(url, None)),
        sensitive: comment.sensitive,
        likes: comment.like_count,
        boosts: comment.announce_count,
        public_link,
        post_id: comment.post_id.0,
        can_close: post.is_some(),
        comments_open: post.as_ref().is_some_and(|post| post.comments_open),
        history: history
            .iter()
            .map(|decision| decision_row(decision, &authors))
            .collect(),
        revisions: revisions.iter().map(revision_row).collect(),
        back: "comment",
        reply: ReplyControls::new(&comment, post.as_ref()),
        can_report_remote: session.author.is_admin
            && actor
                .as_ref()
                .is_some_and(|actor| actor.deleted_at.is_none()),
        remote_host: actor.as_ref().map(|actor| actor.host.clone()),
    };
    render(&view, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// private messages
// ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/moderation_private.html")]
struct PrivatePage {
    chrome: Option<Chrome>,
    tabs: Tabs,
    notice: Option<&'static str>,
    cards: Vec<CommentCard>,
    back: &'static str,
    page: i64,
    has_next: bool,
}

/// `GET /admin/moderation/private`: followers-only and direct replies, newest first,
/// each shown only to its post's author and to admins. They never reach a public page.
pub(crate) async fn private_messages(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = page_of(query.page);
    let comments = state
        .store
        .private_comments(Page::number(page, PER_PAGE))
        .await?;
    let has_next = comments.len() as i64 == PER_PAGE;
    let lookup = Lookup::load(&state, &comments).await?;
    let cards = comments
        .iter()
        .filter(|comment| may_moderate(&session, lookup.post(comment.post_id)))
        .map(|comment| {
            let mut card = CommentCard::new(
                comment,
                lookup.post(comment.post_id),
                lookup.actor(comment.remote_actor_id),
                &session,
            );
            // Approving a private message would not publish it: only blocking makes sense.
            card.can_approve = false;
            card.can_reject = false;
            card.can_spam = false;
            card.default_action = "block-author";
            card
        })
        .collect();
    let view = PrivatePage {
        chrome: chrome(&state, &session).await?,
        tabs: Tabs::load(&state, &session, "private").await?,
        notice: notice(&query.done),
        cards,
        back: "private",
        page,
        has_next,
    };
    render(&view, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// reports
// ---------------------------------------------------------------------------------------

/// One reported object: its id, and our comment when it names one.
struct ReportedObject {
    ap_id: String,
    /// Linked only when it is a web address.
    link: Option<String>,
    comment_id: Option<i64>,
}

struct ReportRow {
    id: i64,
    date: String,
    reporter: String,
    reporter_link: Option<String>,
    content: String,
    objects: Vec<ReportedObject>,
    /// Objects left out of the list.
    more: usize,
}

#[derive(Template)]
#[template(path = "admin/moderation_reports.html")]
struct ReportsPage {
    chrome: Option<Chrome>,
    tabs: Tabs,
    notice: Option<&'static str>,
    reports: Vec<ReportRow>,
    page: i64,
    has_next: bool,
}

/// `GET /admin/moderation/reports`: reports (Flags) not resolved yet, newest first.
pub(crate) async fn reports(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    require_admin(&session)?;
    let page = page_of(query.page);
    let flags = state.store.open_flags(Page::number(page, PER_PAGE)).await?;
    let has_next = flags.len() as i64 == PER_PAGE;
    let mut rows = Vec::with_capacity(flags.len());
    for flag in &flags {
        let mut objects = Vec::new();
        for ap_id in flag.object_ap_ids.iter().take(MAX_REPORT_OBJECTS) {
            let comment = state.store.comment_by_ap_id(ap_id).await?;
            objects.push(ReportedObject {
                ap_id: ap_id.clone(),
                link: safe_url(ap_id, None),
                comment_id: comment.map(|comment| comment.id.0),
            });
        }
        rows.push(ReportRow {
            id: flag.id.0,
            date: format_date(flag.created_at),
            reporter: flag.reporter_ap_id.clone(),
            reporter_link: safe_url(&flag.reporter_ap_id, None),
            content: flag.content.clone(),
            more: flag.object_ap_ids.len().saturating_sub(MAX_REPORT_OBJECTS),
            objects,
        });
    }
    let view = ReportsPage {
        chrome: chrome(&state, &session).await?,
        tabs: Tabs::load(&state, &session, "reports").await?,
        notice: notice(&query.done),
        reports: rows,
        page,
        has_next,
    };
    render(&view, StatusCode::OK)
}

/// A form that carries nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct EmptyForm {}

/// `POST /admin/moderation/reports/{id}/resolve`.
pub(crate) async fn resolve_report(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form: _ }: AdminForm<EmptyForm>,
) -> Result<Response, AppError> {
    require_admin(&session)?;
    state
        .store
        .resolve_flag(FlagId(id), Utc::now())
        .await
        .map_err(storage_error)?;
    Ok(Redirect::to("/admin/moderation/reports?done=resolved").into_response())
}

// ---------------------------------------------------------------------------------------
// blocks
// ---------------------------------------------------------------------------------------

struct BlockRow {
    kind: &'static str,
    value: String,
    reason: String,
    date: String,
}

#[derive(Template)]
#[template(path = "admin/moderation_blocks.html")]
struct BlocksPage {
    chrome: Option<Chrome>,
    tabs: Tabs,
    notice: Option<&'static str>,
    blocks: Vec<BlockRow>,
}

/// `GET /admin/moderation/blocks`: blocked actors and domains, with Remove, and a form
/// to block one by hand.
pub(crate) async fn blocks(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    require_admin(&session)?;
    let blocks = state
        .store
        .list_blocks()
        .await?
        .into_iter()
        .map(|block| BlockRow {
            kind: block.kind.as_str(),
            value: block.value,
            reason: block.reason,
            date: format_date(block.created_at),
        })
        .collect();
    let view = BlocksPage {
        chrome: chrome(&state, &session).await?,
        tabs: Tabs::load(&state, &session, "blocks").await?,
        notice: notice(&query.done),
        blocks,
    };
    render(&view, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub(crate) struct BlockForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

fn block_kind(name: &str) -> Result<BlockKind, AppError> {
    BlockKind::parse(name).ok_or_else(|| {
        AppError::BadRequest(
            "Choose what to block: an actor, a domain, or a domain to limit.".into(),
        )
    })
}

/// `POST /admin/moderation/blocks`: blocks an actor (by its ActivityPub id) or a domain.
pub(crate) async fn add_block(
    State(state): State<AppState>,
    AdminForm { session, form }: AdminForm<BlockForm>,
) -> Result<Response, AppError> {
    require_admin(&session)?;
    let kind = block_kind(&form.kind)?;
    let value = form.value.trim();
    if kind == BlockKind::Actor && safe_url(value, None).is_none() {
        return Err(AppError::BadRequest(
            "An actor is blocked by its ActivityPub id, an https:// address.".to_owned(),
        ));
    }
    let reason = typed_reason(&form.reason).unwrap_or_else(|| "Blocked by hand".to_owned());
    state
        .store
        .add_block(kind, value, &reason, Utc::now())
        .await
        .map_err(storage_error)?;
    Ok(Redirect::to("/admin/moderation/blocks?done=blocked").into_response())
}

/// `POST /admin/moderation/blocks/remove`: lifts a block; the comments it hid are
/// shown again in the state they had.
pub(crate) async fn remove_block(
    State(state): State<AppState>,
    AdminForm { session, form }: AdminForm<BlockForm>,
) -> Result<Response, AppError> {
    require_admin(&session)?;
    let kind = block_kind(&form.kind)?;
    if !state.store.remove_block(kind, &form.value).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/admin/moderation/blocks?done=unblocked").into_response())
}

// ---------------------------------------------------------------------------------------
// comments open or closed, per post
// ---------------------------------------------------------------------------------------

struct PostRow {
    id: i64,
    title: String,
    path: String,
    status: &'static str,
    comments_open: bool,
    public_comments: i64,
}

#[derive(Template)]
#[template(path = "admin/moderation_posts.html")]
struct PostsPage {
    chrome: Option<Chrome>,
    tabs: Tabs,
    notice: Option<&'static str>,
    posts: Vec<PostRow>,
    page: i64,
    has_next: bool,
}

/// `GET /admin/moderation/posts`: the posts the session may moderate, with whether
/// they take comments and a Close / Reopen button.
pub(crate) async fn posts(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = page_of(query.page);
    let posts = state.store.all_posts(Page::number(page, PER_PAGE)).await?;
    let has_next = posts.len() as i64 == PER_PAGE;
    let mut rows = Vec::with_capacity(posts.len());
    for post in posts
        .iter()
        .filter(|post| may_moderate(&session, Some(post)))
    {
        rows.push(PostRow {
            id: post.id.0,
            title: post.title.clone(),
            path: if post.status == PostStatus::Published {
                post_path(&post.slug)
            } else {
                format!("/admin/posts/{}/edit", post.id)
            },
            status: post.status.as_str(),
            comments_open: post.comments_open,
            public_comments: state.store.count_public_comments(post.id).await?,
        });
    }
    let view = PostsPage {
        chrome: chrome(&state, &session).await?,
        tabs: Tabs::load(&state, &session, "posts").await?,
        notice: notice(&query.done),
        posts: rows,
        page,
        has_next,
    };
    render(&view, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub(crate) struct PostCommentsForm {
    /// `true` closes, `false` reopens.
    #[serde(default)]
    closed: String,
    /// `comment:ID` comes back to that comment's page, else to the posts list.
    #[serde(default)]
    back: String,
}

/// `POST /admin/moderation/posts/{id}/comments`: closes or reopens a post's comments.
/// Comments already there stay; new replies are refused while closed.
pub(crate) async fn set_post_comments(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm { session, form }: AdminForm<PostCommentsForm>,
) -> Result<Response, AppError> {
    let closed = match form.closed.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(AppError::BadRequest(
                "Say whether to close or reopen the comments.".to_owned(),
            ));
        }
    };
    let post = state
        .store
        .post_by_id(PostId(id))
        .await?
        .filter(|post| post.status != PostStatus::Deleted)
        .ok_or(AppError::NotFound)?;
    if !may_moderate(&session, Some(&post)) {
        return Err(AppError::Forbidden(
            "Only the post's author or an admin may close its comments.".to_owned(),
        ));
    }
    state
        .store
        .set_post_comments_closed(post.id, closed)
        .await
        .map_err(storage_error)?;
    let done = if closed { "closed" } else { "reopened" };
    let back_to_comment = form
        .back
        .strip_prefix("comment:")
        .and_then(|id| id.parse::<i64>().ok());
    let to = match back_to_comment {
        Some(comment) => format!("/admin/comments/{comment}?done={done}"),
        None => format!("/admin/moderation/posts?done={done}"),
    };
    Ok(Redirect::to(&to).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_storage::{AuthorId, CommentOrigin, PostOrigin};

    fn author(id: i64, username: &str) -> Author {
        Author {
            id: AuthorId(id),
            username: username.to_owned(),
            display_name: format!("{username} display"),
            bio: String::new(),
            avatar_url: None,
            is_admin: true,
            created_at: Utc::now(),
        }
    }

    fn actor(ap_id: &str, host: &str) -> RemoteActor {
        RemoteActor {
            id: RemoteActorId(1),
            ap_id: ap_id.to_owned(),
            kind: "Person".to_owned(),
            preferred_username: Some("mallory".to_owned()),
            name: None,
            url: None,
            icon_url: None,
            inbox: format!("{ap_id}/inbox"),
            shared_inbox: None,
            public_key_id: format!("{ap_id}#main-key"),
            public_key_pem: String::new(),
            host: host.to_owned(),
            fetched_at: Utc::now(),
            deleted_at: None,
        }
    }

    fn block(kind: BlockKind, value: &str) -> Block {
        Block {
            id: 1,
            kind,
            value: value.to_owned(),
            reason: "spam wave".to_owned(),
            created_at: Utc::now(),
        }
    }

    fn post(open: bool) -> Post {
        Post {
            id: PostId(1),
            author_id: AuthorId(1),
            title: "Post".to_owned(),
            slug: "post".to_owned(),
            source: String::new(),
            content_html: String::new(),
            summary: None,
            tags: Vec::new(),
            status: PostStatus::Published,
            origin: PostOrigin::Local,
            comments_open: open,
            published_at: Utc::now(),
            updated_at: None,
            created_at: Utc::now(),
        }
    }

    fn comment() -> Comment {
        Comment {
            id: CommentId(7),
            post_id: PostId(1),
            parent_id: None,
            depth: 0,
            author_name: "Mallory".to_owned(),
            author_url: None,
            author_avatar_url: None,
            content_html: "<p>hi</p>".to_owned(),
            origin: CommentOrigin::Fediverse,
            moderation: Moderation::Approved,
            ap_id: None,
            published_at: Utc::now(),
            updated_at: None,
            deleted_at: None,
            remote_actor_id: Some(RemoteActorId(1)),
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
    fn an_approved_public_comment_is_shown_with_no_reasons() {
        let verdict = explain(&comment(), Some(&post(true)), None, &[], None);
        assert!(verdict.shown);
        assert!(verdict.reasons.is_empty());
        assert!(verdict.notes.is_empty());
    }

    #[test]
    fn every_reason_to_hide_a_comment_is_named() {
        let mut held = comment();
        held.moderation = Moderation::Pending;
        held.moderation_reason = Some("first comment by this author".to_owned());
        held.visibility = Visibility::Direct;
        held.author_blocked = true;
        held.deleted_at = Some(Utc::now());
        let mallory = actor("https://bad.example/users/mallory", "social.bad.example");
        let blocks = [
            block(BlockKind::Domain, "bad.example"),
            block(BlockKind::Actor, "https://bad.example/users/mallory"),
            block(BlockKind::Domain, "ad.example"),
            block(BlockKind::Actor, "https://bad.example/users/other"),
        ];
        let verdict = explain(&held, Some(&post(true)), Some(&mallory), &blocks, None);
        assert!(!verdict.shown);
        let text = verdict.reasons.join("\n");
        assert!(text.contains("deleted"), "{text}");
        assert!(text.contains("direct message"), "{text}");
        assert!(
            text.contains("waiting for approval. Reason: first comment by this author"),
            "{text}"
        );
        assert!(
            text.contains("domain bad.example is blocked (spam wave)"),
            "{text}"
        );
        assert!(
            text.contains("author https://bad.example/users/mallory is blocked"),
            "{text}"
        );
        // Neither the look-alike domain nor another actor's block is named.
        assert_eq!(text.matches("is blocked").count(), 2, "{text}");
        assert!(!text.contains("users/other"), "{text}");
    }

    #[test]
    fn hidden_spam_and_followers_only_say_so() {
        for (moderation, visibility, expected) in [
            (Moderation::Hidden, Visibility::Public, "rejected (hidden)"),
            (Moderation::Spam, Visibility::Public, "marked as spam"),
            (
                Moderation::Approved,
                Visibility::Followers,
                "followers-only",
            ),
        ] {
            let mut c = comment();
            c.moderation = moderation;
            c.visibility = visibility;
            let verdict = explain(&c, Some(&post(true)), None, &[], None);
            assert!(!verdict.shown);
            assert!(verdict.reasons.join(" ").contains(expected), "{expected}");
        }
    }

    #[test]
    fn shown_comments_get_notes_about_their_place_and_post() {
        let mut parent = comment();
        parent.id = CommentId(3);
        parent.moderation = Moderation::Spam;
        let mut quiet = comment();
        quiet.visibility = Visibility::Unlisted;
        let verdict = explain(&quiet, Some(&post(false)), None, &[], Some(&parent));
        assert!(verdict.shown);
        let notes = verdict.notes.join("\n");
        assert!(notes.contains("unlisted"), "{notes}");
        assert!(notes.contains("comment 3, which is not shown"), "{notes}");
        assert!(notes.contains("closed"), "{notes}");
    }

    #[test]
    fn a_draft_post_keeps_its_comments_off_the_page() {
        let mut draft = post(true);
        draft.status = PostStatus::Draft;
        let verdict = explain(&comment(), Some(&draft), None, &[], None);
        assert!(!verdict.shown);
        assert!(verdict.reasons.join(" ").contains("draft"));
    }

    #[test]
    fn typed_reasons_are_trimmed_and_capped() {
        assert_eq!(typed_reason("   "), None);
        assert_eq!(typed_reason("  rude  ").as_deref(), Some("rude"));
        let long = "é".repeat(MAX_REASON_CHARS + 10);
        assert_eq!(
            typed_reason(&long).map(|r| r.chars().count()),
            Some(MAX_REASON_CHARS)
        );
    }

    #[test]
    fn deciders_are_named() {
        let authors = [author(4, "ana")];
        assert_eq!(
            decider_name(ModerationDecider::Author(AuthorId(4)), &authors),
            "ana display (@ana)"
        );
        assert_eq!(
            decider_name(ModerationDecider::Author(AuthorId(5)), &authors),
            "author 5"
        );
        assert_eq!(
            decider_name(ModerationDecider::Rules, &authors),
            "the moderation rules"
        );
    }

    #[test]
    fn actions_parse_from_their_path_names_only() {
        assert_eq!(Action::parse("approve"), Some(Action::Approve));
        assert_eq!(Action::parse("block-domain"), Some(Action::BlockDomain));
        assert_eq!(Action::parse("delete"), None);
        assert_eq!(notice("nonsense"), None);
        assert!(notice(Action::Spam.done()).is_some());
    }
}
