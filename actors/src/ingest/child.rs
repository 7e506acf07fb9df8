//! One ffmpeg child of a pipeline: spawned in its own process group with a parent-death
//! signal (a server killed with SIGKILL takes its ffmpeg with it), its stdout split into
//! fMP4 pieces and its stderr parsed into progress on two threads of their own, and always
//! reaped. Everything comes back to the pipeline as typed messages tagged with the run.

use std::io::Read;
use std::os::unix::process::CommandExt;

use actix::prelude::*;
use bytes::Bytes;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};

use super::command::{arguments, IngestSpec, Transcode};
use super::fmp4::{FragmentSplitter, Piece};

/// Bytes read from ffmpeg's stdout at a time.
const READ_SIZE: usize = 64 * 1024;

/// The init segment of a run.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InitReady {
    pub run: u64,
    pub init: Bytes,
}

/// One `moof` + `mdat` fragment of a run.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FragmentReady {
    pub run: u64,
    pub bytes: Bytes,
    pub keyframe: bool,
    /// When it was read off ffmpeg's stdout.
    pub read_at: std::time::Instant,
}

/// ffmpeg's status line.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProgressReported {
    pub run: u64,
    pub fps: f32,
    pub bitrate_kbps: f32,
    pub speed: f32,
}

/// The codecs of the source's first video and audio streams.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InputParsed {
    pub run: u64,
    pub video: Option<String>,
    pub audio: Option<String>,
}

/// An error line from ffmpeg (or from splitting its output).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ErrorLogged {
    pub run: u64,
    pub line: String,
}

/// The child exited and was reaped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IngestExited {
    pub run: u64,
    pub status: String,
}

/// What a pipeline keeps of a running child: enough to kill its whole process group.
pub struct ChildHandle {
    pid: i32,
}

impl ChildHandle {
    /// SIGKILL to the child's process group; the reaper thread then reports the exit.
    pub fn kill(&self) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for this
        // child; the child is not reaped before the reaper thread's wait, so the group id
        // cannot have been reused.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl super::lifecycle::Child for ChildHandle {
    fn kill(&self) {
        ChildHandle::kill(self)
    }
}

/// Why a child could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(
        "ffmpeg was not found (configured as {0:?}): install FFmpeg (Debian/Ubuntu: \
         apt-get install ffmpeg) or set ROOMCAST__INGEST__FFMPEG to its path"
    )]
    Missing(String),
    #[error("ffmpeg could not be started: {0}")]
    Io(#[from] std::io::Error),
}

/// A publisher's FLV bytes for a pushed source's stdin; closing it ends ffmpeg's input.
pub type Feed = tokio::sync::mpsc::Receiver<bytes::Bytes>;

/// Starts ffmpeg for `spec` and the threads that watch it (and, for a pushed source, the
/// one that writes `feed` to its stdin). Messages go to `to`.
pub fn spawn<A>(
    spec: &IngestSpec,
    transcode: Transcode,
    run: u64,
    feed: Option<Feed>,
    to: Addr<A>,
) -> Result<ChildHandle, SpawnError>
where
    A: Actor<Context = Context<A>>
        + Handler<InitReady>
        + Handler<FragmentReady>
        + Handler<ProgressReported>
        + Handler<InputParsed>
        + Handler<ErrorLogged>
        + Handler<IngestExited>,
{
    let mut command = FfmpegCommand::new_with_path(&spec.ffmpeg);
    command.args(arguments(spec, transcode));
    let inner = command.as_inner_mut();
    inner.current_dir(&spec.hls_dir).process_group(0);
    // When the thread that spawned it (the long-lived arbiter thread) dies, the kernel
    // kills ffmpeg; its address space is capped.
    crate::process::confine(inner);
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
            SpawnError::Missing(spec.ffmpeg.clone())
        }
        _ => SpawnError::Io(e),
    })?;
    let pid = child.as_inner().id() as i32;
    let stdout = child.take_stdout().expect("stdout is piped");
    let room = spec.room_id.clone();
    if let (Some(feed), Some(stdin)) = (feed, child.take_stdin()) {
        std::thread::Builder::new()
            .name(format!("ingest-in-{}", short(&room)))
            .spawn(move || write_feed(feed, stdin))?;
    }
    let out_to = to.clone();
    std::thread::Builder::new()
        .name(format!("ingest-out-{}", short(&room)))
        .spawn(move || read_fragments(stdout, run, pid, out_to))?;
    std::thread::Builder::new()
        .name(format!("ingest-log-{}", short(&room)))
        .spawn(move || watch_events(child, run, to))?;
    Ok(ChildHandle { pid })
}

/// Writes the publisher's bytes to ffmpeg until the publisher is gone (then ffmpeg reads
/// the end of its input and finishes) or ffmpeg stops reading.
fn write_feed(mut feed: Feed, mut stdin: std::process::ChildStdin) {
    use std::io::Write;
    while let Some(bytes) = feed.blocking_recv() {
        if stdin.write_all(&bytes).is_err() {
            return;
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// Reads stdout to its end, splitting it into pieces for the pipeline.
fn read_fragments<A>(mut stdout: std::process::ChildStdout, run: u64, pid: i32, to: Addr<A>)
where
    A: Actor<Context = Context<A>>
        + Handler<InitReady>
        + Handler<FragmentReady>
        + Handler<ErrorLogged>,
{
    let mut splitter = FragmentSplitter::new();
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match splitter.push(&buf[..n]) {
            Ok(pieces) => {
                for piece in pieces {
                    match piece {
                        Piece::Init(init) => to.do_send(InitReady { run, init }),
                        Piece::Fragment { bytes, keyframe } => to.do_send(FragmentReady {
                            run,
                            bytes,
                            keyframe,
                            read_at: std::time::Instant::now(),
                        }),
                    }
                }
            }
            Err(e) => {
                to.do_send(ErrorLogged {
                    run,
                    line: format!("unreadable fMP4 from ffmpeg: {e}"),
                });
                ChildHandle { pid }.kill();
                return;
            }
        }
    }
}

/// Follows ffmpeg's stderr until it closes, then reaps the child.
fn watch_events<A>(mut child: ffmpeg_sidecar::child::FfmpegChild, run: u64, to: Addr<A>)
where
    A: Actor<Context = Context<A>>
        + Handler<ProgressReported>
        + Handler<InputParsed>
        + Handler<ErrorLogged>
        + Handler<IngestExited>,
{
    let mut video = None;
    let mut audio = None;
    let mut told = false;
    if let Ok(events) = child.iter() {
        for event in events {
            match event {
                FfmpegEvent::ParsedInputStream(s) if s.parent_index == 0 => {
                    if s.is_video() && video.is_none() {
                        video = Some(s.format.clone());
                    } else if s.is_audio() && audio.is_none() {
                        audio = Some(s.format.clone());
                    }
                }
                FfmpegEvent::ParsedStreamMapping(_) | FfmpegEvent::ParsedOutput(_) if !told => {
                    told = true;
                    to.do_send(InputParsed {
                        run,
                        video: video.clone(),
                        audio: audio.clone(),
                    });
                }
                FfmpegEvent::Progress(p) => to.do_send(ProgressReported {
                    run,
                    fps: p.fps,
                    bitrate_kbps: p.bitrate_kbps,
                    speed: p.speed,
                }),
                FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line) => {
                    to.do_send(ErrorLogged { run, line })
                }
                FfmpegEvent::Error(line) if !line.contains("No streams found") => {
                    to.do_send(ErrorLogged { run, line })
                }
                _ => {}
            }
        }
    }
    let status = match child.wait() {
        Ok(status) => status.to_string(),
        Err(e) => format!("could not be reaped: {e}"),
    };
    to.do_send(IngestExited { run, status });
}
