//! `RoomRegistry`: one per node. Starts a `Room` on demand, on the rooms' own arbiter, and
//! forgets it when it stops (60 s after its last viewer left).

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use crate::metrics::RoomMetrics;
use crate::room::{GetOnline, Room, RoomConfig};
use crate::store::{DanmakuStore, DanmakuWriter};

/// The address of a room's actor, started if it is not running.
#[derive(Message)]
#[rtype(result = "Addr<Room>")]
pub struct GetRoom {
    /// The room's id.
    pub id: String,
}

/// The address of a room's actor if it is running.
#[derive(Message)]
#[rtype(result = "Option<Addr<Room>>")]
pub struct FindRoom {
    /// The room's id.
    pub id: String,
}

/// Online counts of these rooms (0 for rooms without an actor).
#[derive(Message)]
#[rtype(result = "HashMap<String, u64>")]
pub struct GetOnlineCounts {
    /// The rooms' ids.
    pub ids: Vec<String>,
}

/// A room's actor stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    /// The room's id.
    pub id: Arc<str>,
    /// The actor that stopped (a newer one may already run).
    pub addr: Addr<Room>,
}

pub struct RoomRegistry {
    rooms: HashMap<Arc<str>, Addr<Room>>,
    config: RoomConfig,
    store: Arc<dyn DanmakuStore>,
    writer: Addr<DanmakuWriter>,
    metrics: RoomMetrics,
    arbiter: ArbiterHandle,
}

impl RoomRegistry {
    /// Rooms run on `arbiter`; their messages are saved through `store` on a writer thread.
    pub fn new(
        config: RoomConfig,
        store: Arc<dyn DanmakuStore>,
        metrics: RoomMetrics,
        arbiter: ArbiterHandle,
    ) -> Self {
        let writer_store = Arc::clone(&store);
        let writer = SyncArbiter::start(1, move || DanmakuWriter {
            store: Arc::clone(&writer_store),
        });
        Self {
            rooms: HashMap::new(),
            config,
            store,
            writer,
            metrics,
            arbiter,
        }
    }
}

impl Actor for RoomRegistry {
    type Context = Context<Self>;
}

impl Handler<GetRoom> for RoomRegistry {
    type Result = MessageResult<GetRoom>;

    fn handle(&mut self, msg: GetRoom, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.rooms.get(msg.id.as_str()).filter(|a| a.connected()) {
            return MessageResult(addr.clone());
        }
        let id: Arc<str> = msg.id.into();
        let (config, store, writer, registry, metrics) = (
            self.config.clone(),
            Arc::clone(&self.store),
            self.writer.clone(),
            ctx.address(),
            self.metrics.clone(),
        );
        let room_id = Arc::clone(&id);
        let addr = Room::start_in_arbiter(&self.arbiter, move |_| {
            Room::new(room_id, config, store, writer, registry, metrics)
        });
        self.rooms.insert(id, addr.clone());
        MessageResult(addr)
    }
}

impl Handler<FindRoom> for RoomRegistry {
    type Result = Option<Addr<Room>>;

    fn handle(&mut self, msg: FindRoom, _: &mut Context<Self>) -> Self::Result {
        self.rooms
            .get(msg.id.as_str())
            .filter(|a| a.connected())
            .cloned()
    }
}

impl Handler<RoomStopped> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: RoomStopped, _: &mut Context<Self>) {
        if self.rooms.get(&msg.id).is_some_and(|a| *a == msg.addr) {
            self.rooms.remove(&msg.id);
        }
    }
}

/// Closes every connection of a user in every room on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DisconnectUserEverywhere {
    pub user_id: String,
}

impl Handler<DisconnectUserEverywhere> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: DisconnectUserEverywhere, _: &mut Context<Self>) {
        let each = crate::room::DisconnectUser {
            user_id: msg.user_id,
        };
        for room in self.rooms.values() {
            room.do_send(each.clone());
        }
    }
}

impl Handler<GetOnlineCounts> for RoomRegistry {
    type Result = ResponseFuture<HashMap<String, u64>>;

    fn handle(&mut self, msg: GetOnlineCounts, _: &mut Context<Self>) -> Self::Result {
        let rooms: Vec<(String, Option<Addr<Room>>)> = msg
            .ids
            .into_iter()
            .map(|id| {
                let addr = self.rooms.get(id.as_str()).cloned();
                (id, addr)
            })
            .collect();
        Box::pin(async move {
            let mut counts = HashMap::new();
            for (id, addr) in rooms {
                let online = match addr {
                    Some(addr) => addr.send(GetOnline).await.unwrap_or(0),
                    None => 0,
                };
                counts.insert(id, online);
            }
            counts
        })
    }
}
