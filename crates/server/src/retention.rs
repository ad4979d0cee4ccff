//! Tombstone retention: how long deletions are kept, and the pruning that `serve` runs at start
//! and once a day (and `liaison-server prune` runs on demand).
//!
//! Tombstones must outlive the longest time a device stays offline: a device that comes back
//! after they were removed could not learn of those deletions and would keep (or push back)
//! deleted records. Pruning therefore raises the server's horizon (see
//! [`Storage::prune_tombstones`]); a device whose cursor is below it is answered
//! `410 resync_required` and downloads a snapshot, keeping its unsent changes.

use crate::storage::{PruneReport, Storage, StorageError};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Days a tombstone is kept by default: longer than any offline period we support.
pub const DEFAULT_TOMBSTONE_DAYS: u32 = 180;

/// How often `serve` prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// The cutoff for keeping `days` days of tombstones at `now` (0: everything before `now`).
pub fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    TimeDelta::try_days(i64::from(days))
        .and_then(|keep| now.checked_sub_signed(keep))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Remove the tombstones and revocations older than `days` days.
pub async fn prune(storage: &dyn Storage, days: u32, now: DateTime<Utc>) -> Result<PruneReport, StorageError> {
    storage.prune_tombstones(cutoff(now, days)).await
}

/// The sentence `liaison-server prune` prints about a [`PruneReport`].
pub fn describe(report: &PruneReport, days: u32) -> String {
    let plural = |n: u64, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
    let removed = if report.revocations == 0 {
        plural(report.rows, "tombstone")
    } else {
        format!("{} and {}", plural(report.rows, "tombstone"), plural(report.revocations, "revocation"))
    };
    let older = plural(u64::from(days), "day");
    if report.horizon_seq == 0 {
        format!("Removed {removed} older than {older}; no device needs to re-sync from a snapshot.")
    } else {
        format!(
            "Removed {removed} older than {older}; devices that last synced before sequence {} will re-sync from a snapshot, keeping their unsent changes.",
            report.horizon_seq
        )
    }
}

/// Prune now and then every [`PRUNE_EVERY`], keeping `days` days, until the runtime stops.
/// Each run logs one line with the counts (no personal data); a failed run is logged and
/// retried at the next.
pub fn spawn_daily(storage: Arc<dyn Storage>, days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match prune(&*storage, days, Utc::now()).await {
                Ok(report) => tracing::info!(
                    tombstones = report.rows,
                    revocations = report.revocations,
                    horizon = report.horizon_seq,
                    keep_days = days,
                    "pruned tombstones older than the retention period"
                ),
                Err(e) => tracing::warn!(error = %e, "pruning old tombstones failed; retrying in a day"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_cutoff_is_days_before_now_and_never_overflows() {
        let now = Utc.timestamp_millis_opt(1_750_000_000_000).single().expect("time");
        assert_eq!(cutoff(now, 0), now, "0 days: everything deleted before now");
        assert_eq!(cutoff(now, 180), now - TimeDelta::days(180));
        assert_eq!(cutoff(now, u32::MAX), DateTime::<Utc>::MIN_UTC, "absurd retention keeps everything");
    }

    #[test]
    fn the_sentence_names_the_counts_and_the_snapshot() {
        let report = PruneReport { rows: 3, revocations: 1, horizon_seq: 42 };
        let text = describe(&report, 180);
        assert!(text.starts_with("Removed 3 tombstones and 1 revocation older than 180 days"), "{text}");
        assert!(text.contains("before sequence 42") && text.contains("snapshot"), "{text}");
        let none = describe(&PruneReport::default(), 1);
        assert_eq!(none, "Removed 0 tombstones older than 1 day; no device needs to re-sync from a snapshot.");
    }
}
