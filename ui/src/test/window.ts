/** The test window: happy-dom does no layout, but media queries follow its size. */

/** Resizes happy-dom's window (media queries follow); setup.ts puts it back to 1024 × 768. */
export function resizeWindow( width: number, height = 768 ): void {
	( window as unknown as { happyDOM: { setViewport: ( viewport: { width: number; height: number } ) => void } } )
		.happyDOM.setViewport( { width, height } );
}
