//! Reading a queue's mailbox by IMAP: one pass from the last UID stored.
//!
//! **Idempotent.** Progress is `(UIDVALIDITY, last UID)`, saved after each chunk of [`CHUNK`]
//! messages; a pass cut off anywhere re-reads at most the messages after the last one saved,
//! and those are recognised by their derived row ids ([`super::ingest`]). A new UIDVALIDITY (the mailbox was
//! rebuilt) starts again from UID 1, and the Message-IDs keep anything from arriving twice.
//! Messages are read with `BODY.PEEK[]`: their `\Seen` flag is left as it was, and a message
//! another client already read is fetched like any other.

use super::ingest::{self, Ingested};
use super::{MailError, Mailbox, PROGRESS, TlsMode, tls_config};
use crate::storage::{Record, Storage};
use async_imap::Session;
use chrono::Utc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use uuid::Uuid;

/// How long connecting, signing in and each command may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Messages fetched per command: bounded memory whatever the mailbox holds.
const CHUNK: usize = 25;

type Imap = Session<TlsStream<TcpStream>>;

/// Where reading a mailbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub uid_validity: u32,
    pub last_uid: u32,
}

/// What one pass over a mailbox did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FetchReport {
    pub queue_id: Uuid,
    /// New cases opened.
    pub cases: u32,
    /// Messages added to existing cases.
    pub joined: u32,
    /// Messages already stored (a pass run again, the same mail twice).
    pub duplicates: u32,
    /// Bounces matched to a reply.
    pub bounces: u32,
    /// Messages kept in quarantine.
    pub quarantined: u32,
    /// Why the pass stopped early (the mailbox could not be read); what was stored stays.
    pub error: Option<String>,
}

pub async fn progress(storage: &dyn Storage, queue: Uuid) -> Result<Option<Progress>, MailError> {
    Ok(match storage.record(PROGRESS, &queue.to_string()).await? {
        Some(record) => serde_json::from_value(record.doc).ok(),
        None => None,
    })
}

async fn save_progress(storage: &dyn Storage, queue: Uuid, progress: Progress) -> Result<(), MailError> {
    let doc = serde_json::to_value(progress).map_err(|e| MailError::Invalid(e.to_string()))?;
    storage.put_record(&Record::new(PROGRESS, queue.to_string(), "active", doc, Utc::now())).await?;
    Ok(())
}

/// One pass over `mailbox`; never fails as a whole: a problem is the report's `error`.
pub async fn fetch(storage: &dyn Storage, mailbox: &Mailbox) -> FetchReport {
    let mut report = FetchReport { queue_id: mailbox.queue_id, ..FetchReport::default() };
    if let Err(e) = pass(storage, mailbox, &mut report).await {
        report.error = Some(e.to_string());
    }
    report
}

fn server_error(what: &str, mailbox: &Mailbox, e: impl std::fmt::Display) -> MailError {
    MailError::Server(format!("{what} {}:{} failed: {e}", mailbox.imap.host, mailbox.imap.port))
}

async fn timed<T, E: std::fmt::Display>(
    what: &str,
    mailbox: &Mailbox,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, MailError> {
    match tokio::time::timeout(TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(server_error(what, mailbox, e)),
        Err(_) => Err(server_error(what, mailbox, format!("no answer within {} s", TIMEOUT.as_secs()))),
    }
}

/// Connect, secure and sign in.
pub async fn connect(mailbox: &Mailbox) -> Result<Imap, MailError> {
    let config = tls_config(mailbox)?;
    let name = rustls::pki_types::ServerName::try_from(mailbox.imap.host.clone())
        .map_err(|e| MailError::Invalid(format!("{:?} is not a host name ({e})", mailbox.imap.host)))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp =
        timed("connecting to", mailbox, TcpStream::connect((mailbox.imap.host.as_str(), mailbox.imap.port))).await?;
    let tls = match mailbox.tls {
        TlsMode::Implicit => {
            let tls = timed("TLS with", mailbox, connector.connect(name, tcp)).await?;
            let mut client = async_imap::Client::new(tls);
            timed("the greeting of", mailbox, client.read_response()).await?;
            client
        }
        TlsMode::Starttls => {
            let mut plain = async_imap::Client::new(tcp);
            timed("the greeting of", mailbox, plain.read_response()).await?;
            timed("STARTTLS with", mailbox, plain.run_command_and_check_ok("STARTTLS", None)).await?;
            let tls = timed("TLS with", mailbox, connector.connect(name, plain.into_inner())).await?;
            async_imap::Client::new(tls)
        }
    };
    let user = mailbox.imap.user.clone().unwrap_or_default();
    match tokio::time::timeout(TIMEOUT, tls.login(&user, &mailbox.password)).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(MailError::Server(format!(
            "signing in to {}:{} as {user} failed ({e}); check the user and set the password again with `liaison-server queue mailbox set`",
            mailbox.imap.host, mailbox.imap.port
        ))),
        Err(_) => Err(server_error("signing in to", mailbox, "no answer")),
    }
}

async fn pass(storage: &dyn Storage, mailbox: &Mailbox, report: &mut FetchReport) -> Result<(), MailError> {
    let mut session = connect(mailbox).await?;
    let selected = timed("opening the folder on", mailbox, session.select(&mailbox.folder)).await?;
    let uid_validity = selected.uid_validity.unwrap_or(0);
    let known = progress(storage, mailbox.queue_id).await?;
    let (last_uid, first_read) = match known {
        Some(p) if p.uid_validity == uid_validity => (p.last_uid, false),
        // A rebuilt mailbox: read it again; Message-IDs keep anything from arriving twice.
        Some(_) => (0, false),
        None => (0, true),
    };
    let query = match (first_read, mailbox.import_since) {
        (true, Some(day)) => format!("SINCE {}", day.format("%d-%b-%Y")),
        _ => format!("UID {}:*", last_uid.saturating_add(1)),
    };
    let found = timed("searching", mailbox, session.uid_search(&query)).await?;
    // `n:*` always answers the last message, even below n.
    let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > last_uid).collect();
    uids.sort_unstable();
    if uids.is_empty() && first_read {
        // Nothing since the chosen day: what is there now is history, left alone.
        let seen = if mailbox.import_since.is_some() { selected.uid_next.unwrap_or(1).saturating_sub(1) } else { 0 };
        save_progress(storage, mailbox.queue_id, Progress { uid_validity, last_uid: seen }).await?;
    }
    for chunk in uids.chunks(CHUNK) {
        let set: Vec<String> = chunk.iter().map(u32::to_string).collect();
        let mut messages: Vec<(u32, Vec<u8>)> = Vec::with_capacity(chunk.len());
        {
            let stream = timed("fetching from", mailbox, session.uid_fetch(set.join(","), "(UID BODY.PEEK[])")).await?;
            let mut stream = std::pin::pin!(stream);
            loop {
                let next = tokio::time::timeout(TIMEOUT, stream.next()).await;
                match next {
                    Ok(Some(Ok(fetch))) => {
                        if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                            messages.push((uid, body.to_vec()));
                        }
                    }
                    Ok(Some(Err(e))) => return Err(server_error("fetching from", mailbox, e)),
                    Ok(None) => break,
                    Err(_) => return Err(server_error("fetching from", mailbox, "no answer")),
                }
            }
        }
        messages.sort_by_key(|(uid, _)| *uid);
        let last_of_chunk = messages.last().map(|(uid, _)| *uid);
        for (uid, raw) in messages {
            let source = ingest::Source { uid_validity, uid, historic: first_read && mailbox.import_since.is_some() };
            match ingest::ingest(storage, mailbox, &raw, source, Utc::now()).await? {
                Ingested::NewCase { .. } => report.cases += 1,
                Ingested::Joined { .. } => report.joined += 1,
                Ingested::Duplicate { .. } => report.duplicates += 1,
                Ingested::Bounce { .. } => report.bounces += 1,
                Ingested::Quarantined { .. } => report.quarantined += 1,
            }
            if let Some(folder) = &mailbox.move_to {
                timed("moving a message on", mailbox, session.uid_mv(uid.to_string(), folder)).await?;
            }
        }
        // Progress once per chunk: a pass cut off inside one reads at most that chunk again,
        // and its messages are recognised by their derived ids (one write less per message).
        if let Some(last_uid) = last_of_chunk {
            save_progress(storage, mailbox.queue_id, Progress { uid_validity, last_uid }).await?;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
    Ok(())
}
