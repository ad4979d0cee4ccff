//! Contact tables: `contact` and its child rows (`contact_email`, `contact_phone`,
//! `contact_identifier`), and the full-text index `contact_fts`.
//!
//! Column names equal the schema's field names (see `liaison_protocol::schema`), so the generic
//! write layer can address them. `rid` is a stable integer key that the FTS index uses as its
//! rowid; `sort_key` and `updated_at` are derived here, never synced.

use super::Migration;
use super::search::{SearchEntries, json_words};
use super::sync_tables::blob;
use crate::entities::Search;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

pub const MIGRATION_1: Migration = Migration {
    table: "contact",
    sql: "
CREATE TABLE contact (
    rid INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    language TEXT,
    organization TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT,
    created_at TEXT,
    sort_key TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contact_by_sort_key ON contact(sort_key, id);
CREATE TABLE contact_email (
    id BLOB PRIMARY KEY, contact_id BLOB, address TEXT NOT NULL DEFAULT '', label TEXT
);
CREATE INDEX contact_email_by_contact ON contact_email(contact_id);
CREATE TABLE contact_phone (
    id BLOB PRIMARY KEY, contact_id BLOB, number TEXT NOT NULL DEFAULT '', label TEXT
);
CREATE INDEX contact_phone_by_contact ON contact_phone(contact_id);
CREATE TABLE contact_identifier (
    id BLOB PRIMARY KEY, contact_id BLOB, kind TEXT NOT NULL DEFAULT 'other', value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contact_identifier_by_contact ON contact_identifier(contact_id);
CREATE VIRTUAL TABLE contact_fts USING fts5(
    name, emails, organization, identifiers, tags, notes,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER contact_fts_on_delete AFTER DELETE ON contact BEGIN
    DELETE FROM contact_fts WHERE rowid = old.rid;
END;
",
};

/// 2: restricted contacts (visible only to staff, administrators and users granted access).
pub const MIGRATION_2: Migration =
    Migration { table: "contact", sql: "ALTER TABLE contact ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;" };

/// Conflicts the server recorded (entity `conflict`; see `liaison_protocol::schema::CONFLICT`).
/// Column names equal the schema's field names.
pub const MIGRATION_CONFLICTS: Migration = Migration {
    table: "conflict",
    sql: "
CREATE TABLE conflict (
    id BLOB PRIMARY KEY, contact_id BLOB, entity TEXT NOT NULL DEFAULT '', row_id TEXT NOT NULL DEFAULT '',
    field TEXT, kind TEXT NOT NULL DEFAULT 'field', kept TEXT, lost TEXT, detected_at TEXT NOT NULL DEFAULT '',
    resolution TEXT, resolved_by TEXT, resolved_at TEXT
);
CREATE INDEX conflict_open ON conflict(resolved_at, detected_at);
CREATE INDEX conflict_by_contact ON conflict(contact_id);
",
};

/// A first sync fills an empty store with many contacts in name order unrelated to their
/// arrival: keeping the name index up to date row by row rewrites most of its pages at every
/// commit. So the index is dropped while such a snapshot is stored and built once at its end
/// ([`restore_name_index`]); opening the store rebuilds it too, should a snapshot never end.
/// Lists stay correct meanwhile (sorted without the index).
pub fn suspend_name_index(conn: &Connection) -> Result<()> {
    conn.prepare_cached("DROP INDEX IF EXISTS contact_by_sort_key")?.execute([])?;
    Ok(())
}

/// See [`suspend_name_index`].
pub fn restore_name_index(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE INDEX IF NOT EXISTS contact_by_sort_key ON contact(sort_key, id);")?;
    Ok(())
}

/// A contact's full-text entry, built from the contact and the text of its child rows. Both the
/// row-by-row [`reindex`] and the bulk [`rebuild_search`] insert what this selects, so the two
/// cannot disagree.
static SEARCH: std::sync::LazyLock<SearchEntries> = std::sync::LazyLock::new(|| {
    SearchEntries::new(
        "contact_fts",
        format!(
        "INSERT INTO contact_fts(rowid, name, emails, organization, identifiers, tags, notes)
         SELECT rid, display_name,
                coalesce((SELECT group_concat(address, ' ') FROM contact_email WHERE contact_id = c.id), ''),
                organization,
                coalesce((SELECT group_concat(value, ' ') FROM contact_identifier WHERE contact_id = c.id), '') || ' ' ||
                coalesce((SELECT group_concat(number, ' ') FROM contact_phone WHERE contact_id = c.id), ''),
                {}, notes
         FROM contact c",
        json_words("c.tags"),
    ),
    )
});

/// Rebuild a contact's derived columns and (with [`Search::Now`]) its full-text entry after it or
/// a child row changed. `touched_at` (RFC 3339) becomes `updated_at` when given. A missing
/// contact is a no-op.
pub fn reindex(conn: &Connection, contact: Uuid, touched_at: Option<&str>, search: Search) -> Result<()> {
    let row = conn
        .prepare_cached("SELECT rid, display_name FROM contact WHERE id = ?1")?
        .query_row([blob(contact)], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    let Some((rid, name)) = row else { return Ok(()) };
    if search == Search::Now {
        SEARCH.write(conn, rid)?;
    }
    let sort_key = name.trim().to_lowercase();
    match touched_at {
        Some(at) => conn
            .prepare_cached("UPDATE contact SET sort_key = ?2, updated_at = ?3 WHERE rid = ?1")?
            .execute(params![rid, sort_key, at])?,
        None => {
            conn.prepare_cached("UPDATE contact SET sort_key = ?2 WHERE rid = ?1")?.execute(params![rid, sort_key])?
        }
    };
    Ok(())
}

/// Rebuild every contact's full-text entry in one statement (after a bulk load that deferred
/// them; see [`crate::entities::suspend_indexes`]).
pub fn rebuild_search(conn: &Connection) -> Result<()> {
    SEARCH.rebuild(conn)
}

/// Turn what a person types into an FTS5 query: every word must match, the last as a prefix
/// (type-ahead), each quoted so punctuation and FTS syntax in the input are taken literally.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split_whitespace()
        .map(|w| w.replace('"', ""))
        .filter(|w| w.chars().any(|c| c.is_alphanumeric()))
        .map(|w| format!("\"{w}\"*"))
        .collect();
    if words.is_empty() { None } else { Some(words.join(" ")) }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn search_input_becomes_a_safe_prefix_query() {
        assert_eq!(fts_query("ada lov").as_deref(), Some("\"ada\"* \"lov\"*"));
        assert_eq!(fts_query("  ").as_deref(), None, "blank input is no query");
        assert_eq!(
            fts_query("a\"b OR c").as_deref(),
            Some("\"ab\"* \"OR\"* \"c\"*"),
            "FTS operators are taken literally"
        );
        assert_eq!(fts_query("-- ;").as_deref(), None, "punctuation alone is no query");
    }
}
