//! Where an arriving message belongs: an existing case, a new one, or nowhere (it is already
//! stored). The server's mail in and the device's `.eml`/`.mbox` import decide alike:
//!
//! 1. A message whose own Message-ID is stored already is a **duplicate** (a fetch that was cut
//!    off and run again, the same mail in two mailboxes): nothing is created twice.
//! 2. **Headers first**: In-Reply-To, then every References id from the newest back, against the
//!    Message-IDs of all stored messages, inbound and outbound.
//! 3. Then **the case tag** in the subject (`[Liaison #1234]`), accepted on its own only from
//!    someone already on the case: anyone can type a tag, and a stranger's mail must not land in
//!    another reader's case.
//! 4. Otherwise a **new case**.
//!
//! A case merged into another takes no new messages: mail to it goes to the survivor. A sender
//! who is not on the case yet (a person in CC answering) joins it; the reader stays the reader.

use crate::Mail;

/// What the store knows about cases, for placing a message.
pub trait Cases {
    type Id: Clone + PartialEq + std::fmt::Debug;
    /// The case holding a stored message (inbound or outbound) with this Message-ID.
    fn by_message_id(&self, message_id: &str) -> Option<Self::Id>;
    /// The case with this number (the one in its tag).
    fn by_number(&self, number: u64) -> Option<Self::Id>;
    /// Whether this address (lowercase) is a person on the case: its reader, anyone who wrote
    /// to it or was written to from it.
    fn is_participant(&self, case: &Self::Id, address: &str) -> bool;
    /// The case this one was merged into, if it was.
    fn merged_into(&self, case: &Self::Id) -> Option<Self::Id>;
}

/// How a message was matched to its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched {
    /// By a Message-ID in In-Reply-To or References.
    Header(String),
    /// By the case tag, from someone on the case.
    Tag(u64),
}

/// Why a message opens a new case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewBecause {
    /// It answers nothing this desk knows and carries no tag.
    NoThread,
    /// Its tag names no case here.
    UnknownTag(u64),
    /// Its tag names a case its sender is not on.
    TagFromStranger(u64),
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement<Id> {
    /// Already stored, in this case.
    Duplicate(Id),
    /// Into an existing case. `joins`: the sender's address when they are not on the case yet
    /// (they join it; the reader stays the reader).
    Existing {
        case: Id,
        matched: Matched,
        joins: Option<String>,
    },
    New(NewBecause),
}

/// How many merges are followed (a loop in the data must not hang the queue).
const MAX_MERGE_HOPS: usize = 16;

/// Place `mail` (see the module's documentation).
pub fn place<C: Cases>(mail: &Mail, cases: &C) -> Placement<C::Id> {
    if let Some(case) = mail.message_id.as_deref().and_then(|id| cases.by_message_id(id)) {
        return Placement::Duplicate(case);
    }
    let sender = mail.from.as_ref().map(crate::Address::key);
    let into = |case: C::Id, matched: Matched| {
        let case = survivor(cases, case);
        let joins = sender.clone().filter(|address| !cases.is_participant(&case, address));
        Placement::Existing { case, matched, joins }
    };
    for id in mail.thread_ids() {
        if let Some(case) = cases.by_message_id(&id) {
            return into(case, Matched::Header(id));
        }
    }
    let Some(number) = mail.case_tag() else { return Placement::New(NewBecause::NoThread) };
    let Some(case) = cases.by_number(number) else { return Placement::New(NewBecause::UnknownTag(number)) };
    let case = survivor(cases, case);
    match &sender {
        Some(address) if cases.is_participant(&case, address) => {
            Placement::Existing { case, matched: Matched::Tag(number), joins: None }
        }
        _ => Placement::New(NewBecause::TagFromStranger(number)),
    }
}

/// The case that takes a merged case's mail.
fn survivor<C: Cases>(cases: &C, case: C::Id) -> C::Id {
    let mut current = case;
    for _ in 0..MAX_MERGE_HOPS {
        match cases.merged_into(&current) {
            Some(next) if next != current => current = next,
            _ => break,
        }
    }
    current
}
