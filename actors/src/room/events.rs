//! The room among nodes: what it tells the same room elsewhere on `{prefix}.room.{id}`,
//! and how it takes what they tell it (messages merged into its window unless stale,
//! retractions, bans and
//! their lifting, changed rules).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::window::Pending;
use super::Room;
use crate::bus::{Bus, BusMessage};
use crate::protocol::Item;

/// Another node's message accepted longer ago than this is stale when it arrives (clocks
/// of nodes are expected to agree within a second or so).
pub const STALE_REMOTE: Duration = Duration::from_secs(5);

/// What a room tells the same room on other nodes, on `{prefix}.room.{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A message accepted (and saved) by `node`.
    Danmaku {
        node: String,
        item: Item,
        /// Its author's user id: every node counts it against the author's rate, so
        /// sockets on several nodes share one limit (empty from nodes that predate it).
        #[serde(default)]
        author_id: String,
    },
    Retract {
        node: String,
        ids: Vec<String>,
    },
    Ban {
        node: String,
        user_id: String,
        /// Unix milliseconds.
        until_ms: u64,
    },
    Unban {
        node: String,
        user_id: String,
    },
    /// The room's rules changed: read them again.
    Rules {
        node: String,
    },
}

/// Sends `event` to the room `room_id` on the other nodes (nothing on the local bus).
pub fn publish(bus: &Bus, room_id: &str, event: &RoomEvent) {
    if bus.is_shared() {
        let payload = serde_json::to_vec(event).expect("room events always serialise");
        bus.publish(bus.subject(&format!("room.{room_id}")), payload.into());
    }
}

impl Handler<BusMessage> for Room {
    type Result = ();

    fn handle(&mut self, msg: BusMessage, ctx: &mut Context<Self>) {
        let event: RoomEvent = match serde_json::from_slice(&msg.payload) {
            Ok(e) => e,
            Err(e) => {
                log::warn!("room {}: unreadable bus event: {e}", self.id);
                return;
            }
        };
        match event {
            RoomEvent::Danmaku {
                node,
                item,
                author_id,
            } if node != self.bus.node() => {
                // A message held up by a bus outage arrives late and in a burst; shown now it
                // would pretend to be new, so it is dropped and counted.
                let now_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                if now_ms - item.at > STALE_REMOTE.as_millis() as i64 {
                    self.metrics.stale_dropped.inc();
                    return;
                }
                if !author_id.is_empty() {
                    self.flood.count_elsewhere(&author_id, Instant::now());
                    self.slow.sent(&author_id, Instant::now());
                }
                self.push_to_window(Pending::Remote(item), ctx);
            }
            RoomEvent::Retract { node, ids } if node != self.bus.node() => self.retract(ids),
            RoomEvent::Ban {
                node,
                user_id,
                until_ms,
            } if node != self.bus.node() => {
                self.ban(user_id, UNIX_EPOCH + Duration::from_millis(until_ms));
            }
            RoomEvent::Unban { node, user_id } if node != self.bus.node() => self.unban(user_id),
            RoomEvent::Rules { node } if node != self.bus.node() => {
                ctx.spawn(self.reload_rules());
            }
            _ => {}
        }
    }
}
