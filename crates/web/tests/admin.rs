#![allow(clippy::unwrap_used, clippy::expect_used)]
//! App tests of the admin UI: the real router on a real port, a fresh SQLite
//! database per test, and a cookie-keeping client that does not follow redirects
//! (so that every 303 can be checked).

use chrono::Utc;
use gloss_storage::{
    Author, CommentFilter, CommentOrigin, Moderation, NewAuthor, NewComment, Page, PostStatus,
    Store,
};
use gloss_web::admin::hash_password;
use gloss_web::{AppState, WebConfig};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use std::net::SocketAddr;

const PASSWORD: &str = "correct horse battery";

struct App {
    base: String,
    state: AppState,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl App {
    fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn urls(&self) -> gloss_federation::urls::Urls {
        self.state.federation.urls().clone()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts `form` with the CSRF token found on the admin page `page`.
    async fn post_with_csrf(
        &self,
        page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let html = self.get(page).await.text().await.unwrap();
        let token = csrf_token(&html);
        let mut fields: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    async fn login_with_next(
        &self,
        username: &str,
        password: &str,
        next: &str,
    ) -> reqwest::Response {
        let html = self.get("/admin/login").await.text().await.unwrap();
        let token = csrf_token(&html);
        self.post(
            "/admin/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
                ("next", next),
            ],
        )
        .await
    }

    async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.login_with_next(username, password, "").await
    }

    /// Creates an author straight in the store and logs in as them.
    async fn logged_in_as(&self, username: &str, is_admin: bool) -> Author {
        let author = create_author(self.store(), username, is_admin).await;
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login failed");
        author
    }
}

fn client() -> reqwest::Client {
    // reqwest is built without a TLS provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn spawn() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let config = WebConfig {
        public_url: url::Url::parse(&base).unwrap(),
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
        _dir: dir,
    }
}

async fn create_author(store: &dyn Store, username: &str, is_admin: bool) -> Author {
    store
        .create_author(NewAuthor {
            username: username.to_owned(),
            display_name: format!("{username} display"),
            password_hash: Some(hash_password(PASSWORD).unwrap()),
            is_admin,
            import_key: None,
        })
        .await
        .unwrap()
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

async fn all_posts(store: &dyn Store) -> Vec<gloss_storage::Post> {
    store
        .all_posts(Page {
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap()
}

// ---- setup ----

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn().await;
    app.state.arm_setup_token("the-setup-token".to_owned());

    let page = app.get("/admin/setup?token=the-setup-token").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let token = csrf_token(&html);

    let response = app
        .post(
            "/admin/setup",
            &[
                ("csrf_token", &token),
                ("token", "the-setup-token"),
                ("username", "Ana"),
                ("display_name", "Ana B."),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");

    let author = app
        .store()
        .author_by_username("ana")
        .await
        .unwrap()
        .expect("author created");
    assert!(author.is_admin);
    assert_eq!(author.display_name, "Ana B.");
    let settings = app.store().blog_settings().await.unwrap();
    assert_eq!(settings.default_author_id, Some(author.id));
    assert!(app.state.setup_token.lock().unwrap().is_none());

    // Logged in by the setup.
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);

    // The link is used up.
    let again = app.get("/admin/setup?token=the-setup-token").await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let again = app
        .post(
            "/admin/setup",
            &[
                ("csrf_token", &token),
                ("token", "the-setup-token"),
                ("username", "mallory"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.store().count_authors().await.unwrap(), 1);
}

#[tokio::test]
async fn a_wrong_or_missing_setup_token_is_not_found() {
    let app = spawn().await;
    assert_eq!(
        app.get("/admin/setup?token=anything").await.status(),
        StatusCode::NOT_FOUND
    );
    app.state.arm_setup_token("the-setup-token".to_owned());
    assert_eq!(
        app.get("/admin/setup?token=the-setup-tokeN").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/admin/setup").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_setup_link_is_refused_once_an_author_exists() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;
    app.state.arm_setup_token("the-setup-token".to_owned());
    assert_eq!(
        app.get("/admin/setup?token=the-setup-token").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn setup_explains_a_bad_username_or_password_and_keeps_the_link() {
    let app = spawn().await;
    app.state.arm_setup_token("the-setup-token".to_owned());
    let html = app
        .get("/admin/setup?token=the-setup-token")
        .await
        .text()
        .await
        .unwrap();
    let token = csrf_token(&html);

    let bad_name = app
        .post(
            "/admin/setup",
            &[
                ("csrf_token", &token),
                ("token", "the-setup-token"),
                ("username", "ana-b"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(bad_name.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_name.text().await.unwrap().contains("underscores"));

    let short = app
        .post(
            "/admin/setup",
            &[
                ("csrf_token", &token),
                ("token", "the-setup-token"),
                ("username", "ana"),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("at least 10 characters")
    );

    assert_eq!(app.store().count_authors().await.unwrap(), 0);
    assert_eq!(
        app.get("/admin/setup?token=the-setup-token").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn setup_without_the_csrf_cookie_is_refused() {
    let app = spawn().await;
    app.state.arm_setup_token("the-setup-token".to_owned());
    // A fresh client never loaded the form, so it has no gloss_csrf cookie.
    let response = client()
        .post(app.url("/admin/setup"))
        .form(&[
            ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ("token", "the-setup-token"),
            ("username", "mallory"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store().count_authors().await.unwrap(), 0);
}

// ---- login ----

#[tokio::test]
async fn login_succeeds_and_failures_say_the_same_thing() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;

    let unknown = app.login("nobody", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = unknown.text().await.unwrap();
    let wrong = app.login("ana", "wrong password here").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = wrong.text().await.unwrap();
    assert!(unknown.contains("Wrong username or password."));
    assert!(wrong.contains("Wrong username or password."));
    assert_eq!(app.get("/admin").await.status(), StatusCode::SEE_OTHER);

    let ok = app.login("ANA", PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ok), "/admin");
    let cookie = session_cookie(&ok);
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/admin"));

    let dashboard = app.get("/admin").await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert_eq!(dashboard.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    let html = dashboard.text().await.unwrap();
    assert!(html.contains("<meta name=\"robots\" content=\"noindex\">"));
    assert!(html.contains("admin-nav"));
}

#[tokio::test]
async fn logins_are_rate_limited_after_five_failures() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;
    for _ in 0..5 {
        let response = app.login("ana", "wrong password here").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Even the right password is not checked any more.
    let limited = app.login("ana", PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.get("/admin").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;
    for _ in 0..4 {
        app.login("ana", "wrong password here").await;
    }
    assert_eq!(
        app.login("ana", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let other = spawn_like(&app);
    for _ in 0..4 {
        other.login("ana", "wrong password here").await;
    }
    assert_eq!(
        other.login("ana", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("gloss_session="))
        .expect("session cookie")
}

/// `name=value` of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn each_login_gets_a_new_session_and_logout_ends_it() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;
    let first = cookie_pair(&session_cookie(&app.login("ana", PASSWORD).await));
    let other = spawn_like(&app);
    let second = cookie_pair(&session_cookie(&other.login("ana", PASSWORD).await));
    assert_ne!(first, second, "every login starts its own session");

    let planted = client()
        .get(app.url("/admin"))
        .header("Cookie", first.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        planted.status(),
        StatusCode::OK,
        "the cookie alone is the session"
    );

    let token = csrf_token(&app.get("/admin").await.text().await.unwrap());
    let response = app
        .post("/admin/logout", &[("csrf_token", token.as_str())])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/login");
    assert!(session_cookie(&response).contains("Max-Age=0"));
    assert_eq!(app.get("/admin").await.status(), StatusCode::SEE_OTHER);
    // The old token is dead on the server too, not just forgotten by the browser.
    let replayed = client()
        .get(app.url("/admin"))
        .header("Cookie", first.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    // The other session is untouched.
    assert_eq!(other.get("/admin").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logging_in_again_replaces_the_session_the_browser_held() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;
    let fixed = cookie_pair(&session_cookie(&app.login("ana", PASSWORD).await));
    // A browser that still sends the old cookie logs in again (the login page itself
    // sends a logged-in browser on, so post the form from a fresh page load).
    let fresh = spawn_like(&app);
    let html = fresh.get("/admin/login").await.text().await.unwrap();
    let token = csrf_token(&html);
    let response = fresh
        .client
        .post(app.url("/admin/login"))
        .header("Cookie", format!("{fixed}; gloss_csrf={token}"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "ana"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let renewed = cookie_pair(&session_cookie(&response));
    assert_ne!(renewed, fixed);
    let old = client()
        .get(app.url("/admin"))
        .header("Cookie", fixed.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        StatusCode::SEE_OTHER,
        "the old session is ended"
    );
}

#[tokio::test]
async fn admin_pages_redirect_to_login_without_a_session() {
    let app = spawn().await;
    for path in [
        "/admin",
        "/admin/posts",
        "/admin/posts/new",
        "/admin/settings",
        "/admin/comments",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let location = location(&response);
        assert!(location.starts_with("/admin/login"), "{path}: {location}");
    }
    let response = app.get("/admin/posts?page=2").await;
    assert_eq!(
        location(&response),
        "/admin/login?next=%2Fadmin%2Fposts%3Fpage%3D2"
    );
    let response = app.post("/admin/posts", &[("title", "x")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(all_posts(app.store()).await.is_empty());
}

#[tokio::test]
async fn login_comes_back_to_next_but_never_to_another_site() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;

    let response = app.login_with_next("ana", PASSWORD, "/admin/posts").await;
    assert_eq!(location(&response), "/admin/posts");

    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "//evil.example/admin",
    ] {
        let fresh = spawn_like(&app);
        let response = fresh.login_with_next("ana", PASSWORD, evil).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{evil}");
        assert_eq!(location(&response), "/admin", "{evil}");

        // Already logged in: the login page sends on, but not away.
        let encoded: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        let response = fresh.get(&format!("/admin/login?next={encoded}")).await;
        assert_eq!(location(&response), "/admin", "{evil}");
    }

    // The form does not carry an unsafe `next` along either.
    let html = client()
        .get(app.url("/admin/login?next=%2F%2Fevil.example"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("evil.example"));
}

/// Another client on the same server (fresh cookies).
fn spawn_like(app: &App) -> App {
    App {
        base: app.base.clone(),
        state: app.state.clone(),
        client: client(),
        _dir: tempfile::tempdir().unwrap(),
    }
}

// ---- CSRF ----

#[tokio::test]
async fn posts_without_the_right_csrf_token_are_forbidden() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    let form = [
        ("title", "Hello"),
        ("body", "text"),
        ("status", "published"),
        ("action", "save"),
    ];

    let missing = app.post("/admin/posts", &form).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);

    let mut wrong = vec![("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
    wrong.extend_from_slice(&form);
    assert_eq!(
        app.post("/admin/posts", &wrong).await.status(),
        StatusCode::FORBIDDEN
    );

    // The right token, but sent by a page of another site.
    let token = csrf_token(&app.get("/admin/posts/new").await.text().await.unwrap());
    let mut right = vec![("csrf_token", token.as_str())];
    right.extend_from_slice(&form);
    let cross_site = app
        .client
        .post(app.url("/admin/posts"))
        .header("Origin", "https://evil.example")
        .form(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    let settings_before = app.store().blog_settings().await.unwrap();
    let settings = app
        .post(
            "/admin/settings",
            &[("title", "Pwned"), ("description", "")],
        )
        .await;
    assert_eq!(settings.status(), StatusCode::FORBIDDEN);

    assert!(all_posts(app.store()).await.is_empty());
    assert_eq!(app.store().blog_settings().await.unwrap(), settings_before);

    // With the token and our own origin it works.
    let ok = app
        .client
        .post(app.url("/admin/posts"))
        .header("Origin", app.base.as_str())
        .form(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(all_posts(app.store()).await.len(), 1);
}

#[tokio::test]
async fn login_without_the_csrf_cookie_is_forbidden() {
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;
    let response = app
        .post(
            "/admin/login",
            &[
                ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("username", "ana"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/admin").await.status(), StatusCode::SEE_OTHER);
}

// ---- posts ----

#[tokio::test]
async fn a_post_is_previewed_without_saving_then_saved_and_public() {
    let app = spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let fields = [
        ("title", "Timbuktu <notes>"),
        ("slug", ""),
        ("tags", "Mali, West Africa"),
        ("summary", ""),
        (
            "body",
            "# Arrival\r\n\r\nSome *dust* and <script>alert(1)</script>",
        ),
        ("status", "published"),
    ];

    let mut preview = fields.to_vec();
    preview.push(("action", "preview"));
    let response = app
        .post_with_csrf("/admin/posts/new", "/admin/posts", &preview)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h2>Arrival</h2>"), "{html}");
    assert!(html.contains("<em>dust</em>"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("Timbuktu &lt;notes&gt;") || html.contains("Timbuktu &#60;notes&#62;"));
    assert!(
        all_posts(app.store()).await.is_empty(),
        "preview saved nothing"
    );

    let mut save = fields.to_vec();
    save.push(("action", "save"));
    let response = app
        .post_with_csrf("/admin/posts/new", "/admin/posts", &save)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let posts = all_posts(app.store()).await;
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(
        location(&response),
        format!("/admin/posts/{}/edit?saved=1", post.id)
    );
    assert_eq!(post.title, "Timbuktu <notes>");
    assert_eq!(post.slug, "timbuktu-notes");
    assert_eq!(post.author_id, ana.id);
    assert_eq!(post.status, PostStatus::Published);
    assert_eq!(
        post.source,
        "# Arrival\n\nSome *dust* and <script>alert(1)</script>"
    );
    let tags: Vec<&str> = post.tags.iter().map(|t| t.slug.as_str()).collect();
    assert_eq!(tags, ["mali", "west-africa"]);

    let edit = app.get(&location(&response)).await.text().await.unwrap();
    assert!(edit.contains("Saved."));
    assert!(edit.contains("Mali, West Africa"));

    let list = app.get("/admin/posts").await.text().await.unwrap();
    assert!(list.contains("/posts/timbuktu-notes"));
    assert!(list.contains(&format!("/admin/posts/{}/edit", post.id)));

    let public = app.get("/posts/timbuktu-notes").await;
    assert_eq!(public.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_draft_is_listed_but_not_public() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    let response = app
        .post_with_csrf(
            "/admin/posts/new",
            "/admin/posts",
            &[
                ("title", "Not yet"),
                ("body", "draft text"),
                ("status", "draft"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let posts = all_posts(app.store()).await;
    assert_eq!(posts[0].status, PostStatus::Draft);
    let list = app.get("/admin/posts").await.text().await.unwrap();
    assert!(list.contains("Not yet"));
    assert!(list.contains("draft"));
    assert_eq!(
        app.get("/posts/not-yet").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn editing_a_published_post_sets_updated_at() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    app.post_with_csrf(
        "/admin/posts/new",
        "/admin/posts",
        &[
            ("title", "First"),
            ("body", "one"),
            ("status", "published"),
            ("action", "save"),
        ],
    )
    .await;
    let post = all_posts(app.store()).await.remove(0);
    assert_eq!(post.updated_at, None);
    let edit_page = format!("/admin/posts/{}/edit", post.id);

    // The preview of an edit changes nothing.
    let preview = app
        .post_with_csrf(
            &edit_page,
            &format!("/admin/posts/{}", post.id),
            &[
                ("title", "First, edited"),
                ("slug", "first"),
                ("body", "two"),
                ("status", "published"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert_eq!(
        app.store().post_by_id(post.id).await.unwrap().unwrap(),
        post
    );

    let response = app
        .post_with_csrf(
            &edit_page,
            &format!("/admin/posts/{}", post.id),
            &[
                ("title", "First, edited"),
                ("slug", "first"),
                ("body", "two"),
                ("status", "published"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let edited = app.store().post_by_id(post.id).await.unwrap().unwrap();
    assert_eq!(edited.title, "First, edited");
    assert_eq!(edited.source, "two");
    assert!(edited.updated_at.is_some());
    assert_eq!(edited.published_at, post.published_at);
}

#[tokio::test]
async fn deleting_a_post_leaves_a_tombstone() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    app.post_with_csrf(
        "/admin/posts/new",
        "/admin/posts",
        &[
            ("title", "Doomed"),
            ("body", "bye"),
            ("status", "published"),
            ("action", "save"),
        ],
    )
    .await;
    let post = all_posts(app.store()).await.remove(0);
    let confirm = format!("/admin/posts/{}/delete", post.id);
    assert_eq!(app.get(&confirm).await.status(), StatusCode::OK);

    // Without the token nothing happens.
    assert_eq!(
        app.post(&confirm, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.store()
            .post_by_id(post.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        PostStatus::Published
    );

    let response = app.post_with_csrf(&confirm, &confirm, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/posts?done=deleted");
    let deleted = app.store().post_by_id(post.id).await.unwrap().unwrap();
    assert_eq!(deleted.status, PostStatus::Deleted);
    assert_eq!(app.get("/posts/doomed").await.status(), StatusCode::GONE);
    assert_eq!(
        app.get(&format!("/admin/posts/{}/edit", post.id))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn invalid_posts_are_shown_again_with_the_reason_and_not_saved() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;

    let empty_title = app
        .post_with_csrf(
            "/admin/posts/new",
            "/admin/posts",
            &[
                ("title", "  "),
                ("body", "my precious text"),
                ("status", "published"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(empty_title.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = empty_title.text().await.unwrap();
    assert!(html.contains("The title is empty."), "{html}");
    assert!(html.contains("my precious text"), "input kept");
    assert!(all_posts(app.store()).await.is_empty());

    app.post_with_csrf(
        "/admin/posts/new",
        "/admin/posts",
        &[
            ("title", "Taken"),
            ("body", "first"),
            ("status", "published"),
            ("action", "save"),
        ],
    )
    .await;
    let taken = app
        .post_with_csrf(
            "/admin/posts/new",
            "/admin/posts",
            &[
                ("title", "Another"),
                ("slug", "taken"),
                ("body", "second"),
                ("status", "published"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = taken.text().await.unwrap();
    assert!(html.contains("already used by another post"), "{html}");
    assert!(html.contains("second"));
    assert_eq!(all_posts(app.store()).await.len(), 1);

    let bad_slug = app
        .post_with_csrf(
            "/admin/posts/new",
            "/admin/posts",
            &[
                ("title", "Another"),
                ("slug", "Not A Slug"),
                ("body", "third"),
                ("status", "published"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(bad_slug.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(all_posts(app.store()).await.len(), 1);
}

#[tokio::test]
async fn an_author_cannot_change_someone_elses_post() {
    let app = spawn().await;
    let admin = create_author(app.store(), "ana", true).await;
    app.logged_in_as("bo", false).await;
    let post = gloss_federation::authoring::create_post(
        app.store(),
        &app.urls(),
        gloss_federation::authoring::PostInput {
            author_id: admin.id,
            title: "Ana's".into(),
            slug: None,
            markdown: "mine".into(),
            summary: None,
            tags: vec![],
            published_at: None,
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        app.get(&format!("/admin/posts/{}/edit", post.id))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let response = app
        .post_with_csrf(
            "/admin/posts/new",
            &format!("/admin/posts/{}/delete", post.id),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store()
            .post_by_id(post.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        PostStatus::Published
    );
}

// ---- settings ----

#[tokio::test]
async fn settings_are_saved_and_validated() {
    let app = spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let id = ana.id.to_string();

    let response = app
        .post_with_csrf(
            "/admin/settings",
            "/admin/settings",
            &[
                ("title", "  Dust & Roads "),
                ("description", "Travel notes"),
                ("avatar_url", "https://img.example/me.png"),
                ("default_author", &id),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/settings?saved=1");
    let settings = app.store().blog_settings().await.unwrap();
    assert_eq!(settings.title, "Dust & Roads");
    assert_eq!(settings.description, "Travel notes");
    assert_eq!(
        settings.avatar_url.as_deref(),
        Some("https://img.example/me.png")
    );
    assert_eq!(settings.default_author_id, Some(ana.id));
    let page = app
        .get("/admin/settings?saved=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Saved."));
    assert!(page.contains("Dust &amp; Roads") || page.contains("Dust &#38; Roads"));

    for (field, value, message) in [
        ("avatar_url", "javascript:alert(1)", "https://"),
        ("avatar_url", "/me.png", "https://"),
        ("title", " ", "needs a title"),
        ("default_author", "999", "default author"),
    ] {
        let mut form = vec![
            ("title", "Other"),
            ("description", ""),
            ("avatar_url", ""),
            ("default_author", ""),
        ];
        for entry in &mut form {
            if entry.0 == field {
                entry.1 = value;
            }
        }
        let response = app
            .post_with_csrf("/admin/settings", "/admin/settings", &form)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        assert!(
            response.text().await.unwrap().contains(message),
            "{field}={value}"
        );
        assert_eq!(app.store().blog_settings().await.unwrap(), settings);
    }

    let long_title = "x".repeat(201);
    let response = app
        .post_with_csrf(
            "/admin/settings",
            "/admin/settings",
            &[("title", long_title.as_str()), ("description", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn only_admins_may_change_settings() {
    let app = spawn().await;
    app.logged_in_as("bo", false).await;
    assert_eq!(
        app.get("/admin/settings").await.status(),
        StatusCode::FORBIDDEN
    );
    let before = app.store().blog_settings().await.unwrap();
    let response = app
        .post_with_csrf(
            "/admin/posts/new",
            "/admin/settings",
            &[("title", "Mine now"), ("description", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store().blog_settings().await.unwrap(), before);
}

// ---- comments ----

async fn add_comment(
    store: &dyn Store,
    post: gloss_storage::PostId,
    name: &str,
    html: &str,
) -> gloss_storage::Comment {
    store
        .add_comment(NewComment {
            post_id: post,
            parent_id: None,
            author_name: name.to_owned(),
            author_url: Some("javascript:alert(1)".to_owned()),
            author_avatar_url: None,
            author_email: None,
            content_html: html.to_owned(),
            origin: CommentOrigin::Local,
            moderation: Moderation::Pending,
            ap_id: None,
            published_at: Utc::now(),
            import_key: None,
            moderation_reason: None,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn comments_are_listed_and_can_be_approved_hidden_and_deleted() {
    let app = spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = gloss_federation::authoring::create_post(
        app.store(),
        &app.urls(),
        gloss_federation::authoring::PostInput {
            author_id: ana.id,
            title: "Commented".into(),
            slug: None,
            markdown: "text".into(),
            summary: None,
            tags: vec![],
            published_at: None,
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap();
    let first = add_comment(
        app.store(),
        post.id,
        "Bob <b>",
        "<p>Nice &amp; <em>warm</em></p>",
    )
    .await;
    let second = add_comment(app.store(), post.id, "Cy", "<p>Spammy</p>").await;

    let page = app.get("/admin/comments?filter=pending").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Bob &lt;b&gt;") || html.contains("Bob &#60;b&#62;"),
        "{html}"
    );
    assert!(html.contains("Nice &amp; warm") || html.contains("Nice &#38; warm"));
    assert!(!html.contains("<em>warm</em>"), "excerpts are plain text");
    assert!(
        !html.contains("javascript:"),
        "unsafe author URLs are not linked"
    );
    assert!(html.contains("/posts/commented"));
    assert!(html.contains(&format!("/admin/comments/{}/hide", first.id)));

    let approve = app
        .post_with_csrf(
            "/admin/comments",
            &format!("/admin/comments/{}/approve", first.id),
            &[("filter", "pending")],
        )
        .await;
    assert_eq!(approve.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&approve), "/admin/comments?filter=pending");
    let stored = app.store().comment_by_id(first.id).await.unwrap().unwrap();
    assert_eq!(stored.moderation, Moderation::Approved);

    let hide = app
        .post_with_csrf(
            "/admin/comments",
            &format!("/admin/comments/{}/hide", first.id),
            &[("filter", "all")],
        )
        .await;
    assert_eq!(hide.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&hide), "/admin/comments?filter=all");
    let stored = app.store().comment_by_id(first.id).await.unwrap().unwrap();
    assert_eq!(stored.moderation, Moderation::Hidden);

    // Without the token nothing changes.
    let refused = app
        .post(&format!("/admin/comments/{}/delete", second.id), &[])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        app.store()
            .comment_by_id(second.id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_none()
    );

    let delete = app
        .post_with_csrf(
            "/admin/comments",
            &format!("/admin/comments/{}/delete", second.id),
            &[("filter", "evil")],
        )
        .await;
    assert_eq!(delete.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&delete), "/admin/comments?filter=all");
    let stored = app.store().comment_by_id(second.id).await.unwrap().unwrap();
    assert!(stored.deleted_at.is_some());

    // Nothing is left to moderate.
    let pending = app
        .get("/admin/comments?filter=pending")
        .await
        .text()
        .await
        .unwrap();
    assert!(pending.contains("No comments here."), "{pending}");
    let all = app
        .store()
        .recent_comments(
            CommentFilter::All,
            Page {
                limit: 10,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    let missing = app
        .post_with_csrf("/admin/comments", "/admin/comments/999999/hide", &[])
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dashboard_counts_posts_and_pending_comments() {
    let app = spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = gloss_federation::authoring::create_post(
        app.store(),
        &app.urls(),
        gloss_federation::authoring::PostInput {
            author_id: ana.id,
            title: "Counted".into(),
            slug: None,
            markdown: "text".into(),
            summary: None,
            tags: vec![],
            published_at: None,
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap();
    add_comment(app.store(), post.id, "Bob", "<p>hi</p>").await;
    add_comment(app.store(), post.id, "Cy", "<p>hey</p>").await;
    let html = app.get("/admin").await.text().await.unwrap();
    assert!(
        html.contains("<strong>1</strong> published post<"),
        "{html}"
    );
    assert!(
        html.contains("<strong>2</strong> comments waiting"),
        "{html}"
    );
}

/// The federation context of a test app, over the same store and public URL.
fn federation(
    store: &std::sync::Arc<dyn gloss_storage::Store>,
    base: &str,
) -> gloss_federation::context::Federation {
    let settings = gloss_federation::context::FederationSettings {
        public_url: url::Url::parse(base).unwrap(),
        blog_handle: "blog".to_owned(),
        allow_private_addresses: false,
        extra_ca_pem: None,
    };
    let http = gloss_federation::http_client::build_client(&Default::default()).unwrap();
    gloss_federation::context::Federation::new(store.clone(), settings, http)
}

// ---- fediverse: followers, delivery status, settings ----

/// Stores a remote actor on social.example and makes it follow the blog in `state`.
async fn remote_follower(
    store: &dyn Store,
    name: &str,
    state: gloss_storage::FollowState,
) -> gloss_storage::RemoteActor {
    let id = format!("https://social.example/users/{name}");
    let actor = store
        .upsert_remote_actor(gloss_storage::RemoteActorUpsert {
            ap_id: id.clone(),
            kind: "Person".into(),
            preferred_username: Some(name.into()),
            name: Some(format!("{name} <b>display</b>")),
            url: Some(format!("https://social.example/@{name}")),
            icon_url: Some(format!("https://social.example/{name}.png")),
            inbox: format!("{id}/inbox"),
            shared_inbox: None,
            public_key_id: format!("{id}#main-key"),
            public_key_pem: "unused".into(),
            host: "social.example".into(),
            fetched_at: Utc::now(),
        })
        .await
        .unwrap();
    store
        .upsert_follower(
            gloss_storage::LocalActor::Blog,
            actor.id,
            &format!("https://social.example/follows/{name}"),
            state,
            Vec::new(),
        )
        .await
        .unwrap();
    actor
}

/// Claims every queued delivery: (activity type, inbox, payload).
async fn queued(store: &dyn Store) -> Vec<(String, String, serde_json::Value)> {
    store
        .claim_deliveries(
            Utc::now() + chrono::TimeDelta::seconds(5),
            1000,
            1000,
            chrono::TimeDelta::minutes(5),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|job| {
            let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
            (
                payload["type"].as_str().unwrap().to_owned(),
                job.inbox,
                payload,
            )
        })
        .collect()
}

#[tokio::test]
async fn followers_are_listed_and_can_be_approved_denied_and_removed() {
    use gloss_storage::{FollowState, LocalActor};
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    let alice = remote_follower(app.store(), "alice", FollowState::Accepted).await;
    let bob = remote_follower(app.store(), "bob", FollowState::Pending).await;
    let carol = remote_follower(app.store(), "carol", FollowState::Pending).await;

    let page = app.get("/admin/followers").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("@alice@social.example"), "{html}");
    assert!(
        html.contains("alice &lt;b&gt;display&lt;/b&gt;") || html.contains("alice &#60;b&#62;")
    );
    assert!(html.contains("https://social.example/alice.png"));
    assert!(html.contains("Waiting for approval"));
    assert!(html.contains("@bob@social.example"));
    assert!(html.contains("/admin/followers/approve"));
    assert!(html.contains("/admin/followers\"") || html.contains("href=\"/admin/followers"));

    let remote = bob.id.0.to_string();
    let response = app
        .post_with_csrf(
            "/admin/followers",
            "/admin/followers/approve",
            &[("actor", "blog"), ("remote", &remote)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/followers?actor=blog&done=approved"
    );
    let bob_follow = app
        .store()
        .follower(LocalActor::Blog, bob.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob_follow.state, FollowState::Accepted);
    let sent = queued(app.store()).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "Accept");
    assert_eq!(sent[0].1, "https://social.example/users/bob/inbox");
    assert_eq!(
        sent[0].2["object"]["id"],
        "https://social.example/follows/bob"
    );
    assert_eq!(sent[0].2["actor"], format!("{}/blog", app.base));

    let remote = carol.id.0.to_string();
    let response = app
        .post_with_csrf(
            "/admin/followers",
            "/admin/followers/deny",
            &[("actor", "blog"), ("remote", &remote)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .follower(LocalActor::Blog, carol.id)
            .await
            .unwrap()
            .is_none()
    );

    let remote = alice.id.0.to_string();
    let response = app
        .post_with_csrf(
            "/admin/followers",
            "/admin/followers/remove",
            &[("actor", "blog"), ("remote", &remote)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .follower(LocalActor::Blog, alice.id)
            .await
            .unwrap()
            .is_none()
    );
    let sent = queued(app.store()).await;
    let kinds: Vec<(&str, &str)> = sent
        .iter()
        .map(|(kind, inbox, _)| (kind.as_str(), inbox.as_str()))
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&("Reject", "https://social.example/users/carol/inbox")));
    assert!(kinds.contains(&("Reject", "https://social.example/users/alice/inbox")));

    // Approving someone who is not waiting is not found.
    let remote = alice.id.0.to_string();
    let response = app
        .post_with_csrf(
            "/admin/followers",
            "/admin/followers/approve",
            &[("actor", "blog"), ("remote", &remote)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_admins_manage_the_blogs_followers() {
    use gloss_storage::FollowState;
    let app = spawn().await;
    create_author(app.store(), "ana", true).await;
    app.logged_in_as("bo", false).await;
    let bob = remote_follower(app.store(), "bob", FollowState::Pending).await;
    let html = app.get("/admin/followers").await.text().await.unwrap();
    assert!(html.contains("@bob@social.example"));
    assert!(!html.contains("/admin/followers/approve"));
    let remote = bob.id.0.to_string();
    let response = app
        .post_with_csrf(
            "/admin/followers",
            "/admin/followers/approve",
            &[("actor", "blog"), ("remote", &remote)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Without the CSRF token, nothing happens either.
    let response = app
        .post(
            "/admin/followers/deny",
            &[("actor", "blog"), ("remote", &remote)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(queued(app.store()).await.is_empty());
}

#[tokio::test]
async fn post_pages_show_delivery_status_and_failures() {
    use gloss_storage::{DeliveryOutcome, FollowState};
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    remote_follower(app.store(), "alice", FollowState::Accepted).await;
    app.post_with_csrf(
        "/admin/posts/new",
        "/admin/posts",
        &[
            ("title", "Sent"),
            ("body", "to the fediverse"),
            ("status", "published"),
            ("action", "save"),
        ],
    )
    .await;
    let post = all_posts(app.store()).await.remove(0);
    let html = app.get("/admin/posts").await.text().await.unwrap();
    assert!(
        html.contains("Delivered 0 / pending 1 / failed 0"),
        "{html}"
    );

    let job = app
        .store()
        .claim_deliveries(
            Utc::now() + chrono::TimeDelta::seconds(5),
            10,
            10,
            chrono::TimeDelta::minutes(2),
        )
        .await
        .unwrap()
        .remove(0);
    app.store()
        .finish_delivery(
            job.id,
            DeliveryOutcome::Failed {
                status: Some(403),
                error: "HTTP 403".into(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let html = app.get("/admin/posts").await.text().await.unwrap();
    assert!(
        html.contains("Delivered 0 / pending 0 / failed 1"),
        "{html}"
    );
    let html = app
        .get(&format!("/admin/posts/{}/edit", post.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Deliveries to followers"), "{html}");
    assert!(html.contains("https://social.example/users/alice/inbox"));
    assert!(html.contains("HTTP 403"));
}

#[tokio::test]
async fn the_slug_of_a_published_post_cannot_be_changed_in_the_editor() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    app.post_with_csrf(
        "/admin/posts/new",
        "/admin/posts",
        &[
            ("title", "First"),
            ("body", "one"),
            ("status", "published"),
            ("action", "save"),
        ],
    )
    .await;
    let post = all_posts(app.store()).await.remove(0);
    let response = app
        .post_with_csrf(
            &format!("/admin/posts/{}/edit", post.id),
            &format!("/admin/posts/{}", post.id),
            &[
                ("title", "First"),
                ("slug", "renamed"),
                ("body", "one"),
                ("status", "published"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("fediverse id"));
    assert_eq!(
        app.store().post_by_id(post.id).await.unwrap().unwrap().slug,
        "first"
    );
}

#[tokio::test]
async fn the_fediverse_settings_are_saved() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    let html = app.get("/admin/settings").await.text().await.unwrap();
    assert!(html.contains("name=\"manually_approves_followers\""));
    assert!(html.contains("value=\"excerpt\""));
    let response = app
        .post_with_csrf(
            "/admin/settings",
            "/admin/settings",
            &[
                ("title", "Blog"),
                ("fediverse_fields", "1"),
                ("manually_approves_followers", "on"),
                ("note_content", "excerpt"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let settings = app.store().blog_settings().await.unwrap();
    assert!(settings.manually_approves_followers);
    assert_eq!(settings.note_content, gloss_storage::NoteContent::Excerpt);
    let html = app.get("/admin/settings").await.text().await.unwrap();
    assert!(html.contains("value=\"on\" checked"), "{html}");
    assert!(html.contains("value=\"excerpt\" checked"));

    // Unchecking the box turns manual approval off.
    app.post_with_csrf(
        "/admin/settings",
        "/admin/settings",
        &[
            ("title", "Blog"),
            ("fediverse_fields", "1"),
            ("note_content", "full"),
        ],
    )
    .await;
    let settings = app.store().blog_settings().await.unwrap();
    assert!(!settings.manually_approves_followers);
    assert_eq!(settings.note_content, gloss_storage::NoteContent::Full);
}

#[tokio::test]
async fn m5_the_disallowed_keywords_are_edited_on_the_settings_page() {
    let app = spawn().await;
    app.logged_in_as("ana", true).await;
    let page = app.get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains("<legend>Discussion</legend>"), "{page}");
    assert!(page.contains("name=\"disallowed_keywords\""));

    let response = app
        .post_with_csrf(
            "/admin/settings",
            "/admin/settings",
            &[
                ("title", "Blog"),
                ("discussion_fields", "1"),
                (
                    "disallowed_keywords",
                    "casino\r\n\r\n  cheap pills \r\nCASINO\r\n<b>bold</b>",
                ),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let settings = app.store().blog_settings().await.unwrap();
    assert_eq!(
        settings.disallowed_keywords,
        vec!["casino", "cheap pills", "<b>bold</b>"]
    );
    let html = app.get("/admin/settings").await.text().await.unwrap();
    assert!(
        html.contains("casino\ncheap pills\n&#60;b&#62;bold&#60;/b&#62;")
            || html.contains("casino\ncheap pills\n&lt;b&gt;bold&lt;/b&gt;"),
        "the list is shown one per line, escaped: {html}"
    );

    // Too long an entry is refused, and nothing changes.
    let long = "x".repeat(201);
    let response = app
        .post_with_csrf(
            "/admin/settings",
            "/admin/settings",
            &[
                ("title", "Blog"),
                ("discussion_fields", "1"),
                ("disallowed_keywords", long.as_str()),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.store().blog_settings().await.unwrap(), settings);
}

#[tokio::test]
async fn m5_a_reader_comment_marked_spam_is_listed_with_its_reason_and_restored_by_approval() {
    let app = spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    app.state
        .federation
        .set_local_comments(gloss_federation::moderation::LocalComments::Open);
    let post = gloss_federation::authoring::create_post(
        app.store(),
        &app.urls(),
        gloss_federation::authoring::PostInput {
            author_id: ana.id,
            title: "Hello".into(),
            slug: Some("hello".into()),
            markdown: "Text".into(),
            summary: None,
            tags: vec![],
            published_at: None,
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap();
    let settings = app.store().blog_settings().await.unwrap();
    app.store()
        .update_blog_settings(&gloss_storage::BlogSettings {
            disallowed_keywords: vec!["casino".into()],
            ..settings
        })
        .await
        .unwrap();
    // A reader's comment through the post page's form (a false positive).
    let response = app
        .client
        .post(app.url("/posts/hello/comments"))
        .header("origin", &app.base)
        .form(&[
            ("name", "Rita"),
            ("comment", "I won a trip to the casino museum"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let comment = app
        .store()
        .comments_for_post(post.id, CommentFilter::All)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(comment.moderation, Moderation::Spam);

    let list = app
        .get("/admin/comments?filter=all")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("status-spam"), "{list}");
    let details = app
        .get(&format!("/admin/comments/{}", comment.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        details.contains("keyword &#34;casino&#34;")
            || details.contains("keyword &quot;casino&quot;"),
        "the rule is named: {details}"
    );

    let response = app
        .post_with_csrf(
            "/admin/comments?filter=all",
            &format!("/admin/comments/{}/approve", comment.id),
            &[("filter", "all")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = app.get("/posts/hello").await.text().await.unwrap();
    assert!(page.contains("casino museum"), "restored: {page}");
}
