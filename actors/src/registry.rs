//! `RoomRegistry`: one per node. Starts a `Room` on demand, on the rooms' own arbiter, and
//! forgets it when it stops (60 s after its last viewer left).

use std::collections::HashMap;
use std::sync::Arc;

use std::time::{SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use crate::bus::Bus;
use crate::filter::WordFilter;
use crate::metrics::RoomMetrics;
use crate::room::{
    BanUser, GetOnline, ReloadRules, RetractDanmaku, Room, RoomConfig, RoomEvent, RoomStopped,
    SetGlobalFilter, UnbanUser,
};
use crate::store::{DanmakuStore, DanmakuWriter, RetryPolicy};
use crate::view::{self, NodeEvent, SharedView};

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

/// Online counts of these rooms over every live node.
#[derive(Message)]
#[rtype(result = "HashMap<String, u64>")]
pub struct GetOnlineCounts {
    /// The rooms' ids.
    pub ids: Vec<String>,
}

pub struct RoomRegistry {
    rooms: HashMap<Arc<str>, Addr<Room>>,
    config: RoomConfig,
    store: Arc<dyn DanmakuStore>,
    writer: Addr<DanmakuWriter>,
    metrics: RoomMetrics,
    arbiter: ArbiterHandle,
    bus: Bus,
    view: SharedView,
    /// The site's filter words, for every room on this node.
    global_filter: Arc<WordFilter>,
    /// Counts reloads of the site's words, so that only the latest one is applied.
    filter_generation: u64,
}

impl RoomRegistry {
    /// Rooms run on `arbiter`; their messages are saved through `store` on a writer thread.
    /// Rooms talk to other nodes through `bus`; `view` holds what the other nodes report.
    pub fn new(
        config: RoomConfig,
        store: Arc<dyn DanmakuStore>,
        metrics: RoomMetrics,
        arbiter: ArbiterHandle,
        bus: Bus,
        view: SharedView,
    ) -> Self {
        let writer_store = Arc::clone(&store);
        let writer_metrics = metrics.clone();
        let writer = DanmakuWriter::start_in_arbiter(&Arbiter::new().handle(), move |_| {
            DanmakuWriter::new(writer_store, writer_metrics, RetryPolicy::default())
        });
        Self {
            rooms: HashMap::new(),
            config,
            store,
            writer,
            metrics,
            arbiter,
            bus,
            view,
            global_filter: Arc::default(),
            filter_generation: 0,
        }
    }
}

impl Actor for RoomRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.notify(ReloadGlobalFilter { from_bus: true });
    }
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
        let (bus, view) = (self.bus.clone(), Arc::clone(&self.view));
        let global_filter = Arc::clone(&self.global_filter);
        let room_id = Arc::clone(&id);
        let addr = Room::start_in_arbiter(&self.arbiter, move |_| {
            Room::new(
                room_id,
                config,
                store,
                writer,
                registry.recipient(),
                metrics,
            )
            .on_bus(bus, view)
            .with_global_filter(global_filter)
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

/// Closes every connection of a user in every room on this node and, unless the request
/// came from another node, on every other node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DisconnectUserEverywhere {
    pub user_id: String,
    /// Another node sent it: act here only.
    pub from_bus: bool,
}

impl Handler<DisconnectUserEverywhere> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: DisconnectUserEverywhere, _: &mut Context<Self>) {
        if !msg.from_bus {
            view::publish(
                &self.bus,
                &NodeEvent::UserDisabled {
                    node: self.bus.node().to_string(),
                    user_id: msg.user_id.clone(),
                },
            );
        }
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
        let view = Arc::clone(&self.view);
        Box::pin(async move {
            let mut counts = HashMap::new();
            for (id, addr) in rooms {
                let local = match addr {
                    Some(addr) => addr.send(GetOnline).await.unwrap_or(0),
                    None => 0,
                };
                let remote = view::read(&view).remote_online(&id);
                counts.insert(id, local + remote);
            }
            counts
        })
    }
}

/// This node's own online count per room, for its heartbeat (rooms with none left out).
#[derive(Message)]
#[rtype(result = "HashMap<String, u64>")]
pub struct LocalCounts;

impl Handler<LocalCounts> for RoomRegistry {
    type Result = ResponseFuture<HashMap<String, u64>>;

    fn handle(&mut self, _: LocalCounts, _: &mut Context<Self>) -> Self::Result {
        let rooms: Vec<(Arc<str>, Addr<Room>)> = self
            .rooms
            .iter()
            .map(|(id, addr)| (Arc::clone(id), addr.clone()))
            .collect();
        Box::pin(async move {
            let mut counts = HashMap::new();
            for (id, addr) in rooms {
                match addr.send(GetOnline).await {
                    Ok(n) if n > 0 => {
                        counts.insert(id.to_string(), n);
                    }
                    _ => {}
                }
            }
            counts
        })
    }
}

/// Removes messages from a room on every node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetractEverywhere {
    pub room: String,
    pub ids: Vec<String>,
}

impl Handler<RetractEverywhere> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: RetractEverywhere, _: &mut Context<Self>) {
        if let Some(room) = self.rooms.get(msg.room.as_str()) {
            room.do_send(RetractDanmaku {
                ids: msg.ids.clone(),
            });
        }
        let event = RoomEvent::Retract {
            node: self.bus.node().to_string(),
            ids: msg.ids,
        };
        crate::room::publish(&self.bus, &msg.room, &event);
    }
}

/// Mutes a user in a room on every node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BanEverywhere {
    pub room: String,
    pub user_id: String,
    pub until: SystemTime,
}

impl Handler<BanEverywhere> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: BanEverywhere, _: &mut Context<Self>) {
        if let Some(room) = self.rooms.get(msg.room.as_str()) {
            room.do_send(BanUser {
                user_id: msg.user_id.clone(),
                until: msg.until,
            });
        }
        let until_ms = msg
            .until
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let event = RoomEvent::Ban {
            node: self.bus.node().to_string(),
            user_id: msg.user_id,
            until_ms,
        };
        crate::room::publish(&self.bus, &msg.room, &event);
    }
}

/// Lifts a user's ban or mute in a room on every node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnbanEverywhere {
    pub room: String,
    pub user_id: String,
}

impl Handler<UnbanEverywhere> for RoomRegistry {
    type Result = ();

    fn handle(&mut self, msg: UnbanEverywhere, _: &mut Context<Self>) {
        if let Some(room) = self.rooms.get(msg.room.as_str()) {
            room.do_send(UnbanUser {
                user_id: msg.user_id.clone(),
            });
        }
        let event = RoomEvent::Unban {
            node: self.bus.node().to_string(),
            user_id: msg.user_id,
        };
        crate::room::publish(&self.bus, &msg.room, &event);
    }
}

/// A room's rules (filter words, slow mode, moderators) changed: the room reads them again
/// on every node. Answered once the room on this node has them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RulesChangedEverywhere {
    pub room: String,
}

impl Handler<RulesChangedEverywhere> for RoomRegistry {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: RulesChangedEverywhere, _: &mut Context<Self>) -> Self::Result {
        let event = RoomEvent::Rules {
            node: self.bus.node().to_string(),
        };
        crate::room::publish(&self.bus, &msg.room, &event);
        let room = self.rooms.get(msg.room.as_str()).cloned();
        Box::pin(async move {
            if let Some(room) = room {
                let _ = room.send(ReloadRules).await;
            }
        })
    }
}

/// The site's filter words changed: read them again and give every room here the new
/// filter; unless the news came from another node, tell the others. Answered once the rooms
/// here have been handed it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReloadGlobalFilter {
    pub from_bus: bool,
}

impl Handler<ReloadGlobalFilter> for RoomRegistry {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: ReloadGlobalFilter, _: &mut Context<Self>) -> Self::Result {
        if !msg.from_bus {
            view::publish(
                &self.bus,
                &NodeEvent::FiltersChanged {
                    node: self.bus.node().to_string(),
                },
            );
        }
        self.filter_generation += 1;
        let generation = self.filter_generation;
        let store = Arc::clone(&self.store);
        let task = tokio::task::spawn_blocking(move || {
            store.global_words().map(|words| WordFilter::new(&words))
        });
        Box::pin(
            actix::fut::wrap_future(task).map(move |built, act: &mut Self, _| {
                if generation != act.filter_generation {
                    return;
                }
                match built {
                    Ok(Ok(filter)) => {
                        act.global_filter = Arc::new(filter);
                        for room in act.rooms.values() {
                            room.do_send(SetGlobalFilter(Arc::clone(&act.global_filter)));
                        }
                    }
                    Ok(Err(e)) => log::error!("rooms: loading the site's filter words failed: {e}"),
                    Err(e) => log::error!("rooms: loading the site's filter words failed: {e}"),
                }
            }),
        )
    }
}

/// The site's filter words as this node holds them now (video danmaku are checked
/// against them too).
#[derive(Message)]
#[rtype(result = "Arc<WordFilter>")]
pub struct GetGlobalFilter;

impl Handler<GetGlobalFilter> for RoomRegistry {
    type Result = MessageResult<GetGlobalFilter>;

    fn handle(&mut self, _: GetGlobalFilter, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Arc::clone(&self.global_filter))
    }
}
