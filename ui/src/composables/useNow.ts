/**
 * The current time (ms since the epoch) as a ref that ticks every `intervalMs`.
 *
 * Relative times such as "Last synced 3 minutes ago" read it so they stay true while
 * the window is open. The timer stops when the calling component or scope goes away.
 */
import { getCurrentScope, onScopeDispose, ref, type Ref } from 'vue';

export function useNow( intervalMs = 30_000 ): Readonly<Ref<number>> {
	const now = ref( Date.now() );
	const timer = setInterval( () => {
		now.value = Date.now();
	}, intervalMs );
	if ( getCurrentScope() ) {
		onScopeDispose( () => clearInterval( timer ) );
	}
	return now;
}
