//! The sync client: sign in to a server (pinning its certificate), push the outbox, pull rows.
//!
//! The server's self-signed certificate is pinned by its SHA-256 fingerprint at sign-in (trust on
//! first use, shown to the person) and every later connection must present the same certificate.
//! The device token and the pinned fingerprint are kept inside the encrypted store, never in a
//! plain file. Push batches are idempotent: a batch whose answer was lost is re-sent with the same
//! batch id, and the server returns the answer it stored.

use crate::entities::{self, Search};
use crate::error::{Error, ErrorCode, Result};
use crate::store::sync_tables::{self as st, OutboxState};
use crate::store::{Store, desk, meta, write};
use liaison_protocol::PROTOCOL_VERSION;
use liaison_protocol::error::ErrorBody;
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{
    APP_HEADER, LoginRequest, LoginResponse, MAX_PUSH_CHANGES, Outcome, PROTOCOL_HEADER, PullResponse, PushRequest,
    PushResponse, RowState, ServerInfo,
};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const APP_VERSION: &str = env!("CARGO_PKG_VERSION");
const PULL_PAGE: u32 = 1_000;

use crate::session::keys;

/// What a sync changed on this device: how many rows, and of which kinds (so the app reloads
/// exactly what it shows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Changes {
    rows: u64,
    kinds: std::collections::BTreeSet<EntityKind>,
}

impl Changes {
    fn add(&mut self, other: Changes) {
        self.rows += other.rows;
        self.kinds.extend(other.kinds);
    }

    fn note(&mut self, kind: EntityKind, rows: u64) {
        if rows > 0 {
            self.rows += rows;
            self.kinds.insert(kind);
        }
    }
}

/// Rows of a snapshot stored per transaction: an interrupted snapshot re-downloads at most this many.
const SNAPSHOT_CHUNK: usize = 2_000;

/// What a person sees about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub logged_in: bool,
    pub server_url: Option<String>,
    pub user: Option<String>,
    pub role: Option<String>,
    pub fingerprint: Option<String>,
    /// Local changes not yet accepted by the server (pending or sent).
    pub pending: u64,
    pub rejected: u64,
    /// Conflicts waiting for a person in the conflict inbox.
    pub conflicts: u64,
    pub last_sync_at: Option<String>,
    pub last_error: Option<ErrorBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Changes the server accepted in this run.
    pub pushed: u64,
    /// Changes the server refused in this run (see the ledger for why).
    pub rejected: u64,
    /// Rows received that changed something here.
    pub pulled: u64,
    /// The kinds of rows that changed here (the app reloads what shows them).
    pub changed: Vec<EntityKind>,
    pub status: SyncStatus,
}

/// The server's identity as seen before signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerProbe {
    pub url: String,
    /// SHA-256 of the server certificate, lowercase hex.
    pub fingerprint: String,
    pub info: ServerInfo,
}

/// `https://host:port` with no trailing slash; anything else is refused with a reason.
pub fn normalise_url(input: &str) -> Result<String> {
    let url = input.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        Error::invalid(format!("{input:?} is not a server address ({e}); expected e.g. https://liaison.example.org"))
    })?;
    if parsed.scheme() != "https" {
        return Err(Error::invalid(format!("{input:?} does not start with https://; Liaison only syncs over HTTPS.")));
    }
    if parsed.host_str().is_none() || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::invalid(format!(
            "{input:?} is not a server address; expected e.g. https://liaison.example.org"
        )));
    }
    Ok(url.to_string())
}

/// Accepts `AB:CD:…`, `ab cd …` or plain hex; returns 64 lowercase hex characters.
pub fn normalise_fingerprint(input: &str) -> Result<String> {
    let hex: String = input.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect::<String>().to_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!(
            "{input:?} is not a SHA-256 fingerprint (64 hexadecimal digits, colons allowed)."
        )));
    }
    Ok(hex)
}

/// Checks the server certificate against a pinned fingerprint (or, when probing, records it).
/// Handshake signatures are still verified with the certificate's key.
#[derive(Debug)]
struct PinnedCert {
    expected: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let fingerprint = hex::encode(Sha256::digest(end_entity.as_ref()));
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint.clone());
        }
        match &self.expected {
            Some(expected) if *expected != fingerprint => {
                Err(rustls::Error::General("server certificate does not match the pinned fingerprint".into()))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// An HTTP client bound to one server and one pinned certificate.
struct Client {
    http: reqwest::Client,
    base: String,
    expected: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
    token: Option<String>,
}

impl Client {
    fn new(base: &str, expected: Option<String>, token: Option<String>) -> Result<Client> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = Arc::new(Mutex::new(None));
        let verifier = PinnedCert { expected: expected.clone(), seen: seen.clone(), provider: provider.clone() };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal("TLS setup", e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .gzip(true)
            .zstd(true)
            .build()
            .map_err(|e| Error::internal("HTTP client setup", e))?;
        Ok(Client { http, base: base.to_string(), expected, seen, token })
    }

    fn seen_fingerprint(&self) -> Option<String> {
        self.seen.lock().ok().and_then(|s| s.clone())
    }

    fn transport_error(&self, e: reqwest::Error) -> Error {
        if let (Some(expected), Some(seen)) = (&self.expected, self.seen_fingerprint())
            && *expected != seen
        {
            return Error::new(
                ErrorCode::CertificateMismatch,
                format!(
                    "The server at {} presented a different certificate than the one you trusted (expected {expected}, got {seen}). \
                         Someone may be intercepting the connection; nothing was sent. If your administrator replaced the certificate, \
                         sign in again and confirm the new fingerprint.",
                    self.base
                ),
            );
        }
        if e.is_decode() {
            return Error::new(
                ErrorCode::BadResponse,
                format!("The answer from {} could not be understood ({e}). Is this a Liaison server?", self.base),
            );
        }
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = format!("{cause}: {s}");
            source = s.source();
        }
        Error::new(
            ErrorCode::ServerUnreachable,
            format!(
                "Could not reach the server at {} ({cause}). Check the address and your network; your changes are kept and will sync later.",
                self.base
            ),
        )
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .header(APP_HEADER, APP_VERSION);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let resp = self.check_status(resp).await?;
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorCode::BadResponse, format!("The server at {} sent an answer Liaison does not understand ({e}). Is it a Liaison server of a compatible version?", self.base))
        })
    }

    /// A successful response as it is; an error response as the server's `{ code, message }`.
    async fn check_status(&self, resp: reqwest::Response) -> Result<reqwest::Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(body.into()),
            Err(_) => Err(Error::new(
                ErrorCode::BadResponse,
                format!(
                    "The server at {} answered HTTP {status} without a Liaison error; is this address a Liaison server?",
                    self.base
                ),
            )),
        }
    }

    async fn post_json<B: Serialize, T: serde::de::DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let json = serde_json::to_vec(body).map_err(|e| Error::internal("encoding a request", e))?;
        let mut req =
            self.request(reqwest::Method::POST, path).header(reqwest::header::CONTENT_TYPE, "application/json");
        req = if json.len() > 1024 {
            let packed = zstd::bulk::compress(&json, 3).map_err(|e| Error::internal("compressing a request", e))?;
            req.header(reqwest::header::CONTENT_ENCODING, "zstd").body(packed)
        } else {
            req.body(json)
        };
        self.send(req).await
    }
}

/// Connect to a server without credentials and report its certificate fingerprint, so a person
/// can compare it with the one their administrator gave them before trusting it.
pub async fn probe(url: &str) -> Result<ServerProbe> {
    let url = normalise_url(url)?;
    let client = Client::new(&url, None, None)?;
    let info: ServerInfo = client.send(client.request(reqwest::Method::GET, "/v1/info")).await?;
    let fingerprint = client
        .seen_fingerprint()
        .ok_or_else(|| Error::new(ErrorCode::BadResponse, "The server presented no certificate."))?;
    if !(info.protocol_min..=info.protocol_max).contains(&PROTOCOL_VERSION) {
        return Err(Error::new(
            ErrorCode::UpgradeRequired,
            format!(
                "This server speaks protocol {}–{}, this Liaison speaks {PROTOCOL_VERSION}; update Liaison to sync.",
                info.protocol_min, info.protocol_max
            ),
        ));
    }
    Ok(ServerProbe { url, fingerprint, info })
}

fn device_name() -> String {
    let from_file = std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_string());
    from_file
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "Liaison device".into())
}

/// Sign in with a password; pins `fingerprint` and stores the device token in the encrypted store.
pub async fn login(store: &mut Store, url: &str, user: &str, password: &str, fingerprint: &str) -> Result<SyncStatus> {
    let url = normalise_url(url)?;
    let fingerprint = normalise_fingerprint(fingerprint)?;
    if user.trim().is_empty() || password.is_empty() {
        return Err(Error::invalid("Enter a user name and a password."));
    }
    let client = Client::new(&url, Some(fingerprint.clone()), None)?;
    let req = LoginRequest {
        user: user.trim().to_string(),
        password: password.to_string(),
        device_id: meta::device_id(store.conn())?,
        device_name: device_name(),
    };
    let resp: LoginResponse = client.post_json("/v1/login", &req).await?;
    store.transaction(|tx| {
        meta::set(tx, keys::URL, &url)?;
        meta::set(tx, keys::FINGERPRINT, &fingerprint)?;
        meta::set(tx, keys::TOKEN, &resp.token)?;
        meta::set(tx, keys::USER, &resp.user)?;
        meta::set(tx, keys::ROLE, resp.role.as_str())?;
        meta::remove(tx, keys::LAST_ERROR)?;
        if meta::get(tx, keys::CURSOR_URL)?.as_deref() != Some(url.as_str()) {
            // Another server: its sequence numbers mean nothing here.
            meta::set(tx, keys::CURSOR, "0")?;
            meta::set(tx, keys::CURSOR_URL, &url)?;
        }
        Ok(())
    })?;
    status(store)
}

/// Forget the server token (local data and unsent changes are kept).
pub fn logout(store: &mut Store) -> Result<SyncStatus> {
    store.transaction(|tx| {
        meta::remove(tx, keys::TOKEN)?;
        meta::remove(tx, keys::LAST_ERROR)
    })?;
    status(store)
}

pub fn status(store: &Store) -> Result<SyncStatus> {
    let conn = store.conn();
    let token = meta::get(conn, keys::TOKEN)?;
    Ok(SyncStatus {
        logged_in: token.is_some(),
        server_url: meta::get(conn, keys::URL)?,
        user: meta::get(conn, keys::USER)?,
        role: meta::get(conn, keys::ROLE)?,
        fingerprint: meta::get(conn, keys::FINGERPRINT)?,
        pending: st::count(conn, OutboxState::Pending)? + st::count(conn, OutboxState::Sent)?,
        rejected: st::count(conn, OutboxState::Rejected)?,
        conflicts: crate::conflicts::open_count(conn)?,
        last_sync_at: meta::get(conn, keys::LAST_SYNC)?,
        last_error: meta::get(conn, keys::LAST_ERROR)?.and_then(|t| serde_json::from_str(&t).ok()),
    })
}

/// One line of the sync ledger: an outgoing change and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub change_id: Uuid,
    pub entity: EntityKind,
    pub row_id: Uuid,
    /// What a person calls the record: the name of the contact the change concerns, when it is
    /// still on this device.
    pub label: Option<String>,
    /// The fields the change carries (only those that changed).
    pub fields: Vec<String>,
    /// The change created the record (it was new here and carries every required field).
    pub created: bool,
    pub deleted: bool,
    pub state: OutboxState,
    /// For rejected changes: the server's reason.
    pub error: Option<ErrorBody>,
    pub created_at: String,
    pub updated_at: String,
}

/// The sync ledger: the newest `limit` outgoing changes with their state, oldest of them first.
pub fn ledger(store: &Store, limit: usize) -> Result<Vec<LedgerEntry>> {
    let conn = store.conn();
    let label = |e: &st::OutboxEntry| -> Result<Option<String>> {
        let fields: std::collections::BTreeMap<String, liaison_protocol::wire::FieldState> = e
            .change
            .fields
            .iter()
            .map(|(name, write)| {
                (
                    name.clone(),
                    liaison_protocol::wire::FieldState {
                        value: write.value.clone(),
                        hlc: write.hlc,
                        device: Uuid::nil(),
                    },
                )
            })
            .collect();
        entities::label(conn, e.change.entity, e.change.row_id, Some(&fields))
    };
    let entries = st::newest_entries(conn, limit)?;
    let labels = entries.iter().map(label).collect::<Result<Vec<_>>>()?;
    Ok(entries
        .into_iter()
        .zip(labels)
        .map(|(e, label)| LedgerEntry {
            change_id: e.change.change_id,
            entity: e.change.entity,
            row_id: e.change.row_id,
            label,
            created: e.change.deleted.is_none()
                && e.change.base_seq == 0
                && e.change
                    .entity
                    .def()
                    .fields
                    .iter()
                    .filter(|f| f.required)
                    .all(|f| e.change.fields.contains_key(f.name)),
            fields: e.change.fields.into_keys().collect(),
            deleted: e.change.deleted.is_some(),
            state: e.state,
            error: e.error_code.map(|code| {
                let code = serde_json::from_value(serde_json::Value::String(code)).unwrap_or(ErrorCode::Internal);
                ErrorBody::new(code, e.error_message.unwrap_or_default())
            }),
            created_at: e.created_at,
            updated_at: e.updated_at,
        })
        .collect())
}

fn connected_client(store: &Store) -> Result<Client> {
    let conn = store.conn();
    let not_logged_in = || {
        Error::new(
            ErrorCode::NotLoggedIn,
            "This device is not signed in to a server; sign in first (liaison login URL --user NAME).",
        )
    };
    let token = meta::get(conn, keys::TOKEN)?.ok_or_else(not_logged_in)?;
    let url = meta::get(conn, keys::URL)?.ok_or_else(not_logged_in)?;
    let fingerprint = meta::get(conn, keys::FINGERPRINT)?.ok_or_else(not_logged_in)?;
    Client::new(&url, Some(fingerprint), Some(token))
}

/// The signed-in server, for short calls made without holding the store (presence): read the
/// session from the store, let go of it, then call.
pub struct ServerLink {
    client: Client,
}

impl std::fmt::Debug for ServerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerLink").field("base", &self.client.base).finish_non_exhaustive()
    }
}

/// The session this device is signed in with (`not_logged_in` when there is none).
pub fn server_link(store: &Store) -> Result<ServerLink> {
    Ok(ServerLink { client: connected_client(store)? })
}

impl ServerLink {
    /// The server's address.
    pub fn base(&self) -> &str {
        &self.client.base
    }

    /// Tell the server, revoked, that this device wiped its local data (see [`crate::wipe`]).
    pub async fn confirm_wiped(&self) -> Result<()> {
        let client = &self.client;
        let call =
            client.request(reqwest::Method::POST, "/v1/device/wiped").timeout(std::time::Duration::from_secs(10));
        let _: serde_json::Value = client.send(call).await?;
        Ok(())
    }

    /// Tell the server what this device is doing with a case; learn who else is at it and, when
    /// `draft_started_at` is given, the replies others sent since (see the server's `presence`).
    pub async fn presence(
        &self,
        case: Uuid,
        activity: liaison_protocol::wire::Activity,
        draft_started_at: Option<&str>,
    ) -> Result<liaison_protocol::wire::PresenceResponse> {
        let request = liaison_protocol::wire::PresenceRequest {
            case_id: case,
            activity,
            draft_started_at: draft_started_at.map(str::to_owned),
        };
        let client = &self.client;
        let call = client.request(reqwest::Method::POST, "/v1/presence").timeout(std::time::Duration::from_secs(10));
        client.send(call.json(&request)).await
    }
}

/// Erase a person's data everywhere (right to erasure; staff and administrators only): the server
/// erases the contact and its related rows and refuses later changes to them, then this device
/// syncs so the erasure applies here at once. Needs the server: offline it fails and changes
/// nothing.
pub async fn erase_contact(store: &mut Store, id: Uuid) -> Result<SyncReport> {
    let client = connected_client(store)?;
    let _: liaison_protocol::wire::EraseResponse =
        client.send(client.request(reqwest::Method::POST, &format!("/v1/contacts/{id}/erase"))).await?;
    sync(store).await
}

/// Push every waiting change, then pull everything new. On failure the error is also recorded
/// for the status line; nothing local is lost and the next run continues where this one stopped.
pub async fn sync(store: &mut Store) -> Result<SyncReport> {
    let result = run(store).await;
    let recorded = match &result {
        Ok(_) => store.transaction(|tx| {
            meta::set(tx, keys::LAST_SYNC, &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))?;
            meta::remove(tx, keys::LAST_ERROR)
        }),
        Err(e) => {
            let body = serde_json::to_string(&e.body()).unwrap_or_default();
            store.transaction(|tx| meta::set(tx, keys::LAST_ERROR, &body))
        }
    };
    let (pushed, rejected, changes) = result?;
    recorded?;
    Ok(SyncReport {
        pushed,
        rejected,
        pulled: changes.rows,
        changed: changes.kinds.into_iter().collect(),
        status: status(store)?,
    })
}

async fn run(store: &mut Store) -> Result<(u64, u64, Changes)> {
    let client = connected_client(store)?;
    let (pushed, rejected) = push(store, &client).await?;
    upload_files(store, &client).await?;
    let pulled = pull(store, &client).await?;
    Ok((pushed, rejected, pulled))
}

/// Send the content of attachments written here that the server does not have yet (after the
/// push that carried their rows, which the server checks it against).
async fn upload_files(store: &mut Store, client: &Client) -> Result<()> {
    for sha256 in desk::pending_uploads(store.conn())? {
        let Some(content) = desk::get_blob(store.conn(), &sha256)? else { continue };
        let req = client
            .request(reqwest::Method::PUT, &format!("/v1/blobs/{sha256}"))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(content);
        let resp = req.send().await.map_err(|e| client.transport_error(e))?;
        let outcome = match client.check_status(resp).await {
            Ok(_) => desk::Upload::Done,
            // No attachment the server accepted names it (its row was refused): never resend.
            Err(e) if e.code == ErrorCode::NotFound => desk::Upload::Refused,
            Err(e) => return Err(e),
        };
        store.transaction(|tx| desk::mark_upload(tx, &sha256, outcome))?;
    }
    Ok(())
}

/// The content of an attachment: from this device when it holds it, else fetched from the server
/// (checked against its digest) and kept inside the encrypted store.
pub async fn fetch_attachment(store: &mut Store, attachment: Uuid) -> Result<(crate::cases::Attachment, Vec<u8>)> {
    if let Some(found) = crate::cases::attachment_content(store, attachment)? {
        return Ok(found);
    }
    let sha256: String = store
        .conn()
        .prepare_cached("SELECT sha256 FROM attachment WHERE id = ?1")?
        .query_row([st::blob(attachment)], |r| r.get(0))
        .map_err(|_| Error::not_found(format!("Attachment {attachment}")))?;
    let client = connected_client(store)?;
    let resp = client
        .request(reqwest::Method::GET, &format!("/v1/blobs/{sha256}"))
        .send()
        .await
        .map_err(|e| client.transport_error(e))?;
    let resp = client.check_status(resp).await?;
    let content = resp.bytes().await.map_err(|e| client.transport_error(e))?;
    if hex::encode(sha2::Sha256::digest(&content)) != sha256 {
        return Err(Error::new(
            ErrorCode::BadResponse,
            "The server sent a file whose content does not match its digest; it was not kept. Try again.",
        ));
    }
    store.transaction(|tx| desk::store_blob(tx, &sha256, &content, desk::Upload::Done))?;
    crate::cases::attachment_content(store, attachment)?
        .ok_or_else(|| Error::not_found(format!("Attachment {attachment}")))
}

async fn push(store: &mut Store, client: &Client) -> Result<(u64, u64)> {
    let (mut accepted, mut rejected) = (0, 0);
    loop {
        // A batch sent earlier whose answer never came goes again, unchanged, with its batch id.
        let in_flight = st::entries(store.conn(), &[OutboxState::Sent], MAX_PUSH_CHANGES)?;
        let (batch_id, entries) = match in_flight.first().and_then(|e| e.batch_id) {
            Some(batch) => (batch, in_flight.into_iter().filter(|e| e.batch_id == Some(batch)).collect::<Vec<_>>()),
            None => {
                let pending = st::entries(store.conn(), &[OutboxState::Pending], MAX_PUSH_CHANGES)?;
                if pending.is_empty() {
                    break;
                }
                let batch = Uuid::now_v7();
                let ids: Vec<i64> = pending.iter().map(|e| e.seq).collect();
                store.transaction(|tx| st::mark_sent(tx, &ids, batch))?;
                (batch, pending)
            }
        };
        let request = PushRequest { batch_id, changes: entries.iter().map(|e| e.change.clone()).collect() };
        let response: PushResponse = client.post_json("/v1/push", &request).await?;
        if response.results.len() != request.changes.len() {
            return Err(Error::new(
                ErrorCode::BadResponse,
                "The server answered a push with the wrong number of results; the changes stay queued.",
            ));
        }
        store.transaction(|tx| {
            for result in &response.results {
                match result.outcome {
                    Outcome::Accepted => {
                        st::mark_result(tx, result.change_id, OutboxState::Accepted, None)?;
                        accepted += 1;
                    }
                    Outcome::Rejected => {
                        let (code, message) =
                            result.error.as_ref().map_or(("internal", "refused without a reason"), |e| {
                                (e.code.as_str(), e.message.as_str())
                            });
                        st::mark_result(tx, result.change_id, OutboxState::Rejected, Some((code, message)))?;
                        rejected += 1;
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok((accepted, rejected))
}

fn rfc3339(hlc: Hlc) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(hlc.millis).unwrap_or(0))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Apply pulled rows with the merge rule and re-index the root rows (contacts, cases) whose trees
/// they belong to, in the caller's transaction (their search entries now, or deferred to the end
/// of a bulk load). Returns how many rows changed something here.
fn apply_rows(tx: &rusqlite::Connection, rows: &[RowState], mark_seen: bool, search: Search) -> Result<Changes> {
    let mut changed = Changes::default();
    let mut newest_per_root: std::collections::BTreeMap<(EntityKind, Uuid), Hlc> = std::collections::BTreeMap::new();
    let mut batch = write::RemoteBatch::begin(tx)?;
    for row in rows {
        // The root is found before the row changes: a deleted row no longer names its parent.
        let root = entities::root_of(tx, row.entity, row.row_id, Some(&row.fields))?;
        if batch.apply(row)?.changed {
            changed.note(row.entity, 1);
            if let Some(root) = root {
                let newest = row.fields.values().map(|f| f.hlc).max().unwrap_or(Hlc::ZERO);
                let slot = newest_per_root.entry(root).or_insert(newest);
                *slot = (*slot).max(newest);
            }
        }
        if mark_seen {
            st::mark_seen(tx, row.entity, row.row_id)?;
        }
    }
    batch.finish()?;
    for ((kind, id), hlc) in newest_per_root {
        let at = if hlc == Hlc::ZERO { None } else { Some(rfc3339(hlc)) };
        entities::reindex_with(tx, kind, id, at.as_deref(), search)?;
    }
    // Attachment content whose rows went (deleted, erased, revoked) goes with them.
    crate::store::desk::drop_unreferenced_blobs(tx)?;
    Ok(changed)
}

/// Apply one page of pulled rows (revoked scopes first) and move the cursor, in one transaction.
/// Returns how many rows changed here.
pub fn apply_page(store: &mut Store, page: &PullResponse) -> Result<u64> {
    Ok(apply_page_changes(store, page)?.rows)
}

fn apply_page_changes(store: &mut Store, page: &PullResponse) -> Result<Changes> {
    store.transaction(|tx| {
        let mut changed = Changes::default();
        for scope in &page.revoked_scopes {
            for (kind, rows) in write::revoke_scope(tx, scope)? {
                changed.note(kind, rows);
            }
        }
        changed.add(apply_rows(tx, &page.rows, false, Search::Now)?);
        meta::set(tx, keys::CURSOR, &page.next_cursor.to_string())?;
        Ok(changed)
    })
}

fn meta_u64(conn: &rusqlite::Connection, key: &str) -> Result<u64> {
    Ok(meta::get(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Store a chunk of snapshot rows and the snapshot's progress in one transaction, so an
/// interruption anywhere resumes after the last stored row.
fn store_snapshot_chunk(store: &mut Store, at: u64, rows: &[RowState], resync: bool) -> Result<Changes> {
    // A chunk lost to a power cut is downloaded again (its progress is lost with it).
    store.transaction_refetchable(|tx| {
        // A first snapshot fills an empty store: its indexes and search entries are built once,
        // at its end. A re-sync changes a few rows of a full store, which are indexed as they come.
        let search = if resync { Search::Now } else { Search::Deferred };
        if !resync {
            entities::suspend_indexes(tx)?;
        }
        let changed = apply_rows(tx, rows, resync, search)?;
        meta::set(tx, keys::SNAPSHOT_AT, &at.to_string())?;
        if let Some(last) = rows.last() {
            meta::set(tx, keys::SNAPSHOT_AFTER, &last.seq.to_string())?;
        }
        Ok(changed)
    })
}

/// Finish a snapshot: a re-sync deletes the rows the snapshot did not contain (except those
/// with unsent changes), then incremental pulls continue from `at`.
fn finish_snapshot(store: &mut Store, at: u64, resync: bool) -> Result<Changes> {
    store.transaction(|tx| {
        let mut changed = Changes::default();
        if resync {
            for (entity, row) in st::take_unseen(tx)? {
                changed.note(entity, u64::from(write::forget_missing(tx, entity, row)?));
            }
        }
        entities::restore_indexes(tx)?;
        crate::store::desk::drop_unreferenced_blobs(tx)?;
        meta::set(tx, keys::CURSOR, &at.to_string())?;
        for key in [keys::SNAPSHOT_AT, keys::SNAPSHOT_AFTER, keys::SNAPSHOT_RESYNC] {
            meta::remove(tx, key)?;
        }
        Ok(changed)
    })
}

/// A snapshot being received: where it is consistent, whether its start line came, and the
/// rows not stored yet.
struct Receiving {
    at: u64,
    started: bool,
    resync: bool,
    rows: Vec<RowState>,
    changed: Changes,
}

impl Receiving {
    /// Take a batch of lines, storing full chunks; `Some(changed)` once the end line is stored.
    fn take(&mut self, store: &mut Store, lines: Vec<liaison_protocol::wire::SnapshotLine>) -> Result<Option<Changes>> {
        use liaison_protocol::wire::SnapshotLine;
        for line in lines {
            match line {
                SnapshotLine::Start { at: server_at } => {
                    if self.at != 0 && server_at != self.at {
                        return Err(bad_snapshot("it is not the snapshot that was being resumed"));
                    }
                    self.at = server_at;
                    self.started = true;
                }
                SnapshotLine::Row(row) => {
                    if !self.started {
                        return Err(bad_snapshot("rows before the start line"));
                    }
                    self.rows.push(row);
                    if self.rows.len() >= SNAPSHOT_CHUNK {
                        self.changed.add(store_snapshot_chunk(store, self.at, &self.rows, self.resync)?);
                        self.rows.clear();
                    }
                }
                SnapshotLine::End { at: end_at, .. } => {
                    if end_at != self.at {
                        return Err(bad_snapshot("the end line names another sequence"));
                    }
                    self.changed.add(store_snapshot_chunk(store, self.at, &self.rows, self.resync)?);
                    self.changed.add(finish_snapshot(store, self.at, self.resync)?);
                    return Ok(Some(std::mem::take(&mut self.changed)));
                }
            }
        }
        Ok(None)
    }
}

fn bad_snapshot(what: &str) -> Error {
    Error::new(
        ErrorCode::BadResponse,
        format!(
            "The server's snapshot could not be read ({what}); what arrived so far is kept and the next sync continues."
        ),
    )
}

/// Receive a snapshot: every row this user may read as of one server sequence, streamed as one
/// JSON line per row and stored in chunks as it arrives. If the stream breaks, the progress
/// made is kept and the next run asks for the rest only (same `at`, after the last stored row).
async fn snapshot(store: &mut Store, client: &Client) -> Result<Changes> {
    let resync = meta::get(store.conn(), keys::SNAPSHOT_RESYNC)?.is_some();
    let at = meta_u64(store.conn(), keys::SNAPSHOT_AT)?;
    let after = meta_u64(store.conn(), keys::SNAPSHOT_AFTER)?;
    let resp = client
        .request(reqwest::Method::GET, &format!("/v1/snapshot?at={at}&after={after}"))
        .send()
        .await
        .map_err(|e| client.transport_error(e))?;
    let mut resp = client.check_status(resp).await?;
    let mut receiving =
        Receiving { at, started: false, resync, rows: Vec::with_capacity(SNAPSHOT_CHUNK), changed: Changes::default() };
    let mut buffer: Vec<u8> = Vec::new();
    let broken = loop {
        // A stream cut mid-way (often mid-compression-frame, which reqwest calls a decode
        // error) is a broken connection, not a server that speaks another language.
        let chunk = match resp.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        };
        buffer.extend_from_slice(&chunk);
        // Every complete line in the buffer; the incomplete rest waits for the next chunk.
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(len) = buffer[start..].iter().position(|b| *b == b'\n') {
            let line = &buffer[start..start + len];
            start += len + 1;
            // A row of a kind this version does not know (a newer server's) is skipped.
            if !line.iter().all(u8::is_ascii_whitespace)
                && let Some(line) =
                    liaison_protocol::wire::read_snapshot_line(line).map_err(|e| bad_snapshot(&e.to_string()))?
            {
                lines.push(line);
            }
        }
        buffer.drain(..start);
        if let Some(changed) = receiving.take(store, lines)? {
            return Ok(changed);
        }
    };
    // The stream ended without its end line: keep every complete row that arrived (they are
    // consistent at `at`), so the next sync asks only for the rest.
    if receiving.started {
        store_snapshot_chunk(store, receiving.at, &receiving.rows, resync)?;
        // What arrived is listed and searchable until the download continues.
        store.transaction(|tx| entities::restore_indexes(tx))?;
    }
    Err(Error::new(
        ErrorCode::ServerUnreachable,
        match broken {
            Some(e) => format!("The connection to the server broke during the download ({e}); what arrived is kept and the next sync continues from there."),
            None => "The connection to the server broke during the first download; what arrived is kept and the next sync continues from there.".into(),
        },
    ))
}

async fn pull(store: &mut Store, client: &Client) -> Result<Changes> {
    let mut changed = Changes::default();
    // A device that starts from nothing, or was away longer than the server keeps deletions,
    // (re)starts from a snapshot; one that was interrupted during a snapshot continues it.
    if meta::get(store.conn(), keys::SNAPSHOT_AT)?.is_some() {
        changed.add(snapshot(store, client).await?);
    } else if meta_u64(store.conn(), keys::CURSOR)? == 0 {
        // A device that already holds rows from the server (its cursor was reset, e.g. by
        // signing in again) must also drop the rows the snapshot no longer has: snapshots
        // carry no tombstones.
        let holds_rows =
            store.conn().query_row("SELECT EXISTS (SELECT 1 FROM row_seq)", [], |r| r.get::<_, bool>(0))?;
        if holds_rows {
            store.transaction(|tx| meta::set(tx, keys::SNAPSHOT_RESYNC, "1"))?;
        }
        changed.add(snapshot(store, client).await?);
    }
    loop {
        let since = meta_u64(store.conn(), keys::CURSOR)?;
        let page: PullResponse = match client
            .send(client.request(reqwest::Method::GET, &format!("/v1/pull?since={since}&limit={PULL_PAGE}")))
            .await
        {
            Err(e) if e.code == ErrorCode::ResyncRequired => {
                tracing::info!(since, "the server no longer keeps deletions this old; re-syncing from a snapshot");
                store.transaction(|tx| {
                    meta::set(tx, keys::SNAPSHOT_RESYNC, "1")?;
                    meta::set(tx, keys::SNAPSHOT_AT, "0")?;
                    meta::set(tx, keys::SNAPSHOT_AFTER, "0")
                })?;
                changed.add(snapshot(store, client).await?);
                continue;
            }
            other => other?,
        };
        if page.next_cursor < since {
            return Err(Error::new(
                ErrorCode::BadResponse,
                "The server moved the sync cursor backwards; refusing the page.",
            ));
        }
        changed.add(apply_page_changes(store, &page)?);
        // A page may hold no row this user may read and still move the cursor: keep going
        // while the server has more and the cursor advances.
        if !page.has_more || page.next_cursor == since {
            break;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_server_addresses_are_accepted() {
        assert_eq!(normalise_url("https://liaison.example.org/").expect("ok"), "https://liaison.example.org");
        assert_eq!(normalise_url(" https://127.0.0.1:8443 ").expect("ok"), "https://127.0.0.1:8443");
        for bad in ["http://example.org", "example.org", "ftp://x", "https://", "https://x.org/?a=b"] {
            assert_eq!(normalise_url(bad).expect_err(bad).code, ErrorCode::InvalidInput, "{bad} must be refused");
        }
    }

    #[test]
    fn fingerprints_are_accepted_in_common_notations() {
        let plain = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(normalise_fingerprint(&colons).expect("colons"), plain);
        assert_eq!(normalise_fingerprint(&plain).expect("plain"), plain);
        assert!(normalise_fingerprint("abcd").is_err(), "too short");
        assert!(normalise_fingerprint(&"zz".repeat(32)).is_err(), "not hex");
    }
}
