//! The `users` table: accounts, roles and password hashes.

use super::{db, is_unique_violation, parse_role, ts};
use crate::storage::{NewUser, StorageError, User, UserCredentials, name_key, validate_user_name};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;
use uuid::Uuid;

/// `name_key` is the lower-cased name: "Ana" and "ana" are one person, so they are one account.
pub(super) const MIGRATION_1: &str = "
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    name_key      text NOT NULL UNIQUE,
    role          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
";

const COLUMNS: &str = "id, name, role, created_at";

pub(super) fn from_row(r: &Row, first: usize) -> Result<User, StorageError> {
    Ok(User {
        id: r.try_get(first).map_err(db)?,
        name: r.try_get(first + 1).map_err(db)?,
        role: parse_role(r.try_get(first + 2).map_err(db)?)?,
        created_at: r.try_get(first + 3).map_err(db)?,
    })
}

pub(super) async fn create(c: &Client, new: &NewUser, now: DateTime<Utc>) -> Result<User, StorageError> {
    validate_user_name(&new.name).map_err(StorageError::Invalid)?;
    let user = User { id: Uuid::now_v7(), name: new.name.trim().to_owned(), role: new.role, created_at: ts(now) };
    c.execute(
        "INSERT INTO users (id, name, name_key, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&user.id, &user.name, &name_key(&user.name), &user.role.as_str(), &new.password_hash, &user.created_at],
    )
    .await
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

pub(super) async fn find_by_name(c: &impl GenericClient, name: &str) -> Result<Option<UserCredentials>, StorageError> {
    let row = c
        .query_opt(&format!("SELECT {COLUMNS}, password_hash FROM users WHERE name_key = $1"), &[&name_key(name)])
        .await
        .map_err(db)?;
    row.map(|r| Ok(UserCredentials { user: from_row(&r, 0)?, password_hash: r.try_get(4).map_err(db)? })).transpose()
}

pub(super) async fn list(c: &Client) -> Result<Vec<User>, StorageError> {
    // COLLATE "C": byte order, as SQLite sorts, whatever the cluster's locale.
    let rows =
        c.query(&format!("SELECT {COLUMNS} FROM users ORDER BY name_key COLLATE \"C\""), &[]).await.map_err(db)?;
    rows.iter().map(|r| from_row(r, 0)).collect()
}
