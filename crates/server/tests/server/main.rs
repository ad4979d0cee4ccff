//! Integration tests of liaison-server. Modules mirror `src/`:
//! `storage` (the backend-independent contract, run against SQLite), `router` (the HTTP API
//! through `oneshot`, no socket), `server` (real TLS on a port) and `cli` (the binary).

mod cli;
mod malformed;
mod router;
mod server;
mod storage;
mod support;
