//! The read side of federation over HTTP: what other servers fetch from us.
//!
//! | route | answers |
//! |---|---|
//! | `/.well-known/webfinger`, `/.well-known/host-meta[.json]`, `/.well-known/nodeinfo`, `/nodeinfo/2.0`, `/nodeinfo/2.1` | discovery (`crate::discovery`) |
//! | `GET /blog` | the blog actor (browsers are sent to the home page, 303) |
//! | `GET /instance` | the instance actor |
//! | `GET /blog/{outbox,followers,following,featured}`, `GET /authors/{username}/…` | the actors' collections |
//! | `GET /instance/outbox` | empty: the instance actor publishes nothing |
//! | `GET /activities/{id}` | one of our public activities |
//! | `GET /posts/{slug}/replies`, `GET /posts/{slug}/context` | a post's public replies and its whole public thread |
//!
//! `/posts/{slug}` and `/authors/{username}` themselves belong to the web layer, which
//! negotiates HTML or JSON with [`wants_activity_json`] and answers JSON with
//! [`activity_json_response`]. Inboxes (POST) live with the inbox code.
//!
//! Collections:
//! - an outbox lists the actor's `Create` (authors) or `Announce` (blog) activities,
//!   newest first, [`OUTBOX_PAGE_SIZE`] per page, the first page embedded; each item
//!   carries the post's *current* Note, and items about posts deleted since are left
//!   out, so that an outbox never resurrects deleted or outdated text (`totalItems`
//!   still counts them: it is the stored count, and exactness is not worth a query per
//!   activity);
//! - followers show only `totalItems`: who follows whom is the followers' business
//!   (Mastodon hides the list the same way when asked to);
//! - following and featured are empty (our actors follow no one and pin nothing);
//! - a post's `replies` (its top-level comments) and `context` (FEP-7888: the post, then
//!   every comment of its thread) list ids of public and unlisted, approved, live
//!   comments only, oldest first; followers-only and direct replies, held ones and those
//!   of blocked authors are in no collection and no count (checklist P8). Up to
//!   [`THREAD_PAGE_SIZE`] ids are listed on the collection itself; longer ones are paged
//!   (`?page=N`), the first page embedded.

use crate::context::{Federation, FederationError};
use crate::discovery;
use crate::notes::post_to_note;
use crate::protocol::collection::{
    CollectionType, OrderedCollection, OrderedCollectionPage, PageRef,
};
use crate::protocol::tombstone::Tombstone;
use crate::protocol::{
    ACTIVITY_JSON_CONTENT_TYPE, default_context, document, is_public_audience, without_context,
};
use crate::urls::Urls;
use crate::{actors, notes};
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gloss_storage::{
    Author, BlogSettings, FollowState, LocalActor, Page, Post, PostStatus, ThreadNode,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Activities per outbox page.
pub const OUTBOX_PAGE_SIZE: i64 = 20;

/// Ids per page of a post's `replies` and `context` collections.
pub const THREAD_PAGE_SIZE: i64 = 100;

/// Highest outbox page number served (bounds the database offset).
const MAX_OUTBOX_PAGE: i64 = 10_000;

/// The kinds of activity an outbox lists: the public ones that publish a post.
const OUTBOX_KINDS: [&str; 2] = ["Create", "Announce"];

/// The federation read routes, for any application state that can hand out the
/// [`Federation`] context.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Federation: FromRef<S>,
{
    Router::new()
        .route("/.well-known/webfinger", get(discovery::webfinger))
        .route("/.well-known/host-meta", get(discovery::host_meta))
        .route(
            "/.well-known/host-meta.json",
            get(discovery::host_meta_json_handler),
        )
        .route("/.well-known/nodeinfo", get(discovery::nodeinfo_index))
        .route("/nodeinfo/2.0", get(discovery::nodeinfo_2_0))
        .route("/nodeinfo/2.1", get(discovery::nodeinfo_2_1))
        .route("/blog", get(blog_actor))
        .route("/blog/outbox", get(blog_outbox))
        .route("/blog/followers", get(blog_followers))
        .route("/blog/following", get(blog_following))
        .route("/blog/featured", get(blog_featured))
        .route("/instance", get(instance_actor))
        .route("/instance/outbox", get(instance_outbox))
        .route("/authors/{username}/outbox", get(author_outbox))
        .route("/authors/{username}/followers", get(author_followers))
        .route("/authors/{username}/following", get(author_following))
        .route("/authors/{username}/featured", get(author_featured))
        .route("/activities/{id}", get(activity))
        .route("/posts/{slug}/replies", get(post_replies))
        .route("/posts/{slug}/context", get(post_context))
        .route("/notes/{id}", get(author_reply_note))
        .route("/notes/{id}/replies", get(author_reply_replies))
        .route("/comments/{id}", get(comment_note))
        .route("/comments/{id}/replies", get(comment_replies))
}

// ---- content negotiation ----

/// Whether the request asks for ActivityStreams JSON rather than HTML: it accepts
/// `application/activity+json`, or `application/ld+json` with the ActivityStreams
/// profile (or no profile), with a quality at least that of `text/html`. Mastodon
/// sends both AP types and `text/html;q=0.1` in one header: JSON. Browsers send
/// `text/html,…,*/*;q=0.8`: HTML. Wildcards never count as asking for JSON.
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    let mut activity = 0.0_f32;
    let mut html = 0.0_f32;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { continue };
        for range in split_outside_quotes(text, ',') {
            let mut parts = split_outside_quotes(range, ';').into_iter();
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let mut quality = 1.0_f32;
            let mut profile: Option<String> = None;
            for parameter in parts {
                let Some((name, value)) = parameter.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "q" => quality = value.parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0),
                    "profile" => profile = Some(value.to_owned()),
                    _ => {}
                }
            }
            match media.as_str() {
                "application/activity+json" => activity = activity.max(quality),
                "application/ld+json"
                    if profile.as_deref().is_none_or(|profile| {
                        profile
                            .split_whitespace()
                            .any(|p| p == crate::protocol::ACTIVITY_STREAMS_CONTEXT)
                    }) =>
                {
                    activity = activity.max(quality);
                }
                "text/html" | "application/xhtml+xml" => html = html.max(quality),
                _ => {}
            }
        }
    }
    activity > 0.0 && activity >= html
}

/// Splits on `separator` except inside double quotes (a quoted `profile` may hold
/// anything).
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (index, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(text.get(start..index).unwrap_or_default());
            start = index + c.len_utf8();
        }
    }
    parts.push(text.get(start..).unwrap_or_default());
    parts
}

/// `200` with an ActivityStreams document: `application/activity+json; charset=utf-8`
/// and `Vary: Accept` (the same URL serves HTML to browsers).
pub fn activity_json_response(value: &impl Serialize) -> Response {
    activity_json_response_with_status(StatusCode::OK, value)
}

/// [`activity_json_response`] with another status (410 with a Tombstone).
pub fn activity_json_response_with_status(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, ACTIVITY_JSON_CONTENT_TYPE),
                (header::VARY, "Accept"),
            ],
            body,
        )
            .into_response(),
        Err(err) => RouteError::Internal(err.to_string()).into_response(),
    }
}

/// `303 See Other` to `location`, the HTML face of an object served as JSON at the same
/// URL, with `Vary: Accept`.
fn html_face(location: String) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

// ---- errors ----

/// How a federation read route fails. The federation crate cannot use the web layer's
/// `AppError`, and its clients are machines: the bodies are small JSON documents, 5xx
/// ones opaque with an error id (details go to the log).
#[derive(Debug)]
pub(crate) enum RouteError {
    NotFound,
    /// Deleted on purpose: 410 with this Tombstone.
    Gone(Value),
    BadRequest(String),
    /// A transient storage failure: the client may retry.
    Unavailable(String),
    Internal(String),
}

impl From<gloss_storage::Error> for RouteError {
    fn from(err: gloss_storage::Error) -> Self {
        if err.is_transient() {
            RouteError::Unavailable(err.to_string())
        } else {
            RouteError::Internal(err.to_string())
        }
    }
}

impl From<FederationError> for RouteError {
    fn from(err: FederationError) -> Self {
        match err {
            FederationError::Storage(err) => err.into(),
            other => RouteError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for RouteError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            RouteError::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned()),
            RouteError::Gone(tombstone) => {
                return activity_json_response_with_status(StatusCode::GONE, &tombstone);
            }
            RouteError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            RouteError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "federation request failed, transiently");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unavailable".to_owned(),
                )
            }
            RouteError::Internal(detail) => {
                let error_id = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(error_id = %error_id, error = %detail, "federation request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal error, id {error_id}"),
                )
            }
        };
        let body = serde_json::json!({ "error": message }).to_string();
        (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// The path parameter, or 404 when it cannot be decoded (it names nothing here).
fn path_param(param: Result<Path<String>, PathRejection>) -> Result<String, RouteError> {
    param
        .map(|Path(value)| value)
        .map_err(|_| RouteError::NotFound)
}

// ---- actors ----

/// The blog actor document, with its key (generated on first use). The blog started
/// with its first author (posts need an author, so no post is older).
pub async fn blog_actor_json(federation: &Federation) -> Result<Value, FederationError> {
    let key = federation.actor_key(LocalActor::Blog).await?;
    let settings = federation.store().blog_settings().await?;
    let published = federation
        .store()
        .list_authors()
        .await?
        .iter()
        .map(|author| author.created_at)
        .min();
    Ok(actors::blog_actor(
        &settings,
        &federation.settings().blog_handle,
        &key.public_key_pem,
        published,
        federation.urls(),
    ))
}

/// An author's actor document, with its key (generated on first use). The web layer
/// serves it at `/authors/{username}` to ActivityPub clients.
pub async fn author_actor_json(
    federation: &Federation,
    author: &Author,
) -> Result<Value, FederationError> {
    let key = federation.actor_key(LocalActor::Author(author.id)).await?;
    let settings = federation.store().blog_settings().await?;
    Ok(actors::author_actor(
        author,
        &settings,
        &key.public_key_pem,
        federation.urls(),
    ))
}

/// `GET /blog`.
async fn blog_actor(
    State(federation): State<Federation>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    if !wants_activity_json(&headers) {
        // The blog's HTML face is the home page.
        return Ok(html_face(federation.urls().home()));
    }
    Ok(activity_json_response(&blog_actor_json(&federation).await?))
}

/// `GET /instance`: JSON whatever the `Accept` (it has no page).
async fn instance_actor(State(federation): State<Federation>) -> Result<Response, RouteError> {
    let key = federation.actor_key(LocalActor::Instance).await?;
    Ok(activity_json_response(&actors::instance_actor(
        &key.public_key_pem,
        federation.urls(),
    )))
}

/// The author named in the path, with their actor and id.
async fn author_of(
    federation: &Federation,
    username: Result<Path<String>, PathRejection>,
) -> Result<(LocalActor, String), RouteError> {
    let username = path_param(username)?;
    if username.len() > 64 {
        return Err(RouteError::NotFound);
    }
    let author = federation
        .store()
        .author_by_username(&username)
        .await?
        .ok_or(RouteError::NotFound)?;
    Ok((
        LocalActor::Author(author.id),
        federation.urls().author_actor(&author.username),
    ))
}

// ---- collections ----

async fn blog_outbox(
    State(federation): State<Federation>,
    RawQuery(query): RawQuery,
) -> Result<Response, RouteError> {
    let id = federation.urls().blog_actor();
    outbox(&federation, LocalActor::Blog, &id, query.as_deref()).await
}

async fn author_outbox(
    State(federation): State<Federation>,
    username: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, RouteError> {
    let (actor, id) = author_of(&federation, username).await?;
    outbox(&federation, actor, &id, query.as_deref()).await
}

async fn instance_outbox(State(federation): State<Federation>) -> Response {
    let id = Urls::outbox(&federation.urls().instance_actor());
    collection_response(&OrderedCollection::<Value>::with_items(id, Vec::new()))
}

async fn blog_followers(State(federation): State<Federation>) -> Result<Response, RouteError> {
    let id = federation.urls().blog_actor();
    followers(&federation, LocalActor::Blog, &id).await
}

async fn author_followers(
    State(federation): State<Federation>,
    username: Result<Path<String>, PathRejection>,
) -> Result<Response, RouteError> {
    let (actor, id) = author_of(&federation, username).await?;
    followers(&federation, actor, &id).await
}

async fn blog_following(State(federation): State<Federation>) -> Response {
    let id = Urls::following(&federation.urls().blog_actor());
    collection_response(&OrderedCollection::<Value>::with_items(id, Vec::new()))
}

async fn author_following(
    State(federation): State<Federation>,
    username: Result<Path<String>, PathRejection>,
) -> Result<Response, RouteError> {
    let (_, id) = author_of(&federation, username).await?;
    Ok(collection_response(
        &OrderedCollection::<Value>::with_items(Urls::following(&id), Vec::new()),
    ))
}

async fn blog_featured(State(federation): State<Federation>) -> Response {
    let id = Urls::featured(&federation.urls().blog_actor());
    collection_response(&OrderedCollection::<Value>::with_items(id, Vec::new()))
}

async fn author_featured(
    State(federation): State<Federation>,
    username: Result<Path<String>, PathRejection>,
) -> Result<Response, RouteError> {
    let (_, id) = author_of(&federation, username).await?;
    Ok(collection_response(
        &OrderedCollection::<Value>::with_items(Urls::featured(&id), Vec::new()),
    ))
}

fn collection_response<T: Serialize>(collection: &T) -> Response {
    activity_json_response(&document(default_context(), collection))
}

async fn followers(
    federation: &Federation,
    actor: LocalActor,
    actor_id: &str,
) -> Result<Response, RouteError> {
    let count = federation
        .store()
        .count_followers(actor, FollowState::Accepted)
        .await?;
    Ok(collection_response(&OrderedCollection::<Value>::counted(
        Urls::followers(actor_id),
        u64::try_from(count).unwrap_or_default(),
    )))
}

/// The `page` query parameter: `None` for the collection itself, `Some(n)` for page
/// `n` (1-based). Anything unreadable or out of range names no page: 404.
fn outbox_page(query: Option<&str>) -> Result<Option<i64>, RouteError> {
    let Some(query) = query else { return Ok(None) };
    let Some(value) = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "page")
        .map(|(_, value)| value.into_owned())
    else {
        return Ok(None);
    };
    match value.parse::<i64>() {
        Ok(page) if (1..=MAX_OUTBOX_PAGE).contains(&page) => Ok(Some(page)),
        _ => Err(RouteError::NotFound),
    }
}

async fn outbox(
    federation: &Federation,
    actor: LocalActor,
    actor_id: &str,
    query: Option<&str>,
) -> Result<Response, RouteError> {
    let store = federation.store();
    let total = store.count_activities_of(actor, &OUTBOX_KINDS).await?;
    let outbox_id = Urls::outbox(actor_id);
    let requested = outbox_page(query)?;
    let number = requested.unwrap_or(1);
    let payloads = store
        .activities_of(actor, &OUTBOX_KINDS, Page::number(number, OUTBOX_PAGE_SIZE))
        .await?;
    let mut current = CurrentPosts::new(federation).await?;
    let mut items = Vec::with_capacity(payloads.len());
    for payload in &payloads {
        if let Refreshed::Current(item) = current.refresh(payload).await? {
            items.push(without_context(item));
        }
    }
    let page_id = |n: i64| format!("{outbox_id}?page={n}");
    let page = OrderedCollectionPage {
        id: Some(page_id(number)),
        kind: CollectionType::OrderedCollectionPage,
        part_of: Some(outbox_id.clone()),
        total_items: None,
        next: (number.saturating_mul(OUTBOX_PAGE_SIZE) < total).then(|| page_id(number + 1)),
        prev: (number > 1).then(|| page_id(number - 1)),
        ordered_items: items,
    };
    if requested.is_some() {
        return Ok(collection_response(&page));
    }
    Ok(collection_response(&OrderedCollection {
        id: Some(outbox_id),
        kind: CollectionType::OrderedCollection,
        total_items: Some(u64::try_from(total).unwrap_or_default()),
        first: Some(PageRef::Page(Box::new(page))),
        ordered_items: None,
    }))
}

// ---- activities ----

/// What became of a stored activity about one of our posts.
enum Refreshed {
    /// Still public: the activity, its embedded Note replaced by the current one.
    Current(Value),
    /// Its post was deleted (or unpublished) since.
    Gone,
}

/// Looks up the posts that stored activities are about, once per post.
struct CurrentPosts<'a> {
    federation: &'a Federation,
    settings: BlogSettings,
    posts: HashMap<String, Option<(Post, Author)>>,
}

impl<'a> CurrentPosts<'a> {
    async fn new(federation: &'a Federation) -> Result<CurrentPosts<'a>, RouteError> {
        Ok(CurrentPosts {
            settings: federation.store().blog_settings().await?,
            federation,
            posts: HashMap::new(),
        })
    }

    /// The published post `slug` with its author, if it is.
    async fn published(&mut self, slug: &str) -> Result<Option<&(Post, Author)>, RouteError> {
        if !self.posts.contains_key(slug) {
            let store = self.federation.store();
            let found = match store.post_by_slug(slug).await? {
                Some(post) if post.status == PostStatus::Published => store
                    .author_by_id(post.author_id)
                    .await?
                    .map(|author| (post, author)),
                _ => None,
            };
            self.posts.insert(slug.to_owned(), found);
        }
        Ok(self.posts.get(slug).and_then(Option::as_ref))
    }

    /// Brings a stored `Create`/`Update`/`Announce` of one of our posts up to date.
    /// Other activities, and unparsable payloads (logged), are returned as they are.
    async fn refresh(&mut self, payload: &str) -> Result<Refreshed, RouteError> {
        let mut activity: Value = match serde_json::from_str(payload) {
            Ok(value) => value,
            Err(err) => {
                tracing::warn!("a stored activity is not JSON: {err}");
                return Ok(Refreshed::Gone);
            }
        };
        let kind = activity
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(kind, "Create" | "Update" | "Announce") {
            return Ok(Refreshed::Current(activity));
        }
        let object = activity.get("object");
        let object_id = object.and_then(|object| match object {
            Value::String(id) => Some(id.clone()),
            other => other.get("id").and_then(Value::as_str).map(str::to_owned),
        });
        let embedded = object.is_some_and(Value::is_object);
        if let Some(id) = object_id.as_deref()
            && id.starts_with(&self.federation.urls().absolute("/notes/"))
        {
            return self.refresh_author_reply(activity, id, embedded).await;
        }
        let Some(slug) = object_id.and_then(|id| self.federation.urls().post_slug_of(&id)) else {
            return Ok(Refreshed::Current(activity));
        };
        let urls = self.federation.urls().clone();
        let settings = self.settings.clone();
        let Some((post, author)) = self.published(&slug).await? else {
            return Ok(Refreshed::Gone);
        };
        if embedded && let Some(map) = activity.as_object_mut() {
            map.insert(
                "object".to_owned(),
                post_to_note(post, author, &settings, &urls),
            );
        }
        Ok(Refreshed::Current(activity))
    }

    /// An activity about an author reply: only while the reply is live and public,
    /// with its current Note (a private reply's activities are never listed).
    async fn refresh_author_reply(
        &mut self,
        mut activity: Value,
        id: &str,
        embedded: bool,
    ) -> Result<Refreshed, RouteError> {
        let store = self.federation.store();
        let Some(reply) = store.comment_by_ap_id(id).await? else {
            return Ok(Refreshed::Gone);
        };
        let note = match crate::author_replies::served_note(
            store.as_ref(),
            self.federation.urls(),
            &reply,
        )
        .await
        {
            Ok(Some(note)) => note,
            Ok(None) => return Ok(Refreshed::Gone),
            Err(crate::author_replies::ReplyError::Storage(err)) => return Err(err.into()),
            Err(other) => return Err(RouteError::Internal(other.to_string())),
        };
        if embedded && let Some(map) = activity.as_object_mut() {
            map.insert("object".to_owned(), note);
        }
        Ok(Refreshed::Current(activity))
    }
}

/// `GET /activities/{id}`: one of our activities, when it is public (an Accept names a
/// follower, and who follows whom is not published). One about a post deleted since
/// answers 410.
async fn activity(
    State(federation): State<Federation>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, RouteError> {
    let id = path_param(id)?;
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(RouteError::NotFound);
    }
    let ap_id = federation.urls().absolute(&format!("/activities/{id}"));
    let payload = federation
        .store()
        .activity_payload(&ap_id)
        .await?
        .ok_or(RouteError::NotFound)?;
    let parsed: Value =
        serde_json::from_str(&payload).map_err(|err| RouteError::Internal(err.to_string()))?;
    if !is_public_activity(&parsed) {
        return Err(RouteError::NotFound);
    }
    let kind = parsed
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Activity")
        .to_owned();
    let mut current = CurrentPosts::new(&federation).await?;
    match current.refresh(&payload).await? {
        Refreshed::Current(value) => Ok(activity_json_response(&value)),
        Refreshed::Gone => Err(RouteError::Gone(document(
            default_context(),
            &Tombstone::new(ap_id, &kind, None),
        ))),
    }
}

/// Whether `to` or `cc` of an activity names the public collection.
fn is_public_activity(activity: &Value) -> bool {
    let audience = |field: &str| -> Vec<String> {
        match activity.get(field) {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    let all: Vec<String> = audience("to").into_iter().chain(audience("cc")).collect();
    is_public_audience(all.iter().map(String::as_str))
}

// ---- post collections ----

/// The published post named in the path; a deleted one is 410 with its Tombstone.
async fn published_post(
    federation: &Federation,
    slug: Result<Path<String>, PathRejection>,
) -> Result<Post, RouteError> {
    let slug = path_param(slug)?;
    match federation.store().post_by_slug(&slug).await? {
        Some(post) if post.status == PostStatus::Published => Ok(post),
        Some(post) if post.status == PostStatus::Deleted => Err(RouteError::Gone(
            notes::tombstone_json(&post, federation.urls()),
        )),
        _ => Err(RouteError::NotFound),
    }
}

/// A thread collection (`replies`, `context`) of `total` ids: the collection itself
/// lists them when they fit on one page, else embeds the first page; `requested` asks
/// for one page (`?page=N`) of which `items` are the ids.
fn thread_collection(id: &str, total: i64, requested: Option<i64>, items: Vec<String>) -> Value {
    let total_items = u64::try_from(total).unwrap_or_default();
    let items: Vec<Value> = items.into_iter().map(Value::String).collect();
    if requested.is_none() && total <= THREAD_PAGE_SIZE {
        let mut collection = OrderedCollection::with_items(id.to_owned(), items);
        collection.total_items = Some(total_items);
        return document(default_context(), &collection);
    }
    let number = requested.unwrap_or(1);
    let page_id = |n: i64| format!("{id}?page={n}");
    let page = OrderedCollectionPage {
        id: Some(page_id(number)),
        kind: CollectionType::OrderedCollectionPage,
        part_of: Some(id.to_owned()),
        total_items: None,
        next: (number.saturating_mul(THREAD_PAGE_SIZE) < total).then(|| page_id(number + 1)),
        prev: (number > 1).then(|| page_id(number - 1)),
        ordered_items: items,
    };
    if requested.is_some() {
        return document(default_context(), &page);
    }
    document(
        default_context(),
        &OrderedCollection {
            id: Some(id.to_owned()),
            kind: CollectionType::OrderedCollection,
            total_items: Some(total_items),
            first: Some(PageRef::Page(Box::new(page))),
            ordered_items: None,
        },
    )
}

/// `GET /posts/{slug}/replies`: the post's public top-level comments (their ids), so
/// that other servers can backfill the thread from us.
async fn post_replies(
    State(federation): State<Federation>,
    slug: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, RouteError> {
    let post = published_post(&federation, slug).await?;
    let id = federation.urls().post_replies(&post.slug);
    replies_collection(
        &federation,
        ThreadNode::Post(post.id),
        &id,
        query.as_deref(),
    )
    .await
}

/// The `replies` collection `id` of a post or a comment: the ids of its public direct
/// replies, oldest first (`?page=N` for one page).
async fn replies_collection(
    federation: &Federation,
    node: ThreadNode,
    id: &str,
    query: Option<&str>,
) -> Result<Response, RouteError> {
    let requested = outbox_page(query)?;
    let store = federation.store();
    let total = store.count_public_replies(node).await?;
    let items = store
        .public_reply_ap_ids(node, Page::number(requested.unwrap_or(1), THREAD_PAGE_SIZE))
        .await?;
    Ok(activity_json_response(&thread_collection(
        id, total, requested, items,
    )))
}

/// `GET /posts/{slug}/context`: the conversation of a post (FEP-7888), owned by its
/// author: the post itself first, then every public comment of its thread.
async fn post_context(
    State(federation): State<Federation>,
    slug: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, RouteError> {
    let post = published_post(&federation, slug).await?;
    let requested = outbox_page(query.as_deref())?;
    let store = federation.store();
    let total = store.count_public_thread(post.id).await?.saturating_add(1);
    // Position 0 is the post; comment n is at position n + 1.
    let number = requested.unwrap_or(1);
    let first_position = (number - 1).saturating_mul(THREAD_PAGE_SIZE);
    let mut items = Vec::new();
    if first_position == 0 {
        items.push(federation.urls().post(&post.slug));
    }
    let comments = Page {
        limit: THREAD_PAGE_SIZE - i64::from(first_position == 0),
        offset: (first_position - 1).max(0),
    };
    items.extend(store.public_thread_ap_ids(post.id, comments).await?);
    let mut value = thread_collection(
        &federation.urls().post_context(&post.slug),
        total,
        requested,
        items,
    );
    if let Some(author) = store.author_by_id(post.author_id).await?
        && let Some(map) = value.as_object_mut()
    {
        map.insert(
            "attributedTo".to_owned(),
            Value::String(federation.urls().author_actor(&author.username)),
        );
    }
    Ok(activity_json_response(&value))
}

// ---- author replies ----

/// The author reply named by `/notes/{id}`: a live, listed one; a deleted one is 410
/// with its Tombstone; a private one, or anything else, 404.
async fn author_reply(
    federation: &Federation,
    id: Result<Path<String>, PathRejection>,
) -> Result<(String, gloss_storage::Comment), RouteError> {
    let id = path_param(id)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(RouteError::NotFound);
    }
    let ap_id = federation.urls().absolute(&format!("/notes/{id}"));
    let reply = federation
        .store()
        .comment_by_ap_id(&ap_id)
        .await?
        .filter(|reply| reply.local_author_id.is_some() && reply.visibility.is_listed())
        .ok_or(RouteError::NotFound)?;
    if let Some(deleted) = reply.deleted_at {
        let tombstone = Tombstone::new(ap_id, "Note", Some(deleted));
        return Err(RouteError::Gone(document(default_context(), &tombstone)));
    }
    Ok((ap_id, reply))
}

/// `GET /notes/{id}`: an author reply's Note; browsers are sent to its place on the
/// post page.
async fn author_reply_note(
    State(federation): State<Federation>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let (_, reply) = author_reply(&federation, id).await?;
    let store = federation.store();
    if !wants_activity_json(&headers) {
        let post = store
            .post_by_id(reply.post_id)
            .await?
            .filter(|post| post.status == PostStatus::Published)
            .ok_or(RouteError::NotFound)?;
        let location = format!(
            "{}#comment-{}",
            federation.urls().post(&post.slug),
            reply.id
        );
        return Ok(html_face(location));
    }
    match crate::author_replies::served_note(store.as_ref(), federation.urls(), &reply).await {
        Ok(Some(note)) => Ok(activity_json_response(&note)),
        Ok(None) => Err(RouteError::NotFound),
        Err(crate::author_replies::ReplyError::Storage(err)) => Err(err.into()),
        Err(other) => Err(RouteError::Internal(other.to_string())),
    }
}

/// `GET /notes/{id}/replies`: the public replies to an author reply.
async fn author_reply_replies(
    State(federation): State<Federation>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, RouteError> {
    let (ap_id, reply) = author_reply(&federation, id).await?;
    let id = Urls::note_replies(&ap_id);
    replies_collection(
        &federation,
        ThreadNode::Comment(reply.id),
        &id,
        query.as_deref(),
    )
    .await
}

// ---- comments without a fediverse id ----

/// The comment named by `/comments/{id}`: one without a fediverse id, under a published
/// post, that readers see; deleted: 410 with its Tombstone.
async fn served_comment(
    federation: &Federation,
    id: Result<Path<String>, PathRejection>,
) -> Result<(gloss_storage::Comment, Post), RouteError> {
    let id = crate::urls::comment_id_segment(&path_param(id)?).ok_or(RouteError::NotFound)?;
    let store = federation.store();
    let comment = store
        .comment_by_id(gloss_storage::CommentId(id))
        .await?
        .filter(|comment| comment.ap_id.is_none() && comment.is_listed())
        .ok_or(RouteError::NotFound)?;
    let post = store
        .post_by_id(comment.post_id)
        .await?
        .filter(|post| post.status == PostStatus::Published)
        .ok_or(RouteError::NotFound)?;
    if let Some(deleted) = comment.deleted_at {
        let tombstone = Tombstone::new(federation.urls().comment(id), "Note", Some(deleted));
        return Err(RouteError::Gone(document(default_context(), &tombstone)));
    }
    Ok((comment, post))
}

/// `GET /comments/{id}`: an imported or reader comment as a Note from the blog, so that
/// it can be answered from the fediverse; browsers go to its place on the page.
async fn comment_note(
    State(federation): State<Federation>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, RouteError> {
    let (comment, post) = served_comment(&federation, id).await?;
    let urls = federation.urls();
    if !wants_activity_json(&headers) {
        let location = format!("{}#comment-{}", urls.post(&post.slug), comment.id);
        return Ok(html_face(location));
    }
    let parent = match comment.parent_id {
        Some(parent) => federation.store().comment_by_id(parent).await?,
        None => None,
    };
    Ok(activity_json_response(&crate::comment_notes::comment_note(
        &comment,
        parent.as_ref(),
        &post,
        urls,
    )))
}

/// `GET /comments/{id}/replies`.
async fn comment_replies(
    State(federation): State<Federation>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, RouteError> {
    let (comment, _) = served_comment(&federation, id).await?;
    let id = federation.urls().comment_replies(comment.id.0);
    replies_collection(
        &federation,
        ThreadNode::Comment(comment.id),
        &id,
        query.as_deref(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::ACCEPT, value);
        }
        headers
    }

    #[test]
    fn activitypub_clients_get_json() {
        for value in [
            "application/activity+json",
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\", text/html;q=0.1",
            "application/ld+json",
            "Application/Activity+JSON; charset=utf-8",
            "text/html;q=0.5, application/activity+json",
        ] {
            assert!(wants_activity_json(&accept(value)), "{value}");
        }
    }

    #[test]
    fn browsers_and_everyone_else_get_html() {
        for value in [
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "*/*",
            "",
            "application/json",
            "application/ld+json; profile=\"http://example.org/other\"",
            "application/activity+json;q=0",
            "text/html, application/activity+json;q=0.5",
        ] {
            assert!(!wants_activity_json(&accept(value)), "{value}");
        }
        assert!(!wants_activity_json(&HeaderMap::new()));
    }

    #[test]
    fn accept_headers_split_across_lines_are_all_read() {
        let mut headers = accept("text/html;q=0.1");
        headers.append(
            header::ACCEPT,
            HeaderValue::from_static("application/activity+json"),
        );
        assert!(wants_activity_json(&headers));
    }

    #[test]
    fn only_public_activities_are_served() {
        let public = serde_json::json!({"type": "Create", "to": [crate::protocol::PUBLIC]});
        let unlisted = serde_json::json!({"type": "Announce", "to": "x", "cc": "as:Public"});
        let accept = serde_json::json!({"type": "Accept", "to": ["https://m.example/u"]});
        assert!(is_public_activity(&public));
        assert!(is_public_activity(&unlisted));
        assert!(!is_public_activity(&accept));
    }

    #[test]
    fn outbox_pages_are_numbers_in_range() {
        assert!(matches!(outbox_page(None), Ok(None)));
        assert!(matches!(outbox_page(Some("x=1")), Ok(None)));
        assert!(matches!(outbox_page(Some("page=2")), Ok(Some(2))));
        for junk in ["page=0", "page=-1", "page=abc", "page=99999999"] {
            assert!(outbox_page(Some(junk)).is_err(), "{junk}");
        }
    }
}
