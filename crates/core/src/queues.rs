//! Queues: where cases arrive (one per address and language, e.g. info-en@), with their
//! business hours, SLA targets, custom case states and members.
//!
//! A device holds the queues its user may read: every queue for staff and administrators, the
//! queues they are a member of for everyone else (the server decides; see
//! `liaison_protocol::scope`). Staff and administrators create and change queues and their
//! memberships; the server refuses anyone else, and this module says so at once.

use crate::error::{Error, ErrorCode, Result};
use crate::store::sync_tables::{blob, uuid_from};
use crate::store::{Store, write};
use liaison_protocol::schema::{CASE_STATES, EntityKind, QUEUE_ROLES};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A queue's member and their role in it (`agent` or `lead`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub language: Option<String>,
    pub description: Option<String>,
    pub signature: Option<String>,
    /// Business hours (see `liaison_protocol::schema::JsonShape::Calendar`).
    pub calendar: Option<Value>,
    /// SLA targets in minutes: `first_response`, `update`, `resolution`.
    pub sla: Option<Value>,
    /// This queue's case states beside the built-in ones.
    pub states: Vec<String>,
    pub archived: bool,
    pub members: Vec<Member>,
    /// Open cases on this device (not resolved or closed).
    pub open_cases: u64,
}

impl Queue {
    /// Every state a case of this queue may be in: the built-in ones, then the queue's own.
    pub fn all_states(&self) -> Vec<String> {
        CASE_STATES.iter().map(|s| (*s).to_owned()).chain(self.states.iter().cloned()).collect()
    }
}

/// What staff set on a queue; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueuePatch {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub language: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub signature: Option<Option<String>>,
    pub calendar: Option<Option<Value>>,
    pub sla: Option<Option<Value>>,
    pub states: Option<Vec<String>>,
    pub archived: Option<bool>,
}

/// Refuse, in words, a signed-in user who is neither staff nor an administrator.
pub(crate) fn require_staff(conn: &Connection, what: &str) -> Result<()> {
    if matches!(crate::session::signed_in_role(conn)?, Some(r) if !matches!(r, liaison_protocol::wire::Role::Admin | liaison_protocol::wire::Role::Staff))
    {
        return Err(Error::new(ErrorCode::Forbidden, format!("Only staff and administrators may {what}.")));
    }
    Ok(())
}

/// Check a calendar's time zone against the time-zone database (its shape is checked by the
/// schema).
pub fn validate_calendar(calendar: &Value) -> Result<()> {
    EntityKind::Queue.def().validate("calendar", calendar).map_err(Error::invalid)?;
    let zone = calendar.get("zone").and_then(Value::as_str).unwrap_or_default();
    jiff::tz::TimeZone::get(zone).map(|_| ()).map_err(|_| {
        Error::invalid(format!(
            "{zone:?} is not a time zone; use a name from the IANA database such as Europe/Berlin or America/Sao_Paulo"
        ))
    })
}

fn patch_fields(p: &QueuePatch) -> Result<Vec<(&'static str, Value)>> {
    let text =
        |v: &Option<String>| v.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map_or(Value::Null, |s| json!(s));
    let mut fields = Vec::new();
    if let Some(name) = &p.name {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("A queue needs a name, e.g. info-en."));
        }
        fields.push(("name", json!(name)));
    }
    if let Some(email) = &p.email {
        if let Some(address) = email.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            crate::contacts::validate_email(address)?;
        }
        fields.push(("email", text(email)));
    }
    if let Some(language) = &p.language {
        if let Some(tag) = language.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            crate::contacts::validate_language(tag)?;
        }
        fields.push(("language", text(language)));
    }
    for (name, value) in [("description", &p.description), ("signature", &p.signature)] {
        if let Some(v) = value {
            fields.push((name, text(v)));
        }
    }
    if let Some(calendar) = &p.calendar {
        if let Some(c) = calendar {
            validate_calendar(c)?;
        }
        fields.push(("calendar", calendar.clone().unwrap_or(Value::Null)));
    }
    if let Some(sla) = &p.sla {
        fields.push(("sla", sla.clone().unwrap_or(Value::Null)));
    }
    if let Some(states) = &p.states {
        let mut seen = Vec::new();
        for state in states.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if CASE_STATES.contains(&state) {
                return Err(Error::invalid(format!(
                    "{state:?} is a built-in state already; a queue adds states of its own"
                )));
            }
            if !seen.iter().any(|s: &String| s.eq_ignore_ascii_case(state)) {
                seen.push(state.to_owned());
            }
        }
        fields.push(("states", json!(seen)));
    }
    if let Some(archived) = p.archived {
        fields.push(("archived", json!(archived)));
    }
    let def = EntityKind::Queue.def();
    for (name, value) in &fields {
        def.validate(name, value).map_err(Error::invalid)?;
    }
    Ok(fields)
}

/// Create a queue (staff and administrators).
pub fn create(store: &mut Store, patch: QueuePatch) -> Result<Queue> {
    if patch.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(Error::invalid("A queue needs a name, e.g. info-en."));
    }
    let fields = patch_fields(&patch)?;
    let id = Uuid::now_v7();
    store.transaction(|tx| {
        require_staff(tx, "create queues")?;
        if let Some(name) = &patch.name
            && find_in(tx, name).is_ok()
        {
            return Err(Error::invalid(format!("A queue named {:?} exists already.", name.trim())));
        }
        write::local_upsert(tx, EntityKind::Queue, id, &fields)?;
        Ok(())
    })?;
    get(store, id)
}

/// Change a queue (staff and administrators).
pub fn update(store: &mut Store, id: Uuid, patch: QueuePatch) -> Result<Queue> {
    let fields = patch_fields(&patch)?;
    store.transaction(|tx| {
        require_staff(tx, "change queues")?;
        if write::read_fields(tx, EntityKind::Queue, id)?.is_none() {
            return Err(Error::not_found(format!("Queue {id}")));
        }
        write::local_upsert(tx, EntityKind::Queue, id, &fields)?;
        Ok(())
    })?;
    get(store, id)
}

/// A queue's membership of `user` on this device: the live one, or the id the next one gets.
fn membership(conn: &Connection, queue: Uuid, user: &str) -> Result<write::Association> {
    write::association(conn, EntityKind::QueueMember, &[("queue_id", json!(queue.to_string())), ("user", json!(user))])
}

/// Add a user to a queue, or change their role in it (staff and administrators). The server
/// refuses a user it does not know.
pub fn add_member(store: &mut Store, queue: Uuid, user: &str, role: &str) -> Result<Queue> {
    let user = user.trim();
    if user.is_empty() {
        return Err(Error::invalid("Name the user to add."));
    }
    if !QUEUE_ROLES.contains(&role) {
        return Err(Error::invalid(format!(
            "{role:?} is not a role in a queue; roles are {}.",
            QUEUE_ROLES.join(", ")
        )));
    }
    store.transaction(|tx| {
        require_staff(tx, "manage queue members")?;
        if write::read_fields(tx, EntityKind::Queue, queue)?.is_none() {
            return Err(Error::not_found(format!("Queue {queue}")));
        }
        let found = membership(tx, queue, user)?;
        // An existing membership keeps its queue and user; only the role changes. A new one
        // (perhaps after an earlier one ended) is its next round.
        let mut fields = vec![("role", json!(role))];
        if !found.exists {
            fields.extend([("queue_id", json!(queue.to_string())), ("user", json!(user))]);
            if found.round > 0 {
                fields.push(("round", json!(found.round)));
            }
        }
        write::local_upsert(tx, EntityKind::QueueMember, found.id, &fields)?;
        Ok(())
    })?;
    get(store, queue)
}

/// Remove a user from a queue (staff and administrators): their devices delete the queue's
/// cases at their next sync.
pub fn remove_member(store: &mut Store, queue: Uuid, user: &str) -> Result<Queue> {
    store.transaction(|tx| {
        require_staff(tx, "manage queue members")?;
        let found = membership(tx, queue, user.trim())?;
        if !found.exists || !write::local_delete(tx, EntityKind::QueueMember, found.id)? {
            return Err(Error::not_found(format!("A membership of {user:?} in queue {queue}")));
        }
        Ok(())
    })?;
    get(store, queue)
}

fn members(conn: &Connection, queue: Uuid) -> Result<Vec<Member>> {
    let rows = conn
        .prepare_cached("SELECT user, role FROM queue_member WHERE queue_id = ?1 ORDER BY lower(user)")?
        .query_map([blob(queue)], |r| Ok(Member { user: r.get(0)?, role: r.get(1)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn open_cases(conn: &Connection, queue: Uuid) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(r#"SELECT count(*) FROM "case" WHERE queue_id = ?1 AND state NOT IN ('resolved', 'closed')"#)?
        .query_row([blob(queue)], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn text_value(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

fn queue_from(conn: &Connection, id: Uuid, fields: &BTreeMap<&'static str, Value>) -> Result<Queue> {
    Ok(Queue {
        id,
        name: text_value(fields.get("name")).unwrap_or_default(),
        email: text_value(fields.get("email")),
        language: text_value(fields.get("language")),
        description: text_value(fields.get("description")),
        signature: text_value(fields.get("signature")),
        calendar: fields.get("calendar").filter(|v| !v.is_null()).cloned(),
        sla: fields.get("sla").filter(|v| !v.is_null()).cloned(),
        states: fields.get("states").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
        archived: fields.get("archived").and_then(Value::as_bool).unwrap_or(false),
        members: members(conn, id)?,
        open_cases: open_cases(conn, id)?,
    })
}

pub fn get(store: &Store, id: Uuid) -> Result<Queue> {
    let conn = store.conn();
    let fields =
        write::read_fields(conn, EntityKind::Queue, id)?.ok_or_else(|| Error::not_found(format!("Queue {id}")))?;
    queue_from(conn, id, &fields)
}

/// Every queue on this device, by name (archived ones last).
pub fn list(store: &Store) -> Result<Vec<Queue>> {
    let conn = store.conn();
    let ids: Vec<Uuid> = conn
        .prepare_cached("SELECT id FROM queue ORDER BY archived, lower(name), id")?
        .query_map([], |r| uuid_from(r.get(0)?))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter().map(|id| get(store, id)).collect()
}

fn find_in(conn: &Connection, named: &str) -> Result<Uuid> {
    let named = named.trim();
    if let Ok(id) = Uuid::parse_str(named) {
        return match write::read_fields(conn, EntityKind::Queue, id)? {
            Some(_) => Ok(id),
            None => Err(Error::not_found(format!("Queue {id}"))),
        };
    }
    let found: Option<Vec<u8>> = conn
        .prepare_cached("SELECT id FROM queue WHERE lower(name) = lower(?1) LIMIT 1")?
        .query_row([named], |r| r.get(0))
        .optional()?;
    found.and_then(|b| Uuid::from_slice(&b).ok()).ok_or_else(|| {
        Error::new(
            ErrorCode::NotFound,
            format!(
                "There is no queue named {named:?} on this device; `liaison queue list` shows the queues it holds."
            ),
        )
    })
}

/// The queue a person named, by id or by name (case-insensitive).
pub fn find(store: &Store, named: &str) -> Result<Uuid> {
    find_in(store.conn(), named)
}

/// One line of the desk's queue sidebar: what waits in a queue, counted on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub archived: bool,
    /// Cases not resolved or closed.
    pub open: u64,
    /// Open cases whose reader waits for an answer.
    pub unanswered: u64,
    /// Open cases given to the signed-in user.
    pub mine: u64,
    /// Open cases given to nobody.
    pub unassigned: u64,
    /// Open cases with a running SLA clock past its due time.
    pub overdue: u64,
    /// Since when the longest-waiting reader of the queue waits (RFC 3339), if anyone does.
    pub oldest_unanswered_at: Option<String>,
}

/// The desk's sidebar: every queue on this device with its counts, in one pass over an index of
/// the open cases that holds everything they need (`case_sidebar`), archived queues last.
pub fn sidebar(store: &Store) -> Result<Vec<QueueCounts>> {
    let conn = store.conn();
    let me = crate::session::signed_in_user(conn)?.map(|u| u.to_lowercase());
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let rows = conn
        .prepare_cached(
            r#"WITH counts AS (
                   SELECT queue_id, count(*) AS open, count(awaiting_since) AS unanswered,
                          sum(owner = ?1 COLLATE NOCASE) AS mine, sum(owner IS NULL) AS unassigned,
                          sum(due_at < ?2) AS overdue, min(awaiting_since) AS oldest
                   FROM "case" INDEXED BY case_sidebar
                   WHERE state NOT IN ('resolved', 'closed')
                   GROUP BY queue_id
               )
               SELECT q.id, q.name, q.email, q.archived, coalesce(c.open, 0), coalesce(c.unanswered, 0),
                      coalesce(c.mine, 0), coalesce(c.unassigned, 0), coalesce(c.overdue, 0), c.oldest
               FROM queue q LEFT JOIN counts c ON c.queue_id = q.id
               ORDER BY q.archived, lower(q.name), q.id"#,
        )?
        .query_map(params![me, now], |r| {
            let n = |i: usize| -> rusqlite::Result<u64> { Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0)) };
            Ok(QueueCounts {
                id: uuid_from(r.get(0)?)?,
                name: r.get(1)?,
                email: r.get(2)?,
                archived: r.get(3)?,
                open: n(4)?,
                unanswered: n(5)?,
                mine: n(6)?,
                unassigned: n(7)?,
                overdue: n(8)?,
                oldest_unanswered_at: r.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
