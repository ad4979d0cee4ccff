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
//! | PUT | `/v1/blobs/{sha256}` | the bytes of an attachment | 201 stored, 200 held already |
//! | GET | `/v1/blobs/{sha256}` | – | the bytes of an attachment the user may read |
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
    /// The entity kinds this server serves (wire names). Absent from servers older than protocol 2.
    #[serde(default)]
    pub entities: Vec<String>,
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

/// A change as the server reads it from a push: of a kind this build knows, or of one it does
/// not (a newer client's), which the server refuses on its own while the rest of the batch applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Known(Change),
    Unknown { change_id: Uuid, entity: String },
}

impl Incoming {
    pub fn change_id(&self) -> Uuid {
        match self {
            Incoming::Known(change) => change.change_id,
            Incoming::Unknown { change_id, .. } => *change_id,
        }
    }

    pub fn known(&self) -> Option<&Change> {
        match self {
            Incoming::Known(change) => Some(change),
            Incoming::Unknown { .. } => None,
        }
    }
}

/// [`Change`] with its entity as any string: what a push body holds before the kind is known.
#[derive(Deserialize)]
struct AnyChange {
    change_id: Uuid,
    entity: String,
    row_id: Uuid,
    #[serde(default)]
    base_seq: u64,
    #[serde(default)]
    fields: BTreeMap<String, FieldWrite>,
    #[serde(default)]
    deleted: Option<Hlc>,
}

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let any = AnyChange::deserialize(deserializer)?;
        Ok(match EntityKind::parse(&any.entity) {
            Some(entity) => Incoming::Known(Change {
                change_id: any.change_id,
                entity,
                row_id: any.row_id,
                base_seq: any.base_seq,
                fields: any.fields,
                deleted: any.deleted,
            }),
            None => Incoming::Unknown { change_id: any.change_id, entity: any.entity },
        })
    }
}

/// A push as the server reads it (see [`Incoming`]); the same body as a [`PushRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushBatch {
    pub batch_id: Uuid,
    pub changes: Vec<Incoming>,
}

impl From<&PushRequest> for PushBatch {
    fn from(request: &PushRequest) -> Self {
        PushBatch {
            batch_id: request.batch_id,
            changes: request.changes.iter().cloned().map(Incoming::Known).collect(),
        }
    }
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

/// [`RowState`] with its entity as any string: what a pulled row is before its kind is known.
#[derive(Deserialize)]
struct AnyRow {
    seq: u64,
    entity: String,
    row_id: Uuid,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    purged: bool,
    #[serde(default = "public_scope")]
    scope: String,
    #[serde(default)]
    fields: BTreeMap<String, FieldState>,
}

impl AnyRow {
    fn known(self) -> Option<RowState> {
        let entity = EntityKind::parse(&self.entity)?;
        Some(RowState {
            seq: self.seq,
            entity,
            row_id: self.row_id,
            deleted: self.deleted,
            purged: self.purged,
            scope: self.scope,
            fields: self.fields,
        })
    }
}

fn known_rows<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<RowState>, D::Error> {
    let rows: Vec<AnyRow> = Vec::deserialize(deserializer)?;
    Ok(rows.into_iter().filter_map(AnyRow::known).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// Rows of kinds this build does not know (a newer server's) are left out when a page is
    /// read; the cursor still moves past them.
    #[serde(deserialize_with = "known_rows")]
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

/// [`SnapshotLine`] as a client reads it, with rows of any kind.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AnyLine {
    Start { at: u64 },
    Row(AnyRow),
    End { at: u64, rows: u64 },
}

/// Read one line of a snapshot. `Ok(None)`: a row of a kind this build does not know (a newer
/// server's), to be skipped.
pub fn read_snapshot_line(line: &[u8]) -> Result<Option<SnapshotLine>, serde_json::Error> {
    Ok(match serde_json::from_slice::<AnyLine>(line)? {
        AnyLine::Start { at } => Some(SnapshotLine::Start { at }),
        AnyLine::Row(row) => row.known().map(SnapshotLine::Row),
        AnyLine::End { at, rows } => Some(SnapshotLine::End { at, rows }),
    })
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

/// What a person is doing with a case, as presence reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// The case is open on their screen.
    Viewing,
    /// They are writing a reply to the reader.
    Drafting,
    /// They closed the case (their presence ends at once rather than when it expires).
    Left,
}

/// `POST /v1/presence`: what this device is doing with a case. Presence is kept in the
/// server's memory only and expires [`PRESENCE_SECS`] after the last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceRequest {
    pub case_id: Uuid,
    pub activity: Activity,
    /// When this device's draft began (RFC 3339): the answer lists replies others sent since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_started_at: Option<String>,
}

/// How long a presence report lasts without another.
pub const PRESENCE_SECS: u64 = 60;

/// Someone else at the same case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceEntry {
    pub user: String,
    /// The name of their device (a person may have a case open on two).
    pub device: String,
    pub activity: Activity,
    /// When they last reported (RFC 3339).
    pub seen_at: String,
}

/// A public reply someone else sent on the case (when it reached the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyNotice {
    pub user: String,
    pub message_id: Uuid,
    pub at: String,
}

/// The answer to a presence report: who else is at the case now, and the replies others sent
/// since the draft began (when the request said when that was).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceResponse {
    pub others: Vec<PresenceEntry>,
    #[serde(default)]
    pub replied_since: Vec<ReplyNotice>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_change_has_a_stable_wire_form() {
        let id = Uuid::from_u128(1);
        let change = Change {
            change_id: id,
            entity: EntityKind::Contact,
            row_id: id,
            base_seq: 4,
            fields: BTreeMap::from([("display_name".into(), FieldWrite { value: json!("Ada"), hlc: Hlc::new(5, 1) })]),
            deleted: None,
        };
        let v = serde_json::to_value(&change).expect("ser");
        assert_eq!(v["entity"], json!("contact"));
        assert_eq!(v["fields"]["display_name"]["hlc"], json!("5-1"));
        assert!(v.get("deleted").is_none(), "absent delete is omitted to keep bodies small");
        assert_eq!(serde_json::from_value::<Change>(v).expect("de"), change);
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let req = LoginRequest {
            user: "u".into(),
            password: "hunter2".into(),
            device_id: Uuid::nil(),
            device_name: "d".into(),
        };
        assert!(!format!("{req:?}").contains("hunter2"));
        let res = LoginResponse { token: "tok123".into(), device_id: Uuid::nil(), user: "u".into(), role: Role::Staff };
        assert!(!format!("{res:?}").contains("tok123"));
    }

    #[test]
    fn a_change_of_an_unknown_kind_is_read_as_such_and_the_batch_still_decodes() {
        let id = Uuid::from_u128(3);
        let body = json!({"batch_id": id, "changes": [
            {"change_id": id, "entity": "planet", "row_id": id, "fields": {"name": {"value": "Mars", "hlc": "5-0"}}},
            {"change_id": Uuid::from_u128(4), "entity": "contact", "row_id": id},
        ]});
        let batch: PushBatch = serde_json::from_value(body).expect("one unknown kind does not spoil the batch");
        assert_eq!(batch.changes[0], Incoming::Unknown { change_id: id, entity: "planet".into() });
        assert_eq!(batch.changes[1].known().map(|c| c.entity), Some(EntityKind::Contact));
        assert!(
            serde_json::from_value::<Change>(json!({"change_id": id, "entity": "planet", "row_id": id})).is_err(),
            "a Change itself stays strict"
        );
    }

    #[test]
    fn rows_of_unknown_kinds_are_skipped_when_a_page_or_snapshot_line_is_read() {
        let id = Uuid::from_u128(5);
        let page = json!({"rows": [
            {"seq": 1, "entity": "planet", "row_id": id, "scope": "public", "fields": {}},
            {"seq": 2, "entity": "contact", "row_id": id, "scope": "public", "fields": {}},
        ], "next_cursor": 9, "has_more": false});
        let page: PullResponse = serde_json::from_value(page).expect("a page with a newer kind still reads");
        assert_eq!(page.rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2], "the unknown row is left out");
        assert_eq!(page.next_cursor, 9, "and the cursor still moves past it");
        let line = br#"{"row": {"seq": 3, "entity": "planet", "row_id": "00000000-0000-0000-0000-000000000005"}}"#;
        assert_eq!(read_snapshot_line(line).expect("reads"), None);
        assert_eq!(read_snapshot_line(br#"{"start": {"at": 4}}"#).expect("reads"), Some(SnapshotLine::Start { at: 4 }));
        assert!(read_snapshot_line(b"{").is_err(), "broken lines are still errors");
    }

    #[test]
    fn server_info_from_an_older_server_lists_no_entities() {
        let info: ServerInfo =
            serde_json::from_value(json!({"server_version": "0.1.0", "protocol_min": 1, "protocol_max": 1}))
                .expect("old form");
        assert!(info.entities.is_empty());
    }
}
