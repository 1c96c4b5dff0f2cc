//! The delivery worker: sends the outbox's deliveries (one activity to one inbox),
//! signed by the activity's actor, and records each outcome.
//!
//! ```text
//!        ┌──── wake-up (Notify), poll timer, next due time, outcomes recorded ────┐
//!        ▼                                                                        │
//!  loop: claim_deliveries(now, ≤ free slots, per host 4, lease 1 min) ──► a task per job
//!        │   (the store leases rows: another process never takes   (≤ 128 in flight)
//!        │    them; a crashed worker's lease runs out → at-least-once)      │
//!        │                          sign on a signing thread (one per core, nice 10)
//!        │                                                                  │ POST
//!        └◄── finish_deliveries(outcomes): one transaction per batch ◄──────┘
//!             (≤ 128 outcomes, or 25 ms after the first, or nothing else in flight)
//! ```
//!
//! Each claim and each recording is a write transaction, so both are batched: a claim
//! fills a quarter of the free slots at least, and outcomes wait up to 25 ms to be
//! committed together. Signing (RSA, about half a millisecond) runs on threads of its own,
//! one per core at a lower CPU priority, so that a large fan-out never stalls the async
//! threads that answer requests and takes only the CPU they leave.
//!
//! The per-host cap lives in the claim (it counts deliveries already leased to a host),
//! and sends run concurrently, so one slow server only ever holds its own four slots
//! (checklist Q5). Each attempt is signed afresh (Q9) and its inbox URL checked again
//! (F13; the client's resolver re-checks addresses at connect time as well).
//!
//! Outcomes (Mastodon's classification, checklist Q1-Q4): 2xx delivered; 410 final and
//! the followers with that inbox are removed; other 4xx (and 501) final, except 401, 408
//! and 429 which are retried like 5xx and network errors: exponential backoff with
//! jitter ([`retry_delay`]), `Retry-After` honoured (capped at 6 h), for at least
//! [`RETRY_WINDOW`] after the delivery was queued. A host failing for more than two
//! days is marked unreachable (the store then tries it rarely, until it contacts us).

use crate::context::Federation;
use crate::http_client::{self, HttpClientError};
use crate::signatures::{SigningKey, sign_request};
use crate::urls::Urls;
use chrono::{DateTime, TimeDelta, Utc};
use gloss_storage::{DeliveryJob, DeliveryOutcome, LocalActor};
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

/// Deliveries are retried for at least this long after they were queued.
pub const RETRY_WINDOW: TimeDelta = TimeDelta::days(3);
/// A host failing for longer than this is marked unreachable.
pub const UNREACHABLE_AFTER: TimeDelta = TimeDelta::days(2);
/// First retry delay; doubled after each failure.
const BASE_DELAY_SECONDS: i64 = 60;
/// Longest delay between two attempts.
const MAX_DELAY_SECONDS: i64 = 12 * 60 * 60;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER_SECONDS: i64 = 6 * 60 * 60;
/// Shortest sleep of an idle worker.
const MIN_IDLE_WAIT: Duration = Duration::from_millis(500);
/// Stored error messages are cut to this many characters.
const MAX_ERROR_CHARS: usize = 300;

/// Content type of what we POST.
pub const ACTIVITY_CONTENT_TYPE: &str = "application/activity+json";

/// Tuning of the worker. The defaults suit production; tests shorten the intervals.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Most deliveries claimed at once, and most outcomes recorded at once.
    pub batch: i64,
    /// Most deliveries to one host in flight at once (across processes).
    pub per_host: i64,
    /// How long a claimed delivery stays reserved for this worker. It must outlast one
    /// attempt (the client's 20 s deadline plus signing) and the wait before its outcome
    /// is recorded; after a crash, the deliveries the dead process held wait this long
    /// before another worker takes them.
    pub lease: TimeDelta,
    /// Most sends in flight at once in this process. Sends mostly wait on the network,
    /// so this is large: slow receivers (each host holds at most `per_host` of them)
    /// must leave room for the healthy ones.
    pub concurrency: usize,
    /// Threads computing signatures (at a lower CPU priority); the number of cores.
    pub signing_threads: usize,
    /// Outcomes of finished sends are recorded together, at the latest this long after
    /// the first of them finished (sooner when a batch is full or nothing else is in
    /// flight): one commit for many sends.
    pub record_interval: Duration,
    /// How often the queue is checked when nothing wakes the worker (the CLI writes
    /// from another process).
    pub poll_interval: Duration,
    /// On shutdown, how long in-flight sends may finish before they are abandoned
    /// (their leases run out and another run sends them again).
    pub shutdown_grace: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            batch: 128,
            per_host: 4,
            lease: TimeDelta::minutes(1),
            concurrency: 128,
            signing_threads: std::thread::available_parallelism().map_or(1, usize::from),
            record_interval: Duration::from_millis(25),
            poll_interval: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The delay before the next attempt after `attempts` failed ones (1 for the first
/// failure): one minute doubled each time, capped at 12 hours, with ±20 % jitter.
/// `jitter` is a number in `[-1, 1]` (random in production, fixed in tests).
pub fn retry_delay(attempts: i32, jitter: f64) -> TimeDelta {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    let base = BASE_DELAY_SECONDS
        .saturating_mul(1_i64 << exponent)
        .min(MAX_DELAY_SECONDS);
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    // `base` is at most 43 200: the float conversions are exact enough and in range.
    let seconds = (base as f64 * factor).round() as i64;
    TimeDelta::seconds(seconds.max(1))
}

/// Parses `Retry-After`: delay-seconds or an HTTP date, as a delay from `now`, capped
/// at six hours. `None` when absent, unparsable or in the past.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<TimeDelta> {
    let value = value.trim();
    let seconds = match value.parse::<i64>() {
        Ok(seconds) => seconds,
        Err(_) => {
            let date: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
            (date - now).num_seconds()
        }
    };
    (seconds > 0).then(|| TimeDelta::seconds(seconds.min(MAX_RETRY_AFTER_SECONDS)))
}

/// What one attempt came to, before the retry policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// A 2xx status.
    Delivered(u16),
    /// Not worth retrying.
    Final {
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// What went wrong, for the admin UI.
        error: String,
    },
    /// Worth retrying; `retry_after` from the response, if any.
    Transient {
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// What went wrong, for the admin UI.
        error: String,
        /// The response's `Retry-After`, parsed and capped.
        retry_after: Option<TimeDelta>,
    },
}

/// Classifies a response status (Mastodon's "unsalvageable": any 4xx but 401, 408 and
/// 429, plus 501).
pub fn classify_status(status: u16, retry_after: Option<TimeDelta>) -> AttemptResult {
    match status {
        200..=299 => AttemptResult::Delivered(status),
        401 | 408 | 429 => AttemptResult::Transient {
            status: Some(status),
            error: format!("HTTP {status}"),
            retry_after,
        },
        400..=499 | 501 => AttemptResult::Final {
            status: Some(status),
            error: format!("HTTP {status}"),
        },
        _ => AttemptResult::Transient {
            status: Some(status),
            error: format!("HTTP {status}"),
            retry_after,
        },
    }
}

/// Applies the retry policy to an attempt of `job` made at `now`.
pub fn outcome_for(
    job: &DeliveryJob,
    result: AttemptResult,
    now: DateTime<Utc>,
    jitter: f64,
) -> DeliveryOutcome {
    match result {
        AttemptResult::Delivered(status) => DeliveryOutcome::Delivered { status },
        AttemptResult::Final { status, error } => DeliveryOutcome::Failed { status, error },
        AttemptResult::Transient {
            status,
            error,
            retry_after,
        } => {
            if now - job.created_at >= RETRY_WINDOW {
                return DeliveryOutcome::Failed {
                    status,
                    error: format!("{error} (gave up after retrying for 3 days)"),
                };
            }
            let backoff = retry_delay(job.attempts.saturating_add(1), jitter);
            let delay = match retry_after {
                Some(wait) if wait > backoff => wait,
                _ => backoff,
            };
            DeliveryOutcome::Retry {
                next_attempt_at: now + delay,
                status,
                error,
            }
        }
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// Sends the outbox. Create with [`DeliveryWorker::new`], keep [`DeliveryWorker::waker`]
/// to wake it after recording activities, and [`DeliveryWorker::start`] it.
pub struct DeliveryWorker {
    federation: Federation,
    settings: DeliverySettings,
    waker: Arc<Notify>,
}

impl std::fmt::Debug for DeliveryWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryWorker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Our actors' signing keys and ids, looked up once per worker, and the threads that
/// compute signatures.
struct Signers {
    /// Held during a lookup, so that the sends a claim starts together parse an actor's
    /// key once rather than each on its own.
    by_actor: tokio::sync::Mutex<HashMap<LocalActor, (Arc<SigningKey>, String)>>,
    pool: SigningPool,
}

impl Signers {
    fn new(threads: usize) -> Signers {
        Signers {
            by_actor: tokio::sync::Mutex::new(HashMap::new()),
            pool: SigningPool::start(threads),
        }
    }
}

/// A signature to compute, with where to send it.
type SigningJob = Box<dyn FnOnce() + Send>;

/// Threads of their own for RSA signing (about half a millisecond of CPU each): never on
/// the async threads that answer requests, one per core, and at a lower CPU priority
/// (nice 10 on Linux), so that a fan-out to thousands of inboxes takes the CPU the
/// requests leave rather than delaying them. They end when the worker does.
struct SigningPool {
    jobs: Option<std::sync::mpsc::Sender<SigningJob>>,
}

/// The nice value of the signing threads.
const SIGNING_NICE: i32 = 10;

impl SigningPool {
    fn start(threads: usize) -> SigningPool {
        let (jobs, queue) = std::sync::mpsc::channel::<SigningJob>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        let mut started = 0;
        for n in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("gloss-signer-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(err) => tracing::warn!(error = %err, "starting a signing thread failed"),
            }
        }
        SigningPool {
            // Without a thread, signing fails (and the deliveries are retried later).
            jobs: (started > 0).then_some(jobs),
        }
    }

    /// Runs `sign` on a signing thread and returns its result.
    async fn run<T: Send + 'static>(
        &self,
        sign: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: SigningJob = Box::new(move || {
            let _ = done.send(sign());
        });
        self.jobs
            .as_ref()
            .ok_or_else(|| "no signing thread".to_owned())?
            .send(job)
            .map_err(|_| "the signing threads stopped".to_owned())?;
        result
            .await
            .map_err(|_| "a signing thread stopped".to_owned())
    }
}

/// Lowers the calling thread's CPU priority (Linux: `setpriority` on the thread id).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(err) = rustix::process::setpriority_process(Some(thread), SIGNING_NICE) {
            tracing::debug!(error = %err, "could not lower the signing thread's priority");
        }
    }
}

/// A send that ended, waiting to be recorded with others in one transaction.
struct Sent {
    id: i64,
    inbox: String,
    host: String,
    outcome: DeliveryOutcome,
    /// The inbox answered 410: its followers are removed once the outcome is recorded.
    gone: bool,
}

impl DeliveryWorker {
    /// A worker with the default settings, not started yet.
    pub fn new(federation: Federation) -> DeliveryWorker {
        let waker = federation.delivery_wakeup();
        DeliveryWorker {
            federation,
            settings: DeliverySettings::default(),
            waker,
        }
    }

    /// Replaces the tuning (tests).
    pub fn with_settings(mut self, settings: DeliverySettings) -> DeliveryWorker {
        self.settings = settings;
        self
    }

    /// Notifying this wakes the worker at once (e.g. after a post was published from
    /// the admin UI); without it the worker polls every few seconds.
    pub fn waker(&self) -> Arc<Notify> {
        self.waker.clone()
    }

    /// Starts a worker with the default settings; it stops when `shutdown` turns true
    /// (or its sender is dropped).
    pub fn spawn(federation: Federation, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        DeliveryWorker::new(federation).start(shutdown)
    }

    /// Runs the worker on the tokio runtime until `shutdown` turns true.
    pub fn start(self, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let signers = Arc::new(Signers::new(self.settings.signing_threads));
        let mut in_flight: JoinSet<Sent> = JoinSet::new();
        let mut sent: Vec<Sent> = Vec::new();
        // When the oldest unrecorded outcome must be written at the latest.
        let mut record_by: Option<Instant> = None;
        // Whether claiming may find something: at start, when woken, after outcomes were
        // recorded (a host's cap has room again) and after a full claim.
        let mut want_claim = true;
        let batch = usize::try_from(self.settings.batch.max(1)).unwrap_or(1);
        let concurrency = self.settings.concurrency.max(1);
        // Claims are made for a quarter of the slots at least, not one per finished send:
        // each claim is a write transaction.
        let claim_at = (concurrency / 4).clamp(1, batch);
        let mut stopping = *shutdown.borrow();
        // The signal is read again before every claim: `select!` below picks at random
        // among ready branches, so a send finishing as the signal arrives could otherwise
        // win, and the worker would claim and start a new batch after SIGTERM (Q8).
        while !stopping && !*shutdown.borrow() {
            while let Some(done) = in_flight.try_join_next() {
                collect(
                    done,
                    &mut sent,
                    &mut record_by,
                    self.settings.record_interval,
                );
            }
            if !sent.is_empty()
                && (sent.len() >= batch
                    || in_flight.is_empty()
                    || record_by.is_some_and(|by| by <= Instant::now()))
            {
                self.record(std::mem::take(&mut sent)).await;
                record_by = None;
                want_claim = true;
            }
            let free = concurrency.saturating_sub(in_flight.len());
            let mut wait = self.settings.poll_interval;
            if want_claim && free >= claim_at {
                let limit = free.min(batch);
                match self
                    .federation
                    .store()
                    .claim_deliveries(
                        Utc::now(),
                        i64::try_from(limit).unwrap_or(i64::MAX),
                        self.settings.per_host,
                        self.settings.lease,
                    )
                    .await
                {
                    Ok(jobs) => {
                        // A full claim: more may be due right away.
                        want_claim = jobs.len() == limit;
                        for job in jobs {
                            let federation = self.federation.clone();
                            let signers = signers.clone();
                            in_flight.spawn(async move { send(&federation, &signers, job).await });
                        }
                        if want_claim {
                            continue;
                        }
                        if in_flight.is_empty() && sent.is_empty() {
                            wait = self.time_until_next_due().await;
                        }
                    }
                    Err(err) => {
                        want_claim = false;
                        tracing::warn!(error = %err, "claiming deliveries failed");
                    }
                }
            }
            if let Some(by) = record_by {
                wait = wait.min(by.saturating_duration_since(Instant::now()));
            }
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    collect(done, &mut sent, &mut record_by, self.settings.record_interval);
                }
                () = self.waker.notified() => want_claim = true,
                changed = shutdown.changed() => {
                    stopping = changed.is_err() || *shutdown.borrow();
                }
                () = tokio::time::sleep(wait) => want_claim = true,
            }
        }
        // Let in-flight sends finish within the grace period; abandoned ones are sent
        // again once their lease runs out (at-least-once).
        let grace = tokio::time::sleep(self.settings.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                done = in_flight.join_next() => match done {
                    Some(done) => collect(done, &mut sent, &mut record_by, Duration::ZERO),
                    None => break,
                },
                () = &mut grace => {
                    tracing::warn!(
                        abandoned = in_flight.len(),
                        "deliveries still in flight at shutdown; they will be sent again later"
                    );
                    in_flight.abort_all();
                    break;
                }
            }
        }
        self.record(sent).await;
    }

    /// Records the outcomes of finished sends in one transaction, then what follows
    /// from them: followers behind a gone inbox removed, failing hosts checked.
    async fn record(&self, sent: Vec<Sent>) {
        if sent.is_empty() {
            return;
        }
        let now = Utc::now();
        let store = self.federation.store();
        let outcomes = sent
            .iter()
            .map(|one| (one.id, one.outcome.clone()))
            .collect();
        match store.finish_deliveries(outcomes, now).await {
            Ok(unknown) => {
                for id in unknown {
                    tracing::warn!(delivery = id, "a sent delivery no longer exists");
                }
            }
            Err(err) => {
                // The leases run out and the deliveries are tried again: at-least-once.
                tracing::warn!(error = %err, deliveries = sent.len(),
                    "recording delivery outcomes failed");
                return;
            }
        }
        let mut failing_hosts = BTreeSet::new();
        for one in &sent {
            if one.gone {
                // Q3: the inbox is gone for good; so are the followers behind it.
                match store.remove_followers_with_inbox(&one.inbox).await {
                    Ok(removed) if removed > 0 => {
                        tracing::info!(inbox = %one.inbox, removed,
                            "removed followers whose inbox is gone");
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "removing followers of a gone inbox failed");
                    }
                }
            }
            if !matches!(one.outcome, DeliveryOutcome::Delivered { .. }) {
                failing_hosts.insert(one.host.as_str());
            }
        }
        for host in failing_hosts {
            mark_unreachable_if_failing_for_days(&self.federation, host, now).await;
        }
    }

    /// How long to sleep when idle: until the next delivery is due, at most the poll
    /// interval.
    async fn time_until_next_due(&self) -> Duration {
        let poll = self.settings.poll_interval;
        match self.federation.store().next_delivery_due().await {
            // A due delivery that was not claimed (its host is at its cap in another
            // process, or unreachable) must not make the loop spin.
            Ok(Some(due)) => (due - Utc::now()).to_std().map_or(MIN_IDLE_WAIT, |until| {
                until.clamp(MIN_IDLE_WAIT, poll.max(MIN_IDLE_WAIT))
            }),
            Ok(None) => poll,
            Err(err) => {
                tracing::warn!(error = %err, "reading the next delivery time failed");
                poll
            }
        }
    }
}

/// Adds a finished send to the outcomes waiting to be recorded.
fn collect(
    done: Result<Sent, tokio::task::JoinError>,
    sent: &mut Vec<Sent>,
    record_by: &mut Option<Instant>,
    interval: Duration,
) {
    match done {
        Ok(one) => {
            sent.push(one);
            record_by.get_or_insert_with(|| Instant::now() + interval);
        }
        // A send that panicked or was aborted: its lease runs out and it is sent again.
        Err(err) => tracing::warn!(error = %err, "a delivery task ended abnormally"),
    }
}

/// The key and key id an activity of `actor` is signed with.
async fn signer_for(
    federation: &Federation,
    signers: &Signers,
    actor: LocalActor,
) -> Result<(Arc<SigningKey>, String), String> {
    let mut by_actor = signers.by_actor.lock().await;
    if let Some(found) = by_actor.get(&actor) {
        return Ok(found.clone());
    }
    let urls = federation.urls();
    let actor_id = match actor {
        LocalActor::Blog => urls.blog_actor(),
        LocalActor::Instance => urls.instance_actor(),
        LocalActor::Author(id) => {
            let author = federation
                .store()
                .author_by_id(id)
                .await
                .map_err(|err| err.to_string())?
                .ok_or_else(|| format!("author {id} no longer exists"))?;
            urls.author_actor(&author.username)
        }
    };
    let pair = federation
        .actor_key(actor)
        .await
        .map_err(|err| err.to_string())?;
    let key =
        Arc::new(SigningKey::from_pkcs8_pem(&pair.private_key_pem).map_err(|err| err.to_string())?);
    let found = (key, Urls::key_id(&actor_id));
    by_actor.insert(actor, found.clone());
    Ok(found)
}

/// Signs a POST of `body` to `inbox` on a signing thread.
async fn sign_on_pool(
    signers: &Signers,
    inbox: &Url,
    body: &str,
    key_id: String,
    key: Arc<SigningKey>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let inbox = inbox.clone();
    let body = body.to_owned();
    signers
        .pool
        .run(move || {
            // Q9: a fresh Date and signature on every attempt.
            sign_request(
                &Method::POST,
                &inbox,
                body.as_bytes(),
                &key_id,
                &key,
                SystemTime::now(),
            )
            .map_err(|err| err.to_string())
        })
        .await?
}

/// One attempt: sign, POST, classify.
async fn attempt(federation: &Federation, signers: &Signers, job: &DeliveryJob) -> AttemptResult {
    let inbox = match Url::parse(&job.inbox) {
        Ok(inbox) => inbox,
        Err(err) => {
            return AttemptResult::Final {
                status: None,
                error: format!("invalid inbox URL: {err}"),
            };
        }
    };
    // F13: checked on every attempt, not only when queued.
    if let Err(err) = http_client::check_url(&inbox, federation.settings().allow_private_addresses)
    {
        return AttemptResult::Final {
            status: None,
            error: shorten(&err.to_string()),
        };
    }
    let (key, key_id) = match signer_for(federation, signers, job.actor).await {
        Ok(found) => found,
        Err(error) => {
            // Our own trouble (storage, key): try again later.
            return AttemptResult::Transient {
                status: None,
                error: shorten(&error),
                retry_after: None,
            };
        }
    };
    let headers = match sign_on_pool(signers, &inbox, &job.payload, key_id, key).await {
        Ok(headers) => headers,
        Err(err) => {
            return AttemptResult::Transient {
                status: None,
                error: shorten(&format!("signing failed: {err}")),
                retry_after: None,
            };
        }
    };
    let mut request = federation
        .delivery_http()
        .post(inbox.clone())
        .header(CONTENT_TYPE, ACTIVITY_CONTENT_TYPE)
        .body(job.payload.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            if response.url() != &inbox {
                // Q11: an inbox that redirects is a failure (the signature covers the
                // original path, and a redirect may point anywhere).
                return AttemptResult::Transient {
                    status: Some(status.as_u16()),
                    error: "the inbox redirected".to_owned(),
                    retry_after: None,
                };
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, Utc::now()));
            if status.is_redirection() {
                return AttemptResult::Transient {
                    status: Some(status.as_u16()),
                    error: "the inbox answered with a redirect".to_owned(),
                    retry_after,
                };
            }
            classify_status(status.as_u16(), retry_after)
        }
        Err(err) => {
            let err = HttpClientError::from(err);
            match err {
                HttpClientError::InvalidUrl(_) => AttemptResult::Final {
                    status: None,
                    error: shorten(&err.to_string()),
                },
                other => AttemptResult::Transient {
                    status: None,
                    error: shorten(&other.to_string()),
                    retry_after: None,
                },
            }
        }
    }
}

/// Sends one delivery; its outcome is recorded later, with others.
async fn send(federation: &Federation, signers: &Signers, job: DeliveryJob) -> Sent {
    let result = attempt(federation, signers, &job).await;
    let gone = matches!(
        result,
        AttemptResult::Final {
            status: Some(410),
            ..
        }
    );
    let outcome = outcome_for(&job, result, Utc::now(), rand_jitter());
    match &outcome {
        DeliveryOutcome::Delivered { .. } => {
            tracing::debug!(inbox = %job.inbox, activity = %job.activity_ap_id, "delivered");
        }
        DeliveryOutcome::Retry {
            next_attempt_at,
            error,
            ..
        } => {
            tracing::info!(inbox = %job.inbox, activity = %job.activity_ap_id, %error,
                next_attempt_at = %next_attempt_at, "delivery failed; will retry");
        }
        DeliveryOutcome::Failed { error, .. } => {
            tracing::warn!(inbox = %job.inbox, activity = %job.activity_ap_id, %error,
                "delivery failed for good");
        }
    }
    Sent {
        id: job.id,
        inbox: job.inbox,
        host: job.host,
        outcome,
        gone,
    }
}

async fn mark_unreachable_if_failing_for_days(
    federation: &Federation,
    host: &str,
    now: DateTime<Utc>,
) {
    let store = federation.store();
    match store.host_health(host).await {
        Ok(Some(health))
            if !health.unreachable
                && health
                    .failing_since
                    .is_some_and(|since| now - since > UNREACHABLE_AFTER) =>
        {
            tracing::warn!(
                host,
                "host failing for more than two days: marked unreachable"
            );
            if let Err(err) = store.mark_host_unreachable(host, now).await {
                tracing::warn!(error = %err, host, "marking a host unreachable failed");
            }
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, host, "reading host health failed"),
    }
}

/// A random number in `[-1, 1]`.
fn rand_jitter() -> f64 {
    rand::random_range(-1.0..=1.0)
}

/// Whether `status` is one the retry policy treats as final.
pub fn is_final_status(status: StatusCode) -> bool {
    matches!(
        classify_status(status.as_u16(), None),
        AttemptResult::Final { .. }
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn job(attempts: i32, created_at: DateTime<Utc>) -> DeliveryJob {
        DeliveryJob {
            id: 1,
            activity_ap_id: "https://blog.example/activities/1".into(),
            actor: LocalActor::Blog,
            payload: "{}".into(),
            inbox: "https://m.example/inbox".into(),
            host: "m.example".into(),
            attempts,
            created_at,
        }
    }

    #[tokio::test]
    async fn signatures_run_on_their_own_threads_at_a_lower_priority() {
        let pool = SigningPool::start(2);
        let on = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(on.is_some_and(|name| name.starts_with("gloss-signer-")));
        #[cfg(target_os = "linux")]
        {
            let nice = pool
                .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(nice, SIGNING_NICE);
        }
        // Many at once: each gets its own answer.
        let answers =
            futures_util::future::join_all((0..50).map(|n| pool.run(move || n * 2))).await;
        for (n, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.unwrap(), n * 2);
        }
    }

    #[test]
    fn the_delay_doubles_from_one_minute_and_stops_at_twelve_hours() {
        assert_eq!(retry_delay(1, 0.0), TimeDelta::minutes(1));
        assert_eq!(retry_delay(2, 0.0), TimeDelta::minutes(2));
        assert_eq!(retry_delay(5, 0.0), TimeDelta::minutes(16));
        assert_eq!(retry_delay(11, 0.0), TimeDelta::hours(12));
        assert_eq!(retry_delay(40, 0.0), TimeDelta::hours(12));
        assert_eq!(retry_delay(i32::MAX, 0.0), TimeDelta::hours(12));
        assert_eq!(retry_delay(0, 0.0), TimeDelta::minutes(1));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(retry_delay(1, 1.0), TimeDelta::seconds(72));
        assert_eq!(retry_delay(1, -1.0), TimeDelta::seconds(48));
        assert_eq!(retry_delay(1, 7.0), TimeDelta::seconds(72));
    }

    #[test]
    fn retries_cover_at_least_three_days() {
        // Sum the shortest delays (jitter -20 %) until the window closes: the attempts
        // keep coming until then.
        let start = Utc::now();
        let mut now = start;
        let mut attempts = 0;
        loop {
            let outcome = outcome_for(
                &job(attempts, start),
                AttemptResult::Transient {
                    status: Some(503),
                    error: "HTTP 503".into(),
                    retry_after: None,
                },
                now,
                -1.0,
            );
            match outcome {
                DeliveryOutcome::Retry {
                    next_attempt_at, ..
                } => {
                    now = next_attempt_at;
                    attempts += 1;
                }
                DeliveryOutcome::Failed { .. } => break,
                DeliveryOutcome::Delivered { .. } => unreachable!(),
            }
        }
        assert!(now - start >= RETRY_WINDOW);
        assert!(attempts >= 14, "{attempts} attempts");
    }

    #[test]
    fn statuses_are_classified_like_mastodon() {
        assert_eq!(classify_status(202, None), AttemptResult::Delivered(202));
        for status in [400, 403, 404, 410, 422, 501] {
            assert!(
                matches!(classify_status(status, None), AttemptResult::Final { .. }),
                "{status}"
            );
        }
        for status in [401, 408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify_status(status, None),
                    AttemptResult::Transient { .. }
                ),
                "{status}"
            );
        }
        assert!(is_final_status(StatusCode::GONE));
        assert!(!is_final_status(StatusCode::TOO_MANY_REQUESTS));
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_the_backoff() {
        let now = Utc::now();
        let outcome = outcome_for(
            &job(0, now),
            classify_status(429, Some(TimeDelta::seconds(600))),
            now,
            0.0,
        );
        assert!(
            matches!(outcome, DeliveryOutcome::Retry { next_attempt_at, .. }
            if next_attempt_at == now + TimeDelta::seconds(600))
        );
        let outcome = outcome_for(
            &job(0, now),
            classify_status(429, Some(TimeDelta::seconds(5))),
            now,
            0.0,
        );
        assert!(
            matches!(outcome, DeliveryOutcome::Retry { next_attempt_at, .. }
            if next_attempt_at == now + TimeDelta::minutes(1))
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = Utc::now();
        assert_eq!(parse_retry_after("120", now), Some(TimeDelta::seconds(120)));
        assert_eq!(parse_retry_after("999999", now), Some(TimeDelta::hours(6)));
        assert_eq!(parse_retry_after("0", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        let later = now + TimeDelta::seconds(300);
        let text = httpdate::fmt_http_date(later.into());
        let parsed = parse_retry_after(&text, now).unwrap_or_default();
        assert!((parsed - TimeDelta::seconds(300)).num_seconds().abs() <= 1);
        let past = httpdate::fmt_http_date((now - TimeDelta::hours(1)).into());
        assert_eq!(parse_retry_after(&past, now), None);
    }

    #[test]
    fn a_final_failure_is_not_retried_and_the_window_ends_retries() {
        let now = Utc::now();
        assert!(matches!(
            outcome_for(&job(0, now), classify_status(400, None), now, 0.0),
            DeliveryOutcome::Failed { .. }
        ));
        let old = now - TimeDelta::days(3) - TimeDelta::seconds(1);
        assert!(matches!(
            outcome_for(&job(15, old), classify_status(503, None), now, 0.0),
            DeliveryOutcome::Failed { .. }
        ));
    }
}
