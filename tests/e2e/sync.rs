//! Two devices converge through the real server.

use crate::harness::Client;

use crate::harness::staff_and_volunteer as setup;

#[test]
fn a_contact_created_on_a_appears_on_b_after_sync() {
    let (_server, a, b) = setup();
    let id = a.ok(&[
        "contact",
        "add",
        "--name",
        "Ada Lovelace",
        "--email",
        "ada@example.org",
        "--email",
        "countess@example.net",
        "--wiki-user",
        "AdaL",
        "--irc",
        "ada_l",
        "--lang",
        "en",
        "--org",
        "Analytical",
        "--tag",
        "press",
        "--note",
        "met at Wikimania",
    ]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    let on_b = b.contact(&id);
    assert_eq!(on_b["display_name"], "Ada Lovelace");
    assert_eq!(on_b["emails"].as_array().map(Vec::len), Some(2), "both email child rows arrive");
    assert_eq!(on_b["language"], "en");
    assert_eq!(on_b["notes"], "met at Wikimania");
    let found = b.json(&["contact", "search", "lov"]);
    assert_eq!(found[0]["id"], id.as_str(), "pulled contacts are searchable on B");
    assert_eq!(a.pending(), 0, "everything A sent was accepted");
}

#[test]
fn offline_edits_to_different_fields_of_one_contact_both_survive() {
    let (_server, a, b) = setup();
    let id = a.ok(&["contact", "add", "--name", "Grace Hopper", "--org", "Navy"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    // Both devices now edit offline, each a different field.
    a.ok(&["contact", "edit", &id, "--org", "Yale"]);
    b.ok(&["contact", "edit", &id, "--lang", "en", "--email", "grace@example.org"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    for (who, client) in [("A", &a), ("B", &b)] {
        let c = client.contact(&id);
        assert_eq!(c["organization"], "Yale", "{who} keeps A's edit");
        assert_eq!(c["language"], "en", "{who} keeps B's edit");
        assert_eq!(c["emails"][0]["address"], "grace@example.org", "{who} has B's new email");
    }
}

#[test]
fn a_deleted_contact_disappears_on_the_other_side() {
    let (_server, a, b) = setup();
    let id = a.ok(&["contact", "add", "--name", "Temporary Person", "--email", "temp@example.org"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    assert_eq!(b.contact(&id)["display_name"], "Temporary Person");
    b.ok(&["contact", "delete", &id]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    let err = a.fails(&["contact", "show", &id]);
    assert!(err.contains("not found"), "A no longer has it: {err}");
    assert_eq!(a.json(&["contact", "search", "temporary"]).as_array().map(Vec::len), Some(0), "nor in search");
}

#[test]
fn a_retried_push_batch_whose_answer_was_lost_is_applied_once() {
    let (_server, a, b) = setup();
    let id = a.ok(&["contact", "add", "--name", "Lost Response"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["contact", "edit", &id, "--note", "edited once"]);
    a.ok(&["sync"]);
    // The server committed that batch; now pretend its answer never reached A: the outbox
    // entries go back to "sent", exactly as if the connection had dropped after the commit.
    {
        let mut profile = liaison_core::Profile::new(a.dir.path());
        profile.unlock(Some(crate::harness::PASSPHRASE)).expect("unlock A");
        let store = profile.store().expect("store");
        let n = store
            .conn()
            .execute("UPDATE outbox SET state = 'sent' WHERE batch_id = (SELECT max(batch_id) FROM outbox)", [])
            .expect("rewind");
        assert!(n > 0, "there was a batch to rewind");
    }
    assert!(a.pending() > 0, "A believes the batch is still in flight");
    let report = a.json(&["sync"]);
    assert_eq!(report["rejected"], 0);
    assert_eq!(a.pending(), 0, "the retry got the stored answer");
    b.ok(&["sync"]);
    let again = b.json(&["sync"]);
    assert_eq!(again["pulled"], 0, "the retried batch did not create a new server version");
    assert_eq!(b.contact(&id)["notes"], "edited once");
}

#[test]
fn the_sync_ledger_shows_each_change_pending_then_accepted() {
    let (_server, a, _b) = setup();
    let id = a.ok(&["contact", "add", "--name", "Ledger Person", "--email", "ledger@example.org"]);
    let before = a.json(&["sync", "--status"]);
    let entries = before.as_array().expect("a list");
    assert_eq!(entries.len(), 2, "one change for the contact, one for its email: {before}");
    assert!(entries.iter().all(|e| e["state"] == "pending"), "nothing sent yet: {before}");
    assert_eq!(entries[0]["row_id"], id.as_str());
    assert_eq!(entries[0]["entity"], "contact");
    assert_eq!(entries[1]["label"], "Ledger Person", "a child row's change names the contact it belongs to");
    a.ok(&["sync"]);
    let after = a.json(&["sync", "--status"]);
    assert!(
        after.as_array().expect("list").iter().all(|e| e["state"] == "accepted" && e["error"].is_null()),
        "the server accepted both: {after}"
    );
}

#[test]
fn an_erased_contact_disappears_everywhere_and_offline_edits_cannot_bring_it_back() {
    let (server, a, b) = setup();
    let id = a.ok(&[
        "contact",
        "add",
        "--name",
        "Erase Me Person",
        "--email",
        "erase.me@example.org",
        "--note",
        "asked to be forgotten",
    ]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    // B works offline: edits the person and adds an email the server has never seen.
    b.ok(&[
        "contact",
        "edit",
        &id,
        "--note",
        "offline note",
        "--email",
        "erase.me@example.org",
        "--email",
        "new.address@example.org",
    ]);
    let said = server.erase_contact(&id);
    assert!(said.contains(&id), "the admin is told what was erased: {said}");
    a.ok(&["sync"]);
    assert!(a.fails(&["contact", "show", &id]).contains("not found"), "A no longer holds the person");
    b.ok(&["sync"]);
    assert!(
        b.fails(&["contact", "show", &id]).contains("not found"),
        "B's offline edits did not keep the person alive"
    );
    assert_eq!(b.pending(), 0, "nothing about the person waits to be sent");
    let ledger = b.json(&["sync", "--status"]);
    let refused: Vec<&serde_json::Value> =
        ledger.as_array().expect("list").iter().filter(|e| e["state"] == "rejected").collect();
    assert!(
        !refused.is_empty() && refused.iter().all(|e| e["error"]["code"] == "erased"),
        "B's ledger says its edits were refused because of the erasure: {ledger}"
    );
    assert!(
        !ledger.to_string().contains("offline note") && !ledger.to_string().contains("new.address"),
        "and keeps none of their content: {ledger}"
    );
    a.ok(&["sync"]);
    assert!(
        a.fails(&["contact", "show", &id]).contains("not found"),
        "after B synced, the person is still gone from A"
    );
    let c = Client::new();
    c.login(&server, "ana");
    c.ok(&["sync"]);
    assert_eq!(
        c.json(&["contact", "search", "erase"]).as_array().map(Vec::len),
        Some(0),
        "a new device never receives the person"
    );
}

#[test]
fn staff_erase_a_person_from_their_device_and_volunteers_cannot() {
    let (_server, a, b) = setup(); // a: staff, b: volunteer
    let id = a.ok(&["contact", "add", "--name", "Forget Me Please", "--email", "forget@example.org"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    let err = a.fails(&["contact", "erase", &id]);
    assert!(err.contains("--yes"), "without a terminal, erasure needs an explicit --yes: {err}");
    let err = b.fails(&["contact", "erase", &id, "--yes"]);
    assert!(err.contains("Only staff and administrators"), "a volunteer is refused: {err}");
    assert_eq!(b.contact(&id)["display_name"], "Forget Me Please", "and nothing was erased");
    let said = a.ok(&["contact", "erase", &id, "--yes"]);
    assert!(said.contains("Erased Forget Me Please"), "{said}");
    assert!(a.fails(&["contact", "show", &id]).contains("not found"), "gone at once on the device that erased it");
    b.ok(&["sync"]);
    assert!(
        b.fails(&["contact", "show", &id]).contains("not found"),
        "and from the volunteer's device at its next sync"
    );
}
