//! The server: probe, sign in and out, sync, the status and the ledger.

use super::{Result, blocking};
use crate::dto::sync::{LedgerEntry, ServerProbe, SyncReport, SyncStatus};
use crate::state::AppState;
use liaison_core::sync;
use tauri::State;

#[tauri::command]
pub async fn probe_server(url: String) -> Result<ServerProbe> {
    Ok(sync::probe(&url).await?.into())
}

#[tauri::command]
pub async fn login(
    state: State<'_, AppState>,
    url: String,
    user: String,
    password: String,
    fingerprint: String,
) -> Result<SyncStatus> {
    // On its own connection, so a slow server does not hold up the rest of the app.
    let mut store = state.profile.lock().await.connect()?;
    let status = sync::login(&mut store, &url, &user, &password, &fingerprint).await?;
    state.sync_soon();
    Ok(status.into())
}

#[tauri::command]
pub async fn logout(state: State<'_, AppState>) -> Result<SyncStatus> {
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| sync::logout(profile.store()?))?.into())
}

#[tauri::command]
pub async fn sync_now(app: tauri::AppHandle, state: State<'_, AppState>) -> Result<SyncReport> {
    state.sync(&app).await
}

#[tauri::command]
pub async fn sync_status(state: State<'_, AppState>) -> Result<SyncStatus> {
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| sync::status(profile.store()?))?.into())
}

/// The newest `limit` outgoing changes and what became of each (at most 500).
#[tauri::command]
pub async fn sync_ledger(state: State<'_, AppState>, limit: u32) -> Result<Vec<LedgerEntry>> {
    let limit = limit.clamp(1, 500) as usize;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| sync::ledger(profile.store()?, limit))?.into_iter().map(Into::into).collect())
}
