//! Opening a room.

use super::check_source_host;
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::domain::{RoomTitle, SourceUrl};
use crate::error::ApiError;
use crate::ingest;

/// Stores a new room owned by `owner` and starts its pipeline if it has a source. Only
/// admins give a room a source or make it on-demand (and their rooms are audited); other
/// users open at most `limits.rooms_per_hour`.
pub async fn create_room(
    state: &AppState,
    owner: &AuthUser,
    title: RoomTitle,
    source_url: Option<SourceUrl>,
    on_demand: bool,
) -> Result<RoomRow, ApiError> {
    if !owner.is_admin() {
        if source_url.is_some() || on_demand {
            return Err(ApiError::Forbidden(
                "only admins can give a room a source or make it on-demand".into(),
            ));
        }
        crate::limits::take(
            &state.limits.rooms,
            "new rooms",
            format!("user:{}", owner.user_id),
        )?;
    }
    if let Some(url) = &source_url {
        check_source_host(state, url.clone()).await?;
    }
    let owner_id = owner.user_id.clone();
    let row = db::blocking(&state.pool, move |c| {
        let id = rooms::create(
            c,
            &owner_id,
            title.as_str(),
            source_url.as_ref().map(SourceUrl::expose),
            on_demand,
        )?;
        rooms::find(c, &id)
    })
    .await?
    .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a new room vanished after insert")))?;
    ingest::sync_room(state, &row);
    if owner.is_admin() {
        crate::audit::record(&state.pool, owner, "room.create", &row.id, &row.title).await;
    }
    Ok(row)
}
