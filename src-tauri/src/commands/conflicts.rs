//! The conflict inbox: list and resolve.

use super::{Result, blocking, parse_id};
use crate::dto::conflicts::{Conflict, Keep};
use crate::state::AppState;
use liaison_core::Error;
use liaison_core::conflicts::{self, Choice};
use liaison_protocol::schema::EntityKind;
use tauri::{AppHandle, State};

/// The conflict inbox: open conflicts (and resolved ones with `include_resolved`), oldest first.
#[tauri::command]
pub async fn list_conflicts(state: State<'_, AppState>, include_resolved: bool) -> Result<Vec<Conflict>> {
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| conflicts::list(profile.store()?, include_resolved))?.into_iter().map(Into::into).collect())
}

/// Resolve a conflict: keep my side, theirs, or a typed value. An ordinary edit that syncs.
#[tauri::command]
pub async fn resolve_conflict(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    keep: Keep,
    value: Option<String>,
) -> Result<Conflict> {
    let id = parse_id(&id)?;
    let mut profile = state.profile.lock().await;
    let resolved = blocking(|| -> liaison_core::Result<_> {
        let store = profile.store()?;
        let choice = match keep {
            Keep::Mine => Choice::Mine,
            Keep::Theirs => Choice::Theirs,
            Keep::Value => {
                let conflict = conflicts::get(store, id)?;
                let field = conflict
                    .field
                    .ok_or_else(|| Error::invalid("A deleted record has no single value to edit; keep one side."))?;
                Choice::Value(conflicts::value_from_text(
                    conflict.entity,
                    &field,
                    value.as_deref().unwrap_or_default(),
                )?)
            }
        };
        conflicts::resolve(store, id, choice)
    })?;
    // The conflict closed, and the record it is about (or a restored one) changed.
    state.after_local_change(&app, &[EntityKind::Conflict, resolved.conflict.entity, resolved.conflict.owner_entity]);
    Ok(resolved.conflict.into())
}
