import { describe, expect, it } from 'vitest';
import App from '@/App.vue';
import { apiError, backend, makeContact } from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';

async function openUnlock() {
	backend.unlocked( [ makeContact() ] );
	backend.vault.unlocked = false;
	const { wrapper, router } = await mountApp( App, { route: '/contacts' } );
	expect( router!.currentRoute.value.name, 'locked vault: unlock screen' ).toBe( 'unlock' );
	return { wrapper, router: router! };
}

describe( 'unlock', () => {
	it( 'shows the table message for a wrong passphrase, keeps the text and the focus', async () => {
		const { wrapper, router } = await openUnlock();
		const input = wrapper.find<HTMLInputElement>( '[data-testid="unlock-passphrase"]' );
		await input.setValue( 'wrong horse' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();

		const error = wrapper.find( '[data-testid="form-error"]' );
		expect( error.attributes( 'data-error-code' ) ).toBe( 'wrong_passphrase' );
		expect( error.text() ).toContain( 'That passphrase is not correct.' );
		expect( error.text(), 'backend detail shown under our text' ).toContain( 'could not decrypt the key' );
		expect( input.element.value, 'typed text kept' ).toBe( 'wrong horse' );
		expect( document.activeElement ).toBe( input.element );
		expect( router.currentRoute.value.name ).toBe( 'unlock' );
	} );

	it( 'explains a corrupt database and that nothing was changed', async () => {
		const { wrapper } = await openUnlock();
		backend.on( 'unlock_vault', () => {
			throw apiError( 'corrupt_database', 'file is not a database' );
		} );
		await wrapper.find( '[data-testid="unlock-passphrase"]' ).setValue( 'correct horse' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		const error = wrapper.find( '[data-testid="form-error"]' );
		expect( error.attributes( 'data-error-code' ) ).toBe( 'corrupt_database' );
		expect( error.text() ).toContain( 'not a Liaison database' );
		expect( error.text() ).toContain( 'Nothing was changed.' );
	} );

	it( 'opens the contacts with the right passphrase', async () => {
		const { wrapper, router } = await openUnlock();
		await wrapper.find( '[data-testid="unlock-passphrase"]' ).setValue( 'correct horse' );
		await wrapper.find( '[data-testid="unlock-submit"]' ).trigger( 'click' );
		await settle();
		expect( backend.calls( 'unlock_vault' ) ).toEqual( [ { passphrase: 'correct horse' } ] );
		expect( router.currentRoute.value.name ).toBe( 'contacts' );
		expect( wrapper.find( '[data-testid="contact-row"]' ).text() ).toContain( 'Ada Lovelace' );
	} );

	it( 'unlocks a keychain vault with a button and no passphrase', async () => {
		backend.vault = { ...backend.vault, exists: true, unlocked: false, mode: 'keychain' };
		const { wrapper, router } = await mountApp( App, { route: '/' } );
		expect( wrapper.find( '[data-testid="unlock-passphrase"]' ).exists() ).toBe( false );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( backend.calls( 'unlock_vault' ) ).toEqual( [ { passphrase: null } ] );
		expect( router!.currentRoute.value.name ).toBe( 'contacts' );
	} );
} );
