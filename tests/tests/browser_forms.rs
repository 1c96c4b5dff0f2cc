//! The public forms in a real browser (headless Chromium driven through ChromeDriver's
//! WebDriver protocol), with JavaScript turned off, on the interop network: a reader
//! leaves a comment through the form on the post page, and "Reply from your fediverse
//! account" sends them to their own server (the Fedify peer's `fedify.test`) with the
//! post's id. The second is what the page's Content-Security-Policy must allow: browsers
//! apply `form-action` to the redirect that follows a form submission.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_tests::interop::{BlogTest, Interop, PATIENCE, Service, wait_until};
use gloss_tests::{free_port, tool_available};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// WebDriver's key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The absolute path of the first of `names` found on `PATH` (ChromeDriver wants the
/// browser's full path).
fn find_binary(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
            .map(|found| found.display().to_string())
    })
}

/// ChromeDriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(chromedriver: &str) -> Driver {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: gloss_tests::interop::loopback_client(),
        };
        wait_until(
            "chromedriver to listen",
            Duration::from_secs(30),
            || async {
                driver
                    .http
                    .get(format!("{}/status", driver.base))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        )
        .await;
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "WebDriver {path}: {status} {value}");
        value["value"].clone()
    }

    /// A headless Chromium session with JavaScript off, trusting the test network.
    async fn session(&self, chromium: &str) -> Session<'_> {
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--ignore-certificate-errors"],
                    "prefs": { "profile.managed_default_content_settings.javascript": 2 }
                }
            }}
        });
        let value = self
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        Session {
            driver: self,
            id: value["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn go(&self, url: &str) {
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/url", self.id),
                Some(json!({ "url": url })),
            )
            .await;
    }

    async fn url(&self) -> String {
        self.driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/url", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/source", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let value = self
            .driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element", self.id),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        value[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{element}/value", self.id),
                Some(json!({ "text": text })),
            )
            .await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{element}/click", self.id),
                Some(json!({})),
            )
            .await;
    }

    async fn close(self) {
        self.driver
            .call(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.id),
                None,
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_comments_and_is_sent_to_their_server_without_javascript() {
    let chromium = find_binary(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find_binary(&["chromedriver"]);
    if !tool_available(
        "headless Chromium and ChromeDriver",
        chromium.is_some() && chromedriver.is_some(),
    ) {
        return;
    }
    let (chromium, chromedriver) = (chromium.unwrap(), chromedriver.unwrap());
    let Some(net) = Interop::require(&[Service::Fedify]) else {
        return;
    };
    let blog = tokio::task::block_in_place(|| {
        BlogTest::start_with(&net, &[("GLOSS_COMMENTS_LOCAL", "moderated")], |site| {
            site.add_author("alice", "Alice Example")
        })
    });
    let slug = format!("browser-{:08x}", rand::random::<u32>());
    let url = tokio::task::block_in_place(|| {
        blog.site
            .publish(&slug, "Forms in a browser", "alice", "Tell me.")
    });
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(&chromium).await;

    // A comment through the form: the page answers that it awaits moderation.
    browser.go(&url).await;
    browser
        .type_into("form.comment-form input[name=name]", "Rita Reader")
        .await;
    browser
        .type_into(
            "form.comment-form textarea[name=comment]",
            "Thanks, browser-marker.",
        )
        .await;
    browser.click("form.comment-form button[type=submit]").await;
    wait_until("the moderation notice", PATIENCE, || async {
        let source = browser.source().await;
        if source.contains("awaiting moderation") {
            Ok(())
        } else {
            Err(browser.url().await)
        }
    })
    .await;
    let store = blog.site.store().await;
    let post = store.post_by_slug(&slug).await.unwrap().unwrap();
    let held = store
        .comments_for_post(post.id, gloss_storage::CommentFilter::All)
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].author_name, "Rita Reader");
    assert_eq!(held[0].moderation, gloss_storage::Moderation::Pending);

    // "Reply from your fediverse account" with a server's name: the browser ends on
    // that server, carrying the post's id.
    browser.go(&url).await;
    browser
        .type_into("form.interact-form input[name=account]", "fedify.test")
        .await;
    browser
        .click("form.interact-form button[type=submit]")
        .await;
    let landed = wait_until("the reader's server", PATIENCE, || async {
        let now = browser.url().await;
        if now.starts_with("https://fedify.test/") {
            Ok(now)
        } else {
            Err(now)
        }
    })
    .await;
    assert!(
        landed.contains("blog.test") && landed.contains(&slug),
        "{landed} should carry {url}"
    );
    browser.close().await;
}
