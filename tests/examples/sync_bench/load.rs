//! B11: many clients pulling at once. Each client is its own HTTP/1.1 connection over TLS
//! (pinned certificate) with its own device token, and pulls in a closed loop (next request as
//! soon as the answer is read). 90 % of them are up to date (`since` = the newest sequence: an
//! empty answer); 10 % are 1,000 rows or more behind (`limit=1000`; each from its own cursor,
//! spread over the 1,000 rows before newest − 1,000, so they do not all read the same page). They ask
//! for compressed answers like the Liaison client (`Accept-Encoding: gzip, zstd`) but do not
//! decompress them. The clients run in their own process (this example run as `load`), so
//! the CPU time of the server's process is the server's alone.

use crate::net::{liaison_request, pinned_client};
use liaison_server::storage::{NewDevice, Storage, User};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Params {
    pub clients: usize,
    pub seconds: f64,
    pub behind: u64,
    /// `None`: closed loop (each client sends its next request as soon as it has the answer:
    /// the server's capacity). `Some(r)`: open loop at `r` requests per second in all, each
    /// client on a fixed schedule, latency counted from the scheduled time (so a slow answer
    /// also counts against the requests queued behind it).
    pub rate: Option<f64>,
}

/// Register `n` devices of `user` and return their bearer tokens.
pub async fn tokens(storage: &Arc<dyn Storage>, user: &User, n: usize) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let token = liaison_server::auth::new_token();
        storage
            .register_device(
                NewDevice {
                    id: Uuid::now_v7(),
                    user_id: user.id,
                    name: format!("load-{i}"),
                    token_hash: liaison_server::auth::token_hash(&token),
                },
                chrono::Utc::now(),
            )
            .await?;
        out.push(token);
    }
    Ok(out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

pub async fn run(
    base: &str,
    fingerprint: &str,
    tokens: &[String],
    newest: u64,
    params: &Params,
) -> anyhow::Result<Value> {
    let behind_clients = (params.clients / 10).max(1);
    let start_gate = Arc::new(tokio::sync::Barrier::new(params.clients + 1));
    let mut tasks = Vec::with_capacity(params.clients);
    for (i, token) in tokens.iter().take(params.clients).enumerate() {
        let client = pinned_client(fingerprint)?;
        let behind = i < behind_clients;
        let url = if behind {
            let spread = params.behind * i as u64 / behind_clients as u64;
            format!("{base}/v1/pull?since={}&limit=1000", newest.saturating_sub(params.behind + spread))
        } else {
            format!("{base}/v1/pull?since={newest}&limit=1000")
        };
        let token = token.clone();
        let gate = start_gate.clone();
        let seconds = params.seconds;
        let (clients, rate) = (params.clients, params.rate);
        tasks.push(tokio::spawn(async move {
            let request = || liaison_request(&client, &url, &token).header("accept-encoding", "gzip, zstd");
            // One request first, so the TLS handshake is done before the clock starts.
            let warm = request().send().await.and_then(|r| r.error_for_status());
            let warm_ok = match warm {
                Ok(r) => r.bytes().await.is_ok(),
                Err(_) => false,
            };
            gate.wait().await;
            let begin = Instant::now();
            let deadline = begin + Duration::from_secs_f64(seconds);
            // Open loop: this client's slots, spread evenly over the interval across clients.
            let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
            let mut next = begin + interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / clients as f64));
            let (mut latencies, mut errors, mut bytes) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < deadline {
                let t = match interval {
                    Some(iv) => {
                        if next >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(next.into()).await;
                        let scheduled = next;
                        next += iv;
                        scheduled
                    }
                    None => Instant::now(),
                };
                match request().send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) => {
                            bytes += b.len() as u64;
                            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (behind, warm_ok, latencies, errors, bytes)
        }));
    }
    start_gate.wait().await;
    let started = Instant::now();
    let mut all = Vec::new();
    let mut by_class: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let (mut errors, mut bytes, mut warm_failures) = (0u64, [0u64; 2], 0u64);
    for task in tasks {
        let (behind, warm_ok, latencies, e, b) = task.await?;
        errors += e;
        bytes[usize::from(behind)] += b;
        warm_failures += u64::from(!warm_ok);
        all.extend_from_slice(&latencies);
        by_class[usize::from(behind)].extend(latencies);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    for v in &mut by_class {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    let class = |v: &Vec<f64>, b: u64| json!({ "requests": v.len(), "p50_ms": percentile(v, 0.5), "p99_ms": percentile(v, 0.99), "avg_response_bytes": if v.is_empty() { 0 } else { b / v.len() as u64 } });
    Ok(json!({
        "mode": match params.rate { Some(r) => format!("open loop at {r:.0} req/s"), None => "closed loop".to_string() },
        "offered_requests_per_s": params.rate,
        "clients": params.clients,
        "behind_clients": behind_clients,
        "behind_rows": params.behind,
        "seconds": elapsed,
        "requests": all.len(),
        "errors": errors,
        "warmup_failures": warm_failures,
        "requests_per_s": all.len() as f64 / elapsed,
        "p50_ms": percentile(&all, 0.5),
        "p99_ms": percentile(&all, 0.99),
        "max_ms": all.last().copied().unwrap_or(0.0),
        "up_to_date": class(&by_class[0], bytes[0]),
        "behind": class(&by_class[1], bytes[1]),
    }))
}

/// The load generator's process: `load URL FINGERPRINT NEWEST PARAMS_JSON TOKENS_FILE`; prints
/// the result as one JSON line.
pub fn run_child(argv: &[String]) -> anyhow::Result<()> {
    let [url, fingerprint, newest, params, tokens] = argv else {
        anyhow::bail!("usage: sync_bench load URL FINGERPRINT NEWEST PARAMS_JSON TOKENS_FILE");
    };
    let params: Params = serde_json::from_str(params)?;
    let tokens: Vec<String> = serde_json::from_str(&std::fs::read_to_string(tokens)?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let cpu = crate::device::cpu_seconds("self");
    let mut result = runtime.block_on(run(url, fingerprint, &tokens, newest.parse()?, &params))?;
    result["load_generator_cpu_seconds"] = json!(crate::device::cpu_seconds("self") - cpu);
    println!("{result}");
    Ok(())
}

/// Run the load generator in its own process against `base`, and measure the CPU time the
/// server's process (this one) and the whole machine spent meanwhile.
pub async fn spawn(
    base: &str,
    fingerprint: &str,
    tokens: &[String],
    newest: u64,
    params: &Params,
) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("tokens.json");
    std::fs::write(&file, serde_json::to_string(tokens)?)?;
    let (server_cpu, machine_cpu) = (crate::device::cpu_seconds("self"), crate::device::machine_busy_seconds());
    let output = tokio::process::Command::new(std::env::current_exe()?)
        .arg("load")
        .arg(base)
        .arg(fingerprint)
        .arg(newest.to_string())
        .arg(serde_json::to_string(params)?)
        .arg(&file)
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await?;
    if !output.status.success() {
        anyhow::bail!("the load generator failed ({})", output.status);
    }
    let server_cpu = crate::device::cpu_seconds("self") - server_cpu;
    let machine_cpu = crate::device::machine_busy_seconds() - machine_cpu;
    let mut result: Value = serde_json::from_slice(&output.stdout)?;
    let requests = result["requests"].as_f64().unwrap_or(0.0).max(1.0);
    let load_cpu = result["load_generator_cpu_seconds"].as_f64().unwrap_or(0.0);
    result["server_process_cpu_seconds"] = json!(server_cpu);
    result["server_cpu_ms_per_request"] = json!(server_cpu * 1000.0 / requests);
    result["machine_cpu_seconds"] = json!(machine_cpu);
    // PostgreSQL's own processes, and anything else running.
    result["other_cpu_seconds"] = json!((machine_cpu - server_cpu - load_cpu).max(0.0));
    Ok(result)
}
