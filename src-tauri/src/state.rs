//! What the shell keeps between commands: the profile (locked or unlocked), whether the OS
//! keychain works here, when the person last used the app (the vault locks itself when idle or
//! after the machine slept, see `liaison_core::idle`), and the background sync. The web view
//! never sees the data key or the sync token.
//!
//! Sync never holds the profile while it waits on the network: it works on its own connection
//! to the database (SQLite's WAL lets both work side by side), so the person can keep reading and
//! editing contacts while a slow or unreachable server is tried. One sync runs at a time.

use crate::dto::{ApiError, DataChanged, SyncReport, SyncStatus, VaultState};
use liaison_core::idle::{self, IdleLock};
use liaison_core::{ErrorCode, Profile, sync};
use liaison_protocol::schema::EntityKind;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tauri::{AppHandle, Emitter, Manager};

/// Event carrying a `SyncStatus` whenever sync state changes outside a `sync_now` answer.
pub const SYNC_STATUS_EVENT: &str = "sync-status";
/// Event carrying a `DataChanged`: rows of these kinds changed (a sync brought them, or a command
/// wrote them), so whatever shows them reloads. The one change notification the UI listens to.
pub const DATA_CHANGED_EVENT: &str = "data-changed";
/// Event carrying a `VaultState` when the vault locked itself (idle, or the machine slept).
pub const VAULT_LOCKED_EVENT: &str = "vault-locked";

/// Background sync: this often when all is well…
const SYNC_PERIOD: Duration = Duration::from_secs(60);
/// …this soon after a local edit (a burst of edits is sent together)…
const AFTER_EDIT: Duration = Duration::from_secs(3);
/// …and this often while the server cannot be reached, so sync resumes soon after it is back.
const RETRY_UNREACHABLE: Duration = Duration::from_secs(15);

/// A keychain that does not answer within this time (e.g. waiting on an unlock prompt nobody
/// sees) is treated as unavailable rather than freezing the first screen.
const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(4);

pub struct AppState {
    pub profile: tokio::sync::Mutex<Profile>,
    keychain: OnceLock<Result<(), String>>,
    sync_gate: tokio::sync::Mutex<()>,
    edits: tokio::sync::Notify,
    idle: Mutex<IdleLock>,
    /// Why this device's data was wiped (its server revoked it), for the setup screen.
    wiped: Mutex<Option<String>>,
}

impl AppState {
    pub fn new(profile: Profile) -> Self {
        AppState {
            profile: tokio::sync::Mutex::new(profile),
            keychain: OnceLock::new(),
            sync_gate: tokio::sync::Mutex::new(()),
            edits: tokio::sync::Notify::new(),
            idle: Mutex::new(IdleLock::new(Instant::now())),
            wiped: Mutex::new(None),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, IdleLock> {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The person did something in the app: the idle timeout starts again.
    pub fn note_activity(&self) {
        self.idle().activity(Instant::now());
    }

    /// The vault was just created or unlocked.
    pub fn note_unlocked(&self) {
        self.idle().unlocked(Instant::now());
    }

    /// Lock the vault if it has been idle for its profile's timeout or the machine slept since
    /// the last check; returns the new state when it locked.
    async fn lock_if_idle(&self) -> Result<Option<VaultState>, ApiError> {
        {
            let mut profile = self.profile.lock().await;
            if !profile.is_unlocked() {
                return Ok(None);
            }
            let Some(mode) = profile.state()?.mode else { return Ok(None) };
            let timeout = idle::timeout_for(mode, std::env::var(idle::TIMEOUT_ENV).ok().as_deref());
            let Some(reason) = self.idle().check(timeout, Instant::now(), SystemTime::now()) else { return Ok(None) };
            tracing::info!(?reason, "the vault locked itself");
            profile.lock();
        }
        Ok(Some(self.vault_state().await?))
    }

    fn keychain_status(&self) -> Result<(), String> {
        self.keychain
            .get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(liaison_core::keychain::Keychain::probe(&liaison_core::keychain::NativeKeychain));
                });
                rx.recv_timeout(KEYCHAIN_TIMEOUT).unwrap_or_else(|_| Err("the system keychain did not answer".into()))
            })
            .clone()
    }

    pub async fn vault_state(&self) -> Result<VaultState, ApiError> {
        let core = self.profile.lock().await.state()?;
        let keychain = tokio::task::block_in_place(|| self.keychain_status());
        Ok(VaultState {
            exists: core.exists,
            unlocked: core.unlocked,
            mode: core.mode.map(Into::into),
            keychain_available: keychain.is_ok(),
            keychain_problem: keychain.err(),
            data_dir: core.data_dir.display().to_string(),
            wiped: if core.exists {
                None
            } else {
                self.wiped.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
            },
        })
    }

    /// Called after every local edit of rows of `kinds`: the UI reloads what shows them, and the
    /// background sync sends the edit shortly.
    pub fn after_local_change(&self, app: &AppHandle, kinds: &[EntityKind]) {
        data_changed(app, kinds.iter().copied());
        self.sync_soon();
    }

    /// Sync shortly (after a sign-in, or an edit).
    pub fn sync_soon(&self) {
        self.edits.notify_one();
    }

    /// Push and pull on a separate connection, one sync at a time; tells the UI as it goes.
    pub async fn sync(&self, app: &AppHandle) -> Result<SyncReport, ApiError> {
        self.with_server(app, Job::Sync).await
    }

    /// Erase a person's data on the server and every device, then sync (staff and admins).
    pub async fn erase_contact(&self, app: &AppHandle, id: uuid::Uuid) -> Result<SyncReport, ApiError> {
        self.with_server(app, Job::Erase(id)).await
    }

    async fn with_server(&self, app: &AppHandle, job: Job) -> Result<SyncReport, ApiError> {
        let _one_at_a_time = self.sync_gate.lock().await;
        let mut store = {
            let profile = self.profile.lock().await;
            profile.connect()?
        };
        let mut syncing: SyncStatus = tokio::task::block_in_place(|| sync::status(&store))?.into();
        syncing.syncing = true;
        let _ = app.emit(SYNC_STATUS_EVENT, &syncing);
        let result = match job {
            Job::Sync => sync::sync(&mut store).await,
            Job::Erase(id) => sync::erase_contact(&mut store, id).await,
        };
        let status: SyncStatus = tokio::task::block_in_place(|| sync::status(&store))?.into();
        let _ = app.emit(SYNC_STATUS_EVENT, &status);
        if let Err(e) = &result
            && liaison_core::wipe::is_revoked(e)
        {
            // An administrator revoked this device: it forgets everything, and the app goes to
            // its first screen, which says why.
            drop(store);
            return Err(self.forget_revoked(app).await);
        }
        let report = result?;
        data_changed(app, report.changed.iter().copied());
        if report.changed.contains(&EntityKind::Case) {
            announce_assignments(app, &store);
        }
        Ok(report.into())
    }

    /// Wipe this device after its server revoked it; answers the error that says what happened.
    async fn forget_revoked(&self, app: &AppHandle) -> ApiError {
        let wiped = {
            let mut profile = self.profile.lock().await;
            liaison_core::wipe::forget_revoked(&mut profile).await
        };
        let explained = match wiped {
            Ok(wiped) => wiped.explain(),
            Err(e) => e,
        };
        *self.wiped.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(explained.message.clone());
        if let Ok(state) = self.vault_state().await {
            let _ = app.emit(VAULT_LOCKED_EVENT, &state);
        }
        explained.into()
    }

    /// Whether a background sync should run now: unlocked and signed in.
    async fn ready_to_sync(&self) -> bool {
        let mut profile = self.profile.lock().await;
        match profile.store() {
            Ok(store) => sync::status(store).map(|s| s.logged_in).unwrap_or(false),
            Err(_) => false,
        }
    }
}

/// A desktop notification for each case someone else assigned to the signed-in user (a
/// notification that cannot be shown is only logged: the case is in "Mine" either way).
fn announce_assignments(app: &AppHandle, store: &liaison_core::store::Store) {
    use tauri_plugin_notification::NotificationExt;
    let assigned = match tokio::task::block_in_place(|| liaison_core::cases::take_new_assignments(store)) {
        Ok(assigned) => assigned,
        Err(e) => {
            tracing::warn!("could not look for new assignments: {e}");
            return;
        }
    };
    for case in assigned {
        let number = case.number.map(|n| format!("#{n} ")).unwrap_or_default();
        let queue = case.queue_name.as_deref().map(|q| format!(" ({q})")).unwrap_or_default();
        let shown = app
            .notification()
            .builder()
            .title("A case was assigned to you")
            .body(format!("{number}{}{queue}", case.subject))
            .show();
        if let Err(e) = shown {
            tracing::info!("the assignment notification could not be shown: {e}");
        }
    }
}

/// Tell the UI that rows of these kinds changed (nothing when there are none).
fn data_changed(app: &AppHandle, kinds: impl IntoIterator<Item = EntityKind>) {
    let mut entities: Vec<String> = kinds.into_iter().map(|k| k.as_str().to_owned()).collect();
    entities.sort();
    entities.dedup();
    if !entities.is_empty() {
        let _ = app.emit(DATA_CHANGED_EVENT, &DataChanged { entities });
    }
}

/// What a server round trip is for.
enum Job {
    Sync,
    Erase(uuid::Uuid),
}

/// Runs for the life of the app: every few seconds, lock the vault if it was left idle or the
/// machine slept, and tell the UI, which goes to the unlock screen.
pub async fn auto_lock(app: AppHandle) {
    loop {
        tokio::time::sleep(idle::CHECK_EVERY).await;
        match app.state::<AppState>().lock_if_idle().await {
            Ok(Some(state)) => {
                let _ = app.emit(VAULT_LOCKED_EVENT, &state);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(code = %e.code, "could not check whether to lock the vault"),
        }
    }
}

/// Runs for the life of the app: sync on a timer, shortly after local edits, and more often while
/// the server is unreachable so that sync resumes soon after it comes back.
pub async fn background_sync(app: AppHandle) {
    let mut wait = SYNC_PERIOD;
    loop {
        let state = app.state::<AppState>();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.edits.notified() => tokio::time::sleep(AFTER_EDIT).await,
        }
        if !state.ready_to_sync().await {
            wait = SYNC_PERIOD;
            continue;
        }
        wait = match state.sync(&app).await {
            Ok(_) => SYNC_PERIOD,
            Err(e) if e.code == ErrorCode::ServerUnreachable => RETRY_UNREACHABLE,
            Err(e) => {
                tracing::info!(code = %e.code, "background sync did not complete");
                SYNC_PERIOD
            }
        };
    }
}
