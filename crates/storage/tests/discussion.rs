//! The storage conformance suite, discussion half: fediverse replies as comments (their
//! owners, edits, revisions, deletions and tombstones), visibility, author replies and
//! their activities, likes and announces, reports, moderation decisions and blocks, and
//! the `replies`/`context` collections. Written once against `Arc<dyn Store>` and run on
//! both engines by the same harness as `conformance.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use gloss_storage::{
    Attachment, BlockKind, Comment, CommentFilter, CommentId, CommentOrigin, DeleteOutcome,
    EditOutcome, Error, FlagId, LocalActor, LocalAuthorReply, LocalReplyEdit, Moderation,
    ModerationDecider, NewComment, NewFlag, NewReaction, OutgoingActivity, Page, PostId,
    PostReactions, PostStatus, ReactionCount, ReactionKind, ReactionOutcome, ReceivedActivity,
    RemoteActor, RemoteActorId, RemoteActorUpsert, RemoteCommentEdit, RemoteCommentUpsert, Store,
    ThreadNode, UndoOutcome, UpsertOutcome, Visibility,
};
use std::sync::Arc;

#[macro_use]
mod support;

use support::{at, author, post};

// ---------------------------------------------------------------------------------------
// data
// ---------------------------------------------------------------------------------------

/// Stores a remote actor `name` on `host` (which may carry a port).
async fn actor(store: &dyn Store, name: &str, host: &str) -> RemoteActor {
    store
        .upsert_remote_actor(RemoteActorUpsert {
            ap_id: format!("https://{host}/users/{name}"),
            kind: "Person".to_owned(),
            preferred_username: Some(name.to_owned()),
            name: Some(format!("{name} of {host}")),
            url: Some(format!("https://{host}/@{name}")),
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

/// A public, approved reply by `by`, id `{by.ap_id}/statuses/{name}`, saying `name`.
fn reply(by: &RemoteActor, parent: ThreadNode, name: &str, minutes: i64) -> RemoteCommentUpsert {
    RemoteCommentUpsert {
        ap_id: note_id(by, name),
        parent,
        remote_actor_id: by.id,
        author_name: by.name.clone().unwrap_or_default(),
        author_url: by.url.clone(),
        author_avatar_url: None,
        content_html: format!("<p>{name}</p>"),
        summary: None,
        sensitive: false,
        attachments: Vec::new(),
        url: Some(format!("{}/@{name}", by.ap_id)),
        in_reply_to_ap_id: Some("https://blog.example/posts/x".to_owned()),
        visibility: Visibility::Public,
        published_at: at(minutes),
        updated_at: None,
        moderation: Moderation::Approved,
        moderation_reason: None,
    }
}

fn note_id(by: &RemoteActor, name: &str) -> String {
    format!("{}/statuses/{name}", by.ap_id)
}

/// Stores `upsert`, which must be new, and returns the comment.
async fn created(store: &dyn Store, upsert: RemoteCommentUpsert) -> Comment {
    match store.upsert_remote_comment(upsert).await.unwrap() {
        UpsertOutcome::Created(comment) => comment,
        other => panic!("expected Created, got {other:?}"),
    }
}

fn edit(content: &str, minutes: i64) -> RemoteCommentEdit {
    RemoteCommentEdit {
        content_html: content.to_owned(),
        summary: None,
        sensitive: false,
        attachments: Vec::new(),
        updated_at: at(minutes),
        moderation: Moderation::Approved,
        moderation_reason: None,
    }
}

/// A reader's comment from the form on the page (no ap id).
fn reader_comment(post: PostId, name: &str, minutes: i64) -> NewComment {
    NewComment {
        post_id: post,
        parent_id: None,
        author_name: name.to_owned(),
        author_url: None,
        author_avatar_url: None,
        author_email: None,
        content_html: format!("<p>{name}</p>"),
        origin: CommentOrigin::Local,
        moderation: Moderation::Approved,
        ap_id: None,
        published_at: at(minutes),
        import_key: None,
        moderation_reason: None,
    }
}

fn names(comments: &[Comment]) -> Vec<String> {
    comments
        .iter()
        .map(|comment| comment.content_html.clone())
        .collect()
}

fn activity(name: &str, kind: &str, inbox: &str) -> OutgoingActivity {
    let ap_id = format!("https://blog.example/activities/{name}");
    OutgoingActivity {
        payload: format!(r#"{{"id":"{ap_id}","type":"{kind}"}}"#),
        ap_id,
        actor: LocalActor::Blog,
        kind: kind.to_owned(),
        object_ap_id: None,
        post_id: None,
        to_followers_of: Vec::new(),
        extra_inboxes: vec![inbox.to_owned()],
    }
}

// ---------------------------------------------------------------------------------------
// remote comments
// ---------------------------------------------------------------------------------------

async fn remote_comments_are_stored_once_by_ap_id(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let bob = actor(&*store, "bob", "b.example").await;

    let mut first = reply(&ann, ThreadNode::Post(talk.id), "first", 10);
    first.summary = Some("spoilers".to_owned());
    first.sensitive = true;
    first.attachments = vec![Attachment {
        url: "https://a.example/media/1.png".to_owned(),
        media_type: Some("image/png".to_owned()),
        name: Some("a cat".to_owned()),
    }];
    first.visibility = Visibility::Unlisted;
    let top = created(&*store, first.clone()).await;
    assert_eq!(top.post_id, talk.id);
    assert_eq!(top.parent_id, None);
    assert_eq!(top.depth, 0);
    assert_eq!(top.origin, CommentOrigin::Fediverse);
    assert_eq!(top.moderation, Moderation::Approved);
    assert_eq!(top.remote_actor_id, Some(ann.id));
    assert_eq!(top.local_author_id, None);
    assert_eq!(top.visibility, Visibility::Unlisted);
    assert_eq!(top.summary.as_deref(), Some("spoilers"));
    assert!(top.sensitive);
    assert_eq!(top.attachments, first.attachments);
    assert_eq!(top.url, first.url);
    assert_eq!(top.in_reply_to_ap_id, first.in_reply_to_ap_id);
    assert_eq!(top.ap_id.as_deref(), Some(first.ap_id.as_str()));
    assert_eq!(top.published_at, at(10));
    assert_eq!(top.updated_at, None);
    assert_eq!((top.like_count, top.announce_count), (0, 0));
    assert!(!top.author_blocked);
    assert!(top.is_public());

    // The same object again (a replayed Create, or a refetch) changes nothing.
    assert_eq!(
        store.upsert_remote_comment(first.clone()).await.unwrap(),
        UpsertOutcome::Unchanged(top.clone())
    );
    assert_eq!(
        store.comment_by_ap_id(&first.ap_id).await.unwrap(),
        Some(top.clone())
    );
    assert_eq!(
        store.comment_by_ap_id("https://nowhere/1").await.unwrap(),
        None
    );

    // A reply to the comment sits under it.
    let nested = created(
        &*store,
        reply(&bob, ThreadNode::Comment(top.id), "nested", 11),
    )
    .await;
    assert_eq!(
        (nested.post_id, nested.parent_id, nested.depth),
        (talk.id, Some(top.id), 1)
    );

    // Another actor claiming ann's object id is refused, and changes nothing.
    let mut forged = first.clone();
    forged.remote_actor_id = bob.id;
    forged.content_html = "<p>forged</p>".to_owned();
    assert_eq!(
        store.upsert_remote_comment(forged).await.unwrap(),
        UpsertOutcome::NotOwner
    );
    assert_eq!(
        store.comment_by_ap_id(&first.ap_id).await.unwrap(),
        Some(top.clone())
    );

    // Missing parents and authors are errors, and store nothing.
    let orphan = reply(&ann, ThreadNode::Comment(CommentId(999_999)), "orphan", 12);
    let missing = store.upsert_remote_comment(orphan).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let no_post = reply(&ann, ThreadNode::Post(PostId(999_999)), "no-post", 12);
    let missing = store.upsert_remote_comment(no_post).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let mut stranger = reply(&ann, ThreadNode::Post(talk.id), "stranger", 12);
    stranger.remote_actor_id = RemoteActorId(999_999);
    let missing = store.upsert_remote_comment(stranger).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    assert_eq!(
        store
            .comments_for_post(talk.id, CommentFilter::All)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn remote_comment_held_by_a_rule_logs_why(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;

    let mut held = reply(&ann, ThreadNode::Post(talk.id), "held", 10);
    held.moderation = Moderation::Pending;
    held.moderation_reason = Some("first comment from this account".to_owned());
    let comment = created(&*store, held).await;
    assert_eq!(comment.moderation, Moderation::Pending);
    assert_eq!(
        comment.moderation_reason.as_deref(),
        Some("first comment from this account")
    );
    assert!(!comment.is_public());
    let history = store.moderation_history(comment.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].decision, Moderation::Pending);
    assert_eq!(history[0].reason, "first comment from this account");
    assert_eq!(history[0].decided_by, ModerationDecider::Rules);
    assert_eq!(history[0].comment_id, comment.id);

    // Without a reason nothing is logged.
    let quiet = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "quiet", 11)).await;
    assert!(store.moderation_history(quiet.id).await.unwrap().is_empty());
}

async fn remote_comment_edits_keep_revisions(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let bob = actor(&*store, "bob", "b.example").await;
    let original = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "v1", 10)).await;
    let ap_id = original.ap_id.clone().unwrap();

    // Another actor cannot edit it.
    assert_eq!(
        store
            .update_remote_comment_content(&ap_id, bob.id, edit("<p>bob's</p>", 20))
            .await
            .unwrap(),
        EditOutcome::NotOwner
    );
    // Its owner can; the first version is kept.
    let mut second = edit("<p>v2</p>", 20);
    second.summary = Some("cw".to_owned());
    second.attachments = vec![Attachment {
        url: "https://a.example/m.mp4".to_owned(),
        media_type: None,
        name: None,
    }];
    let EditOutcome::Updated(updated) = store
        .update_remote_comment_content(&ap_id, ann.id, second.clone())
        .await
        .unwrap()
    else {
        panic!("expected Updated")
    };
    assert_eq!(updated.content_html, "<p>v2</p>");
    assert_eq!(updated.summary.as_deref(), Some("cw"));
    assert_eq!(updated.attachments, second.attachments);
    assert_eq!(updated.updated_at, Some(at(20)));
    assert_eq!(updated.published_at, at(10));
    let revisions = store.comment_revisions(original.id).await.unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].content_html, "<p>v1</p>");
    assert_eq!(revisions[0].summary, None);
    assert_eq!(revisions[0].written_at, at(10));
    assert_eq!(revisions[0].replaced_at, at(20));
    assert_eq!(revisions[0].comment_id, original.id);

    // The same content again, or an older version arriving late, changes nothing.
    assert_eq!(
        store
            .update_remote_comment_content(&ap_id, ann.id, second.clone())
            .await
            .unwrap(),
        EditOutcome::Unchanged(updated.clone())
    );
    assert_eq!(
        store
            .update_remote_comment_content(&ap_id, ann.id, edit("<p>stale</p>", 15))
            .await
            .unwrap(),
        EditOutcome::Unchanged(updated.clone())
    );
    assert_eq!(
        store
            .update_remote_comment_content("https://a.example/unknown", ann.id, edit("x", 30))
            .await
            .unwrap(),
        EditOutcome::NotFound
    );

    // A refetch that finds a newer version updates it too.
    let mut refetched = reply(&ann, ThreadNode::Post(talk.id), "v1", 10);
    refetched.content_html = "<p>v3</p>".to_owned();
    refetched.updated_at = Some(at(30));
    let UpsertOutcome::Updated(third) = store.upsert_remote_comment(refetched).await.unwrap()
    else {
        panic!("expected Updated")
    };
    assert_eq!(third.content_html, "<p>v3</p>");
    let contents: Vec<String> = store
        .comment_revisions(original.id)
        .await
        .unwrap()
        .into_iter()
        .map(|revision| revision.content_html)
        .collect();
    assert_eq!(contents, ["<p>v1</p>", "<p>v2</p>"]);
}

async fn edited_comments_go_through_moderation_again(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let comment = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "fine", 10)).await;
    let ap_id = comment.ap_id.clone().unwrap();

    // An approved comment edited to break a rule is held again, and that is logged.
    let mut spammy = edit("<p>buy buy buy</p>", 20);
    spammy.moderation = Moderation::Pending;
    spammy.moderation_reason = Some("more than 2 links".to_owned());
    let EditOutcome::Updated(held) = store
        .update_remote_comment_content(&ap_id, ann.id, spammy)
        .await
        .unwrap()
    else {
        panic!("expected Updated")
    };
    assert_eq!(held.moderation, Moderation::Pending);
    assert_eq!(held.moderation_reason.as_deref(), Some("more than 2 links"));
    let history = store.moderation_history(comment.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].decision, Moderation::Pending);
    assert_eq!(history[0].reason, "more than 2 links");

    // A comment the author marked spam stays spam whatever the rules say of its edit.
    store
        .set_comment_moderation_with_reason(
            comment.id,
            Moderation::Spam,
            "spam",
            ModerationDecider::Author(alice.id),
            at(25),
        )
        .await
        .unwrap();
    let EditOutcome::Updated(still) = store
        .update_remote_comment_content(&ap_id, ann.id, edit("<p>innocent now</p>", 30))
        .await
        .unwrap()
    else {
        panic!("expected Updated")
    };
    assert_eq!(still.moderation, Moderation::Spam);
    assert_eq!(still.moderation_reason.as_deref(), Some("spam"));
    assert_eq!(store.moderation_history(comment.id).await.unwrap().len(), 2);
}

async fn deleted_comments_stay_deleted(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let bob = actor(&*store, "bob", "b.example").await;
    let mut with_cw = reply(&ann, ThreadNode::Post(talk.id), "doomed", 10);
    with_cw.summary = Some("cw".to_owned());
    with_cw.attachments = vec![Attachment {
        url: "https://a.example/1.png".to_owned(),
        media_type: None,
        name: None,
    }];
    let doomed = created(&*store, with_cw.clone()).await;
    let child = created(
        &*store,
        reply(&bob, ThreadNode::Comment(doomed.id), "child", 11),
    )
    .await;
    let ap_id = doomed.ap_id.clone().unwrap();

    // Only its owner can delete it.
    assert_eq!(
        store
            .delete_comment_by_ap_id(&ap_id, bob.id, at(20))
            .await
            .unwrap(),
        DeleteOutcome::NotOwner
    );
    assert!(!store.tombstone_exists(&ap_id).await.unwrap());
    assert_eq!(
        store.comment_by_id(doomed.id).await.unwrap(),
        Some(doomed.clone())
    );

    assert_eq!(
        store
            .delete_comment_by_ap_id(&ap_id, ann.id, at(20))
            .await
            .unwrap(),
        DeleteOutcome::Deleted(doomed.id)
    );
    let gone = store.comment_by_id(doomed.id).await.unwrap().unwrap();
    assert_eq!(gone.deleted_at, Some(at(20)));
    assert_eq!(gone.content_html, "");
    assert_eq!(gone.summary, None);
    assert!(gone.attachments.is_empty());
    assert!(store.tombstone_exists(&ap_id).await.unwrap());
    // Its reply keeps its place.
    assert_eq!(
        store
            .comment_by_id(child.id)
            .await
            .unwrap()
            .unwrap()
            .parent_id,
        Some(doomed.id)
    );

    // A replayed Create, an Update or another Delete do not bring it back.
    assert_eq!(
        store.upsert_remote_comment(with_cw.clone()).await.unwrap(),
        UpsertOutcome::Tombstoned
    );
    assert_eq!(
        store
            .update_remote_comment_content(&ap_id, ann.id, edit("<p>back</p>", 30))
            .await
            .unwrap(),
        EditOutcome::Deleted
    );
    assert_eq!(
        store
            .delete_comment_by_ap_id(&ap_id, ann.id, at(40))
            .await
            .unwrap(),
        DeleteOutcome::AlreadyDeleted
    );
    assert_eq!(
        store
            .comment_by_id(doomed.id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at,
        Some(at(20))
    );

    // A Delete that overtakes its Create: the late Create is refused.
    let early = reply(&ann, ThreadNode::Post(talk.id), "early", 50);
    assert_eq!(
        store
            .delete_comment_by_ap_id(&early.ap_id, ann.id, at(50))
            .await
            .unwrap(),
        DeleteOutcome::Unknown
    );
    assert!(store.tombstone_exists(&early.ap_id).await.unwrap());
    assert_eq!(
        store.upsert_remote_comment(early.clone()).await.unwrap(),
        UpsertOutcome::Tombstoned
    );
    assert_eq!(store.comment_by_ap_id(&early.ap_id).await.unwrap(), None);

    // But bob cannot suppress ann's next comment by deleting its id first.
    let next = reply(&ann, ThreadNode::Post(talk.id), "next", 60);
    assert_eq!(
        store
            .delete_comment_by_ap_id(&next.ap_id, bob.id, at(59))
            .await
            .unwrap(),
        DeleteOutcome::Unknown
    );
    created(&*store, next).await;

    // A comment deleted in the admin UI does not come back either.
    let admin_deleted = created(&*store, reply(&bob, ThreadNode::Post(talk.id), "rude", 70)).await;
    store.delete_comment(admin_deleted.id).await.unwrap();
    assert_eq!(
        store
            .upsert_remote_comment(reply(&bob, ThreadNode::Post(talk.id), "rude", 70))
            .await
            .unwrap(),
        UpsertOutcome::Tombstoned
    );
}

async fn deleting_an_actor_deletes_their_comments_and_reactions(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let bob = actor(&*store, "bob", "b.example").await;
    let first = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "one", 10)).await;
    let second = created(
        &*store,
        reply(&ann, ThreadNode::Comment(first.id), "two", 11),
    )
    .await;
    let bobs = created(&*store, reply(&bob, ThreadNode::Post(talk.id), "bobs", 12)).await;
    for (name, target) in [
        ("like-bobs", ThreadNode::Comment(bobs.id)),
        ("like-post", ThreadNode::Post(talk.id)),
    ] {
        store
            .record_reaction(NewReaction {
                ap_id: format!("{}#{name}", ann.ap_id),
                kind: ReactionKind::Like,
                remote_actor_id: ann.id,
                target,
                created_at: at(13),
            })
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .comment_by_id(bobs.id)
            .await
            .unwrap()
            .unwrap()
            .like_count,
        1
    );

    assert_eq!(
        store
            .delete_comments_of_actor(ann.id, at(20))
            .await
            .unwrap(),
        2
    );
    for comment in [&first, &second] {
        let gone = store.comment_by_id(comment.id).await.unwrap().unwrap();
        assert_eq!(gone.deleted_at, Some(at(20)));
        assert_eq!(gone.content_html, "");
        assert!(
            store
                .tombstone_exists(comment.ap_id.as_deref().unwrap())
                .await
                .unwrap()
        );
    }
    let kept = store.comment_by_id(bobs.id).await.unwrap().unwrap();
    assert_eq!(kept.deleted_at, None);
    assert_eq!(kept.like_count, 0);
    assert_eq!(
        store.reaction_counts_for_post(talk.id).await.unwrap(),
        PostReactions::default()
    );
    // Again: nothing left to delete; an unknown actor has nothing either.
    assert_eq!(
        store
            .delete_comments_of_actor(ann.id, at(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_comments_of_actor(RemoteActorId(999_999), at(30))
            .await
            .unwrap(),
        0
    );
}

async fn comment_authors_follow_their_actor(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let bob = actor(&*store, "bob", "b.example").await;
    let one = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "one", 10)).await;
    let two = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "two", 11)).await;
    let bobs = created(&*store, reply(&bob, ThreadNode::Post(talk.id), "bobs", 12)).await;

    assert_eq!(
        store
            .update_comment_authors(
                ann.id,
                "Ann Renamed",
                Some("https://a.example/@ann2"),
                Some("https://a.example/ann.png"),
            )
            .await
            .unwrap(),
        2
    );
    for id in [one.id, two.id] {
        let comment = store.comment_by_id(id).await.unwrap().unwrap();
        assert_eq!(comment.author_name, "Ann Renamed");
        assert_eq!(
            comment.author_url.as_deref(),
            Some("https://a.example/@ann2")
        );
        assert_eq!(
            comment.author_avatar_url.as_deref(),
            Some("https://a.example/ann.png")
        );
    }
    assert_eq!(store.comment_by_id(bobs.id).await.unwrap(), Some(bobs));
}

// ---------------------------------------------------------------------------------------
// visibility
// ---------------------------------------------------------------------------------------

async fn private_replies_appear_in_no_public_listing_or_count(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let public = created(
        &*store,
        reply(&ann, ThreadNode::Post(talk.id), "public", 10),
    )
    .await;
    let mut unlisted = reply(&ann, ThreadNode::Post(talk.id), "unlisted", 11);
    unlisted.visibility = Visibility::Unlisted;
    let unlisted = created(&*store, unlisted).await;
    let mut followers = reply(&ann, ThreadNode::Comment(public.id), "followers", 12);
    followers.visibility = Visibility::Followers;
    let followers = created(&*store, followers).await;
    let mut direct = reply(&ann, ThreadNode::Post(talk.id), "direct", 13);
    direct.visibility = Visibility::Direct;
    let direct = created(&*store, direct).await;
    let mut direct_pending = reply(&ann, ThreadNode::Post(talk.id), "direct-pending", 14);
    direct_pending.visibility = Visibility::Direct;
    direct_pending.moderation = Moderation::Pending;
    let direct_pending = created(&*store, direct_pending).await;
    for private in [&followers, &direct, &direct_pending] {
        assert!(private.is_private());
        assert!(!private.is_public());
    }
    assert!(!unlisted.is_private());

    // Pages and feeds (both read `comments_for_post(Public)`) and counts.
    assert_eq!(
        names(
            &store
                .comments_for_post(talk.id, CommentFilter::Public)
                .await
                .unwrap()
        ),
        ["<p>public</p>", "<p>unlisted</p>"]
    );
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 2);
    assert_eq!(store.site_counts(at(100)).await.unwrap().public_comments, 2);
    assert_eq!(
        names(
            &store
                .recent_comments(CommentFilter::Public, Page::number(1, 10))
                .await
                .unwrap()
        ),
        ["<p>unlisted</p>", "<p>public</p>"]
    );
    // The moderation queue is for public comments.
    assert!(
        store
            .comments_for_post(talk.id, CommentFilter::Pending)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .recent_comments(CommentFilter::Pending, Page::number(1, 10))
            .await
            .unwrap()
            .is_empty()
    );
    // Collections.
    let listed = [
        public.ap_id.clone().unwrap(),
        unlisted.ap_id.clone().unwrap(),
    ];
    assert_eq!(
        store
            .public_thread_ap_ids(talk.id, Page::number(1, 10))
            .await
            .unwrap(),
        listed
    );
    assert_eq!(store.count_public_thread(talk.id).await.unwrap(), 2);
    assert!(
        store
            .public_reply_ap_ids(ThreadNode::Comment(public.id), Page::number(1, 10))
            .await
            .unwrap()
            .is_empty()
    );

    // The admin UI sees everything, marked; and the private messages apart.
    let all = store
        .recent_comments(CommentFilter::All, Page::number(1, 10))
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all.iter().filter(|comment| comment.is_private()).count(), 3);
    assert_eq!(
        store
            .comments_for_post(talk.id, CommentFilter::All)
            .await
            .unwrap()
            .len(),
        5
    );
    let private = store.private_comments(Page::number(1, 10)).await.unwrap();
    assert_eq!(
        names(&private),
        ["<p>direct-pending</p>", "<p>direct</p>", "<p>followers</p>"]
    );
    assert_eq!(
        names(&store.private_comments(Page::number(2, 2)).await.unwrap()),
        ["<p>followers</p>"]
    );
    assert_eq!(store.count_private_comments().await.unwrap(), 3);
}

// ---------------------------------------------------------------------------------------
// collections
// ---------------------------------------------------------------------------------------

async fn collections_list_public_replies_oldest_first(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let other = post(&*store, alice.id, "other", 1).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let b = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "b", 20)).await;
    let a = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "a", 10)).await;
    let a1 = created(&*store, reply(&ann, ThreadNode::Comment(a.id), "a1", 30)).await;
    let mut pending = reply(&ann, ThreadNode::Post(talk.id), "pending", 40);
    pending.moderation = Moderation::Pending;
    created(&*store, pending).await;
    let deleted = created(
        &*store,
        reply(&ann, ThreadNode::Comment(a.id), "deleted", 50),
    )
    .await;
    store
        .delete_comment_by_ap_id(deleted.ap_id.as_deref().unwrap(), ann.id, at(51))
        .await
        .unwrap();
    // A reader's comment has no ap id: it is shown on the page, in no collection.
    store
        .add_comment(reader_comment(talk.id, "reader", 60))
        .await
        .unwrap();
    created(
        &*store,
        reply(&ann, ThreadNode::Post(other.id), "elsewhere", 5),
    )
    .await;

    let id = |comment: &Comment| comment.ap_id.clone().unwrap();
    assert_eq!(
        store
            .public_reply_ap_ids(ThreadNode::Post(talk.id), Page::number(1, 10))
            .await
            .unwrap(),
        [id(&a), id(&b)]
    );
    assert_eq!(
        store
            .count_public_replies(ThreadNode::Post(talk.id))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .public_reply_ap_ids(ThreadNode::Comment(a.id), Page::number(1, 10))
            .await
            .unwrap(),
        [id(&a1)]
    );
    assert_eq!(
        store
            .count_public_replies(ThreadNode::Comment(a.id))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .public_thread_ap_ids(talk.id, Page::number(1, 10))
            .await
            .unwrap(),
        [id(&a), id(&b), id(&a1)]
    );
    assert_eq!(
        store
            .public_thread_ap_ids(talk.id, Page::number(2, 2))
            .await
            .unwrap(),
        [id(&a1)]
    );
    assert_eq!(store.count_public_thread(talk.id).await.unwrap(), 3);
    assert_eq!(store.count_public_thread(PostId(999_999)).await.unwrap(), 0);
    // The reader's comment is on the page all the same.
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 4);
}

// ---------------------------------------------------------------------------------------
// author replies
// ---------------------------------------------------------------------------------------

fn author_reply(
    author: gloss_storage::AuthorId,
    parent: ThreadNode,
    name: &str,
) -> LocalAuthorReply {
    LocalAuthorReply {
        author_id: author,
        parent,
        ap_id: format!("https://blog.example/replies/{name}"),
        author_name: "Alice".to_owned(),
        author_url: Some("https://blog.example/authors/alice".to_owned()),
        author_avatar_url: None,
        content_html: format!("<p>{name}</p>"),
        summary: None,
        sensitive: false,
        in_reply_to_ap_id: Some("https://a.example/users/ann/statuses/q".to_owned()),
        visibility: Visibility::Public,
        published_at: at(30),
    }
}

async fn author_replies_are_recorded_with_their_activities(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let question = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "q", 10)).await;

    let answer = store
        .add_local_author_reply(
            author_reply(alice.id, ThreadNode::Comment(question.id), "answer"),
            vec![activity(
                "create-answer",
                "Create",
                "https://a.example/inbox",
            )],
        )
        .await
        .unwrap();
    assert_eq!(answer.local_author_id, Some(alice.id));
    assert_eq!(answer.remote_actor_id, None);
    assert_eq!(answer.origin, CommentOrigin::Local);
    assert_eq!(answer.moderation, Moderation::Approved);
    assert_eq!((answer.parent_id, answer.depth), (Some(question.id), 1));
    assert_eq!(
        answer.ap_id.as_deref(),
        Some("https://blog.example/replies/answer")
    );
    assert!(answer.is_public());
    // Its activity is recorded, tied to the thread's post.
    assert!(
        store
            .activity_payload("https://blog.example/activities/create-answer")
            .await
            .unwrap()
            .is_some()
    );
    let deliveries = store.deliveries_for_post(talk.id).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].inbox, "https://a.example/inbox");
    assert_eq!(
        store
            .public_reply_ap_ids(ThreadNode::Comment(question.id), Page::number(1, 10))
            .await
            .unwrap(),
        ["https://blog.example/replies/answer"]
    );

    // A taken ap id fails, and records no activity.
    let again = store
        .add_local_author_reply(
            author_reply(alice.id, ThreadNode::Post(talk.id), "answer"),
            vec![activity(
                "create-again",
                "Create",
                "https://a.example/inbox",
            )],
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(
        store
            .activity_payload("https://blog.example/activities/create-again")
            .await
            .unwrap(),
        None
    );

    // Remote actors cannot take, edit or delete it.
    let ap_id = answer.ap_id.clone().unwrap();
    let mut hijack = reply(&ann, ThreadNode::Post(talk.id), "x", 40);
    hijack.ap_id = ap_id.clone();
    assert_eq!(
        store.upsert_remote_comment(hijack).await.unwrap(),
        UpsertOutcome::NotOwner
    );
    assert_eq!(
        store
            .update_remote_comment_content(&ap_id, ann.id, edit("<p>mine</p>", 40))
            .await
            .unwrap(),
        EditOutcome::NotOwner
    );
    assert_eq!(
        store
            .delete_comment_by_ap_id(&ap_id, ann.id, at(40))
            .await
            .unwrap(),
        DeleteOutcome::NotOwner
    );
    assert_eq!(
        store.comment_by_id(answer.id).await.unwrap(),
        Some(answer.clone())
    );

    // The author edits it: a revision, and the Update recorded.
    let edited = store
        .update_local_author_reply(
            answer.id,
            LocalReplyEdit {
                content_html: "<p>better answer</p>".to_owned(),
                summary: Some("long".to_owned()),
                sensitive: false,
                updated_at: at(50),
            },
            vec![activity(
                "update-answer",
                "Update",
                "https://a.example/inbox",
            )],
        )
        .await
        .unwrap();
    assert_eq!(edited.content_html, "<p>better answer</p>");
    assert_eq!(edited.summary.as_deref(), Some("long"));
    assert_eq!(edited.updated_at, Some(at(50)));
    let revisions = store.comment_revisions(answer.id).await.unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].content_html, "<p>answer</p>");
    assert!(
        store
            .activity_payload("https://blog.example/activities/update-answer")
            .await
            .unwrap()
            .is_some()
    );
    // Only author replies go through these methods.
    let not_ours = store
        .update_local_author_reply(
            question.id,
            LocalReplyEdit {
                content_html: "<p>x</p>".to_owned(),
                summary: None,
                sensitive: false,
                updated_at: at(50),
            },
            Vec::new(),
        )
        .await;
    assert!(matches!(not_ours, Err(Error::Invalid(_))), "{not_ours:?}");
    let not_ours = store
        .delete_local_author_reply(question.id, Vec::new(), at(50))
        .await;
    assert!(matches!(not_ours, Err(Error::Invalid(_))), "{not_ours:?}");
    let missing = store
        .delete_local_author_reply(CommentId(999_999), Vec::new(), at(50))
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

    // Deleted: content cleared, a tombstone, the Delete recorded.
    store
        .delete_local_author_reply(
            answer.id,
            vec![activity(
                "delete-answer",
                "Delete",
                "https://a.example/inbox",
            )],
            at(60),
        )
        .await
        .unwrap();
    let gone = store.comment_by_id(answer.id).await.unwrap().unwrap();
    assert_eq!(gone.deleted_at, Some(at(60)));
    assert_eq!(gone.content_html, "");
    assert!(store.tombstone_exists(&ap_id).await.unwrap());
    assert_eq!(store.deliveries_for_post(talk.id).await.unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------
// reactions
// ---------------------------------------------------------------------------------------

fn reaction(by: &RemoteActor, name: &str, kind: ReactionKind, target: ThreadNode) -> NewReaction {
    NewReaction {
        ap_id: format!("{}#{name}", by.ap_id),
        kind,
        remote_actor_id: by.id,
        target,
        created_at: at(20),
    }
}

fn received(reaction: &NewReaction, host: &str) -> ReceivedActivity {
    ReceivedActivity {
        ap_id: reaction.ap_id.clone(),
        sender_host: host.to_owned(),
        received_at: at(21),
    }
}

async fn a_received_reaction_records_its_activity_in_the_same_transaction(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let on_post = ThreadNode::Post(talk.id);
    // What a Like names, looked up cheaply: published posts only.
    assert_eq!(
        store.published_post_id_by_slug("talk").await.unwrap(),
        Some(talk.id)
    );
    assert_eq!(store.published_post_id_by_slug("nope").await.unwrap(), None);
    let draft_post = store
        .create_post(
            support::draft(alice.id, "later", PostStatus::Draft, at(1), &[]),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .published_post_id_by_slug(&draft_post.slug)
            .await
            .unwrap(),
        None
    );

    // The host had failed: the contact heals it, with the reaction.
    store
        .mark_host_unreachable("a.example", at(1))
        .await
        .unwrap();
    let like = reaction(&ann, "like-1", ReactionKind::Like, on_post);
    assert_eq!(
        store
            .record_received_reaction(like.clone(), received(&like, "A.example"))
            .await
            .unwrap(),
        (ReactionOutcome::Recorded, true)
    );
    let health = store.host_health("a.example").await.unwrap().unwrap();
    assert!(!health.unreachable);
    assert_eq!(health.failing_since, None);
    assert_eq!(
        store
            .reaction_counts_for_post(talk.id)
            .await
            .unwrap()
            .post
            .likes,
        1
    );
    // The activity id is known now; the same activity again changes nothing.
    assert!(
        !store
            .record_received_activity(&like.ap_id, at(22))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .record_received_reaction(like.clone(), received(&like, "a.example"))
            .await
            .unwrap(),
        (ReactionOutcome::Duplicate, false)
    );

    // A reaction the store refuses (its post is gone): neither it nor its activity id
    // is recorded, so that the sender's retry is not taken for a duplicate.
    let missing = reaction(
        &ann,
        "like-2",
        ReactionKind::Like,
        ThreadNode::Post(PostId(talk.id.0 + 1000)),
    );
    assert!(matches!(
        store
            .record_received_reaction(missing.clone(), received(&missing, "a.example"))
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(
        store
            .record_received_activity(&missing.ap_id, at(22))
            .await
            .unwrap()
    );

    // An activity without an effect of its own: the receipt alone.
    let other = ReceivedActivity {
        ap_id: "https://b.example/activities/1".to_owned(),
        sender_host: "b.example".to_owned(),
        received_at: at(23),
    };
    assert!(store.receive_activity(other.clone()).await.unwrap());
    assert!(!store.receive_activity(other).await.unwrap());
    // A host we never heard of gets no row from contacting us.
    assert_eq!(store.host_health("b.example").await.unwrap(), None);
}

async fn concurrent_received_reactions_are_each_recorded_once(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let mut actors = Vec::new();
    for i in 0..20 {
        actors.push(actor(&*store, &format!("ann{i}"), "a.example").await);
    }
    let mut tasks = Vec::new();
    for (i, ann) in actors.iter().enumerate() {
        // Each activity twice, and every fifth aimed at a post that does not exist.
        let target = if i % 5 == 4 {
            ThreadNode::Post(PostId(talk.id.0 + 1000))
        } else {
            ThreadNode::Post(talk.id)
        };
        let like = reaction(ann, "like", ReactionKind::Like, target);
        for _ in 0..2 {
            let store = Arc::clone(&store);
            let like = like.clone();
            tasks.push(tokio::spawn(async move {
                let receipt = received(&like, "a.example");
                store.record_received_reaction(like, receipt).await
            }));
        }
    }
    let mut new_ids = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok((_, new)) => new_ids += usize::from(new),
            Err(Error::NotFound(_)) => refused += 1,
            Err(err) => panic!("unexpected error: {err}"),
        }
    }
    assert_eq!(new_ids, 16);
    assert_eq!(refused, 8);
    assert_eq!(
        store
            .reaction_counts_for_post(talk.id)
            .await
            .unwrap()
            .post
            .likes,
        16
    );
}

async fn reactions_are_counted_once_and_undone_by_their_actor(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let bob = actor(&*store, "bob", "b.example").await;
    let comment = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "c", 10)).await;
    let on_post = ThreadNode::Post(talk.id);
    let on_comment = ThreadNode::Comment(comment.id);

    let like = reaction(&ann, "like-1", ReactionKind::Like, on_post);
    assert_eq!(
        store.record_reaction(like.clone()).await.unwrap(),
        ReactionOutcome::Recorded
    );
    // The same activity twice, or a second like by the same actor: counted once.
    assert_eq!(
        store.record_reaction(like.clone()).await.unwrap(),
        ReactionOutcome::Duplicate
    );
    assert_eq!(
        store
            .record_reaction(reaction(&ann, "like-2", ReactionKind::Like, on_post))
            .await
            .unwrap(),
        ReactionOutcome::Duplicate
    );
    for new in [
        reaction(&ann, "boost-1", ReactionKind::Announce, on_post),
        reaction(&bob, "like-3", ReactionKind::Like, on_post),
        reaction(&bob, "like-4", ReactionKind::Like, on_comment),
        reaction(&ann, "like-5", ReactionKind::Like, on_comment),
        reaction(&bob, "boost-2", ReactionKind::Announce, on_comment),
    ] {
        assert_eq!(
            store.record_reaction(new).await.unwrap(),
            ReactionOutcome::Recorded
        );
    }
    assert_eq!(
        store
            .record_reaction(reaction(&bob, "like-6", ReactionKind::Like, on_comment))
            .await
            .unwrap(),
        ReactionOutcome::Duplicate
    );
    assert_eq!(
        store.reaction_counts_for_post(talk.id).await.unwrap(),
        PostReactions {
            post: ReactionCount {
                likes: 2,
                announces: 1
            },
            comments: vec![(
                comment.id,
                ReactionCount {
                    likes: 2,
                    announces: 1
                }
            )],
        }
    );
    let counted = store.comment_by_id(comment.id).await.unwrap().unwrap();
    assert_eq!((counted.like_count, counted.announce_count), (2, 1));

    // Only its actor can undo a reaction.
    assert_eq!(
        store.undo_reaction(&like.ap_id, bob.id).await.unwrap(),
        UndoOutcome::NotOwner
    );
    assert_eq!(
        store.undo_reaction(&like.ap_id, ann.id).await.unwrap(),
        UndoOutcome::Removed
    );
    assert_eq!(
        store
            .undo_reaction(&format!("{}#like-4", bob.ap_id), bob.id)
            .await
            .unwrap(),
        UndoOutcome::Removed
    );
    assert_eq!(
        store.reaction_counts_for_post(talk.id).await.unwrap(),
        PostReactions {
            post: ReactionCount {
                likes: 1,
                announces: 1
            },
            comments: vec![(
                comment.id,
                ReactionCount {
                    likes: 1,
                    announces: 1
                }
            )],
        }
    );
    // An undone like replayed is not counted again; a second undo finds nothing.
    assert_eq!(
        store.record_reaction(like.clone()).await.unwrap(),
        ReactionOutcome::Tombstoned
    );
    assert_eq!(
        store.undo_reaction(&like.ap_id, ann.id).await.unwrap(),
        UndoOutcome::NotFound
    );
    // An Undo that overtakes its Like: the late Like is not counted.
    let late = reaction(&bob, "late", ReactionKind::Announce, on_post);
    assert_eq!(
        store.undo_reaction(&late.ap_id, bob.id).await.unwrap(),
        UndoOutcome::NotFound
    );
    assert_eq!(
        store.record_reaction(late).await.unwrap(),
        ReactionOutcome::Tombstoned
    );
    // Reactions to nothing are errors.
    for target in [
        ThreadNode::Post(PostId(999_999)),
        ThreadNode::Comment(CommentId(999_999)),
    ] {
        let missing = store
            .record_reaction(reaction(&ann, "lost", ReactionKind::Like, target))
            .await;
        assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    }
    assert_eq!(
        store
            .reaction_counts_for_post(PostId(999_999))
            .await
            .unwrap(),
        PostReactions::default()
    );
}

// ---------------------------------------------------------------------------------------
// reports
// ---------------------------------------------------------------------------------------

async fn flags_are_recorded_once_and_resolved(store: Arc<dyn Store>) {
    let instance = actor(&*store, "instance", "m.example").await;
    let flag = NewFlag {
        ap_id: Some("https://m.example/flags/1".to_owned()),
        reporter: instance.id,
        object_ap_ids: vec![
            "https://s.example/users/spammer".to_owned(),
            "https://s.example/statuses/9".to_owned(),
        ],
        content: "spam".to_owned(),
        created_at: at(10),
    };
    let first = store.record_flag(flag.clone()).await.unwrap();
    assert_eq!(first.ap_id, flag.ap_id);
    assert_eq!(first.reporter, instance.id);
    assert_eq!(first.reporter_ap_id, instance.ap_id);
    assert_eq!(first.object_ap_ids, flag.object_ap_ids);
    assert_eq!(first.content, "spam");
    assert_eq!(first.created_at, at(10));
    assert_eq!(first.resolved_at, None);
    // The same Flag again is the same report.
    assert_eq!(store.record_flag(flag.clone()).await.unwrap(), first);
    // Reports without an id are each recorded.
    let anonymous = NewFlag {
        ap_id: None,
        created_at: at(20),
        ..flag.clone()
    };
    let second = store.record_flag(anonymous.clone()).await.unwrap();
    let third = store.record_flag(anonymous).await.unwrap();
    assert_ne!(second.id, third.id);

    let open = store.open_flags(Page::number(1, 10)).await.unwrap();
    assert_eq!(open.len(), 3);
    assert_eq!(open[2], first);
    assert_eq!(store.count_open_flags().await.unwrap(), 3);

    store.resolve_flag(first.id, at(30)).await.unwrap();
    store.resolve_flag(first.id, at(40)).await.unwrap();
    assert_eq!(store.count_open_flags().await.unwrap(), 2);
    let open = store.open_flags(Page::number(1, 10)).await.unwrap();
    assert!(open.iter().all(|report| report.id != first.id));
    assert_eq!(
        store.record_flag(flag.clone()).await.unwrap().resolved_at,
        Some(at(30))
    );
    let missing = store.resolve_flag(FlagId(999_999), at(30)).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let unknown = store
        .record_flag(NewFlag {
            ap_id: Some("https://m.example/flags/2".to_owned()),
            reporter: RemoteActorId(999_999),
            ..flag
        })
        .await;
    assert!(matches!(unknown, Err(Error::Invalid(_))), "{unknown:?}");
}

// ---------------------------------------------------------------------------------------
// moderation
// ---------------------------------------------------------------------------------------

async fn moderation_decisions_are_logged_with_their_reason(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let mut first = reply(&ann, ThreadNode::Post(talk.id), "first", 10);
    first.moderation = Moderation::Pending;
    first.moderation_reason = Some("first-time commenter".to_owned());
    let first = created(&*store, first).await;
    assert_eq!(
        store
            .count_approved_comments_by_actor(ann.id)
            .await
            .unwrap(),
        0
    );

    store
        .set_comment_moderation_with_reason(
            first.id,
            Moderation::Approved,
            "looks fine",
            ModerationDecider::Author(alice.id),
            at(20),
        )
        .await
        .unwrap();
    let approved = store.comment_by_id(first.id).await.unwrap().unwrap();
    assert_eq!(approved.moderation, Moderation::Approved);
    assert_eq!(approved.moderation_reason.as_deref(), Some("looks fine"));
    assert!(approved.is_public());
    assert_eq!(
        store
            .count_approved_comments_by_actor(ann.id)
            .await
            .unwrap(),
        1
    );
    store
        .set_comment_moderation_with_reason(
            first.id,
            Moderation::Hidden,
            "off topic",
            ModerationDecider::Author(alice.id),
            at(30),
        )
        .await
        .unwrap();
    let history = store.moderation_history(first.id).await.unwrap();
    let summary: Vec<(Moderation, &str, ModerationDecider)> = history
        .iter()
        .map(|decision| {
            (
                decision.decision,
                decision.reason.as_str(),
                decision.decided_by,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Moderation::Pending,
                "first-time commenter",
                ModerationDecider::Rules
            ),
            (
                Moderation::Approved,
                "looks fine",
                ModerationDecider::Author(alice.id)
            ),
            (
                Moderation::Hidden,
                "off topic",
                ModerationDecider::Author(alice.id)
            ),
        ]
    );
    assert_eq!(history[1].created_at, at(20));
    assert_eq!(
        store
            .count_approved_comments_by_actor(ann.id)
            .await
            .unwrap(),
        0
    );
    let missing = store
        .set_comment_moderation_with_reason(
            CommentId(999_999),
            Moderation::Spam,
            "x",
            ModerationDecider::Rules,
            at(30),
        )
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

    // A reader's comment held by a rule logs why, too.
    let mut held = reader_comment(talk.id, "reader", 40);
    held.moderation = Moderation::Pending;
    held.moderation_reason = Some("keyword: casino".to_owned());
    let held = store.add_comment(held).await.unwrap();
    assert_eq!(held.moderation_reason.as_deref(), Some("keyword: casino"));
    let history = store.moderation_history(held.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].reason, "keyword: casino");
}

async fn bursts_are_counted_per_domain_by_arrival(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "burst.example:8443").await;
    let bob = actor(&*store, "bob", "burst.example").await;
    let cat = actor(&*store, "cat", "calm.example").await;
    let before = Utc::now() - Duration::minutes(1);
    // Published long ago, as claimed: arrival counts, not the claim.
    created(
        &*store,
        reply(&ann, ThreadNode::Post(talk.id), "1", -10_000),
    )
    .await;
    created(&*store, reply(&bob, ThreadNode::Post(talk.id), "2", 10)).await;
    created(&*store, reply(&cat, ThreadNode::Post(talk.id), "3", 10)).await;
    for host in ["burst.example", "Burst.Example:8443"] {
        assert_eq!(
            store
                .recent_comment_count_from_host(host, before)
                .await
                .unwrap(),
            2,
            "{host}"
        );
    }
    assert_eq!(
        store
            .recent_comment_count_from_host("calm.example", before)
            .await
            .unwrap(),
        1
    );
    // Per actor too (the per-actor bucket), by arrival.
    assert_eq!(
        store
            .recent_comment_count_by_actor(ann.id, before)
            .await
            .unwrap(),
        1
    );
    let later = Utc::now() + Duration::minutes(1);
    assert_eq!(
        store
            .recent_comment_count_by_actor(ann.id, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .recent_comment_count_from_host("burst.example", later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .recent_comment_count_from_host("", before)
            .await
            .unwrap(),
        0
    );
}

async fn comments_can_be_closed_per_post(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    assert!(talk.comments_open);
    store.set_post_comments_closed(talk.id, true).await.unwrap();
    assert!(
        !store
            .post_by_id(talk.id)
            .await
            .unwrap()
            .unwrap()
            .comments_open
    );
    store
        .set_post_comments_closed(talk.id, false)
        .await
        .unwrap();
    assert!(
        store
            .post_by_id(talk.id)
            .await
            .unwrap()
            .unwrap()
            .comments_open
    );
    let missing = store.set_post_comments_closed(PostId(999_999), true).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

// ---------------------------------------------------------------------------------------
// blocks
// ---------------------------------------------------------------------------------------

async fn blocks_refuse_actors_and_domains_with_their_subdomains(store: Arc<dyn Store>) {
    assert!(!store.is_blocked(None, "spam.example").await.unwrap());
    let block = store
        .add_block(BlockKind::Domain, "Spam.Example", "spam wave", at(10))
        .await
        .unwrap();
    assert_eq!(block.kind, BlockKind::Domain);
    assert_eq!(block.value, "spam.example");
    assert_eq!(block.reason, "spam wave");
    assert_eq!(block.created_at, at(10));
    for host in ["spam.example", "SPAM.example:443", "a.b.spam.example"] {
        assert!(store.is_blocked(None, host).await.unwrap(), "{host}");
    }
    for host in ["notspam.example", "spam.example.org", "example", ""] {
        assert!(!store.is_blocked(None, host).await.unwrap(), "{host}");
    }
    // The actor's own id counts even when the host given is another.
    assert!(
        store
            .is_blocked(Some("https://spam.example/users/x"), "relay.example")
            .await
            .unwrap()
    );

    let troll = "https://fine.example/users/troll";
    store
        .add_block(BlockKind::Actor, troll, "", at(20))
        .await
        .unwrap();
    assert!(store.is_blocked(Some(troll), "fine.example").await.unwrap());
    assert!(
        !store
            .is_blocked(Some("https://fine.example/users/nice"), "fine.example")
            .await
            .unwrap()
    );
    // Blocking again updates the reason.
    let again = store
        .add_block(BlockKind::Domain, "spam.example:8443", "still spam", at(30))
        .await
        .unwrap();
    assert_eq!((again.id, again.created_at), (block.id, at(10)));
    assert_eq!(again.reason, "still spam");
    let listed: Vec<(BlockKind, String)> = store
        .list_blocks()
        .await
        .unwrap()
        .into_iter()
        .map(|block| (block.kind, block.value))
        .collect();
    assert_eq!(
        listed,
        [
            (BlockKind::Actor, troll.to_owned()),
            (BlockKind::Domain, "spam.example".to_owned())
        ]
    );
    for (kind, value) in [(BlockKind::Domain, "  "), (BlockKind::Actor, "")] {
        let refused = store.add_block(kind, value, "", at(40)).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    }

    assert!(
        store
            .remove_block(BlockKind::Domain, "SPAM.EXAMPLE")
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_block(BlockKind::Domain, "spam.example")
            .await
            .unwrap()
    );
    assert!(!store.remove_block(BlockKind::Domain, "").await.unwrap());
    assert!(!store.is_blocked(None, "a.spam.example").await.unwrap());
    assert_eq!(store.list_blocks().await.unwrap().len(), 1);
}

async fn blocked_authors_comments_disappear_until_unblocked(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;
    let troll = actor(&*store, "troll", "bad.example:8443").await;
    let spammer = actor(&*store, "spammer", "sub.spam.example").await;
    let fine = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "fine", 10)).await;
    let trolling = created(
        &*store,
        reply(&troll, ThreadNode::Post(talk.id), "troll", 11),
    )
    .await;
    let spam = created(
        &*store,
        reply(&spammer, ThreadNode::Post(talk.id), "spam", 12),
    )
    .await;
    store
        .add_comment(reader_comment(talk.id, "reader", 13))
        .await
        .unwrap();
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 4);

    store
        .add_block(BlockKind::Actor, &troll.ap_id, "trolling", at(20))
        .await
        .unwrap();
    store
        .add_block(BlockKind::Domain, "spam.example", "spam", at(20))
        .await
        .unwrap();
    let public = store
        .comments_for_post(talk.id, CommentFilter::Public)
        .await
        .unwrap();
    assert_eq!(names(&public), ["<p>fine</p>", "<p>reader</p>"]);
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 2);
    assert_eq!(store.site_counts(at(100)).await.unwrap().public_comments, 2);
    assert_eq!(
        store
            .recent_comments(CommentFilter::Public, Page::number(1, 10))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .public_thread_ap_ids(talk.id, Page::number(1, 10))
            .await
            .unwrap(),
        [fine.ap_id.clone().unwrap()]
    );
    assert_eq!(
        store
            .count_public_replies(ThreadNode::Post(talk.id))
            .await
            .unwrap(),
        1
    );
    // The admin UI still sees them, marked.
    let all = store
        .comments_for_post(talk.id, CommentFilter::All)
        .await
        .unwrap();
    let blocked: Vec<bool> = all.iter().map(|comment| comment.author_blocked).collect();
    assert_eq!(blocked, [false, true, true, false]);
    let read = store.comment_by_id(trolling.id).await.unwrap().unwrap();
    assert!(read.author_blocked);
    assert!(!read.is_public());
    assert_eq!(read.moderation, Moderation::Approved);

    // Lifting the blocks brings them back.
    store
        .remove_block(BlockKind::Actor, &troll.ap_id)
        .await
        .unwrap();
    store
        .remove_block(BlockKind::Domain, "spam.example")
        .await
        .unwrap();
    assert_eq!(store.count_public_comments(talk.id).await.unwrap(), 4);
    assert!(
        !store
            .comment_by_id(spam.id)
            .await
            .unwrap()
            .unwrap()
            .author_blocked
    );
}

// ---------------------------------------------------------------------------------------
// concurrency
// ---------------------------------------------------------------------------------------

/// Receivers running at once (several inbox requests, or two processes): the same object
/// is stored once, every reaction is counted, and concurrent edits keep one history.
async fn concurrent_receivers_store_once_and_count_every_reaction(store: Arc<dyn Store>) {
    const RECEIVERS: usize = 8;
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let ann = actor(&*store, "ann", "a.example").await;

    // Open the pool's connections first: otherwise the time each takes to open staggers
    // the receivers, and they hardly overlap.
    let warm_up: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.count_public_comments(talk.id).await.unwrap() })
        })
        .collect();
    for task in warm_up {
        task.await.unwrap();
    }

    let same = reply(&ann, ThreadNode::Post(talk.id), "same", 10);
    let tasks: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let store = Arc::clone(&store);
            let same = same.clone();
            tokio::spawn(async move { store.upsert_remote_comment(same).await.unwrap() })
        })
        .collect();
    let mut created_count = 0;
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        match task.await.unwrap() {
            UpsertOutcome::Created(comment) => {
                created_count += 1;
                ids.insert(comment.id);
            }
            UpsertOutcome::Unchanged(comment) => {
                ids.insert(comment.id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created_count, 1);
    assert_eq!(ids.len(), 1);
    let comment = *ids.first().unwrap();

    let mut likers = Vec::new();
    for n in 0..RECEIVERS {
        likers.push(actor(&*store, &format!("liker{n}"), "l.example").await);
    }
    let likes: Vec<_> = likers
        .iter()
        .map(|liker| {
            let store = Arc::clone(&store);
            let like = reaction(
                liker,
                "like",
                ReactionKind::Like,
                ThreadNode::Comment(comment),
            );
            tokio::spawn(async move { store.record_reaction(like).await.unwrap() })
        })
        .collect();
    for task in likes {
        assert_eq!(task.await.unwrap(), ReactionOutcome::Recorded);
    }
    let counted = store.comment_by_id(comment).await.unwrap().unwrap();
    assert_eq!(counted.like_count, i64::try_from(RECEIVERS).unwrap());
    // Each Undo twice at once: each like is taken off once.
    let undos: Vec<_> = likers
        .iter()
        .chain(likers.iter())
        .map(|liker| {
            let store = Arc::clone(&store);
            let (id, ap_id) = (liker.id, format!("{}#like", liker.ap_id));
            tokio::spawn(async move { store.undo_reaction(&ap_id, id).await.unwrap() })
        })
        .collect();
    for task in undos {
        task.await.unwrap();
    }
    let counted = store.comment_by_id(comment).await.unwrap().unwrap();
    assert_eq!(counted.like_count, 0);

    // Two edits at once: the newer wins whatever the order, and the original is kept once.
    let ap_id = same.ap_id.clone();
    let edits: Vec<_> = [("<p>v2</p>", 20), ("<p>v3</p>", 30)]
        .into_iter()
        .map(|(content, minutes)| {
            let store = Arc::clone(&store);
            let (ap_id, by) = (ap_id.clone(), ann.id);
            tokio::spawn(async move {
                store
                    .update_remote_comment_content(&ap_id, by, edit(content, minutes))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in edits {
        task.await.unwrap();
    }
    let edited = store.comment_by_id(comment).await.unwrap().unwrap();
    assert_eq!(edited.content_html, "<p>v3</p>");
    assert_eq!(edited.updated_at, Some(at(30)));
    let revisions: Vec<String> = store
        .comment_revisions(comment)
        .await
        .unwrap()
        .into_iter()
        .map(|revision| revision.content_html)
        .collect();
    assert_eq!(
        revisions
            .iter()
            .filter(|content| *content == "<p>same</p>")
            .count(),
        1,
        "{revisions:?}"
    );
}

async fn domain_limits_hold_nothing_back_by_themselves(store: Arc<dyn Store>) {
    let alice = author(&*store, "alice").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    let quiet = actor(&*store, "quiet", "sub.silenced.example").await;
    let shown = created(&*store, reply(&quiet, ThreadNode::Post(talk.id), "hi", 10)).await;
    assert!(
        !store
            .is_domain_limited(None, "silenced.example")
            .await
            .unwrap()
    );
    let limit = store
        .add_block(
            BlockKind::Limit,
            "*.Silenced.Example",
            "new instance",
            at(20),
        )
        .await
        .unwrap();
    assert_eq!(
        (limit.kind, limit.value.as_str()),
        (BlockKind::Limit, "silenced.example")
    );
    for host in ["silenced.example", "sub.silenced.example:8443"] {
        assert!(store.is_domain_limited(None, host).await.unwrap(), "{host}");
    }
    assert!(
        store
            .is_domain_limited(Some("https://a.silenced.example/u/x"), "relay.example")
            .await
            .unwrap()
    );
    for host in ["notsilenced.example", "example", ""] {
        assert!(
            !store.is_domain_limited(None, host).await.unwrap(),
            "{host}"
        );
    }
    // A limit is not a block: nothing is refused or hidden by it.
    assert!(
        !store
            .is_blocked(None, "sub.silenced.example")
            .await
            .unwrap()
    );
    let public = store
        .comments_for_post(talk.id, CommentFilter::Public)
        .await
        .unwrap();
    assert_eq!(public.len(), 1);
    assert_eq!(public[0].id, shown.id);
    assert!(!public[0].author_blocked);
    assert!(
        store
            .list_blocks()
            .await
            .unwrap()
            .iter()
            .any(|block| block.kind == BlockKind::Limit)
    );
    assert!(
        store
            .remove_block(BlockKind::Limit, "silenced.example")
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_domain_limited(None, "silenced.example")
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// the page version (rendered-page cache)
// ---------------------------------------------------------------------------------------

/// Asserts that the page version moved since `before` (and remembers where it is now).
async fn assert_moved(store: &dyn Store, before: &mut i64, what: &str) {
    let now = store.page_version().await.unwrap();
    assert!(now > *before, "{what}: the page version stayed at {now}");
    *before = now;
}

async fn the_page_version_moves_with_every_change_a_page_shows(store: Arc<dyn Store>) {
    let mut version = store.page_version().await.unwrap();
    let alice = author(&*store, "alice").await;
    assert_moved(&*store, &mut version, "an author added").await;
    let talk = post(&*store, alice.id, "talk", 0).await;
    assert_moved(&*store, &mut version, "a post published").await;
    store
        .update_author_profile(alice.id, "Alice A.", "Writes.", None)
        .await
        .unwrap();
    assert_moved(&*store, &mut version, "an author's profile").await;

    // Reading moves nothing; neither does an actor seen (or refreshed) by the inbox.
    store
        .comments_for_post(talk.id, CommentFilter::Public)
        .await
        .unwrap();
    let ann = actor(&*store, "ann", "a.example").await;
    actor(&*store, "ann", "a.example").await;
    assert_eq!(store.page_version().await.unwrap(), version, "reads");

    let local = store
        .add_comment(NewComment {
            post_id: talk.id,
            parent_id: None,
            author_name: "Rita".to_owned(),
            author_url: None,
            author_avatar_url: None,
            author_email: None,
            content_html: "<p>Hi</p>".to_owned(),
            origin: CommentOrigin::Local,
            moderation: Moderation::Pending,
            ap_id: None,
            published_at: at(5),
            import_key: None,
            moderation_reason: None,
        })
        .await
        .unwrap();
    assert_moved(&*store, &mut version, "a comment added").await;
    store
        .set_comment_moderation(local.id, Moderation::Approved)
        .await
        .unwrap();
    assert_moved(&*store, &mut version, "a comment approved").await;
    let remote = created(&*store, reply(&ann, ThreadNode::Post(talk.id), "one", 10)).await;
    assert_moved(&*store, &mut version, "a fediverse reply").await;
    store
        .record_reaction(NewReaction {
            ap_id: format!("{}#like", ann.ap_id),
            kind: ReactionKind::Like,
            remote_actor_id: ann.id,
            target: ThreadNode::Comment(remote.id),
            created_at: at(11),
        })
        .await
        .unwrap();
    assert_moved(&*store, &mut version, "a like").await;
    store
        .add_block(BlockKind::Domain, "a.example", "", at(12))
        .await
        .unwrap();
    assert_moved(&*store, &mut version, "a block").await;
    store
        .remove_block(BlockKind::Domain, "a.example")
        .await
        .unwrap();
    assert_moved(&*store, &mut version, "a block lifted").await;
    store.delete_comment(local.id).await.unwrap();
    assert_moved(&*store, &mut version, "a comment deleted").await;

    let mut settings = store.blog_settings().await.unwrap();
    settings.title = "Another title".to_owned();
    store.update_blog_settings(&settings).await.unwrap();
    assert_moved(&*store, &mut version, "the blog's settings").await;

    let mut draft = support::draft(alice.id, "talk", talk.status, at(0), &["edited"]);
    draft.title = "Talk, edited".to_owned();
    store.update_post(talk.id, draft, Vec::new()).await.unwrap();
    assert_moved(&*store, &mut version, "a post edited").await;
    store.delete_post(talk.id, Vec::new()).await.unwrap();
    assert_moved(&*store, &mut version, "a post deleted").await;
}

conformance! {
    a_received_reaction_records_its_activity_in_the_same_transaction =>
        sqlite_a_received_reaction_records_its_activity_in_the_same_transaction,
        postgres_a_received_reaction_records_its_activity_in_the_same_transaction;
    concurrent_received_reactions_are_each_recorded_once =>
        sqlite_concurrent_received_reactions_are_each_recorded_once,
        postgres_concurrent_received_reactions_are_each_recorded_once;
    the_page_version_moves_with_every_change_a_page_shows =>
        sqlite_the_page_version_moves_with_every_change_a_page_shows,
        postgres_the_page_version_moves_with_every_change_a_page_shows;
    remote_comments_are_stored_once_by_ap_id =>
        sqlite_remote_comments_are_stored_once_by_ap_id,
        postgres_remote_comments_are_stored_once_by_ap_id;
    remote_comment_held_by_a_rule_logs_why =>
        sqlite_remote_comment_held_by_a_rule_logs_why,
        postgres_remote_comment_held_by_a_rule_logs_why;
    remote_comment_edits_keep_revisions =>
        sqlite_remote_comment_edits_keep_revisions,
        postgres_remote_comment_edits_keep_revisions;
    edited_comments_go_through_moderation_again =>
        sqlite_edited_comments_go_through_moderation_again,
        postgres_edited_comments_go_through_moderation_again;
    deleted_comments_stay_deleted =>
        sqlite_deleted_comments_stay_deleted,
        postgres_deleted_comments_stay_deleted;
    deleting_an_actor_deletes_their_comments_and_reactions =>
        sqlite_deleting_an_actor_deletes_their_comments_and_reactions,
        postgres_deleting_an_actor_deletes_their_comments_and_reactions;
    comment_authors_follow_their_actor =>
        sqlite_comment_authors_follow_their_actor,
        postgres_comment_authors_follow_their_actor;
    private_replies_appear_in_no_public_listing_or_count =>
        sqlite_private_replies_appear_in_no_public_listing_or_count,
        postgres_private_replies_appear_in_no_public_listing_or_count;
    collections_list_public_replies_oldest_first =>
        sqlite_collections_list_public_replies_oldest_first,
        postgres_collections_list_public_replies_oldest_first;
    author_replies_are_recorded_with_their_activities =>
        sqlite_author_replies_are_recorded_with_their_activities,
        postgres_author_replies_are_recorded_with_their_activities;
    reactions_are_counted_once_and_undone_by_their_actor =>
        sqlite_reactions_are_counted_once_and_undone_by_their_actor,
        postgres_reactions_are_counted_once_and_undone_by_their_actor;
    flags_are_recorded_once_and_resolved =>
        sqlite_flags_are_recorded_once_and_resolved,
        postgres_flags_are_recorded_once_and_resolved;
    moderation_decisions_are_logged_with_their_reason =>
        sqlite_moderation_decisions_are_logged_with_their_reason,
        postgres_moderation_decisions_are_logged_with_their_reason;
    bursts_are_counted_per_domain_by_arrival =>
        sqlite_bursts_are_counted_per_domain_by_arrival,
        postgres_bursts_are_counted_per_domain_by_arrival;
    comments_can_be_closed_per_post =>
        sqlite_comments_can_be_closed_per_post,
        postgres_comments_can_be_closed_per_post;
    blocks_refuse_actors_and_domains_with_their_subdomains =>
        sqlite_blocks_refuse_actors_and_domains_with_their_subdomains,
        postgres_blocks_refuse_actors_and_domains_with_their_subdomains;
    blocked_authors_comments_disappear_until_unblocked =>
        sqlite_blocked_authors_comments_disappear_until_unblocked,
        postgres_blocked_authors_comments_disappear_until_unblocked;
    domain_limits_hold_nothing_back_by_themselves =>
        sqlite_domain_limits_hold_nothing_back_by_themselves,
        postgres_domain_limits_hold_nothing_back_by_themselves;
    concurrent_receivers_store_once_and_count_every_reaction =>
        sqlite_concurrent_receivers_store_once_and_count_every_reaction,
        postgres_concurrent_receivers_store_once_and_count_every_reaction;
}
