/**
 * What the composer holds for one case at a time, kept as a draft while it is typed, so that a
 * click elsewhere, another case, a lock or a restart never loses it.
 *
 * Every change is saved `delay` ms after the typing pauses; `flush()` saves at once (on blur,
 * before sending). Switching to another case saves the previous case's text first, then loads
 * the next case's draft; the owning scope ending (the composer unmounts) saves too. Saves run
 * one after another, so the store sees them in typing order. Until a case's draft has loaded,
 * `loadedFor` is not that case, and the composer should not take typing (it would be replaced).
 *
 * `startedAt` is when the draft began: from the store, or the first keystroke until the store has
 * answered. The composer compares it with the thread ("someone else replied since you started").
 *
 *     const draft = useDraft( () => props.caseId, { load: desk.getDraft, save: desk.saveDraft } );
 *     // template: <textarea v-model="draft.body.value" @blur="draft.flush()">
 */
import { getCurrentScope, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue';
import type { ComposerMode, Draft } from '@/api';

export interface DraftStore {
	load: ( caseId: string ) => Promise<Draft | null>;
	/** Resolves with the kept draft, or `null` when an empty composer discarded it. */
	save: ( caseId: string, mode: ComposerMode, body: string, cannedId: string | null ) => Promise<Draft | null>;
}

export interface UseDraft {
	body: Ref<string>;
	mode: Ref<ComposerMode>;
	/** The canned reply the text started from. */
	cannedId: Ref<string | null>;
	startedAt: Readonly<Ref<string | null>>;
	/** The case whose draft the refs hold; `null` while it loads (or failed to). */
	loadedFor: Readonly<Ref<string | null>>;
	saving: Readonly<Ref<boolean>>;
	/** When the store last kept this case's draft (its `updatedAt`). */
	savedAt: Readonly<Ref<string | null>>;
	/** Why the last load or save failed, until one works. */
	error: Readonly<Ref<unknown>>;
	/** Saves unsaved changes now; resolves when every save so far is done. */
	flush: () => Promise<void>;
	/** The text went out (sending discarded the stored draft): start empty, keep the mode. */
	clear: () => void;
}

export const DRAFT_SAVE_DELAY_MS = 500;

interface Snapshot {
	caseId: string;
	mode: ComposerMode;
	body: string;
	cannedId: string | null;
}

export function useDraft( caseId: () => string | null, store: DraftStore, delay = DRAFT_SAVE_DELAY_MS ): UseDraft {
	const body = ref( '' );
	const mode = ref<ComposerMode>( 'reply' );
	const cannedId = ref<string | null>( null );
	const storedStartedAt = ref<string | null>( null );
	const typedAt = ref<string | null>( null );
	const startedAt = ref<string | null>( null );
	const loadedFor = ref<string | null>( null );
	const saving = ref( false );
	const savedAt = ref<string | null>( null );
	const error = shallowRef<unknown>( null );
	let dirty = false;
	let applying = false;
	let timer: ReturnType<typeof setTimeout> | null = null;
	let chain: Promise<void> = Promise.resolve();
	let loadRequest = 0;

	watch( [ storedStartedAt, typedAt ], ( [ stored, typed ] ) => {
		startedAt.value = stored ?? typed;
	}, { flush: 'sync' } );

	function cancelTimer(): void {
		if ( timer !== null ) {
			clearTimeout( timer );
			timer = null;
		}
	}

	function save( snapshot: Snapshot ): Promise<void> {
		const run = async (): Promise<void> => {
			saving.value = true;
			try {
				const kept = await store.save( snapshot.caseId, snapshot.mode, snapshot.body, snapshot.cannedId );
				if ( snapshot.caseId === loadedFor.value ) {
					storedStartedAt.value = kept?.startedAt ?? null;
					savedAt.value = kept?.updatedAt ?? null;
					if ( !kept ) {
						typedAt.value = null;
					}
					error.value = null;
				}
			} catch ( e ) {
				if ( snapshot.caseId === loadedFor.value ) {
					// Try again with the next change or flush; the text stays in the composer.
					dirty = true;
					error.value = e;
				}
			} finally {
				saving.value = false;
			}
		};
		chain = chain.then( run, run );
		return chain;
	}

	function flush(): Promise<void> {
		cancelTimer();
		const id = loadedFor.value;
		if ( !dirty || id === null ) {
			return chain;
		}
		dirty = false;
		return save( { caseId: id, mode: mode.value, body: body.value, cannedId: cannedId.value } );
	}

	watch( [ body, mode, cannedId ], () => {
		if ( applying || loadedFor.value === null ) {
			return;
		}
		dirty = true;
		if ( startedAt.value === null && body.value.trim() ) {
			typedAt.value = new Date().toISOString();
		}
		cancelTimer();
		timer = setTimeout( () => {
			void flush();
		}, delay );
	}, { flush: 'sync' } );

	function apply( draft: Draft | null ): void {
		applying = true;
		body.value = draft?.body ?? '';
		if ( draft ) {
			mode.value = draft.mode;
		}
		cannedId.value = draft?.cannedId ?? null;
		applying = false;
		storedStartedAt.value = draft?.startedAt ?? null;
		savedAt.value = draft?.updatedAt ?? null;
		typedAt.value = null;
		dirty = false;
	}

	async function open( id: string | null ): Promise<void> {
		const request = ++loadRequest;
		// The previous case's text goes to the store before anything else happens.
		void flush();
		loadedFor.value = null;
		apply( null );
		mode.value = 'reply';
		error.value = null;
		if ( id === null ) {
			return;
		}
		try {
			// After the saves so far: reopening a case must find what was just typed in it.
			await chain;
			const draft = await store.load( id );
			if ( request !== loadRequest ) {
				return;
			}
			apply( draft );
			loadedFor.value = id;
		} catch ( e ) {
			if ( request === loadRequest ) {
				// Not writable: typing now would replace a draft that may exist but did not load.
				error.value = e;
			}
		}
	}

	function clear(): void {
		cancelTimer();
		applying = true;
		body.value = '';
		cannedId.value = null;
		applying = false;
		storedStartedAt.value = null;
		savedAt.value = null;
		typedAt.value = null;
		dirty = false;
	}

	watch( caseId, ( id ) => {
		void open( id );
	}, { immediate: true } );

	if ( getCurrentScope() ) {
		onScopeDispose( () => {
			void flush();
		} );
	}

	return { body, mode, cannedId, startedAt, loadedFor, saving, savedAt, error, flush, clear };
}
