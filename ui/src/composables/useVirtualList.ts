/**
 * Windowed rendering and paged loading for very long lists (hundreds of thousands of rows).
 *
 * Rows have a fixed height, so the row at any scroll offset is known without measuring.
 * Only the rows in view plus `overscan` rows on each side are returned in `rows`; the
 * data behind them is fetched in pages of `pageSize` by offset, on demand, and kept.
 * A response that arrives after `reset()` (e.g. the search query changed) is dropped.
 *
 * Browsers cap an element's height (WebKit at about 33 million px), so when
 * `total * rowHeight` exceeds `maxScrollHeight` the scrollbar is scaled: the spacer is
 * `maxScrollHeight` tall and scroll offsets are mapped proportionally onto rows.
 *
 *     const list = useVirtualList( {
 *         rowHeight: 56,
 *         fetchPage: ( offset, limit ) => api.list( offset, limit ),
 *     } );
 *     // template: <div :ref="list.container" @scroll="list.onScroll">
 *     //   <div :style="{ height: list.contentHeight + 'px' }"> rows at row.top … </div></div>
 *     list.reset();
 */
import {
	computed,
	getCurrentScope,
	onScopeDispose,
	ref,
	shallowRef,
	watch,
	type ComputedRef,
	type Ref,
	type ShallowRef
} from 'vue';

export interface VirtualPage<T> {
	items: T[];
	total: number;
}

export interface UseVirtualListOptions<T> {
	/** Height of every row in CSS pixels. */
	rowHeight: number;
	/** Loads `limit` items starting at `offset`; `total` is the full list length. */
	fetchPage: ( offset: number, limit: number ) => Promise<VirtualPage<T>>;
	/** Items per request. */
	pageSize?: number;
	/** Extra rows rendered above and below the viewport. */
	overscan?: number;
	/** Tallest spacer we create; beyond it the scrollbar is scaled. */
	maxScrollHeight?: number;
	onError?: ( error: unknown ) => void;
}

export interface VirtualRow<T> {
	index: number;
	/** `undefined` while its page is loading. */
	item: T | undefined;
	/** Offset from the top of the spacer, in px. */
	top: number;
}

export interface UseVirtualList<T> {
	/** Bind to the scrolling element (`ref` in the template). */
	container: Ref<HTMLElement | null>;
	rows: ComputedRef<Array<VirtualRow<T>>>;
	total: Readonly<Ref<number>>;
	/** Height of the spacer element inside the scroller. */
	contentHeight: ComputedRef<number>;
	/** True until the first page after a reset has arrived. */
	loading: Readonly<Ref<boolean>>;
	error: Readonly<ShallowRef<unknown>>;
	scrollTop: Ref<number>;
	viewportHeight: Ref<number>;
	onScroll: ( event: Event ) => void;
	/** Forget everything and load from the top (new query). */
	reset: () => void;
	/** Reload the pages in view, keeping the scroll position (data changed). */
	refresh: () => void;
	/** Scroll just enough to bring row `index` fully into view. */
	scrollToIndex: ( index: number ) => void;
	/** The loaded item at `index`, if any. */
	itemAt: ( index: number ) => T | undefined;
}

export function useVirtualList<T>( options: UseVirtualListOptions<T> ): UseVirtualList<T> {
	const rowHeight = options.rowHeight;
	const pageSize = options.pageSize ?? 200;
	const overscan = options.overscan ?? 10;
	const maxScrollHeight = options.maxScrollHeight ?? 8_000_000;

	const container = ref<HTMLElement | null>( null );
	const total = ref( 0 );
	const scrollTop = ref( 0 );
	const viewportHeight = ref( 0 );
	const loading = ref( false );
	const error = shallowRef<unknown>( null );
	// Pages are kept in a plain Map; `version` tells computeds that it changed.
	const pages = new Map<number, T[]>();
	// After refresh(), the previous pages stay on screen until their replacements arrive.
	const stale = new Map<number, T[]>();
	const inFlight = new Set<number>();
	const version = ref( 0 );
	let generation = 0;

	const fullHeight = computed( () => total.value * rowHeight );
	const contentHeight = computed( () => Math.min( fullHeight.value, maxScrollHeight ) );
	/** Virtual px per real scrolled px (1 unless the list is taller than the cap). */
	const scale = computed( () => {
		const scrollable = contentHeight.value - viewportHeight.value;
		if ( fullHeight.value <= contentHeight.value || scrollable <= 0 ) {
			return 1;
		}
		return ( fullHeight.value - viewportHeight.value ) / scrollable;
	} );
	const virtualScrollTop = computed( () => scrollTop.value * scale.value );

	const range = computed( () => {
		if ( total.value === 0 ) {
			return { start: 0, end: 0 };
		}
		const first = Math.floor( virtualScrollTop.value / rowHeight );
		const inView = Math.ceil( viewportHeight.value / rowHeight ) + 1;
		return {
			start: Math.max( 0, Math.min( first, total.value - 1 ) - overscan ),
			end: Math.min( total.value, first + inView + overscan )
		};
	} );

	const rows = computed( () => {
		void version.value;
		const { start, end } = range.value;
		const out: Array<VirtualRow<T>> = [];
		for ( let index = start; index < end; index++ ) {
			out.push( {
				index,
				item: itemAt( index ),
				top: index * rowHeight - virtualScrollTop.value + scrollTop.value
			} );
		}
		return out;
	} );

	function itemAt( index: number ): T | undefined {
		const page = Math.floor( index / pageSize );
		return ( pages.get( page ) ?? stale.get( page ) )?.[ index % pageSize ];
	}

	function fetch( page: number ): void {
		if ( pages.has( page ) || inFlight.has( page ) ) {
			return;
		}
		const requestGeneration = generation;
		inFlight.add( page );
		options.fetchPage( page * pageSize, pageSize ).then( ( result ) => {
			if ( requestGeneration !== generation ) {
				return;
			}
			pages.set( page, result.items );
			stale.delete( page );
			total.value = result.total;
			error.value = null;
			version.value++;
		}, ( failure: unknown ) => {
			if ( requestGeneration !== generation ) {
				return;
			}
			error.value = failure;
			options.onError?.( failure );
		} ).finally( () => {
			if ( requestGeneration === generation ) {
				inFlight.delete( page );
				loading.value = false;
			}
		} );
	}

	function fetchRange(): void {
		const { start, end } = range.value;
		if ( end <= start ) {
			return;
		}
		for ( let page = Math.floor( start / pageSize ); page <= Math.floor( ( end - 1 ) / pageSize ); page++ ) {
			fetch( page );
		}
	}

	watch( range, fetchRange );

	function startOver( keepScroll: boolean ): void {
		generation++;
		stale.clear();
		if ( keepScroll ) {
			for ( const [ page, items ] of pages ) {
				stale.set( page, items );
			}
		}
		pages.clear();
		inFlight.clear();
		error.value = null;
		loading.value = true;
		if ( !keepScroll ) {
			total.value = 0;
			setScrollTop( 0 );
		}
		version.value++;
		const { start, end } = range.value;
		// With nothing known yet, page 0 tells us the total; otherwise reload what is in view.
		if ( end > start ) {
			fetchRange();
		} else {
			fetch( 0 );
		}
	}

	function setScrollTop( px: number ): void {
		scrollTop.value = px;
		if ( container.value && container.value.scrollTop !== px ) {
			container.value.scrollTop = px;
		}
	}

	function scrollToIndex( index: number ): void {
		const top = index * rowHeight;
		const virtualTop = virtualScrollTop.value;
		let target: number | null = null;
		if ( top < virtualTop ) {
			target = top;
		} else if ( top + rowHeight > virtualTop + viewportHeight.value ) {
			target = top + rowHeight - viewportHeight.value;
		}
		if ( target !== null ) {
			setScrollTop( Math.max( 0, target / scale.value ) );
		}
	}

	function onScroll( event: Event ): void {
		const target = event.target as HTMLElement | null;
		if ( target ) {
			scrollTop.value = target.scrollTop;
			viewportHeight.value = target.clientHeight || viewportHeight.value;
		}
	}

	// Track the viewport's height; happy-dom and hidden elements report 0, so only
	// overwrite a height set by hand with a real measurement.
	let observer: ResizeObserver | null = null;
	watch( container, ( element ) => {
		observer?.disconnect();
		observer = null;
		if ( !element ) {
			return;
		}
		const measure = (): void => {
			if ( element.clientHeight > 0 ) {
				viewportHeight.value = element.clientHeight;
			}
		};
		measure();
		if ( typeof ResizeObserver !== 'undefined' ) {
			observer = new ResizeObserver( measure );
			observer.observe( element );
		}
	}, { flush: 'post' } );

	if ( getCurrentScope() ) {
		onScopeDispose( () => {
			observer?.disconnect();
			generation++;
		} );
	}

	return {
		container,
		rows,
		total,
		contentHeight,
		loading,
		error,
		scrollTop,
		viewportHeight,
		onScroll,
		reset: () => startOver( false ),
		refresh: () => startOver( true ),
		scrollToIndex,
		itemAt
	};
}
