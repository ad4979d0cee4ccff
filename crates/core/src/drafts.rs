//! Drafts: what someone is writing in a case's composer, kept as they type so that a click
//! elsewhere, a lock or a restart never loses it. A draft is this device's own (never synced)
//! and lives in the encrypted store like everything else. One draft per case; sending the reply
//! or note discards it.
//!
//! `started_at` is when the draft began: the app compares it with the thread to ask "someone
//! else replied since you started; send anyway?" before a reply goes out.

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::sync_tables::{blob, uuid_from};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest draft: a message's body limit (`case_message.body`).
pub const MAX_BODY: usize = 200_000;

/// A composer's mode: a reply to the reader, or a note for the team only.
pub const MODES: [&str; 2] = ["reply", "note"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub case_id: Uuid,
    /// `reply` (the reader will see it) or `note` (the team only).
    pub mode: String,
    pub body: String,
    /// The canned reply it started from, if any.
    pub canned_id: Option<Uuid>,
    /// When the draft began (RFC 3339, UTC).
    pub started_at: String,
    pub updated_at: String,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn draft(r: &rusqlite::Row<'_>) -> rusqlite::Result<Draft> {
    Ok(Draft {
        case_id: uuid_from(r.get(0)?)?,
        mode: r.get(1)?,
        body: r.get(2)?,
        canned_id: r.get::<_, Option<Vec<u8>>>(3)?.and_then(|b| Uuid::from_slice(&b).ok()),
        started_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

const COLUMNS: &str = "case_id, mode, body, canned_id, started_at, updated_at";

/// The draft of a case, if one is kept.
pub fn get(store: &Store, case: Uuid) -> Result<Option<Draft>> {
    Ok(store
        .conn()
        .prepare_cached(&format!("SELECT {COLUMNS} FROM draft WHERE case_id = ?1"))?
        .query_row([blob(case)], draft)
        .optional()?)
}

/// Every kept draft, most recently written first.
pub fn list(store: &Store) -> Result<Vec<Draft>> {
    Ok(store
        .conn()
        .prepare_cached(&format!("SELECT {COLUMNS} FROM draft ORDER BY updated_at DESC"))?
        .query_map([], draft)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Keep what the composer holds for a case (replacing the case's earlier draft, keeping when it
/// began). An empty body with no canned reply discards the draft.
pub fn save(store: &mut Store, case: Uuid, mode: &str, body: &str, canned: Option<Uuid>) -> Result<Option<Draft>> {
    let mode = mode.trim().to_ascii_lowercase();
    if !MODES.contains(&mode.as_str()) {
        return Err(Error::invalid(format!("{mode:?} is not a composer mode; it is reply or note.")));
    }
    if body.len() > MAX_BODY {
        return Err(Error::invalid(format!(
            "The draft is {} KB; a message holds at most {} KB. Shorten it or attach the text as a file.",
            body.len() / 1000,
            MAX_BODY / 1000
        )));
    }
    if body.trim().is_empty() && canned.is_none() {
        discard(store, case)?;
        return Ok(None);
    }
    store.transaction(|tx| {
        let exists: bool = tx
            .prepare_cached(r#"SELECT 1 FROM "case" WHERE id = ?1"#)?
            .query_row([blob(case)], |_| Ok(true))
            .optional()?
            .is_some();
        if !exists {
            return Err(Error::not_found(format!("Case {case}")));
        }
        let at = now();
        tx.prepare_cached(
            "INSERT INTO draft(case_id, mode, body, canned_id, started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT(case_id) DO UPDATE SET mode = excluded.mode, body = excluded.body,
                 canned_id = excluded.canned_id, updated_at = excluded.updated_at",
        )?
        .execute(params![blob(case), mode, body, canned.map(|c| blob(c).to_vec()), at])?;
        Ok(())
    })?;
    get(store, case)
}

/// Forget a case's draft (sent, or thrown away). No draft is no error.
pub fn discard(store: &mut Store, case: Uuid) -> Result<()> {
    store.transaction(|tx| {
        tx.prepare_cached("DELETE FROM draft WHERE case_id = ?1")?.execute([blob(case)])?;
        Ok(())
    })
}
