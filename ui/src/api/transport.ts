/**
 * The only module that talks to Tauri. Everything else in the UI calls the typed
 * wrappers in `./index.ts`, which call `call()` here.
 */
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { toApiError } from './errors';

/**
 * Invokes a Tauri command. Resolves with its result; rejects with an `ApiError`
 * (`{ code, message }`), whatever went wrong.
 */
export async function call<T>( command: string, args?: Record<string, unknown> ): Promise<T> {
	try {
		return await invoke<T>( command, args );
	} catch ( error ) {
		throw toApiError( error );
	}
}

/**
 * Subscribes to a backend event. Returns an unsubscribe function. Failing to subscribe
 * (e.g. outside Tauri) is not fatal: the UI also learns about the same changes from
 * command results and `locked` errors.
 */
export async function subscribe<T>( event: string, handler: ( payload: T ) => void ): Promise<() => void> {
	try {
		return await listen<T>( event, ( e ) => handler( e.payload ) );
	} catch {
		return () => undefined;
	}
}
