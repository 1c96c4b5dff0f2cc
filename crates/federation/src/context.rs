//! `Federation`: the federation context handed to every federation handler and to the
//! delivery worker. One value per Gloss instance (no globals), cheap to clone.

use crate::moderation::{CommentsModeration, LocalComments};
use crate::urls::Urls;
use gloss_storage::{ActorKey, LocalActor, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use url::Url;

/// Federation settings, composed by the binary from its configuration.
#[derive(Debug, Clone)]
pub struct FederationSettings {
    /// The blog's origin, e.g. `https://blog.example.org`.
    pub public_url: Url,
    /// The blog actor's handle (`@{blog_handle}@{host}`).
    pub blog_handle: String,
    /// Test networks only: lets fetches and deliveries reach loopback and private
    /// addresses (`GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES`).
    pub allow_private_addresses: bool,
    /// Test networks only: an extra trusted CA certificate, PEM (`GLOSS_FEDERATION_EXTRA_CA`).
    pub extra_ca_pem: Option<Vec<u8>>,
}

/// Why the federation context could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error(transparent)]
    Storage(#[from] gloss_storage::Error),
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    #[error("HTTP client: {0}")]
    HttpClient(String),
}

struct Inner {
    store: Arc<dyn Store>,
    settings: FederationSettings,
    urls: Urls,
    http: reqwest::Client,
    /// The client for inbox deliveries: never follows redirects (security checklist
    /// Q11: an inbox answering 3xx is a failed delivery).
    delivery_http: reqwest::Client,
    /// Parsed keys of our actors (parsing a PEM costs more than a signature).
    keys: Mutex<HashMap<LocalActor, ActorKey>>,
    /// Held while a key missing from `keys` is read or made: the first fan-out of a new
    /// author starts a hundred sends at once, and each would otherwise generate its own
    /// RSA key (seconds of CPU) before all but one were thrown away.
    key_loading: tokio::sync::Mutex<()>,
    /// Wakes this process's delivery worker after activities were recorded.
    delivery_wakeup: Arc<tokio::sync::Notify>,
    /// How fediverse comments are moderated. Kept here rather than in
    /// [`FederationSettings`] so that adding it broke no caller that builds the settings
    /// (the binary sets it with [`Federation::set_comments_moderation`]).
    comments_moderation: RwLock<CommentsModeration>,
    /// Days after publication when a post stops taking comments (0: never). Set by the
    /// binary like the moderation mode.
    comments_close_after_days: RwLock<u32>,
    /// How readers' comments from the post page's form are taken (the web layer reads
    /// it from here).
    local_comments: RwLock<LocalComments>,
    /// Where [`Federation::request_backfill`] sends: the bounded queue of the backfill
    /// worker (`crate::backfill`), when one runs.
    backfill_queue: Mutex<Option<tokio::sync::mpsc::Sender<String>>>,
}

/// The federation context.
#[derive(Clone)]
pub struct Federation {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("public_url", &self.inner.settings.public_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Federation {
    /// Builds the context; `http` is the SSRF-safe client from `crate::http_client`,
    /// used for fetches and (unless [`Federation::with_delivery_client`] gives another)
    /// for deliveries.
    pub fn new(store: Arc<dyn Store>, settings: FederationSettings, http: reqwest::Client) -> Self {
        Self::with_delivery_client(store, settings, http.clone(), http)
    }

    /// Like [`Federation::new`], with a separate client for inbox deliveries (built with
    /// `refuse_redirects`).
    pub fn with_delivery_client(
        store: Arc<dyn Store>,
        settings: FederationSettings,
        http: reqwest::Client,
        delivery_http: reqwest::Client,
    ) -> Self {
        let urls = Urls::new(&settings.public_url);
        Federation {
            inner: Arc::new(Inner {
                store,
                settings,
                urls,
                http,
                delivery_http,
                keys: Mutex::new(HashMap::new()),
                key_loading: tokio::sync::Mutex::new(()),
                delivery_wakeup: Arc::new(tokio::sync::Notify::new()),
                comments_moderation: RwLock::new(CommentsModeration::default()),
                comments_close_after_days: RwLock::new(0),
                local_comments: RwLock::new(LocalComments::default()),
                backfill_queue: Mutex::new(None),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn settings(&self) -> &FederationSettings {
        &self.inner.settings
    }

    pub fn urls(&self) -> &Urls {
        &self.inner.urls
    }

    /// The client for fetching documents (follows at most one redirect).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The client for POSTing to inboxes (follows no redirect).
    pub fn delivery_http(&self) -> &reqwest::Client {
        &self.inner.delivery_http
    }

    /// How comments from the fediverse are moderated (default: first-time).
    pub fn comments_moderation(&self) -> CommentsModeration {
        self.inner
            .comments_moderation
            .read()
            .map(|mode| *mode)
            .unwrap_or_default()
    }

    /// Sets the moderation mode (`GLOSS_COMMENTS_MODERATION`); it applies to comments
    /// received from now on.
    pub fn set_comments_moderation(&self, mode: CommentsModeration) {
        if let Ok(mut current) = self.inner.comments_moderation.write() {
            *current = mode;
        }
    }

    /// Sets `GLOSS_COMMENTS_CLOSE_AFTER_DAYS` (0: comments never close by age).
    pub fn set_comments_close_after_days(&self, days: u32) {
        if let Ok(mut current) = self.inner.comments_close_after_days.write() {
            *current = days;
        }
    }

    /// The age after which posts take no more comments, if they ever close by age.
    pub fn comments_close_after(&self) -> Option<chrono::TimeDelta> {
        let days = self
            .inner
            .comments_close_after_days
            .read()
            .map(|days| *days)
            .unwrap_or_default();
        (days > 0).then(|| chrono::TimeDelta::days(i64::from(days)))
    }

    /// Whether a post published at `published_at` still takes comments at `now` as far
    /// as its age goes (the post's own `comments_open` flag is checked apart).
    pub fn comments_open_by_age(
        &self,
        published_at: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        self.comments_close_after()
            .is_none_or(|after| now.signed_duration_since(published_at) < after)
    }

    /// How readers' comments are taken (`GLOSS_COMMENTS_LOCAL`; default: moderated).
    pub fn local_comments(&self) -> LocalComments {
        self.inner
            .local_comments
            .read()
            .map(|mode| *mode)
            .unwrap_or_default()
    }

    /// Sets `GLOSS_COMMENTS_LOCAL`.
    pub fn set_local_comments(&self, mode: LocalComments) {
        if let Ok(mut current) = self.inner.local_comments.write() {
            *current = mode;
        }
    }

    /// The signal that wakes this process's delivery worker (see `crate::delivery`).
    pub fn delivery_wakeup(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.inner.delivery_wakeup)
    }

    /// Tells the delivery worker that new activities wait, so that a post published in
    /// the admin UI leaves at once instead of at the worker's next poll.
    pub fn wake_delivery_worker(&self) {
        self.inner.delivery_wakeup.notify_one();
    }

    /// Connects [`Federation::request_backfill`] to a backfill worker's queue
    /// (`crate::backfill::BackfillWorker` does it when it starts).
    pub fn set_backfill_queue(&self, queue: tokio::sync::mpsc::Sender<String>) {
        if let Ok(mut slot) = self.inner.backfill_queue.lock() {
            *slot = Some(queue);
        }
    }

    /// Asks the backfill worker, if one runs, to complete the thread of the remote
    /// comment `ap_id` soon. Never waits: when the queue is full the request is dropped
    /// (the periodic backfill comes by later).
    pub fn request_backfill(&self, ap_id: &str) {
        let Some(queue) = self
            .inner
            .backfill_queue
            .lock()
            .ok()
            .and_then(|slot| slot.clone())
        else {
            return;
        };
        if let Err(err) = queue.try_send(ap_id.to_owned()) {
            tracing::debug!(comment = %ap_id, error = %err, "backfill request dropped");
        }
    }

    /// The key pair of one of our actors, generated and stored on first use. Two
    /// processes generating at once end up using the same stored key.
    pub async fn actor_key(&self, actor: LocalActor) -> Result<ActorKey, FederationError> {
        if let Some(key) = self.cached_key(actor) {
            return Ok(key);
        }
        let _loading = self.inner.key_loading.lock().await;
        if let Some(key) = self.cached_key(actor) {
            // Loaded by the caller we waited for.
            return Ok(key);
        }
        let key = match self.inner.store.actor_key(actor).await? {
            Some(key) => key,
            None => {
                // RSA-2048 generation takes tens of milliseconds: off the async threads.
                let pair = tokio::task::spawn_blocking(
                    activitypub_federation::http_signatures::generate_actor_keypair,
                )
                .await
                .map_err(|err| FederationError::KeyGeneration(err.to_string()))?
                .map_err(|err| FederationError::KeyGeneration(err.to_string()))?;
                self.inner
                    .store
                    .insert_actor_key_if_missing(ActorKey {
                        actor,
                        public_key_pem: pair.public_key,
                        private_key_pem: pair.private_key,
                        created_at: chrono::Utc::now(),
                    })
                    .await?
            }
        };
        if let Ok(mut keys) = self.inner.keys.lock() {
            keys.insert(actor, key.clone());
        }
        Ok(key)
    }

    fn cached_key(&self, actor: LocalActor) -> Option<ActorKey> {
        self.inner.keys.lock().ok()?.get(&actor).cloned()
    }
}
