//! The storage contract: what every backend must do, written against `&dyn Storage` only.

use crate::support::{batch, change, child, delete};
use chrono::{DateTime, Duration, TimeZone, Utc};
use liaison_protocol::error::ErrorCode;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::scope;
use liaison_protocol::wire::{Change, ConflictSide, Outcome, PullResponse, PushResponse, Role, RowState};
use liaison_server::storage::{NewDevice, NewUser, Storage, StorageError, User};
use liaison_server::sync::MAX_CLOCK_SKEW_MILLIS;
use serde_json::{Value, json};
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

pub async fn a_pull_page_goes_on_the_wire_exactly_as_the_rows_it_stands_for(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let (ada, email, gone) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    push_ok(
        s,
        &u,
        a,
        vec![
            change(
                ada,
                &[("display_name", json!("Ada"), hlc(0, 1)), ("notes", json!("met at \"Wikimania\"\n"), hlc(0, 1))],
            ),
            child(EntityKind::ContactEmail, email, ada, &[("address", json!("ada@example.org"))], hlc(0, 1)),
            change(gone, &[("display_name", json!("Gone"), hlc(0, 1))]),
        ],
    )
    .await;
    // Another device changes one field (the row keeps the other) and deletes a row.
    push_ok(s, &u, b, vec![change(ada, &[("display_name", json!("Ada L."), hlc(0, 2))]), delete(gone, hlc(0, 2))])
        .await;

    let page = s.pull_page(&u, 0, 5_000).await.expect("pull a page");
    let wire = serde_json::to_value(&page).expect("the page serialises");
    let decoded = page.decode().expect("the stored documents parse");
    assert_eq!(
        wire,
        serde_json::to_value(&decoded).expect("serialises"),
        "the page is byte for byte the response it stands for"
    );
    let parsed: PullResponse = serde_json::from_value(wire).expect("a device reads the page as a pull response");
    assert_eq!(parsed, decoded);

    let by_id = |id: Uuid| decoded.rows.iter().find(|r| r.row_id == id).expect("row pulled");
    let ada_row = by_id(ada);
    assert_eq!(ada_row.fields["display_name"].value, json!("Ada L."), "the newer write is in the document");
    assert_eq!((ada_row.fields["display_name"].hlc, ada_row.fields["display_name"].device), (hlc(0, 2), b));
    assert_eq!(
        ada_row.fields["notes"].value,
        json!("met at \"Wikimania\"\n"),
        "a field the change did not touch stays"
    );
    assert_eq!(ada_row.fields["notes"].device, a);
    assert_eq!(by_id(email).fields["address"].value, json!("ada@example.org"));
    assert!(by_id(gone).deleted && by_id(gone).fields.is_empty(), "a tombstone carries no fields");
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

    // The same new change twice in one batch: the second copy is the first, already applied.
    let other = Uuid::now_v7();
    let once = change(other, &[("display_name", json!("Grace"), hlc(60, 0))]);
    let mut twice = once.clone();
    twice.fields.get_mut("display_name").expect("field").value = json!("Grace H.");
    twice.fields.get_mut("display_name").expect("field").hlc = hlc(70, 0);
    let both = s.push(&u, a, &batch(vec![once, twice]), now()).await.expect("push");
    assert_eq!(outcomes(&both), vec![Outcome::Accepted, Outcome::Accepted]);
    assert!(both.results[0].seq.is_some() && both.results[1].seq == both.results[0].seq, "{both:?}");
    assert_eq!(row(s, &u, other).await.expect("row").fields["display_name"].value, json!("Grace"), "applied once");
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
    assert_eq!(
        (clamp.device_id, clamp.field.as_deref(), clamp.user_name.as_str()),
        (a, Some("display_name"), u.name.as_str())
    );
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

// --- Conflicts, scopes, grants and revocations ---

/// A user with `role` and one device.
async fn member(s: &dyn Storage, name: &str, role: Role) -> (User, Uuid) {
    let u = s
        .create_user(NewUser { name: name.into(), role, password_hash: "$argon2id$fake".into() })
        .await
        .expect("create user");
    let d = device(s, &u, &format!("hash-{name}")).await;
    (u, d)
}

fn based(mut c: Change, base_seq: u64) -> Change {
    c.base_seq = base_seq;
    c
}

fn conflicts(resp: &PullResponse) -> Vec<&RowState> {
    resp.rows.iter().filter(|r| r.entity == EntityKind::Conflict && !r.deleted).collect()
}

fn side(row: &RowState, name: &str) -> ConflictSide {
    serde_json::from_value(row.fields[name].value.clone()).expect("a conflict side")
}

fn ids(resp: &PullResponse) -> Vec<Uuid> {
    resp.rows.iter().map(|r| r.row_id).collect()
}

async fn push_ok(s: &dyn Storage, u: &User, d: Uuid, changes: Vec<Change>) -> PushResponse {
    let n = changes.len();
    let resp = s.push(u, d, &batch(changes), now()).await.expect("push");
    assert_eq!(outcomes(&resp), vec![Outcome::Accepted; n], "{resp:?}");
    resp
}

/// Pull every page from `since` with pages of `limit`; returns the rows, the revoked scopes of
/// every page, and the final cursor.
async fn pull_pages(s: &dyn Storage, u: &User, since: u64, limit: u32) -> (Vec<RowState>, Vec<String>, u64) {
    let (mut rows, mut revoked, mut cursor) = (Vec::new(), Vec::new(), since);
    loop {
        let page = s.pull(u, cursor, limit).await.expect("pull");
        assert!(page.next_cursor >= cursor, "the cursor never goes back");
        rows.extend(page.rows);
        revoked.extend(page.revoked_scopes);
        cursor = page.next_cursor;
        if !page.has_more {
            return (rows, revoked, cursor);
        }
    }
}

/// A restricted contact with an email, created by staff device `d`: `(contact, email)`.
async fn restricted_person(s: &dyn Storage, staff: &User, d: Uuid, name: &str) -> (Uuid, Uuid) {
    let (contact, email) = (Uuid::now_v7(), Uuid::now_v7());
    push_ok(
        s,
        staff,
        d,
        vec![
            change(contact, &[("display_name", json!(name), hlc(0, 0)), ("restricted", json!(true), hlc(0, 0))]),
            child(EntityKind::ContactEmail, email, contact, &[("address", json!("x@example.org"))], hlc(0, 0)),
        ],
    )
    .await;
    (contact, email)
}

pub async fn concurrent_differing_edits_are_recorded_as_conflicts_and_pulled(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let r = Uuid::now_v7();
    let created = push_ok(s, &u, a, vec![change(r, &[("display_name", json!("Ada"), hlc(0, 0))])]).await;
    let seen = created.results[0].seq.expect("seq");

    // B saw the created row and renames it: nothing concurrent, no conflict.
    push_ok(s, &u, b, vec![based(change(r, &[("display_name", json!("Ada B"), hlc(1, 0))]), seen)]).await;
    assert!(conflicts(&pull_all(s, &u).await).is_empty(), "an edit of the version its author saw is no conflict");

    // A, still on the created version, renames it too, later: LWW keeps A's, the conflict shows both.
    push_ok(s, &u, a, vec![based(change(r, &[("display_name", json!("Ada A"), hlc(2, 0))]), seen)]).await;
    // Not conflicts: the same value again from B, and A editing after its own write.
    push_ok(s, &u, b, vec![based(change(r, &[("display_name", json!("Ada A"), hlc(3, 0))]), seen)]).await;
    push_ok(s, &u, a, vec![based(change(r, &[("notes", json!("n"), hlc(4, 0))]), 0)]).await;
    // B, on an old version, writes an older value: it loses and is still recorded.
    push_ok(s, &u, b, vec![based(change(r, &[("notes", json!("m"), hlc(1, 0))]), seen)]).await;

    let all = pull_all(s, &u).await;
    let found = conflicts(&all);
    assert_eq!(found.len(), 2, "exactly the two concurrent differing edits: {found:?}");
    let contact = all.rows.iter().find(|row| row.row_id == r).expect("contact");
    assert_eq!(contact.fields["display_name"].value, json!("Ada A"), "LWW still applies");
    assert_eq!(contact.fields["notes"].value, json!("n"), "the older write lost");

    let name = found.iter().find(|c| c.fields["field"].value == json!("display_name")).expect("name conflict");
    for (field, expected) in [
        ("contact_id", json!(r.to_string())),
        ("entity", json!("contact")),
        ("row_id", json!(r.to_string())),
        ("kind", json!("field")),
    ] {
        assert_eq!(name.fields[field].value, expected, "{field}");
    }
    let (kept, lost) = (side(name, "kept"), side(name, "lost"));
    assert_eq!(
        (kept.value, kept.device, kept.hlc, kept.user.as_str()),
        (json!("Ada A"), a, hlc(2, 0), "ana"),
        "kept: the winner"
    );
    assert_eq!(
        (lost.value, lost.device, lost.hlc, lost.user.as_str()),
        (json!("Ada B"), b, hlc(1, 0), "ana"),
        "lost: the other side"
    );
    assert!(
        name.fields["detected_at"].value.as_str().is_some_and(|t| DateTime::parse_from_rfc3339(t).is_ok()),
        "RFC 3339"
    );
    assert_eq!(name.scope, "public", "a conflict has its contact's scope");
    assert_ne!(name.seq, contact.seq, "a conflict is a row with its own seq");

    let notes = found.iter().find(|c| c.fields["field"].value == json!("notes")).expect("notes conflict");
    assert_eq!(
        (side(notes, "kept").value, side(notes, "lost").value),
        (json!("n"), json!("m")),
        "recorded though it lost"
    );
    assert!(notes.fields.values().all(|f| f.device == Uuid::nil()), "stamped by the server");
}

pub async fn a_delete_wins_over_a_concurrent_update_which_goes_to_the_inbox(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    // Delete arriving after an update it had not seen.
    let r1 = Uuid::now_v7();
    let seen = push_ok(s, &u, a, vec![change(r1, &[("display_name", json!("Ada"), hlc(0, 0))])]).await.results[0].seq;
    let seen = seen.expect("seq");
    push_ok(s, &u, b, vec![based(change(r1, &[("notes", json!("from B"), hlc(1, 0))]), seen)]).await;
    push_ok(s, &u, a, vec![based(delete(r1, hlc(2, 0)), seen)]).await;

    // Update arriving after a delete it had not seen.
    let r2 = Uuid::now_v7();
    let seen2 = push_ok(s, &u, a, vec![change(r2, &[("display_name", json!("Bo"), hlc(0, 0))])]).await.results[0].seq;
    let seen2 = seen2.expect("seq");
    push_ok(s, &u, a, vec![based(delete(r2, hlc(1, 0)), seen2)]).await;
    let late = push_ok(s, &u, b, vec![based(change(r2, &[("notes", json!("offline"), hlc(5, 0))]), seen2)]).await;

    let all = pull_all(s, &u).await;
    for r in [r1, r2] {
        let row = all.rows.iter().find(|row| row.row_id == r).expect("tombstone");
        assert!(row.deleted && row.fields.is_empty(), "the delete wins in both orders");
    }
    assert_eq!(late.results[0].seq, all.rows.iter().find(|row| row.row_id == r2).map(|row| row.seq), "not applied");
    let found = conflicts(&all);
    assert_eq!(found.len(), 2, "{found:?}");
    let first = found.iter().find(|c| c.fields["row_id"].value == json!(r1.to_string())).expect("r1 conflict");
    assert_eq!(
        (first.fields["kind"].value.clone(), first.fields["field"].value.clone()),
        (json!("delete"), Value::Null)
    );
    let (kept, lost) = (side(first, "kept"), side(first, "lost"));
    assert_eq!((kept.value, kept.device, kept.hlc), (Value::Null, a, hlc(2, 0)), "kept: the delete");
    assert_eq!((lost.value, lost.device), (json!({"notes": "from B"}), b), "lost: B's unseen update");
    let second = found.iter().find(|c| c.fields["row_id"].value == json!(r2.to_string())).expect("r2 conflict");
    let (kept, lost) = (side(second, "kept"), side(second, "lost"));
    assert_eq!(
        (kept.value, kept.device, kept.hlc, kept.user.as_str()),
        (Value::Null, a, hlc(1, 0), "ana"),
        "kept: the delete"
    );
    assert_eq!((lost.value, lost.device), (json!({"notes": "offline"}), b), "lost: the update, not revived");

    // An author who saw the delete gets no second conflict.
    let tomb_seq = all.rows.iter().find(|row| row.row_id == r2).expect("r2").seq;
    push_ok(s, &u, b, vec![based(change(r2, &[("notes", json!("again"), hlc(6, 0))]), tomb_seq)]).await;
    assert_eq!(conflicts(&pull_all(s, &u).await).len(), 2);
}

pub async fn a_deleted_contact_takes_its_rows_with_it_and_a_late_child_is_set_aside(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let (contact, kids) = person(s, &u, a, "Grace Hopper").await;
    // B saw the contact before it was deleted and, offline, adds an email; A, meanwhile, adds a
    // phone that B never saw, then deletes the contact (knowing only its own rows).
    let seen = pull_all(s, &u).await.next_cursor;
    let extra_phone = Uuid::now_v7();
    push_ok(
        s,
        &u,
        a,
        vec![child(EntityKind::ContactPhone, extra_phone, contact, &[("number", json!("+1 555 0100"))], hlc(1, 0))],
    )
    .await;
    push_ok(s, &u, a, vec![delete(contact, hlc(2, 0))]).await;
    let late_email = Uuid::now_v7();
    let late = push_ok(
        s,
        &u,
        b,
        vec![based(
            child(EntityKind::ContactEmail, late_email, contact, &[("address", json!("late@example.org"))], hlc(3, 0)),
            seen,
        )],
    )
    .await;

    let all = pull_all(s, &u).await;
    for id in kids.iter().chain([&extra_phone]) {
        let row = all.rows.iter().find(|r| r.row_id == *id).expect("still announced");
        assert!(row.deleted && row.fields.is_empty(), "every row of the deleted contact is a tombstone: {row:?}");
    }
    assert!(all.rows.iter().all(|r| r.row_id != late_email), "the late email is not stored without its contact");
    assert_eq!(late.results[0].outcome, Outcome::Accepted, "it is accepted, so B stops resending it");
    let set_aside = conflicts(&all);
    assert_eq!(set_aside.len(), 1, "and kept in the inbox: {set_aside:?}");
    assert_eq!(set_aside[0].fields["kind"].value, json!("delete"));
    assert_eq!(side(set_aside[0], "lost").value["address"], json!("late@example.org"));
}

pub async fn devices_resolve_conflicts_but_never_invent_or_delete_them(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let r = Uuid::now_v7();
    push_ok(s, &u, a, vec![change(r, &[("display_name", json!("Ada"), hlc(0, 0))])]).await;
    push_ok(s, &u, b, vec![change(r, &[("display_name", json!("Ada B"), hlc(1, 0))])]).await;
    let conflict = conflicts(&pull_all(s, &u).await).first().map(|c| c.row_id).expect("a conflict");
    let as_conflict = |c: Change| Change { entity: EntityKind::Conflict, ..c };

    let resp = s
        .push(
            &u,
            a,
            &batch(vec![
                as_conflict(change(Uuid::now_v7(), &[("resolution", json!("kept_mine"), hlc(2, 0))])),
                as_conflict(delete(conflict, hlc(2, 0))),
                as_conflict(change(conflict, &[("kept", json!({}), hlc(2, 0))])),
                as_conflict(change(conflict, &[("resolution", json!("whatever"), hlc(2, 0))])),
                as_conflict(change(
                    conflict,
                    &[
                        ("resolution", json!("kept_theirs"), hlc(2, 0)),
                        ("resolved_by", json!("someone else"), hlc(2, 0)),
                    ],
                )),
            ]),
            now(),
        )
        .await
        .expect("push");
    let codes: Vec<Option<ErrorCode>> = resp.results.iter().map(|r| r.error.as_ref().map(|e| e.code)).collect();
    assert_eq!(
        codes,
        vec![
            Some(ErrorCode::InvalidInput),
            Some(ErrorCode::InvalidInput),
            Some(ErrorCode::Forbidden),
            Some(ErrorCode::InvalidInput),
            None
        ],
        "{resp:?}"
    );
    assert!(resp.results[0].error.as_ref().is_some_and(|e| e.message.contains("conflicts are recorded by the server")));
    let row = row(s, &u, conflict).await.expect("conflict");
    assert!(!row.deleted, "a conflict cannot be deleted");
    assert_eq!(row.fields["resolution"].value, json!("kept_theirs"));
    assert_eq!(row.fields["resolved_by"].value, json!("ana"), "the server names the authenticated user");
    assert_eq!(conflicts(&pull_all(s, &u).await).len(), 1, "resolving records no new conflict");
}

pub async fn restricted_contacts_reach_only_staff_and_granted_users(s: &dyn Storage) {
    let (staff, sa) = member(s, "sam", Role::Staff).await;
    let sb = device(s, &staff, "hash-sam-2").await;
    let (vol, _) = member(s, "vic", Role::Volunteer).await;
    let (trainer, _) = member(s, "tia", Role::Trainer).await;
    let (granted, _) = member(s, "gus", Role::Volunteer).await;
    let (admin, _) = member(s, "ada", Role::Admin).await;
    let public = Uuid::now_v7();
    push_ok(s, &staff, sa, vec![change(public, &[("display_name", json!("Open"), hlc(0, 0))])]).await;
    let (secret, email) = restricted_person(s, &staff, sa, "Hidden").await;
    // A conflict about the restricted contact.
    push_ok(s, &staff, sb, vec![change(secret, &[("notes", json!("b"), hlc(1, 0))])]).await;
    push_ok(s, &staff, sa, vec![change(secret, &[("notes", json!("a"), hlc(2, 0))])]).await;
    let granted_cursor = pull_all(s, &granted).await.next_cursor;

    let all = pull_all(s, &staff).await;
    let secret_rows: Vec<Uuid> =
        all.rows.iter().filter(|r| r.scope == scope::contact(secret)).map(|r| r.row_id).collect();
    let conflict = conflicts(&all).first().map(|c| c.row_id).expect("a conflict");
    for id in [secret, email, conflict] {
        assert!(secret_rows.contains(&id), "the contact, its email and its conflict have its scope: {all:?}");
    }
    assert!(all.rows.iter().find(|r| r.row_id == public).is_some_and(|r| r.scope == "public"));
    assert_eq!(pull_all(s, &admin).await.rows.len(), all.rows.len(), "admins see what staff see");

    for reader in [&vol, &trainer, &granted] {
        let fresh = pull_all(s, reader).await;
        assert_eq!(ids(&fresh), vec![public], "{}: only the public contact, from 0", reader.name);
        assert!(fresh.revoked_scopes.is_empty());
        let (paged, revoked, _) = pull_pages(s, reader, 0, 1).await;
        assert_eq!(
            paged.iter().map(|r| r.row_id).collect::<Vec<_>>(),
            vec![public],
            "{}: nor page by page",
            reader.name
        );
        assert!(revoked.is_empty(), "nothing to revoke from a device that never held it");
    }

    let report = s.grant("GUS", &format!("contact:{secret}"), now()).await.expect("grant");
    assert!(report.created && report.rows == 3, "the contact, its email and its conflict are re-sent: {report:?}");
    let after = s.pull(&granted, granted_cursor, 5_000).await.expect("pull");
    let mut got = ids(&after);
    got.sort();
    let mut expected = vec![secret, email, conflict];
    expected.sort();
    assert_eq!(got, expected, "a granted volunteer receives the rows though they changed before the cursor");
    assert!(after.rows.iter().all(|r| r.scope == scope::contact(secret)));
    assert_eq!(pull_all(s, &granted).await.rows.len(), 4, "and from 0 as well");
    assert_eq!(ids(&pull_all(s, &vol).await), vec![public], "other volunteers still do not");
}

pub async fn restricting_a_public_contact_revokes_it_only_from_devices_that_may_hold_it(s: &dyn Storage) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let (vol, _) = member(s, "vic", Role::Volunteer).await;
    let other = Uuid::now_v7();
    push_ok(s, &staff, sd, vec![change(other, &[("display_name", json!("Other"), hlc(0, 0))])]).await;
    let before = pull_all(s, &vol).await.next_cursor;
    let (contact, kids) = person(s, &staff, sd, "Ada").await;
    let holding = pull_all(s, &vol).await;
    assert!(ids(&holding).contains(&contact), "public: the volunteer's device holds it");

    push_ok(s, &staff, sd, vec![change(contact, &[("restricted", json!(true), hlc(5, 0))])]).await;
    let scope = scope::contact(contact);

    let since = s.pull(&vol, holding.next_cursor, 5_000).await.expect("pull");
    assert_eq!(since.revoked_scopes, vec![scope.clone()], "a device that held the contact is told to delete it");
    assert!(since.rows.is_empty(), "and receives none of its rows: {since:?}");
    assert!(since.next_cursor > holding.next_cursor, "the cursor moves past the invisible rows and the revocation");
    let (_, paged, _) = pull_pages(s, &vol, holding.next_cursor, 1).await;
    assert_eq!(paged, vec![scope.clone()], "page by page, the revocation comes exactly once");

    let fresh = pull_all(s, &vol).await;
    assert!(fresh.revoked_scopes.is_empty(), "a fresh device never held it: no revoke to reveal it");
    assert_eq!(ids(&fresh), vec![other]);
    let early = s.pull(&vol, before, 5_000).await.expect("pull");
    assert!(early.revoked_scopes.is_empty(), "a cursor from before the contact existed never held it");
    assert!(early.rows.is_empty());

    let staff_view = s.pull(&staff, holding.next_cursor, 5_000).await.expect("pull");
    assert!(staff_view.revoked_scopes.is_empty(), "staff keep reading it");
    let mut rescoped: Vec<Uuid> = staff_view.rows.iter().filter(|r| r.scope == scope).map(|r| r.row_id).collect();
    rescoped.sort();
    let mut expected = kids.clone();
    expected.push(contact);
    expected.sort();
    assert_eq!(rescoped, expected, "the contact and its rows are re-sent with their new scope");
}

pub async fn a_contact_arriving_after_its_children_rescopes_them(s: &dyn Storage) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let (vol, vd) = member(s, "vic", Role::Volunteer).await;
    let (contact, email) = (Uuid::now_v7(), Uuid::now_v7());
    push_ok(
        s,
        &vol,
        vd,
        vec![child(EntityKind::ContactEmail, email, contact, &[("address", json!("a@b.c"))], hlc(0, 0))],
    )
    .await;
    let holding = pull_all(s, &vol).await;
    assert_eq!(holding.rows[0].scope, "public", "a contact not on the server yet counts as public");

    push_ok(
        s,
        &staff,
        sd,
        vec![change(contact, &[("display_name", json!("Ada"), hlc(1, 0)), ("restricted", json!(true), hlc(1, 0))])],
    )
    .await;
    let since = s.pull(&vol, holding.next_cursor, 5_000).await.expect("pull");
    assert_eq!(since.revoked_scopes, vec![scope::contact(contact)], "the email the volunteer held is taken back");
    assert!(since.rows.is_empty());
    let email_row = row(s, &staff, email).await.expect("email");
    assert_eq!(email_row.scope, scope::contact(contact), "the child now has its contact's scope");
}

pub async fn unrestricting_a_contact_sends_its_rows_to_volunteers(s: &dyn Storage) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let (vol, _) = member(s, "vic", Role::Volunteer).await;
    let (contact, email) = restricted_person(s, &staff, sd, "Ada").await;
    let cursor = pull_all(s, &vol).await.next_cursor;
    push_ok(s, &staff, sd, vec![change(contact, &[("restricted", json!(false), hlc(1, 0))])]).await;
    let since = s.pull(&vol, cursor, 5_000).await.expect("pull");
    let mut got = ids(&since);
    got.sort();
    let mut expected = vec![contact, email];
    expected.sort();
    assert_eq!(got, expected, "the rows reach the volunteer though they were created before the cursor");
    assert!(since.rows.iter().all(|r| r.scope == "public"));
    assert!(since.revoked_scopes.is_empty());
}

pub async fn a_grant_can_be_revoked_and_devices_are_told(s: &dyn Storage) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let (vol, vd) = member(s, "vic", Role::Volunteer).await;
    let (contact, _) = restricted_person(s, &staff, sd, "Ada").await;
    let scope = scope::contact(contact);
    let before_grant = pull_all(s, &vol).await.next_cursor;

    let first = s.grant("vic", &scope, now()).await.expect("grant");
    assert!(first.created);
    let again = s.grant("Vic", &scope, now() + Duration::minutes(1)).await.expect("grant twice");
    assert_eq!((again.created, again.rows, again.grant.granted_seq), (false, 0, first.grant.granted_seq), "idempotent");
    let listed = s.list_grants().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].user_name.as_str(), listed[0].scope.as_str(), listed[0].granted_at),
        ("vic", scope.as_str(), now())
    );
    let holding = pull_all(s, &vol).await;
    assert_eq!(holding.rows.len(), 2, "the granted volunteer holds the contact and its email");
    // The granted volunteer edits it, so its device has pushed too.
    push_ok(s, &vol, vd, vec![change(contact, &[("notes", json!("met"), hlc(3, 0))])]).await;

    let revoked = s.revoke("vic", &scope, now()).await.expect("revoke");
    assert_eq!(revoked.granted_seq, first.grant.granted_seq);
    assert!(s.list_grants().await.expect("list").is_empty());
    let since = s.pull(&vol, holding.next_cursor, 5_000).await.expect("pull");
    assert_eq!(since.revoked_scopes, vec![scope.clone()], "the device that held it deletes it");
    assert!(since.rows.is_empty());
    let stale = s.pull(&vol, before_grant, 5_000).await.expect("pull");
    assert!(
        stale.revoked_scopes.is_empty() && stale.rows.is_empty(),
        "a device that never pulled after the grant holds nothing"
    );
    assert!(pull_all(s, &vol).await.rows.is_empty(), "a fresh device gets nothing and no revoke");

    let err = s.revoke("vic", &scope, now()).await.expect_err("no such grant");
    assert!(matches!(&err, StorageError::NotFound(m) if m.contains("no grant")), "{err:?}");
    let err = s.grant("nobody", &scope, now()).await.expect_err("unknown user");
    assert!(matches!(&err, StorageError::NotFound(m) if m.contains("nobody")), "{err:?}");
    let err = s.revoke("nobody", &scope, now()).await.expect_err("unknown user");
    assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
    let err = s.grant("vic", "public", now()).await.expect_err("public");
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");
    let err = s.grant("vic", "contact:nope", now()).await.expect_err("bad scope");
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");
}

pub async fn lowering_a_role_revokes_every_restricted_scope_and_raising_it_resends_them(s: &dyn Storage) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let (tom, _) = member(s, "tom", Role::Staff).await;
    let (one, _) = restricted_person(s, &staff, sd, "One").await;
    let (two, _) = restricted_person(s, &staff, sd, "Two").await;
    s.grant("tom", &scope::contact(two), now()).await.expect("grant");
    let holding = pull_all(s, &tom).await;
    assert_eq!(holding.rows.len(), 4, "staff hold every restricted row");

    let lowered = s.set_role("tom", Role::Volunteer).await.expect("lower");
    assert_eq!(lowered.role, Role::Volunteer);
    // `tom` still says staff: the pull must use the role in the database.
    let since = s.pull(&tom, holding.next_cursor, 5_000).await.expect("pull");
    assert_eq!(
        since.revoked_scopes,
        vec![scope::contact(one)],
        "every restricted scope but the granted one is revoked"
    );
    assert!(since.rows.is_empty());
    assert!(pull_all(s, &tom).await.revoked_scopes.is_empty(), "a fresh device holds nothing");

    s.set_role("tom", Role::Trainer).await.expect("sideways");
    let sideways = s.pull(&tom, since.next_cursor, 5_000).await.expect("pull");
    assert!(sideways.rows.is_empty() && sideways.revoked_scopes.is_empty(), "volunteer to trainer changes nothing");

    s.set_role("tom", Role::Admin).await.expect("raise");
    let raised = s.pull(&tom, sideways.next_cursor, 5_000).await.expect("pull");
    assert_eq!(raised.rows.len(), 4, "every restricted row is re-sent to the raised user: {raised:?}");
}

pub async fn pushes_to_records_a_user_may_not_read_are_refused_without_saying_whether_they_exist(s: &dyn Storage) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let sb = device(s, &staff, "hash-sam-2").await;
    let (vol, vd) = member(s, "vic", Role::Volunteer).await;
    let (trainer, td) = member(s, "tia", Role::Trainer).await;
    let (contact, email) = restricted_person(s, &staff, sd, "Ada").await;
    push_ok(s, &staff, sb, vec![change(contact, &[("display_name", json!("Ada B"), hlc(1, 0))])]).await;
    let conflict = conflicts(&pull_all(s, &staff).await).first().map(|c| c.row_id).expect("a conflict");
    let public = Uuid::now_v7();
    let mut email_edit = change(email, &[("label", json!("work"), hlc(2, 0))]);
    email_edit.entity = EntityKind::ContactEmail;

    let req = batch(vec![
        change(contact, &[("notes", json!("mine"), hlc(2, 0))]),
        email_edit,
        child(EntityKind::ContactPhone, Uuid::now_v7(), contact, &[("number", json!("123"))], hlc(2, 0)),
        Change { entity: EntityKind::Conflict, ..change(conflict, &[("resolution", json!("edited"), hlc(2, 0))]) },
        delete(contact, hlc(2, 0)),
        change(public, &[("display_name", json!("Open"), hlc(2, 0))]),
        change(Uuid::now_v7(), &[("display_name", json!("Secret"), hlc(2, 0)), ("restricted", json!(true), hlc(2, 0))]),
        change(public, &[("restricted", json!(false), hlc(3, 0))]),
    ]);
    let resp = s.push(&vol, vd, &req, now()).await.expect("push");
    let record = "You may not change this record; ask a staff member for access.";
    let restrict = "Only staff and administrators may set restricted on a contact.";
    let expected =
        [Some(record), Some(record), Some(record), Some(record), Some(record), None, Some(restrict), Some(restrict)];
    for (i, (result, expected)) in resp.results.iter().zip(expected).enumerate() {
        match expected {
            None => assert_eq!(result.outcome, Outcome::Accepted, "change {i}: one refusal never blocks the batch"),
            Some(message) => {
                let error = result.error.as_ref().unwrap_or_else(|| panic!("change {i} is refused: {resp:?}"));
                assert_eq!((error.code, error.message.as_str()), (ErrorCode::Forbidden, message), "change {i}");
            }
        }
    }
    let trainer_resp = s
        .push(&trainer, td, &batch(vec![change(public, &[("restricted", json!(true), hlc(4, 0))])]), now())
        .await
        .expect("push");
    assert_eq!(
        trainer_resp.results[0].error.as_ref().map(|e| e.message.as_str()),
        Some(restrict),
        "trainers may not restrict either"
    );
    let kept = row(s, &staff, contact).await.expect("contact");
    assert!(!kept.deleted && !kept.fields.contains_key("notes"), "nothing of the refused changes applied: {kept:?}");

    // A granted volunteer may edit the contact, but not unrestrict it.
    s.grant("vic", &scope::contact(contact), now()).await.expect("grant");
    let granted = s
        .push(
            &vol,
            vd,
            &batch(vec![
                change(contact, &[("notes", json!("granted edit"), hlc(5, 0))]),
                change(contact, &[("restricted", json!(false), hlc(5, 0))]),
            ]),
            now(),
        )
        .await
        .expect("push");
    assert_eq!(outcomes(&granted), vec![Outcome::Accepted, Outcome::Rejected], "{granted:?}");
    // Staff may restrict and unrestrict.
    push_ok(s, &staff, sd, vec![change(public, &[("restricted", json!(true), hlc(6, 0))])]).await;
}

pub async fn erasure_purges_conflicts_and_rows_found_by_parent(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let (contact, kids) = person(s, &u, a, "Ada").await;
    // A child naming its contact in another UUID spelling, and a conflict about the contact.
    let upper = Uuid::now_v7();
    let mut shouting = child(EntityKind::ContactPhone, upper, contact, &[("number", json!("1"))], hlc(0, 2));
    shouting.fields.get_mut("contact_id").expect("parent").value = json!(contact.simple().to_string().to_uppercase());
    push_ok(s, &u, a, vec![shouting]).await;
    push_ok(s, &u, b, vec![change(contact, &[("notes", json!("changed"), hlc(1, 0))])]).await;
    let conflict = conflicts(&pull_all(s, &u).await).first().map(|c| c.row_id).expect("a conflict");
    let other = person(s, &u, a, "Grace").await.0;

    let report = s.erase_contact(contact, now()).await.expect("erase");
    assert_eq!(
        (report.rows, report.related_rows),
        (6, 5),
        "contact, 3 children, the phone and the conflict: {report:?}"
    );
    let all = pull_all(s, &u).await;
    for id in kids.iter().chain([upper, conflict, contact].iter()) {
        assert_purged(all.rows.iter().find(|r| r.row_id == *id).expect("a purged tombstone"));
    }
    assert!(!all.rows.iter().find(|r| r.row_id == other).expect("other").purged, "others are untouched");
    let retry = s
        .push(
            &u,
            b,
            &batch(vec![Change {
                entity: EntityKind::Conflict,
                ..change(conflict, &[("resolution", json!("edited"), hlc(9, 0))])
            }]),
            now(),
        )
        .await
        .expect("push");
    assert_erased(&retry, 0);
}

pub async fn a_page_of_rows_the_user_may_not_read_still_moves_the_cursor(s: &dyn Storage) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let (vol, _) = member(s, "vic", Role::Volunteer).await;
    let secret: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for id in &secret {
        push_ok(
            s,
            &staff,
            sd,
            vec![change(*id, &[("display_name", json!("S"), hlc(0, 0)), ("restricted", json!(true), hlc(0, 0))])],
        )
        .await;
    }
    let open: Vec<Uuid> = (0..2).map(|_| Uuid::now_v7()).collect();
    for id in &open {
        push_ok(s, &staff, sd, vec![change(*id, &[("display_name", json!("O"), hlc(0, 0))])]).await;
    }

    let first = s.pull(&vol, 0, 2).await.expect("pull");
    assert!(first.rows.is_empty(), "the first page holds only restricted rows");
    assert!(first.has_more && first.next_cursor > 0, "yet the cursor moves and says there is more: {first:?}");
    let (rows, revoked, cursor) = pull_pages(s, &vol, 0, 2).await;
    assert_eq!(rows.iter().map(|r| r.row_id).collect::<Vec<_>>(), open, "every readable row once, in order");
    assert!(revoked.is_empty());
    assert_eq!(cursor, pull_all(s, &staff).await.next_cursor, "the last page ends at the server's counter");

    // A revocation after the last row is still covered by the cursor.
    push_ok(s, &staff, sd, vec![change(open[0], &[("restricted", json!(true), hlc(1, 0))])]).await;
    let after = s.pull(&vol, cursor, 2).await.expect("pull");
    assert!(after.rows.is_empty() && !after.has_more, "{after:?}");
    assert_eq!(after.revoked_scopes, vec![scope::contact(open[0])]);
    let end = s.pull(&vol, after.next_cursor, 2).await.expect("pull");
    assert!(end.revoked_scopes.is_empty() && end.next_cursor == after.next_cursor, "reported once; the cursor stays");
}

// --- Snapshots, tombstone pruning and the horizon ---

/// Every chunk of a snapshot at `at` from `after`, in chunks of `limit`: the rows, and how many
/// chunks it took.
async fn snapshot_all(s: &dyn Storage, u: &User, at: u64, after: u64, limit: u32) -> (Vec<RowState>, usize) {
    let (mut rows, mut chunks, mut after) = (Vec::new(), 0, after);
    loop {
        let chunk = s.snapshot_chunk(u, at, after, limit).await.expect("snapshot chunk");
        chunks += 1;
        assert!(chunk.rows.len() <= limit as usize, "a chunk holds at most `limit` rows");
        assert!(
            chunk.last_seq >= after && chunk.last_seq <= at,
            "the chunk stays in ({after}, {at}]: {}",
            chunk.last_seq
        );
        if !chunk.done {
            assert!(chunk.last_seq > after, "an unfinished chunk moves forward");
        }
        rows.extend(chunk.rows.into_iter().map(|row| row.decode().expect("a snapshot row's document parses")));
        after = chunk.last_seq;
        if chunk.done {
            return (rows, chunks);
        }
        assert!(chunks < 1_000, "a snapshot ends");
    }
}

/// The live rows a device holds after applying `rows` (in order) and `revoked` scopes to `held`.
fn apply(held: &mut std::collections::BTreeMap<Uuid, RowState>, rows: Vec<RowState>, revoked: &[String]) {
    for row in rows {
        if row.deleted {
            held.remove(&row.row_id);
        } else {
            held.insert(row.row_id, row);
        }
    }
    held.retain(|_, row| !revoked.contains(&row.scope));
}

/// Staff `sam` and volunteer `vic`; public people, a restricted one, a deleted row, and a later
/// edit, create and delete after the snapshot point. Returns the users and `at`, with the ids
/// `(edited after at, deleted after at, created after at, deleted before at, restricted contact)`.
async fn snapshot_world(s: &dyn Storage) -> ((User, Uuid), (User, Uuid), u64, [Uuid; 5]) {
    let (staff, sd) = member(s, "sam", Role::Staff).await;
    let (vol, vd) = member(s, "vic", Role::Volunteer).await;
    let (ada, _) = person(s, &staff, sd, "Ada").await;
    let (_grace, grace_kids) = person(s, &vol, vd, "Grace").await;
    let (secret, _) = restricted_person(s, &staff, sd, "Secret").await;
    let gone = Uuid::now_v7();
    push_ok(s, &vol, vd, vec![change(gone, &[("display_name", json!("Gone"), hlc(0, 0))])]).await;
    push_ok(s, &vol, vd, vec![delete(gone, hlc(1, 0))]).await;
    let at = s.current_seq().await.expect("current seq");
    assert_eq!(at, pull_all(s, &staff).await.next_cursor, "the counter is where a full pull ends");

    // After `at`: an edit, a delete, a new contact.
    push_ok(s, &staff, sd, vec![change(ada, &[("notes", json!("edited later"), hlc(2, 0))])]).await;
    let mut phone_delete = delete(grace_kids[1], hlc(2, 0));
    phone_delete.entity = EntityKind::ContactPhone;
    push_ok(s, &vol, vd, vec![phone_delete]).await;
    let late = Uuid::now_v7();
    push_ok(s, &vol, vd, vec![change(late, &[("display_name", json!("Late"), hlc(2, 0))])]).await;
    ((staff, sd), (vol, vd), at, [ada, grace_kids[1], late, gone, secret])
}

pub async fn a_snapshot_holds_exactly_the_live_readable_rows_at_its_sequence_in_seq_order(s: &dyn Storage) {
    let ((staff, _), (vol, _), at, [ada, deleted_later, late, gone, secret]) = snapshot_world(s).await;
    let full = pull_all(s, &staff).await.rows;
    // What the staff member could hold at `at`: every live row whose latest version is at or
    // below it.
    let expected: Vec<RowState> = full.iter().filter(|r| !r.deleted && r.seq <= at).cloned().collect();

    let (rows, chunks) = snapshot_all(s, &staff, at, 0, 3).await;
    assert!(chunks > 2, "read in several chunks: {chunks}");
    assert_eq!(rows, expected, "the same row states as a pull, live ones only, in seq order");
    assert!(rows.windows(2).all(|w| w[0].seq < w[1].seq), "seq order");
    let ids: Vec<Uuid> = rows.iter().map(|r| r.row_id).collect();
    assert!(!ids.contains(&gone), "a tombstone is left out: an empty device has nothing to delete");
    assert!(
        !ids.contains(&ada) && !ids.contains(&deleted_later),
        "rows changed after `at` come with the pull from `at`"
    );
    assert!(!ids.contains(&late), "rows created after `at` are not in it");
    assert!(ids.contains(&secret), "staff read the restricted contact");

    let (vol_rows, _) = snapshot_all(s, &vol, at, 0, 3).await;
    let vol_expected: Vec<RowState> = expected.iter().filter(|r| r.scope == scope::PUBLIC).cloned().collect();
    assert!(vol_expected.len() < expected.len(), "the world has restricted rows");
    assert_eq!(vol_rows, vol_expected, "a volunteer gets no restricted row, whatever the chunking");

    let (one_chunk, chunks) = snapshot_all(s, &staff, at, 0, 5_000).await;
    assert_eq!((one_chunk, chunks), (expected, 1), "one chunk when the limit covers everything");
    let (empty, _) = snapshot_all(s, &staff, 0, 0, 10).await;
    assert!(empty.is_empty(), "a snapshot at 0 holds nothing");
}

pub async fn a_snapshot_resumed_after_its_last_stored_row_returns_only_the_rest(s: &dyn Storage) {
    let ((staff, _), (vol, _), at, _) = snapshot_world(s).await;
    for user in [&staff, &vol] {
        let (all, _) = snapshot_all(s, user, at, 0, 5_000).await;
        for cut in 0..all.len() {
            let after = all[cut].seq;
            let (rest, _) = snapshot_all(s, user, at, after, 2).await;
            assert_eq!(rest, all[cut + 1..].to_vec(), "{}: resuming after row {cut} sends only the rest", user.name);
        }
    }
    // Resuming after a seq of a row the volunteer may not read (or a tombstone) works the same.
    let (staff_rows, _) = snapshot_all(s, &staff, at, 0, 5_000).await;
    let (vol_rows, _) = snapshot_all(s, &vol, at, 0, 5_000).await;
    let hidden = staff_rows.iter().find(|r| r.scope != scope::PUBLIC).expect("a restricted row");
    let (rest, _) = snapshot_all(s, &vol, at, hidden.seq, 2).await;
    let expected: Vec<RowState> = vol_rows.into_iter().filter(|r| r.seq > hidden.seq).collect();
    assert_eq!(rest, expected);
}

pub async fn a_snapshot_then_a_pull_from_its_sequence_equals_a_full_pull(s: &dyn Storage) {
    let ((staff, sd), (vol, _), at, [_, _, _, _, secret]) = snapshot_world(s).await;
    // After `at` the restricted contact is opened to volunteers and another is restricted.
    push_ok(s, &staff, sd, vec![change(secret, &[("restricted", json!(false), hlc(3, 0))])]).await;
    let (hidden, _) = person(s, &staff, sd, "Soon hidden").await;
    let before_hiding = s.current_seq().await.expect("seq");
    push_ok(s, &staff, sd, vec![change(hidden, &[("restricted", json!(true), hlc(4, 0))])]).await;

    for (user, snapshot_at) in [(&staff, at), (&vol, at), (&vol, before_hiding)] {
        let mut device = std::collections::BTreeMap::new();
        let (rows, _) = snapshot_all(s, user, snapshot_at, 0, 4).await;
        apply(&mut device, rows, &[]);
        let (rows, revoked, _) = pull_pages(s, user, snapshot_at, 3).await;
        apply(&mut device, rows, &revoked);

        let mut fresh = std::collections::BTreeMap::new();
        apply(&mut fresh, pull_all(s, user).await.rows, &[]);
        assert_eq!(device, fresh, "{} from a snapshot at {snapshot_at}: snapshot + pull is the full state", user.name);
    }
}

pub async fn a_pull_from_below_the_horizon_must_resync_and_others_pull_as_usual(s: &dyn Storage) {
    let (u, a, _) = setup(s).await;
    let old = now() - Duration::days(200);
    let old_hlc = |k: u64| Hlc::new(u64::try_from(old.timestamp_millis()).expect("positive") + k, 0);
    let gone = Uuid::now_v7();
    s.push(&u, a, &batch(vec![change(gone, &[("display_name", json!("Gone"), old_hlc(0))])]), old).await.expect("push");
    s.push(&u, a, &batch(vec![delete(gone, old_hlc(1))]), old).await.expect("delete");
    let tombstone = row(s, &u, gone).await.expect("tombstone").seq;
    let kept = Uuid::now_v7();
    push_ok(s, &u, a, vec![change(kept, &[("display_name", json!("Kept"), hlc(0, 0))])]).await;

    let report = s.prune_tombstones(now() - Duration::days(180)).await.expect("prune");
    assert_eq!((report.rows, report.horizon_seq), (1, tombstone), "{report:?}");

    let err = s.pull(&u, tombstone - 1, 100).await.expect_err("a cursor before the pruned tombstone");
    assert!(
        matches!(err, StorageError::ResyncRequired { since, horizon } if since == tombstone - 1 && horizon == tombstone),
        "the device may have missed the deletion: it must re-sync: {err:?}"
    );
    let at = s.pull(&u, tombstone, 100).await.expect("a cursor at the horizon saw the tombstone");
    assert_eq!(ids(&at), vec![kept]);
    let fresh = s.pull(&u, 0, 100).await.expect("a new device is never told to re-sync");
    assert_eq!(ids(&fresh), vec![kept], "the tombstone is gone from every pull");
    let (snap, _) = snapshot_all(s, &u, tombstone - 1, 0, 10).await;
    assert!(snap.is_empty(), "a snapshot below the horizon is still served: {snap:?}");
}

pub async fn pruning_removes_only_old_tombstones_keeps_erasures_refused_and_raises_the_horizon(s: &dyn Storage) {
    let (u, a, b) = setup(s).await;
    let old = now() - Duration::days(200);
    let old_hlc = |k: u64| Hlc::new(u64::try_from(old.timestamp_millis()).expect("positive") + k, 0);
    let push_old = async |changes: Vec<Change>| {
        let resp = s.push(&u, a, &batch(changes), old).await.expect("push");
        assert!(resp.results.iter().all(|r| r.outcome == Outcome::Accepted), "{resp:?}");
    };

    // Long ago: a deleted row, an erased person, a deleted email of a contact that is restricted
    // only now (its tombstone is re-sent now, so it is recent), and a revoked grant.
    let old_delete = Uuid::now_v7();
    push_old(vec![change(old_delete, &[("display_name", json!("Old"), old_hlc(0))])]).await;
    push_old(vec![delete(old_delete, old_hlc(1))]).await;
    let (erased, erased_kids) = person(s, &u, a, "Erased").await;
    s.erase_contact(erased, old).await.expect("erase");
    member(s, "vic", Role::Volunteer).await;
    let (restricted, _) = restricted_person(s, &u, a, "Restricted").await;
    s.grant("vic", &scope::contact(restricted), old).await.expect("grant");
    s.revoke("vic", &scope::contact(restricted), old).await.expect("revoke");
    let revocation_seq = s.current_seq().await.expect("the revocation took the last seq");
    let (later, later_email) = (Uuid::now_v7(), Uuid::now_v7());
    push_old(vec![
        change(later, &[("display_name", json!("Later"), old_hlc(2))]),
        child(EntityKind::ContactEmail, later_email, later, &[("address", json!("l@example.org"))], old_hlc(2)),
    ])
    .await;
    let mut email_delete = delete(later_email, old_hlc(3));
    email_delete.entity = EntityKind::ContactEmail;
    push_old(vec![email_delete]).await;
    // Recently: a deletion, and the restriction that re-sends the old email tombstone.
    let recent = Uuid::now_v7();
    push_ok(s, &u, a, vec![change(recent, &[("display_name", json!("Recent"), hlc(0, 0))])]).await;
    push_ok(s, &u, a, vec![delete(recent, hlc(1, 0))]).await;
    push_ok(s, &u, a, vec![change(later, &[("restricted", json!(true), hlc(1, 0))])]).await;
    let before = pull_all(s, &u).await;

    let report = s.prune_tombstones(now() - Duration::days(180)).await.expect("prune");
    // The old delete and the erased contact with its three rows; the email re-sent now stays.
    assert_eq!((report.rows, report.revocations), (5, 1), "{report:?}");
    let pruned_ids: Vec<Uuid> = [old_delete, erased].into_iter().chain(erased_kids.iter().copied()).collect();
    let newest_tombstone = before.rows.iter().filter(|r| pruned_ids.contains(&r.row_id)).map(|r| r.seq).max();
    assert_eq!(
        report.horizon_seq,
        newest_tombstone.expect("seqs").max(revocation_seq),
        "the horizon is the highest seq pruned, the revocation's here: a device before it may have missed it"
    );

    let after = pull_all(s, &u).await;
    let remaining: Vec<Uuid> = after.rows.iter().map(|r| r.row_id).collect();
    for id in &pruned_ids {
        assert!(!remaining.contains(id), "old tombstones are removed: {id}");
    }
    let expected: Vec<&RowState> = before.rows.iter().filter(|r| !pruned_ids.contains(&r.row_id)).collect();
    assert_eq!(after.rows.iter().collect::<Vec<_>>(), expected, "everything else is untouched, tombstones included");
    let email = after.rows.iter().find(|r| r.row_id == later_email).expect("the re-sent email tombstone");
    assert!(email.deleted, "kept: it was re-sent recently, so devices may still need it");
    assert!(after.rows.iter().any(|r| r.row_id == recent && r.deleted), "a recent tombstone is kept");

    // An erased id is still refused after its tombstone is gone.
    let resp = s
        .push(&u, b, &batch(vec![change(erased, &[("display_name", json!("Back"), hlc(9, 0))])]), now())
        .await
        .expect("push");
    assert_erased(&resp, 0);

    // The horizon never goes down; pruning again removes nothing.
    let again = s.prune_tombstones(now() - Duration::days(180)).await.expect("prune again");
    assert_eq!((again.rows, again.revocations, again.horizon_seq), (0, 0, report.horizon_seq));
    let earlier = s.prune_tombstones(now() - Duration::days(400)).await.expect("prune with an older cutoff");
    assert_eq!(earlier.horizon_seq, report.horizon_seq, "the horizon is never lowered");
    let everything = s.prune_tombstones(now() + Duration::days(1)).await.expect("prune everything");
    assert_eq!(everything.rows, 2, "the email and the recent deletion: {everything:?}");
    assert!(everything.horizon_seq > report.horizon_seq);
    assert!(pull_all(s, &u).await.rows.iter().all(|r| !r.deleted), "no tombstone left");
}

pub async fn audit_entries_appended_at_once_form_one_unbroken_chain_in_order(s: &dyn Storage) {
    use liaison_server::audit::{self, NewAudit};
    let entry = |i: usize| NewAudit {
        actor: format!("user{i}"),
        action: "grant".into(),
        object: format!("user:u{i}"),
        detail: "queue:x".into(),
    };
    let entries: Vec<NewAudit> = (0..20).map(entry).collect();
    let appends = entries.iter().map(|e| s.append_audit(e, now()));
    let written = futures_util::future::join_all(appends).await;
    assert!(written.iter().all(Result::is_ok), "{written:?}");
    let all = audit::all(s).await.expect("read");
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=20).collect::<Vec<u64>>(), "no gaps, no forks");
    let verified = audit::verify(all.clone()).expect("concurrent appends still make one chain");
    assert_eq!(verified.head, Some((20, all[19].hash.clone())));
    let page = s.audit_entries(5, 3).await.expect("page");
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6, 7, 8], "pages after a sequence number");
}
