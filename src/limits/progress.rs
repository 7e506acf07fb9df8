//! Time-outs for bodies that stop moving (`stream.write_timeout_secs`).
//!
//! A body "moves" when at least `MIN_PROGRESS` bytes pass within the time-out (or it ends):
//! a client that trickles a byte every few seconds holds a connection, a permit or an
//! upload's lock as surely as one that sends nothing.
//! - Request bodies (uploads) are wrapped in `SlowBody`, which fails the read once the
//!   time-out passes without progress; the handler's error ends the request, and with it
//!   the upload's lock, so a resumable upload can be resumed at once.
//! - Response bodies (media) are not polled at all while the peer does not read, so a
//!   `ResponseWatch` task looks from outside: it frees the stream's permit and hangs up the
//!   connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::conn::ConnSocket;
use crate::media::limiter::StreamPermit;

/// Bytes that count as progress within one time-out.
pub const MIN_PROGRESS: u64 = 16 * 1024;

/// A request body that fails once `timeout` passes with less than `MIN_PROGRESS` read.
pub struct SlowBody<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    since_progress: u64,
}

impl<S> SlowBody<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            since_progress: 0,
        }
    }
}

impl<S> Stream for SlowBody<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                self.since_progress += bytes.len() as u64;
                if self.since_progress >= MIN_PROGRESS {
                    self.since_progress = 0;
                    let next = Instant::now() + self.timeout;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the body moved less than {} KiB in {} s",
                        MIN_PROGRESS / 1024,
                        self.timeout.as_secs()
                    ),
                ))))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

/// `payload` behind a `SlowBody`, as a `web::Payload` again (for multipart and the rest).
pub async fn slow_body(
    req: &HttpRequest,
    payload: web::Payload,
    timeout: Duration,
) -> web::Payload {
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(SlowBody::new(payload.into_inner(), timeout));
    let mut payload = Payload::from(boxed);
    web::Payload::from_request(req, &mut payload)
        .await
        .expect("taking a payload never fails")
}

/// Puts every request body behind a `SlowBody`, so a client that starts a body and stalls
/// (a JSON body, a form) is cut off after `timeout` instead of holding its connection and
/// handler. WebSocket upgrades are left alone: their body is the socket, quiet by nature.
pub fn stalled_bodies_end(mut req: ServiceRequest, timeout: Duration) -> ServiceRequest {
    use actix_web::http::header;
    let headers = req.headers();
    let upgrade = headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    // Most requests (every GET) have no body: nothing to watch, nothing to allocate.
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body && !upgrade {
        let payload = req.take_payload();
        let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(SlowBody::new(payload, timeout));
        req.set_payload(Payload::from(boxed));
    }
    req
}

/// What a response body and its watchdog share.
struct Shared {
    sent: AtomicU64,
    done: AtomicBool,
    permit: Mutex<Option<StreamPermit>>,
}

/// A media response body under watch: dropping it (the response ended) frees its permit at
/// once; a watchdog frees it and hangs the connection up when the peer stops reading.
pub struct ResponseWatch<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> ResponseWatch<S> {
    pub fn new(
        inner: S,
        permit: Option<StreamPermit>,
        conn: Option<Arc<ConnSocket>>,
        timeout: Duration,
    ) -> Self {
        let shared = Arc::new(Shared {
            sent: AtomicU64::new(0),
            done: AtomicBool::new(false),
            permit: Mutex::new(permit),
        });
        actix_web::rt::spawn(watch(Arc::clone(&shared), conn, timeout));
        Self { inner, shared }
    }
}

async fn watch(shared: Arc<Shared>, conn: Option<Arc<ConnSocket>>, timeout: Duration) {
    let tick = (timeout / 4).max(Duration::from_millis(100));
    let (mut mark, mut marked_at) = (0u64, Instant::now());
    loop {
        tokio::time::sleep(tick).await;
        if shared.done.load(Ordering::Acquire) {
            return;
        }
        let sent = shared.sent.load(Ordering::Acquire);
        if sent - mark >= MIN_PROGRESS {
            (mark, marked_at) = (sent, Instant::now());
        } else if marked_at.elapsed() >= timeout {
            log::debug!("a media response made no progress for {timeout:?}: hanging up");
            shared.permit.lock().expect("permit lock").take();
            if let Some(conn) = conn {
                conn.hang_up();
            }
            return;
        }
    }
}

impl<S> Drop for ResponseWatch<S> {
    fn drop(&mut self) {
        self.shared.done.store(true, Ordering::Release);
        self.shared.permit.lock().expect("permit lock").take();
    }
}

impl<S, E> Stream for ResponseWatch<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &next {
            self.shared
                .sent
                .fetch_add(bytes.len() as u64, Ordering::AcqRel);
        }
        next
    }
}
