//! The vault: a random 256-bit data key that opens the encrypted database, stored only wrapped.
//!
//! * **Keychain mode** (office laptops): the key lives in the OS keychain; unlocking asks the OS.
//! * **Passphrase mode** (field laptops, or when no keychain works): the key is encrypted with
//!   XChaCha20-Poly1305 under a key derived from the passphrase with Argon2id (64 MiB, 3 passes).
//!   A wrong passphrase fails the AEAD check before the database is touched.
//!
//! The wrapping metadata lives in `vault.json` beside the database; it holds no secret in the clear.
//! Changing the passphrase re-wraps the key; the database is not rewritten.

use crate::error::{Error, ErrorCode, Result};
use crate::keychain::Keychain;
use crate::paths::VAULT_FILE;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::Path;
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

/// How the data key is unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockMode {
    Keychain,
    Passphrase,
}

/// The minimum passphrase length we accept.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Argon2id cost: 64 MiB, 3 passes, 1 lane (≈ 0.3–0.5 s on a laptop).
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_PASSES: u32 = 3;
const KDF_LANES: u32 = 1;

/// The raw SQLCipher key. Zeroized when dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random key from the OS generator.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        Self(k)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SQLCipher raw-key literal `x'…'` (so opening costs no KDF).
    pub fn sqlcipher_literal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", hex::encode(self.0.as_ref())))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PassphraseWrap {
    kdf: String,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    salt: String,
    nonce: String,
    wrapped_key: String,
}

/// The contents of `vault.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultFile {
    pub format: u32,
    pub vault_id: Uuid,
    pub mode: UnlockMode,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    passphrase: Option<PassphraseWrap>,
}

impl VaultFile {
    /// The keychain account under which this vault's key is stored.
    pub fn keychain_account(&self) -> String {
        format!("vault-{}", self.vault_id)
    }
}

pub fn vault_path(dir: &Path) -> std::path::PathBuf {
    dir.join(VAULT_FILE)
}

/// Read `vault.json`; `Ok(None)` when there is no vault in `dir`.
pub fn read(dir: &Path) -> Result<Option<VaultFile>> {
    let path = vault_path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::internal(&format!("cannot read {}", path.display()), e)),
    };
    let vault: VaultFile = serde_json::from_str(&text).map_err(|e| {
        Error::new(
            ErrorCode::CorruptDatabase,
            format!(
                "{} is damaged ({e}); without it the database cannot be opened. Restore it from a backup.",
                path.display()
            ),
        )
    })?;
    if vault.mode == UnlockMode::Passphrase && vault.passphrase.is_none() {
        return Err(Error::new(
            ErrorCode::CorruptDatabase,
            format!("{} has no passphrase wrapping; restore it from a backup.", path.display()),
        ));
    }
    Ok(Some(vault))
}

fn validate_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::invalid(format!("The passphrase must have at least {MIN_PASSPHRASE_CHARS} characters.")));
    }
    Ok(())
}

fn derive(passphrase: &str, salt: &[u8], memory_kib: u32, passes: u32, lanes: u32) -> Result<Zeroizing<[u8; 32]>> {
    let params =
        Params::new(memory_kib, passes, lanes, Some(32)).map_err(|e| Error::internal("key derivation settings", e))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| Error::internal("key derivation", e))?;
    Ok(out)
}

fn wrap_with_passphrase(key: &DataKey, passphrase: &str) -> Result<PassphraseWrap> {
    validate_passphrase(passphrase)?;
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let kek = derive(passphrase, &salt, KDF_MEMORY_KIB, KDF_PASSES, KDF_LANES)?;
    let cipher = XChaCha20Poly1305::new(kek.as_ref().into());
    let wrapped = cipher
        .encrypt(XNonce::from_slice(&nonce), key.bytes().as_slice())
        .map_err(|_| Error::internal("wrapping the data key", "encryption failed"))?;
    Ok(PassphraseWrap {
        kdf: "argon2id".into(),
        memory_kib: KDF_MEMORY_KIB,
        passes: KDF_PASSES,
        lanes: KDF_LANES,
        salt: B64.encode(salt),
        nonce: B64.encode(nonce),
        wrapped_key: B64.encode(wrapped),
    })
}

fn unwrap_with_passphrase(wrap: &PassphraseWrap, passphrase: &str) -> Result<DataKey> {
    let damaged = |what: &str| {
        Error::new(ErrorCode::CorruptDatabase, format!("vault.json is damaged ({what}); restore it from a backup."))
    };
    if wrap.kdf != "argon2id" {
        return Err(damaged("unknown key derivation"));
    }
    let salt = B64.decode(&wrap.salt).map_err(|_| damaged("salt"))?;
    let nonce = B64.decode(&wrap.nonce).map_err(|_| damaged("nonce"))?;
    let wrapped = B64.decode(&wrap.wrapped_key).map_err(|_| damaged("wrapped key"))?;
    if nonce.len() != 24 || salt.len() < 8 || wrap.memory_kib > 4 * 1024 * 1024 || wrap.passes > 64 || wrap.lanes > 16 {
        return Err(damaged("parameters out of range"));
    }
    let kek = derive(passphrase, &salt, wrap.memory_kib, wrap.passes, wrap.lanes)?;
    let cipher = XChaCha20Poly1305::new(kek.as_ref().into());
    let mut plain = cipher.decrypt(XNonce::from_slice(&nonce), wrapped.as_slice()).map_err(|_| {
        Error::new(ErrorCode::WrongPassphrase, "That passphrase does not unlock this vault. Check it and try again.")
    })?;
    if plain.len() != 32 {
        plain.zeroize();
        return Err(damaged("wrapped key length"));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&plain);
    plain.zeroize();
    Ok(DataKey(key))
}

fn write_vault_file(dir: &Path, vault: &VaultFile) -> Result<()> {
    let text = serde_json::to_string_pretty(vault).map_err(|e| Error::internal("vault file", e))?;
    let tmp = dir.join(format!("{VAULT_FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, vault_path(dir))?;
    Ok(())
}

/// Create a new vault in `dir` (which must not hold one) and return its fresh data key.
pub fn create(
    dir: &Path,
    mode: UnlockMode,
    passphrase: Option<&str>,
    keychain: &dyn Keychain,
) -> Result<(VaultFile, DataKey)> {
    if read(dir)?.is_some() {
        return Err(Error::new(ErrorCode::VaultExists, format!("A vault already exists in {}.", dir.display())));
    }
    std::fs::create_dir_all(dir)?;
    let key = DataKey::generate();
    let mut vault = VaultFile {
        format: 1,
        vault_id: Uuid::now_v7(),
        mode,
        created_at: chrono::Utc::now().to_rfc3339(),
        passphrase: None,
    };
    match mode {
        UnlockMode::Passphrase => {
            let pass = passphrase.ok_or_else(|| Error::invalid("A passphrase is required for passphrase mode."))?;
            vault.passphrase = Some(wrap_with_passphrase(&key, pass)?);
        }
        UnlockMode::Keychain => {
            keychain.probe().map_err(|why| {
                Error::new(ErrorCode::KeychainUnavailable, format!("{why}. Use a passphrase instead."))
            })?;
            keychain.set(&vault.keychain_account(), &hex::encode(key.bytes()))?;
        }
    }
    write_vault_file(dir, &vault)?;
    Ok((vault, key))
}

/// Unwrap the data key: with the passphrase in passphrase mode, from the keychain otherwise.
pub fn unlock(vault: &VaultFile, passphrase: Option<&str>, keychain: &dyn Keychain) -> Result<DataKey> {
    match vault.mode {
        UnlockMode::Passphrase => {
            let pass = passphrase.ok_or_else(|| {
                Error::new(ErrorCode::WrongPassphrase, "This vault is unlocked with a passphrase; enter it.")
            })?;
            let wrap = vault
                .passphrase
                .as_ref()
                .ok_or_else(|| Error::new(ErrorCode::CorruptDatabase, "vault.json has no passphrase wrapping."))?;
            unwrap_with_passphrase(wrap, pass)
        }
        UnlockMode::Keychain => {
            let stored = keychain.get(&vault.keychain_account())?.ok_or_else(|| {
                Error::new(
                    ErrorCode::KeychainUnavailable,
                    "The key for this vault is not in the system keychain (was it removed?). Without it the database cannot be opened.",
                )
            })?;
            let mut bytes = Zeroizing::new(hex::decode(stored.trim()).map_err(|_| {
                Error::new(ErrorCode::CorruptDatabase, "The keychain entry for this vault is damaged.")
            })?);
            if bytes.len() != 32 {
                return Err(Error::new(ErrorCode::CorruptDatabase, "The keychain entry for this vault is damaged."));
            }
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(&bytes);
            bytes.zeroize();
            Ok(DataKey(key))
        }
    }
}

/// Re-wrap the data key under a new passphrase (the database is not rewritten).
pub fn change_passphrase(dir: &Path, vault: &mut VaultFile, key: &DataKey, new_passphrase: &str) -> Result<()> {
    let wrap = wrap_with_passphrase(key, new_passphrase)?;
    vault.passphrase = Some(wrap);
    vault.mode = UnlockMode::Passphrase;
    write_vault_file(dir, vault)
}

/// Remove the vault's keychain entry (used when wiping a device).
pub fn forget_keychain_entry(vault: &VaultFile, keychain: &dyn Keychain) -> Result<()> {
    keychain.delete(&vault.keychain_account())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::MemoryKeychain;

    #[test]
    fn passphrase_vault_unlocks_only_with_its_passphrase() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = MemoryKeychain::default();
        let (vault, key) = create(dir.path(), UnlockMode::Passphrase, Some("correct horse"), &kc).expect("create");
        let again =
            unlock(&read(dir.path()).expect("read").expect("exists"), Some("correct horse"), &kc).expect("unlock");
        assert_eq!(key.bytes(), again.bytes(), "the same passphrase must yield the same data key");
        let err = unlock(&vault, Some("wrong horse!"), &kc).expect_err("wrong passphrase");
        assert_eq!(err.code, ErrorCode::WrongPassphrase);
        let text = std::fs::read_to_string(vault_path(dir.path())).expect("vault.json");
        assert!(!text.contains(&hex::encode(key.bytes())), "the key must never be stored in the clear");
    }

    #[test]
    fn short_passphrases_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = create(dir.path(), UnlockMode::Passphrase, Some("short"), &MemoryKeychain::default())
            .expect_err("too short");
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(read(dir.path()).expect("read").is_none(), "a refused vault leaves no file behind");
    }

    #[test]
    fn keychain_vault_keeps_its_key_in_the_keychain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = MemoryKeychain::default();
        let (vault, key) = create(dir.path(), UnlockMode::Keychain, None, &kc).expect("create");
        assert_eq!(unlock(&vault, None, &kc).expect("unlock").bytes(), key.bytes());
        forget_keychain_entry(&vault, &kc).expect("forget");
        assert_eq!(unlock(&vault, None, &kc).expect_err("gone").code, ErrorCode::KeychainUnavailable);
    }

    #[test]
    fn a_second_vault_in_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = MemoryKeychain::default();
        create(dir.path(), UnlockMode::Keychain, None, &kc).expect("create");
        assert_eq!(
            create(dir.path(), UnlockMode::Keychain, None, &kc).expect_err("exists").code,
            ErrorCode::VaultExists
        );
    }

    #[test]
    fn changing_the_passphrase_keeps_the_data_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = MemoryKeychain::default();
        let (mut vault, key) =
            create(dir.path(), UnlockMode::Passphrase, Some("first passphrase"), &kc).expect("create");
        change_passphrase(dir.path(), &mut vault, &key, "second passphrase").expect("change");
        let vault = read(dir.path()).expect("read").expect("exists");
        assert_eq!(unlock(&vault, Some("second passphrase"), &kc).expect("new").bytes(), key.bytes());
        assert_eq!(unlock(&vault, Some("first passphrase"), &kc).expect_err("old").code, ErrorCode::WrongPassphrase);
    }

    #[test]
    fn a_damaged_vault_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(vault_path(dir.path()), "{ not json").expect("write");
        assert_eq!(read(dir.path()).expect_err("damaged").code, ErrorCode::CorruptDatabase);
        assert_eq!(std::fs::read_to_string(vault_path(dir.path())).expect("still there"), "{ not json");
    }
}
