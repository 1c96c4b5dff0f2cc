//! Gloss against independent implementations over TLS, on the local network of
//! `../shared/interop/`: the Fedify peer follows the blog and an author, receives what
//! `gloss post publish` and `gloss post delete` send, and parses our actors and posts
//! strictly; the pasture probe checks that unsigned POSTs are refused, signed ones
//! accepted, and WebFinger round-trips.
//!
//! Each test runs its own Gloss as blog.test on a fresh database (one at a time: see
//! `gloss_tests::interop`). Without root or the network's tools they skip, unless
//! `GLOSS_TEST_REQUIRE_TOOLS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_tests::interop::{BLOG_ACTOR, BlogTest, FedifyPeer, Interop, Service, object_id};
use serde_json::Value;

const ACTIVITY_JSON: &str = "application/activity+json";

fn random_slug(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// The activity of a peer inbox entry.
fn activity(entry: &Value) -> &Value {
    &entry["activity"]
}

fn is(entry: &Value, kind: &str, actor: &str, object: &str) -> bool {
    entry["type"] == kind
        && activity(entry)["actor"] == actor
        && object_id(activity(entry)) == Some(object)
}

/// `totalItems` of one of our collections, fetched as ActivityStreams JSON.
async fn total_items(client: &reqwest::Client, url: &str) -> Value {
    let response = client
        .get(url)
        .header("Accept", ACTIVITY_JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let json: Value = response.json().await.unwrap();
    json["totalItems"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fedify_peer_follows_and_receives_create_update_and_delete() {
    let Some(net) = Interop::require(&[Service::Fedify]) else {
        return;
    };
    let blog = tokio::task::block_in_place(|| BlogTest::start(&net));
    let site = &blog.site;
    let alice = site.author_actor("alice");
    let https = net.https_client();
    let peer = FedifyPeer::new();
    // The peer's inbox outlives Gloss instances: only what arrives from now on counts.
    let since = peer.inbox().await.len();

    // The peer resolves both handles with WebFinger, follows, and gets an Accept from each.
    peer.follow("@blog@blog.test").await;
    let accept = peer
        .wait_for(since, "an Accept from the blog", |e| {
            e["type"] == "Accept" && activity(e)["actor"] == BLOG_ACTOR
        })
        .await;
    eprintln!("Accept from the blog: {accept:#}");
    peer.follow("@alice@blog.test").await;
    peer.wait_for(since, "an Accept from alice", |e| {
        e["type"] == "Accept" && activity(e)["actor"] == alice.as_str()
    })
    .await;
    assert_eq!(
        total_items(&https, &format!("{BLOG_ACTOR}/followers")).await,
        1
    );
    assert_eq!(total_items(&https, &format!("{alice}/followers")).await, 1);

    // Publishing: Create(Note) from the author, Announce(Note) from the blog.
    let slug = random_slug("fedify");
    let url = tokio::task::block_in_place(|| {
        site.publish(
            &slug,
            "Hello, fediverse",
            "alice",
            "The first version, marker-one.",
        )
    });
    let create = peer
        .wait_for(since, "Create(Note) from alice", |e| {
            is(e, "Create", &alice, &url)
        })
        .await;
    let note = &activity(&create)["object"];
    eprintln!("Create: {create:#}");
    assert_eq!(note["type"], "Note", "{note:#}");
    assert_eq!(note["attributedTo"], alice.as_str(), "{note:#}");
    assert!(note["published"].is_string(), "{note:#}");
    assert!(
        note["content"]
            .as_str()
            .is_some_and(|c| c.contains("marker-one")),
        "{note:#}"
    );
    peer.wait_for(since, "Announce(Note) from the blog", |e| {
        is(e, "Announce", BLOG_ACTOR, &url)
    })
    .await;

    // Editing: Update(Note) carrying `updated` and the new text.
    tokio::task::block_in_place(|| {
        site.publish(
            &slug,
            "Hello, fediverse",
            "alice",
            "The second version, marker-two.",
        )
    });
    let update = peer
        .wait_for(since, "Update(Note) from alice", |e| {
            is(e, "Update", &alice, &url)
        })
        .await;
    let note = &activity(&update)["object"];
    eprintln!("Update: {update:#}");
    assert!(note["updated"].is_string(), "no `updated`: {note:#}");
    assert!(
        note["content"]
            .as_str()
            .is_some_and(|c| c.contains("marker-two")),
        "{note:#}"
    );

    // Deleting: Delete, then the permalink answers 410 (through nginx, over TLS).
    tokio::task::block_in_place(|| site.delete(&slug));
    peer.wait_for(since, "Delete from alice", |e| {
        is(e, "Delete", &alice, &url)
    })
    .await;
    let page = https.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 410, "HTML permalink after the deletion");
    let json = https
        .get(&url)
        .header("Accept", ACTIVITY_JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 410, "JSON permalink after the deletion");
    let tombstone: Value = json.json().await.unwrap();
    assert_eq!(tombstone["type"], "Tombstone", "{tombstone:#}");
    assert_eq!(tombstone["id"], url.as_str(), "{tombstone:#}");

    // Following both the blog and the author: the post and one boost, never more; one
    // Update and one Delete (both follows share the peer's shared inbox). The peer only
    // records activities whose signatures Fedify verified.
    let inbox = peer.inbox().await;
    let new = &inbox[since..];
    for (kind, actor, expected) in [
        ("Create", alice.as_str(), 1),
        ("Announce", BLOG_ACTOR, 1),
        ("Update", alice.as_str(), 1),
        ("Delete", alice.as_str(), 1),
    ] {
        let count = new.iter().filter(|e| is(e, kind, actor, &url)).count();
        assert_eq!(
            count, expected,
            "{kind} from {actor} received {count} times"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_parses_the_blog_an_author_and_a_post_strictly() {
    let Some(net) = Interop::require(&[Service::Fedify]) else {
        return;
    };
    let blog = tokio::task::block_in_place(|| BlogTest::start(&net));
    let slug = random_slug("lookup");
    let url = tokio::task::block_in_place(|| {
        blog.site.publish(
            &slug,
            "Looked up by Fedify",
            "alice",
            "A post with a [link](https://example.org/) and a #hashtag.",
        )
    });
    let alice = blog.site.author_actor("alice");
    for (target, expected) in [
        ("@blog@blog.test", format!("id: {BLOG_ACTOR}")),
        ("@alice@blog.test", format!("id: {alice}")),
        (url.as_str(), format!("type: Note id: {url}")),
    ] {
        let (ok, output) = tokio::task::block_in_place(|| net.fedify_lookup(target));
        assert!(ok, "fedify/lookup.sh {target} failed:\n{output}");
        assert!(
            output.contains(&expected),
            "fedify/lookup.sh {target} did not print {expected:?}:\n{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pasture_probe_sees_signed_posts_accepted_unsigned_refused_and_webfinger_round_trip() {
    let Some(net) = Interop::require(&[Service::Pasture]) else {
        return;
    };
    let blog = tokio::task::block_in_place(|| BlogTest::start(&net));
    for actor in [BLOG_ACTOR.to_owned(), blog.site.author_actor("alice")] {
        let table = tokio::task::block_in_place(|| net.pasture_check(&actor));
        for name in ["alice", "bob", "claire", "dean", "emily", "frank"] {
            // Fetching the actor must work for everyone, or a refused POST proves nothing.
            assert_eq!(
                table[name]["get_actor"], true,
                "{name} on {actor}: {table:#}"
            );
        }
        for name in ["alice", "dean"] {
            assert_eq!(
                table[name]["post_inbox"], false,
                "{name}'s unsigned POST to {actor} was accepted: {table:#}"
            );
        }
        for name in ["bob", "claire", "emily", "frank"] {
            assert_eq!(
                table[name]["post_inbox"], true,
                "{name}'s signed POST to {actor} was refused: {table:#}"
            );
        }
        assert_eq!(
            table["webfinger"], true,
            "WebFinger does not round-trip for {actor}: {table:#}"
        );
    }
}
