//! App tests of the federation read side: the real router on a port with a fresh SQLite
//! store, asked what other servers ask (WebFinger, host-meta, NodeInfo, actors,
//! collections, Notes by content negotiation).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_federation::authoring::{self, PostInput};
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::signatures::VerifyingKey;
use gloss_federation::urls::Urls;
use gloss_storage::{
    Author, CommentOrigin, Moderation, NewAuthor, NewComment, Post, PostStatus, Store,
};
use gloss_web::{AppState, WebConfig};
use reqwest::header::{ACCEPT, HeaderMap};
use serde_json::Value;
use std::sync::Arc;

const AP: &str = "application/activity+json";
const LD: &str = "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
const MASTODON: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\", text/html;q=0.1";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

struct TestApp {
    base: String,
    /// `127.0.0.1:PORT`: the host part of our handles.
    host: String,
    store: Arc<dyn Store>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }

    fn is_activity_json(&self) -> bool {
        self.header("content-type") == "application/activity+json; charset=utf-8"
    }

    fn varies_on_accept(&self) -> bool {
        self.headers.get_all("vary").iter().any(|v| {
            v.to_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .contains("accept")
        })
    }
}

impl TestApp {
    async fn spawn() -> TestApp {
        // reqwest is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let base = format!("http://{host}");
        let public_url = url::Url::parse(&base).unwrap();
        let federation = Federation::new(
            store.clone(),
            FederationSettings {
                public_url: public_url.clone(),
                blog_handle: "blog".to_owned(),
                allow_private_addresses: false,
                extra_ca_pem: None,
            },
            gloss_federation::http_client::build_client(&Default::default()).unwrap(),
        );
        let config = WebConfig {
            public_url,
            posts_per_page: 10,
        };
        let app = gloss_web::router(AppState::new(store.clone(), config, federation));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestApp {
            base,
            host,
            store,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    fn urls(&self) -> Urls {
        Urls::new(&url::Url::parse(&self.base).unwrap())
    }

    async fn get(&self, path: &str, accept: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn webfinger(&self, resource: &str) -> Answer {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("resource", resource)
            .finish();
        self.get(&format!("/.well-known/webfinger?{query}"), None)
            .await
    }

    async fn author(&self, username: &str) -> Author {
        self.store
            .create_author(NewAuthor {
                username: username.to_owned(),
                display_name: format!("{username} display"),
                password_hash: None,
                is_admin: true,
                import_key: None,
            })
            .await
            .unwrap()
    }

    async fn post(&self, author: &Author, title: &str, status: PostStatus) -> Post {
        authoring::create_post(
            &*self.store,
            &self.urls(),
            PostInput {
                author_id: author.id,
                title: title.to_owned(),
                slug: None,
                markdown: format!("## Section\n\nBody of *{title}*.\n\n![A cat](/media/cat.png)"),
                summary: None,
                tags: vec!["open source".to_owned()],
                published_at: None,
                status,
            },
        )
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn webfinger_finds_the_blog_the_authors_and_the_instance() {
    let app = TestApp::spawn().await;
    app.author("ann").await;

    let blog = app.webfinger(&format!("acct:blog@{}", app.host)).await;
    assert_eq!(blog.status, 200, "{}", blog.body);
    assert!(
        blog.header("content-type")
            .starts_with("application/jrd+json")
    );
    assert_eq!(blog.header("access-control-allow-origin"), "*");
    let jrd = blog.json();
    assert_eq!(jrd["subject"], format!("acct:blog@{}", app.host));
    let links = jrd["links"].as_array().unwrap();
    let link = |rel: &str| {
        links
            .iter()
            .find(|l| l["rel"] == rel)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(link("self")["type"], "application/activity+json");
    assert_eq!(link("self")["href"], format!("{}/blog", app.base));
    assert_eq!(
        link("http://webfinger.net/rel/profile-page")["type"],
        "text/html"
    );
    assert_eq!(
        link("http://ostatus.org/schema/1.0/subscribe")["template"],
        format!("{}/authorize_interaction?uri={{uri}}", app.base)
    );

    let ann = app
        .webfinger(&format!("acct:ANN@{}", app.host.to_uppercase()))
        .await;
    assert_eq!(ann.status, 200, "{}", ann.body);
    assert_eq!(
        ann.json()["links"][0]["href"],
        format!("{}/authors/ann", app.base)
    );

    let instance = app.webfinger(&format!("acct:127.0.0.1@{}", app.host)).await;
    assert_eq!(instance.status, 200, "{}", instance.body);
    assert_eq!(
        instance.json()["links"][0]["href"],
        format!("{}/instance", app.base)
    );

    let by_url = app.webfinger(&format!("{}/authors/ann", app.base)).await;
    assert_eq!(by_url.status, 200);
    assert_eq!(by_url.json()["subject"], format!("acct:ann@{}", app.host));

    assert_eq!(
        app.webfinger(&format!("acct:nobody@{}", app.host))
            .await
            .status,
        404
    );
    assert_eq!(
        app.webfinger("acct:blog@elsewhere.example").await.status,
        404
    );
    assert_eq!(app.webfinger("acct:blog").await.status, 400);
    assert_eq!(app.get("/.well-known/webfinger", None).await.status, 400);
}

#[tokio::test]
async fn host_meta_points_at_webfinger_in_xml_and_json() {
    let app = TestApp::spawn().await;
    let xml = app.get("/.well-known/host-meta", None).await;
    assert_eq!(xml.status, 200);
    assert!(
        xml.header("content-type")
            .starts_with("application/xrd+xml")
    );
    let template = format!("{}/.well-known/webfinger?resource={{uri}}", app.base);
    assert!(
        xml.body.contains(&format!("template=\"{template}\"")),
        "{}",
        xml.body
    );
    let json = app.get("/.well-known/host-meta.json", None).await;
    assert_eq!(json.status, 200);
    assert_eq!(json.json()["links"][0]["template"], template);
}

#[tokio::test]
async fn nodeinfo_is_discoverable_and_counts_what_exists() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann").await;
    app.author("bob").await;
    let first = app.post(&ann, "First", PostStatus::Published).await;
    app.post(&ann, "Second", PostStatus::Published).await;
    app.post(&ann, "Draft", PostStatus::Draft).await;
    for (moderation, name) in [(Moderation::Approved, "Cy"), (Moderation::Pending, "Di")] {
        app.store
            .add_comment(NewComment {
                post_id: first.id,
                parent_id: None,
                author_name: name.to_owned(),
                author_url: None,
                author_avatar_url: None,
                author_email: None,
                content_html: "<p>hi</p>".to_owned(),
                origin: CommentOrigin::Local,
                moderation,
                ap_id: None,
                published_at: chrono::Utc::now(),
                import_key: None,
                moderation_reason: None,
            })
            .await
            .unwrap();
    }

    let index = app.get("/.well-known/nodeinfo", None).await;
    assert_eq!(index.status, 200);
    let links = index.json()["links"].as_array().unwrap().clone();
    assert_eq!(links.len(), 2);
    for (link, version) in links.iter().zip(["2.0", "2.1"]) {
        assert_eq!(
            link["rel"],
            format!("http://nodeinfo.diaspora.software/ns/schema/{version}")
        );
        let href = link["href"].as_str().unwrap();
        let path = href.strip_prefix(&app.base).unwrap();
        let doc = app.get(path, None).await;
        assert_eq!(doc.status, 200);
        assert_eq!(
            doc.header("content-type"),
            format!(
                "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\""
            )
        );
        let info = doc.json();
        assert_eq!(info["version"], version);
        assert_eq!(info["software"]["name"], "gloss");
        assert_eq!(info["protocols"], serde_json::json!(["activitypub"]));
        assert_eq!(info["openRegistrations"], false);
        assert_eq!(info["usage"]["users"]["total"], 2);
        assert_eq!(info["usage"]["users"]["activeMonth"], 1);
        assert_eq!(info["usage"]["users"]["activeHalfyear"], 1);
        assert_eq!(info["usage"]["localPosts"], 2);
        assert_eq!(info["usage"]["localComments"], 1);
        assert_eq!(info["metadata"]["nodeName"], "Gloss");
        assert_eq!(
            info["software"].get("repository").is_some(),
            version == "2.1"
        );
    }
}

fn assert_actor(actor: &Value, id: &str, kind: &str) {
    assert_eq!(actor["id"], id);
    assert_eq!(actor["type"], kind);
    for field in [
        "preferredUsername",
        "name",
        "inbox",
        "outbox",
        "publicKey",
        "endpoints",
        "manuallyApprovesFollowers",
        "discoverable",
        "url",
    ] {
        assert!(actor.get(field).is_some(), "{kind} lacks {field}: {actor}");
    }
    assert_eq!(actor["publicKey"]["id"], format!("{id}#main-key"));
    assert_eq!(actor["publicKey"]["owner"], id);
    let pem = actor["publicKey"]["publicKeyPem"].as_str().unwrap();
    assert!(VerifyingKey::from_pem(pem).is_ok(), "unusable key: {pem}");
    let context = actor["@context"].to_string();
    assert!(context.contains("https://www.w3.org/ns/activitystreams"));
    assert!(context.contains("https://w3id.org/security/v1"));
}

#[tokio::test]
async fn the_actors_answer_with_complete_documents() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann").await;

    let blog = app.get("/blog", Some(AP)).await;
    assert_eq!(blog.status, 200, "{}", blog.body);
    assert!(blog.is_activity_json());
    assert!(blog.varies_on_accept());
    let actor = blog.json();
    assert_actor(&actor, &format!("{}/blog", app.base), "Service");
    assert_eq!(actor["preferredUsername"], "blog");
    assert_eq!(actor["url"], format!("{}/", app.base));
    for field in [
        "followers",
        "following",
        "featured",
        "summary",
        "published",
        "indexable",
        "attributionDomains",
    ] {
        assert!(actor.get(field).is_some(), "blog lacks {field}");
    }
    assert_eq!(
        actor["endpoints"]["sharedInbox"],
        format!("{}/inbox", app.base)
    );
    assert_eq!(
        actor["published"].as_str().unwrap().len(),
        20,
        "whole seconds, Z"
    );

    let browser = app.get("/blog", Some(BROWSER)).await;
    assert_eq!(browser.status, 303);
    assert_eq!(browser.header("location"), format!("{}/", app.base));

    let author = app.get("/authors/ann", Some(LD)).await;
    assert_eq!(author.status, 200, "{}", author.body);
    assert!(author.is_activity_json());
    assert!(author.varies_on_accept());
    let actor = author.json();
    assert_actor(&actor, &format!("{}/authors/ann", app.base), "Person");
    assert_eq!(actor["name"], "ann display");
    assert_eq!(
        actor["published"],
        ann.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    // The same key every time: it is stored, not regenerated.
    let again = app.get("/authors/ann", Some(AP)).await.json();
    assert_eq!(again["publicKey"], actor["publicKey"]);

    let instance = app.get("/instance", None).await;
    assert_eq!(instance.status, 200);
    assert!(instance.is_activity_json());
    let actor = instance.json();
    assert_actor(&actor, &format!("{}/instance", app.base), "Application");
    assert_eq!(actor["preferredUsername"], "127.0.0.1");
    assert_eq!(actor["manuallyApprovesFollowers"], true);
    assert_eq!(actor["discoverable"], false);

    assert_eq!(app.get("/authors/nobody", Some(AP)).await.status, 404);

    // Browsers still get the author page, which points at the actor.
    let page = app.get("/authors/ann", Some(BROWSER)).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.varies_on_accept());
    assert!(page.body.contains(&format!(
        "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{}/authors/ann\">",
        app.base
    )));
    let home = app.get("/", None).await;
    assert!(home.body.contains(&format!(
        "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{}/blog\">",
        app.base
    )));
}

#[tokio::test]
async fn a_post_permalink_negotiates_html_or_its_note() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann").await;
    let post = app.post(&ann, "Hello world", PostStatus::Published).await;
    let path = format!("/posts/{}", post.slug);
    let id = format!("{}{path}", app.base);

    let html = app.get(&path, None).await;
    assert_eq!(html.status, 200);
    assert!(html.header("content-type").starts_with("text/html"));
    assert!(html.varies_on_accept());
    assert!(html.body.contains(&format!(
        "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{id}\">"
    )));
    assert!(html.body.contains(&format!(
        "<meta name=\"fediverse:creator\" content=\"@ann@{}\">",
        app.host
    )));
    let browser = app.get(&path, Some(BROWSER)).await;
    assert!(browser.header("content-type").starts_with("text/html"));

    for accept in [AP, LD, MASTODON] {
        let answer = app.get(&path, Some(accept)).await;
        assert_eq!(answer.status, 200, "{accept}: {}", answer.body);
        assert!(answer.is_activity_json(), "{accept}");
        assert!(answer.varies_on_accept(), "{accept}");
        let note = answer.json();
        assert_eq!(note["type"], "Note");
        assert_eq!(note["id"], id);
        assert_eq!(note["url"], id);
        assert_eq!(note["attributedTo"], format!("{}/authors/ann", app.base));
        let content = note["content"].as_str().unwrap();
        assert!(
            content
                .starts_with("<p><strong>Hello world</strong></p><p><strong>Section</strong></p>"),
            "{content}"
        );
        assert!(!content.contains("<img"), "{content}");
        assert_eq!(
            note["attachment"][0]["url"],
            format!("{}/media/cat.png", app.base)
        );
        assert_eq!(note["attachment"][0]["name"], "A cat");
        assert_eq!(note["tag"][0]["name"], "#OpenSource");
        assert_eq!(note["replies"], format!("{id}/replies"));
        assert!(note.get("updated").is_none());
    }
}

#[tokio::test]
async fn deleted_posts_are_gone_and_drafts_do_not_exist() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann").await;
    let doomed = app.post(&ann, "Doomed", PostStatus::Published).await;
    let draft = app.post(&ann, "Secret", PostStatus::Draft).await;
    authoring::delete_post(&*app.store, &app.urls(), doomed.id)
        .await
        .unwrap();

    let path = format!("/posts/{}", doomed.slug);
    let gone = app.get(&path, Some(AP)).await;
    assert_eq!(gone.status, 410);
    assert!(gone.is_activity_json());
    assert!(gone.varies_on_accept());
    let tombstone = gone.json();
    assert_eq!(tombstone["type"], "Tombstone");
    assert_eq!(tombstone["formerType"], "Note");
    assert_eq!(tombstone["id"], format!("{}{path}", app.base));
    let page = app.get(&path, Some(BROWSER)).await;
    assert_eq!(page.status, 410);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.varies_on_accept());

    let secret = format!("/posts/{}", draft.slug);
    assert_eq!(app.get(&secret, Some(AP)).await.status, 404);
    assert_eq!(app.get(&secret, None).await.status, 404);
    assert_eq!(
        app.get(&format!("{secret}/replies"), Some(AP)).await.status,
        404
    );
    assert_eq!(
        app.get(&format!("{path}/replies"), Some(AP)).await.status,
        410
    );
}

#[tokio::test]
async fn collections_tell_their_size() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann").await;
    let kept = app.post(&ann, "Kept", PostStatus::Published).await;
    let doomed = app.post(&ann, "Doomed", PostStatus::Published).await;
    app.post(&ann, "Draft", PostStatus::Draft).await;

    // Outboxes: the author's Creates, the blog's Announces.
    for (path, kind) in [
        ("/authors/ann/outbox", "Create"),
        ("/blog/outbox", "Announce"),
    ] {
        let answer = app.get(path, Some(AP)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert!(answer.is_activity_json());
        let outbox = answer.json();
        assert_eq!(outbox["type"], "OrderedCollection");
        assert_eq!(outbox["totalItems"], 2, "{path}: {outbox}");
        let items = outbox["first"]["orderedItems"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{path}");
        assert!(items.iter().all(|item| item["type"] == kind), "{path}");
        assert!(items.iter().all(|item| item.get("@context").is_none()));
    }

    // An activity is served at its id.
    let outbox = app.get("/authors/ann/outbox", Some(AP)).await.json();
    let create = outbox["first"]["orderedItems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| {
            item["object"]["id"]
                .as_str()
                .is_some_and(|id| id.ends_with(&doomed.slug))
        })
        .cloned()
        .unwrap();
    let create_path = create["id"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .to_owned();
    let answer = app.get(&create_path, Some(AP)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.is_activity_json());
    assert_eq!(answer.json()["type"], "Create");
    assert_eq!(
        app.get("/activities/0190f0f0-0000-7000-8000-000000000000", Some(AP))
            .await
            .status,
        404
    );

    // After a deletion, the outbox stops showing the post and its Create is gone.
    authoring::delete_post(&*app.store, &app.urls(), doomed.id)
        .await
        .unwrap();
    let outbox = app.get("/authors/ann/outbox", Some(AP)).await.json();
    let items = outbox["first"]["orderedItems"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        items[0]["object"]["id"]
            .as_str()
            .unwrap()
            .ends_with(&kept.slug)
    );
    assert_eq!(app.get(&create_path, Some(AP)).await.status, 410);

    for path in ["/blog/followers", "/authors/ann/followers"] {
        let followers = app.get(path, Some(AP)).await.json();
        assert_eq!(followers["type"], "OrderedCollection");
        assert_eq!(followers["totalItems"], 0);
        assert!(
            followers.get("orderedItems").is_none(),
            "followers are not listed"
        );
    }
    for path in [
        "/blog/following",
        "/authors/ann/following",
        "/blog/featured",
        "/authors/ann/featured",
    ] {
        let collection = app.get(path, Some(AP)).await.json();
        assert_eq!(collection["totalItems"], 0, "{path}");
        assert_eq!(collection["orderedItems"], serde_json::json!([]), "{path}");
    }
    assert_eq!(
        app.get("/authors/nobody/followers", Some(AP)).await.status,
        404
    );

    let replies = app
        .get(&format!("/posts/{}/replies", kept.slug), Some(AP))
        .await;
    assert_eq!(replies.status, 200);
    assert_eq!(replies.json()["totalItems"], 0);
    let context = app
        .get(&format!("/posts/{}/context", kept.slug), Some(AP))
        .await
        .json();
    assert_eq!(context["type"], "OrderedCollection");
    assert_eq!(context["attributedTo"], format!("{}/authors/ann", app.base));
}
