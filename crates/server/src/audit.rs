//! The server's audit log: who did what to which object, when (UTC) — never case content —
//! for every authentication failure, change of role, grant, device revocation and wipe, and
//! erasure (and, as issue 11 continues, sensitivity, assignment, holds, redaction and approval).
//!
//! **Tamper-evident**: each entry's `hash` is the SHA-256 of the entry before it's hash and its
//! own fields ([`chain_hash`]), so changing, removing or reordering any stored entry breaks the
//! chain from there on, and [`verify`] says at which entry. What a chain cannot show by itself
//! is the newest entries cut off: `liaison-server audit verify` prints the head (its sequence
//! number and hash), for an administrator to keep elsewhere and compare.

use crate::storage::{Storage, StorageError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What to record (the storage adds the sequence number, the time and the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAudit {
    /// Who: a user name, `admin` for the server's command line, or what a failed login gave.
    pub actor: String,
    /// What, in `snake_case`: `login_failed`, `role_set`, `grant`, `revoke`, `device_revoked`,
    /// `device_wiped`, `contact_erased` …
    pub action: String,
    /// Which object: `user:ana`, `device:<id>`, `contact:<id>`, `scope:queue:<id>` …
    pub object: String,
    /// A few words more (a role's name, a scope), never case or contact content.
    pub detail: String,
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339, UTC, milliseconds: stored as text so that it hashes the same on every backend.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
    pub hash: String,
}

impl AuditEntry {
    /// The stored form of `entry`, number `seq`, written `at`, after the entry whose hash is `prev`.
    pub fn chained(prev: &str, seq: u64, at: String, entry: &NewAudit) -> AuditEntry {
        let hash = chain_hash(prev, seq, &at, entry);
        AuditEntry {
            seq,
            at,
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            object: entry.object.clone(),
            detail: entry.detail.clone(),
            hash,
        }
    }
}

/// The time as entries store it.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The hash of an entry: SHA-256 over the previous entry's hash and this entry's fields, as one
/// JSON array (unambiguous whatever the fields hold).
pub fn chain_hash(prev: &str, seq: u64, at: &str, entry: &NewAudit) -> String {
    let text = serde_json::json!([prev, seq, at, entry.actor, entry.action, entry.object, entry.detail]).to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where a chain stands when it is whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub entries: u64,
    /// The newest entry's sequence number and hash (`None` for an empty log).
    pub head: Option<(u64, String)>,
}

/// The first place a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub seq: u64,
    pub why: String,
}

/// Check a chain, oldest first (see the module's documentation).
pub fn verify(entries: impl IntoIterator<Item = AuditEntry>) -> Result<Verified, Broken> {
    let mut prev = GENESIS.to_owned();
    let mut expected = 1u64;
    let mut head = None;
    for e in entries {
        if e.seq != expected {
            let why = if e.seq > expected {
                format!("entry {expected} is missing (the next stored entry is {})", e.seq)
            } else {
                format!("entry {} appears again after entry {}", e.seq, expected - 1)
            };
            return Err(Broken { seq: expected, why });
        }
        let fields = NewAudit {
            actor: e.actor.clone(),
            action: e.action.clone(),
            object: e.object.clone(),
            detail: e.detail.clone(),
        };
        if chain_hash(&prev, e.seq, &e.at, &fields) != e.hash {
            return Err(Broken {
                seq: e.seq,
                why: format!(
                    "entry {} was changed, or moved: its hash does not match its content and the entry before it",
                    e.seq
                ),
            });
        }
        prev = e.hash.clone();
        head = Some((e.seq, e.hash));
        expected += 1;
    }
    Ok(Verified { entries: expected - 1, head })
}

/// Every entry, oldest first, read a page at a time.
pub async fn all(storage: &dyn Storage) -> Result<Vec<AuditEntry>, StorageError> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |e: &AuditEntry| e.seq);
        let page = storage.audit_entries(after, 1_000).await?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page);
    }
}

/// Record an entry; a failure to record is logged, never the caller's failure (the action it
/// describes already happened).
pub async fn record(storage: &dyn Storage, actor: &str, action: &str, object: &str, detail: &str) {
    let entry = NewAudit {
        actor: actor.to_owned(),
        action: action.to_owned(),
        object: object.to_owned(),
        detail: detail.to_owned(),
    };
    if let Err(e) = storage.append_audit(&entry, Utc::now()).await {
        tracing::error!(action, object, "could not write the audit log: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let fields = NewAudit {
                    actor: format!("user{seq}"),
                    action: "grant".into(),
                    object: format!("user:u{seq}"),
                    detail: "queue".into(),
                };
                let e = AuditEntry::chained(&prev, seq, format!("2026-12-03T10:00:0{seq}.000Z"), &fields);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn a_whole_chain_verifies_and_names_its_head() {
        let entries = chain(4);
        let head = (4, entries[3].hash.clone());
        assert_eq!(verify(entries), Ok(Verified { entries: 4, head: Some(head) }));
        assert_eq!(verify(Vec::new()), Ok(Verified { entries: 0, head: None }));
    }

    #[test]
    fn a_changed_a_removed_and_a_swapped_entry_are_each_found_at_their_place() {
        let mut changed = chain(5);
        changed[2].detail = "admin".into();
        assert_eq!(verify(changed).map_err(|b| b.seq), Err(3), "a changed field");

        let mut removed = chain(5);
        removed.remove(1);
        let broken = verify(removed).expect_err("a gap");
        assert_eq!(broken.seq, 2);
        assert!(broken.why.contains("missing"), "{}", broken.why);

        let mut swapped = chain(5);
        let (a, b) = (swapped[1].clone(), swapped[2].clone());
        swapped[1] = AuditEntry { seq: 2, ..b };
        swapped[2] = AuditEntry { seq: 3, ..a };
        assert_eq!(verify(swapped).map_err(|b| b.seq), Err(2), "two entries swapped (their numbers kept)");

        let mut rehashed = chain(5);
        rehashed[1].actor = "mallory".into();
        let fields = NewAudit {
            actor: rehashed[1].actor.clone(),
            action: rehashed[1].action.clone(),
            object: rehashed[1].object.clone(),
            detail: rehashed[1].detail.clone(),
        };
        rehashed[1].hash = chain_hash(&rehashed[0].hash, 2, &rehashed[1].at, &fields);
        assert_eq!(verify(rehashed).map_err(|b| b.seq), Err(3), "re-hashing one entry breaks the next one");
    }
}
