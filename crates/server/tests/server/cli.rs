//! The `liaison-server` binary: what an administrator types, and what tests parse.

use crate::server::https_get;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_liaison-server"));
    cmd.env_remove("LIAISON_PASSWORD")
        .env_remove("LIAISON_SERVER_DATA_DIR")
        .env_remove("LIAISON_SERVER_DATABASE")
        .stdin(Stdio::null());
    cmd
}

fn run(args: &[&str], data_dir: &Path, password: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.args(args).arg("--data-dir").arg(data_dir);
    if let Some(p) = password {
        cmd.env("LIAISON_PASSWORD", p);
    }
    cmd.output().expect("run liaison-server")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Kills the child if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `serve` and read the two announced lines.
fn start(data_dir: &Path) -> (Running, SocketAddr, String) {
    start_with(data_dir, &[])
}

/// Like [`start`], with more arguments for `serve`.
fn start_with(data_dir: &Path, extra: &[&str]) -> (Running, SocketAddr, String) {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().take(2) {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let line = || rx.recv_timeout(Duration::from_secs(60)).expect("serve prints its two lines");
    let (first, second) = (line(), line());
    let url = first.strip_prefix("Liaison server listening on https://").unwrap_or_else(|| panic!("line 1: {first:?}"));
    let addr: SocketAddr = url.parse().unwrap_or_else(|_| panic!("HOST:PORT in {first:?}"));
    assert_ne!(addr.port(), 0, "the real port is printed");
    let fingerprint = second
        .strip_prefix("Certificate SHA-256 fingerprint: ")
        .unwrap_or_else(|| panic!("line 2: {second:?}"))
        .to_owned();
    assert!(
        fingerprint.len() == 64 && fingerprint.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "64 lowercase hex characters: {fingerprint:?}"
    );
    (running, addr, fingerprint)
}

#[tokio::test]
async fn serve_announces_its_address_and_fingerprint_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut running, addr, fingerprint) = start(dir.path());
    let (status, body) =
        https_get(addr, &fingerprint, "/v1/info").await.expect("TLS request with the pinned fingerprint");
    assert!(status.contains("200"), "{status}: {body}");

    #[cfg(unix)]
    {
        let pid = running.0.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(killed.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = running.0.try_wait().expect("wait") {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "the server must stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "a graceful stop exits 0: {status:?}");
    }
    drop(running);

    let (_again, _, second) = start(dir.path());
    assert_eq!(second, fingerprint, "a restart reuses the certificate so pinned clients keep working");
}

#[test]
fn user_add_list_and_set_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["user", "add", "ana", "--role", "staff"], dir.path(), Some("secret123"));
    assert!(out.status.success(), "user add: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ana"), "it confirms what it did");

    let dup = run(&["user", "add", "Ana", "--role", "admin"], dir.path(), Some("secret123"));
    assert!(!dup.status.success(), "a duplicate name must fail");
    assert!(text(&dup.stderr).contains("already exists"), "and say why: {}", text(&dup.stderr));

    let short = run(&["user", "add", "bob", "--role", "admin"], dir.path(), Some("short"));
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("at least 8"), "the rule is stated: {}", text(&short.stderr));

    let no_tty = run(&["user", "add", "bob", "--role", "admin"], dir.path(), None);
    assert!(!no_tty.status.success(), "without a terminal or LIAISON_PASSWORD there is no password");
    assert!(text(&no_tty.stderr).contains("LIAISON_PASSWORD"), "the fix is named: {}", text(&no_tty.stderr));

    let role = run(&["user", "set-role", "ana", "--role", "trainer"], dir.path(), None);
    assert!(role.status.success(), "{}", text(&role.stderr));

    let list = run(&["user", "list", "--json"], dir.path(), None);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let users: serde_json::Value = serde_json::from_slice(&list.stdout).expect("--json prints JSON");
    assert_eq!(users.as_array().map(Vec::len), Some(1), "bob was never created: {users}");
    assert_eq!((users[0]["name"].as_str(), users[0]["role"].as_str()), (Some("ana"), Some("trainer")));
    let table = run(&["user", "list"], dir.path(), None);
    assert!(text(&table.stdout).starts_with("NAME"), "a table with a header: {}", text(&table.stdout));
}

#[test]
fn device_commands_explain_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = run(&["device", "list"], dir.path(), None);
    assert!(!missing.status.success(), "no database yet");
    assert!(text(&missing.stderr).contains("--data-dir"), "the fix is named: {}", text(&missing.stderr));

    assert!(run(&["user", "add", "ana", "--role", "staff"], dir.path(), Some("secret123")).status.success());
    let list = run(&["device", "list", "--json"], dir.path(), None);
    assert_eq!(text(&list.stdout).trim(), "[]", "no devices yet: {}", text(&list.stderr));
    let revoke = run(&["device", "revoke", "0190e4a0-0000-7000-8000-000000000001"], dir.path(), None);
    assert!(!revoke.status.success(), "revoking an unknown device fails");
    assert!(text(&revoke.stderr).contains("device list"), "and points to the list: {}", text(&revoke.stderr));
}

#[tokio::test]
async fn serve_and_the_admin_commands_use_postgresql_with_database() {
    let url = crate::storage::postgres::fresh_database_url().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let add = run(&["user", "add", "ana", "--role", "staff", "--database", &url], dir.path(), Some("secret123"));
    assert!(add.status.success(), "user add: {}", text(&add.stderr));
    let list = run(&["user", "list", "--json", "--database", &url], dir.path(), None);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let users: serde_json::Value = serde_json::from_slice(&list.stdout).expect("--json prints JSON");
    assert_eq!(users[0]["name"].as_str(), Some("ana"), "{users}");
    let devices = run(&["device", "list", "--json", "--database", &url], dir.path(), None);
    assert_eq!(text(&devices.stdout).trim(), "[]", "{}", text(&devices.stderr));
    assert!(!dir.path().join("server.db").exists(), "with --database nothing goes to SQLite");

    let (_running, addr, fingerprint) = start_with(dir.path(), &["--database", &url]);
    let (status, body) = https_get(addr, &fingerprint, "/v1/info").await.expect("TLS request");
    assert!(status.contains("200"), "{status}: {body}");
    assert!(!dir.path().join("server.db").exists(), "serve --database does not open SQLite");
}

#[test]
fn a_database_url_that_is_not_postgresql_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["user", "list", "--database", "sqlite:///tmp/server.db"], dir.path(), None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("PostgreSQL URL"), "says what is expected: {}", text(&out.stderr));
}

#[test]
fn an_unreachable_postgresql_is_named_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = crate::storage::postgres::free_port().expect("port");
    let url = format!("postgres://ana:hunter2-pw@127.0.0.1:{port}/liaison");
    let out = run(&["device", "list", "--database", &url], dir.path(), None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("check that"),
        "host, port and what to check: {err}"
    );
    assert!(!err.contains("hunter2-pw"), "never the password: {err}");
    assert!(!err.contains("panicked"), "an error, not a panic: {err}");
}

#[tokio::test]
async fn erase_contact_erases_and_reports_and_refuses_a_bad_id() {
    use crate::support::{batch, change};
    use liaison_server::storage::{SqliteStorage, Storage};

    let dir = tempfile::tempdir().expect("tempdir");
    assert!(run(&["user", "add", "ana", "--role", "staff"], dir.path(), Some("secret123")).status.success());
    let contact = uuid::Uuid::now_v7();
    let user = {
        let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open");
        let user = storage.find_user_by_name("ana").await.expect("find").expect("ana").user;
        let hlc = liaison_protocol::hlc::Hlc::new(1_750_000_000_000, 0);
        let push = batch(vec![change(contact, &[("display_name", serde_json::json!("Ada"), hlc)])]);
        storage.push(&user, uuid::Uuid::now_v7(), &push, chrono::Utc::now()).await.expect("push");
        user
    };

    let bad = run(&["erase", "contact", "not-a-uuid"], dir.path(), None);
    assert!(!bad.status.success(), "a non-UUID id is an error");
    assert!(text(&bad.stderr).contains("is not a contact id"), "and says so: {}", text(&bad.stderr));

    let id = contact.to_string();
    let out = run(&["erase", "contact", &id], dir.path(), None);
    assert!(out.status.success(), "erase: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("Erased contact {id} and 0 related rows; devices will delete them at their next sync.")
    );

    let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open");
    let pulled = storage.pull(&user, 0, 100).await.expect("pull");
    assert!(pulled.rows.iter().any(|r| r.row_id == contact && r.purged && r.fields.is_empty()), "{pulled:?}");
    drop(storage);

    let again = run(&["erase", "contact", &id, "--json"], dir.path(), None);
    assert!(again.status.success(), "erasing twice is harmless: {}", text(&again.stderr));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).expect("--json prints JSON");
    assert_eq!(report["report"]["already_erased"], serde_json::json!(true), "{report}");
}

#[tokio::test]
async fn clamps_list_shows_which_device_had_a_clock_ahead() {
    use crate::support::{batch, change};
    use liaison_server::storage::{NewDevice, SqliteStorage, Storage};

    let dir = tempfile::tempdir().expect("tempdir");
    assert!(run(&["user", "add", "ana", "--role", "staff"], dir.path(), Some("secret123")).status.success());
    let quiet = run(&["clamps", "list"], dir.path(), None);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert!(text(&quiet.stdout).contains("No device's clock has run ahead"), "{}", text(&quiet.stdout));
    {
        let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open");
        let user = storage.find_user_by_name("ana").await.expect("find").expect("ana").user;
        let device = uuid::Uuid::now_v7();
        storage
            .register_device(
                NewDevice { id: device, user_id: user.id, name: "trainer-laptop".into(), token_hash: "h".into() },
                chrono::Utc::now(),
            )
            .await
            .expect("device");
        let two_hours_ahead = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("millis") + 2 * 3_600_000;
        let push = batch(vec![change(
            uuid::Uuid::now_v7(),
            &[("display_name", serde_json::json!("Ada"), liaison_protocol::hlc::Hlc::new(two_hours_ahead, 0))],
        )]);
        storage.push(&user, device, &push, chrono::Utc::now()).await.expect("push");
    }
    let out = run(&["clamps", "list"], dir.path(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("ana")
            && table.contains("trainer-laptop")
            && (table.contains("119 min ahead") || table.contains("120 min ahead")),
        "names the user, the device and how far ahead: {table}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&run(&["clamps", "list", "--json"], dir.path(), None).stdout).expect("json");
    assert_eq!(json[0]["field"], "display_name");
}

#[tokio::test]
async fn grant_revoke_and_grants_list_manage_who_sees_a_restricted_contact() {
    use crate::support::{batch, change, child};
    use liaison_protocol::schema::EntityKind;
    use liaison_server::storage::{SqliteStorage, Storage};
    use serde_json::json;

    let dir = tempfile::tempdir().expect("tempdir");
    assert!(run(&["user", "add", "sam", "--role", "staff"], dir.path(), Some("secret123")).status.success());
    assert!(run(&["user", "add", "vic", "--role", "volunteer"], dir.path(), Some("secret123")).status.success());
    let contact = uuid::Uuid::now_v7();
    let vic = {
        let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open");
        let sam = storage.find_user_by_name("sam").await.expect("find").expect("sam").user;
        let hlc = liaison_protocol::hlc::Hlc::new(1_750_000_000_000, 0);
        let push = batch(vec![
            change(contact, &[("display_name", json!("Ada"), hlc), ("restricted", json!(true), hlc)]),
            child(EntityKind::ContactEmail, uuid::Uuid::now_v7(), contact, &[("address", json!("a@b.c"))], hlc),
        ]);
        storage.push(&sam, uuid::Uuid::now_v7(), &push, chrono::Utc::now()).await.expect("push");
        storage.find_user_by_name("vic").await.expect("find").expect("vic").user
    };
    let id = contact.to_string();

    let empty = run(&["grants", "list"], dir.path(), None);
    assert!(empty.status.success(), "{}", text(&empty.stderr));
    assert!(text(&empty.stdout).contains("No grants"), "{}", text(&empty.stdout));

    let granted = run(&["grant", "vic", "contact", &id], dir.path(), None);
    assert!(granted.status.success(), "grant: {}", text(&granted.stderr));
    assert_eq!(
        text(&granted.stdout).trim(),
        format!("Granted vic access to contact {id}; its 2 records will reach vic's devices at their next sync.")
    );
    let again = run(&["grant", "VIC", "contact", &id], dir.path(), None);
    assert!(again.status.success(), "granting twice is harmless: {}", text(&again.stderr));
    assert!(text(&again.stdout).contains("already has access"), "{}", text(&again.stdout));

    let listed = run(&["grants", "list", "--json"], dir.path(), None);
    let grants: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("--json prints JSON");
    assert_eq!(grants.as_array().map(Vec::len), Some(1), "{grants}");
    assert_eq!(
        (grants[0]["user_name"].as_str(), grants[0]["scope"].as_str()),
        (Some("vic"), Some(format!("contact:{id}").as_str()))
    );
    let table = text(&run(&["grants", "list"], dir.path(), None).stdout);
    assert!(table.starts_with("USER") && table.contains("vic") && table.contains(&id), "a table: {table}");
    {
        let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open");
        assert_eq!(
            storage.pull(&vic, 0, 100).await.expect("pull").rows.len(),
            2,
            "the grant lets vic pull the contact"
        );
    }

    for (args, expected) in [
        (vec!["grant", "nobody", "contact", id.as_str()], "no user named"),
        (vec!["grant", "vic", "contact", "not-a-uuid"], "is not a contact id"),
        (vec!["grant", "vic", "case", id.as_str()], "invalid value"),
    ] {
        let out = run(&args, dir.path(), None);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(text(&out.stderr).contains(expected), "{args:?} says why: {}", text(&out.stderr));
    }

    let revoked = run(&["revoke", "vic", "contact", &id], dir.path(), None);
    assert!(revoked.status.success(), "revoke: {}", text(&revoked.stderr));
    assert_eq!(
        text(&revoked.stdout).trim(),
        format!("Revoked vic's access to contact {id}; their devices will delete its records at their next sync.")
    );
    let twice = run(&["revoke", "vic", "contact", &id], dir.path(), None);
    assert!(!twice.status.success(), "there is no grant left to revoke");
    assert!(text(&twice.stderr).contains("no grant"), "{}", text(&twice.stderr));
    assert!(text(&run(&["grants", "list"], dir.path(), None).stdout).contains("No grants"));
}

/// A tombstone in the SQLite database of `dir` (after `user add ana`): returns ana and the seq
/// of the tombstone.
async fn seed_tombstone(dir: &Path) -> (liaison_server::storage::User, u64) {
    use crate::support::{batch, change, delete};
    use liaison_server::storage::{SqliteStorage, Storage};

    let storage = SqliteStorage::open(&dir.join("server.db")).expect("open");
    let user = storage.find_user_by_name("ana").await.expect("find").expect("ana").user;
    let (row, device) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let hlc = |k: u64| liaison_protocol::hlc::Hlc::new(1_750_000_000_000 + k, 0);
    storage
        .push(
            &user,
            device,
            &batch(vec![change(row, &[("display_name", serde_json::json!("Ada"), hlc(0))])]),
            chrono::Utc::now(),
        )
        .await
        .expect("push");
    let deleted =
        storage.push(&user, device, &batch(vec![delete(row, hlc(1))]), chrono::Utc::now()).await.expect("delete");
    let seq = deleted.results[0].seq.expect("the tombstone's seq");
    storage
        .push(
            &user,
            device,
            &batch(vec![change(uuid::Uuid::now_v7(), &[("display_name", serde_json::json!("Kept"), hlc(2))])]),
            chrono::Utc::now(),
        )
        .await
        .expect("push");
    (user, seq)
}

#[tokio::test]
async fn prune_removes_old_tombstones_and_says_which_devices_resync_from_a_snapshot() {
    use liaison_server::storage::{SqliteStorage, Storage, StorageError};

    let dir = tempfile::tempdir().expect("tempdir");
    let missing = run(&["prune", "--older-than-days", "180"], dir.path(), None);
    assert!(!missing.status.success(), "no database yet");
    assert!(text(&missing.stderr).contains("--data-dir"), "the fix is named: {}", text(&missing.stderr));

    assert!(run(&["user", "add", "ana", "--role", "staff"], dir.path(), Some("secret123")).status.success());
    let (ana, tombstone) = seed_tombstone(dir.path()).await;

    let kept = run(&["prune", "--older-than-days", "180"], dir.path(), None);
    assert!(kept.status.success(), "{}", text(&kept.stderr));
    assert_eq!(
        text(&kept.stdout).trim(),
        "Removed 0 tombstones older than 180 days; no device needs to re-sync from a snapshot.",
        "a fresh tombstone is kept for offline devices"
    );

    let all = run(&["prune", "--older-than-days", "0"], dir.path(), None);
    assert!(all.status.success(), "{}", text(&all.stderr));
    assert_eq!(
        text(&all.stdout).trim(),
        format!(
            "Removed 1 tombstone older than 0 days; devices that last synced before sequence {tombstone} will re-sync \
             from a snapshot, keeping their unsent changes."
        ),
        "0 days removes every tombstone and names the horizon"
    );
    let json = run(&["prune", "--older-than-days", "0", "--json"], dir.path(), None);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert_eq!(report, serde_json::json!({"rows": 0, "revocations": 0, "horizon_seq": tombstone}), "the horizon stays");

    let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open");
    let err = storage.pull(&ana, tombstone - 1, 100).await.expect_err("below the horizon");
    assert!(matches!(err, StorageError::ResyncRequired { .. }), "{err:?}");
    assert_eq!(storage.pull(&ana, 0, 100).await.expect("pull").rows.len(), 1, "only the live row is left");

    let bad = run(&["prune", "--older-than-days", "-1"], dir.path(), None);
    assert!(!bad.status.success(), "a negative number of days is refused");
}

#[tokio::test]
async fn serve_prunes_tombstones_older_than_tombstone_days_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(run(&["user", "add", "ana", "--role", "staff"], dir.path(), Some("secret123")).status.success());
    let (_, tombstone) = seed_tombstone(dir.path()).await;

    let horizon = || -> i64 {
        let c = rusqlite::Connection::open(dir.path().join("server.db")).expect("open a reader");
        c.query_row("SELECT horizon FROM sync_state", [], |r| r.get(0)).expect("horizon")
    };
    {
        let (_running, _, _) = start(dir.path());
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(horizon(), 0, "the default keeps 180 days of tombstones");
    }
    let (_running, _, _) = start_with(dir.path(), &["--tombstone-days", "0"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while horizon() == 0 {
        assert!(std::time::Instant::now() < deadline, "serve prunes at start");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(horizon(), i64::try_from(tombstone).expect("seq"), "the pruned tombstone sets the horizon");
}

#[test]
fn queue_add_edit_list_and_members_manage_where_cases_arrive_and_who_works_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = |args: &[&str]| {
        let out = run(args, dir.path(), Some("secret123"));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let fails = |args: &[&str], says: &str| {
        let out = run(args, dir.path(), None);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(text(&out.stderr).contains(says), "{args:?} says {says:?}: {}", text(&out.stderr));
    };
    ok(&["user", "add", "vera", "--role", "volunteer"]);
    let calendar = r#"{"zone": "Europe/Berlin", "weekly": {"mon": [["09:00", "17:00"]]}}"#;
    let added = ok(&[
        "queue",
        "add",
        "--name",
        "info-de",
        "--email",
        "info-de@example.org",
        "--language",
        "de",
        "--calendar",
        calendar,
        "--sla",
        "first_response=480,resolution=10080",
    ]);
    assert!(added.contains("Created queue info-de"), "{added}");
    fails(&["queue", "add", "--name", "INFO-DE"], "already exists");
    fails(&["queue", "add", "--email", "x@example.org"], "needs a name");
    fails(
        &["queue", "add", "--name", "bad", "--calendar", r#"{"zone": "UTC", "weekly": {"mon": [["17:00", "09:00"]]}}"#],
        "from before to",
    );
    fails(&["queue", "add", "--name", "bad", "--sla", "lunch=60"], "no target");

    ok(&["queue", "member", "add", "info-de", "vera", "--role", "lead"]);
    fails(&["queue", "member", "add", "info-de", "nobody"], "no user named");
    fails(&["queue", "member", "add", "info-xx", "vera"], "no queue named");
    fails(&["queue", "member", "add", "info-de", "vera", "--role", "boss"], "not a role");
    let list: serde_json::Value = serde_json::from_str(&ok(&["queue", "list", "--json"])).expect("JSON");
    let q = &list[0];
    assert_eq!(
        (q["name"].as_str(), q["email"].as_str(), q["language"].as_str()),
        (Some("info-de"), Some("info-de@example.org"), Some("de"))
    );
    assert_eq!(q["members"], serde_json::json!([{"user": "vera", "role": "lead"}]));
    assert_eq!(q["fields"]["sla"]["first_response"], 480);
    assert_eq!(q["fields"]["calendar"]["zone"], "Europe/Berlin");

    let edited = ok(&[
        "queue",
        "edit",
        "info-de",
        "--name",
        "info-de-at",
        "--archived",
        "true",
        "--states",
        "waiting on legal, escalated",
    ]);
    assert!(edited.contains("info-de-at"), "{edited}");
    let table = ok(&["queue", "list"]);
    assert!(
        table.starts_with("QUEUE") && table.contains("info-de-at (archived)") && table.contains("vera (lead)"),
        "{table}"
    );
    let list: serde_json::Value = serde_json::from_str(&ok(&["queue", "list", "--json"])).expect("JSON");
    assert_eq!(list[0]["fields"]["states"], serde_json::json!(["waiting on legal", "escalated"]));
    fails(&["queue", "edit", "info-de-at"], "nothing to change");

    ok(&["queue", "member", "remove", "info-de-at", "vera"]);
    fails(&["queue", "member", "remove", "info-de-at", "vera"], "not a member");
    let list: serde_json::Value = serde_json::from_str(&ok(&["queue", "list", "--json"])).expect("JSON");
    assert_eq!(list[0]["members"], serde_json::json!([]), "the member is gone");
}
