//! App tests of the rendered-page cache (`src/page_cache.rs`): the real router on a real
//! port, a fresh database per test (SQLite always, PostgreSQL when
//! `GLOSS_TEST_POSTGRES_URL` is set), and a second `Store` connected to the same database
//! that plays the `gloss` CLI or another server writing while this one runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_federation::authoring::{self, PostInput};
use gloss_federation::moderation::LocalComments;
use gloss_storage::{
    Author, CommentOrigin, Moderation, NewAuthor, NewComment, Post, PostStatus, Store,
};
use gloss_web::{AppState, WebConfig};
use reqwest::StatusCode;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

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
    /// Another connection to the same database: the CLI, or another server.
    other: Arc<dyn Store>,
    client: reqwest::Client,
    author: Author,
    post: Post,
}

/// One answer, read whole.
struct Page {
    status: StatusCode,
    etag: Option<String>,
    encoding: Option<String>,
    body: String,
}

impl App {
    async fn spawn(database_url: &str) -> App {
        // reqwest is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = gloss_storage::connect(database_url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = WebConfig {
            public_url: url::Url::parse(&base).unwrap(),
            posts_per_page: 10,
        };
        let settings = gloss_federation::context::FederationSettings {
            public_url: url::Url::parse(&base).unwrap(),
            blog_handle: "blog".to_owned(),
            allow_private_addresses: false,
            extra_ca_pem: None,
        };
        let http = gloss_federation::http_client::build_client(&Default::default()).unwrap();
        let federation = gloss_federation::context::Federation::new(store.clone(), settings, http);
        federation.set_local_comments(LocalComments::Open);
        let state = AppState::new(store, config, federation);
        assert!(state.page_cache.enabled(), "the cache is on by default");
        let app = gloss_web::router(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        // Plain bytes: the test decompresses gzip itself, to see what was sent.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_gzip()
            .build()
            .unwrap();
        let author = state
            .store
            .create_author(NewAuthor {
                username: "ann".to_owned(),
                display_name: "Ann".to_owned(),
                password_hash: None,
                is_admin: true,
                import_key: None,
            })
            .await
            .unwrap();
        let post = authoring::create_post(
            state.store.as_ref(),
            &urls(&base),
            input(&author, "Hello there"),
        )
        .await
        .unwrap();
        let other = gloss_storage::connect(database_url).await.unwrap();
        App {
            base,
            state,
            other,
            client,
            author,
            post,
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let (status, etag, encoding) = (
            response.status(),
            header("etag"),
            header("content-encoding"),
        );
        let bytes = response.bytes().await.unwrap();
        let body = if encoding.as_deref() == Some("gzip") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .unwrap();
            text
        } else {
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        Page {
            status,
            etag,
            encoding,
            body,
        }
    }

    /// The post page as an anonymous browser gets it (gzip accepted).
    async fn post_page(&self) -> Page {
        let page = self
            .get("/posts/hello", &[("accept-encoding", "gzip, deflate, br")])
            .await;
        assert_eq!(page.status, StatusCode::OK);
        page
    }
}

fn urls(base: &str) -> gloss_federation::urls::Urls {
    gloss_federation::urls::Urls::new(&url::Url::parse(base).unwrap())
}

fn input(author: &Author, title: &str) -> PostInput {
    PostInput {
        author_id: author.id,
        title: title.to_owned(),
        slug: Some("hello".to_owned()),
        markdown: "Some text.".to_owned(),
        summary: None,
        tags: vec![],
        published_at: None,
        status: PostStatus::Published,
    }
}

fn comment(post: &Post, name: &str, moderation: Moderation) -> NewComment {
    NewComment {
        post_id: post.id,
        parent_id: None,
        author_name: name.to_owned(),
        author_url: None,
        author_avatar_url: None,
        author_email: None,
        content_html: format!("<p>Words of {name}.</p>"),
        origin: CommentOrigin::Local,
        moderation,
        ap_id: None,
        published_at: chrono::Utc::now(),
        import_key: None,
        moderation_reason: None,
    }
}

// =======================================================================================
// Tests
// =======================================================================================

async fn a_cached_page_follows_every_change_from_any_process(db: String) {
    let app = App::spawn(&db).await;
    let first = app.post_page().await;
    assert!(first.body.contains("Hello there"));
    assert_eq!(first.encoding.as_deref(), Some("gzip"), "compressed copy");
    let etag = first.etag.clone().expect("a cached page has an ETag");
    assert!(app.state.page_cache.bytes() > 0, "the page was stored");

    // Served again from memory: the same bytes, and a 304 for a browser that holds them.
    let again = app.post_page().await;
    assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(again.body, first.body);
    let revalidated = app
        .get(
            "/posts/hello",
            &[
                ("accept-encoding", "gzip"),
                ("if-none-match", etag.as_str()),
            ],
        )
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    // Without gzip, the plain copy (another ETag).
    let plain = app.get("/posts/hello", &[]).await;
    assert_eq!(plain.encoding, None);
    assert_ne!(plain.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(plain.body, first.body);

    // A comment through this server's form.
    let sent = app
        .client
        .post(format!("{}/posts/hello/comments", app.base))
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("name", "Rita"), ("comment", "First!")])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert!(app.post_page().await.body.contains("First!"));

    // Another process adds a comment that waits, then approves it.
    let waiting = app
        .other
        .add_comment(comment(&app.post, "Sam", Moderation::Pending))
        .await
        .unwrap();
    assert!(!app.post_page().await.body.contains("Words of Sam."));
    app.other
        .set_comment_moderation(waiting.id, Moderation::Approved)
        .await
        .unwrap();
    let page = app.post_page().await;
    assert!(page.body.contains("Words of Sam."), "approved elsewhere");
    assert!(page.body.contains("2 comments"), "{}", page.body);

    // ... deletes it.
    app.other.delete_comment(waiting.id).await.unwrap();
    let page = app.post_page().await;
    assert!(!page.body.contains("Words of Sam."), "deleted elsewhere");
    assert!(page.body.contains("1 comment"));

    // ... changes the blog's title.
    let mut settings = app.other.blog_settings().await.unwrap();
    settings.title = "Renamed Blog".to_owned();
    app.other.update_blog_settings(&settings).await.unwrap();
    assert!(app.post_page().await.body.contains("Renamed Blog"));

    // ... edits the post.
    authoring::update_post(
        app.other.as_ref(),
        &urls(&app.base),
        app.post.id,
        input(&app.author, "Hello, edited"),
    )
    .await
    .unwrap();
    let page = app.post_page().await;
    assert!(page.body.contains("Hello, edited"), "edited elsewhere");
    assert!(!page.body.contains("Hello there"));
    // The old copy is not offered as current any more.
    let stale = app
        .get("/posts/hello", &[("if-none-match", etag.as_str())])
        .await;
    assert_eq!(stale.status, StatusCode::OK);

    // ... and deletes it: 410, never the stored page.
    authoring::delete_post(app.other.as_ref(), &urls(&app.base), app.post.id)
        .await
        .unwrap();
    let gone = app.get("/posts/hello", &[]).await;
    assert_eq!(gone.status, StatusCode::GONE);
}

async fn pages_of_one_visitor_are_never_served_to_another(db: String) {
    let app = App::spawn(&db).await;
    let handle = "@rita@social.example";
    let remembered = format!("gloss_fediverse={handle}");

    // The visitor with a remembered account first: their page is not stored...
    let theirs = app
        .get("/posts/hello", &[("cookie", remembered.as_str())])
        .await;
    assert!(theirs.body.contains(handle), "pre-filled for them");
    assert_eq!(theirs.etag, None, "rendered for them alone");
    let anonymous = app.post_page().await;
    assert!(!anonymous.body.contains(handle), "{}", anonymous.body);

    // ... and once an anonymous page is stored, they still get their own.
    assert!(app.post_page().await.etag.is_some(), "stored");
    let theirs = app
        .get("/posts/hello", &[("cookie", remembered.as_str())])
        .await;
    assert!(theirs.body.contains(handle));

    // An admin session (even one that is not valid any more) and a query string are
    // rendered for the request, never answered from the cache.
    for (path, headers) in [
        ("/posts/hello", vec![("cookie", "gloss_session=abcdef")]),
        ("/posts/hello?replyto=1", vec![]),
        ("/", vec![("cookie", "other=1; gloss_session=abcdef")]),
    ] {
        let page = app.get(path, &headers).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.etag, None, "{path} {headers:?}");
    }
    // ActivityPub clients get the Note, never the HTML stored for browsers.
    let note = app
        .get("/posts/hello", &[("accept", "application/activity+json")])
        .await;
    assert!(note.body.starts_with('{'), "{}", note.body);
}

async fn the_cache_can_be_turned_off(db: String) {
    let mut app = App::spawn(&db).await;
    app.state = app.state.clone().with_page_cache_bytes(0);
    let router = gloss_web::router(app.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    app.base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let page = app.post_page().await;
    assert_eq!(page.etag, None);
    assert_eq!(page.encoding, None);
    assert_eq!(app.state.page_cache.bytes(), 0);
}

on_both_engines! {
    a_cached_page_follows_every_change_from_any_process =>
        sqlite_a_cached_page_follows_every_change_from_any_process,
        postgres_a_cached_page_follows_every_change_from_any_process;
    pages_of_one_visitor_are_never_served_to_another =>
        sqlite_pages_of_one_visitor_are_never_served_to_another,
        postgres_pages_of_one_visitor_are_never_served_to_another;
    the_cache_can_be_turned_off =>
        sqlite_the_cache_can_be_turned_off,
        postgres_the_cache_can_be_turned_off;
}
