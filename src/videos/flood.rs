//! `VideoFlood`: the live rooms' flood control applied to time-anchored danmaku, per user
//! per video, with the same mute for users who keep hitting the limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use roomcast_actors::room::{FloodControl, RateLimit, Verdict, FLOOD_MUTE};

use super::error::VideoError;

/// Checks between two prunings of idle users.
const PRUNE_EVERY: u32 = 1024;

pub struct VideoFlood {
    control: FloodControl,
    muted_until: HashMap<String, Instant>,
    checks: u32,
}

impl VideoFlood {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            control: FloodControl::new(limit),
            muted_until: HashMap::new(),
            checks: 0,
        }
    }

    /// Records a send by `user_id` on `video_id`; an error if it must be refused.
    pub fn check(&mut self, user_id: &str, video_id: &str, now: Instant) -> Result<(), VideoError> {
        self.checks = self.checks.wrapping_add(1);
        if self.checks.is_multiple_of(PRUNE_EVERY) {
            self.control.prune(now);
            self.muted_until.retain(|_, until| *until > now);
        }
        let key = format!("{user_id}/{video_id}");
        if let Some(until) = self.muted_until.get(&key).filter(|u| **u > now) {
            return Err(VideoError::Muted {
                retry_after_ms: millis(*until - now),
            });
        }
        match self.control.check(&key, now) {
            Verdict::Accept => Ok(()),
            Verdict::Limited(wait) => Err(VideoError::RateLimited {
                retry_after_ms: millis(wait),
            }),
            Verdict::Muted => {
                self.muted_until.insert(key, now + FLOOD_MUTE);
                Err(VideoError::Muted {
                    retry_after_ms: millis(FLOOD_MUTE),
                })
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_per_user_per_video_and_flooding_mutes() {
        let mut flood = VideoFlood::new(RateLimit::parse("2/2s").unwrap());
        let now = Instant::now();
        assert!(flood.check("u", "v1", now).is_ok());
        assert!(flood.check("u", "v1", now).is_ok());
        assert!(matches!(
            flood.check("u", "v1", now),
            Err(VideoError::RateLimited { .. })
        ));
        assert!(
            flood.check("u", "v2", now).is_ok(),
            "another video has its own window"
        );
        assert!(
            flood.check("w", "v1", now).is_ok(),
            "another user has their own window"
        );
        let mut last = Ok(());
        for _ in 0..5 {
            last = flood.check("u", "v1", now);
        }
        assert!(matches!(last, Err(VideoError::Muted { .. })));
        let later = now + Duration::from_secs(3);
        assert!(matches!(
            flood.check("u", "v1", later),
            Err(VideoError::Muted { .. })
        ));
        assert!(flood
            .check("u", "v1", now + FLOOD_MUTE + Duration::from_secs(1))
            .is_ok());
    }
}
