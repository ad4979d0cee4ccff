//! Scopes: the unit of permission on sync (`sync.md`, "Permissions").
//!
//! Every synced row carries a scope, computed by the server from the row by its entity's
//! [`crate::schema::ScopeRule`] (never taken from the client). A user may read a row when the
//! server says they may read its scope; losing that right sends the scope to the user's devices
//! as a revoke, and each device physically deletes every row it holds in that scope.
//!
//! A scope is `public` or a compartment `<kind>:<id>`, named after the row that forms it:
//!
//! | scope | rows | who may read |
//! |---|---|---|
//! | `public` | ordinary contacts and everything that belongs to them | every role |
//! | `contact:<id>` | a restricted contact, its emails, phones, identifiers and conflicts | staff, admins, users granted `contact:<id>` |
//! | `queue:<id>` | a queue, its memberships, its cases with their links, messages and attachments | staff, admins, the queue's members |
//!
//! Because a compartment is named after its row, a device told to drop `<kind>:<id>` also drops
//! that row and its subtree even where it still holds them under an older scope (a contact that
//! was public when the device received it).

use crate::schema::{EntityKind, ScopeRule};
use uuid::Uuid;

/// The scope of rows every signed-in user may read.
pub const PUBLIC: &str = "public";

/// The compartment formed by a row: `<kind>:<id>`.
pub fn of(kind: EntityKind, id: Uuid) -> String {
    format!("{}:{id}", kind.as_str())
}

/// The scope of a restricted contact and the rows that belong to it.
pub fn contact(id: Uuid) -> String {
    of(EntityKind::Contact, id)
}

/// The row a compartment is named after (`None` for `public` and for text that is no scope).
pub fn split(scope: &str) -> Option<(EntityKind, Uuid)> {
    let (kind, id) = scope.split_once(':')?;
    Some((EntityKind::parse(kind)?, Uuid::parse_str(id).ok()?))
}

/// The contact id of a `contact:<id>` scope.
pub fn contact_id(scope: &str) -> Option<Uuid> {
    split(scope).filter(|(kind, _)| *kind == EntityKind::Contact).map(|(_, id)| id)
}

/// Whether rows of this kind form compartments named after them.
fn forms_compartments(kind: EntityKind) -> bool {
    matches!(kind.def().scope, ScopeRule::Own | ScopeRule::OwnWhen { .. })
}

/// Check a scope named on a command line or in a request: `public` or `<kind>:<uuid>` for a kind
/// whose rows form compartments (`contact`, `queue`). The id is normalised.
pub fn parse(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == PUBLIC {
        return Ok(PUBLIC.to_owned());
    }
    let kinds: Vec<&str> =
        EntityKind::ALL.into_iter().filter(|k| forms_compartments(*k)).map(EntityKind::as_str).collect();
    let expected = || {
        format!(
            "{text:?} is not a scope; expected public or one of {}",
            kinds.iter().map(|k| format!("{k}:<id>")).collect::<Vec<_>>().join(", ")
        )
    };
    let (kind, id) = text.split_once(':').ok_or_else(expected)?;
    let kind = EntityKind::parse(kind).filter(|k| forms_compartments(*k)).ok_or_else(expected)?;
    let id = Uuid::parse_str(id).map_err(|_| expected())?;
    Ok(of(kind, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_normalise_the_id() {
        let id = Uuid::from_u128(42);
        assert_eq!(contact_id(&contact(id)), Some(id));
        assert_eq!(parse(&format!("contact:{}", id.to_string().to_uppercase())), Ok(contact(id)));
        assert_eq!(parse(&format!("queue:{}", id.simple())), Ok(of(EntityKind::Queue, id)));
        assert_eq!(split(&of(EntityKind::Queue, id)), Some((EntityKind::Queue, id)));
        assert_eq!(contact_id(&of(EntityKind::Queue, id)), None, "a queue is no contact");
        assert_eq!(parse("public"), Ok(PUBLIC.to_owned()));
        assert!(parse("contact:nope").is_err());
        assert!(
            parse(&format!("case_message:{id}")).expect_err("no compartment").contains("queue:<id>"),
            "messages form no compartment of their own"
        );
        assert!(parse("planet:1").is_err(), "unknown kinds are refused, not guessed");
        assert_eq!(split(PUBLIC), None);
    }
}
