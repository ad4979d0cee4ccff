//! Encryption at rest, seen from outside the process: what a lost laptop's disk shows.

use crate::harness::Client;

const MARKER: &str = "QX-reader-marker-9931";

fn files_with(dir: &std::path::Path, needle: &[u8], hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_with(&path, needle, hits);
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(path.display().to_string());
        }
    }
}

#[test]
fn a_marker_string_is_not_in_the_database_the_wal_or_the_temp_directory() {
    let c = Client::new();
    c.ok(&[
        "contact",
        "add",
        "--name",
        &format!("Reader {MARKER}"),
        "--note",
        &format!("complaint {MARKER}"),
        "--email",
        "qx@example.org",
    ]);
    c.ok(&["demo", "--count", "50"]);
    let mut hits = vec![];
    files_with(c.dir.path(), MARKER.as_bytes(), &mut hits);
    files_with(c.tmp.path(), MARKER.as_bytes(), &mut hits);
    assert!(hits.is_empty(), "plaintext personal data found on disk: {hits:?}");
    let db = std::fs::read(c.dir.path().join("liaison.db")).expect("database file");
    assert!(!db.starts_with(b"SQLite format 3"), "the database file must not be a plain SQLite file");
    assert_eq!(
        c.json(&["contact", "search", MARKER]).as_array().map(Vec::len),
        Some(1),
        "the data is there for the passphrase holder"
    );
}

#[test]
fn a_wrong_passphrase_is_refused_with_a_clear_message_and_nothing_changes() {
    let c = Client::new();
    c.ok(&["contact", "add", "--name", "Kept Safe"]);
    let before = std::fs::read(c.dir.path().join("liaison.db")).expect("db");
    let out = c.command(&["contact", "list"]).env("LIAISON_PASSPHRASE", "not the passphrase").output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("passphrase does not unlock"), "says what is wrong: {err}");
    let json_err = c
        .command(&["contact", "list", "--json"])
        .env("LIAISON_PASSPHRASE", "not the passphrase")
        .output()
        .expect("run");
    let body: serde_json::Value = serde_json::from_slice(&json_err.stderr).expect("JSON error on stderr");
    assert_eq!(body["code"], "wrong_passphrase", "scripts branch on the code");
    assert_eq!(std::fs::read(c.dir.path().join("liaison.db")).expect("db"), before, "nothing was written");
    assert!(c.ok(&["contact", "list"]).contains("Kept Safe"), "the right passphrase still works");
}

#[test]
fn a_plain_sqlite_file_at_the_database_path_is_refused_and_kept() {
    let c = Client::new();
    let db = c.dir.path().join("liaison.db");
    std::fs::remove_file(&db).expect("remove");
    let _ = std::fs::remove_file(c.dir.path().join("liaison.db-wal"));
    let _ = std::fs::remove_file(c.dir.path().join("liaison.db-shm"));
    let mut plain = b"SQLite format 3\0".to_vec();
    plain.resize(4096, 0);
    std::fs::write(&db, &plain).expect("write plain header");
    let err = c.fails(&["contact", "list"]);
    assert!(err.contains("unencrypted"), "explains the file is not an encrypted Liaison database: {err}");
    assert_eq!(std::fs::read(&db).expect("still there"), plain, "the file is left exactly as it was");
}

#[test]
fn a_second_init_never_overwrites_an_existing_vault() {
    let c = Client::new();
    c.ok(&["contact", "add", "--name", "Precious"]);
    let err = c.fails(&["init", "--passphrase"]);
    assert!(err.contains("already exists"), "{err}");
    assert!(c.ok(&["contact", "list"]).contains("Precious"));
}
