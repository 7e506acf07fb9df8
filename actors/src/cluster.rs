//! `Cluster`: one per node when nodes share a bus. Every second it publishes the node's
//! heartbeat on `{prefix}.nodes`: its online count per room, its video viewers per room and
//! the state of the sources it pulls. Every node keeps the others' latest heartbeats in a
//! [`ClusterView`], so online counts and ingest states shown anywhere are sums and reports
//! over live nodes; a node not heard from for [`NODE_DEAD_AFTER`] drops out.
//!
//! The same subject carries node-wide events: a disabled account (every node forgets its
//! sessions and closes its sockets), sessions that ended or changed (every node drops them
//! from its session cache), an admin's control of a source (the node that pulls it acts),
//! and a follower's demand for an on-demand source (the puller starts it at once).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bus::{Bus, BusMessage, Subscription};
use crate::ingest::pipeline::{IngestAction, IngestStatus};
use crate::ingest::supervisor::{ClusterReport, IngestSupervisor, NodeControl, RemoteDemand};
use crate::registry::{DisconnectUserEverywhere, LocalCounts, RoomRegistry};

pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A node whose last heartbeat is older than this is gone.
pub const NODE_DEAD_AFTER: Duration = Duration::from_secs(3);

/// What nodes say to each other on `{prefix}.nodes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeEvent {
    Heartbeat {
        node: String,
        /// Danmaku viewers per room (rooms with none are left out).
        online: HashMap<String, u64>,
        /// Video viewers per room.
        video_viewers: HashMap<String, u64>,
        /// The sources this node pulls.
        ingest: HashMap<String, IngestStatus>,
    },
    /// A node shutting down: drop it now rather than after `NODE_DEAD_AFTER`.
    Leaving {
        node: String,
    },
    UserDisabled {
        node: String,
        user_id: String,
    },
    /// Drop the user's cached sessions (their role changed or their sessions were deleted).
    ForgetUser {
        node: String,
        user_id: String,
    },
    /// Drop one cached session (it was logged out); the token's hash, never the token.
    ForgetToken {
        node: String,
        token_hash: String,
    },
    IngestControl {
        node: String,
        room: String,
        action: IngestAction,
    },
    /// A node has video viewers for an on-demand source it does not pull.
    Demand {
        node: String,
        room: String,
    },
}

struct NodeState {
    seen: Instant,
    online: HashMap<String, u64>,
    video_viewers: HashMap<String, u64>,
    ingest: HashMap<String, IngestStatus>,
}

/// The other live nodes as their heartbeats last described them.
#[derive(Default)]
pub struct ClusterView {
    nodes: HashMap<String, NodeState>,
}

/// The view, shared by the node's actors and handlers (short reads, no I/O under the lock).
pub type SharedView = Arc<RwLock<ClusterView>>;

impl ClusterView {
    fn live(&self) -> impl Iterator<Item = (&String, &NodeState)> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.seen.elapsed() < NODE_DEAD_AFTER)
    }

    /// Danmaku viewers of `room` on the other live nodes.
    pub fn remote_online(&self, room: &str) -> u64 {
        self.live().filter_map(|(_, n)| n.online.get(room)).sum()
    }

    /// Video viewers of `room` on the other live nodes.
    pub fn remote_video_viewers(&self, room: &str) -> u64 {
        self.live()
            .filter_map(|(_, n)| n.video_viewers.get(room))
            .sum()
    }

    /// The node pulling `room` and its report, if another live node pulls it.
    pub fn ingest(&self, room: &str) -> Option<(String, IngestStatus)> {
        self.live()
            .find_map(|(id, n)| n.ingest.get(room).map(|s| (id.clone(), s.clone())))
    }

    /// How many other nodes are alive.
    pub fn live_nodes(&self) -> usize {
        self.live().count()
    }

    /// The names of the other live nodes.
    pub fn live_node_ids(&self) -> Vec<String> {
        self.live().map(|(id, _)| id.clone()).collect()
    }

    fn forget_dead(&mut self) {
        self.nodes
            .retain(|_, n| n.seen.elapsed() < NODE_DEAD_AFTER * 10);
    }
}

/// Reads the shared view (a poisoned lock still holds usable data).
pub fn read(view: &SharedView) -> std::sync::RwLockReadGuard<'_, ClusterView> {
    view.read().unwrap_or_else(|e| e.into_inner())
}

fn write(view: &SharedView) -> std::sync::RwLockWriteGuard<'_, ClusterView> {
    view.write().unwrap_or_else(|e| e.into_inner())
}

/// Publishes a node-wide event.
pub fn publish(bus: &Bus, event: &NodeEvent) {
    let payload = serde_json::to_vec(event).expect("node events always serialise");
    bus.publish(bus.subject("nodes"), payload.into());
}

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
                let state = NodeState {
                    seen: Instant::now(),
                    online,
                    video_viewers,
                    ingest,
                };
                if write(&self.view)
                    .nodes
                    .insert(node.clone(), state)
                    .is_none()
                {
                    log::info!("cluster: node {node} joined");
                }
            }
            NodeEvent::Leaving { node } if node != me => {
                write(&self.view).nodes.remove(&node);
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
            _ => {}
        }
    }
}
