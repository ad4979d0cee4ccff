//! Who may read and write which synced row: the one place that decides.
//!
//! For now every role may read and write every contact row. Scopes (restricted cases, queues,
//! events) will plug in here, and because pull and push both ask these two functions, a rule added
//! here holds on both paths.

use crate::storage::User;
use crate::sync::StoredRow;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::RowState;
use uuid::Uuid;

/// May `user` receive this row in a pull?
pub fn may_read(user: &User, row: &RowState) -> bool {
    let _ = (user, row);
    true
}

/// May `user` change (or create, when `existing` is `None`) this row?
pub fn may_write(user: &User, entity: EntityKind, row_id: Uuid, existing: Option<&StoredRow>) -> bool {
    let _ = (user, entity, row_id, existing);
    true
}

/// May `user` erase a person's data (right to erasure)? Staff and administrators only.
pub fn may_erase(user: &User) -> bool {
    matches!(user.role, liaison_protocol::wire::Role::Admin | liaison_protocol::wire::Role::Staff)
}
