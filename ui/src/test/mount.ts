/**
 * Mounts a component the way main.ts does (Pinia, i18n, optionally the router in
 * memory history), sharing the active Pinia with the test so it can inspect stores.
 */
import { flushPromises, mount, type ComponentMountingOptions } from '@vue/test-utils';
import { getActivePinia } from 'pinia';
import type { Component } from 'vue';
import { createMemoryHistory, type Router } from 'vue-router';
import { i18nPlugin } from '@/i18n';
import { createAppRouter } from '@/router';

export interface MountOptions {
	props?: Record<string, unknown>;
	/** Install the app router and navigate here first. */
	route?: string;
}

export async function mountApp( component: Component, options: MountOptions = {} ) {
	const pinia = getActivePinia();
	if ( !pinia ) {
		throw new Error( 'setup.ts should have activated a Pinia' );
	}
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	const plugins: any[] = [ pinia, [ i18nPlugin, { locale: 'en' } ] ];
	let router: Router | null = null;
	if ( options.route !== undefined ) {
		router = createAppRouter( createMemoryHistory() );
		plugins.push( router );
		await router.push( options.route );
		await router.isReady();
	}
	const mountOptions: ComponentMountingOptions<Component> = {
		props: options.props,
		attachTo: document.body,
		global: { plugins }
	};
	const wrapper = mount( component, mountOptions );
	await flushPromises();
	return { wrapper, router };
}

/** Lets pending promises and Vue updates settle. */
export async function settle(): Promise<void> {
	await flushPromises();
	await flushPromises();
}
