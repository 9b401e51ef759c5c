//! TLS for `wss://` (security profiles 2 and 3): rustls with the ring provider, TLS 1.2 and 1.3,
//! the installer's CA file as the only trust root, host-name verification, and the charger's
//! client certificate for profile 3.
//!
//! Files are read once at start, so a missing or unreadable one is a configuration error with
//! its file and line, never a surprise at the first reconnect.

use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use crate::config::{TlsField, TlsFiles};

/// A PEM file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} = {:?}: {reason}", field.name(), path.display().to_string())]
pub struct TlsError {
    pub field: TlsField,
    pub path: PathBuf,
    pub reason: String,
}

/// Ready-made client configurations: one without a client certificate (profile 2) and, when one
/// is provisioned, one with it (profile 3). Which one is used is decided at each connection.
#[derive(Clone)]
pub struct Tls {
    server_only: Arc<ClientConfig>,
    with_client_cert: Option<Arc<ClientConfig>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("client_certificate", &self.with_client_cert.is_some())
            .finish()
    }
}

impl Tls {
    /// Reads and checks every file.
    pub fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        let roots = load_roots(&files.ca_file)?;
        let builder = || {
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots.clone())
        };
        let server_only = Arc::new(builder().with_no_client_auth());
        let with_client_cert = match &files.client {
            None => None,
            Some((cert, key)) => {
                let chain = load_chain(cert)?;
                let key_der = load_key(key)?;
                let cfg = builder()
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| TlsError {
                        field: TlsField::ClientKey,
                        path: key.clone(),
                        reason: format!("does not go with csms.client_cert: {e}"),
                    })?;
                Some(Arc::new(cfg))
            }
        };
        Ok(Tls {
            server_only,
            with_client_cert,
        })
    }

    /// The client configuration for a security profile (3 = with the client certificate).
    pub fn for_profile(&self, profile: u8) -> Option<Arc<ClientConfig>> {
        if profile >= 3 {
            self.with_client_cert.clone()
        } else {
            Some(self.server_only.clone())
        }
    }
}

fn read(field: TlsField, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError {
        field,
        path: path.to_path_buf(),
        reason: format!("cannot read the file: {e}"),
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let err = |reason: String| TlsError {
        field: TlsField::CaFile,
        path: path.to_path_buf(),
        reason,
    };
    let pem = read(TlsField::CaFile, path)?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| err(format!("not a PEM certificate file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(format!("unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(err("no CERTIFICATE in the file".into()));
    }
    Ok(roots)
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(TlsField::ClientCert, path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError {
            field: TlsField::ClientCert,
            path: path.to_path_buf(),
            reason: format!("not a PEM certificate file: {e}"),
        })?;
    if chain.is_empty() {
        return Err(TlsError {
            field: TlsField::ClientCert,
            path: path.to_path_buf(),
            reason: "no CERTIFICATE in the file".into(),
        });
    }
    Ok(chain)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(TlsField::ClientKey, path)?;
    // The error never quotes the file: it holds a private key.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError {
        field: TlsField::ClientKey,
        path: path.to_path_buf(),
        reason: "no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".into(),
    })
}
