/**
 * Runs before every test file: replaces Tauri's IPC with the in-memory fake backend,
 * and gives each test a fresh backend, Pinia and English locale.
 */
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, vi } from 'vitest';
import { setLocale } from '@/i18n';
import { backend } from './fakeBackend';

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

beforeEach( () => {
	backend.reset();
	setActivePinia( createPinia() );
	setLocale( 'en' );
} );

afterEach( () => {
	vi.useRealTimers();
	document.body.innerHTML = '';
} );
