//! Danmaku density along a video: how many messages are anchored in each of `buckets`
//! equal slices of its duration, for the watch page's "high-energy" curve over the seek bar.

/// Most slices a caller may ask for.
pub const MAX_BUCKETS: usize = 1000;

/// Counts of `ts_ms` (anchors in milliseconds) in `buckets` equal slices of
/// `[0, duration_ms]`; an anchor at the very end falls in the last slice.
pub fn density(ts_ms: &[i64], duration_ms: i64, buckets: usize) -> Vec<u64> {
    let mut counts = vec![0u64; buckets];
    if buckets == 0 || duration_ms <= 0 {
        return counts;
    }
    for &ts in ts_ms {
        if !(0..=duration_ms).contains(&ts) {
            continue;
        }
        let slice = (ts as i128 * buckets as i128 / duration_ms as i128) as usize;
        counts[slice.min(buckets - 1)] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_fall_in_their_slice_and_the_end_in_the_last() {
        assert_eq!(
            density(&[0, 99, 100, 250, 999, 1000], 1000, 10),
            [2, 1, 1, 0, 0, 0, 0, 0, 0, 2]
        );
    }

    #[test]
    fn out_of_range_anchors_and_empty_videos_count_nothing() {
        assert_eq!(density(&[-1, 1001], 1000, 4), [0, 0, 0, 0]);
        assert_eq!(density(&[5], 0, 3), [0, 0, 0]);
        assert!(density(&[5], 1000, 0).is_empty());
    }
}
