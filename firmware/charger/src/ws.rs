//! The OCPP-J WebSocket client: connect, keep alive, reconnect. It never interprets a frame.
//!
//! One task owns the socket. It reports `Connected` / `Frame` / `Disconnected` on one channel
//! (so the core always sees `Connected` before the frames of that connection) and takes frames to
//! send tagged with the connection *generation* they were meant for: a frame the core produced for
//! a connection that has since died is dropped instead of leaking onto the next one.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::redact::frame_for_log;
use crate::tls::Tls;

/// The OCPP-J subprotocol we speak; a server that does not agree is refused.
pub const SUBPROTOCOL: &str = "ocpp1.6";

/// Largest inbound text frame handed to the core whole. A larger one is not parsed: the core
/// gets its head (to answer a CALL with a CallError carrying its id) and its size.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// How much of an oversized frame the core gets: enough for `[2,"<id>","<action>"` even with
/// an over-long id.
pub const OVERSIZED_HEAD_BYTES: usize = 2 * 1024;

/// Hard ceiling where tungstenite itself gives up (and the connection closes). Well above
/// [`MAX_FRAME_BYTES`], so a central system that sends a big CALL gets a CallError and keeps its
/// connection, while a runaway peer still cannot make us buffer without bound.
pub const TRANSPORT_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Full URL including the charge point id.
    pub url: String,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How long after a ping without any inbound traffic the link is declared dead. Also bounds
    /// the TCP connect + handshake and every write, so a blackholed network is noticed.
    pub pong_timeout: Duration,
    /// The Basic-auth user name (profiles 1 and 2).
    pub charge_point_id: String,
    /// Trust and client certificate for `wss://`; `None` for `ws://`.
    pub tls: Option<Tls>,
}

/// The security profile and key in effect, read at every (re)connection: a raised profile or a
/// changed AuthorizationKey is used from the next connection on.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Security {
    pub profile: u8,
    /// The AuthorizationKey's bytes (the Basic-auth password).
    pub key: Option<Vec<u8>>,
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Security")
            .field("profile", &self.profile)
            .field("key", &self.key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What the socket task reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    Connected {
        generation: u64,
    },
    Frame {
        generation: u64,
        text: String,
    },
    /// A text frame over [`MAX_FRAME_BYTES`]: its first [`OVERSIZED_HEAD_BYTES`] and its size.
    Oversized {
        generation: u64,
        head: String,
        bytes: usize,
    },
    Disconnected {
        generation: u64,
    },
}

/// What the runtime asks of the socket task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsCommand {
    /// Send a text frame, if `generation` is still the live connection.
    Send { generation: u64, text: String },
    /// Drop the connection (if any) and connect again.
    Reconnect,
}

/// Why a session ended.
enum End {
    /// The runtime is gone: stop for good.
    Shutdown,
    /// The core asked for a reconnect.
    Requested,
    /// The link failed (closed, error, silent).
    Lost(String),
}

/// TCP, or TLS over TCP.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

type Socket = WebSocketStream<Transport>;

/// Runs until `commands` is closed. `ping_interval` is OCPP's WebSocketPingInterval (zero: no
/// pings), read live so a ChangeConfiguration takes effect on the next ping.
pub async fn run(
    cfg: WsConfig,
    security: watch::Receiver<Security>,
    mut ping_interval: watch::Receiver<Duration>,
    events: mpsc::Sender<WsEvent>,
    mut commands: mpsc::UnboundedReceiver<WsCommand>,
) {
    let mut backoff = Backoff::new(cfg.reconnect_min, cfg.reconnect_max);
    let mut generation = 0u64;
    loop {
        let attempt = backoff.attempts() + 1;
        let sec = security.borrow().clone();
        debug!(url = %cfg.url, attempt, profile = sec.profile, "connecting to the central system");
        let connecting = connect(&cfg, &sec);
        tokio::pin!(connecting);
        let result = loop {
            tokio::select! {
                r = &mut connecting => break Some(r),
                cmd = commands.recv() => match cmd {
                    None => break None,
                    // Nothing is live: stale frames are dropped, a reconnect is already under way.
                    Some(WsCommand::Send { .. }) | Some(WsCommand::Reconnect) => {}
                }
            }
        };
        let socket = match result {
            None => return,
            Some(Ok(socket)) => socket,
            Some(Err(reason)) => {
                let delay = backoff.next_delay();
                warn!(url = %cfg.url, attempt, profile = sec.profile, %reason,
                      next_attempt_in_ms = delay.as_millis() as u64,
                      "central system unreachable, retrying");
                if !idle(delay, &mut commands).await {
                    return;
                }
                continue;
            }
        };
        generation += 1;
        backoff.reset();
        info!(url = %cfg.url, generation, profile = sec.profile, "connected to the central system");
        if events
            .send(WsEvent::Connected { generation })
            .await
            .is_err()
        {
            return;
        }
        let end = session(
            socket,
            generation,
            &cfg,
            &mut ping_interval,
            &events,
            &mut commands,
        )
        .await;
        let _ = events.send(WsEvent::Disconnected { generation }).await;
        let delay = match end {
            End::Shutdown => return,
            End::Requested => {
                info!(generation, "reconnect requested by the charger logic");
                backoff.next_delay()
            }
            End::Lost(reason) => {
                let delay = backoff.next_delay();
                warn!(generation, %reason, next_attempt_in_ms = delay.as_millis() as u64,
                      "connection to the central system lost");
                delay
            }
        };
        if !idle(delay, &mut commands).await {
            return;
        }
    }
}

/// Waits `delay`, discarding commands (nothing is connected). False when the runtime is gone.
async fn idle(delay: Duration, commands: &mut mpsc::UnboundedReceiver<WsCommand>) -> bool {
    let until = Instant::now() + delay;
    loop {
        tokio::select! {
            _ = sleep_until(until) => return true,
            cmd = commands.recv() => if cmd.is_none() { return false },
        }
    }
}

/// TCP connect, TLS for `wss://`, and the WebSocket handshake with the `ocpp1.6` subprotocol
/// (and Basic auth for profiles 1 and 2), all bounded by the pong timeout.
async fn connect(cfg: &WsConfig, sec: &Security) -> Result<Socket, String> {
    let mut request = cfg
        .url
        .as_str()
        .into_client_request()
        // Credentials are refused at start; the log never shows them anyway.
        .map_err(|e| {
            format!(
                "bad URL {}: {e}",
                crate::config::without_credentials(&cfg.url)
            )
        })?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    if matches!(sec.profile, 1 | 2) {
        let Some(key) = &sec.key else {
            return Err(format!(
                "security profile {} needs an AuthorizationKey, none is set",
                sec.profile
            ));
        };
        let mut credentials = cfg.charge_point_id.as_bytes().to_vec();
        credentials.push(b':');
        credentials.extend_from_slice(key);
        let mut value = HeaderValue::try_from(format!("Basic {}", base64(&credentials)))
            .map_err(|_| "Basic-auth header could not be built".to_string())?;
        value.set_sensitive(true);
        request.headers_mut().insert("Authorization", value);
    }
    let uri = request.uri().clone();
    let host = uri
        .host()
        .ok_or_else(|| format!("no host in {}", cfg.url))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls = match uri.scheme_str() {
        Some("wss") => Some(cfg.tls.as_ref().ok_or("wss:// without TLS settings")?),
        _ => None,
    };
    let port = uri
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(TRANSPORT_LIMIT_BYTES))
        .max_frame_size(Some(TRANSPORT_LIMIT_BYTES));
    let limit = cfg.pong_timeout.max(Duration::from_secs(1));
    let handshake = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("TCP connect to {host}:{port} failed: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let stream = match tls {
            None => Transport::Plain(tcp),
            Some(tls) => {
                let client = tls.for_profile(sec.profile).ok_or_else(|| {
                    "security profile 3 needs a client certificate, none is provisioned".to_string()
                })?;
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(client)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| describe_tls_error(&e))?;
                Transport::Tls(Box::new(stream))
            }
        };
        tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config))
            .await
            .map_err(|e| describe_connect_error(&e))
    };
    let (socket, response) = match timeout(limit, handshake).await {
        Err(_) => return Err(format!("no handshake within {} ms", limit.as_millis())),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(pair)) => pair,
    };
    // tungstenite already refuses a missing or foreign subprotocol; keep the check explicit.
    let agreed = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok());
    if agreed != Some(SUBPROTOCOL) {
        return Err(format!(
            "server did not agree to subprotocol {SUBPROTOCOL} (answered {agreed:?})"
        ));
    }
    Ok(socket)
}

/// Standard base64 with padding (RFC 4648 §4), for the Basic-auth header.
fn base64(data: &[u8]) -> String {
    use ::base64::Engine as _;
    ::base64::engine::general_purpose::STANDARD.encode(data)
}

/// The rustls error inside an I/O error, if that is what it is.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A failed TLS handshake, saying whether the server's certificate was refused.
fn describe_tls_error(e: &io::Error) -> String {
    match rustls_error(e) {
        Some(rustls::Error::InvalidCertificate(why)) => {
            format!("TLS: the central system's certificate was refused: {why:?}")
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("TLS handshake failed: the central system sent alert {alert:?}")
        }
        Some(other) => format!("TLS handshake failed: {other}"),
        None => format!("TLS handshake failed: {e}"),
    }
}

fn describe_connect_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::error::{Error, ProtocolError};
    match e {
        Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(sub)) => {
            format!("server refused subprotocol {SUBPROTOCOL}: {sub}")
        }
        Error::Http(resp) if resp.status().as_u16() == 401 => {
            "server answered HTTP 401 Unauthorized: our credentials were refused".to_string()
        }
        Error::Http(resp) => format!("server answered HTTP {}", resp.status()),
        // TLS 1.3: a server that refuses our client certificate says so after the handshake.
        Error::Io(io) if rustls_error(io).is_some() => describe_tls_error(io),
        other => other.to_string(),
    }
}

/// One live connection: pump frames both ways, ping, and notice silence.
async fn session(
    socket: Socket,
    generation: u64,
    cfg: &WsConfig,
    ping_interval: &mut watch::Receiver<Duration>,
    events: &mpsc::Sender<WsEvent>,
    commands: &mut mpsc::UnboundedReceiver<WsCommand>,
) -> End {
    let (mut sink, mut stream) = socket.split();
    let write_limit = cfg.pong_timeout.max(Duration::from_secs(1));
    let mut last_rx = Instant::now();
    // When we pinged without having heard anything since: the silence clock runs from here.
    let mut unanswered_ping: Option<Instant> = None;
    let mut next_ping = next_ping_at(Instant::now(), *ping_interval.borrow());
    let mut ping_live = true;
    let far = || Instant::now() + Duration::from_secs(24 * 3600);
    loop {
        let silence_deadline = unanswered_ping.map(|t| t + cfg.pong_timeout);
        tokio::select! {
            msg = stream.next() => {
                let msg = match msg {
                    None => return End::Lost("closed by the central system".into()),
                    Some(Err(e)) => return End::Lost(format!("read error: {e}")),
                    Some(Ok(msg)) => msg,
                };
                last_rx = Instant::now();
                unanswered_ping = None;
                match msg {
                    Message::Text(text) => {
                        if text.len() > MAX_FRAME_BYTES {
                            warn!(generation, bytes = text.len(), limit = MAX_FRAME_BYTES,
                                  "oversized frame from the central system not processed");
                            let head = head_of(text.as_str(), OVERSIZED_HEAD_BYTES).to_string();
                            let ev = WsEvent::Oversized { generation, head, bytes: text.len() };
                            if events.send(ev).await.is_err() {
                                return End::Shutdown;
                            }
                            continue;
                        }
                        debug!(generation, frame = %frame_for_log(text.as_str()), "received");
                        if events.send(WsEvent::Frame { generation, text: text.to_string() }).await.is_err() {
                            return End::Shutdown;
                        }
                    }
                    Message::Binary(data) => {
                        warn!(generation, bytes = data.len(), "binary frame ignored (OCPP-J is text only)");
                    }
                    Message::Ping(_) => {
                        // tungstenite queued the pong; push it out now.
                        if let Err(reason) = bounded(write_limit, sink.flush()).await {
                            return End::Lost(reason);
                        }
                    }
                    Message::Pong(_) => debug!(generation, "pong"),
                    Message::Close(frame) => {
                        return End::Lost(format!("central system closed the connection: {frame:?}"));
                    }
                    Message::Frame(_) => {}
                }
            }
            cmd = commands.recv() => match cmd {
                None => {
                    let _ = timeout(Duration::from_millis(500), sink.close()).await;
                    return End::Shutdown;
                }
                Some(WsCommand::Reconnect) => {
                    let _ = timeout(Duration::from_millis(500), sink.close()).await;
                    return End::Requested;
                }
                Some(WsCommand::Send { generation: g, text }) => {
                    if g != generation {
                        debug!(stale = g, live = generation, "frame for an old connection dropped");
                        continue;
                    }
                    debug!(generation, frame = %frame_for_log(&text), "sending");
                    if let Err(reason) = bounded(write_limit, sink.send(Message::text(text))).await {
                        return End::Lost(reason);
                    }
                }
            },
            _ = sleep_until(next_ping.unwrap_or_else(far)), if next_ping.is_some() => {
                let now = Instant::now();
                if unanswered_ping.is_none() {
                    unanswered_ping = Some(now);
                }
                debug!(generation, since_last_rx_ms = (now - last_rx).as_millis() as u64, "ping");
                let ping = Message::Ping(Bytes::from_static(b"chargerig"));
                if let Err(reason) = bounded(write_limit, sink.send(ping)).await {
                    return End::Lost(reason);
                }
                next_ping = next_ping_at(now, *ping_interval.borrow());
            }
            _ = sleep_until(silence_deadline.unwrap_or_else(far)), if silence_deadline.is_some() => {
                return End::Lost(format!(
                    "silent link: no pong or frame within {} ms of a ping",
                    cfg.pong_timeout.as_millis()
                ));
            }
            changed = ping_interval.changed(), if ping_live => {
                ping_live = changed.is_ok();
                if ping_live {
                    let interval = *ping_interval.borrow_and_update();
                    info!(generation, interval_s = interval.as_secs(), "WebSocket ping interval changed");
                    next_ping = next_ping_at(Instant::now(), interval);
                    if next_ping.is_none() {
                        unanswered_ping = None;
                    }
                }
            }
        }
    }
}

/// A write that must finish within `limit`: on a blackholed network it would block forever.
async fn bounded<F>(limit: Duration, write: F) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), tokio_tungstenite::tungstenite::Error>>,
{
    match timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("write error: {e}")),
        Err(_) => Err(format!("write blocked for {} ms", limit.as_millis())),
    }
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn head_of(text: &str, max: usize) -> &str {
    let mut cut = max.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

fn next_ping_at(from: Instant, interval: Duration) -> Option<Instant> {
    (!interval.is_zero()).then(|| from + interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    /// A server that agrees to `ocpp1.6` and forwards every text frame it receives.
    async fn server() -> (String, mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/ocpp/CP1", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                #[allow(clippy::result_large_err)]
                let cb = |_: &Request, mut resp: Response| {
                    resp.headers_mut().insert(
                        "Sec-WebSocket-Protocol",
                        HeaderValue::from_static(SUBPROTOCOL),
                    );
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                    continue;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(Ok(msg)) = ws.next().await {
                        if let Message::Text(t) = msg {
                            let _ = tx.send(t.to_string());
                        }
                    }
                });
            }
        });
        (url, rx)
    }

    async fn next_event(events: &mut mpsc::Receiver<WsEvent>) -> WsEvent {
        timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event within 10 s")
            .expect("the task is running")
    }

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn the_head_of_an_oversized_frame_is_cut_at_a_character_boundary() {
        let text = format!("[2,\"é{}", "é".repeat(4000));
        let head = head_of(&text, OVERSIZED_HEAD_BYTES);
        assert!(head.len() <= OVERSIZED_HEAD_BYTES && head.len() >= OVERSIZED_HEAD_BYTES - 1);
        assert!(text.starts_with(head));
        assert_eq!(head_of("[2]", OVERSIZED_HEAD_BYTES), "[2]");
    }

    #[tokio::test]
    async fn frames_for_a_dead_connection_never_reach_the_next_one() {
        let (url, mut received) = server().await;
        let cfg = WsConfig {
            url,
            reconnect_min: Duration::from_millis(10),
            reconnect_max: Duration::from_millis(50),
            pong_timeout: Duration::from_secs(2),
            charge_point_id: "CP1".into(),
            tls: None,
        };
        let (_sec_tx, sec_rx) = watch::channel(Security::default());
        let (_ping_tx, ping_rx) = watch::channel(Duration::ZERO);
        let (ev_tx, mut events) = mpsc::channel(16);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(cfg, sec_rx, ping_rx, ev_tx, cmd_rx));

        assert_eq!(
            next_event(&mut events).await,
            WsEvent::Connected { generation: 1 }
        );
        cmd_tx
            .send(WsCommand::Send {
                generation: 1,
                text: "one".into(),
            })
            .unwrap();
        assert_eq!(received.recv().await.unwrap(), "one");

        cmd_tx.send(WsCommand::Reconnect).unwrap();
        // Produced for connection 1 after it was told to go: must be dropped.
        cmd_tx
            .send(WsCommand::Send {
                generation: 1,
                text: "stale".into(),
            })
            .unwrap();
        assert_eq!(
            next_event(&mut events).await,
            WsEvent::Disconnected { generation: 1 }
        );
        assert_eq!(
            next_event(&mut events).await,
            WsEvent::Connected { generation: 2 }
        );
        cmd_tx
            .send(WsCommand::Send {
                generation: 2,
                text: "two".into(),
            })
            .unwrap();
        assert_eq!(
            received.recv().await.unwrap(),
            "two",
            "the stale frame was delivered"
        );

        drop(cmd_tx);
        timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
