//! What a node knows of the others: the [`NodeEvent`]s nodes publish on `{prefix}.nodes`
//! and the [`ClusterView`] of their latest heartbeats, shared by the node's actors. A leaf
//! module: the `Cluster` actor fills the view; rooms, pipelines and the supervisor read it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bus::Bus;
use crate::ingest::status::{IngestAction, IngestStatus};

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
    /// The site's filter words changed: read them again.
    FiltersChanged {
        node: String,
    },
    /// Cut off the room's publisher, on whichever node it is (kicked, or its key replaced).
    CutOffPublisher {
        node: String,
        room: String,
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

    /// The rooms whose source another live node runs now (pulled, or its publisher's).
    pub fn running_rooms(&self) -> Vec<String> {
        use crate::ingest::status::IngestState;
        self.live()
            .flat_map(|(_, n)| n.ingest.iter())
            .filter(|(_, status)| status.state == IngestState::Running)
            .map(|(room, _)| room.clone())
            .collect()
    }

    /// How many other nodes are alive.
    pub fn live_nodes(&self) -> usize {
        self.live().count()
    }

    /// The names of the other live nodes.
    pub fn live_node_ids(&self) -> Vec<String> {
        self.live().map(|(id, _)| id.clone()).collect()
    }

    /// Forgets nodes long gone.
    pub fn forget_dead(&mut self) {
        self.nodes
            .retain(|_, n| n.seen.elapsed() < NODE_DEAD_AFTER * 10);
    }

    /// Records a node's heartbeat; `true` if the node was not known.
    pub fn heard(
        &mut self,
        node: String,
        online: HashMap<String, u64>,
        video_viewers: HashMap<String, u64>,
        ingest: HashMap<String, IngestStatus>,
    ) -> bool {
        let state = NodeState {
            seen: Instant::now(),
            online,
            video_viewers,
            ingest,
        };
        self.nodes.insert(node, state).is_none()
    }

    /// A node said it is leaving.
    pub fn remove(&mut self, node: &str) {
        self.nodes.remove(node);
    }
}

/// Reads the shared view (a poisoned lock still holds usable data).
pub fn read(view: &SharedView) -> std::sync::RwLockReadGuard<'_, ClusterView> {
    view.read().unwrap_or_else(|e| e.into_inner())
}

/// Writes the shared view (a poisoned lock still holds usable data).
pub fn write(view: &SharedView) -> std::sync::RwLockWriteGuard<'_, ClusterView> {
    view.write().unwrap_or_else(|e| e.into_inner())
}

/// Publishes a node-wide event.
pub fn publish(bus: &Bus, event: &NodeEvent) {
    let payload = serde_json::to_vec(event).expect("node events always serialise");
    bus.publish(bus.subject("nodes"), payload.into());
}
