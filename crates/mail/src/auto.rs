//! Automatic mail (RFC 3834): mail that a program sent (auto-replies, bounces, lists, bulk mail)
//! must never get an automatic answer, or two systems answer each other for ever.

use crate::Mail;
use std::fmt;

/// Why a message gets no automatic answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAutoReply {
    /// `Auto-Submitted` other than `no` (auto-replied, auto-generated, ...).
    AutoSubmitted(String),
    /// `Precedence: bulk`, `junk` or `list`.
    Precedence(String),
    /// Sent through a mailing list (`List-Id`).
    MailingList(String),
    /// The sender asked for none (`X-Auto-Response-Suppress`).
    Suppressed,
    /// An empty envelope sender (`Return-Path: <>`): a bounce or another automatic message.
    NullSender,
    /// A delivery status notification.
    Bounce,
    /// Sent by this desk itself (`X-Loop` names it, or the sender is one of its own addresses).
    Loop,
    /// No sender address to answer.
    NoSender,
}

impl fmt::Display for NoAutoReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoAutoReply::AutoSubmitted(v) => write!(f, "it was sent automatically (Auto-Submitted: {v})"),
            NoAutoReply::Precedence(v) => write!(f, "it is bulk mail (Precedence: {v})"),
            NoAutoReply::MailingList(v) => write!(f, "it came through a mailing list ({v})"),
            NoAutoReply::Suppressed => f.write_str("its sender asked for no automatic answers"),
            NoAutoReply::NullSender => f.write_str("it has no return address (an automatic message)"),
            NoAutoReply::Bounce => f.write_str("it is a delivery report"),
            NoAutoReply::Loop => f.write_str("it was sent by this desk itself"),
            NoAutoReply::NoSender => f.write_str("it names no sender to answer"),
        }
    }
}

/// Whether `mail` may get an automatic answer (an acknowledgement) from a desk whose own
/// addresses are `own` and whose loop marker (the `X-Loop` value it sends) is `loop_marker`;
/// `Err` says why not.
pub fn may_auto_reply(mail: &Mail, own: &[&str], loop_marker: &str) -> Result<(), NoAutoReply> {
    let header = |name: &str| mail.header(name).map(str::trim);
    if let Some(v) = header("auto-submitted").filter(|v| !v.eq_ignore_ascii_case("no")) {
        return Err(NoAutoReply::AutoSubmitted(first_token(v)));
    }
    if let Some(v) = header("precedence").map(first_token).filter(|v| ["bulk", "junk", "list"].contains(&v.as_str())) {
        return Err(NoAutoReply::Precedence(v));
    }
    if let Some(v) = header("list-id") {
        return Err(NoAutoReply::MailingList(v.to_owned()));
    }
    if header("x-auto-response-suppress").is_some_and(|v| !v.eq_ignore_ascii_case("none")) {
        return Err(NoAutoReply::Suppressed);
    }
    if mail.delivery_report.is_some() {
        return Err(NoAutoReply::Bounce);
    }
    if let Some(v) = header("return-path") {
        let v = v.trim_start_matches('<').trim_end_matches('>').trim();
        if v.is_empty() {
            return Err(NoAutoReply::NullSender);
        }
    }
    let marker = loop_marker.trim();
    if !marker.is_empty() && mail.headers_named("x-loop").any(|v| v.trim().eq_ignore_ascii_case(marker)) {
        return Err(NoAutoReply::Loop);
    }
    let Some(from) = mail.from.as_ref().map(|a| a.address.as_str()) else { return Err(NoAutoReply::NoSender) };
    if own.iter().any(|own| own.eq_ignore_ascii_case(from)) {
        return Err(NoAutoReply::Loop);
    }
    Ok(())
}

fn first_token(value: &str) -> String {
    value.split([';', ' ', '\t']).next().unwrap_or("").trim().to_ascii_lowercase()
}
