//! `IngestSupervisor`: one per node. It owns a pipeline per room with a source, replaces it
//! when the room's source changes, finds it for viewers and admins, and stops them all (and
//! so every ffmpeg) when it stops.
//!
//! When nodes share a bus, each source is pulled by one node at a time: the holder of the
//! source's lease in the database. Every `renew_every` the supervisor renews its leases,
//! takes free or expired ones while it holds no more than its share (sources divided by
//! live nodes), gives one back when it holds more than its share while another node holds
//! less (so a node that joins, or comes back after an upgrade, gets its part), learns every
//! source and its holder, and gives each pipeline its role. A holder that dies stops
//! renewing; another node takes the lease once it expires.
//!
//! An admin's stop is stored with the room, so a new pipeline (after a restart, a takeover
//! or a rebalance) starts stopped too.
//!
//! A pushed room is held by the node its publisher reached, not by the fair share: that node
//! takes the room's lease when the publisher's stream starts, renews it every round while
//! the publisher stays, and releases it when the publisher leaves, so a publisher that
//! reconnects to another node takes the room over there. Every other node's pipeline of the
//! room follows the holder's stream on the bus. A node that finds its publisher's lease
//! taken by another node (it could not renew it in time) cuts its publisher off.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::command::IngestSpec;
use super::pipeline::{
    CutOffPublisher, Demanded, GetReport, IngestAction, IngestPipeline, IngestStatus,
    RemoteControl, Retire, SetRole, SourceWoken,
};
use crate::bus::Bus;
use crate::port::PortResult;
use crate::view::{self, SharedView};

/// A source, the node that holds its lease (if any) and whether an admin stopped it.
#[derive(Debug, Clone)]
pub struct ClaimedSource {
    pub spec: IngestSpec,
    pub holder: Option<String>,
    pub stopped: bool,
}

/// What a lease round knows of the cluster.
#[derive(Debug, Clone, Default)]
pub struct LeaseRound {
    /// This node.
    pub node: String,
    /// The other live nodes.
    pub others: Vec<String>,
    /// Video viewers per room on every node, as last reported: a node giving a source back
    /// gives the one with the fewest.
    pub viewers: HashMap<String, u64>,
    /// The pushed rooms whose publisher is on this node, with the publisher's connection id:
    /// their leases are renewed.
    pub publishing: HashMap<String, u64>,
}

/// What a lease round settled.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// Every pulled source with its holder.
    pub sources: Vec<ClaimedSource>,
    /// Pushed rooms of `LeaseRound::publishing` whose lease another node's publisher holds.
    pub lost_publishers: Vec<String>,
}

/// The sources as the app keeps them in its database: their leases and admins' stops.
pub trait SourceStore: Send + Sync {
    /// Renews this node's leases, takes free or expired ones while it holds fewer than its
    /// share (all sources divided by the live nodes, rounded up), gives one back when it
    /// holds more while another live node holds less, and returns every source with its
    /// holder. Renews the leases of the rooms this node's publishers push to, and says which
    /// of them another node took.
    fn claim(&self, round: &LeaseRound) -> PortResult<Claims>;

    /// A new viewer woke an on-demand source an admin had stopped: the stop is over.
    fn clear_stop(&self, room_id: &str) -> PortResult<()>;
}

/// Starts the room's pipeline, or replaces it if the source or its settings changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EnsureIngest {
    pub spec: IngestSpec,
    /// An admin stopped the source (a new pipeline starts stopped).
    pub stopped: bool,
}

/// The rooms whose video is live now (their pipeline runs, here or on the node that pulls
/// or takes the publisher).
#[derive(Message)]
#[rtype(result = "std::collections::HashSet<String>")]
pub struct ListLive;

/// The pipeline of a pushed room, started (waiting for its publisher) if need be.
#[derive(Message)]
#[rtype(result = "Addr<IngestPipeline>")]
pub struct EnsurePushed {
    pub spec: IngestSpec,
}

/// Stops and forgets the room's pipeline (its source was removed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveIngest {
    pub room_id: String,
}

/// The room's pipeline, if it has a source.
#[derive(Message)]
#[rtype(result = "Option<Addr<IngestPipeline>>")]
pub struct FindIngest {
    pub room_id: String,
}

/// Whether the node knows its sources: always on its own; with many nodes, once its first
/// lease round is done (before that, its video sockets would answer 404).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct SourcesKnown;

/// What this node's heartbeat says about its pipelines.
#[derive(Debug, Default)]
pub struct NodeReport {
    /// Local video viewers per room (rooms with none left out).
    pub video_viewers: HashMap<String, u64>,
    /// The sources this node pulls.
    pub ingest: HashMap<String, IngestStatus>,
}

#[derive(Message)]
#[rtype(result = "NodeReport")]
pub struct ClusterReport;

/// An admin's control of a source, sent by another node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NodeControl {
    pub room: String,
    pub action: IngestAction,
}

/// Cuts off the room's publisher if it is on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CutOffPublisherOf {
    pub room: String,
}

/// Another node has viewers for an on-demand source.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoteDemand {
    pub room: String,
}

/// The outcome of a lease round.
#[derive(Message)]
#[rtype(result = "()")]
struct Claimed(Claims);

pub struct IngestSupervisor {
    pipelines: HashMap<String, (IngestSpec, Addr<IngestPipeline>)>,
    bus: Bus,
    view: SharedView,
    store: Option<Arc<dyn SourceStore>>,
    /// Set when the node shares its sources with others: how often it takes leases.
    renew_every: Option<Duration>,
    claiming: bool,
    /// A lease round has completed.
    claimed_once: bool,
    /// How long the first lease round waits (a heartbeat, so the node knows how many others
    /// share the sources).
    first_round_after: Duration,
    /// Counts completed lease rounds, for operators (is the loop alive?) and tests.
    rounds: Option<prometheus::IntCounter>,
}

impl Default for IngestSupervisor {
    fn default() -> Self {
        Self {
            pipelines: HashMap::new(),
            bus: Bus::local("local"),
            view: SharedView::default(),
            store: None,
            renew_every: None,
            claiming: false,
            claimed_once: false,
            first_round_after: Duration::from_millis(1500),
            rounds: None,
        }
    }
}

impl IngestSupervisor {
    /// A supervisor for a node on its own; `store` hears when a viewer ends an admin's stop.
    pub fn single(store: Arc<dyn SourceStore>) -> Self {
        Self {
            store: Some(store),
            ..Self::default()
        }
    }

    /// A supervisor whose node shares its sources with others through `bus`, taking
    /// leases from `store` every `renew_every`, the first time after `first_round_after`.
    pub fn shared(
        bus: Bus,
        view: SharedView,
        store: Arc<dyn SourceStore>,
        renew_every: Duration,
        first_round_after: Duration,
    ) -> Self {
        Self {
            bus,
            view,
            store: Some(store),
            renew_every: Some(renew_every),
            first_round_after,
            ..Self::default()
        }
    }

    /// Counts each completed lease round in `rounds`.
    pub fn count_rounds(mut self, rounds: prometheus::IntCounter) -> Self {
        self.rounds = Some(rounds);
        self
    }

    /// Every pipeline with its room, for asking them all without holding `self`.
    fn addresses(&self) -> Vec<(String, Addr<IngestPipeline>)> {
        self.pipelines
            .iter()
            .map(|(room, (_, p))| (room.clone(), p.clone()))
            .collect()
    }

    fn ensure(
        &mut self,
        spec: IngestSpec,
        holder: bool,
        stopped: bool,
        ctx: &mut Context<Self>,
    ) -> Addr<IngestPipeline> {
        let room = spec.room_id.clone();
        if let Some((old, pipeline)) = self.pipelines.get(&room) {
            if *old == spec && pipeline.connected() {
                return pipeline.clone();
            }
            pipeline.do_send(Retire);
        }
        log::info!("room {room}: source {}", spec.redacted);
        let (bus, view) = (self.bus.clone(), Arc::clone(&self.view));
        let pipeline = IngestPipeline::new(spec.clone())
            .on_bus(bus, view, holder)
            .stopped(stopped)
            .on_wake(ctx.address().recipient())
            .start();
        self.pipelines.insert(room, (spec, pipeline.clone()));
        pipeline
    }

    fn claim(&mut self, ctx: &mut Context<Self>) {
        let (Some(store), Some(_)) = (&self.store, self.renew_every) else {
            return;
        };
        if self.claiming {
            return;
        }
        self.claiming = true;
        let store = Arc::clone(store);
        let pipelines = self.addresses();
        let (view, node) = (Arc::clone(&self.view), self.bus.node().to_string());
        let round = async move {
            // Counted now, not at the last heartbeat: a source given back must be the one
            // with the fewest viewers at this moment, or a viewer who just joined is cut off.
            let mut viewers = HashMap::new();
            let mut publishing = HashMap::new();
            for (room, pipeline) in pipelines {
                let report = pipeline.send(GetReport).await.unwrap_or_default();
                if let Some(publisher) = report.publisher {
                    publishing.insert(room.clone(), publisher);
                }
                let remote = view::read(&view).remote_video_viewers(&room);
                viewers.insert(room, report.viewers as u64 + remote);
            }
            let round = LeaseRound {
                node,
                others: view::read(&view).live_node_ids(),
                viewers,
                publishing,
            };
            tokio::task::spawn_blocking(move || store.claim(&round)).await
        };
        ctx.spawn(
            actix::fut::wrap_future(round).map(|outcome, act: &mut Self, ctx| {
                act.claiming = false;
                match outcome {
                    Ok(Ok(sources)) => ctx.notify(Claimed(sources)),
                    Ok(Err(e)) if e.is_transient() => log::warn!("ingest leases: {e}"),
                    Ok(Err(e)) => log::error!("ingest leases: {e}"),
                    Err(e) => log::error!("ingest leases: {e}"),
                }
            }),
        );
    }
}

impl Actor for IngestSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(every) = self.renew_every {
            // The first round waits a heartbeat so the node knows how many others share.
            ctx.run_later(self.first_round_after, |act, ctx| act.claim(ctx));
            ctx.run_interval(every, |act, ctx| act.claim(ctx));
        }
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        for (_, (_, pipeline)) in self.pipelines.drain() {
            pipeline.do_send(Retire);
        }
        Running::Stop
    }
}

impl Handler<Claimed> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Claimed, ctx: &mut Context<Self>) {
        self.claimed_once = true;
        if let Some(rounds) = &self.rounds {
            rounds.inc();
        }
        let me = self.bus.node().to_string();
        let mut listed = std::collections::HashSet::new();
        for room in msg.0.lost_publishers {
            if let Some((_, pipeline)) = self.pipelines.get(&room) {
                log::warn!(
                    "room {room}: another node holds the publisher's lease; cutting ours off"
                );
                pipeline.do_send(CutOffPublisher);
            }
        }
        for source in msg.0.sources {
            let holder = source.holder.as_deref() == Some(me.as_str());
            listed.insert(source.spec.room_id.clone());
            let stopped = source.stopped;
            let pipeline = self.ensure(source.spec, holder, stopped, ctx);
            pipeline.do_send(SetRole { holder, stopped });
        }
        self.pipelines.retain(|room, (spec, pipeline)| {
            // Pushed sources are held by the node their publisher reached, not by leases.
            let keep = spec.pushed || listed.contains(room);
            if !keep {
                log::info!("room {room}: source removed");
                pipeline.do_send(Retire);
            }
            keep
        });
    }
}

impl Handler<EnsureIngest> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: EnsureIngest, ctx: &mut Context<Self>) {
        if self.renew_every.is_some() {
            // Who pulls it is the leases' call: a round now settles it.
            self.claim(ctx);
            return;
        }
        self.ensure(msg.spec, true, msg.stopped, ctx);
    }
}

impl Handler<RemoveIngest> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveIngest, ctx: &mut Context<Self>) {
        if let Some((_, pipeline)) = self.pipelines.remove(&msg.room_id) {
            log::info!("room {}: source removed", msg.room_id);
            pipeline.do_send(Retire);
        }
        self.claim(ctx);
    }
}

impl Handler<EnsurePushed> for IngestSupervisor {
    type Result = MessageResult<EnsurePushed>;

    fn handle(&mut self, msg: EnsurePushed, ctx: &mut Context<Self>) -> Self::Result {
        // Alone, the node holds every pushed room; with others, a pipeline follows whoever
        // has the publisher until its own publisher's stream starts.
        let holder = !self.bus.is_shared();
        MessageResult(self.ensure(msg.spec, holder, false, ctx))
    }
}

impl Handler<ListLive> for IngestSupervisor {
    type Result = ResponseFuture<std::collections::HashSet<String>>;

    fn handle(&mut self, _: ListLive, _: &mut Context<Self>) -> Self::Result {
        let pipelines = self.addresses();
        // Asked at once, not one after another: pages wait for the answer.
        let asked = pipelines.into_iter().map(|(room, pipeline)| async move {
            let status = pipeline.send(super::pipeline::GetIngestStatus).await;
            status
                .is_ok_and(|s| s.state == super::status::IngestState::Running)
                .then_some(room)
        });
        // Rooms this node has no pipeline for yet (a pushed room nobody here watches).
        let elsewhere = view::read(&self.view).running_rooms();
        Box::pin(async move {
            let mut live: std::collections::HashSet<String> = futures_util::future::join_all(asked)
                .await
                .into_iter()
                .flatten()
                .collect();
            live.extend(elsewhere);
            live
        })
    }
}

impl Handler<FindIngest> for IngestSupervisor {
    type Result = Option<Addr<IngestPipeline>>;

    fn handle(&mut self, msg: FindIngest, _: &mut Context<Self>) -> Self::Result {
        self.pipelines.get(&msg.room_id).map(|(_, p)| p.clone())
    }
}

impl Handler<ClusterReport> for IngestSupervisor {
    type Result = ResponseFuture<NodeReport>;

    fn handle(&mut self, _: ClusterReport, _: &mut Context<Self>) -> Self::Result {
        let pipelines = self.addresses();
        Box::pin(async move {
            let mut report = NodeReport::default();
            for (room, pipeline) in pipelines {
                let Ok(pipeline) = pipeline.send(GetReport).await else {
                    continue;
                };
                if pipeline.viewers > 0 {
                    report
                        .video_viewers
                        .insert(room.clone(), pipeline.viewers as u64);
                }
                if let Some(status) = pipeline.status {
                    report.ingest.insert(room, status);
                }
            }
            report
        })
    }
}

impl Handler<NodeControl> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: NodeControl, _: &mut Context<Self>) {
        if let Some((_, pipeline)) = self.pipelines.get(&msg.room) {
            pipeline.do_send(RemoteControl { action: msg.action });
        }
    }
}

impl Handler<CutOffPublisherOf> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: CutOffPublisherOf, _: &mut Context<Self>) {
        if let Some((_, pipeline)) = self.pipelines.get(&msg.room) {
            pipeline.do_send(CutOffPublisher);
        }
    }
}

impl Handler<RemoteDemand> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoteDemand, _: &mut Context<Self>) {
        if let Some((_, pipeline)) = self.pipelines.get(&msg.room) {
            pipeline.do_send(Demanded);
        }
    }
}

impl Handler<SourceWoken> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: SourceWoken, _: &mut Context<Self>) {
        let Some(store) = self.store.clone() else {
            return;
        };
        log::info!("room {}: a new viewer ended the admin's stop", msg.room_id);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.clear_stop(&msg.room_id) {
                log::warn!("room {}: cannot clear the stop: {e}", msg.room_id);
            }
        });
    }
}

impl Handler<SourcesKnown> for IngestSupervisor {
    type Result = bool;

    fn handle(&mut self, _: SourcesKnown, _: &mut Context<Self>) -> bool {
        self.renew_every.is_none() || self.claimed_once
    }
}
