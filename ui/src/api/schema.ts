// Generated from liaison_protocol::schema by `cargo xtask bindings`.
// Do not edit by hand: a test fails when this file is stale.

/** The rules of each synced entity's fields. `max`: characters (lists: items and characters per item; integers: the largest value; JSON: bytes). */
export const SCHEMA = {
	contact: {
		display_name: { type: 'text', required: true, max: 300 },
		language: { type: 'text', required: false, max: 35 },
		organization: { type: 'text', required: false, max: 300 },
		tags: { type: 'list', required: false, max: 100 },
		notes: { type: 'text', required: false, max: 20000 },
		created_at: { type: 'text', required: false, max: 40 },
		restricted: { type: 'bool', required: false, max: 5 },
	},
	contact_email: {
		contact_id: { type: 'ref', required: true, max: 36 },
		address: { type: 'text', required: true, max: 320 },
		label: { type: 'text', required: false, max: 50 },
	},
	contact_phone: {
		contact_id: { type: 'ref', required: true, max: 36 },
		number: { type: 'text', required: true, max: 50 },
		label: { type: 'text', required: false, max: 50 },
	},
	contact_identifier: {
		contact_id: { type: 'ref', required: true, max: 36 },
		kind: { type: 'text', required: true, max: 20 },
		value: { type: 'text', required: true, max: 300 },
	},
	conflict: {
		contact_id: { type: 'ref', required: false, max: 36 },
		entity: { type: 'text', required: true, max: 40 },
		row_id: { type: 'text', required: true, max: 36 },
		field: { type: 'text', required: false, max: 64 },
		kind: { type: 'text', required: true, max: 10 },
		kept: { type: 'json', required: true, max: 200000 },
		lost: { type: 'json', required: true, max: 200000 },
		detected_at: { type: 'text', required: true, max: 40 },
		resolution: { type: 'text', required: false, max: 20 },
		resolved_by: { type: 'text', required: false, max: 64 },
		resolved_at: { type: 'text', required: false, max: 40 },
		owner_entity: { type: 'text', required: false, max: 40 },
		owner_id: { type: 'ref', required: false, max: 36 },
	},
	queue: {
		name: { type: 'text', required: true, max: 200 },
		email: { type: 'text', required: false, max: 320 },
		language: { type: 'text', required: false, max: 35 },
		description: { type: 'text', required: false, max: 5000 },
		signature: { type: 'text', required: false, max: 5000 },
		calendar: { type: 'json', required: false, max: 20000 },
		sla: { type: 'json', required: false, max: 2000 },
		states: { type: 'list', required: false, max: 40 },
		archived: { type: 'bool', required: false, max: 5 },
	},
	queue_member: {
		queue_id: { type: 'ref', required: true, max: 36 },
		user: { type: 'text', required: true, max: 64 },
		role: { type: 'choice', required: true, max: 40, options: [ 'agent', 'lead' ] },
	},
	case: {
		queue_id: { type: 'ref', required: true, max: 36 },
		subject: { type: 'text', required: true, max: 500 },
		kind: { type: 'choice', required: true, max: 40, options: [ 'inquiry', 'complaint', 'comment' ] },
		channel: { type: 'choice', required: true, max: 40, options: [ 'email', 'wiki', 'irc', 'mailing_list', 'phone', 'in_person', 'social', 'other' ] },
		state: { type: 'text', required: true, max: 40 },
		language: { type: 'text', required: false, max: 35 },
		category: { type: 'text', required: false, max: 100 },
		priority: { type: 'choice', required: false, max: 40, options: [ 'low', 'normal', 'high', 'urgent' ] },
		owner: { type: 'text', required: false, max: 64 },
		tags: { type: 'list', required: false, max: 100 },
		wiki_pages: { type: 'json', required: false, max: 20000 },
		created_at: { type: 'text', required: false, max: 40 },
	},
	case_contact: {
		case_id: { type: 'ref', required: true, max: 36 },
		contact_id: { type: 'ref', required: true, max: 36 },
		role: { type: 'choice', required: true, max: 40, options: [ 'reader', 'subject', 'representative', 'other' ] },
	},
	case_message: {
		case_id: { type: 'ref', required: true, max: 36 },
		kind: { type: 'choice', required: true, max: 40, options: [ 'inbound', 'reply', 'note', 'event' ] },
		channel: { type: 'choice', required: true, max: 40, options: [ 'email', 'wiki', 'irc', 'mailing_list', 'phone', 'in_person', 'social', 'other' ] },
		author_user: { type: 'text', required: false, max: 64 },
		author_contact_id: { type: 'ref', required: false, max: 36 },
		sent_at: { type: 'text', required: true, max: 40 },
		body: { type: 'text', required: false, max: 200000 },
		original: { type: 'json', required: false, max: 200000 },
	},
	attachment: {
		message_id: { type: 'ref', required: true, max: 36 },
		name: { type: 'text', required: true, max: 255 },
		media_type: { type: 'text', required: false, max: 255 },
		size: { type: 'integer', required: true, max: 26214400 },
		sha256: { type: 'sha256', required: true, max: 64 },
	},
} as const;

export type EntityName = keyof typeof SCHEMA;
