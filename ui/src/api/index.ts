/**
 * Typed wrappers for the backend's Tauri commands. Argument names are camelCase, as
 * Tauri maps them to the Rust snake_case parameters. Every function rejects with an
 * `ApiError` (see `./errors.ts`).
 */
import type {
	CannedSummary,
	CaseActivity,
	CaseDetail,
	CaseEdit,
	CasePage,
	CasePresence,
	CaseQuery,
	CaseRow,
	ComposerMode,
	Conflict,
	Contact,
	ContactInput,
	ContactPage,
	DataChanged,
	Draft,
	LoggedMessage,
	Keep,
	LedgerEntry,
	NewCase,
	QueueCounts,
	RenderedCanned,
	ServerProbe,
	SyncReport,
	SyncStatus,
	UnlockMode,
	VaultState
} from './bindings';
import { call, subscribe } from './transport';

export type * from './bindings';
export { SCHEMA } from './schema';
export type { EntityName } from './schema';
export { ERROR_CODES, ERROR_TABLE, describeError, isApiError, toApiError } from './errors';
export type { ErrorAction, ErrorInfo, ErrorSeverity } from './errors';

/** Backend events the UI listens to (emitted by src-tauri). */
export const EVENTS = {
	/** Payload: `VaultState`. Emitted when the vault locks itself (idle, OS sleep, screen lock). */
	vaultLocked: 'vault-locked',
	/** Payload: `SyncStatus`. Emitted when a sync starts and ends (background or requested). */
	syncStatus: 'sync-status',
	/**
	 * Payload: `DataChanged`. Rows of these kinds changed (a sync brought them, or a command
	 * wrote them): whatever shows them reloads. The one change notification there is.
	 */
	dataChanged: 'data-changed'
} as const;

/** The kinds of rows a contact's page shows. */
export const CONTACT_ENTITIES = [ 'contact', 'contact_email', 'contact_phone', 'contact_identifier' ] as const;

/** The kinds of rows the desk shows: queues, cases and their threads, replies' delivery, canned replies. */
export const DESK_ENTITIES = [
	'case', 'case_message', 'case_contact', 'case_link', 'attachment', 'delivery', 'queue', 'queue_member', 'canned_reply'
] as const;

export const dataApi = {
	/** Calls `handler` with the kinds of rows that changed (wire names, e.g. `contact`, `conflict`). */
	onChanged: ( handler: ( entities: string[] ) => void ) =>
		subscribe<DataChanged>( EVENTS.dataChanged, ( changed ) => handler( changed.entities ) )
};

export const vaultApi = {
	state: (): Promise<VaultState> => call( 'vault_state' ),
	create: ( mode: UnlockMode, passphrase: string | null ): Promise<VaultState> =>
		call( 'create_vault', { mode, passphrase } ),
	/** `passphrase: null` unlocks with the OS keychain. */
	unlock: ( passphrase: string | null ): Promise<VaultState> => call( 'unlock_vault', { passphrase } ),
	lock: (): Promise<VaultState> => call( 'lock_vault' ),
	/** The person is using the app: the vault's idle timeout starts again. */
	noteActivity: (): Promise<null> => call( 'note_activity' ),
	onLocked: ( handler: ( state: VaultState ) => void ) => subscribe( EVENTS.vaultLocked, handler )
};

export const contactsApi = {
	list: ( offset: number, limit: number ): Promise<ContactPage> => call( 'list_contacts', { offset, limit } ),
	search: ( query: string, offset: number, limit: number ): Promise<ContactPage> =>
		call( 'search_contacts', { query, offset, limit } ),
	get: ( id: string ): Promise<Contact> => call( 'get_contact', { id } ),
	create: ( input: ContactInput ): Promise<Contact> => call( 'create_contact', { input } ),
	update: ( id: string, input: ContactInput ): Promise<Contact> => call( 'update_contact', { id, input } ),
	remove: ( id: string ): Promise<null> => call( 'delete_contact', { id } ),
	/** Erase all data about the person on the server and every device (staff and admins). */
	erase: ( id: string ): Promise<SyncReport> => call( 'erase_contact', { id } )
};

export const syncApi = {
	probe: ( url: string ): Promise<ServerProbe> => call( 'probe_server', { url } ),
	login: ( url: string, user: string, password: string, fingerprint: string ): Promise<SyncStatus> =>
		call( 'login', { url, user, password, fingerprint } ),
	logout: (): Promise<SyncStatus> => call( 'logout' ),
	syncNow: (): Promise<SyncReport> => call( 'sync_now' ),
	status: (): Promise<SyncStatus> => call( 'sync_status' ),
	/** The newest `limit` outgoing changes, oldest of them first. */
	ledger: ( limit: number ): Promise<LedgerEntry[]> => call( 'sync_ledger', { limit } ),
	onStatus: ( handler: ( status: SyncStatus ) => void ) => subscribe( EVENTS.syncStatus, handler )
};

export const conflictsApi = {
	/** Open conflicts (and resolved ones with `includeResolved`), oldest first. */
	list: ( includeResolved: boolean ): Promise<Conflict[]> => call( 'list_conflicts', { includeResolved } ),
	/**
	 * Resolve a conflict by keeping one side, or (field conflicts only) a typed `value`; list
	 * fields take comma-separated items. An ordinary edit that syncs. Resolves with the
	 * resolved conflict.
	 */
	resolve: ( id: string, keep: Keep, value: string | null ): Promise<Conflict> =>
		call( 'resolve_conflict', { id, keep, value } )
};

export const deskApi = {
	/** Every queue on this device with its counts (the sidebar). */
	queues: (): Promise<QueueCounts[]> => call( 'desk_queues' ),
	/** One page of the cases `query` selects; `limit` is 1 to 500. View `mine` rejects with `not_logged_in` when nobody is signed in. */
	listCases: ( query: CaseQuery, offset: number, limit: number ): Promise<CasePage> =>
		call( 'list_cases', { query, offset, limit } ),
	getCase: ( id: string ): Promise<CaseDetail> => call( 'get_case', { id } ),
	/** The cases a contact appears in. */
	contactCases: ( contactId: string ): Promise<CaseRow[]> => call( 'contact_cases', { contactId } ),
	/** Record a case by hand (a phone call, a talk page thread, a conversation at a meetup). */
	createCase: ( input: NewCase ): Promise<CaseDetail> => call( 'create_case', { input } ),
	updateCase: ( id: string, edit: CaseEdit ): Promise<CaseDetail> => call( 'update_case', { id, edit } ),
	/** `to` is one of the case's `states`; the change is recorded in the thread. */
	setState: ( id: string, to: string ): Promise<CaseDetail> => call( 'set_case_state', { id, to } ),
	/** Give the case to a user, or to nobody (`owner: null`). */
	assign: ( id: string, owner: string | null ): Promise<CaseDetail> => call( 'assign_case', { id, owner } ),
	/** A reply to the reader (mailed by the server after sync) or an internal note; discards the case's draft. */
	send: ( caseId: string, mode: ComposerMode, body: string ): Promise<CaseDetail> =>
		call( 'send_message', { caseId, mode, body } ),
	/** The canned replies for a queue's cases (its own and those for every queue). */
	listCanned: ( queueId: string | null ): Promise<CannedSummary[]> => call( 'list_canned', { queueId } ),
	/** A canned reply filled in for a case, and the language version used. */
	renderCanned: ( cannedId: string, caseId: string ): Promise<RenderedCanned> =>
		call( 'render_canned', { cannedId, caseId } ),
	getDraft: ( caseId: string ): Promise<Draft | null> => call( 'get_draft', { caseId } ),
	/** Keep what the composer holds; an empty body with no canned reply discards the draft (resolves with `null`). */
	saveDraft: ( caseId: string, mode: ComposerMode, body: string, cannedId: string | null ): Promise<Draft | null> =>
		call( 'save_draft', { caseId, mode, body, cannedId } ),
	discardDraft: ( caseId: string ): Promise<null> => call( 'discard_draft', { caseId } ),
	/**
	 * Tell the server what this device is doing with a case and learn who else is at it; with
	 * `draftStartedAt`, also the replies others sent since. Offline or signed out it resolves
	 * with `online: false`.
	 */
	presence: ( caseId: string, activity: CaseActivity, draftStartedAt: string | null ): Promise<CasePresence> =>
		call( 'case_presence', { caseId, activity, draftStartedAt } ),
	/**
	 * Merge case `id` into case `into` (the reader wrote twice about one thing): `id` is closed,
	 * its thread and contacts show in `into`, mail to it joins `into`. Resolves with `into`.
	 */
	mergeCase: ( id: string, into: string ): Promise<CaseDetail> => call( 'merge_case', { id, into } ),
	/** Link two related cases, or take the link away (`remove`). Resolves with case `id`. */
	relateCases: ( id: string, other: string, remove: boolean ): Promise<CaseDetail> =>
		call( 'relate_cases', { id, other, remove } ),
	/** Open an http(s) address from a thread in the system's browser (never inside the app). */
	openLink: ( url: string ): Promise<null> => call( 'open_link', { url } ),
	/** The sanitized HTML of a reader's mail for "show formatted"; `null` when it had none. */
	messageFormatted: ( messageId: string ): Promise<string | null> => call( 'message_formatted', { messageId } ),
	/** Record what happened on another channel (a talk-page comment, a call): never mailed. */
	logMessage: ( caseId: string, input: LoggedMessage ): Promise<CaseDetail> =>
		call( 'log_message', { caseId, input } )
};
