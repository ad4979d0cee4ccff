//! Running the API over HTTPS: [`ServerConfig`], [`Server`] (bind, then run until shutdown) and
//! [`serve`], which does both and prints the two lines that people and tests read.

use crate::storage::{SqliteStorage, StorageError};
use crate::tls::{self, TlsError};
use crate::{AppState, router};
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The default listen address: loopback only, so a server started without thinking is not on the LAN.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// How long open connections get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

/// Where the server keeps its data and how it listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Holds `server.db` and, for a generated certificate, `tls/{cert.pem,key.pem}`.
    pub data_dir: PathBuf,
    /// `HOST:PORT`; port 0 picks a free port (see [`Server::local_addr`]).
    pub listen: String,
    pub tls: TlsSource,
}

/// Where the TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// Generate a self-signed certificate on first start in `DATA_DIR/tls` and reuse it.
    SelfSigned,
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create the data directory {path}: {source}; choose another with --data-dir")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database {path}: {source}")]
    Database { path: PathBuf, source: StorageError },
    #[error("cannot listen on {listen}: {source}; choose another address with --listen HOST:PORT")]
    Listen { listen: String, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

/// The database path inside a data directory.
pub fn database_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("server.db")
}

/// A server that is bound (the socket accepts connections) but not yet serving requests.
pub struct Server {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    fingerprint: String,
    state: AppState,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).field("fingerprint", &self.fingerprint).finish()
    }
}

impl Server {
    /// Create the data directory, open the SQLite database, load or generate the certificate and
    /// bind the socket.
    pub async fn bind(config: &ServerConfig) -> Result<Self, ServeError> {
        let data_dir = config.data_dir.clone();
        tls::create_private_dir(&data_dir).map_err(|source| ServeError::DataDir { path: data_dir.clone(), source })?;
        let db_path = database_path(&data_dir);
        let storage = {
            let path = db_path.clone();
            tokio::task::spawn_blocking(move || SqliteStorage::open(&path))
                .await
                .map_err(std::io::Error::other)?
                .map_err(|source| ServeError::Database { path: db_path, source })?
        };
        Self::bind_with_state(config, AppState::new(Arc::new(storage))).await
    }

    /// Like [`Server::bind`], with storage (and the rest of the state) supplied by the caller.
    pub async fn bind_with_state(config: &ServerConfig, state: AppState) -> Result<Self, ServeError> {
        let identity = match &config.tls {
            TlsSource::Files { cert, key } => {
                let (cert, key) = (cert.clone(), key.clone());
                tokio::task::spawn_blocking(move || tls::load_pem(&cert, &key))
                    .await
                    .map_err(std::io::Error::other)??
            }
            TlsSource::SelfSigned => {
                let dir = config.data_dir.join("tls");
                let host = listen_host(&config.listen).map(str::to_owned);
                tokio::task::spawn_blocking(move || tls::load_or_generate_self_signed(&dir, host.as_deref()))
                    .await
                    .map_err(std::io::Error::other)??
            }
        };
        let fingerprint = identity.fingerprint();
        let tls = tls::server_config(identity)?;

        let listen_error = |source| ServeError::Listen { listen: config.listen.clone(), source };
        let listener = tokio::net::TcpListener::bind(config.listen.as_str()).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        let listener = listener.into_std().map_err(listen_error)?;
        Ok(Self { listener, local_addr, tls, fingerprint, state })
    }

    /// The address actually bound (with the real port when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://HOST:PORT` of the bound address.
    pub fn url(&self) -> String {
        format!("https://{}", self.local_addr)
    }

    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    pub fn certificate_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The two lines printed once the socket accepts connections (each ends with a newline).
    pub fn announcement(&self) -> String {
        format!("Liaison server listening on {}\nCertificate SHA-256 fingerprint: {}\n", self.url(), self.fingerprint)
    }

    /// Print [`Server::announcement`] to stdout and flush it.
    fn announce(&self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(self.announcement().as_bytes())?;
        out.flush()
    }

    /// Serve requests until `shutdown` completes, then stop accepting and give open connections
    /// a grace period to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let handle = axum_server::Handle::new();
        let signal = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down");
            signal.graceful_shutdown(Some(GRACE));
        });
        let app = router(self.state);
        axum_server::from_tcp_rustls(self.listener, axum_server::tls_rustls::RustlsConfig::from_config(self.tls))
            .handle(handle)
            .serve(app.into_make_service())
            .await?;
        Ok(())
    }
}

/// Bind, print the two announcement lines to stdout (flushed), and serve until `shutdown`.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let server = Server::bind(&config).await?;
    server.announce()?;
    server.run(shutdown).await
}

/// Like [`serve`], with storage (and the rest of the state) supplied by the caller, e.g. a
/// [`PostgresStorage`](crate::storage::PostgresStorage). Creates the data directory (it holds
/// the generated certificate).
pub async fn serve_with_state(
    config: ServerConfig,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let data_dir = config.data_dir.clone();
    tls::create_private_dir(&data_dir).map_err(|source| ServeError::DataDir { path: data_dir, source })?;
    let server = Server::bind_with_state(&config, state).await?;
    server.announce()?;
    server.run(shutdown).await
}

/// The host part of `HOST:PORT` (`[::1]:8443` → `::1`).
pub fn listen_host(listen: &str) -> Option<&str> {
    if let Some(rest) = listen.strip_prefix('[') {
        return rest.split_once(']').map(|(host, _)| host);
    }
    listen.rsplit_once(':').map(|(host, _)| host).filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_host_is_split_from_its_port() {
        assert_eq!(listen_host("127.0.0.1:8443"), Some("127.0.0.1"));
        assert_eq!(listen_host("[::1]:0"), Some("::1"));
        assert_eq!(listen_host("sync.example.org:443"), Some("sync.example.org"));
        assert_eq!(listen_host(":443"), None);
    }
}
