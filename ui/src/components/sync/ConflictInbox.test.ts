import { describe, expect, it } from 'vitest';
import { apiError, backend, makeConflict, makeContact } from '@/test/fakeBackend';
import { mountApp, settle } from '@/test/mount';
import { useContactsStore } from '@/stores/contacts';
import { useSyncStore } from '@/stores/sync';
import ConflictInbox from './ConflictInbox.vue';

async function openInbox(): Promise<HTMLElement[]> {
	await mountApp( ConflictInbox, { props: { open: true } } );
	await settle();
	return items();
}

function items(): HTMLElement[] {
	return [ ...document.querySelectorAll<HTMLElement>( '[data-testid="conflict-item"]' ) ];
}

function part( item: HTMLElement, testid: string ): HTMLElement {
	const element = item.querySelector<HTMLElement>( `[data-testid="${ testid }"]` );
	if ( !element ) {
		throw new Error( `no ${ testid } in this conflict` );
	}
	return element;
}

async function press( item: HTMLElement, testid: string ): Promise<void> {
	part( item, testid ).click();
	await settle();
}

describe( 'conflict inbox', () => {
	it( 'shows my version and theirs side by side, with authors, times and which one was kept', async () => {
		backend.unlocked().withConflicts( [ makeConflict( {
			contactName: 'Ada Lovelace',
			field: 'organization',
			mineIsOwn: true,
			mineWasKept: false,
			mine: { text: 'Old Co', user: 'ada', writtenAt: '2024-05-02T10:00:00Z' },
			theirs: { text: 'New Co', user: 'grace', writtenAt: '2024-05-02T10:05:00Z' }
		} ) ] );
		const [ item ] = await openInbox();
		expect( document.querySelector( '[data-testid="conflict-inbox"]' ) ).not.toBeNull();
		expect( item!.dataset.kind ).toBe( 'field' );
		expect( item!.textContent ).toContain( 'Ada Lovelace' );
		expect( part( item!, 'conflict-subject' ).textContent ).toBe( 'Organisation' );

		const mine = part( item!, 'conflict-mine' );
		const theirs = part( item!, 'conflict-theirs' );
		expect( mine.textContent ).toContain( 'Yours' );
		expect( mine.textContent ).toContain( 'Old Co' );
		expect( mine.textContent ).toContain( 'By ada' );
		expect( mine.querySelector( 'time' )?.getAttribute( 'datetime' ) ).toBe( '2024-05-02T10:00:00Z' );
		expect( theirs.textContent ).toContain( 'Theirs' );
		expect( theirs.textContent ).toContain( 'New Co' );
		expect( theirs.textContent ).toContain( 'By grace' );
		expect( mine.dataset.kept ).toBe( 'false' );
		expect( theirs.dataset.kept, 'the record holds their version now' ).toBe( 'true' );
		expect( theirs.querySelector( '[data-testid="conflict-kept"]' )?.textContent ).toContain( 'Kept' );
		expect( mine.querySelector( '[data-testid="conflict-kept"]' ) ).toBeNull();
		expect( part( item!, 'conflict-keep-mine' ).textContent ).toContain( 'Keep mine' );
		expect( part( item!, 'conflict-keep-theirs' ).textContent ).toContain( 'Keep theirs' );
	} );

	it( 'calls the sides "Current value" and "Other value" when someone else wrote both', async () => {
		backend.unlocked().withConflicts( [ makeConflict( {
			mineIsOwn: false,
			mineWasKept: true,
			mine: { user: 'grace' },
			theirs: { user: 'linus' }
		} ) ] );
		const [ item ] = await openInbox();
		const mine = part( item!, 'conflict-mine' );
		expect( mine.textContent ).toContain( 'Current value' );
		expect( mine.textContent ).toContain( 'By grace' );
		expect( mine.dataset.kept ).toBe( 'true' );
		expect( part( item!, 'conflict-theirs' ).textContent ).toContain( 'Other value' );
		expect( item!.textContent ).not.toContain( 'Yours' );
		expect( part( item!, 'conflict-keep-mine' ).textContent ).toContain( 'Keep current value' );
		expect( part( item!, 'conflict-keep-theirs' ).textContent ).toContain( 'Keep other value' );
	} );

	it( 'keeps mine with resolve_conflict, then the conflict leaves and the count drops', async () => {
		backend.unlocked( [ makeContact( { id: 'c-1' } ) ] ).withConflicts( [ makeConflict( { id: 'k-1' } ) ] );
		const sync = useSyncStore();
		await sync.refresh();
		const contacts = useContactsStore();
		const before = contacts.dataVersion;
		const [ item ] = await openInbox();
		await press( item!, 'conflict-keep-mine' );
		expect( backend.calls( 'resolve_conflict' ) ).toEqual( [ { id: 'k-1', keep: 'mine', value: null } ] );
		expect( items() ).toHaveLength( 0 );
		expect( document.querySelector( '[data-testid="conflicts-empty"]' ) ).not.toBeNull();
		expect( sync.status?.conflicts ).toBe( 0 );
		expect( contacts.dataVersion ).toBe( before + 1 );
	} );

	it( 'keeps theirs with resolve_conflict', async () => {
		backend.unlocked().withConflicts( [ makeConflict( { id: 'k-1' } ) ] );
		const [ item ] = await openInbox();
		await press( item!, 'conflict-keep-theirs' );
		expect( backend.calls( 'resolve_conflict' ) ).toEqual( [ { id: 'k-1', keep: 'theirs', value: null } ] );
	} );

	it( 'edits: a field prefilled with mine, and Save sends the typed value', async () => {
		backend.unlocked().withConflicts( [ makeConflict( { id: 'k-1', field: 'tags', mine: { text: 'press, math' } } ) ] );
		const [ item ] = await openInbox();
		await press( item!, 'conflict-edit' );
		const input = part( item!, 'conflict-edit-input' ) as HTMLInputElement;
		expect( input.value ).toBe( 'press, math' );
		expect( item!.textContent, 'a list field says how to separate items' ).toContain( 'Separate the items with commas.' );
		input.value = 'press, math, history';
		input.dispatchEvent( new Event( 'input' ) );
		await settle();
		await press( item!, 'conflict-edit-save' );
		expect( backend.calls( 'resolve_conflict' ) ).toEqual( [ { id: 'k-1', keep: 'value', value: 'press, math, history' } ] );
		expect( items() ).toHaveLength( 0 );
	} );

	it( 'shows a refusal inside the conflict it concerns, and keeps that conflict', async () => {
		backend.unlocked().withConflicts( [ makeConflict( { id: 'k-1' } ), makeConflict( { id: 'k-2', field: 'notes' } ) ] );
		backend.on( 'resolve_conflict', () => {
			throw apiError( 'not_found', 'The record this conflict is about was deleted since' );
		} );
		const [ first, second ] = await openInbox();
		await press( second!, 'conflict-keep-theirs' );
		const error = part( second!, 'conflict-error' );
		expect( error.getAttribute( 'data-error-code' ) ).toBe( 'not_found' );
		expect( error.textContent ).toContain( 'was deleted since' );
		expect( first!.querySelector( '[data-testid="conflict-error"]' ), 'only the conflict concerned' ).toBeNull();
		expect( items() ).toHaveLength( 2 );
	} );

	it( 'offers "Keep the delete" and "Restore as a new record" for a record deleted while it was changed', async () => {
		backend.unlocked().withConflicts( [ makeConflict( {
			id: 'k-1',
			kind: 'delete',
			field: null,
			contactName: null,
			mineIsOwn: true,
			mineWasKept: false,
			mine: { text: null, fields: [ { name: 'display_name', text: 'Ada King' }, { name: 'organization', text: 'Royal Society' } ] },
			theirs: { text: null, fields: [] }
		} ) ] );
		const [ item ] = await openInbox();
		expect( item!.dataset.kind ).toBe( 'delete' );
		expect( item!.textContent ).toContain( 'A contact no longer on this device' );
		expect( part( item!, 'conflict-subject' ).textContent ).toBe( 'Contact deleted while it was being changed' );
		expect( part( item!, 'conflict-theirs' ).textContent ).toContain( 'Deleted' );
		const change = part( item!, 'conflict-mine' ).textContent;
		expect( change ).toContain( 'Name' );
		expect( change ).toContain( 'Ada King' );
		expect( change ).toContain( 'Organisation' );
		expect( item!.querySelector( '[data-testid="conflict-edit"]' ), 'a delete has no value to type' ).toBeNull();
		expect( item!.querySelector( '[data-testid="conflict-keep-mine"]' ) ).toBeNull();

		backend.on( 'resolve_conflict', () => {
			throw apiError( 'invalid_input', 'try again' );
		} );
		await press( item!, 'conflict-keep-delete' );
		await press( item!, 'conflict-restore' );
		expect( backend.calls( 'resolve_conflict' ) ).toEqual( [
			{ id: 'k-1', keep: 'theirs', value: null },
			{ id: 'k-1', keep: 'mine', value: null }
		] );
	} );

	it( 'renders values from other people as text', async () => {
		backend.unlocked().withConflicts( [ makeConflict( {
			contactName: '<img src=x onerror="window.__pwned = 1">',
			mine: { text: '<script>window.__pwned = 1</script>', user: '<b>ada</b>' }
		} ) ] );
		const [ item ] = await openInbox();
		expect( item!.querySelectorAll( 'img, script, b' ) ).toHaveLength( 0 );
		expect( part( item!, 'conflict-mine' ).textContent ).toContain( '<script>window.__pwned = 1</script>' );
	} );

	it( 'says what conflicts are when there are none', async () => {
		backend.unlocked();
		await openInbox();
		expect( document.querySelector( '[data-testid="conflicts-empty"]' )?.textContent )
			.toContain( 'When two people change the same thing at the same time, Liaison shows both versions here.' );
	} );
} );
