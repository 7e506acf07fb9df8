//! When to restart a pipeline that exited or stalled: after 1 s, 2 s, 5 s, 10 s, never
//! longer than the cap (`ingest.max_backoff_secs`, 10 s by default: a camera that comes back
//! is playing again within seconds). A run that delivered video, or stayed up long enough,
//! starts the ladder again.

use std::time::Duration;

const STEPS: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
];
const AFTER_STEPS: Duration = Duration::from_secs(60);
/// A run this long was a good run.
pub const GOOD_RUN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Backoff {
    failures: usize,
    cap: Duration,
}

impl Default for Backoff {
    /// The ladder with the old one-minute tail (for tests and tools).
    fn default() -> Self {
        Self::with_cap(AFTER_STEPS)
    }
}

impl Backoff {
    /// A ladder whose waits never exceed `cap`.
    pub fn with_cap(cap: Duration) -> Self {
        Self {
            failures: 0,
            cap: cap.max(Duration::from_secs(1)),
        }
    }

    /// The wait before the next start, given how long the run that just ended lasted.
    pub fn next_delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= GOOD_RUN {
            self.failures = 0;
        }
        let delay = STEPS.get(self.failures).copied().unwrap_or(AFTER_STEPS);
        self.failures += 1;
        delay.min(self.cap)
    }

    /// Forgets past failures (the source delivered video, or an admin restarted it).
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_climb_the_ladder_then_wait_a_minute() {
        let mut b = Backoff::default();
        let short = Duration::from_secs(1);
        let delays: Vec<u64> = (0..7).map(|_| b.next_delay(short).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 5, 10, 60, 60, 60]);
    }

    #[test]
    fn the_cap_bounds_every_wait() {
        let mut b = Backoff::with_cap(Duration::from_secs(10));
        let delays: Vec<u64> = (0..7)
            .map(|_| b.next_delay(Duration::ZERO).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 5, 10, 10, 10, 10]);
        let mut b = Backoff::with_cap(Duration::from_secs(2));
        let delays: Vec<u64> = (0..4)
            .map(|_| b.next_delay(Duration::ZERO).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 2, 2]);
    }

    #[test]
    fn a_good_run_starts_again_from_one_second() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay(Duration::ZERO);
        }
        assert_eq!(b.next_delay(GOOD_RUN).as_secs(), 1);
        assert_eq!(b.next_delay(Duration::ZERO).as_secs(), 2);
    }
}
