/**
 * The desk's fixed sizes and timings, and the message key of each wire value it shows (states,
 * priorities, channels, views …). The keys are spelled out so that the catalogue check finds
 * them; a value without a key (a queue's own state, say) is shown as it is.
 */
import { SCHEMA, type CaseSort, type CaseView, type ComposerMode, type RelatedCase } from '@/api';

/** Fixed row height of the case list in px: two lines of text plus padding. */
export const CASE_ROW_HEIGHT = 60;

/** Search waits this long after the last keystroke. */
export const CASE_SEARCH_DEBOUNCE_MS = 250;

/** Below this window width the desk shows one pane at a time (the list, or the open case). */
export const NARROW_QUERY = '(max-width: 999px)';

/** From this width the case's reader and their other cases get a column of their own. */
export const WIDE_QUERY = '(min-width: 1400px)';

export const VIEW_LABELS: Record<CaseView, string> = {
	unanswered: 'liaison-desk-view-unanswered',
	mine: 'liaison-desk-view-mine',
	unassigned: 'liaison-desk-view-unassigned',
	overdue: 'liaison-desk-view-overdue',
	due_today: 'liaison-desk-view-due-today',
	waiting: 'liaison-desk-view-waiting',
	open: 'liaison-desk-view-open',
	all: 'liaison-desk-view-all'
};

export const SORT_LABELS: Record<CaseSort, string> = {
	updated: 'liaison-desk-sort-updated',
	due: 'liaison-desk-sort-due',
	waiting: 'liaison-desk-sort-waiting',
	created: 'liaison-desk-sort-created'
};

/** The built-in case states; a queue may add its own (shown by name). */
export const STATE_LABELS: Record<string, string> = {
	new: 'liaison-desk-state-new',
	open: 'liaison-desk-state-open',
	pending: 'liaison-desk-state-pending',
	resolved: 'liaison-desk-state-resolved',
	closed: 'liaison-desk-state-closed'
};

export const PRIORITY_LABELS: Record<string, string> = {
	low: 'liaison-desk-priority-low',
	normal: 'liaison-desk-priority-normal',
	high: 'liaison-desk-priority-high',
	urgent: 'liaison-desk-priority-urgent'
};

export const CHANNEL_LABELS: Record<string, string> = {
	email: 'liaison-desk-channel-email',
	wiki: 'liaison-desk-channel-wiki',
	irc: 'liaison-desk-channel-irc',
	mailing_list: 'liaison-desk-channel-mailing-list',
	phone: 'liaison-desk-channel-phone',
	in_person: 'liaison-desk-channel-in-person',
	social: 'liaison-desk-channel-social',
	other: 'liaison-desk-channel-other'
};

/** The channels an interaction can be recorded from by hand: all but mail, which comes and goes by itself. */
export const LOGGED_CHANNELS: readonly string[] = SCHEMA.case_message.channel.options.filter( ( c ) => c !== 'email' );

/** What the link to a message says, by its channel; others use `LINK_LABEL_DEFAULT`. */
export const LINK_LABELS: Record<string, string> = {
	wiki: 'liaison-desk-thread-link-wiki',
	mailing_list: 'liaison-desk-thread-link-post'
};
export const LINK_LABEL_DEFAULT = 'liaison-desk-thread-link';

export const KIND_LABELS: Record<string, string> = {
	inquiry: 'liaison-desk-kind-inquiry',
	complaint: 'liaison-desk-kind-complaint',
	comment: 'liaison-desk-kind-comment'
};

export const ROLE_LABELS: Record<string, string> = {
	reader: 'liaison-desk-role-reader',
	subject: 'liaison-desk-role-subject',
	representative: 'liaison-desk-role-representative',
	other: 'liaison-desk-role-other'
};

export const MODE_LABELS: Record<ComposerMode, string> = {
	reply: 'liaison-desk-composer-mode-reply',
	note: 'liaison-desk-composer-mode-note'
};

/** A label for `value` from `labels`, or the value itself (a queue's own state, say). */
export function labelOf( labels: Record<string, string>, value: string, t: ( key: string ) => string ): string {
	const key = labels[ value ];
	return key ? t( key ) : value;
}

/** How a case is named in a sentence: `#1234`, or its subject in quotes until it has a number. */
export function caseName( c: { number: number | null; subject: string | null }, t: ( key: string, ...params: string[] ) => string ): string {
	if ( c.number !== null ) {
		return t( 'liaison-desk-case-number', String( c.number ) );
	}
	return c.subject === null ? t( 'liaison-desk-related-unknown' ) : t( 'liaison-desk-case-quoted', c.subject );
}

/** A related case in a list: number and subject, or that it is in a queue one is not a member of. */
export function relatedLabel( c: RelatedCase, t: ( key: string, ...params: string[] ) => string ): string {
	if ( c.subject === null ) {
		return t( 'liaison-desk-related-elsewhere' );
	}
	return c.number === null ? c.subject : `${ t( 'liaison-desk-case-number', String( c.number ) ) } ${ c.subject }`;
}
