//! The rig's throw-away certificates for security profiles 2 and 3: one test CA per run (made
//! with rcgen when first needed, kept in memory only), a server certificate for the test central
//! system, and a client certificate per charge point id. Nothing key-like is ever checked in;
//! the files a scenario's charger needs are written into that scenario's folder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Names the test central system's certificate is valid for: the simulated profile's charger
/// reaches it through a local proxy by address.
pub const SERVER_NAMES: &[&str] = &["127.0.0.1", "localhost", "::1"];

/// The run's test CA.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// The PEM files a charger is provisioned with for a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargerFiles {
    pub ca_file: PathBuf,
    /// Certificate and key (profile 3).
    pub client: Option<(PathBuf, PathBuf)>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TestCa {
    /// The run's CA, made on first use.
    pub fn for_run() -> Result<&'static TestCa, String> {
        static CA: OnceLock<Result<TestCa, String>> = OnceLock::new();
        CA.get_or_init(|| TestCa::new("Chargerig rig test CA (throw-away)"))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A fresh CA (also for tests that need a second, untrusted one).
    pub fn new(name: &str) -> Result<TestCa, String> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(|e| e.to_string())?;
        Ok(TestCa { issuer })
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(
        &self,
        names: &[&str],
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<(CertificateDer<'static>, KeyPair), String> {
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| e.to_string())?;
        Ok((cert.der().clone(), key))
    }

    /// The central system's TLS configuration: a certificate from this CA for
    /// [`SERVER_NAMES`]; with `client_ca`, a client certificate from it is required (profile 3).
    pub fn server_config(&self, client_ca: Option<&TestCa>) -> Result<Arc<ServerConfig>, String> {
        let (cert, key) = self.leaf(
            SERVER_NAMES,
            "Chargerig test central system",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots
                    .add(ca.issuer.der().clone())
                    .map_err(|e| e.to_string())?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| e.to_string())?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        builder
            .with_single_cert(vec![cert], key)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }

    /// Writes what a charger needs into `dir`: this CA (to trust the central system) and, when
    /// `client_for` names a charge point id, a client certificate and key for it.
    pub fn write_charger_files(
        &self,
        dir: &Path,
        client_for: Option<&str>,
    ) -> Result<ChargerFiles, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let write = |name: &str, text: &str| -> Result<PathBuf, String> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(path)
        };
        let ca_file = write("csms-ca.pem", &self.pem())?;
        let client = match client_for {
            None => None,
            Some(id) => {
                let (cert, key) = self.leaf(&[], id, ExtendedKeyUsagePurpose::ClientAuth)?;
                let cert_pem = pem_block("CERTIFICATE", cert.as_ref());
                Some((
                    write("charger-cert.pem", &cert_pem)?,
                    write("charger-key.pem", &key.serialize_pem())?,
                ))
            }
        };
        Ok(ChargerFiles { ca_file, client })
    }
}

/// The central system's TLS configuration on a bench: the certificate and key the profile
/// names (from the CA the board trusts) and, for profile 3, the CA of the board's certificate.
pub fn server_config_from_files(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|_| format!("{}: no PEM private key", key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&read(ca)?) {
                roots
                    .add(c.map_err(|e| format!("{}: {e}", ca.display()))?)
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(chain, key_der)
        .map(Arc::new)
        .map_err(|e| format!("{}: {e}", cert.display()))
}

/// A DER blob as a PEM block.
fn pem_block(label: &str, der: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::new();
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
