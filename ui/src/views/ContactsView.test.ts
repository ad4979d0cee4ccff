import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '@/App.vue';
import type { ContactSummary } from '@/api/bindings';
import { PAGE_SIZE } from '@/stores/contacts';
import { backend, makeConflict, makeContact } from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';

function summaries( offset: number, limit: number, total: number ): ContactSummary[] {
	return Array.from( { length: Math.max( 0, Math.min( limit, total - offset ) ) }, ( _, i ) => ( {
		id: `c-${ offset + i }`,
		displayName: `Person ${ String( offset + i ).padStart( 6, '0' ) }`,
		primaryEmail: `p${ offset + i }@example.org`,
		organization: null,
		language: null,
		tags: [],
		restricted: false,
		updatedAt: '2024-01-01T00:00:00Z'
	} ) );
}

describe( 'contacts screen', () => {
	it( 'searches 150 ms after the last keystroke, once, with search_contacts', async () => {
		backend.unlocked( [ makeContact( { displayName: 'Ada Lovelace' } ), makeContact( { displayName: 'Charles Babbage' } ) ] );
		const { wrapper } = await mountApp( App, { route: '/contacts' } );
		expect( backend.calls( 'list_contacts' ), 'empty query lists by name' ).toEqual( [ { offset: 0, limit: PAGE_SIZE } ] );
		expect( wrapper.findAll( '[data-testid="contact-row"]' ) ).toHaveLength( 2 );

		vi.useFakeTimers();
		const search = wrapper.find( 'input[data-testid="contact-search"]' );
		for ( const text of [ 'l', 'lo', 'lov' ] ) {
			await search.setValue( text );
			await vi.advanceTimersByTimeAsync( 100 );
		}
		expect( backend.calls( 'search_contacts' ), 'no query while typing' ).toEqual( [] );
		await vi.advanceTimersByTimeAsync( 50 );
		vi.useRealTimers();
		await settle();

		expect( backend.calls( 'search_contacts' ) ).toEqual( [ { query: 'lov', offset: 0, limit: PAGE_SIZE } ] );
		const rows = wrapper.findAll( '[data-testid="contact-row"]' );
		expect( rows.map( ( r ) => r.text() ) ).toEqual( [ expect.stringContaining( 'Ada Lovelace' ) ] );
		expect( wrapper.find( '[data-testid="contact-count"]' ).text() ).toBe( '1 match' );

		// Clearing the box goes back to the full list.
		await search.setValue( '' );
		await new Promise( ( resolve ) => setTimeout( resolve, 200 ) );
		await settle();
		expect( backend.calls( 'list_contacts' ) ).toHaveLength( 2 );
		expect( wrapper.find( '[data-testid="contact-count"]' ).text() ).toBe( '2 contacts' );
	} );

	describe( 'with 100 000 contacts', () => {
		const descriptor = Object.getOwnPropertyDescriptor( HTMLElement.prototype, 'clientHeight' )!;
		beforeEach( () => {
			// happy-dom does no layout: give the list a 560 px viewport (10 rows of 56 px).
			Object.defineProperty( HTMLElement.prototype, 'clientHeight', {
				configurable: true,
				get( this: HTMLElement ) {
					return this.classList.contains( 'liaison-virtual-list' ) ? 560 : 0;
				}
			} );
		} );
		afterEach( () => {
			Object.defineProperty( HTMLElement.prototype, 'clientHeight', descriptor );
		} );

		it( 'renders a window of rows and fetches pages by offset as it scrolls', async () => {
			backend.unlocked();
			backend.on( 'list_contacts', ( { offset, limit } ) => ( { items: summaries( offset, limit, 100_000 ), total: 100_000, offset } ) );
			const { wrapper } = await mountApp( App, { route: '/contacts' } );
			await settle();

			expect( wrapper.find( '[data-testid="contact-count"]' ).text() ).toBe( '100,000 contacts' );
			const rows = wrapper.findAll( '[data-testid="contact-row"]' );
			expect( rows.length, 'only the visible rows plus overscan are in the DOM' ).toBeLessThanOrEqual( 31 );
			expect( rows[ 0 ]!.text() ).toContain( 'Person 000000' );
			expect( backend.calls( 'list_contacts' ) ).toEqual( [ { offset: 0, limit: 200 } ] );

			const list = wrapper.find( '[data-testid="contact-list"]' );
			( list.element as HTMLElement ).scrollTop = 70_000 * 56;
			await list.trigger( 'scroll' );
			await settle();

			expect( backend.calls( 'list_contacts' ).map( ( c ) => c.offset ) ).toEqual( [ 0, 69_800, 70_000 ] );
			const after = wrapper.findAll( '[data-testid="contact-row"]' );
			expect( after.length, '11 rows in view + 10 overscan on each side' ).toBeLessThanOrEqual( 31 );
			expect( after.map( ( r ) => r.text() ).some( ( t ) => t.includes( 'Person 070000' ) ) ).toBe( true );
			expect( list.find( '[aria-posinset="70001"]' ).attributes( 'aria-setsize' ) ).toBe( '100000' );
		} );
	} );

	it( 'creates a contact, lists it, shows it, and forgets everything on lock', async () => {
		backend.unlocked();
		const { wrapper, router } = await mountApp( App, { route: '/contacts' } );
		expect( wrapper.text() ).toContain( 'No contacts yet.' );

		await wrapper.find( '[data-testid="contact-new"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.name ).toBe( 'contact-new' );
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( 'Ada Lovelace' );
		const emails = wrapper.find( '[data-testid="contact-form-emails"]' );
		await emails.setValue( 'ada@example.org' );
		await emails.trigger( 'keydown', { key: 'Enter' } );
		await wrapper.find( '[data-testid="contact-form-save"]' ).trigger( 'click' );
		await settle();

		expect( router!.currentRoute.value.name ).toBe( 'contact' );
		expect( wrapper.find( '[data-testid="contact-detail-name"]' ).text() ).toBe( 'Ada Lovelace' );
		const row = wrapper.find( '[data-testid="contact-row"]' );
		expect( row.text() ).toContain( 'ada@example.org' );
		expect( row.element.closest( '[role="option"]' )!.getAttribute( 'aria-selected' ) ).toBe( 'true' );

		await wrapper.find( '[data-testid="lock-button"]' ).trigger( 'click' );
		await settle();
		expect( router!.currentRoute.value.name ).toBe( 'unlock' );
		expect( document.body.textContent, 'no contact data left in the DOM' ).not.toContain( 'Ada Lovelace' );
	} );

	it( 'after deleting the open contact, leaves its address and shows the list with the prompt, not a blank pane', async () => {
		backend.unlocked( [ makeContact( { id: 'c-1', displayName: 'Ada Lovelace' } ), makeContact( { id: 'c-2', displayName: 'Grace Hopper' } ) ] );
		const { wrapper, router } = await mountApp( App, { route: '/contacts/c-1' } );
		await settle();
		expect( wrapper.find( '[data-testid="contact-detail-name"]' ).text() ).toBe( 'Ada Lovelace' );
		await wrapper.find( '[data-testid="contact-delete"]' ).trigger( 'click' );
		await settle();
		document.querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!.click();
		await settle();

		expect( router!.currentRoute.value.name ).toBe( 'contacts' );
		expect( wrapper.text() ).toContain( 'Select a contact to see the details, or create a new one.' );
		const rows = wrapper.findAll( '[data-testid="contact-row"]' ).map( ( r ) => r.text() );
		expect( rows.join( ' ' ), 'the deleted contact left the list, the other stayed' ).toContain( 'Grace Hopper' );
		expect( rows.join( ' ' ) ).not.toContain( 'Ada Lovelace' );
		router!.back();
		await settle();
		expect( router!.currentRoute.value.params.id, 'Back does not return to the deleted contact' ).not.toBe( 'c-1' );
	} );

	it( 'opens a contact a sync brought in, in place, when the list changes', async () => {
		backend.unlocked( [ makeContact( { id: 'c-1', displayName: 'Ada Lovelace' } ) ] );
		const { wrapper } = await mountApp( App, { route: '/contacts' } );
		await settle();
		backend.contacts.push( makeContact( { id: 'c-2', displayName: 'Grace Hopper' } ) );
		backend.changed( [ 'contact' ] );
		await settle();
		expect( wrapper.text(), 'the list reloads on data-changed without a click' ).toContain( 'Grace Hopper' );
	} );

	it( 'moves with the arrow keys from the contact that is open, however it was opened', async () => {
		const names = [ 'Ada', 'Bea', 'Cy', 'Dee', 'Eve' ];
		backend.unlocked( names.map( ( n, i ) => makeContact( { id: `c-${ i }`, displayName: n } ) ) );
		const { wrapper, router } = await mountApp( App, { route: '/contacts/c-2' } );
		await settle();
		const list = wrapper.find( '[role="listbox"]' );
		await list.trigger( 'keydown', { key: 'ArrowDown' } );
		await settle();
		expect( router!.currentRoute.value.params.id, 'the contact after Cy, not the first one' ).toBe( 'c-3' );

		await router!.push( '/contacts/c-1' );
		await settle();
		await list.trigger( 'keydown', { key: 'ArrowUp' } );
		await settle();
		expect( router!.currentRoute.value.params.id, 'from Bea, opened by address, up to Ada' ).toBe( 'c-0' );
	} );

	it( 'goes to the unlock screen when the backend reports the vault locked itself', async () => {
		backend.unlocked( [ makeContact() ] );
		const { router } = await mountApp( App, { route: '/contacts' } );
		backend.vault.unlocked = false;
		backend.emit( 'vault-locked', { ...backend.vault } );
		await settle();
		expect( router!.currentRoute.value.name ).toBe( 'unlock' );
	} );

	it( 'treats a locked error from any command as auto-lock', async () => {
		backend.unlocked( [ makeContact( { id: 'c-1' } ) ] );
		const { router } = await mountApp( App, { route: '/contacts' } );
		backend.vault.unlocked = false;
		await router!.push( '/contacts/c-1' );
		await settle();
		expect( router!.currentRoute.value.name ).toBe( 'unlock' );
	} );

	it( 'marks restricted contacts in the list with a lock chip', async () => {
		backend.unlocked( [
			makeContact( { id: 'c-1', displayName: 'Ada Lovelace', restricted: true } ),
			makeContact( { id: 'c-2', displayName: 'Charles Babbage' } )
		] );
		const { wrapper } = await mountApp( App, { route: '/contacts' } );
		const rows = wrapper.findAll( '[data-testid="contact-row"]' );
		expect( rows.map( ( r ) => r.find( '[data-testid="contact-restricted-chip"]' ).exists() ) ).toEqual( [ true, false ] );
		expect( rows[ 0 ]!.find( '[data-testid="contact-restricted-chip"]' ).text() ).toBe( 'Restricted' );
	} );

	it( 'shows the kept value on the open contact after a conflict about it is resolved', async () => {
		backend.unlocked( [ makeContact( { id: 'c-1', organization: 'New Co' } ) ] )
			.withConflicts( [ makeConflict( { id: 'k-1', contactId: 'c-1', field: 'organization', mine: { text: 'Old Co' } } ) ] );
		backend.sync = { ...backend.sync, loggedIn: true, serverUrl: 'https://x.org', user: 'ada' };
		const { wrapper } = await mountApp( App, { route: '/contacts/c-1' } );
		expect( wrapper.find( '[data-testid="contact-detail"]' ).text() ).toContain( 'New Co' );

		await wrapper.find( '[data-testid="conflicts-status"]' ).trigger( 'click' );
		await settle();
		document.querySelector<HTMLButtonElement>( '[data-testid="conflict-keep-mine"]' )!.click();
		await settle();
		expect( wrapper.find( '[data-testid="contact-detail"]' ).text() ).toContain( 'Old Co' );
		expect( wrapper.find( '[data-testid="conflicts-status"]' ).exists(), 'no conflicts left' ).toBe( false );
	} );
} );
