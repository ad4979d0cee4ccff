//! Which case an arriving message joins: headers first, the tag only from people on the case,
//! duplicates never twice, merged cases forward to their survivor.

use liaison_mail::placing::{Cases, Matched, NewBecause, Placement, place};
use liaison_mail::{Limits, read};
use std::collections::HashMap;

/// A desk with a few cases: numbers, stored Message-IDs, participants, merges.
#[derive(Default)]
struct Desk {
    messages: HashMap<String, u64>,
    participants: HashMap<u64, Vec<String>>,
    merged: HashMap<u64, u64>,
    numbers: Vec<u64>,
}

impl Desk {
    fn case(mut self, number: u64, people: &[&str], message_ids: &[&str]) -> Desk {
        self.numbers.push(number);
        self.participants.insert(number, people.iter().map(|p| p.to_string()).collect());
        for id in message_ids {
            self.messages.insert(id.to_string(), number);
        }
        self
    }
}

impl Cases for Desk {
    type Id = u64;
    fn by_message_id(&self, message_id: &str) -> Option<u64> {
        self.messages.get(message_id).copied()
    }
    fn by_number(&self, number: u64) -> Option<u64> {
        self.numbers.contains(&number).then_some(number)
    }
    fn is_participant(&self, case: &u64, address: &str) -> bool {
        self.participants.get(case).is_some_and(|p| p.iter().any(|a| a == address))
    }
    fn merged_into(&self, case: &u64) -> Option<u64> {
        self.merged.get(case).copied()
    }
}

fn mail(from: &str, subject: &str, extra: &[&str]) -> liaison_mail::Mail {
    let mut raw = format!("From: {from}\r\nSubject: {subject}\r\nMessage-ID: <new-{subject}-{from}@example.org>\r\n");
    for header in extra {
        raw.push_str(header);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\nHello\r\n");
    read(raw.as_bytes(), &Limits::default()).expect("mail")
}

fn desk() -> Desk {
    Desk::default().case(7, &["reader@example.org"], &["first@example.org", "reply-7@liaison.test"]).case(
        8,
        &["other@example.org"],
        &["reply-8@liaison.test"],
    )
}

#[test]
fn a_reply_joins_the_case_its_headers_name_even_when_its_tag_names_another() {
    let m = mail(
        "reader@example.org",
        "Re: Error [Liaison #8]",
        &["In-Reply-To: <reply-7@liaison.test>", "References: <first@example.org> <reply-7@liaison.test>"],
    );
    assert_eq!(
        place(&m, &desk()),
        Placement::Existing { case: 7, matched: Matched::Header("reply-7@liaison.test".into()), joins: None },
        "the headers are what the mail program recorded; a subject can be edited"
    );
    let older = mail("reader@example.org", "Re: Error", &["References: <first@example.org> <unknown@elsewhere>"]);
    assert_eq!(
        place(&older, &desk()),
        Placement::Existing { case: 7, matched: Matched::Header("first@example.org".into()), joins: None },
        "any References id that is known threads the mail"
    );
}

#[test]
fn a_message_already_stored_is_a_duplicate_and_creates_nothing() {
    let m = read(
        b"From: reader@example.org\r\nSubject: x\r\nMessage-ID: <first@example.org>\r\n\r\nHi\r\n",
        &Limits::default(),
    )
    .expect("mail");
    assert_eq!(place(&m, &desk()), Placement::Duplicate(7));
}

#[test]
fn the_tag_alone_counts_only_from_someone_already_on_the_case() {
    let from_reader = mail("Reader@Example.org", "Re: Error [Liaison #7]", &[]);
    assert_eq!(
        place(&from_reader, &desk()),
        Placement::Existing { case: 7, matched: Matched::Tag(7), joins: None },
        "addresses compare without case"
    );
    let from_stranger = mail("stranger@example.org", "Re: Error [Liaison #7]", &[]);
    assert_eq!(place(&from_stranger, &desk()), Placement::New(NewBecause::TagFromStranger(7)));
    assert_eq!(
        place(&mail("x@example.org", "[Liaison #99] hi", &[]), &desk()),
        Placement::New(NewBecause::UnknownTag(99))
    );
    assert_eq!(place(&mail("x@example.org", "New question", &[]), &desk()), Placement::New(NewBecause::NoThread));
}

#[test]
fn someone_in_cc_who_answers_joins_the_case_and_the_reader_stays() {
    let m = mail("friend@example.org", "Re: Error", &["In-Reply-To: <reply-7@liaison.test>"]);
    assert_eq!(
        place(&m, &desk()),
        Placement::Existing {
            case: 7,
            matched: Matched::Header("reply-7@liaison.test".into()),
            joins: Some("friend@example.org".into())
        }
    );
}

#[test]
fn mail_to_a_merged_case_goes_to_its_survivor_and_a_merge_loop_does_not_hang() {
    let mut d = desk();
    d.merged.insert(7, 8);
    let m = mail("reader@example.org", "Re: Error", &["In-Reply-To: <reply-7@liaison.test>"]);
    assert_eq!(
        place(&m, &d),
        Placement::Existing {
            case: 8,
            matched: Matched::Header("reply-7@liaison.test".into()),
            joins: Some("reader@example.org".into())
        },
        "the survivor takes it; its sender joins the survivor"
    );
    d.merged.insert(8, 7);
    assert!(matches!(place(&m, &d), Placement::Existing { .. }), "a loop in the merges is cut, not followed for ever");
}
