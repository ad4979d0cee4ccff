//! `GET /v1/snapshot` (a streamed, resumable NDJSON body) and the `410 resync_required` answer
//! of a pull below the tombstone horizon, through `tower::ServiceExt::oneshot`.

use crate::router::{TestApp, app, authed, login, password_hash, request};
use crate::support::{batch, change, delete};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use chrono::{DateTime, Utc};
use flate2::read::GzDecoder;
use liaison_protocol::error::{ErrorBody, ErrorCode};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::EntityKind;
use liaison_protocol::wire::{
    Change, MAX_PUSH_CHANGES, PROTOCOL_HEADER, PullResponse, PushBatch, PushRequest, PushResponse, Role,
    SNAPSHOT_CONTENT_TYPE, SnapshotLine,
};
use liaison_server::handlers::SNAPSHOT_CHUNK_ROWS;
use liaison_server::storage::{
    ClampRecord, Device, DeviceAuth, DeviceInfo, ErasureReport, GrantInfo, GrantReport, NewDevice, NewUser,
    PruneReport, PullPage, Pusher, Record, RowsOfKind, SnapshotChunk, SqliteStorage, Storage, StorageError, User,
    UserCredentials,
};
use liaison_server::{AppState, router};
use serde_json::{Value, json};
use std::io::Read;
use std::sync::Arc;
use tower::ServiceExt;
use uuid::Uuid;

/// The raw answer: status, headers and body bytes.
async fn get(app: &TestApp, uri: &str, token: Option<&str>, accept: Option<&str>) -> axum::http::Response<Vec<u8>> {
    get_from(&app.router, uri, token, accept).await
}

async fn get_from(
    router: &axum::Router,
    uri: &str,
    token: Option<&str>,
    accept: Option<&str>,
) -> axum::http::Response<Vec<u8>> {
    let mut req = request(Method::GET, uri);
    if let Some(encoding) = accept {
        req = req.header(header::ACCEPT_ENCODING, encoding);
    }
    let mut req = req.body(Body::empty()).expect("request");
    if let Some(token) = token {
        req = authed(req, token);
    }
    let response = router.clone().oneshot(req).await.expect("the router never fails");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("the whole body");
    axum::http::Response::from_parts(parts, bytes.to_vec())
}

fn content_type(response: &axum::http::Response<Vec<u8>>) -> Option<&str> {
    response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// Every line of an NDJSON body, checking that each one ends with a newline.
fn lines(body: &[u8]) -> Vec<SnapshotLine> {
    let text = std::str::from_utf8(body).expect("UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "every line ends with a newline: {text:?}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("a SnapshotLine: {e}: {line}")))
        .collect()
}

async fn push(app: &TestApp, token: &str, changes: Vec<Change>) -> PushResponse {
    let req: PushRequest = batch(changes);
    let req = request(Method::POST, "/v1/push")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&req).expect("json")))
        .expect("request");
    let response = app.router.clone().oneshot(authed(req, token)).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    serde_json::from_slice(&bytes).expect("a PushResponse")
}

fn named(id: Uuid, name: &str) -> Change {
    change(id, &[("display_name", json!(name), Hlc::new(1_750_000_000_000, 0))])
}

#[tokio::test]
async fn a_snapshot_streams_a_start_line_the_live_rows_in_order_and_an_end_line() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    push(&app, &token, ids.iter().map(|id| named(*id, "Ada")).collect()).await;
    push(&app, &token, vec![delete(ids[1], Hlc::new(1_750_000_000_001, 0))]).await;
    let at = app.storage.current_seq().await.expect("seq");

    let response = get(&app, "/v1/snapshot", Some(&token), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), Some(SNAPSHOT_CONTENT_TYPE), "newline-delimited JSON");
    let text = String::from_utf8(response.body().clone()).expect("UTF-8");
    assert!(text.starts_with(&format!("{{\"start\":{{\"at\":{at}}}}}\n")), "the wire form of the first line: {text}");
    assert!(text.ends_with(&format!("{{\"end\":{{\"at\":{at},\"rows\":2}}}}\n")), "and of the last: {text}");
    let parsed = lines(response.body());
    let rows: Vec<Uuid> = parsed
        .iter()
        .filter_map(|line| match line {
            SnapshotLine::Row(row) => Some(row.row_id),
            _ => None,
        })
        .collect();
    assert_eq!(rows, vec![ids[0], ids[2]], "live rows in seq order; the deleted one is left out");
    assert_eq!(parsed.len(), 4, "start, two rows, end");

    // Resuming after the first row sends only the second, under the same `at`.
    let first_seq = match &parsed[1] {
        SnapshotLine::Row(row) => row.seq,
        other => panic!("a row: {other:?}"),
    };
    let resumed = get(&app, &format!("/v1/snapshot?at={at}&after={first_seq}"), Some(&token), None).await;
    let resumed = lines(resumed.body());
    assert_eq!(resumed.first(), Some(&SnapshotLine::Start { at }));
    assert_eq!(resumed.last(), Some(&SnapshotLine::End { at, rows: 1 }), "N counts the rows of this response");
    assert!(matches!(&resumed[1], SnapshotLine::Row(row) if row.row_id == ids[2]));

    // A snapshot at an older sequence leaves out what changed after it.
    push(&app, &token, vec![change(ids[0], &[("display_name", json!("Ada L."), Hlc::new(1_750_000_000_002, 0))])])
        .await;
    let old = lines(get(&app, &format!("/v1/snapshot?at={at}"), Some(&token), None).await.body());
    assert_eq!(old.last(), Some(&SnapshotLine::End { at, rows: 1 }), "the renamed row comes with the pull from at");
}

#[tokio::test]
async fn a_large_snapshot_is_streamed_in_several_chunks_and_counted_once() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let total = SNAPSHOT_CHUNK_ROWS as usize + 100;
    let ids: Vec<Uuid> = (0..total).map(|_| Uuid::now_v7()).collect();
    for part in ids.chunks(MAX_PUSH_CHANGES) {
        push(&app, &token, part.iter().map(|id| named(*id, "Someone")).collect()).await;
    }
    let parsed = lines(get(&app, "/v1/snapshot?at=0&after=0", Some(&token), None).await.body());
    let at = app.storage.current_seq().await.expect("seq");
    assert_eq!(parsed.first(), Some(&SnapshotLine::Start { at }), "at=0 means the current counter");
    assert_eq!(parsed.last(), Some(&SnapshotLine::End { at, rows: total as u64 }));
    let rows: Vec<Uuid> = parsed
        .iter()
        .filter_map(|line| match line {
            SnapshotLine::Row(row) => Some(row.row_id),
            _ => None,
        })
        .collect();
    assert_eq!(rows, ids, "every row once, in seq order, across chunk boundaries");
}

#[tokio::test]
async fn a_snapshot_needs_a_token_and_a_sequence_the_server_has_reached() {
    let app = app().await;
    let response = get(&app, "/v1/snapshot", None, None).await;
    let body: ErrorBody = serde_json::from_slice(response.body()).expect("the error shape");
    assert_eq!((response.status(), body.code), (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated));

    let token = login(&app, Uuid::now_v7()).await;
    push(&app, &token, vec![named(Uuid::now_v7(), "Ada")]).await;
    for uri in ["/v1/snapshot?at=99", "/v1/snapshot?at=1&after=2", "/v1/snapshot?at=-1", "/v1/snapshot?after=x"] {
        let response = get(&app, uri, Some(&token), None).await;
        let body: ErrorBody = serde_json::from_slice(response.body()).expect("the error shape");
        assert_eq!((response.status(), body.code), (StatusCode::BAD_REQUEST, ErrorCode::InvalidInput), "{uri}");
    }
    let old = axum::http::Request::builder()
        .uri("/v1/snapshot")
        .header(PROTOCOL_HEADER, "0")
        .body(Body::empty())
        .expect("req");
    let response = app.router.clone().oneshot(authed(old, &token)).await.expect("response");
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED, "the same version check as every endpoint");
}

#[tokio::test]
async fn a_snapshot_is_compressed_with_zstd_or_gzip_when_the_client_accepts_it() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    push(&app, &token, (0..50).map(|i| named(Uuid::now_v7(), &format!("Person {i}"))).collect()).await;
    let plain = get(&app, "/v1/snapshot", Some(&token), None).await;

    let zstd = get(&app, "/v1/snapshot", Some(&token), Some("zstd")).await;
    assert_eq!(zstd.status(), StatusCode::OK);
    assert_eq!(zstd.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()), Some("zstd"));
    assert_eq!(content_type(&zstd), Some(SNAPSHOT_CONTENT_TYPE));
    assert_eq!(zstd.body().get(..4), Some(&[0x28, 0xB5, 0x2F, 0xFD][..]), "a zstd frame");
    assert!(zstd.body().len() < plain.body().len() / 2, "snapshots are large and repetitive: compression pays");

    let gzip = get(&app, "/v1/snapshot", Some(&token), Some("gzip")).await;
    assert_eq!(gzip.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()), Some("gzip"));
    let mut inflated = Vec::new();
    GzDecoder::new(gzip.body().as_slice()).read_to_end(&mut inflated).expect("valid gzip");
    assert_eq!(inflated, *plain.body(), "the same lines, compressed");
}

#[tokio::test]
async fn a_pull_below_the_tombstone_horizon_is_410_resync_required_and_a_snapshot_is_not() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let gone = Uuid::now_v7();
    push(&app, &token, vec![named(gone, "Gone")]).await;
    push(&app, &token, vec![delete(gone, Hlc::new(1_750_000_000_001, 0))]).await;
    push(&app, &token, vec![named(Uuid::now_v7(), "Kept")]).await;
    let report = app.storage.prune_tombstones(Utc::now() + chrono::Duration::seconds(1)).await.expect("prune");
    assert_eq!((report.rows, report.horizon_seq), (1, 2), "{report:?}");

    let response = get(&app, "/v1/pull?since=1", Some(&token), None).await;
    assert_eq!(response.status(), StatusCode::GONE);
    let body: Value = serde_json::from_slice(response.body()).expect("JSON");
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "exactly {{code, message}}: {body}");
    let error: ErrorBody = serde_json::from_value(body).expect("the error shape");
    assert_eq!(error.code, ErrorCode::ResyncRequired);
    assert!(
        error.message.starts_with("This device was away longer than the server keeps deletions (")
            && error.message.ends_with("); it will download everything again and keep its unsent changes."),
        "tells the person what happens and that nothing unsent is lost: {}",
        error.message
    );

    for uri in ["/v1/pull?since=0", "/v1/pull?since=2", "/v1/pull?since=3"] {
        let response = get(&app, uri, Some(&token), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}: a new device and cursors at or past the horizon pull");
        let _: PullResponse = serde_json::from_slice(response.body()).expect("a page");
    }
    let snapshot = get(&app, "/v1/snapshot?at=1", Some(&token), None).await;
    assert_eq!(snapshot.status(), StatusCode::OK, "a snapshot is how a device re-syncs: never 410");
    assert_eq!(lines(snapshot.body()).last(), Some(&SnapshotLine::End { at: 1, rows: 0 }));
}

/// SQLite storage whose snapshot fails after its first chunk, as a database that goes away
/// mid-stream would.
struct FailsMidSnapshot(SqliteStorage);

#[async_trait]
impl Storage for FailsMidSnapshot {
    async fn create_user(&self, new: NewUser) -> Result<User, StorageError> {
        self.0.create_user(new).await
    }
    async fn find_user_by_name(&self, name: &str) -> Result<Option<UserCredentials>, StorageError> {
        self.0.find_user_by_name(name).await
    }
    async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        self.0.list_users().await
    }
    async fn set_role(&self, name: &str, role: Role) -> Result<User, StorageError> {
        self.0.set_role(name, role).await
    }
    async fn grant(&self, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantReport, StorageError> {
        self.0.grant(user_name, scope, now).await
    }
    async fn revoke(&self, user_name: &str, scope: &str, now: DateTime<Utc>) -> Result<GrantInfo, StorageError> {
        self.0.revoke(user_name, scope, now).await
    }
    async fn list_grants(&self) -> Result<Vec<GrantInfo>, StorageError> {
        self.0.list_grants().await
    }
    async fn register_device(&self, new: NewDevice, now: DateTime<Utc>) -> Result<Device, StorageError> {
        self.0.register_device(new, now).await
    }
    async fn find_device_by_token_hash(&self, token_hash: &str) -> Result<Option<DeviceAuth>, StorageError> {
        self.0.find_device_by_token_hash(token_hash).await
    }
    async fn touch_device(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.0.touch_device(device_id, now).await
    }
    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StorageError> {
        self.0.list_devices().await
    }
    async fn list_clamps(&self, limit: u32) -> Result<Vec<ClampRecord>, StorageError> {
        self.0.list_clamps(limit).await
    }
    async fn revoke_device(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
        self.0.revoke_device(device_id, now).await
    }
    async fn confirm_wiped(&self, device_id: Uuid, now: DateTime<Utc>) -> Result<DeviceInfo, StorageError> {
        self.0.confirm_wiped(device_id, now).await
    }
    async fn append_audit(
        &self,
        entry: &liaison_server::audit::NewAudit,
        now: DateTime<Utc>,
    ) -> Result<liaison_server::audit::AuditEntry, StorageError> {
        self.0.append_audit(entry, now).await
    }
    async fn audit_entries(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<liaison_server::audit::AuditEntry>, StorageError> {
        self.0.audit_entries(after, limit).await
    }
    async fn push_as(
        &self,
        pusher: Pusher,
        batch: &PushBatch,
        now: DateTime<Utc>,
    ) -> Result<PushResponse, StorageError> {
        self.0.push_as(pusher, batch, now).await
    }
    async fn erase_contact(&self, contact_id: Uuid, now: DateTime<Utc>) -> Result<ErasureReport, StorageError> {
        self.0.erase_contact(contact_id, now).await
    }
    async fn rows_of(&self, kind: EntityKind) -> Result<RowsOfKind, StorageError> {
        self.0.rows_of(kind).await
    }
    async fn ended_among(&self, kind: EntityKind, ids: &[Uuid]) -> Result<Vec<Uuid>, StorageError> {
        self.0.ended_among(kind, ids).await
    }
    async fn pull_page_as(&self, user: &User, since: u64, limit: u32, protocol: u32) -> Result<PullPage, StorageError> {
        self.0.pull_page_as(user, since, limit, protocol).await
    }
    async fn current_seq(&self) -> Result<u64, StorageError> {
        self.0.current_seq().await
    }
    async fn snapshot_chunk_as(
        &self,
        user: &User,
        at: u64,
        after: u64,
        limit: u32,
        protocol: u32,
    ) -> Result<SnapshotChunk, StorageError> {
        if after > 0 {
            return Err(StorageError::Busy);
        }
        self.0.snapshot_chunk_as(user, at, after, limit, protocol).await
    }
    async fn prune_tombstones(&self, older_than: DateTime<Utc>) -> Result<PruneReport, StorageError> {
        self.0.prune_tombstones(older_than).await
    }
    async fn feed(&self, since: u64, limit: u32) -> Result<Vec<liaison_server::storage::PulledRow>, StorageError> {
        self.0.feed(since, limit).await
    }
    async fn row(&self, kind: EntityKind, id: Uuid) -> Result<Option<liaison_protocol::wire::RowState>, StorageError> {
        self.0.row(kind, id).await
    }
    async fn row_for(
        &self,
        user: &User,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Option<liaison_protocol::wire::RowState>, StorageError> {
        self.0.row_for(user, kind, id).await
    }
    async fn children(&self, parent: Uuid) -> Result<Vec<liaison_protocol::wire::RowState>, StorageError> {
        self.0.children(parent).await
    }
    async fn contacts_with_address(&self, address: &str) -> Result<Vec<Uuid>, StorageError> {
        self.0.contacts_with_address(address).await
    }
    async fn record(&self, kind: &str, key: &str) -> Result<Option<Record>, StorageError> {
        self.0.record(kind, key).await
    }
    async fn put_record(&self, record: &Record) -> Result<(), StorageError> {
        self.0.put_record(record).await
    }
    async fn insert_record(&self, record: &Record) -> Result<bool, StorageError> {
        self.0.insert_record(record).await
    }
    async fn swap_record(&self, record: &Record, expected_state: &str) -> Result<bool, StorageError> {
        self.0.swap_record(record, expected_state).await
    }
    async fn delete_record(&self, kind: &str, key: &str) -> Result<bool, StorageError> {
        self.0.delete_record(kind, key).await
    }
    async fn list_records(
        &self,
        kind: &str,
        state: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Record>, StorageError> {
        self.0.list_records(kind, state, after, limit).await
    }
    async fn next_number(&self, counter: &str) -> Result<u64, StorageError> {
        self.0.next_number(counter).await
    }
    async fn put_blob(
        &self,
        user: &User,
        sha256: &str,
        content: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.0.put_blob(user, sha256, content, now).await
    }
    async fn get_blob(&self, user: &User, sha256: &str) -> Result<Vec<u8>, StorageError> {
        self.0.get_blob(user, sha256).await
    }
}

#[tokio::test]
async fn a_snapshot_that_fails_mid_stream_ends_without_its_end_line() {
    let storage: Arc<dyn Storage> =
        Arc::new(FailsMidSnapshot(SqliteStorage::open_in_memory().expect("in-memory database")));
    storage
        .create_user(NewUser { name: "ana".into(), role: Role::Staff, password_hash: password_hash() })
        .await
        .expect("create ana");
    let app = TestApp { router: router(AppState::new(Arc::clone(&storage))), storage };
    let token = login(&app, Uuid::now_v7()).await;
    let total = SNAPSHOT_CHUNK_ROWS as usize + 10;
    let ids: Vec<Uuid> = (0..total).map(|_| Uuid::now_v7()).collect();
    for part in ids.chunks(MAX_PUSH_CHANGES) {
        push(&app, &token, part.iter().map(|id| named(*id, "Someone")).collect()).await;
    }
    let response = get(&app, "/v1/snapshot", Some(&token), None).await;
    assert_eq!(response.status(), StatusCode::OK, "the failure comes after the answer started");
    let parsed = lines(response.body());
    assert!(matches!(parsed.first(), Some(SnapshotLine::Start { .. })));
    assert!(
        !parsed.iter().any(|line| matches!(line, SnapshotLine::End { .. })),
        "no end line: the device knows the snapshot is incomplete and resumes it"
    );
    assert_eq!(parsed.len(), 1 + SNAPSHOT_CHUNK_ROWS as usize, "the first chunk arrived whole");
}

/// A benchmark, not run by default (run it in release):
/// `cargo test -p liaison-server --release --test server -- --ignored --nocapture snapshot_benchmark`.
/// `LIAISON_BENCH_CONTACTS` (default 100,000) contacts with five rows each (emails, phones,
/// identifiers) in an SQLite file (PostgreSQL with `LIAISON_BENCH_POSTGRES=1`); prints how long
/// seeding and the zstd snapshot took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it in release with --ignored"]
async fn snapshot_benchmark_of_contacts_with_five_rows_each() {
    use liaison_protocol::schema::EntityKind;
    let contacts: usize = std::env::var("LIAISON_BENCH_CONTACTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> = if std::env::var_os("LIAISON_BENCH_POSTGRES").is_some() {
        crate::storage::postgres::storage().await.0
    } else {
        Arc::new(SqliteStorage::open(&dir.path().join("server.db")).expect("open"))
    };
    let user = storage
        .create_user(NewUser { name: "ana".into(), role: Role::Staff, password_hash: "$argon2id$fake".into() })
        .await
        .expect("user");
    let device = Uuid::now_v7();
    let hlc = Hlc::new(1_750_000_000_000, 0);
    let seeding = std::time::Instant::now();
    let mut changes = Vec::new();
    for i in 0..contacts {
        let contact = Uuid::now_v7();
        changes.push(change(
            contact,
            &[
                ("display_name", json!(format!("Person number {i}")), hlc),
                ("organization", json!("Wikimedia Deutschland"), hlc),
                ("notes", json!("Met at the editathon; interested in training new editors."), hlc),
            ],
        ));
        for (entity, fields) in [
            (EntityKind::ContactEmail, vec![("address", json!(format!("person{i}@example.org")))]),
            (EntityKind::ContactEmail, vec![("address", json!(format!("p{i}@work.example.org")))]),
            (EntityKind::ContactPhone, vec![("number", json!(format!("+49 30 {i:07}")))]),
            (EntityKind::ContactIdentifier, vec![("kind", json!("wiki")), ("value", json!(format!("User{i}")))]),
            (EntityKind::ContactIdentifier, vec![("kind", json!("wikidata")), ("value", json!(format!("Q{i}")))]),
        ] {
            changes.push(crate::support::child(entity, Uuid::now_v7(), contact, &fields, hlc));
        }
        if changes.len() >= MAX_PUSH_CHANGES - 6 || i + 1 == contacts {
            storage.push(&user, device, &batch(std::mem::take(&mut changes)), Utc::now()).await.expect("push");
        }
    }
    let seeded = seeding.elapsed();
    storage
        .register_device(
            NewDevice {
                id: Uuid::now_v7(),
                user_id: user.id,
                name: "bench".into(),
                token_hash: liaison_server::auth::token_hash("t"),
            },
            Utc::now(),
        )
        .await
        .expect("device");
    let router = router(AppState::new(Arc::clone(&storage)));
    let started = std::time::Instant::now();
    let response = get_from(&router, "/v1/snapshot", Some("t"), Some("zstd")).await;
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    println!(
        "{contacts} contacts, {} rows: seeded in {:.1} s; snapshot (zstd, {:.1} MB) in {:.2} s",
        contacts * 6,
        seeded.as_secs_f64(),
        response.body().len() as f64 / 1e6,
        took.as_secs_f64()
    );
}
