//! The conflict inbox.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
