//! The synced entities, their fields and their relations: one list that the client store, the
//! server's sync engine and validation on both sides are built from.
//!
//! Every rule about a kind of row is declared here, once, in its [`EntityDef`], and nothing else
//! in the code re-decides it:
//!
//! * its **parent** ([`Parent`]): the row it belongs to in a tree (an email belongs to its contact,
//!   a message to its case, an attachment to its message). Deleting a row deletes its subtree;
//!   removing a row from a device removes its subtree, at any depth.
//! * how its **scope** is derived ([`ScopeRule`]): public; its own compartment while a flag is
//!   set (a restricted contact); always its own (a queue); the scope of a row it refers to (a case:
//!   its queue's); or its parent's, at any depth (a message, an attachment).
//! * whether it belongs to a **person** for erasure ([`EntityDef::person`]): erasing a contact
//!   erases every row that names them through that field, and those rows' subtrees.
//! * its **mutability** ([`Mutability`]) and **who writes it** ([`Writers`]): mutable with
//!   conflicts (contacts, cases), append-only (messages: created once, never edited, never in
//!   conflict), or written by the server with a few client-writable fields (conflicts).
//! * whether its rows **grant** a scope ([`GrantRule`]): a queue membership gives its user the
//!   queue's scope.
//! * its **identity** ([`Identity`]): random (UUIDv7), or derived from fields so that two devices
//!   creating "the same" association offline make one row.
//! * the protocol version that introduced it ([`EntityDef::since`]): a server never sends a
//!   client rows of kinds newer than the client's protocol.
//!
//! Multi-valued data (emails, phones, identifiers) are child entities with their own ids, never
//! arrays inside the parent: two devices adding an email each must both keep theirs.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

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
    Queue,
    QueueMember,
    Case,
    CaseContact,
    CaseMessage,
    Attachment,
    CannedReply,
    /// Where a reply the server mails stands (see [`DELIVERY`]). Server-authored.
    Delivery,
    /// One case's link to a related case (see [`CASE_LINK`]).
    CaseLink,
}

impl EntityKind {
    pub const ALL: [EntityKind; 14] = [
        EntityKind::Contact,
        EntityKind::ContactEmail,
        EntityKind::ContactPhone,
        EntityKind::ContactIdentifier,
        EntityKind::Conflict,
        EntityKind::Queue,
        EntityKind::QueueMember,
        EntityKind::Case,
        EntityKind::CaseContact,
        EntityKind::CaseMessage,
        EntityKind::Attachment,
        EntityKind::CannedReply,
        EntityKind::Delivery,
        EntityKind::CaseLink,
    ];

    pub fn def(self) -> &'static EntityDef {
        match self {
            EntityKind::Contact => &CONTACT,
            EntityKind::ContactEmail => &CONTACT_EMAIL,
            EntityKind::ContactPhone => &CONTACT_PHONE,
            EntityKind::ContactIdentifier => &CONTACT_IDENTIFIER,
            EntityKind::Conflict => &CONFLICT,
            EntityKind::Queue => &QUEUE,
            EntityKind::QueueMember => &QUEUE_MEMBER,
            EntityKind::Case => &CASE,
            EntityKind::CaseContact => &CASE_CONTACT,
            EntityKind::CaseMessage => &CASE_MESSAGE,
            EntityKind::Attachment => &ATTACHMENT,
            EntityKind::CannedReply => &CANNED_REPLY,
            EntityKind::Delivery => &DELIVERY,
            EntityKind::CaseLink => &CASE_LINK,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.def().name
    }

    pub fn parse(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kinds a client speaking protocol `version` knows.
    pub fn known_at(version: u32) -> impl Iterator<Item = EntityKind> {
        EntityKind::ALL.into_iter().filter(move |k| k.def().since <= version)
    }

    /// The kinds whose rows may have this kind of row as their parent (its children's kinds).
    pub fn children(self) -> impl Iterator<Item = EntityKind> {
        EntityKind::ALL.into_iter().filter(move |k| k.def().parent.is_some_and(|p| p.kind.is_none_or(|of| of == self)))
    }
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The structure a JSON field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    /// Anything (bounded in size).
    Any,
    /// `[{"wiki": "en.wikipedia.org", "title": "Ada Lovelace"}, ...]`: pages a case is about.
    WikiPages,
    /// A business-hours calendar: `{"zone": "Europe/Berlin", "weekly": {"mon": [["09:00", "17:00"]], ...},
    /// "holidays": ["2026-12-25", ...]}`. The zone's existence is checked where time zones are
    /// known (the client); here its form.
    Calendar,
    /// SLA targets in minutes: `{"first_response": 480, "update": 1440, "resolution": 10080}`, each optional.
    Sla,
    /// A canned reply's text per language: `{"en": "Dear {{reader_name|reader}}, …", "de": "…"}`,
    /// at least one, each a valid template ([`crate::canned::validate`]).
    CannedVersions,
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
    /// The id (UUID string) of a row of any entity (which one is named by another field).
    AnyRef,
    /// `true` or `false`; `null` is allowed unless the field is required (and reads as `false`).
    Bool,
    /// A whole number from 0 to `max_len`.
    Integer,
    /// One of a closed list of strings.
    Choice(&'static [&'static str]),
    /// A SHA-256 digest: 64 lowercase hexadecimal digits.
    Sha256,
    /// A JSON value of the given shape, kept as it is; `max_len` bounds its serialized length in bytes.
    Json(JsonShape),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    /// Required fields must be present and non-empty when a row is created, and never set to null.
    pub required: bool,
    /// Maximum length in characters (for lists: of each item and of the number of items; for
    /// integers: the largest value; for JSON: bytes).
    pub max_len: usize,
}

const fn text(name: &'static str, required: bool, max_len: usize) -> FieldDef {
    FieldDef { name, ty: FieldType::Text, required, max_len }
}

const fn reference(name: &'static str, kind: EntityKind, required: bool) -> FieldDef {
    FieldDef { name, ty: FieldType::Ref(kind), required, max_len: 36 }
}

const fn choice(name: &'static str, options: &'static [&'static str], required: bool) -> FieldDef {
    FieldDef { name, ty: FieldType::Choice(options), required, max_len: 40 }
}

/// The round of an association with a derived id ([`Identity::Derived`]): a membership ended
/// and begun again, or a contact taken off a case and linked again, is a new row (the old id is
/// a tombstone for good): the first association is round 0 (absent), the next one 1, and so
/// on. Every device that saw the end derives the same next id, so two of them adding the person
/// back offline still make one row.
pub const ROUND: FieldDef = FieldDef { name: "round", ty: FieldType::Integer, required: false, max_len: 1_000_000 };

const fn flag(name: &'static str) -> FieldDef {
    FieldDef { name, ty: FieldType::Bool, required: false, max_len: 5 }
}

const fn list(name: &'static str, max_len: usize) -> FieldDef {
    FieldDef { name, ty: FieldType::TextList, required: false, max_len }
}

const fn json(name: &'static str, shape: JsonShape, required: bool, max_len: usize) -> FieldDef {
    FieldDef { name, ty: FieldType::Json(shape), required, max_len }
}

/// The row a row belongs to in a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    /// The field holding the parent's id.
    pub field: &'static str,
    /// The parent's kind; `None` when it may be a row of any kind (a conflict's owner).
    pub kind: Option<EntityKind>,
}

/// How the server derives a row's scope (see [`crate::scope`]). Never taken from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRule {
    /// Every signed-in user may read it.
    Public,
    /// `public`, or the row's own compartment `<kind>:<id>` while this boolean field is true (a
    /// restricted contact).
    OwnWhen { field: &'static str },
    /// Always the row's own compartment `<kind>:<id>` (a queue: `queue:<id>`).
    Own,
    /// The scope of the row this reference field points at (a case: its queue's). When the field
    /// is optional and the row names no such row, the row is public (a canned reply for every
    /// queue).
    Of { field: &'static str },
    /// The scope of the parent row, at any depth (an email: its contact's; an attachment: its
    /// message's, which is its case's).
    Parent,
}

/// How rows of an entity change once they exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Per-field last-writer-wins; concurrent differing edits are recorded as conflicts.
    Mutable,
    /// Created once, never edited and never deleted by a client, never in conflict (messages).
    AppendOnly,
    /// The server creates and deletes the rows; clients may change only these fields of an
    /// existing row (a conflict's resolution).
    ServerAuthored { client_fields: &'static [&'static str] },
}

/// Who may do something to a row, on top of being able to read its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone who may read the row's scope.
    Readers,
    /// Staff and administrators.
    Staff,
    /// No client.
    Nobody,
}

/// Who may create, edit and delete rows of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writers {
    pub create: Who,
    pub edit: Who,
    pub delete: Who,
}

const READERS: Writers = Writers { create: Who::Readers, edit: Who::Readers, delete: Who::Readers };

/// A row that gives a user a scope while it lives: the user named by `user_field` (a user name)
/// may read the scope of the row `scope_field` refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantRule {
    pub user_field: &'static str,
    pub scope_field: &'static str,
}

/// How a row's id is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// A random UUIDv7 from the device that creates it.
    Random,
    /// A UUIDv5 of these fields' values ([`EntityDef::derived_id`]): two devices creating the same
    /// association offline create the same row.
    Derived(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityDef {
    pub kind: EntityKind,
    /// Wire name, and the table name in the client store.
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    pub parent: Option<Parent>,
    pub scope: ScopeRule,
    /// The field (a reference to a contact) through which a row belongs to a person: erasing
    /// the person erases the row and its subtree.
    pub person: Option<&'static str>,
    pub mutability: Mutability,
    pub writers: Writers,
    /// Fields only staff and administrators may write (e.g. `restricted`).
    pub staff_fields: &'static [&'static str],
    /// Fields only the server writes (a case's `number`); a device's change naming one is refused.
    pub server_fields: &'static [&'static str],
    pub grants: Option<GrantRule>,
    pub identity: Identity,
    /// The protocol version that introduced the entity.
    pub since: u32,
}

/// The namespace of derived ids ([`Identity::Derived`]).
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c69_6169_736f_6e00_8000_0000_6964_7321);

impl EntityDef {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field holding the parent's id, for child entities.
    pub fn parent_field(&self) -> Option<&'static str> {
        self.parent.map(|p| p.field)
    }

    /// Whether a client may write this field of an existing row.
    pub fn client_may_write(&self, field: &str) -> bool {
        match self.mutability {
            Mutability::ServerAuthored { client_fields } => client_fields.contains(&field),
            Mutability::AppendOnly => false,
            Mutability::Mutable => true,
        }
    }

    /// Whether clients may create rows of this entity at all.
    pub fn client_may_create(&self) -> bool {
        self.writers.create != Who::Nobody
    }

    /// Whether concurrent edits of these rows are recorded as conflicts.
    pub fn records_conflicts(&self) -> bool {
        self.mutability == Mutability::Mutable
    }

    /// Check one field value; the error says which field and why, in words a person can act on.
    pub fn validate(&self, field: &str, value: &Value) -> Result<(), String> {
        let Some(def) = self.field(field) else {
            return Err(format!("{} has no field named {field:?}", self.name));
        };
        def.validate(value)
    }

    /// The id a row with these field values must have, for entities with a derived identity
    /// (`None` for random ids, or when a field it derives from is missing). References are
    /// compared as UUIDs and text trimmed and lower-cased, so every spelling gives the same id.
    /// A whole-number field (the [`ROUND`]) counts from 0, and 0 (or absent) adds nothing to the
    /// key, so the first round's id depends on the other fields alone.
    pub fn derived_id<'v>(&self, value_of: impl Fn(&str) -> Option<&'v Value>) -> Option<Uuid> {
        let Identity::Derived(names) = self.identity else { return None };
        let mut key = self.name.to_owned();
        for name in names {
            if self.field(name)?.ty == FieldType::Integer {
                match value_of(name) {
                    None | Some(Value::Null) => {}
                    Some(value) => match value.as_u64()? {
                        0 => {}
                        n => {
                            key.push('\0');
                            key.push_str(&n.to_string());
                        }
                    },
                }
                continue;
            }
            let value = value_of(name)?.as_str()?;
            let part = match self.field(name)?.ty {
                FieldType::Ref(_) | FieldType::AnyRef => Uuid::parse_str(value).ok()?.to_string(),
                _ => value.trim().to_lowercase(),
            };
            key.push('\0');
            key.push_str(&part);
        }
        Some(Uuid::new_v5(&DERIVED_ID_NAMESPACE, key.as_bytes()))
    }

    /// [`EntityDef::derived_id`] from a map of values.
    pub fn derived_id_of(&self, values: &BTreeMap<String, Value>) -> Option<Uuid> {
        self.derived_id(|name| values.get(name))
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
            (FieldType::Ref(_) | FieldType::AnyRef, Value::String(s)) => {
                Uuid::parse_str(s).map(|_| ()).map_err(|_| format!("{name} must be a record id (UUID)"))
            }
            (FieldType::Bool, Value::Bool(_)) => Ok(()),
            (FieldType::Integer, Value::Number(n)) => match n.as_u64() {
                Some(v) if v <= self.max_len as u64 => Ok(()),
                Some(_) => Err(format!("{name} must be at most {}", self.max_len)),
                None => Err(format!("{name} must be a whole number from 0 to {}", self.max_len)),
            },
            (FieldType::Choice(options), Value::String(s)) => {
                if options.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(format!("{name} must be one of {}", options.join(", ")))
                }
            }
            (FieldType::Sha256, Value::String(s)) => {
                if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    Ok(())
                } else {
                    Err(format!("{name} must be a SHA-256 digest (64 lowercase hexadecimal digits)"))
                }
            }
            (FieldType::Json(shape), v) => {
                if v.to_string().len() > self.max_len {
                    Err(format!("{name} is larger than {} bytes", self.max_len))
                } else {
                    check_shape(name, shape, v)
                }
            }
            (FieldType::Text, _) => Err(format!("{name} must be text")),
            (FieldType::TextList, _) => Err(format!("{name} must be a list of strings")),
            (FieldType::Ref(_) | FieldType::AnyRef, _) => Err(format!("{name} must be a record id (UUID)")),
            (FieldType::Bool, _) => Err(format!("{name} must be true or false")),
            (FieldType::Integer, _) => Err(format!("{name} must be a whole number from 0 to {}", self.max_len)),
            (FieldType::Choice(options), _) => Err(format!("{name} must be one of {}", options.join(", "))),
            (FieldType::Sha256, _) => Err(format!("{name} must be a SHA-256 digest (64 lowercase hexadecimal digits)")),
        }
    }
}

/// Days of the week as a calendar's `weekly` keys.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn check_shape(name: &str, shape: JsonShape, value: &Value) -> Result<(), String> {
    match shape {
        JsonShape::Any => Ok(()),
        JsonShape::WikiPages => {
            let pages = value.as_array().ok_or_else(|| format!("{name} must be a list of wiki pages"))?;
            for page in pages {
                let text = |key: &str| page.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
                match (text("wiki"), text("title")) {
                    (Some(wiki), Some(title)) if wiki.len() <= 255 && title.chars().count() <= 255 => {}
                    _ => {
                        return Err(format!(
                            "each page of {name} needs a wiki and a title (at most 255 characters each)"
                        ));
                    }
                }
            }
            Ok(())
        }
        JsonShape::Calendar => check_calendar(name, value),
        JsonShape::CannedVersions => {
            let versions = value.as_object().filter(|v| !v.is_empty()).ok_or_else(|| {
                format!("{name} must give the reply's text in at least one language, e.g. {{\"en\": \"…\"}}")
            })?;
            for (language, text) in versions {
                if !is_language_tag(language) {
                    return Err(format!("{language:?} is not a language tag such as en, de or pt-BR"));
                }
                let text = text.as_str().ok_or_else(|| format!("{name}.{language} must be text"))?;
                if text.chars().count() > 20_000 {
                    return Err(format!("{name}.{language} is longer than 20000 characters"));
                }
                crate::canned::validate(text).map_err(|e| format!("{name}.{language}: {e}"))?;
            }
            Ok(())
        }
        JsonShape::Sla => {
            let targets = value.as_object().ok_or_else(|| format!("{name} must be an object of targets in minutes"))?;
            for (key, minutes) in targets {
                if !SLA_TARGETS.contains(&key.as_str()) {
                    return Err(format!("{name} has no target {key:?}; targets are {}", SLA_TARGETS.join(", ")));
                }
                if !minutes.is_null() && minutes.as_u64().is_none_or(|m| m == 0 || m > 525_600) {
                    return Err(format!("{name}.{key} must be a number of minutes from 1 to 525600 (a year)"));
                }
            }
            Ok(())
        }
    }
}

/// A BCP 47 language tag in its common form: a two- or three-letter language, then subtags of
/// one to eight letters or digits (`en`, `de`, `pt-BR`, `zh-Hant-TW`), at most 35 characters.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    tag.len() <= 35
        && (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The SLA clocks a queue may set, in minutes.
pub const SLA_TARGETS: [&str; 3] = ["first_response", "update", "resolution"];

fn is_clock_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && s[..2].parse::<u32>().is_ok_and(|h| h <= 24)
        && s[3..].parse::<u32>().is_ok_and(|m| m < 60)
        && (s[..2] != *"24" || s[3..] == *"00")
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s[..4].parse::<u32>().is_ok()
        && s[5..7].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && s[8..].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

fn check_calendar(name: &str, value: &Value) -> Result<(), String> {
    let obj = value.as_object().ok_or_else(|| format!("{name} must be a calendar (zone, weekly hours, holidays)"))?;
    let zone = obj.get("zone").and_then(Value::as_str).unwrap_or_default();
    if zone.is_empty() || zone.len() > 64 || zone.contains(char::is_whitespace) {
        return Err(format!("{name} needs a time zone such as Europe/Berlin"));
    }
    if let Some(weekly) = obj.get("weekly") {
        let days = weekly.as_object().ok_or_else(|| format!("{name}.weekly must map days (mon … sun) to hours"))?;
        for (day, spans) in days {
            if !WEEKDAYS.contains(&day.as_str()) {
                return Err(format!("{name}.weekly has no day {day:?}; days are {}", WEEKDAYS.join(", ")));
            }
            let spans =
                spans.as_array().ok_or_else(|| format!("{name}.weekly.{day} must be a list of [from, to] hours"))?;
            for span in spans {
                let pair = span.as_array().filter(|p| p.len() == 2);
                let times: Option<Vec<&str>> = pair.map(|p| p.iter().filter_map(Value::as_str).collect());
                match times.as_deref() {
                    Some([from, to]) if is_clock_time(from) && is_clock_time(to) && from < to => {}
                    _ => {
                        return Err(format!(
                            "{name}.weekly.{day} hours must be pairs like [\"09:00\", \"17:00\"], from before to"
                        ));
                    }
                }
            }
        }
    }
    if let Some(holidays) = obj.get("holidays") {
        let dates = holidays.as_array().ok_or_else(|| format!("{name}.holidays must be a list of dates"))?;
        if dates.iter().any(|d| !d.as_str().is_some_and(is_date)) {
            return Err(format!("{name}.holidays must be dates like 2026-12-25"));
        }
    }
    Ok(())
}

pub static CONTACT: EntityDef = EntityDef {
    kind: EntityKind::Contact,
    name: "contact",
    fields: &[
        text("display_name", true, 300),
        text("language", false, 35),
        text("organization", false, 300),
        list("tags", 100),
        text("notes", false, 20_000),
        text("created_at", false, 40),
        // Restricted contacts are visible only to staff, administrators and users granted access
        // (see [`crate::scope`]).
        flag("restricted"),
    ],
    parent: None,
    scope: ScopeRule::OwnWhen { field: "restricted" },
    person: None,
    mutability: Mutability::Mutable,
    writers: READERS,
    staff_fields: &["restricted"],
    server_fields: &[],
    grants: None,
    identity: Identity::Random,
    since: 1,
};

const OF_CONTACT: Option<Parent> = Some(Parent { field: "contact_id", kind: Some(EntityKind::Contact) });

pub static CONTACT_EMAIL: EntityDef = EntityDef {
    kind: EntityKind::ContactEmail,
    name: "contact_email",
    fields: &[reference("contact_id", EntityKind::Contact, true), text("address", true, 320), text("label", false, 50)],
    parent: OF_CONTACT,
    scope: ScopeRule::Parent,
    person: Some("contact_id"),
    staff_fields: &[],
    server_fields: &[],
    ..CONTACT
};

pub static CONTACT_PHONE: EntityDef = EntityDef {
    kind: EntityKind::ContactPhone,
    name: "contact_phone",
    fields: &[reference("contact_id", EntityKind::Contact, true), text("number", true, 50), text("label", false, 50)],
    ..CONTACT_EMAIL
};

/// Identifiers: `kind` is `wiki` (a wiki username), `irc` (an IRC nick) or `other`.
pub static CONTACT_IDENTIFIER: EntityDef = EntityDef {
    kind: EntityKind::ContactIdentifier,
    name: "contact_identifier",
    fields: &[reference("contact_id", EntityKind::Contact, true), text("kind", true, 20), text("value", true, 300)],
    ..CONTACT_EMAIL
};

/// What the server records when two devices changed the same data concurrently (`sync.md`,
/// "Conflicts are shown, not swallowed"). The row belongs to the root of the tree it concerns
/// (its *owner*: the contact of an email, the case of a case link), so it has the owner's scope
/// and goes with it.
///
/// * `owner_entity` and `owner_id` name the owner; `contact_id` repeats the owner's id when it is
///   a contact, for clients of protocol 1.
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
        reference("contact_id", EntityKind::Contact, false),
        text("entity", true, 40),
        text("row_id", true, 36),
        text("field", false, 64),
        text("kind", true, 10),
        json("kept", JsonShape::Any, true, 200_000),
        json("lost", JsonShape::Any, true, 200_000),
        text("detected_at", true, 40),
        text("resolution", false, 20),
        text("resolved_by", false, 64),
        text("resolved_at", false, 40),
        text("owner_entity", false, 40),
        FieldDef { name: "owner_id", ty: FieldType::AnyRef, required: false, max_len: 36 },
    ],
    parent: Some(Parent { field: "owner_id", kind: None }),
    scope: ScopeRule::Parent,
    person: None,
    mutability: Mutability::ServerAuthored { client_fields: &["resolution", "resolved_by", "resolved_at"] },
    writers: Writers { create: Who::Nobody, edit: Who::Readers, delete: Who::Nobody },
    staff_fields: &[],
    server_fields: &[],
    grants: None,
    identity: Identity::Random,
    since: 1,
};

/// [`CONFLICT`] `kind`: two devices wrote different values to one field.
pub const CONFLICT_KIND_FIELD: &str = "field";
/// [`CONFLICT`] `kind`: a change met a delete; the delete won.
pub const CONFLICT_KIND_DELETE: &str = "delete";

/// [`CONFLICT`] `resolution` values a client writes.
pub const RESOLUTIONS: [&str; 3] = ["kept_mine", "kept_theirs", "edited"];

/// The channels a case or a message came through.
pub const CHANNELS: [&str; 8] = ["email", "wiki", "irc", "mailing_list", "phone", "in_person", "social", "other"];

/// A queue: where cases arrive (one per address and language, e.g. info-en@). Its rows are the
/// compartment `queue:<id>`: its members' devices receive the queue, its memberships and its
/// cases. Staff and administrators create and change queues; queues are archived, not deleted.
///
/// * `calendar`: business hours for SLA clocks ([`JsonShape::Calendar`]).
/// * `sla`: targets in minutes ([`JsonShape::Sla`]).
/// * `states`: custom case states of this queue, beside [`CASE_STATES`].
pub static QUEUE: EntityDef = EntityDef {
    kind: EntityKind::Queue,
    name: "queue",
    fields: &[
        text("name", true, 200),
        text("email", false, 320),
        text("language", false, 35),
        text("description", false, 5_000),
        text("signature", false, 5_000),
        json("calendar", JsonShape::Calendar, false, 20_000),
        json("sla", JsonShape::Sla, false, 2_000),
        list("states", 40),
        flag("archived"),
    ],
    parent: None,
    scope: ScopeRule::Own,
    person: None,
    mutability: Mutability::Mutable,
    writers: Writers { create: Who::Staff, edit: Who::Staff, delete: Who::Nobody },
    staff_fields: &[],
    server_fields: &[],
    grants: None,
    identity: Identity::Random,
    since: 2,
};

/// Roles in a queue.
pub const QUEUE_ROLES: [&str; 2] = ["agent", "lead"];

/// A user's membership of a queue, with their role in it. It grants the user the queue's scope
/// while it lives; deleting it revokes the queue from the user's devices. Its id is derived from
/// the queue, the user and the [`ROUND`], so two administrators adding the same person offline
/// make one row, and a person removed can be added again.
pub static QUEUE_MEMBER: EntityDef = EntityDef {
    kind: EntityKind::QueueMember,
    name: "queue_member",
    fields: &[
        reference("queue_id", EntityKind::Queue, true),
        text("user", true, 64),
        choice("role", &QUEUE_ROLES, true),
        ROUND,
    ],
    scope: ScopeRule::Of { field: "queue_id" },
    writers: Writers { create: Who::Staff, edit: Who::Staff, delete: Who::Staff },
    grants: Some(GrantRule { user_field: "user", scope_field: "queue_id" }),
    identity: Identity::Derived(&["queue_id", "user", "round"]),
    ..QUEUE
};

pub const CASE_KINDS: [&str; 3] = ["inquiry", "complaint", "comment"];
/// The built-in case states; a queue may add its own ([`QUEUE`] `states`).
pub const CASE_STATES: [&str; 5] = ["new", "open", "pending", "resolved", "closed"];
pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

/// A case: an inquiry, complaint or comment from a reader, in a queue. Its scope is its queue's,
/// so exactly the queue's members (and staff) receive it; moving it to another queue moves it
/// out of the first queue's members' devices.
pub static CASE: EntityDef = EntityDef {
    kind: EntityKind::Case,
    name: "case",
    fields: &[
        reference("queue_id", EntityKind::Queue, true),
        text("subject", true, 500),
        choice("kind", &CASE_KINDS, true),
        choice("channel", &CHANNELS, true),
        text("state", true, 40),
        text("language", false, 35),
        text("category", false, 100),
        choice("priority", &PRIORITIES, false),
        text("owner", false, 64),
        list("tags", 100),
        json("wiki_pages", JsonShape::WikiPages, false, 20_000),
        text("created_at", false, 40),
        FieldDef { name: "number", ty: FieldType::Integer, required: false, max_len: 999_999_999_999 },
        // The SLA clocks as the server computed them from the thread: `{"first_response":
        // {"state": "running", "due": "…", "breached": false, "elapsed_minutes": 12,
        // "target_minutes": 480}, "update": …, "resolution": …}`; devices only display them.
        json("sla", JsonShape::Any, false, 4_000),
        // The earliest due time of a running clock (RFC 3339, UTC): what "overdue" and "due
        // today" are computed from.
        text("due_at", false, 40),
        // The case this one was merged into (protocol 5): it takes no new messages, and mail
        // to it goes to that case (or to the one that case was merged into, and so on).
        reference("merged_into", EntityKind::Case, false),
    ],
    parent: None,
    scope: ScopeRule::Of { field: "queue_id" },
    person: None,
    mutability: Mutability::Mutable,
    writers: Writers { create: Who::Readers, edit: Who::Readers, delete: Who::Staff },
    staff_fields: &[],
    server_fields: &["number", "sla", "due_at"],
    grants: None,
    identity: Identity::Random,
    since: 2,
};

pub const CASE_CONTACT_ROLES: [&str; 4] = ["reader", "subject", "representative", "other"];

/// A contact's part in a case (the reader who wrote, the article's subject, a representative).
/// Its id is derived from the case, the contact and the [`ROUND`]: linking the same person twice
/// offline makes one link, and a person taken off can be linked again.
pub static CASE_CONTACT: EntityDef = EntityDef {
    kind: EntityKind::CaseContact,
    name: "case_contact",
    fields: &[
        reference("case_id", EntityKind::Case, true),
        reference("contact_id", EntityKind::Contact, true),
        choice("role", &CASE_CONTACT_ROLES, true),
        ROUND,
    ],
    parent: Some(Parent { field: "case_id", kind: Some(EntityKind::Case) }),
    scope: ScopeRule::Parent,
    person: Some("contact_id"),
    writers: READERS,
    identity: Identity::Derived(&["case_id", "contact_id", "round"]),
    server_fields: &[],
    ..CASE
};

/// What a message is: mail or a note from the reader (`inbound`), a reply the reader sees
/// (`reply`), a note only the team sees (`note`), or something that happened (`event`).
pub const MESSAGE_KINDS: [&str; 4] = ["inbound", "reply", "note", "event"];

/// A message in a case's thread: append-only (created once, never edited, never in conflict).
/// `author_user` is the team member who wrote it; `author_contact_id` the reader (erasing them
/// erases their messages). `original` keeps where it came from (for mail: the headers and the
/// Message-ID).
pub static CASE_MESSAGE: EntityDef = EntityDef {
    kind: EntityKind::CaseMessage,
    name: "case_message",
    fields: &[
        reference("case_id", EntityKind::Case, true),
        choice("kind", &MESSAGE_KINDS, true),
        choice("channel", &CHANNELS, true),
        text("author_user", false, 64),
        reference("author_contact_id", EntityKind::Contact, false),
        text("sent_at", true, 40),
        text("body", false, 200_000),
        json("original", JsonShape::Any, false, 200_000),
    ],
    parent: Some(Parent { field: "case_id", kind: Some(EntityKind::Case) }),
    scope: ScopeRule::Parent,
    person: Some("author_contact_id"),
    mutability: Mutability::AppendOnly,
    writers: Writers { create: Who::Readers, edit: Who::Nobody, delete: Who::Nobody },
    server_fields: &[],
    ..CASE
};

/// A canned reply: a text a team member inserts into a reply, in several languages, with
/// variables ([`crate::canned`]). For every queue when `queue_id` is empty (public), else for
/// that queue's members (its scope). Staff write them.
pub static CANNED_REPLY: EntityDef = EntityDef {
    kind: EntityKind::CannedReply,
    name: "canned_reply",
    fields: &[
        text("name", true, 200),
        reference("queue_id", EntityKind::Queue, false),
        text("shortcut", false, 40),
        json("versions", JsonShape::CannedVersions, true, 400_000),
        flag("archived"),
    ],
    parent: None,
    scope: ScopeRule::Of { field: "queue_id" },
    person: None,
    mutability: Mutability::Mutable,
    writers: Writers { create: Who::Staff, edit: Who::Staff, delete: Who::Staff },
    staff_fields: &[],
    server_fields: &[],
    grants: None,
    identity: Identity::Random,
    since: 3,
};

/// One case's link to a related case (protocol 5): the same article, the same reader writing
/// twice, a complaint and the inquiry it came from. A link is kept on both cases, as two rows
/// (`case_id` → `other_id` and back), so each case's queue sees it even when the two cases are
/// in different queues. The id is derived from the pair and the [`ROUND`]: linking the same two
/// cases on two laptops offline makes one link, and an unlinked pair can be linked again.
pub static CASE_LINK: EntityDef = EntityDef {
    kind: EntityKind::CaseLink,
    name: "case_link",
    fields: &[reference("case_id", EntityKind::Case, true), reference("other_id", EntityKind::Case, true), ROUND],
    parent: Some(Parent { field: "case_id", kind: Some(EntityKind::Case) }),
    scope: ScopeRule::Parent,
    person: None,
    mutability: Mutability::Mutable,
    writers: READERS,
    staff_fields: &[],
    server_fields: &[],
    grants: None,
    identity: Identity::Derived(&["case_id", "other_id", "round"]),
    since: 5,
};

/// Where a mailed reply stands: waiting to be sent, being sent, sent (the receiving server took
/// it), failed for now (retried with backoff: `detail` says why and `next_attempt_at` when),
/// given up, or not delivered (a bounce came back, `detail` says why).
pub const DELIVERY_STATES: [&str; 6] = ["queued", "sending", "sent", "retrying", "failed", "not_delivered"];

/// The delivery of a reply by mail, written only by the server that sends it, one per message
/// (its id is derived from the message): devices show it in the thread. `recipients` are the
/// addresses it went to; `detail` the SMTP server's answer or the bounce's reason.
pub static DELIVERY: EntityDef = EntityDef {
    kind: EntityKind::Delivery,
    name: "delivery",
    fields: &[
        reference("message_id", EntityKind::CaseMessage, true),
        choice("state", &DELIVERY_STATES, true),
        list("recipients", 320),
        text("detail", false, 2_000),
        FieldDef { name: "attempts", ty: FieldType::Integer, required: false, max_len: 1_000_000 },
        text("mail_message_id", false, 998),
        text("updated_at", false, 40),
        text("next_attempt_at", false, 40),
    ],
    parent: Some(Parent { field: "message_id", kind: Some(EntityKind::CaseMessage) }),
    scope: ScopeRule::Parent,
    person: None,
    mutability: Mutability::ServerAuthored { client_fields: &[] },
    writers: Writers { create: Who::Nobody, edit: Who::Nobody, delete: Who::Nobody },
    staff_fields: &[],
    server_fields: &[],
    grants: None,
    identity: Identity::Derived(&["message_id"]),
    since: 4,
};

/// The largest attachment accepted, in bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 25 * 1024 * 1024;

/// A file attached to a message. The row carries its metadata; the content is stored once by
/// its SHA-256 (on the server, and encrypted inside the vault on a device) and fetched when
/// first opened.
pub static ATTACHMENT: EntityDef = EntityDef {
    kind: EntityKind::Attachment,
    name: "attachment",
    fields: &[
        reference("message_id", EntityKind::CaseMessage, true),
        text("name", true, 255),
        text("media_type", false, 255),
        FieldDef { name: "size", ty: FieldType::Integer, required: true, max_len: MAX_ATTACHMENT_BYTES },
        FieldDef { name: "sha256", ty: FieldType::Sha256, required: true, max_len: 64 },
    ],
    parent: Some(Parent { field: "message_id", kind: Some(EntityKind::CaseMessage) }),
    person: None,
    ..CASE_MESSAGE
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_entity_round_trips_through_its_wire_name() {
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).expect("ser"), json!(kind.as_str()), "serde and as_str agree");
            assert_eq!(kind.def().kind, kind);
        }
    }

    #[test]
    fn every_declaration_is_consistent() {
        for kind in EntityKind::ALL {
            let def = kind.def();
            if let Some(parent) = def.parent {
                let field = def.field(parent.field).unwrap_or_else(|| panic!("{kind}: the parent field exists"));
                assert!(field.required || parent.kind.is_none(), "{kind}: a child always names its parent");
                match (parent.kind, field.ty) {
                    (Some(of), FieldType::Ref(to)) => {
                        assert_eq!(of, to, "{kind}: the parent field refers to the parent")
                    }
                    (None, FieldType::AnyRef) => {}
                    other => panic!("{kind}: the parent field must be a reference, not {other:?}"),
                }
            }
            assert_eq!(
                def.scope == ScopeRule::Parent,
                def.parent.is_some(),
                "{kind}: children take their parent's scope"
            );
            if let ScopeRule::Of { field } | ScopeRule::OwnWhen { field } = def.scope {
                assert!(def.field(field).is_some(), "{kind}: the scope field exists");
            }
            if let Some(person) = def.person {
                assert_eq!(
                    def.field(person).map(|f| f.ty),
                    Some(FieldType::Ref(EntityKind::Contact)),
                    "{kind}: a person is a contact"
                );
            }
            if let Some(grant) = def.grants {
                assert!(
                    def.field(grant.user_field).is_some() && def.field(grant.scope_field).is_some(),
                    "{kind}: grant fields exist"
                );
            }
            if let Identity::Derived(fields) = def.identity {
                assert!(
                    fields.iter().all(|f| def.field(f).is_some_and(|f| f.required || *f == ROUND)),
                    "{kind}: a derived id comes from required fields (and the round, 0 when absent)"
                );
            }
            if def.mutability == Mutability::AppendOnly {
                assert_eq!(
                    (def.writers.edit, def.writers.delete),
                    (Who::Nobody, Who::Nobody),
                    "{kind}: append-only rows never change"
                );
            }
            assert!(def.since >= 1 && def.since <= crate::PROTOCOL_VERSION, "{kind}: introduced by a known protocol");
        }
    }

    #[test]
    fn children_follow_parent_declarations_at_every_depth() {
        let of = |k: EntityKind| k.children().collect::<Vec<_>>();
        assert_eq!(
            of(EntityKind::Contact),
            vec![
                EntityKind::ContactEmail,
                EntityKind::ContactPhone,
                EntityKind::ContactIdentifier,
                EntityKind::Conflict
            ]
        );
        assert_eq!(
            of(EntityKind::Case),
            vec![EntityKind::Conflict, EntityKind::CaseContact, EntityKind::CaseMessage, EntityKind::CaseLink],
            "a case's contacts, thread and links to related cases go with it"
        );
        assert_eq!(
            of(EntityKind::CaseMessage),
            vec![EntityKind::Conflict, EntityKind::Attachment, EntityKind::Delivery],
            "depth 3: a message's files and its delivery"
        );
        assert!(EntityKind::known_at(1).all(|k| k.def().since == 1), "protocol 1 knows only the contact entities");
        assert_eq!(EntityKind::known_at(1).count(), 5);
        assert!(
            !EntityKind::known_at(4).any(|k| k == EntityKind::CaseLink),
            "a protocol-4 client is never sent case links"
        );
    }

    #[test]
    fn validation_explains_what_is_wrong() {
        let c = EntityKind::Contact.def();
        assert!(c.validate("display_name", &json!("Ada")).is_ok());
        assert_eq!(c.validate("display_name", &json!("  ")), Err("display_name must not be empty".into()));
        assert_eq!(c.validate("display_name", &Value::Null), Err("display_name is required".into()));
        assert!(c.validate("nickname", &json!("x")).expect_err("unknown field").contains("no field named"));
        assert!(c.validate("tags", &json!(["a", 1])).is_err(), "lists hold strings only");
        assert!(c.validate("language", &Value::Null).is_ok(), "optional fields may be cleared");
        let e = EntityKind::ContactEmail.def();
        assert!(e.validate("contact_id", &json!("not-a-uuid")).is_err());
        assert!(c.validate("restricted", &json!(true)).is_ok());
        assert_eq!(c.validate("restricted", &json!("yes")), Err("restricted must be true or false".into()));
        let case = EntityKind::Case.def();
        assert_eq!(
            case.validate("kind", &json!("rant")),
            Err("kind must be one of inquiry, complaint, comment".into())
        );
        let file = EntityKind::Attachment.def();
        assert!(file.validate("size", &json!(MAX_ATTACHMENT_BYTES + 1)).expect_err("too big").contains("at most"));
        assert!(file.validate("size", &json!(-1)).is_err());
        assert!(file.validate("sha256", &json!("AB".repeat(32))).is_err(), "digests are lowercase");
        assert!(file.validate("sha256", &json!("ab".repeat(32))).is_ok());
    }

    #[test]
    fn structured_fields_are_checked_for_their_shape() {
        let queue = EntityKind::Queue.def();
        let good = json!({"zone": "Europe/Berlin", "weekly": {"mon": [["09:00", "12:00"], ["13:00", "17:30"]]}, "holidays": ["2026-12-25"]});
        assert!(queue.validate("calendar", &good).is_ok());
        // (value, part of the message, why)
        let bad = [
            (json!({"weekly": {}}), "time zone", "a calendar needs its zone"),
            (json!({"zone": "UTC", "weekly": {"monday": []}}), "no day", "days are abbreviated"),
            (json!({"zone": "UTC", "weekly": {"mon": [["17:00", "09:00"]]}}), "from before to", "hours run forwards"),
            (json!({"zone": "UTC", "weekly": {"mon": [["9:00", "17:00"]]}}), "pairs like", "two-digit hours"),
            (json!({"zone": "UTC", "holidays": ["25.12.2026"]}), "dates like", "ISO dates"),
        ];
        for (value, part, why) in bad {
            let err = queue.validate("calendar", &value).expect_err(why);
            assert!(err.contains(part), "{why}: {err}");
        }
        assert!(queue.validate("sla", &json!({"first_response": 480, "resolution": null})).is_ok());
        assert!(queue.validate("sla", &json!({"lunch": 60})).expect_err("unknown target").contains("no target"));
        assert!(queue.validate("sla", &json!({"update": 0})).is_err(), "a target of zero minutes is no target");
        let case = EntityKind::Case.def();
        assert!(case.validate("wiki_pages", &json!([{"wiki": "en.wikipedia.org", "title": "Ada Lovelace"}])).is_ok());
        assert!(case.validate("wiki_pages", &json!([{"wiki": "en.wikipedia.org"}])).is_err(), "a page needs its title");
    }

    #[test]
    fn derived_ids_do_not_depend_on_spelling() {
        let def = EntityKind::QueueMember.def();
        let queue = Uuid::from_u128(7);
        let id = |q: String, user: &str| {
            def.derived_id_of(&BTreeMap::from([("queue_id".into(), json!(q)), ("user".into(), json!(user))]))
        };
        let one = id(queue.to_string(), "Ana").expect("derived");
        assert_eq!(id(queue.simple().to_string().to_uppercase(), " ana "), Some(one), "same queue, same user");
        assert_ne!(id(queue.to_string(), "ben"), Some(one), "another user, another row");
        assert_eq!(def.derived_id_of(&BTreeMap::new()), None, "missing fields derive nothing");
        assert_eq!(EntityKind::Case.def().derived_id_of(&BTreeMap::new()), None, "cases have random ids");
    }

    #[test]
    fn each_round_of_an_association_has_its_own_id_and_round_zero_is_the_first() {
        let def = EntityKind::QueueMember.def();
        let id = |round: Option<Value>| {
            let mut values = BTreeMap::from([
                ("queue_id".to_owned(), json!(Uuid::from_u128(7).to_string())),
                ("user".to_owned(), json!("ana")),
            ]);
            if let Some(r) = round {
                values.insert("round".into(), r);
            }
            def.derived_id_of(&values).expect("derived")
        };
        assert_eq!(id(Some(json!(0))), id(None), "round 0 is the id without a round");
        assert_ne!(id(Some(json!(1))), id(None), "after a removal, the next membership is a new row");
        assert_ne!(id(Some(json!(2))), id(Some(json!(1))));
        assert_eq!(id(Some(json!(1))), id(Some(json!(1))), "every device derives the same next id");
        let values = BTreeMap::from([
            ("queue_id".to_owned(), json!(Uuid::from_u128(7).to_string())),
            ("user".to_owned(), json!("ana")),
            ("round".to_owned(), json!("one")),
        ]);
        assert_eq!(def.derived_id_of(&values), None, "a round is a whole number");
    }

    #[test]
    fn conflicts_are_written_by_the_server_and_only_resolved_by_clients() {
        let def = EntityKind::Conflict.def();
        assert!(!def.client_may_create(), "a client must not invent conflicts");
        assert!(def.client_may_write("resolution"));
        assert!(!def.client_may_write("kept"), "the recorded sides are the server's record");
        assert!(EntityKind::Contact.def().client_may_create());
        assert!(def.validate("lost", &json!({"value": "x".repeat(300_000)})).is_err(), "Json fields are bounded");
        let message = EntityKind::CaseMessage.def();
        assert!(!message.client_may_write("body") && !message.records_conflicts(), "messages are append-only");
    }

    #[test]
    fn a_canned_reply_needs_valid_templates_under_language_tags() {
        let canned = EntityKind::CannedReply.def();
        assert!(
            canned
                .validate(
                    "versions",
                    &json!({"en": "Dear {{reader_name|reader}},", "pt-BR": "Olá", "zh-Hant-TW": "您好"})
                )
                .is_ok()
        );
        for (value, expected, why) in [
            (json!({}), "at least one language", "a reply says something"),
            (json!({"english": "x"}), "not a language tag", "tags, not names"),
            (json!({"en-": "x"}), "not a language tag", "no empty subtag"),
            (json!({"en": 3}), "must be text", "texts are text"),
            (json!({"de": "Hallo {{name}}"}), "versions.de: {{name}} is not a variable", "templates are checked"),
        ] {
            let err = canned.validate("versions", &value).expect_err(why);
            assert!(err.contains(expected), "{why}: {err}");
        }
        assert_eq!(canned.scope, ScopeRule::Of { field: "queue_id" });
        assert!(!canned.field("queue_id").expect("queue").required, "optional: empty means every queue");
    }
}
