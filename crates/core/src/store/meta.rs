//! `meta`: one key/value table for the device id, the persisted clock and sync settings.

use super::Migration;
use crate::error::{Error, Result};
use liaison_protocol::hlc::{Clock, Hlc};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

pub const MIGRATION_1: Migration =
    Migration { table: "meta", sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;" };

pub const DEVICE_ID: &str = "device_id";
const CLOCK: &str = "hlc";

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

pub fn remove(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

pub(super) fn init_device(conn: &Connection) -> Result<()> {
    if get(conn, DEVICE_ID)?.is_none() {
        set(conn, DEVICE_ID, &Uuid::now_v7().to_string())?;
    }
    Ok(())
}

/// This device's id: the `device` of every stamp it writes.
pub fn device_id(conn: &Connection) -> Result<Uuid> {
    let text = get(conn, DEVICE_ID)?.ok_or_else(|| Error::internal("device id", "missing"))?;
    Uuid::parse_str(&text).map_err(|e| Error::internal("device id", e))
}

fn now_millis() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

fn load_clock(conn: &Connection) -> Result<Clock> {
    let last = match get(conn, CLOCK)? {
        Some(text) => text.parse::<Hlc>().map_err(|e| Error::internal("stored clock", e))?,
        None => Hlc::ZERO,
    };
    Ok(Clock::resume(last))
}

/// Issue the next stamp time and persist the clock (in the caller's transaction), so it stays
/// monotonic across restarts even when the wall clock goes backwards.
pub fn tick(conn: &Connection) -> Result<Hlc> {
    let mut clock = load_clock(conn)?;
    let hlc = clock.tick(now_millis());
    set(conn, CLOCK, &hlc.to_string())?;
    Ok(hlc)
}

/// Take remote stamps into account so later local writes sort after them.
pub fn observe(conn: &Connection, remote_max: Hlc) -> Result<()> {
    let mut clock = load_clock(conn)?;
    let before = clock.last();
    clock.observe(remote_max);
    if clock.last() != before {
        set(conn, CLOCK, &clock.last().to_string())?;
    }
    Ok(())
}
