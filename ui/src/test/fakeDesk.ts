/**
 * The desk half of the fake backend: queues, cases with their threads, canned replies and
 * drafts, in memory, answering the desk commands the way `src-tauri/src/commands/desk.rs` does
 * (views, search and sort of `list_cases`; `send_message` appends to the thread and discards
 * the draft; `save_draft` keeps `startedAt`; an empty draft is discarded).
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
	SyncStatus
} from '@/api/bindings';

// Arguments arrive as the untyped record that `invoke` passes on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Record<string, any>;
type Handler = ( args: Args ) => unknown;

/** What a case's edit writes (`CASE_KINDS` in commands/desk.rs). */
export const CASE_KINDS = [ 'case', 'case_message', 'case_contact', 'attachment' ];
const BUILT_IN_STATES = [ 'new', 'open', 'pending', 'resolved', 'closed' ];
const DONE = [ 'resolved', 'closed' ];

export interface FakeQueue {
	id: string;
	name: string;
	email: string | null;
	archived: boolean;
	/** The queue's own states, after the built-in ones. */
	states: string[];
}

/** A case as the fake keeps it: a `CaseDetail` but for `states` (from its queue) and names. */
export type FakeCase = Omit<CaseDetail, 'states' | 'queueName'>;

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

/** The fake's desk data and its command handlers. */
export class FakeDesk {
	queues: FakeQueue[] = [];
	cases: FakeCase[] = [];
	canned: FakeCanned[] = [];
	drafts = new Map<string, Draft>();
	/** What `case_presence` answers (as if from the server), and every report it got. */
	presence: CasePresence = { online: true, others: [], repliedSince: [] };
	presenceReports: { caseId: string; activity: string; draftStartedAt: string | null }[] = [];

	constructor( private readonly host: DeskHost ) {}

	reset(): void {
		this.queues = [];
		this.cases = [];
		this.canned = [];
		this.drafts = new Map();
		this.presence = { online: true, others: [], repliedSince: [] };
		this.presenceReports = [];
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

	detail( c: FakeCase ): CaseDetail {
		return structuredClone( { ...c, queueName: this.queueName( c.queueId ), states: this.states( c.queueId ) } );
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
		if ( query.search && String( query.search ).trim() ) {
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
				c.messages.push( makeMessage( { kind: mode, channel: c.channel, authorUser: this.me(), body, sentAt: nowIso() } ) );
				if ( mode === 'reply' ) {
					c.awaitingSince = null;
				}
				this.drafts.delete( caseId );
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
