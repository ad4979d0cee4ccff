//! Where a profile's files live. The desktop app and the `liaison` CLI share one default, so a
//! person's contacts are the same in both.

use std::path::PathBuf;

/// Environment variable that overrides the data directory (tests, separate profiles).
pub const DATA_DIR_ENV: &str = "LIAISON_DATA_DIR";

/// The per-user data directory: `$LIAISON_DATA_DIR`, else the platform's app-data directory
/// (`~/.local/share/liaison` on Linux, `~/Library/Application Support/liaison` on macOS,
/// `%APPDATA%\liaison` on Windows).
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("liaison")
}

pub const VAULT_FILE: &str = "vault.json";
pub const DATABASE_FILE: &str = "liaison.db";
