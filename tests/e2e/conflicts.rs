//! Conflicts are shown, not swallowed: concurrent edits through the real server reach every
//! device's conflict inbox (`liaison conflicts list|show|resolve`), and resolving is an edit
//! that syncs.

use crate::harness::Client;
use serde_json::Value;

use crate::harness::staff_and_volunteer as setup;

fn conflicts(client: &Client) -> Vec<Value> {
    client.json(&["conflicts", "list"]).as_array().cloned().expect("a JSON list")
}

#[test]
fn two_offline_edits_of_one_field_become_one_conflict_on_both_devices() {
    let (_server, a, b) = setup();
    let id = a.ok(&["contact", "add", "--name", "Grace Hopper", "--org", "Navy"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    // Both edit the same field offline, with different values; B syncs last and wins by clock.
    a.ok(&["contact", "edit", &id, "--org", "Yale"]);
    b.ok(&["contact", "edit", &id, "--org", "Harvard"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);

    let on_a = conflicts(&a);
    let on_b = conflicts(&b);
    assert_eq!((on_a.len(), on_b.len()), (1, 1), "exactly one conflict, and both devices see it");
    assert_eq!(on_a[0]["id"], on_b[0]["id"], "the same conflict record");
    let c = &on_a[0];
    assert_eq!(c["field"], "organization");
    assert_eq!(
        (c["owner_entity"].as_str(), c["owner_label"].as_str()),
        (Some("contact"), Some("Grace Hopper")),
        "the conflict names the record it is about"
    );
    assert_eq!(c["mine"]["value"], "Yale", "A sees its own value as mine");
    assert_eq!(c["theirs"]["value"], "Harvard");
    assert_eq!(c["theirs"]["user"], "ben", "and who wrote the other one");
    assert_eq!(on_b[0]["mine"]["value"], "Harvard", "B sees its own value as mine");
    assert_eq!(a.contact(&id)["organization"], b.contact(&id)["organization"], "the merge still converged");
    assert_eq!(a.json(&["status"])["sync"]["conflicts"], 1, "the status counts it");
    let shown = a.ok(&["conflicts", "show", c["id"].as_str().expect("id")]);
    assert!(shown.contains("Yale") && shown.contains("Harvard"), "show puts both sides side by side: {shown}");

    // A keeps its own value: an ordinary edit that reaches B, and the conflict closes everywhere.
    a.ok(&["conflicts", "resolve", c["id"].as_str().expect("id"), "--keep", "mine"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    for (who, client) in [("A", &a), ("B", &b)] {
        assert_eq!(client.contact(&id)["organization"], "Yale", "{who} has the chosen value");
        assert!(conflicts(client).is_empty(), "{who}'s inbox is empty after the resolution synced");
    }
    let history = b.json(&["conflicts", "list", "--all"]);
    assert_eq!(history[0]["resolution"], "kept_mine");
    assert_eq!(history[0]["resolved_by"], "ana", "the server records who resolved it");
}

#[test]
fn the_same_value_written_twice_or_edits_of_different_fields_are_no_conflict() {
    let (_server, a, b) = setup();
    let id = a.ok(&["contact", "add", "--name", "Same Value", "--org", "Old"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["contact", "edit", &id, "--org", "New", "--lang", "fr"]);
    b.ok(&["contact", "edit", &id, "--org", "New", "--note", "hello"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    assert!(
        conflicts(&a).is_empty() && conflicts(&b).is_empty(),
        "agreeing edits and different fields are not conflicts"
    );
    // A sequential edit (B saw A's version first) is no conflict either.
    b.ok(&["contact", "edit", &id, "--org", "Newer"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    a.ok(&["contact", "edit", &id, "--org", "Newest"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    assert!(
        conflicts(&a).is_empty() && conflicts(&b).is_empty(),
        "an edit made after seeing the other is not concurrent"
    );
}

#[test]
fn an_edit_that_meets_a_delete_goes_to_the_inbox_and_never_revives_the_contact() {
    let (_server, a, b) = setup();
    let id = a.ok(&["contact", "add", "--name", "Deleted Meanwhile", "--org", "Before"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["contact", "delete", &id]);
    b.ok(&["contact", "edit", &id, "--name", "Edited Offline", "--org", "After"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    for (who, client) in [("A", &a), ("B", &b)] {
        assert!(client.fails(&["contact", "show", &id]).contains("not found"), "{who}: the delete won");
    }
    let on_b = conflicts(&b);
    assert_eq!(on_b.len(), 1, "the set-aside edit is in B's inbox");
    assert_eq!(on_b[0]["kind"], "delete");
    assert_eq!(on_b[0]["mine"]["value"]["organization"], "After", "with B's change");
    assert_eq!(conflicts(&a).len(), 1, "A is shown it too");

    // B restores its change as a new contact.
    let done = b.json(&["conflicts", "resolve", on_b[0]["id"].as_str().expect("id"), "--keep", "mine"]);
    let new_id = done["restored_id"].as_str().expect("a new contact id").to_string();
    assert_ne!(new_id, id);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    assert_eq!(a.contact(&new_id)["display_name"], "Edited Offline", "the restored contact reaches A");
    assert!(conflicts(&a).is_empty(), "and the conflict is closed on A");
}

#[test]
fn resolving_needs_a_decision_and_an_unknown_id_says_so() {
    let (_server, a, _b) = setup();
    let err = a.fails(&["conflicts", "resolve", "not-an-id", "--keep", "mine"]);
    assert!(err.contains("not a conflict id"), "{err}");
    let err = a.fails(&["conflicts", "resolve", "01939f8e-0000-7000-8000-000000000000", "--keep", "theirs"]);
    assert!(err.contains("not found"), "{err}");
    let err = a.fails(&["conflicts", "resolve", "01939f8e-0000-7000-8000-000000000000"]);
    assert!(err.contains("--keep") || err.contains("--value"), "clap names the missing choice: {err}");
}
