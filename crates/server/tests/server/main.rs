//! Integration tests of liaison-server. Modules mirror `src/`:
//! `storage` (the backend-independent contract, run against SQLite), `router` (the HTTP API
//! through `oneshot`, no socket), `snapshot` (the streamed snapshot and the 410 re-sync, also
//! through `oneshot`), `server` (real TLS on a port) and `cli` (the binary).

mod blobs;
mod cli;
mod mail_servers;
mod malformed;
mod router;
mod server;
mod snapshot;
mod storage;
mod support;
