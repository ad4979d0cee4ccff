//! **Frozen.** This is `crates/protocol` exactly as it was released with protocol 1 (commit
//! 5329966), kept so that the compatibility tests (`tests/e2e/compat.rs`) can run a client built
//! from it against today's server. Never edit it; a later protocol gets a copy of its own.
//!
//! # liaison-protocol
//!
//! Everything a Liaison client and the Liaison server must agree on, and nothing else: no I/O,
//! no database, no HTTP library. Both sides depend on this crate; neither depends on the other.
//!
//! * [`hlc`]: the hybrid logical clock that stamps every field write, and the merge rule
//!   ([`hlc::Stamp::wins_over`]) that both sides apply: per-field last-writer-wins on
//!   `(hlc, device)`, which is commutative, idempotent and independent of delivery order.
//! * [`schema`]: the synced entities and their fields. The client store and the server storage
//!   both build their tables and validation from it, so a field exists in exactly one list.
//! * [`scope`]: the permission unit every synced row carries.
//! * [`wire`]: request and response bodies of the versioned HTTP API (`/v1/...`).
//! * [`error`]: the one error shape `{ code, message }` used on every wire, with a closed set of codes.
//!
//! ```
//! use liaison_protocol::hlc::{Clock, Hlc, Stamp};
//! use uuid::Uuid;
//!
//! let device = Uuid::now_v7();
//! let mut clock = Clock::default();
//! let first = clock.tick(1_000);
//! let second = clock.tick(900); // the wall clock went backwards: the clock still advances
//! assert!(second > first);
//! assert!(Stamp::new(second, device).wins_over(&Stamp::new(first, device)));
//! # let _ = Hlc::ZERO;
//! ```

pub mod error;
pub mod hlc;
pub mod schema;
pub mod scope;
pub mod wire;

/// The protocol major version spoken by this build. Requests carry it in [`wire::PROTOCOL_HEADER`].
pub const PROTOCOL_VERSION: u32 = 1;
