//! Hostile input: thousands of malformed, truncated, oversized, wrongly encoded and wrong-version
//! requests, interleaved with a legitimate device's pushes and pulls. The server never crashes,
//! never answers 5xx (503 aside), always answers in the `{ code, message }` shape, and the
//! legitimate device's traffic is unaffected.

use crate::router::{TestApp, app, authed, gzip, login, request};
use crate::support::{batch, change};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use liaison_protocol::hlc::Hlc;
use liaison_protocol::wire::{Outcome, PullResponse, PushResponse};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const REQUESTS: usize = 3_000;

/// Send and check the invariants every answer must keep; returns status and body.
async fn send_hostile(app: &TestApp, req: Request<Body>, what: &str) -> (StatusCode, Vec<u8>) {
    let response = app.router.clone().oneshot(req).await.expect("the router never fails");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec();
    assert!(status.as_u16() < 500 || status == StatusCode::SERVICE_UNAVAILABLE, "{what}: answered {status}");
    if !status.is_success() {
        let body: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{what}: a {status} that is not JSON: {:?}", String::from_utf8_lossy(&bytes)));
        assert!(body["code"].is_string() && body["message"].is_string(), "{what}: not the error shape: {body}");
    }
    (status, bytes)
}

fn valid_push_of(rng: &mut StdRng, row: Uuid) -> Value {
    let hlc = Hlc::new(1_700_000_000_000 + rng.gen_range(0..1_000_000), 0);
    serde_json::to_value(batch(vec![change(row, &[("display_name", json!("Valid Name"), hlc)])])).expect("json")
}

fn valid_push(rng: &mut StdRng) -> Value {
    valid_push_of(rng, Uuid::now_v7())
}

/// A body that is almost right: bytes flipped, cut, inserted.
fn mangled(rng: &mut StdRng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.gen_range(1..6) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.gen_range(0..bytes.len());
        match rng.gen_range(0..4) {
            0 => bytes[at] = rng.r#gen(),
            1 => bytes.truncate(at),
            2 => bytes.insert(at, rng.r#gen()),
            _ => {
                bytes.remove(at);
            }
        }
    }
    bytes
}

/// JSON of the right outline with wrong types and absurd values.
fn wrong_shape(rng: &mut StdRng) -> Value {
    let values = [
        json!(null),
        json!(-1),
        json!(1e308),
        json!(18446744073709551615u64),
        json!("x".repeat(rng.gen_range(0..70_000))),
        json!([1, "a", null]),
        json!({"nested": {"deeper": [[[]]]}}),
        json!("\u{0000}\u{FFFF}\u{202E}"),
        json!("-1-1"),
        json!("99999999999999999999999-1"),
    ];
    let pick = |rng: &mut StdRng| values[rng.gen_range(0..values.len())].clone();
    let entity = [json!("contact"), json!("planet"), pick(rng)][rng.gen_range(0..3)].clone();
    let odd_field = pick(rng).to_string();
    let mut fields = serde_json::Map::new();
    fields.insert("display_name".into(), json!({"value": pick(rng), "hlc": pick(rng)}));
    fields.insert(odd_field, json!({"value": 1}));
    json!({
        "batch_id": pick(rng),
        "changes": [{
            "change_id": pick(rng),
            "entity": entity,
            "row_id": pick(rng),
            "base_seq": pick(rng),
            "fields": fields,
            "deleted": pick(rng),
        }]
    })
}

fn deep_nesting(depth: usize) -> Vec<u8> {
    let mut s = "[".repeat(depth);
    s.push_str(&"]".repeat(depth));
    s.into_bytes()
}

#[tokio::test]
async fn thousands_of_hostile_requests_never_crash_the_server_or_disturb_a_real_client() {
    let app = app().await;
    let token = login(&app, Uuid::now_v7()).await;
    let mut rng = StdRng::seed_from_u64(2026);
    let mut legit_rows = std::collections::BTreeSet::new();
    for i in 0..REQUESTS {
        if i % 50 == 0 {
            // The legitimate device keeps working throughout.
            let row = Uuid::now_v7();
            let body = valid_push_of(&mut rng, row);
            let req = authed(
                request(Method::POST, "/v1/push")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .expect("req"),
                &token,
            );
            let (status, bytes) = send_hostile(&app, req, "legit push").await;
            assert_eq!(status, StatusCode::OK, "the legitimate push must succeed");
            let response: PushResponse = serde_json::from_slice(&bytes).expect("push response");
            assert!(response.results.iter().all(|r| r.outcome == Outcome::Accepted), "and be accepted");
            legit_rows.insert(row);
            continue;
        }
        let kind = rng.gen_range(0..9);
        let what = format!("request {i} (kind {kind})");
        let req = match kind {
            0 => {
                let valid = valid_push(&mut rng).to_string().into_bytes();
                let body = mangled(&mut rng, valid);
                authed(
                    request(Method::POST, "/v1/push")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body))
                        .expect("req"),
                    &token,
                )
            }
            1 => authed(
                request(Method::POST, "/v1/push")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(wrong_shape(&mut rng).to_string()))
                    .expect("req"),
                &token,
            ),
            2 => {
                let garbage: Vec<u8> = (0..rng.gen_range(0..2048)).map(|_| rng.r#gen()).collect();
                let encoding = ["gzip", "zstd", "br", "deflate", "x-unknown"][rng.gen_range(0..5)];
                authed(
                    request(Method::POST, "/v1/push")
                        .header(header::CONTENT_TYPE, "application/json")
                        .header(header::CONTENT_ENCODING, encoding)
                        .body(Body::from(garbage))
                        .expect("req"),
                    &token,
                )
            }
            3 => {
                let truncated_gzip = {
                    let g = gzip(valid_push(&mut rng).to_string().as_bytes());
                    let cut = rng.gen_range(0..g.len());
                    g[..cut].to_vec()
                };
                authed(
                    request(Method::POST, "/v1/push")
                        .header(header::CONTENT_ENCODING, "gzip")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(truncated_gzip))
                        .expect("req"),
                    &token,
                )
            }
            4 => {
                let version = ["0", "2", "999", "abc", "", "1.0", "-1"][rng.gen_range(0..7)];
                let mut req = authed(
                    Request::builder()
                        .method(Method::POST)
                        .uri("/v1/push")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(valid_push(&mut rng).to_string()))
                        .expect("req"),
                    &token,
                );
                if !version.is_empty() {
                    req.headers_mut()
                        .insert(liaison_protocol::wire::PROTOCOL_HEADER, version.parse().expect("header value"));
                }
                req
            }
            5 => {
                let uri = [
                    "/v1/pull?since=-1",
                    "/v1/pull?since=abc",
                    "/v1/pull?limit=0",
                    "/v1/pull?limit=99999999999999999999999",
                    "/v1/pull?since=1&since=2",
                    "/v1/../v1/pull",
                    "/v1/pull%00",
                    "/v2/pull",
                    "/",
                ][rng.gen_range(0..9)];
                authed(request(Method::GET, uri).body(Body::empty()).expect("req"), &token)
            }
            6 => {
                let bad = ["", "Bearer", "Bearer ", "Bearer zzz", "Basic YWRtaW46YWRtaW4=", &"a".repeat(5000)]
                    [rng.gen_range(0..6)]
                .to_string();
                let mut req = request(Method::GET, "/v1/pull").body(Body::empty()).expect("req");
                if let Ok(value) = bad.parse() {
                    req.headers_mut().insert(header::AUTHORIZATION, value);
                }
                req
            }
            7 => {
                let login = json!({"user": "ana", "password": "nope", "device_id": Uuid::now_v7(), "device_name": "x"})
                    .to_string()
                    .into_bytes();
                let body = mangled(&mut rng, login);
                request(Method::POST, "/v1/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .expect("req")
            }
            _ => authed(
                request(Method::POST, "/v1/push")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(deep_nesting(rng.gen_range(100..100_000))))
                    .expect("req"),
                &token,
            ),
        };
        send_hostile(&app, req, &what).await;
    }
    // After all that, the legitimate device pulls back every one of its rows, intact. (A mangled
    // body can by chance still be a valid push; the server rightly accepts those too.)
    let req = authed(request(Method::GET, "/v1/pull?since=0&limit=5000").body(Body::empty()).expect("req"), &token);
    let (status, bytes) = send_hostile(&app, req, "legit pull").await;
    assert_eq!(status, StatusCode::OK);
    let pulled: PullResponse = serde_json::from_slice(&bytes).expect("pull response");
    assert!(!pulled.has_more, "all rows fit in one page");
    for row in &legit_rows {
        let found =
            pulled.rows.iter().find(|r| r.row_id == *row).unwrap_or_else(|| panic!("legitimate row {row} is missing"));
        assert_eq!(found.fields["display_name"].value, json!("Valid Name"), "legitimate row {row} is intact");
    }
    assert_eq!(legit_rows.len(), REQUESTS / 50);
}
