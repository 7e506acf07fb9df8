//! `LoginThrottle`: after `MAX_FAILURES` failed logins within `WINDOW` for one username or
//! one client address, further attempts are refused until the oldest failure ages out.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked keys, keys with no recent failure are dropped.
const PRUNE_ABOVE: usize = 50_000;

/// Failure counts per username and per client address, shared by every worker.
#[derive(Clone, Default)]
pub struct LoginThrottle {
    failures: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl LoginThrottle {
    /// `Err(seconds)` when any of `keys` has used up its failures in the window.
    pub fn check(&self, keys: &[String]) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("throttle lock");
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                forget_old(times, now);
                if times.len() >= MAX_FAILURES {
                    let oldest = times[times.len() - MAX_FAILURES];
                    wait = wait.max(WINDOW.saturating_sub(now - oldest));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0))
        }
    }

    /// Records a failed attempt against every key.
    pub fn record_failure(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, times| {
                forget_old(times, now);
                !times.is_empty()
            });
        }
        for key in keys {
            let times = map.entry(key.clone()).or_default();
            forget_old(times, now);
            times.push_back(now);
            while times.len() > MAX_FAILURES {
                times.pop_front();
            }
        }
    }

    /// Forgets the failures of one key (a username after a successful login).
    pub fn clear(&self, key: &str) {
        self.failures.lock().expect("throttle lock").remove(key);
    }
}

fn forget_old(times: &mut VecDeque<Instant>, now: Instant) {
    while times.front().is_some_and(|t| now - *t >= WINDOW) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_the_sixth_attempt() {
        let t = LoginThrottle::default();
        let keys = vec!["user:alice".to_string()];
        for _ in 0..MAX_FAILURES {
            assert!(t.check(&keys).is_ok());
            t.record_failure(&keys);
        }
        let wait = t.check(&keys).unwrap_err();
        assert!((59..=60).contains(&wait), "{wait}");
    }

    #[test]
    fn a_blocked_address_blocks_every_username_from_it() {
        let t = LoginThrottle::default();
        for i in 0..MAX_FAILURES {
            t.record_failure(&[format!("user:u{i}"), "addr:10.0.0.1".into()]);
        }
        assert!(t
            .check(&["user:fresh".into(), "addr:10.0.0.1".into()])
            .is_err());
        assert!(t
            .check(&["user:fresh".into(), "addr:10.0.0.2".into()])
            .is_ok());
    }

    #[test]
    fn clearing_a_key_lifts_its_block() {
        let t = LoginThrottle::default();
        let keys = vec!["user:bob".to_string()];
        for _ in 0..MAX_FAILURES {
            t.record_failure(&keys);
        }
        t.clear("user:bob");
        assert!(t.check(&keys).is_ok());
    }
}
