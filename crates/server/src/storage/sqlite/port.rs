//! The SQLite side of the sync engine's port ([`SyncTx`]): one immediate transaction on the
//! connection, and the SQL of each primitive. No decisions are made here.
//!
//! The transaction is begun and ended with plain SQL rather than `rusqlite::Transaction` so that
//! it holds only `&mut Connection` (which may move between threads) and the engine's futures are
//! `Send`; none of them ever waits (see [`crate::engine::run_ready`]).

use super::sync::{conversion, hlc_from, to_i64, to_u64};
use super::{access, db, parse_ts, parse_uuid, ts, users};
use crate::engine::{GrantRecord, Placement, Result, RowGrant, RowRef, RowWrite, SyncTx};
use crate::permissions::Access;
use crate::storage::{StorageError, User};
use crate::sync::{self, Clamp, Effect, Revocation, StoredRow};
use chrono::{DateTime, Utc};
use liaison_protocol::hlc::{Clock, Hlc, Stamp};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::scope;
use liaison_protocol::wire::{FieldState, Role};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// An immediate transaction: from `BEGIN IMMEDIATE` no other connection writes until it ends.
/// Dropped without [`SyncTx::commit`], it rolls back.
pub(super) struct SqliteTx<'c> {
    conn: &'c mut Connection,
    open: bool,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn begin(conn: &'c mut Connection) -> Result<Self> {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        Ok(Self { conn, open: true })
    }

    fn c(&self) -> &Connection {
        self.conn
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The head columns [`row_ref`] reads.
const HEAD: &str = "entity, row_id, seq, scope, parent_id, public_since, deleted, purged";

fn kind_from(text: &str) -> rusqlite::Result<EntityKind> {
    EntityKind::parse(text)
        .ok_or_else(|| conversion(StorageError::Backend(format!("unknown entity {text:?} in sync_rows"))))
}

fn row_ref(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowRef> {
    Ok(RowRef {
        kind: kind_from(r.get_ref(0)?.as_str()?)?,
        id: parse_uuid(r.get_ref(1)?.as_blob()?)?,
        seq: u64::try_from(r.get::<_, i64>(2)?).map_err(conversion)?,
        scope: r.get(3)?,
        parent_id: r.get::<_, Option<Vec<u8>>>(4)?.as_deref().map(parse_uuid).transpose()?,
        public_since: r.get::<_, Option<i64>>(5)?.map(|n| u64::try_from(n).map_err(conversion)).transpose()?,
        deleted: r.get(6)?,
        purged: r.get(7)?,
    })
}

fn heads(c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<RowRef>> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let rows = stmt.query_map(params, row_ref).map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db)
}

fn json_text(value: &serde_json::Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StorageError::Backend(e.to_string()))
}

type Head = (
    i64,
    bool,
    bool,
    Option<i64>,
    Option<i64>,
    Option<Vec<u8>>,
    Option<i64>,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
);

/// The row with its fields, stamps and field seqs.
pub(super) fn load_row(c: &Connection, entity: EntityKind, row_id: Uuid) -> Result<Option<StoredRow>> {
    let head: Option<Head> = c
        .prepare_cached(
            "SELECT seq, deleted, purged, deleted_millis, deleted_counter, deleted_device, deleted_seq, scope, parent_id,
                    person_id, public_since
             FROM sync_rows WHERE entity = ?1 AND row_id = ?2",
        )
        .map_err(db)?
        .query_row(params![entity.as_str(), row_id.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?))
        })
        .optional()
        .map_err(db)?;
    let Some((
        seq,
        deleted,
        purged,
        del_millis,
        del_counter,
        del_device,
        deleted_seq,
        scope,
        parent_id,
        person_id,
        public_since,
    )) = head
    else {
        return Ok(None);
    };
    let deleted_by = match (del_millis, del_counter, del_device) {
        (Some(millis), Some(counter), Some(device)) => {
            Some(Stamp::new(hlc_from(millis, counter).map_err(db)?, parse_uuid(&device).map_err(db)?))
        }
        _ => None,
    };
    let (fields, field_seqs) = load_fields(c, entity, row_id)?;
    let id = |bytes: Option<Vec<u8>>| bytes.as_deref().map(parse_uuid).transpose().map_err(db);
    Ok(Some(StoredRow {
        seq: to_u64(seq)?,
        deleted,
        purged,
        fields,
        field_seqs,
        deleted_by,
        deleted_seq: deleted_seq.map(to_u64).transpose()?,
        scope,
        parent_id: id(parent_id)?,
        person_id: id(person_id)?,
        public_since: public_since.map(to_u64).transpose()?,
        stand_in: false,
    }))
}

type Fields = (BTreeMap<String, FieldState>, BTreeMap<String, u64>);

fn load_fields(c: &Connection, entity: EntityKind, row_id: Uuid) -> Result<Fields> {
    let mut stmt = c
        .prepare_cached("SELECT name, value, hlc_millis, hlc_counter, device, seq FROM sync_fields WHERE entity = ?1 AND row_id = ?2")
        .map_err(db)?;
    let rows = stmt
        .query_map(params![entity.as_str(), row_id.as_bytes()], |r| {
            let (name, state) = super::sync::field_at(r, 0)?;
            let seq = u64::try_from(r.get::<_, i64>(5)?).map_err(conversion)?;
            Ok((name, state, seq))
        })
        .map_err(db)?;
    let mut fields = BTreeMap::new();
    let mut seqs = BTreeMap::new();
    for row in rows {
        let (name, state, seq) = row.map_err(db)?;
        seqs.insert(name.clone(), seq);
        fields.insert(name, state);
    }
    Ok((fields, seqs))
}

fn grant_record(seq: i64, at: &str) -> Result<GrantRecord> {
    Ok(GrantRecord { granted_seq: to_u64(seq)?, granted_at: parse_ts(at).map_err(db)? })
}

impl SyncTx for SqliteTx<'_> {
    async fn counters(&mut self) -> Result<(u64, Clock)> {
        self.c()
            .query_row("SELECT seq, clamp_millis, clamp_counter FROM sync_state WHERE id = 1", [], |r| {
                Ok((
                    u64::try_from(r.get::<_, i64>(0)?).map_err(conversion)?,
                    Clock::resume(hlc_from(r.get(1)?, r.get(2)?)?),
                ))
            })
            .map_err(db)
    }

    async fn save_counters(&mut self, seq: u64, clock: Hlc) -> Result<()> {
        self.c()
            .execute(
                "UPDATE sync_state SET seq = ?1, clamp_millis = ?2, clamp_counter = ?3 WHERE id = 1",
                params![to_i64(seq), to_i64(clock.millis), clock.counter],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn access(&mut self, user: Uuid) -> Result<Access> {
        access::load(self.c(), user)
    }

    async fn find_user(&mut self, name: &str) -> Result<Option<User>> {
        Ok(users::find_by_name(self.c(), name)?.map(|credentials| credentials.user))
    }

    async fn set_role(&mut self, user: Uuid, role: Role) -> Result<()> {
        self.c()
            .execute("UPDATE users SET role = ?1 WHERE id = ?2", params![role.as_str(), user.as_bytes()])
            .map_err(db)?;
        Ok(())
    }

    async fn stored_response(&mut self, batch: Uuid) -> Result<Option<(Uuid, String)>> {
        let found: Option<(Vec<u8>, String)> = self
            .c()
            .query_row("SELECT device_id, response FROM push_batches WHERE batch_id = ?1", [batch.as_bytes()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(db)?;
        found.map(|(device, text)| Ok((parse_uuid(&device).map_err(db)?, text))).transpose()
    }

    async fn applied_changes(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Option<u64>>> {
        let mut stmt = self.c().prepare_cached("SELECT seq FROM applied_changes WHERE change_id = ?1").map_err(db)?;
        let mut applied = HashMap::new();
        for id in ids {
            let seq: Option<Option<i64>> = stmt.query_row([id.as_bytes()], |r| r.get(0)).optional().map_err(db)?;
            if let Some(seq) = seq {
                applied.insert(*id, seq.and_then(|s| u64::try_from(s).ok()));
            }
        }
        Ok(applied)
    }

    async fn purged_among(&mut self, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
        let mut stmt = self.c().prepare_cached("SELECT 1 FROM purged_ids WHERE row_id = ?1").map_err(db)?;
        let mut purged = HashSet::new();
        for id in ids {
            if stmt.exists([id.as_bytes()]).map_err(db)? {
                purged.insert(*id);
            }
        }
        Ok(purged)
    }

    async fn load_row(&mut self, kind: EntityKind, id: Uuid) -> Result<Option<StoredRow>> {
        load_row(self.c(), kind, id)
    }

    async fn head(&mut self, kind: EntityKind, id: Uuid) -> Result<Option<RowRef>> {
        self.c()
            .prepare_cached(&format!("SELECT {HEAD} FROM sync_rows WHERE entity = ?1 AND row_id = ?2"))
            .map_err(db)?
            .query_row(params![kind.as_str(), id.as_bytes()], row_ref)
            .optional()
            .map_err(db)
    }

    async fn children(&mut self, parent: Uuid) -> Result<Vec<RowRef>> {
        heads(self.c(), &format!("SELECT {HEAD} FROM sync_rows WHERE parent_id = ?1 ORDER BY seq"), [parent.as_bytes()])
    }

    async fn owned_by(&mut self, person: Uuid) -> Result<Vec<RowRef>> {
        heads(self.c(), &format!("SELECT {HEAD} FROM sync_rows WHERE person_id = ?1 ORDER BY seq"), [person.as_bytes()])
    }

    async fn rows_in_scope(&mut self, scope: Option<&str>) -> Result<Vec<RowRef>> {
        match scope {
            Some(scope) => {
                heads(self.c(), &format!("SELECT {HEAD} FROM sync_rows WHERE scope = ?1 ORDER BY seq"), [scope])
            }
            None => heads(
                self.c(),
                &format!("SELECT {HEAD} FROM sync_rows WHERE scope <> ?1 ORDER BY seq"),
                [scope::PUBLIC],
            ),
        }
    }

    async fn scopes_in_use(&mut self) -> Result<Vec<String>> {
        let mut stmt =
            self.c().prepare("SELECT DISTINCT scope FROM sync_rows WHERE scope <> ?1 ORDER BY scope").map_err(db)?;
        let rows = stmt.query_map([scope::PUBLIC], |r| r.get(0)).map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    async fn write_row(&mut self, row: &RowWrite<'_>) -> Result<()> {
        write_row(self.c(), row)
    }

    async fn move_row(
        &mut self,
        row: &RowRef,
        seq: u64,
        scope: &str,
        public_since: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.c()
            .prepare_cached(
                "UPDATE sync_rows SET seq = ?1, scope = ?2, public_since = ?3,
                     deleted_at = CASE WHEN deleted THEN ?6 ELSE deleted_at END
                 WHERE entity = ?4 AND row_id = ?5",
            )
            .map_err(db)?
            .execute(params![
                to_i64(seq),
                scope,
                public_since.map(to_i64),
                row.kind.as_str(),
                row.id.as_bytes(),
                ts(now)
            ])
            .map_err(db)?;
        Ok(())
    }

    async fn tombstone(&mut self, row: &RowRef, seq: u64, by: Stamp, now: DateTime<Utc>) -> Result<()> {
        let c = self.c();
        c.prepare_cached(
            "UPDATE sync_rows SET seq = ?1, deleted = 1, deleted_millis = ?2, deleted_counter = ?3, deleted_device = ?4,
                 deleted_seq = ?1, deleted_at = ?5, doc = NULL
             WHERE entity = ?6 AND row_id = ?7",
        )
        .map_err(db)?
        .execute(params![
            to_i64(seq),
            to_i64(by.hlc.millis),
            by.hlc.counter,
            by.device.as_bytes(),
            ts(now),
            row.kind.as_str(),
            row.id.as_bytes()
        ])
        .map_err(db)?;
        delete_fields(c, row.kind, row.id)
    }

    async fn purge(&mut self, kind: EntityKind, id: Uuid, seq: u64, now: DateTime<Utc>) -> Result<()> {
        let c = self.c();
        c.prepare_cached(
            "UPDATE sync_rows SET seq = ?1, deleted = 1, purged = 1, deleted_at = ?4, doc = NULL WHERE entity = ?2 AND row_id = ?3",
        )
        .map_err(db)?
        .execute(params![to_i64(seq), kind.as_str(), id.as_bytes(), ts(now)])
        .map_err(db)?;
        delete_fields(c, kind, id)
    }

    async fn insert_purged(&mut self, kind: EntityKind, id: Uuid, seq: u64, now: DateTime<Utc>) -> Result<()> {
        self.c()
            .execute(
                "INSERT INTO sync_rows (entity, row_id, seq, deleted, purged, deleted_seq, public_since, deleted_at)
                 VALUES (?1, ?2, ?3, 1, 1, ?3, ?3, ?4)",
                params![kind.as_str(), id.as_bytes(), to_i64(seq), ts(now)],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn record_purged(&mut self, kind: EntityKind, id: Uuid, person: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.c()
            .prepare_cached(
                "INSERT INTO purged_ids (row_id, entity, contact_id, purged_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (row_id) DO NOTHING",
            )
            .map_err(db)?
            .execute(params![id.as_bytes(), kind.as_str(), person.as_bytes(), ts(now)])
            .map_err(db)?;
        Ok(())
    }

    async fn record_revocation(&mut self, seq: u64, r: &Revocation, now: DateTime<Utc>) -> Result<()> {
        self.c()
            .execute(
                "INSERT INTO revocations (seq, user_id, scope, since_seq, at, readers_of, unless_scope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    to_i64(seq),
                    r.user.as_ref().map(Uuid::as_bytes),
                    r.scope,
                    to_i64(r.since_seq),
                    ts(now),
                    r.readers_of,
                    r.unless
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn record_applied(&mut self, change: Uuid, batch: Uuid, device: Uuid, seq: Option<u64>) -> Result<()> {
        self.c()
            .prepare_cached("INSERT INTO applied_changes (change_id, batch_id, device_id, seq) VALUES (?1, ?2, ?3, ?4)")
            .map_err(db)?
            .execute(params![change.as_bytes(), batch.as_bytes(), device.as_bytes(), seq.map(to_i64)])
            .map_err(db)?;
        Ok(())
    }

    async fn record_response(&mut self, batch: Uuid, device: Uuid, response: &str, now: DateTime<Utc>) -> Result<()> {
        self.c()
            .execute(
                "INSERT INTO push_batches (batch_id, device_id, response, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![batch.as_bytes(), device.as_bytes(), response, ts(now)],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn record_clamp(&mut self, change: Uuid, device: Uuid, clamp: &Clamp, now: DateTime<Utc>) -> Result<()> {
        self.c()
            .execute(
                "INSERT INTO clock_clamps (change_id, device_id, field, original, clamped, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    change.as_bytes(),
                    device.as_bytes(),
                    clamp.field,
                    clamp.original.to_string(),
                    clamp.clamped.to_string(),
                    ts(now)
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn device_users(&mut self, devices: &[Uuid]) -> Result<BTreeMap<Uuid, String>> {
        let mut stmt = self
            .c()
            .prepare_cached("SELECT u.name FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1")
            .map_err(db)?;
        let mut names = BTreeMap::new();
        for device in devices {
            if let Some(name) = stmt.query_row([device.as_bytes()], |r| r.get::<_, String>(0)).optional().map_err(db)? {
                names.insert(*device, name);
            }
        }
        Ok(names)
    }

    async fn grant_of(&mut self, user: Uuid, scope: &str) -> Result<Option<GrantRecord>> {
        let found: Option<(i64, String)> = self
            .c()
            .query_row(
                "SELECT granted_seq, granted_at FROM grants WHERE user_id = ?1 AND scope = ?2",
                params![user.as_bytes(), scope],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        found.map(|(seq, at)| grant_record(seq, &at)).transpose()
    }

    async fn add_grant(&mut self, user: Uuid, scope: &str, grant: GrantRecord) -> Result<()> {
        self.c()
            .execute(
                "INSERT INTO grants (user_id, scope, granted_seq, granted_at) VALUES (?1, ?2, ?3, ?4)",
                params![user.as_bytes(), scope, to_i64(grant.granted_seq), ts(grant.granted_at)],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn remove_grant(&mut self, user: Uuid, scope: &str) -> Result<Option<GrantRecord>> {
        let found: Option<(i64, String)> = self
            .c()
            .query_row(
                "DELETE FROM grants WHERE user_id = ?1 AND scope = ?2 RETURNING granted_seq, granted_at",
                params![user.as_bytes(), scope],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        found.map(|(seq, at)| grant_record(seq, &at)).transpose()
    }

    async fn set_row_grant(
        &mut self,
        kind: EntityKind,
        id: Uuid,
        grant: Option<&RowGrant>,
    ) -> Result<Option<RowGrant>> {
        let c = self.c();
        let before: Option<(Vec<u8>, String, i64)> = c
            .query_row(
                "DELETE FROM row_grants WHERE entity = ?1 AND row_id = ?2 RETURNING user_id, scope, granted_seq",
                params![kind.as_str(), id.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db)?;
        if let Some(grant) = grant {
            c.execute(
                "INSERT INTO row_grants (entity, row_id, user_id, scope, granted_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind.as_str(), id.as_bytes(), grant.user.as_bytes(), grant.scope, to_i64(grant.granted_seq)],
            )
            .map_err(db)?;
        }
        before
            .map(|(user, scope, seq)| {
                Ok(RowGrant { user: parse_uuid(&user).map_err(db)?, scope, granted_seq: to_u64(seq)? })
            })
            .transpose()
    }

    async fn drop_unreferenced_blobs(&mut self) -> Result<u64> {
        let gone = self
            .c()
            .execute(
                "DELETE FROM blobs WHERE NOT EXISTS (
                     SELECT 1 FROM sync_fields f WHERE f.entity = 'attachment' AND f.name = 'sha256' AND f.value = json_quote(blobs.sha256))",
                [],
            )
            .map_err(db)?;
        Ok(u64::try_from(gone).unwrap_or(0))
    }

    async fn commit(mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(db)?;
        self.open = false;
        Ok(())
    }
}

fn delete_fields(c: &Connection, kind: EntityKind, id: Uuid) -> Result<()> {
    c.prepare_cached("DELETE FROM sync_fields WHERE entity = ?1 AND row_id = ?2")
        .map_err(db)?
        .execute(params![kind.as_str(), id.as_bytes()])
        .map_err(db)?;
    Ok(())
}

/// Write an effect to the row at its placement (see [`SyncTx::write_row`]).
fn write_row(c: &Connection, row: &RowWrite<'_>) -> Result<()> {
    let Placement { seq, scope, parent_id, person_id, public_since, protocol, written_at } = row.placement;
    let (entity, row_id) = (row.kind.as_str(), row.id.as_bytes());
    let parent = parent_id.as_ref().map(Uuid::as_bytes);
    let person = person_id.as_ref().map(Uuid::as_bytes);
    let public_since = public_since.map(to_i64);
    match row.effect {
        Effect::Unchanged => {}
        Effect::Tombstone { hlc } => {
            c.prepare_cached(
                "INSERT INTO sync_rows (entity, row_id, seq, deleted, deleted_millis, deleted_counter, deleted_device,
                                        deleted_seq, scope, parent_id, person_id, public_since, deleted_at, protocol)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?3, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, deleted = 1,
                     deleted_millis = excluded.deleted_millis, deleted_counter = excluded.deleted_counter,
                     deleted_device = excluded.deleted_device, deleted_seq = excluded.deleted_seq,
                     scope = excluded.scope, parent_id = excluded.parent_id, person_id = excluded.person_id,
                     public_since = excluded.public_since, deleted_at = excluded.deleted_at, protocol = excluded.protocol,
                     doc = NULL",
            )
            .map_err(db)?
            .execute(params![
                entity,
                row_id,
                to_i64(*seq),
                to_i64(hlc.millis),
                hlc.counter,
                row.device.as_bytes(),
                scope,
                parent,
                person,
                public_since,
                ts(*written_at),
                protocol
            ])
            .map_err(db)?;
            delete_fields(c, row.kind, row.id)?;
        }
        Effect::Write(fields) => {
            let doc = sync::row_document(row.base, fields)?;
            c.prepare_cached(
                "INSERT INTO sync_rows (entity, row_id, seq, scope, parent_id, person_id, public_since, doc, protocol)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (entity, row_id) DO UPDATE SET seq = excluded.seq, scope = excluded.scope,
                     parent_id = excluded.parent_id, person_id = excluded.person_id, public_since = excluded.public_since,
                     doc = excluded.doc, protocol = excluded.protocol",
            )
            .map_err(db)?
            .execute(params![entity, row_id, to_i64(*seq), scope, parent, person, public_since, doc, protocol])
            .map_err(db)?;
            let mut stmt = c
                .prepare_cached(
                    "INSERT INTO sync_fields (entity, row_id, name, value, hlc_millis, hlc_counter, device, seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (entity, row_id, name) DO UPDATE SET value = excluded.value,
                         hlc_millis = excluded.hlc_millis, hlc_counter = excluded.hlc_counter,
                         device = excluded.device, seq = excluded.seq",
                )
                .map_err(db)?;
            for (name, state) in fields {
                stmt.execute(params![
                    entity,
                    row_id,
                    name,
                    json_text(&state.value)?,
                    to_i64(state.hlc.millis),
                    state.hlc.counter,
                    state.device.as_bytes(),
                    to_i64(*seq)
                ])
                .map_err(db)?;
            }
        }
    }
    Ok(())
}
