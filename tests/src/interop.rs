//! Harness for the federation tests: Gloss with its test-network settings, the local
//! fediverse of `../shared/interop/` (TLS, hostnames, the Fedify peer, the pasture probe),
//! and fake inboxes on loopback for the delivery tests.
//!
//! # The interop network
//! The first test that needs it runs `network.sh up`, `fedify/start.sh` and
//! `pasture/start.sh` (once per test binary; the scripts are idempotent, so a network that
//! `.ci/run` or an earlier test binary brought up is reused). Nothing stops it afterwards:
//! the peers keep running between test binaries and test runs, and
//! `bash ../shared/interop/stop.sh` takes everything down. The scripts need root; without
//! root, the scripts or the registries they install from, the tests skip with a note, or
//! fail when `GLOSS_TEST_REQUIRE_TOOLS=1`. Work files live in `$INTEROP_DIR` (default
//! `gloss-interop` in the system temporary directory), script logs in `$INTEROP_DIR/logs/`.
//!
//! # One blog.test at a time
//! `blog.test` is one fixed address (127.0.0.2:8000) and the Fedify peer keeps one inbox, so
//! every test that runs Gloss as blog.test holds an exclusive lock on
//! `$INTEROP_DIR/blog.test.lock` ([`BlogTest`] takes it): tests of one binary run in
//! parallel threads, and two `cargo test` runs may overlap.
//!
//! ```text
//!  test ──admin API (http://127.0.0.5:8000/_admin/..)──> Fedify peer ─┐
//!   │                                                                  │ HTTPS via nginx
//!   ├── gloss post publish / delete (same database) ──> gloss serve <──┘ (blog.test = 127.0.0.2)
//!   └── pasture/check.sh ──> pasture probe ──HTTPS──> gloss serve
//! ```
//!
//! # Fake inboxes
//! [`FakeInboxes`] are axum servers on loopback addresses (one per fake host) that record
//! every activity POSTed to them; [`register_followers`] writes remote actors and accepted
//! follows straight into the store before Gloss starts. Only the remote side is faked:
//! everything of Gloss (CLI, outbox, delivery worker, signatures) is the real binary.

use crate::{
    ServeOptions, Server, gloss, install_crypto_provider, run, shared_dir, tool_available,
};
use gloss_storage::{FollowState, LocalActor, RemoteActorUpsert, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Gloss's public URL on the interop network.
pub const BLOG_PUBLIC_URL: &str = "https://blog.test";
/// Where Gloss listens on the interop network (nginx terminates TLS in front of it).
pub const BLOG_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 8000));
/// The blog actor's id on blog.test.
pub const BLOG_ACTOR: &str = "https://blog.test/blog";
/// The Fedify peer's admin API (direct calls only, not through nginx).
pub const FEDIFY_ADMIN: &str = "http://127.0.0.5:8000";
/// The Fedify peer's actor.
pub const FEDIFY_ACTOR: &str = "https://fedify.test/users/probe";

/// How long a test waits for something that happens in the background (a delivery, a
/// follow) before it gives up. A deadline to fail a stuck test, not a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A plain HTTP client for loopback calls: no proxy from the environment, a timeout.
pub fn loopback_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// `$INTEROP_DIR`, or `gloss-interop` in the system temporary directory (where the
/// scripts put it too: they use `${TMPDIR:-/tmp}`).
pub fn interop_dir() -> PathBuf {
    std::env::var_os("INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gloss-interop"))
}

/// `../shared/interop/`, the scripts.
pub fn interop_scripts() -> PathBuf {
    shared_dir().join("interop")
}

/// A part of the interop network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// CA, certificates, /etc/hosts lines and nginx (`network.sh up`).
    Network,
    /// The Fedify peer (`fedify/start.sh`: Node 22 and Fedify from npm on first use).
    Fedify,
    /// The pasture signature probe (`pasture/start.sh`: fediverse-pasture from PyPI).
    Pasture,
}

impl Service {
    fn script(self) -> &'static str {
        match self {
            Service::Network => "network.sh",
            Service::Fedify => "fedify/start.sh",
            Service::Pasture => "pasture/start.sh",
        }
    }

    fn state(self) -> &'static OnceLock<Result<(), String>> {
        static NETWORK: OnceLock<Result<(), String>> = OnceLock::new();
        static FEDIFY: OnceLock<Result<(), String>> = OnceLock::new();
        static PASTURE: OnceLock<Result<(), String>> = OnceLock::new();
        match self {
            Service::Network => &NETWORK,
            Service::Fedify => &FEDIFY,
            Service::Pasture => &PASTURE,
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs one of the interop scripts, its output to `$INTEROP_DIR/logs/` (not to a pipe:
/// the daemons it starts must not hold our pipe open).
fn run_script(service: Service) -> Result<(), String> {
    let scripts = interop_scripts();
    let script = scripts.join(service.script());
    if !script.exists() {
        return Err(format!("{} is missing", script.display()));
    }
    if service == Service::Network && !is_root() {
        return Err("network.sh needs root (it edits /etc/hosts and runs nginx on :443)".into());
    }
    let dir = interop_dir();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|err| format!("cannot create {}: {err}", logs.display()))?;
    let log_path = logs.join(format!("{}.log", service.script().replace('/', "-")));
    let log = File::create(&log_path)
        .map_err(|err| format!("cannot create {}: {err}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|err| err.to_string())?;
    let started = Instant::now();
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .env("INTEROP_DIR", &dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    if service == Service::Network {
        cmd.arg("up");
    }
    let status = cmd
        .status()
        .map_err(|err| format!("cannot run bash: {err}"))?;
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!(
        "interop: {} took {:.1} s ({status})\n{}",
        service.script(),
        started.elapsed().as_secs_f64(),
        output.trim_end()
    );
    if status.success() {
        Ok(())
    } else {
        let tail: Vec<&str> = output.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!(
            "{} failed ({status}):\n{}",
            service.script(),
            tail.join("\n")
        ))
    }
}

/// The interop network, brought up.
#[derive(Debug, Clone)]
pub struct Interop {
    /// `$INTEROP_DIR`.
    pub dir: PathBuf,
    /// The test CA that signed every `*.test` certificate.
    pub ca_cert: PathBuf,
}

impl Interop {
    /// Brings up the network and `services` (each once per test binary), or returns
    /// `None` after a skip note when they cannot run here (failing instead when
    /// `GLOSS_TEST_REQUIRE_TOOLS=1`).
    pub fn require(services: &[Service]) -> Option<Interop> {
        for service in std::iter::once(Service::Network).chain(services.iter().copied()) {
            if let Err(why) = service.state().get_or_init(|| run_script(service)) {
                tool_available(&format!("the interop network ({why})"), false);
                return None;
            }
        }
        let dir = interop_dir();
        Some(Interop {
            ca_cert: dir.join("ca").join("ca.crt"),
            dir,
        })
    }

    /// An HTTPS client that trusts the test CA (and nothing else), without redirects.
    pub fn https_client(&self) -> reqwest::Client {
        install_crypto_provider();
        let pem = std::fs::read(&self.ca_cert).expect("read the test CA");
        let ca = reqwest::Certificate::from_pem(&pem).expect("the test CA is PEM");
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTPS client")
    }

    /// A browser on the test network: trusts the test CA, keeps cookies, does not
    /// follow redirects (the tests look at them).
    pub fn https_browser(&self) -> reqwest::Client {
        install_crypto_provider();
        let pem = std::fs::read(&self.ca_cert).expect("read the test CA");
        let ca = reqwest::Certificate::from_pem(&pem).expect("the test CA is PEM");
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTPS browser")
    }

    /// Waits for and takes the exclusive right to run Gloss as blog.test.
    pub fn lock_blog_test(&self) -> BlogTestLock {
        let path = self.dir.join("blog.test.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("open the blog.test lock file");
        if file.try_lock().is_err() {
            eprintln!(
                "waiting for {} (another test runs blog.test)",
                path.display()
            );
            file.lock().expect("lock blog.test");
        }
        BlogTestLock { _file: file }
    }

    /// Runs `fedify/lookup.sh TARGET` (Fedify's strict WebFinger + fetch + JSON-LD parse of
    /// an actor or object); returns whether it exited 0, and what it printed.
    pub fn fedify_lookup(&self, target: &str) -> (bool, String) {
        let output = Command::new("bash")
            .arg(interop_scripts().join("fedify/lookup.sh"))
            .arg(target)
            .env("INTEROP_DIR", &self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("run fedify/lookup.sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("$ fedify/lookup.sh {target}\n-- {}\n{text}", output.status);
        (output.status.success(), text)
    }

    /// Runs `pasture/check.sh ACTOR` and returns its table:
    /// `{alice..frank: {get_actor, post_inbox}, webfinger}`.
    pub fn pasture_check(&self, actor: &str) -> Value {
        let output = Command::new("bash")
            .arg(interop_scripts().join("pasture/check.sh"))
            .arg(actor)
            .env("INTEROP_DIR", &self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("run pasture/check.sh");
        let stdout = String::from_utf8_lossy(&output.stdout);
        eprintln!(
            "$ pasture/check.sh {actor}\n-- {}\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "pasture/check.sh failed");
        serde_json::from_str(&stdout).expect("pasture/check.sh prints JSON")
    }
}

/// The exclusive right to run Gloss as blog.test, released on drop.
#[derive(Debug)]
pub struct BlogTestLock {
    // flock(2) is released when the file is closed.
    _file: File,
}

// ---------------------------------------------------------------------------------------
// Gloss with the test-network settings
// ---------------------------------------------------------------------------------------

/// One Gloss site (a database and the settings every command of it runs with): `serve`
/// starts the server, `cli` runs the other commands against the same database, as an
/// operator would next to a running server.
#[derive(Debug, Clone)]
pub struct GlossSite {
    pub dir: PathBuf,
    pub database_url: String,
    pub options: ServeOptions,
}

impl GlossSite {
    /// A site with the test-network settings: private addresses reachable, `extra_ca`
    /// trusted, federation logged in detail.
    pub fn new(
        dir: &Path,
        database_url: &str,
        listen: SocketAddr,
        public_url: &str,
        extra_ca: Option<&Path>,
    ) -> GlossSite {
        let mut env = vec![
            (
                "GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES".to_owned(),
                "true".to_owned(),
            ),
            (
                "GLOSS_LOG".to_owned(),
                "info,gloss_federation=debug".to_owned(),
            ),
        ];
        if let Some(ca) = extra_ca {
            env.push((
                "GLOSS_FEDERATION_EXTRA_CA".to_owned(),
                ca.display().to_string(),
            ));
        }
        GlossSite {
            dir: dir.to_path_buf(),
            database_url: database_url.to_owned(),
            options: ServeOptions {
                listen,
                public_url: public_url.to_owned(),
                env,
            },
        }
    }

    /// A site on a free port of 127.0.0.1, public URL `http://127.0.0.1:PORT`.
    pub fn loopback(dir: &Path, database_url: &str) -> GlossSite {
        let options = ServeOptions::loopback();
        GlossSite::new(dir, database_url, options.listen, &options.public_url, None)
    }

    /// The same site (database, public URL) served from another address: a second
    /// process behind the same load balancer.
    pub fn on_another_port(&self) -> GlossSite {
        let mut site = self.clone();
        site.options.listen = ServeOptions::loopback().listen;
        site
    }

    /// The public URL without a trailing slash.
    pub fn base(&self) -> &str {
        self.options.public_url.trim_end_matches('/')
    }

    /// The id and permalink of a post.
    pub fn post_url(&self, slug: &str) -> String {
        format!("{}/posts/{slug}", self.base())
    }

    /// An author actor's id.
    pub fn author_actor(&self, username: &str) -> String {
        format!("{}/authors/{username}", self.base())
    }

    /// A `gloss` command with this site's settings.
    pub fn cli(&self) -> Command {
        let mut cmd = gloss(&self.dir, &self.database_url);
        cmd.env("GLOSS_PUBLIC_URL", &self.options.public_url)
            .envs(self.options.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `gloss ARGS` and panics unless it succeeds; returns its standard output.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = run(self.cli().args(args));
        assert!(output.status.success(), "gloss {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `gloss user add USERNAME --admin` (the first author is the default author).
    pub fn add_author(&self, username: &str, display_name: &str) {
        self.cli_ok(&[
            "user",
            "add",
            username,
            "--admin",
            "--display-name",
            display_name,
        ]);
    }

    /// `gloss user add USERNAME --admin --password-stdin`: an author who can log in.
    pub fn add_author_with_password(&self, username: &str, display_name: &str, password: &str) {
        use std::io::Write;
        let mut child = self
            .cli()
            .args([
                "user",
                "add",
                username,
                "--admin",
                "--display-name",
                display_name,
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gloss user add");
        if let Some(mut stdin) = child.stdin.take() {
            writeln!(stdin, "{password}").expect("write the password");
        }
        let output = child.wait_with_output().expect("gloss user add");
        assert!(
            output.status.success(),
            "gloss user add {username} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts `gloss serve`.
    pub fn serve(&self) -> Server {
        Server::start_with(&self.dir, &self.database_url, &self.options)
    }

    /// Writes a post file and runs `gloss post publish` on it (a new post, or an edit when
    /// the slug exists); returns the post's URL.
    pub fn publish(&self, slug: &str, title: &str, author: &str, markdown: &str) -> String {
        let path = self.dir.join(format!("{slug}.md"));
        let file = format!(
            "---\ntitle: {}\nslug: {slug}\nauthor: {author}\ntags: [interop]\n---\n{markdown}\n",
            serde_json::to_string(title).expect("a string is JSON")
        );
        std::fs::write(&path, file).expect("write the post file");
        self.cli_ok(&["post", "publish", &path.display().to_string()]);
        self.post_url(slug)
    }

    /// `gloss post delete SLUG`.
    pub fn delete(&self, slug: &str) {
        self.cli_ok(&["post", "delete", slug]);
    }

    /// The site's store, opened by the test itself (to fake the remote side, or to look).
    pub async fn store(&self) -> Arc<dyn Store> {
        gloss_storage::connect(&self.database_url)
            .await
            .expect("open the test database")
    }
}

/// Gloss running as `blog.test` on the interop network, on a fresh SQLite database with
/// one author, `alice`. Holds the blog.test lock until dropped.
pub struct BlogTest {
    // Fields drop in order: the server stops before the lock is released.
    pub server: Server,
    pub site: GlossSite,
    _dir: tempfile::TempDir,
    _lock: BlogTestLock,
}

impl BlogTest {
    /// Takes the blog.test lock, creates the database and author `alice`, and starts
    /// `gloss serve` on 127.0.0.2:8000 with public URL `https://blog.test`.
    pub fn start(net: &Interop) -> BlogTest {
        BlogTest::start_with(net, &[], |site| site.add_author("alice", "Alice Example"))
    }

    /// Like [`BlogTest::start`], with extra settings (`GLOSS_*` variables, for the CLI
    /// too) and `prepare` run on the new site before the server starts (instead of
    /// adding `alice`).
    pub fn start_with(
        net: &Interop,
        env: &[(&str, &str)],
        prepare: impl FnOnce(&GlossSite),
    ) -> BlogTest {
        let lock = net.lock_blog_test();
        // A leftover server would answer in ours' place: refuse to test it.
        if let Err(err) = std::net::TcpListener::bind(BLOG_LISTEN) {
            panic!(
                "{BLOG_LISTEN} (blog.test) is taken by another process ({err}); \
                 a gloss left over from an interrupted run? `ss -ltnp | grep 127.0.0.2:8000`"
            );
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let database_url = format!("sqlite:{}", dir.path().join("gloss.db").display());
        let site = GlossSite::new(
            dir.path(),
            &database_url,
            BLOG_LISTEN,
            BLOG_PUBLIC_URL,
            Some(&net.ca_cert),
        );
        let mut site = site;
        site.options.env.extend(
            env.iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        prepare(&site);
        let server = site.serve();
        BlogTest {
            server,
            site,
            _dir: dir,
            _lock: lock,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------

/// Polls `check` until it returns `Ok`, failing after `patience` with the last `Err`
/// (a description of what was seen instead). Never asserts on how long it took.
pub async fn wait_until<T, Fut>(what: &str, patience: Duration, mut check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + patience;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "gave up after {} s waiting for {what}; last seen: {seen}",
                patience.as_secs()
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Prints a summary line straight to the process's standard error. The test harness
/// captures `println!`/`eprintln!` of passing tests; this line shows in CI logs anyway.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The id of an activity's `object`, whether embedded (`{"id": ...}`) or a bare URI.
pub fn object_id(activity: &Value) -> Option<&str> {
    match &activity["object"] {
        Value::String(id) => Some(id),
        object => object["id"].as_str(),
    }
}

// ---------------------------------------------------------------------------------------
// The Fedify peer
// ---------------------------------------------------------------------------------------

/// The Fedify peer's admin API.
pub struct FedifyPeer {
    http: reqwest::Client,
}

impl Default for FedifyPeer {
    fn default() -> Self {
        FedifyPeer::new()
    }
}

impl FedifyPeer {
    pub fn new() -> FedifyPeer {
        FedifyPeer {
            http: loopback_client(),
        }
    }

    /// `POST /_admin/{action}` with a JSON body; panics unless the peer answers 200.
    pub async fn admin(&self, action: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{FEDIFY_ADMIN}/_admin/{action}"))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("Fedify peer /_admin/{action}: {err}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        eprintln!("fedify /_admin/{action} {body} -> {status} {text}");
        assert!(
            status.is_success(),
            "Fedify peer /_admin/{action} answered {status}: {text}\n-- the end of its log:\n{}",
            peer_log_tail()
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// WebFinger `handle`, then send it a Follow.
    pub async fn follow(&self, handle: &str) -> Value {
        self.admin("follow", serde_json::json!({ "handle": handle }))
            .await
    }

    /// Undo the Follow of `handle`.
    pub async fn unfollow(&self, handle: &str) -> Value {
        self.admin("unfollow", serde_json::json!({ "handle": handle }))
            .await
    }

    /// Reply to `in_reply_to`; returns `{"id": note URI, ...}`.
    pub async fn reply(&self, in_reply_to: &str, text: &str) -> Value {
        self.admin(
            "reply",
            serde_json::json!({ "inReplyTo": in_reply_to, "text": text }),
        )
        .await
    }

    /// Edit note `id` to say `text` (Update).
    pub async fn update(&self, id: &str, text: &str) -> Value {
        self.admin("update", serde_json::json!({ "id": id, "text": text }))
            .await
    }

    /// Delete note `id` (Delete with a Tombstone).
    pub async fn delete(&self, id: &str) -> Value {
        self.admin("delete", serde_json::json!({ "id": id })).await
    }

    /// Like `object`.
    pub async fn like(&self, object: &str) -> Value {
        self.admin("like", serde_json::json!({ "object": object }))
            .await
    }

    /// Boost (Announce) `object`.
    pub async fn boost(&self, object: &str) -> Value {
        self.admin("boost", serde_json::json!({ "object": object }))
            .await
    }

    /// Every verified activity the peer received, oldest first:
    /// `[{received, type, id, activity}]`.
    pub async fn inbox(&self) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{FEDIFY_ADMIN}/_admin/inbox"))
            .send()
            .await
            .expect("Fedify peer /_admin/inbox");
        let value: Value = response.json().await.expect("the peer's inbox is JSON");
        value.as_array().cloned().unwrap_or_default()
    }

    /// Waits until an entry after the first `since` of the inbox matches; returns it.
    pub async fn wait_for(
        &self,
        since: usize,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let inbox = self.inbox().await;
            let new = inbox.get(since..).unwrap_or_default();
            if let Some(entry) = new.iter().find(|entry| matches(entry)) {
                return entry.clone();
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = new
                    .iter()
                    .map(|e| format!("{} {}", e["type"], e["id"]))
                    .collect();
                panic!(
                    "gave up after {} s waiting for the Fedify peer to receive {what}; \
                     it received {seen:?}\n-- the end of its log:\n{}",
                    PATIENCE.as_secs(),
                    peer_log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The last lines of the Fedify peer's log (why it refused something).
fn peer_log_tail() -> String {
    let log =
        std::fs::read_to_string(interop_dir().join("fedify").join("peer.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

// ---------------------------------------------------------------------------------------
// Fake inboxes on loopback, for the delivery tests
// ---------------------------------------------------------------------------------------

/// One activity as a fake inbox received (and acknowledged) it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The inbox URL it was POSTed to.
    pub inbox: String,
    /// `type` of the activity.
    pub kind: String,
    /// `id` of the activity.
    pub id: String,
    pub actor: String,
    pub object_id: Option<String>,
    /// Whether it carried an HTTP signature (`Signature` or `Signature-Input`).
    pub signed: bool,
}

/// What every fake inbox does with a request; shared by all fake hosts of a test.
struct InboxBehaviour {
    /// Delay before answering, in milliseconds (a slow server).
    delay_ms: AtomicU64,
    /// Requests numbered from this many on are held unanswered (see
    /// [`FakeInboxes::answer_only`]).
    answer_limit: AtomicUsize,
    tickets: AtomicUsize,
    held: AtomicUsize,
    /// Bumped to release held requests.
    release: tokio::sync::watch::Sender<u64>,
    received: Mutex<Vec<Received>>,
}

#[derive(Clone)]
struct FakeHost {
    base: String,
    behaviour: Arc<InboxBehaviour>,
}

/// Fake remote servers: one HTTP server per loopback address, each accepting activities
/// on any path (`/inbox`, `/users/N/inbox`, ...) with `202 Accepted`.
pub struct FakeInboxes {
    behaviour: Arc<InboxBehaviour>,
    bases: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FakeInboxes {
    /// Starts one server on a free port of each address (any 127.x.y.z works on Linux).
    pub async fn start(addresses: &[Ipv4Addr]) -> FakeInboxes {
        let (release, _) = tokio::sync::watch::channel(0);
        let behaviour = Arc::new(InboxBehaviour {
            delay_ms: AtomicU64::new(0),
            answer_limit: AtomicUsize::new(usize::MAX),
            tickets: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            release,
            received: Mutex::new(Vec::new()),
        });
        let mut bases = Vec::new();
        let mut tasks = Vec::new();
        for address in addresses {
            let listener = tokio::net::TcpListener::bind((*address, 0))
                .await
                .unwrap_or_else(|err| panic!("bind a fake inbox on {address}: {err}"));
            let base = format!("http://{}", listener.local_addr().expect("local address"));
            let host = FakeHost {
                base: base.clone(),
                behaviour: Arc::clone(&behaviour),
            };
            let app = axum::Router::new().fallback(receive).with_state(host);
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
            bases.push(base);
        }
        FakeInboxes {
            behaviour,
            bases,
            tasks,
        }
    }

    /// `http://ADDRESS:PORT` of each fake host, in the order of the addresses.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// Makes every answer wait `delay` (a slow server).
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.behaviour.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Answers the next `count` requests, then holds every further one unanswered (the
    /// sender sees a request in flight) until [`FakeInboxes::release_held`].
    pub fn answer_only(&self, count: usize) {
        self.behaviour.tickets.store(0, Ordering::SeqCst);
        self.behaviour.answer_limit.store(count, Ordering::SeqCst);
    }

    /// Answers every request from now on; the held ones get `503` and are not recorded
    /// (their sender was killed meanwhile: nobody reads the answer, and the activity
    /// counts as not received).
    pub fn release_held(&self) {
        self.behaviour
            .answer_limit
            .store(usize::MAX, Ordering::SeqCst);
        self.behaviour
            .release
            .send_modify(|generation| *generation += 1);
    }

    /// How many requests were held unanswered so far.
    pub fn held(&self) -> usize {
        self.behaviour.held.load(Ordering::SeqCst)
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.behaviour
            .received
            .lock()
            .expect("inbox records")
            .clone()
    }

    /// Every received activity of `kind` with object `object`, grouped by inbox.
    pub fn by_inbox(&self, kind: &str, object: &str) -> BTreeMap<String, Vec<Received>> {
        let mut map: BTreeMap<String, Vec<Received>> = BTreeMap::new();
        for r in self.received() {
            if r.kind == kind && r.object_id.as_deref() == Some(object) {
                map.entry(r.inbox.clone()).or_default().push(r);
            }
        }
        map
    }

    /// Received activities beyond the first of each (inbox, activity id): the
    /// duplicates that at-least-once delivery allows.
    pub fn duplicates(&self) -> usize {
        let all = self.received();
        let distinct: BTreeSet<(String, String)> = all
            .iter()
            .map(|r| (r.inbox.clone(), r.id.clone()))
            .collect();
        all.len() - distinct.len()
    }
}

impl Drop for FakeInboxes {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn receive(
    axum::extract::State(host): axum::extract::State<FakeHost>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    let behaviour = &host.behaviour;
    // Subscribe before reading the limit, so a release in between is not missed.
    let mut released = behaviour.release.subscribe();
    let ticket = behaviour.tickets.fetch_add(1, Ordering::SeqCst);
    if ticket >= behaviour.answer_limit.load(Ordering::SeqCst) {
        behaviour.held.fetch_add(1, Ordering::SeqCst);
        let _ = released.changed().await;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let delay = behaviour.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let record = Received {
        inbox: format!("{}{}", host.base, uri.path()),
        kind: text(&activity["type"]),
        id: text(&activity["id"]),
        actor: text(&activity["actor"]),
        object_id: object_id(&activity).map(str::to_owned),
        signed: headers.contains_key("signature") || headers.contains_key("signature-input"),
    };
    behaviour
        .received
        .lock()
        .expect("inbox records")
        .push(record);
    StatusCode::ACCEPTED
}

/// A remote actor as a fake follower.
#[derive(Debug, Clone)]
pub struct FakeFollower {
    pub ap_id: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
}

/// Where a follower's deliveries go: its shared inbox when it has one.
impl FakeFollower {
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox.as_deref().unwrap_or(&self.inbox)
    }
}

/// A real RSA public key (the fake followers never sign anything; Gloss only stores it).
const FAKE_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnecn7JHeTm0I1KzPTomM
ua0cyZavXHo9jo21x8IooeEz5QjCYFuxxGaKCBO86dt0ezTHHNtQyuvT3z8izKAP
DKmzMnFvpkcORwPq4KYRKcnELqnle9wh+7qLFv9qQEVyGxD3WlxQUoY/GovxLNdY
S2cjHUp+A1DK6rhYIVZ8VFl7RnzR79vZ0YCbtx+TBjx80gp5h20VP7cIoP8GNTbO
qhT9E+gU3kCeSlS5xbTXa1jK06y1dtMXdMkSk6QpwS2M/LacrpwP72ts0wq2pAuZ
Z835LcIIrsLEsQec+srN3jEGwKtlq5pEYCfO9m0oB2DtpYhC6J6JWpl5/ng5DKr7
tQIDAQAB
-----END PUBLIC KEY-----
";

/// Stores `followers` as remote actors following each of `of` (accepted), the way the
/// inbox would after their Follow, without sending anything.
pub async fn register_followers(store: &dyn Store, followers: &[FakeFollower], of: &[LocalActor]) {
    let now = chrono::Utc::now();
    for (n, follower) in followers.iter().enumerate() {
        // As the inbox stores actors it fetched: the host with a non-default port.
        let host =
            gloss_storage::delivery_host(&follower.ap_id).expect("a fake actor id has a host");
        let actor = store
            .upsert_remote_actor(RemoteActorUpsert {
                ap_id: follower.ap_id.clone(),
                kind: "Person".to_owned(),
                preferred_username: Some(format!("follower{n}")),
                name: Some(format!("Follower {n}")),
                url: None,
                icon_url: None,
                inbox: follower.inbox.clone(),
                shared_inbox: follower.shared_inbox.clone(),
                public_key_id: format!("{}#main-key", follower.ap_id),
                public_key_pem: FAKE_PUBLIC_KEY_PEM.to_owned(),
                host,
                fetched_at: now,
            })
            .await
            .expect("store a fake remote actor");
        for local in of {
            store
                .upsert_follower(
                    *local,
                    actor.id,
                    &format!("{}/follows/{}", follower.ap_id, local.key()),
                    FollowState::Accepted,
                    Vec::new(),
                )
                .await
                .expect("store a fake follow");
        }
    }
}
