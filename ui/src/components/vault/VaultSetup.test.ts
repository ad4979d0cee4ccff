import { describe, expect, it } from 'vitest';
import App from '@/App.vue';
import { backend } from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';

async function openSetup() {
	const { wrapper, router } = await mountApp( App, { route: '/' } );
	expect( router!.currentRoute.value.name, 'no vault: first-run screen' ).toBe( 'setup' );
	return { wrapper, router: router! };
}

describe( 'first run', () => {
	it( 'explains local encryption and offers both unlock modes', async () => {
		const { wrapper } = await openSetup();
		expect( wrapper.text() ).toContain( 'encrypted database on this computer' );
		expect( wrapper.text() ).toContain( '/home/test/.local/share/liaison' );
		expect( wrapper.find( '[data-testid="setup-mode-keychain"] input' ).attributes( 'disabled' ) ).toBeUndefined();
		expect( wrapper.find( '[data-testid="setup-mode-passphrase"] input' ).exists() ).toBe( true );
	} );

	it( 'disables the keychain choice with the reason when there is no keychain, and defaults to passphrase', async () => {
		backend.vault.keychainAvailable = false;
		backend.vault.keychainProblem = 'no Secret Service on the session bus';
		const { wrapper } = await openSetup();
		const keychain = wrapper.find( '[data-testid="setup-mode-keychain"]' );
		expect( keychain.find( 'input' ).attributes( 'disabled' ) ).toBeDefined();
		expect( keychain.text() ).toContain( 'no Secret Service on the session bus' );
		expect( wrapper.find( '[data-testid="setup-passphrase"]' ).exists(), 'passphrase fields shown' ).toBe( true );
	} );

	it( 'after the server revoked this device and its data was wiped, says so before anything else', async () => {
		backend.vault.wiped = 'An administrator of https://liaison.example revoked this device, so its local data was wiped (vault.json, liaison.db).';
		const { wrapper } = await openSetup();
		const notice = wrapper.find( '[data-testid="setup-wiped"]' );
		expect( notice.exists(), 'a person must learn why their data is gone' ).toBe( true );
		expect( notice.text() ).toContain( "This device's data was wiped" );
		expect( notice.text() ).toContain( 'revoked this device' );
	} );

	it( 'shows no wipe notice on an ordinary first run', async () => {
		const { wrapper } = await openSetup();
		expect( wrapper.find( '[data-testid="setup-wiped"]' ).exists() ).toBe( false );
	} );

	it( 'refuses a short passphrase and says why', async () => {
		const { wrapper } = await openSetup();
		await wrapper.find( '[data-testid="setup-mode-passphrase"] input' ).setValue( true );
		await wrapper.find( '[data-testid="setup-passphrase"]' ).setValue( 'short' );
		await wrapper.find( '[data-testid="setup-passphrase-confirm"]' ).setValue( 'short' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( wrapper.text() ).toContain( 'The passphrase must be at least 8 characters long.' );
		expect( backend.calls( 'create_vault' ), 'nothing sent to the backend' ).toEqual( [] );
	} );

	it( 'refuses mismatched passphrases', async () => {
		const { wrapper } = await openSetup();
		await wrapper.find( '[data-testid="setup-mode-passphrase"] input' ).setValue( true );
		await wrapper.find( '[data-testid="setup-passphrase"]' ).setValue( 'correct horse battery' );
		await wrapper.find( '[data-testid="setup-passphrase-confirm"]' ).setValue( 'correct horse batery' );
		await wrapper.find( '[data-testid="setup-create"]' ).trigger( 'click' );
		await settle();
		expect( wrapper.text() ).toContain( 'The two passphrases do not match.' );
		expect( backend.calls( 'create_vault' ) ).toEqual( [] );
	} );

	it( 'creates a passphrase vault, shows progress meanwhile, then opens the contacts', async () => {
		let finish: () => void = () => undefined;
		const create = backend.handlers.create_vault!;
		backend.on( 'create_vault', ( args ) => new Promise( ( resolve ) => {
			finish = () => resolve( create( args ) );
		} ) );
		const { wrapper, router } = await openSetup();
		await wrapper.find( '[data-testid="setup-mode-passphrase"] input' ).setValue( true );
		await wrapper.find( '[data-testid="setup-passphrase"]' ).setValue( 'correct horse battery' );
		await wrapper.find( '[data-testid="setup-passphrase-confirm"]' ).setValue( 'correct horse battery' );
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( wrapper.find( '[data-testid="setup-progress"]' ).exists(), 'progress while the KDF runs' ).toBe( true );
		expect( backend.calls( 'create_vault' ) ).toEqual( [ { mode: 'passphrase', passphrase: 'correct horse battery' } ] );
		finish();
		await settle();
		expect( router.currentRoute.value.name ).toBe( 'contacts' );
	} );

	it( 'creates a keychain vault without a passphrase', async () => {
		const { wrapper, router } = await openSetup();
		await wrapper.find( 'form' ).trigger( 'submit' );
		await settle();
		expect( backend.calls( 'create_vault' ) ).toEqual( [ { mode: 'keychain', passphrase: null } ] );
		expect( router.currentRoute.value.name ).toBe( 'contacts' );
	} );
} );
