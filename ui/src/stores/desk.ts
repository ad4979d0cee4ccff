/**
 * The desk: the queues with their counts, which cases the list shows (queue, view, sort,
 * search), the open case and what can be done to it (state, owner, priority, tags, replies and
 * notes, merging it into another case, linking related cases, recording what was said on
 * another channel), canned replies, and the composer's drafts. Also what a thread needs beyond
 * the case: a mail's formatted version (fetched once per message) and opening a link in the
 * system's browser (never in the app's window).
 *
 * As with contacts, the list itself is not held here: the list component pages through
 * `fetchPage` and watches `queryVersion` (start over) and `dataVersion` (reload in place).
 * A sync or a local edit of any desk row (`DESK_ENTITIES`) reloads the sidebar, the list and
 * the open case. Everything is dropped when the vault locks, formatted mail included.
 */
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import {
	DESK_ENTITIES,
	contactsApi,
	dataApi,
	deskApi,
	type ApiError,
	type CannedSummary,
	type CaseActivity,
	type CaseDetail,
	type CaseEdit,
	type CasePage,
	type CasePresence,
	type CaseQuery,
	type CaseRow,
	type CaseSort,
	type CaseView,
	type ComposerMode,
	type ContactSummary,
	type Draft,
	type LoggedMessage,
	type NewCase,
	type QueueCounts,
	type RenderedCanned
} from '@/api';
import { useSyncStore } from './sync';
import { useSelection } from '@/composables/useSelection';
import { useVaultStore } from './vault';

/** Cases per request of the list. */
export const CASE_PAGE_SIZE = 100;

/** The views of a queue, in the sidebar's order. */
export const CASE_VIEWS = [
	'unanswered', 'mine', 'unassigned', 'overdue', 'due_today', 'waiting', 'open', 'all'
] as const satisfies readonly CaseView[];

export const CASE_SORTS = [ 'updated', 'due', 'waiting', 'created' ] as const satisfies readonly CaseSort[];

/** What can be done to a case, for saying which action failed. */
export const CASE_ACTIONS = [ 'state', 'assign', 'edit' ] as const;
export type CaseAction = ( typeof CASE_ACTIONS )[ number ];

export interface CaseActionError {
	caseId: string;
	action: CaseAction;
	error: ApiError;
}

/** A change of a case's links that failed: which one, and whether it was a removal. */
export interface RelateError {
	caseId: string;
	other: string;
	remove: boolean;
	error: ApiError;
}

/** A link that would not open: its address, where it was (`from`, as the caller named it) and why. */
export interface LinkError {
	url: string;
	from: string;
	error: ApiError;
}

/** "The desk should open this case": the survivor of a merge, which replaced the open case. */
export interface OpenRequest {
	id: string;
	queueId: string;
}

/** "Open this case with the composer ready": `r` and `n` in the list. */
export interface ComposeRequest {
	caseId: string;
	mode: ComposerMode;
}

export const useDeskStore = defineStore( 'desk', () => {
	const vault = useVaultStore();
	const sync = useSyncStore();

	const queues = ref<QueueCounts[]>( [] );
	const queuesLoaded = ref( false );
	const queuesError = ref<ApiError | null>( null );

	const queueId = ref<string | null>( null );
	const view = ref<CaseView>( 'open' );
	const sort = ref<CaseSort>( 'updated' );
	const search = ref( '' );
	const queryVersion = ref( 0 );
	const dataVersion = ref( 0 );

	const acting = ref<CaseAction | null>( null );
	const actionError = ref<CaseActionError | null>( null );
	const sending = ref( false );
	const sendError = ref<ApiError | null>( null );
	const creating = ref( false );
	const createError = ref<ApiError | null>( null );
	const canned = ref<Record<string, CannedSummary[]>>( {} );
	const cannedError = ref<ApiError | null>( null );
	const composeRequest = ref<ComposeRequest | null>( null );
	const openRequest = ref<OpenRequest | null>( null );
	const merging = ref( false );
	const mergeError = ref<ApiError | null>( null );
	const relating = ref( false );
	const relateError = ref<RelateError | null>( null );
	const logging = ref( false );
	const logError = ref<ApiError | null>( null );
	const linkError = ref<LinkError | null>( null );
	/** The formatted version of each mail asked for (`null`: it has none), by message id. */
	let formatted = new Map<string, Promise<string | null>>();
	/** Where the desk was last (its address), so that coming back from contacts returns there. */
	const lastLocation = ref<string | null>( null );
	let queuesRequest = 0;

	/** The signed-in user, whom "Take" and "Mine" mean. */
	const me = computed( () => ( sync.status?.loggedIn ? sync.status.user : null ) );

	const query = computed<CaseQuery>( () => ( {
		queueId: queueId.value,
		view: view.value,
		sort: sort.value,
		search: search.value.trim() || null,
		state: null
	} ) );

	function fail( e: unknown ): ApiError {
		const error = e as ApiError;
		vault.noteError( error );
		return error;
	}

	const selection = useSelection( deskApi.getCase, fail );
	const { selected, selectedError, loadingSelected } = selection;

	// A sync or a command changed desk rows: everything that shows them reloads.
	void dataApi.onChanged( ( entities ) => {
		if ( vault.phase === 'unlocked' && entities.some( ( e ) => ( DESK_ENTITIES as readonly string[] ).includes( e ) ) ) {
			void reload();
		}
	} );

	async function loadQueues(): Promise<void> {
		const request = ++queuesRequest;
		try {
			const next = await deskApi.queues();
			if ( request === queuesRequest ) {
				queues.value = next;
				queuesError.value = null;
			}
		} catch ( e ) {
			if ( request === queuesRequest ) {
				queuesError.value = fail( e );
			}
		} finally {
			if ( request === queuesRequest ) {
				queuesLoaded.value = true;
			}
		}
	}

	/** One page of the list for the current queue, view, sort and search. */
	async function fetchPage( offset: number, limit: number ): Promise<CasePage> {
		try {
			return await deskApi.listCases( query.value, offset, limit );
		} catch ( e ) {
			throw fail( e );
		}
	}

	function restart(): void {
		queryVersion.value++;
	}

	function setQueue( id: string | null ): void {
		if ( id !== queueId.value ) {
			queueId.value = id;
			restart();
		}
	}

	function setView( next: CaseView ): void {
		if ( next !== view.value ) {
			view.value = next;
			restart();
		}
	}

	function setSort( next: CaseSort ): void {
		if ( next !== sort.value ) {
			sort.value = next;
			restart();
		}
	}

	function setSearch( next: string ): void {
		const changed = next.trim() !== search.value.trim();
		search.value = next;
		if ( changed ) {
			restart();
		}
	}

	/** The list should reload in place. */
	function invalidate(): void {
		dataVersion.value++;
	}

	function select( id: string | null ): Promise<void> {
		return selection.select( id );
	}

	/** Desk rows changed: the sidebar, the list and the open case reload. */
	async function reload(): Promise<void> {
		invalidate();
		const loading = loadQueues();
		const refetching = selection.refetch();
		await Promise.all( [ loading, refetching ] );
	}

	/**
	 * Runs a change of a case: `show` puts its result on screen, then the list and the sidebar
	 * reload. Resolves with the case after it, or null after `failed` was told why; `busy` is
	 * told when it starts and ends.
	 */
	async function change(
		busy: ( running: boolean ) => void,
		run: () => Promise<CaseDetail>,
		show: ( detail: CaseDetail ) => void,
		failed: ( error: ApiError ) => void
	): Promise<CaseDetail | null> {
		busy( true );
		try {
			const detail = await run();
			show( detail );
			invalidate();
			void loadQueues();
			return detail;
		} catch ( e ) {
			failed( fail( e ) );
			return null;
		} finally {
			busy( false );
		}
	}

	/** The open case shows `detail` when it is case `id`. */
	function showIfOpen( id: string ): ( detail: CaseDetail ) => void {
		return ( detail ) => {
			if ( selected.value?.id === id ) {
				selection.show( detail );
			}
		};
	}

	/** Runs a change of case `id`; the open case shows its result at once. */
	function act( id: string, action: CaseAction, run: () => Promise<CaseDetail> ): Promise<CaseDetail | null> {
		actionError.value = null;
		const busy = ( running: boolean ): void => {
			acting.value = running ? action : null;
		};
		return change( busy, run, showIfOpen( id ), ( error ) => {
			actionError.value = { caseId: id, action, error };
		} );
	}

	function setState( id: string, to: string ): Promise<CaseDetail | null> {
		return act( id, 'state', () => deskApi.setState( id, to ) );
	}

	function assign( id: string, owner: string | null ): Promise<CaseDetail | null> {
		return act( id, 'assign', () => deskApi.assign( id, owner ) );
	}

	/** Make the case the signed-in user's. */
	function take( id: string ): Promise<CaseDetail | null> {
		return assign( id, me.value );
	}

	function update( id: string, edit: Partial<CaseEdit> ): Promise<CaseDetail | null> {
		const full: CaseEdit = { subject: null, priority: null, tags: null, language: null, queueId: null, ...edit };
		return act( id, 'edit', () => deskApi.updateCase( id, full ) );
	}

	/** Send a reply or add a note; resolves with the case after it, or null (see `sendError`). */
	function send( caseId: string, mode: ComposerMode, body: string ): Promise<CaseDetail | null> {
		sendError.value = null;
		return change( ( running ) => ( sending.value = running ), () => deskApi.send( caseId, mode, body ), showIfOpen( caseId ), ( error ) => {
			sendError.value = error;
		} );
	}

	function clearSendError(): void {
		sendError.value = null;
	}

	/**
	 * Merge case `id` into case `into`. The survivor becomes the open case at once, and
	 * `openRequest` asks the desk to go to it; resolves with it, or null (see `mergeError`).
	 */
	function mergeCase( id: string, into: string ): Promise<CaseDetail | null> {
		mergeError.value = null;
		const show = ( detail: CaseDetail ): void => {
			if ( selected.value?.id === id || selected.value?.id === into ) {
				selection.show( detail );
				openRequest.value = { id: detail.id, queueId: detail.queueId };
			}
		};
		return change( ( running ) => ( merging.value = running ), () => deskApi.mergeCase( id, into ), show, ( error ) => {
			mergeError.value = error;
		} );
	}

	function clearMergeError(): void {
		mergeError.value = null;
	}

	/** Link case `id` to case `other`, or take the link away; resolves with `id`, or null (see `relateError`). */
	function relateCases( id: string, other: string, remove: boolean ): Promise<CaseDetail | null> {
		relateError.value = null;
		const show = ( detail: CaseDetail ): void => {
			if ( selected.value?.id === id ) {
				selection.show( detail );
			} else if ( selected.value?.id === other ) {
				void selection.refetch();
			}
		};
		return change( ( running ) => ( relating.value = running ), () => deskApi.relateCases( id, other, remove ), show, ( error ) => {
			relateError.value = { caseId: id, other, remove, error };
		} );
	}

	function clearRelateError(): void {
		relateError.value = null;
	}

	/** Record what was said on another channel; resolves with the case after it, or null (see `logError`). */
	function logMessage( caseId: string, input: LoggedMessage ): Promise<CaseDetail | null> {
		logError.value = null;
		return change( ( running ) => ( logging.value = running ), () => deskApi.logMessage( caseId, input ), showIfOpen( caseId ), ( error ) => {
			logError.value = error;
		} );
	}

	function clearLogError(): void {
		logError.value = null;
	}

	/**
	 * Open an http(s) address from a thread in the system's browser. Resolves with whether it
	 * opened; if not, `linkError` says why, for the place named `from` (default: the address).
	 */
	async function openLink( url: string, from: string = url ): Promise<boolean> {
		linkError.value = null;
		try {
			await deskApi.openLink( url );
			return true;
		} catch ( e ) {
			linkError.value = { url, from, error: fail( e ) };
			return false;
		}
	}

	function clearLinkError(): void {
		linkError.value = null;
	}

	/**
	 * The sanitized HTML of a mail, for "Show formatted" (`null` when it came without HTML).
	 * Asked once per message; a failure is not kept, so the next call asks again.
	 */
	function formattedOf( messageId: string ): Promise<string | null> {
		const known = formatted.get( messageId );
		if ( known ) {
			return known;
		}
		const cache = formatted;
		const asked = deskApi.messageFormatted( messageId ).catch( ( e: unknown ) => {
			cache.delete( messageId );
			throw fail( e );
		} );
		cache.set( messageId, asked );
		return asked;
	}

	function clearOpenRequest(): void {
		openRequest.value = null;
	}

	async function create( input: NewCase ): Promise<CaseDetail | null> {
		creating.value = true;
		createError.value = null;
		try {
			const detail = await deskApi.createCase( input );
			selection.show( detail );
			invalidate();
			void loadQueues();
			return detail;
		} catch ( e ) {
			createError.value = fail( e );
			return null;
		} finally {
			creating.value = false;
		}
	}

	function clearCreateError(): void {
		createError.value = null;
	}

	/** The canned replies for a queue's cases, fetched once per queue (and again after changes). */
	async function loadCanned( forQueue: string ): Promise<CannedSummary[]> {
		try {
			const list = await deskApi.listCanned( forQueue );
			canned.value = { ...canned.value, [ forQueue ]: list };
			cannedError.value = null;
			return list;
		} catch ( e ) {
			cannedError.value = fail( e );
			return canned.value[ forQueue ] ?? [];
		}
	}

	async function renderCanned( cannedId: string, caseId: string ): Promise<RenderedCanned | null> {
		try {
			const rendered = await deskApi.renderCanned( cannedId, caseId );
			cannedError.value = null;
			return rendered;
		} catch ( e ) {
			cannedError.value = fail( e );
			return null;
		}
	}

	async function getDraft( caseId: string ): Promise<Draft | null> {
		try {
			return await deskApi.getDraft( caseId );
		} catch ( e ) {
			throw fail( e );
		}
	}

	async function saveDraft( caseId: string, mode: ComposerMode, body: string, cannedId: string | null ): Promise<Draft | null> {
		try {
			return await deskApi.saveDraft( caseId, mode, body, cannedId );
		} catch ( e ) {
			throw fail( e );
		}
	}

	/** Who else is at a case (presence is a hint: any failure reads as offline). */
	async function presence( caseId: string, activity: CaseActivity, draftStartedAt: string | null ): Promise<CasePresence> {
		try {
			return await deskApi.presence( caseId, activity, draftStartedAt );
		} catch {
			return { online: false, others: [], repliedSince: [] };
		}
	}

	/** The cases a contact appears in, most recently updated first. */
	async function contactCases( contactId: string ): Promise<CaseRow[]> {
		try {
			return await deskApi.contactCases( contactId );
		} catch ( e ) {
			throw fail( e );
		}
	}

	/** A case read without opening it (to learn its queue, say). */
	async function peekCase( id: string ): Promise<CaseDetail> {
		try {
			return await deskApi.getCase( id );
		} catch ( e ) {
			throw fail( e );
		}
	}

	/**
	 * Cases in any queue, open or not, to pick one from: `#1234` finds case 1234, other text
	 * searches subjects and threads. Best matches first.
	 */
	async function findCases( text: string, limit = 20 ): Promise<CaseRow[]> {
		const q = text.trim();
		if ( !q ) {
			return [];
		}
		try {
			const page = await deskApi.listCases( { queueId: null, view: 'all', sort: 'updated', search: q, state: null }, 0, limit );
			return page.items;
		} catch ( e ) {
			throw fail( e );
		}
	}

	/** Contacts to offer as a new case's reader. */
	async function findReaders( text: string, limit = 10 ): Promise<ContactSummary[]> {
		const q = text.trim();
		if ( !q ) {
			return [];
		}
		try {
			return ( await contactsApi.search( q, 0, limit ) ).items;
		} catch ( e ) {
			throw fail( e );
		}
	}

	function requestCompose( caseId: string, mode: ComposerMode ): void {
		composeRequest.value = { caseId, mode };
	}

	function clearComposeRequest(): void {
		composeRequest.value = null;
	}

	// Signing in or out changes whom "Mine" means (and its count).
	watch( me, () => {
		if ( vault.phase !== 'unlocked' ) {
			return;
		}
		void loadQueues();
		if ( view.value === 'mine' ) {
			restart();
		}
	} );

	/** Forget all desk data held in memory (and so in the DOM). */
	function clear(): void {
		selection.show( null );
		queuesRequest++;
		queues.value = [];
		queuesLoaded.value = false;
		queuesError.value = null;
		queueId.value = null;
		search.value = '';
		actionError.value = null;
		sendError.value = null;
		createError.value = null;
		canned.value = {};
		cannedError.value = null;
		composeRequest.value = null;
		openRequest.value = null;
		mergeError.value = null;
		relateError.value = null;
		logError.value = null;
		linkError.value = null;
		formatted = new Map();
		lastLocation.value = null;
		queryVersion.value++;
	}

	watch( () => vault.phase, ( phase ) => {
		if ( phase !== 'unlocked' ) {
			clear();
		}
	} );

	return {
		queues,
		queuesLoaded,
		queuesError,
		queueId,
		view,
		sort,
		search,
		query,
		queryVersion,
		dataVersion,
		selected,
		selectedError,
		loadingSelected,
		acting,
		actionError,
		sending,
		sendError,
		creating,
		createError,
		canned,
		cannedError,
		composeRequest,
		openRequest,
		merging,
		mergeError,
		relating,
		relateError,
		logging,
		logError,
		linkError,
		lastLocation,
		me,
		loadQueues,
		fetchPage,
		setQueue,
		setView,
		setSort,
		setSearch,
		invalidate,
		select,
		reload,
		setState,
		assign,
		take,
		update,
		send,
		clearSendError,
		create,
		clearCreateError,
		mergeCase,
		clearMergeError,
		relateCases,
		clearRelateError,
		logMessage,
		clearLogError,
		openLink,
		clearLinkError,
		formattedOf,
		clearOpenRequest,
		peekCase,
		findCases,
		loadCanned,
		renderCanned,
		getDraft,
		saveDraft,
		contactCases,
		presence,
		findReaders,
		requestCompose,
		clearComposeRequest,
		clear
	};
} );
