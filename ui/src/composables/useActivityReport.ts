/**
 * Tells the backend that the person is using the app, so that the vault's idle timeout starts
 * again (the backend locks a vault left idle, or after the machine slept: security.md).
 *
 * Pointer, key, wheel and touch events anywhere in the window count. They are reported at most
 * once every `everyMs`, and only while `active()` holds (an unlocked vault). The listeners go
 * away with the calling component or scope.
 */
import { getCurrentScope, onScopeDispose } from 'vue';

export const ACTIVITY_EVENTS = [ 'pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart' ] as const;

/** The backend's shortest idle timeout is minutes; reporting this often keeps it accurate. */
export const REPORT_EVERY_MS = 10_000;

export function useActivityReport(
	active: () => boolean,
	report: () => unknown,
	everyMs = REPORT_EVERY_MS,
	target: EventTarget = window
): void {
	let last = Number.NEGATIVE_INFINITY;
	const onActivity = (): void => {
		if ( !active() ) {
			return;
		}
		const now = Date.now();
		if ( now - last < everyMs ) {
			return;
		}
		last = now;
		report();
	};
	const options = { capture: true, passive: true };
	for ( const name of ACTIVITY_EVENTS ) {
		target.addEventListener( name, onActivity, options );
	}
	if ( getCurrentScope() ) {
		onScopeDispose( () => {
			for ( const name of ACTIVITY_EVENTS ) {
				target.removeEventListener( name, onActivity, options );
			}
		} );
	}
}
