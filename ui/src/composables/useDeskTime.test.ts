import { describe, expect, it } from 'vitest';
import { useDeskTime } from './useDeskTime';

const NOW = Date.parse( '2024-06-04T12:00:00Z' );
const MIN = 60_000;

describe( 'useDeskTime', () => {
	it( 'says how long in minutes, hours or days, rounded down', () => {
		const { duration } = useDeskTime();
		expect( duration( 20 * 1000 ), 'never "0 min"' ).toBe( '1 min' );
		expect( duration( 40 * MIN + 50 * 1000 ) ).toBe( '40 min' );
		expect( duration( 150 * MIN ) ).toBe( '2 h' );
		expect( duration( 47 * 60 * MIN ) ).toBe( '47 h' );
		expect( duration( 3 * 24 * 60 * MIN ) ).toBe( '3 d' );
	} );

	it( 'says whether a due time has passed, and by how much', () => {
		const { due } = useDeskTime();
		expect( due( '2024-06-04T10:00:00Z', NOW ) ).toEqual( { state: 'overdue', text: 'overdue 2 h' } );
		expect( due( '2024-06-04T12:40:00Z', NOW ) ).toEqual( { state: 'due', text: 'due in 40 min' } );
		expect( due( null, NOW ) ).toBeNull();
	} );

	it( 'tells the age of a wait, and writes due times with their time zone', () => {
		const { since, localTime } = useDeskTime();
		expect( since( '2024-06-04T09:00:00Z', NOW ) ).toBe( '3 h' );
		expect( since( null, NOW ) ).toBeNull();
		const text = localTime( '2024-06-04T14:00:00Z' );
		expect( text ).toMatch( /Jun/ );
		expect( text, 'the zone is named, so nobody misreads UTC as local' ).toMatch( /UTC|GMT|[A-Z]{3,4}/ );
	} );
} );
