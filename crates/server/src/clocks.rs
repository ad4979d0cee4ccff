//! The SLA clocks on every case: the worker that follows the change feed, keeps each case's
//! history as the clocks see it, and writes the clocks ([`crate::sla`]) onto the case as the
//! server-set fields `sla` and `due_at`, which sync to devices like any field (devices may not
//! write them).
//!
//! * **The history.** [`follow`] reads the unfiltered feed from its own cursor (`cursor` /
//!   [`CURSOR_KEY`], from 0 the first time: all history). For every case it keeps a record
//!   ([`EVENTS`], key = the case id) with its events: *opened* (the first time the worker sees
//!   the case or a message of it), *reader message* (a `case_message` of kind `inbound`),
//!   *public reply* (kind `reply`; notes and events are not events of the clocks), and from the
//!   case's `state`: to `pending` → *pending*; from pending to any open state → *resumed*; to
//!   `resolved`/`closed` → *closed*; from resolved/closed back to an open state → *reopened*
//!   (any other state, a queue's own included, is open). The record also keeps the case's last
//!   seen state and queue, to tell what a change of the case changed.
//! * **Event times are the server's**: the time the worker first saw the change (its `now`),
//!   never a time a device wrote (`sent_at`, a field's clock). The worker runs right after the
//!   mail round (so mail that just arrived is dated within seconds) and at least every
//!   `LIAISON_MAIL_POLL_SECS`; a device's change is dated when it reached the server within that
//!   interval. Times are whole seconds, and never earlier than the case's previous event (a
//!   server clock stepped back cannot reorder a thread). A state that changes and changes back
//!   between two rounds is not seen (the feed holds each row's latest version only). On a
//!   server that had cases before this worker existed, the first pass dates their history at
//!   that pass: their clocks start then.
//! * **Nothing twice.** A message is an event once, keyed by its row id; a change of the case
//!   is an event only when its state differs from the one recorded. The clocks are written
//!   before the record is saved and the cursor after the page, so a pass cut off anywhere and
//!   run again over the same feed adds no event and writes the same clocks (nothing, as they
//!   are unchanged).
//! * **No loop.** The clocks are recomputed only when something the clocks depend on happened
//!   (an event, the case moved to another queue, its queue's calendar or targets edited), and
//!   written only when the result differs from the case's `sla`/`due_at`. The worker's own
//!   write (a change touching only `sla`/`due_at`) changes neither state nor queue, so reading
//!   it back recomputes nothing.
//! * **Queues.** A case moved to another queue is recomputed from its whole history with the
//!   new queue's calendar and targets (see [`crate::sla`]). When a queue's `calendar` or `sla`
//!   changes (compared with the copy kept under [`QUEUES`]), every case of it that is not closed
//!   is recomputed: the records of open cases are found by their state (`active`), one page at
//!   a time, so the cost is bounded by the open cases, not by all history. Closed cases keep the
//!   clocks they stopped with. A calendar the server cannot read (an unknown time zone) counts
//!   every minute, and a warning says which queue.
//! * **Breaches** are written as they stand when the clocks are computed; devices compute
//!   "overdue" from `due_at` against their own clock, so no timer runs on the server.
//!
//! The `sla` field is `{"first_response": CLOCK, "update": CLOCK, "resolution": CLOCK}`, each
//! `{"state": "idle"|"running"|"paused"|"stopped", "due": "2026-12-03T14:05:00Z" or null,
//! "breached": bool, "elapsed_minutes": int, "target_minutes": int or null}`; `due_at` the
//! earliest `due` of a running clock, or null. Times are `%Y-%m-%dT%H:%M:%SZ` (UTC, whole
//! seconds), so devices may compare them as strings.

use crate::sla::{self, Calendar, Clock, Clocks, Event, EventKind, State, Targets};
use crate::storage::{Record, Storage, StorageError};
use chrono::{DateTime, Utc};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldWrite, Outcome, RowState};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Record kind: a case's history as the clocks see it (key = the case id). Its state is
/// `active` while the case is not closed, `closed` after.
pub const EVENTS: &str = "sla_events";
/// Record kind: a queue's calendar and targets as last used (key = the queue id).
pub const QUEUES: &str = "sla_queue";
/// The key of the worker's cursor among the `cursor` records.
pub const CURSOR_KEY: &str = "sla_clocks";
const CURSOR: &str = crate::mail::CURSOR;
const FEED_PAGE: u32 = 500;
const RECORD_PAGE: u32 = 500;
/// How times are written: devices compare them as strings.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// One event as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    /// [`TIME_FORMAT`].
    at: String,
    kind: Kind,
    /// What made it: `opened`, `message:<row id>`, `state:<seq of the case's version>`.
    key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Opened,
    ReaderMessage,
    PublicReply,
    Pending,
    Resumed,
    Closed,
    Reopened,
}

impl From<Kind> for EventKind {
    fn from(kind: Kind) -> EventKind {
        match kind {
            Kind::Opened => EventKind::Opened,
            Kind::ReaderMessage => EventKind::ReaderMessage,
            Kind::PublicReply => EventKind::PublicReply,
            Kind::Pending => EventKind::Pending,
            Kind::Resumed => EventKind::Resumed,
            Kind::Closed => EventKind::Closed,
            Kind::Reopened => EventKind::Reopened,
        }
    }
}

/// A case's history (the doc of its [`EVENTS`] record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct History {
    /// The case's queue when last seen (`None` before the case's row was seen).
    #[serde(default)]
    queue_id: Option<String>,
    /// The case's state when last seen (`None` before the case's row was seen).
    #[serde(default)]
    state: Option<String>,
    /// The seq of the case's version last applied.
    #[serde(default)]
    case_seq: u64,
    #[serde(default)]
    events: Vec<Stored>,
}

impl History {
    fn has(&self, key: &str) -> bool {
        self.events.iter().any(|e| e.key == key)
    }

    /// Add an event unless one with its key is there; `true` when added. Its time is `now`,
    /// or the previous event's when that is later.
    fn add(&mut self, kind: Kind, key: String, now: DateTime<Utc>) -> bool {
        if self.has(&key) {
            return false;
        }
        if kind != Kind::Opened && !self.has("opened") {
            self.add(Kind::Opened, "opened".into(), now);
        }
        let mut at = format_time(now);
        if let Some(last) = self.events.last().filter(|e| e.at > at) {
            at = last.at.clone();
        }
        self.events.push(Stored { at, kind, key });
        true
    }

    fn closed(&self) -> bool {
        self.state.as_deref().is_some_and(|s| class(s) == Class::Closed)
    }

    fn sla_events(&self) -> Vec<Event> {
        self.events.iter().filter_map(|e| Some(Event { at: parse_time(&e.at)?, kind: e.kind.into() })).collect()
    }
}

/// What a case's state means to the clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Open,
    Pending,
    Closed,
}

fn class(state: &str) -> Class {
    match state {
        "pending" => Class::Pending,
        "resolved" | "closed" => Class::Closed,
        _ => Class::Open,
    }
}

/// The events a change of state from `from` to `to` makes.
fn transition(from: Class, to: Class) -> &'static [Kind] {
    match (from, to) {
        (Class::Open, Class::Pending) => &[Kind::Pending],
        (Class::Pending, Class::Open) => &[Kind::Resumed],
        (Class::Open | Class::Pending, Class::Closed) => &[Kind::Closed],
        (Class::Closed, Class::Open) => &[Kind::Reopened],
        (Class::Closed, Class::Pending) => &[Kind::Reopened, Kind::Pending],
        _ => &[],
    }
}

/// `at` as devices read it: UTC, whole seconds, `Z`.
fn format_time(at: DateTime<Utc>) -> String {
    at.format(TIME_FORMAT).to_string()
}

fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

fn timestamp(at: DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at.timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn format_timestamp(at: jiff::Timestamp) -> Option<String> {
    DateTime::<Utc>::from_timestamp(at.as_second(), 0).map(format_time)
}

fn text(row: &RowState, name: &str) -> Option<String> {
    row.fields.get(name).and_then(|f| f.value.as_str()).map(str::to_owned)
}

fn field(row: &RowState, name: &str) -> Value {
    row.fields.get(name).map_or(Value::Null, |f| f.value.clone())
}

/// The clocks as the `sla` field holds them, and `due_at`.
pub fn to_json(clocks: &Clocks) -> (Value, Value) {
    let clock = |c: &Clock| {
        json!({
            "state": match c.state {
                State::Idle => "idle",
                State::Running => "running",
                State::Paused => "paused",
                State::Stopped => "stopped",
            },
            "due": c.due.and_then(format_timestamp),
            "breached": c.breached,
            "elapsed_minutes": c.elapsed_minutes,
            "target_minutes": c.target_minutes,
        })
    };
    let sla = json!({
        "first_response": clock(&clocks.first_response),
        "update": clock(&clocks.update),
        "resolution": clock(&clocks.resolution),
    });
    let due_at = [clocks.first_response, clocks.update, clocks.resolution]
        .iter()
        .filter(|c| c.state == State::Running)
        .filter_map(|c| c.due)
        .min()
        .and_then(format_timestamp)
        .map_or(Value::Null, Value::String);
    (sla, due_at)
}

/// A queue's calendar and targets (`null` when the queue is not on the server).
fn settings(queue: Option<&RowState>) -> Value {
    match queue.filter(|q| !q.deleted) {
        Some(q) => json!({"calendar": field(q, "calendar"), "sla": field(q, "sla")}),
        None => json!({"calendar": null, "sla": null}),
    }
}

async fn cursor(storage: &dyn Storage) -> Result<u64, StorageError> {
    Ok(storage.record(CURSOR, CURSOR_KEY).await?.and_then(|r| r.doc.get("seq").and_then(Value::as_u64)).unwrap_or(0))
}

/// A case's history as the record holds it.
async fn load(storage: &dyn Storage, case: Uuid) -> Result<History, StorageError> {
    let Some(record) = storage.record(EVENTS, &case.to_string()).await? else { return Ok(History::default()) };
    Ok(serde_json::from_value(record.doc).unwrap_or_else(|e| {
        tracing::warn!("sla: the history of case {case} is unreadable ({e}); it starts again");
        History::default()
    }))
}

/// The events the worker recorded for a case, oldest first (empty for a case it has not seen).
pub async fn events(storage: &dyn Storage, case: Uuid) -> Result<Vec<Event>, StorageError> {
    Ok(load(storage, case).await?.sla_events())
}

/// A case being worked on in one page: its history, and whether its clocks are to be computed.
struct Tracked {
    history: History,
    recompute: bool,
}

/// The cases of one page.
#[derive(Default)]
struct Page {
    cases: HashMap<Uuid, Tracked>,
    /// Queues whose calendar or targets changed, with the settings now.
    queues: BTreeMap<Uuid, Value>,
}

impl Page {
    async fn case(&mut self, storage: &dyn Storage, id: Uuid) -> Result<&mut Tracked, StorageError> {
        Ok(match self.cases.entry(id) {
            Entry::Occupied(tracked) => tracked.into_mut(),
            Entry::Vacant(slot) => slot.insert(Tracked { history: load(storage, id).await?, recompute: false }),
        })
    }
}

/// Follow the feed from the worker's cursor to its end: record every case's events and write
/// the clocks of the cases they changed (see the module docs). Returns how many cases' clocks
/// were written.
pub async fn follow(storage: &dyn Storage, now: DateTime<Utc>) -> Result<u32, StorageError> {
    let mut seq = cursor(storage).await?;
    let mut written = 0;
    loop {
        let rows = storage.feed(seq, FEED_PAGE).await?;
        let Some(last) = rows.last().map(|r| r.seq) else { break };
        let mut page = Page::default();
        for pulled in rows {
            match pulled.entity {
                EntityKind::Case => {
                    let row = pulled.decode()?;
                    apply_case(storage, &mut page, &row, now).await?;
                }
                EntityKind::CaseMessage if !pulled.deleted => {
                    let row = pulled.decode()?;
                    apply_message(storage, &mut page, &row, now).await?;
                }
                EntityKind::Queue if !pulled.deleted => {
                    let row = pulled.decode()?;
                    let now_settings = settings(Some(&row));
                    let kept = storage.record(QUEUES, &row.row_id.to_string()).await?.map(|r| r.doc);
                    if kept.as_ref() != Some(&now_settings) {
                        page.queues.insert(row.row_id, now_settings);
                    }
                }
                _ => {}
            }
        }
        if !page.queues.is_empty() {
            open_cases_of(storage, &mut page).await?;
        }
        for (case, tracked) in page.cases {
            let settled =
                if tracked.recompute { settle(storage, case, &tracked.history, now).await? } else { Settled::Same };
            match settled {
                Settled::Gone => {
                    storage.delete_record(EVENTS, &case.to_string()).await?;
                    continue;
                }
                Settled::Written => written += 1,
                Settled::Same => {}
            }
            save(storage, case, &tracked.history, now).await?;
        }
        for (queue, kept) in page.queues {
            storage.put_record(&Record::new(QUEUES, queue.to_string(), "active", kept, now)).await?;
        }
        seq = last;
        storage.put_record(&Record::new(CURSOR, CURSOR_KEY, "active", json!({"seq": seq}), now)).await?;
    }
    Ok(written)
}

/// A version of a case: its state's events, a move to another queue, or its deletion.
async fn apply_case(
    storage: &dyn Storage,
    page: &mut Page,
    row: &RowState,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let tracked = page.case(storage, row.row_id).await?;
    if row.deleted {
        tracked.recompute = true; // `settle` finds the tombstone and forgets the history
        return Ok(());
    }
    let history = &mut tracked.history;
    if row.seq <= history.case_seq {
        return Ok(());
    }
    let first = history.state.is_none();
    let mut changed = history.add(Kind::Opened, "opened".into(), now) || first;
    let state = text(row, "state").unwrap_or_else(|| "new".into());
    let before = history.state.as_deref().map_or(Class::Open, class);
    for (i, kind) in transition(before, class(&state)).iter().enumerate() {
        changed |= history.add(*kind, format!("state:{}:{i}", row.seq), now);
    }
    let queue = text(row, "queue_id");
    changed |= queue != history.queue_id;
    history.state = Some(state);
    history.queue_id = queue;
    history.case_seq = row.seq;
    tracked.recompute |= changed;
    Ok(())
}

/// A message: a reader's message or a public reply is an event of its case, once.
async fn apply_message(
    storage: &dyn Storage,
    page: &mut Page,
    row: &RowState,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let kind = match text(row, "kind").as_deref() {
        Some("inbound") => Kind::ReaderMessage,
        Some("reply") => Kind::PublicReply,
        _ => return Ok(()),
    };
    let Some(case) = text(row, "case_id").and_then(|t| Uuid::parse_str(&t).ok()) else { return Ok(()) };
    let tracked = page.case(storage, case).await?;
    if tracked.history.add(kind, format!("message:{}", row.row_id), now) {
        tracked.recompute = true;
    }
    Ok(())
}

/// Add to the page every case that is not closed of a queue whose settings changed.
async fn open_cases_of(storage: &dyn Storage, page: &mut Page) -> Result<(), StorageError> {
    let queues: BTreeSet<String> = page.queues.keys().map(Uuid::to_string).collect();
    let mut after: Option<String> = None;
    loop {
        let records = storage.list_records(EVENTS, Some("active"), after.as_deref(), RECORD_PAGE).await?;
        let Some(last) = records.last().map(|r| r.key.clone()) else { break };
        for record in records {
            let Ok(case) = Uuid::parse_str(&record.key) else { continue };
            let in_queue = record.doc.get("queue_id").and_then(Value::as_str).is_some_and(|q| queues.contains(q));
            if in_queue {
                page.case(storage, case).await?.recompute = true;
            }
        }
        after = Some(last);
    }
    Ok(())
}

/// Keep a case's history: `active` while it is not closed.
async fn save(storage: &dyn Storage, case: Uuid, history: &History, now: DateTime<Utc>) -> Result<(), StorageError> {
    let key = case.to_string();
    let doc = serde_json::to_value(history).map_err(|e| StorageError::Backend(e.to_string()))?;
    let state = if history.closed() { "closed" } else { "active" };
    storage.put_record(&Record::new(EVENTS, key, state, doc, now)).await
}

/// What became of a case's clocks.
enum Settled {
    /// Written onto the case.
    Written,
    /// Unchanged (or not written: the case is not on the server yet, its message came first;
    /// it is computed when it arrives).
    Same,
    /// The case was deleted: its history is forgotten.
    Gone,
}

/// Compute a case's clocks and write them when they differ from the case's.
async fn settle(
    storage: &dyn Storage,
    case: Uuid,
    history: &History,
    now: DateTime<Utc>,
) -> Result<Settled, StorageError> {
    let Some(row) = storage.row(EntityKind::Case, case).await? else { return Ok(Settled::Same) };
    if row.deleted {
        return Ok(Settled::Gone);
    }
    let queue_id = text(&row, "queue_id").and_then(|t| Uuid::parse_str(&t).ok());
    let queue = match queue_id {
        Some(id) => storage.row(EntityKind::Queue, id).await?,
        None => None,
    };
    let kept = settings(queue.as_ref());
    let calendar = Calendar::from_json(&kept["calendar"]).unwrap_or_else(|e| {
        tracing::warn!(
            "sla: the calendar of queue {} cannot be used ({e}); its clocks count every minute",
            queue_id.unwrap_or_default()
        );
        Calendar::always()
    });
    let targets = Targets::from_json(&kept["sla"]);
    let clocks = sla::clocks(&calendar, targets, &history.sla_events(), timestamp(now));
    let (sla_value, due_at) = to_json(&clocks);
    if field(&row, "sla") == sla_value && field(&row, "due_at") == due_at {
        return Ok(Settled::Same);
    }
    let stamp =
        stamp_after(now, [row.fields.get("sla"), row.fields.get("due_at")].into_iter().flatten().map(|f| f.hlc));
    let change = Change {
        change_id: Uuid::now_v7(),
        entity: EntityKind::Case,
        row_id: case,
        base_seq: row.seq,
        fields: [("sla", sla_value), ("due_at", due_at)]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), FieldWrite { value, hlc: stamp }))
            .collect(),
        deleted: None,
    };
    let response = storage.write_as_server(vec![change], now).await?;
    match response.results.first() {
        Some(result) if result.outcome == Outcome::Accepted => Ok(Settled::Written),
        refused => {
            let why = refused.and_then(|r| r.error.as_ref()).map_or("no answer", |e| e.message.as_str());
            tracing::warn!("sla: writing the clocks of case {case} was refused: {why}");
            Ok(Settled::Same)
        }
    }
}

/// A clock for the server's write: `now`, and after every earlier write of the same fields (so
/// it wins even when the server's clock stepped back).
fn stamp_after(now: DateTime<Utc>, earlier: impl Iterator<Item = Hlc>) -> Hlc {
    let mut stamp = Hlc::new(crate::sync::unix_millis(now), 0);
    for hlc in earlier {
        if hlc >= stamp {
            stamp = Hlc::new(hlc.millis, hlc.counter.saturating_add(1));
        }
    }
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("time")
    }

    #[test]
    fn state_changes_make_the_events_of_the_clocks() {
        assert_eq!(transition(class("new"), class("pending")), &[Kind::Pending]);
        assert_eq!(transition(class("pending"), class("waiting on legal")), &[Kind::Resumed]);
        assert_eq!(transition(class("pending"), class("resolved")), &[Kind::Closed]);
        assert_eq!(transition(class("closed"), class("open")), &[Kind::Reopened]);
        assert_eq!(transition(class("closed"), class("pending")), &[Kind::Reopened, Kind::Pending]);
        assert!(transition(class("new"), class("open")).is_empty());
        assert!(transition(class("resolved"), class("closed")).is_empty());
    }

    #[test]
    fn an_event_is_added_once_after_the_opening_and_never_before_the_previous_one() {
        let mut history = History::default();
        assert!(history.add(Kind::ReaderMessage, "message:a".into(), at("2026-12-01T10:00:00.750Z")));
        assert!(!history.add(Kind::ReaderMessage, "message:a".into(), at("2026-12-01T11:00:00Z")), "once");
        assert!(history.add(Kind::PublicReply, "message:b".into(), at("2026-12-01T09:00:00Z")));
        let kinds: Vec<(Kind, &str)> = history.events.iter().map(|e| (e.kind, e.at.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::Opened, "2026-12-01T10:00:00Z"),
                (Kind::ReaderMessage, "2026-12-01T10:00:00Z"),
                (Kind::PublicReply, "2026-12-01T10:00:00Z"),
            ],
            "opened first, whole seconds, and a clock stepped back does not reorder the thread"
        );
    }

    #[test]
    fn the_sla_field_holds_three_clocks_and_due_at_the_earliest_running_due_time() {
        let events = [Event { at: "2026-12-01T10:00:00Z".parse().expect("time"), kind: EventKind::ReaderMessage }];
        let targets = Targets { first_response: Some(60), update: None, resolution: Some(600) };
        let clocks =
            sla::clocks(&Calendar::always(), targets, &events, "2026-12-01T10:30:20.5Z".parse().expect("time"));
        let (sla, due_at) = to_json(&clocks);
        assert_eq!(
            sla["first_response"],
            json!({"state": "running", "due": "2026-12-01T11:00:00Z", "breached": false, "elapsed_minutes": 30, "target_minutes": 60})
        );
        assert_eq!(sla["update"]["target_minutes"], Value::Null);
        assert_eq!(sla["update"]["due"], Value::Null);
        assert_eq!(due_at, json!("2026-12-01T11:00:00Z"));
    }

    #[test]
    fn the_servers_write_comes_after_its_earlier_ones() {
        let now = at("2026-12-01T10:00:00Z");
        let millis = crate::sync::unix_millis(now);
        assert_eq!(stamp_after(now, [Hlc::new(millis - 5, 3)].into_iter()), Hlc::new(millis, 0));
        assert_eq!(stamp_after(now, [Hlc::new(millis + 5, 3)].into_iter()), Hlc::new(millis + 5, 4));
    }
}
