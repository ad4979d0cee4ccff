//! # liaison-core
//!
//! The client library behind the Liaison desktop app and the `liaison` CLI. It knows nothing of
//! Tauri or HTTP servers; both front ends are thin adapters over it.
//!
//! * [`vault`] and [`keychain`]: the random data key, wrapped by the OS keychain or a passphrase.
//! * [`store`]: the SQLCipher database, its checks, migrations and the one write layer that keeps
//!   per-field clocks and the outbox in step with the rows.
//! * [`contacts`]: the contacts domain (validation, child rows, full-text search).
//! * [`queues`] and [`cases`]: the desk: queues with their members, cases with their contacts
//!   and append-only threads of messages and attachments.
//! * [`drafts`]: what the composer holds per case, kept locally and encrypted as it is typed.
//! * [`conflicts`]: the conflict inbox (concurrent edits the server recorded) and resolving them.
//! * [`entities`]: what the client does per root entity (labels, search indexes, bulk-load hooks).
//! * [`session`]: who is signed in on this device, with which role.
//! * [`sync`]: signing in with a pinned certificate, pushing the outbox, pulling rows.
//! * [`profile`]: a data directory, locked or unlocked: what the front ends hold.
//! * [`demo`]: realistic generated contacts in many languages and scripts.

pub mod canned;
pub mod cases;
pub mod conflicts;
pub mod contacts;
pub mod demo;
pub mod drafts;
pub mod entities;
pub mod error;
pub mod idle;
pub mod keychain;
pub mod paths;
pub mod profile;
pub mod queues;
pub mod session;
pub mod store;
pub mod sync;
pub mod vault;
pub mod wipe;

pub use error::{Error, ErrorCode, Result};
pub use profile::{Profile, VaultState};
