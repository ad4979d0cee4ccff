import { describe, expect, it } from 'vitest';
import { apiError, backend } from '@/test/fakeBackend';
import { useVaultStore } from './vault';

describe( 'vault store', () => {
	it( 'derives the phase from the backend state', async () => {
		const vault = useVaultStore();
		expect( vault.phase ).toBe( 'unknown' );
		await vault.load();
		expect( vault.phase ).toBe( 'setup' );
		await vault.create( 'passphrase', 'correct horse' );
		expect( vault.phase ).toBe( 'unlocked' );
		await vault.lock();
		expect( vault.phase ).toBe( 'locked' );
		expect( await vault.unlock( 'wrong' ) ).toBe( false );
		expect( vault.error?.code ).toBe( 'wrong_passphrase' );
		expect( await vault.unlock( 'correct horse' ) ).toBe( true );
		expect( vault.error ).toBeNull();
	} );

	it( 'never sends a passphrase for keychain mode', async () => {
		const vault = useVaultStore();
		await vault.create( 'keychain', 'ignored' );
		expect( backend.calls( 'create_vault' ) ).toEqual( [ { mode: 'keychain', passphrase: null } ] );
	} );

	it( 'treats a locked error from elsewhere as the vault having locked itself', async () => {
		backend.unlocked();
		const vault = useVaultStore();
		await vault.load();
		vault.noteError( apiError( 'locked' ) );
		expect( vault.phase ).toBe( 'locked' );
	} );

	it( 'follows vault-locked events', async () => {
		backend.unlocked();
		const vault = useVaultStore();
		await vault.load();
		backend.emit( 'vault-locked', { ...backend.vault, unlocked: false } );
		expect( vault.phase ).toBe( 'locked' );
	} );

	it( 'reports activity to the backend, and a locked answer means the vault locked itself', async () => {
		backend.unlocked();
		const vault = useVaultStore();
		await vault.load();
		await vault.noteActivity();
		expect( backend.calls( 'note_activity' ) ).toHaveLength( 1 );
		expect( vault.phase ).toBe( 'unlocked' );
		backend.on( 'note_activity', () => {
			throw apiError( 'locked' );
		} );
		await vault.noteActivity();
		expect( vault.phase ).toBe( 'locked' );
	} );

	it( 'keeps a startup failure as an error instead of guessing a phase', async () => {
		backend.on( 'vault_state', () => {
			throw 'invoke is not available';
		} );
		const vault = useVaultStore();
		await vault.load();
		expect( vault.phase ).toBe( 'unknown' );
		expect( vault.error ).toEqual( { code: 'internal', message: 'invoke is not available' } );
	} );
} );
