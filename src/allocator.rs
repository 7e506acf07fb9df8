//! Allocator settings for a long-running server.
//!
//! glibc serves a large block from `mmap` and returns it to the system on free, but after
//! the first such free it raises its threshold to that block's size, so every later block
//! of that size comes from a heap arena and stays resident after it is freed. Password
//! hashing (a 19 MiB block per hash, on several threads with their own arenas) then left
//! ~16 MiB resident per login attempt. A fixed threshold keeps large blocks on `mmap`.

/// Blocks from this size up are mapped and unmapped on their own.
const MMAP_THRESHOLD: i32 = 4 << 20;

/// Applies the settings above (glibc only; a no-op elsewhere).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once at start-up.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
