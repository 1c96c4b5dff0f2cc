//! App tests of how fediverse comments appear to readers: the real router on a port,
//! a fresh SQLite store, remote actors and their replies stored through the `Store`
//! (`upsert_remote_comment`), as the inbox stores them.
//!
//! What a reader may see: approved, public or unlisted comments by authors who are not
//! blocked; never a followers-only or direct reply, in a page, a feed or a count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use gloss_federation::authoring::{self, PostInput};
use gloss_storage::{
    Attachment, Author, BlockKind, Comment, Moderation, NewAuthor, NewReaction, Post, PostStatus,
    ReactionKind, RemoteActor, RemoteActorUpsert, RemoteCommentUpsert, Store, ThreadNode,
    UpsertOutcome, Visibility,
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

    async fn page(&self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.text().await.unwrap()
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

    async fn post(&self, author: &Author, title: &str) -> Post {
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
                status: PostStatus::Published,
            },
        )
        .await
        .unwrap()
    }

    /// Stores the remote actor `name` on `host`.
    async fn actor(&self, name: &str, host: &str) -> RemoteActor {
        let id = format!("https://{host}/users/{name}");
        self.store
            .upsert_remote_actor(RemoteActorUpsert {
                ap_id: id.clone(),
                kind: "Person".to_owned(),
                preferred_username: Some(name.to_owned()),
                name: Some(format!("{name} of {host}")),
                url: Some(format!("https://{host}/@{name}")),
                icon_url: None,
                inbox: format!("{id}/inbox"),
                shared_inbox: None,
                public_key_id: format!("{id}#main-key"),
                public_key_pem: "unused".to_owned(),
                host: host.to_owned(),
                fetched_at: Utc::now(),
            })
            .await
            .unwrap()
    }

    /// Stores a new reply and returns it.
    async fn reply(&self, upsert: RemoteCommentUpsert) -> Comment {
        match self.store.upsert_remote_comment(upsert).await.unwrap() {
            UpsertOutcome::Created(comment) => comment,
            other => panic!("expected Created, got {other:?}"),
        }
    }
}

/// A public, approved reply by `by` to `parent`, saying `text`.
fn reply(by: &RemoteActor, parent: ThreadNode, text: &str) -> RemoteCommentUpsert {
    RemoteCommentUpsert {
        ap_id: format!("{}/statuses/{}", by.ap_id, text.replace(' ', "-")),
        parent,
        remote_actor_id: by.id,
        author_name: by.name.clone().unwrap_or_default(),
        author_url: by.url.clone(),
        author_avatar_url: None,
        content_html: format!("<p>{text}</p>"),
        summary: None,
        sensitive: false,
        attachments: Vec::new(),
        url: None,
        in_reply_to_ap_id: None,
        visibility: Visibility::Public,
        published_at: Utc::now() - Duration::minutes(5),
        updated_at: None,
        moderation: Moderation::Approved,
        moderation_reason: None,
    }
}

/// The comment count heading of a post page.
fn count_heading(page: &str) -> &str {
    let start = page.find("<h2 id=\"comments-heading\">").unwrap();
    let end = start + page[start..].find("</h2>").unwrap();
    &page[start..end]
}

#[tokio::test]
async fn a_held_comment_appears_nowhere_until_it_is_approved() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Held").await;
    let bob = app.actor("bob", "social.example").await;
    let held = app
        .reply(RemoteCommentUpsert {
            moderation: Moderation::Pending,
            moderation_reason: Some("first comment by this author".to_owned()),
            ..reply(&bob, ThreadNode::Post(post.id), "held words")
        })
        .await;

    let page = app.page("/posts/held").await;
    assert!(!page.contains("held words"), "{page}");
    assert!(count_heading(&page).ends_with("0 comments"));
    assert!(app.page("/").await.contains("0 comments"));
    let feed = app.page("/posts/held/comments.atom").await;
    assert!(!feed.contains("held words"), "{feed}");

    app.store
        .set_comment_moderation(held.id, Moderation::Approved)
        .await
        .unwrap();
    let page = app.page("/posts/held").await;
    assert!(page.contains("<p>held words</p>"), "{page}");
    assert!(count_heading(&page).ends_with("1 comment"));
    assert!(app.page("/").await.contains("1 comment"));
    assert!(
        app.page("/posts/held/comments.atom")
            .await
            .contains("held words")
    );
}

#[tokio::test]
async fn followers_only_and_direct_replies_are_never_shown_or_counted() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Private").await;
    let bob = app.actor("bob", "social.example").await;
    let public = app
        .reply(reply(&bob, ThreadNode::Post(post.id), "for everyone"))
        .await;
    app.reply(RemoteCommentUpsert {
        visibility: Visibility::Followers,
        ..reply(&bob, ThreadNode::Post(post.id), "followers secret")
    })
    .await;
    // Even nested under a public comment, and approved, a direct reply stays private.
    app.reply(RemoteCommentUpsert {
        visibility: Visibility::Direct,
        ..reply(&bob, ThreadNode::Comment(public.id), "direct secret")
    })
    .await;
    app.reply(RemoteCommentUpsert {
        visibility: Visibility::Unlisted,
        ..reply(&bob, ThreadNode::Post(post.id), "quietly public")
    })
    .await;

    let page = app.page("/posts/private").await;
    assert!(page.contains("for everyone"));
    assert!(
        page.contains("quietly public"),
        "unlisted replies are shown"
    );
    assert!(!page.contains("secret"), "{page}");
    assert!(count_heading(&page).ends_with("2 comments"));
    let home = app.page("/").await;
    assert!(home.contains("2 comments"), "{home}");
    let feed = app.page("/posts/private/comments.atom").await;
    assert!(feed.contains("for everyone"));
    assert!(!feed.contains("secret"), "{feed}");
}

#[tokio::test]
async fn a_content_warning_collapses_the_comment_without_javascript() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Warned").await;
    let bob = app.actor("bob", "social.example").await;
    app.reply(RemoteCommentUpsert {
        summary: Some("Spoilers for the finale".to_owned()),
        sensitive: true,
        attachments: vec![Attachment {
            url: "https://media.example/finale.png".to_owned(),
            media_type: Some("image/png".to_owned()),
            name: Some("The last scene".to_owned()),
        }],
        ..reply(&bob, ThreadNode::Post(post.id), "the butler did it")
    })
    .await;

    let page = app.page("/posts/warned").await;
    let details = page
        .find("<details class=\"comment-cw\">")
        .expect("a details");
    let summary = page[details..].find("<summary>").unwrap() + details;
    let cw = page.find("Spoilers for the finale").unwrap();
    let content = page.find("<p>the butler did it</p>").unwrap();
    let attachment = page.find("The last scene").unwrap();
    let closed = page[details..].find("</details>").unwrap() + details;
    assert!(details < summary && summary < cw && cw < content, "{page}");
    assert!(content < attachment && attachment < closed, "{page}");
    assert!(
        !page[details..summary].contains(" open"),
        "collapsed by default"
    );
    assert!(!page.contains("<script"), "no JavaScript needed");
    // The whole comment is collapsed: no second, media-only toggle inside.
    assert!(!page.contains("comment-sensitive-media"), "{page}");
    // The comment still is an h-cite with its content.
    assert!(page.contains("class=\"comment-body e-content\""));
}

#[tokio::test]
async fn sensitive_media_without_a_warning_collapse_only_the_media() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Sensitive").await;
    let bob = app.actor("bob", "social.example").await;
    app.reply(RemoteCommentUpsert {
        sensitive: true,
        attachments: vec![Attachment {
            url: "https://media.example/x.jpg".to_owned(),
            media_type: Some("image/jpeg".to_owned()),
            name: None,
        }],
        ..reply(&bob, ThreadNode::Post(post.id), "look")
    })
    .await;
    let page = app.page("/posts/sensitive").await;
    assert!(!page.contains("comment-cw"), "{page}");
    let toggle = page
        .find("<details class=\"comment-sensitive-media\">")
        .unwrap();
    let link = page.find("href=\"https://media.example/x.jpg\"").unwrap();
    assert!(toggle < link);
    assert!(page.contains("Image: no description"), "{page}");
    assert!(
        page.find("<p>look</p>").unwrap() < toggle,
        "the text stays visible"
    );
}

#[tokio::test]
async fn attachments_are_links_with_their_alt_text_never_inline_images() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Media").await;
    let bob = app.actor("bob", "social.example").await;
    app.reply(RemoteCommentUpsert {
        attachments: vec![
            Attachment {
                url: "https://media.example/cat.png".to_owned(),
                media_type: Some("image/png".to_owned()),
                name: Some("A cat asleep on a keyboard".to_owned()),
            },
            Attachment {
                url: "https://media.example/purr.mp4".to_owned(),
                media_type: Some("video/mp4".to_owned()),
                name: Some("Purring".to_owned()),
            },
            Attachment {
                url: "javascript:alert(1)".to_owned(),
                media_type: Some("image/png".to_owned()),
                name: Some("sneaky".to_owned()),
            },
        ],
        ..reply(&bob, ThreadNode::Post(post.id), "my cat")
    })
    .await;

    let page = app.page("/posts/media").await;
    assert!(
        page.contains(
            "<a href=\"https://media.example/cat.png\" rel=\"nofollow noopener noreferrer ugc\">Image: <bdi>A cat asleep on a keyboard</bdi></a>"
        ),
        "{page}"
    );
    assert!(page.contains("Video: <bdi>Purring</bdi>"), "{page}");
    assert!(!page.contains("src=\"https://media.example"), "{page}");
    assert!(!page.contains("<video"), "{page}");
    assert!(!page.contains("javascript:"), "{page}");
    assert!(!page.contains("sneaky"), "unsafe links are left out");
}

#[tokio::test]
async fn hostile_content_warnings_and_descriptions_are_escaped() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Hostile").await;
    let bob = app.actor("bob", "social.example").await;
    app.reply(RemoteCommentUpsert {
        author_name: "<img src=x onerror=alert(1)>".to_owned(),
        summary: Some("</summary><script>alert(2)</script>".to_owned()),
        attachments: vec![Attachment {
            url: "https://media.example/a.png\"onmouseover=\"alert(3)".to_owned(),
            media_type: Some("image/png\"><script>alert(4)</script>".to_owned()),
            name: Some("\"><img src=x onerror=alert(5)>\u{202e}gnp.exe".to_owned()),
        }],
        ..reply(&bob, ThreadNode::Post(post.id), "hello")
    })
    .await;

    let page = app.page("/posts/hostile").await;
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(!page.contains("\"onmouseover="), "{page}");
    assert!(!page.contains("</summary><script>"), "{page}");
    assert!(
        page.contains("&lt;/summary&gt;") || page.contains("&#60;/summary&#62;"),
        "{page}"
    );
    // The description is isolated, so its right-to-left override stays inside it.
    assert!(page.contains("<bdi>&#34;&#62;&#60;img") || page.contains("<bdi>&quot;&gt;&lt;img"));
}

#[tokio::test]
async fn likes_and_boosts_are_counted_on_the_post_and_its_comments() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Liked").await;
    let bob = app.actor("bob", "social.example").await;
    let cy = app.actor("cy", "other.example").await;
    let dee = app.actor("dee", "other.example").await;
    let liked = app
        .reply(reply(&bob, ThreadNode::Post(post.id), "likeable"))
        .await;
    app.reply(reply(&cy, ThreadNode::Post(post.id), "ignored"))
        .await;
    let react = |n: &str, kind, by: &RemoteActor, target| NewReaction {
        ap_id: format!("{}/reactions/{n}", by.ap_id),
        kind,
        remote_actor_id: by.id,
        target,
        created_at: Utc::now(),
    };
    for reaction in [
        react("1", ReactionKind::Like, &bob, ThreadNode::Post(post.id)),
        react("2", ReactionKind::Like, &cy, ThreadNode::Post(post.id)),
        react("3", ReactionKind::Like, &dee, ThreadNode::Post(post.id)),
        react("4", ReactionKind::Announce, &cy, ThreadNode::Post(post.id)),
        react("5", ReactionKind::Like, &cy, ThreadNode::Comment(liked.id)),
        react(
            "6",
            ReactionKind::Announce,
            &dee,
            ThreadNode::Comment(liked.id),
        ),
        react(
            "7",
            ReactionKind::Announce,
            &cy,
            ThreadNode::Comment(liked.id),
        ),
    ] {
        app.store.record_reaction(reaction).await.unwrap();
    }

    let page = app.page("/posts/liked").await;
    assert!(
        page.contains("<p class=\"post-reactions\">3 likes · 1 boost</p>"),
        "{page}"
    );
    let heading = page.find("id=\"comments-heading\"").unwrap();
    let counts = page.find("post-reactions").unwrap();
    let first_comment = page.find("class=\"comment p-comment h-cite\"").unwrap();
    assert!(heading < counts && counts < first_comment, "near the count");
    assert!(
        page.contains("<p class=\"comment-reactions\">1 like · 2 boosts</p>"),
        "{page}"
    );
    assert_eq!(
        page.matches("class=\"comment-reactions\"").count(),
        1,
        "comments without reactions show none"
    );
}

#[tokio::test]
async fn a_post_without_reactions_shows_no_counts() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    app.post(&ann, "Quiet").await;
    let page = app.page("/posts/quiet").await;
    assert!(!page.contains("post-reactions"));
    assert!(!page.contains("likes"));
}

#[tokio::test]
async fn blocked_authors_and_domains_disappear_and_come_back_when_unblocked() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Blocks").await;
    let bob = app.actor("bob", "social.example").await;
    let eve = app.actor("eve", "spam.example").await;
    let sub = app.actor("sub", "eu.spam.example").await;
    app.reply(reply(&bob, ThreadNode::Post(post.id), "from bob"))
        .await;
    app.reply(reply(&eve, ThreadNode::Post(post.id), "from eve"))
        .await;
    app.reply(reply(&sub, ThreadNode::Post(post.id), "from sub"))
        .await;

    app.store
        .add_block(BlockKind::Actor, &bob.ap_id, "rude", Utc::now())
        .await
        .unwrap();
    app.store
        .add_block(BlockKind::Domain, "spam.example", "spam", Utc::now())
        .await
        .unwrap();
    let page = app.page("/posts/blocks").await;
    assert!(count_heading(&page).ends_with("0 comments"), "{page}");
    let feed = app.page("/posts/blocks/comments.atom").await;
    for text in ["from bob", "from eve", "from sub"] {
        assert!(!page.contains(text), "{page}");
        assert!(!feed.contains(text), "{feed}");
    }

    app.store
        .remove_block(BlockKind::Actor, &bob.ap_id)
        .await
        .unwrap();
    app.store
        .remove_block(BlockKind::Domain, "spam.example")
        .await
        .unwrap();
    let page = app.page("/posts/blocks").await;
    assert!(count_heading(&page).ends_with("3 comments"), "{page}");
    for text in ["from bob", "from eve", "from sub"] {
        assert!(page.contains(text), "{text}");
    }
}

#[tokio::test]
async fn remote_replies_nest_as_h_cites_inside_their_parents() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Threads").await;
    let bob = app.actor("bob", "social.example").await;
    let cy = app.actor("cy", "other.example").await;
    let top = app
        .reply(reply(&bob, ThreadNode::Post(post.id), "top words"))
        .await;
    let nested = app
        .reply(reply(&cy, ThreadNode::Comment(top.id), "nested words"))
        .await;
    let page = app.page("/posts/threads").await;
    let parent = page.find(&format!("id=\"comment-{}\"", top.id)).unwrap();
    let child = page.find(&format!("id=\"comment-{}\"", nested.id)).unwrap();
    let parent_end = page[parent..].find("</article>\n</li>\n</ul>").unwrap() + parent;
    assert!(parent < child && child < parent_end, "{page}");
    assert_eq!(
        page.matches("class=\"comment p-comment h-cite\"").count(),
        2
    );
    assert!(page.contains("<bdi>bob of social.example</bdi>"));
}

#[tokio::test]
async fn a_closed_post_says_so() {
    let app = TestApp::spawn().await;
    let ann = app.author().await;
    let post = app.post(&ann, "Closed").await;
    assert!(!app.page("/posts/closed").await.contains("comments-closed"));
    app.store
        .set_post_comments_closed(post.id, true)
        .await
        .unwrap();
    assert!(
        app.page("/posts/closed")
            .await
            .contains("Comments are closed.")
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
