//! The sync client against servers that misbehave: answers that are not Liaison's must produce a
//! clear `bad_response`, never a panic, and must not lose local changes.

use super::temp_store;
use liaison_core::ErrorCode;
use liaison_core::contacts::{self, ContactInput};
use liaison_core::sync;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTPS server with a fresh self-signed certificate that answers every request with `reply`.
/// Returns its URL and certificate fingerprint.
async fn impostor(reply: &'static str) -> (String, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).expect("certificate");
    let der = cert.cert.der().clone();
    let fingerprint = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(der.as_ref()))
    };
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("https://127.0.0.1:{}", listener.local_addr().expect("addr").port());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = vec![0u8; 64 * 1024];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, fingerprint)
}

const NOT_JSON: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 21\r\nConnection: close\r\n\r\n<html>welcome!</html>";
const HTML_ERROR: &str =
    "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad gateway";
const WRONG_SHAPE: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"token\": 42}";

#[tokio::test]
async fn a_server_that_answers_html_is_reported_as_a_bad_response() {
    let (url, _) = impostor(NOT_JSON).await;
    let err = sync::probe(&url).await.expect_err("HTML is not a Liaison answer");
    assert_eq!(err.code, ErrorCode::BadResponse, "{}", err.message);
    assert!(err.message.contains("Liaison server"), "the message suggests what is wrong: {}", err.message);
}

#[tokio::test]
async fn an_error_page_without_the_error_shape_is_reported_with_its_status() {
    let (url, fingerprint) = impostor(HTML_ERROR).await;
    let (_dir, mut store, _key) = temp_store();
    let err = sync::login(&mut store, &url, "ana", "password", &fingerprint).await.expect_err("502");
    assert_eq!(err.code, ErrorCode::BadResponse);
    assert!(err.message.contains("502"), "{}", err.message);
    assert!(!sync::status(&store).expect("status").logged_in, "a failed login stores no token");
}

#[tokio::test]
async fn a_response_of_the_wrong_shape_loses_no_local_change() {
    let (url, fingerprint) = impostor(WRONG_SHAPE).await;
    let (_dir, mut store, _key) = temp_store();
    let err = sync::login(&mut store, &url, "ana", "password", &fingerprint).await.expect_err("wrong shape");
    assert_eq!(err.code, ErrorCode::BadResponse, "{}", err.message);
    contacts::create(&mut store, ContactInput { display_name: "Still Here".into(), ..Default::default() })
        .expect("create");
    let err = sync::sync(&mut store).await.expect_err("not signed in");
    assert_eq!(err.code, ErrorCode::NotLoggedIn);
    let status = sync::status(&store).expect("status");
    assert!(status.pending > 0, "the local change waits for a real server");
    assert_eq!(
        status.last_error.map(|e| e.code),
        Some(ErrorCode::NotLoggedIn),
        "the status shows why sync did not run"
    );
}

const UPGRADE: &str = "HTTP/1.1 426 Upgrade Required\r\nContent-Type: application/json\r\nContent-Length: 93\r\nConnection: close\r\n\r\n{\"code\":\"upgrade_required\",\"message\":\"This server needs Liaison protocol 2; update Liaison.\"}";

#[tokio::test]
async fn a_client_too_old_for_the_server_is_told_to_update_and_keeps_its_changes() {
    let (url, fingerprint) = impostor(UPGRADE).await;
    let (_dir, mut store, _key) = temp_store();
    // Signed in earlier, when the server still spoke this protocol.
    {
        use liaison_core::store::meta;
        let conn = store.conn();
        meta::set(conn, "server_url", &url).expect("url");
        meta::set(conn, "server_fingerprint", &fingerprint).expect("fingerprint");
        meta::set(conn, "server_token", "t0ken").expect("token");
    }
    contacts::create(&mut store, ContactInput { display_name: "Written Offline".into(), ..Default::default() })
        .expect("create");
    let err = sync::sync(&mut store).await.expect_err("426");
    assert_eq!(err.code, ErrorCode::UpgradeRequired);
    assert!(err.message.contains("update Liaison"), "{}", err.message);
    let status = sync::status(&store).expect("status");
    assert!(status.pending > 0, "nothing is dropped while the app waits for an update");
    assert_eq!(status.last_error.map(|e| e.code), Some(ErrorCode::UpgradeRequired), "the status line says why");
}
