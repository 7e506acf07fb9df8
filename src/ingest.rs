//! The app's side of live ingest: a pipeline spec from a room row, the node's
//! `IngestSupervisor` started with every room that has a source, and the `live` part of
//! room JSON. The sources' leases (with many nodes) and admins' stops live in the database
//! ([`DbSources`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use roomcast_actors::bus::Bus;
use roomcast_actors::cluster::{self as view, NodeEvent, SharedView};
use roomcast_actors::ingest::command::{IngestSpec, IngestTiming};
use roomcast_actors::ingest::lease_plan::{self, LeaseView};
use roomcast_actors::ingest::pipeline::{CutOffPublisher, GetIngestStatus, IngestPipeline};
use roomcast_actors::ingest::supervisor::{
    ClaimedSource, Claims, EnsureIngest, EnsurePushed, FindIngest, IngestSupervisor, LeaseRound,
    ListLive, RemoveIngest, SourceStore,
};
use roomcast_actors::port::PortResult;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::context::AppState;
use crate::db::{self, rooms::RoomRow, DbPool};
use crate::domain::SourceUrl;

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
        // What logs and the status may say of the source: its scheme, host and port.
        redacted: roomcast_actors::ingest::redact::origin(url.expose()),
        protocol_whitelist: url.protocol_whitelist().to_string(),
        // HTTP(S) sources reach the network only through the node's egress proxy, which
        // holds every connection (redirects, playlist segments) to the source rules.
        http_proxy: matches!(url.scheme(), "http" | "https")
            .then(|| settings.ingest.egress_url.clone())
            .filter(|u| !u.is_empty()),
        max_backoff: Duration::from_secs(settings.ingest.max_backoff_secs),
        hls_dir: settings.storage.dir.join("live").join(&room.id),
        ffmpeg: settings.ingest.ffmpeg.clone(),
        on_demand: room.on_demand,
        timing: IngestTiming {
            stall_after: Duration::from_millis(settings.ingest.stall_ms),
            linger: Duration::from_millis(settings.ingest.on_demand_linger_ms),
            ..IngestTiming::default()
        },
        pushed: false,
    })
}

/// The sources' leases and admins' stops in the database. The fair-share rule itself is
/// `roomcast_actors::ingest::lease_plan`; this adapter reads its inputs and carries out its
/// steps.
pub struct DbSources {
    pub pool: DbPool,
    pub settings: Settings,
}

impl SourceStore for DbSources {
    fn claim(&self, round: &LeaseRound) -> PortResult<Claims> {
        let node = round.node.as_str();
        let mut conn = self.pool.get().map_err(db::port)?;
        let rows = db::rooms::with_sources(&mut conn).map_err(db::port)?;
        let sources: Vec<(IngestSpec, bool)> = rows
            .iter()
            .filter_map(|r| spec_for(r, &self.settings).map(|spec| (spec, r.source_stopped)))
            .collect();
        let lease_secs = self.settings.ingest.lease_secs;
        let now = chrono::Utc::now().naive_utc();
        let until = db::leases::after(now, lease_secs);
        db::leases::renew(&mut conn, node, until).map_err(db::port)?;
        let mut holders = db::leases::holders(&mut conn, now).map_err(db::port)?;
        // Expired a whole lease ago and still free: the nodes below their share are gone or
        // failing, so anyone takes it.
        let orphans: HashSet<String> =
            db::leases::expired_before(&mut conn, db::leases::before(now, lease_secs))
                .map_err(db::port)?
                .into_iter()
                .collect();
        let rooms: Vec<String> = sources.iter().map(|(s, _)| s.room_id.clone()).collect();
        let planned = lease_plan::to_take(&LeaseView {
            node,
            others: &round.others,
            sources: &rooms,
            holders: &holders,
            orphans: &orphans,
        });
        for room in planned {
            // Another node may have taken it since the holders were read: then it is theirs.
            if db::leases::take(&mut conn, &room, node, now, until).map_err(db::port)? {
                log::info!("room {room}: took the source's lease");
                holders.insert(room, node.to_string());
            }
        }
        let after_takes = LeaseView {
            node,
            others: &round.others,
            sources: &rooms,
            holders: &holders,
            orphans: &orphans,
        };
        if let Some(room) = lease_plan::to_give_back(&after_takes, &round.viewers) {
            if db::leases::give_back(&mut conn, &room, node, now).map_err(db::port)? {
                log::info!("room {room}: gave the source's lease back (over its share)");
                holders.remove(&room);
            }
        }
        db::leases::forget_except(&mut conn, &rooms, now).map_err(db::port)?;
        let lost_publishers = self.renew_publishers(&mut conn, round, now, until)?;
        // Rooms another node took in this round show up in the next one.
        let sources = sources
            .into_iter()
            .map(|(spec, stopped)| ClaimedSource {
                holder: holders.get(&spec.room_id).cloned(),
                spec,
                stopped,
            })
            .collect();
        Ok(Claims {
            sources,
            lost_publishers,
        })
    }

    fn clear_stop(&self, room_id: &str) -> PortResult<()> {
        let mut conn = self.pool.get().map_err(db::port)?;
        db::rooms::set_source_stopped(&mut conn, room_id, false)
            .map(drop)
            .map_err(db::port)
    }
}

impl DbSources {
    /// Renews the leases of the pushed rooms whose publisher is on this node; returns those
    /// another node's publisher holds now (this node could not renew in time).
    fn renew_publishers(
        &self,
        conn: &mut db::DbConnection,
        round: &LeaseRound,
        now: chrono::NaiveDateTime,
        until: chrono::NaiveDateTime,
    ) -> PortResult<Vec<String>> {
        let mut lost = Vec::new();
        for (room, publisher) in &round.publishing {
            let token = db::leases::publisher_token(&round.node, *publisher);
            if !db::leases::take_pushed(conn, room, &round.node, &token, now, until)
                .map_err(db::port)?
            {
                lost.push(room.clone());
            }
        }
        Ok(lost)
    }
}

/// Starts the supervisor and a pipeline for every room with a source. With a shared bus,
/// pipelines start once the first lease round says which node pulls what.
pub async fn start_supervisor(
    pool: &DbPool,
    settings: &Settings,
    bus: &Bus,
    view: &SharedView,
    registry: &prometheus::Registry,
) -> Result<Addr<IngestSupervisor>, db::DbError> {
    let store = Arc::new(DbSources {
        pool: pool.clone(),
        settings: settings.clone(),
    });
    if bus.is_shared() {
        let every = Duration::from_secs(settings.ingest.lease_secs) / 3;
        let first = Duration::from_millis(settings.ingest.first_lease_round_ms);
        let rounds = prometheus::IntCounter::new(
            "roomcast_ingest_lease_rounds_total",
            "Lease rounds this node completed (every third of ingest.lease_secs)",
        )
        .expect("valid metric");
        if let Err(e) = registry.register(Box::new(rounds.clone())) {
            log::warn!("ingest lease metric: {e}");
        }
        let supervisor =
            IngestSupervisor::shared(bus.clone(), Arc::clone(view), store, every, first)
                .count_rounds(rounds);
        return Ok(supervisor.start());
    }
    let supervisor = IngestSupervisor::single(store).start();
    for room in db::blocking(pool, db::rooms::with_sources).await? {
        if let Some(spec) = spec_for(&room, settings) {
            let stopped = room.source_stopped;
            supervisor.do_send(EnsureIngest { spec, stopped });
        }
    }
    Ok(supervisor)
}

/// Brings the room's pipeline in line with its row (after a create or an update).
pub fn sync_room(state: &AppState, room: &RoomRow) {
    match spec_for(room, &state.settings) {
        Some(spec) => state.ingest.do_send(EnsureIngest {
            spec,
            stopped: room.source_stopped,
        }),
        None => state.ingest.do_send(RemoveIngest {
            room_id: room.id.clone(),
        }),
    }
}

/// The `live` object of a room without a source URL: its publisher's run, or `waiting`
/// (`null` when publishing is turned off).
async fn pushed_live_json(state: &AppState, room: &RoomRow, reveal: bool) -> Value {
    if state.rtmp_url.is_none() {
        return Value::Null;
    }
    let status = match pipeline(state, &room.id).await {
        Some(p) => p.send(GetIngestStatus).await.ok(),
        // Nobody watches here yet: the node with the publisher may still report it.
        None => view::read(&state.view).ingest(&room.id).map(|(_, s)| s),
    };
    let mut live = match status {
        Some(status) => serde_json::to_value(status).unwrap_or(Value::Null),
        None => json!({ "state": "waiting", "restarts": 0, "last_error": null }),
    };
    if !reveal {
        // Who publishes, and from where, is for the owner and admins.
        if let Some(live) = live.as_object_mut() {
            live.remove("publisher");
            live.remove("last_error");
        }
    }
    live["hls_url"] = json!(format!("/hls/{}/index.m3u8", room.id));
    live["ws_video_url"] = json!(format!("/ws/rooms/{}/video", room.id));
    live
}

/// The pipeline a video viewer joins: the room's, or for a room that publishers push to,
/// one started now that waits for its publisher (so the viewer sees the stream begin).
/// The room is read from the database only when it has no pipeline yet.
pub async fn pipeline_for_viewer(
    state: &AppState,
    room_id: &str,
) -> Result<Option<Addr<IngestPipeline>>, db::DbError> {
    if let Some(p) = pipeline(state, room_id).await {
        return Ok(Some(p));
    }
    if state.rtmp_url.is_none() {
        return Ok(None);
    }
    let id = room_id.to_string();
    let Some(room) = db::blocking(&state.pool, move |c| db::rooms::find(c, &id)).await? else {
        return Ok(None);
    };
    if room.source_url.is_some() {
        return Ok(None);
    }
    let spec = crate::rtmp::push_spec(&room.id, &state.settings);
    Ok(state.ingest.send(EnsurePushed { spec }).await.ok())
}

/// Cuts off the room's publisher on whichever node it is; false when no node is known to
/// have one.
pub async fn cut_off_publisher(state: &AppState, room_id: &str) -> bool {
    let here = match pipeline(state, room_id).await {
        Some(p) => {
            let known = p
                .send(GetIngestStatus)
                .await
                .is_ok_and(|s| s.publisher.is_some());
            p.do_send(CutOffPublisher);
            known
        }
        None => false,
    };
    if !state.bus.is_shared() {
        return here;
    }
    let event = NodeEvent::CutOffPublisher {
        node: state.bus.node().to_string(),
        room: room_id.to_string(),
    };
    view::publish(&state.bus, &event);
    here || view::read(&state.view).ingest(room_id).is_some()
}

/// The rooms whose video is live now.
pub async fn live_rooms(state: &AppState) -> std::collections::HashSet<String> {
    state.ingest.send(ListLive).await.unwrap_or_default()
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

/// The `live` object of a room's JSON: `null` without a source. Without `reveal` (anyone
/// but the owner and admins) the error is a fixed sentence for the state, never ffmpeg's.
pub async fn live_json(state: &AppState, room: &RoomRow, reveal: bool) -> Value {
    if room.source_url.is_none() {
        return pushed_live_json(state, room, reveal).await;
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
    if !reveal {
        let public = match live["state"].as_str() {
            Some("backoff") => json!("the source cannot be reached; retrying"),
            _ => Value::Null,
        };
        live["last_error"] = public;
    }
    live["hls_url"] = json!(format!("/hls/{}/index.m3u8", room.id));
    live["ws_video_url"] = json!(format!("/ws/rooms/{}/video", room.id));
    live
}
