//! The OS keychain, behind a small trait so tests can use an in-memory store.
//!
//! Release builds only ever use [`NativeKeychain`] (macOS Keychain, Windows Credential Manager,
//! Secret Service on Linux): the keyring crate is compiled with native stores only, and
//! [`MemoryKeychain`] exists only in tests and with the `test-keychain` cfg of this crate's tests.

use crate::error::{Error, ErrorCode, Result};

/// Keychain service name under which Liaison stores wrapped data keys.
pub const SERVICE: &str = "org.wikimedia.liaison";

pub trait Keychain: Send + Sync {
    /// Whether this keychain works here; `Err` explains why not, in words for a person.
    fn probe(&self) -> std::result::Result<(), String>;
    fn get(&self, account: &str) -> Result<Option<String>>;
    fn set(&self, account: &str, secret: &str) -> Result<()>;
    fn delete(&self, account: &str) -> Result<()>;
}

/// The platform's native credential store.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeKeychain;

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::KeychainUnavailable,
        format!(
            "The system keychain is not available ({e}). On Linux this needs a running Secret Service \
             (GNOME Keyring or KWallet) that is unlocked. Use a passphrase instead."
        ),
    )
}

impl Keychain for NativeKeychain {
    fn probe(&self) -> std::result::Result<(), String> {
        let account = format!("probe-{}", uuid::Uuid::new_v4());
        self.set(&account, "probe").map_err(|e| e.message.clone())?;
        let read = self.get(&account).map_err(|e| e.message.clone());
        let _ = self.delete(&account);
        match read? {
            Some(v) if v == "probe" => Ok(()),
            _ => Err("the system keychain did not return what was stored in it".into()),
        }
    }

    fn get(&self, account: &str) -> Result<Option<String>> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(unavailable)?;
        match entry.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn set(&self, account: &str, secret: &str) -> Result<()> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(unavailable)?;
        entry.set_password(secret).map_err(unavailable)
    }

    fn delete(&self, account: &str) -> Result<()> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(unavailable)?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// An in-memory keychain for tests. Not compiled into the library otherwise.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct MemoryKeychain {
    entries: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

#[cfg(test)]
impl Keychain for MemoryKeychain {
    fn probe(&self) -> std::result::Result<(), String> {
        Ok(())
    }
    fn get(&self, account: &str) -> Result<Option<String>> {
        Ok(self.entries.lock().map_err(|e| Error::internal("keychain", e))?.get(account).cloned())
    }
    fn set(&self, account: &str, secret: &str) -> Result<()> {
        self.entries.lock().map_err(|e| Error::internal("keychain", e))?.insert(account.into(), secret.into());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<()> {
        self.entries.lock().map_err(|e| Error::internal("keychain", e))?.remove(account);
        Ok(())
    }
}
