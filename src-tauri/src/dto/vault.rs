//! The vault's state and how it unlocks.

use liaison_core::vault::UnlockMode as CoreMode;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum UnlockMode {
    Keychain,
    Passphrase,
}

impl From<CoreMode> for UnlockMode {
    fn from(m: CoreMode) -> Self {
        match m {
            CoreMode::Keychain => UnlockMode::Keychain,
            CoreMode::Passphrase => UnlockMode::Passphrase,
        }
    }
}

impl From<UnlockMode> for CoreMode {
    fn from(m: UnlockMode) -> Self {
        match m {
            UnlockMode::Keychain => CoreMode::Keychain,
            UnlockMode::Passphrase => CoreMode::Passphrase,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VaultState {
    pub exists: bool,
    pub unlocked: bool,
    pub mode: Option<UnlockMode>,
    pub keychain_available: bool,
    // Why the keychain cannot be used, in words for a person.
    pub keychain_problem: Option<String>,
    pub data_dir: String,
    /// Set after the server revoked this device and its local data was wiped: what happened,
    /// in words for a person (the setup screen shows it).
    pub wiped: Option<String>,
}
