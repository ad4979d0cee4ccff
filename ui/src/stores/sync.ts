/**
 * Sync with the server: sign-in (with certificate fingerprint confirmation), the
 * status shown in the header, and "Sync now".
 */
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import { dataApi, syncApi, type ApiError, type LedgerEntry, type ServerProbe, type SyncReport, type SyncStatus } from '@/api';
import { useVaultStore } from './vault';

/** What the status line says, most important first. */
export const SYNC_STATES = [ 'signed-out', 'syncing', 'offline', 'error', 'pending', 'up-to-date' ] as const;
export type SyncState = ( typeof SYNC_STATES )[ number ];

export const useSyncStore = defineStore( 'sync', () => {
	const vault = useVaultStore();
	const status = ref<SyncStatus | null>( null );
	const running = ref( false );
	const busy = ref( false );
	/** Error of the last user action (sign-in, sync, sign-out); the status carries its own. */
	const error = ref<ApiError | null>( null );
	const lastReport = ref<SyncReport | null>( null );
	let listening = false;

	const state = computed<SyncState>( () => {
		if ( !status.value?.loggedIn ) {
			return 'signed-out';
		}
		if ( running.value || status.value.syncing ) {
			return 'syncing';
		}
		if ( currentError.value?.code === 'server_unreachable' ) {
			// Not a fault: trainers work offline for days. Changes wait; background sync retries.
			return 'offline';
		}
		if ( currentError.value ) {
			return 'error';
		}
		return status.value.pending > 0 ? 'pending' : 'up-to-date';
	} );

	/** The error to show in the status line: this session's action error, else the backend's last one. */
	const currentError = computed<ApiError | null>( () => error.value ?? status.value?.lastError ?? null );

	function fail( e: unknown ): ApiError {
		const failure = e as ApiError;
		vault.noteError( failure );
		error.value = failure;
		return failure;
	}

	/** How many of the newest outgoing changes the ledger shows. */
	const LEDGER_LIMIT = 200;
	const ledger = ref<LedgerEntry[]>( [] );
	const ledgerError = ref<ApiError | null>( null );
	const ledgerLoading = ref( false );

	/** Load the sync ledger, newest change first. */
	async function loadLedger(): Promise<void> {
		ledgerLoading.value = true;
		ledgerError.value = null;
		try {
			ledger.value = ( await syncApi.ledger( LEDGER_LIMIT ) ).slice().reverse();
		} catch ( e ) {
			ledgerError.value = fail( e );
		} finally {
			ledgerLoading.value = false;
		}
	}

	// The ledger names contacts: forget it when the vault locks, like the contact data.
	watch( () => vault.phase, ( phase ) => {
		if ( phase !== 'unlocked' ) {
			ledger.value = [];
		}
	} );

	async function refresh(): Promise<void> {
		if ( !listening ) {
			listening = true;
			void syncApi.onStatus( ( next ) => {
				status.value = next;
				if ( !next.syncing && !next.lastError ) {
					// A sync went through (in the background, say): an earlier "Sync now" that
					// failed is no longer what the status line should say.
					error.value = null;
				}
			} );
			// A local edit waits to be sent: the pending count changed.
			void dataApi.onChanged( () => {
				if ( !running.value ) {
					void syncApi.status().then( ( next ) => {
						status.value = next;
					}, () => undefined );
				}
			} );
		}
		try {
			status.value = await syncApi.status();
		} catch ( e ) {
			fail( e );
		}
	}

	async function probe( url: string ): Promise<ServerProbe | null> {
		busy.value = true;
		error.value = null;
		try {
			return await syncApi.probe( url );
		} catch ( e ) {
			fail( e );
			return null;
		} finally {
			busy.value = false;
		}
	}

	async function login( url: string, user: string, password: string, fingerprint: string ): Promise<boolean> {
		busy.value = true;
		error.value = null;
		try {
			status.value = await syncApi.login( url, user, password, fingerprint );
			return true;
		} catch ( e ) {
			fail( e );
			return false;
		} finally {
			busy.value = false;
		}
	}

	async function logout(): Promise<boolean> {
		busy.value = true;
		error.value = null;
		try {
			status.value = await syncApi.logout();
			lastReport.value = null;
			return true;
		} catch ( e ) {
			fail( e );
			return false;
		} finally {
			busy.value = false;
		}
	}

	async function syncNow(): Promise<SyncReport | null> {
		if ( running.value ) {
			return null;
		}
		running.value = true;
		error.value = null;
		try {
			const report = await syncApi.syncNow();
			lastReport.value = report;
			status.value = report.status;
			return report;
		} catch ( e ) {
			fail( e );
			// The backend may have recorded progress or the error; show its view.
			try {
				status.value = await syncApi.status();
			} catch {
				// keep the previous status
			}
			return null;
		} finally {
			running.value = false;
		}
	}

	function clearError(): void {
		error.value = null;
	}

	return {
		status, running, busy, error, lastReport, state, currentError, refresh, probe, login, logout, syncNow, clearError,
		ledger, ledgerError, ledgerLoading, loadLedger
	};
} );
