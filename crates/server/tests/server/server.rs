//! The server on a real socket with real TLS: the certificate presented is the announced one.

use liaison_protocol::wire::{PROTOCOL_HEADER, ServerInfo};
use liaison_server::{Server, ServerConfig, TlsSource};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

/// `GET path` over HTTPS/1.1, trusting only the certificate with `fingerprint`; returns the status
/// line and the body.
pub async fn https_get(addr: SocketAddr, fingerprint: &str, path: &str) -> Result<(String, String), String> {
    let mut config = liaison_server::testing::pinned_client_config(fingerprint).map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{PROTOCOL_HEADER}: 1\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    // A server may close without close_notify; what was read so far still counts.
    let _ = tls.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("no HTTP response: {text:?}"))?;
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

#[tokio::test]
async fn serving_on_port_zero_presents_the_announced_certificate_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        ServerConfig { data_dir: dir.path().join("data"), listen: "127.0.0.1:0".into(), tls: TlsSource::SelfSigned };
    let server = Server::bind(&config).await.expect("bind");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0, "the real port is known after binding");
    let fingerprint = server.certificate_fingerprint().to_owned();
    let announcement = server.announcement();
    assert_eq!(
        announcement,
        format!("Liaison server listening on https://{addr}\nCertificate SHA-256 fingerprint: {fingerprint}\n"),
        "tests and people parse these two lines"
    );
    assert!(dir.path().join("data/tls/key.pem").exists() && dir.path().join("data/server.db").exists());

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    let (status, body) = https_get(addr, &fingerprint, "/v1/info").await.expect("TLS request");
    assert!(status.contains("200"), "got {status}: {body}");
    let info: ServerInfo = serde_json::from_str(&body).expect("ServerInfo JSON");
    assert_eq!(info.protocol_max, liaison_protocol::PROTOCOL_VERSION);

    let wrong = https_get(addr, &"0".repeat(64), "/v1/info").await;
    assert!(wrong.is_err(), "a client pinning another fingerprint must refuse the connection");

    stop.send(()).expect("signal shutdown");
    let result = tokio::time::timeout(Duration::from_secs(15), running).await.expect("graceful shutdown finishes");
    result.expect("task").expect("the server stops without error");
}

#[tokio::test]
async fn a_port_already_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        data_dir: dir.path().to_owned(),
        listen: taken.local_addr().expect("addr").to_string(),
        tls: TlsSource::SelfSigned,
    };
    let err = Server::bind(&config).await.expect_err("in use");
    assert!(err.to_string().contains("--listen"), "the message says how to fix it: {err}");
}

#[tokio::test]
async fn a_certificate_from_files_is_served_instead_of_a_generated_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_pem, key_pem) =
        liaison_server::tls::generate_self_signed(vec!["sync.example.org".into()]).expect("generate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, cert_pem).expect("write cert");
    std::fs::write(&key, key_pem).expect("write key");
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".into(),
        tls: TlsSource::Files { cert: cert.clone(), key: key.clone() },
    };
    let server = Server::bind(&config).await.expect("bind");
    let expected = liaison_server::tls::load_pem(&cert, &key).expect("load").fingerprint();
    assert_eq!(server.certificate_fingerprint(), expected, "the announced fingerprint is the given certificate's");
    assert!(!dir.path().join("data/tls").exists(), "no certificate is generated when one is given");

    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let (status, _) = https_get(addr, &expected, "/v1/info").await.expect("TLS request");
    assert!(status.contains("200"), "{status}");
    stop.send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(15), running).await.expect("stops").expect("task").expect("no error");
}

#[tokio::test]
async fn an_unreadable_key_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".into(),
        tls: TlsSource::Files { cert: dir.path().join("missing.pem"), key: dir.path().join("missing-key.pem") },
    };
    let err = Server::bind(&config).await.expect_err("missing files");
    assert!(err.to_string().contains("missing.pem"), "the message names the file: {err}");
}
