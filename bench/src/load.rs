//! A small HTTP/1.1 load generator over loopback, used for every server in the suite
//! (the bare axum "hello" baseline and `gloss serve`) with the same settings.
//!
//! Two modes:
//! - closed loop ([`saturate`]): `connections` keep-alive connections, each sending its next
//!   request as soon as the previous answer is read; gives the saturation throughput;
//! - fixed rate ([`fixed_rate`]): requests are *scheduled* at `rate` per second, spread
//!   over the connections, and each latency is measured from the scheduled time, not
//!   from the moment a busy connection got round to sending it (so queueing behind a slow
//!   answer counts: no coordinated omission).
//!
//! Requests come from a [`RequestSource`]: a numbered request, or `None` when the source
//! is exhausted (pre-signed inbox requests are a finite supply; each can be sent once).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Builds request number `n`, or `None` when there are no more.
pub type RequestSource = Arc<dyn Fn(u64) -> Option<Request<Full<Bytes>>> + Send + Sync>;

/// Keep-alive connections used by both modes (the same for every server measured).
pub const CONNECTIONS: usize = 32;

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Answers with the expected status class (2xx).
    pub ok: u64,
    /// Other answers and transport errors.
    pub errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of each successful request, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// The first unexpected status seen, for the report.
    pub first_error: Option<String>,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let last = self.latencies_us.len() - 1;
        let index = ((last as f64) * q).round() as usize;
        self.latencies_us
            .get(index.min(last))
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    }

    fn merge(&mut self, other: LoadResult) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request on `sender` (reconnecting first when it is closed) and reads the
/// whole answer. `Ok(status)` or a transport error.
async fn send(
    addr: SocketAddr,
    sender: &mut Option<Sender>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<u16> {
    let mut current = match sender.take() {
        Some(s) if !s.is_closed() => s,
        _ => connect(addr).await?,
    };
    current.ready().await?;
    let response = current.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    *sender = Some(current);
    Ok(status)
}

fn record(result: &mut LoadResult, outcome: anyhow::Result<u16>, latency: Duration) {
    match outcome {
        Ok(status) if (200..300).contains(&status) => {
            result.ok += 1;
            result.latencies_us.push(latency.as_micros() as u64);
        }
        Ok(status) => {
            result.errors += 1;
            result
                .first_error
                .get_or_insert_with(|| format!("HTTP {status}"));
        }
        Err(err) => {
            result.errors += 1;
            result.first_error.get_or_insert_with(|| err.to_string());
        }
    }
}

/// Closed loop for `duration` (or until `source` runs out).
pub async fn saturate(addr: SocketAddr, source: RequestSource, duration: Duration) -> LoadResult {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let source = Arc::clone(&source);
        let counter = Arc::clone(&counter);
        tasks.push(tokio::spawn(async move {
            let mut result = LoadResult::default();
            let mut sender = connect(addr).await.ok();
            while Instant::now() < deadline {
                let Some(request) = source(counter.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let sent = Instant::now();
                let outcome = send(addr, &mut sender, request).await;
                record(&mut result, outcome, sent.elapsed());
            }
            result
        }));
    }
    let mut total = LoadResult::default();
    for task in tasks {
        if let Ok(result) = task.await {
            total.merge(result);
        }
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total
}

/// Requests scheduled at `rate` per second for `duration` (or until `stop` is set),
/// latency from the schedule.
pub async fn fixed_rate(
    addr: SocketAddr,
    source: RequestSource,
    rate: f64,
    duration: Duration,
    stop: Option<Arc<AtomicBool>>,
) -> LoadResult {
    let counter = Arc::new(AtomicU64::new(0));
    let rate = rate.max(1.0);
    let total_requests = (rate * duration.as_secs_f64()).ceil() as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for worker in 0..CONNECTIONS as u64 {
        let source = Arc::clone(&source);
        let counter = Arc::clone(&counter);
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = LoadResult::default();
            let mut sender = connect(addr).await.ok();
            let mut slot = worker;
            while slot < total_requests {
                if stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                    break;
                }
                let scheduled = start + Duration::from_secs_f64(slot as f64 / rate);
                tokio::time::sleep_until(scheduled.into()).await;
                let Some(request) = source(counter.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let outcome = send(addr, &mut sender, request).await;
                record(&mut result, outcome, scheduled.elapsed());
                slot += CONNECTIONS as u64;
            }
            result
        }));
    }
    let mut total = LoadResult::default();
    for task in tasks {
        if let Ok(result) = task.await {
            total.merge(result);
        }
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total
}

/// A source that repeats one GET forever.
pub fn repeat_get(addr: SocketAddr, path: &str) -> RequestSource {
    let uri = path.to_owned();
    let host = addr.to_string();
    Arc::new(move |_| {
        Request::get(uri.as_str())
            .header(hyper::header::HOST, host.as_str())
            .body(Full::new(Bytes::new()))
            .ok()
    })
}

/// What a browser sends in `Accept-Encoding`.
pub const BROWSER_ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// A source that repeats one GET forever as a browser sends it: accepting compressed
/// answers (`Accept-Encoding: gzip, deflate, br`).
pub fn repeat_browser_get(addr: SocketAddr, path: &str) -> RequestSource {
    let uri = path.to_owned();
    let host = addr.to_string();
    Arc::new(move |_| {
        Request::get(uri.as_str())
            .header(hyper::header::HOST, host.as_str())
            .header(hyper::header::ACCEPT, "text/html")
            .header(hyper::header::ACCEPT_ENCODING, BROWSER_ACCEPT_ENCODING)
            .body(Full::new(Bytes::new()))
            .ok()
    })
}
