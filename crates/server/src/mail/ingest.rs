//! One arriving message → rows: a new case (with its reader) or a message of an existing case,
//! a bounce marked on the reply it answers, or the raw `.eml` kept in quarantine.
//!
//! **Nothing twice.** The message's row id is derived from the queue and its Message-ID (or, for
//! mail without one, the SHA-256 of its bytes), and so are a new case's id and a new contact's:
//! a message whose row exists is a duplicate, and a pass cut off between writing the rows and
//! saving its progress writes the same rows again (the same values, so nothing changes).
//!
//! **One bad message never stops the queue**: what cannot be read or stored is quarantined with
//! the reason, and the caller goes on with the next message. Only storage failures (the server's
//! own database) stop a pass, and the pass resumes from the same message next time.

use super::{CASE_NUMBER, MESSAGE_ID, MailError, Mailbox, QUARANTINE, THREAD};
use crate::storage::{Pusher, Record, Storage, StorageError};
use chrono::{DateTime, SecondsFormat, Utc};
use liaison_mail::placing::{self, Cases, Placement};
use liaison_mail::{Limits, Mail};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::{self, EntityKind};
use liaison_protocol::wire::{Change, FieldWrite, Outcome};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use uuid::Uuid;

/// The namespace of the ids mail in derives.
const NAMESPACE: Uuid = Uuid::from_u128(0x6c69_6169_736f_6e00_8000_006d_6169_6c00);

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Source {
    pub uid_validity: u32,
    pub uid: u32,
    /// Imported from before the mailbox was connected: never acknowledged.
    pub historic: bool,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Ingested {
    NewCase {
        case: Uuid,
        message: Uuid,
    },
    Joined {
        case: Uuid,
        message: Uuid,
    },
    Duplicate {
        case: Option<Uuid>,
    },
    /// A delivery report about one of our replies (`reply`), attached to its case.
    Bounce {
        case: Uuid,
        reply: Uuid,
    },
    Quarantined {
        key: String,
        reason: String,
    },
}

fn derived(what: &str, parts: &[&str]) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{what}\u{1f}{}", parts.join("\u{1f}")).as_bytes())
}

/// Clocks for the server's writes: now, with a counter so two writes in a millisecond order.
fn stamp(now: DateTime<Utc>) -> Hlc {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    Hlc::new(crate::sync::unix_millis(now), COUNTER.fetch_add(1, Ordering::Relaxed) % 60_000)
}

pub(crate) fn change(kind: EntityKind, id: Uuid, fields: Vec<(&str, Value)>, now: DateTime<Utc>) -> Change {
    let hlc = stamp(now);
    Change {
        change_id: Uuid::now_v7(),
        entity: kind,
        row_id: id,
        base_seq: 0,
        fields: fields.into_iter().map(|(n, value)| (n.to_owned(), FieldWrite { value, hlc })).collect(),
        deleted: None,
    }
}

/// Write changes as the server; the first refusal's reason when any was refused.
pub(crate) async fn write(storage: &dyn Storage, changes: Vec<Change>, now: DateTime<Utc>) -> Result<(), String> {
    let response = storage.write_as_server(changes, now).await.map_err(|e| e.to_string())?;
    match response.results.iter().find(|r| r.outcome != Outcome::Accepted) {
        Some(refused) => {
            Err(refused.error.as_ref().map_or_else(|| "the server refused a change".to_owned(), |e| e.message.clone()))
        }
        None => Ok(()),
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn text_field(row: &liaison_protocol::wire::RowState, name: &str) -> Option<String> {
    row.fields.get(name).and_then(|f| f.value.as_str()).map(str::to_owned)
}

fn uuid_field(row: &liaison_protocol::wire::RowState, name: &str) -> Option<Uuid> {
    text_field(row, name).and_then(|s| Uuid::parse_str(&s).ok())
}

/// The row id of a message we sent, from its Message-ID (`<id@domain>`).
pub(crate) fn outbound_row(message_id: &str) -> Option<Uuid> {
    let local = message_id.trim_matches(['<', '>']).split('@').next()?;
    Uuid::parse_str(local).ok()
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars { text.to_owned() } else { text.chars().take(chars).collect() }
}

/// What placing needs, read from storage before placing.
#[derive(Default)]
struct Known {
    by_message_id: HashMap<String, Uuid>,
    by_number: HashMap<u64, Uuid>,
    participants: HashMap<Uuid, HashSet<String>>,
    /// Each case found (and each case it was merged into) → the case it was merged into.
    merged: HashMap<Uuid, Uuid>,
}

impl Cases for Known {
    type Id = Uuid;
    fn by_message_id(&self, message_id: &str) -> Option<Uuid> {
        self.by_message_id.get(message_id).copied()
    }
    fn by_number(&self, number: u64) -> Option<Uuid> {
        self.by_number.get(&number).copied()
    }
    fn is_participant(&self, case: &Uuid, address: &str) -> bool {
        self.participants.get(case).is_some_and(|people| people.contains(address))
    }
    fn merged_into(&self, case: &Uuid) -> Option<Uuid> {
        self.merged.get(case).copied()
    }
}

/// The case of a stored message with this Message-ID: inbound (the index) or ours (derived).
async fn case_of_message_id(storage: &dyn Storage, id: &str) -> Result<Option<Uuid>, MailError> {
    if let Some(record) = storage.record(MESSAGE_ID, id).await? {
        return Ok(record.doc.get("case_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()));
    }
    if let Some(row) = outbound_row(id)
        && let Some(message) = storage.row(EntityKind::CaseMessage, row).await?.filter(|r| !r.deleted)
    {
        return Ok(uuid_field(&message, "case_id"));
    }
    Ok(None)
}

pub(crate) async fn case_by_number(storage: &dyn Storage, number: u64) -> Result<Option<Uuid>, MailError> {
    Ok(storage
        .record(CASE_NUMBER, &number.to_string())
        .await?
        .and_then(|r| r.doc.get("case_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())))
}

/// Is `address` a person on `case`: its reader by mail, or a contact with that address linked to it?
async fn is_on_case(storage: &dyn Storage, case: Uuid, address: &str) -> Result<bool, MailError> {
    if let Some(thread) = storage.record(THREAD, &case.to_string()).await?
        && thread.doc.get("reader").and_then(Value::as_str).is_some_and(|r| r.eq_ignore_ascii_case(address))
    {
        return Ok(true);
    }
    for contact in storage.contacts_with_address(address).await? {
        let link = link_id(case, contact);
        if storage.row(EntityKind::CaseContact, link).await?.is_some_and(|r| !r.deleted) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A contact's part in a case.
fn link_change(case: Uuid, contact: Uuid, role: &str, now: DateTime<Utc>) -> Change {
    let fields =
        vec![("case_id", json!(case.to_string())), ("contact_id", json!(contact.to_string())), ("role", json!(role))];
    change(EntityKind::CaseContact, link_id(case, contact), fields, now)
}

/// Remember which case has number `number` (for its tag in subjects).
pub(crate) async fn remember_number(
    storage: &dyn Storage,
    number: u64,
    case: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let doc = json!({"case_id": case.to_string()});
    storage.put_record(&Record::new(CASE_NUMBER, number.to_string(), "active", doc, now)).await
}

fn link_id(case: Uuid, contact: Uuid) -> Uuid {
    let (case, contact) = (json!(case.to_string()), json!(contact.to_string()));
    schema::CASE_CONTACT
        .derived_id(|name| match name {
            "case_id" => Some(&case),
            "contact_id" => Some(&contact),
            _ => None,
        })
        .unwrap_or_else(Uuid::nil)
}

async fn known_for(storage: &dyn Storage, mail: &Mail) -> Result<Known, MailError> {
    let mut known = Known::default();
    let ids = mail.message_id.iter().cloned().chain(mail.thread_ids());
    for id in ids {
        if let Some(case) = case_of_message_id(storage, &id).await? {
            known.by_message_id.insert(id, case);
        }
    }
    if let Some(number) = mail.case_tag()
        && let Some(case) = case_by_number(storage, number).await?
    {
        known.by_number.insert(number, case);
    }
    // The cases these were merged into (a merged case takes no new mail: it goes on to the
    // survivor), as far as placing follows them.
    let mut cases: HashSet<Uuid> = known.by_message_id.values().chain(known.by_number.values()).copied().collect();
    for start in cases.clone() {
        let mut current = start;
        for _ in 0..16 {
            let Some(row) = storage.row(EntityKind::Case, current).await?.filter(|r| !r.deleted) else { break };
            let Some(next) = uuid_field(&row, "merged_into").filter(|next| *next != current) else { break };
            known.merged.insert(current, next);
            cases.insert(next);
            if known.merged.contains_key(&next) {
                break;
            }
            current = next;
        }
    }
    if let Some(sender) = mail.from.as_ref().map(liaison_mail::Address::key) {
        for case in cases {
            if is_on_case(storage, case, &sender).await? {
                known.participants.entry(case).or_default().insert(sender.clone());
            }
        }
    }
    Ok(known)
}

/// Keep a message that could not be stored, with why; returns its key.
pub(crate) async fn quarantine(
    storage: &dyn Storage,
    queue: Uuid,
    raw: &[u8],
    source: Option<Source>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<String, MailError> {
    let key = match source {
        Some(s) => format!("{queue}:{}:{}", s.uid_validity, s.uid),
        None => format!("{queue}:{}", Uuid::now_v7()),
    };
    let peek = liaison_mail::read(raw, &Limits { max_message_bytes: usize::MAX, ..Limits::default() }).ok();
    let doc = json!({
        "queue_id": queue.to_string(),
        "reason": reason,
        "received_at": rfc3339(now),
        "source": source,
        "bytes": raw.len(),
        "subject": peek.as_ref().map(|m| truncate(&m.subject, 200)),
        "from": peek.as_ref().and_then(|m| m.from.as_ref()).map(|a| a.address.clone()),
    });
    let mut record = Record::new(QUARANTINE, key.clone(), "held", doc, now);
    record.bytes = Some(raw.to_vec());
    storage.put_record(&record).await?;
    tracing::warn!("mail: a message for queue {queue} was quarantined as {key}: {reason}");
    Ok(key)
}

/// Store one raw message arriving at `mailbox`.
pub async fn ingest(
    storage: &dyn Storage,
    mailbox: &Mailbox,
    raw: &[u8],
    source: Source,
    now: DateTime<Utc>,
) -> Result<Ingested, MailError> {
    ingest_from(storage, mailbox, raw, Some(source), now).await
}

pub(crate) async fn ingest_from(
    storage: &dyn Storage,
    mailbox: &Mailbox,
    raw: &[u8],
    source: Option<Source>,
    now: DateTime<Utc>,
) -> Result<Ingested, MailError> {
    let queue = mailbox.queue_id;
    let held = |reason: String| async move {
        let key = quarantine(storage, queue, raw, source, &reason, now).await?;
        Ok::<_, MailError>(Ingested::Quarantined { key, reason })
    };
    let mail = match liaison_mail::read(raw, &Limits::default()) {
        Ok(mail) => mail,
        Err(e) => return held(e.to_string()).await,
    };
    let Some(sender) = mail.from.clone() else {
        return held("the message has no sender (no From address), so nobody could be answered".into()).await;
    };
    let key = match &mail.message_id {
        Some(id) => id.clone(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
    };
    let queue_text = queue.to_string();
    let message_id = derived("message", &[&queue_text, &key]);
    if storage.row(EntityKind::CaseMessage, message_id).await?.is_some() {
        let case = storage.row(EntityKind::CaseMessage, message_id).await?.and_then(|r| uuid_field(&r, "case_id"));
        return Ok(Ingested::Duplicate { case });
    }
    if let Some(report) = &mail.delivery_report
        && let Some(done) = bounce(storage, &mail, report, message_id, now).await?
    {
        return Ok(done);
    }
    let known = known_for(storage, &mail).await?;
    let placement = placing::place(&mail, &known);
    let mut changes = Vec::new();
    let (case, joins, new_case) = match placement {
        Placement::Duplicate(case) => return Ok(Ingested::Duplicate { case: Some(case) }),
        Placement::Existing { case, joins, .. } => (case, joins, false),
        Placement::New(_) => (derived("case", &[&queue_text, &key]), None, true),
    };
    let reader = contact_for(storage, &sender, now, &mut changes).await?;
    // A new case: its number, language and queue address (for the acknowledgement).
    let mut opened: Option<(u64, Option<String>, Option<String>)> = None;
    if new_case {
        let queue_row = storage.row(EntityKind::Queue, queue).await?;
        let language = queue_row.as_ref().and_then(|q| text_field(q, "language"));
        let number = storage.next_number("case").await?;
        opened = Some((number, language.clone(), queue_row.as_ref().and_then(|q| text_field(q, "email"))));
        let subject = mail.display_subject();
        let subject = if subject.trim().is_empty() { "(no subject)".to_owned() } else { truncate(&subject, 500) };
        let mut fields = vec![
            ("queue_id", json!(queue_text)),
            ("subject", json!(subject)),
            ("kind", json!("inquiry")),
            ("channel", json!("email")),
            ("state", json!("new")),
            ("created_at", json!(rfc3339(now))),
            ("number", json!(number)),
        ];
        if let Some(language) = language {
            fields.push(("language", json!(language)));
        }
        changes.push(change(EntityKind::Case, case, fields, now));
        changes.push(link_change(case, reader, "reader", now));
        remember_number(storage, number, case, now).await?;
    } else {
        if joins.is_some() && storage.row(EntityKind::CaseContact, link_id(case, reader)).await?.is_none() {
            // Someone in CC answering joins the case; the reader stays the reader.
            changes.push(link_change(case, reader, "other", now));
        }
        if let Some(row) = storage.row(EntityKind::Case, case).await?
            && text_field(&row, "state").is_some_and(|s| matches!(s.as_str(), "pending" | "resolved" | "closed"))
        {
            // The reader answered: the case is open again (and its clocks resume).
            changes.push(change(EntityKind::Case, case, vec![("state", json!("open"))], now));
        }
    }
    let sent_at = mail.timestamp.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)).unwrap_or(now);
    let original = original(&mail, source);
    changes.push(change(
        EntityKind::CaseMessage,
        message_id,
        vec![
            ("case_id", json!(case.to_string())),
            ("kind", json!("inbound")),
            ("channel", json!("email")),
            ("author_contact_id", json!(reader.to_string())),
            ("sent_at", json!(rfc3339(sent_at))),
            ("body", json!(truncate(&mail.text, 200_000))),
            ("original", original),
        ],
        now,
    ));
    let mut files = Vec::new();
    for (index, file) in mail.attachments.iter().enumerate() {
        if file.content.len() > schema::MAX_ATTACHMENT_BYTES {
            continue;
        }
        let sha = hex::encode(Sha256::digest(&file.content));
        let id = derived("attachment", &[&message_id.to_string(), &index.to_string()]);
        changes.push(change(
            EntityKind::Attachment,
            id,
            vec![
                ("message_id", json!(message_id.to_string())),
                ("name", json!(truncate(&file.name, 255))),
                ("media_type", json!(truncate(&file.media_type, 255))),
                ("size", json!(file.content.len())),
                ("sha256", json!(sha)),
            ],
            now,
        ));
        files.push((sha, &file.content));
    }
    if let Err(reason) = write(storage, changes, now).await {
        // Another pass (the worker and `mail fetch` at once) stored the same message first.
        if storage.row(EntityKind::CaseMessage, message_id).await?.is_some() {
            return Ok(Ingested::Duplicate { case: Some(case) });
        }
        return held(format!("the message could not be stored: {reason}")).await;
    }
    let (server, _) = Pusher::Server.user_and_device();
    for (sha, content) in files {
        storage.put_blob(&server, &sha, content, now).await?;
    }
    if let Some(id) = &mail.message_id {
        let doc = json!({"case_id": case.to_string(), "message_id": message_id.to_string()});
        storage.put_record(&Record::new(MESSAGE_ID, id.clone(), "inbound", doc, now)).await?;
    }
    remember_thread(storage, case, new_case.then(|| mail.reply_to.first().unwrap_or(&sender).key()), &mail, now)
        .await?;
    if let Some((number, language, address)) = opened {
        let historic = source.is_some_and(|s| s.historic);
        let acknowledged = super::ack::acknowledge(
            storage,
            mailbox,
            &mail,
            case,
            number,
            address.as_deref(),
            language.as_deref(),
            historic,
            now,
        )
        .await;
        match acknowledged {
            Ok(super::ack::Acknowledged::Skipped(why)) => tracing::debug!("mail: case {case} not acknowledged: {why}"),
            Ok(super::ack::Acknowledged::Queued { .. }) => {}
            Err(e) => tracing::warn!("mail: the acknowledgement of case {case} was not queued: {e}"),
        }
    }
    Ok(if new_case {
        Ingested::NewCase { case, message: message_id }
    } else {
        Ingested::Joined { case, message: message_id }
    })
}

/// What a reply to the case refers to: the reader's address (set when the case opens by mail),
/// and the newest Message-ID with the references before it.
async fn remember_thread(
    storage: &dyn Storage,
    case: Uuid,
    reader: Option<String>,
    mail: &Mail,
    now: DateTime<Utc>,
) -> Result<(), MailError> {
    let key = case.to_string();
    let mut doc = storage.record(THREAD, &key).await?.map(|r| r.doc).unwrap_or_else(|| json!({}));
    if let Some(reader) = reader {
        doc["reader"] = json!(reader);
    } else if doc.get("reader").is_none()
        && let Some(from) = &mail.from
    {
        doc["reader"] = json!(from.key());
    }
    if let Some(id) = &mail.message_id {
        push_reference(&mut doc, id);
    }
    storage.put_record(&Record::new(THREAD, key, "active", doc, now)).await?;
    Ok(())
}

/// Make `id` the newest of a thread record's references (at most 20 kept).
pub(crate) fn push_reference(doc: &mut Value, id: &str) {
    let mut refs: Vec<String> = doc
        .get("references")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    refs.retain(|r| r != id);
    refs.push(id.to_owned());
    let skip = refs.len().saturating_sub(20);
    doc["references"] = json!(refs[skip..]);
    doc["last_message_id"] = json!(id);
}

/// The contact with this address, or a new one (its changes added to `changes`).
async fn contact_for(
    storage: &dyn Storage,
    sender: &liaison_mail::Address,
    now: DateTime<Utc>,
    changes: &mut Vec<Change>,
) -> Result<Uuid, MailError> {
    let address = sender.key();
    if let Some(found) = storage.contacts_with_address(&address).await?.first() {
        return Ok(*found);
    }
    let contact = derived("contact", &[&address]);
    let name = sender.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| sender.address.clone());
    changes.push(change(
        EntityKind::Contact,
        contact,
        vec![("display_name", json!(truncate(name.trim(), 300))), ("created_at", json!(rfc3339(now)))],
        now,
    ));
    changes.push(change(
        EntityKind::ContactEmail,
        derived("contact_email", &[&address]),
        vec![("contact_id", json!(contact.to_string())), ("address", json!(truncate(&sender.address, 320)))],
        now,
    ));
    Ok(contact)
}

/// Where the message came from, for the thread's "show original" and for threading.
fn original(mail: &Mail, source: Option<Source>) -> Value {
    let people = |list: &[liaison_mail::Address]| -> Vec<String> { list.iter().map(|a| a.address.clone()).collect() };
    let mut doc = json!({
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to,
        "references": mail.references,
        "subject": truncate(&mail.subject, 1000),
        "from": mail.from.as_ref().map(|a| a.address.clone()),
        "from_name": mail.from.as_ref().and_then(|a| a.name.clone()),
        "reply_to": people(&mail.reply_to),
        "to": people(&mail.to),
        "cc": people(&mail.cc),
        "date": mail.date,
        "source": source,
        "encoding_problems": mail.encoding_problems,
        "omitted": mail.omitted.iter().map(|o| json!({"name": o.name, "bytes": o.bytes, "reason": o.reason})).collect::<Vec<_>>(),
    });
    if let Some(html) = &mail.html {
        let budget = 150_000usize.saturating_sub(doc.to_string().len());
        if html.len() <= budget {
            doc["html"] = json!(html);
        } else {
            doc["html_left_out"] = json!("the formatted version was too large to keep");
        }
    }
    doc
}

/// A delivery report about one of our replies: the reply's delivery becomes "not delivered"
/// with the reason, and the report is attached to its case as an event. `None` when it is
/// about nothing we sent (it is then stored as ordinary mail).
async fn bounce(
    storage: &dyn Storage,
    mail: &Mail,
    report: &liaison_mail::DeliveryReport,
    message_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Ingested>, MailError> {
    let candidates = report.original_message_id.iter().cloned().chain(mail.thread_ids());
    let mut reply = None;
    for id in candidates {
        if let Some(row) = outbound_row(&id)
            && let Some(message) = storage.row(EntityKind::CaseMessage, row).await?.filter(|r| !r.deleted)
        {
            reply = Some((row, message));
            break;
        }
    }
    let Some((reply, message)) = reply else { return Ok(None) };
    let Some(case) = uuid_field(&message, "case_id") else { return Ok(None) };
    let summary = report.summary();
    let mut changes = vec![change(
        EntityKind::CaseMessage,
        message_id,
        vec![
            ("case_id", json!(case.to_string())),
            ("kind", json!("event")),
            ("channel", json!("email")),
            ("sent_at", json!(rfc3339(now))),
            ("body", json!(truncate(&format!("A reply could not be delivered:\n{summary}"), 200_000))),
            ("original", original(mail, None)),
        ],
        now,
    )];
    if report.failed() {
        changes.push(super::outbox::delivery_change(
            reply,
            &super::outbox::DeliveryState {
                state: "not_delivered",
                detail: Some(truncate(&summary, 2_000)),
                ..Default::default()
            },
            now,
        ));
    }
    write(storage, changes, now).await.map_err(MailError::Invalid)?;
    Ok(Some(Ingested::Bounce { case, reply }))
}

/// Quarantined mail, oldest key first.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub key: String,
    pub queue_id: Option<String>,
    pub reason: String,
    pub received_at: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub bytes: u64,
}

pub async fn quarantined(storage: &dyn Storage) -> Result<Vec<Held>, MailError> {
    let mut held = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = storage.list_records(QUARANTINE, None, after.as_deref(), 500).await?;
        let Some(last) = page.last().map(|r| r.key.clone()) else { break };
        for r in page {
            let text = |name: &str| r.doc.get(name).and_then(Value::as_str).map(str::to_owned);
            held.push(Held {
                queue_id: text("queue_id"),
                reason: text("reason").unwrap_or_default(),
                received_at: text("received_at"),
                subject: text("subject"),
                from: text("from"),
                bytes: r.doc.get("bytes").and_then(Value::as_u64).unwrap_or(0),
                key: r.key,
            });
        }
        after = Some(last);
    }
    Ok(held)
}

/// Try a quarantined message again (after a fix); on success it leaves the quarantine.
pub async fn retry(storage: &dyn Storage, key: &str, now: DateTime<Utc>) -> Result<Ingested, MailError> {
    let record = storage.record(QUARANTINE, key).await?.ok_or_else(|| {
        MailError::Invalid(format!(
            "nothing is quarantined as {key:?}; `liaison-server mail quarantine list` shows what is"
        ))
    })?;
    let queue = record.doc.get("queue_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
    let mailbox = match queue {
        Some(queue) => super::mailbox_of(storage, queue).await?,
        None => None,
    }
    .ok_or_else(|| {
        MailError::Invalid(format!("the queue of {key:?} has no mailbox any more; delete the message instead"))
    })?;
    let raw = record.bytes.clone().unwrap_or_default();
    let source: Option<Source> = record.doc.get("source").and_then(|s| {
        Some(Source {
            uid_validity: u32::try_from(s.get("uid_validity")?.as_u64()?).ok()?,
            uid: u32::try_from(s.get("uid")?.as_u64()?).ok()?,
            historic: true,
        })
    });
    // Delete first: a message quarantined again takes the same key with its new reason.
    storage.delete_record(QUARANTINE, key).await?;
    match ingest_from(storage, &mailbox, &raw, source, now).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            storage.put_record(&record).await?;
            Err(e)
        }
    }
}

/// Delete a quarantined message for good.
pub async fn forget(storage: &dyn Storage, key: &str) -> Result<(), MailError> {
    if storage.delete_record(QUARANTINE, key).await? {
        Ok(())
    } else {
        Err(MailError::Invalid(format!(
            "nothing is quarantined as {key:?}; `liaison-server mail quarantine list` shows what is"
        )))
    }
}
