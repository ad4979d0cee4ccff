import { describe, expect, it, vi } from 'vitest';
import type { VueWrapper } from '@vue/test-utils';
import App from '@/App.vue';
import type { Delivery } from '@/api/bindings';
import { CASE_PAGE_SIZE } from '@/stores/desk';
import {
	backend,
	makeCanned,
	makeCase,
	makeContact,
	makeMessage,
	makeQueue,
	type FakeCase
} from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';
import { resizeWindow } from '@/test/window';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const ago = ( ms: number ): string => new Date( Date.now() - ms ).toISOString();
const ahead = ( ms: number ): string => new Date( Date.now() + ms ).toISOString();

const ADA = makeContact( { id: 'c-ada', displayName: 'Ada Lovelace' } );
const readerLink = { contactId: ADA.id, name: ADA.displayName, role: 'reader' };

/** Two queues, info-en with three open cases (one overdue, one waiting 3 h), info-de with one. */
function desk( cases: FakeCase[] = defaultCases() ): void {
	backend.unlocked( [ ADA ] ).withDesk( {
		queues: [
			makeQueue( { id: 'q-en', name: 'info-en', email: 'info-en@example.org' } ),
			makeQueue( { id: 'q-de', name: 'info-de' } )
		],
		cases
	} );
}

function defaultCases(): FakeCase[] {
	return [
		makeCase( {
			id: 'case-1',
			number: 101,
			queueId: 'q-en',
			subject: 'Photo licence question',
			contacts: [ readerLink ],
			awaitingSince: ago( 3 * HOUR + 10 * MINUTE ),
			dueAt: ago( 2 * HOUR + 5 * MINUTE ),
			updatedAt: '2024-06-03T12:00:00.000Z',
			messages: [ makeMessage( { kind: 'inbound', authorName: 'Ada Lovelace', body: 'May I reuse this photo?' } ) ]
		} ),
		makeCase( {
			id: 'case-2',
			number: 102,
			queueId: 'q-en',
			subject: 'Article about my company',
			dueAt: ahead( 40 * MINUTE + 30 * 1000 ),
			owner: 'grace',
			priority: 'high',
			updatedAt: '2024-06-03T11:00:00.000Z'
		} ),
		makeCase( { id: 'case-3', number: 103, queueId: 'q-en', subject: 'Thanks for the help', updatedAt: '2024-06-03T10:00:00.000Z' } ),
		makeCase( { id: 'case-4', number: 201, queueId: 'q-de', subject: 'Frage zum Artikel', language: 'de', updatedAt: '2024-06-03T09:00:00.000Z' } )
	];
}

function last<T>( items: T[] ): T {
	return items[ items.length - 1 ]!;
}

function rows( wrapper: VueWrapper ): string[] {
	return wrapper.findAll( '[data-testid="case-row"]' ).map( ( r ) => r.attributes( 'data-case-id' )! );
}

function lastListQuery(): Record<string, unknown> {
	const calls = backend.calls( 'list_cases' );
	return calls[ calls.length - 1 ]!.query;
}

/** Opens the Codex select whose handle has `testid` and returns its menu's labels. */
async function menuOf( wrapper: VueWrapper, testid: string ): Promise<string[]> {
	await wrapper.find( `[data-testid="${ testid }"]` ).trigger( 'click' );
	await settle();
	const select = wrapper.find( `[data-testid="${ testid }"]` ).element.closest( '.cdx-select-vue' )!;
	return [ ...select.querySelectorAll( '.cdx-menu-item' ) ].map( ( item ) => item.textContent!.trim() );
}

/** Picks `label` in the Codex select whose handle has `testid`. */
async function choose( wrapper: VueWrapper, testid: string, label: string ): Promise<void> {
	await menuOf( wrapper, testid );
	const select = wrapper.find( `[data-testid="${ testid }"]` ).element.closest( '.cdx-select-vue' )!;
	const item = [ ...select.querySelectorAll<HTMLElement>( '.cdx-menu-item' ) ].find( ( i ) => i.textContent!.trim() === label );
	if ( !item ) {
		throw new Error( `no "${ label }" in ${ testid }` );
	}
	item.click();
	await settle();
}

function press( key: string, init: KeyboardEventInit = {} ): void {
	( document.activeElement ?? document.body ).dispatchEvent( new KeyboardEvent( 'keydown', { key, bubbles: true, cancelable: true, ...init } ) );
}

async function openDesk( route = '/desk/q-en' ) {
	const mounted = await mountApp( App, { route } );
	await settle();
	return mounted;
}

describe( 'desk: queues and views', () => {
	it( 'shows every queue with its open and unanswered counts, what is overdue, and how long the oldest reader waits', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk' );
		const queues = wrapper.findAll( '[data-testid="desk-queue"]' );
		expect( queues.map( ( q ) => q.attributes( 'data-queue-id' ) ) ).toEqual( [ 'all', 'q-en', 'q-de' ] );
		const en = queues[ 1 ]!;
		expect( en.text() ).toContain( 'info-en' );
		expect( en.find( '[data-testid="queue-counts"]' ).text() ).toBe( '3 open · 1 unanswered' );
		const overdue = en.find( '[data-testid="queue-overdue"]' );
		expect( overdue.text(), 'overdue said in words' ).toBe( '1 overdue' );
		expect( overdue.find( '.cdx-icon' ).exists(), 'and with an icon, not by colour alone' ).toBe( true );
		expect( en.find( '[data-testid="queue-oldest"]' ).text() ).toBe( 'oldest waiting 3 h' );
		expect( queues[ 2 ]!.find( '[data-testid="queue-overdue"]' ).exists() ).toBe( false );
		expect( queues[ 0 ]!.find( '[data-testid="queue-counts"]' ).text(), 'all queues add up' ).toBe( '4 open · 1 unanswered' );
		expect( queues[ 0 ]!.attributes( 'aria-current' ), '/desk is all queues' ).toBe( 'true' );
	} );

	it( 'opens a queue from the sidebar, and lists its views with their counts', async () => {
		desk();
		const { wrapper, router } = await openDesk( '/desk' );
		await wrapper.find( '[data-testid="desk-queue"][data-queue-id="q-de"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-de' );
		expect( lastListQuery() ).toMatchObject( { queueId: 'q-de', view: 'open' } );
		expect( rows( wrapper ) ).toEqual( [ 'case-4' ] );

		await router!.push( '/desk/q-en' );
		await settle();
		const views = wrapper.findAll( '[data-testid="desk-view"]' );
		expect( views.map( ( v ) => v.attributes( 'data-view' ) ) ).toEqual(
			[ 'unanswered', 'mine', 'unassigned', 'overdue', 'due_today', 'waiting', 'open', 'all' ] );
		expect( views.map( ( v ) => v.text() ) ).toEqual( [
			'Unanswered1', 'Mine0', 'Unassigned2', 'Overdue1', 'Due today', 'Waiting on reader', 'Open3', 'All'
		] );
	} );

	it( 'reloads the list with the view chosen in the sidebar', async () => {
		desk();
		const { wrapper } = await openDesk();
		expect( rows( wrapper ) ).toEqual( [ 'case-1', 'case-2', 'case-3' ] );
		await wrapper.find( '[data-testid="desk-view"][data-view="unanswered"]' ).trigger( 'click' );
		await settle();
		expect( lastListQuery() ).toEqual( { queueId: 'q-en', view: 'unanswered', sort: 'updated', search: null, state: null } );
		expect( backend.calls( 'list_cases' ).every( ( c ) => c.limit === CASE_PAGE_SIZE ) ).toBe( true );
		expect( rows( wrapper ) ).toEqual( [ 'case-1' ] );
		expect( wrapper.find( '[data-testid="desk-view"][data-view="unanswered"]' ).attributes( 'aria-pressed' ) ).toBe( 'true' );

		await wrapper.find( '[data-testid="desk-view"][data-view="unassigned"]' ).trigger( 'click' );
		await settle();
		expect( rows( wrapper ) ).toEqual( [ 'case-1', 'case-3' ] );
	} );

	it( 'says where queues come from when there are none, and offers to sign in', async () => {
		backend.unlocked();
		const { wrapper } = await openDesk( '/desk' );
		const empty = wrapper.find( '[data-testid="queues-empty"]' );
		expect( empty.text() ).toContain( 'Queues come from the server' );
		await empty.find( '[data-testid="queues-sign-in"]' ).trigger( 'click' );
		await settle();
		expect( document.querySelector( '.cdx-dialog' )?.textContent, 'the sign-in dialog opens' ).toContain( 'Server address' );
	} );
} );

describe( 'desk: the case list', () => {
	it( 'shows number, subject, reader, state, priority, owner, the unanswered marker and the SLA badge', async () => {
		desk();
		const { wrapper } = await openDesk();
		const [ first, second, third ] = wrapper.findAll( '[data-testid="case-row"]' );
		expect( first!.find( '[data-testid="case-row-number"]' ).text() ).toBe( '#101' );
		expect( first!.text() ).toContain( 'Photo licence question' );
		expect( first!.text() ).toContain( 'Ada Lovelace' );
		expect( first!.find( '[data-testid="case-row-state"]' ).text() ).toBe( 'Open' );
		expect( first!.find( '[data-testid="case-row-unanswered"]' ).text() ).toBe( 'Unanswered' );
		expect( first!.find( '[data-testid="case-row-unanswered"] .cdx-icon' ).exists() ).toBe( true );
		expect( first!.find( '[data-testid="case-row-sla"]' ).text() ).toBe( 'overdue 2 h' );
		expect( first!.find( '[data-testid="case-row-sla"]' ).attributes( 'data-due' ) ).toBe( 'overdue' );
		expect( first!.text() ).toContain( 'Unassigned' );

		expect( second!.find( '[data-testid="case-row-sla"]' ).text() ).toBe( 'due in 40 min' );
		expect( second!.find( '[data-testid="case-row-priority"]' ).text() ).toBe( 'High' );
		expect( second!.text() ).toContain( 'Owner: grace' );
		expect( second!.find( '[data-testid="case-row-unanswered"]' ).exists() ).toBe( false );
		expect( third!.find( '[data-testid="case-row-sla"]' ).exists(), 'no deadline, no badge' ).toBe( false );
	} );

	it( 'searches a moment after typing stops, with the search in the query', async () => {
		desk();
		const { wrapper } = await openDesk();
		const before = backend.calls( 'list_cases' ).length;
		vi.useFakeTimers();
		await wrapper.find( 'input[data-testid="case-search"]' ).setValue( 'photo' );
		await vi.advanceTimersByTimeAsync( 100 );
		expect( backend.calls( 'list_cases' ), 'not while typing' ).toHaveLength( before );
		await vi.advanceTimersByTimeAsync( 200 );
		vi.useRealTimers();
		await settle();
		expect( lastListQuery().search ).toBe( 'photo' );
		expect( rows( wrapper ) ).toEqual( [ 'case-1' ] );
		expect( wrapper.find( '[data-testid="case-count"]' ).text() ).toBe( '1 match' );
	} );

	it( 'sorts by the order chosen', async () => {
		desk();
		const { wrapper } = await openDesk();
		await choose( wrapper, 'case-sort', 'Due soonest' );
		expect( lastListQuery().sort ).toBe( 'due' );
		expect( rows( wrapper ), 'the overdue case first, then the one due soon, then none' ).toEqual( [ 'case-1', 'case-2', 'case-3' ] );
	} );

	it( 'moves with j and k, opens with Enter, and leaves the keys alone while typing', async () => {
		desk();
		const { wrapper, router } = await openDesk();
		press( 'j' );
		await settle();
		press( 'j' );
		await settle();
		expect( router!.currentRoute.value.name, 'j moves, it does not open' ).toBe( 'desk-queue' );
		press( 'k' );
		await settle();
		press( 'Enter' );
		await settle();
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en/case-1' );
		expect( wrapper.find( '[data-testid="case-subject"]' ).text() ).toBe( 'Photo licence question' );

		press( 'j' );
		await settle();
		press( 'Enter' );
		await settle();
		expect( router!.currentRoute.value.params.id, 'from the open case to the next one' ).toBe( 'case-2' );

		const search = wrapper.find( 'input[data-testid="case-search"]' ).element as HTMLInputElement;
		search.focus();
		press( 'j' );
		press( 'Enter' );
		await settle();
		expect( router!.currentRoute.value.params.id, 'typing j in the search moves nothing' ).toBe( 'case-2' );
	} );

	it( 'opens the case under the cursor with the composer focused in reply mode on r, and note mode on n', async () => {
		desk();
		const { wrapper, router } = await openDesk();
		press( 'j' );
		await settle();
		press( 'r' );
		await settle();
		await settle();
		expect( router!.currentRoute.value.params.id ).toBe( 'case-1' );
		const composer = wrapper.find( '[data-testid="composer"]' );
		expect( composer.attributes( 'data-mode' ) ).toBe( 'reply' );
		expect( document.activeElement, 'the composer has the focus' ).toBe( wrapper.find( 'textarea[data-testid="composer-body"]' ).element );

		( document.activeElement as HTMLElement ).blur();
		press( 'n' );
		await settle();
		await settle();
		expect( wrapper.find( '[data-testid="composer"]' ).attributes( 'data-mode' ) ).toBe( 'note' );
		expect( document.activeElement ).toBe( wrapper.find( 'textarea[data-testid="composer-body"]' ).element );
	} );

	it( 'closes the case under the cursor on e', async () => {
		desk();
		const { wrapper } = await openDesk();
		press( 'j' );
		await settle();
		press( 'e' );
		await settle();
		expect( backend.calls( 'set_case_state' ) ).toEqual( [ { id: 'case-1', to: 'closed' } ] );
		expect( rows( wrapper ), 'a closed case leaves the open view' ).toEqual( [ 'case-2', 'case-3' ] );
	} );

	it( 'says what to do next when a view is empty', async () => {
		desk( [ makeCase( { id: 'case-9', queueId: 'q-en', owner: 'grace' } ) ] );
		const { wrapper } = await openDesk();
		const view = async ( name: string ): Promise<string> => {
			await wrapper.find( `[data-testid="desk-view"][data-view="${ name }"]` ).trigger( 'click' );
			await settle();
			return wrapper.find( '[data-testid="cases-empty"]' ).text();
		};
		expect( await view( 'unanswered' ) ).toBe( 'Nothing unanswered in info-en. Well done.' );
		expect( await view( 'unassigned' ) ).toBe( 'Every open case in info-en has an owner.' );
		expect( await view( 'overdue' ) ).toBe( 'Nothing overdue in info-en.' );
		expect( await view( 'waiting' ) ).toBe( 'No case in info-en is waiting on the reader.' );

		await wrapper.find( '[data-testid="desk-queue"][data-queue-id="q-de"]' ).trigger( 'click' );
		await settle();
		const all = await view( 'all' );
		expect( all ).toContain( 'No cases yet: cases arrive from the queue\'s mailbox after sync, or record one.' );
		await wrapper.find( '[data-testid="cases-empty-record"]' ).trigger( 'click' );
		await settle();
		expect( document.querySelector( '[data-testid="new-case-dialog"]' ), 'the button records a case' ).not.toBeNull();
	} );

	it( 'asks to sign in for "Mine" when nobody is signed in, and shows the cases once someone is', async () => {
		desk( [ makeCase( { id: 'case-9', queueId: 'q-en', owner: 'ada' } ) ] );
		const { wrapper } = await openDesk();
		await wrapper.find( '[data-testid="desk-view"][data-view="mine"]' ).trigger( 'click' );
		await settle();
		const notice = wrapper.find( '[data-testid="cases-sign-in"]' );
		expect( notice.text() ).toContain( 'sign in to your team\'s server first' );
		expect( notice.find( '[data-testid="cases-sign-in-button"]' ).exists() ).toBe( true );
		expect( wrapper.find( '.liaison-error-notice' ).exists(), 'not shown as a failure' ).toBe( false );

		backend.signedIn( 'ada' );
		backend.emit( 'sync-status', { ...backend.sync } );
		await settle();
		expect( rows( wrapper ) ).toEqual( [ 'case-9' ] );
	} );
} );

describe( 'desk: a case', () => {
	function threadCase(): FakeCase {
		const delivery = ( state: string, extra: Partial<Delivery> = {} ): Delivery => ( { state, detail: null, attempts: null, updatedAt: null, ...extra } );
		return makeCase( {
			id: 'case-1',
			number: 101,
			queueId: 'q-en',
			subject: 'Photo licence question',
			contacts: [ readerLink ],
			messages: [
				makeMessage( { id: 'm-in', kind: 'inbound', authorName: 'Ada Lovelace', body: 'May I reuse this photo?', sentAt: '2024-06-03T09:00:00.000Z' } ),
				makeMessage( { id: 'm-note', kind: 'note', authorUser: 'grace', body: 'Check the EXIF first.', sentAt: '2024-06-03T09:10:00.000Z' } ),
				makeMessage( { id: 'm-event', kind: 'event', body: 'Assigned to grace', sentAt: '2024-06-03T09:11:00.000Z' } ),
				makeMessage( { id: 'm-sent', kind: 'reply', authorUser: 'grace', body: 'Yes, with attribution.', sentAt: '2024-06-03T09:20:00.000Z', delivery: delivery( 'sent' ) } ),
				makeMessage( { id: 'm-retry', kind: 'reply', authorUser: 'grace', body: 'Also…', delivery: delivery( 'retrying', { attempts: 3, detail: '451 try again later' } ) } ),
				makeMessage( { id: 'm-bounce', kind: 'reply', authorUser: 'grace', body: 'And…', delivery: delivery( 'not_delivered', { detail: '550 no such user' } ) } ),
				makeMessage( {
					id: 'm-new',
					kind: 'reply',
					authorUser: 'grace',
					body: 'One more thing.',
					attachments: [ { id: 'a-1', name: 'licence.pdf', mediaType: 'application/pdf', size: 12_400, stored: true } ]
				} )
			]
		} );
	}

	it( 'labels what the reader wrote, what went to the reader and what only the team sees, with words and icons', async () => {
		desk( [ threadCase() ] );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const messages = wrapper.findAll( '[data-testid="thread-message"]' );
		const label = ( kind: string ): string => wrapper.find( `[data-testid="thread-message"][data-kind="${ kind }"] [data-testid="message-label"]` ).text();
		expect( messages.map( ( m ) => m.attributes( 'data-kind' ) ) ).toEqual( [ 'inbound', 'note', 'reply', 'reply', 'reply', 'reply' ] );
		expect( label( 'inbound' ) ).toBe( 'From the reader' );
		expect( label( 'reply' ) ).toBe( 'Reply to the reader' );
		expect( label( 'note' ) ).toBe( 'Internal note — the reader does not see this' );
		for ( const message of messages ) {
			expect( message.find( 'header .cdx-icon' ).exists(), 'each kind has its icon' ).toBe( true );
		}
		expect( wrapper.find( '[data-testid="thread-message"][data-kind="note"]' ).classes() ).toContain( 'liaison-case-thread__message--note' );
		expect( wrapper.find( '[data-testid="thread-event"]' ).text() ).toContain( 'Assigned to grace' );
		expect( wrapper.find( '[data-testid="message-attachment"]' ).text() ).toMatch( /licence\.pdf\s*12\.4 kB/ );
	} );

	it( 'shows where each reply\'s delivery stands, with the mail server\'s answer', async () => {
		desk( [ threadCase() ] );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const states = wrapper.findAll( '[data-testid="delivery-state"]' );
		expect( states.map( ( s ) => s.attributes( 'data-state' ) ) ).toEqual( [ 'sent', 'retrying', 'not_delivered', 'unsynced' ] );
		expect( states[ 0 ]!.text() ).toBe( 'Sent' );
		expect( states[ 1 ]!.text() ).toContain( 'Not sent yet — retrying' );
		expect( states[ 1 ]!.text() ).toContain( '3 attempts' );
		expect( states[ 1 ]!.find( '[data-testid="delivery-detail"]' ).text() ).toBe( '451 try again later' );
		expect( states[ 2 ]!.text() ).toContain( 'Not delivered' );
		expect( states[ 2 ]!.text() ).toContain( '550 no such user' );
		expect( states[ 3 ]!.text() ).toBe( 'Waiting to sync: it will be sent after the next sync' );
	} );

	it( 'renders hostile text in a thread as text', async () => {
		const payload = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 1</script>';
		desk( [ makeCase( { id: 'case-1', queueId: 'q-en', subject: payload, messages: [ makeMessage( { body: payload, authorName: payload } ) ] } ) ] );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const view = wrapper.find( '[data-testid="case-view"]' ).element;
		expect( view.querySelectorAll( 'img, script' ) ).toHaveLength( 0 );
		expect( wrapper.find( '[data-testid="message-body"]' ).text() ).toBe( payload );
		expect( wrapper.find( '[data-testid="case-subject"]' ).text() ).toBe( payload );
		expect( ( window as unknown as { __pwned?: number } ).__pwned ).toBeUndefined();
	} );

	it( 'changes state, takes and gives up the case, and sets the priority', async () => {
		desk();
		backend.signedIn( 'ada' );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		expect( wrapper.find( '[data-testid="case-owner"]' ).text() ).toBe( 'Nobody owns this case' );
		await wrapper.find( '[data-testid="case-take"]' ).trigger( 'click' );
		await settle();
		expect( backend.calls( 'assign_case' ) ).toEqual( [ { id: 'case-1', owner: 'ada' } ] );
		expect( wrapper.find( '[data-testid="case-owner"]' ).text() ).toBe( 'Owner: ada' );
		expect( wrapper.find( '[data-testid="case-take"]' ).exists(), 'already mine' ).toBe( false );
		await wrapper.find( '[data-testid="case-unassign"]' ).trigger( 'click' );
		await settle();
		expect( backend.calls( 'assign_case' )[ 1 ] ).toEqual( { id: 'case-1', owner: null } );

		expect( await menuOf( wrapper, 'case-state' ) ).toEqual( [ 'New', 'Open', 'Waiting on reader', 'Resolved', 'Closed' ] );
		await choose( wrapper, 'case-state', 'Waiting on reader' );
		expect( backend.calls( 'set_case_state' ) ).toEqual( [ { id: 'case-1', to: 'pending' } ] );
		expect( wrapper.find( '[data-testid="thread-event"]:last-of-type' ).exists() ).toBe( true );
		expect( wrapper.text() ).toContain( 'State: open → pending' );

		await choose( wrapper, 'case-priority', 'Urgent' );
		expect( backend.calls( 'update_case' )[ 0 ]!.edit ).toEqual( { subject: null, priority: 'urgent', tags: null, language: null, queueId: null } );
	} );

	it( 'adds and removes tags', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const input = wrapper.find( 'input[data-testid="case-tags"]' );
		await input.setValue( 'copyright' );
		await input.trigger( 'keydown', { key: 'Enter' } );
		await settle();
		expect( backend.calls( 'update_case' ).map( ( c ) => c.edit.tags ) ).toEqual( [ [ 'copyright' ] ] );
		expect( backend.desk.cases[ 0 ]!.tags ).toEqual( [ 'copyright' ] );
		expect( wrapper.findAll( '.liaison-case-view__tags .cdx-input-chip' ).map( ( c ) => c.text() ) ).toEqual( [ 'copyright' ] );
	} );

	it( 'cannot take a case while nobody is signed in, and says why', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		expect( wrapper.find( '[data-testid="case-take"]' ).attributes( 'disabled' ) ).toBeDefined();
		expect( wrapper.find( '[data-testid="case-take-hint"]' ).text() ).toBe( 'Sign in to take cases.' );
	} );

	it( 'shows the SLA clocks with due times in local time, paused and breached ones in words', async () => {
		const clock = ( state: string, due: string | null, breached = false ) => ( { state, due, breached, elapsedMinutes: 0, targetMinutes: 60 } );
		desk( [ makeCase( {
			id: 'case-1',
			queueId: 'q-en',
			sla: {
				firstResponse: clock( 'running', ago( 2 * HOUR ) ),
				update: clock( 'paused', null ),
				resolution: clock( 'running', ahead( 3 * HOUR + MINUTE ) )
			}
		} ) ] );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const clocks = wrapper.findAll( '[data-testid="sla-clock"]' );
		expect( clocks.map( ( c ) => c.attributes( 'data-clock' ) ) ).toEqual( [ 'firstResponse', 'update', 'resolution' ] );
		expect( clocks[ 0 ]!.attributes( 'data-breached' ), 'past its due time: breached now' ).toBe( 'true' );
		expect( clocks[ 0 ]!.text() ).toContain( 'Breached' );
		expect( clocks[ 0 ]!.text() ).toContain( '2 h ago' );
		expect( clocks[ 1 ]!.text() ).toContain( 'paused while waiting on the reader' );
		expect( clocks[ 2 ]!.text() ).toMatch( /Resolution\s*due .+, in 3 h/ );
		expect( clocks[ 2 ]!.find( 'time' ).text(), 'with the time zone' ).toMatch( /UTC|GMT|[A-Z]{3,4}/ );
	} );

	it( 'lists the reader, links to their contact page and opens their other cases', async () => {
		const cases = defaultCases();
		cases[ 2 ]!.contacts = [ readerLink ];
		desk( cases );
		const { wrapper, router } = await openDesk( '/desk/q-en/case-1' );
		const person = wrapper.find( '[data-testid="side-contact"]' );
		expect( person.text() ).toContain( 'Ada Lovelace' );
		expect( person.find( '[data-testid="side-contact-role"]' ).text() ).toBe( 'Reader' );
		const others = person.findAll( '[data-testid="side-other-case"]' );
		expect( others.map( ( o ) => o.attributes( 'data-case-id' ) ), 'not the open case itself' ).toEqual( [ 'case-3' ] );
		await others[ 0 ]!.trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en/case-3' );

		await wrapper.find( '[data-testid="side-contact-open"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.fullPath ).toBe( '/contacts/c-ada' );
	} );

	it( 'reloads the open case when a sync brings only a change of links', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		expect( wrapper.findAll( '[data-testid="side-link"]' ) ).toHaveLength( 0 );
		// Another device linked #102 to this case: the sync brings the link row and nothing else.
		backend.desk.cases[ 1 ]!.links = [ 'case-1' ];
		backend.emit( 'data-changed', { entities: [ 'case_link' ] } );
		await settle();
		expect( wrapper.findAll( '[data-testid="side-link"]' ).map( ( l ) => l.attributes( 'data-case-id' ) ), 'the open case shows the new link' )
			.toEqual( [ 'case-2' ] );
	} );

	it( 'reloads the open case when a sync brings a message', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		backend.desk.cases[ 0 ]!.messages.push( makeMessage( { kind: 'inbound', body: 'Any news?' } ) );
		backend.changed( [ 'case_message' ] );
		await settle();
		expect( wrapper.find( '[data-testid="case-thread"]' ).text() ).toContain( 'Any news?' );
	} );
} );

describe( 'desk: the composer', () => {
	function textarea( wrapper: VueWrapper ) {
		return wrapper.find( 'textarea[data-testid="composer-body"]' );
	}

	it( 'makes the mode explicit: the switch, the line under it and the Send button say who will read it', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const send = () => wrapper.find( '[data-testid="composer-send"]' );
		expect( send().text() ).toBe( 'Send reply' );
		expect( wrapper.find( '[data-testid="composer-mode-reply"]' ).attributes( 'aria-pressed' ) ).toBe( 'true' );
		expect( wrapper.find( '[data-testid="composer-audience"]' ).text() ).toBe( 'The reader will receive this reply.' );
		await wrapper.find( '[data-testid="composer-mode-note"]' ).trigger( 'click' );
		await settle();
		expect( send().text() ).toBe( 'Add note' );
		expect( send().attributes( 'data-mode' ) ).toBe( 'note' );
		expect( wrapper.find( '[data-testid="composer-mode-note"]' ).attributes( 'aria-pressed' ) ).toBe( 'true' );
		expect( wrapper.find( '[data-testid="composer-audience"]' ).text() ).toContain( 'never the reader' );
	} );

	it( 'says a reply in a phone case is recorded as given there and not mailed, and that the reader receives one in a mail case', async () => {
		desk( [
			makeCase( { id: 'case-1', number: 101, queueId: 'q-en', subject: 'A call about a biography', channel: 'phone' } ),
			makeCase( { id: 'case-2', number: 102, queueId: 'q-en', subject: 'A mail about a photo', channel: 'email' } )
		] );
		const { wrapper, router } = await openDesk( '/desk/q-en/case-1' );
		const audience = () => wrapper.find( '[data-testid="composer-audience"]' );
		expect( audience().text(), 'nobody is mailed in a case that came by phone' )
			.toBe( 'Recorded as the answer given on another channel (Phone) — not mailed to the reader.' );
		expect( audience().attributes( 'data-mailed' ) ).toBe( 'false' );
		await textarea( wrapper ).setValue( 'Told him we will check the article.' );
		await wrapper.find( '[data-testid="composer-send"]' ).trigger( 'click' );
		await settle();
		const sent = last( wrapper.findAll( '[data-testid="thread-message"]' ) );
		expect( sent.find( '[data-testid="message-not-mailed"]' ).text(), 'and the thread says the same of what was sent' )
			.toBe( 'Answered on another channel (Phone): not sent by mail' );

		await router!.push( '/desk/q-en/case-2' );
		await settle();
		expect( audience().text(), 'a case that came by mail is answered by mail' ).toBe( 'The reader will receive this reply.' );
		expect( audience().attributes( 'data-mailed' ) ).toBe( 'true' );
		await wrapper.find( '[data-testid="composer-mode-note"]' ).trigger( 'click' );
		await settle();
		expect( audience().text(), 'a note is for the team in either case' ).toContain( 'never the reader' );
	} );

	it( 'sends a reply with Ctrl+Enter; the reply joins the thread and the draft is gone', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await textarea( wrapper ).setValue( 'Yes, you may, with attribution.' );
		await textarea( wrapper ).trigger( 'keydown', { key: 'Enter', ctrlKey: true } );
		await settle();
		expect( backend.calls( 'send_message' ) ).toEqual( [ { caseId: 'case-1', mode: 'reply', body: 'Yes, you may, with attribution.' } ] );
		const sent = last( wrapper.findAll( '[data-testid="thread-message"]' ) );
		expect( sent.attributes( 'data-kind' ) ).toBe( 'reply' );
		expect( sent.find( '[data-testid="delivery-state"]' ).attributes( 'data-state' ) ).toBe( 'unsynced' );
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value ).toBe( '' );
		expect( backend.desk.drafts.has( 'case-1' ), 'sending discarded the draft' ).toBe( false );
		await new Promise( ( resolve ) => setTimeout( resolve, 600 ) );
		await settle();
		expect( backend.desk.drafts.has( 'case-1' ), 'and nothing brought it back' ).toBe( false );
	} );

	it( 'adds an internal note when the mode is note', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await wrapper.find( '[data-testid="composer-mode-note"]' ).trigger( 'click' );
		await textarea( wrapper ).setValue( 'Asked legal.' );
		await wrapper.find( '[data-testid="composer-send"]' ).trigger( 'click' );
		await settle();
		expect( backend.calls( 'send_message' ) ).toEqual( [ { caseId: 'case-1', mode: 'note', body: 'Asked legal.' } ] );
		expect( last( wrapper.findAll( '[data-testid="thread-message"]' ) ).attributes( 'data-kind' ) ).toBe( 'note' );
	} );

	it( 'keeps the text and says why when sending fails', async () => {
		desk();
		backend.on( 'send_message', () => {
			throw { code: 'invalid_input', message: 'The text is longer than 200,000 characters.' };
		} );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await textarea( wrapper ).setValue( 'Long text' );
		await wrapper.find( '[data-testid="composer-send"]' ).trigger( 'click' );
		await settle();
		expect( wrapper.find( '[data-testid="composer-error"]' ).text() ).toContain( 'The text is longer than 200,000 characters.' );
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value ).toBe( 'Long text' );
		expect( backend.desk.drafts.get( 'case-1' )?.body, 'and it is kept as a draft' ).toBe( 'Long text' );
	} );

	it( 'keeps what is typed as a draft, and brings it back when the case opens again', async () => {
		desk();
		const { wrapper, router } = await openDesk( '/desk/q-en/case-1' );
		vi.useFakeTimers();
		await textarea( wrapper ).setValue( 'Dear Ada,' );
		await vi.advanceTimersByTimeAsync( 300 );
		expect( backend.calls( 'save_draft' ), 'not on every keystroke' ).toEqual( [] );
		await vi.advanceTimersByTimeAsync( 300 );
		vi.useRealTimers();
		await settle();
		expect( backend.calls( 'save_draft' ) ).toEqual( [ { caseId: 'case-1', mode: 'reply', body: 'Dear Ada,', cannedId: null } ] );
		expect( wrapper.find( '[data-testid="composer-draft-status"]' ).text() ).toContain( 'Draft kept' );

		await textarea( wrapper ).setValue( 'Dear Ada, thanks' );
		await router!.push( '/desk/q-en/case-2' );
		await settle();
		expect( backend.desk.drafts.get( 'case-1' )?.body, 'switching cases saved at once' ).toBe( 'Dear Ada, thanks' );
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value, 'the other case has its own composer text' ).toBe( '' );

		await router!.push( '/contacts' );
		await settle();
		await router!.push( '/desk/q-en/case-1' );
		await settle();
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value ).toBe( 'Dear Ada, thanks' );
	} );

	it( 'saves the draft at once when the composer loses the focus', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await textarea( wrapper ).setValue( 'Half a thought' );
		await textarea( wrapper ).trigger( 'blur' );
		await settle();
		expect( backend.desk.drafts.get( 'case-1' )?.body ).toBe( 'Half a thought' );
	} );

	it( 'leaves the text on Escape and never clears it', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const element = textarea( wrapper ).element as HTMLTextAreaElement;
		element.focus();
		await textarea( wrapper ).setValue( 'Keep me' );
		await textarea( wrapper ).trigger( 'keydown', { key: 'Escape' } );
		await settle();
		expect( document.activeElement ).not.toBe( element );
		expect( element.value ).toBe( 'Keep me' );
	} );

	it( 'opens the canned replies filtered by the letters after ::, inserts the chosen one filled in, and names its language', async () => {
		desk( [ makeCase( { id: 'case-1', queueId: 'q-en', language: 'de', contacts: [ readerLink ] } ) ] );
		backend.desk.canned = [
			makeCanned( { id: 'k-thanks', name: 'Thanks for writing', shortcut: 'tha', versions: { en: 'Thank you, {{reader}}.', de: 'Danke, {{reader}}.' } } ),
			makeCanned( { id: 'k-licence', name: 'Licence basics', shortcut: 'lic', versions: { en: 'About licences…' } } ),
			makeCanned( { id: 'k-other', name: 'Other queue only', queueId: 'q-de', versions: { en: 'x' } } )
		];
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const element = textarea( wrapper ).element as HTMLTextAreaElement;
		element.focus();
		await textarea( wrapper ).setValue( 'Hello ::tha' );
		await settle();
		const options = () => wrapper.findAll( '[data-testid="canned-option"]' );
		expect( wrapper.find( '[data-testid="canned-picker"]' ).attributes( 'data-open' ) ).toBe( 'true' );
		expect( options().map( ( o ) => o.attributes( 'data-canned-id' ) ) ).toEqual( [ 'k-thanks' ] );

		await options()[ 0 ]!.trigger( 'click' );
		await settle();
		expect( backend.calls( 'render_canned' ) ).toEqual( [ { cannedId: 'k-thanks', caseId: 'case-1' } ] );
		expect( element.value, 'the ::tha is replaced by the filled-in text' ).toBe( 'Hello Danke, Ada Lovelace.' );
		expect( wrapper.find( '[data-testid="composer-canned"]' ).text() ).toBe( 'Canned reply “Thanks for writing” — language: de' );
		expect( wrapper.find( '[data-testid="canned-picker"]' ).attributes( 'data-open' ) ).toBe( 'false' );

		await textarea( wrapper ).trigger( 'blur' );
		await settle();
		expect( backend.desk.drafts.get( 'case-1' )?.cannedId, 'the draft remembers the canned reply' ).toBe( 'k-thanks' );
	} );

	it( 'opens the canned replies from the button too, with a search of their own, and Enter takes the best match', async () => {
		desk();
		backend.desk.canned = [
			makeCanned( { id: 'k-thanks', name: 'Thanks for writing', versions: { en: 'Thank you.' } } ),
			makeCanned( { id: 'k-licence', name: 'Licence basics', shortcut: 'lic', versions: { en: 'About licences.' } } )
		];
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await wrapper.find( '[data-testid="canned-open"]' ).trigger( 'click' );
		await settle();
		expect( wrapper.findAll( '[data-testid="canned-option"]' ) ).toHaveLength( 2 );
		const search = wrapper.find( 'input[data-testid="canned-search"]' );
		expect( document.activeElement ).toBe( search.element );
		await search.setValue( 'lic' );
		await settle();
		expect( wrapper.findAll( '[data-testid="canned-option"]' ).map( ( o ) => o.attributes( 'data-canned-id' ) ) ).toEqual( [ 'k-licence' ] );
		await search.trigger( 'keydown', { key: 'Enter' } );
		await settle();
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value ).toBe( 'About licences.' );
		expect( wrapper.find( '[data-testid="composer-canned"]' ).text() ).toContain( 'language: en' );
	} );

	it( 'closes the canned replies on Escape and goes back to the text, which stays as it was', async () => {
		desk();
		backend.desk.canned = [ makeCanned( { id: 'k-thanks', name: 'Thanks for writing' } ) ];
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await textarea( wrapper ).setValue( 'Draft text' );
		await wrapper.find( '[data-testid="canned-open"]' ).trigger( 'click' );
		await settle();
		await wrapper.find( 'input[data-testid="canned-search"]' ).trigger( 'keydown', { key: 'Escape' } );
		await settle();
		expect( wrapper.find( '[data-testid="canned-picker"]' ).attributes( 'data-open' ) ).toBe( 'false' );
		expect( document.activeElement ).toBe( textarea( wrapper ).element );
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value ).toBe( 'Draft text' );
		expect( backend.calls( 'render_canned' ) ).toEqual( [] );
	} );

	it( 'asks before sending when someone else replied since the draft began; Review first does not send', async () => {
		desk();
		backend.signedIn( 'ada' );
		backend.desk.drafts.set( 'case-1', {
			caseId: 'case-1', mode: 'reply', body: 'My answer', cannedId: null, startedAt: ago( 30 * MINUTE ), updatedAt: ago( 20 * MINUTE )
		} );
		backend.desk.cases[ 0 ]!.messages.push( makeMessage( { id: 'm-grace', kind: 'reply', authorUser: 'grace', body: 'Already answered.', sentAt: ago( 10 * MINUTE ) } ) );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value, 'the draft came back' ).toBe( 'My answer' );

		await wrapper.find( '[data-testid="composer-send"]' ).trigger( 'click' );
		await settle();
		const dialog = document.querySelector( '[data-testid="composer-confirm"]' );
		expect( dialog?.textContent ).toContain( 'Someone else replied since you started. Send anyway?' );
		expect( dialog?.textContent ).toContain( 'grace sent a reply' );
		const buttons = [ ...document.querySelectorAll<HTMLButtonElement>( '.cdx-dialog__footer button' ) ];
		buttons.find( ( b ) => b.textContent?.includes( 'Review first' ) )!.click();
		await settle();
		expect( backend.calls( 'send_message' ), 'nothing sent' ).toEqual( [] );
		expect( document.querySelector( '[data-testid="composer-confirm"]' ) ).toBeNull();
		expect( ( textarea( wrapper ).element as HTMLTextAreaElement ).value ).toBe( 'My answer' );

		await wrapper.find( '[data-testid="composer-send"]' ).trigger( 'click' );
		await settle();
		[ ...document.querySelectorAll<HTMLButtonElement>( '.cdx-dialog__footer button' ) ]
			.find( ( b ) => b.textContent?.includes( 'Send anyway' ) )!.click();
		await settle();
		expect( backend.calls( 'send_message' ) ).toEqual( [ { caseId: 'case-1', mode: 'reply', body: 'My answer' } ] );
	} );

	it( 'asks too when the server knows of a reply someone sent that has not synced here yet', async () => {
		desk();
		backend.signedIn( 'ada' );
		const started = ago( 30 * MINUTE );
		backend.desk.drafts.set( 'case-1', {
			caseId: 'case-1', mode: 'reply', body: 'My answer', cannedId: null, startedAt: started, updatedAt: ago( 20 * MINUTE )
		} );
		backend.desk.presence.repliedSince = [ { user: 'kim', messageId: 'm-kim', at: ago( 5 * MINUTE ) } ];
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await wrapper.find( '[data-testid="composer-send"]' ).trigger( 'click' );
		await settle();
		const asked = backend.desk.presenceReports.find( ( r ) => r.draftStartedAt !== null );
		expect( asked, 'the server was asked with when the draft began' ).toEqual( { caseId: 'case-1', activity: 'drafting', draftStartedAt: started } );
		expect( document.querySelector( '[data-testid="composer-confirm"]' )?.textContent ).toContain( 'kim sent a reply' );
		expect( backend.calls( 'send_message' ), 'nothing sent before the answer' ).toEqual( [] );
	} );

	it( 'says who else has the case open or is writing a reply, and tells the server it left', async () => {
		desk();
		backend.signedIn( 'ada' );
		backend.desk.presence.others = [
			{ user: 'kim', device: 'kim-laptop', activity: 'drafting', seenAt: ago( 1000 ) },
			{ user: 'lee', device: 'lee-laptop', activity: 'viewing', seenAt: ago( 2000 ) }
		];
		const { wrapper, router } = await openDesk( '/desk/q-en/case-1' );
		await settle();
		expect( wrapper.find( '[data-testid="case-presence"]' ).text() ).toBe( 'kim is writing a reply · lee has this case open' );
		expect( backend.desk.presenceReports[ 0 ] ).toEqual( { caseId: 'case-1', activity: 'viewing', draftStartedAt: null } );
		await textarea( wrapper ).setValue( 'Dear reader' );
		await settle();
		expect( last( backend.desk.presenceReports ).activity, 'typing a reply is drafting' ).toBe( 'drafting' );
		await router!.push( '/desk/q-en/case-2' );
		await settle();
		expect( backend.desk.presenceReports.some( ( r ) => r.caseId === 'case-1' && r.activity === 'left' ) ).toBe( true );
	} );

	it( 'shows nobody when offline, without an error', async () => {
		desk();
		backend.desk.presence = { online: false, others: [], repliedSince: [] };
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await settle();
		expect( wrapper.find( '[data-testid="case-presence"]' ).exists() ).toBe( false );
		expect( wrapper.find( '[data-testid="composer-error"]' ).exists() ).toBe( false );
	} );

	it( 'does not ask about my own replies, nor before adding a note', async () => {
		desk();
		backend.signedIn( 'ada' );
		backend.desk.drafts.set( 'case-1', {
			caseId: 'case-1', mode: 'reply', body: 'Follow-up', cannedId: null, startedAt: ago( 30 * MINUTE ), updatedAt: ago( 20 * MINUTE )
		} );
		backend.desk.cases[ 0 ]!.messages.push( makeMessage( { kind: 'reply', authorUser: 'Ada', body: 'First part.', sentAt: ago( 10 * MINUTE ) } ) );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await wrapper.find( '[data-testid="composer-send"]' ).trigger( 'click' );
		await settle();
		expect( document.querySelector( '[data-testid="composer-confirm"]' ) ).toBeNull();
		expect( backend.calls( 'send_message' ) ).toHaveLength( 1 );
	} );
} );

describe( 'desk: layout and navigation', () => {
	it( 'shows one pane at a time in a narrow window: the list, then the case with Back', async () => {
		resizeWindow( 720, 480 );
		desk();
		const { wrapper, router } = await openDesk();
		expect( wrapper.find( '[data-testid="desk"]' ).attributes( 'data-layout' ) ).toBe( 'narrow' );
		expect( wrapper.find( '[data-testid="queue-sidebar"]' ).attributes( 'data-compact' ), 'the sidebar becomes two selects' ).toBe( 'true' );
		expect( wrapper.find( '[data-testid="desk-queue-select"]' ).exists() ).toBe( true );
		expect( wrapper.find( '[data-testid="desk-case-pane"]' ).exists() ).toBe( false );

		await wrapper.find( '[data-testid="case-row"][data-case-id="case-2"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.params.id ).toBe( 'case-2' );
		expect( ( wrapper.find( '[data-testid="desk-list-pane"]' ).element as HTMLElement ).style.display, 'the case replaces the list' ).toBe( 'none' );
		expect( wrapper.find( '[data-testid="composer-send"]' ).exists(), 'the composer is there with the case' ).toBe( true );

		await wrapper.find( '[data-testid="case-back"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en' );
		expect( ( wrapper.find( '[data-testid="desk-list-pane"]' ).element as HTMLElement ).style.display ).toBe( '' );
		expect( wrapper.find( '[data-testid="desk-case-pane"]' ).exists() ).toBe( false );
	} );

	it( 'shows the sidebar, the list and the case side by side in a wide window', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		expect( wrapper.find( '[data-testid="desk"]' ).attributes( 'data-layout' ) ).toBe( 'wide' );
		expect( wrapper.find( 'nav[data-testid="queue-sidebar"]' ).exists() ).toBe( true );
		expect( ( wrapper.find( '[data-testid="desk-list-pane"]' ).element as HTMLElement ).style.display ).toBe( '' );
		expect( wrapper.find( '[data-testid="case-view"]' ).exists() ).toBe( true );
		expect( wrapper.find( '[data-testid="case-back"]' ).exists(), 'no Back where nothing is hidden' ).toBe( false );
	} );

	it( 'goes between Contacts and the Desk from the header, back to where one was', async () => {
		desk();
		const { wrapper, router } = await openDesk( '/contacts' );
		expect( wrapper.find( '[data-testid="nav-contacts"]' ).attributes( 'aria-current' ) ).toBe( 'page' );
		await wrapper.find( '[data-testid="nav-desk"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.name ).toBe( 'desk' );
		expect( wrapper.find( '[data-testid="nav-desk"]' ).attributes( 'aria-current' ) ).toBe( 'page' );

		await router!.push( '/desk/q-en/case-2' );
		await settle();
		await wrapper.find( '[data-testid="nav-contacts"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.name ).toBe( 'contacts' );
		await wrapper.find( '[data-testid="nav-desk"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en/case-2' );
	} );

	it( 'forgets every case when the vault locks', async () => {
		desk();
		const { wrapper, router } = await openDesk( '/desk/q-en/case-1' );
		expect( wrapper.text() ).toContain( 'May I reuse this photo?' );
		await wrapper.find( '[data-testid="lock-button"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.name ).toBe( 'unlock' );
		expect( document.body.textContent ).not.toContain( 'Photo licence question' );
		expect( document.body.textContent ).not.toContain( 'May I reuse this photo?' );
	} );
} );

describe( 'desk: recording a case', () => {
	it( 'links the reader found among the contacts', async () => {
		desk();
		const { wrapper } = await openDesk();
		await wrapper.find( '[data-testid="case-new"]' ).trigger( 'click' );
		await settle();
		const dialog = document.querySelector<HTMLElement>( '[data-testid="new-case-dialog"]' )!;
		const reader = dialog.querySelector<HTMLInputElement>( 'input[data-testid="new-case-reader"]' )!;
		reader.value = 'ada';
		reader.dispatchEvent( new Event( 'input' ) );
		await settle();
		expect( backend.calls( 'search_contacts' ) ).toEqual( [ { query: 'ada', offset: 0, limit: 10 } ] );
		const option = [ ...dialog.querySelectorAll<HTMLElement>( '.cdx-menu-item' ) ].find( ( o ) => o.textContent?.includes( 'Ada Lovelace' ) );
		option!.click();
		await settle();
		const subject = dialog.querySelector<HTMLInputElement>( 'input[data-testid="new-case-subject"]' )!;
		subject.value = 'Met at the meetup';
		subject.dispatchEvent( new Event( 'input' ) );
		await settle();
		dialog.querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!.click();
		await settle();
		expect( backend.calls( 'create_case' )[ 0 ]!.input.readerId ).toBe( 'c-ada' );
		expect( wrapper.find( '[data-testid="side-contact"]' ).text() ).toContain( 'Ada Lovelace' );
	} );

	it( 'needs a subject, said at the field, then records the case and opens it', async () => {
		desk();
		const { wrapper, router } = await openDesk();
		await wrapper.find( '[data-testid="case-new"]' ).trigger( 'click' );
		await settle();
		const dialog = (): HTMLElement => document.querySelector<HTMLElement>( '[data-testid="new-case-dialog"]' )!;
		expect( dialog().textContent ).toContain( 'Record a case' );
		dialog().querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!.click();
		await settle();
		const subjectField = dialog().querySelector( 'input[data-testid="new-case-subject"]' )!.closest( '.cdx-field' )!;
		expect( subjectField.querySelector( '.cdx-field__validation-message' )?.textContent, 'said at the field' )
			.toContain( 'A case needs a subject' );
		expect( backend.calls( 'create_case' ) ).toEqual( [] );

		const subject = dialog().querySelector<HTMLInputElement>( 'input[data-testid="new-case-subject"]' )!;
		subject.value = 'Phone call about a biography';
		subject.dispatchEvent( new Event( 'input' ) );
		const text = dialog().querySelector<HTMLTextAreaElement>( 'textarea[data-testid="new-case-text"]' )!;
		text.value = 'The caller says the article has their birth date wrong.';
		text.dispatchEvent( new Event( 'input' ) );
		await settle();
		dialog().querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!.click();
		await settle();

		expect( backend.calls( 'create_case' ) ).toEqual( [ { input: {
			queueId: 'q-en',
			subject: 'Phone call about a biography',
			kind: 'inquiry',
			channel: 'phone',
			language: null,
			text: 'The caller says the article has their birth date wrong.',
			readerId: null
		} } ] );
		const created = last( backend.desk.cases );
		expect( router!.currentRoute.value.fullPath ).toBe( `/desk/q-en/${ created.id }` );
		expect( wrapper.find( '[data-testid="case-subject"]' ).text() ).toBe( 'Phone call about a biography' );
		expect( wrapper.find( '[data-testid="thread-message"]' ).text() ).toContain( 'birth date wrong' );
	} );
} );

describe( 'desk: merged and related cases', () => {
	/** The default cases and #105, in which Ada wrote again about the photo of #101. */
	function withRepeat(): FakeCase[] {
		return [
			...defaultCases(),
			makeCase( {
				id: 'case-5',
				number: 105,
				queueId: 'q-en',
				subject: 'Photo licence, again',
				contacts: [ readerLink ],
				updatedAt: '2024-06-03T13:00:00.000Z',
				messages: [ makeMessage( {
					id: 'm-again', kind: 'inbound', authorName: 'Ada Lovelace', body: 'Writing again: may I reuse the photo?', sentAt: '2024-06-03T12:30:00.000Z'
				} ) ]
			} )
		];
	}

	function dialog( testid: string ): HTMLElement {
		const found = document.querySelector<HTMLElement>( `[data-testid="${ testid }"]` );
		if ( !found ) {
			throw new Error( `no ${ testid } open` );
		}
		return found;
	}

	async function type( element: HTMLInputElement | HTMLTextAreaElement, value: string ): Promise<void> {
		element.value = value;
		element.dispatchEvent( new Event( 'input' ) );
		await settle();
	}

	/** Types `text` in the open case picker's search and presses Enter (which searches at once). */
	async function searchPicker( text: string ): Promise<HTMLInputElement> {
		const input = dialog( 'case-picker' ).querySelector<HTMLInputElement>( 'input[data-testid="case-picker-search"]' )!;
		await type( input, text );
		input.dispatchEvent( new KeyboardEvent( 'keydown', { key: 'Enter', bubbles: true, cancelable: true } ) );
		await settle();
		return input;
	}

	function results(): string[] {
		return [ ...dialog( 'case-picker' ).querySelectorAll<HTMLElement>( '[data-testid="case-picker-result"]' ) ]
			.map( ( r ) => r.dataset.caseId! );
	}

	async function chooseResult( id: string ): Promise<void> {
		dialog( 'case-picker' ).querySelector<HTMLInputElement>( `[data-testid="case-picker-result"][data-case-id="${ id }"] input[type="radio"]` )!.click();
		await settle();
	}

	async function primary( testid: string ): Promise<void> {
		dialog( testid ).querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!.click();
		await settle();
	}

	function sideLinks( wrapper: VueWrapper ): string[] {
		return wrapper.findAll( '[data-testid="side-link"]' ).map( ( l ) => l.attributes( 'data-case-id' )! );
	}

	it( 'finds a case by its #number in the picker, at once on Enter, and never offers the case itself', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await wrapper.find( '[data-testid="side-link-add"]' ).trigger( 'click' );
		await settle();
		expect( dialog( 'case-picker' ).dataset.purpose ).toBe( 'link' );
		expect( document.activeElement, 'the search has the focus' ).toBe( dialog( 'case-picker' ).querySelector( 'input[data-testid="case-picker-search"]' ) );

		await searchPicker( '#201' );
		expect( last( backend.calls( 'list_cases' ) ).query, 'every queue, open or not' ).toEqual( { queueId: null, view: 'all', sort: 'updated', search: '#201', state: null } );
		expect( results(), 'the number finds that case, in another queue too' ).toEqual( [ 'case-4' ] );
		expect( dialog( 'case-picker' ).querySelector( '[data-testid="case-picker-result"]' )!.textContent ).toContain( '#201' );
		const search = dialog( 'case-picker' ).querySelector<HTMLInputElement>( 'input[data-testid="case-picker-search"]' )!;
		search.dispatchEvent( new KeyboardEvent( 'keydown', { key: 'ArrowDown', bubbles: true, cancelable: true } ) );
		expect( document.activeElement, 'the Down arrow goes from the search to the matches' )
			.toBe( dialog( 'case-picker' ).querySelector( '[data-testid="case-picker-result"] input[type="radio"]' ) );

		await searchPicker( '#101' );
		expect( results(), 'the open case is not offered' ).toEqual( [] );
		expect( dialog( 'case-picker' ).querySelector( '[data-testid="case-picker-status"]' )!.textContent ).toContain( 'No other case matches “#101”' );
	} );

	it( 'closes the picker on Escape without linking anything', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await wrapper.find( '[data-testid="side-link-add"]' ).trigger( 'click' );
		await settle();
		const input = await searchPicker( '#102' );
		input.dispatchEvent( new KeyboardEvent( 'keyup', { key: 'Escape', bubbles: true, cancelable: true } ) );
		await settle();
		expect( document.querySelector( '[data-testid="case-picker"]' ) ).toBeNull();
		expect( backend.calls( 'relate_cases' ) ).toEqual( [] );
	} );

	it( 'merges from the side panel through the dialog: the survivor opens with both threads, the merged messages marked', async () => {
		desk( withRepeat() );
		const { wrapper, router } = await openDesk( '/desk/q-en/case-5' );
		await wrapper.find( '[data-testid="side-merge"]' ).trigger( 'click' );
		await settle();
		expect( dialog( 'case-picker' ).dataset.purpose ).toBe( 'merge' );
		await searchPicker( '#101' );
		await chooseResult( 'case-1' );
		await primary( 'case-picker' );
		expect( backend.calls( 'merge_case' ), 'nothing merged before the confirmation' ).toEqual( [] );
		expect( dialog( 'case-picker' ).dataset.step ).toBe( 'confirm' );
		expect( dialog( 'case-picker' ).querySelector( '[data-testid="case-picker-confirm"]' )!.textContent ).toContain(
			'Case #105 will be closed; its messages and people will show in case #101, and mail to it will go to #101. This cannot be undone.' );
		const merge = dialog( 'case-picker' ).querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!;
		expect( merge.textContent ).toContain( 'Merge' );
		expect( merge.classList, 'a merge cannot be undone: the button says so' ).toContain( 'cdx-button--action-destructive' );
		await primary( 'case-picker' );

		expect( backend.calls( 'merge_case' ) ).toEqual( [ { id: 'case-5', into: 'case-1' } ] );
		expect( router!.currentRoute.value.fullPath, 'the case that remains opens' ).toBe( '/desk/q-en/case-1' );
		expect( document.querySelector( '[data-testid="case-picker"]' ) ).toBeNull();
		const thread = wrapper.find( '[data-testid="case-thread"]' ).text();
		expect( thread ).toContain( 'May I reuse this photo?' );
		expect( thread, 'the merged case\'s thread is in it' ).toContain( 'Writing again: may I reuse the photo?' );
		const fromMerged = wrapper.findAll( '[data-testid="thread-message"]' ).find( ( m ) => m.text().includes( 'Writing again' ) )!;
		expect( fromMerged.find( '[data-testid="message-origin"]' ).text(), 'said in words where it was written' ).toBe( 'From case #105' );
		const own = wrapper.findAll( '[data-testid="thread-message"]' ).find( ( m ) => m.text().includes( 'May I reuse this photo?' ) )!;
		expect( own.find( '[data-testid="message-origin"]' ).exists(), 'its own messages are not marked' ).toBe( false );
		expect( wrapper.findAll( '[data-testid="side-merged-case"]' ).map( ( c ) => c.attributes( 'data-case-id' ) ) ).toEqual( [ 'case-5' ] );
		expect( backend.desk.cases.find( ( c ) => c.id === 'case-5' )!.state, 'the merged case is closed' ).toBe( 'closed' );
	} );

	it( 'says at the search field when the backend refuses a merge, and merges nothing', async () => {
		const cases = withRepeat();
		cases.find( ( c ) => c.id === 'case-2' )!.mergedInto = 'case-3';
		desk( cases );
		const { wrapper, router } = await openDesk( '/desk/q-en/case-5' );
		await wrapper.find( '[data-testid="side-merge"]' ).trigger( 'click' );
		await settle();
		await searchPicker( '#102' );
		await chooseResult( 'case-2' );
		await primary( 'case-picker' );
		await primary( 'case-picker' );
		expect( dialog( 'case-picker' ).dataset.step, 'back to choosing' ).toBe( 'choose' );
		const search = dialog( 'case-picker' ).querySelector( 'input[data-testid="case-picker-search"]' )!.closest( '.cdx-text-input' )!;
		expect( search.classList, 'the field is marked' ).toContain( 'cdx-text-input--status-error' );
		expect( dialog( 'case-picker' ).querySelector( '[data-testid="case-picker-error"]' )!.textContent, 'with the backend\'s reason' )
			.toContain( 'Case #102 was itself merged into case #103; merge into that one.' );
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en/case-5' );
		expect( backend.desk.cases.find( ( c ) => c.id === 'case-5' )!.mergedInto ).toBeNull();
	} );

	it( 'shows a merged case with a banner and no composer, and its button opens the case it went to', async () => {
		const cases = withRepeat();
		Object.assign( cases.find( ( c ) => c.id === 'case-5' )!, { mergedInto: 'case-1', state: 'closed' } );
		desk( cases );
		const { wrapper, router } = await openDesk( '/desk/all/case-5' );
		expect( wrapper.find( '[data-testid="case-merged"]' ).text() ).toContain( 'Merged into case #101 — it takes no new messages.' );
		expect( wrapper.find( '[data-testid="composer"]' ).exists(), 'nothing to write in' ).toBe( false );
		expect( wrapper.find( '[data-testid="composer-body"]' ).exists() ).toBe( false );
		expect( wrapper.find( '[data-testid="case-merged-composer"]' ).text() ).toBe( 'This case takes no new messages: write in case #101 instead.' );
		expect( wrapper.find( '[data-testid="side-merge"]' ).exists(), 'a merged case is not merged again' ).toBe( false );

		await router!.push( '/desk/q-en/case-5' );
		await settle();
		await wrapper.find( '[data-testid="case-merged-open"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.fullPath, 'in the survivor\'s queue' ).toBe( '/desk/q-en/case-1' );
		expect( wrapper.find( '[data-testid="composer"]' ).exists(), 'the survivor takes messages' ).toBe( true );
		expect( wrapper.find( '[data-testid="case-merged"]' ).exists() ).toBe( false );
	} );

	it( 'links two cases: both show the link, and removing it from either removes it from both', async () => {
		desk();
		const { wrapper, router } = await openDesk( '/desk/q-en/case-1' );
		expect( wrapper.find( '[data-testid="side-links-none"]' ).text() ).toBe( 'No related cases.' );
		await wrapper.find( '[data-testid="side-link-add"]' ).trigger( 'click' );
		await settle();
		await searchPicker( 'company' );
		expect( results(), 'words search too' ).toEqual( [ 'case-2' ] );
		await chooseResult( 'case-2' );
		await primary( 'case-picker' );
		expect( backend.calls( 'relate_cases' ) ).toEqual( [ { id: 'case-1', other: 'case-2', remove: false } ] );
		expect( document.querySelector( '[data-testid="case-picker"]' ) ).toBeNull();
		expect( sideLinks( wrapper ) ).toEqual( [ 'case-2' ] );
		expect( wrapper.find( '[data-testid="side-link"]' ).text() ).toContain( '#102 Article about my company' );
		expect( wrapper.find( '[data-testid="case-thread"]' ).text(), 'the thread records it' ).toContain( 'Linked to case #102' );

		await wrapper.find( '[data-testid="side-link-open"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en/case-2' );
		expect( sideLinks( wrapper ), 'the other case shows the link too' ).toEqual( [ 'case-1' ] );
		const remove = wrapper.find( '[data-testid="side-link-remove"]' );
		expect( remove.attributes( 'aria-label' ), 'an icon-only button says what it does' ).toBe( 'Remove the link to #101' );
		await remove.trigger( 'click' );
		await settle();
		expect( backend.calls( 'relate_cases' )[ 1 ] ).toEqual( { id: 'case-2', other: 'case-1', remove: true } );
		expect( sideLinks( wrapper ) ).toEqual( [] );
		await router!.push( '/desk/q-en/case-1' );
		await settle();
		expect( sideLinks( wrapper ), 'gone from the first case as well' ).toEqual( [] );
	} );

	it( 'says a related case is in a queue one is not a member of when this device does not have it', async () => {
		const cases = defaultCases();
		cases[ 0 ]!.links = [ 'case-elsewhere' ];
		desk( cases );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const link = wrapper.find( '[data-testid="side-link"]' );
		expect( link.text() ).toContain( 'A case in a queue you are not a member of' );
		expect( link.find( '[data-testid="side-link-open"]' ).exists(), 'nothing to open here' ).toBe( false );
		expect( link.find( '[data-testid="side-link-remove"]' ).attributes( 'aria-label' ) ).toBe( 'Remove the link to a case not on this device' );
	} );
} );

describe( 'desk: recording another channel', () => {
	function dialog(): HTMLElement {
		return document.querySelector<HTMLElement>( '[data-testid="log-dialog"]' )!;
	}

	async function type( selector: string, value: string ): Promise<void> {
		const element = dialog().querySelector<HTMLInputElement | HTMLTextAreaElement>( selector )!;
		element.value = value;
		element.dispatchEvent( new Event( 'input' ) );
		await settle();
	}

	async function record(): Promise<void> {
		dialog().querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!.click();
		await settle();
	}

	async function openRecord( wrapper: VueWrapper ): Promise<void> {
		await wrapper.find( '[data-testid="composer-record"]' ).trigger( 'click' );
		await settle();
	}

	function linkField(): Element {
		return dialog().querySelector( 'input[data-testid="log-link"]' )!.closest( '.cdx-field' )!;
	}

	it( 'records a talk-page comment with its link and time, and the thread links to it', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await openRecord( wrapper );
		expect( dialog().textContent, 'it says nothing is mailed' ).toContain( 'nothing is mailed to the reader' );
		expect( dialog().querySelector( '[data-testid="log-channel"]' )!.textContent, 'an email case: the wiki first' ).toContain( 'Wiki talk page' );
		await type( 'textarea[data-testid="log-body"]', 'The photo on the article is mine, please credit me.' );
		await type( 'input[data-testid="log-link"]', 'https://en.wikipedia.org/w/index.php?diff=123' );
		await type( 'input[data-testid="log-when"]', '2024-06-03T10:30' );
		await record();

		expect( backend.calls( 'log_message' ) ).toEqual( [ { caseId: 'case-1', input: {
			kind: 'inbound',
			channel: 'wiki',
			body: 'The photo on the article is mine, please credit me.',
			link: 'https://en.wikipedia.org/w/index.php?diff=123',
			sentAt: new Date( 2024, 5, 3, 10, 30 ).toISOString()
		} } ] );
		expect( document.querySelector( '[data-testid="log-dialog"]' ) ).toBeNull();
		const message = wrapper.findAll( '[data-testid="thread-message"]' ).find( ( m ) => m.text().includes( 'please credit me' ) )!;
		expect( message.attributes( 'data-kind' ) ).toBe( 'inbound' );
		const link = message.find( 'a[data-testid="message-link"]' );
		expect( link.text() ).toBe( 'View on the wiki' );
		expect( link.attributes( 'href' ) ).toBe( 'https://en.wikipedia.org/w/index.php?diff=123' );
		expect( link.attributes( 'target' ) ).toBe( '_blank' );
		expect( link.attributes( 'rel' ), 'the page it opens gets no hold on the app' ).toBe( 'noopener noreferrer' );
	} );

	it( 'records an answer given on the phone, which the thread says was not mailed', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await openRecord( wrapper );
		dialog().querySelector<HTMLInputElement>( '[data-testid="log-kind"][data-kind="reply"] input' )!.click();
		await settle();
		dialog().querySelector<HTMLElement>( '[data-testid="log-channel"]' )!.click();
		await settle();
		const phone = [ ...dialog().querySelectorAll<HTMLElement>( '.cdx-menu-item' ) ].find( ( i ) => i.textContent!.trim() === 'Phone' )!;
		phone.click();
		await settle();
		await type( 'textarea[data-testid="log-body"]', 'Told her she may, with attribution.' );
		await record();
		expect( backend.calls( 'log_message' )[ 0 ]!.input ).toMatchObject( { kind: 'reply', channel: 'phone', link: null, sentAt: null } );
		const answer = last( wrapper.findAll( '[data-testid="thread-message"]' ) );
		expect( answer.attributes( 'data-kind' ) ).toBe( 'reply' );
		expect( answer.find( '[data-testid="message-not-mailed"]' ).text() ).toBe( 'Answered on another channel (Phone): not sent by mail' );
		expect( answer.find( '[data-testid="delivery-state"]' ).exists(), 'no delivery to wait for' ).toBe( false );
		expect( answer.find( '[data-testid="message-link"]' ).exists() ).toBe( false );
	} );

	it( 'says at the link field when the link is not a web address, and records nothing', async () => {
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await openRecord( wrapper );
		await record();
		const bodyField = dialog().querySelector( 'textarea[data-testid="log-body"]' )!.closest( '.cdx-field' )!;
		expect( bodyField.querySelector( '.cdx-field__validation-message' )?.textContent, 'the text is required' ).toContain( 'Write what was said' );

		await type( 'textarea[data-testid="log-body"]', 'My comment on the talk page.' );
		await type( 'input[data-testid="log-link"]', 'javascript:alert(1)' );
		await record();
		expect( linkField().querySelector( '.cdx-field__validation-message' )?.textContent ).toContain( 'Give a web address starting with https:// or http://' );
		expect( bodyField.querySelector( '.cdx-field__validation-message' ), 'the text is fine now' ).toBeNull();
		expect( backend.calls( 'log_message' ), 'nothing recorded' ).toEqual( [] );
		expect( backend.desk.cases[ 0 ]!.messages ).toHaveLength( 1 );
	} );

	it( 'says the backend\'s refusal of a link at the link field', async () => {
		desk();
		backend.on( 'log_message', () => {
			throw { code: 'invalid_input', message: '"https://example.org/\u202e" is not a web address; give the address of the diff or post' };
		} );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await openRecord( wrapper );
		await type( 'textarea[data-testid="log-body"]', 'A comment.' );
		await type( 'input[data-testid="log-link"]', 'https://example.org/post' );
		await record();
		expect( linkField().querySelector( '.cdx-text-input' )!.classList, 'the field is marked' ).toContain( 'cdx-text-input--status-error' );
		expect( linkField().querySelector( '[data-testid="log-link-error"]' )?.textContent ).toContain( 'is not a web address' );
		expect( dialog().querySelector( '[data-testid="log-error"]' ), 'said once, at the field' ).toBeNull();
		expect( backend.desk.cases[ 0 ]!.messages, 'nothing recorded' ).toHaveLength( 1 );

		await type( 'input[data-testid="log-link"]', 'https://example.org/another-post' );
		expect( linkField().querySelector( '[data-testid="log-link-error"]' ), 'correcting the link takes the refusal away' ).toBeNull();
		expect( dialog().querySelector( '[data-testid="log-error"]' ), 'rather than moving it elsewhere' ).toBeNull();
	} );

	it( 'names what the folded side panel holds: people and related cases, and the reader', async () => {
		resizeWindow( 720, 480 );
		const cases = defaultCases();
		cases[ 0 ]!.links = [ 'case-2' ];
		desk( cases );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const fold = wrapper.find( '[data-testid="case-side-fold"]' );
		expect( fold.find( '[data-testid="case-side-summary"]' ).text() ).toBe( 'People and related cases (reader: Ada Lovelace)' );
		expect( fold.find( '[data-testid="side-link"]' ).exists(), 'the related cases are in it' ).toBe( true );
		expect( fold.find( '[data-testid="case-side"]' ).attributes( 'aria-label' ) ).toBe( 'People and related cases' );
	} );

	it( 'offers everything in the smallest window: the record button, the side panel\'s link and merge', async () => {
		resizeWindow( 720, 480 );
		desk();
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		expect( wrapper.find( '[data-testid="composer-record"]' ).exists() ).toBe( true );
		const fold = wrapper.find( '[data-testid="case-side-fold"]' );
		expect( fold.find( '[data-testid="side-link-add"]' ).exists(), 'in the folded side panel' ).toBe( true );
		expect( fold.find( '[data-testid="side-merge"]' ).exists() ).toBe( true );
	} );
} );

describe( 'desk: links and mail as it came', () => {
	const DIFF = 'https://en.wikipedia.org/w/index.php?diff=123';
	/** What the backend keeps of an HTML mail: sanitized, its links `noopener`, only inline images. */
	const HTML = '<p>Dear team,</p><table><tr><td>Photo</td>' +
		'<td><a href="https://commons.wikimedia.org/wiki/File:Ada.jpg" rel="noopener noreferrer nofollow">the file page</a></td></tr></table>' +
		'<img src="cid:logo@example.org">';

	function mailCase(): FakeCase {
		return makeCase( {
			id: 'case-1',
			number: 101,
			queueId: 'q-en',
			subject: 'Photo licence question',
			contacts: [ readerLink ],
			messages: [
				makeMessage( {
					id: 'm-mail',
					kind: 'inbound',
					authorName: 'Ada Lovelace',
					body: 'Dear team,\n\nPhoto | the file page',
					formatted: true,
					encodingProblems: true,
					omitted: [ { name: 'holiday-video.mp4', bytes: 31_500_000, reason: 'larger than the 25 MB limit' } ],
					sentAt: '2024-06-03T09:00:00.000Z'
				} ),
				makeMessage( { id: 'm-wiki', kind: 'inbound', channel: 'wiki', body: 'See my comment.', link: DIFF, sentAt: '2024-06-03T10:00:00.000Z' } )
			]
		} );
	}

	function dialog(): HTMLElement | null {
		return document.querySelector<HTMLElement>( '[data-testid="formatted-dialog"]' );
	}

	async function showFormatted( wrapper: VueWrapper ): Promise<HTMLElement> {
		await wrapper.find( '[data-testid="message-show-formatted"]' ).trigger( 'click' );
		await settle();
		return dialog()!;
	}

	it( 'opens a thread link in the system\'s browser, on a click or Enter, and never in the app\'s window', async () => {
		desk( [ mailCase() ] );
		const { wrapper, router } = await openDesk( '/desk/q-en/case-1' );
		const before = window.location.href;
		const link = wrapper.find( 'a[data-testid="message-link"]' );
		expect( link.attributes( 'href' ), 'the address is still there to see' ).toBe( DIFF );
		expect( link.text() ).toBe( 'View on the wiki' );

		const click = new MouseEvent( 'click', { bubbles: true, cancelable: true } );
		link.element.dispatchEvent( click );
		await settle();
		expect( backend.calls( 'open_link' ) ).toEqual( [ { url: DIFF } ] );
		expect( backend.desk.openedLinks ).toEqual( [ DIFF ] );
		expect( click.defaultPrevented, 'the web view does not follow the link itself' ).toBe( true );
		expect( window.location.href, 'the app\'s window stays where it was' ).toBe( before );
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en/case-1' );

		const enter = new KeyboardEvent( 'keydown', { key: 'Enter', bubbles: true, cancelable: true } );
		link.element.dispatchEvent( enter );
		await settle();
		expect( backend.calls( 'open_link' ), 'Enter opens it the same way' ).toEqual( [ { url: DIFF }, { url: DIFF } ] );
		expect( enter.defaultPrevented ).toBe( true );
		expect( router!.currentRoute.value.fullPath ).toBe( '/desk/q-en/case-1' );
	} );

	it( 'says at the link when the browser could not be opened, with the address to copy', async () => {
		desk( [ mailCase() ] );
		backend.on( 'open_link', ( { url } ) => {
			throw { code: 'internal', message: `The browser could not be opened (no handler); copy the address instead: ${ url }` };
		} );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		await wrapper.find( 'a[data-testid="message-link"]' ).trigger( 'click' );
		await settle();
		const message = wrapper.findAll( '[data-testid="thread-message"]' ).find( ( m ) => m.text().includes( 'See my comment.' ) )!;
		const error = message.find( '[data-testid="message-link-error"]' );
		expect( error.find( '.liaison-error-notice' ).exists(), 'said where the link is' ).toBe( true );
		expect( error.find( '[data-testid="message-link-address"]' ).text() ).toBe( DIFF );
		expect( wrapper.findAll( '[data-testid="message-link-error"]' ), 'and only there' ).toHaveLength( 1 );
	} );

	it( 'shows the formatted version in a sandboxed frame that loads nothing, and closes it on Escape', async () => {
		desk( [ mailCase() ] );
		backend.withDesk( { formatted: { 'm-mail': HTML } } );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const button = wrapper.find( '[data-testid="message-show-formatted"]' );
		expect( button.text(), 'a labelled button, not an icon alone' ).toBe( 'Show formatted' );
		expect( wrapper.findAll( '[data-testid="message-show-formatted"]' ), 'only the mail that came with HTML has it' ).toHaveLength( 1 );

		const shown = await showFormatted( wrapper );
		expect( shown.querySelector( '.cdx-dialog__header__title' )!.textContent ).toBe( 'Formatted version' );
		expect( shown.querySelector( '[data-testid="formatted-intro"]' )!.textContent, 'it says what is not shown, and where the text is' )
			.toContain( 'Remote images are blocked' );
		expect( shown.querySelector( '[data-testid="formatted-intro"]' )!.textContent ).toContain( 'the thread shows its text' );
		expect( backend.calls( 'message_formatted' ) ).toEqual( [ { messageId: 'm-mail' } ] );

		const frame = shown.querySelector<HTMLIFrameElement>( 'iframe[data-testid="formatted-frame"]' )!;
		expect( frame.hasAttribute( 'sandbox' ) ).toBe( true );
		expect( frame.getAttribute( 'sandbox' ), 'an empty sandbox: no scripts, no same origin, no popups' ).toBe( '' );
		const doc = frame.getAttribute( 'srcdoc' )!;
		const csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data: cid:; style-src \'unsafe-inline\'">';
		expect( doc, 'its document forbids every load but the mail\'s own images' ).toContain( csp );
		expect( doc, 'and holds the mail' ).toContain( HTML );
		expect( doc.indexOf( csp ), 'the policy comes before the mail' ).toBeLessThan( doc.indexOf( HTML ) );
		expect( doc, 'nothing in it may open a window' ).not.toMatch( /<base\b/i );

		const thread = wrapper.find( '[data-testid="case-thread"]' ).element;
		expect( thread.querySelectorAll( 'table, img, iframe' ), 'the thread still shows the text, as text' ).toHaveLength( 0 );

		shown.dispatchEvent( new KeyboardEvent( 'keyup', { key: 'Escape', bubbles: true, cancelable: true } ) );
		await settle();
		expect( dialog(), 'Escape closes it' ).toBeNull();

		const again = await showFormatted( wrapper );
		expect( again.querySelector( 'iframe[data-testid="formatted-frame"]' ) ).not.toBeNull();
		expect( backend.calls( 'message_formatted' ), 'asked once per message' ).toHaveLength( 1 );
		again.querySelector<HTMLButtonElement>( '.cdx-dialog__footer__default-action' )!.click();
		await settle();
		expect( dialog(), 'the Close button closes it too' ).toBeNull();
	} );

	it( 'lists the formatted mail\'s links by their real address and opens them in the browser', async () => {
		desk( [ mailCase() ] );
		backend.withDesk( { formatted: { 'm-mail': HTML } } );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const shown = await showFormatted( wrapper );
		const items = [ ...shown.querySelectorAll<HTMLElement>( '[data-testid="formatted-link-item"]' ) ];
		expect( items.map( ( i ) => i.querySelector( 'a' )!.textContent!.trim() ), 'the address it really goes to' )
			.toEqual( [ 'https://commons.wikimedia.org/wiki/File:Ada.jpg' ] );
		expect( items[ 0 ]!.textContent, 'and what the mail shows for it' ).toContain( 'shown as “the file page”' );
		const click = new MouseEvent( 'click', { bubbles: true, cancelable: true } );
		items[ 0 ]!.querySelector( 'a' )!.dispatchEvent( click );
		await settle();
		expect( backend.calls( 'open_link' ) ).toEqual( [ { url: 'https://commons.wikimedia.org/wiki/File:Ada.jpg' } ] );
		expect( click.defaultPrevented ).toBe( true );
	} );

	it( 'says while the formatted version loads, when there is none, and why it failed', async () => {
		desk( [ mailCase() ] );
		let answer: ( html: string | null ) => void = () => undefined;
		backend.on( 'message_formatted', () => new Promise( ( resolve ) => {
			answer = resolve;
		} ) );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const loading = await showFormatted( wrapper );
		expect( loading.dataset.state ).toBe( 'loading' );
		expect( loading.querySelector( '[data-testid="formatted-loading"]' )!.textContent ).toContain( 'Loading the formatted version' );
		answer( null );
		await settle();
		expect( loading.dataset.state ).toBe( 'none' );
		expect( loading.querySelector( '[data-testid="formatted-none"]' )!.textContent ).toContain( 'no formatted version on this device' );
		expect( loading.querySelector( 'iframe' ), 'no frame without a version' ).toBeNull();
		loading.querySelector<HTMLButtonElement>( '.cdx-dialog__footer__default-action' )!.click();
		await settle();

		backend.desk.cases.push( makeCase( { id: 'case-2', queueId: 'q-en', messages: [ makeMessage( { id: 'm-other', formatted: true } ) ] } ) );
		backend.on( 'message_formatted', ( { messageId } ) => {
			throw { code: 'not_found', message: `Message ${ messageId }` };
		} );
		const { wrapper: other } = await openDesk( '/desk/q-en/case-2' );
		const failed = await showFormatted( other );
		expect( failed.dataset.state ).toBe( 'error' );
		expect( failed.querySelector( '[data-testid="formatted-error"]' )!.textContent, 'the reason is said in the dialog' ).toContain( 'Message m-other' );
		expect( failed.querySelector( 'iframe' ) ).toBeNull();
	} );

	it( 'says what the mail lost: a part not kept, with its size and why, and replaced characters', async () => {
		desk( [ mailCase() ] );
		const { wrapper } = await openDesk( '/desk/q-en/case-1' );
		const [ mail, wiki ] = wrapper.findAll( '[data-testid="thread-message"]' );
		const omitted = mail!.findAll( '[data-testid="message-omitted"]' );
		expect( omitted.map( ( o ) => o.text() ) ).toEqual( [ '“holiday-video.mp4” (31.5 MB) was not kept: larger than the 25 MB limit' ] );
		expect( omitted[ 0 ]!.find( '.cdx-icon' ).exists(), 'with an icon, not by colour alone' ).toBe( true );
		const encoding = mail!.find( '[data-testid="message-encoding"]' );
		expect( encoding.text() ).toBe( 'Some characters of this mail could not be read and were replaced.' );
		expect( encoding.find( '.cdx-icon' ).exists() ).toBe( true );
		expect( wiki!.find( '[data-testid="message-omitted"]' ).exists(), 'a message that lost nothing says nothing' ).toBe( false );
		expect( wiki!.find( '[data-testid="message-encoding"]' ).exists() ).toBe( false );
	} );
} );
