import { describe, expect, it } from 'vitest';
import en from '../../i18n/en.json';
import type { ErrorCode } from './bindings';
import {
	ERROR_ACTIONS,
	ERROR_CODES,
	ERROR_SEVERITIES,
	ERROR_TABLE,
	describeError,
	isApiError,
	toApiError
} from './errors';

// Written out from bindings.ts on purpose: `satisfies Record<ErrorCode, true>` makes this
// literal fail to compile when the generated union gains or loses a member.
const UNION: Record<ErrorCode, true> = {
	invalid_input: true,
	not_found: true,
	bad_credentials: true,
	unauthenticated: true,
	device_revoked: true,
	forbidden: true,
	erased: true,
	resync_required: true,
	upgrade_required: true,
	payload_too_large: true,
	rate_limited: true,
	locked: true,
	wrong_passphrase: true,
	corrupt_database: true,
	no_vault: true,
	vault_exists: true,
	keychain_unavailable: true,
	server_unreachable: true,
	certificate_mismatch: true,
	bad_response: true,
	not_logged_in: true,
	unavailable: true,
	internal: true
} satisfies Record<ErrorCode, true>;

describe( 'error table', () => {
	it( 'lists every ErrorCode exactly once', () => {
		expect( [ ...ERROR_CODES ].sort(), 'ERROR_CODES must equal the ErrorCode union' )
			.toEqual( Object.keys( UNION ).sort() );
		expect( new Set( ERROR_CODES ).size ).toBe( ERROR_CODES.length );
	} );

	it.each( Object.keys( UNION ) as ErrorCode[] )( 'maps %s to an existing message, a severity and an action', ( code ) => {
		const info = ERROR_TABLE[ code ];
		expect( info, `no table entry for ${ code }` ).toBeDefined();
		expect( Object.keys( en ), `${ info.messageKey } missing from en.json` ).toContain( info.messageKey );
		expect( ERROR_SEVERITIES ).toContain( info.severity );
		expect( ERROR_ACTIONS ).toContain( info.action );
	} );

	it( 'has no entries for codes outside the union', () => {
		expect( Object.keys( ERROR_TABLE ).sort() ).toEqual( Object.keys( UNION ).sort() );
	} );

	it( 'treats a changed server identity as a hard error, and locked as a route to unlock', () => {
		expect( describeError( { code: 'certificate_mismatch', message: '' } ).severity ).toBe( 'error' );
		expect( describeError( { code: 'locked', message: '' } ).action ).toBe( 'unlock' );
	} );
} );

describe( 'toApiError', () => {
	it( 'passes a well-formed backend error through', () => {
		expect( toApiError( { code: 'not_found', message: 'gone' } ) ).toEqual( { code: 'not_found', message: 'gone' } );
	} );

	it( 'turns anything else into internal, keeping the text as detail', () => {
		expect( toApiError( 'command foo not found' ) ).toEqual( { code: 'internal', message: 'command foo not found' } );
		expect( toApiError( new TypeError( 'window.__TAURI_INTERNALS__ is undefined' ) ).code ).toBe( 'internal' );
		expect( toApiError( { code: 'made_up', message: 'x' } ).code, 'unknown codes must not pass' ).toBe( 'internal' );
		expect( isApiError( { code: 'locked' } ), 'message is required' ).toBe( false );
	} );
} );
