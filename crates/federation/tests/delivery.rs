#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The delivery worker against local fake inboxes that record what they receive and
//! answer 202, 500, 410, 400, 429 with `Retry-After`, or slowly (checklist Q1-Q5, Q8, Q9).

use activitypub_federation::http_signatures::{Keypair, generate_actor_keypair};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{TimeDelta, Utc};
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::delivery::{DeliverySettings, DeliveryWorker};
use gloss_federation::http_client::{HttpClientSettings, build_client};
use gloss_federation::signatures::{DEFAULT_MAX_SKEW, VerifyingKey, parse_request};
use gloss_storage::{
    ActorKey, DeliveryState, DeliveryStatus, FollowState, LocalActor, NewAuthor, OutgoingActivity,
    Post, PostDraft, PostOrigin, PostStatus, RemoteActorUpsert, Store,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use url::Url;

const OUR_BASE: &str = "http://blog.test";

fn keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| (0..2).map(|_| generate_actor_keypair().unwrap()).collect())
}

/// What a fake inbox received.
#[derive(Debug, Clone)]
struct Received {
    behaviour: String,
    body: String,
    content_type: String,
    /// The signature verified with the blog's public key.
    verified: bool,
    at: Instant,
}

#[derive(Clone)]
struct Inbox {
    base: Arc<OnceLock<String>>,
    blog_key: Arc<OnceLock<VerifyingKey>>,
    received: Arc<Mutex<Vec<Received>>>,
    /// Slow answers completed so far.
    slow_done: Arc<AtomicUsize>,
}

impl Inbox {
    fn url(&self, behaviour: &str) -> String {
        format!("{}/{behaviour}/inbox", self.base.get().unwrap())
    }
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(inbox): State<Inbox>,
    Path(behaviour): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let origin = Url::parse(inbox.base.get().unwrap()).unwrap();
    let path = format!("/{behaviour}/inbox");
    let verified = parse_request(
        &Method::POST,
        &path,
        &headers,
        &body,
        &origin,
        SystemTime::now(),
        DEFAULT_MAX_SKEW,
    )
    .and_then(|signed| signed.verify(inbox.blog_key.get().unwrap()))
    .is_ok();
    inbox.received.lock().unwrap().push(Received {
        behaviour: behaviour.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        verified,
        at: Instant::now(),
    });
    match behaviour.as_str() {
        "ok" => StatusCode::ACCEPTED.into_response(),
        "fail" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "gone" => StatusCode::GONE.into_response(),
        "bad" => StatusCode::BAD_REQUEST.into_response(),
        "busy" => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "120")],
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            inbox.slow_done.fetch_add(1, Ordering::SeqCst);
            StatusCode::ACCEPTED.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn spawn_inbox(blog_key: &VerifyingKey) -> Inbox {
    let inbox = Inbox {
        base: Arc::new(OnceLock::new()),
        blog_key: Arc::new(OnceLock::new()),
        received: Arc::new(Mutex::new(Vec::new())),
        slow_done: Arc::new(AtomicUsize::new(0)),
    };
    inbox.blog_key.set(blog_key.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    inbox
        .base
        .set(format!("http://{}", listener.local_addr().unwrap()))
        .unwrap();
    let app = Router::new()
        .route("/{behaviour}/inbox", post(receive))
        .with_state(inbox.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    inbox
}

struct Setup {
    federation: Federation,
    post: Post,
    blog_key: VerifyingKey,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn store(&self) -> &dyn Store {
        self.federation.store().as_ref()
    }

    /// Queues one activity from the blog, about the test post, to `inboxes`.
    async fn enqueue(&self, n: u32, inboxes: Vec<String>, followers: bool) -> String {
        let id = format!("{OUR_BASE}/activities/{n}");
        let payload = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": "Announce", "actor": format!("{OUR_BASE}/blog"),
            "object": format!("{OUR_BASE}/posts/hello"),
        });
        self.store()
            .enqueue_activities(vec![OutgoingActivity {
                ap_id: id.clone(),
                actor: LocalActor::Blog,
                kind: "Announce".into(),
                object_ap_id: Some(format!("{OUR_BASE}/posts/hello")),
                post_id: Some(self.post.id),
                payload: payload.to_string(),
                to_followers_of: if followers {
                    vec![LocalActor::Blog]
                } else {
                    Vec::new()
                },
                extra_inboxes: inboxes,
            }])
            .await
            .unwrap();
        id
    }

    async fn deliveries(&self) -> Vec<DeliveryStatus> {
        self.store()
            .deliveries_for_post(self.post.id)
            .await
            .unwrap()
    }

    async fn delivery_to(&self, inbox: &str) -> DeliveryStatus {
        self.deliveries()
            .await
            .into_iter()
            .find(|d| d.inbox == inbox)
            .unwrap_or_else(|| panic!("no delivery to {inbox}"))
    }

    fn start(&self) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop, stopped) = watch::channel(false);
        let handle = DeliveryWorker::new(self.federation.clone())
            .with_settings(DeliverySettings {
                poll_interval: Duration::from_millis(100),
                shutdown_grace: Duration::from_secs(5),
                ..DeliverySettings::default()
            })
            .start(stopped);
        (stop, handle)
    }
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
        .await
        .unwrap();
    for (actor, key) in [(LocalActor::Blog, 0), (LocalActor::Instance, 1)] {
        store
            .insert_actor_key_if_missing(ActorKey {
                actor,
                public_key_pem: keys()[key].public_key.clone(),
                private_key_pem: keys()[key].private_key.clone(),
                created_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    let author = store
        .create_author(NewAuthor {
            username: "ana".into(),
            display_name: "Ana".into(),
            password_hash: None,
            is_admin: true,
            import_key: None,
        })
        .await
        .unwrap();
    let post = store
        .create_post(
            PostDraft {
                author_id: author.id,
                title: "Hello".into(),
                slug: "hello".into(),
                source: "Hi".into(),
                content_html: "<p>Hi</p>".into(),
                summary: None,
                tags: vec![],
                status: PostStatus::Published,
                origin: PostOrigin::Local,
                published_at: Utc::now(),
                import_key: None,
            },
            Vec::new(),
        )
        .await
        .unwrap();
    let http = build_client(&HttpClientSettings {
        allow_private_addresses: true,
        request_timeout: Some(Duration::from_secs(10)),
        ..HttpClientSettings::default()
    })
    .unwrap();
    let federation = Federation::new(
        store,
        FederationSettings {
            public_url: Url::parse(OUR_BASE).unwrap(),
            blog_handle: "blog".into(),
            allow_private_addresses: true,
            extra_ca_pem: None,
        },
        http,
    );
    Setup {
        federation,
        post,
        blog_key: VerifyingKey::from_pem(&keys()[0].public_key).unwrap(),
        _dir: dir,
    }
}

/// Waits until `check` holds, for at most 15 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn stop(stop: watch::Sender<bool>, handle: tokio::task::JoinHandle<()>) {
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the worker stops")
        .unwrap();
}

#[tokio::test]
async fn a_queued_activity_is_delivered_signed_by_its_actor() {
    let s = setup().await;
    let inbox = spawn_inbox(&s.blog_key).await;
    let id = s.enqueue(1, vec![inbox.url("ok")], false).await;
    let (tx, handle) = s.start();
    eventually("delivered", || async {
        s.delivery_to(&inbox.url("ok")).await.state == DeliveryState::Delivered
    })
    .await;
    stop(tx, handle).await;
    let received = inbox.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].verified,
        "the signature verifies with the blog's key"
    );
    assert_eq!(received[0].content_type, "application/activity+json");
    let body: serde_json::Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(
        s.store().delivery_counts_for_post(s.post.id).await.unwrap(),
        (0, 1, 0)
    );
}

#[tokio::test]
async fn a_server_error_is_retried_later_with_backoff() {
    let s = setup().await;
    let inbox = spawn_inbox(&s.blog_key).await;
    s.enqueue(1, vec![inbox.url("fail")], false).await;
    let before = Utc::now();
    let (tx, handle) = s.start();
    eventually("one attempt", || async {
        s.delivery_to(&inbox.url("fail")).await.attempts == 1
    })
    .await;
    stop(tx, handle).await;
    let delivery = s.delivery_to(&inbox.url("fail")).await;
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.last_status, Some(500));
    let next = delivery.next_attempt_at.unwrap();
    // One minute, ±20 %.
    assert!(
        next >= before + TimeDelta::seconds(47),
        "{next} vs {before}"
    );
    assert!(next <= Utc::now() + TimeDelta::seconds(73));
    assert_eq!(inbox.received().len(), 1, "not retried at once");
}

#[tokio::test]
async fn a_gone_inbox_fails_the_delivery_and_removes_its_followers() {
    let s = setup().await;
    let inbox = spawn_inbox(&s.blog_key).await;
    let host = Url::parse(&inbox.url("gone")).unwrap();
    let actor = s
        .store()
        .upsert_remote_actor(RemoteActorUpsert {
            ap_id: format!("{}/users/zed", inbox.base.get().unwrap()),
            kind: "Person".into(),
            preferred_username: Some("zed".into()),
            name: None,
            url: None,
            icon_url: None,
            inbox: inbox.url("gone"),
            shared_inbox: None,
            public_key_id: format!("{}/users/zed#main-key", inbox.base.get().unwrap()),
            public_key_pem: keys()[1].public_key.clone(),
            host: format!("{}:{}", host.host_str().unwrap(), host.port().unwrap()),
            fetched_at: Utc::now(),
        })
        .await
        .unwrap();
    s.store()
        .upsert_follower(
            LocalActor::Blog,
            actor.id,
            "https://x.example/follow/1",
            FollowState::Accepted,
            Vec::new(),
        )
        .await
        .unwrap();
    s.enqueue(1, Vec::new(), true).await;
    let (tx, handle) = s.start();
    eventually("failed", || async {
        s.delivery_to(&inbox.url("gone")).await.state == DeliveryState::Failed
    })
    .await;
    stop(tx, handle).await;
    eventually("follower removed", || async {
        s.store()
            .count_followers(LocalActor::Blog, FollowState::Accepted)
            .await
            .unwrap()
            == 0
    })
    .await;
}

#[tokio::test]
async fn a_client_error_is_final() {
    let s = setup().await;
    let inbox = spawn_inbox(&s.blog_key).await;
    s.enqueue(1, vec![inbox.url("bad")], false).await;
    let (tx, handle) = s.start();
    eventually("failed", || async {
        s.delivery_to(&inbox.url("bad")).await.state == DeliveryState::Failed
    })
    .await;
    stop(tx, handle).await;
    let delivery = s.delivery_to(&inbox.url("bad")).await;
    assert_eq!(delivery.last_status, Some(400));
    assert_eq!(delivery.attempts, 1);
    assert_eq!(inbox.received().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let s = setup().await;
    let inbox = spawn_inbox(&s.blog_key).await;
    s.enqueue(1, vec![inbox.url("busy")], false).await;
    let before = Utc::now();
    let (tx, handle) = s.start();
    eventually("one attempt", || async {
        s.delivery_to(&inbox.url("busy")).await.attempts == 1
    })
    .await;
    stop(tx, handle).await;
    let delivery = s.delivery_to(&inbox.url("busy")).await;
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.last_status, Some(429));
    // The backoff alone would say about one minute.
    assert!(delivery.next_attempt_at.unwrap() >= before + TimeDelta::seconds(119));
}

#[tokio::test]
async fn a_slow_host_does_not_hold_up_another() {
    let s = setup().await;
    let slow = spawn_inbox(&s.blog_key).await;
    let fast = spawn_inbox(&s.blog_key).await;
    // More slow deliveries than the per-host cap, queued before the fast one.
    for n in 0..6 {
        s.enqueue(n, vec![slow.url("slow")], false).await;
    }
    s.enqueue(100, vec![fast.url("ok")], false).await;
    let (tx, handle) = s.start();
    eventually("fast delivered", || async { !fast.received().is_empty() }).await;
    assert_eq!(
        slow.slow_done.load(Ordering::SeqCst),
        0,
        "the fast host was served while the slow one was still answering"
    );
    let slow_started = slow.received().len();
    assert!(slow_started <= 4, "per-host cap: {slow_started} in flight");
    stop(tx, handle).await;
    let fast_at = fast.received()[0].at;
    assert!(slow.received().iter().all(|r| r.behaviour == "slow"));
    assert!(slow.slow_done.load(Ordering::SeqCst) >= 1);
    assert!(fast_at <= Instant::now());
}

#[tokio::test]
async fn the_worker_stops_on_shutdown() {
    let s = setup().await;
    let (tx, handle) = s.start();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop(tx, handle).await;

    // With a send in flight, it finishes within the grace period.
    let slow = spawn_inbox(&s.blog_key).await;
    s.enqueue(1, vec![slow.url("slow")], false).await;
    let (tx, handle) = s.start();
    eventually("slow send started", || async {
        !slow.received().is_empty()
    })
    .await;
    stop(tx, handle).await;
    assert_eq!(
        s.delivery_to(&slow.url("slow")).await.state,
        DeliveryState::Delivered
    );
}
