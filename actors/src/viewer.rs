//! `ViewerSession`: one per danmaku WebSocket, an actix actor over an actix-ws connection.
//!
//! It reads the viewer's frames (size, JSON, sign-in and text rules are checked here, before
//! anything reaches the room), writes from its bounded `Outbox` on a task of its own, pings
//! every 10 s and drops a peer silent for 30 s (the [`SocketTiming`] settings).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};

use crate::danmaku::{parse_color, parse_mode, DanmakuError, DanmakuText};
use crate::hub::{HubHandle, KickReason, KickViewer, Outbox, WireFrame};
use crate::metrics::RoomMetrics;
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame};
use crate::registry::{GetRoom, RoomRegistry};
use crate::room::{JoinRoom, LeaveRoom, Resume, Room, SendDanmaku};
use crate::socket::{is_oversize, ConnectionGuard, PongGate, SocketTiming};

/// Client frames larger than this get `bad_frame`.
pub const MAX_CLIENT_FRAME: usize = 4 * 1024;
/// Bad frames before the socket is closed with 1008.
const MAX_STRIKES: u32 = 5;

static NEXT_VIEWER_ID: AtomicU64 = AtomicU64::new(1);

/// Who is watching: a signed-in user, or nobody (read-only).
#[derive(Clone)]
pub struct Viewer {
    pub user_id: String,
    pub username: String,
    /// The session the socket was opened with; checked before each send, so a socket does
    /// not outlive its session's logout, expiry or the account's disabling.
    pub session: String,
    /// A site admin (exempt from slow mode).
    pub admin: bool,
}

/// Whether a session token is still valid (the HTTP edge's session service answers).
pub type SessionCheck = Rc<dyn Fn(String) -> Pin<Box<dyn Future<Output = bool>>>>;

/// What a viewer connection needs to know.
#[derive(Clone)]
pub struct ViewerConfig {
    pub max_chars: usize,
    pub registry: Addr<RoomRegistry>,
    pub metrics: RoomMetrics,
    pub sessions: SessionCheck,
    pub timing: SocketTiming,
}

pub struct ViewerSession {
    id: u64,
    room_id: Arc<str>,
    viewer: Option<Viewer>,
    session: Session,
    outbox: Option<Rc<Outbox>>,
    hub: Option<HubHandle>,
    room: Option<Addr<Room>>,
    config: ViewerConfig,
    last_heard: Instant,
    strikes: u32,
    closing: bool,
    pongs: PongGate,
    /// When the session was last found valid; it is checked again at most this often.
    session_checked: Option<Instant>,
    /// Where the viewer left off, if it reconnected to resume.
    resume: Option<Resume>,
    /// The viewer asked for compressed `hello` and `batch` frames.
    compressed: bool,
    _guard: Option<ConnectionGuard>,
}

/// How long a session found valid is trusted before the next send checks it again.
const SESSION_RECHECK: Duration = Duration::from_secs(1);

impl ViewerSession {
    pub fn new(
        room_id: &str,
        viewer: Option<Viewer>,
        session: Session,
        config: ViewerConfig,
        guard: Option<ConnectionGuard>,
    ) -> Self {
        Self {
            resume: None,
            compressed: false,
            pongs: PongGate::default(),
            session_checked: None,
            _guard: guard,
            id: NEXT_VIEWER_ID.fetch_add(1, Ordering::Relaxed),
            room_id: room_id.into(),
            viewer,
            session,
            outbox: None,
            hub: None,
            room: None,
            config,
            last_heard: Instant::now(),
            strikes: 0,
            closing: false,
        }
    }

    /// Resumes after batch `since` of the room's run `epoch` (a reconnect).
    pub fn resuming(mut self, resume: Option<Resume>) -> Self {
        self.resume = resume;
        self
    }

    /// Sends `hello` and `batch` frames as binary frames of raw DEFLATE.
    pub fn compressed(mut self, on: bool) -> Self {
        self.compressed = on;
        self
    }

    fn send_frame(&self, frame: &ServerFrame) {
        if let Some(outbox) = &self.outbox {
            outbox.push(frame.to_json(), false);
        }
    }

    fn reject(&self, code: ErrorCode, message: String) {
        self.config
            .metrics
            .rejected
            .with_label_values(&[code.as_str()])
            .inc();
        self.send_frame(&ServerFrame::error(code, message));
    }

    fn strike(&mut self, message: &str, ctx: &mut Context<Self>) {
        self.reject(ErrorCode::BadFrame, message.to_string());
        self.strikes += 1;
        if self.strikes >= MAX_STRIKES {
            self.close(CloseCode::Policy, "too many bad frames", ctx);
        }
    }

    fn close(&mut self, code: CloseCode, why: &str, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        let session = self.session.clone();
        let reason = CloseReason {
            code,
            description: (!why.is_empty()).then(|| why.to_string()),
        };
        // The close frame goes out if the connection can still take it; either way the
        // actor stops and the connection ends with it.
        actix_web::rt::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), session.close(Some(reason))).await;
        });
        ctx.stop();
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        if text.len() > MAX_CLIENT_FRAME {
            return self.strike("frames are limited to 4 KiB", ctx);
        }
        let frame = match ClientFrame::parse(text) {
            Ok(f) => f,
            Err(e) => return self.strike(&format!("not a valid frame: {e}"), ctx),
        };
        let ClientFrame::Send { text, color, mode } = frame;
        let Some(viewer) = self.viewer.clone() else {
            return self.reject(ErrorCode::Unauthenticated, "sign in to send danmaku".into());
        };
        let checked = DanmakuText::parse(&text, self.config.max_chars).and_then(|t| {
            Ok((
                t,
                parse_color(color.as_deref())?,
                parse_mode(mode.as_deref())?,
            ))
        });
        let (text, color, mode) = match checked {
            Ok(ok) => ok,
            Err(e @ DanmakuError::TooLong { .. }) => {
                return self.reject(ErrorCode::TooLong, e.to_string())
            }
            Err(e) => return self.strike(&e.to_string(), ctx),
        };
        let Some(room) = self.room.clone() else {
            return self.reject(ErrorCode::BadFrame, "still joining the room".into());
        };
        let send = SendDanmaku {
            user_id: viewer.user_id,
            username: viewer.username,
            text: text.into_string(),
            color,
            mode,
            admin: viewer.admin,
        };
        if self
            .session_checked
            .is_some_and(|at| at.elapsed() < SESSION_RECHECK)
        {
            return self.forward(room, send, ctx);
        }
        let valid = (self.config.sessions)(viewer.session.clone());
        // Sends stay in order: the next frame is read once this one is checked and handed on.
        ctx.wait(
            actix::fut::wrap_future(valid).map(move |valid, act: &mut Self, ctx| {
                if !valid {
                    // Logged out, expired or disabled: the socket reads on as a visitor.
                    act.viewer = None;
                    return act.reject(
                        ErrorCode::Unauthenticated,
                        "your session has ended; sign in again to send danmaku".into(),
                    );
                }
                act.session_checked = Some(Instant::now());
                act.forward(room, send, ctx);
            }),
        );
    }

    fn forward(&mut self, room: Addr<Room>, send: SendDanmaku, ctx: &mut Context<Self>) {
        ctx.spawn(actix::fut::wrap_future(room.send(send)).map(
            |res, act: &mut Self, ctx| match res {
                Ok(Ok(())) => {}
                Ok(Err(rejection)) => act.send_frame(&rejection.to_frame()),
                Err(_) => act.close(CloseCode::Error, "the room stopped", ctx),
            },
        ));
    }

    fn join(&mut self, ctx: &mut Context<Self>) {
        let registry = self.config.registry.clone();
        let hub = self.hub.clone().expect("registered in started");
        let (room_id, viewer_id) = (self.room_id.to_string(), self.id);
        let resume = self.resume.take();
        let compressed = self.compressed;
        let joining = async move {
            // A room that stops between the lookup and the join is started again.
            for _ in 0..3 {
                let room = registry
                    .send(GetRoom {
                        id: room_id.clone(),
                    })
                    .await
                    .ok()?;
                let join = JoinRoom {
                    viewer_id,
                    hub_id: hub.id,
                    hub: hub.addr.clone(),
                    resume: resume.clone(),
                    compressed,
                };
                if let Ok(Ok(())) = room.send(join).await {
                    return Some(room);
                }
            }
            None
        };
        ctx.wait(
            actix::fut::wrap_future(joining).map(|room, act: &mut Self, ctx| match room {
                Some(room) => act.room = Some(room),
                None => act.close(CloseCode::Error, "the room is unavailable", ctx),
            }),
        );
    }

    /// The writer is a task of its own rather than a future inside the actor's context:
    /// a frame then wakes only the writer, not the actor's mailbox and stream as well.
    fn start_writer(&mut self, ctx: &mut Context<Self>) {
        let outbox = Rc::clone(self.outbox.as_ref().expect("created in started"));
        let mut session = self.session.clone();
        let me = ctx.address();
        actix_web::rt::spawn(async move {
            while let Some(frame) = outbox.next().await {
                let written = match frame {
                    WireFrame::Text(text) => session.text(text).await,
                    WireFrame::Binary(bytes) => session.binary(bytes).await,
                };
                if written.is_err() {
                    break;
                }
                outbox.written();
            }
            me.do_send(WriterEnded);
        });
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let timing = self.config.timing;
        if self.last_heard.elapsed() > timing.silence_limit {
            return self.close(CloseCode::Normal, "no answer to pings", ctx);
        }
        if self.outbox.as_ref().is_some_and(|o| o.is_too_far_behind())
            || self.pongs.stalled(timing.stall_limit)
        {
            return self.close(CloseCode::Policy, "too far behind", ctx);
        }
        let mut session = self.session.clone();
        actix_web::rt::spawn(async move {
            let _ = session.ping(b"").await;
        });
    }
}

impl Actor for ViewerSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let hub = HubHandle::local(&self.config.metrics);
        let outbox = Rc::new(
            Outbox::new(
                self.id,
                self.viewer.as_ref().map(|v| v.user_id.clone()),
                ctx.address().recipient(),
                self.config.timing.max_lag,
            )
            .compressed(self.compressed),
        );
        hub.register(&self.room_id, Rc::clone(&outbox));
        self.outbox = Some(outbox);
        self.hub = Some(hub);
        self.start_writer(ctx);
        self.join(ctx);
        ctx.run_interval(self.config.timing.ping_every, |act, ctx| act.heartbeat(ctx));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(outbox) = &self.outbox {
            outbox.close();
        }
        if let Some(hub) = &self.hub {
            hub.unregister(&self.room_id, self.id);
            if let Some(room) = &self.room {
                room.do_send(LeaveRoom {
                    hub_id: hub.id,
                    compressed: self.compressed,
                });
            }
        }
    }
}

/// The writer task ended: the connection is gone or the outbox was closed.
#[derive(Message)]
#[rtype(result = "()")]
struct WriterEnded;

impl Handler<WriterEnded> for ViewerSession {
    type Result = ();

    fn handle(&mut self, _: WriterEnded, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<KickViewer> for ViewerSession {
    type Result = ();

    fn handle(&mut self, KickViewer(why): KickViewer, ctx: &mut Context<Self>) {
        let reason = match why {
            KickReason::TooSlow => "too far behind",
            KickReason::AccountDisabled => "account disabled",
        };
        log::debug!(
            "room {}: viewer {}: {reason}, closing",
            self.room_id,
            self.id
        );
        self.close(CloseCode::Policy, reason, ctx);
    }
}

/// Messages arrive with their fragments joined (RFC 6455 section 5.4: a text message may
/// come as a first frame and continuation frames).
impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for ViewerSession {
    fn handle(&mut self, msg: Result<AggregatedMessage, ProtocolError>, ctx: &mut Context<Self>) {
        self.last_heard = Instant::now();
        match msg {
            Ok(AggregatedMessage::Text(text)) => self.on_text(&text, ctx),
            Ok(AggregatedMessage::Binary(_)) => {
                self.strike("binary frames are not part of the protocol", ctx)
            }
            Ok(AggregatedMessage::Ping(bytes)) => self.pongs.answer(&self.session, bytes),
            Ok(AggregatedMessage::Pong(_)) => {}
            // The closing handshake: the peer's Close is answered with a Close echoing its
            // status code (RFC 6455 section 5.5.1), then the connection ends.
            Ok(AggregatedMessage::Close(reason)) => {
                let code = reason.map_or(CloseCode::Normal, |r| r.code);
                self.close(code, "", ctx)
            }
            Err(e) if is_oversize(&e) => self.close(CloseCode::Size, "frame too large", ctx),
            Err(e) => {
                log::debug!("room {}: viewer {}: {e}", self.room_id, self.id);
                self.close(CloseCode::Protocol, "protocol error", ctx)
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
