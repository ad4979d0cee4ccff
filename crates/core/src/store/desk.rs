//! Desk tables: `queue`, `queue_member`, `case` with its contacts (`case_contact`), messages
//! (`case_message`) and their attachments (`attachment`), the full-text index `case_fts`, and
//! the attachment content store `blob`.
//!
//! Column names equal the schema's field names (see `liaison_protocol::schema`), so the generic
//! write layer can address them. `case` is an SQL keyword: the write layer quotes every table
//! name. `case.rid` is the stable integer key of the FTS index; `case.updated_at` is derived
//! here (the newest clock of the case and its thread), never synced.
//!
//! Attachment content lives in `blob`, keyed by its SHA-256, inside the encrypted database: it is
//! never written to a plaintext file, and `secure_delete` overwrites it when it goes. `uploaded`
//! says whether the server has it: 0 not yet (written here), 1 yes (sent, or fetched from the
//! server), 2 the server refused it (no attachment row it accepted names it).

use super::Migration;
use super::search::{SearchEntries, json_words};
use super::sync_tables::blob as id_blob;
use crate::entities::Search;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

pub const MIGRATION_1: Migration = Migration {
    table: "desk",
    sql: r#"
CREATE TABLE queue (
    id BLOB PRIMARY KEY, name TEXT NOT NULL DEFAULT '', email TEXT, language TEXT, description TEXT, signature TEXT,
    calendar TEXT, sla TEXT, states TEXT NOT NULL DEFAULT '[]', archived INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE queue_member (
    id BLOB PRIMARY KEY, queue_id BLOB, user TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT 'agent', round INTEGER
);
CREATE INDEX queue_member_by_queue ON queue_member(queue_id);
CREATE TABLE "case" (
    rid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, queue_id BLOB, subject TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'inquiry', channel TEXT NOT NULL DEFAULT 'email', state TEXT NOT NULL DEFAULT 'new',
    language TEXT, category TEXT, priority TEXT, owner TEXT, tags TEXT NOT NULL DEFAULT '[]', wiki_pages TEXT,
    created_at TEXT, updated_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_by_queue ON "case"(queue_id, updated_at);
CREATE TABLE case_contact (
    id BLOB PRIMARY KEY, case_id BLOB, contact_id BLOB, role TEXT NOT NULL DEFAULT 'reader', round INTEGER
);
CREATE INDEX case_contact_by_case ON case_contact(case_id);
CREATE INDEX case_contact_by_contact ON case_contact(contact_id);
CREATE TABLE case_message (
    id BLOB PRIMARY KEY, case_id BLOB, kind TEXT NOT NULL DEFAULT 'note', channel TEXT NOT NULL DEFAULT 'email',
    author_user TEXT, author_contact_id BLOB, sent_at TEXT NOT NULL DEFAULT '', body TEXT, original TEXT
);
CREATE INDEX case_message_by_case ON case_message(case_id, sent_at);
CREATE INDEX case_message_by_author ON case_message(author_contact_id);
CREATE TABLE attachment (
    id BLOB PRIMARY KEY, message_id BLOB, name TEXT NOT NULL DEFAULT '', media_type TEXT,
    size INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attachment_by_message ON attachment(message_id);
CREATE INDEX attachment_by_hash ON attachment(sha256);
CREATE TABLE blob (
    sha256 TEXT PRIMARY KEY, content BLOB NOT NULL, stored_at TEXT NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE VIRTUAL TABLE case_fts USING fts5(
    subject, thread, tags,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER case_fts_on_delete AFTER DELETE ON "case" BEGIN
    DELETE FROM case_fts WHERE rowid = old.rid;
END;
ALTER TABLE conflict ADD COLUMN owner_entity TEXT;
ALTER TABLE conflict ADD COLUMN owner_id BLOB;
UPDATE conflict SET owner_entity = 'contact', owner_id = contact_id WHERE owner_id IS NULL;
CREATE INDEX conflict_by_owner ON conflict(owner_id);
"#,
};

/// 2: canned replies (entity `canned_reply`). Column names equal the schema's field names.
pub const MIGRATION_CANNED: Migration = Migration {
    table: "desk",
    sql: "
CREATE TABLE canned_reply (
    id BLOB PRIMARY KEY, name TEXT NOT NULL DEFAULT '', queue_id BLOB, shortcut TEXT, versions TEXT,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX canned_reply_by_queue ON canned_reply(queue_id);
",
};

/// 3: mail out (protocol 4): a case's server-assigned number, and where each mailed reply stands
/// (entity `delivery`, written by the server).
pub const MIGRATION_DELIVERY: Migration = Migration {
    table: "desk",
    sql: r#"
ALTER TABLE "case" ADD COLUMN number INTEGER;
CREATE INDEX case_by_number ON "case"(number);
CREATE TABLE delivery (
    id BLOB PRIMARY KEY, message_id BLOB NOT NULL, state TEXT, recipients TEXT NOT NULL DEFAULT '[]',
    detail TEXT, attempts INTEGER, mail_message_id TEXT, updated_at TEXT, next_attempt_at TEXT
);
CREATE INDEX delivery_by_message ON delivery(message_id);
"#,
};

/// 4: the desk's views: the server's SLA clocks on a case (`sla`, `due_at`), the derived
/// `awaiting_since` (the oldest reader message no public reply has answered: what "unanswered"
/// and the sidebar's oldest-waiting age are read from), and the composer's drafts. Drafts are
/// this device's own (never synced), inside the encrypted store like everything else.
pub const MIGRATION_VIEWS: Migration = Migration {
    table: "desk",
    sql: r#"
ALTER TABLE "case" ADD COLUMN sla TEXT;
ALTER TABLE "case" ADD COLUMN due_at TEXT;
ALTER TABLE "case" ADD COLUMN awaiting_since TEXT;
CREATE INDEX case_by_due ON "case"(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX case_by_state ON "case"(queue_id, state);
CREATE INDEX case_message_by_case_kind ON case_message(case_id, kind, sent_at);
UPDATE "case" SET awaiting_since = (
    SELECT min(m.sent_at) FROM case_message m WHERE m.case_id = "case".id AND m.kind = 'inbound'
      AND m.sent_at > coalesce((SELECT max(r.sent_at) FROM case_message r WHERE r.case_id = "case".id AND r.kind = 'reply'), '')
);
CREATE TABLE draft (
    case_id BLOB PRIMARY KEY, mode TEXT NOT NULL DEFAULT 'reply', body TEXT NOT NULL DEFAULT '',
    canned_id BLOB, started_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TRIGGER draft_on_case_delete AFTER DELETE ON "case" BEGIN
    DELETE FROM draft WHERE case_id = old.id;
END;
"#,
};

/// 5: the queue sidebar's counts from one scan of an index that holds only the open cases and
/// every column the counts read (no table row is read, no closed case is visited).
pub const MIGRATION_SIDEBAR: Migration = Migration {
    table: "desk",
    sql: r#"
CREATE INDEX case_sidebar ON "case"(queue_id, owner, due_at, awaiting_since) WHERE state NOT IN ('resolved', 'closed');
"#,
};

/// 6: merged and linked cases (protocol 5): a case's `merged_into` (the survivor's thread shows
/// the messages of the cases merged into it, found through this index), and `case_link`, one
/// row per direction of a link between two cases.
pub const MIGRATION_LINKS: Migration = Migration {
    table: "desk",
    sql: r#"
ALTER TABLE "case" ADD COLUMN merged_into BLOB;
CREATE INDEX case_by_merged ON "case"(merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE case_link (id BLOB PRIMARY KEY, case_id BLOB, other_id BLOB, round INTEGER);
CREATE INDEX case_link_by_case ON case_link(case_id);
CREATE INDEX case_link_by_other ON case_link(other_id);
"#,
};

/// The derived `awaiting_since` of one case (see [`MIGRATION_VIEWS`]).
const AWAITING: &str = r#"UPDATE "case" SET awaiting_since = (
    SELECT min(m.sent_at) FROM case_message m WHERE m.case_id = "case".id AND m.kind = 'inbound'
      AND m.sent_at > coalesce((SELECT max(r.sent_at) FROM case_message r WHERE r.case_id = "case".id AND r.kind = 'reply'), '')
) WHERE rid = ?1"#;

/// A case's full-text entry: subject, the text of its thread, tags. Both the row-by-row
/// [`reindex_case`] and the bulk [`rebuild_search`] insert what this selects.
static SEARCH: std::sync::LazyLock<SearchEntries> = std::sync::LazyLock::new(|| {
    SearchEntries::new(
        "case_fts",
        format!(
            r#"INSERT INTO case_fts(rowid, subject, thread, tags)
           SELECT rid, subject,
                  coalesce((SELECT group_concat(coalesce(body, ''), ' ') FROM case_message WHERE case_id = c.id), ''),
                  {}
           FROM "case" c"#,
            json_words("c.tags"),
        ),
    )
});

/// Rebuild a case's derived `updated_at` and (with [`Search::Now`]) its full-text entry after it
/// or a row of its thread changed. `touched_at` (RFC 3339) becomes `updated_at` when given and
/// newer. A missing case is a no-op.
pub fn reindex_case(conn: &Connection, case: Uuid, touched_at: Option<&str>, search: Search) -> Result<()> {
    let row = conn
        .prepare_cached(r#"SELECT rid, updated_at FROM "case" WHERE id = ?1"#)?
        .query_row([id_blob(case)], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    let Some((rid, updated_at)) = row else { return Ok(()) };
    if search == Search::Now {
        SEARCH.write(conn, rid)?;
    }
    conn.prepare_cached(AWAITING)?.execute([rid])?;
    if let Some(at) = touched_at.filter(|at| *at > updated_at.as_str()) {
        conn.prepare_cached(r#"UPDATE "case" SET updated_at = ?2 WHERE rid = ?1"#)?.execute(params![rid, at])?;
    }
    Ok(())
}

/// Rebuild every case's full-text entry in one statement (after a bulk load that deferred them).
pub fn rebuild_search(conn: &Connection) -> Result<()> {
    SEARCH.rebuild(conn)
}

/// Store attachment content written on this device by its digest (once, however many
/// attachments share it).
pub fn put_blob(conn: &Connection, sha256: &str, content: &[u8]) -> Result<()> {
    store_blob(conn, sha256, content, Upload::Pending)
}

/// Whether the server holds a blob (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    Pending = 0,
    Done = 1,
    Refused = 2,
}

/// Store content by its digest with what the server knows of it.
pub fn store_blob(conn: &Connection, sha256: &str, content: &[u8], upload: Upload) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO blob(sha256, content, stored_at, uploaded) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            sha256,
            content,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            upload as i64
        ])?;
    Ok(())
}

/// The digests of content the server does not have yet, oldest first.
pub fn pending_uploads(conn: &Connection) -> Result<Vec<String>> {
    let rows = conn
        .prepare_cached("SELECT sha256 FROM blob WHERE uploaded = 0 ORDER BY stored_at, sha256")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

pub fn mark_upload(conn: &Connection, sha256: &str, upload: Upload) -> Result<()> {
    conn.prepare_cached("UPDATE blob SET uploaded = ?2 WHERE sha256 = ?1")?.execute(params![sha256, upload as i64])?;
    Ok(())
}

/// Attachment content by its digest, when this device holds it.
pub fn get_blob(conn: &Connection, sha256: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT content FROM blob WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?)
}

/// Delete the content no attachment on this device refers to any more (its rows were removed:
/// revoked, erased, deleted). Returns how many contents went.
pub fn drop_unreferenced_blobs(conn: &Connection) -> Result<u64> {
    Ok(conn.prepare_cached("DELETE FROM blob WHERE sha256 NOT IN (SELECT sha256 FROM attachment)")?.execute([])? as u64)
}
