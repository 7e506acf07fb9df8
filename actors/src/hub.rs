//! `WorkerHub`: one per worker thread; owns the outboxes of the viewers living on it.
//!
//! A room sends each frame once to every hub that has its viewers: one cross-thread message
//! per worker, not per viewer. The hub then pushes the same bytes (a reference-counted
//! `ByteString`) into each viewer's bounded `Outbox`; a viewer that asked for compressed
//! frames gets the batch the room deflated once, as a binary frame. Viewers and their hub
//! share one thread, so outboxes are plain `Rc<RefCell<..>>` state.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::Notify;

use crate::metrics::RoomMetrics;

/// Most frames a viewer may have queued; past it the oldest droppable frames go.
pub const MAX_QUEUED_FRAMES: usize = 64;
/// Most bytes a viewer may have queued; past it the oldest droppable frames go.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// Asks a viewer's connection to close, and why.
#[derive(Message)]
#[rtype(result = "()")]
pub struct KickViewer(pub KickReason);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    /// It fell too far behind.
    TooSlow,
    /// Its account was disabled.
    AccountDisabled,
}

/// Closes every connection of a user in a room on this worker (their account was disabled).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DisconnectUserHere {
    pub room: Arc<str>,
    pub user_id: String,
}

/// A frame as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireFrame {
    Text(ByteString),
    /// Raw DEFLATE of a text frame (for viewers that asked for compressed frames).
    Binary(Bytes),
}

impl WireFrame {
    pub fn len(&self) -> usize {
        match self {
            WireFrame::Text(t) => t.len(),
            WireFrame::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<ByteString> for WireFrame {
    fn from(text: ByteString) -> Self {
        WireFrame::Text(text)
    }
}

impl From<String> for WireFrame {
    fn from(text: String) -> Self {
        WireFrame::Text(text.into())
    }
}

struct Queued {
    frame: WireFrame,
    /// Batches and online counts may be dropped for a slow viewer; hello, errors and
    /// retractions may not.
    droppable: bool,
}

#[derive(Default)]
struct OutboxState {
    queue: VecDeque<Queued>,
    bytes: usize,
    closed: bool,
}

/// A viewer's bounded queue of outgoing frames.
pub struct Outbox {
    pub viewer_id: u64,
    pub user_id: Option<String>,
    /// The viewer asked for compressed `hello` and `batch` frames.
    pub compressed: bool,
    state: RefCell<OutboxState>,
    notify: Notify,
    kick: Recipient<KickViewer>,
    kicked: Cell<bool>,
    /// When the connection last made progress (a write finished, or work arrived while it
    /// was idle): dropping old frames keeps the queue short, so a stalled connection shows
    /// here, not in the queue's age.
    last_progress: Cell<Instant>,
    /// The writer has taken a frame and is still writing it.
    in_flight: Cell<bool>,
    /// A viewer with frames waiting whose connection took none this long is disconnected.
    max_lag: Duration,
}

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
pub struct Pushed {
    pub dropped: usize,
}

impl Outbox {
    pub fn new(
        viewer_id: u64,
        user_id: Option<String>,
        kick: Recipient<KickViewer>,
        max_lag: Duration,
    ) -> Self {
        Self {
            max_lag,
            viewer_id,
            user_id,
            compressed: false,
            state: RefCell::default(),
            notify: Notify::new(),
            kick,
            kicked: Cell::new(false),
            last_progress: Cell::new(Instant::now()),
            in_flight: Cell::new(false),
        }
    }

    /// The viewer gets compressed `hello` and `batch` frames.
    pub fn compressed(mut self, on: bool) -> Self {
        self.compressed = on;
        self
    }

    /// Queues a frame, dropping the oldest droppable frames when over the limits, and asks
    /// the connection to close when the viewer is too far behind.
    pub fn push(&self, frame: impl Into<WireFrame>, droppable: bool) -> Pushed {
        let frame = frame.into();
        let now = Instant::now();
        let mut dropped = 0;
        let mut st = self.state.borrow_mut();
        if st.closed {
            return Pushed { dropped: 0 };
        }
        if st.queue.is_empty() && !self.in_flight.get() {
            // The stall clock runs only while something waits.
            self.last_progress.set(now);
        }
        st.bytes += frame.len();
        st.queue.push_back(Queued { frame, droppable });
        while st.queue.len() > MAX_QUEUED_FRAMES || st.bytes > MAX_QUEUED_BYTES {
            let Some(pos) = st.queue.iter().position(|q| q.droppable) else {
                break;
            };
            let old = st.queue.remove(pos).expect("position is in range");
            st.bytes -= old.frame.len();
            dropped += 1;
        }
        let stalled = now.saturating_duration_since(self.last_progress.get()) > self.max_lag;
        let too_slow = st.bytes > MAX_QUEUED_BYTES || stalled;
        drop(st);
        if too_slow {
            self.kick();
        }
        self.notify.notify_one();
        Pushed { dropped }
    }

    /// The next frame to write, waiting for one; `None` once the outbox is closed.
    pub async fn next(&self) -> Option<WireFrame> {
        loop {
            {
                let mut st = self.state.borrow_mut();
                if st.closed {
                    return None;
                }
                if let Some(q) = st.queue.pop_front() {
                    st.bytes -= q.frame.len();
                    self.in_flight.set(true);
                    return Some(q.frame);
                }
            }
            self.notify.notified().await;
        }
    }

    /// The writer finished writing the frame it took.
    pub fn written(&self) {
        self.in_flight.set(false);
        self.last_progress.set(Instant::now());
    }

    /// How long the connection has had frames to write without finishing any.
    pub fn lag(&self) -> Duration {
        if self.state.borrow().queue.is_empty() && !self.in_flight.get() {
            Duration::ZERO
        } else {
            self.last_progress.get().elapsed()
        }
    }

    /// It has had frames to write without finishing any for longer than it may.
    pub fn is_too_far_behind(&self) -> bool {
        self.lag() > self.max_lag
    }

    pub fn queued(&self) -> (usize, usize) {
        let st = self.state.borrow();
        (st.queue.len(), st.bytes)
    }

    /// Stops accepting frames and wakes the writer so it ends.
    pub fn close(&self) {
        let mut st = self.state.borrow_mut();
        st.closed = true;
        st.queue.clear();
        st.bytes = 0;
        drop(st);
        self.notify.notify_one();
    }

    fn kick(&self) {
        self.end(KickReason::TooSlow);
    }

    /// Asks the connection to close (once).
    pub fn end(&self, why: KickReason) {
        if !self.kicked.replace(true) {
            self.kick.do_send(KickViewer(why));
        }
    }
}

/// The viewers of one room on this worker.
#[derive(Default)]
struct RoomViewers {
    /// Welcomed viewers: they receive the room's frames.
    active: Vec<Rc<Outbox>>,
    /// Registered, waiting for their `hello` (sent through this hub to keep order).
    pending: Vec<Rc<Outbox>>,
}

type Rooms = Rc<RefCell<HashMap<Arc<str>, RoomViewers>>>;

/// Sends one frame to every welcomed viewer of a room on this worker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverFrame {
    /// The room.
    pub room: Arc<str>,
    /// The serialised frame, shared by every viewer.
    pub frame: ByteString,
    /// The same frame deflated once, for the viewers that asked for compressed frames
    /// (`None` when none did, or the frame is not a batch).
    pub deflated: Option<Bytes>,
    /// Whether a slow viewer may lose it.
    pub droppable: bool,
    /// When the oldest message in the frame was accepted, for the latency metric.
    pub since: Option<Instant>,
}

/// Sends a frame to the viewers of a room signed in as one user (moderation notices).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverToUser {
    /// The room.
    pub room: Arc<str>,
    /// The user's id.
    pub user_id: String,
    /// The serialised frame.
    pub frame: ByteString,
}

/// Welcomes a viewer: its `hello` goes out and it starts receiving the room's frames.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WelcomeViewer {
    /// The room.
    pub room: Arc<str>,
    /// The viewer.
    pub viewer_id: u64,
    /// Its hello frame.
    pub hello: ByteString,
}

/// The worker's hub. Start it through `HubHandle::local()`.
pub struct WorkerHub {
    rooms: Rooms,
    metrics: RoomMetrics,
}

impl Actor for WorkerHub {
    type Context = Context<Self>;
}

impl Handler<DeliverFrame> for WorkerHub {
    type Result = ();

    fn handle(&mut self, msg: DeliverFrame, _: &mut Context<Self>) {
        let rooms = self.rooms.borrow();
        let Some(viewers) = rooms.get(&msg.room) else {
            return;
        };
        let mut dropped = 0;
        for outbox in &viewers.active {
            let frame = match &msg.deflated {
                Some(deflated) if outbox.compressed => WireFrame::Binary(deflated.clone()),
                _ => WireFrame::Text(msg.frame.clone()),
            };
            dropped += outbox.push(frame, msg.droppable).dropped;
        }
        self.metrics.frames_sent.inc_by(viewers.active.len() as u64);
        if dropped > 0 {
            self.metrics.frames_dropped.inc_by(dropped as u64);
        }
        if let Some(since) = msg.since {
            self.metrics
                .delivery_latency
                .observe(since.elapsed().as_secs_f64());
        }
    }
}

impl Handler<DeliverToUser> for WorkerHub {
    type Result = ();

    fn handle(&mut self, msg: DeliverToUser, _: &mut Context<Self>) {
        let rooms = self.rooms.borrow();
        if let Some(viewers) = rooms.get(&msg.room) {
            for outbox in viewers
                .active
                .iter()
                .filter(|o| o.user_id.as_deref() == Some(&msg.user_id))
            {
                outbox.push(msg.frame.clone(), false);
            }
        }
    }
}

impl Handler<DisconnectUserHere> for WorkerHub {
    type Result = ();

    fn handle(&mut self, msg: DisconnectUserHere, _: &mut Context<Self>) {
        let rooms = self.rooms.borrow();
        if let Some(viewers) = rooms.get(&msg.room) {
            for outbox in viewers
                .active
                .iter()
                .chain(viewers.pending.iter())
                .filter(|o| o.user_id.as_deref() == Some(&msg.user_id))
            {
                outbox.end(KickReason::AccountDisabled);
            }
        }
    }
}

impl Handler<WelcomeViewer> for WorkerHub {
    type Result = ();

    fn handle(&mut self, msg: WelcomeViewer, _: &mut Context<Self>) {
        let mut rooms = self.rooms.borrow_mut();
        let Some(viewers) = rooms.get_mut(&msg.room) else {
            return;
        };
        if let Some(pos) = viewers
            .pending
            .iter()
            .position(|o| o.viewer_id == msg.viewer_id)
        {
            let outbox = viewers.pending.swap_remove(pos);
            let hello = if outbox.compressed {
                WireFrame::Binary(crate::compress::deflate(&msg.hello))
            } else {
                WireFrame::Text(msg.hello)
            };
            outbox.push(hello, false);
            viewers.active.push(outbox);
        }
    }
}

static NEXT_HUB_ID: AtomicUsize = AtomicUsize::new(1);

/// This thread's hub: its address for rooms, and its shared state for viewers.
#[derive(Clone)]
pub struct HubHandle {
    pub id: usize,
    pub addr: Addr<WorkerHub>,
    rooms: Rooms,
}

thread_local! {
    static LOCAL_HUB: RefCell<Option<HubHandle>> = const { RefCell::new(None) };
}

impl HubHandle {
    /// The hub of the current worker thread, started on first use. Must be called from
    /// inside an actix arbiter.
    pub fn local(metrics: &RoomMetrics) -> HubHandle {
        LOCAL_HUB.with(|cell| {
            let mut slot = cell.borrow_mut();
            if let Some(hub) = slot.as_ref().filter(|h| h.addr.connected()) {
                return hub.clone();
            }
            let rooms = Rooms::default();
            let addr = WorkerHub {
                rooms: Rc::clone(&rooms),
                metrics: metrics.clone(),
            }
            .start();
            let hub = HubHandle {
                id: NEXT_HUB_ID.fetch_add(1, Ordering::Relaxed),
                addr,
                rooms,
            };
            *slot = Some(hub.clone());
            hub
        })
    }

    /// Registers a viewer of `room`; it receives frames once the room welcomes it.
    pub fn register(&self, room: &Arc<str>, outbox: Rc<Outbox>) {
        self.rooms
            .borrow_mut()
            .entry(Arc::clone(room))
            .or_default()
            .pending
            .push(outbox);
    }

    /// Removes a viewer, welcomed or not.
    pub fn unregister(&self, room: &Arc<str>, viewer_id: u64) {
        let mut rooms = self.rooms.borrow_mut();
        if let Some(viewers) = rooms.get_mut(room) {
            viewers.active.retain(|o| o.viewer_id != viewer_id);
            viewers.pending.retain(|o| o.viewer_id != viewer_id);
            if viewers.active.is_empty() && viewers.pending.is_empty() {
                rooms.remove(room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_LAG: Duration = Duration::from_secs(5);

    fn text(t: &str) -> WireFrame {
        WireFrame::Text(t.to_string().into())
    }

    struct Counter(Rc<Cell<u32>>);

    impl Actor for Counter {
        type Context = Context<Self>;
    }

    impl Handler<KickViewer> for Counter {
        type Result = ();
        fn handle(&mut self, _: KickViewer, _: &mut Context<Self>) {
            self.0.set(self.0.get() + 1);
        }
    }

    fn outbox() -> (Outbox, Rc<Cell<u32>>) {
        let kicks = Rc::new(Cell::new(0));
        let addr = Counter(Rc::clone(&kicks)).start();
        (Outbox::new(1, None, addr.recipient(), MAX_LAG), kicks)
    }

    #[actix_rt::test]
    async fn a_full_outbox_drops_its_oldest_batches_and_keeps_the_rest() {
        let (out, _) = outbox();
        out.push("hello".to_string(), false);
        let mut dropped = 0;
        for i in 0..100 {
            dropped += out.push(format!("batch {i}"), true).dropped;
        }
        assert_eq!(dropped, 100 + 1 - MAX_QUEUED_FRAMES);
        assert_eq!(out.queued().0, MAX_QUEUED_FRAMES);
        assert_eq!(
            out.next().await.unwrap(),
            text("hello"),
            "hello is never dropped"
        );
        let first = 100 - (MAX_QUEUED_FRAMES - 1);
        assert_eq!(out.next().await.unwrap(), text(&format!("batch {first}")));
    }

    #[actix_rt::test]
    async fn a_write_that_never_finishes_counts_as_a_stall() {
        let (out, kicks) = outbox();
        out.push("a".to_string(), true);
        assert_eq!(out.next().await.unwrap(), text("a"));
        // The writer holds "a" and its write never completes; the queue is empty.
        out.last_progress
            .set(Instant::now() - MAX_LAG - Duration::from_millis(1));
        out.push("b".to_string(), true);
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(kicks.get(), 1);
        assert!(out.lag() > MAX_LAG);
    }

    #[actix_rt::test]
    async fn queued_bytes_stay_under_the_cap() {
        let (out, _) = outbox();
        let big: ByteString = "x".repeat(300 * 1024).into();
        for _ in 0..10 {
            out.push(big.clone(), true);
        }
        assert!(out.queued().1 <= MAX_QUEUED_BYTES);
    }

    #[actix_rt::test]
    async fn a_stalled_viewer_is_kicked_once() {
        let (out, kicks) = outbox();
        out.push("a".to_string(), true);
        out.last_progress
            .set(Instant::now() - MAX_LAG - Duration::from_millis(1));
        out.push("b".to_string(), true);
        out.push("c".to_string(), true);
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(kicks.get(), 1);
    }

    #[actix_rt::test]
    async fn a_viewer_idle_for_long_is_not_kicked_by_the_next_frame() {
        let (out, kicks) = outbox();
        out.last_progress
            .set(Instant::now() - Duration::from_secs(600));
        out.push("after a quiet hour".to_string(), true);
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(kicks.get(), 0);
        assert!(out.lag() < Duration::from_secs(1));
    }
}
