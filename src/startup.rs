//! `Application`: everything `roomcast serve` runs, built so that tests can start it on
//! port 0 and learn the real port.
//!
//! Shared parts (the pool, the session cache, the scheduler) are created once here, outside
//! the `HttpServer::new` closure, and handed to every worker as `web::Data`.

use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix::{Actor, Addr};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use prometheus::{Gauge, IntGauge};
use roomcast_actors::bus::{Bus, BusMetrics, NatsSecurity};
use roomcast_actors::cluster::{Cluster, Leave, SharedView};
use roomcast_actors::metrics::RoomMetrics;
use roomcast_actors::room::RateLimit;

use crate::auth::{LoginThrottle, SessionService};
use crate::config::Settings;
use crate::context::AppState;
use crate::db::{self, DbPool};
use crate::egress::Egress;
use crate::jobs::JobSystem;
use crate::limits::Limits;
use crate::media::files::OpenFiles;
use crate::media::{MediaTools, Storage, StreamLimiter};
use crate::metrics::{Metrics, RecordMetrics};
use crate::pages::home::HomeFeed;
use crate::videos::flood::VideoFlood;
use crate::videos::resumable::ResumableUploads;
use crate::videos::served::ServedVideos;
use crate::{ingest, live, routes, security};

/// A built, bound, not yet awaited server.
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
    jobs: JobSystem,
    bus: Bus,
    cluster: Option<Addr<Cluster>>,
}

impl Application {
    /// Connects to the database, applies migrations, binds the listener and starts the
    /// node's actors. Must be called inside an actix `System`.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let pool = open_database(&settings).await?;
        let storage = Storage::new(&settings.storage.dir);
        storage.prepare().context("preparing storage.dir")?;
        // Alone on its storage (no bus), a starting node has nothing in flight; with other
        // nodes, only what stopped growing is theirs to lose.
        let now = std::time::SystemTime::now();
        let abandoned = if settings.bus.kind == "nats" {
            crate::jobs::sweep_orphan_files::remove_abandoned(&storage, now)
        } else {
            crate::jobs::sweep_orphan_files::remove_all_abandoned(&storage, now)
        };
        match abandoned {
            Ok(n) if n > 0 => log::info!("removed {n} abandoned upload or scratch files"),
            Ok(_) => {}
            Err(e) => log::warn!("removing abandoned upload files: {e}"),
        }
        let tools = MediaTools {
            ffmpeg: settings.ingest.ffmpeg.clone(),
            ffprobe: settings.ingest.ffprobe.clone(),
        };
        if let Err(e) = web::block({
            let tools = tools.clone();
            move || tools.check()
        })
        .await?
        {
            // The rest of the site works without them; uploads answer with this error.
            log::error!("{e}");
        }

        let listener = TcpListener::bind(&settings.http.addr)
            .with_context(|| format!("binding http.addr {}", settings.http.addr))?;
        let addr = listener.local_addr()?;
        let public_url = match settings.http.public_url.trim_end_matches('/') {
            "" => format!("http://{addr}"),
            url => url.to_string(),
        };
        log::info!("listening on http://{addr} (public URL {public_url})");

        let metrics = Metrics::new();
        let uptime = Gauge::new("roomcast_uptime_seconds", "Seconds since this node started")?;
        metrics.registry().register(Box::new(uptime.clone()))?;
        let storage_free = IntGauge::new(
            "roomcast_storage_free_bytes",
            "Bytes free on the file system of storage.dir",
        )?;
        metrics
            .registry()
            .register(Box::new(storage_free.clone()))?;
        let jobs = JobSystem::start(&pool, &settings, &storage, &tools)
            .await
            .context("registering the job schedules")?;
        crate::jobs::process_upload::resume(&pool, &jobs).await?;
        let bus = connect_bus(&settings, &jobs.worker_id, &metrics).await?;
        let egress = Egress::start(settings.ingest.allow_private_sources, metrics.registry())
            .await
            .context("starting the ingest egress proxy")?;
        settings.ingest.egress_url = egress.url();
        let view = SharedView::default();
        let ingest =
            ingest::start_supervisor(&pool, &settings, &bus, &view, metrics.registry()).await?;
        let rtmp = crate::rtmp::start(&settings, &pool, &bus, ingest.clone(), metrics.registry())?;
        let rtmp_url = rtmp.map(|bound| crate::rtmp::server_url(&settings, &public_url, bound));
        let flood = RateLimit::parse(&settings.danmaku.rate).map_err(anyhow::Error::msg)?;
        let room_metrics = RoomMetrics::new(metrics.registry())?;
        let rooms = live::start_registry(&settings, &pool, room_metrics.clone(), &bus, &view)?;
        let sessions = web::Data::new(
            SessionService::new(
                pool.clone(),
                Duration::from_secs(settings.sessions.ttl_secs),
            )
            .with_bus(bus.clone()),
        );
        let cluster = bus.is_shared().then(|| {
            let sessions = sessions.get_ref().clone();
            let forget: roomcast_actors::cluster::SessionsHook =
                Box::new(move |stale| sessions.forget_here(stale));
            Cluster::new(
                bus.clone(),
                std::sync::Arc::clone(&view),
                rooms.clone(),
                ingest.clone(),
                forget,
            )
            .start()
        });
        let throttle = web::Data::new(LoginThrottle::default());
        let workers = settings.workers();
        let home_feed = HomeFeed::new(Duration::from_millis(settings.pages.home_cache_ms));
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            public_url,
            metrics: metrics.clone(),
            uptime,
            storage_free,
            started_at: Instant::now(),
            jobs: jobs.clone(),
            home_feed,
            rooms,
            room_metrics,
            ingest,
            bus: bus.clone(),
            view,
            streams: StreamLimiter::new(settings.stream.max_connections),
            resumable: ResumableUploads::new(
                storage.clone(),
                Duration::from_secs(settings.upload.resumable_expiry_secs),
            ),
            storage,
            tools,
            served: ServedVideos::default(),
            files: OpenFiles::default(),
            video_flood: Mutex::new(VideoFlood::new(flood)),
            limits: Limits::new(&settings),
            rtmp_url,
            settings,
        });

        let body_timeout = state.write_timeout();
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(move |req, srv| {
                    let req = crate::limits::progress::stalled_bodies_end(req, body_timeout);
                    actix_web::dev::Service::call(srv, req)
                })
                .wrap(security::headers())
                .wrap(RecordMetrics(metrics.clone()))
                .app_data(state.clone())
                .app_data(sessions.clone())
                .app_data(throttle.clone())
                .configure(routes::configure)
        })
        .on_connect(crate::conn::ConnSocket::on_connect)
        .workers(workers)
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        Ok(Self {
            port: addr.port(),
            server,
            pool,
            jobs,
            bus,
            cluster,
        })
    }

    /// The port actually bound (useful when `http.addr` asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// The node's job system (to enqueue a job now).
    pub fn jobs(&self) -> JobSystem {
        self.jobs.clone()
    }

    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (by its handle or by SIGINT/SIGTERM). Then, with
    /// other nodes, it tells them it left and gives up its sources' leases, so another node
    /// takes them over at once instead of after the lease runs out.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        match self.jobs.release_own().await {
            Ok(n) if n > 0 => log::info!("released {n} running jobs"),
            Ok(_) => {}
            Err(e) => log::warn!("releasing running jobs: {e}"),
        }
        if let Some(cluster) = self.cluster {
            let _ = cluster.send(Leave).await;
            let node = self.bus.node().to_string();
            match db::blocking(&self.pool, move |c| db::leases::release(c, &node)).await {
                Ok(n) if n > 0 => log::info!("released {n} source leases"),
                Ok(_) => {}
                Err(e) => log::warn!("releasing source leases: {e}"),
            }
            // Let the goodbye reach NATS before the process ends.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served
    }
}

/// The node's bus: NATS when `bus.kind = "nats"` (failing now if it cannot be reached),
/// otherwise local.
async fn connect_bus(settings: &Settings, node: &str, metrics: &Metrics) -> anyhow::Result<Bus> {
    let bus_metrics = BusMetrics::new(metrics.registry())?;
    if settings.bus.kind != "nats" {
        return Ok(Bus::local(node));
    }
    let file = |path: &str| (!path.is_empty()).then(|| std::path::PathBuf::from(path));
    let bus = &settings.bus;
    let security = NatsSecurity {
        tls_ca: file(&bus.nats_tls_ca),
        tls_client: file(&bus.nats_tls_cert).zip(file(&bus.nats_tls_key)),
    };
    Bus::connect_nats(
        &settings.bus.nats_url,
        security,
        &settings.bus.prefix,
        node,
        bus_metrics,
    )
    .await
    .map_err(anyhow::Error::msg)
}

/// Connects (failing fast with the real cause) and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<DbPool> {
    let db_settings = settings.database.clone();
    let pool = web::block(move || {
        let pool = db::connect(&db_settings)?;
        let mut conn = pool.get()?;
        let applied = db::run_migrations(&mut conn)
            .with_context(|| format!("database {}", db_settings.url.redacted()))?;
        if applied > 0 {
            log::info!(
                "database {}: applied {applied} migrations",
                db_settings.url.redacted()
            );
        }
        anyhow::Ok(pool)
    })
    .await??;
    Ok(pool)
}
