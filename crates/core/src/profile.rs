//! A profile: one data directory with its vault and database, locked or unlocked. The desktop
//! shell and the CLI both drive Liaison through this type.

use crate::error::{Error, ErrorCode, Result};
use crate::keychain::{Keychain, NativeKeychain};
use crate::paths::DATABASE_FILE;
use crate::store::Store;
use crate::vault::{self, DataKey, UnlockMode};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the app shows before anything is unlocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultState {
    pub exists: bool,
    pub unlocked: bool,
    pub mode: Option<UnlockMode>,
    pub data_dir: PathBuf,
}

pub struct Profile {
    dir: PathBuf,
    keychain: Box<dyn Keychain>,
    store: Option<Store>,
    /// Kept while unlocked so background work can open its own connection; zeroized on lock.
    key: Option<DataKey>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile").field("dir", &self.dir).field("unlocked", &self.store.is_some()).finish()
    }
}

impl Profile {
    /// A profile in `dir` using the operating system's keychain.
    pub fn new(dir: impl Into<PathBuf>) -> Profile {
        Profile::with_keychain(dir, Box::new(NativeKeychain))
    }

    pub fn with_keychain(dir: impl Into<PathBuf>, keychain: Box<dyn Keychain>) -> Profile {
        Profile { dir: dir.into(), keychain, store: None, key: None }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn database_path(&self) -> PathBuf {
        self.dir.join(DATABASE_FILE)
    }

    pub fn state(&self) -> Result<VaultState> {
        let vault = vault::read(&self.dir)?;
        Ok(VaultState {
            exists: vault.is_some(),
            unlocked: self.store.is_some(),
            mode: vault.map(|v| v.mode),
            data_dir: self.dir.clone(),
        })
    }

    /// Whether the OS keychain works here; `Err` says why not. May block on the OS.
    pub fn keychain_check(&self) -> std::result::Result<(), String> {
        self.keychain.probe()
    }

    /// Create the vault and its empty encrypted database, and leave it unlocked.
    pub fn create(&mut self, mode: UnlockMode, passphrase: Option<&str>) -> Result<()> {
        let db = self.database_path();
        if db.exists() {
            return Err(Error::new(
                ErrorCode::VaultExists,
                format!(
                    "{} already exists without a vault; Liaison will not overwrite it. Move it away first.",
                    db.display()
                ),
            ));
        }
        let (vault, key) = vault::create(&self.dir, mode, passphrase, self.keychain.as_ref())?;
        match Store::create(&db, &key) {
            Ok(store) => {
                self.store = Some(store);
                self.key = Some(key);
                Ok(())
            }
            Err(e) => {
                // Leave no half-made vault behind: a vault without its database cannot be used.
                let _ = std::fs::remove_file(vault::vault_path(&self.dir));
                if vault.mode == UnlockMode::Keychain {
                    let _ = vault::forget_keychain_entry(&vault, self.keychain.as_ref());
                }
                Err(e)
            }
        }
    }

    /// Unlock with the passphrase (passphrase mode) or the keychain (`None`).
    pub fn unlock(&mut self, passphrase: Option<&str>) -> Result<()> {
        if self.store.is_some() {
            return Ok(());
        }
        let vault = vault::read(&self.dir)?.ok_or_else(|| {
            Error::new(
                ErrorCode::NoVault,
                format!("There is no Liaison vault in {}; create one first (liaison init).", self.dir.display()),
            )
        })?;
        let key = vault::unlock(&vault, passphrase, self.keychain.as_ref())?;
        self.store = Some(Store::open(&self.database_path(), &key)?);
        self.key = Some(key);
        Ok(())
    }

    /// Close the database; the key bytes are zeroized when dropped.
    pub fn lock(&mut self) {
        self.key = None;
        if let Some(store) = self.store.take()
            && let Err(e) = store.close()
        {
            tracing::warn!(error = %e, "closing the database");
        }
    }

    /// A second connection to the unlocked database, for work that must not hold this profile
    /// (a sync waiting on the network while the person keeps working). SQLite's WAL lets both
    /// connections work side by side.
    pub fn connect(&self) -> Result<Store> {
        let key =
            self.key.as_ref().ok_or_else(|| Error::new(ErrorCode::Locked, "The vault is locked; unlock it first."))?;
        Store::open(&self.database_path(), key)
    }

    pub fn is_unlocked(&self) -> bool {
        self.store.is_some()
    }

    pub fn store(&mut self) -> Result<&mut Store> {
        self.store.as_mut().ok_or_else(|| Error::new(ErrorCode::Locked, "The vault is locked; unlock it first."))
    }

    pub fn store_ref(&self) -> Result<&Store> {
        self.store.as_ref().ok_or_else(|| Error::new(ErrorCode::Locked, "The vault is locked; unlock it first."))
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        self.lock();
    }
}
