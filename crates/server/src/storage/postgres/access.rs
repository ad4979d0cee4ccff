//! Who may read what: `grants` (a user may read a scope) and `revocations` (a scope was taken
//! from a user, or from everyone, at a seq), and the [`Access`] a pull or push loads.
//!
//! A revocation takes a seq from the same counter as rows (under the `sync_state` lock), so a
//! pull reports it to a device whose cursor passes it (see
//! [`crate::permissions::revocation_applies`]).

use super::sync::{bump_row, lock_seq, record_revocation, store_seq, to_i64, to_u64};
use super::{db, parse_role, ts};
use crate::permissions::{self, Access};
use crate::storage::{GrantInfo, GrantReport, StorageError, User, grantable_scope, name_key};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, Transaction};
use liaison_protocol::scope;
use liaison_protocol::wire::Role;
use std::collections::BTreeSet;
use uuid::Uuid;

/// 3: grants and revocations. `revocations.user_id` NULL: taken from everyone (a contact was
/// restricted). `since_seq`: devices whose cursor is before it never held rows of the scope.
pub(super) const MIGRATION_3: &str = "
CREATE TABLE grants (
    user_id     uuid NOT NULL REFERENCES users (id),
    scope       text NOT NULL,
    granted_seq bigint NOT NULL,
    granted_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, scope)
);

CREATE TABLE revocations (
    seq       bigint PRIMARY KEY,
    user_id   uuid,
    scope     text NOT NULL,
    since_seq bigint NOT NULL,
    at        timestamptz NOT NULL
);
";

/// The user's role and grants as this transaction sees them (a user no longer in the database
/// reads nothing but `public`).
pub(super) async fn load(tx: &Transaction<'_>, user: &User) -> Result<Access, StorageError> {
    let stmt = tx.prepare_cached("SELECT role FROM users WHERE id = $1").await.map_err(db)?;
    let role = match tx.query_opt(&stmt, &[&user.id]).await.map_err(db)? {
        Some(r) => parse_role(r.try_get(0).map_err(db)?)?,
        None => Role::Volunteer,
    };
    let stmt = tx.prepare_cached("SELECT scope FROM grants WHERE user_id = $1").await.map_err(db)?;
    let grants = tx.query(&stmt, &[&user.id]).await.map_err(db)?;
    let grants = grants.iter().map(|r| r.try_get::<_, String>(0).map_err(db)).collect::<Result<Vec<_>, _>>()?;
    Ok(Access::new(role, grants))
}

/// The scopes revoked from this user (or everyone) in `(since, until]` that a device pulling from
/// `since` may hold rows of and the user may not read now. A scope no row has any more (the
/// contact was unrestricted since) is left out: the device must keep those rows, now public.
pub(super) async fn revoked_scopes(
    tx: &Transaction<'_>,
    user: &User,
    access: &Access,
    since: u64,
    until: u64,
) -> Result<Vec<String>, StorageError> {
    if since == 0 || until <= since {
        return Ok(Vec::new());
    }
    let stmt = tx
        .prepare_cached(
            "SELECT scope, since_seq FROM revocations
             WHERE seq > $1 AND seq <= $2 AND (user_id IS NULL OR user_id = $3)
               AND EXISTS (SELECT 1 FROM sync_rows s WHERE s.scope = revocations.scope) ORDER BY seq",
        )
        .await
        .map_err(db)?;
    let rows = tx.query(&stmt, &[&to_i64(since), &to_i64(until), &user.id]).await.map_err(db)?;
    let mut scopes = BTreeSet::new();
    for r in rows {
        let scope: String = r.try_get(0).map_err(db)?;
        if permissions::revocation_applies(access, since, to_u64(r.try_get(1).map_err(db)?)?, &scope) {
            scopes.insert(scope);
        }
    }
    Ok(scopes.into_iter().collect())
}

/// The id and name of a user, by name.
async fn find_user(tx: &Transaction<'_>, name: &str) -> Result<(Uuid, String), StorageError> {
    match tx.query_opt("SELECT id, name FROM users WHERE name_key = $1", &[&name_key(name)]).await.map_err(db)? {
        Some(r) => Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)),
        None => Err(StorageError::NotFound(format!(
            "there is no user named {name:?}; `liaison-server user list` shows the users"
        ))),
    }
}

/// Record what a role change takes away or gives (see [`crate::storage::Storage::set_role`]).
/// The caller holds the `sync_state` lock.
pub(super) async fn after_role_change(
    tx: &Transaction<'_>,
    mut seq: u64,
    user_id: Uuid,
    old: Role,
    new: Role,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    if permissions::role_change_loses_scopes(old, new) {
        let scopes = tx
            .query("SELECT DISTINCT scope FROM sync_rows WHERE scope <> $1 ORDER BY scope", &[&scope::PUBLIC])
            .await
            .map_err(db)?;
        for r in scopes {
            let scope: String = r.try_get(0).map_err(db)?;
            record_revocation(tx, &mut seq, Some(user_id), &scope, 0, now).await?;
        }
    } else if permissions::role_change_gains_scopes(old, new) {
        let rows = tx
            .query("SELECT entity, row_id FROM sync_rows WHERE scope <> $1 ORDER BY seq", &[&scope::PUBLIC])
            .await
            .map_err(db)?;
        for r in rows {
            let entity: String = r.try_get(0).map_err(db)?;
            bump_row(tx, &mut seq, &entity, r.try_get(1).map_err(db)?, now).await?;
        }
    } else {
        return Ok(());
    }
    store_seq(tx, seq).await
}

pub(super) async fn grant(
    c: &mut Client,
    user_name: &str,
    scope: &str,
    now: DateTime<Utc>,
) -> Result<GrantReport, StorageError> {
    let scope = grantable_scope(scope)?;
    let at = ts(now);
    let tx = c.transaction().await.map_err(db)?;
    let mut seq = lock_seq(&tx).await?;
    let (user_id, name) = find_user(&tx, user_name).await?;
    if let Some(r) = tx
        .query_opt("SELECT granted_seq, granted_at FROM grants WHERE user_id = $1 AND scope = $2", &[&user_id, &scope])
        .await
        .map_err(db)?
    {
        let grant = GrantInfo {
            user_name: name,
            scope,
            granted_seq: to_u64(r.try_get(0).map_err(db)?)?,
            granted_at: r.try_get(1).map_err(db)?,
        };
        return Ok(GrantReport { grant, created: false, rows: 0 });
    }
    seq += 1;
    let granted_seq = seq;
    tx.execute(
        "INSERT INTO grants (user_id, scope, granted_seq, granted_at) VALUES ($1, $2, $3, $4)",
        &[&user_id, &scope, &to_i64(granted_seq), &at],
    )
    .await
    .map_err(db)?;
    let rows = tx.query("SELECT entity, row_id FROM sync_rows WHERE scope = $1 ORDER BY seq", &[&scope]).await.map_err(db)?;
    for r in &rows {
        let entity: String = r.try_get(0).map_err(db)?;
        bump_row(&tx, &mut seq, &entity, r.try_get(1).map_err(db)?, now).await?;
    }
    store_seq(&tx, seq).await?;
    tx.commit().await.map_err(db)?;
    let grant = GrantInfo { user_name: name, scope, granted_seq, granted_at: at };
    Ok(GrantReport { grant, created: true, rows: u64::try_from(rows.len()).unwrap_or(u64::MAX) })
}

pub(super) async fn revoke(
    c: &mut Client,
    user_name: &str,
    scope: &str,
    now: DateTime<Utc>,
) -> Result<GrantInfo, StorageError> {
    let scope = grantable_scope(scope)?;
    let tx = c.transaction().await.map_err(db)?;
    let mut seq = lock_seq(&tx).await?;
    let (user_id, name) = find_user(&tx, user_name).await?;
    let Some(r) = tx
        .query_opt(
            "DELETE FROM grants WHERE user_id = $1 AND scope = $2 RETURNING granted_seq, granted_at",
            &[&user_id, &scope],
        )
        .await
        .map_err(db)?
    else {
        return Err(StorageError::NotFound(format!(
            "{name} has no grant for {scope}; `liaison-server grants list` shows the grants"
        )));
    };
    let grant = GrantInfo {
        user_name: name,
        scope,
        granted_seq: to_u64(r.try_get(0).map_err(db)?)?,
        granted_at: r.try_get(1).map_err(db)?,
    };
    record_revocation(&tx, &mut seq, Some(user_id), &grant.scope, grant.granted_seq, now).await?;
    store_seq(&tx, seq).await?;
    tx.commit().await.map_err(db)?;
    Ok(grant)
}

pub(super) async fn list_grants(c: &Client) -> Result<Vec<GrantInfo>, StorageError> {
    // COLLATE "C": byte order, as SQLite sorts, whatever the cluster's locale.
    let rows = c
        .query(
            "SELECT u.name, g.scope, g.granted_seq, g.granted_at FROM grants g JOIN users u ON u.id = g.user_id
             ORDER BY u.name_key COLLATE \"C\", g.scope COLLATE \"C\"",
            &[],
        )
        .await
        .map_err(db)?;
    rows.iter()
        .map(|r| {
            Ok(GrantInfo {
                user_name: r.try_get(0).map_err(db)?,
                scope: r.try_get(1).map_err(db)?,
                granted_seq: to_u64(r.try_get(2).map_err(db)?)?,
                granted_at: r.try_get(3).map_err(db)?,
            })
        })
        .collect()
}
