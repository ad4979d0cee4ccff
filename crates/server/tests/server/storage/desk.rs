//! The storage contract for the desk's entities (queues, memberships, cases, their contacts,
//! messages and attachments): scopes derived at every depth, memberships that grant and revoke,
//! append-only messages, erasure through every level, and the protocol filter.

use crate::support::batch;
use chrono::{DateTime, TimeZone, Utc};
use liaison_protocol::error::ErrorCode;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::scope;
use liaison_protocol::wire::{Change, FieldWrite, Incoming, Outcome, PushBatch, PushResponse, Role, RowState};
use liaison_server::storage::{NewDevice, NewUser, Storage, User};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_750_000_000_000).single().expect("a valid time")
}

fn hlc(offset_ms: u64) -> Hlc {
    Hlc::new(u64::try_from(now().timestamp_millis()).expect("positive") + offset_ms, 0)
}

fn row_change(entity: EntityKind, id: Uuid, fields: &[(&str, Value)], at: Hlc) -> Change {
    Change {
        change_id: Uuid::now_v7(),
        entity,
        row_id: id,
        base_seq: 0,
        fields: fields.iter().map(|(n, v)| ((*n).to_owned(), FieldWrite { value: v.clone(), hlc: at })).collect(),
        deleted: None,
    }
}

fn queue(id: Uuid, name: &str) -> Change {
    row_change(EntityKind::Queue, id, &[("name", json!(name)), ("language", json!("en"))], hlc(0))
}

fn member_id(queue: Uuid, user: &str) -> Uuid {
    let values = BTreeMap::from([("queue_id".to_owned(), json!(queue.to_string())), ("user".to_owned(), json!(user))]);
    EntityKind::QueueMember.def().derived_id_of(&values).expect("derived")
}

fn membership(queue: Uuid, user: &str) -> Change {
    let fields = [("queue_id", json!(queue.to_string())), ("user", json!(user)), ("role", json!("agent"))];
    row_change(EntityKind::QueueMember, member_id(queue, user), &fields, hlc(0))
}

fn removed(mut c: Change, at: Hlc) -> Change {
    c.change_id = Uuid::now_v7();
    c.fields.clear();
    c.deleted = Some(at);
    c
}

fn case(id: Uuid, queue: Uuid, subject: &str) -> Change {
    let fields = [
        ("queue_id", json!(queue.to_string())),
        ("subject", json!(subject)),
        ("kind", json!("inquiry")),
        ("channel", json!("email")),
        ("state", json!("new")),
    ];
    row_change(EntityKind::Case, id, &fields, hlc(0))
}

fn message(id: Uuid, case: Uuid, body: &str, author: Option<Uuid>) -> Change {
    let mut fields = vec![
        ("case_id", json!(case.to_string())),
        ("kind", json!(if author.is_some() { "inbound" } else { "note" })),
        ("channel", json!("email")),
        ("sent_at", json!("2026-12-01T10:00:00Z")),
        ("body", json!(body)),
    ];
    if let Some(author) = author {
        fields.push(("author_contact_id", json!(author.to_string())));
    }
    row_change(EntityKind::CaseMessage, id, &fields, hlc(0))
}

fn attachment(id: Uuid, message: Uuid) -> Change {
    let fields = [
        ("message_id", json!(message.to_string())),
        ("name", json!("screenshot.png")),
        ("media_type", json!("image/png")),
        ("size", json!(1234)),
        ("sha256", json!("ab".repeat(32))),
    ];
    row_change(EntityKind::Attachment, id, &fields, hlc(0))
}

fn link(case: Uuid, contact: Uuid) -> Change {
    let values = BTreeMap::from([
        ("case_id".to_owned(), json!(case.to_string())),
        ("contact_id".to_owned(), json!(contact.to_string())),
    ]);
    let id = EntityKind::CaseContact.def().derived_id_of(&values).expect("derived");
    let fields = [
        ("case_id", values["case_id"].clone()),
        ("contact_id", values["contact_id"].clone()),
        ("role", json!("reader")),
    ];
    row_change(EntityKind::CaseContact, id, &fields, hlc(0))
}

async fn person(s: &dyn Storage, name: &str, role: Role) -> (User, Uuid) {
    let u = s
        .create_user(NewUser { name: name.into(), role, password_hash: "$argon2id$fake".into() })
        .await
        .expect("create user");
    let d = Uuid::now_v7();
    s.register_device(
        NewDevice { id: d, user_id: u.id, name: format!("{name}-laptop"), token_hash: format!("hash-{name}") },
        now(),
    )
    .await
    .expect("device");
    (u, d)
}

async fn push(s: &dyn Storage, u: &User, d: Uuid, changes: Vec<Change>) -> PushResponse {
    s.push(u, d, &batch(changes), now()).await.expect("push")
}

async fn push_ok(s: &dyn Storage, u: &User, d: Uuid, changes: Vec<Change>) -> PushResponse {
    let n = changes.len();
    let resp = push(s, u, d, changes).await;
    assert_eq!(resp.results.iter().map(|r| r.outcome).collect::<Vec<_>>(), vec![Outcome::Accepted; n], "{resp:?}");
    resp
}

fn refused(resp: &PushResponse, index: usize) -> (ErrorCode, String) {
    let r = &resp.results[index];
    assert_eq!(r.outcome, Outcome::Rejected, "change {index} must be refused: {r:?}");
    let e = r.error.as_ref().expect("a reason");
    (e.code, e.message.clone())
}

/// Everything `u` pulls from `since`, page by page: rows (newest version of each), revoked scopes, cursor.
async fn pull_from(s: &dyn Storage, u: &User, since: u64) -> (Vec<RowState>, Vec<String>, u64) {
    let (mut rows, mut revoked, mut cursor) = (Vec::<RowState>::new(), Vec::new(), since);
    loop {
        let page = s.pull(u, cursor, 100).await.expect("pull");
        for row in page.rows {
            rows.retain(|r| r.row_id != row.row_id);
            rows.push(row);
        }
        revoked.extend(page.revoked_scopes);
        cursor = page.next_cursor;
        if !page.has_more {
            return (rows, revoked, cursor);
        }
    }
}

fn live_ids(rows: &[RowState]) -> BTreeSet<Uuid> {
    rows.iter().filter(|r| !r.deleted).map(|r| r.row_id).collect()
}

/// A queue with a case, a note, an attachment and a linked reader: `(queue, case, message, file, reader, link)`.
struct Desk {
    queue: Uuid,
    case: Uuid,
    message: Uuid,
    file: Uuid,
    reader: Uuid,
    link: Uuid,
}

impl Desk {
    fn rows(&self) -> BTreeSet<Uuid> {
        [self.queue, self.case, self.message, self.file, self.link].into()
    }
}

async fn desk(s: &dyn Storage, staff: &User, d: Uuid) -> Desk {
    let (q, c, m, f, reader) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let l = link(c, reader);
    let link_id = l.row_id;
    push_ok(
        s,
        staff,
        d,
        vec![
            queue(q, "info-en"),
            row_change(EntityKind::Contact, reader, &[("display_name", json!("Rita Reader"))], hlc(0)),
            case(c, q, "An error in an article"),
            l,
            message(m, c, "Thank you, we are looking into it.", None),
            attachment(f, m),
        ],
    )
    .await;
    Desk { queue: q, case: c, message: m, file: f, reader, link: link_id }
}

pub async fn a_case_s_thread_takes_its_queue_s_scope_at_every_depth(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let desk = desk(s, &staff, d).await;
    let (rows, _, _) = pull_from(s, &staff, 0).await;
    let queue_scope = scope::of(EntityKind::Queue, desk.queue);
    for id in desk.rows() {
        let row = rows.iter().find(|r| r.row_id == id).expect("staff receive every row");
        assert_eq!(row.scope, queue_scope, "{}: the queue's scope, through case → message → attachment", row.entity);
    }
    let reader = rows.iter().find(|r| r.row_id == desk.reader).expect("the reader");
    assert_eq!(reader.scope, scope::PUBLIC, "a contact keeps its own scope when a case links it");
}

pub async fn a_membership_grants_its_queue_and_removing_it_revokes_the_queue_from_the_member(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let (vera, vd) = person(s, "vera", Role::Volunteer).await;
    let (walt, _) = person(s, "walt", Role::Volunteer).await;
    let desk = desk(s, &staff, d).await;
    let (before, _, cursor) = pull_from(s, &vera, 0).await;
    assert!(live_ids(&before).is_disjoint(&desk.rows()), "a non-member receives nothing of the queue");
    assert!(live_ids(&before).contains(&desk.reader), "but the public contacts");

    let join = membership(desk.queue, "Vera");
    push_ok(s, &staff, d, vec![join.clone()]).await;
    let (rows, revoked, cursor) = pull_from(s, &vera, cursor).await;
    assert!(desk.rows().is_subset(&live_ids(&rows)), "a new member receives the queue's rows, sent again: {rows:?}");
    assert!(live_ids(&rows).contains(&join.row_id), "and the membership");
    assert!(revoked.is_empty());
    let note = Uuid::now_v7();
    push_ok(s, &vera, vd, vec![message(note, desk.case, "Checked the sources.", None)]).await;

    push_ok(s, &staff, d, vec![removed(join, hlc(5))]).await;
    let (_, revoked, _) = pull_from(s, &vera, cursor).await;
    assert_eq!(
        revoked,
        vec![scope::of(EntityKind::Queue, desk.queue)],
        "the removed member's devices delete the queue"
    );
    let (fresh, _, _) = pull_from(s, &vera, 0).await;
    assert!(
        live_ids(&fresh).is_disjoint(&desk.rows()) && !live_ids(&fresh).contains(&note),
        "and never receive it again"
    );
    let resp = push(s, &vera, vd, vec![message(Uuid::now_v7(), desk.case, "late note", None)]).await;
    assert_eq!(refused(&resp, 0).0, ErrorCode::Forbidden, "nor write to it");

    let (rows, revoked, _) = pull_from(s, &walt, 1).await;
    assert!(
        live_ids(&rows).is_disjoint(&desk.rows()) && revoked.is_empty(),
        "someone never in the queue is told nothing"
    );
}

pub async fn messages_and_attachments_are_written_once_and_never_changed(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let desk = desk(s, &staff, d).await;
    let edit = row_change(EntityKind::CaseMessage, desk.message, &[("body", json!("rewritten"))], hlc(10));
    let resp = push(
        s,
        &staff,
        d,
        vec![
            edit,
            removed(message(desk.message, desk.case, "", None), hlc(11)),
            removed(attachment(desk.file, desk.message), hlc(12)),
        ],
    )
    .await;
    for i in 0..3 {
        let (code, why) = refused(&resp, i);
        assert_eq!(code, ErrorCode::InvalidInput, "{why}");
    }
    assert!(refused(&resp, 0).1.contains("never changed"), "the reason says so");
    let (rows, _, _) = pull_from(s, &staff, 0).await;
    let m = rows.iter().find(|r| r.row_id == desk.message).expect("message");
    assert_eq!(m.fields["body"].value, json!("Thank you, we are looking into it."), "the message is as first written");
}

pub async fn erasing_a_reader_removes_their_links_messages_and_attachments_at_every_depth(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let desk = desk(s, &staff, d).await;
    let (theirs, file, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    push_ok(
        s,
        &staff,
        d,
        vec![
            message(theirs, desk.case, "My biography is wrong", Some(desk.reader)),
            attachment(file, theirs),
            message(other, desk.case, "Internal note", None),
        ],
    )
    .await;
    let report = s.erase_contact(desk.reader, now()).await.expect("erase");
    assert_eq!(report.related_rows, 3, "the link, the reader's message and its attachment: {report:?}");
    let (rows, _, _) = pull_from(s, &staff, 0).await;
    for id in [desk.reader, desk.link, theirs, file] {
        let row = rows.iter().find(|r| r.row_id == id).expect("a purged tombstone tells devices");
        assert!(row.purged && row.fields.is_empty(), "{}: purged, no values", row.entity);
    }
    assert!(
        live_ids(&rows).is_superset(&[desk.case, other, desk.message, desk.file].into()),
        "the case and the rest of its thread stay"
    );

    let resp = push(
        s,
        &staff,
        d,
        vec![
            message(Uuid::now_v7(), desk.case, "reply to them", Some(desk.reader)),
            link(desk.case, desk.reader),
            message(Uuid::now_v7(), desk.case, "fine", None),
        ],
    )
    .await;
    assert_eq!(
        refused(&resp, 0).0,
        ErrorCode::Erased,
        "an offline message naming the erased person cannot bring them back"
    );
    assert_eq!(refused(&resp, 1).0, ErrorCode::Erased, "nor a link to them");
    assert_eq!(resp.results[2].outcome, Outcome::Accepted, "the rest of the batch applies");
}

pub async fn moving_a_case_to_another_queue_revokes_it_only_from_readers_of_the_old_queue(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let desk = desk(s, &staff, d).await;
    let other = Uuid::now_v7();
    push_ok(s, &staff, d, vec![queue(other, "info-de")]).await;
    let (one, _) = person(s, "una", Role::Volunteer).await;
    let (two, _) = person(s, "tom", Role::Volunteer).await;
    let (both, _) = person(s, "bea", Role::Volunteer).await;
    let (none, _) = person(s, "nia", Role::Volunteer).await;
    push_ok(
        s,
        &staff,
        d,
        vec![
            membership(desk.queue, "una"),
            membership(other, "tom"),
            membership(desk.queue, "bea"),
            membership(other, "bea"),
        ],
    )
    .await;
    let mut cursors = Vec::new();
    for u in [&one, &two, &both, &none] {
        cursors.push(pull_from(s, u, 0).await.2);
    }

    let mut moved = row_change(EntityKind::Case, desk.case, &[("queue_id", json!(other.to_string()))], hlc(20));
    moved.base_seq = 1;
    push_ok(s, &staff, d, vec![moved]).await;

    let case_scope = scope::of(EntityKind::Case, desk.case);
    let thread: BTreeSet<Uuid> = [desk.case, desk.message, desk.file, desk.link].into();
    let (rows, revoked, _) = pull_from(s, &one, cursors[0]).await;
    assert_eq!(revoked, vec![case_scope.clone()], "a member of the old queue only is told to drop the case");
    assert!(live_ids(&rows).is_disjoint(&thread), "and receives none of its new versions");
    let (rows, revoked, _) = pull_from(s, &two, cursors[1]).await;
    assert!(
        thread.is_subset(&live_ids(&rows)) && revoked.is_empty(),
        "a member of the new queue receives the whole thread"
    );
    let new_scope = scope::of(EntityKind::Queue, other);
    assert!(
        rows.iter().filter(|r| thread.contains(&r.row_id)).all(|r| r.scope == new_scope),
        "now in the new queue's scope"
    );
    let (rows, revoked, _) = pull_from(s, &both, cursors[2]).await;
    assert!(thread.is_subset(&live_ids(&rows)) && revoked.is_empty(), "a member of both keeps it");
    let (_, revoked, _) = pull_from(s, &none, cursors[3]).await;
    assert!(revoked.is_empty(), "someone in neither queue never learns the case exists");
}

pub async fn who_may_create_queues_memberships_and_cases(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let (vera, vd) = person(s, "vera", Role::Volunteer).await;
    let desk = desk(s, &staff, d).await;
    let resp = push(
        s,
        &vera,
        vd,
        vec![queue(Uuid::now_v7(), "mine"), membership(desk.queue, "vera"), case(Uuid::now_v7(), desk.queue, "x")],
    )
    .await;
    assert_eq!(refused(&resp, 0), (ErrorCode::Forbidden, "Only staff and administrators may create a queue.".into()));
    assert_eq!(refused(&resp, 1).0, ErrorCode::Forbidden, "a volunteer cannot make themselves a member");
    assert_eq!(refused(&resp, 2).0, ErrorCode::Forbidden, "nor open a case in a queue they are not in");

    push_ok(s, &staff, d, vec![membership(desk.queue, "vera")]).await;
    let mine = Uuid::now_v7();
    push_ok(s, &vera, vd, vec![case(mine, desk.queue, "Opened by a member")]).await;
    let resp = push(
        s,
        &vera,
        vd,
        vec![
            removed(case(mine, desk.queue, ""), hlc(30)),
            row_change(EntityKind::Queue, desk.queue, &[("name", json!("renamed"))], hlc(30)),
        ],
    )
    .await;
    assert_eq!(refused(&resp, 0), (ErrorCode::Forbidden, "Only staff and administrators may delete a case.".into()));
    assert_eq!(refused(&resp, 1), (ErrorCode::Forbidden, "Only staff and administrators may change a queue.".into()));

    // Staff delete a case: its whole thread goes with it.
    push_ok(s, &staff, d, vec![removed(case(desk.case, desk.queue, ""), hlc(40))]).await;
    let (rows, _, _) = pull_from(s, &staff, 0).await;
    for id in [desk.case, desk.message, desk.file, desk.link] {
        assert!(
            rows.iter().find(|r| r.row_id == id).is_some_and(|r| r.deleted),
            "the thread is tombstoned with the case"
        );
    }
    let resp = push(s, &staff, d, vec![removed(queue(desk.queue, ""), hlc(41))]).await;
    assert_eq!(refused(&resp, 0).0, ErrorCode::InvalidInput, "queues are archived, never deleted");
}

pub async fn a_membership_s_id_is_derived_from_its_queue_and_user(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let (other_staff, d2) = person(s, "sue", Role::Staff).await;
    person(s, "vera", Role::Volunteer).await;
    let q = Uuid::now_v7();
    push_ok(s, &staff, d, vec![queue(q, "info-en")]).await;
    let mut wrong = membership(q, "vera");
    wrong.row_id = Uuid::now_v7();
    let resp = push(s, &staff, d, vec![wrong, membership(q, "nobody")]).await;
    assert!(refused(&resp, 0).1.contains("derived"), "an id not derived from queue and user is refused");
    assert!(refused(&resp, 1).1.contains("no user named"), "a member must be a user");

    // Two administrators add the same person offline: one row.
    push_ok(s, &staff, d, vec![membership(q, "vera")]).await;
    push_ok(s, &other_staff, d2, vec![membership(q, "VERA")]).await;
    let (rows, _, _) = pull_from(s, &staff, 0).await;
    assert_eq!(rows.iter().filter(|r| r.entity == EntityKind::QueueMember && !r.deleted).count(), 1, "one membership");
    let id = member_id(q, "vera");
    let resp =
        push(s, &staff, d, vec![row_change(EntityKind::QueueMember, id, &[("user", json!("sam"))], hlc(50))]).await;
    assert!(refused(&resp, 0).1.contains("cannot be changed"), "a membership is for one user");
    push_ok(s, &staff, d, vec![row_change(EntityKind::QueueMember, id, &[("role", json!("lead"))], hlc(51))]).await;
}

pub async fn a_member_removed_comes_back_as_the_next_round_and_a_blind_re_add_does_not_revive_the_old(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let (late, d2) = person(s, "sue", Role::Staff).await;
    person(s, "vera", Role::Volunteer).await;
    let q = Uuid::now_v7();
    push_ok(s, &staff, d, vec![queue(q, "info-en"), membership(q, "vera")]).await;
    push_ok(s, &staff, d, vec![removed(membership(q, "vera"), hlc(5))]).await;
    let (_, _, cursor) = pull_from(s, &late, 0).await;

    // A device that never saw the first membership (nor its end) adds vera again with round 0:
    // the delete wins, and the tombstone is sent again, past that device's cursor, so it drops
    // its copy.
    let resp = push_ok(s, &late, d2, vec![membership(q, "vera")]).await;
    let (rows, _, _) = pull_from(s, &late, cursor).await;
    let again = rows.iter().find(|r| r.row_id == member_id(q, "vera")).expect("the tombstone comes again");
    assert!(again.deleted, "round 0 stays deleted: {again:?}");
    assert_eq!(resp.results[0].seq, Some(again.seq), "the push answer names the seq it went out at");

    // Round 1 is a new row: a membership again, granting the queue.
    let mut next = membership(q, "vera");
    next.fields.insert("round".into(), FieldWrite { value: json!(1), hlc: hlc(10) });
    next.row_id =
        EntityKind::QueueMember.def().derived_id(|name| next.fields.get(name).map(|w| &w.value)).expect("derived");
    assert_ne!(next.row_id, member_id(q, "vera"), "another id");
    push_ok(s, &late, d2, vec![next.clone()]).await;
    let (rows, _, _) = pull_from(s, &staff, 0).await;
    let live: Vec<&RowState> = rows.iter().filter(|r| r.entity == EntityKind::QueueMember && !r.deleted).collect();
    assert_eq!(live.iter().map(|r| r.row_id).collect::<Vec<_>>(), vec![next.row_id], "one live membership");
    let mut wrong = next.clone();
    wrong.change_id = Uuid::now_v7();
    wrong.fields.insert("round".into(), FieldWrite { value: json!(2), hlc: hlc(11) });
    let resp = push(s, &staff, d, vec![wrong]).await;
    assert!(refused(&resp, 0).1.contains("cannot be changed"), "a membership's round is part of its identity");
}

pub async fn a_client_of_protocol_1_never_receives_rows_of_newer_kinds(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let desk = desk(s, &staff, d).await;
    // A conflict about the case (two devices edit its subject concurrently) is of a newer owner.
    let (_, d2) = (staff.clone(), Uuid::now_v7());
    s.register_device(
        NewDevice { id: d2, user_id: staff.id, name: "second".into(), token_hash: "hash-second".into() },
        now(),
    )
    .await
    .expect("device");
    push_ok(s, &staff, d, vec![row_change(EntityKind::Case, desk.case, &[("subject", json!("One"))], hlc(60))]).await;
    let mut theirs = row_change(EntityKind::Case, desk.case, &[("subject", json!("Two"))], hlc(61));
    theirs.base_seq = 1;
    push_ok(s, &staff, d2, vec![theirs]).await;

    let current = s.current_seq().await.expect("seq");
    let page = s.pull_page_as(&staff, 0, 5_000, 1).await.expect("pull").decode().expect("decode");
    let kinds: BTreeSet<EntityKind> = page.rows.iter().map(|r| r.entity).collect();
    assert_eq!(kinds, [EntityKind::Contact].into(), "protocol 1 knows contacts only: {kinds:?}");
    assert_eq!(page.next_cursor, current, "the cursor still moves past every row");
    let chunk = s.snapshot_chunk_as(&staff, current, 0, 5_000, 1).await.expect("snapshot");
    assert!(chunk.rows.iter().all(|r| r.entity == EntityKind::Contact), "nor in a snapshot");
    let all = s.pull(&staff, 0, 5_000).await.expect("pull");
    let conflict =
        all.rows.iter().find(|r| r.entity == EntityKind::Conflict).expect("protocol 2 receives the case's conflict");
    assert_eq!(conflict.fields["owner_entity"].value, json!("case"));
    assert!(!conflict.fields.contains_key("contact_id"), "a case is no contact");
}

pub async fn a_change_of_a_kind_the_server_does_not_know_is_refused_alone(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let ok = row_change(EntityKind::Contact, Uuid::now_v7(), &[("display_name", json!("Known"))], hlc(0));
    let unknown = Incoming::Unknown { change_id: Uuid::now_v7(), entity: "planet".into() };
    let batch = PushBatch { batch_id: Uuid::now_v7(), changes: vec![unknown, Incoming::Known(ok)] };
    let resp = s.push_batch(&staff, d, &batch, now()).await.expect("push");
    let (code, why) = refused(&resp, 0);
    assert_eq!(code, ErrorCode::InvalidInput);
    assert!(why.contains("\"planet\"") && why.contains("update liaison-server"), "{why}");
    assert_eq!(resp.results[1].outcome, Outcome::Accepted, "the rest of the batch applies");
}

pub async fn a_note_for_a_case_deleted_meanwhile_goes_to_the_inbox(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let desk = desk(s, &staff, d).await;
    push_ok(s, &staff, d, vec![removed(case(desk.case, desk.queue, ""), hlc(70))]).await;
    let mut late = message(Uuid::now_v7(), desk.case, "written offline before the delete arrived", None);
    late.base_seq = 1;
    let resp = push_ok(s, &staff, d, vec![late.clone()]).await;
    assert_eq!(resp.results[0].seq, None, "accepted, so the device stops sending it, but not applied");
    let (rows, _, _) = pull_from(s, &staff, 0).await;
    assert!(!live_ids(&rows).contains(&late.row_id), "no message in a deleted case");
    let conflict = rows.iter().find(|r| r.entity == EntityKind::Conflict).expect("the note waits in the inbox");
    assert_eq!(
        (conflict.fields["owner_entity"].value.clone(), conflict.fields["kind"].value.clone()),
        (json!("case"), json!("delete"))
    );
    assert_eq!(
        conflict.fields["lost"].value["value"]["body"],
        json!("written offline before the delete arrived"),
        "with its text"
    );
}

/// Pull, snapshot, push and conflicts × {admin, staff, trainer, volunteer} × {member of the queue,
/// not a member, removed meanwhile}: only those who may read the queue receive or learn of its
/// case, message, attachment or conflicts.
pub async fn the_authorization_matrix_of_a_queue_s_rows(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let desk = desk(s, &staff, d).await;
    // A conflict about the case, in its scope.
    let d2 = Uuid::now_v7();
    s.register_device(
        NewDevice { id: d2, user_id: staff.id, name: "second".into(), token_hash: "hash-second".into() },
        now(),
    )
    .await
    .expect("device");
    push_ok(s, &staff, d, vec![row_change(EntityKind::Case, desk.case, &[("state", json!("open"))], hlc(80))]).await;
    let mut theirs = row_change(EntityKind::Case, desk.case, &[("state", json!("pending"))], hlc(81));
    theirs.base_seq = 1;
    push_ok(s, &staff, d2, vec![theirs]).await;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Membership {
        Member,
        NotMember,
        Removed,
    }
    for role in Role::ALL {
        for state in [Membership::Member, Membership::NotMember, Membership::Removed] {
            let name = format!("{role}-{state:?}").to_lowercase();
            let (u, ud) = person(s, &name, role).await;
            let join = membership(desk.queue, &name);
            if state != Membership::NotMember {
                push_ok(s, &staff, d, vec![join.clone()]).await;
            }
            let (_, _, cursor) = pull_from(s, &u, 0).await;
            if state == Membership::Removed {
                push_ok(s, &staff, d, vec![removed(join, hlc(90))]).await;
            }
            let reads = matches!(role, Role::Admin | Role::Staff) || state == Membership::Member;
            let why = format!("{role}, {state:?}");

            let (rows, revoked, _) = pull_from(s, &u, 0).await;
            let got = live_ids(&rows);
            let conflicts = rows.iter().filter(|r| r.entity == EntityKind::Conflict).count();
            assert_eq!(desk.rows().is_subset(&got), reads, "{why}: pull");
            assert_eq!(got.is_disjoint(&desk.rows()), !reads, "{why}: all of the queue or none of it");
            assert_eq!(conflicts > 0, reads, "{why}: conflicts follow their case");
            assert!(revoked.is_empty(), "{why}: a fresh device is told of no revocation");

            let at = s.current_seq().await.expect("seq");
            let chunk = s.snapshot_chunk(&u, at, 0, 5_000).await.expect("snapshot");
            let snap: BTreeSet<Uuid> = chunk.rows.iter().map(|r| r.row_id).collect();
            assert_eq!(desk.rows().is_subset(&snap), reads, "{why}: snapshot");
            assert_eq!(snap.is_disjoint(&desk.rows()), !reads, "{why}: snapshot, all or nothing");

            let (_, revoked, _) = pull_from(s, &u, cursor).await;
            let told = revoked.contains(&scope::of(EntityKind::Queue, desk.queue));
            assert_eq!(
                told,
                state == Membership::Removed && !matches!(role, Role::Admin | Role::Staff),
                "{why}: only a removed member is told"
            );

            let resp = push(s, &u, ud, vec![message(Uuid::now_v7(), desk.case, "a note", None)]).await;
            assert_eq!(resp.results[0].outcome == Outcome::Accepted, reads, "{why}: push");
            if !reads {
                assert_eq!(
                    refused(&resp, 0),
                    (ErrorCode::Forbidden, liaison_server::permissions::FORBIDDEN_RECORD.into()),
                    "{why}: one refusal for all"
                );
            }
        }
    }
}

fn canned(id: Uuid, queue: Option<Uuid>, name: &str) -> Change {
    let mut fields =
        vec![("name", json!(name)), ("versions", json!({"en": "Dear {{reader_name|reader}}, thank you."}))];
    if let Some(q) = queue {
        fields.push(("queue_id", json!(q.to_string())));
    }
    row_change(EntityKind::CannedReply, id, &fields, hlc(0))
}

pub async fn a_canned_reply_without_a_queue_is_for_everyone_and_one_of_a_queue_for_its_members(s: &dyn Storage) {
    let (staff, d) = person(s, "sam", Role::Staff).await;
    let (vera, vd) = person(s, "vera", Role::Volunteer).await;
    let (walt, _) = person(s, "walt", Role::Volunteer).await;
    let desk = desk(s, &staff, d).await;
    push_ok(s, &staff, d, vec![membership(desk.queue, "vera")]).await;
    let (global, own) = (Uuid::now_v7(), Uuid::now_v7());
    push_ok(s, &staff, d, vec![canned(global, None, "Thanks"), canned(own, Some(desk.queue), "Queue thanks")]).await;

    let (rows, _, vera_cursor) = pull_from(s, &vera, 0).await;
    let row = |id: Uuid| rows.iter().find(|r| r.row_id == id).cloned();
    assert_eq!(row(global).map(|r| r.scope), Some(scope::PUBLIC.to_owned()), "no queue: public");
    assert_eq!(row(own).map(|r| r.scope), Some(scope::of(EntityKind::Queue, desk.queue)), "a queue's: its scope");
    let (rows, _, walt_cursor) = pull_from(s, &walt, 0).await;
    assert!(live_ids(&rows).contains(&global), "everyone receives the reply for every queue");
    assert!(!live_ids(&rows).contains(&own), "a non-member never receives a queue's reply");

    // Into a queue: it leaves the devices of those who are not its members.
    let mut into_queue =
        row_change(EntityKind::CannedReply, global, &[("queue_id", json!(desk.queue.to_string()))], hlc(10));
    into_queue.base_seq = 1;
    push_ok(s, &staff, d, vec![into_queue]).await;
    let (_, revoked, walt_cursor) = pull_from(s, &walt, walt_cursor).await;
    assert_eq!(revoked, vec![scope::of(EntityKind::CannedReply, global)], "walt is told to drop it");
    let (rows, revoked, vera_cursor) = pull_from(s, &vera, vera_cursor).await;
    assert!(revoked.is_empty() && live_ids(&rows).contains(&global), "a member keeps it");

    // The queue cleared again: for everyone.
    let mut cleared = row_change(EntityKind::CannedReply, global, &[("queue_id", Value::Null)], hlc(20));
    cleared.base_seq = 2;
    push_ok(s, &staff, d, vec![cleared]).await;
    let (rows, _, _) = pull_from(s, &walt, walt_cursor).await;
    assert_eq!(
        rows.iter().find(|r| r.row_id == global).map(|r| r.scope.clone()),
        Some(scope::PUBLIC.to_owned()),
        "clearing the queue makes it public again, and walt receives it"
    );
    let _ = vera_cursor;

    let resp = push(s, &vera, vd, vec![canned(Uuid::now_v7(), None, "Mine")]).await;
    assert_eq!(refused(&resp, 0).0, ErrorCode::Forbidden, "only staff write canned replies");
    let mut bad = canned(Uuid::now_v7(), None, "Broken");
    bad.fields.insert("versions".into(), FieldWrite { value: json!({"en": "Dear {{name}}"}), hlc: hlc(0) });
    let resp = push(s, &staff, d, vec![bad]).await;
    let (code, why) = refused(&resp, 0);
    assert_eq!(code, ErrorCode::InvalidInput);
    assert!(why.contains("{{name}} is not a variable"), "the template's fault, in words: {why}");
}
