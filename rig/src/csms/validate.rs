//! Strict schema check of OCPP 1.6 payloads against the typed messages of `rust-ocpp`.
//!
//! `rust-ocpp` accepts unknown fields, so after a typed parse the payload is serialised back and
//! every key the charger sent that the type does not know is reported: a charger that sends
//! `"conectorId"` must fail here, not pass silently.

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

/// Longest IdToken (§7.28).
const MAX_ID_TOKEN: usize = 20;

fn strict<T: DeserializeOwned + Serialize>(payload: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(payload.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    unknown_keys(payload, &back, "", &mut unknown);
    if !unknown.is_empty() {
        return Err(format!("unknown field(s): {}", unknown.join(", ")));
    }
    cistrings(payload)
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
                    None if value.is_null() => out.push(format!("{here} (null)")),
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

/// Maximum lengths of the CiString fields a charge point sends (OCPP 1.6 §6, §7), which
/// `rust-ocpp` does not check on parse.
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

/// Strings empty or longer than their CiString type allows are violations.
fn cistrings(value: &Value) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let limit = MAX_LENGTHS.iter().find(|(k, _)| k == key).map(|(_, n)| *n);
                if let (Some(limit), Some(s)) = (limit, inner.as_str()) {
                    let empty_ok = key != "idTag" && key != "parentIdTag";
                    if (s.is_empty() && !empty_ok) || s.chars().count() > limit {
                        return Err(format!("{key} {s:?} must be 1 to {limit} characters"));
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

/// Checks the payload of a request the charger sent. `Err` carries the CallError code to answer
/// with and the reason.
pub fn charge_point_request(action: &str, payload: &Value) -> Result<(), (&'static str, String)> {
    let checked = match action {
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
        other => {
            return Err((
                "NotImplemented",
                format!("{other} is not a charge point action of OCPP 1.6"),
            ))
        }
    };
    checked.map_err(|reason| ("FormationViolation", reason))
}

/// Checks the payload of the charger's answer to a central-system request of `action`.
pub fn charge_point_response(action: &str, payload: &Value) -> Result<(), String> {
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
        other => Err(format!("no response schema for {other}")),
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
        assert_eq!(charge_point_request("StartTransaction", &p), Ok(()));
    }

    #[test]
    fn rejects_unknown_and_missing_fields() {
        let typo = json!({"conectorId":1,"connectorId":1,"idTag":"A","meterStart":0,
                          "timestamp":"2026-01-01T00:00:00Z"});
        let err = charge_point_request("StartTransaction", &typo).unwrap_err();
        assert_eq!(err.0, "FormationViolation");
        assert!(err.1.contains("conectorId"), "{}", err.1);
        let missing = json!({"connectorId":1,"idTag":"A","timestamp":"2026-01-01T00:00:00Z"});
        assert!(charge_point_request("StartTransaction", &missing).is_err());
        let nested = json!({"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z",
            "sampledValue":[{"value":"1","extra":1}]}]});
        let err = charge_point_request("MeterValues", &nested).unwrap_err();
        assert!(
            err.1.contains("meterValue[0].sampledValue[0].extra"),
            "{}",
            err.1
        );
    }

    #[test]
    fn rejects_long_id_tags_and_unknown_actions() {
        let p = json!({"idTag":"123456789012345678901"});
        assert!(charge_point_request("Authorize", &p).is_err());
        assert_eq!(
            charge_point_request("Reset", &json!({})).unwrap_err().0,
            "NotImplemented"
        );
    }

    #[test]
    fn rejects_overlong_cistrings() {
        let boot = json!({"chargePointVendor": "V", "chargePointModel": "M"});
        assert!(charge_point_request("BootNotification", &boot).is_ok());
        let long = json!({"chargePointVendor": "V".repeat(21), "chargePointModel": "M"});
        let err = charge_point_request("BootNotification", &long).unwrap_err();
        assert!(err.1.contains("chargePointVendor"), "{}", err.1);
        let status = json!({"connectorId": 1, "errorCode": "NoError", "status": "Available",
                            "info": "x".repeat(51)});
        assert!(charge_point_request("StatusNotification", &status).is_err());
    }

    #[test]
    fn checks_responses() {
        assert!(charge_point_response("ClearCache", &json!({"status":"Accepted"})).is_ok());
        assert!(charge_point_response("ClearCache", &json!({"status":"Maybe"})).is_err());
        assert!(charge_point_response("GetLocalListVersion", &json!({"listVersion":3})).is_ok());
    }
}
