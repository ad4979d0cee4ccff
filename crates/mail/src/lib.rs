//! Reading mail for Liaison, with no I/O: the server turns what its IMAP mailboxes hold into
//! cases and messages with it, and the device's `.eml`/`.mbox` import will reuse it.
//!
//! [`read`] parses one raw message (RFC 5322 and MIME, with `mail-parser`) into a [`Mail`]: the
//! ids that thread it, its people, its text (the text part preferred, HTML-only mail converted to
//! text, its HTML kept only sanitized), its attachments with safe names, what was left out and
//! why, and the delivery report when it is a bounce. Declared charsets are decoded (ISO-2022-JP,
//! Shift_JIS, GB2312, Windows-1252 and the rest of the WHATWG set); an unknown charset degrades to
//! replacement characters instead of failing; undeclared 8-bit text that is not UTF-8 is read as
//! Windows-1252. A message is refused as a whole only when it is
//! larger than [`Limits::max_message_bytes`] or is not mail at all ([`MailError`]).
//!
//! The rest: [`thread`] (reply prefixes, the case tag, message ids), [`placing`] (which case a
//! message belongs to), [`auto`] (RFC 3834: when not to answer automatically), [`names`] (safe file names), [`html`] (sanitizing).

pub mod auto;
pub mod html;
pub mod names;
pub mod placing;
mod report;
pub mod thread;

pub use report::{DeliveryReport, Recipient};

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Sizes past which a message is refused, or an attachment left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The raw message, headers and encoded parts included.
    pub max_message_bytes: usize,
    /// One attachment, decoded.
    pub max_attachment_bytes: usize,
    /// Attachments kept from one message.
    pub max_attachments: usize,
}

impl Default for Limits {
    /// 40 MB of raw mail (a 25 MB attachment grows by a third in base64), 25 MB per attachment
    /// (what common mail services accept), 100 attachments.
    fn default() -> Self {
        Limits { max_message_bytes: 40 * 1024 * 1024, max_attachment_bytes: 25 * 1024 * 1024, max_attachments: 100 }
    }
}

/// Why a message could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    TooLarge { bytes: usize, limit: usize },
    NotMail,
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailError::TooLarge { bytes, limit } => write!(
                f,
                "the message is {} large, more than the {} this desk accepts; ask the sender for a smaller one or a link",
                megabytes(*bytes),
                megabytes(*limit)
            ),
            MailError::NotMail => f.write_str("this is not an e-mail message (no header could be read)"),
        }
    }
}

impl std::error::Error for MailError {}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// A person in a message's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    /// As written; compare with [`Address::key`].
    pub address: String,
}

impl Address {
    /// The address as compared (mail providers treat addresses without regard to case).
    pub fn key(&self) -> String {
        self.address.to_lowercase()
    }
}

/// An attachment kept from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// A safe file name (see [`names::safe_file_name`]).
    pub name: String,
    /// `type/subtype`, lowercase.
    pub media_type: String,
    /// The `Content-ID` an HTML body refers to as `cid:…`, without brackets.
    pub content_id: Option<String>,
    /// Shown in the body rather than offered as a file.
    pub inline: bool,
    pub content: Vec<u8>,
}

/// Something of a message that was not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Omitted {
    pub name: String,
    pub media_type: String,
    pub bytes: usize,
    pub reason: String,
}

/// One message as Liaison reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Without brackets; `None` when the message has none.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Decoded, as sent (see [`Mail::display_subject`]).
    pub subject: String,
    pub from: Option<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// The `Date` header, RFC 3339, when it is a valid date.
    pub date: Option<String>,
    /// Seconds since 1970 of `date`.
    pub timestamp: Option<i64>,
    /// The body as text: every text part, in order; HTML-only mail converted.
    pub text: String,
    /// The HTML body, sanitized ([`html::sanitize`]), when the message has one.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub omitted: Vec<Omitted>,
    /// Set when the message is a delivery status notification (a bounce).
    pub delivery_report: Option<DeliveryReport>,
    /// Some part could not be decoded as declared (shown with replacement characters).
    pub encoding_problems: bool,
    /// Top-level header fields: lowercase name, unfolded raw value.
    headers: Vec<(String, String)>,
}

impl Mail {
    /// The first header field of that name (any case), unfolded, undecoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header field of that name (any case), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The ids of the messages this one answers, nearest first: In-Reply-To, then References
    /// from the newest back, each once.
    pub fn thread_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for id in self.in_reply_to.iter().chain(self.references.iter().rev()) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }

    /// The subject for display ([`thread::display_subject`]).
    pub fn display_subject(&self) -> String {
        thread::display_subject(&self.subject)
    }

    /// The case number tagged in the subject ([`thread::case_tag`]).
    pub fn case_tag(&self) -> Option<u64> {
        thread::case_tag(&self.subject)
    }
}

/// Read one raw message (see the crate's documentation). Never panics on any input.
pub fn read(raw: &[u8], limits: &Limits) -> Result<Mail, MailError> {
    if raw.len() > limits.max_message_bytes {
        return Err(MailError::TooLarge { bytes: raw.len(), limit: limits.max_message_bytes });
    }
    let message = MessageParser::default().parse(raw).ok_or(MailError::NotMail)?;
    if message.parts.first().is_none_or(|root| root.headers.is_empty()) {
        return Err(MailError::NotMail);
    }
    let headers =
        message.headers_raw().map(|(name, value)| (name.to_ascii_lowercase(), unfold(value))).collect::<Vec<_>>();
    let ids = |value: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        let list: Vec<&str> = match value {
            mail_parser::HeaderValue::Text(id) => vec![id.as_ref()],
            mail_parser::HeaderValue::TextList(ids) => ids.iter().map(|id| id.as_ref()).collect(),
            _ => Vec::new(),
        };
        list.into_iter().filter_map(thread::normalise_message_id).collect()
    };
    let date = message.date().filter(|d| d.is_valid());
    let mut text_parts: Vec<String> = Vec::new();
    for (i, id) in message.text_body.iter().enumerate() {
        let guessed = message.parts.get(*id as usize).and_then(|part| undeclared_legacy_text(&message, part));
        if let Some(text) = guessed.map(std::borrow::Cow::Owned).or_else(|| message.body_text(i)) {
            let text = text.trim_end();
            if !text.is_empty() {
                text_parts.push(text.to_owned());
            }
        }
    }
    // Mail whose structure is broken (a multipart never closed, say) can leave its text outside
    // the body, as an unnamed part: with no body text otherwise, such parts are the body.
    let mut body_parts: Vec<u32> = Vec::new();
    if text_parts.is_empty() {
        for id in &message.attachments {
            let Some(part) = message.parts.get(*id as usize) else { continue };
            let offered_as_file =
                part.attachment_name().is_some() || part.content_disposition().is_some_and(|d| d.is_attachment());
            if let PartType::Text(text) = &part.body
                && !offered_as_file
            {
                let text = text.trim_end();
                if !text.is_empty() {
                    text_parts.push(text.to_owned());
                }
                body_parts.push(*id);
            }
        }
    }
    let html_parts: Vec<&str> = message
        .html_body
        .iter()
        .filter_map(|id| message.parts.get(*id as usize))
        .filter_map(|part| match &part.body {
            PartType::Html(html) => Some(html.as_ref()),
            _ => None,
        })
        .collect();
    let html = (!html_parts.is_empty()).then(|| html::sanitize(&html_parts.join("\n")));
    let (attachments, omitted) = attachments_of(&message, &body_parts, limits);
    Ok(Mail {
        message_id: message.message_id().and_then(thread::normalise_message_id),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        subject: message.subject().unwrap_or("").to_owned(),
        from: message.from().and_then(|a| addresses(a).into_iter().next()),
        reply_to: message.reply_to().map(addresses).unwrap_or_default(),
        to: message.to().map(addresses).unwrap_or_default(),
        cc: message.cc().map(addresses).unwrap_or_default(),
        date: date.map(|d| d.to_rfc3339()),
        timestamp: date.map(|d| d.to_timestamp()),
        text: text_parts.join("\n\n"),
        html,
        attachments,
        omitted,
        delivery_report: report::of(&message),
        encoding_problems: message.parts.iter().any(|p| p.is_encoding_problem),
        headers,
    })
}

/// Text sent as 8-bit bytes without a declared charset that are not UTF-8 (old mail programs
/// did this with Latin-1 and Windows-1252): read as Windows-1252, which gives every byte a
/// character, instead of replacement characters. A declared charset is always used as declared.
fn undeclared_legacy_text(message: &mail_parser::Message<'_>, part: &mail_parser::MessagePart<'_>) -> Option<String> {
    let PartType::Text(text) = &part.body else { return None };
    let declared = part.content_type().and_then(|ct| ct.attribute("charset")).is_some();
    if declared || part.encoding != mail_parser::Encoding::None || !text.contains('\u{FFFD}') {
        return None;
    }
    let raw = message.raw_message.get(part.offset_body as usize..part.offset_end as usize)?;
    if std::str::from_utf8(raw).is_ok() {
        return None;
    }
    let decode = mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252")?;
    Some(decode(raw))
}

/// A header value on one line: folding (a line break before white space) removed.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i > 0 && !line.is_empty() {
            out.push(' ');
        }
        out.push_str(line.trim_start_matches([' ', '\t']));
    }
    out.trim().to_owned()
}

fn addresses(address: &mail_parser::Address<'_>) -> Vec<Address> {
    address
        .iter()
        .filter_map(|a| {
            let addr = a.address.as_deref()?.trim();
            (!addr.is_empty()).then(|| Address {
                name: a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned),
                address: addr.to_owned(),
            })
        })
        .collect()
}

/// The attachments to keep (all but the parts read as the body), and those left out with the
/// reason.
fn attachments_of(
    message: &mail_parser::Message<'_>,
    body_parts: &[u32],
    limits: &Limits,
) -> (Vec<Attachment>, Vec<Omitted>) {
    let (mut kept, mut omitted) = (Vec::new(), Vec::new());
    let parts = message.attachments.iter().filter(|id| !body_parts.contains(id));
    for part in parts.filter_map(|id| message.parts.get(*id as usize)) {
        let media_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| {
                match &part.body {
                    PartType::Message(_) => "message/rfc822",
                    PartType::Text(_) => "text/plain",
                    PartType::Html(_) => "text/html",
                    _ => "application/octet-stream",
                }
                .to_owned()
            })
            .to_ascii_lowercase();
        let given = match (part.attachment_name(), &part.body) {
            (Some(name), _) => name.to_owned(),
            (None, PartType::Message(inner)) => format!("{}.eml", inner.subject().unwrap_or("message")),
            (None, _) => String::new(),
        };
        let name = names::safe_file_name(&given, &format!("attachment{}", extension_for(&media_type)));
        let content = part.contents();
        if content.len() > limits.max_attachment_bytes {
            omitted.push(Omitted {
                name,
                media_type,
                bytes: content.len(),
                reason: format!(
                    "{} is more than the {} limit for one attachment",
                    megabytes(content.len()),
                    megabytes(limits.max_attachment_bytes)
                ),
            });
            continue;
        }
        if kept.len() >= limits.max_attachments {
            omitted.push(Omitted {
                name,
                media_type,
                bytes: content.len(),
                reason: format!("the message has more than {} attachments", limits.max_attachments),
            });
            continue;
        }
        let content_id = part.content_id().and_then(thread::normalise_message_id);
        let inline = match part.content_disposition() {
            Some(disposition) => disposition.is_inline(),
            None => content_id.is_some(),
        };
        kept.push(Attachment { name, media_type, content_id, inline, content: content.to_vec() });
    }
    (kept, omitted)
}

/// A file name extension for a media type, for attachments sent without a name.
fn extension_for(media_type: &str) -> &'static str {
    match media_type {
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "text/plain" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        "message/rfc822" => ".eml",
        _ => ".bin",
    }
}
