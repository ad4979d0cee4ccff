/**
 * The one table from backend error code to what the UI says and does about it.
 *
 * The Rust side rejects every command with `{ code, message }`. The UI branches on
 * `code` only; `message` is English detail from Rust, shown under our own translated
 * text and never matched on. Adding a code to `ErrorCode` in bindings.ts without adding
 * it here is a compile error (see `ERROR_TABLE`'s type) and a test failure.
 */
import type { ApiError, ErrorCode } from './bindings';

/** Every `ErrorCode`, as a runtime list (the union itself disappears at run time). */
export const ERROR_CODES = [
	'invalid_input',
	'not_found',
	'bad_credentials',
	'unauthenticated',
	'device_revoked',
	'forbidden',
	'erased',
	'resync_required',
	'upgrade_required',
	'payload_too_large',
	'rate_limited',
	'locked',
	'wrong_passphrase',
	'corrupt_database',
	'no_vault',
	'vault_exists',
	'keychain_unavailable',
	'server_unreachable',
	'certificate_mismatch',
	'bad_response',
	'not_logged_in',
	'unavailable',
	'internal'
] as const satisfies readonly ErrorCode[];

// Fails to compile when ERROR_CODES misses a member of the generated union.
type MissingCodes = Exclude<ErrorCode, ( typeof ERROR_CODES )[ number ]>;
const allCodesListed: [ MissingCodes ] extends [ never ] ? true : MissingCodes = true;
void allCodesListed;

/** How loudly to show an error; the values are Codex message types. */
export const ERROR_SEVERITIES = [ 'error', 'warning', 'notice' ] as const;
export type ErrorSeverity = ( typeof ERROR_SEVERITIES )[ number ];

/**
 * What the UI should do besides showing the message.
 * - `retry`: the same action may work later (offer to try again)
 * - `fix-input`: the user must change what they typed
 * - `unlock`: the vault is locked; go to the unlock screen
 * - `setup`: no vault yet; go to first-run setup
 * - `sign-in`: the server session is gone; sign in again
 * - `use-passphrase`: keychain unusable; offer passphrase mode
 * - `update-app`: install a newer Liaison
 * - `contact-admin`: only a server admin can fix it
 * - `reload`: the item vanished; refresh the view
 * - `none`: nothing to offer
 */
export const ERROR_ACTIONS = [
	'none',
	'retry',
	'fix-input',
	'unlock',
	'setup',
	'sign-in',
	'use-passphrase',
	'update-app',
	'contact-admin',
	'reload'
] as const;
export type ErrorAction = ( typeof ERROR_ACTIONS )[ number ];

export interface ErrorInfo {
	/** i18n key of the user-facing explanation (in i18n/en.json). */
	messageKey: string;
	severity: ErrorSeverity;
	action: ErrorAction;
	/**
	 * The backend's message is a diagnosis for whoever fixes the problem (a socket error, a
	 * keychain's complaint), not something the person can act on: it is shown folded away.
	 */
	technical?: true;
}

export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorInfo>> = {
	invalid_input: { messageKey: 'liaison-error-invalid-input', severity: 'error', action: 'fix-input' },
	not_found: { messageKey: 'liaison-error-not-found', severity: 'warning', action: 'reload' },
	bad_credentials: { messageKey: 'liaison-error-bad-credentials', severity: 'error', action: 'fix-input' },
	unauthenticated: { messageKey: 'liaison-error-unauthenticated', severity: 'warning', action: 'sign-in' },
	device_revoked: { messageKey: 'liaison-error-device-revoked', severity: 'error', action: 'contact-admin' },
	forbidden: { messageKey: 'liaison-error-forbidden', severity: 'error', action: 'none' },
	erased: { messageKey: 'liaison-error-erased', severity: 'warning', action: 'reload' },
	resync_required: { messageKey: 'liaison-error-resync-required', severity: 'notice', action: 'retry' },
	upgrade_required: { messageKey: 'liaison-error-upgrade-required', severity: 'warning', action: 'update-app' },
	payload_too_large: { messageKey: 'liaison-error-payload-too-large', severity: 'error', action: 'fix-input' },
	rate_limited: { messageKey: 'liaison-error-rate-limited', severity: 'warning', action: 'retry' },
	locked: { messageKey: 'liaison-error-locked', severity: 'notice', action: 'unlock' },
	wrong_passphrase: { messageKey: 'liaison-error-wrong-passphrase', severity: 'error', action: 'fix-input' },
	corrupt_database: { messageKey: 'liaison-error-corrupt-database', severity: 'error', action: 'none', technical: true },
	no_vault: { messageKey: 'liaison-error-no-vault', severity: 'notice', action: 'setup' },
	vault_exists: { messageKey: 'liaison-error-vault-exists', severity: 'warning', action: 'unlock' },
	keychain_unavailable: { messageKey: 'liaison-error-keychain-unavailable', severity: 'warning', action: 'use-passphrase', technical: true },
	server_unreachable: { messageKey: 'liaison-error-server-unreachable', severity: 'warning', action: 'retry', technical: true },
	certificate_mismatch: { messageKey: 'liaison-error-certificate-mismatch', severity: 'error', action: 'contact-admin' },
	bad_response: { messageKey: 'liaison-error-bad-response', severity: 'error', action: 'retry', technical: true },
	not_logged_in: { messageKey: 'liaison-error-not-logged-in', severity: 'notice', action: 'sign-in' },
	unavailable: { messageKey: 'liaison-error-unavailable', severity: 'warning', action: 'retry', technical: true },
	internal: { messageKey: 'liaison-error-internal', severity: 'error', action: 'none', technical: true }
};

export function isErrorCode( value: unknown ): value is ErrorCode {
	return typeof value === 'string' && ( ERROR_CODES as readonly string[] ).includes( value );
}

/** True for a well-formed `{ code, message }` rejection from the backend. */
export function isApiError( value: unknown ): value is ApiError {
	if ( typeof value !== 'object' || value === null ) {
		return false;
	}
	const candidate = value as Record<string, unknown>;
	return isErrorCode( candidate.code ) && typeof candidate.message === 'string';
}

/**
 * Turns anything a rejected `invoke` can produce into an `ApiError`: our own shape passes
 * through; a Tauri-level failure (unknown command, missing IPC when the UI runs in a plain
 * browser, a panic) becomes `internal` with the original text as detail.
 */
export function toApiError( value: unknown ): ApiError {
	if ( isApiError( value ) ) {
		return { code: value.code, message: value.message };
	}
	let message: string;
	if ( value instanceof Error ) {
		message = value.message;
	} else if ( typeof value === 'string' ) {
		message = value;
	} else {
		try {
			message = JSON.stringify( value ) ?? String( value );
		} catch {
			message = String( value );
		}
	}
	return { code: 'internal', message };
}

export function describeError( error: ApiError ): ErrorInfo {
	return ERROR_TABLE[ error.code ] ?? ERROR_TABLE.internal;
}
