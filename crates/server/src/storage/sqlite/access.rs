//! Who may read what: `grants` (a user may read a scope) and `revocations` (a scope was taken
//! from a user, or from everyone, at a seq), and the [`Access`] a pull or push loads.
//!
//! A revocation takes a seq from the same counter as rows, so a pull reports it to a device whose
//! cursor passes it (see [`crate::permissions::revocation_applies`]).

use super::sync::{bump_row, current_seq, record_revocation, store_seq, to_i64, to_u64};
use super::{db, parse_role, parse_ts, ts};
use crate::permissions::{self, Access};
use crate::storage::{GrantInfo, GrantReport, StorageError, User, grantable_scope, name_key};
use chrono::{DateTime, SubsecRound, Utc};
use liaison_protocol::scope;
use liaison_protocol::wire::Role;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeSet;
use uuid::Uuid;

/// 3: grants and revocations. `revocations.user_id` NULL: taken from everyone (a contact was
/// restricted). `since_seq`: devices whose cursor is before it never held rows of the scope.
pub(super) const MIGRATION_3: &str = "
CREATE TABLE grants (
    user_id     BLOB NOT NULL REFERENCES users (id),
    scope       TEXT NOT NULL,
    granted_seq INTEGER NOT NULL,
    granted_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, scope)
);

CREATE TABLE revocations (
    seq       INTEGER PRIMARY KEY,
    user_id   BLOB,
    scope     TEXT NOT NULL,
    since_seq INTEGER NOT NULL,
    at        TEXT NOT NULL
);
";

/// The user's role and grants as this transaction sees them (a user no longer in the database
/// reads nothing but `public`).
pub(super) fn load(c: &Connection, user: &User) -> Result<Access, StorageError> {
    let role: Option<String> = c
        .prepare_cached("SELECT role FROM users WHERE id = ?1")
        .map_err(db)?
        .query_row([user.id.as_bytes()], |r| r.get(0))
        .optional()
        .map_err(db)?;
    let role = match role {
        Some(text) => parse_role(&text).map_err(db)?,
        None => Role::Volunteer,
    };
    let mut stmt = c.prepare_cached("SELECT scope FROM grants WHERE user_id = ?1").map_err(db)?;
    let grants = stmt.query_map([user.id.as_bytes()], |r| r.get::<_, String>(0)).map_err(db)?;
    Ok(Access::new(role, grants.collect::<rusqlite::Result<Vec<_>>>().map_err(db)?))
}

/// The scopes revoked from this user (or everyone) in `(since, until]` that a device pulling from
/// `since` may hold rows of and the user may not read now. A scope no row has any more (the
/// contact was unrestricted since) is left out: the device must keep those rows, now public.
pub(super) fn revoked_scopes(
    c: &Connection,
    user: &User,
    access: &Access,
    since: u64,
    until: u64,
) -> Result<Vec<String>, StorageError> {
    if since == 0 || until <= since {
        return Ok(Vec::new());
    }
    let mut stmt = c
        .prepare_cached(
            "SELECT scope, since_seq FROM revocations
             WHERE seq > ?1 AND seq <= ?2 AND (user_id IS NULL OR user_id = ?3)
               AND EXISTS (SELECT 1 FROM sync_rows s WHERE s.scope = revocations.scope) ORDER BY seq",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![to_i64(since), to_i64(until), user.id.as_bytes()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(db)?;
    let mut scopes = BTreeSet::new();
    for row in rows {
        let (scope, since_seq) = row.map_err(db)?;
        if permissions::revocation_applies(access, since, to_u64(since_seq)?, &scope) {
            scopes.insert(scope);
        }
    }
    Ok(scopes.into_iter().collect())
}

/// The id and role of a user, by name.
fn find_user(c: &Connection, name: &str) -> Result<(Uuid, String, Role), StorageError> {
    let found: Option<(Vec<u8>, String, String)> = c
        .query_row("SELECT id, name, role FROM users WHERE name_key = ?1", [name_key(name)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(db)?;
    let Some((id, name, role)) = found else {
        return Err(StorageError::NotFound(format!(
            "there is no user named {name:?}; `liaison-server user list` shows the users"
        )));
    };
    Ok((super::parse_uuid(&id).map_err(db)?, name, parse_role(&role).map_err(db)?))
}

/// Record what a role change takes away or gives (see [`crate::storage::Storage::set_role`]).
pub(super) fn after_role_change(
    c: &Connection,
    user_id: Uuid,
    old: Role,
    new: Role,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let loses = permissions::role_change_loses_scopes(old, new);
    let gains = permissions::role_change_gains_scopes(old, new);
    if !loses && !gains {
        return Ok(());
    }
    let mut seq = current_seq(c)?;
    if loses {
        let scopes: Vec<String> = {
            let mut stmt =
                c.prepare("SELECT DISTINCT scope FROM sync_rows WHERE scope <> ?1 ORDER BY scope").map_err(db)?;
            let rows = stmt.query_map([scope::PUBLIC], |r| r.get(0)).map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)?
        };
        for scope in scopes {
            record_revocation(c, &mut seq, Some(user_id), &scope, 0, now)?;
        }
    } else {
        let rows: Vec<(String, Vec<u8>)> = {
            let mut stmt =
                c.prepare("SELECT entity, row_id FROM sync_rows WHERE scope <> ?1 ORDER BY seq").map_err(db)?;
            let rows = stmt.query_map([scope::PUBLIC], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)?
        };
        for (entity, row_id) in rows {
            bump_row(c, &mut seq, &entity, &row_id, now)?;
        }
    }
    store_seq(c, seq)
}

pub(super) fn grant(c: &mut Connection, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantReport, StorageError> {
    let scope = grantable_scope(scope)?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let (user_id, name, _) = find_user(&tx, user_name)?;
    let existing: Option<(i64, String)> = tx
        .query_row(
            "SELECT granted_seq, granted_at FROM grants WHERE user_id = ?1 AND scope = ?2",
            params![user_id.as_bytes(), scope],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    if let Some((granted_seq, granted_at)) = existing {
        let grant = GrantInfo {
            user_name: name,
            scope,
            granted_seq: to_u64(granted_seq)?,
            granted_at: parse_ts(&granted_at).map_err(db)?,
        };
        return Ok(GrantReport { grant, created: false, rows: 0 });
    }
    let mut seq = current_seq(&tx)? + 1;
    let granted_seq = seq;
    tx.execute(
        "INSERT INTO grants (user_id, scope, granted_seq, granted_at) VALUES (?1, ?2, ?3, ?4)",
        params![user_id.as_bytes(), scope, to_i64(granted_seq), ts(now)],
    )
    .map_err(db)?;
    let rows: Vec<(String, Vec<u8>)> = {
        let mut stmt = tx.prepare("SELECT entity, row_id FROM sync_rows WHERE scope = ?1 ORDER BY seq").map_err(db)?;
        let rows = stmt.query_map([&scope], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)?
    };
    for (entity, row_id) in &rows {
        bump_row(&tx, &mut seq, entity, row_id, now)?;
    }
    store_seq(&tx, seq)?;
    tx.commit().map_err(db)?;
    let grant = GrantInfo { user_name: name, scope, granted_seq, granted_at: now.trunc_subsecs(3) };
    Ok(GrantReport { grant, created: true, rows: u64::try_from(rows.len()).unwrap_or(u64::MAX) })
}

pub(super) fn revoke(c: &mut Connection, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantInfo, StorageError> {
    let scope = grantable_scope(scope)?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let (user_id, name, _) = find_user(&tx, user_name)?;
    let found: Option<(i64, String)> = tx
        .query_row(
            "DELETE FROM grants WHERE user_id = ?1 AND scope = ?2 RETURNING granted_seq, granted_at",
            params![user_id.as_bytes(), scope],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let Some((granted_seq, granted_at)) = found else {
        return Err(StorageError::NotFound(format!(
            "{name} has no grant for {scope}; `liaison-server grants list` shows the grants"
        )));
    };
    let grant =
        GrantInfo { user_name: name, scope, granted_seq: to_u64(granted_seq)?, granted_at: parse_ts(&granted_at).map_err(db)? };
    let mut seq = current_seq(&tx)?;
    record_revocation(&tx, &mut seq, Some(user_id), &grant.scope, grant.granted_seq, now)?;
    store_seq(&tx, seq)?;
    tx.commit().map_err(db)?;
    Ok(grant)
}

pub(super) fn list_grants(c: &mut Connection) -> Result<Vec<GrantInfo>, StorageError> {
    let mut stmt = c
        .prepare(
            "SELECT u.name, g.scope, g.granted_seq, g.granted_at FROM grants g JOIN users u ON u.id = g.user_id
             ORDER BY u.name_key, g.scope",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
        })
        .map_err(db)?;
    let mut grants = Vec::new();
    for row in rows {
        let (user_name, scope, granted_seq, granted_at) = row.map_err(db)?;
        grants.push(GrantInfo { user_name, scope, granted_seq: to_u64(granted_seq)?, granted_at: parse_ts(&granted_at).map_err(db)? });
    }
    Ok(grants)
}
