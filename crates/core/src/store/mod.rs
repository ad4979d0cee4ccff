//! The encrypted local database (SQLCipher through rusqlite).
//!
//! [`Store::open`] refuses anything it cannot trust: a plain SQLite file, a file that does not
//! decrypt with the key, an SQLite build without SQLCipher, or settings that would leak data
//! (temp files on disk) or lose it (`synchronous` below FULL). It verifies the key by reading the
//! schema before any write, so a wrong key never damages a database.
//!
//! Tables are organised by module: [`meta`] (device id, clock, server settings), [`sync_tables`]
//! (per-field clocks, outbox, tombstones), [`contacts`] (contacts, their child rows, full-text
//! index). Each module owns its migration steps; [`MIGRATIONS`] lists them in order and
//! `PRAGMA user_version` records how many have run.

pub mod contacts;
pub mod desk;
pub mod meta;
pub mod search;
pub mod sync_tables;
pub mod values;
pub mod write;

use crate::error::{Error, ErrorCode, Result};
use crate::vault::DataKey;
use rusqlite::{Connection, OpenFlags, Transaction};
use std::path::{Path, PathBuf};

/// One migration step: a module's name and the SQL it runs.
pub struct Migration {
    pub table: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only: never edit or reorder a step that has shipped.
pub const MIGRATIONS: &[Migration] = &[
    meta::MIGRATION_1,
    sync_tables::MIGRATION_1,
    contacts::MIGRATION_1,
    sync_tables::MIGRATION_2,
    contacts::MIGRATION_2,
    contacts::MIGRATION_CONFLICTS,
    sync_tables::MIGRATION_3,
    sync_tables::MIGRATION_4,
    sync_tables::MIGRATION_5,
    desk::MIGRATION_1,
    desk::MIGRATION_CANNED,
    desk::MIGRATION_DELIVERY,
    desk::MIGRATION_VIEWS,
    desk::MIGRATION_SIDEBAR,
    desk::MIGRATION_LINKS,
];

const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// An open, unlocked database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

fn refuse(code: ErrorCode, message: String) -> Error {
    Error::new(code, message)
}

impl Store {
    /// Create a new encrypted database at `path`. Fails if a file is already there.
    pub fn create(path: &Path, key: &DataKey) -> Result<Store> {
        if path.exists() {
            return Err(refuse(
                ErrorCode::VaultExists,
                format!("{} already exists; Liaison never overwrites a database. Move it away first.", path.display()),
            ));
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)?;
        let mut store = Store::configure(conn, path, key)?;
        store.migrate()?;
        meta::init_device(&store.conn)?;
        Ok(store)
    }

    /// An unencrypted store with the same schema and settings, only for measuring what
    /// encryption costs (benchmark B5/B6). Compiled only with the `bench-plaintext` feature.
    #[cfg(feature = "bench-plaintext")]
    pub fn create_plaintext_for_benchmarks(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;")?;
        conn.set_prepared_statement_cache_capacity(256);
        let mut store = Store { conn, path: path.to_path_buf() };
        store.migrate()?;
        meta::init_device(&store.conn)?;
        Ok(store)
    }

    /// Open an existing encrypted database, verifying the key and every security setting.
    pub fn open(path: &Path, key: &DataKey) -> Result<Store> {
        match std::fs::File::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refuse(
                    ErrorCode::CorruptDatabase,
                    format!(
                        "The database {} is missing although its vault exists. Liaison will not silently create an empty one; \
                         restore the file, or remove vault.json to start over.",
                        path.display()
                    ),
                ));
            }
            Err(e) => return Err(Error::internal(&format!("cannot open {}", path.display()), e)),
            Ok(mut f) => {
                use std::io::Read;
                let mut head = [0u8; 16];
                if f.read_exact(&mut head).is_ok() && head == SQLITE_HEADER {
                    return Err(refuse(
                        ErrorCode::CorruptDatabase,
                        format!(
                            "{} is a plain, unencrypted SQLite file, not a Liaison database. It was left untouched; \
                             move it away so Liaison can use its own encrypted database.",
                            path.display()
                        ),
                    ));
                }
            }
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let mut store = Store::configure(conn, path, key)?;
        store.migrate()?;
        // A first sync interrupted for good leaves its indexes suspended: build them again.
        crate::entities::restore_indexes(&store.conn)?;
        Ok(store)
    }

    fn configure(conn: Connection, path: &Path, key: &DataKey) -> Result<Store> {
        // Silence SQLCipher's own stderr logging of HMAC failures; we report them ourselves.
        let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
        conn.execute_batch(&format!("PRAGMA key = \"{}\";", key.sqlcipher_literal().as_str()))?;
        let cipher_version: String = conn.query_row("PRAGMA cipher_version", [], |r| r.get(0)).unwrap_or_default();
        if cipher_version.trim().is_empty() {
            return Err(refuse(
                ErrorCode::Internal,
                "This build of Liaison has no SQLCipher; it refuses to store data unencrypted.".into(),
            ));
        }
        // A wrong key fails only on the first read: read the schema before anything else.
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)).map_err(
            |e| match Error::from(e) {
                err if err.code == ErrorCode::CorruptDatabase => refuse(
                    ErrorCode::CorruptDatabase,
                    format!(
                        "{} could not be decrypted with this vault's key: it is damaged, was changed outside Liaison, \
                     or belongs to another vault. Nothing was modified.",
                        path.display()
                    ),
                ),
                err => err,
            },
        )?;
        conn.execute_batch(
            "PRAGMA temp_store = MEMORY;
             PRAGMA secure_delete = ON;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;",
        )?;
        // Every page SQLCipher reads from disk is decrypted and HMAC-checked, so a page cache
        // that holds the working set matters far more than with plain SQLite (the default 2 MB
        // made encrypted searches 14× slower than plain ones). 64 MiB stays within the memory
        // budget (performance.md B2).
        conn.execute_batch("PRAGMA cache_size = -65536;")?;
        // The write layer builds SQL per entity and field set; keep those statements prepared.
        conn.set_prepared_statement_cache_capacity(256);
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        let store = Store { conn, path: path.to_path_buf() };
        store.verify_settings(&mode)?;
        Ok(store)
    }

    /// The settings the security design requires, read back rather than assumed.
    fn verify_settings(&self, journal_mode: &str) -> Result<()> {
        let int =
            |pragma: &str| -> Result<i64> { Ok(self.conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))?) };
        let problems: Vec<String> = [
            (journal_mode.eq_ignore_ascii_case("wal"), format!("journal_mode is {journal_mode}, not WAL")),
            (int("synchronous")? == 2, "synchronous is not FULL".to_string()),
            (int("temp_store")? == 2, "temp_store is not MEMORY".to_string()),
            (int("secure_delete")? == 1, "secure_delete is off".to_string()),
            (int("cipher_use_hmac").unwrap_or(1) == 1, "SQLCipher HMAC is off".to_string()),
            (int("cipher_plaintext_header_size").unwrap_or(0) == 0, "the header is stored in plaintext".to_string()),
        ]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, why)| why)
        .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(refuse(
                ErrorCode::Internal,
                format!("The database settings are unsafe ({}); refusing to continue.", problems.join("; ")),
            ))
        }
    }

    fn migrate(&mut self) -> Result<()> {
        let done: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let done = usize::try_from(done).unwrap_or(0);
        if done > MIGRATIONS.len() {
            return Err(refuse(
                ErrorCode::CorruptDatabase,
                "This database was written by a newer version of Liaison; update Liaison to open it.".into(),
            ));
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(done) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(step.sql)
                .map_err(|e| Error::internal(&format!("migration {} ({})", i + 1, step.table), e))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Run `f` in one immediate transaction; commits on `Ok`, rolls back on `Err`.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// [`Store::transaction`] for data that can be fetched again (a chunk of a snapshot with its
    /// progress): still atomic, but the commit does not wait for the disk. A power cut may undo
    /// it (never half of it, and never an earlier transaction); the next ordinary commit makes
    /// it durable. Such transactions come many in a row (a first sync stores hundreds), so the
    /// log is also copied into the database less often (every 32 MB instead of every 4 MB): a
    /// page written by several of them is copied once. The settings go back to `FULL` and the
    /// default before this returns, whatever happens.
    pub fn transaction_refetchable<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 8192;")?;
        let out = self.transaction(f);
        let restored = self.conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 1000;");
        let out = out?;
        restored?;
        Ok(out)
    }

    /// `PRAGMA integrity_check` (and SQLCipher's page HMAC check), for tests and diagnostics.
    pub fn integrity_check(&self) -> Result<()> {
        let result: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(Error::new(ErrorCode::CorruptDatabase, format!("integrity check failed: {result}")))
        }
    }

    /// Flush the WAL into the main file (used before closing, and by tests).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    /// Close the connection, reporting any error instead of dropping it.
    pub fn close(self) -> Result<()> {
        let _ = self.checkpoint();
        self.conn.close().map_err(|(_, e)| Error::from(e))
    }
}
