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
//!
//! # Layout
//! - [`messages`]: what the room is told and asked;
//! - [`window`]: the merge window, batch sequence and history ring (plain data);
//! - [`limits`], [`mutes`], [`slow`]: flood control, who is muted until when, and slow
//!   mode (plain data);
//! - [`events`]: the room among nodes;
//! - this file: the actor (viewers per hub, online counts, loading, the handlers).

mod events;
mod limits;
mod messages;
mod mutes;
mod slow;
mod window;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytestring::ByteString;
use tokio::sync::oneshot;

pub use events::{publish, RoomEvent, STALE_REMOTE};
pub use limits::{FloodControl, RateLimit, Verdict, FLOOD_MUTE};
pub use messages::*;
use mutes::Mutes;
use slow::SlowMode;
pub use window::MAX_BATCH_ITEMS;
use window::{Pending, Pushed, Window};

use crate::bus::{Bus, Subscription};
use crate::filter::WordFilter;
use crate::hub::{DeliverFrame, DeliverToUser, DisconnectUserHere, WelcomeViewer, WorkerHub};
use crate::metrics::RoomMetrics;
use crate::protocol::{ErrorCode, Item, ServerFrame};
use crate::store::{DanmakuStore, DanmakuWriter, RoomRules, SaveDanmaku, StoredItem};
use crate::view::{self, SharedView};

/// Online counts go out at most this often.
const ONLINE_EVERY: Duration = Duration::from_secs(1);

/// Settings every room shares.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub window: Duration,
    pub rate: RateLimit,
    pub history: usize,
    /// A room with no viewers stops after this long.
    pub idle_stop: Duration,
    /// Batches kept for viewers that reconnect and resume.
    pub resume_batches: usize,
}

struct HubEntry {
    addr: Addr<WorkerHub>,
    viewers: u64,
}

/// What a room loads before it welcomes anyone.
struct Loaded {
    history: Vec<Item>,
    bans: Vec<(String, SystemTime)>,
    rules: RoomRules,
}

pub struct Room {
    id: Arc<str>,
    /// This run of the room: batch numbers start again with a new one.
    epoch: String,
    config: RoomConfig,
    store: Arc<dyn DanmakuStore>,
    writer: Addr<DanmakuWriter>,
    /// Told when this room's actor stops (the registry, which started it).
    registry: Recipient<RoomStopped>,
    metrics: RoomMetrics,
    hubs: HashMap<usize, HubEntry>,
    /// Viewers that asked for compressed frames: while there are any, each batch is
    /// deflated once for all of them.
    compressed_viewers: u64,
    online: u64,
    online_sent: u64,
    empty_since: Option<Instant>,
    loaded: bool,
    waiting: Vec<(JoinRoom, oneshot::Sender<()>)>,
    window: Window,
    last_accepted_us: i64,
    flood: FloodControl,
    mutes: Mutes,
    slow: SlowMode,
    /// The room's own filter words, and the site's.
    filter: WordFilter,
    global_filter: Arc<WordFilter>,
    /// The owner and named moderators: exempt from slow mode.
    moderators: HashSet<String>,
    /// Counts reloads of the rules, so that only the latest one is applied.
    rules_generation: u64,
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
        Self {
            id,
            epoch: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            flood: FloodControl::new(config.rate),
            window: Window::new(config.history, config.resume_batches),
            config,
            store,
            writer,
            registry,
            metrics,
            hubs: HashMap::new(),
            compressed_viewers: 0,
            online: 0,
            online_sent: 0,
            empty_since: Some(Instant::now()),
            loaded: false,
            waiting: Vec::new(),
            last_accepted_us: 0,
            mutes: Mutes::default(),
            slow: SlowMode::default(),
            filter: WordFilter::default(),
            global_filter: Arc::default(),
            moderators: HashSet::new(),
            rules_generation: 0,
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

    /// The site's filter words as the room starts (later ones come as `SetGlobalFilter`).
    pub fn with_global_filter(mut self, filter: Arc<WordFilter>) -> Self {
        self.global_filter = filter;
        self
    }

    fn subscribe(&mut self, ctx: &mut Context<Self>) {
        let subject = self.bus.subject(&format!("room.{}", self.id));
        self.subscription = self.bus.subscribe(subject, ctx.address().recipient());
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
            let rules = store.rules(&id).unwrap_or_else(|e| {
                log::error!("room {id}: loading its rules failed: {e}");
                RoomRules::default()
            });
            Loaded {
                history,
                bans,
                rules,
            }
        });
        ctx.spawn(
            actix::fut::wrap_future(task).map(|loaded, act: &mut Self, _| {
                let loaded = loaded.unwrap_or(Loaded {
                    history: Vec::new(),
                    bans: Vec::new(),
                    rules: RoomRules::default(),
                });
                act.window.load_history(loaded.history);
                act.mutes.extend(loaded.bans);
                act.apply_rules(loaded.rules);
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
        self.compressed_viewers += u64::from(join.compressed);
        self.online += 1;
        self.empty_since = None;
        self.metrics.viewers.inc();
        let missed = join
            .resume
            .filter(|r| r.epoch == self.epoch)
            .and_then(|r| self.window.since(r.since));
        let recovered = missed.is_some();
        let history = missed.unwrap_or_else(|| self.window.history().cloned().collect());
        let hello = ServerFrame::Hello {
            room: self.id.to_string(),
            online: self.total_online(),
            history,
            epoch: self.epoch.clone(),
            seq: self.window.seq(),
            recovered,
            slow_mode_secs: self.slow.every().as_secs(),
        };
        join.hub.do_send(WelcomeViewer {
            room: Arc::clone(&self.id),
            viewer_id: join.viewer_id,
            hello: hello.to_json().into(),
        });
    }

    fn broadcast(&self, frame: ByteString, droppable: bool, since: Option<Instant>) {
        self.deliver(frame, None, droppable, since);
    }

    /// Sends a frame (and its deflated form, for compressed viewers) to every hub.
    fn deliver(
        &self,
        frame: ByteString,
        deflated: Option<bytes::Bytes>,
        droppable: bool,
        since: Option<Instant>,
    ) {
        for hub in self.hubs.values() {
            hub.addr.do_send(DeliverFrame {
                room: Arc::clone(&self.id),
                frame: frame.clone(),
                deflated: deflated.clone(),
                droppable,
                since,
            });
        }
    }

    /// Closes the window: one frame, serialised once, to every hub; saves what was
    /// accepted here.
    fn flush(&mut self) {
        let Some(batch) = self.window.close() else {
            return;
        };
        self.metrics.batch_size.observe(batch.len as f64);
        // Deflated here, once for every compressed viewer on every hub.
        let deflated = (self.compressed_viewers > 0).then(|| {
            self.metrics.frames_compressed.inc();
            crate::compress::deflate(&batch.frame)
        });
        self.deliver(batch.frame.into(), deflated, true, batch.opened);
        if !batch.to_save.is_empty() {
            self.writer.do_send(SaveDanmaku {
                room_id: self.id.to_string(),
                items: batch.to_save,
            });
        }
    }

    /// Adds a message to the window, arming its timer if it opened it.
    fn push_to_window(&mut self, pending: Pending, ctx: &mut Context<Self>) {
        match self.window.push(pending, Instant::now()) {
            Pushed::Opened { generation } => {
                ctx.run_later(self.config.window, move |act, _| {
                    if act.window.is_open_at(generation) {
                        act.flush();
                    }
                });
            }
            Pushed::Added => {}
            Pushed::Full => self.flush(),
        }
    }

    fn retract(&mut self, ids: Vec<String>) {
        self.window.retract(&ids);
        let frame = ServerFrame::Retract { ids }.to_json();
        self.broadcast(frame.into(), false, None);
    }

    fn ban(&mut self, user_id: String, until: SystemTime) {
        self.mutes.mute(user_id.clone(), until);
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

    /// Reads the room's rules again (done when the future ends); only the latest of
    /// overlapping reloads is applied.
    fn reload_rules(&mut self) -> impl ActorFuture<Self, Output = ()> + 'static {
        self.rules_generation += 1;
        let generation = self.rules_generation;
        let store = Arc::clone(&self.store);
        let id = Arc::clone(&self.id);
        let task = tokio::task::spawn_blocking(move || store.rules(&id));
        actix::fut::wrap_future(task).map(move |rules, act: &mut Self, _| {
            if generation != act.rules_generation {
                return;
            }
            match rules {
                Ok(Ok(rules)) => act.apply_rules(rules),
                Ok(Err(e)) => log::error!("room {}: reloading its rules failed: {e}", act.id),
                Err(e) => log::error!("room {}: reloading its rules failed: {e}", act.id),
            }
        })
    }

    /// Takes new rules; viewers are told when slow mode changes.
    fn apply_rules(&mut self, rules: RoomRules) {
        self.filter = WordFilter::new(&rules.words);
        self.moderators = rules.moderators.into_iter().collect();
        if rules.slow_mode != self.slow.every() {
            self.slow.set_every(rules.slow_mode);
            if self.loaded {
                let secs = rules.slow_mode.as_secs();
                let frame = ServerFrame::Rules {
                    slow_mode_secs: secs,
                }
                .to_json();
                self.broadcast(frame.into(), false, None);
            }
        }
    }

    /// Lifts a user's mute or ban; their open sockets here are told.
    fn unban(&mut self, user_id: String) {
        self.mutes.lift(&user_id);
        let frame: ByteString = ServerFrame::Unmuted.to_json().into();
        for hub in self.hubs.values() {
            hub.addr.do_send(DeliverToUser {
                room: Arc::clone(&self.id),
                user_id: user_id.clone(),
                frame: frame.clone(),
            });
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
        self.slow.prune(Instant::now());
        if self
            .empty_since
            .is_some_and(|t| t.elapsed() >= self.config.idle_stop)
        {
            log::debug!("room {}: idle, stopping", self.id);
            ctx.stop();
        }
    }
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
            self.compressed_viewers = self
                .compressed_viewers
                .saturating_sub(u64::from(msg.compressed));
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
        if let Some(left) = self.mutes.left(&msg.user_id, SystemTime::now()) {
            self.metrics.rejected.with_label_values(&["muted"]).inc();
            return Err(reject(
                ErrorCode::Muted,
                "you are muted in this room".into(),
                Some(left),
            ));
        }
        let now = Instant::now();
        let exempt = msg.admin || self.moderators.contains(&msg.user_id);
        if let Some(wait) = self.slow.wait(&msg.user_id, now).filter(|_| !exempt) {
            self.metrics
                .rejected
                .with_label_values(&["slow_mode"])
                .inc();
            return Err(reject(
                ErrorCode::RateLimited,
                format!(
                    "slow mode: one message every {} s",
                    self.slow.every().as_secs()
                ),
                Some(wait),
            ));
        }
        match self.flood.check(&msg.user_id, now) {
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
                self.mutes
                    .mute(msg.user_id.clone(), SystemTime::now() + FLOOD_MUTE);
                return Err(reject(
                    ErrorCode::Muted,
                    "muted for flooding".into(),
                    Some(FLOOD_MUTE),
                ));
            }
        }
        if WordFilter::any_matches(&[&self.filter, &self.global_filter], &msg.text) {
            self.metrics.rejected.with_label_values(&["filtered"]).inc();
            return Err(reject(
                ErrorCode::Filtered,
                "your message holds a word this room does not allow".into(),
                None,
            ));
        }
        self.slow.sent(&msg.user_id, now);
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
        publish(
            &self.bus,
            &self.id,
            &RoomEvent::Danmaku {
                node: self.bus.node().to_string(),
                item: item.clone(),
                author_id: msg.user_id.clone(),
            },
        );
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

impl Handler<UnbanUser> for Room {
    type Result = ();

    fn handle(&mut self, msg: UnbanUser, _: &mut Context<Self>) {
        self.unban(msg.user_id);
    }
}

impl Handler<ReloadRules> for Room {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: ReloadRules, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.reload_rules())
    }
}

impl Handler<SetGlobalFilter> for Room {
    type Result = ();

    fn handle(&mut self, msg: SetGlobalFilter, _: &mut Context<Self>) {
        self.global_filter = msg.0;
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
