//! `SessionService`: creates, checks and ends sessions.
//!
//! A session is checked against the database and then cached in memory for a few seconds,
//! so most requests cost a hash and a map lookup. Logout removes the cache entry at once;
//! expiry is checked on every lookup. With many nodes, a logout, a role change or a disabled
//! account is announced on the bus and every node drops the cached entries at once; anything
//! else that changes a session behind the cache's back is seen within `REVALIDATE_AFTER`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use roomcast_actors::bus::Bus;
use roomcast_actors::cluster::{self, NodeEvent, StaleSessions};

use super::token::{hash_token, random_token};
use crate::db::{self, sessions, DbError, DbPool};

/// How long a cached session is trusted before the database is asked again.
const REVALIDATE_AFTER: Duration = Duration::from_secs(10);
/// Above this many entries the cache drops what has expired, then everything.
const CACHE_CAPACITY: usize = 100_000;

/// The signed-in user behind a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub username: String,
    pub role: String,
    pub session_id: String,
    pub csrf_token: String,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

#[derive(Clone)]
struct CachedSession {
    user: AuthUser,
    expires_at: NaiveDateTime,
    checked_at: Instant,
}

/// Sessions with a sliding lifetime of `ttl`, shared by every worker.
#[derive(Clone)]
pub struct SessionService {
    pool: DbPool,
    ttl: chrono::Duration,
    cache: Arc<Mutex<HashMap<String, CachedSession>>>,
    bus: Option<Bus>,
}

/// A session just created: the token goes to the client, never into logs.
pub struct NewSession {
    pub token: String,
    pub expires_at: NaiveDateTime,
}

impl SessionService {
    pub fn new(pool: DbPool, ttl: Duration) -> Self {
        Self {
            pool,
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1)),
            cache: Arc::default(),
            bus: None,
        }
    }

    /// Announces logouts and forgotten users to the other nodes on `bus`.
    pub fn with_bus(mut self, bus: Bus) -> Self {
        self.bus = bus.is_shared().then_some(bus);
        self
    }

    fn announce(&self, event: impl FnOnce(String) -> NodeEvent) {
        if let Some(bus) = &self.bus {
            cluster::publish(bus, &event(bus.node().to_string()));
        }
    }

    /// Drops cached sessions another node says are stale (does not announce).
    pub fn forget_here(&self, stale: StaleSessions) {
        let mut cache = self.cache.lock().expect("session cache lock");
        match stale {
            StaleSessions::User(user_id) => cache.retain(|_, s| s.user.user_id != user_id),
            StaleSessions::Token(token_hash) => {
                cache.remove(&token_hash);
            }
        }
    }

    /// Starts a session for `user_id` and returns its token.
    pub async fn create(&self, user_id: String) -> Result<NewSession, DbError> {
        let token = random_token();
        let token_hash = hash_token(&token);
        let now = Utc::now().naive_utc();
        let expires_at = now + self.ttl;
        db::blocking(&self.pool, move |conn| {
            sessions::insert(
                conn,
                &sessions::NewSession {
                    id: &uuid::Uuid::new_v4().to_string(),
                    token_hash: &token_hash,
                    user_id: &user_id,
                    csrf_token: &random_token(),
                    expires_at,
                    created_at: now,
                },
            )
        })
        .await?;
        Ok(NewSession { token, expires_at })
    }

    /// The user behind `token`, extending the session's lifetime; `None` when the token is
    /// unknown, expired, logged out, or its user disabled.
    pub async fn authenticate(&self, token: &str) -> Result<Option<AuthUser>, DbError> {
        let token_hash = hash_token(token);
        let now = Utc::now().naive_utc();
        if let Some(hit) = self.cached(&token_hash, now) {
            if !self.needs_extension(hit.expires_at, now) {
                return Ok(Some(hit.user));
            }
        }
        let ttl = self.ttl;
        let refresh = self.refresh_step();
        let key = token_hash.clone();
        let found = db::blocking(&self.pool, move |conn| {
            let Some((session, user)) = sessions::find_active(conn, &key, now)? else {
                return Ok(None);
            };
            let mut expires_at = session.expires_at;
            if now + ttl - expires_at >= refresh {
                expires_at = now + ttl;
                sessions::extend(conn, &session.id, expires_at)?;
            }
            let auth = AuthUser {
                user_id: user.id,
                username: user.username,
                role: user.role,
                session_id: session.id,
                csrf_token: session.csrf_token,
            };
            Ok(Some((auth, expires_at)))
        })
        .await?;
        let mut cache = self.cache.lock().expect("session cache lock");
        match found {
            Some((user, expires_at)) => {
                if cache.len() >= CACHE_CAPACITY {
                    cache.retain(|_, s| s.expires_at > now);
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                }
                let entry = CachedSession {
                    user: user.clone(),
                    expires_at,
                    checked_at: Instant::now(),
                };
                cache.insert(token_hash, entry);
                Ok(Some(user))
            }
            None => {
                cache.remove(&token_hash);
                Ok(None)
            }
        }
    }

    /// Ends the session behind `token`, in the cache and in the database.
    pub async fn revoke(&self, token: &str) -> Result<(), DbError> {
        let token_hash = hash_token(token);
        self.forget_here(StaleSessions::Token(token_hash.clone()));
        let announced = token_hash.clone();
        self.announce(|node| NodeEvent::ForgetToken {
            node,
            token_hash: announced,
        });
        db::blocking(&self.pool, move |conn| {
            sessions::delete_by_token_hash(conn, &token_hash)
        })
        .await?;
        Ok(())
    }

    /// Forgets every cached session of a user (their sessions were deleted or their role
    /// changed) on every node, so the next request asks the database.
    pub fn forget_user(&self, user_id: &str) {
        self.forget_here(StaleSessions::User(user_id.to_string()));
        self.announce(|node| NodeEvent::ForgetUser {
            node,
            user_id: user_id.to_string(),
        });
    }

    fn cached(&self, token_hash: &str, now: NaiveDateTime) -> Option<CachedSession> {
        let cache = self.cache.lock().expect("session cache lock");
        cache
            .get(token_hash)
            .filter(|s| s.expires_at > now && s.checked_at.elapsed() < REVALIDATE_AFTER)
            .cloned()
    }

    /// The lifetime is pushed forward in steps, so an active session costs one write per
    /// step instead of one per request.
    fn refresh_step(&self) -> chrono::Duration {
        (self.ttl / 4).min(chrono::Duration::seconds(60))
    }

    fn needs_extension(&self, expires_at: NaiveDateTime, now: NaiveDateTime) -> bool {
        now + self.ttl - expires_at >= self.refresh_step()
    }
}
