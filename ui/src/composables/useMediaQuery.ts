/**
 * Whether a CSS media query matches, as a ref that follows the window (resizing it, moving it
 * to another screen).
 *
 * Layouts that change what is rendered, not only how (the desk shows one pane instead of three
 * in a narrow window), read it; pure styling stays in the stylesheet's own media queries.
 *
 *     const narrow = useMediaQuery( '(max-width: 999px)' );
 */
import { getCurrentScope, onScopeDispose, ref, type Ref } from 'vue';

export function useMediaQuery( query: string ): Readonly<Ref<boolean>> {
	if ( typeof window === 'undefined' || typeof window.matchMedia !== 'function' ) {
		return ref( false );
	}
	const list = window.matchMedia( query );
	const matches = ref( list.matches );
	const update = ( event: MediaQueryListEvent ): void => {
		matches.value = event.matches;
	};
	list.addEventListener( 'change', update );
	if ( getCurrentScope() ) {
		onScopeDispose( () => list.removeEventListener( 'change', update ) );
	}
	return matches;
}
