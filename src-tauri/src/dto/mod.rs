//! Types that cross the IPC boundary, `camelCase` on the wire, one module per feature beside the
//! commands that use them. TypeScript declarations for them are generated into
//! `ui/src/api/bindings.ts` (see `bindings_are_fresh` below); the domain types in liaison-core
//! stay plain.

pub mod conflicts;
pub mod contacts;
pub mod desk;
pub mod sync;
pub mod vault;

pub use conflicts::{Conflict, ConflictField, ConflictKind, ConflictSide, Keep};
pub use contacts::{Contact, ContactEmail, ContactIdentifier, ContactInput, ContactPage, ContactPhone, ContactSummary};
pub use desk::{
    CannedSummary, CaseActivity, CaseDetail, CaseEdit, CaseLink, CaseMessage, CasePage, CasePresence, CaseQuery,
    CaseRow, CaseSla, CaseSort, CaseView, ComposerMode, Delivery, Draft, LoggedMessage, MessageAttachment, NewCase,
    OmittedPart, PresentPerson, QueueCounts, RelatedCase, RenderedCanned, ReplySince, SlaClock,
};
use liaison_protocol::error::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};
pub use sync::{LedgerEntry, LedgerState, ServerProbe, SyncReport, SyncStatus};
use ts_rs::TS;
pub use vault::{UnlockMode, VaultState};

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

/// The payload of the `data-changed` event: the kinds of rows that changed (wire names such as
/// `contact`, `contact_email`, `conflict`, `case`), so the UI reloads what shows them.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct DataChanged {
    pub entities: Vec<String>,
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
        DataChanged::decl(&cfg),
        QueueCounts::decl(&cfg),
        CaseView::decl(&cfg),
        CaseSort::decl(&cfg),
        CaseQuery::decl(&cfg),
        CaseRow::decl(&cfg),
        CasePage::decl(&cfg),
        SlaClock::decl(&cfg),
        CaseSla::decl(&cfg),
        CaseLink::decl(&cfg),
        MessageAttachment::decl(&cfg),
        OmittedPart::decl(&cfg),
        Delivery::decl(&cfg),
        CaseMessage::decl(&cfg),
        RelatedCase::decl(&cfg),
        CaseDetail::decl(&cfg),
        LoggedMessage::decl(&cfg),
        ComposerMode::decl(&cfg),
        Draft::decl(&cfg),
        CannedSummary::decl(&cfg),
        RenderedCanned::decl(&cfg),
        NewCase::decl(&cfg),
        CaseEdit::decl(&cfg),
        CaseActivity::decl(&cfg),
        PresentPerson::decl(&cfg),
        ReplySince::decl(&cfg),
        CasePresence::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types in src-tauri/src/dto/ by `cargo xtask bindings`.\n// Do not edit by hand: a test fails when this file is stale.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push('\n');
    }
    out
}

/// The generated `ui/src/api/schema.ts`: the rules of every synced field (type, whether it is
/// required, its limit), from `liaison_protocol::schema`, so the UI's forms check what the store
/// and the server will check, where the person types.
pub fn typescript_schema() -> String {
    use liaison_protocol::schema::{EntityKind, FieldType};
    let mut out = String::from(
        "// Generated from liaison_protocol::schema by `cargo xtask bindings`.\n// Do not edit by hand: a test fails when this file is stale.\n\n/** The rules of each synced entity's fields. `max`: characters (lists: items and characters per item; integers: the largest value; JSON: bytes). */\nexport const SCHEMA = {\n",
    );
    for kind in EntityKind::ALL {
        let def = kind.def();
        out.push_str(&format!("\t{}: {{\n", def.name));
        for field in def.fields {
            let (ty, options) = match field.ty {
                FieldType::Text => ("text", None),
                FieldType::TextList => ("list", None),
                FieldType::Ref(_) | FieldType::AnyRef => ("ref", None),
                FieldType::Bool => ("bool", None),
                FieldType::Integer => ("integer", None),
                FieldType::Choice(options) => ("choice", Some(options)),
                FieldType::Sha256 => ("sha256", None),
                FieldType::Json(_) => ("json", None),
            };
            let options = options.map_or(String::new(), |o| {
                format!(", options: [ {} ]", o.iter().map(|x| format!("'{x}'")).collect::<Vec<_>>().join(", "))
            });
            out.push_str(&format!(
                "\t\t{}: {{ type: '{ty}', required: {}, max: {}{options} }},\n",
                field.name, field.required, field.max_len
            ));
        }
        out.push_str("\t},\n");
    }
    out.push_str("} as const;\n\nexport type EntityName = keyof typeof SCHEMA;\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/api/bindings.ts");
    const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/api/schema.ts");

    /// The UI compiles against `ui/src/api/bindings.ts`; it must match the Rust types exactly.
    /// Regenerate with `cargo xtask bindings` (or `UPDATE_BINDINGS=1 cargo test -p liaison-desktop`).
    #[test]
    fn bindings_are_fresh() {
        for (path, expected) in [(BINDINGS, typescript_bindings()), (SCHEMA, typescript_schema())] {
            if std::env::var_os("UPDATE_BINDINGS").is_some() {
                std::fs::write(path, &expected).expect("write bindings");
            }
            let actual = std::fs::read_to_string(path).unwrap_or_default();
            assert!(actual == expected, "{path} is stale: run `cargo xtask bindings` and commit the result");
        }
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
