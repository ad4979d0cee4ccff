/**
 * The conflict inbox: concurrent edits the server recorded instead of silently
 * overwriting one of them, and resolving them (keep mine, keep theirs, or a typed value).
 *
 * Resolving is an ordinary edit that syncs: the conflict leaves the inbox, and the backend's
 * `data-changed` event tells whatever shows the record (the contact, the status line) to
 * reload. The inbox reloads when conflicts change (a sync brought new ones). Conflicts name
 * contacts and hold their data, so everything is dropped when the vault locks.
 */
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { conflictsApi, dataApi, type ApiError, type Conflict, type Keep } from '@/api';
import { useVaultStore } from './vault';

function without<T>( record: Record<string, T>, id: string ): Record<string, T> {
	return Object.fromEntries( Object.entries( record ).filter( ( [ key ] ) => key !== id ) );
}

export const useConflictsStore = defineStore( 'conflicts', () => {
	const vault = useVaultStore();
	/** Open conflicts, oldest first. */
	const conflicts = ref<Conflict[]>( [] );
	const loading = ref( false );
	/** Why the inbox could not be loaded. */
	const error = ref<ApiError | null>( null );
	/** Why resolving a conflict failed, by conflict id: shown with that conflict. */
	const resolveErrors = ref<Record<string, ApiError>>( {} );
	/** Ids of the conflicts being resolved right now. */
	const resolving = ref<Record<string, boolean>>( {} );

	/** Whether the inbox was loaded (and so follows changes). */
	let loaded = false;

	function fail( e: unknown ): ApiError {
		const failure = e as ApiError;
		vault.noteError( failure );
		return failure;
	}

	void dataApi.onChanged( ( entities ) => {
		if ( loaded && entities.includes( 'conflict' ) ) {
			void load();
		}
	} );

	async function load(): Promise<void> {
		loaded = true;
		loading.value = true;
		error.value = null;
		try {
			conflicts.value = await conflictsApi.list( false );
			// Errors of conflicts that are gone (resolved elsewhere) go with them.
			const ids = new Set( conflicts.value.map( ( c ) => c.id ) );
			resolveErrors.value = Object.fromEntries( Object.entries( resolveErrors.value ).filter( ( [ id ] ) => ids.has( id ) ) );
		} catch ( e ) {
			error.value = fail( e );
		} finally {
			loading.value = false;
		}
	}

	/**
	 * Keep `mine`, `theirs`, or (field conflicts only) `value`: the text typed, list items
	 * separated by commas. True when resolved; else the reason is in `resolveErrors[ id ]`.
	 */
	async function resolve( id: string, keep: Keep, value: string | null = null ): Promise<boolean> {
		if ( resolving.value[ id ] ) {
			return false;
		}
		resolving.value = { ...resolving.value, [ id ]: true };
		resolveErrors.value = without( resolveErrors.value, id );
		try {
			await conflictsApi.resolve( id, keep, keep === 'value' ? value ?? '' : null );
			// The backend says what changed (`data-changed`): the contact and the status reload.
			conflicts.value = conflicts.value.filter( ( c ) => c.id !== id );
			return true;
		} catch ( e ) {
			resolveErrors.value = { ...resolveErrors.value, [ id ]: fail( e ) };
			return false;
		} finally {
			resolving.value = without( resolving.value, id );
		}
	}

	/** Forget every conflict held in memory (and so in the DOM). */
	function clear(): void {
		loaded = false;
		conflicts.value = [];
		error.value = null;
		resolveErrors.value = {};
		resolving.value = {};
	}

	watch( () => vault.phase, ( phase ) => {
		if ( phase !== 'unlocked' ) {
			clear();
		}
	} );

	return { conflicts, loading, error, resolveErrors, resolving, load, resolve, clear };
} );
