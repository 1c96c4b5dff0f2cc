#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every activity of the fixture corpus (../shared/fixtures/corpus: real JSON from
//! Mastodon, Pleroma, Lemmy, Friendica, PeerTube...) and every post-like object in it
//! (wrapped in a Create by its author) goes through the signed inbox and is answered 202:
//! handled, or ignored with a logged reason; never a 500.
//!
//! The documents name servers on the internet. Every http(s) URL in them is moved onto a
//! fake server on 127.0.0.1 (same path), which serves the actor that signs the request and
//! answers 404 for everything else, so that nothing leaves the machine and each activity's
//! id, actor and objects keep the relations they had. A second pass points every Create's
//! object at our post (`inReplyTo`), so that the whole comment path runs on real shapes.

use activitypub_federation::http_signatures::{Keypair, generate_actor_keypair};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::http_client::{HttpClientSettings, build_client};
use gloss_federation::inbox;
use gloss_federation::moderation::CommentsModeration;
use gloss_federation::signatures::{SigningKey, sign_request};
use gloss_storage::{
    ActorKey, CommentFilter, LocalActor, NewAuthor, Post, PostDraft, PostOrigin, PostStatus,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use tower::ServiceExt;
use url::Url;

const CORPUS: &str = "/work/shared/fixtures/corpus";
const OUR_BASE: &str = "http://blog.test";
const ACTIVITY_KINDS: [&str; 9] = [
    "Create",
    "Update",
    "Delete",
    "Like",
    "Dislike",
    "Announce",
    "Undo",
    "Flag",
    "EmojiReact",
];
const OBJECT_KINDS: [&str; 4] = ["Note", "Article", "Page", "Question"];

fn keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| (0..2).map(|_| generate_actor_keypair().unwrap()).collect())
}
const ACTOR_KEY: usize = 0;
const INSTANCE_KEY: usize = 1;

/// The fake server: one actor path that signs; everything else is 404.
#[derive(Clone, Default)]
struct Fake {
    base: Arc<OnceLock<String>>,
    actor_path: Arc<Mutex<String>>,
}

async fn fake_handler(State(fake): State<Fake>, method: Method, uri: Uri) -> Response {
    let actor_path = fake.actor_path.lock().unwrap().clone();
    if method != Method::GET || uri.path() != actor_path {
        return StatusCode::NOT_FOUND.into_response();
    }
    let id = format!("{}{actor_path}", fake.base.get().unwrap());
    let body = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Person", "preferredUsername": "someone", "name": "Someone",
        "inbox": format!("{id}/inbox"),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id,
                      "publicKeyPem": keys()[ACTOR_KEY].public_key},
    });
    (
        [(header::CONTENT_TYPE, "application/activity+json")],
        body.to_string(),
    )
        .into_response()
}

async fn spawn_fake() -> Fake {
    let fake = Fake::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    fake.base
        .set(format!("http://{}", listener.local_addr().unwrap()))
        .unwrap();
    let app = Router::new()
        .fallback(fake_handler)
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

/// Moves every http(s) URL onto `base`, keeping its path, query and fragment; the
/// ActivityStreams namespace (`Public`, `@context`) stays as it is.
fn rehost(value: &mut Value, base: &str) {
    match value {
        Value::String(text) => {
            if text.starts_with("https://www.w3.org/") || text.starts_with("https://w3id.org/") {
                return;
            }
            if let Ok(url) = Url::parse(text)
                && matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
            {
                let mut moved = format!("{base}{}", url.path());
                if let Some(query) = url.query() {
                    moved.push('?');
                    moved.push_str(query);
                }
                if let Some(fragment) = url.fragment() {
                    moved.push('#');
                    moved.push_str(fragment);
                }
                *text = moved;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rehost(item, base)),
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key != "@context" {
                    rehost(item, base);
                }
            }
        }
        _ => {}
    }
}

fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_owned),
        Value::Array(items) => items.first().and_then(id_of),
        _ => None,
    }
}

fn kind_of(value: &Value) -> Option<String> {
    match value.get("type")? {
        Value::String(kind) => Some(kind.clone()),
        Value::Array(kinds) => kinds.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// The corpus documents this test sends: activities of the kinds a blog receives, and
/// post-like objects wrapped in a Create by their author.
fn corpus() -> Vec<(String, Value)> {
    let mut files = Vec::new();
    json_files(Path::new(CORPUS), &mut files);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.strip_prefix(CORPUS).unwrap().display().to_string();
        let Ok(value) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap())
        else {
            continue;
        };
        let Some(kind) = kind_of(&value) else {
            continue;
        };
        if ACTIVITY_KINDS.contains(&kind.as_str()) {
            out.push((name, value));
        } else if OBJECT_KINDS.contains(&kind.as_str()) {
            let Some(author) = value.get("attributedTo").and_then(|a| match a {
                Value::Array(items) => items
                    .iter()
                    .find(|item| item.get("type").and_then(Value::as_str) == Some("Person"))
                    .and_then(id_of)
                    .or_else(|| items.first().and_then(id_of)),
                other => id_of(other),
            }) else {
                continue;
            };
            let Some(id) = id_of(&value) else { continue };
            let create = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{id}#create"),
                "type": "Create",
                "actor": author,
                "object": value,
                "to": value.get("to").cloned().unwrap_or(Value::Null),
                "cc": value.get("cc").cloned().unwrap_or(Value::Null),
            });
            out.push((format!("{name} (in a Create)"), create));
        }
    }
    out
}

struct Gloss {
    router: Router,
    federation: Federation,
    post: Post,
    _dir: tempfile::TempDir,
}

async fn gloss() -> Gloss {
    let dir = tempfile::tempdir().unwrap();
    let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
        .await
        .unwrap();
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
    Gloss {
        router: inbox::routes::<Federation>().with_state(federation.clone()),
        federation,
        post,
        _dir: dir,
    }
}

/// Sends `activity` (already rehosted onto `fake`) signed by its actor.
async fn deliver(g: &Gloss, fake: &Fake, activity: &Value) -> (StatusCode, String) {
    let actor = id_of(&activity["actor"]).unwrap_or_default();
    let actor_url = Url::parse(&actor).unwrap();
    *fake.actor_path.lock().unwrap() = actor_url.path().to_owned();
    let body = activity.to_string().into_bytes();
    let url = Url::parse(&format!("{OUR_BASE}/inbox")).unwrap();
    let key = SigningKey::from_pkcs8_pem(&keys()[ACTOR_KEY].private_key).unwrap();
    let mut key_id = actor_url.clone();
    key_id.set_fragment(Some("main-key"));
    let headers = sign_request(
        &Method::POST,
        &url,
        &body,
        key_id.as_str(),
        &key,
        SystemTime::now(),
    )
    .unwrap();
    let mut request =
        Request::post("/inbox").header(header::CONTENT_TYPE, "application/activity+json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = g
        .router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let text = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&text).into_owned())
}

#[tokio::test]
async fn every_corpus_activity_is_answered_202_and_replies_to_our_post_are_stored() {
    let documents = corpus();
    assert!(
        documents.len() >= 40,
        "the corpus is missing? {} documents",
        documents.len()
    );
    let fake = spawn_fake().await;
    let base = fake.base.get().unwrap().clone();
    let mut refused = Vec::new();
    let mut stored = Vec::new();
    for (name, document) in &documents {
        for as_reply_to_us in [false, true] {
            let mut activity = document.clone();
            rehost(&mut activity, &base);
            let is_create = kind_of(&activity).as_deref() == Some("Create");
            if as_reply_to_us {
                if !is_create || !activity["object"].is_object() {
                    continue;
                }
                activity["object"]["inReplyTo"] = json!(format!("{OUR_BASE}/posts/hello"));
            }
            let g = gloss().await;
            let (status, text) = deliver(&g, &fake, &activity).await;
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name}: {text}");
            if status != StatusCode::ACCEPTED {
                refused.push(format!("{name} (reply: {as_reply_to_us}): {status} {text}"));
                continue;
            }
            if as_reply_to_us {
                let comments = g
                    .federation
                    .store()
                    .comments_for_post(g.post.id, CommentFilter::All)
                    .await
                    .unwrap();
                let object_id = id_of(&activity["object"]);
                let comment = comments
                    .iter()
                    .find(|c| c.ap_id.is_some() && c.ap_id == object_id);
                if let Some(comment) = comment {
                    // P8: private messages stay private whatever they reply to.
                    if name.contains("private_message") {
                        assert!(comment.is_private(), "{name}: {:?}", comment.visibility);
                    }
                    stored.push(name.clone());
                }
            }
        }
    }
    println!("stored as comments: {stored:#?}");
    assert!(refused.is_empty(), "not answered 202: {refused:#?}");
    // Every Create of a post-like object by its own author becomes a comment once it
    // replies to our post.
    for expected in [
        "mastodon/activities/create_note.json",
        "pleroma/activities/create_note.json",
        "lemmy/activities/create_or_update/create_comment.json",
        "friendica/activities/create_note.json",
        "smithereen/activities/create_note.json",
        "gnusocial/activities/create_note.json",
        "mitra/activities/create_post.json",
        "mastodon/objects/note_1.json (in a Create)",
        "wordpress/objects/note.json (in a Create)",
    ] {
        assert!(
            stored.iter().any(|name| name == expected),
            "{expected} was not stored; stored: {stored:#?}"
        );
    }
}
