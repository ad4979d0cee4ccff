/**
 * Message catalogue and current locale, shared by the whole app.
 *
 * Messages live in `ui/i18n/<lang>.json` in translatewiki.net format (`@metadata`,
 * `$1` parameters, `{{PLURAL:…}}`), documented in `qqq.json`. banana-i18n does the
 * formatting and falls back to English for keys a locale lacks. Components use the
 * `useI18n()` composable rather than this module.
 */
import Banana, { type Messages } from 'banana-i18n';
import { ref, type App } from 'vue';

type Catalogue = Record<string, string>;

const files = import.meta.glob<Messages>( '../../i18n/*.json', { eager: true, import: 'default' } );

/** Locale code → messages, without `@metadata` and without the `qqq` documentation pseudo-locale. */
export const catalogues: Readonly<Record<string, Catalogue>> = Object.fromEntries(
	Object.entries( files )
		.map( ( [ path, messages ] ) => [ path.replace( /^.*\/([^/]+)\.json$/, '$1' ), messages ] as const )
		.filter( ( [ locale ] ) => locale !== 'qqq' )
		.map( ( [ locale, messages ] ) => [ locale, stripMetadata( messages ) ] )
);

export const FALLBACK_LOCALE = 'en';

/** Languages written right to left (base subtags), as in MediaWiki's language data. */
const RTL_LANGUAGES = new Set( [
	'ar', 'arc', 'ary', 'arz', 'azb', 'bcc', 'bqi', 'ckb', 'dv', 'fa', 'glk', 'he', 'khw',
	'ks', 'lki', 'lrc', 'luz', 'mzn', 'nqo', 'pnb', 'ps', 'sd', 'sdh', 'skr', 'ug', 'ur', 'yi'
] );

function stripMetadata( messages: Messages ): Catalogue {
	const out: Catalogue = {};
	for ( const [ key, value ] of Object.entries( messages ) ) {
		if ( key !== '@metadata' && typeof value === 'string' ) {
			out[ key ] = value;
		}
	}
	return out;
}

/** Text direction of a BCP-47 locale; an explicit script subtag wins over the language. */
export function directionOf( locale: string ): 'ltr' | 'rtl' {
	const parts = locale.toLowerCase().split( /[-_]/ );
	const script = parts.find( ( part, i ) => i > 0 && part.length === 4 );
	if ( script ) {
		return [ 'arab', 'hebr', 'syrc', 'thaa', 'nkoo', 'adlm', 'rohg' ].includes( script ) ? 'rtl' : 'ltr';
	}
	return RTL_LANGUAGES.has( parts[ 0 ] ?? '' ) ? 'rtl' : 'ltr';
}

/** Best available locale for a list of preferences (exact match, then the base language). */
export function negotiateLocale( preferred: readonly string[] ): string {
	for ( const wanted of preferred ) {
		const exact = Object.keys( catalogues ).find( ( l ) => l.toLowerCase() === wanted.toLowerCase() );
		if ( exact ) {
			return exact;
		}
		const base = wanted.toLowerCase().split( /[-_]/ )[ 0 ];
		if ( base && catalogues[ base ] ) {
			return base;
		}
	}
	return FALLBACK_LOCALE;
}

const banana = new Banana( FALLBACK_LOCALE, { messages: catalogues, finalFallback: FALLBACK_LOCALE } );

/** The current locale; reading it inside a render makes the render locale-reactive. */
export const currentLocale = ref( FALLBACK_LOCALE );

/** Switches the UI language and sets `lang`/`dir` on `<html>` so Codex and our CSS mirror for RTL. */
export function setLocale( locale: string ): void {
	const chosen = catalogues[ locale ] ? locale : negotiateLocale( [ locale ] );
	banana.setLocale( chosen );
	currentLocale.value = chosen;
	if ( typeof document !== 'undefined' ) {
		document.documentElement.lang = chosen;
		document.documentElement.dir = directionOf( chosen );
	}
}

export function hasMessage( key: string ): boolean {
	return Object.prototype.hasOwnProperty.call( catalogues[ FALLBACK_LOCALE ] ?? {}, key );
}

/** Formats a message. Returns plain text: render it with `{{ }}`, never `v-html`. */
export function translate( key: string, ...params: Array<string | number> ): string {
	// Touch the ref so callers inside computed()/render re-run when the locale changes.
	void currentLocale.value;
	return banana.i18n( key, ...params );
}

/**
 * Codex's own strings (button labels, screen-reader announcements). Codex asks for
 * them through the `CdxI18nFunction` injection; listing them here keeps them in the
 * catalogue checks.
 */
export const CODEX_MESSAGE_KEYS = [
	'cdx-chip-input-chip-added',
	'cdx-chip-input-chip-removed',
	'cdx-dialog-close-button-label',
	'cdx-input-chip-aria-description',
	'cdx-label-optional-flag',
	'cdx-message-dismiss-button-label',
	'cdx-search-input-search-button-label'
] as const;

function codexI18n( key: string, ...params: unknown[] ): string | null {
	if ( !hasMessage( key ) ) {
		return null;
	}
	return translate( key, ...params.map( ( p ) => ( typeof p === 'number' ? p : String( p ) ) ) );
}

/** Vue plugin: picks the initial locale and gives Codex our translations. */
export const i18nPlugin = {
	install( app: App, options: { locale?: string } = {} ): void {
		setLocale( options.locale ?? initialLocale() );
		app.provide( 'CdxI18nFunction', codexI18n );
	}
};

function initialLocale(): string {
	const wanted: string[] = [];
	if ( typeof location !== 'undefined' ) {
		// `?uselang=he`, as on Wikimedia wikis: handy to check a translation or RTL.
		const uselang = new URLSearchParams( location.search ).get( 'uselang' );
		if ( uselang ) {
			wanted.push( uselang );
		}
	}
	if ( typeof navigator !== 'undefined' ) {
		wanted.push( ...( navigator.languages ?? [ navigator.language ] ) );
	}
	return negotiateLocale( wanted );
}
