//! Ingest pipelines against a real ffmpeg pulling a real (file) source: fragments reach
//! viewers, late joiners start on a keyframe, HLS is written, a killed child comes back on
//! the back-off ladder, and non-H.264 sources are transcoded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use roomcast_actors::ingest::command::{IngestSpec, IngestTiming};
use roomcast_actors::ingest::pipeline::{
    ControlIngest, GetIngestStatus, IngestAction, IngestPipeline, IngestState, IngestStatus,
    JoinVideo, LeaveVideo, VideoFrame,
};

/// A 60 s MPEG-TS test source with the given video codec.
fn source(dir: &Path, codec: &str) -> PathBuf {
    let path = dir.join(format!("src-{codec}.ts"));
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
        ])
        .args([
            "-f", "lavfi", "-i", "sine", "-t", "60", "-c:v", codec, "-g", "25",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts"])
        .arg(&path)
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn spec(dir: &Path, src: &Path, on_demand: bool) -> IngestSpec {
    let url = format!("file:{}", src.display());
    IngestSpec {
        room_id: "room-under-test".into(),
        redacted: url.clone(),
        url,
        protocol_whitelist: "file".into(),
        http_proxy: None,
        max_backoff: std::time::Duration::from_secs(10),
        hls_dir: dir.join("live/room"),
        ffmpeg: "ffmpeg".into(),
        on_demand,
        timing: IngestTiming {
            linger: LINGER,
            ..IngestTiming::default()
        },
        pushed: false,
    }
}

/// The on-demand linger these tests run with.
const LINGER: Duration = Duration::from_secs(2);

/// Waits up to 30 s for `check` to hold; panics with `what` otherwise.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if check() {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("within 30 s: {what}");
}

/// Collects what a video viewer receives.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<VideoFrame>>>);

struct TestViewer(Seen);

impl Actor for TestViewer {
    type Context = Context<Self>;
}

impl Handler<VideoFrame> for TestViewer {
    type Result = ();
    fn handle(&mut self, msg: VideoFrame, _: &mut Context<Self>) {
        self.0 .0.lock().unwrap().push(msg);
    }
}

fn viewer() -> (Seen, Recipient<VideoFrame>) {
    let seen = Seen::default();
    let addr = TestViewer(seen.clone()).start();
    (seen, addr.recipient())
}

async fn status(p: &Addr<IngestPipeline>) -> IngestStatus {
    p.send(GetIngestStatus).await.unwrap()
}

async fn wait_for(
    p: &Addr<IngestPipeline>,
    what: &str,
    ok: impl Fn(&IngestStatus) -> bool,
) -> IngestStatus {
    for _ in 0..300 {
        let s = status(p).await;
        if ok(&s) {
            return s;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {:?}", status(p).await);
}

fn alive(pid: i32) -> bool {
    // A reaped child is gone from /proc; a zombie would still be listed with state Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn kind(frame: &VideoFrame) -> &[u8] {
    &frame.bytes[4..8]
}

#[actix_rt::test]
async fn a_source_plays_to_viewers_writes_hls_and_comes_back_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), "libx264");
    let pipeline = IngestPipeline::new(spec(dir.path(), &src, false)).start();
    let (early, to) = viewer();
    pipeline.do_send(JoinVideo { viewer: 1, to });
    let running = wait_for(&pipeline, "running", |s| s.state == IngestState::Running).await;
    assert!(!running.transcoding, "H.264/AAC is copied");

    eventually("fragments reach the viewer", || {
        early.0.lock().unwrap().len() > 5
    })
    .await;
    {
        let frames = early.0.lock().unwrap();
        assert_eq!(kind(&frames[0]), b"ftyp", "the init segment comes first");
        assert!(frames[0].init);
        assert!(
            frames[1..].iter().all(|f| kind(f) == b"moof"),
            "then fragments"
        );
        assert!(frames.len() > 5);
    }
    // A late joiner gets the init segment, then a fragment that starts with a keyframe.
    let (late, to) = viewer();
    pipeline.do_send(JoinVideo { viewer: 2, to });
    eventually("the late joiner gets the cache", || {
        late.0.lock().unwrap().len() >= 2
    })
    .await;
    {
        let frames = late.0.lock().unwrap();
        assert!(frames[0].init && kind(&frames[0]) == b"ftyp");
        assert!(frames[1].keyframe && kind(&frames[1]) == b"moof");
    }
    // HLS: a playlist ffprobe reads, with segments that roll.
    let playlist = dir.path().join("live/room/index.m3u8");
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.contains("#EXTM3U") && text.contains(".ts"), "{text}");
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&playlist)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&probe.stdout).contains("h264"));

    // Kill ffmpeg from outside: back-off, a restart counted, then running again.
    let pid = running.pid.unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let backoff = wait_for(&pipeline, "backoff", |s| s.state != IngestState::Running).await;
    assert_eq!(backoff.restarts, 1, "{backoff:?}");
    assert!(backoff.last_error.is_some());
    let again = wait_for(&pipeline, "running again", |s| {
        s.state == IngestState::Running
    })
    .await;
    assert_ne!(again.pid, Some(pid));
    assert!(!alive(pid), "the killed child was reaped");

    // Stop: the child goes away and is reaped.
    let pid = again.pid.unwrap();
    pipeline.do_send(ControlIngest {
        action: IngestAction::Stop,
    });
    wait_for(&pipeline, "stopped", |s| s.state == IngestState::Stopped).await;
    assert!(!alive(pid));
}

#[actix_rt::test]
async fn a_non_h264_source_is_transcoded() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), "mpeg2video");
    let pipeline = IngestPipeline::new(spec(dir.path(), &src, false)).start();
    let (seen, to) = viewer();
    pipeline.do_send(JoinVideo { viewer: 1, to });
    let s = wait_for(&pipeline, "running", |s| s.state == IngestState::Running).await;
    assert!(s.transcoding);
    assert_eq!(s.restarts, 0, "switching to transcoding is not a failure");
    eventually("an H.264 init segment reaches the viewer", || {
        seen.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|f| f.init)
            .is_some_and(|init| init.bytes.windows(4).any(|w| w == b"avc1"))
    })
    .await;
    pipeline.do_send(ControlIngest {
        action: IngestAction::Stop,
    });
}

#[actix_rt::test]
async fn an_on_demand_source_runs_only_while_watched() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), "libx264");
    let pipeline = IngestPipeline::new(spec(dir.path(), &src, true)).start();
    // The pipeline decides when it starts, before it answers anything.
    assert_eq!(
        status(&pipeline).await.state,
        IngestState::Stopped,
        "nobody watches yet"
    );
    let (_seen, to) = viewer();
    pipeline.do_send(JoinVideo { viewer: 7, to });
    let running = wait_for(&pipeline, "running", |s| s.state == IngestState::Running).await;
    let left = std::time::Instant::now();
    pipeline.do_send(LeaveVideo { viewer: 7 });
    wait_for(&pipeline, "stopped after the linger", |s| {
        s.state == IngestState::Stopped
    })
    .await;
    assert!(
        left.elapsed() >= LINGER,
        "it lingered {:?}, not {LINGER:?}",
        left.elapsed()
    );
    assert!(!alive(running.pid.unwrap()));
}
