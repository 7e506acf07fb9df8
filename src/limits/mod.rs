//! Per-client limits that keep one client (or one user) from exhausting the server:
//! the client's address behind proxies, the password-hashing gate, sliding-window
//! throttles and the cap on open sockets per address. Built once from the settings.

mod client;
mod hashing;
pub mod progress;
mod sockets;
mod windows;

use std::time::Duration;

pub use client::ClientAddrs;
pub use hashing::HashGate;
pub use sockets::{SocketSlot, SocketsPerAddr};
pub use windows::{retry_secs, Windows};

use crate::config::Settings;
use crate::error::ApiError;

/// Every limit, shared by all workers.
#[derive(Clone)]
pub struct Limits {
    pub clients: ClientAddrs,
    pub hashing: HashGate,
    pub sockets: SocketsPerAddr,
    /// Sign-ups per client address.
    pub signups: Windows,
    /// Comments per user.
    pub comments: Windows,
    /// Rooms opened per user.
    pub rooms: Windows,
}

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        let l = &settings.limits;
        const HOUR: Duration = Duration::from_secs(3600);
        Self {
            clients: ClientAddrs::new(settings.http.trusted_proxies.clone()),
            hashing: HashGate::new(
                l.hash_concurrency(),
                Duration::from_millis(l.password_hash_wait_ms),
            ),
            sockets: SocketsPerAddr::new(l.ws_per_ip),
            signups: Windows::new(l.signups_per_hour as usize, HOUR),
            comments: Windows::new(l.comments_per_minute as usize, Duration::from_secs(60)),
            rooms: Windows::new(l.rooms_per_hour as usize, HOUR),
        }
    }
}

/// Takes one event of `what` for `key` from `windows`, or the 429 that says when to retry.
pub fn take(windows: &Windows, what: &'static str, key: String) -> Result<(), ApiError> {
    windows.take(&[key]).map_err(|wait| ApiError::SlowDown {
        what,
        retry_after_secs: retry_secs(wait),
    })
}
