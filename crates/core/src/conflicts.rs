//! The conflict inbox: concurrent edits the server recorded instead of silently overwriting one
//! of them (`sync.md`, "Conflicts are shown, not swallowed").
//!
//! A conflict arrives by pull like any other row (entity `conflict`, with the scope of the
//! contact it concerns, so only people who may see the contact see its conflicts). Each has two
//! sides: the value the merge rule kept and the one it set aside. This module presents them from
//! this device's point of view (*mine* is the side this device or its user wrote; for a third
//! person *mine* is what the record holds now) and resolves them.
//!
//! Resolving is an ordinary edit: the chosen value is written through the one write layer (so it
//! syncs and wins over both sides), and the conflict row's `resolution`, `resolved_by` and
//! `resolved_at` are set, which removes it from every device's inbox after sync.

use crate::entities;
use crate::error::{Error, ErrorCode, Result};
use crate::store::sync_tables::{blob, uuid_from};
use crate::store::{Store, meta, write};
use liaison_protocol::schema::{CONFLICT_KIND_DELETE, EntityKind, FieldType};
use liaison_protocol::wire::ConflictSide;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// What kind of conflict this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Two different values for one field; the newer clock won.
    Field,
    /// One side deleted the record while the other changed it; the delete won and the change was
    /// set aside here instead of bringing the record back.
    Delete,
}

/// A conflict, seen from this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub id: Uuid,
    /// The row the conflict is about heads this tree (a contact, a case).
    pub owner_entity: EntityKind,
    pub owner_id: Uuid,
    /// What a person calls the owner (a contact's name, a case's subject), when it is still on
    /// this device.
    pub owner_label: Option<String>,
    pub entity: EntityKind,
    pub row_id: Uuid,
    /// The field in conflict (`None` for a delete conflict).
    pub field: Option<String>,
    pub kind: ConflictKind,
    /// The side this device (or its user) wrote; for a third person, the side that was kept.
    pub mine: ConflictSide,
    pub theirs: ConflictSide,
    /// Whether `mine` is the side the merge kept (what the record holds now everywhere).
    pub mine_was_kept: bool,
    /// Whether `mine` was written by this device or this user (rather than being the kept side
    /// seen by a third person).
    pub mine_is_own: bool,
    pub detected_at: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
}

/// How to resolve a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "keep", content = "value")]
pub enum Choice {
    Mine,
    Theirs,
    /// A new value for the field (field conflicts only).
    Value(Value),
}

/// What resolving did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub conflict: Conflict,
    /// For a delete conflict resolved by keeping the change: the record re-created from it (a new
    /// id, since the deleted one stays deleted everywhere).
    pub restored_id: Option<Uuid>,
}

struct Raw {
    id: Uuid,
    owner_entity: Option<String>,
    owner_id: Uuid,
    entity: String,
    row_id: String,
    field: Option<String>,
    kind: String,
    kept: Option<String>,
    lost: Option<String>,
    detected_at: String,
    resolution: Option<String>,
    resolved_by: Option<String>,
    resolved_at: Option<String>,
}

const COLUMNS: &str = "id, coalesce(owner_id, contact_id), entity, row_id, field, kind, kept, lost, detected_at, resolution, resolved_by, resolved_at, owner_entity";

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok(Raw {
        id: uuid_from(r.get(0)?)?,
        owner_entity: r.get(12)?,
        owner_id: r.get::<_, Option<Vec<u8>>>(1)?.and_then(|b| Uuid::from_slice(&b).ok()).unwrap_or_default(),
        entity: r.get(2)?,
        row_id: r.get(3)?,
        field: r.get(4)?,
        kind: r.get(5)?,
        kept: r.get(6)?,
        lost: r.get(7)?,
        detected_at: r.get(8)?,
        resolution: r.get(9)?,
        resolved_by: r.get(10)?,
        resolved_at: r.get(11)?,
    })
}

fn side(text: Option<&str>) -> Option<ConflictSide> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// Who "I" am: this device, and the user signed in on it (if any).
struct Me {
    device: Uuid,
    user: Option<String>,
}

fn me(conn: &Connection) -> Result<Me> {
    Ok(Me { device: meta::device_id(conn)?, user: crate::session::signed_in_user(conn)? })
}

fn view(conn: &Connection, raw: Raw, me: &Me) -> Option<Conflict> {
    let entity = EntityKind::parse(&raw.entity)?;
    let row_id = Uuid::parse_str(&raw.row_id).ok()?;
    let (kept, lost) = (side(raw.kept.as_deref())?, side(raw.lost.as_deref())?);
    let is_me = |s: &ConflictSide| s.device == me.device || me.user.as_deref().is_some_and(|u| u == s.user);
    // Mine is the side set aside only when I wrote it and did not also write the kept side.
    let mine_lost = lost.device == me.device || (is_me(&lost) && !is_me(&kept));
    let mine_is_own = if mine_lost { true } else { is_me(&kept) };
    let (mine, theirs) = if mine_lost { (lost, kept) } else { (kept, lost) };
    // Conflicts recorded before they named their owner are about contacts.
    let owner_entity = raw.owner_entity.as_deref().map_or(Some(EntityKind::Contact), EntityKind::parse)?;
    let owner_label = entities::label_of_root(conn, owner_entity, raw.owner_id).ok()?;
    Some(Conflict {
        id: raw.id,
        owner_entity,
        owner_id: raw.owner_id,
        owner_label,
        entity,
        row_id,
        field: raw.field,
        kind: if raw.kind == CONFLICT_KIND_DELETE { ConflictKind::Delete } else { ConflictKind::Field },
        mine,
        theirs,
        mine_was_kept: !mine_lost,
        mine_is_own,
        detected_at: raw.detected_at,
        resolution: raw.resolution,
        resolved_by: raw.resolved_by,
        resolved_at: raw.resolved_at,
    })
}

/// Open conflicts (or all, with `include_resolved`), oldest first. A conflict row this version
/// cannot read (an entity it does not know) is skipped, never an error.
pub fn list(store: &Store, include_resolved: bool) -> Result<Vec<Conflict>> {
    let conn = store.conn();
    let me = me(conn)?;
    let filter = if include_resolved { "" } else { "WHERE resolved_at IS NULL" };
    let raws = conn
        .prepare(&format!("SELECT {COLUMNS} FROM conflict {filter} ORDER BY detected_at, id"))?
        .query_map([], raw)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(raws.into_iter().filter_map(|r| view(conn, r, &me)).collect())
}

/// How many conflicts wait for a person.
pub fn open_count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT count(*) FROM conflict WHERE resolved_at IS NULL", [], |r| r.get::<_, i64>(0))? as u64)
}

/// One conflict by id.
pub fn get(store: &Store, id: Uuid) -> Result<Conflict> {
    let conn = store.conn();
    let raw = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM conflict WHERE id = ?1"))?
        .query_row([blob(id)], raw)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("Conflict {id}")))?;
    view(conn, raw, &me(conn)?).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("Conflict {id} concerns a kind of record this version of Liaison does not know; update Liaison."),
        )
    })
}

/// Turn what a person typed into a value for `field` of `entity` (a list field takes
/// comma-separated items; an empty text clears an optional field).
pub fn value_from_text(entity: EntityKind, field: &str, text: &str) -> Result<Value> {
    let def =
        entity.def().field(field).ok_or_else(|| Error::invalid(format!("{} has no field {field}", entity.as_str())))?;
    let text = text.trim();
    Ok(match def.ty {
        FieldType::TextList => json!(text.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>()),
        FieldType::Bool => match text {
            "true" | "yes" => json!(true),
            "false" | "no" | "" => json!(false),
            _ => return Err(Error::invalid(format!("{field} is true or false, not {text:?}"))),
        },
        _ if text.is_empty() && !def.required => Value::Null,
        _ => json!(text),
    })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Resolve a conflict with `choice`. The chosen value becomes a new local edit (synced like any
/// other), and the conflict is marked resolved by this user.
pub fn resolve(store: &mut Store, id: Uuid, choice: Choice) -> Result<Resolved> {
    let conflict = get(store, id)?;
    if let (Some(by), Some(at)) = (&conflict.resolved_by, &conflict.resolved_at) {
        return Err(Error::invalid(format!("This conflict was already resolved by {by} at {at}.")));
    }
    let resolution = match &choice {
        Choice::Mine => "kept_mine",
        Choice::Theirs => "kept_theirs",
        Choice::Value(_) => "edited",
    };
    let resolved_by = crate::session::signed_in_user(store.conn())?.unwrap_or_else(|| "this device".into());
    let restored_id = store.transaction(|tx| {
        let restored = match conflict.kind {
            ConflictKind::Field => {
                apply_field_choice(tx, &conflict, &choice)?;
                None
            }
            ConflictKind::Delete => apply_delete_choice(tx, &conflict, &choice)?,
        };
        write::local_upsert(
            tx,
            EntityKind::Conflict,
            id,
            &[("resolution", json!(resolution)), ("resolved_by", json!(resolved_by)), ("resolved_at", json!(now()))],
        )?;
        Ok(restored)
    })?;
    Ok(Resolved { conflict: get(store, id)?, restored_id })
}

fn apply_field_choice(tx: &Connection, c: &Conflict, choice: &Choice) -> Result<()> {
    let field = c.field.as_deref().ok_or_else(|| Error::invalid("This conflict names no field."))?;
    let value = match choice {
        Choice::Mine => c.mine.value.clone(),
        Choice::Theirs => c.theirs.value.clone(),
        Choice::Value(v) => v.clone(),
    };
    let def = c.entity.def();
    let fdef = def
        .field(field)
        .ok_or_else(|| Error::invalid(format!("{} has no field {field}; update Liaison.", def.name)))?;
    fdef.validate(&value).map_err(Error::invalid)?;
    if write::read_fields(tx, c.entity, c.row_id)?.is_none() {
        return Err(Error::new(
            ErrorCode::NotFound,
            "The record this conflict is about was deleted since, so there is nothing to change; keep the other side to close it.",
        ));
    }
    write::local_upsert(tx, c.entity, c.row_id, &[(fdef.name, value)])?;
    entities::reindex(tx, c.owner_entity, c.owner_id, Some(&now()))
}

/// A delete conflict: keeping the delete changes nothing; keeping the change re-creates the
/// record from the fields the change carried (under a new id: the deleted id stays deleted).
fn apply_delete_choice(tx: &Connection, c: &Conflict, choice: &Choice) -> Result<Option<Uuid>> {
    let change_side = match choice {
        Choice::Value(_) => {
            return Err(Error::invalid(
                "A deleted record has no single value to edit; keep the delete or keep the change.",
            ));
        }
        Choice::Mine => &c.mine,
        Choice::Theirs => &c.theirs,
    };
    if change_side.value.is_null() {
        return Ok(None); // the delete side: it already holds everywhere
    }
    let def = c.entity.def();
    let Some(fields) = change_side.value.as_object() else {
        return Err(Error::invalid("The set-aside change is not readable; keep the delete to close this conflict."));
    };
    let mut patch: Vec<(&str, Value)> =
        fields.iter().filter_map(|(name, v)| Some((def.field(name)?.name, v.clone()))).collect();
    // A child row's change may not repeat its parent; directly below its owner, that is the owner.
    if let Some(parent) = def.parent
        && parent.kind == Some(c.owner_entity)
        && !patch.iter().any(|(n, _)| *n == parent.field)
    {
        patch.push((parent.field, json!(c.owner_id.to_string())));
    }
    let missing: Vec<&str> = def
        .fields
        .iter()
        .filter(|f| f.required && !patch.iter().any(|(n, v)| *n == f.name && !v.is_null()))
        .map(|f| f.name)
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "The set-aside change holds only {}, not enough to re-create the deleted {} (it needs {}). Keep the delete, then add it again by hand.",
            fields.keys().cloned().collect::<Vec<_>>().join(", "),
            def.name,
            missing.join(", ")
        )));
    }
    if let Some(parent) = def.parent {
        let parent_kind = parent.kind.unwrap_or(c.owner_entity);
        let parent_id = patch
            .iter()
            .find(|(n, _)| *n == parent.field)
            .and_then(|(_, v)| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        if parent_id.map(|id| write::read_fields(tx, parent_kind, id)).transpose()?.flatten().is_none() {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!(
                    "The {} this {} belonged to is gone too; keep the delete.",
                    parent_kind.as_str().replace('_', " "),
                    def.name.replace('_', " ")
                ),
            ));
        }
    }
    if c.entity == EntityKind::Contact && !patch.iter().any(|(n, _)| *n == "created_at") {
        // A new record: it is created now (a synced field, like every contact's).
        patch.push(("created_at", json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))));
    }
    let new_id = Uuid::now_v7();
    write::local_upsert(tx, c.entity, new_id, &patch)?;
    let root = if c.entity == c.owner_entity { (c.entity, new_id) } else { (c.owner_entity, c.owner_id) };
    entities::reindex(tx, root.0, root.1, Some(&now()))?;
    Ok(Some(new_id))
}
