//! Merging and linking cases on a device: a reader who wrote twice about one thing becomes one
//! case (the merged one closed, taking no new messages, its thread and contacts shown in the
//! survivor), related cases point at each other, and a recorded interaction keeps its link.

use super::temp_store;
use liaison_core::ErrorCode;
use liaison_core::cases::{self, CaseFilter, CaseInput, MessageInput};
use liaison_core::contacts::{self, ContactInput};
use liaison_core::queues::{self, QueuePatch};
use liaison_core::store::Store;
use liaison_protocol::schema::EntityKind;
use uuid::Uuid;

fn queue(store: &mut Store, name: &str) -> Uuid {
    queues::create(store, QueuePatch { name: Some(name.into()), ..Default::default() }).expect("queue").id
}

fn reader(store: &mut Store, name: &str) -> Uuid {
    contacts::create(store, ContactInput { display_name: name.into(), ..Default::default() }).expect("reader").id
}

fn case(store: &mut Store, queue: Uuid, subject: &str, reader: Uuid, text: &str) -> Uuid {
    cases::create(
        store,
        CaseInput {
            queue,
            subject: subject.into(),
            reader: Some(reader),
            text: Some(text.into()),
            ..Default::default()
        },
    )
    .expect("case")
    .id
}

fn pending_changes(store: &Store, kind: EntityKind) -> i64 {
    store
        .conn()
        .query_row("SELECT count(*) FROM outbox WHERE entity = ?1", [kind.as_str()], |r| r.get(0))
        .expect("outbox")
}

#[test]
fn a_merged_case_is_closed_says_where_it_went_and_the_survivor_shows_both_threads_and_both_readers() {
    let (_dir, mut store, _key) = temp_store();
    let q = queue(&mut store, "info-en");
    let (ada, grace) = (reader(&mut store, "Ada"), reader(&mut store, "Grace"));
    let first = case(&mut store, q, "Birth date of Lovelace", ada, "The date is wrong.");
    let again = case(&mut store, q, "Lovelace again", grace, "Still wrong, see my first mail.");

    let survivor = cases::merge(&mut store, again, first).expect("merge");

    assert_eq!(survivor.id, first);
    let bodies: Vec<_> = survivor.messages.iter().filter(|m| m.kind == "inbound").map(|m| m.body.clone()).collect();
    assert_eq!(
        bodies,
        vec![Some("The date is wrong.".to_owned()), Some("Still wrong, see my first mail.".to_owned())],
        "the survivor's thread holds both readers' messages, oldest first"
    );
    let merged_message =
        survivor.messages.iter().find(|m| m.body.as_deref() == Some("Still wrong, see my first mail."));
    assert_eq!(merged_message.map(|m| m.case_id), Some(again), "a merged message says which case it was written in");
    assert_eq!(survivor.merged.iter().map(|r| r.id).collect::<Vec<_>>(), vec![again]);
    assert!(
        survivor.contacts.iter().any(|c| c.contact_id == grace && c.role == "reader"),
        "the merged case's reader joins the survivor, so mail from them is from someone on the case"
    );
    assert!(
        survivor.messages.iter().any(|m| m.kind == "event"
            && m.case_id == first
            && m.body.as_deref().is_some_and(|b| b.contains("merged into this case"))),
        "the survivor's thread records the merge"
    );

    let merged = cases::get(&store, again).expect("merged case");
    assert_eq!(merged.state, "closed", "the merged case leaves the open views");
    assert_eq!(merged.merged_into.as_ref().map(|r| r.id), Some(first));
    assert!(
        merged
            .messages
            .iter()
            .any(|m| m.kind == "event" && m.body.as_deref().is_some_and(|b| b.starts_with("Merged into case")))
    );
    let open = cases::list(&store, &CaseFilter { open_only: true, ..Default::default() }, 0, 10).expect("list");
    assert_eq!(open.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![first]);
}

#[test]
fn a_merged_case_takes_no_new_messages_and_the_refusal_names_the_case_to_write_in() {
    let (_dir, mut store, _key) = temp_store();
    let q = queue(&mut store, "info-en");
    let ada = reader(&mut store, "Ada");
    let first = case(&mut store, q, "Birth date", ada, "Wrong.");
    let again = case(&mut store, q, "Birth date (2)", ada, "Wrong!");
    cases::merge(&mut store, again, first).expect("merge");

    for kind in ["reply", "note", "inbound"] {
        let input = MessageInput { kind: kind.into(), body: Some("late".into()), ..Default::default() };
        let err = cases::add_message(&mut store, again, input, Vec::new()).expect_err("a merged case refuses messages");
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains("merged into case") && err.message.contains("Write in case"), "{}", err.message);
    }
    assert_eq!(
        cases::get(&store, first)
            .expect("survivor")
            .messages
            .iter()
            .filter(|m| m.body.as_deref() == Some("late"))
            .count(),
        0,
        "nothing was written anywhere"
    );
}

#[test]
fn merging_refuses_itself_a_case_merged_already_and_a_survivor_that_was_merged_and_says_what_to_do() {
    let (_dir, mut store, _key) = temp_store();
    let q = queue(&mut store, "info-en");
    let ada = reader(&mut store, "Ada");
    let (a, b, c) =
        (case(&mut store, q, "A", ada, "a"), case(&mut store, q, "B", ada, "b"), case(&mut store, q, "C", ada, "c"));
    assert!(cases::merge(&mut store, a, a).expect_err("itself").message.contains("itself"));
    cases::merge(&mut store, b, a).expect("b into a");
    let again = cases::merge(&mut store, b, c).expect_err("b was merged already");
    assert!(again.message.contains("already merged into case"), "{}", again.message);
    let into_merged = cases::merge(&mut store, c, b).expect_err("b is not a survivor");
    assert!(into_merged.message.contains("merge into that one"), "{}", into_merged.message);

    cases::merge(&mut store, a, c).expect("a (with b in it) into c");
    let survivor = cases::get(&store, c).expect("c");
    let mut bodies: Vec<_> =
        survivor.messages.iter().filter(|m| m.kind == "inbound").filter_map(|m| m.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, ["a", "b", "c"], "a chain of merges shows every thread in the last survivor");
    assert_eq!(survivor.merged.len(), 2);
}

#[test]
fn merging_a_case_from_another_queue_moves_it_to_the_survivors_queue() {
    let (_dir, mut store, _key) = temp_store();
    let (en, de) = (queue(&mut store, "info-en"), queue(&mut store, "info-de"));
    let ada = reader(&mut store, "Ada");
    let first = case(&mut store, en, "Birth date", ada, "Wrong.");
    let other = case(&mut store, de, "Geburtsdatum", ada, "Falsch.");
    cases::merge(&mut store, other, first).expect("merge");
    assert_eq!(
        cases::get(&store, other).expect("merged").queue_id,
        en,
        "the survivor's members must see every message of its thread"
    );
}

#[test]
fn linking_two_cases_shows_the_link_on_both_writes_one_row_per_side_once_and_unlinking_removes_both() {
    let (_dir, mut store, _key) = temp_store();
    let q = queue(&mut store, "info-en");
    let ada = reader(&mut store, "Ada");
    let complaint = case(&mut store, q, "Complaint about an edit", ada, "Why?");
    let inquiry = case(&mut store, q, "Question about the article", ada, "How?");

    let shown = cases::relate(&mut store, complaint, inquiry, false).expect("link");
    assert_eq!(shown.links.iter().map(|r| r.id).collect::<Vec<_>>(), vec![inquiry]);
    assert_eq!(shown.links[0].subject.as_deref(), Some("Question about the article"));
    let other_side = cases::get(&store, inquiry).expect("inquiry");
    assert_eq!(other_side.links.iter().map(|r| r.id).collect::<Vec<_>>(), vec![complaint]);
    assert_eq!(pending_changes(&store, EntityKind::CaseLink), 2, "one row per side, each in its case's scope");

    cases::relate(&mut store, inquiry, complaint, false).expect("linking again");
    assert_eq!(pending_changes(&store, EntityKind::CaseLink), 2, "linking again (from either side) writes nothing");
    let events =
        |store: &Store, id| cases::get(store, id).expect("case").messages.iter().filter(|m| m.kind == "event").count();
    assert_eq!(events(&store, complaint), 1, "the link is recorded once in each thread");

    let unlinked = cases::relate(&mut store, inquiry, complaint, true).expect("unlink");
    assert!(unlinked.links.is_empty());
    assert!(cases::get(&store, complaint).expect("complaint").links.is_empty());
    let missing = cases::relate(&mut store, inquiry, complaint, true).expect_err("nothing to unlink");
    assert_eq!(missing.code, ErrorCode::NotFound);
    assert!(cases::relate(&mut store, inquiry, inquiry, false).expect_err("itself").message.contains("itself"));
}

#[test]
fn a_case_is_found_by_its_number_with_or_without_the_hash_and_a_list_search_for_hash_number_finds_it() {
    let (_dir, mut store, _key) = temp_store();
    let q = queue(&mut store, "info-en");
    let ada = reader(&mut store, "Ada");
    let id = case(&mut store, q, "Birth date", ada, "Wrong.");
    // What a pull writes when the server numbers the case.
    store.conn().execute(r#"UPDATE "case" SET number = 1234 WHERE id = ?1"#, [id.as_bytes().to_vec()]).expect("number");

    assert_eq!(cases::find(&store, "#1234").expect("#1234"), id);
    assert_eq!(cases::find(&store, " 1234 ").expect("1234"), id);
    assert_eq!(cases::find(&store, &id.to_string()).expect("id"), id);
    assert_eq!(cases::find(&store, "#99").expect_err("no such case").code, ErrorCode::NotFound);
    assert!(cases::find(&store, "lovelace").expect_err("not a case").message.contains("number (#1234)"));
    let found =
        cases::list(&store, &CaseFilter { query: Some("#1234".into()), ..Default::default() }, 0, 10).expect("list");
    assert_eq!(found.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);
}

#[test]
fn an_interaction_recorded_from_a_talk_page_keeps_the_link_to_its_diff_and_a_link_that_is_no_address_is_refused() {
    let (_dir, mut store, _key) = temp_store();
    let q = queue(&mut store, "info-en");
    let ada = reader(&mut store, "Ada");
    let id = case(&mut store, q, "Birth date", ada, "Wrong.");
    let diff = "https://en.wikipedia.org/w/index.php?diff=123456";
    let input = MessageInput {
        kind: "inbound".into(),
        channel: Some("wiki".into()),
        body: Some("Replied on the talk page".into()),
        link: Some(diff.into()),
        ..Default::default()
    };
    let message = cases::add_message(&mut store, id, input, Vec::new()).expect("logged");
    assert_eq!((message.channel.as_str(), message.link.as_deref()), ("wiki", Some(diff)));

    let bad = MessageInput {
        kind: "inbound".into(),
        channel: Some("wiki".into()),
        body: Some("x".into()),
        link: Some("javascript:alert(1)".into()),
        ..Default::default()
    };
    let err = cases::add_message(&mut store, id, bad, Vec::new()).expect_err("not a web address");
    assert!(err.message.contains("not a web address"), "{}", err.message);
}
