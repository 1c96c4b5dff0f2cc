//! Security checklist items C3, C4, C12 and C13 where readers and the operator see them:
//! the real router on a port, remote comments stored through the `Store` as the inbox
//! stores them (`crates/federation/tests/checklist_comments.rs` shows that the inbox
//! keeps these fields as plain text), then the post page, the Atom feed and the admin
//! UI read back. Storage-backed tests run on SQLite, and on PostgreSQL when
//! `GLOSS_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use atom_syndication::Feed;
use chrono::{Duration, Utc};
use gloss_storage::{
    Attachment, Author, Comment, Moderation, NewAuthor, Post, PostStatus, RemoteActor,
    RemoteActorUpsert, RemoteCommentUpsert, ThreadNode, UpsertOutcome, Visibility,
};
use gloss_web::admin::hash_password;
use gloss_web::{AppState, WebConfig};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};
use std::collections::HashMap;
use std::net::SocketAddr;
use url::Url;

const PASSWORD: &str = "correct horse battery";

// ---------------------------------------------------------------------------------------
// Databases: SQLite always; PostgreSQL when GLOSS_TEST_POSTGRES_URL is set.
// ---------------------------------------------------------------------------------------

#[path = "../../federation/tests/support/engines.rs"]
#[macro_use]
mod engines;
use engines::{Engine, run_on};

// ---------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------

struct App {
    base: String,
    state: AppState,
    client: reqwest::Client,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn federation(
    store: &std::sync::Arc<dyn gloss_storage::Store>,
    base: &str,
) -> gloss_federation::context::Federation {
    let settings = gloss_federation::context::FederationSettings {
        public_url: Url::parse(base).unwrap(),
        blog_handle: "blog".to_owned(),
        allow_private_addresses: false,
        extra_ca_pem: None,
    };
    let http = gloss_federation::http_client::build_client(&Default::default()).unwrap();
    gloss_federation::context::Federation::new(store.clone(), settings, http)
}

impl App {
    async fn spawn(database_url: &str) -> App {
        // reqwest is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = gloss_storage::connect(database_url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = WebConfig {
            public_url: Url::parse(&base).unwrap(),
            posts_per_page: 10,
        };
        let federation = federation(&store, &base);
        let state = AppState::new(store, config, federation);
        let app = gloss_web::router(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        App {
            base,
            state,
            client: client(),
        }
    }

    fn store(&self) -> &dyn gloss_storage::Store {
        self.state.store.as_ref()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Body of `GET path`, which must answer 200.
    async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    async fn author(&self, username: &str) -> Author {
        self.store()
            .create_author(NewAuthor {
                username: username.to_owned(),
                display_name: format!("{username} display"),
                password_hash: Some(hash_password(PASSWORD).unwrap()),
                is_admin: true,
                import_key: None,
            })
            .await
            .unwrap()
    }

    /// Logs a fresh client in as `username`, asking to come back to `next`; returns the
    /// login's answer.
    async fn login(&mut self, username: &str, next: &str) -> reqwest::Response {
        self.client = client();
        let html = self.page("/admin/login").await;
        let token = csrf_token(&html);
        self.client
            .post(self.url("/admin/login"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", username),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, author: &Author, title: &str) -> Post {
        gloss_federation::authoring::create_post(
            self.store(),
            self.state.federation.urls(),
            gloss_federation::authoring::PostInput {
                author_id: author.id,
                title: title.to_owned(),
                slug: Some("target".to_owned()),
                markdown: "text".to_owned(),
                summary: None,
                tags: vec![],
                published_at: None,
                status: PostStatus::Published,
            },
        )
        .await
        .unwrap()
    }

    async fn actor(&self, name: &str, display: &str, username: &str) -> RemoteActor {
        let id = format!("https://social.example/users/{name}");
        self.store()
            .upsert_remote_actor(RemoteActorUpsert {
                ap_id: id.clone(),
                kind: "Person".to_owned(),
                preferred_username: Some(username.to_owned()),
                name: Some(display.to_owned()),
                url: Some(format!("https://social.example/@{name}")),
                icon_url: None,
                inbox: format!("{id}/inbox"),
                shared_inbox: None,
                public_key_id: format!("{id}#main-key"),
                public_key_pem: "unused".to_owned(),
                host: "social.example".to_owned(),
                fetched_at: Utc::now(),
            })
            .await
            .unwrap()
    }

    async fn reply(&self, upsert: RemoteCommentUpsert) -> Comment {
        match self.store().upsert_remote_comment(upsert).await.unwrap() {
            UpsertOutcome::Created(comment) => comment,
            other => panic!("expected Created, got {other:?}"),
        }
    }
}

/// The value of the first hidden `csrf_token` field of a page.
fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no csrf_token field in:\n{html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Whether `html` shows `text` escaped once, in either of the usual spellings
/// (`&lt;` or `&#60;`, `&amp;` or `&#38;`...).
fn shows_as_text(html: &str, text: &str) -> bool {
    let named = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let numeric = text
        .replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;");
    html.contains(&named) || html.contains(&numeric)
}

// =======================================================================================
// C3, C4: plain text is escaped everywhere it is shown, and escaped text stays text
// =======================================================================================

/// What a hostile commenter controls, as the inbox stores it (plain text, unchanged).
const DISPLAY_NAME: &str = "&lt;script&gt;alert(1)&lt;/script&gt; <b>Eve</b> \u{202e}gnp.exe";
const USERNAME: &str = "<script>alert(2)</script>";
const CONTENT_WARNING: &str = "&lt;img src=x onerror=alert(3)&gt; <i>cw</i>";
const ALT_TEXT: &str = "&lt;script&gt;alert(4)&lt;/script&gt; <img src=x onerror=alert(5)>";
/// Sanitized HTML (what `remote_comment_html` produces): escaped text and a hashtag.
const CONTENT_HTML: &str = "<p>&lt;script&gt;alert(6)&lt;/script&gt; <a href=\"https://social.example/tags/x\" class=\"mention hashtag\" rel=\"nofollow noopener noreferrer ugc\">#<span>&lt;b&gt;tag&lt;/b&gt;</span></a></p>";

fn hostile_reply(
    by: &RemoteActor,
    post: &Post,
    n: u32,
    moderation: Moderation,
) -> RemoteCommentUpsert {
    RemoteCommentUpsert {
        ap_id: format!("{}/statuses/{n}", by.ap_id),
        parent: ThreadNode::Post(post.id),
        remote_actor_id: by.id,
        author_name: DISPLAY_NAME.to_owned(),
        author_url: by.url.clone(),
        author_avatar_url: None,
        content_html: CONTENT_HTML.to_owned(),
        summary: Some(CONTENT_WARNING.to_owned()),
        sensitive: true,
        attachments: vec![Attachment {
            url: "https://media.example/a.png".to_owned(),
            media_type: Some("image/png".to_owned()),
            name: Some(ALT_TEXT.to_owned()),
        }],
        url: None,
        in_reply_to_ap_id: None,
        visibility: Visibility::Public,
        published_at: Utc::now() - Duration::minutes(5),
        updated_at: None,
        moderation,
        moderation_reason: (moderation == Moderation::Pending)
            .then(|| "first comment by this author".to_owned()),
    }
}

/// No markup of the attacker's survives as markup (as text, `onerror=` may stay).
fn assert_inert(where_: &str, body: &str) {
    let lower = body.to_ascii_lowercase();
    for bad in ["<script", "<img src=x", "<b>eve", "<i>cw", "<b>tag"] {
        assert!(!lower.contains(bad), "{where_}: {bad} in {body}");
    }
}

async fn c3_c4_plain_text_is_escaped_on_the_page_in_the_feed_and_in_the_admin(db: String) {
    let mut app = App::spawn(&db).await;
    let ana = app.author("ana").await;
    let post = app.post(&ana, "Target").await;
    let eve = app.actor("eve", DISPLAY_NAME, USERNAME).await;
    let shown = app
        .reply(hostile_reply(&eve, &post, 1, Moderation::Approved))
        .await;
    let held = app
        .reply(hostile_reply(&eve, &post, 2, Moderation::Pending))
        .await;

    // The post page: every text once escaped, the already-escaped text escaped again
    // (the reader sees `&lt;script&gt;`, never a decoded `<script>`), in bidi isolation.
    let page = app.page("/posts/target").await;
    assert_inert("page", &page);
    for text in [DISPLAY_NAME, CONTENT_WARNING, ALT_TEXT] {
        assert!(shows_as_text(&page, text), "page: {text} in {page}");
    }
    assert!(
        page.contains(CONTENT_HTML),
        "sanitized HTML shown as is: {page}"
    );
    // Names and warnings are isolated (C8), so a right-to-left override stays inside.
    assert!(
        page.contains("<bdi>&amp;lt;script") || page.contains("<bdi>&#38;lt;script"),
        "{page}"
    );
    assert!(
        page.contains("<bdi class=\"p-summary\">&amp;lt;img")
            || page.contains("<bdi class=\"p-summary\">&#38;lt;img"),
        "{page}"
    );

    // The comments feed: after XML parsing the name is the stored text exactly, and the
    // HTML content is the sanitized HTML exactly (nothing decoded on the way).
    let response = app.get("/posts/target/comments.atom").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    assert_inert("feed", &body);
    let feed = body.parse::<Feed>().expect("the feed parses");
    assert_eq!(feed.entries.len(), 1, "only the approved comment");
    let entry = &feed.entries[0];
    assert_eq!(entry.authors[0].name, DISPLAY_NAME);
    assert!(
        entry.title.as_str().contains(DISPLAY_NAME),
        "{:?}",
        entry.title
    );
    assert_eq!(
        entry.content.as_ref().and_then(|c| c.value.as_deref()),
        Some(CONTENT_HTML)
    );

    // The admin UI: the queue, the comment pages and the list.
    app.login("ana", "").await;
    for path in [
        "/admin/moderation".to_owned(),
        format!("/admin/comments/{}", held.id),
        format!("/admin/comments/{}", shown.id),
        "/admin/comments".to_owned(),
    ] {
        let html = app.page(&path).await;
        assert_inert(&path, &html);
        assert!(shows_as_text(&html, DISPLAY_NAME), "{path}: {html}");
    }
    let queue = app.page("/admin/moderation").await;
    assert!(shows_as_text(&queue, USERNAME), "handle: {queue}");
    let detail = app.page(&format!("/admin/comments/{}", held.id)).await;
    for text in [CONTENT_WARNING, ALT_TEXT] {
        assert!(shows_as_text(&detail, text), "{text} in {detail}");
    }
}

// =======================================================================================
// C12: redirects stay on this site
// =======================================================================================

async fn c12_login_redirects_only_to_local_paths(db: String) {
    let mut app = App::spawn(&db).await;
    app.author("ana").await;
    for evil in [
        "//evil.example",
        "///evil.example",
        "https://evil.example",
        "http:evil.example",
        "https:/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "evil.example",
    ] {
        let response = app.login("ana", evil).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{evil:?}");
        assert_eq!(location(&response), "/admin", "{evil:?}");
    }
    // A local path is kept; a percent-encoded slash or backslash stays inside the path.
    for local in ["/admin/posts", "/%2F%2Fevil.example", "/%5Cevil.example"] {
        let response = app.login("ana", local).await;
        let to = location(&response);
        assert_eq!(to, local);
        let resolved = Url::parse(&app.base).unwrap().join(&to).unwrap();
        assert_eq!(resolved.origin(), Url::parse(&app.base).unwrap().origin());
    }
    // The login page a visitor is sent to from an admin page comes back to that page only.
    let anonymous = client();
    let response = anonymous
        .get(app.url("/admin/comments?next=//evil.example"))
        .send()
        .await
        .unwrap();
    let to = location(&response);
    assert!(to.starts_with("/admin/login"), "{to}");
    let resolved = Url::parse(&app.base).unwrap().join(&to).unwrap();
    assert_eq!(resolved.origin(), Url::parse(&app.base).unwrap().origin());
}

// =======================================================================================
// C13: the Content-Security-Policy
// =======================================================================================

/// The directives of a policy: name → sources.
fn directives(policy: &str) -> HashMap<String, Vec<String>> {
    policy
        .split(';')
        .filter_map(|directive| {
            let mut words = directive.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

/// Whether `policy` is at least as strict as `default-src 'self'; script-src 'self';
/// object-src 'none'; base-uri 'none'; frame-ancestors 'none'`.
fn assert_strict_enough(where_: &str, policy: &str) {
    let found = directives(policy);
    let sources = |name: &str| -> Vec<String> {
        found
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("{where_}: no {name} in {policy}"))
    };
    // 'self' alone, or 'none': nothing inline, no eval, no other origin.
    for name in ["default-src", "script-src"] {
        let list = sources(name);
        assert!(
            list == ["'self'"] || list == ["'none'"],
            "{where_}: {name} {list:?}"
        );
    }
    for name in ["object-src", "base-uri", "frame-ancestors"] {
        assert_eq!(sources(name), ["'none'"], "{where_}: {name}");
    }
    // Nothing weakens script execution through another directive.
    for (name, list) in &found {
        for source in list {
            let source = source.to_ascii_lowercase();
            assert!(
                !source.contains("unsafe-inline") && !source.contains("unsafe-eval"),
                "{where_}: {name} {source}"
            );
        }
        if name.starts_with("script-src") {
            assert!(
                list.iter().all(|s| s == "'self'" || s == "'none'"),
                "{where_}: {name} {list:?}"
            );
        }
    }
}

async fn c13_every_response_carries_a_strict_content_security_policy(db: String) {
    let mut app = App::spawn(&db).await;
    let ana = app.author("ana").await;
    app.post(&ana, "Target").await;
    let mut paths = vec![
        "/",
        "/posts/target",
        "/posts/target/comments.atom",
        "/feed.atom",
        "/tags",
        "/authors/ana",
        "/static/style.css",
        "/no/such/page",
        "/admin",
        "/admin/login",
    ];
    for path in &paths {
        let response = app.get(path).await;
        let policy = response
            .headers()
            .get(CONTENT_SECURITY_POLICY)
            .unwrap_or_else(|| panic!("{path}: no CSP ({})", response.status()));
        assert_strict_enough(path, policy.to_str().unwrap());
    }
    // Logged in, the admin pages too.
    app.login("ana", "").await;
    paths = vec![
        "/admin",
        "/admin/moderation",
        "/admin/comments",
        "/admin/posts",
    ];
    for path in paths {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let policy = response.headers().get(CONTENT_SECURITY_POLICY).unwrap();
        assert_strict_enough(path, policy.to_str().unwrap());
        // The policy is not needed by our own pages: they carry no inline script.
        let html = response.text().await.unwrap().to_ascii_lowercase();
        assert!(!html.contains("<script"), "{path}");
    }
}

#[test]
fn the_csp_check_refuses_weaker_policies() {
    let strict = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
    assert_strict_enough("strict", strict);
    for weaker in [
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        "default-src 'self'; script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        "default-src *; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        "default-src 'self'; script-src 'self'; object-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'",
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'",
        "default-src 'self'; script-src 'self'; script-src-elem https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ] {
        let refused = std::panic::catch_unwind(|| assert_strict_enough("weaker", weaker));
        assert!(refused.is_err(), "accepted: {weaker}");
    }
}

on_both_engines! {
    c3_c4_plain_text_is_escaped_on_the_page_in_the_feed_and_in_the_admin =>
        sqlite_c3_c4_plain_text_is_escaped_on_the_page_in_the_feed_and_in_the_admin,
        postgres_c3_c4_plain_text_is_escaped_on_the_page_in_the_feed_and_in_the_admin;
    c12_login_redirects_only_to_local_paths =>
        sqlite_c12_login_redirects_only_to_local_paths,
        postgres_c12_login_redirects_only_to_local_paths;
    c13_every_response_carries_a_strict_content_security_policy =>
        sqlite_c13_every_response_carries_a_strict_content_security_policy,
        postgres_c13_every_response_carries_a_strict_content_security_policy;
}
