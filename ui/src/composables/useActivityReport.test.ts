import { describe, expect, it, vi } from 'vitest';
import { effectScope } from 'vue';
import { REPORT_EVERY_MS, useActivityReport } from './useActivityReport';

describe( 'useActivityReport', () => {
	it( 'reports the first activity at once, then at most once per interval', () => {
		vi.useFakeTimers();
		const target = new EventTarget();
		const report = vi.fn();
		useActivityReport( () => true, report, REPORT_EVERY_MS, target );
		target.dispatchEvent( new Event( 'pointermove' ) );
		expect( report ).toHaveBeenCalledTimes( 1 );
		for ( const name of [ 'keydown', 'pointerdown', 'wheel', 'pointermove' ] ) {
			vi.advanceTimersByTime( 1_000 );
			target.dispatchEvent( new Event( name ) );
		}
		expect( report, 'a burst of activity is one report' ).toHaveBeenCalledTimes( 1 );
		vi.advanceTimersByTime( REPORT_EVERY_MS );
		target.dispatchEvent( new Event( 'keydown' ) );
		expect( report, 'typing after the interval is reported again' ).toHaveBeenCalledTimes( 2 );
	} );

	it( 'reports nothing while the vault is locked', () => {
		vi.useFakeTimers();
		const target = new EventTarget();
		const report = vi.fn();
		let unlocked = false;
		useActivityReport( () => unlocked, report, REPORT_EVERY_MS, target );
		target.dispatchEvent( new Event( 'keydown' ) );
		expect( report, 'typing the passphrase is not activity in an open vault' ).not.toHaveBeenCalled();
		unlocked = true;
		target.dispatchEvent( new Event( 'keydown' ) );
		expect( report ).toHaveBeenCalledTimes( 1 );
	} );

	it( 'stops listening when its scope ends', () => {
		const target = new EventTarget();
		const report = vi.fn();
		const scope = effectScope();
		scope.run( () => useActivityReport( () => true, report, REPORT_EVERY_MS, target ) );
		scope.stop();
		target.dispatchEvent( new Event( 'pointerdown' ) );
		expect( report ).not.toHaveBeenCalled();
	} );
} );
