import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { apiError, backend, makeConflict, makeContact } from '@/test/fakeBackend';
import { useConflictsStore } from './conflicts';
import { useContactsStore } from './contacts';
import { useSyncStore } from './sync';
import { useVaultStore } from './vault';

describe( 'conflicts store', () => {
	it( 'loads the open conflicts, oldest first, without resolved ones', async () => {
		backend.unlocked().withConflicts( [
			makeConflict( { id: 'k-1' } ),
			makeConflict( { id: 'k-2', resolution: 'kept_mine', resolvedBy: 'ada', resolvedAt: '2024-05-03T00:00:00Z' } ),
			makeConflict( { id: 'k-3', kind: 'delete', field: null } )
		] );
		const conflicts = useConflictsStore();
		await conflicts.load();
		expect( backend.calls( 'list_conflicts' ) ).toEqual( [ { includeResolved: false } ] );
		expect( conflicts.conflicts.map( ( c ) => c.id ) ).toEqual( [ 'k-1', 'k-3' ] );
		expect( conflicts.loading ).toBe( false );
		expect( conflicts.error ).toBeNull();
	} );

	it( 'keeps a load failure for the inbox to show', async () => {
		backend.unlocked();
		backend.on( 'list_conflicts', () => {
			throw apiError( 'corrupt_database' );
		} );
		const conflicts = useConflictsStore();
		await conflicts.load();
		expect( conflicts.error?.code ).toBe( 'corrupt_database' );
		expect( conflicts.conflicts ).toEqual( [] );
	} );

	it( 'resolving takes the conflict out of the inbox, reloads contacts and refreshes the sync status', async () => {
		backend.unlocked( [ makeContact( { id: 'c-1', organization: 'New Co' } ) ] )
			.withConflicts( [ makeConflict( { id: 'k-1' } ), makeConflict( { id: 'k-2' } ) ] );
		const sync = useSyncStore();
		await sync.refresh();
		expect( sync.status?.conflicts ).toBe( 2 );
		const contacts = useContactsStore();
		await contacts.select( 'c-1' );
		const before = contacts.dataVersion;
		const conflicts = useConflictsStore();
		await conflicts.load();

		expect( await conflicts.resolve( 'k-1', 'mine' ) ).toBe( true );
		await nextTick();
		await Promise.resolve();

		expect( backend.calls( 'resolve_conflict' ) ).toEqual( [ { id: 'k-1', keep: 'mine', value: null } ] );
		expect( conflicts.conflicts.map( ( c ) => c.id ) ).toEqual( [ 'k-2' ] );
		expect( contacts.dataVersion, 'the list reloads' ).toBe( before + 1 );
		expect( contacts.selected?.organization, 'the shown contact is fetched again' ).toBe( 'Old Co' );
		expect( sync.status?.conflicts, 'the count drops' ).toBe( 1 );
	} );

	it( 'sends a typed value only when keeping a value', async () => {
		backend.unlocked().withConflicts( [ makeConflict( { id: 'k-1' } ), makeConflict( { id: 'k-2' } ) ] );
		const conflicts = useConflictsStore();
		await conflicts.load();
		await conflicts.resolve( 'k-1', 'value', 'Analytical Engines Ltd' );
		await conflicts.resolve( 'k-2', 'theirs', 'ignored' );
		expect( backend.calls( 'resolve_conflict' ) ).toEqual( [
			{ id: 'k-1', keep: 'value', value: 'Analytical Engines Ltd' },
			{ id: 'k-2', keep: 'theirs', value: null }
		] );
	} );

	it( 'keeps a failure with the conflict it concerns, and the conflict in the inbox', async () => {
		backend.unlocked().withConflicts( [ makeConflict( { id: 'k-1' } ), makeConflict( { id: 'k-2' } ) ] );
		const resolveForReal = backend.handlers.resolve_conflict!;
		let refuse = true;
		backend.on( 'resolve_conflict', ( args ) => {
			if ( refuse ) {
				throw apiError( 'forbidden', `not yours: ${ args.id }` );
			}
			return resolveForReal( args );
		} );
		const conflicts = useConflictsStore();
		await conflicts.load();
		expect( await conflicts.resolve( 'k-2', 'theirs' ) ).toBe( false );
		expect( Object.keys( conflicts.resolveErrors ) ).toEqual( [ 'k-2' ] );
		expect( conflicts.resolveErrors[ 'k-2' ]?.code ).toBe( 'forbidden' );
		expect( conflicts.conflicts ).toHaveLength( 2 );
		expect( conflicts.resolving, 'not stuck resolving' ).toEqual( {} );

		refuse = false;
		expect( await conflicts.resolve( 'k-2', 'theirs' ) ).toBe( true );
		expect( conflicts.resolveErrors, 'a successful retry clears the error' ).toEqual( {} );
	} );

	it( 'forgets conflicts, which hold contact data, when the vault locks', async () => {
		backend.unlocked().withConflicts( [ makeConflict( { id: 'k-1' } ) ] );
		backend.on( 'resolve_conflict', () => {
			throw apiError( 'invalid_input' );
		} );
		const vault = useVaultStore();
		await vault.load();
		const conflicts = useConflictsStore();
		await conflicts.load();
		await conflicts.resolve( 'k-1', 'mine' );
		expect( conflicts.conflicts ).toHaveLength( 1 );
		await vault.lock();
		await nextTick();
		expect( conflicts.conflicts ).toEqual( [] );
		expect( conflicts.resolveErrors ).toEqual( {} );
	} );
} );
