//! Fake remote servers for the fan-out: one loopback listener per fake host, answering
//! any POST with 202 (or slowly, or with 500), and a [`Tracker`] per scenario that notes
//! when each expected inbox first received something.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How a fake host answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 202 at once.
    Healthy,
    /// 202 after five seconds.
    Slow,
    /// 500 at once (the sender retries later).
    Failing,
}

/// How long a slow receiver takes to answer.
pub const SLOW_ANSWER: Duration = Duration::from_secs(5);

#[derive(Default)]
struct TrackState {
    seen: HashSet<String>,
    requests: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    target: usize,
    done: Option<Instant>,
}

/// Arrivals of one scenario: distinct inboxes reached, first and last arrival.
#[derive(Default)]
pub struct Tracker {
    state: Mutex<TrackState>,
    notify: Notify,
}

/// What a fan-out came to.
#[derive(Debug, Clone, Copy)]
pub struct Arrivals {
    pub inboxes: usize,
    pub requests: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    /// When the target number of distinct inboxes was reached.
    pub done: Option<Instant>,
}

impl Tracker {
    /// Forgets everything and waits for `target` distinct healthy inboxes.
    pub fn reset(&self, target: usize) {
        if let Ok(mut state) = self.state.lock() {
            *state = TrackState {
                target,
                ..TrackState::default()
            };
        }
    }

    fn record(&self, inbox: String) {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.requests += 1;
        state.first.get_or_insert(now);
        state.last = Some(now);
        if state.seen.insert(inbox) && state.seen.len() == state.target {
            state.done = Some(now);
            self.notify.notify_waiters();
        }
    }

    pub fn arrivals(&self) -> Arrivals {
        match self.state.lock() {
            Ok(state) => Arrivals {
                inboxes: state.seen.len(),
                requests: state.requests,
                first: state.first,
                last: state.last,
                done: state.done,
            },
            Err(_) => Arrivals {
                inboxes: 0,
                requests: 0,
                first: None,
                last: None,
                done: None,
            },
        }
    }

    /// Waits until the target is reached or `patience` has passed.
    pub async fn wait(&self, patience: Duration) -> Arrivals {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.notify.notified();
            let arrivals = self.arrivals();
            if arrivals.done.is_some() {
                return arrivals;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.arrivals();
            }
        }
    }
}

#[derive(Clone)]
struct FakeHost {
    base: Arc<str>,
    behaviour: Behaviour,
    tracker: Arc<Tracker>,
    /// Set once the scenario is measured: every host then answers 202 at once.
    recovered: Arc<AtomicBool>,
}

async fn receive(State(host): State<FakeHost>, uri: Uri) -> StatusCode {
    let behaviour = if host.recovered.load(Ordering::Relaxed) {
        Behaviour::Healthy
    } else {
        host.behaviour
    };
    match behaviour {
        Behaviour::Healthy => {
            host.tracker.record(format!("{}{}", host.base, uri.path()));
            StatusCode::ACCEPTED
        }
        Behaviour::Slow => {
            tokio::time::sleep(SLOW_ANSWER).await;
            StatusCode::ACCEPTED
        }
        Behaviour::Failing => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Fake hosts of one scenario.
pub struct FakeHosts {
    /// `http://127.0.0.1:PORT` of each host.
    pub bases: Vec<String>,
    pub behaviours: Vec<Behaviour>,
    pub tracker: Arc<Tracker>,
    recovered: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FakeHosts {
    /// Starts one listener per entry of `behaviours`, on free loopback ports.
    pub async fn start(behaviours: Vec<Behaviour>) -> anyhow::Result<FakeHosts> {
        let tracker = Arc::new(Tracker::default());
        let recovered = Arc::new(AtomicBool::new(false));
        let mut bases = Vec::with_capacity(behaviours.len());
        let mut tasks = Vec::with_capacity(behaviours.len());
        for behaviour in &behaviours {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
            let base = format!("http://{}", listener.local_addr()?);
            let host = FakeHost {
                base: Arc::from(base.as_str()),
                behaviour: *behaviour,
                tracker: Arc::clone(&tracker),
                recovered: Arc::clone(&recovered),
            };
            let app = axum::Router::new().fallback(receive).with_state(host);
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
            bases.push(base);
        }
        Ok(FakeHosts {
            bases,
            behaviours,
            tracker,
            recovered,
            tasks,
        })
    }

    /// From now on every host answers 202 at once: the retries of the slow and failing
    /// receivers (after their lease or backoff runs out) must not weigh on the next
    /// scenario.
    pub fn recover(&self) {
        self.recovered.store(true, Ordering::Relaxed);
    }

    /// Back to the configured behaviours (for the next engine).
    pub fn relapse(&self) {
        self.recovered.store(false, Ordering::Relaxed);
    }

    /// Whether deliveries to `inbox` are answered promptly with 2xx.
    pub fn is_healthy(&self, inbox: &str) -> bool {
        let unhealthy: HashSet<&str> = self
            .bases
            .iter()
            .zip(&self.behaviours)
            .filter(|(_, b)| **b != Behaviour::Healthy)
            .map(|(base, _)| base.as_str())
            .collect();
        !unhealthy.contains(base_of(inbox))
    }
}

/// `http://HOST:PORT` of a URL (the part before its path).
pub fn base_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url.get(after_scheme..).and_then(|rest| rest.find('/')) {
        Some(slash) => url.get(..after_scheme + slash).unwrap_or(url),
        None => url,
    }
}

impl Drop for FakeHosts {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
