//! Mail out: public replies by mail, from the change feed to the reader's mail server, once.
//!
//! 1. [`follow`] reads the change feed from its saved cursor. Every new `case_message` of kind
//!    `reply` on the `email` channel becomes an outbox entry **keyed by the message's row id**
//!    (an insert that does nothing when the key exists), and its `delivery` row says `queued`.
//!    A device that retries its push sends the same row id: no second entry. The cursor is saved
//!    after the entries of its page, so a crash re-reads a page and adds nothing.
//! 2. [`send_due`] takes due entries one by one: `queued` → `sending` by a compare-and-swap on
//!    the state (two workers never take the same entry), sends over SMTP with the Message-ID
//!    `<row id@queue's domain>`, and records `sent`, or `retrying` with backoff, or `failed`
//!    (a permanent SMTP refusal, or after [`MAX_ATTEMPTS`]), with the server's answer.
//! 3. **The remaining window**: a server killed after the SMTP server accepted the message and
//!    before `sent` was recorded finds the entry `sending` at its next start ([`recover`]) and
//!    sends it again, with the same Message-ID (which mail clients use to drop the copy). That
//!    window is the time between the SMTP server's `250` after the data and one write to the
//!    server's database: milliseconds.

use super::ingest::{change, push_reference, write};
use super::{CURSOR, MailError, Mailbox, OUTBOX, THREAD, TlsMode};
use crate::storage::{Record, Storage};
use chrono::{DateTime, SecondsFormat, Utc};
use lettre::message::Mailbox as Address;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use liaison_protocol::schema::{self, EntityKind};
use liaison_protocol::wire::{Change, RowState};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

/// Tries before a reply is given up as failed.
pub const MAX_ATTEMPTS: u64 = 8;
/// How long one SMTP conversation may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);
const FEED_PAGE: u32 = 500;
const OUTBOX_CURSOR: &str = "outbox";

/// What a delivery row says.
#[derive(Debug, Clone, Default)]
pub struct DeliveryState {
    pub state: &'static str,
    pub recipients: Vec<String>,
    pub detail: Option<String>,
    pub attempts: Option<u64>,
    pub mail_message_id: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The change that writes a reply's delivery row (its id derived from the message's).
pub fn delivery_change(message: Uuid, state: &DeliveryState, now: DateTime<Utc>) -> Change {
    let message_text = json!(message.to_string());
    let id =
        schema::DELIVERY.derived_id(|name| (name == "message_id").then_some(&message_text)).unwrap_or_else(Uuid::nil);
    let mut fields = vec![
        ("message_id", message_text.clone()),
        ("state", json!(state.state)),
        ("updated_at", json!(rfc3339(now))),
        ("detail", state.detail.as_ref().map_or(Value::Null, |d| json!(d))),
        ("next_attempt_at", state.next_attempt_at.map_or(Value::Null, |t| json!(rfc3339(t)))),
    ];
    if !state.recipients.is_empty() {
        fields.push(("recipients", json!(state.recipients)));
    }
    if let Some(attempts) = state.attempts {
        fields.push(("attempts", json!(attempts)));
    }
    if let Some(id) = &state.mail_message_id {
        fields.push(("mail_message_id", json!(id)));
    }
    change(EntityKind::Delivery, id, fields, now)
}

async fn cursor(storage: &dyn Storage) -> Result<Option<u64>, MailError> {
    Ok(storage.record(CURSOR, OUTBOX_CURSOR).await?.and_then(|r| r.doc.get("seq").and_then(Value::as_u64)))
}

async fn save_cursor(storage: &dyn Storage, seq: u64, now: DateTime<Utc>) -> Result<(), MailError> {
    storage.put_record(&Record::new(CURSOR, OUTBOX_CURSOR, "active", json!({"seq": seq}), now)).await?;
    Ok(())
}

/// Start following the feed here, unless already following.
pub async fn start_cursor(storage: &dyn Storage, now: DateTime<Utc>) -> Result<(), MailError> {
    if cursor(storage).await?.is_none() {
        let seq = storage.current_seq().await?;
        save_cursor(storage, seq, now).await?;
    }
    Ok(())
}

/// The address of a case's reader from their contact (for a case that did not arrive by mail:
/// opened by phone, or the survivor of a merge with one that did): the first email of the first
/// reader linked to the case that has one.
async fn reader_address(storage: &dyn Storage, case: Uuid) -> Result<Option<String>, crate::storage::StorageError> {
    for link in storage.children(case).await? {
        if link.entity != EntityKind::CaseContact || text(&link, "role").as_deref() != Some("reader") {
            continue;
        }
        let Some(contact) = text(&link, "contact_id").and_then(|c| Uuid::parse_str(&c).ok()) else { continue };
        for email in storage.children(contact).await? {
            if email.entity == EntityKind::ContactEmail
                && let Some(address) = text(&email, "address").filter(|a| a.contains('@'))
            {
                return Ok(Some(address));
            }
        }
    }
    Ok(None)
}

fn text(row: &RowState, name: &str) -> Option<String> {
    row.fields.get(name).and_then(|f| f.value.as_str()).map(str::to_owned)
}

fn is_mailed_reply(row: &RowState) -> bool {
    row.entity == EntityKind::CaseMessage
        && !row.deleted
        && text(row, "kind").as_deref() == Some("reply")
        && text(row, "channel").as_deref() == Some("email")
}

/// Queue every new reply by mail since the cursor; returns how many were queued.
pub async fn follow(storage: &dyn Storage, now: DateTime<Utc>) -> Result<u32, MailError> {
    let Some(mut seq) = cursor(storage).await? else { return Ok(0) };
    let mut queued = 0;
    loop {
        let page = storage.feed(seq, FEED_PAGE).await?;
        let Some(last) = page.last().map(|r| r.seq) else { break };
        for pulled in page {
            if pulled.entity != EntityKind::CaseMessage || pulled.deleted {
                continue;
            }
            let row = pulled.decode()?;
            if !is_mailed_reply(&row) {
                continue;
            }
            let doc = json!({
                "case_id": text(&row, "case_id"),
                "attempts": 0,
                "next_attempt_at": rfc3339(now),
                "queued_at": rfc3339(now),
            });
            if storage.insert_record(&Record::new(OUTBOX, row.row_id.to_string(), "queued", doc, now)).await? {
                queued += 1;
                let state = DeliveryState { state: "queued", attempts: Some(0), ..Default::default() };
                if let Err(e) = write(storage, vec![delivery_change(row.row_id, &state, now)], now).await {
                    tracing::warn!("mail: recording the delivery of reply {} failed: {e}", row.row_id);
                }
            }
        }
        seq = last;
        save_cursor(storage, seq, now).await?;
    }
    Ok(queued)
}

/// At start: entries a killed server left `sending` go back to `queued` (see the module docs).
pub async fn recover(storage: &dyn Storage, now: DateTime<Utc>) -> Result<u32, MailError> {
    let mut recovered = 0;
    for mut entry in storage.list_records(OUTBOX, Some("sending"), None, 10_000).await? {
        entry.state = "queued".into();
        entry.updated_at = now;
        if storage.swap_record(&entry, "sending").await? {
            recovered += 1;
        }
    }
    Ok(recovered)
}

/// What one sending round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    pub sent: u32,
    pub retrying: u32,
    pub failed: u32,
}

/// Why one send did not happen.
struct Failure {
    permanent: bool,
    detail: String,
    recipients: Vec<String>,
}

impl Failure {
    fn permanent(detail: impl Into<String>) -> Self {
        Failure { permanent: true, detail: detail.into(), recipients: Vec::new() }
    }
    fn later(detail: impl Into<String>) -> Self {
        Failure { permanent: false, detail: detail.into(), recipients: Vec::new() }
    }
}

/// Send every due entry.
pub async fn send_due(storage: &dyn Storage, now: DateTime<Utc>) -> Result<SendReport, MailError> {
    let mut report = SendReport::default();
    let due: Vec<Record> = storage
        .list_records(OUTBOX, Some("queued"), None, 1_000)
        .await?
        .into_iter()
        .filter(|r| {
            r.doc
                .get("next_attempt_at")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|t| t <= now)
        })
        .collect();
    for entry in due {
        let Ok(message) = Uuid::parse_str(&entry.key) else { continue };
        let attempts = entry.doc.get("attempts").and_then(Value::as_u64).unwrap_or(0) + 1;
        let mut taken = entry.clone();
        taken.state = "sending".into();
        taken.doc["attempts"] = json!(attempts);
        taken.updated_at = Utc::now();
        if !storage.swap_record(&taken, "queued").await? {
            continue; // another worker took it
        }
        let sending = DeliveryState { state: "sending", attempts: Some(attempts), ..Default::default() };
        let _ = write(storage, vec![delivery_change(message, &sending, Utc::now())], Utc::now()).await;
        let outcome = send_one(storage, message, &entry.doc).await;
        let at = Utc::now();
        let mut done = taken.clone();
        done.updated_at = at;
        let state = match outcome {
            Ok(sent) => {
                report.sent += 1;
                done.state = "sent".into();
                done.doc["sent_at"] = json!(rfc3339(at));
                done.doc["detail"] = json!(sent.detail);
                DeliveryState {
                    state: "sent",
                    recipients: sent.recipients,
                    detail: Some(sent.detail),
                    attempts: Some(attempts),
                    mail_message_id: Some(sent.message_id),
                    next_attempt_at: None,
                }
            }
            Err(failure) if failure.permanent || attempts >= MAX_ATTEMPTS => {
                report.failed += 1;
                done.state = "failed".into();
                done.doc["detail"] = json!(failure.detail);
                DeliveryState {
                    state: "failed",
                    recipients: failure.recipients,
                    detail: Some(failure.detail),
                    attempts: Some(attempts),
                    ..Default::default()
                }
            }
            Err(failure) => {
                report.retrying += 1;
                // 1, 2, 4 … minutes, at most an hour.
                let wait = chrono::Duration::minutes(1 << (attempts - 1).min(6));
                let next = at + wait;
                done.state = "queued".into();
                done.doc["detail"] = json!(failure.detail);
                done.doc["next_attempt_at"] = json!(rfc3339(next));
                DeliveryState {
                    state: "retrying",
                    recipients: failure.recipients,
                    detail: Some(failure.detail),
                    attempts: Some(attempts),
                    next_attempt_at: Some(next),
                    ..Default::default()
                }
            }
        };
        storage.swap_record(&done, "sending").await?;
        if let Err(e) = write(storage, vec![delivery_change(message, &state, at)], at).await {
            tracing::warn!("mail: recording the delivery of reply {message} failed: {e}");
        }
    }
    Ok(report)
}

struct Sent {
    message_id: String,
    recipients: Vec<String>,
    detail: String,
}

/// The case's number, given now when it has none (a case opened on a device).
async fn number_of(storage: &dyn Storage, case: &RowState) -> Result<u64, Failure> {
    if let Some(n) = case.fields.get("number").and_then(|f| f.value.as_u64()) {
        return Ok(n);
    }
    let n = storage.next_number("case").await.map_err(|e| Failure::later(e.to_string()))?;
    let now = Utc::now();
    write(storage, vec![change(EntityKind::Case, case.row_id, vec![("number", json!(n))], now)], now)
        .await
        .map_err(Failure::later)?;
    super::ingest::remember_number(storage, n, case.row_id, now).await.map_err(|e| Failure::later(e.to_string()))?;
    Ok(n)
}

/// Send one outbox entry: a reply (its thread message's text), or an acknowledgement (`auto`:
/// the entry's text, sent as automatic mail: `Auto-Submitted`, `X-Loop`, no envelope sender).
async fn send_one(storage: &dyn Storage, message_id: Uuid, entry: &Value) -> Result<Sent, Failure> {
    let auto = entry.get("auto").and_then(Value::as_bool).unwrap_or(false);
    let later = |e: &dyn std::fmt::Display| Failure::later(e.to_string());
    let message = storage
        .row(EntityKind::CaseMessage, message_id)
        .await
        .map_err(|e| later(&e))?
        .filter(|r| !r.deleted)
        .ok_or_else(|| Failure::permanent("the reply was erased before it was sent"))?;
    let case_id = text(&message, "case_id")
        .and_then(|s| Uuid::parse_str(&s).ok())
        .ok_or_else(|| Failure::permanent("the reply names no case"))?;
    let case = storage
        .row(EntityKind::Case, case_id)
        .await
        .map_err(|e| later(&e))?
        .filter(|r| !r.deleted)
        .ok_or_else(|| Failure::permanent("the case was deleted before the reply was sent"))?;
    let queue_id = text(&case, "queue_id")
        .and_then(|s| Uuid::parse_str(&s).ok())
        .ok_or_else(|| Failure::permanent("the case names no queue"))?;
    let queue = storage.row(EntityKind::Queue, queue_id).await.map_err(|e| later(&e))?;
    let mailbox = super::mailbox_of(storage, queue_id).await.map_err(|e| later(&e))?.ok_or_else(|| {
        Failure::later(
            "the case's queue has no mailbox; set one with `liaison-server queue mailbox set`, and the reply goes out",
        )
    })?;
    let thread = storage.record(THREAD, &case_id.to_string()).await.map_err(|e| later(&e))?;
    let thread_doc = thread.as_ref().map(|t| t.doc.clone()).unwrap_or_else(|| json!({}));
    let reader = match thread_doc.get("reader").and_then(Value::as_str) {
        Some(reader) => reader.to_owned(),
        None => reader_address(storage, case_id).await.map_err(|e| later(&e))?.ok_or_else(|| {
            Failure::later(
                "this case has no reader with an email address (it did not arrive by mail): add the address to the reader's contact and the reply goes out, or answer on the case's channel",
            )
        })?,
    };
    let number = number_of(storage, &case).await?;

    let from_address = queue
        .as_ref()
        .and_then(|q| text(q, "email"))
        .or_else(|| mailbox.imap.user.clone().filter(|u| u.contains('@')))
        .ok_or_else(|| Failure::permanent("the queue has no address to send from; set its email"))?;
    let domain = from_address.rsplit('@').next().unwrap_or("liaison.invalid").to_owned();
    let own_id = format!("<{message_id}@{domain}>");
    let queue_name = queue.as_ref().and_then(|q| text(q, "name"));
    let subject = format!(
        "Re: {}",
        liaison_mail::thread::with_case_tag(
            &liaison_mail::thread::display_subject(&text(&case, "subject").unwrap_or_default()),
            number
        )
    );
    let mut body = if auto {
        entry.get("text").and_then(Value::as_str).map(str::to_owned).unwrap_or_default()
    } else {
        text(&message, "body").unwrap_or_default()
    };
    if let Some(signature) = queue.as_ref().and_then(|q| text(q, "signature")).filter(|s| !s.trim().is_empty()) {
        body.push_str("\n\n-- \n");
        body.push_str(&signature);
    }
    let from: Address =
        format!("{} <{from_address}>", queue_name.as_deref().unwrap_or("Liaison").replace(['<', '>', '"'], ""))
            .parse()
            .or_else(|_| from_address.parse())
            .map_err(|e| Failure::permanent(format!("the queue's address {from_address:?} is not valid: {e}")))?;
    let to: Address =
        reader.parse().map_err(|e| Failure::permanent(format!("the reader's address {reader:?} is not valid: {e}")))?;
    let mut builder = Message::builder().from(from).to(to).subject(subject).message_id(Some(own_id.clone()));
    let references: Vec<String> = thread_doc
        .get("references")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(|s| format!("<{}>", s.trim_matches(['<', '>'])))).collect())
        .unwrap_or_default();
    if let Some(last) = references.last() {
        builder = builder.in_reply_to(last.clone()).references(references.join(" "));
    }
    if auto {
        // RFC 3834: automatic mail says so, names its desk, and gets no bounce back.
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-replied".into()))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Loop"),
                super::ack::loop_marker(&from_address),
            ))
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Precedence"), "auto_reply".into()));
    }
    let email = builder
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| Failure::permanent(format!("the reply could not be written as mail: {e}")))?;

    let transport = transport(&mailbox).map_err(|e| Failure::later(e.to_string()))?;
    let recipients = vec![reader.clone()];
    // Automatic mail goes with an empty envelope sender (`MAIL FROM:<>`), so nothing bounces back.
    let envelope = if auto {
        let to = reader
            .parse::<lettre::Address>()
            .map_err(|e| Failure::permanent(format!("the reader's address {reader:?} is not valid: {e}")))?;
        Some(
            lettre::address::Envelope::new(None, vec![to])
                .map_err(|e| Failure::permanent(format!("no envelope for {reader:?}: {e}")))?,
        )
    } else {
        None
    };
    let sending = async {
        match &envelope {
            Some(envelope) => transport.send_raw(envelope, &email.formatted()).await,
            None => transport.send(email).await,
        }
    };
    let answer = match tokio::time::timeout(SEND_TIMEOUT, sending).await {
        Ok(Ok(response)) => response.message().collect::<Vec<_>>().join(" "),
        Ok(Err(e)) => {
            let detail = format!("{}:{} answered: {e}", mailbox.smtp.host, mailbox.smtp.port);
            return Err(Failure { permanent: e.is_permanent(), detail, recipients });
        }
        Err(_) => {
            return Err(Failure {
                permanent: false,
                detail: format!(
                    "{}:{} did not answer within {} s",
                    mailbox.smtp.host,
                    mailbox.smtp.port,
                    SEND_TIMEOUT.as_secs()
                ),
                recipients,
            });
        }
    };
    // The reader's answer will refer to this message; a reply refers to the reader's mail, not
    // to an acknowledgement (an answer to one still finds the case by its Message-ID).
    if !auto {
        let mut doc = thread_doc;
        push_reference(&mut doc, own_id.trim_matches(['<', '>']));
        let _ = storage.put_record(&Record::new(THREAD, case_id.to_string(), "active", doc, Utc::now())).await;
    }
    Ok(Sent { message_id: own_id, recipients, detail: answer })
}

fn transport(mailbox: &Mailbox) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let mut tls = TlsParameters::builder(mailbox.smtp.host.clone());
    if let Some(pem) = &mailbox.ca_cert_pem {
        tls = tls.certificate_store(CertificateStore::None);
        for cert in super::certificates(pem)? {
            let cert = Certificate::from_der(cert.as_ref().to_vec())
                .map_err(|e| MailError::Invalid(format!("the CA certificate is not usable for SMTP ({e})")))?;
            tls = tls.add_root_certificate(cert);
        }
    }
    let tls = tls.build_rustls().map_err(|e| MailError::Invalid(format!("TLS for SMTP cannot be set up: {e}")))?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mailbox.smtp.host.clone())
        .port(mailbox.smtp.port)
        .timeout(Some(Duration::from_secs(60)))
        .tls(match mailbox.tls {
            TlsMode::Starttls => Tls::Required(tls),
            TlsMode::Implicit => Tls::Wrapper(tls),
        });
    if let Some(user) = &mailbox.smtp.user {
        builder = builder.credentials(Credentials::new(user.clone(), mailbox.password.clone()));
    }
    Ok(builder.build())
}

/// An outbox entry as `mail outbox` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub message_id: String,
    pub case_id: Option<String>,
    pub state: String,
    pub attempts: u64,
    pub detail: Option<String>,
    pub next_attempt_at: Option<String>,
    pub updated_at: String,
}

/// The outbox: entries not sent yet (queued, sending, failed), or with `all` every entry.
pub async fn entries(storage: &dyn Storage, all: bool) -> Result<Vec<Entry>, MailError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = storage.list_records(OUTBOX, None, after.as_deref(), 500).await?;
        let Some(last) = page.last().map(|r| r.key.clone()) else { break };
        for r in page {
            if !all && r.state == "sent" {
                continue;
            }
            let field = |name: &str| r.doc.get(name).and_then(Value::as_str).map(str::to_owned);
            out.push(Entry {
                case_id: field("case_id"),
                attempts: r.doc.get("attempts").and_then(Value::as_u64).unwrap_or(0),
                detail: field("detail"),
                next_attempt_at: if r.state == "queued" { field("next_attempt_at") } else { None },
                updated_at: rfc3339(r.updated_at),
                state: r.state,
                message_id: r.key,
            });
        }
        after = Some(last);
    }
    Ok(out)
}

/// Send a failed entry again (after the cause was fixed).
pub async fn retry(storage: &dyn Storage, message: &str, now: DateTime<Utc>) -> Result<(), MailError> {
    let Some(mut entry) = storage.record(OUTBOX, message).await? else {
        return Err(MailError::Invalid(format!(
            "no reply {message:?} is in the outbox; `liaison-server mail outbox` lists them"
        )));
    };
    if entry.state != "failed" {
        return Err(MailError::Invalid(format!(
            "reply {message} is {}, not failed; only a failed reply is sent again",
            entry.state
        )));
    }
    entry.state = "queued".into();
    entry.doc["attempts"] = json!(0);
    entry.doc["next_attempt_at"] = json!(rfc3339(now));
    entry.updated_at = now;
    storage.swap_record(&entry, "failed").await?;
    Ok(())
}
