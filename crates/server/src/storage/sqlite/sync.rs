//! The synced rows (`sync_rows`, `sync_fields`), the sequence counter and the push ledger
//! (`push_batches`, `applied_changes`, `clock_clamps`).
//!
//! Rows are stored generically (one row per entity row, one per field with its stamp) so the
//! server needs no schema change when an entity gains a field. The merge itself is
//! [`crate::sync::plan_change`]; this module loads, calls it and writes, in one transaction.

use super::{db, parse_uuid, ts};
use crate::permissions;
use crate::storage::{ErasureReport, StorageError, User};
use crate::sync::{self, Effect, StoredRow};
use chrono::{DateTime, Utc};
use liaison_protocol::hlc::{Clock, Hlc};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldState, MAX_PULL_LIMIT, PullResponse, PushRequest, PushResponse, RowState};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::BTreeMap;
use uuid::Uuid;

pub(super) const MIGRATION_1: &str = "
CREATE TABLE sync_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    seq           INTEGER NOT NULL,
    clamp_millis  INTEGER NOT NULL,
    clamp_counter INTEGER NOT NULL
);
INSERT INTO sync_state (id, seq, clamp_millis, clamp_counter) VALUES (1, 0, 0, 0);

CREATE TABLE sync_rows (
    entity          TEXT NOT NULL,
    row_id          BLOB NOT NULL,
    seq             INTEGER NOT NULL UNIQUE,
    deleted         INTEGER NOT NULL DEFAULT 0,
    deleted_millis  INTEGER,
    deleted_counter INTEGER,
    deleted_device  BLOB,
    PRIMARY KEY (entity, row_id)
);

CREATE TABLE sync_fields (
    entity      TEXT NOT NULL,
    row_id      BLOB NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    hlc_millis  INTEGER NOT NULL,
    hlc_counter INTEGER NOT NULL,
    device      BLOB NOT NULL,
    PRIMARY KEY (entity, row_id, name),
    FOREIGN KEY (entity, row_id) REFERENCES sync_rows (entity, row_id)
);

CREATE TABLE push_batches (
    batch_id   BLOB PRIMARY KEY NOT NULL,
    device_id  BLOB NOT NULL,
    response   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE applied_changes (
    change_id BLOB PRIMARY KEY NOT NULL,
    batch_id  BLOB NOT NULL,
    device_id BLOB NOT NULL,
    seq       INTEGER
);

CREATE TABLE clock_clamps (
    id        INTEGER PRIMARY KEY,
    change_id BLOB NOT NULL,
    device_id BLOB NOT NULL,
    field     TEXT,
    original  TEXT NOT NULL,
    clamped   TEXT NOT NULL,
    at        TEXT NOT NULL
);
";

/// 2: erasure. `purged` marks a tombstone left by an erasure; `purged_ids` remembers every erased
/// id (also ids the server never held) and the contact whose erasure purged it.
pub(super) const MIGRATION_2: &str = "
ALTER TABLE sync_rows ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;

CREATE TABLE purged_ids (
    row_id     BLOB PRIMARY KEY NOT NULL,
    entity     TEXT NOT NULL,
    contact_id BLOB NOT NULL,
    purged_at  TEXT NOT NULL
);
";

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
}

fn hlc_from(millis: i64, counter: i64) -> rusqlite::Result<Hlc> {
    Ok(Hlc::new(u64::try_from(millis).map_err(conversion)?, u32::try_from(counter).map_err(conversion)?))
}

pub(super) fn push(
    c: &mut Connection,
    user: &User,
    device: Uuid,
    request: &PushRequest,
    now: DateTime<Utc>,
) -> Result<PushResponse, StorageError> {
    let tx = c.transaction().map_err(db)?;
    if let Some(stored) = stored_response(&tx, request.batch_id, device)? {
        return Ok(stored);
    }

    let (mut seq, mut clamp_clock) = tx
        .query_row("SELECT seq, clamp_millis, clamp_counter FROM sync_state WHERE id = 1", [], |r| {
            Ok((
                u64::try_from(r.get::<_, i64>(0)?).map_err(conversion)?,
                Clock::resume(hlc_from(r.get(1)?, r.get(2)?)?),
            ))
        })
        .map_err(db)?;
    let now_millis = sync::unix_millis(now);

    let mut results = Vec::with_capacity(request.changes.len());
    for change in &request.changes {
        let already: Option<Option<i64>> = tx
            .query_row("SELECT seq FROM applied_changes WHERE change_id = ?1", [change.change_id.as_bytes()], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        if let Some(applied_seq) = already {
            results.push(sync::accepted(change.change_id, applied_seq.and_then(|s| u64::try_from(s).ok())));
            continue;
        }

        let touches_erased = any_purged(&tx, &sync::erasure_ids(change))?;
        let existing = load_row(&tx, change.entity, change.row_id)?;
        let plan = match sync::refuse_erased(touches_erased)
            .and_then(|()| sync::plan_change(user, existing.as_ref(), change, device, now_millis, &mut clamp_clock))
        {
            Ok(plan) => plan,
            Err(error) => {
                results.push(sync::rejected(change.change_id, error));
                continue;
            }
        };

        for clamp in &plan.clamps {
            tx.execute(
                "INSERT INTO clock_clamps (change_id, device_id, field, original, clamped, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    change.change_id.as_bytes(),
                    device.as_bytes(),
                    clamp.field,
                    clamp.original.to_string(),
                    clamp.clamped.to_string(),
                    ts(now)
                ],
            )
            .map_err(db)?;
        }
        crate::sync::log_clamps(device, &plan.clamps, now_millis);

        let row_seq = if plan.effect.modifies() {
            seq += 1;
            write_effect(&tx, change, &plan.effect, device, seq)?;
            Some(seq)
        } else {
            existing.as_ref().map(|row| row.seq)
        };
        tx.execute(
            "INSERT INTO applied_changes (change_id, batch_id, device_id, seq) VALUES (?1, ?2, ?3, ?4)",
            params![change.change_id.as_bytes(), request.batch_id.as_bytes(), device.as_bytes(), row_seq.map(to_i64)],
        )
        .map_err(db)?;
        results.push(sync::accepted(change.change_id, row_seq));
    }

    let last = clamp_clock.last();
    tx.execute(
        "UPDATE sync_state SET seq = ?1, clamp_millis = ?2, clamp_counter = ?3 WHERE id = 1",
        params![to_i64(seq), to_i64(last.millis), last.counter],
    )
    .map_err(db)?;
    let response = PushResponse { results };
    let text = serde_json::to_string(&response).map_err(|e| StorageError::Backend(e.to_string()))?;
    tx.execute(
        "INSERT INTO push_batches (batch_id, device_id, response, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![request.batch_id.as_bytes(), device.as_bytes(), text, ts(now)],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(response)
}

fn any_purged(tx: &Transaction<'_>, ids: &[Uuid]) -> Result<bool, StorageError> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM purged_ids WHERE row_id = ?1").map_err(db)?;
    for id in ids {
        if stmt.exists([id.as_bytes()]).map_err(db)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// See [`crate::storage::Storage::erase_contact`]. An immediate transaction, so the counter read
/// here cannot race a push from another process on the same file.
pub(super) fn erase_contact(
    c: &mut Connection,
    contact_id: Uuid,
    now: DateTime<Utc>,
) -> Result<ErasureReport, StorageError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let already_erased = any_purged(&tx, &[contact_id])?;
    let mut seq: u64 = tx
        .query_row("SELECT seq FROM sync_state WHERE id = 1", [], |r| {
            u64::try_from(r.get::<_, i64>(0)?).map_err(conversion)
        })
        .map_err(db)?;
    let contact = EntityKind::Contact.as_str();
    let head: Option<bool> = tx
        .query_row(
            "SELECT purged FROM sync_rows WHERE entity = ?1 AND row_id = ?2",
            params![contact, contact_id.as_bytes()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;

    // Rows still holding data: the contact (unless already purged) and every row pointing at it.
    let mut targets: Vec<(EntityKind, Uuid)> = Vec::new();
    if head == Some(false) {
        targets.push((EntityKind::Contact, contact_id));
    }
    for (kind, parent) in sync::contact_children() {
        let mut stmt =
            tx.prepare_cached("SELECT row_id, value FROM sync_fields WHERE entity = ?1 AND name = ?2").map_err(db)?;
        let rows = stmt
            .query_map(params![kind.as_str(), parent], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?)))
            .map_err(db)?;
        for found in rows {
            let (row_id, value) = found.map_err(db)?;
            if sync::parent_id_from_stored(&value) == Some(contact_id) {
                targets.push((kind, parse_uuid(&row_id).map_err(db)?));
            }
        }
    }

    for (kind, row_id) in &targets {
        seq += 1;
        tx.execute(
            "UPDATE sync_rows SET seq = ?1, deleted = 1, purged = 1 WHERE entity = ?2 AND row_id = ?3",
            params![to_i64(seq), kind.as_str(), row_id.as_bytes()],
        )
        .map_err(db)?;
        tx.execute(
            "DELETE FROM sync_fields WHERE entity = ?1 AND row_id = ?2",
            params![kind.as_str(), row_id.as_bytes()],
        )
        .map_err(db)?;
    }
    if head.is_none() {
        // Never seen here: a purged tombstone still tells a device that created it offline to drop it.
        seq += 1;
        tx.execute(
            "INSERT INTO sync_rows (entity, row_id, seq, deleted, purged) VALUES (?1, ?2, ?3, 1, 1)",
            params![contact, contact_id.as_bytes(), to_i64(seq)],
        )
        .map_err(db)?;
    }
    let mut record = tx
        .prepare_cached(
            "INSERT INTO purged_ids (row_id, entity, contact_id, purged_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (row_id) DO NOTHING",
        )
        .map_err(db)?;
    for (kind, row_id) in targets.iter().chain([(EntityKind::Contact, contact_id)].iter()) {
        record.execute(params![row_id.as_bytes(), kind.as_str(), contact_id.as_bytes(), ts(now)]).map_err(db)?;
    }
    drop(record);
    tx.execute("UPDATE sync_state SET seq = ?1 WHERE id = 1", [to_i64(seq)]).map_err(db)?;
    tx.commit().map_err(db)?;
    let rows = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    let related_rows = rows - u64::from(head == Some(false));
    Ok(ErasureReport { rows, related_rows, contact_found: head.is_some(), already_erased })
}

fn stored_response(tx: &Transaction<'_>, batch_id: Uuid, device: Uuid) -> Result<Option<PushResponse>, StorageError> {
    let stored: Option<(Vec<u8>, String)> = tx
        .query_row("SELECT device_id, response FROM push_batches WHERE batch_id = ?1", [batch_id.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(db)?;
    let Some((owner, text)) = stored else {
        return Ok(None);
    };
    if owner.as_slice() != device.as_bytes() {
        return Err(StorageError::Invalid(
            "this batch id was already used by another device; send the changes under a new batch id".into(),
        ));
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StorageError::Backend(format!("a stored push response is unreadable: {e}")))
}

fn load_row(tx: &Transaction<'_>, entity: EntityKind, row_id: Uuid) -> Result<Option<StoredRow>, StorageError> {
    let head: Option<(i64, bool)> = tx
        .query_row(
            "SELECT seq, deleted FROM sync_rows WHERE entity = ?1 AND row_id = ?2",
            params![entity.as_str(), row_id.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let Some((seq, deleted)) = head else {
        return Ok(None);
    };
    Ok(Some(StoredRow {
        seq: u64::try_from(seq).map_err(|e| StorageError::Backend(e.to_string()))?,
        deleted,
        fields: load_fields(tx, entity, row_id)?,
    }))
}

fn load_fields(c: &Connection, entity: EntityKind, row_id: Uuid) -> Result<BTreeMap<String, FieldState>, StorageError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT name, value, hlc_millis, hlc_counter, device FROM sync_fields WHERE entity = ?1 AND row_id = ?2",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![entity.as_str(), row_id.as_bytes()], |r| {
            let text: String = r.get(1)?;
            let value = serde_json::from_str(&text)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?;
            let state = FieldState {
                value,
                hlc: hlc_from(r.get(2)?, r.get(3)?)?,
                device: parse_uuid(&r.get::<_, Vec<u8>>(4)?)?,
            };
            Ok((r.get::<_, String>(0)?, state))
        })
        .map_err(db)?;
    rows.collect::<rusqlite::Result<BTreeMap<_, _>>>().map_err(db)
}

fn write_effect(
    tx: &Transaction<'_>,
    change: &Change,
    effect: &Effect,
    device: Uuid,
    seq: u64,
) -> Result<(), StorageError> {
    let (entity, row_id) = (change.entity.as_str(), change.row_id.as_bytes());
    match effect {
        Effect::Unchanged => {}
        Effect::Tombstone { hlc } => {
            tx.execute(
                "INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_millis, deleted_counter, deleted_device)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, deleted = 1,
                     deleted_millis = excluded.deleted_millis, deleted_counter = excluded.deleted_counter,
                     deleted_device = excluded.deleted_device",
                params![entity, row_id, to_i64(seq), to_i64(hlc.millis), hlc.counter, device.as_bytes()],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM sync_fields WHERE entity = ?1 AND row_id = ?2", params![entity, row_id])
                .map_err(db)?;
        }
        Effect::Write(fields) => {
            tx.execute(
                "INSERT INTO sync_rows (entity, row_id, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq",
                params![entity, row_id, to_i64(seq)],
            )
            .map_err(db)?;
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (entity, row_id, name) DO UPDATE SET value = excluded.value,
                         hlc_millis = excluded.hlc_millis, hlc_counter = excluded.hlc_counter, device = excluded.device",
                )
                .map_err(db)?;
            for (name, state) in fields {
                let value = serde_json::to_string(&state.value).map_err(|e| StorageError::Backend(e.to_string()))?;
                stmt.execute(params![
                    entity,
                    row_id,
                    name,
                    value,
                    to_i64(state.hlc.millis),
                    state.hlc.counter,
                    state.device.as_bytes()
                ])
                .map_err(db)?;
            }
        }
    }
    Ok(())
}

pub(super) fn pull(c: &mut Connection, user: &User, since: u64, limit: u32) -> Result<PullResponse, StorageError> {
    let limit = limit.clamp(1, MAX_PULL_LIMIT);
    // One read transaction, so the rows and their fields are one consistent version.
    let tx = c.transaction().map_err(db)?;
    let heads: Vec<(i64, String, Vec<u8>, bool, bool)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT seq, entity, row_id, deleted, purged FROM sync_rows WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![to_i64(since), i64::from(limit) + 1], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)?
    };
    let has_more = heads.len() > limit as usize;

    let mut rows = Vec::new();
    let mut next_cursor = since;
    for (seq, entity, row_id, deleted, purged) in heads.into_iter().take(limit as usize) {
        let seq = u64::try_from(seq).map_err(|e| StorageError::Backend(e.to_string()))?;
        next_cursor = seq;
        let entity = EntityKind::parse(&entity)
            .ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?;
        let row_id = parse_uuid(&row_id).map_err(db)?;
        let fields = if deleted { BTreeMap::new() } else { load_fields(&tx, entity, row_id)? };
        let row = RowState { seq, entity, row_id, deleted, purged, scope: liaison_protocol::scope::PUBLIC.to_owned(), fields };
        // Rows the user may not read are skipped, but the cursor still moves past them.
        if permissions::may_read(user, &row) {
            rows.push(row);
        }
    }
    tx.commit().map_err(db)?;
    Ok(PullResponse { rows, revoked_scopes: Vec::new(), next_cursor, has_more })
}

/// The newest `limit` clock clamps with the device and user they came from.
pub(super) fn list_clamps(c: &mut Connection, limit: u32) -> Result<Vec<crate::storage::ClampRecord>, StorageError> {
    let mut stmt = c
        .prepare(
            "SELECT c.at, c.device_id, d.name, u.name, c.field, c.original, c.clamped
             FROM clock_clamps c JOIN devices d ON d.id = c.device_id JOIN users u ON u.id = d.user_id
             ORDER BY c.id DESC LIMIT ?1",
        )
        .map_err(db)?;
    let hlc = |text: String, col: usize| {
        text.parse::<Hlc>().map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e)))
    };
    let rows = stmt
        .query_map([i64::from(limit)], |r| {
            Ok(crate::storage::ClampRecord {
                at: super::parse_ts(&r.get::<_, String>(0)?)?,
                device_id: parse_uuid(&r.get::<_, Vec<u8>>(1)?)?,
                device_name: r.get(2)?,
                user_name: r.get(3)?,
                field: r.get(4)?,
                original: hlc(r.get(5)?, 5)?,
                clamped: hlc(r.get(6)?, 6)?,
            })
        })
        .map_err(db)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db)
}
