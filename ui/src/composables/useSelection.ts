/**
 * The one item a screen shows in full (a contact, a case), fetched by id, where the latest
 * request wins: opening A then B quickly never ends with A on screen because A's answer came
 * last, and an item shown directly (just saved, just created) is not overwritten by an older
 * fetch still on its way.
 *
 *     const selection = useSelection( contactsApi.get, fail );
 *     await selection.select( id );   // fetch and show; the same id again fetches nothing
 *     await selection.refetch();      // the data changed: fetch the shown item again
 *     selection.show( saved );        // show this now, whatever fetch is pending
 */
import { ref, type Ref } from 'vue';
import type { ApiError } from '@/api';

export interface Selection<T> {
	selected: Ref<T | null>;
	selectedError: Ref<ApiError | null>;
	loadingSelected: Ref<boolean>;
	select: ( id: string | null ) => Promise<void>;
	refetch: () => Promise<void>;
	show: ( item: T | null ) => void;
}

export function useSelection<T extends { id: string }>(
	fetch: ( id: string ) => Promise<T>,
	fail: ( e: unknown ) => ApiError
): Selection<T> {
	const selected = ref<T | null>( null ) as Ref<T | null>;
	const selectedError = ref<ApiError | null>( null );
	const loadingSelected = ref( false );
	let latest = 0;

	/** Fetch `id` and show it, unless a later request or `show` came first. */
	async function load( id: string, request: number ): Promise<void> {
		try {
			const item = await fetch( id );
			if ( request === latest ) {
				selected.value = item;
			}
		} catch ( e ) {
			if ( request === latest ) {
				selected.value = null;
				selectedError.value = fail( e );
			}
		}
	}

	async function select( id: string | null ): Promise<void> {
		const request = ++latest;
		selectedError.value = null;
		if ( id === null ) {
			selected.value = null;
			loadingSelected.value = false;
			return;
		}
		if ( selected.value?.id === id ) {
			return;
		}
		loadingSelected.value = true;
		try {
			await load( id, request );
		} finally {
			if ( request === latest ) {
				loadingSelected.value = false;
			}
		}
	}

	/** Fetch the shown item again (one that is gone is deselected, with the reason). */
	async function refetch(): Promise<void> {
		const id = selected.value?.id;
		if ( id ) {
			await load( id, ++latest );
		}
	}

	function show( item: T | null ): void {
		latest++;
		selected.value = item;
		selectedError.value = null;
		loadingSelected.value = false;
	}

	return { selected, selectedError, loadingSelected, select, refetch, show };
}
