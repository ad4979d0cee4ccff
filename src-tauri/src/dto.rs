//! Types that cross the IPC boundary, `camelCase` on the wire. TypeScript declarations for them
//! are generated into `ui/src/api/bindings.ts` (see `bindings_are_fresh` below); the domain types
//! in liaison-core stay plain.

use liaison_core::contacts::{Contact as CoreContact, ContactInput as CoreInput, ContactSummary as CoreSummary, Page};
use liaison_core::sync::{ServerProbe as CoreProbe, SyncReport as CoreReport, SyncStatus as CoreStatus};
use liaison_core::vault::UnlockMode as CoreMode;
use liaison_protocol::error::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The one error shape every command rejects with.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl From<liaison_core::Error> for ApiError {
    fn from(e: liaison_core::Error) -> Self {
        ApiError { code: e.code, message: e.message }
    }
}

impl From<ErrorBody> for ApiError {
    fn from(e: ErrorBody) -> Self {
        ApiError { code: e.code, message: e.message }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum UnlockMode {
    Keychain,
    Passphrase,
}

impl From<CoreMode> for UnlockMode {
    fn from(m: CoreMode) -> Self {
        match m {
            CoreMode::Keychain => UnlockMode::Keychain,
            CoreMode::Passphrase => UnlockMode::Passphrase,
        }
    }
}

impl From<UnlockMode> for CoreMode {
    fn from(m: UnlockMode) -> Self {
        match m {
            UnlockMode::Keychain => CoreMode::Keychain,
            UnlockMode::Passphrase => CoreMode::Passphrase,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VaultState {
    pub exists: bool,
    pub unlocked: bool,
    pub mode: Option<UnlockMode>,
    pub keychain_available: bool,
    // Why the keychain cannot be used, in words for a person.
    pub keychain_problem: Option<String>,
    pub data_dir: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContactInput {
    pub display_name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub wiki_user: Option<String>,
    pub irc_nick: Option<String>,
    pub language: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    // Visible only to staff, administrators and people granted access.
    #[serde(default)]
    pub restricted: bool,
}

impl From<ContactInput> for CoreInput {
    fn from(i: ContactInput) -> Self {
        CoreInput {
            display_name: i.display_name,
            emails: i.emails,
            phones: i.phones,
            wiki_user: i.wiki_user,
            irc_nick: i.irc_nick,
            language: i.language,
            organization: i.organization,
            tags: i.tags,
            notes: i.notes,
            restricted: i.restricted,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactEmail {
    pub id: String,
    pub address: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactPhone {
    pub id: String,
    pub number: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactIdentifier {
    pub id: String,
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub display_name: String,
    pub emails: Vec<ContactEmail>,
    pub phones: Vec<ContactPhone>,
    pub identifiers: Vec<ContactIdentifier>,
    pub language: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub restricted: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CoreContact> for Contact {
    fn from(c: CoreContact) -> Self {
        Contact {
            id: c.id.to_string(),
            display_name: c.display_name,
            emails: c
                .emails
                .into_iter()
                .map(|e| ContactEmail { id: e.id.to_string(), address: e.address, label: e.label })
                .collect(),
            phones: c
                .phones
                .into_iter()
                .map(|p| ContactPhone { id: p.id.to_string(), number: p.number, label: p.label })
                .collect(),
            identifiers: c
                .identifiers
                .into_iter()
                .map(|i| ContactIdentifier { id: i.id.to_string(), kind: i.kind, value: i.value })
                .collect(),
            language: c.language,
            organization: c.organization,
            tags: c.tags,
            notes: c.notes,
            restricted: c.restricted,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContactSummary {
    pub id: String,
    pub display_name: String,
    pub primary_email: Option<String>,
    pub organization: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub restricted: bool,
    pub updated_at: String,
}

impl From<CoreSummary> for ContactSummary {
    fn from(s: CoreSummary) -> Self {
        ContactSummary {
            id: s.id.to_string(),
            display_name: s.display_name,
            primary_email: s.primary_email,
            organization: s.organization,
            language: s.language,
            tags: s.tags,
            restricted: s.restricted,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactPage {
    pub items: Vec<ContactSummary>,
    #[ts(type = "number")]
    pub total: u64,
    #[ts(type = "number")]
    pub offset: u64,
}

impl From<Page<CoreSummary>> for ContactPage {
    fn from(p: Page<CoreSummary>) -> Self {
        ContactPage { items: p.items.into_iter().map(Into::into).collect(), total: p.total, offset: p.offset }
    }
}

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
    pub status: SyncStatus,
}

impl From<CoreReport> for SyncReport {
    fn from(r: CoreReport) -> Self {
        SyncReport { pushed: r.pushed, rejected: r.rejected, pulled: r.pulled, status: r.status.into() }
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
    // contact, contact_email, contact_phone or contact_identifier
    pub entity: String,
    pub row_id: String,
    // The name of the contact the change concerns, when it is still on this device.
    pub label: Option<String>,
    pub fields: Vec<String>,
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

/// One side of a conflict.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConflictSide {
    // The value as a person reads it (lists joined with commas); null for a delete.
    pub text: Option<String>,
    // For the set-aside side of a delete conflict: the changed fields and their values.
    pub fields: Vec<ConflictField>,
    pub user: String,
    pub device: String,
    // When this side was written (RFC 3339).
    pub written_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ConflictField {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    Field,
    Delete,
}

/// A conflict from this device's point of view.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub id: String,
    pub contact_id: String,
    pub contact_name: Option<String>,
    // contact, contact_email, contact_phone or contact_identifier
    pub entity: String,
    pub field: Option<String>,
    pub kind: ConflictKind,
    pub mine: ConflictSide,
    pub theirs: ConflictSide,
    pub mine_was_kept: bool,
    // Whether "mine" was written by this device or user (else it is the value kept).
    pub mine_is_own: bool,
    pub detected_at: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        other => Some(other.to_string()),
    }
}

impl From<liaison_protocol::wire::ConflictSide> for ConflictSide {
    fn from(s: liaison_protocol::wire::ConflictSide) -> Self {
        let fields = s
            .value
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| k.as_str() != "contact_id")
                    .map(|(k, v)| ConflictField { name: k.clone(), text: value_text(v).unwrap_or_default() })
                    .collect()
            })
            .unwrap_or_default();
        let written_at = chrono::DateTime::from_timestamp_millis(i64::try_from(s.hlc.millis).unwrap_or(0))
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        ConflictSide {
            text: if s.value.is_object() { None } else { value_text(&s.value) },
            fields,
            user: s.user,
            device: s.device.to_string(),
            written_at,
        }
    }
}

impl From<liaison_core::conflicts::Conflict> for Conflict {
    fn from(c: liaison_core::conflicts::Conflict) -> Self {
        Conflict {
            id: c.id.to_string(),
            contact_id: c.owner_id.to_string(),
            contact_name: c.owner_label,
            entity: c.entity.as_str().to_string(),
            field: c.field,
            kind: match c.kind {
                liaison_core::conflicts::ConflictKind::Field => ConflictKind::Field,
                liaison_core::conflicts::ConflictKind::Delete => ConflictKind::Delete,
            },
            mine: c.mine.into(),
            theirs: c.theirs.into(),
            mine_was_kept: c.mine_was_kept,
            mine_is_own: c.mine_is_own,
            detected_at: c.detected_at,
            resolution: c.resolution,
            resolved_by: c.resolved_by,
            resolved_at: c.resolved_at,
        }
    }
}

/// How a person resolves a conflict in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    Mine,
    Theirs,
    // A new value typed by the person (field conflicts only).
    Value,
}

/// The generated TypeScript file: every IPC type, in dependency order.
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new();
    let decls = [
        ErrorCode::decl(&cfg),
        ApiError::decl(&cfg),
        UnlockMode::decl(&cfg),
        VaultState::decl(&cfg),
        ContactInput::decl(&cfg),
        ContactEmail::decl(&cfg),
        ContactPhone::decl(&cfg),
        ContactIdentifier::decl(&cfg),
        Contact::decl(&cfg),
        ContactSummary::decl(&cfg),
        ContactPage::decl(&cfg),
        ServerProbe::decl(&cfg),
        SyncStatus::decl(&cfg),
        SyncReport::decl(&cfg),
        LedgerState::decl(&cfg),
        LedgerEntry::decl(&cfg),
        ConflictField::decl(&cfg),
        ConflictSide::decl(&cfg),
        ConflictKind::decl(&cfg),
        Conflict::decl(&cfg),
        Keep::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types in src-tauri/src/dto.rs by `cargo xtask bindings`.\n// Do not edit by hand: a test fails when this file is stale.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/api/bindings.ts");

    /// The UI compiles against `ui/src/api/bindings.ts`; it must match the Rust types exactly.
    /// Regenerate with `cargo xtask bindings` (or `UPDATE_BINDINGS=1 cargo test -p liaison-desktop`).
    #[test]
    fn bindings_are_fresh() {
        let expected = typescript_bindings();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(BINDINGS, &expected).expect("write bindings");
        }
        let actual = std::fs::read_to_string(BINDINGS).unwrap_or_default();
        assert!(
            actual == expected,
            "ui/src/api/bindings.ts is stale: run `cargo xtask bindings` and commit the result"
        );
    }

    #[test]
    fn every_error_code_is_in_the_typescript_union() {
        let ts = typescript_bindings();
        for code in
            ["invalid_input", "wrong_passphrase", "certificate_mismatch", "corrupt_database", "server_unreachable"]
        {
            assert!(ts.contains(&format!("\"{code}\"")), "{code} missing from the generated ErrorCode union");
        }
    }
}
