//! A push: every change of a batch planned by [`crate::sync::plan_change`] and written, in one
//! transaction, with what follows from it: the subtree a delete takes along, the subtree that
//! moves with a row whose scope changed and the revocation that tells devices, the scope a
//! membership grants or takes back, and the conflicts the plan found.

use super::{Placement, Result, RowGrant, RowRef, RowWrite, SyncTx, scope_of};
use crate::permissions::Access;
use crate::storage::{Pusher, StorageError, User};
use crate::sync::{self, Author, ConflictDraft, Effect, Revocation, StoredRow};
use chrono::{DateTime, Utc};
use liaison_protocol::error::{ErrorBody, ErrorCode};
use liaison_protocol::hlc::{Clock, Stamp};
use liaison_protocol::schema::{EntityKind, Identity};
use liaison_protocol::scope;
use liaison_protocol::wire::{Change, ChangeResult, Incoming, PushBatch, PushResponse};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Apply a batch of changes written by `pusher` (the authenticated device, or the server on an
/// administrator's behalf) in one transaction. A batch id seen before returns the stored
/// response unchanged; a change id applied before is not applied again.
pub async fn push<T: SyncTx>(
    mut tx: T,
    pusher: &Pusher,
    batch: &PushBatch,
    now: DateTime<Utc>,
) -> Result<PushResponse> {
    let (user, device) = pusher.user_and_device();
    let user = &user;
    let (seq, clock) = tx.counters().await?;
    if let Some((owner, text)) = tx.stored_response(batch.batch_id).await? {
        if owner != device {
            return Err(StorageError::Invalid(
                "this batch id was already used by another device; send the changes under a new batch id".into(),
            ));
        }
        return serde_json::from_str(&text)
            .map_err(|e| StorageError::Backend(format!("a stored push response is unreadable: {e}")));
    }
    let access = match pusher {
        Pusher::Device { .. } => tx.access(user.id).await?,
        Pusher::Server => Access::server(),
    };
    let change_ids: Vec<Uuid> = batch.changes.iter().map(Incoming::change_id).collect();
    let mut applied = tx.applied_changes(&change_ids).await?;
    // Which ids the batch touches were erased, read once: only an erasure adds to them, and it
    // waits for this transaction.
    let touched: Vec<Uuid> = batch.changes.iter().filter_map(Incoming::known).flat_map(sync::erasure_ids).collect();
    let purged = tx.purged_among(&touched).await?;
    let mut run = Pushing { tx, seq, clock, now, now_millis: sync::unix_millis(now), device, deleted_files: false };

    let mut results = Vec::with_capacity(batch.changes.len());
    for incoming in &batch.changes {
        let change_id = incoming.change_id();
        if let Some(applied_seq) = applied.get(&change_id) {
            results.push(sync::accepted(change_id, *applied_seq));
            continue;
        }
        let result = match incoming {
            Incoming::Unknown { entity, .. } => sync::rejected(change_id, unknown_kind(entity)),
            Incoming::Known(change) => {
                let touches_erased = sync::erasure_ids(change).iter().any(|id| purged.contains(id));
                run.change(&Author { user, access: &access, device }, change, touches_erased).await?
            }
        };
        if result.error.is_none() {
            run.tx.record_applied(change_id, batch.batch_id, device, result.seq).await?;
            applied.insert(change_id, result.seq);
        }
        results.push(result);
    }

    let Pushing { mut tx, seq, clock, deleted_files, .. } = run;
    if deleted_files {
        // The content of deleted attachments goes with them.
        tx.drop_unreferenced_blobs().await?;
    }
    tx.save_counters(seq, clock.last()).await?;
    let response = PushResponse { results };
    let text = serde_json::to_string(&response).map_err(|e| StorageError::Backend(e.to_string()))?;
    tx.record_response(batch.batch_id, device, &text, now).await?;
    tx.commit().await?;
    Ok(response)
}

/// The answer to a change of a kind this server does not know (a newer client's).
fn unknown_kind(entity: &str) -> ErrorBody {
    let shown: String = entity.chars().take(40).collect();
    ErrorBody::new(
        ErrorCode::InvalidInput,
        format!(
            "This server does not know records of kind {shown:?}; ask your administrator to update liaison-server. The change stays in your ledger."
        ),
    )
}

/// The state of one push while its changes are applied.
struct Pushing<T> {
    tx: T,
    seq: u64,
    clock: Clock,
    now: DateTime<Utc>,
    now_millis: u64,
    device: Uuid,
    /// An attachment was deleted: its content may be unreferenced now.
    deleted_files: bool,
}

impl<T: SyncTx> Pushing<T> {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Plan and write one change; a refusal is the change's result, not an error of the batch.
    async fn change(&mut self, author: &Author<'_>, change: &Change, touches_erased: bool) -> Result<ChangeResult> {
        let refuse = |error: ErrorBody| Ok(sync::rejected(change.change_id, error));
        if let Err(error) = sync::refuse_erased(touches_erased) {
            return refuse(error);
        }
        let def = change.entity.def();
        let existing = self.tx.load_row(change.entity, change.row_id).await?;
        let creates = existing.is_none() && change.deleted.is_none();

        // The row the change's row takes its scope from (its parent, or the row its scope field
        // refers to), when the change names it.
        let source_field = sync::scope_source_field(def);
        let source_kind = source_field.and_then(|f| sync::referenced_kind(def, f));
        let named = source_field.and_then(|f| sync::named_in_change(change, f));
        let (mut named_scope, mut named_row) = (None, None);
        if let (Some(id), Some(kind)) = (named, source_kind) {
            named_row = self.tx.load_row(kind, id).await?;
            named_scope = named_row.as_ref().map(|row| row.scope.clone()).or_else(|| sync::missing_scope(kind, id));
            if named_scope.is_none() && creates {
                return refuse(ErrorBody::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "the {} this {} belongs to is not on the server (it may have been deleted long ago); the change was not applied",
                        kind.as_str(),
                        def.name
                    ),
                ));
            }
        }
        // A new row under a deleted parent is planned against the parent's tombstone: the delete
        // wins, and the new row goes to the conflict inbox instead of being orphaned.
        let stand_in = match (&existing, named, &named_row) {
            (None, Some(id), Some(parent)) if def.parent_field() == source_field => StoredRow::for_child_of(parent, id),
            _ => None,
        };
        // A row that grants a scope names a user who must exist.
        let mut member = None;
        if let Some(rule) = def.grants
            && creates
        {
            let name = change.fields.get(rule.user_field).and_then(|w| w.value.as_str()).unwrap_or_default();
            match self.tx.find_user(name).await? {
                Some(user) => member = Some(user),
                None => {
                    let shown: String = name.chars().take(64).collect();
                    return refuse(ErrorBody::new(
                        ErrorCode::InvalidInput,
                        format!("there is no user named {shown:?}; `liaison-server user list` shows the users"),
                    ));
                }
            }
        }

        let planned = existing.as_ref().or(stand_in.as_ref());
        let plan = match sync::plan_change(
            author,
            planned,
            named_scope.as_deref(),
            change,
            self.now_millis,
            &mut self.clock,
        ) {
            Ok(plan) => plan,
            Err(error) => return refuse(error),
        };
        for clamp in &plan.clamps {
            self.tx.record_clamp(change.change_id, self.device, clamp, self.now).await?;
        }
        sync::log_clamps(self.device, &plan.clamps, self.now_millis);

        let row_seq = if plan.effect.modifies() {
            let source = Source { kind: source_kind, named, named_scope };
            Some(self.apply(change, existing.as_ref(), &plan.effect, &source, member.as_ref()).await?)
        } else if let Some(row) = existing.as_ref().filter(|row| {
            matches!(def.identity, Identity::Derived(_))
                && row.deleted
                && change.deleted.is_none()
                && row.tombstone_seq() > change.base_seq
        }) {
            // An association (a derived id) made on a device that never saw its earlier round
            // end (perhaps ended before the device's first sync, which brings no tombstones):
            // the delete wins, and the tombstone goes out again at a new seq so that device
            // drops its copy too. (A row with a random id reached the device only through pulls,
            // which bring its tombstone as well.)
            let seq = self.next_seq();
            let head = RowRef {
                kind: change.entity,
                id: change.row_id,
                seq: row.seq,
                scope: row.scope.clone(),
                parent_id: row.parent_id,
                public_since: row.public_since,
                deleted: true,
                purged: row.purged,
            };
            self.tx.move_row(&head, seq, &row.scope, row.public_since, self.now).await?;
            Some(seq)
        } else {
            existing.as_ref().map(|row| row.seq)
        };
        if !plan.conflicts.is_empty() {
            let owner = self.owner_of(change, planned, &plan.effect).await?;
            for draft in &plan.conflicts {
                self.record_conflict(change, owner, draft).await?;
            }
        }
        Ok(sync::accepted(change.change_id, row_seq))
    }

    /// Write an effect that modifies the row at a new seq, and what follows from it. Returns the
    /// row's seq.
    async fn apply(
        &mut self,
        change: &Change,
        existing: Option<&StoredRow>,
        effect: &Effect,
        source: &Source,
        member: Option<&User>,
    ) -> Result<u64> {
        let def = change.entity.def();
        let row_seq = self.next_seq();
        let source_id = sync::scope_source_field(def).and_then(|f| sync::reference_after(change, existing, effect, f));
        let source_scope = match source_id {
            Some(id) if Some(id) == source.named => source.named_scope.clone(),
            Some(id) => scope_of(&mut self.tx, source.kind, id).await?,
            None => None,
        };
        let scope = sync::scope_after(change, existing, effect, source_scope.as_deref());
        let public_since =
            sync::public_since_after(existing.map(|row| (row.scope.as_str(), row.public_since)), &scope, row_seq);
        let placement = Placement {
            seq: row_seq,
            scope,
            parent_id: sync::parent_after(change, existing, effect),
            person_id: sync::person_after(change, existing, effect),
            public_since,
            protocol: sync::row_protocol(change.entity, None),
            written_at: self.now,
        };
        let write = RowWrite {
            kind: change.entity,
            id: change.row_id,
            base: existing.map(|row| &row.fields),
            effect,
            device: self.device,
            placement: &placement,
        };
        self.tx.write_row(&write).await?;
        if let Effect::Tombstone { hlc } = effect {
            self.deleted_files |= change.entity == EntityKind::Attachment;
            self.delete_subtree(change.row_id, Stamp::new(*hlc, self.device)).await?;
        }

        if existing.is_none_or(|row| row.scope != placement.scope) {
            let mut moved = self.move_subtree(change.row_id, &placement.scope).await?;
            if let Some(row) = existing {
                moved.push((row.scope.clone(), row.public_since));
            }
            self.revoke_moved(change.entity, change.row_id, &placement.scope, &moved).await?;
        }

        if def.grants.is_some() {
            match effect {
                Effect::Write(_) if existing.is_none() => {
                    if let Some(user) = member {
                        self.grant_row(change, user.id, &placement).await?;
                    }
                }
                Effect::Tombstone { .. } => self.ungrant_row(change.entity, change.row_id).await?,
                _ => {}
            }
        }
        Ok(row_seq)
    }

    /// Tell devices about a tree that moved to `scope` from the scopes in `moved` (each with
    /// since when the row was public): one revocation per scope it left, to exactly the users who
    /// could read the old scope and cannot read the new one.
    async fn revoke_moved(
        &mut self,
        kind: EntityKind,
        row: Uuid,
        scope: &str,
        moved: &[(String, Option<u64>)],
    ) -> Result<()> {
        let mut left: BTreeMap<&str, Vec<Option<u64>>> = BTreeMap::new();
        for (old, since) in moved {
            left.entry(old.as_str()).or_default().push(*since);
        }
        for (old, since) in left {
            let since_seq = if old == scope::PUBLIC { sync::revocation_since(&since) } else { 1 };
            if let Some(revocation) = sync::revocation_for_move(kind, row, old, scope, since_seq) {
                let seq = self.next_seq();
                self.tx.record_revocation(seq, &revocation, self.now).await?;
            }
        }
        Ok(())
    }

    /// Give every row below `root` (any depth, conflicts included) whose scope differs `scope`,
    /// each at a new seq. Returns the old scope of each moved row and since when it was public.
    async fn move_subtree(&mut self, root: Uuid, scope: &str) -> Result<Vec<(String, Option<u64>)>> {
        let mut moved = Vec::new();
        for row in self.subtree(root, false).await? {
            if row.scope != scope {
                let seq = self.next_seq();
                let since = sync::public_since_after(Some((&row.scope, row.public_since)), scope, seq);
                self.tx.move_row(&row, seq, scope, since, self.now).await?;
                moved.push((row.scope, row.public_since));
            }
        }
        Ok(moved)
    }

    /// A deleted row takes its subtree with it (each row a tombstone at a new seq, with the
    /// delete's stamp), so nothing is left behind without its parent. Conflicts stay: they are
    /// what a person still has to see.
    async fn delete_subtree(&mut self, root: Uuid, by: Stamp) -> Result<()> {
        for row in self.subtree(root, true).await? {
            if !row.deleted {
                let seq = self.next_seq();
                self.tx.tombstone(&row, seq, by, self.now).await?;
                self.deleted_files |= row.kind == EntityKind::Attachment;
                if row.kind.def().grants.is_some() {
                    self.ungrant_row(row.kind, row.id).await?;
                }
            }
        }
        Ok(())
    }

    /// Every row below `root`, at any depth, parents before children; without conflicts (and
    /// their subtrees) when `skip_conflicts`.
    async fn subtree(&mut self, root: Uuid, skip_conflicts: bool) -> Result<Vec<RowRef>> {
        let (mut found, mut frontier, mut seen) = (Vec::new(), vec![root], HashSet::from([root]));
        while let Some(parent) = frontier.pop() {
            for row in self.tx.children(parent).await? {
                if (skip_conflicts && row.kind == EntityKind::Conflict) || !seen.insert(row.id) {
                    continue;
                }
                frontier.push(row.id);
                found.push(row);
            }
        }
        Ok(found)
    }

    /// A new row that grants a scope (a queue membership): its user reads the scope from now on,
    /// and receives its rows again (at new seqs) unless they could already read it.
    async fn grant_row(&mut self, change: &Change, user: Uuid, placement: &Placement) -> Result<()> {
        let Some(rule) = change.entity.def().grants else { return Ok(()) };
        let def = change.entity.def();
        let granted = match sync::named_in_change(change, rule.scope_field) {
            _ if sync::scope_source_field(def) == Some(rule.scope_field) => Some(placement.scope.clone()),
            Some(id) => scope_of(&mut self.tx, sync::referenced_kind(def, rule.scope_field), id).await?,
            None => None,
        };
        let Some(granted) = granted else { return Ok(()) };
        let before: Access = self.tx.access(user).await?;
        let grant = RowGrant { user, scope: granted.clone(), granted_seq: placement.seq };
        self.tx.set_row_grant(change.entity, change.row_id, Some(&grant)).await?;
        if !before.may_read(&granted) {
            for row in self.tx.rows_in_scope(Some(&granted)).await? {
                let seq = self.next_seq();
                self.tx.move_row(&row, seq, &row.scope, row.public_since, self.now).await?;
            }
        }
        Ok(())
    }

    /// A row that granted a scope is gone: the scope is revoked from its user's devices (unless
    /// they still read it some other way when they pull).
    async fn ungrant_row(&mut self, kind: EntityKind, id: Uuid) -> Result<()> {
        if let Some(grant) = self.tx.set_row_grant(kind, id, None).await? {
            let revocation = Revocation {
                user: Some(grant.user),
                scope: grant.scope,
                readers_of: None,
                unless: None,
                since_seq: grant.granted_seq,
            };
            let seq = self.next_seq();
            self.tx.record_revocation(seq, &revocation, self.now).await?;
        }
        Ok(())
    }

    /// The root of the tree the change's row is in (the row itself when it has no parent): the
    /// owner of the conflicts about it.
    async fn owner_of(
        &mut self,
        change: &Change,
        planned: Option<&StoredRow>,
        effect: &Effect,
    ) -> Result<(EntityKind, Uuid)> {
        let (mut kind, mut id) = (change.entity, change.row_id);
        let mut parent = sync::parent_after(change, planned, effect);
        while let (Some(of), Some(parent_id)) = (kind.def().parent.and_then(|p| p.kind), parent) {
            parent = self.tx.head(of, parent_id).await?.and_then(|row| row.parent_id);
            (kind, id) = (of, parent_id);
        }
        Ok((kind, id))
    }

    /// Write a `conflict` row about `change`'s row, in its owner's scope, at a new seq.
    async fn record_conflict(
        &mut self,
        change: &Change,
        owner: (EntityKind, Uuid),
        draft: &ConflictDraft,
    ) -> Result<()> {
        let names = self.tx.device_users(&sync::devices_to_name(std::slice::from_ref(draft))).await?;
        let hlc = self.clock.tick(self.now_millis);
        let fields = sync::conflict_fields(draft, change.entity, change.row_id, owner, &names, self.now, hlc);
        let scope =
            scope_of(&mut self.tx, Some(owner.0), owner.1).await?.unwrap_or_else(|| scope::of(owner.0, owner.1));
        let seq = self.next_seq();
        let placement = Placement {
            seq,
            public_since: sync::public_since_after(None, &scope, seq),
            scope,
            parent_id: Some(owner.1),
            person_id: None,
            protocol: sync::row_protocol(EntityKind::Conflict, Some(owner.0)),
            written_at: self.now,
        };
        let effect = Effect::Write(fields);
        let write = RowWrite {
            kind: EntityKind::Conflict,
            id: Uuid::now_v7(),
            base: None,
            effect: &effect,
            device: sync::SERVER_DEVICE,
            placement: &placement,
        };
        self.tx.write_row(&write).await
    }
}

/// What the engine knows of the row a change's row takes its scope from before planning.
struct Source {
    kind: Option<EntityKind>,
    named: Option<Uuid>,
    named_scope: Option<String>,
}
