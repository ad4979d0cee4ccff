//! The PostgreSQL side of the sync engine's port ([`SyncTx`]): one transaction, serialised with
//! every other writer by the `sync_state` counter's row lock ([`SyncTx::counters`] takes it, and
//! it is held until commit), and the SQL of each primitive. No decisions are made here.

use super::sync::{field_from, hlc_from, to_i64, to_u64};
use super::{access, db, ts, users};
use crate::engine::{GrantRecord, Placement, Result, RowGrant, RowRef, RowWrite, SyncTx};
use crate::permissions::Access;
use crate::storage::{StorageError, User};
use crate::sync::{self, Clamp, Effect, Revocation, StoredRow};
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use liaison_protocol::hlc::{Clock, Hlc, Stamp};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::scope;
use liaison_protocol::wire::Role;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// A write transaction; dropped without [`SyncTx::commit`], it rolls back.
pub(super) struct PgTx<'a> {
    tx: Transaction<'a>,
}

impl<'a> PgTx<'a> {
    pub(super) fn new(tx: Transaction<'a>) -> Self {
        Self { tx }
    }
}

/// The head columns [`row_ref`] reads.
const HEAD: &str = "entity, row_id, seq, scope, parent_id, public_since, deleted, purged";

fn row_ref(r: &tokio_postgres::Row) -> Result<RowRef> {
    let entity: &str = r.try_get(0).map_err(db)?;
    Ok(RowRef {
        kind: EntityKind::parse(entity)
            .ok_or_else(|| StorageError::Backend(format!("unknown entity {entity:?} in sync_rows")))?,
        id: r.try_get(1).map_err(db)?,
        seq: to_u64(r.try_get(2).map_err(db)?)?,
        scope: r.try_get(3).map_err(db)?,
        parent_id: r.try_get(4).map_err(db)?,
        public_since: r.try_get::<_, Option<i64>>(5).map_err(db)?.map(to_u64).transpose()?,
        deleted: r.try_get(6).map_err(db)?,
        purged: r.try_get(7).map_err(db)?,
    })
}

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

impl PgTx<'_> {
    async fn heads(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Vec<RowRef>> {
        let stmt = self.tx.prepare_cached(sql).await.map_err(db)?;
        self.tx.query(&stmt, params).await.map_err(db)?.iter().map(row_ref).collect()
    }

    async fn delete_fields(&self, kind: EntityKind, id: Uuid) -> Result<()> {
        let stmt =
            self.tx.prepare_cached("DELETE FROM sync_fields WHERE entity = $1 AND row_id = $2").await.map_err(db)?;
        self.tx.execute(&stmt, &[&kind.as_str(), &id]).await.map_err(db)?;
        Ok(())
    }
}

impl SyncTx for PgTx<'_> {
    async fn counters(&mut self) -> Result<(u64, Clock)> {
        let state = self
            .tx
            .query_one("SELECT seq, clamp_millis, clamp_counter FROM sync_state WHERE id = 1 FOR UPDATE", &[])
            .await
            .map_err(db)?;
        Ok((
            to_u64(state.try_get(0).map_err(db)?)?,
            Clock::resume(hlc_from(state.try_get(1).map_err(db)?, state.try_get(2).map_err(db)?)?),
        ))
    }

    async fn save_counters(&mut self, seq: u64, clock: Hlc) -> Result<()> {
        self.tx
            .execute(
                "UPDATE sync_state SET seq = $1, clamp_millis = $2, clamp_counter = $3 WHERE id = 1",
                &[&to_i64(seq), &to_i64(clock.millis), &i64::from(clock.counter)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn access(&mut self, user: Uuid) -> Result<Access> {
        access::load(&self.tx, user).await
    }

    async fn find_user(&mut self, name: &str) -> Result<Option<User>> {
        Ok(users::find_by_name(&self.tx, name).await?.map(|credentials| credentials.user))
    }

    async fn set_role(&mut self, user: Uuid, role: Role) -> Result<()> {
        self.tx.execute("UPDATE users SET role = $1 WHERE id = $2", &[&role.as_str(), &user]).await.map_err(db)?;
        Ok(())
    }

    async fn stored_response(&mut self, batch: Uuid) -> Result<Option<(Uuid, String)>> {
        let found = self
            .tx
            .query_opt("SELECT device_id, response FROM push_batches WHERE batch_id = $1", &[&batch])
            .await
            .map_err(db)?;
        found.map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?))).transpose()
    }

    async fn applied_changes(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Option<u64>>> {
        let rows = self
            .tx
            .query("SELECT change_id, seq FROM applied_changes WHERE change_id = ANY($1)", &[&ids])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(db)?,
                    r.try_get::<_, Option<i64>>(1).map_err(db)?.and_then(|s| u64::try_from(s).ok()),
                ))
            })
            .collect()
    }

    async fn purged_among(&mut self, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
        let rows = self.tx.query("SELECT row_id FROM purged_ids WHERE row_id = ANY($1)", &[&ids]).await.map_err(db)?;
        rows.iter().map(|r| r.try_get(0).map_err(db)).collect()
    }

    async fn load_row(&mut self, kind: EntityKind, id: Uuid) -> Result<Option<StoredRow>> {
        // The row with its fields in one round trip (the row's columns repeat on each field's line).
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT r.seq, r.deleted, r.purged, r.deleted_millis, r.deleted_counter, r.deleted_device, r.deleted_seq,
                        r.scope, r.parent_id, r.person_id, r.public_since,
                        f.name, f.value, f.hlc_millis, f.hlc_counter, f.device, f.seq
                 FROM sync_rows r LEFT JOIN sync_fields f ON f.entity = r.entity AND f.row_id = r.row_id
                 WHERE r.entity = $1 AND r.row_id = $2",
            )
            .await
            .map_err(db)?;
        let found = self.tx.query(&stmt, &[&kind.as_str(), &id]).await.map_err(db)?;
        let Some(head) = found.first() else {
            return Ok(None);
        };
        let mut fields = BTreeMap::new();
        let mut field_seqs = BTreeMap::new();
        for r in &found {
            if r.try_get::<_, Option<&str>>(11).map_err(db)?.is_none() {
                continue;
            }
            let (name, state) = field_from(r, 11)?;
            field_seqs.insert(name.clone(), to_u64(r.try_get(16).map_err(db)?)?);
            fields.insert(name, state);
        }
        let millis: Option<i64> = head.try_get(3).map_err(db)?;
        let counter: Option<i64> = head.try_get(4).map_err(db)?;
        let device: Option<Uuid> = head.try_get(5).map_err(db)?;
        let deleted_by = match (millis, counter, device) {
            (Some(millis), Some(counter), Some(device)) => Some(Stamp::new(hlc_from(millis, counter)?, device)),
            _ => None,
        };
        let optional_seq = |i: usize| -> Result<Option<u64>> {
            head.try_get::<_, Option<i64>>(i).map_err(db)?.map(to_u64).transpose()
        };
        Ok(Some(StoredRow {
            seq: to_u64(head.try_get(0).map_err(db)?)?,
            deleted: head.try_get(1).map_err(db)?,
            purged: head.try_get(2).map_err(db)?,
            fields,
            field_seqs,
            deleted_by,
            deleted_seq: optional_seq(6)?,
            scope: head.try_get(7).map_err(db)?,
            parent_id: head.try_get(8).map_err(db)?,
            person_id: head.try_get(9).map_err(db)?,
            public_since: optional_seq(10)?,
            stand_in: false,
        }))
    }

    async fn head(&mut self, kind: EntityKind, id: Uuid) -> Result<Option<RowRef>> {
        let stmt = self
            .tx
            .prepare_cached(&format!("SELECT {HEAD} FROM sync_rows WHERE entity = $1 AND row_id = $2"))
            .await
            .map_err(db)?;
        self.tx.query_opt(&stmt, &[&kind.as_str(), &id]).await.map_err(db)?.as_ref().map(row_ref).transpose()
    }

    async fn children(&mut self, parent: Uuid) -> Result<Vec<RowRef>> {
        self.heads(&format!("SELECT {HEAD} FROM sync_rows WHERE parent_id = $1 ORDER BY seq"), &[&parent]).await
    }

    async fn owned_by(&mut self, person: Uuid) -> Result<Vec<RowRef>> {
        self.heads(&format!("SELECT {HEAD} FROM sync_rows WHERE person_id = $1 ORDER BY seq"), &[&person]).await
    }

    async fn rows_in_scope(&mut self, scope: Option<&str>) -> Result<Vec<RowRef>> {
        match scope {
            Some(scope) => {
                self.heads(&format!("SELECT {HEAD} FROM sync_rows WHERE scope = $1 ORDER BY seq"), &[&scope]).await
            }
            None => {
                self.heads(&format!("SELECT {HEAD} FROM sync_rows WHERE scope <> $1 ORDER BY seq"), &[&scope::PUBLIC])
                    .await
            }
        }
    }

    async fn scopes_in_use(&mut self) -> Result<Vec<String>> {
        let rows = self
            .tx
            .query(
                "SELECT scope FROM sync_rows WHERE scope <> $1 GROUP BY scope ORDER BY scope COLLATE \"C\"",
                &[&scope::PUBLIC],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| r.try_get(0).map_err(db)).collect()
    }

    async fn write_row(&mut self, row: &RowWrite<'_>) -> Result<()> {
        let Placement { seq, scope, parent_id, person_id, public_since, protocol, written_at } = row.placement;
        let entity = row.kind.as_str();
        let public_since = public_since.map(to_i64);
        let protocol = i32::try_from(*protocol).unwrap_or(i32::MAX);
        match row.effect {
            Effect::Unchanged => {}
            Effect::Tombstone { hlc } => {
                let stmt = self
                    .tx
                    .prepare_cached(
                        "INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_millis, deleted_counter, deleted_device,
                                                deleted_seq, scope, parent_id, person_id, public_since, deleted_at, protocol)
                         VALUES ($1, $2, $3, true, $4, $5, $6, $3, $7, $8, $9, $10, $11, $12)
                         ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, deleted = true,
                             deleted_millis = excluded.deleted_millis, deleted_counter = excluded.deleted_counter,
                             deleted_device = excluded.deleted_device, deleted_seq = excluded.deleted_seq,
                             scope = excluded.scope, parent_id = excluded.parent_id, person_id = excluded.person_id,
                             public_since = excluded.public_since, deleted_at = excluded.deleted_at,
                             protocol = excluded.protocol, doc = NULL",
                    )
                    .await
                    .map_err(db)?;
                self.tx
                    .execute(
                        &stmt,
                        &[
                            &entity,
                            &row.id,
                            &to_i64(*seq),
                            &to_i64(hlc.millis),
                            &i64::from(hlc.counter),
                            &row.device,
                            scope,
                            parent_id,
                            person_id,
                            &public_since,
                            &ts(*written_at),
                            &protocol,
                        ],
                    )
                    .await
                    .map_err(db)?;
                self.delete_fields(row.kind, row.id).await?;
            }
            Effect::Write(fields) => {
                let doc = sync::row_document(row.base, fields)?;
                let upsert_row = self
                    .tx
                    .prepare_cached(
                        "INSERT INTO sync_rows (entity, row_id, seq, scope, parent_id, person_id, public_since, doc, protocol)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, scope = excluded.scope,
                             parent_id = excluded.parent_id, person_id = excluded.person_id,
                             public_since = excluded.public_since, doc = excluded.doc, protocol = excluded.protocol",
                    )
                    .await
                    .map_err(db)?;
                // Every field of the change in one statement (not one per field).
                let upsert_fields = self
                    .tx
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
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(backend)?;
                let millis: Vec<i64> = fields.values().map(|state| to_i64(state.hlc.millis)).collect();
                let counters: Vec<i64> = fields.values().map(|state| i64::from(state.hlc.counter)).collect();
                let devices: Vec<Uuid> = fields.values().map(|state| state.device).collect();
                self.tx
                    .execute(
                        &upsert_row,
                        &[&entity, &row.id, &to_i64(*seq), scope, parent_id, person_id, &public_since, &doc, &protocol],
                    )
                    .await
                    .map_err(db)?;
                if !names.is_empty() {
                    self.tx
                        .execute(
                            &upsert_fields,
                            &[&entity, &row.id, &to_i64(*seq), &names, &values, &millis, &counters, &devices],
                        )
                        .await
                        .map_err(db)?;
                }
            }
        }
        Ok(())
    }

    async fn move_row(
        &mut self,
        row: &RowRef,
        seq: u64,
        scope: &str,
        public_since: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE sync_rows SET seq = $1, scope = $2, public_since = $3,
                     deleted_at = CASE WHEN deleted THEN $6 ELSE deleted_at END
                 WHERE entity = $4 AND row_id = $5",
            )
            .await
            .map_err(db)?;
        self.tx
            .execute(&stmt, &[&to_i64(seq), &scope, &public_since.map(to_i64), &row.kind.as_str(), &row.id, &ts(now)])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn tombstone(&mut self, row: &RowRef, seq: u64, by: Stamp, now: DateTime<Utc>) -> Result<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE sync_rows SET seq = $1, deleted = true, deleted_millis = $2, deleted_counter = $3, deleted_device = $4,
                     deleted_seq = $1, deleted_at = $5, doc = NULL
                 WHERE entity = $6 AND row_id = $7",
            )
            .await
            .map_err(db)?;
        self.tx
            .execute(
                &stmt,
                &[
                    &to_i64(seq),
                    &to_i64(by.hlc.millis),
                    &i64::from(by.hlc.counter),
                    &by.device,
                    &ts(now),
                    &row.kind.as_str(),
                    &row.id,
                ],
            )
            .await
            .map_err(db)?;
        self.delete_fields(row.kind, row.id).await
    }

    async fn purge(&mut self, kind: EntityKind, id: Uuid, seq: u64, now: DateTime<Utc>) -> Result<()> {
        self.tx
            .execute(
                "UPDATE sync_rows SET seq = $1, deleted = true, purged = true, deleted_at = $4, doc = NULL
                 WHERE entity = $2 AND row_id = $3",
                &[&to_i64(seq), &kind.as_str(), &id, &ts(now)],
            )
            .await
            .map_err(db)?;
        self.delete_fields(kind, id).await
    }

    async fn insert_purged(&mut self, kind: EntityKind, id: Uuid, seq: u64, now: DateTime<Utc>) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO sync_rows (entity, row_id, seq, deleted, purged, deleted_seq, public_since, deleted_at)
                 VALUES ($1, $2, $3, true, true, $3, $3, $4)",
                &[&kind.as_str(), &id, &to_i64(seq), &ts(now)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn record_purged(&mut self, kind: EntityKind, id: Uuid, person: Uuid, now: DateTime<Utc>) -> Result<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO purged_ids (row_id, entity, contact_id, purged_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (row_id) DO NOTHING",
            )
            .await
            .map_err(db)?;
        self.tx.execute(&stmt, &[&id, &kind.as_str(), &person, &ts(now)]).await.map_err(db)?;
        Ok(())
    }

    async fn record_revocation(&mut self, seq: u64, r: &Revocation, now: DateTime<Utc>) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO revocations (seq, user_id, scope, since_seq, at, readers_of, unless_scope)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&to_i64(seq), &r.user, &r.scope, &to_i64(r.since_seq), &ts(now), &r.readers_of, &r.unless],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn record_applied(&mut self, change: Uuid, batch: Uuid, device: Uuid, seq: Option<u64>) -> Result<()> {
        let stmt = self
            .tx
            .prepare_cached("INSERT INTO applied_changes (change_id, batch_id, device_id, seq) VALUES ($1, $2, $3, $4)")
            .await
            .map_err(db)?;
        self.tx.execute(&stmt, &[&change, &batch, &device, &seq.map(to_i64)]).await.map_err(db)?;
        Ok(())
    }

    async fn record_response(&mut self, batch: Uuid, device: Uuid, response: &str, now: DateTime<Utc>) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO push_batches (batch_id, device_id, response, created_at) VALUES ($1, $2, $3, $4)",
                &[&batch, &device, &response, &ts(now)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn record_clamp(&mut self, change: Uuid, device: Uuid, clamp: &Clamp, now: DateTime<Utc>) -> Result<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO clock_clamps (change_id, device_id, field, original, clamped, at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await
            .map_err(db)?;
        self.tx
            .execute(
                &stmt,
                &[&change, &device, &clamp.field, &clamp.original.to_string(), &clamp.clamped.to_string(), &ts(now)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn device_users(&mut self, devices: &[Uuid]) -> Result<BTreeMap<Uuid, String>> {
        let rows = self
            .tx
            .query(
                "SELECT d.id, u.name FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ANY($1)",
                &[&devices],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?))).collect()
    }

    async fn grant_of(&mut self, user: Uuid, scope: &str) -> Result<Option<GrantRecord>> {
        let found = self
            .tx
            .query_opt("SELECT granted_seq, granted_at FROM grants WHERE user_id = $1 AND scope = $2", &[&user, &scope])
            .await
            .map_err(db)?;
        found
            .map(|r| {
                Ok(GrantRecord {
                    granted_seq: to_u64(r.try_get(0).map_err(db)?)?,
                    granted_at: r.try_get(1).map_err(db)?,
                })
            })
            .transpose()
    }

    async fn add_grant(&mut self, user: Uuid, scope: &str, grant: GrantRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO grants (user_id, scope, granted_seq, granted_at) VALUES ($1, $2, $3, $4)",
                &[&user, &scope, &to_i64(grant.granted_seq), &ts(grant.granted_at)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn remove_grant(&mut self, user: Uuid, scope: &str) -> Result<Option<GrantRecord>> {
        let found = self
            .tx
            .query_opt(
                "DELETE FROM grants WHERE user_id = $1 AND scope = $2 RETURNING granted_seq, granted_at",
                &[&user, &scope],
            )
            .await
            .map_err(db)?;
        found
            .map(|r| {
                Ok(GrantRecord {
                    granted_seq: to_u64(r.try_get(0).map_err(db)?)?,
                    granted_at: r.try_get(1).map_err(db)?,
                })
            })
            .transpose()
    }

    async fn set_row_grant(
        &mut self,
        kind: EntityKind,
        id: Uuid,
        grant: Option<&RowGrant>,
    ) -> Result<Option<RowGrant>> {
        let before = self
            .tx
            .query_opt(
                "DELETE FROM row_grants WHERE entity = $1 AND row_id = $2 RETURNING user_id, scope, granted_seq",
                &[&kind.as_str(), &id],
            )
            .await
            .map_err(db)?;
        if let Some(grant) = grant {
            self.tx
                .execute(
                    "INSERT INTO row_grants (entity, row_id, user_id, scope, granted_seq) VALUES ($1, $2, $3, $4, $5)",
                    &[&kind.as_str(), &id, &grant.user, &grant.scope, &to_i64(grant.granted_seq)],
                )
                .await
                .map_err(db)?;
        }
        before
            .map(|r| {
                Ok(RowGrant {
                    user: r.try_get(0).map_err(db)?,
                    scope: r.try_get(1).map_err(db)?,
                    granted_seq: to_u64(r.try_get(2).map_err(db)?)?,
                })
            })
            .transpose()
    }

    async fn drop_unreferenced_blobs(&mut self) -> Result<u64> {
        self.tx
            .execute(
                "DELETE FROM blobs b WHERE NOT EXISTS (
                     SELECT 1 FROM sync_fields f WHERE f.entity = 'attachment' AND f.name = 'sha256' AND f.value = to_json(b.sha256)::text)",
                &[],
            )
            .await
            .map_err(db)
    }

    async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(db)
    }
}
