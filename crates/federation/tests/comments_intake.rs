#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Comments from the fediverse through the signed inbox: fake remote servers on
//! 127.0.0.1 serve actors and notes, signed activities go to our router, and the store
//! shows what became of them. Every test runs on SQLite, and on PostgreSQL when
//! `GLOSS_TEST_POSTGRES_URL` is set (security checklist P1-P13, F9, C1/C2/C5/C8, M1-M6).

#[macro_use]
mod support;

use gloss_federation::comments::FETCH_BUDGET;
use support::*;

// =======================================================================================
// Intake: where replies go, and how they are moderated
// =======================================================================================

async fn a_reply_to_a_post_is_published_when_moderation_is_open(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note(
        "1",
        "alice",
        &post_url(),
        "<p><span class=\"h-card\"><a href=\"http://blog.test/authors/ana\" class=\"u-url mention\">@<span>ana</span></a></span> Nice post!</p>",
    );
    s.post(&s.create(&note), "alice").await;
    let comment = s.comment(&note["id"]).await.expect("stored");
    assert_eq!(comment.post_id, s.post.id);
    assert_eq!(comment.parent_id, None);
    assert_eq!(comment.depth, 0);
    assert_eq!(comment.moderation, Moderation::Approved);
    assert_eq!(comment.visibility, Visibility::Public);
    assert_eq!(comment.author_name, "alice display");
    assert_eq!(
        comment.author_url.as_deref(),
        Some(s.remote.url("/@alice").as_str())
    );
    assert_eq!(comment.remote_actor_id, Some(s.actor_id("alice").await));
    assert_eq!(
        comment.url.as_deref(),
        Some(s.remote.url("/@alice/1").as_str())
    );
    assert_eq!(
        comment.in_reply_to_ap_id.as_deref(),
        Some(post_url().as_str())
    );
    assert!(comment.content_html.contains("class=\"u-url mention\""));
    assert!(comment.content_html.contains("Nice post!"));
    assert_eq!(
        comment.moderation_reason.as_deref(),
        Some("approved: moderation is open")
    );
    assert_eq!(s.public_comments().await.len(), 1);
    let history = s.store().moderation_history(comment.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].decided_by, ModerationDecider::Rules);

    // P6: the same activity again, and the same object in another activity: one comment.
    s.post(&s.create(&note), "alice").await;
    let mut again = s.create(&note);
    again["id"] = json!(s.remote.url("/activities/another-create"));
    s.post(&again, "alice").await;
    assert_eq!(s.all_comments().await.len(), 1);
    assert_eq!(
        s.store()
            .moderation_history(comment.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn first_time_moderation_holds_a_first_reply_until_approved(db: String) {
    let s = setup(&db, CommentsModeration::FirstTime).await;
    let first = s.note("1", "alice", &post_url(), "<p>First!</p>");
    s.post(&s.create(&first), "alice").await;
    let held = s.comment(&first["id"]).await.unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert!(
        held.moderation_reason
            .as_deref()
            .unwrap()
            .contains("first comment"),
        "{:?}",
        held.moderation_reason
    );
    assert!(s.public_comments().await.is_empty());
    assert_eq!(s.store().count_public_comments(s.post.id).await.unwrap(), 0);

    s.store()
        .set_comment_moderation_with_reason(
            held.id,
            Moderation::Approved,
            "approved",
            ModerationDecider::Rules,
            Utc::now(),
        )
        .await
        .unwrap();
    let second = s.note("2", "alice", &post_url(), "<p>Second</p>");
    s.post(&s.create(&second), "alice").await;
    assert_eq!(
        s.comment(&second["id"]).await.unwrap().moderation,
        Moderation::Approved
    );
    // Someone else's first reply still waits.
    let bob = s.note("3", "bob", &post_url(), "<p>Hi</p>");
    s.post(&s.create(&bob), "bob").await;
    assert_eq!(
        s.comment(&bob["id"]).await.unwrap().moderation,
        Moderation::Pending
    );
}

async fn all_moderation_and_the_link_rule_hold_replies(db: String) {
    let s = setup(&db, CommentsModeration::All).await;
    let note = s.note("1", "alice", &post_url(), "<p>Hi</p>");
    s.post(&s.create(&note), "alice").await;
    let held = s.comment(&note["id"]).await.unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert!(held.moderation_reason.unwrap().contains("moderation: all"));

    s.federation
        .set_comments_moderation(CommentsModeration::Open);
    let spam = s.note(
        "2",
        "bob",
        &post_url(),
        "<p><a href=\"https://a.example/\">a</a> <a href=\"https://b.example/\">b</a> <a href=\"https://c.example/\">c</a></p>",
    );
    s.post(&s.create(&spam), "bob").await;
    let held = s.comment(&spam["id"]).await.unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert!(held.moderation_reason.unwrap().contains("3 links"));
}

async fn a_burst_from_one_server_is_accepted_but_held(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    // Spread over the server's accounts, so that no one account makes a burst.
    let names = ["bob", "carol", "mallory", "alice"];
    for n in 0..31 {
        let name = names[n % names.len()];
        let note = s.note(&format!("b{n}"), name, &post_url(), "<p>again</p>");
        s.post(&s.create(&note), name).await;
        assert_eq!(
            s.comment(&note["id"]).await.unwrap().moderation,
            Moderation::Approved,
            "comment {n}"
        );
    }
    // More than 30 in the last minute from that server: the next ones wait (M3).
    let next = s.note("a", "alice", &post_url(), "<p>me too</p>");
    s.post(&s.create(&next), "alice").await;
    let held = s.comment(&next["id"]).await.unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert!(
        held.moderation_reason
            .unwrap()
            .contains("from the author's server")
    );
}

async fn a_reply_to_a_comment_is_nested_under_it(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let parent = s.note("1", "alice", &post_url(), "<p>Parent</p>");
    s.post(&s.create(&parent), "alice").await;
    let child = s.note("2", "bob", parent["id"].as_str().unwrap(), "<p>Child</p>");
    s.post(&s.create(&child), "bob").await;
    let grandchild = s.note("3", "alice", child["id"].as_str().unwrap(), "<p>More</p>");
    s.post(&s.create(&grandchild), "alice").await;

    let parent = s.comment(&parent["id"]).await.unwrap();
    let child = s.comment(&child["id"]).await.unwrap();
    let grandchild = s.comment(&grandchild["id"]).await.unwrap();
    assert_eq!(child.parent_id, Some(parent.id));
    assert_eq!(child.depth, 1);
    assert_eq!(grandchild.parent_id, Some(child.id));
    assert_eq!(grandchild.depth, 2);
    let order: Vec<_> = s.public_comments().await.iter().map(|c| c.id).collect();
    assert_eq!(order, vec![parent.id, child.id, grandchild.id]);
    assert_eq!(s.remote.gets_of("/notes/"), 0, "nothing needed fetching");
}

async fn a_reply_to_a_held_comment_is_held_too(db: String) {
    let s = setup(&db, CommentsModeration::FirstTime).await;
    let parent = s.note("1", "alice", &post_url(), "<p>First</p>");
    s.post(&s.create(&parent), "alice").await;
    let bob_id = {
        let warmup = s.note("0", "bob", &post_url(), "<p>Warm-up</p>");
        s.post(&s.create(&warmup), "bob").await;
        let warmup = s.comment(&warmup["id"]).await.unwrap();
        s.store()
            .set_comment_moderation(warmup.id, Moderation::Approved)
            .await
            .unwrap();
        warmup.remote_actor_id.unwrap()
    };
    assert_eq!(
        s.store()
            .count_approved_comments_by_actor(bob_id)
            .await
            .unwrap(),
        1
    );
    let child = s.note("2", "bob", parent["id"].as_str().unwrap(), "<p>Child</p>");
    s.post(&s.create(&child), "bob").await;
    let child = s.comment(&child["id"]).await.unwrap();
    assert_eq!(child.moderation, Moderation::Pending, "P9");
    assert!(child.moderation_reason.unwrap().contains("not shown"));
}

async fn replies_to_closed_or_missing_posts_are_refused(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let closed = s.note(
        "1",
        "alice",
        &format!("{OUR_BASE}/posts/closed"),
        "<p>Hi</p>",
    );
    s.post(&s.create(&closed), "alice").await;
    assert!(s.comment(&closed["id"]).await.is_none());
    let missing = s.note("2", "alice", &format!("{OUR_BASE}/posts/nope"), "<p>Hi</p>");
    s.post(&s.create(&missing), "alice").await;
    assert!(s.comment(&missing["id"]).await.is_none());
    let local = s.note("3", "alice", &format!("{OUR_BASE}/tags/x"), "<p>Hi</p>");
    s.post(&s.create(&local), "alice").await;
    assert!(s.comment(&local["id"]).await.is_none());
}

// =======================================================================================
// Threads: unknown ancestors (F9)
// =======================================================================================

async fn an_unknown_ancestor_is_fetched_from_its_origin(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    // carol replied to the post, but her reply never reached us.
    let carol = s.note("c1", "carol", &post_url(), "<p>Carol's</p>");
    s.remote.serve("/notes/c1", carol.clone());
    let reply = s.note(
        "a1",
        "alice",
        carol["id"].as_str().unwrap(),
        "<p>Alice's</p>",
    );
    s.post(&s.create(&reply), "alice").await;

    let carol = s.comment(&carol["id"]).await.expect("ancestor stored");
    let reply = s.comment(&reply["id"]).await.expect("reply stored");
    assert_eq!(carol.parent_id, None);
    assert_eq!(reply.parent_id, Some(carol.id));
    assert_eq!(reply.depth, 1);
    assert_eq!(carol.author_name, "carol display");
    assert_eq!(carol.remote_actor_id, Some(s.actor_id("carol").await));
    assert_eq!(s.remote.gets_of("/notes/c1"), 1);
}

async fn a_thread_that_never_reaches_our_post_is_not_stored(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    // A root note elsewhere (no inReplyTo), and a 404 ancestor.
    s.remote.serve(
        "/notes/root",
        json!({"id": s.remote.url("/notes/root"), "type": "Note",
               "attributedTo": s.remote.actor("carol"), "content": "root", "to": [PUBLIC]}),
    );
    let orphan = s.note("o1", "alice", &s.remote.url("/notes/root"), "<p>x</p>");
    s.post(&s.create(&orphan), "alice").await;
    let lost = s.note("o2", "alice", &s.remote.url("/notes/missing"), "<p>y</p>");
    s.post(&s.create(&lost), "alice").await;
    s.remote.serve_status("/notes/gone", 410);
    let gone = s.note("o3", "alice", &s.remote.url("/notes/gone"), "<p>z</p>");
    s.post(&s.create(&gone), "alice").await;
    // Not a reply at all.
    let mut standalone = s.note("o4", "alice", &post_url(), "<p>w</p>");
    standalone.as_object_mut().unwrap().remove("inReplyTo");
    s.post(&s.create(&standalone), "alice").await;

    assert!(s.all_comments().await.is_empty());
    for id in ["root", "o1", "o2", "o3", "o4"] {
        assert!(
            s.comment(&json!(s.remote.url(&format!("/notes/{id}"))))
                .await
                .is_none(),
            "{id}"
        );
    }
}

async fn a_cycle_and_a_60_deep_chain_stop_within_the_budget(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    // A cycle: x → y → x.
    s.remote.serve(
        "/notes/x",
        s.note("x", "carol", &s.remote.url("/notes/y"), "x"),
    );
    s.remote.serve(
        "/notes/y",
        s.note("y", "carol", &s.remote.url("/notes/x"), "y"),
    );
    let looped = s.note("l", "alice", &s.remote.url("/notes/x"), "<p>loop</p>");
    s.post(&s.create(&looped), "alice").await;
    assert!(s.all_comments().await.is_empty());
    assert_eq!(s.remote.gets_of("/notes/x"), 1);
    assert_eq!(s.remote.gets_of("/notes/y"), 1);

    // 60 ancestors: d0 → d1 → ... → d59 → our post.
    for n in 0..60 {
        let parent = if n == 59 {
            post_url()
        } else {
            s.remote.url(&format!("/notes/d{}", n + 1))
        };
        s.remote.serve(
            &format!("/notes/d{n}"),
            s.note(&format!("d{n}"), "carol", &parent, "deep"),
        );
    }
    let deep = s.note("deep", "alice", &s.remote.url("/notes/d0"), "<p>deep</p>");
    s.post(&s.create(&deep), "alice").await;
    assert!(s.all_comments().await.is_empty(), "not stored");
    let fetched = s.remote.gets_of("/notes/d");
    assert!(fetched <= FETCH_BUDGET, "{fetched} fetches");
    assert!(fetched >= FETCH_BUDGET - 2, "{fetched} fetches");

    // The same chain, 3 deep, is stored whole.
    for n in 0..3 {
        let parent = if n == 2 {
            post_url()
        } else {
            s.remote.url(&format!("/notes/s{}", n + 1))
        };
        s.remote.serve(
            &format!("/notes/s{n}"),
            s.note(&format!("s{n}"), "carol", &parent, "short"),
        );
    }
    let short = s.note("short", "alice", &s.remote.url("/notes/s0"), "<p>ok</p>");
    s.post(&s.create(&short), "alice").await;
    let stored = s.comment(&short["id"]).await.unwrap();
    assert_eq!(stored.depth, 3);
    assert_eq!(s.all_comments().await.len(), 4);
}

// =======================================================================================
// Lifecycle: Update and Delete (P1, P2, P4, P5, M6)
// =======================================================================================

async fn an_update_by_the_author_edits_and_keeps_the_revision(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Original</p>");
    s.post(&s.create(&note), "alice").await;
    let original = s.comment(&note["id"]).await.unwrap();

    let update = s.activity(
        "Update",
        "alice",
        "1",
        edited(&note, "<p>Edited</p>", "2024-05-01T11:00:00Z"),
    );
    s.post(&update, "alice").await;
    let comment = s.comment(&note["id"]).await.unwrap();
    assert_eq!(comment.content_html, "<p>Edited</p>");
    assert_eq!(comment.moderation, Moderation::Approved);
    let revisions = s.store().comment_revisions(original.id).await.unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].content_html, "<p>Original</p>");

    // P1: mallory (same server) edits alice's comment, claiming it or not.
    for (n, claimed) in [("2", "alice"), ("3", "mallory")] {
        let mut forged = edited(&note, "<p>Forged</p>", "2024-05-01T12:00:00Z");
        forged["attributedTo"] = json!(s.remote.actor(claimed));
        s.post(&s.activity("Update", "mallory", n, forged), "mallory")
            .await;
    }
    assert_eq!(
        s.comment(&note["id"]).await.unwrap().content_html,
        "<p>Edited</p>"
    );

    // M6: an edit goes through the rules again.
    let links = "<p><a href=\"https://a.example/\">a</a> <a href=\"https://b.example/\">b</a> <a href=\"https://c.example/\">c</a></p>";
    s.post(
        &s.activity(
            "Update",
            "alice",
            "4",
            edited(&note, links, "2024-05-01T13:00:00Z"),
        ),
        "alice",
    )
    .await;
    let comment = s.comment(&note["id"]).await.unwrap();
    assert_eq!(comment.moderation, Moderation::Pending);
    assert!(comment.moderation_reason.unwrap().contains("3 links"));
}

async fn an_update_before_the_create_is_taken_from_the_origin(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>From the origin</p>");
    s.remote.serve("/notes/1", note.clone());
    // The embedded copy says something else: only the origin's copy counts.
    let update = s.activity(
        "Update",
        "alice",
        "1",
        edited(&note, "<p>Embedded</p>", "2024-05-01T11:00:00Z"),
    );
    s.post(&update, "alice").await;
    let comment = s
        .comment(&note["id"])
        .await
        .expect("stored as a Create (P4)");
    assert_eq!(comment.content_html, "<p>From the origin</p>");
    assert_eq!(s.remote.gets_of("/notes/1"), 1);
}

async fn a_delete_leaves_a_tombstone_that_a_replayed_create_cannot_pass(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Soon gone</p>");
    let create = s.create(&note);
    s.post(&create, "alice").await;

    // P2: mallory cannot delete alice's comment.
    s.post(
        &s.activity(
            "Delete",
            "mallory",
            "1",
            json!({"id": note["id"], "type": "Tombstone"}),
        ),
        "mallory",
    )
    .await;
    assert!(s.comment(&note["id"]).await.unwrap().deleted_at.is_none());

    s.post(
        &s.activity(
            "Delete",
            "alice",
            "1",
            json!({"id": note["id"], "type": "Tombstone"}),
        ),
        "alice",
    )
    .await;
    let deleted = s.comment(&note["id"]).await.unwrap();
    assert!(deleted.deleted_at.is_some());
    assert!(!deleted.content_html.contains("Soon gone"));
    assert!(s.public_comments().await.iter().all(|c| !c.is_public()));
    assert_eq!(s.store().count_public_comments(s.post.id).await.unwrap(), 0);

    // P5: the Create replayed, or sent again under a new id, changes nothing.
    s.post(&create, "alice").await;
    let mut again = create.clone();
    again["id"] = json!(s.remote.url("/activities/recreate"));
    s.post(&again, "alice").await;
    let still = s.comment(&note["id"]).await.unwrap();
    assert!(still.deleted_at.is_some());
    assert!(!still.content_html.contains("Soon gone"));
}

async fn a_delete_before_the_create_keeps_the_object_out(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Never</p>");
    // A bare URI, as some servers send.
    s.post(
        &s.activity("Delete", "alice", "1", note["id"].clone()),
        "alice",
    )
    .await;
    assert!(
        s.store()
            .tombstone_exists(note["id"].as_str().unwrap())
            .await
            .unwrap()
    );
    s.post(&s.create(&note), "alice").await;
    assert!(s.comment(&note["id"]).await.is_none(), "P5");
    // An Update arriving after the Delete is no way in either.
    s.remote.serve("/notes/1", note.clone());
    s.post(
        &s.activity(
            "Update",
            "alice",
            "1",
            edited(&note, "x", "2024-06-01T00:00:00Z"),
        ),
        "alice",
    )
    .await;
    assert!(s.comment(&note["id"]).await.is_none());
}

async fn remote_updates_and_deletes_of_our_post_are_refused(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let forged = json!({"id": post_url(), "type": "Note", "attributedTo": s.remote.actor("mallory"),
                        "content": "pwned", "to": [PUBLIC]});
    s.post(
        &s.activity("Update", "mallory", "1", forged.clone()),
        "mallory",
    )
    .await;
    s.post(
        &s.activity("Delete", "mallory", "1", json!(post_url())),
        "mallory",
    )
    .await;
    s.post(&s.activity("Create", "mallory", "1", forged), "mallory")
        .await;
    let post = s.store().post_by_id(s.post.id).await.unwrap().unwrap();
    assert_eq!(post.status, PostStatus::Published);
    assert_eq!(post.content_html, "<p>Hi</p>");
    assert!(s.all_comments().await.is_empty());
    assert!(!s.store().tombstone_exists(&post_url()).await.unwrap());
    assert_eq!(s.remote.gets_of("/notes/"), 0);
}

async fn a_deleted_actor_loses_its_comments_and_an_updated_one_its_old_name(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let alice = s.note("1", "alice", &post_url(), "<p>A</p>");
    s.post(&s.create(&alice), "alice").await;
    let bob = s.note("2", "bob", &post_url(), "<p>B</p>");
    s.post(&s.create(&bob), "bob").await;

    s.remote
        .names
        .lock()
        .unwrap()
        .insert("bob".into(), "Bob Renamed".into());
    let person = json!({"id": s.remote.actor("bob"), "type": "Person", "name": "ignored"});
    s.post(&s.activity("Update", "bob", "1", person), "bob")
        .await;
    assert_eq!(
        s.comment(&bob["id"]).await.unwrap().author_name,
        "Bob Renamed"
    );

    let delete = s.activity("Delete", "alice", "me", json!(s.remote.actor("alice")));
    s.post(&delete, "alice").await;
    assert!(s.comment(&alice["id"]).await.unwrap().deleted_at.is_some());
    assert!(s.comment(&bob["id"]).await.unwrap().deleted_at.is_none());
}

// =======================================================================================
// Visibility (P8)
// =======================================================================================

async fn followers_only_and_direct_replies_are_kept_private(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let followers = format!("{}/followers", s.remote.actor("alice"));
    let ana = format!("{OUR_BASE}/authors/ana");
    let mut private = s.note("f", "alice", &post_url(), "<p>Followers only</p>");
    private["to"] = json!([followers]);
    private["cc"] = json!([ana]);
    let mut direct = s.note("d", "alice", &post_url(), "<p>Direct</p>");
    direct["to"] = json!([ana]);
    direct["cc"] = json!([]);
    let mut unlisted = s.note("u", "alice", &post_url(), "<p>Unlisted</p>");
    unlisted["to"] = json!([followers]);
    unlisted["cc"] = json!(["as:Public"]);
    let mut aliased = s.note("p", "alice", &post_url(), "<p>Public alias</p>");
    aliased["to"] = json!("Public");
    for note in [&private, &direct, &unlisted, &aliased] {
        s.post(&s.create(note), "alice").await;
    }
    let visibility = |c: Option<Comment>| c.unwrap().visibility;
    assert_eq!(
        visibility(s.comment(&private["id"]).await),
        Visibility::Followers
    );
    assert_eq!(
        visibility(s.comment(&direct["id"]).await),
        Visibility::Direct
    );
    assert_eq!(
        visibility(s.comment(&unlisted["id"]).await),
        Visibility::Unlisted
    );
    assert_eq!(
        visibility(s.comment(&aliased["id"]).await),
        Visibility::Public
    );
    let shown: Vec<String> = s
        .public_comments()
        .await
        .into_iter()
        .filter_map(|c| c.ap_id)
        .collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        !shown
            .iter()
            .any(|id| id.ends_with("/f") || id.ends_with("/d"))
    );
    assert_eq!(s.store().count_public_comments(s.post.id).await.unwrap(), 2);
    assert_eq!(s.store().count_private_comments().await.unwrap(), 2);
    let replies = s.get_json("/posts/hello/replies").await;
    assert_eq!(replies["totalItems"], 2);
    let listed = replies["orderedItems"].to_string();
    assert!(
        !listed.contains("/notes/f") && !listed.contains("/notes/d"),
        "{listed}"
    );
}

// =======================================================================================
// Likes, boosts and their Undo (P7, P13)
// =======================================================================================

async fn likes_and_boosts_are_counted_and_undone_only_by_their_actor(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Comment</p>");
    s.post(&s.create(&note), "alice").await;
    let comment = s.comment(&note["id"]).await.unwrap();

    let like = s.activity("Like", "bob", "1", json!(post_url()));
    s.post(&like, "bob").await;
    s.post(&like, "bob").await;
    // P13: a boost embedding a forged copy of the object counts by id only.
    let boost = s.activity(
        "Announce",
        "carol",
        "1",
        json!({"id": note["id"], "type": "Note", "attributedTo": s.remote.actor("carol"),
               "content": "<p>forged</p>"}),
    );
    s.post(&boost, "carol").await;
    // GoToSocial: a bare URI; and the post's URL in another spelling (P10).
    s.post(
        &s.activity(
            "Like",
            "alice",
            "2",
            json!(format!("{OUR_BASE}/posts/hello/?utm_source=x")),
        ),
        "alice",
    )
    .await;
    s.post(
        &s.activity("Like", "carol", "3", note["id"].clone()),
        "carol",
    )
    .await;

    let counts = s.store().reaction_counts_for_post(s.post.id).await.unwrap();
    assert_eq!(counts.post.likes, 2);
    let comment_after = s.comment(&note["id"]).await.unwrap();
    assert_eq!(comment_after.like_count, 1);
    assert_eq!(comment_after.announce_count, 1);
    assert_eq!(comment_after.content_html, comment.content_html, "P13");

    // P7: mallory cannot undo bob's like, embedded or by id.
    let mut forged_undo = s.activity("Undo", "mallory", "1", like.clone());
    s.post(&forged_undo, "mallory").await;
    forged_undo["id"] = json!(s.remote.url("/activities/undo-by-id"));
    forged_undo["object"] = like["id"].clone();
    s.post(&forged_undo, "mallory").await;
    let mut foreign_like = like.clone();
    foreign_like["actor"] = json!(s.remote.actor("mallory"));
    s.post(&s.activity("Undo", "mallory", "2", foreign_like), "mallory")
        .await;
    assert_eq!(
        s.store()
            .reaction_counts_for_post(s.post.id)
            .await
            .unwrap()
            .post
            .likes,
        2
    );

    s.post(&s.activity("Undo", "bob", "1", like.clone()), "bob")
        .await;
    s.post(
        &s.activity("Undo", "carol", "1", boost["id"].clone()),
        "carol",
    )
    .await;
    let counts = s.store().reaction_counts_for_post(s.post.id).await.unwrap();
    assert_eq!(counts.post.likes, 1);
    assert_eq!(s.comment(&note["id"]).await.unwrap().announce_count, 0);
    // The undone like, delivered again, is not counted again.
    s.post(&like, "bob").await;
    assert_eq!(
        s.store()
            .reaction_counts_for_post(s.post.id)
            .await
            .unwrap()
            .post
            .likes,
        1
    );
    assert_eq!(s.remote.gets_of("/notes/"), 0, "nothing fetched");
}

// =======================================================================================
// Reports (P12)
// =======================================================================================

async fn reports_are_recorded_for_the_admin_and_rate_limited(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    for n in 0..8 {
        let mut flag = s.activity(
            "Flag",
            "mallory",
            &n.to_string(),
            json!([post_url(), s.remote.actor("alice")]),
        );
        flag["content"] = json!("Spam <b>here</b>\u{0}");
        s.post(&flag, "mallory").await;
    }
    let flags = s.store().open_flags(Page::number(1, 50)).await.unwrap();
    assert_eq!(flags.len(), 5, "rate-limited");
    assert_eq!(flags[0].content, "Spam <b>here</b>");
    assert_eq!(flags[0].object_ap_ids.len(), 2);
    // Nothing acted on its own.
    let post = s.store().post_by_id(s.post.id).await.unwrap().unwrap();
    assert_eq!(post.status, PostStatus::Published);
}

// =======================================================================================
// Forged authorship (P3) and our URLs in disguise (P10)
// =======================================================================================

async fn an_object_the_sender_may_not_vouch_for_is_refetched_or_dropped(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    // mallory delivers a "reply by alice": the origin does not know it → dropped.
    let forged = s.note("forged", "alice", &post_url(), "<p>forged</p>");
    let mut create = s.create(&forged);
    create["actor"] = json!(s.remote.actor("mallory"));
    create["id"] = json!(s.remote.url("/activities/forged"));
    s.post(&create, "mallory").await;
    assert!(s.comment(&forged["id"]).await.is_none());
    assert_eq!(s.remote.gets_of("/notes/forged"), 1, "refetched");

    // mallory forwards alice's real reply with altered content: the origin's copy wins,
    // under alice's name.
    let genuine = s.note("real", "alice", &post_url(), "<p>genuine</p>");
    s.remote.serve("/notes/real", genuine.clone());
    let mut tampered = genuine.clone();
    tampered["content"] = json!("<p>tampered</p>");
    let mut forward = s.create(&tampered);
    forward["actor"] = json!(s.remote.actor("mallory"));
    forward["id"] = json!(s.remote.url("/activities/forward"));
    s.post(&forward, "mallory").await;
    let stored = s.comment(&genuine["id"]).await.expect("refetched");
    assert_eq!(stored.content_html, "<p>genuine</p>");
    assert_eq!(stored.remote_actor_id, Some(s.actor_id("alice").await));

    // An object on another server, attributed to the sender: refetched from that server,
    // which does not have it → dropped.
    let other = spawn_remote().await;
    let mut elsewhere = s.note("x", "mallory", &post_url(), "<p>elsewhere</p>");
    elsewhere["id"] = json!(other.url("/notes/x"));
    let mut create = s.create(&elsewhere);
    create["id"] = json!(s.remote.url("/activities/elsewhere"));
    s.post(&create, "mallory").await;
    assert!(s.comment(&elsewhere["id"]).await.is_none());
    assert_eq!(other.gets_of("/notes/x"), 1);
    // Served there, but attributed to someone on our fake server: still refused.
    other.serve("/notes/x", elsewhere.clone());
    let mut again = s.create(&elsewhere);
    again["id"] = json!(s.remote.url("/activities/again"));
    s.post(&again, "mallory").await;
    assert!(s.comment(&elsewhere["id"]).await.is_none());
}

async fn in_reply_to_our_post_in_any_spelling_lands_on_the_post(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    for (n, target) in [
        "http://blog.test/posts/hello",
        "https://blog.test/posts/hello",
        "http://blog.test/posts/hello/",
        "http://blog.test/posts/hello?utm_source=mastodon",
        "http://BLOG.test/posts/hello#comments",
    ]
    .iter()
    .enumerate()
    {
        let note = s.note(&format!("v{n}"), "alice", target, "<p>hi</p>");
        s.post(&s.create(&note), "alice").await;
        let comment = s
            .comment(&note["id"])
            .await
            .unwrap_or_else(|| panic!("{target}"));
        assert_eq!(comment.post_id, s.post.id, "{target}");
        assert_eq!(comment.parent_id, None, "{target}");
    }
    assert_eq!(s.remote.all_gets(), 1, "only alice's actor was fetched");
}

// =======================================================================================
// Hostile content (C1, C2, C5, C8)
// =======================================================================================

async fn hostile_content_is_sanitized_before_it_is_stored(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let hostile = "<p>ok<script>alert(1)</script><img src=x onerror=alert(2)>\
        <a href=\"javascript:alert(3)\">js</a><a href=\"JaVaScRiPt&#x3A;alert(4)\">js2</a>\
        <a href=\"data:text/html,x\">data</a><svg onload=alert(5)></svg><iframe src=x></iframe>\
        <math><mtext><table><mglyph><style><img src=x onerror=alert(6)></style></mglyph></table></mtext></math>\
        <a href=\"https://fine.example/\" onclick=\"x\">fine</a>\u{0}</p>";
    let mut note = s.note("1", "alice", &post_url(), hostile);
    note["summary"] = json!("CW: &lt;script&gt; <b>x</b>\u{0}");
    note["sensitive"] = json!(true);
    note["attachment"] = json!([
        {"type": "Image", "mediaType": "image/png", "url": "https://media.example/1.png", "name": "alt \u{0}<i>text</i>"},
        {"type": "Image", "url": "javascript:alert(1)"},
        {"type": "Document", "url": "https://media.example/2.png"},
        {"type": "Document", "url": "https://media.example/3.png"},
        {"type": "Document", "url": "https://media.example/4.png"},
        {"type": "Document", "url": "https://media.example/5.png"},
    ]);
    s.post(&s.create(&note), "alice").await;
    let comment = s.comment(&note["id"]).await.unwrap();
    let html = comment.content_html.to_ascii_lowercase();
    for forbidden in [
        "<script",
        "onerror",
        "onload",
        "onclick",
        "javascript",
        "data:",
        "<svg",
        "<iframe",
        "<img",
        "<style",
        "<math",
        "\u{0}",
    ] {
        assert!(!html.contains(forbidden), "{forbidden} in {html}");
    }
    assert!(
        html.contains("rel=\"nofollow noopener noreferrer ugc\""),
        "{html}"
    );
    assert_eq!(
        comment.summary.as_deref(),
        Some("CW: &lt;script&gt; <b>x</b>")
    );
    assert!(comment.sensitive);
    assert_eq!(comment.attachments.len(), 4);
    assert_eq!(
        comment.attachments[0].name.as_deref(),
        Some("alt <i>text</i>")
    );
    assert!(
        comment
            .attachments
            .iter()
            .all(|a| a.url.starts_with("https://"))
    );

    // C5: 900 KB of nested tags (the inbox takes 1 MB) is cut before sanitizing.
    let huge = s.note("2", "alice", &post_url(), &"<b>".repeat(300_000));
    s.post(&s.create(&huge), "alice").await;
    let comment = s.comment(&huge["id"]).await.unwrap();
    assert!(comment.content_html.len() <= 64 * 1024);
}

// =======================================================================================
// Blocks (M4) and the collections we serve
// =======================================================================================

async fn blocked_domains_and_actors_are_refused_before_any_fetch(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    s.store()
        .add_block(
            BlockKind::Actor,
            &s.remote.actor("mallory"),
            "spam",
            Utc::now(),
        )
        .await
        .unwrap();
    let note = s.note("1", "mallory", &post_url(), "<p>spam</p>");
    s.post(&s.create(&note), "mallory").await;
    assert!(s.comment(&note["id"]).await.is_none());
    s.post(
        &s.activity("Like", "mallory", "1", json!(post_url())),
        "mallory",
    )
    .await;
    assert_eq!(
        s.store()
            .reaction_counts_for_post(s.post.id)
            .await
            .unwrap()
            .post
            .likes,
        0
    );

    let before = s.remote.all_gets();
    s.store()
        .add_block(BlockKind::Domain, "127.0.0.1", "all of it", Utc::now())
        .await
        .unwrap();
    let note = s.note("2", "bob", &post_url(), "<p>hi</p>");
    let status = s.post_from(&s.remote, &s.create(&note), "bob").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.remote.all_gets(), before, "no fetch for a blocked domain");
    assert!(s.comment(&note["id"]).await.is_none());
}

async fn the_replies_and_context_collections_list_the_public_thread(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let empty = s.get_json("/posts/hello/replies").await;
    assert_eq!(empty["totalItems"], 0);
    assert_eq!(empty["orderedItems"], json!([]));

    let top = s.note("1", "alice", &post_url(), "<p>top</p>");
    s.post(&s.create(&top), "alice").await;
    let nested = s.note("2", "bob", top["id"].as_str().unwrap(), "<p>nested</p>");
    s.post(&s.create(&nested), "bob").await;
    let mut private = s.note("3", "bob", &post_url(), "<p>private</p>");
    private["to"] = json!([format!("{OUR_BASE}/authors/ana")]);
    private["cc"] = json!([]);
    s.post(&s.create(&private), "bob").await;
    let held = s.note(
        "4",
        "carol",
        &post_url(),
        "<p><a href=\"https://a.example/\">1</a><a href=\"https://b.example/\">2</a><a href=\"https://c.example/\">3</a></p>",
    );
    s.post(&s.create(&held), "carol").await;

    let replies = s.get_json("/posts/hello/replies").await;
    assert_eq!(replies["type"], "OrderedCollection");
    assert_eq!(replies["id"], format!("{OUR_BASE}/posts/hello/replies"));
    assert_eq!(replies["totalItems"], 1);
    assert_eq!(replies["orderedItems"], json!([top["id"]]));

    let context = s.get_json("/posts/hello/context").await;
    assert_eq!(context["totalItems"], 3);
    assert_eq!(
        context["orderedItems"],
        json!([post_url(), top["id"], nested["id"]])
    );
    assert_eq!(context["attributedTo"], format!("{OUR_BASE}/authors/ana"));
    let page = s.get_json("/posts/hello/context?page=1").await;
    assert_eq!(page["type"], "OrderedCollectionPage");
    assert_eq!(page["orderedItems"], context["orderedItems"]);
}

on_both_engines! {
    a_reply_to_a_post_is_published_when_moderation_is_open =>
        sqlite_a_reply_to_a_post_is_published_when_moderation_is_open,
        postgres_a_reply_to_a_post_is_published_when_moderation_is_open;
    first_time_moderation_holds_a_first_reply_until_approved =>
        sqlite_first_time_moderation_holds_a_first_reply_until_approved,
        postgres_first_time_moderation_holds_a_first_reply_until_approved;
    all_moderation_and_the_link_rule_hold_replies =>
        sqlite_all_moderation_and_the_link_rule_hold_replies,
        postgres_all_moderation_and_the_link_rule_hold_replies;
    a_burst_from_one_server_is_accepted_but_held =>
        sqlite_a_burst_from_one_server_is_accepted_but_held,
        postgres_a_burst_from_one_server_is_accepted_but_held;
    a_reply_to_a_comment_is_nested_under_it =>
        sqlite_a_reply_to_a_comment_is_nested_under_it,
        postgres_a_reply_to_a_comment_is_nested_under_it;
    a_reply_to_a_held_comment_is_held_too =>
        sqlite_a_reply_to_a_held_comment_is_held_too,
        postgres_a_reply_to_a_held_comment_is_held_too;
    replies_to_closed_or_missing_posts_are_refused =>
        sqlite_replies_to_closed_or_missing_posts_are_refused,
        postgres_replies_to_closed_or_missing_posts_are_refused;
    an_unknown_ancestor_is_fetched_from_its_origin =>
        sqlite_an_unknown_ancestor_is_fetched_from_its_origin,
        postgres_an_unknown_ancestor_is_fetched_from_its_origin;
    a_thread_that_never_reaches_our_post_is_not_stored =>
        sqlite_a_thread_that_never_reaches_our_post_is_not_stored,
        postgres_a_thread_that_never_reaches_our_post_is_not_stored;
    a_cycle_and_a_60_deep_chain_stop_within_the_budget =>
        sqlite_a_cycle_and_a_60_deep_chain_stop_within_the_budget,
        postgres_a_cycle_and_a_60_deep_chain_stop_within_the_budget;
    an_update_by_the_author_edits_and_keeps_the_revision =>
        sqlite_an_update_by_the_author_edits_and_keeps_the_revision,
        postgres_an_update_by_the_author_edits_and_keeps_the_revision;
    an_update_before_the_create_is_taken_from_the_origin =>
        sqlite_an_update_before_the_create_is_taken_from_the_origin,
        postgres_an_update_before_the_create_is_taken_from_the_origin;
    a_delete_leaves_a_tombstone_that_a_replayed_create_cannot_pass =>
        sqlite_a_delete_leaves_a_tombstone_that_a_replayed_create_cannot_pass,
        postgres_a_delete_leaves_a_tombstone_that_a_replayed_create_cannot_pass;
    a_delete_before_the_create_keeps_the_object_out =>
        sqlite_a_delete_before_the_create_keeps_the_object_out,
        postgres_a_delete_before_the_create_keeps_the_object_out;
    remote_updates_and_deletes_of_our_post_are_refused =>
        sqlite_remote_updates_and_deletes_of_our_post_are_refused,
        postgres_remote_updates_and_deletes_of_our_post_are_refused;
    a_deleted_actor_loses_its_comments_and_an_updated_one_its_old_name =>
        sqlite_a_deleted_actor_loses_its_comments_and_an_updated_one_its_old_name,
        postgres_a_deleted_actor_loses_its_comments_and_an_updated_one_its_old_name;
    followers_only_and_direct_replies_are_kept_private =>
        sqlite_followers_only_and_direct_replies_are_kept_private,
        postgres_followers_only_and_direct_replies_are_kept_private;
    likes_and_boosts_are_counted_and_undone_only_by_their_actor =>
        sqlite_likes_and_boosts_are_counted_and_undone_only_by_their_actor,
        postgres_likes_and_boosts_are_counted_and_undone_only_by_their_actor;
    reports_are_recorded_for_the_admin_and_rate_limited =>
        sqlite_reports_are_recorded_for_the_admin_and_rate_limited,
        postgres_reports_are_recorded_for_the_admin_and_rate_limited;
    an_object_the_sender_may_not_vouch_for_is_refetched_or_dropped =>
        sqlite_an_object_the_sender_may_not_vouch_for_is_refetched_or_dropped,
        postgres_an_object_the_sender_may_not_vouch_for_is_refetched_or_dropped;
    in_reply_to_our_post_in_any_spelling_lands_on_the_post =>
        sqlite_in_reply_to_our_post_in_any_spelling_lands_on_the_post,
        postgres_in_reply_to_our_post_in_any_spelling_lands_on_the_post;
    hostile_content_is_sanitized_before_it_is_stored =>
        sqlite_hostile_content_is_sanitized_before_it_is_stored,
        postgres_hostile_content_is_sanitized_before_it_is_stored;
    blocked_domains_and_actors_are_refused_before_any_fetch =>
        sqlite_blocked_domains_and_actors_are_refused_before_any_fetch,
        postgres_blocked_domains_and_actors_are_refused_before_any_fetch;
    the_replies_and_context_collections_list_the_public_thread =>
        sqlite_the_replies_and_context_collections_list_the_public_thread,
        postgres_the_replies_and_context_collections_list_the_public_thread;
}

// =======================================================================================
// Durability: 202 only after the commit
// =======================================================================================

#[tokio::test]
async fn a_storage_failure_answers_503_and_the_retry_is_handled() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}/t.db", dir.path().display());
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Hi</p>");
    let create = s.create(&note);
    // Warm up: alice's actor is stored.
    s.post(
        &s.activity("Like", "alice", "0", json!(post_url())),
        "alice",
    )
    .await;

    let mut raw = sqlx::SqliteConnection::connect(&db).await.unwrap();
    sqlx::raw_sql("ALTER TABLE moderation_log RENAME TO moderation_log_away")
        .execute(&mut raw)
        .await
        .unwrap();
    let status = s.post_from(&s.remote, &create, "alice").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    sqlx::raw_sql("ALTER TABLE moderation_log_away RENAME TO moderation_log")
        .execute(&mut raw)
        .await
        .unwrap();
    assert!(
        s.comment(&note["id"]).await.is_none(),
        "nothing half-written"
    );

    // The sender's retry is not taken for a duplicate.
    s.post(&create, "alice").await;
    assert!(s.comment(&note["id"]).await.is_some());
}

// =======================================================================================
// Moderation rules M2, M5, M6 and closing comments after N days
// =======================================================================================

async fn set_keywords(s: &Setup, keywords: &[&str]) {
    let settings = s.store().blog_settings().await.unwrap();
    s.store()
        .update_blog_settings(&gloss_storage::BlogSettings {
            disallowed_keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            ..settings
        })
        .await
        .unwrap();
}

async fn m5_a_disallowed_keyword_marks_a_reply_spam_until_approved(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    set_keywords(&s, &["casino", "cheap pills"]).await;

    // In the text, any case: spam, never public, the rule named.
    let text = s.note(
        "1",
        "alice",
        &post_url(),
        "<p>Best <b>CASINO</b> in town</p>",
    );
    s.post(&s.create(&text), "alice").await;
    let spam = s.comment(&text["id"]).await.unwrap();
    assert_eq!(spam.moderation, Moderation::Spam);
    assert_eq!(
        spam.moderation_reason.as_deref(),
        Some("spam: keyword \"casino\"")
    );
    assert!(s.public_comments().await.is_empty());
    let history = s.store().moderation_history(spam.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|entry| entry.reason.contains("keyword \"casino\"")),
        "{history:?}"
    );

    // In the content warning too.
    let mut warned = s.note("cw", "alice", &post_url(), "<p>Behind a warning</p>");
    warned["summary"] = json!("Casino tips");
    s.post(&s.create(&warned), "alice").await;
    assert_eq!(
        s.comment(&warned["id"]).await.unwrap().moderation,
        Moderation::Spam
    );

    // Only the text counts, not the markup: a link to casino.example is fine.
    let markup = s.note(
        "2",
        "alice",
        &post_url(),
        "<p>See <a href=\"https://casino.example/\">this</a></p>",
    );
    s.post(&s.create(&markup), "alice").await;
    assert_eq!(
        s.comment(&markup["id"]).await.unwrap().moderation,
        Moderation::Approved
    );

    // In the author's display name.
    s.remote
        .names
        .lock()
        .unwrap()
        .insert("bob".into(), "Cheap Pills Bob".into());
    let named = s.note("3", "bob", &post_url(), "<p>Hello</p>");
    s.post(&s.create(&named), "bob").await;
    let spam = s.comment(&named["id"]).await.unwrap();
    assert_eq!(spam.moderation, Moderation::Spam);
    assert!(
        spam.moderation_reason.unwrap().contains("cheap pills"),
        "the reason names the rule"
    );

    // A false positive is restored by approving it.
    let first = s.comment(&text["id"]).await.unwrap();
    s.store()
        .set_comment_moderation_with_reason(
            first.id,
            Moderation::Approved,
            "approved by the author",
            ModerationDecider::Author(s.post.author_id),
            Utc::now(),
        )
        .await
        .unwrap();
    assert!(
        s.public_comments()
            .await
            .iter()
            .any(|comment| comment.id == first.id)
    );
}

async fn m6_an_approved_reply_edited_to_carry_a_keyword_becomes_spam(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    set_keywords(&s, &["casino"]).await;
    let note = s.note("1", "alice", &post_url(), "<p>Nice post</p>");
    s.post(&s.create(&note), "alice").await;
    assert_eq!(
        s.comment(&note["id"]).await.unwrap().moderation,
        Moderation::Approved
    );
    let update = s.activity(
        "Update",
        "alice",
        "1",
        edited(
            &note,
            "<p>Now with casino bonuses</p>",
            "2024-05-01T11:00:00Z",
        ),
    );
    s.post(&update, "alice").await;
    let comment = s.comment(&note["id"]).await.unwrap();
    assert_eq!(comment.moderation, Moderation::Spam);
    assert!(comment.moderation_reason.unwrap().contains("casino"));
    assert!(s.public_comments().await.is_empty());
}

async fn m2_new_accounts_and_bots_are_held_even_when_moderation_is_open(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let days_ago = |days: i64| (Utc::now() - chrono::TimeDelta::days(days)).to_rfc3339();
    {
        let mut extras = s.remote.actor_extras.lock().unwrap();
        extras.insert("mallory".into(), json!({"published": days_ago(3)}));
        extras.insert(
            "carol".into(),
            json!({"type": "Service", "published": "2019-01-01T00:00:00Z"}),
        );
        extras.insert("bob".into(), json!({"published": days_ago(400)}));
        // alice sends a date nobody can read: unknown age, not held for it.
        extras.insert("alice".into(), json!({"published": "last spring"}));
    }

    let young = s.note("1", "mallory", &post_url(), "<p>Hi</p>");
    s.post(&s.create(&young), "mallory").await;
    let held = s.comment(&young["id"]).await.unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert!(
        held.moderation_reason.unwrap().contains("3 days old"),
        "the reason says why"
    );

    let bot = s.note("2", "carol", &post_url(), "<p>Beep</p>");
    s.post(&s.create(&bot), "carol").await;
    let held = s.comment(&bot["id"]).await.unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert!(held.moderation_reason.unwrap().contains("bot"));

    for (n, name) in [("3", "bob"), ("4", "alice")] {
        let note = s.note(n, name, &post_url(), "<p>Hello</p>");
        s.post(&s.create(&note), name).await;
        assert_eq!(
            s.comment(&note["id"]).await.unwrap().moderation,
            Moderation::Approved,
            "{name}"
        );
    }
    let stored = s
        .store()
        .remote_actor_published(s.actor_id("bob").await)
        .await
        .unwrap();
    assert!(stored.is_some_and(|at| Utc::now() - at > chrono::TimeDelta::days(399)));
    assert_eq!(
        s.store()
            .remote_actor_published(s.actor_id("alice").await)
            .await
            .unwrap(),
        None
    );
}

async fn replies_to_a_post_older_than_the_closing_age_are_refused(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let old = s
        .store()
        .create_post(
            PostDraft {
                author_id: s.post.author_id,
                title: "Old".into(),
                slug: "old".into(),
                source: "Old".into(),
                content_html: "<p>Old</p>".into(),
                summary: None,
                tags: vec![],
                status: PostStatus::Published,
                origin: PostOrigin::Local,
                published_at: Utc::now() - chrono::TimeDelta::days(40),
                import_key: None,
            },
            Vec::new(),
        )
        .await
        .unwrap();
    let old_url = format!("{OUR_BASE}/posts/old");

    // Unset: comments never close by age.
    let before = s.note("1", "alice", &old_url, "<p>Still open</p>");
    s.post(&s.create(&before), "alice").await;
    assert!(s.comment(&before["id"]).await.is_some());

    s.federation.set_comments_close_after_days(30);
    let after = s.note("2", "alice", &old_url, "<p>Too late</p>");
    s.post(&s.create(&after), "alice").await;
    assert!(s.comment(&after["id"]).await.is_none(), "nothing stored");
    // A reply to a comment under the old post is refused too.
    let nested = s.note("3", "bob", before["id"].as_str().unwrap(), "<p>Re</p>");
    s.post(&s.create(&nested), "bob").await;
    assert!(s.comment(&nested["id"]).await.is_none());
    assert_eq!(
        s.store()
            .comments_for_post(old.id, CommentFilter::All)
            .await
            .unwrap()
            .len(),
        1
    );
    // A recent post still takes replies.
    let fresh = s.note("4", "alice", &post_url(), "<p>Fresh</p>");
    s.post(&s.create(&fresh), "alice").await;
    assert!(s.comment(&fresh["id"]).await.is_some());
}

on_both_engines! {
    m5_a_disallowed_keyword_marks_a_reply_spam_until_approved =>
        sqlite_m5_a_disallowed_keyword_marks_a_reply_spam_until_approved,
        postgres_m5_a_disallowed_keyword_marks_a_reply_spam_until_approved;
    m6_an_approved_reply_edited_to_carry_a_keyword_becomes_spam =>
        sqlite_m6_an_approved_reply_edited_to_carry_a_keyword_becomes_spam,
        postgres_m6_an_approved_reply_edited_to_carry_a_keyword_becomes_spam;
    m2_new_accounts_and_bots_are_held_even_when_moderation_is_open =>
        sqlite_m2_new_accounts_and_bots_are_held_even_when_moderation_is_open,
        postgres_m2_new_accounts_and_bots_are_held_even_when_moderation_is_open;
    replies_to_a_post_older_than_the_closing_age_are_refused =>
        sqlite_replies_to_a_post_older_than_the_closing_age_are_refused,
        postgres_replies_to_a_post_older_than_the_closing_age_are_refused;
}
