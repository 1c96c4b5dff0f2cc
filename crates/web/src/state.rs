//! The application context handed to every handler: one value, no globals, so that
//! several Gloss instances can run in one test process.

use crate::page_cache::PageCache;
use axum::extract::FromRef;
use gloss_federation::context::Federation;
use gloss_storage::Store;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// Settings of the web layer, composed by the binary from its configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The URL readers use to reach the blog, without a trailing slash in paths
    /// (e.g. `https://blog.example.org`). Every absolute link is built from it.
    pub public_url: Url,
    /// Posts per page on the home, tag and author pages.
    pub posts_per_page: i64,
}

impl WebConfig {
    /// `path` (starting with `/`) as an absolute URL under the public URL.
    pub fn absolute(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// Whether cookies must carry `Secure` (the blog is served over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// Shared state of the web application. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
    /// The federation context: actor keys, URLs, the HTTP client. The federation read
    /// routes take it from here (see the `FromRef` impl below).
    pub federation: Federation,
    /// The one-time token of the setup link, while no author exists yet.
    pub setup_token: Arc<Mutex<Option<String>>>,
    /// Failed logins per client address, for the login rate limit.
    pub login_limiter: Arc<RateLimiter>,
    /// Readers' comments per client address (IPv6 per /64), for the comment form's
    /// rate limit.
    pub comment_limiter: Arc<RateLimiter>,
    /// Rendered public pages, served again while the page version has not moved
    /// (see `page_cache.rs`). On by default.
    pub page_cache: Arc<PageCache>,
    /// Post pages rendered at once. A page with a thousand comments holds a few MB while
    /// it is read and rendered; more renders than twice the cores only share the same CPU
    /// and multiply that memory (visitors the cache cannot serve, a cache turned off).
    pub post_renders: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// `federation` must be built over the same store and public URL as the web layer.
    pub fn new(store: Arc<dyn Store>, config: WebConfig, federation: Federation) -> Self {
        AppState {
            store,
            config: Arc::new(config),
            federation,
            setup_token: Arc::new(Mutex::new(None)),
            login_limiter: Arc::new(RateLimiter::new(5, Duration::from_secs(15 * 60))),
            comment_limiter: Arc::new(RateLimiter::new(
                crate::pages::local_comments::RATE_LIMIT,
                crate::pages::local_comments::RATE_WINDOW,
            )),
            page_cache: Arc::new(PageCache::new(crate::page_cache::DEFAULT_CAPACITY_BYTES)),
            post_renders: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |cores| cores.get() * 2),
            )),
        }
    }

    /// Gives the rendered-page cache `capacity` bytes; 0 turns it off.
    pub fn with_page_cache_bytes(mut self, capacity: usize) -> Self {
        self.page_cache = Arc::new(PageCache::new(capacity));
        self
    }

    /// Arms the setup link with `token` (called by `gloss serve` when there is no
    /// author yet). The link works once.
    pub fn arm_setup_token(&self, token: String) {
        if let Ok(mut slot) = self.setup_token.lock() {
            *slot = Some(token);
        }
    }
}

/// Lets `gloss_federation::routes::routes()` run on the web application's state.
impl FromRef<AppState> for Federation {
    fn from_ref(state: &AppState) -> Federation {
        state.federation.clone()
    }
}

/// A fixed-window counter per client address: at most `limit` events per `window`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    events: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `client` is still allowed another attempt now.
    pub fn allows(&self, client: IpAddr) -> bool {
        let Ok(events) = self.events.lock() else {
            return false;
        };
        match events.get(&client) {
            Some((start, count)) => start.elapsed() > self.window || *count < self.limit,
            None => true,
        }
    }

    /// Records one failed attempt by `client`.
    pub fn record_failure(&self, client: IpAddr) {
        let Ok(mut events) = self.events.lock() else {
            return;
        };
        if events.len() > 100_000 {
            let window = self.window;
            events.retain(|_, (start, _)| start.elapsed() <= window);
        }
        let entry = events.entry(client).or_insert((Instant::now(), 0));
        if entry.0.elapsed() > self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Forgets `client`'s failures (after a successful login).
    pub fn reset(&self, client: IpAddr) {
        if let Ok(mut events) = self.events.lock() {
            events.remove(&client);
        }
    }
}
