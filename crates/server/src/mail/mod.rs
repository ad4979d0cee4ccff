//! The desk's mail on the server: each queue's mailbox (IMAP in, SMTP out), and the worker that
//! turns arriving mail into cases and messages and mails the public replies devices write.
//!
//! * [`Mailbox`]: a queue's mail servers and account, kept only on the server (the password
//!   never reaches a device), set by `liaison-server queue mailbox set`.
//! * [`fetch`]: one pass over a mailbox by IMAP: every message after the last UID seen (per
//!   UIDVALIDITY), each turned into rows by [`ingest`] or kept in quarantine; mail is read with
//!   `BODY.PEEK[]`, so a message another client read is not missed, and is never deleted
//!   (optionally moved to a folder).
//! * [`ingest`]: parse (`liaison_mail`), place (threading by Message-ID, then the case tag),
//!   match the sender to a contact or create one, and write the rows in one batch of the sync
//!   engine. Row ids are derived from the queue and the Message-ID, so a fetch cut off at any
//!   point and run again creates nothing twice.
//! * [`outbox`]: follows the change feed; every public reply by mail becomes an outbox entry
//!   (keyed by the message's id, so a device retrying its push adds nothing), sent over SMTP
//!   with its own Message-ID, In-Reply-To/References and the case tag, and its delivery state
//!   written back as a synced `delivery` row.
//! * [`idle`]: IMAP IDLE on each mailbox, so mail is read within seconds (polling stays the
//!   fallback).
//! * [`run`]: the worker loop `serve` starts (on every server: it also runs the SLA clocks,
//!   [`crate::clocks`]).
//!
//! Everything the worker keeps is in the storage's [`Record`]s, so it works the same on SQLite
//! and PostgreSQL.

pub mod ack;
pub mod fetch;
pub mod idle;
pub mod ingest;
pub mod outbox;

use crate::storage::{Record, Storage, StorageError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Record kinds.
pub(crate) const MAILBOX: &str = "mailbox";
pub(crate) const PROGRESS: &str = "imap_progress";
/// A stored message's Message-ID → its case (inbound mail; outbound ids are derived from rows).
pub(crate) const MESSAGE_ID: &str = "message_id";
/// A case's mail thread: its reader's address and the ids a reply refers to.
pub(crate) const THREAD: &str = "case_thread";
/// A case number → the case.
pub(crate) const CASE_NUMBER: &str = "case_number";
pub(crate) const QUARANTINE: &str = "quarantine";
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const CURSOR: &str = "cursor";

/// Why a mail operation did not happen; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Invalid(String),
    /// The mail server could not be reached or refused us.
    #[error("{0}")]
    Server(String),
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (IMAP 143, SMTP 587).
    Starttls,
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
}

impl TlsMode {
    pub fn parse(text: &str) -> Result<Self, MailError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "starttls" => Ok(TlsMode::Starttls),
            "implicit" | "tls" | "ssl" => Ok(TlsMode::Implicit),
            other => Err(MailError::Invalid(format!("--tls must be starttls or implicit, not {other:?}"))),
        }
    }
}

/// A mail server and the account on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// No user: the server takes mail without signing in (SMTP on a trusted relay).
    pub user: Option<String>,
}

impl Endpoint {
    /// `imap://USER@HOST:PORT` or `smtp://[USER@]HOST[:PORT]`. The user may itself be an address
    /// (`info-en@example.org@mail.example.org:993`, or with `%40`).
    pub fn parse(url: &str, scheme: &str, tls: TlsMode) -> Result<Self, MailError> {
        let form = format!("{scheme}://USER@HOST:PORT");
        let rest = url
            .trim()
            .strip_prefix(&format!("{scheme}://"))
            .ok_or_else(|| MailError::Invalid(format!("{url:?} is not a {scheme} URL; the form is {form}")))?;
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = match rest.rfind('@') {
            Some(at) => (Some(rest[..at].replace("%40", "@")), &rest[at + 1..]),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse::<u16>().map_err(|_| {
                    MailError::Invalid(format!("{port:?} in {url:?} is not a port number; the form is {form}"))
                })?;
                (host, port)
            }
            None => (hostport, default_port(scheme, tls)),
        };
        if host.is_empty() || host.contains('/') {
            return Err(MailError::Invalid(format!("{url:?} names no host; the form is {form}")));
        }
        if user.as_deref().is_some_and(str::is_empty) {
            return Err(MailError::Invalid(format!("{url:?} has an empty user name; the form is {form}")));
        }
        Ok(Endpoint { host: host.trim_matches(['[', ']']).to_owned(), port, user })
    }
}

fn default_port(scheme: &str, tls: TlsMode) -> u16 {
    match (scheme, tls) {
        ("imap", TlsMode::Starttls) => 143,
        ("imap", TlsMode::Implicit) => 993,
        (_, TlsMode::Starttls) => 587,
        (_, TlsMode::Implicit) => 465,
    }
}

/// A queue's mailbox, as the server keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub queue_id: Uuid,
    pub imap: Endpoint,
    pub smtp: Endpoint,
    pub tls: TlsMode,
    /// The password of the IMAP account (and of the SMTP one when it has a user).
    pub password: String,
    /// PEM certificates trusted instead of the public roots (a workshop's self-signed server).
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
    /// The folder read (default `INBOX`).
    #[serde(default = "inbox")]
    pub folder: String,
    /// Mail that arrived before this day is left alone when the mailbox is first read.
    #[serde(default)]
    pub import_since: Option<NaiveDate>,
    /// Move each message here once it is stored (default: leave it where it is).
    #[serde(default)]
    pub move_to: Option<String>,
    /// The acknowledgement a case opened by mail gets, per language tag (see [`ack`]); empty:
    /// none.
    #[serde(default)]
    pub acknowledgement: std::collections::BTreeMap<String, String>,
}

fn inbox() -> String {
    "INBOX".to_owned()
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("queue_id", &self.queue_id)
            .field("imap", &self.imap)
            .field("smtp", &self.smtp)
            .field("tls", &self.tls)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A mailbox as `queue mailbox show` prints it: never the password.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxInfo {
    pub queue_id: Uuid,
    pub imap: String,
    pub smtp: String,
    pub tls: TlsMode,
    pub folder: String,
    pub import_since: Option<NaiveDate>,
    pub move_to: Option<String>,
    pub custom_ca: bool,
    /// The highest UID stored, and the UIDVALIDITY it belongs to.
    pub last_uid: Option<u32>,
    pub uid_validity: Option<u32>,
    /// The languages of its acknowledgement (none: it sends none).
    pub acknowledgement: Vec<String>,
}

/// Keep a queue's mailbox (replacing an earlier one). The first mailbox of a server starts the
/// outbox at the current change: replies written before any mailbox existed are not mailed.
pub async fn set_mailbox(storage: &dyn Storage, mailbox: &Mailbox, now: DateTime<Utc>) -> Result<(), MailError> {
    if mailbox.imap.user.is_none() {
        return Err(MailError::Invalid("the IMAP URL needs the mailbox's user: imap://USER@HOST:PORT".into()));
    }
    if let Some(pem) = &mailbox.ca_cert_pem {
        certificates(pem)?;
    }
    outbox::start_cursor(storage, now).await?;
    let doc = serde_json::to_value(mailbox).map_err(|e| MailError::Invalid(e.to_string()))?;
    storage.put_record(&Record::new(MAILBOX, mailbox.queue_id.to_string(), "active", doc, now)).await?;
    Ok(())
}

/// Acknowledgement texts typed as `LANG=TEXT`, each a valid template (see [`ack`]).
pub fn parse_acknowledgement(texts: &[String]) -> Result<std::collections::BTreeMap<String, String>, MailError> {
    let mut versions = std::collections::BTreeMap::new();
    for text in texts {
        let (language, body) = text.split_once('=').ok_or_else(|| {
            MailError::Invalid(format!("{text:?} names no language; write it as en=Thank you for writing…"))
        })?;
        let language = language.trim();
        let valid_tag = !language.is_empty()
            && language.len() <= 35
            && language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_tag {
            return Err(MailError::Invalid(format!("{language:?} is not a language tag such as en or pt-BR")));
        }
        if body.trim().is_empty() {
            return Err(MailError::Invalid(format!("the {language} acknowledgement is empty")));
        }
        liaison_protocol::canned::validate(body)
            .map_err(|e| MailError::Invalid(format!("the {language} acknowledgement: {e}")))?;
        versions.insert(language.to_owned(), body.to_owned());
    }
    Ok(versions)
}

/// Set (or with an empty map, turn off) a queue's acknowledgement; its mailbox must exist.
pub async fn set_acknowledgement(
    storage: &dyn Storage,
    queue: Uuid,
    versions: std::collections::BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(), MailError> {
    let Some(mut mailbox) = mailbox_of(storage, queue).await? else {
        return Err(MailError::Invalid(
            "the queue has no mailbox; connect one first with `liaison-server queue mailbox set`".into(),
        ));
    };
    mailbox.acknowledgement = versions;
    let doc = serde_json::to_value(&mailbox).map_err(|e| MailError::Invalid(e.to_string()))?;
    storage.put_record(&Record::new(MAILBOX, queue.to_string(), "active", doc, now)).await?;
    Ok(())
}

/// Every mailbox, by queue id.
pub async fn mailboxes(storage: &dyn Storage) -> Result<Vec<Mailbox>, MailError> {
    let records = storage.list_records(MAILBOX, None, None, 10_000).await?;
    records
        .into_iter()
        .map(|r| {
            serde_json::from_value(r.doc).map_err(|e| {
                MailError::Invalid(format!(
                    "the stored mailbox of queue {} is unreadable ({e}); set it again with `liaison-server queue mailbox set`",
                    r.key
                ))
            })
        })
        .collect()
}

/// The mailbox of one queue.
pub async fn mailbox_of(storage: &dyn Storage, queue: Uuid) -> Result<Option<Mailbox>, MailError> {
    Ok(mailboxes(storage).await?.into_iter().find(|m| m.queue_id == queue))
}

/// What `queue mailbox show` prints.
pub async fn describe(storage: &dyn Storage, mailbox: &Mailbox) -> Result<MailboxInfo, MailError> {
    let progress = fetch::progress(storage, mailbox.queue_id).await?;
    let url = |scheme: &str, e: &Endpoint| match &e.user {
        Some(user) => format!("{scheme}://{user}@{}:{}", e.host, e.port),
        None => format!("{scheme}://{}:{}", e.host, e.port),
    };
    Ok(MailboxInfo {
        queue_id: mailbox.queue_id,
        imap: url("imap", &mailbox.imap),
        smtp: url("smtp", &mailbox.smtp),
        tls: mailbox.tls,
        folder: mailbox.folder.clone(),
        import_since: mailbox.import_since,
        move_to: mailbox.move_to.clone(),
        custom_ca: mailbox.ca_cert_pem.is_some(),
        last_uid: progress.as_ref().map(|p| p.last_uid),
        uid_validity: progress.map(|p| p.uid_validity),
        acknowledgement: mailbox.acknowledgement.keys().cloned().collect(),
    })
}

/// The certificates of a PEM text.
pub(crate) fn certificates(pem: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, MailError> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| MailError::Invalid(format!("the CA certificate file is not PEM ({e})")))?;
    if certs.is_empty() {
        return Err(MailError::Invalid("the CA certificate file holds no certificate".into()));
    }
    Ok(certs)
}

/// The TLS client configuration for a mailbox: its own CA when given, else the public roots.
pub(crate) fn tls_config(mailbox: &Mailbox) -> Result<Arc<rustls::ClientConfig>, MailError> {
    let mut roots = rustls::RootCertStore::empty();
    match &mailbox.ca_cert_pem {
        Some(pem) => {
            for cert in certificates(pem)? {
                roots.add(cert).map_err(|e| MailError::Invalid(format!("the CA certificate is not usable ({e})")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| MailError::Invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// How often the worker looks for new mail and replies to send (`LIAISON_MAIL_POLL_SECS`,
/// default 30 s).
pub fn poll_interval() -> Duration {
    let secs = std::env::var("LIAISON_MAIL_POLL_SECS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(30.0);
    Duration::from_secs_f64(secs.clamp(0.2, 3600.0))
}

/// What one round of the worker did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Round {
    pub fetched: Vec<fetch::FetchReport>,
    pub sent: outbox::SendReport,
}

/// One round: queue new replies, send what is due, fetch every mailbox. A mailbox that fails is
/// reported in its own report; the others go on.
pub async fn round(storage: &dyn Storage) -> Result<Round, MailError> {
    let mut result = Round::default();
    if storage.list_records(MAILBOX, None, None, 1).await?.is_empty() {
        return Ok(result);
    }
    outbox::follow(storage, Utc::now()).await?;
    for mailbox in mailboxes(storage).await? {
        result.fetched.push(fetch::fetch(storage, &mailbox).await);
    }
    // Mail that just arrived may be a bounce of a reply; send after fetching.
    outbox::follow(storage, Utc::now()).await?;
    result.sent = outbox::send_due(storage, Utc::now()).await?;
    Ok(result)
}

/// The worker `serve` runs on every server, with or without a mailbox: a mail [`round`] every
/// [`poll_interval`], then the SLA clocks ([`crate::clocks::follow`], after the round so mail
/// that just arrived is dated within seconds); errors logged, never fatal.
pub async fn run(storage: Arc<dyn Storage>) {
    if let Err(e) = outbox::recover(storage.as_ref(), Utc::now()).await {
        tracing::warn!("mail: recovering the outbox failed: {e}");
    }
    let every = poll_interval();
    let wake = Arc::new(tokio::sync::Notify::new());
    let mut watchers: std::collections::HashMap<Uuid, (Mailbox, tokio::task::JoinHandle<()>)> =
        std::collections::HashMap::new();
    let mut next_round = tokio::time::Instant::now();
    let mut woken = false;
    loop {
        // A mailbox set or changed by `queue mailbox set` is watched within seconds.
        match mailboxes(storage.as_ref()).await {
            Ok(now_set) => watch_mailboxes(&mut watchers, now_set, &wake),
            Err(e) => tracing::warn!("mail: reading the mailboxes failed: {e}"),
        }
        if woken || tokio::time::Instant::now() >= next_round {
            woken = false;
            run_round(storage.as_ref()).await;
            next_round = tokio::time::Instant::now() + every;
        }
        // The next round: at the poll interval, or at once when IDLE says mail arrived.
        tokio::select! {
            () = tokio::time::sleep_until(next_round) => {}
            () = wake.notified() => woken = true,
            () = tokio::time::sleep(WATCH_REFRESH) => {}
        }
    }
}

/// How often the worker looks for mailboxes set or changed since (to watch them with IDLE).
const WATCH_REFRESH: Duration = Duration::from_secs(5);

async fn run_round(storage: &dyn Storage) {
    match round(storage).await {
        Ok(round) => {
            for report in round.fetched.iter().filter(|r| r.error.is_some()) {
                tracing::warn!(
                    "mail: fetching queue {}'s mailbox failed: {}",
                    report.queue_id,
                    report.error.as_deref().unwrap_or_default()
                );
            }
        }
        Err(e) => tracing::warn!("mail: {e}"),
    }
    if let Err(e) = crate::clocks::follow(storage, Utc::now()).await {
        tracing::warn!("sla: computing the clocks failed (tried again next round): {e}");
    }
}

/// One IDLE watcher per mailbox: started for a new mailbox, started again when its settings
/// changed, stopped when it is gone.
fn watch_mailboxes(
    watchers: &mut std::collections::HashMap<Uuid, (Mailbox, tokio::task::JoinHandle<()>)>,
    mailboxes: Vec<Mailbox>,
    wake: &Arc<tokio::sync::Notify>,
) {
    let wanted: std::collections::HashSet<Uuid> = mailboxes.iter().map(|m| m.queue_id).collect();
    watchers.retain(|queue, (_, task)| {
        let keep = wanted.contains(queue);
        if !keep {
            task.abort();
        }
        keep
    });
    for mailbox in mailboxes {
        let current = watchers.get(&mailbox.queue_id).is_some_and(|(watched, _)| *watched == mailbox);
        if !current {
            if let Some((_, old)) = watchers.remove(&mailbox.queue_id) {
                old.abort();
            }
            let task = tokio::spawn(idle::watch(mailbox.clone(), wake.clone()));
            watchers.insert(mailbox.queue_id, (mailbox, task));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_url_names_its_user_even_when_the_user_is_an_address() {
        let e = Endpoint::parse("imap://info-en@example.org@127.0.0.1:1143", "imap", TlsMode::Starttls).expect("url");
        assert_eq!(e, Endpoint { host: "127.0.0.1".into(), port: 1143, user: Some("info-en@example.org".into()) });
        let e = Endpoint::parse("smtp://mail.example.org", "smtp", TlsMode::Implicit).expect("url");
        assert_eq!((e.port, e.user), (465, None), "the port follows the TLS mode; no user is no sign-in");
        let e = Endpoint::parse("imap://info%40example.org@mail.example.org", "imap", TlsMode::Implicit).expect("url");
        assert_eq!(e.user.as_deref(), Some("info@example.org"));
    }

    #[test]
    fn a_wrong_mailbox_url_says_what_the_form_is() {
        for (url, says) in [
            ("http://x@y:1", "is not a imap URL"),
            ("imap://x@y:port", "is not a port number"),
            ("imap://x@:143", "names no host"),
        ] {
            let error = Endpoint::parse(url, "imap", TlsMode::Starttls).expect_err(url).to_string();
            assert!(error.contains(says) && error.contains("imap://USER@HOST:PORT"), "{url}: {error}");
        }
    }
}
