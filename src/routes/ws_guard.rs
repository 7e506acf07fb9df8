//! What every WebSocket upgrade goes through before its actor starts: the cap on sockets
//! per client address, a check of each frame's declared length before its payload is
//! buffered, and a guard that hangs the connection up once the actor has stopped.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::Stream;

use crate::conn::ConnSocket;
use crate::context::AppState;
use crate::error::ApiError;
use crate::limits::SocketSlot;

/// How long a stopped socket's connection gets to finish its closing handshake before it
/// is hung up (a peer that reads has long finished by then).
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Held by a socket's actor; dropping it gives the address's place back and, a moment
/// later, ends the TCP connection even if the peer never read the close frame.
pub struct SocketGuard {
    _slot: Option<SocketSlot>,
    conn: Option<Arc<ConnSocket>>,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            actix_web::rt::spawn(async move {
                actix_web::rt::time::sleep(CLOSE_GRACE).await;
                conn.hang_up();
            });
        }
    }
}

/// Takes a place for one more socket from the client's address (429 `028` past
/// `limits.ws_per_ip`), and wraps the request body so that frames declaring more than
/// `max_frame` bytes end the socket before their payload is read.
pub async fn admit(
    req: &HttpRequest,
    body: web::Payload,
    state: &AppState,
    max_frame: usize,
) -> Result<(web::Payload, SocketGuard), ApiError> {
    let slot = match state.limits.clients.of(req) {
        Some(addr) => Some(
            state
                .limits
                .sockets
                .try_open(addr)
                .ok_or(ApiError::SlowDown {
                    what: "open sockets from your address",
                    retry_after_secs: 5,
                })?,
        ),
        None => None,
    };
    let guarded = FrameGuard::new(body.into_inner(), max_frame as u64);
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guarded);
    let mut payload = Payload::from(boxed);
    let body = web::Payload::from_request(req, &mut payload)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("wrapping a socket's body: {e}")))?;
    let guard = SocketGuard {
        _slot: slot,
        conn: ConnSocket::of(req),
    };
    Ok((body, guard))
}

/// Reads the client's raw WebSocket bytes alongside the codec and fails with
/// `PayloadError::Overflow` as soon as a frame header declares more than `max` bytes.
struct FrameGuard {
    inner: Payload,
    max: u64,
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to pass.
    left: u64,
    failed: bool,
}

impl FrameGuard {
    fn new(inner: Payload, max: u64) -> Self {
        Self {
            inner,
            max,
            header: [0; 14],
            have: 0,
            left: 0,
            failed: false,
        }
    }

    /// Follows the frame boundaries through `chunk`; `false` when a frame is too large.
    fn inspect(&mut self, mut chunk: &[u8]) -> bool {
        while !chunk.is_empty() {
            if self.left > 0 {
                let skip = self.left.min(chunk.len() as u64);
                self.left -= skip;
                chunk = &chunk[skip as usize..];
                continue;
            }
            self.header[self.have] = chunk[0];
            self.have += 1;
            chunk = &chunk[1..];
            let Some(header) = Header::read(&self.header[..self.have]) else {
                continue;
            };
            // Judged as soon as the length is known, before the mask or any payload.
            if header.declared.is_some_and(|d| d > self.max) {
                return false;
            }
            if let (true, Some(declared)) = (self.have == header.len, header.declared) {
                self.left = declared;
                self.have = 0;
            }
        }
        true
    }
}

/// What the first bytes of a frame header say.
struct Header {
    /// The header's full length (2 to 14 bytes).
    len: usize,
    /// The payload length, once its bytes are there.
    declared: Option<u64>,
}

impl Header {
    /// `None` until the second byte is there.
    fn read(h: &[u8]) -> Option<Self> {
        let second = *h.get(1)?;
        let len_bytes = match second & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask_bytes = if second & 0x80 != 0 { 4 } else { 0 };
        let declared = match len_bytes {
            0 => Some(u64::from(second & 0x7f)),
            n => h
                .get(2..2 + n)
                .map(|bytes| bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))),
        };
        Some(Self {
            len: 2 + len_bytes + mask_bytes,
            declared,
        })
    }
}

impl Stream for FrameGuard {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                if self.inspect(&bytes) {
                    Poll::Ready(Some(Ok(bytes)))
                } else {
                    self.failed = true;
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(max: u64) -> FrameGuard {
        FrameGuard::new(Payload::None, max)
    }

    /// A masked client frame with `len` payload bytes.
    fn frame(len: usize) -> Vec<u8> {
        let mut f = vec![0x81];
        match len {
            0..=125 => f.push(0x80 | len as u8),
            126..=0xffff => {
                f.push(0x80 | 126);
                f.extend((len as u16).to_be_bytes());
            }
            _ => {
                f.push(0x80 | 127);
                f.extend((len as u64).to_be_bytes());
            }
        }
        f.extend([1, 2, 3, 4]);
        f.extend(std::iter::repeat_n(b'x', len));
        f
    }

    #[test]
    fn frames_within_the_limit_pass_even_when_split_byte_by_byte() {
        let mut g = guard(1000);
        let bytes: Vec<u8> = [frame(5), frame(300), frame(0), frame(1000)].concat();
        for b in bytes.chunks(1) {
            assert!(g.inspect(b));
        }
        assert_eq!((g.have, g.left), (0, 0));
    }

    #[test]
    fn a_declared_terabyte_is_refused_from_its_length_bytes_alone() {
        let mut g = guard(64 * 1024);
        let mut header = vec![0x82, 0x80 | 127];
        header.extend((1u64 << 40).to_be_bytes());
        assert!(!g.inspect(&header));
    }

    #[test]
    fn a_frame_one_byte_over_the_limit_is_refused_after_good_ones() {
        let mut g = guard(200);
        assert!(g.inspect(&frame(200)));
        assert!(!g.inspect(&frame(201)[..4]));
    }
}
