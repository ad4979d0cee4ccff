//! The `users` table: accounts, roles and password hashes.

use super::{db, is_unique_violation, parse_role, parse_ts, parse_uuid, ts};
use crate::storage::{NewUser, StorageError, User, UserCredentials, name_key, validate_user_name};
use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

/// `name_key` is the lower-cased name: "Ana" and "ana" are one person, so they are one account.
pub(super) const MIGRATION_1: &str = "
CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
";

const COLUMNS: &str = "id, name, role, created_at";

pub(super) fn from_row(r: &Row<'_>, first: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: parse_uuid(&r.get::<_, Vec<u8>>(first)?)?,
        name: r.get(first + 1)?,
        role: parse_role(&r.get::<_, String>(first + 2)?)?,
        created_at: parse_ts(&r.get::<_, String>(first + 3)?)?,
    })
}

pub(super) fn create(c: &mut Connection, new: &NewUser, now: DateTime<Utc>) -> Result<User, StorageError> {
    validate_user_name(&new.name).map_err(StorageError::Invalid)?;
    // Stored with millisecond precision: answer what a later read will return.
    let created_at = now.trunc_subsecs(3);
    let user = User { id: Uuid::now_v7(), name: new.name.trim().to_owned(), role: new.role, created_at };
    c.execute(
        "INSERT INTO users (id, name, name_key, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![user.id.as_bytes(), user.name, name_key(&user.name), user.role.as_str(), new.password_hash, ts(now)],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StorageError::Duplicate(format!(
                "a user named {:?} already exists (names are compared without case); pick another name",
                user.name
            ))
        } else {
            db(e)
        }
    })?;
    Ok(user)
}

pub(super) fn find_by_name(c: &Connection, name: &str) -> Result<Option<UserCredentials>, StorageError> {
    c.query_row(&format!("SELECT {COLUMNS}, password_hash FROM users WHERE name_key = ?1"), [name_key(name)], |r| {
        Ok(UserCredentials { user: from_row(r, 0)?, password_hash: r.get(4)? })
    })
    .optional()
    .map_err(db)
}

pub(super) fn list(c: &mut Connection) -> Result<Vec<User>, StorageError> {
    let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY name_key")).map_err(db)?;
    let rows = stmt.query_map([], |r| from_row(r, 0)).map_err(db)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db)
}
