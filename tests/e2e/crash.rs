//! Crashes: `kill -9` the client, and separately the server, at random moments during sync, many
//! times. Afterwards no acknowledged edit is lost, nothing is applied twice, both databases pass
//! their integrity checks, and the devices converge.

use crate::harness::{Client, PASSPHRASE, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

fn names_on(client: &Client) -> Vec<String> {
    let page = client.json(&["contact", "list", "--limit", "1000"]);
    let mut names: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["display_name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

fn client_integrity(client: &Client) {
    let mut profile = liaison_core::Profile::new(client.dir.path());
    profile.unlock(Some(PASSPHRASE)).expect("unlock after the crashes");
    profile.store().expect("store").integrity_check().expect("the client database is intact");
}

fn expected(prefix: &str, n: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..n).map(|i| format!("{prefix} {i:03}")).collect();
    names.sort();
    names
}

#[test]
fn killing_the_client_during_sync_loses_nothing_and_duplicates_nothing() {
    const KILLS: usize = 100;
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "staff");
    let (a, b) = (Client::new(), Client::new());
    a.login(&server, "ana");
    b.login(&server, "ben");
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..KILLS {
        a.ok(&["contact", "add", "--name", &format!("Client crash {i:03}"), "--email", &format!("c{i}@example.org")]);
        let mut sync = a
            .command(&["sync"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sync");
        // Unlocking takes ~100 ms; spread the kills over unlocking, pushing and pulling.
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..400)));
        let _ = sync.kill(); // SIGKILL
        let _ = sync.wait();
    }
    client_integrity(&a);
    a.ok(&["sync"]);
    assert_eq!(a.pending(), 0, "after the crashes one sync sends everything that was left");
    b.ok(&["sync"]);
    assert_eq!(names_on(&a), expected("Client crash", KILLS), "every acknowledged local edit survived on A");
    assert_eq!(names_on(&b), expected("Client crash", KILLS), "B has each contact exactly once");
    let emails = b.json(&["contact", "search", "example.org", "--limit", "1000"]);
    assert_eq!(emails.as_array().map(Vec::len), Some(KILLS), "and each email once");
}

#[test]
fn killing_the_server_during_sync_loses_nothing_and_duplicates_nothing() {
    const KILLS: usize = 20;
    let mut server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "staff");
    let port = server.port;
    let (a, b) = (Client::new(), Client::new());
    a.login(&server, "ana");
    b.login(&server, "ben");
    let mut rng = StdRng::seed_from_u64(11);
    for i in 0..KILLS {
        a.ok(&["contact", "add", "--name", &format!("Server crash {i:03}")]);
        let sync = a
            .command(&["sync"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sync");
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..300)));
        let dir = server.stop(); // SIGKILL: no graceful shutdown
        let _ = sync.wait_with_output();
        server = Server::start_in(dir, &format!("127.0.0.1:{port}"));
    }
    let db = rusqlite::Connection::open(server.dir.path().join("server.db")).expect("server db");
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(check, "ok", "the server database is intact after {KILLS} kills");
    a.ok(&["sync"]);
    assert_eq!(a.pending(), 0);
    b.ok(&["sync"]);
    assert_eq!(names_on(&b), expected("Server crash", KILLS), "every edit arrived exactly once");
    client_integrity(&a);
}
