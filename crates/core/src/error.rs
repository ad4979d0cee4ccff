//! The library's error: a stable [`ErrorCode`] plus a message that says what went wrong and what
//! to do. It is exactly the `{ code, message }` shape every wire uses, so the CLI prints it and the
//! desktop shell forwards it unchanged.

pub use liaison_protocol::error::{ErrorBody, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} was not found; it may have been deleted"))
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, format!("{context}: {err}"))
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code, self.message.clone())
    }
}

impl From<ErrorBody> for Error {
    fn from(b: ErrorBody) -> Self {
        Self { code: b.code, message: b.message }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode as Sq;
        match e.sqlite_error_code() {
            Some(Sq::NotADatabase) | Some(Sq::DatabaseCorrupt) => Error::new(
                ErrorCode::CorruptDatabase,
                "The local database is damaged or was changed outside Liaison (its integrity check failed). \
                 Nothing was modified; restore it from a backup or sync a fresh copy from the server.",
            ),
            Some(Sq::DiskFull) => Error::new(ErrorCode::Internal, "The disk is full; free some space and try again."),
            Some(Sq::ReadOnly) | Some(Sq::CannotOpen) | Some(Sq::PermissionDenied) => Error::new(
                ErrorCode::Internal,
                format!("The local database cannot be written ({e}); check the data directory's permissions."),
            ),
            _ => Error::internal("local database error", e),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal("file error", e)
    }
}
