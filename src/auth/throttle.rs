//! `LoginThrottle`: at most `MAX_ATTEMPTS` unsuccessful logins within `WINDOW` per username
//! and per client address. An attempt is counted *before* its password is checked, so a
//! burst of concurrent guesses gets no more than the limit through; a successful login
//! takes its attempt back.

use std::net::IpAddr;
use std::time::Duration;

use crate::limits::{retry_secs, Windows};

pub const MAX_ATTEMPTS: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);

/// Attempt counts per username and per client address, shared by every worker.
#[derive(Clone)]
pub struct LoginThrottle {
    attempts: Windows,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            attempts: Windows::new(MAX_ATTEMPTS, WINDOW),
        }
    }
}

/// An attempt counted against a username and an address.
#[derive(Debug)]
pub struct Attempt {
    keys: Vec<String>,
}

impl LoginThrottle {
    /// Counts an attempt at `username` from `client`; `Err(seconds)` when either has used
    /// up its attempts (nothing is counted then).
    pub fn attempt(&self, username: &str, client: Option<IpAddr>) -> Result<Attempt, u64> {
        // Usernames are compared case-sensitively, but a guesser must not get five tries
        // per spelling; the window cuts long keys to a bounded length.
        let mut keys = vec![format!("user:{}", username.to_lowercase())];
        if let Some(ip) = client {
            keys.push(format!("addr:{ip}"));
        }
        self.attempts.take(&keys).map_err(retry_secs)?;
        Ok(Attempt { keys })
    }

    /// The attempt succeeded: the username's failures are forgotten and the address gets
    /// its attempt back.
    pub fn succeeded(&self, attempt: Attempt) {
        self.attempts.clear(&attempt.keys[0]);
        for key in &attempt.keys[1..] {
            self.attempts.give_back(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn five_attempts_block_the_sixth() {
        let t = LoginThrottle::default();
        for _ in 0..MAX_ATTEMPTS {
            assert!(t.attempt("alice", None).is_ok());
        }
        let wait = t.attempt("alice", None).unwrap_err();
        assert!((59..=60).contains(&wait), "{wait}");
    }

    #[test]
    fn a_blocked_address_blocks_every_username_from_it() {
        let t = LoginThrottle::default();
        for i in 0..MAX_ATTEMPTS {
            t.attempt(&format!("u{i}"), ip("10.0.0.1")).unwrap();
        }
        assert!(t.attempt("fresh", ip("10.0.0.1")).is_err());
        assert!(t.attempt("fresh", ip("10.0.0.2")).is_ok());
    }

    #[test]
    fn a_success_lifts_the_usernames_block_and_returns_the_addresss_attempt() {
        let t = LoginThrottle::default();
        for _ in 0..MAX_ATTEMPTS - 1 {
            t.attempt("bob", ip("10.0.0.3")).unwrap();
        }
        let ok = t.attempt("bob", ip("10.0.0.3")).unwrap();
        t.succeeded(ok);
        assert!(t.attempt("bob", ip("10.0.0.4")).is_ok());
        assert!(t.attempt("carol", ip("10.0.0.3")).is_ok());
        assert!(t.attempt("dave", ip("10.0.0.3")).is_err());
    }
}
