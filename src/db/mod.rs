//! Database access: one connection type over SQLite and PostgreSQL, an r2d2 pool, embedded
//! migrations, and `blocking` to run queries off the async threads.
//!
//! The URL's scheme picks the backend (`sqlite://PATH` or `postgres://...`). The pool's
//! manager is our own so that a bad URL fails with its real cause instead of the
//! multi-connection's generic "invalid connection url".

pub mod audit;
pub mod comments;
pub mod danmaku;
pub mod home;
pub mod jobs;
pub mod leases;
pub mod moderation;
pub mod rooms;
pub mod schema;
pub mod sessions;
pub mod users;
pub mod video_danmaku;
pub mod videos;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseSettings;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend; diesel queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<DbManager>;

/// Which backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::BadUrl("sqlite:// needs a file path".into()));
            }
            Ok(Backend::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres(with_network_timeouts(url)))
        } else {
            Err(DbError::BadUrl(
                "the scheme must be sqlite:// or postgres://".into(),
            ))
        }
    }
}

/// A server that never answers should fail in seconds, not after the kernel's TCP
/// time-outs: libpq waits `connect_timeout` seconds to connect, and keepalives plus
/// `tcp_user_timeout` notice a peer that went away mid-query. Parameters the URL already
/// sets are kept.
fn with_network_timeouts(url: &str) -> String {
    let mut url = url.to_string();
    for (key, value) in PG_NETWORK_PARAMS {
        if url.contains(&format!("{key}=")) {
            continue;
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{key}={value}"));
    }
    url
}

const PG_NETWORK_PARAMS: [(&str, &str); 5] = [
    ("connect_timeout", "5"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "3"),
    ("keepalives_count", "3"),
    ("tcp_user_timeout", "15000"),
];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("bad database URL: {0}")]
    BadUrl(String),
    #[error("cannot connect: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("cannot create the database directory {0}: {1}")]
    Directory(PathBuf, std::io::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("applying migrations: {0}")]
    Migration(String),
    #[error("the database task was cancelled")]
    Cancelled,
    #[error("the database did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("the database cannot be written: {0}")]
    ReadOnly(String),
}

impl DbError {
    /// The database is out of reach or cannot take writes for now (locked, stopped, frozen,
    /// read-only, every connection busy): the request may succeed if retried, so callers
    /// answer 503 with `Retry-After` rather than 500.
    pub fn is_outage(&self) -> bool {
        match self {
            DbError::Connect(_) | DbError::Pool(_) | DbError::TimedOut(_) => true,
            DbError::ReadOnly(_) => true,
            DbError::Query(e) => is_outage_error(e),
            _ => false,
        }
    }
}

impl From<DbError> for roomcast_actors::port::PortError {
    fn from(e: DbError) -> Self {
        if e.is_outage() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Failed(e.to_string())
        }
    }
}

/// A pool or query error as a port reports it (out of reach for now, or failed).
pub fn port(e: impl Into<DbError>) -> roomcast_actors::port::PortError {
    e.into().into()
}

/// Query errors that say "not now" rather than "not this": a lock held too long, a closed
/// connection, a statement cancelled by its time-out, a read-only file or server.
pub fn is_outage_error(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(kind, info) => {
            matches!(
                kind,
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::ReadOnlyTransaction
            ) || is_outage_message(info.message())
        }
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

fn is_outage_message(message: &str) -> bool {
    const OUTAGES: [&str; 8] = [
        "database is locked",
        "database table is locked",
        "readonly database",
        "disk I/O error",
        "canceling statement due to",
        "terminating connection",
        "server closed the connection",
        "could not receive data from server",
    ];
    OUTAGES.iter().any(|m| message.contains(m))
}

/// True when the error says that this connection cannot write (it was opened on a
/// read-only file, or the server is a read-only replica): such a connection is dropped
/// instead of going back to the pool.
fn is_read_only_error(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => true,
        Error::DatabaseError(_, info) => info.message().contains("readonly database"),
        _ => false,
    }
}

/// Watches a connection's queries and remembers whether one failed because the
/// connection cannot write, so that the pool drops it (`has_broken`).
#[derive(Default)]
struct WriteWatch {
    read_only: bool,
}

impl Instrumentation for WriteWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error: Some(e), .. } = event {
            if is_read_only_error(e) {
                self.read_only = true;
            }
        }
    }
}

/// Opens connections for the pool and prepares each one for its backend.
#[derive(Debug, Clone)]
pub struct DbManager {
    backend: Backend,
    /// SQLite's busy timeout and PostgreSQL's statement and lock time-outs.
    timeout: Duration,
}

impl DbManager {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, DbError> {
        Ok(Self {
            backend: Backend::from_url(url)?,
            timeout,
        })
    }

    fn open(&self) -> Result<DbConnection, DbError> {
        let mut conn = match &self.backend {
            Backend::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| DbError::Directory(dir.to_path_buf(), e))?;
                }
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // WAL lets readers run beside the one writer; the busy timeout makes a
                // second writer wait instead of failing with SQLITE_BUSY. It comes first:
                // switching to WAL needs a lock too, and another process closing the
                // database (its last connection checkpoints) holds one for a moment.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    self.timeout.as_millis()
                ))?;
                conn.set_instrumentation(WriteWatch::default());
                DbConnection::Sqlite(conn)
            }
            Backend::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                // A statement that runs longer than a request may wait is cancelled by the
                // server, so a lock held elsewhere cannot pin this connection for ever.
                conn.batch_execute(&format!(
                    "SET statement_timeout = {}; SET lock_timeout = {};",
                    self.timeout.as_millis(),
                    self.timeout.as_millis()
                ))?;
                conn.set_instrumentation(WriteWatch::default());
                DbConnection::Postgres(conn)
            }
        };
        // SQLite opens a file it cannot write read-only without saying so; such a
        // connection would fail every write for as long as the pool kept it.
        check_writable(&mut conn).map_err(|e| match e {
            DbError::Query(q) if is_read_only_error(&q) => DbError::ReadOnly(q.to_string()),
            other => other,
        })?;
        Ok(conn)
    }
}

/// Fails unless a write would be accepted now. SQLite: a write transaction that is rolled
/// back (it changes nothing) and the file itself writable, which a connection opened
/// earlier does not show (it keeps writing to the WAL); PostgreSQL: not a read-only server.
pub fn check_writable(conn: &mut DbConnection) -> Result<(), DbError> {
    match conn {
        DbConnection::Sqlite(c) => {
            // Through diesel's transaction manager, so a failure leaves no transaction open
            // on the connection.
            let probe = c.transaction(|c| {
                c.batch_execute("CREATE TABLE roomcast_write_check (id INTEGER)")?;
                Err::<(), _>(diesel::result::Error::RollbackTransaction)
            });
            match probe {
                Err(diesel::result::Error::RollbackTransaction) => {}
                Err(e) => return Err(e.into()),
                Ok(()) => unreachable!("the probe always rolls back"),
            }
            use diesel::RunQueryDsl;
            let files: Vec<DatabaseFile> = diesel::sql_query("PRAGMA database_list").load(c)?;
            for file in files
                .iter()
                .filter(|f| f.name == "main" && !f.file.is_empty())
            {
                file_writable(std::path::Path::new(&file.file))?;
            }
        }
        DbConnection::Postgres(c) => {
            c.batch_execute(
                "DO $$ BEGIN IF current_setting('transaction_read_only') = 'on' THEN \
                 RAISE EXCEPTION 'cannot execute writes in a read-only transaction' \
                 USING ERRCODE = '25006'; END IF; END $$",
            )?;
        }
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct DatabaseFile {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    file: String,
}

/// The kernel's answer to "may this process write the file now" (read-only mounts,
/// immutable files and permissions, even for root where they apply).
fn file_writable(path: &std::path::Path) -> Result<(), DbError> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| DbError::ReadOnly("the database path holds a NUL byte".into()))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(DbError::ReadOnly(format!(
            "the database file is not writable: {}",
            std::io::Error::last_os_error()
        )))
    }
}

impl ManageConnection for DbManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    /// A connection whose writes failed because it cannot write is dropped, so the pool
    /// opens a fresh one (which must be writable) once the fault is over.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // Also a connection left inside a transaction whose rollback failed (a lock, a
        // lost server): the next user would get "cannot start a transaction within a
        // transaction" for ever.
        if std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn) {
            return true;
        }
        let watch = match conn {
            DbConnection::Sqlite(c) => c.instrumentation(),
            DbConnection::Postgres(c) => c.instrumentation(),
        };
        watch
            .downcast_ref::<WriteWatch>()
            .is_some_and(|w| w.read_only)
    }
}

/// Connects once to report the real cause of a bad URL, then builds the pool.
pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<DbPool> {
    let redacted = settings.url.redacted();
    let timeout = Duration::from_secs(settings.timeout_secs.max(1));
    let manager = DbManager::new(settings.url.expose(), timeout)
        .map_err(|e| anyhow::anyhow!("database {redacted}: {e}"))?;
    let probe = manager
        .open()
        .map_err(|e| anyhow::anyhow!("database {redacted}: {e}"))?;
    drop(probe);
    let pool = r2d2::Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(1))
        .connection_timeout(timeout)
        .build(manager)
        .map_err(|e| anyhow::anyhow!("database {redacted}: {e}"))?;
    Ok(pool)
}

/// Applies every pending migration of the connection's backend; returns how many ran.
pub fn run_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    };
    applied
        .map(|versions| versions.len())
        .map_err(|e| DbError::Migration(e.to_string()))
}

/// Runs `f` with a pooled connection on the blocking thread pool. A database that does not
/// answer within the pool's time-out (a frozen server, a lock held elsewhere) gives
/// `TimedOut` instead of holding the request; the query itself ends with its own time-out.
pub async fn blocking<F, T>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    // The pool wait and the query may each take up to the time-out.
    let limit = pool.connection_timeout() * 2;
    let work = actix_web::web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn).map_err(DbError::from)
    });
    match actix_web::rt::time::timeout(limit, work).await {
        Ok(done) => done.map_err(|_| DbError::Cancelled)?,
        Err(_) => Err(DbError::TimedOut(limit)),
    }
}

/// True when the error is a unique-constraint violation (e.g. a taken username).
pub fn is_unique_violation(err: &DbError) -> bool {
    matches!(
        err,
        DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: &str =
        "keepalives_idle=10&keepalives_interval=3&keepalives_count=3&tcp_user_timeout=15000";

    #[test]
    fn the_url_scheme_picks_the_backend() {
        assert_eq!(
            Backend::from_url("sqlite://data/x.db").unwrap(),
            Backend::Sqlite("data/x.db".into())
        );
        assert_eq!(
            Backend::from_url("sqlite:///tmp/x.db").unwrap(),
            Backend::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/d").unwrap(),
            Backend::Postgres(format!("postgres://u@h/d?connect_timeout=5&{NET}"))
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/d?sslmode=require").unwrap(),
            Backend::Postgres(format!(
                "postgres://u@h/d?sslmode=require&connect_timeout=5&{NET}"
            ))
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/d?connect_timeout=1").unwrap(),
            Backend::Postgres(format!("postgres://u@h/d?connect_timeout=1&{NET}"))
        );
        assert!(Backend::from_url("mysql://h/d").is_err());
        assert!(Backend::from_url("sqlite://").is_err());
    }

    #[test]
    fn both_migration_trees_hold_the_same_migrations() {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let root = env!("CARGO_MANIFEST_DIR");
        assert_eq!(
            names(&format!("{root}/migrations/sqlite")),
            names(&format!("{root}/migrations/postgres"))
        );
    }
}
