//! Builders shared by the test modules.

use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldWrite, PushRequest};
use serde_json::Value;
use uuid::Uuid;

/// A change to a contact row carrying `fields` as `(name, value, hlc)`.
pub fn change(row_id: Uuid, fields: &[(&str, Value, Hlc)]) -> Change {
    Change {
        change_id: Uuid::now_v7(),
        entity: EntityKind::Contact,
        row_id,
        base_seq: 0,
        fields: fields.iter().map(|(n, v, h)| ((*n).to_owned(), FieldWrite { value: v.clone(), hlc: *h })).collect(),
        deleted: None,
    }
}

/// A delete of a contact row at `hlc`.
pub fn delete(row_id: Uuid, hlc: Hlc) -> Change {
    Change { deleted: Some(hlc), ..change(row_id, &[]) }
}

/// A batch with a fresh batch id.
pub fn batch(changes: Vec<Change>) -> PushRequest {
    PushRequest { batch_id: Uuid::now_v7(), changes }
}

/// A change creating a row of a contact's `entity` (email, phone, identifier) pointing at `contact_id`.
pub fn child(entity: EntityKind, row_id: Uuid, contact_id: Uuid, fields: &[(&str, Value)], hlc: Hlc) -> Change {
    let mut all: Vec<(&str, Value, Hlc)> = vec![("contact_id", Value::String(contact_id.to_string()), hlc)];
    all.extend(fields.iter().map(|(n, v)| (*n, v.clone(), hlc)));
    Change { entity, ..change(row_id, &all) }
}
