//! Erasure of a person (right to erasure): everything that names them, everywhere, at any depth.

use super::{Result, SyncTx};
use crate::storage::ErasureReport;
use chrono::{DateTime, Utc};
use liaison_protocol::schema::EntityKind;
use std::collections::HashSet;
use uuid::Uuid;

/// Erase a contact in one transaction: the contact, every row that belongs to them (their
/// emails, phones and identifiers, the conflicts about them, the case links and the messages
/// that name them) and everything below those rows (a message's attachments) become purged
/// tombstones with new sequence numbers and no field values, and their ids are recorded as
/// erased so every later change to them, or a new row pointing at them, is refused with
/// `erased`. An id the server never saw is recorded as erased anyway; erasing twice changes
/// nothing more.
pub async fn erase<T: SyncTx>(mut tx: T, person: Uuid, now: DateTime<Utc>) -> Result<ErasureReport> {
    let (mut seq, clock) = tx.counters().await?;
    let already_erased = !tx.purged_among(&[person]).await?.is_empty();
    let head = tx.head(EntityKind::Contact, person).await?;

    // Rows not purged yet (tombstones too, so their ids are refused from now on), found by the
    // person they name or the parent they hang from, then every row below them.
    let mut found = tx.children(person).await?;
    found.extend(tx.owned_by(person).await?);
    let mut seen: HashSet<Uuid> = HashSet::from([person]);
    let mut related = Vec::new();
    while let Some(row) = found.pop() {
        if !seen.insert(row.id) {
            continue;
        }
        found.extend(tx.children(row.id).await?);
        if !row.purged {
            related.push(row);
        }
    }
    related.sort_by_key(|row| row.seq);

    let mut targets: Vec<(EntityKind, Uuid)> = Vec::new();
    if head.as_ref().is_some_and(|h| !h.purged) {
        targets.push((EntityKind::Contact, person));
    }
    targets.extend(related.iter().map(|row| (row.kind, row.id)));
    for (kind, id) in &targets {
        seq += 1;
        tx.purge(*kind, *id, seq, now).await?;
    }
    if head.is_none() {
        // Never seen here: a purged tombstone still tells a device that created it offline to drop it.
        seq += 1;
        tx.insert_purged(EntityKind::Contact, person, seq, now).await?;
    }
    for (kind, id) in targets.iter().chain(std::iter::once(&(EntityKind::Contact, person))) {
        tx.record_purged(*kind, *id, person, now).await?;
    }
    // The content of the person's attachments goes with their rows.
    tx.drop_unreferenced_blobs().await?;
    tx.save_counters(seq, clock.last()).await?;
    tx.commit().await?;
    let rows = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    Ok(ErasureReport {
        rows,
        related_rows: u64::try_from(related.len()).unwrap_or(u64::MAX),
        contact_found: head.is_some(),
        already_erased,
    })
}
