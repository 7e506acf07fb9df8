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
pub mod rooms;
pub mod schema;
pub mod sessions;
pub mod users;
pub mod video_danmaku;
pub mod videos;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
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
            Ok(Backend::Postgres(with_connect_timeout(url)))
        } else {
            Err(DbError::BadUrl(
                "the scheme must be sqlite:// or postgres://".into(),
            ))
        }
    }
}

/// A server that never answers should fail start-up in seconds, not after the kernel's TCP
/// time-out: libpq waits `connect_timeout` seconds unless the URL says otherwise.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&connect_timeout={PG_CONNECT_TIMEOUT_SECS}")
    } else {
        format!("{url}?connect_timeout={PG_CONNECT_TIMEOUT_SECS}")
    }
}

const PG_CONNECT_TIMEOUT_SECS: u32 = 5;

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
}

/// Opens connections for the pool and prepares each one for its backend.
#[derive(Debug, Clone)]
pub struct DbManager {
    backend: Backend,
}

impl DbManager {
    pub fn new(url: &str) -> Result<Self, DbError> {
        Ok(Self {
            backend: Backend::from_url(url)?,
        })
    }

    fn open(&self) -> Result<DbConnection, DbError> {
        match &self.backend {
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
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )?;
                Ok(DbConnection::Sqlite(conn))
            }
            Backend::Postgres(url) => Ok(DbConnection::Postgres(PgConnection::establish(url)?)),
        }
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

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Connects once to report the real cause of a bad URL, then builds the pool.
pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<DbPool> {
    let redacted = settings.url.redacted();
    let manager = DbManager::new(settings.url.expose())
        .map_err(|e| anyhow::anyhow!("database {redacted}: {e}"))?;
    let probe = manager
        .open()
        .map_err(|e| anyhow::anyhow!("database {redacted}: {e}"))?;
    drop(probe);
    let pool = r2d2::Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
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

/// Runs `f` with a pooled connection on the blocking thread pool.
pub async fn blocking<F, T>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn).map_err(DbError::from)
    })
    .await
    .map_err(|_| DbError::Cancelled)?
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
            Backend::Postgres("postgres://u@h/d?connect_timeout=5".into())
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/d?sslmode=require").unwrap(),
            Backend::Postgres("postgres://u@h/d?sslmode=require&connect_timeout=5".into())
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/d?connect_timeout=1").unwrap(),
            Backend::Postgres("postgres://u@h/d?connect_timeout=1".into())
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
