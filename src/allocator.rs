//! Allocator settings for a long-running server.
//!
//! glibc serves a large block from `mmap` and returns it to the system on free, but after
//! the first such free it raises its threshold to that block's size, so every later block
//! of that size comes from a heap arena and stays resident after it is freed. Password
//! hashing (a 19 MiB block per hash, on several threads with their own arenas) then left
//! ~16 MiB resident per login attempt. A fixed threshold keeps large blocks on `mmap`.
//!
//! Smaller blocks freed by the thousand (the buffers and actors of closed connections) stay
//! in glibc's arenas, and only the top of each arena's heap is given back by itself: after
//! 30,000 viewers came and went, a node idled at 124 MB instead of 76 MB. A thread returns
//! the free pages inside the arenas every few seconds (`malloc_trim`); B10 in `bench/`
//! measures it. `ROOMCAST_MALLOC_TRIM=0` switches it off, for that comparison.

/// Blocks from this size up are mapped and unmapped on their own.
const MMAP_THRESHOLD: i32 = 4 << 20;

/// How often free memory inside the arenas is returned to the system.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Applies the settings above (glibc only; a no-op elsewhere).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called once at start-up.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
        if std::env::var("ROOMCAST_MALLOC_TRIM").as_deref() != Ok("0") {
            let trimmer = std::thread::Builder::new()
                .name("malloc-trim".into())
                .spawn(|| loop {
                    std::thread::sleep(TRIM_EVERY);
                    // SAFETY: malloc_trim only returns free pages to the system.
                    unsafe {
                        libc::malloc_trim(0);
                    }
                });
            if let Err(e) = trimmer {
                log::warn!("cannot start the allocator's trim thread: {e}");
            }
        }
    }
}
