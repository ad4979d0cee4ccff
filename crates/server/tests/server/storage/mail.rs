//! The contract of mail in and out on every backend, without mail servers: a message becomes a
//! case once however often it arrives, answers join their case by their headers or by the tag
//! from someone on the case, broken mail is quarantined and the rest flows on, and a reply a
//! device pushes (twice) enters the outbox once. The real IMAP and SMTP servers are in the
//! end-to-end tests.

use chrono::{DateTime, TimeZone, Utc};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{Change, FieldWrite, Outcome, PushRequest, Role, RowState};
use liaison_server::mail::ingest::{self, Ingested, Source};
use liaison_server::mail::{self, Endpoint, Mailbox, TlsMode};
use liaison_server::storage::{NewDevice, NewUser, Storage, User};
use serde_json::json;
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_780_000_000_000).single().expect("a valid time")
}

/// info-en's mailbox, on ports nothing listens on (ingest is called directly).
pub(super) fn mailbox(queue: Uuid) -> Mailbox {
    let endpoint = |port| Endpoint { host: "127.0.0.1".into(), port, user: Some("info-en@example.org".into()) };
    Mailbox {
        queue_id: queue,
        imap: endpoint(1),
        smtp: endpoint(2),
        tls: TlsMode::Starttls,
        password: "secret".into(),
        ca_cert_pem: None,
        folder: "INBOX".into(),
        import_since: None,
        move_to: None,
        acknowledgement: Default::default(),
    }
}

/// info-en's mailbox set on the server, sending to a loopback port nothing listens on: every
/// attempt to send fails for now (connection refused), naming that port.
async fn mailbox_sending_nowhere(s: &dyn Storage, queue: Uuid) -> Mailbox {
    let mut mb = mailbox(queue);
    mb.smtp = Endpoint {
        host: "127.0.0.1".into(),
        port: liaison_server::testing::postgres::free_port().expect("port"),
        user: None,
    };
    mail::set_mailbox(s, &mb, now()).await.expect("mailbox");
    mb
}

fn source(uid: u32) -> Source {
    Source { uid_validity: 7, uid, historic: false }
}

async fn queue(s: &dyn Storage) -> Uuid {
    let id = Uuid::now_v7();
    let fields = [("name", json!("info-en")), ("email", json!("info-en@example.org")), ("language", json!("en"))];
    let change = device_change(EntityKind::Queue, id, &fields, 0);
    let response = s.write_as_server(vec![change], now()).await.expect("write");
    assert_eq!(response.results[0].outcome, Outcome::Accepted);
    id
}

fn raw(message_id: &str, from: &str, subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: info-en@example.org\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn text(row: &RowState, name: &str) -> Option<String> {
    row.fields.get(name).and_then(|f| f.value.as_str()).map(str::to_owned)
}

async fn row(s: &dyn Storage, kind: EntityKind, id: Uuid) -> RowState {
    s.row(kind, id).await.expect("read").unwrap_or_else(|| panic!("the {kind} {id} exists"))
}

pub async fn a_message_becomes_one_case_with_its_reader_however_often_it_arrives(s: &dyn Storage) {
    let q = queue(s).await;
    let mb = mailbox(q);
    let mail = raw("first@reader.example", "Ada Reader <ada@reader.example>", "Error in the article", "", "Hello");
    let Ingested::NewCase { case, message } = ingest::ingest(s, &mb, &mail, source(1), now()).await.expect("ingest")
    else {
        panic!("a first message opens a case");
    };
    let case_row = row(s, EntityKind::Case, case).await;
    assert_eq!(text(&case_row, "subject").as_deref(), Some("Error in the article"));
    assert_eq!(text(&case_row, "queue_id"), Some(q.to_string()), "in the mailbox's queue");
    assert!(case_row.fields.get("number").and_then(|f| f.value.as_u64()).is_some(), "the server numbers the case");
    let message_row = row(s, EntityKind::CaseMessage, message).await;
    assert_eq!(text(&message_row, "kind").as_deref(), Some("inbound"));
    assert_eq!(text(&message_row, "body").as_deref(), Some("Hello"));
    let reader = text(&message_row, "author_contact_id").and_then(|t| Uuid::parse_str(&t).ok()).expect("a reader");
    assert_eq!(text(&row(s, EntityKind::Contact, reader).await, "display_name").as_deref(), Some("Ada Reader"));
    assert_eq!(s.contacts_with_address("ADA@reader.example").await.expect("lookup"), vec![reader], "found by address");

    // The same message again (a fetch cut off and run again, or under another UID).
    for uid in [1, 2] {
        let again = ingest::ingest(s, &mb, &mail, source(uid), now()).await.expect("ingest");
        assert_eq!(again, Ingested::Duplicate { case: Some(case) }, "nothing is created twice");
    }
    let cases = s.rows_of(EntityKind::Case).await.expect("cases");
    assert_eq!(cases.len(), 1);
    assert_eq!(s.rows_of(EntityKind::Contact).await.expect("contacts").len(), 1, "one contact for one reader");
}

pub async fn an_answer_joins_its_case_by_its_headers_and_a_tag_only_from_someone_on_the_case(s: &dyn Storage) {
    let q = queue(s).await;
    let mb = mailbox(q);
    let first = raw("m1@reader.example", "ada@reader.example", "Question", "", "Hi");
    let Ingested::NewCase { case, .. } = ingest::ingest(s, &mb, &first, source(1), now()).await.expect("ingest") else {
        panic!("a new case");
    };
    let number = row(s, EntityKind::Case, case).await.fields["number"].value.as_u64().expect("a number");

    let answer =
        raw("m2@reader.example", "ada@reader.example", "Re: Question", "In-Reply-To: <m1@reader.example>\r\n", "More");
    assert!(
        matches!(ingest::ingest(s, &mb, &answer, source(2), now()).await.expect("ingest"), Ingested::Joined { case: c, .. } if c == case),
        "In-Reply-To finds the case"
    );
    let tagged = format!("Re: Question [Liaison #{number}]");
    let by_tag = raw("m3@reader.example", "ada@reader.example", &tagged, "", "Again");
    assert!(
        matches!(ingest::ingest(s, &mb, &by_tag, source(3), now()).await.expect("ingest"), Ingested::Joined { case: c, .. } if c == case),
        "the tag from the reader finds the case"
    );
    let stranger = raw("m4@other.example", "mallory@other.example", &tagged, "", "Let me in");
    assert!(
        matches!(ingest::ingest(s, &mb, &stranger, source(4), now()).await.expect("ingest"), Ingested::NewCase { case: c, .. } if c != case),
        "a stranger typing the tag opens a case of their own"
    );
    let cc = raw(
        "m5@friend.example",
        "bob@friend.example",
        "Re: Question",
        "References: <m1@reader.example>\r\n",
        "I agree",
    );
    let Ingested::Joined { case: joined, message } =
        ingest::ingest(s, &mb, &cc, source(5), now()).await.expect("ingest")
    else {
        panic!("an answer in the thread joins it");
    };
    assert_eq!(joined, case);
    let author = text(&row(s, EntityKind::CaseMessage, message).await, "author_contact_id").expect("author");
    let links = s.rows_of(EntityKind::CaseContact).await.expect("links");
    let roles: Vec<(String, String)> = links
        .iter()
        .filter(|l| text(l, "case_id") == Some(case.to_string()))
        .map(|l| (text(l, "contact_id").unwrap_or_default(), text(l, "role").unwrap_or_default()))
        .collect();
    assert!(roles.contains(&(author, "other".into())), "the person in CC joins the case: {roles:?}");
    assert_eq!(roles.iter().filter(|(_, r)| r == "reader").count(), 1, "and the reader stays the reader: {roles:?}");
}

pub async fn broken_mail_is_quarantined_with_its_reason_and_the_next_message_flows_on(s: &dyn Storage) {
    let q = queue(s).await;
    let mb = mailbox(q);
    mail::set_mailbox(s, &mb, now()).await.expect("mailbox");
    let no_sender = b"Subject: who am I\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n".to_vec();
    let outcome = ingest::ingest(s, &mb, &no_sender, source(1), now()).await.expect("ingest");
    let Ingested::Quarantined { key, reason } = outcome else { panic!("a message without a sender is held") };
    assert!(reason.contains("no sender"), "{reason}");
    let good = raw("ok@reader.example", "ada@reader.example", "Fine", "", "Hi");
    assert!(matches!(ingest::ingest(s, &mb, &good, source(2), now()).await.expect("ingest"), Ingested::NewCase { .. }));
    let held = ingest::quarantined(s).await.expect("list");
    assert_eq!(held.iter().map(|h| h.key.clone()).collect::<Vec<_>>(), vec![key.clone()], "only the broken one");
    let kept = s.record("quarantine", &key).await.expect("read").expect("held");
    assert_eq!(kept.bytes.as_deref(), Some(no_sender.as_slice()), "the raw .eml is kept as it arrived");
    let retried = ingest::retry(s, &key, now()).await.expect("retry");
    assert!(matches!(retried, Ingested::Quarantined { .. }), "still broken, so held again: {retried:?}");
    assert_eq!(ingest::quarantined(s).await.expect("list").len(), 1, "under the same key, not twice");
    ingest::forget(s, &key).await.expect("delete");
    assert!(ingest::quarantined(s).await.expect("list").is_empty(), "deleted for good");
    assert!(ingest::forget(s, &key).await.is_err(), "deleting it twice says nothing is held");
}

async fn device_user(s: &dyn Storage, name: &str) -> (User, Uuid) {
    let u = s
        .create_user(NewUser { name: name.into(), role: Role::Staff, password_hash: "$argon2id$fake".into() })
        .await
        .expect("user");
    let d = Uuid::now_v7();
    s.register_device(NewDevice { id: d, user_id: u.id, name: "laptop".into(), token_hash: format!("{d}") }, now())
        .await
        .expect("device");
    (u, d)
}

pub async fn a_reply_pushed_twice_enters_the_outbox_once_and_devices_may_not_number_cases(s: &dyn Storage) {
    let q = queue(s).await;
    let mb = mailbox(q);
    mail::set_mailbox(s, &mb, now()).await.expect("mailbox");
    let first = raw("m1@reader.example", "ada@reader.example", "Question", "", "Hi");
    let Ingested::NewCase { case, .. } = ingest::ingest(s, &mb, &first, source(1), now()).await.expect("ingest") else {
        panic!("a new case");
    };
    let (staff, d) = device_user(s, "sam").await;
    let reply_id = Uuid::now_v7();
    let fields = [
        ("case_id", json!(case.to_string())),
        ("kind", json!("reply")),
        ("channel", json!("email")),
        ("author_user", json!("sam")),
        ("sent_at", json!("2026-12-01T11:00:00Z")),
        ("body", json!("Thank you")),
    ];
    let reply = device_change(EntityKind::CaseMessage, reply_id, &fields, 1);
    let hlc = reply.fields["kind"].hlc;
    for _ in 0..2 {
        let request = PushRequest { batch_id: Uuid::now_v7(), changes: vec![reply.clone()] };
        s.push(&staff, d, &request, now()).await.expect("push");
    }
    assert_eq!(mail::outbox::follow(s, now()).await.expect("follow"), 1, "one entry for the reply");
    assert_eq!(mail::outbox::follow(s, now()).await.expect("follow"), 0, "following again adds nothing");
    let entries = mail::outbox::entries(s, true).await.expect("outbox");
    assert_eq!(
        entries.iter().map(|e| (e.message_id.clone(), e.state.clone())).collect::<Vec<_>>(),
        vec![(reply_id.to_string(), "queued".to_owned())]
    );
    let deliveries = s.rows_of(EntityKind::Delivery).await.expect("deliveries");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(text(&deliveries[0], "state").as_deref(), Some("queued"), "devices see the reply is queued");

    // A device writing a number, or a delivery, is refused.
    let mut numbered = reply.clone();
    numbered.change_id = Uuid::now_v7();
    numbered.entity = EntityKind::Case;
    numbered.row_id = case;
    numbered.fields = [("number".to_owned(), FieldWrite { value: json!(1), hlc })].into();
    let forged =
        Change { entity: EntityKind::Delivery, row_id: Uuid::now_v7(), change_id: Uuid::now_v7(), ..numbered.clone() };
    let response = s
        .push(&staff, d, &PushRequest { batch_id: Uuid::now_v7(), changes: vec![numbered, forged] }, now())
        .await
        .expect("push");
    for result in &response.results {
        assert_eq!(result.outcome, Outcome::Rejected, "{result:?}");
    }
    let message = response.results[0].error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
    assert!(message.contains("The server sets number"), "{message}");
}

pub async fn a_reply_the_mail_server_cannot_take_is_retried_with_backoff_and_says_why(s: &dyn Storage) {
    let q = queue(s).await;
    // Nothing listens there: every attempt fails for now, none for good.
    let mb = mailbox_sending_nowhere(s, q).await;
    let first = raw("m1@reader.example", "ada@reader.example", "Question", "", "Hi");
    let Ingested::NewCase { case, .. } = ingest::ingest(s, &mb, &first, source(1), now()).await.expect("ingest") else {
        panic!("a new case");
    };
    let (staff, d) = device_user(s, "sam").await;
    let fields = [
        ("case_id", json!(case.to_string())),
        ("kind", json!("reply")),
        ("channel", json!("email")),
        ("sent_at", json!("2026-12-01T11:00:00Z")),
        ("body", json!("Thank you")),
    ];
    let reply = device_change(EntityKind::CaseMessage, Uuid::now_v7(), &fields, 1);
    s.push(&staff, d, &PushRequest { batch_id: Uuid::now_v7(), changes: vec![reply] }, now()).await.expect("push");
    mail::outbox::follow(s, now()).await.expect("follow");

    let report = mail::outbox::send_due(s, now()).await.expect("send");
    assert_eq!((report.sent, report.retrying, report.failed), (0, 1, 0), "refused for now: tried again later");
    let entries = mail::outbox::entries(s, false).await.expect("outbox");
    assert_eq!(entries.len(), 1, "an unsent reply stays in the outbox list");
    let detail = entries[0].detail.clone().unwrap_or_default();
    assert!(detail.contains(&format!("127.0.0.1:{}", mb.smtp.port)), "the outbox says which server failed: {detail}");
    assert_eq!(entries[0].attempts, 1);
    assert!(entries[0].next_attempt_at.is_some(), "and when it tries again");
    let delivery = s.rows_of(EntityKind::Delivery).await.expect("deliveries");
    assert_eq!(text(&delivery[0], "state").as_deref(), Some("retrying"), "devices see it is being retried");
    assert!(text(&delivery[0], "detail").is_some_and(|d| d == detail), "with the same reason");

    let early = mail::outbox::send_due(s, Utc::now()).await.expect("send");
    assert_eq!((early.sent, early.retrying, early.failed), (0, 0, 0), "not before its time");
    let later = mail::outbox::send_due(s, Utc::now() + chrono::Duration::minutes(2)).await.expect("send");
    assert_eq!(later.retrying, 1, "after the backoff it is tried again");
    assert_eq!(mail::outbox::entries(s, false).await.expect("outbox")[0].attempts, 2);
    let not_failed = mail::outbox::retry(s, &entries[0].message_id, now()).await.expect_err("only failed replies");
    assert!(not_failed.to_string().contains("only a failed reply is sent again"), "{not_failed}");
}

pub async fn mail_that_opens_a_case_is_acknowledged_once_in_its_language_but_never_automatic_list_or_old_mail(
    s: &dyn Storage,
) {
    use liaison_server::storage::Record;
    let q = queue(s).await;
    let mut mb = mailbox(q);
    mb.acknowledgement = [
        ("en".to_owned(), "Dear {{reader_name|reader}}, we received your message (case {{case_number}}).".to_owned()),
        ("de".to_owned(), "Danke, {{reader_name|Leserin}}.".to_owned()),
    ]
    .into();
    let auto_entries = |entries: Vec<Record>| -> Vec<Record> {
        entries.into_iter().filter(|r| r.doc["auto"].as_bool() == Some(true)).collect()
    };
    let mail = raw("ack-1@reader.example", "Ada Reader <ada@reader.example>", "Question", "", "Hello");
    let Ingested::NewCase { case, .. } = ingest::ingest(s, &mb, &mail, source(1), now()).await.expect("ingest") else {
        panic!("a new case");
    };
    let queued = auto_entries(s.list_records("outbox", Some("queued"), None, 100).await.expect("outbox"));
    assert_eq!(queued.len(), 1, "one acknowledgement for the new case");
    let number = row(s, EntityKind::Case, case).await.fields["number"].value.as_u64().expect("numbered");
    assert_eq!(
        queued[0].doc["text"].as_str(),
        Some(format!("Dear Ada Reader, we received your message (case {number}).").as_str()),
        "in the queue's language (en), filled in for the case"
    );
    let event = row(s, EntityKind::CaseMessage, Uuid::parse_str(&queued[0].key).expect("a message id")).await;
    assert_eq!(
        text(&event, "kind").as_deref(),
        Some("event"),
        "recorded in the thread, and no answer: the case stays unanswered"
    );
    assert!(text(&event, "body").is_some_and(|b| b.contains("ada@reader.example")));
    assert_eq!(
        ingest::ingest(s, &mb, &mail, source(2), now()).await.expect("again"),
        Ingested::Duplicate { case: Some(case) }
    );
    let answer = raw(
        "ack-2@reader.example",
        "ada@reader.example",
        "Re: Question",
        "In-Reply-To: <ack-1@reader.example>\r\n",
        "More",
    );
    assert!(matches!(ingest::ingest(s, &mb, &answer, source(3), now()).await.expect("join"), Ingested::Joined { .. }));
    let all = || async { auto_entries(s.list_records("outbox", None, None, 100).await.expect("outbox")) };
    assert_eq!(all().await.len(), 1, "a message joining its case is not acknowledged; a duplicate neither");

    // Automatic mail, lists, mail without a return path, our own address, old mail: no acknowledgement.
    let quiet = [
        ("auto@x.example", "Auto-Submitted: auto-replied\r\n"),
        ("bulk@x.example", "Precedence: bulk\r\n"),
        ("list@x.example", "List-Id: <wikimedia-l.lists.wikimedia.org>\r\n"),
        ("bounce@x.example", "Return-Path: <>\r\n"),
        ("loop@x.example", "X-Loop: info-en@example.org\r\n"),
    ];
    for (i, (from, header)) in quiet.iter().enumerate() {
        let m = raw(&format!("quiet-{i}@x.example"), from, "Out of office", header, "Away");
        let uid = 10 + u32::try_from(i).expect("small");
        assert!(matches!(
            ingest::ingest(s, &mb, &m, source(uid), now()).await.expect("ingest"),
            Ingested::NewCase { .. }
        ));
    }
    let own = raw("own@example.org", "info-en@example.org", "From ourselves", "", "Hi");
    ingest::ingest(s, &mb, &own, source(20), now()).await.expect("ingest");
    let old = raw("old@reader.example", "old@reader.example", "From 2019", "", "Hi");
    ingest::ingest(s, &mb, &old, Source { uid_validity: 7, uid: 21, historic: true }, now()).await.expect("ingest");
    assert_eq!(all().await.len(), 1, "none of these gets an automatic answer");

    // At most three a day per sender, however many cases they open.
    for i in 0..5 {
        let m = raw(&format!("many-{i}@reader.example"), "busy@reader.example", &format!("Topic {i}"), "", "Hi");
        ingest::ingest(s, &mb, &m, source(30 + i), now()).await.expect("ingest");
    }
    let to_busy =
        all().await.into_iter().filter(|r| r.doc["text"].as_str().is_some_and(|t| t.contains("(case"))).count();
    assert_eq!(to_busy, 1 + 3, "Ada's, and three of busy@'s five");
    let tomorrow = now() + chrono::Duration::hours(25);
    let m = raw("next-day@reader.example", "busy@reader.example", "Topic 6", "", "Hi");
    ingest::ingest(s, &mb, &m, source(40), tomorrow).await.expect("ingest");
    assert_eq!(all().await.len(), 5, "a day later busy@ is acknowledged again");
}

/// What a corpus message must come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A case (its first message's text contains this), acknowledged or not.
    Case { text: &'static str, acked: bool },
    /// Quarantined, the reason containing this.
    Held(&'static str),
}

pub async fn a_corpus_of_odd_and_hostile_mail_each_reaches_its_outcome_and_the_queue_never_stalls(s: &dyn Storage) {
    let q = queue(s).await;
    let mut mb = mailbox(q);
    mb.acknowledgement = [("en".to_owned(), "We received your message.".to_owned())].into();
    let attachment = |name: &str, bytes: usize| {
        let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"; // 57 bytes decoded
        let body: String = line.repeat(bytes / 57 + 1);
        format!(
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n\
             --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{body}--b--\r\n"
        )
    };
    let head = |i: usize, extra: &str| {
        format!(
            "From: Sender {i} <sender{i}@corpus.example>\r\nTo: info-en@example.org\r\nMessage-ID: <corpus-{i}@corpus.example>\r\n{extra}"
        )
    };
    let corpus: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("plain text", format!("{}Subject: Hello\r\n\r\nA plain question.\r\n", head(1, "")).into_bytes(), Expect::Case { text: "A plain question.", acked: true }),
        (
            "ISO-2022-JP",
            [head(2, "Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n").as_bytes(), b"\x1b$B%F%9%H\x1b(B\r\n"].concat(),
            Expect::Case { text: "テスト", acked: true },
        ),
        (
            "Windows-1252 undeclared",
            [head(3, "Subject: café\r\n\r\n").as_bytes(), b"caf\xe9 \x93quoted\x94\r\n"].concat(),
            Expect::Case { text: "café “quoted”", acked: true },
        ),
        (
            "an unknown charset degrades",
            format!("{}Subject: odd\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\nStill readable.\r\n", head(4, "")).into_bytes(),
            Expect::Case { text: "Still readable.", acked: true },
        ),
        (
            "HTML only",
            format!("{}Subject: html\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>desk</b></p><img src=\"http://tracker.example/x.png\">\r\n", head(5, "")).into_bytes(),
            Expect::Case { text: "Hello desk", acked: true },
        ),
        ("a 20 MB attachment", format!("{}Subject: big file\r\n{}", head(6, ""), attachment("scan.pdf", 20 * 1024 * 1024)).into_bytes(), Expect::Case { text: "See the file.", acked: true }),
        (
            "an attachment over 25 MB is left out, the mail kept",
            format!("{}Subject: too big a file\r\n{}", head(7, ""), attachment("huge.iso", 26 * 1024 * 1024)).into_bytes(),
            Expect::Case { text: "See the file.", acked: true },
        ),
        (
            "a path and bidi characters in a file name",
            format!("{}Subject: name\r\n{}", head(8, ""), attachment("../../etc/\u{202e}gpj.exe", 100)).into_bytes(),
            Expect::Case { text: "See the file.", acked: true },
        ),
        (
            "an auto-reply",
            format!("{}Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n", head(9, "")).into_bytes(),
            Expect::Case { text: "I am away.", acked: false },
        ),
        (
            "a mail loop",
            format!("{}Subject: Re: We received your message\r\nX-Loop: info-en@example.org\r\n\r\nLoop.\r\n", head(10, "")).into_bytes(),
            Expect::Case { text: "Loop.", acked: false },
        ),
        (
            "a list post",
            format!("{}Subject: [wikimedia-l] news\r\nList-Id: <wikimedia-l.lists.wikimedia.org>\r\n\r\nNews.\r\n", head(11, "")).into_bytes(),
            Expect::Case { text: "News.", acked: false },
        ),
        (
            "malformed MIME (a boundary never closed)",
            format!("{}Subject: cut off\r\nContent-Type: multipart/mixed; boundary=never\r\n\r\n--never\r\nContent-Type: text/plain\r\n\r\nThe start of a message whose end was lost", head(12, "")).into_bytes(),
            Expect::Case { text: "The start of a message", acked: true },
        ),
        ("empty bytes", Vec::new(), Expect::Held("")),
        ("no sender", b"To: info-en@example.org\r\nSubject: who?\r\n\r\nNobody to answer.\r\n".to_vec(), Expect::Held("no sender")),
        ("over 40 MB", format!("{}Subject: enormous\r\n{}", head(15, ""), attachment("disk.img", 31 * 1024 * 1024)).into_bytes(), Expect::Held("more than the")),
    ];
    let mut uid = 100;
    let mut held_expected = 0;
    for (i, (what, raw, expect)) in corpus.into_iter().enumerate() {
        uid += 1;
        let outcome = ingest::ingest(s, &mb, &raw, source(uid), now()).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        match (expect, outcome) {
            (Expect::Case { text: wanted, acked }, Ingested::NewCase { case, message }) => {
                let body = text(&row(s, EntityKind::CaseMessage, message).await, "body").unwrap_or_default();
                assert!(body.contains(wanted), "{what}: the thread shows {wanted:?}, not {body:?}");
                assert!(!body.contains('<'), "{what}: reader text is text, never markup: {body:?}");
                let ack =
                    s.record("outbox", &Uuid::new_v5(&case, b"acknowledgement").to_string()).await.expect("outbox");
                assert_eq!(ack.is_some(), acked, "{what}: acknowledged only when it may be");
            }
            (Expect::Held(reason), Ingested::Quarantined { reason: said, .. }) => {
                held_expected += 1;
                assert!(said.contains(reason), "{what}: quarantined because {said:?}");
            }
            (expect, outcome) => panic!("{what}: expected {expect:?}, got {outcome:?}"),
        }
        // Whatever came before, the next ordinary message flows on.
        uid += 1;
        let next = raw_next(i);
        assert!(
            matches!(ingest::ingest(s, &mb, &next, source(uid), now()).await.expect("next"), Ingested::NewCase { .. }),
            "after {what}, the queue goes on"
        );
    }
    let held = ingest::quarantined(s).await.expect("quarantine");
    assert_eq!(held.len(), held_expected, "the quarantine holds exactly the broken ones: {held:?}");
    let attachments = s.rows_of(EntityKind::Attachment).await.expect("attachments");
    let names: Vec<String> = attachments
        .iter()
        .filter_map(|a| a.fields.get("name").and_then(|f| f.value.as_str()).map(str::to_owned))
        .collect();
    assert!(names.iter().any(|n| n == "scan.pdf"), "the 20 MB file is kept: {names:?}");
    assert!(!names.iter().any(|n| n.contains("huge")), "the 26 MB one is left out (its reason is in the original)");
    assert!(
        names.iter().all(|n| !n.contains('/') && !n.contains('\u{202e}') && !n.starts_with('.')),
        "no paths, no bidi controls in stored names: {names:?}"
    );
}

fn raw_next(i: usize) -> Vec<u8> {
    raw(&format!("next-{i}@flow.example"), &format!("flow{i}@flow.example"), "Next in line", "", "Still flowing.")
}

pub async fn a_bounce_of_a_reply_joins_its_case_marks_the_reply_not_delivered_and_says_why(s: &dyn Storage) {
    let q = queue(s).await;
    let mut mb = mailbox(q);
    mb.acknowledgement = [("en".to_owned(), "We received your message.".to_owned())].into();
    let first = raw("rita-1@reader.example", "rita@reader.example", "Wrong date", "", "Please fix.");
    let Ingested::NewCase { case, .. } = ingest::ingest(s, &mb, &first, source(1), now()).await.expect("ingest") else {
        panic!("a new case");
    };
    // The reply the team sent (as mail out names it: <message-id@queue domain>).
    let reply = Uuid::now_v7();
    let fields = [
        ("case_id", json!(case.to_string())),
        ("kind", json!("reply")),
        ("channel", json!("email")),
        ("sent_at", json!("2026-12-01T11:00:00Z")),
        ("body", json!("Fixed, thank you.")),
    ];
    let written =
        s.write_as_server(vec![device_change(EntityKind::CaseMessage, reply, &fields, 1)], now()).await.expect("write");
    assert_eq!(written.results[0].outcome, Outcome::Accepted);
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.reader.example>\r\nTo: info-en@example.org\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.reader.example>\r\nReturn-Path: <>\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.reader.example\r\n\r\n\
         Final-Recipient: rfc822; rita@reader.example\r\nAction: failed\r\nStatus: 5.2.2\r\n\
         Diagnostic-Code: smtp; 552 5.2.2 <rita@reader.example>: mailbox full\r\n\r\n\
         --r\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: info-en@example.org\r\nTo: rita@reader.example\r\n\
         Subject: Re: Wrong date [Liaison #1]\r\nMessage-ID: <{reply}@example.org>\r\n\r\n--r--\r\n"
    );
    let outcome = ingest::ingest(s, &mb, dsn.as_bytes(), source(2), now()).await.expect("ingest");
    assert_eq!(outcome, Ingested::Bounce { case, reply }, "the bounce attaches to the reply it returns");
    let deliveries = s.rows_of(EntityKind::Delivery).await.expect("deliveries");
    let delivery = deliveries
        .iter()
        .find(|d| d.fields.get("message_id").and_then(|f| f.value.as_str()) == Some(reply.to_string().as_str()))
        .expect("the reply has a delivery");
    assert_eq!(delivery.fields["state"].value, json!("not_delivered"));
    let detail = delivery.fields["detail"].value.as_str().unwrap_or_default();
    assert!(detail.contains("mailbox full"), "it says why: {detail}");
    let events: Vec<RowState> = s
        .rows_of(EntityKind::CaseMessage)
        .await
        .expect("messages")
        .into_iter()
        .filter(|m| text(m, "case_id") == Some(case.to_string()) && text(m, "kind").as_deref() == Some("event"))
        .collect();
    assert!(
        events.iter().any(
            |e| text(e, "body").is_some_and(|b| b.contains("could not be delivered") && b.contains("mailbox full"))
        ),
        "the thread says the reply was not delivered, and why"
    );
    assert_eq!(s.rows_of(EntityKind::Case).await.expect("cases").len(), 1, "a bounce opens no case");
    let acks = s.list_records("outbox", None, None, 100).await.expect("outbox");
    assert_eq!(acks.len(), 1, "only the reader's first mail was acknowledged, never the bounce");
    assert!(ingest::quarantined(s).await.expect("quarantine").is_empty());
}

/// A change of these fields, as a device (or the server) writes it, stamped at [`now`] with
/// `counter`.
fn device_change(entity: EntityKind, row_id: Uuid, fields: &[(&str, serde_json::Value)], counter: u32) -> Change {
    let hlc = Hlc::new(u64::try_from(now().timestamp_millis()).expect("positive"), counter);
    Change {
        change_id: Uuid::now_v7(),
        entity,
        row_id,
        base_seq: 0,
        fields: fields.iter().map(|(n, v)| ((*n).to_owned(), FieldWrite { value: v.clone(), hlc })).collect(),
        deleted: None,
    }
}

pub async fn mail_to_a_merged_case_joins_the_case_it_was_merged_into_by_its_headers_and_by_its_tag(s: &dyn Storage) {
    let q = queue(s).await;
    let mb = mailbox(q);
    let first = raw("m1@reader.example", "ada@reader.example", "Birth date", "", "Wrong date");
    let Ingested::NewCase { case: merged, .. } =
        ingest::ingest(s, &mb, &first, source(1), now()).await.expect("ingest")
    else {
        panic!("a new case");
    };
    let again = raw("m2@reader.example", "ada@reader.example", "Birth date again", "", "Still wrong");
    let Ingested::NewCase { case: survivor, .. } =
        ingest::ingest(s, &mb, &again, source(2), now()).await.expect("ingest")
    else {
        panic!("a second case: nothing threads it to the first");
    };
    let number = row(s, EntityKind::Case, merged).await.fields["number"].value.as_u64().expect("a number");
    // A volunteer merges the first case into the second on their laptop; the merge syncs.
    let (staff, d) = device_user(s, "sam").await;
    let merge = device_change(
        EntityKind::Case,
        merged,
        &[("merged_into", json!(survivor.to_string())), ("state", json!("closed"))],
        1,
    );
    let pushed = s.push(&staff, d, &PushRequest { batch_id: Uuid::now_v7(), changes: vec![merge] }, now()).await;
    assert_eq!(pushed.expect("push").results[0].outcome, Outcome::Accepted);

    let answer = raw(
        "m3@reader.example",
        "ada@reader.example",
        "Re: Birth date",
        "In-Reply-To: <m1@reader.example>\r\n",
        "And?",
    );
    assert!(
        matches!(ingest::ingest(s, &mb, &answer, source(3), now()).await.expect("ingest"), Ingested::Joined { case, .. } if case == survivor),
        "an answer to the merged case's mail goes to the case it was merged into"
    );
    let tagged =
        raw("m4@reader.example", "ada@reader.example", &format!("Re: Birth date [Liaison #{number}]"), "", "Hello?");
    assert!(
        matches!(ingest::ingest(s, &mb, &tagged, source(4), now()).await.expect("ingest"), Ingested::Joined { case, .. } if case == survivor),
        "so does mail with the merged case's tag, from someone on the survivor"
    );
    let stranger =
        raw("m5@other.example", "mallory@other.example", &format!("Re: x [Liaison #{number}]"), "", "Let me in");
    assert!(
        matches!(ingest::ingest(s, &mb, &stranger, source(5), now()).await.expect("ingest"), Ingested::NewCase { case, .. } if case != survivor && case != merged),
        "a stranger typing the merged case's tag still opens a case of their own"
    );
    let messages = s.rows_of(EntityKind::CaseMessage).await.expect("messages");
    let in_merged = messages.iter().filter(|m| text(m, "case_id") == Some(merged.to_string())).count();
    assert_eq!(in_merged, 1, "the merged case took no new message");
}

pub async fn a_reply_on_a_case_that_did_not_come_by_mail_goes_to_its_reader_s_address_or_waits_saying_what_to_add(
    s: &dyn Storage,
) {
    let q = queue(s).await;
    // An attempt that gets as far as the mail server fails for now.
    let mb = mailbox_sending_nowhere(s, q).await;
    let (staff, d) = device_user(s, "sam").await;
    // Two cases a volunteer opened by hand (a phone call), each with its reader: one whose
    // contact has an email address, one whose contact has none.
    let mut changes = Vec::new();
    let mut replies = Vec::new();
    for (i, address) in [Some("grace@reader.example"), None].into_iter().enumerate() {
        let (case, contact) = (Uuid::now_v7(), Uuid::now_v7());
        let n = u32::try_from(i).expect("small") * 10;
        changes.push(device_change(EntityKind::Contact, contact, &[("display_name", json!(format!("Reader {i}")))], n));
        if let Some(address) = address {
            let email = &[("contact_id", json!(contact.to_string())), ("address", json!(address))];
            changes.push(device_change(EntityKind::ContactEmail, Uuid::now_v7(), email, n + 1));
        }
        let fields = [
            ("queue_id", json!(q.to_string())),
            ("subject", json!("Called about an article")),
            ("kind", json!("inquiry")),
            ("channel", json!("email")),
            ("state", json!("open")),
        ];
        changes.push(device_change(EntityKind::Case, case, &fields, n + 2));
        let link = &[
            ("case_id", json!(case.to_string())),
            ("contact_id", json!(contact.to_string())),
            ("role", json!("reader")),
        ];
        let link_id = liaison_protocol::schema::CASE_CONTACT
            .derived_id(|name| link.iter().find(|(n, _)| *n == name).map(|(_, v)| v))
            .expect("a derived id");
        changes.push(device_change(EntityKind::CaseContact, link_id, link, n + 3));
        let reply = Uuid::now_v7();
        let fields = [
            ("case_id", json!(case.to_string())),
            ("kind", json!("reply")),
            ("channel", json!("email")),
            ("sent_at", json!("2026-12-01T11:00:00Z")),
            ("body", json!("As promised on the phone")),
        ];
        changes.push(device_change(EntityKind::CaseMessage, reply, &fields, n + 4));
        replies.push(reply);
    }
    let pushed = s.push(&staff, d, &PushRequest { batch_id: Uuid::now_v7(), changes }, now()).await.expect("push");
    assert!(pushed.results.iter().all(|r| r.outcome == Outcome::Accepted), "{:?}", pushed.results);
    assert_eq!(mail::outbox::follow(s, now()).await.expect("follow"), 2);
    let report = mail::outbox::send_due(s, now()).await.expect("send");
    assert_eq!((report.sent, report.retrying, report.failed), (0, 2, 0), "neither is given up");
    let entries = mail::outbox::entries(s, false).await.expect("outbox");
    let detail_of = |reply: Uuid| {
        entries.iter().find(|e| e.message_id == reply.to_string()).and_then(|e| e.detail.clone()).unwrap_or_default()
    };
    let with_address = detail_of(replies[0]);
    assert!(
        with_address.contains(&format!("127.0.0.1:{}", mb.smtp.port)),
        "the reader's address came from their contact, so the reply went as far as the mail server: {with_address}"
    );
    let without = detail_of(replies[1]);
    assert!(
        without.contains("add the address to the reader's contact"),
        "the reply waits and says what to add: {without}"
    );
}
