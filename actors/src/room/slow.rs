//! Slow mode: one message per user per period, for rooms whose moderators turn it on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct SlowMode {
    /// Zero: off.
    every: Duration,
    /// When each user's last message was accepted (here or on another node).
    last: HashMap<String, Instant>,
}

impl SlowMode {
    pub fn every(&self) -> Duration {
        self.every
    }

    pub fn set_every(&mut self, every: Duration) {
        self.every = every;
    }

    /// How long `user` must still wait at `now`, if at all.
    pub fn wait(&self, user: &str, now: Instant) -> Option<Duration> {
        if self.every.is_zero() {
            return None;
        }
        let last = self.last.get(user)?;
        let free = *last + self.every;
        (free > now).then(|| free - now)
    }

    /// Notes that a message of `user` was accepted at `now`.
    pub fn sent(&mut self, user: &str, now: Instant) {
        if !self.every.is_zero() {
            self.last.insert(user.to_string(), now);
        }
    }

    /// Forgets users whose wait is over.
    pub fn prune(&mut self, now: Instant) {
        let every = self.every;
        self.last.retain(|_, t| now.duration_since(*t) < every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_waits_the_period_after_each_message() {
        let mut slow = SlowMode::default();
        slow.set_every(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(slow.wait("u", t0), None);
        slow.sent("u", t0);
        assert_eq!(
            slow.wait("u", t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(slow.wait("other", t0), None, "per user");
        assert_eq!(slow.wait("u", t0 + Duration::from_secs(5)), None);
        slow.prune(t0 + Duration::from_secs(5));
        assert!(slow.last.is_empty());
    }

    #[test]
    fn off_means_no_wait_and_nothing_kept() {
        let mut slow = SlowMode::default();
        let t0 = Instant::now();
        slow.sent("u", t0);
        assert_eq!(slow.wait("u", t0), None);
        assert!(slow.last.is_empty());
    }
}
