//! Room moderation beyond single messages: moderators, the list of bans, word filters (a
//! room's and the site's). Every rule lives in the actions; these only translate.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::actions::filters::{set_filters, show_filters, Scope};
use crate::actions::rooms::{
    add_moderator, lift_ban, list_bans, list_moderators, remove_moderator,
};
use crate::auth::CurrentUser;
use crate::context::AppState;
use crate::error::ApiError;

/// `GET /api/rooms/{id}/moderators` (owner or admin).
pub async fn moderators(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = list_moderators(&state, &user, id.into_inner()).await?;
    let moderators: Vec<_> = rows
        .into_iter()
        .map(|m| {
            json!({
                "user_id": m.user_id,
                "username": m.username,
                "since": m.since.and_utc().to_rfc3339(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "moderators": moderators })))
}

#[derive(Deserialize)]
pub struct ModeratorBody {
    username: String,
}

/// `POST /api/rooms/{id}/moderators` `{username}` (owner or admin): 201 when named, 200
/// when they already were one.
pub async fn add(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    body: web::Json<ModeratorBody>,
) -> Result<HttpResponse, ApiError> {
    let (target, added) =
        add_moderator(&state, &user, id.into_inner(), body.into_inner().username).await?;
    let body = json!({ "user_id": target.id, "username": target.username });
    Ok(if added {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// `DELETE /api/rooms/{id}/moderators/{username}` (owner or admin).
pub async fn remove(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, name) = path.into_inner();
    remove_moderator(&state, &user, room_id, name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/rooms/{id}/bans`: the bans and mutes that have not ended.
pub async fn bans(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = list_bans(&state, &user, id.into_inner()).await?;
    let bans: Vec<_> = rows
        .into_iter()
        .map(|b| {
            json!({
                "user_id": b.user_id,
                "username": b.username,
                "until": b.until.and_utc().to_rfc3339(),
                "reason": b.reason,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "bans": bans })))
}

/// `DELETE /api/rooms/{id}/bans/{user_id}`: unban (or unmute) at once, on every node.
pub async fn unban(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, user_id) = path.into_inner();
    lift_ban(&state, &user, room_id, user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct WordsBody {
    words: Vec<String>,
}

/// `GET /api/rooms/{id}/filters` (owner, moderators, admins).
pub async fn room_filters(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let words = show_filters(&state, &user, Scope::Room(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(json!({ "words": words })))
}

/// `PUT /api/rooms/{id}/filters` `{words}`: replaces the room's list.
pub async fn set_room_filters(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    body: web::Json<WordsBody>,
) -> Result<HttpResponse, ApiError> {
    let scope = Scope::Room(id.into_inner());
    let words = set_filters(&state, &user, scope, body.into_inner().words).await?;
    Ok(HttpResponse::Ok().json(json!({ "words": words })))
}

/// `GET /api/admin/filters` (admins): the words that hold in every room.
pub async fn site_filters(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let words = show_filters(&state, &user, Scope::Site).await?;
    Ok(HttpResponse::Ok().json(json!({ "words": words })))
}

/// `PUT /api/admin/filters` `{words}` (admins).
pub async fn set_site_filters(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: web::Json<WordsBody>,
) -> Result<HttpResponse, ApiError> {
    let words = set_filters(&state, &user, Scope::Site, body.into_inner().words).await?;
    Ok(HttpResponse::Ok().json(json!({ "words": words })))
}
