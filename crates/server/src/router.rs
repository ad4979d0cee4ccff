//! The HTTP API: routes, layers and the extractors that turn every rejection into `{ code, message }`.
//!
//! Layers, from the outside in: tracing, response compression, panic → 500 `internal`, the error
//! shape net (any non-JSON error from a layer becomes `{ code, message }`), the protocol version
//! check (426), request decompression (zstd, gzip), and the body limit, which axum's extractors
//! apply to the *decompressed* body, so a small zstd bomb cannot exhaust memory.

use crate::AppState;
use crate::error::ApiError;
use crate::handlers;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use liaison_protocol::error::ErrorCode;
use liaison_protocol::wire::{MAX_BODY_BYTES, PROTOCOL_HEADER};
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

/// The oldest protocol version this server accepts.
pub const PROTOCOL_MIN: u32 = 1;
/// The newest protocol version this server accepts.
pub const PROTOCOL_MAX: u32 = liaison_protocol::PROTOCOL_VERSION;

/// The whole API as a [`Router`], ready to serve or to call with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/info", get(handlers::info))
        .route("/v1/login", post(handlers::login))
        .route("/v1/push", post(handlers::push))
        .route("/v1/pull", get(handlers::pull))
        .route("/v1/snapshot", get(handlers::snapshot))
        .route("/v1/contacts/{id}/erase", post(handlers::erase_contact))
        .route("/v1/presence", post(handlers::presence))
        .route("/v1/device/wiped", post(handlers::device_wiped))
        .route(
            "/v1/blobs/{sha256}",
            get(handlers::get_blob)
                .put(handlers::put_blob)
                // An attachment may be larger than any other request.
                .layer(DefaultBodyLimit::max(liaison_protocol::schema::MAX_ATTACHMENT_BYTES + 1)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestDecompressionLayer::new())
        .layer(middleware::from_fn(require_protocol))
        .layer(middleware::from_fn(error_shape))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            ApiError::internal().into_response()
        }))
        // Small answers (an up-to-date pull, an error) cost more to compress than they save: a
        // compressor is set up per response. Streams of unknown size (snapshots) are compressed.
        // The fastest level: sync answers are repetitive JSON that compresses well at any level
        // (B16 has room), and the server's CPU is what many devices share (B11).
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(MIN_COMPRESSED_BYTES))),
        )
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Answers smaller than this are sent uncompressed.
const MIN_COMPRESSED_BYTES: u16 = 512;

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "There is no such endpoint on this server; check the server URL and update Liaison.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::invalid_input("This endpoint does not accept that HTTP method.")
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// The protocol a client speaks, as this server serves it (a newer client's is served as this
/// server's newest: it receives the kinds this server knows, and its changes of kinds this server
/// does not know are refused one by one). Set on every request by [`require_protocol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientProtocol(pub u32);

/// Refuse clients older than [`PROTOCOL_MIN`] with 426; record the version a request is served
/// at ([`ClientProtocol`]).
async fn require_protocol(mut request: Request, next: Next) -> Response {
    let version =
        request.headers().get(PROTOCOL_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u32>().ok());
    match version {
        Some(v) if v >= PROTOCOL_MIN => {
            request.extensions_mut().insert(ClientProtocol(v.min(PROTOCOL_MAX)));
            next.run(request).await
        }
        _ => ApiError::new(
            ErrorCode::UpgradeRequired,
            format!("This server needs Liaison protocol {PROTOCOL_MIN} to {PROTOCOL_MAX}; update Liaison to sync."),
        )
        .into_response(),
    }
}

/// A safety net: an error produced by a layer (e.g. 415 for an unknown content encoding) gets the
/// `{ code, message }` body too, so clients never have to parse plain text.
async fn error_shape(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        return ApiError::from_status(status).into_response();
    }
    response
}

/// `Json<T>` whose rejections are [`ApiError`]s: 400 `invalid_input`, or 413 `payload_too_large`.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "The request body is larger than {} MiB after decompression; send fewer changes at a time.",
                MAX_BODY_BYTES / (1024 * 1024)
            ),
        );
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::invalid_input("The request body must be JSON sent with Content-Type: application/json.")
        }
        other => ApiError::invalid_input(format!("The request body is not valid: {}", other.body_text())),
    }
}

/// `Query<T>` whose rejections are 400 `invalid_input` [`ApiError`]s.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::invalid_input(format!("The query string is not valid: {}", rejection.body_text()))
}
