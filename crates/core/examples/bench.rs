//! Benchmarks B5 (bulk insert, indexed and searchable) and B6 (search latency) from
//! `shared/design/performance.md`, run side by side on the encrypted store and on the same store
//! without a key, so the table shows the cost of encryption as a ratio on the same machine.
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
    out: Option<std::path::PathBuf>,
    label: &'static str,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (contacts, label) = if argv.iter().any(|a| a == "--smoke") {
        (10_000, "smoke (a tenth of the size)")
    } else if argv.iter().any(|a| a == "--full") {
        (500_000, "full")
    } else {
        (100_000, "standard")
    };
    let out = argv.iter().position(|a| a == "--out").and_then(|i| argv.get(i + 1)).map(std::path::PathBuf::from);
    Args { contacts, out, label }
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
    if let Some(out) = args.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let json = format!(
            "{{\"run\":\"{}\",\"contacts\":{},\"b5\":{{\"cipher_s\":{:.3},\"plain_s\":{:.3},\"ratio\":{:.3}}},\"b6\":[{}]}}\n",
            args.label,
            args.contacts,
            cipher.insert_s,
            plain.insert_s,
            cipher.insert_s / plain.insert_s,
            json_searches.join(",")
        );
        std::fs::write(&out, json)?;
        println!("Results written to {}", out.display());
    }
    Ok(())
}
