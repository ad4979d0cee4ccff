import { describe, expect, it } from 'vitest';
import { createMemoryHistory } from 'vue-router';
import { backend } from '@/test/fakeBackend';
import { createAppRouter, redirectFor } from './router';

describe( 'router', () => {
	it( 'allows each screen only in its vault phase', () => {
		expect( redirectFor( 'setup', 'contacts' ) ).toEqual( { name: 'setup' } );
		expect( redirectFor( 'locked', 'contact' ) ).toEqual( { name: 'unlock' } );
		expect( redirectFor( 'unlocked', 'unlock' ) ).toEqual( { name: 'contacts' } );
		expect( redirectFor( 'unlocked', 'contact-edit' ) ).toBeNull();
		expect( redirectFor( 'unknown', 'contacts' ) ).toEqual( { name: 'startup' } );
	} );

	it( 'asks the backend before the first screen', async () => {
		backend.unlocked();
		backend.vault.unlocked = false;
		const router = createAppRouter( createMemoryHistory() );
		await router.push( '/contacts/c-1/edit' );
		expect( router.currentRoute.value.name ).toBe( 'unlock' );
		expect( backend.calls( 'vault_state' ) ).toHaveLength( 1 );
	} );

	it( 'shows the startup screen when the backend cannot be reached', async () => {
		backend.on( 'vault_state', () => {
			throw new Error( 'IPC unavailable' );
		} );
		const router = createAppRouter( createMemoryHistory() );
		await router.push( '/' );
		expect( router.currentRoute.value.name ).toBe( 'startup' );
	} );
} );
