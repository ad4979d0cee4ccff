//! Benchmarks B5 (bulk insert, indexed and searchable) and B6 (search latency) from
//! `shared/design/performance.md`, and the desk's reads (issue 10: a queue's first page of cases,
//! opening a case with 200 messages, the queue sidebar, on 100k cases and 1M messages), run side
//! by side on the encrypted store and on the same store without a key, so the table shows the
//! cost of encryption as a ratio on the same machine (plain SQLite running the same queries is
//! the floor).
//!
//! `cargo xtask bench [--full]` runs it in release mode; `cargo xtask test` runs `--smoke` (a tenth
//! of the size) only to prove it works: it asserts nothing about time.

use liaison_core::contacts;
use liaison_core::demo;
use liaison_core::store::Store;
use liaison_core::vault::DataKey;
use std::time::Instant;

struct Args {
    contacts: u64,
    cases: u64,
    out: Option<std::path::PathBuf>,
    label: &'static str,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (contacts, cases, label) = if argv.iter().any(|a| a == "--smoke") {
        (10_000, 10_000, "smoke (a tenth of the size)")
    } else if argv.iter().any(|a| a == "--full") {
        (500_000, 100_000, "full")
    } else {
        (100_000, 100_000, "standard")
    };
    let out = argv.iter().position(|a| a == "--out").and_then(|i| argv.get(i + 1)).map(std::path::PathBuf::from);
    Args { contacts, cases, out, label }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

struct Run {
    insert_s: f64,
    searches: Vec<(&'static str, f64, f64, u64)>,
}

fn measure(mut store: Store, n: u64) -> Result<Run, Box<dyn std::error::Error>> {
    let start = Instant::now();
    demo::fill(&mut store, n, 7, |_| {})?;
    let insert_s = start.elapsed().as_secs_f64();
    let queries: [(&'static str, &str); 3] =
        [("common name", "müller"), ("prefix type-ahead", "ma"), ("selective", "lovelace")];
    let mut searches = vec![];
    for (label, q) in queries {
        let mut times = vec![];
        let mut total = 0;
        for _ in 0..60 {
            let t = Instant::now();
            let page = contacts::search(&store, q, 0, 50)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            total = page.total;
        }
        times.sort_by(|a, b| a.total_cmp(b));
        searches.push((label, percentile(&times, 0.5), percentile(&times, 0.95), total));
    }
    Ok(Run { insert_s, searches })
}

/// Messages per case on average (1M for 100k cases); one case has [`LONG_THREAD`].
const MESSAGES_PER_CASE: u64 = 10;
const LONG_THREAD: u64 = 200;
const QUEUES: u64 = 20;

/// The desk's data written straight into the tables (the generation is not what is measured):
/// `cases` cases in [`QUEUES`] queues, each with its reader's link, ~10 messages each (reader
/// mail and replies, alternating), the derived `awaiting_since`, server due times on a third.
fn fill_desk(store: &mut Store, cases: u64) -> Result<(uuid::Uuid, uuid::Uuid), Box<dyn std::error::Error>> {
    use rusqlite::params;
    let queues: Vec<uuid::Uuid> = (0..QUEUES).map(|_| uuid::Uuid::now_v7()).collect();
    let mut long_case = uuid::Uuid::nil();
    store.transaction(|tx| {
        for (i, q) in queues.iter().enumerate() {
            tx.execute(
                "INSERT INTO queue(id, name, email) VALUES (?1, ?2, ?3)",
                params![q.as_bytes().to_vec(), format!("info-{i:02}"), format!("info-{i:02}@example.org")],
            )?;
        }
        let mut case_insert = tx.prepare(
            r#"INSERT INTO "case"(id, queue_id, subject, kind, channel, state, owner, created_at, updated_at, number, due_at)
               VALUES (?1, ?2, ?3, 'inquiry', 'email', ?4, ?5, ?6, ?7, ?8, ?9)"#,
        )?;
        let mut link_insert =
            tx.prepare("INSERT INTO case_contact(id, case_id, contact_id, role) VALUES (?1, ?2, ?3, 'reader')")?;
        let mut message_insert = tx.prepare(
            "INSERT INTO case_message(id, case_id, kind, channel, author_user, sent_at, body, original) VALUES (?1, ?2, ?3, 'email', ?4, ?5, ?6, ?7)",
        )?;
        let base = chrono::Utc::now() - chrono::Duration::days(400);
        // What the server keeps of a reader's mail (headers, and its sanitized HTML of about
        // 20 kB), on every reader message of the long thread: opening it reads each one's.
        let html = format!("<html><body>{}</body></html>", "<p>The date of birth in the <b>article</b> seems wrong.</p>".repeat(340));
        let original = |k: u64| {
            serde_json::json!({
                "message_id": format!("m{k}@reader.example"),
                "references": (0..k.min(20)).map(|r| format!("<m{r}@reader.example>")).collect::<Vec<_>>(),
                "subject": "Question about the article",
                "from": "reader@reader.example",
                "to": ["info-en@example.org"],
                "cc": [],
                "encoding_problems": false,
                "omitted": [],
                "html": html,
            })
            .to_string()
        };
        let states = ["new", "open", "open", "pending", "resolved", "closed"];
        for n in 0..cases {
            let id = uuid::Uuid::now_v7();
            let queue = queues[(n % QUEUES) as usize];
            let created = base + chrono::Duration::minutes(i64::try_from(n * 5).unwrap_or(0));
            let count = if n == cases / 2 { LONG_THREAD } else { 1 + (n * 7919) % (2 * MESSAGES_PER_CASE - 1) };
            if n == cases / 2 {
                long_case = id;
            }
            let at = |k: u64| (created + chrono::Duration::minutes(i64::try_from(k * 37).unwrap_or(0))).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let due = (n % 3 == 0).then(|| (created + chrono::Duration::hours(400 * 24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let owner = (n % 4 == 0).then(|| format!("agent{}", n % 13));
            case_insert.execute(params![
                id.as_bytes().to_vec(),
                queue.as_bytes().to_vec(),
                format!("Question {n} about the article on topic {}", n % 997),
                states[(n % 6) as usize],
                owner,
                at(0),
                at(count),
                i64::try_from(n + 1).unwrap_or(0),
                due
            ])?;
            link_insert.execute(params![
                uuid::Uuid::now_v7().as_bytes().to_vec(),
                id.as_bytes().to_vec(),
                uuid::Uuid::now_v7().as_bytes().to_vec()
            ])?;
            for k in 0..count {
                let inbound = k % 2 == 0;
                message_insert.execute(params![
                    uuid::Uuid::now_v7().as_bytes().to_vec(),
                    id.as_bytes().to_vec(),
                    if inbound { "inbound" } else { "reply" },
                    (!inbound).then_some("agent1"),
                    at(k),
                    format!(
                        "Message {k} of case {n}. The date of birth in the article seems to be wrong; \
                         the sources say otherwise. Thank you for looking into it, and for your work."
                    ),
                    (inbound && id == long_case).then(|| original(k))
                ])?;
            }
        }
        tx.execute_batch(
            r#"UPDATE "case" SET awaiting_since = (
                SELECT min(m.sent_at) FROM case_message m WHERE m.case_id = "case".id AND m.kind = 'inbound'
                  AND m.sent_at > coalesce((SELECT max(r.sent_at) FROM case_message r WHERE r.case_id = "case".id AND r.kind = 'reply'), ''))"#,
        )?;
        Ok(())
    })?;
    store.conn().execute_batch("ANALYZE")?;
    Ok((queues[3], long_case))
}

/// p50 and p95 in milliseconds of `runs` calls of `f`.
fn timed(
    runs: usize,
    mut f: impl FnMut() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((percentile(&times, 0.5), percentile(&times, 0.95)))
}

struct DeskRun {
    fill_s: f64,
    messages: u64,
    /// (label, p50, p95)
    reads: Vec<(&'static str, f64, f64)>,
}

fn measure_desk(mut store: Store, cases: u64) -> Result<DeskRun, Box<dyn std::error::Error>> {
    use liaison_core::cases::{self, CaseFilter, Sort, View};
    let start = Instant::now();
    let (queue, long_case) = fill_desk(&mut store, cases)?;
    let fill_s = start.elapsed().as_secs_f64();
    let messages: u64 =
        store.conn().query_row("SELECT count(*) FROM case_message", [], |r| r.get::<_, i64>(0))?.try_into()?;
    let page = |view: View, sort: Sort| CaseFilter { queue: Some(queue), view, sort, ..Default::default() };
    let mut reads = Vec::new();
    for (label, filter) in [
        ("first page of a queue's open cases, newest first", page(View::Open, Sort::Updated)),
        ("first page of a queue's unanswered cases, longest waiting first", page(View::Unanswered, Sort::Waiting)),
        ("first page of a queue's open cases, soonest due first", page(View::Open, Sort::Due)),
    ] {
        let (p50, p95) = timed(60, || {
            let listed = cases::list(&store, &filter, 0, 50)?;
            assert!(!listed.items.is_empty(), "the page has cases");
            Ok(())
        })?;
        reads.push((label, p50, p95));
    }
    let (p50, p95) = timed(60, || {
        let case = cases::get(&store, long_case)?;
        assert_eq!(case.messages.len() as u64, LONG_THREAD);
        Ok(())
    })?;
    reads.push(("open a case with 200 messages", p50, p95));
    let (p50, p95) = timed(60, || {
        let counts = liaison_core::queues::sidebar(&store)?;
        assert_eq!(counts.len() as u64, QUEUES);
        Ok(())
    })?;
    reads.push(("the queue sidebar's counts", p50, p95));
    Ok(DeskRun { fill_s, messages, reads })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    let dir = tempfile::tempdir()?;
    println!(
        "Liaison benchmark, {} run: {} generated contacts (with emails, phones, identifiers, FTS index)",
        args.label, args.contacts
    );
    let plain = measure(Store::create_plaintext_for_benchmarks(&dir.path().join("plain.db"))?, args.contacts)?;
    let cipher = measure(Store::create(&dir.path().join("cipher.db"), &DataKey::generate())?, args.contacts)?;
    println!("\n| id | measure | SQLCipher | plain SQLite | ratio |\n|---|---|---|---|---|");
    println!(
        "| B5 | insert {} contacts, indexed | {:.2} s ({:.0}/s) | {:.2} s | {:.2}× |",
        args.contacts,
        cipher.insert_s,
        args.contacts as f64 / cipher.insert_s,
        plain.insert_s,
        cipher.insert_s / plain.insert_s
    );
    let mut json_searches = vec![];
    for ((label, p50, p95, hits), (_, pp50, pp95, _)) in cipher.searches.iter().zip(&plain.searches) {
        println!(
            "| B6 | search, {label} ({hits} hits), p50 / p95 | {p50:.2} / {p95:.2} ms | {pp50:.2} / {pp95:.2} ms | {:.2}× |",
            p95 / pp95.max(1e-9)
        );
        json_searches.push(format!(
            "{{\"query\":\"{label}\",\"hits\":{hits},\"cipher_p50_ms\":{p50:.3},\"cipher_p95_ms\":{p95:.3},\"plain_p50_ms\":{pp50:.3},\"plain_p95_ms\":{pp95:.3}}}"
        ));
    }
    println!("\nTargets (performance.md): B5 ≤ 2 s for 100k and SQLCipher ≤ 1.3× plain; B6 p95 ≤ 20 ms.");

    println!(
        "\nThe desk: {} cases, ~{} messages each ({} in a long thread), {QUEUES} queues",
        args.cases, MESSAGES_PER_CASE, LONG_THREAD
    );
    let plain_desk =
        measure_desk(Store::create_plaintext_for_benchmarks(&dir.path().join("desk-plain.db"))?, args.cases)?;
    let cipher_desk =
        measure_desk(Store::create(&dir.path().join("desk-cipher.db"), &DataKey::generate())?, args.cases)?;
    println!("\n| measure | SQLCipher p50 / p95 | plain SQLite p50 / p95 | target |\n|---|---|---|---|");
    let mut json_desk = vec![];
    for ((label, p50, p95), (_, pp50, pp95)) in cipher_desk.reads.iter().zip(&plain_desk.reads) {
        let target = if label.starts_with("open") { "p95 ≤ 50 ms" } else { "p95 ≤ 16 ms" };
        println!("| {label} | {p50:.2} / {p95:.2} ms | {pp50:.2} / {pp95:.2} ms | {target} |");
        json_desk.push(format!(
            "{{\"measure\":\"{label}\",\"target\":\"{target}\",\"cipher_p50_ms\":{p50:.3},\"cipher_p95_ms\":{p95:.3},\"plain_p50_ms\":{pp50:.3},\"plain_p95_ms\":{pp95:.3}}}"
        ));
    }
    println!(
        "(generated in {:.1} s encrypted, {:.1} s plain: {} messages)",
        cipher_desk.fill_s, plain_desk.fill_s, cipher_desk.messages
    );
    if let Some(out) = args.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let json = format!(
            "{{\"run\":\"{}\",\"contacts\":{},\"b5\":{{\"cipher_s\":{:.3},\"plain_s\":{:.3},\"ratio\":{:.3}}},\"b6\":[{}],\"desk\":{{\"cases\":{},\"messages\":{},\"reads\":[{}]}}}}\n",
            args.label,
            args.contacts,
            cipher.insert_s,
            plain.insert_s,
            cipher.insert_s / plain.insert_s,
            json_searches.join(","),
            args.cases,
            cipher_desk.messages,
            json_desk.join(",")
        );
        std::fs::write(&out, json)?;
        println!("Results written to {}", out.display());
    }
    Ok(())
}
