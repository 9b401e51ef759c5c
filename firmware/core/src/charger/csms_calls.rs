//! Requests from the central system: decoded strictly, answered with a CALLRESULT or CALLERROR.
//! Anything that changes persistent state is persisted before the answer goes out.

use rust_ocpp::v1_6::messages::change_availability::{
    ChangeAvailabilityRequest, ChangeAvailabilityResponse,
};
use rust_ocpp::v1_6::messages::change_configuration::{
    ChangeConfigurationRequest, ChangeConfigurationResponse,
};
use rust_ocpp::v1_6::messages::clear_cache::ClearCacheResponse;
use rust_ocpp::v1_6::messages::data_transfer::{DataTransferRequest, DataTransferResponse};
use rust_ocpp::v1_6::messages::get_configuration::{
    GetConfigurationRequest, GetConfigurationResponse,
};
use rust_ocpp::v1_6::messages::get_local_list_version::GetLocalListVersionResponse;
use rust_ocpp::v1_6::messages::meter_values::MeterValuesRequest;
use rust_ocpp::v1_6::messages::remote_start_transaction::{
    RemoteStartTransactionRequest, RemoteStartTransactionResponse,
};
use rust_ocpp::v1_6::messages::remote_stop_transaction::{
    RemoteStopTransactionRequest, RemoteStopTransactionResponse,
};
use rust_ocpp::v1_6::messages::reset::{ResetRequest, ResetResponse};
use rust_ocpp::v1_6::messages::send_local_list::{SendLocalListRequest, SendLocalListResponse};
use rust_ocpp::v1_6::messages::trigger_message::{TriggerMessageRequest, TriggerMessageResponse};
use rust_ocpp::v1_6::messages::unlock_connector::{
    UnlockConnectorRequest, UnlockConnectorResponse,
};
use rust_ocpp::v1_6::types::{
    AvailabilityStatus, AvailabilityType, ClearCacheStatus, ConfigurationStatus,
    DataTransferStatus, KeyValue, MessageTrigger, ReadingContext, RemoteStartStopStatus,
    ResetRequestStatus, ResetResponseStatus, TriggerMessageStatus, UnlockStatus, UpdateStatus,
    UpdateType,
};
use serde::Serialize;
use serde_json::Value;

use super::{keys, ts, CallKind, Charger, PendingReset, Registration, WaitingCall};
use crate::auth::TagRecord;
use crate::config::{self, ConfigError};
use crate::io::Output;
use crate::ocppj::{self, ErrorCode};
use crate::store::{StoreOp, Table};

/// Actions of profiles we do not implement (Reservation, SmartCharging, FirmwareManagement).
const UNSUPPORTED: &[&str] = &[
    "ReserveNow",
    "CancelReservation",
    "SetChargingProfile",
    "ClearChargingProfile",
    "GetCompositeSchedule",
    "GetDiagnostics",
    "UpdateFirmware",
];

/// Top-level fields each action accepts (the official schemas forbid additional properties).
fn allowed_fields(action: &str) -> Option<&'static [&'static str]> {
    Some(match action {
        "ChangeConfiguration" => &["key", "value"],
        "GetConfiguration" => &["key"],
        "ClearCache" | "GetLocalListVersion" => &[],
        "SendLocalList" => &["listVersion", "localAuthorizationList", "updateType"],
        "RemoteStartTransaction" => &["connectorId", "idTag", "chargingProfile"],
        "RemoteStopTransaction" => &["transactionId"],
        "Reset" => &["type"],
        "TriggerMessage" => &["requestedMessage", "connectorId"],
        "ChangeAvailability" => &["connectorId", "type"],
        "UnlockConnector" => &["connectorId"],
        "DataTransfer" => &["vendorId", "messageId", "data"],
        _ => return None,
    })
}

/// A request we refuse with a CallError.
type Refusal = (ErrorCode, String);

fn id_tag_ok(tag: &str) -> Result<(), Refusal> {
    if tag.is_empty() || tag.chars().count() > 20 {
        Err((
            ErrorCode::PropertyConstraintViolation,
            format!("idTag `{tag}` must be 1..=20 characters"),
        ))
    } else {
        Ok(())
    }
}

/// A CiStringNType field: at most `max` characters (the schemas' maxLength counts characters).
fn max_len(field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.chars().count() > max {
        Err((
            ErrorCode::PropertyConstraintViolation,
            format!("{field} longer than {max} characters"),
        ))
    } else {
        Ok(())
    }
}

fn to_json<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Charger {
    pub(super) fn on_call(&mut self, id: &str, action: &str, payload: &Value) {
        let result = if UNSUPPORTED.contains(&action) {
            Err((
                ErrorCode::NotSupported,
                format!(
                    "{action} is not supported (profiles: {})",
                    config::SUPPORTED_PROFILES
                ),
            ))
        } else {
            match allowed_fields(action) {
                None => Err((
                    ErrorCode::NotImplemented,
                    format!("unknown action {action}"),
                )),
                Some(allowed) => {
                    let extra = payload
                        .as_object()
                        .and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str())).cloned());
                    match extra {
                        Some(k) => Err((
                            ErrorCode::FormationViolation,
                            format!("unexpected field `{k}` in {action}"),
                        )),
                        None => self.dispatch(action, payload),
                    }
                }
            }
        };
        match result {
            Ok((answer, after)) => {
                self.emit(Output::Send(ocppj::call_result(id, &answer)));
                after(self);
            }
            Err((code, why)) => {
                tracing::warn!(%id, action, code = code.as_str(), %why, "refusing request");
                self.emit(Output::Send(ocppj::call_error(id, code, &why)));
            }
        }
    }

    /// Handles a known action. Returns the answer and what to do once it is sent.
    #[allow(clippy::type_complexity)]
    fn dispatch(
        &mut self,
        action: &str,
        payload: &Value,
    ) -> Result<(Value, Box<dyn FnOnce(&mut Charger)>), Refusal> {
        let nothing: Box<dyn FnOnce(&mut Charger)> = Box::new(|_| {});
        match action {
            "ChangeConfiguration" => {
                let req: ChangeConfigurationRequest = ocppj::decode(payload)?;
                max_len("key", &req.key, 50)?;
                max_len("value", &req.value, 500)?;
                let status = self.change_configuration(&req.key, &req.value);
                Ok((to_json(ChangeConfigurationResponse { status }), nothing))
            }
            "GetConfiguration" => {
                let req: GetConfigurationRequest = ocppj::decode(payload)?;
                for k in req.key.iter().flatten() {
                    max_len("key", k, 50)?;
                }
                Ok((
                    self.get_configuration(req.key.unwrap_or_default())?,
                    nothing,
                ))
            }
            "ClearCache" => {
                let status = if self.clear_authorization_cache() {
                    ClearCacheStatus::Accepted
                } else {
                    ClearCacheStatus::Rejected
                };
                Ok((to_json(ClearCacheResponse { status }), nothing))
            }
            "GetLocalListVersion" => {
                let list_version = if self.config.flag("LocalAuthListEnabled") {
                    self.list.reported_version()
                } else {
                    -1
                };
                Ok((
                    to_json(GetLocalListVersionResponse { list_version }),
                    nothing,
                ))
            }
            "SendLocalList" => {
                let req: SendLocalListRequest = ocppj::decode(payload)?;
                let status = self.send_local_list(req)?;
                Ok((to_json(SendLocalListResponse { status }), nothing))
            }
            "RemoteStartTransaction" => {
                // SmartCharging is not supported, so a chargingProfile is ignored; it only has to
                // be an object (rust-ocpp's profile type also rejects valid profiles).
                let mut payload = payload.clone();
                if let Some(p) = payload
                    .as_object_mut()
                    .and_then(|o| o.remove("chargingProfile"))
                {
                    if !p.is_object() {
                        return Err((
                            ErrorCode::TypeConstraintViolation,
                            "chargingProfile must be an object".into(),
                        ));
                    }
                }
                let req: RemoteStartTransactionRequest = ocppj::decode(&payload)?;
                id_tag_ok(&req.id_tag)?;
                let ok = self.registration == Registration::Accepted
                    && req.connector_id.is_none_or(|c| c == 1)
                    && self.tx.is_none()
                    && self.hold.is_none()
                    && !(self.finishing && self.pilot.plugged())
                    && self.reset_pending.is_none()
                    && !self.auth_pending
                    && self.available
                    && !self.pilot.is_fault();
                let status = if ok {
                    RemoteStartStopStatus::Accepted
                } else {
                    RemoteStartStopStatus::Rejected
                };
                let tag = req.id_tag.clone();
                let after: Box<dyn FnOnce(&mut Charger)> = if ok {
                    Box::new(move |c: &mut Charger| c.remote_start(&tag))
                } else {
                    nothing
                };
                Ok((to_json(RemoteStartTransactionResponse { status }), after))
            }
            "RemoteStopTransaction" => {
                let req: RemoteStopTransactionRequest = ocppj::decode(payload)?;
                let ok = self.registration == Registration::Accepted
                    && self
                        .tx
                        .as_ref()
                        .is_some_and(|t| self.tx_ids.get(&t.local_id) == Some(&req.transaction_id));
                let status = if ok {
                    RemoteStartStopStatus::Accepted
                } else {
                    RemoteStartStopStatus::Rejected
                };
                let after: Box<dyn FnOnce(&mut Charger)> = if ok {
                    Box::new(|c: &mut Charger| c.stop_transaction("Remote", None))
                } else {
                    nothing
                };
                Ok((to_json(RemoteStopTransactionResponse { status }), after))
            }
            "Reset" => {
                let req: ResetRequest = ocppj::decode(payload)?;
                let hard = matches!(req.kind, ResetRequestStatus::Hard);
                let after: Box<dyn FnOnce(&mut Charger)> =
                    Box::new(move |c: &mut Charger| c.reset(hard));
                Ok((
                    to_json(ResetResponse {
                        status: ResetResponseStatus::Accepted,
                    }),
                    after,
                ))
            }
            "TriggerMessage" => {
                let req: TriggerMessageRequest = ocppj::decode(payload)?;
                self.trigger(req)
            }
            "ChangeAvailability" => {
                let req: ChangeAvailabilityRequest = ocppj::decode(payload)?;
                let status = self.change_availability(req);
                Ok((to_json(ChangeAvailabilityResponse { status }), nothing))
            }
            "UnlockConnector" => {
                let req: UnlockConnectorRequest = ocppj::decode(payload)?;
                if req.connector_id != 1 {
                    return Ok((
                        to_json(UnlockConnectorResponse {
                            status: UnlockStatus::NotSupported,
                        }),
                        nothing,
                    ));
                }
                let after: Box<dyn FnOnce(&mut Charger)> = Box::new(|c: &mut Charger| {
                    c.stop_transaction("UnlockCommand", None);
                    c.release_hold();
                    c.update_hardware();
                });
                Ok((
                    to_json(UnlockConnectorResponse {
                        status: UnlockStatus::Unlocked,
                    }),
                    after,
                ))
            }
            "DataTransfer" => {
                let req: DataTransferRequest = ocppj::decode(payload)?;
                max_len("vendorId", &req.vendor_string, 255)?;
                max_len(
                    "messageId",
                    req.message_id.as_deref().unwrap_or_default(),
                    50,
                )?;
                Ok((
                    to_json(DataTransferResponse {
                        status: DataTransferStatus::UnknownVendorId,
                        data: None,
                    }),
                    nothing,
                ))
            }
            _ => Err((
                ErrorCode::NotImplemented,
                format!("unknown action {action}"),
            )),
        }
    }

    fn change_configuration(&mut self, key: &str, value: &str) -> ConfigurationStatus {
        match self.apply_configuration_change(key, value) {
            Err(ConfigError::UnknownKey { .. }) => ConfigurationStatus::NotSupported,
            Err(_) => ConfigurationStatus::Rejected,
            Ok(true) => ConfigurationStatus::RebootRequired,
            Ok(false) => ConfigurationStatus::Accepted,
        }
    }

    /// Clears the authorization cache unless it is disabled (then `false`, nothing changes).
    /// Shared by ClearCache and the local interface.
    pub(super) fn clear_authorization_cache(&mut self) -> bool {
        if !self.config.flag("AuthorizationCacheEnabled") {
            return false;
        }
        let ops = self.cache.clear();
        self.persist(ops);
        true
    }

    /// Checks, stores and applies one configuration value; `Ok(true)`: it takes effect after a
    /// reboot. Shared by ChangeConfiguration and the local interface, so both validate, persist,
    /// take effect and log alike.
    pub(super) fn apply_configuration_change(
        &mut self,
        key: &str,
        value: &str,
    ) -> Result<bool, ConfigError> {
        match self.config.check_change(key, value) {
            Err(e @ ConfigError::UnknownKey { .. }) => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "ChangeConfiguration rejected");
                Err(e)
            }
            Ok((def, v)) => {
                tracing::info!(key = def.name, value = %v, "configuration changed");
                self.config.set(def, v.clone());
                self.persist(vec![StoreOp::Put {
                    table: Table::Config,
                    key: def.name.into(),
                    value: Value::from(v),
                }]);
                if def.name == "MeterValueSampleInterval" && self.tx.is_some() {
                    let i = self.config.uint("MeterValueSampleInterval");
                    self.next_sample_ms = (i > 0).then(|| self.now.mono_ms + i * 1000);
                }
                Ok(def.reboot_required)
            }
        }
    }

    fn get_configuration(&self, keys: Vec<String>) -> Result<Value, Refusal> {
        if keys.len() > config::GET_CONFIGURATION_MAX_KEYS {
            return Err((
                ErrorCode::OccurenceConstraintViolation,
                format!(
                    "{} keys requested; GetConfigurationMaxKeys is {}",
                    keys.len(),
                    config::GET_CONFIGURATION_MAX_KEYS
                ),
            ));
        }
        let kv = |def: &config::KeyDef| KeyValue {
            key: def.name.to_string(),
            readonly: def.readonly,
            value: self.config.get(def.name).map(str::to_string),
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
        Ok(to_json(GetConfigurationResponse {
            configuration_key: (!known.is_empty()).then_some(known),
            unknown_key: (!unknown.is_empty()).then_some(unknown),
        }))
    }

    fn send_local_list(&mut self, req: SendLocalListRequest) -> Result<UpdateStatus, Refusal> {
        let entries = req.local_authorization_list.unwrap_or_default();
        for e in &entries {
            id_tag_ok(&e.id_tag)?;
            if let Some(parent) = e
                .id_tag_info
                .as_ref()
                .and_then(|i| i.parent_id_tag.as_ref())
            {
                max_len("parentIdTag", parent, 20)?;
            }
        }
        if !self.config.flag("LocalAuthListEnabled") {
            return Ok(UpdateStatus::NotSupported);
        }
        if entries.len() > config::SEND_LOCAL_LIST_MAX_LENGTH {
            return Ok(UpdateStatus::Failed);
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
            return Ok(UpdateStatus::Failed);
        }
        if req.update_type == UpdateType::Full {
            if let Some(e) = entries.iter().find(|e| e.id_tag_info.is_none()) {
                tracing::warn!(id_tag = %e.id_tag, "SendLocalList Full entry without idTagInfo: Failed");
                return Ok(UpdateStatus::Failed);
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
                    return Ok(UpdateStatus::Failed);
                }
                self.list.replace(req.list_version, records)
            }
            UpdateType::Differential => {
                if req.list_version <= self.list.version {
                    return Ok(UpdateStatus::VersionMismatch);
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
                    return Ok(UpdateStatus::Failed);
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
        Ok(UpdateStatus::Accepted)
    }

    /// RemoteStartTransaction accepted: authorize (or ask first, per AuthorizeRemoteTxRequests).
    fn remote_start(&mut self, tag: &str) {
        if self.config.flag("AuthorizeRemoteTxRequests") {
            self.present_tag(tag);
        } else {
            self.grant(tag, None);
        }
    }

    /// Reset.req accepted: stop the transaction (reason SoftReset/HardReset) and send its
    /// StopTransaction.req before rebooting (errata v4 3.36, §5.14: "SHALL send a
    /// StopTransaction.req for any ongoing transaction before performing the reset"; without a
    /// confirmation it stays queued). The queue is delivered in order, so what precedes the stop
    /// goes first. A CALL in flight is always settled first, so an answer on its way (a
    /// StartTransaction.conf carrying the transactionId) is not lost and nothing is sent twice.
    /// Hard resets do the same: §5.14 does not require it for them, but nothing forbids it and
    /// the central system learns the stop sooner.
    pub(super) fn reset(&mut self, hard: bool) {
        tracing::warn!(hard, "reset requested");
        if let Some(r) = self.reset_pending.as_mut() {
            // A second Reset while the first is being carried out: same reset, hard wins.
            r.hard |= hard;
            return;
        }
        let had_tx = self.tx.is_some();
        self.stop_transaction(if hard { "HardReset" } else { "SoftReset" }, None);
        self.persist_meter();
        self.update_hardware();
        self.authorized = None;
        let deliver_to = if had_tx {
            self.queue.iter().last().map(|(seq, _)| seq)
        } else {
            None
        };
        // Every CALL is bounded by MessageTimeout; new ones start only within one
        // MessageTimeout of the reset, so it happens within two at the latest.
        self.reset_pending = Some(PendingReset {
            hard,
            deliver_to,
            gave_up: false,
            deadline_ms: self.now.mono_ms + self.message_timeout_ms(),
        });
        self.pump();
        self.reboot_if_settled();
    }

    #[allow(clippy::type_complexity)]
    fn trigger(
        &mut self,
        req: TriggerMessageRequest,
    ) -> Result<(Value, Box<dyn FnOnce(&mut Charger)>), Refusal> {
        let answer = |status| to_json(TriggerMessageResponse { status });
        let connector = req.connector_id;
        if connector.is_some_and(|c| c > 1) {
            return Ok((answer(TriggerMessageStatus::Rejected), Box::new(|_| {})));
        }
        let after: Box<dyn FnOnce(&mut Charger)> = match req.requested_message {
            MessageTrigger::BootNotification => Box::new(|c: &mut Charger| c.trigger_boot()),
            MessageTrigger::Heartbeat => Box::new(|c: &mut Charger| c.queue_heartbeat(true)),
            MessageTrigger::StatusNotification => {
                Box::new(move |c: &mut Charger| match connector {
                    Some(n) => c.queue_status(n, true),
                    None => {
                        c.queue_status(0, true);
                        c.queue_status(1, true);
                    }
                })
            }
            MessageTrigger::MeterValues => {
                Box::new(move |c: &mut Charger| c.queue_triggered_meter_values(connector))
            }
            MessageTrigger::DiagnosticsStatusNotification
            | MessageTrigger::FirmwareStatusNotification => {
                return Ok((
                    answer(TriggerMessageStatus::NotImplemented),
                    Box::new(|_| {}),
                ));
            }
        };
        Ok((answer(TriggerMessageStatus::Accepted), after))
    }

    /// A triggered MeterValues. Connector 0 is the charge point's main meter (§6.31): our one
    /// meter measures the whole charge point, so it reports the same reading there, outside
    /// any transaction; otherwise connector 1, with the running transaction's id.
    fn queue_triggered_meter_values(&mut self, connector: Option<u32>) {
        let main_meter = connector == Some(0);
        let mv = self.meter_value(
            ts(self.now.utc),
            ReadingContext::Trigger,
            "MeterValuesSampledData",
        );
        let transaction_id = self
            .tx
            .as_ref()
            .filter(|_| !main_meter)
            .and_then(|t| self.tx_ids.get(&t.local_id).copied());
        let req = MeterValuesRequest {
            connector_id: if main_meter { 0 } else { 1 },
            transaction_id,
            meter_value: vec![mv],
        };
        self.waiting.push_back(WaitingCall {
            action: "MeterValues",
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
            self.unavailable_scheduled = false;
            self.available = true;
            self.put_state(keys::AVAILABLE, Value::from(true));
            AvailabilityStatus::Accepted
        } else if self.tx.is_some() {
            self.unavailable_scheduled = true;
            AvailabilityStatus::Scheduled
        } else {
            self.available = false;
            self.authorized = None;
            self.put_state(keys::AVAILABLE, Value::from(false));
            AvailabilityStatus::Accepted
        }
    }
}
