import { describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { useVirtualList, type VirtualPage } from './useVirtualList';

function source( total: number ) {
	return vi.fn( async ( offset: number, limit: number ): Promise<VirtualPage<string>> => ( {
		items: Array.from( { length: Math.max( 0, Math.min( limit, total - offset ) ) }, ( _, i ) => `row ${ offset + i }` ),
		total
	} ) );
}

describe( 'useVirtualList', () => {
	it( 'renders only the rows in view plus overscan, out of 100 000', async () => {
		const fetchPage = source( 100_000 );
		const list = useVirtualList( { rowHeight: 40, fetchPage, overscan: 5 } );
		list.viewportHeight.value = 400;
		list.reset();
		await flushPromises();

		expect( list.total.value ).toBe( 100_000 );
		expect( list.contentHeight.value ).toBe( 4_000_000 );
		expect( list.rows.value.length, '11 visible + 5 overscan below' ).toBe( 16 );
		expect( list.rows.value[ 0 ] ).toEqual( { index: 0, item: 'row 0', top: 0 } );
		expect( fetchPage.mock.calls, 'one page of 200 from the top' ).toEqual( [ [ 0, 200 ] ] );
	} );

	it( 'fetches the pages around a scroll position by offset, once each', async () => {
		const fetchPage = source( 100_000 );
		const list = useVirtualList( { rowHeight: 40, fetchPage, overscan: 5 } );
		list.viewportHeight.value = 400;
		list.reset();
		await flushPromises();

		// Row 50 000 is at 2 000 000 px; with overscan the window spans rows 49 995–50 015,
		// which straddle pages 249 (49 800–49 999) and 250 (50 000–50 199).
		list.onScroll( { target: { scrollTop: 2_000_000, clientHeight: 400 } } as unknown as Event );
		await flushPromises();
		expect( fetchPage.mock.calls ).toEqual( [ [ 0, 200 ], [ 49_800, 200 ], [ 50_000, 200 ] ] );
		const rows = list.rows.value;
		expect( rows.length ).toBeLessThanOrEqual( 22 );
		expect( rows.find( ( r ) => r.index === 50_000 ) ).toEqual( { index: 50_000, item: 'row 50000', top: 2_000_000 } );
		expect( rows.every( ( r ) => r.item !== undefined ), 'all rows in view are loaded' ).toBe( true );

		// Scrolling a little within the same pages fetches nothing new.
		list.onScroll( { target: { scrollTop: 2_000_400, clientHeight: 400 } } as unknown as Event );
		await flushPromises();
		expect( fetchPage ).toHaveBeenCalledTimes( 3 );
	} );

	it( 'scales the scrollbar for lists taller than the browser allows, still reaching the last row', async () => {
		const fetchPage = source( 1_000_000 );
		const list = useVirtualList( { rowHeight: 40, fetchPage, maxScrollHeight: 1_000_000 } );
		list.viewportHeight.value = 400;
		list.reset();
		await flushPromises();
		expect( list.contentHeight.value ).toBe( 1_000_000 );

		list.onScroll( { target: { scrollTop: 1_000_000 - 400, clientHeight: 400 } } as unknown as Event );
		await flushPromises();
		const last = list.rows.value.at( -1 )!;
		expect( last.index ).toBe( 999_999 );
		expect( last.item ).toBe( 'row 999999' );
		expect( last.top + 40, 'the last row ends at the bottom of the viewport' ).toBeCloseTo( 1_000_000, 0 );
		expect( fetchPage.mock.calls.at( -1 ) ).toEqual( [ 999_800, 200 ] );
	} );

	it( 'drops responses that arrive after a reset (an old search)', async () => {
		let resolveOld: ( page: VirtualPage<string> ) => void = () => undefined;
		const fetchPage = vi.fn()
			.mockImplementationOnce( () => new Promise( ( resolve ) => {
				resolveOld = resolve;
			} ) )
			.mockImplementationOnce( async () => ( { items: [ 'new' ], total: 1 } ) );
		const list = useVirtualList<string>( { rowHeight: 40, fetchPage } );
		list.viewportHeight.value = 400;
		list.reset();
		list.reset();
		await flushPromises();
		resolveOld( { items: [ 'old', 'old' ], total: 2 } );
		await flushPromises();
		expect( list.total.value ).toBe( 1 );
		expect( list.rows.value.map( ( r ) => r.item ) ).toEqual( [ 'new' ] );
	} );

	it( 'keeps showing the old rows while a refresh reloads them in place', async () => {
		let version = 1;
		let release: () => void = () => undefined;
		const fetchPage = vi.fn( async ( offset: number ) => {
			if ( version > 1 ) {
				await new Promise<void>( ( resolve ) => {
					release = resolve;
				} );
			}
			return { items: [ `v${ version } ${ offset }` ], total: 1 };
		} );
		const list = useVirtualList<string>( { rowHeight: 40, fetchPage } );
		list.viewportHeight.value = 400;
		list.reset();
		await flushPromises();
		version = 2;
		list.refresh();
		await flushPromises();
		expect( list.rows.value[ 0 ]!.item, 'stale row stays until the new one arrives' ).toBe( 'v1 0' );
		release();
		await flushPromises();
		expect( list.rows.value[ 0 ]!.item ).toBe( 'v2 0' );
	} );

	it( 'reports errors without throwing', async () => {
		const onError = vi.fn();
		const list = useVirtualList( {
			rowHeight: 40,
			fetchPage: () => Promise.reject( { code: 'locked', message: 'locked' } ),
			onError
		} );
		list.reset();
		await flushPromises();
		expect( onError ).toHaveBeenCalledWith( { code: 'locked', message: 'locked' } );
		expect( list.error.value ).toEqual( { code: 'locked', message: 'locked' } );
		expect( list.loading.value ).toBe( false );
	} );

	it( 'scrolls just enough to show a row', async () => {
		const list = useVirtualList( { rowHeight: 40, fetchPage: source( 1000 ) } );
		list.viewportHeight.value = 400;
		list.reset();
		await flushPromises();
		list.scrollToIndex( 20 );
		expect( list.scrollTop.value, 'row 20 at the bottom edge' ).toBe( 21 * 40 - 400 );
		list.scrollToIndex( 5 );
		expect( list.scrollTop.value, 'row 5 at the top edge' ).toBe( 200 );
	} );
} );
