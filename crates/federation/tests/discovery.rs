//! Router tests of discovery (WebFinger, host-meta, NodeInfo) and the blog actor's
//! negotiation, through `routes()` with `tower::ServiceExt::oneshot`: no socket, so the
//! public URL can be a real-looking https origin without a port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gloss_federation::context::{Federation, FederationSettings};
use gloss_storage::{NewAuthor, Store};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

struct Setup {
    federation: Federation,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
        .await
        .unwrap();
    let federation = Federation::new(
        store.clone(),
        FederationSettings {
            public_url: url::Url::parse("https://blog.example.org").unwrap(),
            blog_handle: "journal".to_owned(),
            allow_private_addresses: false,
            extra_ca_pem: None,
        },
        gloss_federation::http_client::build_client(&Default::default()).unwrap(),
    );
    Setup {
        federation,
        store,
        _dir: dir,
    }
}

async fn author(store: &Arc<dyn Store>, username: &str) {
    store
        .create_author(NewAuthor {
            username: username.to_owned(),
            display_name: username.to_owned(),
            password_hash: None,
            is_admin: false,
            import_key: None,
        })
        .await
        .unwrap();
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }
}

async fn get(federation: &Federation, uri: &str, accept: Option<&str>) -> Answer {
    let app = gloss_federation::routes::routes::<Federation>().with_state(federation.clone());
    let mut request = Request::get(uri);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn webfinger_uri(resource: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("resource", resource)
        .finish();
    format!("/.well-known/webfinger?{query}")
}

#[tokio::test]
async fn the_blog_handle_comes_from_the_settings_and_wins_over_an_author_of_that_name() {
    let s = setup().await;
    author(&s.store, "journal").await;
    author(&s.store, "ann").await;

    let blog = get(
        &s.federation,
        &webfinger_uri("acct:journal@blog.example.org"),
        None,
    )
    .await;
    assert_eq!(blog.status, StatusCode::OK, "{}", blog.body);
    let jrd = blog.json();
    assert_eq!(jrd["subject"], "acct:journal@blog.example.org");
    assert_eq!(jrd["links"][0]["href"], "https://blog.example.org/blog");
    assert_eq!(
        jrd["aliases"],
        serde_json::json!(["https://blog.example.org/blog", "https://blog.example.org/"])
    );

    // The author named like the blog stays reachable by their actor URL.
    let by_url = get(
        &s.federation,
        &webfinger_uri("https://blog.example.org/authors/journal"),
        None,
    )
    .await;
    assert_eq!(by_url.status, StatusCode::OK);
    assert_eq!(
        by_url.json()["links"][0]["href"],
        "https://blog.example.org/authors/journal"
    );

    // The default handle means nothing here.
    let old = get(
        &s.federation,
        &webfinger_uri("acct:blog@blog.example.org"),
        None,
    )
    .await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn webfinger_answers_jrd_with_cors_and_refuses_what_is_not_ours() {
    let s = setup().await;
    author(&s.store, "ann").await;

    let ann = get(
        &s.federation,
        &webfinger_uri("acct:ann@Blog.Example.Org"),
        None,
    )
    .await;
    assert_eq!(ann.status, StatusCode::OK);
    assert_eq!(
        ann.header(header::CONTENT_TYPE),
        "application/jrd+json; charset=utf-8"
    );
    assert_eq!(ann.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    assert_eq!(ann.json()["subject"], "acct:ann@blog.example.org");

    let instance = get(
        &s.federation,
        &webfinger_uri("acct:blog.example.org@blog.example.org"),
        None,
    )
    .await;
    assert_eq!(instance.status, StatusCode::OK);
    let jrd = instance.json();
    assert_eq!(jrd["links"][0]["href"], "https://blog.example.org/instance");
    assert!(
        jrd["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["rel"] != "http://webfinger.net/rel/profile-page"),
        "the instance actor has no profile page"
    );

    for (resource, status) in [
        ("acct:ann@elsewhere.example", StatusCode::NOT_FOUND),
        (
            "https://elsewhere.example/authors/ann",
            StatusCode::NOT_FOUND,
        ),
        ("https://blog.example.org/posts/ann", StatusCode::NOT_FOUND),
        ("acct:nobody@blog.example.org", StatusCode::NOT_FOUND),
        ("acct:ann", StatusCode::BAD_REQUEST),
        ("urn:x", StatusCode::BAD_REQUEST),
    ] {
        let answer = get(&s.federation, &webfinger_uri(resource), None).await;
        assert_eq!(answer.status, status, "{resource}: {}", answer.body);
    }
    let missing = get(&s.federation, "/.well-known/webfinger", None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn host_meta_and_nodeinfo_are_cross_origin_readable() {
    let s = setup().await;
    let xml = get(&s.federation, "/.well-known/host-meta", None).await;
    assert_eq!(xml.status, StatusCode::OK);
    assert_eq!(
        xml.header(header::CONTENT_TYPE),
        "application/xrd+xml; charset=utf-8"
    );
    assert_eq!(xml.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    assert!(xml.body.starts_with("<?xml"));
    assert!(xml.body.contains(
        "<Link rel=\"lrdd\" template=\"https://blog.example.org/.well-known/webfinger?resource={uri}\"/>"
    ));

    let index = get(&s.federation, "/.well-known/nodeinfo", None).await;
    assert_eq!(index.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    assert_eq!(
        index.json()["links"][1]["href"],
        "https://blog.example.org/nodeinfo/2.1"
    );
    let info = get(&s.federation, "/nodeinfo/2.1", None).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.json()["usage"]["users"]["total"], 0);
    assert_eq!(
        info.json()["software"]["version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[tokio::test]
async fn the_blog_actor_is_json_for_mastodon_and_a_redirect_for_browsers() {
    let s = setup().await;
    let mastodon = get(
        &s.federation,
        "/blog",
        Some("application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\", text/html;q=0.1"),
    )
    .await;
    assert_eq!(mastodon.status, StatusCode::OK);
    assert_eq!(
        mastodon.header(header::CONTENT_TYPE),
        "application/activity+json; charset=utf-8"
    );
    assert_eq!(mastodon.header(header::VARY), "Accept");
    let actor = mastodon.json();
    assert_eq!(actor["preferredUsername"], "journal");
    assert_eq!(
        actor["attributionDomains"],
        serde_json::json!(["blog.example.org"])
    );
    assert!(
        actor.get("published").is_none(),
        "no author yet, no start date"
    );

    let browser = get(&s.federation, "/blog", Some("text/html,*/*;q=0.8")).await;
    assert_eq!(browser.status, StatusCode::SEE_OTHER);
    assert_eq!(
        browser.header(header::LOCATION),
        "https://blog.example.org/"
    );
    assert_eq!(browser.header(header::VARY), "Accept");

    let instance = get(&s.federation, "/instance", None).await.json();
    assert_eq!(instance["preferredUsername"], "blog.example.org");
    let outbox = get(&s.federation, "/instance/outbox", None).await.json();
    assert_eq!(outbox["totalItems"], 0);
}
