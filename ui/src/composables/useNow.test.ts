import { describe, expect, it, vi } from 'vitest';
import { effectScope } from 'vue';
import { useNow } from './useNow';

describe( 'useNow', () => {
	it( 'ticks every interval and stops with its scope', () => {
		vi.useFakeTimers();
		vi.setSystemTime( new Date( '2024-01-01T00:00:00Z' ) );
		const scope = effectScope();
		const now = scope.run( () => useNow( 1000 ) )!;
		const start = now.value;
		vi.advanceTimersByTime( 3000 );
		expect( now.value - start ).toBe( 3000 );
		scope.stop();
		vi.advanceTimersByTime( 3000 );
		expect( now.value - start, 'no ticks after the scope stopped' ).toBe( 3000 );
	} );
} );
