import { describe, expect, it, vi } from 'vitest';
import { effectScope, nextTick, ref } from 'vue';
import { useDebounced } from './useDebounced';

describe( 'useDebounced', () => {
	it( 'follows the source only after it has been still for the delay', async () => {
		vi.useFakeTimers();
		const source = ref( '' );
		const { debounced } = useDebounced( source, 150 );
		for ( const text of [ 'l', 'lo', 'lov' ] ) {
			source.value = text;
			await nextTick();
			vi.advanceTimersByTime( 100 );
		}
		expect( debounced.value, 'still typing: nothing yet' ).toBe( '' );
		vi.advanceTimersByTime( 50 );
		expect( debounced.value ).toBe( 'lov' );
	} );

	it( 'applies at once on flush and drops the pending value on cancel', async () => {
		vi.useFakeTimers();
		const source = ref( 'a' );
		const { debounced, flush, cancel } = useDebounced( source, 150 );
		source.value = 'ab';
		await nextTick();
		flush();
		expect( debounced.value ).toBe( 'ab' );
		source.value = 'abc';
		await nextTick();
		cancel();
		vi.advanceTimersByTime( 500 );
		expect( debounced.value ).toBe( 'ab' );
	} );

	it( 'stops its timer when the owning scope ends', async () => {
		vi.useFakeTimers();
		const scope = effectScope();
		const source = ref( 'a' );
		const result = scope.run( () => useDebounced( source, 150 ) )!;
		source.value = 'b';
		await nextTick();
		scope.stop();
		vi.advanceTimersByTime( 500 );
		expect( result.debounced.value ).toBe( 'a' );
	} );
} );
