/**
 * Single-key shortcuts for a screen (`j`, `k`, `r` …) that stay out of the way of typing.
 *
 * A key counts only when nothing else wants it: not while the focus is in a text field, a
 * select or an editable element, not inside a dialog, not with Ctrl, Alt or Meta held (those
 * belong to the system and the browser), not when a control already handled it
 * (`defaultPrevented`), and Enter and Space not on a control that uses them itself (a button,
 * a link, a list option). Listens on the window while the calling scope lives.
 *
 *     useKeyboardShortcuts( { j: () => list.moveBy( 1 ), k: () => list.moveBy( -1 ) } );
 */
import { getCurrentScope, onScopeDispose } from 'vue';

export type ShortcutHandlers = Record<string, ( event: KeyboardEvent ) => void>;

const TYPING = 'input, textarea, select, [contenteditable=""], [contenteditable="true"], [role="textbox"], [role="combobox"]';
const OWN_ENTER = 'button, a[href], summary, [role="button"], [role="option"], [role="listbox"], [role="menuitem"], [role="tab"]';

/** Whether `event` is for the element it happened in rather than for a screen shortcut. */
export function belongsToControl( event: KeyboardEvent ): boolean {
	if ( event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing ) {
		return true;
	}
	const target = event.target instanceof Element ? event.target : null;
	if ( !target ) {
		return false;
	}
	if ( target.closest( TYPING ) || target.closest( '[role="dialog"], .cdx-dialog' ) ) {
		return true;
	}
	return ( event.key === 'Enter' || event.key === ' ' ) && !!target.closest( OWN_ENTER );
}

export function useKeyboardShortcuts( handlers: ShortcutHandlers ): void {
	function onKeydown( event: KeyboardEvent ): void {
		const handler = handlers[ event.key ];
		if ( !handler || belongsToControl( event ) ) {
			return;
		}
		event.preventDefault();
		handler( event );
	}
	window.addEventListener( 'keydown', onKeydown );
	if ( getCurrentScope() ) {
		onScopeDispose( () => window.removeEventListener( 'keydown', onKeydown ) );
	}
}
