//! The PostgreSQL backend of the storage tests, and the tests only PostgreSQL needs.
//!
//! The throwaway cluster itself (started once per test binary, one fresh database per test,
//! stopped by a watchdog when the process exits) lives in `liaison_server::testing::postgres`
//! (feature `test-support`), shared with the sync benchmarks. Missing binaries are a test
//! **failure**, never a skip: install `postgresql` (`cargo xtask test` installs it).

use crate::support::{batch, change};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::wire::Role;
use liaison_server::storage::{NewDevice, NewUser, PostgresStorage, Storage, StorageError};
pub use liaison_server::testing::postgres::{free_port, fresh_database_url};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use uuid::Uuid;

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
async fn upgrading_to_row_documents_keeps_every_stored_field_pullable() {
    let url = fresh_database_url().await;
    let storage = PostgresStorage::connect(&url).await.expect("connect");
    let user = storage
        .create_user(NewUser { name: "ana".into(), role: Role::Admin, password_hash: "h".into() })
        .await
        .expect("create");
    let device = Uuid::now_v7();
    storage
        .register_device(
            NewDevice { id: device, user_id: user.id, name: "laptop".into(), token_hash: "t".into() },
            chrono::Utc::now(),
        )
        .await
        .expect("device");
    let hlc = Hlc::new(1_750_000_000_000, 0);
    let rows: Vec<Uuid> = (0..2_500).map(|_| Uuid::now_v7()).collect();
    let changes = rows.iter().enumerate().map(|(i, id)| {
        change(
            *id,
            &[
                ("display_name", json!(format!("Person {i}")), hlc),
                ("notes", json!(format!("met at \"event\" {i}\n")), hlc),
            ],
        )
    });
    for chunk in changes.collect::<Vec<_>>().chunks(500) {
        let pushed = storage.push(&user, device, &batch(chunk.to_vec()), chrono::Utc::now()).await.expect("push");
        assert!(pushed.results.iter().all(|r| r.seq.is_some()), "every row is stored: {:?}", pushed.results.first());
    }
    let before = storage.pull(&user, 0, 5_000).await.expect("pull");
    assert_eq!(before.rows.len(), 2_500);
    drop(storage);

    // The database as schema 4 left it: no documents (and nothing of the later schemas).
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(
            "ALTER TABLE sync_rows DROP COLUMN doc, DROP COLUMN person_id, DROP COLUMN protocol;
             ALTER TABLE revocations DROP COLUMN readers_of, DROP COLUMN unless_scope;
             DROP TABLE row_grants, blobs, records, counters;
             DROP INDEX sync_fields_contact_address;
             DROP INDEX sync_fields_attachment_hash;
             ALTER TABLE devices DROP COLUMN wiped_at;
             DROP TABLE audit;
             UPDATE schema_version SET version = 4;",
        )
        .await
        .expect("back to schema 4");
    let upgraded = PostgresStorage::connect(&url).await.expect("the upgrade runs at connect");
    let after = upgraded.pull(&user, 0, 5_000).await.expect("pull after the upgrade");
    assert_eq!(after, before, "every row pulls with exactly the fields it had");
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
