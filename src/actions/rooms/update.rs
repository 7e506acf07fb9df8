//! Changing a room's title, source or on-demand flag (admins).

use super::check_source_host;
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::domain::SourceUrl;
use crate::error::ApiError;
use crate::ingest;

/// Applies `changes` to a room for `admin` and brings its pipeline in line with its source.
/// A new source starts afresh: an admin's stop of the old one does not carry over. Each
/// kind of change is audited (a source by its redacted origin only).
pub async fn update_room(
    state: &AppState,
    admin: &AuthUser,
    room_id: String,
    mut changes: rooms::RoomChanges,
) -> Result<RoomRow, ApiError> {
    crate::actions::require_admin(admin, "can change a room's source")?;
    let mut shown_source = String::new();
    if let Some(Some(raw)) = &changes.source_url {
        let url =
            SourceUrl::parse(raw, state.settings.ingest.allow_files).map_err(ApiError::Invalid)?;
        shown_source = url.redacted();
        check_source_host(state, url).await?;
    }
    let lookup = room_id.clone();
    let audit = (
        changes.source_url.is_some(),
        changes.on_demand.is_some(),
        changes.title.is_some(),
    );
    let row = db::blocking(&state.pool, move |c| {
        let Some(before) = rooms::find(c, &lookup)? else {
            return Ok(None);
        };
        if changes
            .source_url
            .as_ref()
            .is_some_and(|url| *url != before.source_url)
        {
            changes.source_stopped = Some(false);
        }
        if !rooms::update(c, &lookup, &changes)? {
            return Ok(None);
        }
        rooms::find(c, &lookup)
    })
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no room {room_id}")))?;
    ingest::sync_room(state, &row);
    match audit {
        (true, _, _) => {
            crate::audit::record(&state.pool, admin, "room.source", &row.id, &shown_source).await
        }
        (false, true, _) => {
            crate::audit::record(&state.pool, admin, "room.on_demand", &row.id, "").await
        }
        _ => {}
    }
    if audit.2 {
        crate::audit::record(&state.pool, admin, "room.title", &row.id, &row.title).await;
    }
    Ok(row)
}
