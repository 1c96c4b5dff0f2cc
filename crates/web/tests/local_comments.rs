//! App tests of readers' comments through the form on the post page
//! (`GLOSS_COMMENTS_LOCAL`): the real router on a real port with connection info (the
//! rate limit is per client), a client that does not follow redirects, and a fresh
//! database per test: SQLite always, PostgreSQL when `GLOSS_TEST_POSTGRES_URL` is set.
//!
//! Checklist items: C4/C8 (names escaped, bidi-isolated, NUL stripped), M5 (keywords
//! mark spam), the same-origin check of forms, and the comment form's honeypot and
//! rate limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use gloss_federation::authoring::{self, PostInput};
use gloss_federation::moderation::LocalComments;
use gloss_storage::{
    Author, BlogSettings, Comment, CommentFilter, CommentOrigin, Moderation, ModerationDecider,
    NewAuthor, Post, PostStatus, Store,
};
use gloss_web::{AppState, WebConfig};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
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
    client: reqwest::Client,
    post: Post,
}

impl App {
    async fn spawn(database_url: &str, mode: LocalComments) -> App {
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
        federation.set_local_comments(mode);
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
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
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
        let post = create_post(&state.store, &base, &author, "hello", None).await;
        App {
            base,
            state,
            client,
            post,
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn page(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    async fn create_post(
        &self,
        author: &Author,
        slug: &str,
        published_at: Option<chrono::DateTime<Utc>>,
    ) -> Post {
        create_post(self.store(), &self.base, author, slug, published_at).await
    }

    /// POSTs the form to `/posts/{slug}/comments` as a same-origin browser would.
    async fn send(&self, slug: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/posts/{slug}/comments")))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn comments(&self) -> Vec<Comment> {
        self.store()
            .comments_for_post(self.post.id, CommentFilter::All)
            .await
            .unwrap()
    }
}

async fn create_post(
    store: &Arc<dyn Store>,
    base: &str,
    author: &Author,
    slug: &str,
    published_at: Option<chrono::DateTime<Utc>>,
) -> Post {
    authoring::create_post(
        store.as_ref(),
        &gloss_federation::urls::Urls::new(&url::Url::parse(base).unwrap()),
        PostInput {
            author_id: author.id,
            title: format!("Post {slug}"),
            slug: Some(slug.to_owned()),
            markdown: "Some text.".to_owned(),
            summary: None,
            tags: vec![],
            published_at,
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

const PENDING: &str = "/posts/hello?comment=pending#comment-form";

// =======================================================================================
// Tests
// =======================================================================================

async fn a_moderated_comment_waits_and_appears_once_approved(db: String) {
    let app = App::spawn(&db, LocalComments::Moderated).await;
    let page = app.page("/posts/hello").await;
    assert!(page.contains("id=\"comment-form\""), "the form is shown");
    assert!(page.contains("action=\"/posts/hello/comments\""));

    let response = app
        .send(
            "hello",
            &[
                ("name", "Rita Reader"),
                ("website", "https://rita.example/"),
                ("comment", "Lovely post.\n\nSecond <b>paragraph</b>."),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), PENDING);
    let notice = app.page(PENDING).await;
    assert!(notice.contains("awaiting moderation"), "the reader is told");

    let comments = app.comments().await;
    assert_eq!(comments.len(), 1);
    let comment = &comments[0];
    assert_eq!(comment.origin, CommentOrigin::Local);
    assert_eq!(comment.ap_id, None, "never federated");
    assert_eq!(comment.moderation, Moderation::Pending);
    assert_eq!(
        comment.content_html,
        "<p>Lovely post.</p><p>Second &lt;b&gt;paragraph&lt;/b&gt;.</p>"
    );
    assert_eq!(comment.author_url.as_deref(), Some("https://rita.example/"));
    assert!(
        comment
            .moderation_reason
            .as_deref()
            .unwrap()
            .contains("moderated")
    );
    let history = app.store().moderation_history(comment.id).await.unwrap();
    assert_eq!(history.len(), 1, "the decision is logged");
    assert!(!app.page("/posts/hello").await.contains("Lovely post."));

    app.store()
        .set_comment_moderation_with_reason(
            comment.id,
            Moderation::Approved,
            "approved",
            ModerationDecider::Author(app.post.author_id),
            Utc::now(),
        )
        .await
        .unwrap();
    let page = app.page("/posts/hello").await;
    assert!(page.contains("Lovely post."));
    assert!(page.contains("<bdi>Rita Reader</bdi>"));
    assert!(page.contains("1 comment"));
    // Local comments are in no collection.
    assert_eq!(
        app.store().count_public_thread(app.post.id).await.unwrap(),
        0
    );
}

async fn an_open_comment_is_published_and_answerable(db: String) {
    let app = App::spawn(&db, LocalComments::Open).await;
    let response = app
        .send("hello", &[("name", "Rita"), ("comment", "First!")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let first = app.comments().await.remove(0);
    assert_eq!(first.moderation, Moderation::Approved);
    assert_eq!(
        location(&response),
        format!("/posts/hello#comment-{}", first.id)
    );

    // The "Reply" link puts the parent in the form.
    let page = app.page("/posts/hello").await;
    let reply_link = format!("/posts/hello?replyto={}#comment-form", first.id);
    assert!(page.contains(&reply_link), "{page}");
    let form = app
        .page(&format!("/posts/hello?replyto={}", first.id))
        .await;
    assert!(form.contains(&format!(
        "<input type=\"hidden\" name=\"parent\" value=\"{}\">",
        first.id
    )));
    assert!(form.contains("Reply to <bdi>Rita</bdi>"));

    let parent = first.id.to_string();
    let response = app
        .send(
            "hello",
            &[("name", "Sam"), ("comment", "Welcome"), ("parent", &parent)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let reply = app
        .comments()
        .await
        .into_iter()
        .find(|comment| comment.author_name == "Sam")
        .unwrap();
    assert_eq!(reply.parent_id, Some(first.id));
    assert_eq!(reply.depth, 1);
    assert_eq!(reply.moderation, Moderation::Approved);

    // Open, but a rule holds: more than two links.
    let response = app
        .send(
            "hello",
            &[
                ("name", "Links"),
                (
                    "comment",
                    "https://a.example https://b.example www.c.example",
                ),
            ],
        )
        .await;
    assert_eq!(location(&response), PENDING);
    let held = app
        .comments()
        .await
        .into_iter()
        .find(|comment| comment.author_name == "Links")
        .unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert!(held.moderation_reason.unwrap().contains("3 links"));
}

async fn m5_a_keyword_marks_a_reader_comment_spam(db: String) {
    let app = App::spawn(&db, LocalComments::Open).await;
    app.store()
        .update_blog_settings(&BlogSettings {
            disallowed_keywords: vec!["casino".to_owned()],
            ..BlogSettings::default()
        })
        .await
        .unwrap();
    for (n, (name, website, text)) in [
        ("Rita", "", "Try the CASINO tonight"),
        ("Casino King", "", "Hello"),
        ("Rita", "https://best-casino.example/", "Hello"),
    ]
    .into_iter()
    .enumerate()
    {
        let response = app
            .send(
                "hello",
                &[("name", name), ("website", website), ("comment", text)],
            )
            .await;
        assert_eq!(
            location(&response),
            PENDING,
            "the same answer as a held one"
        );
        let comments = app.comments().await;
        let spam = &comments[n];
        assert_eq!(spam.moderation, Moderation::Spam, "{name} {website} {text}");
        assert_eq!(
            spam.moderation_reason.as_deref(),
            Some("spam: keyword \"casino\"")
        );
    }
    assert!(!app.page("/posts/hello").await.contains("CASINO"));
}

async fn c4_c8_names_are_escaped_isolated_and_stripped_of_nul(db: String) {
    let app = App::spawn(&db, LocalComments::Open).await;
    let name = "<script>alert(1)</script>\u{202E}evil\u{0}";
    let response = app
        .send(
            "hello",
            &[
                ("name", name),
                ("comment", "<img src=x onerror=alert(1)>\u{0}text"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let comment = app.comments().await.remove(0);
    assert!(!comment.author_name.contains('\u{0}'));
    assert!(!comment.content_html.contains('\u{0}'));
    let page = app.page("/posts/hello").await;
    assert!(!page.contains("<script>alert(1)"), "the name is escaped");
    assert!(!page.contains("<img src=x"), "the text is escaped");
    assert!(
        page.contains("<bdi>&#60;script&#62;alert(1)&#60;/script&#62;\u{202E}evil</bdi>")
            || page.contains("<bdi>&lt;script&gt;alert(1)&lt;/script&gt;\u{202E}evil</bdi>"),
        "{page}"
    );
}

async fn bad_input_is_refused_with_a_clear_page_and_nothing_stored(db: String) {
    let app = App::spawn(&db, LocalComments::Open).await;
    let author = app
        .store()
        .author_by_id(app.post.author_id)
        .await
        .unwrap()
        .unwrap();
    let other = app.create_post(&author, "other", None).await;
    let other_comment = app
        .store()
        .add_comment(gloss_storage::NewComment {
            post_id: other.id,
            parent_id: None,
            author_name: "Zed".into(),
            author_url: None,
            author_avatar_url: None,
            author_email: None,
            content_html: "<p>z</p>".into(),
            origin: CommentOrigin::Local,
            moderation: Moderation::Approved,
            ap_id: None,
            published_at: Utc::now(),
            import_key: None,
            moderation_reason: None,
        })
        .await
        .unwrap();
    let parent_elsewhere = other_comment.id.to_string();
    let long = "x".repeat(5_001);
    for (form, status, says) in [
        (vec![("comment", "Hi")], 400, "name"),
        (vec![("name", " "), ("comment", "Hi")], 400, "name"),
        (vec![("name", "Rita"), ("comment", "")], 400, "empty"),
        (
            vec![("name", "Rita"), ("comment", long.as_str())],
            400,
            "5000",
        ),
        (
            vec![
                ("name", "Rita"),
                ("website", "javascript:alert(1)"),
                ("comment", "Hi"),
            ],
            400,
            "https://",
        ),
        (
            vec![
                ("name", "Rita"),
                ("comment", "Hi"),
                ("parent", parent_elsewhere.as_str()),
            ],
            400,
            "not on this post",
        ),
        (
            vec![("name", "Rita"), ("comment", "Hi"), ("parent", "999999")],
            400,
            "not on this post",
        ),
    ] {
        let response = app.send("hello", &form).await;
        assert_eq!(response.status().as_u16(), status, "{form:?}");
        let body = response.text().await.unwrap();
        assert!(body.contains(says), "{form:?}: {body}");
    }
    let response = app
        .send("nope", &[("name", "Rita"), ("comment", "Hi")])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(app.comments().await.is_empty(), "nothing stored");
}

async fn closed_posts_and_the_off_setting_refuse_comments_and_hide_the_form(db: String) {
    let app = App::spawn(&db, LocalComments::Open).await;
    app.store()
        .set_post_comments_closed(app.post.id, true)
        .await
        .unwrap();
    let page = app.page("/posts/hello").await;
    assert!(page.contains("Comments are closed."));
    assert!(!page.contains("id=\"comment-form\""));
    let response = app
        .send("hello", &[("name", "Rita"), ("comment", "Hi")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("closed"));

    // Closed by age: GLOSS_COMMENTS_CLOSE_AFTER_DAYS.
    let author = app
        .store()
        .author_by_id(app.post.author_id)
        .await
        .unwrap()
        .unwrap();
    app.create_post(&author, "old", Some(Utc::now() - Duration::days(40)))
        .await;
    assert!(app.page("/posts/old").await.contains("id=\"comment-form\""));
    app.state.federation.set_comments_close_after_days(30);
    let page = app.page("/posts/old").await;
    assert!(page.contains("Comments are closed."));
    assert!(!page.contains("id=\"comment-form\""));
    let response = app
        .send("old", &[("name", "Rita"), ("comment", "Hi")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Off: no form anywhere, and a POST is refused.
    app.state.federation.set_local_comments(LocalComments::Off);
    app.store()
        .set_post_comments_closed(app.post.id, false)
        .await
        .unwrap();
    let page = app.page("/posts/hello").await;
    assert!(!page.contains("id=\"comment-form\""));
    assert!(!page.contains("replyto="));
    let response = app
        .send("hello", &[("name", "Rita"), ("comment", "Hi")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("turned off"));
    assert!(app.comments().await.is_empty());
}

async fn a_cross_site_post_is_refused(db: String) {
    let app = App::spawn(&db, LocalComments::Open).await;
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = app
            .client
            .post(app.url("/posts/hello/comments"))
            .header(header, value)
            .form(&[("name", "Rita"), ("comment", "Hi")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{header}: {value}"
        );
        assert!(response.text().await.unwrap().contains("another site"));
    }
    assert!(app.comments().await.is_empty());
}

async fn the_honeypot_drops_silently_and_the_rate_limit_answers_429(db: String) {
    let app = App::spawn(&db, LocalComments::Open).await;
    let response = app
        .send(
            "hello",
            &[
                ("name", "Bot"),
                ("comment", "Buy"),
                ("subject", "Great offer"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), PENDING, "the same thank-you answer");
    assert!(app.comments().await.is_empty(), "nothing stored");

    // Five submissions per ten minutes per client: the honeypot one counted.
    for n in 0..4 {
        let text = format!("comment {n}");
        let response = app
            .send("hello", &[("name", "Rita"), ("comment", &text)])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{n}");
    }
    let response = app
        .send("hello", &[("name", "Rita"), ("comment", "one too many")])
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.comments().await.len(), 4);
}

on_both_engines! {
    a_moderated_comment_waits_and_appears_once_approved =>
        sqlite_a_moderated_comment_waits_and_appears_once_approved,
        postgres_a_moderated_comment_waits_and_appears_once_approved;
    an_open_comment_is_published_and_answerable =>
        sqlite_an_open_comment_is_published_and_answerable,
        postgres_an_open_comment_is_published_and_answerable;
    m5_a_keyword_marks_a_reader_comment_spam =>
        sqlite_m5_a_keyword_marks_a_reader_comment_spam,
        postgres_m5_a_keyword_marks_a_reader_comment_spam;
    c4_c8_names_are_escaped_isolated_and_stripped_of_nul =>
        sqlite_c4_c8_names_are_escaped_isolated_and_stripped_of_nul,
        postgres_c4_c8_names_are_escaped_isolated_and_stripped_of_nul;
    bad_input_is_refused_with_a_clear_page_and_nothing_stored =>
        sqlite_bad_input_is_refused_with_a_clear_page_and_nothing_stored,
        postgres_bad_input_is_refused_with_a_clear_page_and_nothing_stored;
    closed_posts_and_the_off_setting_refuse_comments_and_hide_the_form =>
        sqlite_closed_posts_and_the_off_setting_refuse_comments_and_hide_the_form,
        postgres_closed_posts_and_the_off_setting_refuse_comments_and_hide_the_form;
    a_cross_site_post_is_refused =>
        sqlite_a_cross_site_post_is_refused,
        postgres_a_cross_site_post_is_refused;
    the_honeypot_drops_silently_and_the_rate_limit_answers_429 =>
        sqlite_the_honeypot_drops_silently_and_the_rate_limit_answers_429,
        postgres_the_honeypot_drops_silently_and_the_rate_limit_answers_429;
}
