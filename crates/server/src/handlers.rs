//! One handler per endpoint, named by what it does. Each takes its extractors, calls storage and
//! maps the outcome; the rules themselves live in [`crate::sync`] and [`crate::storage`].

use crate::AppState;
use crate::auth::{self, Authed};
use crate::error::ApiError;
use crate::router::{ApiJson, ApiQuery, ClientProtocol, PROTOCOL_MAX, PROTOCOL_MIN};
use crate::storage::{MAX_USER_NAME_CHARS, NewDevice, StorageError};
use crate::storage::{PullPage, PulledRow, Storage, User};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use liaison_protocol::error::ErrorCode;
use liaison_protocol::wire::{
    DEFAULT_PULL_LIMIT, LoginRequest, LoginResponse, MAX_PULL_LIMIT, MAX_PUSH_CHANGES, PushBatch, PushResponse,
    SNAPSHOT_CONTENT_TYPE, ServerInfo, SnapshotLine,
};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::mpsc;

/// Longest device name kept; longer names are cut.
const MAX_DEVICE_NAME_CHARS: usize = 200;
/// Longer passwords are refused without hashing them (hashing megabytes is a cheap DoS).
const MAX_PASSWORD_BYTES: usize = 1024;

/// `GET /v1/info`: what this server is and which protocol versions it speaks.
pub async fn info() -> Json<ServerInfo> {
    Json(ServerInfo {
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol_min: PROTOCOL_MIN,
        protocol_max: PROTOCOL_MAX,
        entities: liaison_protocol::schema::EntityKind::known_at(PROTOCOL_MAX).map(|k| k.as_str().to_owned()).collect(),
    })
}

fn bad_credentials() -> ApiError {
    ApiError::new(ErrorCode::BadCredentials, "Unknown user or wrong password.")
}

/// `POST /v1/login`: check the password, register (or re-register) the device, return a new token.
pub async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let name = request.user.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_USER_NAME_CHARS || request.password.len() > MAX_PASSWORD_BYTES {
        return Err(bad_credentials());
    }
    if request.device_id.is_nil() {
        return Err(ApiError::invalid_input("device_id must be the device's own id, not the nil UUID."));
    }
    if !state.login_limiter.allows(&name, Instant::now()) {
        tracing::warn!("login rate limit reached for a user name");
        let device = format!("device:{}", request.device_id);
        crate::audit::record(&*state.storage, &name, "login_rate_limited", &device, "").await;
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "Too many failed sign-ins for this user; wait a minute and try again.",
        ));
    }

    let credentials = state.storage.find_user_by_name(&name).await?;
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let password = request.password.clone();
    let verified = tokio::task::spawn_blocking(move || {
        // Verify against a dummy hash for unknown users so both failures take the same time.
        let ok = auth::verify_password(&password, hash.as_deref().unwrap_or_else(|| auth::dummy_password_hash()));
        ok && hash.is_some()
    })
    .await
    .map_err(|_| ApiError::internal())?;
    let Some(credentials) = credentials.filter(|_| verified) else {
        state.login_limiter.record_failure(&name, Instant::now());
        tracing::info!("failed sign-in");
        let device = format!("device:{}", request.device_id);
        crate::audit::record(&*state.storage, &name, "login_failed", &device, "unknown user or wrong password").await;
        return Err(bad_credentials());
    };

    let token = auth::new_token();
    let device_name = device_name(&request.device_name);
    let device = NewDevice {
        id: request.device_id,
        user_id: credentials.user.id,
        name: device_name,
        token_hash: auth::token_hash(&token),
    };
    let device = state.storage.register_device(device, Utc::now()).await.map_err(|e| match e {
        StorageError::Invalid(m) => ApiError::new(ErrorCode::Forbidden, m),
        other => ApiError::from(other),
    })?;
    state.login_limiter.record_success(&name);
    tracing::info!(device = %device.id, user = %credentials.user.id, "device signed in");
    Ok(Json(LoginResponse { token, device_id: device.id, user: credentials.user.name, role: credentials.user.role }))
}

/// Trim, drop control characters, cut to length; an empty name becomes "unnamed device".
fn device_name(raw: &str) -> String {
    let name: String =
        raw.chars().filter(|c| !c.is_control()).take(MAX_DEVICE_NAME_CHARS).collect::<String>().trim().to_owned();
    if name.is_empty() { "unnamed device".to_owned() } else { name }
}

/// `POST /v1/push`: apply a batch of changes from the authenticated device.
pub async fn push(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<PushBatch>,
) -> Result<Json<PushResponse>, ApiError> {
    if request.changes.len() > MAX_PUSH_CHANGES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "A push may carry at most {MAX_PUSH_CHANGES} changes, this one has {}; send them in smaller batches.",
                request.changes.len()
            ),
        ));
    }
    let now = Utc::now();
    let response = state.storage.push_batch(&authed.user, authed.device.id, &request, now).await?;
    note_replies(&state, &authed, &request, &response, now);
    Ok(Json(response))
}

/// Tell [`crate::presence`] of every public reply this push brought (for "someone else replied").
fn note_replies(
    state: &AppState,
    authed: &Authed,
    request: &PushBatch,
    response: &liaison_protocol::wire::PushResponse,
    now: chrono::DateTime<Utc>,
) {
    for (incoming, result) in request.changes.iter().zip(&response.results) {
        let Some(change) = incoming.known() else { continue };
        if change.entity != liaison_protocol::schema::EntityKind::CaseMessage
            || result.outcome != liaison_protocol::wire::Outcome::Accepted
            || change.fields.get("kind").and_then(|f| f.value.as_str()) != Some("reply")
        {
            continue;
        }
        let case =
            change.fields.get("case_id").and_then(|f| f.value.as_str()).and_then(|c| uuid::Uuid::parse_str(c).ok());
        if let Some(case) = case {
            state.presence.note_reply(case, &authed.user.name, change.row_id, now);
        }
    }
}

/// What `POST /v1/device/wiped` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WipeConfirmed {
    pub device_id: uuid::Uuid,
    pub wiped_at: chrono::DateTime<Utc>,
}

/// `POST /v1/device/wiped`: a revoked device says it deleted its local data (its database, WAL,
/// files and keychain entry), so that administrators see the lost laptop forgot everything
/// (`liaison-server device list`). The only request a revoked device's token is good for; a
/// device that is not revoked is told so and nothing is recorded.
pub async fn device_wiped(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<WipeConfirmed>, ApiError> {
    let auth = auth::device_of(&headers, &state).await?;
    if !auth.device.is_revoked() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "This device is not revoked; it keeps its data. Only a revoked device confirms a wipe.",
        ));
    }
    let info = state.storage.confirm_wiped(auth.device.id, Utc::now()).await?;
    let device = format!("device:{}", auth.device.id);
    crate::audit::record(&*state.storage, &auth.user.name, "device_wiped", &device, "").await;
    tracing::info!(device = %auth.device.id, "a revoked device confirmed that it wiped its local data");
    let wiped_at = info.device.wiped_at.unwrap_or_else(Utc::now);
    Ok(Json(WipeConfirmed { device_id: auth.device.id, wiped_at }))
}

/// `POST /v1/presence`: what this device is doing with a case; answers who else is at it and
/// the replies others sent since the draft began. Only for someone who may read the case: to
/// anyone else the case does not exist.
pub async fn presence(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<liaison_protocol::wire::PresenceRequest>,
) -> Result<Json<liaison_protocol::wire::PresenceResponse>, ApiError> {
    let since = match request.draft_started_at.as_deref() {
        None => None,
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| ApiError::invalid_input(format!("draft_started_at {text:?} is not an RFC 3339 time.")))?
                .with_timezone(&Utc),
        ),
    };
    let readable =
        state.storage.row_for(&authed.user, liaison_protocol::schema::EntityKind::Case, request.case_id).await?;
    if readable.is_none_or(|row| row.deleted) {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "There is no such case on this server, or it is not yours to see.",
        ));
    }
    let visitor = crate::presence::Visitor {
        user: &authed.user.name,
        device: authed.device.id,
        device_name: &authed.device.name,
    };
    Ok(Json(state.presence.report(request.case_id, visitor, request.activity, since, Utc::now())))
}

/// Query of `GET /v1/pull`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PullQuery {
    #[serde(default)]
    pub since: u64,
    pub limit: Option<u32>,
}

/// `GET /v1/pull?since=N&limit=M`: rows the user may read that changed after `since`.
pub async fn pull(
    State(state): State<AppState>,
    Extension(ClientProtocol(protocol)): Extension<ClientProtocol>,
    authed: Authed,
    ApiQuery(query): ApiQuery<PullQuery>,
) -> Result<Json<PullPage>, ApiError> {
    let limit = match query.limit {
        None => DEFAULT_PULL_LIMIT,
        Some(0) => return Err(ApiError::invalid_input(format!("limit must be between 1 and {MAX_PULL_LIMIT}."))),
        Some(n) => n.min(MAX_PULL_LIMIT),
    };
    Ok(Json(state.storage.pull_page_as(&authed.user, query.since, limit, protocol).await?))
}

/// Rows read per storage round trip while streaming a snapshot.
pub const SNAPSHOT_CHUNK_ROWS: u32 = 2_000;
/// Chunks serialised ahead of the network: the database is read while the previous chunk is
/// compressed and sent, and a slow client holds at most this many in memory.
const SNAPSHOT_CHUNKS_AHEAD: usize = 2;

/// Query of `GET /v1/snapshot`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SnapshotQuery {
    /// The sequence the snapshot is consistent at; absent or 0: the current counter.
    #[serde(default)]
    pub at: u64,
    /// Resume after this sequence (the last row the device stored).
    #[serde(default)]
    pub after: u64,
}

/// `GET /v1/snapshot?at=S&after=K`: every live row the user may read as of `S`, after `K`, as
/// newline-delimited [`SnapshotLine`]s, streamed in chunks (see [`Storage::snapshot_chunk`]).
/// A failure mid-stream ends the stream without its `end` line; the device resumes.
pub async fn snapshot(
    State(state): State<AppState>,
    Extension(ClientProtocol(protocol)): Extension<ClientProtocol>,
    authed: Authed,
    ApiQuery(query): ApiQuery<SnapshotQuery>,
) -> Result<Response, ApiError> {
    let current = state.storage.current_seq().await?;
    let at = match query.at {
        0 => current,
        at if at > current => {
            return Err(ApiError::invalid_input(format!(
                "at={at} is past this server's latest change ({current}); start the snapshot again without at."
            )));
        }
        at => at,
    };
    if query.after > at {
        return Err(ApiError::invalid_input(format!("after={} must not be greater than at={at}.", query.after)));
    }
    let (sender, receiver) = mpsc::channel(SNAPSHOT_CHUNKS_AHEAD);
    tokio::spawn(stream_snapshot(Arc::clone(&state.storage), authed.user, protocol, at, query.after, sender));
    Ok(([(CONTENT_TYPE, SNAPSHOT_CONTENT_TYPE), (CACHE_CONTROL, "no-store")], Body::from_stream(ChunkStream(receiver)))
        .into_response())
}

/// A snapshot's row line: serialises as [`SnapshotLine::Row`] of the row it stands for.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum RowLine<'a> {
    Row(&'a PulledRow),
}

/// Append one line (a [`SnapshotLine`] or a [`RowLine`]) to `buf`.
fn write_line(buf: &mut Vec<u8>, line: &impl Serialize) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *buf, line)?;
    buf.push(b'\n');
    Ok(())
}

/// Read the snapshot chunk by chunk and send each as bytes; stop without the `end` line on an
/// error, and quietly when the client has gone.
async fn stream_snapshot(
    storage: Arc<dyn Storage>,
    user: User,
    protocol: u32,
    at: u64,
    mut after: u64,
    sender: mpsc::Sender<Bytes>,
) {
    let mut buf = Vec::new();
    let mut sent: u64 = 0;
    if let Err(e) = write_line(&mut buf, &SnapshotLine::Start { at }) {
        tracing::error!(error = %e, "cannot write a snapshot line");
        return;
    }
    loop {
        let chunk = match storage.snapshot_chunk_as(&user, at, after, SNAPSHOT_CHUNK_ROWS, protocol).await {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::warn!(error = %e, at, after, "a snapshot stopped early; the device will resume it");
                return;
            }
        };
        if !chunk.done && chunk.last_seq <= after {
            tracing::error!(at, after, "a snapshot chunk did not advance; stopping the stream");
            return;
        }
        after = chunk.last_seq;
        sent += u64::try_from(chunk.rows.len()).unwrap_or(u64::MAX);
        let mut written = chunk.rows.iter().try_for_each(|row| write_line(&mut buf, &RowLine::Row(row)));
        if chunk.done {
            written = written.and_then(|()| write_line(&mut buf, &SnapshotLine::End { at, rows: sent }));
        }
        if let Err(e) = written {
            tracing::error!(error = %e, "cannot write a snapshot line");
            return;
        }
        let capacity = buf.capacity();
        if sender.send(Bytes::from(std::mem::replace(&mut buf, Vec::with_capacity(capacity)))).await.is_err() {
            tracing::debug!(at, after, "the client left during a snapshot");
            return;
        }
        if chunk.done {
            tracing::info!(user = %user.id, at, rows = sent, "sent a snapshot");
            return;
        }
    }
}

/// The receiving end of a snapshot's chunks as a body stream.
struct ChunkStream(mpsc::Receiver<Bytes>);

impl futures_core::Stream for ChunkStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(Ok))
    }
}

/// A SHA-256 in its one accepted spelling: 64 lowercase hexadecimal digits.
fn digest_arg(text: &str) -> Result<String, ApiError> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(text.to_owned())
    } else {
        Err(ApiError::invalid_input("A file is named by its SHA-256: 64 lowercase hexadecimal digits."))
    }
}

/// `PUT /v1/blobs/{sha256}`: the content of an attachment this user may read (its row pushed
/// first). The content must have that digest. 201 when stored, 200 when the server held it.
pub async fn put_blob(
    State(state): State<AppState>,
    authed: Authed,
    axum::extract::Path(sha256): axum::extract::Path<String>,
    body: Bytes,
) -> Result<axum::http::StatusCode, ApiError> {
    let sha256 = digest_arg(&sha256)?;
    if body.len() > liaison_protocol::schema::MAX_ATTACHMENT_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("Attachments may be at most {} MB.", liaison_protocol::schema::MAX_ATTACHMENT_BYTES / 1_048_576),
        ));
    }
    use sha2::Digest as _;
    if hex::encode(sha2::Sha256::digest(&body)) != sha256 {
        return Err(ApiError::invalid_input(
            "The file's content does not match its SHA-256; it was damaged on the way. Try again.",
        ));
    }
    let stored = state.storage.put_blob(&authed.user, &sha256, &body, Utc::now()).await?;
    Ok(if stored { axum::http::StatusCode::CREATED } else { axum::http::StatusCode::OK })
}

/// `GET /v1/blobs/{sha256}`: the content of an attachment this user may read.
pub async fn get_blob(
    State(state): State<AppState>,
    authed: Authed,
    axum::extract::Path(sha256): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let sha256 = digest_arg(&sha256)?;
    let content = state.storage.get_blob(&authed.user, &sha256).await?;
    Ok(([(CONTENT_TYPE, "application/octet-stream"), (CACHE_CONTROL, "no-store")], content).into_response())
}

/// `POST /v1/contacts/{id}/erase`: erase a person's data everywhere (staff and admins only).
pub async fn erase_contact(
    State(state): State<AppState>,
    authed: Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<liaison_protocol::wire::EraseResponse>, ApiError> {
    let contact_id =
        uuid::Uuid::parse_str(&id).map_err(|_| ApiError::invalid_input(format!("{id:?} is not a contact id.")))?;
    if !crate::permissions::may_erase(&authed.user) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Only staff and administrators may erase a person's data; ask one of them.",
        ));
    }
    let report = state.storage.erase_contact(contact_id, Utc::now()).await?;
    tracing::info!(user = %authed.user.id, %contact_id, rows = report.rows, "erased a contact");
    let contact = format!("contact:{contact_id}");
    crate::audit::record(&*state.storage, &authed.user.name, "contact_erased", &contact, "").await;
    Ok(Json(liaison_protocol::wire::EraseResponse { contact_id, rows: report.rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_cleaned() {
        assert_eq!(device_name("  laptop\n\u{7}  "), "laptop", "control characters and edges are dropped");
        assert_eq!(device_name(""), "unnamed device");
        assert_eq!(device_name(&"x".repeat(500)).chars().count(), MAX_DEVICE_NAME_CHARS);
    }
}
