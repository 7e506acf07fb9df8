//! Persistence for rooms, passed in as a trait (this crate holds no SQL), and the
//! `DanmakuWriter` that saves accepted messages in batches on its own thread.

use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;

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
    /// Saves a window's messages for a room in one transaction.
    fn save(&self, room_id: &str, items: &[StoredItem]) -> Result<(), String>;
    /// The newest `limit` messages of a room, oldest first.
    fn recent(&self, room_id: &str, limit: usize) -> Result<Vec<Item>, String>;
    /// Users banned from a room, with the end of each ban.
    fn active_bans(&self, room_id: &str) -> Result<Vec<(String, SystemTime)>, String>;
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

/// Writes batches through a `DanmakuStore`; runs in a `SyncArbiter` so the database waits
/// on its own thread, never on a room's.
pub struct DanmakuWriter {
    pub store: Arc<dyn DanmakuStore>,
}

impl Actor for DanmakuWriter {
    type Context = SyncContext<Self>;
}

impl Handler<SaveDanmaku> for DanmakuWriter {
    type Result = ();

    fn handle(&mut self, msg: SaveDanmaku, _: &mut SyncContext<Self>) {
        if let Err(e) = self.store.save(&msg.room_id, &msg.items) {
            log::error!(
                "room {}: saving {} danmaku failed: {e}",
                msg.room_id,
                msg.items.len()
            );
        }
    }
}
