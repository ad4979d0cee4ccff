//! A throwaway PostgreSQL cluster for the storage tests, and the tests only PostgreSQL needs.
//!
//! The cluster is started once per test binary (the first test that needs it) in a fresh temp
//! directory: `initdb --auth=trust`, then `pg_ctl start` on a free loopback port with its socket
//! in the same directory and `fsync=off`. Each test gets its own database (`test_<n>`).
//! When running as root, `initdb` and `pg_ctl` run as the `postgres` user (`runuser`), since the
//! server refuses to run as root.
//!
//! Stopping: a detached watchdog shell started with the cluster waits for this test process to
//! exit (however it exits, even on a panic or abort), then runs `pg_ctl -m immediate stop` and
//! deletes the directory. It ignores Ctrl-C so an interrupted run still cleans up.
//!
//! Missing binaries are a test **failure**, never a skip: install `postgresql`
//! (`cargo xtask test` installs it).

use crate::support::{batch, change};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::wire::Role;
use liaison_server::storage::{NewDevice, NewUser, PostgresStorage, Storage, StorageError};
use serde_json::json;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

struct Cluster {
    port: u16,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// Where `initdb` and `pg_ctl` live: the newest `/usr/lib/postgresql/*/bin`, else `pg_config --bindir`.
fn bindir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    bin.join("initdb").is_file().then_some(bin)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The command prefix that runs a PostgreSQL binary as the right user.
fn pg_command(bin: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin);
        cmd
    } else {
        Command::new(bin)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn start_cluster() -> Result<Cluster, String> {
    let bin = bindir().ok_or_else(|| {
        "PostgreSQL server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin nor in \
         `pg_config --bindir`: install the `postgresql` package (apt-get install postgresql; \
         `cargo xtask test` installs it). The PostgreSQL storage tests never skip."
            .to_owned()
    })?;
    let as_postgres = is_root();
    // As root the directory must be reachable by the postgres user: keep it under /tmp.
    let base = if as_postgres { PathBuf::from("/tmp") } else { std::env::temp_dir() };
    let dir = tempfile::Builder::new()
        .prefix("liaison-pg-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a temp dir: {e}"))?
        .keep();
    if as_postgres {
        let mut chown = Command::new("chown");
        chown.arg("postgres:").arg(&dir);
        run(chown, "chown postgres (is there a `postgres` user? install the `postgresql` package)")?;
    }
    let data = dir.join("data");
    let mut initdb = pg_command(&bin.join("initdb"), as_postgres);
    initdb.arg("-D").arg(&data).args(["--auth=trust", "-U", "postgres", "--encoding=UTF8", "--locale=C"]);
    run(initdb, "initdb")?;

    // The watchdog: once this process is gone, stop the cluster and remove its directory.
    let mut watchdog = Command::new("sh");
    watchdog
        .arg("-c")
        .arg(
            r#"trap '' INT TERM HUP; pid=$1; data=$2; dir=$3; shift 3
               while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
               "$@" -D "$data" -m immediate stop >/dev/null 2>&1
               rm -rf "$dir""#,
        )
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(&data)
        .arg(&dir);
    if as_postgres {
        watchdog.args(["runuser", "-u", "postgres", "--"]);
    }
    watchdog.arg(bin.join("pg_ctl")).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    watchdog.spawn().map_err(|e| format!("cannot start the cleanup watchdog: {e}"))?;

    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        let mut pg_ctl = pg_command(&bin.join("pg_ctl"), as_postgres);
        pg_ctl
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .arg("-o")
            .arg(format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.display()))
            .args(["-w", "start"])
            .stdout(Stdio::null());
        match run(pg_ctl, "pg_ctl start") {
            Ok(()) => return Ok(Cluster { port }),
            Err(e) => {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                last = format!("{e}\nserver.log:\n{log}");
            }
        }
    }
    Err(last)
}

/// The URL of a fresh, empty database on the shared test cluster.
pub async fn fresh_database_url() -> String {
    let cluster = match CLUSTER.get_or_init(start_cluster) {
        Ok(c) => c,
        Err(e) => panic!("cannot start the throwaway PostgreSQL for the storage tests: {e}"),
    };
    let name = format!("test_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let admin = format!("postgresql://postgres@127.0.0.1:{}/postgres", cluster.port);
    let (client, conn) =
        tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.expect("connect to the test cluster");
    let task = tokio::spawn(conn);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
    drop(client);
    let _ = task.await;
    format!("postgresql://postgres@127.0.0.1:{}/{name}", cluster.port)
}

/// A [`PostgresStorage`] on a fresh database (the contract tests' constructor).
pub async fn storage() -> (Arc<dyn Storage>, ()) {
    let url = fresh_database_url().await;
    let storage = PostgresStorage::connect(&url).await.expect("connect PostgresStorage to the test database");
    (Arc::new(storage), ())
}

#[tokio::test]
async fn reconnecting_keeps_data_and_does_not_rerun_migrations() {
    let url = fresh_database_url().await;
    let first = PostgresStorage::connect(&url).await.expect("first connect");
    first
        .create_user(NewUser { name: "ana".into(), role: Role::Admin, password_hash: "h".into() })
        .await
        .expect("create");
    drop(first);
    let second = PostgresStorage::connect(&url).await.expect("second connect must not re-run migrations");
    assert_eq!(second.list_users().await.expect("list").len(), 1, "data survives a reconnect");

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.execute("UPDATE schema_version SET version = 99", &[]).await.expect("bump");
    let err = PostgresStorage::connect(&url).await.expect_err("a newer schema is refused");
    assert!(matches!(err, StorageError::TooNew { found: 99, .. }), "got {err:?}");
}

#[tokio::test]
async fn bad_urls_and_unreachable_servers_give_clear_errors_without_the_password() {
    let err = PostgresStorage::connect("sqlite:///tmp/x.db").await.expect_err("not postgres");
    assert!(matches!(err, StorageError::Invalid(_)) && err.to_string().contains("postgres://"), "got {err}");

    let port = free_port().expect("port");
    let err = PostgresStorage::connect(&format!("postgres://ana:s3cret-pw@127.0.0.1:{port}/liaison"))
        .await
        .expect_err("nothing listens there");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "names host and port: {text}");
    assert!(text.contains("check that the server is running"), "says what to check: {text}");
    assert!(!text.contains("s3cret-pw"), "never shows the password: {text}");
}

/// The PostgreSQL sequence caveat: concurrent pushes must never let a reader see a seq committed
/// before a smaller one that appears later (its cursor would skip it forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_never_let_a_pulling_reader_skip_a_row() {
    const WRITERS: usize = 6;
    const BATCHES: usize = 20;
    const PER_BATCH: usize = 3;
    let url = fresh_database_url().await;
    let s: Arc<dyn Storage> = Arc::new(PostgresStorage::connect(&url).await.expect("connect"));
    let user = s
        .create_user(NewUser { name: "ana".into(), role: Role::Staff, password_hash: "h".into() })
        .await
        .expect("user");

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (s, user) = (Arc::clone(&s), user.clone());
        writers.push(tokio::spawn(async move {
            let device = Uuid::now_v7();
            s.register_device(
                NewDevice { id: device, user_id: user.id, name: format!("d{w}"), token_hash: format!("h{w}") },
                chrono::Utc::now(),
            )
            .await
            .expect("device");
            let mut ids = Vec::new();
            for _ in 0..BATCHES {
                let changes: Vec<_> = (0..PER_BATCH)
                    .map(|i| {
                        let id = Uuid::now_v7();
                        ids.push(id);
                        change(id, &[("display_name", json!(format!("w{w} {i}")), Hlc::new(1, 0))])
                    })
                    .collect();
                s.push(&user, device, &batch(changes), chrono::Utc::now()).await.expect("push");
            }
            ids
        }));
    }

    let reader = {
        let (s, user) = (Arc::clone(&s), user.clone());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let task = tokio::spawn(async move {
            let (mut cursor, mut seen, mut pulls_during_writes) = (0u64, Vec::new(), 0usize);
            loop {
                let finished = flag.load(Ordering::SeqCst);
                let page = s.pull(&user, cursor, 7).await.expect("pull");
                assert!(page.rows.iter().all(|r| r.seq > cursor), "every row is after the cursor");
                assert!(page.rows.windows(2).all(|w| w[0].seq < w[1].seq), "seqs strictly increase in a pull");
                seen.extend(page.rows.iter().map(|r| (r.seq, r.row_id)));
                cursor = page.next_cursor;
                if !finished {
                    pulls_during_writes += 1;
                } else if !page.has_more {
                    return (seen, pulls_during_writes);
                }
                tokio::task::yield_now().await;
            }
        });
        (task, done)
    };

    let mut pushed = HashSet::new();
    for w in writers {
        pushed.extend(w.await.expect("writer"));
    }
    reader.1.store(true, Ordering::SeqCst);
    let (seen, pulls_during_writes) = reader.0.await.expect("reader");

    let total = WRITERS * BATCHES * PER_BATCH;
    assert!(pulls_during_writes > 1, "the reader pulled while pushes were in flight");
    assert_eq!(seen.len(), total, "every row was seen exactly once by the cursor");
    assert_eq!(seen.iter().map(|(_, id)| *id).collect::<HashSet<_>>(), pushed, "no row was skipped");
    let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>(), "seqs are gap-free and seen in order");
}
