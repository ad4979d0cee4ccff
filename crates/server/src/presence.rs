//! Who else is at a case right now: presence carried on the sync connection.
//!
//! A device with a case open reports it (`POST /v1/presence`) every so often — viewing, drafting
//! a reply, or leaving — and gets back who else is at the same case. Reports live only in this
//! server's memory and expire [`PRESENCE_SECS`] after the last one, so a laptop that closes its
//! lid or loses the network drops out within a minute. Presence is only ever told to someone who
//! may read the case (the handler checks), and says no more than a user name, a device name and
//! an activity.
//!
//! **"Someone else replied."** Each public reply a push brings is noted here with the time it
//! reached the server. A device about to send a reply reports with `draft_started_at`; the answer
//! lists the replies others sent since then, so the app can ask before sending. The notes are
//! kept for [`REPLY_MEMORY`] and, like presence, only in memory: after a restart the device's
//! own check of its synced thread (replies by others after the draft began) is what remains.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use liaison_protocol::wire::{Activity, PRESENCE_SECS, PresenceEntry, PresenceResponse, ReplyNotice};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// How long a reply is remembered for the "someone else replied" check: longer than anyone
/// keeps a draft open while online.
pub const REPLY_MEMORY: Duration = Duration::hours(24);

#[derive(Debug, Clone)]
struct Here {
    user: String,
    device: Uuid,
    device_name: String,
    activity: Activity,
    seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Reply {
    user: String,
    message_id: Uuid,
    at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Board {
    here: Vec<Here>,
    replies: Vec<Reply>,
}

/// Who reports: a user on one of their devices.
#[derive(Debug, Clone, Copy)]
pub struct Visitor<'a> {
    pub user: &'a str,
    pub device: Uuid,
    pub device_name: &'a str,
}

/// Presence and recent replies per case, in memory.
#[derive(Debug, Default)]
pub struct Presence {
    cases: Mutex<HashMap<Uuid, Board>>,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Presence {
    /// Record what the visitor's device is doing with `case` at `now`, and answer with everyone
    /// else there (other users, and the same user's other devices) and, given when a draft
    /// began, the replies other users sent since.
    pub fn report(
        &self,
        case: Uuid,
        visitor: Visitor<'_>,
        activity: Activity,
        draft_started_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> PresenceResponse {
        let Visitor { user, device, device_name } = visitor;
        let mut cases = self.cases.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::expire(&mut cases, now);
        let board = cases.entry(case).or_default();
        board.here.retain(|h| h.device != device);
        if activity != Activity::Left {
            board.here.push(Here {
                user: user.to_owned(),
                device,
                device_name: device_name.to_owned(),
                activity,
                seen_at: now,
            });
        }
        let others = board
            .here
            .iter()
            .filter(|h| h.device != device)
            .map(|h| PresenceEntry {
                user: h.user.clone(),
                device: h.device_name.clone(),
                activity: h.activity,
                seen_at: rfc3339(h.seen_at),
            })
            .collect();
        let replied_since = draft_started_at
            .map(|since| {
                board
                    .replies
                    .iter()
                    .filter(|r| r.at > since && !r.user.eq_ignore_ascii_case(user))
                    .map(|r| ReplyNotice { user: r.user.clone(), message_id: r.message_id, at: rfc3339(r.at) })
                    .collect()
            })
            .unwrap_or_default();
        if board.here.is_empty() && board.replies.is_empty() {
            cases.remove(&case);
        }
        PresenceResponse { others, replied_since }
    }

    /// A public reply by `user` reached the server at `at`.
    pub fn note_reply(&self, case: Uuid, user: &str, message_id: Uuid, at: DateTime<Utc>) {
        let mut cases = self.cases.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let board = cases.entry(case).or_default();
        if !board.replies.iter().any(|r| r.message_id == message_id) {
            board.replies.push(Reply { user: user.to_owned(), message_id, at });
        }
    }

    /// How many cases have someone at them or a remembered reply (for tests and metrics).
    pub fn cases(&self) -> usize {
        self.cases.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    fn expire(cases: &mut HashMap<Uuid, Board>, now: DateTime<Utc>) {
        let stale = now - Duration::seconds(i64::try_from(PRESENCE_SECS).unwrap_or(60));
        let forgotten = now - REPLY_MEMORY;
        cases.retain(|_, board| {
            board.here.retain(|h| h.seen_at > stale);
            board.replies.retain(|r| r.at > forgotten);
            !board.here.is_empty() || !board.replies.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn v<'a>(user: &'a str, device: Uuid, device_name: &'a str) -> Visitor<'a> {
        Visitor { user, device, device_name }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).single().expect("a time")
    }

    #[test]
    fn each_device_sees_the_others_at_a_case_and_not_itself() {
        let p = Presence::default();
        let (case, a, b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert!(p.report(case, v("ana", a, "ana's laptop"), Activity::Viewing, None, at(0)).others.is_empty());
        let seen = p.report(case, v("ben", b, "ben's laptop"), Activity::Drafting, None, at(5));
        assert_eq!(seen.others.len(), 1);
        assert_eq!((seen.others[0].user.as_str(), seen.others[0].activity), ("ana", Activity::Viewing));
        let seen = p.report(case, v("ana", a, "ana's laptop"), Activity::Viewing, None, at(10));
        assert_eq!(seen.others[0].activity, Activity::Drafting, "ana learns that ben is writing a reply");
    }

    #[test]
    fn presence_expires_a_minute_after_the_last_report_and_leaving_ends_it_at_once() {
        let p = Presence::default();
        let (case, a, b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        p.report(case, v("ana", a, "laptop"), Activity::Viewing, None, at(0));
        assert_eq!(p.report(case, v("ben", b, "laptop"), Activity::Viewing, None, at(59)).others.len(), 1);
        assert!(
            p.report(case, v("ben", b, "laptop"), Activity::Viewing, None, at(61)).others.is_empty(),
            "ana's lid closed: gone after a minute"
        );
        p.report(case, v("ana", a, "laptop"), Activity::Viewing, None, at(62));
        p.report(case, v("ana", a, "laptop"), Activity::Left, None, at(63));
        assert!(p.report(case, v("ben", b, "laptop"), Activity::Viewing, None, at(64)).others.is_empty());
        p.report(case, v("ben", b, "laptop"), Activity::Left, None, at(65));
        assert_eq!(p.cases(), 0, "nothing is kept for a case nobody is at");
    }

    #[test]
    fn replies_by_others_since_the_draft_began_are_listed_and_ones_own_are_not() {
        let p = Presence::default();
        let (case, a) = (Uuid::now_v7(), Uuid::now_v7());
        let (early, theirs, mine) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        p.note_reply(case, "kim", early, at(0));
        p.note_reply(case, "kim", theirs, at(20));
        p.note_reply(case, "kim", theirs, at(25));
        p.note_reply(case, "Ana", mine, at(30));
        let seen = p.report(case, v("ana", a, "laptop"), Activity::Drafting, Some(at(10)), at(40));
        let ids: Vec<Uuid> = seen.replied_since.iter().map(|r| r.message_id).collect();
        assert_eq!(ids, [theirs], "kim's reply after the draft began, once; not the earlier one, not ana's own");
        assert!(p.report(case, v("ana", a, "laptop"), Activity::Drafting, None, at(41)).replied_since.is_empty());
    }
}
