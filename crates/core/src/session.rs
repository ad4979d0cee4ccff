//! What this device knows of its session with a server: the server, the token, the signed-in
//! user and role, and the sync cursor, kept in the encrypted store's `meta` table. Domain
//! modules ask here who is signed in (to label conflicts, to know what the role may do) without
//! depending on the sync client.

use crate::error::Result;
use crate::store::meta;
use liaison_protocol::wire::Role;
use rusqlite::Connection;

/// The `meta` keys of the session.
pub(crate) mod keys {
    pub const URL: &str = "server_url";
    pub const FINGERPRINT: &str = "server_fingerprint";
    pub const TOKEN: &str = "server_token";
    pub const USER: &str = "server_user";
    pub const ROLE: &str = "server_role";
    pub const CURSOR: &str = "pull_cursor";
    pub const CURSOR_URL: &str = "pull_cursor_url";
    pub const LAST_SYNC: &str = "last_sync_at";
    pub const LAST_ERROR: &str = "last_sync_error";
    /// A snapshot in progress: the server sequence it is consistent at, the sequence of the last
    /// row stored, and whether it is a re-sync (rows it does not contain are then deleted).
    pub const SNAPSHOT_AT: &str = "snapshot_at";
    pub const SNAPSHOT_AFTER: &str = "snapshot_after";
    pub const SNAPSHOT_RESYNC: &str = "snapshot_resync";
}

/// The user signed in on this device (kept after sign-out, for labelling conflicts).
pub fn signed_in_user(conn: &Connection) -> Result<Option<String>> {
    meta::get(conn, keys::USER)
}

/// The role of the signed-in user, when known.
pub fn signed_in_role(conn: &Connection) -> Result<Option<Role>> {
    Ok(meta::get(conn, keys::ROLE)?.and_then(|r| Role::parse(&r)))
}

/// Whether the signed-in user is staff or an administrator (`false` when nobody signed in).
pub fn is_staff(conn: &Connection) -> Result<bool> {
    Ok(matches!(signed_in_role(conn)?, Some(Role::Admin | Role::Staff)))
}
