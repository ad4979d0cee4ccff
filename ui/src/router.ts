/**
 * Routes, and the rule that decides which screen the vault's state allows:
 * no vault → setup, locked → unlock, unlocked → contacts and the desk. Hash history, because the
 * app is served from tauri://localhost/index.html.
 */
import { createRouter, createWebHashHistory, type RouteLocationRaw, type RouteRecordName, type Router } from 'vue-router';
import { useVaultStore, type VaultPhase } from '@/stores/vault';
import AppLayout from '@/views/AppLayout.vue';
import ContactsView from '@/views/ContactsView.vue';
import DeskView from '@/views/DeskView.vue';
import SetupView from '@/views/SetupView.vue';
import StartupView from '@/views/StartupView.vue';
import UnlockView from '@/views/UnlockView.vue';

const CONTACT_ROUTES = [ 'contacts', 'contact', 'contact-new', 'contact-edit' ];
const DESK_ROUTES = [ 'desk', 'desk-queue', 'desk-case' ];

const ALLOWED: Record<VaultPhase, readonly RouteRecordName[]> = {
	unknown: [ 'startup' ],
	setup: [ 'setup' ],
	locked: [ 'unlock' ],
	unlocked: [ ...CONTACT_ROUTES, ...DESK_ROUTES ]
};

const HOME: Record<VaultPhase, RouteLocationRaw> = {
	unknown: { name: 'startup' },
	setup: { name: 'setup' },
	locked: { name: 'unlock' },
	unlocked: { name: 'contacts' }
};

/** Where to go instead of `name` in this vault phase, or null when `name` is allowed. */
export function redirectFor( phase: VaultPhase, name: RouteRecordName | null | undefined ): RouteLocationRaw | null {
	return name && ALLOWED[ phase ].includes( name ) ? null : HOME[ phase ];
}

export function createAppRouter( history = createWebHashHistory() ): Router {
	const router = createRouter( {
		history,
		routes: [
			{ path: '/startup', name: 'startup', component: StartupView },
			{ path: '/setup', name: 'setup', component: SetupView },
			{ path: '/unlock', name: 'unlock', component: UnlockView },
			{
				// The unlocked app: its frame (header, sync, lock) around each screen.
				path: '/',
				component: AppLayout,
				children: [
					{ path: '', redirect: { name: 'contacts' } },
					{ path: 'contacts', name: 'contacts', component: ContactsView },
					{ path: 'contacts/new', name: 'contact-new', component: ContactsView },
					{ path: 'contacts/:id', name: 'contact', component: ContactsView },
					{ path: 'contacts/:id/edit', name: 'contact-edit', component: ContactsView },
					// `:queue` is a queue's id, or `all`.
					{ path: 'desk', name: 'desk', component: DeskView },
					{ path: 'desk/:queue', name: 'desk-queue', component: DeskView },
					{ path: 'desk/:queue/:id', name: 'desk-case', component: DeskView }
				]
			},
			{ path: '/:pathMatch(.*)*', redirect: { name: 'contacts' } }
		]
	} );

	router.beforeEach( async ( to ) => {
		const vault = useVaultStore();
		if ( !vault.state && !vault.busy && !vault.error ) {
			await vault.load();
		}
		return redirectFor( vault.phase, to.name ) ?? true;
	} );

	return router;
}
