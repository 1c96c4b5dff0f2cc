//! The processes under measurement: the real `gloss` binary (CLI and `gloss serve`,
//! release build, next to this binary) and the bare axum "hello" server (this binary's
//! `hello` subcommand), plus their memory as the kernel reports it, and the databases
//! they run on.

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A binary that sits next to this one (`target/release/`).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .context("the benchmark binary has no directory")?
        .join(name);
    if !bin.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p gloss-bench -p gloss` (bench/run.sh does)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Kibibytes of `VmRSS` and `VmHWM` (peak) of a process, from /proc.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// One HTTP/1.1 GET over a fresh connection; the status, or `None` when the server is
/// not (yet) answering.
pub fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).ok()?;
    let text = std::str::from_utf8(&head).ok()?;
    text.get(9..12)?.parse().ok()
}

/// The size in bytes of the body of `GET path` (uncompressed: no Accept-Encoding).
pub fn body_len(addr: SocketAddr, path: &str) -> Option<usize> {
    body_len_with(addr, path, "")
}

/// The size in bytes of the body of `GET path` as transferred when the request sends
/// `Accept-Encoding: accept_encoding` (empty: none).
pub fn body_len_with(addr: SocketAddr, path: &str, accept_encoding: &str) -> Option<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let encoding = if accept_encoding.is_empty() {
        String::new()
    } else {
        format!("Accept-Encoding: {accept_encoding}\r\n")
    };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{encoding}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some(response.len().saturating_sub(head_end))
}

/// A child process, killed on drop.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `path` answers 200; the time from `since`.
    pub fn wait_ready(&mut self, path: &str, since: Instant) -> anyhow::Result<Duration> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if get_status(self.addr, path) == Some(200) {
                return Ok(since.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited with {status} before answering");
            }
            if Instant::now() > deadline {
                bail!("the server did not answer {path} with 200 within two minutes");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `gloss` binary with a clean `GLOSS_*` environment for one site.
#[derive(Debug, Clone)]
pub struct Gloss {
    pub binary: PathBuf,
    pub dir: PathBuf,
    pub database_url: String,
    pub listen: SocketAddr,
}

impl Gloss {
    pub fn public_url(&self) -> String {
        format!("http://{}", self.listen)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("GLOSS_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        cmd.current_dir(&self.dir)
            .stdin(Stdio::null())
            .env("GLOSS_DATABASE_URL", &self.database_url)
            .env("GLOSS_PUBLIC_URL", self.public_url())
            .env("GLOSS_LISTEN", self.listen.to_string())
            .env("GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES", "true")
            .env("GLOSS_LOG", "warn");
        cmd
    }

    /// Runs `gloss ARGS` to completion; fails with its output unless it succeeds.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.command().args(args).output()?;
        if !output.status.success() {
            bail!(
                "gloss {args:?} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Starts `gloss serve` (log in `serve.log` of the site's directory) without waiting.
    pub fn spawn_serve(&self) -> anyhow::Result<Running> {
        self.spawn_serve_with(&[])
    }

    /// [`Gloss::spawn_serve`] with extra settings (`GLOSS_*` variables).
    pub fn spawn_serve_with(&self, settings: &[(&str, &str)]) -> anyhow::Result<Running> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("serve.log"))?;
        let child = self
            .command()
            .envs(settings.iter().copied())
            .arg("serve")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawn gloss serve")?;
        Ok(Running {
            child,
            addr: self.listen,
        })
    }

    /// Starts `gloss serve` and waits until its home page answers.
    pub fn serve(&self) -> anyhow::Result<Running> {
        self.serve_with(&[])
    }

    /// [`Gloss::serve`] with extra settings (`GLOSS_*` variables).
    pub fn serve_with(&self, settings: &[(&str, &str)]) -> anyhow::Result<Running> {
        let mut running = self.spawn_serve_with(settings)?;
        running.wait_ready("/", Instant::now()).with_context(|| {
            format!(
                "gloss serve (log: {})",
                self.dir.join("serve.log").display()
            )
        })?;
        Ok(running)
    }
}

/// Starts this binary's bare axum "hello" server on `addr`.
pub fn spawn_hello(addr: SocketAddr) -> anyhow::Result<Running> {
    let child = Command::new(std::env::current_exe()?)
        .args(["hello", &addr.to_string()])
        .stdin(Stdio::null())
        .spawn()?;
    let mut running = Running { child, addr };
    running.wait_ready("/", Instant::now())?;
    Ok(running)
}

/// A free port on `ip`, a loopback address of the servers under test alone. The fake
/// inboxes and every client socket live on 127.0.0.1, where thousands of ephemeral
/// ports come and go: a port picked there and released could be taken before a
/// restarted server binds it again.
pub fn free_addr(ip: [u8; 4]) -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind(SocketAddr::from((ip, 0)))?.local_addr()?)
}

/// Where `gloss serve` listens, in every run.
pub const GLOSS_IP: [u8; 4] = [127, 0, 0, 77];
/// Where the hello baseline listens.
pub const HELLO_IP: [u8; 4] = [127, 0, 0, 78];

/// The database engines compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

/// A fresh PostgreSQL database, dropped by [`drop_postgres`].
pub async fn create_postgres(admin_url: &str) -> anyhow::Result<(String, String)> {
    let name = format!("gloss_bench_{:016x}", rand::random::<u64>());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&name);
    Ok((url.to_string(), name))
}

/// Sets (or resets, with `None`) `synchronous_commit` for new sessions of a database:
/// fixtures are written without waiting for the disk, measurements run with the default.
pub async fn postgres_synchronous_commit(
    admin_url: &str,
    name: &str,
    value: Option<&str>,
) -> anyhow::Result<()> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await?;
    let sql = match value {
        Some(value) => format!("ALTER DATABASE {name} SET synchronous_commit = {value}"),
        None => format!("ALTER DATABASE {name} RESET synchronous_commit"),
    };
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await?;
    Ok(())
}

pub async fn drop_postgres(admin_url: &str, name: &str) {
    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// Copies a SQLite database (and its write-ahead log, if any) from `from` to `to`.
pub fn copy_sqlite(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to)?;
    // The shared-memory index (-shm) is rebuilt from the log; it is not copied.
    let wal = PathBuf::from(format!("{}-wal", from.display()));
    if wal.exists() {
        std::fs::copy(&wal, format!("{}-wal", to.display()))?;
    }
    Ok(())
}
