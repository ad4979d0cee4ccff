//! Canned replies: texts a team member inserts into a reply, in several languages, with
//! variables (`{{reader_name|reader}}`). One for every queue has no queue; one of a queue reaches
//! only that queue's members' devices. Staff and administrators write them; everyone with the
//! reply on their device uses it. Rendering is `liaison_protocol::canned`, the same code the
//! server's outgoing mail uses.

use crate::error::{Error, Result};
use crate::queues::require_staff;
use crate::store::sync_tables::{blob, uuid_from};
use crate::store::{Store, write};
use liaison_protocol::canned::{self as template, Vars};
use liaison_protocol::schema::EntityKind;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedReply {
    pub id: Uuid,
    pub name: String,
    /// `None`: for every queue.
    pub queue_id: Option<Uuid>,
    /// Typed after `::` in the composer to insert it.
    pub shortcut: Option<String>,
    /// Its text per language tag.
    pub versions: BTreeMap<String, String>,
    pub archived: bool,
}

/// What staff set on a canned reply; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CannedPatch {
    pub name: Option<String>,
    pub queue_id: Option<Option<Uuid>>,
    pub shortcut: Option<Option<String>>,
    /// Replaces every version.
    pub versions: Option<BTreeMap<String, String>>,
    pub archived: Option<bool>,
}

/// A canned reply filled in for a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    /// The language version used (the case's, the queue's, or English).
    pub language: String,
    pub text: String,
}

fn patch_fields(p: &CannedPatch) -> Result<Vec<(&'static str, Value)>> {
    let mut fields = Vec::new();
    if let Some(name) = &p.name {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("A canned reply needs a name, e.g. \"Thank you for the correction\"."));
        }
        fields.push(("name", json!(name)));
    }
    if let Some(queue) = &p.queue_id {
        fields.push(("queue_id", queue.map_or(Value::Null, |q| json!(q.to_string()))));
    }
    if let Some(shortcut) = &p.shortcut {
        let shortcut = shortcut.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if shortcut.is_some_and(|s| s.contains(char::is_whitespace)) {
            return Err(Error::invalid("A shortcut is one word (typed after :: in a reply), e.g. thanks."));
        }
        fields.push(("shortcut", shortcut.map_or(Value::Null, |s| json!(s))));
    }
    if let Some(versions) = &p.versions {
        let trimmed: BTreeMap<String, String> =
            versions.iter().map(|(lang, text)| (lang.trim().to_owned(), text.trim_end().to_owned())).collect();
        fields.push(("versions", json!(trimmed)));
    }
    if let Some(archived) = p.archived {
        fields.push(("archived", json!(archived)));
    }
    let def = EntityKind::CannedReply.def();
    for (name, value) in &fields {
        def.validate(name, value).map_err(Error::invalid)?;
    }
    Ok(fields)
}

/// Create a canned reply (staff and administrators). Names are unique within a queue (and
/// among those for every queue).
pub fn create(store: &mut Store, patch: CannedPatch) -> Result<CannedReply> {
    if patch.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(Error::invalid("A canned reply needs a name, e.g. \"Thank you for the correction\"."));
    }
    if patch.versions.as_ref().is_none_or(BTreeMap::is_empty) {
        return Err(Error::invalid("A canned reply needs its text in at least one language (English first)."));
    }
    let fields = patch_fields(&patch)?;
    let id = Uuid::now_v7();
    let queue = patch.queue_id.flatten();
    store.transaction(|tx| {
        require_staff(tx, "write canned replies")?;
        if let Some(q) = queue
            && write::read_fields(tx, EntityKind::Queue, q)?.is_none()
        {
            return Err(Error::not_found(format!("Queue {q}")));
        }
        let name = patch.name.as_deref().unwrap_or_default().trim();
        if named_in(tx, name, queue)?.is_some() {
            return Err(Error::invalid(format!("A canned reply named {name:?} exists already there.")));
        }
        write::local_upsert(tx, EntityKind::CannedReply, id, &fields)?;
        Ok(())
    })?;
    get(store, id)
}

/// Change a canned reply (staff and administrators).
pub fn update(store: &mut Store, id: Uuid, patch: CannedPatch) -> Result<CannedReply> {
    let fields = patch_fields(&patch)?;
    store.transaction(|tx| {
        require_staff(tx, "change canned replies")?;
        if write::read_fields(tx, EntityKind::CannedReply, id)?.is_none() {
            return Err(Error::not_found(format!("Canned reply {id}")));
        }
        write::local_upsert(tx, EntityKind::CannedReply, id, &fields)?;
        Ok(())
    })?;
    get(store, id)
}

/// Delete a canned reply (staff and administrators).
pub fn delete(store: &mut Store, id: Uuid) -> Result<()> {
    store.transaction(|tx| {
        require_staff(tx, "delete canned replies")?;
        if !write::local_delete(tx, EntityKind::CannedReply, id)? {
            return Err(Error::not_found(format!("Canned reply {id}")));
        }
        Ok(())
    })
}

fn named_in(conn: &Connection, name: &str, queue: Option<Uuid>) -> Result<Option<Uuid>> {
    let found: Option<Vec<u8>> = conn
        .prepare_cached("SELECT id FROM canned_reply WHERE lower(name) = lower(?1) AND queue_id IS ?2 LIMIT 1")?
        .query_row(rusqlite::params![name.trim(), queue.map(|q| blob(q).to_vec())], |r| r.get(0))
        .optional()?;
    Ok(found.and_then(|b| Uuid::from_slice(&b).ok()))
}

pub fn get(store: &Store, id: Uuid) -> Result<CannedReply> {
    let f = write::read_fields(store.conn(), EntityKind::CannedReply, id)?
        .ok_or_else(|| Error::not_found(format!("Canned reply {id}")))?;
    let text = |name: &str| f.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(CannedReply {
        id,
        name: text("name").unwrap_or_default(),
        queue_id: text("queue_id").and_then(|q| Uuid::parse_str(&q).ok()),
        shortcut: text("shortcut"),
        versions: f.get("versions").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
        archived: f.get("archived").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The canned replies usable in `queue` (those for every queue and the queue's own), or every
/// one on this device; archived ones left out unless asked for. By name.
pub fn list(store: &Store, queue: Option<Uuid>, archived: bool) -> Result<Vec<CannedReply>> {
    let ids: Vec<Uuid> = store
        .conn()
        .prepare_cached(
            "SELECT id FROM canned_reply WHERE (?1 IS NULL OR queue_id IS NULL OR queue_id = ?1) AND (?2 OR archived = 0)
             ORDER BY lower(name), id",
        )?
        .query_map(rusqlite::params![queue.map(|q| blob(q).to_vec()), archived], |r| uuid_from(r.get(0)?))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter().map(|id| get(store, id)).collect()
}

/// The canned reply a person named: its id, its shortcut or its name (case-insensitive).
pub fn find(store: &Store, named: &str) -> Result<Uuid> {
    let named = named.trim().trim_start_matches("::");
    if let Ok(id) = Uuid::parse_str(named) {
        return get(store, id).map(|c| c.id);
    }
    let found: Option<Vec<u8>> = store
        .conn()
        .prepare_cached(
            "SELECT id FROM canned_reply WHERE lower(shortcut) = lower(?1) OR lower(name) = lower(?1)
             ORDER BY lower(shortcut) = lower(?1) DESC, archived LIMIT 1",
        )?
        .query_row([named], |r| r.get(0))
        .optional()?;
    found.and_then(|b| Uuid::from_slice(&b).ok()).ok_or_else(|| {
        Error::not_found(format!(
            "There is no canned reply named {named:?} on this device; `liaison canned list` shows those it holds"
        ))
    })
}

/// The canned reply filled in for a case: the case's language version (else the queue's, else
/// English), with the reader's name, the case's first article, the queue's signature and
/// `agent` (the person replying) as variables.
pub fn render_for_case(store: &Store, canned: Uuid, case: Uuid, agent: Option<&str>) -> Result<Rendered> {
    let reply = get(store, canned)?;
    let case = crate::cases::get(store, case)?;
    let queue = crate::queues::get(store, case.queue_id).ok();
    let Some((language, text)) =
        template::pick(&reply.versions, case.language.as_deref(), queue.as_ref().and_then(|q| q.language.as_deref()))
    else {
        let have: Vec<&str> = reply.versions.keys().map(String::as_str).collect();
        return Err(Error::invalid(format!(
            "{:?} has no version in the case's language, the queue's or English (it has {}); add one or write the reply yourself.",
            reply.name,
            have.join(", ")
        )));
    };
    let reader = case.contacts.iter().find(|c| c.role == "reader").and_then(|c| c.name.clone());
    let vars = Vars::new()
        .set("reader_name", reader.as_deref())
        .set("case_number", case.number.map(|n| n.to_string()).as_deref())
        .set("article_title", case.wiki_pages.first().map(|p| p.title.as_str()))
        .set("agent_name", agent)
        .set("queue_signature", queue.as_ref().and_then(|q| q.signature.as_deref()));
    Ok(Rendered { language: language.to_owned(), text: template::render(text, &vars) })
}
