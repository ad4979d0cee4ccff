//! Acknowledgements: the automatic "we received your message" a queue may send when mail opens a
//! case, in the reader's language (RFC 3834).
//!
//! A queue's acknowledgement is a text per language (`liaison-server queue acknowledgement set`),
//! kept with its mailbox on the server, with the canned replies' variables (`{{case_number}}`,
//! `{{reader_name|reader}}` …). It goes out only for mail that may get an automatic answer
//! ([`liaison_mail::auto::may_auto_reply`]: no `Auto-Submitted`, bulk or list mail, no
//! suppression, a return path, not a bounce, not from the desk's own address or with its
//! `X-Loop`), never for mail from before the mailbox was connected, and at most
//! [`MAX_PER_SENDER_PER_DAY`] times a day per sender, so two automatic systems cannot keep each
//! other busy. It is sent with `Auto-Submitted: auto-replied`, the queue's `X-Loop` and an empty
//! envelope sender (so that nothing bounces back to it), through the same outbox as replies
//! (exactly once, retried, its delivery on the case), and recorded in the thread as an event:
//! it is no answer, so the case stays unanswered and its clocks run.

use super::ingest::{change, write};
use super::{MailError, Mailbox, OUTBOX};
use crate::storage::{Record, Storage};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use liaison_mail::Mail;
use liaison_protocol::canned::{self, Vars};
use liaison_protocol::schema::EntityKind;
use serde_json::{Value, json};
use uuid::Uuid;

/// Record kind: the acknowledgements sent to one address (key: the address, lower case).
pub(crate) const ACK_RATE: &str = "ack_rate";
/// Acknowledgements one sender may get in 24 hours.
pub const MAX_PER_SENDER_PER_DAY: usize = 3;

/// The `X-Loop` value a queue's automatic mail carries (its address).
pub fn loop_marker(address: &str) -> String {
    address.trim().to_lowercase()
}

/// What a new case's acknowledgement came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acknowledged {
    /// Queued in the outbox as this thread message.
    Queued { message: Uuid, language: String },
    /// Not sent, and why.
    Skipped(String),
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Queue the acknowledgement of `case`, just opened by `mail`, when its queue has one and the
/// mail may get it. `historic`: mail from before the mailbox was connected.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn acknowledge(
    storage: &dyn Storage,
    mailbox: &Mailbox,
    mail: &Mail,
    case: Uuid,
    number: u64,
    queue_address: Option<&str>,
    case_language: Option<&str>,
    historic: bool,
    now: DateTime<Utc>,
) -> Result<Acknowledged, MailError> {
    if mailbox.acknowledgement.is_empty() {
        return Ok(Acknowledged::Skipped("the queue sends no acknowledgement".into()));
    }
    if historic {
        return Ok(Acknowledged::Skipped("it arrived before the mailbox was connected".into()));
    }
    let own: Vec<&str> =
        queue_address.into_iter().chain(mailbox.imap.user.as_deref().filter(|u| u.contains('@'))).collect();
    let marker = queue_address.map(loop_marker).unwrap_or_default();
    if let Err(why) = liaison_mail::auto::may_auto_reply(mail, &own, &marker) {
        return Ok(Acknowledged::Skipped(format!("no automatic answer: {why}")));
    }
    let Some(sender) = mail.from.as_ref() else { return Ok(Acknowledged::Skipped("no sender".into())) };
    let address = sender.address.trim().to_lowercase();
    let mut rate = storage
        .record(ACK_RATE, &address)
        .await?
        .unwrap_or_else(|| Record::new(ACK_RATE, address.clone(), "active", json!({"sent": []}), now));
    let since = now - Duration::hours(24);
    let recent: Vec<String> = rate.doc["sent"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| DateTime::parse_from_rfc3339(t).is_ok_and(|t| t > since))
        .map(str::to_owned)
        .collect();
    if recent.len() >= MAX_PER_SENDER_PER_DAY {
        return Ok(Acknowledged::Skipped(format!(
            "{address} was acknowledged {MAX_PER_SENDER_PER_DAY} times in the last 24 hours"
        )));
    }
    let Some((language, template)) = canned::pick(&mailbox.acknowledgement, case_language, None)
        .or_else(|| mailbox.acknowledgement.iter().next().map(|(l, t)| (l.as_str(), t.as_str())))
    else {
        return Ok(Acknowledged::Skipped("the queue sends no acknowledgement".into()));
    };
    let number_text = number.to_string();
    let vars = Vars::new().set("reader_name", sender.name.as_deref()).set("case_number", Some(&number_text));
    let text = canned::render(template, &vars);
    let language = language.to_owned();
    // One acknowledgement per case, whatever is retried: the thread message's id comes from it.
    let message = Uuid::new_v5(&case, b"acknowledgement");
    let body = format!("Acknowledgement ({language}) mailed automatically to {address}.");
    let event = change(
        EntityKind::CaseMessage,
        message,
        vec![
            ("case_id", json!(case.to_string())),
            ("kind", json!("event")),
            ("channel", json!("email")),
            ("sent_at", json!(rfc3339(now))),
            ("body", json!(body)),
        ],
        now,
    );
    write(storage, vec![event], now).await.map_err(MailError::Invalid)?;
    let entry = json!({
        "case_id": case.to_string(),
        "attempts": 0,
        "next_attempt_at": rfc3339(now),
        "queued_at": rfc3339(now),
        "auto": true,
        "text": text,
        "language": language,
    });
    if storage.insert_record(&Record::new(OUTBOX, message.to_string(), "queued", entry, now)).await? {
        let mut sent = recent;
        sent.push(rfc3339(now));
        rate.doc = json!({ "sent": sent });
        rate.updated_at = now;
        storage.put_record(&rate).await?;
    }
    Ok(Acknowledged::Queued { message, language })
}
