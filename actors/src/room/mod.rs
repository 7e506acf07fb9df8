//! `Room`: one per active live room. Owns the merge window, the sequence number, the
//! history ring, the online count, flood control, mutes and bans.
//!
//! Accepted messages collect in the current window; when it closes (after `window`, or at
//! `MAX_BATCH_ITEMS`) the room serialises ONE `batch` frame and sends those bytes once to
//! every worker hub that has its viewers. An idle room sends nothing.
//!
//! Across nodes: while a room has viewers on this node it subscribes to
//! `{prefix}.room.{id}`. It publishes each message it accepts there at once, and merges the
//! messages other nodes accepted into its own window, so every node's viewers get one frame
//! per window with a `seq` of that node's own. Retractions and bans travel the same way; the
//! online count it shows is its own plus what the other live nodes report.

mod limits;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

pub use limits::{FloodControl, RateLimit, Verdict, FLOOD_MUTE};

use crate::bus::{Bus, BusMessage, Subscription};
use crate::hub::{DeliverFrame, DeliverToUser, DisconnectUserHere, WelcomeViewer, WorkerHub};
use crate::metrics::RoomMetrics;
use crate::protocol::{ErrorCode, Item, Mode, ServerFrame};
use crate::store::{DanmakuStore, DanmakuWriter, SaveDanmaku, StoredItem};
use crate::view::{self, SharedView};

/// A window closes early at this many messages.
pub const MAX_BATCH_ITEMS: usize = 200;
/// Online counts go out at most this often.
const ONLINE_EVERY: Duration = Duration::from_secs(1);

/// Another node's message accepted longer ago than this is stale when it arrives (clocks
/// of nodes are expected to agree within a second or so).
pub const STALE_REMOTE: Duration = Duration::from_secs(5);

/// A room's actor stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    /// The room's id.
    pub id: Arc<str>,
    /// The actor that stopped (a newer one may already run).
    pub addr: Addr<Room>,
}

/// Settings every room shares.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub window: Duration,
    pub rate: RateLimit,
    pub history: usize,
    /// A room with no viewers stops after this long.
    pub idle_stop: Duration,
}

/// Adds a viewer (on the hub `hub_id`) and welcomes it through that hub.
#[derive(Message)]
#[rtype(result = "Result<(), RoomGone>")]
pub struct JoinRoom {
    /// The viewer.
    pub viewer_id: u64,
    /// Its worker's hub id.
    pub hub_id: usize,
    /// Its worker's hub.
    pub hub: Addr<WorkerHub>,
}

/// Removes a viewer of hub `hub_id`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeaveRoom {
    /// Its worker's hub id.
    pub hub_id: usize,
}

/// Offers a message; `Err` says why it was refused.
#[derive(Message)]
#[rtype(result = "Result<(), Rejection>")]
pub struct SendDanmaku {
    /// The author's id.
    pub user_id: String,
    /// The author's username.
    pub username: String,
    /// Validated text.
    pub text: String,
    /// `#rrggbb`.
    pub color: String,
    /// Where it shows.
    pub mode: Mode,
}

/// Removes messages from history and tells every viewer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetractDanmaku {
    /// The messages' ids.
    pub ids: Vec<String>,
}

/// Mutes a user in this room until `until`; their open sockets are told.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BanUser {
    /// The user's id.
    pub user_id: String,
    /// When the ban ends.
    pub until: SystemTime,
}

/// Closes every connection of a user in this room (their account was disabled).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct DisconnectUser {
    pub user_id: String,
}

/// The number of viewers now.
#[derive(Message)]
#[rtype(result = "u64")]
pub struct GetOnline;

/// The room stopped before it could answer.
#[derive(Debug)]
pub struct RoomGone;

/// A refused message: the error frame's code, text and wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl Rejection {
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message.clone(),
            retry_after_ms: self.retry_after_ms,
        }
    }
}

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
}

/// Sends `event` to the room `room_id` on the other nodes (nothing on the local bus).
pub fn publish(bus: &Bus, room_id: &str, event: &RoomEvent) {
    if bus.is_shared() {
        let payload = serde_json::to_vec(event).expect("room events always serialise");
        bus.publish(bus.subject(&format!("room.{room_id}")), payload.into());
    }
}

/// A message in the open window: accepted here (saved when the window closes) or merged
/// from another node (saved there).
enum Pending {
    Local(StoredItem),
    Remote(Item),
}

impl Pending {
    fn item(&self) -> &Item {
        match self {
            Pending::Local(s) => &s.item,
            Pending::Remote(i) => i,
        }
    }
}

struct HubEntry {
    addr: Addr<WorkerHub>,
    viewers: u64,
}

/// What a room loads before it welcomes anyone.
struct Loaded {
    history: Vec<Item>,
    bans: Vec<(String, SystemTime)>,
}

pub struct Room {
    id: Arc<str>,
    config: RoomConfig,
    store: Arc<dyn DanmakuStore>,
    writer: Addr<DanmakuWriter>,
    /// Told when this room's actor stops (the registry, which started it).
    registry: Recipient<RoomStopped>,
    metrics: RoomMetrics,
    hubs: HashMap<usize, HubEntry>,
    online: u64,
    online_sent: u64,
    empty_since: Option<Instant>,
    loaded: bool,
    waiting: Vec<(JoinRoom, oneshot::Sender<()>)>,
    history: VecDeque<Item>,
    window: Vec<Pending>,
    window_opened: Option<Instant>,
    window_generation: u64,
    seq: u64,
    last_accepted_us: i64,
    flood: FloodControl,
    muted_until: HashMap<String, SystemTime>,
    bus: Bus,
    view: SharedView,
    subscription: Option<Subscription>,
}

impl Room {
    pub fn new(
        id: Arc<str>,
        config: RoomConfig,
        store: Arc<dyn DanmakuStore>,
        writer: Addr<DanmakuWriter>,
        registry: Recipient<RoomStopped>,
        metrics: RoomMetrics,
    ) -> Self {
        let flood = FloodControl::new(config.rate);
        Self {
            id,
            config,
            store,
            writer,
            registry,
            metrics,
            hubs: HashMap::new(),
            online: 0,
            online_sent: 0,
            empty_since: Some(Instant::now()),
            loaded: false,
            waiting: Vec::new(),
            history: VecDeque::new(),
            window: Vec::new(),
            window_opened: None,
            window_generation: 0,
            seq: 0,
            last_accepted_us: 0,
            flood,
            muted_until: HashMap::new(),
            bus: Bus::local("local"),
            view: SharedView::default(),
            subscription: None,
        }
    }

    /// The room talks to the same room on other nodes through `bus`.
    pub fn on_bus(mut self, bus: Bus, view: SharedView) -> Self {
        self.bus = bus;
        self.view = view;
        self
    }

    fn subscribe(&mut self, ctx: &mut Context<Self>) {
        let subject = self.bus.subject(&format!("room.{}", self.id));
        self.subscription = self.bus.subscribe(subject, ctx.address().recipient());
    }

    fn publish(&self, event: &RoomEvent) {
        publish(&self.bus, &self.id, event);
    }

    /// Viewers here and on every other live node.
    fn total_online(&self) -> u64 {
        self.online + view::read(&self.view).remote_online(&self.id)
    }

    fn load(&self, ctx: &mut Context<Self>) {
        let store = Arc::clone(&self.store);
        let id = Arc::clone(&self.id);
        let limit = self.config.history;
        let task = tokio::task::spawn_blocking(move || {
            let history = store.recent(&id, limit).unwrap_or_else(|e| {
                log::error!("room {id}: loading history failed: {e}");
                Vec::new()
            });
            let bans = store.active_bans(&id).unwrap_or_else(|e| {
                log::error!("room {id}: loading bans failed: {e}");
                Vec::new()
            });
            Loaded { history, bans }
        });
        ctx.spawn(
            actix::fut::wrap_future(task).map(|loaded, act: &mut Self, _| {
                let loaded = loaded.unwrap_or(Loaded {
                    history: Vec::new(),
                    bans: Vec::new(),
                });
                // Messages merged while loading stay, after the stored ones.
                let merged = std::mem::replace(&mut act.history, loaded.history.into());
                for item in merged {
                    if !act.history.iter().any(|i| i.id == item.id) {
                        act.push_history(item);
                    }
                }
                act.muted_until.extend(loaded.bans);
                act.loaded = true;
                for (join, done) in std::mem::take(&mut act.waiting) {
                    act.admit(join);
                    let _ = done.send(());
                }
            }),
        );
    }

    fn admit(&mut self, join: JoinRoom) {
        let entry = self.hubs.entry(join.hub_id).or_insert_with(|| HubEntry {
            addr: join.hub.clone(),
            viewers: 0,
        });
        entry.viewers += 1;
        self.online += 1;
        self.empty_since = None;
        self.metrics.viewers.inc();
        let hello = ServerFrame::Hello {
            room: self.id.to_string(),
            online: self.total_online(),
            history: self.history.iter().cloned().collect(),
        };
        join.hub.do_send(WelcomeViewer {
            room: Arc::clone(&self.id),
            viewer_id: join.viewer_id,
            hello: hello.to_json().into(),
        });
    }

    fn broadcast(&self, frame: ByteString, droppable: bool, since: Option<Instant>) {
        for hub in self.hubs.values() {
            hub.addr.do_send(DeliverFrame {
                room: Arc::clone(&self.id),
                frame: frame.clone(),
                droppable,
                since,
            });
        }
    }

    /// Closes the window: one frame, serialised once, to every hub.
    fn flush(&mut self) {
        if self.window.is_empty() {
            return;
        }
        self.window_generation += 1;
        let stored = std::mem::take(&mut self.window);
        let since = self.window_opened.take();
        self.seq += 1;
        let frame = BatchFrame {
            kind: "batch",
            seq: self.seq,
            items: stored.iter().map(Pending::item),
        };
        let json = serde_json::to_string(&frame).expect("batches always serialise");
        self.metrics.batch_size.observe(stored.len() as f64);
        self.broadcast(json.into(), true, since);
        let mut to_save = Vec::with_capacity(stored.len());
        for p in stored {
            self.push_history(p.item().clone());
            if let Pending::Local(s) = p {
                to_save.push(s);
            }
        }
        if !to_save.is_empty() {
            self.writer.do_send(SaveDanmaku {
                room_id: self.id.to_string(),
                items: to_save,
            });
        }
    }

    fn push_history(&mut self, item: Item) {
        if self.config.history == 0 {
            return;
        }
        if self.history.len() >= self.config.history {
            self.history.pop_front();
        }
        self.history.push_back(item);
    }

    /// Adds a message to the window, opening it (and its timer) if it was empty.
    fn push_to_window(&mut self, pending: Pending, ctx: &mut Context<Self>) {
        if self.window.is_empty() {
            self.window_opened = Some(Instant::now());
            let generation = self.window_generation;
            ctx.run_later(self.config.window, move |act, _| {
                if act.window_generation == generation {
                    act.flush();
                }
            });
        }
        self.window.push(pending);
        if self.window.len() >= MAX_BATCH_ITEMS {
            self.flush();
        }
    }

    fn retract(&mut self, ids: Vec<String>) {
        self.history.retain(|i| !ids.contains(&i.id));
        self.window.retain(|p| !ids.contains(&p.item().id));
        let frame = ServerFrame::Retract { ids }.to_json();
        self.broadcast(frame.into(), false, None);
    }

    fn ban(&mut self, user_id: String, until: SystemTime) {
        self.muted_until.insert(user_id.clone(), until);
        let left = until.duration_since(SystemTime::now()).unwrap_or_default();
        let frame = ServerFrame::Error {
            code: ErrorCode::Muted,
            message: "a moderator muted you in this room".into(),
            retry_after_ms: Some(left.as_millis() as u64),
        }
        .to_json();
        let frame: ByteString = frame.into();
        for hub in self.hubs.values() {
            hub.addr.do_send(DeliverToUser {
                room: Arc::clone(&self.id),
                user_id: user_id.clone(),
                frame: frame.clone(),
            });
        }
    }

    fn muted(&mut self, user_id: &str) -> Option<Duration> {
        let until = *self.muted_until.get(user_id)?;
        match until.duration_since(SystemTime::now()) {
            Ok(left) => Some(left),
            Err(_) => {
                self.muted_until.remove(user_id);
                None
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let online = self.total_online();
        if online != self.online_sent && self.online > 0 {
            self.online_sent = online;
            let frame = ServerFrame::Online { count: online }.to_json();
            self.broadcast(frame.into(), true, None);
        }
        self.flood.prune(Instant::now());
        if self
            .empty_since
            .is_some_and(|t| t.elapsed() >= self.config.idle_stop)
        {
            log::debug!("room {}: idle, stopping", self.id);
            ctx.stop();
        }
    }
}

/// The batch frame, serialised from borrowed items.
#[derive(Serialize)]
struct BatchFrame<'a, I: Iterator<Item = &'a Item> + Clone> {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
    #[serde(serialize_with = "serialize_iter")]
    items: I,
}

fn serialize_iter<'a, I, S>(items: &I, s: S) -> Result<S::Ok, S::Error>
where
    I: Iterator<Item = &'a Item> + Clone,
    S: serde::Serializer,
{
    s.collect_seq(items.clone())
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.metrics.rooms.inc();
        self.subscribe(ctx);
        self.load(ctx);
        ctx.run_interval(ONLINE_EVERY, |act, ctx| act.tick(ctx));
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        self.flush();
        self.metrics.rooms.dec();
        self.registry.do_send(RoomStopped {
            id: Arc::clone(&self.id),
            addr: ctx.address(),
        });
    }
}

impl Handler<JoinRoom> for Room {
    type Result = ResponseFuture<Result<(), RoomGone>>;

    fn handle(&mut self, msg: JoinRoom, ctx: &mut Context<Self>) -> Self::Result {
        if self.bus.is_shared() && self.subscription.is_none() {
            // Back from no viewers: what other nodes did meanwhile was not heard here.
            self.subscribe(ctx);
            self.loaded = false;
            self.load(ctx);
        }
        if self.loaded {
            self.admit(msg);
            return Box::pin(async { Ok(()) });
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.push((msg, tx));
        Box::pin(async move { rx.await.map_err(|_| RoomGone) })
    }
}

impl Handler<LeaveRoom> for Room {
    type Result = ();

    fn handle(&mut self, msg: LeaveRoom, _: &mut Context<Self>) {
        if let Some(entry) = self.hubs.get_mut(&msg.hub_id) {
            entry.viewers -= 1;
            if entry.viewers == 0 {
                self.hubs.remove(&msg.hub_id);
            }
            self.online -= 1;
            self.metrics.viewers.dec();
            if self.online == 0 {
                self.empty_since = Some(Instant::now());
                self.subscription = None;
            }
        }
    }
}

impl Handler<SendDanmaku> for Room {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, msg: SendDanmaku, ctx: &mut Context<Self>) -> Self::Result {
        let reject = |code, message: String, wait: Option<Duration>| Rejection {
            code,
            message,
            retry_after_ms: wait.map(|d| d.as_millis().max(1) as u64),
        };
        if let Some(left) = self.muted(&msg.user_id) {
            self.metrics.rejected.with_label_values(&["muted"]).inc();
            return Err(reject(
                ErrorCode::Muted,
                "you are muted in this room".into(),
                Some(left),
            ));
        }
        match self.flood.check(&msg.user_id, Instant::now()) {
            Verdict::Accept => {}
            Verdict::Limited(wait) => {
                self.metrics
                    .rejected
                    .with_label_values(&["rate_limited"])
                    .inc();
                return Err(reject(
                    ErrorCode::RateLimited,
                    "you are sending too fast".into(),
                    Some(wait),
                ));
            }
            Verdict::Muted => {
                self.metrics.rejected.with_label_values(&["muted"]).inc();
                self.muted_until
                    .insert(msg.user_id.clone(), SystemTime::now() + FLOOD_MUTE);
                return Err(reject(
                    ErrorCode::Muted,
                    "muted for flooding".into(),
                    Some(FLOOD_MUTE),
                ));
            }
        }
        self.metrics.accepted.inc();
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        self.last_accepted_us = now_us.max(self.last_accepted_us + 1);
        let item = Item {
            id: uuid::Uuid::new_v4().to_string(),
            user: msg.username,
            text: msg.text,
            color: msg.color,
            mode: msg.mode,
            at: self.last_accepted_us / 1000,
        };
        self.publish(&RoomEvent::Danmaku {
            node: self.bus.node().to_string(),
            item: item.clone(),
            author_id: msg.user_id.clone(),
        });
        let stored = StoredItem {
            item,
            author_id: msg.user_id,
            accepted_us: self.last_accepted_us,
        };
        self.push_to_window(Pending::Local(stored), ctx);
        Ok(())
    }
}

impl Handler<RetractDanmaku> for Room {
    type Result = ();

    fn handle(&mut self, msg: RetractDanmaku, _: &mut Context<Self>) {
        self.retract(msg.ids);
    }
}

impl Handler<BanUser> for Room {
    type Result = ();

    fn handle(&mut self, msg: BanUser, _: &mut Context<Self>) {
        self.ban(msg.user_id, msg.until);
    }
}

impl Handler<DisconnectUser> for Room {
    type Result = ();

    fn handle(&mut self, msg: DisconnectUser, _: &mut Context<Self>) {
        for hub in self.hubs.values() {
            hub.addr.do_send(DisconnectUserHere {
                room: Arc::clone(&self.id),
                user_id: msg.user_id.clone(),
            });
        }
    }
}

impl Handler<GetOnline> for Room {
    type Result = u64;

    fn handle(&mut self, _: GetOnline, _: &mut Context<Self>) -> u64 {
        self.online
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
            _ => {}
        }
    }
}
