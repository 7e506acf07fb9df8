//! `HashGate`: at most `limits.password_hash_concurrency` password hashes at once.
//!
//! argon2 takes ~19 MiB and tens of milliseconds per hash; a hundred at once on the blocking
//! pool took the server past 2 GB and left the allocator holding most of it. A request that
//! cannot get a slot within `limits.password_hash_wait_ms` gets 503 with `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct HashGate {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl HashGate {
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
        }
    }

    /// Runs `hash` on the blocking pool once a slot is free; `Busy` if none frees in time.
    pub async fn run<T: Send + 'static>(
        &self,
        hash: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| ApiError::Busy)?
            .expect("the semaphore is never closed");
        let out = web::block(move || {
            let out = hash();
            drop(permit);
            out
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[actix_web::test]
    async fn no_more_than_the_slots_run_at_once_and_the_rest_are_told_to_retry() {
        let gate = HashGate::new(2, Duration::from_millis(100));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let calls = (0..8).map(|_| {
            let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
            gate.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        let results = futures_util::future::join_all(calls).await;
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(ApiError::Busy)))
            .count();
        assert_eq!(busy, 6, "two ran, the others waited 100 ms and were refused");
    }
}
