//! Scopes through the real server: a restricted contact never reaches a volunteer by any path
//! (pull, search, counts, conflicts); a grant brings it, a revoke or a restriction physically
//! deletes it from the volunteer's device; refused pushes are refused per change.

use crate::harness::{Client, Server};

use crate::harness::staff_and_volunteer as setup;

fn count(client: &Client) -> u64 {
    client.json(&["status"])["contacts"].as_u64().expect("contact count")
}

fn searchable(client: &Client, query: &str) -> usize {
    client.json(&["contact", "search", query]).as_array().map_or(0, Vec::len)
}

#[test]
fn a_restricted_contact_never_reaches_a_volunteer_until_granted_and_leaves_when_revoked() {
    let (server, staff, volunteer) = setup();
    let secret = staff.ok(&["contact", "add", "--name", "Whistle Blower", "--email", "wb@example.org", "--restricted"]);
    staff.ok(&["contact", "add", "--name", "Open Reader"]);
    assert_eq!(staff.contact(&secret)["restricted"], true);
    staff.ok(&["sync"]);
    volunteer.ok(&["sync"]);

    assert!(volunteer.fails(&["contact", "show", &secret]).contains("not found"), "not pulled");
    assert_eq!(searchable(&volunteer, "Whistle"), 0, "not searchable");
    assert_eq!(searchable(&volunteer, "wb@example"), 0, "not even by its email");
    assert_eq!(count(&volunteer), 1, "not counted: only the open contact");
    let held = std::fs::read(volunteer.dir.path().join("liaison.db")).unwrap_or_default();
    assert!(!held.windows(7).any(|w| w == b"Whistle"), "(the database is encrypted anyway)");

    let granted = server.admin(&["grant", "ben", "contact", &secret]);
    assert!(granted.contains("ben"), "grant says what it did: {granted}");
    volunteer.ok(&["sync"]);
    assert_eq!(
        volunteer.contact(&secret)["emails"][0]["address"],
        "wb@example.org",
        "a grant brings the contact and its emails"
    );

    server.admin(&["revoke", "ben", "contact", &secret]);
    volunteer.ok(&["sync"]);
    assert!(
        volunteer.fails(&["contact", "show", &secret]).contains("not found"),
        "a revoke deletes it from the device"
    );
    assert_eq!(searchable(&volunteer, "Whistle"), 0);
    assert_eq!(count(&volunteer), 1);
}

#[test]
fn restricting_a_contact_a_volunteer_already_has_deletes_it_there_and_refuses_their_offline_edit() {
    let (_server, staff, volunteer) = setup();
    let id = staff.ok(&["contact", "add", "--name", "Later Sensitive", "--org", "Press"]);
    let other = staff.ok(&["contact", "add", "--name", "Stays Open"]);
    staff.ok(&["sync"]);
    volunteer.ok(&["sync"]);
    assert_eq!(volunteer.contact(&id)["display_name"], "Later Sensitive");

    // The volunteer edits both offline; meanwhile staff restricts one of them.
    volunteer.ok(&["contact", "edit", &id, "--note", "volunteer note"]);
    volunteer.ok(&["contact", "edit", &other, "--note", "fine"]);
    staff.ok(&["contact", "edit", &id, "--restricted", "true"]);
    staff.ok(&["sync"]);
    volunteer.ok(&["sync"]);

    assert!(
        volunteer.fails(&["contact", "show", &id]).contains("not found"),
        "the restricted contact is gone from the volunteer's device"
    );
    assert_eq!(
        volunteer.contact(&other)["notes"],
        "fine",
        "the other edit went through: one refused change blocks nothing"
    );
    let ledger = volunteer.json(&["sync", "--status"]);
    let refused: Vec<_> = ledger.as_array().expect("ledger").iter().filter(|e| e["state"] == "rejected").collect();
    assert_eq!(refused.len(), 1, "the edit of the restricted contact is refused: {ledger}");
    assert_eq!(refused[0]["error"]["code"], "forbidden", "with a typed reason");
    assert!(refused[0]["fields"].as_array().is_some_and(Vec::is_empty), "and its data no longer kept on the device");
    staff.ok(&["sync"]);
    assert_eq!(staff.contact(&id)["notes"], serde_json::Value::Null, "the volunteer's note never reached the server");

    // Unrestricting brings it back to volunteers.
    staff.ok(&["contact", "edit", &id, "--restricted", "false"]);
    staff.ok(&["sync"]);
    volunteer.ok(&["sync"]);
    assert_eq!(volunteer.contact(&id)["display_name"], "Later Sensitive");
}

#[test]
fn a_volunteer_may_not_restrict_and_is_told_why() {
    let (_server, staff, volunteer) = setup();
    let id = staff.ok(&["contact", "add", "--name", "Anyone"]);
    staff.ok(&["sync"]);
    volunteer.ok(&["sync"]);
    let err = volunteer.fails(&["contact", "edit", &id, "--restricted", "true"]);
    assert!(err.contains("Only staff and administrators"), "{err}");
    let err = volunteer.fails(&["contact", "add", "--name", "Mine", "--restricted"]);
    assert!(err.contains("Only staff and administrators"), "{err}");
}

#[test]
fn conflicts_on_a_restricted_contact_stay_with_those_who_may_see_it() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("cy", "staff");
    server.add_user("ben", "volunteer");
    let (a, c, v) = (Client::new(), Client::new(), Client::new());
    a.login(&server, "ana");
    c.login(&server, "cy");
    v.login(&server, "ben");
    let id = a.ok(&["contact", "add", "--name", "Sensitive Case", "--org", "One", "--restricted"]);
    a.ok(&["sync"]);
    c.ok(&["sync"]);
    a.ok(&["contact", "edit", &id, "--org", "Two"]);
    c.ok(&["contact", "edit", &id, "--org", "Three"]);
    a.ok(&["sync"]);
    c.ok(&["sync"]);
    a.ok(&["sync"]);
    v.ok(&["sync"]);
    assert_eq!(a.json(&["conflicts", "list"]).as_array().map(Vec::len), Some(1), "staff see the conflict");
    assert_eq!(
        v.json(&["conflicts", "list", "--all"]).as_array().map(Vec::len),
        Some(0),
        "the volunteer never receives it"
    );
    assert_eq!(v.json(&["status"])["sync"]["conflicts"], 0);
}
