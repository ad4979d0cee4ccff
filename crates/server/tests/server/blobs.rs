//! Attachment content over HTTP: `PUT` and `GET /v1/blobs/{sha256}`, guarded by the attachment
//! rows that name it.

use crate::router::{TestApp, app, authed, login, password_hash, request};
use axum::body::Body;
use axum::http::{Method, StatusCode};
use chrono::Utc;
use liaison_protocol::error::{ErrorBody, ErrorCode};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::schema::{EntityKind, MAX_ATTACHMENT_BYTES};
use liaison_protocol::wire::{Change, FieldWrite, PushRequest, Role};
use liaison_server::storage::NewUser;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use uuid::Uuid;

fn row(entity: EntityKind, id: Uuid, fields: &[(&str, Value)]) -> Change {
    let hlc = Hlc::new(1_750_000_000_000, 0);
    Change {
        change_id: Uuid::now_v7(),
        entity,
        row_id: id,
        base_seq: 0,
        fields: fields.iter().map(|(n, v)| ((*n).to_owned(), FieldWrite { value: v.clone(), hlc })).collect(),
        deleted: None,
    }
}

/// A queue with a case, a message and an attachment of `content`, written by ana (staff).
async fn thread_with_file(app: &TestApp, content: &[u8]) -> (Uuid, String) {
    let ana = app.storage.find_user_by_name("ana").await.expect("lookup").expect("ana").user;
    let device = app.storage.list_devices().await.expect("devices")[0].device.id;
    let (queue, case, message, file) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let sha = hex::encode(Sha256::digest(content));
    let changes = vec![
        row(EntityKind::Queue, queue, &[("name", json!("info-en"))]),
        row(
            EntityKind::Case,
            case,
            &[
                ("queue_id", json!(queue.to_string())),
                ("subject", json!("s")),
                ("kind", json!("inquiry")),
                ("channel", json!("email")),
                ("state", json!("new")),
            ],
        ),
        row(
            EntityKind::CaseMessage,
            message,
            &[
                ("case_id", json!(case.to_string())),
                ("kind", json!("note")),
                ("channel", json!("email")),
                ("sent_at", json!("2026-12-01T10:00:00Z")),
            ],
        ),
        row(
            EntityKind::Attachment,
            file,
            &[
                ("message_id", json!(message.to_string())),
                ("name", json!("f.png")),
                ("size", json!(content.len())),
                ("sha256", json!(sha)),
            ],
        ),
    ];
    let resp = app
        .storage
        .push(&ana, device, &PushRequest { batch_id: Uuid::now_v7(), changes }, Utc::now())
        .await
        .expect("push");
    assert!(resp.results.iter().all(|r| r.error.is_none()), "{resp:?}");
    (queue, sha)
}

async fn call(app: &TestApp, method: Method, sha: &str, token: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let req = authed(request(method, &format!("/v1/blobs/{sha}")).body(Body::from(body)).expect("request"), token);
    let response = app.router.clone().oneshot(req).await.expect("the router never fails");
    let status = response.status();
    (status, axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec())
}

fn error(bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice(bytes).expect("the error shape")
}

#[tokio::test]
async fn attachment_content_is_stored_once_by_its_digest_and_read_only_by_those_who_see_its_row() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let content = b"\x89PNG a screenshot of the article".to_vec();
    let sha = hex::encode(Sha256::digest(&content));
    let (status, body) = call(&app, Method::PUT, &sha, &token, content.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "content before its row is refused: push the message first");
    assert_eq!(error(&body).code, ErrorCode::NotFound);

    let (queue, sha) = thread_with_file(&app, &content).await;
    assert_eq!(call(&app, Method::PUT, &sha, &token, content.clone()).await.0, StatusCode::CREATED);
    assert_eq!(
        call(&app, Method::PUT, &sha, &token, content.clone()).await.0,
        StatusCode::OK,
        "a second upload changes nothing"
    );
    let (status, body) = call(&app, Method::PUT, &sha, &token, b"something else".to_vec()).await;
    assert_eq!(
        (status, error(&body).code),
        (StatusCode::BAD_REQUEST, ErrorCode::InvalidInput),
        "content must match its digest"
    );
    let (status, _) = call(&app, Method::PUT, "ABC", &token, content.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a digest has one spelling");
    let (status, body) = call(&app, Method::PUT, &"0".repeat(64), &token, vec![0; MAX_ATTACHMENT_BYTES + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}", String::from_utf8_lossy(&body));

    let (status, body) = call(&app, Method::GET, &sha, &token, Vec::new()).await;
    assert_eq!((status, body), (StatusCode::OK, content.clone()), "staff read it back, byte for byte");

    // A volunteer who is not in the queue gets the same answer as for content that does not exist.
    app.storage
        .create_user(NewUser { name: "vic".into(), role: Role::Volunteer, password_hash: password_hash() })
        .await
        .expect("vic");
    let vic_token = login_as(&app, "vic").await;
    let (status, body) = call(&app, Method::GET, &sha, &vic_token, Vec::new()).await;
    let (missing_status, missing) = call(&app, Method::GET, &"1".repeat(64), &vic_token, Vec::new()).await;
    assert_eq!((status, error(&body)), (missing_status, error(&missing)), "no difference between hidden and missing");
    assert_eq!(status, StatusCode::NOT_FOUND);

    liaison_server::admin::add_member(&*app.storage, &queue.to_string(), "vic", "agent", Utc::now())
        .await
        .expect("member");
    let (status, body) = call(&app, Method::GET, &sha, &vic_token, Vec::new()).await;
    assert_eq!((status, body), (StatusCode::OK, content), "a member reads it");
}

async fn login_as(app: &TestApp, user: &str) -> String {
    let body = json!({"user": user, "password": crate::router::PASSWORD, "device_id": Uuid::now_v7(), "device_name": "laptop"});
    let req = request(Method::POST, "/v1/login")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("req");
    let response = app.router.clone().oneshot(req).await.expect("router");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    serde_json::from_slice::<Value>(&bytes).expect("json")["token"].as_str().expect("token").to_owned()
}
