//! Initial sync by snapshot, resuming an interrupted one, and re-syncing a device that was away
//! longer than the server keeps deletions (`410 resync_required`), without losing its unsent
//! changes.

use crate::harness::{Client, PASSPHRASE, Server};
use std::time::Duration;

fn open_meta(client: &Client, key: &str) -> Option<String> {
    let mut profile = liaison_core::Profile::new(client.dir.path());
    profile.unlock(Some(PASSPHRASE)).expect("unlock");
    let store = profile.store().expect("store");
    liaison_core::store::meta::get(store.conn(), key).expect("meta")
}

fn contacts_and_search_entries(client: &Client) -> (i64, i64) {
    let mut profile = liaison_core::Profile::new(client.dir.path());
    profile.unlock(Some(PASSPHRASE)).expect("unlock");
    let store = profile.store().expect("store");
    let count = |table: &str| -> i64 {
        store.conn().query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
    };
    (count("contact"), count("contact_fts"))
}

fn count(client: &Client) -> u64 {
    client.json(&["status"])["contacts"].as_u64().expect("contact count")
}

#[test]
fn a_new_device_receives_everything_by_snapshot_then_continues_incrementally() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "staff");
    let (a, b) = (Client::new(), Client::new());
    a.login(&server, "ana");
    a.ok(&["demo", "--count", "1500"]);
    a.ok(&["sync"]);
    b.login(&server, "ben");
    b.ok(&["sync"]);
    assert_eq!(count(&b), 1500, "the snapshot brought every contact");
    assert!(open_meta(&b, "snapshot_at").is_none(), "and finished");
    let cursor: u64 = open_meta(&b, "pull_cursor").and_then(|c| c.parse().ok()).expect("cursor");
    assert!(cursor > 0, "incremental pulls continue from the snapshot's sequence");
    let first = a.json(&["contact", "list", "--limit", "1"])["items"][0]["id"].as_str().expect("id").to_string();
    a.ok(&["contact", "edit", &first, "--note", "after the snapshot"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    assert_eq!(b.contact(&first)["notes"], "after the snapshot");
    let hits = b.json(&["contact", "search", "example.org", "--limit", "1000"]);
    assert!(hits.as_array().is_some_and(|h| !h.is_empty()), "snapshot rows are indexed for search");
}

#[test]
fn an_interrupted_first_sync_resumes_where_it_stopped_and_duplicates_nothing() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "staff");
    let (a, b) = (Client::new(), Client::new());
    a.login(&server, "ana");
    a.ok(&["demo", "--count", "6000"]);
    a.ok(&["sync"]);
    b.login(&server, "ben");

    // Kill B's first sync repeatedly, a little later each time, until one run completes.
    let mut progress_seen = false;
    // Unlocking takes about 100 ms; the kills then walk through the download 100 ms apart.
    let mut delay = 150;
    for _ in 0..60 {
        let mut sync = b
            .command(&["sync"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sync");
        std::thread::sleep(Duration::from_millis(delay));
        let finished = sync.try_wait().expect("wait").is_some();
        let _ = sync.kill(); // SIGKILL
        let _ = sync.wait();
        if finished {
            break;
        }
        let stored_part =
            open_meta(&b, "snapshot_after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|after| after > 0);
        if stored_part && !progress_seen {
            // The killed run deferred search entries to the end of the download; opening the
            // store builds them, so what arrived can be found meanwhile.
            let (contacts, entries) = contacts_and_search_entries(&b);
            assert!(contacts > 0 && entries == contacts, "{entries} search entries for {contacts} stored contacts");
        }
        progress_seen |= stored_part;
        delay += 100;
    }
    b.ok(&["sync"]);
    assert!(progress_seen, "at least one killed run had stored part of the snapshot, which the next run continued");
    assert_eq!(
        count(&b),
        6000,
        "every contact exactly once (ids are unique, so a duplicate would show as a wrong count)"
    );
    let emails: i64 = {
        let mut profile = liaison_core::Profile::new(b.dir.path());
        profile.unlock(Some(PASSPHRASE)).expect("unlock");
        let store = profile.store().expect("store");
        store.integrity_check().expect("intact after the kills");
        store.conn().query_row("SELECT count(*) FROM contact_email", [], |r| r.get(0)).expect("count")
    };
    let on_a: i64 = {
        let mut profile = liaison_core::Profile::new(a.dir.path());
        profile.unlock(Some(PASSPHRASE)).expect("unlock");
        profile
            .store()
            .expect("store")
            .conn()
            .query_row("SELECT count(*) FROM contact_email", [], |r| r.get(0))
            .expect("count")
    };
    assert_eq!(emails, on_a, "child rows arrive exactly once too");
    assert_eq!(contacts_and_search_entries(&b), (6000, 6000), "and every contact has one search entry");
}

#[test]
fn a_device_away_longer_than_the_tombstone_horizon_resyncs_and_keeps_its_unsent_changes() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "staff");
    let (a, b) = (Client::new(), Client::new());
    a.login(&server, "ana");
    b.login(&server, "ben");
    let gone = a.ok(&["contact", "add", "--name", "Deleted While Away"]);
    let kept = a.ok(&["contact", "add", "--name", "Edited While Away"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    // B goes away for a long time with an unsent edit; meanwhile A deletes a contact, and the
    // server forgets that deletion (older than the horizon).
    b.ok(&["contact", "edit", &kept, "--note", "written offline"]);
    let offline_new = b.ok(&["contact", "add", "--name", "Created While Away"]);
    a.ok(&["contact", "delete", &gone]);
    a.ok(&["sync"]);
    let pruned = server.admin(&["prune", "--older-than-days", "0"]);
    assert!(pruned.contains("snapshot"), "prune explains what devices will do: {pruned}");

    b.ok(&["sync"]);
    assert!(
        b.fails(&["contact", "show", &gone]).contains("not found"),
        "the deletion the server no longer remembers still reaches B"
    );
    assert_eq!(b.contact(&kept)["notes"], "written offline", "B's unsent edit survived the re-sync");
    assert_eq!(b.pending(), 0, "and was sent");
    a.ok(&["sync"]);
    assert_eq!(a.contact(&kept)["notes"], "written offline");
    assert_eq!(a.contact(&offline_new)["display_name"], "Created While Away", "so was the contact B created");
    assert_eq!(count(&a), count(&b), "both devices hold the same contacts");
}
