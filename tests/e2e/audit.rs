//! The server's audit log through the real binary: failed sign-ins, roles, grants, revocations,
//! wipes and erasures are recorded without content, and editing, deleting or swapping one row of
//! the audit table (in the database file, behind the server's back) is found by `audit verify`,
//! which names the entry.

use crate::harness::{Client, Server, bin};

/// `liaison-server audit verify`: (succeeded, what it printed).
fn verify(server: &Server) -> (bool, String) {
    let out = std::process::Command::new(bin("liaison-server"))
        .args(["audit", "verify", "--data-dir"])
        .arg(server.dir.path())
        .output()
        .expect("run liaison-server");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn database(server: &Server) -> rusqlite::Connection {
    rusqlite::Connection::open(liaison_server::server::database_path(server.dir.path())).expect("open server.db")
}

/// Give audit entry `to` the content (time, fields, hash) entry `from` had, from the temporary
/// copy `two`.
fn put_content(db: &rusqlite::Connection, from: i64, to: i64) {
    let columns = ["at", "actor", "action", "object", "detail", "hash"];
    let set: Vec<String> = columns.iter().map(|c| format!("{c} = (SELECT {c} FROM two WHERE seq = ?1)")).collect();
    db.execute(&format!("UPDATE audit SET {} WHERE seq = ?2", set.join(", ")), [from, to]).expect("move content");
}

#[test]
fn security_events_are_audited_without_content_and_a_changed_deleted_or_swapped_entry_is_found() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    let staff = Client::new();
    staff.login(&server, "ana");
    let intruder = Client::new();
    let tried = intruder
        .command(&["login", &server.url, "--user", "ben", "--fingerprint", &server.fingerprint])
        .env("LIAISON_PASSWORD", "not-bens-password")
        .output()
        .expect("run liaison");
    assert!(!tried.status.success(), "a wrong password does not sign in");
    let secret = "AuditMarkerSecretQ3";
    let contact = staff.ok(&["contact", "add", "--name", &format!("Person {secret}"), "--restricted"]);
    staff.ok(&["sync"]);
    server.admin(&["user", "set-role", "ben", "--role", "trainer"]);
    server.admin(&["grant", "ben", "contact", contact.trim()]);
    server.admin(&["revoke", "ben", "contact", contact.trim()]);
    server.admin(&["erase", "contact", contact.trim()]);

    let entries: serde_json::Value =
        serde_json::from_str(&server.admin(&["audit", "list", "--json"])).expect("audit list is JSON");
    let actions: Vec<&str> = entries.as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
    for expected in ["login_failed", "role_set", "grant", "revoke", "contact_erased"] {
        assert!(actions.contains(&expected), "{expected} is audited: {actions:?}");
    }
    assert!(!entries.to_string().contains(secret), "no contact content in the audit log");
    let (ok, said) = verify(&server);
    assert!(ok && said.contains("whole"), "{said}");

    // Behind the server's back: change one entry's detail, then put it back.
    let db = database(&server);
    let original: String = db.query_row("SELECT detail FROM audit WHERE seq = 2", [], |r| r.get(0)).expect("entry 2");
    db.execute("UPDATE audit SET detail = 'admin' WHERE seq = 2", []).expect("tamper");
    let (ok, said) = verify(&server);
    assert!(!ok && said.contains("entry 2 was changed"), "a changed entry is found: {said}");
    db.execute("UPDATE audit SET detail = ?1 WHERE seq = 2", [&original]).expect("restore");
    assert!(verify(&server).0, "restored, the chain is whole again");

    // Swap the contents of entries 2 and 3 (their numbers kept).
    db.execute_batch("CREATE TEMP TABLE two AS SELECT * FROM audit WHERE seq IN (2, 3);").expect("copy");
    put_content(&db, 3, 2);
    put_content(&db, 2, 3);
    let (ok, said) = verify(&server);
    assert!(!ok && said.contains("entry 2"), "a swap is found at the first entry moved: {said}");

    // Undo the swap, and delete one entry.
    put_content(&db, 2, 2);
    put_content(&db, 3, 3);
    db.execute("DELETE FROM audit WHERE seq = 4", []).expect("delete");
    let (ok, said) = verify(&server);
    assert!(!ok && said.contains("entry 4 is missing"), "a removed entry is found: {said}");
}
