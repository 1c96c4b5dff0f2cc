//! At-least-once delivery across a crash: 500 followers on loopback test inboxes (450
//! behind 5 shared inboxes, 50 with personal inboxes only, so 55 distinct inboxes), a post
//! published with the CLI, `gloss serve` killed with SIGKILL in the middle of the fan-out
//! and started again: every inbox receives the Create and the Announce; duplicates are
//! allowed and printed, losses are not.
//!
//! The followers follow both the author (Create) and the blog (Announce). The fake inboxes
//! answer the first 20 requests slowly (200 ms each) and then hold every further request
//! unanswered, so the kill always lands with some deliveries acknowledged, some in flight
//! and the rest still queued, however fast the worker is. After the kill the held requests
//! are dropped unrecorded (nobody acknowledged them) and the inboxes answer normally.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_storage::LocalActor;
use gloss_tests::TestDatabase;
use gloss_tests::interop::{
    FakeFollower, FakeInboxes, GlossSite, PATIENCE, register_followers, report, wait_until,
};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::task::block_in_place;

const FOLLOWERS_BEHIND_SHARED_INBOXES: usize = 450;
const SHARED_INBOX_HOSTS: u8 = 5;
const FOLLOWERS_WITH_PERSONAL_INBOXES: usize = 50;
const PERSONAL_INBOX_HOSTS: u8 = 10;
/// Deliveries answered before the kill; every later one is held in flight.
const ANSWERED_BEFORE_THE_KILL: usize = 20;
/// Deliveries leased by the killed process become claimable when their lease runs out,
/// so the wait after the restart allows for a lease on top of the usual patience.
const PATIENCE_AFTER_THE_RESTART: Duration = Duration::from_secs(300);

async fn crash_in_the_middle_of_the_fan_out(db: TestDatabase) {
    let engine = if db.url.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let dir = tempfile::tempdir().unwrap();
    let site = GlossSite::loopback(dir.path(), &db.url);
    block_in_place(|| site.add_author("alice", "Alice Example"));

    // Fake hosts on their own loopback addresses: 127.0.10.x serve shared inboxes,
    // 127.0.11.x personal ones.
    let addresses: Vec<Ipv4Addr> = (1..=SHARED_INBOX_HOSTS)
        .map(|i| Ipv4Addr::new(127, 0, 10, i))
        .chain((1..=PERSONAL_INBOX_HOSTS).map(|i| Ipv4Addr::new(127, 0, 11, i)))
        .collect();
    let inboxes = FakeInboxes::start(&addresses).await;
    let (shared_hosts, personal_hosts) = inboxes.bases().split_at(SHARED_INBOX_HOSTS.into());
    let mut followers = Vec::new();
    for n in 0..FOLLOWERS_BEHIND_SHARED_INBOXES {
        let base = &shared_hosts[n % shared_hosts.len()];
        followers.push(FakeFollower {
            ap_id: format!("{base}/users/{n}"),
            inbox: format!("{base}/users/{n}/inbox"),
            shared_inbox: Some(format!("{base}/inbox")),
        });
    }
    for n in 0..FOLLOWERS_WITH_PERSONAL_INBOXES {
        let base = &personal_hosts[n % personal_hosts.len()];
        followers.push(FakeFollower {
            ap_id: format!("{base}/people/{n}"),
            inbox: format!("{base}/people/{n}/inbox"),
            shared_inbox: None,
        });
    }
    let expected: BTreeSet<String> = followers
        .iter()
        .map(|f| f.delivery_inbox().to_owned())
        .collect();
    assert_eq!(expected.len(), 55);

    let store = site.store().await;
    let author = store.author_by_username("alice").await.unwrap().unwrap();
    register_followers(
        store.as_ref(),
        &followers,
        &[LocalActor::Author(author.id), LocalActor::Blog],
    )
    .await;

    inboxes.set_delay(Duration::from_millis(200));
    inboxes.answer_only(ANSWERED_BEFORE_THE_KILL);
    let server = block_in_place(|| site.serve());
    let slug = format!("crash-{:08x}", rand::random::<u32>());
    let url =
        block_in_place(|| site.publish(&slug, "Crash test", "alice", "Delivered at least once."));

    let answered = wait_until("the first deliveries to be answered", PATIENCE, || async {
        let answered = inboxes.received().len();
        if answered >= ANSWERED_BEFORE_THE_KILL {
            Ok(answered)
        } else {
            Err(format!("{answered} answered, {} held", inboxes.held()))
        }
    })
    .await;
    block_in_place(|| server.kill());
    let held = inboxes.held();
    let before: BTreeSet<String> = inboxes.received().into_iter().map(|r| r.inbox).collect();
    eprintln!(
        "killed gloss serve (SIGKILL) with {answered} deliveries answered (to {} of the 55 \
         inboxes) and {held} held in flight",
        before.len()
    );

    inboxes.set_delay(Duration::from_millis(20));
    inboxes.release_held();
    let server = block_in_place(|| site.serve());

    let alice = site.author_actor("alice");
    let blog = format!("{}/blog", site.base());
    wait_until(
        "every inbox to receive the Create and the Announce",
        PATIENCE_AFTER_THE_RESTART,
        || async {
            let creates = inboxes.by_inbox("Create", &url);
            let announces = inboxes.by_inbox("Announce", &url);
            let without_create = expected.iter().filter(|i| !creates.contains_key(*i)).count();
            let without_announce = expected
                .iter()
                .filter(|i| !announces.contains_key(*i))
                .count();
            if without_create == 0 && without_announce == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{without_create} inboxes without the Create, {without_announce} without the Announce"
                ))
            }
        },
    )
    .await;
    // Nothing left to send (so no duplicate is still on its way).
    let post = store.post_by_slug(&slug).await.unwrap().unwrap();
    let (delivered, failed) = wait_until("no pending delivery", PATIENCE, || async {
        let (pending, delivered, failed) = store.delivery_counts_for_post(post.id).await.unwrap();
        if pending == 0 {
            Ok((delivered, failed))
        } else {
            Err(format!(
                "{pending} pending, {delivered} delivered, {failed} failed"
            ))
        }
    })
    .await;

    let received = inboxes.received();
    let duplicates = inboxes.duplicates();
    report(&format!(
        "crash test ({engine}): killed with {answered} deliveries answered and {held} in flight; \
         afterwards {} deliveries received for 110 activity-inbox pairs, {duplicates} \
         duplicates; {delivered} delivered and {failed} failed in the store",
        received.len()
    ));
    assert_eq!(failed, 0, "no delivery may fail");
    assert_eq!(delivered, 110, "55 inboxes x (Create + Announce)");
    for r in &received {
        assert!(expected.contains(&r.inbox), "unexpected inbox: {r:?}");
        assert!(r.signed, "unsigned delivery: {r:?}");
        match r.kind.as_str() {
            "Create" => assert_eq!(r.actor, alice, "{r:?}"),
            "Announce" => assert_eq!(r.actor, blog, "{r:?}"),
            _ => panic!("unexpected activity: {r:?}"),
        }
    }
    // One Create and one Announce, each with one id, fanned out.
    let ids: BTreeSet<(&str, &str)> = received
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");

    drop(server);
    drop(store);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_in_the_middle_of_the_fan_out_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_in_the_middle_of_the_fan_out(TestDatabase::sqlite(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_in_the_middle_of_the_fan_out_loses_nothing_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    crash_in_the_middle_of_the_fan_out(db).await;
}
