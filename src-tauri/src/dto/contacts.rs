//! Contacts as the UI edits and shows them.

use liaison_core::contacts::{Contact as CoreContact, ContactInput as CoreInput, ContactSummary as CoreSummary, Page};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContactInput {
    pub display_name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub wiki_user: Option<String>,
    pub irc_nick: Option<String>,
    pub language: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    // Visible only to staff, administrators and people granted access.
    #[serde(default)]
    pub restricted: bool,
}

impl From<ContactInput> for CoreInput {
    fn from(i: ContactInput) -> Self {
        CoreInput {
            display_name: i.display_name,
            emails: i.emails,
            phones: i.phones,
            wiki_user: i.wiki_user,
            irc_nick: i.irc_nick,
            language: i.language,
            organization: i.organization,
            tags: i.tags,
            notes: i.notes,
            restricted: i.restricted,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactEmail {
    pub id: String,
    pub address: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactPhone {
    pub id: String,
    pub number: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactIdentifier {
    pub id: String,
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub display_name: String,
    pub emails: Vec<ContactEmail>,
    pub phones: Vec<ContactPhone>,
    pub identifiers: Vec<ContactIdentifier>,
    pub language: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub restricted: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CoreContact> for Contact {
    fn from(c: CoreContact) -> Self {
        Contact {
            id: c.id.to_string(),
            display_name: c.display_name,
            emails: c
                .emails
                .into_iter()
                .map(|e| ContactEmail { id: e.id.to_string(), address: e.address, label: e.label })
                .collect(),
            phones: c
                .phones
                .into_iter()
                .map(|p| ContactPhone { id: p.id.to_string(), number: p.number, label: p.label })
                .collect(),
            identifiers: c
                .identifiers
                .into_iter()
                .map(|i| ContactIdentifier { id: i.id.to_string(), kind: i.kind, value: i.value })
                .collect(),
            language: c.language,
            organization: c.organization,
            tags: c.tags,
            notes: c.notes,
            restricted: c.restricted,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContactSummary {
    pub id: String,
    pub display_name: String,
    pub primary_email: Option<String>,
    pub organization: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub restricted: bool,
    pub updated_at: String,
}

impl From<CoreSummary> for ContactSummary {
    fn from(s: CoreSummary) -> Self {
        ContactSummary {
            id: s.id.to_string(),
            display_name: s.display_name,
            primary_email: s.primary_email,
            organization: s.organization,
            language: s.language,
            tags: s.tags,
            restricted: s.restricted,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ContactPage {
    pub items: Vec<ContactSummary>,
    #[ts(type = "number")]
    pub total: u64,
    #[ts(type = "number")]
    pub offset: u64,
}

impl From<Page<CoreSummary>> for ContactPage {
    fn from(p: Page<CoreSummary>) -> Self {
        ContactPage { items: p.items.into_iter().map(Into::into).collect(), total: p.total, offset: p.offset }
    }
}
