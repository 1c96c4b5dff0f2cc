//! Domain types for federation: local actors and their keys, remote actors, followers,
//! the durable outbox (activities and their deliveries) and what we know of remote hosts.
//! Plain data; the ActivityPub JSON itself is built and parsed in `gloss-federation`.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How often a host marked unreachable is probed: `claim_deliveries` leases one of its
/// deliveries at most this often, until the host answers or contacts us again.
pub const UNREACHABLE_HOST_PROBE_INTERVAL: TimeDelta = TimeDelta::hours(6);

/// The key under which deliveries and host health are kept for a URL: its lower-case host,
/// with `:port` when the port is not the scheme's default (`example.com`,
/// `example.com:8443`, `[::1]:3000`). `None` when the text is not an absolute URL with a
/// host. Callers use it too, e.g. to pass the host of a verified inbox request to
/// [`Store::host_contacted_us`](crate::Store::host_contacted_us).
pub fn delivery_host(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())?
        .to_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// One of our own actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LocalActor {
    /// The blog itself: followers of the blog see every post (as a boost).
    Blog,
    /// The application actor that signs our GET requests (authorized fetch).
    Instance,
    /// An author: followers of an author see that author's posts.
    Author(crate::model::AuthorId),
}

impl LocalActor {
    /// Stable text form stored in the database: `blog`, `instance`, `author:42`.
    pub fn key(&self) -> String {
        match self {
            LocalActor::Blog => "blog".to_owned(),
            LocalActor::Instance => "instance".to_owned(),
            LocalActor::Author(id) => format!("author:{}", id.0),
        }
    }

    /// Parses [`LocalActor::key`]'s output.
    pub fn from_key(key: &str) -> Option<LocalActor> {
        match key {
            "blog" => Some(LocalActor::Blog),
            "instance" => Some(LocalActor::Instance),
            other => other
                .strip_prefix("author:")
                .and_then(|id| id.parse().ok())
                .map(|id| LocalActor::Author(crate::model::AuthorId(id))),
        }
    }
}

impl fmt::Display for LocalActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A local actor's RSA key pair, PEM encoded (PKCS#8 private key, SPKI public key).
/// The private key is a secret: never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct ActorKey {
    pub actor: LocalActor,
    pub public_key_pem: String,
    pub private_key_pem: String,
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorKey")
            .field("actor", &self.actor)
            .field("public_key_pem", &self.public_key_pem)
            .field("private_key_pem", &"[redacted]")
            .finish()
    }
}

crate::model::id_newtype!(
    /// A remote actor we have stored.
    RemoteActorId
);

/// A remote actor (a person on another server), as last fetched from its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteActor {
    pub id: RemoteActorId,
    /// The actor's ActivityPub id (an https URL).
    pub ap_id: String,
    /// `Person`, `Service`, `Application`, `Group`, `Organization`.
    pub kind: String,
    pub preferred_username: Option<String>,
    /// Display name (plain text).
    pub name: Option<String>,
    /// Profile page for people.
    pub url: Option<String>,
    pub icon_url: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    /// `publicKey.id`, usually `{ap_id}#main-key`.
    pub public_key_id: String,
    pub public_key_pem: String,
    /// Lower-case host of `ap_id`.
    pub host: String,
    pub fetched_at: DateTime<Utc>,
    /// Set when the actor was deleted (Delete of the actor, or 410 from its URL).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// What is upserted (by `ap_id`) when a remote actor is fetched or updated.
#[derive(Debug, Clone)]
pub struct RemoteActorUpsert {
    pub ap_id: String,
    pub kind: String,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub icon_url: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_id: String,
    pub public_key_pem: String,
    pub host: String,
    pub fetched_at: DateTime<Utc>,
}

/// State of a follow of one of our actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowState {
    /// Waiting for the author's approval (manual approval is on).
    Pending,
    Accepted,
}

impl FollowState {
    /// The text stored in `followers.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowState::Pending => "pending",
            FollowState::Accepted => "accepted",
        }
    }

    /// Parses [`FollowState::as_str`]'s output.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(FollowState::Pending),
            "accepted" => Some(FollowState::Accepted),
            _ => None,
        }
    }
}

/// A remote actor following one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    pub local_actor: LocalActor,
    pub actor: RemoteActor,
    /// Id of the Follow activity (echoed in Accept/Reject).
    pub follow_ap_id: String,
    pub state: FollowState,
    pub created_at: DateTime<Utc>,
}

/// An activity to record in the outbox, with who receives it. Recipients are resolved
/// inside the transaction that records it, so a follower who arrives in the same
/// instant is either fully in or fully out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingActivity {
    /// The activity's id (`{public_url}/activities/{uuid}`).
    pub ap_id: String,
    /// Who sends (and signs) it.
    pub actor: LocalActor,
    /// `Create`, `Update`, `Delete`, `Announce`, `Accept`, `Reject`, ...
    pub kind: String,
    /// The id of its object (a post's Note id, a Follow's id...).
    pub object_ap_id: Option<String>,
    /// The post it concerns, for the delivery status shown in the admin UI.
    pub post_id: Option<crate::model::PostId>,
    /// The JSON document to send, complete with `@context`.
    pub payload: String,
    /// Deliver to the accepted followers of these local actors.
    pub to_followers_of: Vec<LocalActor>,
    /// Deliver also to these inboxes (e.g. the follower being accepted).
    pub extra_inboxes: Vec<String>,
}

/// Delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its next attempt (`next_attempt_at`).
    Pending,
    /// The receiving server answered 2xx.
    Delivered,
    /// Given up: a final 4xx, or retries exhausted.
    Failed,
}

impl DeliveryState {
    /// The text stored in `deliveries.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// Parses [`DeliveryState::as_str`]'s output.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One activity to one inbox, claimed by a delivery worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryJob {
    pub id: i64,
    pub activity_ap_id: String,
    pub actor: LocalActor,
    pub payload: String,
    pub inbox: String,
    pub host: String,
    /// Attempts made before this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        status: u16,
    },
    /// Try again at `next_attempt_at`.
    Retry {
        next_attempt_at: DateTime<Utc>,
        status: Option<u16>,
        error: String,
    },
    /// Give up.
    Failed {
        status: Option<u16>,
        error: String,
    },
}

/// A delivery as the admin UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub activity_ap_id: String,
    pub kind: String,
    pub inbox: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// An incoming activity the inbox verified, recorded with its effect in one transaction:
/// its id joins the received-activity log (so a repeat is recognised) and its sender's
/// host counts as having contacted us (see [`crate::Store::host_contacted_us`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedActivity {
    /// The activity's id.
    pub ap_id: String,
    /// The host of the actor that signed it.
    pub sender_host: String,
    pub received_at: DateTime<Utc>,
}

/// What we know about a remote host's reachability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHealth {
    pub host: String,
    /// Start of the current run of failures, if failing.
    pub failing_since: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Marked after days of failures: tried rarely until it contacts us again.
    pub unreachable: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn delivery_host_is_lower_case_with_a_non_default_port() {
        assert_eq!(
            delivery_host("https://Social.Example/inbox").as_deref(),
            Some("social.example")
        );
        assert_eq!(
            delivery_host("https://social.example:443/inbox").as_deref(),
            Some("social.example")
        );
        assert_eq!(
            delivery_host("http://social.example:8080/users/a/inbox").as_deref(),
            Some("social.example:8080")
        );
        assert_eq!(
            delivery_host("http://[::1]:3000/inbox").as_deref(),
            Some("[::1]:3000")
        );
        assert_eq!(delivery_host("not a url"), None);
        assert_eq!(delivery_host("mailto:someone@example.com"), None);
    }

    #[test]
    fn local_actor_keys_round_trip() {
        for actor in [
            LocalActor::Blog,
            LocalActor::Instance,
            LocalActor::Author(crate::model::AuthorId(42)),
        ] {
            assert_eq!(LocalActor::from_key(&actor.key()), Some(actor));
        }
        assert_eq!(LocalActor::from_key("author:x"), None);
        assert_eq!(LocalActor::from_key("someone"), None);
    }
}
