// Generated from the Rust types in src-tauri/src/dto/ by `cargo xtask bindings`.
// Do not edit by hand: a test fails when this file is stale.

export type ErrorCode = "invalid_input" | "not_found" | "bad_credentials" | "unauthenticated" | "device_revoked" | "forbidden" | "erased" | "resync_required" | "upgrade_required" | "payload_too_large" | "rate_limited" | "locked" | "wrong_passphrase" | "corrupt_database" | "no_vault" | "vault_exists" | "keychain_unavailable" | "server_unreachable" | "certificate_mismatch" | "bad_response" | "not_logged_in" | "unavailable" | "internal";
export type ApiError = { code: ErrorCode, message: string, };
export type UnlockMode = "keychain" | "passphrase";
export type VaultState = { exists: boolean, unlocked: boolean, mode: UnlockMode | null, keychainAvailable: boolean, keychainProblem: string | null, dataDir: string, };
export type ContactInput = { displayName: string, emails: Array<string>, phones: Array<string>, wikiUser: string | null, ircNick: string | null, language: string | null, organization: string | null, tags: Array<string>, notes: string | null, restricted: boolean, };
export type ContactEmail = { id: string, address: string, label: string | null, };
export type ContactPhone = { id: string, number: string, label: string | null, };
export type ContactIdentifier = { id: string, kind: string, value: string, };
export type Contact = { id: string, displayName: string, emails: Array<ContactEmail>, phones: Array<ContactPhone>, identifiers: Array<ContactIdentifier>, language: string | null, organization: string | null, tags: Array<string>, notes: string | null, restricted: boolean, createdAt: string, updatedAt: string, };
export type ContactSummary = { id: string, displayName: string, primaryEmail: string | null, organization: string | null, language: string | null, tags: Array<string>, restricted: boolean, updatedAt: string, };
export type ContactPage = { items: Array<ContactSummary>, total: number, offset: number, };
export type ServerProbe = { url: string, fingerprint: string, };
export type SyncStatus = { loggedIn: boolean, serverUrl: string | null, user: string | null, role: string | null, fingerprint: string | null, pending: number, conflicts: number, lastSyncAt: string | null, lastError: ApiError | null, syncing: boolean, };
export type SyncReport = { pushed: number, rejected: number, pulled: number, changed: Array<string>, status: SyncStatus, };
export type LedgerState = "pending" | "sent" | "accepted" | "rejected";
export type LedgerEntry = { changeId: string, entity: string, rowId: string, label: string | null, fields: Array<string>, created: boolean, deleted: boolean, state: LedgerState, error: ApiError | null, createdAt: string, updatedAt: string, };
export type ConflictField = { name: string, text: string, };
export type ConflictSide = { text: string | null, fields: Array<ConflictField>, user: string, device: string, writtenAt: string, };
export type ConflictKind = "field" | "delete";
export type Conflict = { id: string, contactId: string, contactName: string | null, entity: string, field: string | null, kind: ConflictKind, mine: ConflictSide, theirs: ConflictSide, mineWasKept: boolean, mineIsOwn: boolean, detectedAt: string, resolution: string | null, resolvedBy: string | null, resolvedAt: string | null, };
export type Keep = "mine" | "theirs" | "value";
export type DataChanged = { entities: Array<string>, };
