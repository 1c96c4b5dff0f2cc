//! A newcomer's first minutes, driven the way a browser drives Gloss: `gloss serve` in an
//! empty directory with no configuration, the one-time setup link from its log, the first
//! author created in the setup form, a post written in the admin UI, and that post on the
//! home page and in the Atom feed.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use gloss_tests::{Server, TestDatabase};

/// The value of the hidden `<input name="NAME" value="...">` in a form.
fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

async fn first_run(db: TestDatabase, dir: &std::path::Path) {
    let server = Server::start(dir, &db.url);
    let link = server
        .setup_link()
        .unwrap_or_else(|| panic!("no setup link in the log:\n{}", server.log()));
    assert!(link.starts_with(&server.base_url), "{link}");

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    // The setup form creates the first author and logs them in.
    let form = browser.get(&link).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    let setup = browser
        .post(server.url("/admin/setup"))
        .header("Origin", &server.base_url)
        .form(&[
            ("csrf_token", hidden_field(&form, "csrf_token")),
            ("token", hidden_field(&form, "token")),
            ("username", "alice".to_owned()),
            ("display_name", "Alice Author".to_owned()),
            ("password", "correct horse battery".to_owned()),
            ("password_again", "correct horse battery".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert!(setup.status().is_success(), "setup: {}", setup.status());
    assert!(setup.url().path().starts_with("/admin"), "{}", setup.url());

    // The link works once.
    let again = browser.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 404);

    // Write a post in the admin UI.
    let new_post = browser
        .get(server.url("/admin/posts/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(new_post.status(), 200);
    let new_post = new_post.text().await.unwrap();
    let saved = browser
        .post(server.url("/admin/posts"))
        .header("Origin", &server.base_url)
        .form(&[
            ("csrf_token", hidden_field(&new_post, "csrf_token")),
            ("title", "Hello from the admin UI".to_owned()),
            ("slug", String::new()),
            ("tags", "Mali, Gao".to_owned()),
            ("summary", String::new()),
            (
                "body",
                "First *post*, with a [link](https://example.org/).".to_owned(),
            ),
            ("status", "published".to_owned()),
            ("action", "save".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success(), "save: {}", saved.status());

    let home = browser.get(server.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let home = home.text().await.unwrap();
    assert!(home.contains("Hello from the admin UI"), "{home}");
    assert!(home.contains("/posts/hello-from-the-admin-ui"), "{home}");

    let feed = browser.get(server.url("/feed.atom")).send().await.unwrap();
    assert_eq!(feed.status(), 200);
    assert!(
        feed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let feed = feed.text().await.unwrap();
    assert!(
        feed.contains("<title>Hello from the admin UI</title>"),
        "{feed}"
    );
    assert!(feed.contains("<name>Alice Author</name>"), "{feed}");

    let post = browser
        .get(server.url("/posts/hello-from-the-admin-ui"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let post = post.text().await.unwrap();
    assert!(post.contains("First <em>post</em>"), "{post}");
    assert!(post.contains("0 comments"), "{post}");
    drop(server);
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_first_run_in_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    first_run(TestDatabase::zero_configuration(), dir.path()).await;
    // Zero configuration: the database is gloss.db in the working directory.
    assert!(dir.path().join("gloss.db").exists());
}

#[tokio::test]
async fn postgres_first_run() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(db) = TestDatabase::postgres().await {
        first_run(db, dir.path()).await;
    }
}
