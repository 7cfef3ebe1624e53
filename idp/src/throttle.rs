//! Failed-login throttling: a sliding window of failure times per key (a username
//! or a client IP), kept in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key inside a time window.
pub struct Throttle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Beyond this many tracked keys, stale entries are dropped to bound memory.
const MAX_KEYS: usize = 10_000;

impl Throttle {
    /// Refuses after `max_failures` failures within `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX).max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn prune(&self, q: &mut VecDeque<Instant>, now: Instant) {
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
    }

    /// Whether any of `keys` has reached the limit.
    pub fn is_blocked(&self, keys: &[&str]) -> bool {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().any(|k| {
            map.get_mut(*k).is_some_and(|q| {
                self.prune(q, now);
                q.len() >= self.max_failures
            })
        })
    }

    /// Records one failure for each of `keys`.
    pub fn record_failure(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > MAX_KEYS {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for k in keys {
            let q = map.entry((*k).to_owned()).or_default();
            self.prune(q, now);
            q.push_back(now);
        }
    }

    /// Forgets the failures of `key` (after a successful login).
    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_only_that_key() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            t.record_failure(&["u:a"]);
        }
        assert!(!t.is_blocked(&["u:a"]));
        t.record_failure(&["u:a"]);
        assert!(t.is_blocked(&["u:a"]));
        assert!(t.is_blocked(&["u:b", "u:a"]));
        assert!(!t.is_blocked(&["u:b"]));
        t.clear("u:a");
        assert!(!t.is_blocked(&["u:a"]));
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let t = Throttle::new(1, Duration::from_millis(20));
        t.record_failure(&["k"]);
        assert!(t.is_blocked(&["k"]));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!t.is_blocked(&["k"]));
    }
}
