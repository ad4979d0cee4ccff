/**
 * The folder rules from the architecture notes, checked on the source text:
 * only src/api talks to Tauri; components/shared knows no domain; components and
 * views reach the backend only through stores (never the api wrappers' calls);
 * nothing renders HTML from strings.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join( __dirname, '..' );

function files( dir: string ): string[] {
	return readdirSync( dir ).flatMap( ( name ) => {
		const path = join( dir, name );
		return statSync( path ).isDirectory() ? files( path ) : /\.(ts|vue)$/.test( name ) ? [ path ] : [];
	} );
}

const sources = files( SRC )
	.filter( ( f ) => !f.endsWith( '.test.ts' ) && !f.includes( `${ sep }test${ sep }` ) )
	.map( ( f ) => ( { path: relative( SRC, f ).split( sep ).join( '/' ), text: readFileSync( f, 'utf8' ) } ) );

function importsOf( text: string ): string[] {
	return [ ...text.matchAll( /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g ) ]
		.map( ( m ) => m[ 1 ] ?? m[ 2 ] ?? '' );
}

describe( 'layering', () => {
	it( 'lets only src/api import @tauri-apps/api', () => {
		const offenders = sources
			.filter( ( s ) => !s.path.startsWith( 'api/' ) )
			.filter( ( s ) => importsOf( s.text ).some( ( i ) => i.startsWith( '@tauri-apps/' ) ) )
			.map( ( s ) => s.path );
		expect( offenders ).toEqual( [] );
	} );

	it( 'keeps components/shared free of domain code', () => {
		const offenders = sources
			.filter( ( s ) => s.path.startsWith( 'components/shared/' ) )
			.filter( ( s ) => importsOf( s.text ).some( ( i ) =>
				/^@\/(stores|views)|^@\/components\/(?!shared)|useContactForm/.test( i ) ) )
			.map( ( s ) => s.path );
		expect( offenders ).toEqual( [] );
	} );

	it( 'keeps components and views away from the command wrappers', () => {
		const offenders = sources
			.filter( ( s ) => /^(components|views)\//.test( s.path ) )
			.filter( ( s ) => /\b(vaultApi|contactsApi|syncApi|conflictsApi|deskApi)\b|\bcall\(/.test( s.text ) ||
				importsOf( s.text ).some( ( i ) => i.startsWith( '@/api/transport' ) ) )
			.map( ( s ) => s.path );
		expect( offenders ).toEqual( [] );
	} );

	it( 'never renders strings as HTML', () => {
		const offenders = sources.filter( ( s ) => /\sv-html=|\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML\(/.test( s.text ) ).map( ( s ) => s.path );
		expect( offenders ).toEqual( [] );
	} );

	it( 'shows HTML (a formatted mail) only in an iframe with an empty sandbox', () => {
		const offenders = sources.flatMap( ( s ) => {
			const frames = [ ...s.text.matchAll( /<iframe\b[^>]*>/g ) ].map( ( m ) => m[ 0 ] );
			const bad = frames.filter( ( tag ) => !/\ssandbox=""/.test( tag ) || /allow-|:sandbox=|v-bind/.test( tag ) );
			// Nor is a frame's document set from a script, past the template's sandbox.
			const scripted = /\.srcdoc\s*=|setAttribute\(\s*['"](srcdoc|sandbox)['"]|\.sandbox\b/.test( s.text );
			return bad.length || scripted ? [ s.path ] : [];
		} );
		expect( offenders ).toEqual( [] );
	} );

	it( 'keeps bindings.ts to type declarations only (it will be generated)', () => {
		const bindings = sources.find( ( s ) => s.path === 'api/bindings.ts' );
		// Doc comments (`/** … */`, from the Rust docs) may sit inside a declaration; every
		// statement, from its first line to the one ending in `;`, is an `export type`.
		const code = bindings!.text.replace( /\/\*[\s\S]*?\*\//g, '' ).split( '\n' )
			.filter( ( line ) => line.trim() && !line.startsWith( '//' ) );
		const statements: string[] = [];
		let current = '';
		for ( const line of code ) {
			current += `${ line.trim() } `;
			if ( line.trimEnd().endsWith( ';' ) ) {
				statements.push( current.trim() );
				current = '';
			}
		}
		expect( current.trim(), 'a statement without its closing `;`' ).toBe( '' );
		expect( statements.filter( ( s ) => !/^export type \w+ = [^;]*;$/.test( s ) ) ).toEqual( [] );
	} );
} );
