//! End to end: the real `liaison-server` binary on a free loopback port and real `liaison` clients
//! with separate data directories, talking HTTPS with a pinned self-signed certificate.
//!
//! The binaries are built by `cargo xtask test` (which sets `LIAISON_BIN_DIR`); run by hand with
//! `cargo build --workspace --bins && cargo test -p liaison-e2e`.

mod at_rest;
mod audit;
mod compat;
mod conflicts;
mod convergence;
mod crash;
mod desk;
mod harness;
mod lost;
mod scopes;
mod snapshot;
mod sync;
mod trouble;
