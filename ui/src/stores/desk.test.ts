import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { backend, makeCase, makeMessage, makeQueue } from '@/test/fakeBackend';
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

	it( 'makes the survivor of a merge the open case and asks the desk to go there', async () => {
		desk();
		backend.desk.cases.push( makeCase( { id: 'case-2', number: 2, queueId: 'q-en', subject: 'Photo licence again' } ) );
		const store = useDeskStore();
		await store.select( 'case-2' );
		const survivor = await store.mergeCase( 'case-2', 'case-1' );
		expect( survivor?.merged.map( ( c ) => c.id ) ).toEqual( [ 'case-2' ] );
		expect( store.selected?.id, 'the case that remains is shown at once' ).toBe( 'case-1' );
		expect( store.openRequest, 'and the desk is asked to go to it, in its queue' ).toEqual( { id: 'case-1', queueId: 'q-en' } );
		expect( store.mergeError ).toBeNull();
	} );

	it( 'keeps the open case and says why when a merge is refused', async () => {
		desk();
		const store = useDeskStore();
		await store.select( 'case-1' );
		expect( await store.mergeCase( 'case-1', 'case-1' ) ).toBeNull();
		expect( store.mergeError ).toEqual( { code: 'invalid_input', message: 'A case cannot be merged into itself; choose the case it repeats.' } );
		expect( store.selected?.id ).toBe( 'case-1' );
		expect( store.openRequest ).toBeNull();
	} );

	it( 'cannot send in a merged case: the backend\'s refusal names the case to write in', async () => {
		desk();
		backend.desk.cases[ 0 ]!.number = 1;
		backend.desk.cases.push( makeCase( { id: 'case-2', number: 2, queueId: 'q-en', mergedInto: 'case-1', state: 'closed' } ) );
		const store = useDeskStore();
		expect( await store.send( 'case-2', 'reply', 'Hello' ) ).toBeNull();
		expect( store.sendError ).toEqual( {
			code: 'invalid_input',
			message: 'Case #2 was merged into case #1: it takes no new messages. Write in case #1 instead.'
		} );
		expect( await store.logMessage( 'case-2', { kind: 'inbound', channel: 'phone', body: 'Hi', link: null, sentAt: null } ) ).toBeNull();
		expect( store.logError?.code, 'nor record anything in it' ).toBe( 'invalid_input' );
	} );

	it( 'says which link failed to go, and that it was a removal', async () => {
		desk();
		backend.desk.cases.push( makeCase( { id: 'case-2', number: 2, queueId: 'q-en' } ) );
		const store = useDeskStore();
		expect( await store.relateCases( 'case-1', 'case-2', true ) ).toBeNull();
		expect( store.relateError ).toMatchObject( { caseId: 'case-1', other: 'case-2', remove: true, error: { code: 'not_found' } } );
	} );

	it( 'shows a recorded interaction in the open case at once', async () => {
		desk();
		const store = useDeskStore();
		await store.select( 'case-1' );
		const input = { kind: 'inbound', channel: 'wiki', body: 'See my comment.', link: 'https://en.wikipedia.org/w/index.php?diff=9', sentAt: null };
		expect( await store.logMessage( 'case-1', input ) ).not.toBeNull();
		expect( store.selected?.messages.map( ( m ) => [ m.channel, m.body, m.link ] ) ).toEqual( [ [ 'wiki', 'See my comment.', input.link ] ] );
	} );

	it( 'finds cases in every queue by #number for a picker, and nothing for an empty search', async () => {
		desk();
		backend.desk.cases[ 0 ]!.number = 1234;
		const store = useDeskStore();
		expect( ( await store.findCases( ' #1234 ' ) ).map( ( r ) => r.id ) ).toEqual( [ 'case-1' ] );
		expect( await store.findCases( '   ' ) ).toEqual( [] );
		expect( backend.calls( 'list_cases' ), 'an empty search asks nothing' ).toHaveLength( 1 );
	} );

	it( 'reloads the open case when a sync brings only links (case_link)', async () => {
		desk();
		backend.desk.cases.push( makeCase( { id: 'case-2', number: 2, queueId: 'q-en' } ) );
		await useVaultStore().load();
		const store = useDeskStore();
		await store.select( 'case-1' );
		backend.desk.cases[ 1 ]!.links = [ 'case-1' ];
		backend.emit( 'data-changed', { entities: [ 'case_link' ] } );
		await settle();
		expect( store.selected?.links.map( ( c ) => c.id ), 'a link is a desk row like the others' ).toEqual( [ 'case-2' ] );
	} );

	it( 'asks for a mail\'s formatted version once per message, and again only after a failure', async () => {
		desk();
		backend.desk.cases[ 0 ]!.messages = [ makeMessage( { id: 'm-1', formatted: true } ), makeMessage( { id: 'm-2' } ) ];
		backend.desk.formattedHtml.set( 'm-1', '<p>Hello</p>' );
		const store = useDeskStore();
		const [ first, second ] = await Promise.all( [ store.formattedOf( 'm-1' ), store.formattedOf( 'm-1' ) ] );
		expect( [ first, second ] ).toEqual( [ '<p>Hello</p>', '<p>Hello</p>' ] );
		expect( await store.formattedOf( 'm-2' ), 'a mail without HTML has none' ).toBeNull();
		await store.formattedOf( 'm-2' );
		expect( backend.calls( 'message_formatted' ), 'each message asked once' ).toEqual( [ { messageId: 'm-1' }, { messageId: 'm-2' } ] );

		await expect( store.formattedOf( 'm-unknown' ) ).rejects.toMatchObject( { code: 'not_found' } );
		backend.desk.cases[ 0 ]!.messages.push( makeMessage( { id: 'm-unknown' } ) );
		expect( await store.formattedOf( 'm-unknown' ), 'a failure is not kept: the next call asks again' ).toBeNull();
	} );

	it( 'opens a link through the backend, and says which one failed and where', async () => {
		desk();
		const store = useDeskStore();
		expect( await store.openLink( 'https://en.wikipedia.org/wiki/Ada_Lovelace', 'message:m-1' ) ).toBe( true );
		expect( backend.desk.openedLinks ).toEqual( [ 'https://en.wikipedia.org/wiki/Ada_Lovelace' ] );
		expect( store.linkError ).toBeNull();

		expect( await store.openLink( 'javascript:alert(1)', 'message:m-2' ) ).toBe( false );
		expect( store.linkError ).toEqual( {
			url: 'javascript:alert(1)',
			from: 'message:m-2',
			error: { code: 'invalid_input', message: 'Only web addresses (http or https) are opened from the app.' }
		} );
		expect( backend.desk.openedLinks, 'nothing else was opened' ).toHaveLength( 1 );
		await store.openLink( 'https://example.org/' );
		expect( store.linkError, 'the next link that opens takes the error away' ).toBeNull();
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

	it( 'forgets the formatted mail it read when the vault locks', async () => {
		desk();
		backend.desk.cases[ 0 ]!.messages = [ makeMessage( { id: 'm-1', formatted: true } ) ];
		backend.desk.formattedHtml.set( 'm-1', '<p>Private</p>' );
		const store = useDeskStore();
		const vault = useVaultStore();
		await vault.load();
		await store.formattedOf( 'm-1' );
		await vault.lock();
		await nextTick();
		await vault.unlock( 'correct horse' );
		await nextTick();
		expect( await store.formattedOf( 'm-1' ) ).toBe( '<p>Private</p>' );
		expect( backend.calls( 'message_formatted' ), 'read again after the lock, not kept in memory' ).toHaveLength( 2 );
	} );
} );
