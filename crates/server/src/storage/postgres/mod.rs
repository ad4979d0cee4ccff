//! The PostgreSQL backend: a `deadpool-postgres` pool of `tokio-postgres` connections.
//!
//! **No TLS to the database** (for now): connect over loopback TCP or a unix socket
//! (`postgres://USER@%2Frun%2Fpostgresql/DB` or `host=/run/postgresql`), never across a network.
//!
//! Sequence numbers: PostgreSQL transactions commit concurrently, so a plain `SEQUENCE` could let
//! a reader see seq 4 committed while seq 3 is still in flight (and the pull cursor would skip 3
//! forever). Every push therefore starts by locking the one-row `sync_state` counter with
//! `SELECT … FOR UPDATE`: pushes are serialised, seq order is commit order, and a pull never
//! skips a committed change (see `sync.rs` and the sequence test in `tests/server/storage`).
//!
//! Column types: `uuid` for ids, `bigint` for seq and clock millis/counters, `timestamptz`
//! (stored at millisecond precision, like SQLite's text) for times, and `text` for field values
//! and stored responses, so what a pull returns is byte-identical to SQLite (`jsonb` would
//! reorder object keys). The schema is versioned in `schema_version`; migrations run at open
//! under an advisory lock, so two servers starting together do not race.

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
use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{PushBatch, PushResponse, Role};
use port::PgTx;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

/// Schema steps in order; `schema_version.version` records how many have run. Steps are
/// additive: never edit a released step, append a new one.
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
async fn after_migration(tx: &deadpool_postgres::Transaction<'_>, version: usize) -> Result<(), StorageError> {
    match version {
        3 => sync::backfill_parents(tx).await,
        5 => sync::backfill_documents(tx, None).await,
        6 => sync::backfill_conflict_owners(tx).await,
        _ => Ok(()),
    }
}

/// Taken (per transaction) while migrating, so concurrent starts run the steps once.
const MIGRATION_LOCK: i64 = 0x6c69_6169_736f_6e01;

/// Connections kept by the pool.
const POOL_SIZE: usize = 16;

/// The PostgreSQL implementation of [`Storage`].
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Pool,
    target: String,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").field("target", &self.target).finish_non_exhaustive()
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `host:port/database` of a connection config, for messages (never the password).
fn describe(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = if config.get_hosts().is_empty() {
        vec!["localhost".to_owned()]
    } else {
        config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect()
    };
    let with_ports: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or_else(|| ports.first()).copied().unwrap_or(5432);
            format!("{h}:{port}")
        })
        .collect();
    let user = config.get_user().unwrap_or("(default user)");
    let db = config.get_dbname().or(config.get_user()).unwrap_or("(default database)");
    format!("{} (database {db:?}, user {user:?})", with_ports.join(","))
}

impl PostgresStorage {
    /// Connect to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) and bring
    /// its schema up to date. Errors name the host and port but never the password.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        if !is_postgres_url(url) {
            return Err(StorageError::Invalid(
                "the database must be a PostgreSQL URL such as postgres://USER@HOST:PORT/DATABASE; \
                 leave --database out to use the embedded SQLite database in the data directory"
                    .into(),
            ));
        }
        let config = tokio_postgres::Config::from_str(url.trim()).map_err(|e| {
            StorageError::Invalid(format!(
                "the PostgreSQL URL is not valid ({e}); the form is postgres://USER@HOST:PORT/DATABASE"
            ))
        })?;
        let target = describe(&config);
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| StorageError::Backend(format!("cannot set up the PostgreSQL connection pool: {e}")))?;
        let storage = Self { pool, target };
        let mut client = storage.pool.get().await.map_err(|e| {
            StorageError::Backend(format!(
                "cannot connect to PostgreSQL at {}: {}; check that the server is running and accepts \
                 connections at that host and port, that the user and database exist, and the password",
                storage.target,
                pool_error_text(&e)
            ))
        })?;
        migrate(&mut client).await?;
        Ok(storage)
    }

    /// `host:port (database, user)` this storage talks to.
    pub fn target(&self) -> &str {
        &self.target
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StorageError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(_) => StorageError::Busy,
            other => StorageError::Backend(format!(
                "cannot reach PostgreSQL at {}: {}",
                self.target,
                pool_error_text(&other)
            )),
        })
    }
}

fn pool_error_text(e: &PoolError) -> String {
    match e {
        PoolError::Backend(pg) => error_text(pg),
        PoolError::Timeout(_) => "timed out".into(),
        other => other.to_string(),
    }
}

async fn migrate(client: &mut deadpool_postgres::Client) -> Result<(), StorageError> {
    let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      integer PRIMARY KEY CHECK (id = 1),
             version integer NOT NULL
         );
         INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )
    .await
    .map_err(db)?;
    let found: i32 = tx.query_one("SELECT version FROM schema_version WHERE id = 1", &[]).await.map_err(db)?.get(0);
    let found = u32::try_from(found).map_err(|e| StorageError::Backend(format!("bad schema version: {e}")))?;
    if found > known {
        return Err(StorageError::TooNew { found, known });
    }
    for (index, steps) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        for sql in *steps {
            tx.batch_execute(sql).await.map_err(db)?;
        }
        after_migration(&tx, index + 1).await?;
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute("UPDATE schema_version SET version = $1 WHERE id = 1", &[&version]).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// The message of a PostgreSQL error: the server's own text when it sent one.
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.severity(), d.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// Map a PostgreSQL error; serialisation failures and lock timeouts become [`StorageError::Busy`].
pub(crate) fn db(e: tokio_postgres::Error) -> StorageError {
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::LOCK_NOT_AVAILABLE =>
        {
            StorageError::Busy
        }
        _ => StorageError::Backend(error_text(&e)),
    }
}

pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Times are stored with millisecond precision, like the SQLite backend's RFC 3339 text.
pub(crate) fn ts(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

pub(crate) fn parse_role(text: &str) -> Result<Role, StorageError> {
    Role::parse(text).ok_or_else(|| StorageError::Backend(format!("unknown role {text:?} in the database")))
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn create_user(&self, new: NewUser) -> Result<User, StorageError> {
        users::create(&self.client().await?, &new, Utc::now()).await
    }

    async fn find_user_by_name(&self, name: &str) -> Result<Option<UserCredentials>, StorageError> {
        users::find_by_name(&self.client().await?, name).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        users::list(&self.client().await?).await
    }

    async fn set_role(&self, name: &str, role: Role) -> Result<User, StorageError> {
        let mut client = self.client().await?;
        engine::set_role(PgTx::new(client.transaction().await.map_err(db)?), name, role, Utc::now()).await
    }

    async fn grant(&self, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantReport, StorageError> {
        let mut client = self.client().await?;
        engine::grant(PgTx::new(client.transaction().await.map_err(db)?), user_name, scope, now).await
    }

    async fn revoke(&self, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantInfo, StorageError> {
        let mut client = self.client().await?;
        engine::revoke(PgTx::new(client.transaction().await.map_err(db)?), user_name, scope, now).await
    }

    async fn list_grants(&self) -> Result<Vec<GrantInfo>, StorageError> {
        access::list_grants(&self.client().await?).await
    }

    async fn register_device(&self, new: NewDevice, now: DateTime<Utc>) -> Result<Device, StorageError> {
        devices::register(&mut self.client().await?, &new, now).await
    }

    async fn find_device_by_token_hash(&self, token_hash: &str) -> Result<Option<DeviceAuth>, StorageError> {
        devices::find_by_token_hash(&self.client().await?, token_hash).await
    }

    async fn touch_device(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
        devices::touch(&self.client().await?, device_id, now).await
    }

    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StorageError> {
        devices::list(&self.client().await?).await
    }

    async fn revoke_device(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
        devices::revoke(&self.client().await?, device_id, now).await
    }

    async fn confirm_wiped(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
        devices::confirm_wiped(&self.client().await?, device_id, now).await
    }

    async fn append_audit(
        &self,
        entry: &crate::audit::NewAudit,
        now: DateTime<Utc>,
    ) -> Result<crate::audit::AuditEntry, StorageError> {
        audit::append(&mut self.client().await?, entry, now).await
    }

    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<crate::audit::AuditEntry>, StorageError> {
        audit::entries(&self.client().await?, after, limit).await
    }

    async fn push_as(
        &self,
        pusher: Pusher,
        batch: &PushBatch,
        now: DateTime<Utc>,
    ) -> Result<PushResponse, StorageError> {
        let mut client = self.client().await?;
        engine::push(PgTx::new(client.transaction().await.map_err(db)?), &pusher, batch, now).await
    }

    async fn erase_contact(&self, contact_id: Uuid, now: DateTime<Utc>) -> Result<ErasureReport, StorageError> {
        let mut client = self.client().await?;
        engine::erase(PgTx::new(client.transaction().await.map_err(db)?), contact_id, now).await
    }

    async fn rows_of(&self, kind: EntityKind) -> Result<RowsOfKind, StorageError> {
        sync::rows_of(&self.client().await?, kind).await
    }

    async fn ended_among(&self, kind: EntityKind, ids: &[Uuid]) -> Result<Vec<Uuid>, StorageError> {
        sync::ended_among(&self.client().await?, kind, ids).await
    }

    async fn list_clamps(&self, limit: u32) -> Result<Vec<crate::storage::ClampRecord>, StorageError> {
        sync::list_clamps(&self.client().await?, limit).await
    }

    async fn feed(&self, since: u64, limit: u32) -> Result<Vec<PulledRow>, StorageError> {
        records::feed(&self.client().await?, since, limit).await
    }

    async fn row(&self, kind: EntityKind, id: Uuid) -> Result<Option<liaison_protocol::wire::RowState>, StorageError> {
        records::row(&mut self.client().await?, None, kind, id).await
    }

    async fn row_for(
        &self,
        user: &User,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Option<liaison_protocol::wire::RowState>, StorageError> {
        records::row(&mut self.client().await?, Some(user.id), kind, id).await
    }

    async fn children(&self, parent: Uuid) -> Result<Vec<liaison_protocol::wire::RowState>, StorageError> {
        records::children(&self.client().await?, parent).await
    }

    async fn contacts_with_address(&self, address: &str) -> Result<Vec<Uuid>, StorageError> {
        records::contacts_with_address(&self.client().await?, address).await
    }

    async fn record(&self, kind: &str, key: &str) -> Result<Option<Record>, StorageError> {
        records::get(&self.client().await?, kind, key).await
    }

    async fn put_record(&self, record: &Record) -> Result<(), StorageError> {
        records::put(&self.client().await?, record).await
    }

    async fn insert_record(&self, record: &Record) -> Result<bool, StorageError> {
        records::insert(&self.client().await?, record).await
    }

    async fn swap_record(&self, record: &Record, expected_state: &str) -> Result<bool, StorageError> {
        records::swap(&self.client().await?, record, expected_state).await
    }

    async fn delete_record(&self, kind: &str, key: &str) -> Result<bool, StorageError> {
        records::delete(&self.client().await?, kind, key).await
    }

    async fn list_records(
        &self,
        kind: &str,
        state: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Record>, StorageError> {
        records::list(&self.client().await?, kind, state, after, limit).await
    }

    async fn next_number(&self, counter: &str) -> Result<u64, StorageError> {
        records::next_number(&self.client().await?, counter).await
    }

    async fn pull_page_as(&self, user: &User, since: u64, limit: u32, protocol: u32) -> Result<PullPage, StorageError> {
        sync::pull(&mut self.client().await?, user, since, limit, protocol).await
    }

    async fn current_seq(&self) -> Result<u64, StorageError> {
        sync::current_seq(&self.client().await?).await
    }

    async fn snapshot_chunk_as(
        &self,
        user: &User,
        at: u64,
        after: u64,
        limit: u32,
        protocol: u32,
    ) -> Result<SnapshotChunk, StorageError> {
        sync::snapshot_chunk(&mut self.client().await?, user, at, after, limit, protocol).await
    }

    async fn prune_tombstones(&self, older_than: DateTime<Utc>) -> Result<PruneReport, StorageError> {
        sync::prune_tombstones(&mut self.client().await?, older_than).await
    }

    async fn put_blob(
        &self,
        user: &User,
        sha256: &str,
        content: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        sync::put_blob(&mut self.client().await?, user, sha256, content, now).await
    }

    async fn get_blob(&self, user: &User, sha256: &str) -> Result<Vec<u8>, StorageError> {
        sync::get_blob(&mut self.client().await?, user, sha256).await
    }
}
