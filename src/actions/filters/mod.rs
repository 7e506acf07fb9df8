//! Word filters: the site's list (admins) and each room's (its owner, its moderators,
//! admins). A message holding a word of either is refused with `filtered`.

use roomcast_actors::filter::clean_words;
use roomcast_actors::registry::{ReloadGlobalFilter, RulesChangedEverywhere};

use crate::actions::require_admin;
use crate::actions::rooms::{find_room, require_moderator};
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, moderation};
use crate::error::ApiError;

/// Whose list.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The words that hold in every room.
    Site,
    /// One room's own words.
    Room(String),
}

/// Checks that `user` may edit the list and returns its stored scope.
async fn authorise(state: &AppState, user: &AuthUser, scope: &Scope) -> Result<String, ApiError> {
    match scope {
        Scope::Site => {
            require_admin(user, "edit the site's word filters")?;
            Ok(moderation::GLOBAL_SCOPE.to_string())
        }
        Scope::Room(id) => {
            let room = find_room(state, id.clone()).await?;
            require_moderator(state, &room, user).await?;
            Ok(room.id)
        }
    }
}

/// The words of a list, folded and sorted.
pub async fn show_filters(
    state: &AppState,
    user: &AuthUser,
    scope: Scope,
) -> Result<Vec<String>, ApiError> {
    let scope = authorise(state, user, &scope).await?;
    Ok(db::blocking(&state.pool, move |c| moderation::words(c, &scope)).await?)
}

/// Replaces a list with `words` (folded, blanks and repeats dropped) and rebuilds the
/// filters of the rooms it reaches on every node. Returns the stored list.
pub async fn set_filters(
    state: &AppState,
    user: &AuthUser,
    scope: Scope,
    words: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    let stored_scope = authorise(state, user, &scope).await?;
    let words = clean_words(&words).map_err(ApiError::Invalid)?;
    let (s, w) = (stored_scope.clone(), words.clone());
    db::blocking(&state.pool, move |c| moderation::set_words(c, &s, &w)).await?;
    match scope {
        // Answered once this node's rooms have the new words: the next message is checked.
        Scope::Site => {
            let _ = state
                .rooms
                .send(ReloadGlobalFilter { from_bus: false })
                .await;
        }
        Scope::Room(_) => {
            let changed = RulesChangedEverywhere {
                room: stored_scope.clone(),
            };
            let _ = state.rooms.send(changed).await;
        }
    }
    if user.is_admin() {
        let (action, target) = match scope {
            Scope::Site => ("filters.site", "site".to_string()),
            Scope::Room(_) => ("filters.room", stored_scope),
        };
        let detail = format!("{} words", words.len());
        crate::audit::record(&state.pool, user, action, &target, &detail).await;
    }
    Ok(words)
}
