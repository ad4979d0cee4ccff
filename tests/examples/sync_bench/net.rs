//! Loopback plumbing: the in-process HTTPS server, a byte-counting TCP proxy that can cut a
//! connection after N bytes, and an HTTP client that pins the server's certificate.

use liaison_server::storage::Storage;
use liaison_server::{AppState, Server, ServerConfig, TlsSource};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `liaison_server::Server` (SQLite or PostgreSQL storage) on a free loopback port.
pub struct RunningServer {
    pub port: u16,
    pub fingerprint: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl RunningServer {
    pub async fn start(storage: Arc<dyn Storage>) -> anyhow::Result<RunningServer> {
        let dir = tempfile::tempdir()?;
        let config = ServerConfig {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            tls: TlsSource::SelfSigned,
        };
        let server = Server::bind_with_state(&config, AppState::new(storage)).await?;
        let (port, fingerprint) = (server.local_addr().port(), server.certificate_fingerprint().to_string());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Ok(RunningServer { port, fingerprint, stop: Some(stop), _dir: dir })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Counters of a [`Proxy`]: bytes client → server (`up`) and server → client (`down`), and the
/// number of server → client bytes after which every connection is cut (`u64::MAX`: never).
#[derive(Default)]
pub struct Counters {
    pub up: AtomicU64,
    pub down: AtomicU64,
    pub cut_after_down: AtomicU64,
    pub cuts: AtomicU64,
}

impl Counters {
    pub fn reset(&self) {
        self.up.store(0, Ordering::SeqCst);
        self.down.store(0, Ordering::SeqCst);
    }
    pub fn up(&self) -> u64 {
        self.up.load(Ordering::SeqCst)
    }
    pub fn down(&self) -> u64 {
        self.down.load(Ordering::SeqCst)
    }
}

/// A TCP proxy on a free loopback port in front of `target`, counting the (TLS) bytes.
pub struct Proxy {
    pub port: u16,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: u16) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let counters = Arc::new(Counters::default());
        counters.cut_after_down.store(u64::MAX, Ordering::SeqCst);
        let shared = counters.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counters = shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        pipe(client, server, counters).await;
                    }
                });
            }
        });
        Ok(Proxy { port, counters, task })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Cut connections once this many server → client bytes have passed since the last reset.
    pub fn cut_after(&self, bytes: Option<u64>) {
        self.counters.cut_after_down.store(bytes.unwrap_or(u64::MAX), Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(mut client: TcpStream, mut server: TcpStream, counters: Arc<Counters>) {
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                server_write.shutdown().await?;
                return Ok::<(), std::io::Error>(());
            }
            counters.up.fetch_add(n as u64, Ordering::SeqCst);
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                client_write.shutdown().await?;
                return Ok::<(), std::io::Error>(());
            }
            let before = counters.down.fetch_add(n as u64, Ordering::SeqCst);
            let limit = counters.cut_after_down.load(Ordering::SeqCst);
            if before + n as u64 > limit {
                // Deliver up to the limit, then drop both connections.
                let keep = limit.saturating_sub(before) as usize;
                counters.down.fetch_sub((n - keep) as u64, Ordering::SeqCst);
                client_write.write_all(&buf[..keep]).await?;
                counters.cuts.fetch_add(1, Ordering::SeqCst);
                return Err(std::io::Error::other("cut by the benchmark"));
            }
            client_write.write_all(&buf[..n]).await?;
        }
    };
    let _ = tokio::try_join!(up, down);
}

/// An HTTP/1.1 client (like the Liaison client: no ALPN) pinned to `fingerprint`. Bodies are
/// not decompressed: callers ask for compression themselves when they want it.
pub fn pinned_client(fingerprint: &str) -> anyhow::Result<reqwest::Client> {
    let tls = liaison_server::testing::pinned_client_config(fingerprint)?;
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .gzip(false)
        .zstd(false)
        .pool_max_idle_per_host(1)
        .timeout(std::time::Duration::from_secs(120))
        .build()?)
}

/// The headers every Liaison request carries, and a bearer token.
pub fn liaison_request(client: &reqwest::Client, url: &str, token: &str) -> reqwest::RequestBuilder {
    client
        .get(url)
        .header(liaison_protocol::wire::PROTOCOL_HEADER, liaison_protocol::PROTOCOL_VERSION.to_string())
        .header(liaison_protocol::wire::APP_HEADER, "sync-bench")
        .bearer_auth(token)
}
