//! `jti` replay protection: each (issuer, token id) pair is accepted once, remembered until
//! the token could no longer pass the expiry check anyway (`exp` + clock skew).

use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::Expiry;

/// How many token ids are remembered at most (beyond, the least used are evicted).
pub(crate) const MAX_REMEMBERED: u64 = 1_000_000;

/// Each entry lives for the duration stored as its value.
struct UntilExpiry;

impl Expiry<(String, String), Duration> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &(String, String),
        ttl: &Duration,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(*ttl)
    }
}

/// The seen (iss, jti) pairs.
pub(crate) struct ReplayGuard {
    seen: Cache<(String, String), Duration>,
}

impl ReplayGuard {
    pub(crate) fn new(capacity: u64) -> ReplayGuard {
        ReplayGuard {
            seen: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
        }
    }

    /// Records the pair for `ttl`; `false` when it was already recorded (a replay). Atomic: of
    /// two concurrent calls with the same pair, exactly one gets `true`.
    pub(crate) fn first_use(&self, iss: &str, jti: &str, ttl: Duration) -> bool {
        self.seen
            .entry((iss.to_owned(), jti.to_owned()))
            .or_insert_with(|| ttl)
            .is_fresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn second_use_is_a_replay_per_issuer() {
        let g = ReplayGuard::new(100);
        let ttl = Duration::from_secs(60);
        assert!(g.first_use("a", "1", ttl));
        assert!(!g.first_use("a", "1", ttl));
        assert!(g.first_use("b", "1", ttl));
        assert!(g.first_use("a", "2", ttl));
    }

    #[test]
    fn entries_expire() {
        let g = ReplayGuard::new(100);
        assert!(g.first_use("a", "1", Duration::from_millis(50)));
        std::thread::sleep(Duration::from_millis(120));
        assert!(g.first_use("a", "1", Duration::from_secs(60)));
    }

    #[test]
    fn concurrent_uses_admit_exactly_one() {
        let g = Arc::new(ReplayGuard::new(100));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let g = Arc::clone(&g);
                std::thread::spawn(move || g.first_use("a", "same", Duration::from_secs(60)))
            })
            .collect();
        let admitted = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|first| *first)
            .count();
        assert_eq!(admitted, 1);
    }
}
