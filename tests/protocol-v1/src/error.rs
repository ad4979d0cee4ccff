//! The one error shape on every wire: `{ "code": "...", "message": "..." }`.
//!
//! `code` is a closed set that programs branch on (the UI keeps one table from code to text and
//! action); `message` is for people and says what went wrong and what to do.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Serialized in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request was malformed or a value failed validation.
    InvalidInput,
    /// A record with that id does not exist (or the caller may not know that it exists).
    NotFound,
    /// Login failed: unknown user or wrong password. Deliberately does not say which.
    BadCredentials,
    /// The device token is missing, unknown or expired.
    Unauthenticated,
    /// The device was revoked by an admin; the client must wipe its local data.
    DeviceRevoked,
    /// The caller may not do this.
    Forbidden,
    /// The record was erased (right to erasure); no change to it is accepted any more.
    Erased,
    /// The device's sync cursor is older than the server's tombstone horizon (it was offline
    /// longer than deletions are kept): it must re-sync from a snapshot, keeping its unsent
    /// changes.
    ResyncRequired,
    /// The client speaks a protocol version the server no longer supports.
    UpgradeRequired,
    /// The request body was larger than the server accepts.
    PayloadTooLarge,
    /// Too many requests (for example login attempts); try again later.
    RateLimited,
    /// The local vault is locked; unlock it first.
    Locked,
    /// The passphrase (or keychain entry) did not open the vault.
    WrongPassphrase,
    /// The database file is not a Liaison database, is damaged, or is not encrypted.
    CorruptDatabase,
    /// No vault exists yet in this data directory.
    NoVault,
    /// A vault already exists in this data directory.
    VaultExists,
    /// No OS keychain is usable here.
    KeychainUnavailable,
    /// The server could not be reached.
    ServerUnreachable,
    /// The server's certificate does not match the pinned fingerprint.
    CertificateMismatch,
    /// The server's answer could not be understood.
    BadResponse,
    /// The device is not signed in to a server.
    NotLoggedIn,
    /// The server is temporarily unable to serve; retry later.
    Unavailable,
    /// Anything else; the message says more.
    Internal,
}

impl ErrorCode {
    /// The HTTP status that carries this code on the server's wire.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidInput => 400,
            ErrorCode::BadCredentials | ErrorCode::Unauthenticated => 401,
            ErrorCode::DeviceRevoked => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Erased | ErrorCode::ResyncRequired => 410,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UpgradeRequired => 426,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            _ => 500,
        }
    }

    /// The wire name, e.g. `invalid_input`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Erased => "erased",
            ErrorCode::ResyncRequired => "resync_required",
            ErrorCode::UpgradeRequired => "upgrade_required",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Locked => "locked",
            ErrorCode::WrongPassphrase => "wrong_passphrase",
            ErrorCode::CorruptDatabase => "corrupt_database",
            ErrorCode::NoVault => "no_vault",
            ErrorCode::VaultExists => "vault_exists",
            ErrorCode::KeychainUnavailable => "keychain_unavailable",
            ErrorCode::ServerUnreachable => "server_unreachable",
            ErrorCode::CertificateMismatch => "certificate_mismatch",
            ErrorCode::BadResponse => "bad_response",
            ErrorCode::NotLoggedIn => "not_logged_in",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error body on every wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
