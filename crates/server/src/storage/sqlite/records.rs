//! Server-side records that are not synced (mail state: mailboxes, fetch progress, the
//! Message-ID index, quarantine, outbox), named counters, and the unfiltered change feed that
//! the server's own workers follow.

use super::sync::{pulled_row_at, to_i64, to_u64};
use super::{db, is_unique_violation, parse_ts, ts};
use crate::permissions::Access;
use crate::storage::{PulledRow, Record, StorageError};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::RowState;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

pub(super) const MIGRATION_7: &str = "
CREATE TABLE records (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL,
    doc        TEXT NOT NULL,
    bytes      BLOB,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX records_by_state ON records (kind, state, key);
CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
CREATE INDEX sync_fields_contact_address ON sync_fields (lower(value))
    WHERE entity = 'contact_email' AND name = 'address';
";

const COLUMNS: &str = "kind, key, state, doc, bytes, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(Record, String)> {
    let doc: String = r.get(3)?;
    Ok((
        Record {
            kind: r.get(0)?,
            key: r.get(1)?,
            state: r.get(2)?,
            doc: serde_json::Value::Null,
            bytes: r.get(4)?,
            updated_at: parse_ts(&r.get::<_, String>(5)?)?,
        },
        doc,
    ))
}

fn with_doc((mut record, doc): (Record, String)) -> Result<Record, StorageError> {
    record.doc = serde_json::from_str(&doc).map_err(|e| {
        StorageError::Backend(format!("the stored {} record {:?} is unreadable: {e}", record.kind, record.key))
    })?;
    Ok(record)
}

fn doc_text(record: &Record) -> String {
    record.doc.to_string()
}

pub(super) fn get(c: &Connection, kind: &str, key: &str) -> Result<Option<Record>, StorageError> {
    c.query_row(&format!("SELECT {COLUMNS} FROM records WHERE kind = ?1 AND key = ?2"), [kind, key], from_row)
        .optional()
        .map_err(db)?
        .map(with_doc)
        .transpose()
}

pub(super) fn put(c: &Connection, record: &Record) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO records (kind, key, state, doc, bytes, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state, doc = excluded.doc, bytes = excluded.bytes,
             updated_at = excluded.updated_at",
        params![record.kind, record.key, record.state, doc_text(record), record.bytes, ts(record.updated_at)],
    )
    .map_err(db)?;
    Ok(())
}

pub(super) fn insert(c: &Connection, record: &Record) -> Result<bool, StorageError> {
    match c.execute(
        "INSERT INTO records (kind, key, state, doc, bytes, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![record.kind, record.key, record.state, doc_text(record), record.bytes, ts(record.updated_at)],
    ) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(db(e)),
    }
}

pub(super) fn swap(c: &Connection, record: &Record, expected_state: &str) -> Result<bool, StorageError> {
    let changed = c
        .execute(
            "UPDATE records SET state = ?3, doc = ?4, bytes = ?5, updated_at = ?6 WHERE kind = ?1 AND key = ?2 AND state = ?7",
            params![
                record.kind,
                record.key,
                record.state,
                doc_text(record),
                record.bytes,
                ts(record.updated_at),
                expected_state
            ],
        )
        .map_err(db)?;
    Ok(changed == 1)
}

pub(super) fn delete(c: &Connection, kind: &str, key: &str) -> Result<bool, StorageError> {
    Ok(c.execute("DELETE FROM records WHERE kind = ?1 AND key = ?2", [kind, key]).map_err(db)? == 1)
}

pub(super) fn list(
    c: &Connection,
    kind: &str,
    state: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Record>, StorageError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records WHERE kind = ?1 AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR key > ?3)
             ORDER BY key LIMIT ?4"
        ))
        .map_err(db)?;
    let rows = stmt.query_map(params![kind, state, after, i64::from(limit)], from_row).map_err(db)?;
    rows.map(|r| r.map_err(db).and_then(with_doc)).collect()
}

pub(super) fn next_number(c: &mut Connection, counter: &str) -> Result<u64, StorageError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db)?;
    let value: i64 = tx
        .query_row(
            "INSERT INTO counters (name, value) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1
             RETURNING value",
            [counter],
            |r| r.get(0),
        )
        .map_err(db)?;
    tx.commit().map_err(db)?;
    to_u64(value)
}

pub(super) fn feed(c: &Connection, since: u64, limit: u32) -> Result<Vec<PulledRow>, StorageError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows WHERE seq > ?1
             ORDER BY seq LIMIT ?2",
        )
        .map_err(db)?;
    let mut found = stmt.query(params![to_i64(since), i64::from(limit.max(1))]).map_err(db)?;
    let everything = Access::server();
    let mut rows = Vec::new();
    while let Some(r) = found.next().map_err(db)? {
        if let (_, Some(row)) = pulled_row_at(r, &everything, u32::MAX)? {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// A row as `user` may read it (`None`: as the server, whatever its scope).
pub(super) fn row(
    c: &Connection,
    user: Option<Uuid>,
    kind: EntityKind,
    id: Uuid,
) -> Result<Option<RowState>, StorageError> {
    let access = match user {
        Some(user) => super::access::load(c, user)?,
        None => Access::server(),
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
             WHERE entity = ?1 AND row_id = ?2",
        )
        .map_err(db)?;
    let mut found = stmt.query(params![kind.as_str(), id.as_bytes()]).map_err(db)?;
    match found.next().map_err(db)? {
        Some(r) => match pulled_row_at(r, &access, u32::MAX)? {
            (_, Some(row)) => Ok(Some(row.decode()?)),
            (_, None) => Ok(None),
        },
        None => Ok(None),
    }
}

pub(super) fn children(c: &Connection, parent: Uuid) -> Result<Vec<RowState>, StorageError> {
    let access = Access::server();
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
             WHERE parent_id = ?1 AND deleted = 0 ORDER BY seq",
        )
        .map_err(db)?;
    let mut found = stmt.query(params![parent.as_bytes()]).map_err(db)?;
    let mut rows = Vec::new();
    while let Some(r) = found.next().map_err(db)? {
        if let (_, Some(row)) = pulled_row_at(r, &access, u32::MAX)? {
            rows.push(row.decode()?);
        }
    }
    Ok(rows)
}

pub(super) fn contacts_with_address(c: &Connection, address: &str) -> Result<Vec<Uuid>, StorageError> {
    let quoted = serde_json::Value::String(address.trim().to_lowercase()).to_string();
    let mut stmt = c
        .prepare_cached(
            "SELECT o.value FROM sync_fields f
             JOIN sync_fields o ON o.entity = f.entity AND o.row_id = f.row_id AND o.name = 'contact_id'
             JOIN sync_rows r ON r.entity = f.entity AND r.row_id = f.row_id AND r.deleted = 0
             WHERE f.entity = 'contact_email' AND f.name = 'address' AND lower(f.value) = ?1
             ORDER BY r.seq",
        )
        .map_err(db)?;
    let values = stmt.query_map([quoted], |r| r.get::<_, String>(0)).map_err(db)?;
    let mut ids = Vec::new();
    for value in values {
        let value = value.map_err(db)?;
        if let Some(id) = serde_json::from_str::<String>(&value).ok().and_then(|s| Uuid::parse_str(&s).ok())
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    Ok(ids)
}
