import { describe, expect, it, vi } from 'vitest';
import { apiError, backend, makeConflict } from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';
import SyncErrorBanner from './SyncErrorBanner.vue';
import SyncPanel from './SyncPanel.vue';

function dialog(): HTMLElement {
	const element = document.querySelector<HTMLElement>( '.liaison-signin' );
	if ( !element ) {
		throw new Error( 'sign-in dialog is not open' );
	}
	return element;
}

async function type( testid: string, value: string ): Promise<void> {
	const input = dialog().querySelector<HTMLInputElement>( `[data-testid="${ testid }"]` )!;
	input.value = value;
	input.dispatchEvent( new Event( 'input' ) );
	await settle();
}

async function press( selector: string ): Promise<void> {
	dialog().querySelector<HTMLButtonElement>( selector )!.click();
	await settle();
}

describe( 'sync panel', () => {
	it( 'signs in after the user has seen the fingerprint, passing it to login', async () => {
		backend.unlocked();
		const { wrapper } = await mountApp( SyncPanel );
		expect( wrapper.find( '[data-testid="sync-status"]' ).text() ).toContain( 'Not signed in to a server' );

		await wrapper.find( '[data-testid="sync-signin"]' ).trigger( 'click' );
		await settle();
		await type( 'signin-url', 'http://liaison.example.org' );
		await type( 'signin-user', 'ada' );
		await type( 'signin-password', 'hunter22' );
		await press( '.cdx-dialog__footer__primary-action' );
		expect( dialog().textContent ).toContain( 'starting with https://' );
		expect( backend.calls( 'probe_server' ), 'plain http is refused before any request' ).toEqual( [] );

		await type( 'signin-url', 'https://liaison.example.org' );
		await press( '.cdx-dialog__footer__primary-action' );
		expect( backend.calls( 'probe_server' ) ).toEqual( [ { url: 'https://liaison.example.org' } ] );
		const fingerprint = dialog().querySelector( '[data-testid="fingerprint"]' )!;
		expect( fingerprint.textContent ).toContain( 'AB CD EF 01 23 45 67 89' );
		expect( backend.calls( 'login' ), 'no login before the user trusts the fingerprint' ).toEqual( [] );

		await press( '.cdx-dialog__footer__primary-action' );
		expect( backend.calls( 'login' ) ).toEqual( [ {
			url: 'https://liaison.example.org',
			user: 'ada',
			password: 'hunter22',
			fingerprint: 'ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89'
		} ] );
		expect( wrapper.find( '[data-testid="sync-button"]' ).exists() ).toBe( true );
		expect( document.querySelector( '.liaison-signin' ), 'dialog closed' ).toBeNull();
	} );

	it( 'shows a wrong password inside the dialog, by code', async () => {
		backend.unlocked();
		backend.on( 'login', () => {
			throw apiError( 'bad_credentials', 'HTTP 401' );
		} );
		const { wrapper } = await mountApp( SyncPanel );
		await wrapper.find( '[data-testid="sync-signin"]' ).trigger( 'click' );
		await settle();
		await type( 'signin-url', 'https://liaison.example.org' );
		await type( 'signin-user', 'ada' );
		await type( 'signin-password', 'nope' );
		await press( '.cdx-dialog__footer__primary-action' );
		await press( '.cdx-dialog__footer__primary-action' );
		const error = dialog().querySelector( '[data-testid="form-error"]' )!;
		expect( error.getAttribute( 'data-error-code' ) ).toBe( 'bad_credentials' );
		expect( error.textContent ).toContain( 'The user name or password is wrong.' );
	} );

	it( 'shows pending changes, the last sync time, and a spinner while syncing', async () => {
		vi.useFakeTimers( { toFake: [ 'Date' ] } );
		vi.setSystemTime( new Date( '2024-05-01T12:00:00Z' ) );
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, serverUrl: 'https://x.org', user: 'ada', pending: 3, lastSyncAt: '2024-05-01T11:55:00Z' };
		let finish: () => void = () => undefined;
		backend.on( 'sync_now', () => new Promise( ( resolve ) => {
			finish = () => resolve( { pushed: 3, rejected: 1, pulled: 0, status: { ...backend.sync, pending: 0, lastSyncAt: '2024-05-01T12:00:00Z' } } );
		} ) );
		const { wrapper } = await mountApp( SyncPanel );
		const status = () => wrapper.find( '[data-testid="sync-status"]' ).text();
		expect( status() ).toContain( '3 changes waiting to sync' );
		expect( status() ).toContain( 'Last synced 5 minutes ago' );

		await wrapper.find( '[data-testid="sync-button"]' ).trigger( 'click' );
		await settle();
		expect( wrapper.find( '[data-testid="sync-button"] .cdx-progress-indicator' ).exists(), 'spinner' ).toBe( true );
		expect( wrapper.find( '[data-testid="sync-button"]' ).attributes( 'disabled' ) ).toBeDefined();
		expect( status() ).toContain( 'Syncing…' );

		finish();
		await settle();
		expect( status() ).toContain( 'Up to date' );
		expect( status() ).toContain( 'Last synced now' );
		expect( status() ).toContain( 'The server rejected 1 change' );
		expect( wrapper.find( '[data-testid="sync-button"] .cdx-progress-indicator' ).exists() ).toBe( false );
	} );

	it( 'warns loudly when the server identity changed', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, serverUrl: 'https://x.org', user: 'ada' };
		backend.on( 'sync_now', () => {
			backend.sync = { ...backend.sync, lastError: apiError( 'certificate_mismatch', 'expected AB:CD…, got 12:34…' ) };
			throw apiError( 'certificate_mismatch', 'expected AB:CD…, got 12:34…' );
		} );
		const { wrapper } = await mountApp( {
			components: { SyncPanel, SyncErrorBanner },
			template: '<div><sync-panel /><sync-error-banner /></div>'
		} );
		await wrapper.find( '[data-testid="sync-button"]' ).trigger( 'click' );
		await settle();
		expect( wrapper.find( '[data-testid="sync-status"]' ).attributes( 'data-state' ) ).toBe( 'error' );
		const banner = wrapper.find( '[data-testid="sync-error"]' );
		expect( banner.attributes( 'data-error-code' ) ).toBe( 'certificate_mismatch' );
		expect( banner.text() ).toContain( "the server's identity has changed" );
		expect( banner.find( '.cdx-message--error' ).exists() ).toBe( true );
	} );

	it( 'signs out', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, serverUrl: 'https://x.org', user: 'ada' };
		const { wrapper } = await mountApp( SyncPanel );
		await wrapper.find( '[data-testid="sync-signout"]' ).trigger( 'click' );
		await settle();
		expect( backend.calls( 'logout' ) ).toHaveLength( 1 );
		expect( wrapper.find( '[data-testid="sync-signin"]' ).exists() ).toBe( true );
	} );

	it( 'says "offline" with the number of waiting changes when the server cannot be reached', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, user: 'ana', serverUrl: 'https://liaison.example.org', pending: 3, lastError: apiError( 'server_unreachable' ) };
		const { wrapper } = await mountApp( SyncPanel );
		const status = wrapper.find( '[data-testid="sync-status"]' );
		expect( status.attributes( 'data-state' ) ).toBe( 'offline' );
		expect( status.text() ).toContain( 'Offline: 3 changes wait for the server' );
	} );

	it( 'shows the number of open conflicts beside the status, and opens the conflict inbox from it', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, serverUrl: 'https://x.org', user: 'ada' };
		backend.withConflicts( [ makeConflict( { id: 'k-1' } ), makeConflict( { id: 'k-2' } ) ] );
		const { wrapper } = await mountApp( SyncPanel );
		const item = wrapper.find( '[data-testid="conflicts-status"]' );
		expect( item.text() ).toContain( '2 conflicts' );
		expect( wrapper.find( '[data-testid="sync-status"]' ).attributes( 'data-state' ), 'the sync state is unchanged' ).toBe( 'up-to-date' );
		expect( backend.calls( 'list_conflicts' ), 'nothing loaded before the inbox opens' ).toEqual( [] );

		await item.trigger( 'click' );
		await settle();
		expect( document.querySelector( '[data-testid="conflict-inbox"]' ) ).not.toBeNull();
		expect( document.querySelectorAll( '[data-testid="conflict-item"]' ) ).toHaveLength( 2 );

		document.querySelector<HTMLButtonElement>( '[data-testid="conflict-keep-mine"]' )!.click();
		await settle();
		expect( wrapper.find( '[data-testid="conflicts-status"]' ).text() ).toContain( '1 conflict' );
		expect( wrapper.find( '[data-testid="conflicts-status"]' ).text() ).not.toContain( '1 conflicts' );
	} );

	it( 'shows no conflict item when there are none', async () => {
		backend.unlocked();
		backend.sync = { ...backend.sync, loggedIn: true, serverUrl: 'https://x.org', user: 'ada' };
		const { wrapper } = await mountApp( SyncPanel );
		expect( wrapper.find( '[data-testid="conflicts-status"]' ).exists() ).toBe( false );
	} );
} );
