//! Requests from the central system: decoded ([`CsmsRequest`]), answered with a CALLRESULT or
//! CALLERROR, then a typed [`FollowUp`] applied. Anything that changes persistent state is
//! persisted before the answer goes out.

use rust_ocpp::v1_6::messages::change_availability::{
    ChangeAvailabilityRequest, ChangeAvailabilityResponse,
};
use rust_ocpp::v1_6::messages::change_configuration::ChangeConfigurationResponse;
use rust_ocpp::v1_6::messages::clear_cache::ClearCacheResponse;
use rust_ocpp::v1_6::messages::data_transfer::DataTransferResponse;
use rust_ocpp::v1_6::messages::get_configuration::GetConfigurationResponse;
use rust_ocpp::v1_6::messages::get_local_list_version::GetLocalListVersionResponse;
use rust_ocpp::v1_6::messages::meter_values::MeterValuesRequest;
use rust_ocpp::v1_6::messages::remote_start_transaction::RemoteStartTransactionResponse;
use rust_ocpp::v1_6::messages::remote_stop_transaction::RemoteStopTransactionResponse;
use rust_ocpp::v1_6::messages::reset::ResetResponse;
use rust_ocpp::v1_6::messages::send_local_list::{SendLocalListRequest, SendLocalListResponse};
use rust_ocpp::v1_6::messages::trigger_message::{TriggerMessageRequest, TriggerMessageResponse};
use rust_ocpp::v1_6::messages::unlock_connector::UnlockConnectorResponse;
use rust_ocpp::v1_6::types::{
    AvailabilityStatus, AvailabilityType, ClearCacheStatus, ConfigurationStatus,
    DataTransferStatus, KeyValue, MessageTrigger, ReadingContext, Reason, RemoteStartStopStatus,
    ResetResponseStatus, TriggerMessageStatus, UnlockStatus, UpdateStatus, UpdateType,
};
use serde::Serialize;
use serde_json::Value;

use super::csms_request::CsmsRequest;
use super::link::{CallKind, Registration, WaitingCall};
use super::start_gate::StartStep;
use super::{keys, ts, Charger};
use crate::auth::TagRecord;
use crate::config::{self, ConfigError, Key};
use crate::io::Output;
use crate::ocppj;
use crate::store::{StoreOp, Table};

/// What to do once the answer to a request is sent (the answer goes out first, so the central
/// system learns e.g. that a Reset is accepted before the StopTransaction it causes).
#[derive(Debug)]
enum FollowUp {
    Nothing,
    /// RemoteStartTransaction accepted for this tag.
    RemoteStart(String),
    /// Stop the running transaction (RemoteStopTransaction accepted).
    Stop(Reason),
    Reset {
        hard: bool,
    },
    /// UnlockConnector: stop, release a held cable, unlock.
    Unlock,
    /// TriggerMessage accepted.
    Trigger(Triggered),
}

/// A message TriggerMessage asked for, with its connector where that matters.
#[derive(Debug)]
enum Triggered {
    Boot,
    Heartbeat,
    /// `None`: connector 0 and connector 1.
    Status(Option<u32>),
    MeterValues(Option<u32>),
}

fn to_json<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Charger {
    /// One CALL: decoded into a [`CsmsRequest`] (or refused with a CallError), answered, then
    /// its follow-up applied.
    pub(super) fn on_call(&mut self, id: &str, action: &str, payload: &Value) {
        match CsmsRequest::from_frame(action, payload) {
            Ok(req) => {
                let (answer, follow_up) = self.answer(req);
                self.emit(Output::Send(ocppj::call_result(id, &answer)));
                self.apply(follow_up);
            }
            Err((code, why)) => {
                tracing::warn!(%id, action, code = code.as_str(), %why, "refusing request");
                self.emit(Output::Send(ocppj::call_error(id, code, &why)));
            }
        }
    }

    /// Answers a decoded request. What changes persistent state is done here, so it is
    /// persisted before the answer goes out; what must follow the answer is returned.
    fn answer(&mut self, req: CsmsRequest) -> (Value, FollowUp) {
        let nothing = FollowUp::Nothing;
        match req {
            CsmsRequest::ChangeConfiguration(req) => {
                let status = self.change_configuration(&req.key, &req.value);
                (to_json(ChangeConfigurationResponse { status }), nothing)
            }
            CsmsRequest::GetConfiguration(keys) => (self.get_configuration(keys), nothing),
            CsmsRequest::ClearCache => {
                let status = if self.config.flag(Key::AuthorizationCacheEnabled) {
                    let ops = self.cache.clear();
                    self.persist(ops);
                    ClearCacheStatus::Accepted
                } else {
                    ClearCacheStatus::Rejected
                };
                (to_json(ClearCacheResponse { status }), nothing)
            }
            CsmsRequest::GetLocalListVersion => {
                let list_version = if self.config.flag(Key::LocalAuthListEnabled) {
                    self.list.reported_version()
                } else {
                    -1
                };
                (
                    to_json(GetLocalListVersionResponse { list_version }),
                    nothing,
                )
            }
            CsmsRequest::SendLocalList(req) => {
                let status = self.send_local_list(req);
                (to_json(SendLocalListResponse { status }), nothing)
            }
            CsmsRequest::RemoteStartTransaction(req) => {
                let ok = req.connector_id.is_none_or(|c| c == 1)
                    && self.may_start(StartStep::RemoteStart).is_ok();
                if ok {
                    (
                        to_json(RemoteStartTransactionResponse {
                            status: RemoteStartStopStatus::Accepted,
                        }),
                        FollowUp::RemoteStart(req.id_tag),
                    )
                } else {
                    (
                        to_json(RemoteStartTransactionResponse {
                            status: RemoteStartStopStatus::Rejected,
                        }),
                        nothing,
                    )
                }
            }
            CsmsRequest::RemoteStopTransaction(req) => {
                let ok = self.link.registration == Registration::Accepted
                    && self.session.tx.as_ref().is_some_and(|t| {
                        self.outbox.tx_ids.get(&t.local_id) == Some(&req.transaction_id)
                    });
                let (status, follow_up) = if ok {
                    (
                        RemoteStartStopStatus::Accepted,
                        FollowUp::Stop(Reason::Remote),
                    )
                } else {
                    (RemoteStartStopStatus::Rejected, nothing)
                };
                (to_json(RemoteStopTransactionResponse { status }), follow_up)
            }
            CsmsRequest::Reset { hard } => (
                to_json(ResetResponse {
                    status: ResetResponseStatus::Accepted,
                }),
                FollowUp::Reset { hard },
            ),
            CsmsRequest::TriggerMessage(req) => {
                let (status, follow_up) = trigger(req);
                (to_json(TriggerMessageResponse { status }), follow_up)
            }
            CsmsRequest::ChangeAvailability(req) => {
                let status = self.change_availability(req);
                (to_json(ChangeAvailabilityResponse { status }), nothing)
            }
            CsmsRequest::UnlockConnector(req) => {
                if req.connector_id != 1 {
                    (
                        to_json(UnlockConnectorResponse {
                            status: UnlockStatus::NotSupported,
                        }),
                        nothing,
                    )
                } else {
                    (
                        to_json(UnlockConnectorResponse {
                            status: UnlockStatus::Unlocked,
                        }),
                        FollowUp::Unlock,
                    )
                }
            }
            CsmsRequest::DataTransfer => (
                to_json(DataTransferResponse {
                    status: DataTransferStatus::UnknownVendorId,
                    data: None,
                }),
                nothing,
            ),
        }
    }

    /// Carries out what follows an answer.
    fn apply(&mut self, follow_up: FollowUp) {
        match follow_up {
            FollowUp::Nothing => {}
            FollowUp::RemoteStart(tag) => self.remote_start(&tag),
            FollowUp::Stop(reason) => self.stop_transaction(reason, None),
            FollowUp::Reset { hard } => self.reset(hard),
            FollowUp::Unlock => {
                self.stop_transaction(Reason::UnlockCommand, None);
                self.release_hold();
                self.update_hardware();
            }
            FollowUp::Trigger(Triggered::Boot) => self.trigger_boot(),
            FollowUp::Trigger(Triggered::Heartbeat) => self.queue_heartbeat(true),
            FollowUp::Trigger(Triggered::Status(Some(n))) => self.queue_status(n, true),
            FollowUp::Trigger(Triggered::Status(None)) => {
                self.queue_status(0, true);
                self.queue_status(1, true);
            }
            FollowUp::Trigger(Triggered::MeterValues(connector)) => {
                self.queue_triggered_meter_values(connector)
            }
        }
    }

    /// Why a SecurityProfile change cannot be made (field.md "Connection security"): never
    /// lower, the transport must match, and what the new profile needs must be there, so the
    /// charger can never lock itself out of the central system.
    fn security_profile_refusal(&self, new: u64) -> Option<String> {
        let current = self.config.uint(Key::SecurityProfile);
        if new < current {
            return Some(format!("SecurityProfile {new} would lower {current}"));
        }
        if self.settings.tls != (new >= 2) {
            let scheme = if self.settings.tls { "wss://" } else { "ws://" };
            return Some(format!(
                "SecurityProfile {new} does not match the {scheme} central-system URL"
            ));
        }
        if new == 3 && !self.settings.client_certificate {
            return Some(
                "SecurityProfile 3 needs a client certificate, none is provisioned".into(),
            );
        }
        if matches!(new, 1 | 2) && self.config.authorization_key().is_none() {
            return Some(format!(
                "SecurityProfile {new} needs an AuthorizationKey, none is set"
            ));
        }
        None
    }

    fn change_configuration(&mut self, key: &str, value: &str) -> ConfigurationStatus {
        let checked = self.config.check_change(key, value).and_then(|(def, v)| {
            let refusal = (def.key == Key::SecurityProfile)
                .then(|| self.security_profile_refusal(v.parse().unwrap_or(0)))
                .flatten();
            match refusal {
                Some(reason) => Err(ConfigError::InvalidValue {
                    key: def.name.to_string(),
                    value: v,
                    reason,
                }),
                None => Ok((def, v)),
            }
        });
        match checked {
            Err(ConfigError::UnknownKey { .. }) => ConfigurationStatus::NotSupported,
            Err(e) => {
                tracing::warn!(error = %e, "ChangeConfiguration rejected");
                ConfigurationStatus::Rejected
            }
            Ok((def, v)) => {
                let shown = if def.write_only { config::REDACTED } else { &v };
                tracing::info!(key = def.name, value = %shown, "configuration changed");
                self.config.set(def, v.clone());
                self.persist(vec![StoreOp::Put {
                    table: Table::Config,
                    key: def.name.into(),
                    value: Value::from(v),
                }]);
                if def.key == Key::AuthorizationCacheMaxLength {
                    let n = super::cache_capacity(&self.config, &self.settings);
                    self.cache.set_capacity(n);
                }
                if def.key == Key::MeterValueSampleInterval && self.session.tx.is_some() {
                    let i = self.config.uint(Key::MeterValueSampleInterval);
                    self.session.restart_sampling(i, self.now.mono_ms);
                }
                if def.reboot_required {
                    ConfigurationStatus::RebootRequired
                } else {
                    ConfigurationStatus::Accepted
                }
            }
        }
    }

    fn get_configuration(&self, keys: Vec<String>) -> Value {
        let kv = |def: &config::KeyDef| KeyValue {
            key: def.name.to_string(),
            readonly: def.readonly,
            // A write-only key is listed (the central system can see it exists and may be
            // set) but never with its value (OCPP-J 1.6 §7, errata 3.10).
            value: (!def.write_only)
                .then(|| self.config.get(def.name).map(str::to_string))
                .flatten(),
        };
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        if keys.is_empty() {
            known.extend(config::KEYS.iter().map(kv));
        } else {
            for k in keys {
                match config::lookup(&k) {
                    Some(def) => known.push(kv(def)),
                    None => unknown.push(k),
                }
            }
        }
        to_json(GetConfigurationResponse {
            configuration_key: (!known.is_empty()).then_some(known),
            unknown_key: (!unknown.is_empty()).then_some(unknown),
        })
    }

    /// SendLocalList (already checked for id tag lengths by the decode).
    fn send_local_list(&mut self, req: SendLocalListRequest) -> UpdateStatus {
        let entries = req.local_authorization_list.unwrap_or_default();
        if !self.config.flag(Key::LocalAuthListEnabled) {
            return UpdateStatus::NotSupported;
        }
        if entries.len() > config::SEND_LOCAL_LIST_MAX_LENGTH {
            return UpdateStatus::Failed;
        }
        // The list rules: §6.41 "All idTags in the localAuthorizationList MUST be unique" (id
        // tags compare case-insensitively, §7.28) and §7.1 idTagInfo "Required when UpdateType
        // is Full". Such a request is schema-valid JSON (the schema has neither rule), so it is
        // not an OCPP-J payload error: the answer is SendLocalList.conf Failed ("Failed to
        // update the Local Authorization List", §7.47), and the list and its version stay as
        // they were, so GetLocalListVersion keeps telling the truth.
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = entries
            .iter()
            .find(|e| !seen.insert(e.id_tag.to_ascii_uppercase()))
        {
            tracing::warn!(id_tag = %dup.id_tag, "SendLocalList with a duplicate idTag: Failed");
            return UpdateStatus::Failed;
        }
        if req.update_type == UpdateType::Full {
            if let Some(e) = entries.iter().find(|e| e.id_tag_info.is_none()) {
                tracing::warn!(id_tag = %e.id_tag, "SendLocalList Full entry without idTagInfo: Failed");
                return UpdateStatus::Failed;
            }
        }
        let ops = match req.update_type {
            UpdateType::Full => {
                let records: Vec<TagRecord> = entries
                    .iter()
                    .filter_map(|e| {
                        e.id_tag_info
                            .as_ref()
                            .map(|i| TagRecord::from_info(&e.id_tag, i, 0))
                    })
                    .collect();
                if records.len() > config::LOCAL_AUTH_LIST_MAX_LENGTH {
                    return UpdateStatus::Failed;
                }
                self.list.replace(req.list_version, records)
            }
            UpdateType::Differential => {
                if req.list_version <= self.list.version {
                    return UpdateStatus::VersionMismatch;
                }
                let changes: Vec<(String, Option<TagRecord>)> = entries
                    .iter()
                    .map(|e| {
                        (
                            e.id_tag.clone(),
                            e.id_tag_info
                                .as_ref()
                                .map(|i| TagRecord::from_info(&e.id_tag, i, 0)),
                        )
                    })
                    .collect();
                if self.list.size_after(&changes) > config::LOCAL_AUTH_LIST_MAX_LENGTH {
                    return UpdateStatus::Failed;
                }
                self.list.apply_diff(req.list_version, changes)
            }
        };
        tracing::info!(
            version = req.list_version,
            size = self.list.len(),
            "local list updated"
        );
        self.persist(ops);
        UpdateStatus::Accepted
    }

    /// RemoteStartTransaction accepted: authorize (or ask first, per AuthorizeRemoteTxRequests).
    fn remote_start(&mut self, tag: &str) {
        if self.config.flag(Key::AuthorizeRemoteTxRequests) {
            self.present_tag(tag);
        } else {
            self.grant(tag, None);
        }
    }

    /// A triggered MeterValues. Connector 0 is the charge point's main meter (§6.31): our one
    /// meter measures the whole charge point, so it reports the same reading there, outside
    /// any transaction; otherwise connector 1, with the running transaction's id.
    fn queue_triggered_meter_values(&mut self, connector: Option<u32>) {
        let main_meter = connector == Some(0);
        let mv = self.meter_value(
            ts(self.now.utc),
            ReadingContext::Trigger,
            Key::MeterValuesSampledData,
        );
        let transaction_id = self
            .session
            .tx
            .as_ref()
            .filter(|_| !main_meter)
            .and_then(|t| self.outbox.tx_ids.get(&t.local_id).copied());
        let req = MeterValuesRequest {
            connector_id: if main_meter { 0 } else { 1 },
            transaction_id,
            meter_value: vec![mv],
        };
        self.link.waiting.push_back(WaitingCall {
            payload: to_json(req),
            kind: CallKind::TriggeredMeter,
            triggered: true,
        });
    }

    fn change_availability(&mut self, req: ChangeAvailabilityRequest) -> AvailabilityStatus {
        if req.connector_id > 1 {
            return AvailabilityStatus::Rejected;
        }
        let operative = matches!(req.kind, AvailabilityType::Operative);
        if operative {
            self.connector.unavailable_scheduled = false;
            self.connector.available = true;
            self.put_state(keys::AVAILABLE, Value::from(true));
            AvailabilityStatus::Accepted
        } else if self.session.tx.is_some() {
            // §5.2: Scheduled, applied when the transaction ends. Persisted now: a power cut
            // ends the transaction (PowerLoss) and the charger boots Unavailable (TC_034).
            self.connector.unavailable_scheduled = true;
            self.put_state(keys::AVAILABLE, Value::from(false));
            AvailabilityStatus::Scheduled
        } else {
            self.connector.available = false;
            self.session.authorized = None;
            self.put_state(keys::AVAILABLE, Value::from(false));
            AvailabilityStatus::Accepted
        }
    }
}

/// TriggerMessage: which message to send (§5.17). Connectors beyond 1 do not exist;
/// diagnostics and firmware status belong to FirmwareManagement, which we do not implement.
fn trigger(req: TriggerMessageRequest) -> (TriggerMessageStatus, FollowUp) {
    let connector = req.connector_id;
    if connector.is_some_and(|c| c > 1) {
        return (TriggerMessageStatus::Rejected, FollowUp::Nothing);
    }
    let what = match req.requested_message {
        MessageTrigger::BootNotification => Triggered::Boot,
        MessageTrigger::Heartbeat => Triggered::Heartbeat,
        MessageTrigger::StatusNotification => Triggered::Status(connector),
        MessageTrigger::MeterValues => Triggered::MeterValues(connector),
        MessageTrigger::DiagnosticsStatusNotification
        | MessageTrigger::FirmwareStatusNotification => {
            return (TriggerMessageStatus::NotImplemented, FollowUp::Nothing);
        }
    };
    (TriggerMessageStatus::Accepted, FollowUp::Trigger(what))
}
