//! The synced rows (`sync_rows`, `sync_fields`), the sequence counter and the push ledger
//! (`push_batches`, `applied_changes`, `clock_clamps`).
//!
//! Rows are stored generically (one row per entity row, one per field with its stamp and the seq
//! that wrote it) so the server needs no schema change when an entity gains a field. Each row
//! carries its scope and the contact it belongs to (`parent_id`). The merge itself is
//! [`crate::sync::plan_change`]; this module loads, calls it and writes, in one transaction:
//! the row, the rows rescoped with a contact, the revocation when rows leave `public`, and the
//! conflicts the plan found.

use super::{access, db, parse_uuid, ts};
use crate::permissions::Access;
use crate::storage::{ErasureReport, PruneReport, PullPage, PulledRow, SnapshotChunk, StorageError, User};
use crate::sync::{self, Author, ConflictDraft, Effect, StoredRow};
use chrono::{DateTime, Utc};
use liaison_protocol::hlc::{Clock, Hlc, Stamp};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::scope;
use liaison_protocol::wire::{Change, FieldState, MAX_PULL_LIMIT, PushRequest, PushResponse};
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

/// Part of migration 5: the document of every live row that has fields, from its fields.
pub(super) fn backfill_documents(c: &Connection) -> Result<(), StorageError> {
    let mut update = c.prepare("UPDATE sync_rows SET doc = ?1 WHERE entity = ?2 AND row_id = ?3").map_err(db)?;
    let mut stmt = c
        .prepare(
            "SELECT f.entity, f.row_id, f.name, f.value, f.hlc_millis, f.hlc_counter, f.device
             FROM sync_rows r JOIN sync_fields f ON f.entity = r.entity AND f.row_id = r.row_id
             WHERE r.deleted = 0 ORDER BY f.entity, f.row_id",
        )
        .map_err(db)?;
    let mut found = stmt.query([]).map_err(db)?;
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
    for (kind, parent) in sync::contact_children() {
        let found: Vec<(Vec<u8>, String)> = {
            let mut stmt = c.prepare("SELECT row_id, value FROM sync_fields WHERE entity = ?1 AND name = ?2").map_err(db)?;
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

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
}

pub(super) fn to_u64(n: i64) -> Result<u64, StorageError> {
    u64::try_from(n).map_err(|e| StorageError::Backend(e.to_string()))
}

fn hlc_from(millis: i64, counter: i64) -> rusqlite::Result<Hlc> {
    Ok(Hlc::new(u64::try_from(millis).map_err(conversion)?, u32::try_from(counter).map_err(conversion)?))
}

/// The sequence counter, read inside a transaction that holds the write lock.
pub(super) fn current_seq(c: &Connection) -> Result<u64, StorageError> {
    Ok(counters(c)?.0)
}

pub(super) fn store_seq(c: &Connection, seq: u64) -> Result<(), StorageError> {
    c.execute("UPDATE sync_state SET seq = ?1 WHERE id = 1", [to_i64(seq)]).map_err(db)?;
    Ok(())
}

/// Give a row a new seq (so devices that may read it receive it again); a tombstone re-sent at
/// `now` is kept from `now` on.
pub(super) fn bump_row(
    c: &Connection,
    seq: &mut u64,
    entity: &str,
    row_id: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    *seq += 1;
    c.execute(
        "UPDATE sync_rows SET seq = ?1, deleted_at = CASE WHEN deleted THEN ?4 ELSE deleted_at END
         WHERE entity = ?2 AND row_id = ?3",
        params![to_i64(*seq), entity, row_id, ts(now)],
    )
    .map_err(db)?;
    Ok(())
}

/// Record that `scope` was taken from `user` (`None`: from everyone) at a new seq; devices whose
/// cursor is at or past `since_seq` may hold rows of it.
pub(super) fn record_revocation(
    c: &Connection,
    seq: &mut u64,
    user: Option<Uuid>,
    scope: &str,
    since_seq: u64,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    *seq += 1;
    c.execute(
        "INSERT INTO revocations (seq, user_id, scope, since_seq, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![to_i64(*seq), user.as_ref().map(Uuid::as_bytes), scope, to_i64(since_seq), ts(now)],
    )
    .map_err(db)?;
    Ok(())
}

/// Where a written row stands: the seq it takes, its scope, its contact and since when it is
/// public; and when it is written (a tombstone's `deleted_at`).
struct Placement {
    seq: u64,
    scope: String,
    parent_id: Option<Uuid>,
    public_since: Option<u64>,
    written_at: DateTime<Utc>,
}

/// The state of one push while its changes are applied.
struct Pushing<'t> {
    tx: &'t Transaction<'t>,
    seq: u64,
    clock: Clock,
    now: DateTime<Utc>,
    now_millis: u64,
}

pub(super) fn push(
    c: &mut Connection,
    user: &User,
    device: Uuid,
    request: &PushRequest,
    now: DateTime<Utc>,
) -> Result<PushResponse, StorageError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    if let Some(stored) = stored_response(&tx, request.batch_id, device)? {
        return Ok(stored);
    }

    let (seq, clock) = tx
        .query_row("SELECT seq, clamp_millis, clamp_counter FROM sync_state WHERE id = 1", [], |r| {
            Ok((
                u64::try_from(r.get::<_, i64>(0)?).map_err(conversion)?,
                Clock::resume(hlc_from(r.get(1)?, r.get(2)?)?),
            ))
        })
        .map_err(db)?;
    let access = access::load(&tx, user)?;
    let author = Author { user, access: &access, device };
    let mut state = Pushing { tx: &tx, seq, clock, now, now_millis: sync::unix_millis(now) };

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
        let named_parent = sync::parent_in_change(change);
        let named_scope = named_parent.map(|p| contact_scope(&tx, p)).transpose()?;
        // A new row for a deleted contact is planned against the contact's tombstone.
        let stand_in = match (&existing, named_parent) {
            (None, Some(p)) => load_row(&tx, EntityKind::Contact, p)?.and_then(|parent| StoredRow::for_child_of(&parent, p)),
            _ => None,
        };
        let planned = existing.as_ref().or(stand_in.as_ref());
        let plan = match sync::refuse_erased(touches_erased).and_then(|()| {
            sync::plan_change(&author, planned, named_scope.as_deref(), change, state.now_millis, &mut state.clock)
        }) {
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
        crate::sync::log_clamps(device, &plan.clamps, state.now_millis);

        let row_seq = if plan.effect.modifies() {
            Some(state.apply(change, existing.as_ref(), &plan.effect, device, named_parent, named_scope)?)
        } else {
            existing.as_ref().map(|row| row.seq)
        };
        if let Some(contact) = sync::conflict_contact(change, planned, &plan.effect) {
            for draft in &plan.conflicts {
                state.record_conflict(change, contact, draft)?;
            }
        }
        tx.execute(
            "INSERT INTO applied_changes (change_id, batch_id, device_id, seq) VALUES (?1, ?2, ?3, ?4)",
            params![change.change_id.as_bytes(), request.batch_id.as_bytes(), device.as_bytes(), row_seq.map(to_i64)],
        )
        .map_err(db)?;
        results.push(sync::accepted(change.change_id, row_seq));
    }

    let last = state.clock.last();
    tx.execute(
        "UPDATE sync_state SET seq = ?1, clamp_millis = ?2, clamp_counter = ?3 WHERE id = 1",
        params![to_i64(state.seq), to_i64(last.millis), last.counter],
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

impl Pushing<'_> {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Write an effect that modifies the row at a new seq, rescope the rows of a contact whose
    /// scope changed, and record a revocation when rows left `public`. Returns the row's seq.
    fn apply(
        &mut self,
        change: &Change,
        existing: Option<&StoredRow>,
        effect: &Effect,
        device: Uuid,
        named_parent: Option<Uuid>,
        named_scope: Option<String>,
    ) -> Result<u64, StorageError> {
        let row_seq = self.next_seq();
        let parent_id = sync::parent_after(change, existing, effect);
        let parent_scope = match parent_id {
            Some(p) if Some(p) == named_parent => named_scope,
            Some(p) => Some(contact_scope(self.tx, p)?),
            None => None,
        };
        let scope = sync::scope_after(change, existing, effect, parent_scope.as_deref());
        let previous = existing.map(|row| (row.scope.as_str(), row.public_since));
        let public_since = sync::public_since_after(previous, &scope, row_seq);
        let mut leaving: Vec<Option<u64>> = Vec::new();
        if let Some(row) = existing
            && sync::leaves_public(&row.scope, &scope)
        {
            leaving.push(row.public_since);
        }
        let placement = Placement { seq: row_seq, scope, parent_id, public_since, written_at: self.now };
        write_effect(
            self.tx,
            change.entity,
            change.row_id,
            existing.map(|row| &row.fields),
            effect,
            device,
            &placement,
        )?;
        if let (EntityKind::Contact, Effect::Tombstone { hlc }) = (change.entity, effect) {
            self.delete_rows_of(change.row_id, *hlc, device)?;
        }

        if change.entity == EntityKind::Contact && existing.is_none_or(|row| row.scope != placement.scope) {
            leaving.extend(self.rescope_rows_of(change.row_id, &placement.scope)?);
        }
        if !leaving.is_empty() {
            let since = sync::revocation_since(&leaving);
            record_revocation(self.tx, &mut self.seq, None, &placement.scope, since, self.now)?;
        }
        Ok(row_seq)
    }

    /// Give every row of `contact` whose scope differs the contact's `scope`, each at a new seq.
    /// Returns the `public_since` of the rows that left `public`.
    fn rescope_rows_of(&mut self, contact: Uuid, scope: &str) -> Result<Vec<Option<u64>>, StorageError> {
        let rows: Vec<(String, Vec<u8>, String, Option<i64>)> = {
            let mut stmt = self
                .tx
                .prepare_cached(
                    "SELECT entity, row_id, scope, public_since FROM sync_rows
                     WHERE parent_id = ?1 AND scope <> ?2 ORDER BY seq",
                )
                .map_err(db)?;
            let found = stmt
                .query_map(params![contact.as_bytes(), scope], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(db)?;
            found.collect::<rusqlite::Result<_>>().map_err(db)?
        };
        let mut leaving = Vec::new();
        for (entity, row_id, old, public_since) in rows {
            let public_since = public_since.map(to_u64).transpose()?;
            if sync::leaves_public(&old, scope) {
                leaving.push(public_since);
            }
            let seq = self.next_seq();
            let since = sync::public_since_after(Some((&old, public_since)), scope, seq);
            self.tx
                .execute(
                    "UPDATE sync_rows SET seq = ?1, scope = ?2, public_since = ?3,
                         deleted_at = CASE WHEN deleted THEN ?6 ELSE deleted_at END
                     WHERE entity = ?4 AND row_id = ?5",
                    params![to_i64(seq), scope, since.map(to_i64), entity, row_id, ts(self.now)],
                )
                .map_err(db)?;
        }
        Ok(leaving)
    }

    /// A deleted contact takes its emails, phones and identifiers with it (each a tombstone at a
    /// new seq, with the contact's delete stamp), so none is left behind without its contact.
    /// Conflicts about the contact stay: they are what a person still has to see.
    fn delete_rows_of(&mut self, contact: Uuid, hlc: Hlc, device: Uuid) -> Result<(), StorageError> {
        let rows: Vec<(String, Vec<u8>)> = {
            let mut stmt = self
                .tx
                .prepare_cached("SELECT entity, row_id FROM sync_rows WHERE parent_id = ?1 AND deleted = 0 AND entity <> ?2")
                .map_err(db)?;
            let found = stmt
                .query_map(params![contact.as_bytes(), EntityKind::Conflict.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            found.collect::<rusqlite::Result<_>>().map_err(db)?
        };
        for (entity, row_id) in rows {
            let seq = self.next_seq();
            self.tx
                .execute(
                    "UPDATE sync_rows SET seq = ?1, deleted = 1, deleted_millis = ?2, deleted_counter = ?3, deleted_device = ?4,
                         deleted_seq = ?1, deleted_at = ?5, doc = NULL
                     WHERE entity = ?6 AND row_id = ?7",
                    params![to_i64(seq), to_i64(hlc.millis), hlc.counter, device.as_bytes(), ts(self.now), entity, row_id],
                )
                .map_err(db)?;
            self.tx.execute("DELETE FROM sync_fields WHERE entity = ?1 AND row_id = ?2", params![entity, row_id]).map_err(db)?;
        }
        Ok(())
    }

    /// Write a `conflict` row about `change`'s row, in its contact's scope, at a new seq.
    fn record_conflict(&mut self, change: &Change, contact: Uuid, draft: &ConflictDraft) -> Result<(), StorageError> {
        let names = device_users(self.tx, &sync::devices_to_name(std::slice::from_ref(draft)))?;
        let hlc = self.clock.tick(self.now_millis);
        let fields = sync::conflict_fields(draft, change.entity, change.row_id, contact, &names, self.now, hlc);
        let scope = contact_scope(self.tx, contact)?;
        let seq = self.next_seq();
        let public_since = sync::public_since_after(None, &scope, seq);
        let placement = Placement { seq, scope, parent_id: Some(contact), public_since, written_at: self.now };
        write_effect(
            self.tx,
            EntityKind::Conflict,
            Uuid::now_v7(),
            None,
            &Effect::Write(fields),
            sync::SERVER_DEVICE,
            &placement,
        )
    }
}

/// The names of the users of these devices (devices the server does not know are left out).
fn device_users(c: &Connection, devices: &[Uuid]) -> Result<BTreeMap<Uuid, String>, StorageError> {
    let mut stmt = c
        .prepare_cached("SELECT u.name FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1")
        .map_err(db)?;
    let mut names = BTreeMap::new();
    for device in devices {
        if let Some(name) = stmt.query_row([device.as_bytes()], |r| r.get::<_, String>(0)).optional().map_err(db)? {
            names.insert(*device, name);
        }
    }
    Ok(names)
}

/// The scope of a contact; `public` when the server does not hold it.
fn contact_scope(c: &Connection, contact: Uuid) -> Result<String, StorageError> {
    let found: Option<String> = c
        .prepare_cached("SELECT scope FROM sync_rows WHERE entity = ?1 AND row_id = ?2")
        .map_err(db)?
        .query_row(params![EntityKind::Contact.as_str(), contact.as_bytes()], |r| r.get(0))
        .optional()
        .map_err(db)?;
    Ok(found.unwrap_or_else(|| scope::PUBLIC.to_owned()))
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
    let mut seq = current_seq(&tx)?;
    let contact = EntityKind::Contact.as_str();
    let head: Option<bool> = tx
        .query_row(
            "SELECT purged FROM sync_rows WHERE entity = ?1 AND row_id = ?2",
            params![contact, contact_id.as_bytes()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;

    // Rows not purged yet: the contact and every row that belongs to it (emails, phones,
    // identifiers, conflicts; tombstones too, so their ids are refused from now on).
    let mut targets: Vec<(EntityKind, Uuid)> = Vec::new();
    if head == Some(false) {
        targets.push((EntityKind::Contact, contact_id));
    }
    {
        let mut stmt = tx
            .prepare_cached("SELECT entity, row_id FROM sync_rows WHERE parent_id = ?1 AND purged = 0 ORDER BY seq")
            .map_err(db)?;
        let rows = stmt
            .query_map([contact_id.as_bytes()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(db)?;
        for found in rows {
            let (entity, row_id) = found.map_err(db)?;
            let kind = EntityKind::parse(&entity)
                .ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?;
            targets.push((kind, parse_uuid(&row_id).map_err(db)?));
        }
    }

    for (kind, row_id) in &targets {
        seq += 1;
        tx.execute(
            "UPDATE sync_rows SET seq = ?1, deleted = 1, purged = 1, deleted_at = ?4, doc = NULL
             WHERE entity = ?2 AND row_id = ?3",
            params![to_i64(seq), kind.as_str(), row_id.as_bytes(), ts(now)],
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
            "INSERT INTO sync_rows (entity, row_id, seq, deleted, purged, deleted_seq, public_since, deleted_at)
             VALUES (?1, ?2, ?3, 1, 1, ?3, ?3, ?4)",
            params![contact, contact_id.as_bytes(), to_i64(seq), ts(now)],
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
    store_seq(&tx, seq)?;
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

type Head = (i64, bool, Option<i64>, Option<i64>, Option<Vec<u8>>, Option<i64>, String, Option<Vec<u8>>, Option<i64>);

fn load_row(tx: &Transaction<'_>, entity: EntityKind, row_id: Uuid) -> Result<Option<StoredRow>, StorageError> {
    let head: Option<Head> = tx
        .prepare_cached(
            "SELECT seq, deleted, deleted_millis, deleted_counter, deleted_device, deleted_seq, scope, parent_id,
                    public_since
             FROM sync_rows WHERE entity = ?1 AND row_id = ?2",
        )
        .map_err(db)?
        .query_row(params![entity.as_str(), row_id.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
        })
        .optional()
        .map_err(db)?;
    let Some((seq, deleted, del_millis, del_counter, del_device, deleted_seq, scope, parent_id, public_since)) = head
    else {
        return Ok(None);
    };
    let deleted_by = match (del_millis, del_counter, del_device) {
        (Some(millis), Some(counter), Some(device)) => {
            Some(Stamp::new(hlc_from(millis, counter).map_err(db)?, parse_uuid(&device).map_err(db)?))
        }
        _ => None,
    };
    let (fields, field_seqs) = load_fields(tx, entity, row_id)?;
    Ok(Some(StoredRow {
        seq: to_u64(seq)?,
        deleted,
        fields,
        field_seqs,
        deleted_by,
        deleted_seq: deleted_seq.map(to_u64).transpose()?,
        scope,
        parent_id: parent_id.as_deref().map(parse_uuid).transpose().map_err(db)?,
        public_since: public_since.map(to_u64).transpose()?,
    }))
}

type Fields = (BTreeMap<String, FieldState>, BTreeMap<String, u64>);

fn load_fields(c: &Connection, entity: EntityKind, row_id: Uuid) -> Result<Fields, StorageError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT name, value, hlc_millis, hlc_counter, device, seq FROM sync_fields WHERE entity = ?1 AND row_id = ?2",
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
            let seq = u64::try_from(r.get::<_, i64>(5)?).map_err(conversion)?;
            Ok((r.get::<_, String>(0)?, state, seq))
        })
        .map_err(db)?;
    let mut fields = BTreeMap::new();
    let mut seqs = BTreeMap::new();
    for row in rows {
        let (name, state, seq) = row.map_err(db)?;
        seqs.insert(name.clone(), seq);
        fields.insert(name, state);
    }
    Ok((fields, seqs))
}

/// Write `effect` to the row; `base` is the row's fields before it (`None` for a new row).
fn write_effect(
    tx: &Transaction<'_>,
    entity: EntityKind,
    row_id: Uuid,
    base: Option<&BTreeMap<String, FieldState>>,
    effect: &Effect,
    device: Uuid,
    placement: &Placement,
) -> Result<(), StorageError> {
    let seq = placement.seq;
    let (entity, row_id) = (entity.as_str(), row_id.as_bytes());
    let parent = placement.parent_id.as_ref().map(Uuid::as_bytes);
    let public_since = placement.public_since.map(to_i64);
    match effect {
        Effect::Unchanged => {}
        Effect::Tombstone { hlc } => {
            tx.execute(
                "INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_millis, deleted_counter, deleted_device,
                                        deleted_seq, scope, parent_id, public_since, deleted_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?3, ?7, ?8, ?9, ?10)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, deleted = 1,
                     deleted_millis = excluded.deleted_millis, deleted_counter = excluded.deleted_counter,
                     deleted_device = excluded.deleted_device, deleted_seq = excluded.deleted_seq,
                     scope = excluded.scope, parent_id = excluded.parent_id, public_since = excluded.public_since,
                     deleted_at = excluded.deleted_at, doc = NULL",
                params![
                    entity,
                    row_id,
                    to_i64(seq),
                    to_i64(hlc.millis),
                    hlc.counter,
                    device.as_bytes(),
                    placement.scope,
                    parent,
                    public_since,
                    ts(placement.written_at)
                ],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM sync_fields WHERE entity = ?1 AND row_id = ?2", params![entity, row_id])
                .map_err(db)?;
        }
        Effect::Write(fields) => {
            let doc = sync::row_document(base, fields)?;
            tx.prepare_cached(
                "INSERT INTO sync_rows (entity, row_id, seq, scope, parent_id, public_since, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, scope = excluded.scope,
                     parent_id = excluded.parent_id, public_since = excluded.public_since, doc = excluded.doc",
            )
            .map_err(db)?
            .execute(params![entity, row_id, to_i64(seq), placement.scope, parent, public_since, doc])
            .map_err(db)?;
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (entity, row_id, name) DO UPDATE SET value = excluded.value,
                         hlc_millis = excluded.hlc_millis, hlc_counter = excluded.hlc_counter,
                         device = excluded.device, seq = excluded.seq",
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
                    state.device.as_bytes(),
                    to_i64(seq)
                ])
                .map_err(db)?;
            }
        }
    }
    Ok(())
}

pub(super) fn pull(c: &mut Connection, user: &User, since: u64, limit: u32) -> Result<PullPage, StorageError> {
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
    let access = access::load(&tx, user)?;
    // The page of rows (one more than asked, to tell has_more), each with its document.
    let mut rows = Vec::new();
    let (mut scanned, mut last_seq, mut has_more) = (0u32, since, false);
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT seq, entity, row_id, deleted, purged, scope, doc FROM sync_rows WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db)?;
        let mut found = stmt.query(params![to_i64(since), i64::from(limit) + 1]).map_err(db)?;
        while let Some(r) = found.next().map_err(db)? {
            scanned += 1;
            if scanned > limit {
                has_more = true;
                break;
            }
            let (seq, row) = pulled_row_at(r, &access)?;
            // Rows the user may not read are skipped, but the cursor still moves past them.
            last_seq = seq;
            rows.extend(row);
        }
    }
    let next_cursor = if has_more { last_seq } else { current_seq(&tx)?.max(since) };
    let revoked_scopes = access::revoked_scopes(&tx, user, &access, since, next_cursor)?;
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
) -> Result<SnapshotChunk, StorageError> {
    let tx = c.transaction().map_err(db)?;
    let access = access::load(&tx, user)?;
    let mut chunk = SnapshotChunk { rows: Vec::new(), last_seq: after, done: false };
    let mut scanned: u32 = 0;
    {
        // Erasures come with the snapshot: a device may hold data about the person that the
        // server never saw (created offline) and must purge it.
        let mut stmt = tx
            .prepare_cached(
                "SELECT seq, entity, row_id, deleted, purged, scope, doc FROM sync_rows
                 WHERE seq > ?1 AND seq <= ?2 AND (deleted = 0 OR purged = 1) ORDER BY seq LIMIT ?3",
            )
            .map_err(db)?;
        let mut found = stmt.query(params![to_i64(after), to_i64(at), i64::from(limit)]).map_err(db)?;
        while let Some(r) = found.next().map_err(db)? {
            scanned += 1;
            // Rows the user may not read are skipped (same rule as pull).
            let (seq, row) = pulled_row_at(r, &access)?;
            chunk.last_seq = seq;
            chunk.rows.extend(row);
        }
    }
    tx.commit().map_err(db)?;
    chunk.done = scanned < limit;
    Ok(chunk)
}

/// A row of `SELECT seq, entity, row_id, deleted, purged, scope, doc FROM sync_rows`: its seq,
/// and the row when the user may read it.
fn pulled_row_at(r: &rusqlite::Row<'_>, access: &Access) -> Result<(u64, Option<PulledRow>), StorageError> {
    let seq = to_u64(r.get(0).map_err(db)?)?;
    let scope = str_at(r, 5)?;
    if !access.may_read(scope) {
        return Ok((seq, None));
    }
    let entity = str_at(r, 1)?;
    let entity =
        EntityKind::parse(entity).ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?;
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

fn str_at<'r>(r: &'r rusqlite::Row<'_>, column: usize) -> Result<&'r str, StorageError> {
    r.get_ref(column).and_then(|v| v.as_str().map_err(Into::into)).map_err(db)
}

/// `(name, state)` from the columns `name, value, hlc_millis, hlc_counter, device` at `first`.
fn field_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<(String, FieldState)> {
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
