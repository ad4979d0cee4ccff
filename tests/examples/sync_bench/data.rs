//! The generated dataset: `liaison_core::demo::contact` people (names in many scripts, emails,
//! phones, wiki and IRC identifiers) topped up to about five child rows each (a second email, a
//! mobile number, a Wikidata id), and the desk: one queue, cases each with its reader (one of the
//! contacts) and a thread of messages (the reader's mail, replies, notes, events). Seeded
//! straight into a server's storage, and written as PouchDB documents (a contact with its
//! children embedded, a case with its reader's id, a message with its case's id) for the
//! PouchDB side.

use liaison_core::demo;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldWrite, Outcome, PushRequest, Role};
use liaison_server::storage::{NewDevice, NewUser, Storage, User};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

pub const PASSWORD: &str = "sync-bench-password";
pub const USER: &str = "ana";
const SEED: u64 = 8;

pub struct Contact {
    pub id: Uuid,
    pub fields: Vec<(&'static str, Value)>,
    pub emails: Vec<(Uuid, String)>,
    pub phones: Vec<(Uuid, String)>,
    pub identifiers: Vec<(Uuid, &'static str, String)>,
}

impl Contact {
    pub fn children(&self) -> usize {
        self.emails.len() + self.phones.len() + self.identifiers.len()
    }
}

/// `n` contacts, the same for the same `n` (ids aside, which are fresh UUIDv7s).
pub fn generate(n: u64) -> Vec<Contact> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut extra = StdRng::seed_from_u64(SEED + 1);
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    (0..n)
        .map(|i| {
            let c = demo::contact(&mut rng, i);
            let mut fields: Vec<(&'static str, Value)> = vec![("display_name", json!(c.display_name))];
            if let Some(v) = c.language {
                fields.push(("language", json!(v)));
            }
            if let Some(v) = c.organization {
                fields.push(("organization", json!(v)));
            }
            if !c.tags.is_empty() {
                fields.push(("tags", json!(c.tags)));
            }
            if let Some(v) = c.notes {
                fields.push(("notes", json!(v)));
            }
            fields.push(("restricted", json!(c.restricted)));
            fields.push(("created_at", json!(created_at)));
            let mut emails = c.emails;
            if emails.len() < 2 {
                let local = emails.first().and_then(|e| e.split('@').next()).unwrap_or("contact").to_string();
                emails.push(format!("{local}@press.example.net"));
            }
            let mut phones = c.phones;
            phones.push(format!(
                "+41 79 {:03} {:02} {:02}",
                extra.gen_range(0..1000),
                extra.gen_range(0..100),
                extra.gen_range(0..100)
            ));
            let mut identifiers: Vec<(&'static str, String)> = vec![];
            if let Some(w) = c.wiki_user {
                identifiers.push(("wiki", w));
            }
            if let Some(n) = c.irc_nick {
                identifiers.push(("irc", n));
            }
            identifiers.push(("other", format!("Q{}", extra.gen_range(1_000..130_000_000))));
            Contact {
                id: Uuid::now_v7(),
                fields,
                emails: emails.into_iter().map(|e| (Uuid::now_v7(), e)).collect(),
                phones: phones.into_iter().map(|p| (Uuid::now_v7(), p)).collect(),
                identifiers: identifiers.into_iter().map(|(k, v)| (Uuid::now_v7(), k, v)).collect(),
            }
        })
        .collect()
}

/// The desk's part of the dataset: one queue and its cases.
pub struct Desk {
    pub queue: Uuid,
    pub cases: Vec<Case>,
}

pub struct Case {
    pub id: Uuid,
    pub subject: String,
    /// The reader: an index into the contacts.
    pub reader: usize,
    /// The link between the case and its reader (a derived id).
    pub link: Uuid,
    pub messages: Vec<Message>,
}

pub struct Message {
    pub id: Uuid,
    pub kind: &'static str,
    pub sent_at: String,
    pub body: String,
}

impl Desk {
    /// Rows on the server: the queue, each case, its link and its messages.
    pub fn rows(&self) -> u64 {
        1 + self.cases.iter().map(|c| 2 + c.messages.len() as u64).sum::<u64>()
    }

    pub fn messages(&self) -> u64 {
        self.cases.iter().map(|c| c.messages.len() as u64).sum()
    }
}

const SUBJECTS: [&str; 6] = [
    "Wrong birth date in the article about",
    "Please remove the photo of",
    "Complaint about the biography of",
    "How do I correct the article on",
    "Vandalism on the page about",
    "Thank you for the article on",
];

const WORDS: [&str; 24] = [
    "article",
    "biography",
    "source",
    "citation",
    "editor",
    "revert",
    "talk",
    "page",
    "photo",
    "licence",
    "policy",
    "neutral",
    "date",
    "birth",
    "family",
    "press",
    "correction",
    "Wikipedia",
    "volunteer",
    "review",
    "privacy",
    "request",
    "history",
    "reference",
];

/// `cases` cases of `per_case` messages each, their readers spread over `contacts`.
pub fn generate_desk(contacts: &[Contact], cases: usize, per_case: usize) -> Desk {
    let mut rng = StdRng::seed_from_u64(SEED + 2);
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    let cases = (0..cases)
        .map(|i| {
            let reader = (i * 7) % contacts.len().max(1);
            let id = Uuid::now_v7();
            let name = contacts.get(reader).and_then(|c| c.fields[0].1.as_str()).unwrap_or("someone").to_owned();
            let messages = (0..per_case)
                .map(|k| {
                    let kind = match k {
                        0 => "inbound",
                        _ => ["inbound", "reply", "note", "event"][rng.gen_range(0..4)],
                    };
                    let words = rng.gen_range(20..60);
                    let body: Vec<&str> = (0..words).map(|_| WORDS[rng.gen_range(0..WORDS.len())]).collect();
                    let at = start + chrono::Duration::seconds((i * 97 + k * 3_600) as i64);
                    Message {
                        id: Uuid::now_v7(),
                        kind,
                        sent_at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        body: body.join(" "),
                    }
                })
                .collect();
            let link = EntityKind::CaseContact
                .def()
                .derived_id_of(&BTreeMap::from([
                    ("case_id".to_owned(), json!(id.to_string())),
                    ("contact_id".to_owned(), json!(contacts.get(reader).map_or(Uuid::nil(), |c| c.id).to_string())),
                ]))
                .unwrap_or_else(Uuid::now_v7);
            Case { id, subject: format!("{} {name}", SUBJECTS[i % SUBJECTS.len()]), reader, link, messages }
        })
        .collect();
    Desk { queue: Uuid::now_v7(), cases }
}

/// The changes that create the desk, as a staff device's write layer would push them.
pub fn desk_changes<'d>(desk: &'d Desk, contacts: &'d [Contact], hlc: Hlc) -> impl Iterator<Item = Change> + 'd {
    let queue = change(
        EntityKind::Queue,
        desk.queue,
        0,
        hlc,
        vec![("name", json!("info-en")), ("email", json!("info-en@example.org")), ("language", json!("en"))],
    );
    std::iter::once(queue).chain(desk.cases.iter().flat_map(move |case| {
        let case_id = json!(case.id.to_string());
        let reader = contacts.get(case.reader).map_or(Uuid::nil(), |c| c.id);
        let mut out = vec![
            change(
                EntityKind::Case,
                case.id,
                0,
                hlc,
                vec![
                    ("queue_id", json!(desk.queue.to_string())),
                    ("subject", json!(case.subject)),
                    ("kind", json!("inquiry")),
                    ("channel", json!("email")),
                    ("state", json!("open")),
                    ("created_at", json!(case.messages.first().map_or("", |m| m.sent_at.as_str()))),
                ],
            ),
            change(
                EntityKind::CaseContact,
                case.link,
                0,
                hlc,
                vec![
                    ("case_id", case_id.clone()),
                    ("contact_id", json!(reader.to_string())),
                    ("role", json!("reader")),
                ],
            ),
        ];
        for m in &case.messages {
            let mut fields = vec![
                ("case_id", case_id.clone()),
                ("kind", json!(m.kind)),
                ("channel", json!("email")),
                ("sent_at", json!(m.sent_at)),
                ("body", json!(m.body)),
            ];
            if m.kind == "inbound" {
                fields.push(("author_contact_id", json!(reader.to_string())));
            } else {
                fields.push(("author_user", json!(USER)));
            }
            out.push(change(EntityKind::CaseMessage, m.id, 0, hlc, fields));
        }
        out
    }))
}

fn change(entity: EntityKind, row_id: Uuid, base_seq: u64, hlc: Hlc, fields: Vec<(&str, Value)>) -> Change {
    Change {
        change_id: Uuid::now_v7(),
        entity,
        row_id,
        base_seq,
        fields: fields
            .into_iter()
            .map(|(k, value)| (k.to_string(), FieldWrite { value, hlc }))
            .collect::<BTreeMap<_, _>>(),
        deleted: None,
    }
}

/// The changes that create a contact (and, with `children`, its emails, phones, identifiers):
/// what a device's write layer would push for it.
pub fn changes(c: &Contact, children: bool, hlc: Hlc) -> Vec<Change> {
    let mut out = vec![change(EntityKind::Contact, c.id, 0, hlc, c.fields.clone())];
    if children {
        let parent = json!(c.id.to_string());
        for (id, address) in &c.emails {
            out.push(change(
                EntityKind::ContactEmail,
                *id,
                0,
                hlc,
                vec![("contact_id", parent.clone()), ("address", json!(address))],
            ));
        }
        for (id, number) in &c.phones {
            out.push(change(
                EntityKind::ContactPhone,
                *id,
                0,
                hlc,
                vec![("contact_id", parent.clone()), ("number", json!(number))],
            ));
        }
        for (id, kind, value) in &c.identifiers {
            out.push(change(
                EntityKind::ContactIdentifier,
                *id,
                0,
                hlc,
                vec![("contact_id", parent.clone()), ("kind", json!(kind)), ("value", json!(value))],
            ));
        }
    }
    out
}

pub fn now_hlc() -> Hlc {
    Hlc::new(u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0), 0)
}

/// A server storage with the bench user and the device that seeds it ("another device").
pub struct Seeded {
    pub storage: Arc<dyn Storage>,
    pub user: User,
    pub seeder: Uuid,
    /// Server sequence of each contact row, by dataset index (for later edits' `base_seq`).
    pub contact_seqs: Vec<u64>,
    pub rows: u64,
    pub seconds: f64,
    /// CPU time of this process (the storage layer) and of the whole machine while seeding.
    pub process_cpu_seconds: f64,
    pub machine_cpu_seconds: f64,
}

/// Create the user and a seeding device, then push every contact (and its children) and the
/// desk, when given, through `Storage::push` in batches of 500 changes.
pub async fn seed(
    storage: Arc<dyn Storage>,
    data: &[Contact],
    children: bool,
    desk: Option<&Desk>,
) -> anyhow::Result<Seeded> {
    let hash = liaison_server::auth::hash_password(PASSWORD).map_err(|e| anyhow::anyhow!("hash: {e}"))?;
    let user = storage.create_user(NewUser { name: USER.into(), role: Role::Staff, password_hash: hash }).await?;
    let seeder = Uuid::now_v7();
    storage
        .register_device(
            NewDevice {
                id: seeder,
                user_id: user.id,
                name: "seeder".into(),
                token_hash: liaison_server::auth::token_hash(&Uuid::now_v7().to_string()),
            },
            chrono::Utc::now(),
        )
        .await?;
    let start = Instant::now();
    let (cpu, machine) = (crate::device::cpu_seconds("self"), crate::device::machine_busy_seconds());
    let hlc = now_hlc();
    let mut contact_seqs = vec![0u64; data.len()];
    let mut batch: Vec<Change> = Vec::with_capacity(500);
    // Which dataset index each contact change in the batch belongs to.
    let mut owners: Vec<Option<usize>> = Vec::with_capacity(500);
    let mut rows = 0u64;
    for (i, c) in data.iter().enumerate() {
        for (k, ch) in changes(c, children, hlc).into_iter().enumerate() {
            batch.push(ch);
            owners.push((k == 0).then_some(i));
            if batch.len() == 500 {
                rows += push(&*storage, &user, seeder, &mut batch, &mut owners, &mut contact_seqs).await?;
            }
        }
    }
    for ch in desk.into_iter().flat_map(|desk| desk_changes(desk, data, hlc)) {
        batch.push(ch);
        owners.push(None);
        if batch.len() == 500 {
            rows += push(&*storage, &user, seeder, &mut batch, &mut owners, &mut contact_seqs).await?;
        }
    }
    if !batch.is_empty() {
        rows += push(&*storage, &user, seeder, &mut batch, &mut owners, &mut contact_seqs).await?;
    }
    Ok(Seeded {
        storage,
        user,
        seeder,
        contact_seqs,
        rows,
        seconds: start.elapsed().as_secs_f64(),
        process_cpu_seconds: crate::device::cpu_seconds("self") - cpu,
        machine_cpu_seconds: crate::device::machine_busy_seconds() - machine,
    })
}

async fn push(
    storage: &dyn Storage,
    user: &User,
    device: Uuid,
    batch: &mut Vec<Change>,
    owners: &mut Vec<Option<usize>>,
    seqs: &mut [u64],
) -> anyhow::Result<u64> {
    let request = PushRequest { batch_id: Uuid::now_v7(), changes: std::mem::take(batch) };
    let response = storage.push(user, device, &request, chrono::Utc::now()).await?;
    for (result, owner) in response.results.iter().zip(owners.drain(..)) {
        if result.outcome != Outcome::Accepted {
            anyhow::bail!("the server refused a seeded change: {:?}", result.error);
        }
        if let (Some(i), Some(seq)) = (owner, result.seq) {
            seqs[i] = seq;
        }
    }
    Ok(request.changes.len() as u64)
}

/// Edit `notes` of the given contacts as the seeding device (changes another device made that
/// are already on the server when the device under test syncs).
pub async fn remote_edits(seeded: &mut Seeded, data: &[Contact], indices: &[usize], text: &str) -> anyhow::Result<()> {
    let hlc = now_hlc();
    let changes: Vec<Change> = indices
        .iter()
        .map(|&i| change(EntityKind::Contact, data[i].id, seeded.contact_seqs[i], hlc, vec![("notes", json!(text))]))
        .collect();
    let request = PushRequest { batch_id: Uuid::now_v7(), changes };
    let response = seeded.storage.push(&seeded.user, seeded.seeder, &request, chrono::Utc::now()).await?;
    for (result, &i) in response.results.iter().zip(indices) {
        if result.outcome != Outcome::Accepted {
            anyhow::bail!("the server refused a remote edit: {:?}", result.error);
        }
        if let Some(seq) = result.seq {
            seeded.contact_seqs[i] = seq;
        }
    }
    Ok(())
}

/// One PouchDB document per contact (its emails, phones and identifiers embedded when
/// `children`), then, with the desk, one per case (with its reader's id) and one per message
/// (with its case's id). Returns how many documents it wrote.
pub fn write_pouchdb_docs(data: &[Contact], children: bool, desk: Option<&Desk>, path: &Path) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut written = 0u64;
    let mut write = |doc: Value| -> anyhow::Result<()> {
        serde_json::to_writer(&mut out, &doc)?;
        out.write_all(b"\n")?;
        written += 1;
        Ok(())
    };
    for c in data {
        let mut doc = serde_json::Map::new();
        doc.insert("_id".into(), json!(c.id.to_string()));
        doc.insert("type".into(), json!("contact"));
        for (k, v) in &c.fields {
            doc.insert((*k).into(), v.clone());
        }
        if children {
            doc.insert("emails".into(), c.emails.iter().map(|(_, a)| json!({ "address": a })).collect());
            doc.insert("phones".into(), c.phones.iter().map(|(_, n)| json!({ "number": n })).collect());
            doc.insert(
                "identifiers".into(),
                c.identifiers.iter().map(|(_, k, v)| json!({ "kind": k, "value": v })).collect(),
            );
        }
        write(Value::Object(doc))?;
    }
    for case in desk.iter().flat_map(|d| d.cases.iter()) {
        let reader = data.get(case.reader).map_or(Uuid::nil(), |c| c.id);
        write(json!({
            "_id": case.id.to_string(), "type": "case", "queue": "info-en", "subject": case.subject,
            "kind": "inquiry", "channel": "email", "state": "open", "reader": reader.to_string(),
        }))?;
        for m in &case.messages {
            write(json!({
                "_id": m.id.to_string(), "type": "message", "case": case.id.to_string(), "kind": m.kind,
                "channel": "email", "sent_at": m.sent_at, "body": m.body,
            }))?;
        }
    }
    out.flush()?;
    Ok(written)
}

/// B9 round `r`: the contacts edited on the device under test and those edited by another
/// device (the PouchDB script edits the same documents).
pub fn b9_indices(round: usize) -> (Vec<usize>, Vec<usize>) {
    let up = (0..50).map(|k| round * 100 + 2 * k).collect();
    let down = (0..50).map(|k| round * 100 + 2 * k + 1).collect();
    (up, down)
}
