//! Pushed sources against a real ffmpeg: a publisher's FLV fed through stdin becomes the
//! same fMP4 stream viewers get from a pulled source; one publisher at a time; a publisher
//! leaving ends the run without back-off; a non-H.264 publisher is transcoded from the
//! start.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use roomcast_actors::ingest::command::IngestSpec;
use roomcast_actors::ingest::pipeline::{
    AttachPublisher, DetachPublisher, GetIngestStatus, IngestPipeline, IngestState, JoinVideo,
    PushRefused, StartFeed, VideoFrame,
};
use tokio::sync::Notify;

/// Ten seconds of FLV as an encoder pushes it, with the given video codec.
fn flv(codec: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi"])
        .args([
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine",
        ])
        .args(["-t", "10", "-c:v", codec, "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-f", "flv", "pipe:1"])
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn pushed_spec(dir: &Path) -> IngestSpec {
    IngestSpec {
        room_id: "pushed-room".into(),
        url: "pipe:0".into(),
        redacted: "rtmp push".into(),
        protocol_whitelist: "pipe".into(),
        http_proxy: None,
        max_backoff: Duration::from_secs(10),
        hls_dir: dir.join("live/pushed"),
        ffmpeg: "ffmpeg".into(),
        on_demand: false,
        timing: Default::default(),
        pushed: true,
    }
}

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

async fn state(p: &Addr<IngestPipeline>) -> IngestState {
    p.send(GetIngestStatus).await.unwrap().state
}

/// Attaches publisher `id` and feeds it `stream` in encoder-sized pieces; the returned
/// sender keeps the stream open.
async fn publish(
    p: &Addr<IngestPipeline>,
    id: u64,
    stream: &[u8],
    video: &str,
) -> tokio::sync::mpsc::Sender<Bytes> {
    let cut_off = Arc::new(Notify::new());
    p.send(AttachPublisher {
        publisher: id,
        cut_off,
    })
    .await
    .unwrap()
    .expect("the first publisher is let in");
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    p.send(StartFeed {
        publisher: id,
        feed: rx,
        video: Some(video.into()),
        audio: Some("aac".into()),
    })
    .await
    .unwrap();
    for piece in stream.chunks(16 * 1024) {
        tx.send(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    tx
}

#[actix_rt::test]
async fn a_publishers_flv_plays_to_viewers_and_its_leaving_ends_the_run_without_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = IngestPipeline::new(pushed_spec(dir.path())).start();
    assert_eq!(
        state(&pipeline).await,
        IngestState::Waiting,
        "no publisher yet"
    );
    let seen = Seen::default();
    let viewer = TestViewer(seen.clone()).start();
    pipeline.do_send(JoinVideo {
        viewer: 1,
        to: viewer.recipient(),
    });

    let stream = flv("libx264");
    let feed = publish(&pipeline, 1, &stream, "h264").await;
    eventually("the init segment and fragments reach the viewer", || {
        let frames = seen.0.lock().unwrap();
        frames.len() > 5 && frames[0].init
    })
    .await;
    {
        let frames = seen.0.lock().unwrap();
        assert_eq!(&frames[0].bytes[4..8], b"ftyp");
        assert!(frames[1..].iter().all(|f| &f.bytes[4..8] == b"moof"));
    }
    let status = pipeline.send(GetIngestStatus).await.unwrap();
    assert!(!status.transcoding, "H.264/AAC is copied");

    // Tried: a second publisher while the first is live.
    let second = pipeline
        .send(AttachPublisher {
            publisher: 2,
            cut_off: Arc::new(Notify::new()),
        })
        .await
        .unwrap();
    assert_eq!(second, Err(PushRefused::Busy));

    // The publisher leaves: the run ends, no back-off, no restart counted.
    drop(feed);
    pipeline.do_send(DetachPublisher { publisher: 1 });
    let mut status = pipeline.send(GetIngestStatus).await.unwrap();
    for _ in 0..300 {
        if status.state == IngestState::Waiting && status.pid.is_none() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        status = pipeline.send(GetIngestStatus).await.unwrap();
    }
    assert_eq!(status.state, IngestState::Waiting, "{status:?}");
    assert_eq!(status.restarts, 0);

    // Publishing again starts a new run: the viewer gets a new init segment.
    let inits = seen.0.lock().unwrap().iter().filter(|f| f.init).count();
    let _feed = publish(&pipeline, 3, &stream, "h264").await;
    eventually("a new init segment reaches the same viewer", || {
        seen.0.lock().unwrap().iter().filter(|f| f.init).count() > inits
    })
    .await;
}

#[actix_rt::test]
async fn a_non_h264_publisher_is_transcoded_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = IngestPipeline::new(pushed_spec(dir.path())).start();
    let seen = Seen::default();
    let viewer = TestViewer(seen.clone()).start();
    pipeline.do_send(JoinVideo {
        viewer: 1,
        to: viewer.recipient(),
    });
    let _feed = publish(&pipeline, 1, &flv("flv1"), "flv1").await;
    eventually("an H.264 init segment reaches the viewer", || {
        seen.0
            .lock()
            .unwrap()
            .iter()
            .any(|f| f.init && f.bytes.windows(4).any(|w| w == b"avc1"))
    })
    .await;
    let status = pipeline.send(GetIngestStatus).await.unwrap();
    assert!(status.transcoding);
    assert_eq!(
        status.restarts, 0,
        "transcoding was chosen before the run started"
    );
}

#[actix_rt::test]
async fn a_pulled_source_refuses_publishers() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = pushed_spec(dir.path());
    spec.pushed = false;
    spec.url = "rtsp://127.0.0.1:9/cam".into();
    spec.protocol_whitelist = "rtsp,rtp,tcp".into();
    let pipeline = IngestPipeline::new(spec).stopped(true).start();
    let answer = pipeline
        .send(AttachPublisher {
            publisher: 1,
            cut_off: Arc::new(Notify::new()),
        })
        .await
        .unwrap();
    assert_eq!(answer, Err(PushRefused::PullSource));
}
