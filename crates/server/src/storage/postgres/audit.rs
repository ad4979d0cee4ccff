//! The audit log's table (see [`crate::audit`]); the same as the SQLite backend's.

use super::{db, sync::to_u64};
use crate::audit::{self, AuditEntry, NewAudit};
use crate::storage::StorageError;
use chrono::{DateTime, Utc};
use deadpool_postgres::Client;

/// 9: the audit log. `at` is text, so that it hashes exactly as it was written.
pub(super) const MIGRATION_9: &str = "
CREATE TABLE audit (
    seq    bigint PRIMARY KEY NOT NULL,
    at     text NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    object text NOT NULL,
    detail text NOT NULL,
    hash   text NOT NULL
);
";

/// One appender at a time (a transaction-scoped advisory lock), so the chain never forks.
const AUDIT_LOCK: i64 = 0x6c69_6169_736f_6e09;

pub(super) async fn append(c: &mut Client, entry: &NewAudit, now: DateTime<Utc>) -> Result<AuditEntry, StorageError> {
    let tx = c.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await.map_err(db)?;
    let head = tx.query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[]).await.map_err(db)?;
    let (prev_seq, prev): (i64, String) = match head {
        Some(r) => (r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?),
        None => (0, audit::GENESIS.to_owned()),
    };
    let e = AuditEntry::chained(&prev, to_u64(prev_seq)? + 1, audit::timestamp(now), entry);
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, object, detail, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&(prev_seq + 1), &e.at, &e.actor, &e.action, &e.object, &e.detail, &e.hash],
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(e)
}

pub(super) async fn entries(c: &Client, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
    let rows = c
        .query(
            "SELECT seq, at, actor, action, object, detail, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&i64::try_from(after).unwrap_or(i64::MAX), &i64::from(limit.max(1))],
        )
        .await
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(AuditEntry {
            seq: to_u64(r.try_get(0).map_err(db)?)?,
            at: r.try_get(1).map_err(db)?,
            actor: r.try_get(2).map_err(db)?,
            action: r.try_get(3).map_err(db)?,
            object: r.try_get(4).map_err(db)?,
            detail: r.try_get(5).map_err(db)?,
            hash: r.try_get(6).map_err(db)?,
        });
    }
    Ok(out)
}
