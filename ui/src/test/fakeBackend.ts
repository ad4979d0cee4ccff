/**
 * An in-memory stand-in for the Rust side, used by every unit test through the
 * `@tauri-apps/api/core` mock in `setup.ts`. Handlers follow the command contract
 * (camelCase arguments, `{ code, message }` rejections); a test replaces one with
 * `backend.on( 'unlock_vault', () => { throw apiError( 'wrong_passphrase' ); } )`.
 */
import { vi } from 'vitest';
import type {
	ApiError,
	Conflict,
	ConflictSide,
	Contact,
	ContactInput,
	ContactPage,
	ContactSummary,
	ErrorCode,
	LedgerEntry,
	SyncStatus,
	VaultState
} from '@/api/bindings';
import { FakeDesk, type FakeCanned, type FakeCase, type FakeQueue } from './fakeDesk';

export { CASE_KINDS, makeCanned, makeCase, makeMessage, makeQueue } from './fakeDesk';
export type { FakeCanned, FakeCase, FakeQueue } from './fakeDesk';

const CONTACT_KINDS = [ 'contact', 'contact_email', 'contact_phone', 'contact_identifier' ];

// Arguments arrive as the untyped record that `invoke` passes on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Record<string, any>;
type Handler = ( args: Args ) => unknown;

export function apiError( code: ErrorCode, message = `backend says: ${ code }` ): ApiError {
	return { code, message };
}

export function makeContact( overrides: Partial<Contact> = {} ): Contact {
	return {
		id: overrides.id ?? `c-${ Math.random().toString( 36 ).slice( 2, 10 ) }`,
		displayName: 'Ada Lovelace',
		emails: [],
		phones: [],
		identifiers: [],
		language: null,
		organization: null,
		tags: [],
		notes: null,
		restricted: false,
		createdAt: '2024-05-01T10:00:00Z',
		updatedAt: '2024-05-02T11:30:00Z',
		...overrides
	};
}

export function summarize( contact: Contact ): ContactSummary {
	return {
		id: contact.id,
		displayName: contact.displayName,
		primaryEmail: contact.emails[ 0 ]?.address ?? null,
		organization: contact.organization,
		language: contact.language,
		tags: contact.tags,
		restricted: contact.restricted,
		updatedAt: contact.updatedAt
	};
}

function side( overrides: Partial<ConflictSide> = {} ): ConflictSide {
	return { text: null, fields: [], user: 'someone', device: 'd-1', writtenAt: '2024-05-02T11:00:00Z', ...overrides };
}

/**
 * A field conflict by default: this user's "Old Co" was set aside for another user's
 * "New Co" in the organisation of contact c-1. Sides are merged with their defaults.
 */
export function makeConflict(
	overrides: Omit<Partial<Conflict>, 'mine' | 'theirs'> & { mine?: Partial<ConflictSide>; theirs?: Partial<ConflictSide> } = {}
): Conflict {
	const { mine, theirs, ...rest } = overrides;
	return {
		id: `k-${ Math.random().toString( 36 ).slice( 2, 10 ) }`,
		contactId: 'c-1',
		contactName: 'Ada Lovelace',
		entity: 'contact',
		field: 'organization',
		kind: 'field',
		mineWasKept: false,
		mineIsOwn: true,
		detectedAt: '2024-05-02T12:00:00Z',
		resolution: null,
		resolvedBy: null,
		resolvedAt: null,
		...rest,
		mine: side( { text: 'Old Co', user: 'ada', device: 'd-mine', writtenAt: '2024-05-02T10:00:00Z', ...mine } ),
		theirs: side( { text: 'New Co', user: 'grace', device: 'd-theirs', writtenAt: '2024-05-02T10:05:00Z', ...theirs } )
	};
}

/** Contact fields a field conflict can name, as `Contact` properties (text only). */
const CONTACT_TEXT_FIELDS: Record<string, 'organization' | 'language' | 'notes'> = {
	organization: 'organization',
	language: 'language',
	notes: 'notes'
};

function page( items: Contact[], offset: number, limit: number ): ContactPage {
	return { items: items.slice( offset, offset + limit ).map( summarize ), total: items.length, offset };
}

function fromInput( id: string, input: ContactInput, createdAt: string ): Contact {
	const identifiers = [];
	if ( input.wikiUser ) {
		identifiers.push( { id: `${ id }-wiki`, kind: 'wiki', value: input.wikiUser } );
	}
	if ( input.ircNick ) {
		identifiers.push( { id: `${ id }-irc`, kind: 'irc', value: input.ircNick } );
	}
	return {
		id,
		displayName: input.displayName,
		emails: input.emails.map( ( address, i ) => ( { id: `${ id }-e${ i }`, address, label: null } ) ),
		phones: input.phones.map( ( number, i ) => ( { id: `${ id }-p${ i }`, number, label: null } ) ),
		identifiers,
		language: input.language,
		organization: input.organization,
		tags: input.tags,
		notes: input.notes,
		restricted: input.restricted,
		createdAt,
		updatedAt: new Date().toISOString()
	};
}

class FakeBackend {
	vault!: VaultState;
	contacts!: Contact[];
	sync!: SyncStatus;
	passphrase: string | null = null;
	/** What `sync_ledger` answers (oldest first, as the backend does). */
	ledger: LedgerEntry[] = [];
	/** The conflict inbox, resolved ones included (oldest first, as the backend keeps them). */
	conflicts: Conflict[] = [];
	/** Queues, cases, canned replies and drafts (see fakeDesk.ts). */
	desk: FakeDesk = new FakeDesk( this );
	handlers: Record<string, Handler> = {};
	listeners = new Map<string, Set<( event: { payload: unknown } ) => void>>();
	invoke = vi.fn( async ( command: string, args?: Args ): Promise<unknown> => {
		const handler = this.handlers[ command ];
		if ( !handler ) {
			throw apiError( 'internal', `unknown command ${ command }` );
		}
		return handler( args ?? {} );
	} );

	constructor() {
		this.reset();
	}

	/** Back to: no vault, keychain available, no contacts, signed out; default handlers. */
	reset(): void {
		this.invoke.mockClear();
		this.listeners.clear();
		this.ledger = [];
		this.conflicts = [];
		this.passphrase = null;
		this.vault = {
			exists: false,
			unlocked: false,
			mode: null,
			keychainAvailable: true,
			keychainProblem: null,
			dataDir: '/home/test/.local/share/liaison',
			wiped: null
		};
		this.contacts = [];
		this.desk.reset();
		this.sync = {
			loggedIn: false,
			serverUrl: null,
			user: null,
			role: null,
			fingerprint: null,
			pending: 0,
			conflicts: 0,
			lastSyncAt: null,
			lastError: null,
			syncing: false
		};
		this.handlers = this.defaultHandlers();
	}

	/** Puts `conflicts` in the inbox; the sync status counts the open ones. */
	withConflicts( conflicts: Conflict[] ): this {
		this.conflicts = conflicts;
		this.sync = { ...this.sync, conflicts: conflicts.filter( ( c ) => c.resolvedAt === null ).length };
		return this;
	}

	/** Starts from an existing, unlocked passphrase vault holding `contacts`. */
	unlocked( contacts: Contact[] = [] ): this {
		this.vault = { ...this.vault, exists: true, unlocked: true, mode: 'passphrase' };
		this.passphrase = 'correct horse';
		this.contacts = contacts;
		return this;
	}

	/**
	 * Puts queues, cases and canned replies on the desk, and the HTML of mails that came with it
	 * (`formatted`, by message id: what "Show formatted" gets; make those messages `formatted: true`).
	 */
	withDesk( desk: { queues?: FakeQueue[]; cases?: FakeCase[]; canned?: FakeCanned[]; formatted?: Record<string, string> } ): this {
		this.desk.queues = desk.queues ?? this.desk.queues;
		this.desk.cases = desk.cases ?? this.desk.cases;
		this.desk.canned = desk.canned ?? this.desk.canned;
		for ( const [ id, html ] of Object.entries( desk.formatted ?? {} ) ) {
			this.desk.formattedHtml.set( id, html );
		}
		return this;
	}

	/** Signed in to a server as `user`. */
	signedIn( user = 'ada', role = 'volunteer' ): this {
		this.sync = { ...this.sync, loggedIn: true, serverUrl: 'https://liaison.example.org', user, role, fingerprint: 'ab:cd' };
		return this;
	}

	on( command: string, handler: Handler ): this {
		this.handlers[ command ] = handler;
		return this;
	}

	/** Calls of one command, as their argument objects. */
	calls( command: string ): Args[] {
		return this.invoke.mock.calls.filter( ( [ c ] ) => c === command ).map( ( [ , a ] ) => a ?? {} );
	}

	listen( event: string, callback: ( event: { payload: unknown } ) => void ): () => void {
		const set = this.listeners.get( event ) ?? new Set();
		set.add( callback );
		this.listeners.set( event, set );
		return () => set.delete( callback );
	}

	/** What the real backend does after a command writes rows: `data-changed` with their kinds. */
	changed( entities: readonly string[] ): void {
		this.emit( 'data-changed', { entities: [ ...new Set( entities ) ] } );
	}

	emit( event: string, payload: unknown ): void {
		for ( const callback of this.listeners.get( event ) ?? [] ) {
			callback( { payload } );
		}
	}

	requireUnlocked(): void {
		if ( !this.vault.exists ) {
			throw apiError( 'no_vault' );
		}
		if ( !this.vault.unlocked ) {
			throw apiError( 'locked' );
		}
	}

	private sorted(): Contact[] {
		return [ ...this.contacts ].sort( ( a, b ) => a.displayName.localeCompare( b.displayName ) );
	}

	private defaultHandlers(): Record<string, Handler> {
		return {
			...this.desk.handlers(),
			vault_state: () => ( { ...this.vault } ),
			sync_ledger: () => [ ...this.ledger ],
			create_vault: ( { mode, passphrase } ) => {
				if ( this.vault.exists ) {
					throw apiError( 'vault_exists' );
				}
				if ( mode === 'passphrase' && ( typeof passphrase !== 'string' || passphrase.length < 8 ) ) {
					throw apiError( 'invalid_input', 'passphrase must be at least 8 characters' );
				}
				this.passphrase = mode === 'passphrase' ? passphrase : null;
				this.vault = { ...this.vault, exists: true, unlocked: true, mode };
				return { ...this.vault };
			},
			unlock_vault: ( { passphrase } ) => {
				if ( !this.vault.exists ) {
					throw apiError( 'no_vault' );
				}
				if ( this.vault.mode === 'passphrase' && passphrase !== this.passphrase ) {
					throw apiError( 'wrong_passphrase', 'could not decrypt the key' );
				}
				this.vault = { ...this.vault, unlocked: true };
				return { ...this.vault };
			},
			note_activity: () => null,
			lock_vault: () => {
				this.vault = { ...this.vault, unlocked: false };
				return { ...this.vault };
			},
			list_contacts: ( { offset, limit } ) => {
				this.requireUnlocked();
				return page( this.sorted(), offset, limit );
			},
			search_contacts: ( { query, offset, limit } ) => {
				this.requireUnlocked();
				const terms = String( query ).toLowerCase().split( /\s+/ ).filter( Boolean );
				const hits = this.sorted().filter( ( c ) => {
					const words = [ c.displayName, c.organization ?? '', ...c.emails.map( ( e ) => e.address ) ]
						.join( ' ' ).toLowerCase().split( /[\s@.]+/ );
					return terms.every( ( term ) => words.some( ( w ) => w.startsWith( term ) ) );
				} );
				return page( hits, offset, limit );
			},
			get_contact: ( { id } ) => {
				this.requireUnlocked();
				const found = this.contacts.find( ( c ) => c.id === id );
				if ( !found ) {
					throw apiError( 'not_found', `no contact ${ id }` );
				}
				return found;
			},
			create_contact: ( { input } ) => {
				this.requireUnlocked();
				const contact = fromInput( `c-${ this.contacts.length + 1 }`, input, new Date().toISOString() );
				this.contacts.push( contact );
				this.changed( CONTACT_KINDS );
				return contact;
			},
			update_contact: ( { id, input } ) => {
				this.requireUnlocked();
				const index = this.contacts.findIndex( ( c ) => c.id === id );
				if ( index < 0 ) {
					throw apiError( 'not_found' );
				}
				const contact = fromInput( id, input, this.contacts[ index ]!.createdAt );
				this.contacts[ index ] = contact;
				this.changed( CONTACT_KINDS );
				return contact;
			},
			delete_contact: ( { id } ) => {
				this.requireUnlocked();
				this.contacts = this.contacts.filter( ( c ) => c.id !== id );
				this.changed( CONTACT_KINDS );
				return null;
			},
			probe_server: ( { url } ) => ( { url, fingerprint: 'ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89' } ),
			login: ( { url, user, fingerprint } ) => {
				this.sync = { ...this.sync, loggedIn: true, serverUrl: url, user, role: 'volunteer', fingerprint };
				return { ...this.sync };
			},
			logout: () => {
				this.sync = { ...this.sync, loggedIn: false, serverUrl: null, user: null, role: null, fingerprint: null };
				return { ...this.sync };
			},
			sync_now: () => {
				if ( !this.sync.loggedIn ) {
					throw apiError( 'not_logged_in' );
				}
				this.sync = { ...this.sync, pending: 0, lastSyncAt: new Date().toISOString(), lastError: null };
				return { pushed: 0, rejected: 0, pulled: 0, changed: [], status: { ...this.sync } };
			},
			sync_status: () => ( { ...this.sync } ),
			list_conflicts: ( { includeResolved } ) => {
				this.requireUnlocked();
				return this.conflicts.filter( ( c ) => includeResolved || c.resolvedAt === null );
			},
			resolve_conflict: ( { id, keep, value } ) => {
				this.requireUnlocked();
				const index = this.conflicts.findIndex( ( c ) => c.id === id );
				if ( index < 0 ) {
					throw apiError( 'not_found', `Conflict ${ id }` );
				}
				const conflict = this.conflicts[ index ]!;
				if ( conflict.resolvedAt !== null ) {
					throw apiError( 'invalid_input', 'This conflict was already resolved.' );
				}
				if ( keep === 'value' && conflict.kind === 'delete' ) {
					throw apiError( 'invalid_input', 'A deleted record has no single value to edit; keep one side.' );
				}
				const resolved: Conflict = {
					...conflict,
					resolution: keep === 'mine' ? 'kept_mine' : keep === 'theirs' ? 'kept_theirs' : 'edited',
					resolvedBy: this.sync.user ?? 'this device',
					resolvedAt: new Date().toISOString()
				};
				// Contact text fields change as the backend would change them; other fields are not modelled.
				const property = conflict.entity === 'contact' ? CONTACT_TEXT_FIELDS[ conflict.field ?? '' ] : undefined;
				if ( conflict.kind === 'field' && property ) {
					const text = keep === 'value' ? value : keep === 'mine' ? conflict.mine.text : conflict.theirs.text;
					this.contacts = this.contacts.map( ( c ) => ( c.id === conflict.contactId ? { ...c, [ property ]: text || null } : c ) );
				}
				this.conflicts[ index ] = resolved;
				this.sync = { ...this.sync, conflicts: Math.max( 0, this.sync.conflicts - 1 ), pending: this.sync.pending + 1 };
				this.changed( [ 'conflict', conflict.entity ] );
				return resolved;
			}
		};
	}
}

export const backend = new FakeBackend();
