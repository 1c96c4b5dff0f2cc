//! Fediverse replies become comments, end to end against the Fedify peer of
//! `../shared/interop/` over TLS (issue 4, "Must show"): the peer follows, receives a
//! post and replies; the reply appears on the post page (read through its
//! microformats2 with mf2py), edits show, likes and boosts are counted, the author's
//! answer written in the admin UI (driven the way a browser drives it) reaches the
//! peer with `inReplyTo` and a Mention, the peer's answer to it nests under it, and the
//! peer's Delete takes its reply off the page. With first-time moderation, the first
//! reply waits for approval and the next one is published at once. On the imported seed
//! page, the peer answers the post and an imported comment.
//!
//! The Fedify peer delivers a reply to the author of what it answers (as Mastodon
//! does): a reply to its own note would reach only itself, so the nested reply here
//! answers the author's reply, which sits under the peer's first reply.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_storage::{Moderation, Store};
use gloss_tests::interop::{
    BlogTest, FEDIFY_ACTOR, FedifyPeer, GlossSite, Interop, PATIENCE, Service, wait_until,
};
use gloss_tests::{python_has, python_json, shared_dir, tool_available};
use serde_json::Value;
use std::sync::Arc;

const PASSWORD: &str = "correct horse battery staple";
const BASE: &str = "https://blog.test";

fn random_slug(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// The value of the first hidden `<input name="NAME" value="...">` of a page.
fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The admin UI, driven as a browser drives it: pages fetched, hidden CSRF fields read,
/// forms posted with the cookies and the `Origin` a browser sends.
struct Browser {
    client: reqwest::Client,
}

impl Browser {
    async fn login(net: &Interop, username: &str) -> Browser {
        let browser = Browser {
            client: net.https_browser(),
        };
        let form = browser.page("/admin/login").await;
        let response = browser
            .post(
                "/admin/login",
                &[
                    ("csrf_token", hidden_field(&form, "csrf_token").as_str()),
                    ("username", username),
                    ("password", PASSWORD),
                    ("next", ""),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "login as {username}");
        browser
    }

    async fn page(&self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{BASE}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{BASE}{path}"))
            .header("Origin", BASE)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Opens `page`, then submits the form that posts to `action` with `fields` and the
    /// page's CSRF token; the answer must be a redirect (303), whose target is returned.
    async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> String {
        let html = self.page(page).await;
        assert!(
            html.contains(&format!("action=\"{action}\""))
                || html.contains(&format!("formaction=\"{action}\"")),
            "no form posting to {action} on {page}:\n{html}"
        );
        let token = hidden_field(&html, "csrf_token");
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        let response = self.post(action, &form).await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert_eq!(
            status,
            303,
            "POST {action}: {}",
            response.text().await.unwrap_or_default()
        );
        location
    }
}

/// The post page's comment tree as mf2py reads it (the one h-entry's `comment`s).
async fn comment_tree(https: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = https.get(url).send().await.map_err(|e| e.to_string())?;
    if response.status() != 200 {
        return Err(format!("GET {url}: {}", response.status()));
    }
    let html = response.text().await.map_err(|e| e.to_string())?;
    let parsed =
        tokio::task::block_in_place(|| python_json("mf2_tree.py", &[url], html.as_bytes()));
    let entries = parsed["entries"].as_array().cloned().unwrap_or_default();
    match entries.as_slice() {
        [entry] => Ok(entry["comments"].clone()),
        _ => Err(format!("not one h-entry: {parsed}")),
    }
}

/// The comment (at any depth) whose text contains `marker`, with its path of
/// ancestors' texts.
fn find<'a>(tree: &'a Value, marker: &str) -> Option<(&'a Value, Vec<String>)> {
    for comment in tree.as_array()? {
        let text = comment["content"].as_str().unwrap_or_default();
        if text.contains(marker) {
            return Some((comment, Vec::new()));
        }
        if let Some((found, mut path)) = find(&comment["comments"], marker) {
            path.insert(0, text.to_owned());
            return Some((found, path));
        }
    }
    None
}

/// Waits until the page's comment tree satisfies `check` (which says what it saw).
async fn wait_for_tree(
    https: &reqwest::Client,
    url: &str,
    what: &str,
    check: impl Fn(&Value) -> Result<(), String>,
) -> Value {
    wait_until(what, PATIENCE, || async {
        let tree = comment_tree(https, url).await?;
        check(&tree).map_err(|why| format!("{why}; tree: {tree}"))?;
        Ok(tree)
    })
    .await
}

async fn page_text(https: &reqwest::Client, url: &str) -> String {
    https.get(url).send().await.unwrap().text().await.unwrap()
}

/// Whether the tools this file needs are here (the peer and mf2py).
fn prerequisites() -> Option<Interop> {
    if !tool_available("python3 with mf2py", python_has("mf2py")) {
        return None;
    }
    Interop::require(&[Service::Fedify])
}

fn alice_can_log_in(site: &GlossSite) {
    site.add_author_with_password("alice", "Alice Example", PASSWORD);
}

/// The peer follows alice and receives the post `slug` she publishes; returns its URL.
async fn follow_and_publish(
    site: &GlossSite,
    peer: &FedifyPeer,
    since: usize,
    slug: &str,
) -> String {
    let alice = site.author_actor("alice");
    peer.follow("@alice@blog.test").await;
    peer.wait_for(since, "an Accept from alice", |e| {
        e["type"] == "Accept" && e["activity"]["actor"] == alice.as_str()
    })
    .await;
    let url = tokio::task::block_in_place(|| {
        site.publish(
            slug,
            "Tell me what you think",
            "alice",
            "A post to reply to.",
        )
    });
    peer.wait_for(since, "Create(Note) of the post", |e| {
        e["type"] == "Create" && e["activity"]["object"]["id"] == url.as_str()
    })
    .await;
    url
}

async fn stored(store: &Arc<dyn Store>, ap_id: &str) -> gloss_storage::Comment {
    wait_until("the reply stored", PATIENCE, || async {
        store
            .comment_by_ap_id(ap_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "not yet".to_owned())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fediverse_thread_with_edits_reactions_an_author_reply_and_a_deletion() {
    let Some(net) = prerequisites() else { return };
    let blog = tokio::task::block_in_place(|| {
        BlogTest::start_with(
            &net,
            &[("GLOSS_COMMENTS_MODERATION", "open")],
            alice_can_log_in,
        )
    });
    let site = &blog.site;
    let https = net.https_client();
    let peer = FedifyPeer::new();
    let since = peer.inbox().await.len();
    let url = follow_and_publish(site, &peer, since, &random_slug("thread")).await;

    // The peer replies: the comment is on the page, as mf2 sees it.
    let first = peer.reply(&url, "first-reply marker-one").await;
    let first = first["id"].as_str().unwrap().to_owned();
    wait_for_tree(&https, &url, "the reply on the page", |tree| {
        let (comment, path) = find(tree, "marker-one").ok_or("no marker-one")?;
        if !path.is_empty() {
            return Err("not top-level".to_owned());
        }
        let author = &comment["author"];
        if author["url"]
            .as_str()
            .is_some_and(|u| u.contains("fedify.test"))
        {
            Ok(())
        } else {
            Err(format!("author {author}"))
        }
    })
    .await;

    // It edits the reply: the page shows the new text only.
    peer.update(&first, "first-reply marker-two").await;
    wait_for_tree(&https, &url, "the edit on the page", |tree| {
        match (find(tree, "marker-two"), find(tree, "marker-one")) {
            (Some(_), None) => Ok(()),
            _ => Err("old or no text".to_owned()),
        }
    })
    .await;

    // It likes and boosts the post: the counts show.
    peer.like(&url).await;
    peer.boost(&url).await;
    wait_until("the like and boost counts", PATIENCE, || async {
        let page = page_text(&https, &url).await;
        if page.contains("1 like · 1 boost") {
            Ok(())
        } else {
            Err("no counts yet".to_owned())
        }
    })
    .await;

    // The author answers in the admin UI; the answer reaches the peer.
    let store = site.store().await;
    let comment = stored(&store, &first).await;
    let browser = Browser::login(&net, "alice").await;
    let page = format!("/admin/comments/{}", comment.id);
    let done = browser
        .submit(
            &page,
            &format!("/admin/comments/{}/reply", comment.id),
            &[("text", "Thank you, marker-author!")],
        )
        .await;
    assert!(done.ends_with("?done=replied"), "{done}");
    let create = peer
        .wait_for(since, "the author's reply", |e| {
            e["type"] == "Create" && e["activity"]["object"]["inReplyTo"] == first.as_str()
        })
        .await;
    let note = &create["activity"]["object"];
    eprintln!("the author's reply as the peer got it: {note:#}");
    assert_eq!(note["attributedTo"], site.author_actor("alice").as_str());
    assert!(
        note["content"].as_str().unwrap().contains("marker-author"),
        "{note:#}"
    );
    let tags = note["tag"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![note["tag"].clone()]);
    assert!(
        tags.iter()
            .any(|t| t["type"] == "Mention" && t["href"] == FEDIFY_ACTOR),
        "a Mention of the peer: {note:#}"
    );
    let answer = note["id"].as_str().unwrap().to_owned();
    wait_for_tree(
        &https,
        &url,
        "the author's reply under the comment",
        |tree| {
            let (_, path) = find(tree, "marker-author").ok_or("no marker-author")?;
            if path.len() == 1 && path[0].contains("marker-two") {
                Ok(())
            } else {
                Err(format!("path {path:?}"))
            }
        },
    )
    .await;

    // The peer answers the author: nested under the author's reply.
    peer.reply(&answer, "nested-reply marker-three").await;
    wait_for_tree(&https, &url, "the nested reply", |tree| {
        let (_, path) = find(tree, "marker-three").ok_or("no marker-three")?;
        if path.len() == 2 && path[0].contains("marker-two") && path[1].contains("marker-author") {
            Ok(())
        } else {
            Err(format!("path {path:?}"))
        }
    })
    .await;

    // The peer deletes its first reply: its text is gone, the thread under it stays.
    peer.delete(&first).await;
    wait_for_tree(&https, &url, "the deleted reply gone", |tree| {
        if find(tree, "marker-two").is_some() {
            return Err("still there".to_owned());
        }
        find(tree, "marker-three")
            .map(|_| ())
            .ok_or_else(|| "the nested reply went too".to_owned())
    })
    .await;
    assert!(!page_text(&https, &url).await.contains("marker-two"));
    let feed = page_text(&https, &format!("{url}/comments.atom")).await;
    assert!(!feed.contains("marker-two"), "{feed}");
    assert!(feed.contains("marker-three"), "{feed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_time_moderation_holds_the_first_reply_until_approved() {
    let Some(net) = prerequisites() else { return };
    let blog = tokio::task::block_in_place(|| {
        BlogTest::start_with(
            &net,
            &[("GLOSS_COMMENTS_MODERATION", "first-time")],
            alice_can_log_in,
        )
    });
    let site = &blog.site;
    let https = net.https_client();
    let peer = FedifyPeer::new();
    let since = peer.inbox().await.len();
    let url = follow_and_publish(site, &peer, since, &random_slug("held")).await;
    let store = site.store().await;

    // The first reply is held: stored, but on no page and in no feed.
    let first = peer.reply(&url, "held-reply marker-held").await;
    let first = first["id"].as_str().unwrap().to_owned();
    let held = stored(&store, &first).await;
    assert_eq!(held.moderation, Moderation::Pending);
    let page = page_text(&https, &url).await;
    assert!(!page.contains("marker-held"));
    assert!(page.contains("0 comments"), "held replies are not counted");
    let feed = page_text(&https, &format!("{url}/comments.atom")).await;
    assert!(!feed.contains("marker-held"), "{feed}");

    // Approving it in the moderation queue publishes it.
    let browser = Browser::login(&net, "alice").await;
    let queue = browser.page("/admin/moderation").await;
    assert!(queue.contains("marker-held"), "{queue}");
    browser
        .submit(
            "/admin/moderation",
            &format!("/admin/moderation/comments/{}/approve", held.id),
            &[("reason", "welcome"), ("back", "queue")],
        )
        .await;
    wait_for_tree(&https, &url, "the approved reply", |tree| {
        find(tree, "marker-held")
            .map(|_| ())
            .ok_or_else(|| "not shown".to_owned())
    })
    .await;

    // The same author's next reply is published at once.
    let second = peer.reply(&url, "second-reply marker-trusted").await;
    let second = second["id"].as_str().unwrap().to_owned();
    let trusted = stored(&store, &second).await;
    assert_eq!(trusted.moderation, Moderation::Approved);
    wait_for_tree(&https, &url, "the second reply", |tree| {
        find(tree, "marker-trusted")
            .map(|_| ())
            .ok_or_else(|| "not shown".to_owned())
    })
    .await;
    let feed = page_text(&https, &format!("{url}/comments.atom")).await;
    assert!(
        feed.contains("marker-held") && feed.contains("marker-trusted"),
        "{feed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_page_takes_fediverse_replies_to_the_post_and_to_an_imported_comment() {
    let Some(net) = prerequisites() else { return };
    let wxr = shared_dir().join("seed").join("mali-guerrilla-attacks.wxr");
    if !tool_available("the seed WXR", wxr.exists()) {
        return;
    }
    let blog = tokio::task::block_in_place(|| {
        BlogTest::start_with(&net, &[("GLOSS_COMMENTS_MODERATION", "open")], |site| {
            site.cli_ok(&["import", "wxr", &wxr.display().to_string()]);
        })
    });
    let site = &blog.site;
    let https = net.https_client();
    let peer = FedifyPeer::new();
    let url = site
        .post_url("mali-guerrilla-attacks-and-the-possibility-of-pockets-of-support-for-islamists");
    let store = site.store().await;
    let post = store
        .post_by_slug(url.rsplit('/').next().unwrap())
        .await
        .unwrap()
        .unwrap();
    let comments = store
        .comments_for_post(post.id, gloss_storage::CommentFilter::Public)
        .await
        .unwrap();
    let ferris = comments
        .iter()
        .find(|c| c.author_name == "J. Ferris")
        .expect("J. Ferris's imported comment");
    let ferris_url = format!("{BASE}/comments/{}", ferris.id);

    peer.reply(&url, "to-the-post marker-seed-post").await;
    peer.reply(&ferris_url, "to-ferris marker-seed-ferris")
        .await;
    wait_for_tree(&https, &url, "both replies in their places", |tree| {
        let (_, to_post) = find(tree, "marker-seed-post").ok_or("no reply to the post")?;
        let (_, to_ferris) = find(tree, "marker-seed-ferris").ok_or("no reply to J. Ferris")?;
        if !to_post.is_empty() {
            return Err(format!("the reply to the post is nested: {to_post:?}"));
        }
        match to_ferris.as_slice() {
            [_brandon, ferris] if !ferris.is_empty() => Ok(()),
            other => Err(format!("the reply to J. Ferris is at {other:?}")),
        }
    })
    .await;
    let tree = comment_tree(&https, &url).await.unwrap();
    let names: Vec<&str> = tree
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["author"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names.len(),
        7,
        "six imported top-level comments and the peer's: {names:?}"
    );
    assert_eq!(
        &names[..6],
        [
            "Brandon",
            "Andy Morgan",
            "itsme_leclerc",
            "Lee",
            "Roy",
            "Zak"
        ]
    );
    let brandon = &tree[0];
    let ferris = &brandon["comments"][0];
    assert_eq!(ferris["author"]["name"], "J. Ferris");
    let under_ferris: Vec<&str> = ferris["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        under_ferris.len(),
        2,
        "Brandon's imported answer and the peer's: {under_ferris:?}"
    );
    assert!(
        under_ferris[1].contains("marker-seed-ferris"),
        "{under_ferris:?}"
    );
    assert!(page_text(&https, &url).await.contains("10 comments"));
}
