//! The write layer: only changed fields reach the outbox; remote rows merge by the clock rule;
//! pending local edits stay on top; deletes are not revived.

use super::temp_store;
use liaison_core::contacts::{self, ContactInput, ContactPatch};
use liaison_core::store::sync_tables::{self, OutboxState};
use liaison_core::store::write;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{FieldState, RowState};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

fn outbox(store: &liaison_core::store::Store) -> Vec<sync_tables::OutboxEntry> {
    sync_tables::entries(store.conn(), &[OutboxState::Pending], 1000).expect("outbox")
}

fn remote_contact(id: Uuid, seq: u64, fields: &[(&str, serde_json::Value, u64)], device: Uuid) -> RowState {
    RowState {
        seq,
        entity: EntityKind::Contact,
        row_id: id,
        deleted: false,
        purged: false,
        scope: "public".into(),
        fields: fields
            .iter()
            .map(|(n, v, ms)| (n.to_string(), FieldState { value: v.clone(), hlc: Hlc::new(*ms, 0), device }))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn an_edit_queues_only_the_fields_that_changed() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(
        &mut store,
        ContactInput { display_name: "Ada".into(), organization: Some("Org".into()), ..Default::default() },
    )
    .expect("create");
    let before = outbox(&store).len();
    contacts::update(
        &mut store,
        c.id,
        ContactPatch {
            organization: Some(Some("New Org".into())),
            display_name: Some("Ada".into()),
            ..Default::default()
        },
    )
    .expect("edit");
    let entries = outbox(&store);
    assert_eq!(entries.len(), before + 1, "one change for one edited row");
    let last = &entries.last().expect("entry").change;
    assert_eq!(last.fields.keys().collect::<Vec<_>>(), ["organization"], "an unchanged name is not sent again");
    contacts::update(
        &mut store,
        c.id,
        ContactPatch { organization: Some(Some("New Org".into())), ..Default::default() },
    )
    .expect("no-op");
    assert_eq!(outbox(&store).len(), before + 1, "a no-op edit queues nothing");
}

#[test]
fn remote_versions_apply_in_server_order_and_a_late_stale_delivery_changes_nothing() {
    let (_d, mut store, _k) = temp_store();
    let other = Uuid::now_v7();
    let id = Uuid::now_v7();
    let far_future = 4_000_000_000_000;
    store
        .transaction(|tx| {
            write::apply_remote(
                tx,
                &remote_contact(
                    id,
                    1,
                    &[("display_name", json!("First")), ("notes", json!("n1"))].map(|(n, v)| (n, v, 1_000)),
                    other,
                ),
            )
        })
        .expect("apply");
    assert_eq!(
        contacts::get(&store, id).expect("row").display_name,
        "First",
        "an unknown row is created from the server's version"
    );
    store
        .transaction(|tx| {
            write::apply_remote(tx, &remote_contact(id, 3, &[("display_name", json!("Newer"), far_future)], other))
        })
        .expect("apply");
    let c = contacts::get(&store, id).expect("row");
    assert_eq!(c.display_name, "Newer", "a later server version replaces the field");
    assert_eq!(c.notes.as_deref(), Some("n1"), "fields are merged one by one");
    store
        .transaction(|tx| {
            write::apply_remote(tx, &remote_contact(id, 2, &[("display_name", json!("Stale"), 2_000)], other))
        })
        .expect("apply");
    assert_eq!(
        contacts::get(&store, id).expect("row").display_name,
        "Newer",
        "a version older than one already applied changes nothing"
    );
    assert!(outbox(&store).is_empty(), "remote applies never write to the outbox");
    let next = liaison_core::store::meta::tick(store.conn()).expect("tick");
    assert!(next > Hlc::new(far_future, 0), "after seeing a remote stamp, local stamps sort after it");
}

#[test]
fn a_pending_local_edit_stays_on_top_of_an_older_server_version() {
    let (_d, mut store, _k) = temp_store();
    let other = Uuid::now_v7();
    let id = Uuid::now_v7();
    store
        .transaction(|tx| {
            write::apply_remote(tx, &remote_contact(id, 1, &[("display_name", json!("Server"), 1_000)], other))
        })
        .expect("apply");
    contacts::update(&mut store, id, ContactPatch { display_name: Some("Local edit".into()), ..Default::default() })
        .expect("edit");
    // The server sends its (older) version of the row again, e.g. because another field changed.
    store
        .transaction(|tx| {
            write::apply_remote(
                tx,
                &remote_contact(
                    id,
                    2,
                    &[("display_name", json!("Server"), 1_000), ("notes", json!("from B"), 2_000)],
                    other,
                ),
            )
        })
        .expect("apply");
    let c = contacts::get(&store, id).expect("row");
    assert_eq!(c.display_name, "Local edit", "the unsent local edit must not be overwritten");
    assert_eq!(c.notes.as_deref(), Some("from B"), "while the other field still arrives");
}

#[test]
fn a_locally_deleted_row_is_not_revived_by_a_remote_update() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(&mut store, ContactInput { display_name: "Gone".into(), ..Default::default() })
        .expect("create");
    contacts::delete(&mut store, c.id).expect("delete");
    store
        .transaction(|tx| {
            write::apply_remote(
                tx,
                &remote_contact(c.id, 5, &[("display_name", json!("Revived?"), 4_000_000_000_000)], Uuid::now_v7()),
            )
        })
        .expect("apply");
    assert!(contacts::get(&store, c.id).is_err(), "delete wins over a concurrent update");
    let deletes = outbox(&store).into_iter().filter(|e| e.change.deleted.is_some()).count();
    assert_eq!(deletes, 1, "the delete is queued for the server");
}

#[test]
fn a_remote_tombstone_deletes_the_row_and_its_search_entry() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(&mut store, ContactInput { display_name: "Zed Tombstone".into(), ..Default::default() })
        .expect("create");
    let tomb = RowState {
        seq: 9,
        entity: EntityKind::Contact,
        row_id: c.id,
        deleted: true,
        purged: false,
        scope: "public".into(),
        fields: BTreeMap::new(),
    };
    store.transaction(|tx| write::apply_remote(tx, &tomb)).expect("apply");
    assert!(contacts::get(&store, c.id).is_err());
    assert_eq!(contacts::search(&store, "tombstone", 0, 10).expect("search").total, 0);
}

#[test]
fn without_an_unsent_local_change_the_servers_value_replaces_ours_even_with_an_older_stamp() {
    // A laptop whose clock ran an hour ahead: the server clamped its stamp, then another device
    // wrote the field with a stamp below the laptop's own. The server's merge is the truth.
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(&mut store, ContactInput { display_name: "Skewed".into(), ..Default::default() })
        .expect("create");
    let ours =
        sync_tables::stamp(store.conn(), EntityKind::Contact, c.id, "display_name").expect("stamp").expect("stamped");
    store.conn().execute("UPDATE outbox SET state = 'accepted'", []).expect("pretend the push was accepted");
    let older = ours.hlc.millis - 60_000;
    store
        .transaction(|tx| {
            write::apply_remote(
                tx,
                &remote_contact(c.id, 7, &[("display_name", json!("Fixed by B"), older)], Uuid::now_v7()),
            )
        })
        .expect("apply");
    assert_eq!(
        contacts::get(&store, c.id).expect("row").display_name,
        "Fixed by B",
        "the device must converge on the server's view"
    );
}

#[test]
fn an_erased_contact_leaves_nothing_behind_on_the_device() {
    const MARKER: &str = "Erasable-Person-4471";
    let (dir, mut store, _k) = temp_store();
    let c = contacts::create(
        &mut store,
        ContactInput {
            display_name: MARKER.into(),
            emails: vec!["erase.me@example.org".into()],
            notes: Some(format!("about {MARKER}")),
            ..Default::default()
        },
    )
    .expect("create");
    store.conn().execute("UPDATE outbox SET state = 'accepted'", []).expect("the creation was synced");
    // Unsent edits made offline, one of them a new email the server never saw.
    contacts::update(
        &mut store,
        c.id,
        ContactPatch {
            notes: Some(Some(format!("offline note on {MARKER}"))),
            emails: Some(vec!["erase.me@example.org".into(), "second@example.org".into()]),
            ..Default::default()
        },
    )
    .expect("edit");
    let purge = RowState {
        seq: 50,
        entity: EntityKind::Contact,
        row_id: c.id,
        deleted: true,
        purged: true,
        scope: "public".into(),
        fields: BTreeMap::new(),
    };
    store.transaction(|tx| write::apply_remote(tx, &purge)).expect("apply purge");

    assert!(contacts::get(&store, c.id).is_err(), "the contact is gone");
    assert_eq!(contacts::search(&store, "erasable", 0, 10).expect("search").total, 0, "and out of the search index");
    let children: i64 = store.conn().query_row("SELECT count(*) FROM contact_email", [], |r| r.get(0)).expect("count");
    assert_eq!(children, 0, "its emails, including the one the server never saw, are gone");
    let ledger = liaison_core::sync::ledger(&store, 100).expect("ledger");
    assert!(ledger.iter().all(|e| e.fields.is_empty()), "no field data is left in the ledger: {ledger:?}");
    assert!(
        ledger
            .iter()
            .filter(|e| e.state == OutboxState::Rejected)
            .all(|e| e.error.as_ref().map(|x| x.code) == Some(liaison_core::ErrorCode::Erased)),
        "unsent changes say they were refused because of the erasure"
    );
    assert!(
        ledger.iter().any(|e| e.state == OutboxState::Rejected),
        "the person can see that their offline edits were not sent"
    );
    assert_eq!(
        sync_tables::count(store.conn(), OutboxState::Pending).expect("count"),
        0,
        "nothing about the person is waiting to be sent"
    );
    let err =
        contacts::update(&mut store, c.id, ContactPatch { notes: Some(Some("again".into())), ..Default::default() })
            .expect_err("gone");
    assert_eq!(err.code, liaison_core::ErrorCode::NotFound);
    store.checkpoint().expect("checkpoint");
    // The encrypted file cannot be searched for the marker anyway; decrypted, it must be gone too.
    let leftovers: i64 = store
        .conn()
        .query_row("SELECT (SELECT count(*) FROM outbox WHERE fields LIKE ?1) + (SELECT count(*) FROM contact WHERE display_name LIKE ?1)", [format!("%{MARKER}%")], |r| r.get(0))
        .expect("query");
    assert_eq!(leftovers, 0, "no table still holds the erased person's name");
    drop(dir);
}

#[test]
fn a_pulled_row_stores_the_stamp_its_fields_share_once_and_merges_field_by_field_as_before() {
    let (_d, mut store, _k) = temp_store();
    let (other, id) = (Uuid::now_v7(), Uuid::now_v7());
    let row = remote_contact(
        id,
        1,
        &[("display_name", json!("Ada"), 1_000), ("notes", json!("n"), 1_000), ("organization", json!("Org"), 900)],
        other,
    );
    store.transaction(|tx| write::apply_remote(tx, &row)).expect("apply");
    let own: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM field_clock WHERE row_id = ?1", [id.as_bytes()], |r| r.get(0))
        .expect("count");
    assert_eq!(own, 1, "only the field stamped differently from the others has a stamp of its own");
    let stamp = |store: &liaison_core::store::Store, field: &str| {
        sync_tables::stamp(store.conn(), EntityKind::Contact, id, field).expect("stamp").map(|s| s.hlc)
    };
    assert_eq!(
        stamp(&store, "display_name"),
        Some(Hlc::new(1_000, 0)),
        "the shared stamp answers for the fields that share it"
    );
    assert_eq!(stamp(&store, "organization"), Some(Hlc::new(900, 0)));

    // A local edit of one field stamps that field alone; the others keep the shared stamp.
    contacts::update(&mut store, id, ContactPatch { notes: Some(Some("mine".into())), ..Default::default() })
        .expect("edit");
    assert!(stamp(&store, "notes").expect("notes stamp") > Hlc::new(1_000, 0), "the local edit is newer");
    assert_eq!(stamp(&store, "display_name"), Some(Hlc::new(1_000, 0)));
    // The server's next version: an older notes value (the unsent local edit stays on top) and
    // a newer name (applied).
    let next = remote_contact(
        id,
        2,
        &[("display_name", json!("Ada L."), 2_000), ("notes", json!("n"), 1_000), ("organization", json!("Org"), 900)],
        other,
    );
    store.transaction(|tx| write::apply_remote(tx, &next)).expect("apply");
    let c = contacts::get(&store, id).expect("row");
    assert_eq!(
        (c.display_name.as_str(), c.notes.as_deref()),
        ("Ada L.", Some("mine")),
        "fields still merge one by one"
    );

    // A delete forgets every stamp, the shared one included.
    let mut tomb = remote_contact(id, 3, &[], other);
    tomb.deleted = true;
    store.transaction(|tx| write::apply_remote(tx, &tomb)).expect("apply");
    assert_eq!(stamp(&store, "display_name"), None, "no stamp survives a delete");
}

#[test]
fn pulled_rows_of_one_shape_share_a_statement_yet_each_keeps_its_own_values_in_their_columns() {
    let (_d, mut store, _k) = temp_store();
    let other = Uuid::now_v7();
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    // Fields arrive sorted by name (display_name, notes, organization), not in the schema's order
    // (display_name, organization, ..., notes): each value must still reach its own column.
    let rows = [
        remote_contact(
            a,
            1,
            &[("display_name", json!("Ada")), ("notes", json!("n-a")), ("organization", json!("O-a"))]
                .map(|(n, v)| (n, v, 1_000)),
            other,
        ),
        remote_contact(
            b,
            2,
            &[("display_name", json!("Bo")), ("organization", json!("O-b"))].map(|(n, v)| (n, v, 1_000)),
            other,
        ),
        remote_contact(
            c,
            3,
            &[
                ("display_name", json!("Cy")),
                ("notes", json!("n-c")),
                ("organization", json!("O-c")),
                ("tags", serde_json::Value::Null),
                ("restricted", serde_json::Value::Null),
            ]
            .map(|(n, v)| (n, v, 1_000)),
            other,
        ),
    ];
    store
        .transaction(|tx| {
            let mut batch = write::RemoteBatch::begin(tx)?;
            for row in &rows {
                assert!(batch.apply(row)?.changed, "a new row is stored");
            }
            batch.finish()
        })
        .expect("apply");
    let stored = |id: Uuid| {
        let c = contacts::get(&store, id).expect("row");
        (c.display_name, c.organization, c.notes, c.tags, c.restricted)
    };
    assert_eq!(stored(a), ("Ada".into(), Some("O-a".into()), Some("n-a".into()), vec![], false));
    assert_eq!(stored(b), ("Bo".into(), Some("O-b".into()), None, vec![], false), "a row without notes has none");
    assert_eq!(
        stored(c),
        ("Cy".into(), Some("O-c".into()), Some("n-c".into()), vec![], false),
        "an absent list or flag is stored as empty, as a local edit would store it"
    );
}
