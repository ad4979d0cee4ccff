/**
 * The formatted version of a reader's mail, made safe to show: the HTML the backend sanitized
 * (no scripts, styles, forms, event handlers or remote images) goes into a minimal document
 * whose own Content Security Policy loads nothing from anywhere, for an `<iframe sandbox="">`
 * (no scripts, an opaque origin, no popups). The document has no `<base>`: nothing in it may
 * open a window. Its links are listed apart (`linksOf`) so that they open in the system's
 * browser through the desk, like every other link of a thread.
 */

/** Nothing is fetched; only inline images sent with the mail (`cid:`, `data:`) and inline styles. */
export const FORMATTED_CSP = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'";

/** The document for the frame's `srcdoc`, around the sanitized `html`. */
export function formattedDocument( html: string ): string {
	return '<!DOCTYPE html><html><head>' +
		`<meta http-equiv="Content-Security-Policy" content="${ FORMATTED_CSP }">` +
		'<meta name="referrer" content="no-referrer">' +
		'<meta name="color-scheme" content="light">' +
		`</head><body>${ html }</body></html>`;
}

export interface MailLink {
	/** The address it goes to (http or https only). */
	url: string;
	/** What the mail shows for it, when that is not the address itself. */
	text: string | null;
}

/** The web addresses the mail links to, once each, in their order (parsed inert: nothing loads or runs). */
export function linksOf( html: string ): MailLink[] {
	if ( typeof DOMParser === 'undefined' || !html ) {
		return [];
	}
	const parsed = new DOMParser().parseFromString( html, 'text/html' );
	const links = new Map<string, MailLink>();
	for ( const anchor of parsed.querySelectorAll( 'a[href]' ) ) {
		const url = ( anchor.getAttribute( 'href' ) ?? '' ).trim();
		if ( !/^https?:\/\/\S+$/i.test( url ) || links.has( url ) ) {
			continue;
		}
		const text = ( anchor.textContent ?? '' ).replace( /\s+/g, ' ' ).trim();
		links.set( url, { url, text: text && text !== url ? text : null } );
	}
	return [ ...links.values() ];
}
