import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { backend, makeCase, makeQueue } from '@/test/fakeBackend';
import { settle } from '@/test/mount';
import { useDeskStore } from './desk';
import { useSyncStore } from './sync';
import { useVaultStore } from './vault';

function desk(): void {
	backend.unlocked().withDesk( {
		queues: [ makeQueue( { id: 'q-en', name: 'info-en' } ) ],
		cases: [ makeCase( { id: 'case-1', queueId: 'q-en', subject: 'Photo licence' } ) ]
	} );
}

describe( 'desk store', () => {
	it( 'asks for the list with the queue, view, sort and trimmed search, restarting only on a real change', async () => {
		desk();
		const store = useDeskStore();
		const before = store.queryVersion;
		store.setQueue( 'q-en' );
		store.setView( 'unanswered' );
		store.setSort( 'due' );
		store.setSearch( ' photo ' );
		store.setSearch( 'photo' );
		expect( store.queryVersion ).toBe( before + 4 );
		await store.fetchPage( 0, 100 );
		expect( backend.calls( 'list_cases' ) ).toEqual( [ {
			query: { queueId: 'q-en', view: 'unanswered', sort: 'due', search: 'photo', state: null },
			offset: 0,
			limit: 100
		} ] );
	} );

	it( 'reloads the queues, the list and the open case when desk rows change', async () => {
		desk();
		await useVaultStore().load();
		const store = useDeskStore();
		await store.loadQueues();
		await store.select( 'case-1' );
		const version = store.dataVersion;
		backend.desk.cases[ 0 ]!.subject = 'Photo licence (CC BY-SA)';
		backend.desk.cases.push( makeCase( { queueId: 'q-en', awaitingSince: '2024-06-03T09:00:00Z' } ) );
		backend.changed( [ 'case' ] );
		await settle();
		expect( store.dataVersion ).toBe( version + 1 );
		expect( store.queues[ 0 ]!.open ).toBe( 2 );
		expect( store.selected?.subject ).toBe( 'Photo licence (CC BY-SA)' );

		backend.changed( [ 'contact' ] );
		await settle();
		expect( store.dataVersion, 'other rows are not the desk\'s business' ).toBe( version + 1 );
	} );

	it( 'takes a case for the signed-in user', async () => {
		desk();
		backend.signedIn( 'grace' );
		await useSyncStore().refresh();
		const store = useDeskStore();
		await store.select( 'case-1' );
		await store.take( 'case-1' );
		expect( backend.calls( 'assign_case' ) ).toEqual( [ { id: 'case-1', owner: 'grace' } ] );
		expect( store.selected?.owner ).toBe( 'grace' );
	} );

	it( 'says which case and action failed', async () => {
		desk();
		const store = useDeskStore();
		expect( await store.setState( 'case-1', 'archived' ) ).toBeNull();
		expect( store.actionError ).toMatchObject( { caseId: 'case-1', action: 'state', error: { code: 'invalid_input' } } );
	} );

	it( 'forgets everything when the vault locks', async () => {
		desk();
		const store = useDeskStore();
		const vault = useVaultStore();
		await vault.load();
		await store.loadQueues();
		await store.select( 'case-1' );
		store.setSearch( 'photo' );
		await vault.lock();
		await nextTick();
		expect( store.selected ).toBeNull();
		expect( store.queues ).toEqual( [] );
		expect( store.search ).toBe( '' );
	} );
} );
