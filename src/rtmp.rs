//! The app's side of RTMP publishing: the listener on `ingest.rtmp_addr`, and the gate that
//! turns a stream key into the room's pushed source (the protocol itself is
//! `roomcast_actors::rtmp`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use anyhow::Context as _;
use roomcast_actors::bus::Bus;
use roomcast_actors::ingest::command::{IngestSpec, IngestTiming};
use roomcast_actors::ingest::supervisor::IngestSupervisor;
use roomcast_actors::port::PortResult;
use roomcast_actors::rtmp::{self, PublishGate, Refused, RtmpContext, RtmpMetrics};

use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::stream_keys;

/// Binds `ingest.rtmp_addr` and `ingest.rtmps_addr` (each off when empty) and serves
/// publishers on an arbiter of their own. Returns the plain RTMP address bound.
pub fn start(
    settings: &Settings,
    pool: &DbPool,
    bus: &Bus,
    ingest: Addr<IngestSupervisor>,
    registry: &prometheus::Registry,
) -> anyhow::Result<Option<SocketAddr>> {
    let plain = settings.ingest.rtmp_addr.trim();
    let tls = settings.ingest.rtmps_addr.trim();
    if plain.is_empty() && tls.is_empty() {
        return Ok(None);
    }
    let ctx = Arc::new(RtmpContext {
        gate: Box::new(DbPublishGate {
            pool: pool.clone(),
            settings: settings.clone(),
            node: bus.is_shared().then(|| bus.node().to_string()),
        }),
        ingest,
        metrics: RtmpMetrics::new(registry)?,
        idle_after: Duration::from_millis(settings.ingest.publisher_idle_ms),
    });
    let arbiter = actix::Arbiter::new();
    let mut bound_plain = None;
    if !plain.is_empty() {
        let listener = bind(plain, "ingest.rtmp_addr")?;
        let bound = listener.local_addr()?;
        let ctx = Arc::clone(&ctx);
        arbiter.spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => rtmp::listener::serve(listener, ctx).await,
                Err(e) => log::error!("rtmp: the listener cannot be used: {e}"),
            }
        });
        log::info!("rtmp listening on {bound}");
        bound_plain = Some(bound);
    }
    if !tls.is_empty() {
        let acceptor = rtmp::listener::tls_acceptor(
            std::path::Path::new(&settings.ingest.rtmps_cert),
            std::path::Path::new(&settings.ingest.rtmps_key),
        )
        .map_err(|e| anyhow::anyhow!("RTMPS (ingest.rtmps_cert, ingest.rtmps_key): {e}"))?;
        let listener = bind(tls, "ingest.rtmps_addr")?;
        let bound = listener.local_addr()?;
        arbiter.spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => rtmp::listener::serve_tls(listener, acceptor, ctx).await,
                Err(e) => log::error!("rtmps: the listener cannot be used: {e}"),
            }
        });
        log::info!("rtmps listening on {bound}");
    }
    Ok(bound_plain)
}

fn bind(addr: &str, key: &str) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("binding the publishers' listener to {addr} ({key})"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What OBS is told to use as its server: `ingest.rtmp_public_url`, else the public URL's
/// host with the bound port.
pub fn server_url(settings: &Settings, public_url: &str, bound: SocketAddr) -> String {
    if !settings.ingest.rtmp_public_url.is_empty() {
        return settings
            .ingest
            .rtmp_public_url
            .trim_end_matches('/')
            .to_string();
    }
    let host = public_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1");
    format!("rtmp://{host}:{}/{}", bound.port(), rtmp::APP)
}

/// The pushed source of a room (FLV on ffmpeg's stdin).
pub fn push_spec(room_id: &str, settings: &Settings) -> IngestSpec {
    IngestSpec {
        room_id: room_id.to_string(),
        url: "pipe:0".into(),
        redacted: "an RTMP publisher".into(),
        protocol_whitelist: "pipe".into(),
        http_proxy: None,
        max_backoff: Duration::from_secs(settings.ingest.max_backoff_secs),
        hls_dir: settings.storage.dir.join("live").join(room_id),
        ffmpeg: settings.ingest.ffmpeg.clone(),
        on_demand: false,
        timing: IngestTiming {
            stall_after: Duration::from_millis(settings.ingest.stall_ms),
            ..IngestTiming::default()
        },
        pushed: true,
    }
}

/// Stream keys checked against the database; among nodes, pushed rooms' leases there too.
struct DbPublishGate {
    pool: DbPool,
    settings: Settings,
    /// This node, when it shares its rooms with others.
    node: Option<String>,
}

impl PublishGate for DbPublishGate {
    fn open(&self, stream_key: &str) -> PortResult<Result<IngestSpec, Refused>> {
        let Some((room_id, secret)) = stream_keys::split(stream_key) else {
            return Ok(Err(Refused::WrongKey));
        };
        let mut conn = self.pool.get().map_err(db::port)?;
        let stored = db::rooms::stream_key(&mut conn, room_id).map_err(db::port)?;
        if !stored.is_some_and(|stored| stream_keys::secret_matches(&stored, secret)) {
            return Ok(Err(Refused::WrongKey));
        }
        let Some(room) = db::rooms::find(&mut conn, room_id).map_err(db::port)? else {
            return Ok(Err(Refused::WrongKey));
        };
        if room.source_url.is_some() {
            return Ok(Err(Refused::PullSource));
        }
        Ok(Ok(push_spec(&room.id, &self.settings)))
    }

    fn hold(&self, room_id: &str, publisher: u64) -> PortResult<bool> {
        let Some(node) = &self.node else {
            return Ok(true);
        };
        let token = db::leases::publisher_token(node, publisher);
        let now = chrono::Utc::now().naive_utc();
        let until = db::leases::after(now, self.settings.ingest.lease_secs);
        let mut conn = self.pool.get().map_err(db::port)?;
        db::leases::take_pushed(&mut conn, room_id, node, &token, now, until).map_err(db::port)
    }

    fn release(&self, room_id: &str, publisher: u64) -> PortResult<()> {
        let Some(node) = &self.node else {
            return Ok(());
        };
        let token = db::leases::publisher_token(node, publisher);
        let mut conn = self.pool.get().map_err(db::port)?;
        db::leases::release_pushed(&mut conn, room_id, &token)
            .map(drop)
            .map_err(db::port)
    }
}
