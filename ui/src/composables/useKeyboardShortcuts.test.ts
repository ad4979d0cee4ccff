import { describe, expect, it, vi } from 'vitest';
import { effectScope } from 'vue';
import { useKeyboardShortcuts } from './useKeyboardShortcuts';

function press( target: EventTarget, key: string, init: KeyboardEventInit = {} ): KeyboardEvent {
	const event = new KeyboardEvent( 'keydown', { key, bubbles: true, cancelable: true, ...init } );
	target.dispatchEvent( event );
	return event;
}

describe( 'useKeyboardShortcuts', () => {
	it( 'runs the handler of a key pressed outside any field, and stops with its scope', () => {
		const j = vi.fn();
		const scope = effectScope();
		scope.run( () => useKeyboardShortcuts( { j } ) );
		const event = press( document.body, 'j' );
		expect( j ).toHaveBeenCalledTimes( 1 );
		expect( event.defaultPrevented, 'the key does nothing else' ).toBe( true );
		press( document.body, 'x' );
		expect( j ).toHaveBeenCalledTimes( 1 );
		scope.stop();
		press( document.body, 'j' );
		expect( j, 'no shortcuts after the scope stopped' ).toHaveBeenCalledTimes( 1 );
	} );

	it( 'leaves typing alone: fields, text areas, dialogs and modified keys', () => {
		const r = vi.fn();
		const scope = effectScope();
		scope.run( () => useKeyboardShortcuts( { r } ) );
		document.body.innerHTML = '<input id="i"><textarea id="t"></textarea><div class="cdx-dialog"><button id="d">x</button></div>';
		press( document.getElementById( 'i' )!, 'r' );
		press( document.getElementById( 't' )!, 'r' );
		press( document.getElementById( 'd' )!, 'r' );
		press( document.body, 'r', { ctrlKey: true } );
		press( document.body, 'r', { metaKey: true } );
		expect( r ).not.toHaveBeenCalled();
		scope.stop();
	} );

	it( 'leaves Enter to the button or option that has the focus', () => {
		const enter = vi.fn();
		const scope = effectScope();
		scope.run( () => useKeyboardShortcuts( { Enter: enter } ) );
		document.body.innerHTML = '<button id="b">Go</button><div role="option" id="o">x</div>';
		press( document.getElementById( 'b' )!, 'Enter' );
		press( document.getElementById( 'o' )!, 'Enter' );
		expect( enter ).not.toHaveBeenCalled();
		press( document.body, 'Enter' );
		expect( enter ).toHaveBeenCalledTimes( 1 );
		scope.stop();
	} );
} );
