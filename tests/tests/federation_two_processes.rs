//! Two `gloss serve` processes on one PostgreSQL database share the delivery queue: a post
//! published once reaches 200 follower inboxes (distinct, fake, on loopback), and no inbox
//! receives the same activity twice. Skipped without `GLOSS_TEST_POSTGRES_URL`.
//!
//! The followers follow both the author and the blog, so each inbox gets one Create and
//! one Announce: 400 deliveries for the two workers to compete over. The inboxes answer a
//! little slowly (50 ms), so both processes are busy at the same time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_storage::LocalActor;
use gloss_tests::TestDatabase;
use gloss_tests::interop::{
    FakeFollower, FakeInboxes, GlossSite, PATIENCE, register_followers, report, wait_until,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::task::block_in_place;

const FOLLOWERS: usize = 200;
const HOSTS: u8 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_deliver_each_activity_once_per_inbox() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = GlossSite::loopback(dir.path(), &db.url);
    let second = first.on_another_port();
    block_in_place(|| first.add_author("alice", "Alice Example"));

    let addresses: Vec<Ipv4Addr> = (1..=HOSTS).map(|i| Ipv4Addr::new(127, 0, 20, i)).collect();
    let inboxes = FakeInboxes::start(&addresses).await;
    let followers: Vec<FakeFollower> = (0..FOLLOWERS)
        .map(|n| {
            let base = &inboxes.bases()[n % inboxes.bases().len()];
            FakeFollower {
                ap_id: format!("{base}/users/{n}"),
                inbox: format!("{base}/users/{n}/inbox"),
                shared_inbox: None,
            }
        })
        .collect();
    let expected: BTreeSet<String> = followers.iter().map(|f| f.inbox.clone()).collect();
    assert_eq!(expected.len(), FOLLOWERS);

    let store = first.store().await;
    let author = store.author_by_username("alice").await.unwrap().unwrap();
    register_followers(
        store.as_ref(),
        &followers,
        &[LocalActor::Author(author.id), LocalActor::Blog],
    )
    .await;
    inboxes.set_delay(Duration::from_millis(50));

    let server_one = block_in_place(|| first.serve());
    let server_two = block_in_place(|| second.serve());
    let slug = format!("twice-{:08x}", rand::random::<u32>());
    let url =
        block_in_place(|| first.publish(&slug, "Two workers", "alice", "Sent once to each inbox."));

    wait_until(
        "every inbox to receive the Create and the Announce",
        PATIENCE,
        || async {
            let creates = inboxes.by_inbox("Create", &url);
            let announces = inboxes.by_inbox("Announce", &url);
            let missing = expected
                .iter()
                .filter(|i| !creates.contains_key(*i) || !announces.contains_key(*i))
                .count();
            if missing == 0 {
                Ok(())
            } else {
                Err(format!("{missing} inboxes still miss one of them"))
            }
        },
    )
    .await;
    // Once nothing is pending, nothing more will be sent: count then.
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
    let mut per_pair: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &received {
        assert!(expected.contains(&r.inbox), "unexpected inbox: {r:?}");
        assert!(r.signed, "unsigned delivery: {r:?}");
        *per_pair.entry((r.inbox.clone(), r.id.clone())).or_default() += 1;
    }
    let twice: Vec<_> = per_pair.iter().filter(|(_, n)| **n > 1).collect();
    report(&format!(
        "two processes: {} deliveries received, {} inbox-activity pairs, {} received more than \
         once; {delivered} delivered and {failed} failed in the store",
        received.len(),
        per_pair.len(),
        twice.len()
    ));
    // Which process sent how many (from their debug logs; shown, not asserted: how the
    // work splits depends on when each one polls).
    let sent_by = |server: &gloss_tests::Server| server.log().matches("delivered inbox=").count();
    report(&format!(
        "two processes: deliveries logged by the first process: {}, by the second: {}",
        sent_by(&server_one),
        sent_by(&server_two)
    ));
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    assert_eq!(per_pair.len(), 2 * FOLLOWERS);
    assert_eq!((delivered, failed), (2 * FOLLOWERS as i64, 0));

    drop(server_one);
    drop(server_two);
    drop(store);
    db.cleanup().await;
}
