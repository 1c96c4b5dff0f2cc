//! App tests of "Reply from your fediverse account" and "Follow this blog": the real
//! router on a port with a fresh SQLite store, and a fake fediverse server on
//! 127.0.0.1 that answers WebFinger (only the remote side is faked). The federation
//! client is allowed private addresses, as on a test network, except where a test
//! checks that production refuses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gloss_federation::authoring::{self, PostInput};
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::http_client::{HttpClientSettings, build_client};
use gloss_storage::{
    Author, Comment, CommentOrigin, Moderation, NewAuthor, NewComment, Post, PostStatus, Store,
};
use gloss_web::{AppState, WebConfig};
use reqwest::header::HeaderMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// ---- the fake remote server ----

/// What the fake server answers for one WebFinger resource.
#[derive(Clone)]
struct FakeAnswer {
    status: u16,
    content_type: &'static str,
    body: String,
    location: Option<String>,
}

#[derive(Clone, Default)]
struct Remote {
    answers: Arc<Mutex<HashMap<String, FakeAnswer>>>,
    webfinger_hits: Arc<AtomicUsize>,
    other_hits: Arc<AtomicUsize>,
    /// The software NodeInfo names (no NodeInfo at all when `None`), and where the
    /// index points (our own `/nodeinfo/2.1` when `None`).
    nodeinfo: Arc<Mutex<(Option<String>, Option<String>)>>,
    nodeinfo_document_hits: Arc<AtomicUsize>,
}

struct FakeServer {
    /// `127.0.0.1:PORT`
    host: String,
    remote: Remote,
}

impl FakeServer {
    async fn spawn() -> FakeServer {
        let remote = Remote::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let app = axum::Router::new()
            .route("/.well-known/webfinger", axum::routing::get(webfinger))
            .route("/.well-known/nodeinfo", axum::routing::get(nodeinfo_index))
            .route("/nodeinfo/2.1", axum::routing::get(nodeinfo_document))
            .fallback(other)
            .with_state(remote.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeServer { host, remote }
    }

    /// Answers `acct:{user}@{host}` with `body` (JRD) and status 200.
    fn jrd(&self, user: &str, body: serde_json::Value) {
        self.answer(
            user,
            FakeAnswer {
                status: 200,
                content_type: "application/jrd+json; charset=utf-8",
                body: body.to_string(),
                location: None,
            },
        );
    }

    fn answer(&self, user: &str, answer: FakeAnswer) {
        self.remote
            .answers
            .lock()
            .unwrap()
            .insert(format!("acct:{user}@{}", self.host), answer);
    }

    /// A Mastodon-like JRD for `user` with the given subscribe template.
    fn mastodon_jrd(&self, user: &str, template: &str) -> serde_json::Value {
        serde_json::json!({
            "subject": format!("acct:{user}@{}", self.host),
            "aliases": [format!("http://{}/users/{user}", self.host)],
            "links": [
                {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html",
                 "href": format!("http://{}/@{user}", self.host)},
                {"rel": "self", "type": "application/activity+json",
                 "href": format!("http://{}/users/{user}", self.host)},
                {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": template},
            ]
        })
    }

    /// Serves NodeInfo naming `software`, or none at all.
    fn nodeinfo(&self, software: Option<&str>, href: Option<&str>) {
        *self.remote.nodeinfo.lock().unwrap() =
            (software.map(str::to_owned), href.map(str::to_owned));
    }

    fn nodeinfo_document_hits(&self) -> usize {
        self.remote.nodeinfo_document_hits.load(Ordering::SeqCst)
    }

    fn webfinger_hits(&self) -> usize {
        self.remote.webfinger_hits.load(Ordering::SeqCst)
    }

    fn other_hits(&self) -> usize {
        self.remote.other_hits.load(Ordering::SeqCst)
    }
}

async fn webfinger(State(remote): State<Remote>, RawQuery(query): RawQuery) -> Response {
    remote.webfinger_hits.fetch_add(1, Ordering::SeqCst);
    let resource = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "resource")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let answer = remote.answers.lock().unwrap().get(&resource).cloned();
    let Some(answer) = answer else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response();
    if let Some(location) = answer.location {
        response
            .headers_mut()
            .insert(header::LOCATION, HeaderValue::from_str(&location).unwrap());
    }
    response
}

async fn nodeinfo_index(State(remote): State<Remote>, headers: axum::http::HeaderMap) -> Response {
    let (software, href) = remote.nodeinfo.lock().unwrap().clone();
    if software.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let href = href.unwrap_or_else(|| format!("http://{host}/nodeinfo/2.1"));
    axum::Json(serde_json::json!({"links": [
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": href}
    ]}))
    .into_response()
}

async fn nodeinfo_document(State(remote): State<Remote>) -> Response {
    remote.nodeinfo_document_hits.fetch_add(1, Ordering::SeqCst);
    let (software, _) = remote.nodeinfo.lock().unwrap().clone();
    match software {
        Some(name) => axum::Json(serde_json::json!({
            "version": "2.1",
            "software": {"name": name, "version": "1.0"},
            "protocols": ["activitypub"],
        }))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn other(State(remote): State<Remote>) -> StatusCode {
    remote.other_hits.fetch_add(1, Ordering::SeqCst);
    StatusCode::NOT_FOUND
}

// ---- the Gloss under test ----

struct TestApp {
    base: String,
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

    fn location(&self) -> &str {
        self.header("location")
    }
}

/// How a request reaches `/interact/go`.
#[derive(Clone, Copy)]
enum Origin {
    /// From our own form (what a browser sends on submit).
    OurForm,
    /// From a link on another site.
    OtherSite,
}

impl TestApp {
    async fn spawn() -> TestApp {
        TestApp::spawn_with(true).await
    }

    async fn spawn_with(allow_private_addresses: bool) -> TestApp {
        // reqwest is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let public_url = url::Url::parse(&base).unwrap();
        let client_settings = HttpClientSettings {
            allow_private_addresses,
            ..Default::default()
        };
        let federation = Federation::with_delivery_client(
            store.clone(),
            FederationSettings {
                public_url: public_url.clone(),
                blog_handle: "blog".to_owned(),
                allow_private_addresses,
                extra_ca_pem: None,
            },
            build_client(&client_settings).unwrap(),
            build_client(&HttpClientSettings {
                refuse_redirects: true,
                ..client_settings
            })
            .unwrap(),
        );
        let config = WebConfig {
            public_url,
            posts_per_page: 10,
        };
        let app = gloss_web::router(AppState::new(store.clone(), config, federation));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestApp {
            base,
            store,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request).await
    }

    /// Submits the form: `GET /interact/go?uri=…&account=…&remember=1`.
    async fn go(&self, uri: &str, account: &str, origin: Origin) -> Answer {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("uri", uri)
            .append_pair("account", account)
            .append_pair("remember", "1")
            .finish();
        let mut request = self
            .client
            .get(format!("{}/interact/go?{query}", self.base));
        request = match origin {
            Origin::OurForm => request.header("sec-fetch-site", "same-origin"),
            Origin::OtherSite => request.header("sec-fetch-site", "cross-site"),
        };
        self.send(request).await
    }

    async fn author(&self) -> Author {
        self.store
            .create_author(NewAuthor {
                username: "ann".to_owned(),
                display_name: "Ann".to_owned(),
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
            &gloss_federation::urls::Urls::new(&url::Url::parse(&self.base).unwrap()),
            PostInput {
                author_id: author.id,
                title: title.to_owned(),
                slug: None,
                markdown: "Some text.".to_owned(),
                summary: None,
                tags: vec![],
                published_at: None,
                status,
            },
        )
        .await
        .unwrap()
    }

    async fn comment(
        &self,
        post: &Post,
        ap_id: Option<&str>,
        moderation: Moderation,
        name: &str,
    ) -> Comment {
        self.store
            .add_comment(NewComment {
                post_id: post.id,
                parent_id: None,
                author_name: name.to_owned(),
                author_url: None,
                author_avatar_url: None,
                author_email: None,
                content_html: format!("<p>words of {name}</p>"),
                origin: if ap_id.is_some() {
                    CommentOrigin::Fediverse
                } else {
                    CommentOrigin::Imported
                },
                moderation,
                ap_id: ap_id.map(str::to_owned),
                published_at: chrono::Utc::now(),
                import_key: None,
                moderation_reason: None,
            })
            .await
            .unwrap()
    }

    fn post_uri(&self, post: &Post) -> String {
        format!("{}/posts/{}", self.base, post.slug)
    }
}

fn encode(value: &str) -> String {
    gloss_federation::interaction::percent_encode_component(value)
}

// ---- tests ----

#[tokio::test]
async fn a_handle_is_sent_to_its_servers_template_with_our_uri_and_remembered() {
    let app = TestApp::spawn().await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let template = format!("http://{}/authorize_interaction?uri={{uri}}", remote.host);
    remote.jrd("bob", remote.mastodon_jrd("bob", &template));

    let handle = format!("@bob@{}", remote.host);
    let answer = app.go(&app.post_uri(&post), &handle, Origin::OurForm).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(
        answer.location(),
        format!(
            "http://{}/authorize_interaction?uri={}",
            remote.host,
            encode(&app.post_uri(&post))
        )
    );
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(remote.webfinger_hits(), 1);

    let cookie = answer.header("set-cookie");
    assert!(
        cookie.starts_with(&format!("gloss_fediverse={handle};")),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=31536000"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http blog: {cookie}");

    // The browser sends the cookie back: every form is pre-filled, privately.
    let cookie_header = format!("gloss_fediverse={handle}");
    let page = app
        .get(&format!("/posts/{}", post.slug), Some(&cookie_header))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("value=\"{handle}\"")),
        "{}",
        page.body
    );
    assert_eq!(page.header("cache-control"), "private");
    assert!(page.headers.get_all("vary").iter().any(|v| v == "Cookie"));
    assert!(
        page.body.contains(&format!(
            "<a href=\"/interact?uri={}\">Forget it</a>",
            encode(&app.post_uri(&post))
        )),
        "{}",
        page.body
    );
    let home = app.get("/", Some(&cookie_header)).await;
    assert!(home.body.contains(&format!("value=\"{handle}\"")));
    let form = app
        .get(
            &format!("/interact?uri={}", encode(&app.post_uri(&post))),
            Some(&cookie_header),
        )
        .await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(&format!("value=\"{handle}\"")));
    assert!(form.body.contains("Forget my account on this browser"));

    // A tampered cookie is ignored, not echoed.
    let tampered = app
        .get("/", Some("gloss_fediverse=\"><script>alert(1)</script>"))
        .await;
    assert!(!tampered.body.contains("<script>alert(1)"));
    assert_ne!(tampered.header("cache-control"), "private");
}

#[tokio::test]
async fn forgetting_clears_the_cookie_and_returns_to_the_form() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let answer = app
        .send(
            app.client
                .post(format!("{}/interact/forget", app.base))
                .form(&[("uri", app.post_uri(&post))]),
        )
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(
        answer.location(),
        format!("/interact?uri={}", encode(&app.post_uri(&post)))
    );
    let cookie = answer.header("set-cookie");
    assert!(cookie.starts_with("gloss_fediverse=;"), "{cookie}");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");

    // Whatever else is posted, it goes home: never to an address taken from the form.
    let answer = app
        .send(
            app.client
                .post(format!("{}/interact/forget", app.base))
                .form(&[("uri", "https://evil.example/")]),
        )
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location(), "/");
}

#[tokio::test]
async fn a_bare_instance_goes_where_its_software_expects_or_to_authorize_interaction() {
    let app = TestApp::spawn().await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let post_uri = encode(&app.post_uri(&post));

    // No NodeInfo: Mastodon's convention, over https.
    for typed in [
        remote.host.clone(),
        format!("http://{}/", remote.host),
        format!("@{}", remote.host),
    ] {
        let answer = app.go(&app.post_uri(&post), &typed, Origin::OurForm).await;
        assert_eq!(answer.status, 303, "{typed}: {}", answer.body);
        assert_eq!(
            answer.location(),
            format!(
                "https://{}/authorize_interaction?uri={post_uri}",
                remote.host
            ),
            "{typed}"
        );
        assert!(
            answer
                .header("set-cookie")
                .starts_with(&format!("gloss_fediverse={};", remote.host))
        );
    }
    assert_eq!(remote.webfinger_hits() + remote.other_hits(), 0);

    // NodeInfo names the software, which picks the path (reached over plain http on this
    // test network, so the target is plain http too).
    for (software, path) in [
        ("mastodon", format!("/authorize_interaction?uri={post_uri}")),
        ("misskey", format!("/authorize-follow?acct={post_uri}")),
        ("Sharkey", format!("/authorize-follow?acct={post_uri}")),
        ("akkoma", format!("/ostatus_subscribe?acct={post_uri}")),
        ("pleroma", format!("/ostatus_subscribe?acct={post_uri}")),
    ] {
        remote.nodeinfo(Some(software), None);
        let answer = app
            .go(&app.post_uri(&post), &remote.host, Origin::OurForm)
            .await;
        assert_eq!(answer.status, 303, "{software}: {}", answer.body);
        assert_eq!(
            answer.location(),
            format!("http://{}{path}", remote.host),
            "{software}"
        );
    }

    // GoToSocial has no interaction page: say so rather than guess.
    remote.nodeinfo(Some("gotosocial"), None);
    let answer = app
        .go(&app.post_uri(&post), &remote.host, Origin::OurForm)
        .await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert!(answer.body.contains("does not offer remote interaction"));
    assert!(
        answer
            .body
            .contains(&format!("<code>{}</code>", app.post_uri(&post)))
    );

    // A NodeInfo index pointing elsewhere is not followed.
    remote.nodeinfo(Some("misskey"), Some("https://evil.example/nodeinfo/2.1"));
    let hits = remote.nodeinfo_document_hits();
    let answer = app
        .go(&app.post_uri(&post), &remote.host, Origin::OurForm)
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert!(answer.location().contains("/authorize_interaction?uri="));
    assert_eq!(remote.nodeinfo_document_hits(), hits);

    // The blog's own follow form sends the blog actor.
    remote.nodeinfo(None, None);
    let follow = app
        .go(&format!("{}/blog", app.base), &remote.host, Origin::OurForm)
        .await;
    assert_eq!(follow.status, 303, "{}", follow.body);
    assert_eq!(
        follow.location(),
        format!(
            "https://{}/authorize_interaction?uri={}",
            remote.host,
            encode(&format!("{}/blog", app.base))
        )
    );
    assert_eq!(remote.webfinger_hits() + remote.other_hits(), 0);
}

#[tokio::test]
async fn only_our_own_objects_can_be_interacted_with() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let draft = app.post(&ann, "Draft", PostStatus::Draft).await;
    let held = app
        .comment(
            &post,
            Some("https://social.example/statuses/held"),
            Moderation::Pending,
            "Held",
        )
        .await;
    let held_uri = held.ap_id.clone().unwrap();
    for uri in [
        "",
        "https://evil.example/posts/hello",
        "javascript:alert(1)",
        "not a url",
        &format!("{}/posts/no-such-post", app.base),
        &app.post_uri(&draft),
        &format!("{}/authors/nobody", app.base),
        &format!("{}/instance", app.base),
        &format!("{}/admin", app.base),
        &held_uri,
        "https://social.example/statuses/unknown",
        &format!("{}/posts/{}", app.base, "x".repeat(3000)),
    ] {
        let go = app.go(uri, "social.example", Origin::OurForm).await;
        assert_eq!(go.status, 400, "{uri}: {}", go.body);
        assert_eq!(go.location(), "", "{uri}");
        let form = app
            .get(&format!("/interact?uri={}", encode(uri)), None)
            .await;
        assert_eq!(form.status, 400, "{uri}");
    }
    let missing = app.get("/interact/go?account=social.example", None).await;
    assert_eq!(missing.status, 400);

    // Our objects: the blog, an author, a post (in its usual disguises).
    for uri in [
        format!("{}/blog", app.base),
        format!("{}/", app.base),
        format!("{}/authors/ann", app.base),
        app.post_uri(&post),
        format!("{}/", app.post_uri(&post)),
        format!("{}#comments", app.post_uri(&post)),
    ] {
        let form = app
            .get(&format!("/interact?uri={}", encode(&uri)), None)
            .await;
        assert_eq!(form.status, 200, "{uri}: {}", form.body);
    }
}

#[tokio::test]
async fn templates_with_other_schemes_or_hosts_are_refused() {
    let app = TestApp::spawn().await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let cases = [
        ("js", "javascript:alert(document.cookie)//{uri}".to_owned()),
        (
            "data",
            "data:text/html,<script>alert(1)</script>{uri}".to_owned(),
        ),
        ("ftp", format!("ftp://{}/i?uri={{uri}}", remote.host)),
        ("elsewhere", "https://evil.example/i?uri={uri}".to_owned()),
        ("noplace", format!("http://{}/i", remote.host)),
        ("relative", "/authorize_interaction?uri={uri}".to_owned()),
    ];
    for (user, template) in &cases {
        remote.jrd(user, remote.mastodon_jrd(user, template));
        let answer = app
            .go(
                &app.post_uri(&post),
                &format!("{user}@{}", remote.host),
                Origin::OurForm,
            )
            .await;
        assert_eq!(answer.status, 502, "{template}: {}", answer.body);
        assert_eq!(answer.location(), "", "{template}");
        assert_eq!(answer.header("set-cookie"), "", "{template}");
        assert!(
            answer.body.contains("gave an answer Gloss cannot use"),
            "{}",
            answer.body
        );
        // The form comes back, filled in, so the reader can correct it.
        assert!(answer.body.contains("action=\"/interact/go\""));
        assert!(!answer.body.contains("<script>alert(1)"));
    }
}

#[tokio::test]
async fn a_webfinger_answer_about_another_account_is_refused() {
    let app = TestApp::spawn().await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let template = format!("http://{}/authorize_interaction?uri={{uri}}", remote.host);
    // Asked about bob, the server describes mallory.
    remote.jrd("bob", remote.mastodon_jrd("mallory", &template));
    let answer = app
        .go(
            &app.post_uri(&post),
            &format!("bob@{}", remote.host),
            Origin::OurForm,
        )
        .await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(answer.location(), "");
    assert!(answer.body.contains("another account"), "{}", answer.body);

    // Subjects compare case-insensitively, as handles do.
    remote.jrd("Carol", remote.mastodon_jrd("carol", &template));
    let answer = app
        .go(
            &app.post_uri(&post),
            &format!("@Carol@{}", remote.host),
            Origin::OurForm,
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
}

#[tokio::test]
async fn lookup_failures_give_a_clear_page_with_the_form_again() {
    let app = TestApp::spawn().await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;

    // Unknown account: the server answers 404.
    let answer = app
        .go(
            &app.post_uri(&post),
            &format!("@nobody@{}", remote.host),
            Origin::OurForm,
        )
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert!(answer.body.contains("does not know this account"));
    assert!(
        answer
            .body
            .contains(&format!("value=\"@nobody@{}\"", remote.host))
    );
    assert!(answer.body.contains("action=\"/interact/go\""));

    // No template (GoToSocial advertises none).
    let mut jrd = remote.mastodon_jrd("gts", "unused");
    jrd["links"].as_array_mut().unwrap().pop();
    remote.jrd("gts", jrd);
    let answer = app
        .go(
            &app.post_uri(&post),
            &format!("gts@{}", remote.host),
            Origin::OurForm,
        )
        .await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert!(answer.body.contains("does not offer remote interaction"));

    // A server error, an HTML page, garbage JSON.
    for (user, status, content_type, body) in [
        ("err", 500, "application/jrd+json", "{}"),
        ("html", 200, "text/html", "<html>hello</html>"),
        ("junk", 200, "application/jrd+json", "{not json"),
    ] {
        remote.answer(
            user,
            FakeAnswer {
                status,
                content_type,
                body: body.to_owned(),
                location: None,
            },
        );
        let answer = app
            .go(
                &app.post_uri(&post),
                &format!("{user}@{}", remote.host),
                Origin::OurForm,
            )
            .await;
        assert_eq!(answer.status, 502, "{user}: {}", answer.body);
        assert!(!answer.body.contains("hello</html>"));
    }

    // A WebFinger redirect is not followed (F5).
    remote.answer(
        "moved",
        FakeAnswer {
            status: 302,
            content_type: "text/plain",
            body: String::new(),
            location: Some(format!("http://{}/elsewhere", remote.host)),
        },
    );
    let answer = app
        .go(
            &app.post_uri(&post),
            &format!("moved@{}", remote.host),
            Origin::OurForm,
        )
        .await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(remote.other_hits(), 0, "the redirect was followed");

    // The server is down.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let answer = app
        .go(
            &app.post_uri(&post),
            &format!("@ann@{closed}"),
            Origin::OurForm,
        )
        .await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert!(
        answer.body.contains("could not be reached"),
        "{}",
        answer.body
    );

    // A very long account is refused without being echoed back.
    let long = format!("@{}@{}", "a".repeat(5000), remote.host);
    let answer = app.go(&app.post_uri(&post), &long, Origin::OurForm).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("too long"), "{}", answer.body);
    assert!(!answer.body.contains(&"a".repeat(400)));

    // Typing garbage is the reader's mistake: 400, with the form.
    let answer = app
        .go(&app.post_uri(&post), "@@what ever", Origin::OurForm)
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer
            .body
            .contains("does not look like a fediverse handle")
    );
    assert!(answer.body.contains("action=\"/interact/go\""));
}

#[tokio::test]
async fn production_settings_never_contact_a_private_address() {
    let app = TestApp::spawn_with(false).await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let template = format!("http://{}/authorize_interaction?uri={{uri}}", remote.host);
    remote.jrd("bob", remote.mastodon_jrd("bob", &template));
    for handle in [
        format!("@bob@{}", remote.host),
        "@bob@localhost".to_owned(),
        "@bob@127.0.0.1".to_owned(),
        "@bob@[::1]".to_owned(),
        "@bob@169.254.169.254".to_owned(),
    ] {
        let answer = app.go(&app.post_uri(&post), &handle, Origin::OurForm).await;
        assert!(
            answer.status == 400 || answer.status == 502,
            "{handle}: {} {}",
            answer.status,
            answer.body
        );
        assert_eq!(answer.location(), "", "{handle}");
    }
    assert_eq!(remote.webfinger_hits(), 0);
    // In production, form submissions may end on https servers only.
    let page = app.get(&format!("/posts/{}", post.slug), None).await;
    let csp = page.header("content-security-policy");
    assert!(csp.contains("form-action 'self' https:"), "{csp}");
    assert!(!csp.contains("http:"), "{csp}");
}

#[tokio::test]
async fn a_link_from_another_site_only_fills_in_the_form() {
    let app = TestApp::spawn().await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let template = format!("http://{}/authorize_interaction?uri={{uri}}", remote.host);
    remote.jrd("bob", remote.mastodon_jrd("bob", &template));
    let handle = format!("@bob@{}", remote.host);
    let answer = app
        .go(&app.post_uri(&post), &handle, Origin::OtherSite)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.location(), "");
    assert_eq!(answer.header("set-cookie"), "", "no planted handle");
    assert!(answer.body.contains(&format!("value=\"{handle}\"")));
    assert_eq!(remote.webfinger_hits(), 0);

    // A browser without Fetch Metadata: our own Referer counts, another does not.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("uri", &app.post_uri(&post))
        .append_pair("account", &handle)
        .finish();
    let url = format!("{}/interact/go?{query}", app.base);
    let foreign = app
        .send(
            app.client
                .get(&url)
                .header("referer", "https://evil.example/"),
        )
        .await;
    assert_eq!(foreign.status, 200);
    let ours = app
        .send(app.client.get(&url).header("referer", app.post_uri(&post)))
        .await;
    assert_eq!(ours.status, 303, "{}", ours.body);
    assert_eq!(ours.header("set-cookie"), "", "remember was not ticked");
}

#[tokio::test]
async fn lookups_are_limited_per_client() {
    let app = TestApp::spawn().await;
    let remote = FakeServer::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let limit = usize::try_from(gloss_web::pages::interact::LOOKUPS_PER_WINDOW).unwrap();
    for _ in 0..limit {
        let answer = app
            .go(
                &app.post_uri(&post),
                &format!("@nobody@{}", remote.host),
                Origin::OurForm,
            )
            .await;
        assert_eq!(answer.status, 404);
    }
    let answer = app
        .go(
            &app.post_uri(&post),
            &format!("@nobody@{}", remote.host),
            Origin::OurForm,
        )
        .await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert!(answer.body.contains("action=\"/interact/go\""));
    assert_eq!(remote.webfinger_hits(), limit);
    // A bare instance needs no lookup, so it still works.
    let bare = app
        .go(&app.post_uri(&post), "social.example", Origin::OurForm)
        .await;
    assert_eq!(bare.status, 303);
}

#[tokio::test]
async fn the_post_page_offers_the_forms_and_each_comment_a_link() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let remote_comment = app
        .comment(
            &post,
            Some("https://social.example/statuses/1"),
            Moderation::Approved,
            "Bob",
        )
        .await;
    let imported = app
        .comment(&post, None, Moderation::Approved, "Imported")
        .await;

    let page = app.get(&format!("/posts/{}", post.slug), None).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("Reply from your fediverse account"), "{body}");
    assert!(body.contains("Follow this blog"));
    assert!(body.contains("action=\"/interact/go\""));
    assert!(body.contains(&format!("name=\"uri\" value=\"{}\"", app.post_uri(&post))));
    assert!(body.contains(&format!("name=\"uri\" value=\"{}/blog\"", app.base)));
    assert!(body.contains("value=\"\""), "no cookie, nothing pre-filled");
    assert_ne!(page.header("cache-control"), "private");
    // Browsers check form-action on the redirect after a submission: the form's pages
    // allow it to end on another server (plain http too, on this test network), others
    // keep the strict policy.
    let csp = page.header("content-security-policy");
    assert!(csp.contains("form-action 'self' https: http:"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let tags = app.get("/tags", None).await;
    assert!(
        tags.header("content-security-policy")
            .ends_with("form-action 'self'"),
        "{}",
        tags.header("content-security-policy")
    );
    // The remote comment links to its own id, the imported one to its Note.
    assert!(body.contains(&format!(
        "href=\"/interact?uri={}\"",
        encode(remote_comment.ap_id.as_deref().unwrap())
    )));
    let imported_note = format!("{}/comments/{}", app.base, imported.id);
    assert!(
        body.contains(&format!(
            "href=\"/interact?uri={}\"",
            encode(&imported_note)
        )),
        "{body}"
    );
    // Its form page knows it.
    let form = app
        .get(&format!("/interact?uri={}", encode(&imported_note)), None)
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("the comment by Imported"),
        "{}",
        form.body
    );

    // The comment's own form page names it.
    let form = app
        .get(
            &format!(
                "/interact?uri={}",
                encode("https://social.example/statuses/1")
            ),
            None,
        )
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("the comment by Bob"), "{}", form.body);
    assert!(form.body.contains(&format!(
        "href=\"/posts/{}#comment-{}\"",
        post.slug, remote_comment.id
    )));

    // A comment whose id lives under the post's URL is the comment, not the post.
    let reply_id = format!("{}#reply-1", app.post_uri(&post));
    app.comment(&post, Some(&reply_id), Moderation::Approved, "Ann")
        .await;
    let form = app
        .get(&format!("/interact?uri={}", encode(&reply_id)), None)
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("the comment by Ann"), "{}", form.body);

    // Closed comments: no reply form, still the follow form.
    app.store
        .set_post_comments_closed(post.id, true)
        .await
        .unwrap();
    let page = app.get(&format!("/posts/{}", post.slug), None).await;
    assert!(!page.body.contains("Reply from your fediverse account"));
    assert!(!page.body.contains("Reply from your account"));
    assert!(page.body.contains("Follow this blog"));
    for uri in [
        app.post_uri(&post),
        "https://social.example/statuses/1".to_owned(),
    ] {
        let form = app
            .get(&format!("/interact?uri={}", encode(&uri)), None)
            .await;
        assert_eq!(form.status, 400, "{uri}");
        assert!(form.body.contains("Comments on this post are closed"));
        let go = app.go(&uri, "social.example", Origin::OurForm).await;
        assert_eq!(go.status, 400, "{uri}");
    }
    // Following the blog still works.
    let follow = app
        .get(
            &format!("/interact?uri={}", encode(&format!("{}/blog", app.base))),
            None,
        )
        .await;
    assert_eq!(follow.status, 200);

    let home = app.get("/", None).await;
    assert!(home.body.contains("Follow this blog"));
    assert!(
        home.body
            .contains(&format!("@blog@{}", app.base.trim_start_matches("http://")))
    );
}

#[tokio::test]
async fn authorize_interaction_explains_or_leads_to_our_own_page() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hello", PostStatus::Published).await;
    let ours = app
        .get(
            &format!(
                "/authorize_interaction?uri={}",
                encode(&app.post_uri(&post))
            ),
            None,
        )
        .await;
    assert_eq!(ours.status, 303);
    assert_eq!(ours.location(), format!("/posts/{}", post.slug));
    // Older Mastodon versions send an acct: URI.
    let host = app.base.trim_start_matches("http://");
    for (acct, page) in [
        (format!("acct:blog@{host}"), "/"),
        (format!("acct:ann@{host}"), "/authors/ann"),
    ] {
        let answer = app
            .get(
                &format!("/authorize_interaction?uri={}", encode(&acct)),
                None,
            )
            .await;
        assert_eq!(answer.status, 303, "{acct}");
        assert_eq!(answer.location(), page, "{acct}");
    }

    for uri in [
        "https://social.example/@someone",
        "acct:someone@social.example",
        "acct:nobody@127.0.0.1",
        "//evil.example/",
        "javascript:alert(1)",
        "",
    ] {
        let other = app
            .get(&format!("/authorize_interaction?uri={}", encode(uri)), None)
            .await;
        assert_eq!(other.status, 200, "{uri}");
        assert_eq!(other.location(), "", "{uri}");
        assert!(other.body.contains("no accounts to follow or reply from"));
        assert!(other.body.contains("Follow this blog"));
    }
}
