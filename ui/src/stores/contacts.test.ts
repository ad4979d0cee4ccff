import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { apiError, backend, makeContact } from '@/test/fakeBackend';
import { useContactsStore } from './contacts';
import { useVaultStore } from './vault';

describe( 'contacts store', () => {
	it( 'lists without a query and searches with one', async () => {
		backend.unlocked( [ makeContact( { displayName: 'Ada Lovelace' } ) ] );
		const contacts = useContactsStore();
		expect( ( await contacts.fetchPage( 0, 200 ) ).total ).toBe( 1 );
		contacts.setQuery( '  lov ' );
		await contacts.fetchPage( 0, 200 );
		expect( backend.calls( 'list_contacts' ) ).toEqual( [ { offset: 0, limit: 200 } ] );
		expect( backend.calls( 'search_contacts' ), 'query trimmed' ).toEqual( [ { query: 'lov', offset: 0, limit: 200 } ] );
	} );

	it( 'restarts the list only when the query really changes', () => {
		const contacts = useContactsStore();
		const before = contacts.queryVersion;
		contacts.setQuery( 'ada' );
		contacts.setQuery( 'ada ' );
		expect( contacts.queryVersion ).toBe( before + 1 );
	} );

	it( 'keeps the newest selection when answers arrive out of order', async () => {
		backend.unlocked( [ makeContact( { id: 'a', displayName: 'A' } ), makeContact( { id: 'b', displayName: 'B' } ) ] );
		const contacts = useContactsStore();
		const first = contacts.select( 'a' );
		const second = contacts.select( 'b' );
		await Promise.all( [ first, second ] );
		expect( contacts.selected?.id ).toBe( 'b' );
	} );

	it( 'reports a save failure and keeps nothing half-done', async () => {
		backend.unlocked();
		backend.on( 'create_contact', () => {
			throw apiError( 'invalid_input', 'emails[0]: not an address' );
		} );
		const contacts = useContactsStore();
		const result = await contacts.save( null, {
			displayName: 'Ada', emails: [ 'x' ], phones: [], wikiUser: null, ircNick: null,
			language: null, organization: null, tags: [], notes: null, restricted: false
		} );
		expect( result ).toBeNull();
		expect( contacts.saveError?.code ).toBe( 'invalid_input' );
		expect( contacts.selected ).toBeNull();
	} );

	it( 'forgets the selected contact and the query when the vault locks', async () => {
		backend.unlocked( [ makeContact( { id: 'a' } ) ] );
		const vault = useVaultStore();
		await vault.load();
		const contacts = useContactsStore();
		contacts.setQuery( 'ada' );
		await contacts.select( 'a' );
		await vault.lock();
		await nextTick();
		expect( contacts.selected ).toBeNull();
		expect( contacts.query ).toBe( '' );
	} );
} );
