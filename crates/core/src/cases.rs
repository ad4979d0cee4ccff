//! Cases: a reader's inquiry, complaint or comment, in a queue, with the contacts it concerns
//! and its thread of messages.
//!
//! A case's scalar fields are one synced row (merged field by field, concurrent differing edits
//! recorded as conflicts). Its contacts are rows with ids derived from the case and the contact,
//! so linking the same person twice, on two laptops, makes one link. Its messages are
//! append-only rows: an internal note and a public reply can never be confused or edited after
//! the fact, and an offline note is never lost (a note for a case deleted meanwhile goes to the
//! conflict inbox). Files are attachments of a message; their content is kept inside the
//! encrypted store by its SHA-256.

use crate::contacts::Page;
use crate::entities;
use crate::error::{Error, ErrorCode, Result};
use crate::queues;
use crate::store::contacts::fts_query;
use crate::store::sync_tables::{blob, uuid_from};
use crate::store::{Store, desk, write};
use liaison_protocol::schema::{
    CASE_CONTACT_ROLES, CASE_KINDS, CHANNELS, EntityKind, MAX_ATTACHMENT_BYTES, MESSAGE_KINDS, PRIORITIES,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A page of a wiki a case is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WikiPage {
    /// The wiki's host, e.g. `en.wikipedia.org`.
    pub wiki: String,
    pub title: String,
}

/// What a person enters for a new case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseInput {
    pub queue: Uuid,
    pub subject: String,
    /// `inquiry` (the default), `complaint` or `comment`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The channel it came through (default `email`).
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub wiki_pages: Vec<WikiPage>,
    /// The reader who wrote, linked to the case as `reader`.
    #[serde(default)]
    pub reader: Option<Uuid>,
    /// What the reader wrote: the case's first message (`inbound`).
    #[serde(default)]
    pub text: Option<String>,
}

/// A partial edit: `None` leaves a value as it is; `Some(None)` clears an optional value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CasePatch {
    pub subject: Option<String>,
    pub kind: Option<String>,
    pub channel: Option<String>,
    pub language: Option<Option<String>>,
    pub category: Option<Option<String>>,
    pub priority: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub wiki_pages: Option<Vec<WikiPage>>,
    /// Move the case to another queue: its members see it, the old queue's no longer do.
    pub queue: Option<Uuid>,
}

/// One of the contacts a case concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseContact {
    pub id: Uuid,
    pub contact_id: Uuid,
    /// The contact's name, when the contact is on this device.
    pub name: Option<String>,
    /// `reader`, `subject`, `representative` or `other`.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: Uuid,
    pub name: String,
    pub media_type: Option<String>,
    pub size: u64,
    pub sha256: String,
    /// Whether this device holds the content (else it is fetched from the server when opened).
    pub stored: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    /// The case it was written in: the case shown, or one that was merged into it.
    pub case_id: Uuid,
    /// `inbound` (from the reader), `reply` (the reader sees it), `note` (the team only) or
    /// `event` (something that happened).
    pub kind: String,
    pub channel: String,
    /// The team member who wrote it.
    pub author_user: Option<String>,
    /// The contact who wrote it (for inbound messages), and their name when on this device.
    pub author_contact_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub sent_at: String,
    pub body: Option<String>,
    pub attachments: Vec<Attachment>,
    /// For a reply by mail: where its sending stands (written by the server), once synced.
    pub delivery: Option<Delivery>,
    /// Where it can be seen on its channel (a wiki diff, a mailing-list post), when recorded.
    pub link: Option<String>,
    /// For mail that came with HTML: a formatted version can be shown ([`formatted`]).
    pub formatted: bool,
    /// Parts of the mail that were not kept (too large), with why.
    pub omitted: Vec<Omitted>,
    /// The mail declared a charset it did not use (or an unknown one): some characters may be
    /// wrong (they were replaced, never dropped silently).
    pub encoding_problems: bool,
}

/// A part of a reader's mail that was not kept, and why (an attachment over the size limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    pub name: String,
    pub bytes: u64,
    pub reason: String,
}

/// Another case, as a case refers to it (the one it was merged into, one merged into it, a
/// related one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRef {
    pub id: Uuid,
    pub number: Option<u64>,
    /// `None` when that case is not on this device (it is in a queue you are not a member of).
    pub subject: Option<String>,
    pub state: Option<String>,
    pub queue_name: Option<String>,
}

/// Where a reply sent by mail stands: `queued`, `sending`, `sent`, `retrying`, `failed` or
/// `not_delivered` (a bounce came back), with the mail server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: String,
    pub detail: Option<String>,
    pub attempts: Option<u64>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: Uuid,
    /// The number the server gave the case (`[Liaison #1234]` in mail); `None` until it has one.
    pub number: Option<u64>,
    pub queue_id: Uuid,
    pub queue_name: Option<String>,
    pub subject: String,
    pub kind: String,
    pub channel: String,
    pub state: String,
    pub language: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub wiki_pages: Vec<WikiPage>,
    pub created_at: String,
    pub updated_at: String,
    pub contacts: Vec<CaseContact>,
    /// The thread, oldest first.
    pub messages: Vec<Message>,
    /// The SLA clocks as the server last computed them (see [`Sla`]); `None` until it has.
    pub sla: Option<Sla>,
    /// The earliest due time of a running clock (RFC 3339, UTC).
    pub due_at: Option<String>,
    /// Since when the reader waits for an answer (their oldest unanswered message), if they do.
    pub awaiting_since: Option<String>,
    /// The case this one was merged into: it takes no new messages (see [`merge`]).
    pub merged_into: Option<CaseRef>,
    /// The cases merged into this one (directly or through others); their messages are in
    /// [`Case::messages`].
    pub merged: Vec<CaseRef>,
    /// Related cases (see [`relate`]).
    pub links: Vec<CaseRef>,
}

/// The three SLA clocks of a case, as the server computed them from the thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sla {
    #[serde(default)]
    pub first_response: Option<Clock>,
    #[serde(default)]
    pub update: Option<Clock>,
    #[serde(default)]
    pub resolution: Option<Clock>,
}

/// One SLA clock: `idle` (nothing started it), `running`, `paused` (waiting on the reader) or
/// `stopped` (done), with its due time in UTC when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub state: String,
    #[serde(default)]
    pub due: Option<String>,
    #[serde(default)]
    pub breached: bool,
    #[serde(default)]
    pub elapsed_minutes: i64,
    #[serde(default)]
    pub target_minutes: Option<i64>,
}

/// One line of a case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: Uuid,
    pub queue_id: Uuid,
    pub queue_name: Option<String>,
    pub subject: String,
    pub kind: String,
    pub state: String,
    pub priority: Option<String>,
    pub owner: Option<String>,
    pub language: Option<String>,
    /// The first reader linked to the case.
    pub reader: Option<String>,
    pub messages: u64,
    pub created_at: String,
    pub updated_at: String,
    /// The number the server gave the case, once it has.
    pub number: Option<u64>,
    /// The earliest due time of a running SLA clock (RFC 3339, UTC).
    pub due_at: Option<String>,
    /// Since when the reader waits for an answer, if they do.
    pub awaiting_since: Option<String>,
}

/// The desk's ready-made selections of cases. Every view but [`View::All`] leaves out resolved
/// and closed cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Every case, whatever its state.
    #[default]
    All,
    /// Not resolved or closed.
    Open,
    /// Open, with a reader message no public reply has answered yet.
    Unanswered,
    /// Open and given to the signed-in user.
    Mine,
    /// Open and given to nobody.
    Unassigned,
    /// A running SLA clock is past its due time.
    Overdue,
    /// A running SLA clock falls due before midnight in this device's time zone (and is not
    /// overdue yet).
    DueToday,
    /// Waiting on the reader (`pending`).
    Waiting,
}

impl View {
    pub const ALL: [View; 8] = [
        View::All,
        View::Open,
        View::Unanswered,
        View::Mine,
        View::Unassigned,
        View::Overdue,
        View::DueToday,
        View::Waiting,
    ];

    pub fn name(self) -> &'static str {
        match self {
            View::All => "all",
            View::Open => "open",
            View::Unanswered => "unanswered",
            View::Mine => "mine",
            View::Unassigned => "unassigned",
            View::Overdue => "overdue",
            View::DueToday => "due-today",
            View::Waiting => "waiting",
        }
    }

    /// A view by its name (`due-today` or `due_today`).
    pub fn parse(name: &str) -> Result<View> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        View::ALL.into_iter().find(|v| v.name() == wanted).ok_or_else(|| {
            Error::invalid(format!("{name:?} is not a view; the views are {}.", View::ALL.map(View::name).join(", ")))
        })
    }
}

/// The order of a case list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Most recently changed first (best matches first when searching).
    #[default]
    Updated,
    /// Soonest due first; cases without a due time last.
    Due,
    /// The reader who has waited longest first; cases nobody waits on last.
    Waiting,
    /// Newest first.
    Created,
}

/// Which cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFilter {
    #[serde(default)]
    pub queue: Option<Uuid>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// Words to find in the subject, the thread or the tags (prefix type-ahead).
    #[serde(default)]
    pub query: Option<String>,
    /// Leave out resolved and closed cases.
    #[serde(default)]
    pub open_only: bool,
    #[serde(default)]
    pub view: View,
    #[serde(default)]
    pub sort: Sort,
}

/// A new message of a case's thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageInput {
    /// See [`Message::kind`].
    pub kind: String,
    /// Default: the case's channel.
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// For an inbound message: who wrote it (default: the case's reader).
    #[serde(default)]
    pub author_contact: Option<Uuid>,
    /// When it was sent or happened (RFC 3339; default: now).
    #[serde(default)]
    pub sent_at: Option<String>,
    /// Where it can be seen on its channel: the diff of a talk-page comment, a mailing-list
    /// post (an `http(s)` address).
    #[serde(default)]
    pub link: Option<String>,
}

/// A file to attach to a new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub name: String,
    pub media_type: Option<String>,
    pub content: Vec<u8>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn clean(s: &str) -> String {
    s.trim().to_owned()
}

fn clean_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn choice(what: &str, value: &str, options: &[&str]) -> Result<String> {
    let value = value.trim().to_lowercase();
    if options.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(Error::invalid(format!("{value:?} is not a {what}; choose one of {}.", options.join(", "))))
    }
}

fn opt(v: Option<String>) -> Value {
    v.map_or(Value::Null, Value::String)
}

fn check_subject(subject: &str) -> Result<String> {
    let subject = clean(subject);
    if subject.is_empty() {
        return Err(Error::invalid("A case needs a subject."));
    }
    if subject.chars().count() > 500 {
        return Err(Error::invalid("The subject is longer than 500 characters."));
    }
    Ok(subject)
}

fn check_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    for tag in tags.iter().map(|t| clean(t)).filter(|t| !t.is_empty()) {
        if !seen.iter().any(|s| s.eq_ignore_ascii_case(&tag)) {
            seen.push(tag);
        }
    }
    if seen.len() > 100 || seen.iter().any(|t| t.chars().count() > 100) {
        return Err(Error::invalid("At most 100 tags of at most 100 characters each."));
    }
    Ok(seen)
}

fn pages_value(pages: &[WikiPage]) -> Result<Value> {
    let value =
        json!(pages.iter().map(|p| json!({"wiki": p.wiki.trim(), "title": p.title.trim()})).collect::<Vec<_>>());
    EntityKind::Case.def().validate("wiki_pages", &value).map_err(Error::invalid)?;
    Ok(value)
}

fn queue_exists(conn: &Connection, queue: Uuid) -> Result<()> {
    match write::read_fields(conn, EntityKind::Queue, queue)? {
        Some(_) => Ok(()),
        None => Err(Error::new(
            ErrorCode::NotFound,
            format!(
                "Queue {queue} is not on this device (you may not be one of its members); `liaison queue list` shows the queues you can use."
            ),
        )),
    }
}

fn case_exists(conn: &Connection, case: Uuid) -> Result<()> {
    match write::read_fields(conn, EntityKind::Case, case)? {
        Some(_) => Ok(()),
        None => Err(Error::not_found(format!("Case {case}"))),
    }
}

/// Link a contact to a case in the caller's transaction (or change their role).
fn link_in(conn: &Connection, case: Uuid, contact: Uuid, role: &str) -> Result<Uuid> {
    let role = choice("role in a case", role, &CASE_CONTACT_ROLES)?;
    if write::read_fields(conn, EntityKind::Contact, contact)?.is_none() {
        return Err(Error::not_found(format!("Contact {contact}")));
    }
    let found = link_of(conn, case, contact)?;
    let mut fields = vec![("role", json!(role))];
    if !found.exists {
        fields.extend([("case_id", json!(case.to_string())), ("contact_id", json!(contact.to_string()))]);
        if found.round > 0 {
            fields.push(("round", json!(found.round)));
        }
    }
    write::local_upsert(conn, EntityKind::CaseContact, found.id, &fields)?;
    Ok(found.id)
}

/// The link between a case and a contact on this device: the live one, or the id the next one
/// gets (a contact taken off a case and linked again is a new link).
fn link_of(conn: &Connection, case: Uuid, contact: Uuid) -> Result<write::Association> {
    write::association(
        conn,
        EntityKind::CaseContact,
        &[("case_id", json!(case.to_string())), ("contact_id", json!(contact.to_string()))],
    )
}

/// The first reader linked to a case.
fn reader_of(conn: &Connection, case: Uuid) -> Result<Option<Uuid>> {
    let found: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT contact_id FROM case_contact WHERE case_id = ?1 AND role = 'reader' ORDER BY rowid LIMIT 1",
        )?
        .query_row([blob(case)], |r| r.get(0))
        .optional()?;
    Ok(found.and_then(|b| Uuid::from_slice(&b).ok()))
}

/// Write a message (and its files) in the caller's transaction.
fn message_in(conn: &Connection, case: Uuid, input: &MessageInput, files: &[NewFile]) -> Result<Uuid> {
    let kind = choice("kind of message", &input.kind, &MESSAGE_KINDS)?;
    let case_fields =
        write::read_fields(conn, EntityKind::Case, case)?.ok_or_else(|| Error::not_found(format!("Case {case}")))?;
    if kind != "event"
        && let Some(survivor) = merged_into_of(&case_fields)
    {
        return Err(Error::invalid(format!(
            "Case {} was merged into case {}: it takes no new messages. Write in case {} instead.",
            label(conn, case)?,
            label(conn, survivor)?,
            label(conn, survivor)?
        )));
    }
    let link = clean_opt(&input.link).map(|l| check_link(&l)).transpose()?;
    let channel = match &input.channel {
        Some(c) => choice("channel", c, &CHANNELS)?,
        None => case_fields.get("channel").and_then(Value::as_str).unwrap_or("email").to_owned(),
    };
    let body = clean_opt(&input.body);
    if body.is_none() && files.is_empty() {
        return Err(Error::invalid("A message needs some text (or a file)."));
    }
    if let Some(b) = &body
        && b.chars().count() > 200_000
    {
        return Err(Error::invalid("The text is longer than 200,000 characters."));
    }
    let sent_at = match &input.sent_at {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at.trim())
            .map_err(|_| Error::invalid(format!("{at:?} is not a date and time (expected e.g. 2026-12-01T14:30:00Z)")))?
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => now(),
    };
    let author_contact = match (kind.as_str(), input.author_contact) {
        (_, Some(contact)) => Some(contact),
        ("inbound", None) => reader_of(conn, case)?,
        _ => None,
    };
    if let Some(contact) = author_contact
        && write::read_fields(conn, EntityKind::Contact, contact)?.is_none()
    {
        return Err(Error::not_found(format!("Contact {contact}")));
    }
    let author_user = if kind == "inbound" { None } else { crate::session::signed_in_user(conn)? };
    for file in files {
        check_file(file)?;
    }
    let id = Uuid::now_v7();
    let mut fields = vec![
        ("case_id", json!(case.to_string())),
        ("kind", json!(kind)),
        ("channel", json!(channel)),
        ("sent_at", json!(sent_at)),
        ("body", opt(body)),
    ];
    if let Some(user) = author_user {
        fields.push(("author_user", json!(user)));
    }
    if let Some(contact) = author_contact {
        fields.push(("author_contact_id", json!(contact.to_string())));
    }
    if let Some(link) = link {
        fields.push(("original", json!({ "link": link })));
    }
    write::local_upsert(conn, EntityKind::CaseMessage, id, &fields)?;
    for file in files {
        let sha256 = hex::encode(Sha256::digest(&file.content));
        desk::put_blob(conn, &sha256, &file.content)?;
        let mut fields = vec![
            ("message_id", json!(id.to_string())),
            ("name", json!(file_name(&file.name))),
            ("size", json!(file.content.len())),
            ("sha256", json!(sha256)),
        ];
        if let Some(media) = clean_opt(&file.media_type) {
            fields.push(("media_type", json!(media)));
        }
        write::local_upsert(conn, EntityKind::Attachment, Uuid::now_v7(), &fields)?;
    }
    Ok(id)
}

/// A link to where a message can be seen: an `http(s)` address of at most 2,000 characters.
fn check_link(link: &str) -> Result<String> {
    let ok = (link.starts_with("https://") || link.starts_with("http://"))
        && link.len() > "https://".len()
        && link.chars().count() <= 2_000
        && !link.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(link.to_owned())
    } else {
        Err(Error::invalid(format!(
            "{link:?} is not a web address; give the address of the diff or post, e.g. https://en.wikipedia.org/w/index.php?diff=123"
        )))
    }
}

fn merged_into_of(fields: &std::collections::BTreeMap<&'static str, Value>) -> Option<Uuid> {
    fields.get("merged_into").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
}

/// How a case is named in messages: `#1234`, or its subject in quotes until it has a number.
fn label(conn: &Connection, case: Uuid) -> Result<String> {
    let fields = write::read_fields(conn, EntityKind::Case, case)?.unwrap_or_default();
    Ok(match fields.get("number").and_then(Value::as_u64) {
        Some(n) => format!("#{n}"),
        None => format!("“{}”", fields.get("subject").and_then(Value::as_str).unwrap_or("?")),
    })
}

/// A file name as stored: no directories, no control or bidirectional-override characters, at
/// most 255 characters; never empty.
pub fn file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
    let name: String = base.chars().filter(|c| !c.is_control() && !bidi(*c)).take(255).collect();
    let name = name.trim().trim_start_matches('.').to_owned();
    if name.is_empty() { "attachment".to_owned() } else { name }
}

fn check_file(file: &NewFile) -> Result<()> {
    if file.content.len() > MAX_ATTACHMENT_BYTES {
        return Err(Error::invalid(format!(
            "{} is {:.1} MB; attachments may be at most {} MB.",
            file_name(&file.name),
            file.content.len() as f64 / 1_048_576.0,
            MAX_ATTACHMENT_BYTES / 1_048_576
        )));
    }
    Ok(())
}

fn touch(conn: &Connection, case: Uuid) -> Result<()> {
    entities::reindex(conn, EntityKind::Case, case, Some(&now()))
}

/// Open a case in a queue this device holds, with its reader and first message when given.
pub fn create(store: &mut Store, input: CaseInput) -> Result<Case> {
    let subject = check_subject(&input.subject)?;
    let kind = choice("kind of case", input.kind.as_deref().unwrap_or("inquiry"), &CASE_KINDS)?;
    let channel = choice("channel", input.channel.as_deref().unwrap_or("email"), &CHANNELS)?;
    let priority = input.priority.as_deref().map(|p| choice("priority", p, &PRIORITIES)).transpose()?;
    let language = clean_opt(&input.language);
    if let Some(tag) = &language {
        crate::contacts::validate_language(tag)?;
    }
    let tags = check_tags(&input.tags)?;
    let pages = pages_value(&input.wiki_pages)?;
    let id = Uuid::now_v7();
    store.transaction(|tx| {
        queue_exists(tx, input.queue)?;
        let mut fields = vec![
            ("queue_id", json!(input.queue.to_string())),
            ("subject", json!(subject)),
            ("kind", json!(kind)),
            ("channel", json!(channel)),
            ("state", json!("new")),
            ("language", opt(language)),
            ("category", opt(clean_opt(&input.category))),
            ("priority", opt(priority)),
            ("tags", json!(tags)),
            ("created_at", json!(now())),
        ];
        if !input.wiki_pages.is_empty() {
            fields.push(("wiki_pages", pages));
        }
        write::local_upsert(tx, EntityKind::Case, id, &fields)?;
        if let Some(reader) = input.reader {
            link_in(tx, id, reader, "reader")?;
        }
        if let Some(text) = clean_opt(&input.text) {
            message_in(tx, id, &MessageInput { kind: "inbound".into(), body: Some(text), ..Default::default() }, &[])?;
        }
        touch(tx, id)
    })?;
    get(store, id)
}

/// Change a case's fields (or move it to another queue).
pub fn update(store: &mut Store, id: Uuid, patch: CasePatch) -> Result<Case> {
    let mut fields: Vec<(&str, Value)> = Vec::new();
    if let Some(s) = &patch.subject {
        fields.push(("subject", json!(check_subject(s)?)));
    }
    if let Some(k) = &patch.kind {
        fields.push(("kind", json!(choice("kind of case", k, &CASE_KINDS)?)));
    }
    if let Some(c) = &patch.channel {
        fields.push(("channel", json!(choice("channel", c, &CHANNELS)?)));
    }
    if let Some(l) = &patch.language {
        let l = clean_opt(l);
        if let Some(tag) = &l {
            crate::contacts::validate_language(tag)?;
        }
        fields.push(("language", opt(l)));
    }
    if let Some(c) = &patch.category {
        fields.push(("category", opt(clean_opt(c))));
    }
    if let Some(p) = &patch.priority {
        fields.push(("priority", opt(p.as_deref().map(|p| choice("priority", p, &PRIORITIES)).transpose()?)));
    }
    if let Some(t) = &patch.tags {
        fields.push(("tags", json!(check_tags(t)?)));
    }
    if let Some(p) = &patch.wiki_pages {
        fields.push(("wiki_pages", pages_value(p)?));
    }
    store.transaction(|tx| {
        case_exists(tx, id)?;
        if let Some(queue) = patch.queue {
            queue_exists(tx, queue)?;
            fields.push(("queue_id", json!(queue.to_string())));
        }
        write::local_upsert(tx, EntityKind::Case, id, &fields)?;
        touch(tx, id)
    })?;
    get(store, id)
}

/// Move a case through its lifecycle: new, open, pending (waiting on the reader), resolved,
/// closed, or one of its queue's own states. The change is recorded in the thread as an event.
pub fn set_state(store: &mut Store, id: Uuid, state: &str) -> Result<Case> {
    let case = get(store, id)?;
    let queue = queues::get(store, case.queue_id)?;
    let allowed = queue.all_states();
    let state = state.trim();
    let Some(state) = allowed.iter().find(|s| s.eq_ignore_ascii_case(state)).cloned() else {
        return Err(Error::invalid(format!(
            "{state:?} is not a state of queue {}; its states are {}.",
            queue.name,
            allowed.join(", ")
        )));
    };
    if state == case.state {
        return Ok(case);
    }
    store.transaction(|tx| {
        write::local_upsert(tx, EntityKind::Case, id, &[("state", json!(state))])?;
        let event = MessageInput {
            kind: "event".into(),
            body: Some(format!("State: {} → {state}", case.state)),
            ..Default::default()
        };
        message_in(tx, id, &event, &[])?;
        touch(tx, id)
    })?;
    get(store, id)
}

/// Give a case to a team member (by user name), or take it back (`None`).
pub fn assign(store: &mut Store, id: Uuid, owner: Option<&str>) -> Result<Case> {
    let owner = owner.map(str::trim).filter(|o| !o.is_empty());
    if let Some(o) = owner
        && (o.chars().count() > 64 || o.chars().any(char::is_control))
    {
        return Err(Error::invalid(format!("{o:?} is not a user name")));
    }
    store.transaction(|tx| {
        case_exists(tx, id)?;
        write::local_upsert(tx, EntityKind::Case, id, &[("owner", owner.map_or(Value::Null, |o| json!(o)))])?;
        let text = match owner {
            Some(o) => format!("Assigned to {o}"),
            None => "Unassigned".to_owned(),
        };
        message_in(tx, id, &MessageInput { kind: "event".into(), body: Some(text), ..Default::default() }, &[])?;
        touch(tx, id)
    })?;
    get(store, id)
}

/// Link a contact to a case with a role (or change their role).
pub fn link(store: &mut Store, case: Uuid, contact: Uuid, role: &str) -> Result<Case> {
    store.transaction(|tx| {
        case_exists(tx, case)?;
        link_in(tx, case, contact, role)?;
        touch(tx, case)
    })?;
    get(store, case)
}

/// Take a contact off a case.
pub fn unlink(store: &mut Store, case: Uuid, contact: Uuid) -> Result<Case> {
    store.transaction(|tx| {
        let found = link_of(tx, case, contact)?;
        if !found.exists || !write::local_delete(tx, EntityKind::CaseContact, found.id)? {
            return Err(Error::not_found(format!("Contact {contact} on case {case}")));
        }
        touch(tx, case)
    })?;
    get(store, case)
}

/// Merge case `from` into case `into` (the survivor), as when a reader wrote twice about one
/// thing. `from` is closed and says where it went; it takes no new messages, and mail to it
/// (replies to its messages, its tag) goes to `into`, whose thread shows `from`'s messages
/// beside its own. `from`'s contacts join `into`; a case from another queue moves to `into`'s
/// queue first, so the survivor's members see all of it. Both threads record the merge. A
/// merge is not undone: link the cases instead when they are only related ([`relate`]).
pub fn merge(store: &mut Store, from: Uuid, into: Uuid) -> Result<Case> {
    if from == into {
        return Err(Error::invalid("A case cannot be merged into itself; choose the case it repeats."));
    }
    store.transaction(|tx| {
        let source =
            write::read_fields(tx, EntityKind::Case, from)?.ok_or_else(|| Error::not_found(format!("Case {from}")))?;
        let target =
            write::read_fields(tx, EntityKind::Case, into)?.ok_or_else(|| Error::not_found(format!("Case {into}")))?;
        if let Some(already) = merged_into_of(&source) {
            return Err(Error::invalid(format!(
                "Case {} was already merged into case {}.",
                label(tx, from)?,
                label(tx, already)?
            )));
        }
        if let Some(survivor) = merged_into_of(&target) {
            return Err(Error::invalid(format!(
                "Case {} was itself merged into case {}; merge into that one.",
                label(tx, into)?,
                label(tx, survivor)?
            )));
        }
        let (from_label, into_label) = (label(tx, from)?, label(tx, into)?);
        let event = |text: String| MessageInput { kind: "event".into(), body: Some(text), ..Default::default() };
        message_in(tx, from, &event(format!("Merged into case {into_label}")), &[])?;
        message_in(tx, into, &event(format!("Case {from_label} was merged into this case")), &[])?;
        let mut fields = vec![("merged_into", json!(into.to_string()))];
        if source.get("state").and_then(Value::as_str) != Some("closed") {
            fields.push(("state", json!("closed")));
        }
        if source.get("queue_id") != target.get("queue_id")
            && let Some(queue) = target.get("queue_id")
        {
            fields.push(("queue_id", queue.clone()));
        }
        write::local_upsert(tx, EntityKind::Case, from, &fields)?;
        let contacts: Vec<(Vec<u8>, String)> = tx
            .prepare_cached("SELECT contact_id, role FROM case_contact WHERE case_id = ?1 ORDER BY rowid")?
            .query_map([blob(from)], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (contact, role) in contacts {
            let Ok(contact) = Uuid::from_slice(&contact) else { continue };
            let on_survivor = link_of(tx, into, contact)?.exists;
            if !on_survivor && write::read_fields(tx, EntityKind::Contact, contact)?.is_some() {
                link_in(tx, into, contact, &role)?;
            }
        }
        touch(tx, from)?;
        touch(tx, into)
    })?;
    get(store, into)
}

/// The two rows of a link between cases `a` and `b` (`a` → `b`, `b` → `a`) on this device: the
/// live ones, or the ids the next ones get.
fn links_of(conn: &Connection, a: Uuid, b: Uuid) -> Result<[(Uuid, Uuid, write::Association); 2]> {
    let one = |x: Uuid, y: Uuid| {
        write::association(
            conn,
            EntityKind::CaseLink,
            &[("case_id", json!(x.to_string())), ("other_id", json!(y.to_string()))],
        )
        .map(|found| (x, y, found))
    };
    Ok([one(a, b)?, one(b, a)?])
}

/// Link two related cases (the same article, the same reader writing twice about different
/// things), or take the link away (`remove`). Both cases show the link; both threads record it.
pub fn relate(store: &mut Store, case: Uuid, other: Uuid, remove: bool) -> Result<Case> {
    if case == other {
        return Err(Error::invalid("A case cannot be linked to itself; choose the related case."));
    }
    store.transaction(|tx| {
        case_exists(tx, case)?;
        case_exists(tx, other)?;
        let rows = links_of(tx, case, other)?;
        let linked = rows.iter().any(|(_, _, found)| found.exists);
        let (case_label, other_label) = (label(tx, case)?, label(tx, other)?);
        let event = |text: String| MessageInput { kind: "event".into(), body: Some(text), ..Default::default() };
        if remove {
            if !linked {
                return Err(Error::not_found(format!("A link between case {case_label} and case {other_label}")));
            }
            for (_, _, found) in rows.iter().filter(|(_, _, found)| found.exists) {
                write::local_delete(tx, EntityKind::CaseLink, found.id)?;
            }
            message_in(tx, case, &event(format!("Unlinked from case {other_label}")), &[])?;
            message_in(tx, other, &event(format!("Unlinked from case {case_label}")), &[])?;
        } else {
            if rows.iter().all(|(_, _, found)| found.exists) {
                return Ok(());
            }
            for (x, y, found) in rows.iter().filter(|(_, _, found)| !found.exists) {
                let mut fields = vec![("case_id", json!(x.to_string())), ("other_id", json!(y.to_string()))];
                if found.round > 0 {
                    fields.push(("round", json!(found.round)));
                }
                write::local_upsert(tx, EntityKind::CaseLink, found.id, &fields)?;
            }
            if !linked {
                message_in(tx, case, &event(format!("Linked to case {other_label}")), &[])?;
                message_in(tx, other, &event(format!("Linked to case {case_label}")), &[])?;
            }
        }
        touch(tx, case)?;
        touch(tx, other)
    })?;
    get(store, case)
}

/// Add a message to a case's thread: an internal note, a reply, a logged interaction from any
/// channel, with files. Returns the message.
pub fn add_message(store: &mut Store, case: Uuid, input: MessageInput, files: Vec<NewFile>) -> Result<Message> {
    let id = store.transaction(|tx| {
        let id = message_in(tx, case, &input, &files)?;
        touch(tx, case)?;
        Ok(id)
    })?;
    get(store, case)?.messages.into_iter().find(|m| m.id == id).ok_or_else(|| Error::not_found(format!("Message {id}")))
}

/// Delete a case and its thread (staff and administrators; the server refuses others).
pub fn delete(store: &mut Store, id: Uuid) -> Result<()> {
    store.transaction(|tx| {
        if !crate::session::is_staff(tx)? && crate::session::signed_in_role(tx)?.is_some() {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "Only staff and administrators may delete a case; close it instead.",
            ));
        }
        // Links from other cases to this one go with it (its own go as its children).
        let back: Vec<Vec<u8>> = tx
            .prepare_cached("SELECT id FROM case_link WHERE other_id = ?1")?
            .query_map([blob(id)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if !write::local_delete(tx, EntityKind::Case, id)? {
            return Err(Error::not_found(format!("Case {id}")));
        }
        for link in back.into_iter().filter_map(|b| Uuid::from_slice(&b).ok()) {
            write::local_delete(tx, EntityKind::CaseLink, link)?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Reads

fn contact_name(conn: &Connection, id: Uuid) -> Result<Option<String>> {
    entities::label_of_root(conn, EntityKind::Contact, id)
}

fn attachments(conn: &Connection, message: Uuid) -> Result<Vec<Attachment>> {
    let rows = conn
        .prepare_cached(
            "SELECT a.id, a.name, a.media_type, a.size, a.sha256, EXISTS (SELECT 1 FROM blob b WHERE b.sha256 = a.sha256)
             FROM attachment a WHERE a.message_id = ?1 ORDER BY a.rowid",
        )?
        .query_map([blob(message)], |r| {
            Ok(Attachment {
                id: uuid_from(r.get(0)?)?,
                name: r.get(1)?,
                media_type: r.get(2)?,
                size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                sha256: r.get(4)?,
                stored: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn get(store: &Store, id: Uuid) -> Result<Case> {
    let conn = store.conn();
    let f = write::read_fields(conn, EntityKind::Case, id)?.ok_or_else(|| Error::not_found(format!("Case {id}")))?;
    let text = |name: &str| f.get(name).and_then(Value::as_str).map(str::to_owned);
    let queue_id = text("queue_id").and_then(|q| Uuid::parse_str(&q).ok()).unwrap_or_default();
    let updated_at: String =
        conn.prepare_cached(r#"SELECT updated_at FROM "case" WHERE id = ?1"#)?.query_row([blob(id)], |r| r.get(0))?;
    let contacts = conn
        .prepare_cached("SELECT id, contact_id, role FROM case_contact WHERE case_id = ?1 ORDER BY rowid")?
        .query_map([blob(id)], |r| Ok((uuid_from(r.get(0)?)?, uuid_from(r.get(1)?)?, r.get::<_, String>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .map(|(id, contact_id, role)| Ok(CaseContact { id, contact_id, name: contact_name(conn, contact_id)?, role }))
        .collect::<Result<Vec<_>>>()?;
    type Row = (
        Uuid,
        String,
        String,
        Option<String>,
        Option<Vec<u8>>,
        String,
        Option<String>,
        Option<Delivery>,
        Uuid,
        Option<String>,
        (bool, Option<String>, bool),
    );
    // The thread: the case's own messages and those of every case merged into it (through
    // other merged cases too; UNION stops at a cycle).
    let rows: Vec<Row> = conn
        .prepare_cached(
            r#"WITH RECURSIVE thread(id) AS (
                   SELECT ?1 UNION SELECT c.id FROM "case" c JOIN thread t ON c.merged_into = t.id
               )
               SELECT m.id, m.kind, m.channel, m.author_user, m.author_contact_id, m.sent_at, m.body,
                      d.state, d.detail, d.attempts, d.updated_at, m.case_id,
                      CASE WHEN json_valid(m.original) THEN json_extract(m.original, '$.link') END,
                      CASE WHEN json_valid(m.original) THEN json_type(m.original, '$.html') = 'text' END,
                      CASE WHEN json_valid(m.original) THEN json_extract(m.original, '$.omitted') END,
                      CASE WHEN json_valid(m.original) THEN json_extract(m.original, '$.encoding_problems') IS 1 END
               FROM case_message m LEFT JOIN delivery d ON d.message_id = m.id
               WHERE m.case_id IN (SELECT id FROM thread) ORDER BY m.sent_at, m.id"#,
        )?
        .query_map([blob(id)], |r| {
            let delivery = r.get::<_, Option<String>>(7)?.map(|state| -> rusqlite::Result<Delivery> {
                Ok(Delivery {
                    state,
                    detail: r.get(8)?,
                    attempts: r.get::<_, Option<i64>>(9)?.and_then(|n| u64::try_from(n).ok()),
                    updated_at: r.get(10)?,
                })
            });
            Ok((
                uuid_from(r.get(0)?)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                delivery.transpose()?,
                uuid_from(r.get(11)?)?,
                r.get::<_, Option<String>>(12)?,
                (
                    r.get::<_, Option<bool>>(13)?.unwrap_or(false),
                    r.get(14)?,
                    r.get::<_, Option<bool>>(15)?.unwrap_or(false),
                ),
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut messages = Vec::with_capacity(rows.len());
    for (mid, kind, channel, author_user, author, sent_at, body, delivery, case_id, link, mail) in rows {
        let (formatted, omitted, encoding_problems) = mail;
        let omitted: Vec<Omitted> = omitted
            .and_then(|text| serde_json::from_str::<Vec<Value>>(&text).ok())
            .unwrap_or_default()
            .iter()
            .map(|o| Omitted {
                name: o.get("name").and_then(Value::as_str).map(file_name).unwrap_or_else(|| "attachment".into()),
                bytes: o.get("bytes").and_then(Value::as_u64).unwrap_or(0),
                reason: o.get("reason").and_then(Value::as_str).unwrap_or("not kept").chars().take(500).collect(),
            })
            .collect();
        let author_contact_id = author.and_then(|b| Uuid::from_slice(&b).ok());
        let author_name = author_contact_id.map(|c| contact_name(conn, c)).transpose()?.flatten();
        messages.push(Message {
            id: mid,
            kind,
            channel,
            author_user,
            author_contact_id,
            author_name,
            sent_at,
            body,
            attachments: attachments(conn, mid)?,
            delivery,
            case_id,
            link,
            formatted,
            omitted,
            encoding_problems,
        });
    }
    let merged_ids: Vec<Vec<u8>> = conn
        .prepare_cached(
            r#"WITH RECURSIVE merged(id) AS (
                   SELECT id FROM "case" WHERE merged_into = ?1
                   UNION SELECT c.id FROM "case" c JOIN merged m ON c.merged_into = m.id
               )
               SELECT id FROM merged WHERE id != ?1"#,
        )?
        .query_map([blob(id)], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let linked_ids: Vec<Vec<u8>> = conn
        .prepare_cached(
            "SELECT other_id FROM case_link WHERE case_id = ?1 UNION SELECT case_id FROM case_link WHERE other_id = ?1",
        )?
        .query_map([blob(id)], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let refs = |ids: Vec<Vec<u8>>| -> Result<Vec<CaseRef>> {
        let mut refs = ids
            .into_iter()
            .filter_map(|b| Uuid::from_slice(&b).ok())
            .map(|c| case_ref(conn, c))
            .collect::<Result<Vec<_>>>()?;
        refs.sort_by_key(|r| (r.number.is_none(), r.number, r.id));
        Ok(refs)
    };
    Ok(Case {
        id,
        number: f.get("number").and_then(Value::as_u64),
        queue_id,
        queue_name: entities::label_of_root(conn, EntityKind::Queue, queue_id)?,
        subject: text("subject").unwrap_or_default(),
        kind: text("kind").unwrap_or_default(),
        channel: text("channel").unwrap_or_default(),
        state: text("state").unwrap_or_default(),
        language: text("language"),
        category: text("category"),
        priority: text("priority"),
        owner: text("owner"),
        tags: f.get("tags").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
        wiki_pages: f.get("wiki_pages").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
        created_at: text("created_at").unwrap_or_else(|| updated_at.clone()),
        updated_at,
        contacts,
        messages,
        sla: f.get("sla").filter(|v| !v.is_null()).and_then(|v| serde_json::from_value(v.clone()).ok()),
        due_at: text("due_at"),
        awaiting_since: conn
            .prepare_cached(r#"SELECT awaiting_since FROM "case" WHERE id = ?1"#)?
            .query_row([blob(id)], |r| r.get(0))?,
        merged_into: merged_into_of(&f).map(|c| case_ref(conn, c)).transpose()?,
        merged: refs(merged_ids)?,
        links: refs(linked_ids)?,
    })
}

/// The formatted (HTML) version of a reader's mail, for an explicit "show formatted": sanitized
/// again here whatever the server sent (no scripts, styles, forms, event handlers or remote
/// images; links open outside without a referrer). `None` when the mail had no HTML.
pub fn formatted(store: &Store, message: Uuid) -> Result<Option<String>> {
    let stored: Option<Option<String>> = store
        .conn()
        .prepare_cached(
            "SELECT CASE WHEN json_valid(original) THEN json_extract(original, '$.html') END FROM case_message WHERE id = ?1",
        )?
        .query_row([blob(message)], |r| r.get(0))
        .optional()?;
    let Some(html) = stored else { return Err(Error::not_found(format!("Message {message}"))) };
    Ok(html.map(|h| liaison_mail::html::sanitize(&h)))
}

/// The case a person names: its id, or its number (`1234` or `#1234`, as in `[Liaison #1234]`).
pub fn find(store: &Store, text: &str) -> Result<Uuid> {
    let text = text.trim();
    if let Ok(id) = Uuid::parse_str(text) {
        return Ok(id);
    }
    let Ok(number) = text.trim_start_matches('#').parse::<i64>() else {
        let shown: String = text.chars().take(64).collect();
        return Err(Error::invalid(format!(
            "{shown:?} is not a case: give its number (#1234) or its id, as `liaison case list` shows"
        )));
    };
    let found: Option<Vec<u8>> = store
        .conn()
        .prepare_cached(r#"SELECT id FROM "case" WHERE number = ?1"#)?
        .query_row([number], |r| r.get(0))
        .optional()?;
    found.and_then(|b| Uuid::from_slice(&b).ok()).ok_or_else(|| {
        Error::new(
            ErrorCode::NotFound,
            format!(
                "No case #{number} on this device (it may be in a queue you are not a member of, or not synced yet)."
            ),
        )
    })
}

/// Another case as this device knows it (only its id when it is not on this device).
fn case_ref(conn: &Connection, id: Uuid) -> Result<CaseRef> {
    let Some(f) = write::read_fields(conn, EntityKind::Case, id)? else {
        return Ok(CaseRef { id, number: None, subject: None, state: None, queue_name: None });
    };
    let text = |name: &str| f.get(name).and_then(Value::as_str).map(str::to_owned);
    let queue = text("queue_id").and_then(|q| Uuid::parse_str(&q).ok());
    Ok(CaseRef {
        id,
        number: f.get("number").and_then(Value::as_u64),
        subject: text("subject"),
        state: text("state"),
        queue_name: queue.map(|q| entities::label_of_root(conn, EntityKind::Queue, q)).transpose()?.flatten(),
    })
}

const SUMMARY: &str = r#"c.id, c.queue_id, q.name, c.subject, c.kind, c.state, c.priority, c.owner, c.language,
    (SELECT p.display_name FROM case_contact l JOIN contact p ON p.id = l.contact_id
     WHERE l.case_id = c.id AND l.role = 'reader' ORDER BY l.rowid LIMIT 1),
    (SELECT count(*) FROM case_message m WHERE m.case_id = c.id), c.created_at, c.updated_at,
    c.number, c.due_at, c.awaiting_since"#;

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseSummary> {
    let created: Option<String> = r.get(11)?;
    let updated: String = r.get(12)?;
    Ok(CaseSummary {
        id: uuid_from(r.get(0)?)?,
        queue_id: r.get::<_, Option<Vec<u8>>>(1)?.and_then(|b| Uuid::from_slice(&b).ok()).unwrap_or_default(),
        queue_name: r.get(2)?,
        subject: r.get(3)?,
        kind: r.get(4)?,
        state: r.get(5)?,
        priority: r.get(6)?,
        owner: r.get(7)?,
        language: r.get(8)?,
        reader: r.get(9)?,
        messages: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
        created_at: created.unwrap_or_else(|| updated.clone()),
        updated_at: updated,
        number: r.get::<_, Option<i64>>(13)?.and_then(|n| u64::try_from(n).ok()),
        due_at: r.get(14)?,
        awaiting_since: r.get(15)?,
    })
}

/// Cases matching `filter`, most recently updated first (best matches first when searching).
pub fn list(store: &Store, filter: &CaseFilter, offset: u64, limit: u32) -> Result<Page<CaseSummary>> {
    if limit == 0 || limit > crate::contacts::MAX_PAGE {
        return Err(Error::invalid(format!("A page holds 1 to {} cases.", crate::contacts::MAX_PAGE)));
    }
    let conn = store.conn();
    let mut conditions = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    // `#1234` finds the case with that number; other words are searched for.
    let number =
        filter.query.as_deref().map(str::trim).and_then(|q| q.strip_prefix('#')).and_then(|n| n.parse::<i64>().ok());
    let fts = if number.is_some() { None } else { filter.query.as_deref().and_then(fts_query) };
    if let Some(n) = number {
        args.push(n.into());
        conditions.push(format!("c.number = ?{}", args.len()));
    }
    if let Some(q) = &fts {
        args.push(q.clone().into());
        conditions.push(format!("c.rid IN (SELECT rowid FROM case_fts WHERE case_fts MATCH ?{})", args.len()));
    }
    if let Some(queue) = filter.queue {
        args.push(blob(queue).to_vec().into());
        conditions.push(format!("c.queue_id = ?{}", args.len()));
    }
    if let Some(state) = &filter.state {
        args.push(state.trim().to_owned().into());
        conditions.push(format!("c.state = ?{}", args.len()));
    }
    if let Some(owner) = &filter.owner {
        args.push(owner.trim().to_lowercase().into());
        conditions.push(format!("lower(c.owner) = ?{}", args.len()));
    }
    if filter.open_only || filter.view != View::All {
        conditions.push("c.state NOT IN ('resolved', 'closed')".into());
    }
    match filter.view {
        View::All | View::Open => {}
        View::Unanswered => conditions.push("c.awaiting_since IS NOT NULL".into()),
        View::Mine => {
            let me = crate::session::signed_in_user(conn)?.ok_or_else(|| {
                Error::new(ErrorCode::NotLoggedIn, "\"Mine\" needs a signed-in user: sign in to a server first.")
            })?;
            args.push(me.to_lowercase().into());
            conditions.push(format!("lower(c.owner) = ?{}", args.len()));
        }
        View::Unassigned => conditions.push("c.owner IS NULL".into()),
        View::Overdue => {
            args.push(utc_now().into());
            conditions.push(format!("c.due_at < ?{}", args.len()));
        }
        View::DueToday => {
            args.push(utc_now().into());
            args.push(end_of_local_day().into());
            conditions.push(format!("c.due_at >= ?{} AND c.due_at < ?{}", args.len() - 1, args.len()));
        }
        View::Waiting => conditions.push("c.state = 'pending'".into()),
    }
    let filter_sql = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let total: i64 = conn
        .prepare(&format!(r#"SELECT count(*) FROM "case" c {filter_sql}"#))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let order = match &fts {
        Some(_) => {
            "ORDER BY (SELECT bm25(case_fts, 5.0, 1.0, 2.0) FROM case_fts WHERE case_fts MATCH ?1 AND rowid = c.rid), \
                    c.updated_at DESC"
                .to_owned()
        }
        None => match filter.sort {
            Sort::Updated => "ORDER BY c.updated_at DESC, c.id",
            Sort::Due => "ORDER BY c.due_at IS NULL, c.due_at, c.updated_at DESC, c.id",
            Sort::Waiting => "ORDER BY c.awaiting_since IS NULL, c.awaiting_since, c.updated_at DESC, c.id",
            Sort::Created => "ORDER BY c.created_at DESC, c.id",
        }
        .to_owned(),
    };
    args.push(i64::from(limit).into());
    args.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    let n = args.len();
    // The page's rows are chosen (and sorted) on the case table alone; only those get their
    // summary (reader, message count), not every row the sort looks at.
    let page = format!(r#"SELECT c.rid FROM "case" c {filter_sql} {order} LIMIT ?{} OFFSET ?{n}"#, n - 1);
    let items = conn
        .prepare(&format!(
            r#"SELECT {SUMMARY} FROM "case" c LEFT JOIN queue q ON q.id = c.queue_id WHERE c.rid IN ({page}) {order}"#
        ))?
        .query_map(rusqlite::params_from_iter(args.iter()), summary)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page { items, total: u64::try_from(total).unwrap_or(0), offset })
}

/// Now, as the server writes due times (RFC 3339, UTC, seconds), so that text comparison orders
/// them.
fn utc_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The next midnight in this device's time zone, in UTC (as [`utc_now`] writes it).
fn end_of_local_day() -> String {
    let zone = jiff::tz::TimeZone::system();
    let now = jiff::Timestamp::now().to_zoned(zone);
    let midnight = now.date().tomorrow().ok().and_then(|d| d.to_zoned(now.time_zone().clone()).ok());
    let at = midnight.map(|m| m.timestamp()).unwrap_or_else(|| now.timestamp() + jiff::SignedDuration::from_hours(24));
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The content of an attachment, when this device holds it.
pub fn attachment_content(store: &Store, attachment: Uuid) -> Result<Option<(Attachment, Vec<u8>)>> {
    let conn = store.conn();
    let sha: Option<(Vec<u8>, String)> = conn
        .prepare_cached("SELECT message_id, sha256 FROM attachment WHERE id = ?1")?
        .query_row([blob(attachment)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((message, sha256)) = sha else { return Err(Error::not_found(format!("Attachment {attachment}"))) };
    let message = Uuid::from_slice(&message).map_err(|e| Error::internal("attachment", e))?;
    let meta = attachments(conn, message)?
        .into_iter()
        .find(|a| a.id == attachment)
        .ok_or_else(|| Error::not_found(format!("Attachment {attachment}")))?;
    Ok(desk::get_blob(conn, &sha256)?.map(|content| (meta, content)))
}

/// Cases that name a contact (in any role), for the contact's page.
pub fn of_contact(store: &Store, contact: Uuid) -> Result<Vec<CaseSummary>> {
    let conn = store.conn();
    let items = conn
        .prepare_cached(&format!(
            r#"SELECT {SUMMARY} FROM "case" c LEFT JOIN queue q ON q.id = c.queue_id
               WHERE c.id IN (SELECT case_id FROM case_contact WHERE contact_id = ?1) ORDER BY c.updated_at DESC"#
        ))?
        .query_map(params![blob(contact)], summary)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(items)
}

/// The `meta` key of [`take_new_assignments`]' watermark: the newest assignment clock seen.
const ASSIGNMENTS_SEEN: &str = "assignments_seen_millis";

/// Cases someone else gave to the signed-in user since this was last asked (for the desktop
/// notification "a case was assigned to you"). Read from the owner field's clock: written by
/// another device, to this user, newer than the last assignment seen. The first call only
/// notes where things stand (a first sync announces nothing); assignments made on this device
/// are never announced.
pub fn take_new_assignments(store: &Store) -> Result<Vec<CaseSummary>> {
    let conn = store.conn();
    let Some(me) = crate::session::signed_in_user(conn)? else { return Ok(Vec::new()) };
    let device = crate::store::meta::device_id(conn)?;
    let seen: Option<i64> = crate::store::meta::get(conn, ASSIGNMENTS_SEEN)?.and_then(|v| v.parse().ok());
    let newest: i64 = conn
        .prepare_cached("SELECT coalesce(max(millis), 0) FROM field_clock WHERE entity = 'case' AND field = 'owner'")?
        .query_row([], |r| r.get(0))?;
    let Some(seen) = seen else {
        crate::store::meta::set(conn, ASSIGNMENTS_SEEN, &newest.to_string())?;
        return Ok(Vec::new());
    };
    let items = conn
        .prepare_cached(&format!(
            r#"SELECT {SUMMARY} FROM "case" c LEFT JOIN queue q ON q.id = c.queue_id
               JOIN field_clock f ON f.entity = 'case' AND f.row_id = c.id AND f.field = 'owner'
               WHERE c.owner = ?1 COLLATE NOCASE AND f.device != ?2 AND f.millis > ?3
                 AND c.state NOT IN ('resolved', 'closed')
               ORDER BY f.millis"#
        ))?
        .query_map(params![me, blob(device), seen], summary)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if newest > seen {
        crate::store::meta::set(conn, ASSIGNMENTS_SEEN, &newest.to_string())?;
    }
    Ok(items)
}
