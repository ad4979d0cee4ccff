/**
 * Runs before every test file: replaces Tauri's IPC with the in-memory fake backend,
 * and gives each test a fresh backend, Pinia, English locale and window; what a test mounted
 * is unmounted after it.
 */
import { enableAutoUnmount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, vi } from 'vitest';
import { setLocale } from '@/i18n';
import { backend } from './fakeBackend';
import { resizeWindow } from './window';

vi.mock( '@tauri-apps/api/core', async () => {
	const fake = await import( './fakeBackend' );
	return {
		invoke: ( command: string, args?: Record<string, unknown> ) => fake.backend.invoke( command, args )
	};
} );

vi.mock( '@tauri-apps/api/event', async () => {
	const fake = await import( './fakeBackend' );
	return {
		listen: async ( event: string, callback: ( event: { payload: unknown } ) => void ) =>
			fake.backend.listen( event, callback )
	};
} );

// A mounted app left from an earlier test would still listen to the window (keyboard shortcuts).
enableAutoUnmount( afterEach );

beforeEach( () => {
	backend.reset();
	setActivePinia( createPinia() );
	setLocale( 'en' );
} );

afterEach( () => {
	vi.useRealTimers();
	document.body.innerHTML = '';
	// happy-dom's default window; a test of the narrow layout makes it smaller.
	resizeWindow( 1024, 768 );
} );
