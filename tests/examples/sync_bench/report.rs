//! The results: targets met or not, the table printed and written to `docs/benchmarks.md`, and
//! the machine-readable file (`docs/benchmarks.json`: the store benchmark's keys, B5/B6, plus
//! `sync`), merged so that neither benchmark overwrites the other's results.

use crate::Args;
use serde_json::{Value, json};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

/// One line of the table (and of `sync.targets` in the JSON).
struct Line {
    id: &'static str,
    measure: String,
    liaison: String,
    pouchdb: String,
    ratio: String,
    target: &'static str,
    met: Option<bool>,
}

fn yes_no(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "–",
    }
}

fn lines(s: &Value) -> Vec<Line> {
    let n = f(&s["contacts"]);
    let rows = f(&s["rows"]);
    let pouch = &s["pouchdb"];
    let has_pouch = !pouch.is_null();
    let pouch_full = &s["pouchdb_full"];
    let has_pouch_full = !pouch_full.is_null();
    let b8 = &s["b8"];
    let b8c = &s["b8_contacts_only"];
    let mut out = vec![];
    let has = |k: &str| s.get(k).is_some_and(|v| !v.is_null());
    if has("b8") {
        out.push(Line {
            id: "B8",
            measure: format!(
                "initial sync, {} contacts + {} cases + {} messages ({} rows with the queue and the cases' reader links), into an empty device (median of {})",
                thousands(n),
                thousands(f(&s["cases"])),
                thousands(f(&s["messages"])),
                thousands(rows),
                b8["runs_seconds"].as_array().map_or(1, Vec::len)
            ),
            liaison: format!(
                "{:.2} s ({} rows/s), device peak RSS {:.0} MB",
                f(&b8["seconds"]),
                thousands(f(&b8["rows_per_s"])),
                f(&b8["device_peak_rss_mb"])
            ),
            pouchdb: if has_pouch_full {
                format!(
                    "{:.2} s for the same data as {} documents, peak RSS {:.0} MB",
                    f(&pouch_full["b8"]["seconds"]),
                    thousands(f(&pouch_full["docs"])),
                    f(&pouch_full["b8"]["client_peak_rss_mb"])
                )
            } else {
                "–".into()
            },
            ratio: if has_pouch_full {
                format!("{:.1}× faster", f(&pouch_full["b8"]["seconds"]) / f(&b8["seconds"]))
            } else {
                "–".into()
            },
            target: "≤ 20 s (≥ 30k rows/s)",
            met: Some(f(&b8["seconds"]) <= 20.0 && rows > 0.0),
        });
    }
    if has("b8_contacts_only") {
        out.push(Line {
            id: "B8",
            measure: format!(
                "contacts alone ({}, {} rows with their emails, phones and identifiers), PouchDB replicating the same contacts (children embedded) (medians of {} and {})",
                thousands(n),
                thousands(f(&b8c["rows"])),
                b8c["runs_seconds"].as_array().map_or(1, Vec::len),
                pouch["b8"]["runs_seconds"].as_array().map_or(1, Vec::len)
            ),
            liaison: format!(
                "{:.2} s ({} contacts/s), peak RSS {:.0} MB",
                f(&b8c["seconds"]),
                thousands(f(&b8c["rows_per_s"])),
                f(&b8c["device_peak_rss_mb"])
            ),
            pouchdb: if has_pouch {
                format!(
                    "{:.2} s ({} docs/s), peak RSS {:.0} MB",
                    f(&pouch["b8"]["seconds"]),
                    thousands(f(&pouch["b8"]["docs_per_s"])),
                    f(&pouch["b8"]["client_peak_rss_mb"])
                )
            } else {
                "–".into()
            },
            ratio: if has_pouch {
                format!("{:.1}× faster", f(&pouch["b8"]["seconds"]) / f(&b8c["seconds"]))
            } else {
                "–".into()
            },
            target: "≥ 10× faster than PouchDB",
            met: has_pouch.then(|| f(&pouch["b8"]["seconds"]) / f(&b8c["seconds"]) >= 10.0),
        });
    }
    if has("b8_contacts_only") {
        let b16 = (f(&b8c["bytes_up"]) + f(&b8c["bytes_down"])) / n;
        out.push(Line {
            id: "B16",
            measure:
                "bytes on the wire per contact during B8 of contacts alone (TLS, both ways; contact + its child rows)"
                    .into(),
            liaison: if has("b8") {
                format!(
                    "{b16:.0} B (with the desk: {:.0} B per row)",
                    (f(&b8["bytes_up"]) + f(&b8["bytes_down"])) / rows
                )
            } else {
                format!("{b16:.0} B")
            },
            pouchdb: if has_pouch {
                format!("{:.0} B (HTTP, gzip)", f(&pouch["b8"]["bytes_per_doc"]))
            } else {
                "–".into()
            },
            ratio: if has_pouch {
                format!("{:.1}× fewer", f(&pouch["b8"]["bytes_per_doc"]) / b16)
            } else {
                "–".into()
            },
            target: "≤ 250 B",
            met: Some(b16 <= 250.0),
        });
    }
    if has("b9") {
        let b9 = f(&s["b9"]["median_ms"]);
        out.push(Line {
            id: "B9",
            measure: format!(
                "incremental sync, 50 up + 50 down, one sync (median of {})",
                s["b9"]["rounds"].as_array().map_or(0, Vec::len)
            ),
            liaison: format!("{b9:.1} ms (HTTPS)"),
            pouchdb: if has_pouch { format!("{:.1} ms (HTTP)", f(&pouch["b9"]["median_ms"])) } else { "–".into() },
            ratio: if has_pouch { format!("{:.2}×", f(&pouch["b9"]["median_ms"]) / b9) } else { "–".into() },
            target: "no slower than PouchDB",
            met: has_pouch.then(|| b9 <= f(&pouch["b9"]["median_ms"])),
        });
    }
    if has("b10") {
        let b10 = &s["b10"];
        let wasted_rows = f(&b10["wasted_rows_estimate"]);
        out.push(Line {
            id: "B10",
            measure: format!(
                "resume a first sync cut at {:.0} % of its bytes ({} rows stored)",
                100.0 * f(&b10["bytes_down_before_cut"]) / f(&b10["b8_bytes_down"]),
                thousands(f(&b10["rows_stored_at_cut"]))
            ),
            liaison: format!(
                "{} stored rows sent again; {:.1} KB more than B8 in all, {:.1} KB of it a new connection's cost, the rest ≈ {} rows received twice (at B8's {:.1} B/row); {} duplicates",
                b10["stored_rows_sent_again"],
                f(&b10["wasted_bytes"]) / 1000.0,
                f(&b10["empty_sync_bytes_down"]) / 1000.0,
                thousands(wasted_rows.max(0.0)),
                f(&b10["b8_bytes_down"]) / rows,
                b10["duplicates"]
            ),
            pouchdb: "–".into(),
            ratio: "–".into(),
            target: "re-download ≤ one chunk (2,000 rows); no duplicates",
            met: Some(f(&b10["stored_rows_sent_again"]) == 0.0 && wasted_rows <= 2000.0 && f(&b10["duplicates"]) == 0.0),
        });
    }
    for (backend, label) in [("sqlite", "SQLite"), ("postgres", "PostgreSQL")] {
        let r = &s["b11"][backend];
        if r.is_null() || !r.is_object() {
            continue;
        }
        let (cap, at) = (&r["capacity"], &r["at_target_rate"]);
        let errors = cap["errors"].as_u64().unwrap_or(1) + at["errors"].as_u64().unwrap_or(1);
        out.push(Line {
            id: "B11",
            measure: format!(
                "{label}: {} clients pulling (90 % up to date, 10 % 1,000–2,000 rows behind, each from its own cursor), {} contacts and {} messages (not 1M and 5M)",
                cap["clients"],
                thousands(n),
                thousands(f(&s["messages"]))
            ),
            liaison: format!(
                "capacity {} req/s (closed loop: p50 {:.0} ms, p99 {:.0} ms); at 2,000 req/s offered: {} req/s served, p50 {:.1} ms, p99 {:.1} ms; {errors} errors",
                thousands(f(&cap["requests_per_s"])),
                f(&cap["p50_ms"]),
                f(&cap["p99_ms"]),
                thousands(f(&at["requests_per_s"])),
                f(&at["p50_ms"]),
                f(&at["p99_ms"]),
            ),
            pouchdb: "–".into(),
            ratio: "–".into(),
            target: "≥ 2,000 req/s, p99 ≤ 100 ms",
            met: Some(
                f(&cap["requests_per_s"]) >= 2000.0 && f(&at["requests_per_s"]) >= 1960.0 && f(&at["p99_ms"]) <= 100.0 && errors == 0,
            ),
        });
    }
    out
}

fn table(s: &Value) -> String {
    let mut t =
        String::from("| id | measure | Liaison | PouchDB | ratio | target | met? |\n|---|---|---|---|---|---|---|\n");
    for l in lines(s) {
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            l.id,
            l.measure,
            l.liaison,
            l.pouchdb,
            l.ratio,
            l.target,
            yes_no(l.met)
        ));
    }
    t
}

fn core_table(core: &Value) -> Option<String> {
    let b5 = core.get("b5")?;
    let mut t =
        String::from("| id | measure | SQLCipher | plain SQLite | ratio | target |\n|---|---|---|---|---|---|\n");
    t.push_str(&format!(
        "| B5 | insert {} contacts, indexed | {:.2} s | {:.2} s | {:.2}× | ≤ 2 s; ≤ 1.3× plain |\n",
        thousands(f(&core["contacts"])),
        f(&b5["cipher_s"]),
        f(&b5["plain_s"]),
        f(&b5["ratio"])
    ));
    for read in core["desk"]["reads"].as_array().into_iter().flatten() {
        t.push_str(&format!(
            "| desk | {} ({} cases, {} messages), p50 / p95 | {:.1} / {:.1} ms | {:.1} / {:.1} ms | | {} |\n",
            read["measure"].as_str().unwrap_or(""),
            thousands(f(&core["desk"]["cases"])),
            thousands(f(&core["desk"]["messages"])),
            f(&read["cipher_p50_ms"]),
            f(&read["cipher_p95_ms"]),
            f(&read["plain_p50_ms"]),
            f(&read["plain_p95_ms"]),
            read["target"].as_str().unwrap_or("")
        ));
    }
    for q in core["b6"].as_array()? {
        t.push_str(&format!(
            "| B6 | search, {} ({} hits), p50 / p95 | {:.1} / {:.1} ms | {:.1} / {:.1} ms | | p95 ≤ 20 ms |\n",
            q["query"].as_str().unwrap_or(""),
            thousands(f(&q["hits"])),
            f(&q["cipher_p50_ms"]),
            f(&q["cipher_p95_ms"]),
            f(&q["plain_p50_ms"]),
            f(&q["plain_p95_ms"])
        ));
    }
    Some(t)
}

fn markdown(doc: &Value) -> String {
    let mut md = String::from(
        "# Benchmarks\n\nWritten by `cargo xtask bench` from its last run (numbers measured in that run only; the \
         machine-readable results are in `benchmarks.json`). Scenarios and targets: `shared/design/performance.md`.\n",
    );
    if let Some(s) = doc.get("sync").filter(|s| !s.is_null()) {
        let m = &s["machine"];
        md.push_str(&format!(
            "\n## Sync (B8, B9, B10, B11, B16), {} run\n\nOn {} cores ({}). {}. PouchDB: {}; {}; {}.\n\n",
            s["run"].as_str().unwrap_or(""),
            m["cores"],
            m["cpu"].as_str().unwrap_or("unknown CPU"),
            s["setup"].as_str().unwrap_or(""),
            s["pouchdb"]["server"].as_str().unwrap_or("not run"),
            s["pouchdb"]["client"].as_str().unwrap_or(""),
            s["pouchdb"]["adapter"].as_str().unwrap_or(""),
        ));
        md.push_str(&table(s));
        let seed = &s["seed"];
        md.push_str(&format!(
            "\nSeeding the server (informative, B13-like, through `Storage::push` in batches of 500): SQLite {} rows in {:.1} s",
            thousands(f(&seed["sqlite"]["full_rows"])),
            f(&seed["sqlite"]["full_seconds"])
        ));
        if !seed["postgres"].is_null() {
            md.push_str(&format!(", PostgreSQL {:.1} s", f(&seed["postgres"]["full_seconds"])));
        }
        if !s["pouchdb"].is_null() {
            md.push_str(&format!(
                "; pouchdb-server `_bulk_docs` of the same contacts {:.1} s",
                f(&s["pouchdb"]["load_seconds"])
            ));
            if !s["pouchdb_full"].is_null() {
                md.push_str(&format!(
                    ", of every document (contacts, cases, messages) {:.1} s",
                    f(&s["pouchdb_full"]["load_seconds"])
                ));
            }
        }
        if !s["b8"].is_null() {
            md.push_str(&format!(
                ".\n\nWhere B8's time goes: the device spent {:.1} s of CPU and the server's process {:.1} s in the {:.1} s of the median run \
                 (the device applies rows one by one in a single thread; see the JSON for every run)",
                f(&s["b8"]["device_cpu_seconds"]),
                f(&s["b8"]["server_process_cpu_seconds"]),
                f(&s["b8"]["seconds"])
            ));
        }
        md.push_str(&format!(
            ".\n\nB11 runs against {}; the load generator (its own process) shares the machine's cores with the server. \
             Capacity is measured in a closed loop (each client sends again as soon as it has its answer), where mean latency is \
             200 clients ÷ throughput by Little's law (100 ms at 2,000 req/s), so the p99 target is checked in a second run that \
             offers exactly 2,000 req/s (each client on a fixed schedule, latency counted from the scheduled time).\n",
            s["b11"]["dataset"].as_str().unwrap_or("the dataset above")
        ));
    }
    if let Some(mail) = doc.get("mail").filter(|m| m.is_object()) {
        md.push_str(&format!(
            "\n## Mail in, {} run\n\nThe server's fetch pass reading a real Dovecot over IMAP (STARTTLS, loopback) into its SQLite storage: plain, HTML-only and threaded replies, a 20 kB attachment every 50th message (`tests/examples/mail_bench.rs`).\n\n\
             | measure | Liaison | target | met? |\n|---|---|---|---|\n\
             | ingest {} messages into {} cases | {:.1} s, {:.0} messages/s, peak RSS {:.0} MB | ≥ 200 messages/s, memory bounded | {} |\n",
            mail["run"].as_str().unwrap_or(""),
            thousands(f(&mail["messages"])),
            thousands(f(&mail["cases"])),
            f(&mail["seconds"]),
            f(&mail["messages_per_s"]),
            f(&mail["peak_rss_mb"]),
            yes_no(Some(f(&mail["messages_per_s"]) >= 200.0))
        ));
    }
    if let Some(core) = core_table(doc) {
        md.push_str(&format!(
            "\n## Encrypted store (B5, B6, the desk), {} run\n\nThe same store with SQLCipher and without a key.\n\n{core}",
            doc["run"].as_str().unwrap_or("")
        ));
    }
    md
}

/// Print the table, and write the merged JSON and the Markdown when asked.
pub fn write(args: &Args, sync: Option<Value>) -> anyhow::Result<()> {
    let read = |p: &std::path::Path| -> anyhow::Result<Value> {
        Ok(match std::fs::read_to_string(p) {
            Ok(text) => serde_json::from_str(&text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
            Err(e) => return Err(e.into()),
        })
    };
    let mut doc = match &args.out {
        Some(out) => read(out)?,
        None => json!({}),
    };
    if !doc.is_object() {
        doc = json!({});
    }
    if let Some(core) = &args.core_results {
        // The store benchmark's keys (run, contacts, b5, b6) replace the old ones; `sync` stays.
        let core = read(core)?;
        if let (Some(d), Some(c)) = (doc.as_object_mut(), core.as_object()) {
            for (k, v) in c {
                if k != "sync" {
                    d.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(mut s) = sync {
        let targets: Vec<Value> = lines(&s)
            .into_iter()
            .map(|l| json!({ "id": l.id, "measure": l.measure, "liaison": l.liaison, "pouchdb": l.pouchdb, "ratio": l.ratio, "target": l.target, "met": l.met }))
            .collect();
        s["targets"] = Value::Array(targets);
        println!("\n{}", table(&s));
        doc["sync"] = s;
    }
    if let Some(out) = &args.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&doc)? + "\n")?;
        println!("Results written to {}", out.display());
    }
    if let Some(md) = &args.md {
        std::fs::write(md, markdown(&doc))?;
        println!("Table written to {}", md.display());
    }
    Ok(())
}
