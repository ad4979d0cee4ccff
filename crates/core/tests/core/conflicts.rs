//! The conflict inbox, revoked scopes and restricted contacts on a device. Rows arrive as the
//! server would send them (`apply_page`); the server's side is tested in the server crate and
//! end to end in `tests/e2e`.

use super::temp_store;
use liaison_core::ErrorCode;
use liaison_core::conflicts::{self, Choice, ConflictKind};
use liaison_core::contacts::{self, ContactInput, ContactPatch};
use liaison_core::store::sync_tables::{self as st, OutboxState};
use liaison_core::store::{Store, meta};
use liaison_core::sync;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{ConflictSide, FieldState, PullResponse, RowState};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

const OTHER_DEVICE: Uuid = Uuid::from_u128(0xB0B);
const SERVER: Uuid = Uuid::nil();

fn row(entity: EntityKind, id: Uuid, seq: u64, scope: &str, fields: &[(&str, Value)]) -> RowState {
    RowState {
        seq,
        entity,
        row_id: id,
        deleted: false,
        purged: false,
        scope: scope.into(),
        fields: fields
            .iter()
            .map(|(n, v)| {
                ((*n).to_string(), FieldState { value: v.clone(), hlc: Hlc::new(seq * 1000, 0), device: SERVER })
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

fn apply(store: &mut Store, rows: Vec<RowState>, revoked: &[&str]) {
    let next_cursor = rows.iter().map(|r| r.seq).max().unwrap_or(0);
    let page = PullResponse {
        rows,
        revoked_scopes: revoked.iter().map(|s| s.to_string()).collect(),
        next_cursor,
        has_more: false,
    };
    sync::apply_page(store, &page).expect("apply page");
}

fn side(value: Value, device: Uuid, user: &str, millis: u64) -> Value {
    serde_json::to_value(ConflictSide { value, hlc: Hlc::new(millis, 0), device, user: user.into() }).expect("side")
}

/// A contact edited here ("Mine Org") that lost to another device's value ("Their Org").
fn field_conflict(store: &mut Store, me: Uuid) -> (Uuid, Uuid) {
    let contact = Uuid::now_v7();
    let conflict = Uuid::now_v7();
    apply(
        store,
        vec![
            row(
                EntityKind::Contact,
                contact,
                1,
                "public",
                &[("display_name", json!("Ada")), ("organization", json!("Their Org"))],
            ),
            row(
                EntityKind::Conflict,
                conflict,
                2,
                "public",
                &[
                    ("contact_id", json!(contact.to_string())),
                    ("owner_entity", json!("contact")),
                    ("owner_id", json!(contact.to_string())),
                    ("entity", json!("contact")),
                    ("row_id", json!(contact.to_string())),
                    ("field", json!("organization")),
                    ("kind", json!("field")),
                    ("kept", side(json!("Their Org"), OTHER_DEVICE, "ben", 2000)),
                    ("lost", side(json!("Mine Org"), me, "ana", 1500)),
                    ("detected_at", json!("2026-11-24T10:00:00Z")),
                ],
            ),
        ],
        &[],
    );
    (contact, conflict)
}

#[test]
fn a_conflict_shows_my_side_as_mine_even_when_it_lost() {
    let (_d, mut store, _k) = temp_store();
    let me = meta::device_id(store.conn()).expect("device");
    let (contact, id) = field_conflict(&mut store, me);
    let list = conflicts::list(&store, false).expect("list");
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!((c.id, c.owner_entity, c.owner_id, c.kind), (id, EntityKind::Contact, contact, ConflictKind::Field));
    assert_eq!(c.owner_label.as_deref(), Some("Ada"), "the inbox names the person, not an id");
    assert_eq!(c.mine.value, json!("Mine Org"), "the side this device wrote is mine although the merge set it aside");
    assert_eq!(c.theirs.value, json!("Their Org"));
    assert!(!c.mine_was_kept && c.mine_is_own);
    assert_eq!(sync::status(&store).expect("status").conflicts, 1, "the status counts open conflicts");
}

#[test]
fn keeping_mine_is_an_ordinary_edit_that_syncs_and_closes_the_conflict() {
    let (_d, mut store, _k) = temp_store();
    let me = meta::device_id(store.conn()).expect("device");
    let (contact, id) = field_conflict(&mut store, me);
    let done = conflicts::resolve(&mut store, id, Choice::Mine).expect("resolve");
    assert_eq!(done.conflict.resolution.as_deref(), Some("kept_mine"));
    assert_eq!(
        contacts::get(&store, contact).expect("contact").organization.as_deref(),
        Some("Mine Org"),
        "my value is back on the record"
    );
    let queued = st::entries(store.conn(), &[OutboxState::Pending], 10).expect("outbox");
    let edit = queued
        .iter()
        .find(|e| e.change.entity == EntityKind::Contact)
        .expect("the chosen value is queued for the server");
    assert!(
        edit.change.fields.contains_key("organization") && edit.change.fields.len() == 1,
        "only the field in conflict changes"
    );
    let mark = queued.iter().find(|e| e.change.entity == EntityKind::Conflict).expect("the resolution is queued too");
    let written: Vec<&String> = mark.change.fields.keys().collect();
    assert_eq!(
        written,
        ["resolution", "resolved_at", "resolved_by"],
        "a device writes only the resolution fields of a conflict"
    );
    assert!(conflicts::list(&store, false).expect("list").is_empty(), "a resolved conflict leaves the inbox");
    assert_eq!(conflicts::list(&store, true).expect("all").len(), 1, "and stays visible in the history");
    let again = conflicts::resolve(&mut store, id, Choice::Theirs).expect_err("resolved once");
    assert_eq!(again.code, ErrorCode::InvalidInput);
}

#[test]
fn a_typed_value_resolves_a_conflict_and_is_validated() {
    let (_d, mut store, _k) = temp_store();
    let me = meta::device_id(store.conn()).expect("device");
    let (contact, id) = field_conflict(&mut store, me);
    let too_long = conflicts::value_from_text(EntityKind::Contact, "organization", &"x".repeat(301)).expect("text");
    assert_eq!(
        conflicts::resolve(&mut store, id, Choice::Value(too_long)).expect_err("too long").code,
        ErrorCode::InvalidInput
    );
    assert!(conflicts::list(&store, false).expect("list").len() == 1, "a refused resolution changes nothing");
    let value = conflicts::value_from_text(EntityKind::Contact, "organization", "Both Orgs").expect("text");
    conflicts::resolve(&mut store, id, Choice::Value(value)).expect("resolve");
    assert_eq!(contacts::get(&store, contact).expect("contact").organization.as_deref(), Some("Both Orgs"));
}

#[test]
fn keeping_a_change_that_met_a_delete_recreates_the_record_under_a_new_id() {
    let (_d, mut store, _k) = temp_store();
    let me = meta::device_id(store.conn()).expect("device");
    let gone = Uuid::now_v7();
    let conflict = Uuid::now_v7();
    let mut tomb = row(EntityKind::Contact, gone, 1, "public", &[]);
    tomb.deleted = true;
    let conflict_row = |seq: u64, lost: Value| {
        row(
            EntityKind::Conflict,
            conflict,
            seq,
            "public",
            &[
                ("contact_id", json!(gone.to_string())),
                ("owner_entity", json!("contact")),
                ("owner_id", json!(gone.to_string())),
                ("entity", json!("contact")),
                ("row_id", json!(gone.to_string())),
                ("kind", json!("delete")),
                ("kept", side(Value::Null, OTHER_DEVICE, "ben", 2000)),
                ("lost", side(lost, me, "ana", 1500)),
                ("detected_at", json!("2026-11-24T10:00:00Z")),
            ],
        )
    };
    apply(&mut store, vec![tomb, conflict_row(2, json!({"notes": "only notes"}))], &[]);
    let c = conflicts::get(&store, conflict).expect("get");
    assert_eq!(c.kind, ConflictKind::Delete);
    let err = conflicts::resolve(&mut store, conflict, Choice::Mine).expect_err("not enough to re-create");
    assert!(err.message.contains("display_name"), "the message says what is missing: {}", err.message);

    // A later version of the record (as if the server had re-sent it with the full change).
    apply(&mut store, vec![conflict_row(3, json!({"display_name": "Back Again", "notes": "kept"}))], &[]);
    let done = conflicts::resolve(&mut store, conflict, Choice::Mine).expect("restore");
    let new_id = done.restored_id.expect("a new record");
    assert_ne!(new_id, gone, "the deleted id stays deleted everywhere");
    assert_eq!(contacts::get(&store, new_id).expect("restored").display_name, "Back Again");
    assert!(
        contacts::search(&store, "Back", 0, 10).expect("search").items.iter().any(|s| s.id == new_id),
        "the restored contact is searchable"
    );
}

#[test]
fn a_revoked_scope_is_physically_deleted_with_everything_that_belongs_to_it() {
    let (_d, mut store, _k) = temp_store();
    let secret = Uuid::now_v7();
    let email = Uuid::now_v7();
    let open = Uuid::now_v7();
    let scope = format!("contact:{secret}");
    apply(
        &mut store,
        vec![
            row(
                EntityKind::Contact,
                secret,
                1,
                &scope,
                &[("display_name", json!("Whistle Blower")), ("restricted", json!(true))],
            ),
            row(
                EntityKind::ContactEmail,
                email,
                2,
                &scope,
                &[("contact_id", json!(secret.to_string())), ("address", json!("wb@example.org"))],
            ),
            row(EntityKind::Contact, open, 3, "public", &[("display_name", json!("Open Person"))]),
        ],
        &[],
    );
    assert!(contacts::get(&store, secret).expect("received").restricted);
    // An unsent local edit of the contact, and a new phone for it the server never saw.
    contacts::update(
        &mut store,
        secret,
        ContactPatch {
            notes: Some(Some("local note".into())),
            phones: Some(vec!["+1 555 0100".into()]),
            ..Default::default()
        },
    )
    .expect("edit");

    apply(&mut store, vec![], &[&scope]);
    assert_eq!(
        contacts::get(&store, secret).expect_err("gone").code,
        ErrorCode::NotFound,
        "the row is deleted, not hidden"
    );
    assert!(contacts::search(&store, "Whistle", 0, 10).expect("search").items.is_empty(), "nor found by search");
    assert_eq!(contacts::count(&store).expect("count"), 1, "nor counted; other contacts stay");
    let count = |table: &str| -> i64 {
        store.conn().query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
    };
    assert_eq!((count("contact_email"), count("contact_phone")), (0, 0), "child rows go with it, synced or not");
    let ledger = sync::ledger(&store, 50).expect("ledger");
    let touched: Vec<_> =
        ledger.iter().filter(|e| e.row_id == secret || e.entity == EntityKind::ContactPhone).collect();
    assert!(
        !touched.is_empty() && touched.iter().all(|e| e.state == OutboxState::Rejected && e.fields.is_empty()),
        "unsent changes are refused and emptied, never sent"
    );
    assert!(touched.iter().all(|e| e.error.as_ref().is_some_and(|err| err.code == ErrorCode::Forbidden)));

    // Access granted again: the server re-sends the rows with new sequence numbers.
    apply(
        &mut store,
        vec![row(
            EntityKind::Contact,
            secret,
            9,
            &scope,
            &[("display_name", json!("Whistle Blower")), ("restricted", json!(true))],
        )],
        &[],
    );
    assert_eq!(
        contacts::get(&store, secret).expect("back").display_name,
        "Whistle Blower",
        "a revoke forgets, it does not tombstone"
    );
}

#[test]
fn a_contact_restricted_after_it_arrived_is_deleted_by_the_revoke_of_its_scope() {
    let (_d, mut store, _k) = temp_store();
    let id = Uuid::now_v7();
    let email = Uuid::now_v7();
    apply(
        &mut store,
        vec![
            row(EntityKind::Contact, id, 1, "public", &[("display_name", json!("Later Sensitive"))]),
            row(
                EntityKind::ContactEmail,
                email,
                2,
                "public",
                &[("contact_id", json!(id.to_string())), ("address", json!("ls@example.org"))],
            ),
        ],
        &[],
    );
    // The rows are held under "public"; the revoke names the contact's own scope.
    apply(&mut store, vec![], &[&format!("contact:{id}")]);
    assert_eq!(contacts::get(&store, id).expect_err("gone").code, ErrorCode::NotFound);
    let emails: i64 = store.conn().query_row("SELECT count(*) FROM contact_email", [], |r| r.get(0)).expect("count");
    assert_eq!(emails, 0, "its email goes with it");
}

#[test]
fn only_staff_may_restrict_a_contact() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(
        &mut store,
        ContactInput { display_name: "Press Contact".into(), restricted: true, ..Default::default() },
    )
    .expect("no role known: allowed locally");
    assert!(contacts::get(&store, c.id).expect("get").restricted);
    meta::set(store.conn(), "server_role", "volunteer").expect("role");
    let err = contacts::update(&mut store, c.id, ContactPatch { restricted: Some(false), ..Default::default() })
        .expect_err("volunteer");
    assert_eq!(err.code, ErrorCode::Forbidden);
    contacts::update(
        &mut store,
        c.id,
        ContactPatch { restricted: Some(true), notes: Some(Some("n".into())), ..Default::default() },
    )
    .expect("an unchanged restriction is no change of it");
    let err =
        contacts::create(&mut store, ContactInput { display_name: "X".into(), restricted: true, ..Default::default() })
            .expect_err("volunteer");
    assert_eq!(err.code, ErrorCode::Forbidden);
    contacts::create(&mut store, ContactInput { display_name: "Y".into(), ..Default::default() })
        .expect("an ordinary contact is fine");
}
