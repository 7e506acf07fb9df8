//! Settings: built-in defaults < TOML file < `ROOMCAST__SECTION__KEY` environment variables.
//!
//! One typed tree, deserialised once at start-up. The defaults live in the `Default` impls
//! below and are fed to the `config` crate as its first layer, so the table in
//! `docs/operations.md` and the code cannot drift apart.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The whole configuration tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub sessions: SessionSettings,
    pub upload: UploadSettings,
    pub stream: StreamSettings,
    pub danmaku: DanmakuSettings,
    pub ws: WsSettings,
    pub ingest: IngestSettings,
    pub bus: BusSettings,
    pub pages: PageSettings,
    pub jobs: JobSettings,
    pub limits: LimitSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Bind address; port 0 picks a free port.
    pub addr: String,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Absolute URL used in links and Origin checks; derived from the bound address if empty.
    pub public_url: String,
    /// Peer addresses (reverse proxies) whose `X-Forwarded-For` names the client; from any
    /// other peer the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            workers: 0,
            public_url: String::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub pool_size: u32,
    /// How long a request waits for the database (a free connection, a lock, an answer)
    /// before it is told 503 with `Retry-After`; PostgreSQL's `statement_timeout` too.
    pub timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: DatabaseUrl("sqlite://data/roomcast.db".into()),
            pool_size: 8,
            timeout_secs: 5,
        }
    }
}

/// A database URL that never prints its password.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL itself, for connecting. Never log this; log `redacted()`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url_password(&self.0)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host/...` with `***`.
pub fn redact_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let user_info = &authority[..at];
    let Some(colon) = user_info.find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &user_info[..colon],
        &rest[at..]
    )
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    pub dir: PathBuf,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self { dir: "data".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    /// Sliding session lifetime.
    pub ttl_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self { ttl_secs: 1800 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadSettings {
    pub max_bytes: u64,
    /// A resumable (tus) upload with no activity for this long is removed.
    pub resumable_expiry_secs: u64,
    /// Bytes one user may hold in videos and unfinished uploads together.
    pub quota_bytes: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            max_bytes: 4 << 30,
            resumable_expiry_secs: 86_400,
            quota_bytes: 50 << 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSettings {
    pub max_connections: usize,
    /// A media response or upload body that moves less than 16 KiB in this long is closed
    /// (and its permit or upload lock freed).
    pub write_timeout_secs: u64,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_connections: 1000,
            write_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DanmakuSettings {
    /// Merge window in milliseconds.
    pub window_ms: u64,
    pub max_chars: usize,
    /// Per user per room, as `COUNT/SECONDSs`, e.g. `3/2s`.
    pub rate: String,
    /// Recent messages sent to a joining viewer.
    pub history: usize,
    /// A room with no viewers stops this long after the last one left.
    pub room_idle_secs: u64,
    /// Batches a room keeps for viewers that reconnect and resume where they left off.
    pub resume_batches: usize,
}

impl Default for DanmakuSettings {
    fn default() -> Self {
        Self {
            window_ms: 100,
            max_chars: 200,
            rate: "3/2s".into(),
            history: 50,
            room_idle_secs: 60,
            // A minute of a busy room's 100 ms windows; a quiet room's reach further back.
            resume_batches: 600,
        }
    }
}

/// How WebSockets (danmaku and video) keep their peers honest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WsSettings {
    /// A ping goes out this often.
    pub ping_ms: u64,
    /// A peer that sent nothing (not even a pong) this long is dropped.
    pub silence_ms: u64,
    /// A write (pong or frame) that has not gone out this long closes the socket.
    pub stall_ms: u64,
    /// A danmaku viewer with frames waiting whose connection took none this long is
    /// disconnected (older batches are dropped first).
    pub max_lag_ms: u64,
}

impl Default for WsSettings {
    fn default() -> Self {
        let t = roomcast_actors::socket::SocketTiming::default();
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        Self {
            ping_ms: ms(t.ping_every),
            silence_ms: ms(t.silence_limit),
            stall_ms: ms(t.stall_limit),
            max_lag_ms: ms(t.max_lag),
        }
    }
}

impl WsSettings {
    pub fn timing(&self) -> roomcast_actors::socket::SocketTiming {
        use std::time::Duration;
        roomcast_actors::socket::SocketTiming {
            ping_every: Duration::from_millis(self.ping_ms),
            silence_limit: Duration::from_millis(self.silence_ms),
            stall_limit: Duration::from_millis(self.stall_ms),
            max_lag: Duration::from_millis(self.max_lag_ms),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    pub ffmpeg: String,
    pub ffprobe: String,
    /// Allow `file:` sources; for tests only.
    pub allow_files: bool,
    /// With many nodes: how long a node's claim on a source lasts without renewal (it is
    /// renewed every third of it); another node takes over a dead holder's source after it.
    pub lease_secs: u64,
    /// `false` refuses live sources on loopback, private and shared addresses; link-local
    /// ones (cloud metadata) are always refused.
    pub allow_private_sources: bool,
    /// The longest wait between restarts of a failing source (the ladder is 1, 2, 5, 10 s).
    pub max_backoff_secs: u64,
    /// Where publishers (OBS, ffmpeg) connect with RTMP; empty turns it off.
    pub rtmp_addr: String,
    /// What the go-live panel shows as the server (`rtmp://HOST:PORT/live`); empty: the
    /// public URL's host with the bound port.
    pub rtmp_public_url: String,
    /// A publisher that sends nothing this long is disconnected.
    pub publisher_idle_ms: u64,
    /// Where publishers connect with RTMPS (RTMP over TLS); empty: no RTMPS.
    pub rtmps_addr: String,
    /// The RTMPS certificate chain and its private key (PEM files).
    pub rtmps_cert: String,
    pub rtmps_key: String,
    /// With many nodes: how long a starting node waits for its first lease round (a
    /// heartbeat, so it knows how many nodes share the sources before it takes any).
    pub first_lease_round_ms: u64,
    /// A source that delivers no fragment for this long is killed and restarted.
    pub stall_ms: u64,
    /// An on-demand source stops this long after its last video viewer left.
    pub on_demand_linger_ms: u64,
    /// Not a setting: the node's egress proxy for HTTP(S) sources, filled in at start-up.
    #[serde(skip)]
    pub egress_url: String,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            allow_files: false,
            lease_secs: 6,
            allow_private_sources: true,
            max_backoff_secs: 10,
            rtmp_addr: "127.0.0.1:1935".into(),
            rtmp_public_url: String::new(),
            publisher_idle_ms: 10_000,
            rtmps_addr: String::new(),
            rtmps_cert: String::new(),
            rtmps_key: String::new(),
            first_lease_round_ms: 1500,
            stall_ms: 10_000,
            on_demand_linger_ms: 10_000,
            egress_url: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BusSettings {
    /// `local` or `nats`.
    pub kind: String,
    pub nats_url: String,
    /// Every subject starts with this, so deployments can share a NATS server.
    pub prefix: String,
    /// A PEM file of the CA that signed the NATS server's certificate; setting it (or the
    /// client certificate) requires TLS. Empty: the system's roots, for `tls://` URLs.
    pub nats_tls_ca: String,
    /// A client certificate and its key (PEM), for servers that verify clients.
    pub nats_tls_cert: String,
    pub nats_tls_key: String,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            kind: "local".into(),
            nats_url: "nats://127.0.0.1:4222".into(),
            prefix: "roomcast".into(),
            nats_tls_ca: String::new(),
            nats_tls_cert: String::new(),
            nats_tls_key: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PageSettings {
    /// How long the home page's listings are reused before the database is asked again;
    /// 0 asks on every request.
    pub home_cache_ms: u64,
}

impl Default for PageSettings {
    fn default() -> Self {
        Self {
            home_cache_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSettings {
    /// How often files of deleted videos are removed.
    pub cleanup_deleted_videos_secs: u64,
    /// How often orphan files and stale temporary uploads are swept.
    pub sweep_orphan_files_secs: u64,
    /// How often expired sessions are deleted.
    pub delete_expired_sessions_secs: u64,
    /// How often the HLS folders of rooms that are no longer live are removed.
    pub purge_live_segments_secs: u64,
    /// Attempts before a failing job is `dead`.
    pub max_attempts: i32,
    /// The first retry's delay; it doubles with each failed attempt (at most an hour).
    pub retry_base_ms: u64,
    /// How long a worker's lease on a running job lasts; it is renewed while the job runs,
    /// so this is how long a job of a crashed node waits before another worker takes it.
    pub lease_secs: u64,
    /// How often each node looks for queued jobs when nothing wakes it.
    pub poll_ms: u64,
    /// The share of one core a long job (a cleanup backlog) may use in CPU time; it rests
    /// between batches to stay within it. 1 (the default) never rests: job threads already
    /// run at the lowest priority, which is what keeps traffic first (B5).
    pub cpu_share: f64,
    /// How long finished (`done`) job runs are kept.
    pub keep_runs_secs: u64,
    /// How often old finished runs are deleted.
    pub prune_job_runs_secs: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            cleanup_deleted_videos_secs: 10,
            sweep_orphan_files_secs: 3600,
            delete_expired_sessions_secs: 300,
            purge_live_segments_secs: 600,
            max_attempts: 5,
            retry_base_ms: 5000,
            lease_secs: 60,
            poll_ms: 1000,
            cpu_share: 1.0,
            keep_runs_secs: 7 * 86_400,
            prune_job_runs_secs: 3600,
        }
    }
}

/// Caps that keep one client from exhausting the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Password hashes (argon2, ~19 MiB each) running at once; 0 means one per core.
    pub password_hash_concurrency: usize,
    /// How long a login or sign-up waits for a hashing slot before it gets 503.
    pub password_hash_wait_ms: u64,
    /// WebSockets (danmaku and video) open at once from one client address.
    pub ws_per_ip: usize,
    /// Sign-ups per client address per hour.
    pub signups_per_hour: u32,
    /// Comments per user per minute.
    pub comments_per_minute: u32,
    /// Rooms a user may open per hour.
    pub rooms_per_hour: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            password_hash_concurrency: 0,
            password_hash_wait_ms: 2000,
            ws_per_ip: 100,
            signups_per_hour: 10,
            comments_per_minute: 10,
            rooms_per_hour: 10,
        }
    }
}

impl LimitSettings {
    /// Hashing slots with 0 resolved to the number of cores.
    pub fn hash_concurrency(&self) -> usize {
        match self.password_hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` (or `roomcast.toml` in the working directory if it exists),
    /// then `ROOMCAST__SECTION__KEY` environment variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let defaults = config::Config::try_from(&Settings::default())
            .context("serialising the built-in defaults")?;
        let mut builder = config::Config::builder().add_source(defaults);
        match file {
            Some(path) => {
                builder = builder.add_source(config::File::from(path).required(true));
            }
            None => {
                builder =
                    builder.add_source(config::File::with_name("roomcast.toml").required(false));
            }
        }
        let env = config::Environment::with_prefix("ROOMCAST")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("http.trusted_proxies");
        let settings: Settings = builder
            .add_source(env)
            .build()
            .and_then(|c| c.try_deserialize())
            .context("reading the configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.sessions.ttl_secs > 0,
            "sessions.ttl_secs must be positive"
        );
        anyhow::ensure!(
            self.jobs.cleanup_deleted_videos_secs > 0
                && self.jobs.sweep_orphan_files_secs > 0
                && self.jobs.delete_expired_sessions_secs > 0
                && self.jobs.purge_live_segments_secs > 0
                && self.jobs.prune_job_runs_secs > 0,
            "job intervals must be positive"
        );
        anyhow::ensure!(
            self.jobs.cpu_share > 0.0 && self.jobs.cpu_share <= 1.0,
            "jobs.cpu_share must be above 0 and at most 1"
        );
        anyhow::ensure!(
            self.jobs.max_attempts > 0 && self.jobs.lease_secs >= 3 && self.jobs.poll_ms > 0,
            "jobs.max_attempts and jobs.poll_ms must be positive and jobs.lease_secs at least 3"
        );
        anyhow::ensure!(
            self.stream.write_timeout_secs > 0,
            "stream.write_timeout_secs must be positive"
        );
        anyhow::ensure!(
            self.database.pool_size > 0,
            "database.pool_size must be positive"
        );
        anyhow::ensure!(
            matches!(self.bus.kind.as_str(), "local" | "nats"),
            "bus.kind must be \"local\" or \"nats\", not {:?}",
            self.bus.kind
        );
        anyhow::ensure!(
            !self.bus.prefix.is_empty()
                && self.bus.prefix.split('.').all(|t| !t.is_empty()
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')),
            "bus.prefix must be dot-separated words of letters, digits, '_' and '-', not {:?}",
            self.bus.prefix
        );
        anyhow::ensure!(
            self.ingest.max_backoff_secs >= 1,
            "ingest.max_backoff_secs must be at least 1"
        );
        anyhow::ensure!(
            [
                self.ws.ping_ms,
                self.ws.silence_ms,
                self.ws.stall_ms,
                self.ws.max_lag_ms
            ]
            .iter()
            .all(|ms| *ms >= 50),
            "ws.ping_ms, ws.silence_ms, ws.stall_ms and ws.max_lag_ms must be at least 50"
        );
        anyhow::ensure!(
            self.ingest.stall_ms >= 100 && self.ingest.on_demand_linger_ms >= 100,
            "ingest.stall_ms and ingest.on_demand_linger_ms must be at least 100"
        );
        anyhow::ensure!(
            self.ingest.publisher_idle_ms >= 100,
            "ingest.publisher_idle_ms must be at least 100"
        );
        anyhow::ensure!(
            self.ingest.rtmps_addr.is_empty()
                || (!self.ingest.rtmps_cert.is_empty() && !self.ingest.rtmps_key.is_empty()),
            "ingest.rtmps_addr needs ingest.rtmps_cert and ingest.rtmps_key (PEM files)"
        );
        anyhow::ensure!(
            self.ingest.lease_secs >= 3,
            "ingest.lease_secs must be at least 3"
        );
        anyhow::ensure!(
            self.bus.nats_tls_cert.is_empty() == self.bus.nats_tls_key.is_empty(),
            "bus.nats_tls_cert and bus.nats_tls_key go together: set both or neither"
        );
        for (key, path) in [
            ("bus.nats_tls_ca", &self.bus.nats_tls_ca),
            ("bus.nats_tls_cert", &self.bus.nats_tls_cert),
            ("bus.nats_tls_key", &self.bus.nats_tls_key),
        ] {
            anyhow::ensure!(
                path.is_empty() || std::path::Path::new(path).is_file(),
                "{key}: {path:?} is not a readable file"
            );
        }
        Ok(())
    }

    /// Every setting as JSON, with passwords in URLs replaced by `***`.
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("settings always serialise");
        value["database"]["url"] = self.database.url.redacted().into();
        value["bus"]["nats_url"] = redact_url_password(&self.bus.nats_url).into();
        value
    }

    /// Worker count with 0 resolved to the number of cores.
    pub fn workers(&self) -> usize {
        match self.http.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_database_url_is_redacted() {
        let url = DatabaseUrl("postgres://app:s3cret@db:5432/roomcast".into());
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/roomcast");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn a_url_without_a_password_is_unchanged() {
        for url in [
            "sqlite://data/roomcast.db",
            "postgres://app@db/x",
            "postgres://db/x",
        ] {
            assert_eq!(redact_url_password(url), url);
        }
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_taken_for_credentials() {
        assert_eq!(
            redact_url_password("sqlite://data/a:b@c.db"),
            "sqlite://data/a:b@c.db"
        );
    }

    #[test]
    fn defaults_match_the_design_table() {
        let s = Settings::default();
        assert_eq!(s.http.addr, "127.0.0.1:8080");
        assert_eq!(s.database.url.expose(), "sqlite://data/roomcast.db");
        assert_eq!(s.sessions.ttl_secs, 1800);
        assert_eq!(s.upload.max_bytes, 4 * 1024 * 1024 * 1024);
        assert_eq!(s.danmaku.window_ms, 100);
    }
}
