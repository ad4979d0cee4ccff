//! SLA clocks, computed on the server from a case's thread (devices only display them).
//!
//! Three clocks, each against its queue's target in business minutes (`queue.sla`):
//! * **first response**: from the case's opening (its first message) to the first public reply.
//!   Not paused: waiting on the reader cannot happen before anyone answered. Closing a case
//!   nobody answered (spam, a duplicate) stops it; reopening resumes it.
//! * **update**: from the oldest reader message no public reply has answered yet, to the next
//!   public reply. Paused while the case waits on the reader.
//! * **resolution**: from the opening to closing. Paused while the case waits on the reader;
//!   closing stops it; reopening resumes it, with the business time already spent kept.
//!
//! Business time is the queue's calendar (`queue.calendar`): weekly hours in its IANA time zone,
//! minus holidays (whole local days). Arithmetic runs on the UTC timeline and each day's hours
//! are placed in the zone on that day, so a clock spanning a daylight-saving change counts the
//! hours that really passed. A queue without a calendar counts every minute (24×7).
//!
//! **Moving a case to another queue**: the clocks are recomputed from the whole thread with the
//! new queue's calendar and targets, as if the case had always been there. (The alternative,
//! splitting time between queues, makes a case's due time depend on its history in ways agents
//! cannot see; the new team takes the case as it stands.)

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::Value;
use std::collections::BTreeSet;

/// How far ahead a due time is looked for: a calendar with almost no open hours may never reach
/// a target, and the answer is then "no due time" rather than a loop.
const HORIZON_DAYS: i32 = 3 * 366;

/// Business hours: when the clocks run.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
    /// Per weekday (Monday first): open spans as (from, to) times of day; `None` for `to` is
    /// midnight at the day's end (`24:00`).
    weekly: [Vec<(Time, Option<Time>)>; 7],
    holidays: BTreeSet<Date>,
}

impl Calendar {
    /// Every minute counts (a queue without a calendar).
    pub fn always() -> Calendar {
        Calendar {
            zone: TimeZone::UTC,
            weekly: std::array::from_fn(|_| vec![(Time::midnight(), None)]),
            holidays: BTreeSet::new(),
        }
    }

    /// A queue's `calendar` value (see `liaison_protocol::schema::JsonShape::Calendar`); `null`
    /// is [`Calendar::always`]. A calendar without `weekly` is open at all hours of every day
    /// but its holidays.
    pub fn from_json(value: &Value) -> Result<Calendar, String> {
        if value.is_null() {
            return Ok(Calendar::always());
        }
        let zone_name = value.get("zone").and_then(Value::as_str).unwrap_or_default();
        let zone = TimeZone::get(zone_name).map_err(|_| {
            format!("the calendar's time zone {zone_name:?} is not a known IANA zone (e.g. Europe/Berlin)")
        })?;
        let weekly = match value.get("weekly") {
            None | Some(Value::Null) => std::array::from_fn(|_| vec![(Time::midnight(), None)]),
            Some(weekly) => {
                let mut days: [Vec<(Time, Option<Time>)>; 7] = Default::default();
                for (i, day) in liaison_protocol::schema::WEEKDAYS.iter().enumerate() {
                    for span in weekly.get(day).and_then(Value::as_array).into_iter().flatten() {
                        let bound = |k: usize| span.get(k).and_then(Value::as_str).unwrap_or_default();
                        let from = clock_time(bound(0)).flatten().ok_or_else(|| bad_hours(day))?;
                        let to = clock_time(bound(1)).ok_or_else(|| bad_hours(day))?;
                        if to.is_some_and(|to| to <= from) {
                            return Err(bad_hours(day));
                        }
                        days[i].push((from, to));
                    }
                    days[i].sort_by_key(|(from, _)| *from);
                }
                days
            }
        };
        let mut holidays = BTreeSet::new();
        for day in value.get("holidays").and_then(Value::as_array).into_iter().flatten() {
            let text = day.as_str().unwrap_or_default();
            holidays.insert(
                text.parse::<Date>().map_err(|_| format!("the holiday {text:?} is not a date like 2026-12-25"))?,
            );
        }
        Ok(Calendar { zone, weekly, holidays })
    }

    /// The open spans of one local day, as instants (empty on a holiday).
    fn spans_of(&self, day: Date) -> Vec<(Timestamp, Timestamp)> {
        if self.holidays.contains(&day) {
            return Vec::new();
        }
        let weekday = day.weekday().to_monday_zero_offset() as usize;
        let at = |time: Time| day.to_datetime(time).to_zoned(self.zone.clone()).map(|z| z.timestamp());
        let midnight_after =
            || day.tomorrow().ok().and_then(|next| next.to_datetime(Time::midnight()).to_zoned(self.zone.clone()).ok());
        self.weekly[weekday]
            .iter()
            .filter_map(|(from, to)| {
                let start = at(*from).ok()?;
                let end = match to {
                    Some(to) => at(*to).ok()?,
                    None => midnight_after()?.timestamp(),
                };
                (end > start).then_some((start, end))
            })
            .collect()
    }

    /// The open spans from the local day of `from` on, for [`HORIZON_DAYS`].
    fn spans_from(&self, from: Timestamp) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let first = from.to_zoned(self.zone.clone()).date().yesterday().unwrap_or(Date::MIN);
        (0..HORIZON_DAYS)
            .map_while(move |i| first.checked_add(i64::from(i).days()).ok())
            .flat_map(move |day| self.spans_of(day))
            .filter(move |(_, end)| *end > from)
    }

    /// Business seconds in `[from, to)`.
    pub fn seconds_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        for (start, end) in self.spans_from(from) {
            if start >= to {
                break;
            }
            let (s, e) = (start.max(from), end.min(to));
            total += e.as_second() - s.as_second();
        }
        total
    }

    /// The instant `seconds` of business time after `from`; `None` if the calendar does not
    /// reach it within [`HORIZON_DAYS`].
    pub fn add(&self, from: Timestamp, seconds: i64) -> Option<Timestamp> {
        let mut left = seconds.max(0);
        for (start, end) in self.spans_from(from) {
            let s = start.max(from);
            let available = end.as_second() - s.as_second();
            if left <= available {
                return s.checked_add(left.seconds()).ok();
            }
            left -= available;
        }
        None
    }
}

fn bad_hours(day: &str) -> String {
    format!("the calendar's hours for {day} must be pairs like [\"09:00\", \"17:00\"], from before to")
}

/// `HH:MM`; `Some(None)` for `24:00` (the end of the day).
fn clock_time(text: &str) -> Option<Option<Time>> {
    if text == "24:00" {
        return Some(None);
    }
    let (h, m) = text.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    Time::new(h, m, 0, 0).ok().map(Some)
}

/// A queue's targets in minutes (`queue.sla`); a missing or null target is no clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub first_response: Option<i64>,
    pub update: Option<i64>,
    pub resolution: Option<i64>,
}

impl Targets {
    pub fn from_json(value: &Value) -> Targets {
        let minutes = |key: &str| value.get(key).and_then(Value::as_i64).filter(|m| *m > 0);
        Targets {
            first_response: minutes("first_response"),
            update: minutes("update"),
            resolution: minutes("resolution"),
        }
    }
}

/// What happened in a case, as the clocks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The case was opened (by a reader's message or by a team member).
    Opened,
    ReaderMessage,
    /// A reply that reached the reader (internal notes are not events).
    PublicReply,
    /// The case now waits on the reader.
    Pending,
    /// It no longer does (a team member resumed it; a reader's message also resumes it).
    Resumed,
    Closed,
    Reopened,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing started it (no reader message waits for an update, say).
    Idle,
    /// Running now.
    Running,
    /// Stopped for now (waiting on the reader); resumes.
    Paused,
    /// Done: the reply was sent, the case closed.
    Stopped,
}

/// One clock at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub state: State,
    /// Business minutes counted so far (of the current measure, for the update clock).
    pub elapsed_minutes: i64,
    pub target_minutes: Option<i64>,
    /// When the target is (or was) reached in business time: in the future while running
    /// within target; in the past once overdue. `None` without a target, while paused before
    /// the target, or when the calendar never reaches it.
    pub due: Option<Timestamp>,
    /// The target was exceeded (while running, or before the clock stopped).
    pub breached: bool,
}

/// The three clocks of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clocks {
    pub first_response: Clock,
    pub update: Clock,
    pub resolution: Clock,
}

/// The clocks of a case at `now`, from its events (in any order; sorted here by time, ties in
/// the order given) under `calendar` and `targets`.
pub fn clocks(calendar: &Calendar, targets: Targets, events: &[Event], now: Timestamp) -> Clocks {
    let mut events: Vec<Event> = events.iter().copied().filter(|e| e.at <= now).collect();
    events.sort_by_key(|e| e.at);
    // Running spans of each clock: (start, end or None while running).
    let mut first: Vec<(Timestamp, Option<Timestamp>)> = Vec::new();
    let mut update: Vec<(Timestamp, Option<Timestamp>)> = Vec::new();
    let mut resolution: Vec<(Timestamp, Option<Timestamp>)> = Vec::new();
    let (mut opened, mut answered, mut pending, mut closed) = (false, false, false, false);
    // The update clock measures one reader message at a time: it restarts with the oldest
    // unanswered one.
    let mut waiting_since: Option<Timestamp> = None;
    let stop = |spans: &mut Vec<(Timestamp, Option<Timestamp>)>, at: Timestamp| {
        if let Some(last) = spans.last_mut().filter(|(_, end)| end.is_none()) {
            last.1 = Some(at);
        }
    };
    let start = |spans: &mut Vec<(Timestamp, Option<Timestamp>)>, at: Timestamp| {
        if spans.last().is_none_or(|(_, end)| end.is_some()) {
            spans.push((at, None));
        }
    };
    for event in &events {
        let at = event.at;
        if !opened && !matches!(event.kind, EventKind::Opened | EventKind::ReaderMessage) {
            continue;
        }
        match event.kind {
            EventKind::Opened | EventKind::ReaderMessage => {
                if !opened {
                    opened = true;
                    first.push((at, None));
                    start(&mut resolution, at);
                }
                if event.kind == EventKind::ReaderMessage {
                    if closed {
                        // A reader writing to a closed case reopens it.
                        closed = false;
                        start(&mut resolution, at);
                        if !answered {
                            start(&mut first, at);
                        }
                    }
                    if pending {
                        pending = false;
                        start(&mut resolution, at);
                        if waiting_since.is_some() {
                            start(&mut update, at);
                        }
                    }
                    if waiting_since.is_none() {
                        waiting_since = Some(at);
                        update.clear();
                        update.push((at, None));
                    }
                }
            }
            EventKind::PublicReply => {
                if !answered {
                    answered = true;
                    stop(&mut first, at);
                }
                if waiting_since.take().is_some() {
                    stop(&mut update, at);
                }
            }
            EventKind::Pending => {
                if !pending && !closed {
                    pending = true;
                    stop(&mut update, at);
                    stop(&mut resolution, at);
                }
            }
            EventKind::Resumed => {
                if pending {
                    pending = false;
                    start(&mut resolution, at);
                    if waiting_since.is_some() {
                        start(&mut update, at);
                    }
                }
            }
            EventKind::Closed => {
                if !closed {
                    closed = true;
                    pending = false;
                    stop(&mut resolution, at);
                    // Closed without an answer (spam, a duplicate): nothing is due any more.
                    stop(&mut first, at);
                    stop(&mut update, at);
                    waiting_since = None;
                }
            }
            EventKind::Reopened => {
                if closed {
                    closed = false;
                    start(&mut resolution, at);
                    if !answered {
                        start(&mut first, at);
                    }
                }
            }
        }
    }
    let first_state = match (opened, answered) {
        (false, _) => State::Idle,
        (true, false) if closed => State::Stopped,
        (true, false) => State::Running,
        (true, true) => State::Stopped,
    };
    let update_state = if waiting_since.is_none() {
        if update.is_empty() { State::Idle } else { State::Stopped }
    } else if pending {
        State::Paused
    } else {
        State::Running
    };
    let resolution_state = if !opened {
        State::Idle
    } else if closed {
        State::Stopped
    } else if pending {
        State::Paused
    } else {
        State::Running
    };
    Clocks {
        first_response: measure(calendar, targets.first_response, &first, first_state, now),
        update: measure(calendar, targets.update, &update, update_state, now),
        resolution: measure(calendar, targets.resolution, &resolution, resolution_state, now),
    }
}

/// Business time over a clock's running spans, and when its target falls.
fn measure(
    calendar: &Calendar,
    target: Option<i64>,
    spans: &[(Timestamp, Option<Timestamp>)],
    state: State,
    now: Timestamp,
) -> Clock {
    let target_seconds = target.map(|m| m * 60);
    let (mut elapsed, mut due) = (0i64, None);
    for (start, end) in spans {
        let end = end.unwrap_or(now);
        let seconds = calendar.seconds_between(*start, end);
        if let Some(t) = target_seconds
            && due.is_none()
            && elapsed + seconds >= t
        {
            due = calendar.add(*start, t - elapsed);
        }
        elapsed += seconds;
    }
    if due.is_none()
        && state == State::Running
        && let Some(t) = target_seconds
    {
        due = calendar.add(now, t - elapsed);
    }
    let breached = target_seconds.is_some_and(|t| elapsed > t);
    Clock { state, elapsed_minutes: elapsed / 60, target_minutes: target, due, breached }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn ev(at: &str, kind: EventKind) -> Event {
        Event { at: t(at), kind }
    }

    fn office() -> Calendar {
        let weekday = json!([["09:00", "17:00"]]);
        Calendar::from_json(&json!({
            "zone": "Europe/Berlin",
            "weekly": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
            "holidays": ["2026-12-25"]
        }))
        .expect("calendar")
    }

    fn targets(first: i64, update: i64, resolution: i64) -> Targets {
        Targets { first_response: Some(first), update: Some(update), resolution: Some(resolution) }
    }

    #[test]
    fn a_round_the_clock_queue_counts_every_minute() {
        let events = [ev("2026-12-01T10:00:00Z", EventKind::ReaderMessage)];
        let c = clocks(&Calendar::always(), targets(60, 60, 600), &events, t("2026-12-01T10:45:00Z"));
        assert_eq!((c.first_response.state, c.first_response.elapsed_minutes), (State::Running, 45));
        assert_eq!(c.first_response.due, Some(t("2026-12-01T11:00:00Z")));
        assert!(!c.first_response.breached);
        let late = clocks(&Calendar::always(), targets(60, 60, 600), &events, t("2026-12-01T11:30:00Z"));
        assert!(late.first_response.breached, "90 minutes against 60");
        assert_eq!(late.first_response.due, Some(t("2026-12-01T11:00:00Z")), "overdue since the target passed");
    }

    #[test]
    fn office_hours_skip_the_night_and_the_weekend() {
        // Friday 16:00 in Berlin (15:00 UTC), two hours to answer: one hour on Friday, one on Monday.
        let events = [ev("2026-11-27T15:00:00Z", EventKind::ReaderMessage)];
        let c = clocks(&office(), targets(120, 120, 6000), &events, t("2026-11-28T12:00:00Z"));
        assert_eq!(c.first_response.elapsed_minutes, 60, "Saturday does not count");
        assert_eq!(c.first_response.due, Some(t("2026-11-30T09:00:00Z")), "Monday 10:00 in Berlin");
    }

    #[test]
    fn holidays_do_not_count() {
        // Thursday 24 December, 16:00 in Berlin; Friday the 25th is a holiday.
        let due = office().add(t("2026-12-24T15:00:00Z"), 2 * 3600);
        assert_eq!(due, Some(t("2026-12-28T09:00:00Z")), "Monday the 28th, 10:00 in Berlin");
    }

    #[test]
    fn business_time_across_both_daylight_saving_changes_is_the_time_that_passed() {
        let berlin_all_day = Calendar::from_json(&json!({"zone": "Europe/Berlin"})).expect("calendar");
        // Spring: Sunday 29 March 2026 has 23 hours in Berlin; autumn: Sunday 25 October has 25.
        let spring = berlin_all_day.seconds_between(t("2026-03-28T12:00:00+01:00"), t("2026-03-29T12:00:00+02:00"));
        assert_eq!(spring, 23 * 3600);
        let autumn = berlin_all_day.seconds_between(t("2026-10-24T12:00:00+02:00"), t("2026-10-25T12:00:00+01:00"));
        assert_eq!(autumn, 25 * 3600);
        // Office hours keep their local times on both sides of the change.
        assert_eq!(
            office().add(t("2026-03-27T16:00:00+01:00"), 2 * 3600),
            Some(t("2026-03-30T10:00:00+02:00")),
            "Friday before the change to Monday after it, 10:00 local"
        );
        assert_eq!(office().add(t("2026-10-23T16:00:00+02:00"), 2 * 3600), Some(t("2026-10-26T10:00:00+01:00")));
    }

    #[test]
    fn hours_that_run_to_midnight_continue_into_the_next_day() {
        let late = Calendar::from_json(&json!({
            "zone": "UTC",
            "weekly": {"tue": [["20:00", "24:00"]], "wed": [["00:00", "02:00"]]}
        }))
        .expect("calendar");
        // Tuesday 1 December 2026, 23:30.
        assert_eq!(late.add(t("2026-12-01T23:30:00Z"), 3600), Some(t("2026-12-02T00:30:00Z")));
        assert_eq!(late.seconds_between(t("2026-12-01T19:00:00Z"), t("2026-12-02T03:00:00Z")), 6 * 3600);
    }

    #[test]
    fn waiting_on_the_reader_pauses_resolution_and_update_but_not_first_response() {
        let events = [
            ev("2026-12-01T00:00:00Z", EventKind::ReaderMessage),
            ev("2026-12-01T02:00:00Z", EventKind::Pending),
            ev("2026-12-01T10:00:00Z", EventKind::Resumed),
        ];
        let paused = clocks(&Calendar::always(), targets(600, 600, 480), &events[..2], t("2026-12-01T09:00:00Z"));
        assert_eq!((paused.resolution.state, paused.resolution.elapsed_minutes), (State::Paused, 120));
        assert_eq!(paused.resolution.due, None, "no due time while paused");
        assert_eq!(paused.update.state, State::Paused);
        assert_eq!((paused.first_response.state, paused.first_response.elapsed_minutes), (State::Running, 540));
        let resumed = clocks(&Calendar::always(), targets(600, 600, 480), &events, t("2026-12-01T12:00:00Z"));
        assert_eq!((resumed.resolution.state, resumed.resolution.elapsed_minutes), (State::Running, 240));
        assert_eq!(resumed.resolution.due, Some(t("2026-12-01T16:00:00Z")), "four hours left from noon");
    }

    #[test]
    fn a_reader_writing_while_pending_resumes_the_clocks() {
        let events = [
            ev("2026-12-01T00:00:00Z", EventKind::ReaderMessage),
            ev("2026-12-01T01:00:00Z", EventKind::PublicReply),
            ev("2026-12-01T01:00:00Z", EventKind::Pending),
            ev("2026-12-01T05:00:00Z", EventKind::ReaderMessage),
        ];
        let c = clocks(&Calendar::always(), targets(60, 60, 600), &events, t("2026-12-01T05:30:00Z"));
        assert_eq!((c.first_response.state, c.first_response.elapsed_minutes), (State::Stopped, 60));
        assert!(!c.first_response.breached, "answered exactly on time");
        assert_eq!((c.update.state, c.update.elapsed_minutes), (State::Running, 30), "the new message restarts it");
        assert_eq!((c.resolution.state, c.resolution.elapsed_minutes), (State::Running, 90));
    }

    #[test]
    fn closing_stops_resolution_and_reopening_resumes_it_with_the_time_spent() {
        let events = [
            ev("2026-12-01T00:00:00Z", EventKind::Opened),
            ev("2026-12-01T03:00:00Z", EventKind::Closed),
            ev("2026-12-01T05:00:00Z", EventKind::Reopened),
        ];
        let closed = clocks(&Calendar::always(), targets(60, 60, 300), &events[..2], t("2026-12-01T04:00:00Z"));
        assert_eq!((closed.resolution.state, closed.resolution.elapsed_minutes), (State::Stopped, 180));
        let reopened = clocks(&Calendar::always(), targets(60, 60, 300), &events, t("2026-12-01T06:00:00Z"));
        assert_eq!((reopened.resolution.state, reopened.resolution.elapsed_minutes), (State::Running, 240));
        assert_eq!(reopened.resolution.due, Some(t("2026-12-01T07:00:00Z")));
        assert_eq!(reopened.update.state, State::Idle, "no reader message waits for an update");
    }

    #[test]
    fn a_case_closed_unanswered_has_nothing_due_until_it_is_reopened() {
        let events = [
            ev("2026-12-01T00:00:00Z", EventKind::Opened),
            ev("2026-12-01T00:30:00Z", EventKind::Closed),
            ev("2026-12-01T05:00:00Z", EventKind::Reopened),
        ];
        let closed = clocks(&Calendar::always(), targets(60, 60, 300), &events[..2], t("2026-12-01T04:00:00Z"));
        assert_eq!(closed.first_response.state, State::Stopped, "spam closed unanswered is not overdue forever");
        assert!(!closed.first_response.breached, "closed within its hour");
        let reopened = clocks(&Calendar::always(), targets(60, 60, 300), &events, t("2026-12-01T05:10:00Z"));
        assert_eq!((reopened.first_response.state, reopened.first_response.elapsed_minutes), (State::Running, 40));
        assert_eq!(reopened.first_response.due, Some(t("2026-12-01T05:30:00Z")), "the 30 minutes left of its hour");
    }

    #[test]
    fn a_case_moved_to_another_queue_is_measured_by_that_queues_calendar_from_its_opening() {
        let events = [ev("2026-11-27T15:00:00Z", EventKind::ReaderMessage)];
        let now = t("2026-11-28T12:00:00Z");
        let before = clocks(&office(), targets(120, 120, 6000), &events, now);
        let after = clocks(&Calendar::always(), targets(240, 240, 6000), &events, now);
        assert_eq!(before.first_response.due, Some(t("2026-11-30T09:00:00Z")));
        assert_eq!(after.first_response.due, Some(t("2026-11-27T19:00:00Z")), "the new queue's hours and target");
        assert!(after.first_response.breached, "and it is overdue there");
    }

    #[test]
    fn a_calendar_with_an_unknown_zone_or_bad_hours_is_refused_with_the_reason() {
        let zone = Calendar::from_json(&json!({"zone": "Mars/Olympus"})).expect_err("zone");
        assert!(zone.contains("Mars/Olympus"), "{zone}");
        let hours =
            Calendar::from_json(&json!({"zone": "UTC", "weekly": {"mon": [["17:00", "09:00"]]}})).expect_err("hours");
        assert!(hours.contains("mon"), "{hours}");
        let never = Calendar::from_json(&json!({"zone": "UTC", "weekly": {}})).expect("closed all week");
        assert_eq!(never.add(t("2026-12-01T00:00:00Z"), 60), None, "a calendar that never opens has no due time");
    }
}
