//! `VideoViewer`: one per video WebSocket (`/ws/rooms/{id}/video`). It joins the room's
//! pipeline, which sends the init segment and the fragments since the last keyframe, then
//! every new fragment. Frames go out through a bounded queue on a writer task of its own;
//! a viewer that falls behind skips to the next keyframe instead of drifting further back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix::prelude::*;
use actix_ws::{CloseCode, CloseReason, Message, ProtocolError, Session};
use bytes::Bytes;
use prometheus::Histogram;
use tokio::sync::mpsc;

use super::pipeline::{IngestPipeline, JoinVideo, LeaveVideo, VideoFrame};
use crate::socket::{is_oversize, ConnectionGuard, PongGate, SocketTiming};
use std::cell::Cell;
use std::rc::Rc;

/// Frames waiting for the socket, at most (about 6 s of 200 ms fragments).
const QUEUE_FRAMES: usize = 32;

static NEXT_VIDEO_VIEWER: AtomicU64 = AtomicU64::new(1);

pub struct VideoViewer {
    id: u64,
    room_id: String,
    pipeline: Addr<IngestPipeline>,
    session: Session,
    queue: Option<mpsc::Sender<(Bytes, Option<Instant>)>>,
    delivery: Histogram,
    /// Behind: fragments are dropped until the next keyframe.
    skipping: bool,
    last_heard: Instant,
    pongs: PongGate,
    /// When the writer started on the frame it is writing; `None` while it waits for one.
    writing_since: Rc<Cell<Option<Instant>>>,
    timing: SocketTiming,
    _guard: Option<ConnectionGuard>,
}

impl VideoViewer {
    /// `delivery` observes, for each live fragment, the time from ffmpeg's stdout to the
    /// socket.
    pub fn new(
        room_id: &str,
        pipeline: Addr<IngestPipeline>,
        session: Session,
        delivery: Histogram,
        timing: SocketTiming,
        guard: Option<ConnectionGuard>,
    ) -> Self {
        Self {
            timing,
            pongs: PongGate::default(),
            writing_since: Rc::default(),
            _guard: guard,
            delivery,
            id: NEXT_VIDEO_VIEWER.fetch_add(1, Ordering::Relaxed),
            room_id: room_id.to_string(),
            pipeline,
            session,
            queue: None,
            skipping: false,
            last_heard: Instant::now(),
        }
    }

    fn close(&mut self, code: CloseCode, why: &str, ctx: &mut Context<Self>) {
        let session = self.session.clone();
        let reason = CloseReason {
            code,
            description: (!why.is_empty()).then(|| why.to_string()),
        };
        actix_web::rt::spawn(async move {
            let _ = session.close(Some(reason)).await;
        });
        ctx.stop();
    }
}

/// The writer task ended: the connection is gone.
#[derive(Message)]
#[rtype(result = "()")]
struct WriterEnded;

impl Actor for VideoViewer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (tx, mut rx) = mpsc::channel::<(Bytes, Option<Instant>)>(QUEUE_FRAMES);
        self.queue = Some(tx);
        let mut session = self.session.clone();
        let me = ctx.address();
        let delivery = self.delivery.clone();
        let writing_since = Rc::clone(&self.writing_since);
        actix_web::rt::spawn(async move {
            while let Some((frame, read_at)) = rx.recv().await {
                writing_since.set(Some(Instant::now()));
                if session.binary(frame).await.is_err() {
                    break;
                }
                writing_since.set(None);
                if let Some(read_at) = read_at {
                    delivery.observe(read_at.elapsed().as_secs_f64());
                }
            }
            me.do_send(WriterEnded);
        });
        self.pipeline.do_send(JoinVideo {
            viewer: self.id,
            to: ctx.address().recipient(),
        });
        ctx.run_interval(self.timing.ping_every, |act, ctx| {
            if act.last_heard.elapsed() > act.timing.silence_limit {
                return act.close(CloseCode::Normal, "no answer to pings", ctx);
            }
            let write_stalled = act
                .writing_since
                .get()
                .is_some_and(|since| since.elapsed() > act.timing.stall_limit);
            if write_stalled || act.pongs.stalled(act.timing.stall_limit) {
                return act.close(CloseCode::Policy, "not reading", ctx);
            }
            let mut session = act.session.clone();
            actix_web::rt::spawn(async move {
                let _ = session.ping(b"").await;
            });
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.pipeline.do_send(LeaveVideo { viewer: self.id });
    }
}

impl Handler<VideoFrame> for VideoViewer {
    type Result = ();

    fn handle(&mut self, frame: VideoFrame, ctx: &mut Context<Self>) {
        if frame.init || frame.keyframe {
            self.skipping = false;
        } else if self.skipping {
            return;
        }
        let Some(queue) = &self.queue else { return };
        match queue.try_send((frame.bytes, frame.read_at)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) if !frame.init => {
                log::debug!(
                    "room {}: video viewer {} behind, skipping to a keyframe",
                    self.room_id,
                    self.id
                );
                self.skipping = true;
            }
            Err(_) => self.close(CloseCode::Policy, "too far behind", ctx),
        }
    }
}

impl Handler<WriterEnded> for VideoViewer {
    type Result = ();

    fn handle(&mut self, _: WriterEnded, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl StreamHandler<Result<Message, ProtocolError>> for VideoViewer {
    fn handle(&mut self, msg: Result<Message, ProtocolError>, ctx: &mut Context<Self>) {
        self.last_heard = Instant::now();
        match msg {
            Ok(Message::Ping(bytes)) => self.pongs.answer(&self.session, bytes),
            // The closing handshake: answered with a Close echoing the peer's code.
            Ok(Message::Close(reason)) => {
                let code = reason.map_or(CloseCode::Normal, |r| r.code);
                self.close(code, "", ctx)
            }
            // The video socket only sends; anything a client says is ignored.
            Ok(_) => {}
            Err(e) if is_oversize(&e) => self.close(CloseCode::Size, "frame too large", ctx),
            Err(_) => self.close(CloseCode::Protocol, "protocol error", ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
