//! The storage contract: what every backend must do, written against `&dyn Storage` only.

use crate::support::{batch, change, child, delete};
use chrono::{DateTime, Duration, TimeZone, Utc};
use liaison_protocol::error::ErrorCode;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Outcome, PullResponse, PushResponse, Role, RowState};
use liaison_server::storage::{NewDevice, NewUser, Storage, StorageError, User};
use liaison_server::sync::MAX_CLOCK_SKEW_MILLIS;
use serde_json::json;
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_750_000_000_000).single().expect("a valid time")
}

fn now_millis() -> u64 {
    u64::try_from(now().timestamp_millis()).expect("positive")
}

fn hlc(offset_ms: u64, counter: u32) -> Hlc {
    Hlc::new(now_millis() + offset_ms, counter)
}

async fn user(s: &dyn Storage, name: &str) -> User {
    s.create_user(NewUser { name: name.into(), role: Role::Staff, password_hash: "$argon2id$fake".into() })
        .await
        .expect("create user")
}

async fn device(s: &dyn Storage, user: &User, token: &str) -> Uuid {
    let id = Uuid::now_v7();
    s.register_device(
        NewDevice { id, user_id: user.id, name: format!("{token}-laptop"), token_hash: token.into() },
        now(),
    )
    .await
    .expect("register device");
    id
}

/// A user with two devices, A and B.
async fn setup(s: &dyn Storage) -> (User, Uuid, Uuid) {
    let u = user(s, "ana").await;
    let a = device(s, &u, "hash-a").await;
    let b = device(s, &u, "hash-b").await;
    (u, a, b)
}

async fn pull_all(s: &dyn Storage, u: &User) -> PullResponse {
    s.pull(u, 0, 5_000).await.expect("pull")
}

async fn row(s: &dyn Storage, u: &User, row_id: Uuid) -> Option<RowState> {
    pull_all(s, u).await.rows.into_iter().find(|r| r.row_id == row_id)
}

fn seqs(resp: &PushResponse) -> Vec<Option<u64>> {
    resp.results.iter().map(|r| r.seq).collect()
}

fn outcomes(resp: &PushResponse) -> Vec<Outcome> {
    resp.results.iter().map(|r| r.outcome).collect()
}

pub async fn users_are_created_found_listed_and_change_role(s: &dyn Storage) {
    let ana = user(s, "ana").await;
    let bob = user(s, "Bob").await;
    let found = s.find_user_by_name("ANA").await.expect("find").expect("ana exists");
    assert_eq!(found.user, ana, "lookup ignores case");
    assert_eq!(found.password_hash, "$argon2id$fake", "the stored hash is returned for login");
    assert!(s.find_user_by_name("carol").await.expect("find").is_none(), "unknown names are None, not errors");

    let names: Vec<String> = s.list_users().await.expect("list").into_iter().map(|u| u.name).collect();
    assert_eq!(names, vec!["ana", "Bob"], "listed by name, original case kept");

    let changed = s.set_role("bob", Role::Volunteer).await.expect("set role");
    assert_eq!((changed.id, changed.role), (bob.id, Role::Volunteer));
    let err = s.set_role("nobody", Role::Admin).await.expect_err("unknown user");
    assert!(matches!(err, StorageError::NotFound(_)), "got {err:?}");
}

pub async fn a_duplicate_user_name_is_refused_whatever_its_case(s: &dyn Storage) {
    user(s, "ana").await;
    let err = s
        .create_user(NewUser { name: "Ana".into(), role: Role::Admin, password_hash: "x".into() })
        .await
        .expect_err("duplicate");
    assert!(matches!(err, StorageError::Duplicate(_)), "a second Ana would make login ambiguous: {err:?}");
}

pub async fn devices_register_replace_their_token_list_and_revoke(s: &dyn Storage) {
    let ana = user(s, "ana").await;
    let id = Uuid::now_v7();
    let first = NewDevice { id, user_id: ana.id, name: "old name".into(), token_hash: "h1".into() };
    s.register_device(first, now()).await.expect("register");
    let auth = s.find_device_by_token_hash("h1").await.expect("find").expect("found by hash");
    assert_eq!((auth.device.id, auth.user.id), (id, ana.id));

    let again = NewDevice { id, user_id: ana.id, name: "new name".into(), token_hash: "h2".into() };
    let device = s.register_device(again, now() + Duration::minutes(5)).await.expect("re-register");
    assert_eq!(device.name, "new name");
    assert_eq!(device.created_at, now(), "signing in again keeps the device's creation time");
    assert!(s.find_device_by_token_hash("h1").await.expect("find").is_none(), "the old token must stop working");
    assert!(s.find_device_by_token_hash("h2").await.expect("find").is_some());

    s.touch_device(id, now() + Duration::hours(1)).await.expect("touch");
    let listed = s.list_devices().await.expect("list");
    assert_eq!(listed.len(), 1, "one device, however often it signs in");
    assert_eq!(listed[0].user_name, "ana");
    assert_eq!(listed[0].device.last_seen_at, now() + Duration::hours(1));

    let revoked = s.revoke_device(id, now() + Duration::hours(2)).await.expect("revoke");
    assert_eq!(revoked.device.revoked_at, Some(now() + Duration::hours(2)));
    let again = s.revoke_device(id, now() + Duration::hours(3)).await.expect("revoke twice");
    assert_eq!(again.device.revoked_at, Some(now() + Duration::hours(2)), "the first revocation time is kept");
    let auth = s.find_device_by_token_hash("h2").await.expect("find").expect("still found");
    assert!(auth.device.is_revoked(), "a revoked device is found, so it can be told to wipe");

    let err = s.revoke_device(Uuid::now_v7(), now()).await.expect_err("unknown device");
    assert!(matches!(err, StorageError::NotFound(_)), "got {err:?}");
}

pub async fn a_revoked_or_foreign_device_id_cannot_register_again(s: &dyn Storage) {
    let ana = user(s, "ana").await;
    let bob = user(s, "bob").await;
    let id = device(s, &ana, "h1").await;

    let as_bob = NewDevice { id, user_id: bob.id, name: "x".into(), token_hash: "h2".into() };
    let err = s.register_device(as_bob, now()).await.expect_err("foreign device");
    assert!(matches!(err, StorageError::Invalid(_)), "bob must not take over ana's device: {err:?}");

    s.revoke_device(id, now()).await.expect("revoke");
    let again = NewDevice { id, user_id: ana.id, name: "x".into(), token_hash: "h3".into() };
    let err = s.register_device(again, now()).await.expect_err("revoked");
    assert!(matches!(err, StorageError::Revoked), "a stolen laptop must not sign in again: {err:?}");
}

pub async fn push_applies_each_field_by_the_merge_rule(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let r = Uuid::now_v7();
    let created = s
        .push(&u, a, &batch(vec![change(r, &[("display_name", json!("Ada"), hlc(0, 5))])]), now())
        .await
        .expect("push");
    let seq1 = created.results[0].seq.expect("a created row has a seq");

    let older = s
        .push(&u, b, &batch(vec![change(r, &[("display_name", json!("Old"), hlc(0, 4))])]), now())
        .await
        .expect("push");
    assert_eq!(outcomes(&older), vec![Outcome::Accepted], "losing the merge is not an error");
    assert_eq!(seqs(&older), vec![Some(seq1)], "nothing changed, so the row keeps its seq");
    assert_eq!(row(s, &u, r).await.expect("row").fields["display_name"].value, json!("Ada"), "an older stamp loses");

    let same = s
        .push(&u, a, &batch(vec![change(r, &[("display_name", json!("Ada?"), hlc(0, 5))])]), now())
        .await
        .expect("push");
    assert_eq!(seqs(&same), vec![Some(seq1)], "an equal stamp is the same write: idempotent, no new seq");
    assert_eq!(row(s, &u, r).await.expect("row").fields["display_name"].value, json!("Ada"));

    let newer = s
        .push(&u, b, &batch(vec![change(r, &[("display_name", json!("Ada L."), hlc(0, 6))])]), now())
        .await
        .expect("push");
    let seq2 = newer.results[0].seq.expect("seq");
    assert!(seq2 > seq1, "a change that modified the row takes a new, larger seq");
    let field = &row(s, &u, r).await.expect("row").fields["display_name"];
    assert_eq!(field.value, json!("Ada L."), "a newer stamp wins");
    assert_eq!((field.hlc, field.device), (hlc(0, 6), b), "the stored stamp is the winner's, with the pushing device");
}

pub async fn two_devices_editing_different_fields_both_survive(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let r = Uuid::now_v7();
    s.push(&u, a, &batch(vec![change(r, &[("display_name", json!("Ada"), hlc(0, 1))])]), now()).await.expect("push");
    // Both edited offline from the same version; B's clock is later but touches another field.
    s.push(&u, a, &batch(vec![change(r, &[("organization", json!("Wikimedia"), hlc(10, 0))])]), now())
        .await
        .expect("push");
    s.push(&u, b, &batch(vec![change(r, &[("notes", json!("met at the workshop"), hlc(20, 0))])]), now())
        .await
        .expect("push");
    let fields = row(s, &u, r).await.expect("row").fields;
    assert_eq!(fields["organization"].value, json!("Wikimedia"), "per-field merge: A's field survives B's later edit");
    assert_eq!(fields["notes"].value, json!("met at the workshop"));
    assert_eq!(fields["display_name"].value, json!("Ada"));
}

pub async fn a_delete_tombstones_the_row_and_later_edits_do_not_revive_it(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let r = Uuid::now_v7();
    s.push(&u, a, &batch(vec![change(r, &[("display_name", json!("Ada"), hlc(0, 1))])]), now()).await.expect("push");
    let deleted = s.push(&u, a, &batch(vec![delete(r, hlc(5, 0))]), now()).await.expect("delete");
    let tomb = row(s, &u, r).await.expect("the tombstone is pulled");
    assert!(tomb.deleted, "the row is a tombstone");
    assert!(tomb.fields.is_empty(), "a tombstone carries no field values");
    assert_eq!(Some(tomb.seq), deleted.results[0].seq);

    let late = s
        .push(&u, b, &batch(vec![change(r, &[("notes", json!("offline edit"), hlc(60, 0))])]), now())
        .await
        .expect("push");
    assert_eq!(outcomes(&late), vec![Outcome::Accepted], "accepted so the client stops resending it");
    assert_eq!(late.results[0].seq, Some(tomb.seq), "not applied: the seq does not move");
    let after = row(s, &u, r).await.expect("row");
    assert!(after.deleted && after.fields.is_empty(), "delete wins: a later edit must not revive the row");

    let unknown = Uuid::now_v7();
    s.push(&u, a, &batch(vec![delete(unknown, hlc(1, 0))]), now()).await.expect("delete unseen row");
    s.push(&u, b, &batch(vec![change(unknown, &[("display_name", json!("Zed"), hlc(2, 0))])]), now())
        .await
        .expect("push");
    assert!(row(s, &u, unknown).await.expect("row").deleted, "deleting a row the server never saw still wins");
}

pub async fn a_retried_batch_returns_the_stored_response_and_changes_nothing(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let (r1, r2) = (Uuid::now_v7(), Uuid::now_v7());
    let req = batch(vec![
        change(r1, &[("display_name", json!("One"), hlc(0, 0))]),
        change(r2, &[("display_name", json!("Two"), hlc(0, 0))]),
    ]);
    let first = s.push(&u, a, &req, now()).await.expect("push");
    let before = pull_all(s, &u).await;

    // The commit succeeded but the response was lost: the client sends the same batch again.
    let retry = s.push(&u, a, &req, now() + Duration::seconds(30)).await.expect("retry");
    assert_eq!(retry, first, "a retried batch returns the stored response verbatim");
    assert_eq!(pull_all(s, &u).await, before, "and bumps no sequence number");

    let mut altered = req.clone();
    altered.changes[0].fields.get_mut("display_name").expect("field").hlc = hlc(100, 0);
    let replay = s.push(&u, a, &altered, now()).await.expect("retry");
    assert_eq!(replay, first, "a batch id is applied once, whatever a retry carries");
    assert_eq!(pull_all(s, &u).await, before);
}

pub async fn a_change_id_already_applied_is_not_applied_again_in_a_new_batch(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let r = Uuid::now_v7();
    let c = change(r, &[("display_name", json!("Ada"), hlc(0, 0))]);
    let first = s.push(&u, a, &batch(vec![c.clone()]), now()).await.expect("push");
    let seq = first.results[0].seq;

    let mut repeated = c.clone();
    repeated.fields.get_mut("display_name").expect("field").hlc = hlc(50, 0);
    repeated.fields.get_mut("display_name").expect("field").value = json!("Changed");
    let again = s.push(&u, a, &batch(vec![repeated.clone(), repeated]), now()).await.expect("push");
    assert_eq!(outcomes(&again), vec![Outcome::Accepted, Outcome::Accepted]);
    assert_eq!(seqs(&again), vec![seq, seq], "an applied change id answers with its stored seq");
    let field = &row(s, &u, r).await.expect("row").fields["display_name"];
    assert_eq!(field.value, json!("Ada"), "a change id is applied once, even in a new batch");
}

pub async fn a_batch_id_of_another_device_is_refused(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let req = batch(vec![change(Uuid::now_v7(), &[("display_name", json!("Ada"), hlc(0, 0))])]);
    s.push(&u, a, &req, now()).await.expect("push");
    let err = s.push(&u, b, &req, now()).await.expect_err("another device's batch");
    assert!(matches!(err, StorageError::Invalid(_)), "device B must not read device A's stored response: {err:?}");
}

pub async fn pull_pages_by_cursor_with_has_more(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let empty = s.pull(&u, 0, 10).await.expect("pull");
    assert_eq!((empty.rows.len(), empty.next_cursor, empty.has_more), (0, 0, false), "nothing yet");

    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        let name = format!("Contact {i}");
        s.push(&u, a, &batch(vec![change(*id, &[("display_name", json!(name), hlc(0, 0))])]), now())
            .await
            .expect("push");
    }
    // Editing the first row moves it to the end of the log: pull sends rows, not history.
    s.push(&u, a, &batch(vec![change(ids[0], &[("notes", json!("edited"), hlc(1, 0))])]), now()).await.expect("push");

    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut pages = Vec::new();
    loop {
        let page = s.pull(&u, cursor, 2).await.expect("pull");
        assert!(page.rows.len() <= 2, "a page holds at most `limit` rows");
        assert!(page.rows.windows(2).all(|w| w[0].seq < w[1].seq), "rows come in seq order");
        if let Some(last) = page.rows.last() {
            assert_eq!(page.next_cursor, last.seq, "the cursor is the last row's seq");
        }
        seen.extend(page.rows.iter().map(|r| r.row_id));
        pages.push((page.rows.len(), page.has_more));
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, vec![(2, true), (2, true), (1, false)], "5 rows in pages of 2");
    let mut expected = ids[1..].to_vec();
    expected.push(ids[0]);
    assert_eq!(seen, expected, "each row once, in the order of its latest change");

    let after = s.pull(&u, cursor, 2).await.expect("pull");
    assert_eq!(
        (after.rows.len(), after.next_cursor, after.has_more),
        (0, cursor, false),
        "an empty page keeps the cursor"
    );
}

pub async fn invalid_changes_are_rejected_one_by_one_while_valid_ones_apply(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let (good1, good2) = (Uuid::now_v7(), Uuid::now_v7());
    let req = batch(vec![
        change(good1, &[("display_name", json!("Ada"), hlc(0, 0))]),
        change(Uuid::now_v7(), &[("nickname", json!("x"), hlc(0, 0)), ("display_name", json!("B"), hlc(0, 0))]),
        change(Uuid::now_v7(), &[("display_name", json!(""), hlc(0, 0))]),
        change(Uuid::now_v7(), &[("notes", json!("no name"), hlc(0, 0))]),
        change(good2, &[("display_name", json!("Grace"), hlc(0, 0))]),
    ]);
    let resp = s.push(&u, a, &req, now()).await.expect("push");
    assert_eq!(
        outcomes(&resp),
        vec![Outcome::Accepted, Outcome::Rejected, Outcome::Rejected, Outcome::Rejected, Outcome::Accepted],
        "one bad change never blocks the others"
    );
    for (i, needle) in [(1, "nickname"), (2, "display_name"), (3, "display_name")] {
        let error = resp.results[i].error.as_ref().expect("a rejection says why");
        assert_eq!(error.code, ErrorCode::InvalidInput);
        assert!(error.message.contains(needle), "result {i} should mention {needle}: {}", error.message);
        assert_eq!(resp.results[i].seq, None, "a rejected change has no seq");
    }
    assert_eq!(
        resp.results.iter().map(|r| r.change_id).collect::<Vec<_>>(),
        req.changes.iter().map(|c| c.change_id).collect::<Vec<_>>(),
        "results in request order"
    );
    let rows = pull_all(s, &u).await.rows;
    assert_eq!(
        rows.iter().map(|r| r.row_id).collect::<Vec<_>>(),
        vec![good1, good2],
        "only valid changes reached storage"
    );
}

pub async fn clocks_far_in_the_future_are_clamped(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let r = Uuid::now_v7();
    let a_year = 365 * 24 * 3_600_000;
    s.push(&u, a, &batch(vec![change(r, &[("display_name", json!("From the future"), hlc(a_year, 0))])]), now())
        .await
        .expect("push");
    let stored = row(s, &u, r).await.expect("row").fields["display_name"].hlc;
    assert_eq!(
        stored.millis,
        now_millis() + MAX_CLOCK_SKEW_MILLIS,
        "clamped to the server's clock plus the allowed skew"
    );
    let clamps = s.list_clamps(10).await.expect("list clamps");
    assert_eq!(clamps.len(), 1, "the clamp is recorded for administrators");
    let clamp = &clamps[0];
    assert_eq!((clamp.device_id, clamp.field.as_deref(), clamp.user_name.as_str()), (a, Some("display_name"), u.name.as_str()));
    assert!(clamp.ahead_millis() >= a_year - 60_000, "it says how far ahead the clock was: {}", clamp.ahead_millis());
    assert_eq!(clamp.clamped, stored, "and what the server used instead");

    // An hour later another device edits with a correct clock: it must win, not lose for a year.
    let later = now() + Duration::hours(1);
    let honest = Hlc::new(u64::try_from(later.timestamp_millis()).expect("positive"), 0);
    s.push(&u, b, &batch(vec![change(r, &[("display_name", json!("Present"), honest)])]), later).await.expect("push");
    assert_eq!(row(s, &u, r).await.expect("row").fields["display_name"].value, json!("Present"));

    // Clocks within the skew are kept as they are.
    let near = hlc(60_000, 3);
    let r2 = Uuid::now_v7();
    s.push(&u, a, &batch(vec![change(r2, &[("display_name", json!("Soon"), near)])]), now()).await.expect("push");
    assert_eq!(row(s, &u, r2).await.expect("row").fields["display_name"].hlc, near, "a minute ahead is normal drift");
    assert_eq!(s.list_clamps(10).await.expect("list").len(), 1, "normal drift is not reported as a clamp");
}

/// A contact with an email, a phone and an identifier, created by device A: `(contact, children)`.
async fn person(s: &dyn Storage, u: &User, a: Uuid, name: &str) -> (Uuid, Vec<Uuid>) {
    let contact = Uuid::now_v7();
    let kids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    let resp = s
        .push(
            u,
            a,
            &batch(vec![
                change(contact, &[("display_name", json!(name), hlc(0, 0)), ("notes", json!("private"), hlc(0, 0))]),
                child(EntityKind::ContactEmail, kids[0], contact, &[("address", json!("ada@example.org"))], hlc(0, 1)),
                child(EntityKind::ContactPhone, kids[1], contact, &[("number", json!("+44 20 7946 0000"))], hlc(0, 1)),
                child(
                    EntityKind::ContactIdentifier,
                    kids[2],
                    contact,
                    &[("kind", json!("wiki")), ("value", json!("AdaL"))],
                    hlc(0, 1),
                ),
            ]),
            now(),
        )
        .await
        .expect("push");
    assert_eq!(outcomes(&resp), vec![Outcome::Accepted; 4], "{resp:?}");
    (contact, kids.to_vec())
}

fn assert_purged(row: &RowState) {
    assert!(row.deleted && row.purged, "an erased row is a purged tombstone: {row:?}");
    assert!(row.fields.is_empty(), "an erased row carries no values: {row:?}");
}

fn assert_erased(resp: &PushResponse, index: usize) {
    let result = &resp.results[index];
    assert_eq!(result.outcome, Outcome::Rejected, "change {index} touches erased data: {resp:?}");
    assert_eq!(result.seq, None);
    let error = result.error.as_ref().expect("a rejection says why");
    assert_eq!(error.code, ErrorCode::Erased);
    assert!(error.message.contains("erased at their request"), "{}", error.message);
}

pub async fn erasing_a_contact_purges_it_and_its_rows_at_new_seqs(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let (contact, kids) = person(s, &u, a, "Ada Lovelace").await;
    let (other, other_kids) = person(s, &u, a, "Grace Hopper").await;
    let before = pull_all(s, &u).await;
    let last_before = before.next_cursor;

    let report = s.erase_contact(contact, now()).await.expect("erase");
    assert_eq!((report.rows, report.related_rows, report.contact_found), (4, 3, true), "{report:?}");
    assert!(!report.already_erased);

    // A device that pulled everything before sees exactly the erased rows, after its cursor.
    let since = s.pull(&u, last_before, 5_000).await.expect("pull");
    let mut erased: Vec<Uuid> = since.rows.iter().map(|r| r.row_id).collect();
    let mut expected = kids.clone();
    expected.push(contact);
    erased.sort();
    expected.sort();
    assert_eq!(erased, expected, "the contact and its three rows come again, and nothing else");
    for row in &since.rows {
        assert_purged(row);
        assert!(row.seq > last_before, "an erasure takes new seqs after every earlier row");
    }
    let json = serde_json::to_value(&since.rows[0]).expect("serialise");
    assert_eq!(json["purged"], json!(true), "the wire says purged: {json}");

    // A fresh device sees the same; the other person is untouched.
    let all = pull_all(s, &u).await;
    for id in &expected {
        assert_purged(all.rows.iter().find(|r| r.row_id == *id).expect("still pulled as a tombstone"));
    }
    let kept = all.rows.iter().find(|r| r.row_id == other).expect("other contact");
    assert!(!kept.deleted && !kept.purged && kept.fields["display_name"].value == json!("Grace Hopper"));
    for id in &other_kids {
        assert!(!all.rows.iter().find(|r| r.row_id == *id).expect("other row").purged, "other rows are kept");
    }
}

pub async fn changes_to_erased_data_are_refused_while_others_apply(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let (contact, kids) = person(s, &u, a, "Ada Lovelace").await;
    s.erase_contact(contact, now()).await.expect("erase");
    let cursor = pull_all(s, &u).await.next_cursor;

    // Device B was offline during the erasure and comes back with edits.
    let unrelated = Uuid::now_v7();
    let mut email_edit = change(kids[0], &[("label", json!("work"), hlc(60, 0))]);
    email_edit.entity = EntityKind::ContactEmail;
    let req = batch(vec![
        change(contact, &[("notes", json!("offline edit"), hlc(60, 0))]),
        email_edit,
        child(EntityKind::ContactEmail, Uuid::now_v7(), contact, &[("address", json!("new@example.org"))], hlc(60, 1)),
        change(unrelated, &[("display_name", json!("Someone else"), hlc(60, 0))]),
        delete(contact, hlc(61, 0)),
    ]);
    let resp = s.push(&u, b, &req, now()).await.expect("push");
    for i in [0, 1, 2, 4] {
        assert_erased(&resp, i);
    }
    assert_eq!(resp.results[3].outcome, Outcome::Accepted, "an unrelated change in the batch applies: {resp:?}");

    let after = s.pull(&u, cursor, 5_000).await.expect("pull");
    assert_eq!(
        after.rows.iter().map(|r| r.row_id).collect::<Vec<_>>(),
        vec![unrelated],
        "nothing about the erased person came back"
    );
    let again = s.push(&u, b, &req, now()).await.expect("retry");
    assert_eq!(again, resp, "a retried batch answers the same refusals");
}

pub async fn erasing_an_unknown_id_refuses_a_later_create(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let unknown = Uuid::now_v7();
    let report = s.erase_contact(unknown, now()).await.expect("erasing an id never seen is allowed");
    assert_eq!((report.rows, report.contact_found), (0, false), "{report:?}");
    assert_purged(&row(s, &u, unknown).await.expect("a purged tombstone tells devices that created it offline"));

    let resp = s
        .push(
            &u,
            a,
            &batch(vec![
                change(unknown, &[("display_name", json!("Ada"), hlc(1, 0))]),
                child(EntityKind::ContactPhone, Uuid::now_v7(), unknown, &[("number", json!("123"))], hlc(1, 0)),
            ]),
            now(),
        )
        .await
        .expect("push");
    assert_erased(&resp, 0);
    assert_erased(&resp, 1);
}

pub async fn erasing_twice_is_harmless(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let (contact, _) = person(s, &u, a, "Ada Lovelace").await;
    s.erase_contact(contact, now()).await.expect("erase");
    let before = pull_all(s, &u).await;
    let again = s.erase_contact(contact, now() + Duration::minutes(1)).await.expect("erase again");
    assert!(again.already_erased && again.contact_found, "{again:?}");
    assert_eq!(again.rows, 0, "nothing left to erase");
    assert_eq!(pull_all(s, &u).await, before, "no new seqs, nothing changed");
}

/// For the SQLite file test: a contact and an email holding a marker, edited a few times so old
/// versions of the values were written too. Returns `(marker, contact id)`.
pub async fn seed_contact_with_marker(s: &dyn Storage) -> (String, Uuid) {
    let (u, a, _) = setup(s).await;
    let marker = "Zorblax-Quintessa-7731";
    let contact = Uuid::now_v7();
    let email = Uuid::now_v7();
    for i in 0..3u32 {
        let resp = s
            .push(
                &u,
                a,
                &batch(vec![
                    change(
                        contact,
                        &[
                            ("display_name", json!(format!("{marker} {i}")), hlc(0, i)),
                            ("notes", json!(format!("notes about {marker}")), hlc(0, i)),
                        ],
                    ),
                    child(
                        EntityKind::ContactEmail,
                        email,
                        contact,
                        &[("address", json!(format!("{marker}{i}@example.org")))],
                        hlc(0, i),
                    ),
                ]),
                now(),
            )
            .await
            .expect("push");
        assert_eq!(outcomes(&resp), vec![Outcome::Accepted; 2], "{resp:?}");
    }
    (marker.to_owned(), contact)
}
