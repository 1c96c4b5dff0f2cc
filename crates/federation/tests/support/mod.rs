//! The harness of the inbox tests of comments (`comments_intake.rs`,
//! `checklist_comments.rs`): fake remote servers on 127.0.0.1 serve actors and notes,
//! signed activities go to our router, and the store shows what became of them. Every
//! test runs on SQLite, and on PostgreSQL when `GLOSS_TEST_POSTGRES_URL` is set.
//! Each test binary uses part of it.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub(crate) use activitypub_federation::http_signatures::{Keypair, generate_actor_keypair};
pub(crate) use axum::Router;
pub(crate) use axum::body::Body;
pub(crate) use axum::extract::State;
pub(crate) use axum::http::{Method, Request, StatusCode, Uri, header};
pub(crate) use axum::response::{IntoResponse, Response};
pub(crate) use chrono::Utc;
pub(crate) use gloss_federation::context::{Federation, FederationSettings};
pub(crate) use gloss_federation::http_client::{HttpClientSettings, build_client};
pub(crate) use gloss_federation::moderation::CommentsModeration;
pub(crate) use gloss_federation::signatures::{SigningKey, sign_request};
pub(crate) use gloss_federation::{inbox, routes};
pub(crate) use gloss_storage::{
    ActorKey, BlockKind, Comment, CommentFilter, LocalActor, Moderation, ModerationDecider,
    NewAuthor, Page, Post, PostDraft, PostOrigin, PostStatus, Store, Visibility,
};
pub(crate) use serde_json::{Value, json};
pub(crate) use std::collections::HashMap;
pub(crate) use std::future::Future;
pub(crate) use std::sync::{Arc, Mutex, OnceLock};
pub(crate) use std::time::SystemTime;
pub(crate) use tower::ServiceExt;
pub(crate) use url::Url;

/// Our public URL (requests go straight to the router; nothing listens there).
pub(crate) const OUR_BASE: &str = "http://blog.test";
pub(crate) const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// RSA keys are slow to generate: a few, once per test binary.
pub(crate) fn keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| (0..5).map(|_| generate_actor_keypair().unwrap()).collect())
}
pub(crate) const INSTANCE_KEY: usize = 4;
/// The fake actors and their keys.
pub(crate) const ACTORS: [(&str, usize); 4] =
    [("alice", 0), ("bob", 1), ("mallory", 2), ("carol", 3)];

// ---------------------------------------------------------------------------------------
// A fake remote server: actors at /users/{name}, any other document at its path.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Default)]
pub(crate) struct Remote {
    pub(crate) base: Arc<OnceLock<String>>,
    /// Display names (changed to test Update(Person)).
    pub(crate) names: Arc<Mutex<HashMap<String, String>>>,
    /// Path → (status, document).
    pub(crate) documents: Arc<Mutex<HashMap<String, (u16, Value)>>>,
    /// Every GET path, in order.
    pub(crate) gets: Arc<Mutex<Vec<String>>>,
    /// Extra or replaced members of an actor's document (`type`, `published`,
    /// `preferredUsername`, `alsoKnownAs`...).
    pub(crate) actor_extras: Arc<Mutex<HashMap<String, Value>>>,
    /// Path → a body served as is (documents too deep to build as a `Value`).
    pub(crate) raw: Arc<Mutex<HashMap<String, String>>>,
}

impl Remote {
    pub(crate) fn base(&self) -> &str {
        self.base.get().unwrap()
    }
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }
    pub(crate) fn actor(&self, name: &str) -> String {
        self.url(&format!("/users/{name}"))
    }
    pub(crate) fn serve(&self, path: &str, document: Value) {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), (200, document));
    }
    pub(crate) fn serve_status(&self, path: &str, status: u16) {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, Value::Null));
    }
    pub(crate) fn serve_raw(&self, path: &str, body: String) {
        self.raw.lock().unwrap().insert(path.to_owned(), body);
    }
    /// Sets member `member` of actor `name`'s document.
    pub(crate) fn set_actor_member(&self, name: &str, member: &str, value: Value) {
        let mut extras = self.actor_extras.lock().unwrap();
        let entry = extras.entry(name.to_owned()).or_insert_with(|| json!({}));
        entry[member] = value;
    }
    pub(crate) fn gets_of(&self, prefix: &str) -> usize {
        self.gets
            .lock()
            .unwrap()
            .iter()
            .filter(|path| path.starts_with(prefix))
            .count()
    }
    pub(crate) fn all_gets(&self) -> usize {
        self.gets.lock().unwrap().len()
    }
}

pub(crate) async fn remote_handler(
    State(remote): State<Remote>,
    method: Method,
    uri: Uri,
) -> Response {
    if method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri.path().to_owned();
    remote.gets.lock().unwrap().push(path.clone());
    let activity_json = [(header::CONTENT_TYPE, "application/activity+json")];
    if let Some(name) = path.strip_prefix("/users/")
        && let Some((_, key)) = ACTORS.iter().find(|(known, _)| *known == name)
    {
        let id = remote.actor(name);
        let display = remote
            .names
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("{name} display"));
        let mut body = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id, "type": "Person", "preferredUsername": name, "name": display,
            "url": remote.url(&format!("/@{name}")),
            "icon": {"type": "Image", "url": remote.url(&format!("/avatars/{name}.png"))},
            "inbox": format!("{id}/inbox"),
            "publicKey": {"id": format!("{id}#main-key"), "owner": id,
                          "publicKeyPem": keys()[*key].public_key},
        });
        if let Some(Value::Object(extras)) = remote.actor_extras.lock().unwrap().get(name) {
            for (member, value) in extras {
                body[member] = value.clone();
            }
        }
        return (activity_json, body.to_string()).into_response();
    }
    if let Some(body) = remote.raw.lock().unwrap().get(&path).cloned() {
        return (activity_json, body).into_response();
    }
    let Some((status, document)) = remote.documents.lock().unwrap().get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if status != 200 {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    (activity_json, document.to_string()).into_response()
}

pub(crate) async fn spawn_remote() -> Remote {
    let remote = Remote::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    remote
        .base
        .set(format!("http://{}", listener.local_addr().unwrap()))
        .unwrap();
    let app = Router::new()
        .fallback(remote_handler)
        .with_state(remote.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    remote
}

#[macro_use]
mod engines;
pub(crate) use engines::{Engine, run_on};

// ---------------------------------------------------------------------------------------
// Our Gloss instance
// ---------------------------------------------------------------------------------------

pub(crate) struct Setup {
    pub(crate) federation: Federation,
    pub(crate) author: gloss_storage::Author,
    pub(crate) router: Router,
    pub(crate) remote: Remote,
    pub(crate) post: Post,
}

pub(crate) fn post_url() -> String {
    format!("{OUR_BASE}/posts/hello")
}

pub(crate) async fn setup(database_url: &str, mode: CommentsModeration) -> Setup {
    let store = gloss_storage::connect(database_url).await.unwrap();
    store
        .insert_actor_key_if_missing(ActorKey {
            actor: LocalActor::Instance,
            public_key_pem: keys()[INSTANCE_KEY].public_key.clone(),
            private_key_pem: keys()[INSTANCE_KEY].private_key.clone(),
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
    let draft = |slug: &str| PostDraft {
        author_id: author.id,
        title: "Hello".into(),
        slug: slug.into(),
        source: "Hi".into(),
        content_html: "<p>Hi</p>".into(),
        summary: None,
        tags: vec![],
        status: PostStatus::Published,
        origin: PostOrigin::Local,
        published_at: Utc::now(),
        import_key: None,
    };
    let post = store.create_post(draft("hello"), Vec::new()).await.unwrap();
    let closed = store
        .create_post(draft("closed"), Vec::new())
        .await
        .unwrap();
    store
        .set_post_comments_closed(closed.id, true)
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
    federation.set_comments_moderation(mode);
    let router = inbox::routes::<Federation>()
        .merge(routes::routes::<Federation>())
        .with_state(federation.clone());
    Setup {
        federation,
        author,
        router,
        remote: spawn_remote().await,
        post,
    }
}

pub(crate) fn signed_request(
    path: &str,
    body: Vec<u8>,
    key_id: &str,
    private_pem: &str,
) -> Request<Body> {
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

impl Setup {
    /// Posts raw `body` to the shared inbox, signed by `signer` of the main fake server.
    pub(crate) async fn post_bytes(&self, body: Vec<u8>, signer: &str) -> (StatusCode, String) {
        let key = ACTORS.iter().find(|(name, _)| *name == signer).unwrap().1;
        let request = signed_request(
            "/inbox",
            body,
            &format!("{}#main-key", self.remote.actor(signer)),
            &keys()[key].private_key,
        );
        self.send(request).await
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.federation.store().as_ref()
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Posts `activity` to the shared inbox, signed by `signer` of `remote`.
    pub(crate) async fn post_from(
        &self,
        remote: &Remote,
        activity: &Value,
        signer: &str,
    ) -> StatusCode {
        let key = ACTORS.iter().find(|(name, _)| *name == signer).unwrap().1;
        let request = signed_request(
            "/inbox",
            activity.to_string().into_bytes(),
            &format!("{}#main-key", remote.actor(signer)),
            &keys()[key].private_key,
        );
        let (status, body) = self.send(request).await;
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        status
    }

    /// Posts `activity`, signed by `signer` of the main fake server; expects 202.
    pub(crate) async fn post(&self, activity: &Value, signer: &str) {
        let status = self.post_from(&self.remote, activity, signer).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{activity}");
    }

    pub(crate) async fn get_json(&self, path: &str) -> Value {
        let request = Request::get(path)
            .header(header::ACCEPT, "application/activity+json")
            .body(Body::empty())
            .unwrap();
        let (status, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A public note by `author` at `{base}/notes/{name}`, replying to `in_reply_to`.
    pub(crate) fn note(&self, name: &str, author: &str, in_reply_to: &str, content: &str) -> Value {
        note_on(&self.remote, name, author, in_reply_to, content)
    }

    /// `Create` of `note` by its author.
    pub(crate) fn create(&self, note: &Value) -> Value {
        create_on(note)
    }

    pub(crate) fn activity(&self, kind: &str, actor: &str, n: &str, object: Value) -> Value {
        json!({"@context": "https://www.w3.org/ns/activitystreams",
               "id": self.remote.url(&format!("/activities/{kind}-{actor}-{n}")),
               "type": kind, "actor": self.remote.actor(actor), "object": object,
               "to": [PUBLIC]})
    }

    pub(crate) async fn comment(&self, ap_id: &Value) -> Option<Comment> {
        self.store()
            .comment_by_ap_id(ap_id.as_str().unwrap())
            .await
            .unwrap()
    }

    pub(crate) async fn public_comments(&self) -> Vec<Comment> {
        self.store()
            .comments_for_post(self.post.id, CommentFilter::Public)
            .await
            .unwrap()
    }

    pub(crate) async fn all_comments(&self) -> Vec<Comment> {
        self.store()
            .comments_for_post(self.post.id, CommentFilter::All)
            .await
            .unwrap()
    }

    pub(crate) async fn actor_id(&self, name: &str) -> gloss_storage::RemoteActorId {
        self.store()
            .remote_actor_by_ap_id(&self.remote.actor(name))
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

pub(crate) fn note_on(
    remote: &Remote,
    name: &str,
    author: &str,
    in_reply_to: &str,
    content: &str,
) -> Value {
    json!({
        "id": remote.url(&format!("/notes/{name}")),
        "type": "Note",
        "attributedTo": remote.actor(author),
        "inReplyTo": in_reply_to,
        "content": content,
        "published": "2024-05-01T10:00:00Z",
        "url": remote.url(&format!("/@{author}/{name}")),
        "to": [PUBLIC],
        "cc": [format!("{}/followers", remote.actor(author)), format!("{OUR_BASE}/authors/ana")],
        "tag": [{"type": "Mention", "href": format!("{OUR_BASE}/authors/ana"), "name": "@ana@blog.test"}],
    })
}

pub(crate) fn create_on(note: &Value) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/activity", note["id"].as_str().unwrap()),
        "type": "Create",
        "actor": note["attributedTo"],
        "object": note,
        "to": note["to"],
        "cc": note["cc"],
    })
}

pub(crate) fn edited(note: &Value, content: &str, updated: &str) -> Value {
    let mut note = note.clone();
    note["content"] = json!(content);
    note["updated"] = json!(updated);
    note
}
