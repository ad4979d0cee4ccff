//! The vault: create, unlock, lock, and the activity that keeps it open.

use super::{Result, blocking};
use crate::dto::vault::{UnlockMode, VaultState};
use crate::state::AppState;
use tauri::State;

#[tauri::command]
pub async fn vault_state(state: State<'_, AppState>) -> Result<VaultState> {
    state.vault_state().await
}

#[tauri::command]
pub async fn create_vault(
    state: State<'_, AppState>,
    mode: UnlockMode,
    passphrase: Option<String>,
) -> Result<VaultState> {
    {
        let mut profile = state.profile.lock().await;
        blocking(|| profile.create(mode.into(), passphrase.as_deref()))?;
    }
    state.note_unlocked();
    state.vault_state().await
}

#[tauri::command]
pub async fn unlock_vault(state: State<'_, AppState>, passphrase: Option<String>) -> Result<VaultState> {
    {
        let mut profile = state.profile.lock().await;
        blocking(|| profile.unlock(passphrase.as_deref()))?;
    }
    state.note_unlocked();
    state.vault_state().await
}

#[tauri::command]
pub async fn lock_vault(state: State<'_, AppState>) -> Result<VaultState> {
    state.profile.lock().await.lock();
    state.vault_state().await
}

/// The person used the app (the UI reports it at most every few seconds): the vault's idle
/// timeout starts again.
#[tauri::command]
pub async fn note_activity(state: State<'_, AppState>) -> Result<()> {
    state.note_activity();
    Ok(())
}
