//! Running ffmpeg and ffprobe: found on PATH or at the configured path, bounded in time,
//! with an error that names the command and says how to fix it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The configured binaries (`ingest.ffmpeg`, `ingest.ffprobe`).
#[derive(Debug, Clone)]
pub struct MediaTools {
    pub ffmpeg: String,
    pub ffprobe: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(
        "{tool} was not found (configured as {path:?}): install FFmpeg \
         (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) \
         or set ROOMCAST__INGEST__{key} to the binary's path"
    )]
    Missing {
        tool: &'static str,
        path: String,
        key: &'static str,
    },
    #[error("{tool} could not be started: {source}")]
    Spawn {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("{tool} took longer than {0:?} and was stopped", .limit)]
    TimedOut { tool: &'static str, limit: Duration },
    #[error("{tool} failed ({status}): {stderr}")]
    Failed {
        tool: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

impl ToolError {
    /// The failure is the machine's, not the input's: the tool is missing or could not
    /// start, was killed (by a signal, a time-out) or ran out of disk space. Work that
    /// failed this way is retried; its input is kept.
    pub fn is_environment_fault(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        match self {
            ToolError::Missing { .. } | ToolError::Spawn { .. } | ToolError::TimedOut { .. } => {
                true
            }
            ToolError::Failed { status, stderr, .. } => {
                status.signal().is_some()
                    || stderr.contains("No space left on device")
                    || stderr.contains("Cannot allocate memory")
            }
        }
    }
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<u8>,
}

/// Longest stderr kept for an error message.
const STDERR_KEEP: usize = 2000;

impl MediaTools {
    pub fn ffprobe(&self, args: &[&str], limit: Duration) -> Result<Output, ToolError> {
        run("ffprobe", &self.ffprobe, "FFPROBE", args, limit)
    }

    pub fn ffmpeg(&self, args: &[&str], limit: Duration) -> Result<Output, ToolError> {
        run("ffmpeg", &self.ffmpeg, "FFMPEG", args, limit)
    }

    /// Cheaply checks that both binaries are where they are configured (on PATH or at their
    /// path), without running them: for every upload, before its body is read.
    pub fn present(&self) -> Result<(), ToolError> {
        for (tool, path, key) in [
            ("ffprobe", &self.ffprobe, "FFPROBE"),
            ("ffmpeg", &self.ffmpeg, "FFMPEG"),
        ] {
            if !is_executable_on_path(path) {
                return Err(ToolError::Missing {
                    tool,
                    path: path.clone(),
                    key,
                });
            }
        }
        Ok(())
    }

    /// Checks that both binaries start; the error says how to install them.
    pub fn check(&self) -> Result<(), ToolError> {
        let limit = Duration::from_secs(10);
        self.ffprobe(&["-version"], limit)?;
        self.ffmpeg(&["-version"], limit)?;
        Ok(())
    }
}

/// `path` names an executable file, directly (with a `/`) or through `PATH`.
fn is_executable_on_path(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if path.contains('/') {
        return executable(std::path::Path::new(path));
    }
    std::env::var_os("PATH")
        .is_some_and(|dirs| std::env::split_paths(&dirs).any(|dir| executable(&dir.join(path))))
}

/// Runs a command to completion on the calling (blocking) thread, killing it after `limit`.
fn run(
    tool: &'static str,
    path: &str,
    key: &'static str,
    args: &[&str],
    limit: Duration,
) -> Result<Output, ToolError> {
    let mut command = Command::new(path);
    // Its own process group, so a time-out ends whatever it started too; `confine` ends it
    // with the server.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    roomcast_actors::process::confine(&mut command);
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                ToolError::Missing {
                    tool,
                    path: path.to_string(),
                    key,
                }
            }
            _ => ToolError::Spawn { tool, source },
        })?;
    // Both pipes are drained on their own threads so a chatty child never blocks on a
    // full pipe while we wait for it.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > limit => {
                // SAFETY: signalling the child's own process group (its id, negated).
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError::TimedOut { tool, limit });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(source) => return Err(ToolError::Spawn { tool, source }),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let text = String::from_utf8_lossy(&stderr);
        let text = text.trim();
        let cut = text
            .char_indices()
            .nth(STDERR_KEEP)
            .map_or(text.len(), |(i, _)| i);
        return Err(ToolError::Failed {
            tool,
            status,
            stderr: text[..cut].to_string(),
        });
    }
    Ok(Output { stdout })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_install_it() {
        let tools = MediaTools {
            ffmpeg: "/nonexistent/ffmpeg".into(),
            ffprobe: "/nonexistent/ffprobe".into(),
        };
        let err = tools.check().unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ToolError::Missing { .. }), "{text}");
        assert!(text.contains("apt-get install ffmpeg"), "{text}");
        assert!(text.contains("ROOMCAST__INGEST__FFPROBE"), "{text}");
    }

    #[test]
    fn presence_is_checked_without_running_anything() {
        let missing = MediaTools {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "/nonexistent/ffprobe".into(),
        };
        assert!(matches!(missing.present(), Err(ToolError::Missing { .. })));
        let on_path = MediaTools {
            ffmpeg: "sh".into(),
            ffprobe: "/bin/sh".into(),
        };
        assert!(on_path.present().is_ok());
    }

    #[test]
    fn a_command_over_its_time_limit_is_killed() {
        let started = Instant::now();
        let err = run("sleep", "sleep", "X", &["5"], Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, ToolError::TimedOut { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
