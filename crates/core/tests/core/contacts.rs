//! Contacts: validation, child rows with their own ids, full-text search with type-ahead.

use super::temp_store;
use liaison_core::ErrorCode;
use liaison_core::contacts::{self, ContactInput, ContactPatch};

fn ada() -> ContactInput {
    ContactInput {
        display_name: "Ada Lovelace".into(),
        emails: vec!["ada@example.org".into(), "countess@example.net".into()],
        phones: vec!["+44 20 7946 0000".into()],
        wiki_user: Some("AdaL".into()),
        irc_nick: Some("ada_l".into()),
        language: Some("en".into()),
        organization: Some("Analytical Engines Ltd".into()),
        tags: vec!["press".into(), "blp".into()],
        notes: Some("Asked about her biography's infobox.".into()),
        restricted: false,
    }
}

#[test]
fn a_created_contact_reads_back_with_every_field() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(&mut store, ada()).expect("create");
    let got = contacts::get(&store, c.id).expect("get");
    assert_eq!(got.display_name, "Ada Lovelace");
    assert_eq!(
        got.emails.iter().map(|e| e.address.as_str()).collect::<Vec<_>>(),
        ["ada@example.org", "countess@example.net"]
    );
    assert_eq!(got.phones[0].number, "+44 20 7946 0000");
    assert_eq!(got.identifier("wiki"), Some("AdaL"));
    assert_eq!(got.identifier("irc"), Some("ada_l"));
    assert_eq!(got.tags, ["press", "blp"]);
    assert_ne!(got.emails[0].id, got.emails[1].id, "each email is its own row with its own id");
    assert!(!got.created_at.is_empty() && !got.updated_at.is_empty());
}

#[test]
fn invalid_input_is_refused_with_a_message_that_names_the_value() {
    let (_d, mut store, _k) = temp_store();
    let cases = [
        (ContactInput { display_name: "  ".into(), ..Default::default() }, "name"),
        (
            ContactInput { display_name: "X".into(), emails: vec!["not-an-email".into()], ..Default::default() },
            "not-an-email",
        ),
        (ContactInput { display_name: "X".into(), phones: vec!["call me".into()], ..Default::default() }, "call me"),
        (
            ContactInput { display_name: "X".into(), language: Some("english please".into()), ..Default::default() },
            "english please",
        ),
        (ContactInput { display_name: "X".into(), wiki_user: Some("a|b".into()), ..Default::default() }, "a|b"),
    ];
    for (input, needle) in cases {
        let err = contacts::create(&mut store, input).expect_err(needle);
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains(needle), "message {:?} should name {needle:?}", err.message);
    }
    assert_eq!(contacts::count(&store).expect("count"), 0, "nothing half-written after a refusal");
}

#[test]
fn editing_emails_keeps_the_ids_of_addresses_that_stay() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(&mut store, ada()).expect("create");
    let kept_id = c.emails[0].id;
    let patch =
        ContactPatch { emails: Some(vec!["ADA@example.org".into(), "new@example.org".into()]), ..Default::default() };
    let after = contacts::update(&mut store, c.id, patch).expect("update");
    assert_eq!(after.emails.len(), 2);
    assert_eq!(after.emails[0].id, kept_id, "a retained address keeps its row, so concurrent edits to it merge");
    assert_eq!(after.emails[0].address, "ADA@example.org", "the new spelling is stored");
    assert_eq!(after.emails[1].address, "new@example.org");
    assert_eq!(after.display_name, "Ada Lovelace", "fields not in the patch are untouched");
}

#[test]
fn clearing_an_optional_field_and_an_identifier() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(&mut store, ada()).expect("create");
    let patch = ContactPatch { organization: Some(None), irc_nick: Some(None), ..Default::default() };
    let after = contacts::update(&mut store, c.id, patch).expect("update");
    assert_eq!(after.organization, None);
    assert_eq!(after.identifier("irc"), None);
    assert_eq!(after.identifier("wiki"), Some("AdaL"), "the other identifier stays");
}

#[test]
fn deleting_removes_the_contact_and_its_children_from_lists_and_search() {
    let (_d, mut store, _k) = temp_store();
    let c = contacts::create(&mut store, ada()).expect("create");
    contacts::delete(&mut store, c.id).expect("delete");
    assert_eq!(contacts::get(&store, c.id).expect_err("gone").code, ErrorCode::NotFound);
    assert_eq!(
        contacts::search(&store, "lovelace", 0, 10).expect("search").total,
        0,
        "the search index forgets it too"
    );
    let orphans: i64 = store.conn().query_row("SELECT count(*) FROM contact_email", [], |r| r.get(0)).expect("count");
    assert_eq!(orphans, 0, "child rows are deleted with the contact");
    assert_eq!(contacts::delete(&mut store, c.id).expect_err("again").code, ErrorCode::NotFound);
}

#[test]
fn search_finds_by_prefix_across_names_emails_identifiers_and_scripts() {
    let (_d, mut store, _k) = temp_store();
    contacts::create(&mut store, ada()).expect("ada");
    contacts::create(
        &mut store,
        ContactInput {
            display_name: "Jürgen Müller".into(),
            emails: vec!["jm@example.de".into()],
            ..Default::default()
        },
    )
    .expect("de");
    contacts::create(&mut store, ContactInput { display_name: "محمد الحسن".into(), ..Default::default() }).expect("ar");
    contacts::create(
        &mut store,
        ContactInput {
            display_name: "Grace Hopper".into(),
            notes: Some("knows lovelace's work".into()),
            ..Default::default()
        },
    )
    .expect("notes");
    let names = |q: &str| {
        contacts::search(&store, q, 0, 10).expect(q).items.into_iter().map(|s| s.display_name).collect::<Vec<_>>()
    };
    assert_eq!(
        names("lov"),
        ["Ada Lovelace", "Grace Hopper"],
        "type-ahead prefix; a name match ranks above a notes match"
    );
    assert_eq!(names("countess"), ["Ada Lovelace"], "second email is searchable");
    assert_eq!(names("adal"), ["Ada Lovelace"], "wiki username is searchable");
    assert_eq!(names("muller"), ["Jürgen Müller"], "diacritics are folded");
    assert_eq!(names("محمد"), ["محمد الحسن"], "non-Latin scripts");
    assert_eq!(names("ada lov"), ["Ada Lovelace"], "every word must match");
    assert_eq!(names("\"OR NEAR("), Vec::<String>::new(), "FTS syntax in the input is harmless");
}

#[test]
fn listing_is_sorted_by_name_and_paged() {
    let (_d, mut store, _k) = temp_store();
    for name in ["charlie", "Alice", "bob", "Émile", "dave"] {
        contacts::create(&mut store, ContactInput { display_name: name.into(), ..Default::default() }).expect("create");
    }
    let page = contacts::list(&store, 1, 2).expect("list");
    assert_eq!(page.total, 5);
    assert_eq!(
        page.items.iter().map(|s| s.display_name.as_str()).collect::<Vec<_>>(),
        ["bob", "charlie"],
        "case-insensitive order, second page"
    );
    assert_eq!(contacts::list(&store, 0, 0).expect_err("zero").code, ErrorCode::InvalidInput);
}

#[test]
fn lists_stay_sorted_while_the_name_index_is_suspended_and_opening_the_store_rebuilds_it() {
    let (dir, mut store, key) = temp_store();
    store.transaction(|tx| liaison_core::store::contacts::suspend_name_index(tx)).expect("suspend");
    for name in ["charlie", "Alice", "bob"] {
        contacts::create(&mut store, ContactInput { display_name: name.into(), ..Default::default() }).expect("create");
    }
    let page = contacts::list(&store, 0, 10).expect("list");
    assert_eq!(
        page.items.iter().map(|s| s.display_name.as_str()).collect::<Vec<_>>(),
        ["Alice", "bob", "charlie"],
        "sorted without the index"
    );
    let path = store.path().to_path_buf();
    store.close().expect("close");
    let store = liaison_core::store::Store::open(&path, &key).expect("reopen");
    let indexed: bool = store
        .conn()
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = 'contact_by_sort_key')",
            [],
            |r| r.get(0),
        )
        .expect("schema");
    assert!(indexed, "a store left with its name index suspended (a first sync that never ended) gets it back on open");
    drop(dir);
}
