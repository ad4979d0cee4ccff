//! The HTTP API through `tower::ServiceExt::oneshot`: no socket, no TLS.

use crate::support::{batch, change};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use flate2::Compression;
use flate2::write::GzEncoder;
use liaison_protocol::error::{ErrorBody, ErrorCode};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::wire::{
    LoginResponse, MAX_BODY_BYTES, MAX_PUSH_CHANGES, Outcome, PROTOCOL_HEADER, PullResponse, PushResponse, Role,
    ServerInfo,
};
use liaison_server::auth::{LoginLimiter, hash_password};
use liaison_server::storage::{NewUser, SqliteStorage, Storage};
use liaison_server::{AppState, router};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower::ServiceExt;
use uuid::Uuid;

pub(crate) const PASSWORD: &str = "correct horse battery";

/// Hashing with Argon2id takes a while; every test shares one hash.
pub(crate) fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash")).clone()
}

pub(crate) struct TestApp {
    pub(crate) router: Router,
    pub(crate) storage: Arc<dyn Storage>,
}

async fn app_with(limiter: LoginLimiter) -> TestApp {
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open_in_memory().expect("in-memory database"));
    storage
        .create_user(NewUser { name: "ana".into(), role: Role::Staff, password_hash: password_hash() })
        .await
        .expect("create ana");
    let router = router(AppState::new(Arc::clone(&storage)).with_login_limiter(limiter));
    TestApp { router, storage }
}

pub(crate) async fn app() -> TestApp {
    app_with(LoginLimiter::default()).await
}

pub(crate) fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri).header(PROTOCOL_HEADER, "1")
}

fn json_request(method: Method, uri: &str, body: &Value) -> Request<Body> {
    request(method, uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

async fn send(app: &TestApp, req: Request<Body>) -> (StatusCode, Value) {
    let response = app.router.clone().oneshot(req).await.expect("the router never fails");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("every answer is JSON, got {status} {:?}: {e}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

/// Assert the `{ code, message }` shape and the status of `code`, and return the body.
fn assert_error(status: StatusCode, body: &Value, code: ErrorCode) -> ErrorBody {
    let error: ErrorBody = serde_json::from_value(body.clone()).expect("the error shape is { code, message }");
    assert_eq!(error.code, code, "unexpected code; body {body}");
    assert_eq!(status.as_u16(), code.http_status(), "the status must be the code's status; body {body}");
    assert!(!error.message.is_empty(), "a message for people");
    error
}

fn login_body(user: &str, password: &str, device: Uuid) -> Value {
    json!({"user": user, "password": password, "device_id": device, "device_name": "test laptop"})
}

pub(crate) async fn login(app: &TestApp, device: Uuid) -> String {
    let (status, body) = send(app, json_request(Method::POST, "/v1/login", &login_body("ana", PASSWORD, device))).await;
    assert_eq!(status, StatusCode::OK, "login failed: {body}");
    let response: LoginResponse = serde_json::from_value(body).expect("a LoginResponse");
    response.token
}

pub(crate) fn authed(mut req: Request<Body>, token: &str) -> Request<Body> {
    req.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));
    req
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compress")
}

#[tokio::test]
async fn info_answers_with_the_supported_protocol_range() {
    let app = app().await;
    let (status, body) = send(&app, request(Method::GET, "/v1/info").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK);
    let info: ServerInfo = serde_json::from_value(body).expect("ServerInfo");
    assert_eq!((info.protocol_min, info.protocol_max), (1, liaison_protocol::PROTOCOL_VERSION));
    assert!(
        ["contact", "conflict", "queue", "case", "case_message", "attachment"]
            .iter()
            .all(|k| info.entities.iter().any(|e| e == k)),
        "the server lists the kinds it serves: {:?}",
        info.entities
    );
}

#[tokio::test]
async fn login_with_the_right_password_returns_a_token_that_authenticates() {
    let app = app().await;
    let device = Uuid::now_v7();
    let (status, body) =
        send(&app, json_request(Method::POST, "/v1/login", &login_body("Ana", PASSWORD, device))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response: LoginResponse = serde_json::from_value(body).expect("LoginResponse");
    assert_eq!((response.user.as_str(), response.role, response.device_id), ("ana", Role::Staff, device));
    assert_eq!(response.token.len(), 64, "256-bit token in hex");

    let devices = app.storage.list_devices().await.expect("list");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device.name, "test laptop");
    assert!(
        app.storage.find_device_by_token_hash(&response.token).await.expect("find").is_none(),
        "the token itself is never stored, only its hash"
    );

    let req = authed(request(Method::GET, "/v1/pull").body(Body::empty()).expect("req"), &response.token);
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "the new token authenticates: {body}");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = app().await;
    let (s1, wrong) =
        send(&app, json_request(Method::POST, "/v1/login", &login_body("ana", "nope nope", Uuid::now_v7()))).await;
    let (s2, unknown) =
        send(&app, json_request(Method::POST, "/v1/login", &login_body("zoe", PASSWORD, Uuid::now_v7()))).await;
    assert_error(s1, &wrong, ErrorCode::BadCredentials);
    assert_eq!((s1, &wrong), (s2, &unknown), "the answer must not reveal which user names exist");
    assert!(app.storage.list_devices().await.expect("list").is_empty(), "no device is registered on failure");
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_per_user_name() {
    let app = app_with(LoginLimiter::new(3, Duration::from_secs(60))).await;
    for _ in 0..3 {
        let (status, body) =
            send(&app, json_request(Method::POST, "/v1/login", &login_body("ana", "wrong pw", Uuid::now_v7()))).await;
        assert_error(status, &body, ErrorCode::BadCredentials);
    }
    let (status, body) =
        send(&app, json_request(Method::POST, "/v1/login", &login_body("ana", PASSWORD, Uuid::now_v7()))).await;
    assert_error(status, &body, ErrorCode::RateLimited);
    let (status, _) =
        send(&app, json_request(Method::POST, "/v1/login", &login_body("zoe", "wrong pw", Uuid::now_v7()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "other names are not blocked by ana's failures");
}

#[tokio::test]
async fn a_missing_or_old_protocol_header_gets_426_with_advice_and_a_newer_one_is_served() {
    let app = app().await;
    let cases = [None, Some("0"), Some("abc"), Some("")];
    for header in cases {
        let mut builder = Request::builder().method(Method::GET).uri("/v1/info");
        if let Some(v) = header {
            builder = builder.header(PROTOCOL_HEADER, v);
        }
        let (status, body) = send(&app, builder.body(Body::empty()).expect("req")).await;
        let error = assert_error(status, &body, ErrorCode::UpgradeRequired);
        assert_eq!(
            error.message,
            format!(
                "This server needs Liaison protocol 1 to {}; update Liaison to sync.",
                liaison_protocol::PROTOCOL_VERSION
            ),
            "header {header:?}: the message tells the user what to do"
        );
    }
    // A newer client is served what this server knows: protocols only add kinds, and its changes
    // of kinds this server does not know are refused one by one.
    let newer = (liaison_protocol::PROTOCOL_VERSION + 1).to_string();
    let req = Request::builder().uri("/v1/info").header(PROTOCOL_HEADER, newer).body(Body::empty()).expect("req");
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "a newer client is not turned away");
}

#[tokio::test]
async fn requests_without_a_valid_token_are_unauthenticated() {
    let app = app().await;
    let (status, body) = send(&app, request(Method::GET, "/v1/pull").body(Body::empty()).expect("req")).await;
    assert_error(status, &body, ErrorCode::Unauthenticated);
    let req = authed(request(Method::GET, "/v1/pull").body(Body::empty()).expect("req"), &"0".repeat(64));
    let (status, body) = send(&app, req).await;
    assert_error(status, &body, ErrorCode::Unauthenticated);
    let mut req = request(Method::GET, "/v1/pull").body(Body::empty()).expect("req");
    req.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_static("Basic YW5hOnB3"));
    let (status, body) = send(&app, req).await;
    assert_error(status, &body, ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn a_revoked_device_is_told_to_wipe_and_cannot_sign_in_again() {
    let app = app().await;
    let device = Uuid::now_v7();
    let token = login(&app, device).await;
    app.storage.revoke_device(device, chrono::Utc::now()).await.expect("revoke");

    let req = authed(request(Method::GET, "/v1/pull").body(Body::empty()).expect("req"), &token);
    let (status, body) = send(&app, req).await;
    let error = assert_error(status, &body, ErrorCode::DeviceRevoked);
    assert!(error.message.contains("wiped"), "the client must learn to wipe: {}", error.message);

    let (status, body) =
        send(&app, json_request(Method::POST, "/v1/login", &login_body("ana", PASSWORD, device))).await;
    assert_error(status, &body, ErrorCode::DeviceRevoked);
}

#[tokio::test]
async fn a_revoked_device_confirms_its_wipe_once_and_a_device_that_is_not_revoked_cannot() {
    let app = app().await;
    let device = Uuid::now_v7();
    let token = login(&app, device).await;
    let wiped = || authed(request(Method::POST, "/v1/device/wiped").body(Body::empty()).expect("req"), &token);
    let (status, body) = send(&app, wiped()).await;
    let error = assert_error(status, &body, ErrorCode::InvalidInput);
    assert!(error.message.contains("not revoked"), "a working device keeps its data: {}", error.message);
    let listed = app.storage.list_devices().await.expect("devices");
    assert_eq!(listed[0].device.wiped_at, None, "nothing recorded for a device that is not revoked");

    app.storage.revoke_device(device, chrono::Utc::now()).await.expect("revoke");
    let (status, _) = send(&app, wiped()).await;
    assert_eq!(status, StatusCode::OK, "the one request a revoked device's token is still good for");
    let first = app.storage.list_devices().await.expect("devices")[0].device.wiped_at.expect("the wipe is recorded");
    let (status, _) = send(&app, wiped()).await;
    assert_eq!(status, StatusCode::OK);
    let again = app.storage.list_devices().await.expect("devices")[0].device.wiped_at;
    assert_eq!(again, Some(first), "the first confirmation's time is kept");
    let req = authed(request(Method::GET, "/v1/pull").body(Body::empty()).expect("req"), &token);
    let (status, body) = send(&app, req).await;
    assert_error(status, &body, ErrorCode::DeviceRevoked);
}

#[tokio::test]
async fn a_device_of_one_user_cannot_sign_in_as_another() {
    let app = app().await;
    app.storage
        .create_user(NewUser { name: "bob".into(), role: Role::Volunteer, password_hash: password_hash() })
        .await
        .expect("create bob");
    let device = Uuid::now_v7();
    login(&app, device).await;
    let (status, body) =
        send(&app, json_request(Method::POST, "/v1/login", &login_body("bob", PASSWORD, device))).await;
    assert_error(status, &body, ErrorCode::Forbidden);
    let devices = app.storage.list_devices().await.expect("list");
    assert_eq!(devices[0].user_name, "ana", "the device still belongs to ana: its stamps are hers");
}

#[tokio::test]
async fn malformed_json_is_invalid_input_in_the_error_shape() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let bodies = [
        ("{not json", "application/json"),
        (r#"{"batch_id": "x", "changes": []}"#, "application/json"),
        (
            r#"{"batch_id": "00000000-0000-7000-8000-000000000000", "changes": [{"entity": "planet"}]}"#,
            "application/json",
        ),
        ("\u{0}\u{1}\u{2}", "application/json"),
        (r#"{"batch_id": "00000000-0000-7000-8000-000000000000", "changes": []}"#, "text/plain"),
    ];
    for (body, content_type) in bodies {
        let req = request(Method::POST, "/v1/push")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("req");
        let (status, value) = send(&app, authed(req, &token)).await;
        assert_error(status, &value, ErrorCode::InvalidInput);
    }
    let req = authed(request(Method::GET, "/v1/pull?since=-1").body(Body::empty()).expect("req"), &token);
    let (status, value) = send(&app, req).await;
    assert_error(status, &value, ErrorCode::InvalidInput);
    let req = authed(request(Method::GET, "/v1/pull?limit=0").body(Body::empty()).expect("req"), &token);
    let (status, value) = send(&app, req).await;
    assert_error(status, &value, ErrorCode::InvalidInput);
}

#[tokio::test]
async fn an_oversized_body_is_payload_too_large() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let big =
        format!(r#"{{"batch_id": "{}", "changes": [], "pad": "{}"}}"#, Uuid::now_v7(), "x".repeat(MAX_BODY_BYTES));
    let req = request(Method::POST, "/v1/push")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(big))
        .expect("req");
    let (status, body) = send(&app, authed(req, &token)).await;
    assert_error(status, &body, ErrorCode::PayloadTooLarge);
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_accepted_even_when_compressed() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    // Larger than axum's 2 MB default, smaller than MAX_BODY_BYTES: the configured limit applies.
    let body = format!(
        r#"{{"batch_id": "{}", "changes": [], "pad": "{}"}}"#,
        Uuid::now_v7(),
        "x".repeat(MAX_BODY_BYTES - 1_000)
    );
    let req = request(Method::POST, "/v1/push")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.clone()))
        .expect("req");
    let (status, value) = send(&app, authed(req, &token)).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    let req = request(Method::POST, "/v1/push")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gzip(body.as_bytes())))
        .expect("req");
    let (status, value) = send(&app, authed(req, &token)).await;
    assert_eq!(status, StatusCode::OK, "the same body compressed is accepted too: {value}");
}

#[tokio::test]
async fn a_small_compressed_body_that_inflates_past_the_limit_is_refused() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let inflated =
        format!(r#"{{"batch_id": "{}", "changes": [], "pad": "{}"}}"#, Uuid::now_v7(), " ".repeat(2 * MAX_BODY_BYTES));
    let bomb = gzip(inflated.as_bytes());
    assert!(bomb.len() < MAX_BODY_BYTES / 100, "the compressed body itself is small");
    let req = request(Method::POST, "/v1/push")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(bomb))
        .expect("req");
    let (status, body) = send(&app, authed(req, &token)).await;
    assert_error(status, &body, ErrorCode::PayloadTooLarge);
}

#[tokio::test]
async fn more_changes_than_allowed_in_one_push_are_refused() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let changes = (0..=MAX_PUSH_CHANGES)
        .map(|_| change(Uuid::now_v7(), &[("display_name", json!("A"), Hlc::new(1, 0))]))
        .collect();
    let req = json_request(Method::POST, "/v1/push", &serde_json::to_value(batch(changes)).expect("json"));
    let (status, body) = send(&app, authed(req, &token)).await;
    let error = assert_error(status, &body, ErrorCode::PayloadTooLarge);
    assert!(error.message.contains("500"), "the message states the limit: {}", error.message);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_in_the_error_shape() {
    let app = app().await;
    let (status, body) = send(&app, request(Method::GET, "/v2/everything").body(Body::empty()).expect("req")).await;
    assert_error(status, &body, ErrorCode::NotFound);
    let (status, body) = send(&app, request(Method::DELETE, "/v1/info").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], json!("invalid_input"), "405 carries the error shape too: {body}");
    let req = request(Method::POST, "/v1/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "snappy")
        .body(Body::from("{}"))
        .expect("req");
    let (status, body) = send(&app, req).await;
    assert!(status.is_client_error(), "an unknown encoding is the client's error: {status}");
    assert_eq!(body["code"], json!("invalid_input"), "even a layer's rejection has the error shape: {body}");
}

#[tokio::test]
async fn a_gzip_compressed_push_is_applied_and_pulled_back() {
    let app = app().await;
    let device = Uuid::now_v7();
    let token = login(&app, device).await;
    let row = Uuid::now_v7();
    let push = batch(vec![change(row, &[("display_name", json!("Ada Lovelace"), Hlc::new(1_700_000_000_000, 0))])]);
    let req = request(Method::POST, "/v1/push")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gzip(&serde_json::to_vec(&push).expect("json"))))
        .expect("req");
    let (status, body) = send(&app, authed(req, &token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response: PushResponse = serde_json::from_value(body).expect("PushResponse");
    assert_eq!(response.results[0].outcome, Outcome::Accepted);

    let req = authed(request(Method::GET, "/v1/pull?since=0&limit=10").body(Body::empty()).expect("req"), &token);
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pulled: PullResponse = serde_json::from_value(body).expect("PullResponse");
    assert_eq!(pulled.rows.len(), 1);
    let field = &pulled.rows[0].fields["display_name"];
    assert_eq!(field.value, json!("Ada Lovelace"));
    assert_eq!(field.device, device, "the stamp's device is the authenticated device");
}

#[tokio::test]
async fn large_answers_are_compressed_when_the_client_accepts_it_and_small_ones_are_not() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let changes = (0..20)
        .map(|i| change(Uuid::now_v7(), &[("display_name", json!(format!("Reader number {i}")), Hlc::new(1, 0))]))
        .collect();
    let (status, _) = send(
        &app,
        authed(json_request(Method::POST, "/v1/push", &serde_json::to_value(batch(changes)).expect("json")), &token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let encoding = |response: &axum::response::Response| {
        response.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };

    let pull = authed(
        request(Method::GET, "/v1/pull?since=0")
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(Body::empty())
            .expect("req"),
        &token,
    );
    let response = app.router.clone().oneshot(pull).await.expect("response");
    assert_eq!(encoding(&response).as_deref(), Some("gzip"), "a page of rows is compressed");

    let info =
        request(Method::GET, "/v1/info").header(header::ACCEPT_ENCODING, "gzip").body(Body::empty()).expect("req");
    let response = app.router.clone().oneshot(info).await.expect("response");
    assert_eq!(encoding(&response), None, "a small answer is not worth a compressor");
}

#[tokio::test]
async fn staff_can_erase_a_contact_and_devices_receive_the_purge() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let row = Uuid::now_v7();
    let push = batch(vec![change(row, &[("display_name", json!("Forget Me"), Hlc::new(1, 0))])]);
    let (status, _) =
        send(&app, authed(json_request(Method::POST, "/v1/push", &serde_json::to_value(&push).expect("json")), &token))
            .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(
        &app,
        authed(request(Method::POST, &format!("/v1/contacts/{row}/erase")).body(Body::empty()).expect("req"), &token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contact_id"], json!(row.to_string()));
    assert_eq!(body["rows"], json!(1));
    let (_, body) =
        send(&app, authed(request(Method::GET, "/v1/pull?since=0").body(Body::empty()).expect("req"), &token)).await;
    let pulled: PullResponse = serde_json::from_value(body).expect("pull");
    let erased = pulled.rows.iter().find(|r| r.row_id == row).expect("the row is still announced");
    assert!(
        erased.purged && erased.deleted && erased.fields.is_empty(),
        "as a purged tombstone without data: {erased:?}"
    );
}

#[tokio::test]
async fn volunteers_and_trainers_may_not_erase_and_bad_ids_are_refused() {
    let app = app().await;
    for (name, role) in [("vera", Role::Volunteer), ("tom", Role::Trainer)] {
        app.storage
            .create_user(NewUser { name: name.into(), role, password_hash: password_hash() })
            .await
            .expect("user");
        let (status, body) =
            send(&app, json_request(Method::POST, "/v1/login", &login_body(name, PASSWORD, Uuid::now_v7()))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["token"].as_str().expect("token").to_owned();
        let (status, body) = send(
            &app,
            authed(
                request(Method::POST, &format!("/v1/contacts/{}/erase", Uuid::now_v7()))
                    .body(Body::empty())
                    .expect("req"),
                &token,
            ),
        )
        .await;
        assert_error(status, &body, ErrorCode::Forbidden);
    }
    let token = login(&app, Uuid::now_v7()).await;
    let (status, body) = send(
        &app,
        authed(request(Method::POST, "/v1/contacts/not-a-uuid/erase").body(Body::empty()).expect("req"), &token),
    )
    .await;
    assert_error(status, &body, ErrorCode::InvalidInput);
    let (status, body) = send(
        &app,
        request(Method::POST, &format!("/v1/contacts/{}/erase", Uuid::now_v7())).body(Body::empty()).expect("req"),
    )
    .await;
    assert_error(status, &body, ErrorCode::Unauthenticated);
}
