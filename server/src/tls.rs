//! TLS with rustls: the server certificate and key from PEM files, an optional client CA for
//! mutual TLS, and hot reload.
//!
//! Reload: every accepted connection first checks the files' identity (inode, size and
//! modification time, following symlinks, so a Kubernetes Secret's `..data` swap is seen). When
//! any changed, a new rustls `ServerConfig` is built and swapped in atomically; new handshakes use
//! it while established connections keep the session they negotiated. If the new files do not
//! load (for example a certificate written before its key), the previous configuration stays and a
//! warning is logged; the next connection tries again. Swapping the whole `ServerConfig` rather
//! than only a certificate resolver also reloads the client CA.

use std::{
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("TLS file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable PEM item of the kind needed.
    #[error("TLS file {path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// rustls refused the configuration (for example a key that does not match the
    /// certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The files TLS is configured from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA certificates for client authentication.
    pub client_ca: Option<PathBuf>,
}

type Stamp = Option<(u64, u64, Option<SystemTime>)>;

fn stamp(path: &Path) -> Stamp {
    fs::metadata(path)
        .ok()
        .map(|m| (m.ino(), m.len(), m.modified().ok()))
}

impl TlsFiles {
    fn stamps(&self) -> Vec<Stamp> {
        let mut v = vec![stamp(&self.cert), stamp(&self.key)];
        if let Some(ca) = &self.client_ca {
            v.push(stamp(ca));
        }
        v
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            message: "no certificate found (expected PEM `BEGIN CERTIFICATE` blocks)".into(),
        });
    }
    Ok(certs)
}

/// Builds a rustls server configuration from the files, offering HTTP/2 only.
pub fn build(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let chain = certs(&files.cert)?;
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        path: files.key.clone(),
        message: format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certs(ca)? {
                roots.add(c).map_err(|e| TlsError::Pem {
                    path: ca.clone(),
                    message: format!("not a usable CA certificate: {e}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(format!("client CA {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        TlsError::Config(format!(
            "certificate {} with key {}: {e}",
            files.cert.display(),
            files.key.display()
        ))
    })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// A TLS configuration that follows its files.
pub struct ReloadingTls {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
    stamps: Mutex<Vec<Stamp>>,
    /// The stamps of files that failed to load, so they are not retried until they change.
    failed: Mutex<Option<Vec<Stamp>>>,
    on_reload: Box<dyn Fn() + Send + Sync>,
}

impl ReloadingTls {
    /// Loads the files; `on_reload` runs after each successful reload.
    pub fn load(
        files: TlsFiles,
        on_reload: Box<dyn Fn() + Send + Sync>,
    ) -> Result<ReloadingTls, TlsError> {
        let stamps = files.stamps();
        let config = build(&files)?;
        Ok(ReloadingTls {
            files,
            current: ArcSwap::from_pointee(config),
            stamps: Mutex::new(stamps),
            failed: Mutex::new(None),
            on_reload,
        })
    }

    /// Reloads if the files changed since the last load. Returns whether it reloaded.
    pub fn refresh(&self) -> bool {
        let now = self.files.stamps();
        let mut seen = self.stamps.lock();
        if *seen == now || self.failed.lock().as_ref() == Some(&now) {
            return false;
        }
        match build(&self.files) {
            Ok(config) => {
                self.current.store(Arc::new(config));
                *seen = now;
                info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                (self.on_reload)();
                true
            }
            Err(e) => {
                *self.failed.lock() = Some(now);
                warn!(error = %e, "TLS files changed but do not load; keeping the previous certificate");
                false
            }
        }
    }

    /// An acceptor with the current configuration (after checking the files).
    pub fn acceptor(&self) -> TlsAcceptor {
        self.refresh();
        TlsAcceptor::from(self.current.load_full())
    }
}
