/**
 * Time on the desk, in words: how long ("40 min", "3 h", "2 d"), how a due time stands
 * ("overdue 2 h", "due in 40 min"), and when, in the person's own time zone ("Tue 4 Jun,
 * 14:00 CEST"). Due times arrive in UTC; people read them in their local time.
 *
 *     const { due } = useDeskTime();
 *     due( row.dueAt, now.value )?.text; // "overdue 2 h"
 */
import { useI18n } from './useI18n';

export const DUE_STATES = [ 'overdue', 'due' ] as const;
export type DueState = ( typeof DUE_STATES )[ number ];

export interface DueStatus {
	state: DueState;
	text: string;
}

export interface UseDeskTime {
	/** A span of time, rounded down to whole minutes, hours (under two days) or days; at least a minute. */
	duration: ( ms: number ) => string;
	/** Where `dueAt` stands at `now`, or null when nothing is due. */
	due: ( dueAt: string | null, now: number ) => DueStatus | null;
	/** How long since `since` at `now` ("3 h"), or null without a time. */
	since: ( since: string | null, now: number ) => string | null;
	/** Date and time in the local time zone, with the zone's name. */
	localTime: ( iso: string ) => string;
}

const MINUTE = 60_000;

export function useDeskTime(): UseDeskTime {
	const { t, locale, formatNumber } = useI18n();

	function duration( ms: number ): string {
		const minutes = Math.max( 1, Math.floor( Math.abs( ms ) / MINUTE ) );
		if ( minutes < 60 ) {
			return t( 'liaison-desk-duration-minutes', minutes, formatNumber( minutes ) );
		}
		const hours = Math.floor( minutes / 60 );
		if ( hours < 48 ) {
			return t( 'liaison-desk-duration-hours', hours, formatNumber( hours ) );
		}
		const days = Math.floor( hours / 24 );
		return t( 'liaison-desk-duration-days', days, formatNumber( days ) );
	}

	function due( dueAt: string | null, now: number ): DueStatus | null {
		const at = dueAt ? Date.parse( dueAt ) : NaN;
		if ( Number.isNaN( at ) ) {
			return null;
		}
		return at <= now ?
			{ state: 'overdue', text: t( 'liaison-desk-due-overdue', duration( now - at ) ) } :
			{ state: 'due', text: t( 'liaison-desk-due-in', duration( at - now ) ) };
	}

	function since( from: string | null, now: number ): string | null {
		const at = from ? Date.parse( from ) : NaN;
		return Number.isNaN( at ) ? null : duration( Math.max( 0, now - at ) );
	}

	function localTime( iso: string ): string {
		const date = new Date( iso );
		return Number.isNaN( date.getTime() ) ?
			iso :
			new Intl.DateTimeFormat( locale.value, {
				weekday: 'short',
				day: 'numeric',
				month: 'short',
				hour: 'numeric',
				minute: '2-digit',
				timeZoneName: 'short'
			} ).format( date );
	}

	return { duration, due, since, localTime };
}
