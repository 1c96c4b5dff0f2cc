//! The inboxes: `POST /inbox` (shared), `/blog/inbox`, `/authors/{username}/inbox` and
//! `/instance/inbox`. All four behave the same; what an activity is about (which of our
//! actors is followed...) comes from the activity itself.
//!
//! ```text
//!  body ≤ 1 MB? ─no─► 413
//!     │
//!  parse_request (syntax, host, date, digest: no key needed) ─err─► 401 reason   (S1-S6, S14)
//!     │
//!  keyId's domain blocked? ─yes─► 403, before any fetch                           (M4)
//!     │
//!  key by keyId: store, else fetch the actor (signed GET, negative cache) ─gone─► 202
//!     │                                                       └─other─► 401
//!  verify ─fail─► refetch the actor once (≤ 1 per 5 min) and verify again ─fail─► 401 (S11)
//!     │
//!  JSON → activity ─invalid─► 400                                                  (C6)
//!  actor = key owner? ─no─► 401 (S8, S9);  id host = actor host? ─no─► 400          (S10)
//!     │
//!  dispatch (Follow, Undo, Update/Delete of the actor here;
//!  Create/Update/Delete of comments, Like, Announce, Flag in `crate::comments`;
//!  anything else ignored) ─storage error─► 503 (the sender retries)
//!     │
//!  receipt: the id (dedupe, S7) and the host's contact ─► 202
//!  (in the effect's own transaction for Like and Announce, else a transaction of its own)
//! ```
//!
//! Every handler is idempotent (a Follow already recorded under the same id sends no
//! second Accept; removing a removed follower does nothing), and the activity id is
//! recorded only with or after the effect's commit: recording it first would turn a
//! storage failure into a lost activity, since the sender's retry would then be
//! dropped as a duplicate. The receipt also tells the store that the sender's host
//! contacted us (it is reachable again, its deferred deliveries become due), which
//! writes nothing for a healthy host: a Like costs one commit.
//!
//! Embedded objects are never trusted: an Update of an actor makes us refetch the actor
//! from its origin (S13, P13), and a Delete of an actor is taken only from that actor
//! (and takes its comments with it). Comments follow the same rule (`crate::comments`).

use crate::comments::{CommentIntake, IntakeError};
use crate::context::Federation;
use crate::outbox::{ReceivedFollow, accept_follow, follow_response_activity};
use crate::protocol::activities::{ActivityKind, AnyActivity, ObjectRef, parse_activity};
use crate::remote_actors::{RemoteActorError, RemoteActors};
use crate::signatures::{
    DEFAULT_MAX_SKEW, SignatureError, SignedRequest, VerifyingKey, parse_request,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use futures_util::StreamExt;
use gloss_storage::{
    FollowState, LocalActor, ReactionKind, ReceivedActivity, RemoteActor, delivery_host,
};
use std::sync::Arc;
use std::time::SystemTime;
use url::Url;

/// Largest inbox body accepted; larger ones get 413.
pub const MAX_INBOX_BODY: usize = 1024 * 1024;

/// What the inbox routes share: the remote actor cache (with its negative cache and
/// refetch limits) and the comment intake (instance key, report limits). One per router,
/// hence one per Gloss instance.
#[derive(Default)]
struct InboxState {
    remote_actors: RemoteActors,
    comments: CommentIntake,
}

/// The inbox routes. Merge them into the application router; its state must give a
/// [`Federation`].
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Federation: FromRef<S>,
{
    let inbox = Arc::new(InboxState::default());
    let shared = inbox.clone();
    let blog = inbox.clone();
    let instance = inbox.clone();
    let author = inbox;
    Router::new()
        .route(
            "/inbox",
            post(
                move |State(federation): State<Federation>, request: Request| async move {
                    receive(&federation, &shared, request).await
                },
            ),
        )
        .route(
            "/blog/inbox",
            post(
                move |State(federation): State<Federation>, request: Request| async move {
                    receive(&federation, &blog, request).await
                },
            ),
        )
        .route(
            "/instance/inbox",
            post(
                move |State(federation): State<Federation>, request: Request| async move {
                    receive(&federation, &instance, request).await
                },
            ),
        )
        .route(
            "/authors/{username}/inbox",
            post(
                move |State(federation): State<Federation>,
                      Path(username): Path<String>,
                      request: Request| async move {
                    match federation.store().author_by_username(&username).await {
                        Ok(Some(_)) => receive(&federation, &author, request).await,
                        Ok(None) => reply(StatusCode::NOT_FOUND, "No such actor"),
                        Err(err) => storage_failure(&err),
                    }
                },
            ),
        )
}

/// A short plain-text answer.
fn reply(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

/// 503: our storage failed; the sender will retry.
fn storage_failure(err: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %err, "inbox: storage failed");
    let mut response = reply(StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    response
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    Broken,
}

/// Reads the body, stopping as soon as it passes `limit` (a lying or absent
/// Content-Length changes nothing).
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if chunk.len() > limit.saturating_sub(out.len()) {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The whole inbox pipeline for one request.
async fn receive(federation: &Federation, inbox: &InboxState, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_INBOX_BODY as u64)
    {
        return reply(StatusCode::PAYLOAD_TOO_LARGE, "Body larger than 1 MB");
    }
    let body = match read_body(body, MAX_INBOX_BODY).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "Body larger than 1 MB");
        }
        Err(BodyError::Broken) => return reply(StatusCode::BAD_REQUEST, "Unreadable body"),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let sender = match authenticate(
        federation,
        inbox,
        &parts.method,
        &path_and_query,
        &parts.headers,
        &body,
    )
    .await
    {
        Ok(sender) => sender,
        Err(response) => return response,
    };
    process(federation, inbox, &sender, &body)
        .await
        .unwrap_or_else(|response| response)
}

/// Verifies the request's signature and returns the actor that signed it.
async fn authenticate(
    federation: &Federation,
    inbox: &InboxState,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<RemoteActor, Response> {
    let origin = Url::parse(federation.urls().base())
        .map_err(|err| storage_failure(&format!("our public URL is invalid: {err}")))?;
    let signed = parse_request(
        method,
        path_and_query,
        headers,
        body,
        &origin,
        SystemTime::now(),
        DEFAULT_MAX_SKEW,
    )
    .map_err(|err| unauthorized(&err))?;
    // M4: a blocked domain costs us no key fetch (the key id names the signer's server).
    if let Some(host) = delivery_host(&signed.key_id) {
        match federation.store().is_blocked(None, &host).await {
            Ok(true) => {
                tracing::info!(host = %host, "inbox: request from a blocked domain refused");
                return Err(reply(StatusCode::FORBIDDEN, "Blocked"));
            }
            Ok(false) => {}
            Err(err) => return Err(storage_failure(&err)),
        }
    }
    let actor = match inbox
        .remote_actors
        .by_key_id(federation, &signed.key_id)
        .await
    {
        Ok(actor) => actor,
        Err(RemoteActorError::Gone) => {
            // S12: the sender is deleted (its key URL answers 410). Whatever it says now
            // (usually the Delete of itself) needs nothing more from us.
            tracing::info!(key_id = %signed.key_id, "inbox: activity from a deleted actor ignored");
            return Err(reply(StatusCode::ACCEPTED, "Actor is gone"));
        }
        Err(err) if err.is_transient_on_our_side() => return Err(storage_failure(&err)),
        Err(err) => {
            tracing::info!(key_id = %signed.key_id, error = %err, "inbox: key not available");
            return Err(reply(
                StatusCode::UNAUTHORIZED,
                "Could not fetch the signing key",
            ));
        }
    };
    match verify(&signed, &actor) {
        Ok(()) => Ok(actor),
        Err(err) if err.may_be_stale_key() => {
            // S11: maybe the actor rotated its key; refetch it once (rate-limited).
            let id = Url::parse(&actor.ap_id).map_err(|_| unauthorized(&err))?;
            match inbox.remote_actors.refetch(federation, &id).await {
                Ok(fresh) if fresh.public_key_id == signed.key_id => {
                    verify(&signed, &fresh).map_err(|err| unauthorized(&err))?;
                    Ok(fresh)
                }
                Ok(_) => Err(unauthorized(&err)),
                Err(refetch) if refetch.is_transient_on_our_side() => {
                    Err(storage_failure(&refetch))
                }
                Err(refetch) => {
                    tracing::debug!(actor = %id, error = %refetch, "inbox: key refetch not done");
                    Err(unauthorized(&err))
                }
            }
        }
        Err(err) => Err(unauthorized(&err)),
    }
}

fn verify(signed: &SignedRequest, actor: &RemoteActor) -> Result<(), SignatureError> {
    let key = VerifyingKey::from_pem(&actor.public_key_pem)?;
    signed.verify(&key)
}

fn unauthorized(err: &SignatureError) -> Response {
    tracing::debug!(reason = %err.reason(), "inbox: signature refused");
    reply(StatusCode::UNAUTHORIZED, &err.reason())
}

/// Same host and port (ids of one server).
fn same_host(a: &Url, b: &Url) -> bool {
    a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Parses and checks the activity of a verified request, then handles it.
async fn process(
    federation: &Federation,
    inbox: &InboxState,
    sender: &RemoteActor,
    body: &[u8],
) -> Result<Response, Response> {
    let activity = parse_activity(body).map_err(|err| {
        // The position only: serde_json's messages may quote the input.
        let message = if err.is_syntax() || err.is_eof() {
            format!(
                "Invalid JSON (line {}, column {})",
                err.line(),
                err.column()
            )
        } else {
            format!("Not an activity: {}", first_line(&err.to_string()))
        };
        reply(StatusCode::BAD_REQUEST, &message)
    })?;
    let sender_id = Url::parse(&sender.ap_id)
        .map_err(|_| reply(StatusCode::UNAUTHORIZED, "Unusable sender"))?;
    // S8/S9: the actor must be the one who signed (its key is the actor's own key).
    if activity.actor_id() != Some(&sender_id) {
        tracing::warn!(actor = ?activity.actor_id().map(Url::as_str), signer = %sender.ap_id,
            "inbox: activity actor is not the signer");
        return Err(reply(
            StatusCode::UNAUTHORIZED,
            "The activity's actor is not the signer",
        ));
    }
    // S10: an actor's activities live on its own server.
    if !same_host(&activity.id, &sender_id) {
        return Err(reply(
            StatusCode::BAD_REQUEST,
            "The activity id is not on the actor's host",
        ));
    }
    let received = ReceivedActivity {
        ap_id: activity.id.to_string(),
        sender_host: sender.host.clone(),
        received_at: Utc::now(),
    };
    let handled = dispatch(
        federation, inbox, sender, &sender_id, &activity, body, &received,
    )
    .await
    .map_err(|err| storage_failure(&err))?;
    tracing::info!(activity = %activity.id, kind = %activity.kind, actor = %sender.ap_id,
        outcome = handled.outcome, "inbox: activity received");
    let new = match handled.receipt {
        Some(new) => new,
        None => federation
            .store()
            .receive_activity(received)
            .await
            .map_err(|err| storage_failure(&err))?,
    };
    Ok(if new {
        reply(StatusCode::ACCEPTED, "Accepted")
    } else {
        reply(StatusCode::ACCEPTED, "Already received")
    })
}

/// What a handler did: its outcome (for the log) and, when it recorded the activity's
/// receipt in its own transaction, whether the activity id was new.
struct Handled {
    outcome: &'static str,
    receipt: Option<bool>,
}

impl From<&'static str> for Handled {
    fn from(outcome: &'static str) -> Handled {
        Handled {
            outcome,
            receipt: None,
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// An error of ours that should make the sender retry.
#[derive(Debug, thiserror::Error)]
enum DispatchError {
    #[error(transparent)]
    Storage(#[from] gloss_storage::Error),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("{0}")]
    Other(String),
}

/// Handles a verified activity; returns what was done (for the log). Handlers that
/// record `received` with their effect say so in [`Handled::receipt`].
async fn dispatch(
    federation: &Federation,
    inbox: &InboxState,
    sender: &RemoteActor,
    sender_id: &Url,
    activity: &AnyActivity,
    body: &[u8],
    received: &ReceivedActivity,
) -> Result<Handled, DispatchError> {
    let comments = &inbox.comments;
    let actors = &inbox.remote_actors;
    let outcome = match &activity.kind {
        ActivityKind::Follow => follow(federation, sender, activity).await?,
        ActivityKind::Undo => undo(federation, inbox, sender, sender_id, activity).await?,
        ActivityKind::Update => update(federation, inbox, sender, sender_id, activity).await?,
        ActivityKind::Delete => delete(federation, inbox, sender, sender_id, activity).await?,
        ActivityKind::Accept | ActivityKind::Reject => "ignored: Gloss follows no one",
        ActivityKind::Create => {
            comments
                .create(federation, actors, sender, sender_id, activity)
                .await?
        }
        ActivityKind::Like | ActivityKind::Announce => {
            let kind = if activity.kind == ActivityKind::Like {
                ReactionKind::Like
            } else {
                ReactionKind::Announce
            };
            let (outcome, receipt) = comments
                .react(federation, actors, sender, activity, kind, received)
                .await?;
            return Ok(Handled { outcome, receipt });
        }
        ActivityKind::Flag => {
            // The report's text is not part of the parsed shape: read it from the body
            // (valid JSON, parsed once already).
            let raw: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            comments
                .flag(federation, actors, sender, activity, &raw)
                .await?
        }
        ActivityKind::Other(_) => "ignored: unknown activity type",
    };
    Ok(outcome.into())
}

/// Which of our actors `id` names (blog or author; the instance follows no one and is
/// followed by no one), with its canonical id.
async fn local_actor_named(
    federation: &Federation,
    id: &Url,
) -> Result<Option<(LocalActor, String)>, DispatchError> {
    let urls = federation.urls();
    let id = id.as_str().trim_end_matches('/');
    if id == urls.blog_actor() {
        return Ok(Some((LocalActor::Blog, urls.blog_actor())));
    }
    let Some(username) = id
        .strip_prefix(&urls.author_actor(""))
        .filter(|name| !name.is_empty() && !name.contains('/'))
    else {
        return Ok(None);
    };
    Ok(federation
        .store()
        .author_by_username(username)
        .await?
        .map(|author| {
            (
                LocalActor::Author(author.id),
                urls.author_actor(&author.username),
            )
        }))
}

/// Follow of the blog or an author: accepted at once (with an Accept), or held for
/// approval when the blog asks for it.
async fn follow(
    federation: &Federation,
    sender: &RemoteActor,
    activity: &AnyActivity,
) -> Result<&'static str, DispatchError> {
    let Some(object) = activity.object_id() else {
        return Ok("ignored: Follow without an object");
    };
    let Some((local, followed)) = local_actor_named(federation, object).await? else {
        tracing::info!(object = %object, "inbox: Follow of an unknown actor ignored");
        return Ok("ignored: Follow of no actor of ours");
    };
    let store = federation.store();
    let existing = store.follower(local, sender.id).await?;
    if existing
        .as_ref()
        .is_some_and(|follower| follower.follow_ap_id == activity.id.as_str())
    {
        return Ok("duplicate Follow: nothing to do");
    }
    // Someone already accepted stays accepted (a new Follow id: their server lost our
    // Accept, or they follow again); otherwise the blog's setting decides.
    let already_accepted = existing
        .as_ref()
        .is_some_and(|follower| follower.state == FollowState::Accepted);
    let manual = store.blog_settings().await?.manually_approves_followers;
    if manual && !already_accepted {
        store
            .upsert_follower(
                local,
                sender.id,
                activity.id.as_str(),
                FollowState::Pending,
                Vec::new(),
            )
            .await?;
        return Ok("Follow held for approval");
    }
    let received = ReceivedFollow {
        id: activity.id.to_string(),
        follower: sender.ap_id.clone(),
        followed,
    };
    let accept = accept_follow(federation.urls(), &received, Utc::now())
        .map_err(|err| DispatchError::Other(err.to_string()))?;
    let outgoing = follow_response_activity(local, "Accept", &accept, &received.id, &sender.inbox);
    store
        .upsert_follower(
            local,
            sender.id,
            activity.id.as_str(),
            FollowState::Accepted,
            vec![outgoing],
        )
        .await?;
    federation.wake_delivery_worker();
    Ok("Follow accepted")
}

/// Undo(Follow) by the follower removes it; Undo(Like) and Undo(Announce) take the
/// reaction off the counts. What is undone must be the sender's own: an embedded
/// activity by someone else, or an id the sender never sent, is dropped (P7).
async fn undo(
    federation: &Federation,
    inbox: &InboxState,
    sender: &RemoteActor,
    sender_id: &Url,
    activity: &AnyActivity,
) -> Result<&'static str, DispatchError> {
    let Some(object) = &activity.object else {
        return Ok("ignored: Undo without an object");
    };
    let store = federation.store();
    if let Some(embedded) = object.object() {
        let by_sender = match embedded.actor.as_ref().map(ObjectRef::id) {
            Some(Some(actor)) => Some(actor == sender_id),
            // Embedded without its actor: only its id can tell whose it is.
            None => None,
            Some(None) => Some(false),
        };
        match embedded.kind.as_deref() {
            Some("Follow") => {}
            Some("Like" | "Announce") => {
                if by_sender == Some(false) {
                    tracing::warn!(actor = %sender.ap_id, "inbox: Undo of someone else's reaction dropped");
                    return Ok("dropped: Undo of a reaction by another actor");
                }
                let Some(id) = object.id() else {
                    return Ok("ignored: Undo of a reaction without its id");
                };
                return Ok(inbox
                    .comments
                    .undo_reaction(federation, sender, sender_id, id)
                    .await?);
            }
            _ => return Ok("ignored: Undo of something else than a Follow, Like or Announce"),
        }
        match by_sender {
            Some(true) => {}
            None => return undo_follow_named(federation, sender, object.id()).await,
            Some(false) => {
                tracing::warn!(actor = %sender.ap_id, "inbox: Undo of someone else's Follow dropped");
                return Ok("dropped: Undo of a Follow by another actor");
            }
        }
        let Some(followed) = embedded.object.as_ref().and_then(ObjectRef::id) else {
            return undo_follow_named(federation, sender, object.id()).await;
        };
        let Some((local, _)) = local_actor_named(federation, followed).await? else {
            return Ok("ignored: Undo of a Follow of no actor of ours");
        };
        let removed = store.remove_follower(local, sender.id, Vec::new()).await?;
        return Ok(if removed {
            "follower removed"
        } else {
            "Undo of an unknown follow: nothing to do"
        });
    }
    undo_by_id(federation, inbox, sender, sender_id, object.id()).await
}

/// Undo of an activity named by its id only (GoToSocial sends bare ids): the sender's
/// follow recorded under that id, else the sender's reaction with that id.
async fn undo_by_id(
    federation: &Federation,
    inbox: &InboxState,
    sender: &RemoteActor,
    sender_id: &Url,
    id: Option<&Url>,
) -> Result<&'static str, DispatchError> {
    let Some(id) = id else {
        return Ok("ignored: Undo without an object id");
    };
    if undo_follow_by_id(federation, sender, id).await? {
        return Ok("follower removed");
    }
    Ok(inbox
        .comments
        .undo_reaction(federation, sender, sender_id, id)
        .await?)
}

/// Undo of an embedded Follow that only its id identifies.
async fn undo_follow_named(
    federation: &Federation,
    sender: &RemoteActor,
    follow_id: Option<&Url>,
) -> Result<&'static str, DispatchError> {
    let Some(follow_id) = follow_id else {
        return Ok("ignored: Undo without an object id");
    };
    Ok(if undo_follow_by_id(federation, sender, follow_id).await? {
        "follower removed"
    } else {
        "dropped: Undo of no Follow by this actor"
    })
}

/// Undo of a Follow named by its id: removes the sender's follow recorded under that id,
/// if any, and says whether there was one.
async fn undo_follow_by_id(
    federation: &Federation,
    sender: &RemoteActor,
    follow_id: &Url,
) -> Result<bool, DispatchError> {
    let store = federation.store();
    let mut actors = vec![LocalActor::Blog];
    actors.extend(
        store
            .list_authors()
            .await?
            .into_iter()
            .map(|author| LocalActor::Author(author.id)),
    );
    for local in actors {
        if let Some(follower) = store.follower(local, sender.id).await?
            && follower.follow_ap_id == follow_id.as_str()
        {
            store.remove_follower(local, sender.id, Vec::new()).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Update of the sender itself: refetch it from its origin (the embedded copy is never
/// trusted: S13), and show its new name and avatar on its comments. Updates of objects
/// are comment edits (`crate::comments`).
async fn update(
    federation: &Federation,
    inbox: &InboxState,
    sender: &RemoteActor,
    sender_id: &Url,
    activity: &AnyActivity,
) -> Result<&'static str, DispatchError> {
    let is_actor_kind = matches!(
        activity.object_kind(),
        Some("Person" | "Service" | "Application" | "Group" | "Organization")
    );
    if activity.object_id() != Some(sender_id) {
        if is_actor_kind {
            return Ok("dropped: Update of another actor");
        }
        return Ok(inbox
            .comments
            .update(
                federation,
                &inbox.remote_actors,
                sender,
                sender_id,
                activity,
            )
            .await?);
    }
    match inbox.remote_actors.refetch(federation, sender_id).await {
        Ok(actor) => {
            inbox.comments.refresh_author(federation, &actor).await?;
            Ok("actor refreshed")
        }
        Err(RemoteActorError::RateLimited) => Ok("actor refreshed recently"),
        Err(RemoteActorError::Storage(err)) => Err(err.into()),
        Err(err) => {
            tracing::info!(actor = %sender_id, error = %err, "inbox: refreshing an actor failed");
            Ok("actor refresh failed")
        }
    }
}

/// Delete of the sender itself: forget it, without fetching (its URL may answer 410),
/// and delete its comments. Deletes of objects are comment deletions
/// (`crate::comments`).
async fn delete(
    federation: &Federation,
    inbox: &InboxState,
    sender: &RemoteActor,
    sender_id: &Url,
    activity: &AnyActivity,
) -> Result<&'static str, DispatchError> {
    if activity.object_id() != Some(sender_id) {
        return Ok(inbox
            .comments
            .delete(federation, sender, sender_id, activity)
            .await?);
    }
    federation
        .store()
        .mark_remote_actor_deleted(&sender.ap_id, Utc::now())
        .await?;
    let deleted = inbox.comments.forget_actor(federation, sender).await?;
    tracing::info!(actor = %sender.ap_id, comments = deleted, "inbox: a deleted actor's comments deleted");
    Ok("actor deleted")
}
