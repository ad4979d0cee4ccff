//! Delivery status notifications (RFC 3464): a bounce says which recipients could not be reached
//! and why, and carries the original message (or its headers), whose Message-ID attaches the
//! bounce to the reply that failed.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// What a bounce reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The Message-ID of the message that could not be delivered, when the report includes it.
    pub original_message_id: Option<String>,
    pub recipients: Vec<Recipient>,
}

impl DeliveryReport {
    /// Whether delivery to some recipient failed for good (rather than was delayed).
    pub fn failed(&self) -> bool {
        self.recipients.iter().any(|r| r.action == "failed")
    }

    /// In words, for the thread: who could not be reached and why.
    pub fn summary(&self) -> String {
        let lines: Vec<String> = self
            .recipients
            .iter()
            .map(|r| {
                let why = r.diagnostic.as_deref().unwrap_or(&r.status);
                format!("{} ({}): {}", r.address, r.action, why)
            })
            .collect();
        if lines.is_empty() {
            "The mail server reported a delivery problem without details.".into()
        } else {
            lines.join("\n")
        }
    }
}

/// One recipient's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded` (lowercase).
    pub action: String,
    /// The status code, e.g. `5.1.1`.
    pub status: String,
    /// The remote server's answer, when given.
    pub diagnostic: Option<String>,
}

/// The report of a `multipart/report; report-type=delivery-status` message.
pub(crate) fn of(message: &mail_parser::Message<'_>) -> Option<DeliveryReport> {
    let root = message.content_type()?;
    let is_report = root.ctype().eq_ignore_ascii_case("multipart")
        && root.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && root.attribute("report-type").is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let mut report = DeliveryReport { original_message_id: None, recipients: Vec::new() };
    for part in &message.parts {
        let Some(ct) = part.content_type() else { continue };
        let kind = (ct.ctype().to_ascii_lowercase(), ct.subtype().unwrap_or("").to_ascii_lowercase());
        match (kind.0.as_str(), kind.1.as_str()) {
            ("message", "delivery-status") | ("message", "global-delivery-status") => {
                let raw = message.raw_message.get(part.offset_body as usize..part.offset_end as usize).unwrap_or(&[]);
                report.recipients.extend(recipients(&String::from_utf8_lossy(raw)));
            }
            ("message", "rfc822") | ("message", "global") => {
                if let PartType::Message(original) = &part.body {
                    report.original_message_id = report
                        .original_message_id
                        .take()
                        .or_else(|| original.message_id().and_then(crate::thread::normalise_message_id));
                }
            }
            ("text", "rfc822-headers") => {
                let raw = message.raw_message.get(part.offset_body as usize..part.offset_end as usize).unwrap_or(&[]);
                if report.original_message_id.is_none()
                    && let Some(headers) = MessageParser::default().parse_headers(raw)
                {
                    report.original_message_id = headers.message_id().and_then(crate::thread::normalise_message_id);
                }
            }
            _ => {}
        }
    }
    Some(report)
}

/// The per-recipient blocks of a `message/delivery-status` body.
fn recipients(body: &str) -> Vec<Recipient> {
    let mut out = Vec::new();
    let normalised = body.replace("\r\n", "\n");
    for block in normalised.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in block.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let Some(recipient) = field("final-recipient").or_else(|| field("original-recipient")) else { continue };
        // `rfc822; reader@example.org`
        let address = recipient.split_once(';').map(|(_, a)| a).unwrap_or(&recipient).trim().to_owned();
        let diagnostic = field("diagnostic-code")
            .map(|d| d.split_once(';').map(|(_, text)| text.trim().to_owned()).unwrap_or(d))
            .filter(|d| !d.is_empty());
        out.push(Recipient {
            address,
            action: field("action").unwrap_or_default().to_ascii_lowercase(),
            status: field("status").unwrap_or_default(),
            diagnostic,
        });
    }
    out
}
