//! Request and response bodies of the server's HTTP API. Everything is JSON, `snake_case`.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/v1/info` | – | [`ServerInfo`] |
//! | POST | `/v1/login` | [`LoginRequest`] | [`LoginResponse`] |
//! | POST | `/v1/push` | [`PushRequest`] | [`PushResponse`] |
//! | GET | `/v1/pull?since=N&limit=M` | – | [`PullResponse`] |
//! | GET | `/v1/snapshot?at=S&after=K` | – | a stream of [`SnapshotLine`]s, one JSON per line |
//! | POST | `/v1/contacts/{id}/erase` | – | [`EraseResponse`] (staff and admins only) |
//!
//! Every request carries [`PROTOCOL_HEADER`] and [`APP_HEADER`]; authenticated ones carry
//! `Authorization: Bearer <token>`. Errors are [`crate::error::ErrorBody`] with the HTTP status of
//! its code.

use crate::error::ErrorBody;
use crate::hlc::{Hlc, Stamp};
use crate::schema::EntityKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Header carrying the client's protocol version (an integer).
pub const PROTOCOL_HEADER: &str = "x-liaison-protocol";
/// Header carrying the client application's version (informational).
pub const APP_HEADER: &str = "x-liaison-app";

/// At most this many changes in one push.
pub const MAX_PUSH_CHANGES: usize = 500;
/// Largest request body the server accepts, measured after decompression.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default and maximum page size for pull.
pub const DEFAULT_PULL_LIMIT: u32 = 500;
pub const MAX_PULL_LIMIT: u32 = 5_000;

/// Account roles, from most to least privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Staff,
    Trainer,
    Volunteer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Staff, Role::Trainer, Role::Volunteer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Trainer => "trainer",
            Role::Volunteer => "volunteer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub server_version: String,
    pub protocol_min: u32,
    pub protocol_max: u32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
    /// The client's device id: the `device` in every stamp it writes. Generated once per vault.
    pub device_id: Uuid,
    /// A name a person recognises in `device list` (e.g. the host name).
    pub device_name: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("device_id", &self.device_id)
            .field("device_name", &self.device_name)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Bearer token for this device; shown once, stored hashed on the server.
    pub token: String,
    pub device_id: Uuid,
    pub user: String,
    pub role: Role,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"<redacted>")
            .field("device_id", &self.device_id)
            .field("user", &self.user)
            .field("role", &self.role)
            .finish()
    }
}

/// One field write inside a [`Change`]. The device is the authenticated device; the server never
/// takes it from the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldWrite {
    pub value: Value,
    pub hlc: Hlc,
}

/// A change to one row: the fields that changed (only those), and/or a delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Unique per change; the server remembers applied change ids so a retry is applied once.
    pub change_id: Uuid,
    pub entity: EntityKind,
    pub row_id: Uuid,
    /// The server sequence of the row version the author last saw (0: never seen from the server).
    #[serde(default)]
    pub base_seq: u64,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldWrite>,
    /// Set when the row is deleted: the clock of the delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Hlc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// Unique per batch; a retried batch returns the stored response.
    pub batch_id: Uuid,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeResult {
    pub change_id: Uuid,
    pub outcome: Outcome,
    /// For accepted changes: the row's server sequence after applying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// For rejected changes: why, as `{ code, message }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// One result per change, in request order.
    pub results: Vec<ChangeResult>,
}

/// A field's current value on the server, with who wrote it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldState {
    pub value: Value,
    pub hlc: Hlc,
    pub device: Uuid,
}

impl FieldState {
    pub fn stamp(&self) -> Stamp {
        Stamp::new(self.hlc, self.device)
    }
}

/// The server's current version of a row. Pull sends whole rows (only those changed since the
/// cursor), so a device that missed intermediate versions still converges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowState {
    /// The server sequence at which this row last changed; the pull cursor moves past it.
    pub seq: u64,
    pub entity: EntityKind,
    pub row_id: Uuid,
    /// A tombstone: the row was deleted; `fields` is empty.
    #[serde(default)]
    pub deleted: bool,
    /// The row was erased (right to erasure): also `deleted`. A device must physically remove the
    /// row and anything it still holds about it (unsent changes included), and the server refuses
    /// every later change to this id with [`crate::error::ErrorCode::Erased`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub purged: bool,
    /// The row's scope (see [`crate::scope`]); a device deletes every row of a scope it receives
    /// in [`PullResponse::revoked_scopes`].
    #[serde(default = "public_scope")]
    pub scope: String,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldState>,
}

fn public_scope() -> String {
    crate::scope::PUBLIC.to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    pub rows: Vec<RowState>,
    /// Scopes this user lost since the cursor (a contact was restricted, a grant was revoked, the
    /// user's role was lowered). The device must physically delete every row it holds in them.
    /// Only sent to a device whose cursor shows it may hold rows of the scope, so a revoke never
    /// reveals a record the device never had.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_scopes: Vec<String>,
    /// Pass as `since` next time.
    pub next_cursor: u64,
    pub has_more: bool,
}

/// `Content-Type` of a snapshot: newline-delimited JSON, one [`SnapshotLine`] per line.
pub const SNAPSHOT_CONTENT_TYPE: &str = "application/x-ndjson";

/// One line of a snapshot (`GET /v1/snapshot`): every row the user may read, as of one server
/// sequence `at`, for a device that starts from nothing (or must re-sync, see
/// [`crate::error::ErrorCode::ResyncRequired`]).
///
/// The stream is `Start`, then the rows in sequence order, then `End`. Rows are the current
/// versions of live rows with `seq <= at`. Tombstones are left out (an empty device has nothing
/// to delete), except erasures (`purged`): a device may hold data about that person that the
/// server never saw, created offline, and must purge it. A row changed after `at` is not in the snapshot but comes with the incremental
/// pull that follows (`since = at`), so snapshot + pull is one consistent state. A device that
/// loses the connection asks again with the same `at` and `after` = the sequence of the last row
/// it stored, and receives only the rest. A stream without `End` is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotLine {
    Start { at: u64 },
    Row(RowState),
    End { at: u64, rows: u64 },
}

/// One side of a recorded conflict (the `kept` and `lost` fields of a `conflict` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictSide {
    /// The field's value; for the losing side of a delete conflict, an object of the changed
    /// fields; `null` for a delete.
    pub value: Value,
    pub hlc: Hlc,
    /// The device that wrote this side, and the name of its user.
    pub device: Uuid,
    pub user: String,
}

/// The answer to an erasure: what the server erased. Devices learn of it through pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseResponse {
    pub contact_id: Uuid,
    /// Rows erased: the contact (when the server held it) and its emails, phones, identifiers.
    pub rows: u64,
}
