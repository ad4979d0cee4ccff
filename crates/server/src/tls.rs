//! TLS: the server's certificate (given, or self-signed and kept in the data directory), its
//! SHA-256 fingerprint, and the rustls configuration (ring provider, TLS 1.2 and 1.3).
//!
//! A workshop server has no real certificate: on first start it generates one and prints its
//! fingerprint, which clients pin on first login (trust on first use). The certificate is reused
//! on every later start, so the pin stays valid.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate chain and its private key.
pub struct TlsIdentity {
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").field("fingerprint", &self.fingerprint()).finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// SHA-256 of the leaf certificate's DER, lowercase hex (64 characters).
    pub fn fingerprint(&self) -> String {
        self.cert_chain.first().map(fingerprint).unwrap_or_default()
    }
}

/// Why the TLS identity could not be loaded or made. Messages say how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}; check the path and its permissions")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}; check that the data directory is writable")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no usable PEM {what}: {detail}")]
    Pem { path: PathBuf, what: &'static str, detail: String },
    #[error(
        "{present} exists but {missing} does not; restore it, or delete {dir} to generate a new certificate (clients will then have to trust the new fingerprint)"
    )]
    HalfPresent { present: PathBuf, missing: PathBuf, dir: PathBuf },
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    #[error("the certificate and key do not work together: {0}")]
    Config(String),
}

/// SHA-256 of a certificate's DER, lowercase hex.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

/// Load a certificate chain and private key from PEM files.
pub fn load_pem(cert_path: &Path, key_path: &Path) -> Result<TlsIdentity, TlsError> {
    let read = |path: &Path| std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_owned(), source });
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let cert_chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem { path: cert_path.to_owned(), what: "certificate", detail: e.to_string() })?;
    if cert_chain.is_empty() {
        return Err(TlsError::Pem {
            path: cert_path.to_owned(),
            what: "certificate",
            detail: "no CERTIFICATE block found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        path: key_path.to_owned(),
        what: "private key",
        detail: e.to_string(),
    })?;
    Ok(TlsIdentity { cert_chain, key })
}

/// The names a generated certificate is valid for: localhost, 127.0.0.1, ::1 and the host the
/// server listens on (unless it is a wildcard address).
pub fn subject_alt_names(listen_host: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    if let Some(host) = listen_host.map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        && !host.is_empty()
        && !matches!(host, "0.0.0.0" | "::")
        && !names.iter().any(|n| n.eq_ignore_ascii_case(host))
    {
        names.push(host.to_owned());
    }
    names
}

/// Generate a self-signed certificate; returns `(certificate PEM, private key PEM)`.
pub fn generate_self_signed(subject_alt_names: Vec<String>) -> Result<(String, String), TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(subject_alt_names).map_err(generate)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "Liaison sync server (self-signed)");
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Load `dir/cert.pem` and `dir/key.pem`, generating them first when neither exists.
/// The key file is written with mode 0600.
pub fn load_or_generate_self_signed(dir: &Path, listen_host: Option<&str>) -> Result<TlsIdentity, TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => return load_pem(&cert_path, &key_path),
        (true, false) => {
            return Err(TlsError::HalfPresent { present: cert_path, missing: key_path, dir: dir.to_owned() });
        }
        (false, true) => {
            return Err(TlsError::HalfPresent { present: key_path, missing: cert_path, dir: dir.to_owned() });
        }
        (false, false) => {}
    }
    create_private_dir(dir).map_err(|source| TlsError::Write { path: dir.to_owned(), source })?;
    let (cert_pem, key_pem) = generate_self_signed(subject_alt_names(listen_host))?;
    // The key first: a crash in between leaves a key without a certificate, which is reported
    // rather than silently replaced.
    write_new_file(&key_path, key_pem.as_bytes(), 0o600)
        .map_err(|source| TlsError::Write { path: key_path.clone(), source })?;
    write_new_file(&cert_path, cert_pem.as_bytes(), 0o644)
        .map_err(|source| TlsError::Write { path: cert_path.clone(), source })?;
    tracing::info!(path = %cert_path.display(), "generated a self-signed certificate");
    load_pem(&cert_path, &key_path)
}

/// Create a directory (and its parents) readable only by its owner.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// A rustls server configuration using the ring provider (never aws-lc-rs), TLS 1.2 and 1.3,
/// offering HTTP/2 and HTTP/1.1.
pub fn server_config(identity: TlsIdentity) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(identity.cert_chain, identity.key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_reused_and_its_key_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join("tls");
        let first = load_or_generate_self_signed(&tls, Some("10.1.2.3")).expect("generate");
        let second = load_or_generate_self_signed(&tls, Some("10.1.2.3")).expect("reload");
        assert_eq!(first.fingerprint(), second.fingerprint(), "a restart must keep the pinned fingerprint valid");
        assert_eq!(first.fingerprint().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tls.join("key.pem")).expect("key").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the server's user may read the private key");
        }
        server_config(second).expect("the generated pair must be usable by rustls");
    }

    #[test]
    fn a_lone_certificate_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cert.pem"), "x").expect("write");
        let err = load_or_generate_self_signed(dir.path(), None).expect_err("half present");
        assert!(err.to_string().contains("key.pem"), "the message names the missing file: {err}");
    }

    #[test]
    fn the_listen_host_joins_the_usual_names_but_wildcards_do_not() {
        assert_eq!(subject_alt_names(Some("0.0.0.0")), vec!["localhost", "127.0.0.1", "::1"]);
        assert!(subject_alt_names(Some("sync.example.org")).contains(&"sync.example.org".to_owned()));
        assert_eq!(subject_alt_names(Some("[::1]")).len(), 3, "no duplicates");
    }
}
