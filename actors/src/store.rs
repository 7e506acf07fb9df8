//! Persistence for rooms, passed in as a trait (this crate holds no SQL), and the
//! `DanmakuWriter` that saves accepted messages in batches on its own thread, retrying while
//! the database is out of reach.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;

use crate::metrics::RoomMetrics;
use crate::port::PortResult;
use crate::protocol::Item;

/// An accepted message with its author's id, as it is stored.
#[derive(Debug, Clone)]
pub struct StoredItem {
    pub item: Item,
    pub author_id: String,
    /// Acceptance time in Unix microseconds, strictly increasing within a room, so that
    /// stored messages sort in the order the room accepted them.
    pub accepted_us: i64,
}

/// What rooms need from storage. Every method blocks; call them off the actor threads.
pub trait DanmakuStore: Send + Sync + 'static {
    /// Saves a window's messages for a room in one transaction; saving the same window
    /// again after it was saved changes nothing.
    fn save(&self, room_id: &str, items: &[StoredItem]) -> PortResult<()>;
    /// The newest `limit` messages of a room, oldest first.
    fn recent(&self, room_id: &str, limit: usize) -> PortResult<Vec<Item>>;
    /// Users banned from a room, with the end of each ban.
    fn active_bans(&self, room_id: &str) -> PortResult<Vec<(String, SystemTime)>>;
    /// What a room's moderators set: its words, its slow mode, who they are.
    fn rules(&self, room_id: &str) -> PortResult<RoomRules>;
    /// The site's filter words, which hold in every room.
    fn global_words(&self) -> PortResult<Vec<String>>;
}

/// A room's own rules, as its moderators set them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomRules {
    /// Its filter words (the site's hold as well).
    pub words: Vec<String>,
    /// One message per user per this long; zero is off.
    pub slow_mode: Duration,
    /// The user ids of its owner and the moderators the owner named.
    pub moderators: Vec<String>,
}

/// Saves one window's messages.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SaveDanmaku {
    /// The room they were posted in.
    pub room_id: String,
    /// The window's messages, in order.
    pub items: Vec<StoredItem>,
}

/// How long and how much the writer keeps while the database is out of reach.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Messages waiting at most; beyond, the oldest windows are given up.
    pub max_pending: usize,
    /// The first wait after a failure; it doubles up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// A window still unsaved after this long is given up.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_pending: 100_000,
            first_wait: Duration::from_millis(200),
            max_wait: Duration::from_secs(5),
            give_up_after: Duration::from_secs(600),
        }
    }
}

/// Writes windows through a `DanmakuStore` on its own arbiter, so the database waits on its
/// own thread, never on a room's. Viewers have seen an accepted message already, so a
/// failed save is kept and retried with back-off (in order, within `RetryPolicy`'s bounds);
/// what is finally given up is counted in `roomcast_danmaku_save_dropped_total`.
pub struct DanmakuWriter {
    store: Arc<dyn DanmakuStore>,
    metrics: RoomMetrics,
    policy: RetryPolicy,
    pending: VecDeque<Pending>,
    pending_items: usize,
    /// The current wait between attempts; `None` while saves succeed.
    wait: Option<Duration>,
    retry: Option<SpawnHandle>,
}

struct Pending {
    save: SaveDanmaku,
    since: Instant,
}

impl DanmakuWriter {
    pub fn new(store: Arc<dyn DanmakuStore>, metrics: RoomMetrics, policy: RetryPolicy) -> Self {
        Self {
            store,
            metrics,
            policy,
            pending: VecDeque::new(),
            pending_items: 0,
            wait: None,
            retry: None,
        }
    }

    /// Saves waiting windows in order until one fails; then waits and tries again.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        while let Some(next) = self.pending.front() {
            match self.store.save(&next.save.room_id, &next.save.items) {
                Ok(()) => {
                    if self.wait.take().is_some() {
                        log::info!("danmaku are saved again");
                    }
                    self.pop_front();
                }
                Err(e) if e.is_transient() && next.since.elapsed() < self.policy.give_up_after => {
                    if self.wait.is_none() {
                        log::warn!(
                            "saving danmaku failed, retrying ({} waiting): {}",
                            self.pending_items,
                            e
                        );
                    }
                    let wait = self.wait.map_or(self.policy.first_wait, |w| {
                        (w * 2).min(self.policy.max_wait)
                    });
                    self.wait = Some(wait);
                    self.retry = Some(ctx.run_later(wait, |writer, ctx| {
                        writer.retry = None;
                        writer.flush(ctx);
                    }));
                    return;
                }
                Err(e) => {
                    let room = next.save.room_id.clone();
                    let dropped = self.pop_front();
                    log::error!("room {room}: giving up saving {dropped} danmaku: {e}");
                    self.metrics.save_dropped.inc_by(dropped as u64);
                }
            }
        }
    }

    fn pop_front(&mut self) -> usize {
        let n = self.pending.pop_front().map_or(0, |p| p.save.items.len());
        self.pending_items -= n;
        self.metrics.save_pending.set(self.pending_items as i64);
        n
    }
}

impl Actor for DanmakuWriter {
    type Context = Context<Self>;
}

impl Handler<SaveDanmaku> for DanmakuWriter {
    type Result = ();

    fn handle(&mut self, msg: SaveDanmaku, ctx: &mut Context<Self>) {
        self.pending_items += msg.items.len();
        self.pending.push_back(Pending {
            save: msg,
            since: Instant::now(),
        });
        // Bounded memory: while the database is away, the oldest windows make room.
        while self.pending_items > self.policy.max_pending && self.pending.len() > 1 {
            let dropped = self.pop_front();
            self.metrics.save_dropped.inc_by(dropped as u64);
        }
        self.metrics.save_pending.set(self.pending_items as i64);
        if self.retry.is_none() {
            self.flush(ctx);
        }
    }
}
