import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { makeContact } from '@/test/fakeBackend';
import {
	EMAIL_PATTERN,
	LANGUAGE_PATTERN,
	PHONE_PATTERN,
	draftFromContact,
	draftToInput,
	emptyDraft,
	splitPending,
	useContactForm,
	validateDraft
} from './useContactForm';

describe( 'contact form rules', () => {
	it.each( [ 'ada@example.org', 'a.b+tag@sub.example.co.uk', 'ünï@exämple.de' ] )( 'accepts the email %s', ( email ) => {
		expect( EMAIL_PATTERN.test( email ) ).toBe( true );
	} );

	it.each( [ 'ada', 'ada@', '@example.org', 'ada@example', 'a da@example.org', 'ada@@example.org', 'ada@example..org' ] )(
		'rejects the email %s', ( email ) => {
			expect( EMAIL_PATTERN.test( email ) ).toBe( false );
		} );

	it( 'accepts common phone and language formats', () => {
		for ( const phone of [ '+1 (555) 010-9999', '020 7946 0958', '+44-20-7946-0958 ext 12' ] ) {
			expect( PHONE_PATTERN.test( phone ), phone ).toBe( true );
		}
		expect( PHONE_PATTERN.test( 'call me' ) ).toBe( false );
		for ( const lang of [ 'en', 'pt-BR', 'zh-Hant-TW', 'gsw' ] ) {
			expect( LANGUAGE_PATTERN.test( lang ), lang ).toBe( true );
		}
		for ( const lang of [ 'english', 'e', 'pt_BR', 'en-' ] ) {
			expect( LANGUAGE_PATTERN.test( lang ), lang ).toBe( false );
		}
	} );

	it( 'requires a name and names every bad email', () => {
		const errors = validateDraft( { ...emptyDraft(), emails: [ 'ok@example.org', 'nope' ], emailText: 'also bad' } );
		expect( errors.displayName?.key ).toBe( 'liaison-contact-form-name-required' );
		expect( errors.emails ).toEqual( { key: 'liaison-contact-form-email-invalid', params: [ '“nope”, “also bad”', 2 ] } );
	} );

	it( 'turns a draft into trimmed input, counting text not yet made a chip', () => {
		const input = draftToInput( {
			...emptyDraft(),
			displayName: '  Ada  ',
			emails: [ 'ada@example.org' ],
			emailText: ' ADA@example.org, ada2@example.org ',
			tags: [ 'press' ],
			tagText: 'blp',
			wikiUser: ' ',
			notes: 'line one\nline two'
		} );
		expect( input ).toEqual( {
			displayName: 'Ada',
			emails: [ 'ada@example.org', 'ada2@example.org' ],
			phones: [],
			wikiUser: null,
			ircNick: null,
			language: null,
			organization: null,
			tags: [ 'press', 'blp' ],
			notes: 'line one\nline two',
			restricted: false
		} );
	} );

	it( 'reads identifiers of a saved contact back into the form', () => {
		const draft = draftFromContact( makeContact( {
			identifiers: [ { id: '1', kind: 'irc', value: 'ada_l' }, { id: '2', kind: 'wiki', value: 'Ada L' } ],
			language: 'en-GB'
		} ) );
		expect( draft.wikiUser ).toBe( 'Ada L' );
		expect( draft.ircNick ).toBe( 'ada_l' );
		expect( draft.language ).toBe( 'en-GB' );
	} );

	it( 'keeps a contact restricted through the form, and new contacts start unrestricted', () => {
		expect( emptyDraft().restricted ).toBe( false );
		const draft = draftFromContact( makeContact( { restricted: true } ) );
		expect( draft.restricted ).toBe( true );
		expect( draftToInput( draft ).restricted ).toBe( true );
	} );

	it( 'splits typed or pasted lists at commas and semicolons', () => {
		expect( splitPending( 'a@b.org, c@d.org;e' ) ).toEqual( { complete: [ 'a@b.org', 'c@d.org' ], rest: 'e' } );
		expect( splitPending( 'plain' ) ).toEqual( { complete: [], rest: 'plain' } );
	} );

	it( 'makes chips when a comma is typed', async () => {
		const form = useContactForm( () => null );
		form.draft.emailText = 'a@b.org,';
		await nextTick();
		expect( form.draft.emails ).toEqual( [ 'a@b.org' ] );
		expect( form.draft.emailText ).toBe( '' );
		expect( form.firstInvalid.value ).toBe( 'displayName' );
	} );
} );
