//! The federation half of what the two engines share, in the same pattern as `util.rs`:
//! the SQL text for keys, remote actors, followers, the outbox and its deliveries, remote
//! hosts and received activity ids; the rows and their conversion into domain types; and
//! the logic that spans several statements (recording an outbox, finishing a delivery).
//!
//! Where the dialects truly differ (claiming deliveries: `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, `BEGIN IMMEDIATE` on SQLite) each engine has its own statement, below in
//! [`sql`], and its own code.

use crate::discussion_model::block_domain;
use crate::error::Error;
use crate::federation_model::{
    ActorKey, DeliveryJob, DeliveryOutcome, DeliveryState, DeliveryStatus, FollowState, Follower,
    HostHealth, LocalActor, OutgoingActivity, ReceivedActivity, RemoteActor, RemoteActorId,
    RemoteActorUpsert, UNREACHABLE_HOST_PROBE_INTERVAL, delivery_host,
};
use crate::model::PostId;
use crate::store::Result;
use crate::util::{db_time, now, parse_stored};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

// ---------------------------------------------------------------------------------------
// rows
// ---------------------------------------------------------------------------------------

/// An `actor_keys` row. No `Debug`: it holds a private key.
#[derive(sqlx::FromRow)]
pub(crate) struct ActorKeyRow {
    actor: String,
    public_key_pem: String,
    private_key_pem: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<ActorKeyRow> for ActorKey {
    type Error = Error;

    fn try_from(row: ActorKeyRow) -> Result<Self> {
        Ok(ActorKey {
            actor: parse_stored(&row.actor, LocalActor::from_key, "local actor")?,
            public_key_pem: row.public_key_pem,
            private_key_pem: row.private_key_pem,
            created_at: row.created_at,
        })
    }
}

/// Column lists, as macros so that `concat!` can build whole statements at compile time.
macro_rules! remote_actor_columns {
    () => {
        "id, ap_id, kind, preferred_username, name, url, icon_url, inbox, shared_inbox, \
         public_key_id, public_key_pem, host, fetched_at, deleted_at"
    };
}
/// A follower joined with its remote actor (`f` and `ra`).
macro_rules! follower_columns {
    () => {
        "f.local_actor, f.follow_ap_id, f.state, f.created_at, ra.id, ra.ap_id, ra.kind, \
         ra.preferred_username, ra.name, ra.url, ra.icon_url, ra.inbox, ra.shared_inbox, \
         ra.public_key_id, ra.public_key_pem, ra.host, ra.fetched_at, ra.deleted_at"
    };
}
/// A delivery job: the delivery `d` joined with its activity `a`.
macro_rules! delivery_job_columns {
    () => {
        "d.id, a.ap_id AS activity_ap_id, a.actor, a.payload, d.inbox, d.host, d.attempts, \
         d.created_at, d.next_attempt_at"
    };
}
/// The ids of the deliveries one claim leases, oldest first: due ($1 = now), not leased,
/// on a host that is reachable or whose probe is due, and at most `room` per host, where
/// `room` is the per-host cap ($3; 1 for a host being probed) minus the deliveries to that
/// host already leased. At most $2 of them, chosen among the oldest `$window` claimable
/// deliveries of hosts below their cap: ranking every pending delivery per host on each
/// claim made a 10,000-inbox fan-out spend seconds in claims (the caller claims again over
/// all of them when this window leaves it short, so that no host at the head of the queue
/// holds back the others).
macro_rules! claimable_delivery_ids {
    ($window:literal) => {
        concat!(
            "SELECT ranked.id FROM ( \
             SELECT d.id, d.next_attempt_at, \
                 ROW_NUMBER() OVER (PARTITION BY d.host ORDER BY d.next_attempt_at, d.id) \
                     AS place, \
                 CASE WHEN h.unreachable THEN 1 ELSE $3 END - COALESCE(l.leased, 0) AS room \
             FROM (SELECT id, host, next_attempt_at FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= $1 \
                     AND (leased_until IS NULL OR leased_until <= $1) \
                     AND host NOT IN (SELECT host FROM deliveries WHERE leased_until > $1 \
                         GROUP BY host HAVING COUNT(*) >= $3) \
                 ORDER BY next_attempt_at, id LIMIT ",
            $window,
            ") d \
             LEFT JOIN hosts h ON h.host = d.host \
             LEFT JOIN (SELECT host, COUNT(*) AS leased FROM deliveries \
                 WHERE leased_until > $1 GROUP BY host) l ON l.host = d.host \
             WHERE h.host IS NULL OR h.unreachable = FALSE OR h.next_probe_at <= $1 \
         ) ranked \
         WHERE ranked.place <= ranked.room \
         ORDER BY ranked.next_attempt_at, ranked.id LIMIT $2"
        )
    };
}

/// How many of the oldest claimable deliveries a claim of `limit` ranks first (see
/// `claimable_delivery_ids`); [`FULL_CLAIM_WINDOW`] ranks them all.
pub(crate) fn claim_window(limit: i64) -> i64 {
    limit.saturating_mul(8).max(64)
}

/// A claim window covering every pending delivery.
pub(crate) const FULL_CLAIM_WINDOW: i64 = i64::MAX;

/// A `remote_actors` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RemoteActorRow {
    id: i64,
    ap_id: String,
    kind: String,
    preferred_username: Option<String>,
    name: Option<String>,
    url: Option<String>,
    icon_url: Option<String>,
    inbox: String,
    shared_inbox: Option<String>,
    public_key_id: String,
    public_key_pem: String,
    host: String,
    fetched_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl From<RemoteActorRow> for RemoteActor {
    fn from(row: RemoteActorRow) -> Self {
        RemoteActor {
            id: RemoteActorId(row.id),
            ap_id: row.ap_id,
            kind: row.kind,
            preferred_username: row.preferred_username,
            name: row.name,
            url: row.url,
            icon_url: row.icon_url,
            inbox: row.inbox,
            shared_inbox: row.shared_inbox,
            public_key_id: row.public_key_id,
            public_key_pem: row.public_key_pem,
            host: row.host,
            fetched_at: row.fetched_at,
            deleted_at: row.deleted_at,
        }
    }
}

/// A `followers` row with its remote actor.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FollowerRow {
    local_actor: String,
    follow_ap_id: String,
    state: String,
    created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    actor: RemoteActorRow,
}

impl TryFrom<FollowerRow> for Follower {
    type Error = Error;

    fn try_from(row: FollowerRow) -> Result<Self> {
        Ok(Follower {
            local_actor: parse_stored(&row.local_actor, LocalActor::from_key, "local actor")?,
            actor: row.actor.into(),
            follow_ap_id: row.follow_ap_id,
            state: parse_stored(&row.state, FollowState::parse, "follow state")?,
            created_at: row.created_at,
        })
    }
}

/// Converts follower rows, failing on the first unknown enum value.
pub(crate) fn followers(rows: Vec<FollowerRow>) -> Result<Vec<Follower>> {
    rows.into_iter().map(Follower::try_from).collect()
}

/// A claimed delivery with its activity.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeliveryJobRow {
    id: i64,
    activity_ap_id: String,
    actor: String,
    payload: String,
    inbox: String,
    host: String,
    attempts: i32,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
}

impl DeliveryJobRow {
    /// The host the delivery goes to.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The delivery's id, to lease it.
    pub(crate) fn id(&self) -> i64 {
        self.id
    }
}

/// The claimed jobs, oldest first (`UPDATE ... RETURNING` gives no order).
pub(crate) fn delivery_jobs(mut rows: Vec<DeliveryJobRow>) -> Result<Vec<DeliveryJob>> {
    rows.sort_by_key(|row| (row.next_attempt_at, row.id));
    rows.into_iter()
        .map(|row| {
            Ok(DeliveryJob {
                id: row.id,
                activity_ap_id: row.activity_ap_id,
                actor: parse_stored(&row.actor, LocalActor::from_key, "local actor")?,
                payload: row.payload,
                inbox: row.inbox,
                host: row.host,
                attempts: row.attempts,
                created_at: row.created_at,
            })
        })
        .collect()
}

/// A delivery as the admin UI lists it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeliveryStatusRow {
    activity_ap_id: String,
    kind: String,
    inbox: String,
    state: String,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DeliveryStatusRow> for DeliveryStatus {
    type Error = Error;

    fn try_from(row: DeliveryStatusRow) -> Result<Self> {
        let state = parse_stored(&row.state, DeliveryState::parse, "delivery state")?;
        Ok(DeliveryStatus {
            activity_ap_id: row.activity_ap_id,
            kind: row.kind,
            inbox: row.inbox,
            state,
            attempts: row.attempts,
            last_status: row.last_status,
            last_error: row.last_error,
            // Only a pending delivery has a next attempt; the column keeps the last one.
            next_attempt_at: (state == DeliveryState::Pending).then_some(row.next_attempt_at),
            updated_at: row.updated_at,
        })
    }
}

/// Converts delivery rows, failing on the first unknown state.
pub(crate) fn delivery_statuses(rows: Vec<DeliveryStatusRow>) -> Result<Vec<DeliveryStatus>> {
    rows.into_iter().map(DeliveryStatus::try_from).collect()
}

/// A `hosts` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HostHealthRow {
    host: String,
    failing_since: Option<DateTime<Utc>>,
    consecutive_failures: i32,
    last_success_at: Option<DateTime<Utc>>,
    unreachable: bool,
}

impl From<HostHealthRow> for HostHealth {
    fn from(row: HostHealthRow) -> Self {
        HostHealth {
            host: row.host,
            failing_since: row.failing_since,
            consecutive_failures: row.consecutive_failures,
            last_success_at: row.last_success_at,
            unreachable: row.unreachable,
        }
    }
}

/// The pending, delivered and failed counts of one post's deliveries.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeliveryCountsRow {
    pending: i64,
    delivered: i64,
    failed: i64,
}

impl From<DeliveryCountsRow> for (i64, i64, i64) {
    fn from(row: DeliveryCountsRow) -> Self {
        (row.pending, row.delivered, row.failed)
    }
}

// ---------------------------------------------------------------------------------------
// checks on input
// ---------------------------------------------------------------------------------------

/// A remote actor as stored: its host lower-case, the host its deliveries go to (that
/// of its shared inbox if any, else of its inbox), which must be a URL with a host, and
/// the domain that domain blocks are matched against.
pub(crate) struct RemoteActorInsert {
    pub(crate) actor: RemoteActorUpsert,
    pub(crate) delivery_host: String,
    pub(crate) domain: String,
}

/// Checks a remote actor before it is upserted: its inboxes must be absolute URLs with a
/// host, since deliveries are keyed by that host.
pub(crate) fn remote_actor_insert(mut actor: RemoteActorUpsert) -> Result<RemoteActorInsert> {
    let inbox_host = |inbox: &str| {
        delivery_host(inbox).ok_or_else(|| {
            Error::Invalid(format!(
                "remote actor {:?}: the inbox {inbox:?} is not a URL with a host",
                actor.ap_id
            ))
        })
    };
    let personal = inbox_host(&actor.inbox)?;
    let delivery_host = match actor.shared_inbox.as_deref() {
        Some(shared) => inbox_host(shared)?,
        None => personal,
    };
    actor.host = actor.host.to_lowercase();
    actor.fetched_at = db_time(actor.fetched_at);
    // The host as given, else the id's: a domain block must match either way.
    let domain = block_domain(&actor.host)
        .or_else(|| block_domain(&actor.ap_id))
        .unwrap_or_else(|| actor.host.clone());
    Ok(RemoteActorInsert {
        actor,
        delivery_host,
        domain,
    })
}

/// `now + by` at the stored precision, for leases and probes; an out-of-range result (a
/// lease of centuries) is refused rather than wrapped.
pub(crate) fn later(now: DateTime<Utc>, by: TimeDelta) -> Result<DateTime<Utc>> {
    if by <= TimeDelta::zero() {
        return Err(Error::Invalid(format!(
            "a lease of {by} ends before it starts"
        )));
    }
    now.checked_add_signed(by)
        .map(db_time)
        .ok_or_else(|| Error::Invalid(format!("{now} + {by} is out of range")))
}

/// When an unreachable host is probed next, after a probe (or its marking) at `now`.
pub(crate) fn next_probe(now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    later(now, UNREACHABLE_HOST_PROBE_INTERVAL)
}

// ---------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------

/// Federation statements, in the same portable subset as `util::sql`, except the two
/// claim statements, one per engine.
pub(crate) mod sql {
    // ---- keys ----
    pub(crate) const ACTOR_KEY: &str = "SELECT actor, public_key_pem, private_key_pem, \
         created_at FROM actor_keys WHERE actor = $1";
    /// DO NOTHING: the key stored first wins, and the caller reads it back.
    pub(crate) const INSERT_ACTOR_KEY_IF_MISSING: &str = "INSERT INTO actor_keys \
         (actor, public_key_pem, private_key_pem, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (actor) DO NOTHING";

    // ---- remote actors ----
    /// A refetched actor replaces what we knew, and is no longer deleted.
    pub(crate) const UPSERT_REMOTE_ACTOR: &str = concat!(
        "INSERT INTO remote_actors (ap_id, kind, preferred_username, name, url, icon_url, \
         inbox, shared_inbox, public_key_id, public_key_pem, host, delivery_host, fetched_at, \
         domain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (ap_id) DO UPDATE SET kind = excluded.kind, \
         preferred_username = excluded.preferred_username, name = excluded.name, \
         url = excluded.url, icon_url = excluded.icon_url, inbox = excluded.inbox, \
         shared_inbox = excluded.shared_inbox, public_key_id = excluded.public_key_id, \
         public_key_pem = excluded.public_key_pem, host = excluded.host, \
         delivery_host = excluded.delivery_host, fetched_at = excluded.fetched_at, \
         domain = excluded.domain, deleted_at = NULL RETURNING ",
        remote_actor_columns!()
    );
    pub(crate) const REMOTE_ACTOR_BY_AP_ID: &str = concat!(
        "SELECT ",
        remote_actor_columns!(),
        " FROM remote_actors WHERE ap_id = $1"
    );
    pub(crate) const REMOTE_ACTOR_BY_ID: &str = concat!(
        "SELECT ",
        remote_actor_columns!(),
        " FROM remote_actors WHERE id = $1"
    );
    /// Should two actors claim the same key id, a live one wins over a deleted one, then
    /// the one stored first.
    pub(crate) const REMOTE_ACTOR_BY_KEY_ID: &str = concat!(
        "SELECT ",
        remote_actor_columns!(),
        " FROM remote_actors WHERE public_key_id = $1 \
         ORDER BY CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, id LIMIT 1"
    );
    /// The account's creation time (`published`), written after each fetch.
    pub(crate) const SET_REMOTE_ACTOR_PUBLISHED: &str =
        "UPDATE remote_actors SET account_published_at = $2 WHERE id = $1";
    pub(crate) const REMOTE_ACTOR_PUBLISHED: &str =
        "SELECT account_published_at FROM remote_actors WHERE id = $1";
    /// A second delete keeps the first `deleted_at`.
    pub(crate) const MARK_REMOTE_ACTOR_DELETED: &str = "UPDATE remote_actors \
         SET deleted_at = COALESCE(deleted_at, $2) WHERE ap_id = $1 RETURNING id";
    pub(crate) const DELETE_FOLLOWS_OF_REMOTE_ACTOR: &str =
        "DELETE FROM followers WHERE remote_actor_id = $1";

    // ---- followers ----
    /// A repeated Follow keeps the original `created_at` (the follower's place in lists).
    pub(crate) const UPSERT_FOLLOWER: &str = "INSERT INTO followers \
         (local_actor, remote_actor_id, follow_ap_id, state, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (local_actor, remote_actor_id) \
         DO UPDATE SET follow_ap_id = excluded.follow_ap_id, state = excluded.state";
    pub(crate) const FOLLOWER: &str = concat!(
        "SELECT ",
        follower_columns!(),
        " FROM followers f JOIN remote_actors ra ON ra.id = f.remote_actor_id \
         WHERE f.local_actor = $1 AND f.remote_actor_id = $2"
    );
    pub(crate) const DELETE_FOLLOWER: &str =
        "DELETE FROM followers WHERE local_actor = $1 AND remote_actor_id = $2";
    pub(crate) const DELETE_FOLLOWERS_WITH_INBOX: &str = "DELETE FROM followers \
         WHERE remote_actor_id IN (SELECT id FROM remote_actors WHERE inbox = $1)";
    pub(crate) const FOLLOWERS: &str = concat!(
        "SELECT ",
        follower_columns!(),
        " FROM followers f JOIN remote_actors ra ON ra.id = f.remote_actor_id \
         WHERE f.local_actor = $1 AND f.state = $2 AND ra.deleted_at IS NULL \
         ORDER BY f.created_at, f.remote_actor_id LIMIT $3 OFFSET $4"
    );
    pub(crate) const COUNT_FOLLOWERS: &str = "SELECT COUNT(*) FROM followers f \
         JOIN remote_actors ra ON ra.id = f.remote_actor_id \
         WHERE f.local_actor = $1 AND f.state = $2 AND ra.deleted_at IS NULL";

    // ---- outbox ----
    pub(crate) const INSERT_ACTIVITY: &str = "INSERT INTO activities \
         (ap_id, actor, kind, object_ap_id, post_id, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    /// One delivery to each distinct delivery inbox (shared if any, else personal) of the
    /// accepted, live followers of local actor $3. The recipients are read by this very
    /// statement, so a follow committed concurrently is either wholly in or wholly out.
    /// (SQLite needs the WHERE before ON CONFLICT to parse an INSERT ... SELECT upsert.)
    pub(crate) const INSERT_FOLLOWER_DELIVERIES: &str = "INSERT INTO deliveries \
         (activity_id, inbox, host, state, attempts, next_attempt_at, created_at, updated_at) \
         SELECT $1, r.inbox, r.host, 'pending', 0, $2, $2, $2 FROM ( \
             SELECT DISTINCT COALESCE(ra.shared_inbox, ra.inbox) AS inbox, \
                 ra.delivery_host AS host \
             FROM followers f JOIN remote_actors ra ON ra.id = f.remote_actor_id \
             WHERE f.local_actor = $3 AND f.state = 'accepted' AND ra.deleted_at IS NULL \
         ) r WHERE TRUE \
         ON CONFLICT (activity_id, inbox) DO NOTHING";
    pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO deliveries \
         (activity_id, inbox, host, state, attempts, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4) \
         ON CONFLICT (activity_id, inbox) DO NOTHING";
    pub(crate) const ACTIVITY_PAYLOAD: &str = "SELECT payload FROM activities WHERE ap_id = $1";

    /// `kind IN ($first, ..., $first + count - 1)`.
    fn kinds_in(first: usize, count: usize) -> String {
        let placeholders: Vec<String> = (first..first + count).map(|n| format!("${n}")).collect();
        format!("kind IN ({})", placeholders.join(", "))
    }

    /// Payloads of actor $1's activities of `kind_count` kinds ($4...), newest first.
    pub(crate) fn activities_of(kind_count: usize) -> String {
        format!(
            "SELECT payload FROM activities WHERE actor = $1 AND {} \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
            kinds_in(4, kind_count)
        )
    }

    /// How many activities of actor $1 have one of `kind_count` kinds ($2...).
    pub(crate) fn count_activities_of(kind_count: usize) -> String {
        format!(
            "SELECT COUNT(*) FROM activities WHERE actor = $1 AND {}",
            kinds_in(2, kind_count)
        )
    }

    // ---- deliveries ----
    /// SQLite's claim, inside `BEGIN IMMEDIATE` (no other writer until commit): read the
    /// jobs ($4 the claim window), then lease each with [`LEASE_DELIVERY`] and probe with
    /// [`PROBE_HOST`].
    pub(crate) const SQLITE_CLAIMABLE_JOBS: &str = concat!(
        "SELECT ",
        delivery_job_columns!(),
        " FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE d.id IN (",
        claimable_delivery_ids!("$4"),
        ") ORDER BY d.next_attempt_at, d.id"
    );
    pub(crate) const LEASE_DELIVERY: &str = "UPDATE deliveries SET leased_until = $2 WHERE id = $1";
    /// The next probe of an unreachable host, set when one of its deliveries is claimed.
    pub(crate) const PROBE_HOST: &str =
        "UPDATE hosts SET next_probe_at = $2 WHERE host = $1 AND unreachable = TRUE";
    /// PostgreSQL's claim, one statement: lock the chosen rows, skipping those another
    /// claimer has locked (it is leasing them), lease them until $4 and move the probe of
    /// the unreachable hosts among them to $5 ($6 is the claim window). Locking re-checks the due conditions on
    /// rows another claimer leased and committed meanwhile, so no row is leased twice.
    /// Claimers that run at once rank a host's deliveries alike, so what one skips the
    /// other leases, and the per-host cap holds for both together.
    pub(crate) const POSTGRES_CLAIM: &str = concat!(
        "WITH chosen AS ( \
             SELECT d.id, d.host FROM deliveries d WHERE d.id IN (",
        claimable_delivery_ids!("$6"),
        ") AND d.state = 'pending' AND (d.leased_until IS NULL OR d.leased_until <= $1) \
             FOR UPDATE SKIP LOCKED \
         ), probed AS ( \
             UPDATE hosts SET next_probe_at = $5 \
             WHERE unreachable = TRUE AND host IN (SELECT host FROM chosen) \
         ) \
         UPDATE deliveries d SET leased_until = $4 FROM chosen c, activities a \
         WHERE d.id = c.id AND a.id = d.activity_id RETURNING ",
        delivery_job_columns!()
    );
    /// Ends an attempt ($2 the new state). Only a pending delivery is finished: a worker
    /// whose lease ran out while another delivered the activity must not undo that.
    /// $5 is the next attempt for a retry, NULL otherwise (the column keeps its value).
    pub(crate) const FINISH_DELIVERY: &str = "UPDATE deliveries SET state = $2, \
         attempts = attempts + 1, last_status = $3, last_error = $4, \
         next_attempt_at = COALESCE($5, next_attempt_at), leased_until = NULL, \
         updated_at = $6 WHERE id = $1 AND state = 'pending' RETURNING host";
    pub(crate) const DELIVERY_EXISTS: &str = "SELECT id FROM deliveries WHERE id = $1";
    /// When the worker should look again: the earliest moment a pending delivery can be
    /// claimed, counting leases (a leased delivery waits for its lease to run out) and
    /// unreachable hosts (their deliveries wait for the next probe; without one, never).
    pub(crate) const NEXT_DELIVERY_DUE: &str = "SELECT MIN(CASE \
             WHEN x.probe_at IS NOT NULL AND x.probe_at > x.due_at THEN x.probe_at \
             ELSE x.due_at END) FROM ( \
             SELECT CASE WHEN d.leased_until IS NOT NULL AND d.leased_until > d.next_attempt_at \
                     THEN d.leased_until ELSE d.next_attempt_at END AS due_at, \
                 CASE WHEN h.unreachable = TRUE THEN h.next_probe_at END AS probe_at \
             FROM deliveries d LEFT JOIN hosts h ON h.host = d.host \
             WHERE d.state = 'pending' \
                 AND (h.host IS NULL OR h.unreachable = FALSE OR h.next_probe_at IS NOT NULL) \
         ) x";
    pub(crate) const DELIVERIES_FOR_POST: &str = "SELECT a.ap_id AS activity_ap_id, a.kind, \
         d.inbox, d.state, d.attempts, d.last_status, d.last_error, d.next_attempt_at, \
         d.updated_at FROM deliveries d JOIN activities a ON a.id = d.activity_id \
         WHERE a.post_id = $1 ORDER BY d.created_at DESC, d.id DESC";
    pub(crate) const DELIVERY_COUNTS_FOR_POST: &str = "SELECT \
         COALESCE(SUM(CASE WHEN d.state = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
         COALESCE(SUM(CASE WHEN d.state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
         COALESCE(SUM(CASE WHEN d.state = 'failed' THEN 1 ELSE 0 END), 0) AS failed \
         FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE a.post_id = $1";

    // ---- hosts ----
    pub(crate) const HOST_HEALTH: &str = "SELECT host, failing_since, consecutive_failures, \
         last_success_at, unreachable FROM hosts WHERE host = $1";
    /// A success ends any run of failures and any unreachable mark.
    pub(crate) const HOST_SUCCEEDED: &str = "INSERT INTO hosts \
         (host, failing_since, consecutive_failures, last_success_at, unreachable, next_probe_at) \
         VALUES ($1, NULL, 0, $2, FALSE, NULL) ON CONFLICT (host) DO UPDATE SET \
         failing_since = NULL, consecutive_failures = 0, \
         last_success_at = excluded.last_success_at, unreachable = FALSE, next_probe_at = NULL";
    /// A failure extends the current run of failures, or starts one at $2.
    pub(crate) const HOST_FAILED: &str = "INSERT INTO hosts \
         (host, failing_since, consecutive_failures) VALUES ($1, $2, 1) \
         ON CONFLICT (host) DO UPDATE SET \
         consecutive_failures = hosts.consecutive_failures + 1, \
         failing_since = COALESCE(hosts.failing_since, excluded.failing_since)";
    /// $2 is now (the start of the failures if none was recorded), $3 the first probe.
    pub(crate) const MARK_HOST_UNREACHABLE: &str = "INSERT INTO hosts \
         (host, failing_since, unreachable, next_probe_at) VALUES ($1, $2, TRUE, $3) \
         ON CONFLICT (host) DO UPDATE SET unreachable = TRUE, \
         next_probe_at = excluded.next_probe_at, \
         failing_since = COALESCE(hosts.failing_since, excluded.failing_since)";
    /// Only a host with something to forget is written: the inbox runs this for every
    /// activity, and a healthy host's row (or none) then costs a read, not a write.
    pub(crate) const HOST_REACHABLE_AGAIN: &str = "UPDATE hosts SET unreachable = FALSE, \
         failing_since = NULL, consecutive_failures = 0, next_probe_at = NULL WHERE host = $1 \
         AND (unreachable = TRUE OR failing_since IS NOT NULL OR consecutive_failures <> 0 \
         OR next_probe_at IS NOT NULL)";
    /// Deferred deliveries to the host become due at $2; earlier ones keep their place.
    pub(crate) const HOST_DELIVERIES_DUE_NOW: &str = "UPDATE deliveries SET next_attempt_at = $2 \
         WHERE host = $1 AND state = 'pending' AND next_attempt_at > $2";

    // ---- received activities ----
    pub(crate) const RECORD_RECEIVED_ACTIVITY: &str = "INSERT INTO received_activities \
         (ap_id, received_at) VALUES ($1, $2) ON CONFLICT (ap_id) DO NOTHING";
    pub(crate) const PURGE_RECEIVED_ACTIVITIES: &str =
        "DELETE FROM received_activities WHERE received_at < $1";
}

// ---------------------------------------------------------------------------------------
// statements inside a write transaction
// ---------------------------------------------------------------------------------------

/// An `activities` row to insert.
pub(crate) struct ActivityInsert<'a> {
    pub(crate) ap_id: &'a str,
    pub(crate) actor: String,
    pub(crate) kind: &'a str,
    pub(crate) object_ap_id: Option<&'a str>,
    pub(crate) post_id: Option<PostId>,
    pub(crate) payload: &'a str,
    pub(crate) created_at: DateTime<Utc>,
}

/// How an attempt ends a delivery row (see [`sql::FINISH_DELIVERY`]).
pub(crate) struct DeliveryFinish<'a> {
    pub(crate) state: DeliveryState,
    pub(crate) status: Option<i32>,
    pub(crate) error: Option<&'a str>,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) now: DateTime<Utc>,
}

/// The federation statements that run inside a write transaction, implemented by each
/// engine on its connection type like [`crate::util::TxStatements`].
#[async_trait]
pub(crate) trait FederationTxStatements: Send {
    /// Inserts an activity; an `ap_id` already recorded → Conflict.
    async fn insert_activity(&mut self, activity: &ActivityInsert<'_>) -> Result<i64>;
    /// Runs [`sql::INSERT_FOLLOWER_DELIVERIES`].
    async fn insert_follower_deliveries(
        &mut self,
        activity_id: i64,
        local_actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Inserts one delivery unless the activity already goes to that inbox.
    async fn insert_delivery(
        &mut self,
        activity_id: i64,
        inbox: &str,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Runs [`sql::FINISH_DELIVERY`]; the delivery's host, or `None` when no pending
    /// delivery has that id.
    async fn finish_delivery_row(
        &mut self,
        id: i64,
        finish: &DeliveryFinish<'_>,
    ) -> Result<Option<String>>;
    async fn delivery_exists(&mut self, id: i64) -> Result<bool>;
    async fn host_succeeded(&mut self, host: &str, now: DateTime<Utc>) -> Result<()>;
    async fn host_failed(&mut self, host: &str, now: DateTime<Utc>) -> Result<()>;
    /// Runs [`sql::HOST_REACHABLE_AGAIN`] and [`sql::HOST_DELIVERIES_DUE_NOW`] (`host` in
    /// lower case); neither writes anything for a healthy host with no deferred delivery.
    async fn host_contacted(&mut self, host: &str, now: DateTime<Utc>) -> Result<()>;
    /// Runs [`sql::RECORD_RECEIVED_ACTIVITY`]; `false` when the id was recorded before.
    async fn insert_received_activity(&mut self, ap_id: &str, now: DateTime<Utc>) -> Result<bool>;
}

/// `Store::receive_activity`, and the end of every use case that records a received
/// activity with its effect, inside the caller's write transaction: the sender's host
/// contacted us, and the id joins the log. `false` when the id was recorded before.
pub(crate) async fn receive_activity<C: FederationTxStatements + ?Sized>(
    conn: &mut C,
    received: &ReceivedActivity,
) -> Result<bool> {
    let now = crate::util::db_time(received.received_at);
    conn.host_contacted(&received.sender_host.to_lowercase(), now)
        .await?;
    conn.insert_received_activity(&received.ap_id, now).await
}

/// Records activities and their deliveries, inside the caller's write transaction. When
/// `post` is given (the activities come with a change to that post), each activity is
/// tied to it, whatever its own `post_id` says. Fails with [`Error::Conflict`] when an
/// activity id is already recorded, and with [`Error::Invalid`] when an extra inbox is not
/// a URL with a host; the caller then rolls everything back.
pub(crate) async fn record_outbox<C: FederationTxStatements + ?Sized>(
    conn: &mut C,
    outbox: Vec<OutgoingActivity>,
    post: Option<PostId>,
) -> Result<()> {
    let now = now();
    for activity in &outbox {
        let activity_id = conn
            .insert_activity(&ActivityInsert {
                ap_id: &activity.ap_id,
                actor: activity.actor.key(),
                kind: &activity.kind,
                object_ap_id: activity.object_ap_id.as_deref(),
                post_id: post.or(activity.post_id),
                payload: &activity.payload,
                created_at: now,
            })
            .await?;
        for local_actor in &activity.to_followers_of {
            conn.insert_follower_deliveries(activity_id, &local_actor.key(), now)
                .await?;
        }
        for inbox in &activity.extra_inboxes {
            let host = delivery_host(inbox).ok_or_else(|| {
                Error::Invalid(format!(
                    "activity {:?}: the inbox {inbox:?} is not a URL with a host",
                    activity.ap_id
                ))
            })?;
            conn.insert_delivery(activity_id, inbox, &host, now).await?;
        }
    }
    Ok(())
}

/// `Store::finish_delivery`, inside the engine's write transaction. A final 4xx is the
/// receiver refusing this one activity, not the host failing, so it leaves the host's
/// health alone; every other failure counts against the host.
pub(crate) async fn finish_delivery<C: FederationTxStatements + ?Sized>(
    conn: &mut C,
    id: i64,
    outcome: DeliveryOutcome,
    now: DateTime<Utc>,
) -> Result<()> {
    let now = db_time(now);
    let (finish, host_failed) = match &outcome {
        DeliveryOutcome::Delivered { status } => (
            DeliveryFinish {
                state: DeliveryState::Delivered,
                status: Some(i32::from(*status)),
                error: None,
                next_attempt_at: None,
                now,
            },
            false,
        ),
        DeliveryOutcome::Retry {
            next_attempt_at,
            status,
            error,
        } => (
            DeliveryFinish {
                state: DeliveryState::Pending,
                status: status.map(i32::from),
                error: Some(error),
                next_attempt_at: Some(db_time(*next_attempt_at)),
                now,
            },
            true,
        ),
        DeliveryOutcome::Failed { status, error } => (
            DeliveryFinish {
                state: DeliveryState::Failed,
                status: status.map(i32::from),
                error: Some(error),
                next_attempt_at: None,
                now,
            },
            !matches!(status, Some(400..=499)),
        ),
    };
    let Some(host) = conn.finish_delivery_row(id, &finish).await? else {
        return if conn.delivery_exists(id).await? {
            // Already finished (a worker whose lease ran out): the first outcome stands.
            Ok(())
        } else {
            Err(Error::NotFound(format!("delivery {id}")))
        };
    };
    match finish.state {
        DeliveryState::Delivered => conn.host_succeeded(&host, now).await,
        _ if host_failed => conn.host_failed(&host, now).await,
        _ => Ok(()),
    }
}

/// `Store::finish_deliveries`, inside the engine's write transaction: each outcome as
/// [`finish_delivery`] records it; the ids of unknown deliveries are returned.
pub(crate) async fn finish_deliveries<C: FederationTxStatements + ?Sized>(
    conn: &mut C,
    finished: Vec<(i64, DeliveryOutcome)>,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut unknown = Vec::new();
    for (id, outcome) in finished {
        match finish_delivery(conn, id, outcome, now).await {
            Ok(()) => {}
            Err(Error::NotFound(_)) => unknown.push(id),
            Err(err) => return Err(err),
        }
    }
    Ok(unknown)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn kind_placeholders_follow_the_fixed_parameters() {
        assert!(sql::activities_of(2).contains("kind IN ($4, $5)"));
        assert!(sql::count_activities_of(3).contains("kind IN ($2, $3, $4)"));
    }

    #[test]
    fn a_remote_actor_needs_inboxes_with_a_host() {
        let actor = RemoteActorUpsert {
            ap_id: "https://Social.Example/users/ann".to_owned(),
            kind: "Person".to_owned(),
            preferred_username: None,
            name: None,
            url: None,
            icon_url: None,
            inbox: "https://social.example/users/ann/inbox".to_owned(),
            shared_inbox: Some("https://Relay.Example:8443/inbox".to_owned()),
            public_key_id: "https://social.example/users/ann#main-key".to_owned(),
            public_key_pem: String::new(),
            host: "Social.Example".to_owned(),
            fetched_at: Utc::now(),
        };
        let insert = remote_actor_insert(actor.clone()).unwrap();
        assert_eq!(insert.delivery_host, "relay.example:8443");
        assert_eq!(insert.actor.host, "social.example");
        assert_eq!(insert.domain, "social.example");
        let with_port = RemoteActorUpsert {
            host: "Social.Example:8443".to_owned(),
            ..actor.clone()
        };
        assert_eq!(
            remote_actor_insert(with_port).unwrap().domain,
            "social.example"
        );

        let bad = RemoteActorUpsert {
            inbox: "/inbox".to_owned(),
            ..actor
        };
        assert!(matches!(remote_actor_insert(bad), Err(Error::Invalid(_))));
    }
}
