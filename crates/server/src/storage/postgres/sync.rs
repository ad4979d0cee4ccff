//! The synced rows (`sync_rows`, `sync_fields`), the sequence counter and the push ledger
//! (`push_batches`, `applied_changes`, `clock_clamps`): their migrations, and the reads that are
//! not the engine's (pull, snapshot, pruning, the clamp list). What a push or an erasure writes
//! is decided by [`crate::engine`]; its SQL is in [`super::port`].
//!
//! Same layout as the SQLite backend. **Sequence numbers:** every writer that takes seqs (the
//! engine, pruning) first locks the one-row `sync_state` counter (`FOR UPDATE`) and holds it
//! until it commits, so they are serialised and seq order is commit order: a reader can never
//! see seq 4 committed while seq 3 is still in flight. Reads (pulls, logins) are not blocked by
//! the lock; a pull reads in one REPEATABLE READ snapshot.

use super::{access, db, ts};
use crate::permissions::Access;
use crate::storage::{PruneReport, PullPage, PulledRow, SnapshotChunk, StorageError, User};
use crate::sync;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient, Transaction};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{FieldState, MAX_PULL_LIMIT};
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

/// 3: scopes and conflicts. Every row gets its `scope` and the contact it belongs to
/// (`parent_id`, filled in by [`backfill_parents`]); `public_since` is the seq at which a public
/// row last became public (unknown for older rows: 1); `deleted_seq` the seq of a tombstone's
/// delete; each field the seq that last wrote it (`sync_fields.seq`, from its row's seq).
pub(super) const MIGRATION_3: &str = "
ALTER TABLE sync_rows ADD COLUMN scope text NOT NULL DEFAULT 'public';
ALTER TABLE sync_rows ADD COLUMN parent_id uuid;
ALTER TABLE sync_rows ADD COLUMN public_since bigint;
ALTER TABLE sync_rows ADD COLUMN deleted_seq bigint;
UPDATE sync_rows SET public_since = 1;
UPDATE sync_rows SET deleted_seq = seq WHERE deleted;
CREATE INDEX sync_rows_parent ON sync_rows (parent_id);
CREATE INDEX sync_rows_scope ON sync_rows (scope);

ALTER TABLE sync_fields ADD COLUMN seq bigint NOT NULL DEFAULT 0;
UPDATE sync_fields f SET seq = r.seq FROM sync_rows r WHERE r.entity = f.entity AND r.row_id = f.row_id;
";

/// 4: tombstone retention. `deleted_at`: when a tombstone took its current seq (its delete, its
/// erasure, or a later re-send when it was rescoped or granted); tombstones older than this
/// migration count as deleted when it ran. `sync_state.horizon`: the highest seq ever pruned
/// (see [`prune_tombstones`]).
pub(super) const MIGRATION_4: &str = "
ALTER TABLE sync_rows ADD COLUMN deleted_at timestamptz;
UPDATE sync_rows SET deleted_at = date_trunc('milliseconds', now()) WHERE deleted;
CREATE INDEX sync_rows_deleted_at ON sync_rows (deleted_at) WHERE deleted;
ALTER TABLE sync_state ADD COLUMN horizon bigint NOT NULL DEFAULT 0;
CREATE INDEX revocations_at ON revocations (at);
";

/// 5: each live row keeps its fields as one JSON document (`doc`, see
/// [`crate::sync::row_document`]), so a pull reads one row instead of joining its fields.
/// Tombstones have none. [`backfill_documents`] fills it for the rows already stored.
pub(super) const MIGRATION_5: &str = "
ALTER TABLE sync_rows ADD COLUMN doc text;
UPDATE sync_rows SET doc = '{}' WHERE NOT deleted;
";

/// Part of migration 5: the document of every live row that has fields (of one entity, when
/// given), from its fields, a page of rows at a time.
pub(super) async fn backfill_documents(tx: &Transaction<'_>, entity: Option<&str>) -> Result<(), StorageError> {
    const PAGE: i64 = 1_000;
    let mut after = 0i64;
    loop {
        let found = tx
            .query(
                "SELECT r.seq, r.entity, r.row_id, f.name, f.value, f.hlc_millis, f.hlc_counter, f.device
                 FROM (SELECT seq, entity, row_id FROM sync_rows
                       WHERE NOT deleted AND seq > $1 AND ($3::text IS NULL OR entity = $3) ORDER BY seq LIMIT $2) r
                 LEFT JOIN sync_fields f ON f.entity = r.entity AND f.row_id = r.row_id
                 ORDER BY r.seq",
                &[&after, &PAGE, &entity],
            )
            .await
            .map_err(db)?;
        if found.is_empty() {
            return Ok(());
        }
        let (mut entities, mut ids, mut docs) = (Vec::<String>::new(), Vec::<Uuid>::new(), Vec::<String>::new());
        let mut fields = BTreeMap::new();
        for (i, r) in found.iter().enumerate() {
            let seq: i64 = r.try_get(0).map_err(db)?;
            if r.try_get::<_, Option<String>>(3).map_err(db)?.is_some() {
                let (name, state) = field_from(r, 3)?;
                fields.insert(name, state);
            }
            let last_of_row =
                found.get(i + 1).map(|next| next.try_get::<_, i64>(0)).transpose().map_err(db)? != Some(seq);
            if last_of_row {
                entities.push(r.try_get(1).map_err(db)?);
                ids.push(r.try_get(2).map_err(db)?);
                docs.push(sync::row_document(None, &fields)?);
                fields.clear();
                after = seq;
            }
        }
        tx.execute(
            "UPDATE sync_rows r SET doc = d.doc FROM unnest($1::text[], $2::uuid[], $3::text[]) AS d(entity, row_id, doc)
             WHERE r.entity = d.entity AND r.row_id = d.row_id",
            &[&entities, &ids, &docs],
        )
        .await
        .map_err(db)?;
    }
}

/// Part of migration 3: `parent_id` of every row that belongs to a contact, from its stored parent
/// field (any UUID spelling a client sent, so this is done here rather than in SQL).
pub(super) async fn backfill_parents(tx: &Transaction<'_>) -> Result<(), StorageError> {
    for (kind, parent) in sync::PROTOCOL_1_CONTACT_CHILDREN {
        let found = tx
            .query("SELECT row_id, value FROM sync_fields WHERE entity = $1 AND name = $2", &[&kind.as_str(), &parent])
            .await
            .map_err(db)?;
        for r in found {
            let row_id: Uuid = r.try_get(0).map_err(db)?;
            let value: String = r.try_get(1).map_err(db)?;
            if let Some(contact) = sync::parent_id_from_stored(&value) {
                tx.execute(
                    "UPDATE sync_rows SET parent_id = $1 WHERE entity = $2 AND row_id = $3",
                    &[&contact, &kind.as_str(), &row_id],
                )
                .await
                .map_err(db)?;
            }
        }
    }
    Ok(())
}

/// 6: one engine for many entities (see the SQLite backend's migration 6).
pub(super) const MIGRATION_6: &str = "
ALTER TABLE sync_rows ADD COLUMN person_id uuid;
ALTER TABLE sync_rows ADD COLUMN protocol integer NOT NULL DEFAULT 1;
UPDATE sync_rows SET person_id = parent_id WHERE entity IN ('contact_email', 'contact_phone', 'contact_identifier');
CREATE INDEX sync_rows_person ON sync_rows (person_id);
ALTER TABLE revocations ADD COLUMN readers_of text;
ALTER TABLE revocations ADD COLUMN unless_scope text;
CREATE TABLE row_grants (
    entity      text NOT NULL,
    row_id      uuid NOT NULL,
    user_id     uuid NOT NULL,
    scope       text NOT NULL,
    granted_seq bigint NOT NULL,
    PRIMARY KEY (entity, row_id)
);
CREATE INDEX row_grants_user ON row_grants (user_id);
CREATE INDEX sync_fields_attachment_hash ON sync_fields (value) WHERE entity = 'attachment' AND name = 'sha256';
CREATE TABLE blobs (
    sha256    text PRIMARY KEY,
    content   bytea NOT NULL,
    size      bigint NOT NULL,
    stored_at timestamptz NOT NULL
);
";

/// Part of migration 6: conflicts recorded before conflicts named their owner name it now (see
/// the SQLite backend's `backfill_conflict_owners`).
pub(super) async fn backfill_conflict_owners(tx: &Transaction<'_>) -> Result<(), StorageError> {
    tx.batch_execute(
        "INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq)
         SELECT entity, row_id, 'owner_entity', '\"contact\"', hlc_millis, hlc_counter, device, seq FROM sync_fields f
         WHERE f.entity = 'conflict' AND f.name = 'contact_id'
           AND NOT EXISTS (SELECT 1 FROM sync_fields o WHERE o.entity = f.entity AND o.row_id = f.row_id AND o.name = 'owner_id');
         INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq)
         SELECT entity, row_id, 'owner_id', value, hlc_millis, hlc_counter, device, seq FROM sync_fields f
         WHERE f.entity = 'conflict' AND f.name = 'contact_id'
           AND NOT EXISTS (SELECT 1 FROM sync_fields o WHERE o.entity = f.entity AND o.row_id = f.row_id AND o.name = 'owner_id');",
    )
    .await
    .map_err(db)?;
    backfill_documents(tx, Some(EntityKind::Conflict.as_str())).await
}

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn to_u64(n: i64) -> Result<u64, StorageError> {
    u64::try_from(n).map_err(backend)
}

pub(super) fn hlc_from(millis: i64, counter: i64) -> Result<Hlc, StorageError> {
    Ok(Hlc::new(to_u64(millis)?, u32::try_from(counter).map_err(backend)?))
}

/// Lock the sequence counter until the transaction ends (the serialised section) and read it.
async fn lock_seq(tx: &Transaction<'_>) -> Result<u64, StorageError> {
    let state = tx.query_one("SELECT seq FROM sync_state WHERE id = 1 FOR UPDATE", &[]).await.map_err(db)?;
    to_u64(state.try_get(0).map_err(db)?)
}

/// `(name, state)` from the columns `name, value, hlc_millis, hlc_counter, device` at `first`.
pub(super) fn field_from(r: &tokio_postgres::Row, first: usize) -> Result<(String, FieldState), StorageError> {
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

pub(super) async fn pull(
    c: &mut Client,
    user: &User,
    since: u64,
    limit: u32,
    protocol: u32,
) -> Result<PullPage, StorageError> {
    let limit = limit.clamp(1, MAX_PULL_LIMIT);
    // Most pulls come from devices that are up to date: one read of the counter answers them.
    let (counter, horizon_now) = counters(c).await?;
    if since > 0 && since < horizon_now {
        return Err(StorageError::ResyncRequired { since, horizon: horizon_now });
    }
    if since > 0 && since >= counter {
        return Ok(PullPage::up_to_date(since));
    }
    // One snapshot: the access, the rows, the counter and the revocations are one consistent
    // version.
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)?;
    let (counter, horizon) = counters(&tx).await?;
    if since > 0 && since < horizon {
        return Err(StorageError::ResyncRequired { since, horizon });
    }
    let access = access::load(&tx, user.id).await?;
    // The page of rows (one more than asked, to tell has_more), each with its document.
    let stmt = tx
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .await
        .map_err(db)?;
    let found = tx.query(&stmt, &[&to_i64(since), &(i64::from(limit) + 1)]).await.map_err(db)?;
    let has_more = found.len() > limit as usize;
    let mut rows = Vec::new();
    let mut last_seq = since;
    for r in found.iter().take(limit as usize) {
        // Rows the user may not read are skipped, but the cursor still moves past them.
        let (seq, row) = pulled_row_from(r, &access, protocol)?;
        last_seq = seq;
        rows.extend(row);
    }
    let next_cursor = if has_more { last_seq } else { counter.max(since) };
    let revoked_scopes = access::revoked_scopes(&tx, user.id, &access, since, next_cursor).await?;
    tx.commit().await.map_err(db)?;
    Ok(PullPage { rows, revoked_scopes, next_cursor, has_more })
}

/// The sequence counter as committed (every seq at or below it is committed: writers update it
/// in the same transaction as their rows, under the counter's lock) and the horizon (the
/// highest seq ever pruned, see [`prune_tombstones`]), in one prepared read.
async fn counters(c: &impl GenericClient) -> Result<(u64, u64), StorageError> {
    let stmt = c.prepare_cached("SELECT seq, horizon FROM sync_state WHERE id = 1").await.map_err(db)?;
    let row = c.query_one(&stmt, &[]).await.map_err(db)?;
    Ok((to_u64(row.try_get(0).map_err(db)?)?, to_u64(row.try_get(1).map_err(db)?)?))
}

/// The sequence counter as committed (see [`counters`]).
pub(super) async fn current_seq(c: &Client) -> Result<u64, StorageError> {
    Ok(counters(c).await?.0)
}

/// See [`crate::storage::Storage::snapshot_chunk`]: the live rows of the range (and erasures),
/// each with its document, in one short read-only snapshot.
pub(super) async fn snapshot_chunk(
    c: &mut Client,
    user: &User,
    at: u64,
    after: u64,
    limit: u32,
    protocol: u32,
) -> Result<SnapshotChunk, StorageError> {
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)?;
    let access = access::load(&tx, user.id).await?;
    // Erasures come with the snapshot: a device may hold data about the person that the server
    // never saw (created offline) and must purge it.
    let stmt = tx
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
             WHERE seq > $1 AND seq <= $2 AND (NOT deleted OR purged) ORDER BY seq LIMIT $3",
        )
        .await
        .map_err(db)?;
    let found = tx.query(&stmt, &[&to_i64(after), &to_i64(at), &i64::from(limit)]).await.map_err(db)?;
    tx.commit().await.map_err(db)?;

    let mut chunk = SnapshotChunk { rows: Vec::new(), last_seq: after, done: found.len() < limit as usize };
    for r in &found {
        // Rows the user may not read are skipped (same rule as pull).
        let (seq, row) = pulled_row_from(r, &access, protocol)?;
        chunk.last_seq = seq;
        chunk.rows.extend(row);
    }
    Ok(chunk)
}

/// A row of `SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows`:
/// its seq, and the row when the user may read it and the client's `protocol` knows its kind.
pub(super) fn pulled_row_from(
    r: &tokio_postgres::Row,
    access: &Access,
    protocol: u32,
) -> Result<(u64, Option<PulledRow>), StorageError> {
    let seq = to_u64(r.try_get(0).map_err(db)?)?;
    let scope: &str = r.try_get(5).map_err(db)?;
    let row_protocol: i32 = r.try_get(7).map_err(db)?;
    if !access.may_read(scope) || i64::from(row_protocol) > i64::from(protocol) {
        return Ok((seq, None));
    }
    let entity: &str = r.try_get(1).map_err(db)?;
    let entity = EntityKind::parse(entity)
        .ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?;
    let row = PulledRow::from_stored(
        seq,
        entity,
        r.try_get(2).map_err(db)?,
        r.try_get(3).map_err(db)?,
        r.try_get(4).map_err(db)?,
        scope.to_owned(),
        r.try_get(6).map_err(db)?,
    )?;
    Ok((seq, Some(row)))
}

/// The live rows of one kind, with their fields, in seq order (for admin commands).
pub(super) async fn rows_of(
    c: &Client,
    kind: EntityKind,
) -> Result<Vec<liaison_protocol::wire::RowState>, StorageError> {
    let found = c
        .query(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc, protocol FROM sync_rows
             WHERE entity = $1 AND NOT deleted ORDER BY seq",
            &[&kind.as_str()],
        )
        .await
        .map_err(db)?;
    let everything = Access::new(liaison_protocol::wire::Role::Admin, []);
    let mut rows = Vec::new();
    for r in &found {
        if let (_, Some(row)) = pulled_row_from(r, &everything, u32::MAX)? {
            rows.push(row.decode()?);
        }
    }
    Ok(rows)
}

/// Which of `ids` are tombstones of `kind`.
pub(super) async fn ended_among(c: &Client, kind: EntityKind, ids: &[Uuid]) -> Result<Vec<Uuid>, StorageError> {
    let found = c
        .query(
            "SELECT row_id FROM sync_rows WHERE entity = $1 AND row_id = ANY($2) AND deleted",
            &[&kind.as_str(), &ids],
        )
        .await
        .map_err(db)?;
    found.iter().map(|r| r.try_get::<_, Uuid>(0).map_err(db)).collect()
}

async fn may_read_blob(tx: &Transaction<'_>, user: &User, sha256: &str) -> Result<(), StorageError> {
    let access = access::load(tx, user.id).await?;
    let named = serde_json::to_string(sha256).map_err(backend)?;
    let rows = tx
        .query(
            "SELECT r.scope FROM sync_fields f JOIN sync_rows r ON r.entity = f.entity AND r.row_id = f.row_id
             WHERE f.entity = 'attachment' AND f.name = 'sha256' AND f.value = $1 AND NOT r.deleted",
            &[&named],
        )
        .await
        .map_err(db)?;
    let scopes = rows.iter().map(|r| r.try_get::<_, String>(0).map_err(db)).collect::<Result<Vec<_>, _>>()?;
    if scopes.iter().any(|scope| access.may_read(scope)) {
        Ok(())
    } else {
        Err(StorageError::NotFound(crate::storage::NO_SUCH_ATTACHMENT.into()))
    }
}

/// See [`crate::storage::Storage::put_blob`].
pub(super) async fn put_blob(
    c: &mut Client,
    user: &User,
    sha256: &str,
    content: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let tx = c.transaction().await.map_err(db)?;
    may_read_blob(&tx, user, sha256).await?;
    let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
    let stored = tx
        .execute(
            "INSERT INTO blobs (sha256, content, size, stored_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
            &[&sha256, &content, &size, &ts(now)],
        )
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(stored > 0)
}

/// See [`crate::storage::Storage::get_blob`].
pub(super) async fn get_blob(c: &mut Client, user: &User, sha256: &str) -> Result<Vec<u8>, StorageError> {
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)?;
    may_read_blob(&tx, user, sha256).await?;
    let found = tx.query_opt("SELECT content FROM blobs WHERE sha256 = $1", &[&sha256]).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    found
        .map(|r| r.try_get::<_, Vec<u8>>(0).map_err(db))
        .transpose()?
        .ok_or_else(|| StorageError::NotFound(crate::storage::NO_SUCH_ATTACHMENT.into()))
}

/// See [`crate::storage::Storage::prune_tombstones`]. Runs in the serialised section (the
/// `sync_state` lock), so no writer re-sends a tombstone while it is being removed.
pub(super) async fn prune_tombstones(c: &mut Client, older_than: DateTime<Utc>) -> Result<PruneReport, StorageError> {
    let cutoff = ts(older_than);
    let tx = c.transaction().await.map_err(db)?;
    lock_seq(&tx).await?;
    // Tombstones carry no fields; this only guards the foreign key.
    tx.execute(
        "DELETE FROM sync_fields f USING sync_rows r
         WHERE r.entity = f.entity AND r.row_id = f.row_id AND r.deleted AND r.deleted_at < $1",
        &[&cutoff],
    )
    .await
    .map_err(db)?;
    let rows = tx
        .query_one(
            "WITH gone AS (DELETE FROM sync_rows WHERE deleted AND deleted_at < $1 RETURNING seq)
             SELECT count(*), max(seq) FROM gone",
            &[&cutoff],
        )
        .await
        .map_err(db)?;
    let revocations = tx
        .query_one(
            "WITH gone AS (DELETE FROM revocations WHERE at < $1 RETURNING seq) SELECT count(*), max(seq) FROM gone",
            &[&cutoff],
        )
        .await
        .map_err(db)?;
    let max_row: Option<i64> = rows.try_get(1).map_err(db)?;
    let max_revocation: Option<i64> = revocations.try_get(1).map_err(db)?;
    let pruned = max_row.into_iter().chain(max_revocation).max().unwrap_or(0);
    let horizon_seq: i64 = tx
        .query_one("UPDATE sync_state SET horizon = GREATEST(horizon, $1) WHERE id = 1 RETURNING horizon", &[&pruned])
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(PruneReport {
        rows: to_u64(rows.try_get(0).map_err(db)?)?,
        revocations: to_u64(revocations.try_get(0).map_err(db)?)?,
        horizon_seq: to_u64(horizon_seq)?,
    })
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
    let hlc = |text: String| {
        text.parse::<Hlc>().map_err(|e| StorageError::Backend(format!("a stored clamp clock is damaged: {e}")))
    };
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
