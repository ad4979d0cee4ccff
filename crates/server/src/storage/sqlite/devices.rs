//! The `devices` table: one row per signed-in client installation, with its token hash.

use super::{db, parse_ts, parse_uuid, ts, users};
use crate::storage::{Device, DeviceAuth, DeviceInfo, NewDevice, StorageError};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

pub(super) const MIGRATION_1: &str = "
CREATE TABLE devices (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX devices_user ON devices (user_id);
";

/// 8: when a revoked device confirmed it wiped its local data.
pub(super) const MIGRATION_8: &str = "ALTER TABLE devices ADD COLUMN wiped_at TEXT;";

const COLUMNS: &str = "d.id, d.user_id, d.name, d.created_at, d.last_seen_at, d.revoked_at, d.wiped_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: parse_uuid(&r.get::<_, Vec<u8>>(0)?)?,
        user_id: parse_uuid(&r.get::<_, Vec<u8>>(1)?)?,
        name: r.get(2)?,
        created_at: parse_ts(&r.get::<_, String>(3)?)?,
        last_seen_at: parse_ts(&r.get::<_, String>(4)?)?,
        revoked_at: r.get::<_, Option<String>>(5)?.as_deref().map(parse_ts).transpose()?,
        wiped_at: r.get::<_, Option<String>>(6)?.as_deref().map(parse_ts).transpose()?,
    })
}

fn get(c: &Connection, id: Uuid) -> Result<Option<DeviceInfo>, StorageError> {
    c.query_row(
        &format!("SELECT {COLUMNS}, u.name FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1"),
        [id.as_bytes()],
        |r| Ok(DeviceInfo { device: from_row(r)?, user_name: r.get(7)? }),
    )
    .optional()
    .map_err(db)
}

pub(super) fn register(c: &mut Connection, new: &NewDevice, now: DateTime<Utc>) -> Result<Device, StorageError> {
    let tx = c.transaction().map_err(db)?;
    let existing = get(&tx, new.id)?;
    match existing {
        Some(info) if info.device.user_id != new.user_id => {
            return Err(StorageError::Invalid(
                "this device id is registered to another user; sign in from a new Liaison profile to use a different account"
                    .into(),
            ));
        }
        Some(info) if info.device.is_revoked() => return Err(StorageError::Revoked),
        Some(_) => {
            tx.execute(
                "UPDATE devices SET name = ?1, token_hash = ?2, last_seen_at = ?3 WHERE id = ?4",
                params![new.name, new.token_hash, ts(now), new.id.as_bytes()],
            )
            .map_err(db)?;
        }
        None => {
            tx.execute(
                "INSERT INTO devices (id, user_id, name, token_hash, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![new.id.as_bytes(), new.user_id.as_bytes(), new.name, new.token_hash, ts(now)],
            )
            .map_err(db)?;
        }
    }
    let device = get(&tx, new.id)?.map(|i| i.device);
    tx.commit().map_err(db)?;
    device.ok_or_else(|| StorageError::Backend("the device vanished while it was registered".into()))
}

pub(super) fn find_by_token_hash(c: &mut Connection, hash: &str) -> Result<Option<DeviceAuth>, StorageError> {
    // Every request asks this: the prepared statement is kept.
    c.prepare_cached(&format!(
        "SELECT {COLUMNS}, u.id, u.name, u.role, u.created_at FROM devices d JOIN users u ON u.id = d.user_id
         WHERE d.token_hash = ?1"
    ))
    .map_err(db)?
    .query_row([hash], |r| Ok(DeviceAuth { device: from_row(r)?, user: users::from_row(r, 7)? }))
    .optional()
    .map_err(db)
}

pub(super) fn touch(c: &mut Connection, id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
    c.execute("UPDATE devices SET last_seen_at = ?1 WHERE id = ?2", params![ts(now), id.as_bytes()]).map_err(db)?;
    Ok(())
}

pub(super) fn list(c: &mut Connection) -> Result<Vec<DeviceInfo>, StorageError> {
    let mut stmt = c
        .prepare(&format!(
            "SELECT {COLUMNS}, u.name FROM devices d JOIN users u ON u.id = d.user_id ORDER BY d.created_at, d.id"
        ))
        .map_err(db)?;
    let rows = stmt.query_map([], |r| Ok(DeviceInfo { device: from_row(r)?, user_name: r.get(7)? })).map_err(db)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db)
}

pub(super) fn revoke(c: &mut Connection, id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
    c.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, ?1) WHERE id = ?2",
        params![ts(now), id.as_bytes()],
    )
    .map_err(db)?;
    get(c, id)?.ok_or_else(|| StorageError::NotFound(format!("there is no device with id {id}")))
}

/// A revoked device says it wiped its local data; the first confirmation's time is kept.
pub(super) fn confirm_wiped(c: &mut Connection, id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
    c.execute(
        "UPDATE devices SET wiped_at = coalesce(wiped_at, ?1) WHERE id = ?2 AND revoked_at IS NOT NULL",
        params![ts(now), id.as_bytes()],
    )
    .map_err(db)?;
    get(c, id)?.ok_or_else(|| StorageError::NotFound(format!("there is no device with id {id}")))
}
