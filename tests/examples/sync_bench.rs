//! Sync benchmarks B8, B9, B10, B11 and B16 (`shared/design/performance.md`), with PouchDB
//! replicating the same generated documents side by side (`bench/pouchdb/`).
//!
//! ```text
//! cargo run --release -p liaison-e2e --example sync_bench -- [--smoke] [--out docs/benchmarks.json]
//!     [--md docs/benchmarks.md] [--core-results FILE] [--skip-pouchdb] [--skip-postgres]
//! ```
//!
//! `cargo xtask bench` runs it in release mode after the store benchmark (B5/B6) and merges both
//! into `docs/benchmarks.json` (this one's results under `sync`) and `docs/benchmarks.md`;
//! `cargo xtask test` runs `--smoke` (2,000 contacts, 2 s of B11, PouchDB included) to prove it
//! works, asserting nothing about time. It fails when a sync does not deliver exactly the
//! server's rows.
//!
//! Everything runs on loopback: `liaison_server::Server` in this process (SQLite, then
//! PostgreSQL on a throwaway cluster), a byte-counting TCP proxy in front of it, and each device
//! under test in its own process (this example run as `device DIR`), a fresh SQLCipher store
//! signed in with a pinned certificate, so its time and peak RSS are its own.
//!
//! * **B8** initial sync of N contacts and the desk (one queue, N/5 cases each with its reader's
//!   link and 25 messages: 500k messages for 100k contacts, as performance.md defines it) into
//!   an empty device: one `sync::sync` (snapshot, then incremental pull). Also contacts alone
//!   (with ~5 child rows each: emails, phones, identifiers). PouchDB replicates the same
//!   documents for both.
//! * **B16** TLS bytes both ways through the proxy during B8 of contacts alone, per contact.
//! * **B9** 50 contacts edited on the device and 50 others by another device (already on the
//!   server), then one timed `sync::sync`; median of several rounds after an untimed warm-up.
//! * **B10** an initial sync cut in the proxy after half of B8's bytes, then a second sync: rows
//!   stored before the cut, rows the resumed download sent that the device already had, wasted
//!   bytes, and the final row counts against the server's.
//! * **B11** 200 clients pulling, in a closed loop and at 2,000 req/s (90 % up to date, 10 %
//!   1,000 to 2,000 rows behind, each from its own cursor, pulling 1,000 rows), on SQLite and on
//!   PostgreSQL, against the same dataset as B8 (100k contacts and 500k messages in the full
//!   run, not the 1M contacts and 5M messages of performance.md).

#[path = "sync_bench/data.rs"]
mod data;
#[path = "sync_bench/device.rs"]
mod device;
#[path = "sync_bench/load.rs"]
mod load;
#[path = "sync_bench/net.rs"]
mod net;
#[path = "sync_bench/report.rs"]
mod report;

use data::Seeded;
use device::Device;
use liaison_server::storage::{PostgresStorage, SqliteStorage, Storage};
use net::{Proxy, RunningServer};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub struct Args {
    pub smoke: bool,
    pub contacts: u64,
    pub b9_rounds: usize,
    /// Initial syncs per B8 measure (each a new device); the median is reported.
    pub b8_runs: usize,
    pub b11_clients: usize,
    pub b11_seconds: f64,
    pub out: Option<PathBuf>,
    pub md: Option<PathBuf>,
    pub core_results: Option<PathBuf>,
    pub merge_only: bool,
    pub skip_pouchdb: bool,
    pub skip_postgres: bool,
    /// Phases to run (`b8,b9,b10,b8c,b11,pg,pouchdb`); empty: all.
    pub only: Vec<String>,
}

impl Args {
    fn wants(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }
}

fn args() -> anyhow::Result<Args> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| argv.iter().any(|a| a == f);
    let value = |f: &str| argv.iter().position(|a| a == f).and_then(|i| argv.get(i + 1)).cloned();
    let smoke = flag("--smoke");
    let num = |f: &str, default: f64| -> anyhow::Result<f64> {
        value(f)
            .map(|v| v.parse::<f64>().map_err(|e| anyhow::anyhow!("{f} {v}: {e}")))
            .transpose()
            .map(|v| v.unwrap_or(default))
    };
    Ok(Args {
        smoke,
        contacts: num("--contacts", if smoke { 2_000.0 } else { 100_000.0 })? as u64,
        b9_rounds: num("--b9-rounds", if smoke { 3.0 } else { 7.0 })? as usize,
        b8_runs: (num("--b8-runs", if smoke { 1.0 } else { 3.0 })? as usize).max(1),
        b11_clients: num("--b11-clients", 200.0)? as usize,
        b11_seconds: num("--b11-seconds", if smoke { 2.0 } else { 10.0 })?,
        out: value("--out").map(PathBuf::from),
        md: value("--md").map(PathBuf::from),
        core_results: value("--core-results").map(PathBuf::from),
        merge_only: flag("--merge-only"),
        skip_pouchdb: flag("--skip-pouchdb"),
        skip_postgres: flag("--skip-postgres"),
        only: value("--only").map(|v| v.split(',').map(|p| p.trim().to_string()).collect()).unwrap_or_default(),
    })
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("device") {
        let dir = argv.get(2).ok_or_else(|| anyhow::anyhow!("usage: sync_bench device DIR"))?;
        return device::run_child(std::path::Path::new(dir));
    }
    if argv.get(1).map(String::as_str) == Some("load") {
        return load::run_child(&argv[2..]);
    }
    let args = args()?;
    let sync = if args.merge_only {
        None
    } else {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        Some(runtime.block_on(bench(&args))?)
    };
    report::write(&args, sync)
}

fn ms(v: &Value) -> f64 {
    v["seconds"].as_f64().unwrap_or(0.0) * 1000.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

fn check(what: &str, ok: bool, detail: impl std::fmt::Display) -> anyhow::Result<()> {
    if !ok {
        anyhow::bail!("{what}: {detail}");
    }
    Ok(())
}

async fn sqlite_storage(dir: &tempfile::TempDir) -> anyhow::Result<Arc<dyn Storage>> {
    Ok(Arc::new(SqliteStorage::open(&dir.path().join("server.db"))?))
}

/// B8 (and B16) against one server: a new device signs in through a fresh proxy and syncs once.
async fn initial_sync(server: &RunningServer, expected_rows: u64) -> anyhow::Result<(Value, Device, Proxy)> {
    let proxy = Proxy::start(server.port).await?;
    let mut device = Device::spawn().await?;
    device.login(&proxy.url(), &server.fingerprint).await?;
    proxy.counters.reset();
    let server_cpu = device::cpu_seconds("self");
    let sync = device.sync().await?;
    let server_cpu = device::cpu_seconds("self") - server_cpu;
    let (up, down) = (proxy.counters.up(), proxy.counters.down());
    let counts = device.call(json!({ "cmd": "counts" })).await?;
    let rss = device.call(json!({ "cmd": "rss" })).await?;
    check(
        "B8: rows on the device",
        counts["rows"].as_u64() == Some(expected_rows),
        format!("{} rows, the server holds {expected_rows}", counts["rows"]),
    )?;
    let seconds = sync["seconds"].as_f64().unwrap_or(0.0);
    Ok((
        json!({
            "seconds": seconds,
            "rows": expected_rows,
            "rows_per_s": expected_rows as f64 / seconds,
            "bytes_up": up,
            "bytes_down": down,
            "device_peak_rss_mb": rss["vm_hwm_kb"].as_f64().unwrap_or(0.0) / 1024.0,
            "device_cpu_seconds": sync["cpu_seconds"],
            "server_process_cpu_seconds": server_cpu,
            "counts": counts,
        }),
        device,
        proxy,
    ))
}

/// B8 `runs` times, each with a new device; the run with the median time is reported (with
/// every run's time), and its device and proxy are kept for what follows.
async fn initial_syncs(
    server: &RunningServer,
    expected_rows: u64,
    runs: usize,
) -> anyhow::Result<(Value, Device, Proxy)> {
    let mut results = vec![];
    for _ in 0..runs {
        results.push(initial_sync(server, expected_rows).await?);
    }
    let times: Vec<f64> = results.iter().map(|(v, _, _)| f(&v["seconds"])).collect();
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
    let keep = order[(order.len() - 1) / 2];
    let mut kept = None;
    for (i, (v, d, p)) in results.into_iter().enumerate() {
        if i == keep {
            kept = Some((v, d, p));
        } else {
            d.quit().await?;
        }
    }
    let (mut v, d, p) = kept.ok_or_else(|| anyhow::anyhow!("no B8 run"))?;
    v["runs_seconds"] = json!(times);
    Ok((v, d, p))
}

async fn bench(args: &Args) -> anyhow::Result<Value> {
    let n = args.contacts;
    let label = if args.smoke { "smoke" } else { "full" };
    println!(
        "Liaison sync benchmark ({label} run): {n} generated contacts, loopback HTTPS, devices in their own processes"
    );
    let work = tempfile::tempdir()?;

    let t = Instant::now();
    let data = data::generate(n);
    let child_rows: u64 = data.iter().map(|c| c.children() as u64).sum();
    let desk = data::generate_desk(&data, usize::try_from(n / 5).unwrap_or(0).max(1), 25);
    let (cases, messages) = (desk.cases.len() as u64, desk.messages());
    // B8's dataset: the contacts (their fields) and the desk; contacts alone: with their children.
    let rows = n + desk.rows();
    let docs = work.path().join("pouchdb-docs.ndjson");
    let full_docs = data::write_pouchdb_docs(&data, false, Some(&desk), &docs)?;
    let contact_docs = work.path().join("pouchdb-contacts.ndjson");
    data::write_pouchdb_docs(&data, true, None, &contact_docs)?;
    println!(
        "  generated {n} contacts ({child_rows} child rows, {:.1} per contact), {cases} cases, {messages} messages in {:.1} s",
        child_rows as f64 / n as f64,
        t.elapsed().as_secs_f64()
    );
    let params = load::Params { clients: args.b11_clients, seconds: args.b11_seconds, behind: 1_000, rate: None };
    let mut out = json!({
        "run": label,
        "contacts": n,
        "cases": cases,
        "messages": messages,
        "child_rows": child_rows,
        "rows": rows,
        "machine": machine(),
        "setup": "liaison_server::Server in the benchmark process (loopback HTTPS, self-signed certificate pinned by the client); \
                  each device in its own process (fresh SQLCipher store); byte-counting TCP proxy in between; \
                  B11's clients in one more process",
        "seed": {},
        "b11": { "dataset": format!("{n} contacts, {cases} cases, {messages} messages (not the 1M contacts and 5M messages of performance.md)") },
    });

    // SQLite, the full dataset: B8, B9, B10, B11.
    if ["b8", "b9", "b10", "b11"].iter().any(|p| args.wants(p)) {
        let dir = tempfile::tempdir()?;
        let mut seeded = data::seed(sqlite_storage(&dir).await?, &data, false, Some(&desk)).await?;
        let total_rows = seeded.rows;
        println!(
            "  seeded SQLite storage: {total_rows} rows in {:.1} s ({:.0} rows/s, Storage::push in batches of 500)",
            seeded.seconds,
            total_rows as f64 / seeded.seconds
        );
        out["seed"]["sqlite"] = json!({ "full_rows": total_rows, "full_seconds": seeded.seconds, "process_cpu_seconds": seeded.process_cpu_seconds, "machine_cpu_seconds": seeded.machine_cpu_seconds });
        let server = RunningServer::start(seeded.storage.clone()).await?;
        let (mut b8_down, mut full_counts) = (None, None);
        if args.wants("b8") || args.wants("b9") {
            let (b8, mut d1, proxy) = initial_syncs(&server, total_rows, args.b8_runs).await?;
            println!(
                "  B8  initial sync of {total_rows} rows ({n} contacts, {messages} messages): {:.2} s ({:.0} rows/s; CPU: device {:.1} s, server process {:.1} s), device peak RSS {:.0} MB; {:.0} B/row",
                f(&b8["seconds"]),
                f(&b8["rows_per_s"]),
                f(&b8["device_cpu_seconds"]),
                f(&b8["server_process_cpu_seconds"]),
                f(&b8["device_peak_rss_mb"]),
                (f(&b8["bytes_up"]) + f(&b8["bytes_down"])) / total_rows as f64
            );
            b8_down = b8["bytes_down"].as_u64();
            full_counts = Some(b8["counts"].clone());
            out["b8"] = b8;
            if args.wants("b9") {
                out["b9"] = incremental(args, &mut seeded, &data, &mut d1, &proxy).await?;
            }
            d1.quit().await?;
        }
        if args.wants("b10") {
            // Needs B8's byte count and row counts: measure them if B8 did not run.
            let (b8_down, full_counts) = match (b8_down, full_counts) {
                (Some(d), Some(c)) => (d, c),
                _ => {
                    let (b8, d, _proxy) = initial_sync(&server, total_rows).await?;
                    d.quit().await?;
                    (b8["bytes_down"].as_u64().unwrap_or(0), b8["counts"].clone())
                }
            };
            let proxy = Proxy::start(server.port).await?;
            let b10 = resume(&seeded, &server, &proxy, b8_down, total_rows, &full_counts).await?;
            println!(
                "  B10 cut at {:.0} % ({} of {total_rows} rows stored): the resumed sync re-sent {} stored rows, {:.0} KB downloaded twice (≈ {:.0} rows); counts equal the server's",
                100.0 * f(&b10["bytes_down_before_cut"]) / b8_down as f64,
                b10["rows_stored_at_cut"],
                b10["stored_rows_sent_again"],
                f(&b10["wasted_bytes"]) / 1000.0,
                f(&b10["wasted_rows_estimate"]),
            );
            out["b10"] = b10;
        }
        if args.wants("b11") {
            out["b11"]["sqlite"] = pulls(&seeded, &server, &params).await?;
        }
    }

    // B8 and B16, contacts alone (with their children).
    if args.wants("b8c") {
        let dir = tempfile::tempdir()?;
        let contacts_only = data::seed(sqlite_storage(&dir).await?, &data, true, None).await?;
        out["seed"]["sqlite_contacts_only"] = json!({ "rows": contacts_only.rows, "seconds": contacts_only.seconds });
        let server = RunningServer::start(contacts_only.storage.clone()).await?;
        let (b8c, d3, _proxy) = initial_syncs(&server, contacts_only.rows, args.b8_runs).await?;
        d3.quit().await?;
        println!(
            "  B8  contacts alone ({n}, {} rows with their children): {:.2} s (CPU: device {:.1} s, server process {:.1} s), peak RSS {:.0} MB; B16 {:.0} B/contact",
            contacts_only.rows,
            f(&b8c["seconds"]),
            f(&b8c["device_cpu_seconds"]),
            f(&b8c["server_process_cpu_seconds"]),
            f(&b8c["device_peak_rss_mb"]),
            (f(&b8c["bytes_up"]) + f(&b8c["bytes_down"])) / n as f64
        );
        out["b8_contacts_only"] = b8c;
    }

    // B11 on PostgreSQL.
    if args.wants("pg") && !args.skip_postgres {
        let url = liaison_server::testing::postgres::try_fresh_database_url().await.map_err(|e| anyhow::anyhow!(e))?;
        let storage: Arc<dyn Storage> = Arc::new(PostgresStorage::connect(&url).await?);
        let mut seeded = data::seed(storage, &data, false, Some(&desk)).await?;
        println!(
            "  seeded PostgreSQL storage: {} rows in {:.1} s (CPU: this process {:.1} s, whole machine {:.1} s)",
            seeded.rows, seeded.seconds, seeded.process_cpu_seconds, seeded.machine_cpu_seconds
        );
        out["seed"]["postgres"] = json!({ "full_rows": seeded.rows, "full_seconds": seeded.seconds, "process_cpu_seconds": seeded.process_cpu_seconds, "machine_cpu_seconds": seeded.machine_cpu_seconds });
        // The same newest rows as on SQLite, where B9's edits came last: B11's clients that are
        // behind then receive the same kind of rows on both backends.
        if args.wants("b9") {
            for r in 0..args.b9_rounds {
                let (up, down) = data::b9_indices(r);
                if down.iter().any(|&i| i >= data.len()) {
                    break;
                }
                data::remote_edits(&mut seeded, &data, &down, &format!("B9 round {r}: edited on another device"))
                    .await?;
                data::remote_edits(&mut seeded, &data, &up, &format!("B9 round {r}: edited on this device")).await?;
            }
        }
        let server = RunningServer::start(seeded.storage.clone()).await?;
        out["b11"]["postgres"] = pulls(&seeded, &server, &params).await?;
    }

    // PouchDB, same documents: the contacts alone (B8, B9, B16), then everything (B8).
    if args.wants("pouchdb") && !args.skip_pouchdb {
        let pouchdb = run_pouchdb(&contact_docs, args.b9_rounds, args.b8_runs).await?;
        check("PouchDB: contacts replicated", pouchdb["b8"]["local_doc_count"].as_u64() == Some(n), &pouchdb["b8"])?;
        out["pouchdb"] = pouchdb;
        let full = run_pouchdb(&docs, 0, 1).await?;
        check(
            "PouchDB: every document replicated",
            full["b8"]["local_doc_count"].as_u64() == Some(full_docs),
            &full["b8"],
        )?;
        out["pouchdb_full"] = full;
    }
    Ok(out)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// B9 on the device that did B8: an untimed warm-up sync, then rounds of 50 edits made on the
/// device and 50 made by another device, each followed by one timed sync.
async fn incremental(
    args: &Args,
    seeded: &mut Seeded,
    data: &[data::Contact],
    device: &mut Device,
    proxy: &Proxy,
) -> anyhow::Result<Value> {
    let warmup = device.sync().await?;
    let mut rounds = vec![];
    for r in 0..args.b9_rounds {
        let (up, down) = data::b9_indices(r);
        if down.iter().any(|&i| i >= data.len()) {
            break;
        }
        data::remote_edits(seeded, data, &down, &format!("B9 round {r}: edited on another device")).await?;
        let ids: Vec<String> = up.iter().map(|&i| data[i].id.to_string()).collect();
        device
            .call(json!({ "cmd": "edit", "ids": ids, "notes": format!("B9 round {r}: edited on this device") }))
            .await?;
        proxy.counters.reset();
        let s = device.sync().await?;
        check("B9: changes pushed", s["pushed"].as_u64() == Some(50), &s)?;
        check("B9: changes pulled", s["pulled"].as_u64().unwrap_or(0) >= 50, &s)?;
        rounds.push(json!({ "ms": ms(&s), "device_cpu_ms": f(&s["cpu_seconds"]) * 1000.0, "pushed": s["pushed"], "pulled": s["pulled"], "bytes": proxy.counters.up() + proxy.counters.down() }));
    }
    let median_ms = median(rounds.iter().map(|r| f(&r["ms"])).collect());
    println!(
        "  B9  50 up + 50 down, one sync: median {median_ms:.1} ms over {} rounds (warm-up {:.1} ms)",
        rounds.len(),
        ms(&warmup)
    );
    Ok(json!({ "warmup_ms": ms(&warmup), "rounds": rounds, "median_ms": median_ms }))
}

async fn resume(
    seeded: &Seeded,
    server: &RunningServer,
    proxy: &Proxy,
    b8_down: u64,
    total_rows: u64,
    full_counts: &Value,
) -> anyhow::Result<Value> {
    let mut d2 = Device::spawn().await?;
    d2.login(&proxy.url(), &server.fingerprint).await?;
    proxy.counters.reset();
    proxy.cut_after(Some(b8_down / 2));
    let first = d2.call(json!({ "cmd": "sync" })).await?;
    proxy.cut_after(None);
    let down_1 = proxy.counters.down();
    check("B10: the first sync was cut", first["ok"] == json!(false), &first)?;
    let at_cut = d2.call(json!({ "cmd": "counts" })).await?;
    let (at, after) = (at_cut["snapshot_at"].as_u64().unwrap_or(0), at_cut["snapshot_after"].as_u64().unwrap_or(0));
    let at_cut = d2.call(json!({ "cmd": "counts", "after": after })).await?;
    let stored = at_cut["rows"].as_u64().unwrap_or(0);
    // What the resumed download will send: the same request, made here.
    let token = load::tokens(&seeded.storage, &seeded.user, 1).await?.remove(0);
    let client = net::pinned_client(&server.fingerprint)?;
    let body = net::liaison_request(&client, &format!("{}/v1/snapshot?at={at}&after={after}", server.url()), &token)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let resumed_rows = body.lines().filter(|l| l.starts_with("{\"row\"")).count() as u64;
    let sent_again = at_cut["rows_after"].as_u64().unwrap_or(0);

    proxy.counters.reset();
    let second = d2.sync().await?;
    let down_2 = proxy.counters.down();
    let end = d2.call(json!({ "cmd": "counts" })).await?;
    // The fixed cost of a sync's connection (TLS handshake, headers, an empty pull), part of the
    // resumed sync's bytes that is not re-downloaded data.
    proxy.counters.reset();
    d2.sync().await?;
    let connection_bytes = proxy.counters.down();
    d2.quit().await?;
    for table in ["contact", "contact_email", "contact_phone", "contact_identifier"] {
        check(
            "B10: rows after the resumed sync",
            end[table] == full_counts[table],
            format!("{table}: {} on the device, {} expected", end[table], full_counts[table]),
        )?;
    }
    check(
        "B10: no duplicate rows",
        end["row_seqs"] == end["distinct_row_seqs"] && end["rows"].as_u64() == Some(total_rows),
        &end,
    )?;
    check(
        "B10: the resumed download",
        resumed_rows + stored == total_rows,
        format!("{resumed_rows} rows after the last stored row + {stored} stored ≠ {total_rows}"),
    )?;
    let wasted = (down_1 + down_2).saturating_sub(b8_down);
    Ok(json!({
        "b8_bytes_down": b8_down,
        "cut_after_bytes": b8_down / 2,
        "first_sync_error": first["code"],
        "first_sync_message": first["message"],
        "bytes_down_before_cut": down_1,
        "rows_stored_at_cut": stored,
        "stored_fraction": stored as f64 / total_rows as f64,
        "snapshot_at": at,
        "resumed_after_seq": after,
        "resumed_download_rows": resumed_rows,
        "stored_rows_sent_again": sent_again,
        "resumed_sync_seconds": second["seconds"],
        "bytes_down_resumed": down_2,
        "wasted_bytes": wasted,
        "empty_sync_bytes_down": connection_bytes,
        "wasted_rows_estimate": wasted.saturating_sub(connection_bytes) as f64 / (b8_down as f64 / total_rows as f64),
        "rows_after": end["rows"],
        "duplicates": end["row_seqs"].as_u64().unwrap_or(0) - end["distinct_row_seqs"].as_u64().unwrap_or(0),
    }))
}

/// B11 against one server: the capacity (closed loop), then the latency at the target rate of
/// 2,000 requests per second (open loop).
async fn pulls(seeded: &Seeded, server: &RunningServer, params: &load::Params) -> anyhow::Result<Value> {
    let tokens = load::tokens(&seeded.storage, &seeded.user, params.clients).await?;
    let newest = seeded.storage.current_seq().await?;
    let mut out = serde_json::Map::new();
    for (key, rate) in [("capacity", None), ("at_target_rate", Some(B11_TARGET_RATE))] {
        let params = load::Params { rate, ..params.clone() };
        println!(
            "  B11 {} clients pulling for {:.0} s, {}…",
            params.clients,
            params.seconds,
            rate.map_or("closed loop".into(), |r| format!("open loop at {r:.0} req/s"))
        );
        let result = load::spawn(&server.url(), &server.fingerprint, &tokens, newest, &params).await?;
        println!(
            "      {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms ({} errors); server process {:.2} ms CPU per request, other processes {:.1} s CPU",
            f(&result["requests_per_s"]),
            f(&result["p50_ms"]),
            f(&result["p99_ms"]),
            result["errors"],
            f(&result["server_cpu_ms_per_request"]),
            f(&result["other_cpu_seconds"]),
        );
        out.insert(key.into(), result);
    }
    Ok(Value::Object(out))
}

/// B11's target throughput (performance.md), offered in the open-loop run.
const B11_TARGET_RATE: f64 = 2_000.0;

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string())
    });
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "os": std::env::consts::OS,
    })
}

/// `node bench/pouchdb/bench.js` on the same documents.
async fn run_pouchdb(docs: &std::path::Path, rounds: usize, runs: usize) -> anyhow::Result<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/pouchdb");
    if !dir.join("node_modules/pouchdb-server").is_dir() {
        anyhow::bail!(
            "bench/pouchdb has no node_modules: run `npm ci --ignore-scripts` there (cargo xtask bench does), or pass --skip-pouchdb"
        );
    }
    let out = docs.with_extension("result.json");
    println!("  PouchDB: loading the same documents into pouchdb-server and replicating them (pouchdb-node)…");
    let status = tokio::process::Command::new("node")
        .arg(dir.join("bench.js"))
        .arg("--docs")
        .arg(docs)
        .arg("--out")
        .arg(&out)
        .arg("--b9-rounds")
        .arg(rounds.to_string())
        .arg("--b8-runs")
        .arg(runs.to_string())
        .current_dir(&dir)
        .status()
        .await?;
    if !status.success() {
        anyhow::bail!("the PouchDB benchmark failed ({status})");
    }
    Ok(serde_json::from_str(&std::fs::read_to_string(&out)?)?)
}
