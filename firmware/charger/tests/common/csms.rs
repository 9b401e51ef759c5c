//! A minimal OCPP-J central system for the tests: accepts `ocpp1.6`, records every frame,
//! answers the charger's calls with plausible confirmations, and lets a test send raw frames.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// One frame the charger sent, with the connection it came on (1-based) and when.
#[derive(Debug, Clone)]
pub struct Received {
    pub conn: usize,
    pub at: chrono::DateTime<chrono::Utc>,
    pub frame: Value,
}

impl Received {
    /// The action of a CALL (`[2, id, action, payload]`).
    pub fn action(&self) -> Option<&str> {
        (self.frame[0] == 2)
            .then(|| self.frame[2].as_str())
            .flatten()
    }
    pub fn payload(&self) -> &Value {
        &self.frame[3]
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    /// Paths the charger connected to.
    paths: Vec<String>,
    /// Writer of the live connection.
    live: Option<mpsc::UnboundedSender<Message>>,
    connections: usize,
    handshakes: usize,
    /// WebSocket pings received from the charger.
    pings: usize,
}

/// The test central system.
#[derive(Clone)]
pub struct Csms {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    /// Whether to agree to `ocpp1.6` in the handshake.
    agree_subprotocol: Arc<AtomicBool>,
    next_tx_id: Arc<AtomicI64>,
    /// Answer the next StartTransaction with a Reset (Hard) sent just before its confirmation.
    reset_before_start_conf: Arc<AtomicBool>,
    /// Hung: requests are read and recorded but never answered.
    hung: Arc<AtomicBool>,
}

impl Csms {
    /// Listens on `addr` (`127.0.0.1:0` for any port).
    pub async fn start(addr: &str) -> Csms {
        let listener = TcpListener::bind(addr).await.expect("bind test CSMS");
        let csms = Csms {
            addr: listener.local_addr().unwrap(),
            shared: Arc::default(),
            agree_subprotocol: Arc::new(AtomicBool::new(true)),
            next_tx_id: Arc::new(AtomicI64::new(100)),
            reset_before_start_conf: Arc::new(AtomicBool::new(false)),
            hung: Arc::new(AtomicBool::new(false)),
        };
        let c = csms.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let c = c.clone();
                tokio::spawn(async move { c.serve(tcp).await });
            }
        });
        csms
    }

    /// A CSMS whose handshake never names `ocpp1.6`.
    pub async fn start_refusing_subprotocol() -> Csms {
        let csms = Csms::start("127.0.0.1:0").await;
        csms.agree_subprotocol.store(false, Ordering::SeqCst);
        csms
    }

    /// The next StartTransaction.conf is preceded, in the same TCP write, by a Hard Reset.
    pub fn reset_before_next_start_conf(&self) {
        self.reset_before_start_conf.store(true, Ordering::SeqCst);
    }

    /// Stops answering (`true`) or answers again; the connection stays up.
    #[allow(dead_code)]
    pub fn hang(&self, hung: bool) {
        self.hung.store(hung, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ocpp", self.addr)
    }

    async fn serve(&self, tcp: tokio::net::TcpStream) {
        let agree = self.agree_subprotocol.load(Ordering::SeqCst);
        let shared = self.shared.clone();
        // The handshake callback's error type is tungstenite's (large) HTTP response.
        #[allow(clippy::result_large_err)]
        let callback = move |req: &Request, mut resp: Response| {
            let mut s = shared.lock().unwrap();
            s.handshakes += 1;
            s.paths.push(req.uri().path().to_string());
            if agree {
                resp.headers_mut().insert(
                    "Sec-WebSocket-Protocol",
                    HeaderValue::from_static("ocpp1.6"),
                );
            }
            Ok(resp)
        };
        let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let conn = {
            let mut s = self.shared.lock().unwrap();
            s.connections += 1;
            s.live = Some(tx.clone());
            s.connections
        };
        // Messages queued together go out in one write (one TCP segment), so tests can make
        // two frames arrive at the charger at the same moment.
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if sink.feed(m).await.is_err() {
                    break;
                }
                while let Ok(more) = rx.try_recv() {
                    if sink.feed(more).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
        });
        while let Some(Ok(msg)) = stream.next().await {
            if let Message::Ping(_) = msg {
                self.shared.lock().unwrap().pings += 1;
                continue;
            }
            let Message::Text(text) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let rec = Received {
                conn,
                at: chrono::Utc::now(),
                frame,
            };
            let answer = self.answer(&rec);
            if rec.action() == Some("StartTransaction")
                && self.reset_before_start_conf.swap(false, Ordering::SeqCst)
            {
                let _ = tx.send(Message::text(r#"[2,"reset-race","Reset",{"type":"Hard"}]"#));
            }
            self.shared.lock().unwrap().received.push(rec);
            if let Some(a) = answer {
                let _ = tx.send(Message::text(a.to_string()));
            }
        }
        let mut s = self.shared.lock().unwrap();
        if s.connections == conn {
            s.live = None;
        }
    }

    fn answer(&self, rec: &Received) -> Option<Value> {
        let action = rec.action()?;
        if self.hung.load(Ordering::SeqCst) {
            return None;
        }
        let id = rec.frame[1].clone();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let accepted = json!({"status": "Accepted"});
        let payload = match action {
            "BootNotification" => {
                json!({"status": "Accepted", "currentTime": now, "interval": 300})
            }
            "Heartbeat" => json!({"currentTime": now}),
            "Authorize" => json!({"idTagInfo": accepted}),
            "StartTransaction" => json!({
                "transactionId": self.next_tx_id.fetch_add(1, Ordering::SeqCst),
                "idTagInfo": accepted,
            }),
            "StopTransaction" => json!({"idTagInfo": accepted}),
            _ => json!({}),
        };
        Some(json!([3, id, payload]))
    }

    /// Sends a raw text frame on the live connection.
    pub fn send_text(&self, text: impl Into<String>) {
        let live = self.shared.lock().unwrap().live.clone();
        live.expect("no live connection")
            .send(Message::text(text.into()))
            .unwrap();
    }

    /// Sends a binary frame on the live connection.
    pub fn send_binary(&self, data: Vec<u8>) {
        let live = self.shared.lock().unwrap().live.clone();
        live.expect("no live connection")
            .send(Message::binary(data))
            .unwrap();
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    pub fn calls(&self, action: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.action() == Some(action))
            .collect()
    }

    /// The charger's answer (CALLRESULT or CALLERROR) to our call `id`.
    pub fn answer_to(&self, id: &str) -> Option<Value> {
        self.received()
            .into_iter()
            .find(|r| r.frame[0] != 2 && r.frame[1] == id)
            .map(|r| r.frame)
    }

    pub fn connections(&self) -> usize {
        self.shared.lock().unwrap().connections
    }

    pub fn pings(&self) -> usize {
        self.shared.lock().unwrap().pings
    }

    pub fn handshakes(&self) -> usize {
        self.shared.lock().unwrap().handshakes
    }

    pub fn paths(&self) -> Vec<String> {
        self.shared.lock().unwrap().paths.clone()
    }

    /// Polls `cond` until it holds or `within` passes; panics with `what` and the traffic seen.
    pub async fn wait_until(&self, what: &str, within: Duration, cond: impl Fn(&Csms) -> bool) {
        let deadline = Instant::now() + within;
        while !cond(self) {
            if Instant::now() > deadline {
                let seen: Vec<String> = self
                    .received()
                    .iter()
                    .map(|r| format!("conn {}: {}", r.conn, r.frame))
                    .collect();
                panic!(
                    "timed out after {within:?} waiting for {what}; the CSMS saw {} handshakes and:\n{}",
                    self.handshakes(),
                    seen.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
