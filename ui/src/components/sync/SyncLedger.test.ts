import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '@/api';
import { apiError, backend } from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';
import { useSyncStore } from '@/stores/sync';
import { useVaultStore } from '@/stores/vault';
import SyncPanel from './SyncPanel.vue';

function entry( overrides: Partial<LedgerEntry> ): LedgerEntry {
	return {
		changeId: crypto.randomUUID(),
		entity: 'contact',
		rowId: crypto.randomUUID(),
		label: 'Ada Lovelace',
		fields: [ 'display_name' ],
		deleted: false,
		created: false,
		state: 'accepted',
		error: null,
		createdAt: '2026-11-24T10:00:00Z',
		updatedAt: '2026-11-24T10:00:05Z',
		...overrides
	};
}

async function openLedger() {
	const { wrapper } = await mountApp( SyncPanel );
	await wrapper.find( '[data-testid="sync-ledger-open"]' ).trigger( 'click' );
	await settle();
	return [ ...document.querySelectorAll<HTMLElement>( '[data-testid="ledger-entry"]' ) ];
}

describe( 'sync ledger', () => {
	it( 'lists changes newest first, each with its state and the change in words', async () => {
		backend.unlocked();
		backend.ledger = [
			entry( { label: 'Old One', state: 'accepted', fields: [ 'organization' ] } ),
			entry( { label: 'New One', state: 'pending', deleted: true, fields: [] } )
		];
		const rows = await openLedger();
		expect( rows.map( ( r ) => r.dataset.state ) ).toEqual( [ 'pending', 'accepted' ] );
		expect( rows[ 0 ]!.textContent ).toContain( 'Contact New One deleted' );
		expect( rows[ 0 ]!.textContent ).toContain( 'Waiting' );
		expect( rows[ 1 ]!.textContent, 'field names are words, not column names' ).toContain( 'Old One: organisation changed' );
		expect( backend.calls( 'sync_ledger' )[ 0 ], 'asks for a bounded number of entries' ).toEqual( { limit: 200 } );
	} );

	it( "shows the server's reason for a refused change, as text", async () => {
		backend.unlocked();
		backend.ledger = [ entry( { state: 'rejected', error: apiError( 'invalid_input', '<img src=x onerror=alert(1)> is not valid' ) } ) ];
		const rows = await openLedger();
		const reason = rows[ 0 ]!.querySelector( '[data-testid="ledger-reason"]' );
		expect( reason?.textContent ).toContain( '<img src=x onerror=alert(1)> is not valid' );
		expect( reason?.querySelector( 'img' ), 'reasons from the server are never rendered as HTML' ).toBeNull();
	} );

	it( 'forgets the ledger, which names contacts, when the vault locks', async () => {
		backend.unlocked();
		backend.ledger = [ entry( { label: 'Secret Person' } ) ];
		await openLedger();
		const sync = useSyncStore();
		expect( sync.ledger ).toHaveLength( 1 );
		await useVaultStore().lock();
		await settle();
		expect( sync.ledger ).toEqual( [] );
	} );

	it( 'names what happened to records other than contacts', async () => {
		backend.unlocked();
		backend.ledger = [
			entry( { entity: 'contact_email', label: 'Ngozi N.', created: true, fields: [ 'address' ] } ),
			entry( { entity: 'case', label: 'Complaint about BLP', created: true } ),
			entry( { entity: 'contact', label: 'Ada', fields: [ 'notes', 'tags' ] } )
		];
		const rows = await openLedger();
		const words = rows.map( ( r ) => r.querySelector( '[data-testid="ledger-what"]' )?.textContent );
		expect( words ).toEqual( [ 'Ada: notes and tags changed', 'Case “Complaint about BLP” opened', 'Email added to Ngozi N.' ] );
	} );

	it( 'says so when nothing was changed yet', async () => {
		backend.unlocked();
		await openLedger();
		expect( document.querySelector( '[data-testid="ledger-empty"]' ) ).not.toBeNull();
	} );
} );
