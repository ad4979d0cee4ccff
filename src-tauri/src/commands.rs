//! Tauri commands: each takes state and arguments, calls liaison-core, maps the error.
//! Arguments are validated in Rust (by liaison-core) whatever the UI already checked.

use crate::dto::{
    ApiError, Conflict, Contact, ContactInput, ContactPage, Keep, LedgerEntry, ServerProbe, SyncReport, SyncStatus,
    UnlockMode, VaultState,
};
use crate::state::AppState;
use liaison_core::conflicts::{self, Choice};
use liaison_core::contacts::{self, ContactPatch};
use liaison_core::{Error, sync};
use tauri::State;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::invalid(format!("{id:?} is not a contact id")).into())
}

/// Blocking work (key derivation, keychain, SQLite) must not stall the async runtime's threads.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

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

#[tauri::command]
pub async fn list_contacts(state: State<'_, AppState>, offset: u64, limit: u32) -> Result<ContactPage> {
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| contacts::list(profile.store()?, offset, limit))?.into())
}

#[tauri::command]
pub async fn search_contacts(
    state: State<'_, AppState>,
    query: String,
    offset: u64,
    limit: u32,
) -> Result<ContactPage> {
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| contacts::search(profile.store()?, &query, offset, limit))?.into())
}

#[tauri::command]
pub async fn get_contact(state: State<'_, AppState>, id: String) -> Result<Contact> {
    let id = parse_id(&id)?;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| contacts::get(profile.store()?, id))?.into())
}

#[tauri::command]
pub async fn create_contact(state: State<'_, AppState>, input: ContactInput) -> Result<Contact> {
    let mut profile = state.profile.lock().await;
    let created = blocking(|| contacts::create(profile.store()?, input.into()))?;
    state.after_local_change();
    Ok(created.into())
}

#[tauri::command]
pub async fn update_contact(state: State<'_, AppState>, id: String, input: ContactInput) -> Result<Contact> {
    let id = parse_id(&id)?;
    let mut profile = state.profile.lock().await;
    let restricted = input.restricted;
    let mut patch: ContactPatch = liaison_core::contacts::ContactInput::from(input).into();
    // The form always says whether the contact is restricted; an unchanged value is no change.
    patch.restricted = Some(restricted);
    let updated = blocking(|| contacts::update(profile.store()?, id, patch))?;
    state.after_local_change();
    Ok(updated.into())
}

#[tauri::command]
pub async fn delete_contact(state: State<'_, AppState>, id: String) -> Result<()> {
    let id = parse_id(&id)?;
    let mut profile = state.profile.lock().await;
    blocking(|| contacts::delete(profile.store()?, id))?;
    state.after_local_change();
    Ok(())
}

/// Erase all data about a person on the server and every device (staff and administrators).
#[tauri::command]
pub async fn erase_contact(app: tauri::AppHandle, state: State<'_, AppState>, id: String) -> Result<SyncReport> {
    let id = parse_id(&id)?;
    state.erase_contact(&app, id).await
}

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
    state.after_local_change();
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

/// The conflict inbox: open conflicts (and resolved ones with `include_resolved`), oldest first.
#[tauri::command]
pub async fn list_conflicts(state: State<'_, AppState>, include_resolved: bool) -> Result<Vec<Conflict>> {
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| conflicts::list(profile.store()?, include_resolved))?.into_iter().map(Into::into).collect())
}

/// Resolve a conflict: keep my side, theirs, or a typed value. An ordinary edit that syncs.
#[tauri::command]
pub async fn resolve_conflict(
    state: State<'_, AppState>,
    id: String,
    keep: Keep,
    value: Option<String>,
) -> Result<Conflict> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::invalid(format!("{id:?} is not a conflict id")))?;
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
    state.after_local_change();
    Ok(resolved.conflict.into())
}
