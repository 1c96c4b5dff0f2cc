//! The rendered-page cache: anonymous GETs of public pages are answered from memory
//! while nothing they show has changed.
//!
//! # When a stored page is still right
//!
//! The database keeps a *page version* (migration 0008): a counter that triggers move,
//! in the same transaction, with every change to posts, tags, comments, reactions,
//! settings, authors and blocks, whichever process makes it (`gloss serve`, the `gloss`
//! CLI, another server on the same PostgreSQL). Each cacheable request reads it first
//! (one small query, shared by the requests that wait for it: see [`VersionReads`]),
//! then:
//!
//! ```text
//!   read version v ──► stored page for this path rendered under v? ──yes──► answer it
//!                                   │ no
//!                                   ▼
//!                      render (every query sees at least the state of v)
//!                                   │
//!                                   ▼
//!                      store it under v, answer it
//! ```
//!
//! A page is stored under the version read *before* it was rendered, so it holds that
//! state or a newer one; it is served only while the version is still `v`, that is while
//! the database still is in that state. A change that commits during the render moves
//! the version, and the page stored under `v` is never served. The settings that live in
//! the process, not the database (local comments mode, closing comments by age), are
//! part of the key, and a page that changes with time alone (a post whose comments close
//! at a given age) carries its expiry ([`CacheUntil`]).
//!
//! # Who gets a stored page
//!
//! Only requests whose page is the same for everyone: `GET` without a query string,
//! without an admin session, login or remembered-account cookie, without
//! `Authorization`, not asking for ActivityPub JSON. Only answers that are the same for
//! everyone are stored: `200`, HTML, no `Set-Cookie`, not `Cache-Control: private`. The
//! post page's comment form carries no per-visitor token (it is guarded by its origin
//! check, honeypot and rate limit), so it can be shared.
//!
//! # Memory
//!
//! At most `capacity` bytes of bodies (plain and gzip copies together); the least
//! recently used pages go first, and pages of an old version as soon as a newer one is
//! stored. `capacity` 0 turns the cache off.

use crate::admin::session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie_value};
use crate::pages::interact::ACCOUNT_COOKIE;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gloss_federation::routes::wants_activity_json;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The cache's size when nothing is configured: room for the largest pages (a post with
/// a thousand comments is about 1 MiB of HTML and 0.1 MiB gzipped) and many small ones.
pub const DEFAULT_CAPACITY_BYTES: usize = 4 * 1024 * 1024;

/// Set by a handler on a response that must not be served from the cache after this
/// moment (e.g. the post page while its comments close by age).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheUntil(pub DateTime<Utc>);

/// One stored page.
struct Entry {
    version: i64,
    /// The in-process settings the page was rendered with.
    settings: u64,
    until: Option<DateTime<Utc>>,
    headers: HeaderMap,
    body: Bytes,
    etag: HeaderValue,
    /// The gzip copy, when it is smaller.
    gzip: Option<(Bytes, HeaderValue)>,
    last_used: AtomicU64,
}

impl Entry {
    fn size(&self) -> usize {
        self.body.len() + self.gzip.as_ref().map_or(0, |(body, _)| body.len()) + 512
    }
}

#[derive(Default)]
struct Entries {
    by_path: HashMap<String, std::sync::Arc<Entry>>,
    bytes: usize,
    /// The newest version stored: entries of older ones can never be served again.
    newest: i64,
}

/// Locks taken while a page is rendered for the cache, by a hash of its path: when many
/// readers miss the same page at once (just after a change), one renders it and the
/// others wait and take its copy, instead of all rendering it (CPU, and as many copies
/// of a large page in memory).
const RENDER_LOCKS: usize = 16;

/// Reads of the page version shared by concurrent requests.
///
/// A request may use a version read by a query that *started after it arrived* (that
/// read sees every change committed before the request). Reads run one at a time; a
/// request takes the number of reads started so far as its ticket, waits for its turn,
/// and then either uses the last completed read if that one started after its ticket, or
/// starts a new read itself, which serves every request that queued meanwhile:
///
/// ```text
///   requests a b c arrive ─► a reads (epoch 1) ─► b, c queued during a's read
///                                                  b reads (epoch 2) ─► c uses epoch 2
/// ```
///
/// Under load one query serves many requests instead of one query each.
#[derive(Default)]
struct VersionReads {
    /// Reads started so far.
    started: AtomicU64,
    /// The last completed read: its epoch and the version it returned.
    turn: tokio::sync::Mutex<Option<(u64, i64)>>,
}

impl VersionReads {
    async fn read(&self, store: &dyn gloss_storage::Store) -> gloss_storage::Result<i64> {
        let ticket = self.started.load(Ordering::SeqCst);
        let mut last = self.turn.lock().await;
        if let Some((epoch, version)) = *last
            && epoch > ticket
        {
            return Ok(version);
        }
        let epoch = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let version = store.page_version().await?;
        *last = Some((epoch, version));
        Ok(version)
    }
}

/// The cache itself: one per application, in [`AppState`].
pub struct PageCache {
    capacity: usize,
    entries: Mutex<Entries>,
    clock: AtomicU64,
    rendering: [tokio::sync::Mutex<()>; RENDER_LOCKS],
    versions: VersionReads,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl PageCache {
    /// A cache holding at most `capacity` bytes of pages; 0 turns it off.
    pub fn new(capacity: usize) -> PageCache {
        PageCache {
            capacity,
            entries: Mutex::new(Entries::default()),
            clock: AtomicU64::new(0),
            rendering: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            versions: VersionReads::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Bytes of pages held now (for tests and metrics).
    pub fn bytes(&self) -> usize {
        self.entries.lock().map_or(0, |entries| entries.bytes)
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The lock held while `path` is rendered for the cache.
    fn render_lock(&self, path: &str) -> &tokio::sync::Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut hasher);
        let stripe = usize::try_from(hasher.finish() % RENDER_LOCKS as u64).unwrap_or(0);
        &self.rendering[stripe.min(RENDER_LOCKS - 1)]
    }

    /// The page stored for `path` if it is still right: rendered under `version` or,
    /// with `or_newer`, under a later one (its state includes every change that `version`
    /// covers; used after waiting for another request's render).
    fn get(
        &self,
        path: &str,
        version: i64,
        settings: u64,
        now: DateTime<Utc>,
    ) -> Option<std::sync::Arc<Entry>> {
        self.lookup(path, version, settings, now, false)
    }

    fn lookup(
        &self,
        path: &str,
        version: i64,
        settings: u64,
        now: DateTime<Utc>,
        or_newer: bool,
    ) -> Option<std::sync::Arc<Entry>> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.by_path.get(path)?;
        let version_ok = entry.version == version || (or_newer && entry.version > version);
        if version_ok && entry.settings == settings && entry.until.is_none_or(|until| now < until) {
            entry.last_used.store(self.tick(), Ordering::Relaxed);
            return Some(std::sync::Arc::clone(entry));
        }
        // Stale for good (an older version, or other settings); a page of a newer
        // version than this request read stays for the requests that read it.
        if (entry.version < version || entry.settings != settings)
            && let Some(gone) = entries.by_path.remove(path)
        {
            entries.bytes = entries.bytes.saturating_sub(gone.size());
        }
        None
    }

    fn insert(&self, path: String, entry: Entry) -> std::sync::Arc<Entry> {
        let entry = std::sync::Arc::new(entry);
        let size = entry.size();
        if size > self.capacity {
            return entry;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return entry;
        };
        if entry.version < entries.newest {
            // Rendered under a version that has moved on since: not worth keeping.
            return entry;
        }
        if entry.version > entries.newest {
            entries.newest = entry.version;
            let newest = entry.version;
            entries.by_path.retain(|_, kept| kept.version >= newest);
            entries.bytes = entries.by_path.values().map(|kept| kept.size()).sum();
        }
        if let Some(old) = entries.by_path.remove(&path) {
            entries.bytes = entries.bytes.saturating_sub(old.size());
        }
        while entries.bytes + size > self.capacity {
            let Some(oldest) = entries
                .by_path
                .iter()
                .min_by_key(|(_, kept)| kept.last_used.load(Ordering::Relaxed))
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(gone) = entries.by_path.remove(&oldest) {
                entries.bytes = entries.bytes.saturating_sub(gone.size());
            }
        }
        entry.last_used.store(self.tick(), Ordering::Relaxed);
        entries.bytes += size;
        entries.by_path.insert(path, std::sync::Arc::clone(&entry));
        entry
    }
}

/// The middleware in front of the public pages (see the module documentation).
pub(crate) async fn serve_cached(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let cache = std::sync::Arc::clone(&state.page_cache);
    if !cache.enabled() || !shared_request(&request) {
        return next.run(request).await;
    }
    let version = match cache.versions.read(state.store.as_ref()).await {
        Ok(version) => version,
        Err(err) => {
            tracing::warn!("page cache bypassed: cannot read the page version: {err}");
            return next.run(request).await;
        }
    };
    let settings = settings_fingerprint(&state);
    let path = request.uri().path().to_owned();
    let gzip_accepted = accepts_gzip(request.headers());
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let now = Utc::now();
    if let Some(entry) = cache.get(&path, version, settings, now) {
        return answer(&entry, gzip_accepted, if_none_match.as_ref());
    }
    let _rendering = cache.render_lock(&path).lock().await;
    if let Some(entry) = cache.lookup(&path, version, settings, Utc::now(), true) {
        return answer(&entry, gzip_accepted, if_none_match.as_ref());
    }
    let response = next.run(request).await;
    let Some(headers) = shared_response(&response) else {
        return response;
    };
    let until = response
        .extensions()
        .get::<CacheUntil>()
        .map(|until| until.0);
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => {
            tracing::error!("page cache: cannot read a rendered page: {err}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if body.len() > cache.capacity {
        return Response::from_parts(parts, Body::from(body));
    }
    let compress = body.clone();
    let gzip = tokio::task::spawn_blocking(move || gzip(&compress))
        .await
        .ok()
        .flatten();
    let etag = etag_of(&body, "");
    let gzip = gzip
        .filter(|compressed| compressed.len() < body.len())
        .map(|compressed| {
            let tag = etag_of(&body, "-gz");
            (compressed, tag)
        });
    let entry = cache.insert(
        path,
        Entry {
            version,
            settings,
            until,
            headers,
            body,
            etag,
            gzip,
            last_used: AtomicU64::new(0),
        },
    );
    answer(&entry, gzip_accepted, if_none_match.as_ref())
}

/// Whether the request's page is the same for everyone (see the module documentation).
fn shared_request(request: &Request) -> bool {
    let headers = request.headers();
    request.method() == Method::GET
        && request.uri().query().is_none()
        && !headers.contains_key(header::AUTHORIZATION)
        && !wants_activity_json(headers)
        && [SESSION_COOKIE, ACCOUNT_COOKIE, LOGIN_CSRF_COOKIE]
            .iter()
            .all(|name| cookie_value(headers, name).is_none())
}

/// The headers to store with an answer that is the same for everyone, or `None`.
fn shared_response(response: &Response) -> Option<HeaderMap> {
    let headers = response.headers();
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let private = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("private") || value.contains("no-store"));
    if response.status() != StatusCode::OK
        || !html
        || private
        || headers.contains_key(header::SET_COOKIE)
        || headers.contains_key(header::CONTENT_ENCODING)
    {
        return None;
    }
    let mut kept = headers.clone();
    kept.remove(header::CONTENT_LENGTH);
    Some(kept)
}

/// The answer from a stored page: 304 when the client holds it, else the gzip copy
/// when accepted, else the plain one.
fn answer(entry: &Entry, gzip_accepted: bool, if_none_match: Option<&HeaderValue>) -> Response {
    let (body, etag, gzipped) = match (&entry.gzip, gzip_accepted) {
        (Some((body, etag)), true) => (body, etag, true),
        _ => (&entry.body, &entry.etag, false),
    };
    let mut headers = entry.headers.clone();
    headers.insert(header::ETAG, etag.clone());
    headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if if_none_match.is_some_and(|value| etag_matches(value, etag)) {
        headers.remove(header::CONTENT_TYPE);
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().extend(headers);
        return response;
    }
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let mut response = Response::new(Body::from(body.clone()));
    *response.headers_mut() = headers;
    response
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare by their value.
fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(wanted), Ok(etag)) = (if_none_match.to_str(), etag.to_str()) else {
        return false;
    };
    wanted
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// Whether `Accept-Encoding` accepts gzip (a `q=0` refuses it).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|param| {
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn gzip(body: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// A strong validator of the page's bytes (so that an unrelated change, which moves the
/// version but not this page, still lets browsers revalidate with a 304).
fn etag_of(body: &[u8], suffix: &str) -> HeaderValue {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    let tag = format!("\"{:016x}-{:x}{suffix}\"", hasher.finish(), body.len());
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The settings held by the process (not the database) that change what pages show.
fn settings_fingerprint(state: &AppState) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{:?}", state.federation.local_comments()).hash(&mut hasher);
    state.federation.comments_close_after().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(header::ACCEPT_ENCODING, value);
            }
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, deflate"));
        assert!(!with(""));
    }

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let etag = HeaderValue::from_static("\"abc-1\"");
        let matches = |value: &'static str| etag_matches(&HeaderValue::from_static(value), &etag);
        assert!(matches("\"abc-1\""));
        assert!(matches("\"x\", W/\"abc-1\""));
        assert!(matches("*"));
        assert!(!matches("\"abc-1-gz\""));
    }

    fn entry(version: i64, bytes: usize) -> Entry {
        Entry {
            version,
            settings: 0,
            until: None,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; bytes]),
            etag: HeaderValue::from_static("\"e\""),
            gzip: None,
            last_used: AtomicU64::new(0),
        }
    }

    #[test]
    fn the_least_recently_used_pages_go_first_and_the_cap_holds() {
        let cache = PageCache::new(3 * 1512);
        let now = Utc::now();
        cache.insert("/a".into(), entry(1, 1000));
        cache.insert("/b".into(), entry(1, 1000));
        cache.insert("/c".into(), entry(1, 1000));
        assert!(cache.get("/a", 1, 0, now).is_some());
        cache.insert("/d".into(), entry(1, 1000));
        assert!(cache.bytes() <= 3 * 1512);
        assert!(cache.get("/b", 1, 0, now).is_none(), "least recently used");
        assert!(cache.get("/a", 1, 0, now).is_some());
        assert!(cache.get("/d", 1, 0, now).is_some());
        // Too large for the cap: answered, not kept.
        cache.insert("/big".into(), entry(1, 10_000));
        assert!(cache.get("/big", 1, 0, now).is_none());
    }

    #[test]
    fn a_newer_version_drops_the_older_pages() {
        let cache = PageCache::new(1 << 20);
        let now = Utc::now();
        cache.insert("/a".into(), entry(1, 100));
        cache.insert("/b".into(), entry(2, 100));
        assert!(cache.get("/a", 1, 0, now).is_none());
        assert!(cache.get("/b", 2, 0, now).is_some());
        assert!(cache.get("/b", 3, 0, now).is_none(), "the version moved");
        assert_eq!(cache.bytes(), 0);
        // A page rendered under an older version than one already stored is not kept.
        cache.insert("/c".into(), entry(1, 100));
        assert!(cache.get("/c", 1, 0, now).is_none());
    }

    #[test]
    fn an_expired_page_is_not_served() {
        let cache = PageCache::new(1 << 20);
        let now = Utc::now();
        let mut expiring = entry(1, 100);
        expiring.until = Some(now);
        cache.insert("/a".into(), expiring);
        assert!(cache.get("/a", 1, 0, now).is_none());
    }
}
