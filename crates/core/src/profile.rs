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

    /// Delete everything this profile keeps on this computer: the database with its WAL and
    /// shared-memory files (attachment content lives inside it), the vault file, and the
    /// keychain entry of a keychain-mode vault. For a device its server revoked ("a lost laptop
    /// forgets everything"); see [`crate::wipe`]. Returns the names of what was removed, and
    /// fails, naming it, if any of it is still there afterwards.
    pub fn wipe(&mut self) -> Result<Vec<String>> {
        let vault = vault::read(&self.dir).ok().flatten();
        // Close the database first: its connection holds the WAL open.
        self.store = None;
        self.key = None;
        let mut removed = Vec::new();
        if let Some(vault) = vault.as_ref().filter(|v| v.mode == UnlockMode::Keychain)
            && vault::forget_keychain_entry(vault, self.keychain.as_ref()).is_ok()
        {
            removed.push("the keychain entry".to_owned());
        }
        let files = [
            crate::paths::VAULT_FILE.to_owned(),
            DATABASE_FILE.to_owned(),
            format!("{DATABASE_FILE}-wal"),
            format!("{DATABASE_FILE}-shm"),
            format!("{DATABASE_FILE}-journal"),
        ];
        for name in &files {
            let path = self.dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(name.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::internal(&format!("cannot delete {}", path.display()), e)),
            }
        }
        if let Some(left) = files.iter().find(|name| self.dir.join(name).exists()) {
            return Err(Error::internal(
                "wiping this device",
                format!("{} is still there", self.dir.join(left).display()),
            ));
        }
        Ok(removed)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::MemoryKeychain;
    use std::sync::Arc;

    /// The test's view of the keychain the profile owns.
    struct Shared(Arc<MemoryKeychain>);

    impl Keychain for Shared {
        fn probe(&self) -> std::result::Result<(), String> {
            self.0.probe()
        }
        fn get(&self, account: &str) -> Result<Option<String>> {
            self.0.get(account)
        }
        fn set(&self, account: &str, secret: &str) -> Result<()> {
            self.0.set(account, secret)
        }
        fn delete(&self, account: &str) -> Result<()> {
            self.0.delete(account)
        }
    }

    #[test]
    fn wiping_deletes_the_database_its_wal_the_vault_file_and_the_keychain_entry_and_says_what_went() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keychain = Arc::new(MemoryKeychain::default());
        let mut profile = Profile::with_keychain(dir.path(), Box::new(Shared(keychain.clone())));
        profile.create(UnlockMode::Keychain, None).expect("create");
        let account = vault::read(dir.path()).expect("read").expect("a vault").keychain_account();
        profile
            .store()
            .expect("unlocked")
            .conn()
            .execute_batch("CREATE TABLE marker(x); INSERT INTO marker VALUES ('kept secret');")
            .expect("write");
        assert!(dir.path().join(format!("{DATABASE_FILE}-wal")).exists(), "an open store has its WAL");

        let removed = profile.wipe().expect("wipe");

        assert!(removed.contains(&"the keychain entry".to_owned()) && removed.contains(&DATABASE_FILE.to_owned()));
        assert_eq!(keychain.get(&account).expect("read"), None, "the key is gone from the keychain");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "nothing of the vault is left: {left:?}");
        assert!(!profile.is_unlocked());
        assert!(!profile.state().expect("state").exists, "the app starts afresh");
        assert_eq!(profile.wipe().expect("wiping again").len(), 0, "wiping again finds nothing and fails on nothing");
    }
}
