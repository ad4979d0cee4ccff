//! What administrators do to synced data from the command line (`liaison-server queue …`):
//! create and change queues, add and remove their members. Every change goes through the same
//! sync engine as a device's push ([`Storage::write_as_server`]), so the same rules hold (a
//! membership's derived id, its user existing, the scope it grants) and devices receive the
//! result at their next sync.

use crate::storage::{Storage, StorageError};
use chrono::{DateTime, Utc};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::{EntityKind, QUEUE_ROLES, ROUND};
use liaison_protocol::wire::{Change, FieldWrite, Outcome, RowState};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use uuid::Uuid;

/// Why an administrator's command changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The server's rules refused the change (the message says why).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
}

/// The fields of a queue an administrator sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub description: Option<String>,
    pub signature: Option<String>,
    pub calendar: Option<Value>,
    pub sla: Option<Value>,
    pub states: Option<Vec<String>>,
    pub archived: Option<bool>,
}

impl QueueInput {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        let text =
            |v: &Option<String>| v.as_ref().map(|s| if s.trim().is_empty() { Value::Null } else { json!(s.trim()) });
        [
            ("name", self.name.as_ref().map(|s| json!(s.trim()))),
            ("email", text(&self.email)),
            ("language", text(&self.language)),
            ("description", text(&self.description)),
            ("signature", text(&self.signature)),
            ("calendar", self.calendar.clone()),
            ("sla", self.sla.clone()),
            ("states", self.states.as_ref().map(|s| json!(s))),
            ("archived", self.archived.map(Value::Bool)),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }
}

/// A queue as an administrator lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueInfo {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub language: Option<String>,
    pub archived: bool,
    /// Members by user name, with their role in the queue.
    pub members: Vec<Member>,
    /// Every field as stored (calendar, SLA targets, states …).
    pub fields: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub user: String,
    pub role: String,
}

/// Clocks for the server's own writes: the wall clock, with a counter so that two commands in
/// one millisecond still order.
fn stamp(now: DateTime<Utc>) -> Hlc {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    Hlc::new(crate::sync::unix_millis(now), COUNTER.fetch_add(1, Ordering::Relaxed) % 60_000)
}

fn change(entity: EntityKind, row_id: Uuid, fields: Vec<(&str, Value)>, now: DateTime<Utc>) -> Change {
    let hlc = stamp(now);
    Change {
        change_id: Uuid::now_v7(),
        entity,
        row_id,
        base_seq: 0,
        fields: fields.into_iter().map(|(n, value)| (n.to_owned(), FieldWrite { value, hlc })).collect(),
        deleted: None,
    }
}

async fn write(storage: &dyn Storage, change: Change, now: DateTime<Utc>) -> Result<(), AdminError> {
    let response = storage.write_as_server(vec![change], now).await?;
    match response.results.first() {
        Some(result) if result.outcome == Outcome::Accepted => Ok(()),
        Some(result) => Err(AdminError::Refused(
            result.error.as_ref().map_or_else(|| "the server refused the change".to_owned(), |e| e.message.clone()),
        )),
        None => Err(AdminError::Refused("the server answered without a result".into())),
    }
}

/// Create a queue; returns its id.
pub async fn add_queue(storage: &dyn Storage, input: &QueueInput, now: DateTime<Utc>) -> Result<Uuid, AdminError> {
    if input.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(AdminError::Invalid("a queue needs a name (--name), e.g. info-en".into()));
    }
    if let Some(name) = &input.name
        && find(&list_queues(storage).await?, name).is_ok()
    {
        return Err(AdminError::Invalid(format!(
            "a queue named {name:?} already exists; `liaison-server queue list` shows it"
        )));
    }
    let id = Uuid::now_v7();
    write(storage, change(EntityKind::Queue, id, input.fields(), now), now).await?;
    Ok(id)
}

/// Change the given fields of a queue (named by id or name).
pub async fn edit_queue(
    storage: &dyn Storage,
    queue: &str,
    input: &QueueInput,
    now: DateTime<Utc>,
) -> Result<QueueInfo, AdminError> {
    let id = find(&list_queues(storage).await?, queue)?.id;
    let fields = input.fields();
    if fields.is_empty() {
        return Err(AdminError::Invalid(
            "nothing to change: give at least one of --name, --email, --language, … (see --help)".into(),
        ));
    }
    write(storage, change(EntityKind::Queue, id, fields, now), now).await?;
    let queues = list_queues(storage).await?;
    Ok(find(&queues, &id.to_string())?.clone())
}

/// Every queue with its members, by name.
pub async fn list_queues(storage: &dyn Storage) -> Result<Vec<QueueInfo>, AdminError> {
    let text = |row: &RowState, name: &str| row.fields.get(name).and_then(|f| f.value.as_str()).map(str::to_owned);
    let mut members: BTreeMap<Uuid, Vec<Member>> = BTreeMap::new();
    for row in storage.rows_of(EntityKind::QueueMember).await? {
        let queue = text(&row, "queue_id").and_then(|q| Uuid::parse_str(&q).ok());
        if let (Some(queue), Some(user)) = (queue, text(&row, "user")) {
            members
                .entry(queue)
                .or_default()
                .push(Member { user, role: text(&row, "role").unwrap_or_else(|| "agent".into()) });
        }
    }
    let mut queues: Vec<QueueInfo> = storage
        .rows_of(EntityKind::Queue)
        .await?
        .into_iter()
        .map(|row| QueueInfo {
            id: row.row_id,
            name: text(&row, "name").unwrap_or_default(),
            email: text(&row, "email"),
            language: text(&row, "language"),
            archived: row.fields.get("archived").is_some_and(|f| f.value == Value::Bool(true)),
            members: {
                let mut m = members.remove(&row.row_id).unwrap_or_default();
                m.sort_by_key(|m| m.user.to_lowercase());
                m
            },
            fields: row.fields.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect(),
        })
        .collect();
    queues.sort_by_key(|q| q.name.to_lowercase());
    Ok(queues)
}

/// The queue a person named, by id or by name (case-insensitive).
pub fn find<'q>(queues: &'q [QueueInfo], named: &str) -> Result<&'q QueueInfo, AdminError> {
    let named = named.trim();
    if let Ok(id) = Uuid::parse_str(named) {
        return queues.iter().find(|q| q.id == id).ok_or_else(|| {
            AdminError::Invalid(format!("there is no queue {id}; `liaison-server queue list` shows the queues"))
        });
    }
    let found: Vec<&QueueInfo> = queues.iter().filter(|q| q.name.eq_ignore_ascii_case(named)).collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(AdminError::Invalid(format!(
            "there is no queue named {named:?}; `liaison-server queue list` shows the queues"
        ))),
        _ => Err(AdminError::Invalid(format!("several queues are named {named:?}; name one by its id"))),
    }
}

/// Add a user to a queue with a role (`agent` or `lead`), or change their role. Their devices
/// receive the queue and its cases at their next sync.
pub async fn add_member(
    storage: &dyn Storage,
    queue: &str,
    user: &str,
    role: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, AdminError> {
    if !QUEUE_ROLES.contains(&role) {
        return Err(AdminError::Invalid(format!(
            "{role:?} is not a role in a queue; roles are {}",
            QUEUE_ROLES.join(", ")
        )));
    }
    let queue = find(&list_queues(storage).await?, queue)?.id;
    let (id, exists, round) = membership(storage, queue, user).await?;
    // A membership that exists changes its role; a new one (perhaps after an earlier one ended)
    // is its next round.
    let mut fields = vec![("role", json!(role))];
    if !exists {
        fields.extend([("queue_id", json!(queue.to_string())), ("user", json!(user.trim()))]);
        if round > 0 {
            fields.push(("round", json!(round)));
        }
    }
    write(storage, change(EntityKind::QueueMember, id, fields, now), now).await?;
    Ok(id)
}

/// A queue's membership of `user`: the live row's id, or the id of its next round (the first
/// never ended), with whether it exists and its round.
async fn membership(storage: &dyn Storage, queue: Uuid, user: &str) -> Result<(Uuid, bool, u64), AdminError> {
    let def = EntityKind::QueueMember.def();
    let id_of = |round: u64| {
        let values = BTreeMap::from([
            ("queue_id".to_owned(), json!(queue.to_string())),
            ("user".to_owned(), json!(user.trim())),
            ("round".to_owned(), json!(round)),
        ]);
        def.derived_id_of(&values).ok_or_else(|| AdminError::Invalid("a member needs a user name".into()))
    };
    let live = storage.rows_of(EntityKind::QueueMember).await?;
    for row in &live {
        let round = row.fields.get("round").and_then(|f| f.value.as_u64()).unwrap_or(0);
        if row.row_id == id_of(round)? {
            return Ok((row.row_id, true, round));
        }
    }
    // Rounds in batches: each batch is one question to the storage.
    const BATCH: u64 = 16;
    for first in (0..=ROUND.max_len as u64).step_by(BATCH as usize) {
        let ids = (first..first + BATCH).map(id_of).collect::<Result<Vec<_>, _>>()?;
        let ended = storage.ended_among(EntityKind::QueueMember, &ids).await?;
        if let Some((offset, id)) = ids.iter().enumerate().find(|(_, id)| !ended.contains(id)) {
            return Ok((*id, false, first + offset as u64));
        }
    }
    Err(AdminError::Invalid(format!("{user} was removed from this queue too often to be added again")))
}

/// Remove a user from a queue: their devices delete the queue's cases at their next sync.
pub async fn remove_member(
    storage: &dyn Storage,
    queue: &str,
    user: &str,
    now: DateTime<Utc>,
) -> Result<(), AdminError> {
    let info = find(&list_queues(storage).await?, queue)?.clone();
    if !info.members.iter().any(|m| m.user.eq_ignore_ascii_case(user.trim())) {
        return Err(AdminError::Invalid(format!(
            "{user} is not a member of {}; `liaison-server queue list` shows the members",
            info.name
        )));
    }
    let (id, _, _) = membership(storage, info.id, user).await?;
    let mut delete = change(EntityKind::QueueMember, id, Vec::new(), now);
    delete.deleted = Some(stamp(now));
    write(storage, delete, now).await
}

/// Parse SLA targets typed as `first_response=480,update=1440,resolution=10080` (minutes).
pub fn parse_sla(text: &str) -> Result<Value, AdminError> {
    let mut targets = serde_json::Map::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, minutes) = part
            .split_once('=')
            .ok_or_else(|| AdminError::Invalid(format!("{part:?} is not a target; write e.g. first_response=480")))?;
        let minutes: u64 = minutes
            .trim()
            .parse()
            .map_err(|_| AdminError::Invalid(format!("{minutes:?} is not a number of minutes (in {part:?})")))?;
        targets.insert(name.trim().to_owned(), json!(minutes));
    }
    let value = Value::Object(targets);
    EntityKind::Queue.def().validate("sla", &value).map_err(AdminError::Invalid)?;
    Ok(value)
}
