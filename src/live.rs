//! The app's side of the live rooms: their storage over the database, and the node's
//! `RoomRegistry` built from the settings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::{Actor, Addr, Arbiter};
use roomcast_actors::bus::Bus;
use roomcast_actors::cluster::SharedView;
use roomcast_actors::metrics::RoomMetrics;
use roomcast_actors::port::PortResult;
use roomcast_actors::protocol::Item;
use roomcast_actors::registry::{GetOnlineCounts, RoomRegistry};
use roomcast_actors::room::{RateLimit, RoomConfig};
use roomcast_actors::store::{DanmakuStore, RoomRules, StoredItem};

use crate::config::Settings;
use crate::context::AppState;
use crate::db::{self, DbPool};

/// `DanmakuStore` over the database pool.
pub struct DbDanmakuStore {
    pub pool: DbPool,
}

impl DanmakuStore for DbDanmakuStore {
    fn save(&self, room_id: &str, items: &[StoredItem]) -> PortResult<()> {
        let mut conn = self.pool.get().map_err(db::port)?;
        db::danmaku::insert_room_batch(&mut conn, room_id, items).map_err(db::port)
    }

    fn recent(&self, room_id: &str, limit: usize) -> PortResult<Vec<Item>> {
        let mut conn = self.pool.get().map_err(db::port)?;
        db::danmaku::recent_in_room(&mut conn, room_id, limit as i64).map_err(db::port)
    }

    fn active_bans(&self, room_id: &str) -> PortResult<Vec<(String, SystemTime)>> {
        let mut conn = self.pool.get().map_err(db::port)?;
        let bans = db::danmaku::active_bans(&mut conn, room_id).map_err(db::port)?;
        Ok(bans
            .into_iter()
            .map(|(user, until)| (user, SystemTime::from(until.and_utc())))
            .collect())
    }

    fn rules(&self, room_id: &str) -> PortResult<RoomRules> {
        let mut conn = self.pool.get().map_err(db::port)?;
        let (words, slow, moderators) =
            db::moderation::room_rules(&mut conn, room_id).map_err(db::port)?;
        Ok(RoomRules {
            words,
            slow_mode: Duration::from_secs(slow.max(0) as u64),
            moderators,
        })
    }

    fn global_words(&self) -> PortResult<Vec<String>> {
        let mut conn = self.pool.get().map_err(db::port)?;
        db::moderation::words(&mut conn, db::moderation::GLOBAL_SCOPE).map_err(db::port)
    }
}

/// Online counts of these rooms from the node's registry (0 for rooms without an actor).
pub async fn online_counts(state: &AppState, ids: Vec<String>) -> HashMap<String, u64> {
    state
        .rooms
        .send(GetOnlineCounts { ids })
        .await
        .unwrap_or_default()
}

/// The online count of one room.
pub async fn online_count(state: &AppState, id: &str) -> u64 {
    online_counts(state, vec![id.to_string()])
        .await
        .get(id)
        .copied()
        .unwrap_or(0)
}

/// The room settings from the configuration.
pub fn room_config(settings: &Settings) -> anyhow::Result<RoomConfig> {
    Ok(RoomConfig {
        window: Duration::from_millis(settings.danmaku.window_ms.max(1)),
        rate: RateLimit::parse(&settings.danmaku.rate).map_err(anyhow::Error::msg)?,
        history: settings.danmaku.history,
        idle_stop: Duration::from_secs(settings.danmaku.room_idle_secs),
        resume_batches: settings.danmaku.resume_batches,
    })
}

/// Starts the node's registry; rooms run on an arbiter of their own, off the HTTP workers.
pub fn start_registry(
    settings: &Settings,
    pool: &DbPool,
    metrics: RoomMetrics,
    bus: &Bus,
    view: &SharedView,
) -> anyhow::Result<Addr<RoomRegistry>> {
    let config = room_config(settings)?;
    let store = Arc::new(DbDanmakuStore { pool: pool.clone() });
    let rooms_arbiter = Arbiter::new().handle();
    let (bus, view) = (bus.clone(), Arc::clone(view));
    Ok(RoomRegistry::new(config, store, metrics, rooms_arbiter, bus, view).start())
}
