//! The storage conformance suite, federation half: local actor keys, remote actors,
//! followers, the outbox and its deliveries (recipients, leases, per-host caps, host
//! health), received activity ids and the active-author counts. Written once against
//! `Arc<dyn Store>` and run on both engines by the same harness as `conformance.rs`.
//!
//! Deliveries are recorded with `next_attempt_at` = the real current time, so tests that
//! claim them take their clock from [`later`]: a moment safely after that, from which
//! the test then moves time forward as it likes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use gloss_storage::{
    ActorKey, DeliveryJob, DeliveryOutcome, DeliveryState, DeliveryStatus, Error, FollowState,
    Follower, HostHealth, LocalActor, OutgoingActivity, Page, PostId, PostStatus, RemoteActor,
    RemoteActorId, RemoteActorUpsert, SiteCounts, Store, UNREACHABLE_HOST_PROBE_INTERVAL,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

#[macro_use]
mod support;

use support::{assert_recent, at, author, draft, post};

// ---------------------------------------------------------------------------------------
// data
// ---------------------------------------------------------------------------------------

/// A moment after every delivery recorded so far is due (they are due when recorded),
/// in whole microseconds like every time the engines store.
fn later() -> DateTime<Utc> {
    let time = Utc::now() + Duration::minutes(1);
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap()
}

/// A lease long enough that it never runs out during a test, unless the test says so.
fn lease() -> Duration {
    Duration::minutes(5)
}

fn remote(name: &str, host: &str, shared_inbox: Option<&str>) -> RemoteActorUpsert {
    RemoteActorUpsert {
        ap_id: format!("https://{host}/users/{name}"),
        kind: "Person".to_owned(),
        preferred_username: Some(name.to_owned()),
        name: Some(format!("{name} of {host}")),
        url: Some(format!("https://{host}/@{name}")),
        icon_url: Some(format!("https://{host}/avatars/{name}.png")),
        inbox: format!("https://{host}/users/{name}/inbox"),
        shared_inbox: shared_inbox.map(str::to_owned),
        public_key_id: format!("https://{host}/users/{name}#main-key"),
        public_key_pem: format!("-----BEGIN PUBLIC KEY-----\n{name}\n-----END PUBLIC KEY-----\n"),
        host: host.to_owned(),
        fetched_at: at(0),
    }
}

/// Stores a remote actor and makes it follow `local` in `state`.
async fn follower(
    store: &dyn Store,
    local: LocalActor,
    actor: RemoteActorUpsert,
    state: FollowState,
) -> RemoteActor {
    let actor = store.upsert_remote_actor(actor).await.unwrap();
    store
        .upsert_follower(
            local,
            actor.id,
            &format!("{}/follows/{local}", actor.ap_id),
            state,
            Vec::new(),
        )
        .await
        .unwrap();
    actor
}

/// An activity of `actor` (id `https://blog.example/activities/{name}`) to the followers
/// of `to_followers_of` and to `extra_inboxes`.
fn activity(
    name: &str,
    actor: LocalActor,
    kind: &str,
    to_followers_of: &[LocalActor],
    extra_inboxes: &[&str],
) -> OutgoingActivity {
    let ap_id = format!("https://blog.example/activities/{name}");
    OutgoingActivity {
        payload: format!(r#"{{"id":"{ap_id}","type":"{kind}"}}"#),
        ap_id,
        actor,
        kind: kind.to_owned(),
        object_ap_id: Some(format!("https://blog.example/objects/{name}")),
        post_id: None,
        to_followers_of: to_followers_of.to_vec(),
        extra_inboxes: extra_inboxes
            .iter()
            .map(|inbox| (*inbox).to_owned())
            .collect(),
    }
}

/// Records one Create per inbox (`https://{host}/inbox/{n}`), each to that inbox only, in
/// order, so that deliveries are oldest first in the order given. Returns their ap ids.
async fn deliveries_to(store: &dyn Store, inboxes: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for (n, inbox) in inboxes.iter().enumerate() {
        let activity = activity(
            &format!("to-{n}-{}", rand::random::<u32>()),
            LocalActor::Blog,
            "Create",
            &[],
            &[inbox],
        );
        ids.push(activity.ap_id.clone());
        store.enqueue_activities(vec![activity]).await.unwrap();
    }
    ids
}

fn job_inboxes(jobs: &[DeliveryJob]) -> Vec<&str> {
    jobs.iter().map(|job| job.inbox.as_str()).collect()
}

fn status_inboxes(statuses: &[DeliveryStatus], activity: &str) -> BTreeSet<String> {
    statuses
        .iter()
        .filter(|status| status.activity_ap_id == activity)
        .map(|status| status.inbox.clone())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

fn follower_names(followers: &[Follower]) -> Vec<&str> {
    followers
        .iter()
        .map(|follower| follower.actor.preferred_username.as_deref().unwrap())
        .collect()
}

fn key(actor: LocalActor, tag: &str) -> ActorKey {
    ActorKey {
        actor,
        public_key_pem: format!("public {tag}"),
        private_key_pem: format!("private {tag}"),
        created_at: at(0) + Duration::microseconds(654_321),
    }
}

// ---------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------

async fn actor_keys_are_stored_once(store: Arc<dyn Store>) {
    assert_eq!(store.actor_key(LocalActor::Blog).await.unwrap(), None);
    let first = key(LocalActor::Blog, "one");
    assert_eq!(
        store
            .insert_actor_key_if_missing(first.clone())
            .await
            .unwrap(),
        first
    );
    // A second process that generated its own key gets the one stored first.
    assert_eq!(
        store
            .insert_actor_key_if_missing(key(LocalActor::Blog, "two"))
            .await
            .unwrap(),
        first
    );
    assert_eq!(
        store.actor_key(LocalActor::Blog).await.unwrap(),
        Some(first.clone())
    );

    let alice = author(&*store, "alice").await;
    let theirs = key(LocalActor::Author(alice.id), "alice");
    store
        .insert_actor_key_if_missing(theirs.clone())
        .await
        .unwrap();
    assert_eq!(
        store.actor_key(LocalActor::Author(alice.id)).await.unwrap(),
        Some(theirs)
    );
    assert_eq!(store.actor_key(LocalActor::Instance).await.unwrap(), None);
    assert!(!format!("{first:?}").contains("private one"));
}

// ---------------------------------------------------------------------------------------
// remote actors
// ---------------------------------------------------------------------------------------

async fn remote_actors_are_upserted_by_ap_id(store: Arc<dyn Store>) {
    let mut upsert = remote(
        "ann",
        "Social.Example",
        Some("https://social.example/inbox"),
    );
    upsert.fetched_at = at(0) + Duration::microseconds(123_456);
    let ann = store.upsert_remote_actor(upsert.clone()).await.unwrap();
    assert_eq!(
        ann,
        RemoteActor {
            id: ann.id,
            ap_id: upsert.ap_id.clone(),
            kind: "Person".to_owned(),
            preferred_username: Some("ann".to_owned()),
            name: Some("ann of Social.Example".to_owned()),
            url: Some("https://Social.Example/@ann".to_owned()),
            icon_url: Some("https://Social.Example/avatars/ann.png".to_owned()),
            inbox: "https://Social.Example/users/ann/inbox".to_owned(),
            shared_inbox: Some("https://social.example/inbox".to_owned()),
            public_key_id: "https://Social.Example/users/ann#main-key".to_owned(),
            public_key_pem: upsert.public_key_pem.clone(),
            host: "social.example".to_owned(),
            fetched_at: upsert.fetched_at,
            deleted_at: None,
        }
    );
    assert_eq!(
        store.remote_actor_by_ap_id(&ann.ap_id).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store.remote_actor_by_id(ann.id).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store
            .remote_actor_by_key_id(&ann.public_key_id)
            .await
            .unwrap(),
        Some(ann.clone())
    );

    // A refetch updates in place and keeps the id.
    let refreshed = store
        .upsert_remote_actor(RemoteActorUpsert {
            name: Some("Ann".to_owned()),
            shared_inbox: None,
            public_key_id: format!("{}#new-key", upsert.ap_id),
            fetched_at: at(10),
            ..upsert.clone()
        })
        .await
        .unwrap();
    assert_eq!(refreshed.id, ann.id);
    assert_eq!(refreshed.name.as_deref(), Some("Ann"));
    assert_eq!(refreshed.shared_inbox, None);
    assert_eq!(refreshed.fetched_at, at(10));
    assert_eq!(
        store
            .remote_actor_by_key_id(&ann.public_key_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .remote_actor_by_key_id(&refreshed.public_key_id)
            .await
            .unwrap(),
        Some(refreshed.clone())
    );

    // Deleted, still found (its Delete must verify), and back when it is fetched again.
    store
        .mark_remote_actor_deleted(&ann.ap_id, at(20))
        .await
        .unwrap();
    store
        .mark_remote_actor_deleted(&ann.ap_id, at(30))
        .await
        .unwrap();
    let deleted = store.remote_actor_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(deleted.deleted_at, Some(at(20)));
    let back = store.upsert_remote_actor(upsert.clone()).await.unwrap();
    assert_eq!(back.id, ann.id);
    assert_eq!(back.deleted_at, None);

    // Unknown actors: nothing found, nothing to delete.
    assert_eq!(
        store
            .remote_actor_by_ap_id("https://nowhere.example/u/x")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .remote_actor_by_id(RemoteActorId(999_999))
            .await
            .unwrap(),
        None
    );
    store
        .mark_remote_actor_deleted("https://nowhere.example/u/x", at(0))
        .await
        .unwrap();

    // Deliveries are keyed by the inbox's host, so an inbox must be a URL with one.
    for bad in [
        RemoteActorUpsert {
            inbox: "/users/bob/inbox".to_owned(),
            ..remote("bob", "social.example", None)
        },
        remote("bob", "social.example", Some("not a url")),
    ] {
        let refused = store.upsert_remote_actor(bad).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    }
    assert_eq!(
        store
            .remote_actor_by_ap_id("https://social.example/users/bob")
            .await
            .unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------
// followers
// ---------------------------------------------------------------------------------------

async fn followers_are_upserted_listed_and_removed(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let blog = LocalActor::Blog;
    let ann = store
        .upsert_remote_actor(remote("ann", "a.example", None))
        .await
        .unwrap();
    let before = Utc::now();
    let pending = store
        .upsert_follower(
            blog,
            ann.id,
            "https://a.example/follows/1",
            FollowState::Pending,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(pending.local_actor, blog);
    assert_eq!(pending.actor, ann);
    assert_eq!(pending.follow_ap_id, "https://a.example/follows/1");
    assert_eq!(pending.state, FollowState::Pending);
    assert_recent(pending.created_at, before);
    assert_eq!(
        store.follower(blog, ann.id).await.unwrap(),
        Some(pending.clone())
    );

    // Approving (or a repeated Follow) updates the row and keeps its place in the list.
    let accepted = store
        .upsert_follower(
            blog,
            ann.id,
            "https://a.example/follows/2",
            FollowState::Accepted,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(accepted.state, FollowState::Accepted);
    assert_eq!(accepted.follow_ap_id, "https://a.example/follows/2");
    assert_eq!(accepted.created_at, pending.created_at);

    let bob = follower(
        &*store,
        blog,
        remote("bob", "b.example", None),
        FollowState::Accepted,
    )
    .await;
    follower(
        &*store,
        blog,
        remote("cat", "c.example", None),
        FollowState::Accepted,
    )
    .await;
    follower(
        &*store,
        blog,
        remote("dan", "d.example", None),
        FollowState::Pending,
    )
    .await;
    // Following an author is a follow of its own.
    store
        .upsert_follower(
            LocalActor::Author(alice.id),
            bob.id,
            "https://b.example/follows/alice",
            FollowState::Accepted,
            Vec::new(),
        )
        .await
        .unwrap();

    let all = Page::number(1, 10);
    assert_eq!(
        follower_names(
            &store
                .followers(blog, FollowState::Accepted, all)
                .await
                .unwrap()
        ),
        ["ann", "bob", "cat"]
    );
    assert_eq!(
        follower_names(
            &store
                .followers(blog, FollowState::Accepted, Page::number(2, 2))
                .await
                .unwrap()
        ),
        ["cat"]
    );
    assert_eq!(
        follower_names(
            &store
                .followers(blog, FollowState::Pending, all)
                .await
                .unwrap()
        ),
        ["dan"]
    );
    assert_eq!(
        store
            .count_followers(blog, FollowState::Accepted)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .count_followers(LocalActor::Author(alice.id), FollowState::Accepted)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_followers(LocalActor::Instance, FollowState::Accepted)
            .await
            .unwrap(),
        0
    );

    // Undo(Follow): removed once.
    assert!(
        store
            .remove_follower(blog, ann.id, Vec::new())
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_follower(blog, ann.id, Vec::new())
            .await
            .unwrap()
    );
    assert_eq!(store.follower(blog, ann.id).await.unwrap(), None);

    // 410 from bob's personal inbox: every follow of bob goes, whichever local actor.
    assert_eq!(
        store
            .remove_followers_with_inbox("https://b.example/users/bob/inbox")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .remove_followers_with_inbox("https://b.example/users/bob/inbox")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        follower_names(
            &store
                .followers(blog, FollowState::Accepted, all)
                .await
                .unwrap()
        ),
        ["cat"]
    );

    // A deleted actor follows no one any more.
    store
        .mark_remote_actor_deleted("https://c.example/users/cat", at(5))
        .await
        .unwrap();
    assert_eq!(
        store
            .count_followers(blog, FollowState::Accepted)
            .await
            .unwrap(),
        0
    );

    let unknown = store
        .upsert_follower(
            blog,
            RemoteActorId(999_999),
            "https://x.example/follows/1",
            FollowState::Accepted,
            Vec::new(),
        )
        .await;
    assert!(matches!(unknown, Err(Error::Invalid(_))), "{unknown:?}");
}

// ---------------------------------------------------------------------------------------
// outbox: recipients and atomicity
// ---------------------------------------------------------------------------------------

async fn outbox_recipients_are_the_accepted_followers_delivery_inboxes(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let blog = LocalActor::Blog;
    let author_actor = LocalActor::Author(alice.id);
    let shared = "https://a.example/inbox";
    // ann and bob share a.example's shared inbox: one delivery for both.
    follower(
        &*store,
        blog,
        remote("ann", "a.example", Some(shared)),
        FollowState::Accepted,
    )
    .await;
    follower(
        &*store,
        blog,
        remote("bob", "a.example", Some(shared)),
        FollowState::Accepted,
    )
    .await;
    // cat has only a personal inbox.
    follower(
        &*store,
        blog,
        remote("cat", "b.example", None),
        FollowState::Accepted,
    )
    .await;
    // dan waits for approval, eve was deleted: neither receives anything.
    follower(
        &*store,
        blog,
        remote("dan", "c.example", None),
        FollowState::Pending,
    )
    .await;
    let eve = follower(
        &*store,
        blog,
        remote("eve", "d.example", None),
        FollowState::Accepted,
    )
    .await;
    store
        .mark_remote_actor_deleted(&eve.ap_id, at(0))
        .await
        .unwrap();
    // The author's followers: fay on a.example (same shared inbox), gus on a custom port.
    follower(
        &*store,
        author_actor,
        remote("fay", "a.example", Some(shared)),
        FollowState::Accepted,
    )
    .await;
    let gus = follower(
        &*store,
        author_actor,
        RemoteActorUpsert {
            inbox: "https://F.example:8443/users/gus/inbox".to_owned(),
            ..remote("gus", "f.example", None)
        },
        FollowState::Accepted,
    )
    .await;

    let cat_inbox = "https://b.example/users/cat/inbox";
    let mut announce = activity(
        "announce",
        blog,
        "Announce",
        &[blog],
        // The extra inbox of a follower is merged with the follower's own delivery.
        &["https://x.example/users/zed/inbox", cat_inbox, cat_inbox],
    );
    // The post's id wins over whatever the caller put.
    announce.post_id = Some(PostId(999_999));
    let create = activity("create", author_actor, "Create", &[blog, author_actor], &[]);
    let before = Utc::now();
    let post = store
        .create_post(
            draft(alice.id, "hello", PostStatus::Published, at(0), &[]),
            vec![announce.clone(), create.clone()],
        )
        .await
        .unwrap();

    let statuses = store.deliveries_for_post(post.id).await.unwrap();
    assert_eq!(
        status_inboxes(&statuses, &announce.ap_id),
        set(&[shared, cat_inbox, "https://x.example/users/zed/inbox"])
    );
    assert_eq!(
        status_inboxes(&statuses, &create.ap_id),
        set(&[shared, cat_inbox, &gus.inbox])
    );
    assert_eq!(statuses.len(), 6);
    for status in &statuses {
        assert_eq!(status.state, DeliveryState::Pending);
        assert_eq!(status.attempts, 0);
        assert_eq!(status.last_status, None);
        assert_eq!(status.last_error, None);
        assert_recent(status.next_attempt_at.unwrap(), before);
        assert_recent(status.updated_at, before);
    }
    assert_eq!(
        store.delivery_counts_for_post(post.id).await.unwrap(),
        (6, 0, 0)
    );
    assert!(
        store
            .deliveries_for_post(PostId(999_999))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.activity_payload(&create.ap_id).await.unwrap(),
        Some(create.payload.clone())
    );

    // What the worker gets: the activity, its actor and payload, and the inbox's host.
    let jobs = store
        .claim_deliveries(later(), 100, 100, lease())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 6);
    let hosts: BTreeMap<&str, &str> = jobs
        .iter()
        .map(|job| (job.inbox.as_str(), job.host.as_str()))
        .collect();
    assert_eq!(hosts[shared], "a.example");
    assert_eq!(hosts[gus.inbox.as_str()], "f.example:8443");
    let job = jobs
        .iter()
        .find(|job| job.activity_ap_id == create.ap_id && job.inbox == gus.inbox)
        .unwrap();
    assert_eq!(job.actor, author_actor);
    assert_eq!(job.payload, create.payload);
    assert_eq!(job.attempts, 0);
    assert_recent(job.created_at, before);
}

async fn outbox_of_updates_deletes_and_follows(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let blog = LocalActor::Blog;
    let ann = follower(
        &*store,
        blog,
        remote("ann", "a.example", None),
        FollowState::Accepted,
    )
    .await;
    let post = post(&*store, alice.id, "hello", 0).await;

    let update = activity("update", blog, "Update", &[blog], &[]);
    store
        .update_post(
            post.id,
            draft(alice.id, "hello", PostStatus::Published, at(0), &[]),
            vec![update.clone()],
        )
        .await
        .unwrap();
    let delete = activity("delete", blog, "Delete", &[blog], &[]);
    store
        .delete_post(post.id, vec![delete.clone()])
        .await
        .unwrap();
    let statuses = store.deliveries_for_post(post.id).await.unwrap();
    // Newest first.
    assert_eq!(
        statuses
            .iter()
            .map(|status| status.kind.as_str())
            .collect::<Vec<_>>(),
        ["Delete", "Update"]
    );
    assert!(statuses.iter().all(|status| status.inbox == ann.inbox));

    // The Accept of a new follow goes to that follower, in the same transaction.
    let bob = store
        .upsert_remote_actor(remote("bob", "b.example", None))
        .await
        .unwrap();
    let mut accept = activity("accept", blog, "Accept", &[], &[&bob.inbox]);
    accept.post_id = Some(post.id);
    store
        .upsert_follower(
            blog,
            bob.id,
            "https://b.example/follows/1",
            FollowState::Accepted,
            vec![accept.clone()],
        )
        .await
        .unwrap();
    // A Reject when the follow is removed; recorded even if there was nothing to remove.
    let mut reject = activity("reject", blog, "Reject", &[], &[&ann.inbox]);
    reject.post_id = Some(post.id);
    assert!(
        !store
            .remove_follower(LocalActor::Instance, ann.id, vec![reject.clone()])
            .await
            .unwrap()
    );
    let statuses = store.deliveries_for_post(post.id).await.unwrap();
    assert_eq!(status_inboxes(&statuses, &accept.ap_id), set(&[&bob.inbox]));
    assert_eq!(status_inboxes(&statuses, &reject.ap_id), set(&[&ann.inbox]));

    // A follow whose Accept cannot be recorded is not stored either.
    let cat = store
        .upsert_remote_actor(remote("cat", "c.example", None))
        .await
        .unwrap();
    let again = store
        .upsert_follower(
            blog,
            cat.id,
            "https://c.example/follows/1",
            FollowState::Accepted,
            vec![activity("accept", blog, "Accept", &[], &[&cat.inbox])],
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(store.follower(blog, cat.id).await.unwrap(), None);

    // Activities without a post are not in any post's list.
    store
        .enqueue_activities(vec![activity("free", blog, "Update", &[blog], &[])])
        .await
        .unwrap();
    assert_eq!(store.deliveries_for_post(post.id).await.unwrap().len(), 4);
    assert_eq!(
        store
            .claim_deliveries(later(), 100, 100, lease())
            .await
            .unwrap()
            .len(),
        6
    );
}

async fn a_failed_change_records_no_activity(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let blog = LocalActor::Blog;
    follower(
        &*store,
        blog,
        remote("ann", "a.example", None),
        FollowState::Accepted,
    )
    .await;
    let taken = post(&*store, alice.id, "taken", 0).await;
    let other = post(&*store, alice.id, "other", 1).await;
    let create = activity(
        "create",
        blog,
        "Create",
        &[blog],
        &["https://x.example/inbox"],
    );

    // A taken slug: neither the post nor its activity.
    let clash = store
        .create_post(
            draft(alice.id, "taken", PostStatus::Published, at(2), &[]),
            vec![create.clone()],
        )
        .await;
    assert!(matches!(clash, Err(Error::Conflict(_))), "{clash:?}");
    let clash = store
        .update_post(
            other.id,
            draft(alice.id, "taken", PostStatus::Published, at(2), &[]),
            vec![create.clone()],
        )
        .await;
    assert!(matches!(clash, Err(Error::Conflict(_))), "{clash:?}");
    let missing = store
        .update_post(
            PostId(999_999),
            draft(alice.id, "new", PostStatus::Published, at(2), &[]),
            vec![create.clone()],
        )
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let missing = store
        .delete_post(PostId(999_999), vec![create.clone()])
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    assert_eq!(store.activity_payload(&create.ap_id).await.unwrap(), None);
    assert_eq!(store.next_delivery_due().await.unwrap(), None);

    // An activity id recorded before: the post is not created (nor deleted) either.
    store
        .enqueue_activities(vec![create.clone()])
        .await
        .unwrap();
    let twice = store
        .create_post(
            draft(alice.id, "fresh", PostStatus::Published, at(3), &[]),
            vec![create.clone()],
        )
        .await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert_eq!(store.post_by_slug("fresh").await.unwrap(), None);
    let twice = store.delete_post(taken.id, vec![create.clone()]).await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert_eq!(
        store.post_by_id(taken.id).await.unwrap().unwrap().status,
        PostStatus::Published
    );

    // One bad activity in a batch: none of the batch is recorded.
    let fine = activity("fine", blog, "Update", &[blog], &[]);
    let batch = store
        .enqueue_activities(vec![fine.clone(), create.clone()])
        .await;
    assert!(matches!(batch, Err(Error::Conflict(_))), "{batch:?}");
    assert_eq!(store.activity_payload(&fine.ap_id).await.unwrap(), None);
    let bad_inbox = activity("bad", blog, "Update", &[blog], &["not a url"]);
    let refused = store.enqueue_activities(vec![bad_inbox.clone()]).await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    assert_eq!(
        store.activity_payload(&bad_inbox.ap_id).await.unwrap(),
        None
    );

    // Only the enqueued Create's two deliveries exist.
    let jobs = store
        .claim_deliveries(later(), 100, 100, lease())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|job| job.activity_ap_id == create.ap_id));
}

async fn activities_are_served_and_listed_per_actor(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let blog = LocalActor::Blog;
    let mut recorded = Vec::new();
    for (name, actor, kind) in [
        ("c1", blog, "Announce"),
        ("a1", blog, "Accept"),
        ("c2", blog, "Announce"),
        ("x1", LocalActor::Author(alice.id), "Create"),
        ("c3", blog, "Create"),
    ] {
        let activity = activity(name, actor, kind, &[], &[]);
        recorded.push(activity.clone());
        store.enqueue_activities(vec![activity]).await.unwrap();
    }
    let payload = |name: &str| {
        recorded
            .iter()
            .find(|activity| activity.ap_id.ends_with(&format!("/{name}")))
            .unwrap()
            .payload
            .clone()
    };
    let public = ["Create", "Announce"];
    assert_eq!(
        store
            .activities_of(blog, &public, Page::number(1, 10))
            .await
            .unwrap(),
        [payload("c3"), payload("c2"), payload("c1")]
    );
    assert_eq!(
        store
            .activities_of(blog, &public, Page::number(2, 2))
            .await
            .unwrap(),
        [payload("c1")]
    );
    assert_eq!(store.count_activities_of(blog, &public).await.unwrap(), 3);
    assert_eq!(
        store.count_activities_of(blog, &["Accept"]).await.unwrap(),
        1
    );
    assert_eq!(
        store
            .activities_of(LocalActor::Author(alice.id), &public, Page::number(1, 10))
            .await
            .unwrap(),
        [payload("x1")]
    );
    assert!(
        store
            .activities_of(blog, &[], Page::number(1, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_activities_of(blog, &[]).await.unwrap(), 0);
    assert_eq!(
        store
            .activity_payload("https://blog.example/activities/a1")
            .await
            .unwrap(),
        Some(payload("a1"))
    );
    assert_eq!(
        store
            .activity_payload("https://blog.example/activities/none")
            .await
            .unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------
// claiming deliveries
// ---------------------------------------------------------------------------------------

async fn claimed_deliveries_are_leased_until_the_lease_runs_out(store: Arc<dyn Store>) {
    let inboxes = [
        "https://a.example/inbox",
        "https://b.example/inbox",
        "https://c.example/inbox",
    ];
    let ids = deliveries_to(&*store, &inboxes).await;
    let recorded = store.next_delivery_due().await.unwrap().unwrap();
    assert!(recorded <= Utc::now());
    let now = later();

    // Oldest first, at most `limit`.
    let first = store
        .claim_deliveries(now, 2, 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(job_inboxes(&first), &inboxes[..2]);
    assert_eq!(first[0].activity_ap_id, ids[0]);
    let second = store
        .claim_deliveries(now, 10, 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(job_inboxes(&second), &inboxes[2..]);
    // Leased: no one else gets them, however often they ask, until the lease runs out.
    for moment in [now, now + Duration::seconds(59)] {
        assert!(
            store
                .claim_deliveries(moment, 10, 10, lease())
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(
        store.next_delivery_due().await.unwrap(),
        Some(now + Duration::minutes(1))
    );
    // The worker crashed: at the end of the lease they are claimable again, unchanged.
    let again = store
        .claim_deliveries(now + Duration::minutes(1), 10, 10, lease())
        .await
        .unwrap();
    assert_eq!(job_inboxes(&again), inboxes);
    assert_eq!(
        again.iter().map(|job| job.id).collect::<Vec<_>>(),
        first
            .iter()
            .chain(&second)
            .map(|job| job.id)
            .collect::<Vec<_>>()
    );
    assert!(again.iter().all(|job| job.attempts == 0));

    // Not yet due: nothing to claim before the next attempt.
    let retry_at = now + Duration::hours(1);
    for job in &again {
        store
            .finish_delivery(
                job.id,
                DeliveryOutcome::Retry {
                    next_attempt_at: retry_at,
                    status: Some(503),
                    error: "unavailable".to_owned(),
                },
                now + Duration::minutes(2),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.next_delivery_due().await.unwrap(), Some(retry_at));
    assert!(
        store
            .claim_deliveries(retry_at - Duration::seconds(1), 10, 10, lease())
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store
        .claim_deliveries(retry_at, 10, 10, lease())
        .await
        .unwrap();
    assert_eq!(job_inboxes(&retried), inboxes);
    assert!(retried.iter().all(|job| job.attempts == 1));

    // Odd arguments claim nothing rather than everything.
    for job in &retried {
        store
            .finish_delivery(
                job.id,
                DeliveryOutcome::Retry {
                    next_attempt_at: retry_at,
                    status: None,
                    error: "timeout".to_owned(),
                },
                retry_at,
            )
            .await
            .unwrap();
    }
    assert!(
        store
            .claim_deliveries(retry_at, 0, 10, lease())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_deliveries(retry_at, -1, 10, lease())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_deliveries(retry_at, 10, 0, lease())
            .await
            .unwrap()
            .is_empty()
    );
    let no_lease = store
        .claim_deliveries(retry_at, 10, 10, Duration::zero())
        .await;
    assert!(matches!(no_lease, Err(Error::Invalid(_))), "{no_lease:?}");
    assert_eq!(
        store
            .claim_deliveries(retry_at, 10, 10, lease())
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn claims_respect_the_per_host_cap(store: Arc<dyn Store>) {
    let inboxes = [
        "https://a.example/inbox/1",
        "https://b.example/inbox/1",
        "https://a.example/inbox/2",
        "https://a.example/inbox/3",
        "https://b.example/inbox/2",
        "https://a.example/inbox/4",
        "https://a.example/inbox/5",
    ];
    deliveries_to(&*store, &inboxes).await;
    let now = later();

    // Two per host, oldest first within each host and overall.
    let first = store.claim_deliveries(now, 10, 2, lease()).await.unwrap();
    assert_eq!(
        job_inboxes(&first),
        [
            "https://a.example/inbox/1",
            "https://b.example/inbox/1",
            "https://a.example/inbox/2",
            "https://b.example/inbox/2",
        ]
    );
    // Both hosts are at their cap, counting the deliveries already leased.
    assert!(
        store
            .claim_deliveries(now, 10, 2, lease())
            .await
            .unwrap()
            .is_empty()
    );
    // One a.example delivery done: room for one more there.
    store
        .finish_delivery(first[0].id, DeliveryOutcome::Delivered { status: 202 }, now)
        .await
        .unwrap();
    let next = store.claim_deliveries(now, 10, 2, lease()).await.unwrap();
    assert_eq!(job_inboxes(&next), ["https://a.example/inbox/3"]);
    // A larger cap lets more through, still oldest first.
    let more = store.claim_deliveries(now, 10, 4, lease()).await.unwrap();
    assert_eq!(
        job_inboxes(&more),
        ["https://a.example/inbox/4", "https://a.example/inbox/5"]
    );
}

async fn unreachable_hosts_are_skipped_and_probed(store: Arc<dyn Store>) {
    let inboxes = [
        "https://a.example/inbox/1",
        "https://a.example/inbox/2",
        "https://a.example/inbox/3",
        "https://b.example/inbox/1",
    ];
    deliveries_to(&*store, &inboxes).await;
    let now = later();
    store.mark_host_unreachable("A.example", now).await.unwrap();
    assert_eq!(
        store.host_health("a.example").await.unwrap(),
        Some(HostHealth {
            host: "a.example".to_owned(),
            failing_since: Some(now),
            consecutive_failures: 0,
            last_success_at: None,
            unreachable: true,
        })
    );

    // Only the reachable host's delivery.
    let jobs = store.claim_deliveries(now, 10, 10, lease()).await.unwrap();
    assert_eq!(job_inboxes(&jobs), ["https://b.example/inbox/1"]);
    store
        .finish_delivery(jobs[0].id, DeliveryOutcome::Delivered { status: 200 }, now)
        .await
        .unwrap();
    // The worker sleeps until the probe, not until the (past) attempts.
    let probe_at = now + UNREACHABLE_HOST_PROBE_INTERVAL;
    assert_eq!(store.next_delivery_due().await.unwrap(), Some(probe_at));
    assert!(
        store
            .claim_deliveries(probe_at - Duration::seconds(1), 10, 10, lease())
            .await
            .unwrap()
            .is_empty()
    );

    // The probe is due: exactly one delivery, the oldest.
    let probe = store
        .claim_deliveries(probe_at, 10, 10, lease())
        .await
        .unwrap();
    assert_eq!(job_inboxes(&probe), ["https://a.example/inbox/1"]);
    store
        .finish_delivery(
            probe[0].id,
            DeliveryOutcome::Retry {
                next_attempt_at: probe_at + Duration::minutes(1),
                status: None,
                error: "connection refused".to_owned(),
            },
            probe_at,
        )
        .await
        .unwrap();
    // The next probe is another interval away, whatever the retry time says.
    let next_probe = probe_at + UNREACHABLE_HOST_PROBE_INTERVAL;
    assert!(
        store
            .claim_deliveries(next_probe - Duration::seconds(1), 10, 10, lease())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_delivery_due().await.unwrap(), Some(next_probe));
    let health = store.host_health("a.example").await.unwrap().unwrap();
    assert!(health.unreachable);
    assert_eq!(health.consecutive_failures, 1);
    assert_eq!(health.failing_since, Some(now));

    // Defer one delivery far away, then the host contacts us: all are due at once.
    let probe = store
        .claim_deliveries(next_probe, 10, 10, lease())
        .await
        .unwrap();
    assert_eq!(probe.len(), 1);
    store
        .finish_delivery(
            probe[0].id,
            DeliveryOutcome::Retry {
                next_attempt_at: next_probe + Duration::days(3),
                status: Some(502),
                error: "bad gateway".to_owned(),
            },
            next_probe,
        )
        .await
        .unwrap();
    let contact = next_probe + Duration::minutes(5);
    store.host_contacted_us("A.EXAMPLE", contact).await.unwrap();
    assert_eq!(
        store.host_health("a.example").await.unwrap(),
        Some(HostHealth {
            host: "a.example".to_owned(),
            failing_since: None,
            consecutive_failures: 0,
            last_success_at: None,
            unreachable: false,
        })
    );
    // The one deferred by days is among them.
    let all = store
        .claim_deliveries(contact, 10, 10, lease())
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|job| job.id == probe[0].id));
    assert!(all.iter().all(|job| job.host == "a.example"));

    // A host we never heard of: contacting us creates nothing and changes nothing.
    store
        .host_contacted_us("new.example", contact)
        .await
        .unwrap();
    assert_eq!(store.host_health("new.example").await.unwrap(), None);
    // An unreachable host without any record before is created as such.
    store
        .mark_host_unreachable("c.example", contact)
        .await
        .unwrap();
    assert!(
        store
            .host_health("c.example")
            .await
            .unwrap()
            .unwrap()
            .unreachable
    );
}

async fn finishing_records_the_outcome_and_the_hosts_health(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let blog = LocalActor::Blog;
    let inboxes = [
        "https://ok.example/inbox",
        "https://flaky.example/inbox",
        "https://refuses.example/inbox",
        "https://down.example/inbox",
    ];
    let create = activity("create", blog, "Create", &[], &inboxes);
    let post = store
        .create_post(
            draft(alice.id, "hello", PostStatus::Published, at(0), &[]),
            vec![create],
        )
        .await
        .unwrap();
    let t0 = later();
    let jobs = store.claim_deliveries(t0, 10, 10, lease()).await.unwrap();
    let job = |host: &str| jobs.iter().find(|job| job.host == host).unwrap().id;
    let status = |statuses: &[DeliveryStatus], inbox: &str| {
        statuses
            .iter()
            .find(|status| status.inbox == inbox)
            .unwrap()
            .clone()
    };

    // Delivered.
    store
        .finish_delivery(
            job("ok.example"),
            DeliveryOutcome::Delivered { status: 202 },
            t0,
        )
        .await
        .unwrap();
    // Retry, twice: the run of failures starts at the first.
    let t1 = t0 + Duration::minutes(1);
    let retry_at = t0 + Duration::minutes(30);
    store
        .finish_delivery(
            job("flaky.example"),
            DeliveryOutcome::Retry {
                next_attempt_at: retry_at,
                status: Some(503),
                error: "Service Unavailable".to_owned(),
            },
            t1,
        )
        .await
        .unwrap();
    // A final 4xx is about this activity, not the host.
    store
        .finish_delivery(
            job("refuses.example"),
            DeliveryOutcome::Failed {
                status: Some(403),
                error: "Forbidden".to_owned(),
            },
            t1,
        )
        .await
        .unwrap();
    // Giving up after network errors counts against the host.
    store
        .finish_delivery(
            job("down.example"),
            DeliveryOutcome::Failed {
                status: None,
                error: "dns error".to_owned(),
            },
            t1,
        )
        .await
        .unwrap();

    let statuses = store.deliveries_for_post(post.id).await.unwrap();
    let ok = status(&statuses, inboxes[0]);
    assert_eq!(ok.state, DeliveryState::Delivered);
    assert_eq!(ok.attempts, 1);
    assert_eq!(ok.last_status, Some(202));
    assert_eq!(ok.last_error, None);
    assert_eq!(ok.next_attempt_at, None);
    assert_eq!(ok.updated_at, t0);
    let flaky = status(&statuses, inboxes[1]);
    assert_eq!(flaky.state, DeliveryState::Pending);
    assert_eq!(flaky.attempts, 1);
    assert_eq!(flaky.last_status, Some(503));
    assert_eq!(flaky.last_error.as_deref(), Some("Service Unavailable"));
    assert_eq!(flaky.next_attempt_at, Some(retry_at));
    assert_eq!(flaky.updated_at, t1);
    let refused = status(&statuses, inboxes[2]);
    assert_eq!(refused.state, DeliveryState::Failed);
    assert_eq!(refused.attempts, 1);
    assert_eq!(refused.last_status, Some(403));
    assert_eq!(refused.last_error.as_deref(), Some("Forbidden"));
    assert_eq!(refused.next_attempt_at, None);
    let down = status(&statuses, inboxes[3]);
    assert_eq!(down.state, DeliveryState::Failed);
    assert_eq!(down.last_status, None);
    assert_eq!(
        store.delivery_counts_for_post(post.id).await.unwrap(),
        (1, 1, 2)
    );

    assert_eq!(
        store.host_health("ok.example").await.unwrap(),
        Some(HostHealth {
            host: "ok.example".to_owned(),
            failing_since: None,
            consecutive_failures: 0,
            last_success_at: Some(t0),
            unreachable: false,
        })
    );
    assert_eq!(store.host_health("refuses.example").await.unwrap(), None);
    let down_health = store.host_health("down.example").await.unwrap().unwrap();
    assert_eq!(down_health.consecutive_failures, 1);
    assert_eq!(down_health.failing_since, Some(t1));

    // The retry is claimed again when due; a second failure extends the run of failures.
    let retried = store
        .claim_deliveries(retry_at, 10, 10, lease())
        .await
        .unwrap();
    assert_eq!(job_inboxes(&retried), [inboxes[1]]);
    assert_eq!(retried[0].attempts, 1);
    let t2 = retry_at + Duration::minutes(1);
    store
        .finish_delivery(
            retried[0].id,
            DeliveryOutcome::Retry {
                next_attempt_at: t2 + Duration::hours(1),
                status: Some(500),
                error: "oops".to_owned(),
            },
            t2,
        )
        .await
        .unwrap();
    assert_eq!(
        store.host_health("flaky.example").await.unwrap(),
        Some(HostHealth {
            host: "flaky.example".to_owned(),
            failing_since: Some(t1),
            consecutive_failures: 2,
            last_success_at: None,
            unreachable: false,
        })
    );
    // Marked unreachable, then a success: healthy again.
    store
        .mark_host_unreachable("flaky.example", t2)
        .await
        .unwrap();
    let health = store.host_health("flaky.example").await.unwrap().unwrap();
    assert!(health.unreachable);
    assert_eq!(health.failing_since, Some(t1));
    store.host_contacted_us("flaky.example", t2).await.unwrap();
    let t3 = t2 + Duration::minutes(1);
    let last = store.claim_deliveries(t3, 10, 10, lease()).await.unwrap();
    assert_eq!(job_inboxes(&last), [inboxes[1]]);
    store
        .mark_host_unreachable("flaky.example", t3)
        .await
        .unwrap();
    store
        .finish_delivery(last[0].id, DeliveryOutcome::Delivered { status: 200 }, t3)
        .await
        .unwrap();
    assert_eq!(
        store.host_health("flaky.example").await.unwrap(),
        Some(HostHealth {
            host: "flaky.example".to_owned(),
            failing_since: None,
            consecutive_failures: 0,
            last_success_at: Some(t3),
            unreachable: false,
        })
    );
    assert_eq!(
        store.delivery_counts_for_post(post.id).await.unwrap(),
        (0, 2, 2)
    );
    assert_eq!(store.next_delivery_due().await.unwrap(), None);

    // A late second outcome (a worker whose lease ran out) does not undo the first.
    store
        .finish_delivery(
            last[0].id,
            DeliveryOutcome::Failed {
                status: Some(500),
                error: "late".to_owned(),
            },
            t3,
        )
        .await
        .unwrap();
    let statuses = store.deliveries_for_post(post.id).await.unwrap();
    let flaky = status(&statuses, inboxes[1]);
    assert_eq!(flaky.state, DeliveryState::Delivered);
    assert_eq!(flaky.attempts, 3);
    let missing = store
        .finish_delivery(999_999, DeliveryOutcome::Delivered { status: 200 }, t3)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

/// Many workers claim at once, each on its own connection: every delivery is claimed by
/// exactly one of them.
async fn concurrent_claims_lease_each_delivery_once(store: Arc<dyn Store>) {
    let inboxes: Vec<String> = (0..200)
        .map(|n| format!("https://host-{}.example/users/u{n}/inbox", n % 20))
        .collect();
    let inbox_refs: Vec<&str> = inboxes.iter().map(String::as_str).collect();
    store
        .enqueue_activities(vec![activity(
            "to-many",
            LocalActor::Blog,
            "Create",
            &[],
            &inbox_refs,
        )])
        .await
        .unwrap();
    let now = later();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let jobs = store
                    .claim_deliveries(now, 7, 1_000, lease())
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    return claimed;
                }
                claimed.extend(jobs.into_iter().map(|job| job.id));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for id in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "delivery {id} was claimed twice");
        }
    }
    assert_eq!(total, 200);
}

/// Workers claiming at once never lease more than the cap to one host between them.
async fn concurrent_claims_keep_the_per_host_cap(store: Arc<dyn Store>) {
    let inboxes: Vec<String> = (0..200)
        .map(|n| format!("https://host-{}.example/users/u{n}/inbox", n % 10))
        .collect();
    let inbox_refs: Vec<&str> = inboxes.iter().map(String::as_str).collect();
    store
        .enqueue_activities(vec![activity(
            "to-many",
            LocalActor::Blog,
            "Create",
            &[],
            &inbox_refs,
        )])
        .await
        .unwrap();
    let now = later();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.claim_deliveries(now, 50, 3, lease()).await.unwrap()
        }));
    }
    let mut per_host: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        for job in task.await.unwrap() {
            *per_host.entry(job.host).or_default() += 1;
        }
    }
    assert_eq!(per_host.len(), 10, "{per_host:?}");
    assert!(per_host.values().all(|&n| n == 3), "{per_host:?}");
}

// ---------------------------------------------------------------------------------------
// received activities, site counts
// ---------------------------------------------------------------------------------------

async fn received_activities_are_handled_once(store: Arc<dyn Store>) {
    let id = "https://a.example/activities/1";
    assert!(store.record_received_activity(id, at(0)).await.unwrap());
    assert!(!store.record_received_activity(id, at(5)).await.unwrap());
    assert!(
        store
            .record_received_activity("https://a.example/activities/2", at(10))
            .await
            .unwrap()
    );
    // Only ids received before the cut are forgotten.
    assert_eq!(store.purge_received_activities(at(0)).await.unwrap(), 0);
    assert_eq!(store.purge_received_activities(at(1)).await.unwrap(), 1);
    assert!(store.record_received_activity(id, at(20)).await.unwrap());
    assert!(
        !store
            .record_received_activity("https://a.example/activities/2", at(20))
            .await
            .unwrap()
    );
}

async fn site_counts_count_recently_active_authors(store: Arc<dyn Store>) {
    let now = at(0);
    let days = |n: i64| now - Duration::days(n);
    let recent = author(&*store, "recent").await;
    let older = author(&*store, "older").await;
    let oldest = author(&*store, "oldest").await;
    let drafter = author(&*store, "drafter").await;
    let deleter = author(&*store, "deleter").await;
    let future = author(&*store, "future").await;
    let publish = |author, slug: &str, when, status| {
        let store = store.clone();
        let draft = draft(author, slug, status, when, &[]);
        async move { store.create_post(draft, Vec::new()).await.unwrap() }
    };
    publish(recent.id, "r1", days(1), PostStatus::Published).await;
    publish(recent.id, "r2", days(29), PostStatus::Published).await;
    publish(older.id, "o1", days(100), PostStatus::Published).await;
    publish(older.id, "o2", days(30), PostStatus::Published).await;
    publish(oldest.id, "x1", days(181), PostStatus::Published).await;
    publish(drafter.id, "d1", days(1), PostStatus::Draft).await;
    let gone = publish(deleter.id, "g1", days(1), PostStatus::Published).await;
    store.delete_post(gone.id, Vec::new()).await.unwrap();
    publish(
        future.id,
        "f1",
        now + Duration::days(1),
        PostStatus::Published,
    )
    .await;

    assert_eq!(
        store.site_counts(now).await.unwrap(),
        SiteCounts {
            authors: 6,
            published_posts: 6,
            public_comments: 0,
            // recent, and older exactly 30 days ago.
            active_authors_month: 2,
            active_authors_halfyear: 2,
        }
    );
    let counts = store.site_counts(now + Duration::days(2)).await.unwrap();
    assert_eq!(counts.active_authors_month, 2);
    assert_eq!(counts.active_authors_halfyear, 3);
}

/// The worker records outcomes in batches: each has the effect it has alone, a late
/// outcome leaves the first one standing, and an unknown id is returned, not an error.
async fn outcomes_are_recorded_in_batches(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let inboxes = [
        "https://ok.example/inbox/1",
        "https://ok.example/inbox/2",
        "https://down.example/inbox",
        "https://refuses.example/inbox",
    ];
    let create = activity("create", LocalActor::Blog, "Create", &[], &inboxes);
    let post = store
        .create_post(
            draft(alice.id, "hello", PostStatus::Published, at(0), &[]),
            vec![create],
        )
        .await
        .unwrap();
    let now = later();
    let jobs = store.claim_deliveries(now, 10, 10, lease()).await.unwrap();
    assert_eq!(jobs.len(), 4);
    let id = |inbox: &str| jobs.iter().find(|job| job.inbox == inbox).unwrap().id;
    let retry_at = now + Duration::minutes(5);
    let failed = |status: u16, error: &str| DeliveryOutcome::Failed {
        status: Some(status),
        error: error.to_owned(),
    };
    let unknown = store
        .finish_deliveries(
            vec![
                (id(inboxes[0]), DeliveryOutcome::Delivered { status: 202 }),
                (999_999, DeliveryOutcome::Delivered { status: 202 }),
                (id(inboxes[1]), DeliveryOutcome::Delivered { status: 200 }),
                (
                    id(inboxes[2]),
                    DeliveryOutcome::Retry {
                        next_attempt_at: retry_at,
                        status: Some(503),
                        error: "HTTP 503".to_owned(),
                    },
                ),
                (id(inboxes[3]), failed(403, "HTTP 403")),
                // A late second outcome in the same batch: the first stands.
                (id(inboxes[0]), failed(500, "late")),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(unknown, [999_999]);
    assert!(
        store
            .finish_deliveries(Vec::new(), now)
            .await
            .unwrap()
            .is_empty()
    );
    let statuses = store.deliveries_for_post(post.id).await.unwrap();
    let state = |inbox: &str| {
        let found = statuses.iter().find(|s| s.inbox == inbox).unwrap();
        (found.state, found.attempts, found.last_status)
    };
    assert_eq!(state(inboxes[0]), (DeliveryState::Delivered, 1, Some(202)));
    assert_eq!(state(inboxes[1]), (DeliveryState::Delivered, 1, Some(200)));
    assert_eq!(state(inboxes[2]), (DeliveryState::Pending, 1, Some(503)));
    assert_eq!(state(inboxes[3]), (DeliveryState::Failed, 1, Some(403)));
    // Hosts' health as if recorded one by one: the 403 is not held against its host.
    let ok = store.host_health("ok.example").await.unwrap().unwrap();
    assert_eq!(ok.last_success_at, Some(now));
    let down = store.host_health("down.example").await.unwrap().unwrap();
    assert_eq!(down.consecutive_failures, 1);
    assert_eq!(store.host_health("refuses.example").await.unwrap(), None);
    // The leases ended: the retry is claimable when due, nothing else is.
    let again = store
        .claim_deliveries(retry_at, 10, 10, lease())
        .await
        .unwrap();
    assert_eq!(job_inboxes(&again), [inboxes[2]]);
}

/// A claim ranks the oldest deliveries first; a host at its cap filling that window
/// does not hold back the hosts queued behind it.
async fn a_busy_host_at_the_head_of_the_queue_does_not_hold_back_others(store: Arc<dyn Store>) {
    let mut inboxes: Vec<String> = (0..80)
        .map(|n| format!("https://busy.example/users/u{n}/inbox"))
        .collect();
    inboxes.extend((0..3).map(|n| format!("https://quiet.example/users/u{n}/inbox")));
    let refs: Vec<&str> = inboxes.iter().map(String::as_str).collect();
    store
        .enqueue_activities(vec![activity(
            "busy-first",
            LocalActor::Blog,
            "Create",
            &[],
            &refs,
        )])
        .await
        .unwrap();
    let now = later();
    let first = store.claim_deliveries(now, 4, 2, lease()).await.unwrap();
    let hosts: Vec<&str> = first.iter().map(|job| job.host.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "busy.example",
            "busy.example",
            "quiet.example",
            "quiet.example"
        ]
    );
    // Both at their cap now: nothing more until an outcome is recorded.
    assert!(
        store
            .claim_deliveries(now, 4, 2, lease())
            .await
            .unwrap()
            .is_empty()
    );
    let quiet = first
        .iter()
        .find(|job| job.host == "quiet.example")
        .unwrap();
    store
        .finish_deliveries(
            vec![(quiet.id, DeliveryOutcome::Delivered { status: 202 })],
            now,
        )
        .await
        .unwrap();
    let next = store.claim_deliveries(now, 4, 2, lease()).await.unwrap();
    assert_eq!(job_inboxes(&next), [inboxes[82].as_str()]);
}

conformance! {
    actor_keys_are_stored_once =>
        sqlite_actor_keys_are_stored_once,
        postgres_actor_keys_are_stored_once;
    remote_actors_are_upserted_by_ap_id =>
        sqlite_remote_actors_are_upserted_by_ap_id,
        postgres_remote_actors_are_upserted_by_ap_id;
    followers_are_upserted_listed_and_removed =>
        sqlite_followers_are_upserted_listed_and_removed,
        postgres_followers_are_upserted_listed_and_removed;
    outbox_recipients_are_the_accepted_followers_delivery_inboxes =>
        sqlite_outbox_recipients_are_the_accepted_followers_delivery_inboxes,
        postgres_outbox_recipients_are_the_accepted_followers_delivery_inboxes;
    outbox_of_updates_deletes_and_follows =>
        sqlite_outbox_of_updates_deletes_and_follows,
        postgres_outbox_of_updates_deletes_and_follows;
    a_failed_change_records_no_activity =>
        sqlite_a_failed_change_records_no_activity,
        postgres_a_failed_change_records_no_activity;
    activities_are_served_and_listed_per_actor =>
        sqlite_activities_are_served_and_listed_per_actor,
        postgres_activities_are_served_and_listed_per_actor;
    claimed_deliveries_are_leased_until_the_lease_runs_out =>
        sqlite_claimed_deliveries_are_leased_until_the_lease_runs_out,
        postgres_claimed_deliveries_are_leased_until_the_lease_runs_out;
    claims_respect_the_per_host_cap =>
        sqlite_claims_respect_the_per_host_cap,
        postgres_claims_respect_the_per_host_cap;
    unreachable_hosts_are_skipped_and_probed =>
        sqlite_unreachable_hosts_are_skipped_and_probed,
        postgres_unreachable_hosts_are_skipped_and_probed;
    finishing_records_the_outcome_and_the_hosts_health =>
        sqlite_finishing_records_the_outcome_and_the_hosts_health,
        postgres_finishing_records_the_outcome_and_the_hosts_health;
    received_activities_are_handled_once =>
        sqlite_received_activities_are_handled_once,
        postgres_received_activities_are_handled_once;
    site_counts_count_recently_active_authors =>
        sqlite_site_counts_count_recently_active_authors,
        postgres_site_counts_count_recently_active_authors;
    outcomes_are_recorded_in_batches =>
        sqlite_outcomes_are_recorded_in_batches,
        postgres_outcomes_are_recorded_in_batches;
    a_busy_host_at_the_head_of_the_queue_does_not_hold_back_others =>
        sqlite_a_busy_host_at_the_head_of_the_queue_does_not_hold_back_others,
        postgres_a_busy_host_at_the_head_of_the_queue_does_not_hold_back_others;
}

// ---------------------------------------------------------------------------------------
// concurrency, on a multi-threaded runtime
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_claims_lease_each_delivery_once() {
    support::with_postgres(concurrent_claims_lease_each_delivery_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_claims_keep_the_per_host_cap() {
    support::with_postgres(concurrent_claims_keep_the_per_host_cap).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_claims_lease_each_delivery_once() {
    support::with_sqlite(concurrent_claims_lease_each_delivery_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_claims_keep_the_per_host_cap() {
    support::with_sqlite(concurrent_claims_keep_the_per_host_cap).await;
}

// ---------------------------------------------------------------------------------------
// moderation rules: account age (checklist M2)
// ---------------------------------------------------------------------------------------

async fn remote_actor_published_is_kept_until_the_next_fetch(store: Arc<dyn Store>) {
    let actor = store
        .upsert_remote_actor(remote("bo", "m.example", None))
        .await
        .unwrap();
    assert_eq!(store.remote_actor_published(actor.id).await.unwrap(), None);
    store
        .set_remote_actor_published(actor.id, Some(at(-60 * 24 * 400)))
        .await
        .unwrap();
    assert_eq!(
        store.remote_actor_published(actor.id).await.unwrap(),
        Some(at(-60 * 24 * 400))
    );
    // A refetch through the ordinary upsert keeps it; the next fetch's value replaces it.
    store
        .upsert_remote_actor(remote("bo", "m.example", None))
        .await
        .unwrap();
    assert_eq!(
        store.remote_actor_published(actor.id).await.unwrap(),
        Some(at(-60 * 24 * 400))
    );
    store
        .set_remote_actor_published(actor.id, None)
        .await
        .unwrap();
    assert_eq!(store.remote_actor_published(actor.id).await.unwrap(), None);
    // An unknown actor: nothing to read, nothing written, no error.
    assert_eq!(
        store
            .remote_actor_published(RemoteActorId(999_999))
            .await
            .unwrap(),
        None
    );
    store
        .set_remote_actor_published(RemoteActorId(999_999), Some(at(0)))
        .await
        .unwrap();
}

conformance! {
    remote_actor_published_is_kept_until_the_next_fetch =>
        sqlite_remote_actor_published_is_kept_until_the_next_fetch,
        postgres_remote_actor_published_is_kept_until_the_next_fetch;
}
