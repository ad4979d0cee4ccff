/**
 * End-to-end test of the real desktop app through WebDriver (tauri-driver +
 * WebKitWebDriver), run by the xtask harness, which starts Xvfb and tauri-driver (on
 * TAURI_DRIVER_PORT, default 4444) and sets:
 *   LIAISON_APP_BINARY       absolute path of the built app (UI embedded)
 *   LIAISON_EXPECT_DATA_DIR  the fresh, empty data directory the harness gave the app (through
 *                            tauri-driver's environment, which the app inherits)
 *   LIAISON_SCREENSHOT       where to save the screenshot of the contact detail
 *   LIAISON_E2E_SERVER_URL, LIAISON_E2E_FINGERPRINT, LIAISON_E2E_USER, LIAISON_E2E_PASSWORD
 *                            a real liaison-server started by the harness, and an account on it
 *   LIAISON_CLI_BINARY, LIAISON_E2E_SCRATCH
 *                            the `liaison` CLI and a directory for a second device, used to see
 *                            what the server received
 *   LIAISON_E2E_IDLE_LOCK_SECS
 *                            the idle timeout the harness gave the app (LIAISON_IDLE_LOCK_SECS),
 *                            long enough for every other step
 *
 * One session walks the first-run story: create a passphrase vault, add a contact,
 * find it by typing part of its name, open it, lock, unlock, and find it again.
 * Selectors are the data-testid attributes of the UI, nothing else. Every wait is a
 * condition with a generous timeout, never a fixed sleep.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { remote } from 'webdriverio';

const TIMEOUT = 15_000;
const PASSPHRASE = 'correct horse battery staple';
const NAME = 'Ada Lovelace';
const EMAIL = 'ada@example.org';

/** @type {WebdriverIO.Browser | undefined} */
let browser;
let failed = false;

const byTestId = ( id ) => `[data-testid="${ id }"]`;
const $id = ( id ) => browser.$( byTestId( id ) );

async function shown( id ) {
	const element = await $id( id );
	await element.waitForDisplayed( { timeout: TIMEOUT, timeoutMsg: `${ id } not shown within ${ TIMEOUT } ms` } );
	return element;
}

async function click( id ) {
	const element = await shown( id );
	await element.waitForClickable( { timeout: TIMEOUT } );
	await element.click();
}

/**
 * How many rows of the contact list contain `text`, read inside the page in one step: the list
 * re-renders while syncs land, and element handles fetched one by one can go stale in between.
 */
function countRowsContaining( text ) {
	return browser.execute(
		( selector, wanted ) => Array.from( document.querySelectorAll( selector ) )
			.filter( ( row ) => row.textContent.includes( wanted ) ).length,
		byTestId( 'contact-row' ),
		text
	);
}

/** The first row of the contact list containing `text` (an element handle, to click). */
function rowContaining( text ) {
	return browser.$( `//*[@data-testid="contact-row"][contains(., ${ JSON.stringify( text ) })]` );
}

async function waitForRow( text, what ) {
	await browser.waitUntil( async () => ( await countRowsContaining( text ) ) > 0, {
		timeout: TIMEOUT,
		timeoutMsg: `${ what }: no contact row with "${ text }"`
	} );
	return rowContaining( text );
}

/** A screenshot taken right after a change can show the previous frame: wait two frames. */
async function afterTwoFrames() {
	await browser.execute( () => {
		window.__liaisonFrames = 0;
		requestAnimationFrame( () => requestAnimationFrame( () => {
			window.__liaisonFrames = 2;
		} ) );
	} );
	await browser.waitUntil( () => browser.execute( () => window.__liaisonFrames === 2 ), {
		timeout: TIMEOUT,
		timeoutMsg: 'two animation frames did not pass'
	} );
}

/** Runs a step unless an earlier one failed (later steps depend on it). */
function step( name, body ) {
	test( name, async ( t ) => {
		if ( failed ) {
			t.skip( 'an earlier step failed' );
			return;
		}
		try {
			await body();
		} catch ( error ) {
			failed = true;
			if ( process.env.LIAISON_SCREENSHOT && browser ) {
				const path = process.env.LIAISON_SCREENSHOT.replace( /(\.png)?$/, '-failure.png' );
				await browser.saveScreenshot( path ).catch( () => undefined );
			}
			throw error;
		}
	} );
}

before( async () => {
	assert.ok( process.env.LIAISON_APP_BINARY, 'LIAISON_APP_BINARY must be the absolute path of the built app' );
	browser = await remote( {
		hostname: '127.0.0.1',
		port: Number( process.env.TAURI_DRIVER_PORT || 4444 ),
		logLevel: 'warn',
		connectionRetryTimeout: 60_000,
		waitforTimeout: TIMEOUT,
		capabilities: {
			'tauri:options': { application: process.env.LIAISON_APP_BINARY },
			// WebKitWebDriver speaks classic WebDriver only.
			'wdio:enforceWebDriverClassic': true
		}
	} );
} );

after( async () => {
	await browser?.deleteSession().catch( () => undefined );
} );

step( 'first run: creates a passphrase vault', async () => {
	// The native radio input is visually hidden by Codex; its label is what users click.
	const choice = await ( await shown( 'setup-mode-passphrase' ) ).$( 'label' );
	await choice.click();
	await ( await shown( 'setup-passphrase' ) ).setValue( PASSPHRASE );
	await ( await shown( 'setup-passphrase-confirm' ) ).setValue( PASSPHRASE );
	await click( 'setup-create' );
	// Argon2id takes about half a second; the contacts screen follows.
	await shown( 'contact-new' );
	await shown( 'lock-button' );
	const dataDir = process.env.LIAISON_EXPECT_DATA_DIR;
	if ( dataDir ) {
		assert.ok( existsSync( join( dataDir, 'vault.json' ) ), `the app must use the fresh profile in ${ dataDir }, not a person's real one` );
	}
} );

step( 'adds a contact with an email chip', async () => {
	await click( 'contact-new' );
	await ( await shown( 'contact-form-name' ) ).setValue( NAME );
	const emails = await shown( 'contact-form-emails' );
	await emails.click();
	await emails.setValue( EMAIL );
	await browser.keys( 'Enter' );
	await browser.waitUntil( async () => ( await emails.getValue() ) === '', {
		timeout: TIMEOUT,
		timeoutMsg: 'Enter did not turn the email into a chip'
	} );
	await click( 'contact-form-save' );
	await browser.waitUntil( async () => ( await ( await $id( 'contact-detail-name' ) ).isDisplayed() ) &&
		( await ( await $id( 'contact-detail-name' ) ).getText() ) === NAME, {
		timeout: TIMEOUT,
		timeoutMsg: 'the saved contact was not shown'
	} );
	assert.equal( await ( await $id( 'form-error' ) ).isExisting(), false, 'no error message after saving' );
	await waitForRow( NAME, 'after saving' );
} );

step( 'finds the contact by typing part of its name', async () => {
	const search = await shown( 'contact-search' );
	await search.click();
	await search.clearValue();
	await search.setValue( 'lov' );
	const list = await shown( 'contact-list' );
	await browser.waitUntil( async () => ( await list.getAttribute( 'data-query' ) ) === 'lov' &&
		( await list.getAttribute( 'aria-busy' ) ) === 'false', {
		timeout: TIMEOUT,
		timeoutMsg: 'the search for "lov" did not complete'
	} );
	const row = await waitForRow( NAME, 'search "lov"' );
	assert.ok( ( await row.getText() ).includes( EMAIL ), 'the row shows the primary email' );
} );

step( 'opens the contact and takes a screenshot', async () => {
	const row = await waitForRow( NAME, 'before opening' );
	await row.click();
	const detail = await shown( 'contact-detail' );
	await browser.waitUntil( async () => ( await ( await $id( 'contact-detail-name' ) ).getText() ) === NAME, {
		timeout: TIMEOUT,
		timeoutMsg: 'the detail did not show the contact'
	} );
	assert.ok( ( await detail.getText() ).includes( EMAIL ), 'the detail shows the email' );
	await afterTwoFrames();
	if ( process.env.LIAISON_SCREENSHOT ) {
		await browser.saveScreenshot( process.env.LIAISON_SCREENSHOT );
	}
} );

step( 'in the smallest window, 720 × 480, every action on the open contact is in view', async () => {
	await browser.setWindowSize( 720, 480 );
	await browser.waitUntil( () => browser.execute( () => window.innerWidth <= 720 ), {
		timeout: TIMEOUT,
		timeoutMsg: 'the window did not shrink to 720 × 480'
	} );
	await afterTwoFrames();
	const cutOff = await browser.execute( ( selector ) => {
		const width = document.documentElement.clientWidth;
		return Array.from( document.querySelectorAll( `${ selector } button` ) )
			.filter( ( button ) => {
				const box = button.getBoundingClientRect();
				return box.left < 0 || box.right > width + 0.5;
			} )
			.map( ( button ) => button.textContent.trim() );
	}, byTestId( 'contact-detail' ) );
	assert.deepEqual( cutOff, [], 'buttons that run off the window' );
	await browser.setWindowSize( 1200, 780 );
} );

step( 'locks, and the contact data leaves the screen', async () => {
	await click( 'lock-button' );
	await shown( 'unlock-passphrase' );
	const text = await ( await browser.$( 'body' ) ).getText();
	assert.ok( !text.includes( NAME ), 'no contact data visible while locked' );
} );

step( 'unlocks with the passphrase and the contact is still there', async () => {
	const input = await shown( 'unlock-passphrase' );
	await input.setValue( PASSPHRASE );
	await click( 'unlock-submit' );
	await shown( 'contact-list' );
	await waitForRow( NAME, 'after unlocking' );
} );

/** Runs the `liaison` CLI as the device whose data directory is `dir`; returns stdout. */
function cliAt( dir, ...args ) {
	const env = {
		...process.env,
		LIAISON_PASSPHRASE: 'second device passphrase',
		LIAISON_PASSWORD: process.env.LIAISON_E2E_PASSWORD,
		LIAISON_DATA_DIR: dir
	};
	return execFileSync( process.env.LIAISON_CLI_BINARY, args, { env, encoding: 'utf8', stdio: [ 'ignore', 'pipe', 'pipe' ] } );
}

/** Runs the `liaison` CLI as a second device; returns stdout. */
function cli( ...args ) {
	return cliAt( process.env.LIAISON_E2E_SCRATCH, ...args );
}

const normalised = ( fingerprint ) => fingerprint.replace( /[^0-9a-f]/gi, '' ).toLowerCase();

step( 'signs in to a server after showing its certificate fingerprint', async () => {
	for ( const name of [ 'LIAISON_E2E_SERVER_URL', 'LIAISON_E2E_FINGERPRINT', 'LIAISON_CLI_BINARY', 'LIAISON_E2E_SCRATCH' ] ) {
		assert.ok( process.env[ name ], `${ name } must be set by the harness` );
	}
	await click( 'sync-signin' );
	await ( await shown( 'signin-url' ) ).setValue( process.env.LIAISON_E2E_SERVER_URL );
	await ( await shown( 'signin-user' ) ).setValue( process.env.LIAISON_E2E_USER );
	await ( await shown( 'signin-password' ) ).setValue( process.env.LIAISON_E2E_PASSWORD );
	await ( await browser.$( '.cdx-dialog__footer__primary-action' ) ).click();
	const shownFingerprint = await ( await shown( 'fingerprint' ) ).getText();
	assert.equal( normalised( shownFingerprint ), normalised( process.env.LIAISON_E2E_FINGERPRINT ),
		'the dialog shows the fingerprint the server printed, for the person to compare' );
	await ( await browser.$( '.cdx-dialog__footer__primary-action' ) ).click();
	await shown( 'sync-button' );
} );

step( 'background sync sends the contact to the server', async () => {
	// A second device signs in with the CLI and pulls until the contact made in the app arrives.
	cli( 'init', '--passphrase' );
	cli( 'login', process.env.LIAISON_E2E_SERVER_URL, '--user', process.env.LIAISON_E2E_USER, '--fingerprint', process.env.LIAISON_E2E_FINGERPRINT );
	let found = [];
	await browser.waitUntil( async () => {
		cli( 'sync' );
		found = JSON.parse( cli( 'contact', 'search', 'lovelace', '--json' ) );
		return found.length === 1;
	}, { timeout: 30_000, interval: 1_000, timeoutMsg: 'the contact did not reach the server by background sync within 30 s' } );
	assert.equal( found[ 0 ].display_name, NAME );
	assert.equal( found[ 0 ].primary_email, EMAIL );
	// The app learns of its own background sync through events: the header ends up "Up to date".
	const status = await shown( 'sync-status' );
	await browser.waitUntil( async () => ( await status.getAttribute( 'data-state' ) ) === 'up-to-date', {
		timeout: TIMEOUT,
		timeoutMsg: 'the sync status did not reach "up to date" after the background sync'
	} );
	// (textContent: WebKitWebDriver's getText() returns nothing for this live region.)
	await browser.waitUntil( async () => ( await browser.execute( ( el ) => el.textContent, status ) ).includes( 'Up to date' ), {
		timeout: TIMEOUT,
		timeoutMsg: 'the status line does not say "Up to date"'
	} );
} );

step( 'the sync ledger shows the contact\'s changes accepted by the server', async () => {
	await click( 'sync-ledger-open' );
	await browser.waitUntil( async () => {
		const entries = await browser.$$( byTestId( 'ledger-entry' ) );
		if ( entries.length < 2 ) {
			return false;
		}
		for ( const entry of entries ) {
			const state = await entry.getAttribute( 'data-state' );
			const text = await browser.execute( ( el ) => el.textContent, entry );
			if ( state !== 'accepted' || !text.includes( NAME ) ) {
				return false;
			}
		}
		return true;
	}, { timeout: TIMEOUT, timeoutMsg: 'the ledger did not list the contact and its email as accepted' } );
} );

step( 'a staff member erases the contact from the app, and it leaves every device', async () => {
	await browser.keys( 'Escape' ); // close the ledger
	await ( await $id( 'ledger-list' ) ).waitForDisplayed( { reverse: true, timeout: TIMEOUT, timeoutMsg: 'the ledger did not close' } );
	const row = await waitForRow( NAME, 'before erasing' );
	await row.waitForClickable( { timeout: TIMEOUT } );
	await row.click();
	await click( 'contact-erase' );
	const confirm = await browser.$( '.liaison-contact-erase .cdx-dialog__footer__primary-action' );
	await confirm.waitForClickable( { timeout: TIMEOUT } );
	await confirm.click();
	await browser.waitUntil( async () => ( await countRowsContaining( NAME ) ) === 0, {
		timeout: TIMEOUT,
		timeoutMsg: 'the erased contact is still listed in the app'
	} );
	// The second device loses it at its next sync.
	let found = [ 'not yet' ];
	await browser.waitUntil( async () => {
		cli( 'sync' );
		found = JSON.parse( cli( 'contact', 'search', 'lovelace', '--json' ) );
		return found.length === 0;
	}, { timeout: 30_000, interval: 1_000, timeoutMsg: 'the second device still has the erased contact' } );
} );

step( 'a conflict between two other devices reaches the app\'s inbox and is resolved there', async () => {
	// A third device (CLI) joins; it and the second device edit one field offline.
	const third = mkdtempSync( join( tmpdir(), 'liaison-third-' ) );
	cliAt( third, 'init', '--passphrase' );
	cliAt( third, 'login', process.env.LIAISON_E2E_SERVER_URL, '--user', process.env.LIAISON_E2E_USER, '--fingerprint', process.env.LIAISON_E2E_FINGERPRINT );
	const id = cli( 'contact', 'add', '--name', 'Grace Hopper', '--org', 'Navy' ).trim();
	cli( 'sync' );
	cliAt( third, 'sync' );
	cliAt( third, 'contact', 'edit', id, '--org', 'Harvard' );
	cli( 'contact', 'edit', id, '--org', 'Yale' );
	cli( 'sync' ); // Yale, the newer edit, wins
	cliAt( third, 'sync' ); // Harvard loses: the server records a conflict
	const onThird = JSON.parse( cliAt( third, 'conflicts', 'list', '--json' ) );
	assert.equal( onThird.length, 1, 'the CLI device sees the conflict' );

	await click( 'sync-button' );
	await click( 'conflicts-status' );
	const item = await shown( 'conflict-item' );
	await browser.waitUntil( async () => {
		const text = await browser.execute( ( el ) => el.textContent, item );
		return text.includes( 'Yale' ) && text.includes( 'Harvard' ) && text.includes( 'Grace Hopper' );
	}, { timeout: TIMEOUT, timeoutMsg: 'the inbox does not show both values side by side with the contact' } );
	// The app's user is a third party here: "mine" is the current value (Yale); keep the other.
	await click( 'conflict-keep-theirs' );
	await shown( 'conflicts-empty' );
	let org = '';
	await browser.waitUntil( async () => {
		cli( 'sync' );
		org = JSON.parse( cli( 'contact', 'show', id, '--json' ) ).organization;
		return org === 'Harvard';
	}, { timeout: 30_000, interval: 1_000, timeoutMsg: `the resolution did not reach the other device (organisation is ${ org })` } );
	assert.deepEqual( JSON.parse( cli( 'conflicts', 'list', '--json' ) ), [], 'and the conflict is closed there too' );
} );

step( 'left alone, the vault locks itself and the contact data leaves the screen', async () => {
	const idleSecs = Number( process.env.LIAISON_E2E_IDLE_LOCK_SECS );
	assert.ok( idleSecs > 0, 'LIAISON_E2E_IDLE_LOCK_SECS must be set by the harness' );
	await waitForRow( 'Grace Hopper', 'before going idle' );
	// No clicks or keys from here on: only the idle timeout (plus one check, 5 s) can lock it.
	await ( await $id( 'unlock-passphrase' ) ).waitForDisplayed( {
		timeout: ( idleSecs + 20 ) * 1000,
		interval: 1_000,
		timeoutMsg: `the vault did not lock itself within ${ idleSecs + 20 } s of no activity`
	} );
	const text = await ( await browser.$( 'body' ) ).getText();
	assert.ok( !text.includes( 'Grace Hopper' ), 'no contact data visible once the vault locked itself' );
	await ( await shown( 'unlock-passphrase' ) ).setValue( PASSPHRASE );
	await click( 'unlock-submit' );
	await waitForRow( 'Grace Hopper', 'after unlocking again' );
} );
