//! `Windows`: sliding windows of recent events per key ("at most N per period"), for the
//! throttles that protect sign-up, login, comments and room creation.
//!
//! A take both checks and records under one lock, so a burst of concurrent requests can
//! never get more than the limit through (check-then-act would let them all pass).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest key kept: keys come from client input (usernames), so they are cut to this.
const MAX_KEY: usize = 96;
/// Above this many keys, keys with no event in their window are dropped.
const PRUNE_ABOVE: usize = 50_000;

#[derive(Clone)]
pub struct Windows {
    limit: usize,
    period: Duration,
    events: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl Windows {
    pub fn new(limit: usize, period: Duration) -> Self {
        Self {
            limit: limit.max(1),
            period,
            events: Arc::default(),
        }
    }

    /// Records one event against every key, or none of them: `Err(wait)` when any key has
    /// used up its window, with how long until it has room again.
    pub fn take(&self, keys: &[String]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.events.lock().expect("windows lock");
        if map.len() > PRUNE_ABOVE {
            let period = self.period;
            map.retain(|_, times| {
                forget_old(times, now, period);
                !times.is_empty()
            });
        }
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = map.get_mut(bounded(key)) {
                forget_old(times, now, self.period);
                if times.len() >= self.limit {
                    let oldest = times[times.len() - self.limit];
                    wait = wait.max(self.period.saturating_sub(now - oldest));
                }
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for key in keys {
            let times = map.entry(bounded(key).to_string()).or_default();
            times.push_back(now);
            while times.len() > self.limit {
                times.pop_front();
            }
        }
        Ok(())
    }

    /// Takes back the newest event of `key` (an attempt that turned out fine).
    pub fn give_back(&self, key: &str) {
        let mut map = self.events.lock().expect("windows lock");
        if let Some(times) = map.get_mut(bounded(key)) {
            times.pop_back();
        }
    }

    /// Forgets every event of `key`.
    pub fn clear(&self, key: &str) {
        self.events
            .lock()
            .expect("windows lock")
            .remove(bounded(key));
    }
}

/// `key` cut to `MAX_KEY` bytes on a character boundary.
fn bounded(key: &str) -> &str {
    if key.len() <= MAX_KEY {
        return key;
    }
    let mut end = MAX_KEY;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    &key[..end]
}

fn forget_old(times: &mut VecDeque<Instant>, now: Instant, period: Duration) {
    while times.front().is_some_and(|t| now - *t >= period) {
        times.pop_front();
    }
}

/// Whole seconds to wait, at least one (for `Retry-After`).
pub fn retry_secs(wait: Duration) -> u64 {
    (wait.as_millis() as u64).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_past_the_limit_is_refused_with_the_time_left() {
        let w = Windows::new(2, Duration::from_secs(60));
        let keys = vec!["a".to_string()];
        assert!(w.take(&keys).is_ok());
        assert!(w.take(&keys).is_ok());
        let wait = w.take(&keys).unwrap_err();
        assert!(wait > Duration::from_secs(59), "{wait:?}");
    }

    #[test]
    fn a_refused_take_records_nothing_on_any_key() {
        let w = Windows::new(1, Duration::from_secs(60));
        w.take(&["full".into()]).unwrap();
        assert!(w.take(&["free".into(), "full".into()]).is_err());
        assert!(w.take(&["free".into()]).is_ok());
    }

    #[test]
    fn a_given_back_event_leaves_room_for_another() {
        let w = Windows::new(1, Duration::from_secs(60));
        w.take(&["k".into()]).unwrap();
        w.give_back("k");
        assert!(w.take(&["k".into()]).is_ok());
    }

    #[test]
    fn keys_longer_than_the_bound_share_one_window() {
        let w = Windows::new(1, Duration::from_secs(60));
        let long = "x".repeat(10_000);
        w.take(std::slice::from_ref(&long)).unwrap();
        assert!(w.take(&[format!("{long}y")]).is_err());
        assert_eq!(
            w.events.lock().unwrap().keys().next().unwrap().len(),
            MAX_KEY
        );
    }

    #[test]
    fn concurrent_takes_never_pass_more_than_the_limit() {
        let w = Windows::new(5, Duration::from_secs(60));
        let passed = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..30 {
                s.spawn(|| {
                    if w.take(&["user:alice".into()]).is_ok() {
                        passed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(passed.into_inner(), 5);
    }
}
