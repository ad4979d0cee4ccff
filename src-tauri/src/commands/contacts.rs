//! Contacts: list, search, read, create, change, delete and erase.

use super::{Result, blocking, parse_id};
use crate::dto::contacts::{Contact, ContactInput, ContactPage};
use crate::dto::sync::SyncReport;
use crate::state::AppState;
use liaison_core::contacts::{self, ContactPatch};
use liaison_protocol::schema::EntityKind;
use tauri::{AppHandle, State};

/// What a contact's edit writes: the contact and its child rows.
const CONTACT_KINDS: &[EntityKind] =
    &[EntityKind::Contact, EntityKind::ContactEmail, EntityKind::ContactPhone, EntityKind::ContactIdentifier];

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
pub async fn create_contact(app: AppHandle, state: State<'_, AppState>, input: ContactInput) -> Result<Contact> {
    let mut profile = state.profile.lock().await;
    let created = blocking(|| contacts::create(profile.store()?, input.into()))?;
    state.after_local_change(&app, CONTACT_KINDS);
    Ok(created.into())
}

#[tauri::command]
pub async fn update_contact(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    input: ContactInput,
) -> Result<Contact> {
    let id = parse_id(&id)?;
    let mut profile = state.profile.lock().await;
    let restricted = input.restricted;
    let mut patch: ContactPatch = liaison_core::contacts::ContactInput::from(input).into();
    // The form always says whether the contact is restricted; an unchanged value is no change.
    patch.restricted = Some(restricted);
    let updated = blocking(|| contacts::update(profile.store()?, id, patch))?;
    state.after_local_change(&app, CONTACT_KINDS);
    Ok(updated.into())
}

#[tauri::command]
pub async fn delete_contact(app: AppHandle, state: State<'_, AppState>, id: String) -> Result<()> {
    let id = parse_id(&id)?;
    let mut profile = state.profile.lock().await;
    blocking(|| contacts::delete(profile.store()?, id))?;
    state.after_local_change(&app, CONTACT_KINDS);
    Ok(())
}

/// Erase all data about a person on the server and every device (staff and administrators).
#[tauri::command]
pub async fn erase_contact(app: AppHandle, state: State<'_, AppState>, id: String) -> Result<SyncReport> {
    let id = parse_id(&id)?;
    state.erase_contact(&app, id).await
}
