//! `Cluster`: one per node when nodes share a bus. Every second it publishes the node's
//! heartbeat on `{prefix}.nodes`: its online count per room, its video viewers per room and
//! the state of the sources it pulls. Every node keeps the others' latest heartbeats in a
//! [`ClusterView`], so online counts and ingest states shown anywhere are sums and reports
//! over live nodes; a node not heard from for [`NODE_DEAD_AFTER`] drops out.
//!
//! The same subject carries node-wide events: a disabled account (every node forgets its
//! sessions and closes its sockets), sessions that ended or changed (every node drops them
//! from its session cache), an admin's control of a source (the node that pulls it acts),
//! a follower's demand for an on-demand source (the puller starts it at once), and a kick
//! of a pushed room's publisher (the node it is on cuts it off).

use actix::prelude::*;

use crate::bus::{Bus, BusMessage, Subscription};
use crate::ingest::supervisor::{
    ClusterReport, CutOffPublisherOf, IngestSupervisor, NodeControl, RemoteDemand,
};
use crate::registry::{DisconnectUserEverywhere, LocalCounts, ReloadGlobalFilter, RoomRegistry};
pub use crate::view::{
    publish, read, write, ClusterView, NodeEvent, SharedView, HEARTBEAT_EVERY, NODE_DEAD_AFTER,
};

/// Cached sessions another node says are stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleSessions {
    User(String),
    Token(String),
}

/// Called when another node says cached sessions are stale.
pub type SessionsHook = Box<dyn Fn(StaleSessions) + Send>;

pub struct Cluster {
    bus: Bus,
    view: SharedView,
    registry: Addr<RoomRegistry>,
    supervisor: Addr<IngestSupervisor>,
    forget_sessions: SessionsHook,
    subscription: Option<Subscription>,
}

impl Cluster {
    pub fn new(
        bus: Bus,
        view: SharedView,
        registry: Addr<RoomRegistry>,
        supervisor: Addr<IngestSupervisor>,
        forget_sessions: SessionsHook,
    ) -> Self {
        Self {
            bus,
            view,
            registry,
            supervisor,
            forget_sessions,
            subscription: None,
        }
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        write(&self.view).forget_dead();
        let (registry, supervisor) = (self.registry.clone(), self.supervisor.clone());
        let node = self.bus.node().to_string();
        let bus = self.bus.clone();
        ctx.spawn(actix::fut::wrap_future(async move {
            let online = registry.send(LocalCounts).await.unwrap_or_default();
            let report = supervisor.send(ClusterReport).await.unwrap_or_default();
            publish(
                &bus,
                &NodeEvent::Heartbeat {
                    node,
                    online,
                    video_viewers: report.video_viewers,
                    ingest: report.ingest,
                },
            );
        }));
    }
}

impl Actor for Cluster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.subscription = self
            .bus
            .subscribe(self.bus.subject("nodes"), ctx.address().recipient());
        self.heartbeat(ctx);
        ctx.run_interval(HEARTBEAT_EVERY, |act, ctx| act.heartbeat(ctx));
    }
}

/// Says goodbye to the other nodes (on shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave;

impl Handler<Leave> for Cluster {
    type Result = ();

    fn handle(&mut self, _: Leave, ctx: &mut Context<Self>) {
        publish(
            &self.bus,
            &NodeEvent::Leaving {
                node: self.bus.node().to_string(),
            },
        );
        ctx.stop();
    }
}

impl Handler<BusMessage> for Cluster {
    type Result = ();

    fn handle(&mut self, msg: BusMessage, _: &mut Context<Self>) {
        let event: NodeEvent = match serde_json::from_slice(&msg.payload) {
            Ok(e) => e,
            Err(e) => {
                log::warn!("bus: unreadable node event: {e}");
                return;
            }
        };
        let me = self.bus.node();
        match event {
            NodeEvent::Heartbeat {
                node,
                online,
                video_viewers,
                ingest,
            } if node != me => {
                let joined = write(&self.view).heard(node.clone(), online, video_viewers, ingest);
                if joined {
                    log::info!("cluster: node {node} joined");
                }
            }
            NodeEvent::Leaving { node } if node != me => {
                write(&self.view).remove(&node);
                log::info!("cluster: node {node} left");
            }
            NodeEvent::UserDisabled { node, user_id } if node != me => {
                (self.forget_sessions)(StaleSessions::User(user_id.clone()));
                self.registry.do_send(DisconnectUserEverywhere {
                    user_id,
                    from_bus: true,
                });
            }
            NodeEvent::ForgetUser { node, user_id } if node != me => {
                (self.forget_sessions)(StaleSessions::User(user_id));
            }
            NodeEvent::ForgetToken { node, token_hash } if node != me => {
                (self.forget_sessions)(StaleSessions::Token(token_hash));
            }
            NodeEvent::IngestControl { node, room, action } if node != me => {
                self.supervisor.do_send(NodeControl { room, action });
            }
            NodeEvent::Demand { node, room } if node != me => {
                self.supervisor.do_send(RemoteDemand { room });
            }
            NodeEvent::FiltersChanged { node } if node != me => {
                self.registry.do_send(ReloadGlobalFilter { from_bus: true });
            }
            NodeEvent::CutOffPublisher { node, room } if node != me => {
                self.supervisor.do_send(CutOffPublisherOf { room });
            }
            _ => {}
        }
    }
}
