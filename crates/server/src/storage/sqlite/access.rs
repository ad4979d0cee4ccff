//! Who may read what: `grants` (a user may read a scope) and `revocations` (a scope was taken
//! from a user, or from everyone, at a seq), and the [`Access`] a pull or push loads.
//!
//! A revocation takes a seq from the same counter as rows, so a pull reports it to a device whose
//! cursor passes it (see [`crate::permissions::revocation_applies`]).

use super::sync::{to_i64, to_u64};
use super::{db, parse_role, parse_ts};
use crate::permissions::{self, Access};
use crate::storage::{GrantInfo, StorageError};
use liaison_protocol::wire::Role;
use rusqlite::{Connection, OptionalExtension, params};
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

/// The user's role, grants and the scopes rows grant them, as this transaction sees them (a user
/// no longer in the database reads nothing but `public`).
pub(super) fn load(c: &Connection, user: Uuid) -> Result<Access, StorageError> {
    // The nil id is the server itself (`storage::Pusher::Server`): mail in stores attachments.
    if user.is_nil() {
        return Ok(Access::server());
    }
    let role: Option<String> = c
        .prepare_cached("SELECT role FROM users WHERE id = ?1")
        .map_err(db)?
        .query_row([user.as_bytes()], |r| r.get(0))
        .optional()
        .map_err(db)?;
    let role = match role {
        Some(text) => parse_role(&text).map_err(db)?,
        None => Role::Volunteer,
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT scope FROM grants WHERE user_id = ?1 UNION SELECT scope FROM row_grants WHERE user_id = ?1",
        )
        .map_err(db)?;
    let grants = stmt.query_map([user.as_bytes()], |r| r.get::<_, String>(0)).map_err(db)?;
    Ok(Access::new(role, grants.collect::<rusqlite::Result<Vec<_>>>().map_err(db)?))
}

/// The scopes revoked from this user (or everyone) in `(since, until]` that a device pulling from
/// `since` may hold rows of and the user may not read now. A scope no row has any more (the
/// contact was unrestricted since) is left out: the device must keep those rows, now public.
pub(super) fn revoked_scopes(
    c: &Connection,
    user: Uuid,
    access: &Access,
    since: u64,
    until: u64,
) -> Result<Vec<String>, StorageError> {
    if since == 0 || until <= since {
        return Ok(Vec::new());
    }
    let mut stmt = c
        .prepare_cached(
            "SELECT scope, since_seq, readers_of, unless_scope FROM revocations
             WHERE seq > ?1 AND seq <= ?2 AND (user_id IS NULL OR user_id = ?3)
               AND EXISTS (SELECT 1 FROM sync_rows s WHERE s.scope = coalesce(revocations.unless_scope, revocations.scope))
             ORDER BY seq",
        )
        .map_err(db)?;
    type Found = (String, i64, Option<String>, Option<String>);
    let rows = stmt
        .query_map(params![to_i64(since), to_i64(until), user.as_bytes()], |r| -> rusqlite::Result<Found> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(db)?;
    let mut scopes = BTreeSet::new();
    for row in rows {
        let (scope, since_seq, readers_of, unless) = row.map_err(db)?;
        if permissions::revocation_applies(
            access,
            since,
            to_u64(since_seq)?,
            &scope,
            readers_of.as_deref(),
            unless.as_deref(),
        ) {
            scopes.insert(scope);
        }
    }
    Ok(scopes.into_iter().collect())
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
        grants.push(GrantInfo {
            user_name,
            scope,
            granted_seq: to_u64(granted_seq)?,
            granted_at: parse_ts(&granted_at).map_err(db)?,
        });
    }
    Ok(grants)
}
