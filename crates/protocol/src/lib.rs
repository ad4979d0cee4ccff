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
//! * [`adding_an_entity`]: the steps that add a synced entity (a declaration and a domain module).
//! * [`canned`]: canned-reply templates (variables, language fallback), rendered alike on both sides.
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

#[doc = include_str!("../ADDING_AN_ENTITY.md")]
pub mod adding_an_entity {}
pub mod canned;
pub mod error;
pub mod hlc;
pub mod schema;
pub mod scope;
pub mod wire;

/// The protocol version spoken by this build. Requests carry it in [`wire::PROTOCOL_HEADER`].
///
/// Versions are additive: a version adds entity kinds and fields, never changes what an old one
/// means. 1: contacts and conflicts. 2: the desk (queues, memberships, cases, their contacts,
/// messages and attachments), and conflicts that name their owner row. 3: canned replies.
/// 4: deliveries of mailed replies (server-authored) and a case's server-assigned `number`.
/// 5: merged and linked cases (a case's `merged_into`, and `case_link`).
pub const PROTOCOL_VERSION: u32 = 5;
