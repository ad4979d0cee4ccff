//! # liaison-server
//!
//! The Liaison sync server as a library, with a thin binary (`src/main.rs`) for `serve` and the
//! admin commands.
//!
//! * [`router`] builds the versioned HTTP API (`/v1/info`, `/v1/login`, `/v1/push`, `/v1/pull`,
//!   `/v1/snapshot`, see [`liaison_protocol::wire`]) as an axum [`Router`](axum::Router), so
//!   tests call it with `tower::ServiceExt::oneshot` and no socket.
//! * [`Server`] / [`serve`] run it over HTTPS (rustls with the ring provider), with a certificate
//!   from files or a self-signed one generated on first start.
//! * [`storage::Storage`] is the one trait handlers see; [`storage::SqliteStorage`] is the embedded
//!   default and [`storage::PostgresStorage`] the server-grade alternative (`serve --database`).
//!   The sync rules (merge, clamping, tombstones, scopes) are pure functions in [`sync`], who
//!   may read or write a row is decided in [`permissions`] alone, and [`engine`] sequences them
//!   for push, erasure, grants and role changes over a narrow port that each backend implements
//!   in SQL only.
//! * [`sla`] computes a case's SLA clocks from its thread and [`clocks`] is the worker that
//!   keeps them on every case (the server-set fields `sla` and `due_at`), next to [`mail`].
//! * [`presence`]: who else has a case open or is writing a reply, in memory, for devices that
//!   may read the case (`POST /v1/presence`), and the replies others sent since a draft began.
//! * [`retention`] prunes tombstones older than the retention period and sets the horizon below
//!   which devices re-sync from a snapshot.
//! * Every error on the wire is `{ code, message }` ([`error::ApiError`]).
//!
//! ```no_run
//! use liaison_server::{AppState, router, storage::SqliteStorage};
//! use std::sync::Arc;
//!
//! let storage = SqliteStorage::open(std::path::Path::new("/var/lib/liaison-server/server.db"))?;
//! let app: axum::Router = router(AppState::new(Arc::new(storage)));
//! # Ok::<(), liaison_server::storage::StorageError>(())
//! ```

pub mod admin;
pub mod audit;
pub mod auth;
pub mod clocks;
pub mod engine;
pub mod error;
pub mod handlers;
pub mod mail;
pub mod permissions;
pub mod presence;
pub mod retention;
pub mod router;
pub mod server;
pub mod sla;
pub mod storage;
pub mod sync;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tls;

pub use error::ApiError;
pub use router::{PROTOCOL_MAX, PROTOCOL_MIN, router};
pub use server::{DEFAULT_LISTEN, ServeError, Server, ServerConfig, TlsSource, serve, serve_with_state};

use auth::LoginLimiter;
use std::sync::Arc;
use storage::Storage;

/// What every handler shares: the storage and the login rate limiter.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub login_limiter: Arc<LoginLimiter>,
    /// Who is at which case now, in memory ([`presence`]).
    pub presence: Arc<presence::Presence>,
}

impl AppState {
    /// State over `storage`, with the default login limit (10 failures per user name per minute).
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage, login_limiter: Arc::new(LoginLimiter::default()), presence: Arc::default() }
    }

    /// Replace the login rate limiter (tests use a small one).
    pub fn with_login_limiter(mut self, limiter: LoginLimiter) -> Self {
        self.login_limiter = Arc::new(limiter);
        self
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
