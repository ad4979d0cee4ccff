import { describe, expect, it } from 'vitest';
import { defineComponent, h, inject } from 'vue';
import { directionOf, negotiateLocale } from '@/i18n';
import { mountApp } from '@/test/mount';
import { useI18n } from './useI18n';

describe( 'useI18n', () => {
	it( 'translates with parameters and plurals', () => {
		const { t } = useI18n();
		expect( t( 'liaison-contacts-count', 1, '1' ) ).toBe( '1 contact' );
		expect( t( 'liaison-contacts-count', 500000, '500,000' ) ).toBe( '500,000 contacts' );
	} );

	it( 'switches <html> to right-to-left for Hebrew and falls back to English for missing keys', () => {
		const { t, setLocale, dir } = useI18n();
		setLocale( 'he' );
		expect( document.documentElement.getAttribute( 'dir' ) ).toBe( 'rtl' );
		expect( document.documentElement.getAttribute( 'lang' ) ).toBe( 'he' );
		expect( dir.value ).toBe( 'rtl' );
		expect( t( 'liaison-lock' ), 'translated in he.json' ).toBe( 'נעילה' );
		expect( t( 'liaison-setup-title' ), 'missing in he.json: English' ).toBe( 'Set up Liaison on this computer' );
		setLocale( 'en' );
		expect( document.documentElement.getAttribute( 'dir' ) ).toBe( 'ltr' );
	} );

	it( 'knows the direction of scripts and languages', () => {
		expect( directionOf( 'ar' ) ).toBe( 'rtl' );
		expect( directionOf( 'fa-IR' ) ).toBe( 'rtl' );
		expect( directionOf( 'pt-BR' ) ).toBe( 'ltr' );
		expect( directionOf( 'ku-Arab' ), 'an explicit script wins' ).toBe( 'rtl' );
		expect( directionOf( 'ks-Deva' ) ).toBe( 'ltr' );
	} );

	it( 'negotiates the best available locale', () => {
		expect( negotiateLocale( [ 'he-IL', 'en-US' ] ) ).toBe( 'he' );
		expect( negotiateLocale( [ 'fr-FR' ] ) ).toBe( 'en' );
		expect( negotiateLocale( [] ) ).toBe( 'en' );
	} );

	it( 'formats relative times in the current locale', () => {
		const { formatRelativeTime } = useI18n();
		const now = Date.parse( '2024-05-01T12:00:00Z' );
		expect( formatRelativeTime( '2024-05-01T11:55:00Z', now ) ).toBe( '5 minutes ago' );
		// Regression: a sync that finished after the last tick of `now` read "in 4 seconds".
		expect( formatRelativeTime( '2024-05-01T12:00:04Z', now ) ).toBe( 'now' );
		expect( formatRelativeTime( '2024-04-30T12:00:00Z', now ) ).toBe( 'yesterday' );
		expect( formatRelativeTime( 'not a date', now ) ).toBe( 'not a date' );
	} );

	it( "gives Codex our translations of its own strings, and null for the rest", async () => {
		type CodexI18n = ( key: string, ...params: unknown[] ) => string | null;
		const Probe = defineComponent( {
			setup() {
				const translate = inject<CodexI18n>( 'CdxI18nFunction' )!;
				return () => h( 'p', `${ translate( 'cdx-chip-input-chip-added', 'a@b.org' ) }|${ translate( 'cdx-unknown' ) }` );
			}
		} );
		const { wrapper } = await mountApp( Probe );
		expect( wrapper.text() ).toBe( 'Added a@b.org.|null' );
	} );
} );
