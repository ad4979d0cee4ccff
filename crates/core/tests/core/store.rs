//! The encrypted store refuses what it cannot trust and never writes personal data in the clear.

use super::temp_store;
use liaison_core::contacts::{self, ContactInput};
use liaison_core::store::{MIGRATIONS, Store};
use liaison_core::vault::{DataKey, UnlockMode};
use liaison_core::{ErrorCode, Profile};
use rusqlite::OptionalExtension;

const MARKER: &str = "ZQXJ-marker-7731-Wikimania";

fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = vec![];
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn a_marker_in_a_contact_is_never_found_in_the_database_file_or_wal() {
    let (dir, mut store, _key) = temp_store();
    let input = ContactInput {
        display_name: format!("Reader {MARKER}"),
        notes: Some(format!("complaint about {MARKER}")),
        emails: vec!["marker@example.org".into()],
        ..Default::default()
    };
    contacts::create(&mut store, input).expect("create");
    // Before the checkpoint the data sits in the WAL; after it, in the main file. Check both.
    assert!(dir.path().join("liaison.db-wal").exists(), "WAL mode keeps a -wal file while open");
    assert_eq!(
        files_containing(dir.path(), MARKER.as_bytes()),
        Vec::<String>::new(),
        "plaintext found while the WAL holds the data"
    );
    store.checkpoint().expect("checkpoint");
    assert_eq!(
        files_containing(dir.path(), MARKER.as_bytes()),
        Vec::<String>::new(),
        "plaintext found after checkpoint"
    );
    let head = std::fs::read(dir.path().join("liaison.db")).expect("db");
    assert!(!head.starts_with(b"SQLite format 3"), "an encrypted file has no plaintext SQLite header");
    let found = contacts::search(&store, MARKER, 0, 10).expect("search");
    assert_eq!(found.total, 1, "and yet the data is there for the key holder");
}

#[test]
fn every_open_enforces_the_security_settings() {
    let (_dir, store, _key) = temp_store();
    let q = |sql: &str| -> String {
        store.conn().query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)).map(|v| format!("{v:?}")).expect(sql)
    };
    assert!(!q("PRAGMA cipher_version").contains("Null"), "SQLCipher must be compiled in");
    assert_eq!(q("PRAGMA journal_mode"), "Text(\"wal\")");
    assert_eq!(q("PRAGMA synchronous"), "Integer(2)", "FULL: NORMAL can lose committed transactions on power loss");
    assert_eq!(q("PRAGMA temp_store"), "Integer(2)", "MEMORY: temp files are not encrypted");
    assert_eq!(q("PRAGMA secure_delete"), "Integer(1)");
    assert_eq!(q("PRAGMA user_version"), format!("Integer({})", MIGRATIONS.len()), "all migrations ran");
}

#[test]
fn a_wrong_key_is_refused_before_any_write_and_changes_nothing() {
    let (dir, store, _key) = temp_store();
    let path = dir.path().join("liaison.db");
    store.close().expect("close");
    let before = std::fs::read(&path).expect("read");
    let err = Store::open(&path, &DataKey::generate()).expect_err("a different key must not open the database");
    assert_eq!(err.code, ErrorCode::CorruptDatabase);
    assert!(err.message.contains("could not be decrypted"), "the message says what happened: {}", err.message);
    assert_eq!(std::fs::read(&path).expect("read"), before, "a refused open leaves the file byte for byte as it was");
}

#[test]
fn a_plain_sqlite_file_at_the_database_path_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("liaison.db");
    let plain = rusqlite::Connection::open(&path).expect("plain");
    plain.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES ('hello');").expect("plain write");
    drop(plain);
    let before = std::fs::read(&path).expect("read");
    let err = Store::open(&path, &DataKey::generate()).expect_err("plain SQLite must be refused");
    assert_eq!(err.code, ErrorCode::CorruptDatabase);
    assert!(err.message.contains("unencrypted"), "{}", err.message);
    assert_eq!(std::fs::read(&path).expect("read"), before, "never silently recreated");
}

#[test]
fn a_missing_database_is_reported_never_recreated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("liaison.db");
    let err = Store::open(&path, &DataKey::generate()).expect_err("missing");
    assert_eq!(err.code, ErrorCode::CorruptDatabase);
    assert!(!path.exists(), "opening must not create an empty database");
}

#[test]
fn a_tampered_byte_is_detected_and_never_returns_altered_data() {
    let (dir, mut store, key) = temp_store();
    for i in 0..50 {
        contacts::create(&mut store, ContactInput { display_name: format!("Person {i}"), ..Default::default() })
            .expect("create");
    }
    store.close().expect("close");
    let path = dir.path().join("liaison.db");
    let original = std::fs::read(&path).expect("read");
    let mut detected = 0;
    let positions: Vec<usize> = (0..20).map(|i| 100 + i * (original.len() - 200) / 20).collect();
    for pos in &positions {
        let copy_dir = tempfile::tempdir().expect("tempdir");
        let copy = copy_dir.path().join("liaison.db");
        let mut bytes = original.clone();
        bytes[*pos] ^= 0x01;
        std::fs::write(&copy, &bytes).expect("write copy");
        let outcome = Store::open(&copy, &key).and_then(|s| {
            s.integrity_check()?;
            contacts::list(&s, 0, 100)
        });
        match outcome {
            Err(e) => {
                assert_eq!(
                    e.code,
                    ErrorCode::CorruptDatabase,
                    "byte {pos}: tampering is reported as a damaged database"
                );
                detected += 1;
            }
            Ok(page) => panic!("byte {pos}: a tampered database returned {} rows instead of failing", page.items.len()),
        }
    }
    assert_eq!(detected, positions.len(), "every flipped byte is caught by SQLCipher's page HMAC");
}

#[test]
fn profile_passphrase_round_trip_and_wrong_passphrase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut profile = Profile::new(dir.path());
    assert!(!profile.state().expect("state").exists);
    profile.create(UnlockMode::Passphrase, Some("a long passphrase")).expect("create");
    contacts::create(
        profile.store().expect("unlocked"),
        ContactInput { display_name: "Kept".into(), ..Default::default() },
    )
    .expect("add");
    profile.lock();
    assert_eq!(profile.store().expect_err("locked").code, ErrorCode::Locked, "a locked profile gives no access");
    assert_eq!(profile.unlock(Some("the wrong passphrase")).expect_err("wrong").code, ErrorCode::WrongPassphrase);
    profile.unlock(Some("a long passphrase")).expect("unlock");
    assert_eq!(contacts::count(profile.store().expect("unlocked")).expect("count"), 1, "data survives lock and unlock");
}

#[test]
fn the_clock_survives_a_restart() {
    let (dir, store, key) = temp_store();
    let first = liaison_core::store::meta::tick(store.conn()).expect("tick");
    store.close().expect("close");
    let store = Store::open(&dir.path().join("liaison.db"), &key).expect("reopen");
    let second = liaison_core::store::meta::tick(store.conn()).expect("tick");
    assert!(second > first, "a restarted device must never reuse or go below an issued stamp");
}

/// Every row of a full-text table, in rowid order.
fn search_entries(store: &Store, table: &str) -> Vec<Vec<String>> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!("SELECT rowid, * FROM {table} ORDER BY rowid")).expect("prepare");
    let columns = stmt.column_count();
    stmt.query_map([], |r| {
        (0..columns).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect()
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

/// A store with contacts (emails, phones, identifiers, tags) and cases with threads.
fn store_with_contacts_and_cases() -> (tempfile::TempDir, Store, DataKey) {
    use liaison_core::cases::{self, CaseInput, MessageInput};
    use liaison_core::queues::{self, QueuePatch};
    let (dir, mut store, key) = temp_store();
    liaison_core::store::meta::set(store.conn(), "server_role", "staff").expect("sign in as staff");
    let queue =
        queues::create(&mut store, QueuePatch { name: Some("info-en".into()), ..Default::default() }).expect("queue");
    for i in 0..20 {
        let input = ContactInput {
            display_name: format!("Ådå Lövelace {i}"),
            emails: vec![format!("ada{i}@example.org"), format!("a.l{i}@example.net")],
            phones: if i % 2 == 0 { vec![format!("+44 20 7946 {i:04}")] } else { vec![] },
            wiki_user: (i % 3 == 0).then(|| format!("Ada{i}")),
            organization: (i % 4 == 0).then(|| "Analytical Engines".to_string()),
            tags: if i % 5 == 0 { vec!["press".into(), "vip".into()] } else { vec![] },
            notes: Some(format!("met at Wikimania {i}")),
            ..Default::default()
        };
        let contact = contacts::create(&mut store, input).expect("contact");
        let case = cases::create(
            &mut store,
            CaseInput {
                queue: queue.id,
                subject: format!("Biography question {i}"),
                reader: Some(contact.id),
                text: Some(format!("Please correct the birth date {i}")),
                tags: if i % 2 == 0 { vec!["blp".into()] } else { vec![] },
                ..Default::default()
            },
        )
        .expect("case");
        let reply = MessageInput { kind: "reply".into(), body: Some(format!("Thank you {i}")), ..Default::default() };
        cases::add_message(&mut store, case.id, reply, vec![]).expect("reply");
    }
    (dir, store, key)
}

#[test]
fn the_bulk_search_rebuild_indexes_exactly_what_row_by_row_indexing_does() {
    // A first sync defers search entries and builds them in one statement at its end; a person
    // must find the same rows either way.
    let (_dir, mut store, _key) = store_with_contacts_and_cases();
    let by_row = (search_entries(&store, "contact_fts"), search_entries(&store, "case_fts"));
    assert_eq!((by_row.0.len(), by_row.1.len()), (20, 20), "every contact and case has its entry");
    store.transaction(|tx| liaison_core::entities::rebuild_search(tx)).expect("rebuild");
    let bulk = (search_entries(&store, "contact_fts"), search_entries(&store, "case_fts"));
    assert_eq!(bulk, by_row, "the bulk rebuild writes the very entries reindexing one row at a time wrote");
    let hits = contacts::search(&store, "a.l7@example", 0, 10).expect("search").items;
    assert_eq!(hits.len(), 1, "a contact is found by a child row's text after the rebuild");
    for table in ["contact_fts", "case_fts"] {
        let hash_size: Option<i64> = store
            .conn()
            .query_row(&format!("SELECT v FROM {table}_config WHERE k = 'hashsize'"), [], |r| r.get(0))
            .optional()
            .expect("config");
        assert!(
            matches!(hash_size, None | Some(1_048_576)),
            "{table}: the large write buffer of the bulk rebuild does not outlive it (found {hash_size:?})"
        );
    }
}

#[test]
fn search_entries_deferred_by_a_bulk_load_that_never_ended_are_built_when_the_store_opens() {
    let (dir, store, key) = store_with_contacts_and_cases();
    // As a first sync cut off for good leaves it: indexes suspended, entries not written yet.
    liaison_core::entities::suspend_indexes(store.conn()).expect("suspend");
    store.conn().execute_batch("DELETE FROM contact_fts; DELETE FROM case_fts;").expect("drop entries");
    store.close().expect("close");
    let store = Store::open(&dir.path().join("liaison.db"), &key).expect("reopen");
    assert_eq!(search_entries(&store, "contact_fts").len(), 20, "every stored contact is searchable again");
    assert_eq!(search_entries(&store, "case_fts").len(), 20, "and every case");
    assert_eq!(
        liaison_core::store::meta::get(store.conn(), "search_deferred").expect("meta"),
        None,
        "and the next open has nothing left to rebuild"
    );
}
