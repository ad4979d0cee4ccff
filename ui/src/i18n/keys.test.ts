/**
 * Every message key used in the source exists in en.json and is documented in
 * qqq.json, and every key in en.json is used somewhere: a scan of src/ for single-quoted
 * `liaison-…` and `cdx-…` literals (BEM class names with `--` or `__` are not keys).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Banana from 'banana-i18n';
import { describe, expect, it } from 'vitest';
import en from '../../i18n/en.json';
import he from '../../i18n/he.json';
import qqq from '../../i18n/qqq.json';

const SRC = join( __dirname, '..' );

function sourceFiles( dir: string ): string[] {
	return readdirSync( dir ).flatMap( ( name ) => {
		const path = join( dir, name );
		if ( statSync( path ).isDirectory() ) {
			return sourceFiles( path );
		}
		return /\.(ts|vue)$/.test( name ) && !/\.test\.ts$/.test( name ) && !path.includes( `${ join( 'src', 'test' ) }` ) ? [ path ] : [];
	} );
}

function usedKeys(): Map<string, string> {
	const used = new Map<string, string>();
	for ( const file of sourceFiles( SRC ) ) {
		const text = readFileSync( file, 'utf8' );
		for ( const match of text.matchAll( /'((?:liaison|cdx)-[a-z0-9-]+)'/g ) ) {
			const key = match[ 1 ]!;
			if ( !key.includes( '--' ) && !key.includes( '__' ) && !key.endsWith( '-' ) ) {
				used.set( key, relative( SRC, file ) );
			}
		}
	}
	return used;
}

const keys = ( messages: object ): string[] => Object.keys( messages ).filter( ( k ) => k !== '@metadata' );
// Strings that look like keys but are not messages (ids, CSS classes, store names, events).
const NOT_MESSAGES = new Set( [
	'liaison-ui'
] );

describe( 'message catalogue', () => {
	const used = usedKeys();
	const messageKeys = new Set( keys( en ) );

	it( 'finds a plausible number of keys in the source (the scanner works)', () => {
		expect( used.size ).toBeGreaterThan( 50 );
	} );

	it( 'has every key used in src/ in en.json', () => {
		const missing = [ ...used ].filter( ( [ key ] ) => !messageKeys.has( key ) && !NOT_MESSAGES.has( key ) )
			.map( ( [ key, file ] ) => `${ key } (${ file })` );
		expect( missing, 'keys used in the source but missing from i18n/en.json' ).toEqual( [] );
	} );

	it( 'uses every key in en.json somewhere in src/', () => {
		const unused = [ ...messageKeys ].filter( ( key ) => !used.has( key ) );
		expect( unused, 'keys in i18n/en.json that no source file uses' ).toEqual( [] );
	} );

	it( 'documents exactly the keys of en.json in qqq.json', () => {
		expect( keys( qqq ).sort() ).toEqual( [ ...messageKeys ].sort() );
		for ( const [ key, doc ] of Object.entries( qqq ) ) {
			if ( key !== '@metadata' ) {
				expect( typeof doc === 'string' && doc.length > 10, `qqq for ${ key } is too thin` ).toBe( true );
			}
		}
	} );

	it( 'has only known keys in translations', () => {
		expect( keys( he ).filter( ( k ) => !messageKeys.has( k ) ) ).toEqual( [] );
	} );

	it( 'has translatewiki.net metadata in every file', () => {
		for ( const file of [ en, qqq, he ] ) {
			expect( file ).toHaveProperty( '@metadata' );
		}
	} );

	it( 'parses every message (PLURAL syntax, no stray markup)', () => {
		for ( const [ locale, messages ] of [ [ 'en', en ], [ 'he', he ] ] as const ) {
			const banana = new Banana( locale, { messages: { [ locale ]: messages } } );
			for ( const key of keys( messages ) ) {
				const text = banana.i18n( key, 3, '3', 'x' );
				expect( text, `${ locale }:${ key }` ).not.toMatch( /\{\{|\}\}|<[a-z]/i );
			}
		}
	} );
} );
