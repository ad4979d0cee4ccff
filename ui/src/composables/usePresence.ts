/**
 * Presence while a case is open: this device tells the server it is viewing the case or
 * drafting a reply (at once, then every {@link PRESENCE_REPORT_MS} while it stays so), says it
 * left when the case closes, and keeps who else is at the case. Offline it reports nothing and
 * shows no one: presence is only ever a hint.
 *
 *     const presence = usePresence( () => props.detail.id, () => body.value.trim() !== '', desk.presence );
 *     presence.others.value  // [ { user: 'kim', activity: 'drafting', … } ]
 */
import { onBeforeUnmount, ref, watch, type Ref } from 'vue';
import type { CaseActivity, CasePresence, PresentPerson } from '@/api';

/** How often presence is reported: well inside the server's one-minute expiry. */
export const PRESENCE_REPORT_MS = 20_000;

export type ReportPresence = ( caseId: string, activity: CaseActivity, draftStartedAt: string | null ) => Promise<CasePresence>;

export interface UsePresence {
	others: Readonly<Ref<PresentPerson[]>>;
	online: Readonly<Ref<boolean>>;
}

export function usePresence( caseId: () => string | null, drafting: () => boolean, report: ReportPresence ): UsePresence {
	const others = ref<PresentPerson[]>( [] );
	const online = ref( false );
	let timer: ReturnType<typeof setInterval> | null = null;
	let current: string | null = null;

	async function tell( id: string, activity: CaseActivity ): Promise<void> {
		const seen = await report( id, activity, null );
		if ( id === current ) {
			others.value = seen.others;
			online.value = seen.online;
		}
	}

	function start( id: string | null ): void {
		if ( timer ) {
			clearInterval( timer );
			timer = null;
		}
		if ( current && current !== id ) {
			void report( current, 'left', null );
		}
		current = id;
		others.value = [];
		online.value = false;
		if ( id ) {
			void tell( id, drafting() ? 'drafting' : 'viewing' );
			timer = setInterval( () => void tell( id, drafting() ? 'drafting' : 'viewing' ), PRESENCE_REPORT_MS );
		}
	}

	watch( caseId, start, { immediate: true } );
	watch( drafting, ( isDrafting ) => {
		if ( current ) {
			void tell( current, isDrafting ? 'drafting' : 'viewing' );
		}
	} );
	onBeforeUnmount( () => start( null ) );

	return { others, online };
}
