//! The WebSocket side of the test central system: accept, handshake, read, answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use rust_ocpp::v1_6::messages as m;
use rust_ocpp::v1_6::types::RegistrationStatus;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;

use super::frame::Frame;
use super::history::{ConnectionEvent, Direction, History, Kind, Record, Violation};
use super::script::Script;
use super::validate;

/// The answer the charger gave to a central-system request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Result(Value),
    Error { code: String, description: String },
}

/// State shared between the server tasks and the steps.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Woken on every change of the history, so waiters re-check their condition.
    pub(crate) changed: Notify,
}

pub(crate) struct State {
    pub(crate) script: Script,
    pub(crate) history: History,
    pub(crate) next_transaction_id: i32,
    /// The newest connection: where central-system requests go.
    pub(crate) current: Option<(u32, mpsc::UnboundedSender<Message>)>,
    /// Central-system requests awaiting the charger's answer: action, connection, reply.
    pub(crate) pending: HashMap<String, (String, u32, oneshot::Sender<Answer>)>,
    pub(crate) next_message_id: u64,
    /// The status of the last BootNotification answered (None before the first).
    pub(crate) boot_status: Option<RegistrationStatus>,
    /// When set, only chargers whose URL path starts with this are served: a charger of
    /// another scenario that reaches this server (a reused port) is turned away.
    pub(crate) path_prefix: Option<String>,
    /// Whether the handshake answer names `ocpp1.6` (false only to test a charger's refusal).
    pub(crate) agree_subprotocol: bool,
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
            }),
            changed: Notify::new(),
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Appends a frame to the history, numbering and time-stamping it.
    pub(crate) fn record(&mut self, mut record: Record) {
        record.seq = self.history.records.len();
        record.at = Utc::now();
        self.history.records.push(record);
    }

    fn violation(&mut self, connection: u32, reason: String, frame: &str) {
        tracing::warn!(connection, %reason, frame, "charger sent an invalid frame");
        self.history.violations.push(Violation {
            at: Utc::now(),
            connection,
            reason,
            frame: frame.to_string(),
        });
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
                    connections.spawn(serve(stream, number, shared.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

// The handshake callback's error type is tungstenite's HTTP response: large, and not ours.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, connection: u32, shared: Arc<Shared>) {
    let mut charge_point_id = String::new();
    let mut handshake_error = None;
    let mut foreign = None;
    let (prefix, agree) = {
        let state = shared.lock();
        (state.path_prefix.clone(), state.agree_subprotocol)
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
        if agree {
            response.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static("ocpp1.6"),
            );
        }
        Ok(response)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback).await;
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
                .violation(connection, reason, "WebSocket handshake");
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
                        shared.lock().violation(connection, "binary frame (OCPP-J is text only)".into(), "<binary>");
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
                let replies = handle_text(&shared, connection, &text);
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

/// Records one text frame and returns the text to answer with, if any.
/// The texts to answer with, in order, go out in one write.
fn handle_text(shared: &Shared, connection: u32, text: &str) -> Vec<String> {
    handle_one(shared, connection, text).unwrap_or_default()
}

fn handle_one(shared: &Shared, connection: u32, text: &str) -> Option<Vec<String>> {
    let mut state = shared.lock();
    let frame = match Frame::parse(text) {
        Ok(frame) => frame,
        Err(e) => {
            state.record(Record {
                message_id: None,
                action: None,
                ignored: false,
                ..Record::new(
                    Direction::In,
                    connection,
                    Kind::Invalid,
                    Value::String(text.into()),
                )
            });
            state.violation(connection, e.to_string(), text);
            // Answer a recognisable call with the CallError OCPP-J asks for (J§4.2.3).
            let value: Value = serde_json::from_str(text).ok()?;
            let items = value.as_array()?;
            if items.first()?.as_u64()? != 2 {
                return None;
            }
            let id = items.get(1)?.as_str()?.to_string();
            return Some(vec![call_error(
                &mut state,
                connection,
                id,
                None,
                e.call_error_code(),
                &e.to_string(),
            )]);
        }
    };
    match frame {
        Frame::Call {
            id,
            action,
            payload,
        } => {
            let ignored = state.script.silent;
            state.record(Record {
                message_id: Some(id.clone()),
                action: Some(action.clone()),
                ignored,
                ..Record::new(Direction::In, connection, Kind::Call, payload.clone())
            });
            if ignored {
                return None;
            }
            if let Err((code, reason)) = validate::charge_point_request(&action, &payload) {
                state.violation(connection, format!("{action}: {reason}"), text);
                return Some(vec![call_error(
                    &mut state,
                    connection,
                    id,
                    Some(action),
                    code,
                    &reason,
                )]);
            }
            // §4.2: nothing before the first BootNotification, nothing while Rejected.
            if action != "BootNotification" {
                let problem = match &state.boot_status {
                    None => Some("before any BootNotification"),
                    Some(RegistrationStatus::Rejected) => {
                        Some("while its BootNotification stands Rejected")
                    }
                    Some(_) => None,
                };
                if let Some(when) = problem {
                    state.violation(
                        connection,
                        format!("{action} sent {when} (OCPP 1.6 §4.2)"),
                        text,
                    );
                }
            }
            if state.script.take_call_error(&action) {
                return Some(vec![call_error(
                    &mut state,
                    connection,
                    id,
                    Some(action),
                    "InternalError",
                    "injected by the rig",
                )]);
            }
            let mut texts = Vec::new();
            if let Some((request, payload)) = state.script.take_request_before_answer(&action) {
                texts.push(request_text(&mut state, connection, request, payload));
            }
            let answer = answer(&mut state, &action, &payload);
            state.record(Record {
                message_id: Some(id.clone()),
                action: Some(action),
                ignored: false,
                ..Record::new(Direction::Out, connection, Kind::Result, answer.clone())
            });
            texts.push(
                Frame::Result {
                    id,
                    payload: answer,
                }
                .to_text(),
            );
            Some(texts)
        }
        Frame::Result { id, payload } => {
            let pending = state.pending.remove(&id);
            let action = pending.as_ref().map(|p| p.0.clone());
            state.record(Record {
                message_id: Some(id.clone()),
                action: action.clone(),
                ignored: false,
                ..Record::new(Direction::In, connection, Kind::Result, payload.clone())
            });
            match (pending, action) {
                (Some((_, _, reply)), Some(action)) => {
                    if let Err(reason) = validate::charge_point_response(&action, &payload) {
                        state.violation(connection, format!("{action} response: {reason}"), text);
                    }
                    let _ = reply.send(Answer::Result(payload));
                }
                _ => state.violation(
                    connection,
                    format!("result for unknown message id {id:?}"),
                    text,
                ),
            }
            None
        }
        Frame::Error {
            id,
            code,
            description,
            details,
        } => {
            let pending = state.pending.remove(&id);
            let action = pending.as_ref().map(|p| p.0.clone());
            state.record(Record {
                message_id: Some(id.clone()),
                action,
                ignored: false,
                ..Record::new(
                    Direction::In,
                    connection,
                    Kind::Error,
                    json!({"code": code, "description": description, "details": details}),
                )
            });
            match pending {
                Some((_, _, reply)) => {
                    let _ = reply.send(Answer::Error { code, description });
                }
                None => state.violation(
                    connection,
                    format!("error for unknown message id {id:?}"),
                    text,
                ),
            }
            None
        }
    }
}

/// A central-system request nobody awaits: registered as pending so its answer is recorded.
fn request_text(state: &mut State, connection: u32, action: String, payload: Value) -> String {
    let id = format!("rig-{}", state.next_message_id);
    state.next_message_id += 1;
    let (reply, _) = oneshot::channel();
    state
        .pending
        .insert(id.clone(), (action.clone(), connection, reply));
    state.record(Record {
        message_id: Some(id.clone()),
        action: Some(action.clone()),
        ignored: false,
        ..Record::new(Direction::Out, connection, Kind::Call, payload.clone())
    });
    Frame::Call {
        id,
        action,
        payload,
    }
    .to_text()
}

fn call_error(
    state: &mut State,
    connection: u32,
    id: String,
    action: Option<String>,
    code: &str,
    description: &str,
) -> String {
    let frame = Frame::Error {
        id: id.clone(),
        code: code.into(),
        description: description.into(),
        details: json!({}),
    };
    state.record(Record {
        message_id: Some(id),
        action,
        ignored: false,
        ..Record::new(
            Direction::Out,
            connection,
            Kind::Error,
            json!({"code": code, "description": description, "details": {}}),
        )
    });
    frame.to_text()
}

/// The scripted confirmation for a valid charger request.
fn answer(state: &mut State, action: &str, payload: &Value) -> Value {
    let now = Utc::now();
    let id_tag = |p: &Value| p.get("idTag").and_then(Value::as_str).map(str::to_string);
    let typed = match action {
        "BootNotification" => {
            let status = state.script.boot_status.clone();
            state.boot_status = Some(status.clone());
            let interval = if status == RegistrationStatus::Accepted {
                state.script.heartbeat_interval_s
            } else {
                state.script.boot_retry_interval_s
            };
            serde_json::to_value(m::boot_notification::BootNotificationResponse {
                current_time: now,
                interval,
                status,
            })
        }
        "Heartbeat" => serde_json::to_value(m::heart_beat::HeartbeatResponse { current_time: now }),
        "Authorize" => serde_json::to_value(m::authorize::AuthorizeResponse {
            id_tag_info: state
                .script
                .id_tag_info(&id_tag(payload).unwrap_or_default()),
        }),
        "StartTransaction" => {
            let mut info = state
                .script
                .id_tag_info(&id_tag(payload).unwrap_or_default());
            if let Some(status) = &state.script.start_status {
                info.status = status.clone();
            }
            let transaction_id = state.next_transaction_id;
            state.next_transaction_id += 1;
            serde_json::to_value(m::start_transaction::StartTransactionResponse {
                id_tag_info: info,
                transaction_id,
            })
        }
        "StopTransaction" => serde_json::to_value(m::stop_transaction::StopTransactionResponse {
            id_tag_info: id_tag(payload).map(|t| state.script.id_tag_info(&t)),
        }),
        "DataTransfer" => Ok(json!({"status": "UnknownVendorId"})),
        _ => Ok(json!({})),
    };
    typed.unwrap_or_else(|_| json!({}))
}
