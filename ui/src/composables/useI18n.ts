/**
 * Translated text and locale-aware formatting for components.
 *
 * `t( key, ...params )` returns plain text from `ui/i18n/*.json` (render it with
 * mustache, never `v-html`). Numbers and dates are formatted for the current locale;
 * `dir` follows it so components can mirror icons in right-to-left languages.
 *
 *     const { t, formatNumber } = useI18n();
 *     t( 'liaison-contacts-count', total, formatNumber( total ) );
 */
import { computed, type ComputedRef } from 'vue';
import { currentLocale, directionOf, setLocale, translate } from '@/i18n';

export interface UseI18n {
	t: ( key: string, ...params: Array<string | number> ) => string;
	locale: ComputedRef<string>;
	dir: ComputedRef<'ltr' | 'rtl'>;
	setLocale: ( locale: string ) => void;
	formatNumber: ( value: number ) => string;
	formatDateTime: ( iso: string ) => string;
	/** "a, b and c" in the current locale. */
	listFormat: ( items: string[] ) => string;
	formatRelativeTime: ( iso: string, now?: number ) => string;
}

const RELATIVE_UNITS: Array<[ Intl.RelativeTimeFormatUnit, number ]> = [
	[ 'year', 365 * 24 * 3600 ],
	[ 'month', 30 * 24 * 3600 ],
	[ 'week', 7 * 24 * 3600 ],
	[ 'day', 24 * 3600 ],
	[ 'hour', 3600 ],
	[ 'minute', 60 ],
	[ 'second', 1 ]
];

export function useI18n(): UseI18n {
	const locale = computed( () => currentLocale.value );
	return {
		t: translate,
		locale,
		dir: computed( () => directionOf( currentLocale.value ) ),
		setLocale,
		formatNumber: ( value ) => new Intl.NumberFormat( currentLocale.value ).format( value ),
		formatDateTime: ( iso ) => {
			const date = new Date( iso );
			return Number.isNaN( date.getTime() ) ?
				iso :
				new Intl.DateTimeFormat( currentLocale.value, { dateStyle: 'medium', timeStyle: 'short' } ).format( date );
		},
		listFormat: ( items ) => new Intl.ListFormat( currentLocale.value, { style: 'long', type: 'conjunction' } ).format( items ),
		formatRelativeTime: ( iso, now = Date.now() ) => {
			const then = new Date( iso ).getTime();
			if ( Number.isNaN( then ) ) {
				return iso;
			}
			let seconds = Math.round( ( then - now ) / 1000 );
			// `now` usually comes from a ref that ticks every 30 s, so an event that just
			// happened can be a few seconds "in the future": that is "now", not "in 4 seconds".
			if ( seconds > 0 && seconds < 60 ) {
				seconds = 0;
			}
			const format = new Intl.RelativeTimeFormat( currentLocale.value, { numeric: 'auto' } );
			for ( const [ unit, size ] of RELATIVE_UNITS ) {
				if ( Math.abs( seconds ) >= size || unit === 'second' ) {
					return format.format( Math.round( seconds / size ), unit );
				}
			}
			return format.format( 0, 'second' );
		}
	};
}
