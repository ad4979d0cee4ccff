//! The desk through the real server and real clients: a case written offline reaches exactly the
//! queue's members, with its thread and its files, and leaves their devices (physically) when
//! their membership ends.

use crate::harness::{Client, PASSPHRASE, Server};
use serde_json::{Value, json};
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

/// Poll `check` every 300 ms until it gives a value or `seconds` pass.
fn wait_for<T>(seconds: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(std::time::Instant::now() < until, "{what} within {seconds} s");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    raw.lines().find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].trim())
}

/// The mail servers, and a server whose queue info-en (24×7 SLA targets, a signature) reads
/// and sends mail through them; the staff member ana and the volunteer ben, a member of info-en.
/// Every message the SMTP server accepts lands in reader@example.org's mailbox.
fn desk_with_mailbox() -> (liaison_server::testing::mail::MailServers, Server) {
    desk_over(Tls::Starttls, None)
}

/// How the queue's mailbox talks to the mail servers.
#[derive(Clone, Copy)]
enum Tls {
    /// IMAP and SMTP with STARTTLS (ports 143 and 587 in the wild).
    Starttls,
    /// Implicit TLS (ports 993 and 465).
    Implicit,
}

/// As [`desk_with_mailbox`], over `tls`, with the queue sending to 127.0.0.1:`smtp_port` when
/// given (else to the SMTP server's port for `tls`).
fn desk_over(tls: Tls, smtp_port: Option<u16>) -> (liaison_server::testing::mail::MailServers, Server) {
    use liaison_server::testing::mail::MailServers;
    let mail = MailServers::start(
        &[("info-en@example.test", "secret"), ("reader@example.org", "reader")],
        "reader@example.org",
    )
    .expect("Dovecot and aiosmtpd start (cargo xtask setup installs them)");
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    server.admin(&[
        "queue",
        "add",
        "--name",
        "info-en",
        "--email",
        "info-en@example.test",
        "--language",
        "en",
        "--signature",
        "Wikimedia Volunteer Response Team",
        "--sla",
        "first_response=480,update=1440,resolution=10080",
    ]);
    server.admin(&["queue", "member", "add", "info-en", "ben"]);
    let ca = server.dir.path().join("mail-ca.pem");
    std::fs::write(&ca, mail.ca_cert_pem()).expect("write the CA");
    let (imap_port, smtp_default, tls_mode) = match tls {
        Tls::Starttls => (mail.imap_port(), mail.smtp_port(), "starttls"),
        Tls::Implicit => (mail.imaps_port(), mail.smtps_port(), "implicit"),
    };
    let imap = format!("imap://info-en@example.test@127.0.0.1:{imap_port}");
    let smtp = format!("smtp://127.0.0.1:{}", smtp_port.unwrap_or(smtp_default));
    let ca = ca.to_string_lossy().into_owned();
    let said = server.admin_with(
        &["queue", "mailbox", "set", "info-en", "--imap", &imap, "--smtp", &smtp, "--tls", tls_mode, "--ca-cert", &ca],
        &[("LIAISON_MAILBOX_PASSWORD", "secret")],
    );
    assert!(said.contains("reads mail from 127.0.0.1"), "{said}");
    (mail, server)
}

#[test]
fn a_reader_s_mail_becomes_a_case_answered_offline_with_a_canned_reply_that_reaches_the_reader_once_threaded() {
    let (mail, server) = desk_with_mailbox();
    let said = server.admin(&[
        "queue",
        "mailbox",
        "acknowledgement",
        "info-en",
        "--text",
        "en=Dear {{reader_name|reader}}, we received your message: case {{case_number}}.",
    ]);
    assert!(said.contains("acknowledges mail that opens a case, in en"), "{said}");
    let (staff, volunteer) = (Client::new(), Client::new());
    staff.login(&server, "ana");
    volunteer.login(&server, "ben");
    staff.ok(&[
        "canned",
        "add",
        "--name",
        "Thanks",
        "--text",
        "en=Dear {{reader_name|reader}}, thank you for case {{case_number}}.",
        "--text",
        "de=Hallo {{reader_name|Leserin}}, danke.",
    ]);
    staff.ok(&["sync"]);

    let first = "From: Rita Reader <reader@example.org>\r\nTo: info-en@example.test\r\nSubject: Error in the article\r\n\
                 Message-ID: <r1@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\nThe date of birth is wrong.\r\n";
    mail.append("info-en@example.test", first.as_bytes()).expect("append the reader's mail");
    let case = wait_for(30, "the reader's mail reaches the volunteer's device as a case", || {
        volunteer.ok(&["sync"]);
        let list = volunteer.json(&["case", "list"]);
        list["items"].as_array().and_then(|items| items.first()).and_then(|c| c["id"].as_str().map(str::to_owned))
    });
    let shown = volunteer.json(&["case", "show", &case]);
    assert_eq!(shown["subject"], "Error in the article");
    let number = shown["number"].as_u64().expect("the server numbered the case");
    let shown = wait_for(30, "the server's clocks reach the device", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        (shown["sla"]["first_response"]["state"] == "running").then_some(shown)
    });
    let due = shown["due_at"].as_str().expect("a running clock has a due time").to_owned();
    let due_at: chrono::DateTime<chrono::Utc> = due.parse().expect("due_at is RFC 3339");
    let hours = (due_at - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((7.5..=8.1).contains(&hours), "first response due in the queue's 8 hours (24×7), not {hours} h: {due}");
    let listed = volunteer.json(&["case", "list", "--view", "unanswered"]);
    assert_eq!(listed["items"][0]["id"], json!(case), "the reader waits: the case is unanswered");
    assert_eq!(shown["messages"][0]["body"].as_str().map(str::trim), Some("The date of birth is wrong."));

    // Answered offline: the reply waits in the device's outbox, then goes out at the next sync.
    let reply = volunteer.ok(&["case", "reply", &case, "--canned", "Thanks"]);
    assert!(reply.contains("canned reply in en"), "the composer says which version it used: {reply}");
    volunteer.ok(&["case", "note", &case, "--text", "Checked the sources; internal only."]);
    volunteer.ok(&["sync"]);
    let delivered = mail
        .wait_for_messages("reader@example.org", 2, std::time::Duration::from_secs(30))
        .expect("the acknowledgement and the reply arrive");
    let delivered: Vec<String> = delivered.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect();
    let (acks, replies): (Vec<&String>, Vec<&String>) =
        delivered.iter().partition(|m| header(m, "Auto-Submitted").is_some());
    assert_eq!((acks.len(), replies.len()), (1, 1), "one acknowledgement, one reply: {delivered:?}");
    let ack = acks[0];
    assert_eq!(header(ack, "Auto-Submitted"), Some("auto-replied"), "RFC 3834:\n{ack}");
    assert_eq!(header(ack, "X-Loop"), Some("info-en@example.test"), "names the desk, against loops:\n{ack}");
    assert_eq!(header(ack, "X-MailFrom"), Some("<>"), "an empty envelope sender: nothing bounces back to it:\n{ack}");
    assert!(ack.contains(&format!("Dear Rita Reader, we received your message: case {number}.")), "{ack}");
    assert_eq!(header(ack, "In-Reply-To"), Some("<r1@example.org>"), "threaded under the reader's mail:\n{ack}");
    let raw = replies[0].clone();
    assert!(
        header(&raw, "X-MailFrom").is_some_and(|f| f.contains("info-en@example.test")),
        "a reply has the queue's envelope sender (the SMTP server's record):\n{raw}"
    );
    assert!(header(&raw, "Auto-Submitted").is_none(), "a person's reply is not automatic");
    assert!(
        header(&raw, "From").is_some_and(|f| f.contains("info-en@example.test")),
        "from the queue's address:\n{raw}"
    );
    assert_eq!(header(&raw, "In-Reply-To"), Some("<r1@example.org>"), "threaded under the reader's mail:\n{raw}");
    assert!(header(&raw, "References").is_some_and(|r| r.contains("<r1@example.org>")), "{raw}");
    let subject = header(&raw, "Subject").unwrap_or_default();
    assert!(subject.contains(&format!("[Liaison #{number}]")), "the case tag is in the subject: {subject}");
    assert!(
        raw.contains(&format!("Dear Rita Reader, thank you for case {number}.")),
        "rendered as in the composer:\n{raw}"
    );
    assert!(raw.contains("Wikimedia Volunteer Response Team"), "with the queue's signature:\n{raw}");
    assert!(!raw.contains("internal only"), "an internal note is never mailed");
    let reply_id = header(&raw, "Message-ID").expect("a Message-ID").to_owned();

    let state = wait_for(30, "the thread shows the reply as sent", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        let replies: Vec<Value> =
            shown["messages"].as_array().into_iter().flatten().filter(|m| m["kind"] == "reply").cloned().collect();
        let state = replies.first().and_then(|m| m["delivery"]["state"].as_str().map(str::to_owned));
        state.filter(|s| s == "sent")
    });
    assert_eq!(state, "sent");
    let answered = wait_for(30, "the reply stops the first-response and update clocks", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        (shown["sla"]["first_response"]["state"] == "stopped").then_some(shown)
    });
    assert_eq!(answered["sla"]["update"]["state"], "stopped", "{}", answered["sla"]);
    assert_eq!(answered["sla"]["resolution"]["state"], "running", "the case is still open");
    let unanswered = volunteer.json(&["case", "list", "--view", "unanswered"]);
    assert_eq!(unanswered["total"], 0, "answered: nobody waits");

    // The reader answers the reply: it joins the same case.
    let answer = format!(
        "From: reader@example.org\r\nTo: info-en@example.test\r\nSubject: Re: {subject}\r\nMessage-ID: <r2@example.org>\r\n\
         In-Reply-To: {reply_id}\r\nReferences: <r1@example.org> {reply_id}\r\n\r\nThank you!\r\n"
    );
    mail.append("info-en@example.test", answer.as_bytes()).expect("append the answer");
    wait_for(30, "the reader's answer joins the case", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        let inbound = shown["messages"].as_array().into_iter().flatten().filter(|m| m["kind"] == "inbound").count();
        (inbound == 2).then_some(())
    });
    let cases = volunteer.json(&["case", "list"]);
    assert_eq!(cases["items"].as_array().map(Vec::len), Some(1), "no second case for the answer");
    let reset = wait_for(30, "the reader's answer restarts the update clock", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        (shown["sla"]["update"]["state"] == "running").then_some(shown)
    });
    let update_due: chrono::DateTime<chrono::Utc> =
        reset["sla"]["update"]["due"].as_str().expect("the update clock's due time").parse().expect("RFC 3339");
    let hours = (update_due - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!(
        (23.5..=24.1).contains(&hours),
        "an update is due within the queue's 24 hours of the answer, not {hours} h"
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        mail.messages("reader@example.org").expect("read").len(),
        2,
        "exactly one reply (and the one acknowledgement) reached the reader; the answer opened no case to acknowledge"
    );
    let outbox = server.admin(&["mail", "outbox"]);
    assert!(outbox.contains("every reply by mail was sent"), "{outbox}");
}

#[test]
fn two_people_at_one_case_see_each_other_and_a_reply_sent_meanwhile_is_reported_before_the_other_sends() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    server.add_user("cai", "volunteer");
    server.admin(&["queue", "add", "--name", "info-en", "--email", "info-en@example.org"]);
    server.admin(&["queue", "member", "add", "info-en", "ben"]);
    let (ana, ben, cai) = (Client::new(), Client::new(), Client::new());
    ana.login(&server, "ana");
    ben.login(&server, "ben");
    cai.login(&server, "cai");
    ana.ok(&["sync"]);
    let case = ana.ok(&["case", "new", "--queue", "info-en", "--subject", "Photo licence", "--text", "Is it CC BY?"]);
    ana.ok(&["sync"]);
    ben.ok(&["sync"]);

    let alone = ana.json(&["case", "presence", &case]);
    assert_eq!(alone["others"], json!([]), "nobody else yet: {alone}");
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let seen = ben.json(&["case", "presence", &case, "--drafting"]);
    assert_eq!(seen["others"][0]["user"], "ana", "ben sees that ana has the case open: {seen}");
    assert_eq!(seen["others"][0]["activity"], "viewing");
    let seen = ana.json(&["case", "presence", &case]);
    assert_eq!(seen["others"][0]["user"], "ben");
    assert_eq!(seen["others"][0]["activity"], "drafting", "ana sees that ben is writing a reply: {seen}");
    let said = ana.ok(&["case", "presence", &case]);
    assert!(said.contains("ben is writing a reply"), "{said}");

    // Ana answers while Ben drafts; before Ben sends, the server tells him.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ana.ok(&["case", "reply", &case, "--text", "Yes, CC BY-SA 4.0."]);
    ana.ok(&["sync"]);
    let before_send = ben.json(&["case", "presence", &case, "--drafting", "--since", &started]);
    let replied = before_send["replied_since"].as_array().cloned().unwrap_or_default();
    assert_eq!(replied.len(), 1, "ana's reply reached the server after ben's draft began: {before_send}");
    assert_eq!(replied[0]["user"], "ana");
    let later = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let fresh = ben.json(&["case", "presence", &case, "--drafting", "--since", &later]);
    assert_eq!(fresh["replied_since"], json!([]), "a draft begun after the reply is told nothing");
    let own = ana.json(&["case", "presence", &case, "--since", &started]);
    assert_eq!(own["replied_since"], json!([]), "one's own reply is no collision");

    // Leaving ends it at once; someone who may not read the case learns nothing of it.
    ben.ok(&["case", "presence", &case, "--leave"]);
    assert_eq!(ana.json(&["case", "presence", &case])["others"], json!([]), "ben left");
    let refused = cai.fails(&["case", "presence", &case]);
    assert!(refused.contains("no such case"), "a non-member is told the case does not exist: {refused}");
    let bad = ben.fails(&["case", "presence", &case, "--since", "yesterday"]);
    assert!(bad.contains("RFC 3339"), "{bad}");
}

#[test]
fn mail_is_read_within_seconds_by_imap_idle_while_polling_waits_ten_minutes() {
    use liaison_server::testing::mail::MailServers;
    let mail = MailServers::start(&[("info-en@example.test", "secret")], "info-en@example.test")
        .expect("Dovecot and aiosmtpd start (cargo xtask setup installs them)");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir, "127.0.0.1:0", &[("LIAISON_MAIL_POLL_SECS", "600")]);
    server.add_user("ana", "staff");
    server.admin(&["queue", "add", "--name", "info-en", "--email", "info-en@example.test"]);
    let ca = server.dir.path().join("mail-ca.pem");
    std::fs::write(&ca, mail.ca_cert_pem()).expect("write the CA");
    let imap = format!("imap://info-en@example.test@127.0.0.1:{}", mail.imap_port());
    let smtp = format!("smtp://127.0.0.1:{}", mail.smtp_port());
    let ca = ca.to_string_lossy().into_owned();
    server.admin_with(
        &["queue", "mailbox", "set", "info-en", "--imap", &imap, "--smtp", &smtp, "--ca-cert", &ca],
        &[("LIAISON_MAILBOX_PASSWORD", "secret")],
    );
    let staff = Client::new();
    staff.login(&server, "ana");
    // The worker picks up the new mailbox and starts IDLE on it; give it that moment, then mail.
    std::thread::sleep(std::time::Duration::from_secs(8));
    let started = std::time::Instant::now();
    let raw = "From: reader@example.org\r\nTo: info-en@example.test\r\nSubject: Pushed, not polled\r\n\
               Message-ID: <idle-1@example.org>\r\n\r\nHello\r\n";
    mail.append("info-en@example.test", raw.as_bytes()).expect("append");
    wait_for(30, "IDLE brings the mail in long before the ten-minute poll", || {
        staff.ok(&["sync"]);
        let list = staff.json(&["case", "list"]);
        (list["total"] == 1).then_some(())
    });
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "read by IDLE, not by the poll");
}

/// `liaison-server ARGS --data-dir DIR` while no server runs on DIR.
fn admin_at(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(crate::harness::bin("liaison-server"))
        .args(args)
        .envs(env.iter().copied())
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run liaison-server");
    assert!(out.status.success(), "liaison-server {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_reply_whose_push_is_cut_off_and_whose_sending_is_killed_reaches_the_reader_exactly_once() {
    use liaison_server::testing::mail::MailServers;
    use std::time::Duration;
    let mail = MailServers::start(
        &[("info-en@example.test", "secret"), ("reader@example.org", "reader")],
        "reader@example.org",
    )
    .expect("Dovecot and aiosmtpd start (cargo xtask setup installs them)");
    // A mail server that takes the connection and never answers: the reply stays `sending`.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = held.clone();
    std::thread::spawn(move || {
        for stream in silent.incoming().flatten() {
            holder.lock().expect("lock").push(stream);
        }
    });
    let server = Server::start();
    let port = server.port;
    server.add_user("ben", "staff");
    server.admin(&["queue", "add", "--name", "info-en", "--email", "info-en@example.test"]);
    let ca = server.dir.path().join("mail-ca.pem");
    std::fs::write(&ca, mail.ca_cert_pem()).expect("write the CA");
    let ca = ca.to_string_lossy().into_owned();
    let imap = format!("imap://info-en@example.test@127.0.0.1:{}", mail.imap_port());
    let set_smtp = |dir: &std::path::Path, smtp_port: u16| {
        let smtp = format!("smtp://127.0.0.1:{smtp_port}");
        admin_at(
            dir,
            &["queue", "mailbox", "set", "info-en", "--imap", &imap, "--smtp", &smtp, "--ca-cert", &ca],
            &[("LIAISON_MAILBOX_PASSWORD", "secret")],
        )
    };
    set_smtp(server.dir.path(), silent_port);
    let volunteer = Client::new();
    volunteer.login(&server, "ben");
    let raw = "From: reader@example.org\r\nTo: info-en@example.test\r\nSubject: Once only\r\n\
               Message-ID: <once-1@example.org>\r\n\r\nPlease answer once.\r\n";
    mail.append("info-en@example.test", raw.as_bytes()).expect("append");
    let case = wait_for(30, "the mail becomes a case on the device", || {
        volunteer.ok(&["sync"]);
        volunteer.json(&["case", "list"])["items"][0]["id"].as_str().map(str::to_owned)
    });

    // The device's push is cut off again and again (its answer lost), then completes.
    volunteer.ok(&["case", "reply", &case, "--text", "Here is the one answer."]);
    for delay in [30, 80, 150] {
        let mut sync = volunteer
            .command(&["sync"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sync");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = sync.kill();
        let _ = sync.wait();
    }
    volunteer.ok(&["sync"]);
    let sending = wait_for(30, "the server is sending the reply to the mail server that never answers", || {
        let outbox = server.admin(&["mail", "outbox", "--json"]);
        let entries: Value = serde_json::from_str(&outbox).expect("outbox JSON");
        let entries = entries.as_array().cloned().unwrap_or_default();
        entries.iter().any(|e| e["state"] == "sending").then_some(entries)
    });
    assert_eq!(sending.len(), 1, "one outbox entry however often the push came: {sending:?}");

    // Killed mid-send; the mail server is fixed; the server starts again.
    let dir = server.stop();
    set_smtp(dir.path(), mail.smtp_port());
    let server = Server::start_in(dir, &format!("127.0.0.1:{port}"));
    let delivered = mail
        .wait_for_messages("reader@example.org", 1, Duration::from_secs(60))
        .expect("the reply is sent after the restart");
    assert!(String::from_utf8_lossy(&delivered[0]).contains("Here is the one answer."));
    wait_for(30, "the device sees the reply sent", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        let reply = shown["messages"].as_array().into_iter().flatten().find(|m| m["kind"] == "reply").cloned();
        reply.filter(|m| m["delivery"]["state"] == "sent").map(|_| ())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(mail.messages("reader@example.org").expect("read").len(), 1, "exactly one copy reached the reader");
    let outbox = server.admin(&["mail", "outbox"]);
    assert!(outbox.contains("every reply by mail was sent"), "{outbox}");
    drop(held);
}

fn messages_of(shown: &Value) -> Vec<Value> {
    shown["messages"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_reader_who_wrote_twice_is_merged_into_one_case_that_takes_their_next_mail_and_other_channels_are_never_mailed() {
    let (mail, server) = desk_with_mailbox();
    let (staff, volunteer) = (Client::new(), Client::new());
    staff.login(&server, "ana");
    volunteer.login(&server, "ben");
    for (id, subject, body) in [("r1", "Birth date of Ada", "The date is wrong."), ("r2", "Ada again", "Still wrong!")]
    {
        let raw = format!(
            "From: Rita Reader <reader@example.org>\r\nTo: info-en@example.test\r\nSubject: {subject}\r\n\
             Message-ID: <{id}@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
        );
        mail.append("info-en@example.test", raw.as_bytes()).expect("append the reader's mail");
    }
    let numbers = wait_for(30, "both mails reach the volunteer as two cases", || {
        volunteer.ok(&["sync"]);
        let list = volunteer.json(&["case", "list"]);
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let mut numbers: Vec<u64> = items.iter().filter_map(|c| c["number"].as_u64()).collect();
        numbers.sort_unstable();
        (numbers.len() == 2).then_some(numbers)
    });
    // Numbered in the order the mail arrived: r1's case first.
    let (first, again) = (format!("#{}", numbers[0]), format!("#{}", numbers[1]));

    // Merged offline, by number, on the volunteer's laptop; answered in the survivor.
    let said = volunteer.ok(&["case", "merge", &again, "--into", &first]);
    assert!(said.contains("Merged"), "{said}");
    let refused = volunteer.fails(&["case", "reply", &again, "--text", "Too late"]);
    assert!(refused.contains(&format!("Write in case {first}")), "a merged case takes no reply: {refused}");
    volunteer.ok(&["case", "reply", &first, "--text", "Thank you, Rita: we corrected the date."]);
    volunteer.ok(&["sync"]);
    let delivered =
        mail.wait_for_messages("reader@example.org", 1, std::time::Duration::from_secs(30)).expect("the reply arrives");
    let reply = String::from_utf8_lossy(&delivered[0]).into_owned();
    assert_eq!(header(&reply, "In-Reply-To"), Some("<r1@example.org>"), "threaded under the survivor's mail:\n{reply}");

    // The reader answers their second mail (the merged case's): it joins the survivor.
    let answer = "From: reader@example.org\r\nTo: info-en@example.test\r\nSubject: Re: Ada again\r\n\
                  Message-ID: <r3@example.org>\r\nIn-Reply-To: <r2@example.org>\r\n\r\nThanks!\r\n";
    mail.append("info-en@example.test", answer.as_bytes()).expect("append the answer");
    let survivor = wait_for(30, "the answer to the merged case joins the survivor", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &first]);
        let inbound = messages_of(&shown).iter().filter(|m| m["kind"] == "inbound").count();
        (inbound == 3).then_some(shown)
    });
    let merged_id = volunteer.json(&["case", "show", &again])["id"].as_str().map(str::to_owned).expect("an id");
    let from_merged: Vec<Value> =
        messages_of(&survivor).into_iter().filter(|m| m["case_id"] == json!(merged_id)).collect();
    assert_eq!(
        from_merged.iter().filter(|m| m["kind"] == "inbound").count(),
        1,
        "only r2 was written in the merged case"
    );
    let merged = volunteer.json(&["case", "show", &again]);
    assert_eq!(merged["state"], "closed");
    assert_eq!(merged["merged_into"]["number"].as_u64(), Some(numbers[0]));
    assert_eq!(volunteer.json(&["case", "list", "--open"])["total"], 1, "one open case for one matter");

    // A call the staff member took: a case for a contact with an address, answered by mail
    // (the address comes from the contact); a phone case's reply is recorded, never mailed;
    // a talk-page comment is recorded with its diff; the two cases are linked.
    staff.ok(&["sync"]);
    let grace = staff.ok(&["contact", "add", "--name", "Grace Caller", "--email", "grace@example.org"]);
    let grace = grace.trim().to_owned();
    let by_mail =
        staff.ok(&["case", "new", "--queue", "info-en", "--subject", "Called: photo licence", "--reader", &grace]);
    let by_mail = by_mail.trim().to_owned();
    let phone = staff.ok(&[
        "case",
        "new",
        "--queue",
        "info-en",
        "--subject",
        "Called: a typo",
        "--channel",
        "phone",
        "--reader",
        &grace,
    ]);
    let phone = phone.trim().to_owned();
    let recorded = staff.ok(&["case", "reply", &phone, "--text", "Told them it is fixed."]);
    assert!(recorded.contains("recorded as given on phone; not mailed"), "{recorded}");
    let diff = "https://en.wikipedia.org/w/index.php?diff=123456";
    staff.ok(&["case", "log", &phone, "--channel", "wiki", "--text", "Also asked on the talk page", "--link", diff]);
    staff.ok(&["case", "relate", &phone, &by_mail]);
    staff.ok(&["case", "reply", &by_mail, "--text", "Here is the licence you asked about on the phone."]);
    staff.ok(&["sync"]);
    let delivered = mail
        .wait_for_messages("reader@example.org", 2, std::time::Duration::from_secs(30))
        .expect("the reply to the caller arrives");
    let to_grace: Vec<String> = delivered
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .filter(|m| header(m, "To").is_some_and(|to| to.contains("grace@example.org")))
        .collect();
    assert_eq!(to_grace.len(), 1, "one reply, to the address on the reader's contact");
    assert!(to_grace[0].contains("Here is the licence"), "{}", to_grace[0]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let all = mail.messages("reader@example.org").expect("read");
    assert_eq!(all.len(), 2, "the phone reply and the talk-page record were never mailed");
    let shown = staff.json(&["case", "show", &phone]);
    assert!(messages_of(&shown).iter().any(|m| m["channel"] == "wiki" && m["link"] == diff), "the diff is kept");
    assert_eq!(shown["links"][0]["id"], json!(by_mail), "linked");
    assert_eq!(staff.json(&["case", "show", &by_mail])["links"][0]["id"], json!(phone), "on both sides");
    volunteer.ok(&["sync"]);
    let seen = volunteer.json(&["case", "show", &phone]);
    assert_eq!(seen["links"][0]["id"], json!(by_mail), "and on a member's laptop after sync");
}

/// From now on, connections to 127.0.0.1:`port` reach 127.0.0.1:`to` (byte for byte: TLS and
/// STARTTLS pass through): a mail server coming back on the address a queue sends to.
fn forward(port: u16, to: u16) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the mail server's port");
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else { continue };
            let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else { continue };
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut s_write);
                let _ = s_write.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
}

#[test]
fn a_reply_written_while_the_mail_server_is_down_says_why_is_retried_and_reaches_the_reader_once_when_it_is_back() {
    let down = liaison_server::testing::postgres::free_port().expect("a free port");
    // Over implicit TLS this time (IMAP on its TLS port, SMTP as on port 465).
    let (mail, server) = desk_over(Tls::Implicit, Some(down));
    let volunteer = Client::new();
    volunteer.login(&server, "ben");
    let first = "From: reader@example.org\r\nTo: info-en@example.test\r\nSubject: A question\r\n\
                 Message-ID: <q1@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nHello?\r\n";
    mail.append("info-en@example.test", first.as_bytes()).expect("append the reader's mail");
    let case = wait_for(30, "the reader's mail reaches the volunteer", || {
        volunteer.ok(&["sync"]);
        let list = volunteer.json(&["case", "list"]);
        list["items"][0]["id"].as_str().map(str::to_owned)
    });
    volunteer.ok(&["case", "reply", &case, "--text", "Here is the answer."]);
    let reason = wait_for(30, "the thread says the reply is being retried, and why", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        let reply = messages_of(&shown).into_iter().find(|m| m["kind"] == "reply")?;
        (reply["delivery"]["state"] == "retrying")
            .then(|| reply["delivery"]["detail"].as_str().unwrap_or("").to_owned())
    });
    assert!(reason.contains(&format!("127.0.0.1:{down}")), "the reason names the mail server: {reason}");
    let outbox = server.admin(&["mail", "outbox"]);
    assert!(outbox.contains(&format!("127.0.0.1:{down}")), "admins see it waiting, and why: {outbox}");

    // The mail server comes back where the queue sends; the backoff's next try delivers it.
    forward(down, mail.smtps_port());
    let delivered = mail
        .wait_for_messages("reader@example.org", 1, std::time::Duration::from_secs(150))
        .expect("the retried reply arrives");
    let raw = String::from_utf8_lossy(&delivered[0]).into_owned();
    assert!(raw.contains("Here is the answer."), "{raw}");
    assert_eq!(header(&raw, "In-Reply-To"), Some("<q1@example.org>"), "{raw}");
    wait_for(30, "the thread shows the reply sent", || {
        volunteer.ok(&["sync"]);
        let shown = volunteer.json(&["case", "show", &case]);
        let reply = messages_of(&shown).into_iter().find(|m| m["kind"] == "reply")?;
        (reply["delivery"]["state"] == "sent").then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(mail.messages("reader@example.org").expect("read").len(), 1, "exactly once");
}
