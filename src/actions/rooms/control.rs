//! Starting, stopping or restarting a room's pipeline (admins).

use roomcast_actors::ingest::pipeline::{ControlIngest, IngestAction};

use super::find_room;
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::error::ApiError;
use crate::ingest;

/// Starts, stops or restarts a room's pipeline for `admin`, and writes it to the audit
/// log. 404 for an unknown action or a room without a source.
pub async fn control_pipeline(
    state: &AppState,
    admin: &AuthUser,
    room_id: String,
    action: &str,
) -> Result<RoomRow, ApiError> {
    crate::actions::require_admin(admin, "control live sources")?;
    let action = match action {
        "start" => IngestAction::Start,
        "stop" => IngestAction::Stop,
        "restart" => IngestAction::Restart,
        other => return Err(ApiError::NotFound(format!("no ingest action {other:?}"))),
    };
    let room = find_room(state, room_id).await?;
    let pipeline = ingest::pipeline(state, &room.id)
        .await
        .ok_or_else(|| ApiError::NotFound("this room has no live source".into()))?;
    // Stored first, so a node that takes the source over (or this one after a restart)
    // keeps to it.
    let (id, stopped) = (room.id.clone(), action == IngestAction::Stop);
    db::blocking(&state.pool, move |c| {
        rooms::set_source_stopped(c, &id, stopped)
    })
    .await?;
    pipeline
        .send(ControlIngest { action })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("the pipeline is gone: {e}")))?;
    let verb = format!("ingest.{}", format!("{action:?}").to_lowercase());
    crate::audit::record(&state.pool, admin, &verb, &room.id, &room.title).await;
    Ok(room)
}
