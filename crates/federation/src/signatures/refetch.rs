//! Rate limit for refetching a sender's key after a signature failed with the cached one.
//!
//! Following key rotation means refetching the key when a signature does not verify (Mastodon
//! does this; activitypub_federation only refetches actors after 24 hours). Without a limit,
//! anyone could make us fetch a victim's key on every request by sending bad signatures in its
//! name (security checklist S11), so each key id gets at most one refetch per interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Remembers when each key id was last refetched; thread-safe, bounded in memory.
///
/// Keep one per process (in the application context), not a global.
#[derive(Debug)]
pub struct KeyRefetchLimiter {
    min_interval: Duration,
    capacity: usize,
    last_refetch: Mutex<HashMap<String, Instant>>,
}

impl KeyRefetchLimiter {
    /// Mastodon-like default: one refetch per key id per 5 minutes.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5 * 60);
    /// Default number of key ids remembered at once.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A limiter allowing one refetch per key id per `min_interval`, remembering at most
    /// `capacity` key ids.
    pub fn new(min_interval: Duration, capacity: usize) -> Self {
        Self {
            min_interval,
            capacity,
            last_refetch: Mutex::new(HashMap::new()),
        }
    }

    /// Called after `SignedRequest::verify` failed with a cached key: returns whether the
    /// caller may refetch `key_id` now, and records the refetch if so.
    ///
    /// When `capacity` key ids were all refetched within the interval, further refetches are
    /// refused until entries age out: under such a flood, following a rotation late is better
    /// than fetching without bound.
    pub fn try_acquire(&self, key_id: &str, now: Instant) -> bool {
        // A poisoned lock only means another thread panicked mid-update of plain timestamps.
        let mut last = self
            .last_refetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(previous) = last.get(key_id)
            && now.saturating_duration_since(*previous) < self.min_interval
        {
            return false;
        }
        if !last.contains_key(key_id) && last.len() >= self.capacity {
            let interval = self.min_interval;
            last.retain(|_, at| now.saturating_duration_since(*at) < interval);
            if last.len() >= self.capacity {
                return false;
            }
        }
        last.insert(key_id.to_owned(), now);
        true
    }
}

impl Default for KeyRefetchLimiter {
    fn default() -> Self {
        Self::new(Self::DEFAULT_INTERVAL, Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refetched_at_most_once_per_interval() {
        let limiter = KeyRefetchLimiter::new(Duration::from_secs(300), 10);
        let start = Instant::now();
        assert!(limiter.try_acquire("https://a.example/u#k", start));
        assert!(!limiter.try_acquire("https://a.example/u#k", start + Duration::from_secs(299)));
        assert!(limiter.try_acquire("https://b.example/u#k", start));
        assert!(limiter.try_acquire("https://a.example/u#k", start + Duration::from_secs(300)));
    }

    #[test]
    fn a_full_limiter_refuses_new_keys_until_entries_age_out() {
        let limiter = KeyRefetchLimiter::new(Duration::from_secs(60), 2);
        let start = Instant::now();
        assert!(limiter.try_acquire("k1", start));
        assert!(limiter.try_acquire("k2", start));
        assert!(!limiter.try_acquire("k3", start + Duration::from_secs(1)));
        assert!(limiter.try_acquire("k3", start + Duration::from_secs(60)));
    }
}
