//! What every child process of the server gets before it runs: it dies with the thread
//! that started it (parent-death signal), so no ffmpeg outlives a crashed server, and its
//! address space is capped, so a hostile file cannot make a decoder take the machine's
//! memory (a hundred-megapixel frame, a bomb of a header).

use std::os::unix::process::CommandExt;
use std::process::Command;

/// The most address space (not resident memory) a child may map. A 1080p x264 transcode
/// maps about 650 MiB; ffprobe and a thumbnail far less.
pub const CHILD_ADDRESS_SPACE: u64 = 2 << 30;

/// Applies the rules above to `command` (Linux; elsewhere only what the system has).
pub fn confine(command: &mut Command) {
    // SAFETY: prctl and setrlimit are async-signal-safe and touch only the child's state.
    unsafe {
        command.pre_exec(|| {
            #[cfg(target_os = "linux")]
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let limit = libc::rlimit {
                rlim_cur: CHILD_ADDRESS_SPACE as libc::rlim_t,
                rlim_max: CHILD_ADDRESS_SPACE as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
