//! The embedded SQLite backend: one connection behind a mutex, every call on the blocking pool.
//!
//! SQLite has one writer at a time, so a single connection costs nothing in throughput and makes
//! the sequence counter trivially gap- and race-free (a pull can never see seq 4 before seq 3
//! commits). WAL with `synchronous = FULL`: a push that was answered is on disk.
//!
//! The workspace builds rusqlite with SQLCipher for the client; without a key it is plain SQLite.
//! Each table group lives in its own module with its migration steps and its queries.

mod access;
mod audit;
mod devices;
mod port;
mod records;
mod sync;
mod users;

use super::{
    Device, DeviceAuth, DeviceInfo, ErasureReport, GrantInfo, GrantReport, NewDevice, NewUser, PruneReport, PullPage,
    PulledRow, Pusher, Record, RowsOfKind, SnapshotChunk, Storage, StorageError, User, UserCredentials,
};
use crate::engine;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{PushBatch, PushResponse, Role};
use port::SqliteTx;
use rusqlite::{Connection, ErrorCode as SqliteCode};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// Schema steps in order; `PRAGMA user_version` records how many have run. Steps are additive:
/// never edit a released step, append a new one.
const MIGRATIONS: &[&[&str]] = &[
    // 1: users, devices, synced rows.
    &[users::MIGRATION_1, devices::MIGRATION_1, sync::MIGRATION_1],
    // 2: erasure (purged tombstones and the purged ids).
    &[sync::MIGRATION_2],
    // 3: scopes (row scope and parent, grants, revocations) and conflicts (per-field seqs).
    &[sync::MIGRATION_3, access::MIGRATION_3],
    // 4: tombstone retention (when each tombstone was written, the pruning horizon).
    &[sync::MIGRATION_4],
    // 5: each live row's fields as one document (a pull reads rows, not fields).
    &[sync::MIGRATION_5],
    // 6: one engine for many entities (a row's person and protocol, revocations for moved trees,
    // scopes granted by rows).
    &[sync::MIGRATION_6],
    // 7: the server's own records (mail state), named counters, contacts found by address.
    &[records::MIGRATION_7],
    // 8: when a revoked device confirmed it wiped its local data.
    &[devices::MIGRATION_8],
    // 9: the audit log (a hash chain).
    &[audit::MIGRATION_9],
];

/// Steps of a migration that SQL alone cannot do, run after its SQL in the same transaction.
fn after_migration(conn: &Connection, version: usize) -> Result<(), StorageError> {
    match version {
        3 => sync::backfill_parents(conn),
        5 => sync::backfill_documents(conn, None),
        6 => sync::backfill_conflict_owners(conn),
        _ => Ok(()),
    }
}

/// The SQLite implementation of [`Storage`].
#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Open (creating if needed) the database at `path` and bring its schema up to date.
    /// This blocks; call it at start-up or from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let conn = Connection::open(path).map_err(|e| {
            StorageError::Backend(format!(
                "cannot open {}: {e}; check that the directory exists and is writable",
                path.display()
            ))
        })?;
        Self::setup(conn)
    }

    /// A private in-memory database (for tests and experiments).
    pub fn open_in_memory() -> Result<Self, StorageError> {
        Self::setup(Connection::open_in_memory().map_err(db)?)
    }

    fn setup(mut conn: Connection) -> Result<Self, StorageError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        // journal_mode answers with a row, so it cannot go through execute_batch on every build.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            return Err(StorageError::Backend(format!("the database refused WAL mode (journal_mode is {mode})")));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(db)?;
        // Erased data must not linger in free pages: overwrite deleted content with zeros.
        let secure: i64 = conn.query_row("PRAGMA secure_delete = ON", [], |r| r.get(0)).map_err(db)?;
        if secure != 1 {
            return Err(StorageError::Backend("the database refused secure_delete".into()));
        }
        migrate(&mut conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Run `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock dropped its transaction (rolled back), so the
            // connection is still consistent: keep using it rather than failing forever.
            let mut guard = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Backend(format!("a database task failed: {e}")))?
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
    if found > known {
        return Err(StorageError::TooNew { found, known });
    }
    for (index, steps) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(db)?;
        for sql in *steps {
            tx.execute_batch(sql).map_err(db)?;
        }
        after_migration(&tx, index + 1)?;
        tx.pragma_update(None, "user_version", i64::try_from(index + 1).unwrap_or(i64::MAX)).map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}

/// Map a rusqlite error; busy/locked becomes [`StorageError::Busy`] so callers can say "retry".
pub(crate) fn db(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => StorageError::Busy,
        _ => StorageError::Backend(e.to_string()),
    }
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Timestamps are stored as RFC 3339 UTC with milliseconds, which sorts as text.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn parse_uuid(bytes: &[u8]) -> rusqlite::Result<Uuid> {
    Uuid::from_slice(bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))
}

pub(crate) fn parse_role(text: &str) -> rusqlite::Result<Role> {
    Role::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role {text:?} in the database").into(),
        )
    })
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn create_user(&self, new: NewUser) -> Result<User, StorageError> {
        self.call(move |c| users::create(c, &new, Utc::now())).await
    }

    async fn find_user_by_name(&self, name: &str) -> Result<Option<UserCredentials>, StorageError> {
        let name = name.to_owned();
        self.call(move |c| users::find_by_name(c, &name)).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        self.call(users::list).await
    }

    async fn set_role(&self, name: &str, role: Role) -> Result<User, StorageError> {
        let name = name.to_owned();
        self.call(move |c| engine::run_ready(engine::set_role(SqliteTx::begin(c)?, &name, role, Utc::now()))).await
    }

    async fn grant(&self, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantReport, StorageError> {
        let (name, scope) = (user_name.to_owned(), scope.to_owned());
        self.call(move |c| engine::run_ready(engine::grant(SqliteTx::begin(c)?, &name, &scope, now))).await
    }

    async fn revoke(&self, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantInfo, StorageError> {
        let (name, scope) = (user_name.to_owned(), scope.to_owned());
        self.call(move |c| engine::run_ready(engine::revoke(SqliteTx::begin(c)?, &name, &scope, now))).await
    }

    async fn list_grants(&self) -> Result<Vec<GrantInfo>, StorageError> {
        self.call(access::list_grants).await
    }

    async fn register_device(&self, new: NewDevice, now: DateTime<Utc>) -> Result<Device, StorageError> {
        self.call(move |c| devices::register(c, &new, now)).await
    }

    async fn find_device_by_token_hash(&self, token_hash: &str) -> Result<Option<DeviceAuth>, StorageError> {
        let hash = token_hash.to_owned();
        self.call(move |c| devices::find_by_token_hash(c, &hash)).await
    }

    async fn touch_device(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.call(move |c| devices::touch(c, device_id, now)).await
    }

    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StorageError> {
        self.call(devices::list).await
    }

    async fn revoke_device(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
        self.call(move |c| devices::revoke(c, device_id, now)).await
    }

    async fn confirm_wiped(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
        self.call(move |c| devices::confirm_wiped(c, device_id, now)).await
    }

    async fn append_audit(
        &self,
        entry: &crate::audit::NewAudit,
        now: DateTime<Utc>,
    ) -> Result<crate::audit::AuditEntry, StorageError> {
        let entry = entry.clone();
        self.call(move |c| audit::append(c, &entry, now)).await
    }

    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<crate::audit::AuditEntry>, StorageError> {
        self.call(move |c| audit::entries(c, after, limit)).await
    }

    async fn push_as(
        &self,
        pusher: Pusher,
        batch: &PushBatch,
        now: DateTime<Utc>,
    ) -> Result<PushResponse, StorageError> {
        let batch = batch.clone();
        self.call(move |c| engine::run_ready(engine::push(SqliteTx::begin(c)?, &pusher, &batch, now))).await
    }

    async fn erase_contact(&self, contact_id: Uuid, now: DateTime<Utc>) -> Result<ErasureReport, StorageError> {
        self.call(move |c| engine::run_ready(engine::erase(SqliteTx::begin(c)?, contact_id, now))).await
    }

    async fn rows_of(&self, kind: EntityKind) -> Result<RowsOfKind, StorageError> {
        self.call(move |c| sync::rows_of(c, kind)).await
    }

    async fn ended_among(&self, kind: EntityKind, ids: &[Uuid]) -> Result<Vec<Uuid>, StorageError> {
        let ids = ids.to_vec();
        self.call(move |c| sync::ended_among(c, kind, &ids)).await
    }

    async fn list_clamps(&self, limit: u32) -> Result<Vec<crate::storage::ClampRecord>, StorageError> {
        self.call(move |c| sync::list_clamps(c, limit)).await
    }

    async fn pull_page_as(&self, user: &User, since: u64, limit: u32, protocol: u32) -> Result<PullPage, StorageError> {
        let user = user.clone();
        self.call(move |c| sync::pull(c, &user, since, limit, protocol)).await
    }

    async fn current_seq(&self) -> Result<u64, StorageError> {
        self.call(|c| sync::current_seq(c)).await
    }

    async fn snapshot_chunk_as(
        &self,
        user: &User,
        at: u64,
        after: u64,
        limit: u32,
        protocol: u32,
    ) -> Result<SnapshotChunk, StorageError> {
        let user = user.clone();
        self.call(move |c| sync::snapshot_chunk(c, &user, at, after, limit, protocol)).await
    }

    async fn prune_tombstones(&self, older_than: DateTime<Utc>) -> Result<PruneReport, StorageError> {
        self.call(move |c| sync::prune_tombstones(c, older_than)).await
    }

    async fn feed(&self, since: u64, limit: u32) -> Result<Vec<PulledRow>, StorageError> {
        self.call(move |c| records::feed(c, since, limit)).await
    }

    async fn row(&self, kind: EntityKind, id: Uuid) -> Result<Option<liaison_protocol::wire::RowState>, StorageError> {
        self.call(move |c| records::row(c, None, kind, id)).await
    }

    async fn row_for(
        &self,
        user: &User,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Option<liaison_protocol::wire::RowState>, StorageError> {
        let user = user.id;
        self.call(move |c| records::row(c, Some(user), kind, id)).await
    }

    async fn children(&self, parent: Uuid) -> Result<Vec<liaison_protocol::wire::RowState>, StorageError> {
        self.call(move |c| records::children(c, parent)).await
    }

    async fn contacts_with_address(&self, address: &str) -> Result<Vec<Uuid>, StorageError> {
        let address = address.to_owned();
        self.call(move |c| records::contacts_with_address(c, &address)).await
    }

    async fn record(&self, kind: &str, key: &str) -> Result<Option<Record>, StorageError> {
        let (kind, key) = (kind.to_owned(), key.to_owned());
        self.call(move |c| records::get(c, &kind, &key)).await
    }

    async fn put_record(&self, record: &Record) -> Result<(), StorageError> {
        let record = record.clone();
        self.call(move |c| records::put(c, &record)).await
    }

    async fn insert_record(&self, record: &Record) -> Result<bool, StorageError> {
        let record = record.clone();
        self.call(move |c| records::insert(c, &record)).await
    }

    async fn swap_record(&self, record: &Record, expected_state: &str) -> Result<bool, StorageError> {
        let (record, expected) = (record.clone(), expected_state.to_owned());
        self.call(move |c| records::swap(c, &record, &expected)).await
    }

    async fn delete_record(&self, kind: &str, key: &str) -> Result<bool, StorageError> {
        let (kind, key) = (kind.to_owned(), key.to_owned());
        self.call(move |c| records::delete(c, &kind, &key)).await
    }

    async fn list_records(
        &self,
        kind: &str,
        state: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Record>, StorageError> {
        let (kind, state, after) = (kind.to_owned(), state.map(str::to_owned), after.map(str::to_owned));
        self.call(move |c| records::list(c, &kind, state.as_deref(), after.as_deref(), limit)).await
    }

    async fn next_number(&self, counter: &str) -> Result<u64, StorageError> {
        let counter = counter.to_owned();
        self.call(move |c| records::next_number(c, &counter)).await
    }

    async fn put_blob(
        &self,
        user: &User,
        sha256: &str,
        content: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let (user, sha256, content) = (user.clone(), sha256.to_owned(), content.to_vec());
        self.call(move |c| sync::put_blob(c, &user, &sha256, &content, now)).await
    }

    async fn get_blob(&self, user: &User, sha256: &str) -> Result<Vec<u8>, StorageError> {
        let (user, sha256) = (user.clone(), sha256.to_owned());
        self.call(move |c| sync::get_blob(c, &user, &sha256)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_a_database_keeps_its_data_and_schema_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.db");
        {
            let s = SqliteStorage::open(&path).expect("first open");
            let c = s.conn.lock().expect("lock");
            c.execute("INSERT INTO users (id, name, name_key, role, password_hash, created_at) VALUES (x'00', 'a', 'a', 'staff', 'h', 't')", [])
                .expect("insert");
        }
        let s = SqliteStorage::open(&path).expect("second open must not re-run migrations");
        let c = s.conn.lock().expect("lock");
        let n: i64 = c.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).expect("count");
        assert_eq!(n, 1, "data survives a reopen");
        let v: u32 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
        assert_eq!(v as usize, MIGRATIONS.len());
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal", "WAL keeps readers and the writer apart");
    }

    #[tokio::test]
    async fn migration_3_gives_existing_rows_their_parent_scope_and_field_seqs() {
        let mut conn = Connection::open_in_memory().expect("open");
        for steps in &MIGRATIONS[..2] {
            for sql in *steps {
                conn.execute_batch(sql).expect("old schema");
            }
        }
        conn.pragma_update(None, "user_version", 2).expect("version 2");
        let (contact, email) = (Uuid::from_u128(0xC0), Uuid::from_u128(0xE0));
        // A client may spell the parent id in any form Uuid::parse_str accepts.
        let shouted = format!("{:?}", contact.simple().to_string().to_uppercase());
        conn.execute_batch(&format!(
            "UPDATE sync_state SET seq = 2;
             INSERT INTO sync_rows (entity, row_id, seq) VALUES ('contact', x'{c}', 1), ('contact_email', x'{e}', 2);
             INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device) VALUES
                 ('contact', x'{c}', 'display_name', '\"Ada\"', 1, 0, x'{d}'),
                 ('contact_email', x'{e}', 'contact_id', '{shouted}', 1, 0, x'{d}');",
            c = contact.simple(),
            e = email.simple(),
            d = Uuid::from_u128(0xD0).simple(),
        ))
        .expect("rows written by the old server");
        migrate(&mut conn).expect("migrate");

        let (parent, scope, since): (Vec<u8>, String, i64) = conn
            .query_row(
                "SELECT parent_id, scope, public_since FROM sync_rows WHERE row_id = ?1",
                [email.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("email row");
        assert_eq!(
            (parent.as_slice(), scope.as_str()),
            (contact.as_bytes().as_slice(), "public"),
            "parent backfilled from the field"
        );
        assert_eq!(since, 1, "old rows may have reached any device that pulled");
        let seqs: Vec<i64> = conn
            .prepare("SELECT seq FROM sync_fields ORDER BY seq")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("field seqs");
        assert_eq!(seqs, vec![1, 2], "each field takes its row's seq");

        let storage = SqliteStorage { conn: Arc::new(Mutex::new(conn)) };
        let report = storage.erase_contact(contact, Utc::now()).await.expect("erase");
        assert_eq!((report.rows, report.related_rows), (2, 1), "erasure finds the old child by parent_id");
    }

    #[tokio::test]
    async fn migration_4_dates_existing_tombstones_at_the_migration_so_they_are_kept_the_full_period() {
        let mut conn = Connection::open_in_memory().expect("open");
        for (index, steps) in MIGRATIONS[..3].iter().enumerate() {
            for sql in *steps {
                conn.execute_batch(sql).expect("old schema");
            }
            after_migration(&conn, index + 1).expect("old steps");
        }
        conn.pragma_update(None, "user_version", 3).expect("version 3");
        conn.execute_batch(
            "UPDATE sync_state SET seq = 2;
             INSERT INTO sync_rows (entity, row_id, seq) VALUES ('contact', x'01', 1);
             INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_seq) VALUES ('contact', x'02', 2, 1, 2);",
        )
        .expect("a live row and a tombstone written by the old server");
        let before = Utc::now();
        migrate(&mut conn).expect("migrate");
        let dates: Vec<Option<String>> = conn
            .prepare("SELECT deleted_at FROM sync_rows ORDER BY seq")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("dates");
        assert_eq!(dates[0], None, "a live row has no deletion time");
        let dated = parse_ts(dates[1].as_deref().expect("the tombstone is dated")).expect("RFC 3339");
        assert!(
            dated >= before - chrono::Duration::seconds(1) && dated <= Utc::now(),
            "dated at the migration: {dated}"
        );

        let storage = SqliteStorage { conn: Arc::new(Mutex::new(conn)) };
        let kept = storage.prune_tombstones(Utc::now() - chrono::Duration::days(180)).await.expect("prune");
        assert_eq!((kept.rows, kept.horizon_seq), (0, 0), "an old server's tombstone gets the full retention period");
        let pruned = storage.prune_tombstones(Utc::now() + chrono::Duration::seconds(1)).await.expect("prune");
        assert_eq!((pruned.rows, pruned.horizon_seq), (1, 2));
    }

    #[tokio::test]
    async fn migration_5_stores_each_live_row_s_fields_as_the_document_a_pull_sends() {
        let mut conn = Connection::open_in_memory().expect("open");
        for (index, steps) in MIGRATIONS[..4].iter().enumerate() {
            for sql in *steps {
                conn.execute_batch(sql).expect("old schema");
            }
            after_migration(&conn, index + 1).expect("old steps");
        }
        conn.pragma_update(None, "user_version", 4).expect("version 4");
        let device = Uuid::from_u128(0xD0);
        conn.execute_batch(&format!(
            "UPDATE sync_state SET seq = 3;
             INSERT INTO sync_rows (entity, row_id, seq) VALUES ('contact', x'{r1}', 1), ('contact', x'{r2}', 2);
             INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_seq) VALUES ('contact', x'{r3}', 3, 1, 3);
             INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq) VALUES
                 ('contact', x'{r1}', 'display_name', '\"Ada\"', 5, 1, x'{d}', 1),
                 ('contact', x'{r1}', 'notes', '{{\"a\": [1, 2]}}', 6, 0, x'{d}', 1);",
            d = device.simple(),
            r1 = Uuid::from_u128(1).simple(),
            r2 = Uuid::from_u128(2).simple(),
            r3 = Uuid::from_u128(3).simple(),
        ))
        .expect("rows written by the old server: one with fields, one without, a tombstone");
        migrate(&mut conn).expect("migrate");

        let storage = SqliteStorage { conn: Arc::new(Mutex::new(conn)) };
        let user = storage
            .create_user(NewUser { name: "ada".into(), role: Role::Admin, password_hash: "unused".into() })
            .await
            .expect("user");
        let page = storage.pull(&user, 0, 10).await.expect("the migrated rows pull");
        let fields: Vec<Vec<(String, serde_json::Value)>> =
            page.rows.iter().map(|r| r.fields.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect()).collect();
        assert_eq!(
            fields,
            vec![
                vec![
                    ("display_name".into(), serde_json::json!("Ada")),
                    ("notes".into(), serde_json::json!({"a": [1, 2]}))
                ],
                vec![],
                vec![],
            ],
            "the document holds exactly the row's fields; a row without fields and a tombstone have none"
        );
        let first = &page.rows[0].fields["display_name"];
        assert_eq!(
            (first.hlc.millis, first.hlc.counter, first.device),
            (5, 1, device),
            "stamps come through unchanged"
        );
        assert!(page.rows[2].deleted);
    }

    #[tokio::test]
    async fn migration_6_names_the_owner_of_older_conflicts_and_the_person_of_older_child_rows() {
        let mut conn = Connection::open_in_memory().expect("open");
        for (index, steps) in MIGRATIONS[..5].iter().enumerate() {
            for sql in *steps {
                conn.execute_batch(sql).expect("old schema");
            }
            after_migration(&conn, index + 1).expect("old steps");
        }
        conn.pragma_update(None, "user_version", 5).expect("version 5");
        let (contact, email, conflict) = (Uuid::from_u128(0xC0), Uuid::from_u128(0xE0), Uuid::from_u128(0xCF));
        conn.execute_batch(&format!(
            "UPDATE sync_state SET seq = 3;
             INSERT INTO sync_rows (entity, row_id, seq, parent_id, doc) VALUES
                 ('contact', x'{c}', 1, NULL, '{{}}'), ('contact_email', x'{e}', 2, x'{c}', '{{}}'), ('conflict', x'{f}', 3, x'{c}', '{{}}');
             INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq) VALUES
                 ('conflict', x'{f}', 'contact_id', '\"{cs}\"', 7, 0, x'{d}', 3),
                 ('conflict', x'{f}', 'kind', '\"field\"', 7, 0, x'{d}', 3);",
            c = contact.simple(),
            e = email.simple(),
            f = conflict.simple(),
            cs = contact,
            d = Uuid::nil().simple(),
        ))
        .expect("rows written by the previous server");
        migrate(&mut conn).expect("migrate");
        let person: Vec<u8> = conn
            .query_row("SELECT person_id FROM sync_rows WHERE row_id = ?1", [email.as_bytes()], |r| r.get(0))
            .expect("email");
        assert_eq!(person.as_slice(), contact.as_bytes(), "an email belongs to its contact for erasure");

        let storage = SqliteStorage { conn: Arc::new(Mutex::new(conn)) };
        let admin = storage
            .create_user(NewUser { name: "ada".into(), role: Role::Admin, password_hash: "unused".into() })
            .await
            .expect("user");
        let page = storage.pull(&admin, 0, 10).await.expect("pull");
        let row = page.rows.iter().find(|r| r.row_id == conflict).expect("the conflict");
        assert_eq!(row.fields["owner_entity"].value, serde_json::json!("contact"));
        assert_eq!(
            row.fields["owner_id"].value,
            serde_json::json!(contact.to_string()),
            "the owner is the contact it named"
        );
        assert_eq!(row.fields["owner_id"].hlc, row.fields["contact_id"].hlc, "stamped as the field it comes from");
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.db");
        Connection::open(&path).expect("open").pragma_update(None, "user_version", 99).expect("set");
        let err = SqliteStorage::open(&path).expect_err("must refuse");
        assert!(matches!(err, StorageError::TooNew { found: 99, .. }), "got {err:?}");
    }
}
