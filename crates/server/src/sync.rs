//! What a push does to a row, as pure functions: no I/O, so every backend applies exactly the same
//! rules and the rules are tested with plain tables of cases.
//!
//! For each change of a batch, in order, a backend loads the row, calls [`plan_change`] and writes
//! the [`Effect`] it returns:
//!
//! 0. **Erasure wins** (checked first, by [`refuse_erased`] on the ids of [`erasure_ids`]): a change
//!    to an erased (purged) id, or one that points a row at an erased contact, is rejected with
//!    [`ErrorCode::Erased`]; the rest of the batch still applies.
//! 1. **Validate** (never against clocks): every field must exist in the entity's schema and pass
//!    [`EntityDef::validate`]; a change that creates a row must carry every required field unless
//!    it is a delete. A bad change is rejected on its own; the others in the batch still apply.
//! 2. **Permission**: [`crate::permissions::may_write`].
//! 3. **Tombstones win**: a change to a deleted row is accepted (so the client stops resending it)
//!    but not applied, so an offline edit never revives a deleted row.
//! 4. **Clamp** clocks more than [`MAX_CLOCK_SKEW_MILLIS`] ahead of the server's clock: a laptop
//!    whose clock is a year ahead must not win every contest for a year.
//! 5. **Merge** each field by [`Stamp::wins_over`], with the *authenticated* device as the
//!    stamp's device: the device is never taken from the request body.

use crate::permissions;
use crate::storage::User;
use liaison_protocol::error::{ErrorBody, ErrorCode};
use liaison_protocol::hlc::{Clock, Hlc, Stamp};
use liaison_protocol::schema::{EntityDef, EntityKind, FieldType};
use liaison_protocol::wire::{Change, ChangeResult, FieldState, Outcome};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How far ahead of the server's clock an incoming clock may be before it is clamped.
/// Offline laptops drift, so this is minutes, not milliseconds (see `sync.md`).
pub const MAX_CLOCK_SKEW_MILLIS: u64 = 10 * 60 * 1000;

/// A row as a backend stores it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredRow {
    /// The server sequence at which the row last changed.
    pub seq: u64,
    pub deleted: bool,
    pub fields: BTreeMap<String, FieldState>,
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

/// The outcome of [`plan_change`] for a change that is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub effect: Effect,
    pub clamps: Vec<Clamp>,
}

/// Decide what `change`, written by the authenticated `device` of `user`, does to `existing`.
///
/// `clamp_clock` is the server's clock for clamped stamps. Backends persist it with the batch so
/// that successive clamped writes keep their order (each clamped stamp is issued by
/// [`Clock::tick`], hence strictly greater than the one before), even across restarts.
pub fn plan_change(
    user: &User,
    existing: Option<&StoredRow>,
    change: &Change,
    device: Uuid,
    now_millis: u64,
    clamp_clock: &mut Clock,
) -> Result<Plan, ErrorBody> {
    validate(change, existing)?;
    if !permissions::may_write(user, change.entity, change.row_id, existing) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("You may not change this {}; ask an administrator for access.", change.entity.as_str()),
        ));
    }
    if existing.is_some_and(|row| row.deleted) {
        return Ok(Plan { effect: Effect::Unchanged, clamps: Vec::new() });
    }

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
        return Ok(Plan { effect: Effect::Tombstone { hlc }, clamps });
    }

    let mut winners = BTreeMap::new();
    for (name, write) in &change.fields {
        let stamp = Stamp::new(clamp(Some(name), write.hlc), device);
        let stored = existing.and_then(|row| row.fields.get(name)).map(FieldState::stamp);
        if stamp.wins_over_opt(stored.as_ref()) {
            winners.insert(name.clone(), FieldState { value: write.value.clone(), hlc: stamp.hlc, device });
        }
    }
    let effect = if winners.is_empty() { Effect::Unchanged } else { Effect::Write(winners) };
    Ok(Plan { effect, clamps })
}

/// Check a change against the schema, independent of clocks and permissions.
pub fn validate(change: &Change, existing: Option<&StoredRow>) -> Result<(), ErrorBody> {
    let def: &EntityDef = change.entity.def();
    let invalid = |message: String| ErrorBody::new(ErrorCode::InvalidInput, message);
    for (name, write) in &change.fields {
        if def.field(name).is_none() {
            // Echo at most a short prefix of a name we do not know: it came from the client.
            let shown: String = name.chars().take(64).collect();
            return Err(invalid(format!(
                "{} has no field named {shown:?}; update Liaison or drop the change",
                def.name
            )));
        }
        def.validate(name, &write.value).map_err(|why| invalid(format!("{}: {why}", def.name)))?;
    }
    if existing.is_none() && change.deleted.is_none() {
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
    }
    Ok(())
}

/// What an administrator is told, and a device shows, when a change touches erased data.
pub const ERASED_MESSAGE: &str = "This person's data was erased at their request; the change was refused.";

/// The ids a change must not touch if they were erased: its own row id, and the parent it points
/// at (e.g. `contact_id` of a `contact_email`), so an offline device cannot add data to an erased
/// person. A parent value that is not a UUID is left to [`validate`].
pub fn erasure_ids(change: &Change) -> Vec<Uuid> {
    let mut ids = vec![change.row_id];
    if let Some(parent) = change.entity.def().parent_field
        && let Some(write) = change.fields.get(parent)
        && let Some(id) = write.value.as_str().and_then(|s| Uuid::parse_str(s).ok())
        && id != change.row_id
    {
        ids.push(id);
    }
    ids
}

/// Refuse a change when any of its [`erasure_ids`] was erased (`touches_erased`). Checked before
/// anything else: erasure beats edits, always.
pub fn refuse_erased(touches_erased: bool) -> Result<(), ErrorBody> {
    if touches_erased { Err(ErrorBody::new(ErrorCode::Erased, ERASED_MESSAGE)) } else { Ok(()) }
}

/// The id a child row of `entity` points at through its parent field, from the stored JSON text of
/// that field (a JSON string holding a UUID in any form [`Uuid::parse_str`] accepts).
pub fn parent_id_from_stored(text: &str) -> Option<Uuid> {
    serde_json::from_str::<String>(text).ok().and_then(|s| Uuid::parse_str(&s).ok())
}

/// The entities whose rows belong to a contact, with the field that points at it.
pub fn contact_children() -> impl Iterator<Item = (EntityKind, &'static str)> {
    EntityKind::ALL.into_iter().filter_map(|kind| {
        let def = kind.def();
        let parent = def.parent_field?;
        matches!(def.field(parent)?.ty, FieldType::Ref(EntityKind::Contact)).then_some((kind, parent))
    })
}

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
        StoredRow {
            seq: 3,
            deleted: false,
            fields: fields
                .iter()
                .map(|(n, v, h, d)| ((*n).to_owned(), FieldState { value: json!(v), hlc: *h, device: *d }))
                .collect(),
        }
    }

    fn plan(existing: Option<&StoredRow>, c: &Change, device: Uuid) -> Result<Plan, ErrorBody> {
        plan_change(&user(), existing, c, device, NOW, &mut Clock::default())
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
        let p = plan(Some(&tomb), &change(&[("display_name", json!("Back"), Hlc::new(NOW + 1, 0))]), DEV_A)
            .expect("accepted");
        assert_eq!(p.effect, Effect::Unchanged, "delete wins over later edits");
    }

    #[test]
    fn clocks_far_ahead_are_clamped_in_order() {
        let mut clock = Clock::default();
        let far = Hlc::new(NOW + 365 * 24 * 3_600_000, 0);
        let c = change(&[("display_name", json!("A"), far), ("notes", json!("n"), Hlc::new(NOW + 1_000, 0))]);
        let p = plan_change(&user(), None, &c, DEV_A, NOW, &mut clock).expect("valid");
        assert_eq!(p.clamps.len(), 1, "only the field beyond the skew is clamped");
        let first = p.clamps[0].clamped;
        assert_eq!(first.millis, NOW + MAX_CLOCK_SKEW_MILLIS, "clamped to now + the allowed skew");
        let Effect::Write(fields) = &p.effect else { panic!("a create writes") };
        assert_eq!(fields["notes"].hlc, Hlc::new(NOW + 1_000, 0), "a clock within the skew is kept");

        let again = plan_change(&user(), None, &c, DEV_A, NOW, &mut clock).expect("valid");
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
        let children: Vec<EntityKind> = contact_children().map(|(k, _)| k).collect();
        assert_eq!(children, vec![EntityKind::ContactEmail, EntityKind::ContactPhone, EntityKind::ContactIdentifier]);
        assert_eq!(parent_id_from_stored(&format!("{:?}", contact.to_string())), Some(contact));
    }
}
