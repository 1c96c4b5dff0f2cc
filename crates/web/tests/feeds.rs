//! App tests of the Atom feeds: the real router on a port, a fresh SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use atom_syndication::Feed;
use chrono::{DateTime, Duration, TimeZone, Utc};
use gloss_federation::authoring::{self, PostInput};
use gloss_storage::{
    Author, BlogSettings, CommentId, CommentOrigin, Moderation, NewAuthor, NewComment, Post,
    PostId, PostStatus, Store,
};
use gloss_web::{AppState, WebConfig};
use std::sync::Arc;

struct TestApp {
    base: String,
    store: Arc<dyn Store>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Our URLs, as the federation context builds them.
    fn urls(&self) -> gloss_federation::urls::Urls {
        gloss_federation::urls::Urls::new(&url::Url::parse(&self.base).unwrap())
    }

    async fn spawn() -> TestApp {
        // reqwest is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = WebConfig {
            public_url: url::Url::parse(&base).unwrap(),
            posts_per_page: 10,
        };
        let federation = federation(&store, &base);
        let app = gloss_web::router(AppState::new(store.clone(), config, federation));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestApp {
            base,
            store,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> (u16, Option<String>, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, content_type, response.text().await.unwrap())
    }

    /// Fetches and parses a feed, checking status and media type.
    async fn feed(&self, path: &str) -> (Feed, String) {
        let (status, content_type, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/atom+xml; charset=utf-8")
        );
        (body.parse::<Feed>().expect("the feed parses"), body)
    }

    async fn author(&self, username: &str, display_name: &str) -> Author {
        self.store
            .create_author(NewAuthor {
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                password_hash: None,
                is_admin: true,
                import_key: None,
            })
            .await
            .unwrap()
    }

    async fn post(&self, author: &Author, title: &str, day: u32, status: PostStatus) -> Post {
        authoring::create_post(
            &*self.store,
            &self.urls(),
            PostInput {
                author_id: author.id,
                title: title.to_owned(),
                slug: None,
                markdown: format!("Body of *{title}*."),
                summary: Some(format!("Summary of {title}")),
                tags: vec!["Rust Lang".to_owned()],
                published_at: Some(day_of(day)),
                status,
            },
        )
        .await
        .unwrap()
    }

    async fn comment(
        &self,
        post: PostId,
        parent: Option<CommentId>,
        name: &str,
        moderation: Moderation,
        minute: i64,
    ) -> gloss_storage::Comment {
        self.store
            .add_comment(NewComment {
                post_id: post,
                parent_id: parent,
                author_name: name.to_owned(),
                author_url: Some(format!("https://social.example/@{}", name.to_lowercase())),
                author_avatar_url: None,
                author_email: None,
                content_html: format!("<p>Words from {name}</p>"),
                origin: CommentOrigin::Fediverse,
                moderation,
                ap_id: None,
                published_at: day_of(10) + Duration::minutes(minute),
                import_key: None,
                moderation_reason: None,
            })
            .await
            .unwrap()
    }
}

fn day_of(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap() + Duration::days(i64::from(day))
}

#[tokio::test]
async fn the_posts_feed_carries_the_newest_published_posts() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann", "Ann Example").await;
    app.post(&ann, "Older", 1, PostStatus::Published).await;
    let newer = app.post(&ann, "Newer", 2, PostStatus::Published).await;
    app.post(&ann, "Draft", 3, PostStatus::Draft).await;
    let doomed = app.post(&ann, "Doomed", 4, PostStatus::Published).await;
    authoring::delete_post(&*app.store, &app.urls(), doomed.id)
        .await
        .unwrap();
    app.store
        .update_blog_settings(&BlogSettings {
            title: "Ann's notes".to_owned(),
            description: "Rivers & roads".to_owned(),
            ..BlogSettings::default()
        })
        .await
        .unwrap();

    let (feed, _) = app.feed("/feed.atom").await;
    assert_eq!(feed.title.as_str(), "Ann's notes");
    assert_eq!(
        feed.subtitle.as_ref().map(|s| s.as_str()),
        Some("Rivers & roads")
    );
    assert_eq!(feed.id, format!("{}/feed.atom", app.base));
    let rel = |rel: &str| {
        feed.links
            .iter()
            .find(|l| l.rel == rel)
            .map(|l| l.href.clone())
    };
    assert_eq!(rel("self"), Some(format!("{}/feed.atom", app.base)));
    assert_eq!(rel("alternate"), Some(format!("{}/", app.base)));

    let titles: Vec<&str> = feed.entries.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["Newer", "Older"]);
    let entry = &feed.entries[0];
    let permalink = format!("{}/posts/newer", app.base);
    assert_eq!(entry.id, permalink);
    assert_eq!(entry.links[0].href, permalink);
    assert_eq!(entry.links[0].rel, "alternate");
    assert_eq!(
        entry.published.map(|d| d.to_utc()),
        Some(newer.published_at)
    );
    assert_eq!(entry.updated.to_utc(), newer.published_at);
    assert_eq!(feed.updated.to_utc(), newer.published_at);
    assert_eq!(entry.authors[0].name, "Ann Example");
    assert_eq!(
        entry.authors[0].uri.as_deref(),
        Some(format!("{}/authors/ann", app.base).as_str())
    );
    assert_eq!(
        entry.summary.as_ref().map(|s| s.as_str()),
        Some("Summary of Newer")
    );
    let content = entry.content.as_ref().unwrap();
    assert_eq!(content.content_type.as_deref(), Some("html"));
    assert!(content.value.as_deref().unwrap().contains("<em>Newer</em>"));
    assert_eq!(entry.categories[0].term, "rust-lang");
    assert_eq!(entry.categories[0].label.as_deref(), Some("Rust Lang"));

    // An edit moves `updated`, not `published`.
    authoring::update_post(
        &*app.store,
        &app.urls(),
        newer.id,
        PostInput {
            author_id: ann.id,
            title: "Newer".to_owned(),
            slug: Some("newer".to_owned()),
            markdown: "Edited.".to_owned(),
            summary: None,
            tags: vec![],
            published_at: None,
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap();
    let (feed, _) = app.feed("/feed.atom").await;
    let entry = &feed.entries[0];
    assert_eq!(
        entry.published.map(|d| d.to_utc()),
        Some(newer.published_at)
    );
    assert!(entry.updated.to_utc() > newer.published_at);
    assert_eq!(feed.updated, entry.updated);
}

#[tokio::test]
async fn the_posts_feed_holds_at_most_twenty_entries() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann", "Ann").await;
    for day in 1..=22 {
        app.post(&ann, &format!("Post {day}"), day, PostStatus::Published)
            .await;
    }
    let (feed, _) = app.feed("/feed.atom").await;
    assert_eq!(feed.entries.len(), 20);
    assert_eq!(feed.entries[0].title.as_str(), "Post 22");
    assert_eq!(feed.entries[19].title.as_str(), "Post 3");
}

#[tokio::test]
async fn an_empty_feed_is_valid_and_stable() {
    let app = TestApp::spawn().await;
    let (feed, _) = app.feed("/feed.atom").await;
    assert!(feed.entries.is_empty());
    assert_eq!(feed.updated.timestamp(), 0);
}

#[tokio::test]
async fn hostile_text_is_escaped_and_the_feed_still_parses() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann", "Ann").await;
    let hostile = "<script>alert(1)</script> & \"quoted\" \u{1}";
    let post = authoring::create_post(
        &*app.store,
        &app.urls(),
        PostInput {
            author_id: ann.id,
            title: hostile.to_owned(),
            slug: Some("hostile".to_owned()),
            markdown: "x".to_owned(),
            summary: Some("<b>not bold</b> & co".to_owned()),
            tags: vec![],
            published_at: Some(day_of(1)),
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap();
    app.comment(
        post.id,
        None,
        "<script>Mallory</script>&\"",
        Moderation::Approved,
        0,
    )
    .await;

    let (feed, body) = app.feed("/feed.atom").await;
    assert!(!body.contains("<script>"), "{body}");
    assert_eq!(
        feed.entries[0].title.as_str(),
        "<script>alert(1)</script> & \"quoted\" "
    );
    assert_eq!(
        feed.entries[0].summary.as_ref().map(|s| s.as_str()),
        Some("<b>not bold</b> & co")
    );

    let (feed, body) = app.feed("/posts/hostile/comments.atom").await;
    assert!(!body.contains("<script>"), "{body}");
    assert_eq!(
        feed.entries[0].authors[0].name,
        "<script>Mallory</script>&\""
    );
    assert!(feed.title.as_str().starts_with("Comments on <script>"));
}

#[tokio::test]
async fn the_comments_feed_has_only_public_comments_newest_first() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann", "Ann").await;
    let post = app.post(&ann, "Talk", 1, PostStatus::Published).await;
    let first = app
        .comment(post.id, None, "Alice", Moderation::Approved, 1)
        .await;
    let reply = app
        .comment(post.id, Some(first.id), "Bob", Moderation::Approved, 2)
        .await;
    app.comment(post.id, None, "Pendleton", Moderation::Pending, 3)
        .await;
    app.comment(post.id, None, "Hyde", Moderation::Hidden, 4)
        .await;
    app.comment(post.id, None, "Spammer", Moderation::Spam, 5)
        .await;
    let gone = app
        .comment(post.id, None, "Ghost", Moderation::Approved, 6)
        .await;
    app.store.delete_comment(gone.id).await.unwrap();

    let (feed, body) = app.feed("/posts/talk/comments.atom").await;
    for hidden in ["Pendleton", "Hyde", "Spammer", "Ghost"] {
        assert!(!body.contains(hidden), "{hidden}");
    }
    let permalink = format!("{}/posts/talk", app.base);
    assert_eq!(feed.title.as_str(), "Comments on Talk");
    assert_eq!(feed.id, format!("{permalink}/comments.atom"));
    let titles: Vec<&str> = feed.entries.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Comment by Bob on Talk", "Comment by Alice on Talk"]
    );
    let entry = &feed.entries[0];
    assert_eq!(entry.id, format!("{permalink}#comment-{}", reply.id));
    assert_eq!(entry.links[0].href, entry.id);
    assert_eq!(entry.authors[0].name, "Bob");
    assert_eq!(
        entry.authors[0].uri.as_deref(),
        Some("https://social.example/@bob")
    );
    assert_eq!(
        entry.published.map(|d| d.to_utc()),
        Some(reply.published_at)
    );
    assert_eq!(entry.updated.to_utc(), reply.published_at);
    let content = entry.content.as_ref().unwrap();
    assert_eq!(content.content_type.as_deref(), Some("html"));
    assert_eq!(content.value.as_deref(), Some("<p>Words from Bob</p>"));
    assert_eq!(feed.updated.to_utc(), reply.published_at);
}

#[tokio::test]
async fn the_comments_feed_of_a_missing_post_is_404_or_410() {
    let app = TestApp::spawn().await;
    let ann = app.author("ann", "Ann").await;
    app.post(&ann, "Draft", 1, PostStatus::Draft).await;
    let doomed = app.post(&ann, "Doomed", 2, PostStatus::Published).await;
    authoring::delete_post(&*app.store, &app.urls(), doomed.id)
        .await
        .unwrap();
    assert_eq!(app.get("/posts/draft/comments.atom").await.0, 404);
    assert_eq!(app.get("/posts/nothing/comments.atom").await.0, 404);
    assert_eq!(app.get("/posts/doomed/comments.atom").await.0, 410);
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
