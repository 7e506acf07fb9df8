//! The app's side of live ingest: a pipeline spec from a room row, the node's
//! `IngestSupervisor` started with every room that has a source, and the `live` part of
//! room JSON.

use actix::{Actor, Addr};
use roomcast_actors::ingest::command::IngestSpec;
use roomcast_actors::ingest::pipeline::{GetIngestStatus, IngestPipeline};
use roomcast_actors::ingest::supervisor::{
    EnsureIngest, FindIngest, IngestSupervisor, RemoveIngest,
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

/// Starts the supervisor and a pipeline for every room with a source.
pub async fn start_supervisor(
    pool: &DbPool,
    settings: &Settings,
) -> Result<Addr<IngestSupervisor>, db::DbError> {
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
        None => {
            json!({ "state": "stopped", "restarts": 0, "last_error": "the source is not valid" })
        }
    };
    live["hls_url"] = json!(format!("/hls/{}/index.m3u8", room.id));
    live["ws_video_url"] = json!(format!("/ws/rooms/{}/video", room.id));
    live
}
