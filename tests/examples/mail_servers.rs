//! Real mail servers for the desktop WebDriver test: Dovecot (IMAP, STARTTLS) and aiosmtpd
//! (SMTP, STARTTLS, delivering into Dovecot's Maildirs), as `liaison_server::testing::mail`
//! starts them for the Rust end-to-end tests, driven over stdin and stdout by a test in another
//! language (`ui/e2e/desktop.test.mjs`).
//!
//! ```text
//! mail_servers ADDRESS=PASSWORD... --deliver-to ADDRESS
//! ```
//!
//! It prints one JSON line — `{"imap_port": …, "smtp_port": …, "ca_cert": "/path/ca.pem"}` —
//! then answers one JSON line per request line:
//! * `{"op": "append", "address": A, "raw": MAIL}` → `{"uid": N}` (the mail is in A's INBOX);
//! * `{"op": "messages", "address": A}` → `{"messages": [MAIL, …]}` (A's INBOX, oldest first).
//!
//! A request it cannot serve answers `{"error": "…"}`. End of input stops the servers.

use liaison_server::testing::mail::MailServers;
use serde_json::{Value, json};
use std::io::{BufRead, Write};

fn main() {
    if let Err(e) = run() {
        eprintln!("mail_servers: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut accounts = Vec::new();
    let mut deliver_to = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--deliver-to" {
            deliver_to = args.next();
        } else {
            let (address, password) =
                arg.split_once('=').ok_or_else(|| format!("{arg:?}: accounts are ADDRESS=PASSWORD"))?;
            accounts.push((address.to_owned(), password.to_owned()));
        }
    }
    let deliver_to = deliver_to.ok_or("--deliver-to ADDRESS is missing: where aiosmtpd delivers what it receives")?;
    let pairs: Vec<(&str, &str)> = accounts.iter().map(|(a, p)| (a.as_str(), p.as_str())).collect();
    let mail = MailServers::start(&pairs, &deliver_to)?;
    let mut out = std::io::stdout().lock();
    let ready = json!({
        "imap_port": mail.imap_port(),
        "smtp_port": mail.smtp_port(),
        "ca_cert": mail.ca_cert_path().to_string_lossy(),
    });
    writeln!(out, "{ready}").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = serve(&mail, &line).unwrap_or_else(|e| json!({ "error": e }));
        writeln!(out, "{answer}").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn serve(mail: &MailServers, line: &str) -> Result<Value, String> {
    let request: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON request: {e}"))?;
    let address = request["address"].as_str().ok_or("the request names no address")?;
    match request["op"].as_str() {
        Some("append") => {
            let raw = request["raw"].as_str().ok_or("append needs the mail as raw")?;
            let (_, uid) = mail.append(address, raw.as_bytes())?;
            Ok(json!({ "uid": uid }))
        }
        Some("messages") => {
            let messages: Vec<String> =
                mail.messages(address)?.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect();
            Ok(json!({ "messages": messages }))
        }
        other => Err(format!("unknown op {other:?}; it is append or messages")),
    }
}
