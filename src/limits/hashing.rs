//! `HashGate`: at most `limits.password_hash_concurrency` password hashes at once.
//!
//! argon2 takes ~19 MiB and tens of milliseconds per hash; a hundred at once on the blocking
//! pool took the server past 2 GB and left the allocator holding most of it. A request that
//! cannot get a slot within `limits.password_hash_wait_ms` gets 503 with `Retry-After`.
//!
//! Hashes run on threads of their own, one per slot: the allocator keeps a freed 19 MiB
//! block in the arena of the thread that used it, so hashing on the shared blocking pool
//! (dozens of threads) left hundreds of MiB behind even with the slots capped.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Semaphore};

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct HashGate {
    slots: Arc<Semaphore>,
    wait: Duration,
    jobs: mpsc::Sender<Job>,
}

impl HashGate {
    /// Starts `slots` hashing threads; they end when the last gate is dropped.
    pub fn new(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..slots {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || loop {
                    let job = queue.lock().expect("hash queue lock").recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("starting a password hashing thread");
        }
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            wait,
            jobs,
        }
    }

    /// Runs `hash` on a hashing thread once a slot is free; `Busy` if none frees in time.
    pub async fn run<T: Send + 'static>(
        &self,
        hash: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| ApiError::Busy)?
            .expect("the semaphore is never closed");
        let (done, out) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(hash());
            drop(permit);
        });
        self.jobs
            .send(job)
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("the hashing threads are gone")))?;
        out.await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("a password hash panicked")))
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
        assert_eq!(
            busy, 6,
            "two ran, the others waited 100 ms and were refused"
        );
    }
}
