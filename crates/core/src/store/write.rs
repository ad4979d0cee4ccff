//! The one write layer. Every local edit, import and remote apply goes through here, so clocks,
//! the outbox and tombstones can never disagree with the rows.
//!
//! * [`local_upsert`]: in the caller's transaction, writes only the fields whose value actually
//!   changes, stamps them with the next clock value, and queues an outbox change holding only
//!   those fields.
//! * [`local_delete`]: removes the row, leaves a tombstone, queues a delete.
//! * [`apply_remote`]: applies a row pulled from the server; it never writes to the outbox. The
//!   server is authoritative: it has already merged every device's writes (and may have clamped a
//!   clock that ran ahead), so its value replaces ours for every field we have no unsent change
//!   to. A field with an unsent local change is merged by the clock rule, so the local edit stays
//!   on top until the server has it.

use super::sync_tables::{self as st, blob};
use super::{meta, values};
use crate::error::{Error, ErrorCode, Result};
use liaison_protocol::hlc::{Hlc, Stamp};
use liaison_protocol::schema::{self, EntityDef, EntityKind, FieldDef};
use liaison_protocol::wire::{Change, FieldState, FieldWrite, RowState};
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use uuid::Uuid;

/// The table of an entity, quoted (`case` is an SQL keyword).
pub fn table(entity: EntityKind) -> String {
    format!("\"{}\"", entity.as_str())
}

/// Current values of a row's synced fields, or `None` when the row does not exist.
pub fn read_fields(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<Option<BTreeMap<&'static str, Value>>> {
    let def = entity.def();
    let cols: Vec<&str> = def.fields.iter().map(|f| f.name).collect();
    let sql = format!("SELECT {} FROM {} WHERE id = ?1", cols.join(", "), table(entity));
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row([blob(row)], |r| {
            let mut out = BTreeMap::new();
            for (i, f) in def.fields.iter().enumerate() {
                out.insert(f.name, values::from_sql(f.ty, r.get_ref(i)?));
            }
            Ok(out)
        })
        .optional()?)
}

/// The parent row id of a child row (e.g. the contact of an email), read from the store; `None`
/// for a row without a parent or not on this device.
pub fn parent_of(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<Option<Uuid>> {
    let Some(field) = entity.def().parent_field() else { return Ok(None) };
    let sql = format!("SELECT {field} FROM {} WHERE id = ?1", table(entity));
    let bytes: Option<Option<Vec<u8>>> = conn.prepare_cached(&sql)?.query_row([blob(row)], |r| r.get(0)).optional()?;
    Ok(bytes.flatten().and_then(|b| Uuid::from_slice(&b).ok()))
}

fn validate(def: &EntityDef, patch: &[(&str, Value)]) -> Result<()> {
    for (field, value) in patch {
        def.validate(field, value).map_err(Error::invalid)?;
    }
    Ok(())
}

/// How [`write_columns`] writes a row.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum WriteMode {
    Update,
    Insert,
    /// Insert unless a row with this id exists (then nothing is written).
    InsertIfNew,
}

impl WriteMode {
    fn for_row(exists: bool) -> WriteMode {
        if exists { WriteMode::Update } else { WriteMode::Insert }
    }
}

/// A statement [`write_columns`] runs: its entity, its mode and the fields it writes (a bit per
/// field, by the field's place in the schema).
type Shape = (EntityKind, WriteMode, u128);

thread_local! {
    /// The SQL of each [`Shape`], built once: a first sync writes hundreds of thousands of rows
    /// in a handful of shapes.
    static WRITE_SQL: RefCell<HashMap<Shape, Rc<str>>> = RefCell::new(HashMap::new());
}

/// Write the given columns of a row; returns how many rows were written (0 or 1).
fn write_columns(
    conn: &Connection,
    def: &'static EntityDef,
    row: Uuid,
    mode: WriteMode,
    fields: &[(&str, &Value)],
) -> Result<usize> {
    // In schema order, so that every row of one shape runs the same statement.
    let mut columns: Vec<(usize, &FieldDef, &Value)> = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let index = def
            .fields
            .iter()
            .position(|f| f.name == *name)
            .ok_or_else(|| Error::invalid(format!("{} has no field {name}", def.name)))?;
        columns.push((index, &def.fields[index], *value));
    }
    columns.sort_unstable_by_key(|(index, ..)| *index);
    if columns.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        return Err(Error::invalid(format!("a field of {} is given twice", def.name)));
    }
    let sql = write_sql(def, mode, &columns);
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.raw_bind_parameter(1, blob(row))?;
    for (i, (_, field, value)) in columns.iter().enumerate() {
        stmt.raw_bind_parameter(i + 2, values::to_sql(field.ty, value)?)?;
    }
    Ok(stmt.raw_execute()?)
}

/// The SQL that writes these columns (`?1` the id, then one parameter per column in order).
fn write_sql(def: &EntityDef, mode: WriteMode, columns: &[(usize, &FieldDef, &Value)]) -> Rc<str> {
    let build = || -> Rc<str> {
        let names = columns.iter().map(|(_, field, _)| field.name);
        let sql = if mode == WriteMode::Update {
            let sets: Vec<String> = names.enumerate().map(|(i, n)| format!("{n} = ?{}", i + 2)).collect();
            format!("UPDATE {} SET {} WHERE id = ?1", table(def.kind), sets.join(", "))
        } else {
            let cols: String = names.map(|n| format!(", {n}")).collect();
            let vals: String = (0..columns.len()).map(|i| format!(", ?{}", i + 2)).collect();
            let if_new = if mode == WriteMode::InsertIfNew { " ON CONFLICT(id) DO NOTHING" } else { "" };
            format!("INSERT INTO {} (id{cols}) VALUES (?1{vals}){if_new}", table(def.kind))
        };
        sql.into()
    };
    let mask = columns.iter().try_fold(0u128, |mask, (index, ..)| (*index < 128).then(|| mask | 1 << index));
    match mask {
        Some(mask) => {
            WRITE_SQL.with(|cache| cache.borrow_mut().entry((def.kind, mode, mask)).or_insert_with(build).clone())
        }
        None => build(),
    }
}

/// Write a local edit. Returns `true` when anything changed (and so was queued for the server).
pub fn local_upsert(conn: &Connection, entity: EntityKind, row: Uuid, patch: &[(&str, Value)]) -> Result<bool> {
    let def = entity.def();
    validate(def, patch)?;
    let current = read_fields(conn, entity, row)?;
    if current.is_none() {
        if st::is_tombstoned(conn, entity, row)? {
            return Err(Error::new(ErrorCode::NotFound, "This record was deleted; it cannot be edited."));
        }
        for f in def.fields.iter().filter(|f| f.required) {
            if !patch.iter().any(|(n, v)| *n == f.name && !v.is_null()) {
                return Err(Error::invalid(format!("{} is required", f.name)));
            }
        }
    }
    let changed: Vec<(&str, Value)> = patch
        .iter()
        .filter_map(|(name, value)| {
            let ty = def.field(name)?.ty;
            let new = values::normalise(ty, value);
            let old = current.as_ref().and_then(|c| c.get(name).cloned());
            match old {
                Some(old) if old == new => None,
                None if current.is_some() => Some((*name, new)),
                None if new.is_null() || new == Value::Array(vec![]) => None,
                _ => Some((*name, new)),
            }
        })
        .collect();
    if changed.is_empty() && current.is_some() {
        return Ok(false);
    }
    let columns: Vec<(&str, &Value)> = changed.iter().map(|(name, value)| (*name, value)).collect();
    write_columns(conn, def, row, WriteMode::for_row(current.is_some()), &columns)?;
    let hlc = meta::tick(conn)?;
    let device = meta::device_id(conn)?;
    let mut fields = BTreeMap::new();
    for (name, value) in changed {
        st::set_stamp(conn, entity, row, name, Stamp::new(hlc, device))?;
        fields.insert(name.to_string(), FieldWrite { value, hlc });
    }
    let change = Change {
        change_id: Uuid::now_v7(),
        entity,
        row_id: row,
        base_seq: st::row_seq(conn, entity, row)?,
        fields,
        deleted: None,
    };
    st::enqueue(conn, &change)?;
    Ok(true)
}

/// Delete a row locally. Returns `false` when there was nothing to delete.
pub fn local_delete(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<bool> {
    let removed = delete_row(conn, entity, row)?;
    if !removed {
        return Ok(false);
    }
    let hlc = meta::tick(conn)?;
    st::clear_stamps(conn, entity, row)?;
    st::add_tombstone(conn, entity, row, hlc)?;
    let change = Change {
        change_id: Uuid::now_v7(),
        entity,
        row_id: row,
        base_seq: st::row_seq(conn, entity, row)?,
        fields: BTreeMap::new(),
        deleted: Some(hlc),
    };
    st::enqueue(conn, &change)?;
    Ok(true)
}

/// Where an association (an entity with a derived id: a queue membership, a case link) is on
/// this device: its live row, or else the id its next round gets ([`schema::ROUND`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Association {
    pub id: Uuid,
    /// Whether the row is live here (else `id` is free to create).
    pub exists: bool,
    pub round: u64,
}

/// Find the association of `kind` with these identity values (all of them but the round; the
/// first is the reference its table is indexed by): the live round if there is one, else the
/// first round that was never ended here.
pub fn association(conn: &Connection, kind: EntityKind, identity: &[(&str, Value)]) -> Result<Association> {
    let def = kind.def();
    let invalid = || Error::invalid(format!("a {} needs a valid {}", def.name, identity_names(identity)));
    let by =
        identity.first().and_then(|(_, v)| v.as_str()).and_then(|v| Uuid::parse_str(v).ok()).ok_or_else(invalid)?;
    let id_of = |round: u64| {
        let mut values: BTreeMap<String, Value> =
            identity.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect();
        values.insert(schema::ROUND.name.to_owned(), Value::from(round));
        def.derived_id_of(&values).ok_or_else(invalid)
    };
    // The live row: among the rows under the same reference, the one whose id these values and
    // its round derive.
    let sql = format!("SELECT id, ifnull(round, 0) FROM {} WHERE {} = ?1", table(kind), identity[0].0);
    let rows: Vec<(Vec<u8>, i64)> = conn
        .prepare_cached(&sql)?
        .query_map([blob(by)], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, round) in rows {
        let round = u64::try_from(round).unwrap_or(0);
        if id.as_slice() == id_of(round)?.as_bytes() {
            return Ok(Association { id: id_of(round)?, exists: true, round });
        }
    }
    for round in 0..=schema::ROUND.max_len as u64 {
        let id = id_of(round)?;
        if !st::is_tombstoned(conn, kind, id)? {
            return Ok(Association { id, exists: false, round });
        }
    }
    Err(Error::invalid(format!("this {} was ended too often to begin again", def.name)))
}

fn identity_names(identity: &[(&str, Value)]) -> String {
    identity.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(" and ")
}

/// What applying a pulled row did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub changed: bool,
}

fn delete_row(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<bool> {
    Ok(conn.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", table(entity)))?.execute([blob(row)])? > 0)
}

/// The ids of the rows of `child` kind whose parent is `parent` (optionally only those the
/// server never sent: no `row_seq`).
fn children_of(conn: &Connection, child: EntityKind, parent: Uuid, unsynced_only: bool) -> Result<Vec<Uuid>> {
    let Some(field) = child.def().parent_field() else { return Ok(Vec::new()) };
    let unsynced = if unsynced_only {
        format!(" AND NOT EXISTS (SELECT 1 FROM row_seq r WHERE r.entity = '{}' AND r.row_id = t.id)", child.as_str())
    } else {
        String::new()
    };
    let sql = format!("SELECT id FROM {} t WHERE {field} = ?1{unsynced}", table(child));
    let ids = conn
        .prepare_cached(&sql)?
        .query_map([blob(parent)], |r| st::uuid_from(r.get(0)?))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Remove a row and its whole subtree, at any depth (a contact's emails, phones, identifiers
/// and conflicts; a case's contacts, messages and their attachments), and the data of every
/// outgoing change about any of them (unsent changes become "refused" with the reason, with no
/// data, so the ledger still tells the person what happened). Returns whether any row was
/// removed, and the rows concerned.
fn remove_tree(
    conn: &Connection,
    entity: EntityKind,
    row: Uuid,
    why: st::Removal,
) -> Result<(bool, Vec<(EntityKind, Uuid)>)> {
    let mut removed = delete_row(conn, entity, row)?;
    let mut rows = vec![(entity, row)];
    let mut frontier = vec![(entity, row)];
    while let Some((kind, id)) = frontier.pop() {
        for child in kind.children() {
            for child_id in children_of(conn, child, id, false)? {
                if rows.contains(&(child, child_id)) {
                    continue;
                }
                removed |= delete_row(conn, child, child_id)?;
                rows.push((child, child_id));
                frontier.push((child, child_id));
            }
        }
    }
    for (entity, id) in &rows {
        st::erase_outbox_data(conn, *entity, *id, why)?;
    }
    // Changes not yet known to the server that mention the id (e.g. a new email for it).
    st::erase_outbox_data_mentioning(conn, row, why)?;
    Ok((removed, rows))
}

/// The rows that name a person through their entity's `person` field (a case link, a message
/// they wrote): erasing the person erases them too, with their subtrees.
fn naming(conn: &Connection, person: Uuid) -> Result<Vec<(EntityKind, Uuid)>> {
    let mut rows = Vec::new();
    for kind in EntityKind::ALL {
        let Some(field) = kind.def().person else { continue };
        let sql = format!("SELECT id FROM {} WHERE {field} = ?1", table(kind));
        for id in conn.prepare_cached(&sql)?.query_map([blob(person)], |r| st::uuid_from(r.get(0)?))? {
            rows.push((kind, id?));
        }
    }
    Ok(rows)
}

/// Erasure: [`remove_tree`] of the row and of every row that names it as its person (the
/// server purges those too, but one made here offline and refused never reached it), and
/// tombstones so nothing about the rows can come back.
fn purge(conn: &Connection, row: &RowState) -> Result<bool> {
    let (mut removed, mut rows) = remove_tree(conn, row.entity, row.row_id, st::Removal::Erased)?;
    if row.entity == EntityKind::Contact {
        for (kind, id) in naming(conn, row.row_id)? {
            let (gone, more) = remove_tree(conn, kind, id, st::Removal::Erased)?;
            removed |= gone;
            rows.extend(more);
        }
    }
    for (entity, id) in &rows {
        st::clear_stamps(conn, *entity, *id)?;
        st::add_tombstone(conn, *entity, *id, Hlc::ZERO)?;
    }
    st::set_row_seq(conn, row.entity, row.row_id, row.seq)?;
    super::desk::drop_unreferenced_blobs(conn)?;
    Ok(removed)
}

/// A row the server no longer has for this user (found missing by a re-sync snapshot): delete it
/// here, without a tombstone (if it comes back, it applies as new). Only this row: rows that
/// belong to it are judged on their own (a conflict about a deleted contact is still live).
pub fn forget_missing(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<bool> {
    let removed = delete_row(conn, entity, row)?;
    st::erase_outbox_data(conn, entity, row, st::Removal::AccessRevoked)?;
    st::forget_row(conn, entity, row)?;
    let orphans = drop_unsynced_children(conn, entity, row)?;
    Ok(removed || orphans)
}

/// This user lost access to `scope`: physically delete every row of it on this device (and what
/// belongs to those rows, at any depth), with the content of their attachments, and forget their
/// clocks and sequences, so that if access is granted again the server's rows apply as new.
/// Returns how many rows of each kind were removed.
pub fn revoke_scope(conn: &Connection, scope: &str) -> Result<Vec<(EntityKind, u64)>> {
    let mut removed: BTreeMap<EntityKind, u64> = BTreeMap::new();
    let mut rows = st::rows_in_scope(conn, scope)?;
    // A compartment is named after its row (`contact:<id>`, `case:<id>`): that row goes with its
    // tree even where this device still holds it under the scope it had when it arrived (a
    // contact restricted, a case moved to a queue this user is not in).
    if let Some(named) = liaison_protocol::scope::split(scope) {
        rows.push(named);
        // And the rows that take their scope from it (a queue's memberships and cases), those
        // this device made too: a case opened here that the server refused has no sequence yet.
        rows.extend(scoped_by(conn, named)?);
    }
    for (entity, row) in rows {
        let (any, rows) = remove_tree(conn, entity, row, st::Removal::AccessRevoked)?;
        if any {
            *removed.entry(entity).or_default() += 1;
        }
        for (entity, id) in rows {
            st::forget_row(conn, entity, id)?;
        }
    }
    super::desk::drop_unreferenced_blobs(conn)?;
    Ok(removed.into_iter().collect())
}

/// The rows whose scope comes from `source` through their scope field (`ScopeRule::Of`).
fn scoped_by(conn: &Connection, (kind, id): (EntityKind, Uuid)) -> Result<Vec<(EntityKind, Uuid)>> {
    let mut rows = Vec::new();
    for entity in EntityKind::ALL {
        let def = entity.def();
        let schema::ScopeRule::Of { field } = def.scope else { continue };
        if def.field(field).map(|f| f.ty) != Some(schema::FieldType::Ref(kind)) {
            continue;
        }
        let sql = format!("SELECT id FROM {} WHERE {field} = ?1", table(entity));
        for row in conn.prepare_cached(&sql)?.query_map([blob(id)], |r| st::uuid_from(r.get(0)?))? {
            rows.push((entity, row?));
        }
    }
    Ok(rows)
}

/// The server deleted a parent row: rows this device added below it and never synced go too, at
/// any depth (the delete wins; their unsent creates still go to the server, which sets them
/// aside in the conflict inbox). Synced rows get their own tombstones from the server.
/// Conflicts stay.
fn drop_unsynced_children(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<bool> {
    let mut removed = false;
    let mut frontier = vec![(entity, row)];
    while let Some((kind, id)) = frontier.pop() {
        for child in kind.children().filter(|k| *k != EntityKind::Conflict) {
            for child_id in children_of(conn, child, id, true)? {
                // Their local stamps go with them, so nothing stale applies if the id ever comes back.
                st::clear_stamps(conn, child, child_id)?;
                removed |= delete_row(conn, child, child_id)?;
                frontier.push((child, child_id));
            }
        }
    }
    Ok(removed)
}

/// Apply a row from the server with the merge rule. Never touches the outbox, except to erase
/// personal data from it when the server says the row was erased. (One row; a page of rows goes
/// through [`RemoteBatch`].)
pub fn apply_remote(conn: &Connection, row: &RowState) -> Result<Applied> {
    let mut batch = RemoteBatch::begin(conn)?;
    let applied = batch.apply(row)?;
    batch.finish()?;
    Ok(applied)
}

/// Applies pulled rows one after another in the caller's transaction, reading once what is the
/// same for the whole batch (whether any tombstone exists, which rows have unsent changes) and
/// moving the clock past the newest stamp once at the end. A row that is new here (the bulk of a
/// first sync) is inserted with one statement for its columns and one for its stamps (plus one
/// for any field stamped unlike the rest); every other row goes through the full merge rule.
pub struct RemoteBatch<'c> {
    conn: &'c Connection,
    any_tombstone: bool,
    unsent: std::collections::HashSet<(EntityKind, Uuid)>,
    newest: Hlc,
}

impl<'c> RemoteBatch<'c> {
    pub fn begin(conn: &'c Connection) -> Result<Self> {
        Ok(RemoteBatch {
            conn,
            any_tombstone: st::any_tombstone(conn)?,
            unsent: st::rows_with_unsent_changes(conn)?,
            newest: Hlc::ZERO,
        })
    }

    /// Apply one row (see [`apply_remote`]).
    pub fn apply(&mut self, row: &RowState) -> Result<Applied> {
        if row.purged {
            self.any_tombstone = true;
            return Ok(Applied { changed: purge(self.conn, row)? });
        }
        if row.deleted {
            self.any_tombstone = true;
            return apply_delete(self.conn, row);
        }
        let key = (row.entity, row.row_id);
        if (self.any_tombstone && st::is_tombstoned(self.conn, row.entity, row.row_id)?) || self.unsent.contains(&key) {
            return self.merge(row);
        }
        let fields = valid_fields(row);
        // Values as they arrive: the column conversion reads an absent list or flag as empty.
        let values: Vec<(&str, &Value)> = fields.iter().map(|(f, state)| (f.name, &state.value)).collect();
        if write_columns(self.conn, row.entity.def(), row.row_id, WriteMode::InsertIfNew, &values)? > 0 {
            let stamps: Vec<(&str, Stamp)> = fields.iter().map(|(f, state)| (f.name, state.stamp())).collect();
            st::record_new_row(self.conn, row.entity, row.row_id, row.seq, &row.scope, &stamps)?;
            self.observe(fields.iter().map(|(_, state)| state.hlc));
            return Ok(Applied { changed: true });
        }
        self.merge(row)
    }

    /// Move the clock past every stamp applied (in the same transaction).
    pub fn finish(self) -> Result<()> {
        meta::observe(self.conn, self.newest)
    }

    fn observe(&mut self, hlcs: impl Iterator<Item = Hlc>) {
        self.newest = hlcs.fold(self.newest, Hlc::max);
    }

    /// The full merge rule, for a row that exists here, is tombstoned here, or has unsent changes.
    fn merge(&mut self, row: &RowState) -> Result<Applied> {
        let conn = self.conn;
        if st::is_tombstoned(conn, row.entity, row.row_id)? {
            // Deleted here; the pending delete wins on the server.
            st::set_row_seq(conn, row.entity, row.row_id, row.seq)?;
            return Ok(Applied::default());
        }
        let exists = exists(conn, row.entity, row.row_id)?;
        if exists && row.seq <= st::row_seq(conn, row.entity, row.row_id)? {
            // A version we have already applied, or an older one delivered late: the server's
            // order (its sequence), not the clocks, says it is stale.
            return Ok(Applied::default());
        }
        let unsent = if self.unsent.contains(&(row.entity, row.row_id)) {
            st::unsent_fields(conn, row.entity, row.row_id)?.0
        } else {
            Default::default()
        };
        let def = row.entity.def();
        let mut winners: Vec<(&str, &Value)> = Vec::new();
        let mut stamps = Vec::new();
        let fields = valid_fields(row);
        self.observe(fields.iter().map(|(_, state)| state.hlc));
        for (f, state) in fields {
            let incoming = state.stamp();
            let stored = if exists { st::stamp(conn, row.entity, row.row_id, f.name)? } else { None };
            let take = if unsent.contains(f.name) {
                incoming.wins_over_opt(stored.as_ref())
            } else {
                stored != Some(incoming)
            };
            if take {
                winners.push((f.name, &state.value));
                stamps.push((f.name, incoming));
            }
        }
        if !exists || !winners.is_empty() {
            write_columns(conn, def, row.row_id, WriteMode::for_row(exists), &winners)?;
        }
        st::set_stamps(conn, row.entity, row.row_id, &stamps)?;
        st::set_row_seq_and_scope(conn, row.entity, row.row_id, row.seq, &row.scope)?;
        Ok(Applied { changed: !exists || !winners.is_empty() })
    }
}

/// The server deleted a row: remove it here, with a tombstone, and the unsynced rows this device
/// added to it.
fn apply_delete(conn: &Connection, row: &RowState) -> Result<Applied> {
    let exists = delete_row(conn, row.entity, row.row_id)?;
    st::clear_stamps(conn, row.entity, row.row_id)?;
    st::add_tombstone(conn, row.entity, row.row_id, Hlc::ZERO)?;
    st::set_row_seq_and_scope(conn, row.entity, row.row_id, row.seq, &row.scope)?;
    let orphans = drop_unsynced_children(conn, row.entity, row.row_id)?;
    Ok(Applied { changed: exists || orphans })
}

fn exists(conn: &Connection, entity: EntityKind, row: Uuid) -> Result<bool> {
    Ok(conn.prepare_cached(&format!("SELECT 1 FROM {} WHERE id = ?1", table(entity)))?.exists([blob(row)])?)
}

/// The fields of a pulled row this version knows, with valid values (others are logged and
/// left out, as a newer server may send fields an older device does not have).
fn valid_fields(row: &RowState) -> Vec<(&'static FieldDef, &FieldState)> {
    let def = row.entity.def();
    row.fields
        .iter()
        .filter_map(|(name, state)| {
            let Some(fdef) = def.field(name) else {
                tracing::debug!(entity = def.name, field = %name, "ignoring a field this version does not know");
                return None;
            };
            if let Err(why) = fdef.validate(&state.value) {
                tracing::warn!(entity = def.name, field = %name, %why, "ignoring an invalid value from the server");
                return None;
            }
            Some((fdef, state))
        })
        .collect()
}
