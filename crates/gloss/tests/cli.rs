#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `gloss` binary as an operator uses it: each test runs the compiled binary in its
//! own temporary working directory, with no `GLOSS_*` variables but those it sets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const GLOSS: &str = env!("CARGO_BIN_EXE_gloss");

/// A temporary working directory to run `gloss` in.
struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.file(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Names in the directory, sorted.
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `gloss ARGS` with a clean environment.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(GLOSS);
        command
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        Run(self.command(args, env).output().unwrap())
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args, &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Run(child.wait_with_output().unwrap())
    }
}

/// The outcome of one run.
struct Run(Output);

impl Run {
    fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

const POST: &str = "---\ntitle: Pockets of support\ntags: [Mali, Sahel]\ndate: 2013-02-11\n---\n\nSince being displaced from northern cities...\n";

fn seed_wxr() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seed/mali-guerrilla-attacks.wxr");
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: {} is missing", path.display());
        None
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

// ---------------------------------------------------------------------------------------
// command line
// ---------------------------------------------------------------------------------------

#[test]
fn every_command_has_help() {
    let work = Workdir::new();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["config", "--help"],
        &["user", "--help"],
        &["user", "add", "--help"],
        &["post", "--help"],
        &["post", "publish", "--help"],
        &["post", "delete", "--help"],
        &["import", "--help"],
        &["import", "wxr", "--help"],
    ] {
        let run = work.run(args, &[]);
        run.assert_code(0);
        assert!(
            run.stdout().contains("Usage: gloss"),
            "{args:?}: {}",
            run.stdout()
        );
    }
    let run = work.run(&["--version"], &[]);
    run.assert_code(0);
    assert!(run.stdout().starts_with("gloss "), "{}", run.stdout());
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let work = Workdir::new();
    work.run(&["frobnicate"], &[]).assert_code(2);
    work.run(&["user", "add"], &[]).assert_code(2);
    work.run(&["post", "publish"], &[]).assert_code(2);
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}

// ---------------------------------------------------------------------------------------
// settings
// ---------------------------------------------------------------------------------------

#[test]
fn config_prints_the_defaults_as_toml() {
    let work = Workdir::new();
    let run = work.run(&["config"], &[("GLOSS_TEST_ANYTHING", "ignored")]);
    run.assert_code(0);
    let text = run.stdout();
    let table: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(table["public_url"].as_str(), Some("http://localhost:8080"));
    assert_eq!(table["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(table["database_url"].as_str(), Some("sqlite:gloss.db"));
    assert_eq!(table["posts_per_page"].as_integer(), Some(10));
    assert_eq!(table["log"].as_str(), Some("info"));
    assert_eq!(table["blog_handle"].as_str(), Some("blog"));
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}

#[test]
fn config_redacts_the_database_password_and_shows_sources() {
    let work = Workdir::new();
    work.write("gloss.toml", "posts_per_page = 5\n");
    let run = work.run(
        &["config"],
        &[(
            "GLOSS_DATABASE_URL",
            "postgres://gloss:hunter2secret@db.example:5432/gloss",
        )],
    );
    run.assert_code(0);
    let text = run.stdout();
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(
        text.contains("postgres://gloss:REDACTED@db.example:5432/gloss"),
        "{text}"
    );
    assert!(text.contains("posts_per_page = 5"), "{text}");
    assert!(text.contains("from: file gloss.toml"), "{text}");
    assert!(
        text.contains("from: environment variable GLOSS_DATABASE_URL"),
        "{text}"
    );
}

#[test]
fn an_unknown_environment_setting_is_refused_before_anything_is_written() {
    let work = Workdir::new();
    let run = work.run(&["serve"], &[("GLOSS_PUBLIK_URL", "https://blog.example")]);
    run.assert_code(2);
    let stderr = run.stderr();
    assert!(
        stderr.starts_with("error: GLOSS_PUBLIK_URL: unknown setting"),
        "{stderr}"
    );
    assert!(stderr.contains("GLOSS_PUBLIC_URL"), "{stderr}");
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}

#[test]
fn an_unsupported_database_url_is_refused_before_anything_is_written() {
    let work = Workdir::new();
    let run = work.run(&["serve"], &[("GLOSS_DATABASE_URL", "mysql://x")]);
    run.assert_code(2);
    let stderr = run.stderr();
    assert!(
        stderr.starts_with("error: GLOSS_DATABASE_URL: "),
        "{stderr}"
    );
    assert!(stderr.contains("expected sqlite:"), "{stderr}");
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}

#[test]
fn a_bad_public_url_says_what_is_expected() {
    let work = Workdir::new();
    for bad in [
        "blog.example.org",
        "ftp://blog.example.org",
        "https://x.org/?a=1",
    ] {
        let run = work.run(&["user", "add", "alice"], &[("GLOSS_PUBLIC_URL", bad)]);
        run.assert_code(2);
        let stderr = run.stderr();
        assert!(stderr.starts_with("error: GLOSS_PUBLIC_URL: "), "{stderr}");
        assert!(
            stderr.contains("; expected an absolute http or https URL"),
            "{stderr}"
        );
    }
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}

#[test]
fn an_unknown_key_in_the_settings_file_is_named() {
    let work = Workdir::new();
    work.write(
        "gloss.toml",
        "listen = \"127.0.0.1:9000\"\npublik_url = \"x\"\n",
    );
    let run = work.run(&["serve"], &[]);
    run.assert_code(2);
    let stderr = run.stderr();
    assert!(stderr.contains("gloss.toml"), "{stderr}");
    assert!(stderr.contains("publik_url"), "{stderr}");
    assert_eq!(work.entries(), ["gloss.toml"]);
}

#[test]
fn a_missing_explicit_settings_file_is_an_error_but_a_missing_default_is_not() {
    let work = Workdir::new();
    let run = work.run(&["--config", "nowhere.toml", "config"], &[]);
    run.assert_code(2);
    assert!(run.stderr().contains("nowhere.toml"), "{}", run.stderr());
    work.run(&["config"], &[]).assert_code(0);

    work.write("other.toml", "posts_per_page = 42\n");
    let run = work.run(&["config"], &[("GLOSS_CONFIG", "other.toml")]);
    run.assert_code(0);
    assert!(
        run.stdout().contains("posts_per_page = 42"),
        "{}",
        run.stdout()
    );
}

// ---------------------------------------------------------------------------------------
// user add
// ---------------------------------------------------------------------------------------

/// The password `gloss user add` printed.
fn printed_password(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("Password: "))
        .unwrap_or_else(|| panic!("no password in {stdout:?}"))
        .to_owned()
}

#[test]
fn user_add_prints_a_password_once_and_refuses_a_taken_name() {
    let work = Workdir::new();
    let run = work.run(
        &[
            "user",
            "add",
            "alice",
            "--display-name",
            "Alice A.",
            "--admin",
        ],
        &[],
    );
    run.assert_code(0);
    let password = printed_password(&run.stdout());
    assert_eq!(password.chars().count(), 20);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(work.file("gloss.db").exists());

    let run = work.run(&["user", "add", "alice"], &[]);
    run.assert_code(1);
    assert!(run.stderr().contains("taken"), "{}", run.stderr());
    assert!(!run.stdout().contains("Password"), "{}", run.stdout());

    let author = block_on(async {
        let url = format!("sqlite:{}", work.file("gloss.db").display());
        let store = gloss_storage::connect(&url).await.unwrap();
        store.author_by_username("alice").await.unwrap().unwrap()
    });
    assert_eq!(author.display_name, "Alice A.");
    assert!(author.is_admin);
}

#[test]
fn user_add_refuses_an_invalid_username_without_creating_the_database() {
    let work = Workdir::new();
    let run = work.run(&["user", "add", "not valid!"], &[]);
    run.assert_code(2);
    assert!(run.stderr().contains("username"), "{}", run.stderr());
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}

#[test]
fn user_add_reads_a_password_from_stdin() {
    let work = Workdir::new();
    let run = work.run_with_stdin(&["user", "add", "bob", "--password-stdin"], "too short\n");
    run.assert_code(2);
    assert!(run.stderr().contains("at least 10"), "{}", run.stderr());
    assert!(work.entries().is_empty(), "{:?}", work.entries());

    let run = work.run_with_stdin(
        &["user", "add", "bob", "--password-stdin"],
        "correct horse battery\n",
    );
    run.assert_code(0);
    assert!(!run.stdout().contains("Password"), "{}", run.stdout());

    let (author, hash) = block_on(async {
        let url = format!("sqlite:{}", work.file("gloss.db").display());
        let store = gloss_storage::connect(&url).await.unwrap();
        store.author_credentials("bob").await.unwrap().unwrap()
    });
    assert_eq!(author.username, "bob");
    // The blog had no admin: its first author becomes one.
    assert!(author.is_admin);
    assert!(gloss_web::admin::verify_password(
        "correct horse battery",
        &hash
    ));
    assert!(!gloss_web::admin::verify_password(
        "correct horse battery\n",
        &hash
    ));
}

// ---------------------------------------------------------------------------------------
// posts
// ---------------------------------------------------------------------------------------

#[test]
fn post_publish_creates_then_updates_and_delete_removes() {
    let work = Workdir::new();
    work.run(&["user", "add", "alice", "--admin"], &[])
        .assert_code(0);
    work.write("post.md", POST);
    let env = [("GLOSS_PUBLIC_URL", "https://blog.example.org")];

    let run = work.run(&["post", "publish", "post.md"], &env);
    run.assert_code(0);
    assert_eq!(
        run.stdout().trim(),
        "Created https://blog.example.org/posts/pockets-of-support"
    );

    work.write("post.md", &POST.replace("Since being", "Since having been"));
    let run = work.run(&["post", "publish", "post.md"], &env);
    run.assert_code(0);
    assert_eq!(
        run.stdout().trim(),
        "Updated https://blog.example.org/posts/pockets-of-support"
    );

    let post = block_on(async {
        let url = format!("sqlite:{}", work.file("gloss.db").display());
        let store = gloss_storage::connect(&url).await.unwrap();
        store
            .post_by_slug("pockets-of-support")
            .await
            .unwrap()
            .unwrap()
    });
    assert!(post.source.contains("Since having been"));
    assert_eq!(post.tags.len(), 2);
    assert_eq!(post.published_at.to_rfc3339(), "2013-02-11T00:00:00+00:00");

    let run = work.run(&["post", "delete", "pockets-of-support"], &env);
    run.assert_code(0);
    assert!(
        run.stdout().contains("pockets-of-support"),
        "{}",
        run.stdout()
    );
    let run = work.run(&["post", "delete", "pockets-of-support"], &env);
    run.assert_code(1);
    assert!(run.stderr().contains("no post"), "{}", run.stderr());
    work.run(&["post", "delete", "never-existed"], &env)
        .assert_code(1);
}

#[test]
fn an_update_keeps_the_author_unless_the_file_names_another() {
    let work = Workdir::new();
    work.run(&["user", "add", "alice", "--admin"], &[])
        .assert_code(0);
    work.run(&["user", "add", "bob"], &[]).assert_code(0);
    let author_of_post = || {
        block_on(async {
            let url = format!("sqlite:{}", work.file("gloss.db").display());
            let store = gloss_storage::connect(&url).await.unwrap();
            let post = store.post_by_slug("by-bob").await.unwrap().unwrap();
            store
                .author_by_id(post.author_id)
                .await
                .unwrap()
                .unwrap()
                .username
        })
    };

    work.write(
        "post.md",
        "---
title: By Bob
author: bob
---
First
",
    );
    work.run(&["post", "publish", "post.md"], &[])
        .assert_code(0);
    assert_eq!(author_of_post(), "bob");

    work.write(
        "post.md",
        "---
title: By Bob
---
Second
",
    );
    let run = work.run(&["post", "publish", "post.md"], &[]);
    run.assert_code(0);
    assert!(run.stdout().starts_with("Updated "), "{}", run.stdout());
    assert_eq!(author_of_post(), "bob");

    work.write(
        "post.md",
        "---
title: By Bob
author: carol
---
Third
",
    );
    let run = work.run(&["post", "publish", "post.md"], &[]);
    run.assert_code(1);
    assert!(
        run.stderr().contains("no author named \"carol\""),
        "{}",
        run.stderr()
    );
}

#[test]
fn post_publish_without_an_author_says_how_to_create_one() {
    let work = Workdir::new();
    work.write("post.md", POST);
    let run = work.run(&["post", "publish", "post.md"], &[]);
    run.assert_code(1);
    assert!(run.stderr().contains("gloss user add"), "{}", run.stderr());
}

#[test]
fn a_file_without_front_matter_leaves_the_database_untouched() {
    let work = Workdir::new();
    work.write("plain.md", "# Just a title\n\nNo front matter here.\n");
    let run = work.run(&["post", "publish", "plain.md"], &[]);
    run.assert_code(2);
    assert!(
        run.stderr().contains("plain.md has no front matter"),
        "{}",
        run.stderr()
    );
    assert!(!work.file("gloss.db").exists());

    work.run(&["user", "add", "alice"], &[]).assert_code(0);
    let before = std::fs::read(work.file("gloss.db")).unwrap();
    let entries = work.entries();
    work.run(&["post", "publish", "plain.md"], &[])
        .assert_code(2);
    assert_eq!(std::fs::read(work.file("gloss.db")).unwrap(), before);
    assert_eq!(work.entries(), entries);
}

#[test]
fn unknown_front_matter_keys_are_named() {
    let work = Workdir::new();
    work.write(
        "post.md",
        "---\ntitle: Hello\nlayout: post\ncategories: [a]\n---\nBody\n",
    );
    let run = work.run(&["post", "publish", "post.md"], &[]);
    run.assert_code(2);
    let stderr = run.stderr();
    assert!(stderr.contains("layout"), "{stderr}");
    assert!(stderr.contains("categories"), "{stderr}");
    assert!(!work.file("gloss.db").exists());
}

// ---------------------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------------------

/// Imports the seed export twice into the database at `database_url`.
fn import_seed_twice(work: &Workdir, seed: &Path, database_url: &str) {
    let env = [("GLOSS_DATABASE_URL", database_url)];
    let seed = seed.to_str().unwrap();
    let first = work.run(&["import", "wxr", seed], &env);
    first.assert_code(0);
    let first = first.stdout();
    assert!(
        first.starts_with("Imported 1 posts (0 unchanged), "),
        "{first}"
    );
    assert!(!first.contains(" 0 comments"), "{first}");
    // On an empty blog, only the export's own author is created.
    assert!(first.contains(", 1 authors;"), "{first}");

    let second = work.run(&["import", "wxr", seed], &env);
    second.assert_code(0);
    let second = second.stdout();
    assert!(
        second.starts_with("Imported 0 posts (1 unchanged), 0 comments ("),
        "{second}"
    );
    assert!(second.contains(", 0 authors"), "{second}");
}

#[test]
fn importing_the_same_export_twice_changes_nothing_the_second_time() {
    let Some(seed) = seed_wxr() else { return };
    let work = Workdir::new();
    let url = format!("sqlite:{}", work.file("gloss.db").display());
    import_seed_twice(&work, &seed, &url);
}

#[test]
fn importing_twice_into_postgres_changes_nothing_the_second_time() {
    let Some(seed) = seed_wxr() else { return };
    let Ok(admin_url) = std::env::var("GLOSS_TEST_POSTGRES_URL") else {
        println!("skipped: set GLOSS_TEST_POSTGRES_URL to run this test on PostgreSQL");
        return;
    };
    use sqlx::{AssertSqlSafe, Connection, PgConnection};
    let name = format!("gloss_test_{:016x}", rand::random::<u64>());
    block_on(async {
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
    });
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));

    let work = Workdir::new();
    let outcome = std::panic::catch_unwind(|| import_seed_twice(&work, &seed, url.as_str()));
    block_on(async {
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(err) = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await {
            eprintln!("could not drop {name}: {err}");
        }
    });
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_malformed_export_reports_line_and_column_and_imports_nothing() {
    let work = Workdir::new();
    work.run(&["user", "add", "alice"], &[]).assert_code(0);
    work.write(
        "broken.wxr",
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>x</title>\n\
         <item><title>A post</broken></item>\n</channel></rss>\n",
    );
    let run = work.run(&["import", "wxr", "broken.wxr"], &[]);
    run.assert_code(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("error: broken.wxr: line 3, column "),
        "{stderr}"
    );

    let (posts, authors) = block_on(async {
        let url = format!("sqlite:{}", work.file("gloss.db").display());
        let store = gloss_storage::connect(&url).await.unwrap();
        let posts = store
            .all_posts(gloss_storage::Page::number(1, 100))
            .await
            .unwrap();
        (posts.len(), store.count_authors().await.unwrap())
    });
    assert_eq!(posts, 0);
    assert_eq!(authors, 1);

    let run = work.run(&["import", "wxr", "missing.wxr"], &[]);
    assert_ne!(run.code(), Some(0));
    assert!(run.stderr().contains("missing.wxr"), "{}", run.stderr());
}

// ---------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The status code of `GET path` on `port`.
fn get_status(port: u16, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

#[test]
fn serve_logs_the_setup_link_answers_and_stops_on_sigterm() {
    let work = Workdir::new();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = work
        .command(&["serve"], &[("GLOSS_LISTEN", &listen)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let stderr = server.0.stderr.take().unwrap();
    let (lines_sender, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });

    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log
        .iter()
        .any(|line: &String| line.contains("listening on"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => log.push(line),
            Err(_) => panic!("the server did not start; its log:\n{}", log.join("\n")),
        }
    }
    let setup = log
        .iter()
        .find(|line| line.contains("/admin/setup?token="))
        .unwrap_or_else(|| panic!("no setup link in:\n{}", log.join("\n")));
    assert!(
        setup.contains("Open http://localhost:8080/admin/setup?token="),
        "{setup}"
    );
    assert!(log.iter().any(|line| line.contains(&listen)), "{log:?}");
    assert!(work.file("gloss.db").exists());

    assert_eq!(get_status(port, "/"), 200);

    let kill = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The reader thread ends (and the channel closes) at the end of the log.
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        rest.push(line);
    }
    assert!(rest.iter().any(|line| line.contains("stopped")), "{rest:?}");
}

#[test]
fn serve_reports_a_port_in_use_without_creating_the_database() {
    let work = Workdir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let run = work.run(&["serve"], &[("GLOSS_LISTEN", &listen)]);
    run.assert_code(1);
    assert!(
        run.stderr().contains("cannot listen on"),
        "{}",
        run.stderr()
    );
    assert!(work.entries().is_empty(), "{:?}", work.entries());
}
