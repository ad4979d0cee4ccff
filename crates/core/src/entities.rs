//! What the client does per *root* entity — a row that heads a tree (a contact, a case, a queue)
//! — registered once here rather than decided in the sync code: the label a person knows it by
//! (in the sync ledger and the conflict inbox), the derived columns and full-text index rebuilt
//! when anything in its tree changes, and the indexes suspended while a snapshot bulk-loads
//! (search entries included: a first snapshot leaves them to one bulk rebuild at its end).
//!
//! A new root entity adds one [`Root`] to [`ROOTS`]; child entities need nothing here (their
//! parent is declared in `liaison_protocol::schema`, and the tree is walked from it).

use crate::error::Result;
use crate::store::sync_tables::blob;
use crate::store::{contacts as contacts_store, desk, meta, write};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::FieldState;
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Rebuild a row's derived columns and search entry (`touched_at`: when it changed, if known).
pub type Reindex = fn(&Connection, Uuid, Option<&str>, Search) -> Result<()>;

/// Whether a reindex writes the row's full-text entry now, or leaves it to the bulk rebuild that
/// ends a bulk load (see [`suspend_indexes`]). Writing entries one by one into a growing index
/// is most of what a first sync costs; one statement at the end costs a fraction of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    Now,
    Deferred,
}

/// Set while search entries are deferred (a bulk load is under way, or was cut off).
const SEARCH_DEFERRED: &str = "search_deferred";

/// A root entity's hooks.
pub struct Root {
    pub kind: EntityKind,
    /// The column that names a row to a person.
    pub label: &'static str,
    /// Rebuild the row's derived columns and search entry after it or its tree changed;
    /// `touched_at` (RFC 3339) is when, when known.
    pub reindex: Option<Reindex>,
    /// Drop and rebuild indexes that a bulk load would rewrite row by row (see
    /// [`suspend_indexes`]).
    pub suspend: Option<fn(&Connection) -> Result<()>>,
    pub restore: Option<fn(&Connection) -> Result<()>>,
    /// Rebuild every row's full-text entry in one statement, from the tables.
    pub rebuild_search: Option<fn(&Connection) -> Result<()>>,
}

pub const ROOTS: &[Root] = &[
    Root {
        kind: EntityKind::Contact,
        label: "display_name",
        reindex: Some(contacts_store::reindex),
        suspend: Some(contacts_store::suspend_name_index),
        restore: Some(contacts_store::restore_name_index),
        rebuild_search: Some(contacts_store::rebuild_search),
    },
    Root {
        kind: EntityKind::Case,
        label: "subject",
        reindex: Some(desk::reindex_case),
        suspend: None,
        restore: None,
        rebuild_search: Some(desk::rebuild_search),
    },
    Root { kind: EntityKind::Queue, label: "name", reindex: None, suspend: None, restore: None, rebuild_search: None },
    Root {
        kind: EntityKind::CannedReply,
        label: "name",
        reindex: None,
        suspend: None,
        restore: None,
        rebuild_search: None,
    },
];

fn root(kind: EntityKind) -> Option<&'static Root> {
    ROOTS.iter().find(|r| r.kind == kind)
}

/// The id a reference field holds in a pulled row.
fn id_in(fields: &BTreeMap<String, FieldState>, field: &str) -> Option<Uuid> {
    fields.get(field).and_then(|f| f.value.as_str()).and_then(|s| Uuid::parse_str(s).ok())
}

/// The parent of a row: from the fields it is arriving with when they name it, else from the
/// store. A conflict's parent is its owner, of the kind it names.
fn parent(
    conn: &Connection,
    kind: EntityKind,
    id: Uuid,
    fields: Option<&BTreeMap<String, FieldState>>,
) -> Result<Option<(EntityKind, Uuid)>> {
    let Some(p) = kind.def().parent else { return Ok(None) };
    let parent_kind = match p.kind {
        Some(k) => Some(k),
        None => {
            let named =
                fields.and_then(|f| f.get("owner_entity")).and_then(|f| f.value.as_str()).and_then(EntityKind::parse);
            match named {
                Some(k) => Some(k),
                None => stored_owner_kind(conn, kind, id)?,
            }
        }
    };
    let parent_id = match fields.and_then(|f| id_in(f, p.field)) {
        Some(id) => Some(id),
        None => write::parent_of(conn, kind, id)?,
    };
    Ok(parent_kind.zip(parent_id))
}

fn stored_owner_kind(conn: &Connection, kind: EntityKind, id: Uuid) -> Result<Option<EntityKind>> {
    if kind != EntityKind::Conflict {
        return Ok(None);
    }
    let text: Option<Option<String>> = conn
        .prepare_cached("SELECT owner_entity FROM conflict WHERE id = ?1")?
        .query_row([blob(id)], |r| r.get(0))
        .optional()?;
    Ok(text.flatten().as_deref().and_then(EntityKind::parse))
}

/// The root of the tree a row is in (the row itself when it heads one). `fields`: the row's
/// fields as they arrive, when it is being applied (they may name a parent the store does not
/// know yet).
pub fn root_of(
    conn: &Connection,
    kind: EntityKind,
    id: Uuid,
    fields: Option<&BTreeMap<String, FieldState>>,
) -> Result<Option<(EntityKind, Uuid)>> {
    let (mut kind, mut id) = (kind, id);
    let mut fields = fields;
    for _ in 0..8 {
        match parent(conn, kind, id, fields)? {
            Some((pk, pid)) => {
                (kind, id) = (pk, pid);
                fields = None;
            }
            None => break,
        }
    }
    Ok(root(kind).map(|_| (kind, id)))
}

/// What a person calls the row: the label of the root of its tree, when it is on this device.
pub fn label(
    conn: &Connection,
    kind: EntityKind,
    id: Uuid,
    fields: Option<&BTreeMap<String, FieldState>>,
) -> Result<Option<String>> {
    let Some((root_kind, root_id)) = root_of(conn, kind, id, fields)? else { return Ok(None) };
    label_of_root(conn, root_kind, root_id)
}

/// The label of a root row.
pub fn label_of_root(conn: &Connection, kind: EntityKind, id: Uuid) -> Result<Option<String>> {
    let Some(r) = root(kind) else { return Ok(None) };
    let sql = format!("SELECT {} FROM {} WHERE id = ?1", r.label, write::table(kind));
    Ok(conn.prepare_cached(&sql)?.query_row([blob(id)], |row| row.get::<_, String>(0)).optional()?)
}

/// Rebuild a root row's derived columns and search entry.
pub fn reindex(conn: &Connection, kind: EntityKind, id: Uuid, touched_at: Option<&str>) -> Result<()> {
    reindex_with(conn, kind, id, touched_at, Search::Now)
}

/// [`reindex`], writing the full-text entry now or leaving it to [`restore_indexes`].
pub fn reindex_with(
    conn: &Connection,
    kind: EntityKind,
    id: Uuid,
    touched_at: Option<&str>,
    search: Search,
) -> Result<()> {
    match root(kind).and_then(|r| r.reindex) {
        Some(reindex) => reindex(conn, id, touched_at, search),
        None => Ok(()),
    }
}

/// Before a bulk load (a first snapshot): drop the indexes every root rewrites row by row, and
/// note that search entries are deferred until [`restore_indexes`] (rows stored meanwhile are
/// reindexed with [`Search::Deferred`]).
pub fn suspend_indexes(conn: &Connection) -> Result<()> {
    ROOTS.iter().filter_map(|r| r.suspend).try_for_each(|suspend| suspend(conn))?;
    if meta::get(conn, SEARCH_DEFERRED)?.is_none() {
        meta::set(conn, SEARCH_DEFERRED, "1")?;
    }
    Ok(())
}

/// After a bulk load, or when the store opens (a bulk load may have been cut off for good):
/// build the suspended indexes again, and every search entry if they were deferred.
pub fn restore_indexes(conn: &Connection) -> Result<()> {
    ROOTS.iter().filter_map(|r| r.restore).try_for_each(|restore| restore(conn))?;
    if meta::get(conn, SEARCH_DEFERRED)?.is_some() {
        rebuild_search(conn)?;
        meta::remove(conn, SEARCH_DEFERRED)?;
    }
    Ok(())
}

/// Rebuild every root's full-text entries from the tables.
pub fn rebuild_search(conn: &Connection) -> Result<()> {
    ROOTS.iter().filter_map(|r| r.rebuild_search).try_for_each(|rebuild| rebuild(conn))
}
