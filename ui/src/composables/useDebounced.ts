/**
 * A ref that follows `source` after it has been still for `delay` ms.
 *
 * Used for type-ahead search: every keystroke updates the input at once, while the
 * backend sees one query per pause in typing. `flush()` applies a pending value now
 * (e.g. on Enter); `cancel()` drops it.
 *
 *     const query = ref( '' );
 *     const { debounced } = useDebounced( query, 150 );
 *     watch( debounced, ( q ) => store.setQuery( q ) );
 */
import { getCurrentScope, onScopeDispose, ref, watch, type Ref } from 'vue';

export interface UseDebounced<T> {
	debounced: Readonly<Ref<T>>;
	flush: () => void;
	cancel: () => void;
}

export function useDebounced<T>( source: Ref<T>, delay: number ): UseDebounced<T> {
	const debounced = ref( source.value ) as Ref<T>;
	let timer: ReturnType<typeof setTimeout> | null = null;

	function cancel(): void {
		if ( timer !== null ) {
			clearTimeout( timer );
			timer = null;
		}
	}

	function flush(): void {
		cancel();
		debounced.value = source.value;
	}

	watch( source, () => {
		cancel();
		timer = setTimeout( flush, delay );
	} );

	if ( getCurrentScope() ) {
		onScopeDispose( cancel );
	}

	return { debounced, flush, cancel };
}
