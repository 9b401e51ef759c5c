//! Security profiles end to end (field.md "Connection security"): the real `charger` binary
//! against a central system in this test that speaks TLS (rustls) with certificates from a test
//! CA made here by rcgen, and checks HTTP Basic auth. Nothing key-like is checked in.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{run_to_exit, ChargerProc};
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;

const CP: &str = "CP-SEC-1";
const KEY_HEX: &str = "3031323334353637383930313233343536373839";
const KEY_BYTES: &[u8] = b"01234567890123456789";
const OTHER_HEX: &str = "4142434445464748494a4b4c4d4e4f50";

/// A certificate authority made for one test.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf certificate for `names` and its key.
    fn leaf(&self, names: &[&str]) -> (CertificateDer<'static>, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.der().clone(), key)
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        roots
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration with a certificate for `names` from `ca`; client certificates from
/// `client_ca` required when given.
fn server_tls(ca: &TestCa, names: &[&str], client_ca: Option<&TestCa>) -> Arc<ServerConfig> {
    server_tls_versions(ca, names, client_ca, rustls::DEFAULT_VERSIONS)
}

fn server_tls_versions(
    ca: &TestCa,
    names: &[&str],
    client_ca: Option<&TestCa>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ServerConfig> {
    let (cert, key) = ca.leaf(names);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(client_ca) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(client_ca.roots()), provider())
                .build()
                .unwrap(),
        ),
    };
    Arc::new(builder.with_single_cert(vec![cert], key).unwrap())
}

#[derive(Default)]
struct State {
    /// The Basic-auth credentials required (charge point id, password bytes).
    expect: Option<(String, Vec<u8>)>,
    /// Upgrades answered 401.
    refused: usize,
    /// TLS handshakes that failed on our side.
    tls_failures: usize,
    /// WebSocket connections established.
    connections: usize,
    received: Vec<Value>,
    live: Option<mpsc::UnboundedSender<Message>>,
}

/// A central system requiring TLS and/or Basic auth.
#[derive(Clone)]
struct SecureCsms {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl SecureCsms {
    async fn start(tls: Option<Arc<ServerConfig>>, expect: Option<&[u8]>) -> SecureCsms {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let csms = SecureCsms {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
        };
        csms.expect_key(expect);
        let c = csms.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let c = c.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => c.serve(tcp).await,
                        Some(cfg) => match tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                            Ok(stream) => c.serve(stream).await,
                            Err(_) => c.state.lock().unwrap().tls_failures += 1,
                        },
                    }
                });
            }
        });
        csms
    }

    fn expect_key(&self, key: Option<&[u8]>) {
        self.state.lock().unwrap().expect = key.map(|k| (CP.to_string(), k.to_vec()));
    }

    async fn serve<S>(&self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let state = self.state.clone();
        #[allow(clippy::result_large_err)]
        let callback =
            move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
                let mut s = state.lock().unwrap();
                if let Some((user, password)) = &s.expect {
                    let mut credentials = user.as_bytes().to_vec();
                    credentials.push(b':');
                    credentials.extend_from_slice(password);
                    let wanted = format!("Basic {}", base64(&credentials));
                    let given = req.headers().get("Authorization").map(|v| v.as_bytes());
                    if given != Some(wanted.as_bytes()) {
                        s.refused += 1;
                        let mut refusal = ErrorResponse::new(None);
                        *refusal.status_mut() = StatusCode::UNAUTHORIZED;
                        return Err(refusal);
                    }
                }
                resp.headers_mut().insert(
                    "Sec-WebSocket-Protocol",
                    HeaderValue::from_static("ocpp1.6"),
                );
                Ok(resp)
            };
        let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        {
            let mut s = self.state.lock().unwrap();
            s.connections += 1;
            s.live = Some(tx.clone());
        }
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let close = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || close {
                    break;
                }
            }
        });
        while let Some(Ok(msg)) = stream.next().await {
            let Message::Text(text) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if frame[0] == 2 {
                let now = chrono::Utc::now().to_rfc3339();
                let payload = match frame[2].as_str() {
                    Some("BootNotification") => {
                        json!({"status": "Accepted", "currentTime": now, "interval": 300})
                    }
                    Some("Heartbeat") => json!({"currentTime": now}),
                    _ => json!({}),
                };
                let _ = tx.send(Message::text(json!([3, frame[1], payload]).to_string()));
            }
            self.state.lock().unwrap().received.push(frame);
        }
    }

    fn url(&self, scheme: &str, host: &str) -> String {
        format!("{scheme}://{host}:{}/ocpp", self.addr.port())
    }

    fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    fn tls_failures(&self) -> usize {
        self.state.lock().unwrap().tls_failures
    }

    fn boots(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|f| f[2] == "BootNotification")
            .count()
    }

    fn send(&self, frame: Value) {
        let live = self.state.lock().unwrap().live.clone();
        live.expect("a live connection")
            .send(Message::text(frame.to_string()))
            .unwrap();
    }

    /// Drops the live connection (the charger reconnects).
    fn hang_up(&self) {
        if let Some(live) = self.state.lock().unwrap().live.take() {
            let _ = live.send(Message::Close(None));
        }
    }

    fn answer_to(&self, id: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .find(|f| f[0] == 3 && f[1] == id)
            .cloned()
    }

    fn frames(&self) -> Vec<Value> {
        self.state.lock().unwrap().received.clone()
    }
}

/// Standard base64 with padding (Basic-auth header, PEM body).
fn base64(data: &[u8]) -> String {
    use ::base64::Engine as _;
    ::base64::engine::general_purpose::STANDARD.encode(data)
}

/// Waits until `cond` holds; on time-out the failure shows the charger's log.
async fn wait_for(what: &str, within: Duration, charger: &ChargerProc, cond: impl Fn() -> bool) {
    common::poll_async(what, within, || {
        std::future::ready(if cond() {
            Ok(())
        } else {
            Err(format!("charger log:\n{}", charger.log_text()))
        })
    })
    .await
}

/// The charger's config: fast reconnects, `csms` extras, OCPP keys.
fn config(csms_extra: &str, keys: &[(&str, &str)]) -> String {
    let mut text = format!(
        "[identity]\ncharge_point_id = \"{CP}\"\n\n[csms]\nreconnect_min_ms = 100\nreconnect_max_ms = 400\npong_timeout_s = 2\n{csms_extra}\n[configuration]\n"
    );
    for (k, v) in keys {
        text.push_str(&format!("{k} = \"{v}\"\n"));
    }
    text
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn start(dir: &Path, url: &str, config: &str) -> ChargerProc {
    ChargerProc::start(dir, url, config, &[])
}

fn assert_never_logged(charger: &ChargerProc, secrets: &[&str]) {
    let log = charger.log_text().to_ascii_lowercase();
    for s in secrets {
        assert!(
            !log.contains(&s.to_ascii_lowercase()),
            "the log reveals {s}:\n{log}"
        );
    }
    let mut credentials = format!("{CP}:").into_bytes();
    credentials.extend_from_slice(KEY_BYTES);
    let header = base64(&credentials).to_ascii_lowercase();
    assert!(
        !log.contains(&header),
        "the log reveals the Basic-auth header:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_1_connects_with_the_key_a_wrong_key_gets_401_and_a_changed_key_is_used_next() {
    let csms = SecureCsms::start(None, Some(KEY_BYTES)).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        "",
        &[("SecurityProfile", "1"), ("AuthorizationKey", KEY_HEX)],
    );
    let charger = start(dir.path(), &csms.url("ws", "127.0.0.1"), &cfg);
    wait_for(
        "a BootNotification",
        Duration::from_secs(20),
        &charger,
        || csms.boots() >= 1,
    )
    .await;
    assert_eq!(csms.refused(), 0);

    // GetConfiguration never shows the key; ChangeConfiguration sets a new one.
    csms.send(json!([2, "get-all", "GetConfiguration", {}]));
    csms.send(json!([2, "get-one", "GetConfiguration", {"key": ["AuthorizationKey"]}]));
    csms.send(json!([2, "lower", "ChangeConfiguration", {"key": "SecurityProfile", "value": "0"}]));
    csms.send(json!([2, "set-key", "ChangeConfiguration", {"key": "AuthorizationKey", "value": OTHER_HEX}]));
    wait_for("the answers", Duration::from_secs(10), &charger, || {
        csms.answer_to("set-key").is_some()
    })
    .await;
    for id in ["get-all", "get-one"] {
        let a = csms.answer_to(id).unwrap();
        let entry = a[2]["configurationKey"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == "AuthorizationKey")
            .cloned()
            .unwrap();
        assert!(entry.get("value").is_none(), "{id}: {entry}");
    }
    assert_eq!(csms.answer_to("lower").unwrap()[2]["status"], "Rejected");
    assert_eq!(csms.answer_to("set-key").unwrap()[2]["status"], "Accepted");

    // The new key is used from the next connection on.
    let other = (0..OTHER_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&OTHER_HEX[i..i + 2], 16).unwrap())
        .collect::<Vec<_>>();
    csms.expect_key(Some(&other));
    csms.hang_up();
    wait_for(
        "a second connection",
        Duration::from_secs(20),
        &charger,
        || csms.connections() >= 2,
    )
    .await;
    assert_eq!(csms.refused(), 0, "the new key was used at once");

    // The old key is refused now: 401, retried with back-off, never in.
    csms.expect_key(Some(KEY_BYTES));
    csms.hang_up();
    wait_for(
        "three refused upgrades",
        Duration::from_secs(20),
        &charger,
        || csms.refused() >= 3,
    )
    .await;
    assert_eq!(csms.connections(), 2);
    let log = charger.log_text();
    assert!(log.contains("HTTP 401"), "{log}");
    let frames = serde_json::to_string(&csms.frames()).unwrap();
    assert!(!frames.to_ascii_lowercase().contains(KEY_HEX));
    assert_never_logged(&charger, &[KEY_HEX, OTHER_HEX]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_2_trusts_only_its_ca_and_checks_the_host_name() {
    let ca = TestCa::new("Chargerig test CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let keys = [("SecurityProfile", "2"), ("AuthorizationKey", KEY_HEX)];
    let cfg = config(&format!("ca_file = \"{ca_file}\"\n"), &keys);

    // Good: right CA, right name, right key.
    let good =
        SecureCsms::start(Some(server_tls(&ca, &["localhost"], None)), Some(KEY_BYTES)).await;
    let run = tempfile::tempdir().unwrap();
    let charger = start(run.path(), &good.url("wss", "localhost"), &cfg);
    wait_for(
        "a BootNotification over TLS",
        Duration::from_secs(20),
        &charger,
        || good.boots() >= 1,
    )
    .await;
    drop(charger);

    // A certificate from another CA: refused, retried, never in.
    let stranger = TestCa::new("Someone else's CA");
    let untrusted = SecureCsms::start(
        Some(server_tls(&stranger, &["localhost"], None)),
        Some(KEY_BYTES),
    )
    .await;
    let run = tempfile::tempdir().unwrap();
    let charger = start(run.path(), &untrusted.url("wss", "localhost"), &cfg);
    wait_for(
        "three refused TLS handshakes",
        Duration::from_secs(20),
        &charger,
        || untrusted.tls_failures() >= 3,
    )
    .await;
    assert_eq!(untrusted.connections(), 0);
    assert!(
        charger.log_text().contains("certificate was refused"),
        "{}",
        charger.log_text()
    );
    drop(charger);

    // Our CA, but a certificate for another host name.
    let misnamed = SecureCsms::start(
        Some(server_tls(&ca, &["csms.example.net"], None)),
        Some(KEY_BYTES),
    )
    .await;
    let run = tempfile::tempdir().unwrap();
    let charger = start(run.path(), &misnamed.url("wss", "localhost"), &cfg);
    wait_for(
        "two refused TLS handshakes",
        Duration::from_secs(20),
        &charger,
        || misnamed.tls_failures() >= 2,
    )
    .await;
    assert_eq!(misnamed.connections(), 0);
    let log = charger.log_text();
    assert!(
        log.contains("certificate was refused") && log.contains("NotValidForName"),
        "{log}"
    );
    assert_never_logged(&charger, &[KEY_HEX]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_are_both_spoken() {
    let ca = TestCa::new("Chargerig test CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let keys = [("SecurityProfile", "2"), ("AuthorizationKey", KEY_HEX)];
    let cfg = config(&format!("ca_file = \"{ca_file}\"\n"), &keys);
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let tls = server_tls_versions(&ca, &["localhost"], None, &[version]);
        let csms = SecureCsms::start(Some(tls), Some(KEY_BYTES)).await;
        let run = tempfile::tempdir().unwrap();
        let charger = start(run.path(), &csms.url("wss", "localhost"), &cfg);
        wait_for(
            &format!("a BootNotification over {:?}", version.version),
            Duration::from_secs(20),
            &charger,
            || csms.boots() >= 1,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_3_proves_itself_with_its_client_certificate() {
    let server_ca = TestCa::new("CSMS CA");
    let client_ca = TestCa::new("Charge point CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &server_ca.pem());
    let (cert, key) = client_ca.leaf(&[CP]);
    let cert_pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        pem_body(&cert)
    );
    let cert_file = write(dir.path(), "cp.pem", &cert_pem);
    let key_file = write(dir.path(), "cp.key", &key.serialize_pem());
    let csms = SecureCsms::start(
        Some(server_tls(&server_ca, &["localhost"], Some(&client_ca))),
        None,
    )
    .await;

    let with_cert = config(
        &format!(
            "ca_file = \"{ca_file}\"\nclient_cert = \"{cert_file}\"\nclient_key = \"{key_file}\"\n"
        ),
        &[("SecurityProfile", "3")],
    );
    let run = tempfile::tempdir().unwrap();
    let charger = start(run.path(), &csms.url("wss", "localhost"), &with_cert);
    wait_for(
        "a BootNotification over mutual TLS",
        Duration::from_secs(20),
        &charger,
        || csms.boots() >= 1,
    )
    .await;
    drop(charger);

    // Without a client certificate (profile 2) the server refuses the charger.
    let connections = csms.connections();
    let failures = csms.tls_failures();
    let without = config(
        &format!("ca_file = \"{ca_file}\"\n"),
        &[("SecurityProfile", "2"), ("AuthorizationKey", KEY_HEX)],
    );
    let run = tempfile::tempdir().unwrap();
    let charger = start(run.path(), &csms.url("wss", "localhost"), &without);
    wait_for(
        "two refused TLS handshakes",
        Duration::from_secs(20),
        &charger,
        || csms.tls_failures() >= failures + 2,
    )
    .await;
    assert_eq!(csms.connections(), connections);
    assert!(charger.log_text().contains("TLS"), "{}", charger.log_text());
    assert_never_logged(&charger, &[KEY_HEX]);
}

/// Base64 body of a DER certificate, in 64-column lines.
fn pem_body(der: &CertificateDer<'_>) -> String {
    base64(der.as_ref())
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_profile_that_does_not_match_the_url_a_password_in_the_url_and_a_missing_ca_are_refused_at_start(
) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let cases: Vec<(String, &str, &str)> = vec![
        (
            config(
                "url = \"ws://127.0.0.1:9/ocpp\"\n",
                &[("SecurityProfile", "2"), ("AuthorizationKey", KEY_HEX)],
            ),
            ":11:",
            "needs TLS",
        ),
        (
            config(
                &format!("url = \"wss://localhost:9/ocpp\"\nca_file = \"{ca_file}\"\n"),
                &[("SecurityProfile", "1"), ("AuthorizationKey", KEY_HEX)],
            ),
            ":12:",
            "speaks ws://",
        ),
        (
            config("url = \"ws://cp:secretpw@127.0.0.1:9/ocpp\"\n", &[]),
            ":8:",
            "user name or password in the URL",
        ),
        (
            config("url = \"wss://localhost:9/ocpp\"\n", &[]),
            ":8:",
            "needs csms.ca_file",
        ),
        (
            config(
                "url = \"wss://localhost:9/ocpp\"\nca_file = \"/nonexistent/ca.pem\"\n",
                &[],
            ),
            ":9:",
            "cannot read the file",
        ),
        (
            config(
                &format!("url = \"wss://localhost:9/ocpp\"\nca_file = \"{ca_file}\"\n"),
                &[("SecurityProfile", "3")],
            ),
            ":12:",
            "client_cert",
        ),
    ];
    for (text, line, needle) in cases {
        let file = write(dir.path(), "charger.toml", &text);
        let data = dir.path().join("data");
        let (status, err) = run_to_exit(&[
            "--board",
            &format!("sim:{}", dir.path().join("board").display()),
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            &file,
        ]);
        assert_eq!(status.code(), Some(1), "{text}\n{err}");
        assert!(
            err.contains(&format!("charger.toml{line}")),
            "{text}\n{err}"
        );
        assert!(err.contains(needle), "{text}\n{err}");
        assert!(!err.contains("secretpw"), "{err}");
        assert!(
            !data.exists(),
            "nothing may be created for a refused configuration"
        );
    }
}
