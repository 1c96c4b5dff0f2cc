//! App tests of the public pages: the real router on a port, a fresh SQLite store,
//! data seeded through the Store trait and the authoring use cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use gloss_federation::authoring::{self, PostInput};
use gloss_storage::{
    Author, BlogSettings, Comment, CommentId, CommentOrigin, Moderation, NewAuthor, NewComment,
    Post, PostId, PostStatus, Store,
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

    async fn spawn(posts_per_page: i64) -> TestApp {
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
            posts_per_page,
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

    /// Status and body of `GET path`.
    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Body of `GET path`, which must answer 200.
    async fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
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

    async fn post(&self, author: &Author, title: &str, tags: &[&str], day: u32) -> Post {
        self.post_with(
            author,
            title,
            tags,
            day,
            PostStatus::Published,
            "Some *text*.",
        )
        .await
    }

    async fn post_with(
        &self,
        author: &Author,
        title: &str,
        tags: &[&str],
        day: u32,
        status: PostStatus,
        markdown: &str,
    ) -> Post {
        authoring::create_post(
            &*self.store,
            &self.urls(),
            PostInput {
                author_id: author.id,
                title: title.to_owned(),
                slug: None,
                markdown: markdown.to_owned(),
                summary: Some(format!("Summary of {title}")),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
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
    ) -> Comment {
        self.store
            .add_comment(NewComment {
                post_id: post,
                parent_id: parent,
                author_name: name.to_owned(),
                author_url: Some(format!("https://social.example/@{}", name.to_lowercase())),
                author_avatar_url: None,
                author_email: None,
                content_html: format!("<p>Words from {name}</p>"),
                origin: CommentOrigin::Local,
                moderation,
                ap_id: None,
                published_at: Utc::now(),
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

/// The open elements (their opening tags, without `<>`) at the first occurrence of
/// `needle`, outermost first: a tiny tag-stack walk that is enough for the markup
/// our templates produce (every non-void element is closed).
fn open_elements_at(html: &str, needle: &str) -> Vec<String> {
    const VOID: [&str; 8] = ["area", "br", "hr", "img", "input", "link", "meta", "wbr"];
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in page"));
    let stop = html[..at].rfind('<').unwrap();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = &html[..stop];
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            if let Some(pos) = stack.iter().rposition(|t| element_name(t) == name) {
                stack.truncate(pos);
            }
            continue;
        }
        if !VOID.contains(&element_name(tag)) {
            stack.push(tag.to_owned());
        }
    }
    // The element that holds the needle in its opening tag is open too.
    let own = &html[stop + 1..];
    stack.push(own[..own.find('>').unwrap()].to_owned());
    stack
}

fn element_name(tag: &str) -> &str {
    tag.split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or("")
}

#[tokio::test]
async fn the_home_page_lists_posts_newest_first_with_pagination() {
    let app = TestApp::spawn(2).await;
    let ann = app.author("ann", "Ann Example").await;
    for day in 1..=5 {
        app.post(&ann, &format!("Post number {day}"), &["Travel"], day)
            .await;
    }
    app.post_with(&ann, "A secret draft", &[], 9, PostStatus::Draft, "x")
        .await;

    let first = app.page("/").await;
    let five = first.find("Post number 5").expect("newest post");
    let four = first.find("Post number 4").expect("second post");
    assert!(five < four, "newest first");
    assert!(!first.contains("Post number 3"));
    assert!(!first.contains("A secret draft"));
    assert!(first.contains("class=\"h-feed\""));
    assert_eq!(first.matches("class=\"h-entry\"").count(), 2);
    for class in [
        "p-name",
        "u-url",
        "dt-published",
        "p-summary",
        "p-author h-card",
    ] {
        assert!(first.contains(class), "{class}");
    }
    assert!(first.contains("Summary of Post number 5"));
    assert!(first.contains("0 comments"));
    assert!(first.contains("href=\"/authors/ann\"") || first.contains("/authors/ann\""));
    assert!(first.contains("href=\"/tags/travel\""));
    assert!(first.contains(&format!(
        "<link rel=\"next\" href=\"{}/?page=2\">",
        app.base
    )));
    assert!(first.contains("<a rel=\"next\" href=\"/?page=2\">"));
    assert!(!first.contains("rel=\"prev\""));
    assert!(first.contains(&format!("<link rel=\"canonical\" href=\"{}/\">", app.base)));
    assert!(first.contains("<meta property=\"og:type\" content=\"website\">"));
    assert_eq!(first.matches("<h1").count(), 1);

    let second = app.page("/?page=2").await;
    assert!(second.contains("Post number 3") && second.contains("Post number 2"));
    assert!(second.contains(&format!("<link rel=\"prev\" href=\"{}/\">", app.base)));
    assert!(second.contains("<a rel=\"prev\" href=\"/\">"));
    assert!(second.contains("<a rel=\"next\" href=\"/?page=3\">"));
    assert!(second.contains(&format!(
        "<link rel=\"canonical\" href=\"{}/?page=2\">",
        app.base
    )));

    let third = app.page("/?page=3").await;
    assert!(third.contains("Post number 1"));
    assert!(third.contains("<a rel=\"prev\" href=\"/?page=2\">"));
    assert!(!third.contains("rel=\"next\""));

    for junk in [
        "/?page=4",
        "/?page=0",
        "/?page=abc",
        "/?page=-1",
        "/?page=99999999999999",
    ] {
        assert_eq!(app.get(junk).await.0, 404, "{junk}");
    }
}

#[tokio::test]
async fn an_empty_blog_still_has_a_home_page() {
    let app = TestApp::spawn(10).await;
    let home = app.page("/").await;
    assert!(home.contains("No posts yet."));
    assert_eq!(app.get("/?page=2").await.0, 404);
}

#[tokio::test]
async fn the_post_page_shows_the_article_and_updated_only_after_an_edit() {
    let app = TestApp::spawn(10).await;
    let ann = app.author("ann", "Ann Example").await;
    let post = app
        .post_with(
            &ann,
            "Hello world",
            &["Rust", "Notes"],
            1,
            PostStatus::Published,
            "Hello **there**.",
        )
        .await;

    let page = app.page("/posts/hello-world").await;
    assert!(page.contains("<h1 class=\"p-name\">Hello world</h1>"));
    assert_eq!(page.matches("<h1").count(), 1);
    assert!(
        page.contains("<strong>there</strong>"),
        "article HTML is not escaped"
    );
    assert!(page.contains("class=\"e-content post-content\""));
    assert!(page.contains("class=\"dt-published\" datetime=\"2024-03-02T09:00:00Z\""));
    assert!(!page.contains("Updated"));
    assert!(!page.contains("dt-updated"));
    assert!(!page.contains("article:modified_time"));
    let permalink = format!("{}/posts/hello-world", app.base);
    assert!(page.contains(&format!("class=\"u-url u-uid\" href=\"{permalink}\"")));
    assert!(page.contains(&format!(
        "href=\"{}/authors/ann\">Ann Example</a>",
        app.base
    )));
    assert!(page.contains("class=\"p-category\" rel=\"tag\" href=\"/tags/rust\">Rust</a>"));
    assert!(page.contains("class=\"p-category\" rel=\"tag\" href=\"/tags/notes\">Notes</a>"));
    assert!(page.contains("0 comments"));

    // Head metadata.
    assert!(page.contains(&format!("<link rel=\"canonical\" href=\"{permalink}\">")));
    assert!(page.contains(&format!(
        "<meta property=\"og:url\" content=\"{permalink}\">"
    )));
    assert!(page.contains("<meta property=\"og:type\" content=\"article\">"));
    assert!(page.contains("<meta property=\"og:title\" content=\"Hello world\">"));
    assert!(page.contains("<meta property=\"og:description\" content=\"Summary of Hello world\">"));
    assert!(page.contains("<meta name=\"description\" content=\"Summary of Hello world\">"));
    assert!(page.contains("<meta property=\"og:site_name\" content=\"Gloss\">"));
    assert!(
        page.contains(
            "<meta property=\"article:published_time\" content=\"2024-03-02T09:00:00Z\">"
        )
    );
    assert!(page.contains("<meta name=\"twitter:card\" content=\"summary\">"));
    assert!(!page.contains("og:image"));
    assert!(page.contains(&format!(
        "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"{permalink}/comments.atom\" title=\"Comments on Hello world\">"
    )));
    assert!(page.contains("<html lang=\"en\">"));

    app.store
        .update_blog_settings(&BlogSettings {
            avatar_url: Some("https://cdn.example/me.png".to_owned()),
            ..BlogSettings::default()
        })
        .await
        .unwrap();
    authoring::update_post(
        &*app.store,
        &app.urls(),
        post.id,
        PostInput {
            author_id: ann.id,
            title: "Hello world".to_owned(),
            slug: Some("hello-world".to_owned()),
            markdown: "Hello **again**.".to_owned(),
            summary: None,
            tags: vec!["Rust".to_owned()],
            published_at: None,
            status: PostStatus::Published,
        },
    )
    .await
    .unwrap();
    let edited = app.page("/posts/hello-world").await;
    assert!(edited.contains("<strong>again</strong>"));
    assert!(edited.contains("Updated <time class=\"dt-updated\" datetime=\""));
    assert!(edited.contains("<meta property=\"article:modified_time\" content=\""));
    assert!(edited.contains("<meta property=\"og:image\" content=\"https://cdn.example/me.png\">"));
    assert!(!edited.contains("/tags/notes"));
}

#[tokio::test]
async fn drafts_unknown_and_deleted_posts_answer_404_and_410() {
    let app = TestApp::spawn(10).await;
    let ann = app.author("ann", "Ann").await;
    app.post_with(&ann, "Draft post", &[], 1, PostStatus::Draft, "x")
        .await;
    let doomed = app.post(&ann, "Doomed post", &[], 2).await;
    authoring::delete_post(&*app.store, &app.urls(), doomed.id)
        .await
        .unwrap();

    assert_eq!(app.get("/posts/draft-post").await.0, 404);
    assert_eq!(app.get("/posts/no-such-post").await.0, 404);
    assert_eq!(app.get("/posts/%FF").await.0, 404);
    let (status, body) = app.get("/posts/doomed-post").await;
    assert_eq!(status, 410);
    assert!(body.contains("Gone"));
    let home = app.page("/").await;
    assert!(!home.contains("Doomed post") && !home.contains("Draft post"));
}

#[tokio::test]
async fn comments_are_counted_and_threaded_as_nested_h_cites() {
    let app = TestApp::spawn(10).await;
    let ann = app.author("ann", "Ann").await;
    let post = app.post(&ann, "Threads", &[], 1).await;
    let id = post.id;
    let first = app.comment(id, None, "Alice", Moderation::Approved).await;
    let reply = app
        .comment(id, Some(first.id), "Bob", Moderation::Approved)
        .await;
    let pending = app
        .comment(id, None, "Pendleton", Moderation::Pending)
        .await;
    let hidden = app
        .comment(id, Some(first.id), "Hyde", Moderation::Hidden)
        .await;
    let spam = app.comment(id, None, "Spammer", Moderation::Spam).await;
    let deep = app
        .comment(id, Some(reply.id), "Carol", Moderation::Approved)
        .await;
    let gone_alone = app.comment(id, None, "Ghost", Moderation::Approved).await;
    let gone_parent = app
        .comment(id, None, "Vanished", Moderation::Approved)
        .await;
    let orphan = app
        .comment(id, Some(gone_parent.id), "Dave", Moderation::Approved)
        .await;
    app.store.delete_comment(gone_alone.id).await.unwrap();
    app.store.delete_comment(gone_parent.id).await.unwrap();

    let page = app.page("/posts/threads").await;
    // Alice, Bob, Carol and Dave: approved and not deleted.
    assert!(
        page.contains("<h2 id=\"comments-heading\">4 comments</h2>"),
        "{page}"
    );
    for name in ["Alice", "Bob", "Carol", "Dave"] {
        assert!(page.contains(&format!("<bdi>{name}</bdi>")), "{name}");
    }
    for name in ["Pendleton", "Hyde", "Spammer", "Ghost", "Vanished"] {
        assert!(!page.contains(name), "{name} must not show");
    }
    for absent in [pending.id, hidden.id, spam.id, gone_alone.id] {
        assert!(!page.contains(&format!("id=\"comment-{absent}\"")));
    }
    assert_eq!(page.matches("This comment was deleted.").count(), 1);

    // Top-level comments are p-comment h-cites of the post's h-entry.
    let at_first = open_elements_at(&page, &format!("id=\"comment-{}\"", first.id));
    assert!(at_first.iter().any(|t| t.contains("class=\"h-entry")));
    assert!(
        at_first
            .last()
            .unwrap()
            .contains("class=\"comment p-comment h-cite\"")
    );

    // A reply's article sits inside its parent's li and article.
    let at_reply = open_elements_at(&page, &format!("id=\"comment-{}\"", reply.id));
    let parent_article = at_reply
        .iter()
        .position(|t| {
            t.starts_with("article") && t.contains(&format!("id=\"comment-{}\"", first.id))
        })
        .expect("reply inside parent article");
    assert!(at_reply[parent_article - 1].starts_with("li"));
    assert!(
        at_reply[parent_article + 1..]
            .iter()
            .any(|t| t.contains("class=\"comment-list\""))
    );

    let at_deep = open_elements_at(&page, &format!("id=\"comment-{}\"", deep.id));
    let articles: Vec<&String> = at_deep
        .iter()
        .filter(|t| t.starts_with("article") && t.contains("h-cite"))
        .collect();
    assert_eq!(
        articles.len(),
        3,
        "Carol inside Bob inside Alice: {at_deep:?}"
    );

    // The deleted parent is a plain placeholder; its reply still nests below it.
    let at_orphan = open_elements_at(&page, &format!("id=\"comment-{}\"", orphan.id));
    let placeholder = at_orphan
        .iter()
        .find(|t| t.contains(&format!("id=\"comment-{}\"", gone_parent.id)))
        .expect("reply nested in the placeholder");
    assert!(placeholder.contains("comment-deleted") && !placeholder.contains("h-cite"));

    // Permalinks are absolute.
    assert!(page.contains(&format!(
        "class=\"u-url comment-permalink\" href=\"{}/posts/threads#comment-{}\"",
        app.base, first.id
    )));
    assert!(page.contains("rel=\"nofollow ugc noopener\""));

    let home = app.page("/").await;
    assert!(home.contains("4 comments"));

    // One approved comment reads in the singular.
    let solo = app.post(&ann, "Solo", &[], 2).await;
    app.comment(solo.id, None, "Erin", Moderation::Approved)
        .await;
    assert!(app.page("/posts/solo").await.contains(">1 comment</h2>"));
}

#[tokio::test]
async fn hostile_commenter_names_and_urls_are_escaped() {
    let app = TestApp::spawn(10).await;
    let ann = app.author("ann", "Ann").await;
    let post = app.post(&ann, "Target", &[], 1).await;
    for (name, url, avatar) in [
        (
            "<script>alert(\"x\")</script>",
            "https://evil.example/\"onmouseover=\"alert(1)",
            "https://evil.example/a.png\"onerror=\"alert(2)",
        ),
        (
            "\"onmouseover=alert(3) x=\"",
            "javascript:alert(4)",
            "javascript:alert(5)",
        ),
    ] {
        app.store
            .add_comment(NewComment {
                post_id: post.id,
                parent_id: None,
                author_name: name.to_owned(),
                author_url: Some(url.to_owned()),
                author_avatar_url: Some(avatar.to_owned()),
                author_email: None,
                content_html: "<p>hi</p>".to_owned(),
                origin: CommentOrigin::Fediverse,
                moderation: Moderation::Approved,
                ap_id: None,
                published_at: Utc::now(),
                import_key: None,
                moderation_reason: None,
            })
            .await
            .unwrap();
    }
    let page = app.page("/posts/target").await;
    assert!(page.contains("2 comments"));
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("\"onmouseover="), "{page}");
    assert!(!page.contains("\"onerror="), "{page}");
    assert!(!page.contains("javascript:"), "{page}");
    assert_eq!(page.matches("class=\"u-photo avatar\"").count(), 1);
    assert!(page.contains("alt=\"\" width=\"32\" height=\"32\""));
}

#[tokio::test]
async fn tag_pages_list_published_posts_with_the_tag() {
    let app = TestApp::spawn(1).await;
    let ann = app.author("ann", "Ann").await;
    app.post(&ann, "First rusty", &["Rust Lang"], 1).await;
    app.post(&ann, "Second rusty", &["Rust Lang", "Travel"], 2)
        .await;
    app.post(&ann, "Untagged", &[], 3).await;
    app.post_with(&ann, "Draft only", &["Secret"], 4, PostStatus::Draft, "x")
        .await;

    let page = app.page("/tags/rust-lang").await;
    assert!(page.contains("<h1>Posts tagged “Rust Lang”</h1>"));
    assert!(page.contains("Second rusty"));
    assert!(!page.contains("First rusty") && !page.contains("Untagged"));
    assert!(page.contains("class=\"h-feed\""));
    assert!(page.contains("<a rel=\"next\" href=\"/tags/rust-lang?page=2\">"));
    let second = app.page("/tags/rust-lang?page=2").await;
    assert!(second.contains("First rusty"));
    assert!(second.contains("<a rel=\"prev\" href=\"/tags/rust-lang\">"));

    assert_eq!(app.get("/tags/rust-lang?page=3").await.0, 404);
    assert_eq!(app.get("/tags/no-such-tag").await.0, 404);
    assert_eq!(app.get("/tags/secret").await.0, 404);

    let index = app.page("/tags").await;
    assert!(index.contains("href=\"/tags/rust-lang\">Rust Lang</a>"));
    assert!(index.contains("(2 posts)"));
    assert!(index.contains("href=\"/tags/travel\">Travel</a>"));
    assert!(!index.contains("Secret"));
}

#[tokio::test]
async fn author_pages_show_an_h_card_and_the_authors_posts() {
    let app = TestApp::spawn(10).await;
    let ann = app.author("ann", "Ann Example").await;
    let bob = app.author("bob", "Bob").await;
    app.store
        .update_author_profile(
            ann.id,
            "Ann Example",
            "Writes about <rivers>.",
            Some("https://cdn.example/ann.png"),
        )
        .await
        .unwrap();
    app.post(&ann, "Ann writes", &[], 1).await;
    app.post(&bob, "Bob writes", &[], 2).await;

    let page = app.page("/authors/ann").await;
    assert!(page.contains("class=\"h-card author-card with-avatar\""));
    assert!(page.contains(&format!(
        "class=\"p-name u-url u-uid\" href=\"{}/authors/ann\">Ann Example</a>",
        app.base
    )));
    assert!(
        page.contains("class=\"p-note\">Writes about &#60;rivers&#62;.</p>")
            || page.contains("class=\"p-note\">Writes about &lt;rivers&gt;.</p>"),
        "{page}"
    );
    assert!(page.contains("class=\"u-photo author-avatar\" src=\"https://cdn.example/ann.png\" alt=\"Portrait of Ann Example\""));
    assert!(page.contains("Ann writes") && !page.contains("Bob writes"));
    assert_eq!(page.matches("<h1").count(), 1);

    let empty = TestApp::spawn(10).await;
    empty.author("carol", "Carol").await;
    assert!(empty.page("/authors/carol").await.contains("No posts yet."));
    assert_eq!(app.get("/authors/nobody").await.0, 404);
    assert_eq!(app.get("/authors/ann?page=2").await.0, 404);
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
