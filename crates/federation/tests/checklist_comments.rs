#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Security checklist items C3-C11, P11, P12 and M7 through the signed inbox: what
//! `comments_intake.rs` leaves out (see the index in `security_checklist.rs`). The same
//! harness: fake remote servers on 127.0.0.1 serve actors and notes, signed activities
//! go to our router, and the store shows what became of them. Every test runs on SQLite,
//! and on PostgreSQL when `GLOSS_TEST_POSTGRES_URL` is set.

#[macro_use]
mod support;

use gloss_federation::content::MAX_COMMENT_ATTACHMENTS;
use support::*;

// =======================================================================================
// C3, C4: text stays text
// =======================================================================================

async fn c3_c4_escaped_text_and_markup_in_plain_fields_are_stored_as_text(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let display = "&lt;script&gt;alert(1)&lt;/script&gt; <b>Alice</b>";
    s.remote
        .names
        .lock()
        .unwrap()
        .insert("alice".into(), display.into());
    s.remote.set_actor_member(
        "alice",
        "preferredUsername",
        json!("<script>alert(2)</script>"),
    );
    let mut article = s.note(
        "1",
        "alice",
        &post_url(),
        "<p>Body <a href=\"https://social.example/tags/x\" class=\"mention hashtag\" rel=\"tag\">#<span>&lt;script&gt;x</span></a></p>",
    );
    article["type"] = json!("Article");
    article["name"] = json!("&lt;script&gt;alert(3)&lt;/script&gt;");
    article["summary"] = json!("&lt;img src=x onerror=alert(4)&gt;");
    let alt = "&lt;script&gt;alert(5)&lt;/script&gt; <script>alert(6)</script>";
    article["attachment"] =
        json!([{"type": "Document", "url": "https://media.example/a.png", "name": alt}]);
    article["tag"] = json!([
        {"type": "Hashtag", "href": "https://social.example/tags/x", "name": "#<script>alert(7)</script>"},
        {"type": "Mention", "href": format!("{OUR_BASE}/authors/ana"), "name": "@<script>alert(8)</script>"},
    ]);
    s.post(&s.create(&article), "alice").await;

    let comment = s.comment(&article["id"]).await.expect("stored");
    // Plain-text fields are kept as the text they are: neither decoded nor marked up
    // (the pages, the feed and the admin escape them: crates/web/tests/checklist_content.rs).
    assert_eq!(comment.author_name, display);
    assert_eq!(
        comment.summary.as_deref(),
        Some("&lt;img src=x onerror=alert(4)&gt;")
    );
    assert_eq!(comment.attachments[0].name.as_deref(), Some(alt));
    let actor = s
        .store()
        .remote_actor_by_ap_id(&s.remote.actor("alice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        actor.preferred_username.as_deref(),
        Some("<script>alert(2)</script>")
    );
    // The title (plain text) enters the HTML escaped: readers see `&lt;script&gt;`.
    let html = &comment.content_html;
    assert!(
        html.starts_with(
            "<p><strong>&amp;lt;script&amp;gt;alert(3)&amp;lt;/script&amp;gt;</strong></p>"
        ),
        "{html}"
    );
    // Escaped text in the HTML content stays escaped text.
    assert!(html.contains("#<span>&lt;script&gt;x</span>"), "{html}");
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(
        !html.contains("alert(7)") && !html.contains("alert(8)"),
        "{html}"
    );
}

// =======================================================================================
// C6, C7, C9, C10: hostile JSON
// =======================================================================================

async fn c6_json_nested_10000_deep_gets_400_and_nothing_is_stored(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));

    // Unsigned: refused before the body is parsed.
    let request = Request::post("/inbox")
        .header(header::CONTENT_TYPE, "application/activity+json")
        .body(Body::from(deep.clone()))
        .unwrap();
    let (status, _) = s.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.remote.all_gets(),
        0,
        "nothing fetched for an unsigned body"
    );

    // Signed: the signature holds; serde_json's recursion limit (128) stops the parse.
    let (status, body) = s.post_bytes(deep.into_bytes(), "alice").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.starts_with("Invalid JSON"), "{body}");

    // Nested inside an otherwise valid Create: the whole activity is refused.
    let note = s.note("1", "alice", &post_url(), "MARK");
    let nested = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let body = s.create(&note).to_string().replace("\"MARK\"", &nested);
    let (status, answer) = s.post_bytes(body.into_bytes(), "alice").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(s.comment(&note["id"]).await.is_none());

    // A document fetched from its origin, nested as deep: dropped (202), nothing stored.
    let fetched = s.note("2", "alice", &post_url(), "MARK");
    s.remote
        .serve_raw("/notes/2", fetched.to_string().replace("\"MARK\"", &nested));
    let mut forward = s.create(&fetched);
    forward["actor"] = json!(s.remote.actor("mallory"));
    forward["id"] = json!(s.remote.url("/activities/forward-deep"));
    s.post(&forward, "mallory").await;
    assert_eq!(s.remote.gets_of("/notes/2"), 1, "refetched from its origin");
    assert!(s.comment(&fetched["id"]).await.is_none());
    assert!(s.all_comments().await.is_empty());
}

async fn c7_huge_recipient_tag_and_attachment_lists_stay_bounded(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    // 100 000 recipients: compact (6 bytes each), so that they fit the 1 MB body limit.
    let mut many_cc = s.note("cc", "alice", &post_url(), "<p>cc</p>");
    many_cc["cc"] = json!(vec!["x:y"; 100_000]);
    let mut create = s.create(&many_cc);
    create["cc"] = json!([]);
    let size = create.to_string().len();
    assert!(size < inbox::MAX_INBOX_BODY, "{size}");
    s.post(&create, "alice").await;
    let comment = s.comment(&many_cc["id"]).await.expect("stored");
    assert_eq!(comment.visibility, Visibility::Public);

    // 10 000 mentions of actors we don't know: none is fetched (F10), none is stored.
    let gets = s.remote.all_gets();
    let mut many_tags = s.note("tags", "alice", &post_url(), "<p>tags</p>");
    let tags: Vec<Value> = (0..10_000)
        .map(|n| json!({"type": "Mention", "href": s.remote.actor(&format!("m{n}"))}))
        .collect();
    many_tags["tag"] = json!(tags);
    let create = s.create(&many_tags);
    assert!(create.to_string().len() < inbox::MAX_INBOX_BODY);
    s.post(&create, "alice").await;
    assert!(s.comment(&many_tags["id"]).await.is_some());
    assert_eq!(s.remote.all_gets(), gets, "no mention was fetched");

    // 1 000 attachments: the first 4 are kept.
    let mut many_media = s.note("media", "alice", &post_url(), "<p>media</p>");
    let media: Vec<Value> = (0..1_000)
        .map(|n| json!({"type": "Document", "url": format!("https://media.example/{n}.png")}))
        .collect();
    many_media["attachment"] = json!(media);
    s.post(&s.create(&many_media), "alice").await;
    let comment = s.comment(&many_media["id"]).await.expect("stored");
    assert_eq!(comment.attachments.len(), MAX_COMMENT_ATTACHMENTS);
    assert_eq!(comment.attachments[0].url, "https://media.example/0.png");

    // Over the limit: 413 before anything is verified, parsed or fetched.
    let mut too_many = s.note("big", "alice", &post_url(), "<p>big</p>");
    too_many["cc"] = json!(vec!["x:y"; 200_000]);
    let (status, _) = s
        .post_bytes(s.create(&too_many).to_string().into_bytes(), "alice")
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(s.comment(&too_many["id"]).await.is_none());
    assert_eq!(s.remote.all_gets(), gets);
}

async fn c9_invalid_utf8_lone_surrogates_and_a_bom_get_400(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>MARK</p>");
    let create = s.create(&note).to_string();
    let with = |bytes: &[u8]| -> Vec<u8> {
        let (before, after) = create.split_once("MARK").unwrap();
        [before.as_bytes(), bytes, after.as_bytes()].concat()
    };
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend_from_slice(create.as_bytes());
    for (what, body) in [
        ("invalid UTF-8", with(&[0xff, 0xfe])),
        ("a surrogate encoded as UTF-8", with(&[0xed, 0xa0, 0x80])),
        ("a lone leading surrogate", with(br"\ud800")),
        ("a lone trailing surrogate", with(br"\udc00x")),
        (
            "a leading surrogate without its pair",
            with(br"\ud800\u0041"),
        ),
        ("a byte order mark", bom),
    ] {
        let (status, answer) = s.post_bytes(body, "alice").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        assert!(s.comment(&note["id"]).await.is_none(), "{what}");
    }
    // The same activity, well-formed: received (the refusals recorded nothing).
    let (status, answer) = s.post_bytes(create.into_bytes(), "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(s.comment(&note["id"]).await.is_some());

    // Behaviour choice: a lone surrogate in a field Gloss never reads is skipped unread
    // (serde_json does not decode what it ignores; JavaScript servers do emit them), so
    // the activity is received; nothing of that field is kept.
    let other = s.note("2", "alice", &post_url(), "<p>fine</p>");
    let mut body = s.create(&other).to_string().into_bytes();
    body.pop(); // the closing brace
    body.extend_from_slice(br#","unknownField":"\udfff"}"#);
    let (status, answer) = s.post_bytes(body, "alice").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let stored = s.comment(&other["id"]).await.expect("stored");
    assert_eq!(stored.content_html, "<p>fine</p>");
}

async fn c10_type_confusion_through_the_inbox_is_lenient_or_400_never_500(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    type Variant = (&'static str, fn(&mut Value, &mut Value), bool);
    let variants: [Variant; 8] = [
        (
            "content as an array",
            |_, note| note["content"] = json!(["<p>a</p>", "<p>b</p>"]),
            true,
        ),
        (
            "content as a map",
            |_, note| note["content"] = json!({"en": "<p>a</p>"}),
            true,
        ),
        (
            "only contentMap",
            |_, note| {
                note.as_object_mut().unwrap().remove("content");
                note["contentMap"] = json!({"de": "<p>Hallo</p>"});
            },
            true,
        ),
        ("to as a string", |_, note| note["to"] = json!(PUBLIC), true),
        (
            "a garbage published date",
            |_, note| note["published"] = json!("last tuesday"),
            true,
        ),
        (
            "actor as an object",
            |create, _| {
                let actor = create["actor"].clone();
                create["actor"] = json!({"id": actor, "type": "Person"});
            },
            true,
        ),
        (
            "id: null on the object",
            |_, note| note["id"] = Value::Null,
            false,
        ),
        (
            "id: null on the activity",
            |create, _| create["id"] = Value::Null,
            false,
        ),
    ];
    for (n, (what, change, stored)) in variants.into_iter().enumerate() {
        let mut note = s.note(&format!("v{n}"), "alice", &post_url(), "<p>x</p>");
        let id = note["id"].clone();
        let mut create = s.create(&note);
        change(&mut create, &mut note);
        create["object"] = note;
        let status = s.post_from(&s.remote, &create, "alice").await;
        assert!(
            status == StatusCode::ACCEPTED || status == StatusCode::BAD_REQUEST,
            "{what}: {status}"
        );
        assert_eq!(
            status == StatusCode::ACCEPTED && s.comment(&id).await.is_some(),
            stored,
            "{what}: {status}"
        );
    }
}

// =======================================================================================
// C11: only http(s) links
// =======================================================================================

async fn c11_unsupported_schemes_and_relative_links_are_dropped(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let mut note = s.note(
        "1",
        "alice",
        &post_url(),
        "<p><a href=\"mailto:a@mail.example\">m</a> <a href=\"ftp://files.example/x\">f</a> \
         <a href=\"/relative/path\">r</a> <a href=\"../up\">u</a> <a href=\"//evil.example/x\">p</a> \
         <a href=\"https://ok.example/\">ok</a> <img src=\"https://media.example/i.png\" alt=\"i\"></p>",
    );
    note["attachment"] = json!([
        {"type": "Document", "url": "ftp://files.example/a.png"},
        {"type": "Document", "url": "/media/b.png"},
        {"type": "Document", "url": "//evil.example/c.png"},
        {"type": "Document", "url": "mailto:a@mail.example"},
        {"type": "Document", "url": "https://media.example/d.png"},
    ]);
    s.post(&s.create(&note), "alice").await;
    let comment = s.comment(&note["id"]).await.unwrap();
    let html = &comment.content_html;
    for gone in [
        "mailto",
        "ftp",
        "relative",
        "../up",
        "evil.example",
        "<img",
        "media.example",
    ] {
        assert!(!html.contains(gone), "{gone} in {html}");
    }
    assert_eq!(html.matches("href=").count(), 1, "{html}");
    assert!(html.contains("href=\"https://ok.example/\""), "{html}");
    // The texts of the dropped links stay.
    for text in [">m<", ">f<", ">r<", ">u<", ">p<"] {
        assert!(html.contains(text), "{text} in {html}");
    }
    let urls: Vec<&str> = comment.attachments.iter().map(|a| a.url.as_str()).collect();
    assert_eq!(urls, ["https://media.example/d.png"]);
}

// =======================================================================================
// P11: Move and alsoKnownAs; P12: reports never act
// =======================================================================================

async fn p11_a_move_or_alias_claiming_a_commenter_transfers_nothing(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Mine</p>");
    s.post(&s.create(&note), "alice").await;
    let alice = s.remote.actor("alice");
    let mallory = s.remote.actor("mallory");

    // mallory's document claims to be alice too, and mallory announces the "move".
    s.remote
        .set_actor_member("mallory", "alsoKnownAs", json!([alice.clone()]));
    s.post(
        &s.activity(
            "Update",
            "mallory",
            "1",
            json!({"id": mallory, "type": "Person", "alsoKnownAs": [alice]}),
        ),
        "mallory",
    )
    .await;
    let mut moved = s.activity("Move", "mallory", "1", json!(alice));
    moved["target"] = json!(mallory);
    s.post(&moved, "mallory").await;
    // A Move in alice's name, signed by mallory.
    let mut forged = s.activity("Move", "alice", "2", json!(alice));
    forged["target"] = json!(mallory);
    assert_eq!(
        s.post_from(&s.remote, &forged, "mallory").await,
        StatusCode::UNAUTHORIZED
    );
    // Even alice's own Move (to an account that lists her) transfers nothing.
    let mut genuine = s.activity("Move", "alice", "3", json!(alice));
    genuine["target"] = json!(mallory);
    s.post(&genuine, "alice").await;

    // The comment stays alice's: mallory can neither edit nor delete it.
    let mut update = s.activity(
        "Update",
        "mallory",
        "2",
        edited(&note, "<p>Taken over</p>", "2024-06-01T00:00:00Z"),
    );
    update["object"]["attributedTo"] = json!(mallory);
    s.post(&update, "mallory").await;
    s.post(
        &s.activity("Delete", "mallory", "3", note["id"].clone()),
        "mallory",
    )
    .await;
    let comment = s.comment(&note["id"]).await.unwrap();
    assert_eq!(comment.remote_actor_id, Some(s.actor_id("alice").await));
    assert_eq!(comment.author_name, "alice display");
    assert_eq!(comment.content_html, "<p>Mine</p>");
    assert!(comment.deleted_at.is_none());
    assert!(comment.is_public());
    // Nothing moved to mallory either.
    let mallory_id = s.actor_id("mallory").await;
    assert!(
        s.all_comments()
            .await
            .iter()
            .all(|c| c.remote_actor_id != Some(mallory_id))
    );
}

async fn p12_a_report_is_queued_and_acts_on_nothing(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Reported</p>");
    s.post(&s.create(&note), "alice").await;
    let mut flag = s.activity(
        "Flag",
        "bob",
        "1",
        json!([note["id"], s.remote.actor("alice"), post_url()]),
    );
    flag["content"] = json!("Please remove");
    s.post(&flag, "bob").await;

    let flags = s.store().open_flags(Page::number(1, 50)).await.unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].content, "Please remove");
    assert_eq!(flags[0].object_ap_ids.len(), 3);
    // Nothing acted on its own: the comment is shown, alice is not blocked, the post is up.
    let comment = s.comment(&note["id"]).await.unwrap();
    assert_eq!(comment.moderation, Moderation::Approved);
    assert!(comment.deleted_at.is_none());
    assert_eq!(s.public_comments().await.len(), 1);
    let host = url::Url::parse(&s.remote.actor("alice"))
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    assert!(
        !s.store()
            .is_blocked(Some(&s.remote.actor("alice")), &host)
            .await
            .unwrap()
    );
    let post = s.store().post_by_id(s.post.id).await.unwrap().unwrap();
    assert_eq!(post.status, PostStatus::Published);
}

// =======================================================================================
// M7: the operator's decisions stick
// =======================================================================================

async fn m7_an_operator_delete_or_spam_mark_survives_replays_updates_and_refetches(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let spam = s.note("1", "alice", &post_url(), "<p>Buy now</p>");
    let hidden = s.note("2", "alice", &post_url(), "<p>Rude</p>");
    let deleted = s.note("3", "bob", &post_url(), "<p>Doxxing</p>");
    for (note, by) in [(&spam, "alice"), (&hidden, "alice"), (&deleted, "bob")] {
        s.post(&s.create(note), by).await;
    }
    let operator = ModerationDecider::Author(s.author.id);
    for (note, state, reason) in [
        (&spam, Moderation::Spam, "Marked as spam by the author"),
        (&hidden, Moderation::Hidden, "Rejected by the author"),
    ] {
        let id = s.comment(&note["id"]).await.unwrap().id;
        s.store()
            .set_comment_moderation_with_reason(id, state, reason, operator, Utc::now())
            .await
            .unwrap();
    }
    let deleted_id = s.comment(&deleted["id"]).await.unwrap().id;
    s.store().delete_comment(deleted_id).await.unwrap();

    // Replays of each Create, the same object in a new Create, and an Update by its
    // author with newer content.
    for (n, (note, by)) in [(&spam, "alice"), (&hidden, "alice"), (&deleted, "bob")]
        .into_iter()
        .enumerate()
    {
        let create = s.create(note);
        s.post(&create, by).await;
        let mut again = create.clone();
        again["id"] = json!(s.remote.url(&format!("/activities/again-{n}")));
        s.post(&again, by).await;
        s.post(
            &s.activity(
                "Update",
                by,
                &format!("m7-{n}"),
                edited(note, "<p>Innocent now</p>", "2030-01-01T00:00:00Z"),
            ),
            by,
        )
        .await;
    }
    let spam = s.comment(&spam["id"]).await.unwrap();
    assert_eq!(spam.moderation, Moderation::Spam);
    let hidden = s.comment(&hidden["id"]).await.unwrap();
    assert_eq!(hidden.moderation, Moderation::Hidden);
    let gone = s.comment(&deleted["id"]).await.unwrap();
    assert!(gone.deleted_at.is_some());
    assert_eq!(gone.content_html, "");
    assert!(s.public_comments().await.iter().all(|c| !c.is_public()));
    assert_eq!(s.store().count_public_comments(s.post.id).await.unwrap(), 0);
    let history = s.store().moderation_history(spam.id).await.unwrap();
    assert_eq!(
        history.last().map(|entry| entry.decided_by),
        Some(operator),
        "the operator's decision is the last word: {history:?}"
    );

    // A reply under the deleted comment finds it stored: nothing is refetched, and the
    // deleted comment does not come back.
    s.remote.serve("/notes/3", deleted.clone());
    let reply = s.note("4", "carol", deleted["id"].as_str().unwrap(), "<p>Re</p>");
    s.post(&s.create(&reply), "carol").await;
    assert_eq!(s.remote.gets_of("/notes/3"), 0);
    let gone = s.comment(&deleted["id"]).await.unwrap();
    assert!(gone.deleted_at.is_some());
    assert_eq!(gone.content_html, "");
    if let Some(reply) = s.comment(&reply["id"]).await {
        assert_ne!(
            reply.moderation,
            Moderation::Approved,
            "P9: held under a deleted comment"
        );
    }
}

// =======================================================================================
// P2, P6, P9: what comments_intake.rs leaves out
// =======================================================================================

async fn p2_remote_updates_and_deletes_of_our_actors_are_refused(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let urls = s.federation.urls();
    for (n, target) in [urls.blog_actor(), urls.author_actor("ana")]
        .into_iter()
        .enumerate()
    {
        let forged = json!({"id": target, "type": "Person", "name": "pwned",
                            "inbox": s.remote.url("/evil/inbox")});
        s.post(
            &s.activity("Update", "mallory", &format!("u{n}"), forged),
            "mallory",
        )
        .await;
        s.post(
            &s.activity("Delete", "mallory", &format!("d{n}"), json!(target)),
            "mallory",
        )
        .await;
        s.post(
            &s.activity(
                "Delete",
                "mallory",
                &format!("t{n}"),
                json!({"id": target, "type": "Tombstone"}),
            ),
            "mallory",
        )
        .await;
        assert!(
            !s.store().tombstone_exists(&target).await.unwrap(),
            "{target}"
        );
        if target != urls.blog_actor() {
            continue; // an author's document is served by the web layer: see below
        }
        let path = Url::parse(&target).unwrap().path().to_owned();
        let document = s.get_json(&path).await;
        assert_eq!(document["id"], json!(target));
        assert_ne!(document["name"], "pwned", "{target}");
        assert!(!document.to_string().contains("/evil/inbox"), "{target}");
    }
    let ana = s.store().author_by_username("ana").await.unwrap().unwrap();
    assert_eq!(ana.display_name, "Ana");
    assert_eq!(s.remote.all_gets(), 1, "only mallory's actor was fetched");
}

async fn p6_one_activity_through_every_inbox_is_one_comment(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let note = s.note("1", "alice", &post_url(), "<p>Hi</p>");
    let body = s.create(&note).to_string();
    for path in [
        "/inbox",
        "/blog/inbox",
        "/authors/ana/inbox",
        "/instance/inbox",
    ] {
        let request = signed_request(
            path,
            body.clone().into_bytes(),
            &format!("{}#main-key", s.remote.actor("alice")),
            &keys()[0].private_key,
        );
        let (status, answer) = s.send(request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{path}: {answer}");
    }
    assert_eq!(s.all_comments().await.len(), 1);
    let comment = s.comment(&note["id"]).await.unwrap();
    assert_eq!(
        s.store()
            .moderation_history(comment.id)
            .await
            .unwrap()
            .len(),
        1,
        "decided once"
    );
}

async fn p9_replies_to_deleted_or_draft_posts_and_removed_comments_are_not_published(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let draft = |slug: &str, status: PostStatus| PostDraft {
        author_id: s.author.id,
        title: slug.into(),
        slug: slug.into(),
        source: "x".into(),
        content_html: "<p>x</p>".into(),
        summary: None,
        tags: vec![],
        status,
        origin: PostOrigin::Local,
        published_at: Utc::now(),
        import_key: None,
    };
    let gone = s
        .store()
        .create_post(draft("gone", PostStatus::Published), Vec::new())
        .await
        .unwrap();
    s.store().delete_post(gone.id, Vec::new()).await.unwrap();
    s.store()
        .create_post(draft("unpublished", PostStatus::Draft), Vec::new())
        .await
        .unwrap();
    for (n, slug) in ["gone", "unpublished"].into_iter().enumerate() {
        let note = s.note(
            &format!("p{n}"),
            "alice",
            &format!("{OUR_BASE}/posts/{slug}"),
            "<p>Hi</p>",
        );
        s.post(&s.create(&note), "alice").await;
        assert!(s.comment(&note["id"]).await.is_none(), "{slug}");
    }

    // Under a comment the operator marked spam: stored, not published.
    let spam = s.note("s", "bob", &post_url(), "<p>Spam</p>");
    s.post(&s.create(&spam), "bob").await;
    let spam_id = s.comment(&spam["id"]).await.unwrap().id;
    s.store()
        .set_comment_moderation_with_reason(
            spam_id,
            Moderation::Spam,
            "Marked as spam by the author",
            ModerationDecider::Author(s.author.id),
            Utc::now(),
        )
        .await
        .unwrap();
    let reply = s.note("r", "alice", spam["id"].as_str().unwrap(), "<p>Re</p>");
    s.post(&s.create(&reply), "alice").await;
    let reply = s.comment(&reply["id"]).await.unwrap();
    assert_eq!(reply.moderation, Moderation::Pending);
    assert!(s.public_comments().await.is_empty());
}

async fn m4_a_limited_domain_is_held_not_refused_and_hides_nothing(db: String) {
    let s = setup(&db, CommentsModeration::Open).await;
    let before = s.note("before", "alice", &post_url(), "<p>Before the limit</p>");
    s.post(&s.create(&before), "alice").await;
    assert_eq!(
        s.comment(&before["id"]).await.unwrap().moderation,
        Moderation::Approved
    );
    let host = url::Url::parse(&s.remote.actor("alice"))
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    s.store()
        .add_block(BlockKind::Limit, &host, "new instance", Utc::now())
        .await
        .unwrap();
    let after = s.note("after", "alice", &post_url(), "<p>After the limit</p>");
    s.post(&s.create(&after), "alice").await;
    let held = s.comment(&after["id"]).await.unwrap();
    assert_eq!(held.moderation, Moderation::Pending);
    assert_eq!(
        held.moderation_reason.as_deref(),
        Some("held: the author's domain is limited")
    );
    // The earlier comment stays shown: a limit hides nothing.
    let shown: Vec<_> = s
        .public_comments()
        .await
        .into_iter()
        .map(|c| c.ap_id)
        .collect();
    assert_eq!(shown, vec![before["id"].as_str().map(str::to_owned)]);
    s.store()
        .remove_block(BlockKind::Limit, &host)
        .await
        .unwrap();
    let later = s.note("later", "alice", &post_url(), "<p>Lifted</p>");
    s.post(&s.create(&later), "alice").await;
    assert_eq!(
        s.comment(&later["id"]).await.unwrap().moderation,
        Moderation::Approved
    );
}

on_both_engines! {
    m4_a_limited_domain_is_held_not_refused_and_hides_nothing =>
        sqlite_m4_a_limited_domain_is_held_not_refused_and_hides_nothing,
        postgres_m4_a_limited_domain_is_held_not_refused_and_hides_nothing;
    c3_c4_escaped_text_and_markup_in_plain_fields_are_stored_as_text =>
        sqlite_c3_c4_escaped_text_and_markup_in_plain_fields_are_stored_as_text,
        postgres_c3_c4_escaped_text_and_markup_in_plain_fields_are_stored_as_text;
    c6_json_nested_10000_deep_gets_400_and_nothing_is_stored =>
        sqlite_c6_json_nested_10000_deep_gets_400_and_nothing_is_stored,
        postgres_c6_json_nested_10000_deep_gets_400_and_nothing_is_stored;
    c7_huge_recipient_tag_and_attachment_lists_stay_bounded =>
        sqlite_c7_huge_recipient_tag_and_attachment_lists_stay_bounded,
        postgres_c7_huge_recipient_tag_and_attachment_lists_stay_bounded;
    c9_invalid_utf8_lone_surrogates_and_a_bom_get_400 =>
        sqlite_c9_invalid_utf8_lone_surrogates_and_a_bom_get_400,
        postgres_c9_invalid_utf8_lone_surrogates_and_a_bom_get_400;
    c10_type_confusion_through_the_inbox_is_lenient_or_400_never_500 =>
        sqlite_c10_type_confusion_through_the_inbox_is_lenient_or_400_never_500,
        postgres_c10_type_confusion_through_the_inbox_is_lenient_or_400_never_500;
    c11_unsupported_schemes_and_relative_links_are_dropped =>
        sqlite_c11_unsupported_schemes_and_relative_links_are_dropped,
        postgres_c11_unsupported_schemes_and_relative_links_are_dropped;
    p11_a_move_or_alias_claiming_a_commenter_transfers_nothing =>
        sqlite_p11_a_move_or_alias_claiming_a_commenter_transfers_nothing,
        postgres_p11_a_move_or_alias_claiming_a_commenter_transfers_nothing;
    p12_a_report_is_queued_and_acts_on_nothing =>
        sqlite_p12_a_report_is_queued_and_acts_on_nothing,
        postgres_p12_a_report_is_queued_and_acts_on_nothing;
    m7_an_operator_delete_or_spam_mark_survives_replays_updates_and_refetches =>
        sqlite_m7_an_operator_delete_or_spam_mark_survives_replays_updates_and_refetches,
        postgres_m7_an_operator_delete_or_spam_mark_survives_replays_updates_and_refetches;
    p2_remote_updates_and_deletes_of_our_actors_are_refused =>
        sqlite_p2_remote_updates_and_deletes_of_our_actors_are_refused,
        postgres_p2_remote_updates_and_deletes_of_our_actors_are_refused;
    p6_one_activity_through_every_inbox_is_one_comment =>
        sqlite_p6_one_activity_through_every_inbox_is_one_comment,
        postgres_p6_one_activity_through_every_inbox_is_one_comment;
    p9_replies_to_deleted_or_draft_posts_and_removed_comments_are_not_published =>
        sqlite_p9_replies_to_deleted_or_draft_posts_and_removed_comments_are_not_published,
        postgres_p9_replies_to_deleted_or_draft_posts_and_removed_comments_are_not_published;
}
