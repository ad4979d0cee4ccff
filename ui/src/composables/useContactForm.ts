/**
 * State, validation and conversion for the contact form (create and edit).
 *
 * The draft keeps exactly what the user typed, including text still in a chip input
 * that has not become a chip, so nothing is lost when saving fails. `errors` holds one
 * message (key + parameters) per invalid field; `toInput()` produces the trimmed
 * `ContactInput` the backend expects.
 *
 *     const form = useContactForm( () => props.contact );
 *     if ( form.isValid.value ) await store.save( id, form.toInput() );
 */
import { computed, reactive, watch, type ComputedRef } from 'vue';
import { SCHEMA, type Contact, type ContactInput } from '@/api';

export const CONTACT_FIELDS = [
	'displayName', 'emails', 'phones', 'wikiUser', 'ircNick', 'language', 'organization', 'tags', 'notes'
] as const;
export type ContactField = ( typeof CONTACT_FIELDS )[ number ];

/** Identifier kinds the backend uses in `ContactIdentifier.kind`. */
export const IDENTIFIER_KINDS = [ 'wiki', 'irc', 'other' ] as const;
export type IdentifierKind = ( typeof IDENTIFIER_KINDS )[ number ];

export interface ContactDraft {
	displayName: string;
	emails: string[];
	/** Text typed in the email chip input and not yet turned into a chip. */
	emailText: string;
	phones: string[];
	phoneText: string;
	wikiUser: string;
	ircNick: string;
	language: string;
	organization: string;
	tags: string[];
	tagText: string;
	notes: string;
	/** Visible only to staff, administrators and people granted access. */
	restricted: boolean;
}

export interface FieldError {
	key: string;
	params: Array<string | number>;
	/** Shown as soon as it happens (a value too long), not only after a first try to save. */
	live?: true;
}

/**
 * The longest value of each field: what the store and the server accept (from the generated
 * schema), or less where the store is stricter (wiki usernames, IRC nicks).
 */
export const LIMITS = {
	displayName: SCHEMA.contact.display_name.max,
	email: SCHEMA.contact_email.address.max,
	phone: SCHEMA.contact_phone.number.max,
	wikiUser: 255,
	ircNick: 64,
	language: SCHEMA.contact.language.max,
	organization: SCHEMA.contact.organization.max,
	tags: SCHEMA.contact.tags.max,
	notes: SCHEMA.contact.notes.max
} as const;

/** Counts characters as the backend does (code points, not UTF-16 units). */
export function length( text: string ): number {
	return [ ...text ].length;
}

function tooLong( value: string, max: number ): FieldError | undefined {
	const n = length( value );
	return n > max ? { key: 'liaison-contact-form-too-long', params: [ max, n ], live: true } : undefined;
}

/** One `@`, something on both sides, a dot in the domain, no spaces. */
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
/** Digits with the usual separators, an optional leading +, an optional extension. */
export const PHONE_PATTERN = /^\+?[\d\s().\-/]*\d[\d\s().\-/]*(\s*(x|ext\.?)\s*\d+)?$/i;
/** BCP-47-ish: a 2–3 letter language, then subtags of 1–8 letters or digits ("en", "pt-BR", "zh-Hant-TW"). */
export const LANGUAGE_PATTERN = /^[a-z]{2,3}(-[a-z0-9]{1,8})*$/i;
/** Characters MediaWiki never allows in a user name. */
const WIKI_USER_FORBIDDEN = /[#<>[\]|{}\n\r\t]/;
const IRC_NICK_PATTERN = /^[^\s,]+$/;

export function emptyDraft(): ContactDraft {
	return {
		displayName: '',
		emails: [],
		emailText: '',
		phones: [],
		phoneText: '',
		wikiUser: '',
		ircNick: '',
		language: '',
		organization: '',
		tags: [],
		tagText: '',
		notes: '',
		restricted: false
	};
}

export function draftFromContact( contact: Contact ): ContactDraft {
	const identifier = ( kind: IdentifierKind ): string =>
		contact.identifiers.find( ( i ) => i.kind === kind )?.value ?? '';
	return {
		...emptyDraft(),
		displayName: contact.displayName,
		emails: contact.emails.map( ( e ) => e.address ),
		phones: contact.phones.map( ( p ) => p.number ),
		wikiUser: identifier( 'wiki' ),
		ircNick: identifier( 'irc' ),
		language: contact.language ?? '',
		organization: contact.organization ?? '',
		tags: [ ...contact.tags ],
		notes: contact.notes ?? '',
		restricted: contact.restricted
	};
}

/**
 * Splits chip-input text at commas, semicolons and line breaks (typed or pasted): the
 * finished parts become chips, the part after the last separator stays in the input.
 */
export function splitPending( text: string ): { complete: string[]; rest: string } {
	const parts = text.split( /[,;\n]/ );
	const rest = parts.pop() ?? '';
	return { complete: parts.map( ( p ) => p.trim() ).filter( ( p ) => p !== '' ), rest };
}

/** Chips plus the text not yet turned into one, trimmed and without duplicates. */
export function withPending( values: readonly string[], pending: string, caseInsensitive = false ): string[] {
	const out: string[] = [];
	const seen = new Set<string>();
	for ( const raw of [ ...values, ...pending.split( /[,;\n]/ ) ] ) {
		const value = raw.trim();
		const key = caseInsensitive ? value.toLowerCase() : value;
		if ( value !== '' && !seen.has( key ) ) {
			seen.add( key );
			out.push( value );
		}
	}
	return out;
}

function orNull( value: string ): string | null {
	const trimmed = value.trim();
	return trimmed === '' ? null : trimmed;
}

export function draftToInput( draft: ContactDraft ): ContactInput {
	return {
		displayName: draft.displayName.trim(),
		emails: withPending( draft.emails, draft.emailText, true ),
		phones: withPending( draft.phones, draft.phoneText ),
		wikiUser: orNull( draft.wikiUser ),
		ircNick: orNull( draft.ircNick ),
		language: orNull( draft.language ),
		organization: orNull( draft.organization ),
		tags: withPending( draft.tags, draft.tagText ),
		notes: draft.notes.trim() === '' ? null : draft.notes,
		restricted: draft.restricted
	};
}

/** Quotes a list of bad values for a message: “a”, “b”. */
function quoteAll( values: string[] ): string {
	return values.map( ( v ) => `“${ v }”` ).join( ', ' );
}

export function validateDraft( draft: ContactDraft ): Partial<Record<ContactField, FieldError>> {
	const input = draftToInput( draft );
	const errors: Partial<Record<ContactField, FieldError>> = {};
	if ( input.displayName === '' ) {
		errors.displayName = { key: 'liaison-contact-form-name-required', params: [] };
	}
	// Limits first: they hold however the value is spelled.
	const limited: Array<[ ContactField, string | null, number ]> = [
		[ 'displayName', input.displayName, LIMITS.displayName ],
		[ 'wikiUser', input.wikiUser, LIMITS.wikiUser ],
		[ 'ircNick', input.ircNick, LIMITS.ircNick ],
		[ 'language', input.language, LIMITS.language ],
		[ 'organization', input.organization, LIMITS.organization ],
		[ 'notes', input.notes, LIMITS.notes ]
	];
	for ( const [ field, value, max ] of limited ) {
		const error = value === null ? undefined : tooLong( value, max );
		if ( error ) {
			errors[ field ] = error;
		}
	}
	for ( const [ field, values, max ] of [ [ 'emails', input.emails, LIMITS.email ], [ 'phones', input.phones, LIMITS.phone ] ] as const ) {
		const long = values.find( ( v ) => length( v ) > max );
		if ( long !== undefined ) {
			errors[ field ] = { key: 'liaison-contact-form-item-too-long', params: [ max, long.slice( 0, 40 ) ], live: true };
		}
	}
	if ( input.tags.length > LIMITS.tags ) {
		errors.tags = { key: 'liaison-contact-form-tags-too-many', params: [ LIMITS.tags ], live: true };
	} else if ( input.tags.some( ( tag ) => length( tag ) > LIMITS.tags ) ) {
		const long = input.tags.find( ( tag ) => length( tag ) > LIMITS.tags ) ?? '';
		errors.tags = { key: 'liaison-contact-form-item-too-long', params: [ LIMITS.tags, long.slice( 0, 40 ) ], live: true };
	}
	const badEmails = input.emails.filter( ( e ) => !EMAIL_PATTERN.test( e ) );
	if ( badEmails.length > 0 && !errors.emails ) {
		errors.emails = { key: 'liaison-contact-form-email-invalid', params: [ quoteAll( badEmails ), badEmails.length ] };
	}
	const badPhones = input.phones.filter( ( p ) => !PHONE_PATTERN.test( p ) );
	if ( badPhones.length > 0 && !errors.phones ) {
		errors.phones = { key: 'liaison-contact-form-phone-invalid', params: [ quoteAll( badPhones ), badPhones.length ] };
	}
	if ( input.wikiUser !== null && !errors.wikiUser && WIKI_USER_FORBIDDEN.test( input.wikiUser ) ) {
		errors.wikiUser = { key: 'liaison-contact-form-wiki-user-invalid', params: [ input.wikiUser ] };
	}
	if ( input.ircNick !== null && !errors.ircNick && !IRC_NICK_PATTERN.test( input.ircNick ) ) {
		errors.ircNick = { key: 'liaison-contact-form-irc-nick-invalid', params: [ input.ircNick ] };
	}
	if ( input.language !== null && !errors.language && !LANGUAGE_PATTERN.test( input.language ) ) {
		errors.language = { key: 'liaison-contact-form-language-invalid', params: [ input.language ] };
	}
	return errors;
}

export interface UseContactForm {
	draft: ContactDraft;
	errors: ComputedRef<Partial<Record<ContactField, FieldError>>>;
	isValid: ComputedRef<boolean>;
	/** The first invalid field in form order, for focusing. */
	firstInvalid: ComputedRef<ContactField | null>;
	toInput: () => ContactInput;
	/** Back to the contact's saved values (or empty for a new contact). */
	reset: () => void;
}

export function useContactForm( source: () => Contact | null | undefined ): UseContactForm {
	const draft = reactive( emptyDraft() );

	function reset(): void {
		const contact = source();
		Object.assign( draft, contact ? draftFromContact( contact ) : emptyDraft() );
	}
	reset();
	// Another contact (not a re-fetch of the same one) means a different form.
	watch( () => source()?.id, reset );

	// Commas and semicolons finish a chip, as Enter does.
	for ( const [ text, list ] of [
		[ 'emailText', 'emails' ],
		[ 'phoneText', 'phones' ],
		[ 'tagText', 'tags' ]
	] as const ) {
		watch( () => draft[ text ], ( value ) => {
			const { complete, rest } = splitPending( value );
			if ( complete.length > 0 ) {
				draft[ list ] = withPending( [ ...draft[ list ], ...complete ], '' );
				draft[ text ] = rest;
			}
		} );
	}

	const errors = computed( () => validateDraft( draft ) );
	return {
		draft,
		errors,
		isValid: computed( () => Object.keys( errors.value ).length === 0 ),
		firstInvalid: computed( () => CONTACT_FIELDS.find( ( f ) => errors.value[ f ] ) ?? null ),
		toInput: () => draftToInput( draft ),
		reset
	};
}
