//! [`ApiError`]: every failure the HTTP API answers, as `{ code, message }` with the code's status.

use crate::storage::StorageError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use liaison_protocol::error::{ErrorBody, ErrorCode};

/// An error answered to a client. The body is always [`ErrorBody`]; the status is the code's
/// [`ErrorCode::http_status`] unless a more precise one is set (405 for a wrong method).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub body: ErrorBody,
    status: StatusCode,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { body: ErrorBody::new(code, message), status }
    }

    /// The same body with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "The server failed to handle this request; its log says why. Try again later.")
    }

    /// The error shape for an HTTP status produced outside our handlers (tower layers, hyper).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            401 => (ErrorCode::Unauthenticated, "This request needs a device token; sign in again."),
            403 => (ErrorCode::Forbidden, "You may not do this."),
            404 => (ErrorCode::NotFound, "There is no such endpoint on this server."),
            405 => (ErrorCode::InvalidInput, "This endpoint does not accept that HTTP method."),
            413 => (ErrorCode::PayloadTooLarge, "The request body is too large; send less at a time."),
            415 => (
                ErrorCode::InvalidInput,
                "The request body's content type or encoding is not supported; send JSON, optionally zstd or gzip compressed.",
            ),
            426 => (ErrorCode::UpgradeRequired, "Update Liaison to sync with this server."),
            429 => (ErrorCode::RateLimited, "Too many requests; wait a minute and try again."),
            503 => (ErrorCode::Unavailable, "The server is busy; try again in a moment."),
            s if s >= 500 => (ErrorCode::Internal, "The server failed to handle this request; its log says why."),
            _ => (ErrorCode::InvalidInput, "The request was not understood."),
        };
        Self::new(code, message).with_status(status)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.body.code, self.body.message)
    }
}

impl std::error::Error for ApiError {}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Duplicate(m) | StorageError::Invalid(m) => ApiError::invalid_input(m),
            StorageError::NotFound(m) => ApiError::new(ErrorCode::NotFound, m),
            StorageError::Revoked => ApiError::new(
                ErrorCode::DeviceRevoked,
                "This device was revoked by an administrator; its local data must be wiped",
            ),
            StorageError::ResyncRequired { since, horizon } => ApiError::new(
                ErrorCode::ResyncRequired,
                format!(
                    "This device was away longer than the server keeps deletions (it last synced at sequence {since}, \
                     the server keeps them from sequence {horizon} on); it will download everything again and keep \
                     its unsent changes."
                ),
            ),
            StorageError::Busy => {
                ApiError::new(ErrorCode::Unavailable, "The server's database is busy; try again in a moment.")
            }
            e @ (StorageError::TooNew { .. } | StorageError::Backend(_)) => {
                // Storage messages carry no contact content, so the cause can be logged.
                tracing::error!(error = %e, "storage failed");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = %self.body.code, status = self.status.as_u16(), "request failed");
        } else {
            // The message may echo client input; the code is enough for the log.
            tracing::debug!(code = %self.body.code, status = self.status.as_u16(), "request refused");
        }
        (self.status, Json(self.body)).into_response()
    }
}
