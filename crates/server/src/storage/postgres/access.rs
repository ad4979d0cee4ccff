//! Who may read what: `grants` (a user may read a scope) and `revocations` (a scope was taken
//! from a user, or from everyone, at a seq), and the [`Access`] a pull or push loads.
//!
//! A revocation takes a seq from the same counter as rows (under the `sync_state` lock), so a
//! pull reports it to a device whose cursor passes it (see
//! [`crate::permissions::revocation_applies`]).

use super::sync::{to_i64, to_u64};
use super::{db, parse_role};
use crate::permissions::{self, Access};
use crate::storage::{GrantInfo, StorageError};
use deadpool_postgres::{Client, Transaction};
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
pub(super) async fn load(tx: &Transaction<'_>, user: Uuid) -> Result<Access, StorageError> {
    // The nil id is the server itself (`storage::Pusher::Server`): mail in stores attachments.
    if user.is_nil() {
        return Ok(Access::server());
    }
    let stmt = tx.prepare_cached("SELECT role FROM users WHERE id = $1").await.map_err(db)?;
    let role = match tx.query_opt(&stmt, &[&user]).await.map_err(db)? {
        Some(r) => parse_role(r.try_get(0).map_err(db)?)?,
        None => Role::Volunteer,
    };
    let stmt = tx
        .prepare_cached(
            "SELECT scope FROM grants WHERE user_id = $1 UNION SELECT scope FROM row_grants WHERE user_id = $1",
        )
        .await
        .map_err(db)?;
    let grants = tx.query(&stmt, &[&user]).await.map_err(db)?;
    let grants = grants.iter().map(|r| r.try_get::<_, String>(0).map_err(db)).collect::<Result<Vec<_>, _>>()?;
    Ok(Access::new(role, grants))
}

/// The scopes revoked from this user (or everyone) in `(since, until]` that a device pulling from
/// `since` may hold rows of and the user may not read now. A scope no row has any more (the
/// contact was unrestricted since) is left out: the device must keep those rows, now public.
pub(super) async fn revoked_scopes(
    tx: &Transaction<'_>,
    user: Uuid,
    access: &Access,
    since: u64,
    until: u64,
) -> Result<Vec<String>, StorageError> {
    if since == 0 || until <= since {
        return Ok(Vec::new());
    }
    let stmt = tx
        .prepare_cached(
            "SELECT scope, since_seq, readers_of, unless_scope FROM revocations
             WHERE seq > $1 AND seq <= $2 AND (user_id IS NULL OR user_id = $3)
               AND EXISTS (SELECT 1 FROM sync_rows s WHERE s.scope = coalesce(revocations.unless_scope, revocations.scope))
             ORDER BY seq",
        )
        .await
        .map_err(db)?;
    let rows = tx.query(&stmt, &[&to_i64(since), &to_i64(until), &user]).await.map_err(db)?;
    let mut scopes = BTreeSet::new();
    for r in rows {
        let scope: String = r.try_get(0).map_err(db)?;
        let readers_of: Option<&str> = r.try_get(2).map_err(db)?;
        let unless: Option<&str> = r.try_get(3).map_err(db)?;
        if permissions::revocation_applies(
            access,
            since,
            to_u64(r.try_get(1).map_err(db)?)?,
            &scope,
            readers_of,
            unless,
        ) {
            scopes.insert(scope);
        }
    }
    Ok(scopes.into_iter().collect())
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
