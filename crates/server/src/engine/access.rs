//! Administrators' grants, their revocation, and role changes: what each takes away from or
//! gives to a user's devices.

use super::{GrantRecord, Result, SyncTx};
use crate::permissions;
use crate::storage::{GrantInfo, GrantReport, StorageError, User, grantable_scope};
use crate::sync::Revocation;
use chrono::{DateTime, SubsecRound, Utc};
use liaison_protocol::wire::Role;

fn no_such_user(name: &str) -> StorageError {
    StorageError::NotFound(format!("there is no user named {name:?}; `liaison-server user list` shows the users"))
}

/// Let a user read a scope (see [`crate::storage::Storage::grant`]): a new grant takes a seq and
/// re-sends every row of the scope (new seqs) so the user's devices receive them.
pub async fn grant<T: SyncTx>(mut tx: T, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantReport> {
    let scope = grantable_scope(scope)?;
    let (mut seq, clock) = tx.counters().await?;
    let user = tx.find_user(user_name).await?.ok_or_else(|| no_such_user(user_name))?;
    if let Some(existing) = tx.grant_of(user.id, &scope).await? {
        let grant = GrantInfo {
            user_name: user.name,
            scope,
            granted_seq: existing.granted_seq,
            granted_at: existing.granted_at,
        };
        return Ok(GrantReport { grant, created: false, rows: 0 });
    }
    seq += 1;
    let granted_seq = seq;
    tx.add_grant(user.id, &scope, GrantRecord { granted_seq, granted_at: now }).await?;
    let rows = tx.rows_in_scope(Some(&scope)).await?;
    for row in &rows {
        seq += 1;
        tx.move_row(row, seq, &row.scope, row.public_since, now).await?;
    }
    tx.save_counters(seq, clock.last()).await?;
    tx.commit().await?;
    let grant = GrantInfo { user_name: user.name, scope, granted_seq, granted_at: now.trunc_subsecs(3) };
    Ok(GrantReport { grant, created: true, rows: u64::try_from(rows.len()).unwrap_or(u64::MAX) })
}

/// Take a grant back and record a revocation, so the user's devices that may hold rows of the
/// scope delete them at their next pull.
pub async fn revoke<T: SyncTx>(mut tx: T, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantInfo> {
    let scope = grantable_scope(scope)?;
    let (seq, clock) = tx.counters().await?;
    let user = tx.find_user(user_name).await?.ok_or_else(|| no_such_user(user_name))?;
    let Some(removed) = tx.remove_grant(user.id, &scope).await? else {
        return Err(StorageError::NotFound(format!(
            "{} has no grant for {scope}; `liaison-server grants list` shows the grants",
            user.name
        )));
    };
    let revocation = Revocation {
        user: Some(user.id),
        scope: scope.clone(),
        readers_of: None,
        unless: None,
        since_seq: removed.granted_seq,
    };
    tx.record_revocation(seq + 1, &revocation, now).await?;
    tx.save_counters(seq + 1, clock.last()).await?;
    tx.commit().await?;
    Ok(GrantInfo { user_name: user.name, scope, granted_seq: removed.granted_seq, granted_at: removed.granted_at })
}

/// Change a user's role. Lowering an admin or staff member to trainer or volunteer records a
/// revocation of every scope other than `public` for them (their devices delete those rows
/// unless a grant or a membership keeps them); raising a trainer or volunteer to staff or admin
/// re-sends every such row (new seqs) so their devices receive them.
pub async fn set_role<T: SyncTx>(mut tx: T, name: &str, role: Role, now: DateTime<Utc>) -> Result<User> {
    let (mut seq, clock) = tx.counters().await?;
    let before = tx.find_user(name).await?.ok_or_else(|| no_such_user(name))?;
    tx.set_role(before.id, role).await?;
    if permissions::role_change_loses_scopes(before.role, role) {
        for scope in tx.scopes_in_use().await? {
            seq += 1;
            let revocation = Revocation { user: Some(before.id), scope, readers_of: None, unless: None, since_seq: 0 };
            tx.record_revocation(seq, &revocation, now).await?;
        }
    } else if permissions::role_change_gains_scopes(before.role, role) {
        for row in tx.rows_in_scope(None).await? {
            seq += 1;
            tx.move_row(&row, seq, &row.scope, row.public_since, now).await?;
        }
    }
    tx.save_counters(seq, clock.last()).await?;
    tx.commit().await?;
    Ok(User { role, ..before })
}
