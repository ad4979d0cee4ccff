//! The desk through the real server and real clients: a case written offline reaches exactly the
//! queue's members, with its thread and its files, and leaves their devices (physically) when
//! their membership ends.

use crate::harness::{Client, PASSPHRASE, Server};
use sha2::{Digest, Sha256};

/// Raw row counts of the desk's tables in a client's encrypted store (not the CLI's queries).
fn held(client: &Client) -> Vec<(&'static str, i64)> {
    let mut profile = liaison_core::Profile::new(client.dir.path());
    profile.unlock(Some(PASSPHRASE)).expect("unlock");
    let store = profile.store().expect("store");
    let conn = store.conn();
    let secure: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0)).expect("pragma");
    assert_eq!(secure, 1, "deleted content is overwritten, not left in free pages");
    ["queue", "queue_member", "\"case\"", "case_contact", "case_message", "attachment", "blob", "case_fts"]
        .into_iter()
        .map(|table| {
            (
                table,
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).expect("count"),
            )
        })
        .collect()
}

#[test]
fn a_case_written_offline_reaches_the_queue_s_members_only_and_leaves_when_a_membership_ends() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    server.add_user("cai", "volunteer");
    server.admin(&["queue", "add", "--name", "info-en", "--email", "info-en@example.org", "--language", "en"]);
    server.admin(&["queue", "member", "add", "info-en", "ben"]);
    let (staff, member, outsider) = (Client::new(), Client::new(), Client::new());
    staff.login(&server, "ana");
    member.login(&server, "ben");
    outsider.login(&server, "cai");
    staff.ok(&["sync"]);
    assert_eq!(staff.json(&["queue", "list"])[0]["name"], "info-en", "staff receive the queue");

    // Offline on the staff laptop: a reader, their case, a note with a screenshot.
    let reader = staff.ok(&["contact", "add", "--name", "Rita Reader", "--email", "rita@example.org"]);
    let case = staff.ok(&[
        "case",
        "new",
        "--queue",
        "info-en",
        "--subject",
        "Wrong birth date in an article",
        "--reader",
        &reader,
        "--text",
        "The article says 1901; it is 1910.",
        "--page",
        "en.wikipedia.org:Ada Example",
    ]);
    let screenshot = staff.tmp.path().join("screenshot.png");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&screenshot, &content).expect("write file");
    staff.ok(&[
        "case",
        "note",
        &case,
        "--text",
        "Checked the sources: 1910 is right.",
        "--attach",
        screenshot.to_str().expect("path"),
    ]);
    staff.ok(&["case", "state", &case, "open"]);
    staff.ok(&["sync"]);

    member.ok(&["sync"]);
    let shown = member.json(&["case", "show", &case]);
    assert_eq!(shown["subject"], "Wrong birth date in an article");
    assert_eq!(shown["state"], "open");
    assert_eq!(shown["contacts"][0]["name"], "Rita Reader", "with its reader");
    let thread = shown["messages"].as_array().expect("thread");
    let kinds: Vec<&str> = thread.iter().filter_map(|m| m["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["inbound", "note", "event"], "the reader's message, the note, the state change");
    let file = &thread[1]["attachments"][0];
    assert_eq!(
        (file["name"].as_str(), file["stored"].as_bool()),
        (Some("screenshot.png"), Some(false)),
        "metadata syncs, content on first open"
    );
    let saved = member.tmp.path().join("saved.png");
    member.ok(&["case", "attachment", file["id"].as_str().expect("id"), "--output", saved.to_str().expect("path")]);
    let fetched = std::fs::read(&saved).expect("saved file");
    assert_eq!(hex::encode(Sha256::digest(&fetched)), hex::encode(Sha256::digest(&content)), "identical by hash");
    assert_eq!(
        member.json(&["case", "show", &case])["messages"][1]["attachments"][0]["stored"],
        true,
        "and kept inside the vault"
    );
    assert_eq!(
        member.json(&["case", "list", "--search", "sources"])["items"][0]["id"],
        case,
        "the thread is searchable"
    );
    // The member answers from their laptop; staff see it.
    member.ok(&["case", "log", &case, "--channel", "irc", "--text", "Rita thanked us on IRC."]);
    member.ok(&["sync"]);
    staff.ok(&["sync"]);
    assert_eq!(staff.json(&["case", "show", &case])["messages"].as_array().map(Vec::len), Some(4));

    outsider.ok(&["sync"]);
    assert_eq!(outsider.json(&["queue", "list"]), serde_json::json!([]), "a non-member holds no queue");
    assert_eq!(outsider.json(&["case", "list"])["total"], 0, "nor its cases");
    assert!(outsider.fails(&["case", "show", &case]).contains("not found"));
    assert!(held(&outsider).iter().all(|(_, n)| *n == 0), "nothing of the queue is stored: {:?}", held(&outsider));

    // Membership removed: the case, its thread and the file's content are gone from the device.
    assert!(held(&member).iter().all(|(_, n)| *n > 0), "before: {:?}", held(&member));
    server.admin(&["queue", "member", "remove", "info-en", "ben"]);
    member.ok(&["sync"]);
    assert!(member.fails(&["case", "show", &case]).contains("not found"));
    let after = held(&member);
    assert!(
        after.iter().all(|(_, n)| *n == 0),
        "deleted rows and an empty attachment store, not hidden ones: {after:?}"
    );
    assert_eq!(member.json(&["contact", "show", &reader])["display_name"], "Rita Reader", "public contacts stay");
    let refused = member.fails(&["case", "note", &case, "--text", "too late"]);
    assert!(refused.contains("not found"), "{refused}");

    // Added back (a new round of the membership: the old one's tombstone stays), the queue and
    // its cases come back too.
    server.admin(&["queue", "member", "add", "info-en", "ben"]);
    member.ok(&["sync"]);
    assert_eq!(member.json(&["case", "show", &case])["subject"], "Wrong birth date in an article", "back again");
    // From a staff laptop too: removed and added back offline, one sync later ben is a member.
    staff.ok(&["queue", "member", "remove", "info-en", "ben"]);
    staff.ok(&["sync"]);
    staff.ok(&["queue", "member", "add", "info-en", "ben", "--role", "lead"]);
    staff.ok(&["sync"]);
    member.ok(&["sync"]);
    assert_eq!(member.json(&["queue", "show", "info-en"])["members"][0]["role"], "lead");
    assert_eq!(member.json(&["case", "show", &case])["state"], "open", "the cases are there again");
    // A contact taken off a case can be linked again, as another link.
    staff.ok(&["case", "link", &case, &reader, "--remove"]);
    staff.ok(&["sync"]);
    staff.ok(&["case", "link", &case, &reader, "--role", "subject"]);
    staff.ok(&["sync"]);
    member.ok(&["sync"]);
    let contacts = member.json(&["case", "show", &case])["contacts"].clone();
    assert_eq!(contacts.as_array().map(Vec::len), Some(1), "one link, not the old and the new: {contacts}");
    assert_eq!(contacts[0]["role"], "subject");
}

#[test]
fn members_work_cases_and_the_queue_s_rules_hold_on_a_volunteer_s_laptop() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    server.admin(&["queue", "add", "--name", "info-de", "--states", "waiting on legal"]);
    server.admin(&["queue", "member", "add", "info-de", "ben"]);
    let member = Client::new();
    member.login(&server, "ben");
    member.ok(&["sync"]);
    let queue = member.json(&["queue", "show", "info-de"]);
    assert_eq!(queue["members"][0]["user"], "ben");
    let refused = member.fails(&["queue", "add", "--name", "mine"]);
    assert!(refused.contains("Only staff"), "{refused}");

    let case = member.ok(&[
        "case",
        "new",
        "--queue",
        "info-de",
        "--subject",
        "Beschwerde",
        "--kind",
        "complaint",
        "--channel",
        "phone",
    ]);
    member.ok(&["case", "state", &case, "waiting on legal"]);
    let bad = member.fails(&["case", "state", &case, "snoozed"]);
    assert!(bad.contains("waiting on legal") && bad.contains("pending"), "the error lists the queue's states: {bad}");
    member.ok(&["case", "assign", &case, "ben"]);
    member.ok(&["sync"]);
    let staff = Client::new();
    staff.login(&server, "ana");
    staff.ok(&["sync"]);
    let seen = staff.json(&["case", "show", &case]);
    assert_eq!(
        (seen["state"].as_str(), seen["owner"].as_str(), seen["kind"].as_str()),
        (Some("waiting on legal"), Some("ben"), Some("complaint"))
    );
    assert_eq!(staff.json(&["case", "list", "--owner", "ben", "--open"])["total"], 1);
    let ledger = member.json(&["sync", "--status"]);
    assert!(
        ledger.as_array().expect("ledger").iter().all(|e| e["state"] == "accepted"),
        "every change was accepted: {ledger}"
    );
    assert!(
        ledger.as_array().expect("ledger").iter().any(|e| e["label"] == "Beschwerde"),
        "the ledger names the case: {ledger}"
    );
}

#[test]
fn canned_replies_reach_everyone_or_a_queue_s_members_and_fill_in_a_case_in_its_language() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    server.add_user("cai", "volunteer");
    server.admin(&["queue", "add", "--name", "info-de", "--email", "info-de@example.org", "--language", "de"]);
    server.admin(&["queue", "member", "add", "info-de", "ben"]);
    let (staff, member, outsider) = (Client::new(), Client::new(), Client::new());
    staff.login(&server, "ana");
    member.login(&server, "ben");
    outsider.login(&server, "cai");
    staff.ok(&["sync"]);
    staff.ok(&["queue", "edit", "info-de", "--signature=-- Wikimedia Support"]);
    staff.ok(&[
        "canned",
        "add",
        "--name",
        "Thanks",
        "--shortcut",
        "thanks",
        "--text",
        "en=Dear {{reader_name|reader}}, thank you.",
        "--text",
        "de=Hallo {{reader_name|Leserin, Leser}}, danke.\\n{{queue_signature}}",
    ]);
    staff.ok(&["canned", "add", "--name", "Intern", "--queue", "info-de", "--text", "de=Nur für das Team."]);
    let refused = staff.fails(&["canned", "add", "--name", "Broken", "--text", "en=Dear {{name}}"]);
    assert!(refused.contains("{{name}} is not a variable"), "the template's fault, in words: {refused}");
    let reader = staff.ok(&["contact", "add", "--name", "Rita Reader"]);
    let case = staff.ok(&["case", "new", "--queue", "info-de", "--subject", "Frage", "--reader", &reader]);
    staff.ok(&["sync"]);

    member.ok(&["sync"]);
    outsider.ok(&["sync"]);
    let names = |client: &Client| -> Vec<String> {
        let list = client.json(&["canned", "list"]);
        list.as_array().expect("list").iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
    };
    assert_eq!(names(&member), ["Intern", "Thanks"], "a member receives the queue's replies and everyone's");
    assert_eq!(names(&outsider), ["Thanks"], "a non-member only the reply for every queue");

    let filled = member.json(&["canned", "show", "::thanks", "--case", &case]);
    assert_eq!(filled["language"], "de", "the case has no language: the queue's");
    assert_eq!(filled["text"], "Hallo Rita Reader, danke.\n-- Wikimedia Support");
}
