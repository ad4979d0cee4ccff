//! Canned replies on a device: written by staff, listed per queue, filled in for a case in the
//! case's language (else the queue's, else English).

use super::temp_store;
use liaison_core::ErrorCode;
use liaison_core::canned::{self, CannedPatch};
use liaison_core::cases::{self, CaseInput, WikiPage};
use liaison_core::contacts::{self, ContactInput};
use liaison_core::queues::{self, QueuePatch};
use std::collections::BTreeMap;

fn versions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(l, t)| (l.to_string(), t.to_string())).collect()
}

fn staff_store() -> (tempfile::TempDir, liaison_core::store::Store) {
    let (dir, store, _key) = temp_store();
    liaison_core::store::meta::set(store.conn(), "server_role", "staff").expect("sign in as staff");
    (dir, store)
}

#[test]
fn a_canned_reply_is_filled_in_for_a_case_in_the_cases_language_with_its_variables() {
    let (_dir, mut store) = staff_store();
    let queue = queues::create(
        &mut store,
        QueuePatch {
            name: Some("info-de".into()),
            language: Some(Some("de".into())),
            signature: Some(Some("-- Wikimedia Support".into())),
            ..Default::default()
        },
    )
    .expect("queue");
    let reader = contacts::create(&mut store, ContactInput { display_name: "Ngozi N.".into(), ..Default::default() })
        .expect("c");
    let case = cases::create(
        &mut store,
        CaseInput {
            queue: queue.id,
            subject: "Geburtsdatum".into(),
            language: Some("fr".into()),
            reader: Some(reader.id),
            wiki_pages: vec![WikiPage { wiki: "de.wikipedia.org".into(), title: "Ada Lovelace".into() }],
            ..Default::default()
        },
    )
    .expect("case");
    let reply = canned::create(
        &mut store,
        CannedPatch {
            name: Some("Thanks for the correction".into()),
            shortcut: Some(Some("thanks".into())),
            versions: Some(versions(&[
                ("en", "Dear {{reader_name|reader}}, thank you about {{article_title}}.\n{{queue_signature}}"),
                ("de", "Hallo {{reader_name|Leserin, Leser}}, danke zu {{article_title}}.\n{{agent_name}}\n{{queue_signature}}"),
            ])),
            ..Default::default()
        },
    )
    .expect("canned reply");
    let rendered = canned::render_for_case(&store, reply.id, case.id, Some("Sam")).expect("render");
    assert_eq!(rendered.language, "de", "no French version: the queue's language comes next");
    assert_eq!(rendered.text, "Hallo Ngozi N., danke zu Ada Lovelace.\nSam\n-- Wikimedia Support");
    assert_eq!(canned::find(&store, "::thanks").expect("by shortcut"), reply.id, "typed as in the composer");
    assert_eq!(canned::find(&store, "thanks for the CORRECTION").expect("by name"), reply.id);
}

#[test]
fn replies_for_every_queue_and_a_queues_own_are_listed_for_that_queue() {
    let (_dir, mut store) = staff_store();
    let en = queues::create(&mut store, QueuePatch { name: Some("info-en".into()), ..Default::default() }).expect("q");
    let de = queues::create(&mut store, QueuePatch { name: Some("info-de".into()), ..Default::default() }).expect("q");
    let make = |store: &mut liaison_core::store::Store, name: &str, queue: Option<uuid::Uuid>| {
        canned::create(
            store,
            CannedPatch {
                name: Some(name.into()),
                queue_id: Some(queue),
                versions: Some(versions(&[("en", "Hello")])),
                ..Default::default()
            },
        )
        .expect("canned")
    };
    make(&mut store, "Everyone", None);
    make(&mut store, "English desk", Some(en.id));
    make(&mut store, "German desk", Some(de.id));
    let names =
        |queue| canned::list(&store, queue, false).expect("list").into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(Some(en.id)), ["English desk", "Everyone"]);
    assert_eq!(names(None), ["English desk", "Everyone", "German desk"], "without a queue: every one here");
    let again = canned::create(
        &mut store,
        CannedPatch { name: Some("everyone".into()), versions: Some(versions(&[("en", "x")])), ..Default::default() },
    )
    .expect_err("duplicate name");
    assert!(again.message.contains("exists already"), "{}", again.message);
}

#[test]
fn a_broken_template_a_missing_language_and_a_volunteer_are_refused_with_the_reason() {
    let (_dir, mut store) = staff_store();
    let bad = canned::create(
        &mut store,
        CannedPatch {
            name: Some("Broken".into()),
            versions: Some(versions(&[("en", "Dear {{name}},")])),
            ..Default::default()
        },
    )
    .expect_err("unknown variable");
    assert_eq!(bad.code, ErrorCode::InvalidInput);
    assert!(
        bad.message.contains("{{name}} is not a variable") && bad.message.contains("{{reader_name}}"),
        "{}",
        bad.message
    );

    let queue =
        queues::create(&mut store, QueuePatch { name: Some("info-sv".into()), ..Default::default() }).expect("q");
    let case = cases::create(
        &mut store,
        CaseInput { queue: queue.id, subject: "Fråga".into(), language: Some("sv".into()), ..Default::default() },
    )
    .expect("case");
    let german = canned::create(
        &mut store,
        CannedPatch {
            name: Some("Nur Deutsch".into()),
            versions: Some(versions(&[("de", "Hallo")])),
            ..Default::default()
        },
    )
    .expect("canned");
    let none = canned::render_for_case(&store, german.id, case.id, None).expect_err("no version to use");
    assert!(none.message.contains("it has de"), "{}", none.message);

    liaison_core::store::meta::set(store.conn(), "server_role", "volunteer").expect("a volunteer");
    let refused = canned::create(
        &mut store,
        CannedPatch { name: Some("Mine".into()), versions: Some(versions(&[("en", "Hi")])), ..Default::default() },
    )
    .expect_err("volunteer");
    assert_eq!(refused.code, ErrorCode::Forbidden);
}
