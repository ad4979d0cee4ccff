import { describe, expect, it } from 'vitest';
import { fingerprintPairs, isValidServerUrl } from './serverIdentity';

describe( 'fingerprintPairs', () => {
	it( 'groups hex in upper-case pairs whatever the separators', () => {
		expect( fingerprintPairs( 'ab:cd:ef:01' ) ).toEqual( [ 'AB', 'CD', 'EF', '01' ] );
		expect( fingerprintPairs( 'abcdef01' ) ).toEqual( [ 'AB', 'CD', 'EF', '01' ] );
		expect( fingerprintPairs( 'SHA256:AB CD-EF 01' ) ).toEqual( [ 'AB', 'CD', 'EF', '01' ] );
	} );

	it( 'shows anything else unchanged rather than guessing', () => {
		expect( fingerprintPairs( 'not-hex!' ) ).toEqual( [ 'not-hex!' ] );
		expect( fingerprintPairs( 'abc' ) ).toEqual( [ 'abc' ] );
	} );
} );

describe( 'isValidServerUrl', () => {
	it.each( [ 'https://liaison.example.org', 'https://10.0.0.5:8443/', 'https://[::1]:8443' ] )( 'accepts %s', ( url ) => {
		expect( isValidServerUrl( url ) ).toBe( true );
	} );

	it.each( [ 'http://liaison.example.org', 'liaison.example.org', 'https://', 'ftp://x.org', 'https://user:pw@x.org', '' ] )(
		'rejects %s', ( url ) => {
			expect( isValidServerUrl( url ) ).toBe( false );
		} );
} );
