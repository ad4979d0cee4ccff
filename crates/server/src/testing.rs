//! Test support, behind the cargo feature `test-support` (never in a release build of the
//! server): a throwaway PostgreSQL cluster for the storage tests and the sync benchmarks, and a
//! TLS client configuration that trusts exactly one certificate fingerprint, as a Liaison
//! client does after sign-in.
//!
//! The cluster is started once per process (the first caller that needs it) in a fresh temp
//! directory: `initdb --auth=trust`, then `pg_ctl start` on a free loopback port with its socket
//! in the same directory and `fsync=off`. Each caller gets its own database (`test_<n>`).
//! When running as root, `initdb` and `pg_ctl` run as the `postgres` user (`runuser`), since the
//! server refuses to run as root.
//!
//! Stopping: a detached watchdog shell started with the cluster waits for this process to exit
//! (however it exits, even on a panic or abort), then runs `pg_ctl -m immediate stop` and deletes
//! the directory. It ignores Ctrl-C so an interrupted run still cleans up.
//!
//! Missing binaries are an error, never a skip: install `postgresql` (`cargo xtask test`
//! installs it).

/// Dovecot and aiosmtpd on loopback (see the module).
#[path = "testing/mail.rs"]
pub mod mail;

pub mod postgres {
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Cluster {
        port: u16,
    }

    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

    /// Where `initdb` and `pg_ctl` live: the newest `/usr/lib/postgresql/*/bin`, else `pg_config --bindir`.
    fn bindir() -> Option<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        found.sort();
        if let Some((_, bin)) = found.pop() {
            return Some(bin);
        }
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        bin.join("initdb").is_file().then_some(bin)
    }

    fn is_root() -> bool {
        std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
    }

    /// The command prefix that runs a PostgreSQL binary as the right user.
    fn pg_command(bin: &Path, as_postgres: bool) -> Command {
        if as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(bin);
            cmd
        } else {
            Command::new(bin)
        }
    }

    fn run(mut cmd: Command, what: &str) -> Result<(), String> {
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// A loopback port nothing listens on right now.
    pub fn free_port() -> Result<u16, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
        listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
    }

    fn start_cluster() -> Result<Cluster, String> {
        let bin = bindir().ok_or_else(|| {
            "PostgreSQL server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin nor in \
             `pg_config --bindir`: install the `postgresql` package (apt-get install postgresql; \
             `cargo xtask test` installs it). The PostgreSQL storage tests never skip."
                .to_owned()
        })?;
        let as_postgres = is_root();
        // As root the directory must be reachable by the postgres user: keep it under /tmp.
        let base = if as_postgres { PathBuf::from("/tmp") } else { std::env::temp_dir() };
        let dir = tempfile::Builder::new()
            .prefix("liaison-pg-")
            .tempdir_in(&base)
            .map_err(|e| format!("cannot create a temp dir: {e}"))?
            .keep();
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&dir);
            run(chown, "chown postgres (is there a `postgres` user? install the `postgresql` package)")?;
        }
        let data = dir.join("data");
        let mut initdb = pg_command(&bin.join("initdb"), as_postgres);
        initdb.arg("-D").arg(&data).args(["--auth=trust", "-U", "postgres", "--encoding=UTF8", "--locale=C"]);
        run(initdb, "initdb")?;

        // The watchdog: once this process is gone, stop the cluster and remove its directory.
        let mut watchdog = Command::new("sh");
        watchdog
            .arg("-c")
            .arg(
                r#"trap '' INT TERM HUP; pid=$1; data=$2; dir=$3; shift 3
                   while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
                   "$@" -D "$data" -m immediate stop >/dev/null 2>&1
                   rm -rf "$dir""#,
            )
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(&data)
            .arg(&dir);
        if as_postgres {
            watchdog.args(["runuser", "-u", "postgres", "--"]);
        }
        watchdog.arg(bin.join("pg_ctl")).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        watchdog.spawn().map_err(|e| format!("cannot start the cleanup watchdog: {e}"))?;

        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let mut pg_ctl = pg_command(&bin.join("pg_ctl"), as_postgres);
            pg_ctl
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("server.log"))
                .arg("-o")
                .arg(format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.display()))
                .args(["-w", "start"])
                .stdout(Stdio::null());
            match run(pg_ctl, "pg_ctl start") {
                Ok(()) => return Ok(Cluster { port }),
                Err(e) => {
                    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                    last = format!("{e}\nserver.log:\n{log}");
                }
            }
        }
        Err(last)
    }

    /// The URL of a fresh, empty database on this process's throwaway cluster (started on first use).
    pub async fn try_fresh_database_url() -> Result<String, String> {
        let cluster = match CLUSTER.get_or_init(start_cluster) {
            Ok(c) => c,
            Err(e) => return Err(format!("cannot start the throwaway PostgreSQL: {e}")),
        };
        let name = format!("test_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
        let admin = format!("postgresql://postgres@127.0.0.1:{}/postgres", cluster.port);
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to the throwaway PostgreSQL: {e}"))?;
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("cannot create a database on the throwaway PostgreSQL: {e}"))?;
        drop(client);
        let _ = task.await;
        Ok(format!("postgresql://postgres@127.0.0.1:{}/{name}", cluster.port))
    }

    /// Like [`try_fresh_database_url`], panicking with the reason (for tests).
    pub async fn fresh_database_url() -> String {
        match try_fresh_database_url().await {
            Ok(url) => url,
            Err(e) => panic!("{e}"),
        }
    }
}

/// A TLS client that trusts exactly the certificate whose SHA-256 is `fingerprint` (lowercase
/// hex, as the server prints it without colons): what a client pinning the printed fingerprint
/// does. Handshake signatures are still verified with the certificate's key.
pub fn pinned_client_config(fingerprint: &str) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = pinned::PinnedFingerprint { expected: fingerprint.to_owned(), provider: provider.clone() };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth())
}

mod pinned {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use sha2::{Digest, Sha256};
    use std::sync::Arc;

    #[derive(Debug)]
    pub(super) struct PinnedFingerprint {
        pub(super) expected: String,
        pub(super) provider: Arc<CryptoProvider>,
    }

    impl ServerCertVerifier for PinnedFingerprint {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            let actual = hex::encode(Sha256::digest(end_entity.as_ref()));
            if actual == self.expected {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(rustls::Error::General(format!(
                    "certificate fingerprint {actual} is not the pinned {}",
                    self.expected
                )))
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    }
}
