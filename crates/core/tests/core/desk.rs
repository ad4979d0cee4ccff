//! The desk's lists on a device: the views a volunteer works from (unanswered, mine, unassigned,
//! overdue, due today, waiting on the reader), their orders, the queue sidebar's counts, and the
//! composer's drafts.

use super::temp_store;
use liaison_core::cases::{self, CaseFilter, CaseInput, MessageInput, Sort, View};
use liaison_core::contacts::{self, ContactInput};
use liaison_core::queues::{self, QueuePatch};
use liaison_core::store::Store;
use liaison_core::{ErrorCode, drafts};
use uuid::Uuid;

fn signed_in_store(user: &str) -> (tempfile::TempDir, Store, liaison_core::vault::DataKey) {
    let (dir, store, key) = temp_store();
    liaison_core::store::meta::set(store.conn(), "server_role", "staff").expect("role");
    liaison_core::store::meta::set(store.conn(), "server_user", user).expect("user");
    (dir, store, key)
}

fn queue(store: &mut Store, name: &str) -> Uuid {
    queues::create(store, QueuePatch { name: Some(name.into()), ..Default::default() }).expect("queue").id
}

fn case(store: &mut Store, queue: Uuid, subject: &str, text: Option<&str>) -> Uuid {
    let reader =
        contacts::create(store, ContactInput { display_name: format!("Reader of {subject}"), ..Default::default() })
            .expect("reader");
    cases::create(
        store,
        CaseInput {
            queue,
            subject: subject.into(),
            reader: Some(reader.id),
            text: text.map(str::to_owned),
            ..Default::default()
        },
    )
    .expect("case")
    .id
}

fn reply(store: &mut Store, case: Uuid, kind: &str) {
    cases::add_message(
        store,
        case,
        MessageInput { kind: kind.into(), body: Some(format!("a {kind}")), ..Default::default() },
        Vec::new(),
    )
    .expect("message");
}

/// What a pull writes when the server's clocks give a case a due time (devices never compute
/// or write it themselves).
fn server_sets_due(store: &Store, case: Uuid, due: &str) {
    store
        .conn()
        .execute(r#"UPDATE "case" SET due_at = ?2 WHERE id = ?1"#, rusqlite::params![case.as_bytes().to_vec(), due])
        .expect("due");
}

fn subjects(store: &Store, view: View, sort: Sort) -> Vec<String> {
    let filter = CaseFilter { view, sort, ..Default::default() };
    cases::list(store, &filter, 0, 100).expect("list").items.into_iter().map(|c| c.subject).collect()
}

fn in_hours(h: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(h)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[test]
fn unanswered_lists_the_cases_whose_reader_waits_and_a_public_reply_takes_a_case_off_it_but_a_note_does_not() {
    let (_dir, mut store, _key) = signed_in_store("sam");
    let q = queue(&mut store, "info-en");
    let waiting = case(&mut store, q, "Wrong birth date", Some("The date is wrong."));
    let answered = case(&mut store, q, "Thanks", Some("Great article."));
    let _logged = case(&mut store, q, "Phone call logged", None);
    reply(&mut store, answered, "reply");
    reply(&mut store, waiting, "note");
    assert_eq!(
        subjects(&store, View::Unanswered, Sort::Updated),
        ["Wrong birth date"],
        "an internal note is no answer to the reader; a case without a reader message waits on nobody"
    );
    let shown = cases::get(&store, waiting).expect("case");
    assert!(shown.awaiting_since.is_some(), "the case says since when its reader waits");
    reply(&mut store, waiting, "reply");
    assert!(subjects(&store, View::Unanswered, Sort::Updated).is_empty());
}

#[test]
fn mine_unassigned_and_waiting_follow_the_owner_and_the_state_and_leave_out_closed_cases() {
    let (_dir, mut store, _key) = signed_in_store("Sam");
    let q = queue(&mut store, "info-en");
    let mine = case(&mut store, q, "Mine", Some("?"));
    let theirs = case(&mut store, q, "Theirs", Some("?"));
    let nobody = case(&mut store, q, "Nobody's", Some("?"));
    let closed = case(&mut store, q, "Closed and mine", Some("?"));
    cases::assign(&mut store, mine, Some("sam")).expect("assign");
    cases::assign(&mut store, theirs, Some("kim")).expect("assign");
    cases::assign(&mut store, closed, Some("sam")).expect("assign");
    cases::set_state(&mut store, closed, "closed").expect("close");
    cases::set_state(&mut store, nobody, "pending").expect("pending");
    assert_eq!(subjects(&store, View::Mine, Sort::Updated), ["Mine"], "the signed-in user, in any letter case");
    assert_eq!(subjects(&store, View::Unassigned, Sort::Updated), ["Nobody's"]);
    assert_eq!(subjects(&store, View::Waiting, Sort::Updated), ["Nobody's"], "pending: waiting on the reader");
    assert_eq!(subjects(&store, View::All, Sort::Updated).len(), 4, "all is every state");
    assert_eq!(subjects(&store, View::Open, Sort::Updated).len(), 3);
}

#[test]
fn mine_without_anyone_signed_in_says_to_sign_in() {
    let (_dir, store, _key) = temp_store();
    let err = cases::list(&store, &CaseFilter { view: View::Mine, ..Default::default() }, 0, 10)
        .expect_err("nobody is signed in");
    assert_eq!(err.code, ErrorCode::NotLoggedIn);
    assert!(err.message.contains("sign in"), "{}", err.message);
}

#[test]
fn overdue_and_due_today_come_from_the_servers_due_times_and_sorting_by_due_puts_the_soonest_first() {
    let (_dir, mut store, _key) = signed_in_store("sam");
    let q = queue(&mut store, "info-en");
    let late = case(&mut store, q, "Late", Some("?"));
    let soon = case(&mut store, q, "Soon", Some("?"));
    let later = case(&mut store, q, "Next week", Some("?"));
    let _none = case(&mut store, q, "No clock", Some("?"));
    server_sets_due(&store, late, &in_hours(-2));
    server_sets_due(
        &store,
        soon,
        &(chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    server_sets_due(&store, later, &in_hours(24 * 7));
    assert_eq!(subjects(&store, View::Overdue, Sort::Updated), ["Late"]);
    assert_eq!(
        subjects(&store, View::DueToday, Sort::Updated),
        ["Soon"],
        "due within the minute is due today wherever the machine is (unless midnight falls in that minute)"
    );
    assert_eq!(
        subjects(&store, View::Open, Sort::Due),
        ["Late", "Soon", "Next week", "No clock"],
        "soonest due first, cases without a clock last"
    );
    assert!(View::parse("due_today").is_ok() && View::parse("due-today").is_ok());
    let err = View::parse("urgent").expect_err("no such view");
    assert!(err.message.contains("overdue"), "the message lists the views: {}", err.message);
}

#[test]
fn the_sidebar_counts_each_queues_open_unanswered_mine_unassigned_and_overdue_cases_and_the_oldest_wait() {
    let (_dir, mut store, _key) = signed_in_store("sam");
    let en = queue(&mut store, "info-en");
    let de = queue(&mut store, "info-de");
    let a = case(&mut store, en, "A", Some("first"));
    let b = case(&mut store, en, "B", Some("second"));
    let c = case(&mut store, en, "C", Some("third"));
    cases::assign(&mut store, a, Some("sam")).expect("assign");
    reply(&mut store, b, "reply");
    cases::set_state(&mut store, c, "closed").expect("close");
    server_sets_due(&store, a, &in_hours(-1));
    let sidebar = queues::sidebar(&store).expect("sidebar");
    let names: Vec<&str> = sidebar.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["info-de", "info-en"], "by name");
    let en_counts = sidebar.iter().find(|q| q.id == en).expect("info-en");
    assert_eq!(
        (en_counts.open, en_counts.unanswered, en_counts.mine, en_counts.unassigned, en_counts.overdue),
        (2, 1, 1, 1, 1),
        "closed cases count nowhere; B was answered; A is Sam's and overdue"
    );
    let a_waits = cases::get(&store, a).expect("a").awaiting_since;
    assert_eq!(en_counts.oldest_unanswered_at, a_waits);
    let de_counts = sidebar.iter().find(|q| q.id == de).expect("info-de");
    assert_eq!((de_counts.open, de_counts.oldest_unanswered_at.as_deref()), (0, None), "an empty queue is listed");
}

#[test]
fn a_draft_is_kept_as_typed_keeps_when_it_began_and_an_empty_composer_discards_it() {
    let (dir, mut store, key) = signed_in_store("sam");
    let q = queue(&mut store, "info-en");
    let c = case(&mut store, q, "Draft me", Some("?"));
    let first = drafts::save(&mut store, c, "reply", "Dear reader,", None).expect("save").expect("kept");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let second =
        drafts::save(&mut store, c, "note", "Dear reader, thank you for writing", None).expect("save").expect("kept");
    assert_eq!(second.started_at, first.started_at, "a draft began when its first words were typed");
    assert!(second.updated_at > first.updated_at);
    assert_eq!(second.mode, "note");
    let path = store.path().to_owned();
    store.close().expect("close");
    let bytes = std::fs::read(&path).expect("db file");
    assert!(
        !bytes.windows(b"thank you for writing".len()).any(|w| w == b"thank you for writing"),
        "drafts are inside the encrypted store"
    );
    let mut store = Store::open(&path, &key).expect("reopen");
    assert_eq!(
        drafts::get(&store, c).expect("get").map(|d| d.body).as_deref(),
        Some("Dear reader, thank you for writing"),
        "a draft survives a restart"
    );
    assert_eq!(
        drafts::save(&mut store, c, "reply", "  ", None).expect("save"),
        None,
        "an empty composer keeps nothing"
    );
    assert!(drafts::get(&store, c).expect("get").is_none());
    drop(dir);
}

#[test]
fn a_draft_for_an_unknown_case_or_mode_is_refused_and_a_deleted_case_takes_its_draft_with_it() {
    let (_dir, mut store, _key) = signed_in_store("sam");
    let q = queue(&mut store, "info-en");
    let c = case(&mut store, q, "Gone soon", Some("?"));
    let err = drafts::save(&mut store, Uuid::now_v7(), "reply", "text", None).expect_err("no such case");
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = drafts::save(&mut store, c, "shout", "text", None).expect_err("no such mode");
    assert!(err.message.contains("reply or note"), "{}", err.message);
    let big = "x".repeat(drafts::MAX_BODY + 1);
    let err = drafts::save(&mut store, c, "reply", &big, None).expect_err("too long");
    assert!(err.message.contains("KB"), "{}", err.message);
    drafts::save(&mut store, c, "reply", "text", None).expect("save");
    cases::delete(&mut store, c).expect("delete");
    assert!(drafts::list(&store).expect("list").is_empty(), "no draft outlives its case");
}

#[test]
fn a_case_someone_else_assigns_to_me_is_announced_once_and_my_own_assignments_and_history_never() {
    use liaison_protocol::hlc::Hlc;
    use liaison_protocol::wire::{FieldState, PullResponse, RowState};
    let (_dir, mut store, _key) = signed_in_store("ana");
    let q = queue(&mut store, "info-en");
    let old = case(&mut store, q, "Assigned long ago", Some("?"));
    let mine = case(&mut store, q, "I take this one", Some("?"));
    let theirs = case(&mut store, q, "Kim gives me this one", Some("?"));
    let other_device = Uuid::from_u128(0xB0B);
    let assign_from_elsewhere = |store: &mut Store, id: Uuid, owner: &str, millis: u64, seq: u64| {
        let fields = [(
            "owner".to_owned(),
            FieldState { value: serde_json::json!(owner), hlc: Hlc::new(millis, 0), device: other_device },
        )];
        let row = RowState {
            seq,
            entity: liaison_protocol::schema::EntityKind::Case,
            row_id: id,
            deleted: false,
            purged: false,
            scope: format!("queue:{q}"),
            fields: fields.into_iter().collect(),
        };
        let page = PullResponse { rows: vec![row], revoked_scopes: vec![], next_cursor: seq, has_more: false };
        liaison_core::sync::apply_page(store, &page).expect("apply");
    };
    let now_millis = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("positive") + 60_000;
    assign_from_elsewhere(&mut store, old, "ana", now_millis, 1);
    assert!(cases::take_new_assignments(&store).expect("first look").is_empty(), "what was there before is no news");
    cases::assign(&mut store, mine, Some("ana")).expect("assign");
    assign_from_elsewhere(&mut store, theirs, "Ana", now_millis + 1_000, 2);
    let new: Vec<String> = cases::take_new_assignments(&store).expect("look").into_iter().map(|c| c.subject).collect();
    assert_eq!(new, ["Kim gives me this one"], "only what someone else assigned, in any letter case; not my own");
    assert!(cases::take_new_assignments(&store).expect("again").is_empty(), "announced once");
    assign_from_elsewhere(&mut store, old, "kim", now_millis + 2_000, 3);
    assert!(
        cases::take_new_assignments(&store).expect("again").is_empty(),
        "a case given to someone else is no news to me"
    );
}

#[test]
fn a_reader_s_html_mail_offers_a_formatted_version_sanitized_again_on_the_device_and_says_what_was_left_out() {
    let (_dir, mut store, _key) = signed_in_store("sam");
    let q = queue(&mut store, "info-en");
    let id = case(&mut store, q, "Formatted mail", Some("The date is wrong."));
    let message = cases::get(&store, id).expect("case").messages[0].id;
    assert!(!cases::get(&store, id).expect("case").messages[0].formatted, "a typed message has no formatted version");
    assert_eq!(cases::formatted(&store, message).expect("read"), None);
    // What a pull writes for mail the server read: its original, with the HTML it kept (here
    // as a hostile server or an old one might have sent it) and a part it left out.
    let original = serde_json::json!({
        "message_id": "m1@reader.example",
        "html": "<p onclick=\"steal()\">Hello <script>alert(1)</script><img src=\"https://tracker.example/p.gif\"><b>reader</b></p>",
        "omitted": [{"name": "../../scan\u{202e}fdp.exe", "bytes": 27_000_000, "reason": "larger than the 25 MB limit"}],
        "encoding_problems": true,
    });
    store
        .conn()
        .execute(
            "UPDATE case_message SET original = ?2 WHERE id = ?1",
            rusqlite::params![message.as_bytes().to_vec(), original.to_string()],
        )
        .expect("original");

    let shown = cases::get(&store, id).expect("case").messages[0].clone();
    assert!(shown.formatted && shown.encoding_problems);
    assert_eq!(shown.omitted.len(), 1);
    assert_eq!(shown.omitted[0].bytes, 27_000_000);
    assert!(
        !shown.omitted[0].name.contains('/') && !shown.omitted[0].name.contains('\u{202e}'),
        "a left-out file's name is shown safe: {}",
        shown.omitted[0].name
    );
    let html = cases::formatted(&store, message).expect("read").expect("a formatted version");
    assert!(html.contains("<b>reader</b>"), "{html}");
    assert!(
        !html.contains("script") && !html.contains("onclick") && !html.contains("tracker.example"),
        "sanitized on the device whatever the server sent: {html}"
    );
    assert_eq!(cases::formatted(&store, Uuid::now_v7()).expect_err("no such message").code, ErrorCode::NotFound);
}
