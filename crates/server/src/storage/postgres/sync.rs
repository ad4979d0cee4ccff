//! The synced rows (`sync_rows`, `sync_fields`), the sequence counter and the push ledger
//! (`push_batches`, `applied_changes`, `clock_clamps`).
//!
//! Same layout as the SQLite backend (rows with their scope and contact, fields with the seq that
//! wrote them). The merge itself is [`crate::sync::plan_change`]; this module loads, calls it
//! and writes, in one transaction per batch: the row, the rows rescoped with a contact, the
//! revocation when rows leave `public`, and the conflicts the plan found.
//!
//! **Sequence numbers:** every writer that takes seqs (push, erasure, grant, revoke, role change)
//! first locks the one-row `sync_state` counter (`FOR UPDATE`) and holds it until it commits, so
//! they are serialised and seq order is commit order: a reader can never see seq 4 committed
//! while seq 3 is still in flight. Reads (pulls, logins) are not blocked by the lock; a pull
//! reads in one REPEATABLE READ snapshot.

use super::{access, db, ts};
use crate::permissions::Access;
use crate::storage::{ErasureReport, PruneReport, PullPage, PulledRow, SnapshotChunk, StorageError, User};
use crate::sync::{self, Author, ConflictDraft, Effect, StoredRow};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient, Transaction};
use liaison_protocol::hlc::{Clock, Hlc, Stamp};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::scope;
use liaison_protocol::wire::{Change, FieldState, MAX_PULL_LIMIT, PushRequest, PushResponse};
use std::collections::{BTreeMap, HashMap, HashSet};
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

/// Part of migration 5: the document of every live row that has fields, from its fields, a
/// page of rows at a time.
pub(super) async fn backfill_documents(tx: &Transaction<'_>) -> Result<(), StorageError> {
    const PAGE: i64 = 1_000;
    let mut after = 0i64;
    loop {
        let found = tx
            .query(
                "SELECT r.seq, r.entity, r.row_id, f.name, f.value, f.hlc_millis, f.hlc_counter, f.device
                 FROM (SELECT seq, entity, row_id FROM sync_rows WHERE NOT deleted AND seq > $1 ORDER BY seq LIMIT $2) r
                 LEFT JOIN sync_fields f ON f.entity = r.entity AND f.row_id = r.row_id
                 ORDER BY r.seq",
                &[&after, &PAGE],
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
    for (kind, parent) in sync::contact_children() {
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

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn to_u64(n: i64) -> Result<u64, StorageError> {
    u64::try_from(n).map_err(backend)
}

fn hlc_from(millis: i64, counter: i64) -> Result<Hlc, StorageError> {
    Ok(Hlc::new(to_u64(millis)?, u32::try_from(counter).map_err(backend)?))
}

/// Lock the sequence counter until the transaction ends (the serialised section) and read it.
pub(super) async fn lock_seq(tx: &Transaction<'_>) -> Result<u64, StorageError> {
    let state = tx.query_one("SELECT seq FROM sync_state WHERE id = 1 FOR UPDATE", &[]).await.map_err(db)?;
    to_u64(state.try_get(0).map_err(db)?)
}

pub(super) async fn store_seq(tx: &Transaction<'_>, seq: u64) -> Result<(), StorageError> {
    tx.execute("UPDATE sync_state SET seq = $1 WHERE id = 1", &[&to_i64(seq)]).await.map_err(db)?;
    Ok(())
}

/// Give a row a new seq (so devices that may read it receive it again); a tombstone re-sent at
/// `now` is kept from `now` on.
pub(super) async fn bump_row(
    tx: &Transaction<'_>,
    seq: &mut u64,
    entity: &str,
    row_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    *seq += 1;
    tx.execute(
        "UPDATE sync_rows SET seq = $1, deleted_at = CASE WHEN deleted THEN $4 ELSE deleted_at END
         WHERE entity = $2 AND row_id = $3",
        &[&to_i64(*seq), &entity, &row_id, &ts(now)],
    )
    .await
        .map_err(db)?;
    Ok(())
}

/// Record that `scope` was taken from `user` (`None`: from everyone) at a new seq; devices whose
/// cursor is at or past `since_seq` may hold rows of it.
pub(super) async fn record_revocation(
    tx: &Transaction<'_>,
    seq: &mut u64,
    user: Option<Uuid>,
    scope: &str,
    since_seq: u64,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    *seq += 1;
    tx.execute(
        "INSERT INTO revocations (seq, user_id, scope, since_seq, at) VALUES ($1, $2, $3, $4, $5)",
        &[&to_i64(*seq), &user, &scope, &to_i64(since_seq), &ts(now)],
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// Where a written row stands: the seq it takes, its scope, its contact and since when it is
/// public; and when it is written (a tombstone's `deleted_at`).
struct Placement {
    seq: u64,
    scope: String,
    parent_id: Option<Uuid>,
    public_since: Option<u64>,
    written_at: DateTime<Utc>,
}

/// The state of one push while its changes are applied.
struct Pushing<'a, 'b> {
    tx: &'a Transaction<'b>,
    seq: u64,
    clock: Clock,
    now: DateTime<Utc>,
    now_millis: u64,
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
    let seq = to_u64(state.try_get(0).map_err(db)?)?;
    let clock = Clock::resume(hlc_from(state.try_get(1).map_err(db)?, state.try_get(2).map_err(db)?)?);
    let access = access::load(&tx, user).await?;
    let author = Author { user, access: &access, device };
    let mut pushing = Pushing { tx: &tx, seq, clock, now, now_millis: sync::unix_millis(now) };

    // What the whole batch needs to know up front, in two round trips rather than two per change:
    // the changes already applied, and which of the ids it touches are erased (only an erasure,
    // serialised with this push by the counter's lock, adds to them).
    let change_ids: Vec<Uuid> = request.changes.iter().map(|change| change.change_id).collect();
    let mut applied: HashMap<Uuid, Option<i64>> = HashMap::new();
    for r in tx
        .query("SELECT change_id, seq FROM applied_changes WHERE change_id = ANY($1)", &[&change_ids])
        .await
        .map_err(db)?
    {
        applied.insert(r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?);
    }
    let touched: Vec<Uuid> = request.changes.iter().flat_map(sync::erasure_ids).collect();
    let mut purged: HashSet<Uuid> = HashSet::new();
    for r in tx.query("SELECT row_id FROM purged_ids WHERE row_id = ANY($1)", &[&touched]).await.map_err(db)? {
        purged.insert(r.try_get(0).map_err(db)?);
    }
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
        if let Some(applied_seq) = applied.get(&change.change_id) {
            results.push(sync::accepted(change.change_id, applied_seq.and_then(|s| u64::try_from(s).ok())));
            continue;
        }

        let touches_erased = sync::erasure_ids(change).iter().any(|id| purged.contains(id));
        let existing = load_row(&tx, change.entity, change.row_id).await?;
        let named_parent = sync::parent_in_change(change);
        let named_scope = match named_parent {
            Some(p) => Some(contact_scope(&tx, p).await?),
            None => None,
        };
        // A new row for a deleted contact is planned against the contact's tombstone.
        let stand_in = match (&existing, named_parent) {
            (None, Some(p)) => {
                load_row(&tx, EntityKind::Contact, p).await?.and_then(|parent| StoredRow::for_child_of(&parent, p))
            }
            _ => None,
        };
        let planned = existing.as_ref().or(stand_in.as_ref());
        let plan = match sync::refuse_erased(touches_erased).and_then(|()| {
            sync::plan_change(
                &author,
                planned,
                named_scope.as_deref(),
                change,
                pushing.now_millis,
                &mut pushing.clock,
            )
        }) {
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
        crate::sync::log_clamps(device, &plan.clamps, pushing.now_millis);

        let row_seq = if plan.effect.modifies() {
            Some(pushing.apply(change, existing.as_ref(), &plan.effect, device, named_parent, named_scope).await?)
        } else {
            existing.as_ref().map(|row| row.seq)
        };
        if let Some(contact) = sync::conflict_contact(change, planned, &plan.effect) {
            for draft in &plan.conflicts {
                pushing.record_conflict(change, contact, draft).await?;
            }
        }
        tx.execute(&insert_applied, &[&change.change_id, &request.batch_id, &device, &row_seq.map(to_i64)])
            .await
            .map_err(db)?;
        applied.insert(change.change_id, row_seq.map(to_i64));
        results.push(sync::accepted(change.change_id, row_seq));
    }

    let last = pushing.clock.last();
    tx.execute(
        "UPDATE sync_state SET seq = $1, clamp_millis = $2, clamp_counter = $3 WHERE id = 1",
        &[&to_i64(pushing.seq), &to_i64(last.millis), &i64::from(last.counter)],
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

impl Pushing<'_, '_> {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Write an effect that modifies the row at a new seq, rescope the rows of a contact whose
    /// scope changed, and record a revocation when rows left `public`. Returns the row's seq.
    async fn apply(
        &mut self,
        change: &Change,
        existing: Option<&StoredRow>,
        effect: &Effect,
        device: Uuid,
        named_parent: Option<Uuid>,
        named_scope: Option<String>,
    ) -> Result<u64, StorageError> {
        let row_seq = self.next_seq();
        let parent_id = sync::parent_after(change, existing, effect);
        let parent_scope = match parent_id {
            Some(p) if Some(p) == named_parent => named_scope,
            Some(p) => Some(contact_scope(self.tx, p).await?),
            None => None,
        };
        let scope = sync::scope_after(change, existing, effect, parent_scope.as_deref());
        let previous = existing.map(|row| (row.scope.as_str(), row.public_since));
        let public_since = sync::public_since_after(previous, &scope, row_seq);
        let mut leaving: Vec<Option<u64>> = Vec::new();
        if let Some(row) = existing
            && sync::leaves_public(&row.scope, &scope)
        {
            leaving.push(row.public_since);
        }
        let placement = Placement { seq: row_seq, scope, parent_id, public_since, written_at: self.now };
        write_effect(
            self.tx,
            change.entity,
            change.row_id,
            existing.map(|row| &row.fields),
            effect,
            device,
            &placement,
        )
        .await?;
        if let (EntityKind::Contact, Effect::Tombstone { hlc }) = (change.entity, effect) {
            self.delete_rows_of(change.row_id, *hlc, device).await?;
        }

        if change.entity == EntityKind::Contact && existing.is_none_or(|row| row.scope != placement.scope) {
            leaving.extend(self.rescope_rows_of(change.row_id, &placement.scope).await?);
        }
        if !leaving.is_empty() {
            let since = sync::revocation_since(&leaving);
            record_revocation(self.tx, &mut self.seq, None, &placement.scope, since, self.now).await?;
        }
        Ok(row_seq)
    }

    /// Give every row of `contact` whose scope differs the contact's `scope`, each at a new seq.
    /// Returns the `public_since` of the rows that left `public`.
    async fn rescope_rows_of(&mut self, contact: Uuid, scope: &str) -> Result<Vec<Option<u64>>, StorageError> {
        let rows = self
            .tx
            .query(
                "SELECT entity, row_id, scope, public_since FROM sync_rows
                 WHERE parent_id = $1 AND scope <> $2 ORDER BY seq",
                &[&contact, &scope],
            )
            .await
            .map_err(db)?;
        let mut leaving = Vec::new();
        for r in rows {
            let entity: String = r.try_get(0).map_err(db)?;
            let row_id: Uuid = r.try_get(1).map_err(db)?;
            let old: String = r.try_get(2).map_err(db)?;
            let public_since = r.try_get::<_, Option<i64>>(3).map_err(db)?.map(to_u64).transpose()?;
            if sync::leaves_public(&old, scope) {
                leaving.push(public_since);
            }
            let seq = self.next_seq();
            let since = sync::public_since_after(Some((&old, public_since)), scope, seq);
            self.tx
                .execute(
                    "UPDATE sync_rows SET seq = $1, scope = $2, public_since = $3,
                         deleted_at = CASE WHEN deleted THEN $6 ELSE deleted_at END
                     WHERE entity = $4 AND row_id = $5",
                    &[&to_i64(seq), &scope, &since.map(to_i64), &entity, &row_id, &ts(self.now)],
                )
                .await
                .map_err(db)?;
        }
        Ok(leaving)
    }

    /// A deleted contact takes its emails, phones and identifiers with it (each a tombstone at a
    /// new seq, with the contact's delete stamp), so none is left behind without its contact.
    /// Conflicts about the contact stay: they are what a person still has to see.
    async fn delete_rows_of(&mut self, contact: Uuid, hlc: Hlc, device: Uuid) -> Result<(), StorageError> {
        let rows = self
            .tx
            .query(
                "SELECT entity, row_id FROM sync_rows WHERE parent_id = $1 AND NOT deleted AND entity <> $2",
                &[&contact, &EntityKind::Conflict.as_str()],
            )
            .await
            .map_err(db)?;
        for r in rows {
            let entity: String = r.try_get(0).map_err(db)?;
            let row_id: Uuid = r.try_get(1).map_err(db)?;
            let seq = self.next_seq();
            self.tx
                .execute(
                    "UPDATE sync_rows SET seq = $1, deleted = true, deleted_millis = $2, deleted_counter = $3, deleted_device = $4,
                         deleted_seq = $1, deleted_at = $5, doc = NULL
                     WHERE entity = $6 AND row_id = $7",
                    &[&to_i64(seq), &to_i64(hlc.millis), &i64::from(hlc.counter), &device, &ts(self.now), &entity, &row_id],
                )
                .await
                .map_err(db)?;
            self.tx
                .execute("DELETE FROM sync_fields WHERE entity = $1 AND row_id = $2", &[&entity, &row_id])
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    /// Write a `conflict` row about `change`'s row, in its contact's scope, at a new seq.
    async fn record_conflict(&mut self, change: &Change, contact: Uuid, draft: &ConflictDraft) -> Result<(), StorageError> {
        let names = device_users(self.tx, &sync::devices_to_name(std::slice::from_ref(draft))).await?;
        let hlc = self.clock.tick(self.now_millis);
        let fields = sync::conflict_fields(draft, change.entity, change.row_id, contact, &names, self.now, hlc);
        let scope = contact_scope(self.tx, contact).await?;
        let seq = self.next_seq();
        let public_since = sync::public_since_after(None, &scope, seq);
        let placement = Placement { seq, scope, parent_id: Some(contact), public_since, written_at: self.now };
        write_effect(
            self.tx,
            EntityKind::Conflict,
            Uuid::now_v7(),
            None,
            &Effect::Write(fields),
            sync::SERVER_DEVICE,
            &placement,
        )
        .await
    }
}

/// The names of the users of these devices (devices the server does not know are left out).
async fn device_users(tx: &Transaction<'_>, devices: &[Uuid]) -> Result<BTreeMap<Uuid, String>, StorageError> {
    let rows = tx
        .query("SELECT d.id, u.name FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ANY($1)", &[&devices])
        .await
        .map_err(db)?;
    rows.iter().map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?))).collect()
}

/// The scope of a contact; `public` when the server does not hold it.
async fn contact_scope(tx: &Transaction<'_>, contact: Uuid) -> Result<String, StorageError> {
    let stmt = tx.prepare_cached("SELECT scope FROM sync_rows WHERE entity = $1 AND row_id = $2").await.map_err(db)?;
    match tx.query_opt(&stmt, &[&EntityKind::Contact.as_str(), &contact]).await.map_err(db)? {
        Some(r) => r.try_get(0).map_err(db),
        None => Ok(scope::PUBLIC.to_owned()),
    }
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
    let mut seq = lock_seq(&tx).await?;
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

    // Rows not purged yet: the contact and every row that belongs to it (emails, phones,
    // identifiers, conflicts; tombstones too, so their ids are refused from now on).
    let mut targets: Vec<(EntityKind, Uuid)> = Vec::new();
    if head == Some(false) {
        targets.push((EntityKind::Contact, contact_id));
    }
    let found = tx
        .query("SELECT entity, row_id FROM sync_rows WHERE parent_id = $1 AND NOT purged ORDER BY seq", &[&contact_id])
        .await
        .map_err(db)?;
    for r in found {
        let entity: String = r.try_get(0).map_err(db)?;
        let kind = EntityKind::parse(&entity)
            .ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?;
        targets.push((kind, r.try_get(1).map_err(db)?));
    }

    for (kind, row_id) in &targets {
        seq += 1;
        tx.execute(
            "UPDATE sync_rows SET seq = $1, deleted = true, purged = true, deleted_at = $4, doc = NULL
             WHERE entity = $2 AND row_id = $3",
            &[&to_i64(seq), &kind.as_str(), row_id, &at],
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
            "INSERT INTO sync_rows (entity, row_id, seq, deleted, purged, deleted_seq, public_since, deleted_at)
             VALUES ($1, $2, $3, true, true, $3, $3, $4)",
            &[&contact, &contact_id, &to_i64(seq), &at],
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
    store_seq(&tx, seq).await?;
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

/// The row with its fields, in one round trip (the row's columns repeat on each field's line).
async fn load_row(tx: &Transaction<'_>, entity: EntityKind, row_id: Uuid) -> Result<Option<StoredRow>, StorageError> {
    let stmt = tx
        .prepare_cached(
            "SELECT r.seq, r.deleted, r.deleted_millis, r.deleted_counter, r.deleted_device, r.deleted_seq, r.scope,
                    r.parent_id, r.public_since, f.name, f.value, f.hlc_millis, f.hlc_counter, f.device, f.seq
             FROM sync_rows r LEFT JOIN sync_fields f ON f.entity = r.entity AND f.row_id = r.row_id
             WHERE r.entity = $1 AND r.row_id = $2",
        )
        .await
        .map_err(db)?;
    let found = tx.query(&stmt, &[&entity.as_str(), &row_id]).await.map_err(db)?;
    let Some(head) = found.first() else {
        return Ok(None);
    };
    let mut fields = BTreeMap::new();
    let mut field_seqs = BTreeMap::new();
    for r in &found {
        if r.try_get::<_, Option<&str>>(9).map_err(db)?.is_none() {
            continue;
        }
        let (name, state) = field_from(r, 9)?;
        field_seqs.insert(name.clone(), to_u64(r.try_get(14).map_err(db)?)?);
        fields.insert(name, state);
    }
    let millis: Option<i64> = head.try_get(2).map_err(db)?;
    let counter: Option<i64> = head.try_get(3).map_err(db)?;
    let device: Option<Uuid> = head.try_get(4).map_err(db)?;
    let deleted_by = match (millis, counter, device) {
        (Some(millis), Some(counter), Some(device)) => Some(Stamp::new(hlc_from(millis, counter)?, device)),
        _ => None,
    };
    let optional_seq = |i: usize| -> Result<Option<u64>, StorageError> {
        head.try_get::<_, Option<i64>>(i).map_err(db)?.map(to_u64).transpose()
    };
    Ok(Some(StoredRow {
        seq: to_u64(head.try_get(0).map_err(db)?)?,
        deleted: head.try_get(1).map_err(db)?,
        fields,
        field_seqs,
        deleted_by,
        deleted_seq: optional_seq(5)?,
        scope: head.try_get(6).map_err(db)?,
        parent_id: head.try_get(7).map_err(db)?,
        public_since: optional_seq(8)?,
    }))
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

/// Write `effect` to the row; `base` is the row's fields before it (`None` for a new row).
async fn write_effect(
    tx: &Transaction<'_>,
    entity: EntityKind,
    row_id: Uuid,
    base: Option<&BTreeMap<String, FieldState>>,
    effect: &Effect,
    device: Uuid,
    placement: &Placement,
) -> Result<(), StorageError> {
    let seq = placement.seq;
    let entity = entity.as_str();
    let public_since = placement.public_since.map(to_i64);
    match effect {
        Effect::Unchanged => {}
        Effect::Tombstone { hlc } => {
            tx.execute(
                "INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_millis, deleted_counter, deleted_device,
                                        deleted_seq, scope, parent_id, public_since, deleted_at)
                 VALUES ($1, $2, $3, true, $4, $5, $6, $3, $7, $8, $9, $10)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, deleted = true,
                     deleted_millis = excluded.deleted_millis, deleted_counter = excluded.deleted_counter,
                     deleted_device = excluded.deleted_device, deleted_seq = excluded.deleted_seq,
                     scope = excluded.scope, parent_id = excluded.parent_id, public_since = excluded.public_since,
                     deleted_at = excluded.deleted_at, doc = NULL",
                &[
                    &entity,
                    &row_id,
                    &to_i64(seq),
                    &to_i64(hlc.millis),
                    &i64::from(hlc.counter),
                    &device,
                    &placement.scope,
                    &placement.parent_id,
                    &public_since,
                    &ts(placement.written_at),
                ],
            )
            .await
            .map_err(db)?;
            tx.execute("DELETE FROM sync_fields WHERE entity = $1 AND row_id = $2", &[&entity, &row_id])
                .await
                .map_err(db)?;
        }
        Effect::Write(fields) => {
            let doc = sync::row_document(base, fields)?;
            let upsert_row = tx
                .prepare_cached(
                    "INSERT INTO sync_rows (entity, row_id, seq, scope, parent_id, public_since, doc)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, scope = excluded.scope,
                         parent_id = excluded.parent_id, public_since = excluded.public_since, doc = excluded.doc",
                )
                .await
                .map_err(db)?;
            // Every field of the change in one statement (not one per field).
            let upsert_fields = tx
                .prepare_cached(
                    "INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq)
                     SELECT $1, $2, f.name, f.value, f.hlc_millis, f.hlc_counter, f.device, $3
                     FROM unnest($4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::uuid[])
                          AS f(name, value, hlc_millis, hlc_counter, device)
                     ON CONFLICT (entity, row_id, name) DO UPDATE SET value = excluded.value,
                         hlc_millis = excluded.hlc_millis, hlc_counter = excluded.hlc_counter,
                         device = excluded.device, seq = excluded.seq",
                )
                .await
                .map_err(db)?;
            let names: Vec<&str> = fields.keys().map(String::as_str).collect();
            let values = fields
                .values()
                .map(|state| serde_json::to_string(&state.value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            let millis: Vec<i64> = fields.values().map(|state| to_i64(state.hlc.millis)).collect();
            let counters: Vec<i64> = fields.values().map(|state| i64::from(state.hlc.counter)).collect();
            let devices: Vec<Uuid> = fields.values().map(|state| state.device).collect();
            tx.execute(
                &upsert_row,
                &[&entity, &row_id, &to_i64(seq), &placement.scope, &placement.parent_id, &public_since, &doc],
            )
            .await
            .map_err(db)?;
            if !names.is_empty() {
                tx.execute(
                    &upsert_fields,
                    &[&entity, &row_id, &to_i64(seq), &names, &values, &millis, &counters, &devices],
                )
                .await
                .map_err(db)?;
            }
        }
    }
    Ok(())
}

pub(super) async fn pull(c: &mut Client, user: &User, since: u64, limit: u32) -> Result<PullPage, StorageError> {
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
    let access = access::load(&tx, user).await?;
    // The page of rows (one more than asked, to tell has_more), each with its document.
    let stmt = tx
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc FROM sync_rows WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .await
        .map_err(db)?;
    let found = tx.query(&stmt, &[&to_i64(since), &(i64::from(limit) + 1)]).await.map_err(db)?;
    let has_more = found.len() > limit as usize;
    let mut rows = Vec::new();
    let mut last_seq = since;
    for r in found.iter().take(limit as usize) {
        // Rows the user may not read are skipped, but the cursor still moves past them.
        let (seq, row) = pulled_row_from(r, &access)?;
        last_seq = seq;
        rows.extend(row);
    }
    let next_cursor = if has_more { last_seq } else { counter.max(since) };
    let revoked_scopes = access::revoked_scopes(&tx, user, &access, since, next_cursor).await?;
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
) -> Result<SnapshotChunk, StorageError> {
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)?;
    let access = access::load(&tx, user).await?;
    // Erasures come with the snapshot: a device may hold data about the person that the server
    // never saw (created offline) and must purge it.
    let stmt = tx
        .prepare_cached(
            "SELECT seq, entity, row_id, deleted, purged, scope, doc FROM sync_rows
             WHERE seq > $1 AND seq <= $2 AND (NOT deleted OR purged) ORDER BY seq LIMIT $3",
        )
        .await
        .map_err(db)?;
    let found = tx.query(&stmt, &[&to_i64(after), &to_i64(at), &i64::from(limit)]).await.map_err(db)?;
    tx.commit().await.map_err(db)?;

    let mut chunk = SnapshotChunk { rows: Vec::new(), last_seq: after, done: found.len() < limit as usize };
    for r in &found {
        // Rows the user may not read are skipped (same rule as pull).
        let (seq, row) = pulled_row_from(r, &access)?;
        chunk.last_seq = seq;
        chunk.rows.extend(row);
    }
    Ok(chunk)
}

/// A row of `SELECT seq, entity, row_id, deleted, purged, scope, doc FROM sync_rows`: its seq,
/// and the row when the user may read it.
fn pulled_row_from(r: &tokio_postgres::Row, access: &Access) -> Result<(u64, Option<PulledRow>), StorageError> {
    let seq = to_u64(r.try_get(0).map_err(db)?)?;
    let scope: &str = r.try_get(5).map_err(db)?;
    if !access.may_read(scope) {
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
