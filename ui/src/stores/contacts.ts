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
import { useSelection } from '@/composables/useSelection';
import { useVaultStore } from './vault';

export const PAGE_SIZE = 200;

export const useContactsStore = defineStore( 'contacts', () => {
	const vault = useVaultStore();

	const query = ref( '' );
	const queryVersion = ref( 0 );
	const dataVersion = ref( 0 );
	const saving = ref( false );
	const saveError = ref<ApiError | null>( null );
	const deleting = ref( false );
	const deleteError = ref<ApiError | null>( null );
	/** The contact this device last deleted or erased: the view leaves its page. */
	const removed = ref<string | null>( null );

	function fail( e: unknown ): ApiError {
		const error = e as ApiError;
		vault.noteError( error );
		return error;
	}

	const selection = useSelection( contactsApi.get, fail );
	const { selected, selectedError, loadingSelected } = selection;

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

	function select( id: string | null ): Promise<void> {
		return selection.select( id );
	}

	/**
	 * The data changed behind the UI's back (e.g. a resolved conflict): reload the list in
	 * place and fetch the selected contact again. A contact that is gone is deselected.
	 */
	async function reload(): Promise<void> {
		invalidate();
		await selection.refetch();
	}

	async function save( id: string | null, input: ContactInput ): Promise<Contact | null> {
		saving.value = true;
		saveError.value = null;
		try {
			const contact = id === null ? await contactsApi.create( input ) : await contactsApi.update( id, input );
			selection.show( contact );
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
				selection.show( null );
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
		selection.show( null );
		query.value = '';
		saveError.value = null;
		deleteError.value = null;
		removed.value = null;
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
