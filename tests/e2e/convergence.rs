//! Convergence, as a property: a real server (in process, over HTTPS on loopback) and several
//! devices (real encrypted stores: three staff, one volunteer) do random creates, field edits,
//! email-list edits, deletes, restrict/unrestrict and conflict resolutions of contacts, and on
//! the desk: staff add and remove the volunteer from queues, everyone opens cases, changes their
//! state, owner and tags, moves them between queues, links and unlinks contacts, writes notes
//! with files, and staff delete cases; meanwhile an administrator erases contacts and grants or
//! revokes the volunteer's access to restricted ones. Devices sync in random order — with one
//! device's clock two hours fast (the server clamps it), answers "lost" after the server
//! committed them, and cursors rewound so pulls repeat. After everyone has synced, every staff
//! device holds exactly the same rows (conflicts included); the volunteer holds exactly that
//! minus the restricted contacts not granted to them and minus every queue they are not a member
//! of (its memberships, cases, links, messages and files); brand-new devices of both users that
//! sync from nothing (by snapshot) get the same; every file can be opened on every device that
//! holds its row; no erased id is anywhere; and every recorded conflict is between two devices
//! that wrote different values.
//!
//! `LIAISON_CONVERGENCE_SEEDS=N` runs N seeds (default 8, plus the regression seeds); a failure
//! names its seed, which then belongs in `REGRESSION_SEEDS`.

use liaison_core::cases::{self, CaseInput, CasePatch, MessageInput, NewFile};
use liaison_core::conflicts::{self, Choice};
use liaison_core::contacts::{self, ContactInput, ContactPatch};
use liaison_core::queues::{self, QueuePatch};
use liaison_core::store::{Store, meta};
use liaison_core::sync;
use liaison_core::vault::DataKey;
use liaison_protocol::scope;
use liaison_protocol::wire::Role;
use liaison_server::storage::{NewUser, SqliteStorage, Storage};
use liaison_server::{AppState, Server, ServerConfig, TlsSource};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

/// Seeds that once failed, kept so the failure stays fixed.
const REGRESSION_SEEDS: &[u64] = &[5, 11, 29, 34, 38, 46, 100];
const DEVICES: usize = 4;
/// The last device belongs to a volunteer; the others to staff.
const VOLUNTEER: usize = DEVICES - 1;
const OPS: usize = 100;
const PASSWORD: &str = "convergence-password";

struct Device {
    _dir: tempfile::TempDir,
    store: Store,
    name: String,
}

impl Device {
    async fn new(url: &str, fingerprint: &str, user: &str) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::create(&dir.path().join("liaison.db"), &DataKey::generate()).expect("store");
        sync::login(&mut store, url, user, PASSWORD, fingerprint).await.expect("login");
        Device { _dir: dir, store, name: user.to_string() }
    }

    fn contact_ids(&self) -> Vec<Uuid> {
        contacts::list(&self.store, 0, 1000).expect("list").items.into_iter().map(|c| c.id).collect()
    }

    /// Everything synced, in a form that does not depend on local insertion order or local
    /// bookkeeping (`updated_at` is when this device last touched the row).
    fn dump(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for id in self.contact_ids() {
            let c = contacts::get(&self.store, id).expect("get");
            out.insert(
                format!("contact {id}"),
                format!(
                    "{}|{:?}|{:?}|{:?}|{:?}|{}|{}",
                    c.display_name, c.language, c.organization, c.tags, c.notes, c.created_at, c.restricted
                ),
            );
        }
        for c in conflicts::list(&self.store, true).expect("conflicts") {
            // Sides as the server recorded them (kept, lost), not as "mine"/"theirs" per device.
            let (kept, lost) = if c.mine_was_kept { (&c.mine, &c.theirs) } else { (&c.theirs, &c.mine) };
            out.insert(
                format!("conflict {}", c.id),
                format!(
                    "{}|{:?}|{:?}|{}|{}|{:?}",
                    c.owner_id.as_simple(),
                    c.field,
                    c.kind,
                    kept.value,
                    lost.value,
                    c.resolution
                ),
            );
        }
        self.dump_desk(&mut out);
        for (table, value) in
            [("contact_email", "address"), ("contact_phone", "number"), ("contact_identifier", "value")]
        {
            let sql = format!("SELECT lower(hex(id)), lower(hex(contact_id)), {value} FROM {table}");
            let mut stmt = self.store.conn().prepare(&sql).expect("prepare");
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
                .expect("query");
            for row in rows {
                let (id, parent, v) = row.expect("row");
                out.insert(format!("{table} {id}"), format!("{parent}|{v}"));
            }
        }
        out
    }

    fn queue_ids(&self) -> Vec<Uuid> {
        queues::list(&self.store).expect("queues").into_iter().map(|q| q.id).collect()
    }

    fn case_ids(&self) -> Vec<Uuid> {
        cases::list(&self.store, &cases::CaseFilter::default(), 0, 1000)
            .expect("cases")
            .items
            .into_iter()
            .map(|c| c.id)
            .collect()
    }

    /// The desk's rows, each value starting with `q=<queue>|`: the queue it belongs to (through
    /// its case, for links, messages and files), which decides who may hold it. An orphan (a row
    /// whose case is not here) shows as `q=|`.
    fn dump_desk(&self, out: &mut BTreeMap<String, String>) {
        const TABLES: [(&str, &str); 7] = [
            (
                "queue",
                "SELECT lower(hex(id)), lower(hex(id)) || '|' || name || '|' || archived || '|' || states FROM queue",
            ),
            (
                "queue_member",
                "SELECT lower(hex(id)), lower(hex(queue_id)) || '|' || user || '|' || role FROM queue_member",
            ),
            (
                "case",
                "SELECT lower(hex(id)), lower(hex(queue_id)) || '|' || subject || '|' || state || '|' || \
                 ifnull(owner, '-') || '|' || tags || '|' || ifnull(priority, '-') || '|' || ifnull(created_at, '-') || \
                 '|' || ifnull(lower(hex(merged_into)), '-') FROM \"case\"",
            ),
            (
                "case_link",
                "SELECT lower(hex(l.id)), ifnull(lower(hex(c.queue_id)), '') || '|' || lower(hex(l.case_id)) || '|' || \
                 lower(hex(l.other_id)) FROM case_link l LEFT JOIN \"case\" c ON c.id = l.case_id",
            ),
            (
                "case_contact",
                "SELECT lower(hex(l.id)), ifnull(lower(hex(c.queue_id)), '') || '|' || lower(hex(l.case_id)) || '|' || \
                 lower(hex(l.contact_id)) || '|' || l.role \
                 FROM case_contact l LEFT JOIN \"case\" c ON c.id = l.case_id",
            ),
            (
                "case_message",
                "SELECT lower(hex(m.id)), ifnull(lower(hex(c.queue_id)), '') || '|' || lower(hex(m.case_id)) || '|' || \
                 m.kind || '|' || ifnull(m.author_user, '-') || '|' || ifnull(lower(hex(m.author_contact_id)), '-') || \
                 '|' || ifnull(m.body, '-') || '|' || m.sent_at \
                 FROM case_message m LEFT JOIN \"case\" c ON c.id = m.case_id",
            ),
            (
                "attachment",
                "SELECT lower(hex(a.id)), ifnull(lower(hex(c.queue_id)), '') || '|' || lower(hex(a.message_id)) || '|' || \
                 a.name || '|' || a.size || '|' || a.sha256 \
                 FROM attachment a LEFT JOIN case_message m ON m.id = a.message_id LEFT JOIN \"case\" c ON c.id = m.case_id",
            ),
        ];
        for (table, sql) in TABLES {
            let mut stmt = self.store.conn().prepare(sql).expect("prepare");
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).expect("query");
            for row in rows {
                let (id, value) = row.expect("row");
                out.insert(format!("{table} {id}"), format!("q={value}"));
            }
        }
    }
}

/// The queue a desk row belongs to (from [`Device::dump_desk`]'s `q=<queue>|` prefix).
fn queue_of(value: &str) -> Option<&str> {
    value.strip_prefix("q=").map(|rest| rest.split('|').next().unwrap_or(""))
}

const NAMES: &[&str] = &["Ada Lovelace", "Grace Hopper", "محمد الحسن", "佐藤 さくら", "Jürgen Müller", "Amani Mwangi"];
const ORGS: &[&str] = &["Wikimedia UK", "Wikimedia Deutschland", "Reuters"];
const LANGS: &[&str] = &["en", "de", "ar", "ja", "sw"];

/// What the administrator did, to check the end state against.
#[derive(Default)]
struct AdminLog {
    erased: Vec<Uuid>,
}

async fn admin_op(rng: &mut StdRng, storage: &Arc<dyn Storage>, staff: &Device, log: &mut AdminLog) {
    let ids = staff.contact_ids();
    if ids.is_empty() {
        return;
    }
    let id = ids[rng.gen_range(0..ids.len())];
    let now = chrono::Utc::now();
    match rng.gen_range(0..4) {
        0 => {
            trace(format_args!("admin erases {id}"));
            storage.erase_contact(id, now).await.expect("erase");
            log.erased.push(id);
        }
        1 | 2 => {
            trace(format_args!("admin grants u3 {id}"));
            storage.grant("u3", &scope::contact(id), now).await.expect("grant");
        }
        _ => {
            // Revoking a grant that does not exist is refused; that is fine here.
            let done = storage.revoke("u3", &scope::contact(id), now).await;
            trace(format_args!("admin revokes u3 {id}: {}", done.is_ok()));
        }
    }
}

async fn random_op(rng: &mut StdRng, device: &mut Device, staff: bool) {
    let ids = device.contact_ids();
    let pick = |rng: &mut StdRng| (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())]);
    if rng.gen_bool(0.4) {
        desk_op(rng, device, staff);
        return;
    }
    match rng.gen_range(0..12) {
        0..=2 => {
            let name = NAMES[rng.gen_range(0..NAMES.len())];
            let emails = if rng.gen_bool(0.5) { vec![format!("p{}@example.org", rng.gen_range(0..5))] } else { vec![] };
            let c = contacts::create(
                &mut device.store,
                ContactInput { display_name: name.into(), emails, ..Default::default() },
            )
            .expect("create");
            trace(format_args!("{} creates {}", device.name, c.id));
        }
        3..=6 => {
            if let Some(id) = pick(rng) {
                let mut patch = ContactPatch::default();
                match rng.gen_range(0..5) {
                    0 => patch.organization = Some(Some(ORGS[rng.gen_range(0..ORGS.len())].into())),
                    1 => patch.language = Some(Some(LANGS[rng.gen_range(0..LANGS.len())].into())),
                    2 => patch.notes = Some(Some(format!("note {}", rng.r#gen::<u16>()))),
                    3 => {
                        patch.emails = Some(
                            (0..rng.gen_range(0..3))
                                .map(|i| format!("e{}x{i}@example.org", rng.gen_range(0..4)))
                                .collect(),
                        )
                    }
                    _ => patch.display_name = Some(NAMES[rng.gen_range(0..NAMES.len())].into()),
                }
                trace(format_args!("{} edits {id}: {patch:?}", device.name));
                contacts::update(&mut device.store, id, patch).expect("update");
            }
        }
        7 => {
            if let Some(id) = pick(rng) {
                trace(format_args!("{} deletes {id}", device.name));
                contacts::delete(&mut device.store, id).expect("delete");
            }
        }
        8 => {
            if let Some(id) = pick(rng).filter(|_| staff) {
                let restricted = rng.gen_bool(0.6);
                trace(format_args!("{} restricts {id}: {restricted}", device.name));
                contacts::update(
                    &mut device.store,
                    id,
                    ContactPatch { restricted: Some(restricted), ..Default::default() },
                )
                .expect("restrict");
            }
        }
        9 => {
            let open = conflicts::list(&device.store, false).expect("conflicts");
            if !open.is_empty() {
                let c = &open[rng.gen_range(0..open.len())];
                let choice = if rng.gen_bool(0.5) { Choice::Mine } else { Choice::Theirs };
                // The record may be gone here (deleted, or a delete conflict without enough to
                // restore): then the resolution is refused with a reason, which is fine.
                let _ = conflicts::resolve(&mut device.store, c.id, choice);
            }
        }
        _ => {
            // Trouble on the line: sometimes the last push's answer is lost after the server
            // committed it, sometimes a pull repeats from the start.
            if rng.gen_bool(0.3) {
                device
                    .store
                    .conn()
                    .execute("UPDATE outbox SET state = 'sent' WHERE batch_id = (SELECT max(batch_id) FROM outbox)", [])
                    .expect("rewind outbox");
            }
            if rng.gen_bool(0.2) {
                meta::set(device.store.conn(), "pull_cursor", "0").expect("rewind cursor");
            }
            let report = sync::sync(&mut device.store).await.expect("sync");
            trace(format_args!(
                "{} syncs: pushed {} rejected {} pulled {}",
                device.name, report.pushed, report.rejected, report.pulled
            ));
        }
    }
}

const SUBJECTS: &[&str] = &["Wrong birth date", "Photo of me", "How do I edit?", "Vandalism on my article"];
const STATES: &[&str] = &["open", "pending", "resolved", "closed", "new"];
const TAGS: &[&str] = &["blp", "press", "photo", "urgent"];

/// One thing done on the desk. The volunteer's device may be a member of a queue no longer (the
/// staff removed them while it was offline): what it writes there is refused, and the queue
/// leaves the device; staff may be writing to a case another device deleted: refused too. Either
/// way the end state must converge.
fn desk_op(rng: &mut StdRng, device: &mut Device, staff: bool) {
    let queues = device.queue_ids();
    let cases = device.case_ids();
    let contacts = device.contact_ids();
    let pick = |rng: &mut StdRng, ids: &[Uuid]| (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())]);
    match rng.gen_range(0..13) {
        0 if staff => {
            if let Some(queue) = pick(rng, &queues) {
                trace(format_args!("{} adds u3 to queue {queue}", device.name));
                let role = if rng.gen_bool(0.5) { "agent" } else { "lead" };
                queues::add_member(&mut device.store, queue, "u3", role).expect("add member");
            }
        }
        1 if staff => {
            if let Some(queue) = pick(rng, &queues) {
                // Removing someone who is not a member is refused: fine here.
                let done = queues::remove_member(&mut device.store, queue, "u3");
                trace(format_args!("{} removes u3 from queue {queue}: {}", device.name, done.is_ok()));
            }
        }
        2 if staff => {
            if let Some(queue) = pick(rng, &queues) {
                let states = if rng.gen_bool(0.5) { vec!["waiting-on-legal".to_owned()] } else { vec![] };
                trace(format_args!("{} edits queue {queue}: states {states:?}", device.name));
                queues::update(&mut device.store, queue, QueuePatch { states: Some(states), ..Default::default() })
                    .expect("edit queue");
            }
        }
        3 | 4 => {
            if let Some(queue) = pick(rng, &queues) {
                let reader = pick(rng, &contacts).filter(|_| rng.gen_bool(0.6));
                let input = CaseInput {
                    queue,
                    subject: SUBJECTS[rng.gen_range(0..SUBJECTS.len())].into(),
                    reader,
                    text: reader.map(|_| format!("Please fix {}", rng.r#gen::<u16>())),
                    ..Default::default()
                };
                let case = cases::create(&mut device.store, input).expect("create case");
                trace(format_args!("{} opens case {} in {queue} (reader {reader:?})", device.name, case.id));
            }
        }
        5 => {
            if let Some(case) = pick(rng, &cases) {
                let state = STATES[rng.gen_range(0..STATES.len())];
                trace(format_args!("{} sets case {case} to {state}", device.name));
                cases::set_state(&mut device.store, case, state).expect("state");
            }
        }
        6 => {
            if let Some(case) = pick(rng, &cases) {
                let owner = ["u0", "u1", "u3"][rng.gen_range(0..3)];
                trace(format_args!("{} assigns case {case} to {owner}", device.name));
                cases::assign(&mut device.store, case, Some(owner)).expect("assign");
                if rng.gen_bool(0.5) {
                    let tags = vec![TAGS[rng.gen_range(0..TAGS.len())].to_owned()];
                    cases::update(&mut device.store, case, CasePatch { tags: Some(tags), ..Default::default() })
                        .expect("tags");
                }
            }
        }
        7 => {
            if let (Some(case), Some(queue)) = (pick(rng, &cases), pick(rng, &queues)) {
                trace(format_args!("{} moves case {case} to queue {queue}", device.name));
                cases::update(&mut device.store, case, CasePatch { queue: Some(queue), ..Default::default() })
                    .expect("move");
            }
        }
        8 => {
            if let (Some(case), Some(contact)) = (pick(rng, &cases), pick(rng, &contacts)) {
                if rng.gen_bool(0.7) {
                    let role = ["reader", "subject", "representative"][rng.gen_range(0..3)];
                    trace(format_args!("{} links {contact} to case {case} as {role}", device.name));
                    cases::link(&mut device.store, case, contact, role).expect("link");
                } else {
                    let done = cases::unlink(&mut device.store, case, contact);
                    trace(format_args!("{} unlinks {contact} from case {case}: {}", device.name, done.is_ok()));
                }
            }
        }
        9 => {
            if let Some(case) = pick(rng, &cases) {
                let files = if rng.gen_bool(0.6) {
                    let content: Vec<u8> = (0..rng.gen_range(1..4000)).map(|_| rng.r#gen()).collect();
                    vec![NewFile { name: "letter.pdf".into(), media_type: Some("application/pdf".into()), content }]
                } else {
                    vec![]
                };
                let input = MessageInput {
                    kind: if rng.gen_bool(0.5) { "note" } else { "reply" }.into(),
                    body: Some(format!("Looked into it ({})", rng.r#gen::<u16>())),
                    ..Default::default()
                };
                trace(format_args!("{} writes in case {case} with {} file(s)", device.name, files.len()));
                cases::add_message(&mut device.store, case, input, files).expect("message");
            }
        }
        10 => {
            let case = pick(rng, &cases);
            let others: Vec<Uuid> = cases.iter().copied().filter(|c| Some(*c) != case).collect();
            if let (Some(case), Some(other)) = (case, pick(rng, &others)) {
                // Unlinking what is not linked is refused: fine.
                let remove = rng.gen_bool(0.3);
                let done = cases::relate(&mut device.store, case, other, remove);
                trace(format_args!("{} relates {case} and {other} (remove {remove}): {}", device.name, done.is_ok()));
            }
        }
        11 => {
            let case = pick(rng, &cases);
            let others: Vec<Uuid> = cases.iter().copied().filter(|c| Some(*c) != case).collect();
            if let (Some(case), Some(into)) = (case, pick(rng, &others)) {
                // Merging twice, or into a merged case, is refused: fine. Two devices
                // merging concurrently (even each into the other) must still converge.
                let done = cases::merge(&mut device.store, case, into);
                trace(format_args!("{} merges {case} into {into}: {}", device.name, done.is_ok()));
            }
        }
        _ if staff => {
            if let Some(case) = pick(rng, &cases) {
                trace(format_args!("{} deletes case {case}", device.name));
                cases::delete(&mut device.store, case).expect("delete case");
            }
        }
        _ => {}
    }
}

async fn run_seed(seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&liaison_server::server::database_path(dir.path())).expect("server storage"));
    let hash = liaison_server::auth::hash_password(PASSWORD).expect("hash");
    for i in 0..DEVICES {
        let role = if i == VOLUNTEER { Role::Volunteer } else { Role::Staff };
        storage.create_user(NewUser { name: format!("u{i}"), role, password_hash: hash.clone() }).await.expect("user");
    }
    let config =
        ServerConfig { data_dir: dir.path().to_path_buf(), listen: "127.0.0.1:0".into(), tls: TlsSource::SelfSigned };
    let server = Server::bind_with_state(&config, AppState::new(storage.clone())).await.expect("bind");
    let (url, fingerprint) = (server.url(), server.certificate_fingerprint().to_string());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    let mut devices = Vec::new();
    for i in 0..DEVICES {
        devices.push(Device::new(&url, &fingerprint, &format!("u{i}")).await);
    }
    // Device 1's clock is two hours fast: the server clamps its stamps.
    let fast = u64::try_from(chrono_now_millis() + 2 * 3600 * 1000).expect("millis");
    meta::set(devices[1].store.conn(), "hlc", &format!("{fast}-0")).expect("skew");

    // Two queues from the start, the volunteer a member of the first.
    for (name, language) in [("info-en", "en"), ("info-de", "de")] {
        let queue = queues::create(
            &mut devices[0].store,
            QueuePatch { name: Some(name.into()), language: Some(Some(language.into())), ..Default::default() },
        )
        .expect("queue");
        if name == "info-en" {
            queues::add_member(&mut devices[0].store, queue.id, "u3", "agent").expect("member");
        }
    }
    sync::sync(&mut devices[0].store).await.expect("first sync");

    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = AdminLog::default();
    for _ in 0..OPS {
        let d = rng.gen_range(0..DEVICES);
        if rng.gen_bool(0.08) {
            admin_op(&mut rng, &storage, &devices[0], &mut log).await;
        } else {
            random_op(&mut rng, &mut devices[d], d != VOLUNTEER).await;
        }
    }
    // Quiescence: three rounds, so a resolution made in one round and the conflicts it
    // answers have reached everyone.
    for _round in 0..3 {
        for device in devices.iter_mut() {
            sync::sync(&mut device.store).await.unwrap_or_else(|e| panic!("seed {seed}: quiescence sync failed: {e}"));
        }
    }
    let reference = devices[0].dump();
    for (i, device) in devices.iter().enumerate() {
        if i != VOLUNTEER && i != 0 {
            let dump = device.dump();
            assert!(
                dump == reference,
                "seed {seed}: staff device {i} differs from device 0 after quiescence: {:?}",
                differences(&dump, &reference)
            );
        }
        assert_eq!(
            sync::status(&device.store).expect("status").pending,
            0,
            "seed {seed}: device {i} still has unsent changes"
        );
        let held = device.dump();
        for erased in &log.erased {
            let (dashed, simple) = (erased.to_string(), erased.simple().to_string());
            let left: Vec<_> = held
                .iter()
                .filter(|(k, v)| k.contains(&dashed) || k.contains(&simple) || v.contains(&simple))
                .collect();
            assert!(
                left.is_empty(),
                "seed {seed}: erased {erased} (or something of it) is still on device {i}: {left:?}"
            );
        }
    }
    // The volunteer's view: the staff view minus restricted contacts not granted to u3, with
    // everything that belongs to them. Conflicts about contacts that no longer exist keep the
    // scope the contact had when it was deleted, which only the server knows: for those, the
    // volunteer must hold a subset of the staff's (and the same as a fresh volunteer device).
    let granted: Vec<String> = storage
        .list_grants()
        .await
        .expect("grants")
        .into_iter()
        .filter(|g| g.user_name == "u3")
        .map(|g| g.scope)
        .collect();
    let live: Vec<String> = devices[0].contact_ids().into_iter().map(|id| id.simple().to_string()).collect();
    let hidden: Vec<String> = devices[0]
        .contact_ids()
        .into_iter()
        .filter(|id| {
            contacts::get(&devices[0].store, *id).expect("get").restricted && !granted.contains(&scope::contact(*id))
        })
        .map(|id| id.simple().to_string())
        .collect();
    // The queues the volunteer is a member of, by the staff's rows; the cases of the others are
    // hidden from them like restricted contacts (and so are conflicts about those cases).
    let member_of: BTreeSet<String> = reference
        .iter()
        .filter(|(k, v)| k.starts_with("queue_member ") && v.split('|').nth(1) == Some("u3"))
        .filter_map(|(_, v)| queue_of(v).map(str::to_owned))
        .collect();
    let (mut live, mut hidden) = (live, hidden);
    for id in devices[0].queue_ids() {
        live.push(id.simple().to_string());
        if !member_of.contains(&id.simple().to_string()) {
            hidden.push(id.simple().to_string());
        }
    }
    for id in devices[0].case_ids() {
        let case = cases::get(&devices[0].store, id).expect("case");
        live.push(id.simple().to_string());
        if !member_of.contains(&case.queue_id.simple().to_string()) {
            hidden.push(id.simple().to_string());
        }
    }
    let about = |k: &str, v: &str, ids: &[String]| {
        ids.iter().any(|h| k.replace('-', "").contains(h.as_str()) || v.starts_with(h.as_str()))
    };
    let visible_desk = |v: &str| queue_of(v).is_none_or(|q| member_of.contains(q));
    let decidable = |k: &String, v: &String| !k.starts_with("conflict ") || about(k, v, &live);
    let expected_volunteer: BTreeMap<String, String> = reference
        .iter()
        .filter(|(k, v)| decidable(k, v) && !about(k, v, &hidden) && visible_desk(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let volunteer = devices[VOLUNTEER].dump();
    let volunteer_decidable: BTreeMap<String, String> =
        volunteer.iter().filter(|(k, v)| decidable(k, v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert!(
        volunteer_decidable == expected_volunteer,
        "seed {seed}: the volunteer holds exactly what they may see; differences: {:?}",
        differences(&volunteer_decidable, &expected_volunteer)
    );
    for (k, v) in &volunteer {
        assert_eq!(
            reference.get(k),
            Some(v),
            "seed {seed}: the volunteer holds {k}, which staff devices do not hold so"
        );
        assert!(
            !about(k, v, &hidden),
            "seed {seed}: the volunteer holds {k}, which belongs to a restricted contact or a hidden case"
        );
        assert!(visible_desk(v), "seed {seed}: the volunteer holds {k} of a queue they are not a member of");
    }
    for (key, value) in &reference {
        assert!(!value.starts_with("q=|"), "seed {seed}: {key} outlived its case on the staff's devices: {value}");
    }
    for c in conflicts::list(&devices[0].store, true).expect("conflicts") {
        assert_ne!(c.mine.value, c.theirs.value, "seed {seed}: a conflict is recorded only for different values");
        assert_ne!(c.mine.device, c.theirs.device, "seed {seed}: and only between two devices");
    }
    let mut fresh = Device::new(&url, &fingerprint, "u0").await;
    sync::sync(&mut fresh.store).await.expect("fresh sync");
    let fresh_dump = fresh.dump();
    assert!(
        fresh_dump == reference,
        "seed {seed}: a new staff device syncing from nothing differs from the others: {:?}",
        differences(&fresh_dump, &reference)
    );
    let mut fresh_volunteer = Device::new(&url, &fingerprint, "u3").await;
    sync::sync(&mut fresh_volunteer.store).await.expect("fresh sync");
    let fresh_view = fresh_volunteer.dump();
    assert!(
        fresh_view == volunteer,
        "seed {seed}: a new volunteer device differs from the volunteer's: {:?}",
        differences(&fresh_view, &volunteer)
    );
    // Every file opens wherever its row is, with the content that was attached.
    for device in [&mut devices[VOLUNTEER], &mut fresh, &mut fresh_volunteer] {
        let held: Vec<(Uuid, String)> = device
            .dump()
            .iter()
            .filter_map(|(k, v)| {
                let id = k.strip_prefix("attachment ")?;
                Some((Uuid::parse_str(id).ok()?, v.rsplit('|').next()?.to_owned()))
            })
            .collect();
        for (id, sha256) in held {
            let (_, content) = sync::fetch_attachment(&mut device.store, id)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: {}'s file {id} does not open: {e}", device.name));
            assert_eq!(
                hex::encode(Sha256::digest(&content)),
                sha256,
                "seed {seed}: file {id} has the content attached"
            );
        }
    }
    let _ = stop.send(());
    let _ = running.await;
}

/// The entries that differ between a device's rows and the expected ones: (key, held, expected).
fn differences(
    held: &BTreeMap<String, String>,
    expected: &BTreeMap<String, String>,
) -> Vec<(String, Option<String>, Option<String>)> {
    let keys: std::collections::BTreeSet<&String> = held.keys().chain(expected.keys()).collect();
    keys.into_iter()
        .filter(|k| held.get(*k) != expected.get(*k))
        .map(|k| (k.clone(), held.get(k).cloned(), expected.get(k).cloned()))
        .collect()
}

fn trace(what: std::fmt::Arguments<'_>) {
    if std::env::var_os("LIAISON_CONVERGENCE_TRACE").is_some() {
        eprintln!("{what}");
    }
}

fn chrono_now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_converge_on_the_servers_view_whatever_the_order_of_edits_and_syncs() {
    let count: u64 = std::env::var("LIAISON_CONVERGENCE_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let mut seeds: Vec<u64> = REGRESSION_SEEDS.iter().copied().chain(0..count).collect();
    // One seed alone (with LIAISON_CONVERGENCE_TRACE=1 to see each operation): for debugging.
    if let Some(one) = std::env::var("LIAISON_CONVERGENCE_SEED").ok().and_then(|s| s.parse().ok()) {
        seeds = vec![one];
    }
    for seed in seeds {
        run_seed(seed).await;
    }
}
