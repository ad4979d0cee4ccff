import { describe, expect, it } from 'vitest';
import { apiError, backend } from '@/test/fakeBackend';
import { useContactsStore } from './contacts';
import { useSyncStore } from './sync';

describe( 'sync store', () => {
	it( 'orders the status: signed out, pending, up to date, error', async () => {
		backend.unlocked();
		const sync = useSyncStore();
		await sync.refresh();
		expect( sync.state ).toBe( 'signed-out' );
		backend.sync = { ...backend.sync, loggedIn: true, pending: 2 };
		await sync.refresh();
		expect( sync.state ).toBe( 'pending' );
		await sync.syncNow();
		expect( sync.state ).toBe( 'up-to-date' );
		backend.sync = { ...backend.sync, lastError: apiError( 'certificate_mismatch' ) };
		await sync.refresh();
		expect( sync.state ).toBe( 'error' );
		expect( sync.currentError?.code ).toBe( 'certificate_mismatch' );
	} );

	it( 'calls an unreachable server "offline", not an error: changes wait and sync retries', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, pending: 3, lastError: apiError( 'server_unreachable' ) };
		const sync = useSyncStore();
		await sync.refresh();
		expect( sync.state ).toBe( 'offline' );
	} );

	it( 'reloads the contact list when a sync pulled changes', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true };
		backend.on( 'sync_now', () => {
			// The backend announces what the sync changed before it answers.
			backend.changed( [ 'contact' ] );
			return { pushed: 0, rejected: 0, pulled: 4, changed: [ 'contact' ], status: { ...backend.sync } };
		} );
		const contacts = useContactsStore();
		const before = contacts.dataVersion;
		await useSyncStore().syncNow();
		expect( contacts.dataVersion ).toBe( before + 1 );
	} );

	it( 'follows background sync through events: syncing, then a reloaded list', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true };
		const sync = useSyncStore();
		await sync.refresh();
		await Promise.resolve();
		backend.emit( 'sync-status', { ...backend.sync, syncing: true } );
		expect( sync.state ).toBe( 'syncing' );
		const contacts = useContactsStore();
		const before = contacts.dataVersion;
		backend.changed( [ 'contact', 'contact_email' ] );
		backend.emit( 'sync-status', { ...backend.sync, syncing: false, lastSyncAt: new Date().toISOString() } );
		expect( sync.state ).toBe( 'up-to-date' );
		expect( contacts.dataVersion ).toBe( before + 1 );
	} );

	it( 'clears the error of a failed "Sync now" once a background sync succeeds', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true };
		const sync = useSyncStore();
		await sync.refresh();
		backend.on( 'sync_now', () => {
			throw apiError( 'server_unreachable' );
		} );
		await sync.syncNow().catch( () => undefined );
		expect( sync.currentError?.code ).toBe( 'server_unreachable' );
		backend.emit( 'sync-status', { ...backend.sync, syncing: false, lastError: null, lastSyncAt: new Date().toISOString() } );
		expect( sync.currentError, 'the status line no longer reports an error that is over' ).toBeNull();
		expect( sync.state ).toBe( 'up-to-date' );
	} );

	it( 'keeps the error while the background sync fails too', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true };
		const sync = useSyncStore();
		await sync.refresh();
		backend.on( 'sync_now', () => {
			throw apiError( 'certificate_mismatch' );
		} );
		await sync.syncNow().catch( () => undefined );
		backend.emit( 'sync-status', { ...backend.sync, syncing: false, lastError: apiError( 'certificate_mismatch' ) } );
		expect( sync.currentError?.code ).toBe( 'certificate_mismatch' );
	} );

	it( 'does not start a second sync while one runs', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true };
		const sync = useSyncStore();
		await Promise.all( [ sync.syncNow(), sync.syncNow() ] );
		expect( backend.calls( 'sync_now' ) ).toHaveLength( 1 );
	} );

	it( 'follows sync-status events', async () => {
		backend.unlocked();
		const sync = useSyncStore();
		await sync.refresh();
		backend.emit( 'sync-status', { ...backend.sync, loggedIn: true, pending: 7 } );
		expect( sync.status?.pending ).toBe( 7 );
	} );
} );
