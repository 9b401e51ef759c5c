//! A request from the central system, decoded into one enum before anything acts on it.
//!
//! Decoding is the only place that looks at the action string: it refuses what is not a
//! well-formed request of an action we know (the CallError follows from the refusal), so the
//! code that answers works on typed requests only and cannot half-apply a bad one.

use rust_ocpp::v1_6::messages::change_availability::ChangeAvailabilityRequest;
use rust_ocpp::v1_6::messages::change_configuration::ChangeConfigurationRequest;
use rust_ocpp::v1_6::messages::data_transfer::DataTransferRequest;
use rust_ocpp::v1_6::messages::get_configuration::GetConfigurationRequest;
use rust_ocpp::v1_6::messages::remote_start_transaction::RemoteStartTransactionRequest;
use rust_ocpp::v1_6::messages::remote_stop_transaction::RemoteStopTransactionRequest;
use rust_ocpp::v1_6::messages::reset::ResetRequest;
use rust_ocpp::v1_6::messages::send_local_list::SendLocalListRequest;
use rust_ocpp::v1_6::messages::trigger_message::TriggerMessageRequest;
use rust_ocpp::v1_6::messages::unlock_connector::UnlockConnectorRequest;
use rust_ocpp::v1_6::types::ResetRequestStatus;
use serde_json::Value;

use crate::config;
use crate::ocppj::{self, ErrorCode};

/// A request we refuse with a CallError: the code and a description for the central system.
pub(super) type Refusal = (ErrorCode, String);

/// Every central-system request we answer, decoded and checked against the message
/// definitions (field types, enums, CiString lengths, list sizes).
#[derive(Debug)]
pub(super) enum CsmsRequest {
    ChangeConfiguration(ChangeConfigurationRequest),
    /// The keys asked for (empty: all).
    GetConfiguration(Vec<String>),
    ClearCache,
    GetLocalListVersion,
    SendLocalList(SendLocalListRequest),
    RemoteStartTransaction(RemoteStartTransactionRequest),
    RemoteStopTransaction(RemoteStopTransactionRequest),
    Reset {
        hard: bool,
    },
    TriggerMessage(TriggerMessageRequest),
    ChangeAvailability(ChangeAvailabilityRequest),
    UnlockConnector(UnlockConnectorRequest),
    /// Checked only: we know no vendor, so the answer is UnknownVendorId.
    DataTransfer,
}

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

pub(super) fn id_tag_ok(tag: &str) -> Result<(), Refusal> {
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

impl CsmsRequest {
    /// Decodes the payload of a CALL with `action`. Unsupported profiles → NotSupported,
    /// unknown actions → NotImplemented, fields the schema does not allow → FormationViolation,
    /// then the typed decode's own refusals ([`ocppj::decode`]) and the CiString limits.
    pub(super) fn from_frame(action: &str, payload: &Value) -> Result<CsmsRequest, Refusal> {
        if UNSUPPORTED.contains(&action) {
            return Err((
                ErrorCode::NotSupported,
                format!(
                    "{action} is not supported (profiles: {})",
                    config::SUPPORTED_PROFILES
                ),
            ));
        }
        let Some(allowed) = allowed_fields(action) else {
            return Err((
                ErrorCode::NotImplemented,
                format!("unknown action {action}"),
            ));
        };
        let extra = payload
            .as_object()
            .and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str())));
        if let Some(k) = extra {
            return Err((
                ErrorCode::FormationViolation,
                format!("unexpected field `{k}` in {action}"),
            ));
        }
        Ok(match action {
            "ChangeConfiguration" => {
                let req: ChangeConfigurationRequest = ocppj::decode(payload)?;
                max_len("key", &req.key, 50)?;
                max_len("value", &req.value, 500)?;
                CsmsRequest::ChangeConfiguration(req)
            }
            "GetConfiguration" => {
                let req: GetConfigurationRequest = ocppj::decode(payload)?;
                let keys = req.key.unwrap_or_default();
                for k in &keys {
                    max_len("key", k, 50)?;
                }
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
                CsmsRequest::GetConfiguration(keys)
            }
            // No fields: the allowed-field check above is the whole schema.
            "ClearCache" => CsmsRequest::ClearCache,
            "GetLocalListVersion" => CsmsRequest::GetLocalListVersion,
            "SendLocalList" => {
                let req: SendLocalListRequest = ocppj::decode(payload)?;
                for e in req.local_authorization_list.iter().flatten() {
                    id_tag_ok(&e.id_tag)?;
                    if let Some(parent) = e
                        .id_tag_info
                        .as_ref()
                        .and_then(|i| i.parent_id_tag.as_ref())
                    {
                        max_len("parentIdTag", parent, 20)?;
                    }
                }
                CsmsRequest::SendLocalList(req)
            }
            "RemoteStartTransaction" => {
                // SmartCharging is not supported, so a chargingProfile is ignored; it only has to
                // be an object (rust-ocpp's profile type also rejects valid profiles).
                ocppj::refuse_null_and_misplaced_arrays(payload)?;
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
                CsmsRequest::RemoteStartTransaction(req)
            }
            "RemoteStopTransaction" => CsmsRequest::RemoteStopTransaction(ocppj::decode(payload)?),
            "Reset" => {
                let req: ResetRequest = ocppj::decode(payload)?;
                CsmsRequest::Reset {
                    hard: matches!(req.kind, ResetRequestStatus::Hard),
                }
            }
            "TriggerMessage" => CsmsRequest::TriggerMessage(ocppj::decode(payload)?),
            "ChangeAvailability" => CsmsRequest::ChangeAvailability(ocppj::decode(payload)?),
            "UnlockConnector" => CsmsRequest::UnlockConnector(ocppj::decode(payload)?),
            "DataTransfer" => {
                let req: DataTransferRequest = ocppj::decode(payload)?;
                max_len("vendorId", &req.vendor_string, 255)?;
                max_len(
                    "messageId",
                    req.message_id.as_deref().unwrap_or_default(),
                    50,
                )?;
                CsmsRequest::DataTransfer
            }
            _ => {
                return Err((
                    ErrorCode::NotImplemented,
                    format!("unknown action {action}"),
                ))
            }
        })
    }
}
