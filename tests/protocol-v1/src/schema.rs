//! The synced entities and their fields: one list that the client store, the server storage and
//! validation on both sides are built from.
//!
//! Multi-valued data (emails, phones, identifiers) are child entities with their own ids, never
//! arrays inside the parent: two devices adding an email each must both keep theirs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A kind of synced row. Serialized in `snake_case` (`contact`, `contact_email`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Contact,
    ContactEmail,
    ContactPhone,
    ContactIdentifier,
    /// A conflict the server detected (see [`CONFLICT`]). Server-authored; clients only resolve it.
    Conflict,
}

impl EntityKind {
    pub const ALL: [EntityKind; 5] = [
        EntityKind::Contact,
        EntityKind::ContactEmail,
        EntityKind::ContactPhone,
        EntityKind::ContactIdentifier,
        EntityKind::Conflict,
    ];

    pub fn def(self) -> &'static EntityDef {
        match self {
            EntityKind::Contact => &CONTACT,
            EntityKind::ContactEmail => &CONTACT_EMAIL,
            EntityKind::ContactPhone => &CONTACT_PHONE,
            EntityKind::ContactIdentifier => &CONTACT_IDENTIFIER,
            EntityKind::Conflict => &CONFLICT,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.def().name
    }

    pub fn parse(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The type of a field's value on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A string; `null` is allowed unless the field is required.
    Text,
    /// A JSON array of strings (stored as JSON text), replaced as a whole.
    TextList,
    /// The id (UUID string) of a row of the given entity.
    Ref(EntityKind),
    /// `true` or `false`; `null` is allowed unless the field is required (and reads as `false`).
    Bool,
    /// Any JSON value, kept as it is; `max_len` bounds its serialized length in bytes.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    /// Required fields must be present and non-empty when a row is created, and never set to null.
    pub required: bool,
    /// Maximum length in characters (for lists: of each item and of the number of items).
    pub max_len: usize,
}

const fn text(name: &'static str, required: bool, max_len: usize) -> FieldDef {
    FieldDef { name, ty: FieldType::Text, required, max_len }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityDef {
    pub kind: EntityKind,
    /// Wire name, and the table name in both stores.
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    /// For child entities: the field that refers to the parent row.
    pub parent_field: Option<&'static str>,
    /// Who writes rows of this entity. `None`: clients create and change them freely (subject to
    /// permissions). `Some(fields)`: the server creates the rows; clients may only change these
    /// fields of an existing row (e.g. mark a conflict resolved).
    pub client_fields: Option<&'static [&'static str]>,
}

impl EntityDef {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether a client may write this field (see [`EntityDef::client_fields`]).
    pub fn client_may_write(&self, field: &str) -> bool {
        self.client_fields.is_none_or(|allowed| allowed.contains(&field))
    }

    /// Whether clients may create rows of this entity.
    pub fn client_may_create(&self) -> bool {
        self.client_fields.is_none()
    }

    /// Check one field value; the error says which field and why, in words a person can act on.
    pub fn validate(&self, field: &str, value: &Value) -> Result<(), String> {
        let Some(def) = self.field(field) else {
            return Err(format!("{} has no field named {field:?}", self.name));
        };
        def.validate(value)
    }
}

impl FieldDef {
    pub fn validate(&self, value: &Value) -> Result<(), String> {
        let name = self.name;
        match (self.ty, value) {
            (_, Value::Null) if self.required => Err(format!("{name} is required")),
            (_, Value::Null) => Ok(()),
            (FieldType::Text, Value::String(s)) => {
                if self.required && s.trim().is_empty() {
                    Err(format!("{name} must not be empty"))
                } else if s.chars().count() > self.max_len {
                    Err(format!("{name} is longer than {} characters", self.max_len))
                } else {
                    Ok(())
                }
            }
            (FieldType::TextList, Value::Array(items)) => {
                if items.len() > self.max_len {
                    return Err(format!("{name} has more than {} items", self.max_len));
                }
                for item in items {
                    match item {
                        Value::String(s) if s.chars().count() <= self.max_len => {}
                        Value::String(_) => {
                            return Err(format!("an item of {name} is longer than {} characters", self.max_len));
                        }
                        _ => return Err(format!("{name} must be a list of strings")),
                    }
                }
                Ok(())
            }
            (FieldType::Ref(_), Value::String(s)) => {
                uuid::Uuid::parse_str(s).map(|_| ()).map_err(|_| format!("{name} must be a record id (UUID)"))
            }
            (FieldType::Bool, Value::Bool(_)) => Ok(()),
            (FieldType::Json, v) => {
                if v.to_string().len() > self.max_len {
                    Err(format!("{name} is larger than {} bytes", self.max_len))
                } else {
                    Ok(())
                }
            }
            (FieldType::Text, _) => Err(format!("{name} must be text")),
            (FieldType::TextList, _) => Err(format!("{name} must be a list of strings")),
            (FieldType::Ref(_), _) => Err(format!("{name} must be a record id (UUID)")),
            (FieldType::Bool, _) => Err(format!("{name} must be true or false")),
        }
    }
}

pub static CONTACT: EntityDef = EntityDef {
    kind: EntityKind::Contact,
    name: "contact",
    fields: &[
        text("display_name", true, 300),
        text("language", false, 35),
        text("organization", false, 300),
        FieldDef { name: "tags", ty: FieldType::TextList, required: false, max_len: 100 },
        text("notes", false, 20_000),
        text("created_at", false, 40),
        // Restricted contacts are visible only to staff, administrators and users granted access
        // (see [`crate::scope`]). Only staff and administrators may change this field.
        FieldDef { name: "restricted", ty: FieldType::Bool, required: false, max_len: 5 },
    ],
    parent_field: None,
    client_fields: None,
};

pub static CONTACT_EMAIL: EntityDef = EntityDef {
    kind: EntityKind::ContactEmail,
    name: "contact_email",
    fields: &[
        FieldDef { name: "contact_id", ty: FieldType::Ref(EntityKind::Contact), required: true, max_len: 36 },
        text("address", true, 320),
        text("label", false, 50),
    ],
    parent_field: Some("contact_id"),
    client_fields: None,
};

pub static CONTACT_PHONE: EntityDef = EntityDef {
    kind: EntityKind::ContactPhone,
    name: "contact_phone",
    fields: &[
        FieldDef { name: "contact_id", ty: FieldType::Ref(EntityKind::Contact), required: true, max_len: 36 },
        text("number", true, 50),
        text("label", false, 50),
    ],
    parent_field: Some("contact_id"),
    client_fields: None,
};

/// Identifiers: `kind` is `wiki` (a wiki username), `irc` (an IRC nick) or `other`.
pub static CONTACT_IDENTIFIER: EntityDef = EntityDef {
    kind: EntityKind::ContactIdentifier,
    name: "contact_identifier",
    fields: &[
        FieldDef { name: "contact_id", ty: FieldType::Ref(EntityKind::Contact), required: true, max_len: 36 },
        text("kind", true, 20),
        text("value", true, 300),
    ],
    parent_field: Some("contact_id"),
    client_fields: None,
};

/// What the server records when two devices changed the same data concurrently (`sync.md`,
/// "Conflicts are shown, not swallowed"). The row belongs to the contact it concerns, so it has
/// that contact's scope and is erased with it.
///
/// * `kind` is [`CONFLICT_KIND_FIELD`] (two different values for one field) or
///   [`CONFLICT_KIND_DELETE`] (one device deleted the row while another changed it; the delete
///   won and the change is kept here instead of reviving the row).
/// * `kept` and `lost` are [`crate::wire::ConflictSide`]s: the side the merge rule kept and the
///   side it set aside. For a field conflict `value` is the field's value; for a delete conflict
///   `kept.value` is `null` (the delete) and `lost.value` is an object of the changed fields.
/// * Resolving is an ordinary edit of the row plus setting `resolution`, `resolved_by` and
///   `resolved_at` here: the only fields a client may write.
pub static CONFLICT: EntityDef = EntityDef {
    kind: EntityKind::Conflict,
    name: "conflict",
    fields: &[
        FieldDef { name: "contact_id", ty: FieldType::Ref(EntityKind::Contact), required: true, max_len: 36 },
        text("entity", true, 40),
        text("row_id", true, 36),
        text("field", false, 64),
        text("kind", true, 10),
        FieldDef { name: "kept", ty: FieldType::Json, required: true, max_len: 200_000 },
        FieldDef { name: "lost", ty: FieldType::Json, required: true, max_len: 200_000 },
        text("detected_at", true, 40),
        text("resolution", false, 20),
        text("resolved_by", false, 64),
        text("resolved_at", false, 40),
    ],
    parent_field: Some("contact_id"),
    client_fields: Some(&["resolution", "resolved_by", "resolved_at"]),
};

/// [`CONFLICT`] `kind`: two devices wrote different values to one field.
pub const CONFLICT_KIND_FIELD: &str = "field";
/// [`CONFLICT`] `kind`: a change met a delete; the delete won.
pub const CONFLICT_KIND_DELETE: &str = "delete";

/// [`CONFLICT`] `resolution` values a client writes.
pub const RESOLUTIONS: [&str; 3] = ["kept_mine", "kept_theirs", "edited"];
