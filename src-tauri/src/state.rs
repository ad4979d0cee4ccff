//! What the shell keeps between commands: the profile (locked or unlocked) and whether the OS
//! keychain works here. The web view never sees the data key or the sync token.

use crate::dto::{ApiError, VaultState};
use liaison_core::Profile;
use std::sync::OnceLock;
use std::time::Duration;

pub struct AppState {
    pub profile: tokio::sync::Mutex<Profile>,
    keychain: OnceLock<Result<(), String>>,
}

/// A keychain that does not answer within this time (e.g. waiting on an unlock prompt nobody
/// sees) is treated as unavailable rather than freezing the first screen.
const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(4);

impl AppState {
    pub fn new(profile: Profile) -> Self {
        AppState { profile: tokio::sync::Mutex::new(profile), keychain: OnceLock::new() }
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
        })
    }

    /// Called after every local edit; background sync (a later issue) hooks in here.
    pub fn after_local_change(&self) {
        tracing::debug!("local change recorded");
    }
}
