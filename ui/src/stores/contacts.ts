/**
 * Contacts: the current search query, the selected contact, and create/update/delete.
 *
 * The list itself is not held here (it can have 500k rows); the list component pages
 * through `fetchPage` and watches `queryVersion` (start over) and `dataVersion`
 * (reload in place). Everything is dropped when the vault locks.
 */
import { defineStore } from 'pinia';
import { ref, watch, type Ref } from 'vue';
import { CONTACT_ENTITIES, contactsApi, dataApi, type ApiError, type Contact, type ContactInput, type ContactPage } from '@/api';
import { useVaultStore } from './vault';

export const PAGE_SIZE = 200;

export const useContactsStore = defineStore( 'contacts', () => {
	const vault = useVaultStore();

	const query = ref( '' );
	const queryVersion = ref( 0 );
	const dataVersion = ref( 0 );
	const selected = ref<Contact | null>( null );
	const selectedError = ref<ApiError | null>( null );
	const loadingSelected = ref( false );
	const saving = ref( false );
	const saveError = ref<ApiError | null>( null );
	const deleting = ref( false );
	const deleteError = ref<ApiError | null>( null );
	/** The contact this device last deleted or erased: the view leaves its page. */
	const removed = ref<string | null>( null );
	let selectRequest = 0;

	function fail( e: unknown ): ApiError {
		const error = e as ApiError;
		vault.noteError( error );
		return error;
	}

	// A sync (or another command) changed contacts: the list and the open contact reload.
	void dataApi.onChanged( ( entities ) => {
		if ( entities.some( ( e ) => ( CONTACT_ENTITIES as readonly string[] ).includes( e ) ) ) {
			void reload();
		}
	} );

	/** One page of the list for the current query: search when there is one, else all by name. */
	async function fetchPage( offset: number, limit: number ): Promise<ContactPage> {
		const q = query.value.trim();
		try {
			return await ( q ? contactsApi.search( q, offset, limit ) : contactsApi.list( offset, limit ) );
		} catch ( e ) {
			throw fail( e );
		}
	}

	function setQuery( next: string ): void {
		if ( next.trim() === query.value.trim() ) {
			query.value = next;
			return;
		}
		query.value = next;
		queryVersion.value++;
	}

	/** The list should reload (after a local edit or a sync pulled changes). */
	function invalidate(): void {
		dataVersion.value++;
	}

	async function select( id: string | null ): Promise<void> {
		const request = ++selectRequest;
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
			const contact = await contactsApi.get( id );
			if ( request === selectRequest ) {
				selected.value = contact;
			}
		} catch ( e ) {
			if ( request === selectRequest ) {
				selected.value = null;
				selectedError.value = fail( e );
			}
		} finally {
			if ( request === selectRequest ) {
				loadingSelected.value = false;
			}
		}
	}

	/**
	 * The data changed behind the UI's back (e.g. a resolved conflict): reload the list in
	 * place and fetch the selected contact again. A contact that is gone is deselected.
	 */
	async function reload(): Promise<void> {
		invalidate();
		const id = selected.value?.id;
		if ( !id ) {
			return;
		}
		const request = ++selectRequest;
		try {
			const contact = await contactsApi.get( id );
			if ( request === selectRequest ) {
				selected.value = contact;
			}
		} catch ( e ) {
			if ( request === selectRequest ) {
				selected.value = null;
				selectedError.value = fail( e );
			}
		}
	}

	async function save( id: string | null, input: ContactInput ): Promise<Contact | null> {
		saving.value = true;
		saveError.value = null;
		try {
			const contact = id === null ? await contactsApi.create( input ) : await contactsApi.update( id, input );
			selectRequest++;
			selected.value = contact;
			selectedError.value = null;
			invalidate();
			return contact;
		} catch ( e ) {
			saveError.value = fail( e );
			return null;
		} finally {
			saving.value = false;
		}
	}

	const erasing = ref( false );
	const eraseError = ref<ApiError | null>( null );

	/**
	 * Take a contact away (delete, or erase everywhere): while `busy` is set, `call` runs; on
	 * success the list reloads (the view leaves the contact's page); on failure `error` says why.
	 */
	async function takeAway(
		id: string,
		busy: Ref<boolean>,
		error: Ref<ApiError | null>,
		call: ( id: string ) => Promise<unknown>
	): Promise<boolean> {
		busy.value = true;
		error.value = null;
		try {
			await call( id );
			// The backend announced the change already, and a reload may have found the contact
			// gone: that is no error, the contact's page simply goes (the view follows `removed`).
			if ( selected.value === null || selected.value.id === id ) {
				selectRequest++;
				selected.value = null;
				selectedError.value = null;
			}
			removed.value = id;
			invalidate();
			return true;
		} catch ( e ) {
			error.value = fail( e );
			return false;
		} finally {
			busy.value = false;
		}
	}

	/** Right to erasure: the server erases the person everywhere; this device follows at once. */
	function erase( id: string ): Promise<boolean> {
		return takeAway( id, erasing, eraseError, contactsApi.erase );
	}

	function remove( id: string ): Promise<boolean> {
		return takeAway( id, deleting, deleteError, contactsApi.remove );
	}

	function clearSaveError(): void {
		saveError.value = null;
	}

	/** Forget all contact data held in memory (and so in the DOM). */
	function clear(): void {
		selectRequest++;
		query.value = '';
		selected.value = null;
		selectedError.value = null;
		saveError.value = null;
		deleteError.value = null;
		removed.value = null;
		loadingSelected.value = false;
		queryVersion.value++;
	}

	watch( () => vault.phase, ( phase ) => {
		if ( phase !== 'unlocked' ) {
			clear();
		}
	} );

	return {
		query,
		queryVersion,
		dataVersion,
		selected,
		selectedError,
		loadingSelected,
		saving,
		saveError,
		deleting,
		deleteError,
		removed,
		fetchPage,
		setQuery,
		invalidate,
		reload,
		erase,
		erasing,
		eraseError,
		select,
		save,
		remove,
		clearSaveError,
		clear
	};
} );
