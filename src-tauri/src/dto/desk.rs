//! The desk as the UI shows it: the queue sidebar, case lists, a case with its thread, the
//! composer's drafts and canned replies.

use liaison_core::canned::{CannedReply, Rendered};
use liaison_core::cases::{
    Attachment as CoreAttachment, Case as CoreCase, CaseContact as CoreLink, CaseRef, CaseSummary, Clock as CoreClock,
    Delivery as CoreDelivery, Message as CoreMessage, Sla as CoreSla,
};
use liaison_core::contacts::Page;
use liaison_core::drafts::Draft as CoreDraft;
use liaison_core::queues::QueueCounts as CoreCounts;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One queue in the sidebar, with what waits in it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub archived: bool,
    pub open: u32,
    pub unanswered: u32,
    pub mine: u32,
    pub unassigned: u32,
    pub overdue: u32,
    /// Since when the longest-waiting reader waits (RFC 3339), if anyone does.
    pub oldest_unanswered_at: Option<String>,
}

fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<CoreCounts> for QueueCounts {
    fn from(c: CoreCounts) -> Self {
        QueueCounts {
            id: c.id.to_string(),
            name: c.name,
            email: c.email,
            archived: c.archived,
            open: small(c.open),
            unanswered: small(c.unanswered),
            mine: small(c.mine),
            unassigned: small(c.unassigned),
            overdue: small(c.overdue),
            oldest_unanswered_at: c.oldest_unanswered_at,
        }
    }
}

/// The desk's ready-made selections (every one but `all` leaves out resolved and closed cases).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CaseView {
    #[default]
    All,
    Open,
    Unanswered,
    Mine,
    Unassigned,
    Overdue,
    DueToday,
    Waiting,
}

impl From<CaseView> for liaison_core::cases::View {
    fn from(v: CaseView) -> Self {
        use liaison_core::cases::View;
        match v {
            CaseView::All => View::All,
            CaseView::Open => View::Open,
            CaseView::Unanswered => View::Unanswered,
            CaseView::Mine => View::Mine,
            CaseView::Unassigned => View::Unassigned,
            CaseView::Overdue => View::Overdue,
            CaseView::DueToday => View::DueToday,
            CaseView::Waiting => View::Waiting,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CaseSort {
    #[default]
    Updated,
    Due,
    Waiting,
    Created,
}

impl From<CaseSort> for liaison_core::cases::Sort {
    fn from(s: CaseSort) -> Self {
        use liaison_core::cases::Sort;
        match s {
            CaseSort::Updated => Sort::Updated,
            CaseSort::Due => Sort::Due,
            CaseSort::Waiting => Sort::Waiting,
            CaseSort::Created => Sort::Created,
        }
    }
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseQuery {
    /// One queue's cases, or every queue's.
    pub queue_id: Option<String>,
    pub view: CaseView,
    pub sort: CaseSort,
    /// Words to find in subjects, threads and tags.
    pub search: Option<String>,
    /// Only cases in this state.
    pub state: Option<String>,
}

/// One line of a case list.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseRow {
    pub id: String,
    pub number: Option<u32>,
    pub queue_id: String,
    pub queue_name: Option<String>,
    pub subject: String,
    pub kind: String,
    pub state: String,
    pub priority: Option<String>,
    pub owner: Option<String>,
    pub language: Option<String>,
    pub reader: Option<String>,
    pub messages: u32,
    /// The earliest due time of a running SLA clock (RFC 3339, UTC).
    pub due_at: Option<String>,
    /// Since when the reader waits for an answer, if they do.
    pub awaiting_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn number(n: Option<u64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok())
}

impl From<CaseSummary> for CaseRow {
    fn from(s: CaseSummary) -> Self {
        CaseRow {
            id: s.id.to_string(),
            number: number(s.number),
            queue_id: s.queue_id.to_string(),
            queue_name: s.queue_name,
            subject: s.subject,
            kind: s.kind,
            state: s.state,
            priority: s.priority,
            owner: s.owner,
            language: s.language,
            reader: s.reader,
            messages: small(s.messages),
            due_at: s.due_at,
            awaiting_since: s.awaiting_since,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct CasePage {
    pub items: Vec<CaseRow>,
    pub total: u32,
    pub offset: u32,
}

impl From<Page<CaseSummary>> for CasePage {
    fn from(p: Page<CaseSummary>) -> Self {
        CasePage {
            items: p.items.into_iter().map(Into::into).collect(),
            total: small(p.total),
            offset: small(p.offset),
        }
    }
}

/// One SLA clock: `idle`, `running`, `paused` (waiting on the reader) or `stopped`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SlaClock {
    pub state: String,
    /// When it falls (or fell) due, RFC 3339 UTC.
    pub due: Option<String>,
    pub breached: bool,
    pub elapsed_minutes: i32,
    pub target_minutes: Option<i32>,
}

fn minutes(m: i64) -> i32 {
    i32::try_from(m).unwrap_or(i32::MAX)
}

impl From<CoreClock> for SlaClock {
    fn from(c: CoreClock) -> Self {
        SlaClock {
            state: c.state,
            due: c.due,
            breached: c.breached,
            elapsed_minutes: minutes(c.elapsed_minutes),
            target_minutes: c.target_minutes.map(minutes),
        }
    }
}

/// The server's clocks of a case.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseSla {
    pub first_response: Option<SlaClock>,
    pub update: Option<SlaClock>,
    pub resolution: Option<SlaClock>,
}

impl From<CoreSla> for CaseSla {
    fn from(s: CoreSla) -> Self {
        CaseSla {
            first_response: s.first_response.map(Into::into),
            update: s.update.map(Into::into),
            resolution: s.resolution.map(Into::into),
        }
    }
}

/// A contact a case concerns, and their part in it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseLink {
    pub contact_id: String,
    /// `None` when the contact is not on this device.
    pub name: Option<String>,
    /// `reader`, `subject`, `representative` or `other`.
    pub role: String,
}

impl From<CoreLink> for CaseLink {
    fn from(l: CoreLink) -> Self {
        CaseLink { contact_id: l.contact_id.to_string(), name: l.name, role: l.role }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MessageAttachment {
    pub id: String,
    pub name: String,
    pub media_type: Option<String>,
    pub size: u32,
    /// This device holds the content.
    pub stored: bool,
}

impl From<CoreAttachment> for MessageAttachment {
    fn from(a: CoreAttachment) -> Self {
        MessageAttachment {
            id: a.id.to_string(),
            name: a.name,
            media_type: a.media_type,
            size: small(a.size),
            stored: a.stored,
        }
    }
}

/// Where a reply sent by mail stands: `queued`, `sending`, `sent`, `retrying`, `failed` or
/// `not_delivered`, with the mail server's answer.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub state: String,
    pub detail: Option<String>,
    pub attempts: Option<u32>,
    pub updated_at: Option<String>,
}

impl From<CoreDelivery> for Delivery {
    fn from(d: CoreDelivery) -> Self {
        Delivery { state: d.state, detail: d.detail, attempts: d.attempts.map(small), updated_at: d.updated_at }
    }
}

/// One message of a thread: `inbound` (from the reader), `reply` (the reader sees it), `note`
/// (the team only) or `event` (something that happened).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseMessage {
    pub id: String,
    pub kind: String,
    pub channel: String,
    pub author_user: Option<String>,
    pub author_contact_id: Option<String>,
    pub author_name: Option<String>,
    pub sent_at: String,
    /// Plain text, always shown as text.
    pub body: Option<String>,
    pub attachments: Vec<MessageAttachment>,
    pub delivery: Option<Delivery>,
    /// The case it was written in: the case shown, or one merged into it.
    pub case_id: String,
    /// Where it can be seen on its channel (a wiki diff, a mailing-list post).
    pub link: Option<String>,
    /// Mail that came with HTML: "show formatted" can show it (`message_formatted`).
    pub formatted: bool,
    /// Parts of the mail that were not kept (too large), with why.
    pub omitted: Vec<OmittedPart>,
    /// The mail's charset was wrong or unknown: some characters may be replaced.
    pub encoding_problems: bool,
}

/// A part of a reader's mail that was not kept, and why.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OmittedPart {
    pub name: String,
    pub bytes: u32,
    pub reason: String,
}

impl From<CoreMessage> for CaseMessage {
    fn from(m: CoreMessage) -> Self {
        CaseMessage {
            id: m.id.to_string(),
            kind: m.kind,
            channel: m.channel,
            author_user: m.author_user,
            author_contact_id: m.author_contact_id.map(|c| c.to_string()),
            author_name: m.author_name,
            sent_at: m.sent_at,
            body: m.body,
            attachments: m.attachments.into_iter().map(Into::into).collect(),
            delivery: m.delivery.map(Into::into),
            case_id: m.case_id.to_string(),
            link: m.link,
            formatted: m.formatted,
            omitted: m
                .omitted
                .into_iter()
                .map(|o| OmittedPart { name: o.name, bytes: small(o.bytes), reason: o.reason })
                .collect(),
            encoding_problems: m.encoding_problems,
        }
    }
}

/// Another case, as a case refers to it: the one it was merged into, one merged into it, a
/// related one.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RelatedCase {
    pub id: String,
    pub number: Option<u32>,
    /// `None` when that case is not on this device (a queue you are not a member of).
    pub subject: Option<String>,
    pub state: Option<String>,
    pub queue_name: Option<String>,
}

impl From<CaseRef> for RelatedCase {
    fn from(r: CaseRef) -> Self {
        RelatedCase {
            id: r.id.to_string(),
            number: number(r.number),
            subject: r.subject,
            state: r.state,
            queue_name: r.queue_name,
        }
    }
}

/// A case with its thread, as the case view shows it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseDetail {
    pub id: String,
    pub number: Option<u32>,
    pub queue_id: String,
    pub queue_name: Option<String>,
    /// The states a case of its queue may take (the built-in ones, then the queue's own).
    pub states: Vec<String>,
    pub subject: String,
    pub kind: String,
    pub channel: String,
    pub state: String,
    pub language: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub contacts: Vec<CaseLink>,
    /// Oldest first.
    pub messages: Vec<CaseMessage>,
    pub sla: Option<CaseSla>,
    pub due_at: Option<String>,
    pub awaiting_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The case this one was merged into: it takes no new messages.
    pub merged_into: Option<RelatedCase>,
    /// The cases merged into this one; their messages are in the thread.
    pub merged: Vec<RelatedCase>,
    /// Related cases.
    pub links: Vec<RelatedCase>,
}

impl CaseDetail {
    pub fn new(c: CoreCase, states: Vec<String>) -> Self {
        CaseDetail {
            id: c.id.to_string(),
            number: number(c.number),
            queue_id: c.queue_id.to_string(),
            queue_name: c.queue_name,
            states,
            subject: c.subject,
            kind: c.kind,
            channel: c.channel,
            state: c.state,
            language: c.language,
            category: c.category,
            priority: c.priority,
            owner: c.owner,
            tags: c.tags,
            contacts: c.contacts.into_iter().map(Into::into).collect(),
            messages: c.messages.into_iter().map(Into::into).collect(),
            sla: c.sla.map(Into::into),
            due_at: c.due_at,
            awaiting_since: c.awaiting_since,
            created_at: c.created_at,
            updated_at: c.updated_at,
            merged_into: c.merged_into.map(Into::into),
            merged: c.merged.into_iter().map(Into::into).collect(),
            links: c.links.into_iter().map(Into::into).collect(),
        }
    }
}

/// An interaction that happened on another channel, recorded by the person who handled it: what
/// the reader said (`inbound`) or the answer they were given there (`reply`, never mailed).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LoggedMessage {
    /// `inbound` or `reply`.
    pub kind: String,
    /// `wiki`, `irc`, `mailing_list`, `phone`, `in_person`, `social` or `other`.
    pub channel: String,
    pub body: String,
    /// The diff of a talk-page comment, the mailing-list post.
    pub link: Option<String>,
    /// When it happened (RFC 3339); default: now.
    pub sent_at: Option<String>,
}

/// What the composer writes: a reply the reader will see, or a note for the team only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ComposerMode {
    Reply,
    Note,
}

impl ComposerMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ComposerMode::Reply => "reply",
            ComposerMode::Note => "note",
        }
    }
}

/// What the composer held, kept on this device (encrypted) as it was typed.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    pub case_id: String,
    pub mode: ComposerMode,
    pub body: String,
    pub canned_id: Option<String>,
    /// When the draft began: replies by others after it make the app ask before sending.
    pub started_at: String,
    pub updated_at: String,
}

impl From<CoreDraft> for Draft {
    fn from(d: CoreDraft) -> Self {
        Draft {
            case_id: d.case_id.to_string(),
            mode: if d.mode == "note" { ComposerMode::Note } else { ComposerMode::Reply },
            body: d.body,
            canned_id: d.canned_id.map(|c| c.to_string()),
            started_at: d.started_at,
            updated_at: d.updated_at,
        }
    }
}

/// A canned reply in the composer's picker.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CannedSummary {
    pub id: String,
    pub name: String,
    /// Typed after `::` to insert it.
    pub shortcut: Option<String>,
    /// `None`: for every queue.
    pub queue_id: Option<String>,
    /// Its language versions (tags).
    pub languages: Vec<String>,
}

impl From<CannedReply> for CannedSummary {
    fn from(c: CannedReply) -> Self {
        CannedSummary {
            id: c.id.to_string(),
            name: c.name,
            shortcut: c.shortcut,
            queue_id: c.queue_id.map(|q| q.to_string()),
            languages: c.versions.into_keys().collect(),
        }
    }
}

/// A canned reply filled in for a case: the text the composer inserts, and which language
/// version it used.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RenderedCanned {
    pub language: String,
    pub text: String,
}

impl From<Rendered> for RenderedCanned {
    fn from(r: Rendered) -> Self {
        RenderedCanned { language: r.language, text: r.text }
    }
}

/// A case someone records by hand: a phone call, a talk page thread, a conversation at a meetup.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NewCase {
    pub queue_id: String,
    pub subject: String,
    /// `inquiry`, `complaint` or `comment`.
    pub kind: Option<String>,
    /// `email`, `wiki`, `irc`, `mailing_list`, `phone`, `in_person`, `social` …
    pub channel: Option<String>,
    pub language: Option<String>,
    /// What the reader said: the case's first message.
    pub text: Option<String>,
    /// The contact who wrote, linked as reader.
    pub reader_id: Option<String>,
}

/// A change of a case's details; `None` leaves a value as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CaseEdit {
    pub subject: Option<String>,
    /// An empty string clears it.
    pub priority: Option<String>,
    pub tags: Option<Vec<String>>,
    /// An empty string clears it.
    pub language: Option<String>,
    /// Move the case to another queue.
    pub queue_id: Option<String>,
}

/// What a person is doing with a case: `viewing`, `drafting` a reply, or `left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CaseActivity {
    Viewing,
    Drafting,
    Left,
}

impl From<CaseActivity> for liaison_protocol::wire::Activity {
    fn from(a: CaseActivity) -> Self {
        use liaison_protocol::wire::Activity;
        match a {
            CaseActivity::Viewing => Activity::Viewing,
            CaseActivity::Drafting => Activity::Drafting,
            CaseActivity::Left => Activity::Left,
        }
    }
}

impl From<liaison_protocol::wire::Activity> for CaseActivity {
    fn from(a: liaison_protocol::wire::Activity) -> Self {
        use liaison_protocol::wire::Activity;
        match a {
            Activity::Viewing => CaseActivity::Viewing,
            Activity::Drafting => CaseActivity::Drafting,
            Activity::Left => CaseActivity::Left,
        }
    }
}

/// Someone else at the same case now.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PresentPerson {
    pub user: String,
    pub device: String,
    pub activity: CaseActivity,
    pub seen_at: String,
}

/// A public reply someone else sent since this device's draft began.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReplySince {
    pub user: String,
    pub message_id: String,
    pub at: String,
}

/// Who else is at a case (only while online: `online` is false when the server could not be
/// asked, and the lists are then empty).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CasePresence {
    pub online: bool,
    pub others: Vec<PresentPerson>,
    pub replied_since: Vec<ReplySince>,
}

impl From<liaison_protocol::wire::PresenceResponse> for CasePresence {
    fn from(p: liaison_protocol::wire::PresenceResponse) -> Self {
        CasePresence {
            online: true,
            others: p
                .others
                .into_iter()
                .map(|o| PresentPerson {
                    user: o.user,
                    device: o.device,
                    activity: o.activity.into(),
                    seen_at: o.seen_at,
                })
                .collect(),
            replied_since: p
                .replied_since
                .into_iter()
                .map(|r| ReplySince { user: r.user, message_id: r.message_id.to_string(), at: r.at })
                .collect(),
        }
    }
}
