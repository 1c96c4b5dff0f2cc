//! `gloss-bench`: Gloss's benchmark suite (issue 5). It measures the real paths, the
//! release `gloss` binary over loopback on SQLite and PostgreSQL, and prints every
//! figure beside a baseline measured in the same run (a bare axum server under the same
//! load generator, raw ring RSA, fsync, an unsigned fan-out), because the machines it
//! runs on are shared and absolute numbers drift. Nothing here is asserted: it reports.
//!
//! It depends on the library crates only for fixtures (the store, to register remote
//! actors and followers as the inbox would; `sign_request`, to pre-sign inbox requests)
//! and never links the web layer: the server under test is always the binary.
//!
//! ```text
//!  gloss-bench run [--smoke] [--no-postgres] [--only-inbox | --only-page]
//!    fixtures (seeded) ─► baselines ─► per engine: build db ─► gloss serve, cache off: W2
//!                                        ├─ gloss serve: W2 cached, W1 inbox (closed loop, then half rate)
//!                                        └─ restart ─► W3 fan-outs A, B, C (+ inbox p99)
//!                        ─► W5 cold start (SQLite, 100k comments) ─► table (Markdown)
//!  gloss-bench hello ADDR      the bare axum baseline server
//! ```
//!
//! `--only-inbox` keeps the hello baseline and workload 1 (with the RSA and fsync
//! baselines) and skips the rest, for quick before/after comparisons of the inbox.

mod baselines;
mod fixtures;
mod inboxes;
mod load;
mod processes;

use anyhow::Context;
use fixtures::{Follower, KeyPair, SendingActor, SignedPool};
use futures_util::StreamExt;
use gloss_storage::{FollowState, LocalActor, RemoteActorUpsert, Store};
use inboxes::{Behaviour, FakeHosts};
use load::LoadResult;
use processes::{Engine, Gloss, Running};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Sizes and time windows of one run.
#[derive(Debug, Clone)]
struct Sizes {
    smoke: bool,
    thread_comments: usize,
    followers: usize,
    shared_instances: usize,
    distinct_hosts: usize,
    sending_actors: usize,
    signed_requests: usize,
    keys: usize,
    window: Duration,
    corpus_posts: usize,
    corpus_comments_per_post: usize,
    cold_runs: usize,
    rsa_period: Duration,
    fsync_rounds: usize,
    fan_out_patience: Duration,
    /// Longest wait for the 10,000-inbox fan-out (3A); a slower one is extrapolated.
    fan_out_cap: Duration,
    /// Rate of the inbox probe whose p99 is compared idle and during the fan-out.
    probe_rate: f64,
    /// Workload 1 only (and the baselines it is compared with): `--only-inbox`.
    only_inbox: bool,
    /// `--only-page`: workload 2 (and the idle memory) alone, for quick comparisons.
    only_page: bool,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            smoke: false,
            thread_comments: 1000,
            followers: 10_000,
            shared_instances: 2000,
            distinct_hosts: 500,
            sending_actors: 1000,
            // Saturation, half load and the probes of one engine: 2,600 req/s on SQLite
            // used up 16,000 before the probes.
            signed_requests: 48_000,
            keys: 4,
            window: Duration::from_secs(5),
            corpus_posts: 100,
            corpus_comments_per_post: 1000,
            cold_runs: 7,
            rsa_period: Duration::from_millis(1500),
            fsync_rounds: 200,
            fan_out_patience: Duration::from_secs(60),
            fan_out_cap: Duration::from_secs(60),
            probe_rate: 50.0,
            only_inbox: false,
            only_page: false,
        }
    }

    fn smoke() -> Sizes {
        Sizes {
            smoke: true,
            thread_comments: 100,
            followers: 300,
            shared_instances: 100,
            distinct_hosts: 20,
            sending_actors: 50,
            signed_requests: 1500,
            keys: 2,
            window: Duration::from_millis(500),
            corpus_posts: 4,
            corpus_comments_per_post: 100,
            cold_runs: 3,
            rsa_period: Duration::from_millis(300),
            fsync_rounds: 20,
            fan_out_patience: Duration::from_secs(15),
            fan_out_cap: Duration::from_secs(15),
            probe_rate: 20.0,
            only_inbox: false,
            only_page: false,
        }
    }
}

/// One line of the result table.
struct Row {
    workload: String,
    engine: String,
    measure: String,
    value: String,
    baseline: String,
    ratio: String,
    goal: String,
    verdict: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        workload: &str,
        engine: &str,
        measure: &str,
        value: String,
        baseline: String,
        ratio: String,
        goal: &str,
        met: Option<bool>,
    ) {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        let row = Row {
            workload: workload.to_owned(),
            engine: engine.to_owned(),
            measure: measure.to_owned(),
            value,
            baseline,
            ratio,
            goal: goal.to_owned(),
            verdict: verdict.to_owned(),
        };
        eprintln!(
            "  {} | {} | {} | {} | {} | {} | {} | {}",
            row.workload,
            row.engine,
            row.measure,
            row.value,
            row.baseline,
            row.ratio,
            row.goal,
            row.verdict
        );
        self.rows.push(row);
    }

    fn note(&mut self, note: String) {
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    fn print(&self, header: &str) {
        println!("{header}");
        println!("| Workload | Engine | Measure | Value | Baseline | Ratio | Goal | Verdict |");
        println!("|---|---|---|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.workload, r.engine, r.measure, r.value, r.baseline, r.ratio, r.goal, r.verdict
            );
        }
        if !self.notes.is_empty() {
            println!();
            for note in &self.notes {
                println!("- {note}");
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn log(step: &str) {
    eprintln!("[{}] {step}", chrono::Utc::now().format("%H:%M:%S"));
}

/// Samples the RSS of `pid` every 50 ms until stopped; the largest seen, in KiB.
struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (Arc::clone(&stop), Arc::clone(&max));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some((rss, _)) = processes::memory_kib(pid) {
                    m.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler {
            stop,
            max,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.max.load(Ordering::Relaxed)
    }
}

/// Everything shared by the engines' runs.
struct Bench {
    sizes: Sizes,
    gloss_binary: PathBuf,
    work: PathBuf,
    listen: SocketAddr,
    cores: usize,
    keys: Vec<KeyPair>,
    actors: Vec<SendingActor>,
    pool: Arc<SignedPool>,
    thread_wxr: PathBuf,
    hosts_a: FakeHosts,
    hosts_b: FakeHosts,
    hosts_c: FakeHosts,
    followers_a: Vec<Follower>,
    followers_b: Vec<Follower>,
    followers_c: Vec<Follower>,
    hello_rps: f64,
    sign_us: f64,
    unsigned_a: Duration,
    postgres_admin: Option<String>,
}

fn distinct_inboxes(followers: &[Follower]) -> Vec<String> {
    let set: HashSet<&str> = followers.iter().map(Follower::delivery_inbox).collect();
    let mut list: Vec<String> = set.into_iter().map(str::to_owned).collect();
    list.sort();
    list
}

async fn register_remote_actor(
    store: &dyn Store,
    ap_id: &str,
    inbox: &str,
    shared_inbox: Option<&str>,
    key_id: &str,
    key_pem: &str,
) -> anyhow::Result<gloss_storage::RemoteActor> {
    let host = gloss_storage::delivery_host(ap_id).context("actor id without host")?;
    Ok(store
        .upsert_remote_actor(RemoteActorUpsert {
            ap_id: ap_id.to_owned(),
            kind: "Person".to_owned(),
            preferred_username: ap_id.rsplit('/').next().map(str::to_owned),
            name: None,
            url: None,
            icon_url: None,
            inbox: inbox.to_owned(),
            shared_inbox: shared_inbox.map(str::to_owned),
            public_key_id: key_id.to_owned(),
            public_key_pem: key_pem.to_owned(),
            host,
            fetched_at: chrono::Utc::now(),
        })
        .await?)
}

/// Stores `followers` as accepted followers of `author`, as the inbox would after
/// their Follow (nothing is sent).
async fn register_followers(
    store: &Arc<dyn Store>,
    followers: &[Follower],
    author: &str,
    key_pem: &str,
    concurrency: usize,
) -> anyhow::Result<()> {
    let author = store
        .author_by_username(author)
        .await?
        .context("author missing")?;
    let local = LocalActor::Author(author.id);
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(followers.iter())
        .map(|f| {
            let store = Arc::clone(store);
            async move {
                let actor = register_remote_actor(
                    store.as_ref(),
                    &f.ap_id,
                    &f.inbox,
                    f.shared_inbox.as_deref(),
                    &format!("{}#main-key", f.ap_id),
                    key_pem,
                )
                .await?;
                store
                    .upsert_follower(
                        local,
                        actor.id,
                        &format!("{}/follows/{}", f.ap_id, local.key()),
                        FollowState::Accepted,
                        Vec::new(),
                    )
                    .await?;
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// The hello baseline: saturation and latency at half of it.
async fn hello_baseline(sizes: &Sizes, report: &mut Report) -> anyhow::Result<f64> {
    let addr = processes::free_addr(processes::HELLO_IP)?;
    let server = processes::spawn_hello(addr)?;
    let source = load::repeat_get(addr, "/");
    let _warm = load::saturate(addr, Arc::clone(&source), sizes.window / 4).await;
    let sat = load::saturate(addr, Arc::clone(&source), sizes.window).await;
    let half = load::fixed_rate(addr, source, sat.rps() / 2.0, sizes.window, None).await;
    server.stop();
    report.row(
        "baseline",
        "-",
        "bare axum hello, saturation",
        format!("{:.0} req/s", sat.rps()),
        "-".into(),
        "1".into(),
        "-",
        None,
    );
    report.row(
        "baseline",
        "-",
        "bare axum hello, p50 / p99 at half load",
        format!(
            "{:.2} / {:.2} ms",
            half.quantile_ms(0.5),
            half.quantile_ms(0.99)
        ),
        "-".into(),
        "-".into(),
        "-",
        None,
    );
    Ok(sat.rps())
}

fn note_errors(report: &mut Report, what: &str, result: &LoadResult) {
    if result.errors > 0 {
        report.note(format!(
            "{what}: {} of {} requests failed (first: {})",
            result.errors,
            result.errors + result.ok,
            result.first_error.as_deref().unwrap_or("?")
        ));
    }
}

/// What workload 2 measured on one server.
struct PageFigures {
    /// Bytes of HTML, and bytes sent to a browser (which accepts gzip).
    html_bytes: usize,
    sent_bytes: usize,
    saturation: LoadResult,
    half: LoadResult,
}

/// Workload 2 on the running server: saturation, then latency at half of it, with the
/// requests a browser sends (`Accept-Encoding: gzip, deflate, br`).
async fn measure_page(
    bench: &Bench,
    addr: SocketAddr,
    path: &str,
    report: &mut Report,
    what: &str,
) -> PageFigures {
    let sizes = &bench.sizes;
    let html_bytes = processes::body_len(addr, path).unwrap_or(0);
    let sent_bytes =
        processes::body_len_with(addr, path, load::BROWSER_ACCEPT_ENCODING).unwrap_or(0);
    let page = load::repeat_browser_get(addr, path);
    let _warm = load::saturate(addr, Arc::clone(&page), sizes.window / 4).await;
    let saturation = load::saturate(addr, Arc::clone(&page), sizes.window).await;
    note_errors(report, &format!("{what} page saturation"), &saturation);
    let half = load::fixed_rate(addr, page, saturation.rps() / 2.0, sizes.window, None).await;
    note_errors(report, &format!("{what} page at half load"), &half);
    PageFigures {
        html_bytes,
        sent_bytes,
        saturation,
        half,
    }
}

/// The two rows of one workload 2 measurement.
#[allow(clippy::too_many_arguments)]
fn page_rows(
    bench: &Bench,
    report: &mut Report,
    engine: &str,
    workload: &str,
    goal: &str,
    goal_ratio: f64,
    figures: &PageFigures,
) {
    let ratio = figures.saturation.rps() / bench.hello_rps;
    report.row(
        workload,
        engine,
        &format!(
            "{} threaded comments ({} KiB of HTML, {} KiB sent), saturation",
            bench.sizes.thread_comments,
            figures.html_bytes / 1024,
            figures.sent_bytes / 1024
        ),
        format!("{:.0} req/s", figures.saturation.rps()),
        format!("hello {:.0} req/s", bench.hello_rps),
        format!("{ratio:.4}"),
        goal,
        Some(ratio >= goal_ratio),
    );
    report.row(
        workload,
        engine,
        "p50 / p99 at half load",
        format!(
            "{:.2} / {:.2} ms",
            figures.half.quantile_ms(0.5),
            figures.half.quantile_ms(0.99)
        ),
        "-".into(),
        "-".into(),
        "-",
        None,
    );
}

/// Writes a post file and publishes it with the CLI, as an author would.
fn publish(gloss: &Gloss, slug: &str, author: &str) -> anyhow::Result<Instant> {
    let path = gloss.dir.join(format!("{slug}.md"));
    std::fs::write(
        &path,
        format!(
            "---\ntitle: Fan-out {slug}\nslug: {slug}\nauthor: {author}\ntags: [bench]\n---\nA post for {author}'s followers.\n"
        ),
    )?;
    let start = Instant::now();
    gloss.cli(&["post", "publish", &path.display().to_string()])?;
    Ok(start)
}

/// Builds the engine's database: authors, the thread, remote actors and followers.
/// `postgres` is the fresh database's URL and name (created by the caller, which drops it
/// whatever happens here).
async fn build_database(
    bench: &Bench,
    engine: Engine,
    dir: &Path,
    postgres: Option<&(String, String)>,
) -> anyhow::Result<Gloss> {
    let shm = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
    let (build_url, pg_name) = match (engine, postgres) {
        (Engine::Sqlite, _) => (
            format!("sqlite:{}", shm.path().join("gloss.db").display()),
            None,
        ),
        (Engine::Postgres, Some((url, name))) => {
            let admin = bench
                .postgres_admin
                .as_deref()
                .context("no PostgreSQL URL")?;
            processes::postgres_synchronous_commit(admin, name, Some("off")).await?;
            (url.clone(), Some(name.clone()))
        }
        (Engine::Postgres, None) => anyhow::bail!("no PostgreSQL database"),
    };
    let gloss = Gloss {
        binary: bench.gloss_binary.clone(),
        dir: dir.to_path_buf(),
        database_url: build_url.clone(),
        listen: bench.listen,
    };
    for (user, name) in [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")] {
        gloss.cli(&["user", "add", user, "--admin", "--display-name", name])?;
    }
    gloss.cli(&["import", "wxr", &bench.thread_wxr.display().to_string()])?;
    let store = gloss_storage::connect(&build_url).await?;
    let concurrency = if engine == Engine::Sqlite { 1 } else { 8 };
    let follower_key = bench.keys.first().context("no key")?.public_pem.clone();
    for actor in &bench.actors {
        let key = bench.keys.get(actor.key).context("key")?;
        let inbox = format!("{}/inbox", actor.ap_id);
        register_remote_actor(
            store.as_ref(),
            &actor.ap_id,
            &inbox,
            None,
            &actor.key_id,
            &key.public_pem,
        )
        .await?;
    }
    if bench.sizes.only_inbox {
        drop(store);
        return finish_database(bench, engine, dir, shm, gloss, pg_name).await;
    }
    register_followers(
        &store,
        &bench.followers_a,
        "alice",
        &follower_key,
        concurrency,
    )
    .await?;
    register_followers(
        &store,
        &bench.followers_b,
        "bob",
        &follower_key,
        concurrency,
    )
    .await?;
    register_followers(
        &store,
        &bench.followers_c,
        "carol",
        &follower_key,
        concurrency,
    )
    .await?;
    drop(store);
    finish_database(bench, engine, dir, shm, gloss, pg_name).await
}

/// Moves the SQLite database built in memory-backed storage to the disk (or restores
/// PostgreSQL's durable commits) once the fixtures are written.
async fn finish_database(
    bench: &Bench,
    engine: Engine,
    dir: &Path,
    shm: tempfile::TempDir,
    mut gloss: Gloss,
    pg_name: Option<String>,
) -> anyhow::Result<Gloss> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    match engine {
        Engine::Sqlite => {
            let on_disk = dir.join("gloss.db");
            processes::copy_sqlite(&shm.path().join("gloss.db"), &on_disk)?;
            gloss.database_url = format!("sqlite:{}", on_disk.display());
        }
        Engine::Postgres => {
            if let (Some(admin), Some(name)) = (bench.postgres_admin.as_deref(), &pg_name) {
                processes::postgres_synchronous_commit(admin, name, None).await?;
            }
        }
    }
    Ok(gloss)
}

/// Workloads 1 to 4 on one engine.
async fn run_engine(bench: &Bench, engine: Engine, report: &mut Report) -> anyhow::Result<()> {
    let e = engine.name();
    let dir = bench.work.join(e);
    std::fs::create_dir_all(&dir)?;
    log(&format!("{e}: building the database"));
    let started = Instant::now();
    let postgres = match (engine, bench.postgres_admin.as_deref()) {
        (Engine::Postgres, Some(admin)) => Some(processes::create_postgres(admin).await?),
        _ => None,
    };
    let result = async {
        let gloss = build_database(bench, engine, &dir, postgres.as_ref()).await?;
        report.note(format!(
            "{e}: fixtures written in {:.1} s (not measured)",
            started.elapsed().as_secs_f64()
        ));
        measure_engine(bench, engine, &gloss, report).await
    }
    .await;
    if let (Some(admin), Some((_, name))) = (bench.postgres_admin.as_deref(), &postgres) {
        processes::drop_postgres(admin, name).await;
    }
    result
}

async fn measure_engine(
    bench: &Bench,
    engine: Engine,
    gloss: &Gloss,
    report: &mut Report,
) -> anyhow::Result<()> {
    let sizes = &bench.sizes;
    let e = engine.name();
    let addr = bench.listen;
    let page_path = format!("/posts/{}", fixtures::THREAD_SLUG);

    // Workload 2, uncached: a server started with the rendered-page cache off renders
    // every request.
    let mut uncached_rss = 0;
    if !sizes.only_inbox {
        log(&format!("{e}: workload 2, the post page (cache off)"));
        let server = gloss.serve_with(&[("GLOSS_PAGE_CACHE_BYTES", "0")])?;
        let sampler = RssSampler::start(server.pid());
        let uncached =
            measure_page(bench, addr, &page_path, report, &format!("{e} uncached")).await;
        uncached_rss = sampler.finish();
        server.stop();
        page_rows(
            bench,
            report,
            e,
            "2 post page (uncached)",
            ">= 0.015 x hello",
            0.015,
            &uncached,
        );
    }

    let server = gloss.serve()?;
    tokio::time::sleep(if sizes.smoke {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(1)
    })
    .await;
    let idle_rss = processes::memory_kib(server.pid()).map_or(0, |m| m.0);
    report.row(
        "4 memory",
        e,
        "idle RSS",
        format!("{:.1} MiB", mib(idle_rss)),
        "-".into(),
        "-".into(),
        "<= 16 MiB",
        Some(mib(idle_rss) <= 16.0),
    );
    let sampler = RssSampler::start(server.pid());

    if !sizes.only_inbox {
        // Workload 2, cached: the same page from the default server (the cache is on).
        log(&format!("{e}: workload 2, the post page (cache on)"));
        let cached = measure_page(bench, addr, &page_path, report, &format!("{e} cached")).await;
        page_rows(
            bench,
            report,
            e,
            "2 post page (cached)",
            ">= 0.25 x hello",
            0.25,
            &cached,
        );
    }
    if !sizes.only_page {
        inbox_workload(bench, engine, report).await;
    }
    let load_rss = sampler.finish().max(uncached_rss);
    report.row(
        "4 memory",
        e,
        if sizes.only_inbox {
            "RSS under load (max, workload 1)"
        } else if sizes.only_page {
            "RSS under load (max, workload 2, cache off and on)"
        } else {
            "RSS under load (max, workloads 1-2, cache off and on)"
        },
        format!("{:.1} MiB", mib(load_rss)),
        "-".into(),
        "-".into(),
        "<= 64 MiB",
        Some(mib(load_rss) <= 64.0),
    );
    if sizes.only_inbox || sizes.only_page {
        server.stop();
        return Ok(());
    }
    let source = bench.pool.source();
    log(&format!("{e}: workload 3, inbox probe at idle"));
    let idle_probe = load::fixed_rate(
        addr,
        Arc::clone(&source),
        sizes.probe_rate,
        sizes.window,
        None,
    )
    .await;
    note_errors(report, &format!("{e} idle inbox probe"), &idle_probe);
    server.stop();
    fan_outs(bench, engine, gloss, report, idle_probe).await
}

/// Workload 1: signed inbox requests, verified and committed.
async fn inbox_workload(bench: &Bench, engine: Engine, report: &mut Report) {
    let sizes = &bench.sizes;
    let e = engine.name();
    let addr = bench.listen;
    log(&format!("{e}: workload 1, the signed inbox"));
    bench.pool.rewind();
    let source = bench.pool.source();
    let sat = load::saturate(addr, Arc::clone(&source), sizes.window).await;
    note_errors(report, &format!("{e} inbox saturation"), &sat);
    let exhausted = bench.pool.used() >= bench.pool.len();
    let half = load::fixed_rate(
        addr,
        Arc::clone(&source),
        sat.rps() / 2.0,
        sizes.window,
        None,
    )
    .await;
    note_errors(report, &format!("{e} inbox at half load"), &half);
    if !exhausted && bench.pool.used() >= bench.pool.len() {
        report.note(format!(
            "{e}: the pre-signed inbox requests ran out during the half-load run"
        ));
    }
    let ratio = sat.rps() / bench.hello_rps;
    report.row(
        "1 signed inbox (durable)",
        e,
        &format!(
            "Likes from {} actors, saturation{}",
            bench.actors.len(),
            if exhausted {
                " (request supply ran out)"
            } else {
                ""
            }
        ),
        format!("{:.0} req/s", sat.rps()),
        format!("hello {:.0} req/s", bench.hello_rps),
        format!("{ratio:.3}"),
        ">= 0.12 x hello",
        Some(ratio >= 0.12),
    );
    report.row(
        "1 signed inbox (durable)",
        e,
        "p50 / p99 at half load",
        format!(
            "{:.1} / {:.1} ms",
            half.quantile_ms(0.5),
            half.quantile_ms(0.99)
        ),
        "-".into(),
        "-".into(),
        "p99 <= 10 ms",
        Some(half.quantile_ms(0.99) <= 10.0),
    );
}

/// Workload 3: the fan-outs, each on a freshly started server.
async fn fan_outs(
    bench: &Bench,
    engine: Engine,
    gloss: &Gloss,
    report: &mut Report,
    idle_probe: LoadResult,
) -> anyhow::Result<()> {
    let sizes = &bench.sizes;
    let e = engine.name();
    let addr = bench.listen;
    let source = bench.pool.source();

    // Workload 3. Each post is published with the CLI while the server is stopped, and
    // the server then started: its delivery worker claims at once. (The CLI cannot wake
    // a running server's worker, which polls every 5 s; that wait is not the fan-out.)
    // 3A runs last, on the process started for it, so its VmHWM is the fan-out's peak.
    log(&format!("{e}: workload 3B, shared inboxes"));
    let inboxes_b = distinct_inboxes(&bench.followers_b);
    bench.hosts_b.tracker.reset(inboxes_b.len());
    let published = publish(gloss, "fan-out-b", "bob")?;
    let server = gloss.serve()?;
    let arrivals_b = bench.hosts_b.tracker.wait(sizes.fan_out_patience).await;
    server.stop();
    let b_time = fan_out_rows(
        report,
        e,
        &format!(
            "3B fan-out, {} followers on {} shared inboxes",
            bench.followers_b.len(),
            inboxes_b.len()
        ),
        &arrivals_b,
        inboxes_b.len(),
        published,
        None,
        Duration::ZERO,
        Some(1.5),
    );

    log(&format!("{e}: workload 3C, 1% slow and 1% failing"));
    let inboxes_c = distinct_inboxes(&bench.followers_c);
    let healthy: Vec<&String> = inboxes_c
        .iter()
        .filter(|i| bench.hosts_c.is_healthy(i))
        .collect();
    bench.hosts_c.tracker.reset(healthy.len());
    bench.hosts_c.relapse();
    let published = publish(gloss, "fan-out-c", "carol")?;
    let server = gloss.serve()?;
    let arrivals_c = bench.hosts_c.tracker.wait(sizes.fan_out_patience).await;
    server.stop();
    bench.hosts_c.recover();
    let c_time = span(&arrivals_c);
    let done = arrivals_c.inboxes >= healthy.len();
    report.row(
        "3C fan-out, 1% slow (5 s), 1% failing",
        e,
        &format!(
            "{} healthy of {} inboxes reached{}",
            healthy.len(),
            inboxes_c.len(),
            if done { "" } else { " (NOT all)" }
        ),
        format!("{:.2} s", c_time.as_secs_f64()),
        format!("3B {:.2} s", b_time.as_secs_f64()),
        format!("{:.2}", c_time.as_secs_f64() / b_time.as_secs_f64()),
        "<= ~1 x 3B",
        Some(done && c_time.as_secs_f64() <= 1.1 * b_time.as_secs_f64()),
    );
    if let Some(first) = arrivals_c.first {
        report.note(format!(
            "{e} 3C: the first delivery arrived {:.2} s after `gloss post publish` started",
            first.saturating_duration_since(published).as_secs_f64()
        ));
    }

    log(&format!("{e}: workload 3A, distinct inboxes"));
    let inboxes_a = distinct_inboxes(&bench.followers_a);
    bench.hosts_a.tracker.reset(inboxes_a.len());
    let published = publish(gloss, "fan-out-a", "alice")?;
    let server = gloss.serve()?;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(load::fixed_rate(
        addr,
        Arc::clone(&source),
        sizes.probe_rate,
        sizes.fan_out_cap,
        Some(Arc::clone(&stop)),
    ));
    let arrivals = bench.hosts_a.tracker.wait(sizes.fan_out_cap).await;
    stop.store(true, Ordering::Relaxed);
    let busy_probe = probe.await.unwrap_or_default();
    note_errors(
        report,
        &format!("{e} inbox probe during the fan-out"),
        &busy_probe,
    );
    let hwm = processes::memory_kib(server.pid()).map_or(0, |m| m.1);
    server.stop();
    let ceiling = inboxes_a.len() as f64 * bench.sign_us / 1e6 / bench.cores as f64;
    fan_out_rows(
        report,
        e,
        &format!("3A fan-out, {} distinct inboxes", inboxes_a.len()),
        &arrivals,
        inboxes_a.len(),
        published,
        Some((ceiling, 1.3)),
        bench.unsigned_a,
        None,
    );
    let (idle_p99, busy_p99) = (idle_probe.quantile_ms(0.99), busy_probe.quantile_ms(0.99));
    report.row(
        "3A fan-out",
        e,
        &format!(
            "inbox p99 during the fan-out ({} req/s probe)",
            sizes.probe_rate
        ),
        format!("{busy_p99:.1} ms"),
        format!("idle p99 {idle_p99:.1} ms"),
        format!("{:.2}", busy_p99 / idle_p99),
        "<= 2 x idle",
        Some(busy_p99 <= 2.0 * idle_p99),
    );
    report.row(
        "4 memory",
        e,
        &format!(
            "peak RSS (VmHWM) of a process doing the {}-inbox fan-out",
            inboxes_a.len()
        ),
        format!("{:.1} MiB", mib(hwm)),
        "-".into(),
        "-".into(),
        "<= 128 MiB",
        Some(mib(hwm) <= 128.0),
    );
    Ok(())
}

/// From the first arrival to the moment the last expected inbox was reached.
fn span(arrivals: &inboxes::Arrivals) -> Duration {
    match (arrivals.first, arrivals.done.or(arrivals.last)) {
        (Some(first), Some(end)) => end.saturating_duration_since(first),
        _ => Duration::ZERO,
    }
}

#[allow(clippy::too_many_arguments)]
fn fan_out_rows(
    report: &mut Report,
    engine: &str,
    what: &str,
    arrivals: &inboxes::Arrivals,
    expected: usize,
    published: Instant,
    ceiling: Option<(f64, f64)>,
    unsigned: Duration,
    absolute_goal_s: Option<f64>,
) -> Duration {
    let measured = span(arrivals);
    let complete = arrivals.inboxes >= expected;
    // A fan-out cut off by the time cap is extrapolated from its rate so far.
    let time = if complete || arrivals.inboxes == 0 {
        measured
    } else {
        measured.mul_f64(expected as f64 / arrivals.inboxes as f64)
    };
    let measure = format!(
        "{what}: first to last arrival{}",
        if complete {
            String::new()
        } else {
            format!(
                " (cut off: {} of {expected} reached in {:.1} s; time extrapolated)",
                arrivals.inboxes,
                measured.as_secs_f64()
            )
        }
    );
    let seconds = time.as_secs_f64();
    match (ceiling, absolute_goal_s) {
        (Some((ceiling, limit)), _) => report.row(
            "3 fan-out",
            engine,
            &measure,
            format!("{seconds:.2} s"),
            format!(
                "signing ceiling {ceiling:.2} s; unsigned {:.2} s",
                unsigned.as_secs_f64()
            ),
            format!("{:.2}", seconds / ceiling),
            &format!("<= {limit} x ceiling"),
            Some(seconds <= limit * ceiling),
        ),
        (None, Some(goal)) => report.row(
            "3 fan-out",
            engine,
            &measure,
            format!("{seconds:.2} s"),
            "-".into(),
            "-".into(),
            &format!("<= {goal} s"),
            Some(seconds <= goal),
        ),
        (None, None) => {}
    }
    if let Some(first) = arrivals.first {
        report.note(format!(
            "{engine} {what}: the first delivery arrived {:.2} s after `gloss post publish` started \
             (CLI run and server start, not counted above); {} requests reached {} inboxes",
            first.saturating_duration_since(published).as_secs_f64(),
            arrivals.requests,
            arrivals.inboxes
        ));
    }
    time
}

/// Workload 5: cold start to the first 200 on a database with many comments.
async fn cold_start(bench: &Bench, report: &mut Report) -> anyhow::Result<()> {
    let sizes = &bench.sizes;
    let comments = sizes.corpus_posts * sizes.corpus_comments_per_post;
    log(&format!(
        "workload 5: building a {comments}-comment database"
    ));
    let dir = bench.work.join("cold-start");
    std::fs::create_dir_all(&dir)?;
    let wxr = dir.join("corpus.wxr");
    std::fs::write(
        &wxr,
        fixtures::corpus_wxr(sizes.corpus_posts, sizes.corpus_comments_per_post),
    )?;
    let gloss = Gloss {
        binary: bench.gloss_binary.clone(),
        dir: dir.clone(),
        database_url: format!("sqlite:{}", dir.join("gloss.db").display()),
        listen: bench.listen,
    };
    gloss.cli(&["user", "add", "alice", "--admin", "--display-name", "Alice"])?;
    let started = Instant::now();
    gloss.cli(&["import", "wxr", &wxr.display().to_string()])?;
    report.note(format!(
        "cold start: importing {comments} comments took {:.1} s (not measured)",
        started.elapsed().as_secs_f64()
    ));
    // The first start also runs any pending migration and warms the page cache of the
    // file; it is measured but the median is over all runs.
    let mut samples = Vec::new();
    let mut listening = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..sizes.cold_runs {
        let start = Instant::now();
        let mut running: Running = gloss.spawn_serve()?;
        // Where the time goes: until the port accepts, then until the first 200.
        while std::net::TcpStream::connect(running.addr).is_err()
            && start.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        listening.push(ms(start.elapsed()));
        let ready = running.wait_ready("/", start)?;
        samples.push(ms(ready));
        // The same page once more, from the warm process.
        let again = Instant::now();
        let _ = processes::get_status(running.addr, "/");
        warm.push(ms(again.elapsed()));
        running.stop();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let median_of = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    report.note(format!(
        "cold start: the port accepted connections after {:.1} ms (median); / then answered; \
         the same page from the warm process took {:.1} ms (median)",
        median_of(&mut listening),
        median_of(&mut warm)
    ));
    samples.sort_by(f64::total_cmp);
    let median = samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN);
    report.row(
        "5 cold start",
        "SQLite",
        &format!(
            "spawn to first 200 on /, {comments} comments (median of {})",
            samples.len()
        ),
        format!("{median:.1} ms"),
        format!(
            "min {:.1} / max {:.1} ms",
            samples.first().copied().unwrap_or(f64::NAN),
            samples.last().copied().unwrap_or(f64::NAN)
        ),
        "-".into(),
        "<= 50 ms",
        Some(median <= 50.0),
    );
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(String::new(), |kib| {
            format!(", {:.0} GiB RAM", kib as f64 / 1048576.0)
        });
    format!("{cpu}, {cores} cores{memory}, Linux {kernel}")
}

async fn run(sizes: Sizes, with_postgres: bool) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let begun = Instant::now();
    let mut report = Report::default();
    let gloss_binary = processes::sibling_binary("gloss")?;
    let work = tempfile::tempdir()?;
    let listen = processes::free_addr(processes::GLOSS_IP)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    log("fixtures: keys, signed requests, exports, fake inboxes");
    let keys = fixtures::key_pool(sizes.keys)?;
    let actors = fixtures::sending_actors(sizes.sending_actors, keys.len());
    let post_url = format!("http://{listen}/posts/{}", fixtures::THREAD_SLUG);
    let pool = Arc::new(SignedPool::build(
        &format!("http://{listen}/inbox"),
        &post_url,
        &actors,
        &keys,
        sizes.signed_requests,
    )?);
    let thread_wxr = work.path().join("thread.wxr");
    std::fs::write(&thread_wxr, fixtures::thread_wxr(sizes.thread_comments))?;
    let hosts_a = FakeHosts::start(vec![Behaviour::Healthy; sizes.distinct_hosts]).await?;
    let hosts_b = FakeHosts::start(vec![Behaviour::Healthy; sizes.shared_instances]).await?;
    let behaviours_c = (0..sizes.shared_instances)
        .map(|i| match i % 100 {
            50 => Behaviour::Slow,
            99 => Behaviour::Failing,
            _ => Behaviour::Healthy,
        })
        .collect();
    let hosts_c = FakeHosts::start(behaviours_c).await?;
    let followers_a = fixtures::distinct_inbox_followers(sizes.followers, &hosts_a.bases);
    let followers_b = fixtures::shared_inbox_followers(sizes.followers, &hosts_b.bases, "b");
    let followers_c = fixtures::shared_inbox_followers(sizes.followers, &hosts_c.bases, "c");

    log("baselines: hello, RSA, fsync, unsigned fan-out");
    let hello_rps = hello_baseline(&sizes, &mut report).await?;
    let key = keys.first().context("no key")?;
    let rsa = baselines::rsa(key, sizes.rsa_period)?;
    report.row(
        "baseline",
        "-",
        "ring RSA-2048 sign / verify (one core)",
        format!("{:.0} / {:.0} us", rsa.sign_us, rsa.verify_us),
        "-".into(),
        "-".into(),
        "-",
        None,
    );
    let (fsync_p50, fsync_p99) = baselines::fsync(work.path(), sizes.fsync_rounds)?;
    report.row(
        "baseline",
        "-",
        "fsync (4 KiB write + fdatasync) p50 / p99",
        format!("{fsync_p50:.2} / {fsync_p99:.2} ms"),
        "-".into(),
        "-".into(),
        "-",
        None,
    );
    let inboxes_a = distinct_inboxes(&followers_a);
    hosts_a.tracker.reset(inboxes_a.len());
    let (unsigned_a, delivered, first_error) = if sizes.only_inbox {
        (Duration::ZERO, 0, None)
    } else {
        baselines::unsigned_fan_out(&inboxes_a, b"{\"type\":\"Create\"}", 32).await?
    };
    if let Some(error) = first_error {
        report.note(format!(
            "unsigned fan-out: {} of {} failed, first error: {error}",
            inboxes_a.len() - delivered,
            inboxes_a.len()
        ));
    }
    if !sizes.only_inbox {
        report.row(
            "baseline",
            "-",
            &format!(
                "unsigned loopback fan-out, {} inboxes, 32 in flight",
                inboxes_a.len()
            ),
            format!("{:.2} s ({delivered} answered)", unsigned_a.as_secs_f64()),
            "-".into(),
            "-".into(),
            "-",
            None,
        );
    }

    let postgres_admin = if with_postgres {
        let url = std::env::var("GLOSS_BENCH_POSTGRES_URL")
            .or_else(|_| std::env::var("GLOSS_TEST_POSTGRES_URL"))
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        match <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
            Ok(_) => Some(url),
            Err(err) => {
                report.note(format!("PostgreSQL skipped: cannot connect ({err})"));
                None
            }
        }
    } else {
        None
    };
    let bench = Bench {
        sign_us: rsa.sign_us,
        sizes: sizes.clone(),
        gloss_binary,
        work: work.path().to_path_buf(),
        listen,
        cores,
        keys,
        actors,
        pool,
        thread_wxr,
        hosts_a,
        hosts_b,
        hosts_c,
        followers_a,
        followers_b,
        followers_c,
        hello_rps,
        unsigned_a,
        postgres_admin,
    };
    let mut engines = vec![Engine::Sqlite];
    if bench.postgres_admin.is_some() {
        engines.push(Engine::Postgres);
    }
    for engine in engines {
        if let Err(err) = run_engine(&bench, engine, &mut report).await {
            report.note(format!("{}: the run failed: {err:#}", engine.name()));
        }
    }
    if !sizes.only_inbox
        && !sizes.only_page
        && let Err(err) = cold_start(&bench, &mut report).await
    {
        report.note(format!("cold start: the run failed: {err:#}"));
    }
    report.note(format!(
        "signed inbox requests: {} pre-signed from {} actors sharing {} RSA-2048 keys; \
         {} used by the last engine",
        bench.pool.len(),
        bench.actors.len(),
        bench.keys.len(),
        bench.pool.used()
    ));
    let header = format!(
        "## Gloss benchmarks{} ({})\n\nMachine: {}. Load generator: {} keep-alive HTTP/1.1 connections; \
         saturation in a closed loop for {:.1} s, latency at a fixed rate of half the saturation \
         for {:.1} s, measured from the scheduled send time. Whole run: {:.0} s.\n",
        if sizes.smoke {
            " (smoke: small fixtures, short windows)"
        } else {
            ""
        },
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
        load::CONNECTIONS,
        sizes.window.as_secs_f64(),
        sizes.window.as_secs_f64(),
        begun.elapsed().as_secs_f64()
    );
    report.print(&header);
    Ok(())
}

/// The bare axum baseline: one route answering "hello", nothing else.
async fn hello(addr: &str) -> anyhow::Result<()> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn usage() -> anyhow::Error {
    anyhow::anyhow!(
        "usage: gloss-bench run [--smoke] [--no-postgres] [--only-inbox | --only-page]\n\
         \x20      gloss-bench hello ADDR                  the bare axum baseline server\n\
         \x20      gloss-bench thread-wxr COMMENTS FILE    writes the thread export\n\
         \x20      gloss-bench load ADDR PATH [SECONDS]    a browser-like closed loop on one page"
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("hello") => hello(args.get(1).ok_or_else(usage)?).await,
        Some("thread-wxr") => {
            let comments: usize = args.get(1).ok_or_else(usage)?.parse()?;
            std::fs::write(
                args.get(2).ok_or_else(usage)?,
                fixtures::thread_wxr(comments),
            )?;
            Ok(())
        }
        Some("load") => {
            let addr: SocketAddr = args.get(1).ok_or_else(usage)?.parse()?;
            let path = args.get(2).ok_or_else(usage)?;
            let seconds: f64 = args.get(3).map_or(Ok(5.0), |s| s.parse())?;
            let source = load::repeat_browser_get(addr, path);
            let result =
                load::saturate(addr, source, Duration::from_secs_f64(seconds.max(0.1))).await;
            println!(
                "{:.0} req/s, p50 {:.2} ms, {} errors ({}); {} bytes transferred per page",
                result.rps(),
                result.quantile_ms(0.5),
                result.errors,
                result.first_error.as_deref().unwrap_or("-"),
                processes::body_len_with(addr, path, load::BROWSER_ACCEPT_ENCODING).unwrap_or(0)
            );
            Ok(())
        }
        Some("run") => {
            let mut sizes = Sizes::full();
            let mut with_postgres = true;
            let mut only_inbox = false;
            let mut only_page = false;
            for arg in args.iter().skip(1) {
                match arg.as_str() {
                    "--smoke" => sizes = Sizes::smoke(),
                    "--no-postgres" => with_postgres = false,
                    "--only-inbox" => only_inbox = true,
                    "--only-page" => only_page = true,
                    _ => return Err(usage()),
                }
            }
            if only_inbox && only_page {
                return Err(usage());
            }
            sizes.only_inbox = only_inbox;
            sizes.only_page = only_page;
            run(sizes, with_postgres).await
        }
        _ => Err(usage()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_fixtures_are_the_same_in_every_run() {
        assert_eq!(fixtures::thread_wxr(50), fixtures::thread_wxr(50));
        let hosts = vec!["http://a".to_owned(), "http://b".to_owned()];
        let first = fixtures::shared_inbox_followers(100, &hosts, "x");
        let second = fixtures::shared_inbox_followers(100, &hosts, "x");
        assert_eq!(
            first.iter().map(|f| &f.ap_id).collect::<Vec<_>>(),
            second.iter().map(|f| &f.ap_id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_instance_gets_a_follower_and_large_ones_get_more() {
        let hosts: Vec<String> = (0..50).map(|i| format!("http://h{i}")).collect();
        let followers = fixtures::shared_inbox_followers(1000, &hosts, "x");
        assert_eq!(distinct_inboxes(&followers).len(), 50);
        let on = |host: &str| {
            followers
                .iter()
                .filter(|f| f.delivery_inbox() == format!("{host}/inbox"))
                .count()
        };
        assert!(on("http://h0") > 5 * on("http://h49"));
    }

    #[test]
    fn the_thread_export_has_every_comment_and_threads() {
        let wxr = fixtures::thread_wxr(200);
        assert_eq!(wxr.matches("<wp:comment>").count(), 200);
        let replies = wxr.matches("<wp:comment_parent>").count()
            - wxr.matches("<wp:comment_parent>0<").count();
        assert!(replies > 100 && replies < 200, "{replies} replies");
    }

    #[test]
    fn a_base_is_scheme_host_and_port() {
        assert_eq!(
            inboxes::base_of("http://127.0.0.1:8080/users/1/inbox"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(inboxes::base_of("http://h"), "http://h");
    }

    #[test]
    fn quantiles_come_from_the_sorted_latencies() {
        let result = LoadResult {
            latencies_us: (1..=100).map(|ms| ms * 1000).collect(),
            ..LoadResult::default()
        };
        assert_eq!(result.quantile_ms(0.5), 51.0);
        assert_eq!(result.quantile_ms(0.99), 99.0);
        assert!(LoadResult::default().quantile_ms(0.5).is_nan());
    }
}
