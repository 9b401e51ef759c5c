//! The WebSocket side of the test central system: accept, handshake, read, answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;

use super::history::{ConnectionEvent, History};
use super::script::Script;
use super::security::{check_basic_auth, Refusal};
pub use super::session::Answer;
pub(crate) use super::session::State;

/// State shared between the server tasks and the steps.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Woken on every change of the history, so waiters re-check their condition.
    pub(crate) changed: Notify,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                script: Script::default(),
                history: History::default(),
                next_transaction_id: 1,
                current: None,
                pending: HashMap::new(),
                next_message_id: 1,
                boot_status: None,
                path_prefix: None,
                agree_subprotocol: true,
                reboot_expected: false,
                rebooted: false,
                triggered: Vec::new(),
                requirement: Default::default(),
            }),
            changed: Notify::new(),
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Accepts connections until the task is aborted; aborting drops every connection with it.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    let mut number = 0u32;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    number += 1;
                    tracing::debug!(%peer, connection = number, "charger connecting");
                    connections.spawn(secure(stream, number, shared.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// TLS first when the security profile asks for it (2, 3); a failed handshake is a refused
/// connection in the history.
async fn secure(stream: TcpStream, connection: u32, shared: Arc<Shared>) {
    let tls = shared.lock().requirement.tls.clone();
    let Some(tls) = tls else {
        return serve(stream, connection, shared).await;
    };
    match tokio_rustls::TlsAcceptor::from(tls).accept(stream).await {
        Ok(stream) => serve(stream, connection, shared).await,
        Err(e) => {
            let reason = format!("TLS handshake failed: {e}");
            tracing::debug!(connection, %reason, "refused a charger");
            refuse(&shared, connection, None, reason);
        }
    }
}

fn refuse(shared: &Shared, connection: u32, status: Option<u16>, reason: String) {
    shared.lock().history.refused.push(Refusal {
        at: Utc::now(),
        connection,
        status,
        reason,
    });
    shared.changed.notify_waiters();
}

// The handshake callback's error type is tungstenite's HTTP response: large, and not ours.
#[allow(clippy::result_large_err)]
async fn serve<S>(stream: S, connection: u32, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut charge_point_id = String::new();
    let mut handshake_error = None;
    let mut foreign = None;
    let mut unauthorized = None;
    let (prefix, agree, requirement) = {
        let state = shared.lock();
        (
            state.path_prefix.clone(),
            state.agree_subprotocol,
            state.requirement.clone(),
        )
    };
    let callback = |request: &Request, mut response: Response| {
        let path = request.uri().path();
        shared.lock().history.handshakes.push(path.to_string());
        charge_point_id = path.rsplit('/').next().unwrap_or_default().to_string();
        if let Some(prefix) = prefix.as_deref().filter(|p| !path.starts_with(p)) {
            let reason = format!("path {path:?} is not this scenario's ({prefix}/...)");
            foreign = Some(reason.clone());
            let mut refusal = ErrorResponse::new(Some(reason));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            return Err(refusal);
        }
        let offered = request
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(str::trim))
            .any(|p| p == "ocpp1.6");
        if charge_point_id.is_empty() {
            handshake_error = Some(format!("no charge point id in the path {path:?}"));
        } else if !offered {
            handshake_error = Some("the handshake does not offer subprotocol ocpp1.6".into());
        }
        if let Some(reason) = &handshake_error {
            let mut refusal = ErrorResponse::new(Some(reason.clone()));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        // Basic auth (profiles 1 and 2): user = the charge point id of the URL, password = the
        // expected AuthorizationKey's bytes.
        if let (1 | 2, Some(key)) = (requirement.profile, &requirement.key) {
            let header = request.headers().get("Authorization").map(|v| v.as_bytes());
            if let Err(reason) = check_basic_auth(header, &charge_point_id, key) {
                unauthorized = Some(reason);
                let mut refusal = ErrorResponse::new(None);
                *refusal.status_mut() = StatusCode::UNAUTHORIZED;
                refusal.headers_mut().insert(
                    "WWW-Authenticate",
                    HeaderValue::from_static("Basic realm=\"OCPP\""),
                );
                return Err(refusal);
            }
        }
        if agree {
            response.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static("ocpp1.6"),
            );
        }
        Ok(response)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback).await;
    if let Some(reason) = unauthorized {
        tracing::debug!(connection, %reason, "answered 401");
        refuse(&shared, connection, Some(401), reason);
        return;
    }
    if let Some(reason) = foreign {
        tracing::warn!(connection, %reason, "turned away a charger of another scenario");
        shared.lock().history.foreign.push(reason);
        shared.changed.notify_waiters();
        return;
    }
    let ws = match (ws, handshake_error) {
        (_, Some(reason)) => {
            shared
                .lock()
                .violation(Utc::now(), connection, reason, "WebSocket handshake");
            shared.changed.notify_waiters();
            return;
        }
        (Err(e), None) => {
            tracing::debug!(connection, error = %e, "handshake failed");
            return;
        }
        (Ok(ws), None) => ws,
    };
    let (tx, mut outgoing) = mpsc::unbounded_channel();
    {
        let mut state = shared.lock();
        state.on_connected();
        state.current = Some((connection, tx));
        state.history.connections.push(ConnectionEvent {
            at: Utc::now(),
            connection,
            opened: true,
            charge_point_id: charge_point_id.clone(),
        });
    }
    shared.changed.notify_waiters();
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                if let Some(Ok(_)) = &incoming {
                    shared.lock().history.activity.insert(connection, Utc::now());
                }
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Binary(_))) => {
                        shared.lock().violation(Utc::now(), connection, "binary frame (OCPP-J is text only)".into(), "<binary>");
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(other)) => {
                        if let Message::Ping(_) = other {
                            shared.lock().history.pings += 1;
                        }
                        // Pings prove the connection carries traffic: wake waiters.
                        shared.changed.notify_waiters();
                        continue;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(connection, error = %e, "connection failed");
                        break;
                    }
                };
                let replies = shared.lock().on_text(connection, &text, Utc::now());
                shared.changed.notify_waiters();
                if !replies.is_empty() {
                    let mut failed = false;
                    for reply in replies {
                        failed |= sink.feed(Message::text(reply)).await.is_err();
                    }
                    if failed || sink.flush().await.is_err() {
                        break;
                    }
                }
            }
            Some(out) = outgoing.recv() => {
                if sink.send(out).await.is_err() {
                    break;
                }
            }
        }
    }
    {
        let mut state = shared.lock();
        if state.current.as_ref().map(|c| c.0) == Some(connection) {
            state.current = None;
        }
        // Requests sent on this connection will never be answered: fail them now.
        state.pending.retain(|_, p| p.1 != connection);
        state.history.connections.push(ConnectionEvent {
            at: Utc::now(),
            connection,
            opened: false,
            charge_point_id,
        });
    }
    shared.changed.notify_waiters();
}
