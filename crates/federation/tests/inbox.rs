#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The inbox routes against signed requests from fake remote actors, which a local axum
//! server serves on 127.0.0.1 (security checklist S1, S3, S7, S8, S10, S11, S12, C6,
//! P7, and following).

use activitypub_federation::http_signatures::{Keypair, generate_actor_keypair};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{TimeDelta, Utc};
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::http_client::{HttpClientSettings, build_client};
use gloss_federation::inbox;
use gloss_federation::signatures::{SigningKey, sign_request};
use gloss_storage::{
    ActorKey, BlogSettings, DeliveryJob, FollowState, LocalActor, NewAuthor, Store,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use tower::ServiceExt;
use url::Url;

/// Our public URL in these tests (requests go straight to the router).
const OUR_BASE: &str = "http://blog.test";

/// RSA keys are slow to generate unoptimized: a few, once per test binary.
fn keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| (0..4).map(|_| generate_actor_keypair().unwrap()).collect())
}
const ALICE_KEY: usize = 0;
const MALLORY_KEY: usize = 1;
const ROTATED_KEY: usize = 2;
const INSTANCE_KEY: usize = 3;

/// The fake remote server: actors at `/users/{name}`, each with a key; counts GETs.
#[derive(Clone, Default)]
struct Remote {
    fetches: Arc<AtomicUsize>,
    gone: Arc<AtomicBool>,
    /// username → index into `keys()`.
    key_of: Arc<Mutex<HashMap<String, usize>>>,
    base: Arc<OnceLock<String>>,
}

impl Remote {
    fn base(&self) -> &str {
        self.base.get().unwrap()
    }
    fn actor(&self, name: &str) -> String {
        format!("{}/users/{name}", self.base())
    }
    fn key_id(&self, name: &str) -> String {
        format!("{}#main-key", self.actor(name))
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn actor_document(State(remote): State<Remote>, Path(name): Path<String>) -> Response {
    remote.fetches.fetch_add(1, Ordering::SeqCst);
    if remote.gone.load(Ordering::SeqCst) {
        return StatusCode::GONE.into_response();
    }
    let Some(key) = remote.key_of.lock().unwrap().get(&name).copied() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = remote.actor(&name);
    let body = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id,
        "type": "Person",
        "preferredUsername": name,
        "name": format!("{name} display"),
        "inbox": format!("{id}/inbox"),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": keys()[key].public_key},
    });
    (
        [(header::CONTENT_TYPE, "application/activity+json")],
        body.to_string(),
    )
        .into_response()
}

async fn spawn_remote() -> Remote {
    let remote = Remote::default();
    remote.key_of.lock().unwrap().extend([
        ("alice".to_owned(), ALICE_KEY),
        ("mallory".to_owned(), MALLORY_KEY),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    remote.base.set(format!("http://{addr}")).unwrap();
    let app = Router::new()
        .route("/users/{name}", get(actor_document))
        .with_state(remote.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    remote
}

struct Setup {
    federation: Federation,
    router: Router,
    remote: Remote,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn store(&self) -> &dyn Store {
        self.federation.store().as_ref()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Posts `activity` to `path`, signed by `signer` (a remote username).
    async fn post_signed(
        &self,
        path: &str,
        activity: &Value,
        signer: &str,
    ) -> (StatusCode, String) {
        let key = self.remote.key_of.lock().unwrap()[signer];
        let request = signed_request(
            path,
            activity.to_string().into_bytes(),
            &self.remote.key_id(signer),
            &keys()[key].private_key,
        );
        self.send(request).await
    }

    async fn remote_id(&self, name: &str) -> Option<gloss_storage::RemoteActor> {
        self.store()
            .remote_actor_by_ap_id(&self.remote.actor(name))
            .await
            .unwrap()
    }

    async fn follower_state(&self, local: LocalActor, name: &str) -> Option<FollowState> {
        let actor = self.remote_id(name).await?;
        self.store()
            .follower(local, actor.id)
            .await
            .unwrap()
            .map(|f| f.state)
    }

    /// Every due delivery, claimed (so each test sees what was queued).
    async fn queued(&self) -> Vec<DeliveryJob> {
        self.store()
            .claim_deliveries(
                Utc::now() + TimeDelta::seconds(5),
                1000,
                1000,
                TimeDelta::minutes(5),
            )
            .await
            .unwrap()
    }

    fn follow(&self, n: u32, follower: &str, object: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/{n}", self.remote.base()),
            "type": "Follow",
            "actor": self.remote.actor(follower),
            "object": object,
        })
    }
}

fn signed_request(path: &str, body: Vec<u8>, key_id: &str, private_pem: &str) -> Request<Body> {
    let url = Url::parse(&format!("{OUR_BASE}{path}")).unwrap();
    let key = SigningKey::from_pkcs8_pem(private_pem).unwrap();
    let headers =
        sign_request(&Method::POST, &url, &body, key_id, &key, SystemTime::now()).unwrap();
    let mut builder = Request::post(path).header(header::CONTENT_TYPE, "application/activity+json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
        .await
        .unwrap();
    // Our instance key, made once per binary (generating one per test is slow).
    store
        .insert_actor_key_if_missing(ActorKey {
            actor: LocalActor::Instance,
            public_key_pem: keys()[INSTANCE_KEY].public_key.clone(),
            private_key_pem: keys()[INSTANCE_KEY].private_key.clone(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    store
        .create_author(NewAuthor {
            username: "ana".into(),
            display_name: "Ana".into(),
            password_hash: None,
            is_admin: true,
            import_key: None,
        })
        .await
        .unwrap();
    let http = build_client(&HttpClientSettings {
        allow_private_addresses: true,
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
    let router = inbox::routes::<Federation>().with_state(federation.clone());
    Setup {
        federation,
        router,
        remote: spawn_remote().await,
        _dir: dir,
    }
}

fn blog() -> String {
    format!("{OUR_BASE}/blog")
}

#[tokio::test]
async fn a_follow_of_the_blog_is_accepted_and_an_accept_is_queued() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    let (status, body) = s.post_signed("/inbox", &follow, "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        s.follower_state(LocalActor::Blog, "alice").await,
        Some(FollowState::Accepted)
    );
    let stored = s.remote_id("alice").await.unwrap();
    assert_eq!(stored.name.as_deref(), Some("alice display"));
    assert!(stored.host.starts_with("127.0.0.1"), "{}", stored.host);

    let queued = s.queued().await;
    assert_eq!(queued.len(), 1);
    let job = &queued[0];
    assert_eq!(job.inbox, format!("{}/inbox", s.remote.actor("alice")));
    assert_eq!(job.actor, LocalActor::Blog);
    let accept: Value = serde_json::from_str(&job.payload).unwrap();
    assert_eq!(accept["type"], "Accept");
    assert_eq!(accept["actor"], blog());
    assert_eq!(accept["object"]["id"], follow["id"]);
    assert_eq!(accept["object"]["type"], "Follow");
    assert_eq!(accept["object"]["actor"], s.remote.actor("alice"));
    assert_eq!(accept["object"]["object"], blog());
}

#[tokio::test]
async fn a_follow_of_an_author_through_the_author_inbox_is_accepted() {
    let s = setup().await;
    let ana = format!("{OUR_BASE}/authors/ana");
    let (status, body) = s
        .post_signed("/authors/ana/inbox", &s.follow(1, "alice", &ana), "alice")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let author = s.store().author_by_username("ana").await.unwrap().unwrap();
    assert_eq!(
        s.follower_state(LocalActor::Author(author.id), "alice")
            .await,
        Some(FollowState::Accepted)
    );
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
    let queued = s.queued().await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].actor, LocalActor::Author(author.id));

    let (status, _) = s
        .post_signed(
            "/authors/nobody/inbox",
            &s.follow(2, "alice", &ana),
            "alice",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_follow_of_someone_else_is_ignored() {
    let s = setup().await;
    let (status, _) = s
        .post_signed(
            "/inbox",
            &s.follow(1, "alice", "https://elsewhere.example/u/x"),
            "alice",
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
    assert!(s.queued().await.is_empty());
}

#[tokio::test]
async fn with_manual_approval_a_follow_waits_and_no_accept_is_sent() {
    let s = setup().await;
    s.store()
        .update_blog_settings(&BlogSettings {
            manually_approves_followers: true,
            ..s.store().blog_settings().await.unwrap()
        })
        .await
        .unwrap();
    let (status, _) = s
        .post_signed("/inbox", &s.follow(1, "alice", &blog()), "alice")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        s.follower_state(LocalActor::Blog, "alice").await,
        Some(FollowState::Pending)
    );
    assert!(s.queued().await.is_empty());
}

#[tokio::test]
async fn undo_of_a_follow_removes_the_follower() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    s.post_signed("/inbox", &follow, "alice").await;
    assert!(s.follower_state(LocalActor::Blog, "alice").await.is_some());
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/1/undo", s.remote.base()),
        "type": "Undo",
        "actor": s.remote.actor("alice"),
        "object": follow,
    });
    let (status, body) = s.post_signed("/blog/inbox", &undo, "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
}

#[tokio::test]
async fn undo_by_follow_id_removes_the_follower() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    s.post_signed("/inbox", &follow, "alice").await;
    let undo = json!({
        "id": format!("{}/undo/1", s.remote.base()),
        "type": "Undo",
        "actor": s.remote.actor("alice"),
        "object": follow["id"],
    });
    let (status, _) = s.post_signed("/inbox", &undo, "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
}

#[tokio::test]
async fn an_undo_of_someone_elses_follow_is_dropped() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    s.post_signed("/inbox", &follow, "alice").await;
    // P7: mallory, signing as herself, undoes alice's Follow.
    let undo = json!({
        "id": format!("{}/undo/2", s.remote.base()),
        "type": "Undo",
        "actor": s.remote.actor("mallory"),
        "object": follow,
    });
    let (status, _) = s.post_signed("/inbox", &undo, "mallory").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        s.follower_state(LocalActor::Blog, "alice").await,
        Some(FollowState::Accepted)
    );
    // And by id: mallory never sent that Follow.
    let undo = json!({
        "id": format!("{}/undo/3", s.remote.base()),
        "type": "Undo",
        "actor": s.remote.actor("mallory"),
        "object": follow["id"],
    });
    let (status, _) = s.post_signed("/inbox", &undo, "mallory").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        s.follower_state(LocalActor::Blog, "alice").await,
        Some(FollowState::Accepted)
    );
}

#[tokio::test]
async fn s1_an_unsigned_post_is_refused_without_fetching_anything() {
    let s = setup().await;
    let body = s.follow(1, "alice", &blog()).to_string();
    let request = Request::post("/inbox")
        .header(header::CONTENT_TYPE, "application/activity+json")
        .header(header::HOST, "blog.test")
        .body(Body::from(body))
        .unwrap();
    let (status, text) = s.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, "Request not signed");
    assert_eq!(s.remote.fetches(), 0);
    assert!(s.remote_id("alice").await.is_none());
}

#[tokio::test]
async fn s3_a_body_changed_after_signing_is_refused() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    let signed = signed_request(
        "/inbox",
        follow.to_string().into_bytes(),
        &s.remote.key_id("alice"),
        &keys()[ALICE_KEY].private_key,
    );
    let (parts, _) = signed.into_parts();
    let tampered = s.follow(1, "alice", &format!("{OUR_BASE}/authors/ana"));
    let request = Request::from_parts(parts, Body::from(tampered.to_string()));
    let (status, text) = s.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("Digest"), "{text}");
    assert_eq!(s.remote.fetches(), 0, "refused before any key fetch");
    assert!(s.queued().await.is_empty());
}

#[tokio::test]
async fn s4_a_signature_for_another_inbox_is_refused() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    let signed = signed_request(
        "/blog/inbox",
        follow.to_string().into_bytes(),
        &s.remote.key_id("alice"),
        &keys()[ALICE_KEY].private_key,
    );
    let (mut parts, body) = signed.into_parts();
    parts.uri = "/inbox".parse().unwrap();
    let (status, _) = s.send(Request::from_parts(parts, body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
}

#[tokio::test]
async fn s7_a_replayed_request_is_handled_once() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    let body = follow.to_string().into_bytes();
    let make = || {
        signed_request(
            "/inbox",
            body.clone(),
            &s.remote.key_id("alice"),
            &keys()[ALICE_KEY].private_key,
        )
    };
    let (first, _) = s.send(make()).await;
    let (second, text) = s.send(make()).await;
    assert_eq!(first, StatusCode::ACCEPTED);
    assert_eq!(second, StatusCode::ACCEPTED);
    assert_eq!(text, "Already received");
    assert_eq!(s.queued().await.len(), 1, "one Accept, not two");
    assert_eq!(
        s.store()
            .count_followers(LocalActor::Blog, FollowState::Accepted)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn s8_an_activity_whose_actor_is_not_the_signer_is_refused() {
    let s = setup().await;
    // mallory signs a Follow in alice's name.
    let follow = s.follow(1, "alice", &blog());
    let (status, _) = s.post_signed("/inbox", &follow, "mallory").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
    assert!(s.queued().await.is_empty());
}

#[tokio::test]
async fn s10_an_activity_id_on_another_host_is_refused() {
    let s = setup().await;
    let mut follow = s.follow(1, "alice", &blog());
    follow["id"] = json!("https://elsewhere.example/follows/1");
    let (status, text) = s.post_signed("/inbox", &follow, "alice").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
    assert!(s.queued().await.is_empty());
}

#[tokio::test]
async fn s11_a_rotated_key_is_refetched_once() {
    let s = setup().await;
    s.post_signed("/inbox", &s.follow(1, "alice", &blog()), "alice")
        .await;
    assert_eq!(s.remote.fetches(), 1);
    // alice rotates her key; our stored copy is stale.
    s.remote
        .key_of
        .lock()
        .unwrap()
        .insert("alice".into(), ROTATED_KEY);
    let like = |n: u32| {
        json!({"id": format!("{}/likes/{n}", s.remote.base()), "type": "Like",
               "actor": s.remote.actor("alice"), "object": format!("{OUR_BASE}/posts/x")})
    };
    let (status, body) = s.post_signed("/inbox", &like(1), "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(s.remote.fetches(), 2, "refetched once");
    // A forger signing with the old key now fails, and cannot force another refetch.
    let request = signed_request(
        "/inbox",
        like(2).to_string().into_bytes(),
        &s.remote.key_id("alice"),
        &keys()[ALICE_KEY].private_key,
    );
    let (status, _) = s.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.remote.fetches(), 2, "refetches are rate-limited");
}

#[tokio::test]
async fn s12_the_delete_of_a_gone_actor_is_accepted_without_a_fetch_storm() {
    let s = setup().await;
    s.post_signed("/inbox", &s.follow(1, "alice", &blog()), "alice")
        .await;
    assert_eq!(s.remote.fetches(), 1);
    s.remote.gone.store(true, Ordering::SeqCst);
    let delete = |n: u32| {
        json!({"id": format!("{}/users/alice#delete-{n}", s.remote.base()), "type": "Delete",
               "actor": s.remote.actor("alice"), "object": s.remote.actor("alice"),
               "to": "as:Public"})
    };
    let (status, body) = s.post_signed("/inbox", &delete(1), "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let actor = s.remote_id("alice").await.unwrap();
    assert!(actor.deleted_at.is_some());
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
    for n in 2..5 {
        let (status, _) = s.post_signed("/inbox", &delete(n), "alice").await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    assert_eq!(s.remote.fetches(), 1, "no fetch of the deleted actor");

    // An actor we never knew, already gone: one fetch, then the negative cache.
    s.remote
        .key_of
        .lock()
        .unwrap()
        .insert("ghost".into(), MALLORY_KEY);
    for n in 0..3 {
        let delete = json!({"id": format!("{}/users/ghost#delete-{n}", s.remote.base()),
            "type": "Delete", "actor": s.remote.actor("ghost"), "object": s.remote.actor("ghost")});
        let (status, _) = s.post_signed("/inbox", &delete, "ghost").await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    assert_eq!(s.remote.fetches(), 2);
}

#[tokio::test]
async fn an_update_of_the_actor_refetches_it_from_its_origin() {
    let s = setup().await;
    s.post_signed("/inbox", &s.follow(1, "alice", &blog()), "alice")
        .await;
    let update = json!({
        "id": format!("{}/users/alice#update-1", s.remote.base()),
        "type": "Update",
        "actor": s.remote.actor("alice"),
        // The embedded copy lies; only the origin's document counts.
        "object": {"id": s.remote.actor("alice"), "type": "Person", "name": "Forged",
                   "inbox": "https://evil.example/inbox"},
    });
    let (status, _) = s.post_signed("/inbox", &update, "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(s.remote.fetches(), 2);
    let actor = s.remote_id("alice").await.unwrap();
    assert_eq!(actor.name.as_deref(), Some("alice display"));
    assert!(actor.inbox.starts_with(s.remote.base()));
}

#[tokio::test]
async fn a_body_over_one_megabyte_gets_413() {
    let s = setup().await;
    let big = vec![b' '; 2 * 1024 * 1024];
    let request = Request::post("/inbox")
        .header(header::CONTENT_TYPE, "application/activity+json")
        .body(Body::from(big.clone()))
        .unwrap();
    let (status, _) = s.send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a Content-Length (streamed), the limit holds too.
    let stream = futures_util::stream::iter(
        big.chunks(64 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let request = Request::post("/inbox")
        .header(header::CONTENT_TYPE, "application/activity+json")
        .body(Body::from_stream(stream))
        .unwrap();
    let (status, _) = s.send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn invalid_json_and_deep_json_get_400() {
    let s = setup().await;
    let key = &keys()[ALICE_KEY].private_key;
    let key_id = s.remote.key_id("alice");
    let request = signed_request("/inbox", b"{\"id\": ".to_vec(), &key_id, key);
    let (status, text) = s.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.starts_with("Invalid JSON"), "{text}");

    let mut deep = String::from("{\"type\":\"Like\",\"object\":");
    deep.push_str(&"[".repeat(10_000));
    deep.push_str(&"]".repeat(10_000));
    deep.push('}');
    let request = signed_request("/inbox", deep.into_bytes(), &key_id, key);
    let (status, _) = s.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let request = signed_request("/inbox", b"{\"type\":\"Follow\"}".to_vec(), &key_id, key);
    let (status, text) = s.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.starts_with("Not an activity"), "{text}");
}

#[tokio::test]
async fn other_activities_are_accepted_and_ignored() {
    let s = setup().await;
    for (n, kind) in ["Like", "Announce", "Create", "Flag", "EmojiReact"]
        .iter()
        .enumerate()
    {
        let activity = json!({"id": format!("{}/a/{n}", s.remote.base()), "type": kind,
            "actor": s.remote.actor("alice"), "object": format!("{OUR_BASE}/posts/x")});
        let (status, body) = s.post_signed("/inbox", &activity, "alice").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind}: {body}");
    }
    assert!(s.queued().await.is_empty());
}

#[tokio::test]
async fn the_accept_names_our_actor_by_its_canonical_id() {
    let s = setup().await;
    let (status, _) = s
        .post_signed(
            "/inbox",
            &s.follow(1, "alice", &format!("{OUR_BASE}/blog/")),
            "alice",
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let queued = s.queued().await;
    let accept: Value = serde_json::from_str(&queued[0].payload).unwrap();
    assert_eq!(accept["actor"], blog());
}

#[tokio::test]
async fn an_undo_embedding_only_the_follow_id_removes_the_senders_follow() {
    let s = setup().await;
    let follow = s.follow(1, "alice", &blog());
    s.post_signed("/inbox", &follow, "alice").await;
    let undo = |n: u32, actor: &str, follow_id: &Value| {
        json!({"id": format!("{}/undo/{n}", s.remote.base()), "type": "Undo",
               "actor": s.remote.actor(actor),
               "object": {"id": follow_id, "type": "Follow"}})
    };
    // mallory cannot undo alice's follow by naming its id.
    let (status, _) = s
        .post_signed("/inbox", &undo(1, "mallory", &follow["id"]), "mallory")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(s.follower_state(LocalActor::Blog, "alice").await.is_some());
    let (status, _) = s
        .post_signed("/inbox", &undo(2, "alice", &follow["id"]), "alice")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(s.follower_state(LocalActor::Blog, "alice").await, None);
}
