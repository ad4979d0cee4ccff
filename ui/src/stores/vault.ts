/**
 * The encrypted local database ("vault"): does it exist, is it unlocked, and the
 * actions that change that. The rest of the UI derives its screen from `phase`.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { describeError, vaultApi, type ApiError, type UnlockMode, type VaultState } from '@/api';

export const VAULT_PHASES = [ 'unknown', 'setup', 'locked', 'unlocked' ] as const;
export type VaultPhase = ( typeof VAULT_PHASES )[ number ];

/** Minimum passphrase length; the backend enforces the same rule. */
export const MIN_PASSPHRASE_LENGTH = 8;

export const useVaultStore = defineStore( 'vault', () => {
	const state = ref<VaultState | null>( null );
	const busy = ref( false );
	const error = ref<ApiError | null>( null );
	let listening = false;

	const phase = computed<VaultPhase>( () => {
		if ( !state.value ) {
			return 'unknown';
		}
		if ( !state.value.exists ) {
			return 'setup';
		}
		return state.value.unlocked ? 'unlocked' : 'locked';
	} );

	async function run( action: () => Promise<VaultState> ): Promise<boolean> {
		busy.value = true;
		error.value = null;
		try {
			state.value = await action();
			return true;
		} catch ( e ) {
			error.value = e as ApiError;
			noteError( e as ApiError );
			return false;
		} finally {
			busy.value = false;
		}
	}

	/** Asks the backend where we stand; also subscribes to auto-lock events once. */
	async function load(): Promise<boolean> {
		if ( !listening ) {
			listening = true;
			void vaultApi.onLocked( ( next ) => {
				state.value = next;
			} );
		}
		return run( () => vaultApi.state() );
	}

	function create( mode: UnlockMode, passphrase: string | null ): Promise<boolean> {
		return run( () => vaultApi.create( mode, mode === 'passphrase' ? passphrase : null ) );
	}

	/** `null` unlocks with the OS keychain. */
	function unlock( passphrase: string | null ): Promise<boolean> {
		return run( () => vaultApi.unlock( passphrase ) );
	}

	function lock(): Promise<boolean> {
		return run( () => vaultApi.lock() );
	}

	/** Reports that the person is using the app (see `useActivityReport`). */
	async function noteActivity(): Promise<void> {
		try {
			await vaultApi.noteActivity();
		} catch ( e ) {
			noteError( e as ApiError );
		}
	}

	function clearError(): void {
		error.value = null;
	}

	/**
	 * Every store passes backend errors through here: a `locked` error anywhere means the
	 * vault locked itself (idle timeout, sleep), so the UI must go to the unlock screen.
	 */
	function noteError( e: ApiError ): void {
		const action = describeError( e ).action;
		if ( action === 'unlock' && state.value && e.code === 'locked' ) {
			state.value = { ...state.value, unlocked: false };
		} else if ( action === 'setup' && state.value ) {
			state.value = { ...state.value, exists: false, unlocked: false };
		}
	}

	return { state, busy, error, phase, load, create, unlock, lock, noteActivity, clearError, noteError };
} );
