//! `StreamLimiter`: at most `stream.max_connections` media responses in flight.
//!
//! A permit is taken with a compare-and-swap, so two requests can never both take the last
//! one, and it is held by the response body until the last byte is sent (or the client
//! goes away).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone)]
pub struct StreamLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    max: usize,
    active: AtomicUsize,
}

/// One stream's place; released on drop.
pub struct StreamPermit {
    inner: Arc<Inner>,
}

impl StreamLimiter {
    pub fn new(max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max,
                active: AtomicUsize::new(0),
            }),
        }
    }

    /// A permit, or `None` when every place is taken.
    pub fn try_acquire(&self) -> Option<StreamPermit> {
        self.inner
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.inner.max).then_some(n + 1)
            })
            .ok()
            .map(|_| StreamPermit {
                inner: Arc::clone(&self.inner),
            })
    }

    /// Streams in flight now.
    pub fn active(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.inner.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_place_goes_to_exactly_one_of_many_threads() {
        let limiter = StreamLimiter::new(3);
        let held: Vec<_> = (0..2).map(|_| limiter.try_acquire().unwrap()).collect();
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| limiter.try_acquire().map(std::mem::forget).is_some()))
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum()
        });
        assert_eq!(winners, 1);
        assert_eq!(limiter.active(), 3);
        drop(held);
        assert_eq!(limiter.active(), 1);
    }

    #[test]
    fn a_dropped_permit_frees_its_place() {
        let limiter = StreamLimiter::new(1);
        let permit = limiter.try_acquire().unwrap();
        assert!(limiter.try_acquire().is_none());
        drop(permit);
        assert!(limiter.try_acquire().is_some());
    }
}
