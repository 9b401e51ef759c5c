//! The one strict check of OCPP 1.6 payloads a charge point sends, used wherever a payload is
//! judged: the core's scenario tests, the rig's test central system (and so the charger's
//! integration tests and every feature).
//!
//! `rust-ocpp` accepts unknown fields and does not check string lengths, so a payload must
//! also come back unchanged from a typed round trip (no unknown or misspelt keys, enum values
//! spelled as the schema spells them, date-times as RFC 3339), carry no `null` (absent optional
//! fields are omitted) and keep every CiString within its limit.

use rust_ocpp::v1_6::messages as m;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

/// Actions a charge point may send to the central system (OCPP 1.6 §4).
pub const CHARGE_POINT_ACTIONS: &[&str] = &[
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
];

/// Why a payload is not what OCPP 1.6 defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0} is not a charge point action of OCPP 1.6")]
    UnknownAction(String),
    #[error("no response schema for {0}")]
    NoResponseSchema(String),
    #[error("{0}")]
    Schema(String),
    #[error("null at {0} (absent optional fields must be omitted)")]
    Null(String),
    #[error("unknown field(s): {}", .0.join(", "))]
    UnknownFields(Vec<String>),
    #[error("fields or values outside the OCPP 1.6 definition: sent {sent}, the definition gives {typed}")]
    NotRoundTrip { sent: String, typed: String },
    #[error("{field} {value:?} must be 1 to {limit} characters")]
    CiString {
        field: String,
        value: String,
        limit: usize,
    },
}

impl Problem {
    /// The OCPP-J CallError code a central system answers a request with this problem with.
    pub fn call_error_code(&self) -> &'static str {
        match self {
            Problem::UnknownAction(_) => "NotImplemented",
            _ => "FormationViolation",
        }
    }
}

/// Longest IdToken (§7.28).
const MAX_ID_TOKEN: usize = 20;

/// Maximum lengths of the CiString fields a charge point sends (OCPP 1.6 §6, §7).
const MAX_LENGTHS: &[(&str, usize)] = &[
    ("idTag", MAX_ID_TOKEN),
    ("parentIdTag", MAX_ID_TOKEN),
    ("chargePointVendor", 20),
    ("chargePointModel", 20),
    ("chargePointSerialNumber", 25),
    ("chargeBoxSerialNumber", 25),
    ("firmwareVersion", 50),
    ("iccid", 20),
    ("imsi", 20),
    ("meterType", 25),
    ("meterSerialNumber", 25),
    ("info", 50),
    ("vendorId", 255),
    ("vendorErrorCode", 50),
    ("messageId", 50),
];

fn strict<T: DeserializeOwned + Serialize>(payload: &Value) -> Result<(), Problem> {
    nulls(payload, "")?;
    let typed: T =
        serde_json::from_value(payload.clone()).map_err(|e| Problem::Schema(e.to_string()))?;
    let back = serde_json::to_value(&typed).map_err(|e| Problem::Schema(e.to_string()))?;
    let mut unknown = Vec::new();
    unknown_keys(payload, &back, "", &mut unknown);
    if !unknown.is_empty() {
        return Err(Problem::UnknownFields(unknown));
    }
    if &back != payload {
        return Err(Problem::NotRoundTrip {
            sent: payload.to_string(),
            typed: back.to_string(),
        });
    }
    cistrings(payload)
}

fn nulls(v: &Value, path: &str) -> Result<(), Problem> {
    match v {
        Value::Null => Err(Problem::Null(if path.is_empty() {
            "the payload".into()
        } else {
            path.into()
        })),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| nulls(x, &format!("{path}[{i}]"))),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            nulls(
                x,
                &if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                },
            )
        }),
        _ => Ok(()),
    }
}

/// Collects keys present in `sent` but absent from the typed round trip `known`.
fn unknown_keys(sent: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (sent, known) {
        (Value::Object(s), Value::Object(k)) => {
            for (key, value) in s {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(inner) => unknown_keys(value, inner, &here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Array(s), Value::Array(k)) => {
            for (i, (a, b)) in s.iter().zip(k.iter()).enumerate() {
                unknown_keys(a, b, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Strings empty or longer than their CiString type allows.
fn cistrings(value: &Value) -> Result<(), Problem> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let limit = MAX_LENGTHS.iter().find(|(k, _)| k == key).map(|(_, n)| *n);
                if let (Some(limit), Some(s)) = (limit, inner.as_str()) {
                    let empty_ok = key != "idTag" && key != "parentIdTag";
                    if (s.is_empty() && !empty_ok) || s.chars().count() > limit {
                        return Err(Problem::CiString {
                            field: key.clone(),
                            value: s.into(),
                            limit,
                        });
                    }
                }
                cistrings(inner)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(cistrings),
        _ => Ok(()),
    }
}

/// Checks the payload of a request a charge point sent.
pub fn request(action: &str, payload: &Value) -> Result<(), Problem> {
    match action {
        "Authorize" => strict::<m::authorize::AuthorizeRequest>(payload),
        "BootNotification" => strict::<m::boot_notification::BootNotificationRequest>(payload),
        "DataTransfer" => strict::<m::data_transfer::DataTransferRequest>(payload),
        "DiagnosticsStatusNotification" => strict::<
            m::diagnostics_status_notification::DiagnosticsStatusNotificationRequest,
        >(payload),
        "FirmwareStatusNotification" => {
            strict::<m::firmware_status_notification::FirmwareStatusNotificationRequest>(payload)
        }
        "Heartbeat" => strict::<m::heart_beat::HeartbeatRequest>(payload),
        "MeterValues" => strict::<m::meter_values::MeterValuesRequest>(payload),
        "StartTransaction" => strict::<m::start_transaction::StartTransactionRequest>(payload),
        "StatusNotification" => {
            strict::<m::status_notification::StatusNotificationRequest>(payload)
        }
        "StopTransaction" => strict::<m::stop_transaction::StopTransactionRequest>(payload),
        other => Err(Problem::UnknownAction(other.into())),
    }
}

/// Checks the payload of a charge point's answer to a central-system request of `action`.
pub fn response(action: &str, payload: &Value) -> Result<(), Problem> {
    match action {
        "ChangeConfiguration" => {
            strict::<m::change_configuration::ChangeConfigurationResponse>(payload)
        }
        "GetConfiguration" => strict::<m::get_configuration::GetConfigurationResponse>(payload),
        "ClearCache" => strict::<m::clear_cache::ClearCacheResponse>(payload),
        "SendLocalList" => strict::<m::send_local_list::SendLocalListResponse>(payload),
        "GetLocalListVersion" => {
            strict::<m::get_local_list_version::GetLocalListVersionResponse>(payload)
        }
        "RemoteStartTransaction" => {
            strict::<m::remote_start_transaction::RemoteStartTransactionResponse>(payload)
        }
        "RemoteStopTransaction" => {
            strict::<m::remote_stop_transaction::RemoteStopTransactionResponse>(payload)
        }
        "Reset" => strict::<m::reset::ResetResponse>(payload),
        "TriggerMessage" => strict::<m::trigger_message::TriggerMessageResponse>(payload),
        "ChangeAvailability" => {
            strict::<m::change_availability::ChangeAvailabilityResponse>(payload)
        }
        "UnlockConnector" => strict::<m::unlock_connector::UnlockConnectorResponse>(payload),
        "DataTransfer" => strict::<m::data_transfer::DataTransferResponse>(payload),
        other => Err(Problem::NoResponseSchema(other.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_a_valid_start_transaction() {
        let p = json!({"connectorId":1,"idTag":"AABBCCDD","meterStart":0,
                       "timestamp":"2026-01-01T00:00:00Z"});
        assert_eq!(request("StartTransaction", &p), Ok(()));
    }

    #[test]
    fn rejects_unknown_and_missing_fields() {
        let typo = json!({"conectorId":1,"connectorId":1,"idTag":"A","meterStart":0,
                          "timestamp":"2026-01-01T00:00:00Z"});
        let err = request("StartTransaction", &typo).unwrap_err();
        assert_eq!(err.call_error_code(), "FormationViolation");
        assert!(err.to_string().contains("conectorId"), "{err}");
        let missing = json!({"connectorId":1,"idTag":"A","timestamp":"2026-01-01T00:00:00Z"});
        assert!(request("StartTransaction", &missing).is_err());
        let nested = json!({"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z",
            "sampledValue":[{"value":"1","extra":1}]}]});
        let err = request("MeterValues", &nested).unwrap_err();
        assert!(
            err.to_string()
                .contains("meterValue[0].sampledValue[0].extra"),
            "{err}"
        );
    }

    #[test]
    fn rejects_nulls_and_values_that_do_not_round_trip() {
        let null = json!({"idTag": null});
        assert_eq!(
            request("Authorize", &null),
            Err(Problem::Null("idTag".into()))
        );
        // An integer where the definition has one, written as a float.
        let float = json!({"connectorId":1.0,"idTag":"A","meterStart":0,
                           "timestamp":"2026-01-01T00:00:00Z"});
        assert!(request("StartTransaction", &float).is_err());
    }

    #[test]
    fn rejects_long_id_tags_and_unknown_actions() {
        let p = json!({"idTag":"123456789012345678901"});
        assert!(request("Authorize", &p).is_err());
        let err = request("Reset", &json!({})).unwrap_err();
        assert_eq!(err.call_error_code(), "NotImplemented");
    }

    #[test]
    fn rejects_overlong_cistrings() {
        let boot = json!({"chargePointVendor": "V", "chargePointModel": "M"});
        assert!(request("BootNotification", &boot).is_ok());
        let long = json!({"chargePointVendor": "V".repeat(21), "chargePointModel": "M"});
        let err = request("BootNotification", &long).unwrap_err();
        assert!(err.to_string().contains("chargePointVendor"), "{err}");
        let status = json!({"connectorId": 1, "errorCode": "NoError", "status": "Available",
                            "info": "x".repeat(51)});
        assert!(request("StatusNotification", &status).is_err());
    }

    #[test]
    fn checks_responses() {
        assert!(response("ClearCache", &json!({"status":"Accepted"})).is_ok());
        assert!(response("ClearCache", &json!({"status":"Maybe"})).is_err());
        assert!(response("GetLocalListVersion", &json!({"listVersion":3})).is_ok());
        assert_eq!(
            response("Heartbeat", &json!({})),
            Err(Problem::NoResponseSchema("Heartbeat".into()))
        );
    }
}
