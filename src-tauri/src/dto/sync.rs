//! Sync: the server's identity, the status line, a sync's report and the ledger.

use super::ApiError;
use liaison_core::sync::{ServerProbe as CoreProbe, SyncReport as CoreReport, SyncStatus as CoreStatus};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ServerProbe {
    pub url: String,
    pub fingerprint: String,
}

impl From<CoreProbe> for ServerProbe {
    fn from(p: CoreProbe) -> Self {
        ServerProbe { url: p.url, fingerprint: p.fingerprint }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub logged_in: bool,
    pub server_url: Option<String>,
    pub user: Option<String>,
    pub role: Option<String>,
    pub fingerprint: Option<String>,
    #[ts(type = "number")]
    pub pending: u64,
    // Conflicts waiting in the conflict inbox.
    #[ts(type = "number")]
    pub conflicts: u64,
    pub last_sync_at: Option<String>,
    pub last_error: Option<ApiError>,
    // True while a sync (background or requested) is running.
    pub syncing: bool,
}

impl From<CoreStatus> for SyncStatus {
    fn from(s: CoreStatus) -> Self {
        SyncStatus {
            logged_in: s.logged_in,
            server_url: s.server_url,
            user: s.user,
            role: s.role,
            fingerprint: s.fingerprint,
            pending: s.pending,
            conflicts: s.conflicts,
            last_sync_at: s.last_sync_at,
            last_error: s.last_error.map(Into::into),
            syncing: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SyncReport {
    #[ts(type = "number")]
    pub pushed: u64,
    #[ts(type = "number")]
    pub rejected: u64,
    #[ts(type = "number")]
    pub pulled: u64,
    // The kinds of rows that changed here (see the `data-changed` event).
    pub changed: Vec<String>,
    pub status: SyncStatus,
}

impl From<CoreReport> for SyncReport {
    fn from(r: CoreReport) -> Self {
        SyncReport {
            pushed: r.pushed,
            rejected: r.rejected,
            pulled: r.pulled,
            changed: r.changed.iter().map(|k| k.as_str().to_owned()).collect(),
            status: r.status.into(),
        }
    }
}

/// What became of an outgoing change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LedgerState {
    Pending,
    Sent,
    Accepted,
    Rejected,
}

/// One line of the sync ledger.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub change_id: String,
    // The kind of record (a wire name: contact, contact_email, case, case_message …)
    pub entity: String,
    pub row_id: String,
    // What a person calls the record the change concerns (a contact's name, a case's subject),
    // when it is still on this device.
    pub label: Option<String>,
    pub fields: Vec<String>,
    // The change created the record.
    pub created: bool,
    pub deleted: bool,
    pub state: LedgerState,
    pub error: Option<ApiError>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<liaison_core::sync::LedgerEntry> for LedgerEntry {
    fn from(e: liaison_core::sync::LedgerEntry) -> Self {
        use liaison_core::store::sync_tables::OutboxState;
        LedgerEntry {
            change_id: e.change_id.to_string(),
            entity: e.entity.as_str().to_string(),
            row_id: e.row_id.to_string(),
            label: e.label,
            fields: e.fields,
            created: e.created,
            deleted: e.deleted,
            state: match e.state {
                OutboxState::Pending => LedgerState::Pending,
                OutboxState::Sent => LedgerState::Sent,
                OutboxState::Accepted => LedgerState::Accepted,
                OutboxState::Rejected => LedgerState::Rejected,
            },
            error: e.error.map(Into::into),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}
