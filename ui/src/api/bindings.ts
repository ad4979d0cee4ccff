// Generated from the Rust types in src-tauri/src/dto/ by `cargo xtask bindings`.
// Do not edit by hand: a test fails when this file is stale.

export type ErrorCode = "invalid_input" | "not_found" | "bad_credentials" | "unauthenticated" | "device_revoked" | "forbidden" | "erased" | "resync_required" | "upgrade_required" | "payload_too_large" | "rate_limited" | "locked" | "wrong_passphrase" | "corrupt_database" | "no_vault" | "vault_exists" | "keychain_unavailable" | "server_unreachable" | "certificate_mismatch" | "bad_response" | "not_logged_in" | "unavailable" | "internal";
export type ApiError = { code: ErrorCode, message: string, };
export type UnlockMode = "keychain" | "passphrase";
export type VaultState = { exists: boolean, unlocked: boolean, mode: UnlockMode | null, keychainAvailable: boolean, keychainProblem: string | null, dataDir: string, 
/**
 * Set after the server revoked this device and its local data was wiped: what happened,
 * in words for a person (the setup screen shows it).
 */
wiped: string | null, };
export type ContactInput = { displayName: string, emails: Array<string>, phones: Array<string>, wikiUser: string | null, ircNick: string | null, language: string | null, organization: string | null, tags: Array<string>, notes: string | null, restricted: boolean, };
export type ContactEmail = { id: string, address: string, label: string | null, };
export type ContactPhone = { id: string, number: string, label: string | null, };
export type ContactIdentifier = { id: string, kind: string, value: string, };
export type Contact = { id: string, displayName: string, emails: Array<ContactEmail>, phones: Array<ContactPhone>, identifiers: Array<ContactIdentifier>, language: string | null, organization: string | null, tags: Array<string>, notes: string | null, restricted: boolean, createdAt: string, updatedAt: string, };
export type ContactSummary = { id: string, displayName: string, primaryEmail: string | null, organization: string | null, language: string | null, tags: Array<string>, restricted: boolean, updatedAt: string, };
export type ContactPage = { items: Array<ContactSummary>, total: number, offset: number, };
export type ServerProbe = { url: string, fingerprint: string, };
export type SyncStatus = { loggedIn: boolean, serverUrl: string | null, user: string | null, role: string | null, fingerprint: string | null, pending: number, conflicts: number, lastSyncAt: string | null, lastError: ApiError | null, syncing: boolean, };
export type SyncReport = { pushed: number, rejected: number, pulled: number, changed: Array<string>, status: SyncStatus, };
export type LedgerState = "pending" | "sent" | "accepted" | "rejected";
export type LedgerEntry = { changeId: string, entity: string, rowId: string, label: string | null, fields: Array<string>, created: boolean, deleted: boolean, state: LedgerState, error: ApiError | null, createdAt: string, updatedAt: string, };
export type ConflictField = { name: string, text: string, };
export type ConflictSide = { text: string | null, fields: Array<ConflictField>, user: string, device: string, writtenAt: string, };
export type ConflictKind = "field" | "delete";
export type Conflict = { id: string, contactId: string, contactName: string | null, entity: string, field: string | null, kind: ConflictKind, mine: ConflictSide, theirs: ConflictSide, mineWasKept: boolean, mineIsOwn: boolean, detectedAt: string, resolution: string | null, resolvedBy: string | null, resolvedAt: string | null, };
export type Keep = "mine" | "theirs" | "value";
export type DataChanged = { entities: Array<string>, };
export type QueueCounts = { id: string, name: string, email: string | null, archived: boolean, open: number, unanswered: number, mine: number, unassigned: number, overdue: number, 
/**
 * Since when the longest-waiting reader waits (RFC 3339), if anyone does.
 */
oldestUnansweredAt: string | null, };
export type CaseView = "all" | "open" | "unanswered" | "mine" | "unassigned" | "overdue" | "due_today" | "waiting";
export type CaseSort = "updated" | "due" | "waiting" | "created";
export type CaseQuery = { 
/**
 * One queue's cases, or every queue's.
 */
queueId: string | null, view: CaseView, sort: CaseSort, 
/**
 * Words to find in subjects, threads and tags.
 */
search: string | null, 
/**
 * Only cases in this state.
 */
state: string | null, };
export type CaseRow = { id: string, number: number | null, queueId: string, queueName: string | null, subject: string, kind: string, state: string, priority: string | null, owner: string | null, language: string | null, reader: string | null, messages: number, 
/**
 * The earliest due time of a running SLA clock (RFC 3339, UTC).
 */
dueAt: string | null, 
/**
 * Since when the reader waits for an answer, if they do.
 */
awaitingSince: string | null, createdAt: string, updatedAt: string, };
export type CasePage = { items: Array<CaseRow>, total: number, offset: number, };
export type SlaClock = { state: string, 
/**
 * When it falls (or fell) due, RFC 3339 UTC.
 */
due: string | null, breached: boolean, elapsedMinutes: number, targetMinutes: number | null, };
export type CaseSla = { firstResponse: SlaClock | null, update: SlaClock | null, resolution: SlaClock | null, };
export type CaseLink = { contactId: string, 
/**
 * `None` when the contact is not on this device.
 */
name: string | null, 
/**
 * `reader`, `subject`, `representative` or `other`.
 */
role: string, };
export type MessageAttachment = { id: string, name: string, mediaType: string | null, size: number, 
/**
 * This device holds the content.
 */
stored: boolean, };
export type OmittedPart = { name: string, bytes: number, reason: string, };
export type Delivery = { state: string, detail: string | null, attempts: number | null, updatedAt: string | null, };
export type CaseMessage = { id: string, kind: string, channel: string, authorUser: string | null, authorContactId: string | null, authorName: string | null, sentAt: string, 
/**
 * Plain text, always shown as text.
 */
body: string | null, attachments: Array<MessageAttachment>, delivery: Delivery | null, 
/**
 * The case it was written in: the case shown, or one merged into it.
 */
caseId: string, 
/**
 * Where it can be seen on its channel (a wiki diff, a mailing-list post).
 */
link: string | null, 
/**
 * Mail that came with HTML: "show formatted" can show it (`message_formatted`).
 */
formatted: boolean, 
/**
 * Parts of the mail that were not kept (too large), with why.
 */
omitted: Array<OmittedPart>, 
/**
 * The mail's charset was wrong or unknown: some characters may be replaced.
 */
encodingProblems: boolean, };
export type RelatedCase = { id: string, number: number | null, 
/**
 * `None` when that case is not on this device (a queue you are not a member of).
 */
subject: string | null, state: string | null, queueName: string | null, };
export type CaseDetail = { id: string, number: number | null, queueId: string, queueName: string | null, 
/**
 * The states a case of its queue may take (the built-in ones, then the queue's own).
 */
states: Array<string>, subject: string, kind: string, channel: string, state: string, language: string | null, category: string | null, priority: string | null, owner: string | null, tags: Array<string>, contacts: Array<CaseLink>, 
/**
 * Oldest first.
 */
messages: Array<CaseMessage>, sla: CaseSla | null, dueAt: string | null, awaitingSince: string | null, createdAt: string, updatedAt: string, 
/**
 * The case this one was merged into: it takes no new messages.
 */
mergedInto: RelatedCase | null, 
/**
 * The cases merged into this one; their messages are in the thread.
 */
merged: Array<RelatedCase>, 
/**
 * Related cases.
 */
links: Array<RelatedCase>, };
export type LoggedMessage = { 
/**
 * `inbound` or `reply`.
 */
kind: string, 
/**
 * `wiki`, `irc`, `mailing_list`, `phone`, `in_person`, `social` or `other`.
 */
channel: string, body: string, 
/**
 * The diff of a talk-page comment, the mailing-list post.
 */
link: string | null, 
/**
 * When it happened (RFC 3339); default: now.
 */
sentAt: string | null, };
export type ComposerMode = "reply" | "note";
export type Draft = { caseId: string, mode: ComposerMode, body: string, cannedId: string | null, 
/**
 * When the draft began: replies by others after it make the app ask before sending.
 */
startedAt: string, updatedAt: string, };
export type CannedSummary = { id: string, name: string, 
/**
 * Typed after `::` to insert it.
 */
shortcut: string | null, 
/**
 * `None`: for every queue.
 */
queueId: string | null, 
/**
 * Its language versions (tags).
 */
languages: Array<string>, };
export type RenderedCanned = { language: string, text: string, };
export type NewCase = { queueId: string, subject: string, 
/**
 * `inquiry`, `complaint` or `comment`.
 */
kind: string | null, 
/**
 * `email`, `wiki`, `irc`, `mailing_list`, `phone`, `in_person`, `social` …
 */
channel: string | null, language: string | null, 
/**
 * What the reader said: the case's first message.
 */
text: string | null, 
/**
 * The contact who wrote, linked as reader.
 */
readerId: string | null, };
export type CaseEdit = { subject: string | null, 
/**
 * An empty string clears it.
 */
priority: string | null, tags: Array<string> | null, 
/**
 * An empty string clears it.
 */
language: string | null, 
/**
 * Move the case to another queue.
 */
queueId: string | null, };
export type CaseActivity = "viewing" | "drafting" | "left";
export type PresentPerson = { user: string, device: string, activity: CaseActivity, seenAt: string, };
export type ReplySince = { user: string, messageId: string, at: string, };
export type CasePresence = { online: boolean, others: Array<PresentPerson>, repliedSince: Array<ReplySince>, };
