import { describe, expect, it, vi } from 'vitest';
import { effectScope, nextTick, ref } from 'vue';
import type { ComposerMode, Draft } from '@/api';
import { useDraft, type DraftStore } from './useDraft';

/** A store that keeps drafts like the backend: empty and no canned reply discards, startedAt stays. */
function memoryStore(): DraftStore & { drafts: Map<string, Draft>; saves: string[] } {
	const drafts = new Map<string, Draft>();
	const saves: string[] = [];
	return {
		drafts,
		saves,
		load: vi.fn( async ( caseId: string ) => drafts.get( caseId ) ?? null ),
		save: vi.fn( async ( caseId: string, mode: ComposerMode, body: string, cannedId: string | null ) => {
			saves.push( `${ caseId }:${ body }` );
			if ( !body && !cannedId ) {
				drafts.delete( caseId );
				return null;
			}
			const now = new Date().toISOString();
			const draft = { caseId, mode, body, cannedId, startedAt: drafts.get( caseId )?.startedAt ?? now, updatedAt: now };
			drafts.set( caseId, draft );
			return draft;
		} )
	};
}

async function settle(): Promise<void> {
	for ( let i = 0; i < 5; i++ ) {
		await nextTick();
		await Promise.resolve();
	}
}

describe( 'useDraft', () => {
	it( 'saves once, half a second after typing pauses', async () => {
		vi.useFakeTimers();
		const store = memoryStore();
		const scope = effectScope();
		const draft = scope.run( () => useDraft( () => 'a', store ) )!;
		await vi.advanceTimersByTimeAsync( 0 );
		expect( draft.loadedFor.value ).toBe( 'a' );
		for ( const text of [ 'H', 'He', 'Hel' ] ) {
			draft.body.value = text;
			await vi.advanceTimersByTimeAsync( 300 );
		}
		expect( store.saves, 'nothing while typing' ).toEqual( [] );
		expect( draft.startedAt.value, 'the draft began at the first keystroke' ).not.toBeNull();
		await vi.advanceTimersByTimeAsync( 200 );
		expect( store.saves ).toEqual( [ 'a:Hel' ] );
		expect( draft.savedAt.value ).not.toBeNull();
		scope.stop();
	} );

	it( 'saves the previous case before loading the next, and reloads it when it comes back', async () => {
		const store = memoryStore();
		store.drafts.set( 'b', { caseId: 'b', mode: 'note', body: 'B text', cannedId: null, startedAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z' } );
		const current = ref<string | null>( 'a' );
		const scope = effectScope();
		const draft = scope.run( () => useDraft( () => current.value, store ) )!;
		await settle();
		draft.body.value = 'Dear reader';
		current.value = 'b';
		await settle();
		expect( store.saves, 'the switch saved at once, without waiting' ).toEqual( [ 'a:Dear reader' ] );
		expect( draft.body.value ).toBe( 'B text' );
		expect( draft.mode.value ).toBe( 'note' );
		expect( draft.startedAt.value ).toBe( '2024-01-01T00:00:00Z' );

		current.value = 'a';
		await settle();
		expect( draft.body.value ).toBe( 'Dear reader' );
		expect( draft.mode.value ).toBe( 'reply' );
		scope.stop();
	} );

	it( 'saves on flush and when its scope ends, and starts empty after clear', async () => {
		const store = memoryStore();
		const scope = effectScope();
		const draft = scope.run( () => useDraft( () => 'a', store ) )!;
		await settle();
		draft.body.value = 'one';
		await draft.flush();
		expect( store.saves ).toEqual( [ 'a:one' ] );
		await draft.flush();
		expect( store.saves, 'nothing new: no second save' ).toEqual( [ 'a:one' ] );

		draft.clear();
		expect( draft.body.value ).toBe( '' );
		expect( draft.startedAt.value ).toBeNull();
		await draft.flush();
		expect( store.saves, 'clearing is not an edit' ).toEqual( [ 'a:one' ] );

		draft.body.value = 'two';
		scope.stop();
		await settle();
		expect( store.saves ).toEqual( [ 'a:one', 'a:two' ] );
	} );

	it( 'keeps the text and tries again after a failed save', async () => {
		const store = memoryStore();
		const failure = { code: 'internal', message: 'disk full' };
		vi.mocked( store.save ).mockRejectedValueOnce( failure );
		const scope = effectScope();
		const draft = scope.run( () => useDraft( () => 'a', store ) )!;
		await settle();
		draft.body.value = 'keep me';
		await draft.flush();
		expect( draft.error.value ).toBe( failure );
		expect( draft.body.value ).toBe( 'keep me' );
		await draft.flush();
		expect( draft.error.value ).toBeNull();
		expect( store.drafts.get( 'a' )?.body ).toBe( 'keep me' );
		scope.stop();
	} );
} );
