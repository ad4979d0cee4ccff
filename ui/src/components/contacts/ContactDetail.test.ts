import { describe, expect, it } from 'vitest';
import { backend, makeContact } from '@/test/fakeBackend';
import { useSyncStore } from '@/stores/sync';
import { mountApp, settle } from '@/test/mount';
import ContactDetail from './ContactDetail.vue';

const PAYLOADS = {
	script: '<script>window.__pwned = 1</script>',
	img: '<img src=x onerror="window.__pwned = 1">',
	link: '<a href="javascript:window.__pwned=1">click</a>'
};

describe( 'contact detail', () => {
	it( 'renders hostile text as text in every field', async () => {
		const contact = makeContact( {
			displayName: PAYLOADS.script,
			organization: PAYLOADS.img,
			notes: `${ PAYLOADS.img }\n${ PAYLOADS.link }`,
			tags: [ PAYLOADS.script ],
			emails: [ { id: 'e1', address: PAYLOADS.img, label: PAYLOADS.link } ],
			phones: [ { id: 'p1', number: PAYLOADS.script, label: null } ],
			identifiers: [ { id: 'i1', kind: 'wiki', value: PAYLOADS.img } ]
		} );
		backend.unlocked( [ contact ] );
		const { wrapper } = await mountApp( ContactDetail, { props: { contact } } );

		const root = wrapper.find( '[data-testid="contact-detail"]' ).element;
		expect( root.querySelectorAll( 'script, img, a[href]' ), 'no elements created from data' ).toHaveLength( 0 );
		expect( wrapper.find( '[data-testid="contact-detail-name"]' ).text() ).toBe( PAYLOADS.script );
		expect( wrapper.find( '[data-testid="contact-detail-notes"]' ).text() ).toContain( PAYLOADS.img );
		expect( wrapper.text() ).toContain( PAYLOADS.link );
		expect( ( window as unknown as { __pwned?: number } ).__pwned ).toBeUndefined();
	} );

	it( 'shows every field with labels and tags as chips', async () => {
		const contact = makeContact( {
			organization: 'Analytical Engines Ltd',
			language: 'en-GB',
			emails: [ { id: 'e1', address: 'ada@example.org', label: 'work' } ],
			phones: [ { id: 'p1', number: '+44 20 7946 0958', label: null } ],
			identifiers: [
				{ id: 'i1', kind: 'wiki', value: 'Ada L' },
				{ id: 'i2', kind: 'irc', value: 'ada_l' },
				{ id: 'i3', kind: 'mastodon', value: '@ada@example.social' }
			],
			tags: [ 'press', 'math' ],
			notes: 'Line one\nLine two'
		} );
		backend.unlocked( [ contact ] );
		const { wrapper } = await mountApp( ContactDetail, { props: { contact } } );
		const text = wrapper.text();
		for ( const expected of [ 'Analytical Engines Ltd', 'en-GB', 'ada@example.org', '(work)', '+44 20 7946 0958',
			'Wiki username', 'Ada L', 'IRC nick', 'ada_l', 'Other identifier', '@ada@example.social' ] ) {
			expect( text ).toContain( expected );
		}
		expect( wrapper.findAll( '.cdx-info-chip' ).map( ( c ) => c.text() ) ).toEqual( [ 'press', 'math' ] );
	} );

	it( 'deletes only after confirmation in a dialog', async () => {
		const contact = makeContact( { id: 'c-1' } );
		backend.unlocked( [ contact ] );
		const { wrapper } = await mountApp( ContactDetail, { props: { contact } } );
		await wrapper.find( '[data-testid="contact-delete"]' ).trigger( 'click' );
		await settle();
		const dialog = document.querySelector( '.cdx-dialog' );
		expect( dialog?.textContent ).toContain( 'Delete this contact?' );
		expect( backend.calls( 'delete_contact' ), 'nothing deleted before confirming' ).toEqual( [] );

		const confirm = dialog!.querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' );
		confirm!.click();
		await settle();
		expect( backend.calls( 'delete_contact' ) ).toEqual( [ { id: 'c-1' } ] );
		expect( wrapper.emitted( 'deleted' ) ).toEqual( [ [ 'c-1' ] ] );
	} );

	it( 'offers erasure only to signed-in staff and administrators', async () => {
		const contact = makeContact( { id: 'c-2' } );
		for ( const [ loggedIn, role, shown ] of [
			[ false, null, false ], [ true, 'volunteer', false ], [ true, 'trainer', false ], [ true, 'staff', true ], [ true, 'admin', true ]
		] as const ) {
			backend.unlocked( [ contact ] );
			backend.sync = { ...backend.sync, loggedIn, role };
			const { wrapper } = await mountApp( ContactDetail, { props: { contact } } );
			await useSyncStore().refresh();
			await settle();
			expect( wrapper.find( '[data-testid="contact-erase"]' ).exists(), `role ${ role }, signed in: ${ loggedIn }` ).toBe( shown );
			wrapper.unmount();
		}
	} );

	it( 'erases only after a confirmation that says it cannot be undone', async () => {
		const contact = makeContact( { id: 'c-3', displayName: 'Forget Me' } );
		backend.unlocked( [ contact ] );
		backend.sync = { ...backend.sync, loggedIn: true, role: 'staff' };
		backend.on( 'erase_contact', () => ( { pushed: 0, rejected: 0, pulled: 1, status: { ...backend.sync } } ) );
		const { wrapper } = await mountApp( ContactDetail, { props: { contact } } );
		await useSyncStore().refresh();
		await settle();
		await wrapper.find( '[data-testid="contact-erase"]' ).trigger( 'click' );
		await settle();
		const dialog = document.querySelector( '.liaison-contact-erase' );
		expect( dialog?.textContent ).toContain( 'Forget Me' );
		expect( dialog?.textContent ).toContain( 'cannot be undone' );
		expect( backend.calls( 'erase_contact' ), 'nothing erased before confirming' ).toEqual( [] );
		dialog!.querySelector<HTMLButtonElement>( '.cdx-dialog__footer__primary-action' )!.click();
		await settle();
		expect( backend.calls( 'erase_contact' ) ).toEqual( [ { id: 'c-3' } ] );
		expect( wrapper.emitted( 'deleted' ) ).toEqual( [ [ 'c-3' ] ] );
	} );

	it( 'marks a restricted contact with a lock chip beside the name, and only a restricted one', async () => {
		const restricted = makeContact( { id: 'c-r', restricted: true } );
		backend.unlocked( [ restricted ] );
		const { wrapper } = await mountApp( ContactDetail, { props: { contact: restricted } } );
		const chip = wrapper.find( '[data-testid="contact-restricted-chip"]' );
		expect( chip.text() ).toBe( 'Restricted' );
		expect( chip.find( '.cdx-icon' ).exists(), 'lock icon' ).toBe( true );
		await wrapper.setProps( { contact: makeContact( { id: 'c-o' } ) } );
		expect( wrapper.find( '[data-testid="contact-restricted-chip"]' ).exists() ).toBe( false );
	} );
} );
