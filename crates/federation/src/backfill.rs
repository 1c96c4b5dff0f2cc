//! Complete threads by backfill (issue 4, item 5): replies to replies often never reach
//! our inbox (GoToSocial delivers a reply only to whom it mentions; Mastodon to the
//! parent's author, the mentioned accounts and the replier's followers). So we read
//! the `replies` collection, and the FEP-7888 `context` collection, of the originals of
//! the comments we hold, and every public reply found there goes through the same
//! intake as an inbox Create (`crate::comments`): blocks refused before any fetch,
//! tombstones respected, visibility, moderation rules, ancestors within their budgets.
//!
//! ```text
//!  inbox: a new comment ──try_send──► bounded queue ──► BackfillWorker ◄── every 30 min:
//!         (full: dropped; the periodic        │          comments of posts of the last
//!          run comes by later)                │          14 days (or with recent comments),
//!                                             │          least recently backfilled first
//!                                             ▼
//!  one comment: claimed in the store (at most once per MIN_INTERVAL, whoever asks)
//!     │
//!  refetch its Note from its origin (signed GET) ─410 / Tombstone─► delete our copy,
//!     │                                          │                  keep a tombstone (F11)
//!     │                                          └─404, 5xx, timeout─► keep it; the claim
//!     ▼                                                                 stops hot retries
//!  replies (a URL on the Note's server, or embedded) and context (a collection URL)
//!     │   pages: first / next, ≤ MAX_PAGES per collection, ≤ MAX_ITEMS per page, a page
//!     │   seen before ends the walk (a `next` pointing to itself)
//!     ▼
//!  each item: ours, seen, stored or tombstoned ─► skipped without a request
//!     │       embedded and trusted (id and author on the collection's server) or
//!     │       refetched by id (P3, P13); not public or unlisted ─► skipped
//!     ▼
//!  CommentIntake (same path as the inbox) ─new─► its own replies, ≤ MAX_DEPTH levels
//! ```
//!
//! Every run has a request budget (objects, actors, collection pages and ancestors
//! together) and a cap on new comments; a thread or a periodic run shares one budget
//! between the comments it visits.

use crate::comments::{
    CommentIntake, FETCH_BUDGET, FetchFailure, IntakeError, Run, is_comment_kind, note_from_origin,
    same_host, visibility_of,
};
use crate::context::Federation;
use crate::http_client::HttpClientError;
use crate::protocol::note::Note;
use crate::remote_actors::RemoteActors;
use chrono::Utc;
use gloss_storage::{DeleteOutcome, Visibility};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use url::Url;

/// The limits of backfilling. The defaults suit a blog: a few dozen requests per
/// thread, a few hundred per periodic run.
#[derive(Debug, Clone)]
pub struct BackfillLimits {
    /// Requests (notes, actors, collection pages, ancestors) for one comment's backfill,
    /// and for one thread's.
    pub max_requests: usize,
    /// Pages read from one collection (the collection itself counts as one when it
    /// lists items).
    pub max_pages: usize,
    /// Items read from one page.
    pub max_items_per_page: usize,
    /// Levels of replies to replies followed below the backfilled comment.
    pub max_depth: usize,
    /// New comments one run may store. Kept under the moderation's burst limit
    /// (`crate::moderation::BURST_LIMIT` per host and minute), so that a backfill alone
    /// does not hold a thread's replies as a burst.
    pub max_new_comments: usize,
    /// One comment is backfilled at most once per this interval (also what keeps a 404
    /// from being retried at once: checklist F11).
    pub min_interval: Duration,
    /// The periodic backfill visits comments of posts published within this window,
    /// or of posts with a comment received within it.
    pub recent_window: Duration,
    /// How often the periodic backfill runs.
    pub periodic_interval: Duration,
    /// Comments one periodic run visits at most.
    pub comments_per_periodic_run: usize,
    /// Requests one periodic run makes at most.
    pub requests_per_periodic_run: usize,
    /// Backfill requests from the inbox waiting at most; more are dropped.
    pub queue_capacity: usize,
}

impl Default for BackfillLimits {
    fn default() -> Self {
        BackfillLimits {
            max_requests: 40,
            max_pages: 5,
            max_items_per_page: 50,
            max_depth: 3,
            max_new_comments: 25,
            min_interval: Duration::from_secs(30 * 60),
            recent_window: Duration::from_secs(14 * 24 * 60 * 60),
            periodic_interval: Duration::from_secs(30 * 60),
            comments_per_periodic_run: 50,
            requests_per_periodic_run: 300,
            queue_capacity: 64,
        }
    }
}

/// What a backfill did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// Comments whose collections were read (claimed and refetched).
    pub comments_visited: usize,
    /// Comments not visited because they were backfilled within the interval.
    pub comments_throttled: usize,
    /// Requests made.
    pub requests: usize,
    /// Replies stored that we did not hold.
    pub new_comments: usize,
    /// Items skipped without a request: already stored or tombstoned.
    pub known_skipped: usize,
    /// Items neither public nor unlisted.
    pub private_skipped: usize,
    /// Items the intake refused (blocked, closed post, thread not ours...) or that could
    /// not be fetched.
    pub refused: usize,
    /// Our copies deleted because their origin answered 410 Gone (F11).
    pub deleted: usize,
    /// Our copies kept although their origin failed (404, 5xx, timeout: F11).
    pub kept_on_failure: usize,
}

/// A collection to read: where it came from decides what its embedded items may vouch
/// for, and where its pages may be fetched.
struct Collection {
    /// Embedded in a document we trust as far as `origin` goes, or to fetch.
    source: CollectionSource,
    /// The server the collection belongs to: its pages are fetched only from there,
    /// and its embedded items are trusted only when they are that server's own.
    origin: Url,
    /// Levels below the backfilled comment of the replies it lists.
    depth: usize,
}

enum CollectionSource {
    Embedded(Value),
    Url(Url),
}

/// Backfills threads. One per Gloss process (it holds the instance key and the remote
/// actor cache, like the inbox's intake).
pub struct Backfiller {
    intake: CommentIntake,
    remote_actors: RemoteActors,
    limits: BackfillLimits,
}

impl std::fmt::Debug for Backfiller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backfiller")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Backfiller {
    pub fn new(limits: BackfillLimits) -> Backfiller {
        Backfiller {
            intake: CommentIntake::new(),
            remote_actors: RemoteActors::new(),
            limits,
        }
    }

    pub fn limits(&self) -> &BackfillLimits {
        &self.limits
    }

    /// Backfills the remote comment `ap_id`: refetches it (F11), then reads its
    /// `replies` and `context` collections within [`BackfillLimits::max_requests`].
    /// Nothing happens when it was backfilled within [`BackfillLimits::min_interval`].
    pub async fn backfill_comment(
        &self,
        federation: &Federation,
        ap_id: &str,
    ) -> Result<BackfillReport, IntakeError> {
        let mut report = BackfillReport::default();
        self.comment_within(federation, ap_id, self.limits.max_requests, &mut report)
            .await?;
        Ok(report)
    }

    /// Backfills the thread of the remote comment `ap_id`, as after it arrived in the
    /// inbox: its remote ancestors (nearest to our post first) and itself, sharing one
    /// budget of [`BackfillLimits::max_requests`].
    pub async fn backfill_thread(
        &self,
        federation: &Federation,
        ap_id: &str,
    ) -> Result<BackfillReport, IntakeError> {
        let store = federation.store();
        let mut chain = Vec::new();
        let mut current = store.comment_by_ap_id(ap_id).await?;
        let mut steps = 0;
        while let Some(comment) = current {
            steps += 1;
            if steps > crate::comments::MAX_ANCESTOR_DEPTH {
                break;
            }
            if let Some(id) = &comment.ap_id
                && comment.remote_actor_id.is_some()
            {
                chain.push(id.clone());
            }
            current = match comment.parent_id {
                Some(parent) => store.comment_by_id(parent).await?,
                None => None,
            };
        }
        let mut report = BackfillReport::default();
        let mut left = self.limits.max_requests;
        for id in chain.iter().rev() {
            if left == 0 || report.new_comments >= self.limits.max_new_comments {
                break;
            }
            left -= self
                .comment_within(federation, id, left, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// The periodic backfill: comments of recent posts (see
    /// [`gloss_storage::Store::comments_due_for_backfill`]), within
    /// [`BackfillLimits::requests_per_periodic_run`].
    pub async fn backfill_recent(
        &self,
        federation: &Federation,
    ) -> Result<BackfillReport, IntakeError> {
        let now = Utc::now();
        let since = now - chrono_duration(self.limits.recent_window);
        let not_before = now - chrono_duration(self.limits.min_interval);
        let limit = i64::try_from(self.limits.comments_per_periodic_run).unwrap_or(i64::MAX);
        let due = federation
            .store()
            .comments_due_for_backfill(since, not_before, limit)
            .await?;
        let mut report = BackfillReport::default();
        let mut left = self.limits.requests_per_periodic_run;
        for ap_id in due {
            if left == 0 || report.new_comments >= self.limits.max_new_comments {
                break;
            }
            let budget = left.min(self.limits.max_requests);
            left -= self
                .comment_within(federation, &ap_id, budget, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Backfills one comment with at most `budget` requests; returns how many it made.
    async fn comment_within(
        &self,
        federation: &Federation,
        ap_id: &str,
        budget: usize,
        report: &mut BackfillReport,
    ) -> Result<usize, IntakeError> {
        let store = federation.store();
        let Some(comment) = store.comment_by_ap_id(ap_id).await? else {
            return Ok(0);
        };
        let (Some(owner), None) = (comment.remote_actor_id, comment.deleted_at) else {
            return Ok(0);
        };
        let Ok(url) = Url::parse(ap_id) else {
            return Ok(0);
        };
        // A blocked author's comments are hidden; nothing of theirs is fetched (M4).
        if let Some(author) = store.remote_actor_by_id(owner).await?
            && store.is_blocked(Some(&author.ap_id), &author.host).await?
        {
            return Ok(0);
        }
        let now = Utc::now();
        if !store
            .claim_comment_backfill(ap_id, now, now - chrono_duration(self.limits.min_interval))
            .await?
        {
            report.comments_throttled += 1;
            return Ok(0);
        }
        let mut run = self
            .intake
            .run_with_budget(federation, &self.remote_actors, budget);
        let visited = self.visit(&mut run, ap_id, &url, owner, report).await;
        let used = budget - run.fetches_left();
        report.requests += used;
        visited?;
        Ok(used)
    }

    /// Refetches the claimed comment `ap_id` (at `url`, stored as `owner`'s), then walks
    /// its collections.
    async fn visit(
        &self,
        run: &mut Run<'_>,
        ap_id: &str,
        url: &Url,
        owner: gloss_storage::RemoteActorId,
        report: &mut BackfillReport,
    ) -> Result<(), IntakeError> {
        let document = match run.fetch_document_checked(url).await? {
            Ok(document) if is_tombstone(&document) => None,
            Ok(document) => Some(document),
            Err(FetchFailure::Gone) => None,
            Err(FetchFailure::Refused(why)) => {
                tracing::info!(comment = %ap_id, reason = why, "backfill: comment not refetched");
                return Ok(());
            }
            Err(FetchFailure::Failed(err)) => {
                // F11: 404 (maybe a moderation or a glitch), 5xx and timeouts keep our
                // copy; the claim keeps us from asking again before the interval.
                let kind = match err {
                    HttpClientError::Status(404) => "not found",
                    HttpClientError::Status(_) | HttpClientError::Timeout => "unavailable",
                    _ => "unusable answer",
                };
                tracing::info!(comment = %ap_id, error = %err, kind,
                    "backfill: the origin failed; our copy is kept");
                report.kept_on_failure += 1;
                return Ok(());
            }
        };
        report.comments_visited += 1;
        let Some(document) = document else {
            // F11: 410 Gone (or a Tombstone) is a Delete by the owner: the copy goes, a
            // tombstone stays.
            let deleted = run
                .federation()
                .store()
                .delete_comment_by_ap_id(ap_id, owner, Utc::now())
                .await?;
            if let DeleteOutcome::Deleted(_) = deleted {
                tracing::info!(comment = %ap_id, "backfill: the origin says gone; comment deleted");
                report.deleted += 1;
            }
            return Ok(());
        };
        let note = match note_from_origin(&document) {
            Ok(note) if note.id == ap_id => note,
            Ok(_) | Err(_) => {
                tracing::info!(comment = %ap_id, "backfill: the origin's document is not this comment");
                report.kept_on_failure += 1;
                return Ok(());
            }
        };
        let mut walk = Walk {
            limits: &self.limits,
            seen: HashSet::from([note.id.clone()]),
            pages_seen: HashSet::new(),
            queue: VecDeque::new(),
            report,
        };
        walk.push_replies(&document, url, 1);
        if let Some(context) = note.context.as_deref().and_then(|id| Url::parse(id).ok())
            && !run.is_local(&context)
        {
            walk.queue.push_back(Collection {
                source: CollectionSource::Url(context.clone()),
                origin: context,
                depth: 1,
            });
        }
        walk.run(run).await
    }
}

/// The state of one comment's backfill.
struct Walk<'a> {
    limits: &'a BackfillLimits,
    /// Item ids handled in this walk.
    seen: HashSet<String>,
    /// Collection and page URLs read in this walk.
    pages_seen: HashSet<String>,
    queue: VecDeque<Collection>,
    report: &'a mut BackfillReport,
}

impl Walk<'_> {
    /// Queues the `replies` of the note `document`, whose server is `origin`, when
    /// another level is allowed. A replies URL on another server is not followed.
    fn push_replies(&mut self, document: &Value, origin: &Url, depth: usize) {
        if depth > self.limits.max_depth {
            return;
        }
        let source = match document.get("replies") {
            Some(Value::String(id)) => match Url::parse(id) {
                Ok(url) if same_host(&url, origin) => CollectionSource::Url(url),
                _ => return,
            },
            Some(embedded @ Value::Object(_)) => CollectionSource::Embedded(embedded.clone()),
            _ => return,
        };
        self.queue.push_back(Collection {
            source,
            origin: origin.clone(),
            depth,
        });
    }

    fn done(&self, run: &Run<'_>) -> bool {
        run.fetches_left() == 0 || self.report.new_comments >= self.limits.max_new_comments
    }

    async fn run(&mut self, run: &mut Run<'_>) -> Result<(), IntakeError> {
        while let Some(collection) = self.queue.pop_front() {
            if self.done(run) {
                break;
            }
            self.read_collection(run, collection).await?;
        }
        Ok(())
    }

    /// Reads a collection page by page (`first`, then `next`), handing its items to
    /// [`Walk::take_item`].
    async fn read_collection(
        &mut self,
        run: &mut Run<'_>,
        collection: Collection,
    ) -> Result<(), IntakeError> {
        let Collection {
            source,
            origin,
            depth,
        } = collection;
        let mut next = Some(source);
        let mut pages = 0;
        while let Some(source) = next.take() {
            if pages >= self.limits.max_pages || self.done(run) {
                break;
            }
            let page = match source {
                CollectionSource::Embedded(page) => page,
                CollectionSource::Url(url) => {
                    if !same_host(&url, &origin) || !self.pages_seen.insert(url.to_string()) {
                        break;
                    }
                    match run.fetch_document_checked(&url).await? {
                        Ok(page) => page,
                        Err(FetchFailure::Refused(why)) => {
                            tracing::info!(collection = %url, reason = why, "backfill: collection not read");
                            break;
                        }
                        Err(FetchFailure::Gone) => break,
                        Err(FetchFailure::Failed(err)) => {
                            tracing::info!(collection = %url, error = %err, "backfill: reading a collection failed");
                            break;
                        }
                    }
                }
            };
            if !is_collection(&page) {
                break;
            }
            if let Some(id) = page.get("id").and_then(Value::as_str) {
                // An embedded page already read by URL (or the other way round) ends it.
                self.pages_seen.insert(id.to_owned());
            }
            let items = items_of(&page);
            if !items.is_empty() {
                pages += 1;
            }
            for item in items.into_iter().take(self.limits.max_items_per_page) {
                if self.done(run) {
                    return Ok(());
                }
                self.take_item(run, item, &origin, depth).await?;
            }
            next = following_page(&page, &self.pages_seen);
        }
        Ok(())
    }

    /// One item of a replies or context collection: a URI, a post-like object, or an
    /// activity about one (whose object is always refetched).
    async fn take_item(
        &mut self,
        run: &mut Run<'_>,
        item: &Value,
        origin: &Url,
        depth: usize,
    ) -> Result<(), IntakeError> {
        let (id, embedded) = match item {
            Value::String(id) => (id.as_str(), None),
            Value::Object(object) => {
                let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
                if is_comment_kind(kind) {
                    let Some(id) = object.get("id").and_then(Value::as_str) else {
                        return Ok(());
                    };
                    (id, Some(item))
                } else if kind == "Create" {
                    match object.get("object").and_then(id_of) {
                        Some(id) => (id, None),
                        None => return Ok(()),
                    }
                } else {
                    return Ok(());
                }
            }
            _ => return Ok(()),
        };
        let Ok(url) = Url::parse(id) else {
            return Ok(());
        };
        if run.is_local(&url) || !self.seen.insert(url.to_string()) {
            return Ok(());
        }
        let store = run.federation().store();
        if store.comment_by_ap_id(url.as_str()).await?.is_some()
            || store.tombstone_exists(url.as_str()).await?
        {
            self.report.known_skipped += 1;
            return Ok(());
        }
        // P3/P13: an embedded object is the collection's server's word, good only for
        // that server's own objects by that server's own actors; others are refetched.
        let trusted = embedded.and_then(|value| {
            let note = Note::deserialize(value).ok()?;
            let author = Url::parse(note.attributed_to.as_deref()?).ok()?;
            (note.id == id && same_host(&url, origin) && same_host(&author, origin))
                .then(|| (note, value.clone()))
        });
        let (note, document) = match trusted {
            Some(found) => found,
            None => {
                if embedded.is_some() {
                    tracing::info!(object = %url, collection = %origin,
                        "backfill: an embedded object its collection may not vouch for; refetching it");
                }
                match run.fetch_document_checked(&url).await? {
                    Ok(document) => match note_from_origin(&document) {
                        Ok(note) if note.id == id => (note, document),
                        _ => {
                            self.report.refused += 1;
                            return Ok(());
                        }
                    },
                    Err(_) => {
                        self.report.refused += 1;
                        return Ok(());
                    }
                }
            }
        };
        if !matches!(
            visibility_of(&note),
            Visibility::Public | Visibility::Unlisted
        ) {
            self.report.private_skipped += 1;
            return Ok(());
        }
        let Some(author) = run.author(note.attributed_to.as_deref()).await? else {
            self.report.refused += 1;
            return Ok(());
        };
        // The ancestors of one reply get the inbox's budget at most (F9).
        let withheld = run.cap_budget(FETCH_BUDGET);
        let intake = run.intake_reply_with(note, author).await;
        run.uncap_budget(withheld);
        let intake = intake?;
        if intake.created {
            self.report.new_comments += 1;
            self.push_replies(&document, &url, depth + 1);
        } else {
            tracing::info!(object = %url, outcome = intake.outcome, "backfill: reply not stored");
            self.report.refused += 1;
        }
        Ok(())
    }
}

/// The id of a value that is a URI or an object with an `id`.
fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) => Some(id),
        Value::Object(object) => object.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// The `type` of a document (the first one when it is an array).
fn kind_of(document: &Value) -> Option<&str> {
    match document.get("type")? {
        Value::String(kind) => Some(kind),
        Value::Array(kinds) => kinds.first().and_then(Value::as_str),
        _ => None,
    }
}

fn is_collection(document: &Value) -> bool {
    matches!(
        kind_of(document),
        Some("Collection" | "OrderedCollection" | "CollectionPage" | "OrderedCollectionPage")
    )
}

fn is_tombstone(document: &Value) -> bool {
    kind_of(document) == Some("Tombstone")
}

/// The items listed on a collection or page (`orderedItems` or `items`, one or many).
fn items_of(page: &Value) -> Vec<&Value> {
    match page.get("orderedItems").or_else(|| page.get("items")) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ (Value::String(_) | Value::Object(_))) => vec![item],
        _ => Vec::new(),
    }
}

/// Where to read on: a collection's `first` page, else a page's `next`; never a page
/// read before.
fn following_page(page: &Value, seen: &HashSet<String>) -> Option<CollectionSource> {
    let link = page.get("first").or_else(|| page.get("next"))?;
    match link {
        Value::String(id) => Url::parse(id).ok().map(CollectionSource::Url),
        Value::Object(object) => match object.get("id").and_then(Value::as_str) {
            Some(id) if seen.contains(id) => None,
            // An embedded page with items or a link on is read as is (Mastodon's first
            // page; Smithereen's has only `next`); a bare reference, by its id.
            _ if ["items", "orderedItems", "next"]
                .iter()
                .any(|key| object.contains_key(*key)) =>
            {
                Some(CollectionSource::Embedded(link.clone()))
            }
            Some(id) => Url::parse(id).ok().map(CollectionSource::Url),
            None => None,
        },
        _ => None,
    }
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Runs backfills in the background: requests from the inbox (through
/// [`Federation::request_backfill`], a bounded queue) and the periodic backfill, one at
/// a time, until shutdown.
#[derive(Debug)]
pub struct BackfillWorker;

impl BackfillWorker {
    /// Connects the federation's backfill queue to a new worker and starts it; it stops
    /// when `shutdown` turns true (a backfill under way is abandoned: each comment it
    /// stored is committed on its own).
    pub fn spawn(
        federation: Federation,
        limits: BackfillLimits,
        shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let (sender, receiver) = mpsc::channel(limits.queue_capacity.max(1));
        federation.set_backfill_queue(sender);
        let backfiller = Backfiller::new(limits);
        tokio::spawn(work(federation, backfiller, receiver, shutdown))
    }
}

async fn work(
    federation: Federation,
    backfiller: Backfiller,
    mut requests: mpsc::Receiver<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let period = backfiller
        .limits
        .periodic_interval
        .max(Duration::from_secs(1));
    // The first periodic run waits one period: a restart loop does not hammer anyone.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            return;
        }
        enum Job {
            Thread(String),
            Recent,
        }
        let job = tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
                continue;
            }
            request = requests.recv() => match request {
                Some(ap_id) => Job::Thread(ap_id),
                None => return,
            },
            _ = ticks.tick() => Job::Recent,
        };
        let task = async {
            match &job {
                Job::Thread(ap_id) => backfiller.backfill_thread(&federation, ap_id).await,
                Job::Recent => backfiller.backfill_recent(&federation).await,
            }
        };
        let result = tokio::select! {
            result = task => result,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match (job, result) {
            (Job::Thread(ap_id), Ok(report)) => {
                tracing::debug!(comment = %ap_id, ?report, "backfill of a thread done");
            }
            (Job::Recent, Ok(report)) => {
                tracing::info!(?report, "periodic backfill done");
            }
            (_, Err(err)) => tracing::warn!(error = %err, "backfill failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_default_backfill_stays_under_the_burst_rule() {
        let limit = i64::try_from(BackfillLimits::default().max_new_comments).unwrap_or(0);
        assert!(limit > 0 && limit < crate::moderation::BURST_LIMIT);
    }

    #[test]
    fn items_are_read_from_ordered_items_or_items_one_or_many() {
        assert_eq!(
            items_of(&json!({"orderedItems": ["a", "b"], "items": ["c"]})).len(),
            2
        );
        assert_eq!(items_of(&json!({"items": "a"})).len(), 1);
        assert_eq!(items_of(&json!({"items": {"id": "a"}})).len(), 1);
        assert!(items_of(&json!({"items": 3})).is_empty());
        assert!(items_of(&json!({})).is_empty());
    }

    #[test]
    fn a_page_seen_before_is_not_followed() {
        let seen = HashSet::from(["https://m.example/r?page=1".to_owned()]);
        assert!(
            following_page(
                &json!({"next": {"id": "https://m.example/r?page=1"}}),
                &seen
            )
            .is_none()
        );
        assert!(matches!(
            following_page(&json!({"next": "https://m.example/r?page=2"}), &seen),
            Some(CollectionSource::Url(_))
        ));
        assert!(matches!(
            following_page(
                &json!({"first": {"type": "CollectionPage", "items": [], "next": "x"}}),
                &seen
            ),
            Some(CollectionSource::Embedded(_))
        ));
        assert!(following_page(&json!({"next": 7}), &seen).is_none());
    }

    /// The `replies` of real Notes (../shared/fixtures/corpus) lead to their next page.
    #[test]
    fn real_replies_collections_lead_to_their_pages() {
        let seen = HashSet::new();
        let next_of = |replies: Value| -> Option<String> {
            let mut source = CollectionSource::Embedded(replies);
            for _ in 0..3 {
                match source {
                    CollectionSource::Url(url) => return Some(url.to_string()),
                    CollectionSource::Embedded(page) => {
                        source = following_page(&page, &seen)?;
                    }
                }
            }
            None
        };
        // Mastodon: first page embedded with items, then the others' replies by URL.
        let mastodon = json!({"id": "https://m.example/users/f/statuses/1/replies",
            "type": "Collection", "first": {"type": "CollectionPage",
            "next": "https://m.example/users/f/statuses/1/replies?only_other_accounts=true&page=true",
            "partOf": "https://m.example/users/f/statuses/1/replies", "items": []}});
        assert_eq!(
            next_of(mastodon).as_deref(),
            Some("https://m.example/users/f/statuses/1/replies?only_other_accounts=true&page=true")
        );
        // Smithereen: first page embedded without items, only `next`.
        let smithereen = json!({"type": "Collection", "id": "https://s.example/posts/6/replies",
            "first": {"type": "CollectionPage", "partOf": "https://s.example/posts/6/replies",
            "next": "https://s.example/posts/6/replies?page=1"}});
        assert_eq!(
            next_of(smithereen).as_deref(),
            Some("https://s.example/posts/6/replies?page=1")
        );
        // WordPress: an empty first page and nothing after it.
        let wordpress = json!({"id": "https://w.example/replies", "type": "Collection",
            "first": {"id": "https://w.example/replies?page=1", "type": "CollectionPage",
            "partOf": "https://w.example/replies", "items": []}});
        assert_eq!(next_of(wordpress), None);
        // A first page given by reference is fetched.
        let reference = json!({"type": "OrderedCollection",
            "first": {"id": "https://g.example/replies?page=true", "type": "OrderedCollectionPage"}});
        assert_eq!(
            next_of(reference).as_deref(),
            Some("https://g.example/replies?page=true")
        );
    }

    #[test]
    fn collections_and_tombstones_are_told_by_their_type() {
        assert!(is_collection(&json!({"type": "OrderedCollectionPage"})));
        assert!(is_collection(&json!({"type": ["Collection", "Other"]})));
        assert!(!is_collection(&json!({"type": "Note"})));
        assert!(is_tombstone(&json!({"type": "Tombstone"})));
        assert!(!is_tombstone(&json!({"id": "x"})));
    }
}
