//! App tests of the moderation area of the admin UI: the real router on a real port, a
//! fresh SQLite database per test, a cookie-keeping client that does not follow
//! redirects, and fediverse comments stored through the `Store` as the inbox stores
//! them (`upsert_remote_comment`, with a stored remote actor).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use gloss_storage::{
    Author, BlockKind, Comment, CommentOrigin, Moderation, ModerationDecider, NewAuthor,
    NewComment, NewFlag, Post, PostStatus, RemoteActor, RemoteActorUpsert, RemoteCommentEdit,
    RemoteCommentUpsert, Store, ThreadNode, UpsertOutcome, Visibility,
};
use gloss_web::admin::hash_password;
use gloss_web::{AppState, WebConfig};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use std::net::SocketAddr;

const PASSWORD: &str = "correct horse battery";

struct App {
    base: String,
    state: AppState,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl App {
    async fn spawn() -> App {
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

    fn store(&self) -> &dyn Store {
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

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts `form` with the session's CSRF token (read from the dashboard).
    async fn post_with_csrf(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let html = self.page("/admin").await;
        let token = csrf_token(&html);
        let mut fields: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    /// Creates an author and logs this client in as them (a new client per login, so
    /// that one test can act as two people).
    async fn logged_in_as(&mut self, username: &str, is_admin: bool) -> Author {
        let author = self
            .store()
            .create_author(NewAuthor {
                username: username.to_owned(),
                display_name: format!("{username} display"),
                password_hash: Some(hash_password(PASSWORD).unwrap()),
                is_admin,
                import_key: None,
            })
            .await
            .unwrap();
        self.client = client();
        let html = self.page("/admin/login").await;
        let token = csrf_token(&html);
        let response = self
            .post(
                "/admin/login",
                &[
                    ("csrf_token", &token),
                    ("username", username),
                    ("password", PASSWORD),
                    ("next", ""),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login failed");
        author
    }

    async fn published_post(&self, author: &Author, title: &str) -> Post {
        self.post_with_status(author, title, PostStatus::Published)
            .await
    }

    async fn post_with_status(&self, author: &Author, title: &str, status: PostStatus) -> Post {
        gloss_federation::authoring::create_post(
            self.store(),
            self.state.federation.urls(),
            gloss_federation::authoring::PostInput {
                author_id: author.id,
                title: title.to_owned(),
                slug: None,
                markdown: "text".to_owned(),
                summary: None,
                tags: vec![],
                published_at: None,
                status,
            },
        )
        .await
        .unwrap()
    }

    /// Stores the remote actor `name` on `host`.
    async fn actor(&self, name: &str, host: &str) -> RemoteActor {
        let id = format!("https://{host}/users/{name}");
        self.store()
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

    async fn reply(&self, upsert: RemoteCommentUpsert) -> Comment {
        match self.store().upsert_remote_comment(upsert).await.unwrap() {
            UpsertOutcome::Created(comment) => comment,
            other => panic!("expected Created, got {other:?}"),
        }
    }

    async fn comment(&self, id: gloss_storage::CommentId) -> Comment {
        self.store().comment_by_id(id).await.unwrap().unwrap()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
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

/// A public reply by `by` to `parent` saying `text`, in `moderation`.
fn reply(
    by: &RemoteActor,
    parent: ThreadNode,
    text: &str,
    moderation: Moderation,
) -> RemoteCommentUpsert {
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
        moderation,
        moderation_reason: (moderation == Moderation::Pending)
            .then(|| "first comment by this author".to_owned()),
    }
}

/// The comment count heading of a post page.
fn count_heading(page: &str) -> String {
    let start = page.find("<h2 id=\"comments-heading\">").unwrap();
    let end = start + page[start..].find("</h2>").unwrap();
    page[start..end].to_owned()
}

#[tokio::test]
async fn the_queue_shows_held_comments_and_approving_publishes_and_logs() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Queued").await;
    let bob = app.actor("bob", "social.example").await;
    let held = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "please approve me",
            Moderation::Pending,
        ))
        .await;

    // The nav links the queue with its count.
    let queue = app.page("/admin/moderation").await;
    assert!(
        queue.contains("href=\"/admin/moderation\" aria-current=\"page\">Moderation"),
        "{queue}"
    );
    assert!(queue.contains("(1 waiting)"), "{queue}");
    assert!(queue.contains("<bdi>bob of social.example</bdi>"));
    assert!(queue.contains("@bob@social.example"));
    assert!(queue.contains("from <span class=\"host\">social.example</span>"));
    assert!(
        queue.contains("<p>please approve me</p>"),
        "sanitized HTML shown"
    );
    assert!(queue.contains("Reason: first comment by this author"));
    assert!(queue.contains("href=\"/posts/queued\">Queued</a>"));
    assert!(queue.contains(&format!(
        "formaction=\"/admin/moderation/comments/{}/approve\"",
        held.id
    )));
    assert!(queue.contains("Block author"));
    assert!(queue.contains("Block domain social.example"));

    // Held: not on the page, in the feed or in the count.
    let page = app.page("/posts/queued").await;
    assert!(!page.contains("please approve me"));
    assert!(count_heading(&page).ends_with("0 comments"));

    let approve = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/approve", held.id),
            &[("reason", "  looks fine  "), ("back", "queue")],
        )
        .await;
    assert_eq!(approve.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&approve), "/admin/moderation?done=approved");
    assert_eq!(app.comment(held.id).await.moderation, Moderation::Approved);

    let page = app.page("/posts/queued").await;
    assert!(page.contains("please approve me"));
    assert!(count_heading(&page).ends_with("1 comment"));
    assert!(
        app.page("/posts/queued/comments.atom")
            .await
            .contains("please approve me")
    );

    // Logged, by whom and why.
    let history = app.store().moderation_history(held.id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.decision, Moderation::Approved);
    assert_eq!(last.reason, "looks fine");
    assert_eq!(last.decided_by, ModerationDecider::Author(ana.id));
    let detail = app.page(&format!("/admin/comments/{}", held.id)).await;
    assert!(detail.contains("Shown on the post page"), "{detail}");
    assert!(detail.contains("looks fine"));
    assert!(detail.contains("ana display (@ana)"));
    assert!(
        detail.contains("the moderation rules"),
        "the first hold is logged"
    );

    let queue = app.page("/admin/moderation?done=approved").await;
    assert!(queue.contains("Nothing is waiting for approval."));
    assert!(queue.contains("Approved: the comment is shown."));
    assert!(!queue.contains("waiting)"), "no count when nothing waits");
}

#[tokio::test]
async fn rejecting_or_marking_spam_takes_a_comment_off_the_page() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Removed").await;
    let bob = app.actor("bob", "social.example").await;
    let rude = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "rude words",
            Moderation::Approved,
        ))
        .await;
    let spammy = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "buy pills",
            Moderation::Approved,
        ))
        .await;
    assert!(count_heading(&app.page("/posts/removed").await).ends_with("2 comments"));

    let reject = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/reject", rude.id),
            &[("back", "comment")],
        )
        .await;
    assert_eq!(
        location(&reject),
        format!("/admin/comments/{}?done=rejected", rude.id)
    );
    app.post_with_csrf(
        &format!("/admin/moderation/comments/{}/spam", spammy.id),
        &[("reason", "pharmacy spam")],
    )
    .await;
    assert_eq!(app.comment(rude.id).await.moderation, Moderation::Hidden);
    assert_eq!(app.comment(spammy.id).await.moderation, Moderation::Spam);

    let page = app.page("/posts/removed").await;
    assert!(!page.contains("rude words") && !page.contains("buy pills"));
    assert!(count_heading(&page).ends_with("0 comments"));

    let detail = app
        .page(&format!("/admin/comments/{}?done=rejected", rude.id))
        .await;
    assert!(detail.contains("Not shown on the post page"));
    assert!(detail.contains("It was rejected (hidden). Reason: Rejected by the author"));
    assert!(detail.contains("Rejected: the comment is hidden."));
    let detail = app.page(&format!("/admin/comments/{}", spammy.id)).await;
    assert!(detail.contains("It was marked as spam. Reason: pharmacy spam"));
    assert!(detail.contains("<span class=\"status status-spam\">spam</span>"));
}

#[tokio::test]
async fn blocking_an_author_hides_all_their_comments_until_unblocked() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let first = app.published_post(&ana, "First").await;
    let second = app.published_post(&ana, "Second").await;
    let eve = app.actor("eve", "social.example").await;
    let bob = app.actor("bob", "social.example").await;
    let held = app
        .reply(reply(
            &eve,
            ThreadNode::Post(first.id),
            "eve held",
            Moderation::Pending,
        ))
        .await;
    let shown = app
        .reply(reply(
            &eve,
            ThreadNode::Post(second.id),
            "eve shown",
            Moderation::Approved,
        ))
        .await;
    app.reply(reply(
        &bob,
        ThreadNode::Post(second.id),
        "bob shown",
        Moderation::Approved,
    ))
    .await;

    let block = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/block-author", held.id),
            &[("reason", "harassment")],
        )
        .await;
    assert_eq!(block.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&block), "/admin/moderation?done=blocked-author");
    let blocks = app.store().list_blocks().await.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].kind, BlockKind::Actor);
    assert_eq!(blocks[0].value, eve.ap_id);

    // All of eve's comments are gone, bob's stay; the held one left the queue.
    let page = app.page("/posts/second").await;
    assert!(!page.contains("eve shown") && page.contains("bob shown"));
    assert!(count_heading(&page).ends_with("1 comment"));
    assert!(
        app.page("/admin/moderation")
            .await
            .contains("Nothing is waiting")
    );
    // The comments keep their state; the block is logged on the one it came from.
    assert_eq!(app.comment(held.id).await.moderation, Moderation::Pending);
    let history = app.store().moderation_history(held.id).await.unwrap();
    assert_eq!(
        history.last().unwrap().reason,
        format!("Blocked the author {}: harassment", eve.ap_id)
    );
    let detail = app.page(&format!("/admin/comments/{}", shown.id)).await;
    assert!(
        detail.contains(&format!(
            "Its author {} is blocked (harassment).",
            eve.ap_id
        )),
        "{detail}"
    );

    let listing = app.page("/admin/moderation/blocks").await;
    assert!(listing.contains(&eve.ap_id) && listing.contains("harassment"));

    let unblock = app
        .post_with_csrf(
            "/admin/moderation/blocks/remove",
            &[("kind", "actor"), ("value", &eve.ap_id)],
        )
        .await;
    assert_eq!(
        location(&unblock),
        "/admin/moderation/blocks?done=unblocked"
    );
    let page = app.page("/posts/second").await;
    assert!(page.contains("eve shown"));
    assert!(count_heading(&page).ends_with("2 comments"));
    assert!(app.page("/admin/moderation").await.contains("eve held"));

    // Removing it again: there is nothing to remove.
    let again = app
        .post_with_csrf(
            "/admin/moderation/blocks/remove",
            &[("kind", "actor"), ("value", &eve.ap_id)],
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blocking_a_domain_hides_everyone_on_it_and_its_subdomains() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Domains").await;
    let eve = app.actor("eve", "spam.example").await;
    let sub = app.actor("sub", "eu.spam.example").await;
    let bob = app.actor("bob", "notspam.example").await;
    let from_eve = app
        .reply(reply(
            &eve,
            ThreadNode::Post(post.id),
            "eve words",
            Moderation::Approved,
        ))
        .await;
    app.reply(reply(
        &sub,
        ThreadNode::Post(post.id),
        "sub words",
        Moderation::Approved,
    ))
    .await;
    app.reply(reply(
        &bob,
        ThreadNode::Post(post.id),
        "bob words",
        Moderation::Approved,
    ))
    .await;

    let block = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/block-domain", from_eve.id),
            &[("back", "comment")],
        )
        .await;
    assert_eq!(
        location(&block),
        format!("/admin/comments/{}?done=blocked-domain", from_eve.id)
    );
    let page = app.page("/posts/domains").await;
    assert!(!page.contains("eve words") && !page.contains("sub words"));
    assert!(page.contains("bob words"), "a look-alike domain is not hit");
    assert!(count_heading(&page).ends_with("1 comment"));
    let detail = app.page(&format!("/admin/comments/{}", from_eve.id)).await;
    assert!(
        detail.contains("Its author&#39;s domain spam.example is blocked")
            || detail.contains("Its author's domain spam.example is blocked"),
        "{detail}"
    );
    assert!(detail.contains("Blocked the domain spam.example"));

    app.post_with_csrf(
        "/admin/moderation/blocks/remove",
        &[("kind", "domain"), ("value", "spam.example")],
    )
    .await;
    assert!(count_heading(&app.page("/posts/domains").await).ends_with("3 comments"));

    // A domain can also be blocked by hand.
    let manual = app
        .post_with_csrf(
            "/admin/moderation/blocks",
            &[
                ("kind", "domain"),
                ("value", "https://Spam.Example/anything"),
                ("reason", "known spam farm"),
            ],
        )
        .await;
    assert_eq!(location(&manual), "/admin/moderation/blocks?done=blocked");
    assert!(count_heading(&app.page("/posts/domains").await).ends_with("1 comment"));
    let nothing = app
        .post_with_csrf(
            "/admin/moderation/blocks",
            &[("kind", "domain"), ("value", "   ")],
        )
        .await;
    assert_eq!(nothing.status(), StatusCode::BAD_REQUEST);
    let not_a_url = app
        .post_with_csrf(
            "/admin/moderation/blocks",
            &[("kind", "actor"), ("value", "javascript:alert(1)")],
        )
        .await;
    assert_eq!(not_a_url.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn private_messages_are_listed_only_for_their_readers_and_never_public() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Private").await;
    let bob = app.actor("bob", "social.example").await;
    let followers = app
        .reply(RemoteCommentUpsert {
            visibility: Visibility::Followers,
            ..reply(
                &bob,
                ThreadNode::Post(post.id),
                "followers secret",
                Moderation::Approved,
            )
        })
        .await;
    let direct = app
        .reply(RemoteCommentUpsert {
            visibility: Visibility::Direct,
            ..reply(
                &bob,
                ThreadNode::Post(post.id),
                "direct secret",
                Moderation::Pending,
            )
        })
        .await;

    let private = app.page("/admin/moderation/private").await;
    assert!(private.contains("followers secret") && private.contains("direct secret"));
    assert!(private.contains("followers-only") && private.contains("direct message"));
    assert!(private.contains("Private messages (2)"), "{private}");
    assert!(!private.contains("/approve\""), "nothing to approve");
    // Not in the queue, nor the comments list, nor anything public.
    assert!(!app.page("/admin/moderation").await.contains("secret"));
    assert!(!app.page("/admin/comments").await.contains("secret"));
    let page = app.page("/posts/private").await;
    assert!(!page.contains("secret"));
    assert!(count_heading(&page).ends_with("0 comments"));
    assert!(
        !app.page("/posts/private/comments.atom")
            .await
            .contains("secret")
    );

    let detail = app.page(&format!("/admin/comments/{}", followers.id)).await;
    assert!(detail.contains("It is a followers-only reply"), "{detail}");
    let detail = app.page(&format!("/admin/comments/{}", direct.id)).await;
    assert!(detail.contains("It is a direct message"), "{detail}");

    // Another author, not an admin, sees none of them.
    app.logged_in_as("cy", false).await;
    let theirs = app.page("/admin/moderation/private").await;
    assert!(!theirs.contains("secret"), "{theirs}");
    assert!(theirs.contains("No private messages."));
    let refused = app.get(&format!("/admin/comments/{}", direct.id)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reports_are_listed_and_resolved() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Reported").await;
    let bob = app.actor("bob", "social.example").await;
    let moderator = app.actor("mod", "other.example").await;
    let reported = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "reported words",
            Moderation::Approved,
        ))
        .await;
    let flag = app
        .store()
        .record_flag(NewFlag {
            ap_id: Some("https://other.example/flags/1".to_owned()),
            reporter: moderator.id,
            object_ap_ids: vec![
                reported.ap_id.clone().unwrap(),
                "javascript:alert(1)".to_owned(),
            ],
            content: "<b>Spam</b> from bob".to_owned(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();

    let reports = app.page("/admin/moderation/reports").await;
    assert!(reports.contains("Reports (1)"));
    assert!(
        reports.contains("&lt;b&gt;Spam&lt;/b&gt; from bob")
            || reports.contains("&#60;b&#62;Spam&#60;/b&#62; from bob"),
        "{reports}"
    );
    assert!(reports.contains(&format!("href=\"/admin/comments/{}\"", reported.id)));
    assert!(reports.contains(&moderator.ap_id));
    assert!(!reports.contains("href=\"javascript:"), "{reports}");

    let resolve = app
        .post_with_csrf(
            &format!("/admin/moderation/reports/{}/resolve", flag.id),
            &[],
        )
        .await;
    assert_eq!(
        location(&resolve),
        "/admin/moderation/reports?done=resolved"
    );
    assert_eq!(app.store().count_open_flags().await.unwrap(), 0);
    assert!(
        app.page("/admin/moderation/reports")
            .await
            .contains("No open reports.")
    );
    let unknown = app
        .post_with_csrf("/admin/moderation/reports/999999/resolve", &[])
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn comments_can_be_closed_and_reopened_per_post() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Closing").await;
    let posts = app.page("/admin/moderation/posts").await;
    assert!(posts.contains("Close comments"), "{posts}");

    let close = app
        .post_with_csrf(
            &format!("/admin/moderation/posts/{}/comments", post.id),
            &[("closed", "true")],
        )
        .await;
    assert_eq!(location(&close), "/admin/moderation/posts?done=closed");
    let stored = app.store().post_by_id(post.id).await.unwrap().unwrap();
    assert!(!stored.comments_open);
    assert!(
        app.page("/posts/closing")
            .await
            .contains("Comments are closed.")
    );
    assert!(
        app.page("/admin/moderation/posts")
            .await
            .contains("Reopen comments")
    );

    let reopen = app
        .post_with_csrf(
            &format!("/admin/moderation/posts/{}/comments", post.id),
            &[("closed", "false"), ("back", "comment:12")],
        )
        .await;
    assert_eq!(location(&reopen), "/admin/comments/12?done=reopened");
    assert!(
        app.store()
            .post_by_id(post.id)
            .await
            .unwrap()
            .unwrap()
            .comments_open
    );
    let junk = app
        .post_with_csrf(
            &format!("/admin/moderation/posts/{}/comments", post.id),
            &[("closed", "maybe")],
        )
        .await;
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_moderation_post_needs_the_csrf_token() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Guarded").await;
    let eve = app.actor("eve", "spam.example").await;
    let held = app
        .reply(reply(
            &eve,
            ThreadNode::Post(post.id),
            "held",
            Moderation::Pending,
        ))
        .await;
    let flag = app
        .store()
        .record_flag(NewFlag {
            ap_id: None,
            reporter: eve.id,
            object_ap_ids: vec![],
            content: "x".to_owned(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    app.store()
        .add_block(BlockKind::Domain, "blocked.example", "x", Utc::now())
        .await
        .unwrap();
    let id = held.id;
    let paths = [
        format!("/admin/moderation/comments/{id}/approve"),
        format!("/admin/moderation/comments/{id}/reject"),
        format!("/admin/moderation/comments/{id}/spam"),
        format!("/admin/moderation/comments/{id}/block-author"),
        format!("/admin/moderation/comments/{id}/block-domain"),
        format!("/admin/comments/{id}/approve"),
        format!("/admin/comments/{id}/hide"),
        "/admin/moderation/blocks".to_owned(),
        "/admin/moderation/blocks/remove".to_owned(),
        format!("/admin/moderation/reports/{}/resolve", flag.id),
        format!("/admin/moderation/posts/{}/comments", post.id),
    ];
    for path in &paths {
        let form = [
            ("kind", "domain"),
            ("value", "blocked.example"),
            ("closed", "true"),
        ];
        let missing = app.post(path, &form).await;
        assert_eq!(missing.status(), StatusCode::FORBIDDEN, "{path}");
        let mut wrong = vec![("csrf_token", "not-the-token")];
        wrong.extend_from_slice(&form);
        let wrong = app.post(path, &wrong).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Nothing changed.
    let stored = app.comment(held.id).await;
    assert_eq!(stored.moderation, Moderation::Pending);
    assert!(!stored.author_blocked);
    assert_eq!(app.store().list_blocks().await.unwrap().len(), 1);
    assert_eq!(app.store().count_open_flags().await.unwrap(), 1);
    assert!(
        app.store()
            .post_by_id(post.id)
            .await
            .unwrap()
            .unwrap()
            .comments_open
    );
    assert_eq!(app.store().moderation_history(id).await.unwrap().len(), 1);

    // Logged out, a POST goes to the login page and changes nothing either.
    app.client = client();
    let anonymous = app
        .post(&format!("/admin/moderation/comments/{id}/approve"), &[])
        .await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert!(location(&anonymous).starts_with("/admin/login"));
    assert_eq!(app.comment(held.id).await.moderation, Moderation::Pending);
}

#[tokio::test]
async fn authors_moderate_their_own_posts_and_only_admins_block() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let anas = app.published_post(&ana, "Anas").await;
    let cy = app.logged_in_as("cy", false).await;
    let cys = app.published_post(&cy, "Cys").await;
    let bob = app.actor("bob", "social.example").await;
    let on_anas = app
        .reply(reply(
            &bob,
            ThreadNode::Post(anas.id),
            "on anas",
            Moderation::Pending,
        ))
        .await;
    let on_cys = app
        .reply(reply(
            &bob,
            ThreadNode::Post(cys.id),
            "on cys",
            Moderation::Pending,
        ))
        .await;

    // Cy sees the queue, may act on comments under their post only, and never blocks.
    let queue = app.page("/admin/moderation").await;
    assert!(queue.contains(&format!("/admin/moderation/comments/{}/approve", on_cys.id)));
    assert!(!queue.contains(&format!(
        "/admin/moderation/comments/{}/approve",
        on_anas.id
    )));
    assert!(!queue.contains("Block author"));
    assert!(!queue.contains("/admin/moderation/reports"), "admins only");
    let refused = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/approve", on_anas.id),
            &[],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/block-author", on_cys.id),
            &[],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(app.store().list_blocks().await.unwrap().is_empty());
    for page in ["/admin/moderation/reports", "/admin/moderation/blocks"] {
        assert_eq!(
            app.get(page).await.status(),
            StatusCode::FORBIDDEN,
            "{page}"
        );
    }
    let refused = app
        .post_with_csrf(
            &format!("/admin/moderation/posts/{}/comments", anas.id),
            &[("closed", "true")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let approved = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/approve", on_cys.id),
            &[],
        )
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.comment(on_cys.id).await.moderation,
        Moderation::Approved
    );
    assert_eq!(
        app.comment(on_anas.id).await.moderation,
        Moderation::Pending
    );

    // Unknown comments and actions are 404.
    let missing = app
        .post_with_csrf("/admin/moderation/comments/999999/approve", &[])
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bogus = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/delete-everything", on_cys.id),
            &[],
        )
        .await;
    assert_eq!(bogus.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/admin/comments/999999").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn local_comments_cannot_be_blocked_by_author() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Local").await;
    let local = app
        .store()
        .add_comment(NewComment {
            post_id: post.id,
            parent_id: None,
            author_name: "Reader".to_owned(),
            author_url: None,
            author_avatar_url: None,
            author_email: None,
            content_html: "<p>local</p>".to_owned(),
            origin: CommentOrigin::Local,
            moderation: Moderation::Pending,
            ap_id: None,
            published_at: Utc::now(),
            import_key: None,
            moderation_reason: None,
        })
        .await
        .unwrap();
    let queue = app.page("/admin/moderation").await;
    assert!(queue.contains("<p>local</p>"));
    assert!(!queue.contains("Block author"), "no remote author to block");
    let refused = app
        .post_with_csrf(
            &format!("/admin/moderation/comments/{}/block-author", local.id),
            &[],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_comment_page_explains_each_state_and_shows_earlier_versions() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Explained").await;
    let draft = app
        .post_with_status(&ana, "Unpublished", PostStatus::Draft)
        .await;
    let bob = app.actor("bob", "social.example").await;
    let edited = app
        .reply(RemoteCommentUpsert {
            summary: Some("cw <b>one</b>".to_owned()),
            ..reply(
                &bob,
                ThreadNode::Post(post.id),
                "first version",
                Moderation::Approved,
            )
        })
        .await;
    app.store()
        .update_remote_comment_content(
            edited.ap_id.as_deref().unwrap(),
            bob.id,
            RemoteCommentEdit {
                content_html: "<p>second version</p>".to_owned(),
                summary: None,
                sensitive: false,
                attachments: Vec::new(),
                updated_at: Utc::now(),
                moderation: Moderation::Pending,
                moderation_reason: Some("edited: more than 2 links".to_owned()),
            },
        )
        .await
        .unwrap();
    let detail = app.page(&format!("/admin/comments/{}", edited.id)).await;
    assert!(detail.contains("Not shown on the post page"));
    assert!(detail.contains("It is waiting for approval. Reason: edited: more than 2 links"));
    assert!(detail.contains("<p>second version</p>"));
    let previous = detail.find("Previous versions").unwrap();
    assert!(
        detail[previous..].contains("<p>first version</p>"),
        "{detail}"
    );
    assert!(
        detail[previous..].contains("cw &lt;b&gt;one&lt;/b&gt;")
            || detail[previous..].contains("cw &#60;b&#62;one&#60;/b&#62;"),
        "{detail}"
    );

    // A reply shown at the top level because its parent is not shown.
    let parent = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "parent",
            Moderation::Spam,
        ))
        .await;
    let child = app
        .reply(reply(
            &bob,
            ThreadNode::Comment(parent.id),
            "child",
            Moderation::Approved,
        ))
        .await;
    let detail = app.page(&format!("/admin/comments/{}", child.id)).await;
    assert!(detail.contains("Shown on the post page"));
    assert!(detail.contains(&format!(
        "It replies to comment {}, which is not shown",
        parent.id
    )));
    assert!(detail.contains(&format!("href=\"/posts/explained#comment-{}\"", child.id)));

    // Deleted, and under a draft.
    let gone = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "gone",
            Moderation::Approved,
        ))
        .await;
    app.store().delete_comment(gone.id).await.unwrap();
    let detail = app.page(&format!("/admin/comments/{}", gone.id)).await;
    assert!(detail.contains("It was deleted on"), "{detail}");
    let drafted = app
        .reply(reply(
            &bob,
            ThreadNode::Post(draft.id),
            "early",
            Moderation::Approved,
        ))
        .await;
    let detail = app.page(&format!("/admin/comments/{}", drafted.id)).await;
    assert!(detail.contains("Its post is a draft"), "{detail}");
}

#[tokio::test]
async fn the_comments_list_logs_its_decisions_and_hides_private_messages() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Listed").await;
    let bob = app.actor("bob", "social.example").await;
    let held = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "from the list",
            Moderation::Pending,
        ))
        .await;
    let list = app.page("/admin/comments").await;
    assert!(list.contains(&format!("href=\"/admin/comments/{}\"", held.id)));
    assert!(
        list.contains("(1 waiting)"),
        "the nav counts on this page too"
    );
    app.post_with_csrf(&format!("/admin/comments/{}/approve", held.id), &[])
        .await;
    app.post_with_csrf(&format!("/admin/comments/{}/hide", held.id), &[])
        .await;
    let history = app.store().moderation_history(held.id).await.unwrap();
    let logged: Vec<(Moderation, ModerationDecider)> = history
        .iter()
        .map(|entry| (entry.decision, entry.decided_by))
        .collect();
    assert_eq!(
        logged,
        [
            (Moderation::Pending, ModerationDecider::Rules),
            (Moderation::Approved, ModerationDecider::Author(ana.id)),
            (Moderation::Hidden, ModerationDecider::Author(ana.id)),
        ]
    );
}

#[tokio::test]
async fn hostile_remote_text_is_escaped_in_the_admin() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Hostile").await;
    let eve = app.actor("eve", "social.example").await;
    let hostile = app
        .reply(RemoteCommentUpsert {
            author_name: "<script>alert(1)</script>".to_owned(),
            summary: Some("<img src=x onerror=alert(2)>".to_owned()),
            attachments: vec![gloss_storage::Attachment {
                url: "javascript:alert(3)".to_owned(),
                media_type: None,
                name: Some("<script>alert(4)</script>".to_owned()),
            }],
            moderation_reason: Some("<script>alert(5)</script>".to_owned()),
            ..reply(
                &eve,
                ThreadNode::Post(post.id),
                "hostile",
                Moderation::Pending,
            )
        })
        .await;
    for path in [
        "/admin/moderation".to_owned(),
        format!("/admin/comments/{}", hostile.id),
    ] {
        let html = app.page(&path).await;
        assert!(!html.contains("<script>alert"), "{path}: {html}");
        assert!(!html.contains("<img src=x"), "{path}: {html}");
        assert!(!html.contains("javascript:"), "{path}: {html}");
    }
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

// ---------------------------------------------------------------------------------------
// Author replies (issue 4, item 6)
// ---------------------------------------------------------------------------------------

/// The deliveries recorded for a post's activities of `kind`: (inbox, payload).
async fn deliveries(app: &App, post: &Post, kind: &str) -> Vec<(String, serde_json::Value)> {
    let mut found = Vec::new();
    for delivery in app.store().deliveries_for_post(post.id).await.unwrap() {
        if delivery.kind != kind {
            continue;
        }
        let payload = app
            .store()
            .activity_payload(&delivery.activity_ap_id)
            .await
            .unwrap()
            .unwrap();
        found.push((delivery.inbox, serde_json::from_str(&payload).unwrap()));
    }
    found
}

async fn get_json(app: &App, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_author_reply_is_threaded_federated_edited_and_deleted_from_the_comment_page() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Answered").await;
    let bob = app.actor("bob", "social.example").await;
    let comment = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "a question",
            Moderation::Approved,
        ))
        .await;

    let detail = app.page(&format!("/admin/comments/{}", comment.id)).await;
    assert!(
        detail.contains(&format!("action=\"/admin/comments/{}/reply\"", comment.id)),
        "{detail}"
    );
    let replied = app
        .post_with_csrf(
            &format!("/admin/comments/{}/reply", comment.id),
            &[("text", "Thanks, **Bob** <script>alert(1)</script>")],
        )
        .await;
    assert_eq!(replied.status(), StatusCode::SEE_OTHER);
    let to = location(&replied);
    assert!(to.ends_with("?done=replied"), "{to}");
    let reply_id: i64 = to
        .trim_start_matches("/admin/comments/")
        .trim_end_matches("?done=replied")
        .parse()
        .unwrap();
    let ours = app.comment(gloss_storage::CommentId(reply_id)).await;
    assert_eq!(ours.parent_id, Some(comment.id));
    assert_eq!(ours.local_author_id, Some(ana.id));
    assert_eq!(ours.moderation, Moderation::Approved);
    let note_id = ours.ap_id.clone().unwrap();
    assert!(note_id.starts_with(&app.url("/notes/")), "{note_id}");
    assert!(
        !ours.content_html.contains("<script"),
        "{}",
        ours.content_html
    );
    assert!(app.page(&to).await.contains("Reply published"));

    // Delivered to the commenter, inReplyTo their note, mentioning them.
    let creates = deliveries(&app, &post, "Create").await;
    let (inbox, create) = creates
        .iter()
        .find(|(_, a)| a["object"]["id"] == note_id.as_str())
        .expect("a Create of the reply");
    assert_eq!(inbox, &bob.inbox);
    let note = &create["object"];
    assert_eq!(note["inReplyTo"], comment.ap_id.clone().unwrap().as_str());
    assert_eq!(note["attributedTo"], app.url("/authors/ana").as_str());
    assert_eq!(note["tag"][0]["type"], "Mention");
    assert_eq!(note["tag"][0]["href"], bob.ap_id.as_str());
    assert_eq!(note["tag"][0]["name"], "@bob@social.example");
    assert!(
        create["cc"]
            .as_array()
            .unwrap()
            .contains(&serde_json::Value::String(bob.ap_id.clone()))
    );
    assert!(
        note["content"]
            .as_str()
            .unwrap()
            .contains("Thanks, <strong>Bob</strong>")
    );

    // On the page, under the comment; served at its id; listed in the author's outbox.
    let page = app.page("/posts/answered").await;
    assert!(page.contains("Thanks, <strong>Bob</strong>"), "{page}");
    assert!(count_heading(&page).ends_with("2 comments"));
    let path = note_id.trim_start_matches(&app.base).to_owned();
    let served = get_json(&app, &path).await;
    assert_eq!(served.status(), StatusCode::OK);
    let served: serde_json::Value = served.json().await.unwrap();
    assert_eq!(served["id"], note_id.as_str());
    assert_eq!(served["replies"], format!("{note_id}/replies").as_str());
    let browser = app.get(&path).await;
    assert_eq!(browser.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&browser),
        app.url(&format!("/posts/answered#comment-{reply_id}"))
    );
    let replies = get_json(&app, &format!("{path}/replies")).await;
    assert_eq!(replies.status(), StatusCode::OK);
    let outbox: serde_json::Value = get_json(&app, "/authors/ana/outbox")
        .await
        .json()
        .await
        .unwrap();
    assert!(outbox.to_string().contains(&note_id), "{outbox}");

    // Edit: an Update to the same audience, the page shows the new text.
    let detail = app.page(&format!("/admin/comments/{reply_id}")).await;
    assert!(detail.contains("Edit your reply"), "{detail}");
    assert!(
        detail.contains("Thanks, &#60;strong&#62;Bob&#60;/strong&#62;"),
        "{detail}"
    );
    let edited = app
        .post_with_csrf(
            &format!("/admin/comments/{reply_id}/edit-reply"),
            &[("text", "Thanks again, Bob.")],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER);
    let updates = deliveries(&app, &post, "Update").await;
    let (inbox, update) = updates
        .iter()
        .find(|(_, a)| a["object"]["id"] == note_id.as_str())
        .expect("an Update of the reply");
    assert_eq!(inbox, &bob.inbox);
    assert!(update["object"]["updated"].is_string(), "{update}");
    assert!(
        app.page("/posts/answered")
            .await
            .contains("Thanks again, Bob.")
    );
    assert_eq!(
        app.store()
            .comment_revisions(gloss_storage::CommentId(reply_id))
            .await
            .unwrap()
            .len(),
        1
    );

    // Delete: a Delete, a 410 at its id, gone from the page and the outbox.
    let deleted = app
        .post_with_csrf(&format!("/admin/comments/{reply_id}/delete-reply"), &[])
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let deletes = deliveries(&app, &post, "Delete").await;
    assert!(
        deletes
            .iter()
            .any(|(inbox, a)| inbox == &bob.inbox && a["object"]["id"] == note_id.as_str()),
        "{deletes:?}"
    );
    assert_eq!(get_json(&app, &path).await.status(), StatusCode::GONE);
    assert!(!app.page("/posts/answered").await.contains("Thanks again"));
    let outbox: serde_json::Value = get_json(&app, "/authors/ana/outbox?page=1")
        .await
        .json()
        .await
        .unwrap();
    assert!(!outbox.to_string().contains(&note_id), "{outbox}");
}

#[tokio::test]
async fn replies_to_held_comments_are_refused_and_private_messages_answered_privately() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Quiet").await;
    let bob = app.actor("bob", "social.example").await;
    let held = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "held one",
            Moderation::Pending,
        ))
        .await;
    let detail = app.page(&format!("/admin/comments/{}", held.id)).await;
    assert!(
        detail.contains("Approve the comment before replying"),
        "{detail}"
    );
    let refused = app
        .post_with_csrf(
            &format!("/admin/comments/{}/reply", held.id),
            &[("text", "hello")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let empty = app
        .post_with_csrf(
            &format!("/admin/comments/{}/reply", held.id),
            &[("text", "   ")],
        )
        .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    // No CSRF token: refused.
    let forged = app
        .post(
            &format!("/admin/comments/{}/reply", held.id),
            &[("text", "forged")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let direct = app
        .reply(RemoteCommentUpsert {
            visibility: Visibility::Direct,
            ..reply(
                &bob,
                ThreadNode::Post(post.id),
                "direct question",
                Moderation::Approved,
            )
        })
        .await;
    let answered = app
        .post_with_csrf(
            &format!("/admin/comments/{}/reply", direct.id),
            &[("text", "private answer")],
        )
        .await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    let all = app
        .store()
        .comments_for_post(post.id, gloss_storage::CommentFilter::All)
        .await
        .unwrap();
    let answer = all
        .iter()
        .find(|c| c.content_html.contains("private answer"))
        .unwrap();
    assert_eq!(answer.visibility, Visibility::Direct);
    let creates = deliveries(&app, &post, "Create").await;
    let (inbox, create) = creates
        .iter()
        .find(|(_, a)| a["object"]["id"] == answer.ap_id.clone().unwrap().as_str())
        .unwrap();
    assert_eq!(inbox, &bob.inbox);
    assert_eq!(create["to"], serde_json::json!([bob.ap_id]));
    assert!(!create.to_string().contains("as#Public"), "{create}");
    // Nowhere public.
    let page = app.page("/posts/quiet").await;
    assert!(!page.contains("private answer"));
    assert!(count_heading(&page).ends_with("0 comments"));
    let path = answer
        .ap_id
        .clone()
        .unwrap()
        .trim_start_matches(&app.base)
        .to_owned();
    assert_eq!(get_json(&app, &path).await.status(), StatusCode::NOT_FOUND);
    let outbox: serde_json::Value = get_json(&app, "/authors/ana/outbox?page=1")
        .await
        .json()
        .await
        .unwrap();
    assert!(!outbox.to_string().contains("private answer"), "{outbox}");
}

#[tokio::test]
async fn imported_and_reader_comments_are_served_as_notes_from_the_blog() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Old thread").await;
    let new = |name: &str, parent, moderation| NewComment {
        post_id: post.id,
        parent_id: parent,
        author_name: name.to_owned(),
        author_url: None,
        author_avatar_url: None,
        author_email: Some("private@example.org".to_owned()),
        content_html: format!("<p>by {name}</p>"),
        origin: CommentOrigin::Imported,
        moderation,
        ap_id: None,
        published_at: Utc::now(),
        import_key: None,
        moderation_reason: None,
    };
    let first = app
        .store()
        .add_comment(new("Brandon", None, Moderation::Approved))
        .await
        .unwrap();
    let second = app
        .store()
        .add_comment(new("J. Ferris", Some(first.id), Moderation::Approved))
        .await
        .unwrap();
    let held = app
        .store()
        .add_comment(new("Spammer", None, Moderation::Pending))
        .await
        .unwrap();

    let note: serde_json::Value = get_json(&app, &format!("/comments/{}", second.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        note["id"],
        app.url(&format!("/comments/{}", second.id)).as_str()
    );
    assert_eq!(note["attributedTo"], app.url("/blog").as_str());
    assert_eq!(
        note["inReplyTo"],
        app.url(&format!("/comments/{}", first.id)).as_str()
    );
    assert!(note["content"].as_str().unwrap().contains("J. Ferris"));
    assert!(!note.to_string().contains("private@example.org"));
    let browser = app.get(&format!("/comments/{}", first.id)).await;
    assert_eq!(browser.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&browser),
        app.url(&format!("/posts/old-thread#comment-{}", first.id))
    );
    for path in [
        format!("/comments/{}", held.id),
        "/comments/999999".to_owned(),
        "/comments/abc".to_owned(),
    ] {
        assert_eq!(
            get_json(&app, &path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let replies: serde_json::Value = get_json(&app, &format!("/comments/{}/replies", first.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replies["totalItems"], 0, "{replies}");
}

#[tokio::test]
async fn an_admin_reports_a_remote_author_to_their_server_from_the_instance_actor() {
    let mut app = App::spawn().await;
    let ana = app.logged_in_as("ana", true).await;
    let post = app.published_post(&ana, "Reported").await;
    let bob = app.actor("bob", "social.example").await;
    let comment = app
        .reply(reply(
            &bob,
            ThreadNode::Post(post.id),
            "buy now",
            Moderation::Spam,
        ))
        .await;
    let detail = app.page(&format!("/admin/comments/{}", comment.id)).await;
    assert!(detail.contains("Report to social.example"), "{detail}");
    let sent = app
        .post_with_csrf(
            &format!("/admin/comments/{}/report-remote", comment.id),
            &[("reason", "spam links")],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let flags = deliveries(&app, &post, "Flag").await;
    let (inbox, flag) = flags.first().expect("a Flag queued");
    assert_eq!(inbox, &bob.inbox);
    assert_eq!(flag["actor"], app.url("/instance").as_str());
    assert_eq!(flag["object"][0], bob.ap_id.as_str());
    assert_eq!(flag["object"][1], comment.ap_id.clone().unwrap().as_str());
    assert_eq!(flag["content"], "spam links");
    // Not published: the activity's id answers 404.
    let id = flag["id"]
        .as_str()
        .unwrap()
        .trim_start_matches(&app.base)
        .to_owned();
    assert_eq!(get_json(&app, &id).await.status(), StatusCode::NOT_FOUND);

    // An author who is not an admin may not speak for the site.
    app.logged_in_as("cy", false).await;
    let refused = app
        .post_with_csrf(
            &format!("/admin/comments/{}/report-remote", comment.id),
            &[("reason", "x")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
