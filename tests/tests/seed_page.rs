//! The model page: the seed WordPress export imported with `gloss import wxr` into an
//! empty database, served by `gloss serve`, and read back the way readers' tools read it
//! (mf2py for microformats2, feedparser for Atom, headless Chromium for the page).
//! Runs on SQLite always and on PostgreSQL when `GLOSS_TEST_POSTGRES_URL` is set.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use gloss_tests::{
    Server, TestDatabase, get, gloss, python_has, python_json, run, shared_dir, tool_available,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SLUG: &str = "mali-guerrilla-attacks-and-the-possibility-of-pockets-of-support-for-islamists";

fn seed_wxr() -> Option<std::path::PathBuf> {
    let path = shared_dir().join("seed/mali-guerrilla-attacks.wxr");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is missing", path.display());
        None
    }
}

fn import(dir: &Path, db: &TestDatabase, wxr: &Path) -> String {
    let output = run(gloss(dir, &db.url).args(["import", "wxr"]).arg(wxr));
    assert!(output.status.success(), "import failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn names(comments: &Value) -> Vec<String> {
    comments
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["author"]["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn seed_page_is_the_model_page(db: TestDatabase) {
    let Some(wxr) = seed_wxr() else { return };
    let dir = tempfile::tempdir().unwrap();

    let first = import(dir.path(), &db, &wxr);
    assert!(first.contains("Imported 1 post"), "first import: {first}");

    let server = Server::start(dir.path(), &db.url);
    let post_url = server.url(&format!("/posts/{SLUG}"));
    let (status, page) = get(&post_url).await;
    assert_eq!(status, 200, "{page}");

    // The whole article, blockquotes included, and the comment count.
    assert!(page.contains("Since being displaced from northern Malian cities"));
    assert!(
        page.contains("we can assume that the guerrilla phase") || page.contains("guerrilla phase")
    );
    assert_eq!(
        page.matches("<blockquote").count(),
        3,
        "three quoted paragraphs"
    );
    assert!(page.contains("the guerrilla phase of the conflict, assuming it continues"));
    assert!(page.contains("8 comments"), "count shown");

    // A second import changes nothing: same report of nothing new, same page.
    let second = import(dir.path(), &db, &wxr);
    assert!(
        second.contains("Imported 0 posts"),
        "second import must create nothing: {second}"
    );
    let (_, page_again) = get(&post_url).await;
    assert_eq!(page, page_again, "the page is unchanged by a second import");

    // Microformats2, as an independent parser sees them.
    if tool_available("python3 with mf2py", python_has("mf2py")) {
        let parsed = python_json("mf2_tree.py", &[&post_url], page.as_bytes());
        let entries = parsed["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "one h-entry: {parsed}");
        let entry = &entries[0];
        assert_eq!(
            entry["name"].as_str().unwrap(),
            "Mali: Guerrilla Attacks and the Possibility of Pockets of Support for Islamists [Updated]"
        );
        assert_eq!(entry["url"].as_str().unwrap(), post_url);
        assert!(
            entry["published"]
                .as_str()
                .unwrap()
                .starts_with("2013-02-11")
        );
        let top = &entry["comments"];
        assert_eq!(
            names(top),
            [
                "Brandon",
                "Andy Morgan",
                "itsme_leclerc",
                "Lee",
                "Roy",
                "Zak"
            ],
            "six top-level comments in order"
        );
        let first = &top[0];
        assert_eq!(names(&first["comments"]), ["J. Ferris"]);
        assert_eq!(names(&first["comments"][0]["comments"]), ["Brandon"]);
        assert_eq!(
            first["comments"][0]["comments"][0]["comments"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
        for other in top.as_array().unwrap().iter().skip(1) {
            assert!(other["comments"].as_array().unwrap().is_empty());
        }
        let andy = &top[1];
        assert_eq!(
            andy["author"]["url"].as_str().unwrap(),
            "http://www.andymorganwrites.com/"
        );
        assert!(
            andy["published"]
                .as_str()
                .unwrap()
                .starts_with("2013-02-11")
        );
        assert!(andy["url"].as_str().unwrap().starts_with(&post_url));
        assert!(
            andy["content"]
                .as_str()
                .unwrap()
                .contains("Abdelnasser Garboa")
        );
    }

    // Atom feeds parse cleanly with a real feed parser.
    if tool_available("python3 with feedparser", python_has("feedparser")) {
        for (path, entries) in [
            ("/feed.atom".to_owned(), 1),
            (format!("/posts/{SLUG}/comments.atom"), 8),
        ] {
            let (status, body) = get(&server.url(&path)).await;
            assert_eq!(status, 200, "{path}");
            let feed = python_json("feed_check.py", &[], body.as_bytes());
            assert_eq!(feed["bozo"], Value::Bool(false), "{path}: {feed}");
            assert_eq!(feed["version"].as_str().unwrap(), "atom10");
            assert_eq!(feed["entries"].as_array().unwrap().len(), entries, "{path}");
        }
    }
    drop(server);
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_seed_import_gives_the_threaded_model_page() {
    let dir = tempfile::tempdir().unwrap();
    seed_page_is_the_model_page(TestDatabase::sqlite(dir.path())).await;
}

#[tokio::test]
async fn postgres_seed_import_gives_the_threaded_model_page() {
    if let Some(db) = TestDatabase::postgres().await {
        seed_page_is_the_model_page(db).await;
    }
}

/// Real headless Chromium renders the post page; the thread is there, nested, and a
/// screenshot is kept under `target/screenshots/` for people to look at.
#[tokio::test]
async fn chromium_renders_the_threaded_post_page() {
    let Some(wxr) = seed_wxr() else { return };
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|bin| {
            Command::new(bin)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !tool_available("headless Chromium", chromium.is_some()) {
        return;
    }
    let chromium = chromium.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::sqlite(dir.path());
    import(dir.path(), &db, &wxr);
    let server = Server::start(dir.path(), &db.url);
    let url = server.url(&format!("/posts/{SLUG}"));

    let profile = tempfile::tempdir().unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ];
    let dom = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        dom.contains("8 comments"),
        "rendered DOM shows the count:\n{dom}"
    );
    assert_eq!(
        dom.matches("class=\"comment ").count() + dom.matches("class=\"comment\"").count(),
        8,
        "eight comments rendered"
    );
    // The reply to the reply sits three lists deep.
    let third = dom
        .find("Unless it turns into a greater national conflict")
        .unwrap();
    let before = &dom[..third];
    let open = before.matches("<ul").count();
    let close = before.matches("</ul>").count();
    assert!(
        open - close >= 3,
        "the second-level reply is nested in three lists"
    );

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&target).unwrap();
    let shot = target.join("seed-post-page.png");
    let _ = std::fs::remove_file(&shot);
    let status = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--window-size=800,4000")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .status()
        .expect("run chromium");
    assert!(status.success());
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot written ({size} bytes)");
    eprintln!("screenshot: {}", shot.display());
}
