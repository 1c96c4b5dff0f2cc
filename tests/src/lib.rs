//! Harness for Gloss's end-to-end tests: runs the real `gloss` binary against a fresh
//! SQLite file or a fresh PostgreSQL database, talks to it over loopback HTTP, and hands
//! pages to independent tools (mf2py, feedparser, headless Chromium).
//!
//! Tools that a fresh machine may lack (PostgreSQL, Python parsers, Chromium) make a test
//! skip with a printed note, unless `GLOSS_TEST_REQUIRE_TOOLS=1` (set by `.ci/run`), in
//! which case their absence fails the test.

#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod interop;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `gloss` binary built by the same `cargo test` run (it sits next to `deps/`).
pub fn gloss_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join(format!("gloss{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests through `cargo test --workspace`, which builds it",
        bin.display()
    );
    bin
}

/// The repository's `shared/` sibling folder (seed, fixtures, interop).
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Whether missing tools must fail tests instead of skipping them.
pub fn tools_required() -> bool {
    std::env::var("GLOSS_TEST_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Skips (returns `false` after a note) or fails when a tool is missing.
pub fn tool_available(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    assert!(
        !tools_required(),
        "{what} is required (GLOSS_TEST_REQUIRE_TOOLS=1) but missing"
    );
    eprintln!("SKIPPED: {what} is not available on this machine");
    false
}

/// Whether python3 can import the given modules.
pub fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A database for one test: a SQLite file in a temporary directory, or a fresh
/// PostgreSQL database dropped on `cleanup`.
pub struct TestDatabase {
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
}

impl TestDatabase {
    pub fn sqlite(dir: &Path) -> TestDatabase {
        TestDatabase {
            url: format!("sqlite:{}", dir.join("gloss.db").display()),
            admin_url: None,
            name: None,
        }
    }

    /// No database setting at all: `gloss` uses its default, `gloss.db` in its working
    /// directory.
    pub fn zero_configuration() -> TestDatabase {
        TestDatabase {
            url: String::new(),
            admin_url: None,
            name: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (with a note) when
    /// `GLOSS_TEST_POSTGRES_URL` is unset.
    pub async fn postgres() -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var("GLOSS_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED: PostgreSQL variant (GLOSS_TEST_POSTGRES_URL is unset)");
            return None;
        };
        let name = format!("gloss_e2e_{:016x}", rand::random::<u64>());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("connect to GLOSS_TEST_POSTGRES_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let mut url = reqwest::Url::parse(&admin_url).expect("GLOSS_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Some(TestDatabase {
            url: url.to_string(),
            admin_url: Some(admin_url),
            name: Some(name),
        })
    }

    /// Drops the PostgreSQL database (best effort).
    pub async fn cleanup(self) {
        if let (Some(admin_url), Some(name)) = (self.admin_url, self.name)
            && let Ok(mut conn) =
                <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// A `gloss` command with a clean `GLOSS_*` environment, run in `dir`, on the database
/// `database_url` (empty: none given, so the default `gloss.db` in `dir`).
pub fn gloss(dir: &Path, database_url: &str) -> Command {
    let mut cmd = Command::new(gloss_binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("GLOSS_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir).stdin(Stdio::null());
    // An empty URL means "no setting at all": the zero-configuration default.
    if !database_url.is_empty() {
        cmd.env("GLOSS_DATABASE_URL", database_url);
    }
    cmd
}

/// Runs a command to completion and returns its output, printing it for the test log.
pub fn run(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("run gloss");
    eprintln!(
        "$ {:?}\n-- status: {}\n-- stdout:\n{}\n-- stderr:\n{}",
        cmd,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Installs the process-wide TLS crypto provider (ring). The workspace builds reqwest with
/// `rustls-no-provider`, so building any `reqwest::Client` panics until one is installed;
/// `Server::start_with` and `get` call this, so tests that start a server first are covered.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A port on 127.0.0.1 that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// How to run `gloss serve`: the address it binds, the public URL it gives out, and extra
/// settings as `GLOSS_*` environment variables.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub public_url: String,
    pub env: Vec<(String, String)>,
}

impl ServeOptions {
    /// A free port on 127.0.0.1, with the matching `http://` public URL.
    pub fn loopback() -> ServeOptions {
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        ServeOptions {
            listen,
            public_url: format!("http://{listen}"),
            env: Vec::new(),
        }
    }
}

/// A running `gloss serve`, killed on drop.
pub struct Server {
    child: Child,
    /// The public URL (on loopback tests, also the address it answers on).
    pub base_url: String,
    /// The address it listens on.
    pub listen: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `gloss serve` in `dir` on a free port and waits until it answers.
    pub fn start(dir: &Path, database_url: &str) -> Server {
        Server::start_with(dir, database_url, &ServeOptions::loopback())
    }

    /// Starts `gloss serve` in `dir` as `options` say and waits until it accepts
    /// connections. Panics (with its log) when it exits first.
    pub fn start_with(dir: &Path, database_url: &str, options: &ServeOptions) -> Server {
        install_crypto_provider();
        let mut cmd = gloss(dir, database_url);
        cmd.env("GLOSS_LISTEN", options.listen.to_string())
            .env("GLOSS_PUBLIC_URL", &options.public_url)
            .envs(options.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gloss serve");
        let log = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("[gloss] {line}");
                    log.lock().unwrap().push_str(&(line + "\n"));
                }
            });
        }
        let mut server = Server {
            child,
            base_url: options.public_url.trim_end_matches('/').to_owned(),
            listen: options.listen,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(options.listen).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                // Give the reader threads a moment to collect the last lines.
                std::thread::sleep(Duration::from_millis(200));
                panic!("gloss serve exited with {status}:\n{}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "gloss serve did not start:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Kills the server with SIGKILL (no graceful shutdown) and waits for it to exit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The one-time setup link from the log, waiting briefly for it.
    pub fn setup_link(&self) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if let Some(start) = log.find("/admin/setup?token=") {
                let line_start = log[..start].rfind("http").unwrap_or(start);
                let link: String = log[line_start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                    .collect();
                return Some(link);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Python helper from `tests/py/` with `input` on stdin and parses its JSON output.
pub fn python_json(script: &str, args: &[&str], input: &[u8]) -> serde_json::Value {
    use std::io::Write;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("py")
        .join(script);
    let mut child = Command::new("python3")
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python helper prints JSON")
}

/// Fetches a URL and returns (status, body).
pub async fn get(url: &str) -> (u16, String) {
    install_crypto_provider();
    let response = reqwest::get(url).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}
