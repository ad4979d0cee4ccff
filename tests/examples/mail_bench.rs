//! The desk's mail-in benchmark (issue 10): 10,000 messages read from a real Dovecot over IMAP
//! (STARTTLS) by the server's fetch pass and stored as cases and threads in its SQLite storage,
//! in messages per second, with the process's peak memory (target: ≥ 200 messages/s, memory
//! bounded: messages are fetched 25 at a time whatever the mailbox holds).
//!
//! ```text
//! cargo run --release -p liaison-e2e --example mail_bench -- [--smoke] [--out docs/benchmarks.json]
//! ```
//!
//! The mix: plain text, HTML-only mail, replies threading under earlier messages (a third), and a
//! 20 kB attachment every 50th message. `--smoke` (1,000 messages) is what `cargo xtask test`
//! runs to prove it works; it asserts nothing about time. With `--out`, the result is written
//! under the key `mail` of that JSON file (other keys are kept); the sync benchmark's report
//! renders it into `docs/benchmarks.md`.

use chrono::Utc;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldWrite};
use liaison_server::mail::{Endpoint, Mailbox, TlsMode, fetch};
use liaison_server::storage::{SqliteStorage, Storage};
use liaison_server::testing::mail::MailServers;
use serde_json::{Value, json};
use std::time::Instant;
use uuid::Uuid;

fn message(i: usize) -> Vec<u8> {
    let from = format!("reader{}@example.org", i % 700);
    let mut head = format!(
        "From: Reader {} <{from}>\r\nTo: info-en@example.test\r\nMessage-ID: <bench-{i}@example.org>\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n",
        i % 700
    );
    if i % 3 == 1 && i > 3 {
        head.push_str(&format!("Subject: Re: Question {}\r\nIn-Reply-To: <bench-{}@example.org>\r\n", i - 1, i - 1));
    } else {
        head.push_str(&format!("Subject: Question {i} about an article\r\n"));
    }
    let text = format!(
        "Hello,\r\n\r\nthe article on topic {} says the date of birth is 1901, the sources say 1910.\r\n\
         Could someone look at it? Thank you for all your work.\r\n\r\nReader {}\r\n",
        i % 997,
        i % 700
    );
    let body = if i.is_multiple_of(50) {
        let attachment: String = (0..20_000 / 76)
            .map(|_| "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n")
            .collect();
        format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
             --b{i}\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"screenshot-{i}.png\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{attachment}--b{i}--\r\n"
        )
    } else if i.is_multiple_of(7) {
        format!(
            "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{}</p></body></html>\r\n",
            text.replace("\r\n", "<br>")
        )
    } else {
        format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}")
    };
    format!("{head}{body}").into_bytes()
}

/// The process's peak resident memory (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (n, label) = if argv.iter().any(|a| a == "--smoke") { (1_000, "smoke") } else { (10_000, "standard") };
    let out = argv.iter().position(|a| a == "--out").and_then(|i| argv.get(i + 1)).map(std::path::PathBuf::from);
    println!("Liaison mail-in benchmark, {label} run: {n} messages from Dovecot over IMAP (STARTTLS)");
    let mail = MailServers::start(&[("info-en@example.test", "secret")], "info-en@example.test")
        .map_err(|e| anyhow::anyhow!("the mail servers did not start: {e}"))?;
    mail.deliver_directly("info-en@example.test", (0..n).map(message)).map_err(|e| anyhow::anyhow!(e))?;
    let dir = tempfile::tempdir()?;
    let storage = SqliteStorage::open(&dir.path().join("server.db"))?;
    let queue = Uuid::now_v7();
    let now = Utc::now();
    let hlc = Hlc::new(u64::try_from(now.timestamp_millis())?, 0);
    let fields = [("name", json!("info-en")), ("email", json!("info-en@example.test")), ("language", json!("en"))];
    storage
        .write_as_server(
            vec![Change {
                change_id: Uuid::now_v7(),
                entity: EntityKind::Queue,
                row_id: queue,
                base_seq: 0,
                fields: fields.iter().map(|(k, v)| ((*k).to_owned(), FieldWrite { value: v.clone(), hlc })).collect(),
                deleted: None,
            }],
            now,
        )
        .await?;
    let mailbox = Mailbox {
        queue_id: queue,
        imap: Endpoint { host: "127.0.0.1".into(), port: mail.imap_port(), user: Some("info-en@example.test".into()) },
        smtp: Endpoint { host: "127.0.0.1".into(), port: mail.smtp_port(), user: None },
        tls: TlsMode::Starttls,
        password: "secret".into(),
        ca_cert_pem: Some(mail.ca_cert_pem().to_owned()),
        folder: "INBOX".into(),
        import_since: None,
        move_to: None,
        acknowledgement: Default::default(),
    };
    let rss_before = peak_rss_mb();
    let start = Instant::now();
    let mut stored = 0u64;
    let mut passes = 0;
    while stored < n as u64 && passes < 10 {
        let report = fetch::fetch(&storage, &mailbox).await;
        if let Some(e) = &report.error {
            anyhow::bail!("the fetch pass failed: {e}");
        }
        stored += u64::from(report.cases + report.joined + report.duplicates + report.quarantined);
        passes += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(stored == n as u64, "{stored} of {n} messages were stored in {passes} passes");
    let cases = storage.rows_of(EntityKind::Case).await?.len();
    let messages = storage.rows_of(EntityKind::CaseMessage).await?.len();
    anyhow::ensure!(messages == n, "{messages} thread messages for {n} mails");
    let rate = n as f64 / seconds;
    let peak = peak_rss_mb();
    println!(
        "\n| measure | Liaison | target |\n|---|---|---|\n| ingest {n} messages over IMAP into {cases} cases | {seconds:.1} s, {rate:.0} messages/s, peak RSS {peak:.0} MB (before: {rss_before:.0} MB) | ≥ 200 messages/s, memory bounded |"
    );
    if let Some(out) = out {
        let mut doc: Value =
            std::fs::read_to_string(&out).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_else(|| json!({}));
        if !doc.is_object() {
            doc = json!({});
        }
        doc["mail"] = json!({
            "run": label,
            "messages": n,
            "cases": cases,
            "seconds": seconds,
            "messages_per_s": rate,
            "peak_rss_mb": peak,
            "rss_before_mb": rss_before,
        });
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&out, serde_json::to_string_pretty(&doc)? + "\n")?;
        println!("Results written to {}", out.display());
    }
    Ok(())
}
