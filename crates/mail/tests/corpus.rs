//! A corpus of ordinary, odd and hostile mail, each with the outcome a desk must reach: read
//! what can be read, say what was left out, and never fail on the rest.

use liaison_mail::auto::{NoAutoReply, may_auto_reply};
use liaison_mail::{Limits, MailError, read};

/// A message from lines (CRLF line ends, as on the wire) and raw body bytes.
fn mail(headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut raw = headers.join("\r\n").into_bytes();
    raw.extend_from_slice(b"\r\n\r\n");
    raw.extend_from_slice(body);
    raw
}

fn read_ok(raw: &[u8]) -> liaison_mail::Mail {
    read(raw, &Limits::default()).expect("readable")
}

#[test]
fn an_answer_carries_the_ids_that_thread_it_nearest_first() {
    let raw = mail(
        &[
            "From: Ngozi N. <Ngozi@Example.org>",
            "To: info-en@wikimedia.test",
            "Cc: friend@example.org",
            "Subject: AW: Re: Error in the article [Liaison #1234]",
            "Message-ID: <c3@example.org>",
            "In-Reply-To: <reply-2@liaison.test>",
            "References: <first@example.org> <reply-1@liaison.test>",
            "\t<reply-2@liaison.test>",
            "Date: Tue, 1 Dec 2026 10:00:00 +0100",
        ],
        b"Thank you, but the date is still wrong.\r\n",
    );
    let m = read_ok(&raw);
    assert_eq!(m.message_id.as_deref(), Some("c3@example.org"));
    assert_eq!(
        m.thread_ids(),
        ["reply-2@liaison.test", "reply-1@liaison.test", "first@example.org"],
        "In-Reply-To first, then References from the newest back, each once (folded lines included)"
    );
    assert_eq!(m.case_tag(), Some(1234));
    assert_eq!(m.display_subject(), "Error in the article");
    let from = m.from.as_ref().expect("sender");
    assert_eq!((from.name.as_deref(), from.key().as_str()), (Some("Ngozi N."), "ngozi@example.org"));
    assert_eq!(m.cc.len(), 1, "a CC'd person is known, to join the case");
    assert_eq!(m.timestamp, Some(1_796_115_600), "the date, with its zone");
    assert_eq!(m.text, "Thank you, but the date is still wrong.");
    assert!(m.html.is_none() && m.attachments.is_empty() && m.delivery_report.is_none());
}

#[test]
fn declared_legacy_charsets_are_decoded() {
    let cases: [(&str, &[u8], &str); 4] = [
        ("ISO-2022-JP", b"\x1b$B%F%9%H\x1b(B", "テスト"),
        ("Shift_JIS", b"\x83\x65\x83\x58\x83\x67", "テスト"),
        ("GB2312", b"\xd6\xd0\xce\xc4", "中文"),
        ("windows-1252", b"caf\xe9 \x96 \x93quoted\x94", "café – “quoted”"),
    ];
    for (charset, body, text) in cases {
        let raw = mail(
            &["From: a@example.org", "Subject: x", &format!("Content-Type: text/plain; charset=\"{charset}\"")],
            body,
        );
        assert_eq!(read_ok(&raw).text, text, "{charset}");
    }
}

#[test]
fn undeclared_eight_bit_text_is_utf8_when_it_is_and_windows_1252_otherwise() {
    let utf8 = mail(&["From: a@example.org", "Subject: x"], "café – ok".as_bytes());
    assert_eq!(read_ok(&utf8).text, "café – ok");
    let legacy = mail(&["From: a@example.org", "Subject: x"], b"caf\xe9 \x96 \x93quoted\x94");
    assert_eq!(read_ok(&legacy).text, "café – “quoted”", "guessed only because nothing was declared");
    let multipart = mail(
        &["From: a@example.org", "Subject: x", "Content-Type: multipart/mixed; boundary=b"],
        b"--b\r\nContent-Type: text/plain\r\n\r\nna\xefve\r\n--b--\r\n",
    );
    assert_eq!(read_ok(&multipart).text, "naïve", "inside a multipart too");
}

#[test]
fn encoded_subjects_are_decoded_and_an_unknown_charset_degrades_instead_of_failing() {
    let raw = mail(
        &[
            "From: a@example.org",
            "Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=",
            "Content-Type: text/plain; charset=x-no-such-charset",
        ],
        b"caf\xe9",
    );
    let m = read_ok(&raw);
    assert_eq!(m.subject, "テスト");
    assert!(
        m.text.starts_with("caf") && m.text.contains('\u{FFFD}'),
        "replacement character, not an error: {:?}",
        m.text
    );
}

#[test]
fn html_only_mail_becomes_text_and_keeps_its_html_only_sanitized() {
    let raw = mail(
        &["From: a@example.org", "Subject: html", "Content-Type: text/html; charset=utf-8"],
        b"<p>Dear team,</p><p>the <b>date</b> is wrong.<img src=\"https://tracker.example/p.gif\"></p><script>x()</script>",
    );
    let m = read_ok(&raw);
    assert!(m.text.contains("Dear team,") && m.text.contains("the date is wrong."), "{:?}", m.text);
    assert!(!m.text.contains('<'), "the thread shows text: {:?}", m.text);
    let html = m.html.expect("formatted view");
    assert!(!html.contains("tracker.example") && !html.contains("script"), "{html}");
}

#[test]
fn the_text_part_is_preferred_and_attachments_get_safe_decoded_names() {
    let raw = mail(
        &[
            "From: a@example.org",
            "Subject: files",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"b1\"",
        ],
        concat!(
            "--b1\r\n",
            "Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n",
            "--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain words.\r\n",
            "--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Formatted <img src=\"cid:logo@x\"> words.</p>\r\n",
            "--b2--\r\n",
            "--b1\r\nContent-Type: application/pdf\r\n",
            "Content-Disposition: attachment; filename*=UTF-8''..%2F..%2FLettre%20%C3%A0%20l%E2%80%99%C3%A9diteur.pdf\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n",
            "--b1\r\nContent-Type: application/octet-stream; name=\"=?UTF-8?B?aW52b2ljZeKArmZkcC5leGU=?=\"\r\n",
            "Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nTVo=\r\n",
            "--b1\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n",
            "--b1--\r\n"
        )
        .as_bytes(),
    );
    let m = read_ok(&raw);
    assert_eq!(m.text, "Plain words.", "the text part, not the HTML converted");
    assert!(m.html.as_deref().is_some_and(|h| h.contains("cid:logo@x")), "{:?}", m.html);
    let names: Vec<(&str, &str, bool)> =
        m.attachments.iter().map(|a| (a.name.as_str(), a.media_type.as_str(), a.inline)).collect();
    assert_eq!(
        names,
        [
            ("Lettre à l’éditeur.pdf", "application/pdf", false),
            ("invoicefdp.exe", "application/octet-stream", false),
            ("attachment.png", "image/png", true),
        ],
        "RFC 2231 and RFC 2047 names decoded; no path; the bidi override that disguised .exe removed"
    );
    assert_eq!(m.attachments[0].content, b"%PDF-1.4\n");
    assert_eq!(m.attachments[2].content_id.as_deref(), Some("logo@x"), "the HTML's cid: finds its image");
}

#[test]
fn size_limits_leave_out_an_attachment_or_refuse_a_message_with_the_reason() {
    let big = "QUFB".repeat(300); // 900 bytes decoded
    let raw = mail(
        &["From: a@example.org", "Subject: big", "Content-Type: multipart/mixed; boundary=b"],
        format!(
            "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\nContent-Type: application/zip; name=big.zip\r\nContent-Disposition: attachment; filename=big.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}\r\n--b--\r\n"
        )
        .as_bytes(),
    );
    let limits = Limits { max_attachment_bytes: 500, ..Limits::default() };
    let m = read(&raw, &limits).expect("the message itself is kept");
    assert!(m.attachments.is_empty());
    assert_eq!(m.omitted.len(), 1);
    assert_eq!(m.omitted[0].name, "big.zip");
    assert!(m.omitted[0].reason.contains("limit for one attachment"), "{}", m.omitted[0].reason);
    assert_eq!(m.text, "See attached.");

    let small = Limits { max_message_bytes: 100, ..Limits::default() };
    let refused = read(&raw, &small).expect_err("too large");
    assert!(matches!(refused, MailError::TooLarge { .. }));
    assert!(refused.to_string().contains("more than the"), "{refused}");
}

#[test]
fn what_is_not_mail_is_refused_and_malformed_mime_is_read_as_far_as_it_goes() {
    assert_eq!(read(b"", &Limits::default()), Err(MailError::NotMail));
    let unterminated = mail(
        &["From: a@example.org", "Subject: broken", "Content-Type: multipart/mixed; boundary=never"],
        b"--never\r\nContent-Type: text/plain\r\n\r\nThe start of a message whose end was lost",
    );
    let m = read_ok(&unterminated);
    assert!(m.text.contains("The start of a message"), "{:?}", m.text);
}

#[test]
fn automatic_mail_never_gets_an_automatic_answer() {
    let own = ["info-en@wikimedia.test"];
    let with = |extra: &[&str]| {
        let mut headers = vec!["From: reader@example.org", "Subject: hello"];
        headers.extend_from_slice(extra);
        read_ok(&mail(&headers, b"Hi"))
    };
    assert_eq!(
        may_auto_reply(&with(&[]), &own, "info-en@wikimedia.test"),
        Ok(()),
        "a person's mail may be acknowledged"
    );
    assert_eq!(may_auto_reply(&with(&["Auto-Submitted: no"]), &own, "x"), Ok(()));
    for (header, expected) in [
        ("Auto-Submitted: auto-replied", NoAutoReply::AutoSubmitted("auto-replied".into())),
        ("Precedence: bulk", NoAutoReply::Precedence("bulk".into())),
        (
            "List-Id: <wikimedia-l.lists.wikimedia.org>",
            NoAutoReply::MailingList("<wikimedia-l.lists.wikimedia.org>".into()),
        ),
        ("X-Auto-Response-Suppress: All", NoAutoReply::Suppressed),
        ("Return-Path: <>", NoAutoReply::NullSender),
        ("X-Loop: info-en@wikimedia.test", NoAutoReply::Loop),
    ] {
        assert_eq!(may_auto_reply(&with(&[header]), &own, "info-en@wikimedia.test"), Err(expected), "{header}");
    }
    let own_mail = read_ok(&mail(&["From: INFO-EN@wikimedia.test", "Subject: x"], b"x"));
    assert_eq!(may_auto_reply(&own_mail, &own, "m"), Err(NoAutoReply::Loop), "never answer our own address");
}

#[test]
fn a_bounce_names_the_failed_recipient_the_reason_and_the_message_it_returns() {
    let raw = mail(
        &[
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>",
            "To: info-en@wikimedia.test",
            "Subject: Undelivered Mail Returned to Sender",
            "Return-Path: <>",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"",
        ],
        concat!(
            "--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n",
            "--r\r\nContent-Type: message/delivery-status\r\n\r\n",
            "Reporting-MTA: dns; mx.example.org\r\n\r\n",
            "Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address\r\n rejected: User unknown\r\n\r\n",
            "--r\r\nContent-Type: text/rfc822-headers\r\n\r\n",
            "From: info-en@wikimedia.test\r\nTo: gone@example.org\r\nSubject: Re: Error\r\nMessage-ID: <reply-9@liaison.test>\r\n\r\n",
            "--r--\r\n"
        )
        .as_bytes(),
    );
    let m = read_ok(&raw);
    let report = m.delivery_report.as_ref().expect("a delivery report");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("reply-9@liaison.test"),
        "attaches to the reply that failed"
    );
    assert!(report.failed());
    assert_eq!(report.recipients.len(), 1);
    let r = &report.recipients[0];
    assert_eq!((r.address.as_str(), r.status.as_str()), ("gone@example.org", "5.1.1"));
    assert_eq!(r.diagnostic.as_deref(), Some("550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"));
    assert!(report.summary().contains("User unknown"));
    assert!(may_auto_reply(&m, &[], "").is_err(), "a bounce is never answered");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    #[test]
    fn reading_never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        let _ = read(&bytes, &Limits::default());
    }

    #[test]
    fn reading_never_panics_on_mangled_mime(body in "[-a-zA-Z0-9=:;\"\r\n ]{0,600}") {
        let raw = mail(&["From: a@example.org", "Content-Type: multipart/mixed; boundary=\"b\""], format!("--b\r\n{body}").as_bytes());
        let _ = read(&raw, &Limits::default());
    }
}
