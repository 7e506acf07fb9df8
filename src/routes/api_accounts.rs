//! `/api/users` and `/api/sessions`: sign-up, sign-in, sign-out and "who am I" as JSON.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::accounts;
use crate::auth::{self, CurrentUser, LoginThrottle, SessionService, SessionToken};
use crate::context::AppState;
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// `POST /api/users` -> 201 `{id, username}`.
pub async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Credentials { username, password } = body.into_inner();
    let client = state.limits.clients.of(&req);
    let user = accounts::register(&state.pool, &state.limits, client, &username, password).await?;
    Ok(HttpResponse::Created().json(user))
}

/// `POST /api/sessions` -> 201 `{token, expires_at}` and the session cookie.
pub async fn create_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    throttle: web::Data<LoginThrottle>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Credentials { username, password } = body.into_inner();
    let client = state.limits.clients.of(&req);
    let session = accounts::login(
        &state.pool,
        &sessions,
        &throttle,
        &state.limits,
        client,
        &username,
        password,
    )
    .await?;
    let cookie = auth::session_cookie(&state.public_url, session.token.clone());
    Ok(HttpResponse::Created()
        .cookie(cookie)
        .json(serde_json::json!({
            "token": session.token,
            "expires_at": session.expires_at.and_utc().to_rfc3339(),
        })))
}

/// `DELETE /api/sessions/current` -> 204; the token stops working at once.
pub async fn delete_session(
    req: HttpRequest,
    _user: CurrentUser,
    sessions: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    if let SessionToken(Some(token)) = SessionToken::from_request(&req) {
        sessions.revoke(&token).await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(auth::removal_cookie())
        .finish())
}

/// `GET /api/users/me` -> the signed-in user.
pub async fn me(CurrentUser(user): CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "id": user.user_id,
        "username": user.username,
        "role": user.role,
    }))
}

/// `POST /api/admin/users/{id}/disable` and `/enable`: the panel's action for API clients.
/// Disabling deletes every session of the user and closes their sockets on every node.
pub async fn set_disabled(
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    CurrentUser(admin): CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let disabled = match action.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(ApiError::NotFound(format!("no action {action}"))),
    };
    crate::actions::users::set_disabled(&state, &sessions, &admin, &id, disabled).await?;
    Ok(HttpResponse::NoContent().finish())
}
