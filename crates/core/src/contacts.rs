//! Contacts: people and organisations that write to the response team.
//!
//! A contact's scalar fields live in one row; its emails, phones and identifiers (wiki username,
//! IRC nick, others) are child rows with their own ids, so two devices that each add an email
//! both keep theirs after sync. All writes go through [`crate::store::write`].

use crate::error::{Error, ErrorCode, Result};
use crate::store::contacts::{fts_query, reindex};
use crate::store::sync_tables::{blob, uuid_from};
use crate::store::{Store, write};
use liaison_protocol::schema::EntityKind;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// What a person enters for a new contact (or a full replacement of one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInput {
    pub display_name: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub wiki_user: Option<String>,
    #[serde(default)]
    pub irc_nick: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Visible only to staff, administrators and people granted access (staff and admins only).
    #[serde(default)]
    pub restricted: bool,
}

/// A partial edit: `None` leaves a value as it is; `Some(None)` clears an optional value;
/// a given list replaces the whole list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPatch {
    pub display_name: Option<String>,
    pub emails: Option<Vec<String>>,
    pub phones: Option<Vec<String>>,
    pub wiki_user: Option<Option<String>>,
    pub irc_nick: Option<Option<String>>,
    pub language: Option<Option<String>>,
    pub organization: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<Option<String>>,
    pub restricted: Option<bool>,
}

impl From<ContactInput> for ContactPatch {
    fn from(i: ContactInput) -> Self {
        ContactPatch {
            display_name: Some(i.display_name),
            emails: Some(i.emails),
            phones: Some(i.phones),
            wiki_user: Some(i.wiki_user),
            irc_nick: Some(i.irc_nick),
            language: Some(i.language),
            organization: Some(i.organization),
            tags: Some(i.tags),
            notes: Some(i.notes),
            // Only an actual restriction is written: "not restricted" is the default, and writing
            // it would be a change of the restriction, which only staff may make.
            restricted: i.restricted.then_some(true),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub id: Uuid,
    pub address: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    pub id: Uuid,
    pub number: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    pub id: Uuid,
    /// `wiki` (a wiki username), `irc` (an IRC nick) or `other`.
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: Uuid,
    pub display_name: String,
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub identifiers: Vec<Identifier>,
    pub language: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub restricted: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Contact {
    pub fn identifier(&self, kind: &str) -> Option<&str> {
        self.identifiers.iter().find(|i| i.kind == kind).map(|i| i.value.as_str())
    }
}

/// One line of a contact list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactSummary {
    pub id: Uuid,
    pub display_name: String,
    pub primary_email: Option<String>,
    pub organization: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub restricted: bool,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items match in all (not only on this page).
    pub total: u64,
    pub offset: u64,
}

/// Largest page a caller may ask for.
pub const MAX_PAGE: u32 = 1_000;

// ---------------------------------------------------------------------------------------------
// Validation: every message names the value and says what is expected.

fn clean(s: &str) -> String {
    s.trim().to_string()
}

fn clean_opt(s: Option<String>) -> Option<String> {
    s.map(|v| clean(&v)).filter(|v| !v.is_empty())
}

/// A pragmatic email check: one `@`, a non-empty local part, a domain with a dot, no spaces.
pub fn validate_email(address: &str) -> Result<()> {
    let bad = || {
        Error::invalid(format!("{address:?} is not a valid email address (expected something like name@example.org)"))
    };
    if address.len() > 320 || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    if domain.chars().any(|c| !(c.is_alphanumeric() || c == '.' || c == '-')) {
        return Err(bad());
    }
    Ok(())
}

pub fn validate_phone(number: &str) -> Result<()> {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let allowed = |c: char| c.is_ascii_digit() || " +-().x/".contains(c);
    if digits < 3 || number.len() > 50 || !number.chars().all(allowed) || number[1..].contains('+') {
        return Err(Error::invalid(format!(
            "{number:?} is not a phone number (digits, spaces, + - ( ) . / only; at least 3 digits)"
        )));
    }
    Ok(())
}

/// A BCP 47-shaped language tag: `en`, `pt-BR`, `zh-Hant`, `sr-Latn-RS`.
pub fn validate_language(tag: &str) -> Result<()> {
    let mut parts = tag.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if primary_ok && rest_ok && tag.len() <= 35 {
        Ok(())
    } else {
        Err(Error::invalid(format!("{tag:?} is not a language code (expected e.g. en, de, pt-BR, zh-Hant)")))
    }
}

fn validate_wiki_user(name: &str) -> Result<()> {
    if name.chars().count() > 255 || name.chars().any(|c| "#<>[]|{}/".contains(c) || c.is_control()) {
        return Err(Error::invalid(format!("{name:?} is not a valid wiki username (no # < > [ ] | {{ }} /)")));
    }
    Ok(())
}

fn validate_irc_nick(nick: &str) -> Result<()> {
    if nick.chars().count() > 64
        || nick.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '!' || c == '@')
    {
        return Err(Error::invalid(format!("{nick:?} is not a valid IRC nick (no spaces, commas, ! or @)")));
    }
    Ok(())
}

fn dedupe(values: Vec<String>, case_insensitive: bool) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    values
        .into_iter()
        .map(|v| clean(&v))
        .filter(|v| !v.is_empty())
        .filter(|v| seen.insert(if case_insensitive { v.to_lowercase() } else { v.clone() }))
        .collect()
}

/// Normalise and validate a patch in place: trims, drops blanks and duplicates, checks formats.
fn normalise(mut p: ContactPatch) -> Result<ContactPatch> {
    if let Some(name) = &p.display_name {
        let name = clean(name);
        if name.is_empty() {
            return Err(Error::invalid("A contact needs a name."));
        }
        if name.chars().count() > 300 {
            return Err(Error::invalid("The name is longer than 300 characters."));
        }
        p.display_name = Some(name);
    }
    if let Some(emails) = p.emails.take() {
        let emails = dedupe(emails, true);
        emails.iter().try_for_each(|e| validate_email(e))?;
        p.emails = Some(emails);
    }
    if let Some(phones) = p.phones.take() {
        let phones = dedupe(phones, false);
        phones.iter().try_for_each(|n| validate_phone(n))?;
        p.phones = Some(phones);
    }
    if let Some(tags) = p.tags.take() {
        let tags = dedupe(tags, true);
        if tags.len() > 100 || tags.iter().any(|t| t.chars().count() > 100) {
            return Err(Error::invalid("At most 100 tags of at most 100 characters each."));
        }
        p.tags = Some(tags);
    }
    for slot in [&mut p.wiki_user, &mut p.irc_nick, &mut p.language, &mut p.organization, &mut p.notes] {
        if let Some(v) = slot.take() {
            *slot = Some(clean_opt(v));
        }
    }
    if let Some(Some(l)) = &p.language {
        validate_language(l)?;
    }
    if let Some(Some(u)) = &p.wiki_user {
        validate_wiki_user(u)?;
    }
    if let Some(Some(n)) = &p.irc_nick {
        validate_irc_nick(n)?;
    }
    if let Some(Some(o)) = &p.organization
        && o.chars().count() > 300
    {
        return Err(Error::invalid("The organisation is longer than 300 characters."));
    }
    if let Some(Some(n)) = &p.notes
        && n.chars().count() > 20_000
    {
        return Err(Error::invalid("Notes are longer than 20,000 characters."));
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// Writes

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// Replace a contact's child rows of one kind with `wanted`, keeping rows whose value is still
/// wanted (so their ids, and other devices' edits to them, survive).
fn replace_children(
    conn: &Connection,
    contact: Uuid,
    entity: EntityKind,
    value_field: &str,
    kind: Option<&str>,
    wanted: &[String],
) -> Result<()> {
    let def = entity.def();
    let filter = if kind.is_some() { " AND kind = ?2" } else { "" };
    let sql = format!("SELECT id, {value_field} FROM {} WHERE contact_id = ?1{filter} ORDER BY rowid", def.name);
    let mut stmt = conn.prepare_cached(&sql)?;
    let map = |r: &rusqlite::Row<'_>| Ok((uuid_from(r.get(0)?)?, r.get::<_, String>(1)?));
    let existing: Vec<(Uuid, String)> = match kind {
        Some(k) => stmt.query_map(params![blob(contact), k], map)?.collect::<rusqlite::Result<_>>()?,
        None => stmt.query_map(params![blob(contact)], map)?.collect::<rusqlite::Result<_>>()?,
    };
    let same = |a: &str, b: &str| if entity == EntityKind::ContactEmail { a.eq_ignore_ascii_case(b) } else { a == b };
    let mut kept = vec![false; wanted.len()];
    for (id, value) in &existing {
        match wanted.iter().position(|w| same(w, value)) {
            Some(i) if !kept[i] => {
                kept[i] = true;
                if wanted[i] != *value {
                    write::local_upsert(conn, entity, *id, &[(value_field, json!(wanted[i]))])?;
                }
            }
            _ => {
                write::local_delete(conn, entity, *id)?;
            }
        }
    }
    for w in wanted.iter().zip(&kept).filter(|(_, k)| !**k).map(|(w, _)| w) {
        let mut fields = vec![("contact_id", json!(contact.to_string())), (value_field, json!(w))];
        if let Some(k) = kind {
            fields.push(("kind", json!(k)));
        }
        write::local_upsert(conn, entity, Uuid::now_v7(), &fields)?;
    }
    Ok(())
}

fn apply_patch(conn: &Connection, id: Uuid, p: &ContactPatch, creating: bool) -> Result<()> {
    let mut fields: Vec<(&str, Value)> = Vec::new();
    if let Some(n) = &p.display_name {
        fields.push(("display_name", json!(n)));
    }
    if let Some(v) = &p.language {
        fields.push(("language", opt(v)));
    }
    if let Some(v) = &p.organization {
        fields.push(("organization", opt(v)));
    }
    if let Some(v) = &p.tags {
        fields.push(("tags", json!(v)));
    }
    if let Some(v) = &p.notes {
        fields.push(("notes", opt(v)));
    }
    if let Some(v) = p.restricted {
        fields.push(("restricted", json!(v)));
    }
    if creating {
        fields.push(("created_at", json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))));
    }
    write::local_upsert(conn, EntityKind::Contact, id, &fields)?;
    if let Some(emails) = &p.emails {
        replace_children(conn, id, EntityKind::ContactEmail, "address", None, emails)?;
    }
    if let Some(phones) = &p.phones {
        replace_children(conn, id, EntityKind::ContactPhone, "number", None, phones)?;
    }
    for (kind, value) in [("wiki", &p.wiki_user), ("irc", &p.irc_nick)] {
        if let Some(v) = value {
            let wanted: Vec<String> = v.iter().cloned().collect();
            replace_children(conn, id, EntityKind::ContactIdentifier, "value", Some(kind), &wanted)?;
        }
    }
    reindex(conn, id, Some(&now()), crate::entities::Search::Now)?;
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Only staff and administrators may restrict or unrestrict a contact. The server enforces it;
/// checking here too tells the person at once instead of at the next sync.
fn check_may_restrict(conn: &Connection, patch: &ContactPatch) -> Result<()> {
    use liaison_protocol::wire::Role;
    if patch.restricted.is_some()
        && matches!(crate::session::signed_in_role(conn)?, Some(Role::Trainer | Role::Volunteer))
    {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "Only staff and administrators may restrict or unrestrict a contact.",
        ));
    }
    Ok(())
}

/// Create a contact in the caller's transaction (used by bulk imports and the demo generator).
pub fn create_in(conn: &Connection, input: ContactInput) -> Result<Uuid> {
    let patch = normalise(input.into())?;
    check_may_restrict(conn, &patch)?;
    let id = Uuid::now_v7();
    apply_patch(conn, id, &patch, true)?;
    Ok(id)
}

pub fn create(store: &mut Store, input: ContactInput) -> Result<Contact> {
    let id = store.transaction(|tx| create_in(tx, input))?;
    get(store, id)
}

pub fn update(store: &mut Store, id: Uuid, patch: ContactPatch) -> Result<Contact> {
    let patch = normalise(patch)?;
    store.transaction(|tx| {
        if !exists(tx, id)? {
            return Err(Error::not_found(format!("Contact {id}")));
        }
        let mut patch = patch;
        if patch.restricted.is_some() && patch.restricted == Some(is_restricted(tx, id)?) {
            patch.restricted = None; // unchanged: not a change of the restriction
        }
        check_may_restrict(tx, &patch)?;
        apply_patch(tx, id, &patch, false)
    })?;
    get(store, id)
}

/// Delete a contact and its child rows (each a synced delete).
pub fn delete(store: &mut Store, id: Uuid) -> Result<()> {
    store.transaction(|tx| {
        if !exists(tx, id)? {
            return Err(Error::not_found(format!("Contact {id}")));
        }
        for entity in [EntityKind::ContactEmail, EntityKind::ContactPhone, EntityKind::ContactIdentifier] {
            let ids: Vec<Uuid> = tx
                .prepare(&format!("SELECT id FROM {} WHERE contact_id = ?1", entity.as_str()))?
                .query_map([blob(id)], |r| uuid_from(r.get(0)?))?
                .collect::<rusqlite::Result<_>>()?;
            for child in ids {
                write::local_delete(tx, entity, child)?;
            }
        }
        write::local_delete(tx, EntityKind::Contact, id)?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Reads

fn is_restricted(conn: &Connection, id: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT restricted FROM contact WHERE id = ?1")?
        .query_row([blob(id)], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0)
        != 0)
}

fn exists(conn: &Connection, id: Uuid) -> Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM contact WHERE id = ?1")?.exists([blob(id)])?)
}

fn tags_of(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

pub fn get(store: &Store, id: Uuid) -> Result<Contact> {
    let conn = store.conn();
    let base = conn
        .prepare_cached("SELECT display_name, language, organization, tags, notes, created_at, updated_at, restricted FROM contact WHERE id = ?1")?
        .query_row([blob(id)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)? != 0,
            ))
        })
        .optional()?
        .ok_or_else(|| Error::not_found(format!("Contact {id}")))?;
    let emails = conn
        .prepare_cached("SELECT id, address, label FROM contact_email WHERE contact_id = ?1 ORDER BY rowid")?
        .query_map([blob(id)], |r| Ok(Email { id: uuid_from(r.get(0)?)?, address: r.get(1)?, label: r.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let phones = conn
        .prepare_cached("SELECT id, number, label FROM contact_phone WHERE contact_id = ?1 ORDER BY rowid")?
        .query_map([blob(id)], |r| Ok(Phone { id: uuid_from(r.get(0)?)?, number: r.get(1)?, label: r.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let identifiers = conn
        .prepare_cached("SELECT id, kind, value FROM contact_identifier WHERE contact_id = ?1 ORDER BY kind, rowid")?
        .query_map([blob(id)], |r| Ok(Identifier { id: uuid_from(r.get(0)?)?, kind: r.get(1)?, value: r.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let (display_name, language, organization, tags, notes, created_at, updated_at, restricted) = base;
    Ok(Contact {
        id,
        display_name,
        emails,
        phones,
        identifiers,
        language,
        organization,
        tags: tags_of(tags),
        notes,
        restricted,
        created_at: created_at.unwrap_or_else(|| updated_at.clone()),
        updated_at,
    })
}

const SUMMARY_COLUMNS: &str = "c.id, c.display_name, \
     (SELECT address FROM contact_email e WHERE e.contact_id = c.id ORDER BY e.rowid LIMIT 1), \
     c.organization, c.language, c.tags, c.updated_at, c.restricted";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContactSummary> {
    Ok(ContactSummary {
        id: uuid_from(r.get(0)?)?,
        display_name: r.get(1)?,
        primary_email: r.get(2)?,
        organization: r.get(3)?,
        language: r.get(4)?,
        tags: tags_of(r.get(5)?),
        updated_at: r.get(6)?,
        restricted: r.get::<_, i64>(7)? != 0,
    })
}

fn check_page(limit: u32) -> Result<i64> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::new(ErrorCode::InvalidInput, format!("A page holds 1 to {MAX_PAGE} contacts.")));
    }
    Ok(i64::from(limit))
}

/// Contacts sorted by name, one page.
pub fn list(store: &Store, offset: u64, limit: u32) -> Result<Page<ContactSummary>> {
    let limit = check_page(limit)?;
    let conn = store.conn();
    let total: i64 = conn.query_row("SELECT count(*) FROM contact", [], |r| r.get(0))?;
    let items = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM contact c ORDER BY c.sort_key, c.id LIMIT ?1 OFFSET ?2"
        ))?
        .query_map(params![limit, offset as i64], summary)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page { items, total: total as u64, offset })
}

/// Full-text search with prefix type-ahead, best matches first (name matches weigh most).
/// Blank input lists everything.
pub fn search(store: &Store, query: &str, offset: u64, limit: u32) -> Result<Page<ContactSummary>> {
    let Some(fts) = fts_query(query) else { return list(store, offset, limit) };
    let limit = check_page(limit)?;
    let conn = store.conn();
    let total: i64 = conn
        .prepare_cached("SELECT count(*) FROM contact_fts WHERE contact_fts MATCH ?1")?
        .query_row([&fts], |r| r.get(0))?;
    // The page is chosen first, from the rank and the name alone; the summary columns (the
    // primary email is a subquery) are then computed for the page's rows only, not for every
    // match (a two-letter prefix matches a third of a large list).
    let items = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM \
               (SELECT f.rowid AS rid, bm25(contact_fts, 10.0, 4.0, 3.0, 4.0, 2.0, 1.0) AS score, m.sort_key AS name_key \
                FROM contact_fts f JOIN contact m ON m.rid = f.rowid \
                WHERE contact_fts MATCH ?1 ORDER BY score, name_key LIMIT ?2 OFFSET ?3) page \
             JOIN contact c ON c.rid = page.rid ORDER BY page.score, page.name_key"
        ))?
        .query_map(params![fts, limit, offset as i64], summary)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page { items, total: total as u64, offset })
}

pub fn count(store: &Store) -> Result<u64> {
    Ok(store.conn().query_row("SELECT count(*) FROM contact", [], |r| r.get::<_, i64>(0))? as u64)
}
