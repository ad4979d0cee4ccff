import { describe, expect, it } from 'vitest';
import { useSyncStore } from '@/stores/sync';
import { apiError, backend, makeContact } from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';
import ContactForm from './ContactForm.vue';

async function openForm( props: Record<string, unknown> = {} ) {
	backend.unlocked();
	const { wrapper } = await mountApp( ContactForm, { props } );
	return wrapper;
}

describe( 'contact form', () => {
	it( 'requires a name and does not save without one', async () => {
		const wrapper = await openForm();
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( wrapper.text() ).toContain( 'Enter a name for the contact.' );
		expect( wrapper.find( '[data-testid="contact-form-name"]' ).element, 'focus moves to the bad field' )
			.toBe( document.activeElement );
		expect( backend.calls( 'create_contact' ) ).toEqual( [] );
	} );

	it( 'blocks saving on a bad email and names the value', async () => {
		const wrapper = await openForm();
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( 'Ada Lovelace' );
		const emails = wrapper.find( '[data-testid="contact-form-emails"]' );
		await emails.setValue( 'ada@example.org' );
		await emails.trigger( 'keydown', { key: 'Enter' } );
		await emails.setValue( 'ada-at-example' );
		await emails.trigger( 'keydown', { key: 'Enter' } );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( wrapper.text() ).toContain( 'This is not a valid email address: “ada-at-example”' );
		expect( wrapper.text() ).not.toContain( '“ada@example.org”' );
		expect( backend.calls( 'create_contact' ) ).toEqual( [] );
	} );

	it( 'sends the right ContactInput for valid input', async () => {
		const wrapper = await openForm();
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( ' Ada Lovelace ' );
		const emails = wrapper.find( '[data-testid="contact-form-emails"]' );
		await emails.setValue( 'ada@example.org' );
		await emails.trigger( 'keydown', { key: 'Enter' } );
		await wrapper.find( '[data-testid="contact-form-phones"]' ).setValue( '+44 20 7946 0958' );
		await wrapper.find( '[data-testid="contact-form-wiki-user"]' ).setValue( 'Ada L' );
		await wrapper.find( '[data-testid="contact-form-irc-nick"]' ).setValue( 'ada_l' );
		await wrapper.find( '[data-testid="contact-form-language"]' ).setValue( 'en-GB' );
		await wrapper.find( '[data-testid="contact-form-organization"]' ).setValue( 'Analytical Engines Ltd' );
		await wrapper.find( '[data-testid="contact-form-tags"]' ).setValue( 'press, math' );
		await wrapper.find( '[data-testid="contact-form-notes"]' ).setValue( 'Prefers email.' );
		await wrapper.find( '[data-testid="contact-form-save"]' ).trigger( 'click' );
		await settle();

		expect( backend.calls( 'create_contact' ) ).toEqual( [ {
			input: {
				displayName: 'Ada Lovelace',
				emails: [ 'ada@example.org' ],
				phones: [ '+44 20 7946 0958' ],
				wikiUser: 'Ada L',
				ircNick: 'ada_l',
				language: 'en-GB',
				organization: 'Analytical Engines Ltd',
				tags: [ 'press', 'math' ],
				notes: 'Prefers email.',
				restricted: false
			}
		} ] );
		expect( wrapper.emitted( 'saved' ) ).toHaveLength( 1 );
	} );

	it( 'shows a backend rejection above the form and keeps everything typed', async () => {
		const wrapper = await openForm();
		backend.on( 'create_contact', () => {
			throw apiError( 'invalid_input', 'displayName: too long' );
		} );
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( 'Ada Lovelace' );
		await wrapper.find( '[data-testid="contact-form-emails"]' ).setValue( 'ada@example.org' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();

		const error = wrapper.find( '[data-testid="form-error"]' );
		expect( error.attributes( 'data-error-code' ) ).toBe( 'invalid_input' );
		expect( error.text() ).toContain( 'displayName: too long' );
		expect( ( wrapper.find( '[data-testid="contact-form-name"]' ).element as HTMLInputElement ).value ).toBe( 'Ada Lovelace' );
		expect( ( wrapper.find( '[data-testid="contact-form-emails"]' ).element as HTMLInputElement ).value,
			'unfinished chip text kept' ).toBe( 'ada@example.org' );
		expect( backend.calls( 'create_contact' )[ 0 ]!.input.emails, 'pending chip text was sent' ).toEqual( [ 'ada@example.org' ] );
	} );

	it( 'says at once when a name is too long, counts near the limit, and does not save', async () => {
		const wrapper = await openForm();
		const name = wrapper.find( '[data-testid="contact-form-name"]' );
		await name.setValue( 'a'.repeat( 250 ) );
		expect( wrapper.find( '[data-testid="contact-form-name-counter"]' ).text() ).toBe( '250 / 300' );
		expect( wrapper.text(), 'no error below the limit' ).not.toContain( 'At most 300 characters' );
		await name.setValue( 'a'.repeat( 301 ) );
		expect( wrapper.text(), 'the limit shows while typing, before any save' ).toContain( 'At most 300 characters; this has 301.' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( backend.calls( 'create_contact' ) ).toEqual( [] );
		expect( name.element, 'focus moves to the field at fault' ).toBe( document.activeElement );
	} );

	it( 'counts characters as a person sees them, not UTF-16 units', async () => {
		const wrapper = await openForm();
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( '😀'.repeat( 300 ) );
		expect( wrapper.text(), '300 emoji are 300 characters, within the limit' ).not.toContain( 'At most 300 characters' );
	} );

	it( 'moves the focus to a refusal from the store, next to the buttons', async () => {
		const wrapper = await openForm();
		backend.on( 'create_contact', () => {
			throw apiError( 'invalid_input', 'notes: too long' );
		} );
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( 'Ada Lovelace' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		const refusal = wrapper.find( '[data-testid="form-error"]' ).element.parentElement!;
		expect( refusal.contains( document.activeElement ), 'a person using a screen reader hears why' ).toBe( true );
	} );

	it( 'edits an existing contact with update_contact', async () => {
		const contact = makeContact( { id: 'c-9', emails: [ { id: 'e', address: 'ada@example.org', label: null } ] } );
		backend.unlocked( [ contact ] );
		const { wrapper } = await mountApp( ContactForm, { props: { contact } } );
		expect( wrapper.text() ).toContain( 'Edit contact' );
		await wrapper.find( '[data-testid="contact-form-organization"]' ).setValue( 'Royal Society' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		const [ call ] = backend.calls( 'update_contact' );
		expect( call!.id ).toBe( 'c-9' );
		expect( call!.input.organization ).toBe( 'Royal Society' );
		expect( call!.input.emails ).toEqual( [ 'ada@example.org' ] );
	} );

	it( 'lets staff, administrators, and anyone not signed in mark a contact restricted; others see why not', async () => {
		for ( const [ loggedIn, role, enabled ] of [
			[ false, null, true ], [ true, 'volunteer', false ], [ true, 'trainer', false ], [ true, 'staff', true ], [ true, 'admin', true ]
		] as const ) {
			backend.unlocked();
			backend.sync = { ...backend.sync, loggedIn, role };
			const { wrapper } = await mountApp( ContactForm );
			await useSyncStore().refresh();
			await settle();
			const checkbox = wrapper.find( '[data-testid="contact-restricted"]' );
			expect( checkbox.text() ).toContain( 'only staff, administrators and people granted access can see this contact' );
			expect( checkbox.find( 'input' ).element.disabled, `role ${ role }, signed in: ${ loggedIn }` ).toBe( !enabled );
			expect( checkbox.text().includes( 'Only staff and administrators can change this.' ), `hint for role ${ role }` ).toBe( !enabled );
			wrapper.unmount();
		}
	} );

	it( 'sends restricted in the ContactInput', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, role: 'staff' };
		const { wrapper } = await mountApp( ContactForm );
		await useSyncStore().refresh();
		await settle();
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( 'Ada Lovelace' );
		await wrapper.find( '[data-testid="contact-restricted"] input' ).setValue( true );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( backend.calls( 'create_contact' )[ 0 ]!.input.restricted ).toBe( true );
	} );

	it( 'keeps a restricted contact restricted when someone who may not change it edits it', async () => {
		const contact = makeContact( { id: 'c-5', restricted: true } );
		backend.unlocked( [ contact ] );
		backend.sync = { ...backend.sync, loggedIn: true, role: 'volunteer' };
		const { wrapper } = await mountApp( ContactForm, { props: { contact } } );
		await useSyncStore().refresh();
		await settle();
		const input = wrapper.find( '[data-testid="contact-restricted"] input' ).element as HTMLInputElement;
		expect( input.checked ).toBe( true );
		expect( input.disabled ).toBe( true );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( backend.calls( 'update_contact' )[ 0 ]!.input.restricted ).toBe( true );
	} );

	it( 'shows the server refusing a change to restricted like any other save error', async () => {
		backend.unlocked();
		backend.on( 'create_contact', () => {
			throw apiError( 'forbidden', 'only staff and admins may restrict contacts' );
		} );
		const { wrapper } = await mountApp( ContactForm );
		await wrapper.find( '[data-testid="contact-form-name"]' ).setValue( 'Ada Lovelace' );
		await wrapper.find( '[data-testid="contact-restricted"] input' ).setValue( true );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		const error = wrapper.find( '[data-testid="form-error"]' );
		expect( error.attributes( 'data-error-code' ) ).toBe( 'forbidden' );
		expect( error.text() ).toContain( 'Your account is not allowed to do this.' );
		expect( ( wrapper.find( '[data-testid="contact-restricted"] input' ).element as HTMLInputElement ).checked, 'the choice is kept' ).toBe( true );
	} );
} );
