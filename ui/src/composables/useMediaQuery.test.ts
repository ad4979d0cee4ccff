import { describe, expect, it } from 'vitest';
import { effectScope } from 'vue';
import { resizeWindow as resize } from '@/test/window';
import { useMediaQuery } from './useMediaQuery';

describe( 'useMediaQuery', () => {
	it( 'follows the window as it is resized, until its scope ends', () => {
		resize( 1280 );
		const scope = effectScope();
		const narrow = scope.run( () => useMediaQuery( '(max-width: 999px)' ) )!;
		expect( narrow.value ).toBe( false );
		resize( 720, 480 );
		expect( narrow.value, 'the minimum window is narrow' ).toBe( true );
		scope.stop();
		resize( 1280 );
		expect( narrow.value, 'no updates after the scope stopped' ).toBe( true );
	} );
} );
