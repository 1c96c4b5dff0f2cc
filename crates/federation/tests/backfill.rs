#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Thread backfill (issue 4, item 5) and checklist F11: fake remote servers on 127.0.0.1
//! serve notes and their `replies` and `context` collections; the backfiller reads them
//! and the store shows what became of them. Every test runs on SQLite, and on PostgreSQL
//! when `GLOSS_TEST_POSTGRES_URL` is set. (The fake server is a variant of the one in
//! `comments_intake.rs`: it serves documents by path and query, as Mastodon's pages
//! need.)

use activitypub_federation::http_signatures::{Keypair, generate_actor_keypair};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gloss_federation::backfill::{BackfillLimits, BackfillReport, BackfillWorker, Backfiller};
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::http_client::{HttpClientSettings, build_client};
use gloss_federation::inbox;
use gloss_federation::moderation::CommentsModeration;
use gloss_federation::signatures::{SigningKey, sign_request};
use gloss_storage::{
    ActorKey, BlockKind, Comment, CommentId, LocalActor, Moderation, NewAuthor, Post, PostDraft,
    PostOrigin, PostStatus, RemoteActorUpsert, RemoteCommentUpsert, Store, ThreadNode,
    UpsertOutcome, Visibility, delivery_host,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tower::ServiceExt;
use url::Url;

#[path = "support/engines.rs"]
#[macro_use]
mod engines;
use engines::{Engine, run_on};

/// Our public URL (nothing listens there; the inbox test sends to the router).
const OUR_BASE: &str = "http://blog.test";
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// One RSA key (slow to generate) for the instance and every fake actor.
fn key() -> &'static Keypair {
    static KEY: OnceLock<Keypair> = OnceLock::new();
    KEY.get_or_init(|| generate_actor_keypair().unwrap())
}

// ---------------------------------------------------------------------------------------
// A fake remote server: actors at /users/{name}, any other document at its path+query.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Remote {
    base: Arc<OnceLock<String>>,
    /// Path and query → (status, document).
    documents: Arc<Mutex<HashMap<String, (u16, Value)>>>,
    /// Every GET path and query, in order.
    gets: Arc<Mutex<Vec<String>>>,
}

impl Remote {
    fn base(&self) -> &str {
        self.base.get().unwrap()
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }
    fn actor(&self, name: &str) -> String {
        self.url(&format!("/users/{name}"))
    }
    fn note_url(&self, name: &str) -> String {
        self.url(&format!("/notes/{name}"))
    }
    fn host(&self) -> String {
        delivery_host(self.base()).unwrap()
    }
    fn serve(&self, path: &str, document: Value) {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), (200, document));
    }
    fn serve_status(&self, path: &str, status: u16) {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, Value::Null));
    }
    fn gets_of(&self, path: &str) -> usize {
        self.gets
            .lock()
            .unwrap()
            .iter()
            .filter(|got| got.as_str() == path)
            .count()
    }
    fn all_gets(&self) -> usize {
        self.gets.lock().unwrap().len()
    }
    /// A public note by `author` at `/notes/{name}` replying to `in_reply_to`, with
    /// `extra` fields merged in.
    fn note(&self, name: &str, author: &str, in_reply_to: &str, extra: Value) -> Value {
        let mut note = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.note_url(name),
            "type": "Note",
            "attributedTo": self.actor(author),
            "inReplyTo": in_reply_to,
            "content": format!("<p>{name} by {author}</p>"),
            "published": "2024-05-01T10:00:00Z",
            "to": [PUBLIC],
            "cc": [format!("{}/followers", self.actor(author))],
        });
        if let (Value::Object(note), Value::Object(extra)) = (&mut note, extra) {
            note.extend(extra);
        }
        note
    }
    /// Serves `note` at its id's path and returns it.
    fn publish(&self, note: Value) -> Value {
        let path = Url::parse(note["id"].as_str().unwrap())
            .unwrap()
            .path()
            .to_owned();
        self.serve(&path, note.clone());
        note
    }
}

async fn remote_handler(State(remote): State<Remote>, method: Method, uri: Uri) -> Response {
    if method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    remote.gets.lock().unwrap().push(path.clone());
    let activity_json = [(header::CONTENT_TYPE, "application/activity+json")];
    if let Some(name) = path.strip_prefix("/users/")
        && !name.contains('/')
    {
        let id = remote.actor(name);
        let body = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id, "type": "Person", "preferredUsername": name, "name": format!("{name} display"),
            "inbox": format!("{id}/inbox"),
            "publicKey": {"id": format!("{id}#main-key"), "owner": id,
                          "publicKeyPem": key().public_key},
        });
        return (activity_json, body.to_string()).into_response();
    }
    let Some((status, document)) = remote.documents.lock().unwrap().get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if status == 0 {
        // Never answers: the client's deadline must end the request.
        std::future::pending::<()>().await;
    }
    if status != 200 {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    (activity_json, document.to_string()).into_response()
}

/// A fake server on 127.0.0.1; `host` names it in its URLs (`127.0.0.1` or `localhost`).
async fn spawn_remote_named(host: &str) -> Remote {
    let remote = Remote::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    remote.base.set(format!("http://{host}:{port}")).unwrap();
    let app = Router::new()
        .fallback(remote_handler)
        .with_state(remote.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    remote
}

// ---------------------------------------------------------------------------------------
// Our Gloss instance
// ---------------------------------------------------------------------------------------

struct Setup {
    federation: Federation,
    remote: Remote,
    post: Post,
}

fn post_url() -> String {
    format!("{OUR_BASE}/posts/hello")
}

async fn setup(database_url: &str) -> Setup {
    let store = gloss_storage::connect(database_url).await.unwrap();
    store
        .insert_actor_key_if_missing(ActorKey {
            actor: LocalActor::Instance,
            public_key_pem: key().public_key.clone(),
            private_key_pem: key().private_key.clone(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
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
    federation.set_comments_moderation(CommentsModeration::Open);
    Setup {
        federation,
        remote: spawn_remote_named("127.0.0.1").await,
        post,
    }
}

impl Setup {
    fn store(&self) -> &dyn Store {
        self.federation.store().as_ref()
    }

    /// Stores `note` (by an actor of `remote`) as a comment under `parent`, as if it
    /// had come through the inbox.
    async fn seed(&self, remote: &Remote, note: &Value, parent: ThreadNode) -> Comment {
        let actor_id = note["attributedTo"].as_str().unwrap();
        let actor = self
            .store()
            .upsert_remote_actor(RemoteActorUpsert {
                ap_id: actor_id.to_owned(),
                kind: "Person".into(),
                preferred_username: None,
                name: None,
                url: None,
                icon_url: None,
                inbox: format!("{actor_id}/inbox"),
                shared_inbox: None,
                public_key_id: format!("{actor_id}#main-key"),
                public_key_pem: key().public_key.clone(),
                host: remote.host(),
                fetched_at: Utc::now(),
            })
            .await
            .unwrap();
        let outcome = self
            .store()
            .upsert_remote_comment(RemoteCommentUpsert {
                ap_id: note["id"].as_str().unwrap().to_owned(),
                parent,
                remote_actor_id: actor.id,
                author_name: "someone".into(),
                author_url: None,
                author_avatar_url: None,
                content_html: "<p>seeded</p>".into(),
                summary: None,
                sensitive: false,
                attachments: Vec::new(),
                url: None,
                in_reply_to_ap_id: note["inReplyTo"].as_str().map(str::to_owned),
                visibility: Visibility::Public,
                published_at: Utc::now(),
                updated_at: None,
                moderation: Moderation::Approved,
                moderation_reason: None,
            })
            .await
            .unwrap();
        match outcome {
            UpsertOutcome::Created(comment) => comment,
            other => panic!("{other:?}"),
        }
    }

    /// A top-level comment `name` by alice, stored, and served with `extra` fields.
    async fn seeded_top(&self, name: &str, extra: Value) -> Comment {
        let note = self
            .remote
            .publish(self.remote.note(name, "alice", &post_url(), extra));
        self.seed(&self.remote, &note, ThreadNode::Post(self.post.id))
            .await
    }

    async fn comment(&self, ap_id: &str) -> Option<Comment> {
        self.store().comment_by_ap_id(ap_id).await.unwrap()
    }

    async fn parent_of(&self, ap_id: &str) -> Option<CommentId> {
        self.comment(ap_id)
            .await
            .unwrap_or_else(|| panic!("{ap_id} not stored"))
            .parent_id
    }
}

fn backfiller() -> Backfiller {
    Backfiller::new(BackfillLimits::default())
}

async fn backfill(s: &Setup, ap_id: &str) -> BackfillReport {
    backfiller()
        .backfill_comment(&s.federation, ap_id)
        .await
        .unwrap()
}

// =======================================================================================
// Threads completed
// =======================================================================================

/// Mastodon's shape: the replies collection embedded in the Note, its first page
/// embedded with the author's self-replies, `next` to the others' replies by URL.
async fn a_reply_to_a_reply_that_never_reached_us_appears_nested_after_backfill(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let top_id = r.note_url("top");
    let replies_id = format!("{top_id}/replies");
    let self_reply = r.publish(r.note("self", "alice", &top_id, json!({})));
    let bob = r.publish(r.note(
        "bob",
        "bob",
        &top_id,
        json!({"replies": r.url("/notes/bob/replies")}),
    ));
    let carol = r.publish(r.note("carol", "carol", bob["id"].as_str().unwrap(), json!({})));
    r.serve(
        "/notes/top/replies?only_other_accounts=true&page=true",
        json!({"id": format!("{replies_id}?only_other_accounts=true&page=true"),
               "type": "CollectionPage", "partOf": replies_id,
               "items": [bob["id"]]}),
    );
    r.serve(
        "/notes/bob/replies",
        json!({"id": r.url("/notes/bob/replies"), "type": "OrderedCollection",
               "totalItems": 1, "orderedItems": [carol["id"]]}),
    );
    let top = s
        .seeded_top(
            "top",
            json!({"replies": {
                "id": replies_id, "type": "Collection",
                "first": {"type": "CollectionPage",
                          "next": format!("{replies_id}?only_other_accounts=true&page=true"),
                          "partOf": replies_id, "items": [self_reply]}}}),
        )
        .await;

    let report = backfill(&s, &top_id).await;
    assert_eq!(report.new_comments, 3, "{report:?}");
    assert_eq!(
        s.parent_of(self_reply["id"].as_str().unwrap()).await,
        Some(top.id)
    );
    let bob_comment = s.comment(bob["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(bob_comment.parent_id, Some(top.id));
    assert_eq!(bob_comment.moderation, Moderation::Approved);
    assert!(bob_comment.content_html.contains("bob by bob"));
    assert_eq!(
        s.parent_of(carol["id"].as_str().unwrap()).await,
        Some(bob_comment.id)
    );
    // The embedded self-reply from the Note's own server was not refetched.
    assert_eq!(r.gets_of("/notes/self"), 0);
    assert_eq!(r.gets_of("/notes/bob"), 1);
}

/// FEP-7888: the context collection lists the whole thread; items we hold and our own
/// post are skipped without a request.
async fn the_context_collection_brings_the_rest_of_the_thread(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let top_id = r.note_url("top");
    let sibling = r.publish(r.note("sibling", "bob", &top_id, json!({})));
    let deep = r.publish(r.note("deep", "carol", sibling["id"].as_str().unwrap(), json!({})));
    // FEP-171b style: an activity wrapping a reply; its object is always refetched.
    let wrapped = r.publish(r.note("wrapped", "dave", &top_id, json!({})));
    let mut forged = wrapped.clone();
    forged["content"] = json!("<p>forged words</p>");
    r.serve(
        "/contexts/1",
        json!({"id": r.url("/contexts/1"), "type": "OrderedCollection",
               "orderedItems": [post_url(), top_id, deep["id"], sibling["id"],
                                {"type": "Create", "id": r.url("/activities/wrapped"),
                                 "actor": r.actor("dave"), "object": forged}]}),
    );
    let top = s
        .seeded_top("top", json!({"context": r.url("/contexts/1")}))
        .await;

    let report = backfill(&s, &top_id).await;
    // The sibling came as the deep reply's ancestor.
    assert_eq!(report.new_comments, 2, "{report:?}");
    let wrapped_comment = s.comment(wrapped["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(wrapped_comment.parent_id, Some(top.id));
    assert!(wrapped_comment.content_html.contains("wrapped by dave"));
    assert_eq!(r.gets_of("/notes/wrapped"), 1);
    let sibling_comment = s.comment(sibling["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(sibling_comment.parent_id, Some(top.id));
    assert_eq!(
        s.parent_of(deep["id"].as_str().unwrap()).await,
        Some(sibling_comment.id)
    );
    // The sibling was fetched once (as deep's ancestor), then known when listed.
    assert_eq!(r.gets_of("/notes/sibling"), 1);
}

async fn followers_only_items_are_skipped_and_tombstones_are_not_resurrected(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let top_id = r.note_url("top");
    let private = r.publish(r.note(
        "private",
        "bob",
        &top_id,
        json!({"to": [format!("{}/followers", r.actor("bob"))], "cc": []}),
    ));
    let deleted = r.publish(r.note("deleted", "carol", &top_id, json!({})));
    r.serve(
        "/notes/top/replies",
        json!({"id": r.url("/notes/top/replies"), "type": "Collection",
               "items": [private["id"], deleted["id"]]}),
    );
    let top = s
        .seeded_top("top", json!({"replies": r.url("/notes/top/replies")}))
        .await;
    // carol deleted her reply before we ever saw it: a tombstone is kept.
    s.store()
        .delete_comment_by_ap_id(
            deleted["id"].as_str().unwrap(),
            top.remote_actor_id.unwrap(),
            Utc::now(),
        )
        .await
        .unwrap();

    let report = backfill(&s, &top_id).await;
    assert_eq!(report.new_comments, 0, "{report:?}");
    assert_eq!(report.private_skipped, 1, "{report:?}");
    assert_eq!(report.known_skipped, 1, "{report:?}");
    assert!(s.comment(private["id"].as_str().unwrap()).await.is_none());
    assert!(s.comment(deleted["id"].as_str().unwrap()).await.is_none());
    assert_eq!(r.gets_of("/notes/deleted"), 0);
}

async fn a_blocked_domain_is_never_fetched(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let blocked = spawn_remote_named("localhost").await;
    let top_id = r.note_url("top");
    let theirs = blocked.publish(blocked.note("theirs", "eve", &top_id, json!({})));
    let fine = r.publish(r.note("fine", "bob", &top_id, json!({})));
    r.serve(
        "/notes/top/replies",
        json!({"id": r.url("/notes/top/replies"), "type": "OrderedCollection",
               "orderedItems": [theirs["id"], theirs, fine["id"]]}),
    );
    s.seeded_top("top", json!({"replies": r.url("/notes/top/replies")}))
        .await;
    s.store()
        .add_block(BlockKind::Domain, "localhost", "spam", Utc::now())
        .await
        .unwrap();

    let report = backfill(&s, &top_id).await;
    assert_eq!(report.new_comments, 1, "{report:?}");
    assert!(s.comment(fine["id"].as_str().unwrap()).await.is_some());
    assert_eq!(blocked.all_gets(), 0);
    assert!(s.comment(theirs["id"].as_str().unwrap()).await.is_none());
}

/// P3/P13: an object embedded by another server is refetched from its own.
async fn a_forged_embedded_item_is_refetched_from_its_origin(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let other = spawn_remote_named("localhost").await;
    let top_id = r.note_url("top");
    let genuine = other.publish(other.note("theirs", "eve", &top_id, json!({})));
    let mut forged = genuine.clone();
    forged["content"] = json!("<p>forged words</p>");
    // Same server as the collection, but attributed to the other server's actor.
    let mut misattributed = r.note("claimed", "alice", &top_id, json!({}));
    misattributed["attributedTo"] = json!(other.actor("eve"));
    misattributed["content"] = json!("<p>forged too</p>");
    r.serve(
        "/notes/top/replies",
        json!({"id": r.url("/notes/top/replies"), "type": "OrderedCollection",
               "orderedItems": [forged, misattributed]}),
    );
    s.seeded_top("top", json!({"replies": r.url("/notes/top/replies")}))
        .await;

    let report = backfill(&s, &top_id).await;
    assert_eq!(report.new_comments, 1, "{report:?}");
    let stored = s.comment(genuine["id"].as_str().unwrap()).await.unwrap();
    assert!(
        stored.content_html.contains("theirs by eve"),
        "{}",
        stored.content_html
    );
    assert_eq!(other.gets_of("/notes/theirs"), 1);
    // The misattributed one was refetched (and is not served): nothing stored.
    assert_eq!(r.gets_of("/notes/claimed"), 1);
    assert!(s.comment(&r.note_url("claimed")).await.is_none());
}

/// F9/F10 for collections: a page whose `next` is itself, an endless chain of pages
/// and a thousand unknown items all stop within the budgets.
async fn budgets_stop_huge_and_looping_collections(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let top_id = r.note_url("top");
    // replies: a page that points to itself.
    r.serve(
        "/loop",
        json!({"id": r.url("/loop"), "type": "OrderedCollectionPage",
               "next": r.url("/loop"), "orderedItems": []}),
    );
    // context: pages 1, 2, 3... forever, each with a thousand unknown items.
    for page in 1..=20 {
        let items: Vec<String> = (0..1000)
            .map(|n| r.url(&format!("/missing/{page}/{n}")))
            .collect();
        r.serve(
            &format!("/endless?page={page}"),
            json!({"id": r.url(&format!("/endless?page={page}")), "type": "OrderedCollectionPage",
                   "next": r.url(&format!("/endless?page={}", page + 1)),
                   "orderedItems": items}),
        );
    }
    r.serve(
        "/endless",
        json!({"id": r.url("/endless"), "type": "OrderedCollection",
               "first": r.url("/endless?page=1")}),
    );
    s.seeded_top(
        "top",
        json!({"replies": r.url("/loop"), "context": r.url("/endless")}),
    )
    .await;

    let limits = BackfillLimits {
        max_requests: 15,
        ..BackfillLimits::default()
    };
    let report = Backfiller::new(limits)
        .backfill_comment(&s.federation, &top_id)
        .await
        .unwrap();
    assert_eq!(report.new_comments, 0);
    assert_eq!(r.gets_of("/loop"), 1);
    assert!(report.requests <= 15, "{report:?}");
    assert!(r.all_gets() <= 15, "{} requests", r.all_gets());

    // With requests to spare, the page limit ends an endless chain of pages.
    for page in 1..=20 {
        r.serve(
            &format!("/chain?page={page}"),
            json!({"id": r.url(&format!("/chain?page={page}")), "type": "OrderedCollectionPage",
                   "next": r.url(&format!("/chain?page={}", page + 1)),
                   "orderedItems": [r.url(&format!("/missing/chain/{page}"))]}),
        );
    }
    s.seeded_top("other", json!({"replies": r.url("/chain?page=1")}))
        .await;
    let report = backfill(&s, &r.note_url("other")).await;
    let pages = (1..=20)
        .filter(|page| r.gets_of(&format!("/chain?page={page}")) > 0)
        .count();
    assert_eq!(pages, BackfillLimits::default().max_pages, "{report:?}");
}

// =======================================================================================
// F11: a comment we hold, refetched
// =======================================================================================

async fn a_gone_comment_is_deleted_and_tombstoned(db: String) {
    let s = setup(&db).await;
    let top = s.seeded_top("top", json!({})).await;
    s.remote.serve_status("/notes/top", 410);

    let report = backfill(&s, &s.remote.note_url("top")).await;
    assert_eq!(report.deleted, 1, "{report:?}");
    let comment = s.store().comment_by_id(top.id).await.unwrap().unwrap();
    assert!(comment.deleted_at.is_some());
    assert!(comment.content_html.is_empty());
    assert!(
        s.store()
            .tombstone_exists(&s.remote.note_url("top"))
            .await
            .unwrap()
    );
}

async fn a_missing_comment_is_kept_and_not_retried_at_once(db: String) {
    let s = setup(&db).await;
    let top = s.seeded_top("top", json!({})).await;
    s.remote.serve_status("/notes/top", 404);

    let report = backfill(&s, &s.remote.note_url("top")).await;
    assert_eq!(report.kept_on_failure, 1, "{report:?}");
    let comment = s.store().comment_by_id(top.id).await.unwrap().unwrap();
    assert!(comment.deleted_at.is_none());
    assert_eq!(comment.content_html, "<p>seeded</p>");
    // Asked again at once (another trigger, another process): no request.
    let again = backfill(&s, &s.remote.note_url("top")).await;
    assert_eq!(again.comments_throttled, 1, "{again:?}");
    assert_eq!(s.remote.gets_of("/notes/top"), 1);
}

async fn an_unavailable_origin_keeps_our_copy(db: String) {
    let s = setup(&db).await;
    let top = s.seeded_top("top", json!({})).await;
    for status in [500, 502, 503] {
        s.remote.serve_status("/notes/top", status);
        // A fresh claim each time: the interval is zero here.
        let report = Backfiller::new(BackfillLimits {
            min_interval: Duration::ZERO,
            ..BackfillLimits::default()
        })
        .backfill_comment(&s.federation, &s.remote.note_url("top"))
        .await
        .unwrap();
        assert_eq!(report.kept_on_failure, 1, "{status}: {report:?}");
        let comment = s.store().comment_by_id(top.id).await.unwrap().unwrap();
        assert!(comment.deleted_at.is_none(), "{status}");
        assert_eq!(comment.content_html, "<p>seeded</p>");
    }
}

/// F11 with a timeout: the origin never answers; our copy stays.
async fn an_origin_that_never_answers_keeps_our_copy(db: String) {
    let s = setup(&db).await;
    let top = s.seeded_top("top", json!({})).await;
    s.remote.serve_status("/notes/top", 0);
    let impatient = Federation::new(
        Arc::clone(s.federation.store()),
        s.federation.settings().clone(),
        build_client(&HttpClientSettings {
            allow_private_addresses: true,
            request_timeout: Some(Duration::from_millis(300)),
            ..HttpClientSettings::default()
        })
        .unwrap(),
    );
    let report = backfiller()
        .backfill_comment(&impatient, &s.remote.note_url("top"))
        .await
        .unwrap();
    assert_eq!(report.kept_on_failure, 1, "{report:?}");
    let comment = s.store().comment_by_id(top.id).await.unwrap().unwrap();
    assert!(comment.deleted_at.is_none());
    assert_eq!(comment.content_html, "<p>seeded</p>");
}

/// The periodic run visits recent comments, and the thread of a new inbox comment is
/// backfilled in the background after the 202.
async fn the_worker_backfills_after_an_inbox_reply_and_periodically(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let top_id = r.note_url("top");
    let sibling = r.publish(r.note("sibling", "bob", &top_id, json!({})));
    r.serve(
        "/notes/top/replies",
        json!({"id": r.url("/notes/top/replies"), "type": "OrderedCollection",
               "orderedItems": [sibling["id"]]}),
    );
    let top = r.publish(r.note(
        "top",
        "alice",
        &post_url(),
        json!({"replies": r.url("/notes/top/replies")}),
    ));
    let (stop_sender, stop) = watch::channel(false);
    let worker = BackfillWorker::spawn(
        s.federation.clone(),
        BackfillLimits::default(),
        stop.clone(),
    );
    let router = inbox::routes::<Federation>().with_state(s.federation.clone());
    let create = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{top_id}/activity"), "type": "Create",
        "actor": r.actor("alice"), "object": top, "to": top["to"], "cc": top["cc"],
    });
    let body = create.to_string().into_bytes();
    let url = Url::parse(&format!("{OUR_BASE}/inbox")).unwrap();
    let signing_key = SigningKey::from_pkcs8_pem(&key().private_key).unwrap();
    let headers = sign_request(
        &Method::POST,
        &url,
        &body,
        &format!("{}#main-key", r.actor("alice")),
        &signing_key,
        SystemTime::now(),
    )
    .unwrap();
    let mut request =
        Request::post("/inbox").header(header::CONTENT_TYPE, "application/activity+json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = router
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // The sibling never reached our inbox; the worker brings it (polled, not timed).
    let sibling_id = sibling["id"].as_str().unwrap().to_owned();
    let mut found = None;
    for _ in 0..600 {
        found = s.comment(&sibling_id).await;
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let found = found.expect("the sibling was backfilled");
    let top_comment = s.comment(&top_id).await.unwrap();
    assert_eq!(found.parent_id, Some(top_comment.id));

    // Shutdown stops the worker.
    stop_sender.send(true).unwrap();
    worker.await.unwrap();

    // The periodic run: a new sibling appears later; the comments are due once the
    // interval passed (zero here).
    let late = r.publish(r.note("late", "carol", &top_id, json!({})));
    r.serve(
        "/notes/top/replies",
        json!({"id": r.url("/notes/top/replies"), "type": "OrderedCollection",
               "orderedItems": [sibling["id"], late["id"]]}),
    );
    let report = Backfiller::new(BackfillLimits {
        min_interval: Duration::ZERO,
        ..BackfillLimits::default()
    })
    .backfill_recent(&s.federation)
    .await
    .unwrap();
    assert_eq!(report.new_comments, 1, "{report:?}");
    assert_eq!(
        s.parent_of(late["id"].as_str().unwrap()).await,
        Some(top_comment.id)
    );
}

/// The inbox never waits for the backfill: requests beyond the queue's capacity are
/// dropped, and without a worker nothing is queued at all.
async fn backfill_requests_beyond_the_queue_are_dropped(db: String) {
    let s = setup(&db).await;
    s.federation.request_backfill("https://m.example/notes/0");
    let (sender, mut receiver) = tokio::sync::mpsc::channel(2);
    s.federation.set_backfill_queue(sender);
    for n in 1..=5 {
        s.federation
            .request_backfill(&format!("https://m.example/notes/{n}"));
    }
    assert_eq!(receiver.recv().await.unwrap(), "https://m.example/notes/1");
    assert_eq!(receiver.recv().await.unwrap(), "https://m.example/notes/2");
    assert!(receiver.try_recv().is_err());
}

/// A blocked author's comment is not refetched, nor its collections read.
async fn a_blocked_authors_comment_is_not_backfilled(db: String) {
    let s = setup(&db).await;
    let r = &s.remote;
    let top_id = r.note_url("top");
    let sibling = r.publish(r.note("sibling", "bob", &top_id, json!({})));
    r.serve(
        "/notes/top/replies",
        json!({"id": r.url("/notes/top/replies"), "type": "OrderedCollection",
               "orderedItems": [sibling["id"]]}),
    );
    s.seeded_top("top", json!({"replies": r.url("/notes/top/replies")}))
        .await;
    s.store()
        .add_block(BlockKind::Actor, &r.actor("alice"), "rude", Utc::now())
        .await
        .unwrap();
    let report = backfill(&s, &top_id).await;
    assert_eq!(report, BackfillReport::default());
    assert_eq!(r.all_gets(), 0);
}

on_both_engines! {
    an_origin_that_never_answers_keeps_our_copy =>
        sqlite_an_origin_that_never_answers_keeps_our_copy,
        postgres_an_origin_that_never_answers_keeps_our_copy;
    backfill_requests_beyond_the_queue_are_dropped =>
        sqlite_backfill_requests_beyond_the_queue_are_dropped,
        postgres_backfill_requests_beyond_the_queue_are_dropped;
    a_blocked_authors_comment_is_not_backfilled =>
        sqlite_a_blocked_authors_comment_is_not_backfilled,
        postgres_a_blocked_authors_comment_is_not_backfilled;
    a_reply_to_a_reply_that_never_reached_us_appears_nested_after_backfill =>
        sqlite_a_reply_to_a_reply_that_never_reached_us_appears_nested_after_backfill,
        postgres_a_reply_to_a_reply_that_never_reached_us_appears_nested_after_backfill;
    the_context_collection_brings_the_rest_of_the_thread =>
        sqlite_the_context_collection_brings_the_rest_of_the_thread,
        postgres_the_context_collection_brings_the_rest_of_the_thread;
    followers_only_items_are_skipped_and_tombstones_are_not_resurrected =>
        sqlite_followers_only_items_are_skipped_and_tombstones_are_not_resurrected,
        postgres_followers_only_items_are_skipped_and_tombstones_are_not_resurrected;
    a_blocked_domain_is_never_fetched =>
        sqlite_a_blocked_domain_is_never_fetched,
        postgres_a_blocked_domain_is_never_fetched;
    a_forged_embedded_item_is_refetched_from_its_origin =>
        sqlite_a_forged_embedded_item_is_refetched_from_its_origin,
        postgres_a_forged_embedded_item_is_refetched_from_its_origin;
    budgets_stop_huge_and_looping_collections =>
        sqlite_budgets_stop_huge_and_looping_collections,
        postgres_budgets_stop_huge_and_looping_collections;
    a_gone_comment_is_deleted_and_tombstoned =>
        sqlite_a_gone_comment_is_deleted_and_tombstoned,
        postgres_a_gone_comment_is_deleted_and_tombstoned;
    a_missing_comment_is_kept_and_not_retried_at_once =>
        sqlite_a_missing_comment_is_kept_and_not_retried_at_once,
        postgres_a_missing_comment_is_kept_and_not_retried_at_once;
    an_unavailable_origin_keeps_our_copy =>
        sqlite_an_unavailable_origin_keeps_our_copy,
        postgres_an_unavailable_origin_keeps_our_copy;
    the_worker_backfills_after_an_inbox_reply_and_periodically =>
        sqlite_the_worker_backfills_after_an_inbox_reply_and_periodically,
        postgres_the_worker_backfills_after_an_inbox_reply_and_periodically;
}
