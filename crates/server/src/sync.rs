//! What a push does to a row, as pure functions: no I/O, so the one sync engine
//! ([`crate::engine`]) applies exactly the same rules on every backend and the rules are tested
//! with plain tables of cases. Every rule reads the entity's declaration
//! ([`liaison_protocol::schema::EntityDef`]) rather than naming entities.
//!
//! For each change of a batch, in order, the engine loads the row (and the scope of the row its
//! scope derives from), calls [`plan_change`] and writes the [`Plan`] it returns:
//!
//! 0. **Erasure wins** (checked first, by [`refuse_erased`] on the ids of [`erasure_ids`]): a change
//!    to an erased (purged) id, or one that points a row at an erased row, is rejected with
//!    [`ErrorCode::Erased`]; the rest of the batch still applies.
//! 1. **Validate** (never against clocks): every field must exist in the entity's schema and pass
//!    [`EntityDef::validate`]; a change that creates a row must carry every required field unless
//!    it is a delete, and the id its identity derives from its fields. Server-authored rows
//!    (conflicts) are never created or deleted by a client, and only their client fields may be
//!    written; append-only rows (messages) are never changed once written. A bad change is
//!    rejected on its own; the others in the batch still apply.
//! 2. **Permission**: [`permissions::check_write`] (the row's scope, the scope it would move to,
//!    who may create, edit or delete the entity, and who may write its staff-only fields).
//! 3. **Tombstones win**: a change to a deleted row is accepted (so the client stops resending it)
//!    but not applied, so an offline edit never revives a deleted row. When the author had not
//!    seen the delete, the edit goes to the conflict inbox (a `delete` conflict).
//! 4. **Clamp** clocks more than [`MAX_CLOCK_SKEW_MILLIS`] ahead of the server's clock: a laptop
//!    whose clock is a year ahead must not win every contest for a year.
//! 5. **Merge** each field by [`Stamp::wins_over`], with the *authenticated* device as the
//!    stamp's device: the device is never taken from the request body.
//! 6. **Conflicts** (`sync.md`, "Conflicts are shown, not swallowed"): for entities that record
//!    them, a field another device wrote after the author's `base_seq`, with a different value, is
//!    recorded as a conflict ([`ConflictDraft`]) whichever side won; a delete that removes such
//!    fields is recorded as a `delete` conflict. The merge result is the same as without conflicts.
//!
//! The scope of a row ([`scope_after`]) follows its entity's [`ScopeRule`].

use crate::permissions::{self, Access};
use crate::storage::User;
use chrono::{DateTime, SecondsFormat, Utc};
use liaison_protocol::error::{ErrorBody, ErrorCode};
use liaison_protocol::hlc::{Clock, Hlc, Stamp};
use liaison_protocol::schema::{
    CONFLICT_KIND_DELETE, CONFLICT_KIND_FIELD, EntityDef, EntityKind, FieldType, Identity, Mutability, RESOLUTIONS,
    ScopeRule,
};
use liaison_protocol::scope;
use liaison_protocol::wire::{Change, ChangeResult, ConflictSide, FieldState, FieldWrite, Outcome};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use uuid::Uuid;

/// How far ahead of the server's clock an incoming clock may be before it is clamped.
/// Offline laptops drift, so this is minutes, not milliseconds (see `sync.md`).
pub const MAX_CLOCK_SKEW_MILLIS: u64 = 10 * 60 * 1000;

/// The device id in the stamps of rows the server writes itself (conflicts, admin commands).
pub const SERVER_DEVICE: Uuid = Uuid::nil();

/// The user name shown for a conflict side whose device the server does not know.
pub const UNKNOWN_DEVICE_USER: &str = "unknown device";

/// A row as a backend stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// The server sequence at which the row last changed (written, rescoped or re-sent).
    pub seq: u64,
    pub deleted: bool,
    /// A tombstone left by an erasure.
    pub purged: bool,
    pub fields: BTreeMap<String, FieldState>,
    /// The server sequence at which each field was last written; a field missing here counts
    /// as written at `seq`.
    pub field_seqs: BTreeMap<String, u64>,
    /// For a tombstone: who deleted the row and when (unknown for erased rows).
    pub deleted_by: Option<Stamp>,
    /// For a tombstone: the sequence of the delete (`seq` when unknown).
    pub deleted_seq: Option<u64>,
    /// The row's scope (see [`scope_after`]).
    pub scope: String,
    /// The row this row belongs to in its tree (its entity's [`liaison_protocol::schema::Parent`];
    /// for a conflict: the row it is about).
    pub parent_id: Option<Uuid>,
    /// The person (contact) the row belongs to for erasure ([`EntityDef::person`]).
    pub person_id: Option<Uuid>,
    /// For a row in the `public` scope: the sequence at which it last became public (created or
    /// unrestricted). A device whose cursor is before it never held the row.
    pub public_since: Option<u64>,
    /// Not a stored row but its deleted parent's tombstone, standing in for a new row under it
    /// (see [`StoredRow::for_child_of`]).
    pub stand_in: bool,
}

impl StoredRow {
    /// A live row in the public scope, at `seq`, with these fields (all written at `seq`).
    pub fn public(seq: u64, fields: BTreeMap<String, FieldState>) -> Self {
        Self {
            seq,
            deleted: false,
            purged: false,
            fields,
            field_seqs: BTreeMap::new(),
            deleted_by: None,
            deleted_seq: None,
            scope: scope::PUBLIC.to_owned(),
            parent_id: None,
            person_id: None,
            public_since: Some(seq),
            stand_in: false,
        }
    }

    /// A tombstone the server no longer keeps (pruned), for a change based on `base_seq`: the
    /// delete came after that version, by an unknown device.
    pub fn forgotten_tombstone(base_seq: u64) -> Self {
        Self {
            deleted: true,
            deleted_seq: Some(base_seq.saturating_add(1)),
            public_since: None,
            ..Self::public(base_seq.saturating_add(1), BTreeMap::new())
        }
    }

    /// A new child row (e.g. an email, a message) for a parent that was deleted: the parent's
    /// delete wins over it as over any concurrent update, so it is planned against the parent's
    /// tombstone (accepted, not applied, and recorded as a delete conflict). `None` when the
    /// parent lives.
    pub fn for_child_of(parent: &StoredRow, parent_id: Uuid) -> Option<Self> {
        parent.deleted.then(|| Self {
            seq: parent.seq,
            deleted: true,
            purged: false,
            fields: BTreeMap::new(),
            field_seqs: BTreeMap::new(),
            deleted_by: parent.deleted_by,
            deleted_seq: Some(parent.tombstone_seq()),
            scope: parent.scope.clone(),
            parent_id: Some(parent_id),
            person_id: None,
            public_since: None,
            stand_in: true,
        })
    }

    /// The sequence at which `field` was last written.
    pub fn field_seq(&self, field: &str) -> u64 {
        self.field_seqs.get(field).copied().unwrap_or(self.seq)
    }

    /// The sequence of the delete that made this row a tombstone.
    pub fn tombstone_seq(&self) -> u64 {
        self.deleted_seq.unwrap_or(self.seq)
    }
}

/// What applying a change does to its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing changes (every field lost the merge, or the row is a tombstone). The change is
    /// still accepted and remembered.
    Unchanged,
    /// The row becomes a tombstone: all fields removed, `deleted` set. `hlc` is the (clamped)
    /// clock of the delete.
    Tombstone { hlc: Hlc },
    /// These fields won the merge and replace the stored ones (the row is created if missing).
    Write(BTreeMap<String, FieldState>),
}

impl Effect {
    /// Whether applying the effect modifies the row, and so takes a new sequence number.
    pub fn modifies(&self) -> bool {
        !matches!(self, Effect::Unchanged)
    }
}

/// A clock that was more than [`MAX_CLOCK_SKEW_MILLIS`] ahead and was pulled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clamp {
    /// The field whose clock was clamped, or `None` for the clock of a delete.
    pub field: Option<String>,
    pub original: Hlc,
    pub clamped: Hlc,
}

/// Say (without any field values) that a device's clocks ran ahead and were clamped.
pub fn log_clamps(device: Uuid, clamps: &[Clamp], now_millis: u64) {
    if let Some(first) = clamps.first() {
        tracing::warn!(
            %device,
            ahead_ms = first.original.millis.saturating_sub(now_millis),
            fields = clamps.len(),
            "clamped clocks that were ahead of the server's clock"
        );
    }
}

/// One side of a conflict before the engine knows every user name: `user` is set for the
/// author's side and looked up by `device` for stored sides (see [`conflict_fields`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub value: Value,
    pub hlc: Hlc,
    pub device: Uuid,
    pub user: Option<String>,
}

/// A conflict to record as a `conflict` row (see [`liaison_protocol::schema::CONFLICT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictDraft {
    /// [`CONFLICT_KIND_FIELD`] or [`CONFLICT_KIND_DELETE`].
    pub kind: &'static str,
    /// The field, for a field conflict.
    pub field: Option<String>,
    /// The side the merge kept (for a delete conflict: the delete).
    pub kept: Side,
    /// The side it set aside.
    pub lost: Side,
}

/// The outcome of [`plan_change`] for a change that is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub effect: Effect,
    pub clamps: Vec<Clamp>,
    /// Conflicts to record, each as a new `conflict` row with its own sequence number.
    pub conflicts: Vec<ConflictDraft>,
}

/// Who pushed a change: the authenticated user, what they may read, and their device.
#[derive(Debug, Clone, Copy)]
pub struct Author<'a> {
    pub user: &'a User,
    pub access: &'a Access,
    pub device: Uuid,
}

/// Decide what `change`, written by `author`, does to `existing`.
///
/// `source_scope` is the scope of the row the change's row takes its scope from (its parent, or
/// the row its scope field refers to) when the change names that row, as it would be after the
/// change (see [`missing_scope`] for a row the server does not hold).
/// `clamp_clock` is the server's clock for clamped stamps. The engine persists it with the batch
/// so that successive clamped writes keep their order (each clamped stamp is issued by
/// [`Clock::tick`], hence strictly greater than the one before), even across restarts.
pub fn plan_change(
    author: &Author<'_>,
    existing: Option<&StoredRow>,
    source_scope: Option<&str>,
    change: &Change,
    now_millis: u64,
    clamp_clock: &mut Clock,
) -> Result<Plan, ErrorBody> {
    let change = with_server_values(change, author.user);
    let change = change.as_ref();
    // A change based on a version the server sent (base_seq > 0) to a row the server no longer
    // holds: the row was deleted and its tombstone pruned after the retention period (nothing
    // else removes rows). The delete still wins, so the change must not re-create the row.
    let forgotten;
    let existing = match existing {
        None if change.base_seq > 0 && change.deleted.is_none() => {
            forgotten = StoredRow::forgotten_tombstone(change.base_seq);
            Some(&forgotten)
        }
        other => other,
    };
    validate(change, existing, author.access.is_server())?;
    let row_scope = existing.filter(|row| !row.stand_in).map(|row| row.scope.as_str());
    permissions::check_write(author.access, change, row_scope, source_scope)?;
    let change = without_identity_fields(change, existing);
    let change = change.as_ref();
    let device = author.device;
    let def = change.entity.def();

    if let Some(row) = existing.filter(|row| row.deleted) {
        let mut conflicts = Vec::new();
        // The data of a change that met a delete is kept for a person to see, for any entity a
        // client writes (an edit of a contact, a note for a case that was deleted meanwhile).
        if def.client_may_create()
            && change.deleted.is_none()
            && !change.fields.is_empty()
            && row.tombstone_seq() > change.base_seq
        {
            conflicts.push(update_met_delete(row, change, author));
        }
        return Ok(Plan { effect: Effect::Unchanged, clamps: Vec::new(), conflicts });
    }

    let records_conflicts = def.records_conflicts();
    let limit = now_millis.saturating_add(MAX_CLOCK_SKEW_MILLIS);
    let mut clamps = Vec::new();
    let mut clamp = |field: Option<&str>, hlc: Hlc| -> Hlc {
        if hlc.millis <= limit {
            return hlc;
        }
        let clamped = clamp_clock.tick(limit);
        clamps.push(Clamp { field: field.map(str::to_owned), original: hlc, clamped });
        clamped
    };

    if let Some(deleted) = change.deleted {
        let hlc = clamp(None, deleted);
        let conflicts = match existing {
            Some(row) if records_conflicts => delete_met_update(row, change, hlc, author).into_iter().collect(),
            _ => Vec::new(),
        };
        return Ok(Plan { effect: Effect::Tombstone { hlc }, clamps, conflicts });
    }

    let mut winners = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (name, write) in &change.fields {
        let stamp = Stamp::new(clamp(Some(name), write.hlc), device);
        let stored = existing.and_then(|row| row.fields.get(name));
        let wins = stamp.wins_over_opt(stored.map(FieldState::stamp).as_ref());
        if let (Some(row), Some(stored)) = (existing, stored)
            && records_conflicts
            && row.field_seq(name) > change.base_seq
            && stored.device != device
            && stored.value != write.value
        {
            let incoming =
                Side { value: write.value.clone(), hlc: stamp.hlc, device, user: Some(author.user.name.clone()) };
            let theirs = Side { value: stored.value.clone(), hlc: stored.hlc, device: stored.device, user: None };
            let (kept, lost) = if wins { (incoming, theirs) } else { (theirs, incoming) };
            conflicts.push(ConflictDraft { kind: CONFLICT_KIND_FIELD, field: Some(name.clone()), kept, lost });
        }
        if wins {
            winners.insert(name.clone(), FieldState { value: write.value.clone(), hlc: stamp.hlc, device });
        }
    }
    let effect = if winners.is_empty() { Effect::Unchanged } else { Effect::Write(winners) };
    Ok(Plan { effect, clamps, conflicts })
}

/// An update arrived for a row deleted after the version its author saw: the delete stays, the
/// update is kept in a `delete` conflict (`lost.value`: an object of the update's fields).
fn update_met_delete(row: &StoredRow, change: &Change, author: &Author<'_>) -> ConflictDraft {
    let delete = row.deleted_by.unwrap_or(Stamp::new(Hlc::ZERO, Uuid::nil()));
    let values: serde_json::Map<String, Value> =
        change.fields.iter().map(|(name, write)| (name.clone(), write.value.clone())).collect();
    let newest = change.fields.values().map(|write| write.hlc).max().unwrap_or(Hlc::ZERO);
    ConflictDraft {
        kind: CONFLICT_KIND_DELETE,
        field: None,
        kept: Side { value: Value::Null, hlc: delete.hlc, device: delete.device, user: None },
        lost: Side {
            value: Value::Object(values),
            hlc: newest,
            device: author.device,
            user: Some(author.user.name.clone()),
        },
    }
}

/// A delete arrived for a row with fields another device wrote after the version the deleting
/// author saw: the delete applies, those fields are kept in a `delete` conflict.
fn delete_met_update(row: &StoredRow, change: &Change, hlc: Hlc, author: &Author<'_>) -> Option<ConflictDraft> {
    let newer: Vec<(&String, &FieldState)> = row
        .fields
        .iter()
        .filter(|(name, field)| row.field_seq(name) > change.base_seq && field.device != author.device)
        .collect();
    let newest = newer.iter().map(|(_, field)| field.stamp()).max()?;
    let values: serde_json::Map<String, Value> =
        newer.iter().map(|(name, field)| ((*name).clone(), field.value.clone())).collect();
    Some(ConflictDraft {
        kind: CONFLICT_KIND_DELETE,
        field: None,
        kept: Side { value: Value::Null, hlc, device: author.device, user: Some(author.user.name.clone()) },
        lost: Side { value: Value::Object(values), hlc: newest.hlc, device: newest.device, user: None },
    })
}

/// The conflict field that names who resolved it: always the authenticated user.
const RESOLVED_BY: &str = "resolved_by";
const RESOLUTION: &str = "resolution";

/// The change as the server applies it: for a conflict, `resolved_by` is the authenticated user's
/// name whatever the client sent, and is set whenever `resolution` is.
fn with_server_values<'c>(change: &'c Change, user: &User) -> Cow<'c, Change> {
    if change.entity != EntityKind::Conflict || change.deleted.is_some() {
        return Cow::Borrowed(change);
    }
    let hlc = match (change.fields.get(RESOLVED_BY), change.fields.get(RESOLUTION)) {
        (Some(write), _) | (None, Some(write)) => write.hlc,
        (None, None) => return Cow::Borrowed(change),
    };
    let mut owned = change.clone();
    owned.fields.insert(RESOLVED_BY.to_owned(), FieldWrite { value: Value::String(user.name.clone()), hlc });
    Cow::Owned(owned)
}

fn invalid(message: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidInput, message)
}

/// Check a change against the schema, independent of clocks and permissions.
/// `by_server`: the server's own write, which alone creates and changes server-authored rows.
pub fn validate(change: &Change, existing: Option<&StoredRow>, by_server: bool) -> Result<(), ErrorBody> {
    let def: &EntityDef = change.entity.def();
    for name in change.fields.keys() {
        if def.field(name).is_none() {
            // Echo at most a short prefix of a name we do not know: it came from the client.
            let shown: String = name.chars().take(64).collect();
            return Err(invalid(format!(
                "{} has no field named {shown:?}; update Liaison or drop the change",
                def.name
            )));
        }
    }
    match def.mutability {
        Mutability::ServerAuthored { .. } if by_server => {}
        Mutability::ServerAuthored { client_fields } => server_authored_rules(def, client_fields, change, existing)?,
        Mutability::AppendOnly => append_only_rules(def, change, existing)?,
        Mutability::Mutable => {}
    }
    for (name, write) in &change.fields {
        def.validate(name, &write.value).map_err(|why| invalid(format!("{}: {why}", def.name)))?;
    }
    if change.entity == EntityKind::Conflict
        && let Some(write) = change.fields.get(RESOLUTION)
        && !write.value.as_str().is_some_and(|value| RESOLUTIONS.contains(&value))
    {
        return Err(invalid(format!("{RESOLUTION} of a conflict must be one of {}", RESOLUTIONS.join(", "))));
    }
    if change.deleted.is_some() {
        return Ok(());
    }
    match existing {
        None => create_rules(def, change),
        Some(row) => identity_is_kept(def, change, row),
    }
}

/// A change that creates a row: every required field, some field at all, and the derived id.
fn create_rules(def: &EntityDef, change: &Change) -> Result<(), ErrorBody> {
    let missing: Vec<&str> =
        def.fields.iter().filter(|f| f.required && !change.fields.contains_key(f.name)).map(|f| f.name).collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "a new {} needs {}; this change creates the row without {}",
            def.name,
            def.fields.iter().filter(|f| f.required).map(|f| f.name).collect::<Vec<_>>().join(", "),
            missing.join(", ")
        )));
    }
    if change.fields.is_empty() {
        return Err(invalid(format!("the change to a new {} carries no fields and is not a delete", def.name)));
    }
    if let Identity::Derived(from) = def.identity
        && def.derived_id(|name| change.fields.get(name).map(|w| &w.value)) != Some(change.row_id)
    {
        return Err(invalid(format!(
            "the id of a {} is derived from its {}; this change names another id (update Liaison)",
            def.name,
            from.join(" and ")
        )));
    }
    Ok(())
}

/// The fields a derived id comes from never change (a membership is for one queue and one
/// user): written again, they must still derive the row's id (another spelling of the same user
/// is the same row).
fn identity_is_kept(def: &EntityDef, change: &Change, row: &StoredRow) -> Result<(), ErrorBody> {
    let Identity::Derived(from) = def.identity else { return Ok(()) };
    if !from.iter().any(|name| change.fields.contains_key(*name)) {
        return Ok(());
    }
    let derived = def.derived_id(|name| {
        change.fields.get(name).map(|w| &w.value).or_else(|| row.fields.get(name).map(|f| &f.value))
    });
    match derived {
        Some(id) if id != change.row_id => Err(invalid(format!(
            "the {} of a {} cannot be changed; remove it and add another",
            from.join(" and "),
            def.name
        ))),
        _ => Ok(()),
    }
}

/// An existing row's identity fields are settled: writing them again (a second device creating
/// the same association) changes nothing and is no conflict.
fn without_identity_fields<'c>(change: &'c Change, existing: Option<&StoredRow>) -> Cow<'c, Change> {
    let Identity::Derived(from) = change.entity.def().identity else { return Cow::Borrowed(change) };
    if existing.is_none_or(|row| row.deleted) || !from.iter().any(|name| change.fields.contains_key(*name)) {
        return Cow::Borrowed(change);
    }
    let mut owned = change.clone();
    owned.fields.retain(|name, _| !from.contains(&name.as_str()));
    Cow::Owned(owned)
}

/// Rows of server-authored entities (conflicts): a client neither creates nor deletes them, and
/// writes only the entity's client fields.
fn server_authored_rules(
    def: &EntityDef,
    client_fields: &[&str],
    change: &Change,
    existing: Option<&StoredRow>,
) -> Result<(), ErrorBody> {
    if change.deleted.is_some() {
        return Err(invalid(format!(
            "{}s are recorded by the server and cannot be deleted; resolve them instead",
            def.name
        )));
    }
    if existing.is_none() {
        return Err(invalid(format!("{}s are recorded by the server", def.name)));
    }
    if let Some(name) = change.fields.keys().find(|name| !def.client_may_write(name)) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!(
                "{}.{name} is recorded by the server; a device may only write {}",
                def.name,
                client_fields.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Append-only rows (messages, attachments) are written once: never changed, never deleted by a
/// device. A change to a row that was deleted meanwhile is left to the tombstone rule.
fn append_only_rules(def: &EntityDef, change: &Change, existing: Option<&StoredRow>) -> Result<(), ErrorBody> {
    if change.deleted.is_some() {
        return Err(invalid(format!("a {} cannot be deleted once written", def.name)));
    }
    if existing.is_some_and(|row| !row.deleted) {
        return Err(invalid(format!("a {} is never changed once written; write a new one instead", def.name)));
    }
    Ok(())
}

/// What an administrator is told, and a device shows, when a change touches erased data.
pub const ERASED_MESSAGE: &str = "This person's data was erased at their request; the change was refused.";

/// The ids a change must not touch if they were erased: its own row id, and every row it points
/// at (the contact of an email, the author of a message, the contact a case link names), so an
/// offline device cannot add data to an erased person. A reference that is not a UUID is left
/// to [`validate`].
pub fn erasure_ids(change: &Change) -> Vec<Uuid> {
    let def = change.entity.def();
    let mut ids = vec![change.row_id];
    for (name, write) in &change.fields {
        if matches!(def.field(name).map(|f| f.ty), Some(FieldType::Ref(_) | FieldType::AnyRef))
            && let Some(id) = write.value.as_str().and_then(|s| Uuid::parse_str(s).ok())
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// Refuse a change when any of its [`erasure_ids`] was erased (`touches_erased`). Checked before
/// anything else: erasure beats edits, always.
pub fn refuse_erased(touches_erased: bool) -> Result<(), ErrorBody> {
    if touches_erased { Err(ErrorBody::new(ErrorCode::Erased, ERASED_MESSAGE)) } else { Ok(()) }
}

/// The id a stored reference field holds, from its JSON text (a JSON string holding a UUID in any
/// form [`Uuid::parse_str`] accepts).
pub fn parent_id_from_stored(text: &str) -> Option<Uuid> {
    serde_json::from_str::<String>(text).ok().and_then(|s| Uuid::parse_str(&s).ok())
}

fn as_id(value: &Value) -> Option<Uuid> {
    value.as_str().and_then(|s| Uuid::parse_str(s).ok())
}

/// The row a change names in `field` (a reference), when it writes it with a UUID.
pub fn named_in_change(change: &Change, field: &str) -> Option<Uuid> {
    change.fields.get(field).and_then(|write| as_id(&write.value))
}

/// The row `field` refers to after `effect`: the change's value when its write won, else the
/// stored one (for the parent field of a tombstone, the stored parent), else the change's value.
pub fn reference_after(change: &Change, existing: Option<&StoredRow>, effect: &Effect, field: &str) -> Option<Uuid> {
    if let Effect::Write(fields) = effect
        && let Some(id) = fields.get(field).and_then(|f| as_id(&f.value))
    {
        return Some(id);
    }
    let stored = existing.and_then(|row| {
        row.fields
            .get(field)
            .and_then(|f| as_id(&f.value))
            .or_else(|| (change.entity.def().parent_field() == Some(field)).then_some(row.parent_id).flatten())
    });
    stored.or_else(|| named_in_change(change, field))
}

/// The field of the row a change's row takes its scope from: its parent's field, or the
/// reference its [`ScopeRule::Of`] names.
pub fn scope_source_field(def: &EntityDef) -> Option<&'static str> {
    match def.scope {
        ScopeRule::Of { field } => Some(field),
        ScopeRule::Parent => def.parent_field(),
        _ => None,
    }
}

/// The kind of the row a reference field of `def` points at (`None` for an any-kind reference).
pub fn referenced_kind(def: &EntityDef, field: &str) -> Option<EntityKind> {
    match def.field(field)?.ty {
        FieldType::Ref(kind) => Some(kind),
        _ => None,
    }
}

/// The scope a row of `kind` with this id would have while the server does not hold it: what
/// its rule gives a row with no fields (a contact not restricted: `public`; a queue: its own), or
/// `None` when it derives from a row nobody named.
pub fn missing_scope(kind: EntityKind, id: Uuid) -> Option<String> {
    match kind.def().scope {
        ScopeRule::Public | ScopeRule::OwnWhen { .. } => Some(scope::PUBLIC.to_owned()),
        ScopeRule::Own => Some(scope::of(kind, id)),
        ScopeRule::Of { .. } | ScopeRule::Parent => None,
    }
}

/// The scope of the row after `effect`, computed by the server alone from the entity's
/// [`ScopeRule`]. `source_scope` is the scope of the row it takes its scope from, now (its
/// parent, or the row its scope field refers to). A tombstone keeps the scope it had. A row
/// whose source is unknown gets its own compartment, which only staff read.
pub fn scope_after(
    change: &Change,
    existing: Option<&StoredRow>,
    effect: &Effect,
    source_scope: Option<&str>,
) -> String {
    let def = change.entity.def();
    let own = || scope::of(change.entity, change.row_id);
    let kept = existing.map(|row| row.scope.clone());
    match (def.scope, effect) {
        (ScopeRule::Public, _) => scope::PUBLIC.to_owned(),
        (ScopeRule::Own, _) => own(),
        (_, Effect::Tombstone { .. } | Effect::Unchanged) if kept.is_some() => kept.unwrap_or_else(own),
        (ScopeRule::OwnWhen { field }, effect) => {
            let on =
                |fields: &BTreeMap<String, FieldState>| fields.get(field).is_some_and(|f| f.value == Value::Bool(true));
            let flagged = match effect {
                Effect::Write(winners) if winners.contains_key(field) => on(winners),
                _ => existing.is_some_and(|row| on(&row.fields)),
            };
            if flagged { own() } else { scope::PUBLIC.to_owned() }
        }
        // An optional reference left empty (a canned reply for every queue): public.
        (ScopeRule::Of { field }, effect) if names_nothing(change, existing, effect, field) => scope::PUBLIC.to_owned(),
        (ScopeRule::Of { .. } | ScopeRule::Parent, _) => match (source_scope, kept) {
            (Some(scope), _) => scope.to_owned(),
            // A source the server cannot look up (an owner of any kind): the row stays where it is.
            (None, Some(kept)) => kept,
            // A delete of a row the server never had names no source: a child of a contact is
            // public, as its contact would be; anything else only staff read.
            (None, None) => {
                match scope_source_field(def).and_then(|f| referenced_kind(def, f)).map(|k| k.def().scope) {
                    Some(ScopeRule::Public | ScopeRule::OwnWhen { .. }) => scope::PUBLIC.to_owned(),
                    _ => own(),
                }
            }
        },
    }
}

/// Whether an optional reference field is empty after `effect`: cleared by the winning write, or
/// never set. A required one always names a row.
fn names_nothing(change: &Change, existing: Option<&StoredRow>, effect: &Effect, field: &str) -> bool {
    if change.entity.def().field(field).is_none_or(|f| f.required) {
        return false;
    }
    match effect {
        Effect::Write(fields) if fields.contains_key(field) => {
            fields.get(field).is_none_or(|f| as_id(&f.value).is_none())
        }
        _ => reference_after(change, existing, effect, field).is_none(),
    }
}

/// The parent a row belongs to after `effect`.
pub fn parent_after(change: &Change, existing: Option<&StoredRow>, effect: &Effect) -> Option<Uuid> {
    reference_after(change, existing, effect, change.entity.def().parent_field()?)
}

/// The person a row belongs to after `effect` ([`EntityDef::person`]).
pub fn person_after(change: &Change, existing: Option<&StoredRow>, effect: &Effect) -> Option<Uuid> {
    let field = change.entity.def().person?;
    reference_after(change, existing, effect, field).or_else(|| existing.and_then(|row| row.person_id))
}

/// The row's stored *document* after `written` replaced its fields in `base` (the row's fields
/// before the change; `None` for a new row): the JSON of [`liaison_protocol::wire::RowState`]'s
/// `fields`, kept with the row so a pull sends it as it is (see
/// [`crate::storage::PulledRow`]). Built here, so both backends store the same bytes.
pub fn row_document(
    base: Option<&BTreeMap<String, FieldState>>,
    written: &BTreeMap<String, FieldState>,
) -> Result<String, crate::storage::StorageError> {
    let mut doc: BTreeMap<&str, &FieldState> = base.into_iter().flatten().map(|(k, v)| (k.as_str(), v)).collect();
    doc.extend(written.iter().map(|(k, v)| (k.as_str(), v)));
    serde_json::to_string(&doc)
        .map_err(|e| crate::storage::StorageError::Backend(format!("cannot store a row's fields: {e}")))
}

/// `public_since` of a row that now has `scope` at sequence `seq`: kept while the row stays
/// public, `seq` when it becomes (or is created) public, none otherwise.
pub fn public_since_after(previous: Option<(&str, Option<u64>)>, scope: &str, seq: u64) -> Option<u64> {
    if scope != scope::PUBLIC {
        return None;
    }
    match previous {
        Some((old, since)) if old == scope::PUBLIC => since.or(Some(seq)),
        _ => Some(seq),
    }
}

/// Whether moving a row from `old` to `new` scope takes it away from users who read `public`.
pub fn leaves_public(old: &str, new: &str) -> bool {
    old == scope::PUBLIC && new != scope::PUBLIC
}

/// The `since_seq` of a revocation for rows leaving `public`: the earliest point from which any
/// of them could have reached a device (rows with no recorded point count from the start).
pub fn revocation_since(public_since: &[Option<u64>]) -> u64 {
    public_since.iter().map(|since| since.unwrap_or(1)).min().unwrap_or(1)
}

/// A scope taken from users (see [`crate::permissions::revocation_applies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Taken from this user only (`None`: from everyone it concerns).
    pub user: Option<Uuid>,
    /// What devices are told to delete: every row they hold in this scope, and the row it is
    /// named after with its subtree.
    pub scope: String,
    /// Only users who may read this scope now are concerned (`None`: every user).
    pub readers_of: Option<String>,
    /// Users who may read this scope keep the rows (`None`: the scope itself).
    pub unless: Option<String>,
    /// Devices whose cursor is before this point never held the rows.
    pub since_seq: u64,
}

/// What to revoke when a tree rooted at `row` of `kind` moves from scope `old` to `new`: nothing
/// when everyone who read `old` reads `new` (it became public, or did not move); from everyone
/// who cannot read `new` when it left `public`; else from the readers of `old` who cannot read
/// `new` (a case moved to another queue), named after the row so that nothing else they hold
/// in `old` goes.
pub fn revocation_for_move(kind: EntityKind, row: Uuid, old: &str, new: &str, since_seq: u64) -> Option<Revocation> {
    if old == new || new == scope::PUBLIC {
        return None;
    }
    let named = scope::of(kind, row);
    let unless = (named != new).then(|| new.to_owned());
    let readers_of = (old != scope::PUBLIC).then(|| old.to_owned());
    Some(Revocation { user: None, scope: named, readers_of, unless, since_seq })
}

/// The fields of a `conflict` row recording `draft` about row `row_id` of `entity`, whose tree's
/// root (its *owner*) is `owner`. Stored sides without a user get the name of their device's user
/// from `names` ([`UNKNOWN_DEVICE_USER`] when the device is unknown). Every field is stamped with
/// `hlc` and [`SERVER_DEVICE`].
pub fn conflict_fields(
    draft: &ConflictDraft,
    entity: EntityKind,
    row_id: Uuid,
    owner: (EntityKind, Uuid),
    names: &BTreeMap<Uuid, String>,
    detected_at: DateTime<Utc>,
    hlc: Hlc,
) -> BTreeMap<String, FieldState> {
    let side = |side: &Side| {
        let user = side
            .user
            .clone()
            .or_else(|| names.get(&side.device).cloned())
            .unwrap_or_else(|| UNKNOWN_DEVICE_USER.to_owned());
        let side = ConflictSide { value: side.value.clone(), hlc: side.hlc, device: side.device, user };
        serde_json::to_value(side).unwrap_or(Value::Null)
    };
    let (owner_kind, owner_id) = owner;
    let mut values = vec![
        ("owner_entity", Value::String(owner_kind.as_str().to_owned())),
        ("owner_id", Value::String(owner_id.to_string())),
        ("entity", Value::String(entity.as_str().to_owned())),
        ("row_id", Value::String(row_id.to_string())),
        ("field", draft.field.clone().map_or(Value::Null, Value::String)),
        ("kind", Value::String(draft.kind.to_owned())),
        ("kept", side(&draft.kept)),
        ("lost", side(&draft.lost)),
        ("detected_at", Value::String(detected_at.to_rfc3339_opts(SecondsFormat::Millis, true))),
    ];
    if owner_kind == EntityKind::Contact {
        // Clients of protocol 1 find a conflict's contact here.
        values.push(("contact_id", Value::String(owner_id.to_string())));
    }
    values
        .into_iter()
        .map(|(name, value)| (name.to_owned(), FieldState { value, hlc, device: SERVER_DEVICE }))
        .collect()
}

/// The devices whose users' names a conflict needs (the sides without a user).
pub fn devices_to_name(drafts: &[ConflictDraft]) -> Vec<Uuid> {
    let mut devices: Vec<Uuid> = drafts
        .iter()
        .flat_map(|d| [&d.kept, &d.lost])
        .filter(|side| side.user.is_none())
        .map(|side| side.device)
        .collect();
    devices.sort();
    devices.dedup();
    devices
}

/// The lowest protocol version that may receive a row of `kind` (for a conflict: one that also
/// knows the kind of its owner).
pub fn row_protocol(kind: EntityKind, owner: Option<EntityKind>) -> u32 {
    kind.def().since.max(owner.map_or(0, |o| o.def().since))
}

/// The entities whose rows belonged to a contact in protocol 1, with the field that named it.
/// Frozen: the migration that filled in `parent_id` for rows stored before scopes reads it.
pub const PROTOCOL_1_CONTACT_CHILDREN: [(EntityKind, &str); 4] = [
    (EntityKind::ContactEmail, "contact_id"),
    (EntityKind::ContactPhone, "contact_id"),
    (EntityKind::ContactIdentifier, "contact_id"),
    (EntityKind::Conflict, "contact_id"),
];

/// The result of an accepted change.
pub fn accepted(change_id: Uuid, seq: Option<u64>) -> ChangeResult {
    ChangeResult { change_id, outcome: Outcome::Accepted, seq, error: None }
}

/// The result of a rejected change.
pub fn rejected(change_id: Uuid, error: ErrorBody) -> ChangeResult {
    ChangeResult { change_id, outcome: Outcome::Rejected, seq: None, error: Some(error) }
}

/// Milliseconds since the Unix epoch, 0 for times before it.
pub fn unix_millis(at: chrono::DateTime<chrono::Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use liaison_protocol::schema::EntityKind;
    use liaison_protocol::wire::{FieldWrite, Role};
    use serde_json::{Value, json};

    const NOW: u64 = 1_700_000_000_000;
    const DEV_A: Uuid = Uuid::from_u128(0xA);
    const DEV_B: Uuid = Uuid::from_u128(0xB);

    fn user() -> User {
        User { id: Uuid::from_u128(1), name: "ana".into(), role: Role::Volunteer, created_at: Utc::now() }
    }

    fn volunteer() -> Access {
        Access::new(Role::Volunteer, [])
    }

    fn plan_as(existing: Option<&StoredRow>, c: &Change, device: Uuid, clock: &mut Clock) -> Result<Plan, ErrorBody> {
        let (user, access) = (user(), volunteer());
        plan_change(&Author { user: &user, access: &access, device }, existing, None, c, NOW, clock)
    }

    fn change(fields: &[(&str, Value, Hlc)]) -> Change {
        Change {
            change_id: Uuid::now_v7(),
            entity: EntityKind::Contact,
            row_id: Uuid::from_u128(77),
            base_seq: 0,
            fields: fields
                .iter()
                .map(|(n, v, h)| ((*n).to_owned(), FieldWrite { value: v.clone(), hlc: *h }))
                .collect(),
            deleted: None,
        }
    }

    fn row(fields: &[(&str, &str, Hlc, Uuid)]) -> StoredRow {
        StoredRow::public(
            3,
            fields
                .iter()
                .map(|(n, v, h, d)| ((*n).to_owned(), FieldState { value: json!(v), hlc: *h, device: *d }))
                .collect(),
        )
    }

    fn plan(existing: Option<&StoredRow>, c: &Change, device: Uuid) -> Result<Plan, ErrorBody> {
        plan_as(existing, c, device, &mut Clock::default())
    }

    fn written(p: &Plan) -> Vec<&str> {
        match &p.effect {
            Effect::Write(f) => f.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn merge_rule_cases() {
        let stored = row(&[("display_name", "Old", Hlc::new(NOW, 5), DEV_A)]);
        // (incoming hlc, incoming device, applied?, why)
        let cases = [
            (Hlc::new(NOW, 4), DEV_B, false, "an older clock loses even from another device"),
            (Hlc::new(NOW, 6), DEV_A, true, "a newer clock wins"),
            (Hlc::new(NOW, 5), DEV_A, false, "the same stamp is the same write: applying it again changes nothing"),
            (Hlc::new(NOW, 5), DEV_B, true, "equal clocks are broken by the device id"),
        ];
        for (hlc, device, applied, why) in cases {
            let p = plan(Some(&stored), &change(&[("display_name", json!("New"), hlc)]), device).expect("valid");
            assert_eq!(p.effect.modifies(), applied, "{why}");
        }
    }

    #[test]
    fn the_stamp_device_is_always_the_authenticated_device() {
        let p = plan(None, &change(&[("display_name", json!("Ada"), Hlc::new(NOW, 0))]), DEV_B).expect("valid");
        let Effect::Write(fields) = p.effect else { panic!("a create writes") };
        assert_eq!(fields["display_name"].device, DEV_B, "the server stamps with the device that pushed");
    }

    #[test]
    fn only_fields_that_win_are_written() {
        let stored = row(&[("display_name", "A", Hlc::new(NOW, 9), DEV_A), ("notes", "n", Hlc::new(NOW, 1), DEV_A)]);
        let c = change(&[("display_name", json!("B"), Hlc::new(NOW, 2)), ("notes", json!("m"), Hlc::new(NOW, 2))]);
        let p = plan(Some(&stored), &c, DEV_B).expect("valid");
        assert_eq!(written(&p), vec!["notes"], "per-field LWW: the losing field must not be written");
    }

    #[test]
    fn a_new_row_needs_its_required_fields_unless_deleted() {
        let err = plan(None, &change(&[("notes", json!("x"), Hlc::new(NOW, 0))]), DEV_A).expect_err("missing name");
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains("display_name"), "the message names the missing field: {}", err.message);

        let mut delete = change(&[]);
        delete.deleted = Some(Hlc::new(NOW, 0));
        let p = plan(None, &delete, DEV_A).expect("a delete of an unknown row is fine");
        assert!(
            matches!(p.effect, Effect::Tombstone { .. }),
            "it leaves a tombstone so a later create cannot revive it"
        );

        let existing = row(&[("display_name", "A", Hlc::new(NOW, 0), DEV_A)]);
        assert!(
            plan(Some(&existing), &change(&[("notes", json!("x"), Hlc::new(NOW, 1))]), DEV_A).is_ok(),
            "updating an existing row needs only the changed fields"
        );
    }

    #[test]
    fn unknown_and_invalid_fields_are_rejected_with_a_reason() {
        let cases = [
            (change(&[("display_name", json!("A"), Hlc::ZERO), ("nickname", json!("x"), Hlc::ZERO)]), "nickname"),
            (change(&[("display_name", json!("   "), Hlc::ZERO)]), "must not be empty"),
            (change(&[("display_name", json!(42), Hlc::ZERO)]), "must be text"),
            (change(&[("display_name", json!("A"), Hlc::ZERO), ("tags", json!([1]), Hlc::ZERO)]), "list of strings"),
        ];
        for (c, expected) in cases {
            let err = plan(None, &c, DEV_A).expect_err("invalid");
            assert_eq!(err.code, ErrorCode::InvalidInput);
            assert!(err.message.contains(expected), "{:?} should mention {expected}", err.message);
        }
    }

    #[test]
    fn a_tombstoned_row_is_never_revived() {
        let mut tomb = row(&[]);
        tomb.deleted = true;
        let mut edit = change(&[("display_name", json!("Back"), Hlc::new(NOW + 1, 0))]);
        edit.base_seq = 3;
        let p = plan(Some(&tomb), &edit, DEV_A).expect("accepted");
        assert_eq!(p.effect, Effect::Unchanged, "delete wins over later edits");
        assert!(p.conflicts.is_empty(), "an author who saw the delete gets no conflict");
    }

    #[test]
    fn clocks_far_ahead_are_clamped_in_order() {
        let mut clock = Clock::default();
        let far = Hlc::new(NOW + 365 * 24 * 3_600_000, 0);
        let c = change(&[("display_name", json!("A"), far), ("notes", json!("n"), Hlc::new(NOW + 1_000, 0))]);
        let p = plan_as(None, &c, DEV_A, &mut clock).expect("valid");
        assert_eq!(p.clamps.len(), 1, "only the field beyond the skew is clamped");
        let first = p.clamps[0].clamped;
        assert_eq!(first.millis, NOW + MAX_CLOCK_SKEW_MILLIS, "clamped to now + the allowed skew");
        let Effect::Write(fields) = &p.effect else { panic!("a create writes") };
        assert_eq!(fields["notes"].hlc, Hlc::new(NOW + 1_000, 0), "a clock within the skew is kept");

        let again = plan_as(None, &c, DEV_A, &mut clock).expect("valid");
        assert!(again.clamps[0].clamped > first, "a later clamped write must still beat an earlier one");
    }

    #[test]
    fn erasure_covers_the_row_and_the_contact_it_points_at() {
        let contact = Uuid::from_u128(5);
        let mut email = change(&[("contact_id", json!(contact.to_string().to_uppercase()), Hlc::ZERO)]);
        email.entity = EntityKind::ContactEmail;
        assert_eq!(erasure_ids(&email), vec![email.row_id, contact], "any UUID spelling of the parent counts");
        assert_eq!(erasure_ids(&change(&[])), vec![Uuid::from_u128(77)], "a contact has no parent");
        let err = refuse_erased(true).expect_err("refused");
        assert_eq!(err.code, ErrorCode::Erased);
        assert!(refuse_erased(false).is_ok());
        let mut note = Change { entity: EntityKind::CaseMessage, ..change(&[]) };
        note.fields
            .insert("case_id".into(), FieldWrite { value: json!(Uuid::from_u128(8).to_string()), hlc: Hlc::ZERO });
        note.fields.insert(
            "author_contact_id".into(),
            FieldWrite { value: json!(contact.simple().to_string()), hlc: Hlc::ZERO },
        );
        note.fields.insert("body".into(), FieldWrite { value: json!(contact.to_string()), hlc: Hlc::ZERO });
        assert_eq!(
            erasure_ids(&note),
            vec![note.row_id, contact, Uuid::from_u128(8)],
            "every reference counts (in field order), text does not"
        );
        assert_eq!(parent_id_from_stored(&format!("{:?}", contact.to_string())), Some(contact));
    }

    fn stored_field(value: &str, hlc: Hlc, device: Uuid) -> FieldState {
        FieldState { value: json!(value), hlc, device }
    }

    /// A contact whose `display_name` DEV_A wrote at seq 10, `notes` DEV_B wrote at seq 4; the row is at seq 10.
    fn edited_row() -> StoredRow {
        let mut r = StoredRow::public(
            10,
            BTreeMap::from([
                ("display_name".to_owned(), stored_field("Old", Hlc::new(NOW, 5), DEV_A)),
                ("notes".to_owned(), stored_field("n", Hlc::new(NOW, 1), DEV_B)),
            ]),
        );
        r.field_seqs = BTreeMap::from([("display_name".to_owned(), 10), ("notes".to_owned(), 4)]);
        r
    }

    #[test]
    fn field_conflicts_are_recorded_exactly_for_concurrent_differing_edits() {
        const DEV_C: Uuid = Uuid::from_u128(0xC);
        let stored = edited_row();
        // (value, hlc, device, base_seq, conflict kept value (None: no conflict), why)
        let cases = [
            (
                "New",
                Hlc::new(NOW, 6),
                DEV_C,
                5,
                Some("New"),
                "another device wrote after base_seq: recorded, the winner is kept",
            ),
            ("New", Hlc::new(NOW, 4), DEV_C, 5, Some("Old"), "recorded even when the incoming side loses the merge"),
            (
                "New",
                Hlc::new(NOW, 6),
                DEV_C,
                0,
                Some("New"),
                "an author who never saw the row conflicts with what is there",
            ),
            ("Old", Hlc::new(NOW, 6), DEV_C, 5, None, "the same value is no conflict"),
            ("New", Hlc::new(NOW, 6), DEV_A, 5, None, "a device never conflicts with itself"),
            ("New", Hlc::new(NOW, 6), DEV_C, 10, None, "base_seq equal to the field's seq: the author saw that write"),
            ("New", Hlc::new(NOW, 6), DEV_C, 11, None, "base_seq after the field's seq"),
        ];
        for (value, hlc, device, base_seq, kept, why) in cases {
            let mut c = change(&[("display_name", json!(value), hlc)]);
            c.base_seq = base_seq;
            let p = plan(Some(&stored), &c, device).expect("valid");
            let lww = Stamp::new(hlc, device).wins_over(&Stamp::new(Hlc::new(NOW, 5), DEV_A));
            assert_eq!(p.effect.modifies(), lww, "{why}: LWW applies exactly as without conflicts");
            match kept {
                None => assert!(p.conflicts.is_empty(), "{why}: {:?}", p.conflicts),
                Some(kept) => {
                    assert_eq!(p.conflicts.len(), 1, "{why}");
                    let conflict = &p.conflicts[0];
                    assert_eq!((conflict.kind, conflict.field.as_deref()), (CONFLICT_KIND_FIELD, Some("display_name")));
                    assert_eq!(conflict.kept.value, json!(kept), "{why}");
                    let (mine, theirs) =
                        if kept == value { (&conflict.kept, &conflict.lost) } else { (&conflict.lost, &conflict.kept) };
                    assert_eq!(
                        (mine.device, mine.hlc, mine.user.as_deref()),
                        (device, hlc, Some("ana")),
                        "the author's side names the author"
                    );
                    assert_eq!(
                        (&theirs.value, theirs.device, theirs.hlc, theirs.user.as_deref()),
                        (&json!("Old"), DEV_A, Hlc::new(NOW, 5), None),
                        "the stored side is looked up by device"
                    );
                }
            }
        }
    }

    #[test]
    fn field_conflicts_use_the_field_seq_not_the_row_seq() {
        let stored = edited_row();
        let mut c = change(&[("notes", json!("mine"), Hlc::new(NOW, 9))]);
        c.base_seq = 5;
        let p = plan(Some(&stored), &c, DEV_A).expect("valid");
        assert!(
            p.conflicts.is_empty(),
            "notes was written at seq 4, before the author's base 5, though the row moved on"
        );
        c.base_seq = 3;
        assert_eq!(plan(Some(&stored), &c, DEV_A).expect("valid").conflicts.len(), 1, "a base before seq 4 conflicts");
    }

    fn tombstone(deleted_seq: u64) -> StoredRow {
        let mut r = StoredRow::public(deleted_seq + 2, BTreeMap::new());
        r.deleted = true;
        r.deleted_seq = Some(deleted_seq);
        r.deleted_by = Some(Stamp::new(Hlc::new(NOW, 7), DEV_A));
        r
    }

    #[test]
    fn an_update_meeting_a_delete_it_did_not_see_goes_to_the_inbox() {
        // (base_seq, conflict?, why)
        let cases = [
            (5, true, "the delete (seq 8) came after the version the author saw"),
            (0, true, "an author who never saw the row"),
            (8, false, "the author saw the delete"),
            (9, false, "the author saw a later version of the tombstone"),
        ];
        for (base_seq, conflict, why) in cases {
            let mut c = change(&[
                ("notes", json!("offline"), Hlc::new(NOW, 9)),
                ("organization", json!("WMF"), Hlc::new(NOW, 3)),
            ]);
            c.base_seq = base_seq;
            let p = plan(Some(&tombstone(8)), &c, DEV_B).expect("accepted");
            assert_eq!(p.effect, Effect::Unchanged, "{why}: the delete always wins");
            assert_eq!(p.conflicts.len(), usize::from(conflict), "{why}");
            if let Some(d) = p.conflicts.first() {
                assert_eq!((d.kind, d.field.as_deref()), (CONFLICT_KIND_DELETE, None));
                assert_eq!(
                    (&d.kept.value, d.kept.hlc, d.kept.device, &d.kept.user),
                    (&Value::Null, Hlc::new(NOW, 7), DEV_A, &None),
                    "kept is the delete"
                );
                assert_eq!(
                    d.lost.value,
                    json!({"notes": "offline", "organization": "WMF"}),
                    "the update's fields are kept"
                );
                assert_eq!((d.lost.hlc, d.lost.device, d.lost.user.as_deref()), (Hlc::new(NOW, 9), DEV_B, Some("ana")));
            }
        }
        let mut again = change(&[]);
        again.deleted = Some(Hlc::new(NOW, 9));
        assert!(
            plan(Some(&tombstone(8)), &again, DEV_B).expect("ok").conflicts.is_empty(),
            "deleting a tombstone is no conflict"
        );
    }

    #[test]
    fn a_new_email_for_a_deleted_contact_is_set_aside_not_orphaned() {
        let contact = Uuid::from_u128(5);
        let parent = tombstone(8);
        let stand_in = StoredRow::for_child_of(&parent, contact).expect("the parent is deleted");
        let mut email = change(
            &[("contact_id", json!(contact.to_string())), ("address", json!("a@example.org"))]
                .map(|(n, v)| (n, v, Hlc::new(NOW, 1))),
        );
        email.entity = EntityKind::ContactEmail;
        let p = plan(Some(&stand_in), &email, DEV_B).expect("accepted");
        assert_eq!(p.effect, Effect::Unchanged, "the contact's delete wins: no orphaned email");
        assert_eq!(p.conflicts.len(), 1, "the email goes to the inbox");
        assert!(StoredRow::for_child_of(&edited_row(), contact).is_none(), "a live parent changes nothing");
    }

    #[test]
    fn an_edit_of_a_row_whose_tombstone_was_pruned_never_recreates_it() {
        // Only the notes: were this a create, it would be refused for lacking a name; a full
        // set of fields would re-create the person the delete removed.
        for fields in [
            vec![("notes", json!("offline"), Hlc::new(NOW, 9))],
            vec![("display_name", json!("Back"), Hlc::new(NOW, 9))],
        ] {
            let mut c = change(&fields);
            c.base_seq = 12;
            let p = plan(None, &c, DEV_B).expect("accepted, so the device stops resending it");
            assert_eq!(p.effect, Effect::Unchanged, "the pruned delete still wins");
            assert_eq!(p.conflicts.len(), 1, "and the edit goes to the inbox");
            assert_eq!(p.conflicts[0].kind, CONFLICT_KIND_DELETE);
        }
        let fresh = change(&[("display_name", json!("New"), Hlc::new(NOW, 9))]);
        assert!(
            plan(None, &fresh, DEV_B).expect("create").effect.modifies(),
            "a new row (base_seq 0) is created as before"
        );
    }

    #[test]
    fn a_delete_meeting_updates_it_did_not_see_applies_and_keeps_them() {
        let stored = edited_row();
        // (deleting device, base_seq, lost fields (None: no conflict), why)
        let cases: [(Uuid, u64, Option<Value>, &str); 5] = [
            (DEV_B, 5, Some(json!({"display_name": "Old"})), "A renamed the contact at seq 10, after B's base"),
            (DEV_B, 0, Some(json!({"display_name": "Old"})), "B's own notes are never a conflict with B"),
            (
                Uuid::from_u128(0xC),
                3,
                Some(json!({"display_name": "Old", "notes": "n"})),
                "both fields are newer than base 3",
            ),
            (DEV_A, 5, None, "A's own write; B's notes (seq 4) were seen"),
            (DEV_B, 10, None, "the author saw every field"),
        ];
        for (device, base_seq, lost, why) in cases {
            let mut c = change(&[]);
            c.deleted = Some(Hlc::new(NOW, 20));
            c.base_seq = base_seq;
            let p = plan(Some(&stored), &c, device).expect("accepted");
            assert_eq!(p.effect, Effect::Tombstone { hlc: Hlc::new(NOW, 20) }, "{why}: the delete applies");
            match lost {
                None => assert!(p.conflicts.is_empty(), "{why}"),
                Some(lost) => {
                    let d = &p.conflicts[0];
                    assert_eq!(d.kind, CONFLICT_KIND_DELETE);
                    assert_eq!(
                        (&d.kept.value, d.kept.hlc, d.kept.device, d.kept.user.as_deref()),
                        (&Value::Null, Hlc::new(NOW, 20), device, Some("ana")),
                        "{why}"
                    );
                    assert_eq!(d.lost.value, lost, "{why}");
                    assert_eq!(
                        (d.lost.hlc, d.lost.device),
                        (Hlc::new(NOW, 5), DEV_A),
                        "{why}: the newest of the set-aside writes"
                    );
                }
            }
        }
    }

    #[test]
    fn a_far_future_delete_is_recorded_with_its_clamped_clock() {
        let mut c = change(&[]);
        c.deleted = Some(Hlc::new(NOW + 365 * 24 * 3_600_000, 0));
        let p = plan(Some(&edited_row()), &c, DEV_B).expect("accepted");
        let Effect::Tombstone { hlc } = p.effect else { panic!("a delete tombstones") };
        assert_eq!(p.conflicts[0].kept.hlc, hlc, "the conflict shows the clock the server used");
    }

    fn conflict_row() -> StoredRow {
        let mut r = StoredRow::public(
            12,
            BTreeMap::from([("kind".to_owned(), stored_field("field", Hlc::new(NOW, 0), SERVER_DEVICE))]),
        );
        r.fields.insert("resolution".into(), stored_field("kept_theirs", Hlc::new(NOW, 1), DEV_A));
        r.parent_id = Some(Uuid::from_u128(77));
        r
    }

    fn conflict_change(fields: &[(&str, Value)]) -> Change {
        Change {
            entity: EntityKind::Conflict,
            ..change(&fields.iter().map(|(n, v)| (*n, v.clone(), Hlc::new(NOW, 5))).collect::<Vec<_>>())
        }
    }

    #[test]
    fn clients_only_resolve_conflicts() {
        let mut delete = conflict_change(&[]);
        delete.deleted = Some(Hlc::new(NOW, 5));
        // (change, existing?, expected error (code, part of the message), why)
        let cases = [
            (
                conflict_change(&[("resolution", json!("kept_mine"))]),
                false,
                Some((ErrorCode::InvalidInput, "conflicts are recorded by the server")),
                "a client must not invent conflicts",
            ),
            (delete, true, Some((ErrorCode::InvalidInput, "cannot be deleted")), "a conflict is resolved, not deleted"),
            (
                conflict_change(&[("kept", json!({}))]),
                true,
                Some((ErrorCode::Forbidden, "may only write")),
                "the recorded sides are the server's",
            ),
            (
                conflict_change(&[("resolution", json!("kept_mine")), ("kind", json!("delete"))]),
                true,
                Some((ErrorCode::Forbidden, "conflict.kind")),
                "one server field spoils the change",
            ),
            (
                conflict_change(&[("resolution", json!("ignored"))]),
                true,
                Some((ErrorCode::InvalidInput, "kept_mine, kept_theirs, edited")),
                "resolutions are a closed list",
            ),
            (
                conflict_change(&[("resolution", Value::Null)]),
                true,
                Some((ErrorCode::InvalidInput, "must be one of")),
                "a resolution is never cleared",
            ),
            (
                conflict_change(&[("resolution", json!("edited")), ("resolved_at", json!("2025-06-15T10:00:00Z"))]),
                true,
                None,
                "resolving is allowed",
            ),
        ];
        for (c, existing, expected, why) in cases {
            let stored = conflict_row();
            let result = plan(existing.then_some(&stored), &c, DEV_B);
            match expected {
                None => assert!(result.is_ok(), "{why}: {result:?}"),
                Some((code, part)) => {
                    let error = result.expect_err(why);
                    assert_eq!(error.code, code, "{why}: {}", error.message);
                    assert!(error.message.contains(part), "{why}: {}", error.message);
                }
            }
        }
    }

    #[test]
    fn the_server_names_who_resolved_a_conflict() {
        let stored = conflict_row();
        for c in [
            conflict_change(&[("resolution", json!("kept_mine")), ("resolved_by", json!("mallory"))]),
            conflict_change(&[("resolution", json!("kept_mine"))]),
            conflict_change(&[("resolved_by", json!(42))]),
        ] {
            let p = plan(Some(&stored), &c, DEV_B).expect("accepted");
            let Effect::Write(fields) = &p.effect else { panic!("a resolution writes") };
            assert_eq!(fields["resolved_by"].value, json!("ana"), "the authenticated user, whatever was sent");
            assert!(p.conflicts.is_empty(), "conflict rows never conflict themselves");
        }
        let mut concurrent = conflict_change(&[("resolution", json!("edited"))]);
        concurrent.base_seq = 0;
        assert!(
            plan(Some(&stored), &concurrent, DEV_B).expect("ok").conflicts.is_empty(),
            "not even when two devices resolve at once"
        );
    }

    /// (change, existing, effect, parent scope, expected scope, why)
    type ScopeCase<'a> = (&'a Change, Option<&'a StoredRow>, Effect, Option<&'a str>, &'a str, &'a str);

    #[test]
    fn scopes_follow_the_restricted_flag_and_the_parent() {
        let id = Uuid::from_u128(77);
        let flag = |v: Value| {
            Effect::Write(BTreeMap::from([(
                "restricted".to_owned(),
                FieldState { value: v, hlc: Hlc::ZERO, device: DEV_A },
            )]))
        };
        let name_only =
            Effect::Write(BTreeMap::from([("display_name".to_owned(), stored_field("A", Hlc::ZERO, DEV_A))]));
        let mut restricted_row = row(&[]);
        restricted_row
            .fields
            .insert("restricted".into(), FieldState { value: json!(true), hlc: Hlc::ZERO, device: DEV_A });
        restricted_row.scope = scope::contact(id);
        let contact = change(&[]);
        let email = Change { entity: EntityKind::ContactEmail, ..change(&[]) };
        let restricted = scope::contact(id);
        let other = scope::contact(Uuid::from_u128(5));
        let cases: Vec<ScopeCase<'_>> = vec![
            (&contact, None, flag(json!(true)), None, &restricted, "restricted: its own scope"),
            (&contact, None, flag(json!(false)), None, scope::PUBLIC, "not restricted: public"),
            (&contact, None, flag(Value::Null), None, scope::PUBLIC, "null reads as false"),
            (&contact, None, name_only.clone(), None, scope::PUBLIC, "a new contact without the flag is public"),
            (
                &contact,
                Some(&restricted_row),
                name_only.clone(),
                None,
                &restricted,
                "an edit of other fields keeps the scope",
            ),
            (&contact, Some(&restricted_row), flag(json!(false)), None, scope::PUBLIC, "unrestricting makes it public"),
            (
                &contact,
                Some(&restricted_row),
                Effect::Tombstone { hlc: Hlc::ZERO },
                None,
                &restricted,
                "a tombstone keeps its scope",
            ),
            (&email, None, name_only.clone(), Some(&other), &other, "a child has its contact's scope"),
            (&email, None, name_only, None, scope::PUBLIC, "a child of a contact not on the server yet is public"),
        ];
        for (c, existing, effect, parent, expected, why) in cases {
            assert_eq!(scope_after(c, existing, &effect, parent), expected, "{why}");
        }
    }

    #[test]
    fn public_since_marks_when_rows_became_readable_by_everyone() {
        let restricted = scope::contact(Uuid::from_u128(1));
        // (previous (scope, public_since), new scope, seq, expected, why)
        let cases = [
            (None, scope::PUBLIC, 9, Some(9), "created public"),
            (None, restricted.as_str(), 9, None, "created restricted"),
            (Some((scope::PUBLIC, Some(3))), scope::PUBLIC, 9, Some(3), "an edit keeps the point it became public"),
            (Some((restricted.as_str(), None)), scope::PUBLIC, 9, Some(9), "unrestricted now"),
            (Some((scope::PUBLIC, Some(3))), restricted.as_str(), 9, None, "restricted: no longer public"),
        ];
        for (previous, scope, seq, expected, why) in cases {
            assert_eq!(public_since_after(previous, scope, seq), expected, "{why}");
        }
        assert!(leaves_public(scope::PUBLIC, &restricted) && !leaves_public(&restricted, scope::PUBLIC));
        assert_eq!(revocation_since(&[Some(7), Some(3), Some(12)]), 3, "the earliest any of the rows became public");
        assert_eq!(revocation_since(&[Some(7), None]), 1, "an unknown point counts from the start");
    }

    #[test]
    fn parents_come_from_the_winning_write_then_the_stored_row() {
        let (old, new) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let email = child_change(new);
        let mut stored = row(&[]);
        stored.parent_id = Some(old);
        let moved = Effect::Write(BTreeMap::from([(
            "contact_id".to_owned(),
            stored_field(&new.to_string(), Hlc::ZERO, DEV_A),
        )]));
        assert_eq!(parent_after(&email, Some(&stored), &moved), Some(new), "a winning parent write moves the row");
        assert_eq!(parent_after(&email, Some(&stored), &Effect::Unchanged), Some(old), "a losing one does not");
        assert_eq!(
            parent_after(&email, None, &Effect::Unchanged),
            Some(new),
            "a row not on the server: the named parent"
        );
        assert_eq!(parent_after(&change(&[]), None, &Effect::Unchanged), None, "a contact has no parent");
        assert_eq!(named_in_change(&email, "contact_id"), Some(new));
    }

    fn child_change(contact: Uuid) -> Change {
        Change {
            entity: EntityKind::ContactEmail,
            ..change(&[("contact_id", json!(contact.to_string().to_uppercase()), Hlc::ZERO)])
        }
    }

    #[test]
    fn a_conflict_row_names_both_sides_and_is_stamped_by_the_server() {
        const STRANGER: Uuid = Uuid::from_u128(0xEE);
        let draft = ConflictDraft {
            kind: CONFLICT_KIND_FIELD,
            field: Some("notes".into()),
            kept: Side { value: json!("mine"), hlc: Hlc::new(NOW, 2), device: DEV_B, user: Some("ana".into()) },
            lost: Side { value: json!("theirs"), hlc: Hlc::new(NOW, 1), device: DEV_A, user: None },
        };
        let names = BTreeMap::from([(DEV_A, "bob".to_owned())]);
        let at = chrono::TimeZone::timestamp_millis_opt(&Utc, 1_750_000_000_000).single().expect("time");
        let contact = Uuid::from_u128(77);
        let fields = conflict_fields(
            &draft,
            EntityKind::ContactEmail,
            Uuid::from_u128(9),
            (EntityKind::Contact, contact),
            &names,
            at,
            Hlc::new(NOW, 40),
        );
        let value = |n: &str| fields[n].value.clone();
        assert_eq!(value("contact_id"), json!(contact.to_string()), "protocol 1 clients find the contact");
        assert_eq!((value("owner_entity"), value("owner_id")), (json!("contact"), json!(contact.to_string())));
        let case = Uuid::from_u128(78);
        let about_case =
            conflict_fields(&draft, EntityKind::Case, case, (EntityKind::Case, case), &names, at, Hlc::ZERO);
        assert!(!about_case.contains_key("contact_id"), "a case is no contact");
        assert_eq!(about_case["owner_entity"].value, json!("case"));
        assert_eq!((value("entity"), value("row_id")), (json!("contact_email"), json!(Uuid::from_u128(9).to_string())));
        assert_eq!((value("field"), value("kind")), (json!("notes"), json!("field")));
        assert_eq!(value("kept"), json!({"value": "mine", "hlc": format!("{NOW}-2"), "device": DEV_B, "user": "ana"}));
        assert_eq!(value("lost")["user"], json!("bob"), "a stored side is named by its device's user");
        assert_eq!(value("detected_at"), json!("2025-06-15T15:06:40.000Z"), "RFC 3339");
        assert!(
            fields.values().all(|f| f.device == SERVER_DEVICE && f.hlc == Hlc::new(NOW, 40)),
            "stamped by the server"
        );
        for (name, field) in &fields {
            EntityKind::Conflict.def().validate(name, &field.value).unwrap_or_else(|e| panic!("{name}: {e}"));
        }

        let mut unknown = draft;
        unknown.lost.device = STRANGER;
        let fields = conflict_fields(
            &unknown,
            EntityKind::Contact,
            contact,
            (EntityKind::Contact, contact),
            &names,
            at,
            Hlc::ZERO,
        );
        assert_eq!(fields["lost"].value["user"], json!(UNKNOWN_DEVICE_USER));
        assert_eq!(devices_to_name(&[unknown]), vec![STRANGER], "only sides without a user are looked up");
    }
}
