//! The contract of the SLA clocks on every backend: a staff device pushes queues, cases, messages
//! and state changes as the app would, the server's worker ([`liaison_server::clocks::follow`])
//! follows the feed at chosen times, and the clocks it writes onto the case (`sla`, `due_at`)
//! are read back as devices receive them. Event times are the worker's `now`.

use chrono::{DateTime, Duration, Utc};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldWrite, Outcome, PushRequest, PushResponse, Role, RowState};
use liaison_server::clocks;
use liaison_server::storage::{NewDevice, NewUser, Storage, User};
use serde_json::{Value, json};
use uuid::Uuid;

/// Tuesday 1 December 2026, 10:00:00.400 UTC (the milliseconds never reach a written time).
fn t0() -> DateTime<Utc> {
    "2026-12-01T10:00:00.400Z".parse().expect("a valid time")
}

fn minutes(n: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(n)
}

/// `t0 + n minutes` as the clocks write it.
fn due(n: i64) -> Value {
    json!((t0() + Duration::minutes(n)).format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A staff member's device pushing rows as the app does.
struct Desk<'a> {
    s: &'a dyn Storage,
    user: User,
    device: Uuid,
    counter: u32,
}

impl<'a> Desk<'a> {
    async fn new(s: &'a dyn Storage) -> Desk<'a> {
        let user = s
            .create_user(NewUser { name: "sam".into(), role: Role::Staff, password_hash: "$argon2id$fake".into() })
            .await
            .expect("user");
        let device = Uuid::now_v7();
        s.register_device(
            NewDevice { id: device, user_id: user.id, name: "laptop".into(), token_hash: "t".into() },
            t0(),
        )
        .await
        .expect("device");
        Desk { s, user, device, counter: 0 }
    }

    async fn push(
        &mut self,
        entity: EntityKind,
        id: Uuid,
        fields: &[(&str, Value)],
        at: DateTime<Utc>,
    ) -> PushResponse {
        self.counter += 1;
        let hlc = Hlc::new(u64::try_from(at.timestamp_millis()).expect("positive"), self.counter);
        let change = Change {
            change_id: Uuid::now_v7(),
            entity,
            row_id: id,
            base_seq: 0,
            fields: fields.iter().map(|(n, v)| ((*n).to_owned(), FieldWrite { value: v.clone(), hlc })).collect(),
            deleted: None,
        };
        let request = PushRequest { batch_id: Uuid::now_v7(), changes: vec![change] };
        self.s.push(&self.user, self.device, &request, at).await.expect("push")
    }

    async fn accepted(&mut self, entity: EntityKind, id: Uuid, fields: &[(&str, Value)], at: DateTime<Utc>) {
        let response = self.push(entity, id, fields, at).await;
        assert_eq!(response.results[0].outcome, Outcome::Accepted, "{:?}", response.results[0]);
    }

    async fn queue(&mut self, settings: &[(&str, Value)]) -> Uuid {
        let id = Uuid::now_v7();
        let mut fields = vec![("name", json!(format!("queue-{id}"))), ("language", json!("en"))];
        fields.extend(settings.iter().cloned());
        // Before every case of the tests, so later edits of the queue win.
        let created: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().expect("time");
        self.accepted(EntityKind::Queue, id, &fields, created).await;
        id
    }

    async fn case(&mut self, queue: Uuid, at: DateTime<Utc>) -> Uuid {
        let id = Uuid::now_v7();
        let fields = [
            ("queue_id", json!(queue.to_string())),
            ("subject", json!("Error in the article")),
            ("kind", json!("inquiry")),
            ("channel", json!("email")),
            ("state", json!("new")),
        ];
        self.accepted(EntityKind::Case, id, &fields, at).await;
        id
    }

    async fn message(&mut self, case: Uuid, kind: &str, at: DateTime<Utc>) -> Uuid {
        let id = Uuid::now_v7();
        let fields = [
            ("case_id", json!(case.to_string())),
            ("kind", json!(kind)),
            ("channel", json!("email")),
            // A device's time, which the clocks never use.
            ("sent_at", json!("2020-01-01T00:00:00Z")),
            ("body", json!("…")),
        ];
        self.accepted(EntityKind::CaseMessage, id, &fields, at).await;
        id
    }

    async fn set(&mut self, entity: EntityKind, id: Uuid, name: &str, value: Value, at: DateTime<Utc>) {
        self.accepted(entity, id, &[(name, value)], at).await;
    }
}

fn targets(first: i64, update: i64, resolution: i64) -> (&'static str, Value) {
    ("sla", json!({"first_response": first, "update": update, "resolution": resolution}))
}

async fn row(s: &dyn Storage, kind: EntityKind, id: Uuid) -> RowState {
    s.row(kind, id).await.expect("read").unwrap_or_else(|| panic!("the {kind} {id} exists"))
}

/// The case's `sla` and `due_at` as devices receive them.
async fn clocks_of(s: &dyn Storage, case: Uuid) -> (Value, Value) {
    let row = row(s, EntityKind::Case, case).await;
    let field = |name: &str| row.fields.get(name).map_or(Value::Null, |f| f.value.clone());
    (field("sla"), field("due_at"))
}

async fn follow(s: &dyn Storage, at: DateTime<Utc>) -> u32 {
    clocks::follow(s, at).await.expect("follow")
}

pub async fn a_reader_message_starts_a_first_response_clock_due_at_its_target_on_a_round_the_clock_queue(
    s: &dyn Storage,
) {
    let mut desk = Desk::new(s).await;
    let q = desk.queue(&[targets(60, 120, 600)]).await;
    let case = desk.case(q, t0()).await;
    desk.message(case, "inbound", t0()).await;
    assert_eq!(follow(s, t0()).await, 1, "the case's clocks are written");
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla,
        json!({
            "first_response": {"state": "running", "due": due(60), "breached": false, "elapsed_minutes": 0, "target_minutes": 60},
            "update": {"state": "running", "due": due(120), "breached": false, "elapsed_minutes": 0, "target_minutes": 120},
            "resolution": {"state": "running", "due": due(600), "breached": false, "elapsed_minutes": 0, "target_minutes": 600},
        })
    );
    assert_eq!(due_at, due(60), "the earliest running due time");
    assert_eq!(due_at, json!("2026-12-01T11:00:00Z"), "UTC, whole seconds, Z");

    // Nothing happened: no timer rewrites the clocks (devices compare due_at with their clock).
    assert_eq!(follow(s, minutes(90)).await, 0);
    assert_eq!(clocks_of(s, case).await.1, due(60));

    // A queue without targets has clocks without due times.
    let bare = desk.queue(&[]).await;
    let other = desk.case(bare, minutes(91)).await;
    desk.message(other, "inbound", minutes(91)).await;
    assert_eq!(follow(s, minutes(91)).await, 1);
    let (sla, due_at) = clocks_of(s, other).await;
    assert_eq!(
        sla["first_response"],
        json!({"state": "running", "due": null, "breached": false, "elapsed_minutes": 0, "target_minutes": null})
    );
    assert_eq!(due_at, Value::Null);
}

pub async fn a_public_reply_stops_first_response_and_update_a_note_does_not_and_a_new_message_restarts_update(
    s: &dyn Storage,
) {
    let mut desk = Desk::new(s).await;
    let q = desk.queue(&[targets(60, 120, 600)]).await;
    let case = desk.case(q, t0()).await;
    desk.message(case, "inbound", t0()).await;
    follow(s, t0()).await;

    desk.message(case, "note", minutes(10)).await;
    assert_eq!(follow(s, minutes(10)).await, 0, "an internal note is no event");
    assert_eq!(clocks_of(s, case).await.0["first_response"]["state"], json!("running"));

    desk.message(case, "reply", minutes(20)).await;
    assert_eq!(follow(s, minutes(20)).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["first_response"],
        json!({"state": "stopped", "due": null, "breached": false, "elapsed_minutes": 20, "target_minutes": 60})
    );
    assert_eq!(sla["update"]["state"], json!("stopped"));
    assert_eq!(sla["resolution"]["state"], json!("running"));
    assert_eq!(due_at, due(600), "only resolution runs");

    desk.message(case, "inbound", minutes(30)).await;
    assert_eq!(follow(s, minutes(30)).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["update"],
        json!({"state": "running", "due": due(150), "breached": false, "elapsed_minutes": 0, "target_minutes": 120}),
        "the reader's new message restarts the update clock"
    );
    assert_eq!(sla["first_response"]["state"], json!("stopped"), "answered once is answered");
    assert_eq!(due_at, due(150));

    // Left unanswered past its target, the next event writes it breached.
    desk.message(case, "inbound", minutes(200)).await;
    follow(s, minutes(200)).await;
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(sla["update"]["breached"], json!(true), "170 minutes against 120");
    assert_eq!(sla["update"]["due"], due(150), "overdue since then");
    assert_eq!(due_at, due(150), "so devices show it overdue");
}

pub async fn waiting_on_the_reader_pauses_resolution_and_update_and_resuming_runs_them_again(s: &dyn Storage) {
    let mut desk = Desk::new(s).await;
    let q = desk.queue(&[targets(60, 120, 600)]).await;
    let case = desk.case(q, t0()).await;
    desk.message(case, "inbound", t0()).await;
    follow(s, t0()).await;
    desk.message(case, "reply", minutes(10)).await;
    follow(s, minutes(10)).await;
    desk.message(case, "inbound", minutes(20)).await;
    follow(s, minutes(20)).await;

    desk.set(EntityKind::Case, case, "state", json!("pending"), minutes(30)).await;
    assert_eq!(follow(s, minutes(30)).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["resolution"],
        json!({"state": "paused", "due": null, "breached": false, "elapsed_minutes": 30, "target_minutes": 600})
    );
    assert_eq!(sla["update"]["state"], json!("paused"));
    assert_eq!(sla["first_response"]["state"], json!("stopped"));
    assert_eq!(due_at, Value::Null, "nothing runs while the case waits on the reader");

    desk.set(EntityKind::Case, case, "state", json!("open"), minutes(90)).await;
    assert_eq!(follow(s, minutes(90)).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["resolution"],
        json!({"state": "running", "due": due(90 + 570), "breached": false, "elapsed_minutes": 30, "target_minutes": 600}),
        "the hour spent pending does not count"
    );
    assert_eq!(
        sla["update"],
        json!({"state": "running", "due": due(90 + 110), "breached": false, "elapsed_minutes": 10, "target_minutes": 120})
    );
    assert_eq!(due_at, due(200));
}

pub async fn closing_stops_resolution_and_reopening_resumes_it_with_the_time_spent(s: &dyn Storage) {
    let mut desk = Desk::new(s).await;
    let q = desk.queue(&[targets(60, 120, 600)]).await;
    let case = desk.case(q, t0()).await;
    desk.message(case, "inbound", t0()).await;
    desk.message(case, "reply", t0()).await;
    follow(s, t0()).await;

    desk.set(EntityKind::Case, case, "state", json!("resolved"), minutes(60)).await;
    assert_eq!(follow(s, minutes(60)).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["resolution"],
        json!({"state": "stopped", "due": null, "breached": false, "elapsed_minutes": 60, "target_minutes": 600})
    );
    assert_eq!(due_at, Value::Null);
    desk.set(EntityKind::Case, case, "state", json!("closed"), minutes(70)).await;
    assert_eq!(follow(s, minutes(70)).await, 0, "resolved to closed is still closed");

    desk.set(EntityKind::Case, case, "state", json!("open"), minutes(120)).await;
    assert_eq!(follow(s, minutes(120)).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["resolution"],
        json!({"state": "running", "due": due(120 + 540), "breached": false, "elapsed_minutes": 60, "target_minutes": 600})
    );
    assert_eq!(due_at, due(660));
    let kinds: Vec<_> = clocks::events(s, case).await.expect("events").iter().map(|e| e.kind).collect();
    use liaison_server::sla::EventKind::*;
    assert_eq!(kinds, vec![Opened, ReaderMessage, PublicReply, Closed, Reopened]);
}

pub async fn following_the_same_feed_again_adds_no_event_and_writes_nothing(s: &dyn Storage) {
    let mut desk = Desk::new(s).await;
    let q = desk.queue(&[targets(60, 120, 600)]).await;
    let case = desk.case(q, t0()).await;
    desk.message(case, "inbound", t0()).await;
    desk.message(case, "reply", minutes(5)).await;
    desk.set(EntityKind::Case, case, "state", json!("pending"), minutes(6)).await;
    assert_eq!(follow(s, minutes(10)).await, 1, "one write for everything the case did");
    let seq = s.current_seq().await.expect("seq");
    let events = clocks::events(s, case).await.expect("events");
    assert_eq!(events.len(), 4, "opened, message, reply, pending: {events:?}");
    let written = clocks_of(s, case).await;

    assert_eq!(follow(s, minutes(20)).await, 0, "its own write is not an event");
    // A crash before the cursor was saved: the whole feed again, later.
    assert!(s.delete_record("cursor", clocks::CURSOR_KEY).await.expect("delete cursor"));
    assert_eq!(follow(s, minutes(30)).await, 0, "nothing is written twice");
    assert_eq!(s.current_seq().await.expect("seq"), seq, "the feed did not grow");
    assert_eq!(clocks::events(s, case).await.expect("events"), events, "no event twice");
    assert_eq!(clocks_of(s, case).await, written);

    // Edits the clocks do not depend on write nothing either.
    desk.set(EntityKind::Case, case, "subject", json!("Another subject"), minutes(40)).await;
    desk.set(EntityKind::Case, case, "priority", json!("high"), minutes(41)).await;
    assert_eq!(follow(s, minutes(42)).await, 0);
    assert_eq!(s.current_seq().await.expect("seq"), seq + 2, "only the device's two changes");
}

fn office_hours() -> Value {
    let day = json!([["09:00", "17:00"]]);
    json!({"zone": "Europe/Berlin", "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day}})
}

pub async fn office_hours_queue_edits_and_moves_set_due_times_by_the_queue_s_calendar(s: &dyn Storage) {
    let mut desk = Desk::new(s).await;
    let office = desk.queue(&[("calendar", office_hours()), targets(120, 120, 6000)]).await;
    // Friday 27 November 2026, 16:00 in Berlin: one business hour today, the next on Monday.
    let friday: DateTime<Utc> = "2026-11-27T15:00:00Z".parse().expect("time");
    let case = desk.case(office, friday).await;
    desk.message(case, "inbound", friday).await;
    let closed = desk.case(office, friday).await;
    desk.message(closed, "inbound", friday).await;
    desk.set(EntityKind::Case, closed, "state", json!("closed"), friday).await;
    assert_eq!(follow(s, friday).await, 2);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(sla["first_response"]["due"], json!("2026-11-30T09:00:00Z"), "Monday 10:00 in Berlin");
    assert_eq!(due_at, json!("2026-11-30T09:00:00Z"));
    let closed_clocks = clocks_of(s, closed).await;

    // The queue's target is raised on Saturday: its open cases are recomputed.
    let saturday = friday + Duration::days(1);
    desk.set(EntityKind::Queue, office, "sla", json!({"first_response": 240, "update": 240}), saturday).await;
    assert_eq!(follow(s, saturday).await, 1, "the open case, not the closed one");
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["first_response"],
        json!({"state": "running", "due": "2026-11-30T11:00:00Z", "breached": false, "elapsed_minutes": 60, "target_minutes": 240}),
        "one hour on Friday, three on Monday: 12:00 in Berlin; Saturday does not count"
    );
    assert_eq!(sla["resolution"]["target_minutes"], Value::Null, "the resolution target was removed");
    assert_eq!(due_at, json!("2026-11-30T11:00:00Z"));
    assert_eq!(clocks_of(s, closed).await, closed_clocks, "a closed case keeps the clocks it stopped with");
    // Editing the queue's name recomputes nothing.
    desk.set(EntityKind::Queue, office, "name", json!("info-de"), saturday).await;
    assert_eq!(follow(s, saturday).await, 0);

    // Moved to a round-the-clock queue: measured from its opening by that queue's hours.
    let always = desk.queue(&[targets(240, 240, 6000)]).await;
    desk.set(EntityKind::Case, case, "queue_id", json!(always.to_string()), saturday).await;
    assert_eq!(follow(s, saturday).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(
        sla["first_response"],
        json!({"state": "running", "due": "2026-11-27T19:00:00Z", "breached": true, "elapsed_minutes": 1440, "target_minutes": 240}),
        "24 hours since Friday 15:00 against four: overdue there"
    );
    assert_eq!(due_at, json!("2026-11-27T19:00:00Z"));
}

pub async fn devices_cannot_write_the_clocks(s: &dyn Storage) {
    let mut desk = Desk::new(s).await;
    let q = desk.queue(&[targets(60, 120, 600)]).await;
    let case = desk.case(q, t0()).await;
    for (name, value) in [
        ("sla", json!({"first_response": {"state": "stopped", "due": null, "breached": false}})),
        ("due_at", json!("2099-01-01T00:00:00Z")),
    ] {
        let response = desk.push(EntityKind::Case, case, &[(name, value)], minutes(1)).await;
        let result = &response.results[0];
        assert_eq!(result.outcome, Outcome::Rejected, "{name}: {result:?}");
        let message = result.error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
        assert!(message.contains(&format!("The server sets {name}")), "{message}");
    }
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!((sla, due_at), (Value::Null, Value::Null), "nothing a device sent was kept");
}

pub async fn mail_that_arrives_opens_the_clocks_and_a_reader_answering_resumes_a_pending_case(s: &dyn Storage) {
    use liaison_server::mail::ingest::{self, Ingested, Source};
    let mut desk = Desk::new(s).await;
    let q = desk.queue(&[targets(60, 120, 600)]).await;
    let mailbox = super::mail::mailbox(q);
    let mail = |id: &str, extra: &str| {
        format!(
            "From: ada@reader.example\r\nTo: info-en@example.org\r\nSubject: Question\r\nMessage-ID: <{id}>\r\n\
             Date: Mon, 01 Jan 2001 00:00:00 +0000\r\n{extra}Content-Type: text/plain\r\n\r\nHello\r\n"
        )
        .into_bytes()
    };
    let source = |uid| Source { uid_validity: 1, uid, historic: false };
    let Ingested::NewCase { case, .. } =
        ingest::ingest(s, &mailbox, &mail("m1@reader.example", ""), source(1), t0()).await.expect("ingest")
    else {
        panic!("a new case");
    };
    assert_eq!(follow(s, t0()).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(sla["first_response"]["state"], json!("running"));
    assert_eq!(due_at, due(60), "from when the server saw the mail, not the mail's Date");

    desk.message(case, "reply", minutes(10)).await;
    desk.set(EntityKind::Case, case, "state", json!("pending"), minutes(10)).await;
    follow(s, minutes(10)).await;
    assert_eq!(clocks_of(s, case).await.1, Value::Null, "answered and waiting on the reader");

    let answer = mail("m2@reader.example", "In-Reply-To: <m1@reader.example>\r\n");
    let joined = ingest::ingest(s, &mailbox, &answer, source(2), minutes(40)).await.expect("ingest");
    assert!(matches!(joined, Ingested::Joined { case: c, .. } if c == case), "{joined:?}");
    assert_eq!(follow(s, minutes(40)).await, 1);
    let (sla, due_at) = clocks_of(s, case).await;
    assert_eq!(sla["resolution"]["state"], json!("running"), "the reader's answer resumes the case");
    assert_eq!(sla["resolution"]["elapsed_minutes"], json!(10));
    assert_eq!(sla["update"]["due"], due(40 + 120));
    assert_eq!(due_at, due(160));
}
