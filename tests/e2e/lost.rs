//! A lost laptop forgets everything: an administrator revokes a device that holds a queue's
//! cases with their files; at its next contact with the server the device deletes its database,
//! WAL, vault file (and keychain entry), tells the server, and says plainly why. Proven on the
//! files, not only through queries.

use crate::harness::{Client, Server};

/// Every file under `dir` (recursively), with its bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).expect("read the data directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                found.push((path, bytes));
            }
        }
    }
    found
}

#[test]
fn a_revoked_laptop_deletes_its_vault_files_at_its_next_sync_tells_the_server_and_says_why() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    server.admin(&["queue", "add", "--name", "info-en", "--email", "info-en@example.test"]);
    server.admin(&["queue", "member", "add", "info-en", "ben"]);
    let (staff, laptop) = (Client::new(), Client::new());
    staff.login(&server, "ana");
    laptop.login(&server, "ben");
    staff.ok(&["sync"]);
    let marker = "LostLaptopMarkerQX7";
    let reader = staff.ok(&["contact", "add", "--name", &format!("Reader {marker}")]);
    let case = staff.ok(&[
        "case",
        "new",
        "--queue",
        "info-en",
        "--subject",
        &format!("About {marker}"),
        "--reader",
        reader.trim(),
    ]);
    let scan = staff.tmp.path().join("scan.txt");
    std::fs::write(&scan, format!("attached {marker} content").repeat(50)).expect("write the file");
    staff.ok(&["case", "note", case.trim(), "--text", &format!("Note {marker}"), "--attach", &scan.to_string_lossy()]);
    staff.ok(&["sync"]);
    laptop.ok(&["sync"]);
    assert_eq!(laptop.json(&["case", "list"])["total"], 1, "the laptop holds the queue's case");
    let attachment = laptop.json(&["case", "show", case.trim()])["messages"]
        .as_array()
        .and_then(|m| m.iter().find_map(|m| m["attachments"][0]["id"].as_str().map(str::to_owned)))
        .expect("the note's file");
    laptop.ok(&["case", "attachment", &attachment, "--output", &laptop.tmp.path().join("out.txt").to_string_lossy()]);
    let before: Vec<String> = files(laptop.dir.path())
        .iter()
        .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert!(before.iter().any(|n| n == "liaison.db") && before.iter().any(|n| n == "vault.json"), "{before:?}");

    // The laptop is lost: an administrator revokes it.
    let devices: serde_json::Value =
        serde_json::from_str(&server.admin(&["device", "list", "--json"])).expect("device list is JSON");
    let id = devices
        .as_array()
        .and_then(|all| all.iter().find(|d| d["user_name"] == "ben"))
        .and_then(|d| d["id"].as_str().map(str::to_owned))
        .expect("ben's device");
    server.admin(&["device", "revoke", &id]);

    let said = laptop.fails(&["sync"]);
    assert!(said.contains("revoked this device, so its local data was wiped"), "says plainly why: {said}");
    assert!(said.contains("the server was told"), "{said}");
    let left = files(laptop.dir.path());
    assert!(
        left.is_empty(),
        "no vault file, database, WAL or shared memory is left: {:?}",
        left.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    let listed = server.admin(&["device", "list"]);
    let line = listed.lines().find(|l| l.contains(&id)).unwrap_or_default().to_owned();
    assert!(line.contains("wiped"), "the administrator sees the wipe confirmed: {line}");
    let again = laptop.fails(&["contact", "list"]);
    assert!(again.to_lowercase().contains("vault"), "the laptop holds nothing to open: {again}");

    // The staff member's laptop, not revoked, keeps everything.
    staff.ok(&["sync"]);
    assert_eq!(staff.json(&["case", "list"])["total"], 1);
}
