//! The storage conformance suite, thread backfill: when each remote comment was last
//! backfilled, and which comments the periodic backfill reads. Run on both engines by the
//! same harness as `conformance.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use gloss_storage::{
    BlockKind, Moderation, PostStatus, RemoteActor, RemoteActorUpsert, RemoteCommentUpsert, Store,
    ThreadNode, UpsertOutcome, Visibility,
};
use std::sync::Arc;

#[macro_use]
mod support;

use support::{at, author, draft, post};

async fn actor(store: &dyn Store, name: &str, host: &str) -> RemoteActor {
    store
        .upsert_remote_actor(RemoteActorUpsert {
            ap_id: format!("https://{host}/users/{name}"),
            kind: "Person".to_owned(),
            preferred_username: Some(name.to_owned()),
            name: None,
            url: None,
            icon_url: None,
            inbox: format!("https://{host}/users/{name}/inbox"),
            shared_inbox: None,
            public_key_id: format!("https://{host}/users/{name}#main-key"),
            public_key_pem: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n".to_owned(),
            host: host.to_owned(),
            fetched_at: at(0),
        })
        .await
        .unwrap()
}

/// Stores a reply by `by` under `parent` and returns its ap id.
async fn reply(
    store: &dyn Store,
    by: &RemoteActor,
    parent: ThreadNode,
    name: &str,
    visibility: Visibility,
    moderation: Moderation,
) -> String {
    let ap_id = format!("{}/statuses/{name}", by.ap_id);
    let outcome = store
        .upsert_remote_comment(RemoteCommentUpsert {
            ap_id: ap_id.clone(),
            parent,
            remote_actor_id: by.id,
            author_name: by.preferred_username.clone().unwrap_or_default(),
            author_url: None,
            author_avatar_url: None,
            content_html: format!("<p>{name}</p>"),
            summary: None,
            sensitive: false,
            attachments: Vec::new(),
            url: None,
            in_reply_to_ap_id: None,
            visibility,
            published_at: at(1),
            updated_at: None,
            moderation,
            moderation_reason: None,
        })
        .await
        .unwrap();
    assert!(matches!(outcome, UpsertOutcome::Created(_)), "{outcome:?}");
    ap_id
}

async fn a_comment_is_claimed_once_per_interval(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let id = "https://m.example/users/a/statuses/1";
    assert!(
        store
            .claim_comment_backfill(id, at(100), at(70))
            .await
            .unwrap()
    );
    // Within the interval: refused, and the recorded time stays.
    assert!(
        !store
            .claim_comment_backfill(id, at(110), at(80))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_comment_backfill(id, at(129), at(100))
            .await
            .unwrap()
    );
    // Once the last backfill is older than `not_before`, it may run again.
    assert!(
        store
            .claim_comment_backfill(id, at(131), at(101))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_comment_backfill(id, at(140), at(131))
            .await
            .unwrap()
    );
    // Another id is independent.
    assert!(
        store
            .claim_comment_backfill("https://m.example/users/a/statuses/2", at(140), at(131))
            .await
            .unwrap()
    );
}

async fn concurrent_claims_of_one_comment_give_one_yes(store: Arc<dyn Store>) {
    let id = "https://m.example/users/a/statuses/race";
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .claim_comment_backfill(id, at(100), at(70))
                .await
                .unwrap()
        }));
    }
    let mut yes = 0;
    for task in tasks {
        if task.await.unwrap() {
            yes += 1;
        }
    }
    assert_eq!(yes, 1);
}

async fn due_comments_are_recent_public_remote_ones_least_recently_backfilled_first(
    store: Arc<dyn Store>,
) {
    let store = store.as_ref();
    let ana = author(store, "ana").await;
    let now = Utc::now();
    // A post published "later" than the window start, and an old one whose comments were
    // all received now (their created_at is the real clock).
    let fresh = store
        .create_post(
            draft(
                ana.id,
                "fresh",
                PostStatus::Published,
                now + Duration::hours(2),
                &[],
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    let old = post(store, ana.id, "old", 0).await;
    let alice = actor(store, "alice", "m.example").await;
    let bob = actor(store, "bob", "evil.example").await;

    let first = reply(
        store,
        &alice,
        ThreadNode::Post(fresh.id),
        "first",
        Visibility::Public,
        Moderation::Approved,
    )
    .await;
    let unlisted = reply(
        store,
        &alice,
        ThreadNode::Post(fresh.id),
        "unlisted",
        Visibility::Unlisted,
        Moderation::Pending,
    )
    .await;
    let _private = reply(
        store,
        &alice,
        ThreadNode::Post(fresh.id),
        "private",
        Visibility::Followers,
        Moderation::Approved,
    )
    .await;
    let _spam = reply(
        store,
        &alice,
        ThreadNode::Post(fresh.id),
        "spam",
        Visibility::Public,
        Moderation::Spam,
    )
    .await;
    let _blocked = reply(
        store,
        &bob,
        ThreadNode::Post(fresh.id),
        "blocked",
        Visibility::Public,
        Moderation::Approved,
    )
    .await;
    store
        .add_block(BlockKind::Domain, "evil.example", "spam", at(0))
        .await
        .unwrap();
    let deleted = reply(
        store,
        &alice,
        ThreadNode::Post(fresh.id),
        "deleted",
        Visibility::Public,
        Moderation::Approved,
    )
    .await;
    store
        .delete_comment_by_ap_id(&deleted, alice.id, now)
        .await
        .unwrap();
    let on_old = reply(
        store,
        &alice,
        ThreadNode::Post(old.id),
        "on-old",
        Visibility::Public,
        Moderation::Approved,
    )
    .await;

    // The window starts after the old post and after every comment was received: only
    // the fresh post's comments are due.
    let since = now + Duration::hours(1);
    let due = store
        .comments_due_for_backfill(since, now, 10)
        .await
        .unwrap();
    assert_eq!(due, vec![first.clone(), unlisted.clone()]);

    // A wider window takes the old post too (it had comment activity).
    let due = store
        .comments_due_for_backfill(now - Duration::days(14), now, 10)
        .await
        .unwrap();
    assert_eq!(due, vec![first.clone(), unlisted.clone(), on_old.clone()]);

    // Backfilled ones wait for their interval, then come last, oldest backfill first.
    assert!(
        store
            .claim_comment_backfill(&first, now - Duration::minutes(5), now - Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_comment_backfill(
                &unlisted,
                now - Duration::minutes(50),
                now - Duration::hours(1)
            )
            .await
            .unwrap()
    );
    let not_before = now - Duration::minutes(30);
    let due = store
        .comments_due_for_backfill(now - Duration::days(14), not_before, 10)
        .await
        .unwrap();
    assert_eq!(due, vec![on_old.clone(), unlisted.clone()]);
    let due = store
        .comments_due_for_backfill(now - Duration::days(14), now, 10)
        .await
        .unwrap();
    assert_eq!(due, vec![on_old.clone(), unlisted, first]);
    // The limit holds, and a negative one gives nothing.
    let due = store
        .comments_due_for_backfill(now - Duration::days(14), now, 1)
        .await
        .unwrap();
    assert_eq!(due, vec![on_old]);
    assert!(
        store
            .comments_due_for_backfill(now - Duration::days(14), now, -1)
            .await
            .unwrap()
            .is_empty()
    );
}

conformance! {
    a_comment_is_claimed_once_per_interval =>
        sqlite_a_comment_is_claimed_once_per_interval,
        postgres_a_comment_is_claimed_once_per_interval;
    concurrent_claims_of_one_comment_give_one_yes =>
        sqlite_concurrent_claims_of_one_comment_give_one_yes,
        postgres_concurrent_claims_of_one_comment_give_one_yes;
    due_comments_are_recent_public_remote_ones_least_recently_backfilled_first =>
        sqlite_due_comments_are_recent_public_remote_ones_least_recently_backfilled_first,
        postgres_due_comments_are_recent_public_remote_ones_least_recently_backfilled_first;
}
