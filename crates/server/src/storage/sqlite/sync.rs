//! The synced rows (`sync_rows`, `sync_fields`), the sequence counter and the push ledger
//! (`push_batches`, `applied_changes`, `clock_clamps`): their migrations, and the reads that are
//! not the engine's (pull, snapshot, pruning, the clamp list). What a push or an erasure writes
//! is decided by [`crate::engine`]; its SQL is in [`super::port`].
//!
//! Rows are stored generically (one row per entity row, one per field with its stamp and the seq
//! that wrote it, and the row's fields again as one document for pulls) so the server needs no
//! schema change when an entity gains a field. Each row carries its scope, its parent, the person
//! it belongs to and the lowest protocol that may receive it.

use super::{access, db, parse_uuid, ts};
use crate::permissions::Access;
use crate::storage::{PruneReport, PullPage, PulledRow, SnapshotChunk, StorageError, User};
use crate::sync;
use chrono::{DateTime, Utc};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{FieldState, MAX_PULL_LIMIT};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;

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

/// 3: scopes and conflicts. Every row gets its `scope` and the contact it belongs to
/// (`parent_id`, filled in by [`backfill_parents`]); `public_since` is the seq at which a public
/// row last became public (unknown for older rows: 1); `deleted_seq` the seq of a tombstone's
/// delete; each field the seq that last wrote it (`sync_fields.seq`, from its row's seq).
pub(super) const MIGRATION_3: &str = "
ALTER TABLE sync_rows ADD COLUMN scope TEXT NOT NULL DEFAULT 'public';
ALTER TABLE sync_rows ADD COLUMN parent_id BLOB;
ALTER TABLE sync_rows ADD COLUMN public_since INTEGER;
ALTER TABLE sync_rows ADD COLUMN deleted_seq INTEGER;
UPDATE sync_rows SET public_since = 1;
UPDATE sync_rows SET deleted_seq = seq WHERE deleted = 1;
CREATE INDEX sync_rows_parent ON sync_rows (parent_id);
CREATE INDEX sync_rows_scope ON sync_rows (scope);

ALTER TABLE sync_fields ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE sync_fields SET seq = (
    SELECT r.seq FROM sync_rows r WHERE r.entity = sync_fields.entity AND r.row_id = sync_fields.row_id
);
";

/// 4: tombstone retention. `deleted_at`: when a tombstone took its current seq (its delete, its
/// erasure, or a later re-send when it was rescoped or granted); tombstones older than this
/// migration count as deleted when it ran. `sync_state.horizon`: the highest seq ever pruned
/// (see [`prune_tombstones`]).
pub(super) const MIGRATION_4: &str = "
ALTER TABLE sync_rows ADD COLUMN deleted_at TEXT;
UPDATE sync_rows SET deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE deleted = 1;
CREATE INDEX sync_rows_deleted_at ON sync_rows (deleted_at) WHERE deleted = 1;
ALTER TABLE sync_state ADD COLUMN horizon INTEGER NOT NULL DEFAULT 0;
CREATE INDEX revocations_at ON revocations (at);
";

/// 5: each live row keeps its fields as one JSON document (`doc`, see
/// [`crate::sync::row_document`]), so a pull reads one row instead of joining its fields.
/// Tombstones have none. [`backfill_documents`] fills it for the rows already stored.
pub(super) const MIGRATION_5: &str = "
ALTER TABLE sync_rows ADD COLUMN doc TEXT;
UPDATE sync_rows SET doc = '{}' WHERE deleted = 0;
";

/// Part of migration 5: the document of every live row that has fields (of one entity, when
/// given), from its fields.
pub(super) fn backfill_documents(c: &Connection, entity: Option<&str>) -> Result<(), StorageError> {
    let mut update = c.prepare("UPDATE sync_rows SET doc = ?1 WHERE entity = ?2 AND row_id = ?3").map_err(db)?;
    let mut stmt = c
        .prepare(
            "SELECT f.entity, f.row_id, f.name, f.value, f.hlc_millis, f.hlc_counter, f.device
             FROM sync_rows r JOIN sync_fields f ON f.entity = r.entity AND f.row_id = r.row_id
             WHERE r.deleted = 0 AND (?1 IS NULL OR r.entity = ?1) ORDER BY f.entity, f.row_id",
        )
        .map_err(db)?;
    let mut found = stmt.query([entity]).map_err(db)?;
    let mut current: Option<(String, Vec<u8>)> = None;
    let mut fields = BTreeMap::new();
    let mut flush = |key: Option<(String, Vec<u8>)>, fields: &mut BTreeMap<String, FieldState>| {
        if let Some((entity, row_id)) = key {
            let doc = sync::row_document(None, fields)?;
            update.execute(params![doc, entity, row_id]).map_err(db)?;
        }
        fields.clear();
        Ok::<(), StorageError>(())
    };
    while let Some(r) = found.next().map_err(db)? {
        let key = (r.get::<_, String>(0).map_err(db)?, r.get::<_, Vec<u8>>(1).map_err(db)?);
        if current.as_ref() != Some(&key) {
            flush(current.replace(key), &mut fields)?;
        }
        let (name, state) = field_at(r, 2).map_err(db)?;
        fields.insert(name, state);
    }
    flush(current, &mut fields)
}

/// Part of migration 3: `parent_id` of every row that belongs to a contact, from its stored parent
/// field (any UUID spelling a client sent, so this is done here rather than in SQL).
pub(super) fn backfill_parents(c: &Connection) -> Result<(), StorageError> {
    for (kind, parent) in sync::PROTOCOL_1_CONTACT_CHILDREN {
        let found: Vec<(Vec<u8>, String)> = {
            let mut stmt =
                c.prepare("SELECT row_id, value FROM sync_fields WHERE entity = ?1 AND name = ?2").map_err(db)?;
            let rows = stmt.query_map(params![kind.as_str(), parent], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)?
        };
        for (row_id, value) in found {
            if let Some(contact) = sync::parent_id_from_stored(&value) {
                c.execute(
                    "UPDATE sync_rows SET parent_id = ?1 WHERE entity = ?2 AND row_id = ?3",
                    params![contact.as_bytes(), kind.as_str(), row_id],
                )
                .map_err(db)?;
            }
        }
    }
    Ok(())
}

/// 6: one engine for many entities. `person_id`: the contact a row belongs to for erasure (for
/// the rows of protocol 1, their contact); `protocol`: the lowest protocol version that may
/// receive the row. Revocations name whose readers they concern (`readers_of`) and the scope
/// that keeps the rows (`unless_scope`, by default the revoked one); `row_grants` holds the
/// scopes rows grant (a queue membership: its queue, to its user). `blobs` holds attachment
/// content by its SHA-256, found from the attachment rows that name it.
pub(super) const MIGRATION_6: &str = "
ALTER TABLE sync_rows ADD COLUMN person_id BLOB;
ALTER TABLE sync_rows ADD COLUMN protocol INTEGER NOT NULL DEFAULT 1;
UPDATE sync_rows SET person_id = parent_id WHERE entity IN ('contact_email', 'contact_phone', 'contact_identifier');
CREATE INDEX sync_rows_person ON sync_rows (person_id);
ALTER TABLE revocations ADD COLUMN readers_of TEXT;
ALTER TABLE revocations ADD COLUMN unless_scope TEXT;
CREATE TABLE row_grants (
    entity      TEXT NOT NULL,
    row_id      BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    scope       TEXT NOT NULL,
    granted_seq INTEGER NOT NULL,
    PRIMARY KEY (entity, row_id)
);
CREATE INDEX row_grants_user ON row_grants (user_id);
CREATE INDEX sync_fields_attachment_hash ON sync_fields (value) WHERE entity = 'attachment' AND name = 'sha256';
CREATE TABLE blobs (
    sha256    TEXT PRIMARY KEY,
    content   BLOB NOT NULL,
    size      INTEGER NOT NULL,
    stored_at TEXT NOT NULL
);
";

/// Part of migration 6: conflicts recorded before conflicts named their owner name it now (the
/// contact of their `contact_id`, stamped like that field), so clients find them by owner.
pub(super) fn backfill_conflict_owners(c: &Connection) -> Result<(), StorageError> {
    c.execute_batch(
        "INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq)
         SELECT entity, row_id, 'owner_entity', '\"contact\"', hlc_millis, hlc_counter, device, seq FROM sync_fields f
         WHERE f.entity = 'conflict' AND f.name = 'contact_id'
           AND NOT EXISTS (SELECT 1 FROM sync_fields o WHERE o.entity = f.entity AND o.row_id = f.row_id AND o.name = 'owner_id');
         INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq)
         SELECT entity, row_id, 'owner_id', value, hlc_millis, hlc_counter, device, seq FROM sync_fields f
         WHERE f.entity = 'conflict' AND f.name = 'contact_id'
           AND NOT EXISTS (SELECT 1 FROM sync_fields o WHERE o.entity = f.entity AND o.row_id = f.row_id AND o.name = 'owner_id');",
    )
    .map_err(db)?;
    backfill_documents(c, Some(EntityKind::Conflict.as_str()))
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
}

pub(super) fn to_u64(n: i64) -> Result<u64, StorageError> {
    u64::try_from(n).map_err(|e| StorageError::Backend(e.to_string()))
}

pub(super) fn hlc_from(millis: i64, counter: i64) -> rusqlite::Result<Hlc> {
    Ok(Hlc::new(u64::try_from(millis).map_err(conversion)?, u32::try_from(counter).map_err(conversion)?))
}

/// The sequence counter, read inside a transaction that holds the write lock.
pub(super) fn current_seq(c: &Connection) -> Result<u64, StorageError> {
    Ok(counters(c)?.0)
}

pub(super) fn pull(
    c: &mut Connection,
    user: &User,
    since: u64,
    limit: u32,
    protocol: u32,
) -> Result<PullPage, StorageError> {
    let limit = limit.clamp(1, MAX_PULL_LIMIT);
    // Most pulls come from devices that are up to date: one read of the counter answers them.
    let (counter, horizon_now) = counters(c)?;
    if since > 0 && since < horizon_now {
        return Err(StorageError::ResyncRequired { since, horizon: horizon_now });
    }
    if since > 0 && since >= counter {
        return Ok(PullPage::up_to_date(since));
    }
    // One read transaction: the access, the rows, the counter and the revocations are one
    // consistent version.
    let tx = c.transaction().map_err(db)?;
    let horizon = horizon(&tx)?;
    if since > 0 && since < horizon {
        return Err(StorageError::ResyncRequired { since, horizon });
    }
    let access = access::load(&tx, user.id)?;
    // The page of rows (one more than asked, to tell has_more), each with its document.
    let mut rows = Vec::new();
    let (mut scanned, mut last_seq, mut has_more) = (0u32, since, false);
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db)?;
        let mut found = stmt.query(params![to_i64(since), i64::from(limit) + 1]).map_err(db)?;
        while let Some(r) = found.next().map_err(db)? {
            scanned += 1;
            if scanned > limit {
                has_more = true;
                break;
            }
            let (seq, row) = pulled_row_at(r, &access, protocol)?;
            // Rows the user may not read are skipped, but the cursor still moves past them.
            last_seq = seq;
            rows.extend(row);
        }
    }
    let next_cursor = if has_more { last_seq } else { current_seq(&tx)?.max(since) };
    let revoked_scopes = access::revoked_scopes(&tx, user.id, &access, since, next_cursor)?;
    tx.commit().map_err(db)?;
    Ok(PullPage { rows, revoked_scopes, next_cursor, has_more })
}

/// The highest seq ever pruned (see [`prune_tombstones`]).
fn horizon(c: &Connection) -> Result<u64, StorageError> {
    Ok(counters(c)?.1)
}

/// The sequence counter and the horizon, in one read.
fn counters(c: &Connection) -> Result<(u64, u64), StorageError> {
    let mut stmt = c.prepare_cached("SELECT seq, horizon FROM sync_state WHERE id = 1").map_err(db)?;
    stmt.query_row([], |r| {
        let seq = u64::try_from(r.get::<_, i64>(0)?).map_err(conversion)?;
        Ok((seq, u64::try_from(r.get::<_, i64>(1)?).map_err(conversion)?))
    })
    .map_err(db)
}

/// See [`crate::storage::Storage::snapshot_chunk`]: the live rows of the range (and erasures),
/// each with its document, in one short read transaction.
pub(super) fn snapshot_chunk(
    c: &mut Connection,
    user: &User,
    at: u64,
    after: u64,
    limit: u32,
    protocol: u32,
) -> Result<SnapshotChunk, StorageError> {
    let tx = c.transaction().map_err(db)?;
    let access = access::load(&tx, user.id)?;
    let mut chunk = SnapshotChunk { rows: Vec::new(), last_seq: after, done: false };
    let mut scanned: u32 = 0;
    {
        // Erasures come with the snapshot: a device may hold data about the person that the
        // server never saw (created offline) and must purge it.
        let mut stmt = tx
            .prepare_cached(
                "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
                 WHERE seq > ?1 AND seq <= ?2 AND (deleted = 0 OR purged = 1) ORDER BY seq LIMIT ?3",
            )
            .map_err(db)?;
        let mut found = stmt.query(params![to_i64(after), to_i64(at), i64::from(limit)]).map_err(db)?;
        while let Some(r) = found.next().map_err(db)? {
            scanned += 1;
            // Rows the user may not read are skipped (same rule as pull).
            let (seq, row) = pulled_row_at(r, &access, protocol)?;
            chunk.last_seq = seq;
            chunk.rows.extend(row);
        }
    }
    tx.commit().map_err(db)?;
    chunk.done = scanned < limit;
    Ok(chunk)
}

/// A row of `SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows`:
/// its seq, and the row when the user may read it and the client's `protocol` knows its kind.
pub(super) fn pulled_row_at(
    r: &rusqlite::Row<'_>,
    access: &Access,
    protocol: u32,
) -> Result<(u64, Option<PulledRow>), StorageError> {
    let seq = to_u64(r.get(0).map_err(db)?)?;
    let scope = str_at(r, 5)?;
    let row_protocol: i64 = r.get(7).map_err(db)?;
    if !access.may_read(scope) || row_protocol > i64::from(protocol) {
        return Ok((seq, None));
    }
    let entity = str_at(r, 1)?;
    let entity = EntityKind::parse(entity)
        .ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?;
    let row_id = r.get_ref(2).and_then(|v| v.as_blob().map_err(Into::into)).map_err(db)?;
    let row = PulledRow::from_stored(
        seq,
        entity,
        parse_uuid(row_id).map_err(db)?,
        r.get(3).map_err(db)?,
        r.get(4).map_err(db)?,
        scope.to_owned(),
        r.get(6).map_err(db)?,
    )?;
    Ok((seq, Some(row)))
}

/// The live rows of one kind, with their fields, in seq order (for admin commands).
pub(super) fn rows_of(
    c: &mut Connection,
    kind: EntityKind,
) -> Result<Vec<liaison_protocol::wire::RowState>, StorageError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
             WHERE entity = ?1 AND deleted = 0 ORDER BY seq",
        )
        .map_err(db)?;
    let mut found = stmt.query([kind.as_str()]).map_err(db)?;
    let everything = Access::new(liaison_protocol::wire::Role::Admin, []);
    let mut rows = Vec::new();
    while let Some(r) = found.next().map_err(db)? {
        if let (_, Some(row)) = pulled_row_at(r, &everything, u32::MAX)? {
            rows.push(row.decode()?);
        }
    }
    Ok(rows)
}

/// Which of `ids` are tombstones of `kind`.
pub(super) fn ended_among(
    c: &mut Connection,
    kind: EntityKind,
    ids: &[uuid::Uuid],
) -> Result<Vec<uuid::Uuid>, StorageError> {
    let mut stmt =
        c.prepare_cached("SELECT 1 FROM sync_rows WHERE entity = ?1 AND row_id = ?2 AND deleted = 1").map_err(db)?;
    let mut ended = Vec::new();
    for id in ids {
        if stmt.exists(rusqlite::params![kind.as_str(), id.as_bytes()]).map_err(db)? {
            ended.push(*id);
        }
    }
    Ok(ended)
}

/// The scopes of the live attachment rows that name `sha256`.
fn attachment_scopes(c: &Connection, sha256: &str) -> Result<Vec<String>, StorageError> {
    let named = serde_json::to_string(sha256).map_err(|e| StorageError::Backend(e.to_string()))?;
    let mut stmt = c
        .prepare_cached(
            "SELECT r.scope FROM sync_fields f JOIN sync_rows r ON r.entity = f.entity AND r.row_id = f.row_id
             WHERE f.entity = 'attachment' AND f.name = 'sha256' AND f.value = ?1 AND r.deleted = 0",
        )
        .map_err(db)?;
    let rows = stmt.query_map([named], |r| r.get(0)).map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db)
}

fn may_read_blob(c: &Connection, user: &User, sha256: &str) -> Result<(), StorageError> {
    let access = access::load(c, user.id)?;
    if attachment_scopes(c, sha256)?.iter().any(|scope| access.may_read(scope)) {
        Ok(())
    } else {
        Err(StorageError::NotFound(crate::storage::NO_SUCH_ATTACHMENT.into()))
    }
}

/// See [`crate::storage::Storage::put_blob`].
pub(super) fn put_blob(
    c: &mut Connection,
    user: &User,
    sha256: &str,
    content: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let tx = c.transaction().map_err(db)?;
    may_read_blob(&tx, user, sha256)?;
    let stored = tx
        .execute(
            "INSERT INTO blobs (sha256, content, size, stored_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sha256) DO NOTHING",
            params![sha256, content, i64::try_from(content.len()).unwrap_or(i64::MAX), ts(now)],
        )
        .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(stored > 0)
}

/// See [`crate::storage::Storage::get_blob`].
pub(super) fn get_blob(c: &mut Connection, user: &User, sha256: &str) -> Result<Vec<u8>, StorageError> {
    let tx = c.transaction().map_err(db)?;
    may_read_blob(&tx, user, sha256)?;
    let content: Option<Vec<u8>> =
        tx.query_row("SELECT content FROM blobs WHERE sha256 = ?1", [sha256], |r| r.get(0)).optional().map_err(db)?;
    tx.commit().map_err(db)?;
    content.ok_or_else(|| StorageError::NotFound(crate::storage::NO_SUCH_ATTACHMENT.into()))
}

fn str_at<'r>(r: &'r rusqlite::Row<'_>, column: usize) -> Result<&'r str, StorageError> {
    r.get_ref(column).and_then(|v| v.as_str().map_err(Into::into)).map_err(db)
}

/// `(name, state)` from the columns `name, value, hlc_millis, hlc_counter, device` at `first`.
pub(super) fn field_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<(String, FieldState)> {
    let text = r.get_ref(first + 1)?.as_str()?;
    let value = serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(first + 1, rusqlite::types::Type::Text, Box::new(e)))?;
    let state = FieldState {
        value,
        hlc: hlc_from(r.get(first + 2)?, r.get(first + 3)?)?,
        device: parse_uuid(r.get_ref(first + 4)?.as_blob()?)?,
    };
    Ok((r.get(first)?, state))
}

/// See [`crate::storage::Storage::prune_tombstones`]. An immediate transaction: no push
/// re-sends a tombstone while it is being removed.
pub(super) fn prune_tombstones(c: &mut Connection, older_than: DateTime<Utc>) -> Result<PruneReport, StorageError> {
    let cutoff = ts(older_than);
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let max_row: Option<i64> = tx
        .query_row("SELECT max(seq) FROM sync_rows WHERE deleted = 1 AND deleted_at < ?1", [&cutoff], |r| r.get(0))
        .map_err(db)?;
    // Tombstones carry no fields; this only guards the foreign key.
    tx.execute(
        "DELETE FROM sync_fields WHERE (entity, row_id) IN
             (SELECT entity, row_id FROM sync_rows WHERE deleted = 1 AND deleted_at < ?1)",
        [&cutoff],
    )
    .map_err(db)?;
    let rows = tx.execute("DELETE FROM sync_rows WHERE deleted = 1 AND deleted_at < ?1", [&cutoff]).map_err(db)?;
    let max_revocation: Option<i64> =
        tx.query_row("SELECT max(seq) FROM revocations WHERE at < ?1", [&cutoff], |r| r.get(0)).map_err(db)?;
    let revocations = tx.execute("DELETE FROM revocations WHERE at < ?1", [&cutoff]).map_err(db)?;
    let pruned = max_row.into_iter().chain(max_revocation).max().unwrap_or(0);
    tx.execute("UPDATE sync_state SET horizon = max(horizon, ?1) WHERE id = 1", [pruned]).map_err(db)?;
    let horizon_seq = horizon(&tx)?;
    tx.commit().map_err(db)?;
    Ok(PruneReport {
        rows: u64::try_from(rows).unwrap_or(u64::MAX),
        revocations: u64::try_from(revocations).unwrap_or(u64::MAX),
        horizon_seq,
    })
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
        text.parse::<Hlc>()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e)))
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
