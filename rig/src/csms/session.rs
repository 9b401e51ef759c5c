//! The test central system's session logic, sans I/O: a text frame in (with the time it
//! arrived), the history updated and the answers out. The server tasks (`server.rs`) only move
//! bytes and take the lock; this is unit-tested without sockets.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_ocpp::v1_6::messages as m;
use rust_ocpp::v1_6::types::RegistrationStatus;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::frame::OcppFrame;
use super::history::{Direction, History, Kind, Record, Violation};
use super::script::Script;
use super::validate;

/// The answer the charger gave to a central-system request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Result(Value),
    Error { code: String, description: String },
}

/// The central system's state: script, history, pending requests, registration.
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
    /// A reboot is coming (power cut, accepted Reset): the next connection is a new boot.
    pub(crate) reboot_expected: bool,
    /// The current boot began on a new connection after a reboot (for the violation's words).
    pub(crate) rebooted: bool,
    /// Messages TriggerMessage asked for since the last BootNotification: allowed while Pending.
    pub(crate) triggered: Vec<String>,
    /// The security profile connections must meet.
    pub(crate) requirement: super::security::Requirement,
}

impl State {
    /// A charger connected. After a reboot the registration starts over: §4.2 is checked for
    /// every boot, not once per run.
    pub(crate) fn on_connected(&mut self) {
        if std::mem::take(&mut self.reboot_expected) {
            self.boot_status = None;
            self.rebooted = true;
            self.triggered.clear();
        }
    }

    /// A central-system request goes out: a TriggerMessage allows what it asks for while
    /// Pending.
    pub(crate) fn note_request(&mut self, action: &str, payload: &Value) {
        if action == "TriggerMessage" {
            if let Some(m) = payload.get("requestedMessage").and_then(Value::as_str) {
                self.triggered.push(m.to_string());
            }
        }
    }

    /// Appends a frame to the history, numbering and time-stamping it.
    pub(crate) fn record(&mut self, now: DateTime<Utc>, mut record: Record) {
        record.seq = self.history.records.len();
        record.at = now;
        self.history.records.push(record);
    }

    pub(crate) fn violation(
        &mut self,
        now: DateTime<Utc>,
        connection: u32,
        reason: String,
        frame: &str,
    ) {
        tracing::warn!(connection, %reason, frame, "charger sent an invalid frame");
        self.history.violations.push(Violation {
            at: now,
            connection,
            reason,
            frame: frame.to_string(),
        });
    }
}

impl State {
    /// One text frame from the charger on `connection` at `now`: recorded (with any
    /// violation), and the texts to answer with, in order (they go out in one write).
    pub(crate) fn on_text(
        &mut self,
        connection: u32,
        text: &str,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        on_text(self, connection, text, now).unwrap_or_default()
    }
}

fn on_text(
    state: &mut State,
    connection: u32,
    text: &str,
    now: DateTime<Utc>,
) -> Option<Vec<String>> {
    let frame = match OcppFrame::parse(text) {
        Ok(frame) => frame,
        Err(e) => {
            state.record(
                now,
                Record {
                    message_id: None,
                    action: None,
                    ignored: false,
                    ..Record::new(
                        Direction::In,
                        connection,
                        Kind::Invalid,
                        Value::String(text.into()),
                    )
                },
            );
            state.violation(now, connection, e.to_string(), text);
            // Answer a recognisable call with the CallError OCPP-J asks for (J§4.2.3).
            let value: Value = serde_json::from_str(text).ok()?;
            let items = value.as_array()?;
            if items.first()?.as_u64()? != 2 {
                return None;
            }
            let id = items.get(1)?.as_str()?.to_string();
            return Some(vec![call_error(
                state,
                now,
                connection,
                id,
                None,
                e.call_error_code(),
                &e.to_string(),
            )]);
        }
    };
    match frame {
        OcppFrame::Call {
            id,
            action,
            payload,
        } => {
            let ignored = state.script.silent;
            state.record(
                now,
                Record {
                    message_id: Some(id.clone()),
                    action: Some(action.clone()),
                    ignored,
                    ..Record::new(Direction::In, connection, Kind::Call, payload.clone())
                },
            );
            if ignored {
                return None;
            }
            if let Err((code, reason)) = validate::charge_point_request(&action, &payload) {
                state.violation(now, connection, format!("{action}: {reason}"), text);
                return Some(vec![call_error(
                    state,
                    now,
                    connection,
                    id,
                    Some(action),
                    code,
                    &reason,
                )]);
            }
            // §4.2, for every boot: nothing before its BootNotification, nothing while
            // Rejected, and while Pending only what TriggerMessage asked for.
            if action != "BootNotification" {
                let problem = match &state.boot_status {
                    None if state.rebooted => {
                        Some("after a reboot, before the BootNotification of the new boot")
                    }
                    None => Some("before any BootNotification"),
                    Some(RegistrationStatus::Rejected) => {
                        Some("while its BootNotification stands Rejected")
                    }
                    Some(RegistrationStatus::Pending) if !state.triggered.contains(&action) => {
                        Some("while its BootNotification stands Pending, not asked for by TriggerMessage")
                    }
                    Some(_) => None,
                };
                if let Some(when) = problem {
                    state.violation(
                        now,
                        connection,
                        format!("{action} sent {when} (OCPP 1.6 §4.2)"),
                        text,
                    );
                }
            }
            if state.script.take_call_error(&action) {
                return Some(vec![call_error(
                    state,
                    now,
                    connection,
                    id,
                    Some(action),
                    "InternalError",
                    "injected by the rig",
                )]);
            }
            let mut texts = Vec::new();
            if let Some((request, payload)) = state.script.take_request_before_answer(&action) {
                texts.push(request_text(state, now, connection, request, payload));
            }
            let answer = answer(state, now, &action, &payload);
            state.record(
                now,
                Record {
                    message_id: Some(id.clone()),
                    action: Some(action),
                    ignored: false,
                    ..Record::new(Direction::Out, connection, Kind::Result, answer.clone())
                },
            );
            texts.push(
                OcppFrame::Result {
                    id,
                    payload: answer,
                }
                .to_text(),
            );
            Some(texts)
        }
        OcppFrame::Result { id, payload } => {
            let pending = state.pending.remove(&id);
            let action = pending.as_ref().map(|p| p.0.clone());
            state.record(
                now,
                Record {
                    message_id: Some(id.clone()),
                    action: action.clone(),
                    ignored: false,
                    ..Record::new(Direction::In, connection, Kind::Result, payload.clone())
                },
            );
            match (pending, action) {
                (Some((_, _, reply)), Some(action)) => {
                    if action == "Reset" && payload.get("status") == Some(&json!("Accepted")) {
                        // The charger reboots: its next connection is a new boot.
                        state.reboot_expected = true;
                    }
                    if let Err(reason) = validate::charge_point_response(&action, &payload) {
                        state.violation(
                            now,
                            connection,
                            format!("{action} response: {reason}"),
                            text,
                        );
                    }
                    let _ = reply.send(Answer::Result(payload));
                }
                _ => state.violation(
                    now,
                    connection,
                    format!("result for unknown message id {id:?}"),
                    text,
                ),
            }
            None
        }
        OcppFrame::Error {
            id,
            code,
            description,
            details,
        } => {
            let pending = state.pending.remove(&id);
            let action = pending.as_ref().map(|p| p.0.clone());
            state.record(
                now,
                Record {
                    message_id: Some(id.clone()),
                    action,
                    ignored: false,
                    ..Record::new(
                        Direction::In,
                        connection,
                        Kind::Error,
                        json!({"code": code, "description": description, "details": details}),
                    )
                },
            );
            match pending {
                Some((_, _, reply)) => {
                    let _ = reply.send(Answer::Error { code, description });
                }
                None => state.violation(
                    now,
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
fn request_text(
    state: &mut State,
    now: DateTime<Utc>,
    connection: u32,
    action: String,
    payload: Value,
) -> String {
    state.note_request(&action, &payload);
    let id = format!("rig-{}", state.next_message_id);
    state.next_message_id += 1;
    let (reply, _) = oneshot::channel();
    state
        .pending
        .insert(id.clone(), (action.clone(), connection, reply));
    state.record(
        now,
        Record {
            message_id: Some(id.clone()),
            action: Some(action.clone()),
            ignored: false,
            ..Record::new(Direction::Out, connection, Kind::Call, payload.clone())
        },
    );
    OcppFrame::Call {
        id,
        action,
        payload,
    }
    .to_text()
}

fn call_error(
    state: &mut State,
    now: DateTime<Utc>,
    connection: u32,
    id: String,
    action: Option<String>,
    code: &str,
    description: &str,
) -> String {
    let frame = OcppFrame::Error {
        id: id.clone(),
        code: code.into(),
        description: description.into(),
        details: json!({}),
    };
    state.record(
        now,
        Record {
            message_id: Some(id),
            action,
            ignored: false,
            ..Record::new(
                Direction::Out,
                connection,
                Kind::Error,
                json!({"code": code, "description": description, "details": {}}),
            )
        },
    );
    frame.to_text()
}

/// The scripted confirmation for a valid charger request.
fn answer(state: &mut State, now: DateTime<Utc>, action: &str, payload: &Value) -> Value {
    let id_tag = |p: &Value| p.get("idTag").and_then(Value::as_str).map(str::to_string);
    let typed = match action {
        "BootNotification" => {
            // A boot on the same connection (no new one yet): nothing left to expect.
            state.reboot_expected = false;
            state.triggered.clear();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csms::server::Shared;

    fn at(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + i64::from(s), 0).unwrap()
    }

    fn boot(state: &mut State) -> Vec<String> {
        state.on_text(
            1,
            r#"[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]"#,
            at(0),
        )
    }

    #[test]
    fn a_boot_notification_is_answered_accepted_and_recorded_at_its_time() {
        let shared = Shared::new();
        let mut state = shared.lock();
        let out = boot(&mut state);
        assert_eq!(out.len(), 1);
        let answer: Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(answer[0], 3);
        assert_eq!(answer[1], "b1");
        assert_eq!(answer[2]["status"], "Accepted");
        let h = &state.history;
        assert_eq!(h.records.len(), 2, "the request and the answer");
        assert!(h.records.iter().all(|r| r.at == at(0)));
        assert!(h.violations.is_empty(), "{:?}", h.violations);
    }

    #[test]
    fn a_request_before_boot_is_a_violation_and_is_still_answered() {
        let shared = Shared::new();
        let mut state = shared.lock();
        let out = state.on_text(1, r#"[2,"h1","Heartbeat",{}]"#, at(1));
        assert_eq!(out.len(), 1);
        assert!(state.history.violations[0]
            .reason
            .contains("before any BootNotification"));
    }

    #[test]
    fn nothing_before_boot_notification_is_checked_for_every_boot() {
        let shared = Shared::new();
        let mut state = shared.lock();
        state.on_connected();
        boot(&mut state);
        state.on_text(1, r#"[2,"h1","Heartbeat",{}]"#, at(1));
        assert!(state.history.violations.is_empty());
        // A reconnect without a reboot needs no new BootNotification.
        state.on_connected();
        state.on_text(2, r#"[2,"h2","Heartbeat",{}]"#, at(2));
        assert!(state.history.violations.is_empty());
        // After a power cut the new connection is a new boot.
        state.reboot_expected = true;
        state.on_connected();
        state.on_text(3, r#"[2,"h3","Heartbeat",{}]"#, at(3));
        assert_eq!(state.history.violations.len(), 1);
        assert!(
            state.history.violations[0]
                .reason
                .contains("after a reboot, before the BootNotification of the new boot"),
            "{:?}",
            state.history.violations
        );
        boot(&mut state);
        state.on_text(3, r#"[2,"h4","Heartbeat",{}]"#, at(4));
        assert_eq!(state.history.violations.len(), 1);
    }

    #[test]
    fn an_accepted_reset_makes_the_next_connection_a_new_boot() {
        let shared = Shared::new();
        let mut state = shared.lock();
        boot(&mut state);
        let reset = request_text(
            &mut state,
            at(1),
            1,
            "Reset".into(),
            json!({"type": "Soft"}),
        );
        let id = serde_json::from_str::<Value>(&reset).unwrap()[1]
            .as_str()
            .unwrap()
            .to_string();
        state.on_text(1, &format!(r#"[3,"{id}",{{"status":"Accepted"}}]"#), at(2));
        state.on_connected();
        state.on_text(2, r#"[2,"h1","Heartbeat",{}]"#, at(3));
        assert_eq!(
            state.history.violations.len(),
            1,
            "{:?}",
            state.history.violations
        );
    }

    #[test]
    fn while_pending_only_what_trigger_message_asked_for_is_allowed() {
        let shared = Shared::new();
        let mut state = shared.lock();
        state.script.boot_status = RegistrationStatus::Pending;
        boot(&mut state);
        let status = r#"[2,"s1","StatusNotification",{"connectorId":0,"errorCode":"NoError","status":"Available"}]"#;
        state.on_text(1, status, at(1));
        assert_eq!(state.history.violations.len(), 1);
        assert!(state.history.violations[0].reason.contains("Pending"));
        request_text(
            &mut state,
            at(2),
            1,
            "TriggerMessage".into(),
            json!({"requestedMessage": "StatusNotification"}),
        );
        state.on_text(1, &status.replace("s1", "s2"), at(3));
        assert_eq!(
            state.history.violations.len(),
            1,
            "a triggered message is allowed"
        );
    }

    #[test]
    fn a_malformed_call_gets_a_call_error_with_its_id() {
        let shared = Shared::new();
        let mut state = shared.lock();
        boot(&mut state);
        let out = state.on_text(1, r#"[2,"x1","Heartbeat"]"#, at(2));
        let answer: Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(
            (answer[0].as_u64(), answer[1].as_str()),
            (Some(4), Some("x1"))
        );
        assert_eq!(state.history.violations.len(), 1);
    }

    #[test]
    fn start_transactions_get_increasing_ids_and_a_scripted_request_goes_first() {
        let shared = Shared::new();
        let mut state = shared.lock();
        boot(&mut state);
        state
            .script
            .request_before_answer("StartTransaction", "Reset", json!({"type": "Hard"}));
        let start = r#"[2,"s1","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,"timestamp":"2026-01-01T00:00:00Z"}]"#;
        let out = state.on_text(1, start, at(3));
        assert_eq!(out.len(), 2, "{out:?}");
        let reset: Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(
            (reset[0].as_u64(), reset[2].as_str()),
            (Some(2), Some("Reset"))
        );
        let conf: Value = serde_json::from_str(&out[1]).unwrap();
        assert_eq!(conf[2]["transactionId"], 1);
        // The charger's answer to the Reset is matched to it, not a violation.
        let id = reset[1].as_str().unwrap();
        state.on_text(1, &format!(r#"[3,"{id}",{{"status":"Accepted"}}]"#), at(4));
        assert!(
            state.history.violations.is_empty(),
            "{:?}",
            state.history.violations
        );
        let out = state.on_text(1, &start.replace("s1", "s2"), at(5));
        let conf: Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(conf[2]["transactionId"], 2);
    }

    #[test]
    fn a_result_for_an_unknown_id_is_a_violation_and_gets_no_answer() {
        let shared = Shared::new();
        let mut state = shared.lock();
        boot(&mut state);
        assert!(state.on_text(1, r#"[3,"nobody",{}]"#, at(6)).is_empty());
        assert!(state.history.violations[0]
            .reason
            .contains("unknown message id"));
    }
}
