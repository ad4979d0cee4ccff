//! A device under test in its own process (this example run with `device DIR`), so its time and
//! peak memory are its own and not the in-process server's: a fresh encrypted store
//! (SQLCipher, random key) driven by JSON commands on stdin, one answer per line on stdout.
//!
//! Commands: `login`, `sync` (timed), `edit` (set `notes` of contacts, one edit each),
//! `counts` (rows per table and the snapshot progress), `rss` (`VmHWM`, `VmRSS`), `quit`.

use liaison_core::contacts::{self, ContactPatch};
use liaison_core::store::{Store, meta};
use liaison_core::sync;
use liaison_core::vault::DataKey;
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const TABLES: [&str; 8] = [
    "contact",
    "contact_email",
    "contact_phone",
    "contact_identifier",
    "queue",
    "\"case\"",
    "case_contact",
    "case_message",
];

/// The child's main loop.
pub fn run_child(dir: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut store = Store::create(&dir.join("liaison.db"), &DataKey::generate())?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line?;
        let request: Value = serde_json::from_str(&line)?;
        let answer = match handle(&runtime, &mut store, &request) {
            Ok(Some(v)) => v,
            Ok(None) => break,
            Err(e) => json!({ "error": format!("{e:#}") }),
        };
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    Ok(())
}

fn text(request: &Value, key: &str) -> anyhow::Result<String> {
    request[key].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("missing {key}"))
}

fn count(store: &Store, sql: &str) -> anyhow::Result<u64> {
    Ok(store.conn().query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
}

/// CPU time (user + system) of a process (`self` or a pid), in seconds.
pub fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line; USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time spent by the whole machine (all cores, every process), in seconds.
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle) / 100.0
}

pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn handle(runtime: &tokio::runtime::Runtime, store: &mut Store, request: &Value) -> anyhow::Result<Option<Value>> {
    Ok(Some(match request["cmd"].as_str().unwrap_or("") {
        "login" => {
            runtime.block_on(sync::login(
                store,
                &text(request, "url")?,
                &text(request, "user")?,
                &text(request, "password")?,
                &text(request, "fingerprint")?,
            ))?;
            json!({ "ok": true })
        }
        "sync" => {
            let (start, cpu) = (Instant::now(), cpu_seconds("self"));
            let result = runtime.block_on(sync::sync(store));
            let (seconds, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds("self") - cpu);
            match result {
                Ok(report) => {
                    json!({ "ok": true, "seconds": seconds, "cpu_seconds": cpu, "pushed": report.pushed, "rejected": report.rejected, "pulled": report.pulled })
                }
                Err(e) => {
                    json!({ "ok": false, "seconds": seconds, "cpu_seconds": cpu, "code": e.code, "message": e.message })
                }
            }
        }
        "edit" => {
            let ids = request["ids"].as_array().ok_or_else(|| anyhow::anyhow!("missing ids"))?;
            let notes = text(request, "notes")?;
            for id in ids {
                let id = uuid::Uuid::parse_str(id.as_str().unwrap_or_default())?;
                contacts::update(store, id, ContactPatch { notes: Some(Some(notes.clone())), ..Default::default() })?;
            }
            json!({ "ok": true })
        }
        "counts" => {
            let mut out = serde_json::Map::new();
            let mut total = 0;
            for table in TABLES {
                let n = count(store, &format!("SELECT count(*) FROM {table}"))?;
                total += n;
                out.insert(table.trim_matches('"').into(), json!(n));
            }
            out.insert("rows".into(), json!(total));
            for key in ["snapshot_at", "snapshot_after", "pull_cursor"] {
                out.insert(key.into(), json!(meta::get(store.conn(), key)?.and_then(|v| v.parse::<u64>().ok())));
            }
            let after = request["after"].as_u64().unwrap_or(u64::MAX >> 1);
            out.insert(
                "rows_after".into(),
                json!(count(store, &format!("SELECT count(*) FROM row_seq WHERE seq > {after}"))?),
            );
            out.insert("row_seqs".into(), json!(count(store, "SELECT count(*) FROM row_seq")?));
            let distinct = count(store, "SELECT count(*) FROM (SELECT DISTINCT entity, row_id FROM row_seq)")?;
            out.insert("distinct_row_seqs".into(), json!(distinct));
            Value::Object(out)
        }
        "rss" => json!({ "vm_hwm_kb": status_kb("VmHWM:"), "vm_rss_kb": status_kb("VmRSS:") }),
        "quit" => return Ok(None),
        other => anyhow::bail!("unknown command {other:?}"),
    }))
}

/// The parent's handle on a device process.
pub struct Device {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: BufReader<tokio::process::ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Device {
    pub async fn spawn() -> anyhow::Result<Device> {
        let dir = tempfile::tempdir()?;
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("device")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("device stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("device stdout"))?);
        Ok(Device { child, stdin, stdout, _dir: dir })
    }

    pub async fn call(&mut self, request: Value) -> anyhow::Result<Value> {
        self.stdin.write_all(format!("{request}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line).await? == 0 {
            anyhow::bail!("the device process exited");
        }
        let answer: Value = serde_json::from_str(&line)?;
        if let Some(e) = answer.get("error") {
            anyhow::bail!("device: {e}");
        }
        Ok(answer)
    }

    pub async fn login(&mut self, url: &str, fingerprint: &str) -> anyhow::Result<()> {
        self.call(json!({ "cmd": "login", "url": url, "user": crate::data::USER, "password": crate::data::PASSWORD, "fingerprint": fingerprint }))
            .await?;
        Ok(())
    }

    /// One timed sync; fails when the sync failed.
    pub async fn sync(&mut self) -> anyhow::Result<Value> {
        let answer = self.call(json!({ "cmd": "sync" })).await?;
        if answer["ok"] != json!(true) {
            anyhow::bail!("sync failed: {answer}");
        }
        Ok(answer)
    }

    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.stdin.write_all(b"{\"cmd\":\"quit\"}\n").await?;
        self.stdin.flush().await?;
        self.child.wait().await?;
        Ok(())
    }
}
