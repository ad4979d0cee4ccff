//! Scopes: the unit of permission on sync (`sync.md`, "Permissions").
//!
//! Every synced row carries a scope, computed by the server from the row (never taken from the
//! client). A user may read a row when the server says they may read its scope; losing that right
//! sends the scope to the user's devices as a revoke, and each device physically deletes every
//! row it holds in that scope.
//!
//! | scope | rows | who may read |
//! |---|---|---|
//! | `public` | ordinary contacts and everything that belongs to them | every role |
//! | `contact:<id>` | a restricted contact, its emails, phones, identifiers and conflicts | staff, admins, users granted `contact:<id>` |
//!
//! Cases, queues and events add their own kinds (`case:<id>`, `queue:<id>`, `event:<id>`) with
//! the same grant and revoke mechanism; the wire does not change.

use uuid::Uuid;

/// The scope of rows every signed-in user may read.
pub const PUBLIC: &str = "public";

/// The scope of a restricted contact and the rows that belong to it.
pub fn contact(id: Uuid) -> String {
    format!("contact:{id}")
}

/// The contact id of a `contact:<id>` scope.
pub fn contact_id(scope: &str) -> Option<Uuid> {
    scope.strip_prefix("contact:").and_then(|id| Uuid::parse_str(id).ok())
}

/// Check a scope named on a command line or in a request: `public` or `contact:<uuid>`.
pub fn parse(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == PUBLIC {
        return Ok(PUBLIC.to_owned());
    }
    match contact_id(text) {
        Some(id) => Ok(contact(id)),
        None => Err(format!("{text:?} is not a scope; expected public or contact:<id>")),
    }
}
