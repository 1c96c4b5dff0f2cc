//! Followers: who follows the blog and each author, with Approve and Deny for follows
//! waiting for approval and Remove for accepted ones.
//!
//! Every author sees the blog's followers and their own; admins see everyone's. Only
//! the followed author (or an admin, for the blog and for every author) may act.
//! Approving records an Accept, denying and removing record a Reject, each in the same
//! transaction as the change (the delivery worker sends them).

use crate::admin::session::{AdminForm, AdminSession};
use crate::admin::{Chrome, format_date, render};
use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use gloss_federation::outbox::{
    ReceivedFollow, accept_follow, follow_response_activity, reject_follow,
};
use gloss_federation::urls::Urls;
use gloss_storage::{Author, FollowState, Follower, LocalActor, Page, RemoteActorId};
use serde::Deserialize;

/// Followers per page of one list.
const FOLLOWERS_PER_PAGE: i64 = 100;

/// One of our actors, as a tab of the page.
struct ActorTab {
    /// `LocalActor::key()`: `blog` or `author:ID`.
    key: String,
    label: String,
    accepted: i64,
    pending: i64,
    current: bool,
}

/// One follower, as text (the template escapes it).
struct FollowerRow {
    remote_id: i64,
    name: String,
    handle: String,
    host: String,
    /// Profile page (http(s) only).
    profile_url: Option<String>,
    /// Avatar (https only: the page's CSP allows no other remote images).
    avatar_url: Option<String>,
    since: String,
}

#[derive(Template)]
#[template(path = "admin/followers.html")]
struct FollowersPage {
    chrome: Option<Chrome>,
    tabs: Vec<ActorTab>,
    /// Key of the actor shown.
    actor_key: String,
    actor_label: String,
    /// Whether the session may approve, deny and remove followers of this actor.
    can_manage: bool,
    accepted: Vec<FollowerRow>,
    pending: Vec<FollowerRow>,
    notice: Option<&'static str>,
    page: i64,
    has_next: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    actor: String,
    page: Option<i64>,
    #[serde(default)]
    done: String,
}

/// Whether the session may see the followers of `actor`.
fn may_view(session: &AdminSession, actor: LocalActor) -> bool {
    match actor {
        LocalActor::Blog => true,
        LocalActor::Author(id) => session.author.is_admin || id == session.author.id,
        LocalActor::Instance => false,
    }
}

/// Whether the session may approve, deny or remove followers of `actor`.
fn may_manage(session: &AdminSession, actor: LocalActor) -> bool {
    match actor {
        LocalActor::Blog => session.author.is_admin,
        LocalActor::Author(id) => session.author.is_admin || id == session.author.id,
        LocalActor::Instance => false,
    }
}

fn actor_label(actor: LocalActor, authors: &[Author]) -> String {
    match actor {
        LocalActor::Blog => "The blog".to_owned(),
        LocalActor::Instance => "The instance".to_owned(),
        LocalActor::Author(id) => authors
            .iter()
            .find(|author| author.id == id)
            .map(|author| format!("{} (@{})", author.display_name, author.username))
            .unwrap_or_else(|| format!("Author {id}")),
    }
}

fn follower_row(follower: &Follower) -> FollowerRow {
    let actor = &follower.actor;
    let is_web = |url: &String| url.starts_with("https://") || url.starts_with("http://");
    FollowerRow {
        remote_id: actor.id.0,
        name: actor
            .name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .or_else(|| actor.preferred_username.clone())
            .unwrap_or_else(|| actor.ap_id.clone()),
        handle: match &actor.preferred_username {
            Some(username) => format!("@{username}@{}", actor.host),
            None => actor.ap_id.clone(),
        },
        host: actor.host.clone(),
        profile_url: actor
            .url
            .clone()
            .filter(is_web)
            .or_else(|| Some(actor.ap_id.clone()).filter(is_web)),
        avatar_url: actor
            .icon_url
            .clone()
            .filter(|url| url.starts_with("https://")),
        since: format_date(follower.created_at),
    }
}

/// `GET /admin/followers?actor=blog|author:ID`: the followers of one of our actors.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let authors = state.store.list_authors().await?;
    let mut actors = vec![LocalActor::Blog];
    actors.extend(
        authors
            .iter()
            .map(|author| LocalActor::Author(author.id))
            .filter(|actor| may_view(&session, *actor)),
    );
    let current = LocalActor::from_key(&query.actor)
        .filter(|actor| actors.contains(actor))
        .unwrap_or(LocalActor::Blog);
    let mut tabs = Vec::with_capacity(actors.len());
    for actor in &actors {
        tabs.push(ActorTab {
            key: actor.key(),
            label: actor_label(*actor, &authors),
            accepted: state
                .store
                .count_followers(*actor, FollowState::Accepted)
                .await?,
            pending: state
                .store
                .count_followers(*actor, FollowState::Pending)
                .await?,
            current: *actor == current,
        });
    }
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let accepted = state
        .store
        .followers(
            current,
            FollowState::Accepted,
            Page::number(page, FOLLOWERS_PER_PAGE),
        )
        .await?;
    // Pending follows are few: the first page of them is shown on every page.
    let pending = state
        .store
        .followers(
            current,
            FollowState::Pending,
            Page::number(1, FOLLOWERS_PER_PAGE),
        )
        .await?;
    let notice = match query.done.as_str() {
        "approved" => Some("Approved. They are told so, and will receive new posts."),
        "denied" => Some("Denied. They are told so."),
        "removed" => Some("Removed. Their server is told so; they receive no more posts."),
        _ => None,
    };
    let page = FollowersPage {
        chrome: Some(
            Chrome::new(&session, "followers")
                .with_moderation_count(&state)
                .await?,
        ),
        actor_key: current.key(),
        actor_label: actor_label(current, &authors),
        can_manage: may_manage(&session, current),
        has_next: accepted.len() as i64 == FOLLOWERS_PER_PAGE,
        accepted: accepted.iter().map(follower_row).collect(),
        pending: pending.iter().map(follower_row).collect(),
        tabs,
        notice,
        page,
    };
    render(&page, StatusCode::OK)
}

/// The hidden fields of Approve, Deny and Remove.
#[derive(Debug, Deserialize)]
pub(crate) struct FollowerForm {
    /// `LocalActor::key()` of the followed actor.
    actor: String,
    /// The follower's `RemoteActorId`.
    remote: i64,
}

/// The follow named by the form, if the session may manage it and it is in `state`.
async fn managed_follow(
    state: &AppState,
    session: &AdminSession,
    form: &FollowerForm,
    expected: FollowState,
) -> Result<(LocalActor, Follower, String), AppError> {
    let actor = LocalActor::from_key(&form.actor)
        .filter(|actor| !matches!(actor, LocalActor::Instance))
        .ok_or_else(|| AppError::BadRequest("Unknown actor.".to_owned()))?;
    if !may_manage(session, actor) {
        return Err(AppError::Forbidden(
            "Only the followed author or an admin may manage these followers.".to_owned(),
        ));
    }
    let follower = state
        .store
        .follower(actor, RemoteActorId(form.remote))
        .await?
        .filter(|follower| follower.state == expected)
        .ok_or(AppError::NotFound)?;
    let urls = urls(state);
    let actor_id = match actor {
        LocalActor::Author(id) => {
            let author = state
                .store
                .author_by_id(id)
                .await?
                .ok_or(AppError::NotFound)?;
            urls.author_actor(&author.username)
        }
        LocalActor::Blog => urls.blog_actor(),
        LocalActor::Instance => return Err(AppError::NotFound),
    };
    Ok((actor, follower, actor_id))
}

/// Our URLs (ids of actors, posts and activities), from the federation context.
fn urls(state: &AppState) -> &Urls {
    state.federation.urls()
}

fn received_follow(follower: &Follower, followed: String) -> ReceivedFollow {
    ReceivedFollow {
        id: follower.follow_ap_id.clone(),
        follower: follower.actor.ap_id.clone(),
        followed,
    }
}

fn back_to_list(actor: LocalActor, done: &str) -> Response {
    Redirect::to(&format!(
        "/admin/followers?actor={}&done={done}",
        actor.key()
    ))
    .into_response()
}

fn outbox_error(err: gloss_federation::outbox::OutboxError) -> AppError {
    AppError::Internal(err.to_string())
}

/// `POST /admin/followers/approve`: accepts a pending follow and sends the Accept.
pub(crate) async fn approve(
    State(state): State<AppState>,
    AdminForm { session, form }: AdminForm<FollowerForm>,
) -> Result<Response, AppError> {
    let (actor, follower, actor_id) =
        managed_follow(&state, &session, &form, FollowState::Pending).await?;
    let follow = received_follow(&follower, actor_id);
    let accept = accept_follow(urls(&state), &follow, Utc::now()).map_err(outbox_error)?;
    let outgoing =
        follow_response_activity(actor, "Accept", &accept, &follow.id, &follower.actor.inbox);
    state
        .store
        .upsert_follower(
            actor,
            follower.actor.id,
            &follower.follow_ap_id,
            FollowState::Accepted,
            vec![outgoing],
        )
        .await?;
    state.federation.wake_delivery_worker();
    Ok(back_to_list(actor, "approved"))
}

/// Removes a follow (pending or accepted) and sends a Reject.
async fn reject(
    state: &AppState,
    session: &AdminSession,
    form: &FollowerForm,
    expected: FollowState,
) -> Result<LocalActor, AppError> {
    let (actor, follower, actor_id) = managed_follow(state, session, form, expected).await?;
    let follow = received_follow(&follower, actor_id);
    let reject = reject_follow(urls(state), &follow, Utc::now()).map_err(outbox_error)?;
    let outgoing =
        follow_response_activity(actor, "Reject", &reject, &follow.id, &follower.actor.inbox);
    state
        .store
        .remove_follower(actor, follower.actor.id, vec![outgoing])
        .await?;
    state.federation.wake_delivery_worker();
    Ok(actor)
}

/// `POST /admin/followers/deny`: refuses a pending follow and sends a Reject.
pub(crate) async fn deny(
    State(state): State<AppState>,
    AdminForm { session, form }: AdminForm<FollowerForm>,
) -> Result<Response, AppError> {
    let actor = reject(&state, &session, &form, FollowState::Pending).await?;
    Ok(back_to_list(actor, "denied"))
}

/// `POST /admin/followers/remove`: removes an accepted follower and sends a Reject
/// (Mastodon then drops the follow on its side too).
pub(crate) async fn remove(
    State(state): State<AppState>,
    AdminForm { session, form }: AdminForm<FollowerForm>,
) -> Result<Response, AppError> {
    let actor = reject(&state, &session, &form, FollowState::Accepted).await?;
    Ok(back_to_list(actor, "removed"))
}
