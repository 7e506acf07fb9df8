//! `ByteRate`: the bit rate of what a pipeline delivers, measured from its fragments.
//!
//! ffmpeg's own `bitrate=` is `N/A` when it writes to a pipe (it cannot know the output's
//! size), so the status would read 0 kbit/s while a 2 Mbit/s source plays. Counting the
//! fragment bytes over the last few seconds gives the real rate viewers receive.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The span of fragments the rate is averaged over.
const WINDOW: Duration = Duration::from_secs(3);
/// Below this span the rate is not yet meaningful.
const MIN_SPAN: Duration = Duration::from_millis(900);

#[derive(Debug, Default)]
pub struct ByteRate {
    /// When each fragment arrived and its size, oldest first.
    samples: VecDeque<(Instant, usize)>,
    bytes: usize,
}

impl ByteRate {
    /// Counts a fragment of `len` bytes that arrived at `at`.
    pub fn add(&mut self, at: Instant, len: usize) {
        self.samples.push_back((at, len));
        self.bytes += len;
        while let Some(&(first, n)) = self.samples.front() {
            if at.duration_since(first) <= WINDOW {
                break;
            }
            self.samples.pop_front();
            self.bytes -= n;
        }
    }

    /// Kilobits per second over the window, once it spans about a second.
    pub fn kbps(&self) -> Option<f32> {
        let (first, _) = *self.samples.front()?;
        let (last, _) = *self.samples.back()?;
        let span = last.duration_since(first);
        if span < MIN_SPAN {
            return None;
        }
        // The first fragment's bytes arrived before the span began.
        let bytes = self.bytes - self.samples.front().map_or(0, |s| s.1);
        Some((bytes as f64 * 8.0 / 1000.0 / span.as_secs_f64()) as f32)
    }

    /// Forgets everything (a new run).
    pub fn clear(&mut self) {
        self.samples.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_megabits_a_second_in_fifths_read_as_two_thousand_kbps() {
        let mut rate = ByteRate::default();
        let start = Instant::now();
        assert_eq!(rate.kbps(), None);
        // 50 KB every 200 ms = 250 KB/s = 2,000 kbit/s, for five seconds.
        for i in 0..=25 {
            rate.add(start + Duration::from_millis(200 * i), 50_000);
        }
        let kbps = rate.kbps().unwrap();
        assert!((kbps - 2000.0).abs() < 1.0, "{kbps}");
        assert!(rate.samples.len() <= 16, "old fragments leave the window");
    }

    #[test]
    fn a_rate_needs_about_a_second_of_fragments() {
        let mut rate = ByteRate::default();
        let start = Instant::now();
        rate.add(start, 1000);
        rate.add(start + Duration::from_millis(400), 1000);
        assert_eq!(rate.kbps(), None);
        rate.clear();
        assert_eq!(rate.kbps(), None);
    }
}
