//! The one sync engine: push, apply, rescope, cascade delete, erasure, grants, revocations and
//! role changes, written once over a narrow storage port ([`SyncTx`]).
//!
//! The rules themselves are pure functions in [`crate::sync`] and [`crate::permissions`], driven
//! by each entity's declaration in [`liaison_protocol::schema`]; this module sequences them:
//! what to load, in which order, what to write and at which sequence number. A backend
//! (SQLite, PostgreSQL) implements only [`SyncTx`]: one transaction, with primitives that are
//! SQL and nothing else (read the counter, load a row, find a row's children, write a row,
//! record a revocation …). So a rule exists once, and both backends obey it.
//!
//! **Trees.** Rows form trees by their entity's parent (contact → email; case → message →
//! attachment; any row → the conflicts about it). A delete tombstones the subtree; a change of
//! scope moves the subtree with its root; an erasure purges every row that names the person and
//! their subtrees, at any depth.
//!
//! **Sequence numbers.** Everything the engine writes takes the next number of one counter,
//! read by [`SyncTx::counters`] at the start of a transaction that holds the writer's lock until
//! it commits (SQLite: an immediate transaction; PostgreSQL: the counter row `FOR UPDATE`), so
//! seq order is commit order and a pull never skips a change.
//!
//! The port's methods return futures that are `Send`, so a PostgreSQL transaction is driven on
//! the async runtime; the SQLite backend's futures never wait (its calls are synchronous on a
//! blocking thread) and are run to completion by [`run_ready`].

mod access;
mod erase;
mod push;

pub use access::{grant, revoke, set_role};
pub use erase::erase;
pub use push::push;

use crate::permissions::Access;
use crate::storage::{StorageError, User};
use crate::sync::{Clamp, Effect, Revocation, StoredRow};
use chrono::{DateTime, Utc};
use liaison_protocol::hlc::{Clock, Hlc, Stamp};
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{FieldState, Role};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use uuid::Uuid;

pub type Result<T> = std::result::Result<T, StorageError>;

/// A row's head, without its fields: what the engine needs to walk trees and move scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRef {
    pub kind: EntityKind,
    pub id: Uuid,
    pub seq: u64,
    pub scope: String,
    pub parent_id: Option<Uuid>,
    pub public_since: Option<u64>,
    pub deleted: bool,
    pub purged: bool,
}

/// Where a written row stands: the seq it takes, its scope, its parent and person, since when it
/// is public, the lowest protocol that may receive it; and when it is written (a tombstone's
/// `deleted_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub seq: u64,
    pub scope: String,
    pub parent_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub public_since: Option<u64>,
    pub protocol: u32,
    pub written_at: DateTime<Utc>,
}

/// One row to write: `effect` applied over `base` (the row's fields before it; `None` for a new
/// row), stamped by `device`, at `placement`.
#[derive(Debug, Clone, Copy)]
pub struct RowWrite<'a> {
    pub kind: EntityKind,
    pub id: Uuid,
    pub base: Option<&'a BTreeMap<String, FieldState>>,
    pub effect: &'a Effect,
    pub device: Uuid,
    pub placement: &'a Placement,
}

/// A scope a row gives a user while it lives (see [`liaison_protocol::schema::GrantRule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowGrant {
    pub user: Uuid,
    pub scope: String,
    /// The seq at which the grant took effect: a revocation of it reaches devices past it.
    pub granted_seq: u64,
}

/// An administrator's grant of a scope to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantRecord {
    pub granted_seq: u64,
    pub granted_at: DateTime<Utc>,
}

/// One write transaction of a backend: the primitives the engine is made of. Implementations
/// are SQL and decide nothing; every method runs inside the one transaction that
/// [`SyncTx::commit`] commits (dropping the value rolls it back).
pub trait SyncTx: Send {
    /// The sequence counter and the clamp clock. Called first: from here until commit no other
    /// writer takes sequence numbers.
    fn counters(&mut self) -> impl Future<Output = Result<(u64, Clock)>> + Send;
    /// Store the counter and the clamp clock.
    fn save_counters(&mut self, seq: u64, clock: Hlc) -> impl Future<Output = Result<()>> + Send;
    /// What a user may read: role, granted scopes and scopes granted by rows. A user no longer in
    /// the database reads nothing but `public`.
    fn access(&mut self, user: Uuid) -> impl Future<Output = Result<Access>> + Send;
    /// A user by name (compared case-insensitively).
    fn find_user(&mut self, name: &str) -> impl Future<Output = Result<Option<User>>> + Send;
    fn set_role(&mut self, user: Uuid, role: Role) -> impl Future<Output = Result<()>> + Send;
    /// The device and stored response of a push batch seen before.
    fn stored_response(&mut self, batch: Uuid) -> impl Future<Output = Result<Option<(Uuid, String)>>> + Send;
    /// Which of these change ids were applied before, with the seq each gave its row.
    fn applied_changes(&mut self, ids: &[Uuid]) -> impl Future<Output = Result<HashMap<Uuid, Option<u64>>>> + Send;
    /// Which of these ids were erased.
    fn purged_among(&mut self, ids: &[Uuid]) -> impl Future<Output = Result<HashSet<Uuid>>> + Send;
    /// A row with its fields and their stamps and seqs.
    fn load_row(&mut self, kind: EntityKind, id: Uuid) -> impl Future<Output = Result<Option<StoredRow>>> + Send;
    /// A row's head.
    fn head(&mut self, kind: EntityKind, id: Uuid) -> impl Future<Output = Result<Option<RowRef>>> + Send;
    /// Every row whose parent is `parent` (tombstones included), in seq order.
    fn children(&mut self, parent: Uuid) -> impl Future<Output = Result<Vec<RowRef>>> + Send;
    /// Every row that belongs to `person` for erasure (tombstones included), in seq order.
    fn owned_by(&mut self, person: Uuid) -> impl Future<Output = Result<Vec<RowRef>>> + Send;
    /// Every row of `scope` (`None`: every row outside `public`), in seq order.
    fn rows_in_scope(&mut self, scope: Option<&str>) -> impl Future<Output = Result<Vec<RowRef>>> + Send;
    /// Every scope other than `public` that some row has.
    fn scopes_in_use(&mut self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Write a row (insert or update its head, replace the fields the effect writes, keep its
    /// document in step; a tombstone loses every field).
    fn write_row(&mut self, row: &RowWrite<'_>) -> impl Future<Output = Result<()>> + Send;
    /// Give a row a new seq and scope (a tombstone moved at `now` is kept from `now` on).
    fn move_row(
        &mut self,
        row: &RowRef,
        seq: u64,
        scope: &str,
        public_since: Option<u64>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Make a live row a tombstone at `seq`, deleted by `by` (its fields go).
    fn tombstone(
        &mut self,
        row: &RowRef,
        seq: u64,
        by: Stamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Erase a stored row: a purged tombstone at `seq`, every field value deleted.
    fn purge(
        &mut self,
        kind: EntityKind,
        id: Uuid,
        seq: u64,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A purged tombstone for an id the server never held.
    fn insert_purged(
        &mut self,
        kind: EntityKind,
        id: Uuid,
        seq: u64,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Remember that `id` was erased with `person`, so later changes to it are refused.
    fn record_purged(
        &mut self,
        kind: EntityKind,
        id: Uuid,
        person: Uuid,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn record_revocation(
        &mut self,
        seq: u64,
        revocation: &Revocation,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn record_applied(
        &mut self,
        change: Uuid,
        batch: Uuid,
        device: Uuid,
        seq: Option<u64>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn record_response(
        &mut self,
        batch: Uuid,
        device: Uuid,
        response: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn record_clamp(
        &mut self,
        change: Uuid,
        device: Uuid,
        clamp: &Clamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The names of the users of these devices (devices the server does not know are left out).
    fn device_users(&mut self, devices: &[Uuid]) -> impl Future<Output = Result<BTreeMap<Uuid, String>>> + Send;
    fn grant_of(&mut self, user: Uuid, scope: &str) -> impl Future<Output = Result<Option<GrantRecord>>> + Send;
    fn add_grant(&mut self, user: Uuid, scope: &str, grant: GrantRecord) -> impl Future<Output = Result<()>> + Send;
    fn remove_grant(&mut self, user: Uuid, scope: &str) -> impl Future<Output = Result<Option<GrantRecord>>> + Send;
    /// Set (or, with `None`, remove) the scope a row grants; returns what it granted before.
    fn set_row_grant(
        &mut self,
        kind: EntityKind,
        id: Uuid,
        grant: Option<&RowGrant>,
    ) -> impl Future<Output = Result<Option<RowGrant>>> + Send;
    /// Delete attachment content that no live attachment row names any more.
    fn drop_unreferenced_blobs(&mut self) -> impl Future<Output = Result<u64>> + Send;
    fn commit(self) -> impl Future<Output = Result<()>> + Send;
}

/// Run a future that never waits (the SQLite backend's, whose calls are synchronous) on the
/// current thread. A future that would wait is a bug, reported as a backend error.
pub fn run_ready<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => {
            Err(StorageError::Backend("a storage call waited on a backend that never waits".into()))
        }
    }
}

/// The scope a row of `kind` has now: its stored scope, or the one it would have while the
/// server does not hold it (see [`crate::sync::missing_scope`]). `None` when neither is known.
async fn scope_of<T: SyncTx>(tx: &mut T, kind: Option<EntityKind>, id: Uuid) -> Result<Option<String>> {
    let Some(kind) = kind else { return Ok(None) };
    Ok(match tx.head(kind, id).await? {
        Some(row) => Some(row.scope),
        None => crate::sync::missing_scope(kind, id),
    })
}
