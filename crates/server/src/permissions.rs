//! Who may read and write which synced row: the one place that decides.
//!
//! Every row has a scope (see [`liaison_protocol::scope`]), computed by the server. The engine
//! loads the user's [`Access`] (role, granted scopes, and scopes granted by rows such as queue
//! memberships) once per pull or push, inside the same transaction as the rows, and asks the
//! functions here; pull and push ask the same questions, so a rule added here holds on both paths.
//!
//! | role | reads `public` | reads `contact:<id>`, `queue:<id>` | writes staff-only fields, staff-only entities |
//! |---|---|---|---|
//! | admin, staff | yes | always | yes |
//! | trainer, volunteer | yes | only with a grant of that scope (a queue membership is one) | no |
//!
//! Writing follows reading: a user may change a row (or add a row under another) only when they
//! may read it; on top of that, each entity's [`Writers`](liaison_protocol::schema::Writers) says
//! who may create, edit and delete its rows.

use crate::storage::User;
use liaison_protocol::error::{ErrorBody, ErrorCode};
use liaison_protocol::schema::Who;
use liaison_protocol::scope;
use liaison_protocol::wire::{Change, Role};
use std::collections::BTreeSet;

/// The answer to a change of a row the user may not read. It must not say whether the row exists.
pub const FORBIDDEN_RECORD: &str = "You may not change this record; ask a staff member for access.";

/// What one user may read: their role and the scopes granted to them (by an administrator, or by
/// a row such as a queue membership), loaded once per pull or push in the same transaction as
/// the rows it filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub role: Role,
    pub grants: BTreeSet<String>,
    /// The server itself (mail in, mail out): it reads everything and alone writes what no
    /// device may (deliveries, a case's number).
    server: bool,
}

impl Access {
    pub fn new(role: Role, grants: impl IntoIterator<Item = String>) -> Self {
        Self { role, grants: grants.into_iter().collect(), server: false }
    }

    /// The access of the server's own writes.
    pub fn server() -> Self {
        Self { role: Role::Admin, grants: BTreeSet::new(), server: true }
    }

    pub fn is_server(&self) -> bool {
        self.server
    }

    /// May this user read rows of `scope`?
    pub fn may_read(&self, scope: &str) -> bool {
        scope == scope::PUBLIC || reads_every_scope(self.role) || self.grants.contains(scope)
    }

    /// May this user do what `who` allows?
    pub fn is(&self, who: Who) -> bool {
        if self.server {
            return true;
        }
        match who {
            Who::Readers => true,
            Who::Staff => reads_every_scope(self.role),
            Who::Nobody => false,
        }
    }
}

/// Admins and staff read every scope without grants.
pub fn reads_every_scope(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Staff)
}

/// Whether changing a role from `old` to `new` takes away the scopes the role gave (admin or
/// staff lowered to trainer or volunteer).
pub fn role_change_loses_scopes(old: Role, new: Role) -> bool {
    reads_every_scope(old) && !reads_every_scope(new)
}

/// Whether changing a role from `old` to `new` gives every scope.
pub fn role_change_gains_scopes(old: Role, new: Role) -> bool {
    !reads_every_scope(old) && reads_every_scope(new)
}

/// May the change be written? `row_scope` is the scope of the row when the server holds it (a
/// tombstone included); `source_scope` the scope of the row it would take its scope from (its
/// parent, or the row its scope field refers to) when the change names one.
pub fn check_write(
    access: &Access,
    change: &Change,
    row_scope: Option<&str>,
    source_scope: Option<&str>,
) -> Result<(), ErrorBody> {
    if row_scope.into_iter().chain(source_scope).any(|s| !access.may_read(s)) {
        return Err(ErrorBody::new(ErrorCode::Forbidden, FORBIDDEN_RECORD));
    }
    let def = change.entity.def();
    let noun = def.name.replace('_', " ");
    let (who, verb) = match (change.deleted.is_some(), row_scope.is_some()) {
        (true, _) => (def.writers.delete, "delete"),
        (false, false) => (def.writers.create, "create"),
        (false, true) => (def.writers.edit, "change"),
    };
    if who == Who::Nobody && !access.is_server() {
        return Err(ErrorBody::new(ErrorCode::InvalidInput, format!("no device may {verb} a {noun}")));
    }
    if !access.is(who) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("Only staff and administrators may {verb} a {noun}."),
        ));
    }
    if let Some(field) = def.server_fields.iter().find(|f| change.fields.contains_key(**f))
        && !access.is_server()
    {
        return Err(ErrorBody::new(
            ErrorCode::InvalidInput,
            format!("The server sets {field} on a {noun}; no device may write it."),
        ));
    }
    if let Some(field) = def.staff_fields.iter().find(|f| change.fields.contains_key(**f))
        && !access.is(Who::Staff)
    {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("Only staff and administrators may set {field} on a {noun}."),
        ));
    }
    Ok(())
}

/// Does a revocation recorded for this user (or everyone) concern a device that pulls from
/// cursor `since`? Only when the device may hold rows of it (its cursor is at or past
/// `since_seq`, the point from which the rows could have reached it; a fresh device, `since` 0,
/// holds nothing), the user may read `readers_of` (when the revocation names one: a case moved
/// out of a queue concerns that queue's readers only), and the user may not read `unless` (the
/// scope the rows are in now; by default the revoked scope itself: a later grant or role wins).
pub fn revocation_applies(
    access: &Access,
    since: u64,
    since_seq: u64,
    scope: &str,
    readers_of: Option<&str>,
    unless: Option<&str>,
) -> bool {
    since > 0
        && since >= since_seq
        && readers_of.is_none_or(|s| access.may_read(s))
        && !access.may_read(unless.unwrap_or(scope))
}

/// May `user` erase a person's data (right to erasure)? Staff and administrators only.
pub fn may_erase(user: &User) -> bool {
    matches!(user.role, Role::Admin | Role::Staff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use liaison_protocol::hlc::Hlc;
    use liaison_protocol::schema::EntityKind;
    use liaison_protocol::wire::FieldWrite;
    use serde_json::json;
    use uuid::Uuid;

    fn restricted_scope() -> String {
        scope::contact(Uuid::from_u128(7))
    }

    fn access(role: Role, granted: bool) -> Access {
        let queue = scope::of(EntityKind::Queue, Uuid::from_u128(9));
        Access::new(role, if granted { vec![restricted_scope(), queue] } else { vec![] })
    }

    fn change(entity: EntityKind, fields: &[&str]) -> Change {
        Change {
            change_id: Uuid::from_u128(1),
            entity,
            row_id: Uuid::from_u128(2),
            base_seq: 0,
            fields: fields
                .iter()
                .map(|f| ((*f).to_owned(), FieldWrite { value: json!(true), hlc: Hlc::new(1, 0) }))
                .collect(),
            deleted: None,
        }
    }

    #[test]
    fn read_matrix() {
        let other = scope::contact(Uuid::from_u128(8));
        // (role, granted contact:7, scope, may read, why)
        let cases = [
            (Role::Admin, false, restricted_scope(), true, "admins read every scope"),
            (Role::Staff, false, restricted_scope(), true, "staff read every scope"),
            (Role::Trainer, false, restricted_scope(), false, "trainers need a grant"),
            (Role::Volunteer, false, restricted_scope(), false, "volunteers need a grant"),
            (Role::Volunteer, true, restricted_scope(), true, "a grant opens its scope"),
            (Role::Trainer, true, restricted_scope(), true, "a grant opens its scope for trainers too"),
            (Role::Volunteer, true, other.clone(), false, "a grant opens only its own scope"),
            (Role::Volunteer, false, scope::PUBLIC.to_owned(), true, "everyone reads public"),
            (Role::Trainer, false, scope::PUBLIC.to_owned(), true, "everyone reads public"),
        ];
        for (role, granted, scope, expected, why) in cases {
            assert_eq!(access(role, granted).may_read(&scope), expected, "{role} {scope}: {why}");
        }
    }

    /// (role, granted, entity, fields, row scope, parent scope, expected error message, why)
    type WriteCase<'a> =
        (Role, bool, EntityKind, Vec<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);

    #[test]
    fn write_matrix() {
        const RESTRICT: &str = "Only staff and administrators may set restricted on a contact.";
        let restricted = restricted_scope();
        let queue = scope::of(EntityKind::Queue, Uuid::from_u128(9));
        let public = scope::PUBLIC;
        let cases: Vec<WriteCase<'_>> = vec![
            (
                Role::Volunteer,
                false,
                EntityKind::Contact,
                vec!["notes"],
                Some(public),
                None,
                None,
                "public rows are writable by all",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::Contact,
                vec!["notes"],
                Some(&restricted),
                None,
                Some(FORBIDDEN_RECORD),
                "an unreadable row is not writable",
            ),
            (
                Role::Volunteer,
                true,
                EntityKind::Contact,
                vec!["notes"],
                Some(&restricted),
                None,
                None,
                "a grant lets the user edit",
            ),
            (
                Role::Staff,
                false,
                EntityKind::Contact,
                vec!["notes"],
                Some(&restricted),
                None,
                None,
                "staff edit restricted contacts",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::ContactEmail,
                vec!["address"],
                None,
                Some(&restricted),
                Some(FORBIDDEN_RECORD),
                "no new child for an unreadable contact",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::ContactEmail,
                vec!["address"],
                Some(public),
                Some(&restricted),
                Some(FORBIDDEN_RECORD),
                "no moving a row to an unreadable contact",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::ContactEmail,
                vec!["address"],
                None,
                Some(public),
                None,
                "a new child of a public contact is fine",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::Conflict,
                vec!["resolution"],
                Some(&restricted),
                None,
                Some(FORBIDDEN_RECORD),
                "no resolving an unreadable conflict",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::Contact,
                vec!["restricted"],
                None,
                None,
                Some(RESTRICT),
                "volunteers may not create restricted contacts",
            ),
            (
                Role::Trainer,
                false,
                EntityKind::Contact,
                vec!["restricted"],
                Some(public),
                None,
                Some(RESTRICT),
                "trainers may not restrict",
            ),
            (
                Role::Volunteer,
                true,
                EntityKind::Contact,
                vec!["restricted"],
                Some(&restricted),
                None,
                Some(RESTRICT),
                "a grant does not allow unrestricting",
            ),
            (Role::Staff, false, EntityKind::Contact, vec!["restricted"], Some(public), None, None, "staff restrict"),
            (
                Role::Admin,
                false,
                EntityKind::Contact,
                vec!["restricted"],
                None,
                None,
                None,
                "admins create restricted contacts",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::Contact,
                vec!["restricted"],
                Some(&restricted),
                None,
                Some(FORBIDDEN_RECORD),
                "an unreadable row says nothing more",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::Queue,
                vec!["name"],
                None,
                None,
                Some("Only staff and administrators may create a queue."),
                "volunteers create no queues",
            ),
            (Role::Staff, false, EntityKind::Queue, vec!["name"], None, None, None, "staff create queues"),
            (
                Role::Volunteer,
                true,
                EntityKind::Queue,
                vec!["name"],
                Some(&queue),
                None,
                Some("Only staff and administrators may change a queue."),
                "a member does not change the queue",
            ),
            (
                Role::Volunteer,
                true,
                EntityKind::QueueMember,
                vec!["role"],
                None,
                Some(&queue),
                Some("Only staff and administrators may create a queue member."),
                "members do not add members",
            ),
            (
                Role::Volunteer,
                true,
                EntityKind::Case,
                vec!["subject"],
                None,
                Some(&queue),
                None,
                "a member opens cases in the queue",
            ),
            (
                Role::Volunteer,
                false,
                EntityKind::Case,
                vec!["subject"],
                None,
                Some(&queue),
                Some(FORBIDDEN_RECORD),
                "a non-member opens none",
            ),
            (
                Role::Volunteer,
                true,
                EntityKind::CaseMessage,
                vec!["body"],
                None,
                Some(&queue),
                None,
                "a member writes notes",
            ),
        ];
        for (role, granted, entity, fields, row_scope, parent_scope, expected, why) in cases {
            let result = check_write(&access(role, granted), &change(entity, &fields), row_scope, parent_scope);
            match expected {
                None => assert!(result.is_ok(), "{role} {entity:?} {fields:?}: {why}: {result:?}"),
                Some(message) => {
                    let error = result.expect_err(why);
                    assert_eq!((error.code, error.message.as_str()), (ErrorCode::Forbidden, message), "{why}");
                }
            }
        }
        assert!(!FORBIDDEN_RECORD.contains("exist"), "the refusal must not say whether the record exists");
        let mut delete = change(EntityKind::Queue, &[]);
        delete.deleted = Some(Hlc::new(1, 0));
        let error =
            check_write(&access(Role::Admin, false), &delete, Some(scope::PUBLIC), None).expect_err("queues stay");
        assert_eq!(error.code, ErrorCode::InvalidInput, "not even an administrator deletes a queue from a device");
    }

    #[test]
    fn revocations_reach_only_devices_that_may_hold_the_rows() {
        let scope = restricted_scope();
        // (role, granted, since, since_seq, applies, why)
        let cases = [
            (Role::Volunteer, false, 10, 5, true, "the cursor is past the point the rows became readable"),
            (Role::Volunteer, false, 5, 5, true, "a cursor at that point may hold them"),
            (Role::Volunteer, false, 4, 5, false, "a cursor before it never held them"),
            (Role::Volunteer, false, 0, 0, false, "a fresh device holds nothing"),
            (Role::Volunteer, false, 3, 0, true, "since_seq 0 (a role change) reaches every device that pulled"),
            (Role::Volunteer, true, 10, 5, false, "a user granted the scope again keeps it"),
            (Role::Staff, false, 10, 5, false, "staff read it anyway"),
        ];
        for (role, granted, since, since_seq, applies, why) in cases {
            assert_eq!(
                revocation_applies(&access(role, granted), since, since_seq, &scope, None, None),
                applies,
                "{why}"
            );
        }
        // A case moved from queue 1 to queue 2: named after the case, for readers of queue 1 who
        // do not read queue 2.
        let (q1, q2) =
            (scope::of(EntityKind::Queue, Uuid::from_u128(1)), scope::of(EntityKind::Queue, Uuid::from_u128(2)));
        let case = scope::of(EntityKind::Case, Uuid::from_u128(3));
        let member = |queues: &[&String]| Access::new(Role::Volunteer, queues.iter().map(|q| (*q).clone()));
        let moved = |a: &Access| revocation_applies(a, 10, 1, &case, Some(&q1), Some(&q2));
        assert!(moved(&member(&[&q1])), "a member of the old queue only loses the case");
        assert!(!moved(&member(&[&q1, &q2])), "a member of both keeps it");
        assert!(!moved(&member(&[])), "someone who never read the old queue is not told of the case at all");
    }

    #[test]
    fn only_crossing_the_staff_line_changes_scopes() {
        // (old, new, loses, gains)
        let cases = [
            (Role::Admin, Role::Volunteer, true, false),
            (Role::Staff, Role::Trainer, true, false),
            (Role::Admin, Role::Staff, false, false),
            (Role::Trainer, Role::Volunteer, false, false),
            (Role::Volunteer, Role::Staff, false, true),
            (Role::Staff, Role::Staff, false, false),
        ];
        for (old, new, loses, gains) in cases {
            assert_eq!(role_change_loses_scopes(old, new), loses, "{old} -> {new}");
            assert_eq!(role_change_gains_scopes(old, new), gains, "{old} -> {new}");
        }
    }
}
