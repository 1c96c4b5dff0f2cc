//! The storage conformance suite: every `Store` method, written once against
//! `Arc<dyn Store>` and run on both engines.
//!
//! Each test body below is an `async fn(Arc<dyn Store>)`; the `conformance!` list at the
//! end turns it into `sqlite_<name>` (always, on a fresh database file in a temporary
//! directory) and `postgres_<name>` (when `GLOSS_TEST_POSTGRES_URL` names an admin
//! connection, e.g. `postgres://postgres@127.0.0.1:5432/postgres`; each test then creates
//! its own `gloss_test_<hex>` database and drops it afterwards, so tests run in parallel).
//! The harness lives in `support/`; the federation methods have their half of the suite
//! in `federation.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use gloss_storage::{
    Author, AuthorId, BlogSettings, Comment, CommentFilter, CommentId, CommentOrigin, Error,
    ImportAuthor, ImportBatch, ImportComment, ImportPost, ImportReport, Moderation, NewComment,
    NoteContent, Page, Post, PostId, PostOrigin, PostStatus, Session, SiteCounts, Store, Tag,
    TagCount,
};
use std::sync::Arc;

#[macro_use]
mod support;

use support::{assert_recent, at, author, draft, new_author, post, tag, tags};

// ---------------------------------------------------------------------------------------
// data
// ---------------------------------------------------------------------------------------

fn new_comment(
    post: PostId,
    parent: Option<CommentId>,
    name: &str,
    minutes: i64,
    moderation: Moderation,
) -> NewComment {
    NewComment {
        post_id: post,
        parent_id: parent,
        author_name: name.to_owned(),
        author_url: Some(format!("https://example.com/{name}")),
        author_avatar_url: None,
        author_email: Some(format!("{name}@example.com")),
        content_html: format!("<p>{name} says hi</p>"),
        origin: CommentOrigin::Local,
        moderation,
        ap_id: None,
        published_at: at(minutes),
        import_key: None,
        moderation_reason: None,
    }
}

async fn comment(
    store: &dyn Store,
    post: PostId,
    parent: Option<CommentId>,
    name: &str,
    minutes: i64,
) -> Comment {
    store
        .add_comment(new_comment(
            post,
            parent,
            name,
            minutes,
            Moderation::Approved,
        ))
        .await
        .unwrap()
}

fn slugs(posts: &[Post]) -> Vec<&str> {
    posts.iter().map(|post| post.slug.as_str()).collect()
}

fn names(comments: &[Comment]) -> Vec<&str> {
    comments
        .iter()
        .map(|comment| comment.author_name.as_str())
        .collect()
}

fn tag_names(post: &Post) -> Vec<&str> {
    post.tags.iter().map(|tag| tag.name.as_str()).collect()
}

// ---------------------------------------------------------------------------------------
// authors
// ---------------------------------------------------------------------------------------

async fn authors_are_created_and_found_case_insensitively(store: Arc<dyn Store>) {
    assert_eq!(store.count_authors().await.unwrap(), 0);
    assert!(store.list_authors().await.unwrap().is_empty());

    let before = Utc::now();
    let mut admin = new_author("Alice", Some("hash-a"));
    admin.is_admin = true;
    let alice = store.create_author(admin).await.unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.display_name, "Alice Example");
    assert_eq!(alice.bio, "");
    assert_eq!(alice.avatar_url, None);
    assert!(alice.is_admin);
    assert_recent(alice.created_at, before);
    let bob = author(&*store, "bob").await;
    assert!(!bob.is_admin);
    assert_ne!(alice.id, bob.id);

    assert_eq!(
        store.author_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.author_by_username("ALICE").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.author_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.author_by_id(AuthorId(999_999)).await.unwrap(), None);
    assert_eq!(store.author_by_username("carol").await.unwrap(), None);
    assert_eq!(store.list_authors().await.unwrap(), vec![alice, bob]);
    assert_eq!(store.count_authors().await.unwrap(), 2);
}

async fn authors_duplicate_username_conflicts(store: Arc<dyn Store>) {
    author(&*store, "bob").await;
    let again = store.create_author(new_author("BOB", None)).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(store.count_authors().await.unwrap(), 1);
}

async fn authors_credentials_and_password_changes(store: Arc<dyn Store>) {
    let alice = store
        .create_author(new_author("alice", Some("hash-1")))
        .await
        .unwrap();
    assert_eq!(
        store.author_credentials("Alice").await.unwrap(),
        Some((alice.clone(), "hash-1".to_owned()))
    );
    store.set_author_password(alice.id, "hash-2").await.unwrap();
    assert_eq!(
        store.author_credentials("alice").await.unwrap(),
        Some((alice.clone(), "hash-2".to_owned()))
    );

    // An author without a password hash (imported) cannot log in until given one.
    let ghost = store
        .create_author(new_author("ghost", None))
        .await
        .unwrap();
    assert_eq!(store.author_credentials("ghost").await.unwrap(), None);
    store.set_author_password(ghost.id, "hash-g").await.unwrap();
    assert_eq!(
        store.author_credentials("ghost").await.unwrap(),
        Some((ghost, "hash-g".to_owned()))
    );

    assert_eq!(store.author_credentials("nobody").await.unwrap(), None);
    let missing = store.set_author_password(AuthorId(999_999), "x").await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

async fn authors_profile_updates(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let updated = store
        .update_author_profile(
            alice.id,
            "Alice Liddell",
            "Writes about rabbits.",
            Some("https://example.com/alice.png"),
        )
        .await
        .unwrap();
    assert_eq!(
        updated,
        Author {
            display_name: "Alice Liddell".to_owned(),
            bio: "Writes about rabbits.".to_owned(),
            avatar_url: Some("https://example.com/alice.png".to_owned()),
            ..alice.clone()
        }
    );
    assert_eq!(store.author_by_id(alice.id).await.unwrap(), Some(updated));

    let cleared = store
        .update_author_profile(alice.id, "Alice", "", None)
        .await
        .unwrap();
    assert_eq!(cleared.avatar_url, None);
    assert_eq!(store.author_by_id(alice.id).await.unwrap(), Some(cleared));

    let missing = store
        .update_author_profile(AuthorId(999_999), "x", "", None)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

// ---------------------------------------------------------------------------------------
// posts
// ---------------------------------------------------------------------------------------

async fn posts_are_created_and_read_back(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    // Microseconds survive the round trip on both engines.
    let published_at = at(0) + Duration::microseconds(123_456);
    let before = Utc::now();
    let created = store
        .create_post(
            draft(
                alice.id,
                "hello-world",
                PostStatus::Published,
                published_at,
                // The second "zeta" has the same slug as "Zeta" and is dropped.
                &["Zeta", "alpha", "Mid", "zeta"],
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(created.author_id, alice.id);
    assert_eq!(created.title, "Title of hello-world");
    assert_eq!(created.slug, "hello-world");
    assert_eq!(created.source, "Source of *hello-world*");
    assert_eq!(
        created.content_html,
        "<p>Source of <em>hello-world</em></p>"
    );
    assert_eq!(created.summary.as_deref(), Some("Summary of hello-world"));
    assert_eq!(tag_names(&created), ["Zeta", "alpha", "Mid"]);
    assert_eq!(created.status, PostStatus::Published);
    assert_eq!(created.origin, PostOrigin::Local);
    assert!(created.comments_open);
    assert_eq!(created.published_at, published_at);
    assert_eq!(created.updated_at, None);
    assert_recent(created.created_at, before);

    assert_eq!(
        store.post_by_id(created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.post_by_slug("hello-world").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.post_by_id(PostId(999_999)).await.unwrap(), None);
    assert_eq!(store.post_by_slug("no-such-post").await.unwrap(), None);

    let mut untagged = draft(alice.id, "untagged", PostStatus::Draft, at(1), &[]);
    untagged.summary = None;
    let untagged = store.create_post(untagged, Vec::new()).await.unwrap();
    assert!(untagged.tags.is_empty());
    assert_eq!(untagged.summary, None);
    assert_eq!(untagged.status, PostStatus::Draft);
    assert_eq!(store.post_by_id(untagged.id).await.unwrap(), Some(untagged));
}

async fn posts_slug_conflicts_include_deleted_posts(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let first = post(&*store, alice.id, "taken", 0).await;
    let again = store
        .create_post(
            draft(alice.id, "taken", PostStatus::Draft, at(1), &[]),
            Vec::new(),
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    store.delete_post(first.id, Vec::new()).await.unwrap();
    let after_delete = store
        .create_post(
            draft(alice.id, "taken", PostStatus::Published, at(2), &[]),
            Vec::new(),
        )
        .await;
    assert!(
        matches!(after_delete, Err(Error::Conflict(_))),
        "{after_delete:?}"
    );
    assert_eq!(
        store.post_by_slug("taken").await.unwrap().map(|p| p.id),
        Some(first.id)
    );
}

async fn posts_update_of_a_published_post_sets_updated_at(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let bob = author(&*store, "bob").await;
    let original = store
        .create_post(
            draft(alice.id, "first", PostStatus::Published, at(0), &["A", "B"]),
            Vec::new(),
        )
        .await
        .unwrap();

    let before = Utc::now();
    let mut edit = draft(
        bob.id,
        "first-renamed",
        PostStatus::Published,
        at(500),
        &["C", "A"],
    );
    edit.title = "New title".to_owned();
    edit.summary = None;
    let updated = store
        .update_post(original.id, edit, Vec::new())
        .await
        .unwrap();
    assert_eq!(updated.id, original.id);
    assert_eq!(updated.author_id, bob.id);
    assert_eq!(updated.title, "New title");
    assert_eq!(updated.slug, "first-renamed");
    assert_eq!(updated.summary, None);
    assert_eq!(tag_names(&updated), ["C", "A"]);
    assert_eq!(updated.status, PostStatus::Published);
    // Kept from the first publication, whatever the draft says.
    assert_eq!(updated.published_at, at(0));
    let first_update = updated.updated_at.expect("updated_at is set");
    assert_recent(first_update, before);
    assert_eq!(updated.created_at, original.created_at);
    assert_eq!(
        store.post_by_id(original.id).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(store.post_by_slug("first").await.unwrap(), None);

    // The old tag stays known but no longer lists the post.
    assert_eq!(store.tag_by_slug("b").await.unwrap(), Some(tag("B")));
    assert!(
        store
            .published_posts_with_tag("b", Page::number(1, 10))
            .await
            .unwrap()
            .is_empty()
    );

    let again = store
        .update_post(
            original.id,
            draft(bob.id, "first-renamed", PostStatus::Published, at(0), &[]),
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(again.updated_at.expect("still set") >= first_update);
    assert!(again.tags.is_empty());
    assert_eq!(again.published_at, at(0));
}

async fn posts_update_from_draft_to_published_takes_the_new_date(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let created = store
        .create_post(
            draft(alice.id, "wip", PostStatus::Draft, at(0), &["x"]),
            Vec::new(),
        )
        .await
        .unwrap();

    // A draft that stays a draft takes the draft's date and is not "updated".
    let still_draft = store
        .update_post(
            created.id,
            draft(alice.id, "wip", PostStatus::Draft, at(10), &["x"]),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(still_draft.published_at, at(10));
    assert_eq!(still_draft.updated_at, None);

    let published = store
        .update_post(
            created.id,
            draft(alice.id, "wip", PostStatus::Published, at(20), &["x"]),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(published.status, PostStatus::Published);
    assert_eq!(published.published_at, at(20));
    assert_eq!(published.updated_at, None);
    assert_eq!(
        store.post_by_id(created.id).await.unwrap(),
        Some(published.clone())
    );

    // Unpublishing keeps the date of the publication.
    let unpublished = store
        .update_post(
            created.id,
            draft(alice.id, "wip", PostStatus::Draft, at(30), &["x"]),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(unpublished.status, PostStatus::Draft);
    assert_eq!(unpublished.published_at, at(20));
    assert_eq!(unpublished.updated_at, None);
}

async fn posts_update_to_a_taken_slug_conflicts(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    post(&*store, alice.id, "one", 0).await;
    let two = store
        .create_post(
            draft(alice.id, "two", PostStatus::Published, at(1), &["t"]),
            Vec::new(),
        )
        .await
        .unwrap();
    let clash = store
        .update_post(
            two.id,
            draft(alice.id, "one", PostStatus::Published, at(1), &["other"]),
            Vec::new(),
        )
        .await;
    assert!(matches!(clash, Err(Error::Conflict(_))), "{clash:?}");
    assert_eq!(store.post_by_id(two.id).await.unwrap(), Some(two));

    let missing = store
        .update_post(
            PostId(999_999),
            draft(alice.id, "three", PostStatus::Draft, at(2), &[]),
            Vec::new(),
        )
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    assert_eq!(store.post_by_slug("three").await.unwrap(), None);
}

async fn posts_delete_leaves_a_tombstone(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let kept = post(&*store, alice.id, "kept", 0).await;
    let gone = store
        .create_post(
            draft(alice.id, "gone", PostStatus::Published, at(1), &["Doomed"]),
            Vec::new(),
        )
        .await
        .unwrap();
    store.delete_post(gone.id, Vec::new()).await.unwrap();

    let tombstone = store.post_by_slug("gone").await.unwrap().unwrap();
    assert_eq!(tombstone.status, PostStatus::Deleted);
    assert_eq!(tombstone.title, gone.title);
    assert_eq!(store.post_by_id(gone.id).await.unwrap(), Some(tombstone));

    let page = Page::number(1, 10);
    assert_eq!(slugs(&store.published_posts(page).await.unwrap()), ["kept"]);
    assert_eq!(store.count_published_posts().await.unwrap(), 1);
    assert_eq!(slugs(&store.all_posts(page).await.unwrap()), ["kept"]);
    assert!(
        store
            .published_posts_with_tag("doomed", page)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .count_published_posts_by_author(alice.id)
            .await
            .unwrap(),
        1
    );
    assert!(store.tags_in_use().await.unwrap().is_empty());

    // Deleting twice is harmless; deleting nothing is an error.
    store.delete_post(gone.id, Vec::new()).await.unwrap();
    let missing = store.delete_post(PostId(999_999), Vec::new()).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    assert_eq!(
        store.post_by_id(kept.id).await.unwrap().unwrap().status,
        PostStatus::Published
    );
}

async fn posts_published_listing_is_newest_first_in_pages(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    // Created out of order; the listing follows published_at.
    for (slug, minutes) in [("p3", 30), ("p1", 10), ("p5", 50), ("p2", 20), ("p4", 40)] {
        store
            .create_post(
                draft(
                    alice.id,
                    slug,
                    PostStatus::Published,
                    at(minutes),
                    &[&format!("tag-{slug}"), "all"],
                ),
                Vec::new(),
            )
            .await
            .unwrap();
    }
    store
        .create_post(
            draft(alice.id, "draft", PostStatus::Draft, at(60), &[]),
            Vec::new(),
        )
        .await
        .unwrap();
    let deleted = post(&*store, alice.id, "deleted", 70).await;
    store.delete_post(deleted.id, Vec::new()).await.unwrap();

    let first = store.published_posts(Page::number(1, 2)).await.unwrap();
    assert_eq!(slugs(&first), ["p5", "p4"]);
    // Each post of a listing carries its own tags, in order.
    assert_eq!(tag_names(&first[0]), ["tag-p5", "all"]);
    assert_eq!(tag_names(&first[1]), ["tag-p4", "all"]);
    assert_eq!(
        slugs(&store.published_posts(Page::number(2, 2)).await.unwrap()),
        ["p3", "p2"]
    );
    assert_eq!(
        slugs(&store.published_posts(Page::number(3, 2)).await.unwrap()),
        ["p1"]
    );
    assert!(
        store
            .published_posts(Page::number(4, 2))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        slugs(
            &store
                .published_posts(Page {
                    limit: 3,
                    offset: 1
                })
                .await
                .unwrap()
        ),
        ["p4", "p3", "p2"]
    );
    assert_eq!(store.count_published_posts().await.unwrap(), 5);

    // Equal dates: the later post (higher id) first.
    post(&*store, alice.id, "tie-a", 100).await;
    post(&*store, alice.id, "tie-b", 100).await;
    assert_eq!(
        slugs(&store.published_posts(Page::number(1, 2)).await.unwrap()),
        ["tie-b", "tie-a"]
    );
}

async fn posts_listed_by_tag(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    for (slug, status, minutes, names) in [
        ("r1", PostStatus::Published, 10, &["Rust"][..]),
        ("r2", PostStatus::Published, 20, &["Misc", "Rust"][..]),
        ("r3", PostStatus::Draft, 30, &["Rust"][..]),
        ("other", PostStatus::Published, 40, &["Misc"][..]),
    ] {
        store
            .create_post(
                draft(alice.id, slug, status, at(minutes), names),
                Vec::new(),
            )
            .await
            .unwrap();
    }
    let page = Page::number(1, 10);
    let rust = store.published_posts_with_tag("rust", page).await.unwrap();
    assert_eq!(slugs(&rust), ["r2", "r1"]);
    assert_eq!(tag_names(&rust[0]), ["Misc", "Rust"]);
    assert_eq!(
        store.count_published_posts_with_tag("rust").await.unwrap(),
        2
    );
    assert_eq!(
        slugs(
            &store
                .published_posts_with_tag(
                    "rust",
                    Page {
                        limit: 1,
                        offset: 1
                    }
                )
                .await
                .unwrap()
        ),
        ["r1"]
    );
    assert_eq!(
        slugs(&store.published_posts_with_tag("misc", page).await.unwrap()),
        ["other", "r2"]
    );
    assert_eq!(
        store.count_published_posts_with_tag("misc").await.unwrap(),
        2
    );
    assert!(
        store
            .published_posts_with_tag("unknown", page)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .count_published_posts_with_tag("unknown")
            .await
            .unwrap(),
        0
    );
}

async fn posts_listed_by_author(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let bob = author(&*store, "bob").await;
    post(&*store, alice.id, "a1", 10).await;
    post(&*store, bob.id, "b1", 15).await;
    post(&*store, alice.id, "a2", 20).await;
    store
        .create_post(
            draft(alice.id, "a-draft", PostStatus::Draft, at(30), &[]),
            Vec::new(),
        )
        .await
        .unwrap();

    let page = Page::number(1, 10);
    assert_eq!(
        slugs(
            &store
                .published_posts_by_author(alice.id, page)
                .await
                .unwrap()
        ),
        ["a2", "a1"]
    );
    assert_eq!(
        slugs(
            &store
                .published_posts_by_author(alice.id, Page::number(2, 1))
                .await
                .unwrap()
        ),
        ["a1"]
    );
    assert_eq!(
        store
            .count_published_posts_by_author(alice.id)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        slugs(&store.published_posts_by_author(bob.id, page).await.unwrap()),
        ["b1"]
    );
    assert_eq!(
        store.count_published_posts_by_author(bob.id).await.unwrap(),
        1
    );
    assert_eq!(
        store
            .count_published_posts_by_author(AuthorId(999_999))
            .await
            .unwrap(),
        0
    );
}

async fn posts_all_posts_lists_drafts_and_published_by_creation(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    // published_at deliberately disagrees with the creation order.
    post(&*store, alice.id, "a", 40).await;
    let b = store
        .create_post(
            draft(alice.id, "b", PostStatus::Draft, at(10), &["T"]),
            Vec::new(),
        )
        .await
        .unwrap();
    let c = post(&*store, alice.id, "c", 30).await;
    store.delete_post(c.id, Vec::new()).await.unwrap();
    post(&*store, alice.id, "d", 20).await;

    let all = store.all_posts(Page::number(1, 10)).await.unwrap();
    assert_eq!(slugs(&all), ["d", "b", "a"]);
    assert_eq!(all[1], b);
    assert_eq!(
        slugs(&store.all_posts(Page::number(1, 2)).await.unwrap()),
        ["d", "b"]
    );
    assert_eq!(
        slugs(&store.all_posts(Page::number(2, 2)).await.unwrap()),
        ["a"]
    );
}

async fn tags_in_use_count_published_posts_by_name(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    for (slug, status, names) in [
        ("p1", PostStatus::Published, &["Web", "Rust"][..]),
        ("p2", PostStatus::Published, &["Rust", "apple"][..]),
        ("p3", PostStatus::Draft, &["Drafty", "Rust"][..]),
        ("p4", PostStatus::Published, &["Gone"][..]),
    ] {
        store
            .create_post(draft(alice.id, slug, status, at(0), names), Vec::new())
            .await
            .unwrap();
    }
    let p4 = store.post_by_slug("p4").await.unwrap().unwrap();
    store.delete_post(p4.id, Vec::new()).await.unwrap();

    let expected = vec![
        TagCount {
            tag: tag("apple"),
            posts: 1,
        },
        TagCount {
            tag: tag("Rust"),
            posts: 2,
        },
        TagCount {
            tag: tag("Web"),
            posts: 1,
        },
    ];
    assert_eq!(store.tags_in_use().await.unwrap(), expected);

    // Tags used only by drafts or deleted posts are still known by slug.
    assert_eq!(
        store.tag_by_slug("drafty").await.unwrap(),
        Some(tag("Drafty"))
    );
    assert_eq!(store.tag_by_slug("gone").await.unwrap(), Some(tag("Gone")));
    assert_eq!(store.tag_by_slug("rust").await.unwrap(), Some(tag("Rust")));
    assert_eq!(store.tag_by_slug("nope").await.unwrap(), None);

    // The display form last written wins, for every post carrying the tag.
    let p2 = store.post_by_slug("p2").await.unwrap().unwrap();
    let renamed = vec![Tag {
        slug: "rust".to_owned(),
        name: "RUST".to_owned(),
    }];
    let mut edit = draft(alice.id, "p2", PostStatus::Published, at(0), &[]);
    edit.tags = renamed.clone();
    store.update_post(p2.id, edit, Vec::new()).await.unwrap();
    assert_eq!(
        store.tag_by_slug("rust").await.unwrap(),
        renamed.first().cloned()
    );
    let p1 = store.post_by_slug("p1").await.unwrap().unwrap();
    assert_eq!(tag_names(&p1), ["Web", "RUST"]);
}

// ---------------------------------------------------------------------------------------
// comments
// ---------------------------------------------------------------------------------------

async fn comments_take_their_depth_from_the_parent(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let post = post(&*store, alice.id, "talk", 0).await;
    let mut first = new_comment(post.id, None, "ann", 10, Moderation::Approved);
    first.origin = CommentOrigin::Fediverse;
    first.ap_id = Some("https://social.example/notes/1".to_owned());
    first.author_avatar_url = Some("https://social.example/ann.png".to_owned());
    first.published_at = at(10) + Duration::microseconds(654_321);
    let top = store.add_comment(first).await.unwrap();
    assert_eq!(top.post_id, post.id);
    assert_eq!(top.parent_id, None);
    assert_eq!(top.depth, 0);
    assert_eq!(top.author_name, "ann");
    assert_eq!(top.author_url.as_deref(), Some("https://example.com/ann"));
    assert_eq!(
        top.author_avatar_url.as_deref(),
        Some("https://social.example/ann.png")
    );
    assert_eq!(top.content_html, "<p>ann says hi</p>");
    assert_eq!(top.origin, CommentOrigin::Fediverse);
    assert_eq!(top.moderation, Moderation::Approved);
    assert_eq!(top.ap_id.as_deref(), Some("https://social.example/notes/1"));
    assert_eq!(top.published_at, at(10) + Duration::microseconds(654_321));
    assert_eq!(top.updated_at, None);
    assert_eq!(top.deleted_at, None);

    let reply = comment(&*store, post.id, Some(top.id), "ben", 11).await;
    assert_eq!(reply.parent_id, Some(top.id));
    assert_eq!(reply.depth, 1);
    let deeper = comment(&*store, post.id, Some(reply.id), "cat", 12).await;
    assert_eq!(deeper.depth, 2);

    assert_eq!(store.comment_by_id(top.id).await.unwrap(), Some(top));
    assert_eq!(store.comment_by_id(deeper.id).await.unwrap(), Some(deeper));
    assert_eq!(store.comment_by_id(CommentId(999_999)).await.unwrap(), None);

    // The ActivityPub id is unique: receiving the same note twice is a conflict.
    let mut duplicate = new_comment(post.id, None, "dup", 13, Moderation::Approved);
    duplicate.ap_id = Some("https://social.example/notes/1".to_owned());
    let duplicate = store.add_comment(duplicate).await;
    assert!(
        matches!(duplicate, Err(Error::Conflict(_))),
        "{duplicate:?}"
    );
}

async fn comments_reject_a_parent_elsewhere(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let one = post(&*store, alice.id, "one", 0).await;
    let two = post(&*store, alice.id, "two", 1).await;
    let on_one = comment(&*store, one.id, None, "ann", 10).await;

    let cross = store
        .add_comment(new_comment(
            two.id,
            Some(on_one.id),
            "ben",
            11,
            Moderation::Approved,
        ))
        .await;
    assert!(matches!(cross, Err(Error::Invalid(_))), "{cross:?}");
    let orphan = store
        .add_comment(new_comment(
            two.id,
            Some(CommentId(999_999)),
            "cat",
            12,
            Moderation::Approved,
        ))
        .await;
    assert!(matches!(orphan, Err(Error::Invalid(_))), "{orphan:?}");
    let nowhere = store
        .add_comment(new_comment(
            PostId(999_999),
            None,
            "dan",
            13,
            Moderation::Approved,
        ))
        .await;
    assert!(matches!(nowhere, Err(Error::NotFound(_))), "{nowhere:?}");

    assert!(
        store
            .comments_for_post(two.id, CommentFilter::All)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .comments_for_post(one.id, CommentFilter::All)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn comments_come_in_thread_order(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let elsewhere = post(&*store, alice.id, "elsewhere", 0).await;
    comment(&*store, elsewhere.id, None, "other-post", 5).await;

    let a = comment(&*store, talk.id, None, "A", 10).await;
    let b = comment(&*store, talk.id, None, "B", 20).await;
    let a1 = comment(&*store, talk.id, Some(a.id), "A.1", 30).await;
    comment(&*store, talk.id, Some(a1.id), "A.1.a", 40).await;
    // Added last but older than A.1: siblings go by date, not by insertion.
    comment(&*store, talk.id, Some(a.id), "A.0", 25).await;
    comment(&*store, talk.id, Some(a.id), "A.2", 35).await;
    // Same date: the first added comes first.
    comment(&*store, talk.id, Some(b.id), "B.1", 50).await;
    comment(&*store, talk.id, Some(b.id), "B.2", 50).await;

    let thread = store
        .comments_for_post(talk.id, CommentFilter::All)
        .await
        .unwrap();
    assert_eq!(
        names(&thread),
        ["A", "A.0", "A.1", "A.1.a", "A.2", "B", "B.1", "B.2"]
    );
    let depths: Vec<i32> = thread.iter().map(|comment| comment.depth).collect();
    assert_eq!(depths, [0, 1, 1, 2, 1, 0, 1, 1]);
    assert_eq!(
        store
            .comments_for_post(talk.id, CommentFilter::Public)
            .await
            .unwrap(),
        thread
    );
}

async fn comments_filters_and_public_count(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let a = comment(&*store, talk.id, None, "A", 10).await;
    store
        .add_comment(new_comment(
            talk.id,
            Some(a.id),
            "A.1-pending",
            11,
            Moderation::Pending,
        ))
        .await
        .unwrap();
    store
        .add_comment(new_comment(talk.id, None, "B-spam", 20, Moderation::Spam))
        .await
        .unwrap();
    store
        .add_comment(new_comment(
            talk.id,
            None,
            "C-hidden",
            30,
            Moderation::Hidden,
        ))
        .await
        .unwrap();
    let d = comment(&*store, talk.id, None, "D-deleted", 40).await;
    comment(&*store, talk.id, Some(d.id), "D.1", 41).await;
    store.delete_comment(d.id).await.unwrap();

    let public = store
        .comments_for_post(talk.id, CommentFilter::Public)
        .await
        .unwrap();
    assert_eq!(names(&public), ["A", "D-deleted", "D.1"]);
    assert_eq!(public[1].content_html, "");
    assert!(public[1].deleted_at.is_some());
    assert!(!public[1].is_public());
    assert_eq!(
        names(
            &store
                .comments_for_post(talk.id, CommentFilter::All)
                .await
                .unwrap()
        ),
        ["A", "A.1-pending", "B-spam", "C-hidden", "D-deleted", "D.1"]
    );
    assert_eq!(
        names(
            &store
                .comments_for_post(talk.id, CommentFilter::Pending)
                .await
                .unwrap()
        ),
        ["A.1-pending"]
    );
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 2);
    assert_eq!(
        store.count_public_comments(PostId(999_999)).await.unwrap(),
        0
    );
}

async fn comments_recent_are_newest_first(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let one = post(&*store, alice.id, "one", 0).await;
    let two = post(&*store, alice.id, "two", 0).await;
    comment(&*store, one.id, None, "c10", 10).await;
    comment(&*store, two.id, None, "c20", 20).await;
    store
        .add_comment(new_comment(one.id, None, "p30", 30, Moderation::Pending))
        .await
        .unwrap();
    comment(&*store, two.id, None, "c40", 40).await;
    store
        .add_comment(new_comment(two.id, None, "s50", 50, Moderation::Spam))
        .await
        .unwrap();

    assert_eq!(
        names(
            &store
                .recent_comments(CommentFilter::All, Page::number(1, 3))
                .await
                .unwrap()
        ),
        ["s50", "c40", "p30"]
    );
    assert_eq!(
        names(
            &store
                .recent_comments(CommentFilter::All, Page::number(2, 3))
                .await
                .unwrap()
        ),
        ["c20", "c10"]
    );
    assert_eq!(
        names(
            &store
                .recent_comments(CommentFilter::Public, Page::number(1, 10))
                .await
                .unwrap()
        ),
        ["c40", "c20", "c10"]
    );
    assert_eq!(
        names(
            &store
                .recent_comments(CommentFilter::Pending, Page::number(1, 10))
                .await
                .unwrap()
        ),
        ["p30"]
    );
}

async fn comments_moderation_and_deletion(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let waiting = store
        .add_comment(new_comment(talk.id, None, "ann", 10, Moderation::Pending))
        .await
        .unwrap();
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 0);
    store
        .set_comment_moderation(waiting.id, Moderation::Approved)
        .await
        .unwrap();
    assert_eq!(
        store
            .comment_by_id(waiting.id)
            .await
            .unwrap()
            .unwrap()
            .moderation,
        Moderation::Approved
    );
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 1);
    for state in [Moderation::Hidden, Moderation::Spam, Moderation::Pending] {
        store
            .set_comment_moderation(waiting.id, state)
            .await
            .unwrap();
        let read = store.comment_by_id(waiting.id).await.unwrap().unwrap();
        assert_eq!(read.moderation, state);
    }
    store
        .set_comment_moderation(waiting.id, Moderation::Approved)
        .await
        .unwrap();
    let missing = store
        .set_comment_moderation(CommentId(999_999), Moderation::Spam)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

    let reply = comment(&*store, talk.id, Some(waiting.id), "ben", 11).await;
    let before = Utc::now();
    store.delete_comment(waiting.id).await.unwrap();
    let deleted = store.comment_by_id(waiting.id).await.unwrap().unwrap();
    assert_eq!(deleted.content_html, "");
    let deleted_at = deleted.deleted_at.expect("deleted_at is set");
    assert_recent(deleted_at, before);
    assert_eq!(deleted.author_name, "ann");
    assert_eq!(
        store.comment_by_id(reply.id).await.unwrap(),
        Some(reply.clone())
    );
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 1);

    // A second delete keeps the first date.
    store.delete_comment(waiting.id).await.unwrap();
    assert_eq!(
        store
            .comment_by_id(waiting.id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at,
        Some(deleted_at)
    );
    let missing = store.delete_comment(CommentId(999_999)).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

// ---------------------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------------------

fn import_comment(key: &str, parent: Option<&str>, minutes: i64) -> ImportComment {
    ImportComment {
        import_key: format!("wxr:old:comment:{key}"),
        parent_import_key: parent.map(|parent| format!("wxr:old:comment:{parent}")),
        author_name: key.to_owned(),
        author_url: None,
        author_email: Some(format!("{key}@example.com")),
        content_html: format!("<p>{key}</p>"),
        moderation: Moderation::Approved,
        published_at: at(minutes),
    }
}

fn import_post(key: &str, slug: &str, fallback: AuthorId) -> ImportPost {
    ImportPost {
        import_key: format!("wxr:old:post:{key}"),
        author_import_key: Some("wxr:old:author:jane".to_owned()),
        fallback_author: fallback,
        title: format!("Imported {slug}"),
        slug: slug.to_owned(),
        source: format!("<p>{slug}</p>"),
        content_html: format!("<p>{slug}</p>"),
        summary: None,
        tags: tags(&["WordPress", "Old"]),
        published_at: at(-1000),
        updated_at: Some(at(-500)),
        comments: Vec::new(),
    }
}

fn jane() -> ImportAuthor {
    ImportAuthor {
        import_key: "wxr:old:author:jane".to_owned(),
        username: "Jane".to_owned(),
        display_name: "Jane Doe".to_owned(),
    }
}

/// A batch whose comments list replies before their parents.
fn import_batch(fallback: AuthorId) -> ImportBatch {
    let mut first = import_post("1", "old-post", fallback);
    first.comments = vec![
        import_comment("c3", Some("c2"), 3),
        import_comment("c2", Some("c1"), 2),
        import_comment("c4", None, 4),
        import_comment("c1", None, 1),
    ];
    let mut second = import_post("2", "older-post", fallback);
    second.author_import_key = Some("wxr:old:author:unknown".to_owned());
    second.tags = Vec::new();
    second.updated_at = None;
    ImportBatch {
        authors: vec![jane()],
        posts: vec![first, second],
    }
}

/// Everything an import can change, to compare before and after.
async fn snapshot(store: &dyn Store) -> (i64, SiteCounts, Vec<Post>, Vec<TagCount>, usize) {
    let posts = store.all_posts(Page::number(1, 100)).await.unwrap();
    let mut comments = 0;
    for post in &posts {
        comments += store
            .comments_for_post(post.id, CommentFilter::All)
            .await
            .unwrap()
            .len();
    }
    (
        store.count_authors().await.unwrap(),
        store.site_counts(at(0)).await.unwrap(),
        posts,
        store.tags_in_use().await.unwrap(),
        comments,
    )
}

async fn import_creates_everything_once(store: Arc<dyn Store>) {
    let admin = author(&*store, "admin").await;
    let report = store.import(import_batch(admin.id)).await.unwrap();
    assert_eq!(
        report,
        ImportReport {
            authors_created: 1,
            posts_created: 2,
            posts_unchanged: 0,
            comments_created: 4,
            comments_unchanged: 0,
            skipped: Vec::new(),
        }
    );

    let jane = store.author_by_username("jane").await.unwrap().unwrap();
    assert_eq!(jane.display_name, "Jane Doe");
    assert!(!jane.is_admin);
    assert_eq!(store.author_credentials("jane").await.unwrap(), None);

    let old = store.post_by_slug("old-post").await.unwrap().unwrap();
    assert_eq!(old.author_id, jane.id);
    assert_eq!(old.status, PostStatus::Published);
    assert_eq!(old.origin, PostOrigin::Imported);
    assert_eq!(old.published_at, at(-1000));
    assert_eq!(old.updated_at, Some(at(-500)));
    assert_eq!(tag_names(&old), ["WordPress", "Old"]);
    let older = store.post_by_slug("older-post").await.unwrap().unwrap();
    assert_eq!(older.author_id, admin.id, "unknown author key → fallback");
    assert_eq!(older.updated_at, None);

    let thread = store
        .comments_for_post(old.id, CommentFilter::All)
        .await
        .unwrap();
    assert_eq!(names(&thread), ["c1", "c2", "c3", "c4"]);
    let depths: Vec<i32> = thread.iter().map(|comment| comment.depth).collect();
    assert_eq!(depths, [0, 1, 2, 0]);
    assert_eq!(thread[1].parent_id, Some(thread[0].id));
    assert_eq!(thread[2].parent_id, Some(thread[1].id));
    assert!(
        thread
            .iter()
            .all(|comment| comment.origin == CommentOrigin::Imported)
    );

    // The same import again changes nothing at all.
    let before = snapshot(&*store).await;
    let again = store.import(import_batch(admin.id)).await.unwrap();
    assert_eq!(
        again,
        ImportReport {
            authors_created: 0,
            posts_created: 0,
            posts_unchanged: 2,
            comments_created: 0,
            comments_unchanged: 4,
            skipped: Vec::new(),
        }
    );
    assert_eq!(snapshot(&*store).await, before);
    assert_eq!(
        store
            .comments_for_post(old.id, CommentFilter::All)
            .await
            .unwrap(),
        thread
    );

    // A later export with one more reply adds just that reply, under its old parent.
    let mut batch = import_batch(admin.id);
    batch.posts[0]
        .comments
        .insert(0, import_comment("c5", Some("c3"), 5));
    let third = store.import(batch).await.unwrap();
    assert_eq!(third.comments_created, 1);
    assert_eq!(third.comments_unchanged, 4);
    let thread = store
        .comments_for_post(old.id, CommentFilter::All)
        .await
        .unwrap();
    assert_eq!(names(&thread), ["c1", "c2", "c3", "c5", "c4"]);
    assert_eq!(thread[3].depth, 3);
}

async fn import_writes_nothing_when_it_fails(store: Arc<dyn Store>) {
    let admin = author(&*store, "admin").await;
    let before = snapshot(&*store).await;

    // The first post is fine; a comment of the second has a parent that is nowhere.
    let mut batch = import_batch(admin.id);
    batch.posts[1].comments = vec![
        import_comment("ok", None, 1),
        import_comment("lost", Some("missing"), 2),
    ];
    let failed = store.import(batch).await;
    assert!(matches!(failed, Err(Error::Invalid(_))), "{failed:?}");
    assert_eq!(snapshot(&*store).await, before);
    assert_eq!(store.author_by_username("jane").await.unwrap(), None);
    assert_eq!(store.post_by_slug("old-post").await.unwrap(), None);
    assert_eq!(store.tag_by_slug("wordpress").await.unwrap(), None);

    // A comment that is its own ancestor fails the same way.
    let mut cyclic = import_batch(admin.id);
    cyclic.posts[0].comments = vec![
        import_comment("x", Some("y"), 1),
        import_comment("y", Some("x"), 2),
    ];
    let failed = store.import(cyclic).await;
    assert!(matches!(failed, Err(Error::Invalid(_))), "{failed:?}");
    assert_eq!(snapshot(&*store).await, before);

    // Nothing was left behind to get in the way of the corrected import.
    let report = store.import(import_batch(admin.id)).await.unwrap();
    assert_eq!(report.posts_created, 2);
    assert_eq!(report.comments_created, 4);
}

async fn import_reuses_usernames_and_skips_taken_slugs(store: Arc<dyn Store>) {
    let admin = author(&*store, "admin").await;
    let local_jane = author(&*store, "jane").await;
    let local = post(&*store, admin.id, "taken", 0).await;

    let mut clash = import_post("clash", "taken", admin.id);
    clash.comments = vec![import_comment("lost", None, 1)];
    let fine = import_post("fine", "fine", admin.id);
    let batch = ImportBatch {
        authors: vec![jane()],
        posts: vec![clash, fine],
    };
    let report = store.import(batch.clone()).await.unwrap();
    assert_eq!(report.authors_created, 0);
    assert_eq!(report.posts_created, 1);
    assert_eq!(report.comments_created, 0);
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(report.skipped[0].contains("taken"), "{:?}", report.skipped);

    assert_eq!(store.count_authors().await.unwrap(), 2);
    let fine = store.post_by_slug("fine").await.unwrap().unwrap();
    assert_eq!(fine.author_id, local_jane.id);
    assert_eq!(store.post_by_slug("taken").await.unwrap(), Some(local));

    // Running it again skips the same post again and creates nothing.
    let again = store.import(batch).await.unwrap();
    assert_eq!(again.posts_created, 0);
    assert_eq!(again.posts_unchanged, 1);
    assert_eq!(again.skipped, report.skipped);
}

// ---------------------------------------------------------------------------------------
// settings, sessions, site
// ---------------------------------------------------------------------------------------

async fn blog_settings_default_and_update(store: Arc<dyn Store>) {
    assert_eq!(
        store.blog_settings().await.unwrap(),
        BlogSettings::default()
    );
    let alice = author(&*store, "alice").await;
    let settings = BlogSettings {
        title: "Alice's notes".to_owned(),
        description: "Rabbit holes.".to_owned(),
        avatar_url: Some("https://example.com/a.png".to_owned()),
        default_author_id: Some(alice.id),
        manually_approves_followers: true,
        note_content: NoteContent::Excerpt,
        disallowed_keywords: vec!["casino".to_owned(), "cheap pills".to_owned()],
    };
    store.update_blog_settings(&settings).await.unwrap();
    assert_eq!(store.blog_settings().await.unwrap(), settings);

    // Keywords are stored one per line: blank entries, spaces around and repeats (in
    // any case) go; an entry holding a line break becomes two.
    let messy = BlogSettings {
        disallowed_keywords: vec![
            "  casino ".to_owned(),
            String::new(),
            "CASINO".to_owned(),
            "free\nmoney".to_owned(),
        ],
        ..settings.clone()
    };
    store.update_blog_settings(&messy).await.unwrap();
    assert_eq!(
        store.blog_settings().await.unwrap().disallowed_keywords,
        vec!["casino", "free", "money"]
    );

    let plain = BlogSettings {
        title: "Notes".to_owned(),
        ..BlogSettings::default()
    };
    store.update_blog_settings(&plain).await.unwrap();
    assert_eq!(store.blog_settings().await.unwrap(), plain);

    let nobody = BlogSettings {
        default_author_id: Some(AuthorId(999_999)),
        ..BlogSettings::default()
    };
    let invalid = store.update_blog_settings(&nobody).await;
    assert!(matches!(invalid, Err(Error::Invalid(_))), "{invalid:?}");
    assert_eq!(store.blog_settings().await.unwrap(), plain);
}

async fn sessions_expire_and_are_purged(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let now = at(0);
    let live = Session {
        token_hash: "live-hash".to_owned(),
        author_id: alice.id,
        csrf_token: "csrf-1".to_owned(),
        expires_at: now + Duration::hours(1),
    };
    let stale = Session {
        token_hash: "stale-hash".to_owned(),
        author_id: alice.id,
        csrf_token: "csrf-2".to_owned(),
        expires_at: now - Duration::hours(1),
    };
    store.create_session(&live).await.unwrap();
    store.create_session(&stale).await.unwrap();
    let duplicate = store.create_session(&live).await;
    assert!(
        matches!(duplicate, Err(Error::Conflict(_))),
        "{duplicate:?}"
    );

    assert_eq!(
        store.session_by_token_hash("live-hash", now).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        store
            .session_by_token_hash("live-hash", live.expires_at - Duration::seconds(1))
            .await
            .unwrap(),
        Some(live.clone())
    );
    // Expiry is exclusive: at `expires_at` the session is over.
    assert_eq!(
        store
            .session_by_token_hash("live-hash", live.expires_at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .session_by_token_hash("stale-hash", now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.session_by_token_hash("unknown", now).await.unwrap(),
        None
    );

    assert_eq!(store.purge_expired_sessions(now).await.unwrap(), 1);
    assert_eq!(store.purge_expired_sessions(now).await.unwrap(), 0);
    assert_eq!(
        store.session_by_token_hash("live-hash", now).await.unwrap(),
        Some(live)
    );

    store.delete_session("live-hash").await.unwrap();
    assert_eq!(
        store.session_by_token_hash("live-hash", now).await.unwrap(),
        None
    );
    store.delete_session("live-hash").await.unwrap();
    assert_eq!(
        store
            .purge_expired_sessions(now + Duration::days(365))
            .await
            .unwrap(),
        0
    );
}

async fn site_counts_count_what_readers_see(store: Arc<dyn Store>) {
    assert_eq!(
        store.site_counts(at(60)).await.unwrap(),
        SiteCounts::default()
    );
    let alice = author(&*store, "alice").await;
    author(&*store, "bob").await;
    let live = post(&*store, alice.id, "live", 0).await;
    post(&*store, alice.id, "also-live", 1).await;
    let wip = store
        .create_post(
            draft(alice.id, "wip", PostStatus::Draft, at(2), &[]),
            Vec::new(),
        )
        .await
        .unwrap();
    let gone = post(&*store, alice.id, "gone", 3).await;
    store.delete_post(gone.id, Vec::new()).await.unwrap();

    comment(&*store, live.id, None, "shown-1", 10).await;
    comment(&*store, live.id, None, "shown-2", 11).await;
    store
        .add_comment(new_comment(
            live.id,
            None,
            "waiting",
            12,
            Moderation::Pending,
        ))
        .await
        .unwrap();
    let removed = comment(&*store, live.id, None, "removed", 13).await;
    store.delete_comment(removed.id).await.unwrap();
    comment(&*store, wip.id, None, "on-a-draft", 14).await;

    assert_eq!(
        store.site_counts(at(60)).await.unwrap(),
        SiteCounts {
            authors: 2,
            published_posts: 2,
            public_comments: 2,
            active_authors_month: 1,
            active_authors_halfyear: 1,
        }
    );
}

async fn concurrent_writers_all_succeed(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_comment(new_comment(
                    talk.id,
                    None,
                    &format!("c{n}"),
                    n,
                    Moderation::Approved,
                ))
                .await
                .map(|_| ())
        }));
    }
    for n in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_post(
                    draft(
                        alice.id,
                        &format!("post-{n}"),
                        PostStatus::Published,
                        at(n),
                        &["shared"],
                    ),
                    Vec::new(),
                )
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 16);
    assert_eq!(
        store
            .count_published_posts_with_tag("shared")
            .await
            .unwrap(),
        4
    );
}

conformance! {
    authors_are_created_and_found_case_insensitively =>
        sqlite_authors_are_created_and_found_case_insensitively,
        postgres_authors_are_created_and_found_case_insensitively;
    authors_duplicate_username_conflicts =>
        sqlite_authors_duplicate_username_conflicts,
        postgres_authors_duplicate_username_conflicts;
    authors_credentials_and_password_changes =>
        sqlite_authors_credentials_and_password_changes,
        postgres_authors_credentials_and_password_changes;
    authors_profile_updates =>
        sqlite_authors_profile_updates,
        postgres_authors_profile_updates;
    posts_are_created_and_read_back =>
        sqlite_posts_are_created_and_read_back,
        postgres_posts_are_created_and_read_back;
    posts_slug_conflicts_include_deleted_posts =>
        sqlite_posts_slug_conflicts_include_deleted_posts,
        postgres_posts_slug_conflicts_include_deleted_posts;
    posts_update_of_a_published_post_sets_updated_at =>
        sqlite_posts_update_of_a_published_post_sets_updated_at,
        postgres_posts_update_of_a_published_post_sets_updated_at;
    posts_update_from_draft_to_published_takes_the_new_date =>
        sqlite_posts_update_from_draft_to_published_takes_the_new_date,
        postgres_posts_update_from_draft_to_published_takes_the_new_date;
    posts_update_to_a_taken_slug_conflicts =>
        sqlite_posts_update_to_a_taken_slug_conflicts,
        postgres_posts_update_to_a_taken_slug_conflicts;
    posts_delete_leaves_a_tombstone =>
        sqlite_posts_delete_leaves_a_tombstone,
        postgres_posts_delete_leaves_a_tombstone;
    posts_published_listing_is_newest_first_in_pages =>
        sqlite_posts_published_listing_is_newest_first_in_pages,
        postgres_posts_published_listing_is_newest_first_in_pages;
    posts_listed_by_tag =>
        sqlite_posts_listed_by_tag,
        postgres_posts_listed_by_tag;
    posts_listed_by_author =>
        sqlite_posts_listed_by_author,
        postgres_posts_listed_by_author;
    posts_all_posts_lists_drafts_and_published_by_creation =>
        sqlite_posts_all_posts_lists_drafts_and_published_by_creation,
        postgres_posts_all_posts_lists_drafts_and_published_by_creation;
    tags_in_use_count_published_posts_by_name =>
        sqlite_tags_in_use_count_published_posts_by_name,
        postgres_tags_in_use_count_published_posts_by_name;
    comments_take_their_depth_from_the_parent =>
        sqlite_comments_take_their_depth_from_the_parent,
        postgres_comments_take_their_depth_from_the_parent;
    comments_reject_a_parent_elsewhere =>
        sqlite_comments_reject_a_parent_elsewhere,
        postgres_comments_reject_a_parent_elsewhere;
    comments_come_in_thread_order =>
        sqlite_comments_come_in_thread_order,
        postgres_comments_come_in_thread_order;
    comments_filters_and_public_count =>
        sqlite_comments_filters_and_public_count,
        postgres_comments_filters_and_public_count;
    comments_recent_are_newest_first =>
        sqlite_comments_recent_are_newest_first,
        postgres_comments_recent_are_newest_first;
    comments_moderation_and_deletion =>
        sqlite_comments_moderation_and_deletion,
        postgres_comments_moderation_and_deletion;
    import_creates_everything_once =>
        sqlite_import_creates_everything_once,
        postgres_import_creates_everything_once;
    import_writes_nothing_when_it_fails =>
        sqlite_import_writes_nothing_when_it_fails,
        postgres_import_writes_nothing_when_it_fails;
    import_reuses_usernames_and_skips_taken_slugs =>
        sqlite_import_reuses_usernames_and_skips_taken_slugs,
        postgres_import_reuses_usernames_and_skips_taken_slugs;
    blog_settings_default_and_update =>
        sqlite_blog_settings_default_and_update,
        postgres_blog_settings_default_and_update;
    sessions_expire_and_are_purged =>
        sqlite_sessions_expire_and_are_purged,
        postgres_sessions_expire_and_are_purged;
    site_counts_count_what_readers_see =>
        sqlite_site_counts_count_what_readers_see,
        postgres_site_counts_count_what_readers_see;
    concurrent_writers_all_succeed =>
        sqlite_concurrent_writers_all_succeed,
        postgres_concurrent_writers_all_succeed;
}

// ---------------------------------------------------------------------------------------
// engine-specific
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_database_file_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("gloss.db").display());
    let alice = {
        let store = gloss_storage::connect(&url).await.unwrap();
        author(&*store, "alice").await
    };
    // Opening again re-runs the (already applied) migrations and finds the data.
    let store = gloss_storage::connect(&url).await.unwrap();
    assert_eq!(store.author_by_id(alice.id).await.unwrap(), Some(alice));
}

#[tokio::test]
async fn sqlite_in_memory_database_keeps_its_data_across_calls() {
    let store = gloss_storage::connect("sqlite::memory:").await.unwrap();
    let alice = author(&*store, "alice").await;
    post(&*store, alice.id, "hello", 0).await;
    assert_eq!(store.count_authors().await.unwrap(), 1);
    assert_eq!(store.count_published_posts().await.unwrap(), 1);
}

#[tokio::test]
async fn unsupported_database_urls_are_refused() {
    let refused = gloss_storage::connect("mysql://localhost/gloss").await;
    assert!(
        matches!(refused, Err(Error::BadUrl(_))),
        "{:?}",
        refused.err()
    );
}
