/**
 * Formats a certificate fingerprint for people to compare by eye: upper-case hex in
 * pairs ("AB 12 CD …"), whatever separators the backend used. Anything that is not
 * hex is returned unchanged rather than guessed at.
 */
export function fingerprintPairs( fingerprint: string ): string[] {
	const hex = fingerprint.replace( /^sha-?256[:\s]*/i, '' ).replace( /[\s:-]/g, '' );
	if ( hex === '' || !/^[0-9a-f]+$/i.test( hex ) || hex.length % 2 !== 0 ) {
		return [ fingerprint ];
	}
	return hex.toUpperCase().match( /.{2}/g ) ?? [];
}

/**
 * Server addresses must be https:// with a host and no credentials in them: the
 * server's certificate is pinned by fingerprint, never skipped.
 */
export function isValidServerUrl( value: string ): boolean {
	try {
		const parsed = new URL( value.trim() );
		return parsed.protocol === 'https:' && parsed.hostname !== '' && !parsed.username && !parsed.password;
	} catch {
		return false;
	}
}
