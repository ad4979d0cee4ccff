//! Sync bookkeeping: per-field clocks, the server sequence each row was last seen at, tombstones,
//! and the outbox of local changes waiting to be pushed (the sync ledger).

use super::Migration;
use crate::error::{Error, Result};
use liaison_protocol::hlc::{Hlc, Stamp};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldWrite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const MIGRATION_1: Migration = Migration {
    table: "sync",
    sql: "
CREATE TABLE field_clock (
    entity TEXT NOT NULL, row_id BLOB NOT NULL, field TEXT NOT NULL,
    millis INTEGER NOT NULL, counter INTEGER NOT NULL, device BLOB NOT NULL,
    PRIMARY KEY (entity, row_id, field)
) WITHOUT ROWID;
CREATE TABLE row_seq (
    entity TEXT NOT NULL, row_id BLOB NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (entity, row_id)
) WITHOUT ROWID;
CREATE TABLE tombstone (
    entity TEXT NOT NULL, row_id BLOB NOT NULL, millis INTEGER NOT NULL, counter INTEGER NOT NULL,
    PRIMARY KEY (entity, row_id)
) WITHOUT ROWID;
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id BLOB NOT NULL UNIQUE,
    entity TEXT NOT NULL,
    row_id BLOB NOT NULL,
    base_seq INTEGER NOT NULL,
    fields TEXT NOT NULL,
    deleted TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'accepted', 'rejected')),
    batch_id BLOB,
    error_code TEXT,
    error_message TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX outbox_state ON outbox(state, id);
",
};

/// Looking up a row's unsent changes during every pull needs this index.
pub const MIGRATION_2: Migration =
    Migration { table: "sync", sql: "CREATE INDEX outbox_by_row ON outbox(entity, row_id, state);" };

/// 3: the scope each pulled row belongs to, so a revoked scope can be deleted row by row.
pub const MIGRATION_3: Migration = Migration {
    table: "sync",
    sql: "ALTER TABLE row_seq ADD COLUMN scope TEXT; CREATE INDEX row_seq_by_scope ON row_seq(scope);",
};

/// 4: rows confirmed by a re-sync snapshot (see `sync::snapshot`); emptied when it ends.
pub const MIGRATION_4: Migration = Migration {
    table: "sync",
    sql: "CREATE TABLE snapshot_seen (entity TEXT NOT NULL, row_id BLOB NOT NULL, PRIMARY KEY (entity, row_id)) WITHOUT ROWID;",
};

/// 5: a row's base stamp: the stamp of every field of the row that has no `field_clock` entry of
/// its own. A pulled row whose fields were all written together (most rows) then costs one
/// `row_seq` row instead of one `field_clock` row per field.
pub const MIGRATION_5: Migration = Migration {
    table: "sync",
    sql: "ALTER TABLE row_seq ADD COLUMN base_millis INTEGER; ALTER TABLE row_seq ADD COLUMN base_counter INTEGER; ALTER TABLE row_seq ADD COLUMN base_device BLOB;",
};

/// Record that a re-sync snapshot contained this row.
pub fn mark_seen(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO snapshot_seen(entity, row_id) VALUES (?1, ?2)")?
        .execute(params![entity.as_str(), blob(row)])?;
    Ok(())
}

/// Rows this device received from the server earlier, or sent and had accepted, that the
/// re-sync snapshot did not contain (deleted, restricted or erased while the device was away; a
/// note accepted just before its case was deleted), leaving out rows with unsent local changes.
/// Empties the record of seen rows.
pub fn take_unseen(conn: &Connection) -> Result<Vec<(EntityKind, Uuid)>> {
    let rows: Vec<(String, Vec<u8>)> = conn
        .prepare(
            "SELECT r.entity, r.row_id FROM (
                 SELECT entity, row_id FROM row_seq
                 UNION SELECT entity, row_id FROM outbox WHERE state = 'accepted'
             ) r
             WHERE NOT EXISTS (SELECT 1 FROM snapshot_seen s WHERE s.entity = r.entity AND s.row_id = r.row_id)
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity = r.entity AND o.row_id = r.row_id AND o.state IN ('pending', 'sent'))
               AND NOT EXISTS (SELECT 1 FROM tombstone t WHERE t.entity = r.entity AND t.row_id = r.row_id)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    conn.execute("DELETE FROM snapshot_seen", [])?;
    Ok(rows.into_iter().filter_map(|(e, id)| Some((EntityKind::parse(&e)?, Uuid::from_slice(&id).ok()?))).collect())
}

/// The rows this device received in `scope`.
pub fn rows_in_scope(conn: &Connection, scope: &str) -> Result<Vec<(EntityKind, Uuid)>> {
    let rows: Vec<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT entity, row_id FROM row_seq WHERE scope = ?1")?
        .query_map([scope], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows.into_iter().filter_map(|(e, id)| Some((EntityKind::parse(&e)?, Uuid::from_slice(&id).ok()?))).collect())
}

/// Forget everything about a row except its outbox entries: clocks and the sequence it was seen at.
pub fn forget_row(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<()> {
    clear_stamps(conn, entity, row)?;
    conn.prepare_cached("DELETE FROM row_seq WHERE entity = ?1 AND row_id = ?2")?
        .execute(params![entity.as_str(), blob(row)])?;
    Ok(())
}

/// The fields of a row that have local changes the server has not acknowledged yet
/// (pending or sent), and whether a delete of the row is among them.
pub fn unsent_fields(
    conn: &Connection,
    entity: EntityKind,
    row: Uuid,
) -> Result<(std::collections::BTreeSet<String>, bool)> {
    let mut stmt = conn.prepare_cached(
        "SELECT fields, deleted FROM outbox WHERE entity = ?1 AND row_id = ?2 AND state IN ('pending', 'sent')",
    )?;
    let mut fields = std::collections::BTreeSet::new();
    let mut deleted = false;
    let rows = stmt.query_map(params![entity.as_str(), blob(row)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    for row in rows {
        let (json, del) = row?;
        deleted |= del.is_some();
        let map: BTreeMap<String, FieldWrite> =
            serde_json::from_str(&json).map_err(|e| Error::internal("outbox entry", e))?;
        fields.extend(map.into_keys());
    }
    Ok((fields, deleted))
}

/// The state of an outgoing change in the sync ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be sent.
    Pending,
    /// Sent; the answer has not arrived yet (it is re-sent with the same batch id).
    Sent,
    Accepted,
    /// Refused by the server; `error` says why.
    Rejected,
}

impl OutboxState {
    fn parse(s: &str) -> OutboxState {
        match s {
            "sent" => OutboxState::Sent,
            "accepted" => OutboxState::Accepted,
            "rejected" => OutboxState::Rejected,
            _ => OutboxState::Pending,
        }
    }
}

pub(crate) fn blob(id: Uuid) -> [u8; 16] {
    *id.as_bytes()
}

pub(crate) fn uuid_from(bytes: Vec<u8>) -> rusqlite::Result<Uuid> {
    Uuid::from_slice(&bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))
}

/// The stamp of a field: its own, or else the row's base stamp (see [`MIGRATION_5`]).
pub fn stamp(conn: &Connection, entity: EntityKind, row: Uuid, field: &str) -> Result<Option<Stamp>> {
    let mut stmt = conn.prepare_cached(
        "SELECT millis, counter, device, 0 AS own FROM field_clock WHERE entity = ?1 AND row_id = ?2 AND field = ?3
         UNION ALL
         SELECT base_millis, base_counter, base_device, 1 FROM row_seq WHERE entity = ?1 AND row_id = ?2 AND base_device IS NOT NULL
         ORDER BY own LIMIT 1",
    )?;
    Ok(stmt
        .query_row(params![entity.as_str(), blob(row), field], |r| {
            Ok(Stamp::new(Hlc::new(r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u32), uuid_from(r.get(2)?)?))
        })
        .optional()?)
}

pub fn set_stamp(conn: &Connection, entity: EntityKind, row: Uuid, field: &str, stamp: Stamp) -> Result<()> {
    set_stamps(conn, entity, row, &[(field, stamp)])
}

/// Forget every stamp of a row (its own and its base stamp).
pub fn clear_stamps(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<()> {
    conn.prepare_cached("DELETE FROM field_clock WHERE entity = ?1 AND row_id = ?2")?
        .execute(params![entity.as_str(), blob(row)])?;
    conn.prepare_cached("UPDATE row_seq SET base_millis = NULL, base_counter = NULL, base_device = NULL WHERE entity = ?1 AND row_id = ?2 AND base_device IS NOT NULL")?
        .execute(params![entity.as_str(), blob(row)])?;
    Ok(())
}

pub fn row_seq(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<u64> {
    let mut stmt = conn.prepare_cached("SELECT seq FROM row_seq WHERE entity = ?1 AND row_id = ?2")?;
    Ok(stmt.query_row(params![entity.as_str(), blob(row)], |r| r.get::<_, i64>(0)).optional()?.unwrap_or(0) as u64)
}

pub fn set_row_seq(conn: &Connection, entity: EntityKind, row: Uuid, seq: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO row_seq(entity, row_id, seq) VALUES (?1, ?2, ?3) ON CONFLICT(entity, row_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![entity.as_str(), blob(row), seq as i64])?;
    Ok(())
}

/// Record the sequence a row was seen at and the scope the server gave it, in one statement.
pub fn set_row_seq_and_scope(conn: &Connection, entity: EntityKind, row: Uuid, seq: u64, scope: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO row_seq(entity, row_id, seq, scope) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(entity, row_id) DO UPDATE SET seq = max(seq, excluded.seq), scope = excluded.scope",
    )?
    .execute(params![entity.as_str(), blob(row), seq as i64, scope])?;
    Ok(())
}

/// Record a row new to this device: its sequence, scope and stamps, in as few writes as
/// possible. The stamp most fields share becomes the row's base stamp; only fields stamped
/// otherwise get `field_clock` rows. The row must have no stamps yet.
pub fn record_new_row(
    conn: &Connection,
    entity: EntityKind,
    row: Uuid,
    seq: u64,
    scope: &str,
    stamps: &[(&str, Stamp)],
) -> Result<()> {
    let base = most_common(stamps.iter().map(|(_, s)| *s));
    let (millis, counter, device) = match base {
        Some(b) => (Some(b.hlc.millis as i64), Some(i64::from(b.hlc.counter)), Some(blob(b.device))),
        None => (None, None, None),
    };
    conn.prepare_cached(
        "INSERT INTO row_seq(entity, row_id, seq, scope, base_millis, base_counter, base_device) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(entity, row_id) DO UPDATE SET seq = max(seq, excluded.seq), scope = excluded.scope,
             base_millis = excluded.base_millis, base_counter = excluded.base_counter, base_device = excluded.base_device",
    )?
    .execute(params![entity.as_str(), blob(row), seq as i64, scope, millis, counter, device])?;
    let own: Vec<(&str, Stamp)> = stamps.iter().filter(|(_, s)| Some(*s) != base).copied().collect();
    set_stamps(conn, entity, row, &own)
}

fn most_common(stamps: impl Iterator<Item = Stamp>) -> Option<Stamp> {
    let mut counts: Vec<(Stamp, usize)> = Vec::new();
    for stamp in stamps {
        match counts.iter_mut().find(|(s, _)| *s == stamp) {
            Some((_, n)) => *n += 1,
            None => counts.push((stamp, 1)),
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(s, _)| s)
}

/// Stamp fields of a row, in one statement.
pub fn set_stamps(conn: &Connection, entity: EntityKind, row: Uuid, stamps: &[(&str, Stamp)]) -> Result<()> {
    if stamps.is_empty() {
        return Ok(());
    }
    let values = vec!["(?, ?, ?, ?, ?, ?)"; stamps.len()].join(", ");
    let sql = format!(
        "INSERT INTO field_clock(entity, row_id, field, millis, counter, device) VALUES {values}
         ON CONFLICT(entity, row_id, field) DO UPDATE SET millis = excluded.millis, counter = excluded.counter, device = excluded.device"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let (entity, row) = (entity.as_str(), blob(row));
    for (i, (field, stamp)) in stamps.iter().enumerate() {
        let at = i * 6;
        stmt.raw_bind_parameter(at + 1, entity)?;
        stmt.raw_bind_parameter(at + 2, row)?;
        stmt.raw_bind_parameter(at + 3, *field)?;
        stmt.raw_bind_parameter(at + 4, stamp.hlc.millis as i64)?;
        stmt.raw_bind_parameter(at + 5, i64::from(stamp.hlc.counter))?;
        stmt.raw_bind_parameter(at + 6, blob(stamp.device))?;
    }
    stmt.raw_execute()?;
    Ok(())
}

/// The rows with local changes the server has not acknowledged yet (pending or sent).
pub fn rows_with_unsent_changes(conn: &Connection) -> Result<std::collections::HashSet<(EntityKind, Uuid)>> {
    let rows: Vec<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT DISTINCT entity, row_id FROM outbox WHERE state IN ('pending', 'sent')")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows.into_iter().filter_map(|(e, id)| Some((EntityKind::parse(&e)?, Uuid::from_slice(&id).ok()?))).collect())
}

/// Whether this device holds any tombstone at all.
pub fn any_tombstone(conn: &Connection) -> Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM tombstone LIMIT 1")?.exists([])?)
}

pub fn is_tombstoned(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM tombstone WHERE entity = ?1 AND row_id = ?2")?;
    Ok(stmt.exists(params![entity.as_str(), blob(row)])?)
}

pub fn add_tombstone(conn: &Connection, entity: EntityKind, row: Uuid, hlc: Hlc) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO tombstone(entity, row_id, millis, counter) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![entity.as_str(), blob(row), hlc.millis as i64, hlc.counter as i64])?;
    Ok(())
}

/// Record a local change for the server, in the caller's transaction.
pub fn enqueue(conn: &Connection, change: &Change) -> Result<()> {
    let now = chrono::Utc::now().to_rfc3339();
    let fields = serde_json::to_string(&change.fields).map_err(|e| Error::internal("outbox", e))?;
    conn.prepare_cached(
        "INSERT INTO outbox(change_id, entity, row_id, base_seq, fields, deleted, state, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
    )?
    .execute(params![
        blob(change.change_id),
        change.entity.as_str(),
        blob(change.row_id),
        change.base_seq as i64,
        fields,
        change.deleted.map(|h| h.to_string()),
        now
    ])?;
    Ok(())
}

/// One row of the sync ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub change: Change,
    pub state: OutboxState,
    pub batch_id: Option<Uuid>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One outbox row as read; a damaged column becomes a conversion error, never a panic.
fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    fn bad(column: usize, what: &str) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, format!("outbox {what}").into())
    }
    let fields: String = r.get(5)?;
    let deleted: Option<String> = r.get(6)?;
    let state: String = r.get(7)?;
    let batch_id: Option<Vec<u8>> = r.get(8)?;
    Ok(OutboxEntry {
        seq: r.get(0)?,
        change: Change {
            change_id: uuid_from(r.get(1)?)?,
            entity: EntityKind::parse(&r.get::<_, String>(2)?).ok_or_else(|| bad(2, "entity"))?,
            row_id: uuid_from(r.get(3)?)?,
            base_seq: r.get::<_, i64>(4)? as u64,
            fields: serde_json::from_str::<BTreeMap<String, FieldWrite>>(&fields).map_err(|_| bad(5, "fields"))?,
            deleted: deleted.map(|d| d.parse::<Hlc>()).transpose().map_err(|_| bad(6, "delete clock"))?,
        },
        state: OutboxState::parse(&state),
        batch_id: batch_id.map(uuid_from).transpose()?,
        error_code: r.get(9)?,
        error_message: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

const ENTRY_COLUMNS: &str = "id, change_id, entity, row_id, base_seq, fields, deleted, state, batch_id, error_code, error_message, created_at, updated_at";

/// Outbox entries in the given states, oldest first, at most `limit`.
pub fn entries(conn: &Connection, states: &[OutboxState], limit: usize) -> Result<Vec<OutboxEntry>> {
    let names: Vec<String> = states.iter().map(|s| format!("'{}'", state_name(*s))).collect();
    query_entries(
        conn,
        &format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE state IN ({}) ORDER BY id LIMIT ?1", names.join(",")),
        limit,
    )
}

/// The newest `limit` outbox entries in any state, oldest of them first: the sync ledger.
pub fn newest_entries(conn: &Connection, limit: usize) -> Result<Vec<OutboxEntry>> {
    query_entries(
        conn,
        &format!("SELECT * FROM (SELECT {ENTRY_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1) ORDER BY id"),
        limit,
    )
}

fn query_entries(conn: &Connection, sql: &str, limit: usize) -> Result<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([limit as i64], entry_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn state_name(s: OutboxState) -> &'static str {
    match s {
        OutboxState::Pending => "pending",
        OutboxState::Sent => "sent",
        OutboxState::Accepted => "accepted",
        OutboxState::Rejected => "rejected",
    }
}

pub fn mark_sent(conn: &Connection, ids: &[i64], batch_id: Uuid) -> Result<()> {
    let now = chrono::Utc::now().to_rfc3339();
    let mut stmt =
        conn.prepare_cached("UPDATE outbox SET state = 'sent', batch_id = ?2, updated_at = ?3 WHERE id = ?1")?;
    for id in ids {
        stmt.execute(params![id, blob(batch_id), now])?;
    }
    Ok(())
}

pub fn mark_result(conn: &Connection, change_id: Uuid, state: OutboxState, error: Option<(&str, &str)>) -> Result<()> {
    let now = chrono::Utc::now().to_rfc3339();
    conn.prepare_cached(
        "UPDATE outbox SET state = ?2, error_code = ?3, error_message = ?4, updated_at = ?5 WHERE change_id = ?1",
    )?
    .execute(params![blob(change_id), state_name(state), error.map(|e| e.0), error.map(|e| e.1), now])?;
    Ok(())
}

/// Why the data of outgoing changes is being removed from the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The person's data was erased at their request (right to erasure).
    Erased,
    /// This user lost access to the record (it was restricted, or a grant was revoked).
    AccessRevoked,
}

impl Removal {
    fn code_and_message(self) -> (&'static str, &'static str) {
        match self {
            Removal::Erased => ("erased", "This person's data was erased at their request; the change was not sent."),
            Removal::AccessRevoked => (
                "forbidden",
                "You no longer have access to this record, so it was removed from this device; the change was not sent.",
            ),
        }
    }
}

/// Remove the personal data from every outbox entry about a row. Unsent entries are marked
/// refused with the removal's code; the entries stay, empty, in the ledger.
pub fn erase_outbox_data(conn: &Connection, entity: EntityKind, row: Uuid, why: Removal) -> Result<()> {
    let (code, message) = why.code_and_message();
    conn.prepare_cached(
        "UPDATE outbox SET fields = '{}',
             error_code = CASE WHEN state IN ('pending', 'sent') THEN ?3 ELSE error_code END,
             error_message = CASE WHEN state IN ('pending', 'sent') THEN ?4 ELSE error_message END,
             state = CASE WHEN state IN ('pending', 'sent') THEN 'rejected' ELSE state END
         WHERE entity = ?1 AND row_id = ?2",
    )?
    .execute(params![entity.as_str(), blob(row), code, message])?;
    Ok(())
}

/// [`erase_outbox_data`] for every entry whose fields mention `id` (a child row created for a
/// removed parent that the server never saw).
pub fn erase_outbox_data_mentioning(conn: &Connection, id: Uuid, why: Removal) -> Result<()> {
    let pattern = format!("%\"{id}\"%");
    let rows: Vec<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT entity, row_id FROM outbox WHERE fields LIKE ?1")?
        .query_map([pattern], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (entity, row) in rows {
        if let (Some(entity), Ok(row)) = (EntityKind::parse(&entity), Uuid::from_slice(&row)) {
            erase_outbox_data(conn, entity, row, why)?;
        }
    }
    Ok(())
}

/// Count of outbox entries per state.
pub fn count(conn: &Connection, state: OutboxState) -> Result<u64> {
    Ok(conn.query_row("SELECT count(*) FROM outbox WHERE state = ?1", [state_name(state)], |r| r.get::<_, i64>(0))?
        as u64)
}
