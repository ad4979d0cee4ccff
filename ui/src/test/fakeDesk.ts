/**
 * The desk half of the fake backend: queues, cases with their threads, canned replies and
 * drafts, in memory, answering the desk commands the way `src-tauri/src/commands/desk.rs` does
 * (views, search and sort of `list_cases`, where `#1234` finds case 1234; `send_message`
 * appends to the thread and discards the draft; `save_draft` keeps `startedAt`; an empty draft
 * is discarded) and `crates/core/src/cases.rs` does (`merge_case` closes the merged case, whose
 * thread and contacts then show in the survivor, and which takes no new messages;
 * `relate_cases` links both cases; `log_message` records another channel's interaction; the
 * refusals have the same codes and messages). A mail's formatted version is what a test put in
 * `formattedHtml` (a message made with `formatted: true`, say); `open_link` opens nothing and
 * keeps the addresses in `openedLinks`.
 */
import type {
	CannedSummary,
	CaseDetail,
	CaseMessage,
	CasePresence,
	CaseRow,
	Contact,
	Draft,
	ErrorCode,
	QueueCounts,
	RelatedCase,
	SyncStatus
} from '@/api/bindings';

// Arguments arrive as the untyped record that `invoke` passes on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Record<string, any>;
type Handler = ( args: Args ) => unknown;

/** What a case's edit writes (`CASE_KINDS` in commands/desk.rs). */
export const CASE_KINDS = [ 'case', 'case_message', 'case_contact', 'attachment', 'case_link' ];
const BUILT_IN_STATES = [ 'new', 'open', 'pending', 'resolved', 'closed' ];
const DONE = [ 'resolved', 'closed' ];
/** `CHANNELS` in the core: where a message was written or said. */
const CHANNELS = [ 'email', 'wiki', 'irc', 'mailing_list', 'phone', 'in_person', 'social', 'other' ];
const MAX_BODY = 200_000;

export interface FakeQueue {
	id: string;
	name: string;
	email: string | null;
	archived: boolean;
	/** The queue's own states, after the built-in ones. */
	states: string[];
}

/**
 * A case as the fake keeps it: a `CaseDetail` but for `states` (from its queue) and names, with
 * only its own messages, and the cases it refers to by id (`detail` fills them in, and adds the
 * threads and refs of the cases merged into it).
 */
export type FakeCase = Omit<CaseDetail, 'states' | 'queueName' | 'mergedInto' | 'merged' | 'links'> & {
	/** The id of the case this one was merged into. */
	mergedInto: string | null;
	/** The ids of related cases (either side of a link may hold it). */
	links: string[];
};

export interface FakeCanned extends CannedSummary {
	/** Text per language; `{{reader}}` and `{{agent}}` are filled in. */
	versions: Record<string, string>;
}

let serial = 0;

function apiError( code: ErrorCode, message: string ): { code: ErrorCode; message: string } {
	return { code, message };
}

export function makeQueue( overrides: Partial<FakeQueue> = {} ): FakeQueue {
	serial++;
	return { id: `q-${ serial }`, name: `queue-${ serial }`, email: null, archived: false, states: [], ...overrides };
}

export function makeMessage( overrides: Partial<CaseMessage> = {} ): CaseMessage {
	serial++;
	return {
		id: `m-${ serial }`,
		kind: 'inbound',
		channel: 'email',
		authorUser: null,
		authorContactId: null,
		authorName: null,
		sentAt: '2024-06-03T09:00:00.000Z',
		body: 'Hello, I have a question.',
		attachments: [],
		delivery: null,
		// The case whose thread holds it: `detail` says so.
		caseId: '',
		link: null,
		formatted: false,
		omitted: [],
		encodingProblems: false,
		...overrides
	};
}

export function makeCase( overrides: Partial<FakeCase> = {} ): FakeCase {
	serial++;
	return {
		id: `case-${ serial }`,
		number: serial,
		queueId: 'q-en',
		subject: `Question ${ serial }`,
		kind: 'inquiry',
		channel: 'email',
		state: 'open',
		language: 'en',
		category: null,
		priority: null,
		owner: null,
		tags: [],
		contacts: [],
		messages: [],
		sla: null,
		dueAt: null,
		awaitingSince: null,
		createdAt: '2024-06-03T09:00:00.000Z',
		updatedAt: '2024-06-03T09:00:00.000Z',
		mergedInto: null,
		links: [],
		...overrides
	};
}

export function makeCanned( overrides: Partial<FakeCanned> = {} ): FakeCanned {
	serial++;
	const versions = overrides.versions ?? { en: 'Thank you for writing to us, {{reader}}.' };
	return {
		id: `canned-${ serial }`,
		name: 'Thanks',
		shortcut: null,
		queueId: null,
		languages: Object.keys( versions ),
		...overrides,
		versions
	};
}

/** What the desk handlers need from the rest of the fake backend. */
export interface DeskHost {
	sync: SyncStatus;
	contacts: Contact[];
	requireUnlocked: () => void;
	changed: ( entities: readonly string[] ) => void;
}

function nowIso(): string {
	return new Date().toISOString();
}

function words( text: string ): string[] {
	return text.toLowerCase().split( /\s+/ ).filter( Boolean );
}

/** `#1234` in a search: the case with that number (the core's `list`). */
function numberSearch( search: unknown ): number | null {
	const match = /^#([+-]?\d+)$/.exec( String( search ?? '' ).trim() );
	return match ? Number( match[ 1 ] ) : null;
}

/** The core's `check_link`: an http(s) address of at most 2,000 characters. */
function checkLink( link: string ): string {
	const ok = ( link.startsWith( 'https://' ) || link.startsWith( 'http://' ) ) &&
		link.length > 'https://'.length &&
		[ ...link ].length <= 2000 &&
		!/[\s\p{Cc}]/u.test( link );
	if ( !ok ) {
		throw apiError( 'invalid_input', `${ JSON.stringify( link ) } is not a web address; give the address of the diff or post, e.g. https://en.wikipedia.org/w/index.php?diff=123` );
	}
	return link;
}

/** The fake's desk data and its command handlers. */
export class FakeDesk {
	queues: FakeQueue[] = [];
	cases: FakeCase[] = [];
	canned: FakeCanned[] = [];
	drafts = new Map<string, Draft>();
	/** What `case_presence` answers (as if from the server), and every report it got. */
	presence: CasePresence = { online: true, others: [], repliedSince: [] };
	presenceReports: { caseId: string; activity: string; draftStartedAt: string | null }[] = [];
	/** What `message_formatted` answers, by message id (the HTML as the backend sanitized it). */
	formattedHtml = new Map<string, string>();
	/** Every address `open_link` opened, in order. */
	openedLinks: string[] = [];

	constructor( private readonly host: DeskHost ) {}

	reset(): void {
		this.queues = [];
		this.cases = [];
		this.canned = [];
		this.drafts = new Map();
		this.presence = { online: true, others: [], repliedSince: [] };
		this.presenceReports = [];
		this.formattedHtml = new Map();
		this.openedLinks = [];
	}

	private me(): string | null {
		return this.host.sync.loggedIn ? this.host.sync.user : null;
	}

	private queueName( id: string ): string | null {
		return this.queues.find( ( q ) => q.id === id )?.name ?? null;
	}

	private find( id: string ): FakeCase {
		const found = this.cases.find( ( c ) => c.id === id );
		if ( !found ) {
			throw apiError( 'not_found', `Case ${ id }` );
		}
		return found;
	}

	private states( queueId: string ): string[] {
		return [ ...BUILT_IN_STATES, ...( this.queues.find( ( q ) => q.id === queueId )?.states ?? [] ) ];
	}

	/** How the core names a case in messages: `#1234`, or its subject in quotes. */
	private label( c: FakeCase ): string {
		return c.number === null ? `“${ c.subject }”` : `#${ c.number }`;
	}

	/** The label of case `id`, which may not be on this device. */
	private labelOf( id: string ): string {
		const c = this.cases.find( ( x ) => x.id === id );
		return c ? this.label( c ) : '“?”';
	}

	/** Another case as this device knows it (only its id when it is not here). */
	private ref( id: string ): RelatedCase {
		const c = this.cases.find( ( x ) => x.id === id );
		return c ?
			{ id, number: c.number, subject: c.subject, state: c.state, queueName: this.queueName( c.queueId ) } :
			{ id, number: null, subject: null, state: null, queueName: null };
	}

	private refs( ids: string[] ): RelatedCase[] {
		return [ ...new Set( ids ) ].map( ( id ) => this.ref( id ) ).sort( ( a, b ) =>
			Number( a.number === null ) - Number( b.number === null ) || ( a.number ?? 0 ) - ( b.number ?? 0 ) || a.id.localeCompare( b.id ) );
	}

	/** The cases merged into `id`, directly or through others. */
	private mergedInto( id: string ): FakeCase[] {
		const found: FakeCase[] = [];
		const seen = new Set( [ id ] );
		for ( let i = -1; i < found.length; i++ ) {
			const into = i < 0 ? id : found[ i ]!.id;
			for ( const c of this.cases ) {
				if ( c.mergedInto === into && !seen.has( c.id ) ) {
					seen.add( c.id );
					found.push( c );
				}
			}
		}
		return found;
	}

	private linksOf( c: FakeCase ): string[] {
		return [ ...c.links, ...this.cases.filter( ( x ) => x.links.includes( c.id ) ).map( ( x ) => x.id ) ].filter( ( id ) => id !== c.id );
	}

	detail( c: FakeCase ): CaseDetail {
		const merged = this.mergedInto( c.id );
		// The thread: its own messages and those of every case merged into it, each saying where it
		// was written, by time (a stable sort: a case's own messages keep the order they were put in).
		const messages = [ c, ...merged ]
			.flatMap( ( owner ) => owner.messages.map( ( m ) => ( { ...m, caseId: owner.id } ) ) );
		if ( merged.length ) {
			messages.sort( ( a, b ) => a.sentAt.localeCompare( b.sentAt ) );
		}
		return structuredClone( {
			...c,
			messages,
			queueName: this.queueName( c.queueId ),
			states: this.states( c.queueId ),
			mergedInto: c.mergedInto ? this.ref( c.mergedInto ) : null,
			merged: this.refs( merged.map( ( m ) => m.id ) ),
			links: this.refs( this.linksOf( c ) )
		} );
	}

	/** The core refuses new messages in a merged case. */
	private refuseIfMerged( c: FakeCase ): void {
		if ( c.mergedInto ) {
			const name = this.labelOf( c.mergedInto );
			throw apiError( 'invalid_input', `Case ${ this.label( c ) } was merged into case ${ name }: it takes no new messages. Write in case ${ name } instead.` );
		}
	}

	row( c: FakeCase ): CaseRow {
		const reader = c.contacts.find( ( l ) => l.role === 'reader' ) ?? c.contacts[ 0 ];
		return {
			id: c.id,
			number: c.number,
			queueId: c.queueId,
			queueName: this.queueName( c.queueId ),
			subject: c.subject,
			kind: c.kind,
			state: c.state,
			priority: c.priority,
			owner: c.owner,
			language: c.language,
			reader: reader?.name ?? null,
			messages: c.messages.length,
			dueAt: c.dueAt,
			awaitingSince: c.awaitingSince,
			createdAt: c.createdAt,
			updatedAt: c.updatedAt
		};
	}

	private isOpen( c: FakeCase ): boolean {
		return !DONE.includes( c.state );
	}

	private isMine( c: FakeCase ): boolean {
		const me = this.me();
		return !!me && !!c.owner && c.owner.toLowerCase() === me.toLowerCase();
	}

	private event( c: FakeCase, body: string ): void {
		c.messages.push( makeMessage( { kind: 'event', body, authorUser: this.me(), sentAt: nowIso() } ) );
	}

	private touch( c: FakeCase ): void {
		c.updatedAt = nowIso();
		this.host.changed( CASE_KINDS );
	}

	private counts( queue: FakeQueue ): QueueCounts {
		const open = this.cases.filter( ( c ) => c.queueId === queue.id && this.isOpen( c ) );
		const now = Date.now();
		const waiting = open.map( ( c ) => c.awaitingSince ).filter( ( at ): at is string => !!at ).sort();
		return {
			id: queue.id,
			name: queue.name,
			email: queue.email,
			archived: queue.archived,
			open: open.length,
			unanswered: waiting.length,
			mine: open.filter( ( c ) => this.isMine( c ) ).length,
			unassigned: open.filter( ( c ) => !c.owner ).length,
			overdue: open.filter( ( c ) => c.dueAt && Date.parse( c.dueAt ) < now ).length,
			oldestUnansweredAt: waiting[ 0 ] ?? null
		};
	}

	private matches( c: FakeCase, query: Args ): boolean {
		if ( query.queueId && c.queueId !== query.queueId ) {
			return false;
		}
		if ( query.state && c.state !== query.state ) {
			return false;
		}
		const number = numberSearch( query.search );
		if ( number !== null ) {
			if ( c.number !== number ) {
				return false;
			}
		} else if ( query.search && String( query.search ).trim() ) {
			const reader = c.contacts.map( ( l ) => l.name ?? '' ).join( ' ' );
			const text = [ c.subject, reader, ...c.tags, ...c.messages.map( ( m ) => m.body ?? '' ) ].join( ' ' ).toLowerCase();
			if ( !words( query.search ).every( ( w ) => text.includes( w ) ) ) {
				return false;
			}
		}
		const view = query.view ?? 'all';
		if ( view !== 'all' && !this.isOpen( c ) ) {
			return false;
		}
		const now = Date.now();
		const due = c.dueAt ? Date.parse( c.dueAt ) : null;
		const endOfDay = new Date();
		endOfDay.setHours( 24, 0, 0, 0 );
		switch ( view ) {
			case 'unanswered':
				return c.awaitingSince !== null;
			case 'mine':
				return this.isMine( c );
			case 'unassigned':
				return c.owner === null;
			case 'overdue':
				return due !== null && due < now;
			case 'due_today':
				return due !== null && due >= now && due < endOfDay.getTime();
			case 'waiting':
				return c.state === 'pending';
			default:
				return true;
		}
	}

	private sorted( cases: FakeCase[], sort: string, searching: boolean ): FakeCase[] {
		const byUpdated = ( a: FakeCase, b: FakeCase ): number => b.updatedAt.localeCompare( a.updatedAt ) || a.id.localeCompare( b.id );
		const nullsLast = ( key: 'dueAt' | 'awaitingSince' ) => ( a: FakeCase, b: FakeCase ): number => {
			const x = a[ key ];
			const y = b[ key ];
			if ( x === y ) {
				return byUpdated( a, b );
			}
			if ( x === null ) {
				return 1;
			}
			if ( y === null ) {
				return -1;
			}
			return x.localeCompare( y ) || byUpdated( a, b );
		};
		const order = searching ? byUpdated : {
			updated: byUpdated,
			due: nullsLast( 'dueAt' ),
			waiting: nullsLast( 'awaitingSince' ),
			created: ( a: FakeCase, b: FakeCase ) => b.createdAt.localeCompare( a.createdAt ) || a.id.localeCompare( b.id )
		}[ sort as 'updated' ] ?? byUpdated;
		return [ ...cases ].sort( order );
	}

	handlers(): Record<string, Handler> {
		const host = this.host;
		return {
			desk_queues: () => {
				host.requireUnlocked();
				return this.queues.map( ( q ) => this.counts( q ) );
			},
			list_cases: ( { query, offset, limit } ) => {
				host.requireUnlocked();
				if ( !Number.isInteger( limit ) || limit < 1 || limit > 500 ) {
					throw apiError( 'invalid_input', 'A page holds 1 to 500 cases.' );
				}
				if ( query.view === 'mine' && !this.me() ) {
					throw apiError( 'not_logged_in', '"Mine" needs a signed-in user: sign in to a server first.' );
				}
				const hits = this.sorted( this.cases.filter( ( c ) => this.matches( c, query ) ), query.sort, !!query.search );
				return { items: hits.slice( offset, offset + limit ).map( ( c ) => this.row( c ) ), total: hits.length, offset };
			},
			get_case: ( { id } ) => {
				host.requireUnlocked();
				return this.detail( this.find( id ) );
			},
			contact_cases: ( { contactId } ) => {
				host.requireUnlocked();
				return this.sorted( this.cases.filter( ( c ) => c.contacts.some( ( l ) => l.contactId === contactId ) ), 'updated', false )
					.map( ( c ) => this.row( c ) );
			},
			create_case: ( { input } ) => {
				host.requireUnlocked();
				if ( !this.queues.some( ( q ) => q.id === input.queueId ) ) {
					throw apiError( 'not_found', `Queue ${ input.queueId }` );
				}
				if ( !String( input.subject ?? '' ).trim() ) {
					throw apiError( 'invalid_input', 'A case needs a subject.' );
				}
				const now = nowIso();
				const reader = input.readerId ? host.contacts.find( ( c ) => c.id === input.readerId ) : undefined;
				if ( input.readerId && !reader ) {
					throw apiError( 'not_found', `Contact ${ input.readerId }` );
				}
				const created = makeCase( {
					queueId: input.queueId,
					number: Math.max( 0, ...this.cases.map( ( c ) => c.number ?? 0 ) ) + 1,
					subject: String( input.subject ).trim(),
					kind: input.kind ?? 'inquiry',
					channel: input.channel ?? 'email',
					state: 'new',
					language: input.language ?? null,
					contacts: reader ? [ { contactId: reader.id, name: reader.displayName, role: 'reader' } ] : [],
					messages: input.text ?
						[ makeMessage( { kind: 'inbound', channel: input.channel ?? 'email', body: input.text, authorContactId: reader?.id ?? null, authorName: reader?.displayName ?? null, sentAt: now } ) ] :
						[],
					awaitingSince: input.text ? now : null,
					createdAt: now,
					updatedAt: now
				} );
				this.cases.push( created );
				host.changed( CASE_KINDS );
				return this.detail( created );
			},
			update_case: ( { id, edit } ) => {
				host.requireUnlocked();
				const c = this.find( id );
				if ( edit.subject !== null && edit.subject !== undefined ) {
					c.subject = edit.subject;
				}
				if ( edit.priority !== null && edit.priority !== undefined ) {
					c.priority = edit.priority.trim() || null;
				}
				if ( edit.language !== null && edit.language !== undefined ) {
					c.language = edit.language.trim() || null;
				}
				if ( edit.tags !== null && edit.tags !== undefined ) {
					c.tags = edit.tags;
				}
				if ( edit.queueId ) {
					c.queueId = edit.queueId;
				}
				this.touch( c );
				return this.detail( c );
			},
			set_case_state: ( { id, to } ) => {
				host.requireUnlocked();
				const c = this.find( id );
				const state = this.states( c.queueId ).find( ( s ) => s.toLowerCase() === String( to ).trim().toLowerCase() );
				if ( !state ) {
					throw apiError( 'invalid_input', `${ to } is not a state of this queue` );
				}
				if ( state !== c.state ) {
					this.event( c, `State: ${ c.state } → ${ state }` );
					c.state = state;
					this.touch( c );
				}
				return this.detail( c );
			},
			assign_case: ( { id, owner } ) => {
				host.requireUnlocked();
				const c = this.find( id );
				const who = typeof owner === 'string' && owner.trim() ? owner.trim() : null;
				c.owner = who;
				this.event( c, who ? `Assigned to ${ who }` : 'Unassigned' );
				this.touch( c );
				return this.detail( c );
			},
			send_message: ( { caseId, mode, body } ) => {
				host.requireUnlocked();
				const c = this.find( caseId );
				if ( mode !== 'reply' && mode !== 'note' ) {
					throw apiError( 'invalid_input', `${ mode } is not a composer mode` );
				}
				if ( !String( body ?? '' ).trim() ) {
					throw apiError( 'invalid_input', 'The message is empty: write what the reader or the team should read.' );
				}
				this.refuseIfMerged( c );
				c.messages.push( makeMessage( { kind: mode, channel: c.channel, authorUser: this.me(), body, sentAt: nowIso() } ) );
				if ( mode === 'reply' ) {
					c.awaitingSince = null;
				}
				this.drafts.delete( caseId );
				this.touch( c );
				return this.detail( c );
			},
			log_message: ( { caseId, input } ) => {
				host.requireUnlocked();
				const c = this.find( caseId );
				const kind = String( input.kind ?? '' );
				if ( kind !== 'inbound' && kind !== 'reply' ) {
					throw apiError( 'invalid_input', `${ JSON.stringify( kind ) } is not something to record; record what the reader said (inbound) or the answer given (reply).` );
				}
				if ( input.channel === 'email' ) {
					throw apiError( 'invalid_input', 'Mail is not recorded by hand: it arrives through the queue\'s mailbox, and replies are sent from the composer.' );
				}
				this.refuseIfMerged( c );
				const rawLink = typeof input.link === 'string' ? input.link.trim() : '';
				const link = rawLink ? checkLink( rawLink ) : null;
				const channel = String( input.channel ?? '' ).trim().toLowerCase();
				if ( !CHANNELS.includes( channel ) ) {
					throw apiError( 'invalid_input', `${ JSON.stringify( channel ) } is not a channel; choose one of ${ CHANNELS.join( ', ' ) }.` );
				}
				const body = String( input.body ?? '' ).trim();
				if ( !body ) {
					throw apiError( 'invalid_input', 'A message needs some text (or a file).' );
				}
				if ( [ ...body ].length > MAX_BODY ) {
					throw apiError( 'invalid_input', 'The text is longer than 200,000 characters.' );
				}
				let sentAt = nowIso();
				if ( typeof input.sentAt === 'string' && input.sentAt.trim() ) {
					const at = input.sentAt.trim();
					const parsed = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test( at ) ? Date.parse( at ) : NaN;
					if ( Number.isNaN( parsed ) ) {
						throw apiError( 'invalid_input', `${ JSON.stringify( input.sentAt ) } is not a date and time (expected e.g. 2026-12-01T14:30:00Z)` );
					}
					sentAt = new Date( parsed ).toISOString();
				}
				const reader = kind === 'inbound' ? c.contacts.find( ( l ) => l.role === 'reader' ) : undefined;
				c.messages.push( makeMessage( {
					kind,
					channel,
					body,
					link,
					sentAt,
					authorUser: kind === 'inbound' ? null : this.me(),
					authorContactId: reader?.contactId ?? null,
					authorName: reader?.name ?? null
				} ) );
				if ( kind === 'reply' ) {
					c.awaitingSince = null;
				} else if ( c.awaitingSince === null ) {
					c.awaitingSince = sentAt;
				}
				this.touch( c );
				return this.detail( c );
			},
			merge_case: ( { id, into } ) => {
				host.requireUnlocked();
				if ( id === into ) {
					throw apiError( 'invalid_input', 'A case cannot be merged into itself; choose the case it repeats.' );
				}
				const from = this.find( id );
				const target = this.find( into );
				if ( from.mergedInto ) {
					throw apiError( 'invalid_input', `Case ${ this.label( from ) } was already merged into case ${ this.labelOf( from.mergedInto ) }.` );
				}
				if ( target.mergedInto ) {
					throw apiError( 'invalid_input', `Case ${ this.label( target ) } was itself merged into case ${ this.labelOf( target.mergedInto ) }; merge into that one.` );
				}
				this.event( from, `Merged into case ${ this.label( target ) }` );
				this.event( target, `Case ${ this.label( from ) } was merged into this case` );
				from.mergedInto = target.id;
				from.state = 'closed';
				from.queueId = target.queueId;
				for ( const link of from.contacts ) {
					const onSurvivor = target.contacts.some( ( l ) => l.contactId === link.contactId );
					if ( !onSurvivor && host.contacts.some( ( contact ) => contact.id === link.contactId ) ) {
						target.contacts.push( { ...link } );
					}
				}
				this.drafts.delete( from.id );
				from.updatedAt = nowIso();
				this.touch( target );
				return this.detail( target );
			},
			relate_cases: ( { id, other, remove } ) => {
				host.requireUnlocked();
				if ( id === other ) {
					throw apiError( 'invalid_input', 'A case cannot be linked to itself; choose the related case.' );
				}
				const c = this.find( id );
				const o = this.find( other );
				const linked = c.links.includes( o.id ) || o.links.includes( c.id );
				if ( remove ) {
					if ( !linked ) {
						throw apiError( 'not_found', `A link between case ${ this.label( c ) } and case ${ this.label( o ) }` );
					}
					c.links = c.links.filter( ( x ) => x !== o.id );
					o.links = o.links.filter( ( x ) => x !== c.id );
					this.event( c, `Unlinked from case ${ this.label( o ) }` );
					this.event( o, `Unlinked from case ${ this.label( c ) }` );
				} else {
					if ( c.links.includes( o.id ) && o.links.includes( c.id ) ) {
						return this.detail( c );
					}
					c.links = [ ...new Set( [ ...c.links, o.id ] ) ];
					o.links = [ ...new Set( [ ...o.links, c.id ] ) ];
					if ( !linked ) {
						this.event( c, `Linked to case ${ this.label( o ) }` );
						this.event( o, `Linked to case ${ this.label( c ) }` );
					}
				}
				o.updatedAt = nowIso();
				this.touch( c );
				return this.detail( c );
			},
			list_canned: ( { queueId } ) => {
				host.requireUnlocked();
				return this.canned
					.filter( ( k ) => !queueId || k.queueId === null || k.queueId === queueId )
					.map( ( { versions: _versions, ...summary } ) => summary );
			},
			render_canned: ( { cannedId, caseId } ) => {
				host.requireUnlocked();
				const k = this.canned.find( ( x ) => x.id === cannedId );
				if ( !k ) {
					throw apiError( 'not_found', `Canned reply ${ cannedId }` );
				}
				const c = this.find( caseId );
				const language = c.language && k.versions[ c.language ] !== undefined ? c.language :
					k.versions.en !== undefined ? 'en' : Object.keys( k.versions )[ 0 ]!;
				const reader = c.contacts.find( ( l ) => l.role === 'reader' )?.name ?? '';
				const text = k.versions[ language ]!.replace( /\{\{reader\}\}/g, reader ).replace( /\{\{agent\}\}/g, this.me() ?? '' );
				return { language, text };
			},
			get_draft: ( { caseId } ) => {
				host.requireUnlocked();
				this.find( caseId );
				return this.drafts.get( caseId ) ?? null;
			},
			save_draft: ( { caseId, mode, body, cannedId } ) => {
				host.requireUnlocked();
				this.find( caseId );
				if ( mode !== 'reply' && mode !== 'note' ) {
					throw apiError( 'invalid_input', `${ mode } is not a composer mode; it is reply or note.` );
				}
				if ( !body && !cannedId ) {
					this.drafts.delete( caseId );
					return null;
				}
				const now = nowIso();
				const draft: Draft = { caseId, mode, body, cannedId: cannedId ?? null, startedAt: this.drafts.get( caseId )?.startedAt ?? now, updatedAt: now };
				this.drafts.set( caseId, draft );
				return draft;
			},
			discard_draft: ( { caseId } ) => {
				host.requireUnlocked();
				this.drafts.delete( caseId );
				return null;
			},
			message_formatted: ( { messageId } ) => {
				host.requireUnlocked();
				if ( !this.cases.some( ( c ) => c.messages.some( ( m ) => m.id === messageId ) ) ) {
					throw apiError( 'not_found', `Message ${ messageId }` );
				}
				return this.formattedHtml.get( messageId ) ?? null;
			},
			open_link: ( { url } ) => {
				// The command's check (commands/desk.rs): http(s) only, at most 2,000 bytes, no spaces.
				const address = String( url ?? '' ).trim();
				const web = ( address.startsWith( 'https://' ) || address.startsWith( 'http://' ) ) &&
					new TextEncoder().encode( address ).length <= 2000 &&
					!/[\s\p{Cc}]/u.test( address );
				if ( !web ) {
					throw apiError( 'invalid_input', 'Only web addresses (http or https) are opened from the app.' );
				}
				this.openedLinks.push( address );
				return null;
			},
			case_presence: ( { caseId, activity, draftStartedAt } ) => {
				host.requireUnlocked();
				this.presenceReports.push( { caseId, activity, draftStartedAt } );
				return {
					online: this.presence.online,
					others: this.presence.others,
					repliedSince: draftStartedAt ? this.presence.repliedSince : []
				};
			}
		};
	}
}
