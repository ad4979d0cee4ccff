//! The `devices` table: one row per signed-in client installation, with its token hash.

use super::{db, ts, users};
use crate::storage::{Device, DeviceAuth, DeviceInfo, NewDevice, StorageError};
use chrono::{DateTime, Utc};
use deadpool_postgres::Client;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

pub(super) const MIGRATION_1: &str = "
CREATE TABLE devices (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    name         text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX devices_user ON devices (user_id);
";

/// 8: when a revoked device confirmed it wiped its local data.
pub(super) const MIGRATION_8: &str = "ALTER TABLE devices ADD COLUMN wiped_at timestamptz;";

const COLUMNS: &str = "d.id, d.user_id, d.name, d.created_at, d.last_seen_at, d.revoked_at, d.wiped_at";

fn from_row(r: &Row) -> Result<Device, StorageError> {
    Ok(Device {
        id: r.try_get(0).map_err(db)?,
        user_id: r.try_get(1).map_err(db)?,
        name: r.try_get(2).map_err(db)?,
        created_at: r.try_get(3).map_err(db)?,
        last_seen_at: r.try_get(4).map_err(db)?,
        revoked_at: r.try_get(5).map_err(db)?,
        wiped_at: r.try_get(6).map_err(db)?,
    })
}

fn info_from_row(r: &Row) -> Result<DeviceInfo, StorageError> {
    Ok(DeviceInfo { device: from_row(r)?, user_name: r.try_get(7).map_err(db)? })
}

async fn get(c: &impl GenericClient, id: Uuid, lock: bool) -> Result<Option<DeviceInfo>, StorageError> {
    let lock = if lock { " FOR UPDATE OF d" } else { "" };
    let row = c
        .query_opt(
            &format!("SELECT {COLUMNS}, u.name FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1{lock}"),
            &[&id],
        )
        .await
        .map_err(db)?;
    row.as_ref().map(info_from_row).transpose()
}

pub(super) async fn register(c: &mut Client, new: &NewDevice, now: DateTime<Utc>) -> Result<Device, StorageError> {
    let now = ts(now);
    let tx = c.transaction().await.map_err(db)?;
    match get(&*tx, new.id, true).await? {
        Some(info) if info.device.user_id != new.user_id => {
            return Err(StorageError::Invalid(
                "this device id is registered to another user; sign in from a new Liaison profile to use a different account"
                    .into(),
            ));
        }
        Some(info) if info.device.is_revoked() => return Err(StorageError::Revoked),
        Some(_) => {
            tx.execute(
                "UPDATE devices SET name = $1, token_hash = $2, last_seen_at = $3 WHERE id = $4",
                &[&new.name, &new.token_hash, &now, &new.id],
            )
            .await
            .map_err(db)?;
        }
        None => {
            tx.execute(
                "INSERT INTO devices (id, user_id, name, token_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $5)",
                &[&new.id, &new.user_id, &new.name, &new.token_hash, &now],
            )
            .await
            .map_err(db)?;
        }
    }
    let device = get(&*tx, new.id, false).await?.map(|i| i.device);
    tx.commit().await.map_err(db)?;
    device.ok_or_else(|| StorageError::Backend("the device vanished while it was registered".into()))
}

pub(super) async fn find_by_token_hash(c: &Client, hash: &str) -> Result<Option<DeviceAuth>, StorageError> {
    // Every request asks this: a prepared statement saves a round trip each time.
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, u.id, u.name, u.role, u.created_at FROM devices d JOIN users u ON u.id = d.user_id
             WHERE d.token_hash = $1"
        ))
        .await
        .map_err(db)?;
    let row = c.query_opt(&stmt, &[&hash]).await.map_err(db)?;
    row.map(|r| Ok(DeviceAuth { device: from_row(&r)?, user: users::from_row(&r, 7)? })).transpose()
}

pub(super) async fn touch(c: &Client, id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
    c.execute("UPDATE devices SET last_seen_at = $1 WHERE id = $2", &[&ts(now), &id]).await.map_err(db)?;
    Ok(())
}

pub(super) async fn list(c: &Client) -> Result<Vec<DeviceInfo>, StorageError> {
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS}, u.name FROM devices d JOIN users u ON u.id = d.user_id ORDER BY d.created_at, d.id"
            ),
            &[],
        )
        .await
        .map_err(db)?;
    rows.iter().map(info_from_row).collect()
}

pub(super) async fn revoke(c: &Client, id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
    c.execute("UPDATE devices SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2", &[&ts(now), &id])
        .await
        .map_err(db)?;
    get(&***c, id, false).await?.ok_or_else(|| StorageError::NotFound(format!("there is no device with id {id}")))
}

/// A revoked device says it wiped its local data; the first confirmation's time is kept.
pub(super) async fn confirm_wiped(c: &Client, id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
    c.execute(
        "UPDATE devices SET wiped_at = coalesce(wiped_at, $1) WHERE id = $2 AND revoked_at IS NOT NULL",
        &[&ts(now), &id],
    )
    .await
    .map_err(db)?;
    get(&***c, id, false).await?.ok_or_else(|| StorageError::NotFound(format!("there is no device with id {id}")))
}
