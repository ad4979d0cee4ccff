//! Server-side records that are not synced (mail state), named counters, and the unfiltered
//! change feed the server's own workers follow. Same tables and meaning as the SQLite backend's.

use super::sync::{pulled_row_from, to_i64, to_u64};
use super::{db, is_unique_violation, ts};
use crate::permissions::Access;
use crate::storage::{PulledRow, Record, StorageError};
use deadpool_postgres::Client;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::RowState;
use uuid::Uuid;

pub(super) const MIGRATION_7: &str = "
CREATE TABLE records (
    kind       text NOT NULL,
    key        text NOT NULL,
    state      text NOT NULL,
    doc        text NOT NULL,
    bytes      bytea,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX records_by_state ON records (kind, state, key);
CREATE TABLE counters (
    name  text PRIMARY KEY NOT NULL,
    value bigint NOT NULL
);
CREATE INDEX sync_fields_contact_address ON sync_fields (lower(value))
    WHERE entity = 'contact_email' AND name = 'address';
";

const COLUMNS: &str = "kind, key, state, doc, bytes, updated_at";

fn from_row(r: &tokio_postgres::Row) -> Result<Record, StorageError> {
    let kind: String = r.try_get(0).map_err(db)?;
    let key: String = r.try_get(1).map_err(db)?;
    let doc: String = r.try_get(3).map_err(db)?;
    let doc = serde_json::from_str(&doc)
        .map_err(|e| StorageError::Backend(format!("the stored {kind} record {key:?} is unreadable: {e}")))?;
    Ok(Record {
        state: r.try_get(2).map_err(db)?,
        doc,
        bytes: r.try_get(4).map_err(db)?,
        updated_at: r.try_get(5).map_err(db)?,
        kind,
        key,
    })
}

pub(super) async fn get(c: &Client, kind: &str, key: &str) -> Result<Option<Record>, StorageError> {
    c.query_opt(&format!("SELECT {COLUMNS} FROM records WHERE kind = $1 AND key = $2"), &[&kind, &key])
        .await
        .map_err(db)?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(super) async fn put(c: &Client, record: &Record) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO records (kind, key, state, doc, bytes, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state, doc = excluded.doc, bytes = excluded.bytes,
             updated_at = excluded.updated_at",
        &[&record.kind, &record.key, &record.state, &record.doc.to_string(), &record.bytes, &ts(record.updated_at)],
    )
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn insert(c: &Client, record: &Record) -> Result<bool, StorageError> {
    match c
        .execute(
            "INSERT INTO records (kind, key, state, doc, bytes, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&record.kind, &record.key, &record.state, &record.doc.to_string(), &record.bytes, &ts(record.updated_at)],
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(db(e)),
    }
}

pub(super) async fn swap(c: &Client, record: &Record, expected_state: &str) -> Result<bool, StorageError> {
    let changed = c
        .execute(
            "UPDATE records SET state = $3, doc = $4, bytes = $5, updated_at = $6 WHERE kind = $1 AND key = $2 AND state = $7",
            &[
                &record.kind,
                &record.key,
                &record.state,
                &record.doc.to_string(),
                &record.bytes,
                &ts(record.updated_at),
                &expected_state,
            ],
        )
        .await
        .map_err(db)?;
    Ok(changed == 1)
}

pub(super) async fn delete(c: &Client, kind: &str, key: &str) -> Result<bool, StorageError> {
    Ok(c.execute("DELETE FROM records WHERE kind = $1 AND key = $2", &[&kind, &key]).await.map_err(db)? == 1)
}

pub(super) async fn list(
    c: &Client,
    kind: &str,
    state: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Record>, StorageError> {
    let found = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM records WHERE kind = $1 AND ($2::text IS NULL OR state = $2)
                 AND ($3::text IS NULL OR key COLLATE \"C\" > $3) ORDER BY key COLLATE \"C\" LIMIT $4"
            ),
            &[&kind, &state, &after, &i64::from(limit)],
        )
        .await
        .map_err(db)?;
    found.iter().map(from_row).collect()
}

pub(super) async fn next_number(c: &Client, counter: &str) -> Result<u64, StorageError> {
    let row = c
        .query_one(
            "INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1
             RETURNING value",
            &[&counter],
        )
        .await
        .map_err(db)?;
    to_u64(row.try_get(0).map_err(db)?)
}

pub(super) async fn feed(c: &Client, since: u64, limit: u32) -> Result<Vec<PulledRow>, StorageError> {
    let found = c
        .query(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows WHERE seq > $1
             ORDER BY seq LIMIT $2",
            &[&to_i64(since), &i64::from(limit.max(1))],
        )
        .await
        .map_err(db)?;
    let everything = Access::server();
    let mut rows = Vec::new();
    for r in &found {
        if let (_, Some(row)) = pulled_row_from(r, &everything, u32::MAX)? {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// A row as `user` may read it (`None`: as the server, whatever its scope).
pub(super) async fn row(
    c: &mut Client,
    user: Option<Uuid>,
    kind: EntityKind,
    id: Uuid,
) -> Result<Option<RowState>, StorageError> {
    let tx = c.transaction().await.map_err(db)?;
    let access = match user {
        Some(user) => super::access::load(&tx, user).await?,
        None => Access::server(),
    };
    let found = tx
        .query_opt(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
             WHERE entity = $1 AND row_id = $2",
            &[&kind.as_str(), &id],
        )
        .await
        .map_err(db)?;
    match found {
        Some(r) => match pulled_row_from(&r, &access, u32::MAX)? {
            (_, Some(row)) => Ok(Some(row.decode()?)),
            (_, None) => Ok(None),
        },
        None => Ok(None),
    }
}

pub(super) async fn children(c: &Client, parent: Uuid) -> Result<Vec<RowState>, StorageError> {
    let access = Access::server();
    let found = c
        .query(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
             WHERE parent_id = $1 AND NOT deleted ORDER BY seq",
            &[&parent],
        )
        .await
        .map_err(db)?;
    let mut rows = Vec::new();
    for r in &found {
        if let (_, Some(row)) = pulled_row_from(r, &access, u32::MAX)? {
            rows.push(row.decode()?);
        }
    }
    Ok(rows)
}

pub(super) async fn contacts_with_address(c: &Client, address: &str) -> Result<Vec<Uuid>, StorageError> {
    let quoted = serde_json::Value::String(address.trim().to_lowercase()).to_string();
    let found = c
        .query(
            "SELECT o.value FROM sync_fields f
             JOIN sync_fields o ON o.entity = f.entity AND o.row_id = f.row_id AND o.name = 'contact_id'
             JOIN sync_rows r ON r.entity = f.entity AND r.row_id = f.row_id AND NOT r.deleted
             WHERE f.entity = 'contact_email' AND f.name = 'address' AND lower(f.value) = $1
             ORDER BY r.seq",
            &[&quoted],
        )
        .await
        .map_err(db)?;
    let mut ids = Vec::new();
    for r in &found {
        let value: String = r.try_get(0).map_err(db)?;
        if let Some(id) = serde_json::from_str::<String>(&value).ok().and_then(|s| Uuid::parse_str(&s).ok())
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    Ok(ids)
}
