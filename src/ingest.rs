//! The app's side of live ingest: a pipeline spec from a room row, the node's
//! `IngestSupervisor` started with every room that has a source, and the `live` part of
//! room JSON. With many nodes, the sources' leases live in the database
//! ([`DbSourceLeases`]).

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use roomcast_actors::bus::Bus;
use roomcast_actors::cluster::SharedView;
use roomcast_actors::ingest::command::IngestSpec;
use roomcast_actors::ingest::pipeline::{GetIngestStatus, IngestPipeline};
use roomcast_actors::ingest::supervisor::{
    ClaimedSource, EnsureIngest, FindIngest, IngestSupervisor, RemoveIngest, SourceLeases,
};
use serde_json::{json, Value};

use crate::config::Settings;
use crate::db::{self, rooms::RoomRow, DbPool};
use crate::domain::SourceUrl;
use crate::startup::AppState;

/// The pipeline spec of a room, if it has a (still valid) source.
pub fn spec_for(room: &RoomRow, settings: &Settings) -> Option<IngestSpec> {
    let raw = room.source_url.as_deref()?;
    let url = match SourceUrl::parse(raw, settings.ingest.allow_files) {
        Ok(url) => url,
        Err(e) => {
            log::warn!("room {}: source refused: {e}", room.id);
            return None;
        }
    };
    Some(IngestSpec {
        room_id: room.id.clone(),
        url: url.expose().to_string(),
        redacted: url.redacted(),
        protocol_whitelist: url.protocol_whitelist().to_string(),
        hls_dir: settings.storage.dir.join("live").join(&room.id),
        ffmpeg: settings.ingest.ffmpeg.clone(),
        on_demand: room.on_demand,
    })
}

/// The sources' leases in the database.
pub struct DbSourceLeases {
    pub pool: DbPool,
    pub settings: Settings,
}

impl SourceLeases for DbSourceLeases {
    fn claim(&self, node: &str, nodes: usize) -> Result<Vec<ClaimedSource>, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let rooms = db::rooms::with_sources(&mut conn).map_err(|e| e.to_string())?;
        let specs: Vec<IngestSpec> = rooms
            .iter()
            .filter_map(|r| spec_for(r, &self.settings))
            .collect();
        let now = chrono::Utc::now().naive_utc();
        let until = db::leases::after(now, self.settings.ingest.lease_secs);
        db::leases::renew(&mut conn, node, until).map_err(|e| e.to_string())?;
        let mut holders = db::leases::holders(&mut conn, now).map_err(|e| e.to_string())?;
        let share = specs.len().div_ceil(nodes.max(1));
        let mut held = holders.values().filter(|h| *h == node).count();
        for spec in &specs {
            if held >= share || holders.contains_key(&spec.room_id) {
                continue;
            }
            if db::leases::take(&mut conn, &spec.room_id, node, now, until)
                .map_err(|e| e.to_string())?
            {
                log::info!("room {}: took the source's lease", spec.room_id);
                holders.insert(spec.room_id.clone(), node.to_string());
                held += 1;
            }
        }
        let ids: Vec<String> = specs.iter().map(|s| s.room_id.clone()).collect();
        db::leases::forget_except(&mut conn, &ids).map_err(|e| e.to_string())?;
        // Rooms another node took in this round show up in the next one.
        Ok(specs
            .into_iter()
            .map(|spec| ClaimedSource {
                holder: holders.get(&spec.room_id).cloned(),
                spec,
            })
            .collect())
    }
}

/// Starts the supervisor and a pipeline for every room with a source. With a shared bus,
/// pipelines start once the first lease round says which node pulls what.
pub async fn start_supervisor(
    pool: &DbPool,
    settings: &Settings,
    bus: &Bus,
    view: &SharedView,
) -> Result<Addr<IngestSupervisor>, db::DbError> {
    if bus.is_shared() {
        let leases = Arc::new(DbSourceLeases {
            pool: pool.clone(),
            settings: settings.clone(),
        });
        let every = Duration::from_secs(settings.ingest.lease_secs) / 3;
        return Ok(IngestSupervisor::shared(bus.clone(), Arc::clone(view), leases, every).start());
    }
    let supervisor = IngestSupervisor::default().start();
    for room in db::blocking(pool, db::rooms::with_sources).await? {
        if let Some(spec) = spec_for(&room, settings) {
            supervisor.do_send(EnsureIngest { spec });
        }
    }
    Ok(supervisor)
}

/// Brings the room's pipeline in line with its row (after a create or an update).
pub fn sync_room(state: &AppState, room: &RoomRow) {
    match spec_for(room, &state.settings) {
        Some(spec) => state.ingest.do_send(EnsureIngest { spec }),
        None => state.ingest.do_send(RemoveIngest {
            room_id: room.id.clone(),
        }),
    }
}

pub async fn pipeline(state: &AppState, room_id: &str) -> Option<Addr<IngestPipeline>> {
    state
        .ingest
        .send(FindIngest {
            room_id: room_id.to_string(),
        })
        .await
        .ok()
        .flatten()
}

/// The `live` object of a room's JSON: `null` without a source.
pub async fn live_json(state: &AppState, room: &RoomRow) -> Value {
    if room.source_url.is_none() {
        return Value::Null;
    }
    let status = match pipeline(state, &room.id).await {
        Some(p) => p.send(GetIngestStatus).await.ok(),
        None => None,
    };
    let mut live = match status {
        Some(status) => serde_json::to_value(status).unwrap_or(Value::Null),
        // A new node learns its sources with its first lease round, a second after it starts.
        None if state.bus.is_shared() && spec_for(room, &state.settings).is_some() => json!({
            "node": null, "state": "starting", "restarts": 0,
            "last_error": "waiting for a node to take the source"
        }),
        None => {
            json!({ "state": "stopped", "restarts": 0, "last_error": "the source is not valid" })
        }
    };
    live["hls_url"] = json!(format!("/hls/{}/index.m3u8", room.id));
    live["ws_video_url"] = json!(format!("/ws/rooms/{}/video", room.id));
    live
}
