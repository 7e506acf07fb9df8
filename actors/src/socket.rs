//! What both WebSocket actors (danmaku and video) share to stay bounded against a peer
//! that floods or never reads: one pong in flight at most, a clock on stalled writes, and
//! how to tell an oversized frame from other protocol errors.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::error::PayloadError;
use actix_ws::{ProtocolError, Session};
use bytes::Bytes;

/// How a socket keeps its peer honest. Settings (`ws.*`), so tests can make them short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketTiming {
    /// A ping goes out this often.
    pub ping_every: Duration,
    /// A peer that sent nothing (not even a pong) this long is dropped.
    pub silence_limit: Duration,
    /// A write (pong or frame) that has not gone out this long means the peer is not
    /// reading: the socket is closed.
    pub stall_limit: Duration,
    /// A danmaku viewer with frames waiting whose connection took none this long is
    /// disconnected (older frames are dropped first, so this is how far behind it is).
    pub max_lag: Duration,
}

impl Default for SocketTiming {
    fn default() -> Self {
        Self {
            ping_every: Duration::from_secs(10),
            silence_limit: Duration::from_secs(30),
            stall_limit: Duration::from_secs(20),
            max_lag: Duration::from_secs(5),
        }
    }
}

/// Something the HTTP edge hands to a socket's actor to hold until it stops (a place in the
/// per-address cap, a handle that hangs the connection up).
pub type ConnectionGuard = Box<dyn std::any::Any>;

/// Answers pings with at most one pong in flight: a ping that arrives while the last pong
/// is still waiting for the socket is not answered (RFC 6455 allows answering only the
/// latest), so a ping flood parks no memory.
#[derive(Default)]
pub struct PongGate {
    /// When the pong in flight was queued; `None` when there is none.
    pending_since: Rc<Cell<Option<Instant>>>,
}

impl PongGate {
    pub fn answer(&self, session: &Session, payload: Bytes) {
        if self.pending_since.get().is_some() {
            return;
        }
        self.pending_since.set(Some(Instant::now()));
        let pending = Rc::clone(&self.pending_since);
        let mut session = session.clone();
        actix_web::rt::spawn(async move {
            let _ = session.pong(&payload).await;
            pending.set(None);
        });
    }

    /// True when a pong has waited longer than `limit`: the peer does not read.
    pub fn stalled(&self, limit: Duration) -> bool {
        self.pending_since
            .get()
            .is_some_and(|since| since.elapsed() > limit)
    }
}

/// True when the error means a frame larger than the socket accepts (declared or read).
pub fn is_oversize(e: &ProtocolError) -> bool {
    match e {
        ProtocolError::Overflow => true,
        ProtocolError::Io(io) => {
            io.get_ref()
                .and_then(|inner| inner.downcast_ref::<PayloadError>())
                .is_some_and(|p| matches!(p, PayloadError::Overflow))
                // A fragmented message whose joined size passes the limit.
                || io.to_string().contains("maximum continuation size")
        }
        _ => false,
    }
}
