//! Tauri commands, one module per feature. Each takes state and arguments, calls liaison-core
//! and maps the error; arguments are validated in Rust (by liaison-core) whatever the UI already
//! checked.
//!
//! A `#[tauri::command]` function here is the command's only declaration: `build.rs` finds every
//! one of them and generates the invoke handler, the `allow-<command>` permissions and the
//! `app-commands` set the window's capability grants (`capabilities/main.json`).

pub mod conflicts;
pub mod contacts;
pub mod desk;
pub mod sync;
pub mod vault;

use crate::dto::ApiError;
use liaison_core::Error;
use uuid::Uuid;

pub type Result<T> = std::result::Result<T, ApiError>;

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::invalid(format!("{id:?} is not a record id")).into())
}

/// Blocking work (key derivation, keychain, SQLite) must not stall the async runtime's threads.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
