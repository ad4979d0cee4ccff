/**
 * End-to-end test of the real desktop app through WebDriver (tauri-driver +
 * WebKitWebDriver), run by the xtask harness, which starts Xvfb and tauri-driver (on
 * TAURI_DRIVER_PORT, default 4444) and sets:
 *   LIAISON_APP_BINARY       absolute path of the built app (UI embedded)
 *   LIAISON_EXPECT_DATA_DIR  the fresh, empty data directory the harness gave the app (through
 *                            tauri-driver's environment, which the app inherits)
 *   LIAISON_SCREENSHOT       where to save the screenshot of the contact detail (the desk's
 *                            goes beside it, as desk.png)
 *   LIAISON_E2E_SERVER_URL, LIAISON_E2E_FINGERPRINT, LIAISON_E2E_USER, LIAISON_E2E_PASSWORD
 *                            a real liaison-server started by the harness, and an account on it
 *   LIAISON_CLI_BINARY, LIAISON_E2E_SCRATCH
 *                            the `liaison` CLI and a directory for a second device, used to see
 *                            what the server received
 *   LIAISON_SERVER_BINARY, LIAISON_E2E_SERVER_DATA
 *                            the server's binary and data directory, for its admin commands
 *                            (a queue and its mailbox)
 *   LIAISON_MAIL_SERVERS_BINARY
 *                            `tests/examples/mail_servers`: a real Dovecot and aiosmtpd on
 *                            loopback, driven over stdin/stdout, for the desk's mail
 *   LIAISON_E2E_IDLE_LOCK_SECS
 *                            the idle timeout the harness gave the app (LIAISON_IDLE_LOCK_SECS),
 *                            long enough for every other step
 *
 * One session walks the first-run story: create a passphrase vault, add a contact,
 * find it by typing part of its name, open it, lock, unlock, and find it again; then, signed
 * in, the desk: a reader's mail becomes a case, answered with a canned reply using only the
 * keyboard, until the reader's mailbox holds it (and never the internal note).
 * Selectors are the data-testid attributes of the UI, nothing else. Every wait is a
 * condition with a generous timeout, never a fixed sleep.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
			// What the screen said when the step failed (a later step's screenshot overwrites
			// this one's, and CI keeps only the log).
			const screen = await browser?.execute( () => document.body?.innerText ?? '' ).catch( () => '' );
			if ( error instanceof Error && screen ) {
				error.message += `\nThe window showed:\n${ String( screen ).slice( 0, 2000 ) }`;
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
	mail?.stop();
} );

/** @type {{ request: ( body: object ) => Promise<any>, ready: Promise<any>, stop: () => void } | undefined} */
let mail;

/**
 * Dovecot and aiosmtpd through `tests/examples/mail_servers`: one JSON line when they are up
 * (their ports and the CA to trust), then one JSON answer per request line.
 */
function startMailServers() {
	const child = spawn( process.env.LIAISON_MAIL_SERVERS_BINARY, [
		'info-en@example.test=secret', 'reader@example.org=reader', '--deliver-to', 'reader@example.org'
	], { stdio: [ 'pipe', 'pipe', 'inherit' ] } );
	const lines = createInterface( { input: child.stdout } );
	const waiting = [];
	lines.on( 'line', ( line ) => waiting.shift()?.( JSON.parse( line ) ) );
	const next = () => new Promise( ( resolve ) => waiting.push( resolve ) );
	return {
		ready: next(),
		request( body ) {
			const answer = next();
			child.stdin.write( JSON.stringify( body ) + '\n' );
			return answer;
		},
		stop() {
			child.stdin.end();
		}
	};
}

/** Runs a `liaison-server` admin command on the test server's data directory. */
function serverAdmin( env, ...args ) {
	return execFileSync( process.env.LIAISON_SERVER_BINARY, [ ...args, '--data-dir', process.env.LIAISON_E2E_SERVER_DATA ], {
		env: { ...process.env, ...env }, encoding: 'utf8', stdio: [ 'ignore', 'pipe', 'pipe' ]
	} );
}

/** Presses keys as a person would, on whatever has the focus. */
async function press( ...keys ) {
	await browser.keys( keys );
}

/** The focused element's data-testid (or its tag name). */
function focused() {
	return browser.execute( () => document.activeElement?.getAttribute( 'data-testid' ) ?? document.activeElement?.closest( '[data-testid]' )?.getAttribute( 'data-testid' ) ?? document.activeElement?.tagName ?? null );
}

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

const SUBJECT = 'Error in the article about Ada';
const NOTE = 'Checked the sources; internal only.';

step( 'the desk: a reader\'s mail to the queue\'s mailbox becomes a case in the app', async () => {
	for ( const name of [ 'LIAISON_SERVER_BINARY', 'LIAISON_E2E_SERVER_DATA', 'LIAISON_MAIL_SERVERS_BINARY' ] ) {
		assert.ok( process.env[ name ], `${ name } must be set by the harness` );
	}
	mail = startMailServers();
	const servers = await mail.ready;
	serverAdmin( {}, 'queue', 'add', '--name', 'info-en', '--email', 'info-en@example.test', '--language', 'en',
		'--signature', 'Wikimedia Volunteer Response Team', '--sla', 'first_response=480' );
	const said = serverAdmin( { LIAISON_MAILBOX_PASSWORD: 'secret' }, 'queue', 'mailbox', 'set', 'info-en',
		'--imap', `imap://info-en@example.test@127.0.0.1:${ servers.imap_port }`, '--smtp', `smtp://127.0.0.1:${ servers.smtp_port }`,
		'--tls', 'starttls', '--ca-cert', servers.ca_cert );
	assert.match( said, /reads mail from 127\.0\.0\.1/ );
	cli( 'sync' );
	cli( 'canned', 'add', '--name', 'Thanks for writing', '--shortcut', 'thanks',
		'--text', 'en=Dear {{reader_name|reader}}, thank you for writing (case {{case_number}}).' );
	cli( 'sync' );
	const raw = [
		'From: Rita Reader <reader@example.org>', 'To: info-en@example.test', `Subject: ${ SUBJECT }`,
		'Message-ID: <rita-1@example.org>', 'Date: Tue, 01 Dec 2026 10:00:00 +0000', 'Content-Type: text/plain; charset=utf-8',
		'', 'The date of birth is wrong.', ''
	].join( '\r\n' );
	const appended = await mail.request( { op: 'append', address: 'info-en@example.test', raw } );
	assert.ok( appended.uid, `the reader's mail is in info-en's mailbox: ${ JSON.stringify( appended ) }` );

	// The conflict inbox of the step before is still open.
	await ( await browser.$( '.cdx-dialog__header__close-button' ) ).click();
	await browser.waitUntil( async () => ( await browser.$$( '.cdx-dialog' ) ).length === 0, {
		timeout: TIMEOUT, timeoutMsg: 'the conflict inbox did not close'
	} );
	await click( 'nav-desk' );
	await browser.waitUntil( async () => {
		await ( await $id( 'sync-button' ) ).click().catch( () => undefined );
		return browser.execute( ( subject ) => [ ...document.querySelectorAll( '[data-testid="case-row"]' ) ]
			.some( ( row ) => row.textContent.includes( subject ) ), SUBJECT );
	}, { timeout: 60_000, interval: 2_000, timeoutMsg: 'the reader\'s mail did not become a case in the desk within 60 s' } );
	const queue = await browser.$( '//*[@data-testid="desk-queue"][contains(., "info-en")]' );
	await browser.waitUntil( async () => ( await browser.execute( ( el ) => el.textContent, queue ) ).includes( '1 unanswered' ), {
		timeout: TIMEOUT, timeoutMsg: 'the sidebar does not count the unanswered case'
	} );
} );

step( 'answers the case with a canned reply using only the keyboard', async () => {
	// Nothing focused: the list's shortcuts take the keys (a focused button would take Enter).
	await browser.execute( () => document.activeElement?.blur() );
	await press( 'j' );
	await press( 'Enter' );
	const subject = await shown( 'case-subject' );
	assert.equal( await browser.execute( ( el ) => el.textContent, subject ), SUBJECT );
	await press( 'r' );
	await browser.waitUntil( async () => ( await focused() ) === 'composer-body', {
		timeout: TIMEOUT, timeoutMsg: '`r` did not put the focus in the composer'
	} );
	const composer = await shown( 'composer' );
	assert.equal( await composer.getAttribute( 'data-mode' ), 'reply', 'r writes a reply to the reader' );
	// Typed into the focused composer (WebDriver's element keys: one key event per character).
	const textarea = await browser.$( 'textarea[data-testid="composer-body"]' );
	await textarea.addValue( '::tha' );
	const picker = await shown( 'canned-picker' );
	await browser.waitUntil( async () => ( await picker.getAttribute( 'data-open' ) ) === 'true', {
		timeout: TIMEOUT, timeoutMsg: 'typing ::tha did not open the canned replies'
	} );
	await press( 'Enter' );
	await browser.waitUntil( async () => ( await textarea.getValue() ).includes( 'thank you for writing' ), {
		timeout: TIMEOUT, timeoutMsg: 'choosing the canned reply did not insert its text'
	} );
	const text = await textarea.getValue();
	assert.ok( text.startsWith( 'Dear Rita Reader' ), `filled in for the case: ${ text }` );
	assert.ok( !text.includes( '::' ), `the typed ::tha is replaced: ${ text }` );
	const canned = await shown( 'composer-canned' );
	assert.match( await browser.execute( ( el ) => el.textContent, canned ), /language: en/ );
	await press( 'Control', 'Enter' );
	await press( 'Control' );
	await browser.waitUntil( async () => ( await browser.$$( `${ byTestId( 'thread-message' ) }[data-kind="reply"]` ) ).length === 1, {
		timeout: TIMEOUT, timeoutMsg: 'Ctrl+Enter did not send the reply'
	} );
	assert.equal( await textarea.getValue(), '', 'the composer is empty and its draft gone' );
} );

step( 'adds an internal note with n, and sees the reply\'s delivery turn to sent', async () => {
	await browser.execute( () => document.activeElement?.blur() );
	await press( 'n' );
	await browser.waitUntil( async () => ( await focused() ) === 'composer-body', {
		timeout: TIMEOUT, timeoutMsg: '`n` did not put the focus in the composer'
	} );
	assert.equal( await ( await shown( 'composer' ) ).getAttribute( 'data-mode' ), 'note' );
	assert.match( await browser.execute( ( el ) => el.textContent, await shown( 'composer-send' ) ), /Add note/ );
	await ( await browser.$( 'textarea[data-testid="composer-body"]' ) ).addValue( NOTE );
	await press( 'Control', 'Enter' );
	await press( 'Control' );
	await browser.waitUntil( async () => ( await browser.$$( `${ byTestId( 'thread-message' ) }[data-kind="note"]` ) ).length === 1, {
		timeout: TIMEOUT, timeoutMsg: 'the note did not join the thread'
	} );
	const delivery = await shown( 'delivery-state' );
	await browser.waitUntil( async () => {
		if ( ( await delivery.getAttribute( 'data-state' ) ) === 'sent' ) {
			return true;
		}
		await ( await $id( 'sync-button' ) ).click().catch( () => undefined );
		return false;
	}, { timeout: 60_000, interval: 2_000, timeoutMsg: 'the reply\'s delivery did not turn to sent within 60 s' } );
	if ( process.env.LIAISON_SCREENSHOT ) {
		await afterTwoFrames();
		await browser.saveScreenshot( join( dirname( process.env.LIAISON_SCREENSHOT ), 'desk.png' ) );
	}
} );

step( 'the reader\'s mailbox holds exactly the one reply, threaded, and never the note', async () => {
	const { messages } = await mail.request( { op: 'messages', address: 'reader@example.org' } );
	assert.equal( messages.length, 1, 'one reply reached the reader' );
	const [ reply ] = messages;
	assert.match( reply, /^In-Reply-To: <rita-1@example\.org>/m, 'threaded under the reader\'s mail' );
	assert.match( reply, /^Subject: .*\[Liaison #\d+\]/m, 'with the case tag' );
	assert.match( reply, /Dear Rita Reader, thank you for writing/ );
	assert.match( reply, /Wikimedia Volunteer Response Team/, 'with the queue\'s signature' );
	assert.ok( !reply.includes( 'internal only' ), 'the internal note never reaches the mail server' );
} );

step( 'the reader writes again about the same thing: the second case is merged into the first', async () => {
	const again = [
		'From: Rita Reader <reader@example.org>', 'To: info-en@example.test', `Subject: Again: ${ SUBJECT }`,
		'Message-ID: <rita-2@example.org>', 'Date: Tue, 01 Dec 2026 12:00:00 +0000', 'Content-Type: text/plain; charset=utf-8',
		'', 'Still wrong, see my first mail.', ''
	].join( '\r\n' );
	const appended = await mail.request( { op: 'append', address: 'info-en@example.test', raw: again } );
	assert.ok( appended.uid, `the second mail is in info-en's mailbox: ${ JSON.stringify( appended ) }` );
	const second = await browser.$( `//*[@data-testid="case-row"][contains(., "Again: ${ SUBJECT }")]` );
	await browser.waitUntil( async () => {
		await ( await $id( 'sync-button' ) ).click().catch( () => undefined );
		return second.isExisting();
	}, { timeout: 60_000, interval: 2_000, timeoutMsg: 'the second mail did not become a case within 60 s' } );
	await second.click();
	await browser.waitUntil( async () => ( await browser.execute( ( el ) => el.textContent, await shown( 'case-subject' ) ) ) === `Again: ${ SUBJECT }`, {
		timeout: TIMEOUT, timeoutMsg: 'the second case did not open'
	} );
	// In a narrower window the side panel is folded above the thread: unfold it first.
	const fold = await browser.$( byTestId( 'case-side-fold' ) );
	if ( await fold.isExisting() && ( await fold.getAttribute( 'open' ) ) === null ) {
		await click( 'case-side-summary' );
	}
	await click( 'side-merge' );
	const search = await browser.$( `input${ byTestId( 'case-picker-search' ) }` );
	await search.waitForDisplayed( { timeout: TIMEOUT } );
	await search.setValue( 'Ada' );
	await press( 'Enter' );
	const result = await browser.$( byTestId( 'case-picker-result' ) );
	await result.waitForDisplayed( { timeout: TIMEOUT, timeoutMsg: 'the picker found no case to merge into' } );
	const offered = await browser.$$( byTestId( 'case-picker-result' ) );
	assert.equal( offered.length, 1, 'only the first case is offered: never the case itself' );
	// The native radio input is visually hidden by Codex; its label is what users click.
	await ( await result.$( 'label' ) ).click();
	await ( await browser.$( '.cdx-dialog__footer__primary-action' ) ).click();
	await ( await shown( 'case-picker-confirm' ) ).waitForDisplayed( { timeout: TIMEOUT } );
	await ( await browser.$( '.cdx-dialog__footer__primary-action' ) ).click();
	await browser.waitUntil( async () => ( await browser.execute( ( el ) => el.textContent, await shown( 'case-subject' ) ) ) === SUBJECT, {
		timeout: TIMEOUT, timeoutMsg: 'the merge did not open the surviving case'
	} );
	await browser.waitUntil( async () => ( await browser.$$( byTestId( 'message-origin' ) ) ).length > 0, {
		timeout: TIMEOUT, timeoutMsg: 'the survivor\'s thread does not mark the merged case\'s messages'
	} );
	const thread = await browser.execute( ( el ) => el.textContent, await shown( 'case-thread' ) );
	assert.ok( thread.includes( 'Still wrong, see my first mail.' ), 'the merged case\'s message is in the survivor\'s thread' );
	assert.ok( thread.includes( 'The date of birth is wrong.' ), 'beside the survivor\'s own' );
	const open = await mail.request( { op: 'messages', address: 'reader@example.org' } );
	assert.equal( open.messages.length, 1, 'merging sends nothing to the reader' );
	await click( 'nav-contacts' );
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
