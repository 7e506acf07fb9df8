//! Sign-up and sign-in, shared by the JSON API and the pages.

use std::net::IpAddr;

use diesel::Connection;

use crate::auth::{password, LoginThrottle, SessionService};
use crate::db::{self, users, DbPool};
use crate::domain::{Password, Username};
use crate::error::ApiError;
use crate::limits::{self, Limits};

/// A user just created.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedUser {
    pub id: String,
    pub username: String,
}

/// Validates, then (within the client address's sign-up rate and the hashing cap) hashes
/// off the worker thread and inserts a new user with role `user`.
pub async fn register(
    pool: &DbPool,
    limits: &Limits,
    client: Option<IpAddr>,
    username: &str,
    password: String,
) -> Result<CreatedUser, ApiError> {
    let username = Username::parse(username).map_err(ApiError::InvalidUsername)?;
    let password = Password::parse(password).map_err(ApiError::InvalidPassword)?;
    if let Some(ip) = client {
        limits::take(
            &limits.signups,
            "sign-ups from your address",
            format!("{ip}"),
        )?;
    }
    let hash = limits
        .hashing
        .run(move || password::hash(&password))
        .await??;
    let name = username.as_str().to_string();
    let result = db::blocking(pool, move |conn| {
        users::create(conn, username.as_str(), &hash, "user")
    })
    .await;
    match result {
        Ok(id) => Ok(CreatedUser { id, username: name }),
        Err(e) if db::is_unique_violation(&e) => Err(ApiError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

/// What a successful login hands back.
pub struct LoggedIn {
    pub token: String,
    pub expires_at: chrono::NaiveDateTime,
}

/// Checks the credentials under the login throttle (the attempt is counted before the
/// password is) and the hashing cap, and starts a session.
pub async fn login(
    pool: &DbPool,
    sessions: &SessionService,
    throttle: &LoginThrottle,
    limits: &Limits,
    client: Option<IpAddr>,
    username: &str,
    password: String,
) -> Result<LoggedIn, ApiError> {
    let attempt = throttle
        .attempt(username, client)
        .map_err(|retry_after_secs| ApiError::TooManyAttempts { retry_after_secs })?;

    let name = username.to_string();
    let user = db::blocking(pool, move |conn| users::find_by_username(conn, &name)).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = limits
        .hashing
        .run(move || {
            // An unknown username costs a hash too, so timing does not tell names apart.
            match &stored_hash {
                Some(phc) => password::verify(&password, phc),
                None => password::verify(&password, password::dummy_hash()),
            }
        })
        .await?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(ApiError::WrongCredentials),
    };
    if user.disabled_at.is_some() {
        return Err(ApiError::AccountDisabled);
    }
    throttle.succeeded(attempt);
    let session = sessions.create(user.id).await?;
    Ok(LoggedIn {
        token: session.token,
        expires_at: session.expires_at,
    })
}

/// Disables an account everywhere: no new logins, every session deleted and forgotten,
/// every danmaku socket of theirs closed ("account disabled"), on this node at once and on
/// the others through the bus. Enabling lets them log in again. `false` when there is no
/// such user.
pub async fn set_disabled(
    pool: &DbPool,
    sessions: &SessionService,
    rooms: &actix::Addr<roomcast_actors::registry::RoomRegistry>,
    user_id: &str,
    disabled: bool,
) -> Result<bool, ApiError> {
    let id = user_id.to_string();
    let found = db::blocking(pool, move |conn| {
        conn.transaction(|c| {
            let at = disabled.then(|| chrono::Utc::now().naive_utc());
            let found = users::set_disabled(c, &id, at)?;
            if found && disabled {
                db::sessions::delete_for_user(c, &id)?;
            }
            Ok(found)
        })
    })
    .await?;
    if found && disabled {
        sessions.forget_user(user_id);
        rooms.do_send(roomcast_actors::registry::DisconnectUserEverywhere {
            user_id: user_id.to_string(),
            from_bus: false,
        });
    }
    Ok(found)
}
