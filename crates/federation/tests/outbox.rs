#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Posts written through `authoring` record their activities and deliveries in the same
//! transaction: Create + Announce on publishing, Update on editing, Delete on deletion,
//! nothing for drafts and imported posts.

use chrono::{TimeDelta, Utc};
use gloss_federation::authoring::{self, AuthoringError, PostInput};
use gloss_federation::urls::Urls;
use gloss_storage::{
    Author, FollowState, ImportBatch, ImportPost, LocalActor, NewAuthor, PostStatus,
    RemoteActorUpsert, Store,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use url::Url;

const OUR_BASE: &str = "https://blog.example";

struct Setup {
    store: Arc<dyn Store>,
    urls: Urls,
    author: Author,
    _dir: tempfile::TempDir,
}

/// A remote follower: `shared` gives it a shared inbox on its host.
async fn follower(store: &dyn Store, host: &str, name: &str, shared: bool, of: &[LocalActor]) {
    let id = format!("https://{host}/users/{name}");
    let actor = store
        .upsert_remote_actor(RemoteActorUpsert {
            ap_id: id.clone(),
            kind: "Person".into(),
            preferred_username: Some(name.into()),
            name: None,
            url: None,
            icon_url: None,
            inbox: format!("{id}/inbox"),
            shared_inbox: shared.then(|| format!("https://{host}/inbox")),
            public_key_id: format!("{id}#main-key"),
            public_key_pem: "unused".into(),
            host: host.into(),
            fetched_at: Utc::now(),
        })
        .await
        .unwrap();
    for local in of {
        store
            .upsert_follower(
                *local,
                actor.id,
                &format!("https://{host}/follows/{name}"),
                FollowState::Accepted,
                Vec::new(),
            )
            .await
            .unwrap();
    }
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
        .await
        .unwrap();
    let author = store
        .create_author(NewAuthor {
            username: "ana".into(),
            display_name: "Ana".into(),
            password_hash: None,
            is_admin: true,
            import_key: None,
        })
        .await
        .unwrap();
    let ana = LocalActor::Author(author.id);
    // Two followers of the author behind one shared inbox, one blog follower with only a
    // personal inbox, one follower of both.
    follower(store.as_ref(), "a.example", "one", true, &[ana]).await;
    follower(store.as_ref(), "a.example", "two", true, &[ana]).await;
    follower(
        store.as_ref(),
        "b.example",
        "three",
        false,
        &[LocalActor::Blog],
    )
    .await;
    follower(
        store.as_ref(),
        "c.example",
        "four",
        true,
        &[ana, LocalActor::Blog],
    )
    .await;
    Setup {
        store,
        urls: Urls::new(&Url::parse(OUR_BASE).unwrap()),
        author,
        _dir: dir,
    }
}

impl Setup {
    fn input(&self, slug: &str, status: PostStatus) -> PostInput {
        PostInput {
            author_id: self.author.id,
            title: "Hello world".into(),
            slug: Some(slug.into()),
            markdown: "Some *text*.".into(),
            summary: None,
            tags: vec!["mali".into()],
            published_at: None,
            status,
        }
    }

    /// Claims every queued delivery: activity type → inboxes, plus the payloads.
    async fn sent(&self) -> (BTreeMap<String, BTreeSet<String>>, Vec<Value>) {
        let jobs = self
            .store
            .claim_deliveries(
                Utc::now() + TimeDelta::seconds(5),
                1000,
                1000,
                TimeDelta::minutes(5),
            )
            .await
            .unwrap();
        let mut by_kind: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut payloads = Vec::new();
        for job in jobs {
            let payload: Value = serde_json::from_str(&job.payload).unwrap();
            let kind = payload["type"].as_str().unwrap().to_owned();
            assert!(
                by_kind.entry(kind).or_default().insert(job.inbox.clone()),
                "one delivery per inbox and activity"
            );
            if !payloads.iter().any(|p: &Value| p["id"] == payload["id"]) {
                payloads.push(payload);
            }
        }
        (by_kind, payloads)
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn publishing_sends_create_to_author_followers_and_announce_to_blog_followers() {
    let s = setup().await;
    let post = authoring::create_post(
        s.store.as_ref(),
        &s.urls,
        s.input("hello", PostStatus::Published),
    )
    .await
    .unwrap();
    let (sent, payloads) = s.sent().await;
    assert_eq!(
        sent.get("Create"),
        Some(&set(&[
            "https://a.example/inbox",
            "https://c.example/inbox"
        ]))
    );
    assert_eq!(
        sent.get("Announce"),
        Some(&set(&[
            "https://b.example/users/three/inbox",
            "https://c.example/inbox"
        ]))
    );
    assert_eq!(sent.len(), 2);
    let create = payloads.iter().find(|p| p["type"] == "Create").unwrap();
    assert_eq!(create["actor"], format!("{OUR_BASE}/authors/ana"));
    assert_eq!(create["object"]["id"], format!("{OUR_BASE}/posts/hello"));
    assert_eq!(create["object"]["type"], "Note");
    let announce = payloads.iter().find(|p| p["type"] == "Announce").unwrap();
    assert_eq!(announce["actor"], format!("{OUR_BASE}/blog"));
    assert_eq!(announce["object"], format!("{OUR_BASE}/posts/hello"));
    // The deliveries belong to the post (the admin UI's status column).
    assert_eq!(
        s.store.delivery_counts_for_post(post.id).await.unwrap().0,
        4
    );
}

#[tokio::test]
async fn editing_a_published_post_sends_one_update_to_both_audiences() {
    let s = setup().await;
    let post = authoring::create_post(
        s.store.as_ref(),
        &s.urls,
        s.input("hello", PostStatus::Published),
    )
    .await
    .unwrap();
    s.sent().await;
    let mut input = s.input("hello", PostStatus::Published);
    input.markdown = "Edited.".into();
    authoring::update_post(s.store.as_ref(), &s.urls, post.id, input)
        .await
        .unwrap();
    let (sent, payloads) = s.sent().await;
    assert_eq!(
        sent.get("Update"),
        Some(&set(&[
            "https://a.example/inbox",
            "https://b.example/users/three/inbox",
            "https://c.example/inbox"
        ]))
    );
    assert_eq!(sent.len(), 1);
    let update = &payloads[0];
    assert!(update["object"]["updated"].is_string(), "{update}");
    assert!(
        update["object"]["content"]
            .as_str()
            .unwrap()
            .contains("Edited.")
    );
}

#[tokio::test]
async fn deleting_a_published_post_sends_a_delete_to_both_audiences() {
    let s = setup().await;
    let post = authoring::create_post(
        s.store.as_ref(),
        &s.urls,
        s.input("hello", PostStatus::Published),
    )
    .await
    .unwrap();
    s.sent().await;
    authoring::delete_post(s.store.as_ref(), &s.urls, post.id)
        .await
        .unwrap();
    let (sent, payloads) = s.sent().await;
    assert_eq!(sent.get("Delete").map(BTreeSet::len), Some(3));
    assert_eq!(sent.len(), 1);
    assert_eq!(payloads[0]["object"]["type"], "Tombstone");
    assert_eq!(
        payloads[0]["object"]["id"],
        format!("{OUR_BASE}/posts/hello")
    );
}

#[tokio::test]
async fn drafts_send_nothing_until_published() {
    let s = setup().await;
    let post = authoring::create_post(
        s.store.as_ref(),
        &s.urls,
        s.input("hello", PostStatus::Draft),
    )
    .await
    .unwrap();
    authoring::update_post(
        s.store.as_ref(),
        &s.urls,
        post.id,
        s.input("hello-again", PostStatus::Draft),
    )
    .await
    .unwrap();
    assert!(s.sent().await.0.is_empty());
    // A draft becoming published is a publication.
    authoring::update_post(
        s.store.as_ref(),
        &s.urls,
        post.id,
        s.input("hello-again", PostStatus::Published),
    )
    .await
    .unwrap();
    let (sent, _) = s.sent().await;
    assert_eq!(
        sent.keys().cloned().collect::<Vec<_>>(),
        ["Announce", "Create"]
    );
    // Deleting a draft sends nothing either.
    let draft = authoring::create_post(
        s.store.as_ref(),
        &s.urls,
        s.input("scratch", PostStatus::Draft),
    )
    .await
    .unwrap();
    authoring::delete_post(s.store.as_ref(), &s.urls, draft.id)
        .await
        .unwrap();
    assert!(s.sent().await.0.is_empty());
}

#[tokio::test]
async fn imported_posts_never_send_anything() {
    let s = setup().await;
    s.store
        .import(ImportBatch {
            authors: Vec::new(),
            posts: vec![ImportPost {
                import_key: "wxr:old:1".into(),
                author_import_key: None,
                fallback_author: s.author.id,
                title: "Old".into(),
                slug: "old".into(),
                source: "<p>Old</p>".into(),
                content_html: "<p>Old</p>".into(),
                summary: None,
                tags: Vec::new(),
                published_at: Utc::now() - TimeDelta::days(3000),
                updated_at: None,
                comments: Vec::new(),
            }],
        })
        .await
        .unwrap();
    let post = s.store.post_by_slug("old").await.unwrap().unwrap();
    assert_eq!(post.status, PostStatus::Published);
    let mut input = s.input("old", PostStatus::Published);
    input.markdown = "Old, fixed.".into();
    let edited = authoring::update_post(s.store.as_ref(), &s.urls, post.id, input)
        .await
        .unwrap();
    assert_eq!(edited.origin, gloss_storage::PostOrigin::Imported);
    authoring::delete_post(s.store.as_ref(), &s.urls, post.id)
        .await
        .unwrap();
    assert!(s.sent().await.0.is_empty());
}

#[tokio::test]
async fn the_slug_of_a_published_post_cannot_change() {
    let s = setup().await;
    let post = authoring::create_post(
        s.store.as_ref(),
        &s.urls,
        s.input("hello", PostStatus::Published),
    )
    .await
    .unwrap();
    let result = authoring::update_post(
        s.store.as_ref(),
        &s.urls,
        post.id,
        s.input("renamed", PostStatus::Published),
    )
    .await;
    match result {
        Err(AuthoringError::Invalid(message)) => {
            assert!(message.contains("fediverse id"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Without a slug, it keeps its own whatever the title says.
    let mut input = s.input("hello", PostStatus::Published);
    input.slug = None;
    input.title = "A new title".into();
    let saved = authoring::update_post(s.store.as_ref(), &s.urls, post.id, input)
        .await
        .unwrap();
    assert_eq!(saved.slug, "hello");
}
