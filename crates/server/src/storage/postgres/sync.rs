//! The synced rows (`sync_rows`, `sync_fields`), the sequence counter and the push ledger
//! (`push_batches`, `applied_changes`, `clock_clamps`).
//!
//! Same layout as the SQLite backend. The merge itself is [`crate::sync::plan_change`]; this
//! module loads, calls it and writes, in one transaction per batch.
//!
//! **Sequence numbers:** a push first locks the one-row `sync_state` counter (`FOR UPDATE`) and
//! holds it until it commits, so pushes are serialised and seq order is commit order: a reader
//! can never see seq 4 committed while seq 3 is still in flight. Reads (pulls, logins) are not
//! blocked by the lock.

use super::{db, ts};
use crate::permissions;
use crate::storage::{ErasureReport, StorageError, User};
use crate::sync::{self, Effect, StoredRow};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, Transaction};
use liaison_protocol::hlc::{Clock, Hlc};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldState, MAX_PULL_LIMIT, PullResponse, PushRequest, PushResponse, RowState};
use std::collections::BTreeMap;
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

pub(super) const MIGRATION_1: &str = "
CREATE TABLE sync_state (
    id            integer PRIMARY KEY CHECK (id = 1),
    seq           bigint NOT NULL,
    clamp_millis  bigint NOT NULL,
    clamp_counter bigint NOT NULL
);
INSERT INTO sync_state (id, seq, clamp_millis, clamp_counter) VALUES (1, 0, 0, 0);

CREATE TABLE sync_rows (
    entity          text NOT NULL,
    row_id          uuid NOT NULL,
    seq             bigint NOT NULL UNIQUE,
    deleted         boolean NOT NULL DEFAULT false,
    deleted_millis  bigint,
    deleted_counter bigint,
    deleted_device  uuid,
    PRIMARY KEY (entity, row_id)
);

CREATE TABLE sync_fields (
    entity      text NOT NULL,
    row_id      uuid NOT NULL,
    name        text NOT NULL,
    value       text NOT NULL,
    hlc_millis  bigint NOT NULL,
    hlc_counter bigint NOT NULL,
    device      uuid NOT NULL,
    PRIMARY KEY (entity, row_id, name),
    FOREIGN KEY (entity, row_id) REFERENCES sync_rows (entity, row_id)
);

CREATE TABLE push_batches (
    batch_id   uuid PRIMARY KEY,
    device_id  uuid NOT NULL,
    response   text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE applied_changes (
    change_id uuid PRIMARY KEY,
    batch_id  uuid NOT NULL,
    device_id uuid NOT NULL,
    seq       bigint
);

CREATE TABLE clock_clamps (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_id uuid NOT NULL,
    device_id uuid NOT NULL,
    field     text,
    original  text NOT NULL,
    clamped   text NOT NULL,
    at        timestamptz NOT NULL
);
";

/// 2: erasure. `purged` marks a tombstone left by an erasure; `purged_ids` remembers every erased
/// id (also ids the server never held) and the contact whose erasure purged it.
pub(super) const MIGRATION_2: &str = "
ALTER TABLE sync_rows ADD COLUMN purged boolean NOT NULL DEFAULT false;

CREATE TABLE purged_ids (
    row_id     uuid PRIMARY KEY,
    entity     text NOT NULL,
    contact_id uuid NOT NULL,
    purged_at  timestamptz NOT NULL
);
";

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> Result<u64, StorageError> {
    u64::try_from(n).map_err(backend)
}

fn hlc_from(millis: i64, counter: i64) -> Result<Hlc, StorageError> {
    Ok(Hlc::new(to_u64(millis)?, u32::try_from(counter).map_err(backend)?))
}

pub(super) async fn push(
    c: &mut Client,
    user: &User,
    device: Uuid,
    request: &PushRequest,
    now: DateTime<Utc>,
) -> Result<PushResponse, StorageError> {
    let at = ts(now);
    let tx = c.transaction().await.map_err(db)?;
    // The serialised section: held until commit, so seq order is commit order. Taken before the
    // batch lookup, so a retry racing its original waits for it and answers its stored response.
    let state = tx
        .query_one("SELECT seq, clamp_millis, clamp_counter FROM sync_state WHERE id = 1 FOR UPDATE", &[])
        .await
        .map_err(db)?;
    if let Some(stored) = stored_response(&tx, request.batch_id, device).await? {
        return Ok(stored);
    }
    let mut seq = to_u64(state.try_get(0).map_err(db)?)?;
    let mut clamp_clock = Clock::resume(hlc_from(state.try_get(1).map_err(db)?, state.try_get(2).map_err(db)?)?);
    let now_millis = sync::unix_millis(now);

    let applied = tx.prepare_cached("SELECT seq FROM applied_changes WHERE change_id = $1").await.map_err(db)?;
    let insert_clamp = tx
        .prepare_cached(
            "INSERT INTO clock_clamps (change_id, device_id, field, original, clamped, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(db)?;
    let insert_applied = tx
        .prepare_cached("INSERT INTO applied_changes (change_id, batch_id, device_id, seq) VALUES ($1, $2, $3, $4)")
        .await
        .map_err(db)?;

    let mut results = Vec::with_capacity(request.changes.len());
    for change in &request.changes {
        if let Some(row) = tx.query_opt(&applied, &[&change.change_id]).await.map_err(db)? {
            let applied_seq: Option<i64> = row.try_get(0).map_err(db)?;
            results.push(sync::accepted(change.change_id, applied_seq.and_then(|s| u64::try_from(s).ok())));
            continue;
        }

        let touches_erased = any_purged(&tx, &sync::erasure_ids(change)).await?;
        let existing = load_row(&tx, change.entity, change.row_id).await?;
        let plan = match sync::refuse_erased(touches_erased)
            .and_then(|()| sync::plan_change(user, existing.as_ref(), change, device, now_millis, &mut clamp_clock))
        {
            Ok(plan) => plan,
            Err(error) => {
                results.push(sync::rejected(change.change_id, error));
                continue;
            }
        };

        for clamp in &plan.clamps {
            tx.execute(
                &insert_clamp,
                &[
                    &change.change_id,
                    &device,
                    &clamp.field,
                    &clamp.original.to_string(),
                    &clamp.clamped.to_string(),
                    &at,
                ],
            )
            .await
            .map_err(db)?;
        }
        crate::sync::log_clamps(device, &plan.clamps, now_millis);

        let row_seq = if plan.effect.modifies() {
            seq += 1;
            write_effect(&tx, change, &plan.effect, device, seq).await?;
            Some(seq)
        } else {
            existing.as_ref().map(|row| row.seq)
        };
        tx.execute(&insert_applied, &[&change.change_id, &request.batch_id, &device, &row_seq.map(to_i64)])
            .await
            .map_err(db)?;
        results.push(sync::accepted(change.change_id, row_seq));
    }

    let last = clamp_clock.last();
    tx.execute(
        "UPDATE sync_state SET seq = $1, clamp_millis = $2, clamp_counter = $3 WHERE id = 1",
        &[&to_i64(seq), &to_i64(last.millis), &i64::from(last.counter)],
    )
    .await
    .map_err(db)?;
    let response = PushResponse { results };
    let text = serde_json::to_string(&response).map_err(backend)?;
    tx.execute(
        "INSERT INTO push_batches (batch_id, device_id, response, created_at) VALUES ($1, $2, $3, $4)",
        &[&request.batch_id, &device, &text, &at],
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(response)
}

async fn any_purged(tx: &Transaction<'_>, ids: &[Uuid]) -> Result<bool, StorageError> {
    let stmt =
        tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM purged_ids WHERE row_id = ANY($1))").await.map_err(db)?;
    tx.query_one(&stmt, &[&ids]).await.map_err(db)?.try_get(0).map_err(db)
}

/// See [`crate::storage::Storage::erase_contact`]. Runs in the same serialised section as a push
/// (the `sync_state` lock), so the new sequence numbers are in commit order.
pub(super) async fn erase_contact(
    c: &mut Client,
    contact_id: Uuid,
    now: DateTime<Utc>,
) -> Result<ErasureReport, StorageError> {
    let at = ts(now);
    let tx = c.transaction().await.map_err(db)?;
    let state = tx.query_one("SELECT seq FROM sync_state WHERE id = 1 FOR UPDATE", &[]).await.map_err(db)?;
    let mut seq = to_u64(state.try_get(0).map_err(db)?)?;
    let already_erased = any_purged(&tx, &[contact_id]).await?;
    let contact = EntityKind::Contact.as_str();
    let head: Option<bool> = match tx
        .query_opt("SELECT purged FROM sync_rows WHERE entity = $1 AND row_id = $2", &[&contact, &contact_id])
        .await
        .map_err(db)?
    {
        Some(r) => Some(r.try_get(0).map_err(db)?),
        None => None,
    };

    // Rows still holding data: the contact (unless already purged) and every row pointing at it.
    let mut targets: Vec<(EntityKind, Uuid)> = Vec::new();
    if head == Some(false) {
        targets.push((EntityKind::Contact, contact_id));
    }
    for (kind, parent) in sync::contact_children() {
        let found = tx
            .query("SELECT row_id, value FROM sync_fields WHERE entity = $1 AND name = $2", &[&kind.as_str(), &parent])
            .await
            .map_err(db)?;
        for r in found {
            let value: String = r.try_get(1).map_err(db)?;
            if sync::parent_id_from_stored(&value) == Some(contact_id) {
                targets.push((kind, r.try_get(0).map_err(db)?));
            }
        }
    }

    for (kind, row_id) in &targets {
        seq += 1;
        tx.execute(
            "UPDATE sync_rows SET seq = $1, deleted = true, purged = true WHERE entity = $2 AND row_id = $3",
            &[&to_i64(seq), &kind.as_str(), row_id],
        )
        .await
        .map_err(db)?;
        tx.execute("DELETE FROM sync_fields WHERE entity = $1 AND row_id = $2", &[&kind.as_str(), row_id])
            .await
            .map_err(db)?;
    }
    if head.is_none() {
        // Never seen here: a purged tombstone still tells a device that created it offline to drop it.
        seq += 1;
        tx.execute(
            "INSERT INTO sync_rows (entity, row_id, seq, deleted, purged) VALUES ($1, $2, $3, true, true)",
            &[&contact, &contact_id, &to_i64(seq)],
        )
        .await
        .map_err(db)?;
    }
    let record = tx
        .prepare_cached(
            "INSERT INTO purged_ids (row_id, entity, contact_id, purged_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (row_id) DO NOTHING",
        )
        .await
        .map_err(db)?;
    for (kind, row_id) in targets.iter().chain([(EntityKind::Contact, contact_id)].iter()) {
        tx.execute(&record, &[row_id, &kind.as_str(), &contact_id, &at]).await.map_err(db)?;
    }
    tx.execute("UPDATE sync_state SET seq = $1 WHERE id = 1", &[&to_i64(seq)]).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    let rows = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    let related_rows = rows - u64::from(head == Some(false));
    Ok(ErasureReport { rows, related_rows, contact_found: head.is_some(), already_erased })
}

async fn stored_response(
    tx: &Transaction<'_>,
    batch_id: Uuid,
    device: Uuid,
) -> Result<Option<PushResponse>, StorageError> {
    let Some(row) = tx
        .query_opt("SELECT device_id, response FROM push_batches WHERE batch_id = $1", &[&batch_id])
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let owner: Uuid = row.try_get(0).map_err(db)?;
    if owner != device {
        return Err(StorageError::Invalid(
            "this batch id was already used by another device; send the changes under a new batch id".into(),
        ));
    }
    let text: String = row.try_get(1).map_err(db)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StorageError::Backend(format!("a stored push response is unreadable: {e}")))
}

async fn load_row(tx: &Transaction<'_>, entity: EntityKind, row_id: Uuid) -> Result<Option<StoredRow>, StorageError> {
    let stmt =
        tx.prepare_cached("SELECT seq, deleted FROM sync_rows WHERE entity = $1 AND row_id = $2").await.map_err(db)?;
    let Some(head) = tx.query_opt(&stmt, &[&entity.as_str(), &row_id]).await.map_err(db)? else {
        return Ok(None);
    };
    let stmt = tx
        .prepare_cached(
            "SELECT name, value, hlc_millis, hlc_counter, device FROM sync_fields WHERE entity = $1 AND row_id = $2",
        )
        .await
        .map_err(db)?;
    let mut fields = BTreeMap::new();
    for r in tx.query(&stmt, &[&entity.as_str(), &row_id]).await.map_err(db)? {
        let (name, state) = field_from(&r, 0)?;
        fields.insert(name, state);
    }
    Ok(Some(StoredRow { seq: to_u64(head.try_get(0).map_err(db)?)?, deleted: head.try_get(1).map_err(db)?, fields }))
}

/// `(name, state)` from the columns `name, value, hlc_millis, hlc_counter, device` at `first`.
fn field_from(r: &tokio_postgres::Row, first: usize) -> Result<(String, FieldState), StorageError> {
    let text: String = r.try_get(first + 1).map_err(db)?;
    let value =
        serde_json::from_str(&text).map_err(|e| StorageError::Backend(format!("a stored value is unreadable: {e}")))?;
    let state = FieldState {
        value,
        hlc: hlc_from(r.try_get(first + 2).map_err(db)?, r.try_get(first + 3).map_err(db)?)?,
        device: r.try_get(first + 4).map_err(db)?,
    };
    Ok((r.try_get(first).map_err(db)?, state))
}

async fn write_effect(
    tx: &Transaction<'_>,
    change: &Change,
    effect: &Effect,
    device: Uuid,
    seq: u64,
) -> Result<(), StorageError> {
    let (entity, row_id) = (change.entity.as_str(), change.row_id);
    match effect {
        Effect::Unchanged => {}
        Effect::Tombstone { hlc } => {
            tx.execute(
                "INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_millis, deleted_counter, deleted_device)
                 VALUES ($1, $2, $3, true, $4, $5, $6)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, deleted = true,
                     deleted_millis = excluded.deleted_millis, deleted_counter = excluded.deleted_counter,
                     deleted_device = excluded.deleted_device",
                &[&entity, &row_id, &to_i64(seq), &to_i64(hlc.millis), &i64::from(hlc.counter), &device],
            )
            .await
            .map_err(db)?;
            tx.execute("DELETE FROM sync_fields WHERE entity = $1 AND row_id = $2", &[&entity, &row_id])
                .await
                .map_err(db)?;
        }
        Effect::Write(fields) => {
            let upsert_row = tx
                .prepare_cached(
                    "INSERT INTO sync_rows (entity, row_id, seq) VALUES ($1, $2, $3)
                     ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq",
                )
                .await
                .map_err(db)?;
            tx.execute(&upsert_row, &[&entity, &row_id, &to_i64(seq)]).await.map_err(db)?;
            let upsert_field = tx
                .prepare_cached(
                    "INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (entity, row_id, name) DO UPDATE SET value = excluded.value,
                         hlc_millis = excluded.hlc_millis, hlc_counter = excluded.hlc_counter, device = excluded.device",
                )
                .await
                .map_err(db)?;
            for (name, state) in fields {
                let value = serde_json::to_string(&state.value).map_err(backend)?;
                tx.execute(
                    &upsert_field,
                    &[
                        &entity,
                        &row_id,
                        name,
                        &value,
                        &to_i64(state.hlc.millis),
                        &i64::from(state.hlc.counter),
                        &state.device,
                    ],
                )
                .await
                .map_err(db)?;
            }
        }
    }
    Ok(())
}

pub(super) async fn pull(c: &mut Client, user: &User, since: u64, limit: u32) -> Result<PullResponse, StorageError> {
    let limit = limit.clamp(1, MAX_PULL_LIMIT);
    // One snapshot, so the rows and their fields are one consistent version.
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)?;
    // The page of rows (one more than asked, to tell has_more) with their fields, in one query.
    let stmt = tx
        .prepare_cached(
            "SELECT r.seq, r.entity, r.row_id, r.deleted, f.name, f.value, f.hlc_millis, f.hlc_counter, f.device, r.purged
             FROM (SELECT seq, entity, row_id, deleted, purged FROM sync_rows WHERE seq > $1 ORDER BY seq LIMIT $2) r
             LEFT JOIN sync_fields f ON NOT r.deleted AND f.entity = r.entity AND f.row_id = r.row_id
             ORDER BY r.seq",
        )
        .await
        .map_err(db)?;
    let found = tx.query(&stmt, &[&to_i64(since), &(i64::from(limit) + 1)]).await.map_err(db)?;
    tx.commit().await.map_err(db)?;

    let mut heads: Vec<RowState> = Vec::new();
    for r in &found {
        let seq = to_u64(r.try_get(0).map_err(db)?)?;
        if heads.last().is_none_or(|h| h.seq != seq) {
            let entity: String = r.try_get(1).map_err(db)?;
            let entity = EntityKind::parse(&entity)
                .ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?;
            heads.push(RowState {
                seq,
                entity,
                row_id: r.try_get(2).map_err(db)?,
                deleted: r.try_get(3).map_err(db)?,
                purged: r.try_get(9).map_err(db)?,
                scope: liaison_protocol::scope::PUBLIC.to_owned(),
                fields: BTreeMap::new(),
            });
        }
        if r.try_get::<_, Option<String>>(4).map_err(db)?.is_some()
            && let Some(head) = heads.last_mut()
        {
            let (name, state) = field_from(r, 4)?;
            head.fields.insert(name, state);
        }
    }
    let has_more = heads.len() > limit as usize;

    let mut rows = Vec::new();
    let mut next_cursor = since;
    for row in heads.into_iter().take(limit as usize) {
        next_cursor = row.seq;
        // Rows the user may not read are skipped, but the cursor still moves past them.
        if permissions::may_read(user, &row) {
            rows.push(row);
        }
    }
    Ok(PullResponse { rows, revoked_scopes: Vec::new(), next_cursor, has_more })
}

/// The newest `limit` clock clamps with the device and user they came from.
pub(super) async fn list_clamps(c: &Client, limit: u32) -> Result<Vec<crate::storage::ClampRecord>, StorageError> {
    let rows = c
        .query(
            "SELECT c.at, c.device_id, d.name, u.name, c.field, c.original, c.clamped
             FROM clock_clamps c JOIN devices d ON d.id = c.device_id JOIN users u ON u.id = d.user_id
             ORDER BY c.id DESC LIMIT $1",
            &[&i64::from(limit)],
        )
        .await
        .map_err(db)?;
    let hlc = |text: String| text.parse::<Hlc>().map_err(|e| StorageError::Backend(format!("a stored clamp clock is damaged: {e}")));
    rows.iter()
        .map(|r| {
            Ok(crate::storage::ClampRecord {
                at: r.try_get(0).map_err(db)?,
                device_id: r.try_get(1).map_err(db)?,
                device_name: r.try_get(2).map_err(db)?,
                user_name: r.try_get(3).map_err(db)?,
                field: r.try_get(4).map_err(db)?,
                original: hlc(r.try_get(5).map_err(db)?)?,
                clamped: hlc(r.try_get(6).map_err(db)?)?,
            })
        })
        .collect()
}
