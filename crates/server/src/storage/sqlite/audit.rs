//! The audit log's table (see [`crate::audit`]): append-only by the server, one chain.

use super::{db, sync::to_u64};
use crate::audit::{self, AuditEntry, NewAudit};
use crate::storage::StorageError;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// 9: the audit log.
pub(super) const MIGRATION_9: &str = "
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY NOT NULL,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL,
    hash   TEXT NOT NULL
);
";

pub(super) fn append(c: &mut Connection, entry: &NewAudit, now: DateTime<Utc>) -> Result<AuditEntry, StorageError> {
    // Immediate: no other writer between reading the head and appending after it.
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db)?;
    let head: Option<(i64, String)> = tx
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db)?;
    let (prev_seq, prev) = head.unwrap_or((0, audit::GENESIS.to_owned()));
    let e = AuditEntry::chained(&prev, to_u64(prev_seq)? + 1, audit::timestamp(now), entry);
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, object, detail, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![prev_seq + 1, e.at, e.actor, e.action, e.object, e.detail, e.hash],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(e)
}

pub(super) fn entries(c: &Connection, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, at, actor, action, object, detail, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![i64::try_from(after).unwrap_or(i64::MAX), i64::from(limit.max(1))], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at, actor, action, object, detail, hash) = row.map_err(db)?;
        out.push(AuditEntry { seq: to_u64(seq)?, at, actor, action, object, detail, hash });
    }
    Ok(out)
}
